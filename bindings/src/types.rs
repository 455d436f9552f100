//! The records and enums that cross the boundary: plain data shaped for screens, converted from
//! the core's types here.

use onevisit_core::record::{self as core_record, AnswerValue, Status};
use onevisit_core::store::TaskRow;

/// The lifecycle of an inspection (状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TaskStatus {
    /// Planned, nobody on site yet (待检查).
    Planned,
    /// The team checked in and is recording (检查中).
    OnSite,
    /// Recording complete, ready for documents (已记录).
    Recorded,
    /// Finished (已办结).
    Closed,
    /// Called off (已取消).
    Cancelled,
}

impl From<Status> for TaskStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Planned => TaskStatus::Planned,
            Status::OnSite => TaskStatus::OnSite,
            Status::Recorded => TaskStatus::Recorded,
            Status::Closed => TaskStatus::Closed,
            Status::Cancelled => TaskStatus::Cancelled,
        }
    }
}

impl From<TaskStatus> for Status {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Planned => Status::Planned,
            TaskStatus::OnSite => Status::OnSite,
            TaskStatus::Recorded => Status::Recorded,
            TaskStatus::Closed => Status::Closed,
            TaskStatus::Cancelled => Status::Cancelled,
        }
    }
}

/// Who this device is.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DeviceInfo {
    /// The device id (derived from its public key).
    pub device_id: String,
    /// Its Ed25519 public key, hex.
    pub public_key_hex: String,
    /// The inspector operating it.
    pub inspector: Option<String>,
    /// The server it is enrolled with, if any.
    pub server_url: Option<String>,
    /// The device code the server gave it at enrolment.
    pub device_code: Option<String>,
}

/// A department of the directory.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DepartmentInfo {
    /// Identifier, e.g. `scjg`.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Short name for lists.
    pub short_name: String,
}

/// An inspector of the directory.
#[derive(Debug, Clone, uniffi::Record)]
pub struct InspectorInfo {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Enforcement certificate number (执法证号).
    pub certificate_number: String,
    /// Department id.
    pub department: String,
}

/// What a task list asks for; every field narrows it.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct TaskQuery {
    /// Only tasks in this status.
    #[uniffi(default = None)]
    pub status: Option<TaskStatus>,
    /// Only tasks whose window contains this day (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub date: Option<String>,
    /// Only tasks this department takes part in.
    #[uniffi(default = None)]
    pub department: Option<String>,
    /// At most this many.
    #[uniffi(default = None)]
    pub limit: Option<u32>,
}

/// One line of the task list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TaskSummary {
    /// Task code.
    pub code: String,
    /// Enterprise USCC.
    pub enterprise_uscc: String,
    /// Enterprise name.
    pub enterprise_name: String,
    /// Lead department.
    pub lead_department: String,
    /// First day (`YYYY-MM-DD`).
    pub window_start: String,
    /// Last day (`YYYY-MM-DD`).
    pub window_end: String,
    /// Status.
    pub status: TaskStatus,
    /// Check points answered.
    pub answered: u32,
    /// Check points in all.
    pub check_points: u32,
    /// Findings recorded.
    pub findings: u32,
    /// Why the task exists (`random_draw`, `complaint_or_lead`, `plan`, `re_inspection`).
    pub source: String,
    /// The same in zh-CN (复查 for a re-inspection).
    pub source_label: String,
}

impl From<TaskRow> for TaskSummary {
    fn from(r: TaskRow) -> Self {
        TaskSummary {
            code: r.code,
            enterprise_uscc: r.enterprise_uscc,
            enterprise_name: r.enterprise_name,
            lead_department: r.lead_department,
            window_start: r.window_start.to_string(),
            window_end: r.window_end.to_string(),
            status: r.status.into(),
            answered: r.answered,
            check_points: r.check_points,
            findings: r.findings,
            source: r.source.to_string(),
            source_label: onevisit_core::domain::TaskSource::kind_label_zh(r.source).to_string(),
        }
    }
}

/// An answer to a check point, as entered.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Answer {
    /// 符合.
    Pass,
    /// 不符合.
    Fail,
    /// 不适用.
    NotApplicable,
    /// A measurement: a decimal string and its unit.
    Number {
        /// The value given.
        value: String,
        /// The unit.
        unit: String,
    },
    /// Free text.
    Text {
        /// The text.
        text: String,
    },
    /// The photos given as evidence show it.
    Photos,
}

impl From<Answer> for AnswerValue {
    fn from(a: Answer) -> Self {
        match a {
            Answer::Pass => AnswerValue::Pass,
            Answer::Fail => AnswerValue::Fail,
            Answer::NotApplicable => AnswerValue::NotApplicable,
            Answer::Number { value, unit } => AnswerValue::Number { value, unit },
            Answer::Text { text } => AnswerValue::Text { text },
            Answer::Photos => AnswerValue::Photos,
        }
    }
}

