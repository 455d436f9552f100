//! The `scale` group: sync cost as the records a device holds grow. For each N, a real
//! `onevisit-server` process on loopback (embedded default, rules on) and one inspector's two
//! handhelds: device A creates N inspection records offline with 20 edits each and pushes them; a
//! fresh device B of the same inspector pulls them all; then each re-syncs with nothing new. Time,
//! requests and bytes of each, per record; the reference is the same figure at the smallest N.
//! The smallest N then runs again on PostgreSQL + S3.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use onevisit_core::record::{AnswerValue, Position};
use onevisit_core::sample;
use onevisit_core::store::{Store, TaskFilter};
use onevisit_core::sync::{self, CancelToken, SyncOptions, SyncReport};
use onevisit_test_support::ServerProcess as Server;
use serde_json::json;

use crate::sync::Services;
use crate::{emit, ms, round};

/// How many records the pulls of each N add up to, about (see `one`).
const PULLED_PER_N: usize = 20_000;

/// One N's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    n: usize,
    push_ms: f64,
    pull_ms: f64,
    noop_ms: f64,
    bytes_up_ratio: f64,
}

/// N joint tasks created on the device, each with `edits` edits of its own part (check-in, answers).
fn record_offline(store: &Mutex<Store>, n: usize, edits: usize) -> usize {
    let mut s = store.lock().expect("store");
    let directory = s.directory().expect("directory");
    let today = chrono::Utc::now().date_naive();
    let mut made = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let drafts = chunk.iter().map(|&i| sample::joint_task_draft(&directory, i, today)).collect();
        for task in s.create_tasks(drafts).expect("tasks") {
            let department = task.lead_department.clone();
            let points = crate::department_check_points(&directory, &task, &department);
            s.check_in(&task.code, Position::wgs84(30.7, 121.0, 5).expect("fix")).expect("check in");
            for k in 1..edits {
                let note = Some(format!("第{k}次记录"));
                s.answer(&task.code, &points[k % points.len()], AnswerValue::NotApplicable, note, vec![])
                    .expect("answer");
            }
            made += 1;
        }
    }
    made
}

/// CPU time (user + system, ms) a process has used so far, from `/proc` (0 where unavailable).
fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

/// Where a phase's CPU went: the server process and this (device) process, ms.
fn cpu_split(server: &Server, before: (f64, f64)) -> serde_json::Value {
    let (s, d) = (cpu_ms(&server.pid().to_string()), cpu_ms("self"));
    json!({"server_cpu_ms": round(s - before.0), "device_cpu_ms": round(d - before.1)})
}

fn traffic(r: &SyncReport) -> serde_json::Value {
    json!({"requests": r.progress.requests, "bytes_up": r.progress.bytes_up, "bytes_down": r.progress.bytes_down,
           "records_pushed": r.progress.records_pushed, "records_pulled": r.progress.records_pulled})
}

/// The p50 of five no-op syncs of `store`; checks each is one request.
fn noop(store: &Mutex<Store>, options: &SyncOptions) -> (f64, u64) {
    let mut samples = Vec::new();
    let mut requests = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = sync::sync(store, options, &|_| {}, &CancelToken::new()).expect("no-op sync");
        samples.push(ms(t.elapsed()));
        requests = requests.max(r.progress.requests);
    }
    (crate::percentile(&mut samples, 0.5), requests)
}

