//! The device store: one SQLite file (WAL, fsync on every commit) plus a blob folder.
//!
//! Every accepted edit is one transaction holding the Automerge change, the refreshed index row
//! and the signed audit entry: all of it is durable when the call returns, or none of it is.
//!
//! Any number of `Store`s, in one process or several, may hold the same store at once (the app's
//! screen, its background sync, a share sheet, two commands). Every write takes the database's
//! write lock first, then brings this `Store`'s in-memory copies level with what the others
//! committed, and only then computes what it writes: the audit chain is extended from the head as
//! stored, a record's change from the record as stored, so no writer forks the chain or builds on
//! a stale record.

pub mod audit_log;
pub mod audit_segments;
pub mod blobs;
pub mod index;
pub mod legal;
pub mod locks;
pub mod numbers;
pub mod photos;
pub mod quarantine;
mod record_cache;
pub mod records;
pub mod schema;
pub mod sync_state;

pub use sync_state::{PendingBlob, RecordSyncState, SyncAccount};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::audit::{AuditAction, AuditReport, GENESIS_HASH, sha256_hex, verify_chain};
use crate::canonical::CanonicalError;
use crate::domain::{CheckPointId, Directory, DirectoryError, InspectorId, Task, TaskCode, TaskDraft, TaskError};
use crate::identity::{DeviceKey, KeyError, SeedWrapper};
use crate::record::exchange::parse_change;
use crate::record::{
    AnswerValue, Conflict, Field, FindingDraft, InspectionRecord, PartyDraft, Position, RecordError, Stamp, Status,
};

pub use audit_log::ChainHead;
pub use audit_segments::{AuditRefusal, SegmentStarted};
pub use blobs::{BlobRef, BlobStore};
pub use index::{TaskFilter, TaskRow};
pub use photos::Captured;

/// The database file's name inside a store directory.
pub const DATABASE_FILE: &str = "onevisit.sqlite";

