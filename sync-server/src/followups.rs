//! The closed loop on the server (闭环): when the deadline of a department's signed order to
//! rectify (责令改正通知书) has passed, plan that department's re-inspection (复查) of the task's
//! findings; when a re-inspection found a finding rectified (or handed it over for a case), copy
//! that into the inspected task so that it may close; a new deadline goes round again. The day
//! is given (`--today`), so the loop is tested without waiting.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use onevisit_core::certificate::{REVOCATION_SCHEMA, RevocationList};
use onevisit_core::document::DocumentKind;
use onevisit_core::domain::{
    DepartmentId, Directory, FindingToRecheck, InspectorId, Task, TaskCode, TaskDraft, TaskSource, TimeWindow,
};
use onevisit_core::figures::{SourceKind, TaskFacts};
use onevisit_core::record::documents::SignerTrust;
use onevisit_core::record::{Finding, InspectionRecord, Recheck, RecheckOutcome, RecordError};
use onevisit_core::sync::wire::heads_to_hex;
use serde::Serialize;

use crate::storage::{Storage, StorageError};
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
    /// Findings whose loop closed now (`task/finding`): a settling result copied into the task.
    pub settled: Vec<String>,
}

/// Runs the loop for `today`: first copies every settling re-inspection result (rectified, or
/// handed over for a case) into the inspected task's record, so that it may close; then plans
/// every re-inspection due — a department's findings that required rectification, under its
/// order to rectify that is fully signed (certificates checked against the tenant root and the
/// revocations), not settled, whose deadline (the latest new one, if a re-inspection set one) is
/// before `today` and which no re-inspection awaits. The department's inspectors on the task go
/// again, topped up to two from the department (declared conflicts excepted); due within a week.
pub async fn plan_reinspections<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    today: NaiveDate,
    now_ms: i64,
) -> Result<FollowupPlan, FollowupError> {
    let trust = Trust::now(storage, tenant, now_ms).await?;
    let trust = trust.signer();
    // Pass 1: what re-inspections cover and what they found, by (inspected task, finding).
    let mut covered: HashMap<(TaskCode, String), usize> = HashMap::new();
    let mut found: HashMap<(TaskCode, String), Vec<Recheck>> = HashMap::new();
    // Inspected tasks are read once, here: what pass 2 needs is kept, for those with findings
    // that required rectification.
    let mut inspected = Vec::new();
    for id in records_in_the_loop(storage).await? {
        let (record, _) = tasks::load_record(storage, &id).await?;
        match &record.task().source {
            TaskSource::ReInspection { of_task, findings } => {
                for f in findings {
                    *covered.entry((of_task.clone(), f.id.clone())).or_default() += 1;
                }
                for r in record.rechecks()? {
                    found.entry((of_task.clone(), r.finding.clone())).or_default().push(r);
                }
            }
            _ => {
                let findings: Vec<Finding> =
                    record.findings()?.into_iter().filter(|f| f.rectification_required).collect();
                if findings.is_empty() {
                    continue;
                }
                let mut signed = Vec::new();
                for department in &record.task().departments {
                    if findings.iter().any(|f| &f.department == department)
                        && order_signed(&record, department, &trust)?
                    {
                        signed.push(department.clone());
                    }
                }
                inspected.push(Inspected {
                    task: record.task().clone(),
                    settled_here: record.rechecks()?.into_iter().map(|r| r.finding).collect(),
                    holds_rechecks: record.holds_rechecks()?,
                    findings,
                    signed,
                    id,
                });
            }
        }
    }
    for results in found.values_mut() {
        results.sort_by_key(|r| r.stamp.at_ms);
    }
    // Pass 2: settle, then plan, task by task (records are not read again).
    let mut out = FollowupPlan::default();
    let mut drafts = Vec::new();
    let mut due_findings = Vec::new();
    for Inspected { id, task, findings, settled_here, holds_rechecks, signed } in inspected {
        let settling: Vec<&Recheck> = found
            .iter()
            .filter(|((of, finding), _)| of == &task.code && !settled_here.contains(finding))
            .filter_map(|(_, results)| results.iter().find(|r| r.outcome.settles()))
            .collect();
        if !settling.is_empty() && holds_rechecks {
            settle(storage, tenant, &id, &settling).await?;
            out.settled.extend(settling.iter().map(|r| format!("{}/{}", task.code, r.finding)));
        }
        for department in &task.departments {
            let mut deadline = None;
            let mut due = Vec::new();
            for f in findings.iter().filter(|f| &f.department == department) {
                let key = (task.code.clone(), f.id.clone());
                let results = found.get(&key).map(Vec::as_slice).unwrap_or_default();
                let renewed: Vec<NaiveDate> = results
                    .iter()
                    .filter_map(|r| match r.outcome {
                        RecheckOutcome::NewDeadline { deadline } => Some(deadline),
                        _ => None,
                    })
                    .collect();
                let settled = results.iter().any(|r| r.outcome.settles());
                // A re-inspection awaits while fewer results than re-inspections came back.
                let awaiting = covered.get(&key).copied().unwrap_or(0) > renewed.len();
                let Some(effective) = renewed.last().copied().or(f.deadline) else { continue };
                if !settled && !awaiting && effective < today {
                    due.push(FindingToRecheck {
                        id: f.id.clone(),
                        problem: f.problem.clone(),
                        legal_basis: f.legal_basis.clone(),
                        deadline: Some(effective),
                    });
                    deadline = deadline.max(Some(effective));
                }
            }
            let Some(deadline) = deadline else { continue };
            let ids: Vec<String> = due.iter().map(|f| f.id.clone()).collect();
            if !signed.contains(department) {
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
                source: TaskSource::ReInspection { of_task: task.code.clone(), findings: due },
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

/// The records the loop must read, chosen from the summaries every write keeps: inspected tasks
/// with a finding that required rectification and is not settled there, the re-inspections of
/// those tasks, and any record without a current summary — not the whole city every day.
async fn records_in_the_loop<S: Storage>(storage: &S) -> Result<Vec<String>, StorageError> {
    let mut known = Vec::new();
    let mut ids = Vec::new();
    for (id, stored) in storage.task_facts().await? {
        match stored.as_deref().and_then(TaskFacts::from_json) {
            Some(facts) => known.push((id, facts)),
            None => ids.push(id),
        }
    }
    let open: HashSet<&str> = known
        .iter()
        .filter(|(_, f)| f.source != SourceKind::ReInspection)
        .filter(|(_, f)| {
            f.findings.iter().any(|x| {
                x.rectification_required && !f.rechecks.iter().any(|r| r.finding == x.id && r.outcome.settles())
            })
        })
        .map(|(id, _)| id.as_str())
        .collect();
    let wanted = |(id, f): &(String, TaskFacts)| {
        open.contains(id.as_str()) || f.of_task.as_deref().is_some_and(|t| open.contains(t))
    };
    ids.extend(known.iter().filter(|x| wanted(x)).map(|(id, _)| id.clone()));
    ids.sort();
    Ok(ids)
}

/// What the loop needs of an inspected task with findings that required rectification.
struct Inspected {
    /// Its record's id.
    id: String,
    /// Its task.
    task: Task,
    /// Its findings that required rectification.
    findings: Vec<Finding>,
    /// The findings whose settling result it already holds.
    settled_here: Vec<String>,
    /// Whether it has a place for results (records created before it existed do not).
    holds_rechecks: bool,
    /// The departments whose order to rectify counts as signed.
    signed: Vec<DepartmentId>,
}

/// Copies settling results into an inspected task's record, as the tenant (one append).
async fn settle<S: Storage>(storage: &S, tenant: &Tenant, id: &str, results: &[&Recheck]) -> Result<(), FollowupError> {
    let (mut record, version) = tasks::load_record(storage, id).await?;
    record.set_actor(tenant.actor());
    for r in results {
        record.settle_finding(r)?;
    }
    let chunk = record.take_unsaved();
    let facts = crate::reports::facts_of(&record);
    storage.append_record(id.to_string(), version, chunk, heads_to_hex(&record.heads()), facts).await?;
    Ok(())
}

/// What signatures are checked against: the tenant root and its current revocations.
pub(crate) struct Trust {
    root: ed25519_dalek::VerifyingKey,
    revocations: RevocationList,
}

impl Trust {
    /// The root and the revocations as they stand at `now_ms`.
    pub(crate) async fn now<S: Storage>(storage: &S, tenant: &Tenant, now_ms: i64) -> Result<Trust, StorageError> {
        let revocations = RevocationList {
            schema: REVOCATION_SCHEMA.into(),
            tenant: tenant.id.clone(),
            issued_at_ms: now_ms,
            revoked: storage.revocations().await?,
            issuer_public_key: hex::encode(tenant.root_public_key()),
        };
        Ok(Trust { root: tenant.root_key(), revocations })
    }

    /// As the document checks take it.
    pub(crate) fn signer(&self) -> SignerTrust<'_> {
        SignerTrust { root: &self.root, revocations: Some(&self.revocations) }
    }
}

/// Whether the department's latest order to rectify in the record counts as signed.
pub(crate) fn order_signed(
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
