//! The audit log's table: entries appended in the transaction of the action they record.

use rusqlite::{Connection, params};

use crate::audit::{AuditAction, AuditEntry, SignedAuditEntry};
use crate::identity::DeviceKey;

use super::StoreError;

/// The latest entry of the device's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Its sequence number (0 before the first entry).
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// What an entry records, before it is numbered, chained and signed.
pub struct Event<'a> {
    /// What happened.
    pub action: AuditAction,
    /// The operating inspector.
    pub inspector: Option<&'a str>,
    /// What it happened to.
    pub object: String,
    /// Hash of the object's bytes.
    pub object_hash: String,
    /// Device time.
    pub at_ms: i64,
}

/// The head as stored: read inside a write transaction, it is the head the next entry extends.
pub fn head(conn: &Connection) -> rusqlite::Result<ChainHead> {
    conn.prepare_cached("SELECT audit_head_seq, audit_head_hash FROM device WHERE id = 1")?
        .query_row([], |r| Ok(ChainHead { seq: r.get::<_, i64>(0)? as u64, hash: r.get(1)? }))
}

/// Signs and appends `event` after the stored head, moving the head in the same transaction.
/// Called only inside a write transaction, so that no other writer can extend the chain between
/// reading the head and appending (a cached head forks the chain under concurrent writers).
pub fn append(tx: &Connection, key: &DeviceKey, event: Event<'_>) -> Result<ChainHead, StoreError> {
    let head = head(tx)?;
    let entry = AuditEntry {
        seq: head.seq + 1,
        prev_hash: head.hash.clone(),
        device: key.device_id(),
        action: event.action,
        inspector: event.inspector.map(str::to_string),
        object: event.object,
        object_hash: event.object_hash,
        device_time_ms: event.at_ms,
    };
    let signed = SignedAuditEntry::sign(&entry, key)?;
    tx.prepare_cached("INSERT INTO audit_log (canonical, hash, signature, seq) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![signed.canonical, signed.hash, signed.signature, entry.seq as i64])?;
    tx.prepare_cached("UPDATE device SET audit_head_seq = ?1, audit_head_hash = ?2")?
        .execute(params![entry.seq as i64, signed.hash])?;
    Ok(ChainHead { seq: entry.seq, hash: signed.hash })
}

/// Every stored entry, in storage order.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<SignedAuditEntry>> {
    let mut stmt = conn.prepare("SELECT canonical, hash, signature FROM audit_log ORDER BY position")?;
    let rows =
        stmt.query_map([], |r| Ok(SignedAuditEntry { canonical: r.get(0)?, hash: r.get(1)?, signature: r.get(2)? }))?;
    rows.collect()
}
