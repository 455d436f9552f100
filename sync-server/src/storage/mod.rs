//! Server storage behind a trait, so that the protocol layer never assumes SQLite: the embedded
//! default is [`sqlite::SqliteStorage`]; PostgreSQL comes next behind the same trait.

pub mod sqlite;

use std::future::Future;

use onevisit_core::certificate::Revocation;
use serde::{Deserialize, Serialize};

/// Why storage failed or refused.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed.
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The tenant has not been initialised.
    #[error("the tenant is not initialised (run onevisit-server init)")]
    NoTenant,
    /// The tenant exists already.
    #[error("the tenant is already initialised")]
    TenantExists,
    /// No such enrolment code.
    #[error("unknown enrolment code")]
    UnknownCode,
    /// The code was used already.
    #[error("the enrolment code was already used")]
    CodeUsed,
    /// The code expired.
    #[error("the enrolment code expired")]
    CodeExpired,
    /// No such device.
    #[error("unknown device {0}")]
    UnknownDevice(String),
    /// The device is enrolled already.
    #[error("device {0} is already enrolled")]
    DeviceExists(String),
}

/// The tenant's identity and CA key (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant identifier (e.g. 330482).
    pub tenant: String,
    /// The CA public key.
    pub ca_public_key: [u8; 32],
    /// The CA seed, sealed under the server's key file.
    pub sealed_ca_seed: Vec<u8>,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device identifier.
    pub device: String,
    /// Public key.
    pub public_key: [u8; 32],
    /// The inspector operating it.
    pub inspector: String,
    /// The signed certificate (JSON of `SignedCertificate`).
    pub certificate: String,
    /// The certificate's serial.
    pub serial: String,
    /// The short code in its document numbers, unique in the tenant.
    pub device_code: String,
}

/// What the server keeps. Every method is one atomic operation.
pub trait Storage: Send + Sync + 'static {
    /// The tenant, if initialised.
    fn tenant(&self) -> impl Future<Output = Result<Option<TenantRecord>, StorageError>> + Send;
    /// Initialises the tenant once.
    fn init_tenant(&self, tenant: TenantRecord) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Replaces the directory data (JSON).
    fn put_directory(&self, json: String) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// The directory data (JSON), if imported.
    fn directory(&self) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
    /// Stores a one-time enrolment code (by hash) for an inspector.
    fn create_enrolment(
        &self,
        code_sha256: String,
        inspector: String,
        expires_ms: i64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Uses an enrolment code (once) and registers the device it enrols, atomically.
    fn enrol(
        &self,
        code_sha256: String,
        now_ms: i64,
        device: DeviceRecord,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// The inspector an unused, unexpired code is for (no side effect).
    fn enrolment_inspector(
        &self,
        code_sha256: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<String, StorageError>> + Send;
    /// An enrolled device.
    fn device(&self, device: String) -> impl Future<Output = Result<Option<DeviceRecord>, StorageError>> + Send;
    /// The next certificate serial.
    fn next_serial(&self) -> impl Future<Output = Result<u64, StorageError>> + Send;
    /// Revokes a device's certificate from `at_ms` on.
    fn revoke(
        &self,
        device: String,
        reason: String,
        at_ms: i64,
    ) -> impl Future<Output = Result<Revocation, StorageError>> + Send;
    /// Every revocation.
    fn revocations(&self) -> impl Future<Output = Result<Vec<Revocation>, StorageError>> + Send;
    /// Records a request nonce; false if it was seen before (a replay). Forgets nonces older than `horizon_ms`.
    fn remember_nonce(
        &self,
        device: String,
        nonce: String,
        at_ms: i64,
        horizon_ms: i64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}
