//! Request nonces on PostgreSQL, group-committed: one task records every nonce that arrived
//! while the previous batch was written in one statement, in a transaction that does not wait
//! for the WAL flush. A nonce only stops a replay within the clock-skew window and every request
//! of the protocol is idempotent, so a database crash forgetting the last moments' nonces costs
//! nothing; records, receipts and the audit tree keep their durable commits.

use std::collections::HashSet;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use super::{db, pool_error};
use crate::storage::StorageError;
use crate::storage::nonce_batch::{NonceQueue, PendingNonce, answer_all};

/// Nonces recorded per statement, at most.
const MAX_BATCH: usize = 512;

/// Records a batch, forgetting the batch's devices' nonces before the horizon, and answers which
/// were new (a nonce used before, or twice in the batch, is returned once or not at all).
const RECORD: &str = "WITH incoming AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(device, nonce, at_ms)),
    gone AS (
        DELETE FROM nonces n USING (SELECT DISTINCT device FROM incoming) i
        WHERE n.device = i.device AND n.at_ms < $4),
    added AS (
        INSERT INTO nonces (device, nonce, at_ms) SELECT device, nonce, at_ms FROM incoming
        ON CONFLICT DO NOTHING RETURNING device, nonce)
    SELECT device, nonce FROM added";

/// Starts the task that writes what `NonceQueue::remember` queues through `pool`.
pub(super) fn start(pool: Pool) -> NonceQueue {
    let (queue, pending) = NonceQueue::new();
    tokio::spawn(run(pool, pending));
    queue
}

async fn run(pool: Pool, mut pending: mpsc::UnboundedReceiver<PendingNonce>) {
    let mut batch = Vec::new();
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let fresh = record(&pool, &batch).await.map(|mut inserted| {
            // The first copy of a nonce in the batch takes its freshness.
            batch.iter().map(|p| inserted.remove(&(p.device.clone(), p.nonce.clone()))).collect()
        });
        answer_all(std::mem::take(&mut batch), fresh);
    }
}

async fn record(pool: &Pool, batch: &[PendingNonce]) -> Result<HashSet<(String, String)>, StorageError> {
    let mut c = pool.get().await.map_err(pool_error)?;
    let tx = c.transaction().await.map_err(db)?;
    tx.batch_execute("SET LOCAL synchronous_commit TO OFF").await.map_err(db)?;
    let devices: Vec<&str> = batch.iter().map(|p| p.device.as_str()).collect();
    let nonces: Vec<&str> = batch.iter().map(|p| p.nonce.as_str()).collect();
    let at: Vec<i64> = batch.iter().map(|p| p.at_ms).collect();
    let horizon = batch.iter().map(|p| p.horizon_ms).min().unwrap_or(0);
    let stmt = tx.prepare_cached(RECORD).await.map_err(db)?;
    let rows = tx.query(&stmt, &[&devices, &nonces, &at, &horizon]).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
