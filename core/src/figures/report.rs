//! The command centre's figures for a period (一屏掌控) and the 督办 list of what is overdue or
//! unfinished today, computed from every task's [`TaskFacts`]. The definitions are the README's.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::facts::{SourceKind, TaskFacts, UnsignedDocument};
use crate::record::{RecheckOutcome, Status};

const MS_PER_DAY: f64 = 86_400_000.0;

/// What a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// First day of the period (Beijing time).
    pub from: NaiveDate,
    /// Last day of the period.
    pub to: NaiveDate,
    /// Only tasks this department takes part in (and only its findings), if given.
    pub department: Option<String>,
    /// The day lateness is judged on (today, unless a report is replayed).
    pub today: NaiveDate,
}

/// A share: how many of how many, and the rate (none of none has no rate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Ratio {
    /// How many met the definition.
    pub numerator: u64,
    /// How many were counted.
    pub denominator: u64,
    /// `numerator / denominator`, absent when nothing was counted.
    pub rate: Option<f64>,
}

impl Ratio {
    fn of(numerator: u64, denominator: u64) -> Ratio {
        let rate = (denominator > 0).then(|| numerator as f64 / denominator as f64);
        Ratio { numerator, denominator, rate }
    }

    fn count(items: impl Iterator<Item = bool>) -> Ratio {
        let (mut yes, mut all) = (0, 0);
        for met in items {
            all += 1;
            yes += u64::from(met);
        }
        Ratio::of(yes, all)
    }

    /// As read on a screen: `95.0%（19/20）`, or `—（0/0）`.
    pub fn display_zh(&self) -> String {
        match self.rate {
            Some(r) => format!("{:.1}%（{}/{}）", r * 100.0, self.numerator, self.denominator),
            None => "—（0/0）".into(),
        }
    }
}

/// The period's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// 掌上执法率.
    pub handheld_enforcement: Ratio,
    /// 计划任务完成率.
    pub planned_tasks_completed: Ratio,
    /// 到期任务完成率.
    pub due_tasks_completed: Ratio,
    /// 后续处置率.
    pub follow_up_disposed: Ratio,
    /// 跨部门联合监管率.
    pub joint_supervision: Ratio,
    /// Visits saved by joint inspections (联合检查减少入企次数).
    pub visits_saved: u64,
    /// Findings whose loop closed in the period.
    pub findings_closed: u64,
    /// The median days from recording those findings to closing them (one decimal).
    pub median_days_to_close: Option<f64>,
}

/// A task past its window without the inspection carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueTask {
    /// The task code.
    pub code: String,
    /// The enterprise (USCC).
    pub enterprise: String,
    /// The lead department.
    pub lead_department: String,
    /// Where it stands.
    pub status: Status,
    /// The last day of its window.
    pub due: NaiveDate,
    /// Days since then.
    pub days_overdue: i64,
}

/// A finding whose rectification deadline passed without its loop closing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueRectification {
    /// The inspected task.
    pub task: String,
    /// The enterprise (USCC).
    pub enterprise: String,
    /// The finding.
    pub finding: String,
    /// Its department.
    pub department: String,
    /// What is wrong.
    pub problem: String,
    /// The deadline in force (the latest new one, if a re-inspection set one).
    pub deadline: NaiveDate,
    /// Days since then.
    pub days_overdue: i64,
    /// Whether the order to rectify is fully signed.
    pub ordered: bool,
    /// The re-inspection planned for it whose result is awaited, if any.
    pub reinspection: Option<String>,
}

/// A record with conflicts nobody has resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenConflicts {
    /// The task code.
    pub code: String,
    /// How many.
    pub conflicts: usize,
    /// Where the record stands.
    pub status: Status,
}

/// A document of a task not yet fully signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsignedItem {
    /// The task code.
    pub code: String,
    /// The document.
    #[serde(flatten)]
    pub document: UnsignedDocument,
}

/// 督办: what is overdue or unfinished today, whatever the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Supervision {
    /// Tasks past their window, not carried out.
    pub overdue_tasks: Vec<OverdueTask>,
    /// Findings past their rectification deadline, loop open.
    pub overdue_rectifications: Vec<OverdueRectification>,
    /// Records with open conflicts.
    pub open_conflicts: Vec<OpenConflicts>,
    /// Documents not fully signed.
    pub unsigned_documents: Vec<UnsignedItem>,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// The department it is limited to, if any.
    pub department: Option<String>,
    /// The day lateness was judged on.
    pub today: NaiveDate,
    /// Tasks read.
    pub tasks: u64,
    /// The period's figures.
    pub figures: Figures,
    /// 督办.
    pub supervision: Supervision,
}

/// What the re-inspections found of one finding, gathered from every record.
#[derive(Default)]
struct Loop<'a> {
    /// Every result, in time order.
    results: Vec<(i64, &'a RecheckOutcome)>,
    /// Re-inspection tasks planned for it, with whether each recorded a result.
    planned: Vec<(&'a str, bool)>,
}

impl Loop<'_> {
    /// When the loop closed (the first result that settles it).
    fn closed_at(&self) -> Option<i64> {
        self.results.iter().find(|(_, o)| o.settles()).map(|(at, _)| *at)
    }

    /// The deadline in force: the latest new one a re-inspection set, else the original.
    fn deadline(&self, original: Option<NaiveDate>) -> Option<NaiveDate> {
        let renewed = self.results.iter().rev().find_map(|(_, o)| match o {
            RecheckOutcome::NewDeadline { deadline } => Some(*deadline),
            _ => None,
        });
        renewed.or(original)
    }
}

