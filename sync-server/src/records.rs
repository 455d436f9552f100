//! The records side of the sync protocol: authorising, applying and answering one pushed
//! record at a time (a refusal never fails the batch), over any [`Storage`]. Loaded records are
//! cached with the storage version they reflect, and writes are serialised per record; across
//! server replicas the storage's optimistic version check decides.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use automerge::sync;
use automerge::{ActorId, Change, ChangeHash};
use onevisit_core::domain::{DepartmentId, Directory, InspectorId};
use onevisit_core::record::exchange::{parse_change, split_stored_changes};
use onevisit_core::record::{Author, InspectionRecord, RecordError, WriteRules};
use onevisit_core::sync::wire::{
    ForbiddenDetail, MAX_DOCUMENT_BYTES, RecordPush, RecordResult, Refusal, b64, heads_from_hex, heads_to_hex, unb64,
};
use tokio::sync::Mutex;

use crate::storage::{NewRecord, RecordMeta, Storage, StorageError, StoredRecord};

/// Compact a stored record once this many chunks follow its snapshot.
const COMPACT_AFTER_CHUNKS: u64 = 64;
/// The memory loaded records may take by default (estimated from their stored size).
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// At most this many record slots (each holds a lock even when its record is not loaded).
const MAX_SLOTS: usize = 4096;
/// How often a write is retried after losing a race with another replica.
const WRITE_ATTEMPTS: usize = 3;

/// Who is pushing: the authenticated device and what its certificate says.
#[derive(Debug, Clone)]
pub struct Writer {
    /// Device id.
    pub device: String,
    /// Its Automerge actor (derived from its key).
    pub actor: ActorId,
    /// Its inspector.
    pub inspector: String,
    /// Its departments.
    pub departments: Vec<String>,
}

impl Writer {
    fn may_read(&self, meta: &RecordMeta) -> bool {
        self.may_write(meta) || meta.departments.iter().any(|d| self.departments.contains(d))
    }

    fn may_write(&self, meta: &RecordMeta) -> bool {
        meta.inspectors.contains(&self.inspector)
    }

    /// The identity the write rules check this device's changes against (from its certificate).
    fn author(&self) -> Option<Author> {
        Some(Author::Inspector {
            inspector: InspectorId::new(self.inspector.clone()).ok()?,
            departments: self.departments.iter().filter_map(|d| DepartmentId::new(d.clone()).ok()).collect(),
            certified: true,
        })
    }
}

/// What the write rules read on the server: the directory and the tenant CA.
pub struct RuleContext<'a> {
    /// The directory data (catalogue, inspectors).
    pub directory: &'a Directory,
    /// The tenant CA: its root key anchors the rules, its id is what offline-created task codes
    /// must carry, and its key derives the departments' seal keys.
    pub ca: &'a crate::tenant::Tenant,
    /// The departments' seals.
    pub sealer: &'a crate::seals::Sealer,
}

impl RuleContext<'_> {
    /// Seals what a write completed (see [`crate::seals::Sealer::seal_completed`]). A failure is
    /// logged and leaves the write standing: the record's next write tries again.
    async fn seal<S: Storage>(&self, storage: &S, record: &mut InspectionRecord) -> Result<usize, StorageError> {
        let now = crate::api::now_ms();
        let revocations = self.ca.revocations(storage.revocations().await?, now);
        match self.sealer.seal_completed(self.ca, record, self.directory, Some(&revocations), now) {
            Ok(sealed) => Ok(sealed),
            Err(e) => {
                tracing::error!(task = %record.task().code, error = %e, "document not sealed");
                Ok(0)
            }
        }
    }
}

impl RuleContext<'_> {
    fn rules(&self, writer: &Writer) -> Option<WriteRules<'_>> {
        Some(
            WriteRules::anchored(self.directory, self.ca.root_key())
                .with_authenticated(writer.actor.clone(), writer.author()?),
        )
    }
}

/// A loaded record, the storage version it reflects, and the form it was stored in.
struct Cached {
    version: u64,
    record: Option<InspectionRecord>,
    form: StoredForm,
}

