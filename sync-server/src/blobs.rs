//! Blob storage behind a trait (evidence originals by SHA-256): resumable chunked uploads that
//! become visible only once the whole file matches its hash, and ranged reads. An upload in
//! progress belongs to the device making it (no other device can add to it or poison it), counts
//! against that device's quota, and expires when left unfinished. The embedded default keeps files
//! under `<data>/blobs`; an S3-compatible store comes next.

use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use onevisit_core::sync::wire::{CHUNK_BYTES, MAX_BLOB_BYTES};
use sha2::{Digest, Sha256};

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

/// Blobs as files: `<dir>/<ab>/<sha256>`, uploads in `<dir>/partial/<device>/<sha256>/<index>`.
pub struct FileBlobs {
    dir: PathBuf,
    limits: UploadLimits,
}

impl FileBlobs {
    /// Blob files under `dir`, with the default upload limits.
    pub fn open(dir: &Path) -> Result<FileBlobs, BlobError> {
        FileBlobs::with_limits(dir, UploadLimits::default())
    }

    /// Blob files under `dir`.
    pub fn with_limits(dir: &Path, limits: UploadLimits) -> Result<FileBlobs, BlobError> {
        std::fs::create_dir_all(dir.join("partial"))?;
        Ok(FileBlobs { dir: dir.to_path_buf(), limits })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    fn uploads(&self, uploader: &str) -> PathBuf {
        // Device ids are hex; anything else is kept out of the path.
        let safe: String = uploader.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        self.dir.join("partial").join(safe)
    }

    fn partial(&self, sha256: &str, uploader: &str) -> PathBuf {
        self.uploads(uploader).join(sha256)
    }
}

/// Bytes of every chunk under `uploads` (one device's unfinished uploads), `except` one file.
fn unfinished_bytes(uploads: &Path, except: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let blobs = match std::fs::read_dir(uploads) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for blob in blobs {
        let blob = blob?;
        if !blob.file_type()?.is_dir() {
            continue;
        }
        for chunk in std::fs::read_dir(blob.path())? {
            let chunk = chunk?;
            if chunk.path() != except {
                total += chunk.metadata()?.len();
            }
        }
    }
    Ok(total)
}

/// When the latest chunk of an upload arrived.
fn last_touched(upload: &Path) -> std::io::Result<std::time::SystemTime> {
    let mut latest = std::fs::metadata(upload)?.modified()?;
    for chunk in std::fs::read_dir(upload)? {
        latest = latest.max(chunk?.metadata()?.modified()?);
    }
    Ok(latest)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| BlobError::Io(std::io::Error::other(e)))?
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlobStorage for FileBlobs {
    async fn has(&self, sha256: &str) -> Result<bool, BlobError> {
        Ok(self.path(sha256).exists())
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>, BlobError> {
        match std::fs::metadata(self.path(sha256)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn chunks(&self, sha256: &str, uploader: &str) -> Result<Vec<u32>, BlobError> {
        let dir = self.partial(sha256, uploader);
        blocking(move || {
            let mut out = Vec::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(e.into()),
            };
            for entry in entries {
                if let Some(i) = entry?.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                    out.push(i);
                }
            }
            out.sort_unstable();
            Ok(out)
        })
        .await
    }

    async fn put_chunk(&self, sha256: &str, uploader: &str, index: u32, bytes: &[u8]) -> Result<(), BlobError> {
        if bytes.is_empty() || bytes.len() > CHUNK_BYTES || u64::from(index) * CHUNK_BYTES as u64 >= MAX_BLOB_BYTES {
            return Err(BlobError::BadChunk { index });
        }
        let (uploads, dir) = (self.uploads(uploader), self.partial(sha256, uploader));
        let quota = self.limits.quota_bytes;
        let bytes = bytes.to_vec();
        blocking(move || {
            // The chunk replaces any earlier copy of itself, so that one is not counted twice.
            let held = unfinished_bytes(&uploads, &dir.join(index.to_string()))?;
            if held + bytes.len() as u64 > quota {
                return Err(BlobError::QuotaExceeded { quota });
            }
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!("{index}.tmp"));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, dir.join(index.to_string()))?;
            sync_dir(&dir)?;
            Ok(())
        })
        .await
    }

