//! One error enum per area, with variants an app can act on; the core's errors are mapped here and
//! nowhere else. Each error's `Display` is the zh-CN message an inspector reads, exported to Kotlin
//! (`toString()`) and Swift (`description`), so the apps do not write the messages again.

use onevisit_core::bundle::BundleError as CoreBundleError;
use onevisit_core::evidence::EvidenceError;
use onevisit_core::identity::KeyError;
use onevisit_core::record::RecordError as CoreRecordError;
use onevisit_core::store::StoreError as CoreStoreError;
use onevisit_core::sync::SyncError as CoreSyncError;
use onevisit_core::sync::client::ClientError;
use onevisit_core::task_token::TokenError;

/// Opening a store, its key and its directory data (Kotlin `StoreException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum StoreError {
    /// There is no store in the folder and no inspector was given to create one.
    #[error("本机尚未初始化执法终端")]
    NotInitialised {
        /// The folder that holds no store.
        path: String,
    },
    /// The device key did not unlock: wrong key or passphrase, the platform key store refused
    /// (device locked, key invalidated), or the sealed key was altered.
    #[error("设备密钥无法解锁，请确认设备锁屏凭据")]
    KeyLocked {
        /// What the platform or the key file said.
        detail: String,
    },
    /// The store was written by a newer app.
    #[error("数据由更新版本的应用写入，请升级应用")]
    SchemaTooNew {
        /// The store's schema version.
        found: u32,
        /// The newest version this app reads.
        supported: u32,
    },
    /// No directory data yet: enrol and sync, or import it.
    #[error("尚无基础数据，请先登记并同步")]
    NoDirectory,
    /// The directory data offered is not valid.
    #[error("基础数据无效：{detail}")]
    InvalidDirectory {
        /// What is wrong with it.
        detail: String,
    },
    /// An argument is not well formed (an id, a date).
    #[error("输入有误：{detail}")]
    InvalidInput {
        /// What is wrong with it.
        detail: String,
    },
    /// The files of the store failed (disk full, permissions, corruption).
    #[error("本机存储出错：{detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
}

