//! When the server refuses the device's audit chain: the refusal is kept (so every later sync and
//! the app can say so), and the device may start a new chain segment that continues from the
//! server's head, carrying over the local entries the server never accepted.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, audit_log, now_ms};
use crate::audit::{AuditAction, AuditEntry, SignedAuditEntry, sha256_hex};

/// The server's latest refusal of this device's audit chain, kept until an upload is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRefusal {
    /// Why, in the server's words.
    pub reason: String,
    /// The last entry of this device's chain the server holds.
    pub server_seq: u64,
    /// Its hash: where a new segment continues from.
    pub server_hash: String,
}

/// What starting a new segment did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentStarted {
    /// The sequence number of the `start_segment` entry.
    pub start_seq: u64,
    /// Local entries the server never accepted, set aside and carried into the new segment.
    pub carried: u64,
    /// The new head of the device's chain.
    pub head_seq: u64,
}

impl Store {
    /// Keeps the server's refusal of the audit chain with the head it holds.
    pub fn record_audit_refusal(&mut self, refusal: &AuditRefusal) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE sync_account SET audit_refusal = ?1, audit_server_seq = ?2, audit_server_hash = ?3 WHERE id = 1",
            params![refusal.reason, refusal.server_seq as i64, refusal.server_hash],
        )?;
        Ok(())
    }

    /// The kept refusal of the audit chain, if the server's last answer was one.
    pub fn audit_refusal(&self) -> Result<Option<AuditRefusal>, StoreError> {
        let row: Option<(Option<String>, Option<i64>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT audit_refusal, audit_server_seq, audit_server_hash FROM sync_account WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(match row {
            Some((Some(reason), Some(seq), Some(hash))) => {
                Some(AuditRefusal { reason, server_seq: seq as u64, server_hash: hash })
            }
            _ => None,
        })
    }

    /// Starts a new segment of the audit chain after the server refused it: the local entries
    /// after the last one the server confirmed are set aside (kept, never deleted), a signed
    /// `start_segment` entry links to the server's head and states `reason` and what it carries,
    /// and each set-aside entry's event is signed again after it. The server accepts the segment
    /// as an ordinary continuation; a verifier explains it. One write: all of it or nothing.
    pub fn start_audit_segment(&mut self, reason: &str) -> Result<SegmentStarted, StoreError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::SegmentReasonMissing);
        }
        let now = now_ms();
        self.write(|s| {
            let refusal = s.audit_refusal()?.ok_or(StoreError::NoAuditRefusal)?;
            let confirmed = s.audit_confirmed_seq()?.min(refusal.server_seq);
            let local = audit_log::head(&s.conn)?;
            let set_aside = s.audit_entries_after(confirmed, usize::MAX >> 1)?;
            let start_seq = refusal.server_seq + 1;
            for e in &set_aside {
                s.conn.execute(
                    "INSERT INTO audit_set_aside (canonical, hash, signature, segment_start_seq, set_aside_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![e.canonical, e.hash, e.signature, start_seq as i64, now],
                )?;
            }
            s.conn.execute("DELETE FROM audit_log WHERE seq > ?1", [confirmed as i64])?;
            s.conn.execute(
                "UPDATE device SET audit_head_seq = ?1, audit_head_hash = ?2",
                params![refusal.server_seq as i64, refusal.server_hash],
            )?;
            let carried_hashes: Vec<&str> = set_aside.iter().map(|e| e.hash.as_str()).collect();
            let object = if set_aside.is_empty() {
                format!("audit-segment: {reason}; continues from the server's #{}", refusal.server_seq)
            } else {
                format!(
                    "audit-segment: {reason}; continues from the server's #{}; carries {} local entries (#{}–#{}) \
                     the server did not accept",
                    refusal.server_seq,
                    set_aside.len(),
                    confirmed + 1,
                    local.seq
                )
            };
            let start = audit_log::Event {
                action: AuditAction::StartSegment,
                inspector: s.inspector.as_ref().map(|i| i.as_str()),
                object,
                object_hash: sha256_hex(carried_hashes.join(",").as_bytes()),
                at_ms: now,
            };
            audit_log::append(&s.conn, &s.key, start)?;
            for e in &set_aside {
                let Some(entry) = e.entry() else { continue };
                audit_log::append(&s.conn, &s.key, carried_event(&entry))?;
            }
            s.conn.execute(
                "UPDATE sync_account SET audit_confirmed_seq = ?1, audit_refusal = NULL WHERE id = 1",
                [refusal.server_seq as i64],
            )?;
            let head = audit_log::head(&s.conn)?;
            Ok(SegmentStarted { start_seq, carried: set_aside.len() as u64, head_seq: head.seq })
        })
    }

    /// Entries set aside when a segment started, oldest first (kept for the record).
    pub fn audit_set_aside(&self) -> Result<Vec<SignedAuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT canonical, hash, signature FROM audit_set_aside ORDER BY position")?;
        let rows = stmt
            .query_map([], |r| Ok(SignedAuditEntry { canonical: r.get(0)?, hash: r.get(1)?, signature: r.get(2)? }))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// The same event, to be signed again in the new segment.
fn carried_event(entry: &AuditEntry) -> audit_log::Event<'_> {
    audit_log::Event {
        action: entry.action,
        inspector: entry.inspector.as_deref(),
        object: entry.object.clone(),
        object_hash: entry.object_hash.clone(),
        at_ms: entry.device_time_ms,
    }
}
