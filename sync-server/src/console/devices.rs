//! Devices in the console: every enrolled handheld with its inspector, last sync and whether it is
//! revoked; one-time enrolment codes shown as a QR code the handheld scans (the server address,
//! the code and the root key); revoking a device with a reason. Only an administrator changes
//! anything, and every change goes to the action log. A supervisor sees their department's devices.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use onevisit_core::domain::{Directory, InspectorId};
use onevisit_core::sync::enrolment_link::EnrolmentLink;
use serde::Deserialize;

use super::ConsoleError;
use super::actions::{ActionKind, log};
use super::pages::{Nav, page};
use super::session::Viewer;
use crate::api::{AppState, now_ms};
use crate::blobs::BlobStorage;
use crate::storage::Storage;

/// Longest validity of an enrolment code made in the console.
const MAX_VALID_HOURS: i64 = 24 * 30;

/// One device on the page.
pub(super) struct DeviceRow {
    device: String,
    code: String,
    inspector: String,
    department: String,
    serial: String,
    last_sync: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "console/devices.html")]
pub(super) struct DevicesPage {
    nav: Nav,
    administrator: bool,
    notice: Option<String>,
    server: String,
    inspectors: Vec<(String, String)>,
    rows: Vec<DeviceRow>,
}

/// A notice after a change (the page is reloaded after every form).
#[derive(Debug, Default, Deserialize)]
pub(super) struct DevicesQuery {
    revoked: Option<String>,
}

/// The inspector's department, from the directory.
fn department_of(directory: &Directory, inspector: &str) -> Option<String> {
    let id = InspectorId::new(inspector).ok()?;
    directory.inspector(&id).map(|i| i.department.to_string())
}

/// The devices page.
pub(super) async fn list<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<DevicesQuery>,
) -> Result<Response, ConsoleError> {
    let directory = super::dashboard::directory(&state).await?;
    let names = crate::reports::Names(&directory);
    let devices = state.storage.devices().await?;
    let revocations = state.storage.revocations().await?;
    let own = viewer.role.department().map(str::to_string);
    let rows = devices
        .into_iter()
        .filter(|d| own.is_none() || department_of(&directory, &d.inspector) == own)
        .map(|d| {
            let revoked = revocations
                .iter()
                .find(|r| r.device == d.device)
                .map(|r| format!("已吊销（{}，{}）", onevisit_core::beijing::date_time(r.revoked_at_ms), r.reason));
            DeviceRow {
                inspector: format!("{}（{}）", names.inspector(&d.inspector), d.inspector),
                department: department_of(&directory, &d.inspector).map(|x| names.department(&x)).unwrap_or_default(),
                last_sync: d.last_request_ms.map(onevisit_core::beijing::date_time).unwrap_or_else(|| "从未".into()),
                code: d.device_code,
                serial: d.serial,
                device: d.device,
                revoked,
            }
        })
        .collect();
    let inspectors = directory
        .inspectors()
        .map(|i| (i.id.to_string(), format!("{}（{}，{}）", i.name, names.department(i.department.as_str()), i.id)))
        .collect();
    Ok(page(&DevicesPage {
        nav: Nav::of(&viewer),
        administrator: viewer.role.may_administer(),
        notice: query.revoked.map(|code| format!("已吊销设备 {code}：它的下一次同步将被拒绝")),
        server: server_address(&headers),
        inspectors,
        rows,
    }))
}

/// The address a handheld reaches this server at, as the browser did (plain http only on
/// loopback; the administrator may change it on the form).
fn server_address(headers: &HeaderMap) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let loopback = host.starts_with("127.0.0.1") || host.starts_with("localhost") || host.starts_with("[::1]");
    format!("{}://{host}", if loopback { "http" } else { "https" })
}

/// The enrolment form.
#[derive(Debug, Deserialize)]
pub(super) struct EnrolmentForm {
    csrf: String,
    inspector: String,
    valid_hours: String,
    server: String,
}

#[derive(Template)]
#[template(path = "console/enrolment.html")]
pub(super) struct EnrolmentPage {
    nav: Nav,
    inspector: String,
    code: String,
    link: String,
    qr_svg: String,
    expires: String,
}

/// Makes a one-time enrolment code and shows it as a QR code, once (only its hash is stored).
pub(super) async fn enrol<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Form(form): Form<EnrolmentForm>,
) -> Result<Response, ConsoleError> {
    viewer.may_administer(&form.csrf)?;
    let directory = super::dashboard::directory(&state).await?;
    let inspector = InspectorId::new(form.inspector.trim())
        .ok()
        .and_then(|id| directory.inspector(&id).cloned())
        .ok_or_else(|| ConsoleError::BadInput(format!("名录中没有执法人员 {}", form.inspector)))?;
    let hours: i64 = form
        .valid_hours
        .trim()
        .parse()
        .ok()
        .filter(|h| (1..=MAX_VALID_HOURS).contains(h))
        .ok_or_else(|| ConsoleError::BadInput(format!("有效小时数须为 1–{MAX_VALID_HOURS} 的整数")))?;
    let code = crate::enrolment_code();
    let link = EnrolmentLink {
        server: form.server.trim().trim_end_matches('/').to_string(),
        code: code.clone(),
        root: hex::encode(state.tenant.root_public_key()),
    };
    let text = link.to_text();
    EnrolmentLink::parse(&text).map_err(|e| ConsoleError::BadInput(format!("服务器地址不可用：{e}")))?;
    let now = now_ms();
    let expires = now + hours * 3_600_000;
    let hash = crate::api::code_hash(&code);
    state.storage.create_enrolment(hash.clone(), inspector.id.to_string(), expires).await?;
    let detail = format!("登记码哈希前缀 {}，有效至 {}", &hash[..8], onevisit_core::beijing::date_time(expires));
    log(&state, &viewer, ActionKind::CreateEnrolment, inspector.id.as_str(), &detail, now).await?;
    let svg = onevisit_core::qr::svg(&text).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let qr_svg = svg.find("<svg").map_or(svg.clone(), |i| svg[i..].to_string());
    Ok(page(&EnrolmentPage {
        nav: Nav::of(&viewer),
        inspector: format!("{}（{}）", inspector.name, inspector.id),
        code,
        link: text,
        qr_svg,
        expires: onevisit_core::beijing::date_time(expires),
    }))
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub(super) struct RevokeForm {
    csrf: String,
    reason: String,
}

/// Revokes a device with a reason; its next request is refused.
pub(super) async fn revoke<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Path(device): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, ConsoleError> {
    viewer.may_administer(&form.csrf)?;
    let reason = form.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ConsoleError::BadInput("吊销须写明原因（不超过 200 字）".into()));
    }
    let devices = state.storage.devices().await?;
    let known =
        devices.into_iter().find(|d| d.device == device).ok_or(ConsoleError::NotFound(format!("设备 {device}")))?;
    let now = now_ms();
    // Revoking is idempotent in storage: an earlier revocation stays as it was, with its reason.
    let revocation = state.storage.revoke(known.device.clone(), reason.clone(), now).await?;
    if revocation.revoked_at_ms != now || revocation.reason != reason {
        return Err(ConsoleError::BadInput(format!(
            "设备 {} 已被吊销，原因：{}",
            known.device_code, revocation.reason
        )));
    }
    let detail = format!("证书序列号 {}，原因：{reason}", revocation.serial);
    log(&state, &viewer, ActionKind::RevokeDevice, &known.device, &detail, now).await?;
    Ok(Redirect::to(&format!("/console/devices?revoked={}", known.device_code)).into_response())
}
