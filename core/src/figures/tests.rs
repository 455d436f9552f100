use chrono::{NaiveDate, NaiveTime};

use super::facts::{FindingFacts, RecheckFacts, SourceKind, TaskFacts, UnsignedDocument};
use super::report::{Ratio, ReportQuery, report};
use crate::document::signature::SIGNATURE_SCHEMA;
use crate::document::{DocumentKind, DocumentSignature, SignatureRole, SignedStatement};
use crate::domain::TimeWindow;
use crate::record::documents::MissingSignature;
use crate::record::rules::tests::{recorded, signed};
use crate::record::{RecheckOutcome, Status};

fn day(m: u32, d: u32) -> NaiveDate {
    let year = if m >= 11 { 2026 } else { 2027 };
    NaiveDate::from_ymd_opt(year, m, d).unwrap()
}

/// Beijing wall-clock time on a day, in ms.
fn at(m: u32, d: u32, hour: u32) -> i64 {
    crate::beijing::instant(day(m, d), NaiveTime::from_hms_opt(hour, 0, 0).unwrap())
}

#[test]
fn a_recorded_inspection_summarises_its_status_arrival_findings_and_documents() {
    let (_, a, _) = recorded();
    let facts = TaskFacts::of(&a.record).unwrap();
    assert_eq!(facts.status, Status::Recorded);
    assert!(facts.carried_out());
    assert_eq!(facts.arrived_at_ms, Some(10));
    assert_eq!(facts.departments, ["scjg", "xfjy"]);
    assert_eq!(facts.source, SourceKind::RandomDraw);
    assert_eq!(facts.findings.len(), 1);
    let finding = &facts.findings[0];
    assert_eq!((finding.department.as_str(), finding.rectification_required), ("xfjy", true));
    assert_eq!(finding.deadline, NaiveDate::from_ymd_opt(2026, 12, 20));
    assert!(!finding.ordered, "no order to rectify was issued");
    assert!(!facts.on_site_record_signed);
    assert!(facts.unsigned.is_empty() && facts.rechecks.is_empty());
    assert_eq!(facts.conflicts, 0);
    assert_eq!((facts.answered, facts.documents), (8, 0), "every check point of both matters, no document yet");
    assert_eq!(facts.matters, ["SCJG-001", "XFJY-001"]);
    // Stored and read back; another layout, or garbage, is computed again instead.
    assert_eq!(TaskFacts::from_json(&facts.to_json()), Some(facts.clone()));
    let older = facts.to_json().replacen(&format!("\"v\":{}", super::FACTS_VERSION), "\"v\":1", 1);
    assert_eq!(TaskFacts::from_json(&older), None);
    assert_eq!(TaskFacts::from_json("{\"v\":1"), None);
}

#[test]
fn the_on_site_record_counts_as_handheld_only_once_the_party_has_signed_too() {
    let (_, mut a, _, sha) = signed();
    let facts = TaskFacts::of(&a.record).unwrap();
    assert!(!facts.on_site_record_signed);
    assert_eq!(
        facts.unsigned,
        [UnsignedDocument {
            kind: DocumentKind::OnSiteRecord,
            department: "scjg".into(),
            number: "平市监现检〔2026〕1号".into(),
            missing: vec![MissingSignature::Party],
        }]
    );
    let role = SignatureRole::Party {
        name: "王伟".into(),
        party_role: "现场负责人".into(),
        signature_image_sha256: "ab".repeat(32),
        statement: "以上笔录我已看过，与事实相符".into(),
        attested_by: "scjg-01".into(),
    };
    let statement = SignedStatement {
        schema: SIGNATURE_SCHEMA.into(),
        document_sha256: sha.clone(),
        document_number: "n".into(),
        signer: role.clone(),
        device: a.key.device_id(),
        device_public_key: hex::encode(a.key.public_bytes()),
        device_time_ms: 60,
        position: None,
        presence: None,
    };
    let signature = DocumentSignature::sign(&statement, &a.key).unwrap();
    a.record.add_signature(a.stamp(60), &sha, &signature, &role).unwrap();
    let facts = TaskFacts::of(&a.record).unwrap();
    assert!(facts.on_site_record_signed);
    assert!(facts.unsigned.is_empty());
    assert_eq!(facts.documents, 1);
}

/// A task of the hand-computed city.
fn task(code: &str, source: SourceKind, departments: &[&str], window: (NaiveDate, NaiveDate)) -> TaskFacts {
    TaskFacts {
        v: super::FACTS_VERSION,
        code: code.into(),
        enterprise: format!("E-{code}"),
        source,
        of_task: None,
        covers: Vec::new(),
        lead_department: departments[0].into(),
        departments: departments.iter().map(|d| d.to_string()).collect(),
        matters: Vec::new(),
        window: TimeWindow { start: window.0, end: window.1 },
        status: Status::Planned,
        arrived_at_ms: None,
        on_site_record_signed: false,
        findings: Vec::new(),
        rechecks: Vec::new(),
        answered: 0,
        documents: 0,
        conflicts: 0,
        unsigned: Vec::new(),
    }
}

