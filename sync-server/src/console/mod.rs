//! The command centre's web console (一屏掌控), served by the server itself under `/console`:
//! server-rendered pages (askama templates, no script needed), charts drawn on the server as SVG
//! (plotters), every asset inside the binary. Console accounts are people, not devices:
//! administrators, department supervisors (their department's tasks only) and auditors (read only).

pub mod accounts;
mod action_log;
pub mod actions;
mod bundles;
mod charts;
mod dashboard;
mod devices;
mod draws;
mod enterprises;
mod pages;
pub mod session;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::api::AppState;
use crate::blobs::BlobStorage;
use crate::storage::{Storage, StorageError};
use pages::{ErrorPage, page};

/// The console's style sheet.
const CSS: &str = include_str!("../../templates/console/console.css");

/// Why a console request was refused or failed; each is a page in Chinese (or a way to the login).
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: go and log in.
    #[error("请先登录")]
    NoSession,
    /// The form's CSRF token is missing or not this session's.
    #[error("表单已失效（可能来自其他网站或已过期），请刷新页面后重试")]
    Csrf,
    /// The role may not see or do this.
    #[error("您的账号无权查看或操作此内容")]
    Forbidden,
    /// Nothing by that name.
    #[error("没有找到：{0}")]
    NotFound(String),
    /// Too many wrong passwords.
    #[error("密码错误次数过多，请在 {0} 秒后重试")]
    Throttled(u64),
    /// A field of a form is not valid.
    #[error("{0}")]
    BadInput(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Something else failed on the server.
    #[error("服务器内部错误")]
    Internal(String),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            ConsoleError::NoSession => return Redirect::to("/console/login").into_response(),
            ConsoleError::Csrf | ConsoleError::Forbidden => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::BadInput(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Storage(e) => {
                tracing::error!(error = %e, "console storage failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ConsoleError::Internal(e) => {
                tracing::error!(error = %e, "console failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let title = match status {
            StatusCode::FORBIDDEN => "无权访问",
            StatusCode::NOT_FOUND => "未找到",
            StatusCode::TOO_MANY_REQUESTS => "请稍后再试",
            StatusCode::BAD_REQUEST => "输入有误",
            _ => "出错了",
        };
        let mut response = page(&ErrorPage { title: title.into(), message: self.to_string() });
        *response.status_mut() = status;
        response
    }
}

/// A date field of a form (`YYYY-MM-DD`), absent when left empty.
fn form_day(field: &str, value: Option<&str>) -> Result<Option<chrono::NaiveDate>, ConsoleError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ConsoleError::BadInput(format!("{field}须为 YYYY-MM-DD 格式的日期：{v}"))),
    }
}

/// The console's routes, under `/console`.
pub fn router<S: Storage, B: BlobStorage>() -> Router<Arc<AppState<S, B>>> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/dashboard") }))
        .route("/console/login", get(session::login_form).post(session::login::<S, B>))
        .route("/console/logout", post(session::logout::<S, B>))
        .route("/console/dashboard", get(dashboard::show::<S, B>))
        .route("/console/tasks", get(tasks::board::<S, B>))
        .route("/console/tasks/{code}", get(tasks::task::<S, B>))
        .route("/console/tasks/{code}/photos/{sha256}", get(tasks::photo::<S, B>))
        .route("/console/enterprises/{uscc}", get(enterprises::show::<S, B>))
        .route("/console/actions", get(action_log::show::<S, B>))
        .route("/console/draws", get(draws::list::<S, B>))
        .route("/console/draws/preview", post(draws::preview::<S, B>))
        .route("/console/draws/commit", post(draws::commit::<S, B>))
        .route("/console/draws/publish", post(draws::publish::<S, B>))
        .route("/console/draws/show", get(draws::show::<S, B>))
        .route("/console/draws/record", get(draws::record::<S, B>))
        .route("/console/bundles", get(bundles::form::<S, B>))
        .route(
            "/console/bundles/check",
            post(bundles::check::<S, B>)
                .layer(axum::extract::DefaultBodyLimit::max(bundles::MAX_BUNDLE_BYTES + 64 * 1024)),
        )
        .route("/console/devices", get(devices::list::<S, B>))
        .route("/console/devices/enrolments", post(devices::enrol::<S, B>))
        .route("/console/devices/{device}/revoke", post(devices::revoke::<S, B>))
        .route(
            "/console/assets/console.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
}
