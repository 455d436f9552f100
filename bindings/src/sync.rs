//! Enrolling with the city server and syncing: off the caller's thread, with progress and
//! cancellation.

use std::sync::Arc;

use onevisit_core::store::StoreError as CoreStoreError;
use onevisit_core::sync::{self as core_sync, SyncOptions};

use crate::background::{Cancellation, in_background, report, token};
use crate::errors::SyncError;
use crate::progress::{Progress, ProgressListener};
use crate::store::DeviceStore;

/// What one sync did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncSummary {
    /// The final progress.
    pub progress: crate::progress::SyncProgress,
    /// Records the server refused, with why.
    pub refused: Vec<RefusedRecord>,
    /// Records this device left out (a received change broke the write rules and was
    /// quarantined, or its copy is unreadable); every other record kept syncing.
    pub isolated: Vec<RefusedRecord>,
    /// Tasks this device's inspector was taken off.
    pub removed: Vec<String>,
    /// The last audit entry the server holds.
    pub audit_confirmed_through: u64,
    /// Whether a new revocation list arrived.
    pub revocations_updated: bool,
    /// Whether new directory data arrived.
    pub directory_updated: bool,
    /// Photo originals fetched from the server.
    pub photos_fetched: u64,
    /// Photo originals the capturing device has not uploaded yet (a later sync fetches them).
    pub photos_pending: u64,
    /// Why the server refused this device's audit log, if it did (records and photos synced
    /// anyway); see `DeviceStore.startAuditSegment`.
    pub audit_refused: Option<String>,
    /// Records whose copy here was restored from an old backup: rebuilt from the server's copy,
    /// with this device's edits since made again.
    pub rebuilt: Vec<String>,
    /// Records whose own changes went up while changes made by other devices (exchanged by file)
    /// wait for those devices to sync: nothing to do here but sync again later.
    pub waiting: Vec<String>,
}

/// A record the server (or this device) refused.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RefusedRecord {
    /// Its task code.
    pub task: String,
    /// Why (`not_assigned`, `read_only`, `foreign_actor`, `too_large`, `malformed`,
    /// `forbidden_edit`, `unreadable`, …).
    pub reason: String,
    /// With `forbidden_edit`: the write rule broken (machine name) and where in the record.
    pub rule: Option<String>,
    /// The path in the record the rule concerns.
    pub path: Option<String>,
    /// The reason in zh-CN, for the inspector.
    pub explanation: String,
}

/// What enrolment gave the device.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Enrolment {
    /// The server.
    pub server_url: String,
    /// The device code the server assigned.
    pub device_code: String,
}

fn lost() -> SyncError {
    SyncError::Storage { detail: "the sync worker stopped".into() }
}

#[uniffi::export]
impl DeviceStore {
    /// Enrols the device with a one-time code, checking the server's certificate against the
    /// tenant's root key (hex) given out of band.
    pub async fn enrol(
        &self,
        server_url: String,
        one_time_code: String,
        root_public_key_hex: String,
    ) -> Result<Enrolment, SyncError> {
        let store = Arc::clone(&self.store);
        in_background(
            move || {
                let mut store =
                    store.lock().map_err(|_| CoreStoreError::Poisoned).map_err(core_sync::SyncError::from)?;
                let account = core_sync::enrol(&mut store, &server_url, &one_time_code, &root_public_key_hex)?;
                Ok(Enrolment { server_url: account.server_url, device_code: account.device_code })
            },
            lost(),
        )
        .await
    }

    /// Enrols the device from the enrolment QR code the command centre's console shows: the
    /// server, the one-time code and the tenant root key, each checked as `enrol` checks them.
    pub async fn enrol_scanned(&self, scanned: String) -> Result<Enrolment, SyncError> {
        let link = core_sync::enrolment_link::EnrolmentLink::parse(&scanned)
            .map_err(|e| SyncError::NotAnEnrolmentCode { detail: e.to_string() })?;
        self.enrol(link.server, link.code, link.root).await
    }

    /// Syncs everything with the server (records both ways, the audit log, photos up); with
    /// `fetch_photos`, also downloads the originals of attached photos this device lacks.
    /// Recording may go on meanwhile.
    pub async fn sync(
        &self,
        fetch_photos: bool,
        listener: Option<Arc<dyn ProgressListener>>,
        cancel: Option<Arc<Cancellation>>,
    ) -> Result<SyncSummary, SyncError> {
        let store = Arc::clone(&self.store);
        let cancel = token(&cancel);
        in_background(
            move || {
                let options = SyncOptions::default();
                let on_progress = |p: &core_sync::Progress| report(&listener, Progress::Sync { progress: p.into() });
                let done = core_sync::sync(&store, &options, &on_progress, &cancel)?;
                let photos = if fetch_photos {
                    core_sync::fetch_missing_photos(&store, &options, &cancel)?
                } else {
                    core_sync::PhotoFetch::default()
                };
                Ok(SyncSummary {
                    progress: (&done.progress).into(),
                    refused: done
                        .refused
                        .iter()
                        .map(|(task, why)| {
                            let detail = done.forbidden.get(task);
                            RefusedRecord {
                                task: task.clone(),
                                reason: serde_json::to_value(why)
                                    .ok()
                                    .and_then(|v| v.as_str().map(String::from))
                                    .unwrap_or_else(|| why.to_string()),
                                rule: detail.map(|d| d.rule.clone()),
                                path: detail.map(|d| d.path.clone()),
                                explanation: match detail {
                                    Some(d) => onevisit_core::store::quarantine::rule_label_zh(&d.rule),
                                    None => "服务器拒收该记录".into(),
                                },
                            }
                        })
                        .collect(),
                    isolated: done
                        .isolated
                        .iter()
                        .map(|(task, why)| RefusedRecord {
                            task: task.clone(),
                            reason: if why.forbidden.is_some() { "forbidden_edit" } else { "unreadable" }.into(),
                            rule: why.forbidden.as_ref().map(|f| f.rule.as_str().to_string()),
                            path: why.forbidden.as_ref().map(|f| f.path.clone()),
                            explanation: match &why.forbidden {
                                Some(f) => format!("收到的修改已拒收并隔离：{}", f.rule.label_zh()),
                                None => "本机无法读取该记录，已跳过".into(),
                            },
                        })
                        .collect(),
                    removed: done.removed,
                    audit_confirmed_through: done.audit_through,
                    revocations_updated: done.revocations.is_some(),
                    directory_updated: done.directory_updated,
                    photos_fetched: photos.fetched,
                    photos_pending: photos.pending.len() as u64,
                    audit_refused: done.audit_refused,
                    rebuilt: done.replayed.keys().cloned().collect(),
                    waiting: done.waiting.keys().cloned().collect(),
                })
            },
            lost(),
        )
        .await
    }
}
