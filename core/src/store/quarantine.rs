//! Received changes the write rules refused: never applied, kept with the rule and path they
//! broke so that the apps can report them and a supervisor can review them.

use ed25519_dalek::VerifyingKey;
use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError, now_ms};
use crate::domain::{Directory, TaskCode};
use crate::record::{ForbiddenEdit, WriteRule, WriteRules};

/// One refused change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedChange {
    /// The task.
    pub task: String,
    /// The change's hash (hex).
    pub change: String,
    /// The rule it broke (machine name).
    pub rule: String,
    /// Where in the record.
    pub path: String,
    /// Where it came from (`server`, `file`, `sync_protocol`).
    pub source: String,
    /// When it was refused, ms since the Unix epoch.
    pub received_at_ms: i64,
}

/// Where a refused change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSource {
    /// Sent by the sync server.
    Server,
    /// A record file handed over offline.
    File,
    /// The sync protocol's fallback.
    SyncProtocol,
    /// This device's own changes on a copy restored from an old backup, made again as new
    /// changes (kept, never applied again).
    RestoredCopy,
}

impl ChangeSource {
    fn as_str(self) -> &'static str {
        match self {
            ChangeSource::Server => "server",
            ChangeSource::File => "file",
            ChangeSource::SyncProtocol => "sync_protocol",
            ChangeSource::RestoredCopy => "restored_copy",
        }
    }
}

/// The refusal name of an offline-created task the server does not accept (its reason is the path).
pub const INVALID_TASK: &str = "invalid_task";

/// The quarantine's name for this device's own changes that reused sequence numbers (a copy
/// restored from an old backup) and were made again.
pub const SEQUENCE_REUSED: &str = "sequence_reused";

/// The write rules as this store applies them: anchored in the tenant root once enrolled.
pub(crate) fn rules<'a>(directory: &'a Directory, root: Option<VerifyingKey>) -> WriteRules<'a> {
    match root {
        Some(root) => WriteRules::anchored(directory, root),
        None => WriteRules::unanchored(directory),
    }
}

impl Store {
    /// The tenant root key this store trusts, once enrolled.
    pub(crate) fn trust_root(&self) -> Result<Option<VerifyingKey>, StoreError> {
        Ok(self.trust_root)
    }

    /// Keeps refused changes (never applied) with the rule they broke.
    pub(crate) fn quarantine(
        &mut self,
        code: &TaskCode,
        changes: &[Vec<u8>],
        refusal: &ForbiddenEdit,
        source: ChangeSource,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        keep(&tx, code, changes, refusal.rule.as_str(), &refusal.path, source)?;
        tx.commit()?;
        Ok(())
    }

    /// Those of `changes` (raw bytes) that the task's record does not hold.
    pub(crate) fn unknown_changes(
        &mut self,
        code: &TaskCode,
        changes: Vec<Vec<u8>>,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let record = self.record(code)?;
        Ok(changes
            .into_iter()
            .filter(|bytes| automerge::Change::from_bytes(bytes.clone()).is_ok_and(|c| !record.has_all(&[c.hash()])))
            .collect())
    }

    /// Every refused change kept, oldest first (of one task, or all).
    pub fn quarantined(&self, code: Option<&TaskCode>) -> Result<Vec<QuarantinedChange>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT task_code, change_hash, rule, path, source, received_at_ms FROM quarantine
             WHERE ?1 IS NULL OR task_code = ?1 ORDER BY received_at_ms, change_hash",
        )?;
        let rows = stmt.query_map([code.map(|c| c.as_str())], |r| {
            Ok(QuarantinedChange {
                task: r.get(0)?,
                change: r.get(1)?,
                rule: r.get(2)?,
                path: r.get(3)?,
                source: r.get(4)?,
                received_at_ms: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// Writes changes into the quarantine (inside the caller's transaction), each once.
pub(crate) fn keep(
    tx: &rusqlite::Connection,
    code: &TaskCode,
    changes: &[Vec<u8>],
    rule: &str,
    path: &str,
    source: ChangeSource,
) -> Result<(), StoreError> {
    let now = now_ms();
    for bytes in changes {
        let Ok(change) = automerge::Change::from_bytes(bytes.clone()) else { continue };
        tx.execute(
            "INSERT OR IGNORE INTO quarantine (change_hash, task_code, bytes, rule, path, source, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![change.hash().to_string(), code.as_str(), bytes, rule, path, source.as_str(), now],
        )?;
    }
    Ok(())
}

/// The zh-CN label of a rule named on the wire or in the quarantine (the name itself if unknown).
pub fn rule_label_zh(name: &str) -> String {
    if name == INVALID_TASK {
        return "离线新建的任务不被服务器接受".to_string();
    }
    if name == SEQUENCE_REUSED {
        return "从旧备份恢复后的修改与服务器已有的修改编号重复（已按服务器的记录重新做出）".to_string();
    }
    serde_json::from_value::<WriteRule>(serde_json::Value::String(name.to_string()))
        .map(|r| r.label_zh().to_string())
        .unwrap_or_else(|_| name.to_string())
}
