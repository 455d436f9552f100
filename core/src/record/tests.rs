use automerge::ActorId;
use chrono::NaiveDate;

use super::*;
use crate::domain::{Directory, Task, TaskCode};
use crate::sample;

fn setup() -> (Directory, Task) {
    let dir = sample::directory().unwrap();
    let mut draft = sample::joint_task_draft(&dir, 0, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    // A second market-supervision inspector, so that two people may answer the same section.
    draft.inspectors.push("scjg-02".parse().unwrap());
    let code = TaskCode::parse("330482-20261128-ABCDEFGH").unwrap();
    let task = Task::from_draft(draft, code, &dir).unwrap();
    (dir, task)
}

fn stamp(by: &str, at_ms: i64) -> Stamp {
    Stamp { by: by.parse().unwrap(), at_ms }
}

fn cp(id: &str) -> CheckPointId {
    id.parse().unwrap()
}

fn on_site(task: Task) -> InspectionRecord {
    let mut r = InspectionRecord::create(task, ActorId::from(&[1u8; 16][..]), stamp("scjg-01", 1_000)).unwrap();
    r.check_in_at(stamp("scjg-01", 2_000), Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    r
}

const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// An evidence reference for `PHOTO`, as the store builds it after a capture.
fn photo_ref(target: crate::evidence::CaptureTarget) -> EvidenceRef {
    let key = crate::identity::DeviceKey::generate();
    let record = crate::evidence::CaptureRecord {
        schema: crate::evidence::capture::CAPTURE_SCHEMA.into(),
        sha256: PHOTO.into(),
        size: 4,
        mime: "image/jpeg".into(),
        width: 1,
        height: 1,
        device_time_ms: 5,
        exif_time: None,
        position: None,
        camera: None,
        orientation: None,
        inspector: "xfjy-01".into(),
        device: key.device_id(),
        device_public_key: hex::encode(key.public_bytes()),
        task: "t".into(),
        target: target.clone(),
        thumbnail_sha256: PHOTO.into(),
    };
    EvidenceRef {
        sha256: PHOTO.into(),
        size: 4,
        mime: "image/jpeg".into(),
        thumbnail_sha256: PHOTO.into(),
        target,
        capture: crate::evidence::SignedCapture::sign(&record, &key).unwrap(),
        stamp: stamp("xfjy-01", 4_000),
    }
}

/// Fills in everything `Recorded` requires.
fn complete(r: &mut InspectionRecord, dir: &Directory) {
    r.show_identity(stamp("scjg-01", 3_000), vec!["1".into(), "2".into()]).unwrap();
    let party = PartyDraft {
        name: "王伟".into(),
        role: "现场负责人".into(),
        phone: None,
        recusal: Recusal::NotRequested,
        id_number: None,
        statement: None,
    };
    r.record_party(stamp("scjg-01", 3_000), party).unwrap();
    for id in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04", "XFJY-001-01", "XFJY-001-02"] {
        let by = if id.starts_with("SCJG") { "scjg-01" } else { "xfjy-01" };
        r.answer_check_point(stamp(by, 4_000), dir, &cp(id), AnswerValue::Pass, None, vec![]).unwrap();
    }
    let number = |v: &str, u: &str| AnswerValue::Number { value: v.into(), unit: u.into() };
    r.answer_check_point(stamp("scjg-01", 4_000), dir, &cp("SCJG-001-03"), number("4.5", "℃"), None, vec![]).unwrap();
    r.answer_check_point(stamp("xfjy-01", 4_000), dir, &cp("XFJY-001-03"), number("1.2", "MPa"), None, vec![]).unwrap();
    let target = crate::evidence::CaptureTarget::CheckPoint("XFJY-001-04".into());
    r.attach_evidence(stamp("xfjy-01", 4_000), dir, photo_ref(target)).unwrap();
    r.answer_check_point(
        stamp("xfjy-01", 4_000),
        dir,
        &cp("XFJY-001-04"),
        AnswerValue::Photos,
        None,
        vec![PHOTO.into()],
    )
    .unwrap();
}

#[test]
fn a_new_record_is_planned_and_round_trips_through_save_and_load() {
    let (_, task) = setup();
    let mut r = InspectionRecord::create(task.clone(), ActorId::random(), stamp("scjg-01", 1)).unwrap();
    assert_eq!(r.status().unwrap(), Status::Planned);
    let bytes = r.save();
    let loaded = InspectionRecord::load(&bytes, []).unwrap();
    assert_eq!(loaded.task(), &task);
    assert_eq!(loaded.status().unwrap(), Status::Planned);
}

#[test]
fn check_in_moves_a_planned_record_on_site_and_keeps_the_raw_wgs84_fix() {
    let (_, task) = setup();
    let r = on_site(task);
    assert_eq!(r.status().unwrap(), Status::OnSite);
    let c = r.check_in().unwrap().unwrap();
    assert_eq!(
        (c.position.latitude_e7, c.position.longitude_e7, c.position.datum),
        (307_000_000, 1_210_000_000, Datum::Wgs84)
    );
}

#[test]
fn answers_are_stored_in_their_department_section() {
    let (dir, task) = setup();
    let mut r = on_site(task);
    r.answer_check_point(
        stamp("xfjy-01", 5),
        &dir,
        &cp("XFJY-001-01"),
        AnswerValue::Fail,
        Some("灭火器过期".into()),
        vec![],
    )
    .unwrap();
    let answers = r.answers().unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0.as_str(), "xfjy");
    assert_eq!(answers[0].1.value, AnswerValue::Fail);
    assert_eq!(answers[0].1.stamp.by.as_str(), "xfjy-01");
}

