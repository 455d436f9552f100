//! A change's operations as edits of the record's layout: each operation resolved to the map it
//! writes (root, a department's section, findings …), its key and what it does.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, AutoCommit, Change, ObjId, ROOT, ReadDoc, ScalarValue};

use super::{ForbiddenEdit, WriteRule};
use crate::domain::DepartmentId;
use crate::record::RecordError;

/// A map of the record's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Container {
    /// The document root.
    Root,
    /// `sections`, holding one map per department.
    Sections,
    /// `sections/<department>`.
    Section(DepartmentId),
    /// `findings`.
    Findings,
    /// `arrivals`.
    Arrivals,
    /// `evidence`.
    Evidence,
    /// `documents`.
    Documents,
    /// `signatures`.
    Signatures,
    /// `rechecks` (records created since re-inspection results are recorded).
    Rechecks,
    /// `seals` (records created since the agency's seals are kept).
    Seals,
}

/// The maps every record is created with, by root key.
pub(super) const ROOT_MAPS: [&str; 6] = ["sections", "findings", "arrivals", "evidence", "documents", "signatures"];

/// The maps a record is created with since they were introduced, in that order (an older record
/// lacks the later ones).
pub(super) const LATER_ROOT_MAPS: [&str; 2] = ["rechecks", "seals"];

impl Container {
    fn of_root_key(key: &str) -> Option<Container> {
        Some(match key {
            "sections" => Container::Sections,
            "findings" => Container::Findings,
            "arrivals" => Container::Arrivals,
            "evidence" => Container::Evidence,
            "documents" => Container::Documents,
            "signatures" => Container::Signatures,
            "rechecks" => Container::Rechecks,
            "seals" => Container::Seals,
            _ => return None,
        })
    }

    /// The path of `key` inside this map.
    pub(super) fn path(&self, key: &str) -> String {
        match self {
            Container::Root => key.to_string(),
            Container::Sections => format!("sections/{key}"),
            Container::Section(d) => format!("sections/{d}/{key}"),
            Container::Findings => format!("findings/{key}"),
            Container::Arrivals => format!("arrivals/{key}"),
            Container::Evidence => format!("evidence/{key}"),
            Container::Documents => format!("documents/{key}"),
            Container::Signatures => format!("signatures/{key}"),
            Container::Rechecks => format!("rechecks/{key}"),
            Container::Seals => format!("seals/{key}"),
        }
    }
}

/// What one operation does.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    /// Sets the key to a scalar.
    Put(ScalarValue),
    /// Removes the key.
    Delete,
    /// Makes a new object under the key.
    Make,
    /// Anything else (counters, marks, list insertions).
    Other,
}

/// One operation of a change, resolved.
#[derive(Debug, Clone)]
pub(super) struct Edit {
    /// The map written.
    pub container: Container,
    /// Its object id in the document.
    pub obj: ObjId,
    /// The key written.
    pub key: String,
    /// What is done.
    pub action: Action,
    /// The operations it overwrites (counter, actor).
    pub pred: Vec<(u64, ActorId)>,
}

impl Edit {
    /// The record path written.
    pub(super) fn path(&self) -> String {
        self.container.path(&self.key)
    }

    /// The string put, if the edit puts one.
    pub(super) fn text(&self) -> Option<&str> {
        match &self.action {
            Action::Put(ScalarValue::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// The record's maps by object id (they are all made when the record is created).
pub(super) struct Objects(HashMap<(u64, ActorId), (Container, ObjId)>);

impl Objects {
    /// Reads the maps of a created record.
    pub(super) fn read(doc: &AutoCommit) -> Result<Objects, RecordError> {
        let mut map = HashMap::new();
        let malformed = |field: &str| RecordError::MalformedField { field: field.to_string() };
        for key in ROOT_MAPS.into_iter().chain(LATER_ROOT_MAPS) {
            let Some((value, id)) = doc.get(ROOT, key)? else {
                if LATER_ROOT_MAPS.contains(&key) {
                    continue; // a record created before the map was introduced
                }
                return Err(malformed(key));
            };
            let (Some(container), true) = (Container::of_root_key(key), value.is_object()) else {
                return Err(malformed(key));
            };
            if container == Container::Sections {
                for department in doc.keys(&id) {
                    if let Some((v, section)) = doc.get(&id, department.as_str())?
                        && v.is_object()
                    {
                        let dept = DepartmentId::new(department.clone()).map_err(|_| malformed("sections"))?;
                        insert(&mut map, &section, Container::Section(dept));
                    }
                }
            }
            insert(&mut map, &id, container);
        }
        Ok(Objects(map))
    }

    fn resolve(&self, obj: &ObjectId) -> Option<(Container, ObjId)> {
        match obj {
            ObjectId::Root => Some((Container::Root, ROOT)),
            ObjectId::Id(op) => self.0.get(&(op.counter(), op.actor().clone())).cloned(),
        }
    }
}

fn insert(map: &mut HashMap<(u64, ActorId), (Container, ObjId)>, id: &ObjId, container: Container) {
    if let ObjId::Id(counter, actor, _) = id {
        map.insert((*counter, actor.clone()), (container, id.clone()));
    }
}

/// A change's operations, decoded (hostile bytes that make the decoder panic are refused as
/// malformed rather than taking the process down).
pub(super) fn expand(change: &Change) -> Result<automerge::ExpandedChange, ForbiddenEdit> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change.decode())).map_err(|_| ForbiddenEdit {
        rule: WriteRule::Malformed,
        path: String::new(),
        change: change.hash().to_string(),
    })
}

/// Resolves every operation of a (decoded) change to an edit of the record's layout.
pub(super) fn resolve(
    change: &Change,
    expanded: &automerge::ExpandedChange,
    objects: &Objects,
) -> Result<Vec<Edit>, ForbiddenEdit> {
    let forbidden = |rule, path: String| ForbiddenEdit { rule, path, change: change.hash().to_string() };
    let mut out = Vec::with_capacity(expanded.operations.len());
    for op in expanded.operations.iter().cloned() {
        let Some((container, obj)) = objects.resolve(&op.obj) else {
            return Err(forbidden(WriteRule::UnknownPath, format!("{:?}", op.obj)));
        };
        let Key::Map(key) = op.key else {
            return Err(forbidden(WriteRule::UnknownPath, container.path("[list]")));
        };
        if op.insert {
            return Err(forbidden(WriteRule::UnknownPath, container.path(&key)));
        }
        let action = match op.action {
            OpType::Put(v) => Action::Put(v),
            OpType::Delete => Action::Delete,
            OpType::Make(_) => Action::Make,
            _ => Action::Other,
        };
        let pred = op.pred.iter().map(|p| (p.counter(), p.actor().clone())).collect();
        out.push(Edit { container, obj, key: key.to_string(), action, pred });
    }
    Ok(out)
}