    async fn complete(&self, sha256: &str, uploader: &str, size: u64) -> Result<(), BlobError> {
        if size > MAX_BLOB_BYTES {
            return Err(BlobError::TooLarge(size));
        }
        let (dir, target, expected) = (self.partial(sha256, uploader), self.path(sha256), sha256.to_string());
        blocking(move || {
            let count = size.div_ceil(CHUNK_BYTES as u64).max(1) as u32;
            let missing: Vec<u32> = (0..count).filter(|i| !dir.join(i.to_string()).exists()).collect();
            if !missing.is_empty() {
                return Err(BlobError::MissingChunks(missing));
            }
            let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&parent)?;
            let tmp = dir.join("assembled.tmp");
            let mut out = std::fs::File::create(&tmp)?;
            let mut hasher = Sha256::new();
            let mut total = 0u64;
            for i in 0..count {
                let bytes = std::fs::read(dir.join(i.to_string()))?;
                let expected_len =
                    if i + 1 < count { CHUNK_BYTES as u64 } else { size - u64::from(i) * CHUNK_BYTES as u64 };
                if bytes.len() as u64 != expected_len {
                    return Err(BlobError::BadChunk { index: i });
                }
                hasher.update(&bytes);
                out.write_all(&bytes)?;
                total += bytes.len() as u64;
            }
            out.sync_all()?;
            let actual = hex::encode(hasher.finalize());
            if actual != expected || total != size {
                // The chunks are wrong: drop them so the device starts this blob again.
                let _ = std::fs::remove_dir_all(&dir);
                return Err(BlobError::HashMismatch { expected, actual });
            }
            // Content-addressed: when another upload completed first, the bytes are the same.
            if !target.exists() {
                std::fs::rename(&tmp, &target)?;
                sync_dir(&parent)?;
            }
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        })
        .await
    }

    async fn expire(&self) -> Result<usize, BlobError> {
        let (partial, expiry) = (self.dir.join("partial"), self.limits.expiry);
        blocking(move || {
            let now = std::time::SystemTime::now();
            let mut removed = 0;
            for device in std::fs::read_dir(&partial)? {
                let device = device?.path();
                if !device.is_dir() {
                    continue;
                }
                for upload in std::fs::read_dir(&device)? {
                    let upload = upload?.path();
                    let age = last_touched(&upload).ok().and_then(|t| now.duration_since(t).ok());
                    if age.is_some_and(|a| a >= expiry) && std::fs::remove_dir_all(&upload).is_ok() {
                        removed += 1;
                    }
                }
                let _ = std::fs::remove_dir(&device); // only when empty
            }
            Ok(removed)
        })
        .await
    }

    async fn read(&self, sha256: &str, offset: u64, len: u64) -> Result<Vec<u8>, BlobError> {
        let path = self.path(sha256);
        blocking(move || {
            let mut f = std::fs::File::open(&path)?;
            let size = f.metadata()?.len();
            if offset > size || offset + len > size {
                return Err(BlobError::BadRange);
            }
            f.seek(SeekFrom::Start(offset))?;
            let mut buf = vec![0u8; len as usize];
            f.read_exact(&mut buf)?;
            Ok(buf)
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[tokio::test]
    async fn a_blob_becomes_visible_only_whole_and_matching_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FileBlobs::open(dir.path()).unwrap();
        let bytes: Vec<u8> = (0..(CHUNK_BYTES + 10)).map(|i| (i % 251) as u8).collect();
        let name = sha(&bytes);
        blobs.put_chunk(&name, "d1", 1, &bytes[CHUNK_BYTES..]).await.unwrap();
        assert_eq!(blobs.chunks(&name, "d1").await.unwrap(), vec![1]);
        assert!(blobs.chunks(&name, "d2").await.unwrap().is_empty(), "another device's upload is its own");
        assert!(
            matches!(blobs.complete(&name, "d1", bytes.len() as u64).await, Err(BlobError::MissingChunks(m)) if m == vec![0])
        );
        assert!(!blobs.has(&name).await.unwrap());
        blobs.put_chunk(&name, "d1", 0, &bytes[..CHUNK_BYTES]).await.unwrap();
        blobs.complete(&name, "d1", bytes.len() as u64).await.unwrap();
        assert!(blobs.has(&name).await.unwrap());
        assert_eq!(blobs.read(&name, 5, 10).await.unwrap(), bytes[5..15].to_vec());
        assert!(matches!(blobs.read(&name, bytes.len() as u64 - 1, 2).await, Err(BlobError::BadRange)));
    }

    #[tokio::test]
    async fn bytes_that_do_not_match_the_name_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FileBlobs::open(dir.path()).unwrap();
        let name = sha(b"the real photo");
        blobs.put_chunk(&name, "d1", 0, b"something else").await.unwrap();
        assert!(matches!(blobs.complete(&name, "d1", 14).await, Err(BlobError::HashMismatch { .. })));
        assert!(!blobs.has(&name).await.unwrap());
        assert!(blobs.chunks(&name, "d1").await.unwrap().is_empty(), "the bad chunks are gone");
        assert!(matches!(
            blobs.put_chunk(&name, "d1", 0, &vec![0; CHUNK_BYTES + 1]).await,
            Err(BlobError::BadChunk { .. })
        ));
    }

    #[tokio::test]
    async fn a_planted_chunk_does_not_touch_the_owners_upload() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FileBlobs::open(dir.path()).unwrap();
        let photo = b"the owner's photo".to_vec();
        let name = sha(&photo);
        blobs.put_chunk(&name, "attacker", 0, b"poison!!!!!!!!!!!").await.unwrap();
        blobs.put_chunk(&name, "owner", 0, &photo).await.unwrap();
        blobs.complete(&name, "owner", photo.len() as u64).await.unwrap();
        assert_eq!(blobs.read(&name, 0, photo.len() as u64).await.unwrap(), photo);
        // The attacker's own completion is checked against the hash and fails, changing nothing.
        assert!(matches!(blobs.complete(&name, "attacker", 17).await, Err(BlobError::HashMismatch { .. })));
        assert_eq!(blobs.read(&name, 0, photo.len() as u64).await.unwrap(), photo);
    }

    #[tokio::test]
    async fn unfinished_uploads_count_against_the_quota_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let limits =
            UploadLimits { quota_bytes: 2 * CHUNK_BYTES as u64, expiry: std::time::Duration::from_millis(300) };
        let blobs = FileBlobs::with_limits(dir.path(), limits).unwrap();
        let chunk = vec![7u8; CHUNK_BYTES];
        blobs.put_chunk(&sha(b"a"), "d1", 0, &chunk).await.unwrap();
        blobs.put_chunk(&sha(b"b"), "d1", 0, &chunk).await.unwrap();
        blobs.put_chunk(&sha(b"b"), "d1", 0, &chunk).await.unwrap(); // a resend is not counted twice
        assert!(matches!(blobs.put_chunk(&sha(b"c"), "d1", 0, &chunk).await, Err(BlobError::QuotaExceeded { .. })));
        blobs.put_chunk(&sha(b"c"), "d2", 0, &chunk).await.unwrap(); // each device has its own quota
        assert_eq!(blobs.expire().await.unwrap(), 0, "nothing is old yet");
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(blobs.expire().await.unwrap(), 3);
        blobs.put_chunk(&sha(b"c"), "d1", 0, &chunk).await.unwrap(); // room again
    }
}
