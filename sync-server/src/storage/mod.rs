//! Server storage behind a trait, so that the protocol layer never assumes SQLite: the embedded
//! default is [`sqlite::SqliteStorage`]; a city with several replicas runs
//! [`postgres::PostgresStorage`] behind the same trait.

pub mod migrate;
mod nonce_batch;
pub mod postgres;
pub mod sqlite;

use std::future::Future;

use onevisit_core::certificate::Revocation;
use onevisit_core::sync::merkle::{Hash, NodeKey};
use onevisit_core::sync::wire::NumberSeries;
use serde::{Deserialize, Serialize};

/// Why storage failed or refused.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed.
    #[error("数据库错误")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The tenant has not been initialised.
    #[error("租户尚未初始化：先运行 onevisit-server --data 目录 init --tenant 行政区划代码")]
    NoTenant,
    /// The tenant exists already.
    #[error("租户已经初始化过：根公钥用 onevisit-server root-key 查看")]
    TenantExists,
    /// No such enrolment code.
    #[error("登记码不存在：请核对，或请管理员用 onevisit-server enrolment 重新发放")]
    UnknownCode,
    /// The code was used already.
    #[error("登记码已经用过（每个登记码只能用一次）：请管理员用 onevisit-server enrolment 重新发放")]
    CodeUsed,
    /// The code expired.
    #[error("登记码已过期：请管理员用 onevisit-server enrolment 重新发放")]
    CodeExpired,
    /// No such device.
    #[error("没有设备 {0}")]
    UnknownDevice(String),
    /// A record with this id exists already.
    #[error("记录 {0} 已存在")]
    RecordExists(String),
    /// No such record.
    #[error("没有记录 {0}")]
    UnknownRecord(String),
    /// The record changed since it was read (optimistic concurrency); read and try again.
    #[error("记录 {0} 被同时修改")]
    VersionConflict(String),
    /// An audit upload does not continue the chain the server holds for the device.
    #[error("上传的审计日志在第 {0} 条处接不上设备的哈希链")]
    AuditHeadMoved(u64),
    /// The database address cannot be read.
    #[error("数据库地址无效（{0}）：应为 postgres://用户:密码@主机:端口/库名")]
    DatabaseUrl(String),
    /// The database cannot be reached.
    #[error("无法连接数据库 {target}：请检查主机、端口、防火墙，以及数据库是否已启动")]
    DatabaseUnreachable {
        /// Host, port and database (no password).
        target: String,
        /// What the driver said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database refused the user or password.
    #[error("数据库 {target} 拒绝了用户 {user} 的登录：请检查数据库地址中的用户名和密码")]
    DatabaseLogin {
        /// Host, port and database (no password).
        target: String,
        /// The user that was refused.
        user: String,
    },
    /// The database named does not exist on the server.
    #[error("数据库 {0} 不存在：请先创建（如 createdb），再启动服务器")]
    NoSuchDatabase(String),
    /// A draw plan with this identifier was committed already.
    #[error("抽查计划 {0} 已经公示过随机种子的哈希：每个计划只公示一次，新计划请换一个编号")]
    DrawExists(String),
    /// No draw plan with this identifier was committed.
    #[error("抽查计划 {0} 尚未公示随机种子的哈希：先运行 onevisit-server draw commit 计划.json")]
    UnknownDraw(String),
    /// The draw was published already.
    #[error("抽查计划 {0} 已经抽取并公布过，不能再抽一次")]
    DrawPublished(String),
    /// A console account with this name exists already.
    #[error("指挥端账号 {0} 已存在")]
    UserExists(String),
    /// No console account with this name.
    #[error("没有指挥端账号 {0}")]
    UnknownUser(String),
    /// The database was migrated by a newer server than this one.
    #[error(
        "数据库已由较新版本的 OneVisit 服务器升级（结构版本 {found}，本程序只认识到 {supported}）：请使用新版本的服务器，不要降级"
    )]
    SchemaTooNew {
        /// The schema version the database is at.
        found: u64,
        /// The newest schema version this server knows.
        supported: u64,
    },
}

/// The version of directory data: SHA-256 (hex) of its JSON, the same on every backend (a
/// migrated server must answer devices' version checks as before).
pub fn directory_version(json: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// The hashes of `keys` from `held`, in order; every one must be stored (the tree's frontier or a
/// proof's subtrees).
pub(crate) fn nodes_in_order(
    keys: &[NodeKey],
    held: &std::collections::HashMap<NodeKey, Hash>,
) -> Result<Vec<Hash>, StorageError> {
    keys.iter()
        .map(|k| held.get(k).copied())
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| StorageError::Database("the audit tree's stored nodes are incomplete".into()))
}

