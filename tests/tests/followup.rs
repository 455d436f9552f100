//! The closed loop's first step through the real server: a joint inspection's fire finding under
//! an order to rectify; once the order is signed and its deadline has passed (the day injected),
//! the server plans the fire department's re-inspection once, and the fire inspector's device
//! receives it, finds it rectified with a photo; the server closes the loop on the inspected task,
//! which may then close; the enterprise's file (一企一档) shows it all.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::Mutex;

use onevisit_core::document::DocumentKind;
use onevisit_core::domain::TaskCode;
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::{Position, RecheckOutcome, Status};
use onevisit_core::store::Store;
use onevisit_flow_tests::{City, Deployment, ReplicatedCity, recorded_case, sign_by_all, sync_ok};
use onevisit_test_support::{SampleExif, sample_jpeg};

fn plan(city: &impl Deployment, today: &str) -> serde_json::Value {
    serde_json::from_str(&city.admin(&["followup", "plan", "--today", today, "--json"])).unwrap()
}

/// The city's report for November and December 2026, lateness judged on `today`.
fn report(city: &impl Deployment, today: &str, department: Option<&str>) -> serde_json::Value {
    let mut args = vec!["report", "--from", "2026-11-01", "--to", "2026-12-31", "--today", today, "--json"];
    if let Some(d) = department {
        args.extend(["--department", d]);
    }
    serde_json::from_str(&city.admin(&args)).unwrap()
}

/// A figure as `[numerator, denominator]`.
fn ratio(report: &serde_json::Value, figure: &str) -> [u64; 2] {
    let f = &report["figures"][figure];
    [f["numerator"].as_u64().unwrap(), f["denominator"].as_u64().unwrap()]
}

/// The fire inspector at the re-inspection: checks in, takes a photo, records `outcome` for `finding`.
fn recheck(b: &Mutex<Store>, reinspection: &TaskCode, finding: &str, outcome: RecheckOutcome) {
    let mut s = b.lock().unwrap();
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    s.check_in(reinspection, here).unwrap();
    let photo = sample_jpeg(640, 480, Some(&SampleExif::pinghu()));
    let e = s.add_photo(reinspection, &photo, CaptureTarget::Inspection, Some(here)).unwrap();
    s.record_recheck(reinspection, finding, outcome, None, vec![e.evidence.sha256]).unwrap();
}

/// The fire inspector renders the fire order to rectify; both devices sync. Returns its version.
fn render_fire_order(a: &Mutex<Store>, b: &Mutex<Store>, code: &TaskCode) -> String {
    let order = b
        .lock()
        .unwrap()
        .render_document(code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap()))
        .unwrap()
        .sha256;
    sync_ok(b);
    sync_ok(a);
    order
}

/// The recorded case with its fire order signed (deadline 2026-12-20).
fn signed_order(city: &impl Deployment) -> (Mutex<Store>, Mutex<Store>, TaskCode) {
    let (a, b, code) = recorded_case(city);
    let order = render_fire_order(&a, &b, &code);
    sign_by_all(city, &a, &b, &code, &order);
    (a, b, code)
}

#[test]
fn a_new_deadline_at_the_reinspection_goes_round_the_loop_again() {
    new_deadline_round(&City::new());
}

#[test]
fn a_new_deadline_goes_round_the_loop_again_on_postgres_and_s3_replicas() {
    new_deadline_round(&ReplicatedCity::new());
}

fn new_deadline_round(city: &impl Deployment) {
    let (a, b, code) = signed_order(city);
    let first = plan(city, "2026-12-21");
    let r = &first["planned"][0];
    let finding = r["findings"][0].as_str().unwrap().to_string();
    let reinspection = TaskCode::parse(r["code"].as_str().unwrap()).unwrap();
    sync_ok(&b);
    let new_deadline = chrono::NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
    recheck(&b, &reinspection, &finding, RecheckOutcome::NewDeadline { deadline: new_deadline });
    sync_ok(&b);
    // Not settled, and nothing due before the new deadline passes.
    let waiting = plan(city, "2027-01-10");
    assert_eq!((waiting["planned"].as_array().unwrap().len(), waiting["settled"].as_array().unwrap().len()), (0, 0));
    let again = plan(city, "2027-01-11");
    let second = &again["planned"].as_array().unwrap()[0];
    assert_eq!(second["findings"], serde_json::json!([finding]));
    assert_eq!(second["deadline"], "2027-01-10");
    assert_ne!(second["code"], r["code"]);
    sync_ok(&a);
    let err = a.lock().unwrap().set_status(&code, Status::Closed).unwrap_err();
    assert!(err.to_string().contains("尚未闭环"), "{err}");
    // Then handed over for a case: the loop is settled.
    sync_ok(&b);
    let second = TaskCode::parse(second["code"].as_str().unwrap()).unwrap();
    recheck(&b, &second, &finding, RecheckOutcome::TransferredForCase { reference: "平消立〔2027〕3号".into() });
    sync_ok(&b);
    assert_eq!(plan(city, "2027-01-20")["settled"].as_array().unwrap().len(), 1);
    sync_ok(&a);
    a.lock().unwrap().set_status(&code, Status::Closed).unwrap();
}

