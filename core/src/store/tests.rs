use std::path::Path;

use chrono::NaiveDate;
use rusqlite::params;

use super::*;
use crate::audit::AuditProblem;
use crate::domain::{TaskError, Uscc};
use crate::identity::{KeyFileWrapper, PassphraseWrapper};
use crate::record::{AnswerValue, FindingDraft, Position, Status};
use crate::sample;

fn cp(id: &str) -> CheckPointId {
    id.parse().unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

fn wrapper(root: &Path) -> KeyFileWrapper {
    KeyFileWrapper::load_or_create(&root.join("device.key")).unwrap()
}

/// A store operated by `inspector` with the sample directory imported.
fn store(root: &Path, inspector: &str) -> Store {
    std::fs::create_dir_all(root).unwrap();
    let mut s = Store::init(root, &wrapper(root), Some(inspector.parse().unwrap())).unwrap();
    s.import_directory(sample::directory().unwrap()).unwrap();
    s
}

/// A store with one sample task whose team has checked in.
fn on_site_task(root: &Path) -> (Store, TaskCode) {
    on_site_task_as(root, "scjg-01")
}

/// A store of `inspector` (one of the sample task's) holding the sample task, checked in.
fn on_site_task_as(root: &Path, inspector: &str) -> (Store, TaskCode) {
    let mut s = store(root, inspector);
    let dir = s.directory().unwrap();
    let code = s.create_task(sample::joint_task_draft(&dir, 0, day(1))).unwrap().code;
    s.check_in(&code, Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap();
    (s, code)
}

fn chunk_count(s: &Store) -> i64 {
    s.connection().query_row("SELECT count(*) FROM record_chunks", [], |r| r.get(0)).unwrap()
}

#[test]
fn init_then_open_unlocks_the_same_device_key() {
    let tmp = tempfile::tempdir().unwrap();
    let public = store(tmp.path(), "scjg-01").device_key().public_bytes();
    let reopened = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
    assert_eq!(reopened.device_key().public_bytes(), public);
    assert_eq!(reopened.inspector().map(|i| i.as_str()), Some("scjg-01"));
}

#[test]
fn opening_with_the_wrong_key_or_where_no_store_is_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s");
    Store::init(&root, &PassphraseWrapper::new("对的").unwrap(), None).unwrap();
    let err = Store::open(&root, &PassphraseWrapper::new("错的").unwrap()).err().unwrap();
    assert!(matches!(err, StoreError::Key(KeyError::WrongKeyOrTampered)), "{err:?}");
    let err = Store::init(&root, &PassphraseWrapper::new("对的").unwrap(), None).err().unwrap();
    assert!(matches!(err, StoreError::AlreadyInitialised(_)), "{err:?}");
    let err = Store::open(&tmp.path().join("none"), &PassphraseWrapper::new("x").unwrap()).err().unwrap();
    assert!(matches!(err, StoreError::NotInitialised(_)), "{err:?}");
}

#[test]
fn a_task_with_fewer_than_two_inspectors_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(tmp.path(), "scjg-01");
    let dir = s.directory().unwrap();
    let head = s.audit_head().unwrap();
    let mut draft = sample::joint_task_draft(&dir, 0, day(1));
    draft.inspectors = vec!["scjg-01".parse().unwrap(), "scjg-01".parse().unwrap()];
    let good = sample::joint_task_draft(&dir, 1, day(1));
    let err = s.create_tasks(vec![good, draft]).unwrap_err();
    assert!(matches!(err, StoreError::Task(TaskError::TooFewInspectors(1))), "{err:?}");
    assert!(
        s.list_tasks(&TaskFilter::default()).unwrap().is_empty(),
        "the valid task of the batch must not be half-created"
    );
    assert_eq!(s.audit_head().unwrap(), head);
}

#[test]
fn task_drafts_are_checked_against_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(tmp.path(), "scjg-01");
    let dir = s.directory().unwrap();
    let base = sample::joint_task_draft(&dir, 0, day(1));
    type Case = (TaskDraft, fn(&TaskError) -> bool);
    let cases: Vec<Case> = vec![
        (TaskDraft { enterprise: Uscc::with_check_character("91330482MA0000000").unwrap(), ..base.clone() }, |e| {
            matches!(e, TaskError::UnknownEnterprise(_))
        }),
        (TaskDraft { lead_department: "wsjk".parse().unwrap(), ..base.clone() }, |e| {
            matches!(e, TaskError::LeadNotParticipating(_))
        }),
        (TaskDraft { lead_inspector: "xfjy-01".parse().unwrap(), ..base.clone() }, |e| {
            matches!(e, TaskError::InvalidLeadInspector(_))
        }),
        (TaskDraft { inspectors: vec!["scjg-01".parse().unwrap(), "wsjk-01".parse().unwrap()], ..base.clone() }, |e| {
            matches!(e, TaskError::InspectorOutsideDepartments { .. })
        }),
        (TaskDraft { inspectors: vec!["scjg-01".parse().unwrap(), "ghost".parse().unwrap()], ..base.clone() }, |e| {
            matches!(e, TaskError::UnknownInspector(_))
        }),
        (TaskDraft { matters: vec!["WSJK-001".parse().unwrap()], ..base.clone() }, |e| {
            matches!(e, TaskError::MatterOutsideDepartments { .. })
        }),
        (TaskDraft { matters: vec![], ..base.clone() }, |e| matches!(e, TaskError::NoMatters)),
        (TaskDraft { window: crate::domain::TimeWindow { start: day(5), end: day(4) }, ..base.clone() }, |e| {
            matches!(e, TaskError::InvertedWindow { .. })
        }),
    ];
    for (draft, expected) in cases {
        match s.create_task(draft) {
            Err(StoreError::Task(e)) if expected(&e) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    s.create_task(base).unwrap();
}

#[test]
fn every_accepted_edit_is_on_disk_when_the_call_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let code = {
        let (mut s, code) = on_site_task(tmp.path());
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, Some("许可证未公示".into()), vec![]).unwrap();
        code
        // dropped without any explicit flush or close
    };
    let mut s = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
    let row = s.task_row(&code).unwrap();
    assert_eq!((row.status.as_str(), row.answered, row.check_points), ("on_site", 1, 8));
    let answers = s.record(&code).unwrap().answers().unwrap();
    assert_eq!(answers[0].1.note.as_deref(), Some("许可证未公示"));
}

#[test]
fn refused_edits_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, code) = on_site_task(tmp.path());
    let (head, chunks) = (s.audit_head().unwrap(), chunk_count(&s));
    let e1 = s.answer(&code, &cp("SCJG-001-03"), AnswerValue::Pass, None, vec![]).unwrap_err();
    let e2 = s.answer(&code, &cp("WSJK-001-01"), AnswerValue::Pass, None, vec![]).unwrap_err();
    let e3 = s.set_status(&code, Status::Closed).unwrap_err();
    assert!(matches!(e1, StoreError::Record(RecordError::WrongAnswerType { .. })), "{e1:?}");
    assert!(matches!(e2, StoreError::Record(RecordError::UnknownCheckPoint(_))), "{e2:?}");
    assert!(matches!(e3, StoreError::Record(RecordError::ForbiddenTransition { .. })), "{e3:?}");
    assert_eq!((s.audit_head().unwrap(), chunk_count(&s)), (head.clone(), chunks));
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn lists_filter_by_status_date_enterprise_and_department_from_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(tmp.path(), "scjg-01");
    let dir = s.directory().unwrap();
    let mut drafts: Vec<TaskDraft> =
        (0..4).map(|n| sample::joint_task_draft(&dir, n, day(1 + 10 * (n as u32 % 2)))).collect();
    drafts[3].departments = vec!["scjg".parse().unwrap(), "sthj".parse().unwrap()];
    drafts[3].inspectors = vec!["scjg-01".parse().unwrap(), "sthj-01".parse().unwrap()];
    drafts[3].matters = vec!["SCJG-001".parse().unwrap(), "STHJ-001".parse().unwrap()];
    let tasks = s.create_tasks(drafts).unwrap();
    s.check_in(&tasks[0].code, Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap();

    let count = |s: &Store, f: TaskFilter| s.list_tasks(&f).unwrap().len();
    assert_eq!(count(&s, TaskFilter::default()), 4);
    assert_eq!(count(&s, TaskFilter { status: Some(Status::OnSite), ..Default::default() }), 1);
    assert_eq!(count(&s, TaskFilter { status: Some(Status::Planned), ..Default::default() }), 3);
    assert_eq!(count(&s, TaskFilter { date: Some(day(3)), ..Default::default() }), 2);
    assert_eq!(count(&s, TaskFilter { date: Some(day(30)), ..Default::default() }), 0);
    assert_eq!(count(&s, TaskFilter { enterprise: Some(tasks[2].enterprise.clone()), ..Default::default() }), 1);
    assert_eq!(count(&s, TaskFilter { department: Some("xfjy".parse().unwrap()), ..Default::default() }), 3);
    assert_eq!(
        count(&s, TaskFilter { department: Some("sthj".parse().unwrap()), date: Some(day(12)), ..Default::default() }),
        1
    );
    assert_eq!(count(&s, TaskFilter { limit: Some(2), ..Default::default() }), 2);
}

