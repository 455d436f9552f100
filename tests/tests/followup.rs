//! The closed loop's first step through the real server: a joint inspection's fire finding under
//! an order to rectify; once the order is signed and its deadline has passed (the day injected),
//! the server plans the fire department's re-inspection once, and the fire inspector's device
//! receives it.

#![allow(clippy::unwrap_used, reason = "tests")]

use onevisit_core::document::DocumentKind;
use onevisit_flow_tests::{City, recorded_case, sign_by_all, sync_ok};

fn plan(city: &City, today: &str) -> serde_json::Value {
    serde_json::from_str(&city.admin(&["followup", "plan", "--today", today, "--json"])).unwrap()
}

#[test]
fn a_signed_order_past_its_deadline_gets_one_reinspection_by_its_department() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city); // the fire finding's deadline is 2026-12-20
    let order = b
        .lock()
        .unwrap()
        .render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap()))
        .unwrap()
        .sha256;
    sync_ok(&b);
    sync_ok(&a);
    // Not signed yet: nothing is due, whatever the day.
    assert_eq!(plan(&city, "2027-01-31")["planned"], serde_json::json!([]));
    sign_by_all(&a, &b, &code, &order);
    // Signed, but the deadline has not passed.
    assert_eq!(plan(&city, "2026-12-20")["planned"], serde_json::json!([]));
    let due = plan(&city, "2026-12-21");
    let planned = due["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{due}");
    let r = &planned[0];
    assert_eq!(r["of_task"], code.as_str());
    assert_eq!(r["department"], "xfjy");
    assert_eq!(r["deadline"], "2026-12-20");
    assert_eq!(r["findings"].as_array().unwrap().len(), 1);
    assert_eq!(r["inspectors"], serde_json::json!(["xfjy-01", "xfjy-02"]), "the same officer, topped up to two");
    // Planned once: the next run plans nothing more.
    assert_eq!(plan(&city, "2026-12-22")["planned"], serde_json::json!([]));
    // The fire inspector's device receives the re-inspection with its source.
    sync_ok(&b);
    let reinspection = onevisit_core::domain::TaskCode::parse(r["code"].as_str().unwrap()).unwrap();
    let row = b.lock().unwrap().task_row(&reinspection).unwrap();
    assert_eq!(row.source, "re_inspection");
    assert_eq!(row.lead_department, "xfjy");
    assert_eq!(row.window_start.to_string(), "2026-12-21");
    let text = city.admin(&["followup", "plan", "--today", "2026-12-23"]);
    assert!(text.contains("安排复查任务 0 个"), "{text}");
}
