//! Planning on the server: an administrator creates a task (validated against the directory),
//! which becomes an inspection document written by the tenant's own actor and assigned to the
//! task's inspectors; assignments can change later.

use onevisit_core::domain::{Directory, Task, TaskCode, TaskDraft};
use onevisit_core::record::{InspectionRecord, Stamp};
use onevisit_core::sync::wire::heads_to_hex;

use crate::storage::{NewDocument, Storage, StorageError, StoredDocument};
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
    /// No directory imported yet.
    #[error("import the directory first")]
    NoDirectory,
}

/// Creates tasks from drafts; all are validated before any is stored.
pub async fn create<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    drafts: Vec<TaskDraft>,
    now_ms: i64,
) -> Result<Vec<Task>, PlanError> {
    let today = chrono::Utc::now().date_naive();
    let mut prepared = Vec::new();
    for draft in drafts {
        let code = TaskCode::generate(draft.enterprise.division_code(), today)?;
        let task = Task::from_draft(draft, code, directory)?;
        // The record is created on behalf of the lead inspector, by the tenant's actor.
        let stamp = Stamp { by: task.lead_inspector.clone(), at_ms: now_ms };
        let mut record = InspectionRecord::create(task.clone(), tenant.actor(), stamp)?;
        let snapshot = record.save();
        let doc = NewDocument {
            id: task.code.to_string(),
            task_json: serde_json::to_string(&task).map_err(|e| StorageError::Database(Box::new(e)))?,
            departments: task.departments.iter().map(|d| d.to_string()).collect(),
            inspectors: task.inspectors.iter().map(|i| i.to_string()).collect(),
            heads: heads_to_hex(&record.heads()),
            snapshot,
        };
        prepared.push((task, doc));
    }
    let mut tasks = Vec::new();
    for (task, doc) in prepared {
        storage.create_document(doc).await?;
        tasks.push(task);
    }
    Ok(tasks)
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
    let StoredDocument { chunks, version } =
        storage.document_bytes(id.to_string()).await?.ok_or_else(|| StorageError::UnknownDocument(id.to_string()))?;
    let (first, rest) = chunks.split_first().ok_or_else(|| StorageError::UnknownDocument(id.to_string()))?;
    let mut record = InspectionRecord::load(first, rest.iter().map(Vec::as_slice))?;
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
    storage.append_document(id.to_string(), version, chunk, heads_to_hex(&record.heads())).await?;
    storage.assign(id.to_string(), inspector.to_string(), assigned).await?;
    Ok(record.task().clone())
}
