//! Inspection tasks (检查任务): a planned joint inspection of one enterprise, and its unique task code (检查码).

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::directory::Directory;
use super::ids::{DepartmentId, InspectorId, MatterId};
use super::uscc::Uscc;

/// Characters of a task code's random part: Crockford base32 (no I, L, O, U).
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Why a task cannot be created as drafted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The law requires at least two inspectors on site.
    #[error("联合检查至少需要两名不同的执法人员（--inspector 写两次），这里只有 {0} 名")]
    TooFewInspectors(usize),
    /// The target enterprise is not in the directory.
    #[error("名录中没有企业 {0}：请核对统一社会信用代码")]
    UnknownEnterprise(Uscc),
    /// A department is not in the directory.
    #[error("名录中没有部门 {0}")]
    UnknownDepartment(DepartmentId),
    /// An inspector is not in the directory.
    #[error("名录中没有执法人员 {0}")]
    UnknownInspector(InspectorId),
    /// A matter is not in the catalogue.
    #[error("检查事项目录中没有 {0}")]
    UnknownMatter(MatterId),
    /// The lead department must also take part.
    #[error("牵头部门 {0} 不在参加部门之中")]
    LeadNotParticipating(DepartmentId),
    /// The lead inspector must be assigned and serve in the lead department.
    #[error("牵头执法人员 {0} 须是本任务的执法人员且属于牵头部门")]
    InvalidLeadInspector(InspectorId),
    /// Every inspector must serve in a participating department.
    #[error("执法人员 {inspector} 属于 {department} 部门，该部门不参加本任务（用 --department 加入）")]
    InspectorOutsideDepartments {
        /// The inspector.
        inspector: InspectorId,
        /// The department.
        department: DepartmentId,
    },
    /// Every matter must belong to a participating department.
    #[error("检查事项 {matter} 属于 {department} 部门，该部门不参加本任务（用 --department 加入）")]
    MatterOutsideDepartments {
        /// The matter.
        matter: MatterId,
        /// The department.
        department: DepartmentId,
    },
    /// A task checks at least one matter.
    #[error("任务至少要选一个检查事项（--matter）")]
    NoMatters,
    /// The time window ends before it starts.
    #[error("检查时限的结束日期（{end}）早于开始日期（{start}）")]
    InvertedWindow {
        /// The first day.
        start: NaiveDate,
        /// The last day.
        end: NaiveDate,
    },
    /// The task code is not of the documented form.
    #[error(
        "“{0}”不是任务编号：格式为 行政区划-日期-8位编码，如 330482-20261201-AB12CD34（onevisit tasks list 列出全部）"
    )]
    MalformedCode(String),
}

/// The unique code every enforcement action carries (执法监管100%赋码): `division-date-random`.
///
/// Devices create tasks offline, so uniqueness comes from 40 random bits per division and day
/// rather than from a central counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskCode(String);

impl TaskCode {
    /// Draws a fresh code for a task planned in `division` on `date`.
    pub fn generate(division: &str, date: NaiveDate) -> Result<Self, TaskError> {
        let mut random = [0u8; 8];
        crate::random::fill(&mut random);
        let tail: String = random.iter().map(|b| CODE_ALPHABET[(b & 31) as usize] as char).collect();
        Self::parse(&format!("{division}-{}-{tail}", date.format("%Y%m%d")))
    }