/// A GNSS fix in WGS-84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GeoPosition {
    /// Latitude, degrees.
    pub latitude: f64,
    /// Longitude, degrees.
    pub longitude: f64,
    /// Horizontal accuracy, metres.
    pub accuracy_m: u32,
}

impl From<core_record::Position> for GeoPosition {
    fn from(p: core_record::Position) -> Self {
        GeoPosition {
            latitude: p.latitude_e7 as f64 / 1e7,
            longitude: p.longitude_e7 as f64 / 1e7,
            accuracy_m: p.accuracy_m,
        }
    }
}

/// The party's representative as entered on site.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PartyInput {
    /// Name.
    pub name: String,
    /// Role, e.g. 现场负责人.
    pub role: String,
    /// Phone, if given.
    #[uniffi(default = None)]
    pub phone: Option<String>,
    /// The reason, when the party asks for an inspector's recusal (申请回避).
    #[uniffi(default = None)]
    pub recusal_reason: Option<String>,
    /// The representative's identity document number, if shown.
    #[uniffi(default = None)]
    pub id_number: Option<String>,
    /// Their statement and defence (陈述申辩), printed in the on-site record.
    #[uniffi(default = None)]
    pub statement: Option<String>,
}

/// A problem found, as entered.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FindingInput {
    /// The department whose matter it falls under.
    pub department: String,
    /// The check point it arose from.
    #[uniffi(default = None)]
    pub check_point: Option<String>,
    /// What is wrong.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// Whether an order to rectify is needed.
    pub rectification_required: bool,
    /// Its deadline (`YYYY-MM-DD`), exactly when rectification is required.
    #[uniffi(default = None)]
    pub deadline: Option<String>,
}

/// The whole inspection as a screen shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct InspectionView {
    /// Task code.
    pub task_code: String,
    /// Status.
    pub status: TaskStatus,
    /// Status label (zh-CN).
    pub status_label: String,
    /// Enterprise USCC.
    pub enterprise_uscc: String,
    /// Enterprise name.
    pub enterprise_name: String,
    /// Enterprise address.
    pub enterprise_address: String,
    /// Source label (zh-CN).
    pub source: String,
    /// Window, `start ~ end`.
    pub window: String,
    /// Lead department name.
    pub lead_department: String,
    /// Assigned inspectors.
    pub inspectors: Vec<InspectorInfo>,
    /// Each inspector's arrival.
    pub arrivals: Vec<Arrival>,
    /// Who showed the identity notice, if recorded.
    pub identity_shown_by: Option<String>,
    /// The party's representative.
    pub party: Option<PartyView>,
    /// One section per department.
    pub sections: Vec<SectionView>,
    /// Findings.
    pub findings: Vec<FindingView>,
    /// For a re-inspection (复查), the task it re-inspects.
    pub reinspection_of: Option<String>,
    /// The re-inspection step: for a re-inspection, each finding to re-inspect; for an inspected
    /// task, each finding that required rectification; with its result once recorded.
    pub rechecks: Vec<RecheckItem>,
    /// Open conflicts.
    pub open_conflicts: u32,
}

/// A finding at the re-inspection step and its result.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecheckItem {
    /// The finding (of the inspected task).
    pub finding: String,
    /// What was wrong.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// The rectification deadline (`YYYY-MM-DD`).
    pub deadline: Option<String>,
    /// What the re-inspection found, once recorded.
    pub outcome: Option<RecheckChoice>,
    /// The result as inspectors read it (zh-CN).
    pub outcome_label: Option<String>,
    /// The inspector's note.
    pub note: Option<String>,
    /// The photos that show it (SHA-256).
    pub evidence: Vec<String>,
    /// Who recorded it.
    pub by: Option<String>,
}

/// What a re-inspection found of one finding.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RecheckChoice {
    /// Put right (已整改): the finding's loop closes.
    Rectified,
    /// Not put right, handed over for a case (移送立案).
    TransferredForCase {
        /// The case transfer's reference.
        reference: String,
    },
    /// Not put right, a new deadline (`YYYY-MM-DD`, after today).
    NewDeadline {
        /// The new deadline.
        deadline: String,
    },
}

impl From<core_record::RecheckOutcome> for RecheckChoice {
    fn from(o: core_record::RecheckOutcome) -> Self {
        match o {
            core_record::RecheckOutcome::Rectified => RecheckChoice::Rectified,
            core_record::RecheckOutcome::TransferredForCase { reference } => {
                RecheckChoice::TransferredForCase { reference }
            }
            core_record::RecheckOutcome::NewDeadline { deadline } => {
                RecheckChoice::NewDeadline { deadline: deadline.to_string() }
            }
        }
    }
}

