//! A copy restored from an old backup: its own edits since the backup went out under sequence
//! numbers its Automerge actor had already used for edits the server holds, so no peer can take
//! them (Automerge refuses a second change with the same actor and number). They are made again,
//! as new changes writing the same values, on top of the record as the server holds it.

use automerge::transaction::Transactable;
use automerge::{Change, ChangeHash};

use super::WriteRules;
use super::edits::{self, Action};
use crate::record::{InspectionRecord, RecordError};

impl InspectionRecord {
    /// The record at `base` (a point both this copy and the server hold) plus `server` (the
    /// changes the server holds after it, checked against the write rules), with this copy's own
    /// changes after `base` that the server lacks made again on top: one new change each, by the
    /// same actor, writing the same values. Returns it with the number of changes made again.
    pub fn replay_onto(
        &mut self,
        base: &[ChangeHash],
        server: Vec<Change>,
        rules: &WriteRules<'_>,
    ) -> Result<(InspectionRecord, usize), RecordError> {
        let actor = self.doc.get_actor().clone();
        let mut rebuilt = self.at(base).ok_or(RecordError::MissingDependencies(base.len()))?;
        rebuilt.doc.set_actor(actor.clone());
        rebuilt.apply_changes(server, rules)?;
        let since: Vec<Change> =
            self.doc.get_changes(base).into_iter().filter(|c| !rebuilt.has_all(&[c.hash()])).collect();
        let (own, others): (Vec<Change>, Vec<Change>) = since.into_iter().partition(|c| c.actor_id() == &actor);
        if !others.is_empty() {
            // Another device's changes this copy merged (a record file): they are its own to keep.
            rebuilt.apply_changes(others, rules)?;
        }
        let objects = edits::Objects::read(&rebuilt.doc)?;
        for change in &own {
            let expanded = edits::expand(change).map_err(RecordError::Forbidden)?;
            for edit in edits::resolve(change, &expanded, &objects).map_err(RecordError::Forbidden)? {
                match edit.action {
                    Action::Put(value) => rebuilt.doc.put(&edit.obj, edit.key.as_str(), value)?,
                    Action::Delete => rebuilt.doc.delete(&edit.obj, edit.key.as_str())?,
                    // The write rules never let a device make objects after creation.
                    Action::Make | Action::Other => return Err(RecordError::MalformedChange),
                }
            }
            rebuilt.doc.commit();
        }
        rebuilt.refresh_task()?;
        Ok((rebuilt, own.len()))
    }
}
