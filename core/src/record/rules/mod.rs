//! The write rules of an inspection record: what a change may do, given who made it. One set of
//! rules, run by the sync server on every pushed change and by every device on every change it
//! receives (from the server, a file or the sync protocol's fallback), before the change becomes
//! part of the stored record.
//!
//! A change is judged by its own operations, each resolved to a path of the record's layout, read
//! against the record *as it was at the change's dependencies* (its causal past). That makes the
//! verdict the same whatever order changes arrive in: every receiver accepts or refuses exactly the
//! same changes, so honest copies converge. Who made a change comes from its Automerge actor: the
//! tenant's actor (derived from the root key), or a device whose certificate — signed by the
//! tenant root and carried in the record — binds its key to an inspector and departments. Author
//! stamps inside values are checked against that identity, never trusted. See
//! `docs/trust-model.md` for the rules in prose.

mod authors;
mod checks;
mod edits;
mod replay;

use std::collections::HashSet;

use automerge::{AutoCommit, Change, ChangeHash};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

pub use authors::Author;

use super::RecordError;
use crate::domain::Directory;

/// Which write rule a refused change broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteRule {
    /// The change's actor is neither the tenant nor a device certified by the tenant root.
    UnknownWriter,
    /// A path the record's layout does not have (or a list or text object).
    UnknownPath,
    /// Nothing in a record is ever deleted.
    NoDeletion,
    /// The record's maps are made only when it is created.
    Structure,
    /// `schema_version` changes only through a migration the software knows.
    SchemaVersion,
    /// The task part is written only by the tenant (the planning office).
    TenantOnly,
    /// A value that does not have its schema type.
    Malformed,
    /// A value that breaks its domain rule (answer type or range, empty text, position …).
    InvalidValue,
    /// An author stamp names someone other than the change's certified writer.
    ImpersonatedAuthor,
    /// The writer is not assigned to the task.
    NotAssigned,
    /// A department's section or finding written by an inspector of another department.
    OtherDepartment,
    /// A status change the lifecycle does not allow.
    Lifecycle,
    /// Only the lead inspector may do this.
    LeadOnly,
    /// The record's status does not allow this entry now.
    WrongStatus,
    /// A precondition does not hold (check-in, completeness, no open conflicts).
    Precondition,
    /// An append-only entry was overwritten, or an operation overwrote what its author could not see.
    Immutable,
    /// A signed statement inside the value does not verify or was not made with the writer's key.
    Signature,
    /// A reference to something the record did not hold.
    UnknownReference,
    /// The record's first change does not have the layout of a creation.
    Creation,
}

impl WriteRule {
    /// The zh-CN description shown to inspectors and administrators.
    pub fn label_zh(self) -> &'static str {
        match self {
            WriteRule::UnknownWriter => "修改者不是本租户签发证书的设备",
            WriteRule::UnknownPath => "记录中不存在该位置",
            WriteRule::NoDeletion => "记录中的任何内容都不得删除",
            WriteRule::Structure => "记录结构只能在创建时生成",
            WriteRule::SchemaVersion => "不得擅自修改记录格式版本",
            WriteRule::TenantOnly => "任务信息只能由计划部门（服务器）修改",
            WriteRule::Malformed => "数据格式不符合记录规范",
            WriteRule::InvalidValue => "数据内容不符合检查要点或业务规则",
            WriteRule::ImpersonatedAuthor => "署名与设备证书登记的执法人员不一致（冒名）",
            WriteRule::NotAssigned => "修改者未被指派到该任务",
            WriteRule::OtherDepartment => "不得填写其他部门的检查内容",
            WriteRule::Lifecycle => "状态变更不符合检查流程",
            WriteRule::LeadOnly => "只有牵头执法人员可以执行此操作",
            WriteRule::WrongStatus => "当前记录状态下不能填写此项",
            WriteRule::Precondition => "前提条件未满足（签到、记录完整或冲突未处理）",
            WriteRule::Immutable => "已形成的记录、文书、签名和证据不得改写",
            WriteRule::Signature => "签名或采集记录无效，或不是修改者本人的密钥所签",
            WriteRule::UnknownReference => "引用了记录中不存在的内容",
            WriteRule::Creation => "记录的创建内容不符合规范",
        }
    }

    /// The machine name, as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteRule::UnknownWriter => "unknown_writer",
            WriteRule::UnknownPath => "unknown_path",
            WriteRule::NoDeletion => "no_deletion",
            WriteRule::Structure => "structure",
            WriteRule::SchemaVersion => "schema_version",
            WriteRule::TenantOnly => "tenant_only",
            WriteRule::Malformed => "malformed",
            WriteRule::InvalidValue => "invalid_value",
            WriteRule::ImpersonatedAuthor => "impersonated_author",
            WriteRule::NotAssigned => "not_assigned",
            WriteRule::OtherDepartment => "other_department",
            WriteRule::Lifecycle => "lifecycle",
            WriteRule::LeadOnly => "lead_only",
            WriteRule::WrongStatus => "wrong_status",
            WriteRule::Precondition => "precondition",
            WriteRule::Immutable => "immutable",
            WriteRule::Signature => "signature",
            WriteRule::UnknownReference => "unknown_reference",
            WriteRule::Creation => "creation",
        }
    }
}