#[test]
fn a_corrupt_document_is_reported_and_the_others_stay_usable() {
    let tmp = tempfile::tempdir().unwrap();
    let (good, bad) = {
        let mut s = store(tmp.path(), "scjg-01");
        let dir = s.directory().unwrap();
        let tasks = s
            .create_tasks(vec![sample::joint_task_draft(&dir, 0, day(1)), sample::joint_task_draft(&dir, 1, day(1))])
            .unwrap();
        (tasks[0].code.clone(), tasks[1].code.clone())
    };
    let conn = rusqlite::Connection::open(tmp.path().join(DATABASE_FILE)).unwrap();
    conn.execute(
        "UPDATE records SET snapshot = ?1 WHERE task_code = ?2",
        params![b"\x85\x6f\x4a\x83garbage".to_vec(), bad.as_str()],
    )
    .unwrap();
    drop(conn);

    let mut s = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
    let err = s.record(&bad).err().unwrap();
    assert!(matches!(&err, StoreError::CorruptRecord { task, .. } if *task == bad), "{err:?}");
    let err = s.check_in(&bad, Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap_err();
    assert!(matches!(err, StoreError::CorruptRecord { .. }), "{err:?}");
    assert_eq!(s.list_tasks(&TaskFilter::default()).unwrap().len(), 2, "lists never load documents");
    s.check_in(&good, Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap();
    assert_eq!(s.task_row(&good).unwrap().status, Status::OnSite);
}

#[test]
fn a_corrupt_chunk_is_reported_as_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, code) = on_site_task(tmp.path()); // the store is closed at the end of the statement
    let conn = rusqlite::Connection::open(tmp.path().join(DATABASE_FILE)).unwrap();
    let mut chunk: Vec<u8> = conn.query_row("SELECT bytes FROM record_chunks", [], |r| r.get(0)).unwrap();
    let last = chunk.len() - 3;
    chunk[last] ^= 0x5a;
    conn.execute("UPDATE record_chunks SET bytes = ?1", [chunk]).unwrap();
    drop(conn);
    let mut s = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
    assert!(matches!(s.record(&code).err().unwrap(), StoreError::CorruptRecord { .. }));
}

#[test]
fn growing_chunks_are_compacted_into_the_snapshot_without_losing_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, code) = on_site_task(tmp.path());
    let mut max_chunks = 0;
    for i in 0..300 {
        let note = format!("第{i}次复核：{}", "记录".repeat(20));
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, Some(note), vec![]).unwrap();
        max_chunks = max_chunks.max(chunk_count(&s));
    }
    let chunks_len: i64 = s.connection().query_row("SELECT chunks_len FROM records", [], |r| r.get(0)).unwrap();
    assert!(chunk_count(&s) < max_chunks, "compaction must have dropped chunks");
    assert!(chunks_len <= records::COMPACTION_FLOOR_BYTES + 2048);
    drop(s);
    let mut s = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
    let answer = s.record(&code).unwrap().answers().unwrap().remove(0).1;
    assert!(answer.note.unwrap().starts_with("第299次复核"));
}

#[test]
fn the_audit_log_records_every_edit_and_detects_tampering_in_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let code = {
        let (mut s, code) = on_site_task(tmp.path());
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
        let report = s.verify_audit().unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, 5, "init, import, create, check-in, answer");
        code
    };
    let conn = rusqlite::Connection::open(tmp.path().join(DATABASE_FILE)).unwrap();
    conn.execute(
        "UPDATE audit_log SET canonical = replace(canonical, 'answer_check_point', 'add_finding') WHERE position = 5",
        [],
    )
    .unwrap();
    conn.execute("DELETE FROM audit_log WHERE position = 2", []).unwrap();
    drop(conn);
    let s = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
    let report = s.verify_audit().unwrap();
    assert_eq!(report.problems, vec![AuditProblem::Removed { seq: 2 }, AuditProblem::Altered { seq: 5 }]);
    let _ = code;
}

#[test]
fn two_stores_merge_a_record_and_both_see_the_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = store(&tmp.path().join("a"), "scjg-01");
    let mut b = store(&tmp.path().join("b"), "scjg-02");
    let dir = a.directory().unwrap();
    let mut draft = sample::joint_task_draft(&dir, 0, day(1));
    draft.inspectors.push("scjg-02".parse().unwrap());
    let code = a.create_task(draft).unwrap().code;
    a.check_in(&code, Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap();
    assert_eq!(b.receive_record(&a.export_record(&code).unwrap()).unwrap(), code);
    // Two inspectors of the same department answer the same check point differently.
    a.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    b.answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, None, vec![]).unwrap();
    b.add_finding(
        &code,
        FindingDraft {
            department: "scjg".parse().unwrap(),
            check_point: None,
            problem: "许可证未公示".into(),
            legal_basis: "《中华人民共和国食品安全法》第三十五条".into(),
            rectification_required: true,
            deadline: Some(day(10)),
        },
    )
    .unwrap();
    let from_b = b.export_record(&code).unwrap();
    a.receive_record(&from_b).unwrap();
    b.receive_record(&a.export_record(&code).unwrap()).unwrap();
    assert_eq!(a.record(&code).unwrap().heads(), b.record(&code).unwrap().heads());
    assert_eq!(a.task_row(&code).unwrap().conflicts, 1);
    assert_eq!(b.task_row(&code).unwrap().findings, 1);
    assert!(matches!(
        b.resolve_conflict(&code, &Field::Answer(cp("SCJG-001-01")), 0),
        Err(StoreError::Record(RecordError::NotLeadInspector(_)))
    ));
    a.resolve_conflict(&code, &Field::Answer(cp("SCJG-001-01")), 0).unwrap();
    assert_eq!(a.task_row(&code).unwrap().conflicts, 0);
    assert!(a.verify_audit().unwrap().is_intact() && b.verify_audit().unwrap().is_intact());
}

#[test]
fn a_separately_created_document_with_a_known_task_code_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, code) = on_site_task(tmp.path());
    let task = s.record(&code).unwrap().task().clone();
    let impostor = InspectionRecord::create(
        task,
        DeviceKey::generate().actor_id(),
        crate::record::Stamp { by: "scjg-01".parse().unwrap(), at_ms: 1 },
    )
    .unwrap()
    .save();
    let (head, chunks) = (s.audit_head().unwrap(), chunk_count(&s));
    let err = s.receive_record(&impostor).unwrap_err();
    assert!(matches!(err, StoreError::Record(RecordError::UnrelatedRecord)), "{err:?}");
    assert_eq!((s.audit_head().unwrap(), chunk_count(&s)), (head.clone(), chunks));
    assert!(matches!(s.receive_record(b"not a document"), Err(StoreError::Record(RecordError::Corrupt(_)))));
    assert_eq!(s.task_row(&code).unwrap().status, Status::OnSite);
}

#[test]
fn a_store_at_schema_version_1_is_migrated_and_its_index_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // Build a version-1 database by hand: device, directory, one task with an answered record.
    let dir = sample::directory().unwrap();
    let key = DeviceKey::generate();
    let task = Task::from_draft(
        sample::joint_task_draft(&dir, 0, day(1)),
        TaskCode::parse("330482-20261128-ABCDEFGH").unwrap(),
        &dir,
    )
    .unwrap();
    let stamp = |ms| crate::record::Stamp { by: "scjg-01".parse().unwrap(), at_ms: ms };
    let mut record = InspectionRecord::create(task.clone(), key.actor_id(), stamp(1)).unwrap();
    record.check_in_at(stamp(2), Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap();
    record.answer_check_point(stamp(3), &dir, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    {
        let mut conn = open_connection(&root.join(DATABASE_FILE)).unwrap();
        schema::migrate(&mut conn, 1, &|_| unreachable!("version 1 has no index")).unwrap();
        conn.execute(
            "INSERT INTO device (id, public_key, sealed_seed, inspector, created_at_ms, audit_head_seq, audit_head_hash) VALUES (1, ?1, ?2, 'scjg-01', 0, 0, ?3)",
            params![key.public_bytes().to_vec(), key.seal(&wrapper(root)).unwrap(), crate::audit::GENESIS_HASH],
        ).unwrap();
        conn.execute(
            "INSERT INTO directory (id, json, imported_at_ms) VALUES (1, ?1, 0)",
            [crate::domain::SAMPLE_DIRECTORY_JSON],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tasks (code, json, created_at_ms) VALUES (?1, ?2, 0)",
            params![task.code.as_str(), serde_json::to_string(&task).unwrap()],
        )
        .unwrap();
        let snapshot = record.save();
        conn.execute(
            "INSERT INTO documents (task_code, snapshot, snapshot_sha256) VALUES (?1, ?2, ?3)",
            params![task.code.as_str(), snapshot, crate::audit::sha256_hex(&snapshot)],
        )
        .unwrap();
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, 1);
    }
    let s = Store::open(root, &wrapper(root)).unwrap();
    let version: u32 = s.connection().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, schema::CURRENT_VERSION);
    let row = s.task_row(&task.code).unwrap();
    assert_eq!((row.status.as_str(), row.answered, row.check_points), ("on_site", 1, 8));
    assert_eq!(
        s.list_tasks(&TaskFilter { department: Some("xfjy".parse().unwrap()), ..Default::default() }).unwrap().len(),
        1
    );
}

#[test]
fn a_store_from_a_newer_app_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    store(tmp.path(), "scjg-01");
    let conn = rusqlite::Connection::open(tmp.path().join(DATABASE_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(tmp.path(), &wrapper(tmp.path())).err().unwrap();
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }), "{err:?}");
}

#[test]
fn blobs_are_stored_once_by_hash_and_checked_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path(), "scjg-01");
    let blobs = s.blobs().unwrap();
    let a = blobs.put(s.connection(), b"\xff\xd8\xff photo bytes", "image/jpeg", 1).unwrap();
    let b = blobs.put(s.connection(), b"\xff\xd8\xff photo bytes", "image/jpeg", 2).unwrap();
    assert_eq!(a, b);
    let n: i64 = s.connection().query_row("SELECT count(*) FROM blobs", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    assert_eq!(blobs.read(s.connection(), &a.sha256).unwrap().1, b"\xff\xd8\xff photo bytes");
    std::fs::write(blobs.path_of(&a.sha256), b"altered").unwrap();
    assert!(matches!(blobs.read(s.connection(), &a.sha256), Err(StoreError::CorruptBlob(_))));
    assert!(matches!(blobs.read(s.connection(), "zz"), Err(StoreError::UnknownBlob(_))));
}

mod photos {
    use super::*;
    use crate::evidence::{CaptureTarget, EvidenceError, PositionSource};
    use onevisit_test_support::{SampleExif, sample_jpeg};

