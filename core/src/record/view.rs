//! A read-only view of a record with names resolved from the directory, for screens and output.

use serde::Serialize;

use crate::domain::Directory;

use super::{CheckIn, Finding, IdentityShown, InspectionRecord, PartyRepresentative, Recheck, RecordError, Status};
use crate::domain::TaskSource;

/// The whole record as a screen shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    /// Task code.
    pub task_code: String,
    /// Status.
    pub status: Status,
    /// Status label (zh-CN).
    pub status_label: &'static str,
    /// Enterprise USCC.
    pub enterprise_uscc: String,
    /// Enterprise name.
    pub enterprise_name: String,
    /// Enterprise address.
    pub enterprise_address: String,
    /// Source label (zh-CN).
    pub source: &'static str,
    /// Window, as `start ~ end`.
    pub window: String,
    /// Lead department name.
    pub lead_department: String,
    /// Assigned inspectors.
    pub inspectors: Vec<InspectorView>,
    /// Each inspector's arrival on site.
    pub arrivals: Vec<CheckIn>,
    /// Identity notice.
    pub identity: Option<IdentityShown>,
    /// Party.
    pub party: Option<PartyRepresentative>,
    /// One section per department.
    pub sections: Vec<SectionView>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// For a re-inspection (复查), the task it re-inspects.
    pub reinspection_of: Option<String>,
    /// The loop's step: for a re-inspection, each finding it re-inspects; for an inspected task,
    /// each finding that required rectification; with its result once recorded (copied in by
    /// the server, for an inspected task).
    pub rechecks: Vec<RecheckView>,
    /// Number of open conflicts.
    pub open_conflicts: usize,
}

/// A finding at the re-inspection step and its result.
#[derive(Debug, Clone, Serialize)]
pub struct RecheckView {
    /// The finding (of the inspected task).
    pub finding: String,
    /// What was wrong.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// The deadline that passed (or is running).
    pub deadline: Option<chrono::NaiveDate>,
    /// The result, once recorded.
    pub result: Option<Recheck>,
    /// The result as inspectors read it (zh-CN).
    pub result_label: Option<String>,
}

/// An assigned inspector.
#[derive(Debug, Clone, Serialize)]
pub struct InspectorView {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Certificate number.
    pub certificate_number: String,
    /// Department short name.
    pub department: String,
}

/// A department's section.
#[derive(Debug, Clone, Serialize)]
pub struct SectionView {
    /// Department id.
    pub department: String,
    /// Department name.
    pub department_name: String,
    /// Every check point of the department's selected matters, answered or not.
    pub check_points: Vec<CheckPointView>,
}

/// A check point and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct CheckPointView {
    /// Check point id.
    pub id: String,
    /// What to check.
    pub title: String,
    /// The kind of answer it takes: `pass_fail`, `number`, `text` or `photo`.
    pub answer_kind: &'static str,
    /// The unit of a number answer.
    pub unit: Option<String>,
    /// The answer shown (zh-CN), if answered.
    pub answer: Option<String>,
    /// The note, if any.
    pub note: Option<String>,
    /// Who answered.
    pub by: Option<String>,
    /// Evidence hashes.
    pub evidence: Vec<String>,
    /// Whether concurrent answers are open.
    pub conflicted: bool,
}

impl InspectionRecord {
    /// The record with names from `directory`.
    pub fn view(&self, directory: &Directory) -> Result<RecordView, RecordError> {
        let task = self.task();
        let enterprise = directory.enterprise(&task.enterprise);
        let dept_name = |id: &crate::domain::DepartmentId| {
            directory.department(id).map(|d| d.short_name.clone()).unwrap_or_else(|| id.to_string())
        };
        let conflicts = self.conflicts()?;
        let conflicted: std::collections::HashSet<String> = conflicts.iter().map(|c| c.field.to_string()).collect();
        let answers = self.answers()?;
        let mut sections = Vec::new();
        for department in &task.departments {
            let mut check_points = Vec::new();
            let matters =
                task.matters.iter().filter_map(|m| directory.matter(m)).filter(|m| &m.department == department);
            for point in matters.flat_map(|m| &m.check_points) {
                let answer = answers.iter().find(|(_, a)| a.check_point == point.id).map(|(_, a)| a);
                check_points.push(CheckPointView {
                    id: point.id.to_string(),
                    title: point.title.clone(),
                    answer_kind: point.answer.kind(),
                    unit: match &point.answer {
                        crate::domain::AnswerType::Number { unit, .. } => Some(unit.clone()),
                        _ => None,
                    },
                    answer: answer.map(|a| a.value.display_zh()),
                    note: answer.and_then(|a| a.note.clone()),
                    by: answer.map(|a| a.stamp.by.to_string()),
                    evidence: answer.map(|a| a.evidence.clone()).unwrap_or_default(),
                    conflicted: conflicted.contains(&format!("answer:{}", point.id)),
                });
            }
            sections.push(SectionView {
                department: department.to_string(),
                department_name: dept_name(department),
                check_points,
            });
        }
        let status = self.status()?;
        Ok(RecordView {
            task_code: task.code.to_string(),
            status,
            status_label: status.label_zh(),
            enterprise_uscc: task.enterprise.to_string(),
            enterprise_name: enterprise.map(|e| e.name.clone()).unwrap_or_default(),
            enterprise_address: enterprise.map(|e| e.address.clone()).unwrap_or_default(),
            source: task.source.label_zh(),
            window: format!("{} ~ {}", task.window.start, task.window.end),
            lead_department: dept_name(&task.lead_department),
            inspectors: task
                .inspectors
                .iter()
                .map(|id| {
                    let i = directory.inspector(id);
                    InspectorView {
                        id: id.to_string(),
                        name: i.map(|i| i.name.clone()).unwrap_or_default(),
                        certificate_number: i.map(|i| i.certificate_number.clone()).unwrap_or_default(),
                        department: i.map(|i| dept_name(&i.department)).unwrap_or_default(),
                    }
                })
                .collect(),
            arrivals: self.arrivals()?,
            identity: self.identity()?,
            party: self.party()?,
            sections,
            reinspection_of: match &task.source {
                TaskSource::ReInspection { of_task, .. } => Some(of_task.to_string()),
                _ => None,
            },
            rechecks: self.recheck_views()?,
            findings: self.findings()?,
            open_conflicts: conflicts.len(),
        })
    }
}

impl InspectionRecord {
    /// The findings at the re-inspection step with their results (see [`RecordView::rechecks`]).
    fn recheck_views(&self) -> Result<Vec<RecheckView>, RecordError> {
        let results = self.rechecks()?;
        let result = |id: &str| results.iter().find(|r| r.finding == id).cloned();
        let view = |finding: String, problem: String, legal_basis: String, deadline| {
            let result = result(&finding);
            RecheckView {
                result_label: result.as_ref().map(|r| r.outcome.label_zh()),
                finding,
                problem,
                legal_basis,
                deadline,
                result,
            }
        };
        Ok(match &self.task().source {
            TaskSource::ReInspection { findings, .. } => findings
                .iter()
                .map(|f| view(f.id.clone(), f.problem.clone(), f.legal_basis.clone(), f.deadline))
                .collect(),
            _ => self
                .findings()?
                .into_iter()
                .filter(|f| f.rectification_required)
                .map(|f| view(f.id, f.problem, f.legal_basis, f.deadline))
                .collect(),
        })
    }
}