/// How a record's bytes are stored: what its size says about the memory it takes loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoredForm {
    /// Its changes one after another (as created, and appended to).
    Changes,
    /// A compacted whole-document snapshot first.
    Snapshot,
}

impl StoredForm {
    /// The form of stored chunks (their first one says).
    fn of(chunks: &[Vec<u8>]) -> StoredForm {
        match chunks.first().map(|c| onevisit_core::record::exchange::split_changes(c)) {
            Some(Some(_)) => StoredForm::Changes,
            _ => StoredForm::Snapshot,
        }
    }
}

/// One record's lock, its loaded copy, and what that copy weighs for the cache's budget.
struct Slot {
    cached: Mutex<Cached>,
    /// Estimated bytes in memory of the loaded copy (0 when not loaded).
    weight: AtomicUsize,
    /// When the slot was last used (a tick of [`Records::clock`]), to forget the oldest first.
    used: AtomicU64,
}

/// The per-record locks and the cache of loaded records, bounded by estimated bytes in memory
/// whatever the number of records.
pub struct Records {
    slots: std::sync::Mutex<HashMap<String, Arc<Slot>>>,
    /// The byte budget of loaded records.
    budget: usize,
    /// The slots' weights summed, kept as they change (reading them all on every access cost
    /// as much as the cache held).
    total: AtomicUsize,
    clock: AtomicU64,
    /// The directory the write rules read, parsed once per version.
    directory: std::sync::Mutex<Option<(String, Arc<Directory>)>>,
}

impl Default for Records {
    fn default() -> Self {
        Records::with_budget(DEFAULT_CACHE_BYTES)
    }
}

/// What a record of `stored` bytes in `form` is estimated to take in memory once loaded. Measured
/// on the benchmark's records (20 edits): ≈ 5.5–8.5 KB loaded, from ≈ 5.6 KB of changes or a
/// ≈ 1 KB snapshot; the estimate errs high.
fn loaded_weight(stored: usize, form: StoredForm) -> usize {
    let factor = match form {
        StoredForm::Changes => 2,
        StoredForm::Snapshot => 8,
    };
    stored.saturating_mul(factor).saturating_add(4096)
}

/// One pushed record's outcome, and its heads if something was accepted into it.
pub struct Outcome {
    /// The answer for the device.
    pub result: RecordResult,
    /// The server's heads, when the device's push (or pull) succeeded.
    pub accepted: Option<Vec<String>>,
    /// Whether the device's changes added something.
    pub wrote: bool,
    /// The evidence hashes the record references, after a write.
    pub evidence: Vec<String>,
}

fn evidence_of(record: &InspectionRecord) -> Vec<String> {
    record.evidence().map(|e| e.into_iter().flat_map(|r| [r.sha256, r.thumbnail_sha256]).collect()).unwrap_or_default()
}

fn refused(id: &str, why: Refusal) -> Outcome {
    Outcome {
        result: RecordResult { id: id.to_string(), refused: Some(why), ..Default::default() },
        accepted: None,
        wrote: false,
        evidence: Vec::new(),
    }
}

/// The refusal of changes the record would not take.
fn refused_for(id: &str, error: RecordError) -> Outcome {
    match error {
        RecordError::Forbidden(edit) => {
            let mut outcome = refused(id, Refusal::ForbiddenEdit);
            outcome.result.forbidden =
                Some(ForbiddenDetail { rule: edit.rule.as_str().to_string(), path: edit.path, change: edit.change });
            outcome
        }
        RecordError::MissingDependencies(_) => refused(id, Refusal::MissingDependencies),
        RecordError::UnrelatedRecord => refused(id, Refusal::Unrelated),
        RecordError::SequenceReused { .. } => refused(id, Refusal::SequenceReused),
        _ => refused(id, Refusal::Malformed),
    }
}

impl Records {
    /// The directory data of `version` (the stored one), parsed once per version.
    pub async fn directory<S: Storage>(&self, storage: &S, version: String) -> Result<Arc<Directory>, StorageError> {
        if let Some((v, d)) = self.directory.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && v == &version
        {
            return Ok(d.clone());
        }
        let directory = match storage.directory().await? {
            Some(json) => Directory::from_json(json.as_bytes()).map_err(|e| StorageError::Database(Box::new(e)))?,
            None => Directory::default(),
        };
        let directory = Arc::new(directory);
        *self.directory.lock().unwrap_or_else(|e| e.into_inner()) = Some((version, directory.clone()));
        Ok(directory)
    }