/// A stored hash (hex or bytes) as a tree hash.
fn tree_hash(bytes: &[u8]) -> Result<Hash, StorageError> {
    Hash::try_from(bytes).map_err(|_| StorageError::Database("a stored audit tree hash is malformed".into()))
}

/// The leaf hashes of entries about to be appended.
fn leaf_hashes(entries: &[StoredAuditEntry]) -> Result<Vec<Hash>, StorageError> {
    entries
        .iter()
        .map(|e| hex::decode(&e.leaf_hash).map_err(|e| StorageError::Database(Box::new(e))).and_then(|b| tree_hash(&b)))
        .collect()
}

/// What the server knows about one inspection record besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// The task code.
    pub id: String,
    /// The departments taking part (they may read it).
    pub departments: Vec<String>,
    /// The inspectors currently assigned (they may read and write it).
    pub inspectors: Vec<String>,
    /// Current heads (hex).
    pub heads: Vec<String>,
    /// Bytes stored (snapshot + chunks).
    pub size: u64,
    /// Bumped by every write; what an append must name to succeed.
    pub version: u64,
    /// How many chunks follow the snapshot.
    pub chunks: u64,
}

/// A record's stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The snapshot followed by incremental chunks.
    pub chunks: Vec<Vec<u8>>,
    /// The version they are at.
    pub version: u64,
}

/// A new record to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// The task code.
    pub id: String,
    /// The task (JSON).
    pub task_json: String,
    /// Departments taking part.
    pub departments: Vec<String>,
    /// Assigned inspectors.
    pub inspectors: Vec<String>,
    /// Its heads (hex).
    pub heads: Vec<String>,
    /// The whole record, saved.
    pub snapshot: Vec<u8>,
    /// Its summary for the figures (JSON of `TaskFacts`).
    pub facts: String,
}

/// One row of a device's view of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    /// Feed position.
    pub seq: u64,
    /// The record.
    pub id: String,
    /// Its heads (hex); empty for a removal.
    pub heads: Vec<String>,
    /// Whether the device's inspector was taken off it (and may no longer read it).
    pub removed: bool,
}

/// A page of one device's feed and the tenant's feed head seen by the same read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// The rows the device may see, oldest first.
    pub rows: Vec<FeedRow>,
    /// The feed position every row of the page was read at: nothing at or below it was hidden.
    pub head: u64,
}

impl FeedPage {
    /// Where the device's cursor may move once it has applied the first `limit` rows: past the
    /// last of them while more follow, else to the head — a device that sees little of the city
    /// never reads past the same unseen records again.
    pub fn next(&self, since: u64, limit: usize) -> u64 {
        if self.rows.len() > limit {
            self.rows[..limit].last().map_or(since, |r| r.seq.max(since))
        } else {
            self.head.max(since).max(self.rows.last().map_or(0, |r| r.seq))
        }
    }
}

/// An accepted audit entry as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    /// The device.
    pub device: String,
    /// Its sequence number in the device's chain.
    pub seq: u64,
    /// The entry's hash (hex), the next entry's `prev_hash`.
    pub hash: String,
    /// Its Merkle leaf hash (hex): SHA-256(0x00 ‖ canonical entry).
    pub leaf_hash: String,
    /// The signed entry (JSON of `SignedAuditEntry`).
    pub json: String,
}

/// The tenant's identity and CA key (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant identifier (e.g. 330482).
    pub tenant: String,
    /// The CA public key.
    pub ca_public_key: [u8; 32],
    /// The CA seed, sealed under the server's key file.
    pub sealed_ca_seed: Vec<u8>,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device identifier.
    pub device: String,
    /// Public key.
    pub public_key: [u8; 32],
    /// The inspector operating it.
    pub inspector: String,
    /// The signed certificate (JSON of `SignedCertificate`).
    pub certificate: String,
    /// The certificate's serial.
    pub serial: String,
    /// The short code in its document numbers, unique in the tenant.
    pub device_code: String,
}

/// What authenticating and answering one device request reads about the device and the tenant,
/// in one round trip to storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSession {
    /// The enrolled device.
    pub device: DeviceRecord,
    /// Its revocation, if it was revoked.
    pub revocation: Option<Revocation>,
    /// How many devices of the tenant are revoked (a device re-fetches the list when it changes).
    pub revocations: u64,
    /// The stored directory version (`None` before an import, or before versions were kept).
    pub directory_version: Option<String>,
}

