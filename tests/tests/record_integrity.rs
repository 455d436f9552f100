//! Record integrity against an enrolled, assigned device: a dishonest inspector of the other
//! department (or a stolen handheld) pushes hand-made Automerge changes, made with that device's
//! own key and actor, through the normal `POST /v1/sync` of a real `onevisit-server` process. The
//! server refuses each with the rule and the path; the honest device never shows the forged
//! content; the same changes handed to a device directly (the server's answer, a file, the sync
//! protocol's fallback) are refused and quarantined by the device; one bad record never stops the
//! others.

use std::sync::Mutex;

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ROOT, ReadDoc};
use onevisit_core::domain::TaskCode;
use onevisit_core::record::{Position, RecordError, Status, WriteRule};
use onevisit_core::store::{Store, StoreError};
use onevisit_core::sync::wire::{RecordPush, RecordResult, Refusal, SyncRequest, SyncResponse, b64, heads_to_hex};
use onevisit_core::sync::{self, CancelToken};
use onevisit_flow_tests::{City, fast_options, recorded_case, rendered, sign_everything, sync_ok};

/// The shared case: the lead (scjg-01, device A) and the fire officer (xfjy-01, device B) record
/// the sample task honestly (B with a photo and a finding), complete it and sign the on-site record
/// (both inspectors and the party).
struct Signed {
    city: City,
    a: Mutex<Store>,
    b: Mutex<Store>,
    code: TaskCode,
    document: String,
}

fn signed_inspection() -> Signed {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    let document = sign_everything(&city, &a, &b, &code);
    sync_ok(&b);
    Signed { city, a, b, code, document }
}

/// A hand-made change by `store`'s own device actor: whatever `edit` does to its copy of the record.
struct Forged {
    changes: Vec<Vec<u8>>,
    known: Vec<ChangeHash>,
    /// The whole forged document, as a record file would carry it.
    file: Vec<u8>,
}

fn forge(store: &Mutex<Store>, code: &TaskCode, edit: impl FnOnce(&mut AutoCommit)) -> Forged {
    let mut s = store.lock().unwrap();
    let bytes = s.export_record(code).unwrap();
    let mut doc = AutoCommit::load(&bytes).unwrap().with_actor(s.device_key().actor_id());
    let known = doc.get_heads();
    edit(&mut doc);
    doc.commit();
    let changes = doc.get_changes(&known).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    Forged { changes, known, file: doc.save() }
}

/// Pushes raw changes through `POST /v1/sync` exactly as the sync engine would.
fn push_raw(store: &Mutex<Store>, code: &TaskCode, forged: &Forged) -> RecordResult {
    let client = sync::engine::client_for(store, &fast_options()).unwrap().0;
    let request = SyncRequest {
        since: 0,
        limit: 1,
        records: vec![RecordPush {
            id: code.to_string(),
            known_heads: heads_to_hex(&forged.known),
            changes: forged.changes.iter().map(|c| b64(c)).collect(),
            sync_message: None,
        }],
        ..Default::default()
    };
    let body = onevisit_core::sync::wire::deflate(&serde_json::to_vec(&request).unwrap());
    let response: SyncResponse = client.post_deflated("/v1/sync", body, &CancelToken::new()).unwrap();
    response.records.into_iter().next().unwrap()
}

/// The server refused `forged` naming `rule` at `path`.
fn refused_by_server(store: &Mutex<Store>, code: &TaskCode, forged: &Forged, rule: WriteRule, path: &str) {
    let result = push_raw(store, code, forged);
    assert_eq!(result.refused, Some(Refusal::ForbiddenEdit), "{result:?}");
    let detail = result.forbidden.expect("the refusal names the rule");
    assert_eq!(detail.rule, rule.as_str(), "{detail:?}");
    assert!(detail.path.starts_with(path), "{} does not start with {path}", detail.path);
}