/// One N on the embedded default, or on PostgreSQL + S3 when `services` are given (its lines then
/// end in `_postgres_s3`).
fn one(base: &Path, n: usize, edits: usize, services: Option<&Services>) -> Figures {
    let suffix = if services.is_some() { "_postgres_s3" } else { "" };
    let emit = |name: &str, value: f64, unit: &str, extra: serde_json::Value| {
        emit(&format!("{name}{suffix}"), value, unit, extra)
    };
    let base = base.join(format!("scale-{n}{suffix}"));
    let data = base.join("server");
    let admin = |data: &Path, args: &[&str]| crate::sync::admin_with(true, services, data, args);
    let init = admin(&data, &["init", "--tenant", "330482"]);
    let root_key = init.lines().next().and_then(|l| l.trim().rsplit(' ').next()).expect("root key").to_string();
    admin(&data, &["import", "--sample"]);
    let server = crate::sync::serve(&data, true, &["--device-rate", "0", "--address-rate", "0"], services);
    let options = SyncOptions::default();
    let cancel = CancelToken::new();
    let device = |root: &Path| crate::sync::enrolled(&admin, root, "scjg-01", &data, &server, &root_key);
    let a = device(&base.join("a"));
    let t = Instant::now();
    let made = record_offline(&a, n, edits);
    let recording = ms(t.elapsed());

    let cpu = |server: &Server| (cpu_ms(&server.pid().to_string()), cpu_ms("self"));
    let before = cpu(&server);
    let t = Instant::now();
    let push = sync::sync(&a, &options, &|_| {}, &cancel).expect("push");
    let push_cpu = cpu_split(&server, before);
    let push_ms = ms(t.elapsed());
    let raw = push.progress.raw_change_bytes as f64;
    let up = push.progress.bytes_up as f64;
    emit(
        "sync_push_new_records",
        push_ms,
        "ms",
        json!({"records": n, "edits_per_record": edits, "per_record_ms": push_ms / n as f64,
               "traffic": traffic(&push), "cpu": push_cpu, "raw_change_bytes": raw, "audit_bytes_up": push.progress.audit_bytes_up,
               "recording_offline_ms": round(recording), "records_made": made}),
    );
    // Fresh handhelds pull everything, as many as make about 20,000 records pulled per N (at
    // most 5): a 1,000-record pull lasts two seconds, and one run of it says little. The median
    // counts; the first handheld's traffic and CPU are shown.
    let pulls = (PULLED_PER_N / n).clamp(1, 5);
    let mut runs = Vec::new();
    let mut first = None;
    for i in 0..pulls {
        let b = device(&base.join(format!("b{i}")));
        let before = cpu(&server);
        let t = Instant::now();
        let pull = sync::sync(&b, &options, &|_| {}, &cancel).expect("pull");
        let pull_cpu = cpu_split(&server, before);
        runs.push(ms(t.elapsed()));
        first.get_or_insert((b, pull, pull_cpu));
    }
    let (b, pull, pull_cpu) = first.expect("at least one pull");
    let pull_ms = crate::percentile(&mut runs.clone(), 0.5);
    let held = b.lock().expect("store").list_tasks(&TaskFilter { limit: None, ..Default::default() }).expect("list");
    emit(
        "sync_pull_all_records",
        pull_ms,
        "ms",
        json!({"records": n, "per_record_ms": pull_ms / n as f64, "traffic": traffic(&pull), "cpu": pull_cpu,
               "records_held": held.len(), "runs_ms": runs.iter().map(|r| round(*r)).collect::<Vec<_>>()}),
    );
    // The first sync after a completed pull: nothing new, so one request.
    let t = Instant::now();
    let after = sync::sync(&b, &options, &|_| {}, &cancel).expect("after the pull");
    let after_ms = ms(t.elapsed());
    let (noop_a, requests_a) = noop(&a, &options);
    let (noop_b, requests_b) = noop(&b, &options);
    emit(
        "sync_noop_resync",
        noop_a,
        "ms",
        json!({"records": n, "requests": requests_a, "device_b_ms": noop_b, "device_b_requests": requests_b,
               "first_after_pull": {"ms": round(after_ms), "requests": after.progress.requests, "bytes_down": after.progress.bytes_down},
               "target": "1 request, <= 5 ms at 20,000"}),
    );
    emit(
        "sync_total_bytes_up_ratio",
        up / raw,
        "x",
        json!({"records": n, "reference": raw, "reference_name": "raw_automerge_change_bytes",
               "bytes_up": up, "audit_bytes_up": push.progress.audit_bytes_up, "target": "<= 0.6"}),
    );
    Figures { n, push_ms, pull_ms, noop_ms: noop_a, bytes_up_ratio: up / raw }
}

/// Runs the group for each N (the first is the reference of the per-record ratios), then the
/// first N again on PostgreSQL + S3, with its ratios to the embedded default.
pub fn run(base: &Path, ns: &[usize], edits: usize) {
    let figures: Vec<Figures> = ns.iter().map(|&n| one(base, n, edits, None)).collect();
    let (Some(first), Some(last)) = (figures.first(), figures.last()) else { return };
    let services = Services::start();
    let scaled_out = one(base, first.n, edits, Some(&services));
    for (name, ms) in [("push", (scaled_out.push_ms, first.push_ms)), ("pull", (scaled_out.pull_ms, first.pull_ms))] {
        emit(
            &format!("sync_{name}_postgres_s3_ratio"),
            ms.0 / ms.1,
            "x",
            json!({"records": first.n, "postgres_s3_ms": round(ms.0), "reference_ms": round(ms.1),
                   "reference_name": "embedded default, same run"}),
        );
    }
    let growth = |name: &str, ms: fn(&Figures) -> f64| {
        let (now, then) = (ms(last) / last.n as f64, ms(first) / first.n as f64);
        emit(
            name,
            now / then,
            "x",
            json!({"records": last.n, "reference_records": first.n, "per_record_ms": now,
                   "reference_per_record_ms": then, "target": "<= 1.3"}),
        );
    };
    growth("sync_push_per_record_growth", |f| f.push_ms);
    growth("sync_pull_per_record_growth", |f| f.pull_ms);
    emit(
        "sync_noop_growth",
        last.noop_ms,
        "ms",
        json!({"records": last.n, "reference_ms": first.noop_ms, "reference_records": first.n,
               "bytes_up_ratio_at_largest": round(last.bytes_up_ratio), "target": "<= 5 ms"}),
    );
}
