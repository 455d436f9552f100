//! Blobs in an S3-compatible bucket (AWS S3, Aliyun OSS, SeaweedFS, …), shared by every replica.
//! Chunks are staged as their own objects (`<prefix>/partial/<device>/<sha256>/<index>`), so an
//! upload resumes on any replica; completion streams them into a multipart upload of
//! `<prefix>/blobs/<ab>/<sha256>` while hashing, and completes it only when the hash matches — a
//! blob is never visible half-written or wrong.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use onevisit_core::sync::wire::{CHUNK_BYTES, MAX_BLOB_BYTES};
use sha2::{Digest, Sha256};

use super::{BlobError, BlobStorage, UploadLimits};

/// Where the bucket is and how to sign requests to it.
#[derive(Clone, Default)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// A folder inside the bucket for this tenant (may be empty).
    pub prefix: String,
    /// The service address, e.g. `https://oss-cn-hangzhou.aliyuncs.com` (AWS when absent).
    pub endpoint: Option<String>,
    /// The region (`us-east-1` when absent; most S3-compatible stores ignore it).
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// Bucket-in-host-name addressing (`https://bucket.endpoint/key`), which Aliyun OSS requires.
    pub virtual_hosted: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log line.
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("virtual_hosted", &self.virtual_hosted)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// Parses `s3://bucket/prefix`; the rest comes from [`S3Config::with_environment`] or the caller.
    pub fn parse(url: &str) -> Result<S3Config, BlobError> {
        let bad = || BlobError::BlobsUrl(url.to_string());
        let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !bucket_ok {
            return Err(bad());
        }
        let prefix = prefix.trim_matches('/').to_string();
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(bad());
        }
        Ok(S3Config { bucket: bucket.to_string(), prefix, ..Default::default() })
    }

    /// Fills endpoint, region, credentials and addressing style from the usual `AWS_*` variables.
    pub fn with_environment(mut self) -> S3Config {
        let var = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()));
        self.endpoint = self.endpoint.or_else(|| var(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]));
        self.region = self.region.or_else(|| var(&["AWS_REGION", "AWS_DEFAULT_REGION"]));
        self.access_key_id = self.access_key_id.or_else(|| var(&["AWS_ACCESS_KEY_ID"]));
        self.secret_access_key = self.secret_access_key.or_else(|| var(&["AWS_SECRET_ACCESS_KEY"]));
        self.virtual_hosted |= var(&["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"]).is_some_and(|v| v == "true" || v == "1");
        self
    }

    /// `s3://bucket/prefix` at the endpoint, for messages (never with credentials).
    pub fn describe(&self) -> String {
        let at = self.endpoint.as_deref().map(|e| format!("（{e}）")).unwrap_or_default();
        format!("s3://{}/{}{at}", self.bucket, self.prefix)
    }
}

/// Blobs in an S3-compatible bucket.
pub struct S3Blobs {
    store: Arc<AmazonS3>,
    prefix: Path,
    limits: UploadLimits,
    place: String,
}

/// Requests a dead store gets before an operation fails (a replica must not hang on one).
fn retries() -> RetryConfig {
    RetryConfig { backoff: BackoffConfig::default(), max_retries: 3, retry_timeout: std::time::Duration::from_secs(15) }
}

impl S3Blobs {
    /// Connects to the bucket and checks that it exists and answers, before anything is written.
    pub async fn connect(config: &S3Config, limits: UploadLimits) -> Result<S3Blobs, BlobError> {
        // reqwest is built without a default TLS provider (ring is the project's one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"))
            .with_virtual_hosted_style_request(config.virtual_hosted)
            .with_retry(retries());
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| BlobError::BlobsConfig(e.to_string()))?;
        let blobs = S3Blobs {
            store: Arc::new(store),
            prefix: Path::from(config.prefix.as_str()),
            limits,
            place: config.describe(),
        };
        blobs.store.list_with_delimiter(Some(&blobs.prefix)).await.map_err(|e| blobs.startup_error(e, config))?;
        Ok(blobs)
    }

    /// Names what is wrong with the configuration when the first request fails.
    fn startup_error(&self, e: object_store::Error, config: &S3Config) -> BlobError {
        let said = |codes: &[&str]| codes.iter().any(|c| error_text(&e).contains(c));
        match &e {
            object_store::Error::NotFound { .. } => BlobError::BucketMissing(self.place.clone()),
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                BlobError::StoreDenied(self.place.clone())
            }
            // The S3 error codes in the answer's body (object_store reports a failed listing as generic).
            _ if said(&["NoSuchBucket"]) => BlobError::BucketMissing(self.place.clone()),
            _ if said(&["SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "status: 403"]) => {
                BlobError::StoreDenied(self.place.clone())
            }
            _ if is_unreachable(&e) => BlobError::StoreUnreachable {
                place: config.endpoint.clone().unwrap_or_else(|| self.place.clone()),
                reason: e.to_string(),
            },
            _ => self.failed(e),
        }
    }

    fn failed(&self, e: object_store::Error) -> BlobError {
        BlobError::Store { place: self.place.clone(), source: Box::new(e) }
    }

    fn blob(&self, sha256: &str) -> Path {
        self.prefix.clone().join("blobs").join(&sha256[..2]).join(sha256)
    }

    fn uploads(&self, uploader: &str) -> Path {
        self.prefix.clone().join("partial").join(super::uploader_folder(uploader))
    }

    fn partial(&self, sha256: &str, uploader: &str) -> Path {
        self.uploads(uploader).join(sha256)
    }

    async fn list(&self, prefix: &Path) -> Result<Vec<object_store::ObjectMeta>, BlobError> {
        self.store.list(Some(prefix)).try_collect().await.map_err(|e| self.failed(e))
    }

    async fn remove_all(&self, objects: Vec<object_store::ObjectMeta>) {
        for o in objects {
            // A chunk that cannot be removed now is swept when it expires.
            let _ = self.store.delete(&o.location).await;
        }
    }
}