    /// Parses and validates a code.
    pub fn parse(input: &str) -> Result<Self, TaskError> {
        let malformed = || TaskError::MalformedCode(input.to_string());
        let mut parts = input.split('-');
        let (Some(division), Some(date), Some(tail), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(division, 6)
            || !digits(date, 8)
            || NaiveDate::parse_from_str(date, "%Y%m%d").is_err()
            || tail.len() != 8
            || !tail.bytes().all(|b| CODE_ALPHABET.contains(&b))
        {
            return Err(malformed());
        }
        Ok(TaskCode(input.to_string()))
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TaskCode {
    type Error = TaskError;
    fn try_from(s: String) -> Result<Self, TaskError> {
        Self::parse(&s)
    }
}

impl From<TaskCode> for String {
    fn from(c: TaskCode) -> String {
        c.0
    }
}

/// Why a task exists (任务来源).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskSource {
    /// Drawn by the 双随机 random selection.
    RandomDraw,
    /// Raised by a complaint or a lead (线索), e.g. from the 平治110 dispatch platform.
    ComplaintOrLead {
        /// The complaint's or lead's reference number.
        reference: String,
    },
    /// Part of an enforcement plan (执法计划).
    Plan {
        /// The plan's reference.
        reference: String,
    },
    /// A re-inspection (复查) following an earlier task's order to rectify.
    ReInspection {
        /// The task whose findings are re-inspected.
        of_task: TaskCode,
        /// The findings to re-inspect, as that task's record states them (the re-inspecting
        /// inspectors may not hold it).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        findings: Vec<FindingToRecheck>,
    },
}

/// A finding a re-inspection checks again, as the inspected task's record states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingToRecheck {
    /// Its identifier in the inspected task's record.
    pub id: String,
    /// What was wrong.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// The deadline that passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
}

impl TaskSource {
    /// For a re-inspection, whether it covers the finding `id` of the task it re-inspects.
    pub fn covers(&self, id: &str) -> bool {
        matches!(self, TaskSource::ReInspection { findings, .. } if findings.iter().any(|f| f.id == id))
    }
}

impl TaskSource {
    /// Every kind's machine name, as `kind` returns it.
    pub const KINDS: [&'static str; 4] = ["random_draw", "complaint_or_lead", "plan", "re_inspection"];

    /// The machine name of the kind (the serialised `kind` tag).
    pub fn kind(&self) -> &'static str {
        match self {
            TaskSource::RandomDraw => Self::KINDS[0],
            TaskSource::ComplaintOrLead { .. } => Self::KINDS[1],
            TaskSource::Plan { .. } => Self::KINDS[2],
            TaskSource::ReInspection { .. } => Self::KINDS[3],
        }
    }

    /// The zh-CN label shown to inspectors.
    pub fn label_zh(&self) -> &'static str {
        Self::kind_label_zh(self.kind())
    }

    /// The zh-CN label of a kind as [`Self::kind`] names it (task lists keep the kind only);
    /// empty for a kind this version does not know.
    pub fn kind_label_zh(kind: &str) -> &'static str {
        match kind {
            "random_draw" => "双随机抽查",
            "complaint_or_lead" => "投诉举报/线索",
            "plan" => "执法计划",
            "re_inspection" => "复查",
            _ => "",
        }
    }
}

/// The days within which the inspection is to take place, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
}

/// What a planner fills in to create a task; validated into a [`Task`] against the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDraft {
    /// The inspected enterprise.
    pub enterprise: Uscc,
    /// The department leading the joint inspection (牵头部门).
    pub lead_department: DepartmentId,
    /// The departments taking part, the lead included.
    pub departments: Vec<DepartmentId>,
    /// The assigned inspectors; at least two.
    pub inspectors: Vec<InspectorId>,
    /// The inspector of the lead department who resolves conflicting entries.
    pub lead_inspector: InspectorId,
    /// The selected inspection matters.
    pub matters: Vec<MatterId>,
    /// When the inspection is due.
    pub window: TimeWindow,
    /// Why the task exists.
    pub source: TaskSource,
}

/// A validated joint-inspection task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The unique task code.
    pub code: TaskCode,
    /// The inspected enterprise.
    pub enterprise: Uscc,
    /// The leading department.
    pub lead_department: DepartmentId,
    /// Participating departments, sorted, the lead included.
    pub departments: Vec<DepartmentId>,
    /// Assigned inspectors, sorted, at least two.
    pub inspectors: Vec<InspectorId>,
    /// The inspector who resolves conflicts.
    pub lead_inspector: InspectorId,
    /// Selected matters, sorted.
    pub matters: Vec<MatterId>,
    /// When the inspection is due.
    pub window: TimeWindow,
    /// Why the task exists.
    pub source: TaskSource,
}

impl Task {
    /// The same task assigned to `inspectors` instead, validated as a new draft would be.
    pub fn with_inspectors(&self, inspectors: Vec<InspectorId>, directory: &Directory) -> Result<Task, TaskError> {
        let draft = TaskDraft {
            enterprise: self.enterprise.clone(),
            lead_department: self.lead_department.clone(),
            departments: self.departments.clone(),
            inspectors,
            lead_inspector: self.lead_inspector.clone(),
            matters: self.matters.clone(),
            window: self.window,
            source: self.source.clone(),
        };
        Task::from_draft(draft, self.code.clone(), directory)
    }

