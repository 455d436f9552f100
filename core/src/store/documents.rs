//! Persistence of Automerge documents: the last compacted save plus incremental chunks.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::domain::TaskCode;

/// Chunks may grow to this many bytes before the "outgrew the snapshot" rule applies, so that a
/// small document is not re-saved on nearly every edit.
pub const COMPACTION_FLOOR_BYTES: i64 = 16 * 1024;

/// A stored document: its snapshot and the chunks written since, in order.
pub struct StoredDocument {
    /// The last compacted save.
    pub snapshot: Vec<u8>,
    /// Incremental chunks since the snapshot, oldest first.
    pub chunks: Vec<Vec<u8>>,
}

/// Stores a new document's first save.
pub fn insert(tx: &Transaction<'_>, code: &TaskCode, snapshot: &[u8]) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO documents (task_code, snapshot, chunks_len, next_chunk) VALUES (?1, ?2, 0, 0)",
        params![code.as_str(), snapshot],
    )?;
    Ok(())
}

/// Appends one incremental chunk; returns whether the chunks now call for compaction.
pub fn append_chunk(tx: &Transaction<'_>, code: &TaskCode, chunk: &[u8]) -> rusqlite::Result<bool> {
    let (seq, chunks_len, snapshot_len): (i64, i64, i64) = tx
        .prepare_cached("SELECT next_chunk, chunks_len, length(snapshot) FROM documents WHERE task_code = ?1")?
        .query_row([code.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    tx.prepare_cached("INSERT INTO document_chunks (task_code, seq, bytes) VALUES (?1, ?2, ?3)")?
        .execute(params![code.as_str(), seq, chunk])?;
    let chunks_len = chunks_len + chunk.len() as i64;
    tx.prepare_cached("UPDATE documents SET next_chunk = ?2, chunks_len = ?3 WHERE task_code = ?1")?
        .execute(params![code.as_str(), seq + 1, chunks_len])?;
    Ok(chunks_len > snapshot_len.max(COMPACTION_FLOOR_BYTES))
}

/// Replaces the snapshot with a fresh save and drops the chunks it contains.
pub fn compact(tx: &Transaction<'_>, code: &TaskCode, snapshot: &[u8]) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM document_chunks WHERE task_code = ?1", [code.as_str()])?;
    tx.execute(
        "UPDATE documents SET snapshot = ?2, chunks_len = 0 WHERE task_code = ?1",
        params![code.as_str(), snapshot],
    )?;
    Ok(())
}

/// Reads a document's snapshot and chunks, if the document exists.
pub fn load(conn: &Connection, code: &TaskCode) -> rusqlite::Result<Option<StoredDocument>> {
    let Some(snapshot) = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE task_code = ?1")?
        .query_row([code.as_str()], |r| r.get::<_, Vec<u8>>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached("SELECT bytes FROM document_chunks WHERE task_code = ?1 ORDER BY seq")?;
    let chunks = stmt.query_map([code.as_str()], |r| r.get::<_, Vec<u8>>(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(Some(StoredDocument { snapshot, chunks }))
}
