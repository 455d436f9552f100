//! The HTTP interface: health, metrics, enrolment and authenticated device requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::{Signature, VerifyingKey};
use onevisit_core::certificate::SignedCertificate;
use onevisit_core::domain::Directory;
use onevisit_core::request_auth::{self, RequestAuth, RequestAuthError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::storage::{DeviceRecord, Storage, StorageError};
use crate::tenant::Tenant;

/// The largest request body accepted: 16 MiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Shared state of the handlers.
pub struct AppState<S> {
    /// Storage.
    pub storage: S,
    /// The unlocked tenant CA.
    pub tenant: Tenant,
    /// Counters for /metrics.
    pub metrics: Metrics,
}

/// Prometheus counters.
#[derive(Default)]
pub struct Metrics {
    requests: AtomicU64,
    enrolments: AtomicU64,
    refused: AtomicU64,
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
    #[error("unknown device")]
    UnknownDevice,
    /// The device's certificate was revoked.
    #[error("this device was revoked: {0}")]
    Revoked(String),
    /// The device's certificate expired.
    #[error("this device's certificate expired")]
    Expired,
    /// Enrolment refused.
    #[error("enrolment refused: {0}")]
    Enrolment(StorageError),
    /// Something failed on the server.
    #[error("internal error")]
    Internal(String),
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            ApiError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            ApiError::Auth(RequestAuthError::ClockSkew { .. }) => (StatusCode::UNAUTHORIZED, "clock_skew"),
            ApiError::Auth(RequestAuthError::Replayed) => (StatusCode::UNAUTHORIZED, "replayed"),
            ApiError::Auth(_) | ApiError::UnknownDevice => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Revoked(_) => (StatusCode::FORBIDDEN, "revoked"),
            ApiError::Expired => (StatusCode::FORBIDDEN, "expired"),
            ApiError::Enrolment(_) => (StatusCode::FORBIDDEN, "enrolment_refused"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        (status, Json(json!({"error": kind, "message": self.to_string()}))).into_response()
    }
}

/// The router.
pub fn router<S: Storage>(state: Arc<AppState<S>>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::<S>))
        .route("/v1/enroll", post(enroll::<S>))
        .route("/v1/whoami", get(whoami::<S>))
        .route("/v1/revocations", get(revocations::<S>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn metrics<S: Storage>(State(state): State<Arc<AppState<S>>>) -> String {
    let m = &state.metrics;
    format!(
        "# TYPE onevisit_requests_total counter\nonevisit_requests_total {}\n# TYPE onevisit_enrolments_total counter\nonevisit_enrolments_total {}\n# TYPE onevisit_refused_total counter\nonevisit_refused_total {}\n",
        m.requests.load(Ordering::Relaxed),
        m.enrolments.load(Ordering::Relaxed),
        m.refused.load(Ordering::Relaxed)
    )
}

/// An enrolment request: a one-time code, the device key, and a signature proving possession.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The one-time enrolment code.
    pub code: String,
    /// The device's public key (hex).
    pub device_public_key: String,
    /// Signature (hex) over [`request_auth::enrolment_proof_bytes`].
    pub proof: String,
}

/// What an enrolled device receives.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The device certificate.
    pub certificate: SignedCertificate,
    /// The current revocation list.
    pub revocations: onevisit_core::certificate::SignedRevocationList,
    /// The tenant root key (hex), to be compared with the one configured out of band.
    pub root_public_key: String,
    /// The device's registered code for document numbers.
    pub device_code: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The SHA-256 under which an enrolment code is stored.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_ascii_uppercase().as_bytes()))
}

