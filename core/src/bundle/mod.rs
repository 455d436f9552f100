//! Evidence bundles: a case exported as a BagIt 1.0 bag (RFC 8493), as a folder or a single zip,
//! sealed by the exporting device, and verified offline with only the tenant's root key.
//!
//! Layout of a bag (`<bag>/`):
//! - `bagit.txt`, `bag-info.txt` (task codes, agency, export time), `README.txt` (how to check it);
//! - `data/media/<sha256>.<ext>`: evidence originals, byte-identical;
//! - `data/captures/<hash>.json`: signed capture records;
//! - `data/documents/<task>/<sha256>/document.json` (canonical bytes as signed), `signatures.json`,
//!   `document.txt` (printable zh-CN);
//! - `data/records/<task>.automerge`: the inspection record with its whole history;
//! - `data/audit/<device>.jsonl`, `data/audit/checkpoint.json`, `data/audit/proofs.json`;
//! - `data/certificates/<device>.json`, `data/revocations.json`, `data/receipts.json` (the server's
//!   signed receipts for these tasks);
//! - `data/evidence-list.csv`: the 电子数据清单 (with source/carrier, extraction method and what each
//!   item is to prove; operators by name and certificate number);
//! - `data/extraction-record.txt`: the 电子数据提取笔录 of the export;
//! - `manifest-sha256.txt`, `manifest-sha512.txt`, `tagmanifest-sha256.txt`, `tagmanifest-sha512.txt`;
//! - `seal/seal.json` (what is sealed), `seal/seal.sig` (raw Ed25519 signature),
//!   `seal/device-public-key.pem`, `seal/device-certificate.json`.

pub mod bag;
pub mod export;
pub mod verify;

pub use export::{ExportOptions, ExportSummary, Format, export};
pub use verify::{Check, VerifyReport, verify};

use serde::{Deserialize, Serialize};

/// Schema of the seal statement.
pub const SEAL_SCHEMA: &str = "onevisit.seal.v1";

/// Why an export or a verification could not run at all (what a bundle fails is a [`Check`]).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A record could not be read.
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    /// The zip container is not readable.
    #[error("无法读取 zip 文件：{0}")]
    Zip(String),
    /// The device is not enrolled: it has no certificate to seal with.
    #[error("本设备尚未登记：证据包要用设备证书封签，先运行 onevisit enroll")]
    NotEnrolled,
    /// An evidence original is not on this device.
    #[error("本设备没有照片 {0} 的原图：先运行 onevisit sync --fetch-photos")]
    MissingOriginal(String),
    /// The destination exists.
    #[error("{0} 已存在：换一个 --out 路径")]
    Exists(String),
    /// Not a bag at all.
    #[error("{0} 不是证据包（没有 bagit.txt）")]
    NotABag(String),
    /// The root key given is not an Ed25519 public key.
    #[error("根公钥格式不正确：应为 64 位十六进制字符（onevisit-server root-key 打印的那一串）")]
    BadRootKey,
    /// The caller cancelled.
    #[error("已取消")]
    Cancelled,
    /// Encoding a statement failed (a bug).
    #[error(transparent)]
    Canonical(#[from] crate::canonical::CanonicalError),
    /// A document could not be printed to PDF.
    #[error(transparent)]
    Pdf(#[from] crate::document::PdfError),
}

impl BundleError {
    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> BundleError {
        BundleError::Io { path: path.to_string(), source }
    }
}

/// What the seal signs: the hashes of the files that describe the payload, and who sealed when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// [`SEAL_SCHEMA`].
    pub schema: String,
    /// The tasks exported.
    pub tasks: Vec<String>,
    /// SHA-256 (hex) of each sealed tag file, by its path in the bag.
    pub files: std::collections::BTreeMap<String, String>,
    /// The exporting device.
    pub device: String,
    /// Its public key (hex), certified by `seal/device-certificate.json`.
    pub device_public_key: String,
    /// Device time of sealing.
    pub sealed_at_ms: i64,
}

/// The tag files the seal covers.
pub const SEALED_FILES: [&str; 4] = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"];

/// Progress of an export or a verification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BundleProgress {
    /// Files done.
    pub files: u64,
    /// Files in all (0 while unknown).
    pub files_total: u64,
    /// Bytes done.
    pub bytes: u64,
    /// Bytes in all (0 while unknown).
    pub bytes_total: u64,
}
