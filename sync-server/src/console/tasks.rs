//! The task board (filters by status, date, department, enterprise and source; each task's
//! progress from its stored summary) and a task's page (the merged record as the device shows it,
//! its findings' loop, each document's signatures, open conflicts). A department supervisor sees
//! only the tasks their department takes part in; another's task answers 403.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use onevisit_core::domain::{Directory, TaskCode, TaskSource};
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::figures::TaskFacts;
use serde::Deserialize;

use super::ConsoleError;
use super::pages::{Nav, page};
use super::session::Viewer;
use crate::api::{AppState, now_ms};
use crate::blobs::BlobStorage;
use crate::storage::Storage;

/// Rows the board shows at most (the count says how many matched).
const BOARD_ROWS: usize = 500;

/// The board's filters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct BoardQuery {
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    department: Option<String>,
    enterprise: Option<String>,
    source: Option<String>,
}

/// One task on the board.
pub(super) struct BoardRow {
    code: String,
    enterprise: String,
    lead: String,
    window: String,
    status: String,
    source: String,
    answered: String,
    findings: usize,
    conflicts: usize,
    signed: String,
}

#[derive(Template)]
#[template(path = "console/tasks.html")]
pub(super) struct BoardPage {
    nav: Nav,
    status: String,
    from: String,
    to: String,
    department: String,
    enterprise: String,
    source: String,
    statuses: Vec<(&'static str, &'static str)>,
    sources: Vec<(&'static str, &'static str)>,
    departments: Vec<(String, String)>,
    matched: usize,
    rows: Vec<BoardRow>,
}

/// The board.
pub(super) async fn board<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Query(query): Query<BoardQuery>,
) -> Result<Response, ConsoleError> {
    let directory = super::dashboard::directory(&state).await?;
    let from = super::form_day("起始日", query.from.as_deref())?;
    let to = super::form_day("截止日", query.to.as_deref())?;
    let department = viewer.department_shown(query.department.as_deref());
    let status = query.status.clone().filter(|s| !s.is_empty());
    let source = query.source.clone().filter(|s| !s.is_empty());
    let needle = query.enterprise.clone().unwrap_or_default().trim().to_string();
    let snapshot = state.facts.current(&state.storage).await?;
    let facts = &snapshot.facts;
    let names = crate::reports::Names(&directory);
    let matches = |f: &TaskFacts| {
        department.as_ref().is_none_or(|d| f.departments.contains(d))
            && status.as_ref().is_none_or(|s| f.status.as_str() == s)
            && source.as_ref().is_none_or(|s| source_kind(f) == s)
            && from.is_none_or(|d| f.window.end >= d)
            && to.is_none_or(|d| f.window.start <= d)
            && (needle.is_empty()
                || f.enterprise.contains(&needle)
                || names.enterprise(&f.enterprise).contains(&needle))
    };
    let mut chosen: Vec<&TaskFacts> = facts.iter().filter(|f| matches(f)).collect();
    chosen.sort_by(|a, b| b.window.start.cmp(&a.window.start).then_with(|| a.code.cmp(&b.code)));
    let matched = chosen.len();
    let rows = chosen
        .into_iter()
        .take(BOARD_ROWS)
        .map(|f| BoardRow {
            code: f.code.clone(),
            enterprise: names.enterprise(&f.enterprise),
            lead: names.department(&f.lead_department),
            window: format!("{} ~ {}", f.window.start, f.window.end),
            status: f.status.label_zh().into(),
            source: TaskSource::kind_label_zh(source_kind(f)).into(),
            answered: format!("{}/{}", f.answered, check_points(&directory, f)),
            findings: f.findings.len(),
            conflicts: f.conflicts,
            signed: format!("{}/{}", f.documents.saturating_sub(f.unsigned.len()), f.documents),
        })
        .collect();
    let board = BoardPage {
        nav: Nav::of(&viewer),
        status: status.unwrap_or_default(),
        from: from.map(|d| d.to_string()).unwrap_or_default(),
        to: to.map(|d| d.to_string()).unwrap_or_default(),
        department: department.unwrap_or_default(),
        enterprise: needle,
        source: source.unwrap_or_default(),
        statuses: onevisit_core::record::Status::ALL.iter().map(|s| (s.as_str(), s.label_zh())).collect(),
        sources: TaskSource::KINDS.iter().map(|k| (*k, TaskSource::kind_label_zh(k))).collect(),
        departments: if viewer.role.department().is_some() {
            Vec::new()
        } else {
            directory.departments().map(|d| (d.id.to_string(), d.name.clone())).collect()
        },
        matched,
        rows,
    };
    Ok(page(&board))
}