/// One enrolled device as administrators list it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceSummary {
    /// Device identifier (hex).
    pub device: String,
    /// The inspector operating it.
    pub inspector: String,
    /// The short code (设备编号) it printed at enrolment and puts in document numbers.
    pub device_code: String,
    /// Its certificate's serial.
    pub serial: String,
    /// When it last made an authenticated request (ms since the epoch), if it has.
    pub last_request_ms: Option<i64>,
}

/// One enrolment code as administrators list it (the code itself is kept only as a hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnrolmentSummary {
    /// The first 8 hex characters of the code's SHA-256, to tell codes apart.
    pub code_hash_prefix: String,
    /// The inspector it is for.
    pub inspector: String,
    /// When it expires (ms since the epoch).
    pub expires_ms: i64,
    /// The device that used it, if one did.
    pub used_by_device: Option<String>,
}

/// A draw plan whose seed is committed: the plan and the public nonce from which the tenant
/// root derives the seed (nothing secret is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredDraw {
    /// The plan's identifier.
    pub plan_id: String,
    /// The plan (JSON) as committed.
    pub plan_json: String,
    /// The nonce (hex) the seed is derived from.
    pub nonce: String,
    /// SHA-256 (hex) of the seed, published at commitment.
    pub commitment: String,
    /// When it was committed (ms since the epoch).
    pub committed_at_ms: i64,
    /// The signed record (JSON), once published.
    pub record: Option<String>,
}

/// A record's id and its stored summary for the figures, if it has one.
pub type StoredFacts = (String, Option<String>);

/// A console account: a person at a screen (administrator, department supervisor, auditor), not a
/// device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    /// The login name.
    pub name: String,
    /// The Argon2id hash of the password (PHC string).
    pub password_hash: String,
    /// `administrator`, `supervisor` or `auditor`.
    pub role: String,
    /// A supervisor's department.
    pub department: Option<String>,
    /// Whether the account may no longer log in.
    pub disabled: bool,
    /// When it was made (ms since the epoch).
    pub created_at_ms: i64,
}

/// A console session, kept in storage so that every replica knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 (hex) of the cookie's token (the token itself is never stored).
    pub token_sha256: String,
    /// The account.
    pub user: String,
    /// The token every form of the session must carry (CSRF).
    pub csrf: String,
    /// When it ends (ms since the epoch).
    pub expires_at_ms: i64,
}