/// Why a store operation failed. A failed edit leaves the store exactly as it was.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The signer's presence was not confirmed: nothing was signed.
    #[error(transparent)]
    Presence(#[from] crate::document::presence::PresenceError),
    /// No store has been initialised in the directory.
    #[error("{0} 中没有 OneVisit 设备存储：先运行 onevisit init --inspector 执法人员编号")]
    NotInitialised(PathBuf),
    /// A store already exists in the directory.
    #[error("{0} 中已有 OneVisit 设备存储：换一个 --store 目录，或直接使用它")]
    AlreadyInitialised(PathBuf),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("数据库错误")]
    Sqlite(#[from] rusqlite::Error),
    /// A schema migration failed.
    #[error("存储升级到第 {version} 版（{description}）失败，存储保持原样")]
    Migration {
        /// The migration's version.
        version: u32,
        /// What the migration does.
        description: &'static str,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The database was written by a newer app.
    #[error("存储的格式版本 {found} 高于本程序支持的 {supported}：请升级 OneVisit")]
    SchemaTooNew {
        /// The store's schema version.
        found: u32,
        /// The newest version this code reads.
        supported: u32,
    },
    /// The device key could not be made or unlocked.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Directory data is invalid.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// No directory data has been imported yet.
    #[error(
        "尚未导入名录数据：先运行 onevisit import --sample（或 onevisit import 名录.json），已登记的设备同步时会收到"
    )]
    NoDirectory,
    /// The task is invalid.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// No task with this code.
    #[error("本设备没有任务 {0}（onevisit tasks list 列出全部；分配给本设备的任务在 onevisit sync 后出现）")]
    UnknownTask(TaskCode),
    /// The stored document of this task is unreadable; other tasks are unaffected.
    #[error("任务 {task} 的存储记录已损坏")]
    CorruptRecord {
        /// The task whose record is unreadable.
        task: TaskCode,
        /// The underlying error.
        source: Box<RecordError>,
    },
    /// The edit was refused.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// No inspector operates this device yet.
    #[error("本设备未设置执法人员：初始化时用 onevisit init --inspector 执法人员编号")]
    NoOperator,
    /// The operating inspector is not in the directory.
    #[error("名录中没有执法人员 {0}")]
    UnknownInspector(InspectorId),
    /// Something to be signed could not be canonicalised (a bug, not bad input).
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The file is not acceptable as an evidence photo.
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    /// A task code token cannot be issued or is not valid.
    #[error(transparent)]
    Token(#[from] crate::task_token::TokenError),
    /// No blob with this hash.
    #[error("本设备没有文件 {0}")]
    UnknownBlob(String),
    /// Another thread panicked while holding the store.
    #[error("存储不可用：使用中的线程出错退出，请重新打开")]
    Poisoned,
    /// A blob's bytes do not match its hash.
    #[error("文件 {0} 已损坏：内容与其哈希值不符")]
    CorruptBlob(String),
    /// A new audit chain segment was asked for, but the server has not refused the chain.
    #[error("服务器没有拒绝本设备的审计日志，无需开始新链段")]
    NoAuditRefusal,
    /// Another sync of this store kept running longer than the wait allowed.
    #[error("本存储的另一次同步在等待 {} 秒后仍在进行：稍后再试", .0.as_secs())]
    SyncBusy(std::time::Duration),
    /// A new audit chain segment needs a stated reason.
    #[error("开始新的审计链段须写明原因（--reason）")]
    SegmentReasonMissing,
    /// The device holds no unused number of the agency's sequence for this document.
    #[error("本机没有 {department} 的{title}文号可用：联网同步一次即可领取文号段（每段 10 个，供离线使用）")]
    NoDocumentNumber {
        /// The issuing department.
        department: String,
        /// The document's title.
        title: &'static str,
    },
    /// Another write spent the number this one was about to use.
    #[error("该文号刚被另一次写入占用：请重新生成文书")]
    NumberTaken,
    /// The device's own audit entries could not be packed for upload (a damaged log).
    #[error(transparent)]
    AuditPack(#[from] crate::audit::packed::PackError),
    /// A document could not be printed to PDF.
    #[error(transparent)]
    Pdf(#[from] crate::document::PdfError),
}

impl StoreError {
    /// Whether the failure concerns one record only (a refused or unreadable record), so that
    /// work on every other record can go on.
    pub fn concerns_one_record(&self) -> bool {
        matches!(self, StoreError::Record(_) | StoreError::CorruptRecord { .. } | StoreError::UnknownTask(_))
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io { path: path.to_path_buf(), source }
    }
}

/// What an import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Departments now known.
    pub departments: usize,
    /// Inspectors now known.
    pub inspectors: usize,
    /// Enterprises now known.
    pub enterprises: usize,
    /// Inspection matters now known.
    pub matters: usize,
}

/// A device's store, opened and unlocked.
pub struct Store {
    conn: Connection,
    root: PathBuf,
    key: DeviceKey,
    inspector: Option<InspectorId>,
    directory: Option<Arc<Directory>>,
    /// The records loaded in memory (bounded), with how far each has read its stored document.
    records: record_cache::RecordCache,
    /// The device certificate once enrolled, added to every record this device writes.
    certificate: Option<crate::certificate::SignedCertificate>,
    /// The tenant root key once enrolled: the write rules' trust anchor.
    trust_root: Option<ed25519_dalek::VerifyingKey>,
    /// The database's `data_version` when the in-memory copies were last checked against it
    /// (`None`: check them at the next access).
    seen_version: Option<i64>,
    /// When the directory and the enrolment held in memory were stored.
    stamps: Stamps,
    /// The lock file every writer of this store takes before its write transaction.
    write_lock: std::fs::File,
    /// When this handle last looked for document-number series it runs low on (`None`: never,
    /// or a number was spent since).
    numbers_checked: Option<std::time::Instant>,
    /// The platform's check of its user's presence, asked before every signature.
    presence_check: Option<std::sync::Arc<dyn crate::document::presence::PresenceCheck>>,
    /// When the device key was unlocked with a passphrase the user typed, if it was.
    passphrase_unlocked: Option<std::time::Instant>,
}

/// When the directory data and the enrolment were last written: cheap to read, so the copies in
/// memory are read again only when another writer replaced them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Stamps {
    directory: Option<(i64, i64)>,
    account: Option<i64>,
}