fn source_kind(f: &TaskFacts) -> &'static str {
    use onevisit_core::figures::SourceKind;
    match f.source {
        SourceKind::RandomDraw => "random_draw",
        SourceKind::ComplaintOrLead => "complaint_or_lead",
        SourceKind::Plan => "plan",
        SourceKind::ReInspection => "re_inspection",
    }
}

/// How many check points the task's matters have.
fn check_points(directory: &Directory, f: &TaskFacts) -> usize {
    f.matters
        .iter()
        .filter_map(|m| onevisit_core::domain::MatterId::new(m.clone()).ok())
        .filter_map(|m| directory.matter(&m).map(|x| x.check_points.len()))
        .sum()
}

/// One check point on the task page.
pub(super) struct PointLine {
    id: String,
    title: String,
    answer: String,
    by: String,
    note: String,
}

/// One department's section.
pub(super) struct SectionBlock {
    name: String,
    points: Vec<PointLine>,
}

/// One finding and its loop.
pub(super) struct FindingLine {
    department: String,
    problem: String,
    basis: String,
    deadline: String,
    result: String,
}

/// One photo of the record: its thumbnail opens the original.
pub(super) struct PhotoTile {
    sha256: String,
    target: String,
    by: String,
    at: String,
    stored: bool,
}

/// One change of the record and the device that wrote it.
pub(super) struct EditLine {
    at: String,
    writer: String,
    what: String,
    hash: String,
}