    /// A cache that keeps loaded records up to `budget` estimated bytes.
    pub fn with_budget(budget: usize) -> Records {
        Records {
            slots: Default::default(),
            budget,
            total: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
            directory: Default::default(),
        }
    }

    /// Sets what a slot's loaded record weighs, keeping the total.
    fn weigh(&self, slot: &Slot, weight: usize) {
        let old = slot.weight.swap(weight, Ordering::Relaxed);
        if weight >= old {
            self.total.fetch_add(weight - old, Ordering::Relaxed);
        } else {
            self.total.fetch_sub(old - weight, Ordering::Relaxed);
        }
    }

    /// Estimated bytes the loaded records take now, and how many are loaded.
    pub fn cached(&self) -> (usize, usize) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let weights = slots.values().map(|s| s.weight.load(Ordering::Relaxed)).filter(|w| *w > 0);
        weights.fold((0, 0), |(bytes, n), w| (bytes + w, n + 1))
    }

    fn slot(&self, id: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let total = self.total.load(Ordering::Relaxed);
        if total > self.budget || (slots.len() >= MAX_SLOTS && !slots.contains_key(id)) {
            // Forget the least recently used records nobody is using right now, down to three
            // quarters of the budget; they are reloaded from storage when next needed.
            let mut idle: Vec<(u64, String, usize)> = slots
                .iter()
                .filter(|(k, s)| Arc::strong_count(s) == 1 && k.as_str() != id)
                .map(|(k, s)| (s.used.load(Ordering::Relaxed), k.clone(), s.weight.load(Ordering::Relaxed)))
                .collect();
            idle.sort_unstable();
            let (mut total, mut count) = (total, slots.len());
            for (_, k, weight) in idle {
                if total <= self.budget / 4 * 3 && count < MAX_SLOTS / 4 * 3 {
                    break;
                }
                if let Some(gone) = slots.remove(&k) {
                    self.weigh(&gone, 0);
                }
                total = total.saturating_sub(weight);
                count -= 1;
            }
        }
        let slot = slots
            .entry(id.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    cached: Mutex::new(Cached { version: 0, record: None, form: StoredForm::Changes }),
                    weight: AtomicUsize::new(0),
                    used: AtomicU64::new(0),
                })
            })
            .clone();
        slot.used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        slot
    }

    /// Whether the record is loaded in the cache at `version` (and nobody is writing it now).
    fn loaded_at(&self, id: &str, version: u64) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = slots.get(id) else { return false };
        slot.cached.try_lock().is_ok_and(|c| c.record.is_some() && c.version == version)
    }

    /// Handles one record of a batch.
    pub async fn push<S: Storage>(
        &self,
        storage: &S,
        writer: &Writer,
        context: &RuleContext<'_>,
        push: RecordPush,
    ) -> Result<Outcome, StorageError> {
        let id = push.id.clone();
        let Some(known) = heads_from_hex(&push.known_heads) else { return Ok(refused(&id, Refusal::Malformed)) };
        let Some(changes) = decode_changes(&push.changes) else { return Ok(refused(&id, Refusal::Malformed)) };
        let sync_message = match push.sync_message.as_deref().map(|m| unb64(m).map(|b| sync::Message::decode(&b))) {
            None => None,
            Some(Some(Ok(m))) => Some(m),
            Some(_) => return Ok(refused(&id, Refusal::Malformed)),
        };
        for _ in 0..WRITE_ATTEMPTS {
            let Some(meta) = storage.record_meta(id.clone()).await? else {
                if changes.is_empty() {
                    return Ok(refused(&id, Refusal::Unknown));
                }
                match self.create(storage, writer, context, &id, changes.clone()).await {
                    Err(StorageError::RecordExists(_)) => continue,
                    other => return other,
                }
            };
            if !writer.may_read(&meta) {
                return Ok(refused(&id, Refusal::NotAssigned));
            }
            if changes.is_empty() && sync_message.is_none() && known.is_empty() && !self.loaded_at(&id, meta.version) {
                return read_whole(storage, &meta).await;
            }
            let slot = self.slot(&id);
            let mut cached = slot.cached.lock().await;
            let update = self.update(
                storage,
                writer,
                context,
                &meta,
                &mut cached,
                &known,
                changes.clone(),
                sync_message.clone(),
            );
            let outcome = update.await;
            // What the loaded copy weighs now (the stored size grows with every accepted write).
            let weight = if cached.record.is_some() { loaded_weight(meta.size as usize, cached.form) } else { 0 };
            self.weigh(&slot, weight);
            match outcome {
                Err(StorageError::VersionConflict(_)) => {
                    cached.record = None;
                    self.weigh(&slot, 0);
                    continue;
                }
                other => return other,
            }
        }
        Err(StorageError::VersionConflict(id))
    }

    /// A record the server does not have yet: the device created the task offline.
    async fn create<S: Storage>(
        &self,
        storage: &S,
        writer: &Writer,
        context: &RuleContext<'_>,
        id: &str,
        changes: Vec<Change>,
    ) -> Result<Outcome, StorageError> {
        let (changes, held) = own_closure(changes, &writer.actor, |_| false);
        if changes.is_empty() {
            return Ok(refused(id, Refusal::ForeignActor));
        }
        let Some(rules) = context.rules(writer) else { return Ok(refused(id, Refusal::NotAssigned)) };
        let mut record = match InspectionRecord::from_changes(changes, &rules) {
            Ok(r) => r,
            Err(e) => return Ok(refused_for(id, e)),
        };
        let task = record.task().clone();
        let pushed_heads = record.heads();
        if task.code.as_str() != id {
            return Ok(refused(id, Refusal::Malformed));
        }
        if !task.inspectors.iter().any(|i| i.as_str() == writer.inspector) {
            return Ok(refused(id, Refusal::NotAssigned));
        }
        if let Err(why) = crate::tasks::check_offline(&task, &writer.inspector, &context.ca.id, context.directory) {
            tracing::info!(device = %writer.device, %id, %why, "offline task refused");
            let mut outcome = refused(id, Refusal::InvalidTask);
            outcome.result.forbidden = Some(ForbiddenDetail {
                rule: onevisit_core::store::quarantine::INVALID_TASK.into(),
                path: why.to_string(),
                change: String::new(),
            });
            return Ok(outcome);
        }
        let sealed =
            if record.signature_count().is_ok_and(|n| n > 0) { context.seal(storage, &mut record).await? } else { 0 };
        // Stored as the changes themselves (compacted into a snapshot only after many writes):
        // a device that holds nothing of the record is then answered with these bytes as they are.
        let (mut changes, mut form) = (record.save_changes(), StoredForm::Changes);
        if changes.len() > MAX_DOCUMENT_BYTES {
            // Past the limit as changes, a record may still fit compacted: the limit is the
            // document's, as it always was.
            (changes, form) = (record.save(), StoredForm::Snapshot);
            if changes.len() > MAX_DOCUMENT_BYTES {
                return Ok(refused(id, Refusal::TooLarge));
            }
        }
        let heads = heads_to_hex(&record.heads());
        // The seals are the server's own changes: the device lacks them.
        let sealing = if sealed > 0 { record.changes_since(&pushed_heads) } else { Vec::new() };
        let doc = NewRecord {
            id: id.to_string(),
            task_json: serde_json::to_string(&task).map_err(|e| StorageError::Database(Box::new(e)))?,
            departments: task.departments.iter().map(|d| d.to_string()).collect(),
            inspectors: task.inspectors.iter().map(|i| i.to_string()).collect(),
            heads: heads.clone(),
            facts: crate::reports::facts_of(&record),
            snapshot: changes,
        };
        let stored = doc.snapshot.len();
        let version = storage.create_record(doc).await?;
        let evidence = evidence_of(&record);
        let slot = self.slot(id);
        *slot.cached.lock().await = Cached { version, record: Some(record), form };
        self.weigh(&slot, loaded_weight(stored, form));
        Ok(Outcome {
            result: RecordResult {
                id: id.to_string(),
                heads: heads.clone(),
                changes: sealing.iter().map(|c| b64(c)).collect(),
                held,
                ..Default::default()
            },
            accepted: Some(heads),
            wrote: true,
            evidence,
        })
    }

    /// A record the server has: apply what is new, answer with what the device lacks.
    #[allow(clippy::too_many_arguments)]
    async fn update<S: Storage>(
        &self,
        storage: &S,
        writer: &Writer,
        context: &RuleContext<'_>,
        meta: &RecordMeta,
        cached: &mut Cached,
        known: &[ChangeHash],
        changes: Vec<Change>,
        sync_message: Option<sync::Message>,
    ) -> Result<Outcome, StorageError> {
        let id = meta.id.as_str();
        if cached.record.is_none() || cached.version != meta.version {
            match load(storage, id).await? {
                Some((record, version, form)) => *cached = Cached { version, record: Some(record), form },
                None => return Ok(refused(id, Refusal::Unreadable)),
            }
        }
        let Some(record) = cached.record.as_mut() else { return Err(StorageError::UnknownRecord(id.to_string())) };

        if let Some(message) = sync_message {
            return Ok(answer_sync_message(id, record, message));
        }

        let pushed: Vec<ChangeHash> = changes.iter().map(Change::hash).collect();
        let new: Vec<Change> = changes.into_iter().filter(|c| !record.has_all(&[c.hash()])).collect();
        if !new.is_empty() && !writer.may_write(meta) {
            return Ok(refused(id, Refusal::ReadOnly));
        }
        let (new, held) = own_closure(new, &writer.actor, |h| record.has_all(&[*h]));
        if new.is_empty() && held > 0 {
            return Ok(refused(id, Refusal::ForeignActor));
        }
        let wrote = !new.is_empty();
        if wrote {
            let Some(rules) = context.rules(writer) else { return Ok(refused(id, Refusal::ReadOnly)) };
            let signatures = record.signature_count().unwrap_or(0);
            if let Err(e) = record.apply_changes(new, &rules) {
                // Nothing of the refused changes is stored; the copy in memory is reloaded from
                // storage next time rather than trusted after hostile bytes touched it.
                cached.record = None;
                return Ok(refused_for(id, e));
            }
            if record.signature_count().is_ok_and(|n| n > signatures) {
                context.seal(storage, record).await?;
            }
            let chunk = record.take_unsaved();
            if meta.size as usize + chunk.len() > MAX_DOCUMENT_BYTES {
                cached.record = None;
                return Ok(refused(id, Refusal::TooLarge));
            }
            let heads = heads_to_hex(&record.heads());
            let facts = crate::reports::facts_of(record);
            match storage.append_record(id.to_string(), cached.version, chunk, heads, facts).await {
                Ok(version) => cached.version = version,
                Err(e) => {
                    cached.record = None;
                    return Err(e);
                }
            }
            if meta.chunks + 1 >= COMPACT_AFTER_CHUNKS
                && let Some(record) = cached.record.as_mut()
            {
                let snapshot = record.save();
                if storage.compact_record(id.to_string(), cached.version, snapshot).await.is_ok() {
                    cached.version += 1;
                    cached.form = StoredForm::Snapshot;
                }
            }
        }
        let Some(record) = cached.record.as_mut() else { return Err(StorageError::UnknownRecord(id.to_string())) };
        let mut have: Vec<ChangeHash> = known.iter().copied().filter(|h| record.has_all(&[*h])).collect();
        have.extend(pushed.into_iter().filter(|h| record.has_all(&[*h])));
        let lacking = if have.is_empty() && !known.is_empty() {
            // The device's known heads are unknown here: it must fall back to the sync protocol.
            Vec::new()
        } else {
            record.changes_since(&have)
        };
        let heads = heads_to_hex(&record.heads());
        let evidence = if wrote { evidence_of(record) } else { Vec::new() };
        Ok(Outcome {
            result: RecordResult {
                id: id.to_string(),
                heads: heads.clone(),
                changes: lacking.iter().map(|c| b64(c)).collect(),
                held,
                ..Default::default()
            },
            accepted: Some(heads),
            wrote,
            evidence,
        })
    }
}

