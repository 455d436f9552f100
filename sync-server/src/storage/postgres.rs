//! PostgreSQL storage for a city that outgrows one SQLite file: any number of server replicas
//! share one database. Every rule the embedded default keeps by holding its only connection is
//! kept here by row locks inside transactions, so that it holds across processes:
//! - an append or compaction locks the record's row (`FOR UPDATE`) and checks its version;
//! - feed positions come from one counter row updated last in each writing transaction, so they
//!   are handed out in commit order and a device's cursor never skips a write still in flight;
//! - an enrolment code's row is locked before it is spent (used exactly once);
//! - audit appends lock the tenant's tree row, so leaves get dense indices in one order.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use onevisit_core::certificate::Revocation;
use onevisit_core::sync::merkle::{self, Hash, NodeKey};
use onevisit_core::sync::wire::NumberSeries;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

mod console;
mod nonces;

use super::{
    ConsoleSession, ConsoleUser, DeviceRecord, DeviceSession, DeviceSummary, EnrolmentSummary, FeedPage, FeedRow,
    NewRecord, RecordMeta, Storage, StorageError, StoredAuditEntry, StoredDraw, StoredFacts, StoredRecord,
    TenantRecord,
};

/// The schema, one migration per entry; a database records how many it has applied.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE tenant (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        tenant TEXT NOT NULL,
        ca_public_key BYTEA NOT NULL,
        sealed_ca_seed BYTEA NOT NULL
    );
    CREATE TABLE directory (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        json TEXT NOT NULL,
        version TEXT NOT NULL
    );
    CREATE TABLE enrolments (
        code_sha256 TEXT PRIMARY KEY,
        inspector TEXT NOT NULL,
        expires_ms BIGINT NOT NULL,
        used_by_device TEXT
    );
    CREATE TABLE devices (
        device TEXT PRIMARY KEY,
        public_key BYTEA NOT NULL,
        inspector TEXT NOT NULL,
        certificate TEXT NOT NULL,
        serial TEXT NOT NULL UNIQUE,
        device_code TEXT NOT NULL UNIQUE
    );
    CREATE TABLE serials (id INTEGER PRIMARY KEY CHECK (id = 1), next BIGINT NOT NULL);
    CREATE TABLE revocations (
        device TEXT PRIMARY KEY REFERENCES devices(device),
        serial TEXT NOT NULL,
        revoked_at_ms BIGINT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE nonces (
        device TEXT NOT NULL,
        nonce TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (device, nonce)
    );
    CREATE INDEX nonces_by_time ON nonces(at_ms);
    CREATE INDEX nonces_by_device_time ON nonces(device, at_ms);
    CREATE TABLE feed_counter (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
    INSERT INTO feed_counter (id, seq) VALUES (1, 0);
    CREATE SEQUENCE records_placeholder;
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        task_json TEXT NOT NULL,
        heads TEXT NOT NULL,
        size BIGINT NOT NULL,
        version BIGINT NOT NULL,
        chunks BIGINT NOT NULL DEFAULT 0,
        feed_seq BIGINT NOT NULL UNIQUE
    );
    CREATE TABLE record_chunks (
        doc TEXT NOT NULL REFERENCES records(id),
        n BIGINT NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (doc, n)
    );
    CREATE TABLE record_departments (
        doc TEXT NOT NULL REFERENCES records(id),
        department TEXT NOT NULL,
        PRIMARY KEY (department, doc)
    );
    CREATE INDEX record_departments_by_doc ON record_departments(doc);
    CREATE TABLE assignments (
        doc TEXT NOT NULL REFERENCES records(id),
        inspector TEXT NOT NULL,
        active BOOLEAN NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (inspector, doc)
    );
    CREATE INDEX assignments_by_doc ON assignments(doc);
    CREATE TABLE blob_references (
        sha256 TEXT NOT NULL,
        doc TEXT NOT NULL REFERENCES records(id),
        device TEXT NOT NULL,
        PRIMARY KEY (sha256, doc, device)
    );
    CREATE TABLE blob_holders (
        sha256 TEXT NOT NULL,
        device TEXT NOT NULL,
        PRIMARY KEY (sha256, device)
    );
    CREATE TABLE audit_tree (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL);
    INSERT INTO audit_tree (id, size) VALUES (1, 0);
    CREATE TABLE audit_entries (
        leaf BIGINT PRIMARY KEY,
        device TEXT NOT NULL,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        leaf_hash TEXT NOT NULL,
        json TEXT NOT NULL,
        UNIQUE (device, seq)
    );
    CREATE TABLE enrolment_failures (key TEXT NOT NULL, at_ms BIGINT NOT NULL);
    CREATE INDEX enrolment_failures_by_key ON enrolment_failures(key, at_ms);
    CREATE TABLE audit_nodes (
        level INTEGER NOT NULL,
        idx BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        PRIMARY KEY (level, idx)
    );
",
    "
    CREATE INDEX assignments_by_state ON assignments(inspector, active, seq);
",
    "
    CREATE TABLE draws (
        plan_id TEXT PRIMARY KEY,
        plan_json TEXT NOT NULL,
        nonce TEXT NOT NULL,
        commitment TEXT NOT NULL,
        committed_at_ms BIGINT NOT NULL,
        record TEXT
    );
",
    "
    CREATE TABLE record_facts (
        doc TEXT PRIMARY KEY REFERENCES records(id),
        facts TEXT NOT NULL
    );
",
    console::SCHEMA,
    "
    CREATE TABLE number_series (
        department TEXT NOT NULL,
        kind TEXT NOT NULL,
        year INTEGER NOT NULL,
        next BIGINT NOT NULL,
        PRIMARY KEY (department, kind, year)
    );
    CREATE TABLE number_grants (
        department TEXT NOT NULL,
        kind TEXT NOT NULL,
        year INTEGER NOT NULL,
        first BIGINT NOT NULL,
        count BIGINT NOT NULL,
        device TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (department, kind, year, first)
    );
    CREATE INDEX number_grants_by_device ON number_grants(device, department, kind, year);
",
];

