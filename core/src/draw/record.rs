//! The published draw record (抽查结果公示): parameters, seed commitment and seed, frozen pool,
//! result and the tasks planned, signed by the tenant root; and its independent check.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::{ALGORITHM, DrawError, DrawParameters, DrawResult, PoolSnapshot, run};
use crate::canonical::CanonicalError;
use crate::domain::TaskCode;
use crate::identity::DeviceKey;
use crate::signed::{Issued, IssuedError, verify_issued};

/// The schema of a draw record.
pub const DRAW_RECORD_SCHEMA: &str = "onevisit/draw-record/1";

/// Everything anyone needs to recompute a draw and see that it was the one published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawRecord {
    /// Always [`DRAW_RECORD_SCHEMA`].
    pub schema: String,
    /// The tenant (行政区划代码).
    pub tenant: String,
    /// The algorithm that drew, e.g. `onevisit-draw/1`.
    pub algorithm: String,
    /// The validated plan.
    pub parameters: DrawParameters,
    /// SHA-256 (hex) of the seed, published before the pool was frozen.
    pub seed_commitment: String,
    /// When the commitment was made (ms since the epoch).
    pub committed_at_ms: i64,
    /// The seed (hex), revealed with the result.
    pub seed: String,
    /// When the pool was frozen (ms since the epoch).
    pub pool_taken_at_ms: i64,
    /// SHA-256 (hex) of the frozen pool's canonical JSON (the pool travels beside the record).
    pub pool_sha256: String,
    /// What was drawn.
    pub result: DrawResult,
    /// The tasks planned, one per drawn task in the same order (empty in a preview).
    pub task_codes: Vec<TaskCode>,
    /// When it was published (ms since the epoch).
    pub published_at_ms: i64,
    /// The tenant root key that signs it (hex).
    pub issuer_public_key: String,
}

impl Issued for DrawRecord {
    const SCHEMA: &'static str = DRAW_RECORD_SCHEMA;
    fn schema(&self) -> &str {
        &self.schema
    }
    fn issuer_public_key(&self) -> &str {
        &self.issuer_public_key
    }
}

/// A draw record as published: canonical JSON, the root's signature over it, and the frozen pool
/// the record names by its hash (the signature covers the pool through that hash, so that a city's
/// pool of 100,000 enterprises is canonicalised once, not twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDrawRecord {
    /// Canonical JSON of the [`DrawRecord`].
    pub canonical: String,
    /// Ed25519 signature by the tenant root (hex).
    pub signature: String,
    /// The frozen pool.
    pub pool: PoolSnapshot,
}

/// Why a draw record is not a genuine, recomputable draw.
#[derive(Debug, thiserror::Error)]
pub enum DrawVerifyError {
    /// The signature, encoding or issuer is wrong (the record was edited, or signed by another key).
    #[error("抽查结果记录的签名无效：{0}")]
    Signature(#[from] IssuedError),
    /// The record names an algorithm this software does not know.
    #[error("未知的抽取算法 {0}")]
    UnknownAlgorithm(String),
    /// The seed is not 32 bytes of hex.
    #[error("随机种子格式错误")]
    MalformedSeed,
    /// The revealed seed does not hash to the commitment published before.
    #[error("公布的随机种子与事先公示的哈希 {0} 不符")]
    SeedMismatch(String),
    /// The commitment is dated after the pool was frozen.
    #[error("随机种子的哈希在抽查对象库固定之后才公示，不能证明抽取未被操纵")]
    CommittedAfterPool,
    /// The pool does not hash to the hash the record names.
    #[error("抽查对象库快照与记录中的哈希不符")]
    PoolHashMismatch,
    /// The draw cannot be recomputed from the record.
    #[error("无法由记录重新计算抽取结果：{0}")]
    Recompute(#[source] DrawError),
    /// Recomputing gives another result than the one published.
    #[error("重新计算的抽取结果与公布的结果不符（{0}）")]
    ResultMismatch(String),
    /// The planned tasks do not match the drawn ones one for one.
    #[error("记录列出的任务数 {listed} 与抽中的企业数 {drawn} 不符")]
    TaskCountMismatch {
        /// Tasks listed.
        listed: usize,
        /// Tasks drawn.
        drawn: usize,
    },
    /// The record could not be encoded.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// SHA-256 (hex) of a seed: the commitment published before the draw.
pub fn seed_commitment(seed: &[u8]) -> String {
    crate::audit::sha256_hex(seed)
}

impl SignedDrawRecord {
    /// Signs a record with the tenant root; `pool` is the pool it names by hash.
    pub fn issue(
        record: &DrawRecord,
        pool: PoolSnapshot,
        root: &DeviceKey,
    ) -> Result<SignedDrawRecord, CanonicalError> {
        let (canonical, signature) = crate::signed::sign(record, root)?;
        Ok(SignedDrawRecord { canonical, signature, pool })
    }

    /// Checks the record as anyone can: the root's signature, the seed against its commitment
    /// made before the pool was frozen, the pool against its hash, and the result against the
    /// draw recomputed from parameters, pool and seed.
    pub fn verify(&self, root: &VerifyingKey) -> Result<DrawRecord, DrawVerifyError> {
        let record: DrawRecord = verify_issued(&self.canonical, &self.signature, root)?;
        check(&record, &self.pool)?;
        Ok(record)
    }
}

/// The checks of a record's content and its pool (everything but the signature).
pub fn check(record: &DrawRecord, pool: &PoolSnapshot) -> Result<(), DrawVerifyError> {
    if record.algorithm != ALGORITHM {
        return Err(DrawVerifyError::UnknownAlgorithm(record.algorithm.clone()));
    }
    let seed = hex::decode(&record.seed).ok().filter(|s| s.len() == 32).ok_or(DrawVerifyError::MalformedSeed)?;
    if seed_commitment(&seed) != record.seed_commitment {
        return Err(DrawVerifyError::SeedMismatch(record.seed_commitment.clone()));
    }
    if record.committed_at_ms >= record.pool_taken_at_ms {
        return Err(DrawVerifyError::CommittedAfterPool);
    }
    if pool.sha256()? != record.pool_sha256 {
        return Err(DrawVerifyError::PoolHashMismatch);
    }
    let again = run(&record.parameters, pool, &seed).map_err(DrawVerifyError::Recompute)?;
    if again != record.result {
        return Err(DrawVerifyError::ResultMismatch(first_difference(&again, &record.result)));
    }
    if !record.task_codes.is_empty() && record.task_codes.len() != record.result.tasks.len() {
        return Err(DrawVerifyError::TaskCountMismatch {
            listed: record.task_codes.len(),
            drawn: record.result.tasks.len(),
        });
    }
    Ok(())
}

/// Where a published result departs from the recomputed one, for a person to look at.
fn first_difference(recomputed: &DrawResult, published: &DrawResult) -> String {
    if recomputed.tasks.len() != published.tasks.len() {
        return format!("应抽中 {} 家企业，记录为 {} 家", recomputed.tasks.len(), published.tasks.len());
    }
    for (a, b) in recomputed.tasks.iter().zip(&published.tasks) {
        if a != b {
            return format!("企业 {} 的抽取结果不同（记录为 {}）", a.enterprise, b.enterprise);
        }
    }
    "各部门统计数字不同".into()
}
