//! Signatures on documents: each inspector signs on their own device; the device attests the
//! party's handwritten signature or their refusal before a witness. Every statement is canonical
//! JSON naming the document's hash, signed with the device key and verified with `verify_strict`.

use serde::{Deserialize, Serialize};

use crate::canonical::CanonicalError;
use crate::identity::DeviceKey;
use crate::signed::SignedJsonError;

/// The schema tag of signature statements.
pub const SIGNATURE_SCHEMA: &str = "onevisit.signature.v1";

/// Who signs, in which capacity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum SignatureRole {
    /// An inspector signs the document on their own device.
    Inspector {
        /// The inspector.
        inspector: String,
        /// Their certificate number.
        certificate_number: String,
    },
    /// The party signed by hand on the device; the device attests it.
    Party {
        /// The signer's name.
        name: String,
        /// Their role, e.g. 法定代表人.
        party_role: String,
        /// SHA-256 of the handwritten signature image, kept as evidence.
        signature_image_sha256: String,
        /// The statement they signed under (以上笔录我已看过，与事实相符).
        statement: String,
        /// The inspector who witnessed and attests.
        attested_by: String,
    },
    /// The party refused to sign; a witness confirms.
    PartyRefused {
        /// Why, as stated.
        reason: String,
        /// The witness's name.
        witness: String,
        /// The witness's ID or role, if given.
        witness_detail: Option<String>,
        /// SHA-256 of the witness's handwritten signature image, kept as evidence, if they signed
        /// on the device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        witness_signature_image_sha256: Option<String>,
        /// The inspector who attests.
        attested_by: String,
    },
}

/// What a signature says: this device, in this role, at this time, over this document hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStatement {
    /// Always [`SIGNATURE_SCHEMA`].
    pub schema: String,
    /// SHA-256 of the document's canonical bytes.
    pub document_sha256: String,
    /// The document's number, for people.
    pub document_number: String,
    /// The capacity.
    pub signer: SignatureRole,
    /// The signing device.
    pub device: String,
    /// Its public key (hex).
    pub device_public_key: String,
    /// Device time of signing, ms since the Unix epoch (bounded later by the server's receipt).
    pub device_time_ms: i64,
    /// Where: the signing (or attesting) inspector's check-in on site, raw WGS-84, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<crate::record::Position>,
    /// How the signer's presence at the device was confirmed, if it was (statements made before
    /// presence was asked, or on a store that asks none, have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<super::presence::SignerPresence>,
}

/// A statement as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSignature {
    /// Canonical JSON of the [`SignedStatement`].
    pub canonical: String,
    /// Ed25519 signature (hex) over `canonical`.
    pub signature: String,
}

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignatureProblem {
    /// The statement does not parse or is not canonical.
    #[error("签名声明格式错误")]
    Malformed,
    /// The signature does not verify under the key the statement names.
    #[error("签名验证不通过")]
    BadSignature,
    /// The statement is about another document.
    #[error("该签名签的是文书 {0}，不是这一份")]
    WrongDocument(String),
    /// The signer (or attesting inspector) is not one of the task's inspectors.
    #[error("{0} 不是本任务的执法人员")]
    NotTaskInspector(String),
    /// No certificate from the tenant root binds the signing key to a device (the record carries
    /// none for it, or it does not verify).
    #[error("没有本地执法平台签发的证书认证设备 {0} 的签名密钥")]
    Uncertified(String),
    /// The statement names one inspector but the key's certificate names another.
    #[error("签名声明记名为 {named}，但签名密钥经认证属于 {certified}")]
    NamedAnotherInspector {
        /// Who the statement names.
        named: String,
        /// Who the key's certificate names.
        certified: String,
    },
    /// The certificate did not hold at the signing time (not yet valid, expired or revoked).
    #[error("签名时签名密钥的证书无效：{0}")]
    CertificateInvalid(String),
    /// An inspector the document does not name signed it: the signature does not count.
    #[error("{0} 不是这份文书列明的执法人员，其签名不计入")]
    NotNamedOnDocument(String),
    /// The handwriting image was drawn for another document.
    #[error("手写签名图像已用于另一份文书 {0}")]
    HandwritingReused(String),
}

impl SignatureProblem {
    /// Whether the problem only keeps the signature from counting (it is not a forgery): a
    /// signature by an officer the document does not name.
    pub fn only_uncounted(&self) -> bool {
        matches!(self, SignatureProblem::NotNamedOnDocument(_))
    }

