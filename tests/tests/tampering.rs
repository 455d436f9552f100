//! An active attacker between a device and the server (a compromised reverse proxy, or TLS broken
//! some other way) rewrites what the server says: directory data, revocation lists, receipts, and
//! record changes from an actor the tenant never certified. The device refuses each, says what it
//! refused, and keeps its data as it was.

use std::sync::Mutex;

use automerge::transaction::Transactable;
use onevisit_core::record::{AnswerValue, Position, WriteRule};
use onevisit_core::store::Store;
use onevisit_core::sync::engine::ServerStatement;
use onevisit_core::sync::{self, CancelToken, SyncError};
use onevisit_flow_tests::tamper_proxy::TamperProxy;
use onevisit_flow_tests::{City, admin, cp, device, fast_options, sync_ok};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A device of `inspector` enrolled through the proxy (the attacker sits on its path).
fn behind(city: &City, proxy: &TamperProxy, name: &str, inspector: &str) -> Mutex<Store> {
    let mut store = device(&city.path().join(name), inspector);
    let code = admin(&city.data, &["enrolment", inspector]).trim().to_string();
    sync::enrol(&mut store, &proxy.base, &code, &city.root).expect("enrolment through the proxy");
    Mutex::new(store)
}

fn refused(store: &Mutex<Store>) -> (ServerStatement, String) {
    match sync::sync(store, &fast_options(), &|_| {}, &CancelToken::new()) {
        Err(SyncError::Untrusted { what, detail }) => (what, detail),
        other => panic!("the device took in a rewritten answer: {other:?}"),
    }
}

#[test]
fn rewritten_directory_data_is_refused_even_with_a_matching_hash() {
    let city = City::new();
    let proxy = TamperProxy::start(&city.server.addr);
    let b = behind(&city, &proxy, "b", "xfjy-01");
    proxy.rewrite("/v1/sync", |answer| {
        let Some(update) = answer.get_mut("directory") else { return };
        let json = update["json"].as_str().unwrap_or_default();
        let mut data: Value = serde_json::from_str(json).unwrap();
        // An impostor shown as a real fire inspector with a made-up certificate number.
        let mut impostor = data["inspectors"][0].clone();
        impostor["id"] = "xfjy-99".into();
        impostor["name"] = "冒充者".into();
        impostor["certificate_no"] = "FAKE-0001".into();
        data["inspectors"].as_array_mut().unwrap().push(impostor);
        let forged = serde_json::to_string(&data).unwrap();
        // The version is the hash of the data in the same answer: the attacker recomputes it.
        update["version"] = hex::encode(Sha256::digest(forged.as_bytes())).into();
        update["json"] = forged.into();
    });
    let (what, detail) = refused(&b);
    assert_eq!(what, ServerStatement::Directory);
    assert!(detail.contains("改动"), "{detail}");
    assert!(proxy.rewritten.load(std::sync::atomic::Ordering::SeqCst) > 0);
    let mut store = b.lock().unwrap();
    assert_eq!(store.directory_version().unwrap(), "", "nothing of it was imported");
    assert!(store.directory().unwrap().inspector(&"xfjy-99".parse().unwrap()).is_none());
    drop(store);
    proxy.stop_rewriting();
    assert!(sync_ok(&b).directory_updated, "the genuine directory arrives once the path is clean");
}

#[test]
fn a_forged_or_replayed_revocation_list_is_refused() {
    let city = City::new();
    let proxy = TamperProxy::start(&city.server.addr);
    let b = behind(&city, &proxy, "b", "xfjy-01");
    sync_ok(&b);
    let lost: Vec<String> =
        ["x", "y", "z"].iter().map(|n| city.device(n, "scjg-02").lock().unwrap().device_key().device_id()).collect();

    // A list whose signed text was edited (a revoked device taken off): the signature fails.
    city.admin(&["revoke", &lost[0], "--reason", "设备遗失"]);
    let victim = lost[0].clone();
    proxy.rewrite("/v1/sync", move |answer| {
        if let Some(list) = answer.get_mut("revocations") {
            let text = list["canonical"].as_str().unwrap().replace(&victim, "0000");
            list["canonical"] = text.into();
        }
    });
    let (what, _) = refused(&b);
    assert_eq!(what, ServerStatement::RevocationList);
    proxy.stop_rewriting();
    assert_eq!(sync_ok(&b).revocations, Some(1));
    let first_list = serde_json::to_value(b.lock().unwrap().sync_account().unwrap().unwrap().revocations).unwrap();
    city.admin(&["revoke", &lost[1], "--reason", "设备遗失"]);
    assert_eq!(sync_ok(&b).revocations, Some(2));

    // An older list, genuinely signed, replayed to bring a revoked device back: refused.
    city.admin(&["revoke", &lost[2], "--reason", "设备遗失"]);
    proxy.rewrite("/v1/sync", move |answer| {
        if answer.get("revocations").is_some() {
            answer["revocations"] = first_list.clone();
        }
    });
    let (what, detail) = refused(&b);
    assert_eq!(what, ServerStatement::RevocationList);
    assert!(detail.contains(&lost[1]) && detail.contains("重放"), "{detail}");
    let held = b.lock().unwrap().sync_account().unwrap().unwrap().revocations.canonical;
    assert!(held.contains(&lost[1]), "the device kept the newer list");
    proxy.stop_rewriting();
    assert_eq!(sync_ok(&b).revocations, Some(3));
}

