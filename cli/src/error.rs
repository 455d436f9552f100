//! The command's errors: what went wrong, for the person at the keyboard.

use std::path::PathBuf;

use onevisit_core::domain::{DirectoryError, IdError, TaskError, UsccError};
use onevisit_core::identity::KeyError;
use onevisit_core::record::conflict::UnknownField;
use onevisit_core::store::StoreError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The device key could not be unlocked.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Directory data is invalid.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// A task argument is invalid.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A USCC argument is invalid.
    #[error("invalid unified social credit code: {0}")]
    Uscc(#[from] UsccError),
    /// An identifier argument is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A field name is invalid.
    #[error(transparent)]
    Field(#[from] UnknownField),
    /// A date argument is invalid.
    #[error("{0:?} is not a date of the form YYYY-MM-DD")]
    Date(String),
    /// A status argument is invalid.
    #[error("{0:?} is not a status (planned, on_site, recorded, closed, cancelled)")]
    Status(String),
    /// An argument combination is invalid.
    #[error("{0}")]
    Usage(&'static str),
    /// No default data directory exists for this user.
    #[error("no data directory for this user: pass --store")]
    NoDataDir,
    /// The audit log failed verification.
    #[error("the audit log failed verification ({0} problems)")]
    AuditFailed(usize),
    /// A document failed verification.
    #[error("document verification failed: {0}")]
    DocumentFailed(String),
    /// A task code failed verification.
    #[error(transparent)]
    Token(#[from] onevisit_core::task_token::TokenError),
    /// A hash prefix matches nothing or more than one item.
    #[error("“{prefix}”没有对应唯一的一项：请多写几位哈希值（{list} 列出全部）")]
    Ambiguous {
        /// What was given.
        prefix: String,
        /// The command that lists the candidates.
        list: &'static str,
    },
    /// The embedded server failed (the demo).
    #[error("the embedded sync server failed: {0}")]
    Server(String),
    /// An export or verification could not run.
    #[error(transparent)]
    Bundle(#[from] onevisit_core::bundle::BundleError),
    /// A bundle failed verification.
    #[error("the bundle failed verification: {0}")]
    BundleInvalid(String),
    /// Sync or enrolment failed.
    #[error(transparent)]
    Sync(#[from] onevisit_core::sync::SyncError),
    /// The sync finished, but the server or this device refused some of it (listed above).
    #[error("the sync finished, but {0} item(s) were refused (listed above)")]
    SyncRefusals(usize),
    /// A public key argument is not a valid Ed25519 key.
    #[error("公钥格式不正确：应为 64 位十六进制字符（Ed25519 公钥）")]
    BadKey,
    /// A time argument is not one of the accepted forms.
    #[error(
        "“{0}”不是可识别的时间：请写成 2026-12-02、“2026-12-02 09:30”（北京时间）或 RFC 3339（如 2026-12-02T09:30:00+08:00）"
    )]
    When(String),
}

impl CliError {
    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Date(_) | CliError::When(_) | CliError::Status(_) => 2,
            CliError::AuditFailed(_)
            | CliError::DocumentFailed(_)
            | CliError::Token(_)
            | CliError::BundleInvalid(_) => 3,
            CliError::Sync(_) => 4,
            CliError::SyncRefusals(_) => 5,
            _ => 1,
        }
    }
}
