//! Benchmark group `report`: the city's figures and 督办 list (`onevisit-server report`) over a
//! year of a 100,000-inspection city on the embedded SQLite default, read from the summaries every
//! write keeps; beside it, at 10,000 records, the first report after an upgrade (every record
//! loaded and summarised, as without the summaries) against the next one; and what summarising
//! adds to each write.

use std::path::Path;
use std::time::Instant;

use chrono::{Days, NaiveDate, NaiveTime};
use onevisit_core::document::DocumentKind;
use onevisit_core::domain::{Task, TaskCode, TimeWindow};
use onevisit_core::figures::facts::{FindingFacts, RecheckFacts, UnsignedDocument};
use onevisit_core::figures::{FACTS_VERSION, ReportQuery, SourceKind, TaskFacts};
use onevisit_core::record::documents::MissingSignature;
use onevisit_core::record::{InspectionRecord, RecheckOutcome, Stamp, Status};
use onevisit_core::sample;
use onevisit_server::reports::city_report;
use onevisit_server::storage::sqlite::SqliteStorage;
use onevisit_server::storage::{NewRecord, Storage};
use serde_json::json;

use crate::{emit, ms, percentile, round};

/// Runs the group: the year at `year` inspections, the upgrade comparison at `upgrade` records,
/// each report `rounds` times.
pub fn run(base: &Path, year: usize, upgrade: usize, rounds: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let storage = SqliteStorage::open(&base.join("report-year")).expect("storage");
        fill_year(&storage, year).await;
        let query = |department: Option<&str>| ReportQuery {
            from: day(0),
            to: day(364),
            department: department.map(Into::into),
            today: day(365),
        };
        let (mut all, mut one) = (Vec::new(), Vec::new());
        let mut last = None;
        for _ in 0..rounds {
            let t = Instant::now();
            last = Some(city_report(&storage, &query(None)).await.expect("report"));
            all.push(ms(t.elapsed()));
            let t = Instant::now();
            city_report(&storage, &query(Some("xfjy"))).await.expect("report");
            one.push(ms(t.elapsed()));
        }
        let r = last.expect("a round").report;
        emit(
            "report_year_p50",
            percentile(&mut all, 0.5),
            "ms",
            json!({"target": "<= 500 ms", "inspections": year, "department_p50_ms": round(percentile(&mut one, 0.5)),
                   "handheld": r.figures.handheld_enforcement.rate, "overdue_tasks": r.supervision.overdue_tasks.len(),
                   "overdue_rectifications": r.supervision.overdue_rectifications.len(),
                   "detail": "onevisit-server report over 2026 on the embedded SQLite file: every task's stored summary read and parsed, the figures and the 督办 list computed"}),
        );

        // The same report at `upgrade` real records, first with no summaries (each record loaded
        // and summarised, as a database from before them), then from the summaries it kept.
        let fresh = SqliteStorage::open(&base.join("report-upgrade")).expect("storage");
        let directory = sample::directory().expect("sample");
        for batch in (0..upgrade).collect::<Vec<_>>().chunks(1_000) {
            let docs = batch
                .iter()
                .map(|&n| {
                    let draft = sample::city_task_draft(&directory, n, day((n % 365) as u64)).expect("draft");
                    let code = TaskCode::generate("330482", draft.window.start).expect("code");
                    let task = Task::from_draft(draft, code, &directory).expect("task");
                    let stamp = Stamp { by: task.lead_inspector.clone(), at_ms: 1 };
                    let mut record =
                        InspectionRecord::create(task, automerge::ActorId::random(), stamp).expect("record");
                    let mut doc = new_record(&TaskFacts::of(&record).expect("facts"), &record.save());
                    doc.id = record.task().code.to_string();
                    doc.facts = String::new();
                    doc
                })
                .collect();
            fresh.create_records(docs).await.expect("create");
        }
        let t = Instant::now();
        city_report(&fresh, &query(None)).await.expect("report");
        let first = ms(t.elapsed());
        let mut next = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            city_report(&fresh, &query(None)).await.expect("report");
            next.push(ms(t.elapsed()));
        }
        let next = percentile(&mut next, 0.5);
        emit(
            "report_from_summaries_vs_records",
            next / first,
            "x",
            json!({"records": upgrade, "from_summaries_ms": round(next), "loading_every_record_ms": round(first),
                   "detail": "the report read from the stored summaries against the first report after an upgrade, which loads and summarises every record (and keeps the summaries)"}),
        );
    });
    facts_per_write(base, rounds.max(200));
}