#[test]
fn a_rewritten_receipt_is_refused_and_the_push_is_confirmed_by_the_next_sync() {
    let city = City::new();
    let code = city.plan_sample_task();
    let proxy = TamperProxy::start(&city.server.addr);
    let b = behind(&city, &proxy, "b", "xfjy-01");
    sync_ok(&b);
    b.lock().unwrap().check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    proxy.rewrite("/v1/sync", |answer| {
        if let Some(receipt) = answer.get_mut("receipt") {
            // Backdating the server's time of receipt would stretch what a signature may claim.
            let text = receipt["canonical"].as_str().unwrap().replace("\"received_at_ms\":1", "\"received_at_ms\":0");
            receipt["canonical"] = text.into();
        }
    });
    let (what, _) = refused(&b);
    assert_eq!(what, ServerStatement::Receipt);
    assert_eq!(b.lock().unwrap().receipts().unwrap().len(), 0, "no forged receipt kept");
    assert_eq!(b.lock().unwrap().dirty_records().unwrap().len(), 1, "the push is not taken as confirmed");
    proxy.stop_rewriting();
    sync_ok(&b);
    assert!(b.lock().unwrap().dirty_records().unwrap().is_empty());
}

#[test]
fn a_change_injected_from_an_uncertified_actor_is_quarantined_and_the_record_stays_intact() {
    let city = City::new();
    let (code, a, _) = city.joint_team();
    let proxy = TamperProxy::start(&city.server.addr);
    let b = behind(&city, &proxy, "b2", "xfjy-01");
    sync_ok(&b);
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    }
    sync_ok(&a);

    // The attacker forks the record as the server holds it and adds a change as an actor of its own.
    let bytes = a.lock().unwrap().export_record(&code).unwrap();
    let mut forged = automerge::AutoCommit::load(&bytes).unwrap();
    forged.set_actor(automerge::ActorId::random());
    forged.put(automerge::ROOT, "injected", "不符合 备注：注入").unwrap();
    let last = forged.get_last_local_change().unwrap();
    let (change, change_hash) = (last.raw_bytes().to_vec(), last.hash());
    let injected = onevisit_core::sync::wire::b64(&change);
    let id = code.to_string();
    proxy.rewrite("/v1/sync", move |answer| {
        if let Some(docs) = answer.get_mut("documents").and_then(Value::as_array_mut) {
            for d in docs.iter_mut().filter(|d| d["id"] == id.as_str()) {
                if let Some(changes) = d.get_mut("changes").and_then(Value::as_array_mut) {
                    changes.push(injected.clone().into());
                }
            }
        }
    });
    let report = sync::sync(&b, &fast_options(), &|_| {}, &CancelToken::new()).expect("the other records go on");
    let isolated = report.isolated.get(code.as_str()).expect("the record is left out and reported");
    assert_eq!(isolated.forbidden.as_ref().map(|f| f.rule), Some(WriteRule::UnknownWriter), "{isolated:?}");
    {
        let s = b.lock().unwrap();
        let quarantined = s.quarantined(Some(&code)).unwrap();
        let kept = quarantined.iter().find(|q| q.change == change_hash.to_string()).expect("kept aside as evidence");
        assert_eq!(kept.rule, "unknown_writer", "{kept:?}");
        let heads = s.local_heads(&code).unwrap().unwrap();
        assert!(!heads.contains(&change_hash), "the injected change is not part of the stored record");
    }
    proxy.stop_rewriting();
    sync_ok(&b);
    let answers = b.lock().unwrap().record(&code).unwrap().answers().unwrap();
    assert!(answers.iter().any(|(_, x)| x.check_point.as_str() == "SCJG-001-01"), "A's genuine answer arrives");
}
