//! What console users change, written to the server's audit tree like device actions: one chain
//! (`console`) of statements signed by the tenant root key, each naming the person, their role,
//! the action, its object and its detail, hash-linked to the one before; every entry is a leaf of
//! the tenant's Merkle tree, so signed checkpoints cover it. Reading a page changes nothing and is
//! not written.

use onevisit_core::audit::{GENESIS_HASH, sha256_hex};
use onevisit_core::signed::{Issued, IssuedError, verify_issued};
use onevisit_core::sync::merkle;
use serde::{Deserialize, Serialize};

use super::session::Viewer;
use crate::storage::{Storage, StorageError, StoredAuditEntry};
use crate::tenant::Tenant;

/// The chain's name among the device chains of the audit tree (no device id has this form).
pub const CHAIN: &str = "console";
/// The schema of a console action.
pub const ACTION_SCHEMA: &str = "onevisit/console-action/1";
/// How often an append is retried when another replica appended first.
const APPEND_ATTEMPTS: usize = 8;

/// What a console user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Registered a draw plan and fixed its seed (公示种子哈希).
    CommitDraw,
    /// Drew a committed plan and planned its tasks.
    PublishDraw,
    /// Made a one-time enrolment code for an inspector's device.
    CreateEnrolment,
    /// Revoked a device.
    RevokeDevice,
}

impl ActionKind {
    /// The action in Chinese.
    pub fn label_zh(self) -> &'static str {
        match self {
            ActionKind::CommitDraw => "登记抽查计划并公示种子哈希",
            ActionKind::PublishDraw => "抽取并发布抽查结果",
            ActionKind::CreateEnrolment => "生成设备登记码",
            ActionKind::RevokeDevice => "吊销设备",
        }
    }
}

/// One console action, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleAction {
    /// Always [`ACTION_SCHEMA`].
    pub schema: String,
    /// The tenant.
    pub tenant: String,
    /// Position in the console chain, from 1.
    pub seq: u64,
    /// Hash of the previous entry's canonical bytes; the genesis hash for the first.
    pub prev_hash: String,
    /// The console account that acted.
    pub user: String,
    /// Its role then (`administrator`, `supervisor:<department>`, `auditor`).
    pub role: String,
    /// What it did.
    pub action: ActionKind,
    /// What it did it to (a plan, an inspector, a device).
    pub object: String,
    /// The detail a reviewer needs (the reason given, the hash published, the tasks made).
    pub detail: String,
    /// Server time, ms since the Unix epoch.
    pub at_ms: i64,
    /// The tenant root key (hex) that signs it.
    pub issuer_public_key: String,
}

impl Issued for ConsoleAction {
    const SCHEMA: &'static str = ACTION_SCHEMA;

    fn schema(&self) -> &str {
        &self.schema
    }

    fn issuer_public_key(&self) -> &str {
        &self.issuer_public_key
    }
}

/// A stored console action: the canonical bytes, their hash and the root's signature (the shape of
/// a device's signed audit entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAction {
    /// Canonical JSON of the [`ConsoleAction`].
    pub canonical: String,
    /// SHA-256 (hex) of `canonical`.
    pub hash: String,
    /// Ed25519 signature (hex) by the tenant root key.
    pub signature: String,
}

/// Why the console's actions could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum ActionLogError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The action could not be encoded or signed (a bug).
    #[error("操作记录无法签署：{0}")]
    Sign(String),
    /// Other replicas kept appending first.
    #[error("操作记录写入冲突过多，请重试")]
    Busy,
}

/// Why a stored chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainProblem {
    /// The stored JSON is not a signed action.
    #[error("第 {0} 条操作记录无法读取")]
    Unreadable(u64),
    /// The signature or issuer is wrong.
    #[error("第 {seq} 条操作记录的签名无效：{problem}")]
    Signature {
        /// The entry.
        seq: u64,
        /// Why.
        problem: IssuedError,
    },
    /// The hash, sequence number or link to the previous entry is wrong.
    #[error("第 {0} 条操作记录与前一条接不上（哈希或序号被改动）")]
    Broken(u64),
}

