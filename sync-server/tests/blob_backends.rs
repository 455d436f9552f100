//! One blob storage test suite, every backend: each behaviour below is a generic function run
//! against blob files in a folder and against a real S3-compatible server started for the test
//! (`onevisit-s3-server`, s3s-fs) — resumable chunked uploads that become visible only whole and
//! matching their hash, uploads that belong to their device, quotas, expiry, ranged reads, and two
//! devices completing the same photo at once (as two replicas would).

#![allow(clippy::unwrap_used, clippy::panic, reason = "test helpers: a panic is the failure being reported")]

use std::time::Duration;

use onevisit_core::sync::wire::CHUNK_BYTES;
use onevisit_server::blobs::{BlobError, BlobStorage, FileBlobs, S3Blobs, S3Config, UploadLimits};
use onevisit_test_support::S3Server;
use onevisit_test_support::s3::{S3_ACCESS_KEY, S3_SECRET_KEY};
use sha2::{Digest, Sha256};

/// Upload limits small enough to reach in a test: two chunks of quota, expiry after one second.
fn test_limits() -> UploadLimits {
    UploadLimits { quota_bytes: 2 * CHUNK_BYTES as u64, expiry: Duration::from_secs(1) }
}

/// How the tests reach the S3 server's bucket `name`.
fn config(server: &S3Server, name: &str, prefix: &str) -> S3Config {
    let mut c = S3Config::parse(&server.bucket(name, prefix)).unwrap();
    c.endpoint = Some(server.endpoint.clone());
    c.access_key_id = Some(S3_ACCESS_KEY.into());
    c.secret_access_key = Some(S3_SECRET_KEY.into());
    c
}

/// Runs each named generic test on blob files and on an S3 bucket (a server of its own per test).
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod files {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$name(super::FileBlobs::with_limits(dir.path(), super::test_limits()).unwrap()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let server = super::S3Server::start();
                    let config = super::config(&server, "evidence", "city/330482");
                    super::$name(super::S3Blobs::connect(&config, super::test_limits()).await.unwrap()).await;
                }
            )*
        }
    };
}

on_every_backend!(
    a_blob_becomes_visible_only_whole_and_matching_its_hash,
    bytes_that_do_not_match_the_name_are_dropped,
    a_planted_chunk_does_not_touch_the_owners_upload,
    unfinished_uploads_count_against_the_quota_and_expire,
    two_devices_completing_one_photo_at_once_both_succeed_with_one_blob,
    ranged_reads_return_exactly_the_range_and_refuse_beyond_it,
);

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Bytes that are not one value repeated (so a wrong offset shows).
fn photo(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + usize::from(seed)) % 251) as u8).collect()
}

async fn a_blob_becomes_visible_only_whole_and_matching_its_hash(blobs: impl BlobStorage) {
    let bytes = photo(CHUNK_BYTES + 10, 1);
    let name = sha(&bytes);
    blobs.put_chunk(&name, "d1", 1, &bytes[CHUNK_BYTES..]).await.unwrap();
    assert_eq!(blobs.chunks(&name, "d1").await.unwrap(), vec![1]);
    assert!(blobs.chunks(&name, "d2").await.unwrap().is_empty(), "another device's upload is its own");
    assert!(
        matches!(blobs.complete(&name, "d1", bytes.len() as u64).await, Err(BlobError::MissingChunks(m)) if m == vec![0])
    );
    assert!(!blobs.has(&name).await.unwrap());
    assert_eq!(blobs.size(&name).await.unwrap(), None);
    blobs.put_chunk(&name, "d1", 0, &bytes[..CHUNK_BYTES]).await.unwrap();
    blobs.complete(&name, "d1", bytes.len() as u64).await.unwrap();
    assert!(blobs.has(&name).await.unwrap());
    assert_eq!(blobs.size(&name).await.unwrap(), Some(bytes.len() as u64));
    assert_eq!(blobs.read(&name, 0, bytes.len() as u64).await.unwrap(), bytes, "byte for byte");
    assert!(blobs.chunks(&name, "d1").await.unwrap().is_empty(), "the staged chunks are gone");
}

