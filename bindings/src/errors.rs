//! One error enum per area, with variants an app can act on; the core's errors are mapped here and
//! nowhere else.

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
pub enum StoreError {
    /// There is no store in the folder and no inspector was given to create one.
    #[error("no OneVisit store in {path}")]
    NotInitialised { path: String },
    /// The device key did not unlock: wrong key or passphrase, the platform key store refused
    /// (device locked, key invalidated), or the sealed key was altered.
    #[error("the device key could not be unlocked: {detail}")]
    KeyLocked { detail: String },
    /// The store was written by a newer app.
    #[error("store schema version {found} is newer than the supported {supported}")]
    SchemaTooNew { found: u32, supported: u32 },
    /// No directory data yet: enrol and sync, or import it.
    #[error("no directory data yet")]
    NoDirectory,
    /// The directory data offered is not valid.
    #[error("invalid directory data: {detail}")]
    InvalidDirectory { detail: String },
    /// An argument is not well formed (an id, a date).
    #[error("invalid input: {detail}")]
    InvalidInput { detail: String },
    /// The files of the store failed (disk full, permissions, corruption).
    #[error("storage failed: {detail}")]
    Storage { detail: String },
}

/// Recording an inspection, its documents and signatures (Kotlin `RecordException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum RecordError {
    /// No task with this code on this device.
    #[error("no task {code} on this device")]
    UnknownTask { code: String },
    /// This device's inspector is not assigned to the task.
    #[error("inspector {inspector} is not assigned to this task")]
    NotAssigned { inspector: String },
    /// Only the lead inspector may do this (resolve conflicts).
    #[error("only the lead inspector may do this, not {inspector}")]
    NotLeadInspector { inspector: String },
    /// The check point is not part of the task.
    #[error("check point {check_point} is not part of this task")]
    UnknownCheckPoint { check_point: String },
    /// The answer's kind does not fit the check point.
    #[error("check point {check_point} takes a {expected} answer, not {got}")]
    WrongAnswerType { check_point: String, expected: String, got: String },
    /// A number answer that is not a decimal number.
    #[error("{value:?} is not a decimal number")]
    InvalidNumber { value: String },
    /// A number outside the check point's plausible range.
    #[error("{value} is outside the plausible range of check point {check_point}")]
    NumberOutOfRange { check_point: String, value: String },
    /// A number in another unit than the check point's.
    #[error("check point {check_point} is measured in {expected}, not {got}")]
    WrongUnit { check_point: String, expected: String, got: String },
    /// A photo check point answered without a photo.
    #[error("check point {check_point} requires at least one evidence photo")]
    MissingEvidence { check_point: String },
    /// The answer cites a photo that is not attached.
    #[error("photo {sha256} is not attached to this record")]
    UnknownEvidence { sha256: String },
    /// The entry needs the team on site (check in first).
    #[error("this entry can only be made on site; the record is {status}")]
    NotOnSite { status: String },
    /// The lifecycle forbids this status change.
    #[error("the status cannot change from {from} to {to}")]
    ForbiddenTransition { from: String, to: String },
    /// Recording cannot complete while something is missing.
    #[error("the record is incomplete: {}", missing.join(", "))]
    Incomplete { missing: Vec<String> },
    /// Recording cannot complete while conflicts are open.
    #[error("{count} conflicting entries must be resolved first")]
    OpenConflicts { count: u32 },
    /// No conflict is open on that field, or the choice does not exist.
    #[error("no such conflict or choice: {field}")]
    NoSuchConflict { field: String },
    /// A document cannot be rendered or signed (superseded, already signed, not found).
    #[error("document: {detail}")]
    Document { detail: String },
    /// The task code cannot be issued.
    #[error("task code: {detail}")]
    TaskCode { detail: String },
    /// An argument is not well formed (empty text, a bad id or date, a bad position).
    #[error("invalid input: {detail}")]
    InvalidInput { detail: String },
    /// An inspector writes only their own department's part of the record.
    #[error("inspector {inspector} may not write the part of department {department}")]
    OtherDepartment { inspector: String, department: String },
    /// The inspector checked in already.
    #[error("inspector {inspector} has already checked in")]
    AlreadyCheckedIn { inspector: String },
    /// A received record (a file, the server's answer) carries a change the write rules forbid;
    /// nothing of it was taken in. `rule` is the machine name, `explanation` its zh-CN text.
    #[error("a received change is forbidden: {rule} at {path}")]
    Forbidden { rule: String, path: String, explanation: String },
    /// The store failed or holds something unreadable.
    #[error("storage failed: {detail}")]
    Storage { detail: String },
}