    fn blob_rows(s: &Store) -> i64 {
        s.connection().query_row("SELECT count(*) FROM blobs", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_photo_is_kept_byte_identical_with_a_signed_capture_record() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, code) = on_site_task_as(tmp.path(), "xfjy-01");
        let jpeg = sample_jpeg(1200, 900, Some(&SampleExif::pinghu()));
        let target = CaptureTarget::CheckPoint("XFJY-001-04".into());
        let captured = s.add_photo(&code, &jpeg, target.clone(), None).unwrap();
        assert!(captured.created);
        let record = captured.evidence.capture.verify_file(&jpeg).unwrap();
        assert_eq!(record.inspector, "xfjy-01");
        assert_eq!(record.task, code.as_str());
        assert_eq!(record.target, target);
        assert_eq!(record.exif_time.as_deref(), Some("2026:11:28 10:15:30"));
        assert_eq!(record.position.as_ref().map(|p| p.source), Some(PositionSource::Exif));
        assert_eq!(record.device_public_key, hex::encode(s.device_key().public_bytes()));
        let blobs = s.blobs().unwrap();
        assert_eq!(blobs.read(s.connection(), &record.sha256).unwrap().1, jpeg, "the original is byte-identical");
        let thumb = blobs.read(s.connection(), &record.thumbnail_sha256).unwrap().1;
        let thumb = image::load_from_memory(&thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (240, 320), "orientation 6 applied, at most 320 px");
        // The answer may now cite it.
        s.answer(&code, &cp("XFJY-001-04"), AnswerValue::Photos, None, vec![record.sha256.clone()]).unwrap();
        assert!(s.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn the_same_photo_for_the_same_target_is_stored_once() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, code) = on_site_task(tmp.path());
        let jpeg = sample_jpeg(300, 200, None);
        let first = s.add_photo(&code, &jpeg, CaptureTarget::Inspection, None).unwrap();
        let head = s.audit_head().unwrap();
        let again = s.add_photo(&code, &jpeg, CaptureTarget::Inspection, None).unwrap();
        assert!(!again.created);
        assert_eq!(again.evidence, first.evidence);
        assert_eq!(s.audit_head().unwrap(), head, "a re-import writes nothing");
        assert_eq!(blob_rows(&s), 2, "original and thumbnail, once each");
        assert_eq!(s.photos(&code).unwrap().len(), 1);
    }

    #[test]
    fn the_device_fix_is_preferred_to_exif_gps() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, code) = on_site_task(tmp.path());
        let jpeg = sample_jpeg(300, 200, Some(&SampleExif::pinghu()));
        let fix = Position::wgs84(30.7001, 121.0202, 3).unwrap();
        let captured = s.add_photo(&code, &jpeg, CaptureTarget::Inspection, Some(fix)).unwrap();
        let record = captured.evidence.capture.verify().unwrap();
        let position = record.position.unwrap();
        assert_eq!(
            (position.source, position.latitude_e7, position.accuracy_m),
            (PositionSource::Device, 307_001_000, Some(3))
        );
    }

    #[test]
    fn bad_files_are_refused_and_nothing_is_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, code) = on_site_task(tmp.path());
        let head = s.audit_head().unwrap();
        let jpeg = sample_jpeg(400, 300, None);
        let mut bomb = sample_jpeg(32, 32, None);
        let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bomb[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
        let target = || CaptureTarget::Inspection;
        type Case<'a> = (&'a [u8], fn(&EvidenceError) -> bool);
        let cases: Vec<Case> = vec![
            (b"PK\x03\x04 a zip file", |e| matches!(e, EvidenceError::NotAnImage)),
            (&jpeg[..jpeg.len() / 2], |e| matches!(e, EvidenceError::Truncated)),
            (&bomb, |e| matches!(e, EvidenceError::TooManyPixels { .. })),
        ];
        for (bytes, expected) in cases {
            match s.add_photo(&code, bytes, target(), None) {
                Err(StoreError::Evidence(e)) if expected(&e) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let err = s.add_photo(&code, &jpeg, CaptureTarget::Finding("missing".into()), None).unwrap_err();
        assert!(matches!(err, StoreError::Record(RecordError::UnknownTarget(_))), "{err:?}");
        assert_eq!((blob_rows(&s), s.audit_head().unwrap()), (0, head.clone()));
        let files = std::fs::read_dir(tmp.path().join("blobs"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "tmp")
            .count();
        assert_eq!(files, 0, "no file is written for a refused photo");
        assert!(s.photos(&code).unwrap().is_empty());
    }

    #[test]
    fn garbage_exif_does_not_stop_a_good_photo() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, code) = on_site_task(tmp.path());
        let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x20];
        photo.extend_from_slice(b"Exif\0\0II\x2a\0\xff\xff\xff\x7f garbage garbage");
        photo.extend_from_slice(&sample_jpeg(200, 100, None)[2..]);
        let captured = s.add_photo(&code, &photo, CaptureTarget::Inspection, None).unwrap();
        let record = captured.evidence.capture.verify_file(&photo).unwrap();
        assert_eq!((record.exif_time, record.position, record.width), (None, None, 200));
    }
}

mod legal_documents {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;

    use super::*;
    use crate::document::signature::SignatureProblem;
    use crate::document::{DocumentError, DocumentKind, DocumentSignature, SignatureRole, SignedStatement};
    use crate::record::documents::{DocumentReport, MissingSignature, PartyAct};
    use crate::record::{PartyDraft, Recusal};
    use onevisit_test_support::sample_jpeg;

    /// Two devices (lead scjg-01 and xfjy-01) holding the same complete, recorded inspection, each
    /// having recorded its own department's part.
    fn recorded(root: &Path) -> (Store, Store, TaskCode) {
        let (mut a, code) = on_site_task(&root.join("a"));
        let mut b = store(&root.join("b"), "xfjy-01");
        exchange(&mut a, &mut b, &code);
        a.show_identity(&code).unwrap();
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "现场负责人".into(),
            phone: None,
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        a.record_party(&code, party).unwrap();
        for id in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
            a.answer(&code, &cp(id), AnswerValue::Pass, None, vec![]).unwrap();
        }
        let number = |v: &str, u: &str| AnswerValue::Number { value: v.into(), unit: u.into() };
        a.answer(&code, &cp("SCJG-001-03"), number("3", "℃"), None, vec![]).unwrap();
        b.check_in(&code, Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap();
        let photo = sample_jpeg(640, 480, None);
        let target = crate::evidence::CaptureTarget::CheckPoint("XFJY-001-04".into());
        let sha = b.add_photo(&code, &photo, target, None).unwrap().evidence.sha256;
        b.answer(&code, &cp("XFJY-001-04"), AnswerValue::Photos, None, vec![sha]).unwrap();
        b.answer(&code, &cp("XFJY-001-02"), AnswerValue::Pass, None, vec![]).unwrap();
        b.answer(&code, &cp("XFJY-001-01"), AnswerValue::Fail, Some("灭火器压力不足".into()), vec![]).unwrap();
        b.answer(&code, &cp("XFJY-001-03"), number("0.6", "MPa"), None, vec![]).unwrap();
        b.add_finding(
            &code,
            FindingDraft {
                department: "xfjy".parse().unwrap(),
                check_point: Some(cp("XFJY-001-01")),
                problem: "灭火器压力不足，未保持完好有效".into(),
                legal_basis: "《中华人民共和国消防法》第十六条".into(),
                rectification_required: true,
                deadline: Some(day(20)),
            },
        )
        .unwrap();
        exchange(&mut b, &mut a, &code);
        // The photo's original travels separately (sync or bundle); here it is copied over.
        copy_blobs(&b, &mut a);
        a.set_status(&code, Status::Recorded).unwrap();
        exchange(&mut a, &mut b, &code);
        (a, b, code)
    }

    /// The second officer of each department (scjg-02, xfjy-02), holding the recorded task.
    fn second_officers(root: &Path, a: &mut Store, code: &TaskCode) -> (Store, Store) {
        let mut c = store(&root.join("c"), "scjg-02");
        let mut d = store(&root.join("d"), "xfjy-02");
        exchange(a, &mut c, code);
        exchange(a, &mut d, code);
        (c, d)
    }

    /// Each of `others` in turn receives the record from `a`, signs `sha` and hands it back.
    fn sign_in_turn(a: &mut Store, others: &mut [&mut Store], code: &TaskCode, sha: &str) -> DocumentReport {
        let mut report = a.document_report(code, sha).unwrap();
        for other in others.iter_mut() {
            exchange(a, other, code);
            other.sign_document(code, sha).unwrap();
            exchange(other, a, code);
            report = a.document_report(code, sha).unwrap();
        }
        report
    }

    fn copy_blobs(from: &Store, to: &mut Store) {
        let blobs = from.blobs().unwrap();
        let rows: Vec<(String, String)> = from
            .connection()
            .prepare("SELECT sha256, mime FROM blobs")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (sha, mime) in rows {
            let path = blobs.path_of(&sha);
            let tmp = to.root().join("copied.part");
            std::fs::copy(&path, &tmp).unwrap();
            to.adopt_downloaded_blob(&tmp, &mime).unwrap();
        }
    }

    fn exchange(from: &mut Store, to: &mut Store, code: &TaskCode) {
        let bytes = from.export_record(code).unwrap();
        to.receive_record(&bytes).unwrap();
    }

    fn signature_png() -> Vec<u8> {
        let mut png = Vec::new();
        let image = image::GrayImage::from_fn(120, 40, |x, y| image::Luma([if (x + y) % 17 == 0 { 0 } else { 255 }]));
        image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        png
    }

