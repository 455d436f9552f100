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
    #[error("{path}：{source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Directory data is invalid.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// A task argument is invalid.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A USCC argument is invalid.
    #[error("统一社会信用代码不正确：{0}")]
    Uscc(#[from] UsccError),
    /// An identifier argument is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A field name is invalid.
    #[error(transparent)]
    Field(#[from] UnknownField),
    /// A date argument is invalid.
    #[error("“{0}”不是日期：请写成 2026-12-01 这样的 年-月-日")]
    Date(String),
    /// A status argument is invalid.
    #[error(
        "“{0}”不是检查状态：可写 planned（待检查）、on_site（检查中）、recorded（已记录）、closed（已办结）、cancelled（已取消）"
    )]
    Status(String),
    /// An argument combination is invalid.
    #[error("{0}")]
    Usage(&'static str),
    /// No default data directory exists for this user.
    #[error("找不到本用户的数据目录：请用 --store 指定设备存储目录")]
    NoDataDir,
    /// The audit log failed verification.
    #[error("审计日志验证不通过（{0} 处问题，见上）")]
    AuditFailed(usize),
    /// A document failed verification.
    #[error("文书验证不通过：{0}")]
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
    #[error("内置同步服务器出错：{0}")]
    Server(String),
    /// An export or verification could not run.
    #[error(transparent)]
    Bundle(#[from] onevisit_core::bundle::BundleError),
    /// A bundle failed verification.
    #[error("证据包验证不通过：{0}")]
    BundleInvalid(String),
    /// Sync or enrolment failed.
    #[error(transparent)]
    Sync(#[from] onevisit_core::sync::SyncError),
    /// The sync finished, but the server or this device refused some of it (listed above).
    #[error("同步已完成，但有 {0} 项被拒绝（见上）")]
    SyncRefusals(usize),
    /// A public key argument is not a valid Ed25519 key.
    #[error("公钥格式不正确：应为 64 位十六进制字符（Ed25519 公钥；根公钥由 onevisit-server root-key 打印）")]
    BadKey,
    /// A server address without its scheme.
    #[error("服务器地址“{0}”须以 https:// 开头（本机测试可用 http://），如 https://sync.pinghu.gov.cn")]
    ServerUrl(String),
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
            CliError::Usage(_)
            | CliError::Date(_)
            | CliError::When(_)
            | CliError::Status(_)
            | CliError::BadKey
            | CliError::ServerUrl(_) => 2,
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