/// Reads a stored record, the version it is at and its form; `None` when its bytes cannot be read.
async fn load<S: Storage>(storage: &S, id: &str) -> Result<Option<(InspectionRecord, u64, StoredForm)>, StorageError> {
    let Some(stored) = storage.record_bytes(id.to_string()).await? else {
        return Err(StorageError::UnknownRecord(id.to_string()));
    };
    Ok(loaded(id, &stored)?.map(|record| (record, stored.version, StoredForm::of(&stored.chunks))))
}

/// The record stored bytes hold; `None` when they cannot be read (logged: one unreadable record
/// is refused on its own, never a failed batch).
fn loaded(id: &str, stored: &StoredRecord) -> Result<Option<InspectionRecord>, StorageError> {
    let Some((first, rest)) = stored.chunks.split_first() else {
        return Err(StorageError::UnknownRecord(id.to_string()));
    };
    match InspectionRecord::load(first, rest.iter().map(Vec::as_slice)) {
        Ok(record) => Ok(Some(record)),
        Err(e) => {
            tracing::error!(id, error = %e, "stored record cannot be read");
            Ok(None)
        }
    }
}

/// The whole of a record the device does not hold and the cache does not hold either, so a
/// device pulling a whole district neither pushes the records being written out of the cache nor
/// pays for their eviction: a record stored as its changes (not yet compacted) is answered with
/// those bytes as stored, when they were read at the version whose heads the answer names; any
/// other is loaded, answered and dropped.
async fn read_whole<S: Storage>(storage: &S, meta: &RecordMeta) -> Result<Outcome, StorageError> {
    let id = meta.id.as_str();
    let Some(stored) = storage.record_bytes(id.to_string()).await? else {
        return Err(StorageError::UnknownRecord(id.to_string()));
    };
    let answer = |heads: Vec<String>, changes: Vec<String>| Outcome {
        result: RecordResult { id: id.to_string(), heads: heads.clone(), changes, ..Default::default() },
        accepted: Some(heads),
        wrote: false,
        evidence: Vec::new(),
    };
    // Only the chunks' framing is read: the version they were read at names the heads they end
    // in (one transaction writes both), and the device checks every change it is handed (its
    // checksum, what it does) and then that it holds those heads.
    if stored.version == meta.version
        && let Some(changes) = split_stored_changes(stored.chunks.iter().map(Vec::as_slice))
    {
        return Ok(answer(meta.heads.clone(), changes.into_iter().map(b64).collect()));
    }
    let Some(mut record) = loaded(id, &stored)? else { return Ok(refused(id, Refusal::Unreadable)) };
    let changes = record.changes_since(&[]).iter().map(|c| b64(c)).collect();
    Ok(answer(heads_to_hex(&record.heads()), changes))
}

