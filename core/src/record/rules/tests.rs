//! The write rules against an attacker holding one enrolled, assigned device: hand-made changes
//! by that device's own actor, checked by a receiver anchored in the tenant root.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, Change, ROOT, ReadDoc};
use chrono::NaiveDate;

use super::*;
use crate::certificate::{CERTIFICATE_SCHEMA, DeviceCertificate, SignedCertificate};
use crate::document::{DocumentKind, DocumentSignature, SignatureRole, SignedStatement, signature::SIGNATURE_SCHEMA};
use crate::domain::{CheckPointId, Directory, Task, TaskCode};
use crate::identity::DeviceKey;
use crate::record::documents::SignerTrust;
use crate::record::seals::SealCheck;
use crate::record::{
    AnswerValue, FindingDraft, InspectionRecord, PartyDraft, Position, Recusal, Stamp, Status, StatusEntry, to_json,
};
use crate::sample;

pub(crate) struct World {
    pub dir: Directory,
    pub ca: DeviceKey,
    /// The server's copy: every change reaches it through the rules.
    pub server: InspectionRecord,
}

pub(crate) struct Device {
    pub key: DeviceKey,
    pub inspector: &'static str,
    pub record: InspectionRecord,
}

pub(crate) fn stamp(by: &str, at_ms: i64) -> Stamp {
    Stamp { by: by.parse().unwrap(), at_ms }
}

fn cp(id: &str) -> CheckPointId {
    id.parse().unwrap()
}

impl World {
    pub(crate) fn new() -> World {
        let dir = sample::directory().unwrap();
        let draft = sample::joint_task_draft(&dir, 0, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        let task = Task::from_draft(draft, TaskCode::parse("330482-20261128-ABCDEFGH").unwrap(), &dir).unwrap();
        let ca = DeviceKey::generate();
        let server = InspectionRecord::create(task, ca.actor_id(), stamp("scjg-01", 1)).unwrap();
        World { dir, ca, server }
    }

    pub(crate) fn rules(&self) -> WriteRules<'_> {
        WriteRules::anchored(&self.dir, self.ca.verifying_key())
    }

    /// An enrolled device of `inspector` holding a copy of the record, its certificate put in.
    pub(crate) fn device(&mut self, inspector: &'static str) -> Device {
        let key = DeviceKey::generate();
        let department = self.dir.inspector(&inspector.parse().unwrap()).unwrap().department.to_string();
        let certificate = DeviceCertificate {
            schema: CERTIFICATE_SCHEMA.into(),
            serial: "1".into(),
            tenant: "330482".into(),
            device: key.device_id(),
            device_public_key: hex::encode(key.public_bytes()),
            inspector: inspector.into(),
            departments: vec![department],
            not_before_ms: 0,
            not_after_ms: 4_102_444_800_000,
            issuer_public_key: hex::encode(self.ca.public_bytes()),
        };
        let signed = SignedCertificate::issue(&certificate, &self.ca).unwrap();
        let mut record = InspectionRecord::load(&self.server.save(), []).unwrap();
        record.set_actor(key.actor_id());
        record.put_certificate(&stamp(inspector, 2), &key.device_id(), &signed).unwrap();
        let mut device = Device { key, inspector, record };
        self.push(&mut device).unwrap();
        device
    }

    /// Sends what `device` has and the server lacks through the rules; the device then takes in
    /// what the server holds.
    pub(crate) fn push(&mut self, device: &mut Device) -> Result<usize, RecordError> {
        let known = self.server.heads();
        let changes: Vec<Change> = device.record.doc.get_changes(&[]).into_iter().collect();
        let fresh: Vec<Change> =
            changes.into_iter().filter(|c| !known.contains(&c.hash()) && !self.server.has_all(&[c.hash()])).collect();
        let rules = WriteRules::anchored(&self.dir, self.ca.verifying_key());
        let n = self.server.apply_changes(fresh, &rules)?;
        let back = self.server.changes_since(&[]);
        let back: Vec<Change> = back.into_iter().map(|b| Change::from_bytes(b).unwrap()).collect();
        device.record.apply_changes(back, &rules)?;
        Ok(n)
    }
}

impl Device {
    pub(crate) fn stamp(&self, at: i64) -> Stamp {
        stamp(self.inspector, at)
    }

    /// A hand-made change on this device's actor: whatever `edit` does to a copy of its record.
    pub(crate) fn forge(&mut self, edit: impl FnOnce(&mut AutoCommit)) -> Vec<Change> {
        let before = self.record.doc.get_heads();
        let mut doc = self.record.doc.fork().with_actor(self.key.actor_id());
        edit(&mut doc);
        doc.commit();
        doc.get_changes(&before)
    }

    /// Signs a document version as this inspector, with this device's key (or `key`).
    pub(crate) fn signature_by(&self, sha256: &str, named: &str, key: &DeviceKey) -> DocumentSignature {
        let statement = SignedStatement {
            schema: SIGNATURE_SCHEMA.into(),
            document_sha256: sha256.into(),
            document_number: "n".into(),
            signer: SignatureRole::Inspector { inspector: named.into(), certificate_number: "x".into() },
            device: key.device_id(),
            device_public_key: hex::encode(key.public_bytes()),
            device_time_ms: 50,
            position: None,
            presence: None,
        };
        DocumentSignature::sign(&statement, key).unwrap()
    }
}

/// Two devices record a whole inspection honestly; the server takes every change.
pub(crate) fn recorded() -> (World, Device, Device) {
    let mut w = World::new();
    let mut a = w.device("scjg-01");
    let mut b = w.device("xfjy-01");
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    a.record.check_in_at(a.stamp(10), here).unwrap();
    b.record.check_in_at(b.stamp(10), here).unwrap();
    a.record.show_identity(a.stamp(11), vec!["1".into(), "2".into()]).unwrap();
    let party = PartyDraft {
        name: "王伟".into(),
        role: "现场负责人".into(),
        phone: None,
        recusal: Recusal::NotRequested,
        id_number: None,
        statement: None,
    };
    a.record.record_party(a.stamp(11), party).unwrap();
    let dir = w.dir.clone();
    for id in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
        a.record.answer_check_point(a.stamp(12), &dir, &cp(id), AnswerValue::Pass, None, vec![]).unwrap();
    }
    let number = |v: &str, u: &str| AnswerValue::Number { value: v.into(), unit: u.into() };
    a.record.answer_check_point(a.stamp(12), &dir, &cp("SCJG-001-03"), number("4.5", "℃"), None, vec![]).unwrap();
    for id in ["XFJY-001-01", "XFJY-001-02"] {
        b.record.answer_check_point(b.stamp(12), &dir, &cp(id), AnswerValue::Pass, None, vec![]).unwrap();
    }
    b.record.answer_check_point(b.stamp(12), &dir, &cp("XFJY-001-03"), number("1.2", "MPa"), None, vec![]).unwrap();
    b.record
        .answer_check_point(b.stamp(12), &dir, &cp("XFJY-001-04"), AnswerValue::NotApplicable, None, vec![])
        .unwrap();
    let finding = FindingDraft {
        department: "xfjy".parse().unwrap(),
        check_point: None,
        problem: "灭火器压力不足".into(),
        legal_basis: "《中华人民共和国消防法》第十六条".into(),
        rectification_required: true,
        deadline: NaiveDate::from_ymd_opt(2026, 12, 20),
    };
    b.record.add_finding(b.stamp(13), &dir, finding).unwrap();
    w.push(&mut a).unwrap();
    w.push(&mut b).unwrap();
    w.push(&mut a).unwrap();
    a.record.set_status(a.stamp(20), &dir, Status::Recorded).unwrap();
    w.push(&mut a).unwrap();
    w.push(&mut b).unwrap();
    (w, a, b)
}

