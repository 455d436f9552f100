//! 一屏掌控: the period's figures as a chart and cards, and today's 督办 list, for the whole city
//! or one department (a department supervisor always sees their own).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use onevisit_core::domain::{DepartmentId, Directory};
use onevisit_core::figures::{Ratio, ReportQuery};
use serde::Deserialize;

use super::pages::{Nav, page};
use super::session::Viewer;
use super::{ConsoleError, charts};
use crate::api::AppState;
use crate::blobs::BlobStorage;
use crate::reports::Names;
use crate::storage::Storage;

/// Rows each 督办 table shows at most (its heading says how many there are).
const SUPERVISION_ROWS: usize = 200;

/// The dashboard's filters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DashboardQuery {
    from: Option<String>,
    to: Option<String>,
    department: Option<String>,
}

/// One figure card.
pub(super) struct Card {
    name: &'static str,
    value: String,
    detail: String,
}

/// One line of a 督办 table.
pub(super) struct Line {
    cells: Vec<String>,
}

/// The page.
#[derive(Template)]
#[template(path = "console/dashboard.html")]
pub(super) struct DashboardPage {
    nav: Nav,
    from: String,
    to: String,
    today: String,
    department: String,
    /// (id, name) of every department, for the filter (empty for a supervisor).
    departments: Vec<(String, String)>,
    scope: String,
    tasks: u64,
    chart: String,
    cards: Vec<Card>,
    overdue_tasks: Vec<Line>,
    overdue_rectifications: Vec<Line>,
    open_conflicts: Vec<Line>,
    unsigned_documents: Vec<Line>,
    /// How many of each 督办 list there are (the tables show the first [`SUPERVISION_ROWS`]).
    counts: [usize; 4],
    /// For a list longer than its table, the note that says so.
    notes: [String; 4],
    unreadable: Vec<String>,
}

/// The dashboard.
pub(super) async fn show<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, ConsoleError> {
    let directory = directory(&state).await?;
    let today = onevisit_core::beijing::today();
    let to = super::form_day("截止日", query.to.as_deref())?.unwrap_or(today);
    let from = super::form_day("起始日", query.from.as_deref())?
        .unwrap_or_else(|| chrono::Datelike::with_day(&to, 1).unwrap_or(to));
    if from > to {
        return Err(ConsoleError::BadInput(format!("起始日 {from} 晚于截止日 {to}")));
    }
    let department = viewer.department_shown(query.department.as_deref());
    if let Some(d) = &department
        && !DepartmentId::new(d.clone()).is_ok_and(|id| directory.department(&id).is_some())
    {
        return Err(ConsoleError::BadInput(format!("名录中没有部门 {d}")));
    }
    let report_query = ReportQuery { from, to, department: department.clone(), today };
    let city = state.facts.report(&state.storage, &report_query).await?;
    let r = &city.report;
    let f = &r.figures;
    let rates: [(&'static str, &Ratio, &'static str); 5] = [
        ("掌上执法率", &f.handheld_enforcement, "现场检查笔录在执法终端电子签名的检查"),
        ("计划任务完成率", &f.planned_tasks_completed, "本期开始的双随机与计划任务中已完成的"),
        ("到期任务完成率", &f.due_tasks_completed, "本期到期的任务中按期完成的"),
        ("后续处置率", &f.follow_up_disposed, "本期整改到期的问题中已复查处置的"),
        ("跨部门联合监管率", &f.joint_supervision, "本期检查（复查除外）中两个以上部门联合的"),
    ];
    let chart = charts::rates(&rates.iter().map(|(name, ratio, _)| (*name, ratio.rate)).collect::<Vec<_>>());
    let mut cards: Vec<Card> = rates
        .iter()
        .map(|(name, ratio, detail)| Card { name, value: ratio.display_zh(), detail: detail.to_string() })
        .collect();
    cards.push(Card {
        name: "联合检查减少入企",
        value: format!("{} 次", f.visits_saved),
        detail: "各联合检查的部门数减一之和".into(),
    });
    cards.push(Card {
        name: "问题闭环用时中位数",
        value: f.median_days_to_close.map_or("—".into(), |d| format!("{d:.1} 天")),
        detail: format!("本期闭环问题 {} 个", f.findings_closed),
    });
    let names = Names(&directory);
    let s = &r.supervision;
    let counts =
        [s.overdue_tasks.len(), s.overdue_rectifications.len(), s.open_conflicts.len(), s.unsigned_documents.len()];
    let notes =
        counts.map(|n| if n > SUPERVISION_ROWS { format!("，显示前 {SUPERVISION_ROWS} 条") } else { String::new() });
    let page_data = DashboardPage {
        nav: Nav::of(&viewer),
        from: from.to_string(),
        to: to.to_string(),
        today: today.to_string(),
        department: department.clone().unwrap_or_default(),
        departments: if viewer.role.department().is_some() {
            Vec::new()
        } else {
            directory.departments().map(|d| (d.id.to_string(), d.name.clone())).collect()
        },
        scope: department.as_deref().map_or("全市".to_string(), |d| names.department(d)),
        tasks: r.tasks,
        chart,
        cards,
        overdue_tasks: s
            .overdue_tasks
            .iter()
            .take(SUPERVISION_ROWS)
            .map(|t| Line {
                cells: vec![
                    t.code.clone(),
                    names.enterprise(&t.enterprise),
                    names.department(&t.lead_department),
                    t.due.to_string(),
                    format!("{} 天", t.days_overdue),
                    t.status.label_zh().into(),
                ],
            })
            .collect(),
        overdue_rectifications: s
            .overdue_rectifications
            .iter()
            .take(SUPERVISION_ROWS)
            .map(|x| Line {
                cells: vec![
                    x.task.clone(),
                    names.enterprise(&x.enterprise),
                    names.department(&x.department),
                    x.problem.clone(),
                    x.deadline.to_string(),
                    format!("{} 天", x.days_overdue),
                    x.reinspection.clone().unwrap_or_else(|| "尚未安排".into()),
                ],
            })
            .collect(),
        open_conflicts: s
            .open_conflicts
            .iter()
            .take(SUPERVISION_ROWS)
            .map(|c| Line { cells: vec![c.code.clone(), c.conflicts.to_string(), c.status.label_zh().into()] })
            .collect(),
        unsigned_documents: s
            .unsigned_documents
            .iter()
            .take(SUPERVISION_ROWS)
            .map(|d| Line {
                cells: vec![
                    d.code.clone(),
                    d.document.kind.title_zh().into(),
                    d.document.number.clone(),
                    d.document.missing.iter().map(|m| m.label_zh()).collect::<Vec<_>>().join("、"),
                ],
            })
            .collect(),
        counts,
        notes,
        unreadable: city.unreadable.clone(),
    };
    Ok(page(&page_data))
}

/// The directory the server holds (an empty one before an import).
pub(super) async fn directory<S: Storage, B: BlobStorage>(
    state: &AppState<S, B>,
) -> Result<Arc<Directory>, ConsoleError> {
    let version = state.storage.directory_version().await?.unwrap_or_default();
    Ok(state.records.directory(&state.storage, version).await?)
}
