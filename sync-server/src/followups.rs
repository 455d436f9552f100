//! The closed loop's first step on the server (闭环): when the deadline of a department's signed
//! order to rectify (责令改正通知书) has passed, plan that department's re-inspection (复查) of the
//! task's findings, once. The day is given (`--today`), so the loop is tested without waiting.

use std::collections::HashSet;

use chrono::NaiveDate;
use onevisit_core::certificate::{REVOCATION_SCHEMA, RevocationList};
use onevisit_core::document::DocumentKind;
use onevisit_core::domain::{DepartmentId, Directory, InspectorId, Task, TaskCode, TaskDraft, TaskSource, TimeWindow};
use onevisit_core::record::documents::SignerTrust;
use onevisit_core::record::{InspectionRecord, RecordError};
use serde::Serialize;

use crate::storage::{Storage, StorageError, StoredRecord};
use crate::tasks::{self, PlanError};
use crate::tenant::Tenant;

/// Days a re-inspection is due within, from the day it is planned.
const REINSPECTION_DAYS: u64 = 7;

/// Why re-inspections cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum FollowupError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored record cannot be read.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The tasks could not be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A stored task cannot be read.
    #[error("服务器保存的任务无法读取：{0}")]
    Stored(#[source] serde_json::Error),
}

/// A re-inspection planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reinspection {
    /// The new task.
    pub code: String,
    /// The task whose findings it re-inspects.
    pub of_task: String,
    /// The department re-inspecting.
    pub department: String,
    /// The findings re-inspected.
    pub findings: Vec<String>,
    /// The order's deadline that passed (the latest of its findings').
    pub deadline: NaiveDate,
    /// Who goes.
    pub inspectors: Vec<String>,
}

/// A re-inspection that is due but cannot be staffed (fewer than two inspectors without a conflict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unstaffed {
    /// The task whose findings are due.
    pub of_task: String,
    /// The department.
    pub department: String,
    /// The inspectors who could go.
    pub available: Vec<String>,
}

/// What one planning run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowupPlan {
    /// Re-inspections planned now.
    pub planned: Vec<Reinspection>,
    /// Re-inspections due that could not be staffed.
    pub unstaffed: Vec<Unstaffed>,
}

/// Plans every re-inspection due on `today`: a department's findings that required rectification,
/// under its order to rectify that is fully signed (the tenant root's certificates checked), whose
/// latest deadline is before `today`, and that has no re-inspection yet. The department's
/// inspectors on the task go again, topped up to two from the department (declared conflicts
/// excepted); due within a week.
pub async fn plan_reinspections<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    today: NaiveDate,
    now_ms: i64,
) -> Result<FollowupPlan, FollowupError> {
    let planned: Vec<Task> = storage
        .planned_tasks()
        .await?
        .iter()
        .map(|json| serde_json::from_str(json))
        .collect::<Result<_, _>>()
        .map_err(FollowupError::Stored)?;
    let done: HashSet<(TaskCode, DepartmentId)> = planned
        .iter()
        .filter_map(|t| match &t.source {
            TaskSource::ReInspection { of_task, .. } => Some((of_task.clone(), t.lead_department.clone())),
            _ => None,
        })
        .collect();
    let revocations = RevocationList {
        schema: REVOCATION_SCHEMA.into(),
        tenant: tenant.id.clone(),
        issued_at_ms: now_ms,
        revoked: storage.revocations().await?,
        issuer_public_key: hex::encode(tenant.root_public_key()),
    };
    let root = tenant.root_key();
    let trust = SignerTrust { root: &root, revocations: Some(&revocations) };
    let mut out = FollowupPlan::default();
    let mut drafts = Vec::new();
    let mut due_findings = Vec::new();
    for id in storage.record_ids().await? {
        let StoredRecord { chunks, .. } =
            storage.record_bytes(id.clone()).await?.ok_or_else(|| StorageError::UnknownRecord(id.clone()))?;
        let (first, rest) = chunks.split_first().ok_or_else(|| StorageError::UnknownRecord(id.clone()))?;
        let record = InspectionRecord::load(first, rest.iter().map(Vec::as_slice))?;
        let task = record.task().clone();
        if matches!(task.source, TaskSource::ReInspection { .. }) {
            continue;
        }
        let findings = record.findings()?;
        for department in &task.departments {
            if done.contains(&(task.code.clone(), department.clone())) {
                continue;
            }
            let due: Vec<_> =
                findings.iter().filter(|f| &f.department == department && f.rectification_required).collect();
            let Some(deadline) = due.iter().filter_map(|f| f.deadline).max() else { continue };
            if deadline >= today || !order_signed(&record, department, &trust)? {
                continue;
            }
            let inspectors = team(directory, &task, department);
            if inspectors.len() < 2 {
                let available = inspectors.iter().map(ToString::to_string).collect();
                out.unstaffed.push(Unstaffed {
                    of_task: task.code.to_string(),
                    department: department.to_string(),
                    available,
                });
                continue;
            }
            let ids: Vec<String> = due.iter().map(|f| f.id.clone()).collect();
            drafts.push(TaskDraft {
                enterprise: task.enterprise.clone(),
                lead_department: department.clone(),
                departments: vec![department.clone()],
                lead_inspector: inspectors[0].clone(),
                inspectors,
                matters: task
                    .matters
                    .iter()
                    .filter(|m| directory.matter(m).is_some_and(|x| &x.department == department))
                    .cloned()
                    .collect(),
                window: TimeWindow { start: today, end: today + chrono::Days::new(REINSPECTION_DAYS - 1) },
                source: TaskSource::ReInspection { of_task: task.code.clone(), findings: ids.clone() },
            });
            due_findings.push((task.code.to_string(), department.to_string(), ids, deadline));
        }
    }
    let created = tasks::validate(directory, drafts)?;
    tasks::store(storage, tenant, &created, now_ms).await?;
    for (task, (of_task, department, findings, deadline)) in created.iter().zip(due_findings) {
        out.planned.push(Reinspection {
            code: task.code.to_string(),
            of_task,
            department,
            findings,
            deadline,
            inspectors: task.inspectors.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(out)
}

/// Whether the department's latest order to rectify in the record counts as signed.
fn order_signed(
    record: &InspectionRecord,
    department: &DepartmentId,
    trust: &SignerTrust<'_>,
) -> Result<bool, RecordError> {
    let Some(order) = record.latest_document(DocumentKind::RectificationOrder, department)? else { return Ok(false) };
    Ok(record.document_report(&order.sha256, Some(trust))?.signed)
}

/// Who re-inspects for `department`: its inspectors on the task, then others of the department in
/// identifier order without a declared conflict with the enterprise, two in all.
fn team(directory: &Directory, task: &Task, department: &DepartmentId) -> Vec<InspectorId> {
    let of_department = |i: &InspectorId| directory.inspector(i).is_some_and(|x| &x.department == department);
    let mut team: Vec<InspectorId> = task.inspectors.iter().filter(|i| of_department(i)).cloned().collect();
    for other in directory.inspectors() {
        if team.len() >= 2 {
            break;
        }
        if &other.department == department && !other.conflicts.contains(&task.enterprise) && !team.contains(&other.id) {
            team.push(other.id.clone());
        }
    }
    team
}