/// Computes the figures of `query`'s period and today's 督办 list.
pub fn report(facts: &[TaskFacts], query: &ReportQuery) -> Report {
    let loops = gather_loops(facts);
    let involved = |f: &TaskFacts| query.department.as_ref().is_none_or(|d| f.departments.contains(d));
    let own = |department: &str| query.department.as_ref().is_none_or(|d| d == department);
    let in_period = |day: NaiveDate| query.from <= day && day <= query.to;
    let tasks: Vec<&TaskFacts> = facts.iter().filter(|f| involved(f)).collect();
    let live = || tasks.iter().copied().filter(|f| f.status != Status::Cancelled);

    let inspections: Vec<&TaskFacts> =
        live().filter(|f| f.carried_out() && f.arrival_day().is_some_and(in_period)).collect();
    let handheld_enforcement = Ratio::count(inspections.iter().map(|f| f.on_site_record_signed));
    let joint = inspections.iter().filter(|f| f.source != SourceKind::ReInspection);
    let joint_supervision = Ratio::count(joint.map(|f| f.departments.len() >= 2));
    let visits_saved = inspections.iter().map(|f| f.departments.len().saturating_sub(1) as u64).sum();
    let planned_tasks_completed =
        Ratio::count(live().filter(|f| f.source.is_planned() && in_period(f.window.start)).map(TaskFacts::carried_out));
    let due = live().filter(|f| in_period(f.window.end) && f.window.end < query.today);
    let due_tasks_completed =
        Ratio::count(due.map(|f| f.carried_out() && f.arrival_day().is_some_and(|d| d <= f.window.end)));

    let mut follow_up = Vec::new();
    let mut days_to_close = Vec::new();
    let mut supervision = Supervision::default();
    let empty = Loop::default();
    for task in live().filter(|f| f.source != SourceKind::ReInspection) {
        for finding in task.findings.iter().filter(|x| x.rectification_required && own(&x.department)) {
            let found = loops.get(&(task.code.as_str(), finding.id.as_str())).unwrap_or(&empty);
            let settled_here = task.rechecks.iter().find(|r| r.finding == finding.id && r.outcome.settles());
            let closed_at = found.closed_at().or(settled_here.map(|r| r.at_ms));
            if finding.deadline.is_some_and(|d| in_period(d) && d < query.today) {
                follow_up.push(!found.results.is_empty() || closed_at.is_some());
            }
            if let Some(closed) = closed_at {
                if crate::beijing::at(closed).is_some_and(|t| in_period(t.date_naive())) {
                    days_to_close.push((closed - finding.recorded_at_ms) as f64 / MS_PER_DAY);
                }
                continue;
            }
            let Some(deadline) = found.deadline(finding.deadline).filter(|d| *d < query.today) else { continue };
            supervision.overdue_rectifications.push(OverdueRectification {
                task: task.code.clone(),
                enterprise: task.enterprise.clone(),
                finding: finding.id.clone(),
                department: finding.department.clone(),
                problem: finding.problem.clone(),
                deadline,
                days_overdue: (query.today - deadline).num_days(),
                ordered: finding.ordered,
                reinspection: found.planned.iter().find(|(_, answered)| !answered).map(|(code, _)| code.to_string()),
            });
        }
    }
    let follow_up_disposed = Ratio::count(follow_up.into_iter());
    days_to_close.sort_by(f64::total_cmp);

    for task in live() {
        if matches!(task.status, Status::Planned | Status::OnSite) && task.window.end < query.today {
            supervision.overdue_tasks.push(OverdueTask {
                code: task.code.clone(),
                enterprise: task.enterprise.clone(),
                lead_department: task.lead_department.clone(),
                status: task.status,
                due: task.window.end,
                days_overdue: (query.today - task.window.end).num_days(),
            });
        }
        if task.conflicts > 0 {
            supervision.open_conflicts.push(OpenConflicts {
                code: task.code.clone(),
                conflicts: task.conflicts,
                status: task.status,
            });
        }
        for document in &task.unsigned {
            supervision.unsigned_documents.push(UnsignedItem { code: task.code.clone(), document: document.clone() });
        }
    }
    supervision.overdue_tasks.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then_with(|| a.code.cmp(&b.code)));
    supervision.overdue_rectifications.sort_by(|a, b| {
        b.days_overdue.cmp(&a.days_overdue).then_with(|| (&a.task, &a.finding).cmp(&(&b.task, &b.finding)))
    });

    Report {
        from: query.from,
        to: query.to,
        department: query.department.clone(),
        today: query.today,
        tasks: tasks.len() as u64,
        figures: Figures {
            handheld_enforcement,
            planned_tasks_completed,
            due_tasks_completed,
            follow_up_disposed,
            joint_supervision,
            visits_saved,
            findings_closed: days_to_close.len() as u64,
            median_days_to_close: median(&days_to_close).map(|d| (d * 10.0).round() / 10.0),
        },
        supervision,
    }
}

/// Every re-inspection's results and plans, by (inspected task, finding).
fn gather_loops(facts: &[TaskFacts]) -> HashMap<(&str, &str), Loop<'_>> {
    let mut loops: HashMap<(&str, &str), Loop<'_>> = HashMap::new();
    for reinspection in facts.iter().filter(|f| f.status != Status::Cancelled) {
        let Some(of_task) = reinspection.of_task.as_deref() else { continue };
        for r in &reinspection.rechecks {
            loops.entry((of_task, r.finding.as_str())).or_default().results.push((r.at_ms, &r.outcome));
        }
        for finding in &reinspection.covers {
            let answered = reinspection.rechecks.iter().any(|r| &r.finding == finding);
            loops.entry((of_task, finding.as_str())).or_default().planned.push((reinspection.code.as_str(), answered));
        }
    }
    for l in loops.values_mut() {
        l.results.sort_by_key(|(at, _)| *at);
    }
    loops
}

/// The median of sorted values.
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}
