//! Document numbers (文号) per agency through the real server, on every backend: devices number
//! offline from blocks of their agency's sequence the server reserved for them; one document keeps
//! one number however many devices render it, even two at once offline.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeSet;
use std::sync::Mutex;

use onevisit_core::document::DocumentKind;
use onevisit_core::domain::TaskCode;
use onevisit_core::store::Store;
use onevisit_flow_tests::{
    City, Deployment, ReplicatedCity, check_bundle, export_bundle, fetch_all_photos, recorded_case, sync_ok,
};

/// `平消责改〔2026〕12号` → 12: the agency's own sequence, no device code, no version.
fn sequence_of(number: &str, prefix: &str) -> u32 {
    let year = onevisit_core::beijing::year();
    let rest = number.strip_prefix(&format!("{prefix}〔{year}〕")).unwrap_or_else(|| panic!("{number}"));
    rest.strip_suffix('号').unwrap().parse().unwrap_or_else(|_| panic!("not an agency number: {number}"))
}

fn render(store: &Mutex<Store>, code: &TaskCode, kind: DocumentKind, department: &str) -> (String, String) {
    let v = store.lock().unwrap().render_document(code, kind, Some(department.parse().unwrap())).unwrap();
    (v.sha256, v.number)
}

fn one_document_keeps_one_agency_number(city: &impl Deployment) {
    let (a, b, code) = recorded_case(city);
    // Rendered on one device, then on the other after a sync: the same version, the same number.
    let (order, number) = render(&b, &code, DocumentKind::RectificationOrder, "xfjy");
    let first = sequence_of(&number, "平消责改");
    sync_ok(&b);
    sync_ok(&a);
    assert_eq!(render(&a, &code, DocumentKind::RectificationOrder, "xfjy"), (order.clone(), number.clone()));

    // Both devices render the on-site record offline at the same moment: each spends a number of
    // its own block of the market regulator's sequence, never the same one.
    let (on_a, number_a) = render(&a, &code, DocumentKind::OnSiteRecord, "scjg");
    let (on_b, number_b) = render(&b, &code, DocumentKind::OnSiteRecord, "scjg");
    let (seq_a, seq_b) = (sequence_of(&number_a, "平市监现检"), sequence_of(&number_b, "平市监现检"));
    assert_ne!(seq_a, seq_b, "two devices never hold the same number");
    // Once they sync, both keep one of the two numbers for the document; the other's version
    // is superseded and cannot be signed.
    for s in [&a, &b, &a, &b] {
        sync_ok(s);
    }
    let kept: BTreeSet<Option<String>> = [&a, &b]
        .iter()
        .map(|s| {
            s.lock()
                .unwrap()
                .record(&code)
                .unwrap()
                .document_number(DocumentKind::OnSiteRecord, &"scjg".parse().unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept = kept.into_iter().next().flatten().unwrap();
    assert!(kept == number_a || kept == number_b);
    let loser = if kept == number_a { &on_b } else { &on_a };
    let report = a.lock().unwrap().document_report(&code, loser).unwrap();
    assert!(report.superseded_by.is_some(), "{report:?}");
    assert!(a.lock().unwrap().sign_document(&code, loser).is_err());
    // A bundle of the task says so too: the superseded number's version is reported as replaced,
    // not as a document left unsigned (the verifier follows the record's rule).
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("bag");
    fetch_all_photos(&a, &code);
    export_bundle(&a, &code, &bag, onevisit_core::bundle::Format::Folder, false);
    let report = check_bundle(&bag, city.root());
    let line = report
        .checks
        .iter()
        .find(|c| c.kind == "completeness" && c.detail.contains(&loser[..12]))
        .unwrap_or_else(|| panic!("{:#?}", report.checks));
    assert!(line.ok && line.detail.contains(&format!("已被 {kept} 第 1 版取代")), "{line:?}");

    // A third device renders the order: the record's number, none of its own blocks.
    let c = city.device("c", "xfjy-02");
    sync_ok(&c);
    let (_, other) = render(&c, &code, DocumentKind::RectificationOrder, "xfjy");
    assert_eq!(other, number, "the order keeps its number on a third device");
    assert!(first >= 1, "agency sequences start at 1");
}

#[test]
fn one_document_keeps_one_agency_number_on_the_embedded_default() {
    one_document_keeps_one_agency_number(&City::new());
}

#[test]
fn one_document_keeps_one_agency_number_on_postgres_and_s3_replicas() {
    one_document_keeps_one_agency_number(&ReplicatedCity::new());
}
