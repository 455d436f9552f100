//! The device's sync bookkeeping: its enrolment with the city server, the feed cursor, for each
//! record the local heads and the heads the server last confirmed (dirty = they differ), which
//! blobs were uploaded, the audit entries the server accepted, and the server's receipts.
//! Every method is one short transaction, so a sync in progress never holds the store for long.

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{InspectionRecord, Store, StoreError, audit_log, blobs, now_ms};
use crate::audit::{AuditAction, SignedAuditEntry, sha256_hex};
use crate::certificate::{SignedCertificate, SignedRevocationList};
use crate::domain::TaskCode;
use crate::record::exchange::parse_change;
use crate::sync::wire::{SignedStatement, heads_from_hex, heads_to_hex};

/// What enrolment gave the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAccount {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub server_url: String,
    /// The device certificate.
    pub certificate: SignedCertificate,
    /// The tenant root key (hex), as configured out of band and confirmed at enrolment.
    pub root_public_key: String,
    /// The device's registered code for document numbers.
    pub device_code: String,
    /// The latest revocation list received.
    pub revocations: SignedRevocationList,
    /// Which server certificates this device accepts (`None`: enrolled over plain http).
    pub tls: Option<crate::sync::TlsTrust>,
}

/// One record's sync state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSyncState {
    /// The task.
    pub code: TaskCode,
    /// Heads the server last confirmed (empty: never synced).
    pub confirmed: Vec<ChangeHash>,
}

/// A blob the server does not have yet, as far as the device knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBlob {
    /// SHA-256 (hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The file.
    pub path: std::path::PathBuf,
}

/// Heads as stored: sorted hex joined by commas.
fn encode_heads(heads: &[ChangeHash]) -> String {
    let mut hex = heads_to_hex(heads);
    hex.sort();
    hex.join(",")
}

fn decode_heads(text: &str) -> Vec<ChangeHash> {
    if text.is_empty() {
        return Vec::new();
    }
    let parts: Vec<String> = text.split(',').map(str::to_string).collect();
    heads_from_hex(&parts).unwrap_or_default()
}

/// What a push carries of one record: its raw changes the server lacks, and its heads.
pub type ForPush = (Vec<Vec<u8>>, Vec<ChangeHash>);

/// Records a record's local heads (in the transaction of the edit that made them).
pub(crate) fn set_local_heads(tx: &Connection, code: &TaskCode, heads: &[ChangeHash]) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sync_records (code, local_heads) VALUES (?1, ?2)
         ON CONFLICT(code) DO UPDATE SET local_heads = ?2",
    )?
    .execute(params![code.as_str(), encode_heads(heads)])?;
    Ok(())
}

/// Records the heads the server confirmed.
pub(crate) fn set_confirmed_heads(tx: &Connection, code: &TaskCode, heads: &[ChangeHash]) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE sync_records SET confirmed_heads = ?2 WHERE code = ?1")?
        .execute(params![code.as_str(), encode_heads(heads)])?;
    Ok(())
}

/// The records with changes the server lacks: read through the index of those alone
/// (`sync_records_dirty`), so that its cost follows what changed, not what the device holds.
pub(crate) const DIRTY_RECORDS: &str =
    "SELECT code, confirmed_heads FROM sync_records WHERE removed = 0 AND local_heads <> confirmed_heads ORDER BY code";

/// The audit entries after a sequence number, in chain order: a range of the `seq` index (the
/// chain's order by position is the same), never a scan of the entries already accepted.
pub(crate) const AUDIT_AFTER: &str =
    "SELECT canonical, hash, signature FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2";

impl Store {
    /// The enrolment, if the device is enrolled.
    pub fn sync_account(&self) -> Result<Option<SyncAccount>, StoreError> {
        type Row = (String, String, String, String, String, Option<String>);
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT server_url, certificate, root_public_key, device_code, revocations, tls_trust
                 FROM sync_account WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        row.map(|(server_url, certificate, root_public_key, device_code, revocations, tls)| {
            Ok(SyncAccount {
                server_url,
                certificate: serde_json::from_str(&certificate).map_err(crate::canonical::CanonicalError::from)?,
                root_public_key,
                device_code,
                revocations: serde_json::from_str(&revocations).map_err(crate::canonical::CanonicalError::from)?,
                tls: tls.as_deref().and_then(crate::sync::TlsTrust::parse),
            })
        })
        .transpose()
    }

