//! The web console in a real browser: a city recorded by simulated devices through the real server
//! (a joint inspection by three devices, one of whose answers made offline conflicts with the
//! lead's; its on-site record signed by all, the fire order by one inspector only; a photo; a
//! market-supervision task of its own; a handheld to be revoked), then `console-tests/console.mjs`
//! drives Debian's Chromium headless through Playwright: the login, a refused password, the city's
//! figures and chart, the HttpOnly cookie, logout, a department supervisor's own view and their
//! 403 on another's task, the task page (conflict, signatures, photos opening the original), a
//! draw previewed, registered, drawn and its record downloaded, an enrolment code as a QR code, a
//! device revoked, a bundle checked and a tampered one failing by name, and the action log.
//! Afterwards the QR code in the screenshot enrols a new handheld, the revoked one's next sync is
//! refused, and the downloaded draw record verifies. Screenshots land in `console-tests/screenshots/`.
//!
//! `console-tests/firefox.mjs` then goes through the main pages in Firefox (Puppeteer over WebDriver
//! BiDi). Needs `chromium` and `firefox-esr` (`apt-get install chromium firefox-esr`) and `npm ci` in
//! `console-tests/`; `scripts/test.sh` does both.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::PathBuf;
use std::process::Command;

use chrono::Days;
use onevisit_core::bundle::Format;
use onevisit_core::document::DocumentKind;
use onevisit_core::record::{AnswerValue, Position};
use onevisit_core::sync::enrolment_link::EnrolmentLink;
use onevisit_flow_tests::console_client::{ADMIN_PASSWORD, FIRE_PASSWORD, add_accounts};
use onevisit_flow_tests::{
    City, cp, export_bundle, fast_options, fetch_all_photos, record_joint_case, sign_by_all, sync_ok,
    tamper_bundle_photo,
};

fn console_tests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../console-tests")
}