/// Carried out: arrived at `arrived`, recorded (or `status`), the on-site record signed or not.
fn done(mut t: TaskFacts, status: Status, arrived: i64, signed: bool) -> TaskFacts {
    t.status = status;
    t.arrived_at_ms = Some(arrived);
    t.on_site_record_signed = signed;
    t
}

fn finding(id: &str, department: &str, recorded_at_ms: i64, deadline: Option<NaiveDate>) -> FindingFacts {
    FindingFacts {
        id: id.into(),
        department: department.into(),
        problem: format!("问题 {id}"),
        recorded_at_ms,
        rectification_required: deadline.is_some(),
        deadline,
        ordered: deadline.is_some(),
    }
}

fn reinspection(code: &str, of: &str, department: &str, covers: &[&str], window: (NaiveDate, NaiveDate)) -> TaskFacts {
    let mut t = task(code, SourceKind::ReInspection, &[department], window);
    t.of_task = Some(of.into());
    t.covers = covers.iter().map(|c| c.to_string()).collect();
    t
}

fn result(finding: &str, outcome: RecheckOutcome, at_ms: i64) -> RecheckFacts {
    RecheckFacts { finding: finding.into(), outcome, at_ms }
}

/// December 2026 in a small city, every figure computed by hand (see the comments).
fn city() -> Vec<TaskFacts> {
    use SourceKind::*;
    use Status::*;
    let mut t1 =
        done(task("T1", RandomDraw, &["scjg", "xfjy"], (day(12, 1), day(12, 10))), Closed, at(12, 3, 10), true);
    t1.findings = vec![
        finding("F1", "xfjy", at(12, 3, 10), Some(day(12, 15))),
        finding("F6", "scjg", at(12, 3, 10), Some(day(12, 12))),
    ];
    // The loop closed on the task too (copied in by the server).
    t1.rechecks = vec![result("F1", RecheckOutcome::Rectified, at(12, 18, 12))];
    let mut r0 = reinspection("R0", "T1", "scjg", &["F6"], (day(12, 13), day(12, 19)));
    r0 = done(r0, Closed, at(12, 13, 10), true);
    r0.rechecks = vec![result("F6", RecheckOutcome::TransferredForCase { reference: "立案-1".into() }, at(12, 13, 10))];
    let mut r1 =
        done(reinspection("R1", "T1", "xfjy", &["F1"], (day(12, 16), day(12, 22))), Closed, at(12, 18, 12), true);
    r1.rechecks = vec![result("F1", RecheckOutcome::Rectified, at(12, 18, 12))];

    // Planned, carried out late, the party has not signed; its finding is overdue, its
    // re-inspection planned and not done.
    let mut t2 = done(task("T2", Plan, &["scjg"], (day(12, 5), day(12, 20))), Recorded, at(12, 25, 9), false);
    t2.findings = vec![finding("F2", "scjg", at(12, 25, 9), Some(day(12, 28)))];
    t2.unsigned = vec![UnsignedDocument {
        kind: DocumentKind::OnSiteRecord,
        department: "scjg".into(),
        number: "平市监现检〔2026〕2号".into(),
        missing: vec![MissingSignature::Party],
    }];
    let r3 = reinspection("R3", "T2", "scjg", &["F2"], (day(1, 1), day(1, 7)));

    let t3 = task("T3", RandomDraw, &["scjg", "hbj", "xfjy"], (day(12, 10), day(12, 31)));
    let t4 = done(task("T4", ComplaintOrLead, &["wjw"], (day(11, 25), day(12, 2))), Recorded, at(11, 28, 9), true);
    let mut t5 = task("T5", RandomDraw, &["xfjy"], (day(12, 1), day(12, 5)));
    t5.status = Cancelled;
    let mut t6 = task("T6", Plan, &["scjg", "xfjy"], (day(11, 1), day(11, 30)));
    t6.status = OnSite;
    t6.arrived_at_ms = Some(at(11, 29, 9));
    t6.conflicts = 2;

    // Its fire finding got a new deadline at re-inspection, which has passed too.
    let mut t7 = done(task("T7", Plan, &["xfjy", "yjj"], (day(12, 1), day(12, 31))), Recorded, at(12, 20, 9), true);
    t7.findings =
        vec![finding("F3", "xfjy", at(12, 20, 9), Some(day(12, 25))), finding("F4", "yjj", at(12, 20, 9), None)];
    let mut r2 =
        done(reinspection("R2", "T7", "xfjy", &["F3"], (day(12, 26), day(1, 1))), Recorded, at(12, 27, 9), true);
    r2.rechecks = vec![result("F3", RecheckOutcome::NewDeadline { deadline: day(1, 5) }, at(12, 27, 9))];

    let mut t8 = done(task("T8", RandomDraw, &["scjg"], (day(12, 20), day(1, 20))), Recorded, at(12, 22, 9), true);
    t8.findings = vec![finding("F5", "scjg", at(12, 22, 9), Some(day(1, 15)))];
    vec![t1, r0, r1, t2, r3, t3, t4, t5, t6, t7, r2, t8]
}