/// The recorded inspection with its on-site record rendered and signed by all four officers.
pub(crate) fn signed() -> (World, Device, Device, String) {
    let (mut w, a, b, sha) = signed_by_first_officers();
    let role = |i: &str| SignatureRole::Inspector { inspector: i.into(), certificate_number: "x".into() };
    let (mut a, mut b) = (a, b);
    // The second officer of each department signs on their own device.
    for (at, inspector) in [(33, "scjg-02"), (34, "xfjy-02")] {
        let mut second = w.device(inspector);
        let sig = second.signature_by(&sha, inspector, &second.key);
        second.record.add_signature(second.stamp(at), &sha, &sig, &role(inspector)).unwrap();
        w.push(&mut second).unwrap();
    }
    w.push(&mut b).unwrap();
    w.push(&mut a).unwrap();
    (w, a, b, sha)
}

/// The recorded inspection with its on-site record rendered and signed by scjg-01 and xfjy-01.
pub(crate) fn signed_by_first_officers() -> (World, Device, Device, String) {
    let (mut w, mut a, mut b) = recorded();
    let dir = w.dir.clone();
    let lead = "scjg".parse().unwrap();
    let content = a
        .record
        .build_document(
            &dir,
            DocumentKind::OnSiteRecord,
            &lead,
            "平市监现检〔2026〕1号".into(),
            1,
            &"scjg-01".parse().unwrap(),
            30,
        )
        .unwrap();
    let version = a.record.add_document(a.stamp(30), &content, lead).unwrap();
    let role = |i: &str| SignatureRole::Inspector { inspector: i.into(), certificate_number: "x".into() };
    let sig = a.signature_by(&version.sha256, "scjg-01", &a.key);
    a.record.add_signature(a.stamp(31), &version.sha256, &sig, &role("scjg-01")).unwrap();
    w.push(&mut a).unwrap();
    w.push(&mut b).unwrap();
    let sig = b.signature_by(&version.sha256, "xfjy-01", &b.key);
    b.record.add_signature(b.stamp(32), &version.sha256, &sig, &role("xfjy-01")).unwrap();
    w.push(&mut b).unwrap();
    w.push(&mut a).unwrap();
    (w, a, b, version.sha256)
}

#[test]
fn a_signature_by_an_officer_the_document_does_not_name_is_refused() {
    let (mut w, mut a, mut b) = recorded();
    let dir = w.dir.clone();
    let fire = "xfjy".parse().unwrap();
    let content = b
        .record
        .build_document(
            &dir,
            DocumentKind::RectificationOrder,
            &fire,
            "平消责改〔2026〕1号".into(),
            1,
            &"xfjy-01".parse().unwrap(),
            30,
        )
        .unwrap();
    let version = b.record.add_document(b.stamp(30), &content, fire).unwrap();
    w.push(&mut b).unwrap();
    w.push(&mut a).unwrap();
    // The market-supervision lead, on the task but not named on the fire brigade's order, signs
    // it with their own certified key: the server refuses the change.
    let sig = a.signature_by(&version.sha256, "scjg-01", &a.key);
    let key = format!("{}/inspector/scjg-01", version.sha256);
    let forged = a.forge(|doc| {
        let signatures = map(doc, "signatures");
        doc.put(&signatures, key.as_str(), to_json(&sig)).unwrap();
    });
    let refusal = refused(&mut w, forged);
    assert_eq!(refusal.rule, WriteRule::InvalidValue, "{refusal:?}");
    // The fire officer named on it signs; that passes.
    let sig = b.signature_by(&version.sha256, "xfjy-01", &b.key);
    let role = SignatureRole::Inspector { inspector: "xfjy-01".into(), certificate_number: "x".into() };
    b.record.add_signature(b.stamp(31), &version.sha256, &sig, &role).unwrap();
    w.push(&mut b).unwrap();
}

fn refused(w: &mut World, changes: Vec<Change>) -> ForbiddenEdit {
    let before = w.server.heads();
    let rules = WriteRules::anchored(&w.dir, w.ca.verifying_key());
    match w.server.apply_changes(changes, &rules) {
        Err(RecordError::Forbidden(f)) => {
            assert_eq!(w.server.heads(), before, "nothing of a refused batch stays");
            f
        }
        other => panic!("expected a forbidden edit, got {other:?}"),
    }
}

fn map(doc: &AutoCommit, key: &str) -> automerge::ObjId {
    doc.get(ROOT, key).unwrap().unwrap().1
}

fn section(doc: &AutoCommit, department: &str) -> automerge::ObjId {
    doc.get(map(doc, "sections"), department).unwrap().unwrap().1
}

#[test]
fn an_honest_inspection_by_two_devices_is_accepted_and_converges() {
    let (mut w, mut a, mut b, sha) = signed();
    w.push(&mut a).unwrap();
    w.push(&mut b).unwrap();
    assert_eq!(a.record.heads(), w.server.heads());
    assert_eq!(b.record.heads(), w.server.heads());
    assert_eq!(w.server.status().unwrap(), Status::Recorded);
    assert_eq!(w.server.signatures(&sha).unwrap().len(), 4);
}

#[test]
fn another_departments_answer_is_refused_whether_stamped_with_its_owner_or_not() {
    let (mut w, _a, mut b) = recorded();
    let mut x = w.device("xfjy-01");
    x.record.doc.set_actor(x.key.actor_id());
    // Reopened so that answers may be entered, by the lead (legitimate).
    let _ = &mut b;
    let forged_as_owner = x.forge(|doc| {
        let s = section(doc, "scjg");
        let value = r#"{"check_point":"SCJG-001-01","value":{"kind":"fail"},"by":"scjg-01","at_ms":99}"#;
        doc.put(&s, "SCJG-001-01", value).unwrap();
    });
    let f = refused(&mut w, forged_as_owner);
    assert_eq!((f.rule, f.path.as_str()), (WriteRule::ImpersonatedAuthor, "sections/scjg/SCJG-001-01"));
    let forged_as_self = x.forge(|doc| {
        let s = section(doc, "scjg");
        let value = r#"{"check_point":"SCJG-001-01","value":{"kind":"fail"},"by":"xfjy-01","at_ms":99}"#;
        doc.put(&s, "SCJG-001-01", value).unwrap();
    });
    let f = refused(&mut w, forged_as_self);
    assert_eq!(f.rule, WriteRule::OtherDepartment);
}