/// The advisory lock key under which replicas starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x4f56_5f4d_4947; // "OV_MIG"

/// Connections one server process keeps at most.
const DEFAULT_POOL_SIZE: usize = 16;

/// How long connecting may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const GENESIS: &str = onevisit_core::audit::GENESIS_HASH;

/// PostgreSQL storage: a pool of connections to one database.
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Pool,
    /// The task that records request nonces in batches.
    nonces: super::nonce_batch::NonceQueue,
}

fn db(e: tokio_postgres::Error) -> StorageError {
    StorageError::Database(Box::new(e))
}

fn pool_error(e: deadpool_postgres::PoolError) -> StorageError {
    StorageError::Database(Box::new(e))
}

/// Where a configuration points, without its password (for messages).
fn target_of(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_string());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(config.get_user().unwrap_or("postgres")))
}

/// A connection failure as what the administrator must fix.
fn connect_error(e: tokio_postgres::Error, config: &tokio_postgres::Config) -> StorageError {
    let target = target_of(config);
    match e.code() {
        Some(code) if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            StorageError::DatabaseLogin { target, user: config.get_user().unwrap_or_default().to_string() }
        }
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => StorageError::NoSuchDatabase(target),
        Some(_) => db(e),
        None => StorageError::DatabaseUnreachable { target, source: Box::new(e) },
    }
}

fn join_heads(heads: &[String]) -> String {
    heads.join(",")
}

fn split_heads(text: &str) -> Vec<String> {
    if text.is_empty() { Vec::new() } else { text.split(',').map(str::to_string).collect() }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Takes the next feed position: the counter row stays locked until the caller commits, so
/// positions become visible in the order they were taken. Call it last in a transaction.
async fn next_feed_seq(tx: &deadpool_postgres::Transaction<'_>) -> Result<i64, StorageError> {
    let stmt =
        tx.prepare_cached("UPDATE feed_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq").await.map_err(db)?;
    tx.query_one(&stmt, &[]).await.map_err(db).map(|r| r.get(0))
}

/// Inserts one new record, its first chunk, departments and assignments inside `tx`; its feed
/// position is taken last, so the feed counter's row stays locked as briefly as possible.
async fn insert_record(tx: &deadpool_postgres::Transaction<'_>, doc: NewRecord) -> Result<(), StorageError> {
    let size = i64::try_from(doc.snapshot.len()).unwrap_or(i64::MAX);
    // A placeholder feed position (negative, unique per record) until the real one is taken last.
    let insert = tx
        .prepare_cached(
            "INSERT INTO records (id, task_json, heads, size, version, chunks, feed_seq)
             VALUES ($1, $2, $3, $4, 1, 0, -nextval('records_placeholder'))
             ON CONFLICT (id) DO NOTHING",
        )
        .await
        .map_err(db)?;
    let inserted = tx.execute(&insert, &[&doc.id, &doc.task_json, &join_heads(&doc.heads), &size]).await.map_err(db)?;
    if inserted == 0 {
        return Err(StorageError::RecordExists(doc.id));
    }
    let chunk = tx.prepare_cached("INSERT INTO record_chunks (doc, n, bytes) VALUES ($1, 0, $2)").await.map_err(db)?;
    tx.execute(&chunk, &[&doc.id, &doc.snapshot]).await.map_err(db)?;
    put_facts(tx, &doc.id, &doc.facts).await?;
    let departments = tx
        .prepare_cached(
            "INSERT INTO record_departments (doc, department) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(db)?;
    tx.execute(&departments, &[&doc.id, &doc.departments]).await.map_err(db)?;
    let seq = next_feed_seq(tx).await?;
    let place = tx.prepare_cached("UPDATE records SET feed_seq = $2 WHERE id = $1").await.map_err(db)?;
    tx.execute(&place, &[&doc.id, &seq]).await.map_err(db)?;
    let assign = tx
        .prepare_cached(
            "INSERT INTO assignments (doc, inspector, active, seq) SELECT $1, unnest($2::text[]), true, $3
             ON CONFLICT (inspector, doc) DO UPDATE SET active = true, seq = EXCLUDED.seq",
        )
        .await
        .map_err(db)?;
    tx.execute(&assign, &[&doc.id, &doc.inspectors, &seq]).await.map_err(db)?;
    Ok(())
}

/// A read-only transaction whose reads all see one snapshot.
async fn snapshot(c: &mut deadpool_postgres::Object) -> Result<deadpool_postgres::Transaction<'_>, StorageError> {
    c.build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)
}

/// Stores (or replaces) a record's summary for the figures.
async fn put_facts(tx: &deadpool_postgres::Transaction<'_>, id: &str, facts: &str) -> Result<(), StorageError> {
    let upsert = tx
        .prepare_cached(
            "INSERT INTO record_facts (doc, facts) VALUES ($1, $2) ON CONFLICT (doc) DO UPDATE SET facts = EXCLUDED.facts",
        )
        .await
        .map_err(db)?;
    tx.execute(&upsert, &[&id, &facts]).await.map_err(db)?;
    Ok(())
}