#[test]
fn a_signed_order_past_its_deadline_gets_one_reinspection_and_the_loop_closes() {
    let city = City::new();
    whole_loop(&city);
    // Summaries lost or of an older layout (a database from before they were kept) are
    // computed again from the records on the next report, and kept.
    let before = report(&city, "2027-01-05", None);
    let db = rusqlite::Connection::open(city.data.join("server.sqlite")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute("DELETE FROM record_facts WHERE doc = (SELECT min(doc) FROM record_facts)", []).unwrap();
    db.execute("UPDATE record_facts SET facts = '{\"v\":0}'", []).unwrap();
    assert_eq!(report(&city, "2027-01-05", None), before);
    let kept: i64 =
        db.query_row("SELECT count(*) FROM record_facts WHERE facts LIKE '{\"v\":2,%'", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, 2);
    for bad in [["--from", "2026-12-31", "--to", "2026-12-01"], ["--department", "nope", "--to", "2026-12-01"]] {
        let out = std::process::Command::new(onevisit_flow_tests::server_bin())
            .arg("--data")
            .arg(&city.data)
            .arg("report")
            .args(bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && (stderr.contains("晚于") || stderr.contains("没有部门")), "{stderr}");
    }
    let err = std::process::Command::new(onevisit_flow_tests::server_bin())
        .arg("--data")
        .arg(&city.data)
        .args(["enterprise", "913304820000000000"])
        .output()
        .unwrap();
    assert!(!err.status.success() && String::from_utf8_lossy(&err.stderr).contains("统一社会信用代码"));
}

#[test]
fn the_whole_loop_runs_the_same_on_postgres_and_s3_replicas() {
    whole_loop(&ReplicatedCity::new());
}

fn whole_loop(city: &impl Deployment) {
    let (a, b, code) = recorded_case(city); // the fire finding's deadline is 2026-12-20
    let order = render_fire_order(&a, &b, &code);
    // Not signed yet: nothing is due, whatever the day.
    assert_eq!(plan(city, "2027-01-31")["planned"], serde_json::json!([]));
    sign_by_all(city, &a, &b, &code, &order);
    // Signed, but the deadline has not passed.
    assert_eq!(plan(city, "2026-12-20")["planned"], serde_json::json!([]));
    let due = plan(city, "2026-12-21");
    let planned = due["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{due}");
    let r = &planned[0];
    assert_eq!(r["of_task"], code.as_str());
    assert_eq!(r["department"], "xfjy");
    assert_eq!(r["deadline"], "2026-12-20");
    assert_eq!(r["findings"].as_array().unwrap().len(), 1);
    assert_eq!(r["inspectors"], serde_json::json!(["xfjy-01", "xfjy-02"]), "the same officer, topped up to two");
    // Planned once: the next run plans nothing more.
    assert_eq!(plan(city, "2026-12-22")["planned"], serde_json::json!([]));
    // The fire inspector's device receives the re-inspection with its source.
    sync_ok(&b);
    let reinspection = TaskCode::parse(r["code"].as_str().unwrap()).unwrap();
    let row = b.lock().unwrap().task_row(&reinspection).unwrap();
    assert_eq!(row.source, "re_inspection");
    assert_eq!(row.lead_department, "xfjy");
    assert_eq!(row.window_start.to_string(), "2026-12-21");
    let text = city.admin(&["followup", "plan", "--today", "2026-12-23"]);
    assert!(text.contains("安排复查任务 0 个"), "{text}");
    // The command centre sees the rectification overdue, its re-inspection awaited, nothing
    // followed up yet.
    let waiting = report(city, "2026-12-23", None);
    assert_eq!(ratio(&waiting, "follow_up_disposed"), [0, 1], "{waiting}");
    let late = &waiting["supervision"]["overdue_rectifications"];
    assert_eq!(late.as_array().unwrap().len(), 1, "{waiting}");
    assert_eq!(late[0]["task"], code.as_str());
    assert_eq!((late[0]["days_overdue"].as_i64(), late[0]["ordered"].as_bool()), (Some(3), Some(true)));
    assert_eq!(late[0]["reinspection"], r["code"]);

    // At the re-inspection the fire inspector finds it rectified, with a photo.
    let finding = r["findings"][0].as_str().unwrap().to_string();
    {
        let mut s = b.lock().unwrap();
        let here = Position::wgs84(30.7, 121.0, 5).unwrap();
        s.check_in(&reinspection, here).unwrap();
        let photo = sample_jpeg(640, 480, Some(&SampleExif::pinghu()));
        let e = s.add_photo(&reinspection, &photo, CaptureTarget::Inspection, Some(here)).unwrap();
        let err = s
            .record_recheck(
                &reinspection,
                "not-a-finding",
                RecheckOutcome::Rectified,
                None,
                vec![e.evidence.sha256.clone()],
            )
            .unwrap_err();
        assert!(err.to_string().contains("不在本复查任务的复查范围内"), "{err}");
        s.record_recheck(
            &reinspection,
            &finding,
            RecheckOutcome::Rectified,
            Some("通道已清空".into()),
            vec![e.evidence.sha256],
        )
        .unwrap();
    }
    sync_ok(&b);
    // The inspected task cannot close before the result reaches it …
    sync_ok(&a);
    let err = a.lock().unwrap().set_status(&code, Status::Closed).unwrap_err();
    assert!(err.to_string().contains("尚未闭环"), "{err}");
    // … which the server's daily run does; then the lead closes it and the server takes that.
    let run = plan(city, "2026-12-24");
    assert_eq!(run["settled"], serde_json::json!([format!("{}/{finding}", code.as_str())]), "{run}");
    assert_eq!(run["planned"], serde_json::json!([]));
    sync_ok(&a);
    a.lock().unwrap().set_status(&code, Status::Closed).unwrap();
    sync_ok(&a);
    assert_eq!(plan(city, "2026-12-25")["settled"], serde_json::json!([]), "settled once");

    // The figures, from the summaries every write above stored (device pushes, planning, the
    // loop's settling): one joint inspection carried out (its on-site record never signed), its
    // finding followed up and closed; the re-inspection, still on site, is overdue by 5 January.
    let figures = report(city, "2027-01-05", None);
    assert_eq!(figures["tasks"], 2, "{figures}");
    assert_eq!(ratio(&figures, "handheld_enforcement"), [0, 1]);
    assert_eq!(ratio(&figures, "joint_supervision"), [1, 1]);
    assert_eq!(figures["figures"]["visits_saved"], 1);
    assert_eq!(ratio(&figures, "planned_tasks_completed"), [1, 1]);
    assert_eq!(ratio(&figures, "due_tasks_completed"), [1, 2]);
    assert_eq!(ratio(&figures, "follow_up_disposed"), [1, 1]);
    assert_eq!(figures["figures"]["findings_closed"], 1);
    let supervision = &figures["supervision"];
    assert_eq!(supervision["overdue_tasks"][0]["code"], r["code"], "{figures}");
    assert_eq!(supervision["overdue_tasks"].as_array().unwrap().len(), 1);
    assert_eq!(supervision["overdue_rectifications"], serde_json::json!([]));
    assert_eq!(supervision["unsigned_documents"], serde_json::json!([]), "the fire order is signed by all");
    assert_eq!(figures["unreadable"], serde_json::json!([]));
    // Market supervision's view: its task only, no finding of its own.
    let scjg = report(city, "2027-01-05", Some("scjg"));
    assert_eq!((scjg["tasks"].as_u64(), ratio(&scjg, "follow_up_disposed")), (Some(1), [0, 0]));
    assert_eq!(scjg["figures"]["follow_up_disposed"]["rate"], serde_json::Value::Null);
    let text = city.admin(&["report", "--from", "2026-11-01", "--to", "2026-12-31", "--today", "2027-01-05"]);
    assert!(text.contains("跨部门联合监管率：100.0%（1/1）") && text.contains("督办：逾期任务 1 个"), "{text}");

    // The enterprise's file: the inspection, its finding under a signed order, then the re-inspection.
    let uscc = b.lock().unwrap().task_row(&code).unwrap().enterprise_uscc;
    let file: serde_json::Value = serde_json::from_str(&city.admin(&["enterprise", &uscc, "--json"])).unwrap();
    let tasks = file["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{file}");
    let (first, second) = (&tasks[0], &tasks[1]);
    assert_eq!(first["code"], code.as_str());
    assert_eq!(first["status"], "closed");
    assert_eq!(first["findings"][0]["result"], "已整改");
    assert_eq!(first["findings"][0]["settled"], true);
    assert_eq!(first["findings"][0]["department"], "xfjy");
    assert_eq!(first["findings"][0]["deadline"], "2026-12-20");
    assert_eq!(first["findings"][0]["reinspection"], r["code"]);
    assert_eq!(
        first["orders"],
        serde_json::json!([{"department": "xfjy", "number": first["orders"][0]["number"], "signed": true}])
    );
    assert_eq!(first["reinspections"], serde_json::json!([r["code"]]));
    assert_eq!(second["code"], r["code"]);
    assert_eq!(second["source"], "re_inspection");
    assert_eq!(second["of_task"], code.as_str());
    let text = city.admin(&["enterprise", &uscc]);
    assert!(text.contains("一企一档") && text.contains("已闭环") && text.contains("已签署"), "{text}");
}
