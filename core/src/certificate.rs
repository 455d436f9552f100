//! Device certificates and revocation lists, issued by a tenant's CA key (the city server).
//!
//! A certificate binds a device key to an inspector and their departments for a period; a
//! revocation list names revoked certificates and since when. Both are canonical JSON signed with
//! the CA key, verifiable offline with only the tenant's root public key.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::canonical::CanonicalError;
use crate::identity::DeviceKey;
use crate::signed::{Issued, IssuedError, SignedJsonError};

/// The schema tag of device certificates.
pub const CERTIFICATE_SCHEMA: &str = "onevisit.device-certificate.v1";
/// The schema tag of revocation lists.
pub const REVOCATION_SCHEMA: &str = "onevisit.revocation-list.v1";

/// What the tenant CA asserts about a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertificate {
    /// Always [`CERTIFICATE_SCHEMA`].
    pub schema: String,
    /// Unique serial number within the tenant.
    pub serial: String,
    /// The tenant (e.g. 330482 for Pinghu).
    pub tenant: String,
    /// The device identifier.
    pub device: String,
    /// The device's Ed25519 public key (hex).
    pub device_public_key: String,
    /// The inspector operating the device.
    pub inspector: String,
    /// The inspector's departments.
    pub departments: Vec<String>,
    /// Valid from (ms since the Unix epoch).
    pub not_before_ms: i64,
    /// Valid until (ms since the Unix epoch).
    pub not_after_ms: i64,
    /// The CA public key that signed it (hex).
    pub issuer_public_key: String,
}

/// A certificate as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCertificate {
    /// Canonical JSON of the [`DeviceCertificate`].
    pub canonical: String,
    /// Ed25519 signature (hex) by the CA key.
    pub signature: String,
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The certificate's serial.
    pub serial: String,
    /// The device.
    pub device: String,
    /// Revoked from this time on (ms since the Unix epoch); signatures made before stay valid.
    pub revoked_at_ms: i64,
    /// Why, for the record.
    pub reason: String,
}

/// The tenant's list of revoked certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// Always [`REVOCATION_SCHEMA`].
    pub schema: String,
    /// The tenant.
    pub tenant: String,
    /// When the list was issued; a newer list replaces an older one.
    pub issued_at_ms: i64,
    /// The revoked certificates.
    pub revoked: Vec<Revocation>,
    /// The CA public key that signed it (hex).
    pub issuer_public_key: String,
}

/// A revocation list as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRevocationList {
    /// Canonical JSON of the [`RevocationList`].
    pub canonical: String,
    /// Ed25519 signature (hex) by the CA key.
    pub signature: String,
}

/// Why a certificate or revocation list is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Malformed or not canonical.
    #[error("证书格式错误")]
    Malformed,
    /// Signed by a key other than the tenant's root.
    #[error("证书不是本地执法平台签发的（根公钥不同）")]
    UnknownIssuer,
    /// The signature does not verify.
    #[error("证书签名验证不通过")]
    BadSignature,
    /// Not valid yet at the time asked about.
    #[error("证书自 {}（北京时间）起才有效", crate::beijing::date_time(*.not_before_ms))]
    NotYetValid {
        /// Start of validity (ms since the epoch).
        not_before_ms: i64,
    },
    /// Expired at the time asked about.
    #[error("证书已于 {}（北京时间）过期", crate::beijing::date_time(*.not_after_ms))]
    Expired {
        /// End of validity (ms since the epoch).
        not_after_ms: i64,
    },
    /// Revoked at or before the time asked about.
    #[error("证书 {serial} 已于 {}（北京时间）吊销：{reason}", crate::beijing::date_time(*.revoked_at_ms))]
    Revoked {
        /// The certificate's serial.
        serial: String,
        /// When it was revoked (ms since the epoch).
        revoked_at_ms: i64,
        /// The administrator's reason.
        reason: String,
    },
    /// The revocation list is for another tenant.
    #[error("吊销列表属于另一个执法平台")]
    WrongTenant,
}

fn from_issued(e: IssuedError) -> CertificateError {
    match e {
        IssuedError::Signature(SignedJsonError::BadSignature) => CertificateError::BadSignature,
        IssuedError::Signature(_) | IssuedError::WrongSchema(_) => CertificateError::Malformed,
        IssuedError::WrongIssuer => CertificateError::UnknownIssuer,
    }
}

impl DeviceCertificate {
    /// Whether the certificate is within its validity period at `at_ms` (its issuer checked
    /// separately, e.g. once when first seen).
    pub fn check_valid_at(&self, at_ms: i64) -> Result<(), CertificateError> {
        if at_ms < self.not_before_ms {
            return Err(CertificateError::NotYetValid { not_before_ms: self.not_before_ms });
        }
        if at_ms > self.not_after_ms {
            return Err(CertificateError::Expired { not_after_ms: self.not_after_ms });
        }
        Ok(())
    }
}

impl SignedCertificate {
    /// Signs a certificate with the CA key (its `issuer_public_key` must be the CA's).
    pub fn issue(certificate: &DeviceCertificate, ca: &DeviceKey) -> Result<SignedCertificate, CanonicalError> {
        let (canonical, signature) = crate::signed::sign(certificate, ca)?;
        Ok(SignedCertificate { canonical, signature })
    }

    /// Verifies the certificate against the tenant root key, its validity at `at_ms`, and, if
    /// given, a verified revocation list (revoked at or before `at_ms` means refused).
    pub fn verify(
        &self,
        root: &VerifyingKey,
        at_ms: i64,
        revocations: Option<&RevocationList>,
    ) -> Result<DeviceCertificate, CertificateError> {
        let certificate = self.verify_issued(root)?;
        certificate.check_valid_at(at_ms)?;
        if let Some(list) = revocations {
            if list.tenant != certificate.tenant {
                return Err(CertificateError::WrongTenant);
            }
            if let Some(r) = list.revoked.iter().find(|r| r.serial == certificate.serial && r.revoked_at_ms <= at_ms) {
                return Err(CertificateError::Revoked {
                    serial: r.serial.clone(),
                    revoked_at_ms: r.revoked_at_ms,
                    reason: r.reason.clone(),
                });
            }
        }
        Ok(certificate)
    }

