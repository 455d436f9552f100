//! 双随机 planning in the console: the plan form (departments, matters, ratios by credit grade,
//! towns, industries, the window), a dry-run preview with a throwaway seed (the pool, each
//! department's ratios, the joint tasks formed), registering the plan (its seed's hash is
//! published before the pool is frozen), publishing the draw, and the signed record to download.
//! The same service the `draw` command uses; only an administrator changes anything.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use onevisit_core::domain::{CreditGrade, Directory, TimeWindow};
use onevisit_core::draw::{DepartmentPlan, DrawPlan, DrawResult, GradeRatios};
use serde::Deserialize;

use super::ConsoleError;
use super::actions::{ActionKind, log};
use super::pages::{Nav, page};
use super::session::Viewer;
use crate::api::{AppState, now_ms};
use crate::blobs::BlobStorage;
use crate::draws::{self, DrawServiceError};
use crate::storage::{Storage, StorageError};

/// The address of a plan's page (`show`) or record (`record`).
fn plan_url(page: &str, plan_id: &str) -> String {
    format!("/console/draws/{page}?plan={}", escape(plan_id))
}

/// A plan's identifier as a URL query value (every byte outside the unreserved set escaped).
fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn refused(e: DrawServiceError) -> ConsoleError {
    match e {
        DrawServiceError::Storage(StorageError::UnknownDraw(id)) => ConsoleError::NotFound(format!("抽查计划 {id}")),
        DrawServiceError::Storage(e @ StorageError::Database(_)) => ConsoleError::Storage(e),
        DrawServiceError::Canonical(e) => ConsoleError::Internal(e.to_string()),
        other => ConsoleError::BadInput(other.to_string()),
    }
}

/// One department on the plan form.
pub(super) struct DepartmentChoice {
    id: String,
    name: String,
    matters: Vec<(String, String)>,
}

/// One plan on the list.
pub(super) struct DrawRow {
    plan_id: String,
    link: String,
    committed: String,
    commitment: String,
    state: String,
}

#[derive(Template)]
#[template(path = "console/draws.html")]
pub(super) struct DrawsPage {
    nav: Nav,
    administrator: bool,
    departments: Vec<DepartmentChoice>,
    rows: Vec<DrawRow>,
}

fn choices(directory: &Directory) -> Vec<DepartmentChoice> {
    directory
        .departments()
        .map(|d| DepartmentChoice {
            id: d.id.to_string(),
            name: d.name.clone(),
            matters: directory
                .matters()
                .filter(|m| m.department == d.id)
                .map(|m| (format!("{}/{}", d.id, m.id), format!("{} {}", m.id, m.title)))
                .collect(),
        })
        .collect()
}

/// The list of plans and, for an administrator, the plan form.
pub(super) async fn list<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    let directory = super::dashboard::directory(&state).await?;
    let mut stored = state.storage.draws().await?;
    stored.sort_by_key(|d| std::cmp::Reverse(d.committed_at_ms));
    let rows = stored
        .iter()
        .map(|d| DrawRow {
            link: plan_url("show", &d.plan_id),
            plan_id: d.plan_id.clone(),
            committed: onevisit_core::beijing::date_time(d.committed_at_ms),
            commitment: d.commitment.clone(),
            state: match draws::task_codes(d) {
                Ok(codes) if d.record.is_some() => format!("已抽取，{} 个任务", codes.len()),
                Ok(_) => "已公示哈希，待抽取".into(),
                Err(_) => "记录无法读取".into(),
            },
        })
        .collect();
    Ok(page(&DrawsPage {
        nav: Nav::of(&viewer),
        administrator: viewer.role.may_administer(),
        departments: choices(&directory),
        rows,
    }))
}

