//! The audit upload, packed: a device sends the entries the server lacks as columns of their
//! fields (no hash, no link, no per-entry signature — each is recomputed from the fields) and one
//! signature of its own over the chain head they lead to. Every entry is linked to the one before
//! by its hash, so the head signature covers each of them as a transparency log's signed tree head
//! covers its leaves; the server rebuilds every entry's canonical bytes, exactly as the device
//! signed and stored them, and refuses the whole upload unless the head it computes is the one
//! signed. On the device each entry keeps its own signature (bundles carry them; each verifies
//! offline on its own): only the uplink is lighter.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::{AuditAction, AuditEntry, AuditProblem, SignedAuditEntry, sha256_hex};
use crate::canonical::{CanonicalError, to_canonical_json};
use crate::identity::DeviceKey;

/// The schema of the head a device signs for a packed upload.
pub const HEAD_SCHEMA: &str = "onevisit/audit-head/1";

/// What the device signs: its chain reaches entry `seq` with hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Always [`HEAD_SCHEMA`].
    pub schema: String,
    /// The device.
    pub device: String,
    /// The last entry's sequence number.
    pub seq: u64,
    /// The last entry's hash.
    pub hash: String,
}

/// Consecutive entries of one device's chain as columns, and the device's signature over the head.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedAudit {
    /// The device whose chain it is.
    pub device: String,
    /// The first entry's sequence number.
    pub first_seq: u64,
    /// The hash of the entry before the first (the genesis hash for a new chain).
    pub prev_hash: String,
    /// Each entry's action.
    pub actions: Vec<AuditAction>,
    /// Each entry's inspector.
    pub inspectors: Vec<Option<String>>,
    /// Each entry's object.
    pub objects: Vec<String>,
    /// Each entry's object hash.
    pub object_hashes: Vec<String>,
    /// Each entry's device time, as the difference from the entry before (the first: as it is).
    pub time_deltas: Vec<i64>,
    /// Ed25519 signature (hex) by the device key over the canonical [`AuditHead`] of the last entry.
    pub head_signature: String,
}

/// Why entries cannot be packed (they are not one device's consecutive, readable entries).
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// An entry does not parse or does not follow the one before.
    #[error("第 {0} 条审计记录无法打包（无法读取或与前一条不连续）")]
    NotConsecutive(u64),
    /// Signing failed (a bug).
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

impl PackedAudit {
    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Packs a device's consecutive entries and signs their head with its key; `None` for none.
pub fn pack(entries: &[SignedAuditEntry], key: &DeviceKey) -> Result<Option<PackedAudit>, PackError> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return Ok(None) };
    let first = first.entry().ok_or(PackError::NotConsecutive(0))?;
    let mut packed = PackedAudit {
        device: first.device.clone(),
        first_seq: first.seq,
        prev_hash: first.prev_hash.clone(),
        ..Default::default()
    };
    let (mut seq, mut hash, mut time) = (first.seq - 1, first.prev_hash.clone(), 0i64);
    for signed in entries {
        let e = signed.entry().ok_or(PackError::NotConsecutive(seq + 1))?;
        if e.seq != seq + 1 || e.prev_hash != hash || e.device != packed.device {
            return Err(PackError::NotConsecutive(seq + 1));
        }
        packed.actions.push(e.action);
        packed.inspectors.push(e.inspector);
        packed.objects.push(e.object);
        packed.object_hashes.push(e.object_hash);
        packed.time_deltas.push(e.device_time_ms - time);
        (seq, hash, time) = (e.seq, signed.hash.clone(), e.device_time_ms);
    }
    let head = AuditHead { schema: HEAD_SCHEMA.into(), device: packed.device.clone(), seq, hash: last.hash.clone() };
    packed.head_signature = hex::encode(key.sign(&to_canonical_json(&head)?).to_bytes());
    Ok(Some(packed))
}