/// An inspector's arrival on site.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Arrival {
    /// Inspector.
    pub inspector: String,
    /// Where.
    pub position: GeoPosition,
    /// Device time, ms since the epoch.
    pub at_ms: i64,
}

/// The party's representative as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PartyView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Phone.
    pub phone: Option<String>,
    /// The recusal reason, when asked for.
    pub recusal_reason: Option<String>,
}

/// A department's section.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SectionView {
    /// Department id.
    pub department: String,
    /// Department name.
    pub department_name: String,
    /// Its check points.
    pub check_points: Vec<CheckPointView>,
}

/// A check point and its answer.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CheckPointView {
    /// Check point id.
    pub id: String,
    /// What to check.
    pub title: String,
    /// The kind of answer it takes: `pass_fail`, `number`, `text` or `photo`.
    pub answer_kind: String,
    /// The unit of a number answer.
    pub unit: Option<String>,
    /// The answer shown (zh-CN).
    pub answer: Option<String>,
    /// The note.
    pub note: Option<String>,
    /// Who answered.
    pub by: Option<String>,
    /// Evidence photo hashes.
    pub evidence: Vec<String>,
    /// Whether concurrent answers are open.
    pub conflicted: bool,
}

/// A finding as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FindingView {
    /// Identifier.
    pub id: String,
    /// Department.
    pub department: String,
    /// The check point it arose from.
    pub check_point: Option<String>,
    /// What is wrong.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// Whether rectification is ordered.
    pub rectification_required: bool,
    /// The deadline (`YYYY-MM-DD`).
    pub deadline: Option<String>,
    /// Who recorded it.
    pub by: String,
}

impl From<core_record::view::RecordView> for InspectionView {
    fn from(v: core_record::view::RecordView) -> Self {
        InspectionView {
            task_code: v.task_code,
            status: v.status.into(),
            status_label: v.status_label.into(),
            enterprise_uscc: v.enterprise_uscc,
            enterprise_name: v.enterprise_name,
            enterprise_address: v.enterprise_address,
            source: v.source.into(),
            window: v.window,
            lead_department: v.lead_department,
            inspectors: v
                .inspectors
                .into_iter()
                .map(|i| InspectorInfo {
                    id: i.id,
                    name: i.name,
                    certificate_number: i.certificate_number,
                    department: i.department,
                })
                .collect(),
            arrivals: v
                .arrivals
                .into_iter()
                .map(|a| Arrival {
                    inspector: a.stamp.by.to_string(),
                    position: a.position.into(),
                    at_ms: a.stamp.at_ms,
                })
                .collect(),
            identity_shown_by: v.identity.map(|i| i.stamp.by.to_string()),
            party: v.party.map(|p| PartyView {
                name: p.name,
                role: p.role,
                phone: p.phone,
                recusal_reason: match p.recusal {
                    core_record::Recusal::NotRequested => None,
                    core_record::Recusal::Requested { reason } => Some(reason),
                },
            }),
            sections: v
                .sections
                .into_iter()
                .map(|s| SectionView {
                    department: s.department,
                    department_name: s.department_name,
                    check_points: s
                        .check_points
                        .into_iter()
                        .map(|c| CheckPointView {
                            id: c.id,
                            title: c.title,
                            answer_kind: c.answer_kind.into(),
                            unit: c.unit,
                            answer: c.answer,
                            note: c.note,
                            by: c.by,
                            evidence: c.evidence,
                            conflicted: c.conflicted,
                        })
                        .collect(),
                })
                .collect(),
            findings: v
                .findings
                .into_iter()
                .map(|f| FindingView {
                    id: f.id,
                    department: f.department.to_string(),
                    check_point: f.check_point.map(|c| c.to_string()),
                    problem: f.problem,
                    legal_basis: f.legal_basis,
                    rectification_required: f.rectification_required,
                    deadline: f.deadline.map(|d| d.to_string()),
                    by: f.stamp.by.to_string(),
                })
                .collect(),
            reinspection_of: v.reinspection_of,
            rechecks: v
                .rechecks
                .into_iter()
                .map(|r| RecheckItem {
                    finding: r.finding,
                    problem: r.problem,
                    legal_basis: r.legal_basis,
                    deadline: r.deadline.map(|d| d.to_string()),
                    outcome_label: r.result_label,
                    note: r.result.as_ref().and_then(|x| x.note.clone()),
                    evidence: r.result.as_ref().map(|x| x.evidence.clone()).unwrap_or_default(),
                    by: r.result.as_ref().map(|x| x.stamp.by.to_string()),
                    outcome: r.result.map(|x| x.outcome.into()),
                })
                .collect(),
            open_conflicts: v.open_conflicts as u32,
        }
    }
}

