//! Request nonces on the embedded store, group-committed: one thread owns the nonce connection
//! and records every nonce that arrived while it was busy in one transaction, so a burst of
//! requests costs one WAL commit instead of one each, and no request waits for a blocking-pool
//! thread of its own.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};

use super::db;
use crate::storage::StorageError;
use crate::storage::nonce_batch::{NonceQueue, PendingNonce, answer_all};

/// How often old nonces are forgotten, at most.
const PRUNE_EVERY_MS: i64 = 1000;
/// Nonces recorded per transaction, at most.
const MAX_BATCH: usize = 512;
/// Records one nonce unless the device used it already.
pub(super) const INSERT: &str = "INSERT OR IGNORE INTO nonces (device, nonce, at_ms) VALUES (?1, ?2, ?3)";

/// Starts the thread that owns `conn` and writes what `NonceQueue::remember` queues. It holds
/// `writer` (the store's other writing connection) while it writes, so the two take turns in the
/// process instead of meeting SQLite's lock, whose busy wait sleeps by the millisecond.
pub(super) fn start(conn: Connection, writer: Arc<Mutex<Connection>>) -> Result<NonceQueue, StorageError> {
    let (queue, pending) = NonceQueue::new();
    std::thread::Builder::new()
        .name("onevisit-nonces".into())
        .spawn(move || run(conn, &writer, pending))
        .map_err(|e| StorageError::Database(Box::new(e)))?;
    Ok(queue)
}

fn run(
    mut conn: Connection,
    writer: &Mutex<Connection>,
    mut pending: tokio::sync::mpsc::UnboundedReceiver<PendingNonce>,
) {
    let mut pruned_at = 0;
    while let Some(first) = pending.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let fresh = match writer.lock() {
            Ok(_turn) => record(&mut conn, &batch, &mut pruned_at),
            Err(_) => Err(super::poisoned("the connection")),
        };
        answer_all(batch, fresh);
    }
}

/// Records a batch in one transaction; for each nonce, whether it was new.
fn record(conn: &mut Connection, batch: &[PendingNonce], pruned_at: &mut i64) -> Result<Vec<bool>, StorageError> {
    let tx = super::write_transaction(conn)?;
    let newest = batch.iter().map(|p| p.at_ms).max().unwrap_or(0);
    if newest - *pruned_at >= PRUNE_EVERY_MS {
        let horizon = batch.iter().map(|p| p.horizon_ms).min().unwrap_or(0);
        tx.prepare_cached("DELETE FROM nonces WHERE at_ms < ?1").map_err(db)?.execute([horizon]).map_err(db)?;
    }
    let mut fresh = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(INSERT).map_err(db)?;
        for p in batch {
            fresh.push(insert.execute(params![p.device, p.nonce, p.at_ms]).map_err(db)? == 1);
        }
    }
    tx.commit().map_err(db)?;
    if newest - *pruned_at >= PRUNE_EVERY_MS {
        *pruned_at = newest;
    }
    Ok(fresh)
}
