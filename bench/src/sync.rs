//! The `sync` group: a real `onevisit-server` process on loopback and simulated devices (real
//! stores, the real sync engine) — convergence after offline edits, traffic per device, bytes up
//! against the raw Automerge change bytes, the server's peak RSS, and a no-op re-sync.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use chrono::NaiveDate;
use onevisit_core::domain::{Directory, InspectorId, TaskCode, TaskDraft, TaskSource, TimeWindow};
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::{AnswerValue, Position};
use onevisit_core::sample;
use onevisit_core::store::{Store, TaskFilter};
use onevisit_core::sync::{self, CancelToken, SyncOptions, SyncReport};
use onevisit_test_support::{PostgresCluster, S3Server, ServerProcess as Server};
use serde_json::json;

use crate::{emit, ms, round};

const NOOP_DETAIL: &str = "a device's sync with nothing new, p50 over every device × 10; each sync opens a new connection (a TLS handshake over https)";

/// The p50 of no-op syncs across the devices (every sync makes a new client, so a new connection).
fn noop_p50(stores: &[Mutex<Store>], options: &SyncOptions) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..10 {
        for store in stores {
            let t = Instant::now();
            sync::sync(store, options, &|_| {}, &CancelToken::new()).expect("no-op sync");
            samples.push(ms(t.elapsed()));
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

/// The server binary: the normal build, or (checks off) a benchmark build whose write rules are
/// off, in a target folder of its own so that it never replaces the real one.
fn server_bin(checks: bool) -> PathBuf {
    if checks {
        return crate::release_bin("onevisit-server", &["-p", "onevisit-server"]);
    }
    let exe = std::env::current_exe().expect("bench path");
    let target = exe.parent().and_then(Path::parent).expect("target dir").join("bench-unchecked");
    let bin = target.join("release").join("onevisit-server");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "onevisit-server", "--features", "bench-unchecked", "--target-dir"])
            .arg(&target)
            .status()
            .expect("cargo");
        assert!(status.success(), "building the unchecked benchmark server failed");
    }
    bin
}

/// PostgreSQL and an S3-compatible server started for one run, with the run's database and bucket.
pub(crate) struct Services {
    _cluster: PostgresCluster,
    s3: S3Server,
    database: String,
    bucket: String,
}

impl Services {
    /// Starts both, with a database and a bucket for the run.
    pub(crate) fn start() -> Services {
        // The S3-compatible server is a binary of the workspace: built here when it is missing.
        crate::release_bin("onevisit-s3-server", &["-p", "onevisit-s3-server"]);
        let cluster = PostgresCluster::start_durable();
        let database = cluster.database("sync");
        let s3 = S3Server::start();
        let bucket = s3.bucket("evidence", "330482");
        Services { _cluster: cluster, s3, database, bucket }
    }
}

/// Runs an admin command of the server of one run (on its database, when it has one).
pub(crate) fn admin_with(checks: bool, services: Option<&Services>, data: &Path, args: &[&str]) -> String {
    let mut command = Command::new(server_bin(checks));
    if let Some(services) = services {
        command.env("ONEVISIT_DATABASE", &services.database);
    }
    let out = command.arg("--data").arg(data).args(args).output().expect("onevisit-server");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// How the server of one run is set up: the same workload is measured in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Write rules off (a benchmark-only build), plain http, rate limiter on.
    ChecksOff,
    /// What a city runs on loopback: rules on, plain http, rate limiter on.
    Default,
    /// Rules on, https with the tenant-issued certificate, rate limiter on.
    Tls,
    /// Rules on, plain http, rate limiter off.
    Unthrottled,
    /// Rules on, plain http, rate limiter on; the data in PostgreSQL, blobs in an S3-compatible
    /// server (one replica).
    PostgresS3,
}

impl Setup {
    fn checks(self) -> bool {
        self != Setup::ChecksOff
    }

    fn dir(self) -> &'static str {
        match self {
            Setup::ChecksOff => "checks-off",
            Setup::Default => "checks-on",
            Setup::Tls => "tls",
            Setup::Unthrottled => "unthrottled",
            Setup::PostgresS3 => "postgres-s3",
        }
    }

    fn serve_args(self) -> &'static [&'static str] {
        match self {
            Setup::Tls => &["--tls"],
            Setup::Unthrottled => &["--device-rate", "0", "--address-rate", "0"],
            Setup::ChecksOff | Setup::Default | Setup::PostgresS3 => &[],
        }
    }
}

/// The server of one run, started as `setup` says.
fn start_server(data: &Path, setup: Setup, services: Option<&Services>) -> Server {
    serve(data, setup.checks(), setup.serve_args(), services)
}

