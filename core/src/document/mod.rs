//! Legal documents (执法文书) rendered from an inspection record at given heads, as canonical JSON
//! (what signatures cover) plus a readable zh-CN rendering, and their signatures.

pub mod completeness;
pub mod number;
pub mod pdf;
pub mod presence;
pub mod render;
pub mod signature;

use serde::{Deserialize, Serialize};

pub use pdf::{PdfError, render_pdf};
pub use render::{DocumentContent, render_page, render_text};
pub use signature::{DocumentSignature, SignatureRole, SignedStatement};

/// The schema tag of documents written by this code.
pub const DOCUMENT_SCHEMA: &str = "onevisit.document.v2";

/// The schema of documents rendered before officers were named by id (still read and verified;
/// not re-rendered for comparison, since this code lays them out differently).
pub const DOCUMENT_SCHEMA_V1: &str = "onevisit.document.v1";

/// Which legal document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 现场检查笔录: the on-site inspection record.
    OnSiteRecord,
    /// 责令改正通知书: an order to rectify, issued by one department.
    RectificationOrder,
    /// 送达地址确认书: the party confirms where (and whether electronically) it accepts service.
    AddressConfirmation,
    /// 送达回证: the record that a department's order was served, signed by the recipient or
    /// left with them before a witness (留置送达).
    ServiceReceipt,
}

impl DocumentKind {
    /// The document's title.
    pub fn title_zh(self) -> &'static str {
        match self {
            DocumentKind::OnSiteRecord => "现场检查笔录",
            DocumentKind::RectificationOrder => "责令改正通知书",
            DocumentKind::AddressConfirmation => "送达地址确认书",
            DocumentKind::ServiceReceipt => "送达回证",
        }
    }

    /// The kind's code inside document numbers.
    pub fn number_code(self) -> &'static str {
        match self {
            DocumentKind::OnSiteRecord => "现检",
            DocumentKind::RectificationOrder => "责改",
            DocumentKind::AddressConfirmation => "送确",
            DocumentKind::ServiceReceipt => "送回",
        }
    }

    /// The machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::OnSiteRecord => "on_site_record",
            DocumentKind::RectificationOrder => "rectification_order",
            DocumentKind::AddressConfirmation => "address_confirmation",
            DocumentKind::ServiceReceipt => "service_receipt",
        }
    }

    /// Every kind, in the order lists show them.
    pub const ALL: [DocumentKind; 4] = [
        DocumentKind::OnSiteRecord,
        DocumentKind::RectificationOrder,
        DocumentKind::AddressConfirmation,
        DocumentKind::ServiceReceipt,
    ];

    /// Whether the party acts on it as the one served (签收, or 留置送达 on a refusal).
    pub fn is_served(self) -> bool {
        matches!(self, DocumentKind::RectificationOrder | DocumentKind::ServiceReceipt)
    }

    /// Whether a refusal before a witness stands in for the party's signature: not on the
    /// address confirmation, which is the party's own statement.
    pub fn takes_refusal(self) -> bool {
        self != DocumentKind::AddressConfirmation
    }

    /// Parses a machine name.
    pub fn parse(s: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why a document cannot be rendered, signed or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Documents are rendered from a complete record.
    #[error("文书须在检查记录完成后生成，本记录目前是“{0}”：牵头人先运行 onevisit record status 任务编号 recorded")]
    RecordNotComplete(&'static str),
    /// Conflicting entries are open in what the document covers.
    #[error("文书涉及的内容中还有 {0} 项冲突未解决：先由牵头人运行 onevisit conflicts list 查看并解决")]
    OpenConflicts(usize),
    /// An order to rectify needs findings that require rectification.
    #[error("{0} 部门没有需要责令改正的问题")]
    NothingToOrder(String),
    /// The party has not confirmed an address for service.
    #[error(
        "尚未记录当事人的送达地址：先记录送达地址（onevisit record service-address 任务编号 --address … --recipient … --phone …）"
    )]
    NoServiceAddress,
    /// A service receipt records the service of the department's order, which must exist.
    #[error("{0} 部门尚未制作责令改正通知书，无可送达的文书")]
    NothingToServe(String),
    /// The address confirmation is the party's own statement: a refusal does not stand in for it.
    #[error("送达地址确认书须由当事人本人签名确认，拒签不能代替")]
    RefusalNotAccepted,
    /// An order to rectify is issued by a department, which must be named.
    #[error("责令改正通知书和送达回证须写明发文部门（--department）")]
    DepartmentRequired,
    /// The department does not take part in the task.
    #[error("{0} 部门不参加本任务")]
    UnknownDepartment(String),
    /// No such document version in the record.
    #[error("本记录中没有文书 {0}（onevisit document versions 列出全部）")]
    UnknownDocument(String),
    /// The stored document bytes do not hash to the document's identity.
    #[error("文书 {0} 已被改动：内容与其哈希值不符")]
    Altered(String),
    /// A newer version exists; only the latest is signed.
    #[error("文书 {old} 已有新版本 {newer}：请签署最新版本")]
    Superseded {
        /// The version asked for (SHA-256).
        old: String,
        /// The version that replaced it (SHA-256).
        newer: String,
    },
    /// The inspector signed this version already.
    #[error("{0} 已经签署过这份文书")]
    AlreadySigned(String),
    /// The party already signed or refused.
    #[error("当事人已签署或拒签过这份文书")]
    PartyAlreadyActed,
    /// A party's refusal needs a witness.
    #[error("当事人拒签须有见证人（--witness 姓名）")]
    WitnessRequired,
    /// Only the officers a document names sign it.
    #[error("{0} 不是这份文书列明的执法人员，不能签署（责令改正通知书由发文部门的执法人员签署）")]
    NotNamed(String),
    /// A handwritten signature image is drawn for one document only.
    #[error("这张手写签名图像已用于文书 {0}：当事人须在本文书上重新手写签名")]
    HandwritingReused(String),
}
