//! The JSON messages of the sync protocol (docs/sync-protocol.md), shared by device and server.
//! Binary Automerge data travels as standard base64 inside JSON; change hashes as lower-case hex.

use automerge::ChangeHash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::audit::SignedAuditEntry;

/// The largest body the server accepts: 16 MiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest inspection record the server keeps: 4 MiB.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
/// The size of a blob upload chunk: 1 MiB (the last one may be shorter).
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// The largest blob the server keeps: 64 MiB, the device's own photo limit.
pub const MAX_BLOB_BYTES: u64 = 64 * 1024 * 1024;
/// The most feed entries in one page.
pub const MAX_FEED_PAGE: u32 = 500;
/// Records pushed or pulled in one sync request at most.
pub const MAX_RECORDS_PER_REQUEST: usize = 500;
/// Audit entries uploaded in one sync request at most.
pub const MAX_AUDIT_PER_REQUEST: usize = 5000;

/// One sync round trip from the device: dirty records, records it wants, new audit entries,
/// and where its view of the feed stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The feed cursor the device has applied up to (0 at first).
    pub since: u64,
    /// The most feed entries it wants in the answer.
    pub limit: u32,
    /// Records pushed or asked for (`records` on the wire, the protocol's first name for them).
    #[serde(default, rename = "documents")]
    pub records: Vec<RecordPush>,
    /// Audit entries after the last one the server accepted, in chain order, each with its own
    /// signature (what devices sent before packed uploads; still accepted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<SignedAuditEntry>,
    /// The same entries packed: their fields as columns and one device signature over the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_packed: Option<crate::audit::packed::PackedAudit>,
    /// How many revocations the device's list holds; the server sends its list when it has more.
    #[serde(default)]
    pub revocations_seen: u64,
    /// The version (SHA-256) of the directory data the device holds; the server sends its own
    /// when it differs.
    #[serde(default)]
    pub directory_version: String,
    /// Document-number series the device is running low on: the server reserves it a block of
    /// each agency's sequence, so that it numbers documents offline without a collision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub number_blocks: Vec<NumberSeries>,
}

/// The most number series one request may ask blocks of.
pub const MAX_NUMBER_SERIES_PER_REQUEST: usize = 64;

/// One agency's document-number sequence: a department, a document kind, a year.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NumberSeries {
    /// The issuing department's id.
    pub department: String,
    /// The document kind's machine name (`on_site_record`, `rectification_order`).
    pub kind: String,
    /// The year the numbers are of.
    pub year: i32,
}

/// A block of a series reserved for one device: `first`, `first + 1`, … `first + count - 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberBlock {
    /// The series.
    #[serde(flatten)]
    pub series: NumberSeries,
    /// The first number reserved.
    pub first: u32,
    /// How many.
    pub count: u32,
}

/// One record in a [`SyncRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPush {
    /// The task code.
    pub id: String,
    /// The heads the device holds that the server confirmed before (hex); the server answers with
    /// the changes the device lacks relative to these plus the pushed changes.
    #[serde(default)]
    pub known_heads: Vec<String>,
    /// Raw changes (base64), every one of them by the device's actor unless the server has it.
    #[serde(default)]
    pub changes: Vec<String>,
    /// Automerge's sync protocol message (base64), used instead when the sides share no known heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_message: Option<String>,
}

/// The server's answer to a [`SyncRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// One result per pushed record, in request order (`records` on the wire).
    #[serde(rename = "documents")]
    pub records: Vec<RecordResult>,
    /// Feed entries after `since` that the device may see, oldest first.
    pub feed: Vec<FeedEntry>,
    /// The cursor to send next time (after applying `feed`).
    pub next: u64,
    /// Whether more entries follow `next`.
    pub more: bool,
    /// The server's signed receipt for the documents it accepted (none when nothing was accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<SignedStatement>,
    /// The outcome of the audit upload (none when no entries were sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditResult>,
    /// The current revocation list, when it holds more than the device has seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocations: Option<crate::certificate::SignedRevocationList>,
    /// The directory data (departments, inspectors, enterprises, matters; read-only on devices)
    /// with its version, when the device's version differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectoryUpdate>,
    /// The number blocks reserved for this device, one per series asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub number_blocks: Vec<NumberBlock>,
}

