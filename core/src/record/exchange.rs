//! Exchanging a record's history with the sync server: raw changes since known heads, applying
//! received changes, and Automerge's sync protocol for copies that share no known heads.

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, Change, ChangeHash};

use super::rules::{WriteRules, apply_checked};
use super::{InspectionRecord, RecordError, corrupt};

impl InspectionRecord {
    /// Builds a record from its whole history received as raw changes, each checked against the
    /// write rules (the first must be a creation).
    pub fn from_changes(changes: Vec<Change>, rules: &WriteRules<'_>) -> Result<Self, RecordError> {
        let mut doc = AutoCommit::new();
        apply_checked(&mut doc, changes, rules)?;
        Self::from_doc(doc)
    }

    /// Whether `actor` made any change of this record (a device that wrote to it, by file or not).
    pub fn has_changes_by(&mut self, actor: &automerge::ActorId) -> bool {
        self.doc.get_changes(&[]).iter().any(|c| c.actor_id() == actor)
    }

    /// The raw bytes of every change not reachable from `known` (all of them when `known` is empty).
    pub fn changes_since(&mut self, known: &[ChangeHash]) -> Vec<Vec<u8>> {
        self.doc.get_changes(known).into_iter().map(|c| c.raw_bytes().to_vec()).collect()
    }

    /// Whether this copy holds every change in `heads`.
    pub fn has_all(&mut self, heads: &[ChangeHash]) -> bool {
        heads.iter().all(|h| self.doc.get_change_by_hash(h).is_some())
    }

    /// Applies received changes after checking each against the write rules, all or nothing:
    /// a forbidden change, a second root change (a separately created document under the same
    /// task code) or a missing dependency refuses the whole batch and leaves this copy as it was.
    /// Returns how many changes were new.
    pub fn apply_changes(&mut self, changes: Vec<Change>, rules: &WriteRules<'_>) -> Result<usize, RecordError> {
        let applied = apply_checked(&mut self.doc, changes, rules)?;
        self.refresh_task()?;
        Ok(applied)
    }

    /// The record as it was at `heads` (a point of its history), with the task as it was then;
    /// `None` if it does not hold them.
    pub fn at(&mut self, heads: &[ChangeHash]) -> Option<InspectionRecord> {
        if !self.has_all(heads) {
            return None;
        }
        let doc = self.doc.fork_at(heads).ok()?;
        let mut then = InspectionRecord::from_doc(doc).ok()?;
        then.saved_heads = heads.to_vec();
        Some(then)
    }

    /// Whether changes were made or merged since the last save.
    pub fn has_unsaved(&mut self) -> bool {
        self.doc.get_heads() != self.saved_heads
    }

    /// The next message of Automerge's sync protocol towards a peer tracked by `state`.
    pub fn sync_message(&mut self, state: &mut sync::State) -> Option<sync::Message> {
        self.doc.sync().generate_sync_message(state)
    }

    /// Takes in a peer's sync protocol message. The changes it carries are checked against the
    /// write rules like any others before they join the record.
    pub fn receive_sync_message(
        &mut self,
        state: &mut sync::State,
        mut message: sync::Message,
        rules: &WriteRules<'_>,
    ) -> Result<(), RecordError> {
        if !message.changes.is_empty() {
            let mut scratch = self.doc.fork();
            scratch.sync().receive_sync_message(&mut sync::State::new(), message.clone()).map_err(corrupt)?;
            let incoming = self.doc.get_changes_added(&mut scratch);
            self.apply_changes(incoming, rules)?;
            message.changes = sync::ChunkList::empty();
        }
        self.doc.sync().receive_sync_message(state, message).map_err(corrupt)?;
        self.refresh_task()
    }

    /// Takes in a peer's sync protocol message without its changes (the server: devices push
    /// their changes through the checked path once they hold the server's heads).
    pub fn receive_sync_request(
        &mut self,
        state: &mut sync::State,
        mut message: sync::Message,
    ) -> Result<(), RecordError> {
        message.changes = sync::ChunkList::empty();
        self.doc.sync().receive_sync_message(state, message).map_err(corrupt)?;
        Ok(())
    }
}

/// Parses one raw change, refusing malformed bytes.
pub fn parse_change(bytes: Vec<u8>) -> Result<Change, RecordError> {
    Change::from_bytes(bytes).map_err(|_| RecordError::MalformedChange)
}

/// The magic bytes every Automerge chunk starts with.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk types (Automerge binary format): a change, and a deflated change.
const CHANGE_CHUNK: u8 = 1;
const COMPRESSED_CHANGE_CHUNK: u8 = 2;

/// The raw changes a saved sequence of change chunks holds (what [`InspectionRecord::save_changes`]
/// and [`InspectionRecord::take_unsaved`] write), each whole and in order, without loading a
/// document; `None` when the bytes hold anything else (a whole-document snapshot, a bundle) or are
/// cut short. Only the framing is read: each change is checked when parsed.
pub fn split_changes(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut changes = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        // Magic (4), checksum (4), type (1), then the contents' length as unsigned LEB128.
        let header = rest.get(..9)?;
        if header[..4] != CHUNK_MAGIC || !matches!(header[8], CHANGE_CHUNK | COMPRESSED_CHANGE_CHUNK) {
            return None;
        }
        let (mut length, mut shift, mut at) = (0u64, 0u32, 9usize);
        loop {
            let byte = *rest.get(at)?;
            at += 1;
            length |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        let end = at.checked_add(usize::try_from(length).ok()?)?;
        changes.push(rest.get(..end)?);
        rest = &rest[end..];
    }
    Some(changes)
}

