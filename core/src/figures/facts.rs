//! What the city's figures need of one inspection record: a small summary the server keeps beside
//! each record and rewrites on every write, so that a report reads one short row per task
//! instead of loading a hundred thousand Automerge documents.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::document::DocumentKind;
use crate::domain::{TaskSource, TimeWindow};
use crate::record::documents::MissingSignature;
use crate::record::{InspectionRecord, RecheckOutcome, RecordError, Status};

/// The layout of [`TaskFacts`]; a stored summary of another layout is computed again.
pub const FACTS_VERSION: u32 = 2;

/// Why a task exists, as the figures group it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Drawn by the 双随机 selection.
    RandomDraw,
    /// Raised by a complaint or a lead.
    ComplaintOrLead,
    /// Part of an enforcement plan.
    Plan,
    /// A re-inspection (复查).
    ReInspection,
}

impl SourceKind {
    /// Planned work (双随机 and 执法计划): what 计划任务完成率 counts.
    pub fn is_planned(self) -> bool {
        matches!(self, SourceKind::RandomDraw | SourceKind::Plan)
    }
}

/// One finding, as the loop's figures read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingFacts {
    /// Its identifier in the record.
    pub id: String,
    /// The department it falls under.
    pub department: String,
    /// What is wrong (for the 督办 list).
    pub problem: String,
    /// When it was recorded (device time, ms).
    pub recorded_at_ms: i64,
    /// Whether an order to rectify is required.
    pub rectification_required: bool,
    /// The rectification deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
    /// Whether its department's latest order to rectify is fully signed.
    pub ordered: bool,
}

/// A re-inspection result: on a re-inspection, what it found; on an inspected task, a settling
/// result copied in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecheckFacts {
    /// The finding (of the inspected task).
    pub finding: String,
    /// What was found.
    pub outcome: RecheckOutcome,
    /// When (device time, ms).
    pub at_ms: i64,
}

/// The latest version of a document that still lacks signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsignedDocument {
    /// Which document.
    pub kind: DocumentKind,
    /// The issuing department.
    pub department: String,
    /// Its number.
    pub number: String,
    /// What it still needs (empty when a present signature is itself invalid).
    pub missing: Vec<MissingSignature>,
}

/// Everything the figures and the 督办 list read of one task's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFacts {
    /// [`FACTS_VERSION`] when computed.
    pub v: u32,
    /// The task code.
    pub code: String,
    /// The inspected enterprise (USCC).
    pub enterprise: String,
    /// Why the task exists.
    pub source: SourceKind,
    /// For a re-inspection, the task it re-inspects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of_task: Option<String>,
    /// For a re-inspection, the findings of that task it re-inspects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<String>,
    /// The lead department.
    pub lead_department: String,
    /// Every department taking part.
    pub departments: Vec<String>,
    /// The matters selected (their check points are what there is to answer).
    pub matters: Vec<String>,
    /// When it is due.
    pub window: TimeWindow,
    /// Where the record stands.
    pub status: Status,
    /// The team's first arrival on site (device time, ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at_ms: Option<i64>,
    /// Whether a 现场检查笔录 was e-signed on the handheld (two inspectors and the party, or a
    /// witnessed refusal).
    pub on_site_record_signed: bool,
    /// Its findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingFacts>,
    /// Its re-inspection results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rechecks: Vec<RecheckFacts>,
    /// Check points answered.
    pub answered: usize,
    /// Documents rendered (latest versions, one per kind and department).
    pub documents: usize,
    /// Open conflicts.
    pub conflicts: usize,
    /// Documents whose latest version is not fully signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsigned: Vec<UnsignedDocument>,
}

impl TaskFacts {
    /// The summary of a record as it stands. Signatures are checked for integrity, signer and
    /// assignment; whose key they are was checked by the write rules when they arrived.
    pub fn of(record: &InspectionRecord) -> Result<TaskFacts, RecordError> {
        let task = record.task();
        let (source, of_task, covers) = match &task.source {
            TaskSource::RandomDraw => (SourceKind::RandomDraw, None, Vec::new()),
            TaskSource::ComplaintOrLead { .. } => (SourceKind::ComplaintOrLead, None, Vec::new()),
            TaskSource::Plan { .. } => (SourceKind::Plan, None, Vec::new()),
            TaskSource::ReInspection { of_task, findings } => {
                (SourceKind::ReInspection, Some(of_task.to_string()), findings.iter().map(|f| f.id.clone()).collect())
            }
        };
        let mut on_site_record_signed = false;
        let mut ordered = Vec::new();
        let mut unsigned = Vec::new();
        let documents = record.documents()?;
        let latest_versions: Vec<_> = documents
            .iter()
            .filter(|d| {
                !documents.iter().any(|o| o.kind == d.kind && o.department == d.department && o.version > d.version)
            })
            .collect();
        for latest in &latest_versions {
            let report = record.document_report(&latest.sha256, None)?;
            match (report.signed, latest.kind) {
                (true, DocumentKind::OnSiteRecord) => on_site_record_signed = true,
                (true, DocumentKind::RectificationOrder) => ordered.push(latest.department.clone()),
                (true, DocumentKind::AddressConfirmation | DocumentKind::ServiceReceipt) => {}
                (false, kind) => unsigned.push(UnsignedDocument {
                    kind,
                    department: latest.department.to_string(),
                    number: latest.number.clone(),
                    missing: report.missing,
                }),
            }
        }
        let findings = record
            .findings()?
            .into_iter()
            .map(|f| FindingFacts {
                ordered: ordered.contains(&f.department),
                id: f.id,
                department: f.department.to_string(),
                problem: f.problem,
                recorded_at_ms: f.stamp.at_ms,
                rectification_required: f.rectification_required,
                deadline: f.deadline,
            })
            .collect();
        let rechecks = record
            .rechecks()?
            .into_iter()
            .map(|r| RecheckFacts { finding: r.finding, outcome: r.outcome, at_ms: r.stamp.at_ms })
            .collect();
        Ok(TaskFacts {
            v: FACTS_VERSION,
            code: task.code.to_string(),
            enterprise: task.enterprise.to_string(),
            source,
            of_task,
            covers,
            lead_department: task.lead_department.to_string(),
            departments: task.departments.iter().map(ToString::to_string).collect(),
            matters: task.matters.iter().map(ToString::to_string).collect(),
            window: task.window,
            status: record.status()?,
            arrived_at_ms: record.check_in()?.map(|c| c.stamp.at_ms),
            on_site_record_signed,
            findings,
            rechecks,
            answered: record.answers()?.len(),
            documents: latest_versions.len(),
            conflicts: record.conflicts()?.len(),
            unsigned,
        })
    }

    /// The summary as stored (compact JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored summary, if it parses and has the current layout (else it is computed again).
    pub fn from_json(json: &str) -> Option<TaskFacts> {
        serde_json::from_str::<TaskFacts>(json).ok().filter(|f| f.v == FACTS_VERSION)
    }

    /// Whether the inspection was carried out: recorded (已记录) or closed (已办结).
    pub fn carried_out(&self) -> bool {
        matches!(self.status, Status::Recorded | Status::Closed)
    }

    /// The Beijing day of the first arrival on site.
    pub fn arrival_day(&self) -> Option<NaiveDate> {
        self.arrived_at_ms.and_then(crate::beijing::at).map(|t| t.date_naive())
    }
}
