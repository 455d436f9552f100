//! Legal documents and signatures: rendering a version, each inspector signing on their own
//! device, the party signing by hand or refusing before a witness; and the task code shown on site.

use onevisit_core::document::DocumentKind as CoreKind;
use onevisit_core::record::documents::{DocumentReport, MissingSignature, PartyAct};
use onevisit_core::record::seals::SealCheck;

use crate::errors::{RecordError, TaskCodeError};
use crate::store::{DeviceStore, task_code};

/// Which legal document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DocumentKind {
    /// 现场检查笔录.
    OnSiteRecord,
    /// 责令改正通知书 (one per department).
    RectificationOrder,
    /// 送达地址确认书 (the party's address for service).
    AddressConfirmation,
    /// 送达回证 (the service of a department's order).
    ServiceReceipt,
}

impl From<DocumentKind> for CoreKind {
    fn from(k: DocumentKind) -> Self {
        match k {
            DocumentKind::OnSiteRecord => CoreKind::OnSiteRecord,
            DocumentKind::RectificationOrder => CoreKind::RectificationOrder,
            DocumentKind::AddressConfirmation => CoreKind::AddressConfirmation,
            DocumentKind::ServiceReceipt => CoreKind::ServiceReceipt,
        }
    }
}

impl From<CoreKind> for DocumentKind {
    fn from(k: CoreKind) -> Self {
        match k {
            CoreKind::OnSiteRecord => DocumentKind::OnSiteRecord,
            CoreKind::RectificationOrder => DocumentKind::RectificationOrder,
            CoreKind::AddressConfirmation => DocumentKind::AddressConfirmation,
            CoreKind::ServiceReceipt => DocumentKind::ServiceReceipt,
        }
    }
}

/// A rendered document version, for preview.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DocumentPreview {
    /// The version's hash: what signatures name.
    pub sha256: String,
    /// Which document.
    pub kind: DocumentKind,
    /// Its number, e.g. 平市监现记〔2026〕…号.
    pub number: String,
    /// Its version (a changed record makes a new one).
    pub version: u32,
    /// The printable text (zh-CN).
    pub text: String,
}

/// A document version's signatures and whether it counts as signed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DocumentStatus {
    /// The version's hash.
    pub sha256: String,
    /// Which document.
    pub kind: DocumentKind,
    /// Its number.
    pub number: String,
    /// Its version.
    pub version: u32,
    /// Whether its bytes match its hash.
    pub intact: bool,
    /// The newer version that replaced it.
    pub superseded_by: Option<String>,
    /// Every signature, checked.
    pub signatures: Vec<SignatureView>,
    /// What is still missing (zh-CN).
    pub missing: Vec<String>,
    /// Intact, two named officers of every acting department and the party (or a witnessed
    /// refusal), no signature forged.
    pub signed: bool,
    /// Whether the agency's electronic seal is on it and holds under the tenant root.
    pub sealed: bool,
    /// The seal in words (zh-CN): the agency and time, not yet sealed, or why it is invalid.
    pub seal: String,
}

/// One signature on a document.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SignatureView {
    /// Who signed (an inspector id, the party's name, or 拒绝签名).
    pub signer: String,
    /// Device time of signing.
    pub at_ms: Option<i64>,
    /// Whether it verifies.
    pub valid: bool,
    /// What is wrong with it.
    pub problem: Option<String>,
    /// How the signer's presence was confirmed at signing (zh-CN), if it was.
    pub presence: Option<String>,
}

impl DocumentStatus {
    /// A report with its seal as checked.
    fn of(r: DocumentReport, seal: &SealCheck) -> Self {
        DocumentStatus { sealed: seal.is_sealed(), seal: seal.label_zh(), ..r.into() }
    }
}

