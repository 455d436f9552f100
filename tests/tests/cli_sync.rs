//! `onevisit enroll` and `onevisit sync`, the real command against the real server.

use std::path::Path;
use std::process::{Command, Output};

use onevisit_flow_tests::{City, cli_bin};
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("not enrolled"));
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