async fn bytes_that_do_not_match_the_name_are_dropped(blobs: impl BlobStorage) {
    let name = sha(b"the real photo");
    blobs.put_chunk(&name, "d1", 0, b"something else").await.unwrap();
    assert!(matches!(blobs.complete(&name, "d1", 14).await, Err(BlobError::HashMismatch { .. })));
    assert!(!blobs.has(&name).await.unwrap());
    assert!(blobs.chunks(&name, "d1").await.unwrap().is_empty(), "the bad chunks are gone");
    assert!(matches!(
        blobs.put_chunk(&name, "d1", 0, &vec![0; CHUNK_BYTES + 1]).await,
        Err(BlobError::BadChunk { .. })
    ));
    assert!(matches!(blobs.put_chunk(&name, "d1", 0, b"").await, Err(BlobError::BadChunk { .. })));
    assert!(matches!(blobs.put_chunk(&name, "d1", 64, b"x").await, Err(BlobError::BadChunk { .. })), "beyond 64 MiB");
    // A chunk of the wrong length in the middle is named, whatever its content.
    let bytes = photo(CHUNK_BYTES + 5, 2);
    let name = sha(&bytes);
    blobs.put_chunk(&name, "d1", 0, &bytes[..CHUNK_BYTES - 1]).await.unwrap();
    blobs.put_chunk(&name, "d1", 1, &bytes[CHUNK_BYTES..]).await.unwrap();
    assert!(matches!(blobs.complete(&name, "d1", bytes.len() as u64).await, Err(BlobError::BadChunk { index: 0 })));
    assert!(!blobs.has(&name).await.unwrap());
}

async fn a_planted_chunk_does_not_touch_the_owners_upload(blobs: impl BlobStorage) {
    let photo = b"the owner's photo".to_vec();
    let name = sha(&photo);
    blobs.put_chunk(&name, "attacker", 0, b"poison!!!!!!!!!!!").await.unwrap();
    blobs.put_chunk(&name, "owner", 0, &photo).await.unwrap();
    blobs.complete(&name, "owner", photo.len() as u64).await.unwrap();
    assert_eq!(blobs.read(&name, 0, photo.len() as u64).await.unwrap(), photo);
    // The attacker's own completion is checked against the hash and fails, changing nothing.
    assert!(matches!(blobs.complete(&name, "attacker", 17).await, Err(BlobError::HashMismatch { .. })));
    assert_eq!(blobs.read(&name, 0, photo.len() as u64).await.unwrap(), photo);
    // A device name made to climb out of its folder, or to look like another, stays its own.
    for other in ["../owner", "own/er", "owner/"] {
        blobs.put_chunk(&name, other, 0, b"climb").await.unwrap();
        assert!(blobs.chunks(&name, "owner").await.unwrap().is_empty(), "{other}");
        assert_eq!(blobs.chunks(&name, other).await.unwrap(), vec![0], "{other}");
    }
}

async fn unfinished_uploads_count_against_the_quota_and_expire(blobs: impl BlobStorage) {
    let chunk = vec![7u8; CHUNK_BYTES];
    blobs.put_chunk(&sha(b"a"), "d1", 0, &chunk).await.unwrap();
    blobs.put_chunk(&sha(b"b"), "d1", 0, &chunk).await.unwrap();
    blobs.put_chunk(&sha(b"b"), "d1", 0, &chunk).await.unwrap(); // a resend is not counted twice
    assert!(matches!(blobs.put_chunk(&sha(b"c"), "d1", 0, &chunk).await, Err(BlobError::QuotaExceeded { .. })));
    blobs.put_chunk(&sha(b"c"), "d2", 0, &chunk).await.unwrap(); // each device has its own quota
    assert_eq!(blobs.expire().await.unwrap(), 0, "nothing is old yet");
    // Expiry is one second; S3 stamps objects to the second.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(blobs.expire().await.unwrap(), 3);
    assert!(blobs.chunks(&sha(b"a"), "d1").await.unwrap().is_empty());
    blobs.put_chunk(&sha(b"c"), "d1", 0, &chunk).await.unwrap(); // room again
}

