//! Directory data: departments, inspectors, enterprises and the catalogue, authored by the server
//! and read-only on devices.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::catalogue::{CheckPoint, InspectionMatter};
use super::department::{Department, Inspector};
use super::enterprise::Enterprise;
use super::ids::{CheckPointId, DepartmentId, InspectorId, MatterId};
use super::uscc::Uscc;

/// Why directory data cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The JSON is malformed or a field is invalid (a bad USCC, a bad identifier …).
    #[error("名录 JSON 格式错误：{0}")]
    Malformed(#[from] serde_json::Error),
    /// Two entries of one kind share an identifier.
    #[error("名录中{} {id} 重复", super::ids::kind_zh(.kind))]
    Duplicate {
        /// What kind of entry (department, matter, inspector, ...).
        kind: &'static str,
        /// The entry's id.
        id: String,
    },
    /// An entry refers to a department that is not in the data.
    #[error("{} {id} 所属部门 {department} 不在名录中", super::ids::kind_zh(.kind))]
    UnknownDepartment {
        /// What kind of entry (department, matter, inspector, ...).
        kind: &'static str,
        /// The entry's id.
        id: String,
        /// The department.
        department: DepartmentId,
    },
    /// A required text field is empty.
    #[error("{} {id} 的字段 {field} 为空", super::ids::kind_zh(.kind))]
    EmptyField {
        /// What kind of entry (department, matter, inspector, ...).
        kind: &'static str,
        /// The entry's id.
        id: String,
        /// The empty field.
        field: &'static str,
    },
    /// A matter without check points cannot be inspected.
    #[error("检查事项 {0} 没有检查项")]
    MatterWithoutCheckPoints(MatterId),
}

/// The serialised form of directory data, as imported from a JSON file or received from the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectoryData {
    /// Departments.
    pub departments: Vec<Department>,
    /// Inspectors.
    pub inspectors: Vec<Inspector>,
    /// Enterprises.
    pub enterprises: Vec<Enterprise>,
    /// Inspection matters with their check points.
    pub matters: Vec<InspectionMatter>,
}

/// Validated directory data with lookups by identifier.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    departments: BTreeMap<DepartmentId, Department>,
    inspectors: BTreeMap<InspectorId, Inspector>,
    enterprises: BTreeMap<Uscc, Enterprise>,
    matters: BTreeMap<MatterId, InspectionMatter>,
    check_points: HashMap<CheckPointId, (MatterId, usize)>,
}

impl Directory {
    /// Parses and validates directory JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DirectoryError> {
        Self::from_data(serde_json::from_slice(bytes)?)
    }

    /// Validates directory data: unique identifiers, known departments, no empty names.
    pub fn from_data(data: DirectoryData) -> Result<Self, DirectoryError> {
        let mut dir = Directory::default();
        for d in data.departments {
            require_text("department", d.id.as_str(), "name", &d.name)?;
            insert_unique(&mut dir.departments, d.id.clone(), d, "department")?;
        }
        for i in data.inspectors {
            require_text("inspector", i.id.as_str(), "name", &i.name)?;
            require_text("inspector", i.id.as_str(), "certificate_number", &i.certificate_number)?;
            dir.require_department("inspector", i.id.as_str(), &i.department)?;
            insert_unique(&mut dir.inspectors, i.id.clone(), i, "inspector")?;
        }
        for e in data.enterprises {
            require_text("enterprise", e.uscc.as_str(), "name", &e.name)?;
            insert_unique(&mut dir.enterprises, e.uscc.clone(), e, "enterprise")?;
        }
        for m in data.matters {
            require_text("matter", m.id.as_str(), "title", &m.title)?;
            require_text("matter", m.id.as_str(), "legal_basis", &m.legal_basis)?;
            dir.require_department("matter", m.id.as_str(), &m.department)?;
            if m.check_points.is_empty() {
                return Err(DirectoryError::MatterWithoutCheckPoints(m.id));
            }
            for (index, cp) in m.check_points.iter().enumerate() {
                require_text("check point", cp.id.as_str(), "title", &cp.title)?;
                if dir.check_points.insert(cp.id.clone(), (m.id.clone(), index)).is_some() {
                    return Err(DirectoryError::Duplicate { kind: "check point", id: cp.id.to_string() });
                }
            }
            insert_unique(&mut dir.matters, m.id.clone(), m, "matter")?;
        }
        Ok(dir)
    }

    /// The data in its serialised form, sorted by identifier.
    pub fn to_data(&self) -> DirectoryData {
        DirectoryData {
            departments: self.departments.values().cloned().collect(),
            inspectors: self.inspectors.values().cloned().collect(),
            enterprises: self.enterprises.values().cloned().collect(),
            matters: self.matters.values().cloned().collect(),
        }
    }

    /// A department by identifier.
    pub fn department(&self, id: &DepartmentId) -> Option<&Department> {
        self.departments.get(id)
    }

    /// An inspector by identifier.
    pub fn inspector(&self, id: &InspectorId) -> Option<&Inspector> {
        self.inspectors.get(id)
    }

    /// An enterprise by USCC.
    pub fn enterprise(&self, uscc: &Uscc) -> Option<&Enterprise> {
        self.enterprises.get(uscc)
    }

    /// A matter by identifier.
    pub fn matter(&self, id: &MatterId) -> Option<&InspectionMatter> {
        self.matters.get(id)
    }

    /// A check point and the matter it belongs to.
    pub fn check_point(&self, id: &CheckPointId) -> Option<(&InspectionMatter, &CheckPoint)> {
        let (matter_id, index) = self.check_points.get(id)?;
        let matter = self.matters.get(matter_id)?;
        Some((matter, &matter.check_points[*index]))
    }

    /// All departments, by identifier.
    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    /// All inspectors, by identifier.
    pub fn inspectors(&self) -> impl Iterator<Item = &Inspector> {
        self.inspectors.values()
    }

    /// All enterprises, by USCC.
    pub fn enterprises(&self) -> impl Iterator<Item = &Enterprise> {
        self.enterprises.values()
    }

    /// All matters, by identifier.
    pub fn matters(&self) -> impl Iterator<Item = &InspectionMatter> {
        self.matters.values()
    }

    fn require_department(
        &self,
        kind: &'static str,
        id: &str,
        department: &DepartmentId,
    ) -> Result<(), DirectoryError> {
        if self.departments.contains_key(department) {
            Ok(())
        } else {
            Err(DirectoryError::UnknownDepartment { kind, id: id.to_string(), department: department.clone() })
        }
    }
}