async fn enroll<S: Storage>(
    State(state): State<Arc<AppState<S>>>,
    Json(request): Json<EnrolRequest>,
) -> Result<Json<EnrolResponse>, ApiError> {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let refuse = |e| {
        state.metrics.refused.fetch_add(1, Ordering::Relaxed);
        e
    };
    let key: [u8; 32] = hex::decode(&request.device_public_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(ApiError::Malformed("device_public_key must be 64 hex characters"))
        .map_err(refuse)?;
    let verifying = VerifyingKey::from_bytes(&key).map_err(|_| refuse(ApiError::Malformed("invalid device key")))?;
    let proof = hex::decode(&request.proof)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or(ApiError::Malformed("invalid proof"))
        .map_err(refuse)?;
    verifying
        .verify_strict(&request_auth::enrolment_proof_bytes(&request.code, &request.device_public_key), &proof)
        .map_err(|_| refuse(ApiError::Auth(RequestAuthError::BadSignature)))?;

    let now = now_ms();
    let hash = code_hash(&request.code);
    let inspector =
        state.storage.enrolment_inspector(hash.clone(), now).await.map_err(|e| refuse(ApiError::Enrolment(e)))?;
    let directory = match state.storage.directory().await? {
        Some(json) => Directory::from_json(json.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?,
        None => Directory::default(),
    };
    let departments = inspector
        .parse()
        .ok()
        .and_then(|id| directory.inspector(&id).map(|i| vec![i.department.to_string()]))
        .unwrap_or_default();
    let serial = state.storage.next_serial().await?;
    let certificate = state
        .tenant
        .certify(serial, key, &inspector, departments, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let device = onevisit_core::identity::device_id_of(&key);
    let device_code = onevisit_core::document::number::device_code_of(&key);
    let record = DeviceRecord {
        device: device.clone(),
        public_key: key,
        inspector: inspector.clone(),
        certificate: serde_json::to_string(&certificate).map_err(|e| ApiError::Internal(e.to_string()))?,
        serial: serial.to_string(),
        device_code: device_code.clone(),
    };
    state.storage.enrol(hash, now, record).await.map_err(|e| refuse(ApiError::Enrolment(e)))?;
    state.metrics.enrolments.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%device, %inspector, serial, "device enrolled");
    let revocations =
        state.tenant.revocation_list(&state.storage, now).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(EnrolResponse {
        certificate,
        revocations,
        root_public_key: hex::encode(state.tenant.root_public_key()),
        device_code,
    }))
}

/// Authenticates a device request: enrolled, not revoked, certificate valid, signature, clock, nonce.
async fn authenticate<S: Storage>(
    state: &AppState<S>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DeviceRecord, ApiError> {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let result = async {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let auth = RequestAuth::from_headers(
            header(request_auth::HEADER_DEVICE),
            header(request_auth::HEADER_TIMESTAMP),
            header(request_auth::HEADER_NONCE),
            header(request_auth::HEADER_SIGNATURE),
        )?;
        let device = state.storage.device(auth.device.clone()).await?.ok_or(ApiError::UnknownDevice)?;
        let now = now_ms();
        if let Some(r) =
            state.storage.revocations().await?.into_iter().find(|r| r.device == device.device && r.revoked_at_ms <= now)
        {
            return Err(ApiError::Revoked(r.reason));
        }
        let certificate: SignedCertificate =
            serde_json::from_str(&device.certificate).map_err(|e| ApiError::Internal(e.to_string()))?;
        let root =
            VerifyingKey::from_bytes(&state.tenant.root_public_key()).map_err(|e| ApiError::Internal(e.to_string()))?;
        certificate.verify(&root, now, None).map_err(|_| ApiError::Expired)?;
        let key = VerifyingKey::from_bytes(&device.public_key).map_err(|e| ApiError::Internal(e.to_string()))?;
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        auth.verify(&key, method.as_str(), path, body, now)?;
        let fresh = state
            .storage
            .remember_nonce(device.device.clone(), auth.nonce.clone(), now, now - 2 * request_auth::MAX_SKEW_MS)
            .await?;
        if !fresh {
            return Err(ApiError::Auth(RequestAuthError::Replayed));
        }
        Ok(device)
    }
    .await;
    if result.is_err() {
        state.metrics.refused.fetch_add(1, Ordering::Relaxed);
    }
    result
}

async fn whoami<S: Storage>(
    State(state): State<Arc<AppState<S>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let device = authenticate(&state, &method, &uri, &headers, &body).await?;
    Ok(Json(json!({"device": device.device, "inspector": device.inspector, "device_code": device.device_code})))
}

async fn revocations<S: Storage>(
    State(state): State<Arc<AppState<S>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<onevisit_core::certificate::SignedRevocationList>, ApiError> {
    authenticate(&state, &method, &uri, &headers, &body).await?;
    let list =
        state.tenant.revocation_list(&state.storage, now_ms()).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(list))
}
