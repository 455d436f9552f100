//! The web console's doors, through the real server on every backend (behind the two-replica
//! balancer, each request may land on either replica): nothing answers without a session, every
//! form needs its session's CSRF token, wrong passwords lock out, a changed password or a disabled
//! account ends the session at once, a supervisor sees only their department, and whatever the
//! data holds is shown as text.

#![allow(clippy::unwrap_used, reason = "tests")]

use onevisit_flow_tests::console_client::{ADMIN_PASSWORD, ConsoleClient, FIRE_PASSWORD, add_accounts, hidden};
use onevisit_flow_tests::{City, Deployment, ReplicatedCity, admin_with_input};

fn logged_in(city: &impl Deployment, name: &str, password: &str) -> ConsoleClient {
    let mut client = ConsoleClient::new(&city.base());
    let answer = client.login(name, password);
    assert_eq!((answer.status, answer.location.as_deref()), (303, Some("/console/dashboard")), "{}", answer.body);
    client
}

#[test]
fn the_consoles_doors_hold_on_the_embedded_default() {
    doors(&City::serving_with(&["--enrolment-failures", "3"]));
}

#[test]
fn the_consoles_doors_hold_across_replicas_on_postgres_and_s3() {
    doors(&ReplicatedCity::new());
}

fn doors(city: &impl Deployment) {
    add_accounts(city);
    // Weak passwords, unknown roles and departments are refused by the command.
    for (args, input, why) in [
        (vec!["user", "add", "weak", "--role", "auditor"], "short\n", "至少 10 个字符"),
        (vec!["user", "add", "x", "--role", "root"], "long-enough-pw\n", "未知角色"),
        (vec!["user", "add", "y", "--role", "supervisor", "--department", "nope"], "long-enough-pw\n", "没有部门"),
        (vec!["user", "add", "admin", "--role", "auditor"], "long-enough-pw\n", "已存在"),
    ] {
        let (ok, _, err) = admin_with_input(city.data(), &args, input);
        assert!(!ok && err.contains(why), "{args:?}: {err}");
    }

    // Nothing answers without a session: every page sends to the login, a made-up cookie too.
    let mut stranger = ConsoleClient::new(&city.base());
    for path in [
        "/console",
        "/console/dashboard",
        "/console/dashboard?department=xfjy",
        "/console/draws",
        "/console/draws/show?plan=x",
        "/console/draws/record?plan=x",
        "/console/devices",
        "/console/bundles",
        "/console/actions",
    ] {
        let answer = stranger.get(path);
        assert_eq!(answer.status, 303, "{path}");
        assert!(answer.location.unwrap().starts_with("/console"), "{path}");
        assert!(!answer.body.contains("一屏掌控"), "{path}");
    }
    for path in [
        "/console/draws/preview",
        "/console/draws/commit",
        "/console/draws/publish",
        "/console/devices/enrolments",
        "/console/devices/x/revoke",
    ] {
        assert_eq!(stranger.post(path, &[("csrf", "x")]).location.as_deref(), Some("/console/login"), "{path}");
    }
    let upload = stranger.post_file("/console/bundles/check", &[("csrf", "x")], "bundle", "b.zip", b"PK");
    assert_eq!(upload.location.as_deref(), Some("/console/login"));
    stranger.cookies.insert("onevisit_console".into(), "0".repeat(64));
    assert_eq!(stranger.get("/console/dashboard").location.as_deref(), Some("/console/login"));
    assert_eq!(stranger.post("/console/logout", &[("csrf", "x")]).location.as_deref(), Some("/console/login"));

    // The login form is bound to the browser that loaded it (no login CSRF).
    let mut forged = ConsoleClient::new(&city.base());
    let answer = forged.post("/console/login", &[("name", "admin"), ("password", ADMIN_PASSWORD), ("binding", "x")]);
    assert_eq!(answer.status, 403);
    assert!(!answer.set_cookies.iter().any(|c| c.starts_with("onevisit_console=")));

    // A session: its cookie is HttpOnly, Secure, SameSite=Strict, and opens the dashboard.
    let mut admin = ConsoleClient::new(&city.base());
    let answer = admin.login("admin", ADMIN_PASSWORD);
    let cookie = answer.set_cookies.iter().find(|c| c.starts_with("onevisit_console=")).unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let dashboard = admin.get("/console/dashboard");
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("一屏掌控 · 全市") && dashboard.body.contains("<svg"), "{}", dashboard.body);
    let csrf = hidden(&dashboard.body, "csrf").unwrap();

    // A form without this session's token is refused and changes nothing.
    for token in ["", "0"] {
        let answer = admin.post("/console/logout", &[("csrf", token)]);
        assert_eq!(answer.status, 403, "{token:?}");
        assert!(answer.body.contains("表单已失效"));
    }
    assert_eq!(admin.get("/console/dashboard").status, 200, "still logged in");

    // A supervisor sees only their department, whatever the address asks for.
    let mut fire = logged_in(city, "fire", FIRE_PASSWORD);
    let page = fire.get("/console/dashboard?department=scjg");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("一屏掌控 · 平湖市消防救援大队"), "{}", page.body);
    assert!(!page.body.contains("name=\"department\""), "no department choice for a supervisor");
    // The administrator's choice of an unknown department is a clear refusal.
    let page = admin.get("/console/dashboard?department=%3Cscript%3E");
    assert_eq!(page.status, 400);
    assert!(page.body.contains("&#60;script&#62;") && !page.body.contains("<script>"), "{}", page.body);

    // A new password ends the sessions of that account at once; so does disabling it.
    let (ok, _, err) = admin_with_input(city.data(), &["user", "passwd", "fire"], "another-horse-fire\n");
    assert!(ok, "{err}");
    assert_eq!(fire.get("/console/dashboard").location.as_deref(), Some("/console/login"));
    let mut fire = logged_in(city, "fire", "another-horse-fire");
    city.admin(&["user", "disable", "fire"]);
    assert_eq!(fire.get("/console/dashboard").location.as_deref(), Some("/console/login"));
    assert_eq!(ConsoleClient::new(&city.base()).login("fire", "another-horse-fire").status, 401);
    city.admin(&["user", "enable", "fire"]);
    logged_in(city, "fire", "another-horse-fire");

    // Logging out ends the session on every replica.
    let answer = admin.post("/console/logout", &[("csrf", &csrf)]);
    assert_eq!(answer.location.as_deref(), Some("/console/login"));
    admin
        .cookies
        .insert("onevisit_console".into(), cookie.split(';').next().unwrap().split_once('=').unwrap().1.into());
    for _ in 0..2 {
        assert_eq!(admin.get("/console/dashboard").location.as_deref(), Some("/console/login"));
    }
}

