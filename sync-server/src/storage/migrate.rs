//! Moving a city from the embedded SQLite file to PostgreSQL: every table copied in one
//! PostgreSQL transaction, then checked inside it — row counts, each record's bytes, version and
//! heads, the audit tree's root, the tenant key and the directory version — and committed only if
//! all agree and the source did not move meanwhile. A refused or failed move leaves the target as
//! it was.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::OpenFlags;
use rusqlite::types::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

use super::StorageError;
use super::postgres::PostgresStorage;

/// Why a move was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Reading or writing failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The source data directory has no server database.
    #[error("{0} 中没有服务器数据库（server.sqlite）：--data 应指向要迁移的数据目录")]
    NoSource(String),
    /// The target database holds a tenant already.
    #[error("目标数据库已有租户数据：只能迁移到空数据库（新建一个库，或先确认要覆盖的不是正在使用的库）")]
    TargetNotEmpty,
    /// The copy differs from the source.
    #[error("迁移后核对不一致（{0}）：目标数据库未作任何改动，请报告此问题")]
    Mismatch(String),
    /// The source changed during the move.
    #[error("迁移期间源服务器仍在写入：请先停止 onevisit-server serve，再重新迁移（目标数据库未作任何改动）")]
    SourceMoved,
}

/// What was moved and checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    /// Rows copied per table.
    pub rows: BTreeMap<String, u64>,
    /// Records whose bytes, version and heads were compared.
    pub records_checked: u64,
    /// The audit tree's size and root (hex), the same on both sides.
    pub audit_size: u64,
    /// The audit tree's root (hex).
    pub audit_root: String,
}

/// How a column is bound on the PostgreSQL side.
#[derive(Clone, Copy)]
enum Col {
    I32,
    I64,
    Bool,
    Text,
    OptText,
    Bytes,
}

/// The tables copied as they are, in an order their references allow: (table, columns, types).
const TABLES: &[(&str, &str, &[Col])] = &[
    ("tenant", "id, tenant, ca_public_key, sealed_ca_seed", &[Col::I32, Col::Text, Col::Bytes, Col::Bytes]),
    (
        "enrolments",
        "code_sha256, inspector, expires_ms, used_by_device",
        &[Col::Text, Col::Text, Col::I64, Col::OptText],
    ),
    (
        "devices",
        "device, public_key, inspector, certificate, serial, device_code",
        &[Col::Text, Col::Bytes, Col::Text, Col::Text, Col::Text, Col::Text],
    ),
    ("serials", "id, next", &[Col::I32, Col::I64]),
    ("revocations", "device, serial, revoked_at_ms, reason", &[Col::Text, Col::Text, Col::I64, Col::Text]),
    ("nonces", "device, nonce, at_ms", &[Col::Text, Col::Text, Col::I64]),
    (
        "records",
        "id, task_json, heads, size, version, chunks, feed_seq",
        &[Col::Text, Col::Text, Col::Text, Col::I64, Col::I64, Col::I64, Col::I64],
    ),
    ("record_chunks", "doc, n, bytes", &[Col::Text, Col::I64, Col::Bytes]),
    ("record_facts", "doc, facts", &[Col::Text, Col::Text]),
    ("record_departments", "doc, department", &[Col::Text, Col::Text]),
    ("assignments", "doc, inspector, active, seq", &[Col::Text, Col::Text, Col::Bool, Col::I64]),
    ("blob_references", "sha256, doc, device", &[Col::Text, Col::Text, Col::Text]),
    ("blob_holders", "sha256, device", &[Col::Text, Col::Text]),
    (
        "audit_entries",
        "leaf, device, seq, hash, leaf_hash, json",
        &[Col::I64, Col::Text, Col::I64, Col::Text, Col::Text, Col::Text],
    ),
    ("audit_nodes", "level, idx, hash", &[Col::I32, Col::I64, Col::Bytes]),
    (
        "console_users",
        "name, password_hash, role, department, disabled, created_at_ms",
        &[Col::Text, Col::Text, Col::Text, Col::OptText, Col::Bool, Col::I64],
    ),
    (
        "draws",
        "plan_id, plan_json, nonce, commitment, committed_at_ms, record",
        &[Col::Text, Col::Text, Col::Text, Col::Text, Col::I64, Col::OptText],
    ),
    ("number_series", "department, kind, year, next", &[Col::Text, Col::Text, Col::I32, Col::I64]),
    (
        "number_grants",
        "department, kind, year, first, count, device, at_ms",
        &[Col::Text, Col::Text, Col::I32, Col::I64, Col::I64, Col::Text, Col::I64],
    ),
];

