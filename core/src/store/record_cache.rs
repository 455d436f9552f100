//! The store's in-memory copies of records, bounded: past [`MAX_CACHED_RECORDS`] the least
//! recently used are dropped and read again from the database when next needed. A device holding
//! tens of thousands of records (a whole district pulled) keeps its memory, and the check of every
//! copy after another writer's commit, at the size of what it works on.

use std::collections::HashMap;

use super::records::Position;
use crate::domain::TaskCode;
use crate::record::InspectionRecord;

/// How many records the store keeps loaded at most.
pub(super) const MAX_CACHED_RECORDS: usize = 256;

/// One loaded record, how far it has read its stored document, and when it was last used.
struct Entry {
    record: InspectionRecord,
    position: Option<Position>,
    used: u64,
}

/// Loaded records by task code, least recently used dropped first.
pub(super) struct RecordCache {
    entries: HashMap<TaskCode, Entry>,
    clock: u64,
    capacity: usize,
}

impl RecordCache {
    /// An empty cache keeping at most `capacity` records (at least one).
    pub(super) fn new(capacity: usize) -> RecordCache {
        RecordCache { entries: HashMap::new(), clock: 0, capacity: capacity.max(1) }
    }

    /// How many records are loaded.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether a record is loaded.
    pub(super) fn contains(&self, code: &TaskCode) -> bool {
        self.entries.contains_key(code)
    }

    /// The codes of every loaded record.
    pub(super) fn codes(&self) -> Vec<TaskCode> {
        self.entries.keys().cloned().collect()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// A loaded record, marked as just used.
    pub(super) fn get_mut(&mut self, code: &TaskCode) -> Option<&mut InspectionRecord> {
        self.record_and_position(code).map(|(record, _)| record)
    }

    /// A loaded record and how far it has read the stored one, marked as just used.
    pub(super) fn record_and_position(
        &mut self,
        code: &TaskCode,
    ) -> Option<(&mut InspectionRecord, Option<&mut Position>)> {
        let now = self.tick();
        let entry = self.entries.get_mut(code)?;
        entry.used = now;
        Some((&mut entry.record, entry.position.as_mut()))
    }

    /// Keeps a record (with its position when known), dropping the least recently used others
    /// once over capacity; a copy holding changes not yet stored is never dropped.
    pub(super) fn insert(&mut self, code: TaskCode, record: InspectionRecord, position: Option<Position>) {
        let used = self.tick();
        self.entries.insert(code.clone(), Entry { record, position, used });
        if self.entries.len() > self.capacity {
            self.shrink(&code);
        }
    }

    /// Sets how far a loaded record has read its stored document.
    pub(super) fn set_position(&mut self, code: &TaskCode, position: Position) {
        if let Some(entry) = self.entries.get_mut(code) {
            entry.position = Some(position);
        }
    }

    /// Drops one record's copy.
    pub(super) fn remove(&mut self, code: &TaskCode) {
        self.entries.remove(code);
    }

    /// Drops the least recently used copies, down to three quarters of the capacity, so the
    /// sort is paid once per quarter of it.
    fn shrink(&mut self, keep: &TaskCode) {
        let mut idle: Vec<(u64, TaskCode)> = self
            .entries
            .iter_mut()
            .filter_map(|(code, entry)| {
                (code != keep && !entry.record.has_unsaved()).then(|| (entry.used, code.clone()))
            })
            .collect();
        idle.sort_unstable_by_key(|(used, _)| *used);
        let target = self.capacity / 4 * 3;
        for (_, code) in idle {
            if self.entries.len() <= target {
                break;
            }
            self.entries.remove(&code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stamp;

    /// Record `i` of a sample joint task, saved (`saved`) or holding its first change unsaved.
    fn record(i: usize, saved: bool) -> (TaskCode, InspectionRecord) {
        let dir = crate::sample::directory().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let code = TaskCode::parse(&format!("330482-20261128-ABCDEF{i:02}")).unwrap();
        let task =
            crate::domain::Task::from_draft(crate::sample::joint_task_draft(&dir, i, day), code.clone(), &dir).unwrap();
        let stamp = Stamp { by: "scjg-01".parse().unwrap(), at_ms: 1_795_000_000_000 };
        let mut record = InspectionRecord::create(task, automerge::ActorId::random(), stamp).unwrap();
        if saved {
            record.save();
        }
        (code, record)
    }

    #[test]
    fn past_its_capacity_the_cache_drops_the_least_recently_used_records() {
        let mut cache = RecordCache::new(4);
        let codes: Vec<TaskCode> = (0..4)
            .map(|i| {
                let (code, r) = record(i, true);
                cache.insert(code.clone(), r, None);
                code
            })
            .collect();
        // Record 0 is used again: records 1 and 2 are now the oldest.
        assert!(cache.get_mut(&codes[0]).is_some());
        let (fifth, r) = record(4, true);
        cache.insert(fifth.clone(), r, None);
        assert_eq!(cache.len(), 3);
        assert!(cache.contains(&codes[0]) && cache.contains(&codes[3]) && cache.contains(&fifth));
        assert!(!cache.contains(&codes[1]) && !cache.contains(&codes[2]));
    }

    #[test]
    fn a_copy_holding_unsaved_changes_is_never_dropped() {
        let mut cache = RecordCache::new(2);
        let (unsaved, r) = record(0, false);
        cache.insert(unsaved.clone(), r, None);
        for i in 1..10 {
            let (code, r) = record(i, true);
            cache.insert(code, r, None);
        }
        assert!(cache.contains(&unsaved));
        assert!(cache.len() <= 2);
    }
}