#[test]
fn answers_after_the_recording_completed_and_out_of_range_values_are_refused() {
    let (mut w, mut a, _b) = recorded();
    let after_recorded = a.forge(|doc| {
        let s = section(doc, "scjg");
        let value = r#"{"check_point":"SCJG-001-03","value":{"kind":"number","value":"4.6","unit":"℃"},"by":"scjg-01","at_ms":99}"#;
        doc.put(&s, "SCJG-001-03", value).unwrap();
    });
    assert_eq!(refused(&mut w, after_recorded).rule, WriteRule::WrongStatus);

    let (mut w, mut a, _b) = {
        let mut w = World::new();
        let mut a = w.device("scjg-01");
        a.record.check_in_at(a.stamp(10), Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        w.push(&mut a).unwrap();
        (w, a, ())
    };
    let out_of_range = a.forge(|doc| {
        let s = section(doc, "scjg");
        let value = r#"{"check_point":"SCJG-001-03","value":{"kind":"number","value":"900","unit":"℃"},"by":"scjg-01","at_ms":99}"#;
        doc.put(&s, "SCJG-001-03", value).unwrap();
    });
    assert_eq!(refused(&mut w, out_of_range).rule, WriteRule::InvalidValue);
}

#[test]
fn status_shortcuts_and_resurrections_are_refused() {
    let mut w = World::new();
    let mut a = w.device("scjg-01");
    let closed = a.forge(|doc| {
        doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::Closed, stamp: stamp("scjg-01", 5) })).unwrap();
    });
    assert_eq!(refused(&mut w, closed).rule, WriteRule::Lifecycle);
    let recorded_unanswered = {
        a.record.check_in_at(a.stamp(10), Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        w.push(&mut a).unwrap();
        a.forge(|doc| {
            doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::Recorded, stamp: stamp("scjg-01", 11) }))
                .unwrap();
        })
    };
    assert_eq!(refused(&mut w, recorded_unanswered).rule, WriteRule::Precondition);
    let dir = w.dir.clone();
    a.record.set_status(a.stamp(12), &dir, Status::Cancelled).unwrap();
    w.push(&mut a).unwrap();
    let resurrected = a.forge(|doc| {
        doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::Planned, stamp: stamp("scjg-01", 13) }))
            .unwrap();
    });
    assert_eq!(refused(&mut w, resurrected).rule, WriteRule::WrongStatus);
}

#[test]
fn a_non_lead_inspector_cannot_complete_or_cancel() {
    let mut w = World::new();
    let mut b = w.device("xfjy-01");
    b.record.check_in_at(b.stamp(10), Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    w.push(&mut b).unwrap();
    let cancel = b.forge(|doc| {
        doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::Cancelled, stamp: stamp("xfjy-01", 11) }))
            .unwrap();
    });
    assert_eq!(refused(&mut w, cancel).rule, WriteRule::LeadOnly);
    let dir = w.dir.clone();
    let err = b.record.set_status(b.stamp(12), &dir, Status::Cancelled).unwrap_err();
    assert!(matches!(err, RecordError::NotLeadInspector(_)), "{err:?}");
}

#[test]
fn signed_documents_signatures_and_findings_are_never_deleted_or_rewritten() {
    let (mut w, mut a, mut b, sha) = signed();
    let deleted = b.forge(|doc| {
        let d = map(doc, "documents");
        doc.delete(&d, sha.as_str()).unwrap();
    });
    assert_eq!(refused(&mut w, deleted).rule, WriteRule::NoDeletion);
    let rewritten = b.forge(|doc| {
        let d = map(doc, "documents");
        let text = doc.get(&d, sha.as_str()).unwrap().unwrap().0.into_string().unwrap().replace("灭火器", "灭火毯");
        doc.put(&d, sha.as_str(), text).unwrap();
    });
    assert_eq!(refused(&mut w, rewritten).rule, WriteRule::Immutable);
    let unsigned = a.forge(|doc| {
        let s = map(doc, "signatures");
        doc.delete(&s, format!("{sha}/inspector/xfjy-01").as_str()).unwrap();
    });
    assert_eq!(refused(&mut w, unsigned).rule, WriteRule::NoDeletion);
    let finding = b.record.findings().unwrap()[0].id.clone();
    let erased = b.forge(|doc| {
        let f = map(doc, "findings");
        doc.delete(&f, finding.as_str()).unwrap();
    });
    assert_eq!(refused(&mut w, erased).rule, WriteRule::NoDeletion);
    w.push(&mut a).unwrap();
}

#[test]
fn a_signature_naming_another_inspector_is_refused() {
    let (mut w, _a, mut b, sha) = signed_by_first_officers();
    let forged = b.forge(|doc| {
        let s = map(doc, "signatures");
        let sig = DocumentSignature::sign(
            &SignedStatement {
                schema: SIGNATURE_SCHEMA.into(),
                document_sha256: sha.clone(),
                document_number: "n".into(),
                signer: SignatureRole::Inspector { inspector: "scjg-02".into(), certificate_number: "x".into() },
                device: "d".into(),
                device_public_key: String::new(),
                device_time_ms: 1,
                position: None,
                presence: None,
            },
            &DeviceKey::generate(),
        )
        .unwrap();
        doc.put(&s, format!("{sha}/inspector/scjg-02").as_str(), to_json(&sig)).unwrap();
    });
    assert_eq!(refused(&mut w, forged).rule, WriteRule::Signature, "a statement whose key is not the device's");
    let named_a = b.signature_by(&sha, "scjg-02", &b.key);
    let forged = b.forge(|doc| {
        let s = map(doc, "signatures");
        doc.put(&s, format!("{sha}/inspector/scjg-02").as_str(), to_json(&named_a)).unwrap();
    });
    assert_eq!(refused(&mut w, forged).rule, WriteRule::ImpersonatedAuthor, "b's key signing as someone else");
}

