//! What both backends' nonce writers share: a request's nonce waiting in a batch, and handing
//! each request its answer once the batch is written.

use tokio::sync::oneshot;

use super::StorageError;

/// One request's nonce waiting to be recorded, and where its answer goes.
pub(super) struct PendingNonce {
    /// The device.
    pub(super) device: String,
    /// Its request nonce.
    pub(super) nonce: String,
    /// When the request was made.
    pub(super) at_ms: i64,
    /// Nonces before this may be forgotten.
    pub(super) horizon_ms: i64,
    answer: oneshot::Sender<Result<bool, StorageError>>,
}

impl PendingNonce {
    /// A nonce to queue, and where its answer (whether it was new) arrives.
    pub(super) fn new(
        device: String,
        nonce: String,
        at_ms: i64,
        horizon_ms: i64,
    ) -> (PendingNonce, impl Future<Output = Result<bool, StorageError>>) {
        let (answer, answered) = oneshot::channel();
        let answered = async move { answered.await.map_err(|_| stopped())? };
        (PendingNonce { device, nonce, at_ms, horizon_ms, answer }, answered)
    }
}

/// The writer of the batches is gone (the storage is closing).
pub(super) fn stopped() -> StorageError {
    StorageError::Database("the nonce writer has stopped".into())
}

/// Answers every request of a written batch: `fresh[i]` for the i-th, or the batch's failure.
pub(super) fn answer_all(batch: Vec<PendingNonce>, fresh: Result<Vec<bool>, StorageError>) {
    match fresh {
        Ok(fresh) => {
            for (p, new) in batch.into_iter().zip(fresh) {
                // A request that gave up waiting has nobody to answer.
                let _ = p.answer.send(Ok(new));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for p in batch {
                let _ = p.answer.send(Err(StorageError::Database(message.clone().into())));
            }
        }
    }
}
