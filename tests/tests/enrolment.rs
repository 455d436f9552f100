//! Enrolment completes on both sides or on neither: what a device would refuse of its own
//! enrolment (another tenant's root key, a code issued for another inspector) is refused by the
//! server before it spends the code or certifies the key, so the right device can still use it.

use onevisit_core::sync::SyncError;
use onevisit_core::sync::client::ClientError;
use onevisit_flow_tests::{City, device};

fn refused_kind(result: Result<onevisit_core::store::SyncAccount, SyncError>) -> (String, String) {
    match result {
        Err(SyncError::Client(ClientError::Refused { status: 409, kind, message })) => (kind, message),
        other => panic!("expected a 409 refusal, got {other:?}"),
    }
}

#[test]
fn a_device_given_another_tenants_root_is_refused_before_the_code_is_spent() {
    let city = City::new();
    let code = city.admin(&["enrolment", "scjg-01"]).trim().to_string();
    let mut store = device(&city.path().join("a"), "scjg-01");
    let other_root = hex::encode(onevisit_core::identity::DeviceKey::generate().public_bytes());
    let (kind, message) = refused_kind(onevisit_core::sync::enrol(&mut store, &city.server.base, &code, &other_root));
    assert_eq!(kind, "wrong_root");
    assert!(message.contains("根公钥") && message.contains("未被使用"), "{message}");
    assert!(store.sync_account().unwrap().is_none(), "nothing kept on the device");
    // Nothing was certified or spent: the same device enrols with the right root and the same code.
    let account = onevisit_core::sync::enrol(&mut store, &city.server.base, &code, &city.root).unwrap();
    let root = onevisit_core::identity::verifying_key_from_hex(&city.root).unwrap();
    let certificate = account.certificate.verify(&root, chrono::Utc::now().timestamp_millis(), None).unwrap();
    assert_eq!(certificate.inspector, "scjg-01");
}

#[test]
fn a_code_for_another_inspector_is_refused_and_stays_usable_by_that_inspector() {
    let city = City::new();
    let code = city.admin(&["enrolment", "scjg-01"]).trim().to_string();
    let mut wrong = device(&city.path().join("wrong"), "xfjy-01");
    let (kind, message) = refused_kind(onevisit_core::sync::enrol(&mut wrong, &city.server.base, &code, &city.root));
    assert_eq!(kind, "wrong_inspector");
    assert!(message.contains("scjg-01") && message.contains("xfjy-01"), "{message}");
    assert!(wrong.sync_account().unwrap().is_none());
    // The key of the wrong device was never certified, for anyone.
    let mut right = device(&city.path().join("right"), "scjg-01");
    onevisit_core::sync::enrol(&mut right, &city.server.base, &code, &city.root).unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_str(&city.admin(&["device", "list", "--json"])).unwrap();
    let wrong_id = onevisit_core::identity::device_id_of(&wrong.device_key().public_bytes());
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["inspector"], "scjg-01");
    assert_ne!(listed[0]["device"], wrong_id.as_str());
}