#[test]
fn the_task_and_the_schema_are_not_the_devices_to_write() {
    let (mut w, mut a, _b) = recorded();
    let mut task = w.server.task().clone();
    task.inspectors.push("scjg-02".parse().unwrap());
    task.lead_inspector = "scjg-02".parse().unwrap();
    let rewritten = a.forge(|doc| doc.put(ROOT, "task", to_json(&task)).unwrap());
    assert_eq!(refused(&mut w, rewritten).rule, WriteRule::TenantOnly);
    let bumped = a.forge(|doc| doc.put(ROOT, "schema_version", 2u64).unwrap());
    assert_eq!(refused(&mut w, bumped).rule, WriteRule::SchemaVersion);
    let removed = a.forge(|doc| doc.delete(ROOT, "task").unwrap());
    assert_eq!(refused(&mut w, removed).rule, WriteRule::NoDeletion);
    let garbage = a.forge(|doc| doc.put(ROOT, "status", "garbage").unwrap());
    assert_eq!(refused(&mut w, garbage).rule, WriteRule::Malformed);
    let structure = a.forge(|doc| {
        doc.put_object(ROOT, "findings", automerge::ObjType::Map).unwrap();
    });
    assert_eq!(refused(&mut w, structure).rule, WriteRule::Structure);
    // The tenant itself may reassign.
    let dir = w.dir.clone();
    w.server.set_actor(w.ca.actor_id());
    w.server
        .reassign(
            stamp("scjg-01", 40),
            &dir,
            vec!["scjg-01".parse().unwrap(), "xfjy-01".parse().unwrap(), "scjg-02".parse().unwrap()],
        )
        .unwrap();
    w.push(&mut a).unwrap();
    assert_eq!(a.record.task().inspectors.len(), 3);
}

#[test]
fn a_device_without_a_certificate_writes_nothing() {
    let mut w = World::new();
    let mut a = w.device("scjg-01");
    let stranger = DeviceKey::generate();
    let forged = {
        let before = a.record.doc.get_heads();
        let mut doc = a.record.doc.fork().with_actor(stranger.actor_id());
        let arrivals = map(&doc, "arrivals");
        let value = r#"{"position":{"latitude_e7":1,"longitude_e7":1,"accuracy_m":1,"datum":"WGS-84"},"by":"scjg-01","at_ms":1}"#;
        doc.put(&arrivals, "scjg-01", value).unwrap();
        doc.commit();
        doc.get_changes(&before)
    };
    assert_eq!(refused(&mut w, forged).rule, WriteRule::UnknownWriter);
}

#[test]
fn a_change_is_judged_by_the_record_at_its_own_dependencies() {
    let (mut w, mut a, _b) = recorded();
    // The fire officer's second handheld last synced before the on-site record was rendered.
    let mut b2 = w.device("xfjy-01");
    let dir = w.dir.clone();
    let lead = "scjg".parse().unwrap();
    let content = a
        .record
        .build_document(
            &dir,
            DocumentKind::OnSiteRecord,
            &lead,
            "平市监现检〔2026〕2号".into(),
            1,
            &"scjg-01".parse().unwrap(),
            30,
        )
        .unwrap();
    let sha = a.record.add_document(a.stamp(30), &content, lead).unwrap().sha256;
    w.push(&mut a).unwrap();
    // From its old copy it signs that document: at the change's dependencies there is nothing to
    // sign, whatever the server holds now.
    let sig = b2.signature_by(&sha, "xfjy-01", &b2.key);
    let stale = b2.forge(|doc| {
        let s = map(doc, "signatures");
        doc.put(&s, format!("{sha}/inspector/xfjy-01").as_str(), to_json(&sig)).unwrap();
    });
    assert_eq!(refused(&mut w, stale).rule, WriteRule::UnknownReference);
}

