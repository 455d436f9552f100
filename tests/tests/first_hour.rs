//! The mistakes people make in their first hour with OneVisit, each answered by the real commands
//! with what happened and what to do next (in Chinese), and the exit code the README gives:
//! 0 success, 1 refused, 2 bad arguments, 3 a verification failed, 4 sync or enrolment failed,
//! 5 the sync finished but something was refused.

use std::path::Path;
use std::process::Command;

use onevisit_flow_tests::{City, cli_bin, joint_task_args, server_bin};

/// What one command answered.
struct Answer {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn onevisit(store: &Path, args: &[&str]) -> Answer {
    let out = Command::new(cli_bin()).arg("--store").arg(store).args(args).output().expect("run onevisit");
    Answer {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts the command failed with `code` and that its error says every one of `said`.
fn refused(answer: Answer, code: i32, said: &[&str]) {
    assert_eq!(answer.code, Some(code), "exit code; stderr: {}", answer.stderr);
    assert!(answer.stderr.starts_with("错误："), "an error line in Chinese: {}", answer.stderr);
    for s in said {
        assert!(answer.stderr.contains(s), "{s:?} not said: {}", answer.stderr);
    }
    assert!(!answer.stderr.contains("error:"), "no English prefix: {}", answer.stderr);
}

fn ok(store: &Path, args: &[&str]) -> String {
    let answer = onevisit(store, args);
    assert_eq!(answer.code, Some(0), "onevisit {args:?}: {}", answer.stderr);
    answer.stdout
}

/// A device store with the sample directory and a joint task it created, checked in or not.
fn device_with_task(dir: &Path, check_in: bool) -> String {
    ok(dir, &["init", "--inspector", "scjg-01"]);
    ok(dir, &["import", "--sample"]);
    let mut args = vec!["--json".to_string()];
    args.extend(joint_task_args());
    let created = ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let task: serde_json::Value = serde_json::from_str(&created).unwrap();
    let code = task["code"].as_str().unwrap().to_string();
    if check_in {
        ok(dir, &["record", "check-in", &code, "--lat", "30.7", "--lon", "121.0"]);
    }
    code
}

#[test]
fn a_command_before_init_says_to_init_even_where_a_key_file_would_be_read() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("nothing-here");
    refused(onevisit(&store, &["tasks", "list"]), 1, &["没有 OneVisit 设备存储", "onevisit init --inspector"]);
    // enroll reads the key file first in its way: the store is named, not a missing key file.
    let enrol =
        onevisit(&store, &["enroll", "--server", "http://127.0.0.1:9", "--code", "X", "--root", &"ab".repeat(32)]);
    assert!(!enrol.stderr.contains("device.key"), "{}", enrol.stderr);
    refused(enrol, 1, &["onevisit init"]);
    assert!(!store.exists(), "nothing was created");
}

#[test]
fn planning_before_the_directory_is_imported_says_to_import_it() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &["init", "--inspector", "scjg-01"]);
    let args = joint_task_args();
    let answer = onevisit(tmp.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    refused(answer, 1, &["尚未导入名录数据", "onevisit import --sample"]);
}

#[test]
fn mistyped_arguments_exit_2_and_show_the_form_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let code = device_with_task(tmp.path(), true);
    let store = tmp.path();
    // A date written with slashes.
    refused(onevisit(store, &["tasks", "list", "--date", "2026/12/03"]), 2, &["不是日期", "2026-12-01"]);
    // A status that does not exist: the ones that do, with their Chinese names.
    refused(onevisit(store, &["record", "status", &code, "finished"]), 2, &["recorded（已记录）"]);
    // A task code with a typo: the form, and where to find the real ones.
    refused(onevisit(store, &["tasks", "show", "330482-2026"]), 1, &["不是任务编号", "onevisit tasks list"]);
    // A server address without its scheme; a root key that is not one.
    let enrol =
        |server: &str, root: &str| onevisit(store, &["enroll", "--server", server, "--code", "X", "--root", root]);
    refused(enrol("127.0.0.1:8080", &"ab".repeat(32)), 2, &["须以 https:// 开头"]);
    refused(enrol("http://127.0.0.1:9", "not-a-key"), 2, &["64 位十六进制", "onevisit-server root-key"]);
    // A conflict choice counted from 0.
    refused(onevisit(store, &["conflicts", "resolve", &code, "party", "--choose", "0"]), 2, &["从 1 开始"]);
    // A field name that is not one: the names it takes.
    refused(
        onevisit(store, &["conflicts", "resolve", &code, "party-name", "--choose", "1"]),
        1,
        &["onevisit conflicts list"],
    );
}

