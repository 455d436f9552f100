//! The task code shown on site (亮码检查): a compact token signed by the issuing device, which the
//! enterprise scans and verifies offline — "no code, no inspection".
//!
//! Forms: `OV1.<base64url(canonical JSON claims)>.<base64url(Ed25519 signature over those bytes)>`,
//! checked with the issuing device's key; and `OV2.<claims>.<signature>.<base64url(the device's
//! certificate)>.<base64url(its root signature)>`, which carries the issuing device's certificate so
//! that the party checks it with nothing but the tenant's published root key
//! ([`verify_with_root`]): no store, no device key to obtain.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, to_canonical_json};
use crate::identity::DeviceKey;

/// The token's prefix and format version.
pub const PREFIX: &str = "OV1";

/// The prefix of a token that carries its issuing device's certificate.
pub const PREFIX_CERTIFIED: &str = "OV2";

/// What the token asserts. Short keys keep the QR code small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskClaims {
    /// The task code.
    #[serde(rename = "c")]
    pub code: String,
    /// The enterprise's USCC.
    #[serde(rename = "e")]
    pub uscc: String,
    /// The inspectors: `[name, certificate number]`.
    #[serde(rename = "i")]
    pub inspectors: Vec<(String, String)>,
    /// The inspection matters.
    #[serde(rename = "m")]
    pub matters: Vec<String>,
    /// Valid from (ms since the Unix epoch).
    #[serde(rename = "nbf")]
    pub not_before_ms: i64,
    /// Valid until (ms since the Unix epoch).
    #[serde(rename = "exp")]
    pub expires_ms: i64,
    /// The issuing device.
    #[serde(rename = "iss")]
    pub issuer: String,
}

/// Why a token is not accepted (the messages are what the inspected party reads).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a OneVisit task code token.
    #[error("无效：这不是综合查一次的检查码")]
    Malformed,
    /// The signature does not verify under the issuer's key: the claims were altered after issue,
    /// or the key given is not the issuing device's.
    #[error("无效：检查码的签名与签发设备不符（内容被改动，或所给的不是签发设备的公钥）")]
    BadSignature,
    /// Past its validity window.
    #[error("已过期：检查码有效期至 {}（北京时间）", crate::beijing::date_time(*expired_at_ms))]
    Expired {
        /// When it expired (ms since the epoch).
        expired_at_ms: i64,
    },
    /// Before its validity window.
    #[error("尚未生效：检查码自 {}（北京时间）起有效", crate::beijing::date_time(*valid_from_ms))]
    NotYetValid {
        /// When it becomes valid (ms since the epoch).
        valid_from_ms: i64,
    },
    /// An `OV1` token carries no certificate: only the issuing device's key can check it.
    #[error("无法只凭根公钥核验：这是旧格式的检查码（OV1），不含签发设备的证书，请执法人员重新出示检查码")]
    NoCertificate,
    /// The issuing device's certificate is not signed by the root key given: another tenant's root
    /// key was used, or the certificate is not genuine.
    #[error("无效：签发设备的证书不是由所给根公钥签发的（请核对是否使用了本地执法平台公布的根公钥）")]
    UntrustedIssuer,
    /// The issuing device's certificate was not valid at that time.
    #[error("无效：签发设备的证书在核验时间不在有效期内")]
    IssuerCertificateExpired,
    /// Too long for a QR code.
    #[error("检查码太长，无法生成二维码")]
    TooLongForQr,
    /// The validity window ends before it starts.
    #[error("有效期的结束早于开始")]
    InvertedWindow,
}

/// A task code checked with the tenant root: what it asserts and which certified device issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedTaskCode {
    /// What the token asserts.
    pub claims: TaskClaims,
    /// The inspector the issuing device is certified for.
    pub issuer_inspector: String,
    /// The issuing device.
    pub issuer_device: String,
}