#[test]
fn repeated_wrong_passwords_lock_out_the_name_even_with_the_right_one() {
    let city = City::serving_with(&["--enrolment-failures", "3"]);
    add_accounts(&city);
    let mut guesser = ConsoleClient::new(&city.base());
    for _ in 0..3 {
        let answer = guesser.login("admin", "wrong-password-1");
        assert_eq!(answer.status, 401);
        assert!(answer.body.contains("账号或密码不对"));
    }
    let locked = guesser.login("admin", ADMIN_PASSWORD);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.body.contains("秒后重试"));
    // From another browser too: the name is locked, not only the address.
    assert_eq!(ConsoleClient::new(&city.base()).login("admin", ADMIN_PASSWORD).status, 429);
    // An unknown name answers like a wrong password (no telling which names exist).
    let unknown = ConsoleClient::new(&city.base()).login("nobody", "wrong-password-1");
    assert_eq!(unknown.status, 429, "the address is locked out as well");
}

#[test]
fn whatever_the_data_holds_is_shown_as_text() {
    let city = City::new();
    add_accounts(&city);
    // An enterprise named like a script, with a task past its window: it is on the 督办 list.
    let mut data: serde_json::Value = serde_json::from_str(onevisit_core::domain::SAMPLE_DIRECTORY_JSON).unwrap();
    let name = "<script>alert('x')</script>&\"";
    data["enterprises"][0]["name"] = serde_json::Value::String(name.into());
    let uscc = data["enterprises"][0]["uscc"].as_str().unwrap().to_string();
    let file = city.path().join("directory.json");
    std::fs::write(&file, data.to_string()).unwrap();
    city.admin(&["import", file.to_str().unwrap()]);
    let draft = serde_json::json!([{
        "enterprise": uscc, "lead_department": "scjg", "departments": ["scjg"],
        "inspectors": ["scjg-01", "scjg-02"], "lead_inspector": "scjg-01", "matters": ["SCJG-001"],
        "window": {"start": "2026-11-02", "end": "2026-11-06"}, "source": {"kind": "plan", "reference": "<b>计划</b>"}
    }]);
    let drafts = city.path().join("drafts.json");
    std::fs::write(&drafts, draft.to_string()).unwrap();
    city.admin(&["task", "create", drafts.to_str().unwrap()]);
    let mut admin = logged_in(&city, "admin", ADMIN_PASSWORD);
    let page = admin.get("/console/dashboard?from=2026-11-01&to=2026-11-30");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>"), "a script tag reached the page");
    assert!(
        page.body.contains("<td>&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;&#38;&#34;</td>"),
        "{}",
        page.body
    );
    // A bad date is a clear refusal, not a failure.
    let bad = admin.get("/console/dashboard?from=2026-13-01");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("YYYY-MM-DD"));
}

#[test]
fn the_task_board_and_task_pages_follow_the_role_on_the_embedded_default() {
    board_and_pages(&City::new());
}

#[test]
fn the_task_board_and_task_pages_follow_the_role_across_replicas() {
    board_and_pages(&ReplicatedCity::new());
}

