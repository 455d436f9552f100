//! The real `onevisit` binary, driven step by step as an inspector would, on real store files.
#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure being reported")]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

struct Device {
    dir: tempfile::TempDir,
}

impl Device {
    fn new(inspector: &str) -> Device {
        let d = Device { dir: tempfile::tempdir().unwrap() };
        d.ok(&["init", "--inspector", inspector]);
        d.ok(&["import", "--sample"]);
        d
    }

    fn store(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_onevisit")).arg("--store").arg(self.store()).args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs a command that must fail; returns (exit code, stderr).
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should have failed");
        (out.status.code().unwrap(), String::from_utf8(out.stderr).unwrap())
    }
}

/// The first enterprise of the sample directory.
fn enterprise() -> String {
    let data: Value = serde_json::from_str(include_str!("../../data/pinghu-directory.json")).unwrap();
    data["enterprises"][0]["uscc"].as_str().unwrap().to_string()
}

fn create_task(d: &Device, inspectors: &[&str]) -> Output {
    let uscc = enterprise();
    let mut args = vec![
        "--json",
        "tasks",
        "create",
        "--enterprise",
        &uscc,
        "--lead",
        "scjg",
        "--department",
        "xfjy",
        "--matter",
        "SCJG-001",
        "--matter",
        "XFJY-001",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-07",
    ];
    for i in inspectors {
        args.extend_from_slice(&["--inspector", i]);
    }
    d.run(&args)
}

