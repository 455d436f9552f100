//! The agency's electronic seal (电子印章) profile: a seal statement naming a fully signed document
//! and the signatures that made it so, signed by a department's organisation key with SM2 over
//! SM3 (GB/T 32918, the signer id of GB/T 35276's default), so that any SM2 tool checks it. Device
//! signatures stay Ed25519; the seal is the agency's, not an officer's.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sm2::dsa::signature::{Signer, Verifier};

use crate::signed::{Issued, IssuedError};
use crate::sync::wire::SignedStatement;

/// The schema tag of seal statements written by this code.
pub const SEAL_SCHEMA: &str = "onevisit.seal.v1";

/// The schema tag of organisation certificates.
pub const ORGANISATION_CERTIFICATE_SCHEMA: &str = "onevisit.organisation-certificate.v1";

/// The algorithm organisation certificates name for their key.
pub const SEAL_ALGORITHM: &str = "SM2-with-SM3";

/// The signer id every SM2 tool assumes when none is agreed (GB/T 35276): it enters the hash Z
/// that binds the signature to the key.
pub const DIST_ID: &str = "1234567812345678";

/// Why a seal cannot be made or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The organisation key's bytes are not an SM2 key.
    #[error("机关印章密钥格式错误")]
    MalformedKey,
    /// The organisation's public key is not a point of the SM2 curve (hex of x‖y, 64 bytes).
    #[error("机关印章公钥格式错误（应为 128 位十六进制的 x‖y）")]
    MalformedPublicKey,
    /// The signature is not 64 bytes of r‖s in hex.
    #[error("印章签名格式错误（应为 128 位十六进制的 r‖s）")]
    MalformedSignature,
    /// The seal names another key than the organisation's.
    #[error("印章所用公钥不是该机关的印章公钥")]
    WrongKey,
    /// The signature does not verify: the statement or the signature was changed.
    #[error("印章签名验证失败：印章内容或签名已被改动")]
    Invalid,
    /// The statement is not a seal statement this code reads.
    #[error("印章内容无法解析：{0}")]
    Statement(String),
    /// The system's random source failed.
    #[error("系统随机数不可用")]
    Random,
    /// The organisation certificate is not one the tenant root issued.
    #[error("机关印章证书不是由租户根密钥签发的：{0}")]
    Certificate(IssuedError),
    /// The certificate binds the key to another department than the one the seal names.
    #[error("印章所称机关（{sealed}）与印章证书所列机关（{certified}）不一致")]
    OtherDepartment {
        /// The department the seal statement names.
        sealed: String,
        /// The department the certificate names.
        certified: String,
    },
    /// The seal confirms a signature the record does not hold.
    #[error("印章所确认的签名（{0}）不在该文书的签名中")]
    MissingSignature(String),
    /// The seal names another document version than the one it is kept with.
    #[error("印章所盖文书（{0}）不是此文书")]
    OtherDocument(String),
}

/// What the agency seals: one version of a document, complete with the signatures listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealStatement {
    /// Always [`SEAL_SCHEMA`].
    pub schema: String,
    /// The sealed document version (SHA-256 of its canonical bytes).
    pub document_sha256: String,
    /// Its number (文号).
    pub document_number: String,
    /// The sealing department's id.
    pub department: String,
    /// The agency's name as the seal reads.
    pub agency: String,
    /// The SHA-256s (sorted) of the signature statements that completed the document, each over
    /// its canonical bytes as kept in the record.
    pub signatures: Vec<String>,
    /// When the server sealed it (ms since the epoch, the server's clock).
    pub sealed_at_ms: i64,
}

/// A department's organisation key (SM2), held by the city server.
pub struct OrganisationKey(sm2::dsa::SigningKey);

impl OrganisationKey {
    /// A new key from the system's random source.
    pub fn generate() -> Result<OrganisationKey, SealError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|_| SealError::Random)?;
            // A scalar out of range (probability ~2^-32) is drawn again.
            if let Ok(key) = OrganisationKey::from_secret_bytes(&bytes) {
                return Ok(key);
            }
        }
    }

    /// The key a secret derives: the secret itself when it is an SM2 scalar, else its SHA-256
    /// chain until one is (every replica holding the secret derives the same key).
    pub fn derive(secret: [u8; 32]) -> OrganisationKey {
        use sha2::{Digest, Sha256};
        let mut bytes = secret;
        loop {
            if let Ok(key) = OrganisationKey::from_secret_bytes(&bytes) {
                return key;
            }
            bytes = Sha256::digest(bytes).into();
        }
    }

    /// The key from its 32 secret bytes.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<OrganisationKey, SealError> {
        sm2::dsa::SigningKey::from_slice(DIST_ID, bytes).map(OrganisationKey).map_err(|_| SealError::MalformedKey)
    }

    /// The 32 secret bytes, to keep sealed at rest.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    /// The public key as SM2 tools write it: hex of x‖y (64 bytes, no 04 prefix).
    pub fn public_hex(&self) -> String {
        public_hex(self.0.verifying_key())
    }

    /// Seals `statement`: its canonical JSON, signed.
    pub fn seal(&self, statement: &SealStatement) -> Result<Seal, SealError> {
        let canonical = crate::canonical::to_canonical_json(statement)
            .map_err(|e| SealError::Statement(e.to_string()))
            .and_then(|b| String::from_utf8(b).map_err(|e| SealError::Statement(e.to_string())))?;
        let signature: sm2::dsa::Signature = self.0.sign(canonical.as_bytes());
        Ok(Seal { canonical, signature: hex::encode(signature.to_bytes()), public_key: self.public_hex() })
    }
}

