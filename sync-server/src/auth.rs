//! Authenticating device requests as an axum extractor: enrolled, not revoked, certificate valid,
//! signature over method, path, body, time and nonce, clock within the window, nonce unseen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use onevisit_core::certificate::DeviceCertificate;
use onevisit_core::request_auth::{self, RequestAuth, RequestAuthError};
use onevisit_core::sync::wire::{self, MAX_BODY_BYTES};

use crate::api::{ApiError, AppState, now_ms};
use crate::blobs::BlobStorage;
use crate::certificates::StoredCertificateError;
use crate::records::Writer;
use crate::storage::{DeviceRecord, Storage};

/// An authenticated request: the device, its verified certificate, and the body it signed.
pub struct Authenticated {
    /// The enrolled device.
    pub device: DeviceRecord,
    /// Its certificate, verified under the root and valid now.
    pub certificate: DeviceCertificate,
    /// The request body.
    pub body: Bytes,
    /// How many devices of the tenant were revoked when the request was authenticated.
    pub revocations: u64,
    /// The directory version stored when the request was authenticated.
    pub directory_version: Option<String>,
}

impl Authenticated {
    /// The device as a writer of documents.
    pub fn writer(&self) -> Writer {
        Writer {
            device: self.device.device.clone(),
            actor: onevisit_core::identity::actor_id_of(&self.device.public_key),
            inspector: self.device.inspector.clone(),
            departments: self.certificate.departments.clone(),
        }
    }

    /// The body as JSON of `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|_| ApiError::Malformed("请求体不是预期的 JSON"))
    }
}

impl<S: Storage, B: BlobStorage> FromRequest<Arc<AppState<S, B>>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState<S, B>>) -> Result<Self, Self::Rejection> {
        state.metrics.requests.fetch_add(1, Ordering::Relaxed);
        let result = authenticate(req, state).await;
        if result.is_err() {
            state.metrics.refused.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

async fn authenticate<S: Storage, B: BlobStorage>(
    req: Request,
    state: &AppState<S, B>,
) -> Result<Authenticated, ApiError> {
    let (parts, body) = req.into_parts();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    // Everything that can be checked from the headers is checked before the body is read: an
    // unknown, revoked or expired device, a stale clock or an oversized body never gets its body
    // buffered. Each such refusal is charged to the address; once its budget is spent the answer
    // is 429 (devices of the tenant behind the same address are not held up by it).
    let charged = |e: ApiError| match peer.map(|p| state.throttle.address(p)) {
        Some(Err(wait)) => ApiError::Throttled(wait),
        _ => e,
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let auth = RequestAuth::from_headers(
        header(request_auth::HEADER_DEVICE),
        header(request_auth::HEADER_TIMESTAMP),
        header(request_auth::HEADER_NONCE),
        header(request_auth::HEADER_SIGNATURE),
    )
    .map_err(|e| charged(e.into()))?;
    let declared = header(axum::http::header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(charged(ApiError::TooLarge));
    }
    let now = now_ms();
    auth.check_clock(now).map_err(|e| charged(e.into()))?;
    // One read: the device, its revocation and what every answer needs of the tenant.
    let session =
        state.storage.device_session(auth.device.clone()).await?.ok_or_else(|| charged(ApiError::UnknownDevice))?;
    if let Some(r) = session.revocation.filter(|r| r.revoked_at_ms <= now) {
        return Err(charged(ApiError::Revoked(r.reason)));
    }
    let device = session.device;
    let verified = state.certificates.verify(&device, now).map_err(|e| match e {
        StoredCertificateError::Certificate(_) => charged(ApiError::Expired),
        e => ApiError::Internal(e.to_string()),
    })?;
    state.throttle.device(&device.device).map_err(ApiError::Throttled)?;
    let body = read_body(body, state.body_timeout).await.map_err(charged)?;
    state.metrics.bytes_received.fetch_add(body.len() as u64, Ordering::Relaxed);
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    auth.verify(&verified.key, parts.method.as_str(), path, &body, now).map_err(|e| charged(e.into()))?;
    // The signature covers the bytes as sent; a compressed body is inflated only once it verified.
    let body = match parts.headers.get(axum::http::header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None => body,
        Some(e) if e == wire::DEFLATE.as_bytes() => {
            Bytes::from(wire::inflate(&body, MAX_BODY_BYTES).map_err(|e| match e {
                wire::InflateError::TooLarge => ApiError::TooLarge,
                wire::InflateError::Malformed => ApiError::Malformed("请求体不是有效的 DEFLATE 数据"),
            })?)
        }
        Some(_) => return Err(ApiError::Malformed("不支持的内容编码（仅支持 deflate）")),
    };
    let fresh = state
        .storage
        .remember_nonce(device.device.clone(), auth.nonce.clone(), now, now - 2 * request_auth::MAX_SKEW_MS)
        .await?;
    if !fresh {
        return Err(ApiError::Auth(RequestAuthError::Replayed));
    }
    Ok(Authenticated {
        device,
        certificate: verified.certificate.clone(),
        body,
        revocations: session.revocations,
        directory_version: session.directory_version,
    })
}

/// Reads a body up to [`MAX_BODY_BYTES`] within `timeout` (a sender that trickles is cut off).
pub async fn read_body(body: axum::body::Body, timeout: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::TooLarge),
        Err(_) => Err(ApiError::BodyTimeout),
    }
}