/// Rebuilds the entries of a packed upload — each entry's canonical bytes and hash, linked from
/// `prev_hash` — and checks the device's signature over the head they lead to under `key`. The
/// entries come back without signatures of their own: the head's covers them.
pub fn unpack(packed: &PackedAudit, key: &VerifyingKey) -> Result<Vec<SignedAuditEntry>, AuditProblem> {
    let n = packed.actions.len();
    let columns = [packed.inspectors.len(), packed.objects.len(), packed.object_hashes.len(), packed.time_deltas.len()];
    if columns.iter().any(|&c| c != n) || n == 0 || packed.first_seq == 0 {
        return Err(AuditProblem::Altered { seq: packed.first_seq });
    }
    let mut out = Vec::with_capacity(n);
    let (mut hash, mut time) = (packed.prev_hash.clone(), 0i64);
    for i in 0..n {
        let seq = packed.first_seq + i as u64;
        time = time.checked_add(packed.time_deltas[i]).ok_or(AuditProblem::Altered { seq })?;
        let entry = AuditEntry {
            seq,
            prev_hash: hash,
            device: packed.device.clone(),
            action: packed.actions[i],
            inspector: packed.inspectors[i].clone(),
            object: packed.objects[i].clone(),
            object_hash: packed.object_hashes[i].clone(),
            device_time_ms: time,
        };
        let canonical = to_canonical_json(&entry).map_err(|_| AuditProblem::Altered { seq })?;
        let canonical = String::from_utf8(canonical).map_err(|_| AuditProblem::Altered { seq })?;
        hash = sha256_hex(canonical.as_bytes());
        out.push(SignedAuditEntry { canonical, hash: hash.clone(), signature: String::new() });
    }
    let last = packed.first_seq + n as u64 - 1;
    let head = AuditHead { schema: HEAD_SCHEMA.into(), device: packed.device.clone(), seq: last, hash };
    let bytes = to_canonical_json(&head).map_err(|_| AuditProblem::Altered { seq: last })?;
    let signature = hex::decode(&packed.head_signature)
        .ok()
        .and_then(|s| ed25519_dalek::Signature::from_slice(&s).ok())
        .ok_or(AuditProblem::Altered { seq: last })?;
    key.verify_strict(&bytes, &signature).map_err(|_| AuditProblem::Altered { seq: last })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{GENESIS_HASH, verify_continuation, verify_links};

    fn chain(key: &DeviceKey, n: u64) -> Vec<SignedAuditEntry> {
        let mut out: Vec<SignedAuditEntry> = Vec::new();
        for seq in 1..=n {
            let entry = AuditEntry {
                seq,
                prev_hash: out.last().map_or(GENESIS_HASH.to_string(), |e| e.hash.clone()),
                device: key.device_id(),
                action: if seq == 1 { AuditAction::CreateTask } else { AuditAction::AnswerCheckPoint },
                inspector: Some("scjg-01".into()),
                object: format!("task/330482-20261201-AAAAAAAA/answer:SCJG-001-0{}", seq % 4 + 1),
                object_hash: sha256_hex(&seq.to_le_bytes()),
                device_time_ms: 1_764_547_200_000 + seq as i64 * 1_500,
            };
            out.push(SignedAuditEntry::sign(&entry, key).unwrap());
        }
        out
    }

    #[test]
    fn a_packed_upload_rebuilds_every_entry_byte_for_byte_under_one_signature() {
        let key = DeviceKey::generate();
        let entries = chain(&key, 30);
        let packed = pack(&entries[10..], &key).unwrap().unwrap();
        let rebuilt = unpack(&packed, &key.verifying_key()).unwrap();
        assert_eq!(rebuilt.len(), 20);
        for (r, e) in rebuilt.iter().zip(&entries[10..]) {
            assert_eq!((&r.canonical, &r.hash), (&e.canonical, &e.hash), "the device's exact bytes");
        }
        assert_eq!(verify_links(10, &entries[9].hash, &rebuilt, &key.device_id()), Ok((30, entries[29].hash.clone())));
        // The per-entry form still verifies as before.
        assert_eq!(
            verify_continuation(0, GENESIS_HASH, &entries, &key.verifying_key(), &key.device_id()).unwrap().0,
            30
        );
        // Smaller on the wire than the entries with their hashes and signatures.
        let (packed_json, plain_json) =
            (serde_json::to_vec(&packed).unwrap(), serde_json::to_vec(&entries[10..].to_vec()).unwrap());
        let (a, b) = (crate::sync::wire::deflate(&packed_json).len(), crate::sync::wire::deflate(&plain_json).len());
        assert!(a * 3 < b, "{a} bytes packed against {b}");
    }

    /// A change an attacker makes to an upload.
    type Doctor = Box<dyn Fn(&mut PackedAudit)>;

    #[test]
    fn any_change_to_a_packed_upload_or_its_signer_is_refused() {
        let key = DeviceKey::generate();
        let packed = pack(&chain(&key, 12), &key).unwrap().unwrap();
        let verifying = key.verifying_key();
        let doctored: Vec<(&str, Doctor)> = vec![
            ("an object hash", Box::new(|p| p.object_hashes[3] = sha256_hex(b"other change"))),
            ("a time", Box::new(|p| p.time_deltas[5] += 1)),
            ("an action", Box::new(|p| p.actions[2] = AuditAction::SignDocument)),
            ("the inspector", Box::new(|p| p.inspectors[7] = Some("scjg-02".into()))),
            ("the start", Box::new(|p| p.first_seq = 2)),
            ("the link", Box::new(|p| p.prev_hash = sha256_hex(b"x"))),
            (
                "an entry dropped",
                Box::new(|p| {
                    p.actions.pop();
                    p.inspectors.pop();
                    p.objects.pop();
                    p.object_hashes.pop();
                    p.time_deltas.pop();
                }),
            ),
            (
                "a column cut short",
                Box::new(|p| {
                    p.objects.pop();
                }),
            ),
            ("the signature", Box::new(|p| p.head_signature = "00".repeat(64))),
            ("no signature", Box::new(|p| p.head_signature.clear())),
        ];
        for (what, change) in doctored {
            let mut p = packed.clone();
            change(&mut p);
            assert!(unpack(&p, &verifying).is_err(), "{what} changed and still accepted");
        }
        let other = DeviceKey::generate();
        assert!(unpack(&packed, &other.verifying_key()).is_err(), "another device's key");
        let mut empty = packed.clone();
        empty.actions.clear();
        assert!(unpack(&empty, &verifying).is_err());
    }
}
