//! The device sync engine: one call brings the device and the city server level — dirty records
//! pushed in batches with what the server lacks, the feed pulled page by page, the audit chain
//! uploaded, blobs uploaded resumably — reporting progress, cancellable, and holding the store only
//! for the short moments it reads or applies something, so recording goes on meanwhile.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use automerge::ChangeHash;
use automerge::sync as am_sync;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::client::{CancelToken, ClientError, RetryPolicy, SyncClient};
use super::statements::{StatementError, verify_checkpoint, verify_directory, verify_receipt};
use super::transport::TransportPolicy;
use super::wire::{
    BlobList, CHUNK_BYTES, CompleteUpload, EnrolRequest, EnrolResponse, FeedKind, RecordPush, Refusal, SyncRequest,
    SyncResponse, UploadState, b64, heads_from_hex, heads_to_hex, unb64,
};
use crate::domain::TaskCode;
use crate::store::{Store, StoreError, SyncAccount};

/// Why a sync (or enrolment) stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The device is not enrolled with a server.
    #[error("本设备尚未登记：先运行 onevisit enroll --server 地址 --code 登记码 --root 根公钥")]
    NotEnrolled,
    /// Talking to the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A server statement does not verify against the tenant root.
    #[error("服务器的签名声明验证不通过：{0}")]
    Statement(#[from] StatementError),
    /// The enrolment answer is not trustworthy.
    #[error("本设备拒绝了这次登记：{0}")]
    Enrolment(String),
    /// A blob downloaded does not match its hash.
    #[error("下载的文件 {0} 内容不对")]
    BlobMismatch(String),
    /// The sync did not settle within its round limit (something keeps changing).
    #[error("往返 {0} 次后同步仍未完成：稍后再运行一次 onevisit sync")]
    TooManyRounds(usize),
    /// Something the server sent for the device to trust does not hold up; nothing of it was
    /// taken in and the sync stopped (the device's data is as it was).
    #[error("拒绝服务器发来的{}：{detail}", what.label_zh())]
    Untrusted {
        /// What was refused.
        what: ServerStatement,
        /// Why.
        detail: String,
    },
}

/// The things a server sends that a device trusts only with the tenant root's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerStatement {
    /// Directory data (departments, inspectors, enterprises).
    Directory,
    /// The revocation list.
    RevocationList,
    /// A receipt for pushed records.
    Receipt,
    /// A checkpoint of the audit tree.
    Checkpoint,
}

impl ServerStatement {
    /// The zh-CN name.
    pub fn label_zh(self) -> &'static str {
        match self {
            ServerStatement::Directory => "名录数据",
            ServerStatement::RevocationList => "吊销列表",
            ServerStatement::Receipt => "接收回执",
            ServerStatement::Checkpoint => "审计检查点",
        }
    }
}

fn untrusted(what: ServerStatement) -> impl FnOnce(StatementError) -> SyncError {
    move |e| {
        tracing::warn!(target: "onevisit::sync", statement = ?what, error = %e, "server statement refused");
        SyncError::Untrusted { what, detail: e.to_string() }
    }
}

impl From<std::sync::PoisonError<std::sync::MutexGuard<'_, Store>>> for SyncError {
    fn from(_: std::sync::PoisonError<std::sync::MutexGuard<'_, Store>>) -> Self {
        SyncError::Store(StoreError::Poisoned)
    }
}

/// Tuning of one sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Records per request.
    pub batch_records: usize,
    /// Feed entries per page.
    pub feed_page: u32,
    /// Audit entries per request.
    pub audit_batch: usize,
    /// Whether to upload blobs after the records.
    pub upload_blobs: bool,
    /// Round trips at most before giving up.
    pub max_rounds: usize,
    /// Retries of each request.
    pub retry: RetryPolicy,
    /// How long to wait for another sync of the same store to finish before giving up.
    pub lock_wait: std::time::Duration,
    /// Allows plain http to a server on another machine (development only; see
    /// [`super::transport::check_url`]).
    pub allow_plain_http: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            batch_records: 100,
            feed_page: 500,
            audit_batch: 2000,
            upload_blobs: true,
            max_rounds: 1000,
            retry: RetryPolicy::default(),
            lock_wait: std::time::Duration::from_secs(600),
            allow_plain_http: false,
        }
    }
}