/// A server on `data` with `options`, on PostgreSQL and S3 when `services` are given.
pub(crate) fn serve(data: &Path, checks: bool, options: &[&str], services: Option<&Services>) -> Server {
    let mut options = options.to_vec();
    let mut env = Vec::new();
    if let Some(services) = services {
        options.extend(["--database", services.database.as_str(), "--blobs", services.bucket.as_str()]);
        env = services.s3.env();
    }
    Server::spawn_with_env(&server_bin(checks), data, "127.0.0.1:0", &options, &env, "warn", Stdio::null())
}

/// A device store of `inspector` in `root`, with the sample directory, enrolled with the server.
pub(crate) fn enrolled(
    admin: &dyn Fn(&Path, &[&str]) -> String,
    root: &Path,
    inspector: &str,
    data: &Path,
    server: &Server,
    root_key: &str,
) -> Mutex<Store> {
    std::fs::create_dir_all(root).expect("store dir");
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key")).expect("key");
    let mut s = Store::init(root, &wrapper, Some(inspector.parse().expect("inspector"))).expect("init");
    s.import_directory(sample::directory().expect("sample")).expect("import");
    let code = admin(data, &["enrolment", inspector]).trim().to_string();
    sync::enrol(&mut s, &server.base, &code, root_key).expect("enrol");
    Mutex::new(s)
}

/// Joint tasks spread over the devices' inspectors: two departments each, one inspector of each
/// (plus a second of the lead department when `per_task` is 3).
fn drafts(directory: &Directory, inspectors: &[InspectorId], tasks: usize, per_task: usize) -> Vec<TaskDraft> {
    let mut by_department: BTreeMap<String, Vec<InspectorId>> = BTreeMap::new();
    for id in inspectors {
        if let Some(i) = directory.inspector(id) {
            by_department.entry(i.department.to_string()).or_default().push(id.clone());
        }
    }
    let departments: Vec<String> = by_department.keys().cloned().collect();
    let enterprises: Vec<_> = directory.enterprises().map(|e| e.uscc.clone()).collect();
    let start = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    (0..tasks)
        .map(|i| {
            let a = &departments[i % departments.len()];
            let b = &departments[(i / departments.len() + i + 1) % departments.len()];
            let b = if a == b { &departments[(i + 1) % departments.len()] } else { b };
            let pick = |d: &str, k: usize| by_department[d][k % by_department[d].len()].clone();
            let mut team = vec![pick(a, i), pick(b, i)];
            if per_task >= 3 && by_department[a.as_str()].len() > 1 {
                team.push(pick(a, i + 1));
            }
            let matters = [a, b]
                .iter()
                .filter_map(|d| directory.matters().find(|m| m.department.as_str() == d.as_str()).map(|m| m.id.clone()))
                .collect();
            TaskDraft {
                enterprise: enterprises[i % enterprises.len()].clone(),
                lead_department: a.parse().expect("department"),
                departments: vec![a.parse().expect("department"), b.parse().expect("department")],
                inspectors: team.clone(),
                lead_inspector: team[0].clone(),
                matters,
                window: TimeWindow { start, end: start + chrono::Days::new(6) },
                source: TaskSource::RandomDraw,
            }
        })
        .collect()
}

/// `edits` offline edits by this device on every task it holds: a check-in, then answers to the
/// check points of its department, each with a different note.
fn offline_edits(store: &Mutex<Store>, edits: usize) -> usize {
    let mut s = store.lock().expect("store");
    let directory = s.directory().expect("directory");
    let me = s.inspector().cloned().expect("inspector");
    let department = directory.inspector(&me).expect("known").department.clone();
    let rows = s.list_tasks(&TaskFilter { limit: None, ..Default::default() }).expect("tasks");
    let mut made = 0;
    for row in rows {
        let code = TaskCode::parse(&row.code).expect("code");
        let task = s.record(&code).expect("record").task().clone();
        if !task.inspectors.contains(&me) {
            continue; // visible to its department, but not its to record
        }
        let points = crate::department_check_points(&directory, &task, &department);
        if points.is_empty() {
            continue;
        }
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).expect("fix")).expect("check in");
        made += 1;
        for k in 1..edits {
            let note = Some(format!("{me} 第{k}次记录"));
            s.answer(&code, &points[k % points.len()], AnswerValue::NotApplicable, note, vec![]).expect("answer");
            made += 1;
        }
    }
    made
}