/// A field two devices wrote concurrently.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ConflictView {
    /// The field, e.g. `answer:SCJG-001-02` (what `resolve_conflict` takes).
    pub field: String,
    /// Every value, in Automerge's deterministic order.
    pub values: Vec<ConflictValue>,
}

/// One of the concurrently written values.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ConflictValue {
    /// The value shown (zh-CN) where the field is an answer; the JSON otherwise.
    pub display: String,
    /// The value as written (JSON).
    pub json: String,
    /// Who wrote it.
    pub by: String,
    /// When, by the writer's clock.
    pub at_ms: i64,
}

impl From<core_record::Conflict> for ConflictView {
    fn from(c: core_record::Conflict) -> Self {
        ConflictView {
            field: c.field.to_string(),
            values: c
                .values
                .into_iter()
                .map(|v| {
                    let answer = serde_json::from_value::<core_record::Answer>(v.value.clone()).ok();
                    let party = serde_json::from_value::<core_record::PartyRepresentative>(v.value.clone()).ok();
                    let display = match (answer, party) {
                        (Some(a), _) => match a.note {
                            Some(note) => format!("{}（{note}）", a.value.display_zh()),
                            None => a.value.display_zh(),
                        },
                        (None, Some(p)) => format!("{}（{}）", p.name, p.role),
                        (None, None) => v.value.to_string(),
                    };
                    ConflictValue { display, json: v.value.to_string(), by: v.by.to_string(), at_ms: v.at_ms }
                })
                .collect(),
        }
    }
}

/// What a photo documents.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoTarget {
    /// A check point's answer.
    CheckPoint {
        /// Its id.
        id: String,
    },
    /// A finding.
    Finding {
        /// Its id.
        id: String,
    },
    /// The inspection as a whole (premises, a sign).
    Inspection,
}

impl From<PhotoTarget> for onevisit_core::evidence::CaptureTarget {
    fn from(t: PhotoTarget) -> Self {
        use onevisit_core::evidence::CaptureTarget;
        match t {
            PhotoTarget::CheckPoint { id } => CaptureTarget::CheckPoint(id),
            PhotoTarget::Finding { id } => CaptureTarget::Finding(id),
            PhotoTarget::Inspection => CaptureTarget::Inspection,
        }
    }
}

/// An attached photo.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PhotoInfo {
    /// SHA-256 of the original (what answers cite).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    pub mime: String,
    /// SHA-256 of the thumbnail.
    pub thumbnail_sha256: String,
    /// What it documents, e.g. `check_point:XFJY-001-04`.
    pub target: String,
    /// Who took it in.
    pub by: String,
    /// When, device time.
    pub at_ms: i64,
    /// False when the same photo was already attached for the same target.
    pub newly_attached: bool,
    /// Set when the camera's own time (EXIF) is far from the capture time, in words (zh-CN): the
    /// photo may have been taken before the visit. Shown beside the photo; not an error.
    pub camera_time_warning: Option<String>,
}

impl PhotoInfo {
    /// The view of an attached photo.
    pub fn of(e: core_record::EvidenceRef, newly_attached: bool) -> PhotoInfo {
        use onevisit_core::evidence::CaptureTarget;
        let target = match &e.target {
            CaptureTarget::CheckPoint(id) => format!("check_point:{id}"),
            CaptureTarget::Finding(id) => format!("finding:{id}"),
            CaptureTarget::Inspection => "inspection".into(),
            CaptureTarget::PartySignature(sha) => format!("party_signature:{sha}"),
        };
        let camera_time_warning = e.capture.verify().ok().and_then(|r| r.exif_time_warning_zh());
        PhotoInfo {
            camera_time_warning,
            sha256: e.sha256,
            size: e.size,
            mime: e.mime,
            thumbnail_sha256: e.thumbnail_sha256,
            target,
            by: e.stamp.by.to_string(),
            at_ms: e.stamp.at_ms,
            newly_attached,
        }
    }
}

/// The result of checking the device's audit log.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AuditSummary {
    /// Entries examined.
    pub entries: u64,
    /// The device's latest sequence number.
    pub head_seq: u64,
    /// Whether nothing is wrong.
    pub intact: bool,
    /// What is wrong, in sequence order.
    pub problems: Vec<String>,
    /// The last entry the server confirmed.
    pub confirmed_through: u64,
    /// Why the server refused the chain at the last sync, if it did (records and photos still
    /// sync; `start_audit_segment` continues the chain from the server's head).
    pub server_refusal: Option<String>,
    /// Where new chain segments start, each with its stated reason.
    pub segments: Vec<String>,
}