/// What the server keeps. Every method is one atomic operation.
pub trait Storage: Send + Sync + 'static {
    /// The tenant, if initialised.
    fn tenant(&self) -> impl Future<Output = Result<Option<TenantRecord>, StorageError>> + Send;
    /// Initialises the tenant once.
    fn init_tenant(&self, tenant: TenantRecord) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Replaces the directory data (JSON).
    fn put_directory(&self, json: String) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// The version (SHA-256 hex) of the directory data, if imported; kept with the data so that a
    /// sync compares versions without reading the data.
    fn directory_version(&self) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
    /// The directory data (JSON), if imported.
    fn directory(&self) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
    /// Stores a one-time enrolment code (by hash) for an inspector.
    fn create_enrolment(
        &self,
        code_sha256: String,
        inspector: String,
        expires_ms: i64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Uses an enrolment code (once) and registers the device it enrols (again, if the key was
    /// enrolled before), atomically.
    fn enrol(
        &self,
        code_sha256: String,
        now_ms: i64,
        device: DeviceRecord,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Every enrolment code, newest expiry first.
    fn enrolments(&self) -> impl Future<Output = Result<Vec<EnrolmentSummary>, StorageError>> + Send;
    /// The device that spent a code, if it was spent.
    fn enrolment_used_by(
        &self,
        code_sha256: String,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
    /// The inspector an unused, unexpired code is for (no side effect).
    fn enrolment_inspector(
        &self,
        code_sha256: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<String, StorageError>> + Send;
    /// An enrolled device.
    fn device(&self, device: String) -> impl Future<Output = Result<Option<DeviceRecord>, StorageError>> + Send;
    /// An enrolled device with its revocation, the tenant's revocation count and directory
    /// version, read at once (every device request needs them).
    fn device_session(
        &self,
        device: String,
    ) -> impl Future<Output = Result<Option<DeviceSession>, StorageError>> + Send;
    /// Every enrolled device, by inspector.
    fn devices(&self) -> impl Future<Output = Result<Vec<DeviceSummary>, StorageError>> + Send;
    /// The next certificate serial.
    fn next_serial(&self) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// Revokes a device's certificate from `at_ms` on.
    fn revoke(
        &self,
        device: String,
        reason: String,
        at_ms: i64,
    ) -> impl Future<Output = Result<Revocation, StorageError>> + Send;
    /// Every revocation.
    fn revocations(&self) -> impl Future<Output = Result<Vec<Revocation>, StorageError>> + Send;
    /// A device's revocation, if it was revoked (one lookup, whatever the number of revocations).
    fn revocation(&self, device: String) -> impl Future<Output = Result<Option<Revocation>, StorageError>> + Send;
    /// Records a request nonce; false if it was seen before (a replay). Forgets nonces older than `horizon_ms`.
    fn remember_nonce(
        &self,
        device: String,
        nonce: String,
        at_ms: i64,
        horizon_ms: i64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Counts a wrong enrolment code against each of `keys` (an address, a code prefix) at `at_ms`;
    /// failures older than `horizon_ms` are forgotten. Kept in storage, so every replica counts them.
    fn enrolment_failed(
        &self,
        keys: Vec<String>,
        at_ms: i64,
        horizon_ms: i64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// For each key, the time (ms) of its `nth` most recent failure at or after `since_ms`, if it
    /// has that many: the lockout lasts until that failure leaves the window.
    fn enrolment_nth_failure(
        &self,
        keys: Vec<String>,
        nth: u32,
        since_ms: i64,
    ) -> impl Future<Output = Result<Option<i64>, StorageError>> + Send;

    // ---- records and the feed ----

    /// Stores a draw plan's commitment once (`DrawExists` if the identifier was used).
    fn commit_draw(&self, draw: StoredDraw) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// A committed draw plan.
    fn draw(&self, plan_id: String) -> impl Future<Output = Result<Option<StoredDraw>, StorageError>> + Send;
    /// Every committed draw plan, newest first.
    fn draws(&self) -> impl Future<Output = Result<Vec<StoredDraw>, StorageError>> + Send;
    /// Stores a draw's signed record once (`DrawPublished` if one is stored, `UnknownDraw` if the
    /// plan was never committed).
    fn publish_draw(&self, plan_id: String, record: String) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Reserves a block of `count` numbers of each document-number series for `device`, in
    /// order: the first number of each block, or `None` where the device already holds `cap`
    /// blocks of that series (a device cannot drain an agency's sequence). Atomic across replicas.
    fn reserve_numbers(
        &self,
        device: String,
        series: Vec<NumberSeries>,
        count: u32,
        cap: u32,
        at_ms: i64,
    ) -> impl Future<Output = Result<Vec<Option<u32>>, StorageError>> + Send;
    /// Stores a new console account (`UserExists` if the name is taken).
    fn add_user(&self, user: ConsoleUser) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// A console account.
    fn user(&self, name: String) -> impl Future<Output = Result<Option<ConsoleUser>, StorageError>> + Send;
    /// Every console account, by name.
    fn users(&self) -> impl Future<Output = Result<Vec<ConsoleUser>, StorageError>> + Send;
    /// Replaces an account's password hash and ends its sessions (`UnknownUser` if none).
    fn set_password(
        &self,
        name: String,
        password_hash: String,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Disables (or enables) an account; disabling ends its sessions (`UnknownUser` if none).
    fn set_disabled(&self, name: String, disabled: bool) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Stores a new session (and forgets the expired ones).
    fn create_session(
        &self,
        session: ConsoleSession,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// A session by its token's hash, if it has not expired at `now_ms`.
    fn session(
        &self,
        token_sha256: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<ConsoleSession>, StorageError>> + Send;
    /// Ends a session (logout).
    fn end_session(&self, token_sha256: String) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Every record's task (JSON) as planned, for the history a draw reads.
    fn planned_tasks(&self) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;
    /// Every record's id (task code), in code order.
    fn record_ids(&self) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;
    /// A record's metadata.
    fn record_meta(&self, id: String) -> impl Future<Output = Result<Option<RecordMeta>, StorageError>> + Send;
    /// A record's bytes: the snapshot followed by its chunks, and the version they are at.
    fn record_bytes(&self, id: String) -> impl Future<Output = Result<Option<StoredRecord>, StorageError>> + Send;
    /// Stores a new record with its assignments; it enters the feed.
    fn create_record(&self, doc: NewRecord) -> impl Future<Output = Result<u64, StorageError>> + Send {
        self.create_records(vec![doc])
    }
    /// Stores new records in one transaction (all or none: `RecordExists` if any id is taken);
    /// they enter the feed in order. Returns their version (1).
    fn create_records(&self, docs: Vec<NewRecord>) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// Appends a chunk of changes if the record is still at `expected_version`; moves it in the
    /// feed and replaces its summary for the figures (`facts`, JSON of `TaskFacts`) in the same
    /// transaction. Returns the new version.
    fn append_record(
        &self,
        id: String,
        expected_version: u64,
        chunk: Vec<u8>,
        heads: Vec<String>,
        facts: String,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// Every record's id with its stored summary for the figures, `None` for a record stored
    /// before summaries were kept; in no particular order.
    fn task_facts(&self) -> impl Future<Output = Result<Vec<StoredFacts>, StorageError>> + Send;
    /// The feed head, and the id and stored summary of every record written (created, appended
    /// to, reassigned) after feed position `since`, read in one snapshot: what a cache of the
    /// summaries must refresh.
    fn facts_since(&self, since: u64) -> impl Future<Output = Result<(u64, Vec<StoredFacts>), StorageError>> + Send;
    /// Stores the summary of a record computed at `version`, unless it moved on meanwhile (its
    /// own write then stored a newer one). Returns whether it was stored.
    fn put_facts(
        &self,
        id: String,
        version: u64,
        facts: String,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Replaces snapshot and chunks with one compacted snapshot (same heads) at `expected_version`.
    fn compact_record(
        &self,
        id: String,
        expected_version: u64,
        snapshot: Vec<u8>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Assigns (or, with `active` false, unassigns) an inspector; the document moves in the feed.
    fn assign(
        &self,
        id: String,
        inspector: String,
        active: bool,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Feed rows after `since` for an inspector of `departments`, oldest first, at most `limit`,
    /// with the feed head read in the same snapshot.
    fn feed(
        &self,
        inspector: String,
        departments: Vec<String>,
        since: u64,
        limit: u32,
    ) -> impl Future<Output = Result<FeedPage, StorageError>> + Send;
    /// The tenant's latest feed position.
    fn feed_head(&self) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Records which blobs (evidence) a record references and which device's accepted change
    /// made the reference, for read authorisation.
    fn add_blob_refs(
        &self,
        id: String,
        device: String,
        sha256: Vec<String>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Records that `device` uploaded the whole blob (it holds the bytes).
    fn add_blob_holder(&self, sha256: String, device: String) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Whether some record the inspector or departments may read references the blob (by any
    /// device): the blob is theirs to ask about.
    fn blob_referenced(
        &self,
        sha256: String,
        inspector: String,
        departments: Vec<String>,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Whether some record the inspector or departments may read references the blob, by a
    /// device that uploaded it itself (naming a hash in a record of one's own grants nothing).
    fn may_read_blob(
        &self,
        sha256: String,
        inspector: String,
        departments: Vec<String>,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    // ---- audit ----

    /// The last accepted entry of a device's chain: (seq, hash), (0, genesis) if none.
    fn audit_head(&self, device: String) -> impl Future<Output = Result<(u64, String), StorageError>> + Send;
    /// Appends verified entries of one device if its chain is still at `expected_seq`; each gets the
    /// next leaf index of the tenant's Merkle tree, and the tree's nodes they complete are stored
    /// with them (O(log n) reads and writes per entry). Returns the new tree size.
    fn append_audit(
        &self,
        device: String,
        expected_seq: u64,
        entries: Vec<StoredAuditEntry>,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// The hash of a device's accepted entry `seq`, if the server holds it.
    fn audit_entry_hash(
        &self,
        device: String,
        seq: u64,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
    /// The latest `limit` accepted entries of one chain, newest first.
    fn audit_chain(
        &self,
        device: String,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredAuditEntry>, StorageError>> + Send;
    /// Leaves in the tenant's Merkle tree.
    fn audit_size(&self) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// Stored nodes of the Merkle tree (see `merkle::NodeKey`); a key not stored is left out.
    fn audit_nodes(
        &self,
        keys: Vec<NodeKey>,
    ) -> impl Future<Output = Result<std::collections::HashMap<NodeKey, Hash>, StorageError>> + Send;
    /// The leaf index of a device's entry.
    fn audit_leaf_index(
        &self,
        device: String,
        seq: u64,
    ) -> impl Future<Output = Result<Option<u64>, StorageError>> + Send;
}
