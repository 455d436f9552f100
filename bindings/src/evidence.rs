//! Evidence photos: taken in from a file (camera output) off the caller's thread, listed, and
//! found on disk for display.

use std::sync::Arc;

use crate::background::{Cancellation, in_background, report, token};
use crate::errors::{PhotoError, RecordError};
use crate::inspection::position;
use crate::progress::{PhotoStage, Progress, ProgressListener};
use crate::store::{DeviceStore, task_code};
use crate::types::{GeoPosition, PhotoInfo, PhotoTarget};

#[uniffi::export]
impl DeviceStore {
    /// Takes the photo at `path` in as evidence of `target`: kept byte-identical, thumbnailed,
    /// described by a signed capture record and attached to the record. `at` is the device's own
    /// fix, if it has one (otherwise the photo's EXIF position is used).
    pub async fn add_photo(
        &self,
        code: String,
        path: String,
        target: PhotoTarget,
        at: Option<GeoPosition>,
        listener: Option<Arc<dyn ProgressListener>>,
        cancel: Option<Arc<Cancellation>>,
    ) -> Result<PhotoInfo, PhotoError> {
        let refused = |reason: RecordError| PhotoError::Refused { reason };
        let code = task_code(&code).map_err(refused)?;
        let at = at.map(position).transpose().map_err(refused)?;
        let store = Arc::clone(&self.store);
        let cancel = token(&cancel);
        let lost = PhotoError::Refused { reason: RecordError::Storage { detail: "the photo worker stopped".into() } };
        in_background(
            move || {
                report(&listener, Progress::Photo { stage: PhotoStage::Reading });
                let bytes = std::fs::read(&path).map_err(|e| PhotoError::Unreadable { path, detail: e.to_string() })?;
                if cancel.is_cancelled() {
                    return Err(PhotoError::Cancelled);
                }
                report(&listener, Progress::Photo { stage: PhotoStage::Processing });
                let mut store = store.lock().map_err(|_| onevisit_core::store::StoreError::Poisoned)?;
                if cancel.is_cancelled() {
                    return Err(PhotoError::Cancelled);
                }
                let captured = store.add_photo(&code, &bytes, target.into(), at)?;
                report(&listener, Progress::Photo { stage: PhotoStage::Attached });
                Ok(PhotoInfo::of(captured.evidence, captured.created))
            },
            lost,
        )
        .await
    }

    /// The photos attached to a task's record.
    pub fn photos(&self, code: String) -> Result<Vec<PhotoInfo>, RecordError> {
        let code = task_code(&code)?;
        Ok(self.lock::<RecordError>()?.photos(&code)?.into_iter().map(|e| PhotoInfo::of(e, false)).collect())
    }

    /// Where the file with this hash (an original or a thumbnail) is on this device, if it is.
    pub fn photo_path(&self, sha256: String) -> Result<Option<String>, RecordError> {
        if !onevisit_core::record::values::is_sha256_hex(&sha256) {
            return Err(RecordError::InvalidInput { detail: format!("{sha256:?} is not a SHA-256 hex digest") });
        }
        let store = self.lock::<RecordError>()?;
        let blobs = store.blobs()?;
        if !blobs.has(store.connection(), &sha256)? {
            return Ok(None);
        }
        Ok(Some(blobs.path_of(&sha256).display().to_string()))
    }
}
