//! The enterprise's file (一企一档) in the console: every task of one enterprise in date order,
//! its findings and their loop, its orders and whether they are signed. A supervisor sees only the
//! tasks their department takes part in.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use onevisit_core::domain::Uscc;

use super::ConsoleError;
use super::pages::{Nav, page};
use super::session::Viewer;
use crate::api::{AppState, now_ms};
use crate::blobs::BlobStorage;
use crate::enterprise_file::FileTask;
use crate::storage::Storage;

#[derive(Template)]
#[template(path = "console/enterprise.html")]
pub(super) struct EnterprisePage {
    nav: Nav,
    uscc: String,
    name: String,
    grade: String,
    tasks: Vec<FileTask>,
}

/// One enterprise's file.
pub(super) async fn show<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Path(uscc): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = Uscc::parse(&uscc).map_err(|e| ConsoleError::NotFound(format!("统一社会信用代码 {uscc}（{e}）")))?;
    let directory = super::dashboard::directory(&state).await?;
    let mut file = crate::enterprise_file::file(&state.storage, &state.tenant, &directory, &id, now_ms())
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    if let Some(own) = viewer.role.department() {
        file.tasks.retain(|t| t.departments.iter().any(|d| d == own));
    }
    if file.name.is_empty() && file.tasks.is_empty() {
        return Err(ConsoleError::NotFound(format!("企业 {uscc}")));
    }
    Ok(page(&EnterprisePage {
        nav: Nav::of(&viewer),
        uscc: file.uscc,
        name: file.name,
        grade: file.credit_grade.unwrap_or_else(|| "—".into()),
        tasks: file.tasks,
    }))
}
