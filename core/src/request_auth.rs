//! Authenticating a device's HTTP requests with its key: the device signs the method, the path,
//! the body's hash, a timestamp and a nonce; the server checks the signature under the device's
//! certified key, the clock skew, and that the nonce was not seen within the window (replay).

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::identity::DeviceKey;

/// Header naming the device.
pub const HEADER_DEVICE: &str = "x-onevisit-device";
/// Header with the device time of signing (ms since the Unix epoch).
pub const HEADER_TIMESTAMP: &str = "x-onevisit-timestamp";
/// Header with a random nonce (32 hex characters).
pub const HEADER_NONCE: &str = "x-onevisit-nonce";
/// Header with the signature (hex).
pub const HEADER_SIGNATURE: &str = "x-onevisit-signature";
/// How far a request's timestamp may be from the server's clock: five minutes.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// The authentication a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// The device identifier.
    pub device: String,
    /// Device time of signing.
    pub timestamp_ms: i64,
    /// Random nonce, hex.
    pub nonce: String,
    /// Ed25519 signature, hex.
    pub signature: String,
}

/// Why a request's authentication is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestAuthError {
    /// Headers missing or malformed.
    #[error("请求缺少认证信息或格式错误")]
    Malformed,
    /// The timestamp is too far from the server's clock.
    #[error("请求时间与服务器时钟相差 {} 秒（最多允许 {} 秒）：请校准设备时间", .skew_ms / 1000, MAX_SKEW_MS / 1000)]
    ClockSkew {
        /// How far the request's clock is from the server's (ms).
        skew_ms: i64,
    },
    /// The signature does not verify under the device's key.
    #[error("请求签名验证不通过")]
    BadSignature,
    /// The nonce was already used within the window.
    #[error("请求被重放")]
    Replayed,
}

/// The bytes a device signs to prove it holds the key it enrols with an enrolment code.
pub fn enrolment_proof_bytes(code: &str, device_public_key_hex: &str) -> Vec<u8> {
    format!("ONEVISIT-ENROL-V1\n{code}\n{device_public_key_hex}").into_bytes()
}

/// The bytes a request signature covers.
pub fn signing_bytes(method: &str, path: &str, body: &[u8], timestamp_ms: i64, nonce: &str) -> Vec<u8> {
    let body_hash = hex::encode(Sha256::digest(body));
    format!("ONEVISIT-REQUEST-V1\n{}\n{path}\n{body_hash}\n{timestamp_ms}\n{nonce}", method.to_ascii_uppercase())
        .into_bytes()
}

impl RequestAuth {
    /// Signs a request with the device key at `timestamp_ms`.
    pub fn sign(key: &DeviceKey, method: &str, path: &str, body: &[u8], timestamp_ms: i64) -> RequestAuth {
        let mut raw = [0u8; 16];
        crate::random::fill(&mut raw);
        let nonce = hex::encode(raw);
        let signature = key.sign(&signing_bytes(method, path, body, timestamp_ms, &nonce));
        RequestAuth { device: key.device_id(), timestamp_ms, nonce, signature: hex::encode(signature.to_bytes()) }
    }

    /// Reads the headers (device, timestamp, nonce, signature).
    pub fn from_headers(
        device: Option<&str>,
        timestamp: Option<&str>,
        nonce: Option<&str>,
        signature: Option<&str>,
    ) -> Result<RequestAuth, RequestAuthError> {
        let (Some(device), Some(timestamp), Some(nonce), Some(signature)) = (device, timestamp, nonce, signature)
        else {
            return Err(RequestAuthError::Malformed);
        };
        let timestamp_ms = timestamp.parse().map_err(|_| RequestAuthError::Malformed)?;
        let hex_of = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_of(nonce, 32) || !hex_of(signature, 128) || device.is_empty() || device.len() > 64 {
            return Err(RequestAuthError::Malformed);
        }
        Ok(RequestAuth { device: device.into(), timestamp_ms, nonce: nonce.into(), signature: signature.into() })
    }

    /// Checks the clock skew against `now_ms` (from the headers alone, before any body is read).
    pub fn check_clock(&self, now_ms: i64) -> Result<(), RequestAuthError> {
        let skew_ms = now_ms.saturating_sub(self.timestamp_ms).saturating_abs();
        if skew_ms > MAX_SKEW_MS {
            return Err(RequestAuthError::ClockSkew { skew_ms });
        }
        Ok(())
    }

    /// Checks the signature under `key` and the clock skew against `now_ms`. Replays are the
    /// caller's to check (it keeps the nonces it saw within the window).
    pub fn verify(
        &self,
        key: &VerifyingKey,
        method: &str,
        path: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<(), RequestAuthError> {
        self.check_clock(now_ms)?;
        let signature = hex::decode(&self.signature)
            .ok()
            .and_then(|s| Signature::from_slice(&s).ok())
            .ok_or(RequestAuthError::Malformed)?;
        key.verify_strict(&signing_bytes(method, path, body, self.timestamp_ms, &self.nonce), &signature)
            .map_err(|_| RequestAuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_verifies_and_any_change_breaks_it() {
        let key = DeviceKey::generate();
        let auth = RequestAuth::sign(&key, "post", "/v1/sync", b"{\"a\":1}", 10_000);
        let vk = key.verifying_key();
        assert_eq!(auth.verify(&vk, "POST", "/v1/sync", b"{\"a\":1}", 10_500), Ok(()));
        assert_eq!(auth.verify(&vk, "POST", "/v1/sync", b"{\"a\":2}", 10_500), Err(RequestAuthError::BadSignature));
        assert_eq!(auth.verify(&vk, "POST", "/v1/feed", b"{\"a\":1}", 10_500), Err(RequestAuthError::BadSignature));
        assert_eq!(
            auth.verify(&DeviceKey::generate().verifying_key(), "POST", "/v1/sync", b"{\"a\":1}", 10_500),
            Err(RequestAuthError::BadSignature)
        );
        assert!(matches!(
            auth.verify(&vk, "POST", "/v1/sync", b"{\"a\":1}", 10_000 + MAX_SKEW_MS + 1),
            Err(RequestAuthError::ClockSkew { .. })
        ));
        let parsed = RequestAuth::from_headers(
            Some(&auth.device),
            Some(&auth.timestamp_ms.to_string()),
            Some(&auth.nonce),
            Some(&auth.signature),
        )
        .unwrap();
        assert_eq!(parsed, auth);
        assert_eq!(
            RequestAuth::from_headers(Some("d"), Some("x"), Some(&auth.nonce), Some(&auth.signature)),
            Err(RequestAuthError::Malformed)
        );
        assert_eq!(RequestAuth::from_headers(None, None, None, None), Err(RequestAuthError::Malformed));
    }
}
