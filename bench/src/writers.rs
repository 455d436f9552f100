//! `store_concurrent_writers`: N processes (1, 2, 4) recording answers into one store at once —
//! answers per second and p99 latency per answer, and the proof that none was lost (every answer
//! is one change in the record and one entry of an intact audit chain).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use onevisit_core::audit::AuditAction;
use onevisit_core::domain::TaskCode;
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::AnswerValue;
use onevisit_core::store::Store;
use serde_json::json;

use crate::{emit, ms, on_site_store, percentile, round};

/// The check points a scjg-01 writer answers in turn.
const POINTS: [&str; 3] = ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"];

/// Runs the group: each writer count on a fresh store, side by side with one writer.
pub fn run(base: &Path, answers_per_writer: usize) {
    let mut single = None;
    for writers in [1usize, 2, 4] {
        let root = base.join(format!("writers-{writers}"));
        let (store, code) = on_site_store(&root);
        drop(store);
        let (changes_before, entries_before) = counts(&root, &code);
        // Every writer opens the store first, then all start together.
        let start_at = epoch_ms() + 500.0;
        let children: Vec<_> = (0..writers)
            .map(|w| {
                let out = root.join(format!("latencies-{w}.json"));
                let child = Command::new(std::env::current_exe().expect("bench path"))
                    .args(["--writer", &root.display().to_string(), code.as_str()])
                    .arg(answers_per_writer.to_string())
                    .arg(&out)
                    .arg(format!("{start_at:.0}"))
                    .spawn()
                    .expect("start a writer process");
                (child, out)
            })
            .collect();
        let (mut latencies, mut first_start, mut last_end) = (Vec::new(), f64::MAX, 0f64);
        for (mut child, out) in children {
            assert!(child.wait().expect("writer").success(), "a writer process failed");
            let run: WriterRun = serde_json::from_slice(&std::fs::read(out).expect("latencies")).expect("JSON");
            eprintln!(
                "writer {:.0}..{:.0} n={}",
                run.start_ms - start_at,
                run.end_ms - start_at,
                run.latencies_ms.len()
            );
            first_start = first_start.min(run.start_ms);
            last_end = last_end.max(run.end_ms);
            latencies.extend(run.latencies_ms);
        }
        // From the first answer of any writer to the last: process start-up is not the store's.
        let wall = (last_end - first_start) / 1000.0;
        let total = writers * answers_per_writer;
        let (changes_after, entries_after) = counts(&root, &code);
        let audit = open(&root).verify_audit().expect("audit");
        let lost = total as i64 - (changes_after - changes_before).min(entries_after - entries_before) as i64;
        assert!(audit.is_intact(), "the audit chain forked: {:?}", audit.problems);
        assert_eq!(lost, 0, "answers lost under {writers} writers");
        let per_second = total as f64 / wall;
        let p99 = percentile(&mut latencies, 0.99);
        let p50 = percentile(&mut latencies, 0.5);
        let max = percentile(&mut latencies, 1.0);
        let (one_rate, one_p99) = *single.get_or_insert((per_second, p99));
        emit(
            "store_concurrent_writers",
            per_second,
            "answers/s",
            json!({
                "writers": writers,
                "p50_ms": round(p50),
                "p99_ms": round(p99),
                "max_ms": round(max),
                "lost": lost,
                "answers": total,
                "audit_intact": audit.is_intact(),
                "reference_name": "one_writer",
                "reference": round(one_rate),
                "reference_p99_ms": round(one_p99),
                "ratio": round(per_second / one_rate),
            }),
        );
    }
}

/// A writer process: opens the store with its own connection and records `n` answers, writing
/// each answer's latency (ms) to `out`.
pub fn writer(args: &[String]) {
    let [root, code, n, out, start_at] = args else { panic!("--writer STORE TASK COUNT OUT START_AT_MS") };
    let mut store = open(Path::new(root));
    let code = TaskCode::parse(code).expect("task code");
    let n: usize = n.parse().expect("count");
    let points: Vec<_> = POINTS.iter().map(|p| p.parse().expect("literal")).collect();
    store.record(&code).expect("record");
    let start_at: f64 = start_at.parse().expect("start time");
    let wait = start_at - epoch_ms();
    if wait > 0.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(wait / 1000.0));
    }
    let mut latencies = Vec::with_capacity(n);
    let start_ms = epoch_ms();
    for i in 0..n {
        let value = if i % 2 == 0 { AnswerValue::Pass } else { AnswerValue::Fail };
        let t = Instant::now();
        store
            .answer(&code, &points[i % points.len()], value, Some(format!("{}-{i}", std::process::id())), vec![])
            .expect("answer");
        latencies.push(ms(t.elapsed()));
    }
    let run = WriterRun { start_ms, end_ms: epoch_ms(), latencies_ms: latencies };
    std::fs::write(out, serde_json::to_vec(&run).expect("JSON")).expect("write latencies");
}

/// What one writer process reports.
#[derive(serde::Serialize, serde::Deserialize)]
struct WriterRun {
    /// When its first answer started (ms since the epoch, fractional).
    start_ms: f64,
    /// When its last answer was durable.
    end_ms: f64,
    /// Each answer's latency.
    latencies_ms: Vec<f64>,
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// The record's changes and the audit log's answer entries, as stored.
fn counts(root: &Path, code: &TaskCode) -> (usize, usize) {
    let mut store = open(root);
    let entries = store
        .audit_entries_after(0, usize::MAX >> 1)
        .expect("audit log")
        .iter()
        .filter_map(|e| e.entry())
        .filter(|e| e.action == AuditAction::AnswerCheckPoint)
        .count();
    (store.record(code).expect("record").changes_since(&[]).len(), entries)
}

fn open(root: &Path) -> Store {
    let key = KeyFileWrapper::load_or_create(&root.join("device.key")).expect("key file");
    Store::open(root, &key).expect("open the store")
}