    /// Verifies only that the root issued this certificate (signature, schema, issuer), whatever
    /// the time: validity and revocation are then checked against each signing time.
    pub fn verify_issued(&self, root: &VerifyingKey) -> Result<DeviceCertificate, CertificateError> {
        crate::signed::verify_issued(&self.canonical, &self.signature, root).map_err(from_issued)
    }

    /// The device's public key, once the certificate has been verified.
    pub fn device_key(certificate: &DeviceCertificate) -> Result<VerifyingKey, CertificateError> {
        crate::identity::verifying_key_from_hex(&certificate.device_public_key).ok_or(CertificateError::Malformed)
    }
}

impl SignedRevocationList {
    /// Signs a revocation list with the CA key.
    pub fn issue(list: &RevocationList, ca: &DeviceKey) -> Result<SignedRevocationList, CanonicalError> {
        let (canonical, signature) = crate::signed::sign(list, ca)?;
        Ok(SignedRevocationList { canonical, signature })
    }

    /// Verifies the list against the tenant root key.
    pub fn verify(&self, root: &VerifyingKey) -> Result<RevocationList, CertificateError> {
        crate::signed::verify_issued(&self.canonical, &self.signature, root).map_err(from_issued)
    }
}

impl Issued for DeviceCertificate {
    const SCHEMA: &'static str = CERTIFICATE_SCHEMA;
    fn schema(&self) -> &str {
        &self.schema
    }
    fn issuer_public_key(&self) -> &str {
        &self.issuer_public_key
    }
}

impl Issued for RevocationList {
    const SCHEMA: &'static str = REVOCATION_SCHEMA;
    fn schema(&self) -> &str {
        &self.schema
    }
    fn issuer_public_key(&self) -> &str {
        &self.issuer_public_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(ca: &DeviceKey, device: &DeviceKey) -> DeviceCertificate {
        DeviceCertificate {
            schema: CERTIFICATE_SCHEMA.into(),
            serial: "1".into(),
            tenant: "330482".into(),
            device: device.device_id(),
            device_public_key: hex::encode(device.public_bytes()),
            inspector: "scjg-01".into(),
            departments: vec!["scjg".into()],
            not_before_ms: 1_000,
            not_after_ms: 10_000,
            issuer_public_key: hex::encode(ca.public_bytes()),
        }
    }

    fn revocations(ca: &DeviceKey, at: i64) -> RevocationList {
        RevocationList {
            schema: REVOCATION_SCHEMA.into(),
            tenant: "330482".into(),
            issued_at_ms: at,
            revoked: vec![Revocation {
                serial: "1".into(),
                device: "d".into(),
                revoked_at_ms: at,
                reason: "设备遗失".into(),
            }],
            issuer_public_key: hex::encode(ca.public_bytes()),
        }
    }

    #[test]
    fn a_certificate_verifies_with_the_root_within_its_validity() {
        let (ca, device) = (DeviceKey::generate(), DeviceKey::generate());
        let signed = SignedCertificate::issue(&certificate(&ca, &device), &ca).unwrap();
        let cert = signed.verify(&ca.verifying_key(), 5_000, None).unwrap();
        assert_eq!(SignedCertificate::device_key(&cert).unwrap(), device.verifying_key());
        assert_eq!(
            signed.verify(&ca.verifying_key(), 500, None),
            Err(CertificateError::NotYetValid { not_before_ms: 1_000 })
        );
        assert_eq!(
            signed.verify(&ca.verifying_key(), 10_001, None),
            Err(CertificateError::Expired { not_after_ms: 10_000 })
        );
    }

    #[test]
    fn a_certificate_from_another_ca_or_altered_is_refused() {
        let (ca, rogue, device) = (DeviceKey::generate(), DeviceKey::generate(), DeviceKey::generate());
        let rogue_cert = SignedCertificate::issue(&certificate(&rogue, &device), &rogue).unwrap();
        assert_eq!(rogue_cert.verify(&ca.verifying_key(), 5_000, None), Err(CertificateError::UnknownIssuer));
        let mut signed = SignedCertificate::issue(&certificate(&ca, &device), &ca).unwrap();
        signed.canonical = signed.canonical.replace("scjg-01", "scjg-02");
        assert_eq!(signed.verify(&ca.verifying_key(), 5_000, None), Err(CertificateError::BadSignature));
    }

    #[test]
    fn revocation_applies_from_its_time_on() {
        let (ca, device) = (DeviceKey::generate(), DeviceKey::generate());
        let signed = SignedCertificate::issue(&certificate(&ca, &device), &ca).unwrap();
        let list = SignedRevocationList::issue(&revocations(&ca, 6_000), &ca).unwrap();
        let list = list.verify(&ca.verifying_key()).unwrap();
        assert!(
            signed.verify(&ca.verifying_key(), 5_999, Some(&list)).is_ok(),
            "a signature made before revocation stays valid"
        );
        assert!(matches!(
            signed.verify(&ca.verifying_key(), 6_000, Some(&list)),
            Err(CertificateError::Revoked { .. })
        ));
        let rogue = DeviceKey::generate();
        let forged = SignedRevocationList::issue(&revocations(&rogue, 1), &rogue).unwrap();
        assert_eq!(forged.verify(&ca.verifying_key()), Err(CertificateError::UnknownIssuer));
    }
}