#[test]
fn recording_out_of_order_says_what_to_do_first() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path();
    let code = device_with_task(store, false);
    // Answering before check-in: check in first (not "the record is Planned").
    refused(
        onevisit(store, &["record", "answer", &code, "SCJG-001-01", "pass"]),
        1,
        &["还没有到场签到", "onevisit record check-in"],
    );
    // A wrong check point is named even before check-in.
    refused(
        onevisit(store, &["record", "answer", &code, "SCJG-009-01", "pass"]),
        1,
        &["SCJG-009-01", "onevisit tasks show"],
    );
    ok(store, &["record", "check-in", &code, "--lat", "30.7", "--lon", "121.0"]);
    // A number check point answered "pass": what it takes.
    refused(onevisit(store, &["record", "answer", &code, "SCJG-001-03", "pass"]), 1, &["应填数值"]);
    // Another department's check point: only one's own.
    refused(onevisit(store, &["record", "answer", &code, "XFJY-001-01", "pass"]), 1, &["每人只填本部门的检查项"]);
    // "photos" for a yes/no check point: what it takes, with the words to type.
    refused(
        onevisit(store, &["record", "answer", &code, "SCJG-001-01", "photos"]),
        1,
        &["应填符合/不符合/不适用（pass、fail、na）"],
    );
    // Evidence that is not there: where the photos are listed.
    refused(
        onevisit(store, &["record", "answer", &code, "SCJG-001-01", "pass", "--evidence", "abc"]),
        1,
        &["onevisit photo list"],
    );
    // Completing with check points unanswered: what is missing.
    refused(onevisit(store, &["record", "status", &code, "recorded"]), 1, &["记录尚不完整，还缺"]);
    // A document before the record is complete: how to complete it.
    refused(onevisit(store, &["document", "render", &code, "--kind", "on-site"]), 1, &["onevisit record status"]);
    // A file that is not a photo.
    let notes = store.join("notes.txt");
    std::fs::write(&notes, "现场笔记").unwrap();
    refused(onevisit(store, &["photo", "add", &code, notes.to_str().unwrap()]), 1, &["不是图片", "JPEG 或 PNG"]);
    // A finding that must be rectified but has no deadline.
    let finding = onevisit(
        store,
        &["record", "finding", &code, "--department", "scjg", "--problem", "许可证未公示", "--basis", "食品安全法"],
    );
    assert_eq!(finding.code, Some(0), "a finding without rectification needs no deadline: {}", finding.stderr);
}

#[test]
fn enrolment_and_sync_mistakes_say_what_the_administrator_or_inspector_does_next() {
    let city = City::new();
    let store = city.path().join("a");
    ok(&store, &["init", "--inspector", "scjg-01"]);
    // Syncing before enrolling: exit 4 and the enroll command.
    refused(onevisit(&store, &["sync"]), 4, &["尚未登记", "onevisit enroll --server"]);
    // An administrator giving a code for someone not in the directory: import first.
    let unknown =
        Command::new(server_bin()).arg("--data").arg(&city.data).args(["enrolment", "nobody"]).output().unwrap();
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("名录中没有执法人员 nobody") && said.contains("import --sample"), "{said}");
    // A code used twice: ask the administrator for a new one.
    let code = city.admin(&["enrolment", "scjg-01"]).trim().to_string();
    ok(&store, &["enroll", "--server", &city.server.base, "--code", &code, "--root", &city.root]);
    let other = city.path().join("b");
    ok(&other, &["init", "--inspector", "scjg-01"]);
    refused(
        onevisit(&other, &["enroll", "--server", &city.server.base, "--code", &code, "--root", &city.root]),
        4,
        &["已经用过", "onevisit-server enrolment"],
    );
    // A revoked device: said once, with what to do (a new store), never the reason twice.
    let device_code = serde_json::from_str::<serde_json::Value>(&city.admin(&["device", "list", "--json"])).unwrap()[0]
        ["device_code"]
        .as_str()
        .unwrap()
        .to_string();
    city.admin(&["revoke", &device_code, "--reason", "设备遗失"]);
    let answer = onevisit(&store, &["sync"]);
    assert_eq!(answer.stderr.matches("设备遗失").count(), 1, "{}", answer.stderr);
    refused(answer, 4, &["已被吊销", "onevisit init"]);
}

#[test]
fn a_bundle_checked_with_the_wrong_root_key_says_to_check_the_key_in_one_line() {
    let city = City::new();
    let task = city.plan_sample_task().to_string();
    let store = city.path().join("a");
    ok(&store, &["init", "--inspector", "scjg-01"]);
    let code = city.admin(&["enrolment", "scjg-01"]).trim().to_string();
    ok(&store, &["enroll", "--server", &city.server.base, "--code", &code, "--root", &city.root]);
    ok(&store, &["sync"]);
    let bag = city.path().join("case.zip");
    ok(&store, &["export", &task, "--out", bag.to_str().unwrap()]);
    let other = hex::encode(onevisit_core::identity::DeviceKey::generate().public_bytes());
    let answer = onevisit(&city.path().join("no-store"), &["verify", bag.to_str().unwrap(), "--root", &other]);
    assert_eq!(answer.stderr.lines().count(), 1, "one line, not every failed check: {}", answer.stderr);
    refused(answer, 3, &["--root 给错了", "onevisit-server root-key"]);
    // Exporting again onto the same path: choose another.
    refused(onevisit(&store, &["export", &task, "--out", bag.to_str().unwrap()]), 1, &["已存在", "--out"]);
}