impl S3Blobs {
    /// Reads the staged chunks in order, checking each one's length, into `writer` (if any);
    /// returns the SHA-256 (hex) of what was read.
    async fn stream_chunks(
        &self,
        by_index: &HashMap<u32, Path>,
        size: u64,
        mut writer: Option<&mut WriteMultipart>,
    ) -> Result<String, BlobError> {
        let mut hasher = Sha256::new();
        for i in 0..super::chunk_count(size) {
            let bytes = match self.store.get(&by_index[&i]).await {
                Ok(r) => r.bytes().await.map_err(|e| self.failed(e))?,
                Err(e) => return Err(self.failed(e)),
            };
            if bytes.len() as u64 != super::chunk_len(i, size) {
                return Err(BlobError::BadChunk { index: i });
            }
            hasher.update(&bytes);
            if let Some(w) = writer.as_deref_mut() {
                w.wait_for_capacity(2).await.map_err(|e| self.failed(e))?;
                w.put(bytes);
            }
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

/// Everything the error and its sources say, to find the S3 error code in it.
fn error_text(e: &object_store::Error) -> String {
    format!("{e} {e:?}")
}

/// Whether the store could not be reached at all (refused, DNS, timeout), as opposed to an answer.
fn is_unreachable(e: &object_store::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("connect") || text.contains("dns") || text.contains("timed out") {
            return true;
        }
        source = s.source();
    }
    false
}

/// The chunk index an object key ends in.
fn chunk_index(o: &object_store::ObjectMeta) -> Option<u32> {
    o.location.filename().and_then(|n| n.parse::<u32>().ok())
}

impl BlobStorage for S3Blobs {
    async fn has(&self, sha256: &str) -> Result<bool, BlobError> {
        Ok(self.size(sha256).await?.is_some())
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.blob(sha256)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn chunks(&self, sha256: &str, uploader: &str) -> Result<Vec<u32>, BlobError> {
        let mut out: Vec<u32> =
            self.list(&self.partial(sha256, uploader)).await?.iter().filter_map(chunk_index).collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    async fn put_chunk(&self, sha256: &str, uploader: &str, index: u32, bytes: &[u8]) -> Result<(), BlobError> {
        super::check_chunk(index, bytes)?;
        let key = self.partial(sha256, uploader).join(index.to_string());
        // The chunk replaces any earlier copy of itself, so that one is not counted twice.
        let held: u64 =
            self.list(&self.uploads(uploader)).await?.iter().filter(|o| o.location != key).map(|o| o.size).sum();
        if held + bytes.len() as u64 > self.limits.quota_bytes {
            return Err(BlobError::QuotaExceeded { quota: self.limits.quota_bytes });
        }
        self.store.put(&key, PutPayload::from(bytes.to_vec())).await.map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn complete(&self, sha256: &str, uploader: &str, size: u64) -> Result<(), BlobError> {
        if size > MAX_BLOB_BYTES {
            return Err(BlobError::TooLarge(size));
        }
        let count = super::chunk_count(size);
        let staged = self.list(&self.partial(sha256, uploader)).await?;
        let by_index: HashMap<u32, Path> =
            staged.iter().filter_map(|o| chunk_index(o).map(|i| (i, o.location.clone()))).collect();
        let missing: Vec<u32> = (0..count).filter(|i| !by_index.contains_key(i)).collect();
        if !missing.is_empty() {
            return Err(BlobError::MissingChunks(missing));
        }
        // Content-addressed: when another upload completed first, the chunks are still checked.
        let mut writer = if self.has(sha256).await? {
            None
        } else {
            Some(WriteMultipart::new(self.store.put_multipart(&self.blob(sha256)).await.map_err(|e| self.failed(e))?))
        };
        let streamed = self.stream_chunks(&by_index, size, writer.as_mut()).await;
        let wrong = match streamed {
            Ok(actual) if actual == sha256 => None,
            Ok(actual) => Some(BlobError::HashMismatch { expected: sha256.to_string(), actual }),
            Err(e) => Some(e),
        };
        if let Some(e) = wrong {
            if let Some(w) = writer {
                let _ = w.abort().await;
            }
            if matches!(e, BlobError::HashMismatch { .. }) {
                // The chunks are wrong: drop them so the device starts this blob again.
                self.remove_all(staged).await;
            }
            return Err(e);
        }
        if let Some(w) = writer {
            w.finish().await.map_err(|e| self.failed(e))?;
        }
        self.remove_all(staged).await;
        Ok(())
    }

    async fn read(&self, sha256: &str, offset: u64, len: u64) -> Result<Vec<u8>, BlobError> {
        let size = self.size(sha256).await?.ok_or_else(|| {
            BlobError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{sha256} 不存在")))
        })?;
        if offset > size || offset.saturating_add(len) > size {
            return Err(BlobError::BadRange);
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = self.store.get_range(&self.blob(sha256), offset..offset + len).await.map_err(|e| self.failed(e))?;
        Ok(bytes.to_vec())
    }

    async fn expire(&self) -> Result<usize, BlobError> {
        let staged = self.list(&self.prefix.clone().join("partial")).await?;
        // One upload = every chunk under partial/<device>/<sha256>/; its age is its newest chunk's.
        let mut uploads: HashMap<Path, (chrono::DateTime<chrono::Utc>, Vec<object_store::ObjectMeta>)> = HashMap::new();
        for o in staged {
            let parts: Vec<_> = o.location.parts().collect();
            if parts.len() < 2 {
                continue;
            }
            let upload = Path::from_iter(parts[..parts.len() - 1].iter().cloned());
            let entry = uploads.entry(upload).or_insert_with(|| (o.last_modified, Vec::new()));
            entry.0 = entry.0.max(o.last_modified);
            entry.1.push(o);
        }
        let now = chrono::Utc::now();
        let expiry = chrono::Duration::from_std(self.limits.expiry).unwrap_or(chrono::Duration::MAX);
        let mut removed = 0;
        for (_, (latest, chunks)) in uploads {
            if now - latest >= expiry {
                self.remove_all(chunks).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// What [`S3Blobs::copy_from_folder`] copied.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct FolderCopy {
    /// Blobs copied and read back matching their names.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl S3Blobs {
    /// Copies every complete blob of a [`super::FileBlobs`] folder into the bucket and reads each
    /// back: a blob counts only when the bucket's copy hashes to its name. A file whose bytes do not
    /// match its name is refused, never copied. Unfinished uploads stay behind (devices resume them).
    pub async fn copy_from_folder(&self, dir: &std::path::Path) -> Result<FolderCopy, BlobError> {
        let mut copied = FolderCopy::default();
        for (sha256, file) in super::files::complete_blobs(dir)? {
            let bytes = self.put_file(&sha256, &file).await?;
            let stored = self.store.get(&self.blob(&sha256)).await.map_err(|e| self.failed(e))?;
            let mut hasher = Sha256::new();
            let mut read = 0u64;
            let mut stream = stored.into_stream();
            while let Some(part) = stream.try_next().await.map_err(|e| self.failed(e))? {
                hasher.update(&part);
                read += part.len() as u64;
            }
            let actual = hex::encode(hasher.finalize());
            if actual != sha256 || read != bytes {
                return Err(BlobError::HashMismatch { expected: sha256, actual });
            }
            copied.blobs += 1;
            copied.bytes += bytes;
        }
        Ok(copied)
    }

    /// Streams `file` into the blob `sha256`, completing the upload only when the bytes match it.
    async fn put_file(&self, sha256: &str, file: &std::path::Path) -> Result<u64, BlobError> {
        use tokio::io::AsyncReadExt;
        let mut source = tokio::fs::File::open(file).await?;
        let mut writer =
            WriteMultipart::new(self.store.put_multipart(&self.blob(sha256)).await.map_err(|e| self.failed(e))?);
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            let n = match source.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            hasher.update(&buf[..n]);
            total += n as u64;
            writer.wait_for_capacity(2).await.map_err(|e| self.failed(e))?;
            writer.write(&buf[..n]);
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            let _ = writer.abort().await;
            return Err(BlobError::HashMismatch { expected: sha256.to_string(), actual });
        }
        writer.finish().await.map_err(|e| self.failed(e))?;
        Ok(total)
    }
}