/// Taking a photo in as evidence (Kotlin `PhotoException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PhotoError {
    /// The file could not be read.
    #[error("{path}: {detail}")]
    Unreadable { path: String, detail: String },
    /// The bytes are not a JPEG or PNG image.
    #[error("the file is not an image (JPEG or PNG expected)")]
    NotAnImage,
    /// A recognised image format that is not accepted.
    #[error("{format} images are not accepted; take the photo as JPEG")]
    UnsupportedFormat { format: String },
    /// Too many bytes or pixels for a photo.
    #[error("the photo is too large: {detail}")]
    TooLarge { detail: String },
    /// The image data is truncated or damaged.
    #[error("the image is damaged: {detail}")]
    Damaged { detail: String },
    /// The record refused the photo (unknown task, target or check point, not assigned).
    #[error(transparent)]
    Refused { reason: RecordError },
    /// The caller cancelled before the photo was stored.
    #[error("cancelled")]
    Cancelled,
}

/// Enrolling and syncing with the city server (Kotlin `SyncException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SyncError {
    /// The device is not enrolled yet.
    #[error("this device is not enrolled")]
    NotEnrolled,
    /// The server could not be reached (after the retries): try again later.
    #[error("the server could not be reached: {detail}")]
    Offline { detail: String },
    /// The device's certificate was revoked: it must be enrolled again by an administrator.
    #[error("this device was revoked: {reason}")]
    Revoked { reason: String },
    /// The device's certificate expired: enrol again.
    #[error("this device's certificate expired: {detail}")]
    Expired { detail: String },
    /// The server refused the device's authentication (a wrong clock, a replay).
    #[error("the server refused the device's authentication ({kind}): {detail}")]
    Unauthenticated { kind: String, detail: String },
    /// The server refused the request (a wrong one-time code, a limit).
    #[error("the server refused the request ({kind}, HTTP {status}): {detail}")]
    Refused { status: u16, kind: String, detail: String },
    /// What the server sent does not verify or is not the protocol: do not trust it.
    #[error("the server's answer cannot be trusted: {detail}")]
    Untrusted { detail: String },
    /// The caller cancelled; what was done so far is kept and the next sync resumes.
    #[error("cancelled")]
    Cancelled,
    /// The local store failed.
    #[error("storage failed: {detail}")]
    Storage { detail: String },
    /// No secure connection: plain http to another host, or a server certificate this device does
    /// not trust (not the tenant's pinned root). Check the server address; do not retry blindly.
    #[error("{detail}")]
    InsecureConnection { detail: String },
}

/// Exporting and verifying evidence bundles (Kotlin `BundleException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum BundleError {
    /// A bundle is sealed with the device certificate: enrol first.
    #[error("this device is not enrolled")]
    NotEnrolled,
    /// A photo's original is not on this device: fetch it first.
    #[error("photo {sha256} is not on this device")]
    MissingPhoto { sha256: String },
    /// The destination exists already.
    #[error("{path} exists already")]
    Exists { path: String },
    /// The path is not a bundle at all.
    #[error("{path} is not an evidence bundle")]
    NotABundle { path: String },
    /// The root key is not 64 hex characters of an Ed25519 public key.
    #[error("the root key must be 64 hex characters")]
    BadRootKey,
    /// An unknown task code was named.
    #[error("no task {code} on this device")]
    UnknownTask { code: String },
    /// A file could not be read or written.
    #[error("{detail}")]
    Io { detail: String },
    /// The caller cancelled; a partial export is removed.
    #[error("cancelled")]
    Cancelled,
}

/// Checking a task code token shown by inspectors (Kotlin `TaskCodeException`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum TaskCodeError {
    /// Not a OneVisit task code.
    #[error("this is not a OneVisit task code")]
    Malformed,
    /// Forged or altered.
    #[error("the task code's signature is not valid")]
    BadSignature,
    /// Past its window.
    #[error("the task code expired")]
    Expired { expired_at_ms: i64 },
    /// Before its window.
    #[error("the task code is not valid yet")]
    NotYetValid { valid_from_ms: i64 },
    /// The issuer key is not 64 hex characters of an Ed25519 public key.
    #[error("the issuer key must be 64 hex characters")]
    BadIssuerKey,
}

/// What a platform key protector reports when it cannot seal or open the device key.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KeyProtectorError {
    /// The platform refused (locked device, key invalidated, user cancelled).
    #[error("the platform key store refused: {detail}")]
    Refused { detail: String },
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