#[test]
fn the_lead_resolves_a_conflict_with_one_of_its_values_and_nobody_else_can() {
    let mut w = World::new();
    let mut a = w.device("scjg-01");
    let mut a2 = w.device("scjg-02");
    let mut b = w.device("xfjy-01");
    let dir = w.dir.clone();
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    // scjg-02 is not on the task yet: the tenant adds them.
    w.server.set_actor(w.ca.actor_id());
    w.server
        .reassign(
            stamp("scjg-01", 3),
            &dir,
            vec!["scjg-01".parse().unwrap(), "scjg-02".parse().unwrap(), "xfjy-01".parse().unwrap()],
        )
        .unwrap();
    for d in [&mut a, &mut a2, &mut b] {
        w.push(d).unwrap();
        let s = d.stamp(10);
        d.record.check_in_at(s, here).unwrap();
        w.push(d).unwrap();
    }
    a.record.answer_check_point(a.stamp(11), &dir, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    a2.record.answer_check_point(a2.stamp(11), &dir, &cp("SCJG-001-01"), AnswerValue::Fail, None, vec![]).unwrap();
    w.push(&mut a).unwrap();
    w.push(&mut a2).unwrap();
    w.push(&mut a).unwrap();
    w.push(&mut b).unwrap();
    assert_eq!(a.record.conflicts().unwrap().len(), 1);
    // b (not the lead, another department) re-puts one of the values: refused.
    let field = crate::record::Field::Answer(cp("SCJG-001-01"));
    let chosen = a.record.conflicts().unwrap()[0].values[0].value.to_string();
    let not_lead = b.forge(|doc| {
        let s = section(doc, "scjg");
        doc.put(&s, "SCJG-001-01", chosen.as_str()).unwrap();
    });
    assert_eq!(refused(&mut w, not_lead).rule, WriteRule::ImpersonatedAuthor);
    a.record.resolve_conflict(a.stamp(12), &field, 1).unwrap();
    w.push(&mut a).unwrap();
    w.push(&mut b).unwrap();
    assert!(b.record.conflicts().unwrap().is_empty());
}

#[test]
fn hostile_change_bytes_are_refused_not_a_crash() {
    let (mut w, mut a, _b) = recorded();
    let mut changes = a.forge(|doc| doc.put(ROOT, "party", "x").unwrap());
    let mut bytes = changes.remove(0).raw_bytes().to_vec();
    let n = bytes.len();
    for i in (n / 2)..n {
        bytes[i] ^= 0x5a;
        if let Ok(c) = Change::from_bytes(bytes.clone()) {
            let rules = WriteRules::anchored(&w.dir, w.ca.verifying_key());
            let _ = w.server.apply_changes(vec![c], &rules);
        }
    }
}

#[test]
fn the_same_changes_in_any_order_get_the_same_verdict() {
    let (mut w, mut a, mut b) = recorded();
    settle_fire_finding(&mut w, &mut a);
    let honest = {
        let dir = w.dir.clone();
        a.record.set_status(a.stamp(40), &dir, Status::Closed).unwrap();
        a.record.doc.get_changes(&w.server.heads())
    };
    let forged = b.forge(|doc| doc.put(ROOT, "status", "garbage").unwrap());
    let mut batch = forged.clone();
    batch.extend(honest.iter().cloned());
    let mut copy = InspectionRecord::load(&w.server.save(), []).unwrap();
    let rules = w.rules();
    assert!(matches!(copy.apply_changes(batch, &rules), Err(RecordError::Forbidden(_))));
    copy.apply_changes(honest, &rules).unwrap();
    assert_eq!(copy.status().unwrap(), Status::Closed);
    let _ = w.push(&mut b);
}

/// A tiny deterministic generator for the property test (no randomness crate).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A change on its way to another device.
struct Message {
    change: Change,
    forged: bool,
}

/// One honest edit by device `d`, whatever its local state allows; returns the new changes.
fn honest_edit(d: &mut Device, dir: &Directory, rng: &mut Lcg) -> Vec<Change> {
    let before = d.record.doc.get_heads();
    let me = d.inspector;
    let department = if me.starts_with("scjg") { "scjg" } else { "xfjy" };
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    let stamp = d.stamp(100 + rng.below(1000) as i64);
    let arrived = d.record.arrivals().unwrap().iter().any(|c| c.stamp.by.as_str() == me);
    let _ = if !arrived {
        d.record.check_in_at(stamp, here).map(|_| ())
    } else {
        match rng.below(4) {
            0 | 1 => {
                let points: &[&str] = if department == "scjg" {
                    &["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"]
                } else {
                    &["XFJY-001-01", "XFJY-001-02"]
                };
                let value = if rng.below(2) == 0 { AnswerValue::Pass } else { AnswerValue::Fail };
                let point = cp(points[rng.below(points.len())]);
                d.record.answer_check_point(stamp, dir, &point, value, None, vec![]).map(|_| ())
            }
            2 => {
                let finding = FindingDraft {
                    department: department.parse().unwrap(),
                    check_point: None,
                    problem: format!("问题 {}", rng.below(100)),
                    legal_basis: "《中华人民共和国消防法》第十六条".into(),
                    rectification_required: false,
                    deadline: None,
                };
                d.record.add_finding(stamp, dir, finding).map(|_| ())
            }
            _ => {
                let roles = ["现场负责人", "法定代表人"];
                let party = PartyDraft {
                    name: "沈建国".into(),
                    role: roles[rng.below(2)].into(),
                    phone: None,
                    recusal: Recusal::NotRequested,
                    id_number: None,
                    statement: None,
                };
                d.record.record_party(stamp, party).map(|_| ())
            }
        }
    };
    d.record.doc.get_changes(&before)
}

/// One forbidden edit by device `d` (sent to the others, never applied by `d` itself).
fn forbidden_edit(d: &mut Device, rng: &mut Lcg) -> Vec<Change> {
    let me = d.inspector;
    let (other_dept, other_point, owner) =
        if me.starts_with("scjg") { ("xfjy", "XFJY-001-01", "xfjy-01") } else { ("scjg", "SCJG-001-01", "scjg-01") };
    let kind = rng.below(6);
    d.forge(|doc| match kind {
        0 => {
            let s = section(doc, other_dept);
            let value = format!(r#"{{"check_point":"{other_point}","value":{{"kind":"fail"}},"by":"{owner}","at_ms":5}}"#);
            doc.put(&s, other_point, value).unwrap();
        }
        1 => {
            let f = map(doc, "findings");
            match doc.keys(&f).next() {
                Some(key) => doc.delete(&f, key.as_str()).unwrap(),
                None => doc.put(ROOT, "status", "garbage").unwrap(),
            }
        }
        2 => doc.put(ROOT, "schema_version", 7u64).unwrap(),
        3 => {
            let a = map(doc, "arrivals");
            let value = format!(
                r#"{{"position":{{"latitude_e7":1,"longitude_e7":1,"accuracy_m":1,"datum":"WGS-84"}},"by":"{owner}","at_ms":5}}"#
            );
            doc.put(&a, owner, value).unwrap();
        }
        4 => {
            let value = to_json(&StatusEntry { status: Status::Closed, stamp: stamp(me, 5) });
            doc.put(ROOT, "status", value).unwrap();
        }
        _ => doc.delete(ROOT, "task").unwrap(),
    })
}

#[test]
fn honest_edits_converge_and_forbidden_ones_are_refused_in_any_delivery_order() {
    for seed in 1..=24u64 {
        let mut rng = Lcg(seed);
        let mut w = World::new();
        let dir = w.dir.clone();
        w.server.set_actor(w.ca.actor_id());
        let team = ["scjg-01", "scjg-02", "xfjy-01"].map(|i| i.parse().unwrap()).to_vec();
        w.server.reassign(stamp("scjg-01", 2), &dir, team).unwrap();
        let mut devices: Vec<Device> = ["scjg-01", "scjg-02", "xfjy-01"].into_iter().map(|i| w.device(i)).collect();
        for d in devices.iter_mut() {
            w.push(d).unwrap(); // everyone starts from the same record, with every certificate
        }
        let rules = WriteRules::anchored(&w.dir, w.ca.verifying_key());
        let mut inboxes: Vec<Vec<Message>> = devices.iter().map(|_| Vec::new()).collect();
        let mut forged_hashes = Vec::new();
        let deliver = |devices: &mut Vec<Device>, inboxes: &mut Vec<Vec<Message>>, to: usize, pick: usize| -> bool {
            let message = inboxes[to].remove(pick);
            match devices[to].record.apply_changes(vec![message.change.clone()], &rules) {
                Ok(_) => {
                    assert!(!message.forged, "seed {seed}: a forbidden change was accepted");
                    true
                }
                Err(RecordError::MissingDependencies(_)) => {
                    inboxes[to].push(message);
                    false
                }
                Err(RecordError::Forbidden(_)) => {
                    assert!(message.forged, "seed {seed}: an honest change was refused");
                    true
                }
                // A forged change reuses the sequence number its author's next honest change
                // takes: Automerge itself refuses whichever of the two arrives second.
                Err(RecordError::MalformedChange | RecordError::SequenceReused { .. }) => {
                    assert!(message.forged, "seed {seed}: an honest change was refused as malformed");
                    true
                }
                Err(e) => panic!("seed {seed}: {e:?}"),
            }
        };
        for _ in 0..80 {
            match rng.below(10) {
                0..=3 => {
                    let from = rng.below(devices.len());
                    for change in honest_edit(&mut devices[from], &dir, &mut rng) {
                        for (to, inbox) in inboxes.iter_mut().enumerate() {
                            if to != from {
                                inbox.push(Message { change: change.clone(), forged: false });
                            }
                        }
                    }
                }
                4 => {
                    let from = rng.below(devices.len());
                    for change in forbidden_edit(&mut devices[from], &mut rng) {
                        forged_hashes.push(change.hash());
                        for (to, inbox) in inboxes.iter_mut().enumerate() {
                            if to != from {
                                inbox.push(Message { change: change.clone(), forged: true });
                            }
                        }
                    }
                }
                _ => {
                    let to = rng.below(devices.len());
                    if !inboxes[to].is_empty() {
                        let pick = rng.below(inboxes[to].len());
                        deliver(&mut devices, &mut inboxes, to, pick);
                    }
                }
            }
        }
        // Flush every inbox in random order; each round must make progress.
        while inboxes.iter().any(|i| !i.is_empty()) {
            let mut progressed = false;
            for to in 0..devices.len() {
                // Every waiting message is tried once per pass, starting at a random one.
                let n = inboxes[to].len();
                if n > 0 {
                    let start = rng.below(n);
                    inboxes[to].rotate_left(start);
                }
                for _ in 0..n {
                    progressed |= deliver(&mut devices, &mut inboxes, to, 0);
                }
            }
            assert!(progressed, "seed {seed}: deliveries stopped making progress");
        }
        assert!(!forged_hashes.is_empty(), "seed {seed}: the run tried forbidden edits");
        let mut first = devices[0].record.heads();
        first.sort();
        let view = |d: &Device| serde_json::to_string(&d.record.view(&dir).unwrap()).unwrap();
        let first_view = view(&devices[0]);
        for d in devices.iter_mut() {
            let mut heads = d.record.heads();
            heads.sort();
            assert_eq!(heads, first, "seed {seed}: identical heads");
            assert_eq!(view(d), first_view, "seed {seed}: identical records");
            assert!(forged_hashes.iter().all(|h| !d.record.has_all(&[*h])), "seed {seed}: a forged change is visible");
            assert_eq!(d.record.status().unwrap(), Status::OnSite, "seed {seed}");
        }
    }
}

#[test]
fn document_verify_counts_a_signature_only_if_the_keys_certificate_names_the_signer() {
    use crate::document::signature::SignatureProblem;
    use crate::record::documents::SignerTrust;
    let (mut w, _a, b, sha) = signed();
    let root = w.ca.verifying_key();
    let trust = SignerTrust { root: &root, revocations: None };
    let mut record = InspectionRecord::load(&w.server.save(), []).unwrap();
    let report = record.document_report(&sha, Some(&trust)).unwrap();
    assert!(report.signatures.iter().all(|c| c.problem.is_none()) && report.identities_checked, "{report:?}");
    // A record from elsewhere (not through the rules) carries B's key signing as scjg-01.
    let forged = b.signature_by(&sha, "scjg-01", &b.key);
    let signatures = map(&record.doc, "signatures");
    record.doc.put(&signatures, format!("{sha}/inspector/scjg-01").as_str(), to_json(&forged)).unwrap();
    record.doc.commit();
    let report = record.document_report(&sha, Some(&trust)).unwrap();
    let problem =
        report.signatures.iter().find(|c| c.key.ends_with("/inspector/scjg-01")).and_then(|c| c.problem.clone());
    assert_eq!(
        problem,
        Some(SignatureProblem::NamedAnotherInspector { named: "scjg-01".into(), certified: "xfjy-01".into() })
    );
    assert!(!report.signed);
    // A key with no certificate in the record does not count either.
    let stranger = DeviceKey::generate();
    let unknown = b.signature_by(&sha, "xfjy-01", &stranger);
    record.doc.put(&signatures, format!("{sha}/inspector/xfjy-01").as_str(), to_json(&unknown)).unwrap();
    record.doc.commit();
    let report = record.document_report(&sha, Some(&trust)).unwrap();
    let problem =
        report.signatures.iter().find(|c| c.key.ends_with("/inspector/xfjy-01")).and_then(|c| c.problem.clone());
    assert!(matches!(problem, Some(SignatureProblem::Uncertified(_))), "{problem:?}");
}

/// A fire re-inspection of finding `F1` of an earlier task: xfjy-01 (lead) and xfjy-02, the first
/// checked in on its device.
fn reinspection_world() -> (World, Device) {
    let dir = sample::directory().unwrap();
    let draft = sample::fire_reinspection_draft(&dir, TaskCode::parse("330482-20261128-ABCDEFGH").unwrap(), "F1");
    let code = TaskCode::generate("330482", NaiveDate::from_ymd_opt(2026, 12, 21).unwrap()).unwrap();
    let task = Task::from_draft(draft, code, &dir).unwrap();
    let ca = DeviceKey::generate();
    let server = InspectionRecord::create(task, ca.actor_id(), stamp("xfjy-01", 1)).unwrap();
    let mut w = World { dir, ca, server };
    let mut x = w.device("xfjy-01");
    x.record.check_in_at(x.stamp(10), Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    w.push(&mut x).unwrap();
    (w, x)
}

fn forged_recheck(x: &mut Device, key: &str, value: &str) -> Vec<Change> {
    x.forge(|doc| {
        let m = map(doc, "rechecks");
        doc.put(&m, key, value).unwrap();
    })
}

const PHOTO_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn a_forged_recheck_of_another_finding_without_photos_or_in_anothers_name_is_refused() {
    let (mut w, mut x) = reinspection_world();
    let value = |finding: &str, by: &str, evidence: &str| {
        format!(
            r#"{{"finding":"{finding}","outcome":{{"kind":"rectified"}},"evidence":[{evidence}],"by":"{by}","at_ms":1797818400000}}"#
        )
    };
    let photo = format!("\"{PHOTO_HASH}\"");
    // A finding of another task (not covered by this re-inspection).
    let f = refused(&mut w, forged_recheck(&mut x, "F2", &value("F2", "xfjy-01", &photo)));
    assert_eq!((f.rule, f.path.as_str()), (WriteRule::UnknownReference, "rechecks/F2"));
    // No photo, and a photo the record does not hold.
    let f = refused(&mut w, forged_recheck(&mut x, "F1", &value("F1", "xfjy-01", "")));
    assert_eq!(f.rule, WriteRule::InvalidValue);
    let f = refused(&mut w, forged_recheck(&mut x, "F1", &value("F1", "xfjy-01", &photo)));
    assert_eq!(f.rule, WriteRule::UnknownReference);
    // In the other fire inspector's name.
    let f = refused(&mut w, forged_recheck(&mut x, "F1", &value("F1", "xfjy-02", &photo)));
    assert_eq!(f.rule, WriteRule::ImpersonatedAuthor);
    // Under another key than the finding's.
    let f = refused(&mut w, forged_recheck(&mut x, "F9", &value("F1", "xfjy-01", &photo)));
    assert_eq!(f.rule, WriteRule::Malformed);
}

#[test]
fn a_recheck_written_into_an_ordinary_inspection_is_refused() {
    let (mut w, _a, mut b) = recorded();
    let value = format!(
        r#"{{"finding":"F1","outcome":{{"kind":"rectified"}},"evidence":["{PHOTO_HASH}"],"by":"xfjy-01","at_ms":1797818400000}}"#
    );
    let f = refused(&mut w, forged_recheck(&mut b, "F1", &value));
    assert_eq!((f.rule, f.path.as_str()), (WriteRule::UnknownReference, "rechecks/F1"));
}

/// The tenant copies a re-inspection's "rectified" into the recorded inspection, settling its fire
/// finding's loop; the lead's device takes it in.
fn settle_fire_finding(w: &mut World, lead: &mut Device) {
    let finding = w.server.findings().unwrap().into_iter().find(|f| f.rectification_required).unwrap();
    w.server.set_actor(w.ca.actor_id());
    let result = crate::record::Recheck {
        finding: finding.id,
        outcome: crate::record::RecheckOutcome::Rectified,
        note: None,
        evidence: vec![PHOTO_HASH.into()],
        stamp: stamp("xfjy-01", 60),
    };
    w.server.settle_finding(&result).unwrap();
    w.push(lead).unwrap();
}

#[test]
fn a_task_closes_only_when_every_findings_loop_is_settled_and_only_the_tenant_settles_it() {
    let (mut w, mut a, mut b) = recorded();
    let dir = w.dir.clone();
    // The lead's own device refuses, and a forged closing is refused by every receiver.
    let err = a.record.set_status(a.stamp(40), &dir, Status::Closed).unwrap_err();
    assert!(matches!(err, RecordError::OpenFindings(ref open) if open.len() == 1), "{err:?}");
    let forged = a.forge(|doc| {
        doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::Closed, stamp: stamp("scjg-01", 40) })).unwrap();
    });
    assert_eq!(refused(&mut w, forged).rule, WriteRule::Precondition);
    // An inspector cannot settle a finding in the inspected task themselves.
    let finding = w.server.findings().unwrap().into_iter().find(|f| f.rectification_required).unwrap();
    let value = format!(
        r#"{{"finding":"{}","outcome":{{"kind":"rectified"}},"evidence":["{PHOTO_HASH}"],"by":"xfjy-01","at_ms":60}}"#,
        finding.id
    );
    let f = refused(&mut w, forged_recheck(&mut b, &finding.id, &value));
    assert_eq!(f.rule, WriteRule::UnknownReference);
    // The tenant settles it; then the lead closes, and every receiver accepts.
    settle_fire_finding(&mut w, &mut a);
    a.record.set_status(a.stamp(41), &dir, Status::Closed).unwrap();
    w.push(&mut a).unwrap();
    assert_eq!(w.server.status().unwrap(), Status::Closed);
}

