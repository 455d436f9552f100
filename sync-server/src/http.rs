//! The HTTP interface: health, metrics, enrolment, and the authenticated device API — sync
//! batches, blobs, revocations and audit proofs (docs/sync-protocol.md).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ed25519_dalek::{Signature, VerifyingKey};
use onevisit_core::domain::Directory;
use onevisit_core::request_auth::{self, RequestAuthError};
use onevisit_core::sync::statements::{DIRECTORY_SCHEMA, DirectoryRelease, RECEIPT_SCHEMA, Receipt, ReceiptRecord};
use onevisit_core::sync::wire::{
    BlobList, CHUNK_BYTES, CompleteUpload, EnrolRequest, EnrolResponse, FeedEntry, FeedKind, MAX_FEED_PAGE,
    SyncRequest, SyncResponse, UploadState,
};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::Authenticated;
use crate::blobs::{BlobError, BlobStorage, parse_range};
use crate::storage::{DeviceRecord, Storage, StorageError};

pub use crate::api::{ApiError, AppState, MAX_BODY_BYTES, Metrics, code_hash, now_ms};

/// The router.
pub fn router<S: Storage, B: BlobStorage>(state: Arc<AppState<S, B>>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::<S, B>))
        .route("/v1/enroll", post(enroll::<S, B>))
        .route("/v1/whoami", get(whoami))
        .route("/v1/revocations", get(revocations::<S, B>))
        .route("/v1/sync", post(sync::<S, B>))
        .route("/v1/blobs/missing", post(blobs_missing::<S, B>))
        .route("/v1/blobs/{sha256}", get(blob_download::<S, B>))
        .route("/v1/blobs/{sha256}/chunks", get(blob_chunks::<S, B>))
        .route("/v1/blobs/{sha256}/chunks/{index}", put(blob_chunk::<S, B>))
        .route("/v1/blobs/{sha256}/complete", post(blob_complete::<S, B>))
        .route("/v1/audit/proof", get(audit_proof::<S, B>))
        .route("/v1/audit/proofs", post(audit_proofs::<S, B>))
        .merge(crate::console::router::<S, B>())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn metrics<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    headers: HeaderMap,
) -> Result<String, ApiError> {
    // The counters say how busy the city is and how much is refused: for its operators only.
    let Some(token) = &state.metrics_token else { return Err(ApiError::NotFound("此处不提供监控指标")) };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Compared as digests, so the time taken says nothing about how much of the token matched.
    if given.map(|g| Sha256::digest(g.as_bytes())) != Some(Sha256::digest(token.as_bytes())) {
        return Err(ApiError::MetricsToken);
    }
    let m = &state.metrics;
    let mut out = String::new();
    for (name, value) in [
        ("requests", &m.requests),
        ("enrolments", &m.enrolments),
        ("refused", &m.refused),
        ("received_bytes", &m.bytes_received),
        ("records_accepted", &m.records_accepted),
        ("records_refused", &m.records_refused),
        ("connections_over_cap", &state.connections.over_cap),
        ("failed_tls_handshakes", &state.connections.failed_handshakes),
    ] {
        out.push_str(&format!(
            "# TYPE onevisit_{name}_total counter\nonevisit_{name}_total {}\n",
            value.load(Ordering::Relaxed)
        ));
    }
    let (cache_bytes, cached) = state.records.cached();
    out.push_str(&format!(
        "# TYPE onevisit_record_cache_bytes gauge\nonevisit_record_cache_bytes {cache_bytes}\n# TYPE onevisit_records_cached gauge\nonevisit_records_cached {cached}\n"
    ));
    if let Ok(seq) = state.storage.feed_head().await {
        out.push_str(&format!("# TYPE onevisit_feed_seq gauge\nonevisit_feed_seq {seq}\n"));
    }
    Ok(out)
}

/// Enrolment bodies are small: a code, a key and a signature.
const MAX_ENROL_BODY: usize = 4 * 1024;