fn new_task(d: &Device) -> String {
    let out = create_task(d, &["scjg-01", "scjg-02", "xfjy-01", "xfjy-02"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let task: Value = serde_json::from_slice(&out.stdout).unwrap();
    task["code"].as_str().unwrap().to_string()
}

#[test]
fn an_inspection_is_recorded_step_by_step_and_listed_from_the_index() {
    let d = Device::new("scjg-01");
    let code = new_task(&d);
    d.ok(&["record", "check-in", &code, "--lat", "30.7", "--lon", "121.02", "--accuracy", "5"]);
    d.ok(&["record", "identity", &code]);
    d.ok(&["record", "party", &code, "--name", "沈建国", "--role", "现场负责人"]);
    d.ok(&["record", "answer", &code, "SCJG-001-01", "pass"]);
    d.ok(&["record", "answer", &code, "SCJG-001-03", "3.5", "--note", "冷藏柜"]);
    d.ok(&[
        "record",
        "finding",
        &code,
        "--department",
        "scjg",
        "--problem",
        "许可证未公示",
        "--basis",
        "《食品安全法》第三十五条",
        "--deadline",
        "2026-12-20",
    ]);

    let rows = d.json(&["tasks", "list", "--status", "on_site", "--department", "xfjy", "--date", "2026-12-03"]);
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["answered"], 2);
    assert_eq!(rows[0]["findings"], 1);
    assert_eq!(d.json(&["tasks", "list", "--status", "closed"]).as_array().unwrap().len(), 0);

    let shown = d.ok(&["tasks", "show", &code]);
    assert!(shown.contains("3.5 ℃") && shown.contains("许可证未公示") && shown.contains("沈建国"), "{shown}");
    let verify = d.ok(&["audit", "verify"]);
    assert!(verify.contains("✓"), "{verify}");
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let d = Device::new("scjg-01");
    let code = new_task(&d);
    let (status, err) = d.fails(&["tasks", "list", "--enterprise", "91330482MA2B3C4D5X"]);
    assert_eq!(status, 1);
    assert!(err.contains("校验码") && err.contains("核对"), "{err}");

    let out = create_task(&d, &["scjg-01"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("至少需要两名"), "{}", String::from_utf8_lossy(&out.stderr));

    d.ok(&["record", "check-in", &code, "--lat", "30.7", "--lon", "121.02"]);
    let (_, err) = d.fails(&["record", "answer", &code, "SCJG-001-03", "pass"]);
    assert!(err.contains("应填数值"), "{err}");
    let (_, err) = d.fails(&["record", "answer", &code, "WSJK-001-01", "pass"]);
    assert!(err.contains("不属于本任务的检查事项") && err.contains("onevisit tasks show"), "{err}");
    let (_, err) = d.fails(&["record", "status", &code, "closed"]);
    assert!(err.contains("不能从“检查中”改为“已办结”"), "{err}");
    let (status, _) = d.fails(&["record", "status", &code, "finished"]);
    assert_eq!(status, 2);
    let rows = d.json(&["tasks", "list"]);
    assert_eq!(rows[0]["answered"], 0, "refused answers are not written");
    assert_eq!(rows.as_array().unwrap().len(), 1, "the one-inspector task was not created");
}

#[test]
fn two_devices_exchange_a_record_and_the_lead_resolves_the_conflict() {
    let a = Device::new("scjg-01");
    let b = Device::new("scjg-02");
    let out = create_task(&a, &["scjg-01", "scjg-02", "xfjy-01"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let code = serde_json::from_slice::<Value>(&out.stdout).unwrap()["code"].as_str().unwrap().to_string();
    let file = a.store().join("record.automerge");
    let file = file.to_str().unwrap();
    a.ok(&["record", "export", &code, "--out", file]);
    b.ok(&["record", "merge", file]);
    a.ok(&["record", "check-in", &code, "--lat", "30.7", "--lon", "121.02"]);
    b.ok(&["record", "check-in", &code, "--lat", "30.7", "--lon", "121.02"]);
    a.ok(&["record", "answer", &code, "SCJG-001-02", "pass"]);
    b.ok(&["record", "answer", &code, "SCJG-001-02", "fail", "--note", "健康证过期"]);
    let back = b.store().join("back.automerge");
    let back = back.to_str().unwrap();
    b.ok(&["record", "export", &code, "--out", back]);
    a.ok(&["record", "merge", back]);

    let conflicts = a.json(&["conflicts", "list", &code]);
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    assert_eq!(conflicts[0]["field"], "answer:SCJG-001-02");
    let listed = a.ok(&["conflicts", "list", &code]);
    assert!(listed.contains("健康证过期") && listed.contains("scjg-02") && listed.contains("scjg-01"), "{listed}");
    let fail = conflicts[0]["values"].as_array().unwrap().iter().position(|v| v["by"] == "scjg-02").unwrap() + 1;

    let (_, err) = b.fails(&["conflicts", "resolve", &code, "answer:SCJG-001-02", "--choose", "1"]);
    assert!(err.contains("只有牵头执法人员"), "{err}");
    a.ok(&["conflicts", "resolve", &code, "answer:SCJG-001-02", "--choose", &fail.to_string()]);
    assert_eq!(a.json(&["conflicts", "list", &code]).as_array().unwrap().len(), 0);
    assert!(a.ok(&["tasks", "show", &code]).contains("不符合"));
}

#[test]
fn an_altered_audit_log_fails_verification_naming_the_entry() {
    let d = Device::new("scjg-01");
    new_task(&d);
    assert!(alter_third_entry_with_python_sqlite(d.store()), "could not alter the database");
    let (status, _) = d.fails(&["audit", "verify"]);
    assert_eq!(status, 3);
    let out = d.run(&["audit", "verify"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("第 3 条被改动"), "{text}");
}

/// Alters the third audit entry (the task creation) through Python's sqlite3 module: an
/// independent SQLite client, as an attacker with the file would use.
fn alter_third_entry_with_python_sqlite(store: &Path) -> bool {
    let db = store.join("onevisit.sqlite");
    let script = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute(\"UPDATE audit_log SET canonical = replace(canonical, 'create_task', 'import_directory') WHERE position = 3\"); c.commit()",
        db.to_str().unwrap()
    );
    Command::new("python3").args(["-c", &script]).status().map(|s| s.success()).unwrap_or(false)
}

#[test]
fn opening_with_a_missing_key_file_or_store_says_so() {
    let d = Device::new("scjg-01");
    let other = tempfile::tempdir().unwrap();
    let missing = other.path().join("none.key");
    let (_, err) = d.fails(&["--key-file", missing.to_str().unwrap(), "tasks", "list"]);
    assert!(err.contains("none.key"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_onevisit"))
        .args(["--store", other.path().to_str().unwrap(), "tasks", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn the_demo_converges_and_verifies() {
    let out = Command::new(env!("CARGO_BIN_EXE_onevisit")).args(["--json", "demo"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["converged"], true);
    assert_eq!(v["conflicts"].as_array().unwrap().len(), 1);
    assert_eq!(v["resolved"]["open_conflicts"], 0);
    assert_eq!(v["resolved"]["status"], "recorded");
    assert_eq!(v["audit"]["scjg-01"]["problems"].as_array().unwrap().len(), 0);
    assert_eq!(v["document"]["signed"], true);
    assert_eq!(v["document"]["signatures"].as_array().unwrap().len(), 5, "four officers and the party");
    assert!(
        v["task_code"].as_str().unwrap().starts_with("OV2."),
        "enrolled devices issue codes the party checks by root"
    );
    assert!(v["server"].as_str().unwrap().starts_with("http://127.0.0.1:"), "the embedded server on loopback");
    assert_eq!(v["sync"]["checkpointed"], true);
    assert_eq!(v["sync"]["photo_fetched"].as_str().map(str::len), Some(64));
    assert!(v["sync"]["audit_confirmed"]["xfjy-01"].as_u64().unwrap() > 0);
}

#[test]
fn a_passphrase_sealed_store_opens_only_with_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let run = |passphrase: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_onevisit"))
            .args(["--store", dir.path().to_str().unwrap(), "--passphrase-env", "OV_TEST_PASS"])
            .args(args)
            .env("OV_TEST_PASS", passphrase)
            .output()
            .unwrap()
    };
    assert!(run("执法终端口令", &["init", "--inspector", "scjg-01"]).status.success());
    assert!(!dir.path().join("device.key").exists(), "no key file when a passphrase seals the key");
    assert!(run("执法终端口令", &["import", "--sample"]).status.success());
    let wrong = run("guess", &["tasks", "list"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("口令或密钥文件不对"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
}

/// Brings a task on device `d` to "recorded", with a photo for the photo check point and a
/// finding that requires rectification; returns the photo's path.
/// Hands a record file from one device to the other (`record export` then `record merge`).
fn hand_over(from: &Device, to: &Device, code: &str) {
    let file = from.store().join("handover.automerge");
    let file = file.to_str().unwrap();
    from.ok(&["record", "export", code, "--out", file]);
    to.ok(&["record", "merge", file]);
}

/// Records the whole inspection: the lead `a` (scjg-01) its department's part, `b` (xfjy-01) the
/// fire brigade's part with a photo and a finding; then the lead completes it. Both hold the result.
fn record_completely(a: &Device, b: &Device, code: &str) -> std::path::PathBuf {
    use onevisit_test_support::{SampleExif, sample_jpeg};
    let photo = b.store().join("extinguisher.jpg");
    std::fs::write(&photo, sample_jpeg(800, 600, Some(&SampleExif::pinghu()))).unwrap();
    hand_over(a, b, code);
    a.ok(&["record", "check-in", code, "--lat", "30.7", "--lon", "121.02"]);
    a.ok(&["record", "identity", code]);
    a.ok(&["record", "party", code, "--name", "沈建国", "--role", "现场负责人"]);
    for cp in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
        a.ok(&["record", "answer", code, cp, "pass"]);
    }
    a.ok(&["record", "answer", code, "SCJG-001-03", "3"]);
    b.ok(&["record", "check-in", code, "--lat", "30.7", "--lon", "121.02"]);
    b.ok(&["record", "answer", code, "XFJY-001-02", "pass"]);
    b.ok(&["record", "answer", code, "XFJY-001-03", "0.5"]);
    b.ok(&["record", "answer", code, "XFJY-001-01", "fail", "--note", "灭火器压力不足"]);
    let added = b.json(&["photo", "add", code, photo.to_str().unwrap(), "--check-point", "XFJY-001-04"]);
    let sha = added["evidence"]["sha256"].as_str().unwrap().to_string();
    b.ok(&["record", "answer", code, "XFJY-001-04", "photos", "--evidence", &sha]);
    b.ok(&[
        "record",
        "finding",
        code,
        "--department",
        "xfjy",
        "--problem",
        "灭火器压力不足",
        "--basis",
        "《中华人民共和国消防法》第十六条",
        "--deadline",
        "2026-12-20",
    ]);
    hand_over(b, a, code);
    a.ok(&["record", "status", code, "recorded"]);
    hand_over(a, b, code);
    photo
}

#[test]
fn photos_documents_and_the_task_code_work_from_the_command_line() {
    let a = Device::new("scjg-01");
    let b = Device::new("xfjy-01");
    let code = new_task(&a);
    let photo = record_completely(&a, &b, &code);

    // Photos: listed, shown and verified against the stored original, re-import is a no-op.
    let list = b.json(&["photo", "list", &code]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let sha = list[0]["sha256"].as_str().unwrap().to_string();
    let out = b.store().join("copy.jpg");
    let shown = b.ok(&["photo", "show", &code, &sha[..12], "--out", out.to_str().unwrap()]);
    assert!(shown.contains("验证通过") && shown.contains("2026:11:28 10:15:30"), "{shown}");
    // The sample camera says 2026-11-28, days before the device added it: flagged.
    assert!(shown.contains("⚠ 相机时间（EXIF）比设备记录的采集时间早"), "{shown}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&photo).unwrap());
    let again = b.json(&["photo", "add", &code, photo.to_str().unwrap(), "--check-point", "XFJY-001-04"]);
    assert_eq!(again["created"], false);
    let not_image = a.store().join("notes.txt");
    std::fs::write(&not_image, "现场笔记").unwrap();
    let (_, err) = a.fails(&["photo", "add", &code, not_image.to_str().unwrap()]);
    assert!(err.contains("不是图片"), "{err}");

    // Documents: render, sign on two devices, the party signs, verify.
    let rendered = a.json(&["document", "render", &code, "--kind", "on-site"]);
    let doc = rendered["sha256"].as_str().unwrap().to_string();
    assert!(rendered["number"].as_str().unwrap().starts_with("平市监现检〔"));
    a.ok(&["document", "sign", &code, &doc[..16]]);
    let file = a.store().join("r.automerge");
    let file = file.to_str().unwrap();
    a.ok(&["record", "export", &code, "--out", file]);
    b.ok(&["record", "merge", file]);
    b.ok(&["document", "sign", &code, &doc[..16]]);
    b.ok(&["record", "export", &code, "--out", file]);
    a.ok(&["record", "merge", file]);
    // One officer of each department is not enough: the document says what it lacks.
    let lacking = a.ok(&["document", "verify", &code, &doc[..16]]);
    assert!(lacking.contains("市场监管局执法人员签名（已有 1 人，至少需 2 人）"), "{lacking}");
    for second in ["scjg-02", "xfjy-02"] {
        let c = Device::new(second);
        hand_over(&a, &c, &code);
        c.ok(&["document", "sign", &code, &doc[..16]]);
        hand_over(&c, &a, &code);
    }
    let png = a.store().join("signature.png");
    std::fs::write(&png, include_bytes!("../../data/sample-signature.png")).unwrap();
    let report = a.json(&[
        "document",
        "party-sign",
        &code,
        &doc[..16],
        "--name",
        "沈建国",
        "--role",
        "现场负责人",
        "--image",
        png.to_str().unwrap(),
    ]);
    assert_eq!(report["signed"], true, "{report}");
    let verified = a.ok(&["document", "verify", &code, &doc[..16]]);
    assert!(verified.contains("已签署 ✓"), "{verified}");
    let text = a.ok(&["document", "show", &code, &doc[..16]]);
    assert!(text.contains("现场检查笔录") && text.contains("执法证号"), "{text}");
    // The printout: a PDF with the page's text, written where asked.
    let pdf = a.store().join("record.pdf");
    let printed = a.json(&["document", "pdf", &code, &doc[..16], "--out", pdf.to_str().unwrap()]);
    assert_eq!(printed["sha256"], doc.as_str());
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-") && bytes.len() as u64 == printed["bytes"].as_u64().unwrap());
    let (status, err) = a.fails(&["document", "pdf", &code, &doc[..16], "--out", "/nonexistent/dir/x.pdf"]);
    assert_ne!(status, 0);
    assert!(err.contains("/nonexistent/dir/x.pdf"), "names the file it could not write: {err}");
    let order = a.json(&["document", "render", &code, "--kind", "order", "--department", "xfjy"]);
    assert!(order["number"].as_str().unwrap().starts_with("平消责改〔"));
    let versions = a.json(&["document", "versions", &code]);
    assert_eq!(versions.as_array().unwrap().len(), 2);

    // Task code: issue with a QR code, verify here and with the issuer key elsewhere.
    let qr = a.store().join("code.png");
    let issued = a.json(&["taskcode", "issue", &code, "--qr", qr.to_str().unwrap()]);
    let token = issued["token"].as_str().unwrap();
    let key = issued["issuer_key"].as_str().unwrap();
    assert!(std::fs::read(&qr).unwrap().starts_with(b"\x89PNG"));
    let ok = b.json(&["taskcode", "verify", token, "--issuer-key", key, "--at", "2026-12-02T10:00:00+08:00"]);
    assert_eq!(ok["claims"]["c"], code.as_str());
    let (status, err) =
        b.fails(&["taskcode", "verify", token, "--issuer-key", key, "--at", "2027-01-02T10:00:00+08:00"]);
    assert_eq!(status, 3);
    assert!(err.contains("已过期"), "{err}");
    let (status, err) = b.fails(&["taskcode", "verify", token, "--at", "2026-12-02T10:00:00+08:00"]);
    assert_eq!(status, 3, "b's own key did not issue it");
    assert!(err.contains("签名与签发设备不符") && err.contains("公钥"), "{err}");
    // Dates as people write them, in Beijing time; a date nobody can read says what to write.
    let ok = b.json(&["taskcode", "verify", token, "--issuer-key", key, "--at", "2026-12-02"]);
    assert_eq!(ok["claims"]["c"], code.as_str());
    let (status, err) = b.fails(&["taskcode", "verify", token, "--issuer-key", key, "--at", "next tuesday"]);
    assert_eq!(status, 2);
    assert!(err.contains("2026-12-02") && err.contains("RFC 3339"), "{err}");
}

#[test]
fn a_negative_number_is_an_answer_and_a_closed_pipe_ends_quietly() {
    let d = Device::new("scjg-01");
    let code = new_task(&d);
    d.ok(&["record", "check-in", &code, "--lat", "30.7", "--lon", "121.02"]);
    // −10.5 ℃ is within the freezer's −30..15 ℃: no `--` needed.
    d.ok(&["record", "answer", &code, "SCJG-001-03", "-10.5"]);
    assert!(d.ok(&["tasks", "show", &code]).contains("-10.5 ℃"));
    let (code_out_of_range, _) = d.fails(&["record", "answer", &code, "SCJG-001-03", "-31"]);
    assert_eq!(code_out_of_range, 1, "out of range is refused by the catalogue, not by argument parsing");

    // A reader that went away before the list was printed (`| head -0`): no panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_onevisit"))
        .arg("--store")
        .arg(d.store())
        .args(["--json", "tasks", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "ends as a closed pipe ends a Unix tool: {stderr}");
}