fn stored_stamps(conn: &Connection) -> Result<Stamps, StoreError> {
    let directory = conn
        .prepare_cached("SELECT imported_at_ms, length(json) FROM directory WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let account = conn
        .prepare_cached("SELECT enrolled_at_ms FROM sync_account WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(Stamps { directory, account })
}

impl Store {
    /// Creates a store in `root` with a new device key sealed by `wrapper`, operated by `inspector`.
    pub fn init(root: &Path, wrapper: &dyn SeedWrapper, inspector: Option<InspectorId>) -> Result<Store, StoreError> {
        let db = root.join(DATABASE_FILE);
        if db.exists() {
            return Err(StoreError::AlreadyInitialised(root.to_path_buf()));
        }
        std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
        let mut conn = open_connection(&db)?;
        schema::migrate(&mut conn, schema::CURRENT_VERSION, &|tx| rebuild_index(tx))?;
        let key = DeviceKey::generate();
        let now = now_ms();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO device (id, public_key, sealed_seed, inspector, created_at_ms, audit_head_seq, audit_head_hash)
             VALUES (1, ?1, ?2, ?3, ?4, 0, ?5)",
            params![key.public_bytes().to_vec(), key.seal(wrapper)?, inspector.as_ref().map(|i| i.to_string()), now, GENESIS_HASH],
        )?;
        let event = audit_log::Event {
            action: AuditAction::InitDevice,
            inspector: inspector.as_ref().map(|i| i.as_str()),
            object: format!("device/{}", key.device_id()),
            object_hash: sha256_hex(&key.public_bytes()),
            at_ms: now,
        };
        audit_log::append(&tx, &key, event)?;
        tx.commit()?;
        BlobStore::open(root.join("blobs"))?;
        Store::assemble(conn, root, key, inspector)
    }

    /// The store over an open, migrated database; the enrolment's certificate is read, if any.
    fn assemble(
        conn: Connection,
        root: &Path,
        key: DeviceKey,
        inspector: Option<InspectorId>,
    ) -> Result<Store, StoreError> {
        let write_lock = locks::open_lock_file(root, locks::WRITE_LOCK_FILE)?;
        let mut store = Store {
            conn,
            root: root.to_path_buf(),
            key,
            inspector,
            directory: None,
            records: record_cache::RecordCache::new(record_cache::MAX_CACHED_RECORDS),
            certificate: None,
            trust_root: None,
            seen_version: None,
            stamps: Stamps::default(),
            write_lock,
            numbers_checked: None,
            presence_check: None,
            passphrase_unlocked: None,
        };
        store.load_account()?;
        store.stamps = stored_stamps(&store.conn)?;
        store.seen_version = Some(store.data_version()?);
        Ok(store)
    }

    /// Reads the enrolment's certificate and trust root into memory.
    fn load_account(&mut self) -> Result<(), StoreError> {
        let account = self.sync_account()?;
        self.trust_root = account.as_ref().and_then(|a| crate::identity::verifying_key_from_hex(&a.root_public_key));
        self.certificate = account.map(|a| a.certificate);
        Ok(())
    }

    /// SQLite's count of commits by other connections: it moves when another writer committed.
    fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Brings the in-memory copies level with the database: when another connection committed
    /// since the last look, every cached record whose stored heads moved reads the chunks the
    /// other writer added (or is dropped, to be read whole on next use, when that cannot be
    /// done), and the directory and enrolment are read again.
    fn refresh(&mut self) -> Result<(), StoreError> {
        let version = self.data_version()?;
        if self.seen_version == Some(version) {
            return Ok(());
        }
        let codes = self.records.codes();
        for code in codes {
            if !self.catch_up(&code)? {
                self.forget_record(&code);
            }
        }
        let stamp = stored_stamps(&self.conn)?;
        if stamp.directory != self.stamps.directory {
            self.directory = None;
        }
        if stamp.account != self.stamps.account {
            self.load_account()?;
        }
        self.stamps = stamp;
        self.seen_version = Some(version);
        Ok(())
    }

    /// Whether the cached copy of a record now equals the stored one, reading the chunks another
    /// writer appended after this copy's position when there are any.
    fn catch_up(&mut self, code: &TaskCode) -> Result<bool, StoreError> {
        let stored_heads = self.local_heads(code)?;
        let Some((record, mine)) = self.records.record_and_position(code) else { return Ok(false) };
        if record.has_unsaved() {
            return Ok(false);
        }
        let level = |record: &mut InspectionRecord| {
            let mut mine = record.heads();
            mine.sort();
            stored_heads.as_ref() == Some(&mine)
        };
        if level(record) {
            return Ok(true);
        }
        let (Some(mine), Some(stored)) = (mine, records::position(&self.conn, code)?) else {
            return Ok(false);
        };
        if mine.snapshot_sha256 != stored.snapshot_sha256 || mine.last_chunk > stored.last_chunk {
            return Ok(false); // compacted meanwhile: read it whole
        }
        let Some(chunks) = records::chunks_after(&self.conn, code, mine.last_chunk)? else { return Ok(false) };
        if record.load_stored_chunks(chunks.iter().map(Vec::as_slice)).is_err() || !level(record) {
            return Ok(false);
        }
        *mine = stored;
        Ok(true)
    }

    /// Drops a record's in-memory copy (it is read again from the store on next use).
    fn forget_record(&mut self, code: &TaskCode) {
        self.records.remove(code);
    }

    /// Runs `f` as one write transaction holding the database's write lock from its start, with
    /// the in-memory copies brought level with the database first: everything `f` reads is what
    /// it writes over. Commits if `f` succeeds; otherwise rolls back, and the copies are checked
    /// again at the next access.
    fn write<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // Writers queue on a file lock (the kernel wakes the next one as the lock is released)
        // rather than polling SQLite's lock; the lock dies with its process.
        let _turn = locks::WriteTurn::take(&self.write_lock)
            .map_err(|e| StoreError::io(&self.root.join(locks::WRITE_LOCK_FILE), e))?;
        if !self.conn.is_autocommit() {
            // A transaction left open by a panic in an earlier write: it never committed.
            self.conn.execute_batch("ROLLBACK")?;
            self.seen_version = None;
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = self.refresh().and_then(|()| f(self)).and_then(|value| {
            self.conn.execute_batch("COMMIT")?;
            Ok(value)
        });
        if result.is_err() {
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            self.seen_version = None;
        }
        result
    }

    /// Whether a store was initialised in `root` (nothing is created or opened).
    pub fn exists(root: &Path) -> bool {
        root.join(DATABASE_FILE).exists()
    }

    /// Opens and unlocks an existing store, migrating its schema if it is older.
    pub fn open(root: &Path, wrapper: &dyn SeedWrapper) -> Result<Store, StoreError> {
        let db = root.join(DATABASE_FILE);
        if !db.exists() {
            return Err(StoreError::NotInitialised(root.to_path_buf()));
        }
        let mut conn = open_connection(&db)?;
        schema::migrate(&mut conn, schema::CURRENT_VERSION, &|tx| rebuild_index(tx))?;
        let (public, sealed, inspector): (Vec<u8>, Vec<u8>, Option<String>) = conn
            .query_row("SELECT public_key, sealed_seed, inspector FROM device WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .ok_or_else(|| StoreError::NotInitialised(root.to_path_buf()))?;
        let public: [u8; 32] = public.try_into().map_err(|_| KeyError::MalformedSealedSeed)?;
        let key = DeviceKey::unseal(&sealed, wrapper, &public)?;
        let inspector = inspector.and_then(|i| InspectorId::new(i).ok());
        let mut store = Store::assemble(conn, root, key, inspector)?;
        store.passphrase_unlocked = wrapper.confirms_presence().then(std::time::Instant::now);
        Ok(store)
    }

    /// Asks `check` for the user's presence before every signature this handle makes (the apps:
    /// biometrics or the device credential through the platform key).
    pub fn set_presence_check(&mut self, check: std::sync::Arc<dyn crate::document::presence::PresenceCheck>) {
        self.presence_check = Some(check);
    }

    /// How the signer's presence is confirmed for a signature now: the platform's check when one
    /// is set (refused: nothing is signed), else a passphrase typed to open this handle moments
    /// ago, else none.
    pub(crate) fn signer_presence(
        &self,
        prompt: &str,
    ) -> Result<Option<crate::document::presence::SignerPresence>, StoreError> {
        use crate::document::presence::{PASSPHRASE_PRESENCE_WINDOW, SignerPresence};
        if let Some(check) = &self.presence_check {
            return Ok(Some(check.confirm(prompt)?));
        }
        Ok(self
            .passphrase_unlocked
            .filter(|at| at.elapsed() <= PASSPHRASE_PRESENCE_WINDOW)
            .map(|_| SignerPresence::Passphrase))
    }

    /// The store's directory on disk.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The device key (public operations only are meant for callers).
    pub fn device_key(&self) -> &DeviceKey {
        &self.key
    }

    /// The inspector operating this device.
    pub fn inspector(&self) -> Option<&InspectorId> {
        self.inspector.as_ref()
    }

    /// The blob folder.
    pub fn blobs(&self) -> Result<BlobStore, StoreError> {
        BlobStore::open(self.root.join("blobs"))
    }

    /// The underlying connection, for read-only inspection by tools and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    // ---- directory ----

    /// Replaces the directory data with `directory` (server-authored, read-only on the device).
    pub fn import_directory(&mut self, directory: Directory) -> Result<ImportSummary, StoreError> {
        let json = serde_json::to_string(&directory.to_data()).map_err(DirectoryError::Malformed)?;
        let now = now_ms();
        self.write(|s| {
            s.conn.execute(
                "INSERT INTO directory (id, json, imported_at_ms) VALUES (1, ?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET json = ?1, imported_at_ms = ?2",
                params![json, now],
            )?;
            let event = audit_log::Event {
                action: AuditAction::ImportDirectory,
                inspector: s.inspector.as_ref().map(|i| i.as_str()),
                object: "directory".into(),
                object_hash: sha256_hex(json.as_bytes()),
                at_ms: now,
            };
            audit_log::append(&s.conn, &s.key, event)?;
            Ok(())
        })?;
        let summary = ImportSummary {
            departments: directory.departments().count(),
            inspectors: directory.inspectors().count(),
            enterprises: directory.enterprises().count(),
            matters: directory.matters().count(),
        };
        self.directory = Some(Arc::new(directory));
        self.stamps = stored_stamps(&self.conn)?;
        Ok(summary)
    }

    /// The directory data, loaded on first use.
    pub fn directory(&mut self) -> Result<Arc<Directory>, StoreError> {
        self.refresh()?;
        if let Some(d) = &self.directory {
            return Ok(d.clone());
        }
        let d = Arc::new(load_directory(&self.conn)?.ok_or(StoreError::NoDirectory)?);
        self.directory = Some(d.clone());
        Ok(d)
    }

    // ---- tasks ----

    /// Validates and creates one task with its (empty) inspection record.
    pub fn create_task(&mut self, draft: TaskDraft) -> Result<Task, StoreError> {
        Ok(self.create_tasks(vec![draft])?.remove(0))
    }

    /// Creates several tasks in one transaction: all of them or, if any is invalid, none.
    pub fn create_tasks(&mut self, drafts: Vec<TaskDraft>) -> Result<Vec<Task>, StoreError> {
        // New tasks may need number series this device holds none of.
        self.numbers_spent();
        self.write(|s| s.create_tasks_locked(drafts))
    }

    fn create_tasks_locked(&mut self, drafts: Vec<TaskDraft>) -> Result<Vec<Task>, StoreError> {
        let directory = self.directory()?;
        let by = self.operator(&directory)?;
        let now = now_ms();
        let today = Utc::now().date_naive();
        let mut prepared = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let code = TaskCode::generate(draft.enterprise.division_code(), today)?;
            let task = Task::from_draft(draft, code, &directory)?;
            let stamp = Stamp { by: by.clone(), at_ms: now };
            let mut record = InspectionRecord::create(task.clone(), self.key.actor_id(), stamp.clone())?;
            // An enrolled device's certificate goes in with the record it creates, so that every
            // receiver can tell who created it.
            if let Some(certificate) = &self.certificate {
                record.put_certificate(&stamp, &self.key.device_id(), certificate)?;
            }
            // Stored as its changes, not a snapshot: its first push hands them over as stored,
            // without loading the record.
            let snapshot = record.save_changes();
            let summary = record.summary()?;
            let heads = record.heads();
            prepared.push((task, record, snapshot, summary, heads));
        }
        let tx = &self.conn;
        for (task, _, snapshot, summary, heads) in &prepared {
            tx.execute(
                "INSERT INTO tasks (code, json, created_at_ms) VALUES (?1, ?2, ?3)",
                params![task.code.as_str(), serde_json::to_string(task).map_err(CanonicalError::from)?, now],
            )?;
            records::insert(tx, &task.code, snapshot)?;
            index::insert(tx, &index_entry(task, &directory), summary, now)?;
            sync_state::set_local_heads(tx, &task.code, heads)?;
            let event = audit_log::Event {
                action: AuditAction::CreateTask,
                inspector: Some(by.as_str()),
                object: format!("task/{}", task.code),
                object_hash: sha256_hex(snapshot),
                at_ms: now,
            };
            audit_log::append(tx, &self.key, event)?;
        }
        Ok(prepared
            .into_iter()
            .map(|(task, record, snapshot, _, _)| {
                self.records.insert(task.code.clone(), record, Some(records::Position::of_snapshot(&snapshot)));
                task
            })
            .collect())
    }

    /// Lists tasks from the index (never loads documents).
    pub fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRow>, StoreError> {
        Ok(index::list(&self.conn, filter)?)
    }

    /// One task's index row.
    pub fn task_row(&self, code: &TaskCode) -> Result<TaskRow, StoreError> {
        index::get(&self.conn, code)?.ok_or_else(|| StoreError::UnknownTask(code.clone()))
    }

    /// How many records are loaded in memory now.
    #[cfg(test)]
    pub(crate) fn loaded_records(&self) -> usize {
        self.records.len()
    }

    /// Whether a record is loaded in memory now.
    pub(crate) fn is_loaded(&self, code: &TaskCode) -> bool {
        self.records.contains(code)
    }

    /// A task's record, loaded from its snapshot and chunks on first use.
    pub fn record(&mut self, code: &TaskCode) -> Result<&mut InspectionRecord, StoreError> {
        self.refresh()?;
        if !self.records.contains(code) {
            let stored = match records::load(&self.conn, code)? {
                records::Loaded::Intact(stored) => stored,
                records::Loaded::Missing => return Err(StoreError::UnknownTask(code.clone())),
                records::Loaded::Damaged => {
                    return Err(StoreError::CorruptRecord {
                        task: code.clone(),
                        source: Box::new(RecordError::HashMismatch),
                    });
                }
            };
            let mut record = InspectionRecord::load(&stored.snapshot, stored.chunks.iter().map(Vec::as_slice))
                .map_err(|source| StoreError::CorruptRecord { task: code.clone(), source: Box::new(source) })?;
            record.set_actor(self.key.actor_id());
            self.records.insert(code.clone(), record, Some(stored.position));
        }
        self.records.get_mut(code).ok_or_else(|| StoreError::UnknownTask(code.clone()))
    }

    /// Open conflicts of a task's record.
    pub fn conflicts(&mut self, code: &TaskCode) -> Result<Vec<Conflict>, StoreError> {
        Ok(self.record(code)?.conflicts()?)
    }

    // ---- recording an inspection: each call is one durable, audited edit ----

    /// Checks the team in on site.
    pub fn check_in(&mut self, code: &TaskCode, position: Position) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::CheckIn, |r, s, _| r.check_in_at(s, position))
    }

    /// Records that the assigned inspectors showed their certificates.
    pub fn show_identity(&mut self, code: &TaskCode) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::ShowIdentity, |r, s, d| {
            let numbers = r
                .task()
                .inspectors
                .iter()
                .filter_map(|i| d.inspector(i))
                .map(|i| i.certificate_number.clone())
                .collect();
            r.show_identity(s, numbers)
        })
    }

    /// Records the party's representative.
    pub fn record_party(&mut self, code: &TaskCode, party: PartyDraft) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::RecordParty, |r, s, _| r.record_party(s, party))
    }

    /// Records where the party accepts service (送达地址确认书).
    pub fn confirm_service_address(
        &mut self,
        code: &TaskCode,
        draft: crate::record::ServiceAddressDraft,
    ) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::ConfirmServiceAddress, |r, s, _| r.confirm_service_address(s, draft))
    }

    /// Answers a check point.
    pub fn answer(
        &mut self,
        code: &TaskCode,
        check_point: &CheckPointId,
        value: AnswerValue,
        note: Option<String>,
        evidence: Vec<String>,
    ) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::AnswerCheckPoint, |r, s, d| {
            r.answer_check_point(s, d, check_point, value, note, evidence)
        })
    }

    /// Records a finding.
    pub fn add_finding(&mut self, code: &TaskCode, finding: FindingDraft) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::AddFinding, |r, s, d| r.add_finding(s, d, finding))
    }

    /// Records a re-inspection's result for one finding of the task it re-inspects.
    pub fn record_recheck(
        &mut self,
        code: &TaskCode,
        finding: &str,
        outcome: crate::record::RecheckOutcome,
        note: Option<String>,
        evidence: Vec<String>,
    ) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::RecordRecheck, |r, s, d| r.record_recheck(s, d, finding, outcome, note, evidence))
    }

    /// Changes the record's status.
    pub fn set_status(&mut self, code: &TaskCode, status: Status) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::ChangeStatus, |r, s, d| r.set_status(s, d, status))
    }

    /// Resolves a conflict by choosing one of its values (lead inspector only).
    pub fn resolve_conflict(&mut self, code: &TaskCode, field: &Field, choice: usize) -> Result<Field, StoreError> {
        self.edit(code, AuditAction::ResolveConflict, |r, s, _| r.resolve_conflict(s, field, choice))
    }

    // ---- exchanging records with other devices ----

    /// The whole record of a task, for another device.
    pub fn export_record(&mut self, code: &TaskCode) -> Result<Vec<u8>, StoreError> {
        Ok(self.record(code)?.snapshot())
    }

    /// Merges a record received from another device (a file); creates the task locally if it is
    /// new here. Every change is checked against the write rules first; a refused file changes
    /// nothing and its changes are quarantined.
    pub fn receive_record(&mut self, bytes: &[u8]) -> Result<TaskCode, StoreError> {
        let mut incoming = InspectionRecord::load(bytes, [])?;
        let code = incoming.task().code.clone();
        let all = incoming.changes_since(&[]);
        let result = self.write(|s| {
            let root = s.trust_root()?;
            if s.local_heads(&code)?.is_some() {
                let object = format!("task/{code}");
                s.change_locked(
                    &code,
                    AuditAction::MergeRecord,
                    |r, _, d| {
                        r.merge_from(&mut incoming, &quarantine::rules(d, root))?;
                        Ok(((), object))
                    },
                    &|_| Ok(()),
                )
            } else {
                let directory = s.directory()?;
                let parsed = all.iter().cloned().map(parse_change).collect::<Result<Vec<_>, _>>()?;
                let record = InspectionRecord::from_changes(parsed, &quarantine::rules(&directory, root))?;
                s.adopt_locked(record, AuditAction::ReceiveRecord, None)
            }
        });
        if let Err(StoreError::Record(RecordError::Forbidden(refusal))) = &result {
            let fresh = if self.local_heads(&code)?.is_some() { self.unknown_changes(&code, all)? } else { all };
            self.quarantine(&code, &fresh, refusal, quarantine::ChangeSource::File)?;
        }
        result.map(|_| code)
    }

    /// Stores a record that is new on this device, with its task and index row; `confirmed` are
    /// the heads the server confirmed when it came from the server, and keeps it loaded. Runs
    /// inside a write.
    fn adopt_locked(
        &mut self,
        mut record: InspectionRecord,
        action: AuditAction,
        confirmed: Option<&[automerge::ChangeHash]>,
    ) -> Result<(), StoreError> {
        let directory = self.directory()?;
        record.set_actor(self.key.actor_id());
        let snapshot = record.save();
        let summary = record.summary()?;
        let heads = record.heads();
        let task = record.task().clone();
        let code = task.code.clone();
        let now = now_ms();
        self.numbers_spent();
        let tx = &self.conn;
        tx.execute(
            "INSERT INTO tasks (code, json, created_at_ms) VALUES (?1, ?2, ?3)",
            params![code.as_str(), serde_json::to_string(&task).map_err(CanonicalError::from)?, now],
        )?;
        records::insert(tx, &code, &snapshot)?;
        index::insert(tx, &index_entry(&task, &directory), &summary, now)?;
        sync_state::set_local_heads(tx, &code, &heads)?;
        if let Some(confirmed) = confirmed {
            sync_state::set_confirmed_heads(tx, &code, confirmed)?;
        }
        let event = audit_log::Event {
            action,
            inspector: self.inspector.as_ref().map(|i| i.as_str()),
            object: format!("task/{code}"),
            object_hash: sha256_hex(&snapshot),
            at_ms: now,
        };
        audit_log::append(tx, &self.key, event)?;
        self.records.insert(code, record, Some(records::Position::of_snapshot(&snapshot)));
        Ok(())
    }

    // ---- audit ----

    /// Verifies the device's audit chain.
    pub fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let entries = audit_log::all(&self.conn)?;
        let head_seq: i64 = self.conn.query_row("SELECT audit_head_seq FROM device WHERE id = 1", [], |r| r.get(0))?;
        Ok(verify_chain(&entries, &self.key.verifying_key(), head_seq as u64))
    }

    /// The latest audit entry's position in the chain, as stored.
    pub fn audit_head(&self) -> Result<ChainHead, StoreError> {
        Ok(audit_log::head(&self.conn)?)
    }

    // ---- internals ----

    fn operator(&self, directory: &Directory) -> Result<InspectorId, StoreError> {
        let id = self.inspector.clone().ok_or(StoreError::NoOperator)?;
        if directory.inspector(&id).is_none() {
            return Err(StoreError::UnknownInspector(id));
        }
        Ok(id)
    }

    /// Applies one edit to a record and persists change, index row and audit entry in one transaction.
    fn edit(
        &mut self,
        code: &TaskCode,
        action: AuditAction,
        apply: impl FnOnce(&mut InspectionRecord, Stamp, &Directory) -> Result<Field, RecordError>,
    ) -> Result<Field, StoreError> {
        self.change(
            code,
            action,
            |record, stamp, directory| {
                let field = apply(record, stamp, directory)?;
                let object = format!("task/{code}/{field}");
                Ok((field, object))
            },
            &|_| Ok(()),
        )
    }

    /// Changes a record through `apply` (which names the audited object) and persists the change
    /// bytes, index row, audit entry and whatever `extra` writes, as one write transaction.
    fn change<T>(
        &mut self,
        code: &TaskCode,
        action: AuditAction,
        apply: impl FnOnce(&mut InspectionRecord, Stamp, &Directory) -> Result<(T, String), RecordError>,
        extra: &dyn Fn(&Connection) -> Result<(), StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|s| s.change_locked(code, action, apply, extra))
    }

    /// [`Store::change`] inside a write already begun: the record is the one stored (the write
    /// refreshed it), so the change builds on every edit any writer committed. On any failure the
    /// in-memory record is dropped, so memory never runs ahead of the disk.
    fn change_locked<T>(
        &mut self,
        code: &TaskCode,
        action: AuditAction,
        apply: impl FnOnce(&mut InspectionRecord, Stamp, &Directory) -> Result<(T, String), RecordError>,
        extra: &dyn Fn(&Connection) -> Result<(), StoreError>,
    ) -> Result<T, StoreError> {
        let directory = self.directory()?;
        let by = self.operator(&directory)?;
        let now = now_ms();
        let stamp = Stamp { by: by.clone(), at_ms: now };
        let certificate = self.certificate.clone();
        let device = self.key.device_id();
        let result = self.record(code).and_then(|record| {
            let (value, object) = apply(record, stamp.clone(), &directory)?;
            // The certificate goes with this device's own writes; merging others' changes must not
            // add content (a device that may only read a record would diverge from everyone).
            if let Some(c) = &certificate
                && action != AuditAction::MergeRecord
                && !record.has_certificate(&device)
            {
                record.put_certificate(&stamp, &device, c)?;
            }
            let chunk = record.take_unsaved();
            let summary = record.summary()?;
            let heads = record.heads();
            Ok((value, PendingChange { action, by, object, chunk, summary, heads, now }))
        });
        let persisted = result.and_then(|(value, pending)| self.persist_change(code, pending, extra).map(|()| value));
        if persisted.is_err() {
            self.forget_record(code);
        }
        persisted
    }

    fn persist_change(
        &mut self,
        code: &TaskCode,
        pending: PendingChange,
        extra: &dyn Fn(&Connection) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = &self.conn;
        extra(tx)?;
        let chunk = &pending.chunk;
        if chunk.is_empty() && pending.action == AuditAction::MergeRecord {
            return Ok(()); // a merge that brought nothing new records nothing
        }
        if !chunk.is_empty() {
            let (seq, needs_compaction) = records::append_chunk(tx, code, chunk)?;
            if let Some((record, position)) = self.records.record_and_position(code) {
                if let Some(position) = position {
                    position.last_chunk = seq;
                }
                if needs_compaction {
                    let snapshot = record.snapshot();
                    records::compact(tx, code, &snapshot)?;
                    let compacted = records::Position { last_chunk: seq, ..records::Position::of_snapshot(&snapshot) };
                    self.records.set_position(code, compacted);
                }
            }
        }
        index::update(tx, code, &pending.summary, pending.now)?;
        sync_state::set_local_heads(tx, code, &pending.heads)?;
        let event = audit_log::Event {
            action: pending.action,
            inspector: Some(pending.by.as_str()),
            object: pending.object,
            object_hash: sha256_hex(chunk),
            at_ms: pending.now,
        };
        audit_log::append(tx, &self.key, event)?;
        Ok(())
    }
}

