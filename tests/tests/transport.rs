//! The transport as a deployment meets it: https with the certificate `init` issued under the
//! tenant root, pinned by devices at enrolment; a server showing any other certificate refused (and
//! a certificate reloaded by SIGHUP without a restart); plain http to another host refused before
//! anything is sent.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use onevisit_core::bundle::Format;
use onevisit_core::record::AnswerValue;
use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken, ClientError, SyncError, TlsTrust, TransportError};
use onevisit_flow_tests::{
    City, admin, check_bundle, cp, device, export_bundle, fast_options, fetch_all_photos, init_tenant, recorded_case,
    sign_everything, sync_ok,
};

fn try_sync(store: &Mutex<Store>) -> Result<sync::SyncReport, SyncError> {
    sync::sync(store, &fast_options(), &|_| {}, &CancelToken::new())
}

fn transport_refusal<T: std::fmt::Debug>(result: Result<T, SyncError>) -> TransportError {
    match result {
        Err(SyncError::Client(ClientError::Transport(t))) => t,
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

/// Puts the TLS files of `from` in place of those of `to` and tells the server to reload them.
fn swap_certificate(from: &Path, to: &Path, pid: u32) {
    for name in ["server.crt", "server.key"] {
        std::fs::copy(from.join("tls").join(name), to.join("tls").join(name)).unwrap();
    }
    assert!(Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap().success());
}

#[test]
fn enrolment_sync_photos_and_bundle_proofs_work_over_https_with_the_tenant_certificate() {
    let city = City::serving_with(&["--tls"]);
    assert!(city.server.base.starts_with("https://127.0.0.1:"), "{}", city.server.base);
    let (a, b, code) = recorded_case(&city);
    let account = a.lock().unwrap().sync_account().unwrap().unwrap();
    assert_eq!(account.tls, Some(TlsTrust::TenantRoot), "the device pinned the tenant root at enrolment");
    sign_everything(&city, &a, &b, &code);
    fetch_all_photos(&a, &code);
    sync_ok(&a);
    let bag = city.path().join("case");
    let summary = export_bundle(&a, &code, &bag, Format::Folder, true);
    assert!(summary.proven_entries > 0, "audit proofs came over https");
    let report = check_bundle(&bag, &city.root);
    assert!(report.is_valid(), "{:#?}", report.failures());
}

#[test]
fn a_device_refuses_a_server_certificate_not_issued_under_its_pinned_root() {
    let mut city = City::serving_with(&["--tls"]);
    city.plan_sample_task();
    let other = city.path().join("other-tenant");
    let other_root = init_tenant(&other);

    // Enrolling with another tenant's root key: the server's chain does not end at it.
    let mut stranger = device(&city.path().join("stranger"), "scjg-02");
    let code = admin(&city.data, &["enrolment", "scjg-02"]).trim().to_string();
    let refused = transport_refusal(sync::enrol(&mut stranger, &city.server.base, &code, &other_root));
    assert!(matches!(refused, TransportError::Untrusted(_)), "{refused:?}");
    assert!(stranger.sync_account().unwrap().is_none());
    // Nothing reached the server: the code is still good with the right root.
    sync::enrol(&mut stranger, &city.server.base, &code, &city.root).expect("the code was not spent");

    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    let task =
        onevisit_core::domain::TaskCode::parse(&a.lock().unwrap().list_tasks(&Default::default()).unwrap()[0].code)
            .unwrap();
    a.lock().unwrap().check_in(&task, onevisit_core::record::Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    let dirty_before = a.lock().unwrap().dirty_records().unwrap().len();
    assert_eq!(dirty_before, 1);

    // The server now shows another tenant's certificate (a stolen or mistaken one): refused,
    // named, nothing sent, the pending change still pending.
    swap_certificate(&other, &city.data, city.server.pid());
    let mut refusal = None;
    for _ in 0..100 {
        match try_sync(&a) {
            Err(SyncError::Client(ClientError::Transport(t))) => {
                refusal = Some(t);
                break;
            }
            Ok(_) => panic!("the device synced with a server showing another tenant's certificate"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let refusal = refusal.expect("the reloaded certificate was refused within 5 s");
    assert!(matches!(refusal, TransportError::NotPinned(_)), "{refusal:?}");
    assert!(refusal.to_string().contains("租户根密钥"), "{refusal}");
    assert_eq!(a.lock().unwrap().dirty_records().unwrap().len(), dirty_before, "nothing was lost or sent");

    // The right certificate back, by SIGHUP again (no restart): the change goes through.
    let own = city.path().join("own-tls");
    std::fs::create_dir_all(own.join("tls")).unwrap();
    admin(&city.data, &["tls-certificate", "--tls-name", "127.0.0.1"]);
    std::fs::copy(city.data.join("tls/server.crt"), own.join("tls/server.crt")).unwrap();
    std::fs::copy(city.data.join("tls/server.key"), own.join("tls/server.key")).unwrap();
    swap_certificate(&own, &city.data, city.server.pid());
    let mut synced = false;
    for _ in 0..100 {
        if try_sync(&a).is_ok() {
            synced = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(synced, "the device syncs again once the tenant's certificate is back");
    assert!(a.lock().unwrap().dirty_records().unwrap().is_empty());
    city.restart_server(); // the server still starts with the reissued files
}

#[test]
fn plain_http_to_another_host_is_refused_before_anything_is_sent() {
    let city = City::new();
    let mut store = device(&city.path().join("a"), "scjg-01");
    let code = admin(&city.data, &["enrolment", "scjg-01"]).trim().to_string();
    // 192.0.2.1 is a documentation address: were anything sent, the attempt would hang or fail
    // with a network error instead.
    let refused = transport_refusal(sync::enrol(&mut store, "http://192.0.2.1:8080", &code, &city.root));
    assert_eq!(refused, TransportError::PlainHttp("192.0.2.1".into()));
    assert!(refused.to_string().contains("明文 HTTP"), "{refused}");
    // Loopback is this machine: allowed, and the same code enrols.
    sync::enrol(&mut store, &city.server.base, &code, &city.root).expect("loopback http");
    assert_eq!(store.sync_account().unwrap().unwrap().tls, None);
}

#[test]
fn a_plain_http_server_on_a_public_address_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    init_tenant(tmp.path());
    let out = Command::new(onevisit_flow_tests::server_bin())
        .arg("--data")
        .arg(tmp.path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls") && err.contains("--behind-proxy"), "{err}");
}

#[test]
fn answers_sync_between_two_devices_over_https() {
    let city = City::serving_with(&["--tls"]);
    let (code, a, b) = city.joint_team();
    a.lock().unwrap().check_in(&code, onevisit_core::record::Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    a.lock().unwrap().answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    sync_ok(&a);
    sync_ok(&b);
    let answers = b.lock().unwrap().record(&code).unwrap().answers().unwrap();
    assert!(answers.iter().any(|(_, x)| x.check_point.as_str() == "SCJG-001-01"), "B sees A's answer");
}
