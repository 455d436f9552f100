//! The real `onevisit-server` process on loopback: enrolment, authenticated requests, replay and
//! clock checks, revocation, body limits.
#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure being reported")]

use std::process::Command;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use onevisit_core::certificate::{SignedCertificate, SignedRevocationList};
use onevisit_core::identity::DeviceKey;
use onevisit_core::request_auth::{self, RequestAuth};
use onevisit_flow_tests::{ServerProcess, admin};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_onevisit-server");

fn client() -> reqwest::blocking::Client {
    onevisit_flow_tests::raw_client(Duration::from_secs(10))
}

fn enrol_request(key: &DeviceKey, code: &str) -> Value {
    let public = hex::encode(key.public_bytes());
    let proof = key.sign(&request_auth::enrolment_proof_bytes(code, &public));
    json!({"code": code, "device_public_key": public, "proof": hex::encode(proof.to_bytes())})
}

fn signed_get(
    client: &reqwest::blocking::Client,
    base: &str,
    key: &DeviceKey,
    path: &str,
    at_ms: i64,
) -> (RequestAuth, reqwest::blocking::Response) {
    let auth = RequestAuth::sign(key, "GET", path, b"", at_ms);
    let response = send(client, base, path, &auth);
    (auth, response)
}

fn send(client: &reqwest::blocking::Client, base: &str, path: &str, auth: &RequestAuth) -> reqwest::blocking::Response {
    client
        .get(format!("{base}{path}"))
        .header(request_auth::HEADER_DEVICE, &auth.device)
        .header(request_auth::HEADER_TIMESTAMP, auth.timestamp_ms.to_string())
        .header(request_auth::HEADER_NONCE, &auth.nonce)
        .header(request_auth::HEADER_SIGNATURE, &auth.signature)
        .send()
        .unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn error_kind(response: reqwest::blocking::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().unwrap();
    (status, body["error"].as_str().unwrap().to_string(), body["message"].as_str().unwrap().to_string())
}

#[test]
fn a_device_enrols_with_a_one_time_code_and_is_authenticated_until_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let init = admin(data, &["init", "--tenant", "330482"]);
    let root_hex = init.lines().next().and_then(|l| l.trim().rsplit(' ').next()).unwrap().to_string();
    admin(data, &["import", "--sample"]);
    let code = admin(data, &["enrolment", "scjg-01"]).trim().to_string();
    let server = ServerProcess::start(data, "127.0.0.1:0");
    let http = client();
    assert_eq!(http.get(format!("{}/healthz", server.base)).send().unwrap().text().unwrap(), "ok");

    // Enrolment: proof of possession, one-time code, certificate under the tenant root.
    let device = DeviceKey::generate();
    let impostor = DeviceKey::generate();
    let mut forged = enrol_request(&impostor, &code);
    forged["device_public_key"] = json!(hex::encode(device.public_bytes()));
    let (status, kind, _) = error_kind(http.post(format!("{}/v1/enroll", server.base)).json(&forged).send().unwrap());
    assert_eq!((status, kind.as_str()), (401, "unauthenticated"), "a proof by another key is refused");
    let response: Value = http
        .post(format!("{}/v1/enroll", server.base))
        .json(&enrol_request(&device, &code))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(response["root_public_key"], root_hex.as_str());
    let root = VerifyingKey::from_bytes(&hex::decode(&root_hex).unwrap().try_into().unwrap()).unwrap();
    let certificate: SignedCertificate = serde_json::from_value(response["certificate"].clone()).unwrap();
    let cert = certificate.verify(&root, now_ms(), None).unwrap();
    assert_eq!(
        (cert.inspector.as_str(), cert.departments.clone(), cert.device.clone()),
        ("scjg-01", vec!["scjg".to_string()], device.device_id())
    );
    let list: SignedRevocationList = serde_json::from_value(response["revocations"].clone()).unwrap();
    assert!(list.verify(&root).unwrap().revoked.is_empty());
    let (status, kind, message) = error_kind(
        http.post(format!("{}/v1/enroll", server.base))
            .json(&enrol_request(&DeviceKey::generate(), &code))
            .send()
            .unwrap(),
    );
    assert_eq!((status, kind.as_str()), (403, "enrolment_refused"));
    assert!(message.contains("已经用过") && message.contains("onevisit-server enrolment"), "{message}");
    // The device whose answer was lost asks again with the same code: the same certificate.
    let again: Value = http
        .post(format!("{}/v1/enroll", server.base))
        .json(&enrol_request(&device, &code))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(again["certificate"], response["certificate"], "enrolment can be retried");

    // Authenticated requests; replays, skewed clocks and strangers are refused.
    let (auth, ok) = signed_get(&http, &server.base, &device, "/v1/whoami", now_ms());
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.json::<Value>().unwrap()["inspector"], "scjg-01");
    assert_eq!(error_kind(send(&http, &server.base, "/v1/whoami", &auth)).1, "replayed");
    let (_, skewed) = signed_get(&http, &server.base, &device, "/v1/whoami", now_ms() - 10 * 60 * 1000);
    assert_eq!(error_kind(skewed).1, "clock_skew");
    let (_, stranger) = signed_get(&http, &server.base, &impostor, "/v1/whoami", now_ms());
    assert_eq!(error_kind(stranger).0, 401);
    let mut tampered = RequestAuth::sign(&device, "GET", "/v1/revocations", b"", now_ms());
    tampered.device = device.device_id();
    assert_eq!(
        error_kind(send(&http, &server.base, "/v1/whoami", &tampered)).1,
        "unauthenticated",
        "signed for another path"
    );
    let no_headers = http.get(format!("{}/v1/whoami", server.base)).send().unwrap();
    assert_eq!(error_kind(no_headers).1, "unauthenticated");

    // Revocation while the server runs: refused with the reason, and listed.
    admin(data, &["revoke", &device.device_id(), "--reason", "设备遗失"]);
    let (_, revoked) = signed_get(&http, &server.base, &device, "/v1/whoami", now_ms());
    let (status, kind, message) = error_kind(revoked);
    assert_eq!((status, kind.as_str()), (403, "revoked"));
    assert!(message.contains("设备遗失"), "{message}");
    // The stolen handheld's key asks for a fresh certificate with a new code: refused as revoked,
    // and the code stays good for the inspector's new device.
    let fresh = admin(data, &["enrolment", "scjg-01"]).trim().to_string();
    let again = http.post(format!("{}/v1/enroll", server.base)).json(&enrol_request(&device, &fresh)).send().unwrap();
    let (status, kind, message) = error_kind(again);
    assert_eq!((status, kind.as_str()), (403, "revoked"), "{message}");
    assert!(message.contains("不能再登记") && message.contains("设备遗失"), "{message}");
    let replacement = DeviceKey::generate();
    let ok = http.post(format!("{}/v1/enroll", server.base)).json(&enrol_request(&replacement, &fresh)).send().unwrap();
    assert_eq!(ok.status().as_u16(), 200, "the code was not spent by the revoked key");

    // Oversized and malformed bodies.
    // An enrolment body is a code, a key and a signature: anything over 4 KiB is refused.
    let huge = vec![b'x'; 64 * 1024];
    // Its own connection: the server closes it after refusing the body.
    let too_big = client()
        .post(format!("{}/v1/enroll", server.base))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(too_big.status().as_u16(), 413);
    let garbage = http
        .post(format!("{}/v1/enroll", server.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(garbage.status().as_u16(), 400);

    // The counters are for the operators: no token, a wrong token → 401; theirs → the counters.
    let anonymous = http.get(format!("{}/metrics", server.base)).send().unwrap();
    assert_eq!(error_kind(anonymous).0, 401);
    let guessed = http.get(format!("{}/metrics", server.base)).bearer_auth("metrics-token").send().unwrap();
    assert_eq!(error_kind(guessed).0, 401);
    let metrics = onevisit_flow_tests::metrics(&server);
    assert!(metrics.contains("onevisit_enrolments_total 2"), "{metrics}");
}

#[test]
fn admin_commands_refuse_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    admin(data, &["init", "--tenant", "330482"]);
    let again = Command::new(BIN).arg("--data").arg(data).args(["init", "--tenant", "330482"]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("已经初始化过"));
    admin(data, &["import", "--sample"]);
    let unknown = Command::new(BIN).arg("--data").arg(data).args(["enrolment", "nobody"]).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("名录中没有执法人员"));
    let revoke = Command::new(BIN).arg("--data").arg(data).args(["revoke", "0000", "--reason", "x"]).output().unwrap();
    assert!(!revoke.status.success());
}