impl From<DocumentReport> for DocumentStatus {
    /// A report of a version just signed here: no seal yet (the server seals on sync).
    fn from(r: DocumentReport) -> Self {
        DocumentStatus {
            sealed: false,
            seal: SealCheck::Unsealed.label_zh(),
            sha256: r.sha256,
            kind: r.kind.into(),
            number: r.number,
            version: r.version,
            intact: r.intact,
            superseded_by: r.superseded_by,
            signatures: r
                .signatures
                .into_iter()
                .map(|s| SignatureView {
                    signer: s.signer,
                    at_ms: s.device_time_ms,
                    valid: s.problem.is_none(),
                    problem: s.problem.map(|p| p.to_string()),
                    presence: s.presence.map(|p| p.label_zh().to_string()),
                })
                .collect(),
            missing: r.missing.iter().map(MissingSignature::label_zh).collect(),
            signed: r.signed,
        }
    }
}

/// A task code token for the enterprise to scan (亮码检查).
#[derive(Debug, Clone, uniffi::Record)]
pub struct TaskCodeToken {
    /// The token (what the QR code holds).
    pub token: String,
    /// The QR code as a PNG image.
    pub qr_png: Vec<u8>,
    /// The task.
    pub code: String,
    /// The enterprise.
    pub uscc: String,
    /// Valid from, ms since the epoch.
    pub not_before_ms: i64,
    /// Valid until.
    pub expires_ms: i64,
}

/// What a verified task code says.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TaskCodeClaims {
    /// The task.
    pub code: String,
    /// The enterprise.
    pub uscc: String,
    /// The inspectors: name and certificate number.
    pub inspectors: Vec<String>,
    /// The inspection matters.
    pub matters: Vec<String>,
    /// The issuing device.
    pub issuer: String,
}

impl From<onevisit_core::task_token::TaskClaims> for TaskCodeClaims {
    fn from(claims: onevisit_core::task_token::TaskClaims) -> Self {
        TaskCodeClaims {
            code: claims.code,
            uscc: claims.uscc,
            inspectors: claims.inspectors.into_iter().map(|(name, number)| format!("{name}（{number}）")).collect(),
            matters: claims.matters,
            issuer: claims.issuer,
        }
    }
}

/// A task code the party checked with the tenant root: what it says, and who issued it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TaskCodeCheck {
    /// What the task code says.
    pub claims: TaskCodeClaims,
    /// The inspector the issuing device is certified for.
    pub issuer_inspector: String,
    /// Valid from, ms since the epoch.
    pub not_before_ms: i64,
    /// Valid until.
    pub expires_ms: i64,
}

/// The inspected party's check of a scanned task code (亮码核验), offline, with nothing but the
/// tenant's published root key: no store, no device key. Errors say 无效 / 已过期 / 尚未生效, and a
/// wrong root key is named as such, never as a forgery.
#[uniffi::export]
pub fn check_task_code(token: String, root_public_key_hex: String) -> Result<TaskCodeCheck, TaskCodeError> {
    let root =
        onevisit_core::identity::verifying_key_from_hex(root_public_key_hex.trim()).ok_or(TaskCodeError::BadRootKey)?;
    let checked = onevisit_core::task_token::verify_with_root(&token, &root, onevisit_core::store::now_ms())?;
    Ok(TaskCodeCheck {
        not_before_ms: checked.claims.not_before_ms,
        expires_ms: checked.claims.expires_ms,
        issuer_inspector: checked.issuer_inspector,
        claims: checked.claims.into(),
    })
}

#[uniffi::export]
impl DeviceStore {
    /// Renders the latest version of a document from the record (a new version only when what it
    /// covers changed). A rectification order names its department.
    pub fn render_document(
        &self,
        code: String,
        kind: DocumentKind,
        department: Option<String>,
    ) -> Result<DocumentPreview, RecordError> {
        let code = task_code(&code)?;
        let department = department
            .map(|d| d.parse())
            .transpose()
            .map_err(|e: onevisit_core::domain::IdError| RecordError::InvalidInput { detail: e.to_string() })?;
        let mut store = self.lock::<RecordError>()?;
        let version = store.render_document(&code, kind.into(), department)?;
        // The page as printed: a version rendered before shows the signatures made on it.
        let text = store.printed_document(&code, &version.sha256)?;
        Ok(DocumentPreview {
            sha256: version.sha256,
            kind: version.kind.into(),
            number: version.number,
            version: version.version,
            text,
        })
    }