/// Recording an inspection, its documents and signatures (Kotlin `RecordException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum RecordError {
    /// The signer's presence was not confirmed (prompt cancelled, check failed or unavailable):
    /// nothing was signed.
    #[error("{detail}")]
    PresenceNotConfirmed {
        /// Why, in zh-CN.
        detail: String,
    },
    /// No task with this code on this device.
    #[error("本机没有任务 {code}")]
    UnknownTask {
        /// The task code asked for.
        code: String,
    },
    /// This device's inspector is not assigned to the task.
    #[error("您（{inspector}）未被分配到该任务")]
    NotAssigned {
        /// This device's inspector.
        inspector: String,
    },
    /// Only the lead inspector may do this (resolve conflicts).
    #[error("只有牵头执法人员可以裁决冲突")]
    NotLeadInspector {
        /// This device's inspector.
        inspector: String,
    },
    /// The check point is not part of the task.
    #[error("检查要点 {check_point} 不属于本次检查")]
    UnknownCheckPoint {
        /// The check point named.
        check_point: String,
    },
    /// The answer's kind does not fit the check point.
    #[error("检查要点 {check_point} 需要填写{}", answer_kind(expected))]
    WrongAnswerType {
        /// The check point answered.
        check_point: String,
        /// The kind it takes (`pass_fail`, `number`, `text`, `photo`).
        expected: String,
        /// The kind given.
        got: String,
    },
    /// A number answer that is not a decimal number.
    #[error("“{value}”不是有效数值")]
    InvalidNumber {
        /// The text given.
        value: String,
    },
    /// A number outside the check point's plausible range.
    #[error("{value} 超出检查要点 {check_point} 的合理范围")]
    NumberOutOfRange {
        /// The check point answered.
        check_point: String,
        /// The number given.
        value: String,
    },
    /// A number in another unit than the check point's.
    #[error("检查要点 {check_point} 的单位应为 {expected}")]
    WrongUnit {
        /// The check point answered.
        check_point: String,
        /// Its unit.
        expected: String,
        /// The unit given.
        got: String,
    },
    /// A photo check point answered without a photo.
    #[error("检查要点 {check_point} 需要至少一张现场照片")]
    MissingEvidence {
        /// The check point answered.
        check_point: String,
    },
    /// The answer cites a photo that is not attached.
    #[error("照片尚未添加到本记录")]
    UnknownEvidence {
        /// The photo's SHA-256 (hex).
        sha256: String,
    },
    /// The entry needs the team on site (check in first).
    #[error("请先签到（当前状态：{status}）")]
    NotOnSite {
        /// The record's status label (zh-CN).
        status: String,
    },
    /// The lifecycle forbids this status change.
    #[error("状态不能从“{from}”改为“{to}”")]
    ForbiddenTransition {
        /// The current status label (zh-CN).
        from: String,
        /// The status asked for (zh-CN).
        to: String,
    },
    /// Recording cannot complete while something is missing.
    #[error("记录尚不完整：{}", missing.join("、"))]
    Incomplete {
        /// What is missing, one zh-CN line each.
        missing: Vec<String>,
    },
    /// Recording cannot complete while conflicts are open.
    #[error("还有 {count} 处冲突需要裁决")]
    OpenConflicts {
        /// How many conflicts are open.
        count: u32,
    },
    /// No conflict is open on that field, or the choice does not exist.
    #[error("该项没有待裁决的冲突")]
    NoSuchConflict {
        /// The field named.
        field: String,
    },
    /// A document cannot be rendered or signed (superseded, already signed, not found).
    #[error("文书无法生成或签署：{detail}")]
    Document {
        /// Why (zh-CN where the core says it in Chinese).
        detail: String,
    },
    /// The task code cannot be issued.
    #[error("检查码无法签发：{detail}")]
    TaskCode {
        /// Why.
        detail: String,
    },
    /// An argument is not well formed (empty text, a bad id or date, a bad position).
    #[error("输入有误：{detail}")]
    InvalidInput {
        /// What is wrong with it.
        detail: String,
    },
    /// An inspector writes only their own department's part of the record.
    #[error("只能填写本部门的检查内容（{department}）")]
    OtherDepartment {
        /// This device's inspector.
        inspector: String,
        /// The department whose part was touched.
        department: String,
    },
    /// The task cannot close while these findings' loops are open (not rectified, nor handed
    /// over for a case; for a re-inspection, not yet re-inspected).
    #[error("以下问题尚未闭环，任务不能办结：{}", findings.join("、"))]
    OpenFindings {
        /// The findings still open.
        findings: Vec<String>,
    },
    /// The finding's re-inspection result was recorded already (results are never rewritten).
    #[error("问题 {finding} 的复查结果已经记录，不能改写")]
    AlreadyRechecked {
        /// The finding.
        finding: String,
    },
    /// A re-inspection result needs at least one photo showing it.
    #[error("复查结果须附至少一张现场照片")]
    RecheckWithoutEvidence,
    /// The inspector checked in already.
    #[error("您已签到，无需重复签到")]
    AlreadyCheckedIn {
        /// This device's inspector.
        inspector: String,
    },
    /// A received record (a file, the server's answer) carries a change the write rules forbid;
    /// nothing of it was taken in. `rule` is the machine name, `explanation` its zh-CN text.
    #[error("收到的记录含有违规修改，已拒收：{explanation}")]
    Forbidden {
        /// The rule's machine name.
        rule: String,
        /// Where in the record.
        path: String,
        /// The rule in zh-CN.
        explanation: String,
    },
    /// The store failed or holds something unreadable.
    #[error("本机存储出错：{detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
}

/// The zh-CN name of an answer kind, as check points ask for it.
fn answer_kind(kind: &str) -> &str {
    match kind {
        "pass_fail" => "“符合/不符合/不适用”",
        "number" => "数值",
        "text" => "文字",
        "photo" => "照片",
        other => other,
    }
}

/// Taking a photo in as evidence (Kotlin `PhotoException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum PhotoError {
    /// The file could not be read.
    #[error("无法读取照片文件")]
    Unreadable {
        /// The file.
        path: String,
        /// What the system said.
        detail: String,
    },
    /// The bytes are not a JPEG or PNG image.
    #[error("该文件不是图片（应为 JPEG 或 PNG）")]
    NotAnImage,
    /// A recognised image format that is not accepted.
    #[error("不接受 {format} 格式，请以 JPEG 拍摄")]
    UnsupportedFormat {
        /// The format recognised.
        format: String,
    },
    /// Too many bytes or pixels for a photo.
    #[error("照片过大")]
    TooLarge {
        /// Which limit.
        detail: String,
    },
    /// The image data is truncated or damaged.
    #[error("照片已损坏")]
    Damaged {
        /// What the decoder said.
        detail: String,
    },
    /// The record refused the photo (unknown task, target or check point, not assigned).
    #[error(transparent)]
    Refused {
        /// Why the record refused it.
        reason: RecordError,
    },
    /// The caller cancelled before the photo was stored.
    #[error("已取消")]
    Cancelled,
}