/// The fallback: Automerge's sync protocol, server side, read-only — changes inside the device's
/// message are ignored (the device pushes its own changes normally once it holds the server's
/// heads), so the actor check cannot be bypassed.
fn answer_sync_message(id: &str, record: &mut InspectionRecord, message: sync::Message) -> Outcome {
    let mut state = sync::State::new();
    if record.receive_sync_request(&mut state, message).is_err() {
        return refused(id, Refusal::Malformed);
    }
    let reply = record.sync_message(&mut state).map(|m| b64(&m.encode()));
    let heads = heads_to_hex(&record.heads());
    Outcome {
        result: RecordResult { id: id.to_string(), heads, sync_message: reply, ..Default::default() },
        accepted: None,
        wrote: false,
        evidence: Vec::new(),
    }
}

/// Splits pushed changes into those the writer hands in itself — its own, each depending only on
/// changes the server holds (`held_by_server`) or on others taken here — and the count of those
/// held back. Another device's change is never taken on the writer's word, so a record two
/// devices exchanged by file syncs as each of them syncs its own part (a device that never
/// syncs leaves the changes made after its own waiting).
fn own_closure(
    changes: Vec<Change>,
    actor: &ActorId,
    mut held_by_server: impl FnMut(&ChangeHash) -> bool,
) -> (Vec<Change>, u32) {
    let (mut pending, foreign): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(|c| c.actor_id() == actor);
    let mut taken: Vec<Change> = Vec::new();
    let mut hashes = std::collections::HashSet::new();
    // Taken in the order pushed (causal order from an honest device), so one pass takes a whole
    // chain; further passes only while a pass takes something.
    loop {
        let before = pending.len();
        let mut rest = Vec::new();
        for c in pending {
            if c.deps().iter().all(|d| hashes.contains(d) || held_by_server(d)) {
                hashes.insert(c.hash());
                taken.push(c);
            } else {
                rest.push(c);
            }
        }
        pending = rest;
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    let held = u32::try_from(pending.len() + foreign.len()).unwrap_or(u32::MAX);
    (taken, held)
}

fn decode_changes(encoded: &[String]) -> Option<Vec<Change>> {
    encoded.iter().map(|c| unb64(c).and_then(|b| parse_change(b).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use onevisit_core::record::{Position, Stamp};

    /// A sample task's record stored as its changes, then one more edit as an appended chunk.
    fn stored_as_changes() -> (InspectionRecord, Vec<Vec<u8>>) {
        let dir = onevisit_core::sample::directory().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let code = onevisit_core::domain::TaskCode::parse("330482-20261128-ABCDEF01").unwrap();
        let draft = onevisit_core::sample::joint_task_draft(&dir, 0, day);
        let task = onevisit_core::domain::Task::from_draft(draft, code, &dir).unwrap();
        let stamp = Stamp { by: "scjg-01".parse().unwrap(), at_ms: 1_795_000_000_000 };
        let mut record = InspectionRecord::create(task, ActorId::random(), stamp.clone()).unwrap();
        let first = record.save_changes();
        record.check_in_at(stamp, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        let second = record.take_unsaved();
        (record, vec![first, second])
    }

    #[test]
    fn a_record_stored_as_its_changes_is_answered_with_them_and_a_snapshot_is_not() {
        let (mut record, chunks) = stored_as_changes();
        let served = split_stored_changes(chunks.iter().map(Vec::as_slice)).unwrap();
        let whole = record.changes_since(&[]);
        assert_eq!(served, whole.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(StoredForm::of(&chunks), StoredForm::Changes);
        // Compacted, or cut short: loaded instead.
        let compacted = [record.save(), chunks[1].clone()];
        assert!(split_stored_changes(compacted.iter().map(Vec::as_slice)).is_none());
        assert_eq!(StoredForm::of(&compacted), StoredForm::Snapshot);
        let cut = [chunks[0].clone(), chunks[1][..chunks[1].len() - 1].to_vec()];
        assert!(split_stored_changes(cut.iter().map(Vec::as_slice)).is_none());
    }

    #[test]
    fn the_cache_forgets_the_least_recently_used_idle_records_to_stay_within_its_bytes() {
        let records = Records::with_budget(10 * loaded_weight(1000, StoredForm::Snapshot));
        let mut held = Vec::new();
        for i in 0..100 {
            let slot = records.slot(&format!("r{i}"));
            records.weigh(&slot, loaded_weight(1000, StoredForm::Snapshot));
            if i == 3 {
                held.push(slot); // in use by a request: never forgotten
            }
        }
        let (bytes, loaded) = records.cached();
        assert!(bytes <= 11 * loaded_weight(1000, StoredForm::Snapshot), "{bytes} bytes in {loaded} records");
        assert_eq!(records.total.load(Ordering::Relaxed), bytes, "the kept total is the slots' sum");
        let slots = records.slots.lock().unwrap();
        assert!(slots.contains_key("r3"), "a record in use stays");
        assert!(slots.contains_key("r99") && !slots.contains_key("r0"), "the oldest go first");
    }

    #[test]
    fn one_record_larger_than_the_budget_is_still_served() {
        let records = Records::with_budget(loaded_weight(10, StoredForm::Snapshot));
        let big = records.slot("big");
        records.weigh(&big, loaded_weight(1_000_000, StoredForm::Snapshot));
        drop(big);
        let again = records.slot("big");
        assert_eq!(
            again.weight.load(Ordering::Relaxed),
            loaded_weight(1_000_000, StoredForm::Snapshot),
            "kept while it is asked for"
        );
        drop(again);
        records.slot("other");
        assert_eq!(records.cached().1, 0, "forgotten once another record is needed");
    }
}