/// Directory data sent to a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryUpdate {
    /// SHA-256 (hex) of `json`.
    pub version: String,
    /// The directory JSON.
    pub json: String,
    /// The tenant root's signed [`super::statements::DirectoryRelease`] of `json`: the device
    /// imports nothing the root did not sign.
    pub release: SignedStatement,
}

/// What happened to one pushed record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    /// The task code.
    pub id: String,
    /// Why it was refused; `None` when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    /// The server's heads after accepting (hex).
    #[serde(default)]
    pub heads: Vec<String>,
    /// Raw changes (base64) the device lacks.
    #[serde(default)]
    pub changes: Vec<String>,
    /// The server's next sync protocol message (base64), in the fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_message: Option<String>,
    /// With [`Refusal::ForbiddenEdit`]: the write rule broken and where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbidden: Option<ForbiddenDetail>,
    /// Pushed changes the server did not take yet: made by other devices (records exchanged by
    /// file) or built on theirs, they wait until those devices have synced their own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Which write rule a refused change broke, and where in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForbiddenDetail {
    /// The rule (machine name, e.g. `other_department`).
    pub rule: String,
    /// The path in the record (e.g. `sections/xfjy/XFJY-001-01`).
    pub path: String,
    /// The refused change (hex hash).
    pub change: String,
}

/// Why the server refused one record; the rest of the batch is unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The device's inspector is not assigned to the task (and may not read it either).
    #[error("本设备的执法人员不是该任务的检查人员")]
    NotAssigned,
    /// The device may read the task (its department supervises) but not write it.
    #[error("本设备可以查看该任务，但不能修改")]
    ReadOnly,
    /// A change was made by an actor other than the device and the server does not have it yet.
    #[error("修改来自另一台设备：须由那台设备自己先同步")]
    ForeignActor,
    /// The record would exceed the size limit.
    #[error("记录将超出服务器的大小上限")]
    TooLarge,
    /// Bytes that do not parse as changes, a sync message or an inspection record.
    #[error("记录的修改格式错误")]
    Malformed,
    /// The changes depend on changes the server does not have: the device should fall back to
    /// the sync protocol.
    #[error("修改依赖服务器没有的修改")]
    MissingDependencies,
    /// A record created separately under a task code the server already holds.
    #[error("另行创建的记录重复使用了这个任务编号")]
    Unrelated,
    /// The server holds no such record (a pull of an unknown id).
    #[error("服务器上没有这份记录")]
    Unknown,
    /// A change breaks the record's write rules (see the result's `forbidden`); nothing of the
    /// record's changes was stored.
    #[error("修改违反记录的写入规则")]
    ForbiddenEdit,
    /// The server cannot read its own copy of the record (isolated; other records sync on).
    #[error("服务器无法读取它保存的这份记录")]
    Unreadable,
    /// A change reuses a sequence number of its actor that the server holds with other
    /// contents: the device's copy was restored from an old backup. The device rebuilds its copy
    /// from the server's and makes its own edits again.
    #[error("修改重复使用了服务器已有的序号（从旧备份恢复的副本）")]
    SequenceReused,
    /// A task created offline that the server does not accept (another tenant's division, not
    /// valid against the directory, or not created by its lead inspector); the result's
    /// `forbidden.path` says which.
    #[error("离线新建的任务不被接受")]
    InvalidTask,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// Position in the tenant's feed.
    pub seq: u64,
    /// What changed.
    pub kind: FeedKind,
    /// The task code.
    pub id: String,
    /// The record's heads at that point (hex); empty for a removal.
    #[serde(default)]
    pub heads: Vec<String>,
}

/// What a feed entry announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// The record changed (or became visible to the device).
    Document,
    /// The device's inspector was taken off the task: stop syncing it.
    Removed,
}

/// The outcome of an audit upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResult {
    /// The sequence number of the device's last entry the server now holds.
    pub accepted_through: u64,
    /// Why the upload was refused (nothing of it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The server's signed checkpoint of its audit Merkle tree after the upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<SignedStatement>,
    /// On a refusal: the hash of the last entry the server holds (entry `accepted_through`), the
    /// point a new chain segment continues from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
}