/// Enrolling and syncing with the city server (Kotlin `SyncException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum SyncError {
    /// The device is not enrolled yet.
    #[error("本机尚未登记，请输入一次性登记码")]
    NotEnrolled,
    /// A scanned QR code is not a OneVisit enrolment code, or a malformed one.
    #[error("{detail}")]
    NotAnEnrolmentCode {
        /// Why, in zh-CN.
        detail: String,
    },
    /// The server could not be reached (after the retries): try again later.
    #[error("无法连接服务器，稍后将自动重试")]
    Offline {
        /// What the network said.
        detail: String,
    },
    /// The device's certificate was revoked: it must be enrolled again by an administrator.
    #[error("本设备已被注销：{reason}")]
    Revoked {
        /// The administrator's reason.
        reason: String,
    },
    /// The device's certificate expired: enrol again.
    #[error("设备证书已过期，请重新登记")]
    Expired {
        /// What the server said.
        detail: String,
    },
    /// The server refused the device's authentication (a wrong clock, a replay).
    #[error("服务器拒绝了本设备的身份（请检查设备时间）")]
    Unauthenticated {
        /// The server's machine-readable kind.
        kind: String,
        /// The server's explanation.
        detail: String,
    },
    /// The server refused the request (a wrong one-time code, a limit).
    #[error("服务器拒绝了请求：{detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's machine-readable kind.
        kind: String,
        /// The server's explanation.
        detail: String,
    },
    /// What the server sent does not verify or is not the protocol: do not trust it.
    #[error("服务器的应答无法验证，已停止同步")]
    Untrusted {
        /// What failed to verify.
        detail: String,
    },
    /// The caller cancelled; what was done so far is kept and the next sync resumes.
    #[error("同步已取消")]
    Cancelled,
    /// The local store failed.
    #[error("本机存储出错：{detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
    /// No secure connection: plain http to another host, or a server certificate this device does
    /// not trust (not the tenant's pinned root). Check the server address; do not retry blindly.
    #[error("连接不安全，已拒绝：{detail}")]
    InsecureConnection {
        /// Why the connection was refused.
        detail: String,
    },
}

/// Exporting and verifying evidence bundles (Kotlin `BundleException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum BundleError {
    /// A bundle is sealed with the device certificate: enrol first.
    #[error("本机尚未登记，无法封存证据包")]
    NotEnrolled,
    /// A photo's original is not on this device: fetch it first.
    #[error("本机缺少照片原件，请先同步并下载照片")]
    MissingPhoto {
        /// The photo's SHA-256 (hex).
        sha256: String,
    },
    /// The destination exists already.
    #[error("目标已存在：{path}")]
    Exists {
        /// The destination.
        path: String,
    },
    /// The path is not a bundle at all.
    #[error("不是证据包：{path}")]
    NotABundle {
        /// The file given.
        path: String,
    },
    /// The root key is not 64 hex characters of an Ed25519 public key.
    #[error("根公钥格式不正确（应为 64 位十六进制）")]
    BadRootKey,
    /// An unknown task code was named.
    #[error("本机没有任务 {code}")]
    UnknownTask {
        /// The task code asked for.
        code: String,
    },
    /// A file could not be read or written.
    #[error("读写文件失败：{detail}")]
    Io {
        /// What the system said.
        detail: String,
    },
    /// The caller cancelled; a partial export is removed.
    #[error("已取消")]
    Cancelled,
}