    #[test]
    fn an_on_site_record_is_signed_by_two_officers_of_each_department_and_the_party() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        let (mut c, mut d) = second_officers(tmp.path(), &mut a, &code);
        let v1 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        assert_eq!(v1.version, 1);
        let content = v1.content().unwrap();
        let text = crate::document::render_text(&content, &[]);
        for expected in [
            "现场检查笔录",
            "平市监现检〔",
            "统一社会信用代码",
            "检查地点",
            "检查人",
            "执法证号",
            "记录人",
            "告知",
            "不申请回避",
            "灭火器压力不足",
            "《中华人民共和国消防法》第十六条",
            "应于 2026-12-20 前改正",
            "沈建国",
            "执法人员签名：__________",
            "当事人签名：__________",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        assert!(!text.contains("（第1版）") && !text.contains("与事实相符"), "{text}");
        a.sign_document(&code, &v1.sha256).unwrap();
        let report = sign_in_turn(&mut a, &mut [&mut b], &code, &v1.sha256);
        // One officer of each department: neither department has its two.
        assert!(!report.signed);
        assert!(
            report
                .missing
                .iter()
                .filter(|m| matches!(m, MissingSignature::DepartmentOfficers { have: 1, named: 2, .. }))
                .count()
                == 2,
            "{:?}",
            report.missing
        );
        let report = sign_in_turn(&mut a, &mut [&mut c, &mut d], &code, &v1.sha256);
        assert_eq!(report.missing, vec![MissingSignature::Party]);
        let act =
            PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
        let report = a.party_act(&code, &v1.sha256, act, Some(&signature_png())).unwrap();
        assert!(report.signed, "{report:?}");
        assert_eq!(report.matches_record, Some(true), "re-rendering at the version's heads gives the same bytes");
        let statement: SignedStatement =
            serde_json::from_str(&a.record(&code).unwrap().signatures(&v1.sha256).unwrap()[0].1.canonical).unwrap();
        assert!(statement.position.is_some(), "a signature says where");
        assert_eq!(report.signatures.len(), 5);
        // The page shows every signature: four officers with their times, the party's statement.
        let printed = a.printed_document(&code, &v1.sha256).unwrap();
        assert_eq!(printed.matches("已电子签名").count(), 4, "{printed}");
        assert_eq!(printed.matches("尚未经服务器确认收到").count(), 5, "never synced: no trusted time yet\n{printed}");
        assert!(!printed.contains("__________"), "{printed}");
        assert!(printed.contains("当事人意见：以上笔录我已看过，与事实相符。"), "{printed}");
        assert!(printed.contains("当事人签名：沈建国（现场负责人）手写签名"), "{printed}");
        // The handwritten signature is kept as evidence of the party signature.
        let photos = a.photos(&code).unwrap();
        let target = crate::evidence::CaptureTarget::PartySignature(v1.sha256.clone());
        assert_eq!(photos.iter().filter(|p| p.target == target).count(), 1);
        // Rendering again without changes gives the same version and writes nothing.
        let head = a.audit_head().unwrap();
        assert_eq!(a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap().sha256, v1.sha256);
        assert_eq!(a.audit_head().unwrap(), head);
        assert!(a.verify_audit().unwrap().is_intact() && b.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn a_refusal_is_printed_in_the_record_with_its_reason_and_the_witness_who_signed() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        let (mut c, mut d) = second_officers(tmp.path(), &mut a, &code);
        let v1 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        a.sign_document(&code, &v1.sha256).unwrap();
        sign_in_turn(&mut a, &mut [&mut b, &mut c, &mut d], &code, &v1.sha256);
        let refusal = PartyAct::Refused {
            reason: "不认可检查结果".into(),
            witness: "村委会 张伟".into(),
            witness_detail: Some("身份证 330482198001011234".into()),
        };
        let report = a.party_act(&code, &v1.sha256, refusal, Some(&signature_png())).unwrap();
        assert!(report.signed, "{report:?}");
        let printed = a.printed_document(&code, &v1.sha256).unwrap();
        for expected in [
            "当事人拒绝签字。拒签理由：不认可检查结果。",
            "见证人：村委会 张伟（身份证 330482198001011234），见证人已手写签名",
        ] {
            assert!(printed.contains(expected), "missing {expected} in\n{printed}");
        }
        assert!(!printed.contains("与事实相符"), "a refusal never prints the party's statement:\n{printed}");
        let target = crate::evidence::CaptureTarget::PartySignature(v1.sha256.clone());
        assert_eq!(
            a.photos(&code).unwrap().iter().filter(|p| p.target == target).count(),
            1,
            "the witness's handwriting is evidence"
        );
    }

    #[test]
    fn a_handwriting_image_drawn_for_one_document_is_refused_on_another() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let record = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        let order = a.render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap())).unwrap();
        let act = || PartyAct::Signed {
            name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new()
        };
        a.party_act(&code, &record.sha256, act(), Some(&signature_png())).unwrap();
        let head = a.audit_head().unwrap();
        let err = a.party_act(&code, &order.sha256, act(), Some(&signature_png())).unwrap_err();
        assert!(
            matches!(&err, StoreError::Record(RecordError::Document(DocumentError::HandwritingReused(d))) if d == &record.sha256),
            "{err:?}"
        );
        assert_eq!(a.audit_head().unwrap(), head, "nothing was kept");
        // A device that slips the reused image in anyway (its own key, a valid statement) gets a
        // signature that does not count.
        let record_now = a.record(&code).unwrap();
        let first = record_now.signatures(&record.sha256).unwrap()[0].1.verify(&record.sha256).unwrap();
        let mut statement = first.clone();
        statement.document_sha256 = order.sha256.clone();
        statement.document_number = order.number.clone();
        let key = DeviceKey::generate();
        statement.device = key.device_id();
        statement.device_public_key = hex::encode(key.public_bytes());
        let signed = DocumentSignature::sign(&statement, &key).unwrap();
        let map = record_now.map("signatures").unwrap();
        record_now
            .doc_mut()
            .put(&map, format!("{}/party", order.sha256).as_str(), serde_json::to_string(&signed).unwrap())
            .unwrap();
        let report = record_now.document_report(&order.sha256, None).unwrap();
        assert!(!report.signed);
        assert_eq!(report.signatures[0].problem, Some(SignatureProblem::HandwritingReused(record.sha256.clone())));
    }

    #[test]
    fn an_order_is_signed_only_by_its_own_departments_officers() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        let (_, mut d) = second_officers(tmp.path(), &mut a, &code);
        let order = a.render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap())).unwrap();
        let named: Vec<String> = order.content().unwrap().inspectors.iter().map(|p| p.inspector.clone()).collect();
        assert_eq!(named, ["xfjy-01", "xfjy-02"]);
        // The market-supervision lead may not sign the fire brigade's order.
        let err = a.sign_document(&code, &order.sha256).unwrap_err();
        assert!(
            matches!(&err, StoreError::Record(RecordError::Document(DocumentError::NotNamed(who))) if who == "scjg-01"),
            "{err:?}"
        );
        // Slipped into the record by hand (past the write rules), the lead's signature does not
        // make up the fire brigade's second.
        let statement = SignedStatement {
            schema: crate::document::signature::SIGNATURE_SCHEMA.into(),
            document_sha256: order.sha256.clone(),
            document_number: order.number.clone(),
            signer: SignatureRole::Inspector { inspector: "scjg-01".into(), certificate_number: "x".into() },
            device: a.device_key().device_id(),
            device_public_key: hex::encode(a.device_key().public_bytes()),
            device_time_ms: 1,
            position: None,
            presence: None,
        };
        let signed = DocumentSignature::sign(&statement, a.device_key()).unwrap();
        exchange(&mut a, &mut b, &code);
        b.sign_document(&code, &order.sha256).unwrap();
        let act =
            PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
        b.party_act(&code, &order.sha256, act, Some(&signature_png())).unwrap();
        exchange(&mut b, &mut d, &code);
        let record = b.record(&code).unwrap();
        let heads = record.heads();
        let mut stray = record.at(&heads).unwrap();
        let map = stray.map("signatures").unwrap();
        let key = format!("{}/inspector/scjg-01", order.sha256);
        stray.doc_mut().put(&map, key.as_str(), serde_json::to_string(&signed).unwrap()).unwrap();
        let report = stray.document_report(&order.sha256, None).unwrap();
        assert!(!report.signed, "{report:?}");
        let lead = report.signatures.iter().find(|c| c.signer == "scjg-01").unwrap();
        assert_eq!(lead.problem, Some(SignatureProblem::NotNamedOnDocument("scjg-01".into())));
        assert!(
            matches!(&report.missing[..], [MissingSignature::DepartmentOfficers { have: 1, named: 2, .. }]),
            "{:?}",
            report.missing
        );
        // The fire brigade's second officer completes it; the stray signature stays uncounted.
        exchange(&mut b, &mut d, &code);
        let report = d.sign_document(&code, &order.sha256).unwrap();
        assert!(report.signed, "{report:?}");
        let printed = d.printed_document(&code, &order.sha256).unwrap();
        assert!(printed.contains("受送达人签收：本文书已收到。"), "{printed}");
        assert!(printed.contains("送达记录：直接送达，受送达人 沈建国（现场负责人）于"), "{printed}");
        assert!(!printed.contains("与事实相符"), "an order's receipt is not the record's sentence:\n{printed}");
    }

    #[test]
    fn one_document_numbered_on_two_devices_at_once_keeps_one_number_after_merging() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        let fire = || Some("xfjy".parse().unwrap());
        // Both devices render the fire order offline, before either hears of the other's.
        let on_a = a.render_document(&code, DocumentKind::RectificationOrder, fire()).unwrap();
        let on_b = b.render_document(&code, DocumentKind::RectificationOrder, fire()).unwrap();
        assert_ne!(on_a.number, on_b.number, "stand-alone stores number in their own sequences");
        exchange(&mut a, &mut b, &code);
        exchange(&mut b, &mut a, &code);
        // After the merge both say the same number: the earlier first version's.
        let kept = a
            .record(&code)
            .unwrap()
            .document_number(DocumentKind::RectificationOrder, &"xfjy".parse().unwrap())
            .unwrap();
        let kept_b = b
            .record(&code)
            .unwrap()
            .document_number(DocumentKind::RectificationOrder, &"xfjy".parse().unwrap())
            .unwrap();
        assert_eq!(kept, kept_b);
        let (winner, loser) = if Some(&on_a.number) == kept.as_ref() { (&on_a, &on_b) } else { (&on_b, &on_a) };
        // The other number's version is superseded and cannot be signed; rendering again gives
        // the kept number.
        let report = a.document_report(&code, &loser.sha256).unwrap();
        assert_eq!(report.superseded_by.as_deref(), Some(winner.sha256.as_str()));
        let err = b.sign_document(&code, &loser.sha256).unwrap_err();
        assert!(matches!(err, StoreError::Record(RecordError::Document(DocumentError::Superseded { .. }))), "{err:?}");
        assert_eq!(b.render_document(&code, DocumentKind::RectificationOrder, fire()).unwrap().sha256, winner.sha256);
        assert!(!winner.number.contains("版"), "the version is not part of the number: {}", winner.number);
    }

    #[test]
    fn a_device_asks_for_numbers_of_the_series_its_open_tasks_need_until_it_holds_enough() {
        use crate::sync::wire::{NumberBlock, NumberSeries};
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, _) = recorded(tmp.path());
        let year = crate::beijing::year();
        let series = |d: &str, k: &str| NumberSeries { department: d.into(), kind: k.into(), year };
        let needs = a.number_needs().unwrap();
        assert_eq!(
            needs,
            [
                series("scjg", "address_confirmation"),
                series("scjg", "on_site_record"),
                series("scjg", "rectification_order"),
                series("scjg", "service_receipt"),
                series("xfjy", "address_confirmation"),
                series("xfjy", "rectification_order"),
                series("xfjy", "service_receipt"),
            ]
        );
        let blocks: Vec<NumberBlock> =
            needs.iter().map(|s| NumberBlock { series: s.clone(), first: 21, count: 10 }).collect();
        assert_eq!(a.add_number_blocks(&blocks).unwrap(), 7);
        assert_eq!(a.add_number_blocks(&blocks).unwrap(), 0, "a block held already is kept as it is");
        assert!(a.number_needs().unwrap().is_empty());
        // Junk is not taken in: no numbers, an unknown kind, a huge block.
        let junk = [
            NumberBlock { series: series("scjg", "on_site_record"), first: 0, count: 10 },
            NumberBlock { series: series("scjg", "summons"), first: 1, count: 10 },
            NumberBlock { series: series("scjg", "on_site_record"), first: 1, count: 1_000_000 },
        ];
        assert_eq!(a.add_number_blocks(&junk).unwrap(), 0);
        let scjg: crate::domain::DepartmentId = "scjg".parse().unwrap();
        let next = a.next_reserved(&scjg, DocumentKind::OnSiteRecord, year).unwrap().unwrap();
        assert_eq!((next.block_first, next.number), (21, 21));
        // The look probes indexes per department; it never reads every task (a no-op sync makes it).
        let sql = a
            .connection()
            .query_row("SELECT sql FROM sqlite_master WHERE name = 'task_index_by_lead'", [], |r| r.get::<_, String>(0))
            .unwrap();
        assert!(sql.contains("lead_department"), "{sql}");
        let plan: Vec<String> = a
            .connection()
            .prepare(&format!("EXPLAIN QUERY PLAN {}", crate::store::numbers::NEEDS_SQL))
            .unwrap()
            .query_map(params![year, 3], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // Open tasks are found by lead department, never read out by status, never scanned.
        assert!(plan.iter().any(|step| step.contains("task_index_by_lead (lead_department=?")), "{plan:#?}");
        assert!(
            !plan.iter().any(|step| step.contains("task_index_by_status") || step.starts_with("SCAN t")),
            "{plan:#?}"
        );
    }

    #[test]
    fn a_sync_looks_for_low_number_series_once_in_a_while_or_when_a_task_arrives() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, _) = recorded(tmp.path());
        assert_eq!(a.number_needs_due(false).unwrap().len(), 7, "the first look reads");
        assert!(a.number_needs_due(false).unwrap().is_empty(), "a look moments ago is trusted");
        assert_eq!(a.number_needs_due(true).unwrap().len(), 7, "unless the sync brought records");
        // A task created on the device (here for the environmental and health departments) makes
        // the next look due.
        let directory = sample::directory().unwrap();
        let mut draft = sample::joint_task_draft(&directory, 3, day(21));
        draft.lead_department = "sthj".parse().unwrap();
        draft.departments = vec!["sthj".parse().unwrap(), "wsjk".parse().unwrap()];
        draft.inspectors = vec!["sthj-01".parse().unwrap(), "wsjk-01".parse().unwrap()];
        draft.lead_inspector = "sthj-01".parse().unwrap();
        draft.matters = vec!["STHJ-001".parse().unwrap(), "WSJK-001".parse().unwrap()];
        a.create_task(draft).unwrap();
        let needs: Vec<String> =
            a.number_needs_due(false).unwrap().into_iter().map(|s| format!("{}/{}", s.department, s.kind)).collect();
        assert!(
            needs.contains(&"sthj/on_site_record".to_string())
                && needs.contains(&"wsjk/rectification_order".to_string()),
            "{needs:?}"
        );
    }

    #[test]
    fn an_order_at_once_follows_its_on_site_record_and_the_record_prints_every_template_field() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        // The lead reopens to record the representative's ID and statement; the fire officer
        // adds a locked exit to be cleared at once (its deadline the day of the inspection).
        a.set_status(&code, Status::OnSite).unwrap();
        exchange(&mut a, &mut b, &code);
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "现场负责人".into(),
            phone: Some("13800000000".into()),
            recusal: Recusal::NotRequested,
            id_number: Some("330482198001011234".into()),
            statement: Some("灭火器已联系供应商更换，请求从轻处理".into()),
        };
        a.record_party(&code, party).unwrap();
        b.add_finding(
            &code,
            FindingDraft {
                department: "xfjy".parse().unwrap(),
                check_point: Some(cp("XFJY-001-02")),
                problem: "安全出口上锁".into(),
                legal_basis: "《中华人民共和国消防法》第二十八条".into(),
                rectification_required: true,
                deadline: Some(crate::beijing::today()),
            },
        )
        .unwrap();
        exchange(&mut b, &mut a, &code);
        a.set_status(&code, Status::Recorded).unwrap();
        exchange(&mut a, &mut b, &code);
        let record = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        let text = crate::document::render_text(&record.content().unwrap(), &[]);
        for expected in [
            "在场人员：沈建国（现场负责人，身份证件号码 330482198001011234），联系电话 13800000000",
            "法定代表人（负责人）：",
            "主体资格证照：营业执照（统一社会信用代码",
            "检查依据：《中华人民共和国消防法》第五十三条；检查内容依据：《中华人民共和国消防法》第十六条第一款第（二）项",
            "检查依据：《中华人民共和国食品安全法》第一百一十条",
            "有其他关系可能影响公正执法的，有权申请回避",
            "当事人陈述、申辩：灭火器已联系供应商更换，请求从轻处理",
            "安全出口上锁（《中华人民共和国消防法》第二十八条），应立即改正",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        // Both fire findings: one at once, one by its deadline; the order names the record.
        let order = a.render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap())).unwrap();
        let content = order.content().unwrap();
        let text = crate::document::render_text(&content, &[]);
        assert_eq!(content.title, "责令限期改正通知书", "not every finding is to be put right at once");
        for expected in [
            format!("经查（见现场检查笔录 {}），你单位存在下列问题：", record.number),
            "责令你单位立即改正。".to_string(),
            "责令你单位于 2026-12-20 前改正。".to_string(),
        ] {
            assert!(text.contains(&expected), "missing {expected} in\n{text}");
        }
        // A re-render on another day is the same version: the date of issue is no change.
        let again = a.render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap())).unwrap();
        assert_eq!(again.sha256, order.sha256);
        assert_eq!(a.document_report(&code, &order.sha256).unwrap().matches_record, Some(true));
    }

    #[test]
    fn an_order_refused_by_the_party_is_served_by_leaving_it_before_a_witness() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let order = a.render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap())).unwrap();
        let refusal = PartyAct::Refused {
            reason: "不同意整改期限".into(),
            witness: "社区网格员 李娜".into(),
            witness_detail: Some("身份证 330482199001011234".into()),
        };
        a.party_act(&code, &order.sha256, refusal, None).unwrap();
        let printed = a.printed_document(&code, &order.sha256).unwrap();
        for expected in [
            "受送达人拒绝签收。拒签理由：不同意整改期限。",
            "送达记录：受送达人拒绝签收，执法人员在见证人 社区网格员 李娜 见证下将本文书留置送达",
        ] {
            assert!(printed.contains(expected), "missing {expected} in\n{printed}");
        }
        assert!(!printed.contains("尚未送达") && !printed.contains("本文书已收到"), "{printed}");
    }

    fn confirm_address(store: &mut Store, code: &TaskCode, electronic: Option<&str>) {
        let draft = crate::record::ServiceAddressDraft {
            address: "浙江省平湖市乍浦镇雅山西路9号 办公室".into(),
            recipient: "沈建国（现场负责人）".into(),
            phone: "13800000000".into(),
            electronic: electronic.map(str::to_string),
        };
        store.confirm_service_address(code, draft).unwrap();
    }

    #[test]
    fn the_address_confirmation_is_a_document_the_party_itself_signs_and_never_a_refusal() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        let err = a.render_document(&code, DocumentKind::AddressConfirmation, None).unwrap_err();
        assert!(err.to_string().contains("尚未记录当事人的送达地址"), "{err}");
        confirm_address(&mut a, &code, Some("shen@example.cn"));
        let doc = a.render_document(&code, DocumentKind::AddressConfirmation, None).unwrap();
        assert!(doc.number.starts_with("平市监送确〔"), "its own series of the lead agency: {}", doc.number);
        let page = a.printed_document(&code, &doc.sha256).unwrap();
        for field in [
            "送达地址确认书",
            "送达地址：浙江省平湖市乍浦镇雅山西路9号 办公室",
            "受送达人：沈建国（现场负责人）",
            "联系电话：13800000000",
            "电子送达：同意，接收方式 shen@example.cn",
            "退回之日视为送达之日",
            "受送达人确认：__________",
        ] {
            assert!(page.contains(field), "missing {field} in\n{page}");
        }
        // A refusal does not stand in for the party's own confirmation.
        let refusal =
            PartyAct::Refused { reason: "不愿填写".into(), witness: "李娜".into(), witness_detail: None };
        let err = a.party_act(&code, &doc.sha256, refusal, None).unwrap_err();
        assert!(err.to_string().contains("拒签不能代替"), "{err}");
        // Two officers of the lead department and the party's signature complete it.
        let (mut c, _) = second_officers(tmp.path(), &mut a, &code);
        let report = sign_in_turn(&mut a, &mut [&mut c], &code, &doc.sha256);
        assert!(!report.signed);
        a.sign_document(&code, &doc.sha256).unwrap();
        let act =
            PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
        let report = a.party_act(&code, &doc.sha256, act, Some(&signature_png())).unwrap();
        assert!(report.signed, "{report:?}");
        let page = a.printed_document(&code, &doc.sha256).unwrap();
        assert!(page.contains("受送达人确认：以上送达地址及联系方式由本单位确认，真实有效"), "{page}");
        // A correction of the address makes a new version; without electronic service it says so.
        exchange(&mut a, &mut b, &code);
        confirm_address(&mut b, &code, None);
        let again = b.render_document(&code, DocumentKind::AddressConfirmation, None).unwrap();
        assert_eq!((again.number.as_str(), again.version), (doc.number.as_str(), 2));
        assert!(b.printed_document(&code, &again.sha256).unwrap().contains("电子送达：不同意"));
    }

    #[test]
    fn a_service_receipt_records_the_service_of_its_departments_order_signed_or_left_before_a_witness() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let fire = || Some("xfjy".parse().unwrap());
        let err = a.render_document(&code, DocumentKind::ServiceReceipt, None).unwrap_err();
        assert!(err.to_string().contains("须写明发文部门"), "{err}");
        let err = a.render_document(&code, DocumentKind::ServiceReceipt, fire()).unwrap_err();
        assert!(err.to_string().contains("尚未制作责令改正通知书"), "{err}");
        let order = a.render_document(&code, DocumentKind::RectificationOrder, fire()).unwrap();
        let receipt = a.render_document(&code, DocumentKind::ServiceReceipt, fire()).unwrap();
        assert!(receipt.number.starts_with("平消送回〔"), "{}", receipt.number);
        let content = receipt.content().unwrap();
        let served = &content.service.as_ref().unwrap().served;
        assert_eq!(
            (served[0].number.as_str(), served[0].sha256.as_str()),
            (order.number.as_str(), order.sha256.as_str())
        );
        assert!(content.inspectors.iter().all(|p| p.department_id == "xfjy"), "served by the fire brigade's officers");
        // No address confirmed: served at the premises to the representative present.
        let page = a.printed_document(&code, &receipt.sha256).unwrap();
        for field in [
            "送达回证",
            &format!("送达文书：{} {}", content.service.as_ref().unwrap().served[0].title, order.number),
            "受送达人：沈建国（现场负责人）",
            "送达人：何杰、孙勇",
            "当事人签收：__________",
        ] {
            assert!(page.contains(field), "missing {field} in\n{page}");
        }
        // The party refuses: the receipt records service by leaving it, before the witness.
        let refusal =
            PartyAct::Refused {
                reason: "拒绝接收".into(), witness: "社区网格员 李娜".into(), witness_detail: None
            };
        a.party_act(&code, &receipt.sha256, refusal, None).unwrap();
        let page = a.printed_document(&code, &receipt.sha256).unwrap();
        assert!(
            page.contains("送达记录：受送达人拒绝签收，执法人员在见证人 社区网格员 李娜 见证下将本文书留置送达"),
            "{page}"
        );
        let report = a.document_report(&code, &receipt.sha256).unwrap();
        assert_eq!(report.missing.len(), 1, "only the fire officers are missing: {:?}", report.missing);
    }

    /// The platform's answer to every presence prompt, and the prompts it was shown.
    struct Platform {
        answer: Result<crate::document::presence::SignerPresence, crate::document::presence::PresenceError>,
        prompts: std::sync::Mutex<Vec<String>>,
    }

    impl crate::document::presence::PresenceCheck for Platform {
        fn confirm(
            &self,
            prompt: &str,
        ) -> Result<crate::document::presence::SignerPresence, crate::document::presence::PresenceError> {
            self.prompts.lock().unwrap().push(prompt.to_string());
            self.answer.clone()
        }
    }

    fn blob_count(s: &Store) -> i64 {
        s.connection().query_row("SELECT COUNT(*) FROM blobs", [], |r| r.get(0)).unwrap()
    }

    fn audit_entries(s: &Store) -> i64 {
        s.connection().query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_signature_asks_for_the_signers_presence_and_a_refusal_signs_and_keeps_nothing() {
        use crate::document::presence::{PresenceError, SignerPresence};
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let doc = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        let refusing =
            std::sync::Arc::new(Platform { answer: Err(PresenceError::NotConfirmed), prompts: Default::default() });
        a.set_presence_check(refusing.clone());
        let (entries, blobs) = (audit_entries(&a), blob_count(&a));
        let err = a.sign_document(&code, &doc.sha256).unwrap_err();
        assert!(err.to_string().contains("未确认签名人本人在场"), "{err}");
        let act =
            PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
        assert!(a.party_act(&code, &doc.sha256, act.clone(), Some(&signature_png())).is_err());
        assert!(a.record(&code).unwrap().signatures(&doc.sha256).unwrap().is_empty(), "nothing signed");
        assert_eq!(audit_entries(&a), entries, "nothing audited");
        assert_eq!(blob_count(&a), blobs, "the handwriting was not kept");
        assert_eq!(
            refusing.prompts.lock().unwrap().first().map(String::as_str),
            Some(format!("签署现场检查笔录 {}", doc.number).as_str()),
            "the prompt says what is signed"
        );
        // Confirmed by biometrics: the statement says so, and the page prints it.
        let face = std::sync::Arc::new(Platform { answer: Ok(SignerPresence::Biometric), prompts: Default::default() });
        a.set_presence_check(face);
        a.sign_document(&code, &doc.sha256).unwrap();
        let statements = a.record(&code).unwrap().verified_statements(&doc.sha256).unwrap();
        assert_eq!(statements[0].presence, Some(SignerPresence::Biometric));
        assert!(a.printed_document(&code, &doc.sha256).unwrap().contains("签名人生物识别确认"));
    }

    #[test]
    fn a_desktop_store_opened_with_its_passphrase_signs_in_the_signers_presence_and_one_opened_with_a_key_file_does_not()
     {
        use crate::document::presence::SignerPresence;
        use crate::identity::PassphraseWrapper;
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let doc = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        // The key-file store (the default) signs with no presence recorded; the page says so.
        a.sign_document(&code, &doc.sha256).unwrap();
        assert!(a.printed_document(&code, &doc.sha256).unwrap().contains("签署时未验证签名人本人"));
        // scjg-02's store is sealed under a passphrase: opening it is the signer's presence.
        let root = tmp.path().join("passphrase");
        std::fs::create_dir_all(&root).unwrap();
        let passphrase = PassphraseWrapper::new("正确的口令 correct horse").unwrap();
        let mut c = Store::init(&root, &passphrase, Some("scjg-02".parse().unwrap())).unwrap();
        c.import_directory(sample::directory().unwrap()).unwrap();
        drop(c);
        let mut c = Store::open(&root, &passphrase).unwrap();
        exchange(&mut a, &mut c, &code);
        c.sign_document(&code, &doc.sha256).unwrap();
        let statements = c.record(&code).unwrap().verified_statements(&doc.sha256).unwrap();
        let by_c = statements.iter().find(|s| s.device == c.device_key().device_id()).unwrap();
        assert_eq!(by_c.presence, Some(SignerPresence::Passphrase));
        assert!(c.printed_document(&code, &doc.sha256).unwrap().contains("签名人输入口令确认"));
    }

    #[test]
    fn signing_twice_or_as_an_unassigned_inspector_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let v1 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        a.sign_document(&code, &v1.sha256).unwrap();
        let err = a.sign_document(&code, &v1.sha256).unwrap_err();
        assert!(matches!(err, StoreError::Record(RecordError::Document(DocumentError::AlreadySigned(_)))), "{err:?}");
        let mut c = store(&tmp.path().join("c"), "wsjk-01");
        exchange(&mut a, &mut c, &code);
        let err = c.sign_document(&code, &v1.sha256).unwrap_err();
        // Not on the task at all: said before anything about the document.
        assert!(matches!(err, StoreError::Record(RecordError::NotAssigned(_))), "{err:?}");
    }

    #[test]
    fn a_signature_by_a_key_of_someone_not_on_the_task_does_not_count() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let v1 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        a.sign_document(&code, &v1.sha256).unwrap();
        // An outsider's device signs as wsjk-01 and the statement is slipped into the record.
        let outsider = DeviceKey::generate();
        let statement = SignedStatement {
            schema: crate::document::signature::SIGNATURE_SCHEMA.into(),
            document_sha256: v1.sha256.clone(),
            document_number: v1.number.clone(),
            signer: SignatureRole::Inspector { inspector: "wsjk-01".into(), certificate_number: "x".into() },
            device: outsider.device_id(),
            device_public_key: hex::encode(outsider.public_bytes()),
            device_time_ms: 1,
            position: None,
            presence: None,
        };
        let forged = DocumentSignature::sign(&statement, &outsider).unwrap();
        let record = a.record(&code).unwrap();
        let map = record.map("signatures").unwrap();
        let key = format!("{}/inspector/wsjk-01", v1.sha256);
        record.doc_mut().put(&map, key.as_str(), serde_json::to_string(&forged).unwrap()).unwrap();
        let report = record.document_report(&v1.sha256, None).unwrap();
        assert!(!report.signed);
        let check = report.signatures.iter().find(|c| c.key == key).unwrap();
        assert_eq!(check.problem, Some(SignatureProblem::NotTaskInspector("wsjk-01".into())));
        assert!(report.missing.iter().any(|m| matches!(m, MissingSignature::DepartmentOfficers { have: 1, .. })));
    }

    #[test]
    fn flipped_bytes_in_a_signature_or_a_signed_document_are_detected() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let v1 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        a.sign_document(&code, &v1.sha256).unwrap();
        let record = a.record(&code).unwrap();
        // A flipped signature byte.
        let sigs = record.map("signatures").unwrap();
        let key = format!("{}/inspector/scjg-01", v1.sha256);
        let (value, _) = record.doc().get(&sigs, key.as_str()).unwrap().unwrap();
        let mut sig: DocumentSignature = serde_json::from_str(value.as_str().unwrap()).unwrap();
        let mut raw = hex::decode(&sig.signature).unwrap();
        raw[10] ^= 1;
        sig.signature = hex::encode(raw);
        record.doc_mut().put(&sigs, key.as_str(), serde_json::to_string(&sig).unwrap()).unwrap();
        let report = record.document_report(&v1.sha256, None).unwrap();
        assert_eq!(report.signatures[0].problem, Some(SignatureProblem::BadSignature));
        // A flipped byte in the signed document itself.
        let docs = record.map("documents").unwrap();
        let mut version = record.document(&v1.sha256).unwrap();
        version.canonical = version.canonical.replacen("灭火器压力不足", "灭火器压力充足", 1);
        record.doc_mut().put(&docs, v1.sha256.as_str(), serde_json::to_string(&version).unwrap()).unwrap();
        let report = record.document_report(&v1.sha256, None).unwrap();
        assert!(!report.intact && !report.signed);
        let directory = sample::directory().unwrap();
        assert_eq!(record.matches_record(&directory, &v1.sha256).unwrap(), Some(false));
        let err = record.signable(&v1.sha256).unwrap_err();
        assert!(matches!(err, RecordError::Document(DocumentError::Altered(_))), "{err:?}");
    }

    #[test]
    fn editing_what_a_signed_version_covers_makes_a_new_version_and_keeps_the_old_one_verifiable() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        let (mut c, mut d) = second_officers(tmp.path(), &mut a, &code);
        let v1 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        a.sign_document(&code, &v1.sha256).unwrap();
        sign_in_turn(&mut a, &mut [&mut b, &mut c, &mut d], &code, &v1.sha256);
        let refusal =
            PartyAct::Refused {
                reason: "不认可检查结果".into(), witness: "村委会 张伟".into(), witness_detail: None
            };
        assert!(a.party_act(&code, &v1.sha256, refusal, None).unwrap().signed);

        // The lead reopens the record and corrects an answer.
        a.set_status(&code, Status::OnSite).unwrap();
        a.answer(&code, &cp("SCJG-001-04"), AnswerValue::Fail, Some("发现过期食品 2 件".into()), vec![]).unwrap();
        let err = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap_err();
        assert!(
            matches!(err, StoreError::Record(RecordError::Document(DocumentError::RecordNotComplete(_)))),
            "{err:?}"
        );
        a.set_status(&code, Status::Recorded).unwrap();
        let v2 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        assert_ne!(v2.sha256, v1.sha256);
        assert_eq!((v2.version, &v2.number), (2, &v1.number));
        let new = a.document_report(&code, &v2.sha256).unwrap();
        assert!(!new.signed && new.signatures.is_empty(), "a new version needs new signatures");
        let old = a.document_report(&code, &v1.sha256).unwrap();
        assert!(old.signed && old.intact, "the signed version stays retrievable and verifiable");
        assert_eq!(old.matches_record, Some(true), "v1 still matches the record as it was at v1's heads");
        assert_eq!(old.superseded_by.as_deref(), Some(v2.sha256.as_str()));
        let err = a.sign_document(&code, &v1.sha256).unwrap_err();
        assert!(matches!(err, StoreError::Record(RecordError::Document(DocumentError::Superseded { .. }))), "{err:?}");
        assert_eq!(a.documents(&code).unwrap().len(), 2);
    }

    #[test]
    fn signing_is_refused_while_a_conflict_is_open() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, mut b, code) = recorded(tmp.path());
        let v1 = a.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
        exchange(&mut a, &mut b, &code);
        // The lead reopens; both devices then record the party's representative differently, and
        // the lead completes again before seeing b's entry: the merge conflicts.
        a.set_status(&code, Status::OnSite).unwrap();
        exchange(&mut a, &mut b, &code);
        let party = |role: &str| PartyDraft {
            name: "沈建国".into(),
            role: role.into(),
            phone: None,
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        b.record_party(&code, party("法定代表人")).unwrap();
        a.record_party(&code, party("现场负责人（厨师长）")).unwrap();
        a.set_status(&code, Status::Recorded).unwrap();
        exchange(&mut b, &mut a, &code);
        assert!(!a.conflicts(&code).unwrap().is_empty());
        let err = a.sign_document(&code, &v1.sha256).unwrap_err();
        assert!(matches!(err, StoreError::Record(RecordError::Document(DocumentError::OpenConflicts(_)))), "{err:?}");
    }

    #[test]
    fn an_order_to_rectify_is_issued_by_a_department_with_findings_to_rectify() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, _, code) = recorded(tmp.path());
        let err =
            a.render_document(&code, DocumentKind::RectificationOrder, Some("scjg".parse().unwrap())).unwrap_err();
        assert!(matches!(err, StoreError::Record(RecordError::Document(DocumentError::NothingToOrder(_)))), "{err:?}");
        let order = a.render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap())).unwrap();
        let content = order.content().unwrap();
        assert!(order.number.starts_with("平消责改〔"), "{}", order.number);
        assert_eq!(content.order.as_ref().unwrap().deadline, "2026-12-20");
        assert_eq!(content.inspectors.len(), 2, "the issuing department's inspectors");
        let text = crate::document::render_text(&content, &[]);
        for expected in [
            // The fire service's own document type (规定 19), by the finding's deadline.
            "责令限期改正通知书",
            "违反了《中华人民共和国消防法》第十六条",
            // The power to order, from the catalogue, not the article violated; per finding.
            "依据《中华人民共和国消防法》第六十条第一款第（一）项的规定，责令你单位于 2026-12-20 前改正。",
            // The review authority and the court, from the directory.
            "依法向平湖市人民政府申请行政复议",
            "依法向平湖市人民法院提起行政诉讼",
            "联系人及电话：消防救援大队防火监督科 0573-85016119",
            "法定代表人（负责人）：",
            "主体资格证照：营业执照（统一社会信用代码",
            "当事人签收：__________",
            "送达记录：尚未送达。",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        let issued = content.order.as_ref().unwrap().issued_on.clone();
        assert!(text.contains(&format!("平湖市消防救援大队    {issued}")), "the date of issue:\n{text}");
        assert!(!text.contains("与事实相符"), "{text}");
        let err = a
            .party_act(
                &code,
                &order.sha256,
                PartyAct::Refused { reason: "x".into(), witness: " ".into(), witness_detail: None },
                None,
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::Record(RecordError::Document(DocumentError::WitnessRequired))), "{err:?}");
    }

    #[test]
    fn the_task_code_is_valid_through_the_task_window_and_audited() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, code) = on_site_task(tmp.path());
        let head = s.audit_head().unwrap().seq;
        let (token, claims) = s.issue_task_token(&code).unwrap();
        assert_eq!(s.audit_head().unwrap().seq, head + 1);
        assert_eq!(claims.inspectors.len(), 4);
        let key = s.device_key().verifying_key();
        let during = claims.not_before_ms + 3_600_000;
        assert_eq!(crate::task_token::verify(&token, &key, during).unwrap().code, code.as_str());
        let after = claims.expires_ms + 1;
        assert!(matches!(
            crate::task_token::verify(&token, &key, after),
            Err(crate::task_token::TokenError::Expired { .. })
        ));
        assert_eq!(claims.expires_ms - claims.not_before_ms, 7 * 86_400_000 - 1, "a seven-day window, Beijing days");
    }
}

