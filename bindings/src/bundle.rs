//! Evidence bundles: exporting a sealed BagIt bag for another agency or a court, and verifying one
//! offline with only the tenant's root key.

use std::path::PathBuf;
use std::sync::Arc;

use onevisit_core::bundle::{self as core_bundle, ExportOptions, Format};
use onevisit_core::domain::TaskCode;
use onevisit_core::store::StoreError as CoreStoreError;
use onevisit_core::sync::{self as core_sync, SyncOptions};

use crate::background::{Cancellation, in_background, report, token};
use crate::errors::BundleError;
use crate::progress::{Progress, ProgressListener};
use crate::store::DeviceStore;

/// How to export.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ExportRequest {
    /// The tasks to put in the bundle.
    pub tasks: Vec<String>,
    /// Where: a new folder, or a new file ending in `.zip`.
    pub destination: String,
    /// The agency named in the bundle (default: the inspector's department).
    #[uniffi(default = None)]
    pub agency: Option<String>,
    /// Whether to ask the server for inclusion proofs of the audit entries (needs a network).
    #[uniffi(default = true)]
    pub with_proofs: bool,
}

/// What was exported.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ExportResult {
    /// The bundle.
    pub path: String,
    /// Payload files.
    pub files: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Photos.
    pub photos: u64,
    /// Document versions.
    pub documents: u64,
    /// Audit entries.
    pub audit_entries: u64,
    /// Audit entries with a server inclusion proof.
    pub proven_entries: u64,
    /// Why proofs are missing, when they were asked for and the server could not give them.
    pub proofs_unavailable: Option<String>,
}

/// One check a verification made.
#[derive(Debug, Clone, uniffi::Record)]
pub struct BundleCheck {
    /// What was checked (`manifest`, `seal`, `capture`, `document`, `audit`, …).
    pub kind: String,
    /// The check's name in Chinese (内容清单, 封签, 照片采集记录, 文书签名, 审计日志, …).
    pub label: String,
    /// Whether it holds.
    pub ok: bool,
    /// What exactly: the file, the signer, the entry.
    pub detail: String,
}

/// The outcome of verifying a bundle.
#[derive(Debug, Clone, uniffi::Record)]
pub struct BundleVerification {
    /// Whether every check holds.
    pub valid: bool,
    /// Every check, in the order made.
    pub checks: Vec<BundleCheck>,
}

impl BundleVerification {
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &BundleCheck> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

fn lost() -> BundleError {
    BundleError::Io { detail: "the bundle worker stopped".into() }
}

#[uniffi::export]
impl DeviceStore {
    /// Exports tasks as a sealed evidence bundle.
    pub async fn export_bundle(
        &self,
        request: ExportRequest,
        listener: Option<Arc<dyn ProgressListener>>,
        cancel: Option<Arc<Cancellation>>,
    ) -> Result<ExportResult, BundleError> {
        let store = Arc::clone(&self.store);
        let cancel = token(&cancel);
        in_background(
            move || {
                let codes = request
                    .tasks
                    .iter()
                    .map(|c| TaskCode::parse(c).map_err(|_| BundleError::UnknownTask { code: c.clone() }))
                    .collect::<Result<Vec<_>, _>>()?;
                let (proofs, proofs_unavailable) = if request.with_proofs {
                    match core_sync::audit_proofs(&store, &SyncOptions::default(), &cancel) {
                        Ok(p) => (Some(p), None),
                        Err(core_sync::SyncError::Client(core_sync::ClientError::Cancelled)) => {
                            return Err(BundleError::Cancelled);
                        }
                        Err(e) => (None, Some(e.to_string())),
                    }
                } else {
                    (None, None)
                };
                let dest = PathBuf::from(&request.destination);
                let mut store = store.lock().map_err(|_| CoreStoreError::Poisoned)?;
                let agency = match request.agency {
                    Some(a) => a,
                    None => core_bundle::export::default_agency(&mut store)?,
                };
                let options = ExportOptions { format: Format::for_destination(&dest), agency, proofs };
                let on_progress =
                    |p: &core_bundle::BundleProgress| report(&listener, Progress::Bundle { progress: p.into() });
                let summary = core_bundle::export(&mut store, &codes, &dest, &options, &on_progress, &cancel)?;
                Ok(ExportResult {
                    path: request.destination,
                    files: summary.files,
                    bytes: summary.bytes,
                    photos: summary.photos,
                    documents: summary.documents,
                    audit_entries: summary.audit_entries,
                    proven_entries: summary.proven_entries,
                    proofs_unavailable,
                })
            },
            lost(),
        )
        .await
    }
}

/// Verifies a bundle (a folder or a `.zip`) offline against the tenant's root public key (hex):
/// every check is reported and a failure names exactly what failed.
#[uniffi::export]
pub async fn verify_bundle(
    path: String,
    root_public_key_hex: String,
    listener: Option<Arc<dyn ProgressListener>>,
    cancel: Option<Arc<Cancellation>>,
) -> Result<BundleVerification, BundleError> {
    let cancel = token(&cancel);
    in_background(
        move || {
            let on_progress =
                |p: &core_bundle::BundleProgress| report(&listener, Progress::Bundle { progress: p.into() });
            let report = core_bundle::verify(&PathBuf::from(&path), &root_public_key_hex, &on_progress, &cancel)?;
            Ok(BundleVerification {
                valid: report.is_valid(),
                checks: report
                    .checks
                    .into_iter()
                    .map(|c| BundleCheck { label: c.label_zh().to_string(), kind: c.kind, ok: c.ok, detail: c.detail })
                    .collect(),
            })
        },
        lost(),
    )
    .await
}