/// Checking a task code token shown by inspectors (Kotlin `TaskCodeException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum TaskCodeError {
    /// Not a OneVisit task code.
    #[error("不是有效的检查码")]
    Malformed,
    /// The claims were altered after issue, or the key given is not the issuing device's.
    #[error("无效：检查码的签名与签发设备不符（内容被改动，或所给的不是签发设备的公钥）")]
    BadSignature,
    /// Past its window.
    #[error("检查码已过期（{}，北京时间）", onevisit_core::beijing::minute(*expired_at_ms))]
    Expired {
        /// When it expired (ms since the epoch).
        expired_at_ms: i64,
    },
    /// Before its window.
    #[error("检查码尚未生效（{} 起有效，北京时间）", onevisit_core::beijing::minute(*valid_from_ms))]
    NotYetValid {
        /// When it becomes valid (ms since the epoch).
        valid_from_ms: i64,
    },
    /// The issuer key is not 64 hex characters of an Ed25519 public key.
    #[error("签发设备公钥格式不正确")]
    BadIssuerKey,
    /// The root key is not 64 hex characters of an Ed25519 public key.
    #[error("根公钥格式不正确（应为 64 位十六进制）")]
    BadRootKey,
    /// An old task code (OV1) without the issuing device's certificate: the root alone cannot check it.
    #[error("无法只凭根公钥核验：这是旧格式的检查码，请执法人员重新出示检查码")]
    NoCertificate,
    /// The issuing device's certificate is not signed by the root key given (another tenant's key).
    #[error("无效：签发设备的证书不是由所给根公钥签发的（请核对根公钥）")]
    UntrustedIssuer,
    /// The issuing device's certificate was not valid at the time of the check.
    #[error("无效：签发设备的证书不在有效期内")]
    IssuerCertificateExpired,
}

/// What a platform key protector reports when it cannot seal or open the device key.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum KeyProtectorError {
    /// The platform refused (locked device, key invalidated, user cancelled).
    #[error("系统密钥库拒绝了请求：{detail}")]
    Refused {
        /// What the platform said.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeyProtectorError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        KeyProtectorError::Refused { detail: e.reason }
    }
}

fn text(e: &dyn std::fmt::Display) -> String {
    e.to_string()
}

impl From<CoreStoreError> for StoreError {
    fn from(e: CoreStoreError) -> Self {
        match e {
            CoreStoreError::NotInitialised(path) => StoreError::NotInitialised { path: path.display().to_string() },
            CoreStoreError::Key(k) => key_error(k),
            CoreStoreError::SchemaTooNew { found, supported } => StoreError::SchemaTooNew { found, supported },
            CoreStoreError::NoDirectory => StoreError::NoDirectory,
            CoreStoreError::Directory(d) => StoreError::InvalidDirectory { detail: text(&d) },
            CoreStoreError::UnknownInspector(_)
            | CoreStoreError::NoOperator
            | CoreStoreError::AlreadyInitialised(_) => StoreError::InvalidInput { detail: text(&e) },
            other => StoreError::Storage { detail: text(&other) },
        }
    }
}

/// Maps a key error: an unlock failure is actionable, file problems are storage.
pub(crate) fn key_error(k: KeyError) -> StoreError {
    match k {
        KeyError::WrongKeyOrTampered
        | KeyError::PublicKeyMismatch
        | KeyError::MalformedSealedSeed
        | KeyError::Platform(_) => StoreError::KeyLocked { detail: text(&k) },
        KeyError::EmptyPassphrase | KeyError::KeyFileLength { .. } => StoreError::InvalidInput { detail: text(&k) },
        other => StoreError::Storage { detail: text(&other) },
    }
}