    /// Validates a draft against the directory and gives it `code`.
    pub fn from_draft(draft: TaskDraft, code: TaskCode, directory: &Directory) -> Result<Task, TaskError> {
        let departments: BTreeSet<DepartmentId> = draft.departments.into_iter().collect();
        let inspectors: BTreeSet<InspectorId> = draft.inspectors.into_iter().collect();
        let matters: BTreeSet<MatterId> = draft.matters.into_iter().collect();

        if inspectors.len() < 2 {
            return Err(TaskError::TooFewInspectors(inspectors.len()));
        }
        if directory.enterprise(&draft.enterprise).is_none() {
            return Err(TaskError::UnknownEnterprise(draft.enterprise));
        }
        if let Some(unknown) = departments.iter().find(|d| directory.department(d).is_none()) {
            return Err(TaskError::UnknownDepartment(unknown.clone()));
        }
        if !departments.contains(&draft.lead_department) {
            return Err(TaskError::LeadNotParticipating(draft.lead_department));
        }
        for id in &inspectors {
            let inspector = directory.inspector(id).ok_or_else(|| TaskError::UnknownInspector(id.clone()))?;
            if !departments.contains(&inspector.department) {
                return Err(TaskError::InspectorOutsideDepartments {
                    inspector: id.clone(),
                    department: inspector.department.clone(),
                });
            }
        }
        let lead_ok = inspectors.contains(&draft.lead_inspector)
            && directory.inspector(&draft.lead_inspector).is_some_and(|i| i.department == draft.lead_department);
        if !lead_ok {
            return Err(TaskError::InvalidLeadInspector(draft.lead_inspector));
        }
        if matters.is_empty() {
            return Err(TaskError::NoMatters);
        }
        for id in &matters {
            let matter = directory.matter(id).ok_or_else(|| TaskError::UnknownMatter(id.clone()))?;
            if !departments.contains(&matter.department) {
                return Err(TaskError::MatterOutsideDepartments {
                    matter: id.clone(),
                    department: matter.department.clone(),
                });
            }
        }
        if draft.window.end < draft.window.start {
            return Err(TaskError::InvertedWindow { start: draft.window.start, end: draft.window.end });
        }
        Ok(Task {
            code,
            enterprise: draft.enterprise,
            lead_department: draft.lead_department,
            departments: departments.into_iter().collect(),
            inspectors: inspectors.into_iter().collect(),
            lead_inspector: draft.lead_inspector,
            matters: matters.into_iter().collect(),
            window: draft.window,
            source: draft.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_kind_has_its_label() {
        for kind in TaskSource::KINDS {
            assert!(!TaskSource::kind_label_zh(kind).is_empty(), "{kind}");
        }
        let reinspection = TaskSource::ReInspection {
            of_task: TaskCode::parse("330482-20261201-ABCDEFGH").unwrap(),
            findings: vec![],
        };
        assert_eq!(reinspection.label_zh(), "复查");
        assert_eq!(TaskSource::kind_label_zh("unknown"), "");
    }

    #[test]
    fn generated_codes_parse_and_differ() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let a = TaskCode::generate("330482", date).unwrap();
        let b = TaskCode::generate("330482", date).unwrap();
        assert!(a.as_str().starts_with("330482-20261128-"));
        assert_ne!(a, b);
        assert_eq!(TaskCode::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn source_kinds_match_the_serialised_tag() {
        let sources = [
            TaskSource::RandomDraw,
            TaskSource::ComplaintOrLead { reference: "PZ110-1".into() },
            TaskSource::Plan { reference: "2026-计划-3".into() },
            TaskSource::ReInspection {
                of_task: TaskCode::parse("330482-20261128-ABCDEFGH").unwrap(),
                findings: vec![FindingToRecheck {
                    id: "f1".into(),
                    problem: "疏散通道堆放杂物".into(),
                    legal_basis: "《中华人民共和国消防法》第二十八条".into(),
                    deadline: None,
                }],
            },
        ];
        for s in sources {
            assert_eq!(serde_json::to_value(&s).unwrap()["kind"], s.kind());
        }
    }

    #[test]
    fn malformed_codes_are_rejected() {
        for bad in [
            "",
            "330482-20261128",
            "33048-20261128-ABCDEFGH",
            "330482-20261399-ABCDEFGH",
            "330482-20261128-ABCDEFGI",
            "330482-20261128-ABCDEFGH-1",
        ] {
            assert_eq!(TaskCode::parse(bad), Err(TaskError::MalformedCode(bad.into())), "{bad}");
        }
    }
}