    /// Signs a document version as this device's inspector.
    pub fn sign_document(&self, code: String, sha256: String) -> Result<DocumentStatus, RecordError> {
        let code = task_code(&code)?;
        Ok(self.lock::<RecordError>()?.sign_document(&code, &sha256)?.into())
    }

    /// Records the party's handwritten signature (a PNG from the signature pad).
    pub fn party_signs(
        &self,
        code: String,
        sha256: String,
        name: String,
        role: String,
        signature_png: Vec<u8>,
    ) -> Result<DocumentStatus, RecordError> {
        let code = task_code(&code)?;
        let act = PartyAct::Signed { name, role, image_sha256: String::new() };
        Ok(self.lock::<RecordError>()?.party_act(&code, &sha256, act, Some(&signature_png))?.into())
    }

    /// Records that the party refused to sign, before a witness, with the witness's own
    /// handwriting from the signature pad when they sign on the device.
    pub fn party_refuses(
        &self,
        code: String,
        sha256: String,
        reason: String,
        witness: String,
        witness_detail: Option<String>,
        witness_signature_png: Option<Vec<u8>>,
    ) -> Result<DocumentStatus, RecordError> {
        let code = task_code(&code)?;
        let act = PartyAct::Refused { reason, witness, witness_detail };
        Ok(self.lock::<RecordError>()?.party_act(&code, &sha256, act, witness_signature_png.as_deref())?.into())
    }

    /// A document version as printed, with every signature made on it so far.
    pub fn document_text(&self, code: String, sha256: String) -> Result<String, RecordError> {
        let code = task_code(&code)?;
        Ok(self.lock::<RecordError>()?.printed_document(&code, &sha256)?)
    }

    /// A document version printed to PDF (A4 pages, each with its signature block, page number and
    /// the document's hash as a QR code), for printing or sharing.
    pub fn document_pdf(&self, code: String, sha256: String) -> Result<Vec<u8>, RecordError> {
        let code = task_code(&code)?;
        Ok(self.lock::<RecordError>()?.printed_pdf(&code, &sha256)?)
    }

    /// Every document version of a task with its signatures.
    pub fn documents(&self, code: String) -> Result<Vec<DocumentStatus>, RecordError> {
        let code = task_code(&code)?;
        let mut store = self.lock::<RecordError>()?;
        let versions = store.documents(&code)?;
        versions
            .iter()
            .map(|v| {
                let seal = store.seal_check(&code, &v.sha256)?;
                Ok(DocumentStatus::of(store.document_report(&code, &v.sha256)?, &seal))
            })
            .collect()
    }

    /// Issues the task code shown on site, signed by this device.
    pub fn issue_task_code(&self, code: String) -> Result<TaskCodeToken, RecordError> {
        let code = task_code(&code)?;
        let (token, claims) = self.lock::<RecordError>()?.issue_task_token(&code)?;
        let qr_png =
            onevisit_core::task_token::qr_png(&token).map_err(|e| RecordError::TaskCode { detail: e.to_string() })?;
        Ok(TaskCodeToken {
            token,
            qr_png,
            code: claims.code,
            uscc: claims.uscc,
            not_before_ms: claims.not_before_ms,
            expires_ms: claims.expires_ms,
        })
    }
}

/// Checks a scanned task code offline against the issuing device's public key (hex), now.
#[uniffi::export]
pub fn verify_task_code(token: String, issuer_public_key_hex: String) -> Result<TaskCodeClaims, TaskCodeError> {
    let key = onevisit_core::identity::verifying_key_from_hex(issuer_public_key_hex.trim())
        .ok_or(TaskCodeError::BadIssuerKey)?;
    let claims = onevisit_core::task_token::verify(&token, &key, onevisit_core::store::now_ms())?;
    Ok(claims.into())
}