/// An edit made in memory, waiting to be written.
struct PendingChange {
    action: AuditAction,
    by: InspectorId,
    object: String,
    chunk: Vec<u8>,
    summary: crate::record::RecordSummary,
    heads: Vec<automerge::ChangeHash>,
    now: i64,
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    // FULL: the WAL is fsynced at every commit, so an accepted edit survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 16 MiB of page cache keeps a 10,000-task index in memory for lists.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.busy_handler(Some(wait_for_the_writer))?;
    Ok(conn)
}

/// SQLite's busy handler while another connection holds the write lock: short, even waits (a
/// write holds the lock for about a millisecond), for about ten seconds in all. SQLite's own
/// timeout backs off to 100 ms sleeps, which leaves the lock idle while writers sleep.
fn wait_for_the_writer(attempt: i32) -> bool {
    const QUICK: i32 = 200; // 200 × 0.25 ms
    const PATIENT: i32 = QUICK + 9_950; // then 1 ms each
    let pause = if attempt < QUICK { 250 } else { 1_000 };
    std::thread::sleep(std::time::Duration::from_micros(pause));
    attempt < PATIENT
}

fn load_directory(conn: &Connection) -> Result<Option<Directory>, StoreError> {
    let json: Option<String> =
        conn.query_row("SELECT json FROM directory WHERE id = 1", [], |r| r.get(0)).optional()?;
    json.map(|j| Directory::from_json(j.as_bytes())).transpose().map_err(StoreError::from)
}

