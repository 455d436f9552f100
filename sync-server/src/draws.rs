//! 双随机 draws on the server. A plan is committed first: its seed is fixed and the seed's hash
//! published (公示) before the pool is frozen. Publishing freezes the pool (directory and the
//! enterprises' last inspections), draws with the revealed seed, signs the record with the
//! tenant root and plans one task per drawn enterprise. A preview draws with a throwaway seed, so
//! seeing it tells nothing about the published draw.
//!
//! The seed is derived from the root key and a stored public nonce ([`Tenant::derive_secret`]):
//! the database holds nothing from which the seed can be learnt before it is revealed.

use ed25519_dalek::VerifyingKey;
use onevisit_core::domain::{Directory, Task, TaskCode, TaskDraft, TaskSource};
use onevisit_core::draw::{
    self, DrawError, DrawParameters, DrawPlan, DrawRecord, DrawResult, DrawVerifyError, PoolSnapshot, SignedDrawRecord,
    seed_commitment,
};
use serde::Serialize;

use crate::storage::{Storage, StorageError, StoredDraw};
use crate::tasks::{self, PlanError};
use crate::tenant::Tenant;

/// Why a draw cannot be committed, previewed, published or verified.
#[derive(Debug, thiserror::Error)]
pub enum DrawServiceError {
    /// Storage failed or refused (plan committed twice, published twice, unknown).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The plan file is not a draw plan.
    #[error("不是抽查计划 JSON（格式见 README）：{0}")]
    MalformedPlan(#[source] serde_json::Error),
    /// The plan cannot be drawn.
    #[error(transparent)]
    Draw(#[from] DrawError),
    /// The record file is not a signed draw record.
    #[error("不是抽查结果记录文件：{0}")]
    MalformedRecord(#[source] serde_json::Error),
    /// The record does not verify.
    #[error(transparent)]
    Verify(#[from] DrawVerifyError),
    /// The draw chose no enterprise: nothing to publish.
    #[error("按计划的比例没有抽中任何企业：请调高抽查比例或放宽筛选条件")]
    NothingDrawn,
    /// Publishing in the same millisecond as the commitment cannot show the order of the two.
    #[error("随机种子的哈希刚刚公示：请稍后再抽取")]
    TooSoon,
    /// The tasks could not be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A stored task or record cannot be read.
    #[error("服务器保存的数据无法读取：{0}")]
    Stored(#[source] serde_json::Error),
    /// The record could not be encoded (a bug).
    #[error(transparent)]
    Canonical(#[from] onevisit_core::canonical::CanonicalError),
}

/// What a commitment publishes: the plan and the hash of its seed, before anything is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commitment {
    /// The plan's identifier.
    pub plan_id: String,
    /// SHA-256 (hex) of the seed.
    pub seed_commitment: String,
    /// When it was committed (ms since the epoch).
    pub committed_at_ms: i64,
}

/// A preview: what a draw of the plan looks like now, with a throwaway seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrawPreview {
    /// The validated plan.
    pub parameters: DrawParameters,
    /// Enterprises in the directory (before the plan's filters).
    pub directory_enterprises: usize,
    /// Recusals the pool holds (declared and last inspections).
    pub recusals: usize,
    /// SHA-256 of the pool as it would be frozen now.
    pub pool_sha256: String,
    /// The draw with the throwaway seed.
    pub result: DrawResult,
    /// Visits saved by joint tasks.
    pub visits_saved: u64,
}

/// A published draw: its signed record and the tasks it planned.
#[derive(Debug, Clone)]
pub struct Published {
    /// The signed record.
    pub record: SignedDrawRecord,
    /// The record as verified.
    pub content: DrawRecord,
    /// Tasks stored by this call (fewer than the record lists when an earlier call stored some).
    pub created: usize,
}

/// Parses a plan file.
pub fn parse_plan(json: &str) -> Result<DrawPlan, DrawServiceError> {
    serde_json::from_str(json).map_err(DrawServiceError::MalformedPlan)
}

/// Commits a plan: checks it against the directory, fixes its seed and returns the hash to publish.
pub async fn commit<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    plan_json: &str,
    now_ms: i64,
) -> Result<Commitment, DrawServiceError> {
    let plan = parse_plan(plan_json)?;
    plan.validate(directory)?;
    let mut nonce = [0u8; 32];
    onevisit_core::random::fill(&mut nonce);
    let nonce = hex::encode(nonce);
    let commitment = seed_commitment(&seed(tenant, &plan.id, &nonce));
    storage
        .commit_draw(StoredDraw {
            plan_id: plan.id.clone(),
            plan_json: plan_json.to_string(),
            nonce,
            commitment: commitment.clone(),
            committed_at_ms: now_ms,
            record: None,
        })
        .await?;
    Ok(Commitment { plan_id: plan.id, seed_commitment: commitment, committed_at_ms: now_ms })
}

/// The seed of a plan: only the root key's holder computes it.
fn seed(tenant: &Tenant, plan_id: &str, nonce: &str) -> [u8; 32] {
    let mut label = b"onevisit/draw-seed/1\0".to_vec();
    label.extend_from_slice(plan_id.as_bytes());
    label.push(0);
    label.extend_from_slice(nonce.as_bytes());
    tenant.derive_secret(&label)
}

/// The pool as it stands now for `parameters`: the directory and every stored task's inspectors.
async fn current_pool<S: Storage>(
    storage: &S,
    directory: &Directory,
    parameters: &DrawParameters,
) -> Result<PoolSnapshot, DrawServiceError> {
    let planned = tasks::planned(storage).await?;
    let last = draw::last_inspections(&planned, directory);
    Ok(PoolSnapshot::take(parameters, directory, &last))
}

/// Previews a plan with a throwaway seed (the published draw will differ): the pool, the ratios,
/// the staffing and the joint tasks it forms. Plans nothing.
pub async fn preview<S: Storage>(
    storage: &S,
    directory: &Directory,
    plan_json: &str,
) -> Result<DrawPreview, DrawServiceError> {
    let parameters = parse_plan(plan_json)?.validate(directory)?;
    let pool = current_pool(storage, directory, &parameters).await?;
    let mut throwaway = [0u8; 32];
    onevisit_core::random::fill(&mut throwaway);
    let result = draw::run(&parameters, &pool, &throwaway)?;
    Ok(DrawPreview {
        directory_enterprises: pool.enterprises.len(),
        recusals: pool.recusals.len(),
        pool_sha256: pool.sha256()?,
        visits_saved: result.visits_saved(),
        parameters,
        result,
    })
}

/// Publishes a committed plan: freezes the pool, draws with the revealed seed, stores the signed
/// record (once: a second publisher is refused), then plans its tasks. When an earlier call
/// stored the record but not every task, this call stores the missing ones.
pub async fn publish<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    plan_id: &str,
    now_ms: i64,
) -> Result<Published, DrawServiceError> {
    let stored = storage.draw(plan_id.to_string()).await?.ok_or_else(|| StorageError::UnknownDraw(plan_id.into()))?;
    if let Some(json) = &stored.record {
        return resume(storage, tenant, directory, json, now_ms).await;
    }
    if now_ms <= stored.committed_at_ms {
        return Err(DrawServiceError::TooSoon);
    }
    let parameters = parse_plan(&stored.plan_json)?.validate(directory)?;
    let pool = current_pool(storage, directory, &parameters).await?;
    let seed = seed(tenant, &stored.plan_id, &stored.nonce);
    let result = draw::run(&parameters, &pool, &seed)?;
    if result.tasks.is_empty() {
        return Err(DrawServiceError::NothingDrawn);
    }
    let planned = tasks::validate(directory, drafts(&parameters, &result))?;
    let content = DrawRecord {
        schema: draw::record::DRAW_RECORD_SCHEMA.into(),
        tenant: tenant.id.clone(),
        algorithm: draw::ALGORITHM.into(),
        seed_commitment: stored.commitment.clone(),
        committed_at_ms: stored.committed_at_ms,
        seed: hex::encode(seed),
        pool_taken_at_ms: now_ms,
        pool_sha256: pool.sha256()?,
        task_codes: planned.iter().map(|t| t.code.clone()).collect(),
        published_at_ms: now_ms,
        issuer_public_key: hex::encode(tenant.root_public_key()),
        parameters,
        result,
    };
    let record = tenant.sign_draw(&content, pool)?;
    let json = serde_json::to_string(&record).map_err(DrawServiceError::Stored)?;
    storage.publish_draw(stored.plan_id.clone(), json).await?;
    tasks::store(storage, tenant, &planned, now_ms).await?;
    Ok(Published { record, content, created: planned.len() })
}

/// Stores the tasks of a published record that are not stored yet.
async fn resume<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    json: &str,
    now_ms: i64,
) -> Result<Published, DrawServiceError> {
    let record: SignedDrawRecord = serde_json::from_str(json).map_err(DrawServiceError::Stored)?;
    let content = record.verify(&tenant.root_key())?;
    let mut missing = Vec::new();
    for (code, draft) in content.task_codes.iter().zip(drafts(&content.parameters, &content.result)) {
        if storage.record_meta(code.to_string()).await?.is_none() {
            missing.push(Task::from_draft(draft, code.clone(), directory).map_err(PlanError::from)?);
        }
    }
    if missing.is_empty() {
        return Err(StorageError::DrawPublished(content.parameters.plan_id.clone()).into());
    }
    tasks::store(storage, tenant, &missing, now_ms).await?;
    Ok(Published { record, content, created: missing.len() })
}

/// The task drafts of a draw: one per drawn enterprise with every department's matters and
/// inspectors, due in the plan's window, sourced as a random draw.
pub fn drafts(parameters: &DrawParameters, result: &DrawResult) -> Vec<TaskDraft> {
    result
        .tasks
        .iter()
        .map(|t| TaskDraft {
            enterprise: t.enterprise.clone(),
            lead_department: t.lead_department.clone(),
            departments: t.departments.iter().map(|d| d.department.clone()).collect(),
            inspectors: t.departments.iter().flat_map(|d| d.inspectors.iter().cloned()).collect(),
            lead_inspector: t.lead_inspector.clone(),
            matters: t.departments.iter().flat_map(|d| d.matters.iter().cloned()).collect(),
            window: parameters.window,
            source: TaskSource::RandomDraw,
        })
        .collect()
}

/// Verifies a record file (JSON of a signed draw record with its pool) against a root key,
/// recomputing the draw; returns the record and the pool it was drawn from.
pub fn verify(json: &str, root: &VerifyingKey) -> Result<(DrawRecord, PoolSnapshot), DrawServiceError> {
    let signed: SignedDrawRecord = serde_json::from_str(json).map_err(DrawServiceError::MalformedRecord)?;
    let record = signed.verify(root)?;
    Ok((record, signed.pool))
}

/// The task codes a published record lists (for listings).
pub fn task_codes(stored: &StoredDraw) -> Result<Vec<TaskCode>, DrawServiceError> {
    let Some(json) = &stored.record else { return Ok(Vec::new()) };
    let record: SignedDrawRecord = serde_json::from_str(json).map_err(DrawServiceError::Stored)?;
    let content: DrawRecord = serde_json::from_str(&record.canonical).map_err(DrawServiceError::Stored)?;
    Ok(content.task_codes)
}