/// A record made the way records were made before the maps after `later` existed (none: before
/// re-inspection results; `["rechecks"]`: before seals).
fn legacy_record(task: Task, ca: &DeviceKey, dir: &Directory, later: &[&str]) -> InspectionRecord {
    use automerge::transaction::CommitOptions;
    let mut doc = AutoCommit::new().with_actor(ca.actor_id());
    doc.put(ROOT, "schema_version", crate::record::SCHEMA_VERSION).unwrap();
    doc.put(ROOT, "task", to_json(&task)).unwrap();
    doc.put(ROOT, "status", to_json(&StatusEntry { status: Status::Planned, stamp: stamp("scjg-01", 1) })).unwrap();
    let sections = doc.put_object(ROOT, "sections", automerge::ObjType::Map).unwrap();
    for d in &task.departments {
        doc.put_object(&sections, d.as_str(), automerge::ObjType::Map).unwrap();
    }
    for m in ["findings", "arrivals", "evidence", "documents", "signatures"].iter().chain(later) {
        doc.put_object(ROOT, *m, automerge::ObjType::Map).unwrap();
    }
    doc.commit_with(CommitOptions::default().with_message("create"));
    let changes: Vec<Change> = doc.get_changes(&[]).into_iter().collect();
    let rules = WriteRules::anchored(dir, ca.verifying_key());
    InspectionRecord::from_changes(changes, &rules).unwrap()
}

