//! Content-addressed blob files (evidence originals): named by SHA-256, written to a temporary
//! file, fsynced and renamed, so a crash leaves either the whole file or none.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::record::values::is_sha256_hex;

use super::StoreError;

/// A stored blob's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobRef {
    /// SHA-256 of the exact bytes, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub mime: String,
}

/// The blob folder of a store.
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// The blob folder under `dir`, created if missing.
    pub fn open(dir: PathBuf) -> Result<BlobStore, StoreError> {
        fs::create_dir_all(dir.join("tmp")).map_err(|e| StoreError::io(&dir, e))?;
        Ok(BlobStore { dir })
    }

    /// Where the blob with this hash lives: `ab/abcdef…`.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// Stores `bytes` once, durably; storing the same bytes again returns the same reference.
    pub fn put(&self, conn: &Connection, bytes: &[u8], mime: &str, now_ms: i64) -> Result<BlobRef, StoreError> {
        let blob = self.write_file(bytes, mime)?;
        insert_row(conn, &blob, now_ms)?;
        Ok(blob)
    }

    /// Writes the file of a blob (temp file, fsync, rename, fsync of the folder) if it is not there
    /// yet. The blob is not known to the store until [`insert_row`] runs in the caller's transaction;
    /// a file without a row is invisible and is rewritten identically by the next put.
    pub fn write_file(&self, bytes: &[u8], mime: &str) -> Result<BlobRef, StoreError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let blob = BlobRef { sha256: sha256.clone(), size: bytes.len() as u64, mime: mime.to_string() };
        let target = self.path_of(&sha256);
        if !target.exists() {
            let parent = self.dir.join(&sha256[..2]);
            fs::create_dir_all(&parent).map_err(|e| StoreError::io(&parent, e))?;
            let tmp = self.dir.join("tmp").join(format!("{sha256}.{}", std::process::id()));
            write_synced(&tmp, bytes)?;
            fs::rename(&tmp, &target).map_err(|e| StoreError::io(&target, e))?;
            File::open(&parent).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(&parent, e))?;
        }
        Ok(blob)
    }

    /// Writes and fsyncs a blob's bytes to a temporary file, to be put in place by
    /// [`Staged::commit`] once the caller has decided to keep it; dropped, it leaves nothing behind.
    pub fn stage(&self, bytes: &[u8], sha256: &str, mime: &str) -> Result<Staged, StoreError> {
        let blob = BlobRef { sha256: sha256.to_string(), size: bytes.len() as u64, mime: mime.to_string() };
        let target = self.path_of(sha256);
        if target.exists() {
            return Ok(Staged { blob, tmp: None, target });
        }
        let tmp = self.dir.join("tmp").join(format!("{sha256}.{}.staged", std::process::id()));
        write_synced(&tmp, bytes)?;
        Ok(Staged { blob, tmp: Some(tmp), target })
    }

    /// Whether the store holds a blob (its row; the file is checked on read).
    pub fn has(&self, conn: &Connection, sha256: &str) -> Result<bool, StoreError> {
        Ok(conn.query_row("SELECT EXISTS(SELECT 1 FROM blobs WHERE sha256 = ?1)", [sha256], |r| r.get(0))?)
    }

    /// Reads a blob, checking its bytes against its name.
    pub fn read(&self, conn: &Connection, sha256: &str) -> Result<(BlobRef, Vec<u8>), StoreError> {
        if !is_sha256_hex(sha256) {
            return Err(StoreError::UnknownBlob(sha256.to_string()));
        }
        let row: Option<(i64, String)> = conn
            .query_row("SELECT size, mime FROM blobs WHERE sha256 = ?1", [sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (size, mime) = row.ok_or_else(|| StoreError::UnknownBlob(sha256.to_string()))?;
        let path = self.path_of(sha256);
        let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(StoreError::CorruptBlob(sha256.to_string()));
        }
        Ok((BlobRef { sha256: sha256.to_string(), size: size as u64, mime }, bytes))
    }
}

/// A blob written to a temporary file, not yet in place.
pub struct Staged {
    blob: BlobRef,
    tmp: Option<PathBuf>,
    target: PathBuf,
}

impl Staged {
    /// Moves the file into place (rename, then fsync of its folder).
    pub fn commit(mut self) -> Result<BlobRef, StoreError> {
        if let Some(tmp) = self.tmp.take() {
            let parent = self.target.parent().map(Path::to_path_buf).unwrap_or_default();
            fs::create_dir_all(&parent).map_err(|e| StoreError::io(&parent, e))?;
            fs::rename(&tmp, &self.target).map_err(|e| StoreError::io(&self.target, e))?;
            File::open(&parent).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(&parent, e))?;
        }
        Ok(self.blob.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Makes a written blob known to the store (inside the caller's transaction).
pub fn insert_row(conn: &Connection, blob: &BlobRef, now_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO blobs (sha256, size, mime, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
        params![blob.sha256, blob.size as i64, blob.mime, now_ms],
    )?;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = File::create(path).map_err(|e| StoreError::io(path, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| StoreError::io(path, e))
}