async fn enroll<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Body,
) -> Result<Json<EnrolResponse>, ApiError> {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let refuse = |e| {
        state.metrics.refused.fetch_add(1, Ordering::Relaxed);
        e
    };
    // Every enrolment attempt is unauthenticated work, charged to the address.
    state.throttle.address(peer.ip()).map_err(|w| refuse(ApiError::Throttled(w)))?;
    let body = match tokio::time::timeout(state.body_timeout, axum::body::to_bytes(body, MAX_ENROL_BODY)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(refuse(ApiError::TooLarge)),
        Err(_) => return Err(refuse(ApiError::BodyTimeout)),
    };
    let request: EnrolRequest =
        serde_json::from_slice(&body).map_err(|_| refuse(ApiError::Malformed("请求体不是登记请求")))?;
    state
        .throttle
        .enrolment_allowed(&state.storage, peer.ip(), &request.code, now_ms())
        .await?
        .map_err(|w| refuse(ApiError::Throttled(w)))?;
    let key: [u8; 32] = hex::decode(&request.device_public_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(ApiError::Malformed("device_public_key 应为 64 位十六进制字符"))
        .map_err(refuse)?;
    let verifying = VerifyingKey::from_bytes(&key).map_err(|_| refuse(ApiError::Malformed("设备公钥无效")))?;
    let proof = hex::decode(&request.proof)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or(ApiError::Malformed("密钥持有证明无效"))
        .map_err(refuse)?;
    verifying
        .verify_strict(&request_auth::enrolment_proof_bytes(&request.code, &request.device_public_key), &proof)
        .map_err(|_| refuse(ApiError::Auth(RequestAuthError::BadSignature)))?;

    // Revocation covers the key, not only the certificate: a revoked key never enrols again (and
    // its attempt does not spend the code).
    let device = onevisit_core::identity::device_id_of(&key);
    if let Some(r) = state.storage.revocation(device.clone()).await? {
        return Err(refuse(ApiError::Revoked(format!(
            "该设备密钥已被吊销（{}），不能再登记：请用新的设备存储（onevisit init）重新登记",
            r.reason
        ))));
    }
    let now = now_ms();
    let hash = code_hash(&request.code);
    let inspector = match state.storage.enrolment_inspector(hash.clone(), now).await {
        Ok(inspector) => inspector,
        // The same device asking again with the code it spent (its first answer was lost on the
        // way): the same certificate again, so enrolment can be retried like any request.
        Err(StorageError::CodeUsed)
            if state.storage.enrolment_used_by(hash.clone()).await?.as_deref() == Some(device.as_str()) =>
        {
            return enrolled_again(&state, &device, now).await;
        }
        Err(e @ (StorageError::UnknownCode | StorageError::CodeUsed | StorageError::CodeExpired)) => {
            // A wrong, spent or expired code counts toward the lockout of the address and prefix.
            state.throttle.enrolment_failed(&state.storage, peer.ip(), &request.code, now).await?;
            return Err(refuse(ApiError::Enrolment(e)));
        }
        Err(e) => return Err(e.into()),
    };
    // Enrolment completes on both sides or on neither: what the device would refuse of the answer
    // is refused here, before the code is spent and a certificate issued.
    let root = hex::encode(state.tenant.root_public_key());
    if request.root_public_key.as_deref().is_some_and(|r| !r.eq_ignore_ascii_case(&root)) {
        return Err(refuse(ApiError::EnrolmentMismatch {
            kind: "wrong_root",
            message: "本设备配置的根公钥不是本服务器租户的根公钥：请核对管理员提供的根公钥，登记码未被使用".into(),
        }));
    }
    if let Some(operator) = request.inspector.as_deref().filter(|o| *o != inspector) {
        return Err(refuse(ApiError::EnrolmentMismatch {
            kind: "wrong_inspector",
            message: format!(
                "该登记码是为执法人员 {inspector} 签发的，本设备的操作人是 {operator}：请使用为 {operator} 签发的登记码，该登记码未被使用"
            ),
        }));
    }
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
    let device_code = onevisit_core::document::number::device_code_of(&key);
    let record = DeviceRecord {
        device: device.clone(),
        public_key: key,
        inspector: inspector.clone(),
        certificate: serde_json::to_string(&certificate).map_err(|e| ApiError::Internal(e.to_string()))?,
        serial: serial.to_string(),
        device_code: device_code.clone(),
    };
    state.storage.enrol(hash, now, record).await.map_err(|e| match e {
        // Spent or expired between the check above and now (a concurrent redemption).
        e @ (StorageError::UnknownCode | StorageError::CodeUsed | StorageError::CodeExpired) => {
            refuse(ApiError::Enrolment(e))
        }
        e => e.into(),
    })?;
    state.metrics.enrolments.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%device, %inspector, serial, "device enrolled");
    let revocations =
        state.tenant.revocation_list(&state.storage, now).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(EnrolResponse { certificate, revocations, root_public_key: root, device_code }))
}