    /// The zh-CN description shown to inspectors and receivers.
    pub fn label_zh(&self) -> String {
        match self {
            SignatureProblem::Malformed => "签名声明格式错误".into(),
            SignatureProblem::BadSignature => "签名验证失败".into(),
            SignatureProblem::WrongDocument(_) => "签名针对的是另一份文书".into(),
            SignatureProblem::NotTaskInspector(who) => format!("{who} 不是本任务的执法人员"),
            SignatureProblem::Uncertified(device) => format!("签名密钥（设备 {device}）没有本租户签发的有效证书"),
            SignatureProblem::NamedAnotherInspector { named, certified } => {
                format!("签名声明署名 {named}，但签名密钥的证书登记为 {certified}（冒名）")
            }
            SignatureProblem::CertificateInvalid(why) => format!("签名时证书无效（过期、未生效或已注销）：{why}"),
            SignatureProblem::NotNamedOnDocument(who) => format!("{who} 不是本文书列明的执法人员，签名不计入"),
            SignatureProblem::HandwritingReused(other) => {
                format!("手写签名图像已用于另一份文书 {}…（同一图像不能签两份文书）", &other[..12.min(other.len())])
            }
        }
    }
}

impl SignedStatement {
    /// The handwriting images the statement binds to its document (the party's, or the witness's).
    pub fn handwriting(&self) -> Option<&str> {
        match &self.signer {
            SignatureRole::Party { signature_image_sha256, .. } => Some(signature_image_sha256),
            SignatureRole::PartyRefused { witness_signature_image_sha256, .. } => {
                witness_signature_image_sha256.as_deref()
            }
            SignatureRole::Inspector { .. } => None,
        }
    }

    /// The inspector the statement makes responsible: the signer, or the attesting inspector.
    pub fn responsible_inspector(&self) -> &str {
        match &self.signer {
            SignatureRole::Inspector { inspector, .. } => inspector,
            SignatureRole::Party { attested_by, .. } | SignatureRole::PartyRefused { attested_by, .. } => attested_by,
        }
    }
}

impl DocumentSignature {
    /// Signs a statement with the device key.
    pub fn sign(statement: &SignedStatement, key: &DeviceKey) -> Result<DocumentSignature, CanonicalError> {
        let (canonical, signature) = crate::signed::sign(statement, key)?;
        Ok(DocumentSignature { canonical, signature })
    }

    /// Verifies the signature (strictly) and that it is about `document_sha256`.
    pub fn verify(&self, document_sha256: &str) -> Result<SignedStatement, SignatureProblem> {
        let statement = self.verified_statement()?;
        if statement.document_sha256 != document_sha256 {
            return Err(SignatureProblem::WrongDocument(statement.document_sha256));
        }
        Ok(statement)
    }

    /// The statement, once its signature verified: from the cache when these exact bytes were
    /// verified before in this process (a record's signatures are checked again on every write
    /// the server summarises and every report a screen shows).
    fn verified_statement(&self) -> Result<SignedStatement, SignatureProblem> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.canonical.as_bytes());
        h.update([0]);
        h.update(self.signature.as_bytes());
        let id: [u8; 32] = h.finalize().into();
        if let Some(statement) = VERIFIED.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|c| c.get(&id)) {
            return Ok(statement.clone());
        }
        let statement: SignedStatement =
            crate::signed::verify(&self.canonical, &self.signature, |s: &SignedStatement| &s.device_public_key)
                .map_err(|e| match e {
                    SignedJsonError::BadSignature => SignatureProblem::BadSignature,
                    _ => SignatureProblem::Malformed,
                })?;
        let mut cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
        let cache = cache.get_or_insert_with(std::collections::HashMap::new);
        if cache.len() >= VERIFIED_MAX {
            cache.clear();
        }
        cache.insert(id, statement.clone());
        Ok(statement)
    }
}

/// Statements whose signature verified in this process, by the hash of their exact bytes and
/// signature (only successes are kept; the key covers everything the check read).
static VERIFIED: std::sync::Mutex<Option<std::collections::HashMap<[u8; 32], SignedStatement>>> =
    std::sync::Mutex::new(None);
const VERIFIED_MAX: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(key: &DeviceKey) -> SignedStatement {
        SignedStatement {
            schema: SIGNATURE_SCHEMA.into(),
            document_sha256: "ab".repeat(32),
            document_number: "n".into(),
            signer: SignatureRole::Inspector { inspector: "scjg-01".into(), certificate_number: "1".into() },
            device: key.device_id(),
            device_public_key: hex::encode(key.public_bytes()),
            device_time_ms: 1,
            position: None,
            presence: None,
        }
    }

    #[test]
    fn a_signature_verified_once_does_not_vouch_for_altered_bytes_or_another_document() {
        let key = DeviceKey::generate();
        let signed = DocumentSignature::sign(&statement(&key), &key).unwrap();
        for _ in 0..2 {
            assert_eq!(signed.verify(&"ab".repeat(32)).unwrap(), statement(&key));
        }
        assert!(matches!(signed.verify(&"cd".repeat(32)), Err(SignatureProblem::WrongDocument(_))));
        let mut altered = signed.clone();
        altered.canonical = altered.canonical.replace("scjg-01", "scjg-02");
        assert_eq!(altered.verify(&"ab".repeat(32)), Err(SignatureProblem::BadSignature));
        let mut resigned = signed.clone();
        resigned.signature = DocumentSignature::sign(&statement(&DeviceKey::generate()), &key).unwrap().signature;
        assert_eq!(resigned.verify(&"ab".repeat(32)), Err(SignatureProblem::BadSignature));
    }
}