/// The inspector an unused, unexpired code is for; with `lock`, its row stays locked until commit.
async fn enrolment_inspector(
    c: &impl tokio_postgres::GenericClient,
    code: &str,
    now_ms: i64,
    lock: bool,
) -> Result<String, StorageError> {
    let sql = if lock {
        "SELECT inspector, expires_ms, used_by_device FROM enrolments WHERE code_sha256 = $1 FOR UPDATE"
    } else {
        "SELECT inspector, expires_ms, used_by_device FROM enrolments WHERE code_sha256 = $1"
    };
    let row = c.query_opt(sql, &[&code]).await.map_err(db)?;
    let Some(row) = row else { return Err(StorageError::UnknownCode) };
    let used: Option<String> = row.get(2);
    let expires: i64 = row.get(1);
    match used {
        Some(_) => Err(StorageError::CodeUsed),
        None if expires < now_ms => Err(StorageError::CodeExpired),
        None => Ok(row.get(0)),
    }
}

/// A device from the first six columns of `row` (device, key, inspector, certificate, serial,
/// code); a stored key of the wrong length is a storage error.
fn device_row(row: &Row) -> Result<DeviceRecord, StorageError> {
    let key: Vec<u8> = row.get(1);
    let public_key = key.try_into().map_err(|_| StorageError::Database("malformed device key".into()))?;
    Ok(DeviceRecord {
        device: row.get(0),
        public_key,
        inspector: row.get(2),
        certificate: row.get(3),
        serial: row.get(4),
        device_code: row.get(5),
    })
}

/// The columns of a stored draw, in `draw_row`'s order.
const DRAW_COLUMNS: &str = "SELECT plan_id, plan_json, nonce, commitment, committed_at_ms, record FROM draws";

fn draw_row(r: &Row) -> StoredDraw {
    StoredDraw {
        plan_id: r.get(0),
        plan_json: r.get(1),
        nonce: r.get(2),
        commitment: r.get(3),
        committed_at_ms: r.get(4),
        record: r.get(5),
    }
}