/// One document version and its signatures.
pub(super) struct DocumentBlock {
    title: String,
    number: String,
    version: u32,
    state: String,
    signatures: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/task.html")]
pub(super) struct TaskPage {
    nav: Nav,
    code: String,
    uscc: String,
    enterprise: String,
    address: String,
    status: String,
    source: String,
    window: String,
    lead: String,
    reinspection_of: String,
    inspectors: Vec<String>,
    sections: Vec<SectionBlock>,
    findings: Vec<FindingLine>,
    documents: Vec<DocumentBlock>,
    conflicts: Vec<String>,
    photos: Vec<PhotoTile>,
    edits: Vec<EditLine>,
}

/// The merged record of task `code`, if it exists and the viewer may see it (a supervisor: only
/// tasks their department takes part in).
async fn visible_record<S: Storage, B: BlobStorage>(
    state: &AppState<S, B>,
    viewer: &Viewer,
    code: &str,
) -> Result<onevisit_core::record::InspectionRecord, ConsoleError> {
    let not_found = || ConsoleError::NotFound(format!("任务 {code}"));
    let id = TaskCode::parse(code).map_err(|_| not_found())?.to_string();
    let meta = state.storage.record_meta(id.clone()).await?.ok_or_else(not_found)?;
    if let Some(own) = viewer.role.department()
        && !meta.departments.iter().any(|d| d == own)
    {
        return Err(ConsoleError::Forbidden);
    }
    let (record, _) =
        crate::tasks::load_record(&state.storage, &id).await.map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(record)
}

/// A task's page.
pub(super) async fn task<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> Result<Response, ConsoleError> {
    let mut record = visible_record(&state, &viewer, &code).await?;
    let directory = super::dashboard::directory(&state).await?;
    let names = crate::reports::Names(&directory);
    let internal = |e: onevisit_core::record::RecordError| ConsoleError::Internal(e.to_string());
    let view = record.view(&directory).map_err(internal)?;
    let trust = crate::followups::Trust::now(&state.storage, &state.tenant, now_ms()).await?;
    let mut documents = Vec::new();
    let mut versions = record.documents().map_err(internal)?;
    versions.sort_by(|a, b| {
        (a.kind.title_zh(), &a.department, a.version).cmp(&(b.kind.title_zh(), &b.department, b.version))
    });
    for version in versions {
        let report = record.document_report(&version.sha256, Some(&trust.signer())).map_err(internal)?;
        let state_zh = if report.superseded_by.is_some() {
            "已被新版本取代".to_string()
        } else if report.signed {
            "已签全".to_string()
        } else {
            let missing: Vec<String> = report.missing.iter().map(|m| m.label_zh()).collect();
            if missing.is_empty() { "存在无效签名".into() } else { format!("缺{}", missing.join("、")) }
        };
        documents.push(DocumentBlock {
            title: version.kind.title_zh().into(),
            number: version.number.clone(),
            version: version.version,
            state: state_zh,
            signatures: report
                .signatures
                .iter()
                .map(|c| {
                    let when = c.device_time_ms.map(onevisit_core::beijing::minute).unwrap_or_default();
                    let verdict = c.problem.as_ref().map_or("有效".to_string(), |p| p.label_zh());
                    (format!("{} {when}", c.signer), verdict)
                })
                .collect(),
        });
    }
    let results = view.rechecks.clone();
    let mut photos = Vec::new();
    for e in record.evidence().map_err(internal)? {
        photos.push(PhotoTile {
            stored: state.blobs.has(&e.sha256).await.unwrap_or(false),
            target: target_label(&view, &e.target),
            by: names.inspector(e.stamp.by.as_str()),
            at: onevisit_core::beijing::minute(e.stamp.at_ms),
            sha256: e.sha256,
        });
    }
    let tenant_actor = state.tenant.actor().to_hex_string();
    let edits = record
        .edits(&state.tenant.root_key())
        .map_err(internal)?
        .into_iter()
        .map(|e| EditLine {
            at: onevisit_core::beijing::date_time(e.at_ms),
            writer: match &e.writer {
                Some(w) => format!("{}（设备 {}，证书 {}）", names.inspector(&w.inspector), short(&w.device), w.serial),
                None if e.actor == tenant_actor => "服务器（计划与调度）".into(),
                None => format!("未附有效证书的写入方 {}", short(&e.actor)),
            },
            what: e.what.into(),
            hash: short(&e.hash).into(),
        })
        .collect();
    let page_data = TaskPage {
        nav: Nav::of(&viewer),
        code: view.task_code.clone(),
        uscc: view.enterprise_uscc.clone(),
        enterprise: view.enterprise_name.clone(),
        address: view.enterprise_address.clone(),
        status: view.status_label.into(),
        source: view.source.into(),
        window: view.window.clone(),
        lead: view.lead_department.clone(),
        reinspection_of: view.reinspection_of.clone().unwrap_or_default(),
        inspectors: view
            .inspectors
            .iter()
            .map(|i| format!("{}（{}，{}）", i.name, i.department, i.certificate_number))
            .collect(),
        sections: view
            .sections
            .iter()
            .map(|s| SectionBlock {
                name: s.department_name.clone(),
                points: s
                    .check_points
                    .iter()
                    .map(|p| PointLine {
                        id: p.id.clone(),
                        title: p.title.clone(),
                        answer: p.answer.clone().unwrap_or_else(|| "未检查".into())
                            + if p.conflicted { "（冲突）" } else { "" },
                        by: p.by.clone().unwrap_or_default(),
                        note: p.note.clone().unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
        findings: view
            .findings
            .iter()
            .map(|f| FindingLine {
                department: names.department(f.department.as_str()),
                problem: f.problem.clone(),
                basis: f.legal_basis.clone(),
                deadline: f.deadline.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
                result: if f.rectification_required {
                    results
                        .iter()
                        .find(|r| r.finding == f.id)
                        .and_then(|r| r.result_label.clone())
                        .unwrap_or_else(|| "待复查".into())
                } else {
                    "无需整改".into()
                },
            })
            .collect(),
        documents,
        conflicts: record
            .conflicts()
            .map_err(internal)?
            .iter()
            .map(|c| format!("{}：{} 个不同的值", c.field.label_zh(), c.values.len()))
            .collect(),
        photos,
        edits,
    };
    Ok(page(&page_data))
}

/// The first 12 characters of an identifier or hash, as the page shows it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// What a photo documents, in Chinese.
fn target_label(view: &onevisit_core::record::RecordView, target: &CaptureTarget) -> String {
    match target {
        CaptureTarget::CheckPoint(id) => {
            let title =
                view.sections.iter().flat_map(|s| &s.check_points).find(|p| &p.id == id).map(|p| p.title.clone());
            format!("检查要点 {id}{}", title.map(|t| format!("：{t}")).unwrap_or_default())
        }
        CaptureTarget::Finding(_) => "发现的问题".into(),
        CaptureTarget::Inspection => "现场".into(),
        CaptureTarget::PartySignature(_) => "当事人手写签名".into(),
    }
}

/// The bytes of one of a task's photos: the original, or with `?thumbnail` its upright thumbnail
/// (at most 320 px, made from the original). Only photos the record lists, for a viewer who may
/// see the task.
pub(super) async fn photo<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Path((code, sha256)): Path<(String, String)>,
    Query(query): Query<PhotoQuery>,
) -> Result<Response, ConsoleError> {
    let not_found = || ConsoleError::NotFound(format!("任务 {code} 的照片 {sha256}"));
    let record = visible_record(&state, &viewer, &code).await?;
    let evidence = record.evidence().map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let listed = evidence.iter().find(|e| e.sha256 == sha256).ok_or_else(not_found)?;
    let size = state.blobs.size(&listed.sha256).await.map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let Some(size) = size else {
        return Err(ConsoleError::NotFound(format!("照片原件尚未从设备上传：{sha256}")));
    };
    let bytes = state.blobs.read(&listed.sha256, 0, size).await.map_err(|e| ConsoleError::Internal(e.to_string()))?;
    // What the blob store returns is checked like any input before it is shown as evidence.
    if onevisit_core::audit::sha256_hex(&bytes) != listed.sha256 {
        return Err(ConsoleError::Internal(format!("stored photo {sha256} does not match its hash")));
    }
    let (mime, body) = if query.thumbnail.is_some() {
        let thumbnail = tokio::task::spawn_blocking(move || {
            let format = onevisit_core::evidence::sniff_photo(&bytes)?;
            onevisit_core::evidence::inspect(&bytes, format).map(|i| i.thumbnail_jpeg)
        })
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
        ("image/jpeg".to_string(), thumbnail)
    } else {
        (listed.mime.clone(), bytes)
    };
    let mut response = axum::response::IntoResponse::into_response(body);
    let headers = response.headers_mut();
    let content_type = axum::http::HeaderValue::from_str(&mime)
        .unwrap_or(axum::http::HeaderValue::from_static("application/octet-stream"));
    headers.insert(axum::http::header::CONTENT_TYPE, content_type);
    headers.insert(axum::http::header::X_CONTENT_TYPE_OPTIONS, axum::http::HeaderValue::from_static("nosniff"));
    headers.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, max-age=3600"));
    Ok(response)
}

/// Whether the thumbnail is asked for.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PhotoQuery {
    thumbnail: Option<String>,
}
