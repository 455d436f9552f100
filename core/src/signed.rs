//! Signed canonical JSON: the one way OneVisit signs a statement (capture records, document
//! signatures) and checks one — canonical bytes, Ed25519 over exactly them, `verify_strict`.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::canonical::{CanonicalError, to_canonical_json};
use crate::identity::DeviceKey;

/// Why signed JSON does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignedJsonError {
    /// The bytes do not parse as the expected statement.
    #[error("签名声明格式错误")]
    Malformed,
    /// The bytes parse but are not in canonical form (re-serialised or edited).
    #[error("签名声明不是规范格式（被重新编排或改动过）")]
    NotCanonical,
    /// The public key the statement names is not a valid Ed25519 key.
    #[error("签名声明中的公钥无效")]
    BadPublicKey,
    /// The signature does not verify.
    #[error("签名验证不通过")]
    BadSignature,
}

/// Canonicalises `value` and signs the bytes; returns (canonical JSON, hex signature).
pub fn sign<T: Serialize>(value: &T, key: &DeviceKey) -> Result<(String, String), CanonicalError> {
    let bytes = to_canonical_json(value)?;
    let signature = hex::encode(key.sign(&bytes).to_bytes());
    // Canonical JSON is built from Rust strings, so it is valid UTF-8.
    Ok((String::from_utf8(bytes).unwrap_or_default(), signature))
}

/// Parses `canonical`, checks that it is canonical, and verifies `signature_hex` (strictly) under
/// the hex public key that `key_of` reads from the statement itself.
pub fn verify<T: DeserializeOwned + Serialize>(
    canonical: &str,
    signature_hex: &str,
    key_of: impl FnOnce(&T) -> &str,
) -> Result<T, SignedJsonError> {
    let value: T = serde_json::from_str(canonical).map_err(|_| SignedJsonError::Malformed)?;
    let again = to_canonical_json(&value).map_err(|_| SignedJsonError::Malformed)?;
    if again != canonical.as_bytes() {
        return Err(SignedJsonError::NotCanonical);
    }
    let key = crate::identity::verifying_key_from_hex(key_of(&value)).ok_or(SignedJsonError::BadPublicKey)?;
    let signature = hex::decode(signature_hex)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or(SignedJsonError::BadSignature)?;
    key.verify_strict(canonical.as_bytes(), &signature).map_err(|_| SignedJsonError::BadSignature)?;
    Ok(value)
}

/// A statement a root key issues (certificates, revocation lists, receipts, checkpoints): it names
/// its schema and its issuer's public key.
pub trait Issued: DeserializeOwned + Serialize {
    /// The schema every statement of this kind carries.
    const SCHEMA: &'static str;
    /// The schema this one carries.
    fn schema(&self) -> &str;
    /// The issuer's public key (hex) it names.
    fn issuer_public_key(&self) -> &str;
}

/// Why a statement is not one the root issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuedError {
    /// The signature or encoding is wrong.
    #[error(transparent)]
    Signature(#[from] SignedJsonError),
    /// Another kind of statement.
    #[error("声明类型不符：{0}")]
    WrongSchema(String),
    /// Signed by a key other than the root.
    #[error("声明不是由根密钥签署的")]
    WrongIssuer,
}

/// Verifies `canonical` as a statement of kind `T` signed by `root`: canonical, signature valid
/// under the issuer it names, the expected schema, and that issuer is the root.
pub fn verify_issued<T: Issued>(canonical: &str, signature_hex: &str, root: &VerifyingKey) -> Result<T, IssuedError> {
    let value: T = verify(canonical, signature_hex, |v: &T| v.issuer_public_key())?;
    if value.schema() != T::SCHEMA {
        return Err(IssuedError::WrongSchema(value.schema().to_string()));
    }
    if value.issuer_public_key() != hex::encode(root.to_bytes()) {
        return Err(IssuedError::WrongIssuer);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize, Serialize)]
    struct Note {
        key: String,
        text: String,
    }

    #[test]
    fn signed_json_verifies_and_every_kind_of_damage_is_named() {
        let key = DeviceKey::generate();
        let note = Note { key: hex::encode(key.public_bytes()), text: "现场检查".into() };
        let (canonical, signature) = sign(&note, &key).unwrap();
        fn key_of(n: &Note) -> &str {
            &n.key
        }
        assert_eq!(verify(&canonical, &signature, key_of).unwrap(), note);
        let spaced = canonical.replace(",", ", ");
        assert_eq!(verify::<Note>(&spaced, &signature, key_of), Err(SignedJsonError::NotCanonical));
        assert_eq!(verify::<Note>("{", &signature, key_of), Err(SignedJsonError::Malformed));
        let edited = canonical.replace("现场检查", "现场复查");
        assert_eq!(verify::<Note>(&edited, &signature, key_of), Err(SignedJsonError::BadSignature));
        let other = DeviceKey::generate();
        let swapped = canonical.replace(&note.key, &hex::encode(other.public_bytes()));
        assert_eq!(verify::<Note>(&swapped, &signature, key_of), Err(SignedJsonError::BadSignature));
        assert_eq!(verify::<Note>(&canonical, "zz", key_of), Err(SignedJsonError::BadSignature));
        let bad_key = canonical.replace(&note.key, "00");
        assert_eq!(verify::<Note>(&bad_key, &signature, key_of), Err(SignedJsonError::BadPublicKey));
    }
}
