//! Legal documents (执法文书) rendered from an inspection record at given heads, as canonical JSON
//! (what signatures cover) plus a readable zh-CN rendering, and their signatures.

pub mod number;
pub mod render;
pub mod signature;

use serde::{Deserialize, Serialize};

pub use render::{DocumentContent, render_text};
pub use signature::{DocumentSignature, SignatureRole, SignedStatement};

/// The schema tag of documents written by this code.
pub const DOCUMENT_SCHEMA: &str = "onevisit.document.v1";

/// Which legal document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 现场检查笔录: the on-site inspection record.
    OnSiteRecord,
    /// 责令改正通知书: an order to rectify, issued by one department.
    RectificationOrder,
}

impl DocumentKind {
    /// The document's title.
    pub fn title_zh(self) -> &'static str {
        match self {
            DocumentKind::OnSiteRecord => "现场检查笔录",
            DocumentKind::RectificationOrder => "责令改正通知书",
        }
    }

    /// The kind's code inside document numbers.
    pub fn number_code(self) -> &'static str {
        match self {
            DocumentKind::OnSiteRecord => "现检",
            DocumentKind::RectificationOrder => "责改",
        }
    }

    /// The machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::OnSiteRecord => "on_site_record",
            DocumentKind::RectificationOrder => "rectification_order",
        }
    }

    /// Parses a machine name.
    pub fn parse(s: &str) -> Option<DocumentKind> {
        [DocumentKind::OnSiteRecord, DocumentKind::RectificationOrder].into_iter().find(|k| k.as_str() == s)
    }
}

/// Why a document cannot be rendered, signed or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Documents are rendered from a complete record.
    #[error("documents are rendered from a recorded inspection; this one is {0}")]
    RecordNotComplete(&'static str),
    /// Conflicting entries are open in what the document covers.
    #[error("{0} conflicting entries are open in what the document covers; resolve them first")]
    OpenConflicts(usize),
    /// An order to rectify needs findings that require rectification.
    #[error("department {0} has no finding that requires rectification")]
    NothingToOrder(String),
    /// An order to rectify is issued by a department, which must be named.
    #[error("an order to rectify needs its issuing department")]
    DepartmentRequired,
    /// The department does not take part in the task.
    #[error("department {0} does not take part in this task")]
    UnknownDepartment(String),
    /// No such document version in the record.
    #[error("no document {0} in this record")]
    UnknownDocument(String),
    /// The stored document bytes do not hash to the document's identity.
    #[error("document {0} was altered: its bytes no longer match its hash")]
    Altered(String),
    /// A newer version exists; only the latest is signed.
    #[error("document {old} was superseded by version {newer}; sign the latest version")]
    Superseded {
        /// The version asked for (SHA-256).
        old: String,
        /// The version that replaced it (SHA-256).
        newer: String,
    },
    /// The inspector signed this version already.
    #[error("{0} has already signed this document")]
    AlreadySigned(String),
    /// The party already signed or refused.
    #[error("the party has already signed or refused this document")]
    PartyAlreadyActed,
    /// A party's refusal needs a witness.
    #[error("a refusal to sign must name a witness")]
    WitnessRequired,
}
