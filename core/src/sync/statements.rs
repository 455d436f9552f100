//! What the server signs for a device: receipts for accepted documents (the upper bound for the
//! device times of signatures made before them), checkpoints of its audit Merkle tree, and the
//! directory data it hands out (who is an inspector of which department).

use serde::{Deserialize, Serialize};

use super::wire::SignedStatement;
use crate::canonical::CanonicalError;
use crate::identity::DeviceKey;
use crate::signed::{self, Issued, IssuedError, SignedJsonError};

/// Schema of [`Receipt`].
pub const RECEIPT_SCHEMA: &str = "onevisit.receipt.v1";
/// Schema of [`Checkpoint`].
pub const CHECKPOINT_SCHEMA: &str = "onevisit.checkpoint.v1";
/// Schema of [`DirectoryRelease`].
pub const DIRECTORY_SCHEMA: &str = "onevisit.directory.v1";

/// The tenant's statement that this directory data (by its SHA-256) is the one devices should use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRelease {
    /// [`DIRECTORY_SCHEMA`].
    pub schema: String,
    /// The tenant.
    pub tenant: String,
    /// SHA-256 (hex) of the directory JSON.
    pub version: String,
    /// Server time of signing.
    pub issued_at_ms: i64,
    /// The signer (hex), the tenant root key.
    pub issuer_public_key: String,
}

/// The server's statement that it held these documents at these heads at `received_at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// [`RECEIPT_SCHEMA`].
    pub schema: String,
    /// The tenant.
    pub tenant: String,
    /// The device that pushed.
    pub device: String,
    /// Server time of acceptance.
    pub received_at_ms: i64,
    /// Each accepted record and the server's heads after accepting it (`documents` in the signed
    /// bytes, as receipts were first issued).
    #[serde(rename = "documents")]
    pub records: Vec<ReceiptRecord>,
    /// The signer (hex), the tenant root key.
    pub issuer_public_key: String,
}

/// One record in a [`Receipt`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    /// The task code.
    pub id: String,
    /// Heads (hex).
    pub heads: Vec<String>,
}

/// The server's signed view of its audit Merkle tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`CHECKPOINT_SCHEMA`].
    pub schema: String,
    /// The tenant.
    pub tenant: String,
    /// Leaves in the tree.
    pub tree_size: u64,
    /// The RFC 6962 root hash (hex).
    pub root_hash: String,
    /// Server time.
    pub at_ms: i64,
    /// The signer (hex), the tenant root key.
    pub issuer_public_key: String,
}

/// Why a server statement is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// The signature or encoding is wrong.
    #[error(transparent)]
    Signature(#[from] SignedJsonError),
    /// The statement is signed by a key other than the tenant root.
    #[error("声明不是由租户根密钥签署的")]
    WrongIssuer,
    /// The schema is not the expected one.
    #[error("声明类型不符：{0}")]
    WrongSchema(String),
    /// Signed for another tenant.
    #[error("服务器声明属于另一个租户 {0}")]
    OtherTenant(String),
    /// The data sent is not the data the statement signs.
    #[error("收到的数据与租户根密钥签名的版本不符（数据被改动）")]
    NotTheSignedData,
}

/// Signs a statement with the tenant key.
pub fn sign_statement<T: Serialize>(value: &T, key: &DeviceKey) -> Result<SignedStatement, CanonicalError> {
    let (canonical, signature) = signed::sign(value, key)?;
    Ok(SignedStatement { canonical, signature })
}

/// Verifies a receipt against the tenant root key (hex).
pub fn verify_receipt(statement: &SignedStatement, root_hex: &str) -> Result<Receipt, StatementError> {
    verify_statement(statement, root_hex)
}

/// Verifies directory data against its release signed by the tenant root key (hex): the
/// signature, the tenant, and that the data is the one released.
pub fn verify_directory(
    json: &str,
    release: &SignedStatement,
    root_hex: &str,
    tenant: &str,
) -> Result<DirectoryRelease, StatementError> {
    use sha2::{Digest, Sha256};
    let body: DirectoryRelease = verify_statement(release, root_hex)?;
    if body.tenant != tenant {
        return Err(StatementError::OtherTenant(body.tenant));
    }
    if hex::encode(Sha256::digest(json.as_bytes())) != body.version {
        return Err(StatementError::NotTheSignedData);
    }
    Ok(body)
}

