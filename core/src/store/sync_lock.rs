//! One sync of a store at a time: a lock on a file beside the database, taken by every sync and
//! photo fetch, whichever process or thread runs it. The operating system releases it when its
//! holder ends, however it ends, so a killed sync never leaves the store locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use super::StoreError;

/// The lock file's name inside a store directory.
pub const SYNC_LOCK_FILE: &str = "sync.lock";

/// Held while a sync runs; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct SyncLock {
    _file: File,
}

/// Takes the store's sync lock, waiting at most `wait` for another sync to finish; `on_wait` is
/// called once if it has to wait (to tell the person why nothing happens yet).
pub fn acquire(root: &Path, wait: Duration, on_wait: &dyn Fn()) -> Result<SyncLock, StoreError> {
    let path = root.join(SYNC_LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
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
