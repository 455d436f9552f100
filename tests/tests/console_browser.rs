//! The web console in a real browser: a city recorded by two simulated devices through the real
//! server (a joint inspection, its on-site record signed by all, the fire order signed by one
//! inspector only), then `console-tests/console.mjs` drives Debian's Chromium headless through
//! Playwright: the login, a refused password, the city's figures and chart, the HttpOnly cookie,
//! logout, and a department supervisor's own view. Screenshots land in `console-tests/screenshots/`.
//!
//! Needs `chromium` (`apt-get install chromium`) and `npm ci` in `console-tests/`; `scripts/test.sh`
//! does both.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::PathBuf;
use std::process::Command;

use chrono::Days;
use onevisit_core::document::DocumentKind;
use onevisit_flow_tests::console_client::{ADMIN_PASSWORD, FIRE_PASSWORD, add_accounts};
use onevisit_flow_tests::{City, recorded_case, sign_by_all, sync_ok};

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

    let city = City::new();
    add_accounts(&city);
    let (a, b, code) = recorded_case(&city);
    let on_site = a.lock().unwrap().render_document(&code, DocumentKind::OnSiteRecord, None).unwrap().sha256;
    sync_ok(&a);
    sync_ok(&b);
    sign_by_all(&a, &b, &code, &on_site);
    // The fire order signed by one inspector only: on the 督办 list.
    let order = b
        .lock()
        .unwrap()
        .render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap()))
        .unwrap();
    b.lock().unwrap().sign_document(&code, &order.sha256).unwrap();
    sync_ok(&b);

    let today = onevisit_core::beijing::today();
    let expect = serde_json::json!({
        "from": (today - Days::new(1)).to_string(),
        "to": (today + Days::new(1)).to_string(),
        "cards": {"掌上执法率": "100.0%（1/1）", "跨部门联合监管率": "100.0%（1/1）", "计划任务完成率": "100.0%（1/1）"},
        "bars": 3,
        "unsigned": 1,
        "supervisorScope": "一屏掌控 · 平湖市消防救援大队",
    });
    let out = Command::new("node")
        .arg(dir.join("console.mjs"))
        .current_dir(&dir)
        .env("ONEVISIT_BASE", &city.server.base)
        .env("ONEVISIT_SHOTS", dir.join("screenshots"))
        .env("ONEVISIT_EXPECT", expect.to_string())
        .env("ONEVISIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ONEVISIT_SUPERVISOR_PASSWORD", FIRE_PASSWORD)
        .env("ONEVISIT_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("passed"), "{stdout}{stderr}");
    for shot in ["01-login", "02-dashboard-city", "03-dashboard-supervisor"] {
        let png = std::fs::read(dir.join("screenshots").join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 2_000, "{shot}: {} bytes", png.len());
    }
}