/// The enrolment answer for a device enrolled already with the code it presents again.
async fn enrolled_again<S: Storage, B: BlobStorage>(
    state: &AppState<S, B>,
    device: &str,
    now: i64,
) -> Result<Json<EnrolResponse>, ApiError> {
    let record = state.storage.device(device.to_string()).await?.ok_or(ApiError::UnknownDevice)?;
    let certificate = serde_json::from_str(&record.certificate).map_err(|e| ApiError::Internal(e.to_string()))?;
    let revocations =
        state.tenant.revocation_list(&state.storage, now).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(%device, "enrolment answered again");
    Ok(Json(EnrolResponse {
        certificate,
        revocations,
        root_public_key: hex::encode(state.tenant.root_public_key()),
        device_code: record.device_code,
    }))
}

async fn whoami(auth: Authenticated) -> Json<serde_json::Value> {
    let d = &auth.device;
    Json(json!({"device": d.device, "inspector": d.inspector, "device_code": d.device_code}))
}

async fn revocations<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    _auth: Authenticated,
) -> Result<Json<onevisit_core::certificate::SignedRevocationList>, ApiError> {
    let list =
        state.tenant.revocation_list(&state.storage, now_ms()).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(list))
}

/// One sync round trip: pushed documents, the audit upload, then a page of the feed.
async fn sync<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    headers: HeaderMap,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let response = sync_batch(&state, &auth).await?;
    let json = serde_json::to_vec(&response).map_err(|e| ApiError::Internal(e.to_string()))?;
    let wants_deflate = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim() == onevisit_core::sync::wire::DEFLATE));
    let mut out = if wants_deflate && json.len() >= DEFLATE_FROM_BYTES {
        let mut r = onevisit_core::sync::wire::deflate(&json).into_response();
        r.headers_mut().insert(header::CONTENT_ENCODING, header::HeaderValue::from_static("deflate"));
        r
    } else {
        json.into_response()
    };
    out.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Ok(out)
}

/// Answers shorter than this go uncompressed: a no-op's few hundred bytes gain little on the wire
/// and setting up the compressor cost more than the rest of the answer.
const DEFLATE_FROM_BYTES: usize = 1024;