/// Where a sync stands, for a progress bar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Round trips made.
    pub requests: u64,
    /// Records whose changes the server accepted.
    pub records_pushed: u64,
    /// Records that received changes.
    pub records_pulled: u64,
    /// Records still waiting (dirty or announced by the feed).
    pub records_pending: u64,
    /// Records that had changes to push when the sync started (a progress bar's total).
    pub records_to_push: u64,
    /// Bytes sent.
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// Blobs uploaded so far.
    pub blobs_done: u64,
    /// Blobs to upload in all.
    pub blobs_total: u64,
    /// Blob chunks sent (a resumed upload skips those the server holds).
    pub chunks_sent: u64,
    /// Raw Automerge change bytes pushed (what the records' bytes up are compared with).
    pub raw_change_bytes: u64,
    /// Bytes of sync requests spent on records (everything but the audit entries), headers included.
    pub record_bytes_up: u64,
    /// Bytes of sync requests spent on audit entries.
    pub audit_bytes_up: u64,
    /// Whether this sync is waiting for another sync of the same store to finish first.
    pub waiting_for_other_sync: bool,
    /// Requests sent again after a failure (a dropped connection, a cut-off answer, server trouble).
    pub retries: u64,
    /// Why the latest of them was needed.
    pub last_retry: Option<super::client::RetryCause>,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The final progress.
    pub progress: Progress,
    /// Records the server refused, with why.
    pub refused: BTreeMap<String, Refusal>,
    /// Tasks the device's inspector was taken off.
    pub removed: Vec<String>,
    /// The last audit entry the server holds.
    pub audit_through: u64,
    /// Why the server refused the audit upload, if it did (records and photos synced anyway;
    /// [`crate::store::Store::start_audit_segment`] is the way on once the cause is understood).
    pub audit_refused: Option<String>,
    /// Receipts received.
    pub receipts: u64,
    /// Revocations in the new list, when a newer revocation list arrived.
    pub revocations: Option<u64>,
    /// Whether new directory data arrived (and was imported).
    pub directory_updated: bool,
    /// Document-number blocks the server reserved for this device in this run.
    pub number_blocks: usize,
    /// Why the server refused a record's changes under its write rules (rule and path), by task.
    pub forbidden: BTreeMap<String, crate::sync::wire::ForbiddenDetail>,
    /// Records this device could not take in, by task, with why (a refused change is
    /// quarantined; an unreadable record is isolated): every other record kept syncing.
    pub isolated: BTreeMap<String, Isolated>,
    /// Records whose copy here was restored from an old backup and edited on: rebuilt from the
    /// server's copy with this device's edits since made again (how many), then pushed.
    pub replayed: BTreeMap<String, u64>,
    /// Records of which the server took this device's part but held back changes made by other
    /// devices (the record came by file) or built on theirs, with how many: they go up once those
    /// devices have synced. Not a refusal.
    pub waiting: BTreeMap<String, u32>,
}

/// Why this device left one record out of a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Isolated {
    /// The write rule a received change broke (the change is quarantined), if that was why.
    pub forbidden: Option<crate::record::ForbiddenEdit>,
    /// What went wrong, in words.
    pub detail: String,
}

/// Enrols the device with a one-time code: proves possession of its key, checks the certificate
/// against the root key given out of band, and keeps the enrolment in the store.
pub fn enrol(
    store: &mut Store,
    server_url: &str,
    code: &str,
    root_public_key_hex: &str,
) -> Result<SyncAccount, SyncError> {
    enrol_with(store, server_url, code, root_public_key_hex, false)
}

/// [`enrol`], optionally allowing plain http to another machine (development only). The server's
/// TLS certificate must chain to the root key given out of band (or, for a city with a public
/// certificate, to the public roots); which of the two it was is kept, and later syncs accept only
/// that (a device enrolled on a tenant-issued certificate never accepts a public one).
pub fn enrol_with(
    store: &mut Store,
    server_url: &str,
    code: &str,
    root_public_key_hex: &str,
    allow_plain_http: bool,
) -> Result<SyncAccount, SyncError> {
    let key = store.device_key();
    let public = hex::encode(key.public_bytes());
    let proof = hex::encode(key.sign(&crate::request_auth::enrolment_proof_bytes(code, &public)).to_bytes());
    let request = EnrolRequest {
        code: code.to_string(),
        device_public_key: public.clone(),
        proof,
        root_public_key: Some(root_public_key_hex.trim().to_ascii_lowercase()),
        inspector: store.inspector().map(|i| i.to_string()),
    };
    let policy =
        TransportPolicy { root_public_key: root_key(root_public_key_hex)?.to_bytes(), trust: None, allow_plain_http };
    // Retried like any request: the server answers a device that presents the code it already
    // spent with the same certificate, so a lost answer costs nothing.
    let client = SyncClient::unsigned(server_url, &policy, RetryPolicy::default())?;
    let answer: EnrolResponse = client.post_json("/v1/enroll", &request, &CancelToken::new())?;
    if !answer.root_public_key.eq_ignore_ascii_case(root_public_key_hex) {
        return Err(SyncError::Enrolment("the server's root key is not the one configured for this tenant".into()));
    }
    let root = root_key(root_public_key_hex)?;
    let certificate = answer
        .certificate
        .verify(&root, crate::store::now_ms(), None)
        .map_err(|e| SyncError::Enrolment(e.to_string()))?;
    if certificate.device_public_key != public {
        return Err(SyncError::Enrolment("the certificate is for another key".into()));
    }
    if store.inspector().is_some_and(|i| i.as_str() != certificate.inspector) {
        return Err(SyncError::Enrolment(format!(
            "the code is for inspector {}, this device is operated by another",
            certificate.inspector
        )));
    }
    answer.revocations.verify(&root).map_err(|e| SyncError::Enrolment(e.to_string()))?;
    let account = SyncAccount {
        server_url: server_url.trim_end_matches('/').to_string(),
        certificate: answer.certificate,
        root_public_key: root_public_key_hex.to_ascii_lowercase(),
        device_code: answer.device_code,
        revocations: answer.revocations,
        tls: client.tls_trust(),
    };
    store.set_sync_account(&account)?;
    // Records this device wrote to before it enrolled (exchanged by file) get its certificate,
    // so that every device can tell its changes from an impostor's once they sync.
    let certified = store.certify_own_records()?;
    if certified > 0 {
        tracing::info!(target: "onevisit::sync", records = certified, "certificate added to records written before enrolment");
    }
    Ok(account)
}

fn root_key(hex_key: &str) -> Result<VerifyingKey, SyncError> {
    crate::identity::verifying_key_from_hex(hex_key).ok_or_else(|| {
        SyncError::Enrolment(
            "根公钥不是有效的 Ed25519 公钥：应为 64 位十六进制字符（onevisit-server root-key 打印的那一串）".into(),
        )
    })
}

