//! The embedded default: one SQLite file in the data directory.

use std::path::Path;
use std::sync::{Arc, Mutex};

use onevisit_core::certificate::Revocation;
use onevisit_core::sync::wire::NumberSeries;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use onevisit_core::sync::merkle::{self, Hash, NodeKey};

mod console;
mod nonces;

use super::{
    ConsoleSession, ConsoleUser, DeviceRecord, DeviceSession, DeviceSummary, EnrolmentSummary, FeedPage, FeedRow,
    NewRecord, RecordMeta, Storage, StorageError, StoredAuditEntry, StoredDraw, StoredFacts, StoredRecord,
    TenantRecord,
};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tenant (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        tenant TEXT NOT NULL,
        ca_public_key BLOB NOT NULL,
        sealed_ca_seed BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS directory (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS directory_version (id INTEGER PRIMARY KEY CHECK (id = 1), version TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS enrolments (
        code_sha256 TEXT PRIMARY KEY,
        inspector TEXT NOT NULL,
        expires_ms INTEGER NOT NULL,
        used_by_device TEXT
    );
    CREATE TABLE IF NOT EXISTS devices (
        device TEXT PRIMARY KEY,
        public_key BLOB NOT NULL,
        inspector TEXT NOT NULL,
        certificate TEXT NOT NULL,
        serial TEXT NOT NULL UNIQUE,
        device_code TEXT NOT NULL UNIQUE
    );
    CREATE TABLE IF NOT EXISTS serials (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS revocations (
        device TEXT PRIMARY KEY REFERENCES devices(device),
        serial TEXT NOT NULL,
        revoked_at_ms INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS nonces (
        device TEXT NOT NULL,
        nonce TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (device, nonce)
    );
    CREATE INDEX IF NOT EXISTS nonces_by_time ON nonces(at_ms);
    CREATE TABLE IF NOT EXISTS feed_counter (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
    INSERT OR IGNORE INTO feed_counter (id, seq) VALUES (1, 0);
    CREATE TABLE IF NOT EXISTS records (
        id TEXT PRIMARY KEY,
        task_json TEXT NOT NULL,
        heads TEXT NOT NULL,
        size INTEGER NOT NULL,
        version INTEGER NOT NULL,
        chunks INTEGER NOT NULL DEFAULT 0,
        feed_seq INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS records_by_feed ON records(feed_seq);
    CREATE TABLE IF NOT EXISTS record_chunks (
        doc TEXT NOT NULL REFERENCES records(id),
        n INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (doc, n)
    );
    CREATE TABLE IF NOT EXISTS record_facts (
        doc TEXT PRIMARY KEY REFERENCES records(id),
        facts TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS record_departments (
        doc TEXT NOT NULL REFERENCES records(id),
        department TEXT NOT NULL,
        PRIMARY KEY (department, doc)
    ) WITHOUT ROWID;
    -- A record's departments by record: without it every record's metadata scanned them all.
    CREATE INDEX IF NOT EXISTS record_departments_by_doc ON record_departments(doc);
    CREATE TABLE IF NOT EXISTS assignments (
        doc TEXT NOT NULL REFERENCES records(id),
        inspector TEXT NOT NULL,
        active INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (inspector, doc)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS assignments_by_doc ON assignments(doc);
    CREATE INDEX IF NOT EXISTS assignments_by_state ON assignments(inspector, active, seq);
    CREATE TABLE IF NOT EXISTS blob_references (
        sha256 TEXT NOT NULL,
        doc TEXT NOT NULL REFERENCES records(id),
        device TEXT NOT NULL,
        PRIMARY KEY (sha256, doc, device)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS blob_holders (
        sha256 TEXT NOT NULL,
        device TEXT NOT NULL,
        PRIMARY KEY (sha256, device)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS audit_entries (
        leaf INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        leaf_hash TEXT NOT NULL,
        json TEXT NOT NULL,
        UNIQUE (device, seq)
    );
    CREATE TABLE IF NOT EXISTS enrolment_failures (key TEXT NOT NULL, at_ms INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS enrolment_failures_by_key ON enrolment_failures(key, at_ms);
    CREATE TABLE IF NOT EXISTS draws (
        plan_id TEXT PRIMARY KEY,
        plan_json TEXT NOT NULL,
        nonce TEXT NOT NULL,
        commitment TEXT NOT NULL,
        committed_at_ms INTEGER NOT NULL,
        record TEXT
    );
    CREATE TABLE IF NOT EXISTS audit_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS number_series (
        department TEXT NOT NULL,
        kind TEXT NOT NULL,
        year INTEGER NOT NULL,
        next INTEGER NOT NULL,
        PRIMARY KEY (department, kind, year)
    );
    CREATE TABLE IF NOT EXISTS number_grants (
        department TEXT NOT NULL,
        kind TEXT NOT NULL,
        year INTEGER NOT NULL,
        first INTEGER NOT NULL,
        count INTEGER NOT NULL,
        device TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (department, kind, year, first)
    );
    CREATE INDEX IF NOT EXISTS number_grants_by_device ON number_grants(device, department, kind, year);
";

/// A device from the first six columns of `row` (device, key, inspector, certificate, serial,
/// code); a stored key of the wrong length is a storage error.
fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<DeviceRecord, StorageError>> {
    let key: Vec<u8> = row.get(1)?;
    let (device, inspector, certificate, serial, device_code) =
        (row.get(0)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?);
    Ok(key
        .try_into()
        .map(|public_key| DeviceRecord { device, public_key, inspector, certificate, serial, device_code })
        .map_err(|_| StorageError::Database("malformed device key".into())))
}

/// A device with its revocation, the revocation count and the directory version (the device
/// compared as `CAST(? AS TEXT)` so that the cached statement is not re-planned on each use).
const DEVICE_SESSION: &str = "SELECT d.device, d.public_key, d.inspector, d.certificate, d.serial, d.device_code,
        r.serial, r.device, r.revoked_at_ms, r.reason,
        (SELECT count(*) FROM revocations), (SELECT version FROM directory_version WHERE id = 1)
     FROM devices d LEFT JOIN revocations r ON r.device = d.device WHERE d.device = CAST(?1 AS TEXT)";

/// A device's feed after `?1` for inspector `?2` of the departments in the JSON array `?3`,
/// oldest first (the caller stops reading at its page size). Written so that SQLite never has to
/// re-plan it for new parameter values: no `EXISTS (… = ?)`, no `LIMIT ?`, and the inspector
/// compared as `CAST(? AS TEXT)` under the `ORDER BY` — each of those made the cached statement
/// recompile on every use (measured: a third of a no-op sync's CPU; see the test below).
const FEED: &str = "SELECT feed_seq, id, heads, 0 FROM records d
     WHERE feed_seq > ?1 AND (
        ?2 IN (SELECT a.inspector FROM assignments a WHERE a.doc = d.id AND a.active = 1)
        OR EXISTS (SELECT 1 FROM record_departments x
                   WHERE x.doc = d.id AND x.department IN (SELECT value FROM json_each(?3))))
     UNION ALL
     SELECT a.seq, a.doc, '', 1 FROM assignments a
     WHERE a.inspector = CAST(?2 AS TEXT) AND a.active = 0 AND a.seq > ?1
       AND NOT EXISTS (SELECT 1 FROM record_departments x
                       WHERE x.doc = a.doc AND x.department IN (SELECT value FROM json_each(?3)))
     ORDER BY 1";

const GENESIS: &str = onevisit_core::audit::GENESIS_HASH;

/// The columns of a stored draw, in `draw_row`'s order.
const DRAW_COLUMNS: &str = "SELECT plan_id, plan_json, nonce, commitment, committed_at_ms, record FROM draws";

fn draw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredDraw> {
    Ok(StoredDraw {
        plan_id: r.get(0)?,
        plan_json: r.get(1)?,
        nonce: r.get(2)?,
        commitment: r.get(3)?,
        committed_at_ms: r.get(4)?,
        record: r.get(5)?,
    })
}

fn join_heads(heads: &[String]) -> String {
    heads.join(",")
}

fn split_heads(text: &str) -> Vec<String> {
    if text.is_empty() { Vec::new() } else { text.split(',').map(str::to_string).collect() }
}

/// A transaction that takes the write lock when it begins. Other connections write the same file
/// (the nonce thread, which takes turns with this one through its mutex, and the admin commands'
/// processes): a deferred transaction that read first and then writes would fail at once with
/// `SQLITE_BUSY` (no busy wait is possible for it) whenever another committed in between; an
/// immediate one waits its turn under the busy timeout. Read-only paths keep deferred ones.
pub(super) fn write_transaction(c: &mut Connection) -> Result<rusqlite::Transaction<'_>, StorageError> {
    c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db)
}

/// Takes the next feed position (inside the caller's transaction).
fn next_feed_seq(tx: &rusqlite::Transaction<'_>) -> Result<i64, StorageError> {
    tx.execute("UPDATE feed_counter SET seq = seq + 1 WHERE id = 1", []).map_err(db)?;
    tx.query_row("SELECT seq FROM feed_counter WHERE id = 1", [], |r| r.get(0)).map_err(db)
}

/// Inserts one new record, its first chunk, departments and assignments inside `tx`.
fn insert_record(tx: &rusqlite::Transaction<'_>, doc: NewRecord) -> Result<(), StorageError> {
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM records WHERE id = ?1)")
        .map_err(db)?
        .query_row([&doc.id], |r| r.get(0))
        .map_err(db)?;
    if exists {
        return Err(StorageError::RecordExists(doc.id));
    }
    let seq = next_feed_seq(tx)?;
    tx.prepare_cached(
        "INSERT INTO records (id, task_json, heads, size, version, chunks, feed_seq) VALUES (?1, ?2, ?3, ?4, 1, 0, ?5)",
    )
    .map_err(db)?
    .execute(params![doc.id, doc.task_json, join_heads(&doc.heads), doc.snapshot.len() as i64, seq])
    .map_err(db)?;
    tx.prepare_cached("INSERT INTO record_chunks (doc, n, bytes) VALUES (?1, 0, ?2)")
        .map_err(db)?
        .execute(params![doc.id, doc.snapshot])
        .map_err(db)?;
    put_facts(tx, &doc.id, &doc.facts)?;
    for d in &doc.departments {
        tx.prepare_cached("INSERT OR IGNORE INTO record_departments (doc, department) VALUES (?1, ?2)")
            .map_err(db)?
            .execute(params![doc.id, d])
            .map_err(db)?;
    }
    for i in &doc.inspectors {
        tx.prepare_cached("INSERT OR REPLACE INTO assignments (doc, inspector, active, seq) VALUES (?1, ?2, 1, ?3)")
            .map_err(db)?
            .execute(params![doc.id, i, seq])
            .map_err(db)?;
    }
    Ok(())
}

/// Stores (or replaces) a record's summary for the figures.
fn put_facts(c: &Connection, id: &str, facts: &str) -> Result<(), StorageError> {
    c.prepare_cached(
        "INSERT INTO record_facts (doc, facts) VALUES (?1, ?2) ON CONFLICT (doc) DO UPDATE SET facts = excluded.facts",
    )
    .map_err(db)?
    .execute(params![id, facts])
    .map_err(db)?;
    Ok(())
}

fn record_meta(c: &Connection, id: &str) -> Result<Option<RecordMeta>, StorageError> {
    let row: Option<(String, i64, i64, i64)> = c
        .prepare_cached("SELECT heads, size, version, chunks FROM records WHERE id = ?1")
        .map_err(db)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .map_err(db)?;
    let Some((heads, size, version, chunks)) = row else { return Ok(None) };
    let departments = c
        .prepare_cached("SELECT department FROM record_departments WHERE doc = ?1 ORDER BY department")
        .map_err(db)?
        .query_map([id], |r| r.get(0))
        .map_err(db)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(db)?;
    let inspectors = c
        .prepare_cached("SELECT inspector FROM assignments WHERE doc = ?1 AND active = 1 ORDER BY inspector")
        .map_err(db)?
        .query_map([id], |r| r.get(0))
        .map_err(db)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(db)?;
    Ok(Some(RecordMeta {
        id: id.to_string(),
        departments,
        inspectors,
        heads: split_heads(&heads),
        size: size as u64,
        version: version as u64,
        chunks: chunks as u64,
    }))
}

/// Records the version of the directory data `json`; returns it.
fn set_directory_version(c: &Connection, json: &str) -> Result<String, StorageError> {
    let version = super::directory_version(json);
    c.execute(
        "INSERT INTO directory_version (id, version) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET version = ?1",
        [&version],
    )
    .map_err(db)?;
    Ok(version)
}

fn audit_head(c: &Connection, device: &str) -> Result<(u64, String), StorageError> {
    let row: Option<(i64, String)> = c
        .query_row("SELECT seq, hash FROM audit_entries WHERE device = ?1 ORDER BY seq DESC LIMIT 1", [device], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(db)?;
    Ok(row.map(|(s, h)| (s as u64, h)).unwrap_or((0, GENESIS.to_string())))
}

/// SQLite storage: one connection behind a mutex, used from blocking tasks.
#[derive(Clone)]
pub struct SqliteStorage {
    /// The one connection that writes (SQLite has one writer at a time; this keeps it in-process).
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections: WAL lets reads run beside the writer and each other.
    readers: Arc<Readers>,
    /// The thread that records request nonces, without waiting for the disk (see
    /// [`SqliteStorage::open`]).
    nonces: super::nonce_batch::NonceQueue,
}

/// The read-only connections, handed out round robin (a free one first).
struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

/// Read-only connections per server: a request's reads run on one while other requests read or write.
const READERS: usize = 4;

fn db(e: rusqlite::Error) -> StorageError {
    StorageError::Database(Box::new(e))
}

/// A data directory written before the Automerge records were called records: its tables are
/// renamed in one transaction (SQLite rewrites the references of the other tables).
fn rename_documents_to_records(conn: &Connection) -> Result<(), StorageError> {
    let old: bool = conn
        .query_row("SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'documents')", [], |r| {
            r.get(0)
        })
        .map_err(db)?;
    if old {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE documents RENAME TO records;
             ALTER TABLE document_chunks RENAME TO record_chunks;
             ALTER TABLE document_departments RENAME TO record_departments;
             DROP INDEX IF EXISTS documents_by_feed;
             COMMIT;",
        )
        .map_err(db)?;
    }
    Ok(())
}

/// Leaves in the audit tree (leaf numbers are dense from 1).
fn audit_size(c: &Connection) -> Result<u64, StorageError> {
    c.query_row("SELECT COALESCE(max(leaf), 0) FROM audit_entries", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(db)
}

/// The stored nodes among `keys`.
fn audit_nodes(c: &Connection, keys: &[NodeKey]) -> Result<std::collections::HashMap<NodeKey, Hash>, StorageError> {
    let mut stmt = c.prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2").map_err(db)?;
    let mut out = std::collections::HashMap::new();
    for &(level, index) in keys {
        let hash: Option<Vec<u8>> =
            stmt.query_row(params![level, index as i64], |r| r.get(0)).optional().map_err(db)?;
        if let Some(hash) = hash {
            out.insert((level, index), super::tree_hash(&hash)?);
        }
    }
    Ok(out)
}

/// Stores the nodes that `leaves` complete in a tree of `size` (inside the caller's transaction).
fn store_audit_nodes(c: &Connection, size: u64, leaves: &[Hash]) -> Result<(), StorageError> {
    let keys = merkle::range_nodes(0, size);
    let frontier = super::nodes_in_order(&keys, &audit_nodes(c, &keys)?)?;
    let mut insert =
        c.prepare_cached("INSERT OR REPLACE INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)").map_err(db)?;
    for ((level, index), hash) in merkle::appended_nodes(size, &frontier, leaves) {
        insert.execute(params![level, index as i64, hash.to_vec()]).map_err(db)?;
    }
    Ok(())
}

/// A data directory from before the tree's nodes were stored gets them, once, from its leaves.
fn build_audit_nodes(conn: &mut Connection) -> Result<(), StorageError> {
    let size = audit_size(conn)?;
    let nodes: i64 =
        conn.query_row("SELECT count(*) FROM audit_nodes WHERE level = 0", [], |r| r.get(0)).map_err(db)?;
    if nodes as u64 == size {
        return Ok(());
    }
    let tx = write_transaction(conn)?;
    tx.execute("DELETE FROM audit_nodes", []).map_err(db)?;
    let leaves: Vec<Hash> = {
        let mut stmt = tx.prepare("SELECT leaf_hash FROM audit_entries ORDER BY leaf").map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let bytes = hex::decode(row.map_err(db)?).map_err(|e| StorageError::Database(Box::new(e)))?;
            out.push(super::tree_hash(&bytes)?);
        }
        out
    };
    store_audit_nodes(&tx, 0, &leaves)?;
    tx.commit().map_err(db)?;
    tracing::info!(leaves = size, "audit tree nodes built");
    Ok(())
}

impl SqliteStorage {
    /// Whether `dir` holds a server database.
    pub fn exists(dir: &Path) -> bool {
        dir.join("server.sqlite").is_file()
    }

    /// Opens (creating) `server.sqlite` in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStorage, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Database(Box::new(e)))?;
        let mut conn = Connection::open(dir.join("server.sqlite")).map_err(db)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(())).map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db)?;
        rename_documents_to_records(&conn)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        conn.execute_batch(console::SCHEMA).map_err(db)?;
        build_audit_nodes(&mut conn)?;
        let open_more = |flags: OpenFlags| -> Result<Connection, StorageError> {
            let c = Connection::open_with_flags(dir.join("server.sqlite"), flags).map_err(db)?;
            c.busy_timeout(std::time::Duration::from_secs(10)).map_err(db)?;
            Ok(c)
        };
        let read_only = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conns = (0..READERS).map(|_| open_more(read_only).map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
        // A nonce only stops a replay of a signed request within the clock-skew window, and every
        // request of the protocol is idempotent: its insert need not wait for the disk (WAL with
        // synchronous=NORMAL survives a crash of the process; a power cut may forget the last
        // moments' nonces). Everything else keeps synchronous=FULL on the writer.
        let nonces = open_more(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        nonces.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
        let conn = Arc::new(Mutex::new(conn));
        Ok(SqliteStorage {
            readers: Arc::new(Readers { conns, next: Default::default() }),
            nonces: nonces::start(nonces, conn.clone())?,
            conn,
        })
    }

    /// Runs `f` on a read-only connection in a blocking task.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let readers = self.readers.clone();
        blocking(move || {
            let n = readers.conns.len();
            let start = readers.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let free = (0..n).find_map(|i| readers.conns[(start + i) % n].try_lock().ok());
            let mut guard = match free {
                Some(g) => g,
                None => readers.conns[start % n].lock().map_err(|_| poisoned("a reader"))?,
            };
            f(&mut guard)
        })
        .await
    }

    /// Runs a short indexed read (rows by key, a bounded page) on a free read-only connection on the
    /// calling thread, saving the hop to a blocking thread that would cost more than the read;
    /// when every reader is busy it waits for one in a blocking task like [`Self::read`].
    async fn read_now<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let f = match self.readers.conns.iter().find_map(|c| c.try_lock().ok()) {
            Some(mut conn) => return f(&mut conn),
            None => f,
        };
        self.read(f).await
    }

    /// Runs `f` on the connection in a blocking task.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let conn = self.conn.clone();
        blocking(move || f(&mut *conn.lock().map_err(|_| poisoned("the connection"))?)).await
    }
}

/// Runs `f` on a blocking thread (SQLite calls block).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StorageError::Database(Box::new(e)))?
}

/// A connection's lock was poisoned by a panic while it was held.
fn poisoned(what: &str) -> StorageError {
    StorageError::Database(format!("the lock of {what} is poisoned").into())
}

fn enrolment_inspector(conn: &Connection, code: &str, now_ms: i64) -> Result<String, StorageError> {
    let row: Option<(String, i64, Option<String>)> = conn
        .query_row("SELECT inspector, expires_ms, used_by_device FROM enrolments WHERE code_sha256 = ?1", [code], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(db)?;
    match row {
        None => Err(StorageError::UnknownCode),
        Some((_, _, Some(_))) => Err(StorageError::CodeUsed),
        Some((_, expires, None)) if expires < now_ms => Err(StorageError::CodeExpired),
        Some((inspector, _, None)) => Ok(inspector),
    }
}

/// Whether a record the inspector or departments may read references the blob — when
/// `uploaded_by_referrer`, only by a device that uploaded the bytes itself.
fn blob_visible(
    c: &Connection,
    sha256: &str,
    inspector: &str,
    departments: &[String],
    uploaded_by_referrer: bool,
) -> Result<bool, StorageError> {
    let departments = serde_json::to_string(departments).map_err(|e| StorageError::Database(Box::new(e)))?;
    c.query_row(
        "SELECT EXISTS(SELECT 1 FROM blob_references b WHERE b.sha256 = ?1
            AND (?4 = 0 OR EXISTS (SELECT 1 FROM blob_holders h WHERE h.sha256 = b.sha256 AND h.device = b.device))
            AND (EXISTS (SELECT 1 FROM assignments a WHERE a.doc = b.doc AND a.inspector = ?2 AND a.active = 1)
                 OR EXISTS (SELECT 1 FROM record_departments x
                            WHERE x.doc = b.doc AND x.department IN (SELECT value FROM json_each(?3)))))",
        params![sha256, inspector, departments, uploaded_by_referrer],
        |r| r.get(0),
    )
    .map_err(db)
}

impl Storage for SqliteStorage {
    async fn tenant(&self) -> Result<Option<TenantRecord>, StorageError> {
        self.read(|c| {
            c.query_row("SELECT tenant, ca_public_key, sealed_ca_seed FROM tenant WHERE id = 1", [], |r| {
                let key: Vec<u8> = r.get(1)?;
                Ok((r.get::<_, String>(0)?, key, r.get::<_, Vec<u8>>(2)?))
            })
            .optional()
            .map_err(db)?
            .map(|(tenant, key, sealed)| {
                let ca_public_key = key.try_into().map_err(|_| StorageError::Database("malformed CA key".into()))?;
                Ok(TenantRecord { tenant, ca_public_key, sealed_ca_seed: sealed })
            })
            .transpose()
        })
        .await
    }

    async fn init_tenant(&self, tenant: TenantRecord) -> Result<(), StorageError> {
        self.with(move |c| {
            let exists: bool = c.query_row("SELECT EXISTS(SELECT 1 FROM tenant)", [], |r| r.get(0)).map_err(db)?;
            if exists {
                return Err(StorageError::TenantExists);
            }
            c.execute(
                "INSERT INTO tenant (id, tenant, ca_public_key, sealed_ca_seed) VALUES (1, ?1, ?2, ?3)",
                params![tenant.tenant, tenant.ca_public_key.to_vec(), tenant.sealed_ca_seed],
            )
            .map_err(db)?;
            c.execute("INSERT OR IGNORE INTO serials (id, next) VALUES (1, 1)", []).map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn put_directory(&self, json: String) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            tx.execute(
                "INSERT INTO directory (id, json) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET json = ?1",
                [&json],
            )
            .map_err(db)?;
            set_directory_version(&tx, &json)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn directory_version(&self) -> Result<Option<String>, StorageError> {
        let stored = self
            .read(|c| {
                c.prepare_cached("SELECT version FROM directory_version WHERE id = 1")
                    .map_err(db)?
                    .query_row([], |r| r.get(0))
                    .optional()
                    .map_err(db)
            })
            .await?;
        if stored.is_some() {
            return Ok(stored);
        }
        self.with(|c| {
            let version: Option<String> = c
                .query_row("SELECT version FROM directory_version WHERE id = 1", [], |r| r.get(0))
                .optional()
                .map_err(db)?;
            if version.is_some() {
                return Ok(version);
            }
            // Data imported before versions were kept: compute the version once.
            let json: Option<String> =
                c.query_row("SELECT json FROM directory WHERE id = 1", [], |r| r.get(0)).optional().map_err(db)?;
            json.map(|j| set_directory_version(c, &j)).transpose()
        })
        .await
    }

    async fn commit_draw(&self, draw: StoredDraw) -> Result<(), StorageError> {
        self.with(move |c| {
            let inserted = c
                .execute(
                    "INSERT INTO draws (plan_id, plan_json, nonce, commitment, committed_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (plan_id) DO NOTHING",
                    params![draw.plan_id, draw.plan_json, draw.nonce, draw.commitment, draw.committed_at_ms],
                )
                .map_err(db)?;
            if inserted == 0 { Err(StorageError::DrawExists(draw.plan_id)) } else { Ok(()) }
        })
        .await
    }

    async fn draw(&self, plan_id: String) -> Result<Option<StoredDraw>, StorageError> {
        self.read(move |c| {
            c.query_row(&format!("{DRAW_COLUMNS} WHERE plan_id = ?1"), [&plan_id], draw_row).optional().map_err(db)
        })
        .await
    }

    async fn draws(&self) -> Result<Vec<StoredDraw>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("{DRAW_COLUMNS} ORDER BY committed_at_ms DESC, plan_id")).map_err(db)?;
            let rows = stmt.query_map([], draw_row).map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn publish_draw(&self, plan_id: String, record: String) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            let stored: Option<Option<String>> = tx
                .query_row("SELECT record FROM draws WHERE plan_id = ?1", [&plan_id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            match stored {
                None => return Err(StorageError::UnknownDraw(plan_id)),
                Some(Some(_)) => return Err(StorageError::DrawPublished(plan_id)),
                Some(None) => {}
            }
            tx.execute("UPDATE draws SET record = ?2 WHERE plan_id = ?1", params![plan_id, record]).map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn reserve_numbers(
        &self,
        device: String,
        series: Vec<NumberSeries>,
        count: u32,
        cap: u32,
        at_ms: i64,
    ) -> Result<Vec<Option<u32>>, StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            let mut out = Vec::with_capacity(series.len());
            for s in &series {
                let held: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM number_grants
                         WHERE device = ?1 AND department = ?2 AND kind = ?3 AND year = ?4",
                        params![device, s.department, s.kind, s.year],
                        |r| r.get(0),
                    )
                    .map_err(db)?;
                if held >= i64::from(cap) {
                    out.push(None);
                    continue;
                }
                tx.execute(
                    "INSERT INTO number_series (department, kind, year, next) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (department, kind, year) DO NOTHING",
                    params![s.department, s.kind, s.year],
                )
                .map_err(db)?;
                let first: i64 = tx
                    .query_row(
                        "UPDATE number_series SET next = next + ?4
                         WHERE department = ?1 AND kind = ?2 AND year = ?3 RETURNING next - ?4",
                        params![s.department, s.kind, s.year, count],
                        |r| r.get(0),
                    )
                    .map_err(db)?;
                tx.execute(
                    "INSERT INTO number_grants (department, kind, year, first, count, device, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![s.department, s.kind, s.year, first, count, device, at_ms],
                )
                .map_err(db)?;
                out.push(Some(u32::try_from(first).map_err(|e| StorageError::Database(Box::new(e)))?));
            }
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn add_user(&self, user: ConsoleUser) -> Result<(), StorageError> {
        self.with(move |c| console::add_user(c, user)).await
    }

    async fn user(&self, name: String) -> Result<Option<ConsoleUser>, StorageError> {
        self.read(move |c| console::user(c, &name)).await
    }

    async fn users(&self) -> Result<Vec<ConsoleUser>, StorageError> {
        self.read(|c| console::users(c)).await
    }

    async fn set_password(&self, name: String, password_hash: String) -> Result<(), StorageError> {
        self.with(move |c| console::update_user(c, &name, "password_hash", &password_hash)).await
    }

    async fn set_disabled(&self, name: String, disabled: bool) -> Result<(), StorageError> {
        self.with(move |c| console::update_user(c, &name, "disabled", &disabled)).await
    }

    async fn create_session(&self, session: ConsoleSession, now_ms: i64) -> Result<(), StorageError> {
        self.with(move |c| console::create_session(c, session, now_ms)).await
    }

    async fn session(&self, token_sha256: String, now_ms: i64) -> Result<Option<ConsoleSession>, StorageError> {
        self.read(move |c| console::session(c, &token_sha256, now_ms)).await
    }

    async fn end_session(&self, token_sha256: String) -> Result<(), StorageError> {
        self.with(move |c| console::end_session(c, &token_sha256)).await
    }

    async fn planned_tasks(&self) -> Result<Vec<String>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT task_json FROM records ORDER BY id").map_err(db)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(db)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(db)
        })
        .await
    }

    async fn directory(&self) -> Result<Option<String>, StorageError> {
        self.read(|c| c.query_row("SELECT json FROM directory WHERE id = 1", [], |r| r.get(0)).optional().map_err(db))
            .await
    }

    async fn create_enrolment(
        &self,
        code_sha256: String,
        inspector: String,
        expires_ms: i64,
    ) -> Result<(), StorageError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO enrolments (code_sha256, inspector, expires_ms) VALUES (?1, ?2, ?3)",
                params![code_sha256, inspector, expires_ms],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn enrolments(&self) -> Result<Vec<EnrolmentSummary>, StorageError> {
        self.read(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT substr(code_sha256, 1, 8), inspector, expires_ms, used_by_device FROM enrolments
                     ORDER BY expires_ms DESC",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(EnrolmentSummary {
                        code_hash_prefix: r.get(0)?,
                        inspector: r.get(1)?,
                        expires_ms: r.get(2)?,
                        used_by_device: r.get(3)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn record_ids(&self) -> Result<Vec<String>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id FROM records ORDER BY id").map_err(db)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(db)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(db)
        })
        .await
    }

    async fn enrolment_used_by(&self, code_sha256: String) -> Result<Option<String>, StorageError> {
        self.read(move |c| {
            c.query_row("SELECT used_by_device FROM enrolments WHERE code_sha256 = ?1", [code_sha256], |r| r.get(0))
                .optional()
                .map(Option::flatten)
                .map_err(db)
        })
        .await
    }

    async fn enrolment_inspector(&self, code_sha256: String, now_ms: i64) -> Result<String, StorageError> {
        self.read(move |c| enrolment_inspector(c, &code_sha256, now_ms)).await
    }

    async fn enrol(&self, code_sha256: String, now_ms: i64, device: DeviceRecord) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            enrolment_inspector(&tx, &code_sha256, now_ms)?;
            // A device key enrolled before (its certificate expired, or the device refused the
            // answer) is enrolled again with the new code: a new certificate, the same device code.
            tx.execute(
                "INSERT INTO devices (device, public_key, inspector, certificate, serial, device_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(device) DO UPDATE SET inspector = ?3, certificate = ?4, serial = ?5",
                params![device.device, device.public_key.to_vec(), device.inspector, device.certificate, device.serial, device.device_code],
            )
            .map_err(db)?;
            tx.execute("UPDATE enrolments SET used_by_device = ?2 WHERE code_sha256 = ?1", params![code_sha256, device.device])
                .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn device(&self, device: String) -> Result<Option<DeviceRecord>, StorageError> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT device, public_key, inspector, certificate, serial, device_code FROM devices WHERE device = ?1",
            )
            .map_err(db)?
            .query_row([device], device_row)
            .optional()
            .map_err(db)?
            .transpose()
        })
        .await
    }

    async fn device_session(&self, device: String) -> Result<Option<DeviceSession>, StorageError> {
        self.read_now(move |c| {
            c.prepare_cached(DEVICE_SESSION)
                .map_err(db)?
                .query_row([device], |r| {
                    let revocation = match r.get::<_, Option<String>>(6)? {
                        Some(serial) => {
                            Some(Revocation { serial, device: r.get(7)?, revoked_at_ms: r.get(8)?, reason: r.get(9)? })
                        }
                        None => None,
                    };
                    let (revocations, directory_version) = (r.get::<_, i64>(10)? as u64, r.get(11)?);
                    Ok(device_row(r)?.map(|device| DeviceSession {
                        device,
                        revocation,
                        revocations,
                        directory_version,
                    }))
                })
                .optional()
                .map_err(db)?
                .transpose()
        })
        .await
    }

    async fn devices(&self) -> Result<Vec<DeviceSummary>, StorageError> {
        self.read(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT d.device, d.inspector, d.device_code, d.serial,
                            (SELECT max(n.at_ms) FROM nonces n WHERE n.device = d.device)
                     FROM devices d ORDER BY d.inspector, d.device_code",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(DeviceSummary {
                        device: r.get(0)?,
                        inspector: r.get(1)?,
                        device_code: r.get(2)?,
                        serial: r.get(3)?,
                        last_request_ms: r.get(4)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn next_serial(&self) -> Result<u64, StorageError> {
        self.with(|c| {
            let tx = write_transaction(c)?;
            let next: i64 = tx
                .query_row("SELECT next FROM serials WHERE id = 1", [], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or(StorageError::NoTenant)?;
            tx.execute("UPDATE serials SET next = next + 1 WHERE id = 1", []).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(next as u64)
        })
        .await
    }

    async fn revoke(&self, device: String, reason: String, at_ms: i64) -> Result<Revocation, StorageError> {
        self.with(move |c| {
            let serial: String = c
                .query_row("SELECT serial FROM devices WHERE device = ?1", [&device], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or_else(|| StorageError::UnknownDevice(device.clone()))?;
            c.execute(
                "INSERT INTO revocations (device, serial, revoked_at_ms, reason) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(device) DO NOTHING",
                params![device, serial, at_ms, reason],
            )
            .map_err(db)?;
            c.query_row(
                "SELECT serial, device, revoked_at_ms, reason FROM revocations WHERE device = ?1",
                [&device],
                |r| {
                    Ok(Revocation { serial: r.get(0)?, device: r.get(1)?, revoked_at_ms: r.get(2)?, reason: r.get(3)? })
                },
            )
            .map_err(db)
        })
        .await
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StorageError> {
        self.read(|c| {
            let mut stmt = c
                .prepare("SELECT serial, device, revoked_at_ms, reason FROM revocations ORDER BY revoked_at_ms, serial")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(Revocation { serial: r.get(0)?, device: r.get(1)?, revoked_at_ms: r.get(2)?, reason: r.get(3)? })
                })
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn revocation(&self, device: String) -> Result<Option<Revocation>, StorageError> {
        self.read(move |c| {
            c.prepare_cached("SELECT serial, device, revoked_at_ms, reason FROM revocations WHERE device = ?1")
                .map_err(db)?
                .query_row([device], |r| {
                    Ok(Revocation { serial: r.get(0)?, device: r.get(1)?, revoked_at_ms: r.get(2)?, reason: r.get(3)? })
                })
                .optional()
                .map_err(db)
        })
        .await
    }

    async fn enrolment_failed(&self, keys: Vec<String>, at_ms: i64, horizon_ms: i64) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            tx.execute("DELETE FROM enrolment_failures WHERE at_ms < ?1", [horizon_ms]).map_err(db)?;
            for key in &keys {
                tx.execute("INSERT INTO enrolment_failures (key, at_ms) VALUES (?1, ?2)", params![key, at_ms])
                    .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn enrolment_nth_failure(
        &self,
        keys: Vec<String>,
        nth: u32,
        since_ms: i64,
    ) -> Result<Option<i64>, StorageError> {
        self.read(move |c| {
            let mut latest: Option<i64> = None;
            let mut stmt = c
                .prepare_cached(
                    "SELECT at_ms FROM enrolment_failures WHERE key = ?1 AND at_ms >= ?2
                     ORDER BY at_ms DESC LIMIT 1 OFFSET ?3",
                )
                .map_err(db)?;
            for key in &keys {
                let at: Option<i64> = stmt
                    .query_row(params![key, since_ms, i64::from(nth.saturating_sub(1))], |r| r.get(0))
                    .optional()
                    .map_err(db)?;
                latest = latest.max(at);
            }
            Ok(latest)
        })
        .await
    }

    async fn remember_nonce(
        &self,
        device: String,
        nonce: String,
        at_ms: i64,
        horizon_ms: i64,
    ) -> Result<bool, StorageError> {
        self.nonces.remember(device, nonce, at_ms, horizon_ms).await
    }

    async fn record_meta(&self, id: String) -> Result<Option<RecordMeta>, StorageError> {
        self.read(move |c| record_meta(c, &id)).await
    }

    async fn record_bytes(&self, id: String) -> Result<Option<StoredRecord>, StorageError> {
        self.read(move |c| {
            let tx = c.transaction().map_err(db)?;
            let version: Option<i64> = tx
                .query_row("SELECT version FROM records WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let Some(version) = version else { return Ok(None) };
            let chunks = tx
                .prepare_cached("SELECT bytes FROM record_chunks WHERE doc = ?1 ORDER BY n")
                .map_err(db)?
                .query_map([&id], |r| r.get(0))
                .map_err(db)?
                .collect::<Result<Vec<Vec<u8>>, _>>()
                .map_err(db)?;
            Ok(Some(StoredRecord { chunks, version: version as u64 }))
        })
        .await
    }

    async fn create_records(&self, docs: Vec<NewRecord>) -> Result<u64, StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            for doc in docs {
                insert_record(&tx, doc)?;
            }
            tx.commit().map_err(db)?;
            Ok(1)
        })
        .await
    }

    async fn append_record(
        &self,
        id: String,
        expected_version: u64,
        chunk: Vec<u8>,
        heads: Vec<String>,
        facts: String,
    ) -> Result<u64, StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            let row: Option<(i64, i64)> = tx
                .query_row("SELECT version, chunks FROM records WHERE id = ?1", [&id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db)?;
            let (version, chunks) = row.ok_or_else(|| StorageError::UnknownRecord(id.clone()))?;
            if version as u64 != expected_version {
                return Err(StorageError::VersionConflict(id));
            }
            let seq = next_feed_seq(&tx)?;
            tx.execute(
                "INSERT INTO record_chunks (doc, n, bytes) VALUES (?1, ?2, ?3)",
                params![id, chunks + 1, chunk],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE records SET heads = ?2, size = size + ?3, version = version + 1, chunks = chunks + 1, feed_seq = ?4
                 WHERE id = ?1",
                params![id, join_heads(&heads), chunk.len() as i64, seq],
            )
            .map_err(db)?;
            put_facts(&tx, &id, &facts)?;
            tx.commit().map_err(db)?;
            Ok(expected_version + 1)
        })
        .await
    }

    async fn task_facts(&self) -> Result<Vec<StoredFacts>, StorageError> {
        self.read(|c| {
            // The summaries in storage order (one scan of their table), then the few records
            // without one (a scan of the records' key index only).
            let tx = c.transaction().map_err(db)?;
            let mut out = Vec::new();
            {
                let mut stmt = tx.prepare("SELECT doc, facts FROM record_facts").map_err(db)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, Some(r.get(1)?)))).map_err(db)?;
                for row in rows {
                    out.push(row.map_err(db)?);
                }
                let mut stmt = tx
                    .prepare(
                        "SELECT id FROM records WHERE NOT EXISTS (SELECT 1 FROM record_facts WHERE doc = records.id)",
                    )
                    .map_err(db)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, None))).map_err(db)?;
                for row in rows {
                    out.push(row.map_err(db)?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn facts_since(&self, since: u64) -> Result<(u64, Vec<StoredFacts>), StorageError> {
        self.read(move |c| {
            let tx = c.transaction().map_err(db)?;
            let head: i64 = tx.query_row("SELECT seq FROM feed_counter WHERE id = 1", [], |r| r.get(0)).map_err(db)?;
            let rows = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT r.id, f.facts FROM records r LEFT JOIN record_facts f ON f.doc = r.id WHERE r.feed_seq > ?1",
                    )
                    .map_err(db)?;
                let rows = stmt.query_map([since as i64], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db)?
            };
            Ok((head as u64, rows))
        })
        .await
    }

    async fn put_facts(&self, id: String, version: u64, facts: String) -> Result<bool, StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            let at: Option<i64> = tx
                .query_row("SELECT version FROM records WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            if at.map(|v| v as u64) != Some(version) {
                return Ok(false);
            }
            put_facts(&tx, &id, &facts)?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn compact_record(&self, id: String, expected_version: u64, snapshot: Vec<u8>) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            let version: i64 = tx
                .query_row("SELECT version FROM records WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or_else(|| StorageError::UnknownRecord(id.clone()))?;
            if version as u64 != expected_version {
                return Err(StorageError::VersionConflict(id));
            }
            tx.execute("DELETE FROM record_chunks WHERE doc = ?1", [&id]).map_err(db)?;
            tx.execute("INSERT INTO record_chunks (doc, n, bytes) VALUES (?1, 0, ?2)", params![id, snapshot])
                .map_err(db)?;
            tx.execute(
                "UPDATE records SET size = ?2, chunks = 0, version = version + 1 WHERE id = ?1",
                params![id, snapshot.len() as i64],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn assign(&self, id: String, inspector: String, active: bool) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            let exists: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM records WHERE id = ?1)", [&id], |r| r.get(0)).map_err(db)?;
            if !exists {
                return Err(StorageError::UnknownRecord(id));
            }
            let seq = next_feed_seq(&tx)?;
            tx.execute(
                "INSERT INTO assignments (doc, inspector, active, seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(inspector, doc) DO UPDATE SET active = ?3, seq = ?4",
                params![id, inspector, active, seq],
            )
            .map_err(db)?;
            if active {
                tx.execute("UPDATE records SET feed_seq = ?2 WHERE id = ?1", params![id, seq]).map_err(db)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn feed(
        &self,
        inspector: String,
        departments: Vec<String>,
        since: u64,
        limit: u32,
    ) -> Result<FeedPage, StorageError> {
        // A bounded page by index: short enough to run on the calling thread.
        self.read_now(move |c| {
            let departments = serde_json::to_string(&departments).map_err(|e| StorageError::Database(Box::new(e)))?;
            // One read transaction: the head and the rows come from the same snapshot.
            let tx = c.transaction().map_err(db)?;
            let head = tx
                .prepare_cached("SELECT seq FROM feed_counter WHERE id = 1")
                .map_err(db)?
                .query_row([], |r| r.get::<_, i64>(0))
                .map_err(db)? as u64;
            let mut stmt = tx.prepare_cached(FEED).map_err(db)?;
            let rows = stmt
                .query_map(params![since as i64, inspector, departments], |r| {
                    Ok(FeedRow {
                        seq: r.get::<_, i64>(0)? as u64,
                        id: r.get(1)?,
                        heads: split_heads(&r.get::<_, String>(2)?),
                        removed: r.get(3)?,
                    })
                })
                .map_err(db)?
                .take(limit as usize)
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            Ok(FeedPage { rows, head })
        })
        .await
    }

    async fn feed_head(&self) -> Result<u64, StorageError> {
        self.read(|c| {
            c.query_row("SELECT seq FROM feed_counter WHERE id = 1", [], |r| r.get::<_, i64>(0))
                .map(|s| s as u64)
                .map_err(db)
        })
        .await
    }

    async fn audit_head(&self, device: String) -> Result<(u64, String), StorageError> {
        self.read(move |c| audit_head(c, &device)).await
    }

    async fn append_audit(
        &self,
        device: String,
        expected_seq: u64,
        entries: Vec<StoredAuditEntry>,
    ) -> Result<u64, StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            let (seq, _) = audit_head(&tx, &device)?;
            if seq != expected_seq {
                return Err(StorageError::AuditHeadMoved(seq));
            }
            let size = audit_size(&tx)?;
            for (i, e) in entries.iter().enumerate() {
                tx.prepare_cached(
                    "INSERT INTO audit_entries (leaf, device, seq, hash, leaf_hash, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db)?
                .execute(params![(size + 1 + i as u64) as i64, e.device, e.seq as i64, e.hash, e.leaf_hash, e.json])
                .map_err(db)?;
            }
            store_audit_nodes(&tx, size, &super::leaf_hashes(&entries)?)?;
            tx.commit().map_err(db)?;
            Ok(size + entries.len() as u64)
        })
        .await
    }

    async fn audit_entry_hash(&self, device: String, seq: u64) -> Result<Option<String>, StorageError> {
        self.read(move |c| {
            c.prepare_cached("SELECT hash FROM audit_entries WHERE device = ?1 AND seq = ?2")
                .map_err(db)?
                .query_row(params![device, seq as i64], |r| r.get(0))
                .optional()
                .map_err(db)
        })
        .await
    }

    async fn audit_chain(&self, device: String, limit: u32) -> Result<Vec<StoredAuditEntry>, StorageError> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, hash, leaf_hash, json FROM audit_entries WHERE device = ?1 ORDER BY seq DESC LIMIT ?2",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![device, i64::from(limit)], |r| {
                    Ok(StoredAuditEntry {
                        device: device.clone(),
                        seq: r.get::<_, i64>(0)? as u64,
                        hash: r.get(1)?,
                        leaf_hash: r.get(2)?,
                        json: r.get(3)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn audit_size(&self) -> Result<u64, StorageError> {
        self.read(|c| audit_size(c)).await
    }

    async fn audit_nodes(&self, keys: Vec<NodeKey>) -> Result<std::collections::HashMap<NodeKey, Hash>, StorageError> {
        self.read(move |c| audit_nodes(c, &keys)).await
    }

    async fn audit_leaf_index(&self, device: String, seq: u64) -> Result<Option<u64>, StorageError> {
        self.read(move |c| {
            c.query_row(
                "SELECT leaf FROM audit_entries WHERE device = ?1 AND seq = ?2",
                params![device, seq as i64],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|o| o.map(|l| (l - 1) as u64))
            .map_err(db)
        })
        .await
    }

    async fn add_blob_refs(&self, id: String, device: String, sha256: Vec<String>) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = write_transaction(c)?;
            for sha in &sha256 {
                tx.prepare_cached("INSERT OR IGNORE INTO blob_references (sha256, doc, device) VALUES (?1, ?2, ?3)")
                    .map_err(db)?
                    .execute(params![sha, id, device])
                    .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn add_blob_holder(&self, sha256: String, device: String) -> Result<(), StorageError> {
        self.with(move |c| {
            c.prepare_cached("INSERT OR IGNORE INTO blob_holders (sha256, device) VALUES (?1, ?2)")
                .map_err(db)?
                .execute(params![sha256, device])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn may_read_blob(
        &self,
        sha256: String,
        inspector: String,
        departments: Vec<String>,
    ) -> Result<bool, StorageError> {
        self.read(move |c| blob_visible(c, &sha256, &inspector, &departments, true)).await
    }

    async fn blob_referenced(
        &self,
        sha256: String,
        inspector: String,
        departments: Vec<String>,
    ) -> Result<bool, StorageError> {
        self.read(move |c| blob_visible(c, &sha256, &inspector, &departments, false)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(id: &str, department: &str, inspector: &str) -> NewRecord {
        NewRecord {
            id: id.into(),
            task_json: "{}".into(),
            departments: vec![department.into()],
            inspectors: vec![inspector.into()],
            heads: Vec::new(),
            snapshot: vec![0],
            facts: String::new(),
        }
    }

    #[tokio::test]
    async fn the_statements_of_every_sync_are_planned_once_per_connection() {
        // A cached statement whose plan depends on a bound value (EXISTS (… = ?), LIMIT ?) is
        // recompiled by SQLite each time it is reused: that once cost a third of a no-op's CPU.
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        for n in 0..3 {
            storage.create_record(document(&format!("330482-20261201-AAAAAAA{n}"), "xfjy", "xfjy-01")).await.unwrap();
        }
        let mut conn = Connection::open(dir.path().join("server.sqlite")).unwrap();
        let hot =
            [(FEED, 3), ("SELECT seq FROM feed_counter WHERE id = 1", 0), (DEVICE_SESSION, 1), (nonces::INSERT, 3)];
        for (sql, params) in hot {
            for round in 0..5i64 {
                let tx = conn.transaction().unwrap();
                {
                    let mut stmt = tx.prepare_cached(sql).unwrap();
                    let values: Vec<rusqlite::types::Value> = [
                        rusqlite::types::Value::Integer(round),
                        rusqlite::types::Value::Text(format!("xfjy-0{round}")),
                        rusqlite::types::Value::Text(format!("[\"d{round}\"]")),
                    ][..params]
                        .to_vec();
                    let mut rows = stmt.query(rusqlite::params_from_iter(values)).unwrap();
                    while rows.next().unwrap().is_some() {}
                    drop(rows);
                    if round == 4 {
                        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql}");
                    }
                }
                tx.commit().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn a_data_directory_from_before_records_were_named_so_keeps_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let id = "330482-20261201-AAAAAAAA";
        {
            let storage = SqliteStorage::open(dir.path()).unwrap();
            storage.create_record(document(id, "xfjy", "xfjy-01")).await.unwrap();
        }
        // Back to the old names, as an older server left them.
        let conn = Connection::open(dir.path().join("server.sqlite")).unwrap();
        conn.execute_batch(
            "ALTER TABLE records RENAME TO documents;
             ALTER TABLE record_chunks RENAME TO document_chunks;
             ALTER TABLE record_departments RENAME TO document_departments;
             DROP INDEX records_by_feed;
             CREATE UNIQUE INDEX documents_by_feed ON documents(feed_seq);",
        )
        .unwrap();
        drop(conn);
        let storage = SqliteStorage::open(dir.path()).unwrap();
        assert_eq!(storage.record_bytes(id.into()).await.unwrap().map(|r| r.version), Some(1));
        assert!(storage.record_meta(id.into()).await.unwrap().is_some());
        let conn = storage.conn.lock().unwrap();
        let old: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master WHERE name LIKE 'document%'", [], |r| r.get(0)).unwrap();
        assert_eq!(old, 0, "no table or index keeps the old name");
    }

    #[tokio::test]
    async fn a_data_directory_from_before_the_tree_nodes_were_stored_gets_them_from_its_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |seq: u64| StoredAuditEntry {
            device: "d".into(),
            seq,
            hash: format!("{seq:064x}"),
            leaf_hash: hex::encode(merkle::leaf_hash(&seq.to_be_bytes())),
            json: "{}".into(),
        };
        {
            let storage = SqliteStorage::open(dir.path()).unwrap();
            storage.append_audit("d".into(), 0, (1..=11).map(entry).collect()).await.unwrap();
            storage.conn.lock().unwrap().execute("DELETE FROM audit_nodes", []).unwrap();
        }
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let leaves: Vec<Hash> = (1..=11u64).map(|s| merkle::leaf_hash(&s.to_be_bytes())).collect();
        let keys = merkle::range_nodes(0, 11);
        let nodes = storage.audit_nodes(keys.clone()).await.unwrap();
        let frontier: Vec<Hash> = keys.iter().map(|k| nodes[k]).collect();
        assert_eq!(merkle::fold_nodes(&frontier), merkle::root(&leaves));
        // And appends continue from the rebuilt nodes.
        storage.append_audit("d".into(), 11, vec![entry(12)]).await.unwrap();
        let keys = merkle::range_nodes(0, 12);
        let nodes = storage.audit_nodes(keys.clone()).await.unwrap();
        let all: Vec<Hash> = (1..=12u64).map(|s| merkle::leaf_hash(&s.to_be_bytes())).collect();
        assert_eq!(merkle::fold_nodes(&keys.iter().map(|k| nodes[k]).collect::<Vec<_>>()), merkle::root(&all));
    }
}