/// The device refuses the same changes from the server's answer, from a file and from the sync
/// protocol, keeps its record as it was and quarantines what it refused.
fn refused_by_device(store: &Mutex<Store>, code: &TaskCode, forged: &Forged, rule: WriteRule) {
    let mut s = store.lock().unwrap();
    let before = s.record(code).unwrap().heads();
    let expect = |r: Result<_, StoreError>, how: &str| match r {
        Err(StoreError::Record(RecordError::Forbidden(f))) => assert_eq!(f.rule, rule, "{how}: {f:?}"),
        Err(other) => panic!("{how}: expected a forbidden edit, got {other:?}"),
        Ok(_) => panic!("{how}: the device accepted a forbidden change"),
    };
    let mut heads = forged.known.clone();
    heads.extend(forged.changes.iter().map(|c| automerge::Change::from_bytes(c.clone()).unwrap().hash()));
    expect(s.apply_remote(code, forged.changes.clone(), &heads).map(|_| ()), "from the server");
    expect(s.receive_record(&forged.file).map(|_| ()), "from a file");
    // The fallback: the forged copy answers the device's sync protocol messages.
    let mut forged_doc = AutoCommit::load(&forged.file).unwrap();
    let (mut theirs, mut ours) = (automerge::sync::State::new(), automerge::sync::State::new());
    let mut refused = false;
    for _ in 0..6 {
        if let Some(m) = s.record(code).unwrap().sync_message(&mut ours) {
            forged_doc.sync().receive_sync_message(&mut theirs, m).unwrap();
        }
        let Some(m) = forged_doc.sync().generate_sync_message(&mut theirs) else { break };
        let carries = !m.changes.is_empty();
        match s.receive_sync_message(code, &mut ours, m) {
            Err(StoreError::Record(RecordError::Forbidden(f))) => {
                assert_eq!(f.rule, rule, "fallback: {f:?}");
                refused = true;
                break;
            }
            Err(other) => panic!("fallback: {other:?}"),
            Ok(_) => assert!(!carries, "the fallback accepted forged changes"),
        }
    }
    assert!(refused, "the sync protocol never carried the forged change");
    assert_eq!(s.record(code).unwrap().heads(), before, "nothing of the forged changes stays");
    let quarantined = s.quarantined(Some(code)).unwrap();
    let forged_hash = automerge::Change::from_bytes(forged.changes[0].clone()).unwrap().hash().to_string();
    assert!(quarantined.iter().any(|q| q.change == forged_hash && q.rule == rule.as_str()), "{quarantined:?}");
}

fn map(doc: &AutoCommit, key: &str) -> ObjId {
    doc.get(ROOT, key).unwrap().unwrap().1
}

fn section(doc: &AutoCommit, department: &str) -> ObjId {
    doc.get(map(doc, "sections"), department).unwrap().unwrap().1
}