fn require_text(kind: &'static str, id: &str, field: &'static str, value: &str) -> Result<(), DirectoryError> {
    if value.trim().is_empty() { Err(DirectoryError::EmptyField { kind, id: id.to_string(), field }) } else { Ok(()) }
}

fn insert_unique<K: Ord + ToString, V>(
    map: &mut BTreeMap<K, V>,
    key: K,
    value: V,
    kind: &'static str,
) -> Result<(), DirectoryError> {
    let id = key.to_string();
    if map.insert(key, value).is_some() {
        return Err(DirectoryError::Duplicate { kind, id });
    }
    Ok(())
}

/// The sample directory of Pinghu's joint-inspection departments shipped with OneVisit (zh-CN).
pub const SAMPLE_DIRECTORY_JSON: &str = include_str!("../../../data/pinghu-directory.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_directory_is_valid_and_large_enough() {
        let dir = Directory::from_json(SAMPLE_DIRECTORY_JSON.as_bytes()).unwrap();
        assert!(dir.departments().count() >= 8);
        assert!(dir.matters().count() >= 30);
        assert!(dir.enterprises().count() >= 50);
        assert!(dir.inspectors().count() >= 2 * dir.departments().count());
    }

    #[test]
    fn an_invalid_uscc_fails_the_import() {
        let json = r#"{"departments":[],"inspectors":[],"matters":[],
            "enterprises":[{"uscc":"91330482MA2B3C4D5X","name":"x","address":"y","credit_grade":"A"}]}"#;
        let err = Directory::from_json(json.as_bytes()).unwrap_err();
        assert!(matches!(err, DirectoryError::Malformed(_)), "{err}");
        assert!(err.to_string().contains("校验码"), "{err}");
    }

    #[test]
    fn an_inspector_of_an_unknown_department_fails_the_import() {
        let json = r#"{"departments":[],"enterprises":[],"matters":[],
            "inspectors":[{"id":"i1","name":"张三","certificate_number":"1","department":"nope"}]}"#;
        let err = Directory::from_json(json.as_bytes()).unwrap_err();
        assert!(matches!(err, DirectoryError::UnknownDepartment { .. }), "{err}");
    }

    #[test]
    fn duplicate_check_points_fail_the_import() {
        let json = r#"{"departments":[{"id":"d","name":"局","short_name":"局"}],"enterprises":[],"inspectors":[],
            "matters":[{"id":"m1","department":"d","title":"t","legal_basis":"b","check_points":[
                {"id":"c","title":"a","answer":{"type":"text"}},{"id":"c","title":"b","answer":{"type":"text"}}]}]}"#;
        let err = Directory::from_json(json.as_bytes()).unwrap_err();
        assert!(matches!(err, DirectoryError::Duplicate { kind: "check point", .. }), "{err}");
    }
}