fn december(department: Option<&str>) -> ReportQuery {
    ReportQuery { from: day(12, 1), to: day(12, 31), department: department.map(Into::into), today: day(1, 10) }
}

fn ratio(numerator: u64, denominator: u64) -> Ratio {
    Ratio { numerator, denominator, rate: Some(numerator as f64 / denominator as f64) }
}

#[test]
fn the_figures_of_a_small_city_match_the_hand_computed_ones() {
    let r = report(&city(), &december(None));
    let f = &r.figures;
    // Inspections carried out in December: T1, R0, R1, T2, T7, R2, T8 (T4 arrived in November,
    // T6 is still on site, T3 not started, T5 cancelled); T2's on-site record lacks the party.
    assert_eq!(f.handheld_enforcement, ratio(6, 7));
    // Joint, re-inspections excepted: T1 and T7 of T1, T2, T7, T8.
    assert_eq!(f.joint_supervision, ratio(2, 4));
    // One visit saved by each two-department inspection.
    assert_eq!(f.visits_saved, 2);
    // Planned (双随机 / 执法计划) starting in December: T1, T2, T3, T7, T8; T3 not carried out.
    assert_eq!(f.planned_tasks_completed, ratio(4, 5));
    // Due in December: T1, T2 (late), T3 (not done), T4, R0, R1, T7.
    assert_eq!(f.due_tasks_completed, ratio(5, 7));
    // Deadlines in December: F1, F6, F3 answered by a re-inspection, F2 not.
    assert_eq!(f.follow_up_disposed, ratio(3, 4));
    // Closed in December: F6 after 10 days, F1 after 15 days 2 hours: median 12.5.
    assert_eq!(f.findings_closed, 2);
    assert_eq!(f.median_days_to_close, Some(12.5));

    let s = &r.supervision;
    let overdue: Vec<(&str, i64)> = s.overdue_tasks.iter().map(|t| (t.code.as_str(), t.days_overdue)).collect();
    assert_eq!(overdue, [("T6", 41), ("T3", 10), ("R3", 3)]);
    let late: Vec<(&str, &str, NaiveDate, i64, Option<&str>)> = s
        .overdue_rectifications
        .iter()
        .map(|x| (x.task.as_str(), x.finding.as_str(), x.deadline, x.days_overdue, x.reinspection.as_deref()))
        .collect();
    assert_eq!(late, [("T2", "F2", day(12, 28), 13, Some("R3")), ("T7", "F3", day(1, 5), 5, None)]);
    assert_eq!(s.open_conflicts.iter().map(|c| (c.code.as_str(), c.conflicts)).collect::<Vec<_>>(), [("T6", 2)]);
    assert_eq!(s.unsigned_documents.len(), 1);
    assert_eq!(s.unsigned_documents[0].code, "T2");
    assert_eq!(r.tasks, 12);
}

#[test]
fn a_department_sees_its_own_tasks_and_its_own_findings() {
    let r = report(&city(), &december(Some("xfjy")));
    let f = &r.figures;
    // Fire takes part in T1, T3, T5 (cancelled), T6, R1, T7, R2.
    assert_eq!(r.tasks, 7);
    assert_eq!(f.handheld_enforcement, ratio(4, 4));
    assert_eq!(f.joint_supervision, ratio(2, 2));
    assert_eq!(f.visits_saved, 2);
    assert_eq!(f.planned_tasks_completed, ratio(2, 3));
    assert_eq!(f.due_tasks_completed, ratio(3, 4));
    // Its findings only: F1 and F3 (F6 is market supervision's, on a task fire took part in).
    assert_eq!(f.follow_up_disposed, ratio(2, 2));
    assert_eq!((f.findings_closed, f.median_days_to_close), (1, Some(15.1)));
    let overdue: Vec<&str> = r.supervision.overdue_tasks.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(overdue, ["T6", "T3"]);
    let late: Vec<&str> = r.supervision.overdue_rectifications.iter().map(|x| x.finding.as_str()).collect();
    assert_eq!(late, ["F3"]);
    assert!(r.supervision.unsigned_documents.is_empty());
}

#[test]
fn nothing_counted_has_no_rate_and_nothing_is_overdue_before_its_day() {
    let empty = report(&[], &december(None));
    assert_eq!(empty.figures.handheld_enforcement, Ratio { numerator: 0, denominator: 0, rate: None });
    assert_eq!(empty.figures.handheld_enforcement.display_zh(), "—（0/0）");
    assert_eq!(empty.figures.median_days_to_close, None);
    // Judged on 1 December, nothing of the city is due yet but T4's and T6's windows.
    let early = report(&city(), &ReportQuery { today: day(12, 1), ..december(None) });
    assert_eq!(early.figures.due_tasks_completed, Ratio::default());
    let overdue: Vec<&str> = early.supervision.overdue_tasks.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(overdue, ["T6"]);
    assert!(early.supervision.overdue_rectifications.is_empty());
    assert_eq!(ratio(6, 7).display_zh(), "85.7%（6/7）");
}