#[test]
fn bad_answers_get_typed_errors_and_change_nothing() {
    let (dir, task) = setup();
    let mut r = on_site(task);
    let before = r.heads();
    let number = |v: &str, u: &str| AnswerValue::Number { value: v.into(), unit: u.into() };
    type Case = (&'static str, AnswerValue, Vec<String>, fn(&RecordError) -> bool);
    let cases: Vec<Case> = vec![
        ("SCJG-002-01", AnswerValue::Pass, vec![], |e| matches!(e, RecordError::UnknownCheckPoint(_))),
        ("NOPE-01", AnswerValue::Pass, vec![], |e| matches!(e, RecordError::UnknownCheckPoint(_))),
        ("SCJG-001-01", number("3", "℃"), vec![], |e| {
            matches!(e, RecordError::WrongAnswerType { expected: "pass_fail", got: "number", .. })
        }),
        ("SCJG-001-03", AnswerValue::Pass, vec![], |e| {
            matches!(e, RecordError::WrongAnswerType { expected: "number", .. })
        }),
        ("SCJG-001-03", number("abc", "℃"), vec![], |e| matches!(e, RecordError::InvalidNumber { .. })),
        ("SCJG-001-03", number("1e3", "℃"), vec![], |e| matches!(e, RecordError::InvalidNumber { .. })),
        ("SCJG-001-03", number("NaN", "℃"), vec![], |e| matches!(e, RecordError::InvalidNumber { .. })),
        ("SCJG-001-03", number("40", "℃"), vec![], |e| matches!(e, RecordError::NumberOutOfRange { .. })),
        ("SCJG-001-03", number("4", "K"), vec![], |e| matches!(e, RecordError::WrongUnit { .. })),
        ("XFJY-001-04", AnswerValue::Photos, vec![], |e| matches!(e, RecordError::MissingEvidence(_))),
        ("XFJY-001-04", AnswerValue::Photos, vec!["not-a-hash".into()], |e| {
            matches!(e, RecordError::MalformedEvidenceHash(_))
        }),
        ("XFJY-001-04", AnswerValue::Text { text: "照片".into() }, vec![], |e| {
            matches!(e, RecordError::WrongAnswerType { .. })
        }),
    ];
    for (id, value, evidence, expected) in cases {
        let by = if id.starts_with("XFJY") { "xfjy-01" } else { "scjg-01" };
        let err = r.answer_check_point(stamp(by, 9), &dir, &cp(id), value.clone(), None, evidence).unwrap_err();
        assert!(expected(&err), "{id} {value:?}: {err:?}");
    }
    assert_eq!(r.heads(), before, "refused answers must not change the document");
    assert!(r.answers().unwrap().is_empty());
}

#[test]
fn any_check_point_may_be_not_applicable() {
    let (dir, task) = setup();
    let mut r = on_site(task);
    r.answer_check_point(stamp("scjg-01", 9), &dir, &cp("SCJG-001-03"), AnswerValue::NotApplicable, None, vec![])
        .unwrap();
}

#[test]
fn only_assigned_inspectors_may_edit() {
    let (dir, task) = setup();
    let mut r = on_site(task);
    let err = r
        .answer_check_point(stamp("scjg-03", 9), &dir, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![])
        .unwrap_err();
    assert!(matches!(err, RecordError::NotAssigned(_)), "{err:?}");
}

#[test]
fn answers_need_the_team_on_site() {
    let (dir, task) = setup();
    let mut r = InspectionRecord::create(task, ActorId::random(), stamp("scjg-01", 1)).unwrap();
    let err = r
        .answer_check_point(stamp("scjg-01", 9), &dir, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![])
        .unwrap_err();
    assert!(matches!(err, RecordError::NotOnSite(Status::Planned)), "{err:?}");
}

#[test]
fn forbidden_status_changes_are_refused() {
    let (dir, task) = setup();
    let mut r = InspectionRecord::create(task, ActorId::random(), stamp("scjg-01", 1)).unwrap();
    let err = r.set_status(stamp("scjg-01", 2), &dir, Status::Closed).unwrap_err();
    assert!(matches!(err, RecordError::ForbiddenTransition { from: Status::Planned, to: Status::Closed }), "{err:?}");
    let err = r.set_status(stamp("scjg-01", 2), &dir, Status::OnSite).unwrap_err();
    assert!(matches!(err, RecordError::Incomplete { .. }), "on site needs a check-in: {err:?}");
    r.set_status(stamp("scjg-01", 3), &dir, Status::Cancelled).unwrap();
    for next in Status::ALL {
        assert!(r.set_status(stamp("scjg-01", 4), &dir, next).is_err(), "cancelled is final, {next:?}");
    }
    let err = r.check_in_at(stamp("scjg-01", 5), Position::wgs84(30.0, 121.0, 3).unwrap()).unwrap_err();
    assert!(matches!(err, RecordError::NotOnSite(Status::Cancelled)), "{err:?}");
}

#[test]
fn recording_completes_only_when_everything_is_answered() {
    let (dir, task) = setup();
    let mut r = on_site(task);
    let err = r.set_status(stamp("scjg-01", 9), &dir, Status::Recorded).unwrap_err();
    let RecordError::Incomplete { missing } = err else { panic!("{err:?}") };
    assert!(
        missing.contains(&"identity".to_string()) && missing.contains(&"answer:XFJY-001-04".to_string()),
        "{missing:?}"
    );
    complete(&mut r, &dir);
    r.set_status(stamp("scjg-01", 10), &dir, Status::Recorded).unwrap();
    r.set_status(stamp("scjg-01", 11), &dir, Status::Closed).unwrap();
    assert_eq!(r.status().unwrap(), Status::Closed);
}

#[test]
fn findings_need_a_deadline_exactly_when_rectification_is_required() {
    let (dir, task) = setup();
    let mut r = on_site(task);
    let mut draft = FindingDraft {
        department: "xfjy".parse().unwrap(),
        check_point: Some(cp("XFJY-001-01")),
        problem: "灭火器压力不足".into(),
        legal_basis: "《中华人民共和国消防法》第十六条".into(),
        rectification_required: true,
        deadline: None,
    };
    assert!(matches!(r.add_finding(stamp("xfjy-01", 9), &dir, draft.clone()), Err(RecordError::DeadlineMismatch)));
    draft.deadline = NaiveDate::from_ymd_opt(2026, 12, 15);
    let field = r.add_finding(stamp("xfjy-01", 9), &dir, draft).unwrap();
    let findings = r.findings().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(field, Field::Finding(findings[0].id.clone()));
}

#[test]
fn concurrent_answers_to_the_same_check_point_are_a_conflict_with_both_authors() {
    let (dir, task) = setup();
    let mut a = on_site(task);
    let mut b = InspectionRecord::load(&a.save(), []).unwrap();
    b.set_actor(ActorId::from(&[2u8; 16][..]));
    // Different check points merge cleanly; the same one conflicts.
    a.answer_check_point(stamp("scjg-01", 10), &dir, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    b.answer_check_point(stamp("xfjy-01", 11), &dir, &cp("XFJY-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    a.answer_check_point(stamp("scjg-01", 12), &dir, &cp("SCJG-001-02"), AnswerValue::Pass, None, vec![]).unwrap();
    b.answer_check_point(
        stamp("scjg-02", 13),
        &dir,
        &cp("SCJG-001-02"),
        AnswerValue::Fail,
        Some("无健康证".into()),
        vec![],
    )
    .unwrap();
    let (a_bytes, b_bytes) = (a.save(), b.save());
    a.merge_bytes(&b_bytes).unwrap();
    b.merge_bytes(&a_bytes).unwrap();
    assert_eq!(a.heads(), b.heads());

    let conflicts = a.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, Field::Answer(cp("SCJG-001-02")));
    let mut authors: Vec<&str> = conflicts[0].values.iter().map(|v| v.by.as_str()).collect();
    authors.sort();
    assert_eq!(authors, ["scjg-01", "scjg-02"]);
    assert_eq!(b.conflicts().unwrap(), conflicts, "both devices report the same conflict");
    assert_eq!(a.answers().unwrap().len(), 3);

    // Only the lead inspector resolves, and resolving is an ordinary edit that merges everywhere.
    let field = Field::Answer(cp("SCJG-001-02"));
    assert!(matches!(b.resolve_conflict(stamp("xfjy-01", 20), &field, 0), Err(RecordError::NotLeadInspector(_))));
    assert!(matches!(
        a.resolve_conflict(stamp("scjg-01", 20), &field, 5),
        Err(RecordError::NoSuchChoice { count: 2, .. })
    ));
    let fail = conflicts[0].values.iter().position(|v| v.by.as_str() == "scjg-02").unwrap();
    a.resolve_conflict(stamp("scjg-01", 21), &field, fail).unwrap();
    assert!(a.conflicts().unwrap().is_empty());
    b.merge_bytes(&a.save()).unwrap();
    assert!(b.conflicts().unwrap().is_empty());
    assert_eq!(b.answer(&"scjg".parse().unwrap(), &cp("SCJG-001-02")).unwrap().unwrap().value, AnswerValue::Fail);
    assert!(matches!(a.resolve_conflict(stamp("scjg-01", 22), &field, 0), Err(RecordError::NoSuchConflict(_))));
}

#[test]
fn an_open_conflict_blocks_completing_the_record() {
    let (dir, task) = setup();
    let mut a = on_site(task);
    complete(&mut a, &dir);
    let mut b = InspectionRecord::load(&a.save(), []).unwrap();
    b.set_actor(ActorId::random());
    a.answer_check_point(stamp("scjg-01", 10), &dir, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    b.answer_check_point(stamp("scjg-02", 10), &dir, &cp("SCJG-001-01"), AnswerValue::Fail, None, vec![]).unwrap();
    a.merge_bytes(&b.save()).unwrap();
    let err = a.set_status(stamp("scjg-01", 11), &dir, Status::Recorded).unwrap_err();
    assert!(matches!(err, RecordError::OpenConflicts(1)), "{err:?}");
}

#[test]
fn corrupt_bytes_are_reported_as_corrupt() {
    assert!(matches!(InspectionRecord::load(b"definitely not automerge", []), Err(RecordError::Corrupt(_))));
    let (_, task) = setup();
    let mut r = on_site(task);
    let mut bytes = r.save();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    assert!(InspectionRecord::load(&bytes, []).is_err());
}

#[test]
fn a_newer_schema_is_refused() {
    let (_, task) = setup();
    let mut r = InspectionRecord::create(task, ActorId::random(), stamp("scjg-01", 1)).unwrap();
    r.doc.put(automerge::ROOT, "schema_version", SCHEMA_VERSION + 1).unwrap();
    let err = InspectionRecord::load(&r.save(), []).err().unwrap();
    assert!(matches!(err, RecordError::UnsupportedSchema { found: 2, supported: 1 }), "{err:?}");
}

#[test]
fn unsaved_changes_come_out_once_as_an_incremental_chunk() {
    let (dir, task) = setup();
    let mut r = on_site(task);
    let snapshot = r.save();
    r.answer_check_point(stamp("scjg-01", 10), &dir, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    let chunk = r.take_unsaved();
    assert!(!chunk.is_empty() && chunk.len() < snapshot.len());
    assert!(r.take_unsaved().is_empty());
    let loaded = InspectionRecord::load(&snapshot, [chunk.as_slice()]).unwrap();
    assert_eq!(loaded.answers().unwrap().len(), 1);
}

#[test]
fn each_inspector_checks_in_on_their_own_and_agreeing_status_changes_are_no_conflict() {
    let (_, task) = setup();
    let mut a = InspectionRecord::create(task, ActorId::from(&[1u8; 16][..]), stamp("scjg-01", 1)).unwrap();
    let mut b = InspectionRecord::load(&a.save(), []).unwrap();
    b.set_actor(ActorId::from(&[2u8; 16][..]));
    a.check_in_at(stamp("scjg-01", 100), Position::wgs84(30.70, 121.00, 5).unwrap()).unwrap();
    b.check_in_at(stamp("xfjy-01", 90), Position::wgs84(30.71, 121.01, 8).unwrap()).unwrap();
    a.merge_bytes(&b.save()).unwrap();
    assert_eq!(a.arrivals().unwrap().len(), 2);
    assert_eq!(a.check_in().unwrap().unwrap().stamp.by.as_str(), "xfjy-01", "the team's check-in is the first arrival");
    assert_eq!(a.status().unwrap(), Status::OnSite);
    assert!(a.conflicts().unwrap().is_empty(), "both moved the record on site: agreement, not a conflict");
    assert!(matches!(
        a.resolve_conflict(stamp("scjg-01", 101), &Field::Status, 0),
        Err(RecordError::NoSuchConflict(_))
    ));
}

#[test]
fn concurrent_different_status_changes_are_a_conflict() {
    let (dir, task) = setup();
    let mut a = on_site(task);
    complete(&mut a, &dir);
    let mut b = InspectionRecord::load(&a.save(), []).unwrap();
    b.set_actor(ActorId::from(&[2u8; 16][..]));
    a.set_status(stamp("scjg-01", 10), &dir, Status::Recorded).unwrap();
    // The lead on a second device (or the planning office) calls it off meanwhile.
    b.set_status(stamp("scjg-01", 10), &dir, Status::Cancelled).unwrap();
    a.merge_bytes(&b.save()).unwrap();
    let conflicts = a.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].field, Field::Status);
}

#[test]
fn a_separately_created_record_with_the_same_task_is_not_merged() {
    let (_, task) = setup();
    let mut a = InspectionRecord::create(task.clone(), ActorId::random(), stamp("scjg-01", 1)).unwrap();
    let mut impostor = InspectionRecord::create(task, ActorId::random(), stamp("scjg-01", 1)).unwrap();
    let before = a.heads();
    let dir = sample::directory().unwrap();
    let rules = WriteRules::unanchored(&dir);
    assert!(matches!(a.merge_from(&mut impostor, &rules), Err(RecordError::UnrelatedRecord)));
    assert_eq!(a.heads(), before);
    let mut copy = InspectionRecord::load(&a.save(), []).unwrap();
    a.merge_from(&mut copy, &rules).unwrap();
}

#[test]
fn answers_may_cite_only_attached_photos_of_existing_targets() {
    use crate::evidence::CaptureTarget;
    let (dir, task) = setup();
    let mut r = on_site(task);
    let point = cp("XFJY-001-04");
    let err = r
        .answer_check_point(stamp("xfjy-01", 9), &dir, &point, AnswerValue::Photos, None, vec![PHOTO.into()])
        .unwrap_err();
    assert!(matches!(err, RecordError::UnknownEvidence(_)), "{err:?}");
    let err =
        r.attach_evidence(stamp("xfjy-01", 9), &dir, photo_ref(CaptureTarget::Finding("nope".into()))).unwrap_err();
    assert!(matches!(err, RecordError::UnknownTarget(_)), "{err:?}");
    let err = r
        .attach_evidence(stamp("xfjy-01", 9), &dir, photo_ref(CaptureTarget::CheckPoint("WSJK-001-01".into())))
        .unwrap_err();
    assert!(matches!(err, RecordError::UnknownCheckPoint(_)), "{err:?}");
    r.attach_evidence(stamp("xfjy-01", 9), &dir, photo_ref(CaptureTarget::CheckPoint("XFJY-001-04".into()))).unwrap();
    assert_eq!(r.evidence().unwrap().len(), 1);
    r.answer_check_point(stamp("xfjy-01", 10), &dir, &point, AnswerValue::Photos, None, vec![PHOTO.into()]).unwrap();
}

/// A record on site, with its directory, for tests of sibling modules.
pub(crate) fn sample_record() -> (InspectionRecord, Directory) {
    let (dir, task) = setup();
    (on_site(task), dir)
}

/// Makes one more edit (a note on a check point, different each call).
pub(crate) fn answer_something(r: &mut InspectionRecord) {
    let dir = sample::directory().unwrap();
    let note = format!("note {}", r.heads().len() + r.changes_since(&[]).len());
    r.answer_check_point(stamp("xfjy-01", 5), &dir, &cp("XFJY-001-01"), AnswerValue::Fail, Some(note), vec![]).unwrap();
}

/// A record of the same task created separately, by another actor.
pub(crate) fn separately_created_record() -> InspectionRecord {
    let (_, task) = setup();
    InspectionRecord::create(task, ActorId::from(&[9u8; 16][..]), stamp("scjg-01", 1_000)).unwrap()
}

/// A fire re-inspection (xfjy-01 leads, xfjy-02) of finding `F1` of an earlier task, on site.
fn reinspection_on_site() -> (Directory, InspectionRecord) {
    let dir = sample::directory().unwrap();
    let draft = sample::fire_reinspection_draft(&dir, TaskCode::parse("330482-20261128-ABCDEFGH").unwrap(), "F1");
    let code = TaskCode::generate("330482", NaiveDate::from_ymd_opt(2026, 12, 21).unwrap()).unwrap();
    let task = Task::from_draft(draft, code, &dir).unwrap();
    let mut r = InspectionRecord::create(task, ActorId::from(&[2u8; 16][..]), stamp("xfjy-01", 1_000)).unwrap();
    r.check_in_at(stamp("xfjy-01", 2_000), Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    (dir, r)
}

/// 2026-12-21 10:00 Beijing time, in ms.
const RECHECK_DAY_MS: i64 = 1_797_818_400_000;

#[test]
fn a_reinspection_records_each_covered_finding_once_with_a_photo() {
    use crate::evidence::CaptureTarget;
    let (dir, mut r) = reinspection_on_site();
    let at = |by: &str| stamp(by, RECHECK_DAY_MS);
    // No photo attached yet, or none named: refused.
    let err = r.record_recheck(at("xfjy-01"), &dir, "F1", RecheckOutcome::Rectified, None, vec![]).unwrap_err();
    assert!(matches!(err, RecordError::RecheckWithoutEvidence), "{err:?}");
    let err =
        r.record_recheck(at("xfjy-01"), &dir, "F1", RecheckOutcome::Rectified, None, vec![PHOTO.into()]).unwrap_err();
    assert!(matches!(err, RecordError::UnknownEvidence(_)), "{err:?}");
    r.attach_evidence(at("xfjy-01"), &dir, photo_ref(CaptureTarget::Inspection)).unwrap();
    // A finding this re-inspection does not cover (another task's): refused.
    let err =
        r.record_recheck(at("xfjy-01"), &dir, "F2", RecheckOutcome::Rectified, None, vec![PHOTO.into()]).unwrap_err();
    assert!(matches!(err, RecordError::NotToReinspect(_)), "{err:?}");
    // A new deadline on or before the re-inspection day: refused.
    let same_day = RecheckOutcome::NewDeadline { deadline: NaiveDate::from_ymd_opt(2026, 12, 21).unwrap() };
    let err = r.record_recheck(at("xfjy-01"), &dir, "F1", same_day, None, vec![PHOTO.into()]).unwrap_err();
    assert!(matches!(err, RecordError::DeadlineNotAfterRecheck(_)), "{err:?}");
    let transfer = RecheckOutcome::TransferredForCase { reference: " ".into() };
    let err = r.record_recheck(at("xfjy-01"), &dir, "F1", transfer, None, vec![PHOTO.into()]).unwrap_err();
    assert!(matches!(err, RecordError::EmptyText(_)), "{err:?}");
    let field = r
        .record_recheck(
            at("xfjy-02"),
            &dir,
            "F1",
            RecheckOutcome::Rectified,
            Some("通道已清空".into()),
            vec![PHOTO.into()],
        )
        .unwrap();
    assert_eq!(field.to_string(), "recheck:F1");
    let results = r.rechecks().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].outcome, RecheckOutcome::Rectified);
    assert!(results[0].outcome.settles());
    // Recorded once: never rewritten.
    let err =
        r.record_recheck(at("xfjy-01"), &dir, "F1", RecheckOutcome::Rectified, None, vec![PHOTO.into()]).unwrap_err();
    assert!(matches!(err, RecordError::AlreadyRechecked(_)), "{err:?}");
}

#[test]
fn a_recheck_on_an_ordinary_task_or_by_another_department_is_refused() {
    let by_market_supervision = |r: &mut InspectionRecord, dir: &Directory| {
        let at = stamp("scjg-01", RECHECK_DAY_MS);
        r.record_recheck(at, dir, "F1", RecheckOutcome::Rectified, None, vec![PHOTO.into()]).unwrap_err()
    };
    let (dir, task) = setup();
    let mut ordinary = on_site(task);
    let err = by_market_supervision(&mut ordinary, &dir);
    assert!(matches!(err, RecordError::NotToReinspect(_)), "{err:?}");
    let (dir, mut r) = reinspection_on_site();
    let err = by_market_supervision(&mut r, &dir);
    assert!(matches!(err, RecordError::OtherDepartment { .. }), "{err:?}");
    assert!(ordinary.rechecks().unwrap().is_empty());
}
