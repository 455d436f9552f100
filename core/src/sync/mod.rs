//! Device ↔ city server sync (docs/sync-protocol.md): the wire messages both sides share, the
//! server's signed statements, the audit Merkle tree, and the device's sync engine.

pub mod client;
pub mod engine;
pub mod enrolment_link;
pub mod merkle;
pub mod statements;
pub mod transport;
pub mod wire;

pub use client::{CancelToken, ClientError, RetryCause, RetryPolicy, SyncClient};
pub use engine::{
    PhotoFetch, Progress, SyncError, SyncOptions, SyncReport, audit_proofs, enrol, enrol_with, fetch_blob,
    fetch_missing_photos, sync,
};
pub use transport::{TlsTrust, TransportError, TransportPolicy};