async fn sync_batch<S: Storage, B: BlobStorage>(
    state: &AppState<S, B>,
    auth: &Authenticated,
) -> Result<SyncResponse, ApiError> {
    let request: SyncRequest = auth.json()?;
    // Bounded batches: one request never makes the server do unbounded work.
    if request.records.len() > onevisit_core::sync::wire::MAX_RECORDS_PER_REQUEST {
        return Err(ApiError::Malformed("每个同步请求最多 500 份记录"));
    }
    let packed = request.audit_packed.as_ref().map_or(0, |p| p.len());
    if request.audit.len().max(packed) > onevisit_core::sync::wire::MAX_AUDIT_PER_REQUEST {
        return Err(ApiError::Malformed("每个同步请求最多 5,000 条审计记录"));
    }
    if !request.audit.is_empty() && request.audit_packed.is_some() {
        return Err(ApiError::Malformed("审计记录只能用一种方式上传（逐条签名或打包）"));
    }
    let writer = auth.writer();
    let now = now_ms();
    let mut response = SyncResponse::default();
    let mut receipt = Vec::new();
    // The stored directory version, as read when the request was authenticated (data imported
    // before versions were kept has it computed once).
    let directory_version = match &auth.directory_version {
        Some(v) => Some(v.clone()),
        None => state.storage.directory_version().await?,
    };
    // Only pushed records are checked against the directory.
    let directory = if request.records.is_empty() {
        Arc::new(Directory::default())
    } else {
        state.records.directory(&state.storage, directory_version.clone().unwrap_or_default()).await?
    };
    let context = crate::records::RuleContext { directory: &directory, ca: &state.tenant, sealer: &state.sealer };
    for push in request.records {
        let outcome = state.records.push(&state.storage, &writer, &context, push).await?;
        if outcome.result.refused.is_some() {
            state.metrics.records_refused.fetch_add(1, Ordering::Relaxed);
            tracing::info!(device = %writer.device, id = %outcome.result.id, refused = ?outcome.result.refused, "record refused");
        }
        if outcome.wrote {
            state.metrics.records_accepted.fetch_add(1, Ordering::Relaxed);
            if !outcome.evidence.is_empty() {
                state
                    .storage
                    .add_blob_refs(outcome.result.id.clone(), writer.device.clone(), outcome.evidence.clone())
                    .await?;
            }
            if let Some(heads) = &outcome.accepted {
                receipt.push(ReceiptRecord { id: outcome.result.id.clone(), heads: heads.clone() });
            }
        }
        response.records.push(outcome.result);
    }
    if !receipt.is_empty() {
        let body = Receipt {
            schema: RECEIPT_SCHEMA.into(),
            tenant: state.tenant.id.clone(),
            device: writer.device.clone(),
            received_at_ms: now,
            records: receipt,
            issuer_public_key: hex::encode(state.tenant.root_public_key()),
        };
        response.receipt = Some(state.tenant.sign(&body).map_err(|e| ApiError::Internal(e.to_string()))?);
    }
    if let Some(packed) = request.audit_packed {
        response.audit =
            Some(crate::audit::accept_packed(&state.storage, &state.tenant, &auth.device, packed, now).await?);
    } else if !request.audit.is_empty() {
        response.audit =
            Some(crate::audit::accept(&state.storage, &state.tenant, &auth.device, request.audit, now).await?);
    }
    if !request.number_blocks.is_empty() {
        let directory = if directory.departments().next().is_some() {
            directory.clone()
        } else {
            state.records.directory(&state.storage, directory_version.clone().unwrap_or_default()).await?
        };
        response.number_blocks =
            crate::numbers::reserve(&state.storage, &directory, &writer.device, request.number_blocks, now).await?;
    }
    if let Some(version) = directory_version
        && version != request.directory_version
        && let Some(json) = state.storage.directory().await?
    {
        let release = DirectoryRelease {
            schema: DIRECTORY_SCHEMA.into(),
            tenant: state.tenant.id.clone(),
            version: version.clone(),
            issued_at_ms: now,
            issuer_public_key: hex::encode(state.tenant.root_public_key()),
        };
        let release = state.tenant.sign(&release).map_err(|e| ApiError::Internal(e.to_string()))?;
        response.directory = Some(onevisit_core::sync::wire::DirectoryUpdate { version, json, release });
    }
    if auth.revocations != request.revocations_seen {
        response.revocations = Some(
            state.tenant.revocation_list(&state.storage, now).await.map_err(|e| ApiError::Internal(e.to_string()))?,
        );
    }
    let limit = request.limit.clamp(1, MAX_FEED_PAGE);
    let page =
        state.storage.feed(writer.inspector.clone(), writer.departments.clone(), request.since, limit + 1).await?;
    response.more = page.rows.len() > limit as usize;
    response.next = page.next(request.since, limit as usize);
    response.feed = page
        .rows
        .into_iter()
        .take(limit as usize)
        .map(|r| FeedEntry {
            seq: r.seq,
            kind: if r.removed { FeedKind::Removed } else { FeedKind::Document },
            id: r.id,
            heads: r.heads,
        })
        .collect();
    Ok(response)
}

fn check_sha(sha256: &str) -> Result<(), ApiError> {
    if onevisit_core::record::values::is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(ApiError::Malformed("文件以其小写 SHA-256 十六进制哈希值命名"))
    }
}

/// Blobs a device asks about per request, at most.
const MAX_BLOB_LIST: usize = 1000;

/// Whether this device may learn that the blob is stored: only when it may read it. To any other
/// device every hash looks missing, so asking reveals nothing about other tasks' evidence.
async fn stored_for<S: Storage, B: BlobStorage>(
    state: &AppState<S, B>,
    auth: &Authenticated,
    sha256: &str,
) -> Result<bool, ApiError> {
    if !state.blobs.has(sha256).await? {
        return Ok(false);
    }
    let writer = auth.writer();
    Ok(state.storage.may_read_blob(sha256.to_string(), writer.inspector, writer.departments).await?)
}