/// The console's dashboard and task board over the same year, through the real release server
/// on loopback (login, then each page requested again and again): the time from request to the
/// whole page, with the first look (the summaries loaded into the server's memory) beside it.
pub fn console_pages(base: &Path, year: usize, rounds: usize) {
    use onevisit_test_support::ServerProcess;
    use onevisit_test_support::console::ConsoleClient;
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let bin = crate::release_bin("onevisit-server", &["-p", "onevisit-server"]);
    let data = base.join("console-city");
    let admin = |args: &[&str], input: Option<&str>| {
        let mut child = Command::new(&bin)
            .arg("--data")
            .arg(&data)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("onevisit-server");
        if let Some(text) = input {
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("stdin");
        }
        assert!(child.wait().expect("onevisit-server").success(), "onevisit-server {args:?}");
    };
    admin(&["init", "--tenant", "330482"], None);
    admin(&["import", "--sample"], None);
    admin(&["user", "add", "admin", "--role", "administrator"], Some("benchmark-password\n"));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        fill_year(&SqliteStorage::open(&data).expect("storage"), year).await;
    });
    let server = ServerProcess::spawn(&bin, &data, "127.0.0.1:0", &[], "warn", Stdio::null());
    let mut browser = ConsoleClient::new(&server.base);
    assert_eq!(browser.login("admin", "benchmark-password").status, 303, "login");
    let dashboard = "/console/dashboard?from=2026-01-01&to=2026-12-31";
    let board = "/console/tasks?status=on_site";
    let time = |browser: &mut ConsoleClient, path: &str| {
        let t = Instant::now();
        let answer = browser.get(path);
        assert_eq!(answer.status, 200, "{path}");
        (ms(t.elapsed()), answer.body.len())
    };
    let (first, _) = time(&mut browser, dashboard);
    let (mut pages, mut boards) = (Vec::new(), Vec::new());
    let (mut page_bytes, mut board_bytes) = (0, 0);
    for _ in 0..rounds {
        let (t, n) = time(&mut browser, dashboard);
        pages.push(t);
        page_bytes = n;
        let (t, n) = time(&mut browser, board);
        boards.push(t);
        board_bytes = n;
    }
    emit(
        "console_dashboard_p50",
        percentile(&mut pages, 0.5),
        "ms",
        json!({"target": "<= 200 ms", "inspections": year, "first_look_ms": round(first), "page_bytes": page_bytes,
               "detail": "GET /console/dashboard for 2026 from the release server on loopback: the figures of the year, the chart and the 督办 tables (HTML), the summaries held in the server's memory after the first look"}),
    );
    emit(
        "console_task_board_p50",
        percentile(&mut boards, 0.5),
        "ms",
        json!({"target": "<= 200 ms", "inspections": year, "page_bytes": board_bytes,
               "detail": "GET /console/tasks?status=on_site: every task filtered, the first 500 rows rendered"}),
    );
    drop(server);
}

