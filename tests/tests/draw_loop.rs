//! The reform's whole loop through the real server and two devices, on every backend: a 双随机
//! draw hits one restaurant for market supervision and the fire brigade, which become one joint
//! task; on site the fire inspector finds two problems; the on-site record and the fire order to
//! rectify are signed; the deadline passes (the day injected, not slept); the server plans the
//! re-inspection; one problem is rectified, the other is not and is handed over for a case; the
//! loop closes, and the figures and the 督办 list show exactly that at each step.

#![allow(clippy::unwrap_used, reason = "tests")]

use chrono::{Days, NaiveDate};
use onevisit_core::document::DocumentKind;
use onevisit_core::domain::TaskCode;
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::{AnswerValue, FindingDraft, PartyDraft, Position, RecheckOutcome, Recusal, Status};
use onevisit_core::store::Store;
use onevisit_flow_tests::{
    City, Deployment, ReplicatedCity, complete_recording, cp, named_officers, officer_devices, sign_by_all, sync_ok,
};
use onevisit_test_support::{SampleExif, sample_jpeg};

const PLAN_ID: &str = "2026-闭环-01";

#[test]
fn a_drawn_joint_inspection_goes_round_the_loop_and_the_figures_show_exactly_that() {
    drawn_loop(&City::new());
}

#[test]
fn the_drawn_loop_and_its_figures_are_the_same_on_postgres_and_s3_replicas() {
    drawn_loop(&ReplicatedCity::new());
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap()
}

/// The report from `from` for a month, lateness judged on `today`.
fn report(city: &impl Deployment, from: NaiveDate, today: NaiveDate) -> serde_json::Value {
    let (from, to, today) = (from.to_string(), (from + Days::new(30)).to_string(), today.to_string());
    json(&city.admin(&["report", "--from", &from, "--to", &to, "--today", &today, "--json"]))
}

fn ratio(report: &serde_json::Value, figure: &str) -> [u64; 2] {
    let f = &report["figures"][figure];
    [f["numerator"].as_u64().unwrap(), f["denominator"].as_u64().unwrap()]
}

/// Shows identity, records the party and answers the fire matter XFJY-001 (with a photo) on `code`.
fn record_fire_part(s: &mut Store, code: &TaskCode, here: Position, identity_and_party: bool) {
    s.check_in(code, here).unwrap();
    if identity_and_party {
        s.show_identity(code).unwrap();
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "店长".into(),
            phone: None,
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        s.record_party(code, party).unwrap();
    }
    for p in ["XFJY-001-01", "XFJY-001-02"] {
        s.answer(code, &cp(p), AnswerValue::Pass, None, vec![]).unwrap();
    }
    let pressure = AnswerValue::Number { value: "0.8".into(), unit: "MPa".into() };
    s.answer(code, &cp("XFJY-001-03"), pressure, None, vec![]).unwrap();
    let photo = sample_jpeg(800, 600, Some(&SampleExif::pinghu()));
    let e = s.add_photo(code, &photo, CaptureTarget::CheckPoint("XFJY-001-04".into()), Some(here)).unwrap();
    s.answer(code, &cp("XFJY-001-04"), AnswerValue::Photos, None, vec![e.evidence.sha256]).unwrap();
}