async fn blobs_missing<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    auth: Authenticated,
) -> Result<Json<BlobList>, ApiError> {
    let list: BlobList = auth.json()?;
    if list.sha256.len() > MAX_BLOB_LIST {
        return Err(ApiError::Malformed("每个请求最多 1,000 个文件"));
    }
    let mut missing = Vec::new();
    for sha in list.sha256 {
        check_sha(&sha)?;
        if !stored_for(&state, &auth, &sha).await? {
            missing.push(sha);
        }
    }
    Ok(Json(BlobList { sha256: missing }))
}

async fn blob_chunks<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    Path(sha256): Path<String>,
    auth: Authenticated,
) -> Result<Json<UploadState>, ApiError> {
    check_sha(&sha256)?;
    if stored_for(&state, &auth, &sha256).await? {
        return Ok(Json(UploadState { complete: true, chunks: Vec::new() }));
    }
    Ok(Json(UploadState { complete: false, chunks: state.blobs.chunks(&sha256, &auth.device.device).await? }))
}

async fn blob_chunk<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    Path((sha256, index)): Path<(String, u32)>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    check_sha(&sha256)?;
    if auth.body.len() > CHUNK_BYTES {
        return Err(ApiError::TooLarge);
    }
    // Stored whether or not the blob exists: answering differently would tell who has what.
    state.blobs.put_chunk(&sha256, &auth.device.device, index, &auth.body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn blob_complete<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    Path(sha256): Path<String>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    check_sha(&sha256)?;
    let complete: CompleteUpload = auth.json()?;
    // Always checked against the hash, so completing proves the device holds the bytes.
    state.blobs.complete(&sha256, &auth.device.device, complete.size).await?;
    state.storage.add_blob_holder(sha256.clone(), auth.device.device.clone()).await?;
    tracing::info!(device = %auth.device.device, %sha256, size = complete.size, "blob stored");
    Ok(StatusCode::NO_CONTENT)
}

/// Downloads a blob the device may read, whole or one `Range: bytes=a-b`.
async fn blob_download<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    check_sha(&sha256)?;
    let writer = auth.writer();
    let referenced =
        state.storage.blob_referenced(sha256.clone(), writer.inspector.clone(), writer.departments.clone()).await?;
    // Permission first: a device that may not read a hash learns nothing about whether it exists.
    if !referenced {
        return Err(ApiError::NotFound("本设备看不到这个文件"));
    }
    // Referenced in a record it reads, but readable only through a reference by a device that
    // uploaded the bytes; otherwise it is "not uploaded yet" whether or not someone else did.
    let size = state.blobs.size(&sha256).await?.ok_or(ApiError::NotUploadedYet)?;
    if !state.storage.may_read_blob(sha256.clone(), writer.inspector, writer.departments).await? {
        return Err(ApiError::NotUploadedYet);
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (start, end) = match range {
        None => (0, size),
        Some(r) => parse_range(r, size).ok_or(ApiError::Blob(BlobError::BadRange))?,
    };
    let bytes = state.blobs.read(&sha256, start, end - start).await?;
    let status = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut response = (status, bytes).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/octet-stream"));
    h.insert(header::ACCEPT_RANGES, header::HeaderValue::from_static("bytes"));
    if range.is_some()
        && let Ok(v) = header::HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct ProofQuery {
    seq: u64,
}

async fn audit_proof<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    Query(query): Query<ProofQuery>,
    auth: Authenticated,
) -> Result<Json<crate::audit::InclusionProof>, ApiError> {
    crate::audit::proof(&state.storage, &state.tenant, &auth.device.device, query.seq, now_ms())
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("服务器没有本设备的这条审计记录"))
}

async fn audit_proofs<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    auth: Authenticated,
) -> Result<Json<onevisit_core::sync::wire::AuditProofs>, ApiError> {
    let request: onevisit_core::sync::wire::ProofRequest = auth.json()?;
    if request.seqs.len() > onevisit_core::sync::wire::MAX_PROOFS_PER_REQUEST {
        return Err(ApiError::Malformed("每个请求最多 2,000 条，请分批请求"));
    }
    let device = &auth.device.device;
    Ok(Json(
        crate::audit::proofs(&state.storage, &state.tenant, device, &request.seqs, request.tree_size, now_ms()).await?,
    ))
}

#[cfg(test)]
mod tests {
    use crate::blobs::parse_range;

    #[test]
    fn ranges_are_parsed_within_the_blob() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=90-100", 100), None);
        assert_eq!(parse_range("bytes=5-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