/// What summarising adds to each accepted write: `TaskFacts::of` on a recorded inspection with a
/// finding and a signed on-site record (the signatures verified again).
fn facts_per_write(base: &Path, rounds: usize) {
    use onevisit_core::record::documents::PartyAct;
    use onevisit_core::record::{AnswerValue, FindingDraft, PartyDraft, Position, Recusal};
    let mut s = crate::device(&base.join("report-facts"), "scjg-01");
    let dir = s.directory().expect("directory");
    let mut draft = sample::joint_task_draft(&dir, 0, day(340));
    draft.departments = vec!["scjg".parse().expect("literal")];
    draft.inspectors = vec!["scjg-01".parse().expect("literal"), "scjg-02".parse().expect("literal")];
    draft.matters = vec!["SCJG-001".parse().expect("literal")];
    let code = s.create_task(draft).expect("task").code;
    s.check_in(&code, Position::wgs84(30.7, 121.0, 5).expect("position")).expect("check in");
    s.show_identity(&code).expect("identity");
    let party = PartyDraft {
        name: "沈建国".into(),
        role: "店长".into(),
        phone: None,
        recusal: Recusal::NotRequested,
        id_number: None,
        statement: None,
    };
    s.record_party(&code, party).expect("party");
    for id in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
        s.answer(&code, &id.parse().expect("literal"), AnswerValue::Pass, None, vec![]).expect("answer");
    }
    let cold = AnswerValue::Number { value: "3".into(), unit: "℃".into() };
    s.answer(&code, &"SCJG-001-03".parse().expect("literal"), cold, None, vec![]).expect("answer");
    let finding = FindingDraft {
        department: "scjg".parse().expect("literal"),
        check_point: None,
        problem: "冷藏温度记录缺失".into(),
        legal_basis: "《中华人民共和国食品安全法》第五十四条".into(),
        rectification_required: true,
        deadline: Some(day(350)),
    };
    s.add_finding(&code, finding).expect("finding");
    s.set_status(&code, Status::Recorded).expect("recorded");
    let version = s.render_document(&code, DocumentKind::OnSiteRecord, None).expect("render");
    s.sign_document(&code, &version.sha256).expect("sign");
    let refusal = PartyAct::Refused { reason: "拒签".into(), witness: "王芳".into(), witness_detail: None };
    s.party_act(&code, &version.sha256, refusal, None).expect("party");
    let record = s.record(&code).expect("record");
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let facts = TaskFacts::of(record).expect("facts");
        times.push(ms(t.elapsed()) * 1000.0);
        size = facts.to_json().len();
    }
    emit(
        "report_facts_per_write_p50",
        percentile(&mut times, 0.5),
        "us",
        json!({"summary_bytes": size, "detail": "added to every accepted record write on the server: the record's summary for the figures (status, arrival, findings, results, conflicts, each latest document's signatures verified)"}),
    );
}

/// Stores the `year` tasks of [`city_facts`], each over one real record's bytes.
async fn fill_year(storage: &SqliteStorage, year: usize) {
    let snapshot = template_snapshot();
    let departments: Vec<String> =
        sample::directory().expect("sample").departments().map(|d| d.id.to_string()).collect();
    for batch in (0..year).collect::<Vec<_>>().chunks(2_000) {
        let docs = batch.iter().map(|&n| new_record(&city_facts(n, year, &departments), &snapshot)).collect();
        storage.create_records(docs).await.expect("create");
    }
}

/// A day of 2026.
fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + Days::new(n)
}

fn at(day_of_year: u64, hour: u32) -> i64 {
    onevisit_core::beijing::instant(day(day_of_year), NaiveTime::from_hms_opt(hour, 0, 0).expect("time"))
}

/// One real planned record's saved bytes, stored under every synthetic task (the report never
/// reads them; they make the rows the size they are).
fn template_snapshot() -> Vec<u8> {
    let directory = sample::directory().expect("sample");
    let draft = sample::city_task_draft(&directory, 0, day(0)).expect("draft");
    let task =
        Task::from_draft(draft, TaskCode::parse("330482-20260101-AAAAAAAA").expect("code"), &directory).expect("task");
    let stamp = Stamp { by: task.lead_inspector.clone(), at_ms: 1 };
    InspectionRecord::create(task, automerge::ActorId::random(), stamp).expect("record").save()
}

