//! Planning on the server: an administrator creates a task (validated against the directory),
//! which becomes an inspection document written by the tenant's own actor and assigned to the
//! task's inspectors; assignments can change later.

use onevisit_core::domain::{Directory, Task, TaskCode, TaskDraft};
use onevisit_core::record::{InspectionRecord, Stamp};
use onevisit_core::sync::wire::heads_to_hex;

use crate::storage::{NewRecord, Storage, StorageError, StoredRecord};
use crate::tenant::Tenant;

/// Why a task cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The draft is invalid.
    #[error(transparent)]
    Task(#[from] onevisit_core::domain::TaskError),
    /// The record could not be made.
    #[error(transparent)]
    Record(#[from] onevisit_core::record::RecordError),
    /// An identifier argument is invalid.
    #[error(transparent)]
    Id(#[from] onevisit_core::domain::IdError),
    /// A stored task cannot be read.
    #[error("服务器保存的任务无法读取：{0}")]
    Stored(#[source] serde_json::Error),
    /// No directory imported yet.
    #[error("先导入名录：onevisit-server import --sample（或 import 名录.json）")]
    NoDirectory,
}

/// How many new records one storage transaction holds when tasks are created in bulk: memory
/// stays bounded (one batch of documents at a time) and a city's 100,000 tasks take seconds.
const CREATE_BATCH: usize = 500;

/// Creates tasks from drafts; all are validated before any is stored, then their documents are
/// made and stored a batch at a time.
pub async fn create<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    drafts: Vec<TaskDraft>,
    now_ms: i64,
) -> Result<Vec<Task>, PlanError> {
    let tasks = validate(directory, drafts)?;
    store(storage, tenant, &tasks, now_ms).await?;
    Ok(tasks)
}

/// Validates drafts into tasks, each with a new code (none handed out twice in one run).
pub fn validate(directory: &Directory, drafts: Vec<TaskDraft>) -> Result<Vec<Task>, PlanError> {
    let today = chrono::Utc::now().date_naive();
    let mut tasks = Vec::with_capacity(drafts.len());
    let mut codes = std::collections::HashSet::with_capacity(drafts.len());
    for draft in drafts {
        // Codes are random (40 bits); one run never hands out the same one twice.
        let code = loop {
            let code = TaskCode::generate(draft.enterprise.division_code(), today)?;
            if codes.insert(code.clone()) {
                break code;
            }
        };
        tasks.push(Task::from_draft(draft, code, directory)?);
    }
    Ok(tasks)
}

/// Makes and stores the documents of validated tasks, a batch per transaction.
pub async fn store<S: Storage>(storage: &S, tenant: &Tenant, tasks: &[Task], now_ms: i64) -> Result<(), PlanError> {
    for batch in tasks.chunks(CREATE_BATCH) {
        let docs = batch.iter().map(|task| new_record(tenant, task, now_ms)).collect::<Result<Vec<_>, _>>()?;
        storage.create_records(docs).await?;
    }
    Ok(())
}

/// The first document of a planned task, created on behalf of its lead inspector by the tenant's actor.
fn new_record(tenant: &Tenant, task: &Task, now_ms: i64) -> Result<NewRecord, PlanError> {
    let stamp = Stamp { by: task.lead_inspector.clone(), at_ms: now_ms };
    let mut record = InspectionRecord::create(task.clone(), tenant.actor(), stamp)?;
    Ok(NewRecord {
        id: task.code.to_string(),
        task_json: serde_json::to_string(task).map_err(|e| StorageError::Database(Box::new(e)))?,
        departments: task.departments.iter().map(|d| d.to_string()).collect(),
        inspectors: task.inspectors.iter().map(|i| i.to_string()).collect(),
        heads: heads_to_hex(&record.heads()),
        facts: crate::reports::facts_of(&record),
        snapshot: record.save(),
    })
}

/// Assigns an inspector to a task (or takes one off): the task inside the document changes (a
/// change by the tenant's actor, so devices enforce it too) and so does who may sync it.
pub async fn reassign<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    id: &str,
    inspector: &str,
    assigned: bool,
    now_ms: i64,
) -> Result<Task, PlanError> {
    let (mut record, version) = load_record(storage, id).await?;
    record.set_actor(tenant.actor());
    let who = onevisit_core::domain::InspectorId::new(inspector)?;
    let mut inspectors = record.task().inspectors.clone();
    inspectors.retain(|i| i != &who);
    if assigned {
        inspectors.push(who);
    }
    let stamp = Stamp { by: record.task().lead_inspector.clone(), at_ms: now_ms };
    record.reassign(stamp, directory, inspectors)?;
    let chunk = record.take_unsaved();
    let facts = crate::reports::facts_of(&record);
    storage.append_record(id.to_string(), version, chunk, heads_to_hex(&record.heads()), facts).await?;
    storage.assign(id.to_string(), inspector.to_string(), assigned).await?;
    Ok(record.task().clone())
}

/// A stored record, loaded, with the version an append to it must name.
pub async fn load_record<S: Storage>(storage: &S, id: &str) -> Result<(InspectionRecord, u64), PlanError> {
    let StoredRecord { chunks, version } =
        storage.record_bytes(id.to_string()).await?.ok_or_else(|| StorageError::UnknownRecord(id.to_string()))?;
    let (first, rest) = chunks.split_first().ok_or_else(|| StorageError::UnknownRecord(id.to_string()))?;
    Ok((InspectionRecord::load(first, rest.iter().map(Vec::as_slice))?, version))
}

/// Every task the server holds, as it was planned.
pub async fn planned<S: Storage>(storage: &S) -> Result<Vec<Task>, PlanError> {
    storage
        .planned_tasks()
        .await?
        .iter()
        .map(|json| serde_json::from_str(json))
        .collect::<Result<_, _>>()
        .map_err(PlanError::Stored)
}

/// One task as administrators list it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskSummary {
    /// The task code.
    pub code: String,
    /// Its status (machine name: `planned`, `on_site`, ...).
    pub status: String,
    /// Its status in Chinese.
    pub status_zh: String,
    /// The enterprise's USCC.
    pub enterprise: String,
    /// The enterprise's name, from the directory.
    pub enterprise_name: String,
    /// First and last day (YYYY-MM-DD).
    pub window: (String, String),
    /// The lead department.
    pub lead_department: String,
    /// The inspectors assigned now.
    pub inspectors: Vec<String>,
}