fn revocation(row: &Row) -> Revocation {
    Revocation { serial: row.get(0), device: row.get(1), revoked_at_ms: row.get(2), reason: row.get(3) }
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database` or
    /// key=value form) and brings its schema up to date; refuses a database migrated by a newer
    /// server.
    pub async fn connect(url: &str) -> Result<PostgresStorage, StorageError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| StorageError::DatabaseUrl(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("onevisit-server");
        }
        // Fail with what to fix before a pool is built around an unusable configuration.
        let (client, connection) = config.connect(NoTls).await.map_err(|e| connect_error(e, &config))?;
        let driver = tokio::spawn(connection);
        let migrated = migrate(&client).await;
        drop(client);
        driver.abort();
        migrated?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(DEFAULT_POOL_SIZE)
            .build()
            .map_err(|e| StorageError::Database(Box::new(e)))?;
        let nonces = nonces::start(pool.clone());
        Ok(PostgresStorage { pool, nonces })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// A pooled connection, for the move from SQLite (one transaction over every table).
    pub(crate) async fn raw_client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        self.client().await
    }

    /// Whether the tenant has been initialised in this database.
    pub async fn initialised(&self) -> Result<bool, StorageError> {
        let c = self.client().await?;
        c.query_one("SELECT EXISTS(SELECT 1 FROM tenant)", &[]).await.map_err(db).map(|r| r.get(0))
    }
}

/// Applies the migrations this database lacks, one replica at a time (an advisory lock).
async fn migrate(client: &tokio_postgres::Client) -> Result<(), StorageError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db)?;
    let result = migrate_locked(client).await;
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await.map_err(db);
    result.and(unlocked.map(|_| ()))
}

async fn migrate_locked(client: &tokio_postgres::Client) -> Result<(), StorageError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS onevisit_schema (
                version INTEGER PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(db)?;
    let applied: i32 =
        client.query_one("SELECT COALESCE(max(version), 0) FROM onevisit_schema", &[]).await.map_err(db)?.get(0);
    let known = MIGRATIONS.len();
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > known {
        return Err(StorageError::SchemaTooNew { found: applied as u64, supported: known as u64 });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        // Each migration and its record commit together: a crash leaves the schema as it was.
        client.batch_execute("BEGIN").await.map_err(db)?;
        let step = async {
            client.batch_execute(sql).await?;
            client.execute("INSERT INTO onevisit_schema (version) VALUES ($1)", &[&version]).await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = step {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(db(e));
        }
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}

/// Whether a record the inspector or departments may read references the blob — when
/// `uploaded_by_referrer`, only by a device that uploaded the bytes itself.
async fn blob_visible(
    c: &deadpool_postgres::Object,
    sha256: &str,
    inspector: &str,
    departments: &[String],
    uploaded_by_referrer: bool,
) -> Result<bool, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM blob_references b WHERE b.sha256 = $1
                AND (NOT $4 OR EXISTS (SELECT 1 FROM blob_holders h WHERE h.sha256 = b.sha256 AND h.device = b.device))
                AND (EXISTS (SELECT 1 FROM assignments a WHERE a.doc = b.doc AND a.inspector = $2 AND a.active)
                     OR EXISTS (SELECT 1 FROM record_departments x WHERE x.doc = b.doc AND x.department = ANY($3))))",
        )
        .await
        .map_err(db)?;
    c.query_one(&stmt, &[&sha256, &inspector, &departments, &uploaded_by_referrer]).await.map_err(db).map(|r| r.get(0))
}

async fn audit_head(c: &impl tokio_postgres::GenericClient, device: &str) -> Result<(u64, String), StorageError> {
    let row = c
        .query_opt("SELECT seq, hash FROM audit_entries WHERE device = $1 ORDER BY seq DESC LIMIT 1", &[&device])
        .await
        .map_err(db)?;
    Ok(row.map(|r| (to_u64(r.get(0)), r.get(1))).unwrap_or((0, GENESIS.to_string())))
}

/// The stored nodes among `keys`, in one query.
async fn audit_nodes(
    c: &impl tokio_postgres::GenericClient,
    keys: &[NodeKey],
) -> Result<std::collections::HashMap<NodeKey, Hash>, StorageError> {
    let levels: Vec<i32> = keys.iter().map(|(l, _)| i32::try_from(*l).unwrap_or(i32::MAX)).collect();
    let indices: Vec<i64> = keys.iter().map(|(_, i)| to_i64(*i)).collect();
    let rows = c
        .query(
            "SELECT n.level, n.idx, n.hash FROM audit_nodes n
             JOIN unnest($1::int[], $2::bigint[]) AS k(level, idx) ON n.level = k.level AND n.idx = k.idx",
            &[&levels, &indices],
        )
        .await
        .map_err(db)?;
    rows.iter()
        .map(|r| {
            let level: i32 = r.get(0);
            let hash: Vec<u8> = r.get(2);
            Ok(((u32::try_from(level).unwrap_or(0), to_u64(r.get(1))), super::tree_hash(&hash)?))
        })
        .collect()
}

impl Storage for PostgresStorage {
    async fn tenant(&self) -> Result<Option<TenantRecord>, StorageError> {
        let c = self.client().await?;
        let row = c
            .query_opt("SELECT tenant, ca_public_key, sealed_ca_seed FROM tenant WHERE id = 1", &[])
            .await
            .map_err(db)?;
        row.map(|r| {
            let key: Vec<u8> = r.get(1);
            let ca_public_key = key.try_into().map_err(|_| StorageError::Database("malformed CA key".into()))?;
            Ok(TenantRecord { tenant: r.get(0), ca_public_key, sealed_ca_seed: r.get(2) })
        })
        .transpose()
    }

    async fn init_tenant(&self, tenant: TenantRecord) -> Result<(), StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let inserted = tx
            .execute(
                "INSERT INTO tenant (id, tenant, ca_public_key, sealed_ca_seed) VALUES (1, $1, $2, $3)
                 ON CONFLICT (id) DO NOTHING",
                &[&tenant.tenant, &tenant.ca_public_key.as_slice(), &tenant.sealed_ca_seed],
            )
            .await
            .map_err(db)?;
        if inserted == 0 {
            return Err(StorageError::TenantExists);
        }
        tx.execute("INSERT INTO serials (id, next) VALUES (1, 1) ON CONFLICT (id) DO NOTHING", &[])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn put_directory(&self, json: String) -> Result<(), StorageError> {
        let c = self.client().await?;
        let version = super::directory_version(&json);
        c.execute(
            "INSERT INTO directory (id, json, version) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET json = EXCLUDED.json, version = EXCLUDED.version",
            &[&json, &version],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn directory_version(&self) -> Result<Option<String>, StorageError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached("SELECT version FROM directory WHERE id = 1").await.map_err(db)?;
        Ok(c.query_opt(&stmt, &[]).await.map_err(db)?.map(|r| r.get(0)))
    }

    async fn commit_draw(&self, draw: StoredDraw) -> Result<(), StorageError> {
        let c = self.client().await?;
        let inserted = c
            .execute(
                "INSERT INTO draws (plan_id, plan_json, nonce, commitment, committed_at_ms)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (plan_id) DO NOTHING",
                &[&draw.plan_id, &draw.plan_json, &draw.nonce, &draw.commitment, &draw.committed_at_ms],
            )
            .await
            .map_err(db)?;
        if inserted == 0 { Err(StorageError::DrawExists(draw.plan_id)) } else { Ok(()) }
    }

    async fn draw(&self, plan_id: String) -> Result<Option<StoredDraw>, StorageError> {
        let c = self.client().await?;
        let row = c.query_opt(&format!("{DRAW_COLUMNS} WHERE plan_id = $1"), &[&plan_id]).await.map_err(db)?;
        Ok(row.as_ref().map(draw_row))
    }

    async fn draws(&self) -> Result<Vec<StoredDraw>, StorageError> {
        let c = self.client().await?;
        let rows = c.query(&format!("{DRAW_COLUMNS} ORDER BY committed_at_ms DESC, plan_id"), &[]).await.map_err(db)?;
        Ok(rows.iter().map(draw_row).collect())
    }

    async fn publish_draw(&self, plan_id: String, record: String) -> Result<(), StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let stored =
            tx.query_opt("SELECT record FROM draws WHERE plan_id = $1 FOR UPDATE", &[&plan_id]).await.map_err(db)?;
        match stored.map(|r| r.get::<_, Option<String>>(0)) {
            None => return Err(StorageError::UnknownDraw(plan_id)),
            Some(Some(_)) => return Err(StorageError::DrawPublished(plan_id)),
            Some(None) => {}
        }
        tx.execute("UPDATE draws SET record = $2 WHERE plan_id = $1", &[&plan_id, &record]).await.map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn reserve_numbers(
        &self,
        device: String,
        series: Vec<NumberSeries>,
        count: u32,
        cap: u32,
        at_ms: i64,
    ) -> Result<Vec<Option<u32>>, StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let count = i64::from(count);
        let mut out = Vec::with_capacity(series.len());
        for s in &series {
            let held: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM number_grants
                     WHERE device = $1 AND department = $2 AND kind = $3 AND year = $4",
                    &[&device, &s.department, &s.kind, &s.year],
                )
                .await
                .map_err(db)?
                .get(0);
            if held >= i64::from(cap) {
                out.push(None);
                continue;
            }
            tx.execute(
                "INSERT INTO number_series (department, kind, year, next) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (department, kind, year) DO NOTHING",
                &[&s.department, &s.kind, &s.year],
            )
            .await
            .map_err(db)?;
            // The row lock this update takes orders replicas reserving the same series.
            let first: i64 = tx
                .query_one(
                    "UPDATE number_series SET next = next + $4
                     WHERE department = $1 AND kind = $2 AND year = $3 RETURNING next - $4",
                    &[&s.department, &s.kind, &s.year, &count],
                )
                .await
                .map_err(db)?
                .get(0);
            tx.execute(
                "INSERT INTO number_grants (department, kind, year, first, count, device, at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&s.department, &s.kind, &s.year, &first, &count, &device, &at_ms],
            )
            .await
            .map_err(db)?;
            out.push(Some(u32::try_from(first).map_err(|e| StorageError::Database(Box::new(e)))?));
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn add_user(&self, user: ConsoleUser) -> Result<(), StorageError> {
        console::add_user(&self.client().await?, user).await
    }

    async fn user(&self, name: String) -> Result<Option<ConsoleUser>, StorageError> {
        console::user(&self.client().await?, &name).await
    }

    async fn users(&self) -> Result<Vec<ConsoleUser>, StorageError> {
        console::users(&self.client().await?).await
    }

    async fn set_password(&self, name: String, password_hash: String) -> Result<(), StorageError> {
        console::update_user(&mut self.client().await?, &name, "password_hash", &password_hash).await
    }

    async fn set_disabled(&self, name: String, disabled: bool) -> Result<(), StorageError> {
        console::update_user(&mut self.client().await?, &name, "disabled", &disabled).await
    }

    async fn create_session(&self, session: ConsoleSession, now_ms: i64) -> Result<(), StorageError> {
        console::create_session(&mut self.client().await?, session, now_ms).await
    }

    async fn session(&self, token_sha256: String, now_ms: i64) -> Result<Option<ConsoleSession>, StorageError> {
        console::session(&self.client().await?, &token_sha256, now_ms).await
    }

    async fn end_session(&self, token_sha256: String) -> Result<(), StorageError> {
        console::end_session(&self.client().await?, &token_sha256).await
    }

    async fn planned_tasks(&self) -> Result<Vec<String>, StorageError> {
        let c = self.client().await?;
        let rows = c.query("SELECT task_json FROM records ORDER BY id", &[]).await.map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn directory(&self) -> Result<Option<String>, StorageError> {
        let c = self.client().await?;
        Ok(c.query_opt("SELECT json FROM directory WHERE id = 1", &[]).await.map_err(db)?.map(|r| r.get(0)))
    }

    async fn create_enrolment(
        &self,
        code_sha256: String,
        inspector: String,
        expires_ms: i64,
    ) -> Result<(), StorageError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO enrolments (code_sha256, inspector, expires_ms) VALUES ($1, $2, $3)",
            &[&code_sha256, &inspector, &expires_ms],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn enrol(&self, code_sha256: String, now_ms: i64, device: DeviceRecord) -> Result<(), StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // The code's row is locked: a second redemption waits here, then finds it spent.
        enrolment_inspector(&*tx, &code_sha256, now_ms, true).await?;
        tx.execute(
            "INSERT INTO devices (device, public_key, inspector, certificate, serial, device_code)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (device) DO UPDATE SET inspector = EXCLUDED.inspector,
                 certificate = EXCLUDED.certificate, serial = EXCLUDED.serial",
            &[
                &device.device,
                &device.public_key.as_slice(),
                &device.inspector,
                &device.certificate,
                &device.serial,
                &device.device_code,
            ],
        )
        .await
        .map_err(db)?;
        tx.execute("UPDATE enrolments SET used_by_device = $2 WHERE code_sha256 = $1", &[&code_sha256, &device.device])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn enrolments(&self) -> Result<Vec<EnrolmentSummary>, StorageError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT substr(code_sha256, 1, 8), inspector, expires_ms, used_by_device FROM enrolments
                 ORDER BY expires_ms DESC",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| EnrolmentSummary {
                code_hash_prefix: r.get(0),
                inspector: r.get(1),
                expires_ms: r.get(2),
                used_by_device: r.get(3),
            })
            .collect())
    }

    async fn enrolment_used_by(&self, code_sha256: String) -> Result<Option<String>, StorageError> {
        let c = self.client().await?;
        let row = c
            .query_opt("SELECT used_by_device FROM enrolments WHERE code_sha256 = $1", &[&code_sha256])
            .await
            .map_err(db)?;
        Ok(row.and_then(|r| r.get(0)))
    }

    async fn enrolment_inspector(&self, code_sha256: String, now_ms: i64) -> Result<String, StorageError> {
        let c = self.client().await?;
        enrolment_inspector(&**c, &code_sha256, now_ms, false).await
    }

    async fn device(&self, device: String) -> Result<Option<DeviceRecord>, StorageError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT device, public_key, inspector, certificate, serial, device_code FROM devices WHERE device = $1",
            )
            .await
            .map_err(db)?;
        c.query_opt(&stmt, &[&device]).await.map_err(db)?.as_ref().map(device_row).transpose()
    }

    async fn device_session(&self, device: String) -> Result<Option<DeviceSession>, StorageError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT d.device, d.public_key, d.inspector, d.certificate, d.serial, d.device_code,
                        r.serial, r.device, r.revoked_at_ms, r.reason,
                        (SELECT count(*) FROM revocations), (SELECT version FROM directory WHERE id = 1)
                 FROM devices d LEFT JOIN revocations r ON r.device = d.device WHERE d.device = $1",
            )
            .await
            .map_err(db)?;
        let Some(row) = c.query_opt(&stmt, &[&device]).await.map_err(db)? else { return Ok(None) };
        let revocation = row.get::<_, Option<String>>(6).map(|serial| Revocation {
            serial,
            device: row.get(7),
            revoked_at_ms: row.get(8),
            reason: row.get(9),
        });
        Ok(Some(DeviceSession {
            device: device_row(&row)?,
            revocation,
            revocations: to_u64(row.get(10)),
            directory_version: row.get(11),
        }))
    }

    async fn devices(&self) -> Result<Vec<DeviceSummary>, StorageError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT d.device, d.inspector, d.device_code, d.serial,
                        (SELECT max(n.at_ms) FROM nonces n WHERE n.device = d.device)
                 FROM devices d ORDER BY d.inspector, d.device_code",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| DeviceSummary {
                device: r.get(0),
                inspector: r.get(1),
                device_code: r.get(2),
                serial: r.get(3),
                last_request_ms: r.get(4),
            })
            .collect())
    }

    async fn next_serial(&self) -> Result<u64, StorageError> {
        let c = self.client().await?;
        let row = c
            .query_opt("UPDATE serials SET next = next + 1 WHERE id = 1 RETURNING next - 1", &[])
            .await
            .map_err(db)?
            .ok_or(StorageError::NoTenant)?;
        Ok(to_u64(row.get(0)))
    }

    async fn revoke(&self, device: String, reason: String, at_ms: i64) -> Result<Revocation, StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let serial: String = tx
            .query_opt("SELECT serial FROM devices WHERE device = $1", &[&device])
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::UnknownDevice(device.clone()))?
            .get(0);
        tx.execute(
            "INSERT INTO revocations (device, serial, revoked_at_ms, reason) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device) DO NOTHING",
            &[&device, &serial, &at_ms, &reason],
        )
        .await
        .map_err(db)?;
        let row = tx
            .query_one("SELECT serial, device, revoked_at_ms, reason FROM revocations WHERE device = $1", &[&device])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(revocation(&row))
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StorageError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT serial, device, revoked_at_ms, reason FROM revocations ORDER BY revoked_at_ms, serial",
            )
            .await
            .map_err(db)?;
        Ok(c.query(&stmt, &[]).await.map_err(db)?.iter().map(revocation).collect())
    }

    async fn revocation(&self, device: String) -> Result<Option<Revocation>, StorageError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT serial, device, revoked_at_ms, reason FROM revocations WHERE device = $1")
            .await
            .map_err(db)?;
        Ok(c.query_opt(&stmt, &[&device]).await.map_err(db)?.as_ref().map(revocation))
    }

    async fn enrolment_failed(&self, keys: Vec<String>, at_ms: i64, horizon_ms: i64) -> Result<(), StorageError> {
        let c = self.client().await?;
        c.execute(
            "WITH gone AS (DELETE FROM enrolment_failures WHERE at_ms < $3)
             INSERT INTO enrolment_failures (key, at_ms) SELECT unnest($1::text[]), $2",
            &[&keys, &at_ms, &horizon_ms],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn enrolment_nth_failure(
        &self,
        keys: Vec<String>,
        nth: u32,
        since_ms: i64,
    ) -> Result<Option<i64>, StorageError> {
        let c = self.client().await?;
        let row = c
            .query_one(
                "SELECT max(nth) FROM (
                    SELECT (SELECT at_ms FROM enrolment_failures f WHERE f.key = k AND f.at_ms >= $2
                            ORDER BY at_ms DESC LIMIT 1 OFFSET $3) AS nth
                    FROM unnest($1::text[]) AS k) AS per_key",
                &[&keys, &since_ms, &i64::from(nth.saturating_sub(1))],
            )
            .await
            .map_err(db)?;
        Ok(row.get(0))
    }

    async fn remember_nonce(
        &self,
        device: String,
        nonce: String,
        at_ms: i64,
        horizon_ms: i64,
    ) -> Result<bool, StorageError> {
        // The device's own expired nonces go with each batch (an index range, usually empty):
        // no table-wide sweep on the hot path, and a device that stops syncing leaves at most
        // the nonces of its last window until `forget_nonces` runs.
        self.nonces.remember(device, nonce, at_ms, horizon_ms).await
    }

    async fn record_ids(&self) -> Result<Vec<String>, StorageError> {
        let c = self.client().await?;
        Ok(c.query("SELECT id FROM records ORDER BY id", &[]).await.map_err(db)?.iter().map(|r| r.get(0)).collect())
    }

    async fn record_meta(&self, id: String) -> Result<Option<RecordMeta>, StorageError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT heads, size, version, chunks,
                    ARRAY(SELECT department FROM record_departments WHERE doc = r.id ORDER BY department),
                    ARRAY(SELECT inspector FROM assignments WHERE doc = r.id AND active ORDER BY inspector)
                 FROM records r WHERE id = $1",
            )
            .await
            .map_err(db)?;
        let row = c.query_opt(&stmt, &[&id]).await.map_err(db)?;
        Ok(row.map(|r| RecordMeta {
            id,
            departments: r.get(4),
            inspectors: r.get(5),
            heads: split_heads(r.get(0)),
            size: to_u64(r.get(1)),
            version: to_u64(r.get(2)),
            chunks: to_u64(r.get(3)),
        }))
    }

    async fn record_bytes(&self, id: String) -> Result<Option<StoredRecord>, StorageError> {
        let mut c = self.client().await?;
        // One snapshot for both reads: the version names exactly the chunks returned.
        let tx = snapshot(&mut c).await?;
        let version = tx.prepare_cached("SELECT version FROM records WHERE id = $1").await.map_err(db)?;
        let Some(version) = tx.query_opt(&version, &[&id]).await.map_err(db)? else { return Ok(None) };
        let chunks =
            tx.prepare_cached("SELECT bytes FROM record_chunks WHERE doc = $1 ORDER BY n").await.map_err(db)?;
        let chunks = tx.query(&chunks, &[&id]).await.map_err(db)?.iter().map(|r| r.get(0)).collect();
        tx.commit().await.map_err(db)?;
        Ok(Some(StoredRecord { chunks, version: to_u64(version.get(0)) }))
    }

    async fn create_records(&self, docs: Vec<NewRecord>) -> Result<u64, StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        for doc in docs {
            insert_record(&tx, doc).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(1)
    }

    async fn append_record(
        &self,
        id: String,
        expected_version: u64,
        chunk: Vec<u8>,
        heads: Vec<String>,
        facts: String,
    ) -> Result<u64, StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let lock =
            tx.prepare_cached("SELECT version, chunks FROM records WHERE id = $1 FOR UPDATE").await.map_err(db)?;
        let row =
            tx.query_opt(&lock, &[&id]).await.map_err(db)?.ok_or_else(|| StorageError::UnknownRecord(id.clone()))?;
        let (version, chunks): (i64, i64) = (row.get(0), row.get(1));
        if to_u64(version) != expected_version {
            return Err(StorageError::VersionConflict(id));
        }
        let insert =
            tx.prepare_cached("INSERT INTO record_chunks (doc, n, bytes) VALUES ($1, $2, $3)").await.map_err(db)?;
        tx.execute(&insert, &[&id, &(chunks + 1), &chunk]).await.map_err(db)?;
        let seq = next_feed_seq(&tx).await?;
        let update = tx
            .prepare_cached(
                "UPDATE records SET heads = $2, size = size + $3, version = version + 1, chunks = chunks + 1, feed_seq = $4
                 WHERE id = $1",
            )
            .await
            .map_err(db)?;
        let len = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        tx.execute(&update, &[&id, &join_heads(&heads), &len, &seq]).await.map_err(db)?;
        put_facts(&tx, &id, &facts).await?;
        tx.commit().await.map_err(db)?;
        Ok(expected_version + 1)
    }

    async fn task_facts(&self) -> Result<Vec<StoredFacts>, StorageError> {
        let c = self.client().await?;
        let rows = c
            .query("SELECT r.id, f.facts FROM records r LEFT JOIN record_facts f ON f.doc = r.id", &[])
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn facts_since(&self, since: u64) -> Result<(u64, Vec<StoredFacts>), StorageError> {
        let mut c = self.client().await?;
        // One snapshot: the head and the rows agree (writers take positions under the counter's
        // row lock, so none below the head commits later).
        let tx = snapshot(&mut c).await?;
        let head: i64 = tx.query_one("SELECT seq FROM feed_counter WHERE id = 1", &[]).await.map_err(db)?.get(0);
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let rows = tx
            .query(
                "SELECT r.id, f.facts FROM records r LEFT JOIN record_facts f ON f.doc = r.id WHERE r.feed_seq > $1",
                &[&since],
            )
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok((to_u64(head), rows.iter().map(|r| (r.get(0), r.get(1))).collect()))
    }

    async fn put_facts(&self, id: String, version: u64, facts: String) -> Result<bool, StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let row = tx.query_opt("SELECT version FROM records WHERE id = $1 FOR UPDATE", &[&id]).await.map_err(db)?;
        if row.map(|r| to_u64(r.get(0))) != Some(version) {
            return Ok(false);
        }
        put_facts(&tx, &id, &facts).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn compact_record(&self, id: String, expected_version: u64, snapshot: Vec<u8>) -> Result<(), StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let version: i64 = tx
            .query_opt("SELECT version FROM records WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::UnknownRecord(id.clone()))?
            .get(0);
        if to_u64(version) != expected_version {
            return Err(StorageError::VersionConflict(id));
        }
        tx.execute("DELETE FROM record_chunks WHERE doc = $1", &[&id]).await.map_err(db)?;
        tx.execute("INSERT INTO record_chunks (doc, n, bytes) VALUES ($1, 0, $2)", &[&id, &snapshot])
            .await
            .map_err(db)?;
        let size = i64::try_from(snapshot.len()).unwrap_or(i64::MAX);
        tx.execute("UPDATE records SET size = $2, chunks = 0, version = version + 1 WHERE id = $1", &[&id, &size])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn assign(&self, id: String, inspector: String, active: bool) -> Result<(), StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let exists = tx.query_opt("SELECT 1 FROM records WHERE id = $1 FOR UPDATE", &[&id]).await.map_err(db)?;
        if exists.is_none() {
            return Err(StorageError::UnknownRecord(id));
        }
        let seq = next_feed_seq(&tx).await?;
        tx.execute(
            "INSERT INTO assignments (doc, inspector, active, seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT (inspector, doc) DO UPDATE SET active = EXCLUDED.active, seq = EXCLUDED.seq",
            &[&id, &inspector, &active, &seq],
        )
        .await
        .map_err(db)?;
        if active {
            tx.execute("UPDATE records SET feed_seq = $2 WHERE id = $1", &[&id, &seq]).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn feed(
        &self,
        inspector: String,
        departments: Vec<String>,
        since: u64,
        limit: u32,
    ) -> Result<FeedPage, StorageError> {
        let c = self.client().await?;
        // One statement, so one snapshot: the head and the rows agree.
        let stmt = c
            .prepare_cached(
                "SELECT h.seq, f.seq, f.id, f.heads, f.removed FROM feed_counter h
                 LEFT JOIN LATERAL (
                    SELECT feed_seq AS seq, id, heads, false AS removed FROM records d
                    WHERE feed_seq > $1 AND (
                       EXISTS (SELECT 1 FROM assignments a WHERE a.doc = d.id AND a.inspector = $2 AND a.active)
                       OR EXISTS (SELECT 1 FROM record_departments x WHERE x.doc = d.id AND x.department = ANY($3)))
                    UNION ALL
                    SELECT a.seq, a.doc, '', true FROM assignments a
                    WHERE a.inspector = $2 AND NOT a.active AND a.seq > $1
                      AND NOT EXISTS (SELECT 1 FROM record_departments x WHERE x.doc = a.doc AND x.department = ANY($3))
                    ORDER BY 1 LIMIT $4) f ON true
                 WHERE h.id = 1
                 ORDER BY f.seq",
            )
            .await
            .map_err(db)?;
        let rows = c.query(&stmt, &[&to_i64(since), &inspector, &departments, &i64::from(limit)]).await.map_err(db)?;
        let head = rows.first().map_or(0, |r| to_u64(r.get(0)));
        let rows = rows
            .iter()
            .filter_map(|r| {
                let seq: Option<i64> = r.get(1);
                Some(FeedRow { seq: to_u64(seq?), id: r.get(2), heads: split_heads(r.get(3)), removed: r.get(4) })
            })
            .collect();
        Ok(FeedPage { rows, head })
    }

    async fn feed_head(&self) -> Result<u64, StorageError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached("SELECT seq FROM feed_counter WHERE id = 1").await.map_err(db)?;
        Ok(to_u64(c.query_one(&stmt, &[]).await.map_err(db)?.get(0)))
    }

    async fn add_blob_refs(&self, id: String, device: String, sha256: Vec<String>) -> Result<(), StorageError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO blob_references (sha256, doc, device) SELECT unnest($3::text[]), $1, $2 ON CONFLICT DO NOTHING",
            &[&id, &device, &sha256],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn add_blob_holder(&self, sha256: String, device: String) -> Result<(), StorageError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO blob_holders (sha256, device) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&sha256, &device],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn blob_referenced(
        &self,
        sha256: String,
        inspector: String,
        departments: Vec<String>,
    ) -> Result<bool, StorageError> {
        let c = self.client().await?;
        blob_visible(&c, &sha256, &inspector, &departments, false).await
    }

    async fn may_read_blob(
        &self,
        sha256: String,
        inspector: String,
        departments: Vec<String>,
    ) -> Result<bool, StorageError> {
        let c = self.client().await?;
        blob_visible(&c, &sha256, &inspector, &departments, true).await
    }

    async fn audit_head(&self, device: String) -> Result<(u64, String), StorageError> {
        let c = self.client().await?;
        audit_head(&**c, &device).await
    }

    async fn append_audit(
        &self,
        device: String,
        expected_seq: u64,
        entries: Vec<StoredAuditEntry>,
    ) -> Result<u64, StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // The tree row is the tenant's append lock: leaves get dense indices, one upload at a time.
        let size: i64 =
            tx.query_one("SELECT size FROM audit_tree WHERE id = 1 FOR UPDATE", &[]).await.map_err(db)?.get(0);
        let (seq, _) = audit_head(&*tx, &device).await?;
        if seq != expected_seq {
            return Err(StorageError::AuditHeadMoved(seq));
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO audit_entries (leaf, device, seq, hash, leaf_hash, json) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await
            .map_err(db)?;
        let mut leaf = size;
        for e in &entries {
            leaf += 1;
            tx.execute(&insert, &[&leaf, &e.device, &to_i64(e.seq), &e.hash, &e.leaf_hash, &e.json])
                .await
                .map_err(db)?;
        }
        // The nodes the new leaves complete, from the frontier of the tree as it stood (O(log n)).
        let keys = merkle::range_nodes(0, to_u64(size));
        let frontier = super::nodes_in_order(&keys, &audit_nodes(&*tx, &keys).await?)?;
        let node =
            tx.prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)").await.map_err(db)?;
        for ((level, index), hash) in merkle::appended_nodes(to_u64(size), &frontier, &super::leaf_hashes(&entries)?) {
            let level = i32::try_from(level).unwrap_or(i32::MAX);
            tx.execute(&node, &[&level, &to_i64(index), &hash.as_slice()]).await.map_err(db)?;
        }
        tx.execute("UPDATE audit_tree SET size = $1 WHERE id = 1", &[&leaf]).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(to_u64(leaf))
    }

    async fn audit_entry_hash(&self, device: String, seq: u64) -> Result<Option<String>, StorageError> {
        let c = self.client().await?;
        let stmt =
            c.prepare_cached("SELECT hash FROM audit_entries WHERE device = $1 AND seq = $2").await.map_err(db)?;
        Ok(c.query_opt(&stmt, &[&device, &to_i64(seq)]).await.map_err(db)?.map(|r| r.get(0)))
    }

    async fn audit_chain(&self, device: String, limit: u32) -> Result<Vec<StoredAuditEntry>, StorageError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT seq, hash, leaf_hash, json FROM audit_entries WHERE device = $1 ORDER BY seq DESC LIMIT $2",
            )
            .await
            .map_err(db)?;
        let rows = c.query(&stmt, &[&device, &i64::from(limit)]).await.map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| StoredAuditEntry {
                device: device.clone(),
                seq: to_u64(r.get(0)),
                hash: r.get(1),
                leaf_hash: r.get(2),
                json: r.get(3),
            })
            .collect())
    }

    async fn audit_size(&self) -> Result<u64, StorageError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached("SELECT size FROM audit_tree WHERE id = 1").await.map_err(db)?;
        Ok(to_u64(c.query_one(&stmt, &[]).await.map_err(db)?.get(0)))
    }

    async fn audit_nodes(&self, keys: Vec<NodeKey>) -> Result<std::collections::HashMap<NodeKey, Hash>, StorageError> {
        let c = self.client().await?;
        audit_nodes(&**c, &keys).await
    }

    async fn audit_leaf_index(&self, device: String, seq: u64) -> Result<Option<u64>, StorageError> {
        let c = self.client().await?;
        let stmt =
            c.prepare_cached("SELECT leaf FROM audit_entries WHERE device = $1 AND seq = $2").await.map_err(db)?;
        Ok(c.query_opt(&stmt, &[&device, &to_i64(seq)]).await.map_err(db)?.map(|r| to_u64(r.get::<_, i64>(0) - 1)))
    }
}