/// The plan form's fields, repeated ones (`department`, `matter`) included.
fn plan_of(fields: &[(String, String)]) -> Result<DrawPlan, ConsoleError> {
    let one =
        |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let all = |name: &'static str| -> Vec<String> {
        fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).collect()
    };
    let required = |name: &str, label: &str| {
        let v = one(name);
        if v.is_empty() { Err(ConsoleError::BadInput(format!("请填写{label}"))) } else { Ok(v) }
    };
    let day = |name: &str, label: &str| -> Result<chrono::NaiveDate, ConsoleError> {
        super::form_day(label, Some(&one(name)))?.ok_or_else(|| ConsoleError::BadInput(format!("请填写{label}")))
    };
    let percent = |grade: &str| -> Result<f64, ConsoleError> {
        let v = one(&format!("ratio_{grade}"));
        v.parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
            .map(|p| p / 100.0)
            .ok_or_else(|| ConsoleError::BadInput(format!("{grade} 级抽查比例须为 0–100 的百分数：{v}")))
    };
    let list = |name: &str| -> Vec<String> {
        one(name).split([',', '，', '、', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    };
    let matters: Vec<(String, String)> = all("matter")
        .into_iter()
        .filter_map(|m| m.split_once('/').map(|(d, m)| (d.to_string(), m.to_string())))
        .collect();
    let mut departments = Vec::new();
    for department in all("department") {
        let chosen: Vec<String> = matters.iter().filter(|(d, _)| *d == department).map(|(_, m)| m.clone()).collect();
        let plan = serde_json::json!({ "department": department, "matters": chosen });
        let plan: DepartmentPlan = serde_json::from_value(plan)
            .map_err(|_| ConsoleError::BadInput(format!("部门或检查事项编号无效：{department}")))?;
        departments.push(plan);
    }
    let per_department = one("inspectors_per_department");
    let inspectors_per_department = per_department
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=5).contains(n))
        .ok_or_else(|| ConsoleError::BadInput(format!("每部门执法人员数须为 1–5：{per_department}")))?;
    Ok(DrawPlan {
        id: required("plan_id", "计划编号")?,
        title: required("title", "计划名称")?,
        window: TimeWindow { start: day("start", "检查开始日")?, end: day("end", "检查截止日")? },
        departments,
        grade_ratios: GradeRatios { a: percent("A")?, b: percent("B")?, c: percent("C")?, d: percent("D")? },
        towns: list("towns"),
        industries: list("industries"),
        inspectors_per_department,
        exclude_last_inspectors: one("exclude_last_inspectors") == "on",
    })
}

/// A department's counts on the preview.
pub(super) struct TallyRow {
    department: String,
    grades: Vec<String>,
    total: u64,
}

/// A task the draw forms.
pub(super) struct FormedTask {
    code: String,
    enterprise: String,
    lead: String,
    departments: String,
    inspectors: String,
    joint: bool,
}

/// A draw's figures as the preview and the draw page show them.
fn tallies(directory: &Directory, result: &DrawResult) -> Vec<TallyRow> {
    let names = crate::reports::Names(directory);
    result
        .departments
        .iter()
        .map(|t| TallyRow {
            department: names.department(t.department.as_str()),
            grades: CreditGrade::ALL
                .iter()
                .map(|g| format!("{} 级 {}/{}", g.letter(), t.drawn.of(*g), t.eligible.of(*g)))
                .collect(),
            total: t.drawn.total(),
        })
        .collect()
}

/// The tasks a draw forms (with their codes once published); `only`: those a department takes part in.
fn formed(directory: &Directory, result: &DrawResult, codes: &[String], only: Option<&str>) -> Vec<FormedTask> {
    let names = crate::reports::Names(directory);
    result
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| only.is_none_or(|own| t.departments.iter().any(|d| d.department.as_str() == own)))
        .map(|(i, t)| FormedTask {
            code: codes.get(i).cloned().unwrap_or_default(),
            enterprise: format!("{}（{}）", names.enterprise(t.enterprise.as_str()), t.enterprise),
            lead: names.department(t.lead_department.as_str()),
            departments: t
                .departments
                .iter()
                .map(|d| names.department(d.department.as_str()))
                .collect::<Vec<_>>()
                .join("、"),
            inspectors: t
                .departments
                .iter()
                .flat_map(|d| d.inspectors.iter().map(|i| names.inspector(i.as_str())))
                .collect::<Vec<_>>()
                .join("、"),
            joint: t.departments.len() > 1,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/draw_preview.html")]
pub(super) struct PreviewPage {
    nav: Nav,
    plan_json: String,
    plan_id: String,
    title: String,
    window: String,
    directory_enterprises: usize,
    recusals: usize,
    pool_sha256: String,
    tallies: Vec<TallyRow>,
    tasks: Vec<FormedTask>,
    joint: usize,
    separate_visits: u64,
    joint_visits: u64,
    visits_saved: u64,
}

/// Previews the plan on the form with a throwaway seed; plans nothing.
pub(super) async fn preview<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    viewer.may_administer(csrf)?;
    let plan = plan_of(&fields)?;
    let plan_json = serde_json::to_string(&plan).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let directory = super::dashboard::directory(&state).await?;
    let preview = draws::preview(&state.storage, &directory, &plan_json).await.map_err(refused)?;
    let p = &preview.parameters;
    Ok(page(&PreviewPage {
        nav: Nav::of(&viewer),
        plan_id: p.plan_id.clone(),
        title: p.title.clone(),
        window: format!("{} 至 {}", p.window.start, p.window.end),
        directory_enterprises: preview.directory_enterprises,
        recusals: preview.recusals,
        pool_sha256: preview.pool_sha256.clone(),
        tallies: tallies(&directory, &preview.result),
        tasks: formed(&directory, &preview.result, &[], None),
        joint: preview.result.tasks.iter().filter(|t| t.departments.len() > 1).count(),
        separate_visits: preview.result.separate_visits,
        joint_visits: preview.result.joint_visits,
        visits_saved: preview.visits_saved,
        plan_json,
    }))
}

/// A form carrying a plan (JSON) or a plan's identifier.
#[derive(Debug, Deserialize)]
pub(super) struct PlanForm {
    csrf: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    plan_id: String,
}

/// Registers the plan: its seed is fixed and the seed's hash published.
pub(super) async fn commit<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Form(form): Form<PlanForm>,
) -> Result<Response, ConsoleError> {
    viewer.may_administer(&form.csrf)?;
    let directory = super::dashboard::directory(&state).await?;
    let now = now_ms();
    let c = draws::commit(&state.storage, &state.tenant, &directory, &form.plan, now).await.map_err(refused)?;
    log(&state, &viewer, ActionKind::CommitDraw, &c.plan_id, &format!("随机种子哈希 {}", c.seed_commitment), now)
        .await?;
    Ok(Redirect::to(&plan_url("show", &c.plan_id)).into_response())
}