/// Verifies a checkpoint against the tenant root key (hex).
pub fn verify_checkpoint(statement: &SignedStatement, root_hex: &str) -> Result<Checkpoint, StatementError> {
    verify_statement(statement, root_hex)
}

fn verify_statement<T: Issued>(statement: &SignedStatement, root_hex: &str) -> Result<T, StatementError> {
    let root = crate::identity::verifying_key_from_hex(root_hex).ok_or(StatementError::WrongIssuer)?;
    signed::verify_issued(&statement.canonical, &statement.signature, &root).map_err(|e| match e {
        IssuedError::Signature(e) => StatementError::Signature(e),
        IssuedError::WrongSchema(s) => StatementError::WrongSchema(s),
        IssuedError::WrongIssuer => StatementError::WrongIssuer,
    })
}

impl Issued for Receipt {
    const SCHEMA: &'static str = RECEIPT_SCHEMA;
    fn schema(&self) -> &str {
        &self.schema
    }
    fn issuer_public_key(&self) -> &str {
        &self.issuer_public_key
    }
}

impl Issued for DirectoryRelease {
    const SCHEMA: &'static str = DIRECTORY_SCHEMA;
    fn schema(&self) -> &str {
        &self.schema
    }
    fn issuer_public_key(&self) -> &str {
        &self.issuer_public_key
    }
}

impl Issued for Checkpoint {
    const SCHEMA: &'static str = CHECKPOINT_SCHEMA;
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

    #[test]
    fn a_receipt_verifies_under_the_root_and_not_under_another_key() {
        let root = DeviceKey::generate();
        let receipt = Receipt {
            schema: RECEIPT_SCHEMA.into(),
            tenant: "330482".into(),
            device: "d".into(),
            received_at_ms: 5,
            records: vec![ReceiptRecord { id: "t".into(), heads: vec!["00".repeat(32)] }],
            issuer_public_key: hex::encode(root.public_bytes()),
        };
        let signed = sign_statement(&receipt, &root).unwrap();
        assert_eq!(verify_receipt(&signed, &hex::encode(root.public_bytes())).unwrap(), receipt);
        let other = DeviceKey::generate();
        assert_eq!(verify_receipt(&signed, &hex::encode(other.public_bytes())), Err(StatementError::WrongIssuer));
        let forged =
            sign_statement(&Receipt { issuer_public_key: hex::encode(other.public_bytes()), ..receipt }, &other)
                .unwrap();
        assert_eq!(verify_receipt(&forged, &hex::encode(root.public_bytes())), Err(StatementError::WrongIssuer));
        assert!(matches!(
            verify_checkpoint(&signed, &hex::encode(root.public_bytes())),
            Err(StatementError::Signature(_))
        ));
    }

    #[test]
    fn directory_data_verifies_only_as_released_for_this_tenant() {
        use sha2::{Digest, Sha256};
        let root = DeviceKey::generate();
        let root_hex = hex::encode(root.public_bytes());
        let json = r#"{"departments":[]}"#;
        let release = DirectoryRelease {
            schema: DIRECTORY_SCHEMA.into(),
            tenant: "330482".into(),
            version: hex::encode(Sha256::digest(json.as_bytes())),
            issued_at_ms: 1,
            issuer_public_key: root_hex.clone(),
        };
        let signed = sign_statement(&release, &root).unwrap();
        assert_eq!(verify_directory(json, &signed, &root_hex, "330482").unwrap(), release);
        assert_eq!(
            verify_directory(r#"{"departments":[1]}"#, &signed, &root_hex, "330482"),
            Err(StatementError::NotTheSignedData)
        );
        assert_eq!(
            verify_directory(json, &signed, &root_hex, "330483"),
            Err(StatementError::OtherTenant("330482".into()))
        );
        let other = DeviceKey::generate();
        assert_eq!(
            verify_directory(json, &signed, &hex::encode(other.public_bytes()), "330482"),
            Err(StatementError::WrongIssuer)
        );
    }
}