fn index_entry<'a>(task: &'a Task, directory: &'a Directory) -> index::IndexEntry<'a> {
    let enterprise_name =
        directory.enterprise(&task.enterprise).map(|e| e.name.as_str()).unwrap_or(task.enterprise.as_str());
    let check_points = task.matters.iter().filter_map(|m| directory.matter(m)).map(|m| m.check_points.len()).sum();
    index::IndexEntry { task, enterprise_name, check_points }
}

/// Rebuilds the task index from the stored documents (used by the migration that introduced it).
/// A document that cannot be read is indexed from its task alone, so one bad record cannot block
/// the upgrade of all the others.
fn rebuild_index(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let directory = load_directory(tx)?.unwrap_or_default();
    let codes: Vec<String> =
        tx.prepare("SELECT code FROM tasks")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for code in codes {
        let code = TaskCode::parse(&code)?;
        let record = match records::load(tx, &code)? {
            records::Loaded::Missing => continue,
            records::Loaded::Intact(stored) => {
                InspectionRecord::load(&stored.snapshot, stored.chunks.iter().map(Vec::as_slice))
            }
            records::Loaded::Damaged => Err(RecordError::HashMismatch),
        };
        let (task, summary) = match record.and_then(|r| Ok((r.task().clone(), r.summary()?))) {
            Ok(v) => v,
            Err(_) => {
                let json: String =
                    tx.query_row("SELECT json FROM tasks WHERE code = ?1", [code.as_str()], |r| r.get(0))?;
                let task: Task = serde_json::from_str(&json).map_err(CanonicalError::from)?;
                (task, crate::record::RecordSummary { status: Status::Planned, answered: 0, findings: 0, conflicts: 0 })
            }
        };
        index::insert(tx, &index_entry(&task, &directory), &summary, now_ms())?;
    }
    Ok(())
}

/// Device time, ms since the Unix epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests;