fn drawn_loop(city: &impl Deployment) {
    let today = onevisit_core::beijing::today();
    let deadline = today + Days::new(5);
    let tmp = tempfile::tempdir().unwrap();

    // One restaurant in 钟埭街道, every grade drawn: both departments hit it — one joint task.
    let plan = serde_json::json!({
        "id": PLAN_ID,
        "title": "闭环演示抽查",
        "window": {"start": today, "end": today + Days::new(9)},
        "departments": [
            {"department": "scjg", "matters": ["SCJG-001"]},
            {"department": "xfjy", "matters": ["XFJY-001"]}
        ],
        "grade_ratios": {"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0},
        "towns": ["钟埭街道"],
        "industries": ["餐饮"]
    });
    let plan_file = tmp.path().join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    city.admin(&["draw", "commit", plan_file.to_str().unwrap(), "--json"]);
    let published = json(&city.admin(&["draw", "publish", PLAN_ID, "--json"]));
    assert_eq!((published["created"].as_u64(), published["visits_saved"].as_u64()), (Some(1), Some(1)), "{published}");
    let code = TaskCode::parse(published["task_codes"][0].as_str().unwrap()).unwrap();
    let record = json(&city.admin(&["draw", "record", PLAN_ID]));
    let drawn = &json(record["canonical"].as_str().unwrap())["result"]["tasks"][0];
    let lead = drawn["lead_inspector"].as_str().unwrap().to_string();
    let mut fire: Vec<String> = serde_json::from_value(drawn["departments"][1]["inspectors"].clone()).unwrap();
    fire.sort(); // the first by identifier leads the fire re-inspection
    let a = city.device("lead", &lead);
    let b = city.device("fire", &fire[0]);
    sync_ok(&a);
    sync_ok(&b);

    // On site: market supervision's part by the lead, the fire part and two problems by B.
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, here).unwrap();
        s.show_identity(&code).unwrap();
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "店长".into(),
            phone: None,
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        s.record_party(&code, party).unwrap();
        for p in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
            s.answer(&code, &cp(p), AnswerValue::Pass, None, vec![]).unwrap();
        }
        let cold = AnswerValue::Number { value: "4".into(), unit: "℃".into() };
        s.answer(&code, &cp("SCJG-001-03"), cold, None, vec![]).unwrap();
    }
    {
        let mut s = b.lock().unwrap();
        record_fire_part(&mut s, &code, here, false);
        for problem in ["疏散通道堆放杂物", "灭火器超过有效期"] {
            let finding = FindingDraft {
                department: "xfjy".parse().unwrap(),
                check_point: None,
                problem: problem.into(),
                legal_basis: "《中华人民共和国消防法》第十六条、第二十八条".into(),
                rectification_required: true,
                deadline: Some(deadline),
            };
            s.add_finding(&code, finding).unwrap();
        }
    }
    complete_recording(&a, &b, &code);
    // The on-site record, then the fire order, each signed by both inspectors and the party.
    let on_site = a.lock().unwrap().render_document(&code, DocumentKind::OnSiteRecord, None).unwrap().sha256;
    sync_ok(&a);
    sync_ok(&b);
    sign_by_all(city, &a, &b, &code, &on_site);
    let kind = DocumentKind::RectificationOrder;
    let order = b.lock().unwrap().render_document(&code, kind, Some("xfjy".parse().unwrap())).unwrap().sha256;
    sync_ok(&b);
    sync_ok(&a);
    // Half signed (one of the fire brigade's two officers), the order is on the 督办 list.
    b.lock().unwrap().sign_document(&code, &order).unwrap();
    sync_ok(&b);
    let half = report(city, today, today);
    let unsigned = half["supervision"]["unsigned_documents"].as_array().unwrap();
    assert_eq!(unsigned.len(), 1, "{half}");
    assert_eq!(
        (unsigned[0]["kind"].as_str(), unsigned[0]["department"].as_str()),
        (Some("rectification_order"), Some("xfjy"))
    );
    assert_eq!(unsigned[0]["missing"].as_array().unwrap().len(), 2, "the second fire officer and the party: {half}");
    let fire_second = officer_devices(city, &named_officers(&b, &code, &order), &[&b]);
    assert_eq!(fire_second.len(), 1, "the order names the fire brigade's two officers");
    fire_second[0].lock().unwrap().sign_document(&code, &order).unwrap();
    sync_ok(&fire_second[0]);
    sync_ok(&a);
    let party = onevisit_core::record::documents::PartyAct::Signed {
        name: "沈建国".into(),
        role: "店长".into(),
        image_sha256: String::new(),
    };
    assert!(
        a.lock().unwrap().party_act(&code, &order, party, Some(onevisit_flow_tests::SIGNATURE_PNG)).unwrap().signed
    );
    sync_ok(&a);

    // The deadline passed yesterday: the re-inspection is planned; the command centre sees both
    // rectifications overdue, awaiting it.
    let due = json(&city.admin(&["followup", "plan", "--today", &(deadline + Days::new(1)).to_string(), "--json"]));
    let planned = due["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{due}");
    assert_eq!(planned[0]["inspectors"], serde_json::json!(fire));
    let reinspection = TaskCode::parse(planned[0]["code"].as_str().unwrap()).unwrap();
    let waiting = report(city, today, deadline + Days::new(2));
    assert_eq!(ratio(&waiting, "follow_up_disposed"), [0, 2], "{waiting}");
    let late = waiting["supervision"]["overdue_rectifications"].as_array().unwrap();
    assert_eq!(late.len(), 2, "{waiting}");
    assert!(late.iter().all(|x| x["reinspection"] == reinspection.as_str() && x["days_overdue"] == 2), "{waiting}");
    assert_eq!(waiting["supervision"]["unsigned_documents"], serde_json::json!([]));

    // At the re-inspection: one problem rectified, the other not — handed over for a case.
    sync_ok(&b);
    {
        let mut s = b.lock().unwrap();
        record_fire_part(&mut s, &reinspection, here, true);
        let findings: Vec<String> = serde_json::from_value(planned[0]["findings"].clone()).unwrap();
        let photo = sample_jpeg(640, 480, Some(&SampleExif::pinghu()));
        let e = s.add_photo(&reinspection, &photo, CaptureTarget::Inspection, Some(here)).unwrap();
        let evidence = vec![e.evidence.sha256];
        s.record_recheck(&reinspection, &findings[0], RecheckOutcome::Rectified, None, evidence.clone()).unwrap();
        let transfer = RecheckOutcome::TransferredForCase { reference: "平消立〔2026〕1号".into() };
        s.record_recheck(&reinspection, &findings[1], transfer, Some("逾期仍未更换".into()), evidence).unwrap();
        s.set_status(&reinspection, Status::Recorded).unwrap();
        s.set_status(&reinspection, Status::Closed).unwrap();
    }
    sync_ok(&b);
    let settled = json(&city.admin(&["followup", "plan", "--today", &(deadline + Days::new(2)).to_string(), "--json"]));
    assert_eq!(settled["settled"].as_array().unwrap().len(), 2, "{settled}");
    sync_ok(&a);
    a.lock().unwrap().set_status(&code, Status::Closed).unwrap();
    sync_ok(&a);

    // Judged after the joint task's window: every figure as it happened.
    let done = report(city, today, today + Days::new(10));
    assert_eq!(done["tasks"], 2, "{done}");
    // Two inspections carried out (the joint one, the re-inspection); the re-inspection's on-site
    // record was never rendered.
    assert_eq!(ratio(&done, "handheld_enforcement"), [1, 2], "{done}");
    assert_eq!(ratio(&done, "joint_supervision"), [1, 1]);
    assert_eq!(done["figures"]["visits_saved"], 1);
    assert_eq!(ratio(&done, "planned_tasks_completed"), [1, 1]);
    assert_eq!(ratio(&done, "due_tasks_completed"), [1, 1], "the re-inspection is not due yet");
    assert_eq!(ratio(&done, "follow_up_disposed"), [2, 2]);
    assert_eq!(done["figures"]["findings_closed"], 2);
    assert!(done["figures"]["median_days_to_close"].as_f64().unwrap() < 1.0, "recorded and closed today: {done}");
    let supervision = &done["supervision"];
    for list in ["overdue_tasks", "overdue_rectifications", "open_conflicts", "unsigned_documents"] {
        assert_eq!(supervision[list], serde_json::json!([]), "{list}: {done}");
    }
    let text = city.admin(&["report", "--from", &today.to_string(), "--today", &(today + Days::new(10)).to_string()]);
    assert!(text.contains("后续处置率：100.0%（2/2）") && text.contains("掌上执法率：50.0%（1/2）"), "{text}");

    // The enterprise's file tells the same story: one rectified, one transferred for a case.
    let uscc = drawn["enterprise"].as_str().unwrap();
    let file = json(&city.admin(&["enterprise", uscc, "--json"]));
    let results: Vec<&str> =
        file["tasks"][0]["findings"].as_array().unwrap().iter().map(|f| f["result"].as_str().unwrap()).collect();
    assert_eq!(results.len(), 2, "{file}");
    assert!(results.contains(&"已整改") && results.iter().any(|r| r.contains("移送立案")), "{results:?}");
}
