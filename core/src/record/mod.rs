//! The inspection record (检查记录): one Automerge document per task, edited concurrently and offline
//! by the inspectors of every participating department.
//!
//! Layout of the document (schema version 1); every leaf is a JSON string holding one whole value
//! with its author and time (see [`values`]):
//! ```text
//! schema_version: uint
//! task:           Task                       written once at creation
//! status:         StatusEntry
//! arrivals:       { <inspector id>: CheckIn }  each inspector checks in from their own device
//! identity:       IdentityShown
//! party:          PartyRepresentative
//! sections:       { <department id>: { <check point id>: Answer } }
//! findings:       { <finding id>: Finding }
//! evidence:       { <capture record sha256>: EvidenceRef }  photos by reference, never bytes
//! documents:      { <document sha256>: DocumentVersion }     rendered legal documents, immutable
//! signatures:     { <document sha256>/<role>[/<id>]: DocumentSignature }
//! ```

pub mod certificates;
pub mod conflict;
pub mod documents;
pub mod evidence;
pub mod exchange;
pub mod history;
pub mod rules;
pub mod seals;
pub mod status;
pub mod values;
pub mod view;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, AutomergeError, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};
use chrono::NaiveDate;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::{AnswerType, CheckPointId, DepartmentId, Directory, InspectorId, Task, TaskSource};

pub use conflict::{Conflict, ConflictingValue, Field};
pub use evidence::EvidenceRef;
pub use rules::{Author, ForbiddenEdit, WriteRule, WriteRules};
pub use status::Status;
pub use values::{
    Answer, AnswerValue, CheckIn, Datum, Finding, IdentityShown, PartyRepresentative, Position, Recheck,
    RecheckOutcome, Recusal, ServiceAddress, Stamp, StatusEntry,
};
pub use view::RecordView;

/// The version of the document layout this code writes and reads.
pub const SCHEMA_VERSION: u64 = 1;

