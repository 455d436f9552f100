//! The task code shown on site (亮码检查): a compact token signed by the issuer, which the
//! enterprise scans and verifies offline with the issuer's public key — "no code, no inspection".
//!
//! Form: `OV1.<base64url(canonical JSON claims)>.<base64url(Ed25519 signature over those bytes)>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, to_canonical_json};
use crate::identity::DeviceKey;

/// The token's prefix and format version.
pub const PREFIX: &str = "OV1";

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

/// Why a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a OneVisit task code token.
    #[error("this is not a OneVisit task code")]
    Malformed,
    /// The signature does not verify under the issuer's key: forged, or altered after issue.
    #[error("the task code's signature is not valid: it is forged or was altered")]
    BadSignature,
    /// Past its validity window.
    #[error("the task code expired at {expired_at_ms} (ms since the epoch)")]
    Expired {
        /// When it expired (ms since the epoch).
        expired_at_ms: i64,
    },
    /// Before its validity window.
    #[error("the task code is valid only from {valid_from_ms} (ms since the epoch)")]
    NotYetValid {
        /// When it becomes valid (ms since the epoch).
        valid_from_ms: i64,
    },
    /// Too long for a QR code.
    #[error("the task code is too long for a QR code")]
    TooLongForQr,
    /// The validity window ends before it starts.
    #[error("the validity window ends before it starts")]
    InvertedWindow,
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

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenIssueError {
    /// The claims are invalid.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The claims could not be canonicalised.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// Verifies a token offline with the issuer's public key, at time `now_ms`.
pub fn verify(token: &str, issuer: &VerifyingKey, now_ms: i64) -> Result<TaskClaims, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(PREFIX), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
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
    let code = qrcode::QrCode::with_error_correction_level(token.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| TokenError::TooLongForQr)?;
    let (modules, scale, quiet) = (code.width() as u32, 8u32, 4u32);
    let side = (modules + 2 * quiet) * scale;
    let colors = code.to_colors();
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale) as i64 - quiet as i64, (y / scale) as i64 - quiet as i64);
        let inside = mx >= 0 && my >= 0 && mx < modules as i64 && my < modules as i64;
        let dark = inside && colors[(my as u32 * modules + mx as u32) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|_| TokenError::TooLongForQr)?;
    Ok(png)
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