/// A change refused by the write rules: the rule, the path in the record, and the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("修改 {change} 违反记录的写入规则：{}（位置 {path}）", rule.label_zh())]
pub struct ForbiddenEdit {
    /// The rule broken.
    pub rule: WriteRule,
    /// Where in the record (e.g. `sections/xfjy/XFJY-001-01`, `status`).
    pub path: String,
    /// The refused change's hash (hex).
    pub change: String,
}

/// What the rules need to judge changes: the directory (catalogue, inspectors) and the trust
/// anchor that binds actors to people.
pub struct WriteRules<'a> {
    directory: &'a Directory,
    root: Option<VerifyingKey>,
    authenticated: Option<(automerge::ActorId, Author)>,
}

impl<'a> WriteRules<'a> {
    /// Rules anchored in the tenant root: the tenant's actor and certified devices are known.
    pub fn anchored(directory: &'a Directory, root: VerifyingKey) -> Self {
        WriteRules { directory, root: Some(root), authenticated: None }
    }

    /// Rules for a store that was never enrolled: with no trust anchor, the record's creator is
    /// taken as its planner and author stamps cannot be bound to keys; every other rule applies.
    pub fn unanchored(directory: &'a Directory) -> Self {
        WriteRules { directory, root: None, authenticated: None }
    }

    /// Adds an actor the caller authenticated itself (the server: the device that signed the request).
    pub fn with_authenticated(mut self, actor: automerge::ActorId, author: Author) -> Self {
        self.authenticated = Some((actor, author));
        self
    }

    /// The directory the rules read.
    pub fn directory(&self) -> &Directory {
        self.directory
    }
}

/// Checks `changes` against the rules, each at its causal past, and applies them to `doc` in
/// causal order. Changes already in `doc` are skipped. All or nothing: on a refusal `doc` is
/// returned to what it was.
pub(crate) fn apply_checked(
    doc: &mut AutoCommit,
    changes: Vec<Change>,
    rules: &WriteRules<'_>,
) -> Result<usize, RecordError> {
    let ordered = causal_order(doc, changes)?;
    if ordered.is_empty() {
        return Ok(0);
    }
    let before = doc.get_heads();
    match check_each(doc, &ordered, rules) {
        Ok(()) => Ok(ordered.len()),
        Err(e) => {
            restore(doc, &before);
            Err(e)
        }
    }
}

/// Benchmarks only (feature `bench-unchecked`): whether the rules run.
#[cfg(feature = "bench-unchecked")]
static CHECKS_ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Benchmarks only: turns the write rules off (or on again) in this process, to measure their cost.
#[cfg(feature = "bench-unchecked")]
pub fn set_checks_for_benchmarks(on: bool) {
    CHECKS_ON.store(on, std::sync::atomic::Ordering::SeqCst);
}

fn checks_on() -> bool {
    #[cfg(feature = "bench-unchecked")]
    {
        CHECKS_ON.load(std::sync::atomic::Ordering::SeqCst)
    }
    #[cfg(not(feature = "bench-unchecked"))]
    {
        true
    }
}

