//! Progress of long calls, reported to a listener the app implements.

use onevisit_core::bundle::BundleProgress as CoreBundleProgress;
use onevisit_core::sync::Progress as CoreSyncProgress;

/// Implemented by the app to follow a long call; called on the worker thread.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// One step of progress.
    fn on_progress(&self, progress: Progress);
}

/// A step of a long call.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Progress {
    /// A sync with the city server.
    Sync {
        /// Where it stands.
        progress: SyncProgress,
    },
    /// A bundle export or verification.
    Bundle {
        /// Where it stands.
        progress: BundleProgress,
    },
    /// A photo being taken in.
    Photo {
        /// The stage reached.
        stage: PhotoStage,
    },
}

/// Where a sync stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// Round trips made.
    pub requests: u64,
    /// Records the server accepted.
    pub records_pushed: u64,
    /// Records that received changes.
    pub records_pulled: u64,
    /// Records still waiting.
    pub records_pending: u64,
    /// Records that had changes to push at the start (a progress bar's total).
    pub records_to_push: u64,
    /// Bytes sent.
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// Photos uploaded so far.
    pub photos_done: u64,
    /// Photos to upload in all.
    pub photos_total: u64,
    /// Requests sent again after a failure.
    pub retries: u64,
    /// Why the latest retry was needed, in zh-CN (e.g. "服务器的应答被截断"), if there was one.
    pub retry_reason: Option<String>,
    /// Whether the sync waits for another sync of the same store to finish.
    pub waiting_for_other_sync: bool,
}

impl From<&CoreSyncProgress> for SyncProgress {
    fn from(p: &CoreSyncProgress) -> Self {
        SyncProgress {
            requests: p.requests,
            records_pushed: p.records_pushed,
            records_pulled: p.records_pulled,
            records_pending: p.records_pending,
            records_to_push: p.records_to_push,
            bytes_up: p.bytes_up,
            bytes_down: p.bytes_down,
            photos_done: p.blobs_done,
            photos_total: p.blobs_total,
            retries: p.retries,
            retry_reason: p.last_retry.map(|c| c.label_zh().to_string()),
            waiting_for_other_sync: p.waiting_for_other_sync,
        }
    }
}

/// Where an export or a verification stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BundleProgress {
    /// Files done.
    pub files: u64,
    /// Files in all (0 while unknown).
    pub files_total: u64,
    /// Bytes done.
    pub bytes: u64,
}

impl From<&CoreBundleProgress> for BundleProgress {
    fn from(p: &CoreBundleProgress) -> Self {
        BundleProgress { files: p.files, files_total: p.files_total, bytes: p.bytes }
    }
}

/// The stages of taking a photo in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoStage {
    /// Reading the file.
    Reading,
    /// Checking, thumbnailing and signing its capture record.
    Processing,
    /// Stored and attached.
    Attached,
}
