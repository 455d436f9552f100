//! The audit log (全过程记录): append-only, hash-chained, every entry signed by the device.
//!
//! Each entry names the previous entry's hash, and the device signs the entry's canonical JSON.
//! Verification finds entries that were altered, removed, inserted or reordered and says which.

use std::collections::{BTreeSet, HashMap};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical::CanonicalError;
use crate::identity::DeviceKey;

pub mod packed;

/// The hash the first entry names as its predecessor.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// The device was initialised and its key made.
    InitDevice,
    /// Directory data was imported.
    ImportDirectory,
    /// A task and its record were created.
    CreateTask,
    /// The team checked in on site.
    CheckIn,
    /// Certificates were shown.
    ShowIdentity,
    /// The party's representative was recorded.
    RecordParty,
    /// The party's address for service was confirmed.
    ConfirmServiceAddress,
    /// A check point was answered.
    AnswerCheckPoint,
    /// A finding was recorded.
    AddFinding,
    /// A re-inspection's result for a finding was recorded.
    RecordRecheck,
    /// The status changed.
    ChangeStatus,
    /// A conflict was resolved.
    ResolveConflict,
    /// A photo was captured and attached.
    AddEvidence,
    /// A legal document version was rendered.
    RenderDocument,
    /// An inspector signed a document.
    SignDocument,
    /// The party signed a document, or refused before a witness.
    PartySignDocument,
    /// A task code token was issued.
    IssueTaskCode,
    /// Another device's changes were merged in.
    MergeRecord,
    /// A record was received from another device for the first time.
    ReceiveRecord,
    /// The device was enrolled with the city server and received its certificate.
    Enrol,
    /// The server took the device's inspector off a task; the record stays, read-only.
    Unassigned,
    /// A new chain segment starts: the device's chain had diverged from the one the server holds
    /// (a store restored from an old backup), so it continues from the server's head; the
    /// entry's object says why and which local entries it carries over.
    StartSegment,
    /// A record copy restored from an old backup was rebuilt as the server holds it, with this
    /// device's own edits since the backup made again as new changes.
    ReplayRecord,
}

/// One audit entry, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the device's chain, from 1.
    pub seq: u64,
    /// SHA-256 (hex) of the previous entry's canonical bytes; [`GENESIS_HASH`] for the first.
    pub prev_hash: String,
    /// The device that wrote the entry.
    pub device: String,
    /// What happened.
    pub action: AuditAction,
    /// The inspector operating the device, if one is set.
    pub inspector: Option<String>,
    /// What it happened to, e.g. `task/<code>/answer:<check point>`.
    pub object: String,
    /// SHA-256 (hex) of the object's bytes after the action (for a record edit: the change bytes).
    pub object_hash: String,
    /// Device time, ms since the Unix epoch.
    pub device_time_ms: i64,
}

/// An entry with its hash and the device's signature over its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAuditEntry {
    /// The canonical JSON bytes of the entry, exactly as signed.
    pub canonical: String,
    /// SHA-256 (hex) of `canonical`; the next entry's `prev_hash`.
    pub hash: String,
    /// Ed25519 signature (hex) over `canonical`.
    pub signature: String,
}

impl SignedAuditEntry {
    /// Canonicalises, hashes and signs `entry`.
    pub fn sign(entry: &AuditEntry, key: &DeviceKey) -> Result<SignedAuditEntry, CanonicalError> {
        let (canonical, signature) = crate::signed::sign(entry, key)?;
        Ok(SignedAuditEntry { hash: sha256_hex(canonical.as_bytes()), signature, canonical })
    }

    /// The entry, if the canonical bytes parse.
    pub fn entry(&self) -> Option<AuditEntry> {
        serde_json::from_str(&self.canonical).ok()
    }

    /// Whether the signature verifies (strictly) over the canonical bytes and the hash matches them.
    fn is_authentic(&self, key: &VerifyingKey) -> bool {
        let Ok(sig) = hex::decode(&self.signature) else { return false };
        let Ok(sig) = Signature::from_slice(&sig) else { return false };
        sha256_hex(self.canonical.as_bytes()) == self.hash && key.verify_strict(self.canonical.as_bytes(), &sig).is_ok()
    }
}