/// Signs `claims` into a token.
pub fn issue(claims: &TaskClaims, key: &DeviceKey) -> Result<String, TokenIssueError> {
    if claims.expires_ms < claims.not_before_ms {
        return Err(TokenIssueError::Token(TokenError::InvertedWindow));
    }
    let bytes = to_canonical_json(claims)?;
    let signature = key.sign(&bytes);
    Ok(format!("{PREFIX}.{}.{}", B64.encode(&bytes), B64.encode(signature.to_bytes())))
}

/// Signs `claims` into an `OV2` token that carries `certificate` (this device's, issued by the
/// tenant root), so that anyone holding the root key can check it offline.
pub fn issue_certified(
    claims: &TaskClaims,
    key: &DeviceKey,
    certificate: &crate::certificate::SignedCertificate,
) -> Result<String, TokenIssueError> {
    let signed = issue(claims, key)?;
    let body = signed.strip_prefix(PREFIX).unwrap_or(&signed);
    let root_signature = hex::decode(&certificate.signature).map_err(|_| TokenIssueError::Certificate)?;
    Ok(format!(
        "{PREFIX_CERTIFIED}{body}.{}.{}",
        B64.encode(certificate.canonical.as_bytes()),
        B64.encode(root_signature)
    ))
}

/// Verifies a task code offline with the tenant's root key alone, as the inspected party does (亮码
/// 核验): the certificate it carries must be issued by `root` and valid at `now_ms`, the claims must
/// be signed by that certified device and be within their window.
pub fn verify_with_root(token: &str, root: &VerifyingKey, now_ms: i64) -> Result<CheckedTaskCode, TokenError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let (payload, signature, certificate, certificate_signature) = match parts.as_slice() {
        [PREFIX_CERTIFIED, payload, signature, certificate, certificate_signature] => {
            (*payload, *signature, *certificate, *certificate_signature)
        }
        [PREFIX, _, _] => return Err(TokenError::NoCertificate),
        _ => return Err(TokenError::Malformed),
    };
    let canonical =
        B64.decode(certificate).ok().and_then(|b| String::from_utf8(b).ok()).ok_or(TokenError::Malformed)?;
    let root_signature = B64.decode(certificate_signature).map_err(|_| TokenError::Malformed)?;
    let signed = crate::certificate::SignedCertificate { canonical, signature: hex::encode(root_signature) };
    let certificate = signed.verify_issued(root).map_err(|_| TokenError::UntrustedIssuer)?;
    let device_key =
        crate::certificate::SignedCertificate::device_key(&certificate).map_err(|_| TokenError::Malformed)?;
    // Signature and window first: past its window the party is told 已过期, whatever else holds.
    let claims = verify_claims(payload, signature, &device_key, now_ms)?;
    if claims.issuer != certificate.device {
        return Err(TokenError::BadSignature);
    }
    if now_ms < certificate.not_before_ms || now_ms > certificate.not_after_ms {
        return Err(TokenError::IssuerCertificateExpired);
    }
    Ok(CheckedTaskCode { claims, issuer_inspector: certificate.inspector, issuer_device: certificate.device })
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenIssueError {
    /// The claims are invalid.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The claims could not be canonicalised.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The device's certificate is malformed (its signature is not hex).
    #[error("本设备的证书格式不正确，请重新登记")]
    Certificate,
}

/// Verifies a token (either form) offline with the issuing device's public key, at time `now_ms`.
pub fn verify(token: &str, issuer: &VerifyingKey, now_ms: i64) -> Result<TaskClaims, TokenError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let (payload, signature) = match parts.as_slice() {
        [PREFIX, payload, signature] | [PREFIX_CERTIFIED, payload, signature, _, _] => (*payload, *signature),
        _ => return Err(TokenError::Malformed),
    };
    verify_claims(payload, signature, issuer, now_ms)
}

