//! Persistence of Automerge records: the last compacted save plus incremental chunks.
//!
//! Every stored byte string carries its SHA-256: Automerge skips some damaged incremental data
//! silently, and a record that quietly lost an edit is worse than one reported as corrupt.

use rusqlite::{Connection, OptionalExtension, params};

use crate::audit::sha256_hex;
use crate::domain::TaskCode;

/// Chunks may grow to this many bytes before the "outgrew the snapshot" rule applies, so that a
/// small record is not re-saved on nearly every edit.
pub const COMPACTION_FLOOR_BYTES: i64 = 16 * 1024;

/// A stored record: its snapshot and the chunks written since, in order.
pub struct StoredRecord {
    /// The last compacted save.
    pub snapshot: Vec<u8>,
    /// Incremental chunks since the snapshot, oldest first.
    pub chunks: Vec<Vec<u8>>,
    /// Where this read stands.
    pub position: Position,
}

/// How far a copy in memory has read the stored record: which snapshot, and the last chunk
/// after it. Another writer's later chunks can then be read alone instead of the whole record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The snapshot's SHA-256 (a compaction replaces it).
    pub snapshot_sha256: String,
    /// The sequence number of the last chunk read (-1: none).
    pub last_chunk: i64,
}

impl Position {
    /// The position of a record just stored whole.
    pub fn of_snapshot(snapshot: &[u8]) -> Position {
        Position { snapshot_sha256: sha256_hex(snapshot), last_chunk: -1 }
    }
}

/// Stores a new record's first save.
pub fn insert(tx: &Connection, code: &TaskCode, snapshot: &[u8]) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO records (task_code, snapshot, snapshot_sha256, chunks_len, next_chunk) VALUES (?1, ?2, ?3, 0, 0)",
        params![code.as_str(), snapshot, sha256_hex(snapshot)],
    )?;
    Ok(())
}

/// Appends one incremental chunk; returns its sequence number and whether the chunks now call
/// for compaction.
pub fn append_chunk(tx: &Connection, code: &TaskCode, chunk: &[u8]) -> rusqlite::Result<(i64, bool)> {
    let (seq, chunks_len, snapshot_len): (i64, i64, i64) = tx
        .prepare_cached("SELECT next_chunk, chunks_len, length(snapshot) FROM records WHERE task_code = ?1")?
        .query_row([code.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    tx.prepare_cached("INSERT INTO record_chunks (task_code, seq, bytes, sha256) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![code.as_str(), seq, chunk, sha256_hex(chunk)])?;
    let chunks_len = chunks_len + chunk.len() as i64;
    tx.prepare_cached("UPDATE records SET next_chunk = ?2, chunks_len = ?3 WHERE task_code = ?1")?.execute(params![
        code.as_str(),
        seq + 1,
        chunks_len
    ])?;
    Ok((seq, chunks_len > snapshot_len.max(COMPACTION_FLOOR_BYTES)))
}

/// The stored record's position: its snapshot and its last chunk.
pub fn position(conn: &Connection, code: &TaskCode) -> rusqlite::Result<Option<Position>> {
    conn.prepare_cached("SELECT snapshot_sha256, next_chunk FROM records WHERE task_code = ?1")?
        .query_row([code.as_str()], |r| {
            Ok(Position { snapshot_sha256: r.get(0)?, last_chunk: r.get::<_, i64>(1)? - 1 })
        })
        .optional()
}

/// The chunks stored after chunk `after`, oldest first; `None` if one no longer matches its hash.
pub fn chunks_after(conn: &Connection, code: &TaskCode, after: i64) -> rusqlite::Result<Option<Vec<Vec<u8>>>> {
    let mut stmt =
        conn.prepare_cached("SELECT bytes, sha256 FROM record_chunks WHERE task_code = ?1 AND seq > ?2 ORDER BY seq")?;
    let rows: Vec<(Vec<u8>, String)> = stmt
        .query_map(params![code.as_str(), after], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if rows.iter().any(|(b, h)| sha256_hex(b) != *h) {
        return Ok(None);
    }
    Ok(Some(rows.into_iter().map(|(b, _)| b).collect()))
}

/// Replaces the snapshot with a fresh save and drops the chunks it contains.
pub fn compact(tx: &Connection, code: &TaskCode, snapshot: &[u8]) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM record_chunks WHERE task_code = ?1", [code.as_str()])?;
    tx.execute(
        "UPDATE records SET snapshot = ?2, snapshot_sha256 = ?3, chunks_len = 0 WHERE task_code = ?1",
        params![code.as_str(), snapshot, sha256_hex(snapshot)],
    )?;
    Ok(())
}

/// What reading a stored record found.
pub enum Loaded {
    /// No record for this task.
    Missing,
    /// Bytes whose hashes match.
    Intact(StoredRecord),
    /// Some stored bytes no longer match their hash.
    Damaged,
}

/// Reads a record's snapshot and chunks, checking each against its stored hash.
pub fn load(conn: &Connection, code: &TaskCode) -> rusqlite::Result<Loaded> {
    let Some((snapshot, snapshot_sha, next_chunk)) = conn
        .prepare_cached("SELECT snapshot, snapshot_sha256, next_chunk FROM records WHERE task_code = ?1")?
        .query_row([code.as_str()], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
        .optional()?
    else {
        return Ok(Loaded::Missing);
    };
    let mut stmt = conn.prepare_cached("SELECT bytes, sha256 FROM record_chunks WHERE task_code = ?1 ORDER BY seq")?;
    let rows: Vec<(Vec<u8>, String)> =
        stmt.query_map([code.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    let intact = sha256_hex(&snapshot) == snapshot_sha && rows.iter().all(|(b, h)| sha256_hex(b) == *h);
    if !intact {
        return Ok(Loaded::Damaged);
    }
    let position = Position { snapshot_sha256: snapshot_sha, last_chunk: next_chunk - 1 };
    Ok(Loaded::Intact(StoredRecord { snapshot, chunks: rows.into_iter().map(|(b, _)| b).collect(), position }))
}