/// One problem verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditProblem {
    /// The entry with this sequence number was changed after signing.
    Altered {
        /// The entry's sequence number.
        seq: u64,
    },
    /// The entry with this sequence number is missing.
    Removed {
        /// The entry's sequence number.
        seq: u64,
    },
    /// The entry stored at this position (from 1) is not part of the device's chain.
    Inserted {
        /// Its position in the log.
        position: usize,
    },
    /// The entry with this sequence number is stored out of order, at this position.
    Reordered {
        /// The entry's sequence number.
        seq: u64,
        /// Its position in the log.
        position: usize,
    },
    /// Two authentic entries do not link (the device signed a fork).
    BrokenLink {
        /// The entry's sequence number.
        seq: u64,
    },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditProblem::Altered { seq } => write!(f, "第 {seq} 条被改动（签名不符）"),
            AuditProblem::Removed { seq } => write!(f, "第 {seq} 条被删除"),
            AuditProblem::Inserted { position } => {
                write!(f, "第 {position} 个位置的记录是插入的：不在本设备的哈希链中")
            }
            AuditProblem::Reordered { seq, position } => {
                write!(f, "第 {seq} 条的顺序被调换（存放在第 {position} 个位置）")
            }
            AuditProblem::BrokenLink { seq } => write!(f, "第 {seq} 条与前一条不相连（链被分叉）"),
        }
    }
}

/// The outcome of verifying a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries examined.
    pub entries: usize,
    /// Authentic entries in the chain.
    pub authentic: usize,
    /// The sequence number the device recorded as its latest.
    pub head_seq: u64,
    /// Everything found wrong, in sequence order; empty when the chain is intact.
    pub problems: Vec<AuditProblem>,
    /// Where a new chain segment starts (an authentic `start_segment` entry), with its stated
    /// reason: the entries before it that this copy lacks are on the server, not removed.
    pub segments: Vec<SegmentStart>,
}

/// The start of a new chain segment, as a verifier explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentStart {
    /// The segment's first entry.
    pub seq: u64,
    /// The last entry of the earlier segment this copy holds (0 if none).
    pub after_local: u64,
    /// What the entry says: why, and which local entries it carries over.
    pub explanation: String,
}

impl SegmentStart {
    /// The entries before the segment that only the server holds (empty if none).
    pub fn server_only(&self) -> std::ops::Range<u64> {
        self.after_local + 1..self.seq
    }

    /// Which earlier entries this copy lacks, in words (zh-CN).
    pub fn held_zh(&self) -> String {
        let only = self.server_only();
        if only.is_empty() {
            "此前的记录都在这份日志中".to_string()
        } else {
            format!("第 {}–{} 条只在服务器上", only.start, only.end - 1)
        }
    }
}

