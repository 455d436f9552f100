//! The pool a draw is made from, frozen when the draw is published: every enterprise with what
//! the filters read, the plan's matters, the departments' inspectors and who must step aside.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::DrawParameters;
use crate::canonical::CanonicalError;
use crate::domain::{CreditGrade, DepartmentId, Directory, InspectorId, MatterId, Task, TaskCode, Uscc};

/// The frozen pool: everything the draw reads, so anyone recomputes it from the record alone.
// Every struct of the pool declares its fields in key order and holds no map or float, so that
// serde's own encoding is its canonical JSON (checked in the tests below); hashing then streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSnapshot {
    /// Every enterprise of the directory, by USCC.
    pub enterprises: Vec<PoolEnterprise>,
    /// Every inspector of the plan's departments, by identifier.
    pub inspectors: Vec<PoolInspector>,
    /// The plan's matters with the industries they apply to, by identifier.
    pub matters: Vec<PoolMatter>,
    /// Who may not be drawn for which enterprise, and why (sorted).
    pub recusals: Vec<Recusal>,
}

/// An enterprise as the draw sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEnterprise {
    /// Its credit grade.
    pub credit_grade: CreditGrade,
    /// Its industry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Its town or street.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    /// Its USCC.
    pub uscc: Uscc,
}

/// A matter as the draw sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolMatter {
    /// Its department.
    pub department: DepartmentId,
    /// The matter.
    pub id: MatterId,
    /// The industries it applies to (empty: every one).
    pub industries: Vec<String>,
}

impl PoolMatter {
    /// Whether it applies to an enterprise of `industry`.
    pub fn applies_to(&self, industry: Option<&str>) -> bool {
        self.industries.is_empty() || industry.is_some_and(|i| self.industries.iter().any(|x| x == i))
    }
}

/// An inspector as the draw sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolInspector {
    /// Their department.
    pub department: DepartmentId,
    /// The inspector.
    pub id: InspectorId,
}

/// An inspector who steps aside (回避) for an enterprise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Recusal {
    /// The enterprise.
    pub enterprise: Uscc,
    /// The inspector.
    pub inspector: InspectorId,
    /// Why.
    pub reason: RecusalReason,
}

/// Why an inspector steps aside.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecusalReason {
    /// They declared a conflict of interest with the enterprise.
    Declared,
    /// They inspected it last time for their department (left out when the plan says so).
    LastInspection {
        /// That inspection's task.
        task: TaskCode,
    },
}

impl RecusalReason {
    /// The reason as a planner reads it.
    pub fn label_zh(&self) -> String {
        match self {
            RecusalReason::Declared => "本人申报回避".into(),
            RecusalReason::LastInspection { task } => format!("上次检查该企业（任务 {task}）"),
        }
    }
}

/// Who inspected an enterprise last for a department: the inspectors of that department on its
/// latest task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastInspection {
    /// The enterprise.
    pub enterprise: Uscc,
    /// The department.
    pub department: DepartmentId,
    /// Its inspectors on that task.
    pub inspectors: Vec<InspectorId>,
    /// The task.
    pub task: TaskCode,
}

/// The latest task (by first day, then code) of each enterprise and department among `tasks`.
pub fn last_inspections<'a>(tasks: impl IntoIterator<Item = &'a Task>, directory: &Directory) -> Vec<LastInspection> {
    let mut latest: BTreeMap<(Uscc, DepartmentId), &Task> = BTreeMap::new();
    for task in tasks {
        for department in &task.departments {
            let key = (task.enterprise.clone(), department.clone());
            let newer = latest.get(&key).is_none_or(|t| (t.window.start, &t.code) < (task.window.start, &task.code));
            if newer {
                latest.insert(key, task);
            }
        }
    }
    latest
        .into_iter()
        .map(|((enterprise, department), task)| LastInspection {
            inspectors: task
                .inspectors
                .iter()
                .filter(|i| directory.inspector(i).is_some_and(|x| x.department == department))
                .cloned()
                .collect(),
            enterprise,
            department,
            task: task.code.clone(),
        })
        .collect()
}