/// Checks the claims part of a token (base64url payload and signature) under `issuer`, at `now_ms`.
fn verify_claims(payload: &str, signature: &str, issuer: &VerifyingKey, now_ms: i64) -> Result<TaskClaims, TokenError> {
    let payload = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
    let signature =
        B64.decode(signature).ok().and_then(|s| Signature::from_slice(&s).ok()).ok_or(TokenError::Malformed)?;
    issuer.verify_strict(&payload, &signature).map_err(|_| TokenError::BadSignature)?;
    let claims: TaskClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if now_ms > claims.expires_ms {
        return Err(TokenError::Expired { expired_at_ms: claims.expires_ms });
    }
    if now_ms < claims.not_before_ms {
        return Err(TokenError::NotYetValid { valid_from_ms: claims.not_before_ms });
    }
    Ok(claims)
}

/// The token as a QR code PNG (8 px per module, 4-module quiet zone).
pub fn qr_png(token: &str) -> Result<Vec<u8>, TokenError> {
    crate::qr::png(token).map_err(|_| TokenError::TooLongForQr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TaskClaims {
        TaskClaims {
            code: "330482-20261128-7K3Q9M2X".into(),
            uscc: "913304826D7H495RGF".into(),
            inspectors: vec![("赵明".into(), "330482022570".into()), ("何杰".into(), "330482068738".into())],
            matters: vec!["SCJG-001".into(), "XFJY-001".into()],
            not_before_ms: 1_000,
            expires_ms: 2_000,
            issuer: "abcd".into(),
        }
    }

    #[test]
    fn a_token_verifies_offline_within_its_window() {
        let key = DeviceKey::generate();
        let token = issue(&claims(), &key).unwrap();
        assert!(token.starts_with("OV1.") && token.len() < 700, "{} chars", token.len());
        assert_eq!(verify(&token, &key.verifying_key(), 1_500).unwrap(), claims());
        assert_eq!(verify(&token, &key.verifying_key(), 2_001), Err(TokenError::Expired { expired_at_ms: 2_000 }));
        assert_eq!(verify(&token, &key.verifying_key(), 999), Err(TokenError::NotYetValid { valid_from_ms: 1_000 }));
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let key = DeviceKey::generate();
        let token = issue(&claims(), &key).unwrap();
        // Forged: signed by another key.
        let forged = issue(&claims(), &DeviceKey::generate()).unwrap();
        assert_eq!(verify(&forged, &key.verifying_key(), 1_500), Err(TokenError::BadSignature));
        // Altered: claims changed (a longer validity) and re-encoded, signature kept.
        let mut longer = claims();
        longer.expires_ms = 9_999_999;
        let payload = B64.encode(to_canonical_json(&longer).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        let altered = format!("OV1.{payload}.{}", parts[2]);
        assert_eq!(verify(&altered, &key.verifying_key(), 1_500), Err(TokenError::BadSignature));
        // A flipped signature character.
        let mut chars: Vec<char> = token.chars().collect();
        let last = chars.len() - 5;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        assert!(verify(&chars.into_iter().collect::<String>(), &key.verifying_key(), 1_500).is_err());
        for bad in ["", "OV1", "OV2.a.b", "OV1.!!.??", "OV1.a.b.c"] {
            assert_eq!(verify(bad, &key.verifying_key(), 1_500), Err(TokenError::Malformed), "{bad}");
        }
    }

    /// A device key and its certificate issued by `root`, valid from 0 to 10,000 ms.
    fn certified(root: &DeviceKey) -> (DeviceKey, crate::certificate::SignedCertificate) {
        let key = DeviceKey::generate();
        let certificate = crate::certificate::DeviceCertificate {
            schema: crate::certificate::CERTIFICATE_SCHEMA.into(),
            serial: "1".into(),
            tenant: "330482".into(),
            device: key.device_id(),
            device_public_key: hex::encode(key.public_bytes()),
            inspector: "scjg-01".into(),
            departments: vec!["scjg".into()],
            not_before_ms: 0,
            not_after_ms: 10_000,
            issuer_public_key: hex::encode(root.public_bytes()),
        };
        let signed = crate::certificate::SignedCertificate::issue(&certificate, root).unwrap();
        (key, signed)
    }

    fn claims_of(key: &DeviceKey) -> TaskClaims {
        TaskClaims { issuer: key.device_id(), ..claims() }
    }

    #[test]
    fn the_party_checks_a_certified_task_code_with_the_root_key_alone() {
        let root = DeviceKey::generate();
        let (key, certificate) = certified(&root);
        let token = issue_certified(&claims_of(&key), &key, &certificate).unwrap();
        assert!(token.starts_with("OV2.") && token.len() < 1800, "{} chars", token.len());
        let checked = verify_with_root(&token, &root.verifying_key(), 1_500).unwrap();
        assert_eq!((checked.claims, checked.issuer_inspector.as_str()), (claims_of(&key), "scjg-01"));
        assert!(qr_png(&token).is_ok(), "still fits a QR code");
        // Outside the window: expired / not yet valid, named as such.
        assert_eq!(
            verify_with_root(&token, &root.verifying_key(), 2_001),
            Err(TokenError::Expired { expired_at_ms: 2_000 })
        );
        assert_eq!(
            verify_with_root(&token, &root.verifying_key(), 999),
            Err(TokenError::NotYetValid { valid_from_ms: 1_000 })
        );
    }

    #[test]
    fn a_wrong_root_is_named_as_such_never_as_a_forgery() {
        let root = DeviceKey::generate();
        let (key, certificate) = certified(&root);
        let token = issue_certified(&claims_of(&key), &key, &certificate).unwrap();
        let err = verify_with_root(&token, &DeviceKey::generate().verifying_key(), 1_500).unwrap_err();
        assert_eq!(err, TokenError::UntrustedIssuer);
        assert!(err.to_string().contains("根公钥") && !err.to_string().contains("伪造"), "{err}");
        // An OV1 token cannot be checked with the root alone, and says so.
        let old = issue(&claims_of(&key), &key).unwrap();
        assert_eq!(verify_with_root(&old, &root.verifying_key(), 1_500), Err(TokenError::NoCertificate));
    }

    #[test]
    fn a_certified_task_code_with_altered_claims_or_a_borrowed_certificate_is_invalid() {
        let root = DeviceKey::generate();
        let (key, certificate) = certified(&root);
        let token = issue_certified(&claims_of(&key), &key, &certificate).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        // Longer validity, re-encoded, signature kept.
        let mut longer = claims_of(&key);
        longer.expires_ms = 9_999;
        let payload = B64.encode(to_canonical_json(&longer).unwrap());
        let altered = [parts[0], &payload, parts[2], parts[3], parts[4]].join(".");
        assert_eq!(verify_with_root(&altered, &root.verifying_key(), 1_500), Err(TokenError::BadSignature));
        // A genuine certificate of another device attached to claims this key signed.
        let (_, other) = certified(&root);
        let borrowed = issue_certified(&claims_of(&key), &key, &other).unwrap();
        assert_eq!(verify_with_root(&borrowed, &root.verifying_key(), 1_500), Err(TokenError::BadSignature));
        // Checked after the issuing device's certificate ran out.
        let mut late = claims_of(&key);
        late.expires_ms = 20_000;
        let late = issue_certified(&late, &key, &certificate).unwrap();
        assert_eq!(verify_with_root(&late, &root.verifying_key(), 15_000), Err(TokenError::IssuerCertificateExpired));
    }

    #[test]
    fn the_qr_code_decodes_back_to_the_token() {
        let key = DeviceKey::generate();
        let token = issue(&claims(), &key).unwrap();
        let png = qr_png(&token).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(image.width() as usize, image.height() as usize, |x, y| {
                image.get_pixel(x as u32, y as u32)[0]
            });
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, token);
    }
}