fn public_hex(key: &sm2::dsa::VerifyingKey) -> String {
    let point = key.to_sec1_bytes();
    // Uncompressed SEC1: 04 ‖ x ‖ y.
    hex::encode(point.get(1..).unwrap_or_default())
}

/// A sealed statement as kept and exported: the signed bytes, the SM2 signature and the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The statement's canonical JSON: what is signed.
    pub canonical: String,
    /// The SM2 signature, hex of r‖s.
    pub signature: String,
    /// The signing organisation key, hex of x‖y.
    pub public_key: String,
}

impl Seal {
    /// The statement, if the signature holds under `organisation_key` (hex of x‖y) and the
    /// seal names that key.
    pub fn verify(&self, organisation_key: &str) -> Result<SealStatement, SealError> {
        if !self.public_key.eq_ignore_ascii_case(organisation_key) {
            return Err(SealError::WrongKey);
        }
        let point = hex::decode(organisation_key).map_err(|_| SealError::MalformedPublicKey)?;
        if point.len() != 64 {
            return Err(SealError::MalformedPublicKey);
        }
        let sec1 = [&[0x04], point.as_slice()].concat();
        let key = sm2::dsa::VerifyingKey::from_sec1_bytes(DIST_ID, &sec1).map_err(|_| SealError::MalformedPublicKey)?;
        let signature = hex::decode(&self.signature).map_err(|_| SealError::MalformedSignature)?;
        let signature = sm2::dsa::Signature::from_slice(&signature).map_err(|_| SealError::MalformedSignature)?;
        key.verify(self.canonical.as_bytes(), &signature).map_err(|_| SealError::Invalid)?;
        let statement: SealStatement =
            serde_json::from_str(&self.canonical).map_err(|e| SealError::Statement(e.to_string()))?;
        if statement.schema != SEAL_SCHEMA {
            return Err(SealError::Statement(format!("未知的印章格式 {}", statement.schema)));
        }
        Ok(statement)
    }
}

/// The tenant root's statement that an SM2 key is a department's seal key (GB/T 38540's
/// organisation certificate, as a statement the root signs like device certificates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationCertificate {
    /// Always [`ORGANISATION_CERTIFICATE_SCHEMA`].
    pub schema: String,
    /// The tenant.
    pub tenant: String,
    /// The department the key seals for.
    pub department: String,
    /// The agency's name as the seal reads.
    pub agency: String,
    /// [`SEAL_ALGORITHM`].
    pub algorithm: String,
    /// The organisation key, hex of x‖y.
    pub seal_public_key: String,
    /// The tenant root key (hex) that signs this certificate.
    pub issuer_public_key: String,
}

impl Issued for OrganisationCertificate {
    const SCHEMA: &'static str = ORGANISATION_CERTIFICATE_SCHEMA;
    fn schema(&self) -> &str {
        &self.schema
    }
    fn issuer_public_key(&self) -> &str {
        &self.issuer_public_key
    }
}

/// An agency seal as a record keeps it, one per document version: the seal and the certificate
/// that makes its key the department's. Self-contained, so a court checks it with the root key
/// alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencySeal {
    /// The SM2-signed seal statement.
    pub seal: Seal,
    /// The [`OrganisationCertificate`], signed by the tenant root (Ed25519).
    pub certificate: SignedStatement,
}

/// A verified agency seal: what it says and who vouches for its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSeal {
    /// The sealed statement.
    pub statement: SealStatement,
    /// The certificate of the key that sealed it.
    pub certificate: OrganisationCertificate,
}