fn add(total: &mut SyncReport, r: &SyncReport) {
    let (t, p) = (&mut total.progress, &r.progress);
    t.requests += p.requests;
    t.records_pushed += p.records_pushed;
    t.records_pulled += p.records_pulled;
    t.bytes_up += p.bytes_up;
    t.bytes_down += p.bytes_down;
    t.raw_change_bytes += p.raw_change_bytes;
    t.record_bytes_up += p.record_bytes_up;
    t.audit_bytes_up += p.audit_bytes_up;
}

/// Runs the group.
/// Runs the sync workload; with `checks` off, against the benchmark server build and with the
/// devices' write rules off too, reporting only `sync_convergence_checks_off`. Returns the
/// convergence time (ms).
/// What one run measured, for the figures comparing runs.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Time to convergence, ms.
    pub converged: f64,
    /// A no-op sync's p50 (fresh connection each), ms, where measured.
    pub noop_p50: f64,
}

pub fn run(base: &Path, devices: usize, tasks: usize, edits: usize, noop_records: usize, setup: Setup) -> Measured {
    let checks = setup.checks();
    onevisit_core::record::rules::set_checks_for_benchmarks(checks);
    let base = &base.join(setup.dir());
    let data = base.join("sync-server");
    let services = (setup == Setup::PostgresS3).then(Services::start);
    let admin = |data: &Path, args: &[&str]| admin_with(checks, services.as_ref(), data, args);
    let init = admin(&data, &["init", "--tenant", "330482"]);
    let root_key = init.lines().next().and_then(|l| l.trim().rsplit(' ').next()).expect("root key").to_string();
    admin(&data, &["import", "--sample"]);
    let directory = sample::directory().expect("sample");
    let inspectors: Vec<InspectorId> = directory.inspectors().take(devices).map(|i| i.id.clone()).collect();
    let plan = drafts(&directory, &inspectors, tasks, 3);
    let plan_file = base.join("drafts.json");
    std::fs::write(&plan_file, serde_json::to_vec(&plan).expect("json")).expect("write drafts");
    admin(&data, &["task", "create", plan_file.to_str().expect("path"), "--json"]);
    let server = start_server(&data, setup, services.as_ref());
    let stores: Vec<Mutex<Store>> = inspectors
        .iter()
        .map(|i| enrolled(&admin, &base.join(format!("device-{i}")), i.as_str(), &data, &server, &root_key))
        .collect();
    let options = SyncOptions::default();
    let cancel = CancelToken::new();
    let quiet = |_: &sync::Progress| {};

    // Every device receives its tasks, then goes offline and edits.
    std::thread::scope(|s| {
        for store in &stores {
            s.spawn(|| sync::sync(store, &options, &quiet, &cancel).expect("initial sync"));
        }
    });
    let t = Instant::now();
    let made: usize = stores.iter().map(|s| offline_edits(s, edits)).sum();
    let editing = t.elapsed();

    // Back online: all devices sync at once, round after round, until a round changes nothing.
    let started = Instant::now();
    let mut totals: Vec<SyncReport> = vec![SyncReport::default(); stores.len()];
    let mut rounds = 0;
    loop {
        rounds += 1;
        let reports: Vec<SyncReport> = std::thread::scope(|s| {
            let handles: Vec<_> = stores
                .iter()
                .map(|store| s.spawn(|| sync::sync(store, &options, &quiet, &cancel).expect("sync")))
                .collect();
            handles.into_iter().map(|h| h.join().expect("device thread")).collect()
        });
        let changed = reports.iter().any(|r| r.progress.records_pushed > 0 || r.progress.records_pulled > 0);
        for (t, r) in totals.iter_mut().zip(&reports) {
            add(t, r);
        }
        if !changed || rounds >= 20 {
            break;
        }
    }
    let converged = started.elapsed();

    // Every device holds every task it is assigned to at the same heads.
    let mut heads: BTreeMap<String, Vec<automerge::ChangeHash>> = BTreeMap::new();
    let mut identical = true;
    for store in &stores {
        let mut s = store.lock().expect("store");
        let rows = s.list_tasks(&TaskFilter { limit: None, ..Default::default() }).expect("tasks");
        for row in rows {
            let code = TaskCode::parse(&row.code).expect("code");
            let mut h = s.record(&code).expect("record").heads();
            h.sort();
            if let Some(other) = heads.get(&row.code) {
                identical &= other == &h;
            } else {
                heads.insert(row.code.clone(), h);
            }
        }
    }
    let n = stores.len() as f64;
    let sum = |f: fn(&SyncReport) -> u64| totals.iter().map(f).sum::<u64>() as f64;
    let raw = sum(|r| r.progress.raw_change_bytes);
    let doc_up = sum(|r| r.progress.record_bytes_up);
    let audit_up = sum(|r| r.progress.audit_bytes_up);
    let detail = json!({
        "devices": stores.len(), "inspections": tasks, "edits_per_device_and_inspection": edits,
        "inspectors_per_inspection": 3, "offline_edits_total": made, "rounds": rounds,
        "identical_heads": identical, "editing_ms": round(ms(editing))
    });
    match setup {
        Setup::ChecksOff => {
            emit("sync_convergence_checks_off", ms(converged), "ms", json!({"detail": detail}));
            onevisit_core::record::rules::set_checks_for_benchmarks(true);
            return Measured { converged: ms(converged), noop_p50: f64::NAN };
        }
        Setup::Unthrottled => {
            emit("sync_convergence_unthrottled", ms(converged), "ms", json!({"detail": detail}));
            return Measured { converged: ms(converged), noop_p50: f64::NAN };
        }
        Setup::PostgresS3 => {
            emit("sync_convergence_postgres_s3", ms(converged), "ms", json!({"detail": detail}));
            let noop = noop_p50(&stores, &options);
            emit("sync_postgres_s3_noop_p50", noop, "ms", json!({"detail": NOOP_DETAIL}));
            return Measured { converged: ms(converged), noop_p50: noop };
        }
        Setup::Tls => {
            emit("sync_convergence_tls", ms(converged), "ms", json!({"detail": detail}));
            let noop = noop_p50(&stores, &options);
            emit("sync_tls_noop_p50", noop, "ms", json!({"detail": NOOP_DETAIL}));
            return Measured { converged: ms(converged), noop_p50: noop };
        }
        Setup::Default => {}
    }
    let noop = noop_p50(&stores, &options);
    emit("sync_http_noop_p50", noop, "ms", json!({"detail": NOOP_DETAIL}));
    emit("sync_convergence", ms(converged), "ms", json!({"detail": detail}));
    emit("sync_requests_per_device", sum(|r| r.progress.requests) / n, "requests", json!({}));
    emit(
        "sync_bytes_per_device",
        (sum(|r| r.progress.bytes_up) + sum(|r| r.progress.bytes_down)) / n,
        "bytes",
        json!({"up": round(sum(|r| r.progress.bytes_up) / n), "down": round(sum(|r| r.progress.bytes_down) / n)}),
    );
    emit(
        "sync_record_bytes_up_ratio",
        doc_up / raw,
        "x",
        json!({"reference": raw, "reference_name": "raw_automerge_change_bytes", "target": "<= 1.5",
               "detail": "document part of every sync request (JSON, base64, heads, HTTP line and headers) over the raw change bytes pushed"}),
    );
    emit(
        "sync_city_total_bytes_up_ratio",
        (doc_up + audit_up) / raw,
        "x",
        json!({"reference": raw, "reference_name": "raw_automerge_change_bytes",
               "detail": "also counting the audit entries every edit adds (one per edit), packed under one signature per upload", "audit_bytes_up": audit_up}),
    );
    emit("sync_server_peak_rss", server.peak_rss_mib(), "MiB", json!({}));

    // A device holding many documents re-syncs with nothing new: one request.
    let big = enrolled(&admin, &base.join("device-big"), "scjg-01", &data, &server, &root_key);
    {
        let mut s = big.lock().expect("store");
        let dir = s.directory().expect("directory");
        let today = chrono::Utc::now().date_naive();
        let drafts = (0..noop_records).map(|i| sample::joint_task_draft(&dir, i, today)).collect();
        s.create_tasks(drafts).expect("tasks");
    }
    let t = Instant::now();
    let first = sync::sync(&big, &options, &quiet, &cancel).expect("first sync of the big device");
    emit(
        "sync_first_push_new_records",
        ms(t.elapsed()),
        "ms",
        json!({"documents": noop_records, "requests": first.progress.requests, "bytes_up": first.progress.bytes_up}),
    );
    let mut samples = Vec::new();
    let mut requests = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = sync::sync(&big, &options, &quiet, &cancel).expect("no-op sync");
        samples.push(ms(t.elapsed()));
        requests = r.progress.requests;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let held =
        big.lock().expect("store").list_tasks(&TaskFilter { limit: None, ..Default::default() }).expect("list").len();
    emit(
        "sync_city_noop_resync",
        samples[samples.len() / 2],
        "ms",
        json!({"requests": requests, "records_held": held, "target": "1 request, <= 50 ms", "samples": samples.len()}),
    );
    emit("sync_server_peak_rss_final", server.peak_rss_mib(), "MiB", json!({}));
    Measured { converged: ms(converged), noop_p50: noop }
}