async fn two_devices_completing_one_photo_at_once_both_succeed_with_one_blob(blobs: impl BlobStorage) {
    let bytes = photo(CHUNK_BYTES + 333, 3);
    let name = sha(&bytes);
    for device in ["d1", "d2"] {
        for (i, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
            blobs.put_chunk(&name, device, i as u32, chunk).await.unwrap();
        }
    }
    let size = bytes.len() as u64;
    let (a, b) = tokio::join!(blobs.complete(&name, "d1", size), blobs.complete(&name, "d2", size));
    a.unwrap();
    b.unwrap();
    assert_eq!(blobs.read(&name, 0, size).await.unwrap(), bytes);
    assert!(blobs.chunks(&name, "d1").await.unwrap().is_empty() && blobs.chunks(&name, "d2").await.unwrap().is_empty());
}

async fn ranged_reads_return_exactly_the_range_and_refuse_beyond_it(blobs: impl BlobStorage) {
    let bytes = photo(CHUNK_BYTES + 4096, 4);
    let name = sha(&bytes);
    for (i, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
        blobs.put_chunk(&name, "d1", i as u32, chunk).await.unwrap();
    }
    blobs.complete(&name, "d1", bytes.len() as u64).await.unwrap();
    let size = bytes.len() as u64;
    for (offset, len) in [(0, 1), (5, 10), (CHUNK_BYTES as u64 - 3, 10), (size - 1, 1), (size, 0)] {
        let got = blobs.read(&name, offset, len).await.unwrap();
        assert_eq!(got, bytes[offset as usize..(offset + len) as usize].to_vec(), "{offset}+{len}");
    }
    assert!(matches!(blobs.read(&name, size - 1, 2).await, Err(BlobError::BadRange)));
    assert!(matches!(blobs.read(&name, size + 1, 0).await, Err(BlobError::BadRange)));
    assert!(matches!(blobs.read(&name, u64::MAX, 2).await, Err(BlobError::BadRange)));
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_named_and_nothing_is_written() {
    let server = S3Server::start();
    let mut c = config(&server, "evidence", "");
    c.bucket = "no-such-bucket".into();
    let err = S3Blobs::connect(&c, UploadLimits::default()).await.err().unwrap();
    assert!(matches!(err, BlobError::BucketMissing(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no-such-bucket") && message.contains("没有这个桶"), "{message}");
    assert!(!server.folder().join("no-such-bucket").exists(), "the store was not changed");
}

#[tokio::test]
async fn wrong_credentials_are_refused_without_printing_the_secret() {
    let server = S3Server::start();
    let mut c = config(&server, "evidence", "");
    c.secret_access_key = Some("not-the-secret".into());
    let err = S3Blobs::connect(&c, UploadLimits::default()).await.err().unwrap();
    assert!(matches!(err, BlobError::StoreDenied(_)), "{err:?}");
    assert!(!err.to_string().contains("not-the-secret") && !format!("{c:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn an_unreachable_store_is_named_within_seconds() {
    let mut server = S3Server::start();
    let c = config(&server, "evidence", "");
    server.kill();
    let started = std::time::Instant::now();
    let err = S3Blobs::connect(&c, UploadLimits::default()).await.err().unwrap();
    assert!(matches!(err, BlobError::StoreUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&server.endpoint), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "bounded retries, not minutes");
}

#[test]
fn a_blobs_address_that_is_not_s3_bucket_prefix_is_refused() {
    for bad in ["file:///tmp/x", "s3://", "s3://Upper/x", "s3://ab", "s3://b/../x", "s3://bucket/a//b"] {
        assert!(matches!(S3Config::parse(bad), Err(BlobError::BlobsUrl(_))), "{bad}");
    }
    let c = S3Config::parse("s3://evidence/city/330482/").unwrap();
    assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("evidence", "city/330482"));
}