#[test]
fn records_made_before_rechecks_existed_are_accepted_and_still_close() {
    let w = World::new();
    let task = w.server.task().clone();
    let legacy = legacy_record(task, &w.ca, &w.dir, &[]);
    assert!(!legacy.holds_rechecks().unwrap());
    assert!(legacy.open_findings().unwrap().is_empty(), "their loop is followed outside the record");
    assert!(legacy.rechecks().unwrap().is_empty());
}

/// A seal of `sha` by `department`'s organisation key, certified by `root`, confirming the
/// signatures the server's copy holds over it.
fn agency_seal(w: &World, sha: &str, department: &str, root: &DeviceKey) -> crate::seal::AgencySeal {
    use crate::seal::{
        ORGANISATION_CERTIFICATE_SCHEMA, OrganisationCertificate, OrganisationKey, SEAL_ALGORITHM, SEAL_SCHEMA,
        SealStatement,
    };
    let key = OrganisationKey::derive([7u8; 32]);
    let certificate = OrganisationCertificate {
        schema: ORGANISATION_CERTIFICATE_SCHEMA.into(),
        tenant: "330482".into(),
        department: department.into(),
        agency: "平湖市市场监督管理局".into(),
        algorithm: SEAL_ALGORITHM.into(),
        seal_public_key: key.public_hex(),
        issuer_public_key: hex::encode(root.public_bytes()),
    };
    let held: Vec<String> = w.server.signatures(sha).unwrap().into_iter().map(|(_, s)| s.canonical).collect();
    let statement = SealStatement {
        schema: SEAL_SCHEMA.into(),
        document_sha256: sha.into(),
        document_number: w.server.document(sha).unwrap().number,
        department: department.into(),
        agency: "平湖市市场监督管理局".into(),
        signatures: crate::seal::signature_hashes(held.iter().map(String::as_str)),
        sealed_at_ms: 60,
    };
    crate::seal::AgencySeal {
        seal: key.seal(&statement).unwrap(),
        certificate: crate::sync::statements::sign_statement(&certificate, root).unwrap(),
    }
}

/// A change by the tenant's actor (as anyone holding the record can make one) putting `seal` at
/// `seals/<key>`.
fn tenant_puts_seal(w: &mut World, key: &str, seal: &crate::seal::AgencySeal) -> Vec<Change> {
    let mut doc = w.server.doc.fork().with_actor(w.ca.actor_id());
    let before = doc.get_heads();
    let seals = map(&doc, "seals");
    doc.put(&seals, key, to_json(seal)).unwrap();
    doc.commit();
    doc.get_changes(&before)
}

#[test]
fn the_tenants_seal_of_a_signed_document_reaches_every_device_and_checks_under_the_root() {
    let (mut w, mut a, _b, sha) = signed();
    let seal = agency_seal(&w, &sha, "scjg", &w.ca);
    w.server.put_seal(&sha, &seal, 60).unwrap();
    w.push(&mut a).unwrap();
    let check = a.record.seal_check(&sha, &w.ca.verifying_key()).unwrap();
    assert!(matches!(&check, SealCheck::Sealed { agency, .. } if agency == "平湖市市场监督管理局"), "{check:?}");
}