fn sqlite(e: rusqlite::Error) -> StorageError {
    StorageError::Database(Box::new(e))
}

fn pg(e: tokio_postgres::Error) -> StorageError {
    StorageError::Database(Box::new(e))
}

/// One SQLite value as the PostgreSQL column wants it.
fn bind(value: Value, col: Col) -> Result<Box<dyn ToSql + Sync + Send>, StorageError> {
    let wrong = || {
        StorageError::Database(format!("unexpected value in the source database for {:?}", value_kind(&value)).into())
    };
    Ok(match (col, &value) {
        (Col::I32, Value::Integer(n)) => Box::new(i32::try_from(*n).map_err(|_| wrong())?),
        (Col::I64, Value::Integer(n)) => Box::new(*n),
        (Col::Bool, Value::Integer(n)) => Box::new(*n != 0),
        (Col::Text | Col::OptText, Value::Text(t)) => Box::new(t.clone()),
        (Col::OptText, Value::Null) => Box::new(None::<String>),
        (Col::Bytes, Value::Blob(b)) => Box::new(b.clone()),
        _ => return Err(wrong()),
    })
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Integer(_) => "integer",
        Value::Real(_) => "real",
        Value::Text(_) => "text",
        Value::Blob(_) => "blob",
    }
}

/// Where the source stands: (feed position, audit entries); a move is refused if it changes.
fn source_position(c: &rusqlite::Connection) -> Result<(i64, i64), StorageError> {
    let feed = c.query_row("SELECT seq FROM feed_counter WHERE id = 1", [], |r| r.get(0)).map_err(sqlite)?;
    let audit = c.query_row("SELECT count(*) FROM audit_entries", [], |r| r.get(0)).map_err(sqlite)?;
    Ok((feed, audit))
}

/// Each record's fingerprint: SHA-256 of its chunks in order, with its version and heads.
fn source_fingerprints(c: &rusqlite::Connection) -> Result<BTreeMap<String, String>, StorageError> {
    let mut out = BTreeMap::new();
    let mut records = c.prepare("SELECT id, version, heads FROM records").map_err(sqlite)?;
    let mut chunks = c.prepare("SELECT bytes FROM record_chunks WHERE doc = ?1 ORDER BY n").map_err(sqlite)?;
    let rows = records
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
        .map_err(sqlite)?;
    for row in rows {
        let (id, version, heads) = row.map_err(sqlite)?;
        let mut hash = Sha256::new();
        for bytes in chunks.query_map([&id], |r| r.get::<_, Vec<u8>>(0)).map_err(sqlite)? {
            hash.update(bytes.map_err(sqlite)?);
        }
        out.insert(id, format!("{}/{version}/{heads}", hex::encode(hash.finalize())));
    }
    Ok(out)
}

