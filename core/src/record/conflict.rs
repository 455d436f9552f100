//! Concurrent writes of the same field: reported with every value and its author, resolved by the
//! lead inspector through an ordinary edit that supersedes them all.

use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjId, ROOT, ReadDoc};

use crate::domain::{CheckPointId, InspectorId};

use super::{InspectionRecord, RecordError, Stamp, malformed};

/// A field of the record that a single value occupies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// The status.
    Status,
    /// An inspector's arrival on site.
    Arrival(InspectorId),
    /// The identity notice.
    Identity,
    /// The party's representative.
    Party,
    /// The party's address for service.
    ServiceAddress,
    /// The answer to a check point.
    Answer(CheckPointId),
    /// A finding, by identifier.
    Finding(String),
    /// An attached photo, by capture record hash (never concurrently written: keys are unique).
    Evidence(String),
    /// A rendered document version, by hash.
    Document(String),
    /// A signature, by its key.
    Signature(String),
    /// A re-inspection result, by the finding it is about (never concurrently written: append-only).
    Recheck(String),
}

impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a string does not name a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "“{0}”不是记录中的字段：可写 status（状态）、identity（出示证件）、party（当事人代表）、service_address（送达地址）、arrival:<执法人员>、answer:<检查项>、finding:<问题编号>，即 onevisit conflicts list 列出的写法"
)]
pub struct UnknownField(pub String);

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Status => f.write_str("status"),
            Field::Arrival(id) => write!(f, "arrival:{id}"),
            Field::Identity => f.write_str("identity"),
            Field::Party => f.write_str("party"),
            Field::ServiceAddress => f.write_str("service_address"),
            Field::Answer(cp) => write!(f, "answer:{cp}"),
            Field::Finding(id) => write!(f, "finding:{id}"),
            Field::Evidence(id) => write!(f, "evidence:{id}"),
            Field::Document(id) => write!(f, "document:{id}"),
            Field::Signature(key) => write!(f, "signature:{key}"),
            Field::Recheck(finding) => write!(f, "recheck:{finding}"),
        }
    }
}

impl Field {
    /// The field as a person names it (zh-CN), for messages and lists; `Display` stays the
    /// machine name the commands take.
    pub fn label_zh(&self) -> String {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        match self {
            Field::Status => "检查状态".into(),
            Field::Arrival(id) => format!("执法人员 {id} 的到场签到"),
            Field::Identity => "出示执法证件".into(),
            Field::Party => "当事人代表".into(),
            Field::ServiceAddress => "送达地址".into(),
            Field::Answer(cp) => format!("检查项 {cp} 的结果"),
            Field::Finding(id) => format!("发现问题 {}", short(id)),
            Field::Evidence(id) => format!("证据照片 {}", short(id)),
            Field::Document(id) => format!("文书 {}", short(id)),
            Field::Signature(key) => format!("签名 {}", short(key)),
            Field::Recheck(finding) => format!("问题 {} 的复查结果", short(finding)),
        }
    }
}

impl FromStr for Field {
    type Err = UnknownField;
    fn from_str(s: &str) -> Result<Field, UnknownField> {
        let unknown = || UnknownField(s.to_string());
        Ok(match s {
            "status" => Field::Status,
            "identity" => Field::Identity,
            "party" => Field::Party,
            "service_address" => Field::ServiceAddress,
            _ => match s.split_once(':') {
                Some(("arrival", id)) => Field::Arrival(InspectorId::new(id).map_err(|_| unknown())?),
                Some(("answer", cp)) => Field::Answer(CheckPointId::new(cp).map_err(|_| unknown())?),
                Some(("finding", id)) if !id.is_empty() => Field::Finding(id.to_string()),
                _ => return Err(unknown()),
            },
        })
    }
}

/// One of the values concurrently written to a field.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConflictingValue {
    /// The value as written (the JSON of the field's type).
    pub value: serde_json::Value,
    /// Who wrote it.
    pub by: InspectorId,
    /// When, by the writer's device clock (ms since the Unix epoch).
    pub at_ms: i64,
}

/// A field holding more than one concurrently written value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Conflict {
    /// The field.
    pub field: Field,
    /// Every value, in Automerge's deterministic order (the first is what readers see meanwhile).
    pub values: Vec<ConflictingValue>,
}

