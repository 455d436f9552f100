//! Blobs as files under the data directory: the embedded default.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use onevisit_core::sync::wire::MAX_BLOB_BYTES;
use sha2::{Digest, Sha256};

use super::{BlobError, BlobStorage, UploadLimits};

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
        self.dir.join("partial").join(super::uploader_folder(uploader))
    }

    fn partial(&self, sha256: &str, uploader: &str) -> PathBuf {
        self.uploads(uploader).join(sha256)
    }
}

/// Every complete blob under `dir` (name and file), in name order; unfinished uploads left out.
pub(crate) fn complete_blobs(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let shards = match std::fs::read_dir(dir) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for shard in shards {
        let shard = shard?;
        let prefix = shard.file_name().to_string_lossy().to_string();
        if prefix.len() != 2 || !shard.file_type()?.is_dir() {
            continue; // `partial/` and anything else that is not a blob shard
        }
        for blob in std::fs::read_dir(shard.path())? {
            let blob = blob?;
            let name = blob.file_name().to_string_lossy().to_string();
            let is_name = name.len() == 64 && name.starts_with(&prefix) && name.bytes().all(|b| b.is_ascii_hexdigit());
            if is_name && blob.file_type()?.is_file() {
                out.push((name, blob.path()));
            }
        }
    }
    out.sort();
    Ok(out)
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
        super::check_chunk(index, bytes)?;
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
            let count = super::chunk_count(size);
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
                if bytes.len() as u64 != super::chunk_len(i, size) {
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
