//! The agency's electronic seal (电子印章) through the real server, on every backend: the server
//! seals a document version when a write makes it fully signed, the seal reaches every device
//! of the task and the evidence bundle, and the bundle's verifier checks it offline under the
//! tenant root.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use onevisit_core::domain::TaskCode;
use onevisit_core::record::seals::SealCheck;
use onevisit_core::seal::{AgencySeal, OrganisationCertificate};
use onevisit_core::store::Store;
use onevisit_flow_tests::{
    City, Deployment, ReplicatedCity, check_bundle, export_bundle, fetch_all_photos, recorded_case, sign_everything,
    sync_ok,
};
use serde_json::json;

fn seal_on(store: &Mutex<Store>, code: &TaskCode, doc: &str, root: &str) -> SealCheck {
    let root = onevisit_core::identity::verifying_key_from_hex(root).unwrap();
    store.lock().unwrap().record(code).unwrap().seal_check(doc, &root).unwrap()
}

fn a_fully_signed_document_is_sealed_by_its_agency_and_the_seal_reaches_devices_and_bundles(city: &impl Deployment) {
    let (a, b, code) = recorded_case(city);
    let doc = a
        .lock()
        .unwrap()
        .render_document(&code, onevisit_core::document::DocumentKind::OnSiteRecord, None)
        .unwrap()
        .sha256;
    sync_ok(&a);
    sync_ok(&b);
    assert_eq!(seal_on(&a, &code, &doc, city.root()), SealCheck::Unsealed, "not signed yet: no seal");

    let doc = {
        // Sign the same version by everyone (sign_everything renders it again: the same bytes).
        let signed = sign_everything(city, &a, &b, &code);
        assert_eq!(signed, doc);
        signed
    };
    for store in [&a, &b] {
        sync_ok(store);
        match seal_on(store, &code, &doc, city.root()) {
            SealCheck::Sealed { agency, department, public_key, .. } => {
                assert_eq!(agency, "平湖市市场监督管理局");
                assert_eq!(department, "scjg");
                assert_eq!(public_key.len(), 128);
            }
            other => panic!("the signed record is not sealed on a device: {other:?}"),
        }
    }

    // The bundle carries the seal; the verifier checks it offline.
    fetch_all_photos(&a, &code);
    let tmp = tempfile::tempdir().unwrap();
    export_bundle(&a, &code, &tmp.path().join("bag"), onevisit_core::bundle::Format::Folder, false);
    let report = check_bundle(&tmp.path().join("bag"), city.root());
    assert!(report.is_valid(), "{report:?}");
    let sealed = report
        .checks
        .iter()
        .find(|c| c.kind == "agency_seal" && c.detail.contains("印章有效"))
        .unwrap_or_else(|| panic!("no valid seal: {report:?}"));
    assert!(sealed.ok && sealed.detail.contains("平湖市市场监督管理局"), "{sealed:?}");
    let folder = tmp.path().join("bag").join(format!("data/documents/{code}/{doc}"));
    let page = std::fs::read_to_string(folder.join("document.txt")).unwrap();
    assert!(page.contains("机关电子印章：平湖市市场监督管理局 已加盖（SM2，"), "{page}");
    independently_verified(&folder.join("seal.json"), city.root());
}