impl PoolSnapshot {
    /// Freezes the pool for `parameters` from the directory and the enterprises' last inspections.
    pub fn take(parameters: &DrawParameters, directory: &Directory, last: &[LastInspection]) -> PoolSnapshot {
        let departments: Vec<&DepartmentId> = parameters.departments.iter().map(|d| &d.department).collect();
        let enterprises = directory
            .enterprises()
            .map(|e| PoolEnterprise {
                uscc: e.uscc.clone(),
                credit_grade: e.credit_grade,
                town: e.town.clone(),
                industry: e.industry.clone(),
            })
            .collect();
        let matters = parameters
            .departments
            .iter()
            .flat_map(|d| d.matters.iter())
            .filter_map(|m| directory.matter(m))
            .map(|m| {
                let matter =
                    PoolMatter { id: m.id.clone(), department: m.department.clone(), industries: m.industries.clone() };
                (m.id.clone(), matter)
            })
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        let inspectors: Vec<PoolInspector> = directory
            .inspectors()
            .filter(|i| departments.contains(&&i.department))
            .map(|i| PoolInspector { id: i.id.clone(), department: i.department.clone() })
            .collect();
        let mut recusals: Vec<Recusal> = directory
            .inspectors()
            .filter(|i| departments.contains(&&i.department))
            .flat_map(|i| {
                i.conflicts.iter().map(|u| Recusal {
                    enterprise: u.clone(),
                    inspector: i.id.clone(),
                    reason: RecusalReason::Declared,
                })
            })
            .collect();
        for l in last.iter().filter(|l| departments.contains(&&l.department)) {
            recusals.extend(l.inspectors.iter().map(|i| Recusal {
                enterprise: l.enterprise.clone(),
                inspector: i.clone(),
                reason: RecusalReason::LastInspection { task: l.task.clone() },
            }));
        }
        recusals.sort();
        recusals.dedup();
        PoolSnapshot { enterprises, matters, inspectors, recusals }
    }

    /// SHA-256 (hex) of the pool's canonical JSON (RFC 8785): what the record names it by.
    /// Streamed: serde's encoding of the pool is canonical (see the type's comment).
    pub fn sha256(&self) -> Result<String, CanonicalError> {
        struct Hashing(Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.update(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut hashing = Hashing(Sha256::new());
        serde_json::to_writer(&mut hashing, self)?;
        Ok(hex::encode(hashing.0.finalize()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::canonical::to_canonical_json;

    #[test]
    fn the_pools_own_encoding_is_its_canonical_json() {
        let directory = crate::sample::directory().unwrap();
        let mut data = directory.to_data();
        // Every shape a pool holds: names with quotes, escapes and control characters, absent
        // towns and industries, both kinds of recusal.
        data.enterprises[0].town = Some("当湖\"街道\\\n\u{1f}\u{7f}\u{2028}".into());
        data.enterprises[1].industry = None;
        data.enterprises[2].town = None;
        let directory = Directory::from_data(data).unwrap();
        let plan = crate::sample::draw_plan(&directory, "P", chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let parameters = plan.validate(&directory).unwrap();
        let e = directory.enterprises().next().unwrap().uscc.clone();
        let last = vec![LastInspection {
            enterprise: e,
            department: "scjg".parse().unwrap(),
            inspectors: vec!["scjg-01".parse().unwrap()],
            task: TaskCode::parse("330482-20261128-ABCDEFGH").unwrap(),
        }];
        let pool = PoolSnapshot::take(&parameters, &directory, &last);
        assert!(pool.recusals.iter().any(|r| r.reason == RecusalReason::Declared));
        assert!(pool.recusals.iter().any(|r| matches!(r.reason, RecusalReason::LastInspection { .. })));
        assert_eq!(serde_json::to_vec(&pool).unwrap(), to_canonical_json(&pool).unwrap());
        assert_eq!(pool.sha256().unwrap(), crate::audit::sha256_hex(&to_canonical_json(&pool).unwrap()));
    }
}
