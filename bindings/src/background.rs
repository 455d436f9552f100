//! Running slow work off the caller's thread, and the cancellation and progress handles an app
//! passes in.

use std::sync::Arc;

use onevisit_core::sync::CancelToken;

use crate::progress::{Progress, ProgressListener};

/// A handle the app keeps to stop a long call at its next safe point (what was done is kept).
#[derive(Debug, Default, uniffi::Object)]
pub struct Cancellation {
    token: CancelToken,
}

#[uniffi::export]
impl Cancellation {
    /// A handle not yet cancelled.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Cancellation::default())
    }

    /// Asks the call to stop.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// The token of an optional handle (a fresh one when the app passed none).
pub(crate) fn token(cancel: &Option<Arc<Cancellation>>) -> CancelToken {
    cancel.as_ref().map(|c| c.token.clone()).unwrap_or_default()
}

/// Reports to an optional listener.
pub(crate) fn report(listener: &Option<Arc<dyn ProgressListener>>, progress: Progress) {
    if let Some(l) = listener {
        l.on_progress(progress);
    }
}

/// Runs `work` on its own thread and awaits it, so that the caller's thread (a Kotlin dispatcher,
/// a Swift task) is never blocked by disk or network work. A worker that panics yields `lost`.
pub(crate) async fn in_background<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static, lost: E) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    let (tx, rx) = futures_channel::oneshot::channel();
    let spawned = std::thread::Builder::new().name("onevisit-worker".into()).spawn(move || {
        let _ = tx.send(work());
    });
    if spawned.is_err() {
        return Err(lost);
    }
    rx.await.unwrap_or(Err(lost))
}
