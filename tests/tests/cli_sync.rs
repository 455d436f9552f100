//! `onevisit enroll` and `onevisit sync`, the real command against the real server.

use std::path::Path;
use std::process::{Command, Output};

use onevisit_flow_tests::{City, cli_bin, joint_task_args};
use serde_json::Value;

fn onevisit(store: &Path, args: &[&str]) -> Output {
    Command::new(cli_bin()).arg("--store").arg(store).args(args).output().expect("run onevisit")
}

fn ok_json(store: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = onevisit(store, &all);
    assert!(out.status.success(), "onevisit {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn two_devices_enrol_and_sync_from_the_command_line() {
    let city = City::new();
    let task = city.plan_sample_task().to_string();
    let task = &task;
    let (server, root) = (&city.server, &city.root);
    let (a, b) = (city.path().join("a"), city.path().join("b"));
    for (store, inspector) in [(&a, "scjg-01"), (&b, "xfjy-01")] {
        ok_json(store, &["init", "--inspector", inspector]);
        ok_json(store, &["import", "--sample"]);
    }

    // Not enrolled yet: a clear refusal with its own exit code.
    let out = onevisit(&a, &["sync"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("尚未登记")
            && String::from_utf8_lossy(&out.stderr).contains("onevisit enroll")
    );
    // A wrong root key: enrolment refused, nothing kept.
    let code = city.admin(&["enrolment", "scjg-01"]).trim().to_string();
    let wrong = "11".repeat(32);
    let out = onevisit(&a, &["enroll", "--server", &server.base, "--code", &code, "--root", &wrong]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("根公钥"), "{}", String::from_utf8_lossy(&out.stderr));

    for (store, inspector) in [(&a, "scjg-01"), (&b, "xfjy-01")] {
        let code = city.admin(&["enrolment", inspector]).trim().to_string();
        let enrolled = ok_json(store, &["enroll", "--server", &server.base, "--code", &code, "--root", root]);
        assert_eq!(enrolled["device_code"].as_str().map(str::len), Some(8));
        let report = ok_json(store, &["sync"]);
        assert!(report["report"]["progress"]["records_pulled"].as_u64().unwrap() >= 1);
    }
    let listed = ok_json(&a, &["tasks", "list"]);
    assert!(listed.to_string().contains(task.as_str()));
    ok_json(&a, &["record", "check-in", task, "--lat", "30.7", "--lon", "121.0"]);
    let pushed = ok_json(&a, &["sync"]);
    assert_eq!(pushed["report"]["progress"]["records_pushed"].as_u64(), Some(1));
    ok_json(&b, &["sync"]);
    let shown = ok_json(&b, &["tasks", "show", task]);
    assert_eq!(shown["status"].as_str(), Some("on_site"), "{shown}");
    // Text output is Chinese for the inspector.
    let out = onevisit(&b, &["sync"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("同步完成"));

    // Export a bundle and verify it offline; a planted file makes verify fail with exit code 3.
    let bag = city.path().join("bundle");
    let exported = ok_json(&a, &["export", task, "--out", bag.to_str().unwrap()]);
    assert!(exported["summary"]["proven_entries"].as_u64().unwrap() > 0, "{exported}");
    let out = Command::new(cli_bin()).args(["verify", bag.to_str().unwrap(), "--root", root]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("全部核验通过"));
    std::fs::write(bag.join("data/planted.txt"), "x").unwrap();
    let out = Command::new(cli_bin()).args(["verify", bag.to_str().unwrap(), "--root", root]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("多出文件：data/planted.txt"));

    // The inspected party checks the task code with the published root key alone: no store.
    let issued = ok_json(&a, &["taskcode", "issue", task]);
    let token = issued["token"].as_str().unwrap();
    assert!(token.starts_with("OV2."), "{token}");
    let nowhere = city.path().join("the-enterprise-has-no-store");
    let out = onevisit(&nowhere, &["taskcode", "verify", token, "--root", root]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("有效 ✓") && stdout.contains("scjg-01") && stdout.contains("北京时间"), "{stdout}");
    assert!(!nowhere.exists(), "checking a code creates nothing");
    // Another tenant's root key: invalid, and it says to check the key, never that it was forged.
    let other = hex::encode(onevisit_core::identity::DeviceKey::generate().public_bytes());
    let out = onevisit(&nowhere, &["taskcode", "verify", token, "--root", &other]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr.contains("根公钥") && !stderr.contains("伪造"), "{stderr}");
    // After its window: 已过期.
    let out = onevisit(&nowhere, &["taskcode", "verify", token, "--root", root, "--at", "2099-01-01"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("已过期"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `onevisit --json sync` on `store`, asserting success; returns the report.
fn synced(store: &Path) -> Value {
    ok_json(store, &["sync"])["report"].clone()
}

#[test]
fn records_exchanged_by_file_before_enrolment_sync_once_each_device_has_synced_its_own_part() {
    let city = City::new();
    let (a, b) = (city.path().join("a"), city.path().join("b"));
    for (store, inspector) in [(&a, "scjg-01"), (&b, "xfjy-01")] {
        ok_json(store, &["init", "--inspector", inspector]);
        ok_json(store, &["import", "--sample"]);
    }
    let args = joint_task_args();
    let created = ok_json(&a, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let task = created["code"].as_str().unwrap().to_string();
    let task = task.as_str();
    let hand = |from: &Path, to: &Path| {
        let file = from.join("handover.automerge");
        ok_json(from, &["record", "export", task, "--out", file.to_str().unwrap()]);
        ok_json(to, &["record", "merge", file.to_str().unwrap()]);
    };
    // Offline, before either enrols: each builds on the other's edits, twice over.
    ok_json(&a, &["record", "check-in", task, "--lat", "30.7", "--lon", "121.0"]);
    hand(&a, &b);
    ok_json(&b, &["record", "check-in", task, "--lat", "30.7", "--lon", "121.0"]);
    ok_json(&b, &["record", "answer", task, "XFJY-001-02", "pass"]);
    hand(&b, &a);
    ok_json(&a, &["record", "answer", task, "SCJG-001-01", "pass"]);
    hand(&a, &b);
    ok_json(&b, &["record", "answer", task, "XFJY-001-03", "0.5"]);

    for (store, inspector) in [(&a, "scjg-01"), (&b, "xfjy-01")] {
        let code = city.admin(&["enrolment", inspector]).trim().to_string();
        ok_json(store, &["enroll", "--server", &city.server.base, "--code", &code, "--root", &city.root]);
    }
    // A's own first part goes up; what it built on B's edits waits for B — said, not refused.
    let first = onevisit(&a, &["sync"]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(text.contains("须待那些设备自行同步"), "{text}");
    assert!(!text.contains("拒绝"), "{text}");
    // Each device's sync takes its own part; two rounds each and everything is on the server.
    let b1 = synced(&b);
    assert!(b1["waiting"][task].as_u64().unwrap() > 0, "B's last edit builds on A's second: {b1}");
    let a2 = synced(&a);
    assert!(a2["waiting"].as_object().unwrap().is_empty(), "{a2}");
    let b2 = synced(&b);
    assert!(b2["waiting"].as_object().unwrap().is_empty() && b2["refused"].as_object().unwrap().is_empty(), "{b2}");
    let a3 = synced(&a);
    assert!(a3["isolated"].as_object().unwrap().is_empty(), "A takes B's certified changes in: {a3}");
    let (shown_a, shown_b) = (ok_json(&a, &["tasks", "show", task]), ok_json(&b, &["tasks", "show", task]));
    assert_eq!(shown_a, shown_b, "both copies converged through the server");
    let answers = shown_a.to_string();
    assert!(answers.contains("SCJG-001-01") && answers.contains("XFJY-001-03"), "{shown_a}");
}

#[test]
fn a_device_that_enrols_again_keeps_its_earlier_evidence_verifiable() {
    use onevisit_test_support::{SampleExif, sample_jpeg};
    let city = City::new();
    let task = city.plan_sample_task().to_string();
    let task = task.as_str();
    let a = city.path().join("a");
    ok_json(&a, &["init", "--inspector", "scjg-01"]);
    let enrol = |store: &Path| {
        let code = city.admin(&["enrolment", "scjg-01"]).trim().to_string();
        ok_json(store, &["enroll", "--server", &city.server.base, "--code", &code, "--root", &city.root])
    };
    let first = enrol(&a);
    synced(&a);
    ok_json(&a, &["record", "check-in", task, "--lat", "30.7", "--lon", "121.0"]);
    let photo = city.path().join("photo.jpg");
    std::fs::write(&photo, sample_jpeg(640, 480, Some(&SampleExif::pinghu()))).unwrap();
    ok_json(&a, &["photo", "add", task, photo.to_str().unwrap()]);
    synced(&a);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Enrolled again (a new code, a new certificate whose validity starts now).
    let second = enrol(&a);
    assert_eq!(first["device_code"], second["device_code"], "the same device");
    synced(&a);

    let bag = city.path().join("bundle");
    ok_json(&a, &["export", task, "--out", bag.to_str().unwrap()]);
    let certificates: Vec<_> = std::fs::read_dir(bag.join("data/certificates")).unwrap().collect();
    assert_eq!(certificates.len(), 2, "both certificates this device held");
    let out = Command::new(cli_bin()).args(["verify", bag.to_str().unwrap(), "--root", &city.root]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("全部核验通过"), "{stdout}");
}