/// Draws a registered plan and plans its tasks.
pub(super) async fn publish<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Form(form): Form<PlanForm>,
) -> Result<Response, ConsoleError> {
    viewer.may_administer(&form.csrf)?;
    let directory = super::dashboard::directory(&state).await?;
    let now = now_ms();
    let published =
        draws::publish(&state.storage, &state.tenant, &directory, &form.plan_id, now).await.map_err(refused)?;
    let c = &published.content;
    let detail = format!("随机种子 {}，对象库快照 {}，生成 {} 个任务", c.seed, c.pool_sha256, published.created);
    log(&state, &viewer, ActionKind::PublishDraw, &form.plan_id, &detail, now).await?;
    Ok(Redirect::to(&plan_url("show", &form.plan_id)).into_response())
}

/// Which plan.
#[derive(Debug, Deserialize)]
pub(super) struct PlanQuery {
    plan: String,
}

#[derive(Template)]
#[template(path = "console/draw.html")]
pub(super) struct DrawPage {
    nav: Nav,
    administrator: bool,
    plan_id: String,
    record_link: String,
    commitment: String,
    committed: String,
    published: Option<PublishedBlock>,
}

/// A published draw on its page.
pub(super) struct PublishedBlock {
    seed: String,
    pool_sha256: String,
    published: String,
    tallies: Vec<TallyRow>,
    tasks: Vec<FormedTask>,
    visits_saved: u64,
}

/// A registered plan, by identifier.
async fn stored_draw<S: Storage, B: BlobStorage>(
    state: &AppState<S, B>,
    plan: &str,
) -> Result<crate::storage::StoredDraw, ConsoleError> {
    state.storage.draw(plan.to_string()).await?.ok_or_else(|| ConsoleError::NotFound(format!("抽查计划 {plan}")))
}

/// One plan: its commitment, and once drawn its result and tasks.
pub(super) async fn show<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Query(query): Query<PlanQuery>,
) -> Result<Response, ConsoleError> {
    let stored = stored_draw(&state, &query.plan).await?;
    let directory = super::dashboard::directory(&state).await?;
    let published = match &stored.record {
        None => None,
        Some(json) => {
            let (record, _) =
                draws::verify(json, &state.tenant.root_key()).map_err(|e| ConsoleError::Internal(e.to_string()))?;
            let codes: Vec<String> = record.task_codes.iter().map(ToString::to_string).collect();
            let tasks = formed(&directory, &record.result, &codes, viewer.role.department());
            Some(PublishedBlock {
                seed: record.seed.clone(),
                pool_sha256: record.pool_sha256.clone(),
                published: onevisit_core::beijing::date_time(record.published_at_ms),
                tallies: tallies(&directory, &record.result),
                tasks,
                visits_saved: record.result.visits_saved(),
            })
        }
    };
    Ok(page(&DrawPage {
        nav: Nav::of(&viewer),
        administrator: viewer.role.may_administer(),
        record_link: plan_url("record", &stored.plan_id),
        plan_id: stored.plan_id,
        commitment: stored.commitment,
        committed: onevisit_core::beijing::date_time(stored.committed_at_ms),
        published,
    }))
}

/// The published record (JSON with its pool), as a file anyone verifies with
/// `onevisit-server draw verify`.
pub(super) async fn record<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    _viewer: Viewer,
    Query(query): Query<PlanQuery>,
) -> Result<Response, ConsoleError> {
    let stored = stored_draw(&state, &query.plan).await?;
    let json = stored
        .record
        .ok_or_else(|| ConsoleError::NotFound(format!("抽查计划 {} 的抽取结果（尚未抽取）", query.plan)))?;
    let mut response = json.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"draw-record.json\""));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
