//! The 双随机 draw (双随机、一公开): enterprises drawn at random by credit grade, inspectors drawn
//! at random from each department's pool with recusal (回避), the departments that drew one
//! enterprise joined into one task (综合查一次), and a published record from which anyone
//! recomputes the draw.
//!
//! - [`plan`]: what a planner writes, validated into [`DrawParameters`];
//! - [`pool`]: the pool frozen at publication ([`PoolSnapshot`]);
//! - [`algorithm`]: the draw, a pure function of parameters, pool and seed;
//! - [`record`]: the signed record and its independent check.

pub mod algorithm;
pub mod plan;
pub mod pool;
pub mod record;
mod stream;

pub use algorithm::{DepartmentTally, DrawResult, DrawnDepartment, DrawnTask, GradeCounts, run};
pub use plan::{DepartmentParameters, DepartmentPlan, DrawParameters, DrawPlan, GradeRatios, Ratios};
pub use pool::{LastInspection, PoolSnapshot, Recusal, RecusalReason, last_inspections};
pub use record::{DrawRecord, DrawVerifyError, SignedDrawRecord, seed_commitment};

use crate::domain::{CreditGrade, DepartmentId, InspectorId, MatterId, Uscc};

/// The algorithm's name and version, in every record and every random stream.
pub const ALGORITHM: &str = "onevisit-draw/1";

/// Why a plan cannot be drawn. Nothing is drawn or planned when any of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    /// The plan's identifier is empty or holds control characters.
    #[error("抽查计划编号“{0}”无效：须为非空文字")]
    BadPlanId(String),
    /// The plan names no department.
    #[error("抽查计划没有列出任何部门")]
    NoDepartments,
    /// A department is listed twice.
    #[error("部门 {0} 在抽查计划中重复出现")]
    DuplicateDepartment(DepartmentId),
    /// A department is not in the directory.
    #[error("名录中没有部门 {0}")]
    UnknownDepartment(DepartmentId),
    /// A department lists no matter.
    #[error("部门 {0} 没有列出检查事项")]
    NoMatters(DepartmentId),
    /// A matter is not in the directory.
    #[error("名录中没有检查事项 {0}")]
    UnknownMatter(MatterId),
    /// A matter belongs to another department than the one listing it.
    #[error("检查事项 {matter} 不属于部门 {department}")]
    MatterOfAnotherDepartment {
        /// The matter.
        matter: MatterId,
        /// The department listing it.
        department: DepartmentId,
    },
    /// An inspector is not in the directory.
    #[error("名录中没有执法人员 {0}")]
    UnknownInspector(InspectorId),
    /// An inspector listed in a department's pool serves in another department.
    #[error("执法人员 {inspector} 不属于部门 {department}")]
    InspectorOfAnotherDepartment {
        /// The inspector.
        inspector: InspectorId,
        /// The department listing them.
        department: DepartmentId,
    },
    /// A ratio is not within 0–1.
    #[error("{}信用等级 {} 的抽查比例 {value} 须在 0 到 1 之间", department.as_ref().map(|d| format!("部门 {d} ")).unwrap_or_default(), grade.letter())]
    RatioOutOfRange {
        /// The department whose own ratio it is (none: the plan's).
        department: Option<DepartmentId>,
        /// The grade.
        grade: CreditGrade,
        /// The value given.
        value: String,
    },
    /// Fewer than two inspectors per department (two officers act together).
    #[error("每个部门每家企业至少抽取 2 名执法人员（两人执法），计划为 {0} 名")]
    TooFewInspectorsPerDepartment(u32),
    /// The window ends before it starts.
    #[error("检查时间窗口的结束日期早于开始日期")]
    InvertedWindow,
    /// No enterprise passes the plan's filters.
    #[error("按计划的区域和行业筛选后，抽查对象库为空")]
    EmptyPool,
    /// The parameters name a matter the frozen pool does not hold (a record edited by hand).
    #[error("抽查对象库快照中没有检查事项 {0}")]
    PoolLacksMatter(MatterId),
    /// The parameters name an inspector the frozen pool does not hold in that department.
    #[error("抽查对象库快照中没有执法人员 {0}（或不在该部门）")]
    PoolLacksInspector(InspectorId),
    /// A department's inspectors or matters are not sorted and distinct (a record edited by hand).
    #[error("部门 {0} 的执法人员或检查事项未按规范排序去重")]
    ParametersNotCanonical(DepartmentId),
    /// The pool's recusals are not sorted and distinct (a record edited by hand).
    #[error("抽查对象库快照中的回避名单未按规范排序去重")]
    PoolNotCanonical,
    /// Some eligible enterprises cannot be staffed after recusal.
    #[error("有 {} 处执法人员不足，未生成任何任务：{}", .0.len(), describe_shortfalls(.0))]
    Understaffed(Vec<Shortfall>),
}

/// An enterprise a department cannot staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The department.
    pub department: DepartmentId,
    /// The enterprise.
    pub enterprise: Uscc,
    /// Inspectors needed.
    pub needed: usize,
    /// Those who may go.
    pub available: Vec<InspectorId>,
    /// Those who step aside, with why.
    pub stepping_aside: Vec<(InspectorId, String)>,
}

/// The first shortfalls as a planner reads them.
fn describe_shortfalls(list: &[Shortfall]) -> String {
    const SHOWN: usize = 10;
    let mut text: Vec<String> = list
        .iter()
        .take(SHOWN)
        .map(|s| {
            let aside: Vec<String> = s.stepping_aside.iter().map(|(i, why)| format!("{i}（{why}）")).collect();
            format!(
                "部门 {} 对企业 {} 需 {} 名，可派 {} 名［{}］，回避：{}",
                s.department,
                s.enterprise,
                s.needed,
                s.available.len(),
                s.available.iter().map(InspectorId::as_str).collect::<Vec<_>>().join("、"),
                if aside.is_empty() { "无".to_string() } else { aside.join("、") }
            )
        })
        .collect();
    if list.len() > SHOWN {
        text.push(format!("另有 {} 处", list.len() - SHOWN));
    }
    text.join("；")
}

#[cfg(test)]
mod tests;