#[test]
fn the_console_works_in_chromium_for_an_administrator_and_a_supervisor() {
    let dir = console_tests();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in console-tests/ first (scripts/test.sh does)"
    );
    let chromium = std::env::var("ONEVISIT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(PathBuf::from(&chromium).exists(), "install Chromium (apt-get install chromium) or set ONEVISIT_CHROMIUM");
    let firefox = std::env::var("ONEVISIT_FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".into());
    assert!(PathBuf::from(&firefox).exists(), "install Firefox (apt-get install firefox-esr) or set ONEVISIT_FIREFOX");
    let shots = dir.join("screenshots");
    let _ = std::fs::remove_dir_all(&shots);

    let city = City::new();
    add_accounts(&city);
    // The joint task, with a second market-supervision inspector whose device holds the task,
    // answers SCJG-001-01 offline before the others record, and syncs only after they signed.
    let code = city.plan_sample_task();
    city.admin(&["task", "assign", code.as_str(), "scjg-02"]);
    let (a, b, c) = (city.device("a", "scjg-01"), city.device("b", "xfjy-01"), city.device("c", "scjg-02"));
    for d in [&a, &b, &c] {
        sync_ok(d);
    }
    {
        let mut s = c.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, Some("标签缺失".into()), vec![]).unwrap();
    }
    record_joint_case(&a, &b, &code);
    let on_site = a.lock().unwrap().render_document(&code, DocumentKind::OnSiteRecord, None).unwrap().sha256;
    sync_ok(&a);
    sync_ok(&b);
    sign_by_all(&city, &a, &b, &code, &on_site);
    // The evidence bundle of the signed on-site record (a half-signed order would not verify).
    let bundle = city.path().join("case.zip");
    fetch_all_photos(&b, &code);
    export_bundle(&b, &code, &bundle, Format::Zip, false);
    let tampered = city.path().join("tampered.zip");
    tamper_bundle_photo(&bundle, &tampered);
    // The fire order signed by one inspector only: on the 督办 list.
    let order = b
        .lock()
        .unwrap()
        .render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap()))
        .unwrap();
    b.lock().unwrap().sign_document(&code, &order.sha256).unwrap();
    sync_ok(&b);
    sync_ok(&c);
    sync_ok(&a);
    let conflicts: Vec<String> =
        a.lock().unwrap().conflicts(&code).unwrap().iter().map(|c| c.field.to_string()).collect();
    assert!(conflicts.contains(&"answer:SCJG-001-01".to_string()), "the late answer conflicts: {conflicts:?}");
    // Market supervision's own task, which the fire supervisor may not open.
    let market_only = market_task(&city);
    // A handheld that is revoked in the browser.
    let lost = city.device("lost", "xfjy-02");
    sync_ok(&lost);
    let lost_code = lost.lock().unwrap().sync_account().unwrap().unwrap().device_code;

    let today = onevisit_core::beijing::today();
    let expect = serde_json::json!({
        "from": (today - Days::new(1)).to_string(),
        "to": (today + Days::new(9)).to_string(),
        "cards": {"掌上执法率": "100.0%（1/1）", "跨部门联合监管率": "100.0%（1/1）"},
        "bars": 3,
        "unsigned": 1,
        "supervisorScope": "一屏掌控 · 平湖市消防救援大队",
        "jointTask": code.as_str(),
        "marketTask": market_only,
        "lostDevice": lost_code,
        "bundle": bundle,
        "tampered": tampered,
    });
    let out = Command::new("node")
        .arg(dir.join("console.mjs"))
        .current_dir(&dir)
        .env("ONEVISIT_BASE", &city.server.base)
        .env("ONEVISIT_SHOTS", &shots)
        .env("ONEVISIT_EXPECT", expect.to_string())
        .env("ONEVISIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ONEVISIT_SUPERVISOR_PASSWORD", FIRE_PASSWORD)
        .env("ONEVISIT_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("passed"), "{stdout}{stderr}");
    // The same pages in Firefox (WebDriver BiDi).
    let out = Command::new("node")
        .arg(dir.join("firefox.mjs"))
        .current_dir(&dir)
        .env("ONEVISIT_BASE", &city.server.base)
        .env("ONEVISIT_SHOTS", &shots)
        .env("ONEVISIT_EXPECT", expect.to_string())
        .env("ONEVISIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ONEVISIT_FIREFOX", &firefox)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("passed"), "{stdout}{stderr}");
    for shot in [
        "01-login",
        "02-dashboard-city",
        "03-dashboard-supervisor",
        "04-forbidden",
        "05-task",
        "06-draw-preview",
        "07-draw-published",
        "08-enrolment",
        "09-devices",
        "10-bundle-valid",
        "11-bundle-tampered",
        "12-actions",
        "firefox-dashboard",
        "firefox-tasks",
        "firefox-task",
        "firefox-draw-preview",
        "firefox-enrolment",
        "firefox-bundle",
    ] {
        let png = std::fs::read(shots.join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 2_000, "{shot}: {} bytes", png.len());
    }

    // The QR code as the browser showed it enrols a new handheld, which then syncs.
    let qr = image::open(shots.join("qr.png")).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(qr);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the screenshot");
    let (_, text) = grids[0].decode().unwrap();
    let link = EnrolmentLink::parse(&text).unwrap();
    let mut store = onevisit_flow_tests::device(&city.path().join("scanned"), "xfjy-03");
    onevisit_core::sync::enrol(&mut store, &link.server, &link.code, &link.root).unwrap();
    sync_ok(&std::sync::Mutex::new(store));
    // The device revoked in the browser: its next sync is refused, with the reason given there.
    let refused = onevisit_core::sync::sync(&lost, &fast_options(), &|_| {}, &Default::default()).unwrap_err();
    assert!(refused.to_string().contains("设备遗失（浏览器测试）"), "{refused}");
    // The draw record downloaded in the browser verifies.
    let record = shots.join("draw-record.json");
    assert!(city.admin(&["draw", "verify", record.to_str().unwrap()]).contains("核验通过"));
}

/// Plans a task of market supervision alone; returns its code.
fn market_task(city: &City) -> String {
    let uscc = {
        let data: serde_json::Value = serde_json::from_str(onevisit_core::domain::SAMPLE_DIRECTORY_JSON).unwrap();
        data["enterprises"][1]["uscc"].as_str().unwrap().to_string()
    };
    let drafts = city.path().join("market.json");
    let today = onevisit_core::beijing::today();
    let draft = serde_json::json!([{
        "enterprise": uscc, "lead_department": "scjg", "departments": ["scjg"],
        "inspectors": ["scjg-01", "scjg-02"], "lead_inspector": "scjg-01", "matters": ["SCJG-001"],
        "window": {"start": today, "end": today + Days::new(6)}, "source": {"kind": "plan", "reference": "2026-12"}
    }]);
    std::fs::write(&drafts, draft.to_string()).unwrap();
    let created: Vec<String> =
        serde_json::from_str(&city.admin(&["task", "create", drafts.to_str().unwrap(), "--json"])).unwrap();
    created[0].clone()
}