/// The raw changes of several stored chunks, in order: [`split_changes`] of each, `None` when
/// any of them holds anything but changes.
pub fn split_stored_changes<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<&'a [u8]>> {
    let mut changes = Vec::new();
    for chunk in chunks {
        changes.extend(split_changes(chunk)?);
    }
    Some(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::sample_record;

    fn rules_of(dir: &crate::domain::Directory) -> WriteRules<'_> {
        WriteRules::unanchored(dir)
    }

    #[test]
    fn saved_change_chunks_split_into_exactly_the_records_changes() {
        let (mut a, _) = sample_record();
        crate::record::tests::answer_something(&mut a);
        let changes = a.changes_since(&[]);
        assert!(changes.len() > 2);
        let saved = a.save_changes();
        let split = split_changes(&saved).unwrap();
        assert_eq!(split, changes.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(split.iter().all(|c| parse_change(c.to_vec()).is_ok()));
        assert_eq!(split_changes(&[]), Some(Vec::new()));
        // A whole-document snapshot, cut-short bytes and junk are not change chunks.
        assert_eq!(split_changes(&a.save()), None);
        assert_eq!(split_changes(&saved[..saved.len() - 1]), None);
        assert_eq!(split_changes(&saved[..5]), None);
        assert_eq!(split_changes(b"not automerge at all"), None);
        let mut endless = saved[..9].to_vec();
        endless.extend([0xff; 12]);
        assert_eq!(split_changes(&endless), None, "a length longer than any memory");
    }

    #[test]
    fn changes_since_known_heads_bring_a_copy_up_to_date() {
        let (mut a, dir) = sample_record();
        let rules = rules_of(&dir);
        let mut b = InspectionRecord::from_changes(
            a.changes_since(&[]).into_iter().map(|c| parse_change(c).unwrap()).collect(),
            &rules,
        )
        .unwrap();
        assert_eq!(a.heads(), b.heads());
        let known = b.heads();
        crate::record::tests::answer_something(&mut a);
        let delta = a.changes_since(&known);
        assert!(!delta.is_empty());
        b.apply_changes(delta.into_iter().map(|c| parse_change(c).unwrap()).collect(), &rules).unwrap();
        assert_eq!(a.heads(), b.heads());
        assert!(b.has_all(&a.heads()));
    }

    #[test]
    fn changes_with_missing_dependencies_are_refused() {
        let (mut a, dir) = sample_record();
        let rules = rules_of(&dir);
        let base = a.heads();
        crate::record::tests::answer_something(&mut a);
        let mid = a.heads();
        crate::record::tests::answer_something(&mut a);
        let first = a.changes_since(&[]).into_iter().take(2).map(|c| parse_change(c).unwrap()).collect();
        let mut b = InspectionRecord::from_changes(first, &rules).unwrap();
        assert_eq!(b.heads(), base);
        let skipping = a.changes_since(&mid);
        let err =
            b.apply_changes(skipping.into_iter().map(|c| parse_change(c).unwrap()).collect(), &rules).unwrap_err();
        assert!(matches!(err, RecordError::MissingDependencies(1)), "{err:?}");
    }

    #[test]
    fn changes_of_a_separately_created_record_are_refused() {
        let (mut a, dir) = sample_record();
        let mut other = crate::record::tests::separately_created_record();
        let foreign = other.changes_since(&[]).into_iter().map(|c| parse_change(c).unwrap()).collect();
        let before = a.heads();
        assert!(matches!(a.apply_changes(foreign, &rules_of(&dir)), Err(RecordError::UnrelatedRecord)));
        assert_eq!(a.heads(), before);
    }

    #[test]
    fn malformed_change_bytes_are_a_typed_error() {
        assert!(matches!(parse_change(vec![1, 2, 3]), Err(RecordError::MalformedChange)));
    }

    #[test]
    fn the_sync_protocol_converges_copies_that_share_no_known_heads() {
        let (mut a, dir) = sample_record();
        let rules = rules_of(&dir);
        let mut b = InspectionRecord::from_changes(
            a.changes_since(&[]).into_iter().map(|c| parse_change(c).unwrap()).collect(),
            &rules,
        )
        .unwrap();
        crate::record::tests::answer_something(&mut a);
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        for _ in 0..10 {
            let m1 = a.sync_message(&mut sa);
            if let Some(m) = m1.clone() {
                b.receive_sync_message(&mut sb, m, &rules).unwrap();
            }
            let m2 = b.sync_message(&mut sb);
            if let Some(m) = m2.clone() {
                a.receive_sync_message(&mut sa, m, &rules).unwrap();
            }
            if m1.is_none() && m2.is_none() {
                break;
            }
        }
        assert_eq!(a.heads(), b.heads());
    }
}