/// Writes one action by `viewer` to the console chain (retrying when another replica appended
/// first); returns its sequence number.
pub async fn record<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    viewer: &Viewer,
    action: ActionKind,
    object: &str,
    detail: &str,
    now_ms: i64,
) -> Result<u64, ActionLogError> {
    for _ in 0..APPEND_ATTEMPTS {
        let (seq, prev_hash) = storage.audit_head(CHAIN.to_string()).await?;
        let body = ConsoleAction {
            schema: ACTION_SCHEMA.into(),
            tenant: tenant.id.clone(),
            seq: seq + 1,
            prev_hash,
            user: viewer.user.name.clone(),
            role: viewer.role.as_stored(),
            action,
            object: object.to_string(),
            detail: detail.to_string(),
            at_ms: now_ms,
            issuer_public_key: hex::encode(tenant.root_public_key()),
        };
        let signed = tenant.sign(&body).map_err(|e| ActionLogError::Sign(e.to_string()))?;
        let entry = SignedAction {
            hash: sha256_hex(signed.canonical.as_bytes()),
            signature: signed.signature,
            canonical: signed.canonical,
        };
        let stored = StoredAuditEntry {
            device: CHAIN.into(),
            seq: seq + 1,
            hash: entry.hash.clone(),
            leaf_hash: hex::encode(merkle::leaf_hash(entry.canonical.as_bytes())),
            json: serde_json::to_string(&entry).map_err(|e| ActionLogError::Sign(e.to_string()))?,
        };
        match storage.append_audit(CHAIN.into(), seq, vec![stored]).await {
            Ok(_) => return Ok(seq + 1),
            Err(StorageError::AuditHeadMoved(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ActionLogError::Busy)
}

/// Writes `viewer`'s action to the audit tree, as a page's failure if it cannot be written.
pub(super) async fn log<S: Storage, B: crate::blobs::BlobStorage>(
    state: &crate::api::AppState<S, B>,
    viewer: &Viewer,
    action: ActionKind,
    object: &str,
    detail: &str,
    now: i64,
) -> Result<u64, super::ConsoleError> {
    record(&state.storage, &state.tenant, viewer, action, object, detail, now)
        .await
        .map_err(|e| super::ConsoleError::Internal(e.to_string()))
}

/// The latest `limit` actions, newest first, each checked: the root's signature, its hash, and
/// its link to the entry before it (the oldest shown is linked to what the store says precedes it).
pub fn verify_latest(
    stored: &[StoredAuditEntry],
    root: &ed25519_dalek::VerifyingKey,
) -> Vec<Result<ConsoleAction, ChainProblem>> {
    let mut out = Vec::with_capacity(stored.len());
    for (i, row) in stored.iter().enumerate() {
        let checked = check(row, root).and_then(|action| {
            let before = stored.get(i + 1);
            let linked = match before {
                Some(b) => b.seq + 1 == action.seq && b.hash == action.prev_hash,
                None => action.seq > 1 || action.prev_hash == GENESIS_HASH,
            };
            if linked { Ok(action) } else { Err(ChainProblem::Broken(row.seq)) }
        });
        out.push(checked);
    }
    out
}

fn check(row: &StoredAuditEntry, root: &ed25519_dalek::VerifyingKey) -> Result<ConsoleAction, ChainProblem> {
    let signed: SignedAction = serde_json::from_str(&row.json).map_err(|_| ChainProblem::Unreadable(row.seq))?;
    let action: ConsoleAction = verify_issued(&signed.canonical, &signed.signature, root)
        .map_err(|problem| ChainProblem::Signature { seq: row.seq, problem })?;
    let hash = sha256_hex(signed.canonical.as_bytes());
    if hash != signed.hash || hash != row.hash || action.seq != row.seq {
        return Err(ChainProblem::Broken(row.seq));
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::accounts::Role;
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{ConsoleSession, ConsoleUser};

    fn viewer() -> Viewer {
        let user = ConsoleUser {
            name: "admin".into(),
            password_hash: String::new(),
            role: "administrator".into(),
            department: None,
            disabled: false,
            created_at_ms: 0,
        };
        let session =
            ConsoleSession { token_sha256: String::new(), user: "admin".into(), csrf: String::new(), expires_at_ms: 0 };
        Viewer { user, role: Role::Administrator, session }
    }

    #[tokio::test]
    async fn actions_are_leaves_of_the_audit_tree_and_any_edit_of_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let tenant = Tenant::init(&storage, dir.path(), "330482").await.unwrap();
        let who = viewer();
        for (i, object) in ["scjg-01", "xfjy-02", "DEVICE01"].iter().enumerate() {
            let seq =
                record(&storage, &tenant, &who, ActionKind::CreateEnrolment, object, "detail", 1_000).await.unwrap();
            assert_eq!(seq, i as u64 + 1);
        }
        assert_eq!(storage.audit_size().await.unwrap(), 3, "three leaves of the tenant's tree");
        let stored = storage.audit_chain(CHAIN.into(), 10).await.unwrap();
        let checked = verify_latest(&stored, &tenant.root_key());
        let objects: Vec<String> = checked.iter().map(|c| c.as_ref().unwrap().object.clone()).collect();
        assert_eq!(objects, ["DEVICE01", "xfjy-02", "scjg-01"], "newest first");

        // A rewritten detail breaks the root's signature; a re-signed one by another key too; a
        // dropped entry breaks the link.
        let mut edited = stored.clone();
        edited[1].json = edited[1].json.replace("detail", "d3tail");
        assert!(matches!(verify_latest(&edited, &tenant.root_key())[1], Err(ChainProblem::Signature { seq: 2, .. })));
        let other = Tenant::init(&SqliteStorage::open(&dir.path().join("x")).unwrap(), &dir.path().join("x"), "330482")
            .await
            .unwrap();
        assert!(verify_latest(&stored, &other.root_key()).iter().all(Result::is_err), "another tenant's key");
        let gap = vec![stored[0].clone(), stored[2].clone()];
        assert_eq!(verify_latest(&gap, &tenant.root_key())[0], Err(ChainProblem::Broken(3)));
        let mut unreadable = stored.clone();
        unreadable[2].json = "{".into();
        assert_eq!(verify_latest(&unreadable, &tenant.root_key())[2], Err(ChainProblem::Unreadable(1)));
    }
}