impl VerifiedSeal {
    /// Whether the seal is of the version `department` issued under `number`, and confirms only
    /// signatures among `held` (the SHA-256s of the statements over that version).
    pub fn covers(&self, department: &str, number: &str, held: &[String]) -> Result<(), SealError> {
        let statement = &self.statement;
        if statement.department != department || statement.document_number != number {
            return Err(SealError::OtherDocument(format!("{}（{}）", statement.document_number, statement.department)));
        }
        match statement.signatures.iter().find(|h| !held.contains(h)) {
            Some(missing) => Err(SealError::MissingSignature(missing.clone())),
            None => Ok(()),
        }
    }
}

impl AgencySeal {
    /// The seal of `document_sha256`, if its certificate is the root's, binds the key that
    /// sealed to the department the seal names, and the seal holds under that key.
    pub fn verify(&self, root: &VerifyingKey, document_sha256: &str) -> Result<VerifiedSeal, SealError> {
        let certificate: OrganisationCertificate =
            crate::signed::verify_issued(&self.certificate.canonical, &self.certificate.signature, root)
                .map_err(SealError::Certificate)?;
        let statement = self.seal.verify(&certificate.seal_public_key)?;
        if statement.department != certificate.department {
            return Err(SealError::OtherDepartment { sealed: statement.department, certified: certificate.department });
        }
        if statement.document_sha256 != document_sha256 {
            return Err(SealError::OtherDocument(statement.document_sha256));
        }
        Ok(VerifiedSeal { statement, certificate })
    }
}

/// The SHA-256s, sorted and without repeats, of the signature statements (their canonical bytes)
/// a seal confirms.
pub fn signature_hashes<'a>(canonical_statements: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut hashes: Vec<String> =
        canonical_statements.into_iter().map(|c| crate::audit::sha256_hex(c.as_bytes())).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> SealStatement {
        SealStatement {
            schema: SEAL_SCHEMA.into(),
            document_sha256: "d6f104d124338254".repeat(4),
            document_number: "平消责改〔2026〕12号".into(),
            department: "xfjy".into(),
            agency: "平湖市消防救援大队".into(),
            signatures: signature_hashes(["{\"a\":1}", "{\"b\":2}"]),
            sealed_at_ms: 1_796_175_047_062,
        }
    }

    #[test]
    fn a_seal_verifies_under_its_organisation_key_and_gives_back_the_statement() {
        let key = OrganisationKey::generate().unwrap();
        let seal = key.seal(&statement()).unwrap();
        assert_eq!(seal.public_key.len(), 128);
        assert_eq!(seal.signature.len(), 128);
        assert_eq!(seal.verify(&key.public_hex()).unwrap(), statement());
        // The key survives being kept as its secret bytes.
        let again = OrganisationKey::from_secret_bytes(&key.secret_bytes()).unwrap();
        assert_eq!(again.public_hex(), key.public_hex());
    }

    #[test]
    fn a_changed_byte_in_the_statement_or_the_signature_breaks_the_seal() {
        let key = OrganisationKey::generate().unwrap();
        let seal = key.seal(&statement()).unwrap();
        let mut changed = seal.clone();
        changed.canonical = changed.canonical.replace("12号", "13号");
        assert_eq!(changed.verify(&key.public_hex()), Err(SealError::Invalid));
        let mut flipped = seal.clone();
        let mut bytes = hex::decode(&flipped.signature).unwrap();
        bytes[40] ^= 0x01;
        flipped.signature = hex::encode(bytes);
        assert_eq!(flipped.verify(&key.public_hex()), Err(SealError::Invalid));
    }

    #[test]
    fn a_seal_made_with_another_key_or_malformed_is_refused() {
        let (key, other) = (OrganisationKey::generate().unwrap(), OrganisationKey::generate().unwrap());
        let seal = other.seal(&statement()).unwrap();
        assert_eq!(seal.verify(&key.public_hex()), Err(SealError::WrongKey));
        // Claiming the organisation's key does not help: the signature is checked under it.
        let claimed = Seal { public_key: key.public_hex(), ..seal.clone() };
        assert_eq!(claimed.verify(&key.public_hex()), Err(SealError::Invalid));
        let short = Seal { signature: "00".repeat(10), ..key.seal(&statement()).unwrap() };
        assert_eq!(short.verify(&key.public_hex()), Err(SealError::MalformedSignature));
        let not_a_point = "11".repeat(64);
        let seal = Seal { public_key: not_a_point.clone(), ..key.seal(&statement()).unwrap() };
        assert_eq!(seal.verify(&not_a_point), Err(SealError::MalformedPublicKey));
        assert_eq!(OrganisationKey::from_secret_bytes(&[0u8; 32]).err(), Some(SealError::MalformedKey));
    }

    #[test]
    fn the_signature_hashes_do_not_depend_on_their_order() {
        assert_eq!(signature_hashes(["x", "y"]), signature_hashes(["y", "x", "x"]));
        assert_ne!(signature_hashes(["x", "y"]), signature_hashes(["x"]));
    }
}
