//! What people change in the web console, through the real server on every backend (behind the
//! two-replica balancer each request may land on either replica): a task's photos (thumbnail and
//! original) and its edit history, enrolment codes a handheld uses, revoking a device (its next
//! sync is refused), a 双随机 plan previewed, registered and drawn, an evidence bundle checked
//! (and a tampered one failing by name), and every change in the signed action log. Only an
//! administrator changes anything; supervisors and auditors are refused, and so is a form
//! without its CSRF token.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::Mutex;

use chrono::Days;
use onevisit_core::bundle::Format;
use onevisit_core::store::Store;
use onevisit_core::sync::enrolment_link::EnrolmentLink;
use onevisit_flow_tests::console_client::{ADMIN_PASSWORD, ConsoleClient, FIRE_PASSWORD, add_accounts, hidden};
use onevisit_flow_tests::{City, Deployment, ReplicatedCity, admin_with_input, export_bundle, fast_options};
use sha2::{Digest, Sha256};

const AUDIT_PASSWORD: &str = "correct-horse-audit";

fn logged_in(city: &impl Deployment, name: &str, password: &str) -> ConsoleClient {
    let mut client = ConsoleClient::new(&city.base());
    let answer = client.login(name, password);
    assert_eq!(answer.status, 303, "{}", answer.body);
    client
}

/// The text of the element with `id`, up to the next tag, entities of quotes decoded.
fn text_of(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = html.find(&marker).unwrap_or_else(|| panic!("#{id} in {html}")) + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    html[start..end].replace("&#34;", "\"").replace("&#38;", "&").replace("&#39;", "'")
}

#[test]
fn console_changes_hold_on_the_embedded_default() {
    changes(&City::new());
}

#[test]
fn console_changes_hold_across_replicas_on_postgres_and_s3() {
    changes(&ReplicatedCity::new());
}