impl AuditReport {
    /// Whether nothing was found wrong.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks that `entries` continue a device's chain from the entry `head_seq` with hash
/// `head_hash` (0 and [`GENESIS_HASH`] for a new chain): each authentic under `key`, numbered
/// consecutively, linked to its predecessor and written by `device`. Returns the new head.
pub fn verify_continuation(
    head_seq: u64,
    head_hash: &str,
    entries: &[SignedAuditEntry],
    key: &VerifyingKey,
    device: &str,
) -> Result<(u64, String), AuditProblem> {
    if let Some(forged) = entries.iter().find(|e| !e.is_authentic(key)) {
        return Err(AuditProblem::Altered { seq: forged.entry().map_or(head_seq + 1, |e| e.seq) });
    }
    verify_links(head_seq, head_hash, entries, device)
}

/// Checks that `entries` continue a device's chain from `head_seq`/`head_hash` — each entry's
/// hash that of its bytes, numbered consecutively, linked to its predecessor, written by `device` —
/// leaving who signed them to the caller (each entry itself, or a packed upload's head). Returns
/// the new head.
pub fn verify_links(
    head_seq: u64,
    head_hash: &str,
    entries: &[SignedAuditEntry],
    device: &str,
) -> Result<(u64, String), AuditProblem> {
    let (mut seq, mut hash) = (head_seq, head_hash.to_string());
    for signed in entries {
        let entry = signed.entry().ok_or(AuditProblem::Altered { seq: seq + 1 })?;
        if sha256_hex(signed.canonical.as_bytes()) != signed.hash || entry.device != device {
            return Err(AuditProblem::Altered { seq: entry.seq });
        }
        if entry.seq != seq + 1 {
            return Err(AuditProblem::Removed { seq: seq + 1 });
        }
        if entry.prev_hash != hash {
            return Err(AuditProblem::BrokenLink { seq: entry.seq });
        }
        seq = entry.seq;
        hash = signed.hash.clone();
    }
    Ok((seq, hash))
}

/// Verifies `stored` (in storage order) against the device key and the head the device recorded.
pub fn verify_chain(stored: &[SignedAuditEntry], key: &VerifyingKey, head_seq: u64) -> AuditReport {
    let mut problems = Vec::new();
    // Authentic entries: (storage index, entry, hash).
    let mut authentic: Vec<(usize, AuditEntry, &str)> = Vec::new();
    let mut forged: Vec<(usize, Option<u64>)> = Vec::new();
    for (i, s) in stored.iter().enumerate() {
        match s.entry() {
            Some(e) if s.is_authentic(key) => authentic.push((i, e, &s.hash)),
            parsed => forged.push((i, parsed.map(|e| e.seq))),
        }
    }

    // Replayed copies and order.
    let mut by_seq: HashMap<u64, &str> = HashMap::new();
    let mut max_seen = 0u64;
    let mut chain: Vec<(u64, &AuditEntry, &str)> = Vec::new();
    for (i, e, hash) in &authentic {
        if let Some(first) = by_seq.get(&e.seq) {
            if first == hash {
                problems.push(AuditProblem::Inserted { position: i + 1 });
            } else {
                problems.push(AuditProblem::BrokenLink { seq: e.seq });
            }
            continue;
        }
        by_seq.insert(e.seq, hash);
        if e.seq < max_seen {
            problems.push(AuditProblem::Reordered { seq: e.seq, position: i + 1 });
        }
        max_seen = max_seen.max(e.seq);
        chain.push((e.seq, e, hash));
    }
    chain.sort_by_key(|(seq, _, _)| *seq);

    // Links between consecutive authentic entries. A segment start links to the head the
    // server held, which this copy may lack: the numbers it skips are explained, not removed.
    let present: BTreeSet<u64> = chain.iter().map(|(s, _, _)| *s).collect();
    let mut segments = Vec::new();
    let mut skipped = BTreeSet::new();
    for (i, (seq, entry, _)) in chain.iter().enumerate() {
        if entry.action == AuditAction::StartSegment {
            let after_local = if i == 0 { 0 } else { chain[i - 1].0 };
            let segment = SegmentStart { seq: *seq, after_local, explanation: entry.object.clone() };
            skipped.extend(segment.server_only());
            segments.push(segment);
        }
    }
    for w in chain.windows(2) {
        let ((a, _, hash_a), (b, entry_b, _)) = (&w[0], &w[1]);
        if *b == a + 1 && entry_b.prev_hash != *hash_a && entry_b.action != AuditAction::StartSegment {
            problems.push(AuditProblem::BrokenLink { seq: *b });
        }
    }
    if let Some((1, first, _)) = chain.first()
        && first.prev_hash != GENESIS_HASH
    {
        problems.push(AuditProblem::BrokenLink { seq: 1 });
    }

    // Missing sequence numbers are explained by an altered entry where one claims (or sits in) the slot.
    let last = head_seq.max(max_seen);
    let mut explained = BTreeSet::new();
    for (i, claimed) in &forged {
        let slot = claimed.or_else(|| {
            // Unparseable: assume it sits in the slot after the authentic entry stored before it.
            let before = authentic.iter().filter(|(j, _, _)| j < i).map(|(_, e, _)| e.seq).max().unwrap_or(0);
            Some(before + 1)
        });
        match slot {
            Some(seq) if seq >= 1 && seq <= last && !present.contains(&seq) && explained.insert(seq) => {
                problems.push(AuditProblem::Altered { seq });
            }
            _ => problems.push(AuditProblem::Inserted { position: i + 1 }),
        }
    }
    for seq in 1..=last {
        if !present.contains(&seq) && !explained.contains(&seq) && !skipped.contains(&seq) {
            problems.push(AuditProblem::Removed { seq });
        }
    }
    problems.sort_by_key(problem_order);
    AuditReport { entries: stored.len(), authentic: chain.len(), head_seq, problems, segments }
}

fn problem_order(p: &AuditProblem) -> (u64, usize) {
    match p {
        AuditProblem::Altered { seq } | AuditProblem::Removed { seq } | AuditProblem::BrokenLink { seq } => (*seq, 0),
        AuditProblem::Reordered { seq, position } => (*seq, *position),
        AuditProblem::Inserted { position } => (u64::MAX, *position),
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(key: &DeviceKey, n: u64) -> Vec<SignedAuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let e = AuditEntry {
                    seq,
                    prev_hash: prev.clone(),
                    device: key.device_id(),
                    action: AuditAction::AnswerCheckPoint,
                    inspector: Some("scjg-01".into()),
                    object: format!("task/x/answer:{seq}"),
                    object_hash: sha256_hex(&seq.to_be_bytes()),
                    device_time_ms: 1_764_000_000_000 + seq as i64,
                };
                let s = SignedAuditEntry::sign(&e, key).unwrap();
                prev = s.hash.clone();
                s
            })
            .collect()
    }

    #[test]
    fn a_continuation_must_link_number_and_verify_from_the_known_head() {
        let key = DeviceKey::generate();
        let entries = chain(&key, 5);
        let vk = key.verifying_key();
        let device = key.device_id();
        let (seq, hash) = verify_continuation(0, GENESIS_HASH, &entries[..3], &vk, &device).unwrap();
        assert_eq!((seq, hash.as_str()), (3, entries[2].hash.as_str()));
        assert_eq!(verify_continuation(seq, &hash, &entries[3..], &vk, &device).unwrap().0, 5);
        assert_eq!(verify_continuation(seq, &hash, &entries[4..], &vk, &device), Err(AuditProblem::Removed { seq: 4 }));
        assert_eq!(
            verify_continuation(3, &entries[1].hash, &entries[3..], &vk, &device),
            Err(AuditProblem::BrokenLink { seq: 4 })
        );
        let other = DeviceKey::generate();
        assert_eq!(
            verify_continuation(seq, &hash, &entries[3..], &other.verifying_key(), &device),
            Err(AuditProblem::Altered { seq: 4 })
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let key = DeviceKey::generate();
        let report = verify_chain(&chain(&key, 5), &key.verifying_key(), 5);
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.authentic, 5);
    }

    #[test]
    fn an_altered_entry_is_named() {
        let key = DeviceKey::generate();
        let mut c = chain(&key, 5);
        c[2].canonical = c[2].canonical.replace("answer_check_point", "add_finding");
        let report = verify_chain(&c, &key.verifying_key(), 5);
        assert_eq!(report.problems, vec![AuditProblem::Altered { seq: 3 }]);
    }

    #[test]
    fn a_removed_entry_is_named_even_at_the_end() {
        let key = DeviceKey::generate();
        let mut c = chain(&key, 5);
        c.remove(1);
        c.pop();
        let report = verify_chain(&c, &key.verifying_key(), 5);
        assert_eq!(report.problems, vec![AuditProblem::Removed { seq: 2 }, AuditProblem::Removed { seq: 5 }]);
    }

    #[test]
    fn an_inserted_forgery_and_a_replayed_copy_are_named() {
        let key = DeviceKey::generate();
        let mut c = chain(&key, 4);
        let forger = DeviceKey::generate();
        let forged = chain(&forger, 2).pop().unwrap();
        c.insert(2, forged);
        let copy = c[0].clone();
        c.push(copy);
        let report = verify_chain(&c, &key.verifying_key(), 4);
        assert_eq!(
            report.problems,
            vec![AuditProblem::Inserted { position: 3 }, AuditProblem::Inserted { position: 6 }]
        );
    }

    #[test]
    fn reordered_entries_are_named() {
        let key = DeviceKey::generate();
        let mut c = chain(&key, 5);
        c.swap(1, 3);
        let report = verify_chain(&c, &key.verifying_key(), 5);
        assert_eq!(
            report.problems,
            vec![AuditProblem::Reordered { seq: 2, position: 4 }, AuditProblem::Reordered { seq: 3, position: 3 }]
        );
    }

    #[test]
    fn a_flipped_signature_byte_is_an_alteration() {
        let key = DeviceKey::generate();
        let mut c = chain(&key, 3);
        let mut sig = hex::decode(&c[0].signature).unwrap();
        sig[5] ^= 0x40;
        c[0].signature = hex::encode(sig);
        let report = verify_chain(&c, &key.verifying_key(), 3);
        assert_eq!(report.problems, vec![AuditProblem::Altered { seq: 1 }]);
    }
}