impl From<CoreRecordError> for RecordError {
    fn from(e: CoreRecordError) -> Self {
        use CoreRecordError as R;
        let detail = text(&e);
        match e {
            R::NotAssigned(i) => RecordError::NotAssigned { inspector: i.to_string() },
            R::NotLeadInspector(i) => RecordError::NotLeadInspector { inspector: i.to_string() },
            R::UnknownCheckPoint(c) => RecordError::UnknownCheckPoint { check_point: c.to_string() },
            R::WrongAnswerType { check_point, expected, got } => RecordError::WrongAnswerType {
                check_point: check_point.to_string(),
                expected: expected.into(),
                got: got.into(),
            },
            R::InvalidNumber { value } => RecordError::InvalidNumber { value },
            R::NumberOutOfRange { check_point, value, .. } => {
                RecordError::NumberOutOfRange { check_point: check_point.to_string(), value }
            }
            R::WrongUnit { check_point, expected, got } => {
                RecordError::WrongUnit { check_point: check_point.to_string(), expected, got }
            }
            R::MissingEvidence(c) => RecordError::MissingEvidence { check_point: c.to_string() },
            R::UnknownEvidence(sha256) => RecordError::UnknownEvidence { sha256 },
            R::NotOnSite(status) => RecordError::NotOnSite { status: status.label_zh().into() },
            R::ForbiddenTransition { from, to } => {
                RecordError::ForbiddenTransition { from: from.label_zh().into(), to: to.label_zh().into() }
            }
            R::Incomplete { missing } => RecordError::Incomplete { missing },
            R::OpenConflicts(n) => RecordError::OpenConflicts { count: n as u32 },
            R::NoSuchConflict(f) => RecordError::NoSuchConflict { field: f.to_string() },
            R::NoSuchChoice { field, .. } => RecordError::NoSuchConflict { field: field.to_string() },
            R::Document(_) => RecordError::Document { detail },
            R::OtherDepartment { inspector, department } => {
                RecordError::OtherDepartment { inspector: inspector.to_string(), department: department.to_string() }
            }
            R::AlreadyCheckedIn(i) => RecordError::AlreadyCheckedIn { inspector: i.to_string() },
            R::OpenFindings(findings) => RecordError::OpenFindings { findings },
            R::AlreadyRechecked(finding) => RecordError::AlreadyRechecked { finding },
            R::RecheckWithoutEvidence => RecordError::RecheckWithoutEvidence,
            R::Forbidden(f) => RecordError::Forbidden {
                rule: f.rule.as_str().into(),
                path: f.path,
                explanation: f.rule.label_zh().into(),
            },
            R::MalformedEvidenceHash(_)
            | R::UnknownTarget(_)
            | R::EmptyText(_)
            | R::InvalidPosition
            | R::DeadlineMismatch
            | R::NotToReinspect(_)
            | R::DeadlineNotAfterRecheck(_)
            | R::Assignment(_) => RecordError::InvalidInput { detail },
            _ => RecordError::Storage { detail },
        }
    }
}

impl From<CoreStoreError> for RecordError {
    fn from(e: CoreStoreError) -> Self {
        match e {
            CoreStoreError::UnknownTask(code) => RecordError::UnknownTask { code: code.to_string() },
            CoreStoreError::Record(r) => r.into(),
            CoreStoreError::Token(t) => RecordError::TaskCode { detail: text(&t) },
            CoreStoreError::NoOperator | CoreStoreError::UnknownInspector(_) | CoreStoreError::NoDirectory => {
                RecordError::InvalidInput { detail: text(&e) }
            }
            CoreStoreError::Evidence(ev) => RecordError::InvalidInput { detail: text(&ev) },
            CoreStoreError::Presence(p) => RecordError::PresenceNotConfirmed { detail: text(&p) },
            other => RecordError::Storage { detail: text(&other) },
        }
    }
}

impl From<onevisit_core::domain::IdError> for RecordError {
    fn from(e: onevisit_core::domain::IdError) -> Self {
        RecordError::InvalidInput { detail: text(&e) }
    }
}

impl From<CoreStoreError> for PhotoError {
    fn from(e: CoreStoreError) -> Self {
        match e {
            CoreStoreError::Evidence(ev) => ev.into(),
            other => PhotoError::Refused { reason: other.into() },
        }
    }
}

impl From<EvidenceError> for PhotoError {
    fn from(e: EvidenceError) -> Self {
        let detail = text(&e);
        match e {
            EvidenceError::NotAnImage | EvidenceError::Empty => PhotoError::NotAnImage,
            EvidenceError::UnsupportedFormat(format) => PhotoError::UnsupportedFormat { format: format.into() },
            EvidenceError::TooLarge { .. } | EvidenceError::TooManyPixels { .. } => PhotoError::TooLarge { detail },
            _ => PhotoError::Damaged { detail },
        }
    }
}

impl From<CoreSyncError> for SyncError {
    fn from(e: CoreSyncError) -> Self {
        let detail = text(&e);
        match e {
            CoreSyncError::NotEnrolled => SyncError::NotEnrolled,
            CoreSyncError::Client(c) => c.into(),
            CoreSyncError::Store(s) => SyncError::Storage { detail: text(&s) },
            CoreSyncError::Statement(_)
            | CoreSyncError::Enrolment(_)
            | CoreSyncError::BlobMismatch(_)
            | CoreSyncError::TooManyRounds(_)
            | CoreSyncError::Untrusted { .. } => SyncError::Untrusted { detail },
        }
    }
}

