//! What both backends' nonce writers share: the queue requests put their nonces on, and handing
//! each request its answer once its batch is written.

use tokio::sync::{mpsc, oneshot};

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

/// The queue requests record their nonces through; its writer stops when the last handle goes.
#[derive(Clone)]
pub(super) struct NonceQueue {
    queue: mpsc::UnboundedSender<PendingNonce>,
}

impl NonceQueue {
    /// A queue and the end its writer (a thread or a task) takes batches from.
    pub(super) fn new() -> (NonceQueue, mpsc::UnboundedReceiver<PendingNonce>) {
        let (queue, pending) = mpsc::unbounded_channel();
        (NonceQueue { queue }, pending)
    }

    /// Queues the device's nonce at `at_ms` (those before `horizon_ms` may be forgotten) and waits
    /// for its batch: false if the device used it already — also when the same nonce arrives
    /// twice in one batch.
    pub(super) async fn remember(
        &self,
        device: String,
        nonce: String,
        at_ms: i64,
        horizon_ms: i64,
    ) -> Result<bool, StorageError> {
        let (answer, answered) = oneshot::channel();
        self.queue.send(PendingNonce { device, nonce, at_ms, horizon_ms, answer }).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// The writer of the batches is gone (the storage is closing).
fn stopped() -> StorageError {
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
