//! Device certificates verified once per process: the root's signature over a stored certificate
//! is checked the first time a device is seen, then only its validity period on each request.
//! The entry is used only while the stored certificate and key are byte for byte the ones
//! verified, and revocation is read from storage on every request, so across replicas nothing
//! here can outlive a change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ed25519_dalek::VerifyingKey;
use onevisit_core::certificate::{CertificateError, DeviceCertificate, SignedCertificate};

use crate::storage::DeviceRecord;

/// Devices remembered at most (about 1 KiB each); past it the map starts again empty.
const MAX_DEVICES: usize = 16_384;

/// Why a stored device could not be trusted.
#[derive(Debug, thiserror::Error)]
pub enum StoredCertificateError {
    /// The stored certificate is not JSON of a signed certificate, or the stored key is invalid.
    #[error("存储的设备证书或公钥无法解析")]
    Malformed,
    /// The certificate names another key or inspector than the stored device.
    #[error("存储的设备证书与设备记录不符（公钥或执法人员不同）")]
    Mismatch,
    /// The certificate does not verify under the root, or is outside its validity period.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

/// A verified device: its certificate and its parsed public key.
pub struct VerifiedDevice {
    /// The certificate the root issued.
    pub certificate: DeviceCertificate,
    /// The device's request-signing key.
    pub key: VerifyingKey,
}

struct Entry {
    stored_certificate: String,
    public_key: [u8; 32],
    verified: Arc<VerifiedDevice>,
}

/// The cache of verified device certificates under one root.
pub struct VerifiedCertificates {
    root: VerifyingKey,
    entries: Mutex<HashMap<String, Entry>>,
}

impl VerifiedCertificates {
    /// An empty cache for certificates issued by `root`.
    pub fn new(root: VerifyingKey) -> VerifiedCertificates {
        VerifiedCertificates { root, entries: Mutex::new(HashMap::new()) }
    }

    /// The device's certificate, verified under the root (now or earlier, for the same stored
    /// bytes) and valid at `at_ms`, with its key.
    pub fn verify(&self, device: &DeviceRecord, at_ms: i64) -> Result<Arc<VerifiedDevice>, StoredCertificateError> {
        let known = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .get(&device.device)
                .filter(|e| e.stored_certificate == device.certificate && e.public_key == device.public_key)
                .map(|e| e.verified.clone())
        };
        if let Some(verified) = known {
            verified.certificate.check_valid_at(at_ms)?;
            names(&verified.certificate, device)?;
            return Ok(verified);
        }
        let signed: SignedCertificate =
            serde_json::from_str(&device.certificate).map_err(|_| StoredCertificateError::Malformed)?;
        let certificate = signed.verify(&self.root, at_ms, None)?;
        names(&certificate, device)?;
        let key = VerifyingKey::from_bytes(&device.public_key).map_err(|_| StoredCertificateError::Malformed)?;
        let verified = Arc::new(VerifiedDevice { certificate, key });
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_DEVICES {
            entries.clear();
        }
        entries.insert(
            device.device.clone(),
            Entry {
                stored_certificate: device.certificate.clone(),
                public_key: device.public_key,
                verified: verified.clone(),
            },
        );
        Ok(verified)
    }
}

/// Whether the certificate names the stored device's key and inspector.
fn names(certificate: &DeviceCertificate, device: &DeviceRecord) -> Result<(), StoredCertificateError> {
    if certificate.device_public_key != hex::encode(device.public_key) || certificate.inspector != device.inspector {
        return Err(StoredCertificateError::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use onevisit_core::certificate::DeviceCertificate;
    use onevisit_core::identity::DeviceKey;

    use super::*;

    fn device(root: &DeviceKey, key: &DeviceKey, not_after_ms: i64) -> DeviceRecord {
        let certificate = DeviceCertificate {
            schema: onevisit_core::certificate::CERTIFICATE_SCHEMA.into(),
            tenant: "330482".into(),
            serial: "1".into(),
            device: key.device_id(),
            device_public_key: hex::encode(key.public_bytes()),
            inspector: "scjg-01".into(),
            departments: vec!["scjg".into()],
            not_before_ms: 0,
            not_after_ms,
            issuer_public_key: hex::encode(root.public_bytes()),
        };
        let signed = SignedCertificate::issue(&certificate, root).unwrap();
        DeviceRecord {
            device: key.device_id(),
            public_key: key.public_bytes(),
            inspector: "scjg-01".into(),
            certificate: serde_json::to_string(&signed).unwrap(),
            serial: "1".into(),
            device_code: "X".into(),
        }
    }

    #[test]
    fn a_remembered_certificate_still_expires() {
        let (root, key) = (DeviceKey::generate(), DeviceKey::generate());
        let cache = VerifiedCertificates::new(root.verifying_key());
        let record = device(&root, &key, 10_000);
        assert!(cache.verify(&record, 5_000).is_ok());
        let late = cache.verify(&record, 10_001);
        assert!(matches!(late, Err(StoredCertificateError::Certificate(CertificateError::Expired { .. }))));
    }

    #[test]
    fn a_certificate_swapped_in_storage_is_verified_again() {
        let (root, key, forger) = (DeviceKey::generate(), DeviceKey::generate(), DeviceKey::generate());
        let cache = VerifiedCertificates::new(root.verifying_key());
        let honest = device(&root, &key, 10_000);
        assert!(cache.verify(&honest, 5_000).is_ok());
        // Someone with write access to the database swaps in a certificate of another issuer,
        // then a longer-lived one of the same device: neither rides on the remembered check.
        let forged = DeviceRecord { certificate: device(&forger, &key, 99_000).certificate, ..honest.clone() };
        assert!(cache.verify(&forged, 5_000).is_err());
        // A stored key or inspector the certificate does not name: the certificate vouches for
        // someone else, so the request key is not trusted.
        let other_key = DeviceRecord { public_key: forger.public_bytes(), ..honest.clone() };
        assert!(matches!(cache.verify(&other_key, 5_000), Err(StoredCertificateError::Mismatch)));
        let other_inspector = DeviceRecord { inspector: "xfjy-02".into(), ..honest.clone() };
        assert!(matches!(cache.verify(&other_inspector, 5_000), Err(StoredCertificateError::Mismatch)));
        assert!(cache.verify(&honest, 5_000).is_ok(), "the honest record still passes");
        let garbage = DeviceRecord { certificate: "{".into(), ..honest };
        assert!(matches!(cache.verify(&garbage, 5_000), Err(StoredCertificateError::Malformed)));
    }
}