/// Every task the server holds with its status and who is assigned (one record load each).
pub async fn list<S: Storage>(storage: &S, directory: &Directory) -> Result<Vec<TaskSummary>, PlanError> {
    let mut out = Vec::new();
    for id in storage.record_ids().await? {
        let (record, _) = load_record(storage, &id).await?;
        let status = record.status()?;
        let task = record.task();
        out.push(TaskSummary {
            code: task.code.to_string(),
            status: status.as_str().to_string(),
            status_zh: status.label_zh().to_string(),
            enterprise: task.enterprise.to_string(),
            enterprise_name: directory.enterprise(&task.enterprise).map(|e| e.name.clone()).unwrap_or_default(),
            window: (task.window.start.to_string(), task.window.end.to_string()),
            lead_department: task.lead_department.to_string(),
            inspectors: task.inspectors.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(out)
}

/// Why a task a device created offline is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfflineTaskError {
    /// The task code names another tenant's division.
    #[error("任务编码的行政区划 {0} 不属于本租户")]
    OtherDivision(String),
    /// The task does not hold up against the directory (department, inspector, enterprise, matter).
    #[error("任务与名录不符：{0}")]
    Invalid(String),
    /// Only the lead inspector of a task plans it on site.
    #[error("离线新建的任务须由其主办检查员本人创建（创建者 {creator}，主办 {lead}）")]
    NotTheLead {
        /// Who created it.
        creator: String,
        /// The lead the task names.
        lead: String,
    },
}

/// Checks a task a device created offline before the server takes it: the tenant's division, a
/// task that validates against the directory exactly as a planned one would, and a creator who is
/// its lead inspector (and so of its lead department).
pub fn check_offline(task: &Task, creator: &str, tenant: &str, directory: &Directory) -> Result<(), OfflineTaskError> {
    let division = task.code.as_str().split('-').next().unwrap_or_default();
    if division != tenant {
        return Err(OfflineTaskError::OtherDivision(division.to_string()));
    }
    if task.lead_inspector.as_str() != creator {
        return Err(OfflineTaskError::NotTheLead {
            creator: creator.to_string(),
            lead: task.lead_inspector.to_string(),
        });
    }
    let draft = TaskDraft {
        enterprise: task.enterprise.clone(),
        lead_department: task.lead_department.clone(),
        departments: task.departments.clone(),
        inspectors: task.inspectors.clone(),
        lead_inspector: task.lead_inspector.clone(),
        matters: task.matters.clone(),
        window: task.window,
        source: task.source.clone(),
    };
    let rebuilt =
        Task::from_draft(draft, task.code.clone(), directory).map_err(|e| OfflineTaskError::Invalid(e.to_string()))?;
    // What the draft would have normalised (order, duplicates) must already be so.
    if &rebuilt != task {
        return Err(OfflineTaskError::Invalid("任务内容未按规范整理".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use onevisit_core::domain::{InspectorId, TaskCode};

    fn sample() -> (Directory, Task) {
        let directory = onevisit_core::sample::directory().unwrap();
        let draft = onevisit_core::sample::joint_task_draft(
            &directory,
            0,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        );
        let code = TaskCode::parse("330482-20261201-AAAAAAAA").unwrap();
        let task = Task::from_draft(draft, code, &directory).unwrap();
        (directory, task)
    }

    #[test]
    fn a_task_by_its_lead_in_this_division_is_accepted() {
        let (directory, task) = sample();
        assert_eq!(check_offline(&task, "scjg-01", "330482", &directory), Ok(()));
    }

    #[test]
    fn another_division_another_creator_or_a_stranger_named_is_refused() {
        let (directory, task) = sample();
        assert_eq!(
            check_offline(&task, "scjg-01", "330483", &directory),
            Err(OfflineTaskError::OtherDivision("330482".into()))
        );
        assert!(matches!(
            check_offline(&task, "xfjy-01", "330482", &directory),
            Err(OfflineTaskError::NotTheLead { .. })
        ));
        let mut stranger = task.clone();
        stranger.inspectors.push(InspectorId::new("nobody-01").unwrap());
        assert!(matches!(check_offline(&stranger, "scjg-01", "330482", &directory), Err(OfflineTaskError::Invalid(_))));
        let mut unknown_department = task.clone();
        unknown_department.departments.push("zzzz".parse().unwrap());
        assert!(matches!(
            check_offline(&unknown_department, "scjg-01", "330482", &directory),
            Err(OfflineTaskError::Invalid(_))
        ));
    }
}