/// Takes the store's sync lock for one sync or photo fetch, telling `progress` while it waits.
fn lock_store(
    store: &Mutex<Store>,
    options: &SyncOptions,
    progress: &dyn Fn(&Progress),
) -> Result<crate::store::locks::SyncLock, SyncError> {
    let root = store.lock()?.root().to_path_buf();
    let waiting = || progress(&Progress { waiting_for_other_sync: true, ..Progress::default() });
    Ok(crate::store::locks::acquire(&root, options.lock_wait, &waiting)?)
}

/// A client for the store's server.
pub fn client_for(store: &Mutex<Store>, options: &SyncOptions) -> Result<(SyncClient, SyncAccount), SyncError> {
    let guard = store.lock()?;
    let account = guard.sync_account()?.ok_or(SyncError::NotEnrolled)?;
    let policy = TransportPolicy {
        root_public_key: root_key(&account.root_public_key)?.to_bytes(),
        trust: account.tls,
        allow_plain_http: options.allow_plain_http,
    };
    let client = SyncClient::new(&account.server_url, guard.device_key(), &policy, options.retry)?;
    Ok((client, account))
}

/// Syncs everything: records both ways, the audit chain, then blobs up.
pub fn sync(
    store: &Mutex<Store>,
    options: &SyncOptions,
    progress: &dyn Fn(&Progress),
    cancel: &CancelToken,
) -> Result<SyncReport, SyncError> {
    let (client, account) = client_for(store, options)?;
    sync_with(store, &client, &account, options, progress, cancel)
}

/// One sync run's working state.
struct Run<'a> {
    store: &'a Mutex<Store>,
    client: &'a SyncClient,
    account: &'a SyncAccount,
    options: &'a SyncOptions,
    report: SyncReport,
    /// Records the feed announced that this device lacks: id → known heads to send.
    pulls: BTreeMap<String, Vec<ChangeHash>>,
    /// Automerge sync states of records in the fallback.
    fallback: HashMap<String, am_sync::State>,
    /// Records refused in this run (not pushed again until the next sync).
    skip: HashSet<String>,
    /// Restored copies to rebuild: pulled from their confirmed heads, then made again.
    replays: BTreeMap<String, Vec<ChangeHash>>,
    /// Restored copies whose pull is in flight.
    replaying: HashSet<String>,
    /// The heads each record was pushed with in this run.
    pushed: HashMap<String, Vec<ChangeHash>>,
    /// The feed position requested next (the end of the last page read).
    cursor: u64,
    /// The feed position stored: every record announced before it has been applied.
    stored_cursor: u64,
    /// Feed pages read but not yet wholly applied: each page's end and the records it announced
    /// that are still to pull. The cursor is stored at the end of each page as soon as it and every
    /// page before it are applied, so a finished pull is never read again and an interrupted
    /// one resumes after the last page applied.
    pages: std::collections::VecDeque<(u64, HashSet<String>)>,
    feed_more: bool,
    audit_refused: bool,
    first_round: bool,
    /// Number series asked for in this run (each at most once, whatever the server answers).
    numbers_asked: HashSet<super::wire::NumberSeries>,
    /// Whether the series were checked again once the feed was read (tasks it brought may need
    /// numbers of departments not held before).
    numbers_rechecked: bool,
    /// Revocations in the device's list.
    revocations_seen: u64,
    /// The client's traffic counters when this run started (a client may serve many runs).
    baseline: [u64; 4],
}

/// Syncs with an existing client (benchmarks and apps reuse one).
pub fn sync_with(
    store: &Mutex<Store>,
    client: &SyncClient,
    account: &SyncAccount,
    options: &SyncOptions,
    progress: &dyn Fn(&Progress),
    cancel: &CancelToken,
) -> Result<SyncReport, SyncError> {
    let _lock = lock_store(store, options, progress)?;
    let (cursor, to_push) = {
        let guard = store.lock()?;
        (guard.feed_cursor()?, guard.dirty_records()?.len() as u64)
    };
    let root = root_key(&account.root_public_key)?;
    let revocations_seen = account.revocations.verify(&root).map(|l| l.revoked.len() as u64).unwrap_or(0);
    let mut run = Run {
        store,
        client,
        account,
        options,
        report: SyncReport {
            progress: Progress { records_to_push: to_push, ..Default::default() },
            ..Default::default()
        },
        pulls: BTreeMap::new(),
        fallback: HashMap::new(),
        skip: HashSet::new(),
        replays: BTreeMap::new(),
        replaying: HashSet::new(),
        pushed: HashMap::new(),
        cursor,
        stored_cursor: cursor,
        pages: std::collections::VecDeque::new(),
        feed_more: true,
        audit_refused: false,
        first_round: true,
        numbers_asked: HashSet::new(),
        numbers_rechecked: false,
        revocations_seen,
        baseline: [
            client.traffic.requests.load(Ordering::Relaxed),
            client.traffic.bytes_up.load(Ordering::Relaxed),
            client.traffic.bytes_down.load(Ordering::Relaxed),
            client.traffic.retries.load(Ordering::Relaxed),
        ],
    };
    tracing::info!(target: "onevisit::sync", device = %account.device_code, cursor, to_push, "sync started");
    let started = std::time::Instant::now();
    let mut rounds = 0;
    loop {
        if cancel.is_cancelled() {
            tracing::info!(target: "onevisit::sync", rounds, "sync cancelled");
            return Err(ClientError::Cancelled.into());
        }
        let request = run.next_request()?;
        let idle = request.records.is_empty() && request.audit_packed.is_none() && request.number_blocks.is_empty();
        if idle && !run.feed_more && run.pulls.is_empty() && rounds > 0 {
            break;
        }
        rounds += 1;
        if rounds > options.max_rounds {
            return Err(SyncError::TooManyRounds(options.max_rounds));
        }
        let body = serde_json::to_vec(&request).map_err(|e| ClientError::MalformedAnswer(e.to_string()))?;
        let compressed = super::wire::deflate(&body);
        let compressed_len = compressed.len() as u64;
        let before = client.traffic.bytes_up.load(Ordering::Relaxed);
        let response: SyncResponse = client.post_deflated("/v1/sync", compressed, cancel)?;
        let sent = client.traffic.bytes_up.load(Ordering::Relaxed) - before;
        // The share of the audit entries: what the request weighs compressed without them.
        let records_only = if request.audit_packed.is_none() {
            sent
        } else {
            let without = SyncRequest { audit_packed: None, ..request.clone() };
            let json = serde_json::to_vec(&without).map_err(|e| ClientError::MalformedAnswer(e.to_string()))?;
            (super::wire::deflate(&json).len() as u64 + sent.saturating_sub(compressed_len)).min(sent)
        };
        run.report.progress.record_bytes_up += records_only;
        run.report.progress.audit_bytes_up += sent - records_only;
        tracing::debug!(
            target: "onevisit::sync",
            round = rounds,
            records = request.records.len(),
            audit = request.audit_packed.as_ref().map_or(0, |p| p.len()),
            bytes_up = sent,
            "sync round answered"
        );
        run.apply(&request, response).inspect_err(|e| {
            tracing::warn!(target: "onevisit::sync", round = rounds, error = %e, "sync stopped");
        })?;
        run.update_progress();
        progress(&run.report.progress);
    }
    if options.upload_blobs {
        run.upload_blobs(progress, cancel)?;
    }
    run.report.audit_through = store.lock()?.audit_confirmed_seq()?;
    run.update_progress();
    progress(&run.report.progress);
    let p = &run.report.progress;
    tracing::info!(
        target: "onevisit::sync",
        rounds,
        pushed = p.records_pushed,
        pulled = p.records_pulled,
        refused = run.report.refused.len(),
        left_out = run.report.isolated.len(),
        requests = p.requests,
        retries = p.retries,
        ms = started.elapsed().as_millis() as u64,
        "sync finished"
    );
    Ok(run.report)
}