    /// Records the enrolment (replacing an earlier one) and audits it.
    pub fn set_sync_account(&mut self, account: &SyncAccount) -> Result<(), StoreError> {
        let certificate =
            serde_json::to_string(&account.certificate).map_err(crate::canonical::CanonicalError::from)?;
        let revocations =
            serde_json::to_string(&account.revocations).map_err(crate::canonical::CanonicalError::from)?;
        let now = now_ms();
        self.write(|s| {
            s.conn.execute(
                "INSERT INTO sync_account
                     (id, server_url, certificate, root_public_key, device_code, revocations, enrolled_at_ms,
                      tls_trust)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET server_url = ?1, certificate = ?2, root_public_key = ?3,
                     device_code = ?4, revocations = ?5, enrolled_at_ms = ?6, tls_trust = ?7",
                params![
                    account.server_url,
                    certificate,
                    account.root_public_key,
                    account.device_code,
                    revocations,
                    now,
                    account.tls.map(|t| t.as_str())
                ],
            )?;
            // Every certificate held is kept: what was signed under it is checked against it.
            if let Ok(c) = serde_json::from_str::<crate::certificate::DeviceCertificate>(&account.certificate.canonical) {
                s.conn.execute(
                    "INSERT OR IGNORE INTO device_certificates (serial, certificate, received_at_ms) VALUES (?1, ?2, ?3)",
                    params![c.serial, certificate, now],
                )?;
            }
            let event = audit_log::Event {
                action: AuditAction::Enrol,
                inspector: s.inspector.as_ref().map(|i| i.as_str()),
                object: format!("server/{}", account.server_url),
                object_hash: sha256_hex(certificate.as_bytes()),
                at_ms: now,
            };
            audit_log::append(&s.conn, &s.key, event)
        })?;
        self.certificate = Some(account.certificate.clone());
        self.stamps = super::stored_stamps(&self.conn)?;
        self.trust_root = crate::identity::verifying_key_from_hex(&account.root_public_key);
        Ok(())
    }