#[test]
fn another_departments_answers_cannot_be_overwritten_after_signing() {
    let case = signed_inspection();
    let (b, code) = (&case.b, &case.code);
    let honest_before = rendered(&case.a, code);
    // Stamped with the original inspector's id: the certificate says who really wrote it.
    let as_owner = forge(b, code, |doc| {
        let s = section(doc, "scjg");
        doc.put(&s, "SCJG-001-03", r#"{"check_point":"SCJG-001-03","value":{"kind":"number","value":"99","unit":"℃"},"by":"scjg-01","at_ms":1}"#).unwrap();
    });
    refused_by_server(b, code, &as_owner, WriteRule::ImpersonatedAuthor, "sections/scjg/SCJG-001-03");
    // Stamped honestly: another department's section is not theirs to write.
    let as_self = forge(b, code, |doc| {
        let s = section(doc, "scjg");
        doc.put(&s, "SCJG-001-01", r#"{"check_point":"SCJG-001-01","value":{"kind":"fail"},"by":"xfjy-01","at_ms":1}"#)
            .unwrap();
    });
    refused_by_server(b, code, &as_self, WriteRule::OtherDepartment, "sections/scjg/SCJG-001-01");
    // Its own section, after the lead completed the record: too late.
    let own_late = forge(b, code, |doc| {
        let s = section(doc, "xfjy");
        doc.put(&s, "XFJY-001-01", r#"{"check_point":"XFJY-001-01","value":{"kind":"fail"},"by":"xfjy-01","at_ms":1}"#)
            .unwrap();
    });
    refused_by_server(b, code, &own_late, WriteRule::WrongStatus, "sections/xfjy/XFJY-001-01");

    sync_ok(&case.a);
    assert_eq!(rendered(&case.a, code), honest_before, "the honest device never shows the forged answers");
    refused_by_device(&case.a, code, &as_owner, WriteRule::ImpersonatedAuthor);
    let report = case.a.lock().unwrap().document_report(code, &case.document).unwrap();
    assert!(report.signed && report.matches_record == Some(true), "{report:?}");
}

#[test]
fn status_shortcuts_and_reopening_a_cancelled_record_are_refused() {
    let city = City::new();
    let (code, a, b) = city.joint_team();
    let status = |s: &str, by: &str| format!(r#"{{"status":"{s}","by":"{by}","at_ms":1}}"#);
    // Planned → closed with nothing answered, by the lead's own device.
    let closed = forge(&a, &code, |doc| doc.put(ROOT, "status", status("closed", "scjg-01")).unwrap());
    refused_by_server(&a, &code, &closed, WriteRule::Lifecycle, "status");
    // On site → recorded with 0/8 answered.
    a.lock().unwrap().check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    sync_ok(&a);
    let recorded = forge(&a, &code, |doc| doc.put(ROOT, "status", status("recorded", "scjg-01")).unwrap());
    refused_by_server(&a, &code, &recorded, WriteRule::Precondition, "status");
    // The other department's officer may not cancel (nor complete).
    sync_ok(&b);
    let cancelled = forge(&b, &code, |doc| doc.put(ROOT, "status", status("cancelled", "xfjy-01")).unwrap());
    refused_by_server(&b, &code, &cancelled, WriteRule::LeadOnly, "status");
    // The lead cancels; nobody brings the record back.
    a.lock().unwrap().set_status(&code, Status::Cancelled).unwrap();
    sync_ok(&a);
    let resurrected = forge(&a, &code, |doc| doc.put(ROOT, "status", status("planned", "scjg-01")).unwrap());
    refused_by_server(&a, &code, &resurrected, WriteRule::WrongStatus, "status");
    sync_ok(&b);
    assert_eq!(b.lock().unwrap().task_row(&code).unwrap().status, Status::Cancelled);
    refused_by_device(&b, &code, &resurrected, WriteRule::WrongStatus);
}

#[test]
fn signed_documents_signatures_evidence_and_findings_are_never_deleted_or_rewritten() {
    let case = signed_inspection();
    let (b, code, sha) = (&case.b, &case.code, case.document.clone());
    let honest_before = rendered(&case.a, code);
    let deleted = forge(b, code, |doc| {
        let d = map(doc, "documents");
        doc.delete(&d, sha.as_str()).unwrap();
        let s = map(doc, "signatures");
        for key in doc.keys(&s).collect::<Vec<_>>() {
            doc.delete(&s, key.as_str()).unwrap();
        }
    });
    refused_by_server(b, code, &deleted, WriteRule::NoDeletion, "documents/");
    let edited = forge(b, code, |doc| {
        let d = map(doc, "documents");
        let text = doc.get(&d, sha.as_str()).unwrap().unwrap().0.into_string().unwrap().replace("疏散通道", "消防通道");
        doc.put(&d, sha.as_str(), text).unwrap();
    });
    refused_by_server(b, code, &edited, WriteRule::Immutable, "documents/");
    let unsigned = forge(b, code, |doc| {
        let s = map(doc, "signatures");
        doc.delete(&s, format!("{sha}/inspector/scjg-01").as_str()).unwrap();
    });
    refused_by_server(b, code, &unsigned, WriteRule::NoDeletion, "signatures/");
    let uncaptured = forge(b, code, |doc| {
        let e = map(doc, "evidence");
        let key = doc.keys(&e).next().unwrap();
        doc.delete(&e, key.as_str()).unwrap();
    });
    refused_by_server(b, code, &uncaptured, WriteRule::NoDeletion, "evidence/");
    let unfound = forge(b, code, |doc| {
        let f = map(doc, "findings");
        let key = doc.keys(&f).next().unwrap();
        doc.delete(&f, key.as_str()).unwrap();
    });
    refused_by_server(b, code, &unfound, WriteRule::NoDeletion, "findings/");
    sync_ok(&case.a);
    assert_eq!(rendered(&case.a, code), honest_before);
    refused_by_device(&case.a, code, &unfound, WriteRule::NoDeletion);
}

#[test]
fn a_signature_naming_another_inspector_is_refused_and_never_counts() {
    let case = signed_inspection();
    let (b, code) = (&case.b, &case.code);
    // B (xfjy-01) renders the fire order, which names xfjy-01 and xfjy-02; B's device then signs a
    // statement naming xfjy-02, with B's own key, in xfjy-02's empty slot: the rules refuse it;
    // document verify would not count it either.
    let order = b
        .lock()
        .unwrap()
        .render_document(code, onevisit_core::document::DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap()))
        .unwrap()
        .sha256;
    sync_ok(b);
    sync_ok(&case.a);
    let statement = {
        let s = b.lock().unwrap();
        onevisit_core::document::SignedStatement {
            schema: onevisit_core::document::signature::SIGNATURE_SCHEMA.into(),
            document_sha256: order.clone(),
            document_number: "x".into(),
            signer: onevisit_core::document::SignatureRole::Inspector {
                inspector: "xfjy-02".into(),
                certificate_number: "330482000000".into(),
            },
            device: s.device_key().device_id(),
            device_public_key: hex::encode(s.device_key().public_bytes()),
            device_time_ms: 1,
            position: None,
            presence: None,
        }
    };
    let signature =
        onevisit_core::document::DocumentSignature::sign(&statement, b.lock().unwrap().device_key()).unwrap();
    let forged = forge(b, code, |doc| {
        let s = map(doc, "signatures");
        let key = format!("{order}/inspector/xfjy-02");
        doc.put(&s, key.as_str(), serde_json::to_string(&signature).unwrap()).unwrap();
    });
    refused_by_server(b, code, &forged, WriteRule::ImpersonatedAuthor, "signatures/");
    refused_by_device(&case.a, code, &forged, WriteRule::ImpersonatedAuthor);
}

#[test]
fn the_task_the_schema_and_garbage_never_reach_the_record_and_never_stop_a_sync() {
    let case = signed_inspection();
    let (a, b, code) = (&case.a, &case.b, &case.code);
    let other = case.city.plan_sample_task();
    let mut task = a.lock().unwrap().record(code).unwrap().task().clone();
    task.inspectors.retain(|i| i.as_str() != "scjg-01");
    task.inspectors.push("xfjy-02".parse().unwrap());
    task.lead_inspector = "xfjy-01".parse().unwrap();
    let rewritten = forge(b, code, |doc| doc.put(ROOT, "task", serde_json::to_string(&task).unwrap()).unwrap());
    refused_by_server(b, code, &rewritten, WriteRule::TenantOnly, "task");
    let garbage = forge(b, code, |doc| doc.put(ROOT, "status", "garbage").unwrap());
    refused_by_server(b, code, &garbage, WriteRule::Malformed, "status");
    let bumped = forge(b, code, |doc| doc.put(ROOT, "schema_version", 2u64).unwrap());
    refused_by_server(b, code, &bumped, WriteRule::SchemaVersion, "schema_version");
    let untasked = forge(b, code, |doc| doc.delete(ROOT, "task").unwrap());
    refused_by_server(b, code, &untasked, WriteRule::NoDeletion, "task");

    // The server still answers for everyone, after a restart too; the other task syncs; the lead
    // still leads and may issue the task code with the genuine list.
    let mut city = case.city;
    city.restart_server();
    let report = sync_ok(a);
    assert!(report.refused.is_empty() && report.isolated.is_empty(), "{report:?}");
    assert!(a.lock().unwrap().local_heads(&other).unwrap().is_some(), "the other task arrived");
    let shown_task = a.lock().unwrap().record(code).unwrap().task().clone();
    assert_eq!(shown_task.lead_inspector.as_str(), "scjg-01");
    let (token, _) = a.lock().unwrap().issue_task_token(code).expect("the genuine lead issues the task code");
    assert!(token.starts_with("OV2."), "an enrolled device's task code carries its certificate");
    refused_by_device(a, code, &garbage, WriteRule::Malformed);
    assert!(sync_ok(a).isolated.is_empty());
}

#[test]
fn a_record_the_server_cannot_read_is_isolated_and_the_others_sync() {
    let city = City::new();
    let broken = city.plan_sample_task();
    let fine = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    // The server's stored copy of one record is damaged on disk (a bad sector, a bad restore).
    {
        let conn = rusqlite::Connection::open(city.data.join("server.sqlite")).unwrap();
        conn.execute("UPDATE record_chunks SET bytes = x'00112233' WHERE doc = ?1", [broken.as_str()]).unwrap();
    }
    let mut city = city;
    city.restart_server();
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    a.lock().unwrap().check_in(&broken, here).unwrap();
    a.lock().unwrap().check_in(&fine, here).unwrap();
    let report = sync_ok(&a);
    assert_eq!(report.refused.get(broken.as_str()), Some(&Refusal::Unreadable), "{report:?}");
    assert!(!report.refused.contains_key(fine.as_str()), "{report:?}");
    let s = a.lock().unwrap();
    let (local, confirmed) = s.heads_pair(&fine).unwrap();
    assert_eq!(local, Some(confirmed), "the other record was pushed and confirmed");
}

#[test]
fn a_signed_document_still_verifies_after_the_planning_office_assigns_another_inspector() {
    let case = signed_inspection();
    let (a, code) = (&case.a, &case.code);
    case.city.admin(&["task", "assign", code.as_str(), "scjg-02"]);
    sync_ok(a);
    assert!(a.lock().unwrap().record(code).unwrap().task().inspectors.iter().any(|i| i.as_str() == "scjg-02"));
    let report = a.lock().unwrap().document_report(code, &case.document).unwrap();
    assert_eq!(report.matches_record, Some(true), "compared with the record (and its task) as they were then");
    assert!(report.signed && report.identities_checked, "{report:?}");
}

#[test]
fn a_record_this_device_cannot_read_is_isolated_and_the_others_sync() {
    let city = City::new();
    let broken = city.plan_sample_task();
    let fine = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    a.lock().unwrap().check_in(&broken, here).unwrap();
    a.lock().unwrap().check_in(&fine, here).unwrap();
    // The device's stored copy of one record is damaged on disk; the store is opened afresh.
    let root = city.path().join("a");
    drop(a);
    {
        let conn = rusqlite::Connection::open(root.join(onevisit_core::store::DATABASE_FILE)).unwrap();
        conn.execute("UPDATE records SET snapshot = x'00112233' WHERE task_code = ?1", [broken.as_str()]).unwrap();
    }
    let wrapper = onevisit_core::identity::KeyFileWrapper::load(&root.join("device.key")).unwrap();
    let a = Mutex::new(Store::open(&root, &wrapper).unwrap());
    let report = sync_ok(&a);
    assert!(report.isolated.contains_key(broken.as_str()), "{report:?}");
    let (local, confirmed) = a.lock().unwrap().heads_pair(&fine).unwrap();
    assert_eq!(local, Some(confirmed), "the other record was pushed and confirmed");
    assert!(report.audit_refused.is_none() && report.audit_through > 0, "the audit log went up too");
}
