//! The tenant's CA: its key (sealed under the server's key file), certificates and revocation lists.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use onevisit_core::certificate::{
    CERTIFICATE_SCHEMA, DeviceCertificate, REVOCATION_SCHEMA, RevocationList, SignedCertificate, SignedRevocationList,
};
use onevisit_core::identity::{DeviceKey, KeyError, KeyFileWrapper};

use crate::storage::{Storage, StorageError, TenantRecord};

/// How long a device certificate is valid: one year.
pub const CERTIFICATE_VALIDITY_MS: i64 = 365 * 24 * 3600 * 1000;

/// Why the CA cannot act.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The CA key cannot be unlocked.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A certificate could not be encoded (a bug).
    #[error(transparent)]
    Canonical(#[from] onevisit_core::canonical::CanonicalError),
}

/// The unlocked tenant CA.
pub struct Tenant {
    /// The tenant identifier.
    pub id: String,
    ca: DeviceKey,
}

impl Tenant {
    /// Creates the tenant and its CA key, sealed under `<data>/ca.key` (created if missing).
    pub async fn init<S: Storage>(storage: &S, data: &Path, id: &str) -> Result<Tenant, TenantError> {
        // Refused before the key file is written: a second init leaves nothing behind.
        if storage.tenant().await?.is_some() {
            return Err(StorageError::TenantExists.into());
        }
        let wrapper = KeyFileWrapper::load_or_create(&data.join("ca.key"))?;
        let ca = DeviceKey::generate();
        let record = TenantRecord {
            tenant: id.to_string(),
            ca_public_key: ca.public_bytes(),
            sealed_ca_seed: ca.seal(&wrapper)?,
        };
        storage.init_tenant(record).await?;
        Ok(Tenant { id: id.to_string(), ca })
    }

    /// Unlocks the tenant's CA key.
    pub async fn open<S: Storage>(storage: &S, data: &Path) -> Result<Tenant, TenantError> {
        let record = storage.tenant().await?.ok_or(StorageError::NoTenant)?;
        let wrapper = KeyFileWrapper::load(&data.join("ca.key"))?;
        let ca = DeviceKey::unseal(&record.sealed_ca_seed, &wrapper, &record.ca_public_key)?;
        Ok(Tenant { id: record.tenant, ca })
    }

    /// The root public key every device and receiving agency trusts.
    pub fn root_public_key(&self) -> [u8; 32] {
        self.ca.public_bytes()
    }

    /// The root public key, parsed.
    pub fn root_key(&self) -> VerifyingKey {
        self.ca.verifying_key()
    }

    /// Issues a certificate for a device key.
    pub fn certify(
        &self,
        serial: u64,
        device_public_key: [u8; 32],
        inspector: &str,
        departments: Vec<String>,
        now_ms: i64,
    ) -> Result<SignedCertificate, TenantError> {
        let certificate = DeviceCertificate {
            schema: CERTIFICATE_SCHEMA.into(),
            serial: serial.to_string(),
            tenant: self.id.clone(),
            device: onevisit_core::identity::device_id_of(&device_public_key),
            device_public_key: hex::encode(device_public_key),
            inspector: inspector.to_string(),
            departments,
            not_before_ms: now_ms,
            not_after_ms: now_ms + CERTIFICATE_VALIDITY_MS,
            issuer_public_key: hex::encode(self.ca.public_bytes()),
        };
        Ok(SignedCertificate::issue(&certificate, &self.ca)?)
    }

    /// Signs a 双随机 draw record.
    pub fn sign_draw(
        &self,
        record: &onevisit_core::draw::DrawRecord,
        pool: onevisit_core::draw::PoolSnapshot,
    ) -> Result<onevisit_core::draw::SignedDrawRecord, onevisit_core::canonical::CanonicalError> {
        onevisit_core::draw::SignedDrawRecord::issue(record, pool, &self.ca)
    }

    /// A secret only the holder of the root key can compute: SHA-256 of the root's (deterministic)
    /// Ed25519 signature over `label`. Draw seeds come from it, so that nothing secret is stored.
    pub fn derive_secret(&self, label: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.ca.sign(label).to_bytes()).into()
    }

    /// The CA key, for issuing the server's own TLS certificate under the root (crate::tls).
    pub(crate) fn ca_key(&self) -> &DeviceKey {
        &self.ca
    }

    /// The Automerge actor of documents the server itself creates (planned tasks).
    pub fn actor(&self) -> automerge::ActorId {
        self.ca.actor_id()
    }

    /// Signs a statement (receipt, checkpoint) with the tenant key.
    pub fn sign<T: serde::Serialize>(
        &self,
        value: &T,
    ) -> Result<onevisit_core::sync::wire::SignedStatement, onevisit_core::canonical::CanonicalError> {
        onevisit_core::sync::statements::sign_statement(value, &self.ca)
    }

    /// Signs the current revocation list.
    pub async fn revocation_list<S: Storage>(
        &self,
        storage: &S,
        now_ms: i64,
    ) -> Result<SignedRevocationList, TenantError> {
        let list = self.revocations(storage.revocations().await?, now_ms);
        Ok(SignedRevocationList::issue(&list, &self.ca)?)
    }

    /// The revocation list of `revoked` as this CA issues it at `now_ms` (unsigned: the server
    /// checks signers against it itself).
    pub fn revocations(&self, revoked: Vec<onevisit_core::certificate::Revocation>, now_ms: i64) -> RevocationList {
        RevocationList {
            schema: REVOCATION_SCHEMA.into(),
            tenant: self.id.clone(),
            issued_at_ms: now_ms,
            revoked,
            issuer_public_key: hex::encode(self.ca.public_bytes()),
        }
    }
}