fn changes(city: &impl Deployment) {
    add_accounts(city);
    let (ok, out, err) =
        admin_with_input(city.data(), &["user", "add", "audit", "--role", "auditor"], &format!("{AUDIT_PASSWORD}\n"));
    assert!(ok, "{out}{err}");
    let (_a, b, code) = onevisit_flow_tests::recorded_case(city);
    let mut admin = logged_in(city, "admin", ADMIN_PASSWORD);
    let mut fire = logged_in(city, "fire", FIRE_PASSWORD);
    let mut audit = logged_in(city, "audit", AUDIT_PASSWORD);
    let csrf = admin.csrf();

    // The task page: the photo as a thumbnail opening the original, and who wrote what.
    let task = format!("/console/tasks/{}", code.as_str());
    let page = admin.get(&task);
    let link = format!("{task}/photos/");
    let at = page.body.find(&link).unwrap() + link.len();
    let sha = page.body[at..at + 64].to_string();
    let (original, bytes) = admin.get_bytes(&format!("{link}{sha}"));
    assert_eq!((original.status, original.content_type.as_deref()), (200, Some("image/jpeg")));
    assert_eq!(hex::encode(Sha256::digest(&bytes)), sha, "the original, byte for byte");
    let (thumb, bytes) = admin.get_bytes(&format!("{link}{sha}?thumbnail=1"));
    assert_eq!(thumb.status, 200);
    let image = image::load_from_memory(&bytes).unwrap();
    assert!(
        image.width() <= 320 && image.height() <= 320 && image.width() >= 100,
        "{}x{}",
        image.width(),
        image.height()
    );
    for text in ["编辑记录", "赵明（设备 ", "何杰（设备 ", "附上照片", "填写检查要点", "服务器（计划与调度）"]
    {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    assert_eq!(admin.get_bytes(&format!("{link}{}", "0".repeat(64))).0.status, 404, "a photo the record does not list");
    assert_eq!(ConsoleClient::new(&city.base()).get_bytes(&format!("{link}{sha}")).0.status, 303, "no session");

    // Enrolment codes: an administrator's only; the link on the page enrols a handheld.
    let base = city.base();
    let enrol = |client: &mut ConsoleClient, token: &str| {
        let fields = [("csrf", token), ("inspector", "xfjy-02"), ("valid_hours", "2"), ("server", base.as_str())];
        client.post("/console/devices/enrolments", &fields)
    };
    let fire_csrf = fire.csrf();
    assert_eq!(enrol(&mut fire, &fire_csrf).status, 403, "a supervisor");
    let audit_csrf = audit.csrf();
    assert_eq!(enrol(&mut audit, &audit_csrf).status, 403, "an auditor");
    assert_eq!(enrol(&mut admin, "").status, 403, "no CSRF token");
    let shown = enrol(&mut admin, &csrf);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("<svg"), "the QR code");
    let link = EnrolmentLink::parse(&text_of(&shown.body, "enrolment-link")).unwrap();
    assert_eq!(link.code, text_of(&shown.body, "enrolment-code"));
    let tmp = tempfile::tempdir().unwrap();
    let mut store = onevisit_flow_tests::device(&tmp.path().join("scanned"), "xfjy-02");
    let account = onevisit_core::sync::enrol(&mut store, &link.server, &link.code, &link.root).unwrap();
    let scanned = Mutex::new(store);
    onevisit_flow_tests::sync_ok(&scanned);

    // The devices page lists it with its last sync; revoking needs a reason, then its next sync fails.
    let devices = admin.get("/console/devices");
    assert!(devices.body.contains(&account.device_code), "{}", devices.body);
    let device = device_id(&scanned);
    let revoke = format!("/console/devices/{device}/revoke");
    assert_eq!(fire.post(&revoke, &[("csrf", &fire_csrf), ("reason", "设备遗失")]).status, 403);
    assert_eq!(audit.post(&revoke, &[("csrf", &audit_csrf), ("reason", "设备遗失")]).status, 403);
    assert_eq!(admin.post(&revoke, &[("csrf", "0"), ("reason", "设备遗失")]).status, 403);
    let empty = admin.post(&revoke, &[("csrf", &csrf), ("reason", "  ")]);
    assert!(empty.status == 400 && empty.body.contains("原因"), "{}", empty.body);
    let done = admin.post(&revoke, &[("csrf", &csrf), ("reason", "设备遗失<script>")]);
    assert_eq!(done.location, Some(format!("/console/devices?revoked={}", account.device_code)));
    let refused = onevisit_core::sync::sync(&scanned, &fast_options(), &|_| {}, &Default::default()).unwrap_err();
    assert!(refused.to_string().contains("设备遗失"), "{refused}");
    let devices = admin.get("/console/devices");
    assert!(devices.body.contains("已吊销") && devices.body.contains("设备遗失&#60;script&#62;"), "{}", devices.body);
    assert_eq!(admin.post(&revoke, &[("csrf", &csrf), ("reason", "再次")]).status, 400, "revoked once");

    // A plan: previewed with the pool and the joint tasks it forms, registered, then drawn.
    let today = onevisit_core::beijing::today();
    let (start, end) = (today.to_string(), (today + Days::new(9)).to_string());
    let plan = |token: &str| -> Vec<(String, String)> {
        [
            ("csrf", token),
            ("plan_id", "2026-控制台-01"),
            ("title", "控制台抽查"),
            ("start", &start),
            ("end", &end),
            ("ratio_A", "100"),
            ("ratio_B", "100"),
            ("ratio_C", "100"),
            ("ratio_D", "100"),
            ("department", "scjg"),
            ("matter", "scjg/SCJG-001"),
            ("department", "xfjy"),
            ("matter", "xfjy/XFJY-001"),
            ("towns", "钟埭街道"),
            ("industries", "餐饮"),
            ("inspectors_per_department", "2"),
            ("exclude_last_inspectors", "on"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let post = |client: &mut ConsoleClient, path: &str, fields: &[(String, String)]| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        client.post(path, &fields)
    };
    assert_eq!(post(&mut fire, "/console/draws/preview", &plan(&fire_csrf)).status, 403);
    let preview = post(&mut admin, "/console/draws/preview", &plan(&csrf));
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!(text_of(&preview.body, "preview-tasks"), "1", "one restaurant in 钟埭街道: {}", preview.body);
    assert_eq!(text_of(&preview.body, "preview-joint"), "1");
    let mut bad = plan(&csrf);
    bad.retain(|(k, _)| k != "ratio_A");
    bad.push(("ratio_A".into(), "150".into()));
    assert!(post(&mut admin, "/console/draws/preview", &bad).body.contains("0–100"));
    let plan_json = hidden(&preview.body, "plan").unwrap().replace("&#34;", "\"");
    assert_eq!(audit.post("/console/draws/commit", &[("csrf", &audit_csrf), ("plan", &plan_json)]).status, 403);
    let committed = admin.post("/console/draws/commit", &[("csrf", &csrf), ("plan", &plan_json)]);
    let shown = committed.location.unwrap();
    assert!(admin.get(&shown).body.contains("尚未抽取"));
    let plan_id = "2026-控制台-01";
    assert_eq!(fire.post("/console/draws/publish", &[("csrf", &fire_csrf), ("plan_id", plan_id)]).status, 403);
    std::thread::sleep(std::time::Duration::from_millis(5)); // publishing must come after the commitment
    let published = admin.post("/console/draws/publish", &[("csrf", &csrf), ("plan_id", plan_id)]);
    assert_eq!(published.location.as_deref(), Some(shown.as_str()), "{}", published.body);
    let draw = admin.get(&shown);
    assert!(draw.body.contains("已于") && draw.body.contains("/console/tasks/330482-"), "{}", draw.body);
    let again = admin.post("/console/draws/publish", &[("csrf", &csrf), ("plan_id", plan_id)]);
    assert_eq!(again.status, 400, "drawn once: {}", again.body);
    let (record, bytes) = admin.get_bytes(&shown.replace("/show?", "/record?"));
    assert_eq!(record.status, 200);
    let file = tmp.path().join("record.json");
    std::fs::write(&file, bytes).unwrap();
    assert!(city.admin(&["draw", "verify", file.to_str().unwrap()]).contains("核验通过"));

    // An evidence bundle checked on the page; a tampered one fails by name.
    let zip = tmp.path().join("case.zip");
    export_bundle(&b, &code, &zip, Format::Zip, false);
    let bytes = std::fs::read(&zip).unwrap();
    let checked = admin.post_file("/console/bundles/check", &[("csrf", &csrf)], "bundle", "case.zip", &bytes);
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(text_of(&checked.body, "bundle-summary").starts_with("全部"), "{}", checked.body);
    for name in ["内容清单", "封签", "设备证书", "照片采集记录"] {
        assert!(checked.body.contains(&format!("<td>{name}</td>")), "{name}");
    }
    let tampered_zip = tmp.path().join("tampered.zip");
    onevisit_flow_tests::tamper_bundle_photo(&zip, &tampered_zip);
    let tampered = std::fs::read(&tampered_zip).unwrap();
    let checked = audit.post_file("/console/bundles/check", &[("csrf", &audit_csrf)], "bundle", "t.zip", &tampered);
    assert!(text_of(&checked.body, "bundle-summary").contains("项未通过"), "{}", checked.body);
    assert!(checked.body.contains("<tr class=\"fail\"><td>内容清单</td>"), "{}", checked.body);
    let no_token = admin.post_file("/console/bundles/check", &[("csrf", "0")], "bundle", "case.zip", &bytes);
    assert_eq!(no_token.status, 403);
    let junk = admin.post_file("/console/bundles/check", &[("csrf", &csrf)], "bundle", "x.zip", b"not a zip");
    assert_eq!(junk.status, 400, "{}", junk.body);

    // Every change is in the signed action log, which supervisors do not read.
    let log = audit.get("/console/actions");
    assert_eq!(log.status, 200);
    for action in ["生成设备登记码", "吊销设备", "登记抽查计划并公示种子哈希", "抽取并发布抽查结果"]
    {
        assert_eq!(log.body.matches(&format!("<td>{action}</td>")).count(), 1, "{action}: {}", log.body);
    }
    assert_eq!(log.body.matches("签名有效，链接完整").count(), 4, "{}", log.body);
    assert!(log.body.contains("设备遗失&#60;script&#62;"));
    assert_eq!(fire.get("/console/actions").status, 403);
}

fn device_id(store: &Mutex<Store>) -> String {
    store.lock().unwrap().device_key().device_id()
}
