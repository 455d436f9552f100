//! Checking an evidence bundle in the console: upload a `.zip`, see every check the offline
//! verifier makes (the same `onevisit verify` code), named in Chinese, against this tenant's root
//! key. Nothing is stored: the upload goes to a temporary file that is removed afterwards.

use std::io::Write;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::response::Response;

use super::ConsoleError;
use super::pages::{Nav, page};
use super::session::Viewer;
use crate::api::AppState;
use crate::blobs::BlobStorage;
use crate::storage::Storage;

/// The largest bundle accepted for a check.
pub(super) const MAX_BUNDLE_BYTES: usize = 512 * 1024 * 1024;

#[derive(Template)]
#[template(path = "console/bundles.html")]
pub(super) struct BundlesPage {
    nav: Nav,
    result: Option<CheckResult>,
}

/// A finished check.
pub(super) struct CheckResult {
    file: String,
    size: String,
    valid: bool,
    summary: String,
    checks: Vec<CheckLine>,
}

/// One named check.
pub(super) struct CheckLine {
    name: String,
    ok: bool,
    detail: String,
}

/// The upload form.
pub(super) async fn form<S: Storage, B: BlobStorage>(
    State(_state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    Ok(page(&BundlesPage { nav: Nav::of(&viewer), result: None }))
}

fn bad(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::BadInput(format!("上传未完成：{e}"))
}

/// Verifies an uploaded bundle and shows every check.
pub(super) async fn check<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    mut multipart: Multipart,
) -> Result<Response, ConsoleError> {
    let mut csrf_checked = false;
    let mut upload: Option<(String, tempfile::TempDir, std::path::PathBuf, usize)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => {
                if let Err(refused) = viewer.check_csrf(&field.text().await.map_err(bad)?) {
                    // The rest of the upload is read and dropped unseen, so that the browser
                    // gets the refusal instead of a connection reset in mid-upload.
                    while let Ok(Some(mut rest)) = multipart.next_field().await {
                        while let Ok(Some(_)) = rest.chunk().await {}
                    }
                    return Err(refused);
                }
                csrf_checked = true;
            }
            // The token comes first on the form: no file is read for a request without it.
            Some("bundle") if csrf_checked => {
                let name = field.file_name().unwrap_or("bundle.zip").to_string();
                let dir = tempfile::tempdir().map_err(|e| ConsoleError::Internal(e.to_string()))?;
                let path = dir.path().join("bundle.zip");
                let mut file = std::fs::File::create(&path).map_err(|e| ConsoleError::Internal(e.to_string()))?;
                let mut size = 0usize;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    size += chunk.len();
                    if size > MAX_BUNDLE_BYTES {
                        return Err(ConsoleError::BadInput(format!(
                            "证据包超过 {} MiB，请用 onevisit verify 在本机核验",
                            MAX_BUNDLE_BYTES >> 20
                        )));
                    }
                    file.write_all(&chunk).map_err(|e| ConsoleError::Internal(e.to_string()))?;
                }
                file.sync_all().map_err(|e| ConsoleError::Internal(e.to_string()))?;
                upload = Some((name, dir, path, size));
            }
            _ => return Err(ConsoleError::Csrf),
        }
    }
    if !csrf_checked {
        return Err(ConsoleError::Csrf);
    }
    let (file, _dir, path, size) =
        upload.ok_or_else(|| ConsoleError::BadInput("请选择要核验的证据包（.zip）".into()))?;
    if size == 0 {
        return Err(ConsoleError::BadInput("上传的文件是空的".into()));
    }
    let root = hex::encode(state.tenant.root_public_key());
    let report = tokio::task::spawn_blocking(move || {
        onevisit_core::bundle::verify(&path, &root, &|_| {}, &onevisit_core::sync::CancelToken::new())
    })
    .await
    .map_err(|e| ConsoleError::Internal(e.to_string()))?
    .map_err(|e| ConsoleError::BadInput(format!("无法核验：{e}")))?;
    let failed = report.failures().len();
    let summary = if report.is_valid() {
        format!("全部 {} 项核验通过", report.checks.len())
    } else if report.root_mismatch() {
        format!("{failed} 项未通过：包内设备证书都不是本市根密钥签发的，多半是其他租户的证据包")
    } else {
        format!("{failed} 项未通过（共 {} 项）：证据包被改动或不完整，不能作为证据使用", report.checks.len())
    };
    let result = CheckResult {
        file,
        size: format!("{:.1} KiB", size as f64 / 1024.0),
        valid: report.is_valid(),
        summary,
        checks: report
            .checks
            .iter()
            .map(|c| CheckLine { name: c.label_zh().into(), ok: c.ok, detail: c.detail.clone() })
            .collect(),
    };
    Ok(page(&BundlesPage { nav: Nav::of(&viewer), result: Some(result) }))
}