/// Why a record cannot be read or an edit is refused. A refused edit changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not a valid Automerge document.
    #[error("检查记录的数据已损坏，无法读取")]
    Corrupt(#[source] Box<AutomergeError>),
    /// A document with this task code that was created separately, not a copy of this record.
    #[error("收到的记录是另行创建的，不是本任务这份记录的副本（同一任务编号被另一台设备重复创建）")]
    UnrelatedRecord,
    /// Stored bytes no longer match the hash recorded when they were written.
    #[error("存储的检查记录与其哈希值不符：数据已被改动或损坏")]
    HashMismatch,
    /// The document was written by a newer app version.
    #[error("检查记录的格式版本 {found} 高于本程序支持的 {supported}：请升级 OneVisit")]
    UnsupportedSchema {
        /// The record's schema version.
        found: u64,
        /// The newest version this code reads.
        supported: u64,
    },
    /// A field does not hold what the schema says.
    #[error("检查记录的字段 {field} 格式错误")]
    MalformedField {
        /// The field.
        field: String,
    },
    /// The editor is not one of the task's inspectors.
    #[error("执法人员 {0} 不是本任务的检查人员（onevisit tasks show 列出本任务的执法人员）")]
    NotAssigned(InspectorId),
    /// Only the lead inspector resolves conflicts.
    #[error("只有牵头执法人员可以解决冲突，{0} 不是牵头人")]
    NotLeadInspector(InspectorId),
    /// An inspector may write only their own department's part of the record.
    #[error("执法人员 {inspector} 不能填写 {department} 部门的检查内容：每人只填本部门的检查项")]
    OtherDepartment {
        /// The inspector.
        inspector: InspectorId,
        /// The department.
        department: DepartmentId,
    },
    /// The check point is not part of the task's selected matters.
    #[error("检查项 {0} 不属于本任务的检查事项（onevisit tasks show 列出全部检查项）")]
    UnknownCheckPoint(CheckPointId),
    /// The answer's kind does not match the check point's answer type.
    #[error("检查项 {check_point} 应填{}，而不是{}", kind_zh(.expected), kind_zh(.got))]
    WrongAnswerType {
        /// The check point.
        check_point: CheckPointId,
        /// What was expected.
        expected: &'static str,
        /// What was given.
        got: &'static str,
    },
    /// A number answer that is not a decimal number.
    #[error("“{value}”不是数值：请写十进制数，如 4.5")]
    InvalidNumber {
        /// The value given.
        value: String,
    },
    /// A number outside the check point's plausible range.
    #[error("{value} 超出检查项 {check_point} 的合理范围（{}）", range_zh(*.min, *.max))]
    NumberOutOfRange {
        /// The check point.
        check_point: CheckPointId,
        /// The value given.
        value: String,
        /// The smallest plausible value, if any.
        min: Option<f64>,
        /// The largest plausible value, if any.
        max: Option<f64>,
    },
    /// A number in a unit other than the check point's.
    #[error("检查项 {check_point} 的单位是 {expected}，不是 {got}")]
    WrongUnit {
        /// The check point.
        check_point: CheckPointId,
        /// What was expected.
        expected: String,
        /// What was given.
        got: String,
    },
    /// A photo check point answered without evidence.
    #[error("检查项 {0} 需要至少一张证据照片：用 onevisit photo add 任务编号 照片 --check-point {0} 添加")]
    MissingEvidence(CheckPointId),
    /// An evidence reference that is not a SHA-256 hex digest.
    #[error("证据“{0}”不是照片的 SHA-256 哈希值（onevisit photo list 列出本任务的照片）")]
    MalformedEvidenceHash(String),
    /// An answer cites a photo that is not attached to the record.
    #[error("照片 {0} 不在本记录中：先用 onevisit photo add 添加")]
    UnknownEvidence(String),
    /// A re-inspection result for a finding this re-inspection does not cover (another task's, or
    /// a task that is not a re-inspection).
    #[error("问题 {0} 不在本复查任务的复查范围内")]
    NotToReinspect(String),
    /// The finding's re-inspection result was recorded already (results are never rewritten).
    #[error("问题 {0} 的复查结果已经记录，不能改写")]
    AlreadyRechecked(String),
    /// A re-inspection result without a photo showing it.
    #[error("复查结果须附至少一张现场照片")]
    RecheckWithoutEvidence,
    /// The task cannot close while these findings' loops are open (not rectified, nor handed
    /// over for a case; for a re-inspection: not yet re-inspected).
    #[error("以下问题尚未闭环，任务不能办结：{}", .0.join("、"))]
    OpenFindings(Vec<String>),
    /// A new deadline that is not after the day of the re-inspection.
    #[error("新的整改期限 {0} 须晚于复查当日")]
    DeadlineNotAfterRecheck(chrono::NaiveDate),
    /// A photo's target does not exist in the record.
    #[error("本记录中没有 {0}")]
    UnknownTarget(String),
    /// A legal document cannot be rendered or signed, or does not verify.
    #[error(transparent)]
    Document(#[from] crate::document::DocumentError),
    /// A required text is empty.
    #[error("{0}不能为空")]
    EmptyText(&'static str),
    /// A position out of range.
    #[error("位置不是有效的 WGS-84 坐标：纬度 -90～90，经度 -180～180")]
    InvalidPosition,
    /// The lifecycle forbids this status change.
    #[error("检查状态不能从“{}”改为“{}”", .from.label_zh(), .to.label_zh())]
    ForbiddenTransition {
        /// The current status.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// This edit needs the team on site.
    #[error("{}", not_on_site_zh(*.0))]
    NotOnSite(Status),
    /// Recording cannot complete while something is missing.
    #[error("记录尚不完整，还缺：{}", .missing.join("；"))]
    Incomplete {
        /// What is missing, one line each.
        missing: Vec<String>,
    },
    /// Recording cannot complete while conflicts are open.
    #[error("还有 {0} 项冲突未解决：先由牵头人运行 onevisit conflicts list 查看并解决")]
    OpenConflicts(usize),
    /// A rectification deadline is required, or was given without rectification.
    #[error("责令改正的问题必须写改正期限（--deadline），不需改正的问题不能写期限")]
    DeadlineMismatch,
    /// No conflict is open on that field.
    #[error("{} 上没有待解决的冲突（onevisit conflicts list 列出全部）", .0.label_zh())]
    NoSuchConflict(Field),
    /// The chosen value does not exist.
    #[error("{} 的冲突只有 {count} 个值，没有第 {choice} 项", .field.label_zh())]
    NoSuchChoice {
        /// The field.
        field: Field,
        /// The choice given.
        choice: usize,
        /// How many choices there are.
        count: usize,
    },
    /// Bytes received as an Automerge change do not parse as one.
    #[error("收到的数据不是有效的记录修改")]
    MalformedChange,
    /// A change reuses an actor's sequence number for other contents: a copy restored from an
    /// old backup went on editing under numbers the record already holds.
    #[error("修改者 {actor} 的第 {seq} 项修改与记录中已有的不同（可能是从旧备份恢复的副本）")]
    SequenceReused {
        /// The actor (hex).
        actor: String,
        /// The reused sequence number.
        seq: u64,
    },
    /// The new assignment is not a valid task.
    #[error(transparent)]
    Assignment(#[from] crate::domain::TaskError),
    /// A received change breaks a write rule: nothing of its batch was applied.
    #[error(transparent)]
    Forbidden(ForbiddenEdit),
    /// The inspector checked in already; an arrival is never rewritten.
    #[error("执法人员 {0} 已经签到过，签到不能重复或改写")]
    AlreadyCheckedIn(InspectorId),
    /// Received changes depend on changes this copy does not have.
    #[error("收到的 {0} 项修改依赖本机还没有的修改：请先同步")]
    MissingDependencies(usize),
    /// Automerge refused an operation (a bug, not bad input).
    #[error("记录操作失败（程序错误，请报告）")]
    Automerge(#[source] Box<AutomergeError>),
}

impl From<AutomergeError> for RecordError {
    fn from(e: AutomergeError) -> Self {
        RecordError::Automerge(Box::new(e))
    }
}

fn corrupt(e: AutomergeError) -> RecordError {
    RecordError::Corrupt(Box::new(e))
}

/// Counts the index keeps for lists, derived from the record after every edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSummary {
    /// Current status (the winning value if the status is in conflict).
    pub status: Status,
    /// Check points answered.
    pub answered: usize,
    /// Findings recorded.
    pub findings: usize,
    /// Open conflicts.
    pub conflicts: usize,
}

/// A finding as entered, before it gets its identifier and stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingDraft {
    /// The department the problem falls under.
    pub department: DepartmentId,
    /// The check point it arose from, if any.
    pub check_point: Option<CheckPointId>,
    /// What is wrong.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// Whether an order to rectify is required.
    pub rectification_required: bool,
    /// Deadline for rectification.
    pub deadline: Option<NaiveDate>,
}

/// A party representative as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyDraft {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Phone, if given.
    pub phone: Option<String>,
    /// The answer on recusal.
    pub recusal: Recusal,
    /// Their identity document number, if shown.
    pub id_number: Option<String>,
    /// Their statement and defence (陈述申辩), if they made one.
    pub statement: Option<String>,
}

/// The party's address for service as entered (see [`ServiceAddress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddressDraft {
    /// The address documents are served at.
    pub address: String,
    /// Who receives them there.
    pub recipient: String,
    /// A telephone number for service.
    pub phone: String,
    /// Where the party agrees to electronic service, if it does.
    pub electronic: Option<String>,
}

/// One joint-inspection record: an Automerge document plus the task it belongs to.
pub struct InspectionRecord {
    doc: AutoCommit,
    task: Task,
    saved_heads: Vec<ChangeHash>,
}

impl InspectionRecord {
    /// Starts the record of `task`, written by the device `actor`.
    pub fn create(task: Task, actor: ActorId, stamp: Stamp) -> Result<Self, RecordError> {
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema_version", SCHEMA_VERSION)?;
        doc.put(ROOT, "task", to_json(&task))?;
        doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::Planned, stamp: stamp.clone() }))?;
        let sections = doc.put_object(ROOT, "sections", ObjType::Map)?;
        for department in &task.departments {
            doc.put_object(&sections, department.as_str(), ObjType::Map)?;
        }
        doc.put_object(ROOT, "findings", ObjType::Map)?;
        doc.put_object(ROOT, "arrivals", ObjType::Map)?;
        doc.put_object(ROOT, "evidence", ObjType::Map)?;
        doc.put_object(ROOT, "documents", ObjType::Map)?;
        doc.put_object(ROOT, "signatures", ObjType::Map)?;
        doc.put_object(ROOT, "rechecks", ObjType::Map)?;
        doc.put_object(ROOT, "seals", ObjType::Map)?;
        doc.commit_with(CommitOptions::default().with_message("create").with_time(stamp.at_ms / 1000));
        Ok(InspectionRecord { doc, task, saved_heads: Vec::new() })
    }

    /// Loads a record from a saved document followed by any incremental chunks.
    pub fn load<'a>(snapshot: &[u8], chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, RecordError> {
        let mut doc = AutoCommit::load(snapshot).map_err(corrupt)?;
        for chunk in chunks {
            doc.load_incremental(chunk).map_err(corrupt)?;
        }
        Self::from_doc(doc)
    }

    /// Takes in chunks another writer of the same store saved after the ones this copy was read
    /// from (this copy holds nothing unsaved): the copy then equals the stored record.
    pub fn load_stored_chunks<'a>(&mut self, chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<(), RecordError> {
        for chunk in chunks {
            self.doc.load_incremental(chunk).map_err(corrupt)?;
        }
        self.saved_heads = self.doc.get_heads();
        Ok(())
    }

    /// Reads the schema version and task of a loaded document.
    fn from_doc(mut doc: AutoCommit) -> Result<Self, RecordError> {
        let version = match doc.get(ROOT, "schema_version").map_err(corrupt)? {
            Some((v, _)) => v.as_u64().ok_or_else(|| malformed("schema_version"))?,
            None => return Err(malformed("schema_version")),
        };
        if version > SCHEMA_VERSION {
            return Err(RecordError::UnsupportedSchema { found: version, supported: SCHEMA_VERSION });
        }
        let task: Task = read_json(&doc, &ROOT, "task")?.ok_or_else(|| malformed("task"))?;
        let saved_heads = doc.get_heads();
        Ok(InspectionRecord { doc, task, saved_heads })
    }

    /// Makes further edits on this copy come from `actor` (the device's actor id).
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// The task this record belongs to.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// The current heads: hashes pinning the whole history.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The changes made or merged since the last call (or the load), as one incremental chunk.
    pub fn take_unsaved(&mut self) -> Vec<u8> {
        let bytes = self.doc.save_after(&self.saved_heads);
        self.saved_heads = self.doc.get_heads();
        bytes
    }

    /// The whole history as its raw changes, one after another: larger than [`Self::save`], but
    /// another device can be handed it without a document being loaded
    /// ([`exchange::split_changes`]).
    pub fn save_changes(&mut self) -> Vec<u8> {
        let bytes = self.doc.save_after(&[]);
        self.saved_heads = self.doc.get_heads();
        bytes
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        let bytes = self.doc.save();
        self.saved_heads = self.doc.get_heads();
        bytes
    }

    /// Applies changes received from another device (a save or incremental chunk) of this record.
    /// The caller vouches that they belong to it; [`Self::merge_from`] checks.
    pub fn merge_bytes(&mut self, bytes: &[u8]) -> Result<(), RecordError> {
        self.doc.load_incremental(bytes).map_err(corrupt)?;
        self.refresh_task()
    }

    /// Merges another copy of this record (a file handed over offline), refusing a document that
    /// merely carries the same task code but was created separately (merging it would replace
    /// whole sections) and any change the write rules forbid.
    pub fn merge_from(&mut self, other: &mut InspectionRecord, rules: &WriteRules<'_>) -> Result<(), RecordError> {
        if self.origin()? != other.origin()? {
            return Err(RecordError::UnrelatedRecord);
        }
        let incoming = self.doc.get_changes_added(&mut other.doc);
        self.apply_changes(incoming, rules).map(|_| ())
    }

    /// Re-reads the task after merging: the planner may have changed who is assigned.
    fn refresh_task(&mut self) -> Result<(), RecordError> {
        if let Some(task) = read_json::<Task>(&self.doc, &ROOT, "task")? {
            self.task = task;
        }
        Ok(())
    }

    /// Changes who is assigned (the planner's edit, made on the server).
    pub fn reassign(
        &mut self,
        stamp: Stamp,
        directory: &Directory,
        inspectors: Vec<InspectorId>,
    ) -> Result<(), RecordError> {
        let task = self.task.with_inspectors(inspectors, directory)?;
        self.doc.put(ROOT, "task", to_json(&task))?;
        self.doc.commit_with(CommitOptions::default().with_message("reassign").with_time(stamp.at_ms / 1000));
        self.task = task;
        Ok(())
    }

    /// The identity of the creation change: the object id of the `sections` map it made.
    fn origin(&self) -> Result<ObjId, RecordError> {
        self.map("sections")
    }

    // ---- readers ----

    /// The current status; if concurrently set, the deterministic winner (see [`Self::conflicts`]).
    pub fn status(&self) -> Result<Status, RecordError> {
        let entry: StatusEntry = read_json(&self.doc, &ROOT, "status")?.ok_or_else(|| malformed("status"))?;
        Ok(entry.status)
    }

    /// The team's check-in: the first inspector's arrival, once made.
    pub fn check_in(&self) -> Result<Option<CheckIn>, RecordError> {
        Ok(self.arrivals()?.into_iter().min_by_key(|c| c.stamp.at_ms))
    }

    /// Every inspector's arrival on site, by inspector.
    pub fn arrivals(&self) -> Result<Vec<CheckIn>, RecordError> {
        self.values_in(&self.map("arrivals")?)
    }

    /// The identity notice, once recorded.
    pub fn identity(&self) -> Result<Option<IdentityShown>, RecordError> {
        read_json(&self.doc, &ROOT, "identity")
    }

    /// The party's representative, once recorded.
    pub fn party(&self) -> Result<Option<PartyRepresentative>, RecordError> {
        read_json(&self.doc, &ROOT, "party")
    }

    /// All answers, by department then check point.
    pub fn answers(&self) -> Result<Vec<(DepartmentId, Answer)>, RecordError> {
        let mut out = Vec::new();
        for department in &self.task.departments {
            let answers: Vec<Answer> = self.values_in(&self.section(department)?)?;
            out.extend(answers.into_iter().map(|a| (department.clone(), a)));
        }
        Ok(out)
    }

    /// The answer to one check point, if given.
    pub fn answer(&self, department: &DepartmentId, check_point: &CheckPointId) -> Result<Option<Answer>, RecordError> {
        let section = self.section(department)?;
        read_json(&self.doc, &section, check_point.as_str())
    }

    /// All findings, by identifier.
    pub fn findings(&self) -> Result<Vec<Finding>, RecordError> {
        self.values_in(&self.map("findings")?)
    }

    /// The re-inspection results recorded in this (re-inspection) record, by finding. Records
    /// created before re-inspections were recorded have none.
    pub fn rechecks(&self) -> Result<Vec<Recheck>, RecordError> {
        match self.rechecks_map()? {
            Some(map) => self.values_in(&map),
            None => Ok(Vec::new()),
        }
    }

    /// The `rechecks` map, if the record has one (records created before it existed do not).
    fn rechecks_map(&self) -> Result<Option<ObjId>, RecordError> {
        Ok(self.doc.get(ROOT, "rechecks")?.filter(|(v, _)| v.is_object()).map(|(_, id)| id))
    }

    /// Records a re-inspection's result for one finding of the task it re-inspects: by an
    /// inspector of the re-inspecting department, on site, once per finding, with photos attached
    /// to this record; a new deadline must fall after the re-inspection day.
    pub fn record_recheck(
        &mut self,
        stamp: Stamp,
        directory: &Directory,
        finding: &str,
        outcome: RecheckOutcome,
        note: Option<String>,
        evidence: Vec<String>,
    ) -> Result<Field, RecordError> {
        if !self.task.source.covers(finding) {
            return Err(RecordError::NotToReinspect(finding.to_string()));
        }
        require_department(directory, &stamp.by, &self.task.lead_department)?;
        self.require_on_site(&stamp.by)?;
        let rechecks = self.rechecks_map()?.ok_or_else(|| malformed("rechecks"))?;
        if self.doc.get(&rechecks, finding)?.is_some() {
            return Err(RecordError::AlreadyRechecked(finding.to_string()));
        }
        if evidence.is_empty() {
            return Err(RecordError::RecheckWithoutEvidence);
        }
        let attached = self.evidence()?;
        if let Some(missing) = evidence.iter().find(|h| !attached.iter().any(|e| &e.sha256 == *h)) {
            return Err(RecordError::UnknownEvidence(missing.clone()));
        }
        match &outcome {
            RecheckOutcome::TransferredForCase { reference } => require_text("移送立案编号", reference)?,
            RecheckOutcome::NewDeadline { deadline } => {
                if Some(*deadline) <= crate::beijing::at(stamp.at_ms).map(|t| t.date_naive()) {
                    return Err(RecordError::DeadlineNotAfterRecheck(*deadline));
                }
            }
            RecheckOutcome::Rectified => {}
        }
        let recheck = Recheck { finding: finding.to_string(), outcome, note, evidence, stamp: stamp.clone() };
        self.doc.put(&rechecks, finding, to_json(&recheck))?;
        self.commit("recheck", &stamp);
        Ok(Field::Recheck(finding.to_string()))
    }

    /// The findings whose loop keeps this task from closing: for an inspection, those that
    /// required rectification without a settling result copied in (rectified, or handed over
    /// for a case); for a re-inspection, those it covers without a result.
    pub fn open_findings(&self) -> Result<Vec<String>, RecordError> {
        if !self.holds_rechecks()? {
            return Ok(Vec::new()); // created before results were recorded: its loop is followed outside it
        }
        let results = self.rechecks()?;
        Ok(match &self.task.source {
            TaskSource::ReInspection { findings, .. } => {
                findings.iter().filter(|f| !results.iter().any(|r| r.finding == f.id)).map(|f| f.id.clone()).collect()
            }
            _ => self
                .findings()?
                .into_iter()
                .filter(|f| f.rectification_required)
                .filter(|f| !results.iter().any(|r| r.finding == f.id && r.outcome.settles()))
                .map(|f| f.id)
                .collect(),
        })
    }

    /// Whether the record has the place for re-inspection results (records created before it
    /// existed do not, and never will: no map is made after creation).
    pub fn holds_rechecks(&self) -> Result<bool, RecordError> {
        Ok(self.rechecks_map()?.is_some())
    }

    /// Copies a re-inspection's settling result into the inspected task's record, closing the
    /// finding's loop there too (the tenant's write: the server does it when the result arrives).
    pub fn settle_finding(&mut self, recheck: &Recheck) -> Result<Field, RecordError> {
        if !self.findings()?.iter().any(|f| f.id == recheck.finding && f.rectification_required) {
            return Err(RecordError::NotToReinspect(recheck.finding.clone()));
        }
        let rechecks = self.rechecks_map()?.ok_or_else(|| malformed("rechecks"))?;
        if self.doc.get(&rechecks, recheck.finding.as_str())?.is_some() {
            return Err(RecordError::AlreadyRechecked(recheck.finding.clone()));
        }
        self.doc.put(&rechecks, recheck.finding.as_str(), to_json(recheck))?;
        self.commit("settle", &recheck.stamp);
        Ok(Field::Recheck(recheck.finding.clone()))
    }

    /// Every value of a map of JSON leaves, in key order.
    pub(crate) fn values_in<T: DeserializeOwned>(&self, map: &ObjId) -> Result<Vec<T>, RecordError> {
        let mut out = Vec::new();
        for key in self.doc.keys(map) {
            out.extend(read_json::<T>(&self.doc, map, &key)?);
        }
        Ok(out)
    }

    /// The counts the index keeps.
    pub fn summary(&self) -> Result<RecordSummary, RecordError> {
        Ok(RecordSummary {
            status: self.status()?,
            answered: self.answers()?.len(),
            findings: self.findings()?.len(),
            conflicts: self.conflicts()?.len(),
        })
    }

    // ---- edits: each validated first, then one Automerge change ----

    /// Records the editor's arrival on site; moves a planned record to on-site.
    pub fn check_in_at(&mut self, stamp: Stamp, position: Position) -> Result<Field, RecordError> {
        self.require_assigned(&stamp.by)?;
        let status = self.status()?;
        if !matches!(status, Status::Planned | Status::OnSite) {
            return Err(RecordError::NotOnSite(status));
        }
        if Position::wgs84(position.latitude(), position.longitude(), position.accuracy_m).as_ref() != Some(&position) {
            return Err(RecordError::InvalidPosition);
        }
        let arrivals = self.map("arrivals")?;
        if self.doc.get(&arrivals, stamp.by.as_str())?.is_some() {
            return Err(RecordError::AlreadyCheckedIn(stamp.by));
        }
        self.doc.put(&arrivals, stamp.by.as_str(), to_json(&CheckIn { position, stamp: stamp.clone() }))?;
        if status == Status::Planned {
            self.doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::OnSite, stamp: stamp.clone() }))?;
        }
        self.commit("check_in", &stamp);
        Ok(Field::Arrival(stamp.by))
    }

    /// Records that the inspectors showed their certificates (numbers taken from the directory).
    pub fn show_identity(&mut self, stamp: Stamp, certificate_numbers: Vec<String>) -> Result<Field, RecordError> {
        self.require_on_site(&stamp.by)?;
        if certificate_numbers.len() < 2 {
            return Err(RecordError::EmptyText("两名执法人员的执法证号"));
        }
        self.doc.put(ROOT, "identity", to_json(&IdentityShown { certificate_numbers, stamp: stamp.clone() }))?;
        self.commit("identity", &stamp);
        Ok(Field::Identity)
    }

    /// Records the party's representative and their answer on recusal.
    pub fn record_party(&mut self, stamp: Stamp, party: PartyDraft) -> Result<Field, RecordError> {
        self.require_on_site(&stamp.by)?;
        require_text("当事人代表姓名", &party.name)?;
        require_text("当事人代表身份", &party.role)?;
        if let Recusal::Requested { reason } = &party.recusal {
            require_text("回避理由", reason)?;
        }
        let value = PartyRepresentative {
            name: party.name,
            role: party.role,
            phone: party.phone,
            recusal: party.recusal,
            id_number: party.id_number.filter(|s| !s.trim().is_empty()),
            statement: party.statement.filter(|s| !s.trim().is_empty()),
            stamp: stamp.clone(),
        };
        self.doc.put(ROOT, "party", to_json(&value))?;
        self.commit("party", &stamp);
        Ok(Field::Party)
    }

    /// Records where the party accepts service (送达地址确认书), on site or once the record is
    /// complete; a correction replaces it.
    pub fn confirm_service_address(&mut self, stamp: Stamp, draft: ServiceAddressDraft) -> Result<Field, RecordError> {
        self.require_assigned(&stamp.by)?;
        match self.status()? {
            Status::OnSite | Status::Recorded => {}
            other => return Err(RecordError::NotOnSite(other)),
        }
        require_text("送达地址", &draft.address)?;
        require_text("受送达人", &draft.recipient)?;
        require_text("送达联系电话", &draft.phone)?;
        let value = ServiceAddress {
            address: draft.address,
            recipient: draft.recipient,
            phone: draft.phone,
            electronic: draft.electronic.filter(|s| !s.trim().is_empty()),
            stamp: stamp.clone(),
        };
        self.doc.put(ROOT, "service_address", to_json(&value))?;
        self.commit("service address", &stamp);
        Ok(Field::ServiceAddress)
    }

    /// Where the party accepts service, if confirmed.
    pub fn service_address(&self) -> Result<Option<ServiceAddress>, RecordError> {
        read_json(&self.doc, &ROOT, "service_address")
    }

    /// Answers a check point of one of the task's matters, checking the answer against its type.
    pub fn answer_check_point(
        &mut self,
        stamp: Stamp,
        directory: &Directory,
        check_point: &CheckPointId,
        value: AnswerValue,
        note: Option<String>,
        evidence: Vec<String>,
    ) -> Result<Field, RecordError> {
        // What was typed is checked first (a wrong check point is named even before check-in).
        let (matter, point) = directory
            .check_point(check_point)
            .filter(|(m, _)| self.task.matters.contains(&m.id))
            .ok_or_else(|| RecordError::UnknownCheckPoint(check_point.clone()))?;
        require_department(directory, &stamp.by, &matter.department)?;
        validate_answer(check_point, &point.answer, &value, &evidence)?;
        self.require_on_site(&stamp.by)?;
        if !evidence.is_empty() {
            let attached = self.evidence()?;
            if let Some(missing) = evidence.iter().find(|h| !attached.iter().any(|e| &e.sha256 == *h)) {
                return Err(RecordError::UnknownEvidence(missing.clone()));
            }
        }
        let department = matter.department.clone();
        let section = self.section(&department)?;
        let answer = Answer { check_point: check_point.clone(), value, note, evidence, stamp: stamp.clone() };
        self.doc.put(&section, check_point.as_str(), to_json(&answer))?;
        self.commit("answer", &stamp);
        Ok(Field::Answer(check_point.clone()))
    }

    /// Adds a finding of the editor's own department; returns its field (holding the new identifier).
    pub fn add_finding(
        &mut self,
        stamp: Stamp,
        directory: &Directory,
        draft: FindingDraft,
    ) -> Result<Field, RecordError> {
        self.require_on_site(&stamp.by)?;
        require_department(directory, &stamp.by, &draft.department)?;
        require_text("问题描述", &draft.problem)?;
        require_text("法律依据", &draft.legal_basis)?;
        if draft.rectification_required != draft.deadline.is_some() {
            return Err(RecordError::DeadlineMismatch);
        }
        if !self.task.departments.contains(&draft.department) {
            return Err(RecordError::MalformedField { field: format!("finding department {}", draft.department) });
        }
        if let Some(cp) = &draft.check_point {
            self.answer(&draft.department, cp)?; // section must exist
        }
        let mut raw = [0u8; 8];
        crate::random::fill(&mut raw);
        let id = hex::encode(raw);
        let finding = Finding {
            id: id.clone(),
            department: draft.department,
            check_point: draft.check_point,
            problem: draft.problem,
            legal_basis: draft.legal_basis,
            rectification_required: draft.rectification_required,
            deadline: draft.deadline,
            stamp: stamp.clone(),
        };
        let findings = self.map("findings")?;
        self.doc.put(&findings, id.as_str(), to_json(&finding))?;
        self.commit("finding", &stamp);
        Ok(Field::Finding(id))
    }

    /// Moves the record along its lifecycle; completing the recording needs a complete, conflict-free record.
    pub fn set_status(&mut self, stamp: Stamp, directory: &Directory, next: Status) -> Result<Field, RecordError> {
        self.require_assigned(&stamp.by)?;
        let current = self.status()?;
        if !current.can_become(next) {
            return Err(RecordError::ForbiddenTransition { from: current, to: next });
        }
        let by_check_in = current == Status::Planned && next == Status::OnSite;
        if !by_check_in && stamp.by != self.task.lead_inspector {
            return Err(RecordError::NotLeadInspector(stamp.by));
        }
        match next {
            Status::OnSite if self.check_in()?.is_none() => {
                return Err(RecordError::Incomplete { missing: vec!["check_in".into()] });
            }
            Status::Recorded => self.require_complete(directory)?,
            Status::Closed => {
                let open = self.open_findings()?;
                if !open.is_empty() {
                    return Err(RecordError::OpenFindings(open));
                }
            }
            _ => {}
        }
        self.doc.put(ROOT, "status", to_json(&StatusEntry { status: next, stamp: stamp.clone() }))?;
        self.commit("status", &stamp);
        Ok(Field::Status)
    }

    fn require_complete(&self, directory: &Directory) -> Result<(), RecordError> {
        let open = self.conflicts()?.len();
        if open > 0 {
            return Err(RecordError::OpenConflicts(open));
        }
        let mut missing = Vec::new();
        if self.identity()?.is_none() {
            missing.push("identity".to_string());
        }
        if self.party()?.is_none() {
            missing.push("party".to_string());
        }
        let answered: std::collections::HashSet<CheckPointId> =
            self.answers()?.into_iter().map(|(_, a)| a.check_point).collect();
        let required = self.task.matters.iter().filter_map(|m| directory.matter(m)).flat_map(|m| &m.check_points);
        missing.extend(required.filter(|cp| !answered.contains(&cp.id)).map(|cp| format!("answer:{}", cp.id)));
        if missing.is_empty() { Ok(()) } else { Err(RecordError::Incomplete { missing }) }
    }

    // ---- helpers ----

    pub(crate) fn require_assigned(&self, inspector: &InspectorId) -> Result<(), RecordError> {
        if self.task.inspectors.contains(inspector) { Ok(()) } else { Err(RecordError::NotAssigned(inspector.clone())) }
    }

    /// The status entry (the status with who set it and when).
    pub fn status_entry(&self) -> Result<Option<StatusEntry>, RecordError> {
        read_json(&self.doc, &ROOT, "status")
    }

    fn require_on_site_or_recorded(&self, inspector: &InspectorId) -> Result<(), RecordError> {
        self.require_assigned(inspector)?;
        match self.status()? {
            Status::OnSite | Status::Recorded => Ok(()),
            other => Err(RecordError::NotOnSite(other)),
        }
    }

    fn require_on_site(&self, inspector: &InspectorId) -> Result<(), RecordError> {
        self.require_assigned(inspector)?;
        match self.status()? {
            Status::OnSite => Ok(()),
            other => Err(RecordError::NotOnSite(other)),
        }
    }

    pub(crate) fn commit(&mut self, message: &str, stamp: &Stamp) {
        self.doc.commit_with(CommitOptions::default().with_message(message).with_time(stamp.at_ms / 1000));
    }

    pub(crate) fn map(&self, key: &'static str) -> Result<ObjId, RecordError> {
        match self.doc.get(ROOT, key)? {
            Some((v, id)) if v.is_object() => Ok(id),
            _ => Err(malformed(key)),
        }
    }

    fn section(&self, department: &DepartmentId) -> Result<ObjId, RecordError> {
        let sections = self.map("sections")?;
        match self.doc.get(&sections, department.as_str())? {
            Some((v, id)) if v.is_object() => Ok(id),
            _ => Err(RecordError::MalformedField { field: format!("sections/{department}") }),
        }
    }

    /// The whole document, compacted, leaving the unsaved-change cursor where it is.
    pub fn snapshot(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Raw read access for tests.
    #[cfg(test)]
    pub(crate) fn doc(&self) -> &AutoCommit {
        &self.doc
    }

    /// Raw access for tests that tamper with a record as an attacker with the file would.
    #[cfg(test)]
    pub(crate) fn doc_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }
}

