//! Blob storage behind a trait (evidence originals by SHA-256): resumable chunked uploads that
//! become visible only once the whole file matches its hash, and ranged reads. An upload in
//! progress belongs to the device making it (no other device can add to it or poison it), counts
//! against that device's quota, and expires when left unfinished. The embedded default keeps files
//! under `<data>/blobs`; replicas share an S3-compatible bucket.

use std::future::Future;

use onevisit_core::sync::wire::{CHUNK_BYTES, MAX_BLOB_BYTES};

mod files;
mod s3;

pub use files::FileBlobs;
pub use s3::{FolderCopy, S3Blobs, S3Config};

/// Why a blob operation failed or was refused.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The file system failed.
    #[error("文件存储失败：{0}")]
    Io(#[from] std::io::Error),
    /// A chunk index beyond what the size allows, or a chunk of the wrong length.
    #[error("第 {index} 块超出范围或长度不对")]
    BadChunk {
        /// The chunk.
        index: u32,
    },
    /// Chunks are missing at completion.
    #[error("还有分块未上传：{0:?}")]
    MissingChunks(Vec<u32>),
    /// The assembled file does not match its name.
    #[error("上传内容的哈希值是 {actual}，而不是 {expected}")]
    HashMismatch {
        /// The name.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// Larger than the server keeps.
    #[error("{0} 字节的文件超出上限")]
    TooLarge(u64),
    /// A range outside the blob.
    #[error("请求的范围超出文件")]
    BadRange,
    /// The object store failed or refused a request.
    #[error("对象存储 {place} 出错：{source}")]
    Store {
        /// The bucket, for the message.
        place: String,
        /// What the store said.
        source: Box<object_store::Error>,
    },
    /// `--blobs` is not `s3://bucket/prefix`.
    #[error("照片存储地址应为 s3://桶名/前缀（桶名为 3–63 个小写字母、数字、- 或 .），而不是 {0}")]
    BlobsUrl(String),
    /// The object store client could not be set up from the configuration.
    #[error("对象存储配置有误：{0}")]
    BlobsConfig(String),
    /// The bucket does not exist.
    #[error("对象存储中没有这个桶：{0}；请先在对象存储中创建它")]
    BucketMissing(String),
    /// The store refused the credentials.
    #[error("对象存储拒绝了访问：{0}；请检查 AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY 及桶的权限")]
    StoreDenied(String),
    /// The store did not answer.
    #[error("无法连接对象存储 {place}：{reason}")]
    StoreUnreachable {
        /// The endpoint.
        place: String,
        /// Why.
        reason: String,
    },
    /// The device's unfinished uploads would exceed its quota.
    #[error("本设备未完成的上传已达配额 {quota} 字节，请先完成或等待过期")]
    QuotaExceeded {
        /// The quota, bytes.
        quota: u64,
    },
}

/// Bounds on unfinished uploads.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Bytes of unfinished uploads one device may hold.
    pub quota_bytes: u64,
    /// How long an unfinished upload is kept after its latest chunk.
    pub expiry: std::time::Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits { quota_bytes: 4 * MAX_BLOB_BYTES, expiry: std::time::Duration::from_secs(48 * 3600) }
    }
}

/// Where blobs live. `uploader` is the device making an upload: its chunks are its own until the
/// whole blob matches its hash.
pub trait BlobStorage: Send + Sync + 'static {
    /// Whether the complete blob is stored.
    fn has(&self, sha256: &str) -> impl Future<Output = Result<bool, BlobError>> + Send;
    /// The size of a stored blob.
    fn size(&self, sha256: &str) -> impl Future<Output = Result<Option<u64>, BlobError>> + Send;
    /// Indices of the chunks `uploader` has sent so far for an upload in progress.
    fn chunks(&self, sha256: &str, uploader: &str) -> impl Future<Output = Result<Vec<u32>, BlobError>> + Send;
    /// Stores one chunk of `uploader`'s upload (idempotent), within its quota.
    fn put_chunk(
        &self,
        sha256: &str,
        uploader: &str,
        index: u32,
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), BlobError>> + Send;
    /// Assembles `uploader`'s chunks, checks size and hash, and makes the blob visible (when another
    /// upload got there first, the chunks are still checked, then dropped).
    fn complete(&self, sha256: &str, uploader: &str, size: u64) -> impl Future<Output = Result<(), BlobError>> + Send;
    /// Reads `len` bytes from `offset`.
    fn read(&self, sha256: &str, offset: u64, len: u64) -> impl Future<Output = Result<Vec<u8>, BlobError>> + Send;
    /// Removes unfinished uploads whose latest chunk is older than the expiry; returns how many.
    fn expire(&self) -> impl Future<Output = Result<usize, BlobError>> + Send;
}

/// Refuses a chunk that is empty, longer than a chunk, or placed beyond the largest blob.
fn check_chunk(index: u32, bytes: &[u8]) -> Result<(), BlobError> {
    let beyond = u64::from(index) * CHUNK_BYTES as u64 >= MAX_BLOB_BYTES;
    if bytes.is_empty() || bytes.len() > CHUNK_BYTES || beyond { Err(BlobError::BadChunk { index }) } else { Ok(()) }
}

/// How many chunks a blob of `size` bytes is sent in (at least one).
fn chunk_count(size: u64) -> u32 {
    size.div_ceil(CHUNK_BYTES as u64).max(1) as u32
}

/// The length chunk `index` of a blob of `size` bytes must have: whole chunks, the last one shorter.
fn chunk_len(index: u32, size: u64) -> u64 {
    if index + 1 < chunk_count(size) { CHUNK_BYTES as u64 } else { size - u64::from(index) * CHUNK_BYTES as u64 }
}

/// The folder (or key part) of `uploader`'s unfinished uploads: device ids (hex) as they are,
/// any other name hex-encoded behind a `~`, so no name climbs out of its folder or lands in
/// another device's.
fn uploader_folder(uploader: &str) -> String {
    if !uploader.is_empty() && uploader.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        uploader.to_string()
    } else {
        format!("~{}", hex::encode(uploader))
    }
}

/// Parses `bytes=a-b` or `bytes=a-` into a half-open range within `size`.
pub fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end: u64 = if b.trim().is_empty() { size } else { b.trim().parse::<u64>().ok()?.checked_add(1)? };
    (start < end && end <= size).then_some((start, end))
}
