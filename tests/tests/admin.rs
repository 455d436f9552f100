//! The administrator's commands on a real data directory and server process: listings of devices,
//! tasks and enrolment codes (text in Chinese, JSON for machines), revoking by the 设备编号 a device
//! printed, and the first mistakes (no data directory, a busy port) answered with what to do.

use std::process::Command;

use onevisit_flow_tests::{City, server_bin};

/// Runs `onevisit-server --data DATA args…`, expecting failure; returns stderr.
fn fails(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(server_bin()).arg("--data").arg(data).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_administrator_lists_devices_and_revokes_one_by_the_code_it_printed() {
    let city = City::new();
    let a =
        onevisit_flow_tests::enrolled_device(&city.path().join("a"), "scjg-01", &city.data, &city.server, &city.root);
    onevisit_flow_tests::sync_ok(&a);
    let code = a.lock().unwrap().sync_account().unwrap().unwrap().device_code;
    let text = city.admin(&["device", "list"]);
    assert!(
        text.contains(&code) && text.contains("scjg-01") && text.contains("最近请求") && text.contains("有效"),
        "{text}"
    );
    let out = city.admin(&["revoke", &code.to_ascii_lowercase(), "--reason", "设备遗失"]);
    assert!(out.contains("已吊销设备") && out.contains("北京时间"), "{out}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["device", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["revoked_reason"], "设备遗失");
    // An unknown code says what to do.
    let err = fails(&city.data, &["revoke", "NOSUCH00", "--reason", "x"]);
    assert!(err.contains("NOSUCH00") && err.contains("device list"), "{err}");
}

#[test]
fn an_administrator_lists_tasks_and_enrolment_codes() {
    let city = City::new();
    let code = city.plan_sample_task();
    let tasks: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["task", "list", "--json"])).unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["code"], code.as_str());
    assert_eq!(tasks[0]["status"], "planned");
    assert_eq!(tasks[0]["inspectors"], serde_json::json!(["scjg-01", "scjg-02", "xfjy-01", "xfjy-02"]));
    let text = city.admin(&["task", "list"]);
    assert!(text.contains("待检查") && text.contains(code.as_str()), "{text}");
    city.admin(&["enrolment", "scjg-01"]);
    let _device =
        onevisit_flow_tests::enrolled_device(&city.path().join("b"), "xfjy-01", &city.data, &city.server, &city.root);
    let text = city.admin(&["enrolments"]);
    assert!(text.contains("2 个登记码") && text.contains("未使用") && text.contains("已由设备"), "{text}");
    let codes: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["enrolments", "--json"])).unwrap();
    assert_eq!(codes.iter().filter(|c| c["used_by_device"].is_null()).count(), 1);
}

#[test]
fn a_command_on_a_missing_data_directory_says_to_init_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("no-such-server");
    let err = fails(&data, &["enrolment", "scjg-01"]);
    assert!(err.contains("尚未初始化") && err.contains("init --tenant"), "{err}");
    assert!(!data.exists(), "no empty folder is left behind");
}

#[test]
fn a_busy_port_is_named_with_what_to_do() {
    let city = City::new();
    let err = fails(&city.data, &["serve", "--listen", &city.server.addr]);
    assert!(err.contains(&city.server.addr) && err.contains("端口可能已被占用") && err.contains("--listen"), "{err}");
    // The running server is untouched.
    assert!(onevisit_flow_tests::metrics(&city.server).contains("onevisit_"));
}

#[test]
fn a_team_gets_its_enrolment_codes_at_once_and_a_city_sample_spreads_over_every_department() {
    let city = City::new();
    let codes = city.admin(&["enrolment", "xfjy-02", "--count", "3"]);
    let codes: std::collections::BTreeSet<&str> = codes.lines().collect();
    assert_eq!(codes.len(), 3, "three different codes: {codes:?}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["enrolments", "--json"])).unwrap();
    assert_eq!(listed.iter().filter(|c| c["inspector"] == "xfjy-02").count(), 3);
    let err = fails(&city.data, &["enrolment", "xfjy-02", "--count", "0"]);
    assert!(err.contains("--count"), "{err}");
    // A city's sample year: tasks stored in batches, every department leading its share.
    let created: Vec<String> =
        serde_json::from_str(&city.admin(&["task", "create", "--sample", "1200", "--spread", "--json"])).unwrap();
    assert_eq!(created.len(), 1200);
    assert_eq!(created.iter().collect::<std::collections::BTreeSet<_>>().len(), 1200, "every code once");
    let tasks: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["task", "list", "--json"])).unwrap();
    assert_eq!(tasks.len(), 1200);
    let leads: std::collections::BTreeMap<String, usize> = tasks.iter().fold(Default::default(), |mut m, t| {
        *m.entry(t["lead_department"].as_str().unwrap().to_string()).or_default() += 1;
        m
    });
    assert_eq!(leads.len(), 9, "{leads:?}");
    assert!(leads.values().all(|&n| n == 1200 / 9 || n == 1200 / 9 + 1), "{leads:?}");
}

#[test]
fn a_listing_piped_into_a_reader_that_stops_early_ends_without_a_panic() {
    use std::io::BufRead;
    let city = City::new();
    city.admin(&["task", "create", "--sample", "400", "--spread"]);
    let mut child = Command::new(server_bin())
        .arg("--data")
        .arg(&city.data)
        .args(["task", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap(); // then `head` closes the pipe
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("400 个任务"), "{first}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}