impl InspectionRecord {
    /// Every field that currently holds concurrently written values.
    pub fn conflicts(&self) -> Result<Vec<Conflict>, RecordError> {
        let mut fields: Vec<(ObjId, String, Field)> = [
            ("status", Field::Status),
            ("identity", Field::Identity),
            ("party", Field::Party),
            ("service_address", Field::ServiceAddress),
        ]
        .into_iter()
        .map(|(k, f)| (ROOT, k.to_string(), f))
        .collect();
        for department in &self.task.departments {
            let section = self.section(department)?;
            for key in self.doc.keys(&section) {
                let cp = CheckPointId::new(key.clone()).map_err(|_| malformed(&key))?;
                fields.push((section.clone(), key, Field::Answer(cp)));
            }
        }
        let findings = self.map("findings")?;
        for key in self.doc.keys(&findings) {
            fields.push((findings.clone(), key.clone(), Field::Finding(key)));
        }
        let arrivals = self.map("arrivals")?;
        for key in self.doc.keys(&arrivals) {
            let inspector = InspectorId::new(key.clone()).map_err(|_| malformed(&key))?;
            fields.push((arrivals.clone(), key, Field::Arrival(inspector)));
        }

        let mut out = Vec::new();
        for (obj, key, field) in fields {
            let values = self.values_of(&obj, &key)?;
            if values.len() > 1 && !agree(&values) {
                out.push(Conflict { field, values });
            }
        }
        Ok(out)
    }

    /// Resolves a conflict by writing the chosen value again, superseding all concurrent ones.
    pub fn resolve_conflict(&mut self, stamp: Stamp, field: &Field, choice: usize) -> Result<Field, RecordError> {
        if stamp.by != self.task.lead_inspector {
            return Err(RecordError::NotLeadInspector(stamp.by));
        }
        let (obj, key) = self.locate(field)?;
        let values = self.values_of(&obj, &key)?;
        if values.len() < 2 || agree(&values) {
            return Err(RecordError::NoSuchConflict(field.clone()));
        }
        let chosen = values.get(choice).ok_or(RecordError::NoSuchChoice {
            field: field.clone(),
            choice,
            count: values.len(),
        })?;
        let text = chosen.value.to_string();
        self.doc.put(&obj, key.as_str(), text)?;
        self.commit("resolve", &stamp);
        Ok(field.clone())
    }

    fn locate(&self, field: &Field) -> Result<(ObjId, String), RecordError> {
        Ok(match field {
            Field::Status => (ROOT, "status".into()),
            Field::Arrival(id) => (self.map("arrivals")?, id.to_string()),
            Field::Identity => (ROOT, "identity".into()),
            Field::Party => (ROOT, "party".into()),
            Field::ServiceAddress => (ROOT, "service_address".into()),
            Field::Finding(id) => (self.map("findings")?, id.clone()),
            Field::Evidence(id) => (self.map("evidence")?, id.clone()),
            Field::Document(id) => (self.map("documents")?, id.clone()),
            Field::Signature(key) => (self.map("signatures")?, key.clone()),
            Field::Recheck(finding) => (self.map("rechecks")?, finding.clone()),
            Field::Answer(cp) => {
                let mut found = None;
                for department in &self.task.departments {
                    let section = self.section(department)?;
                    if self.doc.get(&section, cp.as_str())?.is_some() {
                        found = Some((section, cp.to_string()));
                        break;
                    }
                }
                found.ok_or_else(|| RecordError::NoSuchConflict(field.clone()))?
            }
        })
    }

    fn values_of(&self, obj: &ObjId, key: &str) -> Result<Vec<ConflictingValue>, RecordError> {
        let mut out = Vec::new();
        for (value, _) in self.doc.get_all(obj, key)? {
            let text = value.as_str().ok_or_else(|| malformed(key))?;
            let json: serde_json::Value = serde_json::from_str(text).map_err(|_| malformed(key))?;
            let by = json
                .get("by")
                .and_then(|b| b.as_str())
                .and_then(|b| InspectorId::new(b).ok())
                .ok_or_else(|| malformed(key))?;
            let at_ms = json.get("at_ms").and_then(|t| t.as_i64()).ok_or_else(|| malformed(key))?;
            out.push(ConflictingValue { value: json, by, at_ms });
        }
        Ok(out)
    }
}

/// Whether concurrent values say the same thing and differ only in who wrote them and when
/// (two devices both moving a record on site): that is agreement, not a conflict.
fn agree(values: &[ConflictingValue]) -> bool {
    let unstamped = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("by");
            map.remove("at_ms");
        }
        v
    };
    let first = unstamped(&values[0].value);
    values[1..].iter().all(|v| unstamped(&v.value) == first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_round_trip() {
        for name in ["status", "arrival:scjg-01", "identity", "party", "answer:SCJG-001-01", "finding:0a1b"] {
            assert_eq!(name.parse::<Field>().unwrap().to_string(), name);
        }
        assert!("answer:".parse::<Field>().is_err());
        assert!("colour".parse::<Field>().is_err());
        assert!("check_in".parse::<Field>().is_err());
    }
}