/// `POST /v1/audit/proofs` body: which of the device's entries to prove.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofRequest {
    /// Sequence numbers in the device's chain (at most [`MAX_PROOFS_PER_REQUEST`]).
    pub seqs: Vec<u64>,
    /// Prove against the tree of this many leaves (the checkpoint of an earlier batch), so that
    /// the proofs of every batch share one checkpoint; the current tree when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
}

/// Audit entries proven per request at most: a device with more asks in batches.
pub const MAX_PROOFS_PER_REQUEST: usize = 2000;

/// Inclusion proofs of a device's audit entries against one signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProofs {
    /// The checkpoint the proofs lead to.
    pub checkpoint: SignedStatement,
    /// One proof per entry the server holds.
    pub proofs: Vec<AuditProof>,
}

/// The RFC 6962 audit path of one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProof {
    /// The entry's sequence number in its device's chain.
    pub seq: u64,
    /// Its leaf index in the tenant's tree.
    pub leaf_index: u64,
    /// Sibling hashes (hex), leaf to root.
    pub path: Vec<String>,
}

/// A statement signed by the tenant: canonical JSON and the hex signature over exactly it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStatement {
    /// Canonical JSON.
    pub canonical: String,
    /// Ed25519 signature (hex).
    pub signature: String,
}

/// `POST /v1/blobs/missing` body and answer: SHA-256 hex digests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobList {
    /// Digests.
    pub sha256: Vec<String>,
}

/// `GET /v1/blobs/{sha256}/chunks`: the upload's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// Whether the blob is complete on the server.
    pub complete: bool,
    /// Indices of the chunks already received.
    pub chunks: Vec<u32>,
}

/// `POST /v1/blobs/{sha256}/complete` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteUpload {
    /// The whole blob's size in bytes.
    pub size: u64,
}

/// An error body: `{error, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The kind (`malformed`, `unauthenticated`, `clock_skew`, `replayed`, `revoked`, `expired`,
    /// `forbidden`, `too_large`, `not_found`, ...).
    pub error: String,
    /// A human-readable explanation.
    pub message: String,
}

/// An enrolment request: a one-time code, the device key, and a signature proving possession.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The one-time enrolment code.
    pub code: String,
    /// The device's public key (hex).
    pub device_public_key: String,
    /// Signature (hex) over [`crate::request_auth::enrolment_proof_bytes`].
    pub proof: String,
    /// The tenant root key this device was given (hex). The server refuses a device configured
    /// for another tenant before it spends the code, so enrolment completes on both sides or on
    /// neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_public_key: Option<String>,
    /// The inspector operating this device, when it has one: a code for someone else is refused
    /// before it is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspector: Option<String>,
}

/// What an enrolled device receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The device certificate.
    pub certificate: crate::certificate::SignedCertificate,
    /// The current revocation list.
    pub revocations: crate::certificate::SignedRevocationList,
    /// The tenant root key (hex), to be compared with the one configured out of band.
    pub root_public_key: String,
    /// The device's registered code for document numbers.
    pub device_code: String,
}

/// The `Content-Encoding` a device may give a request body: raw DEFLATE (RFC 1951). The request
/// signature covers the bytes as sent; the server inflates them (up to [`MAX_BODY_BYTES`]).
pub const DEFLATE: &str = "deflate";

/// Compresses a body with DEFLATE.
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Inflates a DEFLATE body, refusing output beyond `limit` bytes (a compression bomb) or bad data.
pub fn inflate(bytes: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut decoder = flate2::read::DeflateDecoder::new(bytes).take(limit as u64 + 1);
    decoder.read_to_end(&mut out).map_err(|_| InflateError::Malformed)?;
    if out.len() > limit {
        return Err(InflateError::TooLarge);
    }
    Ok(out)
}

/// Why a compressed body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// Not DEFLATE data.
    #[error("请求体不是有效的 DEFLATE 数据")]
    Malformed,
    /// Inflates beyond the limit.
    #[error("请求体解压后超出大小上限")]
    TooLarge,
}

/// Encodes heads as hex strings.
pub fn heads_to_hex(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| hex::encode(h.0)).collect()
}

/// Decodes hex heads; `None` if any is malformed.
pub fn heads_from_hex(heads: &[String]) -> Option<Vec<ChangeHash>> {
    heads.iter().map(|h| hex::decode(h).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).map(ChangeHash)).collect()
}

/// Standard base64.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64; `None` if malformed.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}
