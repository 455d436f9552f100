//! The OneVisit city sync server as a library: storage behind traits (SQLite and files by
//! default), the tenant CA, enrolment and request authentication, the sync protocol
//! (docs/sync-protocol.md) over HTTP, planning and 双随机 draws, and an embedded server for one process.

pub mod api;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod certificates;
pub mod console;
pub mod draws;
pub mod embedded;
pub mod enterprise_file;
pub mod followups;
pub mod http;
pub mod listener;
pub mod numbers;
pub mod records;
pub mod reports;
pub mod seals;
pub mod storage;
pub mod tasks;
pub mod tenant;
pub mod throttle;
pub mod tls;

/// A one-time enrolment code: 12 Crockford-base32 characters (60 random bits).
pub fn enrolment_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut raw = [0u8; 12];
    onevisit_core::random::fill(&mut raw);
    raw.iter().map(|b| ALPHABET[(b & 31) as usize] as char).collect()
}