#[test]
fn a_record_is_dirty_until_the_server_confirms_its_heads_and_again_after_an_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, code) = on_site_task(tmp.path());
    let dirty = s.dirty_records().unwrap();
    assert_eq!(dirty.len(), 1);
    assert!(dirty[0].confirmed.is_empty());
    let (changes, heads) = s.changes_for_push(&code, &[]).unwrap();
    assert!(changes.len() >= 2, "creation and check-in");
    s.confirm_heads(&code, &heads).unwrap();
    assert!(s.dirty_records().unwrap().is_empty());
    s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    let dirty = s.dirty_records().unwrap();
    assert_eq!(dirty.len(), 1);
    let (delta, _) = s.changes_for_push(&code, &dirty[0].confirmed).unwrap();
    assert_eq!(delta.len(), 1, "only the change the server lacks");
}

#[test]
fn remote_changes_are_applied_persisted_and_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, code) = on_site_task(&tmp.path().join("a"));
    let mut b = store(&tmp.path().join("b"), "xfjy-01");
    let (all, heads) = a.changes_for_push(&code, &[]).unwrap();
    assert!(b.apply_remote(&code, all, &heads).unwrap(), "a new record is created");
    assert!(b.dirty_records().unwrap().is_empty(), "it arrived confirmed");
    a.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    let (delta, heads) = a.changes_for_push(&code, &heads).unwrap();
    assert!(b.apply_remote(&code, delta.clone(), &heads).unwrap());
    assert!(!b.apply_remote(&code, delta, &heads).unwrap(), "applying twice changes nothing");
    drop(b);
    let mut b = Store::open(&tmp.path().join("b"), &wrapper(&tmp.path().join("b"))).unwrap();
    assert_eq!(b.record(&code).unwrap().heads(), heads);
    assert!(b.dirty_records().unwrap().is_empty());
    assert!(matches!(
        b.apply_remote(&code, vec![vec![1, 2, 3]], &heads),
        Err(StoreError::Record(RecordError::MalformedChange))
    ));
}