/// The bundle's seal checked by tools that share no code with ours: gmssl (PyPI) for the SM2
/// seal under the certified key, `cryptography` for the root's Ed25519 signature over the
/// certificate; a changed byte fails each.
fn independently_verified(seal_file: &Path, root: &str) {
    let seal: AgencySeal = serde_json::from_slice(&std::fs::read(seal_file).unwrap()).unwrap();
    let certificate: OrganisationCertificate = serde_json::from_str(&seal.certificate.canonical).unwrap();
    assert_eq!(certificate.seal_public_key, seal.seal.public_key);
    let sm2 = |kind: &str, canonical: &str, valid: bool| {
        json!({"kind": kind, "algorithm": "sm2", "canonical": canonical, "signature": seal.seal.signature,
               "public_key": certificate.seal_public_key, "expect_valid": valid})
    };
    let ed = |kind: &str, canonical: &str, valid: bool| {
        json!({"kind": kind, "canonical": canonical, "signature": seal.certificate.signature,
               "public_key": root, "expect_valid": valid})
    };
    let items = vec![
        sm2("server_seal", &seal.seal.canonical, true),
        sm2("server_seal_altered", &seal.seal.canonical.replacen("scjg", "xfjy", 1), false),
        ed("organisation_cert", &seal.certificate.canonical, true),
        ed("organisation_cert_altered", &seal.certificate.canonical.replacen("scjg", "xfjy", 1), false),
    ];
    let file = seal_file.with_file_name("independent.json");
    std::fs::write(&file, serde_json::to_vec(&items).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/verify_independently.py");
    let out = Command::new("python3").arg(&script).arg(&file).output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_fully_signed_document_is_sealed_on_the_embedded_default() {
    a_fully_signed_document_is_sealed_by_its_agency_and_the_seal_reaches_devices_and_bundles(&City::new());
}

#[test]
fn a_fully_signed_document_is_sealed_on_postgres_and_s3_replicas() {
    a_fully_signed_document_is_sealed_by_its_agency_and_the_seal_reaches_devices_and_bundles(&ReplicatedCity::new());
}

/// The fire brigade serves its order: the service receipt names it, its two officers sign on
/// their own devices, the party refuses and the order is left before a witness; the server then
/// seals the receipt with the fire brigade's seal, not the market regulator's.
fn a_service_receipt_left_before_a_witness_is_sealed_by_the_serving_agency(city: &impl Deployment) {
    use onevisit_core::document::DocumentKind;
    use onevisit_core::record::documents::PartyAct;
    let (a, b, code) = recorded_case(city);
    let fire = || Some("xfjy".parse().unwrap());
    let order = b.lock().unwrap().render_document(&code, DocumentKind::RectificationOrder, fire()).unwrap();
    let receipt = b.lock().unwrap().render_document(&code, DocumentKind::ServiceReceipt, fire()).unwrap();
    assert!(receipt.number.starts_with("平消送回〔"), "{}", receipt.number);
    let served = receipt.content().unwrap().service.unwrap().served;
    assert_eq!(served[0].sha256, order.sha256);
    sync_ok(&b);
    let named = onevisit_flow_tests::named_officers(&b, &code, &receipt.sha256);
    for officer in [&b].into_iter().chain(onevisit_flow_tests::officer_devices(city, &named, &[&a, &b]).iter()) {
        sync_ok(officer);
        officer.lock().unwrap().sign_document(&code, &receipt.sha256).unwrap();
        sync_ok(officer);
    }
    sync_ok(&b);
    let refusal =
        PartyAct::Refused {
            reason: "拒绝接收".into(), witness: "社区网格员 李娜".into(), witness_detail: None
        };
    let report = b.lock().unwrap().party_act(&code, &receipt.sha256, refusal, None).unwrap();
    assert!(report.signed, "{report:?}");
    sync_ok(&b);
    sync_ok(&a);
    match seal_on(&a, &code, &receipt.sha256, city.root()) {
        SealCheck::Sealed { agency, department, .. } => {
            assert_eq!((agency.as_str(), department.as_str()), ("平湖市消防救援大队", "xfjy"));
        }
        other => panic!("the served receipt is not sealed: {other:?}"),
    }
    let page = a.lock().unwrap().printed_document(&code, &receipt.sha256).unwrap();
    assert!(page.contains("留置送达"), "{page}");
}

#[test]
fn a_service_receipt_is_sealed_by_the_serving_agency_on_the_embedded_default() {
    a_service_receipt_left_before_a_witness_is_sealed_by_the_serving_agency(&City::new());
}

#[test]
fn a_service_receipt_is_sealed_by_the_serving_agency_on_postgres_and_s3_replicas() {
    a_service_receipt_left_before_a_witness_is_sealed_by_the_serving_agency(&ReplicatedCity::new());
}

/// Hands the record of `code` from one device to another offline (a file or a cable).
fn hand_over(from: &Mutex<Store>, to: &Mutex<Store>, code: &TaskCode) {
    let bytes = from.lock().unwrap().export_record(code).unwrap();
    to.lock().unwrap().receive_record(&bytes).unwrap();
}

/// A task created on the lead's device, recorded and signed by every officer and the party while
/// the whole team is offline, the record carried between devices by hand. Once they sync, the
/// server has the document complete only when every device has pushed what it signed: that push
/// is sealed, and every device receives the seal.
#[test]
fn a_document_signed_by_a_team_working_offline_is_sealed_when_the_last_signature_reaches_the_server() {
    use onevisit_core::document::DocumentKind;
    use onevisit_core::record::Status;
    use onevisit_core::record::documents::PartyAct;
    let city = City::new();
    // The team's devices, enrolled and synced once (they hold number blocks of their agencies).
    let (_, a, b) = city.joint_team();
    let directory = a.lock().unwrap().directory().unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    let mut draft = onevisit_core::sample::joint_task_draft(&directory, 0, day);
    draft.inspectors = ["scjg-01", "xfjy-01", "scjg-02", "xfjy-02"].iter().map(|i| i.parse().unwrap()).collect();
    let code = a.lock().unwrap().create_task(draft).unwrap().code;
    hand_over(&a, &b, &code);
    onevisit_flow_tests::record_joint_parts(&a, &b, &code);
    hand_over(&b, &a, &code);
    a.lock().unwrap().set_status(&code, Status::Recorded).unwrap();
    let doc = a.lock().unwrap().render_document(&code, DocumentKind::OnSiteRecord, None).unwrap().sha256;
    // Every officer signs on their own device, the record carried by hand, never synced.
    let c = city.device("c", "scjg-02");
    let d = city.device("d", "xfjy-02");
    for officer in [&b, &c, &d] {
        hand_over(&a, officer, &code);
        officer.lock().unwrap().sign_document(&code, &doc).unwrap();
        hand_over(officer, &a, &code);
    }
    a.lock().unwrap().sign_document(&code, &doc).unwrap();
    let party =
        PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
    let drawn = onevisit_test_support::handwriting_png(&doc);
    let report = a.lock().unwrap().party_act(&code, &doc, party, Some(&drawn)).unwrap();
    assert!(report.signed, "{report:?}");
    assert_eq!(seal_on(&a, &code, &doc, city.root()), SealCheck::Unsealed);
    // Each device pushes only its own changes, each once the changes it builds on have reached
    // the server: the team's syncs take a few rounds, as their periodic syncs would. The push that
    // completes the document on the server is sealed; the seal then reaches every device.
    let team = [&a, &b, &c, &d];
    let mut rounds = 0;
    while !team.iter().all(|s| seal_on(s, &code, &doc, city.root()).is_sealed()) {
        rounds += 1;
        assert!(rounds <= 4, "not sealed everywhere after {} rounds of syncs", rounds - 1);
        for device in team {
            sync_ok(device);
        }
    }
    match seal_on(&d, &code, &doc, city.root()) {
        SealCheck::Sealed { agency, .. } => assert_eq!(agency, "平湖市市场监督管理局"),
        other => panic!("{other:?}"),
    }
    let on_server = c.lock().unwrap().document_report(&code, &doc).unwrap();
    assert!(on_server.signed, "{on_server:?}");
}
