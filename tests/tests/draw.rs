//! A 双随机 draw as a city runs it, through the real server binary: preview, commit (the seed's
//! hash published), publish (tasks planned, record written), a drawn inspector's device receiving
//! its task, and the record checked by someone holding only the root key — who also catches an
//! edited result or pool.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::process::Command;

use onevisit_core::domain::TaskCode;
use onevisit_flow_tests::{City, server_bin, sync_ok};

const PLAN: &str = include_str!("../../data/sample-draw-plan.json");
const PLAN_ID: &str = "2026-12-双随机-01";

/// Runs `onevisit-server` with `args` and no server data (an outside verifier); returns (success, stdout, stderr).
fn outside(args: &[&str]) -> (bool, String, String) {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(server_bin()).arg("--data").arg(empty.path().join("none")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs an admin command expected to fail; returns stderr.
fn refused(city: &City, args: &[&str]) -> String {
    let out = Command::new(server_bin()).arg("--data").arg(&city.data).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_draw_is_previewed_committed_published_received_by_devices_and_verified_by_anyone() {
    let city = City::new();
    let plan = city.path().join("plan.json");
    std::fs::write(&plan, PLAN).unwrap();
    let plan = plan.to_str().unwrap();

    let preview: serde_json::Value = serde_json::from_str(&city.admin(&["draw", plan, "--dry-run", "--json"])).unwrap();
    assert!(!preview["result"]["tasks"].as_array().unwrap().is_empty());
    assert!(city.admin(&["draw", plan, "--dry-run"]).contains("预览"));
    let tasks: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["task", "list", "--json"])).unwrap();
    assert!(tasks.is_empty(), "a preview plans nothing");
    let err = refused(&city, &["draw", "publish", PLAN_ID]);
    assert!(err.contains("draw commit"), "{err}");

    let commitment: serde_json::Value = serde_json::from_str(&city.admin(&["draw", "commit", plan, "--json"])).unwrap();
    let hash = commitment["seed_commitment"].as_str().unwrap().to_string();
    let record_file = city.path().join("record.json");
    let published: serde_json::Value = serde_json::from_str(&city.admin(&[
        "draw",
        "publish",
        PLAN_ID,
        "--out",
        record_file.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(published["seed_commitment"], hash.as_str());
    let codes: Vec<String> = serde_json::from_value(published["task_codes"].clone()).unwrap();
    assert_eq!(published["created"], codes.len());
    let err = refused(&city, &["draw", "publish", PLAN_ID]);
    assert!(err.contains("已经抽取并公布过"), "{err}");

    // The drawn tasks are the server's tasks, and a drawn inspector's device receives theirs.
    let tasks: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["task", "list", "--json"])).unwrap();
    assert_eq!(tasks.len(), codes.len());
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&record_file).unwrap()).unwrap();
    let content: serde_json::Value = serde_json::from_str(record["canonical"].as_str().unwrap()).unwrap();
    let first = &content["result"]["tasks"][0];
    let inspector = first["lead_inspector"].as_str().unwrap();
    let device = city.device("drawn", inspector);
    sync_ok(&device);
    let code = TaskCode::parse(&codes[0]).unwrap();
    let held = device.lock().unwrap().task_row(&code).unwrap();
    assert_eq!(held.enterprise_uscc, first["enterprise"].as_str().unwrap());
    assert_eq!(held.source, "random_draw");

    // Anyone with the published root key recomputes the draw from the record alone.
    let file = record_file.to_str().unwrap();
    let (ok, out, err) = outside(&["draw", "verify", file, "--root-key", &city.root]);
    assert!(ok && out.contains("核验通过") && out.contains(&hash), "{out}{err}");
    // The same record from the server's own listing.
    let again = city.admin(&["draw", "record", PLAN_ID]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&again).unwrap(), record);

    // An edited result (an inspector swapped) no longer carries the root's signature.
    let swapped_to = format!("{}-99", inspector.split('-').next().unwrap());
    let mut edited = record.clone();
    edited["canonical"] =
        serde_json::Value::String(record["canonical"].as_str().unwrap().replacen(inspector, &swapped_to, 1));
    let edited_file = city.path().join("edited.json");
    std::fs::write(&edited_file, serde_json::to_string(&edited).unwrap()).unwrap();
    let (ok, _, err) = outside(&["draw", "verify", edited_file.to_str().unwrap(), "--root-key", &city.root]);
    assert!(!ok && err.contains("签名"), "{err}");
    // An edited pool (an enterprise taken out) no longer has the hash the record signed.
    let mut repooled = record.clone();
    repooled["pool"]["enterprises"].as_array_mut().unwrap().remove(0);
    std::fs::write(&edited_file, serde_json::to_string(&repooled).unwrap()).unwrap();
    let (ok, _, err) = outside(&["draw", "verify", edited_file.to_str().unwrap(), "--root-key", &city.root]);
    assert!(!ok && err.contains("对象库快照"), "{err}");
    // Another tenant's root key: refused.
    let other = hex::encode(onevisit_core::identity::DeviceKey::generate().public_bytes());
    let (ok, _, err) = outside(&["draw", "verify", file, "--root-key", &other]);
    assert!(!ok && err.contains("签名"), "{err}");

    let list: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["draw", "list", "--json"])).unwrap();
    assert_eq!(list[0]["published"], true);
    assert_eq!(list[0]["tasks"], codes.len());
}
