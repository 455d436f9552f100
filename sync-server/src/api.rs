//! The vocabulary the HTTP layer shares: the handlers' state, the refusal every handler answers
//! with (as JSON `{error, message}`), and server time. Kept apart so that request authentication
//! (`auth`) and the routes (`http`) both use it without using each other.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use onevisit_core::request_auth::RequestAuthError;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::blobs::BlobError;
use crate::records::Records;
use crate::storage::StorageError;
use crate::tenant::Tenant;
use crate::throttle::{RetryAfter, Throttle};

pub use onevisit_core::sync::wire::MAX_BODY_BYTES;

/// Shared state of the handlers.
pub struct AppState<S, B = crate::blobs::FileBlobs> {
    /// Storage.
    pub storage: S,
    /// Blob storage.
    pub blobs: B,
    /// The unlocked tenant CA.
    pub tenant: Tenant,
    /// Per-record locks and loaded records.
    pub records: Records,
    /// Device certificates verified so far.
    pub certificates: crate::certificates::VerifiedCertificates,
    /// Counters for /metrics.
    pub metrics: Metrics,
    /// The bearer token `/metrics` requires; without one, `/metrics` is not served.
    pub metrics_token: Option<String>,
    /// Rate limits and enrolment lockouts.
    pub throttle: Throttle,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Connections turned away by the listener.
    pub connections: Arc<crate::listener::ConnectionCounters>,
    /// Every task's summary, kept for the console's pages.
    pub facts: crate::reports::FactsCache,
    /// The departments' seals.
    pub sealer: crate::seals::Sealer,
}

/// Prometheus counters.
#[derive(Default)]
pub struct Metrics {
    pub(crate) requests: AtomicU64,
    pub(crate) enrolments: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) records_accepted: AtomicU64,
    pub(crate) records_refused: AtomicU64,
}

/// A refusal or failure, answered as JSON `{error, message}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed.
    #[error("{0}")]
    Malformed(&'static str),
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] RequestAuthError),
    /// The device is not enrolled.
    #[error("服务器不认识本设备：请先登记（onevisit enroll）")]
    UnknownDevice,
    /// The device's certificate was revoked.
    #[error("本设备已被吊销：{0}")]
    Revoked(String),
    /// The device's certificate expired.
    #[error("本设备的证书已过期")]
    Expired,
    /// Enrolment refused.
    #[error("登记被拒绝：{0}")]
    Enrolment(StorageError),
    /// What the device itself would refuse of its enrolment (another tenant's root, another
    /// inspector's code), refused before the code is spent.
    #[error("{message}")]
    EnrolmentMismatch {
        /// The machine-readable kind (`wrong_root`, `wrong_inspector`).
        kind: &'static str,
        /// What to do, in Chinese.
        message: String,
    },
    /// The body is larger than allowed.
    #[error("请求体超过 {MAX_BODY_BYTES} 字节")]
    TooLarge,
    /// Nothing visible to this device under that name.
    #[error("{0}")]
    NotFound(&'static str),
    /// The device may read this blob, but the device that captured it has not uploaded it yet.
    #[error("拍摄设备尚未上传该照片原图")]
    NotUploadedYet,
    /// A blob operation was refused.
    #[error(transparent)]
    Blob(BlobError),
    /// `/metrics` asked for without the operators' token, or with a wrong one.
    #[error("缺少监控令牌或令牌不对")]
    MetricsToken,
    /// Too many requests: from this device, from this address, or wrong enrolment codes.
    #[error("请求过于频繁，请在 {} 秒后重试", .0.seconds())]
    Throttled(RetryAfter),
    /// The body did not arrive in time.
    #[error("请求体未在限定时间内送达")]
    BodyTimeout,
    /// Something failed on the server.
    #[error("服务器内部错误")]
    Internal(String),
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> ApiError {
        match e {
            BlobError::Io(e) => ApiError::Internal(e.to_string()),
            other => ApiError::Blob(other),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        ApiError::Internal(with_causes(&e))
    }
}

/// An error with every cause behind it, for the operators' log (the device sees none of it).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push('：');
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            ApiError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            ApiError::Auth(RequestAuthError::ClockSkew { .. }) => (StatusCode::UNAUTHORIZED, "clock_skew"),
            ApiError::Auth(RequestAuthError::Replayed) => (StatusCode::UNAUTHORIZED, "replayed"),
            ApiError::Auth(_) | ApiError::UnknownDevice | ApiError::MetricsToken => {
                (StatusCode::UNAUTHORIZED, "unauthenticated")
            }
            ApiError::Revoked(_) => (StatusCode::FORBIDDEN, "revoked"),
            ApiError::Expired => (StatusCode::FORBIDDEN, "expired"),
            ApiError::Enrolment(_) => (StatusCode::FORBIDDEN, "enrolment_refused"),
            ApiError::EnrolmentMismatch { kind, .. } => (StatusCode::CONFLICT, *kind),
            ApiError::TooLarge | ApiError::Blob(BlobError::TooLarge(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NotUploadedYet => (StatusCode::NOT_FOUND, "not_uploaded"),
            ApiError::Blob(BlobError::HashMismatch { .. }) => (StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch"),
            ApiError::Blob(BlobError::MissingChunks(_)) => (StatusCode::CONFLICT, "incomplete"),
            ApiError::Blob(BlobError::BadRange) => (StatusCode::RANGE_NOT_SATISFIABLE, "bad_range"),
            ApiError::Blob(BlobError::QuotaExceeded { .. }) => (StatusCode::PAYLOAD_TOO_LARGE, "upload_quota"),
            ApiError::Blob(_) => (StatusCode::BAD_REQUEST, "malformed"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            ApiError::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
        };
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let mut response = (status, Json(json!({"error": kind, "message": self.to_string()}))).into_response();
        if let ApiError::Throttled(wait) = &self {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait.seconds()));
        }
        response
    }
}

/// Server time, ms since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The SHA-256 under which an enrolment code is stored.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_ascii_uppercase().as_bytes()))
}