impl Run<'_> {
    /// Reads what to send next: fallback messages, records the feed announced, a batch of dirty
    /// records and new audit entries. A device's very first request only reads the feed, so that
    /// records it already holds but never synced are caught up by the sync protocol instead of
    /// being sent whole.
    fn next_request(&mut self) -> Result<SyncRequest, SyncError> {
        let mut store = self.store.lock()?;
        let mut records = Vec::new();
        let first_contact = self.first_round && self.cursor == 0;
        // Number blocks ride on the first request (when a look is due), and on one more once the
        // feed is read and every record it announced is in, if it brought records (new tasks may
        // need new series; a look before the last of them arrives is made due again by them).
        let recheck = !self.first_round
            && !self.feed_more
            && self.pulls.is_empty()
            && self.report.progress.records_pulled > 0
            && !std::mem::replace(&mut self.numbers_rechecked, true);
        let number_blocks: Vec<super::wire::NumberSeries> = if self.first_round || recheck {
            store
                .number_needs_due(recheck)?
                .into_iter()
                .filter(|s| !self.numbers_asked.contains(s))
                .take(super::wire::MAX_NUMBER_SERIES_PER_REQUEST)
                .collect()
        } else {
            Vec::new()
        };
        self.numbers_asked.extend(number_blocks.iter().cloned());
        self.first_round = false;
        // The server takes at most this many records per request; the rest go next round.
        let cap = self.options.batch_records.clamp(1, super::wire::MAX_RECORDS_PER_REQUEST);
        for (id, state) in self.fallback.iter_mut() {
            if records.len() >= cap {
                break;
            }
            let Ok(code) = TaskCode::parse(id) else { continue };
            let Ok(record) = store.record(&code) else { continue };
            if let Some(message) = record.sync_message(state) {
                records.push(RecordPush {
                    id: id.clone(),
                    sync_message: Some(b64(&message.encode())),
                    ..Default::default()
                });
            }
        }
        let dirty = if first_contact { Vec::new() } else { store.dirty_records()? };
        let dirty_ids: HashSet<String> = dirty.iter().map(|d| d.code.to_string()).collect();
        let mut replays = std::mem::take(&mut self.replays);
        while records.len() < cap {
            let Some((id, confirmed)) = replays.pop_first() else { break };
            records.push(RecordPush { id: id.clone(), known_heads: heads_to_hex(&confirmed), ..Default::default() });
            self.replaying.insert(id);
        }
        self.replays = replays;
        let wanted: Vec<String> = self.pulls.keys().take(cap.saturating_sub(records.len())).cloned().collect();
        for id in wanted {
            let known = self.pulls.remove(&id).unwrap_or_default();
            let Ok(code) = TaskCode::parse(&id) else { continue };
            let have_locally = store.local_heads(&code)?.is_some();
            if have_locally && known.is_empty() {
                // This copy never synced but the server has the record: Automerge's sync protocol.
                let mut state = am_sync::State::new();
                let message = match store.record(&code) {
                    Ok(record) => record.sync_message(&mut state),
                    Err(e) if e.concerns_one_record() => {
                        self.isolate(id, &e);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                self.fallback.insert(id.clone(), state);
                if let Some(message) = message {
                    records.push(RecordPush { id, sync_message: Some(b64(&message.encode())), ..Default::default() });
                }
            } else if !dirty_ids.contains(&id) {
                records.push(RecordPush { id, known_heads: heads_to_hex(&known), ..Default::default() });
            }
        }
        let mut budget = 8 * 1024 * 1024usize;
        for dirty in dirty {
            if records.len() >= cap || budget == 0 {
                break;
            }
            let id = dirty.code.to_string();
            if self.skip.contains(&id) || self.fallback.contains_key(&id) {
                continue;
            }
            let (changes, heads) = match store.changes_for_push(&dirty.code, &dirty.confirmed) {
                Ok(found) => found,
                // A record this device cannot read is left out and reported; the others go on.
                Err(e) if e.concerns_one_record() => {
                    self.isolate(id, &e);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // The same heads pushed twice in one run means the first push settled nothing: stop
            // that record here (reported) rather than loop until the round limit.
            if self.pushed.get(&id) == Some(&heads) {
                let detail =
                    "the server accepted this record's changes but they did not settle; left for the next sync";
                self.leave_out(id, Isolated { forbidden: None, detail: detail.into() });
                continue;
            }
            self.pushed.insert(id.clone(), heads);
            let raw: usize = changes.iter().map(Vec::len).sum();
            self.report.progress.raw_change_bytes += raw as u64;
            budget = budget.saturating_sub(raw * 4 / 3 + 4 * changes.len());
            records.push(RecordPush {
                id,
                known_heads: heads_to_hex(&dirty.confirmed),
                changes: changes.iter().map(|c| b64(c)).collect(),
                sync_message: None,
            });
        }
        // Every entry not yet accepted, the ones this sync's own merges wrote included, packed
        // under one signature of the device over their head.
        let audit_packed = if self.audit_refused {
            None
        } else {
            let after = store.audit_confirmed_seq()?;
            let entries = store
                .audit_entries_after(after, self.options.audit_batch.clamp(1, super::wire::MAX_AUDIT_PER_REQUEST))?;
            crate::audit::packed::pack(&entries, store.device_key()).map_err(StoreError::from)?
        };
        let directory_version = store.directory_version()?;
        Ok(SyncRequest {
            since: self.cursor,
            limit: self.options.feed_page,
            records,
            audit: Vec::new(),
            audit_packed,
            revocations_seen: self.revocations_seen,
            directory_version,
            number_blocks,
        })
    }

    /// Applies the server's answer.
    fn apply(&mut self, request: &SyncRequest, response: SyncResponse) -> Result<(), SyncError> {
        let now = crate::store::now_ms();
        // Everything below is checked before any of it is taken in: one forged statement stops
        // the sync with the device's data as it was.
        let root = root_key(&self.account.root_public_key)?;
        let revocations = match &response.revocations {
            Some(list) => {
                let refuse = |detail: String| SyncError::Untrusted { what: ServerStatement::RevocationList, detail };
                let verified = list.verify(&root).map_err(|e| refuse(e.to_string()))?;
                let held = self.store.lock()?.sync_account()?.map(|a| a.revocations);
                if let Some(held) = held.and_then(|h| h.verify(&root).ok()) {
                    // A revocation is never undone: an older list (a replay) is refused.
                    let dropped = held.revoked.iter().find(|r| !verified.revoked.iter().any(|n| n.device == r.device));
                    if let Some(r) = dropped {
                        return Err(refuse(format!("新列表缺少已吊销的设备 {}（旧列表重放）", r.device)));
                    }
                    if verified.issued_at_ms < held.issued_at_ms {
                        return Err(refuse("签发时间早于本设备已有的列表（旧列表重放）".into()));
                    }
                }
                Some((list, verified.revoked.len() as u64))
            }
            None => None,
        };
        let mine = self.account.certificate.verify_issued(&root).map_err(|e| SyncError::Enrolment(e.to_string()))?;
        if let Some(update) = &response.directory {
            let release = verify_directory(&update.json, &update.release, &self.account.root_public_key, &mine.tenant)
                .map_err(untrusted(ServerStatement::Directory))?;
            if release.version != update.version {
                return Err(untrusted(ServerStatement::Directory)(StatementError::NotTheSignedData));
            }
        }
        if let Some(receipt) = &response.receipt {
            let body =
                verify_receipt(receipt, &self.account.root_public_key).map_err(untrusted(ServerStatement::Receipt))?;
            if body.device != mine.device {
                return Err(SyncError::Untrusted {
                    what: ServerStatement::Receipt,
                    detail: format!("回执是给另一台设备 {} 的", body.device),
                });
            }
        }
        if let Some(checkpoint) = response.audit.as_ref().and_then(|a| a.checkpoint.as_ref()) {
            verify_checkpoint(checkpoint, &self.account.root_public_key)
                .map_err(untrusted(ServerStatement::Checkpoint))?;
        }
        if let Some((list, count)) = revocations {
            self.store.lock()?.set_revocations(list)?;
            self.revocations_seen = count;
            self.report.revocations = Some(count);
        }
        if let Some(update) = &response.directory {
            self.store.lock()?.import_server_directory(&update.json, &update.version)?;
            self.report.directory_updated = true;
        }
        if let Some(receipt) = &response.receipt {
            self.store.lock()?.save_receipt(receipt, now)?;
            self.report.receipts += 1;
        }
        // Only blocks of series this request asked for are taken in.
        let granted: Vec<super::wire::NumberBlock> =
            response.number_blocks.into_iter().filter(|b| request.number_blocks.contains(&b.series)).collect();
        if !granted.is_empty() {
            self.report.number_blocks += self.store.lock()?.add_number_blocks(&granted)?;
        }
        let pushed: HashSet<&str> =
            request.records.iter().filter(|d| !d.changes.is_empty()).map(|d| d.id.as_str()).collect();
        for result in response.records {
            let id = result.id.clone();
            if self.replaying.remove(&id) {
                self.replay(result)?;
                continue;
            }
            if result.refused == Some(Refusal::SequenceReused) && !self.report.replayed.contains_key(&id) {
                // A copy restored from an old backup: rebuild it from the server's, once.
                if let Ok(code) = TaskCode::parse(&id) {
                    let (_, confirmed) = self.store.lock()?.heads_pair(&code)?;
                    self.replays.insert(id.clone(), confirmed);
                    self.skip.insert(id);
                    continue;
                }
            }
            if let Some(why) = result.refused {
                tracing::warn!(target: "onevisit::sync", task = %id, refusal = ?why, "record refused by the server");
                if let Some(detail) = result.forbidden.clone() {
                    self.report.forbidden.insert(id.clone(), detail);
                }
                self.report.refused.insert(id.clone(), why);
                self.skip.insert(id.clone());
                self.fallback.remove(&id);
                continue;
            }
            let held = result.held;
            match self.apply_record(result, &pushed) {
                Ok(()) if held > 0 => {
                    tracing::info!(target: "onevisit::sync", task = %id, held, "changes wait for the devices that made them");
                    self.report.waiting.insert(id.clone(), held);
                    self.skip.insert(id);
                }
                Ok(()) => {}
                // One record that cannot be taken in (a forbidden change, a corrupt copy) never
                // stops the others: it is isolated, reported, and left out of this run.
                Err(SyncError::Store(e)) if e.concerns_one_record() => self.isolate(id, &e),
                Err(e) => return Err(e),
            }
        }
        if let Some(audit) = response.audit {
            if let Some(why) = audit.refused {
                // Not retried in this run: the chain the server holds and ours disagree. The
                // refusal is kept with the server's head, so the device can say so until it is
                // resolved and can start a new segment from there.
                if let Some(server_hash) = audit.head_hash {
                    self.store.lock()?.record_audit_refusal(&crate::store::AuditRefusal {
                        reason: why.clone(),
                        server_seq: audit.accepted_through,
                        server_hash,
                    })?;
                }
                self.report.audit_refused = Some(why);
                self.audit_refused = true;
            } else {
                self.store.lock()?.confirm_audit(audit.accepted_through, audit.checkpoint.as_ref())?;
            }
        }
        let mut store = self.store.lock()?;
        let mut announced = HashSet::new();
        for entry in response.feed {
            let Ok(code) = TaskCode::parse(&entry.id) else { continue };
            match entry.kind {
                FeedKind::Removed => {
                    if store.local_heads(&code)?.is_some() {
                        store.mark_removed(&code)?;
                    }
                    self.report.removed.push(entry.id);
                }
                FeedKind::Document => {
                    let Some(heads) = heads_from_hex(&entry.heads) else { continue };
                    let (local, confirmed) = store.heads_pair(&code)?;
                    let mut sorted = heads.clone();
                    sorted.sort();
                    if local.as_ref() == Some(&sorted) || confirmed == sorted || self.skip.contains(&entry.id) {
                        continue;
                    }
                    announced.insert(entry.id.clone());
                    self.pulls.insert(entry.id, confirmed);
                }
            }
        }
        self.feed_more = response.more;
        if response.next > self.cursor {
            self.pages.push_back((response.next, announced));
        }
        self.cursor = response.next.max(self.cursor);
        self.store_applied_pages(&mut store)
    }

    /// Stores the cursor at the end of the last page whose records (and every earlier page's)
    /// have all been applied: what this run still has to pull or settle, or left out, keeps its
    /// page open.
    fn store_applied_pages(&mut self, store: &mut Store) -> Result<(), SyncError> {
        let mut applied = self.stored_cursor;
        while let Some((end, waiting)) = self.pages.front_mut() {
            // A record left out of this run (refused, isolated) keeps its page open: the next
            // sync reads that page again and tries it again.
            waiting
                .retain(|id| self.pulls.contains_key(id) || self.fallback.contains_key(id) || self.skip.contains(id));
            if !waiting.is_empty() {
                break;
            }
            applied = *end;
            self.pages.pop_front();
        }
        if applied > self.stored_cursor {
            store.set_feed_cursor(applied)?;
            self.stored_cursor = applied;
        }
        Ok(())
    }

    /// Rebuilds a restored copy from the server's answer to its pull, then lets it be pushed.
    fn replay(&mut self, result: super::wire::RecordResult) -> Result<(), SyncError> {
        let id = result.id.clone();
        let Ok(code) = TaskCode::parse(&id) else { return Ok(()) };
        if let Some(why) = result.refused {
            self.report.refused.insert(id.clone(), why);
            return Ok(());
        }
        let heads = answered_heads(&result)?;
        let changes = answered_changes(&result)?;
        let replayed = self.store.lock()?.replay_restored_record(&code, changes, &heads);
        match replayed {
            Ok(count) => {
                self.report.replayed.insert(id.clone(), count);
                self.skip.remove(&id); // pushed in the next round like any dirty record
            }
            Err(e) if e.concerns_one_record() => self.isolate(id, &e),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Leaves one record this device cannot take in or read out of the rest of this run, and
    /// reports why (with the write rule, when a received change broke one).
    fn isolate(&mut self, id: String, error: &StoreError) {
        let forbidden = match error {
            StoreError::Record(crate::record::RecordError::Forbidden(f)) => Some(f.clone()),
            _ => None,
        };
        self.leave_out(id, Isolated { forbidden, detail: error.to_string() });
    }

    /// Leaves one record out of the rest of this run, reported with why.
    fn leave_out(&mut self, id: String, why: Isolated) {
        tracing::warn!(target: "onevisit::sync", task = %id, rule = ?why.forbidden.as_ref().map(|f| &f.rule), "record left out of this sync");
        self.report.isolated.insert(id.clone(), why);
        self.fallback.remove(&id);
        self.pulls.remove(&id);
        self.skip.insert(id);
    }

    /// Takes in the server's answer for one record.
    fn apply_record(&mut self, result: super::wire::RecordResult, pushed: &HashSet<&str>) -> Result<(), SyncError> {
        let id = result.id.clone();
        let Ok(code) = TaskCode::parse(&id) else { return Ok(()) };
        let heads = answered_heads(&result)?;
        let mut store = self.store.lock()?;
        if let Some(message) = result.sync_message.as_deref() {
            let message = unb64(message)
                .and_then(|b| am_sync::Message::decode(&b).ok())
                .ok_or_else(|| ClientError::MalformedAnswer(format!("sync message of {id}")))?;
            if let Some(state) = self.fallback.get_mut(&id)
                && store.receive_sync_message(&code, state, message)?
            {
                self.report.progress.records_pulled += 1;
            }
        }
        if self.fallback.contains_key(&id) {
            // Leave the fallback once this copy holds the server's heads: from there on the
            // ordinary push sends what the server lacks.
            if store.record(&code)?.has_all(&heads) {
                store.confirm_heads(&code, &heads)?;
                self.fallback.remove(&id);
            }
            return Ok(());
        }
        let changes = answered_changes(&result)?;
        let merged = store.apply_remote(&code, changes, &heads)?;
        if merged {
            self.report.progress.records_pulled += 1;
        }
        if !store.holds_heads(&code, &heads)? {
            // The server no longer knows the heads it confirmed (restored from a backup):
            // catch up through the sync protocol.
            self.fallback.insert(id.clone(), am_sync::State::new());
        }
        if pushed.contains(id.as_str()) {
            self.report.progress.records_pushed += 1;
        }
        Ok(())
    }

    fn update_progress(&mut self) {
        let t = &self.client.traffic;
        let p = &mut self.report.progress;
        p.requests = t.requests.load(Ordering::Relaxed) - self.baseline[0];
        p.bytes_up = t.bytes_up.load(Ordering::Relaxed) - self.baseline[1];
        p.bytes_down = t.bytes_down.load(Ordering::Relaxed) - self.baseline[2];
        p.retries = t.retries.load(Ordering::Relaxed) - self.baseline[3];
        p.last_retry = if p.retries > 0 { t.last_retry() } else { None };
        p.records_pending = (self.pulls.len() + self.fallback.len()) as u64;
    }

    /// Uploads the blobs the server lacks, resuming uploads that were interrupted.
    fn upload_blobs(&mut self, progress: &dyn Fn(&Progress), cancel: &CancelToken) -> Result<(), SyncError> {
        let pending = self.store.lock()?.blobs_to_upload()?;
        if pending.is_empty() {
            return Ok(());
        }
        self.report.progress.blobs_total = pending.len() as u64;
        for batch in pending.chunks(500) {
            let ask = BlobList { sha256: batch.iter().map(|b| b.sha256.clone()).collect() };
            let missing: BlobList = self.client.post_json("/v1/blobs/missing", &ask, cancel)?;
            let missing: HashSet<String> = missing.sha256.into_iter().collect();
            for blob in batch {
                if missing.contains(&blob.sha256) {
                    self.upload_one(blob, progress, cancel)?;
                }
                self.store.lock()?.mark_uploaded(&blob.sha256)?;
                self.report.progress.blobs_done += 1;
                self.update_progress();
                progress(&self.report.progress);
            }
        }
        Ok(())
    }

    fn upload_one(
        &mut self,
        blob: &crate::store::sync_state::PendingBlob,
        progress: &dyn Fn(&Progress),
        cancel: &CancelToken,
    ) -> Result<(), SyncError> {
        let state: UploadState = self.client.get_json(&format!("/v1/blobs/{}/chunks", blob.sha256), cancel)?;
        if state.complete {
            return Ok(());
        }
        let have: HashSet<u32> = state.chunks.into_iter().collect();
        let count = blob.size.div_ceil(CHUNK_BYTES as u64).max(1) as u32;
        let mut file = std::fs::File::open(&blob.path).map_err(|e| StoreError::io(&blob.path, e))?;
        for index in 0..count {
            if have.contains(&index) {
                continue;
            }
            use std::io::{Read, Seek, SeekFrom};
            let start = u64::from(index) * CHUNK_BYTES as u64;
            let len = (blob.size - start).min(CHUNK_BYTES as u64) as usize;
            let mut buf = vec![0u8; len];
            file.seek(SeekFrom::Start(start))
                .and_then(|_| file.read_exact(&mut buf))
                .map_err(|e| StoreError::io(&blob.path, e))?;
            self.client.put_bytes(&format!("/v1/blobs/{}/chunks/{index}", blob.sha256), buf, cancel)?;
            self.report.progress.chunks_sent += 1;
            self.update_progress();
            progress(&self.report.progress);
        }
        self.client.post_empty(
            &format!("/v1/blobs/{}/complete", blob.sha256),
            &CompleteUpload { size: blob.size },
            cancel,
        )?;
        Ok(())
    }
}

/// The heads the server's answer for one record names.
fn answered_heads(result: &super::wire::RecordResult) -> Result<Vec<ChangeHash>, ClientError> {
    heads_from_hex(&result.heads).ok_or_else(|| ClientError::MalformedAnswer(format!("heads of {}", result.id)))
}

/// The raw changes the server's answer for one record carries.
fn answered_changes(result: &super::wire::RecordResult) -> Result<Vec<Vec<u8>>, ClientError> {
    result
        .changes
        .iter()
        .map(|c| unb64(c))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ClientError::MalformedAnswer(format!("changes of {}", result.id)))
}

/// Downloads a blob this device may read (evidence another device captured), resuming a partial
/// download with ranges, checks its hash and adds it to the store.
pub fn fetch_blob(
    store: &Mutex<Store>,
    sha256: &str,
    mime: &str,
    size: u64,
    options: &SyncOptions,
    cancel: &CancelToken,
) -> Result<crate::store::blobs::BlobRef, SyncError> {
    let _lock = lock_store(store, options, &|_| {})?;
    let (client, _) = client_for(store, options)?;
    fetch_one(store, &client, sha256, mime, size, cancel)
}

/// [`fetch_blob`] under the store's sync lock, already taken (two downloads of one blob would
/// interleave in its partial file).
fn fetch_one(
    store: &Mutex<Store>,
    client: &SyncClient,
    sha256: &str,
    mime: &str,
    size: u64,
    cancel: &CancelToken,
) -> Result<crate::store::blobs::BlobRef, SyncError> {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    let partial = store.lock()?.root().join("blobs").join("tmp").join(format!("{sha256}.part"));
    let mut have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .map_err(|e| StoreError::io(&partial, e))?;
    while have < size {
        let end = (have + CHUNK_BYTES as u64).min(size);
        let bytes = client.get_range(&format!("/v1/blobs/{sha256}"), have, end, cancel)?;
        file.write_all(&bytes).and_then(|_| file.sync_data()).map_err(|e| StoreError::io(&partial, e))?;
        have += bytes.len() as u64;
        if bytes.is_empty() {
            break;
        }
    }
    let bytes = std::fs::read(&partial).map_err(|e| StoreError::io(&partial, e))?;
    if hex::encode(Sha256::digest(&bytes)) != sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(SyncError::BlobMismatch(sha256.to_string()));
    }
    let blob = store.lock()?.adopt_downloaded_blob(&partial, mime)?;
    let _ = std::fs::remove_file(&partial);
    Ok(blob)
}

/// What fetching the missing photo originals did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PhotoFetch {
    /// Originals downloaded.
    pub fetched: u64,
    /// Originals the device that captured them has not uploaded yet (SHA-256): a later fetch
    /// gets them.
    pub pending: Vec<String>,
    /// Originals the server does not let this device read (SHA-256).
    pub not_permitted: Vec<String>,
}

/// Downloads the originals of the photos attached to any task on this device that it does not
/// hold yet (another device took them). One original not uploaded yet, or not readable by this
/// device, never stops the others: they are reported.
pub fn fetch_missing_photos(
    store: &Mutex<Store>,
    options: &SyncOptions,
    cancel: &CancelToken,
) -> Result<PhotoFetch, SyncError> {
    let _lock = lock_store(store, options, &|_| {})?;
    let (client, _) = client_for(store, options)?;
    let rows = store.lock()?.list_tasks(&crate::store::TaskFilter::default())?;
    let mut outcome = PhotoFetch::default();
    for row in rows {
        let code = TaskCode::parse(&row.code).map_err(StoreError::from)?;
        let missing = store.lock()?.missing_evidence(&code)?;
        for e in missing {
            match fetch_one(store, &client, &e.sha256, &e.mime, e.size, cancel) {
                Ok(_) => outcome.fetched += 1,
                Err(SyncError::Client(ClientError::Refused { status: 404, kind, .. })) if kind == "not_uploaded" => {
                    outcome.pending.push(e.sha256)
                }
                Err(SyncError::Client(ClientError::Refused { status: 404, .. })) => {
                    outcome.not_permitted.push(e.sha256)
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(outcome)
}

/// Inclusion proofs of every audit entry the server accepted from this device, against one
/// signed checkpoint (for evidence bundles). Verified here before they are returned.
pub fn audit_proofs(
    store: &Mutex<Store>,
    options: &SyncOptions,
    cancel: &CancelToken,
) -> Result<super::wire::AuditProofs, SyncError> {
    let (client, account) = client_for(store, options)?;
    // The entries this copy holds that the server accepted (after a new chain segment, the
    // server also holds entries this copy never had).
    let seqs = {
        let guard = store.lock()?;
        let through = guard.audit_confirmed_seq()?;
        guard.audit_seqs_through(through)?
    };
    // In batches, every one proven against the tree of the first one's checkpoint (verified once,
    // kept); nothing confirmed yet asks once, for a checkpoint alone.
    let mut batches = seqs.chunks(super::wire::MAX_PROOFS_PER_REQUEST);
    let first_batch = batches.next().unwrap_or_default();
    let request = super::wire::ProofRequest { seqs: first_batch.to_vec(), tree_size: None };
    let mut all: super::wire::AuditProofs = client.post_json("/v1/audit/proofs", &request, cancel)?;
    let held = verify_checkpoint(&all.checkpoint, &account.root_public_key)?;
    for batch in batches {
        let request = super::wire::ProofRequest { seqs: batch.to_vec(), tree_size: Some(held.tree_size) };
        let proofs: super::wire::AuditProofs = client.post_json("/v1/audit/proofs", &request, cancel)?;
        let checkpoint = verify_checkpoint(&proofs.checkpoint, &account.root_public_key)?;
        if (checkpoint.tree_size, &checkpoint.root_hash) != (held.tree_size, &held.root_hash) {
            return Err(SyncError::Untrusted {
                what: ServerStatement::Checkpoint,
                detail: "同一次取证明的各批次所对应的审计树不一致".into(),
            });
        }
        all.proofs.extend(proofs.proofs);
    }
    Ok(all)
}