mod concurrent_writers {
    use super::*;

    fn finding(n: usize) -> FindingDraft {
        FindingDraft {
            department: "scjg".parse().unwrap(),
            check_point: None,
            problem: format!("问题 {n}"),
            legal_basis: "《食品安全法》第五十四条".into(),
            rectification_required: false,
            deadline: None,
        }
    }

    #[test]
    fn two_handles_writing_one_store_at_once_keep_every_edit_and_one_unforked_audit_chain() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, code) = on_site_task(tmp.path());
        let second = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
        let before = first.audit_head().unwrap().seq;
        let per_writer = 40;
        let writers: Vec<_> = [first, second]
            .into_iter()
            .enumerate()
            .map(|(w, mut s)| {
                let code = code.clone();
                std::thread::spawn(move || {
                    for i in 0..per_writer {
                        s.add_finding(&code, finding(w * 1000 + i)).unwrap();
                        // Interleave with a plain answer on the same record.
                        let value = AnswerValue::Number { value: format!("{}.5", i % 10), unit: "℃".into() };
                        s.answer(&code, &cp("SCJG-001-03"), value, None, Vec::new()).unwrap();
                    }
                    s
                })
            })
            .collect();
        let mut stores: Vec<Store> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let report = stores[0].verify_audit().unwrap();
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(report.head_seq, before + 4 * per_writer as u64, "one entry per edit, none lost");
        for s in &mut stores {
            assert_eq!(s.record(&code).unwrap().findings().unwrap().len(), 2 * per_writer);
            let mut stored = s.local_heads(&code).unwrap().unwrap();
            stored.sort();
            let mut mine = s.record(&code).unwrap().heads();
            mine.sort();
            assert_eq!(stored, mine, "the heads recorded for sync are the record's");
        }
        // A third handle opened afterwards reads exactly what the two wrote.
        let mut third = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
        assert_eq!(third.record(&code).unwrap().findings().unwrap().len(), 2 * per_writer);
    }

    #[test]
    fn a_handle_whose_copy_another_wrote_past_builds_on_the_stored_record() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut screen, code) = on_site_task(tmp.path());
        let mut worker = Store::open(tmp.path(), &wrapper(tmp.path())).unwrap();
        // Both hold the record in memory; the worker writes past the screen's copy.
        screen.record(&code).unwrap();
        worker.add_finding(&code, finding(1)).unwrap();
        screen.add_finding(&code, finding(2)).unwrap();
        let problems: Vec<String> =
            screen.record(&code).unwrap().findings().unwrap().into_iter().map(|f| f.problem).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        // The same actor wrote both, one after the other: one line of history, no fork.
        assert_eq!(screen.record(&code).unwrap().heads().len(), 1);
        assert!(screen.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn a_new_audit_segment_continues_from_the_servers_head_and_verifies_with_its_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, code) = on_site_task(tmp.path());
        assert!(matches!(s.start_audit_segment("无故"), Err(StoreError::NoAuditRefusal)));
        let local = s.audit_head().unwrap();
        // The server holds a longer chain of this device, diverged after entry 2 (as after a
        // restore from a backup taken then); it refused this copy's upload.
        s.connection()
            .execute(
                "INSERT INTO sync_account (id, server_url, certificate, root_public_key, device_code, revocations, \
                 enrolled_at_ms, audit_confirmed_seq) VALUES (1, 'http://127.0.0.1:9', ?1, '', 'D', ?1, 0, 2)",
                [r#"{"canonical":"{}","signature":""}"#],
            )
            .unwrap();
        let server_hash = "ab".repeat(32);
        s.record_audit_refusal(&AuditRefusal {
            reason: "diverged".into(),
            server_seq: 7,
            server_hash: server_hash.clone(),
        })
        .unwrap();
        assert!(matches!(s.start_audit_segment("  "), Err(StoreError::SegmentReasonMissing)));
        let started = s.start_audit_segment("从备份恢复").unwrap();
        assert_eq!(started.start_seq, 8);
        assert_eq!(started.carried, local.seq - 2, "every entry after the confirmed one is carried over");
        assert_eq!(started.head_seq, 8 + started.carried);
        assert_eq!(s.audit_set_aside().unwrap().len() as u64, started.carried, "the originals are kept");
        let report = s.verify_audit().unwrap();
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(report.segments.len(), 1);
        assert_eq!((report.segments[0].seq, report.segments[0].after_local), (8, 2));
        assert!(report.segments[0].explanation.contains("从备份恢复"));
        // The segment links to the server's head, so the server takes it as a continuation.
        let entries = s.audit_entries_after(2, 100).unwrap();
        let first = entries[0].entry().unwrap();
        assert_eq!((first.seq, first.prev_hash.as_str()), (8, server_hash.as_str()));
        assert_eq!(s.audit_refusal().unwrap(), None);
        assert_eq!(s.audit_confirmed_seq().unwrap(), 7);
        // The record itself is untouched, and recording goes on in the new segment.
        s.add_finding(&code, finding(1)).unwrap();
        assert!(s.verify_audit().unwrap().is_intact());
    }
}

