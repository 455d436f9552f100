//! `onevisit-bench`: the core's speed figures as JSON lines, each beside its reference measured
//! in the same run on the same disk.
//!
//! Run with `cargo run --release -p onevisit-bench` (add `--quick` for a smaller, faster run; the
//! `sync` group starts the release `onevisit-server`, building it if it is missing).

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::ActorId;
use chrono::NaiveDate;
use onevisit_core::domain::{
    AnswerType, CheckPoint, Department, Directory, DirectoryData, InspectionMatter, Inspector, Task, TaskCode,
    TaskDraft, TaskSource, TimeWindow,
};
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::{AnswerValue, InspectionRecord, Position, Stamp};
use onevisit_core::sample;
use onevisit_core::store::{Store, TaskFilter};
use serde_json::json;

mod audit;
mod bindings;
mod bundle;
mod draw;
mod load;
mod print;
mod report;
mod scale;
mod seal;
mod sync;
mod writers;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--writer") {
        // One of the processes of the `writers` group.
        return writers::writer(&args[2..]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only answers|store|merge|documents|pdf|seal|evidence|bundle|writers|rules|sync|scale|audit|load|bindings|draw|report` runs one group.
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(String::as_str);
    let run = |group: &str| only.is_none_or(|o| o == group);
    let tmp = tempfile::tempdir().expect("temporary directory");
    if run("answers") {
        answer_recording(tmp.path(), if quick { 200 } else { 1000 });
    }
    if run("store") {
        large_store(tmp.path(), if quick { 2_000 } else { 10_000 });
    }
    if run("merge") {
        merge(if quick { 5 } else { 20 });
    }
    if run("documents") {
        documents(tmp.path(), if quick { 20 } else { 200 });
    }
    if run("pdf") {
        print::run(if quick { 5 } else { 50 });
    }
    if run("seal") {
        seal::run(if quick { 20 } else { 200 });
    }
    if run("evidence") {
        evidence(tmp.path(), if quick { 5 } else { 15 });
    }
    if run("bundle") {
        bundle::run(tmp.path(), if quick { 20 } else { 200 });
    }
    if run("writers") {
        writers::run(tmp.path(), if quick { 100 } else { 400 });
    }
    if run("rules") {
        rules(if quick { 50 } else { 300 });
    }
    if run("sync") {
        let (devices, tasks, edits, noop) = if quick { (6, 30, 5, 200) } else { (20, 200, 20, 1000) };
        // The same workload with the write rules off (server and devices), then on; then over
        // https, and with the rate limiter off.
        let off = sync::run(tmp.path(), devices, tasks, edits, noop, sync::Setup::ChecksOff).converged;
        let http = sync::run(tmp.path(), devices, tasks, edits, noop, sync::Setup::Default);
        let on = http.converged;
        emit(
            "sync_convergence_checks_ratio",
            on / off,
            "x",
            json!({"checks_on_ms": round(on), "checks_off_ms": round(off), "target": "<= 1.3"}),
        );
        let https = sync::run(tmp.path(), devices, tasks, edits, noop, sync::Setup::Tls);
        let tls = https.converged;
        emit(
            "sync_tls_handshake_cost",
            https.noop_p50 - http.noop_p50,
            "ms",
            json!({"https_noop_p50_ms": https.noop_p50, "http_noop_p50_ms": http.noop_p50,
                   "detail": "a no-op sync over https minus over http: one TLS 1.3 handshake (ECDSA P-256 certificate under the Ed25519 tenant root) and rustls record overhead"}),
        );
        emit(
            "sync_convergence_tls_ratio",
            tls / on,
            "x",
            json!({"https_ms": round(tls), "http_ms": round(on), "detail": "the same workload over https (tenant-issued certificate, rustls/ring) and over plain http"}),
        );
        let pg = sync::run(tmp.path(), devices, tasks, edits, noop, sync::Setup::PostgresS3);
        emit(
            "sync_convergence_postgres_s3_ratio",
            pg.converged / on,
            "x",
            json!({"postgres_s3_ms": round(pg.converged), "sqlite_ms": round(on),
                   "postgres_s3_noop_p50_ms": round(pg.noop_p50), "sqlite_noop_p50_ms": round(http.noop_p50),
                   "detail": "the same workload on one replica over PostgreSQL + an S3-compatible server (both on this machine) and on the embedded SQLite default"}),
        );
        let free = sync::run(tmp.path(), devices, tasks, edits, noop, sync::Setup::Unthrottled).converged;
        emit(
            "sync_convergence_rate_limiter_ratio",
            on / free,
            "x",
            json!({"limiter_on_ms": round(on), "limiter_off_ms": round(free), "target": "≈ 1: honest devices are never throttled",
                   "detail": "default limits (20 requests/s per device, burst 200) against no limit"}),
        );
    }
    if run("scale") {
        // `--scale-n 1000,5000` chooses the sizes (the first is the reference).
        let ns: Vec<usize> = args
            .iter()
            .position(|a| a == "--scale-n")
            .and_then(|i| args.get(i + 1))
            .map(|list| list.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| if quick { vec![200, 1_000] } else { vec![1_000, 5_000, 20_000] });
        scale::run(tmp.path(), &ns, 20);
    }
    if run("audit") {
        let sizes: &[u64] = if quick { &[1_000, 10_000] } else { &[10_000, 100_000] };
        audit::run(tmp.path(), sizes, if quick { 50 } else { 200 });
    }
    if run("load") {
        let sizes = if quick {
            load::Sizes { devices: 50, tasks: 60, city_tasks: 2_000, city_devices: 100, seconds: 2.0 }
        } else {
            load::Sizes { devices: 200, tasks: 240, city_tasks: 100_000, city_devices: 1_000, seconds: 8.0 }
        };
        load::run(tmp.path(), &sizes);
    }
    if run("draw") {
        if quick {
            draw::run(10_000, 200, 3);
        } else {
            draw::run(100_000, 2_000, 5);
        }
    }
    if run("report") {
        if quick {
            report::run(tmp.path(), 10_000, 1_000, 3);
            report::console_pages(tmp.path(), 10_000, 5);
        } else {
            report::run(tmp.path(), 100_000, 10_000, 5);
            report::console_pages(tmp.path(), 100_000, 20);
        }
    }
    if run("bindings") {
        let (trivial, answers) = if quick { (20_000, 200) } else { (200_000, 1000) };
        bindings::run(tmp.path(), trivial, answers);
    }
}

/// A release binary of the workspace beside this one, built with `cargo build --release <args>` if
/// it is missing.
fn release_bin(name: &str, build: &[&str]) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    let bin = exe.parent().expect("target dir").join(name);
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status =
            std::process::Command::new(cargo).args(["build", "--release"]).args(build).status().expect("cargo");
        assert!(status.success(), "building {name} failed");
    }
    bin
}

/// Runs a shell command, failing the benchmark if it fails; returns how long it took (ms).
fn shell(script: &str) -> f64 {
    let t = Instant::now();
    let status = std::process::Command::new("sh").args(["-c", script]).status().expect("sh");
    assert!(status.success(), "{script}");
    ms(t.elapsed())
}

/// Prints one figure.
fn emit(name: &str, value: f64, unit: &str, extra: serde_json::Value) {
    let mut line = json!({"name": name, "value": round(value), "unit": unit});
    if let (Some(obj), Some(more)) = (line.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
    }
    println!("{line}");
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The check points of `task` that `department` answers (those of its matters).
fn department_check_points(
    directory: &Directory,
    task: &Task,
    department: &onevisit_core::domain::DepartmentId,
) -> Vec<onevisit_core::domain::CheckPointId> {
    task.matters
        .iter()
        .filter_map(|m| directory.matter(m))
        .filter(|m| &m.department == department)
        .flat_map(|m| m.check_points.iter().map(|c| c.id.clone()))
        .collect()
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn device(root: &Path, inspector: &str) -> Store {
    std::fs::create_dir_all(root).expect("store dir");
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key")).expect("key file");
    let mut s = Store::init(root, &wrapper, Some(inspector.parse().expect("literal"))).expect("init");
    s.import_directory(sample::directory().expect("sample")).expect("import");
    s
}

/// A new device store in `root` with one sample joint task whose team has checked in.
fn on_site_store(root: &Path) -> (Store, onevisit_core::domain::TaskCode) {
    let mut s = device(root, "scjg-01");
    let dir = s.directory().expect("directory");
    let draft = sample::joint_task_draft(&dir, 0, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let code = s.create_task(draft).expect("task").code;
    s.check_in(&code, Position::wgs84(30.7, 121.0, 5).expect("position")).expect("check in");
    (s, code)
}

/// One check-point answer end to end vs a plain SQLite INSERT of the same bytes in its own transaction.
fn answer_recording(base: &Path, n: usize) {
    let (mut s, code) = on_site_store(&base.join("answers"));
    // The operator's own department's check points (scjg-01 answers market supervision's).
    let points: Vec<_> =
        ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"].iter().map(|p| p.parse().expect("literal")).collect();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let value = if i % 2 == 0 { AnswerValue::Pass } else { AnswerValue::Fail };
        let note = Some(format!("第{i}次检查记录"));
        let t = Instant::now();
        s.answer(&code, &points[i % points.len()], value, note, vec![]).expect("answer");
        samples.push(ms(t.elapsed()));
    }
    let chunk_bytes: f64 =
        s.connection().query_row("SELECT avg(length(bytes)) FROM record_chunks", [], |r| r.get(0)).unwrap_or(300.0);
    drop(s);

    // The floor: the same payload size, same file system, same pragmas (WAL, synchronous=FULL).
    let conn = rusqlite::Connection::open(base.join("floor.sqlite")).expect("floor db");
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(())).expect("wal");
    conn.pragma_update(None, "synchronous", "FULL").expect("sync");
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)", []).expect("table");
    let payload = vec![0x5au8; chunk_bytes as usize];
    let mut floor = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        conn.execute("BEGIN", []).expect("begin");
        conn.execute("INSERT INTO t (payload) VALUES (?1)", [&payload]).expect("insert");
        conn.execute("COMMIT", []).expect("commit");
        floor.push(ms(t.elapsed()));
    }
    let (p50, p99) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.99));
    let (f50, f99) = (percentile(&mut floor, 0.5), percentile(&mut floor, 0.99));
    let note = json!({"samples": n, "payload_bytes": chunk_bytes.round()});
    emit(
        "answer_record_p50",
        p50,
        "ms",
        json!({"reference": round(f50), "reference_name": "sqlite_insert_p50", "target": "<= 2 ms and <= 5x reference", "ratio": round(p50 / f50), "detail": note}),
    );
    emit(
        "answer_record_p99",
        p99,
        "ms",
        json!({"reference": round(f99), "reference_name": "sqlite_insert_p99", "ratio": round(p99 / f99)}),
    );
    emit(
        "sqlite_insert_p50",
        f50,
        "ms",
        json!({"detail": "plain INSERT of the same payload, own transaction, WAL + synchronous=FULL"}),
    );
}

/// Listing and opening a store that holds `n` inspections.
fn large_store(base: &Path, n: usize) {
    let root = base.join("large");
    let mut s = device(&root, "scjg-01");
    let dir = s.directory().expect("directory");
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let t = Instant::now();
    for batch in 0..n.div_ceil(500) {
        let drafts: Vec<TaskDraft> = (batch * 500..((batch + 1) * 500).min(n))
            .map(|i| sample::joint_task_draft(&dir, i, start + chrono::Days::new((i % 365) as u64)))
            .collect();
        s.create_tasks(drafts).expect("create tasks");
    }
    let create = t.elapsed();
    drop(s);
    let wrapper = KeyFileWrapper::load(&root.join("device.key")).expect("key file");

    let mut opens = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let s = Store::open(&root, &wrapper).expect("open");
        opens.push(ms(t.elapsed()));
        drop(s);
    }
    let s = Store::open(&root, &wrapper).expect("open");
    let mut lists = Vec::new();
    let mut count = 0;
    let list_runs: usize = std::env::var("ONEVISIT_BENCH_LIST_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    for _ in 0..list_runs {
        let t = Instant::now();
        count = s.list_tasks(&TaskFilter::default()).expect("list").len();
        lists.push(ms(t.elapsed()));
    }
    let mut filtered = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        s.list_tasks(&TaskFilter {
            department: Some("xfjy".parse().expect("literal")),
            status: Some(onevisit_core::record::Status::Planned),
            ..Default::default()
        })
        .expect("list");
        filtered.push(ms(t.elapsed()));
    }
    emit(
        "task_list_10k_p50",
        percentile(&mut lists, 0.5),
        "ms",
        json!({"target": "<= 20 ms", "detail": {"tasks": n, "rows_returned": count}}),
    );
    emit(
        "task_list_filtered_10k_p50",
        percentile(&mut filtered, 0.5),
        "ms",
        json!({"detail": "department + status filter, all rows match"}),
    );
    emit(
        "store_open_10k_p50",
        percentile(&mut opens, 0.5),
        "ms",
        json!({"target": "<= 100 ms", "detail": {"tasks": n, "includes": "open, migrate check, unseal device key (key file)"}}),
    );
    emit(
        "task_create_batched",
        ms(create) / n as f64,
        "ms_per_task",
        json!({"detail": "create_tasks in batches of 500: validation, Automerge document, index row, signed audit entry"}),
    );
}

/// A directory with two departments of 30 check points each.
fn sixty_point_directory() -> Directory {
    let dept = |id: &str| Department {
        id: id.parse().expect("literal"),
        name: format!("{id} 局"),
        short_name: id.into(),
        document_prefix: None,
        review_authority: None,
        court: None,
        contact: None,
        order_titles_by_kind: false,
    };
    let matter = |d: &str| InspectionMatter {
        id: format!("{d}-M").parse().expect("literal"),
        department: d.parse().expect("literal"),
        title: "综合检查".into(),
        legal_basis: "《中华人民共和国安全生产法》".into(),
        power_basis: None,
        order_basis: None,
        check_points: (0..30)
            .map(|i| CheckPoint {
                id: format!("{d}-{i:02}").parse().expect("literal"),
                title: format!("要点{i}"),
                answer: AnswerType::PassFail,
            })
            .collect(),
        industries: Vec::new(),
    };
    let inspector = |id: &str, d: &str| Inspector {
        id: id.parse().expect("literal"),
        name: id.into(),
        certificate_number: "1".into(),
        department: d.parse().expect("literal"),
        conflicts: Vec::new(),
    };
    let sample = sample::directory().expect("sample");
    Directory::from_data(DirectoryData {
        departments: vec![dept("a"), dept("b")],
        inspectors: vec![inspector("ia", "a"), inspector("ib", "b")],
        enterprises: sample.enterprises().take(1).cloned().collect(),
        matters: vec![matter("a"), matter("b")],
    })
    .expect("bench directory")
}

/// Two devices each make 20 offline edits to a 60-check-point inspection; merging one into the other.
fn merge(rounds: usize) {
    let dir = sixty_point_directory();
    let draft = TaskDraft {
        enterprise: dir.enterprises().next().expect("one").uscc.clone(),
        lead_department: "a".parse().expect("literal"),
        departments: vec!["a".parse().expect("literal"), "b".parse().expect("literal")],
        inspectors: vec!["ia".parse().expect("literal"), "ib".parse().expect("literal")],
        lead_inspector: "ia".parse().expect("literal"),
        matters: vec!["a-M".parse().expect("literal"), "b-M".parse().expect("literal")],
        window: TimeWindow {
            start: NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
            end: NaiveDate::from_ymd_opt(2026, 12, 2).expect("date"),
        },
        source: TaskSource::RandomDraw,
    };
    let task = Task::from_draft(draft, TaskCode::parse("330482-20261201-BENCH000").expect("code"), &dir).expect("task");
    let stamp = |by: &str, ms: i64| Stamp { by: by.parse().expect("literal"), at_ms: ms };
    let mut samples = Vec::new();
    let mut sizes = (0, 0);
    for _ in 0..rounds {
        let mut a = InspectionRecord::create(task.clone(), ActorId::random(), stamp("ia", 1)).expect("create");
        a.check_in_at(stamp("ia", 2), Position::wgs84(30.7, 121.0, 5).expect("pos")).expect("check in");
        // Fill all 60 check points first (each department its own), so the merge works on a
        // realistic document.
        for i in 0..30 {
            for (d, by) in [("a", "ia"), ("b", "ib")] {
                let cp = format!("{d}-{i:02}").parse().expect("literal");
                a.answer_check_point(stamp(by, 3), &dir, &cp, AnswerValue::Pass, None, vec![]).expect("answer");
            }
        }
        let base = a.save();
        let mut b = InspectionRecord::load(&base, []).expect("load");
        b.set_actor(ActorId::random());
        for i in 0..20 {
            let cpa = format!("a-{i:02}").parse().expect("literal");
            // b works in its own section, except for its last edit: ia's second handheld (an
            // inspector's own part, from another device) answers a-19 as a did.
            let (cpb, by) = if i == 19 { ("a-19".to_string(), "ia") } else { (format!("b-{i:02}"), "ib") };
            let cpb = cpb.parse().expect("literal");
            a.answer_check_point(stamp("ia", 10 + i), &dir, &cpa, AnswerValue::Fail, Some(format!("问题{i}")), vec![])
                .expect("answer");
            b.answer_check_point(stamp(by, 10 + i), &dir, &cpb, AnswerValue::Fail, Some(format!("复核{i}")), vec![])
                .expect("answer");
        }
        let from_b = b.take_unsaved();
        sizes = (base.len(), from_b.len());
        let t = Instant::now();
        a.merge_bytes(&from_b).expect("merge");
        let conflicts = a.conflicts().expect("conflicts").len();
        samples.push(ms(t.elapsed()));
        assert_eq!(conflicts, 1, "only a-19 was answered on both devices");
    }
    emit(
        "merge_60cp_20edits_p50",
        percentile(&mut samples, 0.5),
        "ms",
        json!({"detail": {"rounds": rounds, "record_bytes": sizes.0, "incoming_change_bytes": sizes.1, "includes": "apply the other device's 20 changes + list conflicts"}}),
    );
}

/// The server's check of one pushed change set: a device's 20 edits (answers and a finding, by an
/// enrolled inspector) judged by the write rules against the record at each change's past and
/// applied, beside Automerge applying the same changes unchecked, in the same run.
fn rules(rounds: usize) {
    use onevisit_core::certificate::{CERTIFICATE_SCHEMA, DeviceCertificate, SignedCertificate};
    use onevisit_core::identity::DeviceKey;
    use onevisit_core::record::exchange::parse_change;
    use onevisit_core::record::{FindingDraft, WriteRules};
    let dir = sample::directory().expect("sample");
    let draft = sample::joint_task_draft(&dir, 0, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let task = Task::from_draft(draft, TaskCode::parse("330482-20261201-BENCH001").expect("code"), &dir).expect("task");
    let ca = DeviceKey::generate();
    let key = DeviceKey::generate();
    let certificate = DeviceCertificate {
        schema: CERTIFICATE_SCHEMA.into(),
        serial: "1".into(),
        tenant: "330482".into(),
        device: key.device_id(),
        device_public_key: hex::encode(key.public_bytes()),
        inspector: "xfjy-01".into(),
        departments: vec!["xfjy".into()],
        not_before_ms: 0,
        not_after_ms: 4_102_444_800_000,
        issuer_public_key: hex::encode(ca.public_bytes()),
    };
    let certificate = SignedCertificate::issue(&certificate, &ca).expect("certificate");
    let stamp = |at_ms: i64| Stamp { by: "xfjy-01".parse().expect("literal"), at_ms };
    let mut server = InspectionRecord::create(task, ca.actor_id(), stamp(1)).expect("create");
    let mut device = InspectionRecord::load(&server.save(), []).expect("load");
    device.set_actor(key.actor_id());
    device.put_certificate(&stamp(2), &key.device_id(), &certificate).expect("certificate");
    device.check_in_at(stamp(3), Position::wgs84(30.7, 121.0, 5).expect("pos")).expect("check in");
    let rules = WriteRules::anchored(&dir, ca.verifying_key());
    let first = device.changes_since(&server.heads());
    server.apply_changes(first.into_iter().map(|c| parse_change(c).expect("change")).collect(), &rules).expect("first");
    let base = server.save();
    let known = device.heads();
    let points = ["XFJY-001-01", "XFJY-001-02"];
    for i in 0..20 {
        if i == 10 {
            let finding = FindingDraft {
                department: "xfjy".parse().expect("literal"),
                check_point: None,
                problem: "灭火器压力不足".into(),
                legal_basis: "《中华人民共和国消防法》第十六条".into(),
                rectification_required: false,
                deadline: None,
            };
            device.add_finding(stamp(10 + i), &dir, finding).expect("finding");
            continue;
        }
        let cp = points[i as usize % 2].parse().expect("literal");
        let note = Some(format!("第{i}次核查"));
        device.answer_check_point(stamp(10 + i), &dir, &cp, AnswerValue::Fail, note, vec![]).expect("answer");
    }
    let batch = device.changes_since(&known);
    assert_eq!(batch.len(), 20);
    let joined: Vec<u8> = batch.concat();
    let (mut checked, mut unchecked) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let mut copy = InspectionRecord::load(&base, []).expect("load");
        let changes = batch.iter().map(|c| parse_change(c.clone()).expect("change")).collect();
        let t = Instant::now();
        copy.apply_changes(changes, &rules).expect("honest changes pass");
        checked.push(ms(t.elapsed()));
        let mut copy = InspectionRecord::load(&base, []).expect("load");
        let t = Instant::now();
        copy.merge_bytes(&joined).expect("apply");
        unchecked.push(ms(t.elapsed()));
    }
    let (p50, reference) = (percentile(&mut checked, 0.5), percentile(&mut unchecked, 0.5));
    emit(
        "validate_changes_p50",
        p50,
        "ms",
        json!({"reference": round(reference), "reference_name": "automerge_apply_unchecked_p50",
               "checks_only_ms": round(p50 - reference), "target": "<= 2 ms",
               "detail": {"rounds": rounds, "changes": 20, "includes": "decode, judge each change at its causal past, apply"}}),
    );
}

/// Runs a command, returning its wall time, or `None` when the tool is missing or fails.
fn time_command(program: &str, args: &[&str]) -> Option<f64> {
    let t = Instant::now();
    let status = std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| ms(t.elapsed()))
}

/// Ingest of a 12-megapixel JPEG end to end, beside libjpeg-turbo's scaled decode and sha256sum of
/// the same file; SHA-256 throughput.
fn evidence(base: &Path, rounds: usize) {
    use onevisit_core::evidence::CaptureTarget;
    use onevisit_test_support::{SampleExif, sample_jpeg};

    let (mut s, code) = on_site_store(&base.join("evidence"));

    let photos: Vec<Vec<u8>> = (0..rounds)
        .map(|i| {
            let mut exif = SampleExif::pinghu();
            exif.capture_time = format!("2026:11:28 10:{:02}:00", i % 60);
            sample_jpeg(4000, 3000, Some(&exif))
        })
        .collect();
    let file = base.join("photo-12mp.jpg");
    std::fs::write(&file, &photos[0]).expect("write photo");
    let path = file.to_str().expect("utf-8 path");

    let mut ingest = Vec::new();
    let mut djpeg = Vec::new();
    let mut sha256sum = Vec::new();
    for photo in &photos {
        let t = Instant::now();
        s.add_photo(&code, photo, CaptureTarget::Inspection, None).expect("ingest");
        ingest.push(ms(t.elapsed()));
        if let Some(d) = time_command("djpeg", &["-scale", "1/8", "-outfile", "/dev/null", path]) {
            djpeg.push(d);
        }
        if let Some(d) = time_command("sha256sum", &[path]) {
            sha256sum.push(d);
        }
    }
    let p50 = percentile(&mut ingest, 0.5);
    let detail = json!({"megapixels": 12, "file_bytes": photos[0].len(), "rounds": rounds,
        "includes": "hash, EXIF, 1/8-scale decode + 320 px upright thumbnail, fsynced original + thumbnail files, signed capture record, record change, index, audit entry"});
    if djpeg.is_empty() || sha256sum.is_empty() {
        emit(
            "photo_ingest_12mp_p50",
            p50,
            "ms",
            json!({"target": "<= 120 ms", "reference": null,
            "reference_name": "djpeg -scale 1/8 + sha256sum (djpeg not installed: apt-get install libjpeg-turbo-progs)", "detail": detail}),
        );
    } else {
        let reference = percentile(&mut djpeg, 0.5) + percentile(&mut sha256sum, 0.5);
        emit(
            "photo_ingest_12mp_p50",
            p50,
            "ms",
            json!({"target": "<= 120 ms", "reference": round(reference),
            "reference_name": "djpeg_scale_1_8_plus_sha256sum_p50", "ratio": round(p50 / reference), "detail": detail}),
        );
        emit(
            "djpeg_scale_1_8_p50",
            percentile(&mut djpeg, 0.5),
            "ms",
            json!({"detail": "libjpeg-turbo djpeg -scale 1/8 of the same file, process included"}),
        );
        emit(
            "sha256sum_p50",
            percentile(&mut sha256sum, 0.5),
            "ms",
            json!({"detail": "coreutils sha256sum of the same file, process included"}),
        );
    }

    // SHA-256 throughput over 256 MiB in memory.
    let buffer = vec![0xA5u8; 256 * 1024 * 1024];
    let t = Instant::now();
    let digest = onevisit_core::audit::sha256_hex(&buffer);
    let secs = t.elapsed().as_secs_f64();
    emit(
        "sha256_throughput",
        buffer.len() as f64 / secs / 1e9,
        "GB/s",
        json!({"target": ">= 1 GB/s", "detail": {"bytes": buffer.len(), "digest_prefix": &digest[..8]}}),
    );
}

/// Signing and verifying legal documents: the Ed25519 operations alone, and a signature end to
/// end (checks, statement, durable record change, audit entry) and a full verification report.
fn documents(base: &Path, rounds: usize) {
    use onevisit_core::document::{DocumentKind, DocumentSignature, SignatureRole, SignedStatement};
    use onevisit_core::record::documents::PartyAct;
    use onevisit_core::record::{PartyDraft, Recusal, Status};

    let mut s = device(&base.join("documents"), "scjg-01");
    let dir = s.directory().expect("directory");
    let start = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    // Market supervision's own inspection (two of its officers), so that one device records it all.
    let drafts = (0..rounds)
        .map(|i| {
            let mut d = sample::joint_task_draft(&dir, i, start);
            d.departments = vec!["scjg".parse().expect("literal")];
            d.inspectors = vec!["scjg-01".parse().expect("literal"), "scjg-02".parse().expect("literal")];
            d.matters = vec!["SCJG-001".parse().expect("literal")];
            d
        })
        .collect();
    let codes: Vec<_> = s.create_tasks(drafts).expect("tasks").into_iter().map(|t| t.code).collect();

    let mut render = Vec::new();
    let mut sign = Vec::new();
    let mut report = Vec::new();
    let mut raw_sign = Vec::new();
    let mut raw_verify = Vec::new();
    let key = onevisit_core::identity::DeviceKey::generate();
    let mut doc_bytes = 0;
    let number = |v: &str, unit: &str| AnswerValue::Number { value: v.into(), unit: unit.into() };
    // One recorded inspection per round, so that each document is signed and verified in a record
    // of realistic size.
    for code in &codes {
        s.check_in(code, Position::wgs84(30.7, 121.0, 5).expect("position")).expect("check in");
        s.show_identity(code).expect("identity");
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "现场负责人".into(),
            phone: None,
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        s.record_party(code, party).expect("party");
        for id in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
            s.answer(code, &id.parse().expect("literal"), AnswerValue::NotApplicable, None, vec![]).expect("answer");
        }
        s.answer(code, &"SCJG-001-03".parse().expect("literal"), number("3", "℃"), None, vec![]).expect("answer");
        s.set_status(code, Status::Recorded).expect("recorded");
        let code = code.clone();
        let t = Instant::now();
        let version = s.render_document(&code, DocumentKind::OnSiteRecord, None).expect("render");
        render.push(ms(t.elapsed()));
        doc_bytes = version.canonical.len();
        let t = Instant::now();
        s.sign_document(&code, &version.sha256).expect("sign");
        sign.push(ms(t.elapsed()));
        let refusal = PartyAct::Refused { reason: "拒签".into(), witness: "王芳".into(), witness_detail: None };
        s.party_act(&code, &version.sha256, refusal, None).expect("party");
        let t = Instant::now();
        let r = s.document_report(&code, &version.sha256).expect("report");
        report.push(ms(t.elapsed()));
        assert_eq!(r.signatures.len(), 2);

        let statement = SignedStatement {
            schema: "onevisit.signature.v1".into(),
            document_sha256: version.sha256.clone(),
            document_number: version.number.clone(),
            signer: SignatureRole::Inspector { inspector: "scjg-01".into(), certificate_number: "330482022570".into() },
            device: key.device_id(),
            device_public_key: hex::encode(key.public_bytes()),
            device_time_ms: 1,
            position: None,
            presence: None,
        };
        let t = Instant::now();
        let signature = DocumentSignature::sign(&statement, &key).expect("sign");
        raw_sign.push(ms(t.elapsed()));
        let t = Instant::now();
        signature.verify(&version.sha256).expect("verify");
        raw_verify.push(ms(t.elapsed()));
    }
    let detail = json!({"rounds": rounds, "record_bytes": doc_bytes});
    emit("document_render_p50", percentile(&mut render, 0.5), "ms", json!({"detail": detail}));
    emit(
        "document_sign_p50",
        percentile(&mut sign, 0.5),
        "ms",
        json!({"detail": "end to end: hash check, conflict check, canonical statement, Ed25519 signature, durable record change, audit entry"}),
    );
    emit(
        "document_verify_p50",
        percentile(&mut report, 0.5),
        "ms",
        json!({"detail": "hash of the document, every signature (verify_strict), completeness, and a re-render of the record at the version's heads compared byte for byte"}),
    );
    emit(
        "statement_sign_p50",
        percentile(&mut raw_sign, 0.5),
        "ms",
        json!({"detail": "canonical JSON + Ed25519 sign of one signature statement"}),
    );
    emit(
        "statement_verify_p50",
        percentile(&mut raw_verify, 0.5),
        "ms",
        json!({"detail": "canonical check + Ed25519 verify_strict of one statement"}),
    );
}
