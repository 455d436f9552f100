//! The console's action log as a page: the latest changes people made in the console, each
//! checked against the tenant root key and linked to the one before. For administrators and
//! auditors.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::ConsoleError;
use super::actions::{CHAIN, verify_latest};
use super::pages::{Nav, page};
use super::session::Viewer;
use crate::api::AppState;
use crate::blobs::BlobStorage;
use crate::storage::Storage;

/// Entries the page shows.
const SHOWN: u32 = 200;

/// One logged action.
pub(super) struct ActionRow {
    seq: u64,
    at: String,
    user: String,
    role: String,
    action: String,
    object: String,
    detail: String,
    verdict: String,
    intact: bool,
}

#[derive(Template)]
#[template(path = "console/actions.html")]
pub(super) struct ActionsPage {
    nav: Nav,
    total: u64,
    rows: Vec<ActionRow>,
}

/// The action log.
pub(super) async fn show<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    if viewer.role.department().is_some() {
        return Err(ConsoleError::Forbidden);
    }
    let (total, _) = state.storage.audit_head(CHAIN.to_string()).await?;
    let stored = state.storage.audit_chain(CHAIN.to_string(), SHOWN).await?;
    let rows = stored
        .iter()
        .zip(verify_latest(&stored, &state.tenant.root_key()))
        .map(|(row, checked)| match checked {
            Ok(a) => ActionRow {
                seq: a.seq,
                at: onevisit_core::beijing::date_time(a.at_ms),
                user: a.user,
                role: a.role,
                action: a.action.label_zh().into(),
                object: a.object,
                detail: a.detail,
                verdict: "签名有效，链接完整".into(),
                intact: true,
            },
            Err(problem) => ActionRow {
                seq: row.seq,
                at: String::new(),
                user: String::new(),
                role: String::new(),
                action: String::new(),
                object: String::new(),
                detail: String::new(),
                verdict: problem.to_string(),
                intact: false,
            },
        })
        .collect();
    Ok(page(&ActionsPage { nav: Nav::of(&viewer), total, rows }))
}
