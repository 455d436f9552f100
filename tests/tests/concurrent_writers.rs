//! One store, many writers, a bad network: real `onevisit` processes writing one store at once,
//! two handles on one store in one process, a store restored from an old backup, and devices
//! syncing through a proxy that drops, cuts off and delays the server's answers. No acknowledged
//! edit is lost, no audit chain forks, and every sync that went wrong says so.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use onevisit_core::record::{AnswerValue, FindingDraft, Position};
use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken, RetryPolicy, SyncOptions};
use onevisit_flow_tests::fault_proxy::{Fault, FaultProxy};
use onevisit_flow_tests::{
    City, Lcg, admin, cli_bin, cp, crash_recorder, device, fast_options, on_site_device, sync_ok,
};
use onevisit_test_support::sample_jpeg;
use serde_json::Value;

const BASIS: &str = "《中华人民共和国食品安全法》第五十四条";

fn onevisit(store: &Path) -> Command {
    let mut c = Command::new(cli_bin());
    c.arg("--store").arg(store);
    c
}

fn run(store: &Path, args: &[&str]) -> Output {
    onevisit(store).args(args).output().expect("run onevisit")
}

fn ok(store: &Path, args: &[&str]) -> String {
    let out = run(store, args);
    assert!(
        out.status.success(),
        "onevisit {args:?} exited {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(store: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(store, &all)).expect("JSON output")
}

/// `onevisit record finding` of market supervision, acknowledged (exit 0).
fn record_finding(store: &Path, task: &str, problem: &str) {
    ok(store, &["record", "finding", task, "--department", "scjg", "--problem", problem, "--basis", BASIS]);
}

fn spawn_sync(store: &Path) -> Child {
    onevisit(store).arg("sync").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start onevisit sync")
}

fn finish(child: Child, what: &str) -> Output {
    let out = child.wait_with_output().expect("wait for onevisit");
    assert!(
        out.status.success(),
        "{what} exited {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A device set up from the command line: init, sample directory, enrolled, first sync.
fn cli_device(city: &City, name: &str, inspector: &str) -> std::path::PathBuf {
    let store = city.path().join(name);
    ok(&store, &["init", "--inspector", inspector]);
    ok(&store, &["import", "--sample"]);
    let code = city.admin(&["enrolment", inspector]).trim().to_string();
    ok(&store, &["enroll", "--server", &city.server.base, "--code", &code, "--root", &city.root]);
    ok(&store, &["sync"]);
    store
}

fn audit_is_clean(store: &Path) -> Value {
    let report = json(store, &["audit", "verify"]);
    assert_eq!(report["problems"], Value::Array(Vec::new()), "{report}");
    report
}

fn findings_of(store: &Mutex<Store>, code: &onevisit_core::domain::TaskCode) -> Vec<String> {
    let mut s = store.lock().unwrap();
    s.record(code).unwrap().findings().unwrap().into_iter().map(|f| f.problem).collect()
}

#[test]
fn two_syncs_of_one_store_at_once_never_fork_the_audit_chain() {
    let city = City::new();
    let task = city.plan_sample_task().to_string();
    let a = cli_device(&city, "a", "scjg-01");
    ok(&a, &["record", "check-in", &task, "--lat", "30.7", "--lon", "121.0"]);
    for round in 0..8 {
        let value = format!("{round}.5");
        ok(&a, &["record", "answer", &task, "SCJG-001-03", &value]);
        record_finding(&a, &task, &format!("问题 {round}"));
        // Two syncs of the same store at once: the second waits for the first.
        let (first, second) = (spawn_sync(&a), spawn_sync(&a));
        for (child, which) in [(first, "first sync"), (second, "second sync")] {
            let out = finish(child, which);
            assert!(!String::from_utf8_lossy(&out.stdout).contains("拒绝"), "round {round}: something was refused");
        }
        audit_is_clean(&a);
    }
    // Everything reached the server, and the server holds the device's whole chain.
    let head = audit_is_clean(&a)["head_seq"].as_u64().unwrap();
    let report = json(&a, &["sync"]);
    assert_eq!(report["report"]["audit_through"].as_u64(), Some(head));
    let b = city.device("b", "xfjy-01");
    sync_ok(&b);
    let code = onevisit_core::domain::TaskCode::parse(&task).unwrap();
    let mut problems = findings_of(&b, &code);
    problems.sort();
    assert_eq!(problems, (0..8).map(|r| format!("问题 {r}")).collect::<Vec<_>>());
}

#[test]
fn an_edit_recorded_in_another_process_while_the_store_syncs_is_pushed_by_the_next_sync() {
    let city = City::new();
    let task = city.plan_sample_task().to_string();
    let a = cli_device(&city, "a", "scjg-01");
    ok(&a, &["record", "check-in", &task, "--lat", "30.7", "--lon", "121.0"]);
    let mut rng = Lcg(13);
    let rounds = 10;
    for round in 0..rounds {
        let sync = spawn_sync(&a);
        std::thread::sleep(Duration::from_millis(rng.below(300) as u64));
        // Acknowledged (exit 0) while the sync runs in another process.
        record_finding(&a, &task, &format!("问题 {round}"));
        if round % 3 == 0 {
            let photo = city.path().join(format!("photo-{round}.jpg"));
            std::fs::write(&photo, sample_jpeg(200 + round as u32, 150, None)).unwrap();
            ok(&a, &["photo", "add", &task, photo.to_str().unwrap()]);
        }
        finish(sync, "the concurrent sync");
    }
    // The next sync pushes whatever the concurrent ones could not see.
    ok(&a, &["sync"]);
    audit_is_clean(&a);
    let b = city.path().join("b");
    let b = {
        let code = city.admin(&["enrolment", "xfjy-01"]).trim().to_string();
        ok(&b, &["init", "--inspector", "xfjy-01"]);
        ok(&b, &["import", "--sample"]);
        ok(&b, &["enroll", "--server", &city.server.base, "--code", &code, "--root", &city.root]);
        b
    };
    let fetched = json(&b, &["sync", "--fetch-photos"]);
    assert_eq!(fetched["photos"]["fetched"].as_u64(), Some(4), "{fetched}");
    let shown = json(&b, &["tasks", "show", &task]);
    let text = shown.to_string();
    for round in 0..rounds {
        assert!(text.contains(&format!("问题 {round}")), "finding {round} never reached the other device: {shown}");
    }
}

#[test]
fn two_handles_on_one_store_in_one_process_lose_nothing_while_one_syncs() {
    let city = City::new();
    let code = city.plan_sample_task();
    let screen = city.device("a", "scjg-01");
    sync_ok(&screen);
    let root = screen.lock().unwrap().root().to_path_buf();
    let key = onevisit_core::identity::KeyFileWrapper::load_or_create(&root.join("device.key")).unwrap();
    // The background worker opens the same store with its own handle.
    let worker = Mutex::new(Store::open(&root, &key).unwrap());
    let site = Position::wgs84(30.7, 121.0, 5).unwrap();
    screen.lock().unwrap().check_in(&code, site).unwrap();
    let rounds = 12;
    std::thread::scope(|scope| {
        let syncing = scope.spawn(|| {
            for _ in 0..rounds {
                sync::sync(&worker, &fast_options(), &|_| {}, &CancelToken::new()).expect("background sync");
            }
        });
        for round in 0..rounds {
            let mut s = screen.lock().unwrap();
            let draft = FindingDraft {
                department: "scjg".parse().unwrap(),
                check_point: None,
                problem: format!("问题 {round}"),
                legal_basis: BASIS.into(),
                rectification_required: false,
                deadline: None,
            };
            s.add_finding(&code, draft).unwrap();
            let value = AnswerValue::Number { value: format!("{round}.5"), unit: "℃".into() };
            s.answer(&code, &cp("SCJG-001-03"), value, None, Vec::new()).unwrap();
            drop(s);
            std::thread::sleep(Duration::from_millis(15));
        }
        syncing.join().unwrap();
    });
    sync_ok(&screen);
    for handle in [&screen, &worker] {
        let s = handle.lock().unwrap();
        let report = s.verify_audit().unwrap();
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(s.audit_confirmed_seq().unwrap(), report.head_seq, "every entry confirmed");
        assert!(s.dirty_records().unwrap().is_empty(), "nothing left unpushed");
    }
    let b = city.device("b", "xfjy-01");
    sync_ok(&b);
    assert_eq!(findings_of(&b, &code).len(), rounds);
    assert_eq!(findings_of(&screen, &code).len(), rounds);
}

#[test]
fn a_store_restored_from_an_old_backup_is_told_keeps_syncing_and_starts_a_new_audit_segment() {
    let city = City::new();
    let task = city.plan_sample_task().to_string();
    let a = cli_device(&city, "a", "scjg-01");
    ok(&a, &["record", "check-in", &task, "--lat", "30.7", "--lon", "121.0"]);
    ok(&a, &["sync"]);
    let backup = city.path().join("backup");
    copy_dir(&a, &backup);
    // After the backup the device records two findings and shows its task code: all of it
    // reaches the server.
    for round in 0..2 {
        record_finding(&a, &task, &format!("备份后 {round}"));
    }
    ok(&a, &["taskcode", "issue", &task]);
    ok(&a, &["sync"]);
    // The handheld is restored from the backup: its chain re-uses numbers the server holds.
    std::fs::remove_dir_all(&a).unwrap();
    copy_dir(&backup, &a);
    ok(&a, &["record", "finding", &task, "--department", "scjg", "--problem", "恢复后", "--basis", BASIS]);
    let photo = city.path().join("restored.jpg");
    std::fs::write(&photo, sample_jpeg(240, 180, None)).unwrap();
    ok(&a, &["photo", "add", &task, photo.to_str().unwrap()]);
    // Its record edits reuse numbers the server holds: the copy is rebuilt from the server's and
    // the edit made again; the audit log is refused and the sync says what to do.
    let out = run(&a, &["sync"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "a refused audit log fails the sync: {said}");
    assert!(said.contains("服务器拒绝了本设备的审计日志") && said.contains("audit new-segment"), "{said}");
    assert!(said.contains("已按服务器上的记录重建") && !said.contains("服务器拒绝 "), "{said}");
    let shown = json(&a, &["tasks", "show", &task]).to_string();
    for problem in ["备份后 0", "备份后 1", "恢复后"] {
        assert!(shown.contains(problem), "the restored copy lacks {problem}: {shown}");
    }
    // Told, not stuck: the same answer again, quickly, and the records and photo went through.
    let again = run(&a, &["--json", "sync"]);
    assert_eq!(again.status.code(), Some(5));
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(report["report"]["progress"]["requests"].as_u64().unwrap() <= 3, "{report}");
    let b = city.device("b", "xfjy-01");
    sync_ok(&b);
    let code = onevisit_core::domain::TaskCode::parse(&task).unwrap();
    let mut seen = findings_of(&b, &code);
    seen.sort();
    assert_eq!(seen, ["备份后 0", "备份后 1", "恢复后"]);
    let fetched = sync::fetch_missing_photos(&b, &fast_options(), &CancelToken::new()).unwrap();
    assert_eq!((fetched.fetched, fetched.pending.len()), (1, 0));

    // The documented way on: a new segment from the server's head, signed with its reason.
    let started = json(&a, &["audit", "new-segment", "--reason", "从 11 月 30 日的备份恢复"]);
    assert!(started["carried"].as_u64().unwrap() >= 2, "{started}");
    ok(&a, &["sync"]);
    let verified = ok(&a, &["audit", "verify"]);
    assert!(verified.contains("新链段") && verified.contains("从 11 月 30 日的备份恢复"), "{verified}");
    let report = audit_is_clean(&a);
    let synced = json(&a, &["sync"]);
    assert_eq!(synced["report"]["audit_through"], report["head_seq"]);
    // A bundle of the record verifies, and its report explains the segment.
    let bag = city.path().join("bundle");
    ok(&a, &["export", &task, "--out", bag.to_str().unwrap()]);
    let out = Command::new(cli_bin()).args(["verify", bag.to_str().unwrap(), "--root", &city.root]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("新链段"), "{said}");
    // Without a refusal there is nothing to restart.
    let out = run(&a, &["audit", "new-segment", "--reason", "无故"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_photo_not_uploaded_yet_does_not_stop_the_others_being_fetched() {
    let city = City::new();
    let (code, a, b) = city.joint_team();
    let site = Position::wgs84(30.7, 121.0, 5).unwrap();
    a.lock().unwrap().check_in(&code, site).unwrap();
    let photo = |width: u32| {
        let jpeg = sample_jpeg(width, 150, None);
        let target = onevisit_core::evidence::CaptureTarget::Inspection;
        a.lock().unwrap().add_photo(&code, &jpeg, target, Some(site)).unwrap();
    };
    photo(200);
    sync_ok(&a);
    // Two more go into the record, but their originals stay on A for now.
    photo(210);
    photo(220);
    let no_upload = SyncOptions { upload_blobs: false, ..fast_options() };
    sync::sync(&a, &no_upload, &|_| {}, &CancelToken::new()).unwrap();
    sync_ok(&b);
    let fetched = sync::fetch_missing_photos(&b, &fast_options(), &CancelToken::new()).unwrap();
    assert_eq!((fetched.fetched, fetched.pending.len(), fetched.not_permitted.len()), (1, 2, 0), "{fetched:?}");
    // Once A uploads them, the next fetch brings the rest.
    sync_ok(&a);
    let fetched = sync::fetch_missing_photos(&b, &fast_options(), &CancelToken::new()).unwrap();
    assert_eq!((fetched.fetched, fetched.pending.len()), (2, 0), "{fetched:?}");
    // The server answers "not uploaded yet" only to a device that may read the photo.
    let stranger = city.device("c", "sthj-01");
    sync_ok(&stranger);
    let sha = b.lock().unwrap().photos(&code).unwrap()[0].sha256.clone();
    let refused = sync::fetch_blob(&stranger, &sha, "image/jpeg", 10, &fast_options(), &CancelToken::new());
    assert!(
        matches!(&refused, Err(sync::SyncError::Client(sync::ClientError::Refused { status: 404, kind, .. })) if kind == "not_found"),
        "{refused:?}"
    );
}

#[test]
fn devices_behind_a_network_that_drops_cuts_and_delays_answers_lose_no_acknowledged_edit() {
    let city = City::new();
    let code = city.plan_sample_task();
    let proxy = FaultProxy::start(&city.server.addr, 20261130);
    let enrol = |name: &str, inspector: &str| {
        let mut store = device(&city.path().join(name), inspector);
        let one_time = admin(&city.data, &["enrolment", inspector]).trim().to_string();
        sync::enrol(&mut store, &proxy.base, &one_time, &city.root).expect("enrolment through the proxy");
        Mutex::new(store)
    };
    let devices = [(enrol("a", "scjg-01"), "scjg", "SCJG-001-03"), (enrol("b", "xfjy-01"), "xfjy", "XFJY-001-03")];
    for (d, _, _) in &devices {
        sync_ok(d);
    }
    let site = Position::wgs84(30.7, 121.0, 5).unwrap();
    for (d, _, _) in &devices {
        d.lock().unwrap().check_in(&code, site).unwrap();
    }
    proxy.set_faults(true);
    let options = SyncOptions {
        retry: RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
        ..Default::default()
    };
    let mut acknowledged: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    let (mut failed_syncs, mut retries) = (0, 0);
    for round in 0..14 {
        for (i, (d, department, point)) in devices.iter().enumerate() {
            let problem = format!("{department} 问题 {round}");
            let draft = FindingDraft {
                department: department.parse().unwrap(),
                check_point: None,
                problem: problem.clone(),
                legal_basis: BASIS.into(),
                rectification_required: false,
                deadline: None,
            };
            d.lock().unwrap().add_finding(&code, draft).unwrap();
            acknowledged[i].push(problem);
            let value = AnswerValue::Number { value: number(point, round), unit: unit(point).into() };
            d.lock().unwrap().answer(&code, &cp(point), value, None, Vec::new()).unwrap();
            if round % 5 == 0 {
                let jpeg = sample_jpeg(300 + round as u32 + i as u32 * 50, 200, None);
                let target = onevisit_core::evidence::CaptureTarget::Inspection;
                d.lock().unwrap().add_photo(&code, &jpeg, target, Some(site)).unwrap();
            }
            // A sync through the bad network may fail; it must fail cleanly and lose nothing.
            let seen = std::cell::Cell::new(0);
            match sync::sync(d, &options, &|p| seen.set(p.retries), &CancelToken::new()) {
                Ok(report) => retries += report.progress.retries,
                Err(e) => {
                    failed_syncs += 1;
                    retries += seen.get();
                    assert!(matches!(e, sync::SyncError::Client(_)), "only the network may fail a sync: {e}");
                }
            }
        }
    }
    let counts = &proxy.counts;
    let faulted = counts.closed.load(std::sync::atomic::Ordering::Relaxed)
        + counts.dropped.load(std::sync::atomic::Ordering::Relaxed)
        + counts.cut.load(std::sync::atomic::Ordering::Relaxed);
    assert!(faulted >= 10 && retries >= 10, "the network really was bad: {faulted} faults, {retries} retries");
    eprintln!("faults: {counts:?}; retries {retries}; syncs failed {failed_syncs} of 28");

    // The faults stop: two passes of each device bring everything level.
    proxy.set_faults(false);
    for _ in 0..2 {
        for (d, _, _) in &devices {
            sync_ok(d);
        }
    }
    let heads: Vec<_> = devices
        .iter()
        .map(|(d, _, _)| {
            let mut h = d.lock().unwrap().record(&code).unwrap().heads();
            h.sort();
            h
        })
        .collect();
    assert_eq!(heads[0], heads[1], "the stores converged");
    for (i, (d, _, _)) in devices.iter().enumerate() {
        let mut seen = findings_of(d, &code);
        seen.sort();
        for list in &acknowledged {
            for problem in list {
                assert!(seen.contains(problem), "device {i} lacks the acknowledged finding {problem}");
            }
        }
        let s = d.lock().unwrap();
        let report = s.verify_audit().unwrap();
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(s.audit_confirmed_seq().unwrap(), report.head_seq);
        assert!(s.blobs_to_upload().unwrap().is_empty(), "every photo uploaded");
    }
    for (d, _, _) in &devices {
        let fetched = sync::fetch_missing_photos(d, &fast_options(), &CancelToken::new()).unwrap();
        assert!(fetched.pending.is_empty(), "{fetched:?}");
    }
}

/// A value in the check point's range.
fn number(point: &str, round: usize) -> String {
    if point.starts_with("XFJY") { format!("0.{:02}", round + 10) } else { format!("{round}.5") }
}

#[test]
fn an_answer_cut_off_mid_body_is_retried_and_a_server_gone_is_told_apart() {
    let city = City::new();
    city.plan_sample_task();
    let proxy = FaultProxy::start(&city.server.addr, 7);
    let through_proxy = |name: &str, inspector: &str| {
        let mut store = device(&city.path().join(name), inspector);
        let one_time = admin(&city.data, &["enrolment", inspector]).trim().to_string();
        sync::enrol(&mut store, &proxy.base, &one_time, &city.root).unwrap();
        Mutex::new(store)
    };
    let a = through_proxy("a", "scjg-01");
    // The first sync's answer carries the whole directory: cut it after its headers, twice.
    proxy.queue(&[Fault::CutAnswer(600), Fault::CutAnswer(900)]);
    let report = sync::sync(&a, &fast_retries(4), &|_| {}, &CancelToken::new()).expect("retried to success");
    assert!(report.directory_updated && report.progress.retries >= 2, "{:?}", report.progress);
    assert_eq!(report.progress.last_retry, Some(sync::RetryCause::CutOff), "said why it retried");
    assert_eq!(proxy.counts.cut.load(std::sync::atomic::Ordering::Relaxed), 2);
    // Every attempt cut off: the error says the server answered, not that it was unreachable.
    let b = through_proxy("b", "xfjy-01");
    proxy.queue(&[Fault::CutAnswer(600), Fault::CutAnswer(600), Fault::CutAnswer(600)]);
    let failed = sync::sync(&b, &fast_retries(3), &|_| {}, &CancelToken::new()).unwrap_err();
    assert!(matches!(failed, sync::SyncError::Client(sync::ClientError::CutOff(_))), "{failed}");
    assert!(failed.to_string().contains("回答被中途截断"), "{failed}");
    sync_ok(&b);
}

fn fast_retries(attempts: u32) -> SyncOptions {
    SyncOptions {
        retry: RetryPolicy {
            attempts,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
        },
        ..Default::default()
    }
}

fn unit(point: &str) -> &'static str {
    if point.starts_with("XFJY") { "MPa" } else { "℃" }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_writer_killed_mid_edit_never_blocks_nor_forks_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("device");
    let code = on_site_device(&root);
    let recorder = || crash_recorder(&root, &code);
    // A steady writer, and others SIGKILLed mid-way, one after the other (holding the writer lock
    // or not: the kernel releases it with the process).
    let (mut steady, mut steady_lines) = recorder();
    let mut acknowledged = 0usize;
    let mut rng = Lcg(5);
    for _ in 0..5 {
        let (mut victim, mut lines) = recorder();
        let read = 10 + rng.below(40);
        for _ in 0..read {
            lines.next().unwrap().unwrap();
        }
        victim.kill().unwrap(); // SIGKILL: no destructor, mid-edit or holding the lock
        victim.wait().unwrap();
        acknowledged += read + lines.map_while(Result::ok).count();
        // The steady writer still makes progress after each kill.
        for _ in 0..20 {
            steady_lines.next().unwrap().unwrap();
        }
        acknowledged += 20;
    }
    steady.kill().unwrap();
    steady.wait().unwrap();
    acknowledged += steady_lines.map_while(Result::ok).count();
    let key = onevisit_core::identity::KeyFileWrapper::load(&root.join("device.key")).unwrap();
    let mut s = Store::open(&root, &key).unwrap();
    let report = s.verify_audit().unwrap();
    assert!(report.is_intact(), "{:?}", report.problems);
    let answers = s
        .audit_entries_after(0, usize::MAX >> 1)
        .unwrap()
        .iter()
        .filter_map(|e| e.entry())
        .filter(|e| e.action == onevisit_core::audit::AuditAction::AnswerCheckPoint)
        .count();
    assert!(answers >= acknowledged, "{answers} answers in the audit log, {acknowledged} acknowledged");
    // Two writers in step can write the very same answer (same check point, note and millisecond):
    // Automerge makes no change of it, and the audit log records the answer over an empty change.
    let empty = onevisit_core::audit::sha256_hex(&[]);
    let unchanged = s
        .audit_entries_after(0, usize::MAX >> 1)
        .unwrap()
        .iter()
        .filter_map(|e| e.entry())
        .filter(|e| e.action == onevisit_core::audit::AuditAction::AnswerCheckPoint && e.object_hash == empty)
        .count();
    let changes = s.record(&code).unwrap().changes_since(&[]).len();
    assert!(
        changes >= answers - unchanged,
        "every acknowledged change stored: {changes} changes, {answers} answers, {unchanged} unchanged"
    );
    s.add_finding(
        &code,
        FindingDraft {
            department: "scjg".parse().unwrap(),
            check_point: None,
            problem: "之后照常记录".into(),
            legal_basis: BASIS.into(),
            rectification_required: false,
            deadline: None,
        },
    )
    .expect("the store still takes writes");
}