fn board_and_pages(city: &impl Deployment) {
    add_accounts(city);
    // A joint inspection recorded by two devices (market supervision leads, fire takes part,
    // one fire finding), and market supervision's own task, planned only.
    let (_a, _b, joint) = onevisit_flow_tests::recorded_case(city);
    let tmp = tempfile::tempdir().unwrap();
    let uscc = {
        let data: serde_json::Value = serde_json::from_str(onevisit_core::domain::SAMPLE_DIRECTORY_JSON).unwrap();
        data["enterprises"][1]["uscc"].as_str().unwrap().to_string()
    };
    let drafts = tmp.path().join("drafts.json");
    let draft = serde_json::json!([{
        "enterprise": uscc, "lead_department": "scjg", "departments": ["scjg"],
        "inspectors": ["scjg-01", "scjg-02"], "lead_inspector": "scjg-01", "matters": ["SCJG-001"],
        "window": {"start": "2026-12-01", "end": "2026-12-07"}, "source": {"kind": "plan", "reference": "2026-12"}
    }]);
    std::fs::write(&drafts, draft.to_string()).unwrap();
    let created: Vec<String> =
        serde_json::from_str(&city.admin(&["task", "create", drafts.to_str().unwrap(), "--json"])).unwrap();
    let market = created[0].clone();

    // The administrator's board holds both, with each task's progress.
    let mut admin = logged_in(city, "admin", ADMIN_PASSWORD);
    let board = admin.get("/console/tasks");
    assert_eq!(board.status, 200);
    assert!(board.body.contains(joint.as_str()) && board.body.contains(&market), "{}", board.body);
    assert!(board.body.contains("符合条件的任务 2 个"), "{}", board.body);
    assert!(board.body.contains("<td>8/8</td>"), "every check point of the joint task answered: {}", board.body);
    // Filters: by status, by source, by department.
    let recorded = admin.get("/console/tasks?status=recorded");
    assert!(recorded.body.contains(joint.as_str()) && !recorded.body.contains(&market));
    let planned = admin.get("/console/tasks?source=plan");
    assert!(!planned.body.contains(joint.as_str()) && planned.body.contains(&market));
    let fire_only = admin.get("/console/tasks?department=xfjy");
    assert!(fire_only.body.contains(joint.as_str()) && !fire_only.body.contains(&market));
    // A task planned after the board was read is on it at the next look (whichever replica
    // answers: each refreshes its summaries from what was written since).
    let later: Vec<String> =
        serde_json::from_str(&city.admin(&["task", "create", drafts.to_str().unwrap(), "--json"])).unwrap();
    for _ in 0..2 {
        let board = admin.get("/console/tasks");
        assert!(board.body.contains(&later[0]) && board.body.contains("符合条件的任务 3 个"), "{}", board.body);
    }

    // The task page shows the merged record: both sections, the finding and its loop.
    let page = admin.get(&format!("/console/tasks/{}", joint.as_str()));
    assert_eq!(page.status, 200);
    for text in ["<h2>市场监管局</h2>", "<h2>消防救援大队</h2>", "疏散通道堆放杂物", "待复查", "XFJY-001-03"]
    {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    assert_eq!(admin.get("/console/tasks/330482-20261201-NOSUCHXX").status, 404);
    assert_eq!(admin.get("/console/tasks/not-a-code").status, 404);

    // The fire supervisor: only the tasks fire takes part in; another's task is forbidden.
    let mut fire = logged_in(city, "fire", FIRE_PASSWORD);
    let board = fire.get("/console/tasks?department=scjg");
    assert!(board.body.contains(joint.as_str()) && !board.body.contains(&market), "{}", board.body);
    assert_eq!(fire.get(&format!("/console/tasks/{}", joint.as_str())).status, 200);
    let forbidden = fire.get(&format!("/console/tasks/{market}"));
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.body.contains("无权") && !forbidden.body.contains("SCJG-001-01"), "{}", forbidden.body);
    // The enterprise's file: the joint task with its finding; the supervisor's only with theirs.
    let link = "/console/enterprises/";
    let at = page.body.find(link).unwrap() + link.len();
    let first = page.body[at..at + 18].to_string();
    let file = admin.get(&format!("/console/enterprises/{first}"));
    assert_eq!(file.status, 200);
    assert!(
        file.body.contains("一企一档") && file.body.contains(joint.as_str()) && file.body.contains("疏散通道堆放杂物"),
        "{}",
        file.body
    );
    assert!(admin.get(&format!("/console/enterprises/{uscc}")).body.contains(&market));
    assert!(!fire.get(&format!("/console/enterprises/{uscc}")).body.contains(&market), "not the fire brigade's task");
    assert_eq!(admin.get("/console/enterprises/913304820000000000").status, 404);
    // And without a session, neither page answers.
    let mut stranger = ConsoleClient::new(&city.base());
    assert_eq!(stranger.get("/console/tasks").location.as_deref(), Some("/console/login"));
    assert_eq!(stranger.get(&format!("/console/tasks/{market}")).location.as_deref(), Some("/console/login"));
}