#[test]
fn a_seal_written_by_a_device_or_forged_in_the_tenants_name_is_refused() {
    let (mut w, mut a, _b, sha) = signed();
    // An inspector's device writes a perfectly valid seal: only the tenant seals.
    let seal = agency_seal(&w, &sha, "scjg", &w.ca);
    let forged = a.forge(|doc| {
        let seals = map(doc, "seals");
        doc.put(&seals, sha.as_str(), to_json(&seal)).unwrap();
    });
    assert_eq!(refused(&mut w, forged).rule, WriteRule::TenantOnly);
    // In the tenant's name (its actor is public): a certificate from another root.
    let impostor = DeviceKey::generate();
    let foreign = agency_seal(&w, &sha, "scjg", &impostor);
    assert_eq!(
        {
            let c = tenant_puts_seal(&mut w, &sha, &foreign);
            refused(&mut w, c)
        }
        .rule,
        WriteRule::Signature
    );
    // A valid seal moved onto another key than the version it seals.
    let moved = tenant_puts_seal(&mut w, &"ab".repeat(32), &seal);
    assert_eq!(refused(&mut w, moved).rule, WriteRule::Signature);
    // A statement edited after sealing (another number).
    let mut edited = seal.clone();
    edited.seal.canonical = edited.seal.canonical.replace("1号", "2号");
    assert_eq!(
        {
            let c = tenant_puts_seal(&mut w, &sha, &edited);
            refused(&mut w, c)
        }
        .rule,
        WriteRule::Signature
    );
    // Sealed for the fire brigade, though the record is the market regulator's: the version's
    // department is not the seal's.
    let other = agency_seal(&w, &sha, "xfjy", &w.ca);
    assert_eq!(
        {
            let c = tenant_puts_seal(&mut w, &sha, &other);
            refused(&mut w, c)
        }
        .rule,
        WriteRule::InvalidValue
    );
    // Confirming a signature the record does not hold.
    let mut more = seal.clone();
    let statement = {
        let mut s: crate::seal::SealStatement = serde_json::from_str(&seal.seal.canonical).unwrap();
        s.signatures.push("00".repeat(32));
        s
    };
    more.seal = crate::seal::OrganisationKey::derive([7u8; 32]).seal(&statement).unwrap();
    assert_eq!(
        {
            let c = tenant_puts_seal(&mut w, &sha, &more);
            refused(&mut w, c)
        }
        .rule,
        WriteRule::UnknownReference
    );
    // The genuine one passes, once; a second seal over it is refused.
    let genuine = tenant_puts_seal(&mut w, &sha, &seal);
    let rules = WriteRules::anchored(&w.dir, w.ca.verifying_key());
    w.server.apply_changes(genuine, &rules).unwrap();
    let mut again = seal.clone();
    let mut later: crate::seal::SealStatement = serde_json::from_str(&seal.seal.canonical).unwrap();
    later.sealed_at_ms += 1;
    again.seal = crate::seal::OrganisationKey::derive([7u8; 32]).seal(&later).unwrap();
    assert_eq!(
        {
            let c = tenant_puts_seal(&mut w, &sha, &again);
            refused(&mut w, c)
        }
        .rule,
        WriteRule::Immutable
    );
}

#[test]
fn records_made_before_seals_existed_are_accepted_and_hold_none() {
    let w = World::new();
    let task = w.server.task().clone();
    // Made with rechecks but before seals: accepted, and no seal is due on it.
    let record = legacy_record(task, &w.ca, &w.dir, &["rechecks"]);
    assert!(!record.holds_seals().unwrap());
    let root = w.ca.verifying_key();
    assert!(record.seals_due(&SignerTrust { root: &root, revocations: None }).unwrap().is_empty());
}

#[test]
fn a_blank_service_address_or_one_written_in_anothers_name_is_refused() {
    let (mut w, mut a, mut b) = recorded();
    let draft = crate::record::ServiceAddressDraft {
        address: "浙江省平湖市乍浦镇雅山西路9号".into(),
        recipient: "沈建国".into(),
        phone: "13800000000".into(),
        electronic: None,
    };
    a.record.confirm_service_address(a.stamp(40), draft).unwrap();
    w.push(&mut a).unwrap();
    let blank = crate::record::ServiceAddress {
        address: " ".into(),
        recipient: "沈建国".into(),
        phone: "13800000000".into(),
        electronic: None,
        stamp: b.stamp(41),
    };
    let forged = b.forge(|doc| doc.put(ROOT, "service_address", to_json(&blank)).unwrap());
    assert_eq!(refused(&mut w, forged).rule, WriteRule::InvalidValue);
    let theirs = crate::record::ServiceAddress { address: "别处".into(), stamp: stamp("scjg-01", 41), ..blank };
    let forged = b.forge(|doc| doc.put(ROOT, "service_address", to_json(&theirs)).unwrap());
    assert_eq!(refused(&mut w, forged).rule, WriteRule::ImpersonatedAuthor);
}

#[test]
fn a_refusal_written_on_an_address_confirmation_is_refused() {
    let (mut w, mut a, _b) = recorded();
    let dir = w.dir.clone();
    let draft = crate::record::ServiceAddressDraft {
        address: "浙江省平湖市乍浦镇雅山西路9号".into(),
        recipient: "沈建国".into(),
        phone: "13800000000".into(),
        electronic: None,
    };
    a.record.confirm_service_address(a.stamp(40), draft).unwrap();
    let lead = "scjg".parse().unwrap();
    let content = a
        .record
        .build_document(
            &dir,
            DocumentKind::AddressConfirmation,
            &lead,
            "平市监送确〔2026〕1号".into(),
            1,
            &"scjg-01".parse().unwrap(),
            41,
        )
        .unwrap();
    let version = a.record.add_document(a.stamp(41), &content, lead).unwrap();
    w.push(&mut a).unwrap();
    let statement = SignedStatement {
        schema: SIGNATURE_SCHEMA.into(),
        document_sha256: version.sha256.clone(),
        document_number: version.number.clone(),
        signer: SignatureRole::PartyRefused {
            reason: "不愿确认".into(),
            witness: "李娜".into(),
            witness_detail: None,
            witness_signature_image_sha256: None,
            attested_by: "scjg-01".into(),
        },
        device: a.key.device_id(),
        device_public_key: hex::encode(a.key.public_bytes()),
        device_time_ms: 42,
        position: None,
        presence: None,
    };
    let signature = DocumentSignature::sign(&statement, &a.key).unwrap();
    let key = format!("{}/party", version.sha256);
    let forged = a.forge(|doc| {
        let signatures = map(doc, "signatures");
        doc.put(&signatures, key.as_str(), to_json(&signature)).unwrap();
    });
    assert_eq!(refused(&mut w, forged).rule, WriteRule::InvalidValue);
}