#[test]
fn what_a_sync_reads_first_follows_what_changed_not_what_the_device_holds() {
    // The two reads of every sync round are index ranges: the dirty records alone, and the
    // audit entries after the accepted one — never a scan of every record or entry held.
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "scjg-01");
    let plan = |sql: &str| -> String {
        let mut stmt = s.connection().prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let values = [0i64, 10];
        let params = rusqlite::params_from_iter(values.iter().take(stmt.parameter_count()));
        let rows = stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    let dirty = plan(super::sync_state::DIRTY_RECORDS);
    assert!(dirty.contains("USING INDEX sync_records_dirty"), "{dirty}");
    let audit = plan(super::sync_state::AUDIT_AFTER);
    assert!(audit.contains("USING INDEX audit_log_by_seq (seq>?)"), "{audit}");
}

#[test]
fn a_store_keeps_a_bounded_number_of_records_loaded_and_reads_dropped_ones_back_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path(), "scjg-01");
    let directory = s.directory().unwrap();
    let drafts = (0..300).map(|i| sample::joint_task_draft(&directory, i, day(1))).collect();
    let tasks = s.create_tasks(drafts).unwrap();
    let codes: Vec<TaskCode> = tasks.iter().map(|t| t.code.clone()).collect();
    for code in &codes {
        s.check_in(code, Position::wgs84(30.7, 121.0, 4).unwrap()).unwrap();
    }
    assert!(s.loaded_records() <= super::record_cache::MAX_CACHED_RECORDS, "{} loaded", s.loaded_records());
    // The first records were dropped long ago: they are read back and edited as usual.
    let point = |i: usize| {
        let task = &tasks[i];
        let matter =
            task.matters.iter().filter_map(|m| directory.matter(m)).find(|m| m.department == task.lead_department);
        matter.unwrap().check_points[0].id.clone()
    };
    s.answer(&codes[0], &point(0), AnswerValue::Pass, None, vec![]).unwrap();
    assert_eq!(s.record(&codes[0]).unwrap().status().unwrap(), Status::OnSite);
    // Another writer of the same store commits: every loaded copy is checked, and only those.
    let mut other = Store::open(dir.path(), &wrapper(dir.path())).unwrap();
    other.answer(&codes[1], &point(1), AnswerValue::Pass, None, vec![]).unwrap();
    let theirs = other.record(&codes[1]).unwrap().heads();
    assert_eq!(s.record(&codes[1]).unwrap().heads(), theirs);
    assert!(s.loaded_records() <= super::record_cache::MAX_CACHED_RECORDS);
}