fn validate_answer(
    cp: &CheckPointId,
    kind: &AnswerType,
    value: &AnswerValue,
    evidence: &[String],
) -> Result<(), RecordError> {
    if let Some(bad) = evidence.iter().find(|h| !values::is_sha256_hex(h)) {
        return Err(RecordError::MalformedEvidenceHash(bad.clone()));
    }
    let got = match value {
        AnswerValue::Pass | AnswerValue::Fail | AnswerValue::NotApplicable => "pass_fail",
        AnswerValue::Number { .. } => "number",
        AnswerValue::Text { .. } => "text",
        AnswerValue::Photos => "photo",
    };
    // Any check point may be marked not applicable.
    if matches!(value, AnswerValue::NotApplicable) {
        return Ok(());
    }
    if got != kind.kind() {
        return Err(RecordError::WrongAnswerType { check_point: cp.clone(), expected: kind.kind(), got });
    }
    match (kind, value) {
        (AnswerType::Number { unit, min, max }, AnswerValue::Number { value, unit: got_unit }) => {
            if got_unit != unit {
                return Err(RecordError::WrongUnit {
                    check_point: cp.clone(),
                    expected: unit.clone(),
                    got: got_unit.clone(),
                });
            }
            let number = parse_decimal(value).ok_or_else(|| RecordError::InvalidNumber { value: value.clone() })?;
            if min.is_some_and(|m| number < m) || max.is_some_and(|m| number > m) {
                return Err(RecordError::NumberOutOfRange {
                    check_point: cp.clone(),
                    value: value.clone(),
                    min: *min,
                    max: *max,
                });
            }
        }
        (AnswerType::Text, AnswerValue::Text { text }) => require_text("文字结果", text)?,
        (AnswerType::Photo, AnswerValue::Photos) if evidence.is_empty() => {
            return Err(RecordError::MissingEvidence(cp.clone()));
        }
        _ => {}
    }
    Ok(())
}