fn check_each(doc: &mut AutoCommit, ordered: &[Change], rules: &WriteRules<'_>) -> Result<(), RecordError> {
    if !checks_on() {
        return doc.apply_changes(ordered.iter().cloned()).map_err(|_| RecordError::MalformedChange);
    }
    let expanded = ordered.iter().map(edits::expand).collect::<Result<Vec<_>, _>>().map_err(RecordError::Forbidden)?;
    let authors = authors::Authors::resolve(rules, doc, ordered, &expanded);
    let mut start = 0;
    if doc.get_heads().is_empty() {
        let first = ordered.first().ok_or(RecordError::MalformedChange)?;
        checks::check_creation(first, &expanded[0], &authors, rules).map_err(RecordError::Forbidden)?;
        doc.apply_changes([first.clone()]).map_err(|_| RecordError::MalformedChange)?;
        start = 1;
    }
    let objects = edits::Objects::read(doc)?;
    // Every change must resolve to the record's maps and name only actors the record knows (or
    // that this batch brings) before Automerge sees it: hostile operations are refused here.
    let mut decoded = Vec::with_capacity(ordered.len() - start);
    let mut actors: HashSet<automerge::ActorId> = HashSet::new();
    for (change, expanded) in ordered[start..].iter().zip(&expanded[start..]) {
        actors.insert(change.actor_id().clone());
        let known = |a: &automerge::ActorId| actors.contains(a) || doc.import_obj(&format!("1@{a}")).is_ok();
        if !change.other_actor_ids().iter().all(known) {
            return Err(RecordError::MalformedChange);
        }
        decoded.push(edits::resolve(change, expanded, &objects).map_err(RecordError::Forbidden)?);
    }
    let batch = &ordered[start..];
    let mut tasks = checks::TaskCache::default();
    if is_linear(batch) && !decoded.iter().any(|d| checks::whole_record_status(d).is_some()) {
        // One change after the other on top of the record at the first one's dependencies: judge
        // each against that state plus what the batch wrote before it, then apply them all at once.
        let mut overlay = checks::Overlay::default();
        let first_deps = batch.first().map(|c| c.deps().to_vec()).unwrap_or_default();
        let base = checks::heads_for(doc, &first_deps);
        for (change, edits) in batch.iter().zip(&decoded) {
            let at = checks::At::new(doc, base.clone(), Some(&overlay));
            checks::check_change(at, change, edits, &authors, rules, &mut tasks, false)
                .map_err(RecordError::Forbidden)?;
            overlay.record(&checks::At::new(doc, base.clone(), None), change, edits);
        }
        return apply_guarded(doc, batch.to_vec());
    }
    // Otherwise apply the batch at once (one Automerge call costs far less than one per change),
    // then judge each change against the record as it was at its own dependencies: the batch is
    // split into chains (each change on the one before, as one device makes them), each read at
    // its start plus what it wrote; a refusal puts the document back (the caller's `restore`).
    apply_guarded(doc, batch.to_vec())?;
    let mut chains: Vec<(Option<Vec<ChangeHash>>, checks::Overlay, ChangeHash)> = Vec::new();
    for (change, edits) in batch.iter().zip(&decoded) {
        let complete = checks::whole_record_status(edits)
            .is_some_and(|status| checks::precondition_at(doc, change.deps(), rules, status));
        let continues = chains.iter().position(|(_, _, last)| change.deps() == [*last]);
        let index = match continues {
            Some(i) => i,
            None => {
                // The batch is applied: a chain's start is always a point in the past.
                chains.push((Some(change.deps().to_vec()), Default::default(), change.hash()));
                chains.len() - 1
            }
        };
        let (heads, overlay, last) = &mut chains[index];
        let at = checks::At::new(doc, heads.clone(), Some(overlay));
        checks::check_change(at, change, edits, &authors, rules, &mut tasks, complete)
            .map_err(RecordError::Forbidden)?;
        overlay.record(&checks::At::new(doc, heads.clone(), None), change, edits);
        *last = change.hash();
    }
    Ok(())
}

/// Whether each change of a batch depends on exactly the one before it.
fn is_linear(batch: &[Change]) -> bool {
    batch.windows(2).all(|w| w[1].deps() == [w[0].hash()])
}

/// Applies changes in one Automerge call; hostile bytes that make Automerge panic are refused.
fn apply_guarded(doc: &mut AutoCommit, batch: Vec<Change>) -> Result<(), RecordError> {
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes(batch)));
    match applied {
        Ok(Ok(())) => Ok(()),
        // The same actor and number as a change the record holds, with other contents: a copy
        // restored from an old backup edited on (see `replay_onto`).
        Ok(Err(automerge::AutomergeError::DuplicateSeqNumber(seq, actor))) => {
            Err(RecordError::SequenceReused { actor: actor.to_hex_string(), seq })
        }
        _ => Err(RecordError::MalformedChange),
    }
}

/// Puts the document back at `heads` after a refused batch (nothing of it stays).
fn restore(doc: &mut AutoCommit, heads: &[ChangeHash]) {
    let actor = doc.get_actor().clone();
    let restored = if heads.is_empty() { Ok(AutoCommit::new()) } else { doc.fork_at(heads) };
    if let Ok(restored) = restored {
        *doc = restored.with_actor(actor);
    }
}

/// The new changes in an order where each comes after its dependencies; a second root change
/// (a separately created document) or a missing dependency is refused.
fn causal_order(doc: &mut AutoCommit, changes: Vec<Change>) -> Result<Vec<Change>, RecordError> {
    let mut seen: HashSet<ChangeHash> = HashSet::new();
    let mut pending: Vec<Change> = Vec::new();
    for change in changes {
        if doc.get_change_by_hash(&change.hash()).is_none() && seen.insert(change.hash()) {
            pending.push(change);
        }
    }
    let has_root = !doc.get_heads().is_empty();
    if pending.iter().filter(|c| c.deps().is_empty()).count() + usize::from(has_root) > 1 {
        return Err(RecordError::UnrelatedRecord);
    }
    let mut placed: HashSet<ChangeHash> = HashSet::new();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for change in pending {
            let ready = change.deps().iter().all(|d| placed.contains(d) || doc.get_change_by_hash(d).is_some());
            if ready {
                placed.insert(change.hash());
                ordered.push(change);
            } else {
                waiting.push(change);
            }
        }
        if waiting.len() == before {
            return Err(RecordError::MissingDependencies(waiting.len()));
        }
        pending = waiting;
    }
    Ok(ordered)
}

#[cfg(test)]
pub(crate) mod tests;