#[test]
fn a_record_never_pushed_is_pushed_from_its_stored_changes_and_confirmed_without_being_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let (s, code) = on_site_task(dir.path());
    drop(s);
    let mut s = Store::open(dir.path(), &wrapper(dir.path())).unwrap();
    let (changes, heads) = s.changes_for_push(&code, &[]).unwrap();
    assert!(!s.is_loaded(&code), "answered from the stored bytes");
    // The server's acknowledgement (its heads, no changes) confirms them without a load either.
    assert!(!s.apply_remote(&code, vec![], &heads).unwrap());
    assert!(s.holds_heads(&code, &heads).unwrap());
    assert!(!s.is_loaded(&code));
    assert_eq!(s.heads_pair(&code).unwrap().1, heads);
    // Exactly what the loaded record gives.
    let record = s.record(&code).unwrap();
    assert_eq!(changes, record.changes_since(&[]));
    let mut mine = record.heads();
    mine.sort();
    assert_eq!(heads, mine);
    // A record compacted into a snapshot is loaded to answer, with the same result.
    for i in 0..200 {
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, Some(format!("第{i}次")), vec![]).unwrap();
    }
    let stored_first: Vec<u8> = s
        .connection()
        .query_row("SELECT snapshot FROM records WHERE task_code = ?1", [code.as_str()], |r| r.get(0))
        .unwrap();
    assert!(crate::record::exchange::split_changes(&stored_first).is_none(), "compacted by now");
    drop(s);
    let mut s = Store::open(dir.path(), &wrapper(dir.path())).unwrap();
    let (changes, _) = s.changes_for_push(&code, &[]).unwrap();
    assert_eq!(changes, s.record(&code).unwrap().changes_since(&[]));
}