/// Parses a plain decimal (`-12.5`, `3`), rejecting exponents, `inf` and `NaN`.
fn parse_decimal(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let mut parts = body.splitn(2, '.');
    let int = parts.next()?;
    let frac = parts.next();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    s.parse().ok()
}

/// The inspector belongs to `department` (per the directory).
fn require_department(
    directory: &Directory,
    inspector: &InspectorId,
    department: &DepartmentId,
) -> Result<(), RecordError> {
    match directory.inspector(inspector) {
        Some(i) if &i.department == department => Ok(()),
        _ => Err(RecordError::OtherDepartment { inspector: inspector.clone(), department: department.clone() }),
    }
}

fn require_text(what: &'static str, value: &str) -> Result<(), RecordError> {
    if value.trim().is_empty() { Err(RecordError::EmptyText(what)) } else { Ok(()) }
}

fn malformed(field: &str) -> RecordError {
    RecordError::MalformedField { field: field.to_string() }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    // Serialising these plain structs cannot fail: no maps with non-string keys, no foreign types.
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn read_json<T: DeserializeOwned>(
    doc: &AutoCommit,
    obj: &ObjId,
    key: &str,
) -> Result<Option<T>, RecordError> {
    match doc.get(obj, key)? {
        None => Ok(None),
        Some((value, _)) => {
            let text = value.as_str().ok_or_else(|| malformed(key))?;
            serde_json::from_str(text).map(Some).map_err(|_| malformed(key))
        }
    }
}

#[cfg(test)]
mod tests;

/// An answer kind as a person names it (zh-CN), for errors.
fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "pass_fail" => "符合/不符合/不适用（pass、fail、na）",
        "number" => "数值",
        "text" => "文字",
        "photo" => "照片（onevisit photo add … --check-point）",
        _ => "其他",
    }
}

/// A plausible range as a person reads it.
fn range_zh(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a} 至 {b}"),
        (Some(a), None) => format!("不小于 {a}"),
        (None, Some(b)) => format!("不大于 {b}"),
        (None, None) => "无".into(),
    }
}

/// Why an on-site entry is refused, with what to do.
fn not_on_site_zh(status: Status) -> String {
    match status {
        Status::Planned => "还没有到场签到：先运行 onevisit record check-in 任务编号 --lat 纬度 --lon 经度".into(),
        other => format!("检查已处于“{}”状态，现场记录不能再添加或修改", other.label_zh()),
    }
}
