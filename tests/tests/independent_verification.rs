//! Our signatures and canonical JSON, checked by independent implementations (Python's
//! `cryptography` for Ed25519, the `rfc8785` package for canonical JSON, `gmssl` for the agency
//! seal's SM2).

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use onevisit_core::document::DocumentKind;
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::documents::PartyAct;
use onevisit_core::record::{AnswerValue, PartyDraft, Position, Recusal, Status};
use onevisit_core::sample;
use onevisit_flow_tests::device;
use onevisit_test_support::{SampleExif, sample_jpeg};
use serde_json::{Value, json};

fn flip(hex_text: &str) -> String {
    let mut bytes = hex::decode(hex_text).unwrap();
    bytes[7] ^= 0x01;
    hex::encode(bytes)
}

#[test]
fn signatures_and_canonical_json_verify_with_independent_implementations() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = device(&tmp.path().join("a"), "scjg-01");
    let dir = s.directory().unwrap();
    let mut draft = sample::joint_task_draft(&dir, 2, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    draft.inspectors.push("scjg-02".parse().unwrap());
    let code = s.create_task(draft).unwrap().code;
    s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    s.show_identity(&code).unwrap();
    s.record_party(
        &code,
        PartyDraft {
            name: "沈建国".into(),
            role: "法定代表人".into(),
            phone: None,
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        },
    )
    .unwrap();
    for id in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
        s.answer(&code, &id.parse().unwrap(), AnswerValue::Pass, Some("现场核查 \"无异常\"\n".into()), vec![]).unwrap();
    }
    s.answer(
        &code,
        &"SCJG-001-03".parse().unwrap(),
        AnswerValue::Number { value: "-2.5".into(), unit: "℃".into() },
        None,
        vec![],
    )
    .unwrap();
    let photo = sample_jpeg(640, 480, Some(&SampleExif::pinghu()));
    let captured = s.add_photo(&code, &photo, CaptureTarget::Inspection, None).unwrap();
    // The fire brigade's officer records the fire brigade's part on their own device.
    let mut b = device(&tmp.path().join("b"), "xfjy-01");
    b.receive_record(&s.export_record(&code).unwrap()).unwrap();
    b.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    for id in ["XFJY-001-01", "XFJY-001-02"] {
        b.answer(&code, &id.parse().unwrap(), AnswerValue::Pass, Some("现场核查 \"无异常\"\n".into()), vec![]).unwrap();
    }
    b.answer(
        &code,
        &"XFJY-001-03".parse().unwrap(),
        AnswerValue::Number { value: "1".into(), unit: "MPa".into() },
        None,
        vec![],
    )
    .unwrap();
    let theirs = b.add_photo(&code, &photo, CaptureTarget::CheckPoint("XFJY-001-04".into()), None).unwrap();
    b.answer(&code, &"XFJY-001-04".parse().unwrap(), AnswerValue::Photos, None, vec![theirs.evidence.sha256.clone()])
        .unwrap();
    s.receive_record(&b.export_record(&code).unwrap()).unwrap();
    s.set_status(&code, Status::Recorded).unwrap();
    let doc = s.render_document(&code, DocumentKind::OnSiteRecord, None).unwrap();
    s.sign_document(&code, &doc.sha256).unwrap();
    let refusal = PartyAct::Refused {
        reason: "拒绝签字".into(),
        witness: "王芳".into(),
        witness_detail: Some("社区网格员".into()),
    };
    s.party_act(&code, &doc.sha256, refusal, None).unwrap();
    let (token, _) = s.issue_task_token(&code).unwrap();
    let public = hex::encode(s.device_key().public_bytes());

    let capture = &captured.evidence.capture;
    let record = s.record(&code).unwrap();
    let signatures = record.signatures(&doc.sha256).unwrap();
    let audit: Vec<Value> = s
        .connection()
        .prepare("SELECT canonical, signature FROM audit_log ORDER BY position")
        .unwrap()
        .query_map([], |r| Ok(json!({"kind": "audit_entry", "canonical": r.get::<_, String>(0)?, "signature": r.get::<_, String>(1)?, "public_key": public, "expect_valid": true})))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(audit.len() > 15);

    let mut items = vec![
        json!({"kind": "capture_record", "canonical": capture.canonical, "signature": capture.signature, "public_key": public, "expect_valid": true}),
        json!({"kind": "capture_flipped_sig", "canonical": capture.canonical, "signature": flip(&capture.signature), "public_key": public, "expect_valid": false}),
        // The document is not signed directly: each statement signs its hash. This row checks the
        // document's canonical form and hash; its signature is deliberately another item's.
        json!({"kind": "document_hash", "canonical": doc.canonical, "sha256": doc.sha256, "signature": capture.signature, "public_key": public, "expect_valid": false}),
        json!({"kind": "task_token", "token": token, "public_key": public, "expect_valid": true}),
    ];
    for (_, sig) in &signatures {
        items.push(json!({"kind": "signature_statement", "canonical": sig.canonical, "signature": sig.signature, "public_key": public, "expect_valid": true}));
        let altered = sig.canonical.replacen("scjg-01", "scjg-02", 1).replacen("王芳", "王五", 1);
        items.push(json!({"kind": "altered_statement", "canonical": altered, "signature": sig.signature, "public_key": public, "expect_valid": false}));
    }
    items.extend(audit);
    // The agency seal: SM2 with SM3 under an organisation key, checked by gmssl; a changed byte of
    // the statement or of the signature breaks it.
    let organisation = onevisit_core::seal::OrganisationKey::generate().unwrap();
    let statement = onevisit_core::seal::SealStatement {
        schema: onevisit_core::seal::SEAL_SCHEMA.into(),
        document_sha256: doc.sha256.clone(),
        document_number: doc.number.clone(),
        department: "scjg".into(),
        agency: "平湖市市场监督管理局".into(),
        signatures: onevisit_core::seal::signature_hashes(signatures.iter().map(|(_, s)| s.canonical.as_str())),
        sealed_at_ms: 1_796_175_047_062,
    };
    let seal = organisation.seal(&statement).unwrap();
    let sm2 = |kind: &str, canonical: &str, signature: &str, valid: bool| {
        json!({"kind": kind, "algorithm": "sm2", "canonical": canonical, "signature": signature,
               "public_key": seal.public_key, "expect_valid": valid})
    };
    items.push(sm2("agency_seal", &seal.canonical, &seal.signature, true));
    items.push(sm2("seal_altered", &seal.canonical.replacen("平湖市", "平阳县", 1), &seal.signature, false));
    items.push(sm2("seal_flipped_sig", &seal.canonical, &flip(&seal.signature), false));
    let file = tmp.path().join("artefacts.json");
    std::fs::write(&file, serde_json::to_vec(&items).unwrap()).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/verify_independently.py");
    let out = Command::new("python3").arg(&script).arg(&file).output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "independent verification failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("document_hash        canonical=True hash=True signature=False"), "{stdout}");
    assert!(stdout.contains(&format!("{} passed, 0 failed", items.len())), "{stdout}");
}