fn audit_root(leaves: &[String]) -> Result<String, StorageError> {
    let hashes = leaves
        .iter()
        .map(|l| {
            hex::decode(l)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| StorageError::Database("malformed audit leaf hash".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hex::encode(onevisit_core::sync::merkle::root(&hashes)))
}

/// Copies the embedded server in `data` into the (empty) PostgreSQL database at `url`.
pub async fn sqlite_to_postgres(data: &Path, url: &str) -> Result<MigrationReport, MigrateError> {
    let file = data.join("server.sqlite");
    if !file.is_file() {
        return Err(MigrateError::NoSource(data.display().to_string()));
    }
    // Bring an older source up to the current schema first (the server would on its next start).
    drop(super::sqlite::SqliteStorage::open(data)?);
    let target = PostgresStorage::connect(url).await?;
    if target.initialised().await? {
        return Err(MigrateError::TargetNotEmpty);
    }
    let mut source = rusqlite::Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let snapshot = source.transaction().map_err(sqlite)?;
    let before = source_position(&snapshot)?;

    let mut client = target.raw_client().await?;
    let tx = client.transaction().await.map_err(pg)?;
    let mut rows = BTreeMap::new();
    for (table, columns, types) in TABLES {
        let placeholders: Vec<String> = (1..=types.len()).map(|i| format!("${i}")).collect();
        let insert = tx
            .prepare(&format!("INSERT INTO {table} ({columns}) VALUES ({})", placeholders.join(", ")))
            .await
            .map_err(pg)?;
        let mut select = snapshot.prepare(&format!("SELECT {columns} FROM {table}")).map_err(sqlite)?;
        let mut source_rows = select.query([]).map_err(sqlite)?;
        let mut copied = 0u64;
        while let Some(row) = source_rows.next().map_err(sqlite)? {
            let mut values = Vec::with_capacity(types.len());
            for (i, col) in types.iter().enumerate() {
                values.push(bind(row.get::<_, Value>(i).map_err(sqlite)?, *col)?);
            }
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v as &(dyn ToSql + Sync)).collect();
            tx.execute(&insert, &params).await.map_err(pg)?;
            copied += 1;
        }
        rows.insert((*table).to_string(), copied);
    }
    // The directory (its data and version in one row here) and the two counters.
    let directory: Option<String> =
        rusqlite::OptionalExtension::optional(
            snapshot.query_row("SELECT json FROM directory WHERE id = 1", [], |r| r.get(0)),
        )
        .map_err(sqlite)?;
    if let Some(json) = &directory {
        let version = super::directory_version(json);
        tx.execute("INSERT INTO directory (id, json, version) VALUES (1, $1, $2)", &[json, &version])
            .await
            .map_err(pg)?;
    }
    rows.insert("directory".into(), u64::from(directory.is_some()));
    tx.execute("UPDATE feed_counter SET seq = $1 WHERE id = 1", &[&before.0]).await.map_err(pg)?;
    tx.execute("UPDATE audit_tree SET size = $1 WHERE id = 1", &[&before.1]).await.map_err(pg)?;

    // Check the copy inside the transaction, before anything is committed.
    for (table, _, _) in TABLES {
        let count: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.map_err(pg)?.get(0);
        let expected: i64 =
            snapshot.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).map_err(sqlite)?;
        if count != expected {
            return Err(MigrateError::Mismatch(format!("{table}: {count} / {expected}")));
        }
    }
    let copied: BTreeMap<String, String> = tx
        .query(
            "SELECT r.id, encode(sha256(COALESCE((SELECT string_agg(c.bytes, ''::bytea ORDER BY c.n)
                     FROM record_chunks c WHERE c.doc = r.id), ''::bytea)), 'hex') || '/' || r.version || '/' || r.heads
             FROM records r",
            &[],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = source_fingerprints(&snapshot)?;
    if let Some((id, _)) = expected.iter().find(|(id, f)| copied.get(*id) != Some(f)) {
        return Err(MigrateError::Mismatch(format!("记录 {id}")));
    }
    if copied.len() != expected.len() {
        return Err(MigrateError::Mismatch("记录数".into()));
    }
    let source_leaves: Vec<String> = snapshot
        .prepare("SELECT leaf_hash FROM audit_entries ORDER BY leaf")
        .map_err(sqlite)?
        .query_map([], |r| r.get(0))
        .map_err(sqlite)?
        .collect::<Result<_, _>>()
        .map_err(sqlite)?;
    let target_leaves: Vec<String> = tx
        .query("SELECT leaf_hash FROM audit_entries ORDER BY leaf", &[])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let root = audit_root(&source_leaves)?;
    if audit_root(&target_leaves)? != root {
        return Err(MigrateError::Mismatch("审计树根".into()));
    }
    // The stored nodes the target signs its checkpoints from give the same root.
    let size = source_leaves.len() as u64;
    let mut frontier = Vec::new();
    for (level, index) in onevisit_core::sync::merkle::range_nodes(0, size) {
        let level = i32::try_from(level).unwrap_or(i32::MAX);
        let index = i64::try_from(index).unwrap_or(i64::MAX);
        let row = tx
            .query_opt("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2", &[&level, &index])
            .await
            .map_err(pg)?
            .ok_or_else(|| MigrateError::Mismatch("审计树节点".into()))?;
        let hash: Vec<u8> = row.get(0);
        frontier.push(<[u8; 32]>::try_from(hash).map_err(|_| MigrateError::Mismatch("审计树节点".into()))?);
    }
    if hex::encode(onevisit_core::sync::merkle::fold_nodes(&frontier)) != root {
        return Err(MigrateError::Mismatch("审计树节点".into()));
    }
    let dense: bool = tx
        .query_one("SELECT COALESCE(min(leaf) = 1 AND max(leaf) = count(*), true) FROM audit_entries", &[])
        .await
        .map_err(pg)?
        .get(0);
    if !dense {
        return Err(MigrateError::Mismatch("审计叶序号".into()));
    }
    // The snapshot cannot see later writes: a writer that committed to the file after it began is
    // seen on the connection itself, once the snapshot ends.
    drop(snapshot);
    if source_position(&source)? != before {
        return Err(MigrateError::SourceMoved);
    }
    tx.commit().await.map_err(pg)?;
    Ok(MigrationReport {
        rows,
        records_checked: expected.len() as u64,
        audit_size: source_leaves.len() as u64,
        audit_root: root,
    })
}