    /// Every certificate this device has held, oldest first (the current one last): a signature
    /// made under an earlier enrolment is checked against the certificate valid at its time.
    pub fn held_certificates(&self) -> Result<Vec<SignedCertificate>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT certificate FROM device_certificates ORDER BY received_at_ms, serial")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?).map_err(crate::canonical::CanonicalError::from)?);
        }
        Ok(out)
    }

    /// Adds this device's certificate to every record it wrote to before it enrolled (records
    /// exchanged by file), as its own write: other devices then know its changes as certified.
    /// Returns how many records were certified.
    pub fn certify_own_records(&mut self) -> Result<usize, StoreError> {
        if self.certificate.is_none() {
            return Ok(0);
        }
        let device = self.key.device_id();
        let actor = self.key.actor_id();
        let codes: Vec<String> = {
            let mut stmt = self.conn.prepare("SELECT task_code FROM records ORDER BY task_code")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut certified = 0;
        for code in codes {
            let Ok(code) = TaskCode::parse(&code) else { continue };
            let needs = match self.record(&code) {
                Ok(record) => !record.has_certificate(&device) && record.has_changes_by(&actor),
                Err(e) if e.concerns_one_record() => false,
                Err(e) => return Err(e),
            };
            if needs {
                // The write itself adds the certificate (see change_locked).
                self.change(&code, AuditAction::Enrol, |_, _, _| Ok(((), "certificate".to_string())), &|_| Ok(()))?;
                certified += 1;
            }
        }
        Ok(certified)
    }

    /// Replaces the revocation list with a newer one.
    pub fn set_revocations(&mut self, list: &SignedRevocationList) -> Result<(), StoreError> {
        let json = serde_json::to_string(list).map_err(crate::canonical::CanonicalError::from)?;
        self.conn.execute("UPDATE sync_account SET revocations = ?1 WHERE id = 1", [json])?;
        Ok(())
    }

    /// The version (SHA-256) of the server's directory data last imported; empty if none.
    pub fn directory_version(&self) -> Result<String, StoreError> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT directory_version FROM sync_account WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        Ok(v.unwrap_or_default())
    }

    /// Imports the server's directory data and remembers its version.
    pub fn import_server_directory(&mut self, json: &str, version: &str) -> Result<(), StoreError> {
        let directory = crate::domain::Directory::from_json(json.as_bytes())?;
        self.import_directory(directory)?;
        self.conn.execute("UPDATE sync_account SET directory_version = ?1 WHERE id = 1", [version])?;
        Ok(())
    }

    /// The feed position applied so far.
    pub fn feed_cursor(&self) -> Result<u64, StoreError> {
        let cursor: Option<i64> =
            self.conn.query_row("SELECT feed_cursor FROM sync_account WHERE id = 1", [], |r| r.get(0)).optional()?;
        Ok(cursor.unwrap_or(0) as u64)
    }

    /// Moves the feed cursor (after the page before it was applied).
    pub fn set_feed_cursor(&mut self, cursor: u64) -> Result<(), StoreError> {
        self.conn.execute("UPDATE sync_account SET feed_cursor = ?1 WHERE id = 1", [cursor as i64])?;
        Ok(())
    }

    /// Records whose local heads differ from what the server confirmed, with their confirmed heads.
    pub fn dirty_records(&self) -> Result<Vec<RecordSyncState>, StoreError> {
        let mut stmt = self.conn.prepare_cached(DIRTY_RECORDS)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (code, confirmed) = row?;
            out.push(RecordSyncState { code: TaskCode::parse(&code)?, confirmed: decode_heads(&confirmed) });
        }
        Ok(out)
    }

    /// A record's local heads as last written, without loading it; `None` if the task is unknown.
    pub fn local_heads(&self, code: &TaskCode) -> Result<Option<Vec<ChangeHash>>, StoreError> {
        Ok(self.heads_pair(code)?.0)
    }

    /// Whether the server took this device's inspector off the task.
    pub fn is_removed(&self, code: &TaskCode) -> Result<bool, StoreError> {
        let removed: Option<bool> = self
            .conn
            .query_row("SELECT removed FROM sync_records WHERE code = ?1", [code.as_str()], |r| r.get(0))
            .optional()?;
        Ok(removed.unwrap_or(false))
    }

    /// The raw changes of a record that the server lacks (those after `confirmed`), and its heads.
    pub fn changes_for_push(&mut self, code: &TaskCode, confirmed: &[ChangeHash]) -> Result<ForPush, StoreError> {
        if confirmed.is_empty()
            && !self.is_loaded(code)
            && let Some(found) = self.stored_changes(code)?
        {
            return Ok(found);
        }
        let record = self.record(code)?;
        let known: Vec<ChangeHash> = if record.has_all(confirmed) { confirmed.to_vec() } else { Vec::new() };
        let changes = record.changes_since(&known);
        let heads = record.heads();
        let mut sorted = heads.clone();
        sorted.sort();
        if self.heads_pair(code)?.0.as_ref() != Some(&sorted) {
            // Only a record migrated before sync existed ('unknown') gets here; repaired inside a
            // write from the record as stored, never from a copy another writer has overtaken.
            self.write(|s| {
                let heads = s.record(code)?.heads();
                set_local_heads(&s.conn, code, &heads)?;
                Ok(())
            })?;
        }
        Ok((changes, heads))
    }

    /// Every change of a record never pushed, read as stored when it is stored as its changes
    /// alone (created here, not compacted), with its heads: the first push of records recorded
    /// offline loads none of them. `None` when the record must be loaded.
    fn stored_changes(&self, code: &TaskCode) -> Result<Option<ForPush>, StoreError> {
        if !self.conn.is_autocommit() {
            return Ok(None);
        }
        // The chunks and the heads are written in one transaction; read them in one too.
        let tx = self.conn.unchecked_transaction()?;
        let (Some(heads), _) = self.heads_pair(code)? else { return Ok(None) };
        if heads.is_empty() {
            return Ok(None); // a record migrated before sync existed: loaded, and its heads repaired
        }
        let super::records::Loaded::Intact(stored) = super::records::load(&tx, code)? else { return Ok(None) };
        tx.commit()?;
        let chunks = std::iter::once(stored.snapshot.as_slice()).chain(stored.chunks.iter().map(Vec::as_slice));
        let changes = crate::record::exchange::split_stored_changes(chunks);
        Ok(changes.map(|changes| (changes.into_iter().map(<[u8]>::to_vec).collect(), heads)))
    }

    /// Whether this device holds every change of `heads` in a record: read from its stored heads
    /// when they are exactly those, else from the record loaded.
    pub fn holds_heads(&mut self, code: &TaskCode, heads: &[ChangeHash]) -> Result<bool, StoreError> {
        let mut sorted = heads.to_vec();
        sorted.sort();
        if self.heads_pair(code)?.0.as_ref() == Some(&sorted) {
            return Ok(true);
        }
        Ok(self.record(code)?.has_all(heads))
    }

    /// Applies what the server sent for a record — raw changes (creating the record if it is new
    /// here) — and records the server's heads as confirmed when this copy holds all of them.
    /// Returns whether anything new was merged.
    pub fn apply_remote(
        &mut self,
        code: &TaskCode,
        changes: Vec<Vec<u8>>,
        server_heads: &[ChangeHash],
    ) -> Result<bool, StoreError> {
        let root = self.trust_root()?;
        let result = self.write(|s| s.apply_remote_locked(code, changes.clone(), server_heads, root));
        if let Err(StoreError::Record(crate::record::RecordError::Forbidden(refusal))) = &result {
            let fresh = if self.local_heads(code)?.is_some() { self.unknown_changes(code, changes)? } else { changes };
            self.quarantine(code, &fresh, refusal, super::quarantine::ChangeSource::Server)?;
        }
        result
    }

    fn apply_remote_locked(
        &mut self,
        code: &TaskCode,
        changes: Vec<Vec<u8>>,
        server_heads: &[ChangeHash],
        root: Option<ed25519_dalek::VerifyingKey>,
    ) -> Result<bool, StoreError> {
        let parsed = changes.into_iter().map(parse_change).collect::<Result<Vec<_>, _>>()?;
        if self.local_heads(code)?.is_none() {
            let directory = self.directory()?;
            let mut record = InspectionRecord::from_changes(parsed, &super::quarantine::rules(&directory, root))?;
            if &record.task().code != code {
                return Err(StoreError::Record(crate::record::RecordError::MalformedField { field: "task".into() }));
            }
            let confirmed = if record.has_all(server_heads) { Some(server_heads) } else { None };
            self.adopt_locked(record, AuditAction::ReceiveRecord, confirmed)?;
            return Ok(true);
        }
        if parsed.is_empty() && self.holds_heads(code, server_heads)? {
            // The server confirms what this copy holds (a push accepted): nothing to load.
            set_confirmed_heads(&self.conn, code, server_heads)?;
            return Ok(false);
        }
        let record = self.record(code)?;
        let new: Vec<_> = parsed.into_iter().filter(|c| !record.has_all(&[c.hash()])).collect();
        let confirmed = server_heads.to_vec();
        if new.is_empty() {
            if record.has_all(server_heads) {
                set_confirmed_heads(&self.conn, code, &confirmed)?;
            }
            return Ok(false);
        }
        let object = format!("task/{code}");
        let code_for_tx = code.clone();
        let confirm = std::cell::Cell::new(false);
        self.change_locked(
            code,
            AuditAction::MergeRecord,
            |r, _, d| {
                r.apply_changes(new, &super::quarantine::rules(d, root))?;
                confirm.set(r.has_all(&confirmed));
                Ok(((), object))
            },
            &|tx| {
                if confirm.get() {
                    set_confirmed_heads(tx, &code_for_tx, &confirmed)?;
                }
                Ok(())
            },
        )?;
        Ok(true)
    }

    /// Takes in the server's sync protocol message for a record (the fallback) and writes what it
    /// brought; whether anything new arrived. The changes it carries are checked against the
    /// write rules, and refused ones are quarantined.
    pub fn receive_sync_message(
        &mut self,
        code: &TaskCode,
        state: &mut automerge::sync::State,
        message: automerge::sync::Message,
    ) -> Result<bool, StoreError> {
        let root = self.trust_root()?;
        let carried: Vec<Vec<u8>> = message.changes.iter().map(<[u8]>::to_vec).collect();
        let object = format!("task/{code}");
        // Applied and written in one write, so no in-memory change ever waits for a later call.
        let arrived = std::cell::Cell::new(false);
        let result = self.write(|s| {
            let before = s.record(code)?.heads();
            s.change_locked(
                code,
                AuditAction::MergeRecord,
                |r, _, d| {
                    r.receive_sync_message(state, message, &super::quarantine::rules(d, root))?;
                    arrived.set(r.heads() != before);
                    Ok(((), object))
                },
                &|_| Ok(()),
            )
        });
        if let Err(StoreError::Record(crate::record::RecordError::Forbidden(refusal))) = &result {
            // The record is unchanged; keep what was refused for review.
            self.quarantine(code, &carried, refusal, super::quarantine::ChangeSource::SyncProtocol)?;
        }
        result.map(|()| arrived.get())
    }

    /// Rebuilds a record copy restored from an old backup (the server refused its changes as
    /// reusing sequence numbers): the record as the server holds it — the confirmed heads plus
    /// `server_changes`, checked against the write rules — with this device's own edits since
    /// made again as new changes, ready to push. The superseded changes are kept in the
    /// quarantine. One write; returns how many edits were made again.
    pub fn replay_restored_record(
        &mut self,
        code: &TaskCode,
        server_changes: Vec<Vec<u8>>,
        server_heads: &[ChangeHash],
    ) -> Result<u64, StoreError> {
        let root = self.trust_root()?;
        let parsed = server_changes.into_iter().map(parse_change).collect::<Result<Vec<_>, _>>()?;
        let now = now_ms();
        self.write(|s| {
            let (_, confirmed) = s.heads_pair(code)?;
            let directory = s.directory()?;
            let record = s.record(code)?;
            let (mut rebuilt, replayed) =
                record.replay_onto(&confirmed, parsed, &super::quarantine::rules(&directory, root))?;
            let superseded: Vec<Vec<u8>> = record
                .changes_since(&confirmed)
                .into_iter()
                .filter(|c| automerge::Change::from_bytes(c.clone()).is_ok_and(|c| !rebuilt.has_all(&[c.hash()])))
                .collect();
            rebuilt.set_actor(s.key.actor_id());
            let snapshot = rebuilt.save();
            super::records::compact(&s.conn, code, &snapshot)?;
            super::index::update(&s.conn, code, &rebuilt.summary()?, now)?;
            set_local_heads(&s.conn, code, &rebuilt.heads())?;
            if rebuilt.has_all(server_heads) {
                set_confirmed_heads(&s.conn, code, server_heads)?;
            }
            let source = super::quarantine::ChangeSource::RestoredCopy;
            super::quarantine::keep(&s.conn, code, &superseded, super::quarantine::SEQUENCE_REUSED, "", source)?;
            let event = audit_log::Event {
                action: AuditAction::ReplayRecord,
                inspector: s.inspector.as_ref().map(|i| i.as_str()),
                object: format!("task/{code}"),
                object_hash: sha256_hex(&snapshot),
                at_ms: now,
            };
            audit_log::append(&s.conn, &s.key, event)?;
            s.forget_record(code);
            Ok(replayed as u64)
        })
    }

    /// A record's local heads (`None` if unknown here) and confirmed heads, both sorted.
    pub fn heads_pair(&self, code: &TaskCode) -> Result<(Option<Vec<ChangeHash>>, Vec<ChangeHash>), StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT local_heads, confirmed_heads FROM sync_records WHERE code = ?1")?
            .query_row([code.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(match row {
            None => (None, Vec::new()),
            Some((local, confirmed)) => {
                let (mut l, mut c) = (decode_heads(&local), decode_heads(&confirmed));
                l.sort();
                c.sort();
                (Some(l), c)
            }
        })
    }

    /// Records that the server holds `heads` of a record this copy has.
    pub fn confirm_heads(&mut self, code: &TaskCode, heads: &[ChangeHash]) -> Result<(), StoreError> {
        self.write(|s| Ok(set_confirmed_heads(&s.conn, code, heads)?))
    }

    /// Marks a record as taken away from this device's inspector (it stays, but is no longer synced).
    pub fn mark_removed(&mut self, code: &TaskCode) -> Result<(), StoreError> {
        let now = now_ms();
        self.write(|s| {
            let changed = s
                .conn
                .execute("UPDATE sync_records SET removed = 1 WHERE code = ?1 AND removed = 0", [code.as_str()])?;
            if changed > 0 {
                let event = audit_log::Event {
                    action: AuditAction::Unassigned,
                    inspector: s.inspector.as_ref().map(|i| i.as_str()),
                    object: format!("task/{code}"),
                    object_hash: sha256_hex(code.as_str().as_bytes()),
                    at_ms: now,
                };
                audit_log::append(&s.conn, &s.key, event)?;
            }
            Ok(())
        })
    }

    /// The sequence number of the last audit entry the server accepted.
    pub fn audit_confirmed_seq(&self) -> Result<u64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT audit_confirmed_seq FROM sync_account WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        Ok(seq.unwrap_or(0) as u64)
    }

    /// Up to `limit` audit entries after `seq`, in chain order.
    pub fn audit_entries_after(&self, seq: u64, limit: usize) -> Result<Vec<SignedAuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(AUDIT_AFTER)?;
        let rows = stmt.query_map(params![seq as i64, limit as i64], |r| {
            Ok(SignedAuditEntry { canonical: r.get(0)?, hash: r.get(1)?, signature: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The sequence numbers of the entries this copy holds, up to `seq`, in order.
    pub fn audit_seqs_through(&self, seq: u64) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT seq FROM audit_log WHERE seq <= ?1 ORDER BY seq")?;
        let rows = stmt.query_map([seq as i64], |r| r.get::<_, i64>(0))?;
        Ok(rows.map(|r| r.map(|s| s as u64)).collect::<Result<Vec<_>, _>>()?)
    }

    /// Records that the server accepted the audit chain through `seq`, with its signed checkpoint,
    /// and forgets an earlier refusal. Never beyond this device's own head: a server that holds
    /// more of the chain than this copy (restored from an old backup) has not accepted the
    /// entries this copy writes under those numbers next.
    pub fn confirm_audit(&mut self, seq: u64, checkpoint: Option<&SignedStatement>) -> Result<(), StoreError> {
        let checkpoint =
            checkpoint.map(|c| serde_json::to_string(c).map_err(crate::canonical::CanonicalError::from)).transpose()?;
        self.conn.execute(
            "UPDATE sync_account SET audit_confirmed_seq = MIN(?1, (SELECT audit_head_seq FROM device WHERE id = 1)),
                 checkpoint = COALESCE(?2, checkpoint), audit_refusal = NULL WHERE id = 1",
            params![seq as i64, checkpoint],
        )?;
        Ok(())
    }

    /// The latest checkpoint of the server's audit tree the device holds.
    pub fn audit_checkpoint(&self) -> Result<Option<SignedStatement>, StoreError> {
        let json: Option<Option<String>> =
            self.conn.query_row("SELECT checkpoint FROM sync_account WHERE id = 1", [], |r| r.get(0)).optional()?;
        json.flatten()
            .map(|j| serde_json::from_str(&j).map_err(|e| StoreError::from(crate::canonical::CanonicalError::from(e))))
            .transpose()
    }

    /// Keeps a receipt the server signed.
    pub fn save_receipt(&mut self, receipt: &SignedStatement, received_at_ms: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO receipts (canonical, signature, received_at_ms) VALUES (?1, ?2, ?3)",
            params![receipt.canonical, receipt.signature, received_at_ms],
        )?;
        Ok(())
    }

    /// Every receipt kept, oldest first.
    pub fn receipts(&self) -> Result<Vec<SignedStatement>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT canonical, signature FROM receipts ORDER BY position")?;
        let rows = stmt.query_map([], |r| Ok(SignedStatement { canonical: r.get(0)?, signature: r.get(1)? }))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Blobs not yet uploaded.
    pub fn blobs_to_upload(&self) -> Result<Vec<PendingBlob>, StoreError> {
        let store = self.blobs()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT sha256, size FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM sync_blobs) ORDER BY created_at_ms",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (sha256, size) = row?;
            out.push(PendingBlob { path: store.path_of(&sha256), sha256, size: size as u64 });
        }
        Ok(out)
    }

    /// Records that the server holds a blob.
    pub fn mark_uploaded(&mut self, sha256: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO sync_blobs (sha256, uploaded_at_ms) VALUES (?1, ?2)",
            params![sha256, now_ms()],
        )?;
        Ok(())
    }

    /// Evidence of a record whose original is not on this device (to fetch from the server).
    pub fn missing_evidence(&mut self, code: &TaskCode) -> Result<Vec<crate::record::EvidenceRef>, StoreError> {
        let evidence = self.record(code)?.evidence()?;
        let blobs = self.blobs()?;
        let mut out = Vec::new();
        for e in evidence {
            if !blobs.has(&self.conn, &e.sha256)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Adopts a downloaded blob file (already verified against its hash by the caller, checked
    /// again here) into the blob store; the server has it, so it is not uploaded back.
    pub fn adopt_downloaded_blob(&mut self, file: &std::path::Path, mime: &str) -> Result<blobs::BlobRef, StoreError> {
        let bytes = std::fs::read(file).map_err(|e| StoreError::io(file, e))?;
        let blob = self.blobs()?.write_file(&bytes, mime)?;
        let tx = self.conn.transaction()?;
        blobs::insert_row(&tx, &blob, now_ms())?;
        tx.execute(
            "INSERT OR IGNORE INTO sync_blobs (sha256, uploaded_at_ms) VALUES (?1, ?2)",
            params![blob.sha256, now_ms()],
        )?;
        tx.commit()?;
        Ok(blob)
    }
}
