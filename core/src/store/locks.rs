//! The store's two locks, each an OS lock on a file beside the database that the operating
//! system releases when its holder ends, however it ends: the writer lock every write transaction
//! queues on, and the sync lock that lets one sync (or photo fetch) of a store run at a time,
//! whichever process or thread runs it, so a killed sync never leaves the store locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use super::StoreError;

/// The lock file writers queue on, inside a store directory.
pub const WRITE_LOCK_FILE: &str = "write.lock";

/// Opens (creating it if needed) a lock file inside a store directory.
pub(crate) fn open_lock_file(root: &Path, name: &str) -> Result<File, StoreError> {
    let path = root.join(name);
    OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| StoreError::io(&path, e))
}

/// A held writer lock, released when dropped (also when the write panics).
pub(crate) struct WriteTurn {
    file: File,
    /// Whether this turn had to wait for another writer.
    contended: bool,
}

impl WriteTurn {
    /// Waits for the writer lock `lock` (the store's open `write.lock`).
    pub(crate) fn take(lock: &File) -> std::io::Result<WriteTurn> {
        let file = lock.try_clone()?;
        let contended = match file.try_lock() {
            Ok(()) => false,
            Err(TryLockError::WouldBlock) => {
                file.lock()?;
                true
            }
            Err(TryLockError::Error(e)) => return Err(e),
        };
        Ok(WriteTurn { file, contended })
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        let _ = self.file.unlock();
        if self.contended {
            // Others are queueing: step aside briefly so that the one the kernel woke takes the
            // next turn, instead of this writer taking turn after turn while they wait.
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// The sync lock file, inside a store directory.
pub const SYNC_LOCK_FILE: &str = "sync.lock";

/// Held while a sync runs; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct SyncLock {
    _file: File,
}

/// Takes the store's sync lock, waiting at most `wait` for another sync to finish; `on_wait` is
/// called once if it has to wait (to tell the person why nothing happens yet).
pub fn acquire(root: &Path, wait: Duration, on_wait: &dyn Fn()) -> Result<SyncLock, StoreError> {
    let file = open_lock_file(root, SYNC_LOCK_FILE)?;
    let path = root.join(SYNC_LOCK_FILE);
    let started = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(SyncLock { _file: file }),
            Err(TryLockError::WouldBlock) => {
                if started.elapsed() >= wait {
                    return Err(StoreError::SyncBusy(wait));
                }
                if !told {
                    on_wait();
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_sync_waits_for_the_first_and_gives_up_after_its_wait() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), Duration::ZERO, &|| {}).unwrap();
        let waited = std::cell::Cell::new(false);
        let busy = acquire(dir.path(), Duration::from_millis(120), &|| waited.set(true));
        assert!(matches!(busy, Err(StoreError::SyncBusy(_))), "{busy:?}");
        assert!(waited.get());
        drop(first);
        assert!(acquire(dir.path(), Duration::ZERO, &|| {}).is_ok(), "released when dropped");
    }
}