fn new_record(facts: &TaskFacts, snapshot: &[u8]) -> NewRecord {
    NewRecord {
        id: facts.code.clone(),
        task_json: "{}".into(),
        departments: facts.departments.clone(),
        inspectors: vec!["scjg-01".into(), "xfjy-01".into()],
        heads: Vec::new(),
        snapshot: snapshot.to_vec(),
        facts: facts.to_json(),
    }
}

/// The `n`-th of `year` tasks of a city's year: windows spread over 2026; one to three of the
/// departments; most carried out, some late, cancelled or still open; a third with findings
/// (two needing rectification), a tenth re-inspections with their results.
fn city_facts(n: usize, year: usize, departments: &[String]) -> TaskFacts {
    let code = |k: usize| format!("330482-2026-{k:08}");
    let start = (n * 365 / year.max(1)) as u64;
    let k = n % 10;
    let (source, of_task) = match k {
        0 => (SourceKind::ReInspection, Some(code(n.saturating_sub(10)))),
        1 => (SourceKind::ComplaintOrLead, None),
        2 | 3 => (SourceKind::Plan, None),
        _ => (SourceKind::RandomDraw, None),
    };
    let joint = if source == SourceKind::ReInspection { 1 } else { 1 + n % 3 };
    let departments: Vec<String> = (0..joint).map(|i| departments[(n + i) % departments.len()].clone()).collect();
    let status = match n % 20 {
        0 => Status::Cancelled,
        1 => Status::Planned,
        2 => Status::OnSite,
        3..=9 => Status::Recorded,
        _ => Status::Closed,
    };
    let arrived = (!matches!(status, Status::Planned | Status::Cancelled)).then(|| at(start + (n % 9) as u64, 10));
    let findings = if n.is_multiple_of(3) && source != SourceKind::ReInspection {
        (0..3)
            .map(|i| FindingFacts {
                id: format!("{:016x}", n * 4 + i),
                department: departments[i % departments.len()].clone(),
                problem: "消防通道堆放杂物，影响人员疏散".into(),
                recorded_at_ms: at(start + 1, 11),
                rectification_required: i < 2,
                deadline: (i < 2).then(|| day(start + 15)),
                ordered: !n.is_multiple_of(7),
            })
            .collect()
    } else {
        Vec::new()
    };
    let rechecks = if source == SourceKind::ReInspection {
        let of = n.saturating_sub(10);
        let outcome = match n % 4 {
            0 => RecheckOutcome::TransferredForCase { reference: "平消立〔2026〕1号".into() },
            1 => RecheckOutcome::NewDeadline { deadline: day(start + 20) },
            _ => RecheckOutcome::Rectified,
        };
        vec![RecheckFacts { finding: format!("{:016x}", of * 4), outcome, at_ms: at(start + 2, 15) }]
    } else {
        Vec::new()
    };
    let unsigned = if n.is_multiple_of(50) {
        vec![UnsignedDocument {
            kind: DocumentKind::RectificationOrder,
            department: departments[0].clone(),
            number: format!("平消责改〔2026〕{n}号"),
            missing: vec![MissingSignature::Party],
        }]
    } else {
        Vec::new()
    };
    TaskFacts {
        v: FACTS_VERSION,
        code: code(n),
        enterprise: "91330482MA2B3C4D5E".into(),
        source,
        covers: rechecks.iter().map(|r| r.finding.clone()).collect(),
        of_task,
        lead_department: departments[0].clone(),
        matters: vec!["SCJG-001".into(), "XFJY-001".into()],
        departments,
        window: TimeWindow { start: day(start), end: day(start + 6) },
        status,
        arrived_at_ms: arrived,
        on_site_record_signed: arrived.is_some() && !n.is_multiple_of(25),
        findings,
        rechecks,
        answered: 6,
        documents: usize::from(arrived.is_some()) + usize::from(n.is_multiple_of(3)),
        conflicts: usize::from(n.is_multiple_of(97)),
        unsigned,
    }
}