impl From<ClientError> for SyncError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Network(detail) | ClientError::CutOff(detail) => SyncError::Offline { detail },
            ClientError::Revoked(reason) => SyncError::Revoked { reason },
            ClientError::Expired(detail) => SyncError::Expired { detail },
            ClientError::Unauthenticated { kind, message: detail } => SyncError::Unauthenticated { kind, detail },
            ClientError::Refused { status, kind, message: detail } => SyncError::Refused { status, kind, detail },
            ClientError::MalformedAnswer(detail) => SyncError::Untrusted { detail },
            ClientError::Cancelled => SyncError::Cancelled,
            ClientError::Transport(t) => SyncError::InsecureConnection { detail: t.to_string() },
        }
    }
}

impl From<CoreBundleError> for BundleError {
    fn from(e: CoreBundleError) -> Self {
        match e {
            CoreBundleError::NotEnrolled => BundleError::NotEnrolled,
            CoreBundleError::MissingOriginal(sha256) => BundleError::MissingPhoto { sha256 },
            CoreBundleError::Exists(path) => BundleError::Exists { path },
            CoreBundleError::NotABag(path) => BundleError::NotABundle { path },
            CoreBundleError::BadRootKey => BundleError::BadRootKey,
            CoreBundleError::Cancelled => BundleError::Cancelled,
            CoreBundleError::Store(CoreStoreError::UnknownTask(code)) => {
                BundleError::UnknownTask { code: code.to_string() }
            }
            other => BundleError::Io { detail: text(&other) },
        }
    }
}

impl From<TokenError> for TaskCodeError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::BadSignature => TaskCodeError::BadSignature,
            TokenError::Expired { expired_at_ms } => TaskCodeError::Expired { expired_at_ms },
            TokenError::NotYetValid { valid_from_ms } => TaskCodeError::NotYetValid { valid_from_ms },
            TokenError::NoCertificate => TaskCodeError::NoCertificate,
            TokenError::UntrustedIssuer => TaskCodeError::UntrustedIssuer,
            TokenError::IssuerCertificateExpired => TaskCodeError::IssuerCertificateExpired,
            _ => TaskCodeError::Malformed,
        }
    }
}

impl From<CoreStoreError> for BundleError {
    fn from(e: CoreStoreError) -> Self {
        CoreBundleError::Store(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onevisit_core::domain::CheckPointId;

    #[test]
    fn a_wrong_answer_type_keeps_the_check_point_and_both_kinds() {
        let core = CoreRecordError::WrongAnswerType {
            check_point: CheckPointId::new("SCJG-001-01").expect("id"),
            expected: "pass_fail",
            got: "number",
        };
        match RecordError::from(CoreStoreError::Record(core)) {
            RecordError::WrongAnswerType { check_point, expected, got } => {
                assert_eq!(
                    (check_point.as_str(), expected.as_str(), got.as_str()),
                    ("SCJG-001-01", "pass_fail", "number")
                );
            }
            other => panic!("mapped to {other:?}"),
        }
    }

    #[test]
    fn a_revoked_device_keeps_the_reason_and_a_dead_network_is_offline() {
        let revoked = SyncError::from(CoreSyncError::Client(ClientError::Revoked("设备遗失".into())));
        assert!(matches!(revoked, SyncError::Revoked { reason } if reason == "设备遗失"));
        let offline = SyncError::from(CoreSyncError::Client(ClientError::Network("connection refused".into())));
        assert!(matches!(offline, SyncError::Offline { .. }));
    }

    #[test]
    fn a_refused_photo_is_told_apart_from_a_record_refusal() {
        assert!(matches!(
            PhotoError::from(CoreStoreError::Evidence(EvidenceError::NotAnImage)),
            PhotoError::NotAnImage
        ));
        let unknown = CoreStoreError::UnknownTask(
            onevisit_core::domain::TaskCode::parse("330482-20261201-ABCDEFGH").expect("code"),
        );
        assert!(matches!(PhotoError::from(unknown), PhotoError::Refused { reason: RecordError::UnknownTask { .. } }));
    }

    #[test]
    fn a_wrong_key_is_key_locked_not_storage() {
        assert!(matches!(key_error(KeyError::WrongKeyOrTampered), StoreError::KeyLocked { .. }));
        assert!(matches!(key_error(KeyError::Platform("user cancelled".into())), StoreError::KeyLocked { .. }));
        assert!(matches!(key_error(KeyError::KeyFileLength { path: "k".into() }), StoreError::InvalidInput { .. }));
    }
}
