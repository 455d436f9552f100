//! The server under abuse, each attack as an attacker would run it on loopback: a device flooding
//! requests, unauthenticated floods, enrolment-code guessing, connections that send half a request
//! and stall (hundreds at once, with the server's memory measured), and more connections than the
//! cap. Each is turned away in bounded time, and an honest device that backs off gets through.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::{AnswerValue, Position};
use onevisit_core::request_auth::{self, RequestAuth};
use onevisit_core::store::Store;
use onevisit_core::sync::wire::Refusal;
use onevisit_core::sync::{self, CancelToken, RetryCause, RetryPolicy, SyncOptions};
use onevisit_flow_tests::{
    City, ServerProcess, admin, cp, enrolled_device, fast_options, fetch_all_photos, init_tenant, raw_client,
    signed_request_head, sync_ok,
};
use onevisit_test_support::{SampleExif, sample_jpeg};
use sha2::{Digest, Sha256};

/// A tenant in `dir` served with `options`.
fn server(dir: &Path, options: &[&str]) -> (ServerProcess, String) {
    let root = init_tenant(dir);
    (ServerProcess::start_with(dir, "127.0.0.1:0", options), root)
}

/// A GET signed by `store`'s device key, as its sync client would send it.
fn signed(store: &Mutex<Store>, base: &str, path: &str) -> reqwest::blocking::RequestBuilder {
    signed_with(store, base, reqwest::Method::GET, path, Vec::new())
}

/// Any request signed by `store`'s device key: what a dishonest inspector's valid device can send.
fn signed_with(
    store: &Mutex<Store>,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Vec<u8>,
) -> reqwest::blocking::RequestBuilder {
    let store = store.lock().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let auth = RequestAuth::sign(store.device_key(), method.as_str(), path, &body, now);
    raw_client(Duration::from_secs(10))
        .request(method, format!("{base}{path}"))
        .header(request_auth::HEADER_DEVICE, &auth.device)
        .header(request_auth::HEADER_TIMESTAMP, auth.timestamp_ms.to_string())
        .header(request_auth::HEADER_NONCE, &auth.nonce)
        .header(request_auth::HEADER_SIGNATURE, &auth.signature)
        .body(body)
}

/// What `/v1/blobs/missing` tells `store`'s device about `sha`.
fn reported_missing(store: &Mutex<Store>, base: &str, sha: &str) -> bool {
    let body = serde_json::to_vec(&serde_json::json!({ "sha256": [sha] })).unwrap();
    let answer: serde_json::Value =
        signed_with(store, base, reqwest::Method::POST, "/v1/blobs/missing", body).send().unwrap().json().unwrap();
    answer["sha256"].as_array().unwrap().iter().any(|s| s == sha)
}

/// The resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Whether the server closed `stream` within `within` (a read returns end of stream or an error).
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an error answer first (408, 401), then the close
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                return false;
            }
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn a_flooding_device_gets_429_with_retry_after_and_recovers_after_backing_off() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    let (server, root) = server(&data, &["--device-rate", "5", "--device-burst", "10"]);
    let device = enrolled_device(&tmp.path().join("a"), "scjg-01", &data, &server, &root);
    let mut throttled = None;
    for _ in 0..40 {
        let response = signed(&device, &server.base, "/v1/whoami").send().unwrap();
        if response.status().as_u16() == 429 {
            throttled = Some(response);
            break;
        }
    }
    let response = throttled.expect("a device past its burst is throttled");
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["error"], "throttled");
    assert!(body["message"].as_str().unwrap().contains("请求过于频繁"), "{body}");

    // The device's own sync, started while its bucket is empty, waits as told and gets through.
    let options = SyncOptions {
        retry: RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(100),
        },
        ..Default::default()
    };
    let started = Instant::now();
    let report = sync::sync(&device, &options, &|_| {}, &CancelToken::new()).expect("the sync gets through");
    assert!(report.progress.retries >= 1, "it was throttled at first");
    assert_eq!(report.progress.last_retry, Some(RetryCause::Throttled));
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited for Retry-After, not its own 50 ms backoff");
}

#[test]
fn unauthenticated_floods_from_one_address_are_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    let (server, root) = server(&data, &["--address-rate", "5"]);
    let honest = enrolled_device(&tmp.path().join("a"), "scjg-01", &data, &server, &root);
    let http = raw_client(Duration::from_secs(10));
    let mut statuses = Vec::new();
    for _ in 0..300 {
        let response = http
            .post(format!("{}/v1/sync", server.base))
            .header(request_auth::HEADER_DEVICE, "no-such-device")
            .body("{}")
            .send()
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused <= 110, "at most the burst (100) plus what refilled is even looked at: {refused}");
    assert!(throttled >= 180, "the rest is turned away at once: {throttled}");
    // A device of the tenant behind the same address is not held up by the flood.
    let answer = signed(&honest, &server.base, "/v1/whoami").send().unwrap();
    assert!(answer.status().is_success(), "{:?}", answer.text());
}

#[test]
fn wrong_enrolment_codes_lock_out_the_address_before_the_code_is_tried() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    let (server, root) = server(&data, &["--enrolment-failures", "3"]);
    let mut store = onevisit_flow_tests::device(&tmp.path().join("a"), "scjg-01");
    let mut statuses = Vec::new();
    for guess in ["AAAA00000000", "BBBB00000000", "CCCC00000000"] {
        match sync::enrol(&mut store, &server.base, guess, &root) {
            Err(sync::SyncError::Client(sync::ClientError::Refused { status, .. })) => statuses.push(status),
            other => panic!("a wrong code enrolled: {other:?}"),
        }
    }
    assert_eq!(statuses, [403, 403, 403]);
    // Locked: even the right code is not tried now (and so not spent).
    let code = admin(&data, &["enrolment", "scjg-01"]).trim().to_string();
    match sync::enrol(&mut store, &server.base, &code, &root) {
        Err(sync::SyncError::Client(sync::ClientError::Refused { status: 429, kind, .. })) => {
            assert_eq!(kind, "throttled")
        }
        other => panic!("a locked-out address enrolled: {other:?}"),
    }
    assert!(store.sync_account().unwrap().is_none());
}

#[test]
fn five_hundred_stalled_connections_are_cut_off_with_memory_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    let (server, root) = server(&data, &["--header-timeout-secs", "2", "--body-timeout-secs", "2"]);
    let device = enrolled_device(&tmp.path().join("a"), "scjg-01", &data, &server, &root);
    let before = rss_mib(server.pid());
    let mut stalled = Vec::new();
    for i in 0..500 {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        let head = match i % 3 {
            // Half a request line and headers, never finished.
            0 => "POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 16000000\r\n".to_string(),
            // A whole head from an unknown device announcing 16 MB, then a trickle.
            1 => format!(
                "POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 16000000\r\n{}: nobody\r\n{}: 1\r\n{}: {}\r\n{}: {}\r\n\r\n",
                request_auth::HEADER_DEVICE,
                request_auth::HEADER_TIMESTAMP,
                request_auth::HEADER_NONCE,
                "0".repeat(32),
                request_auth::HEADER_SIGNATURE,
                "0".repeat(128)
            ),
            // A whole head from the enrolled device (its signature is only checked with the
            // body), then a body that never finishes.
            _ => signed_request_head(device.lock().unwrap().device_key(), "/v1/sync", 16_000_000),
        };
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(&[b'{'; 1000]);
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_mib(server.pid());
    assert!(during <= 150.0, "server RSS with 500 stalled connections: {during:.1} MiB (was {before:.1})");
    eprintln!("server RSS: {before:.1} MiB idle, {during:.1} MiB with 500 stalled connections");
    let started = Instant::now();
    let mut open = 0;
    for s in &mut stalled {
        if !closed_by_server(s, Duration::from_secs(6)) {
            open += 1;
        }
    }
    assert_eq!(open, 0, "every stalled connection is closed by the server");
    assert!(started.elapsed() < Duration::from_secs(8), "within the timeouts: {:?}", started.elapsed());
    // The server is still there for honest work.
    assert!(signed(&device, &server.base, "/v1/whoami").send().unwrap().status().is_success());
}

#[test]
fn connections_beyond_the_cap_are_closed_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, _) = server(tmp.path(), &["--max-connections", "20"]);
    let held: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&server.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(&server.addr).unwrap();
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(closed_by_server(&mut extra, Duration::from_secs(2)), "the 21st connection is turned away");
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let ok = raw_client(Duration::from_secs(5)).get(format!("{}/healthz", server.base)).send().unwrap();
    assert!(ok.status().is_success(), "slots come back when connections close");
    assert!(onevisit_flow_tests::metrics(&server).contains("onevisit_connections_over_cap_total 1"));
}

#[test]
fn a_planted_chunk_neither_hurts_the_owners_upload_nor_tells_the_planter_anything() {
    let city = City::new();
    let (code, a, b) = city.joint_team();
    let photo = sample_jpeg(640, 480, Some(&SampleExif::pinghu()));
    let sha = {
        let mut s = b.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        let e = s.add_photo(&code, &photo, CaptureTarget::CheckPoint("XFJY-001-04".into()), None).unwrap();
        s.answer(&code, &cp("XFJY-001-04"), AnswerValue::Photos, None, vec![e.evidence.sha256.clone()]).unwrap();
        e.evidence.sha256
    };
    // A dishonest inspector of another department, with a valid device, who learnt the hash.
    let c = city.device("c", "sthj-01");
    let base = &city.server.base;
    let planted = signed_with(&c, base, reqwest::Method::PUT, &format!("/v1/blobs/{sha}/chunks/0"), vec![0xAA; 4096]);
    assert_eq!(planted.send().unwrap().status().as_u16(), 204);
    assert!(reported_missing(&c, base, &sha), "before the owner's upload");

    let report = sync_ok(&b);
    let p = &report.progress;
    assert!(p.blobs_total >= 1 && p.blobs_done == p.blobs_total, "the owner's upload went through the planted chunk");
    sync_ok(&a);
    fetch_all_photos(&a, &code); // checks the bytes against the hash
    assert_eq!(a.lock().unwrap().missing_evidence(&code).unwrap().len(), 0);

    assert!(reported_missing(&c, base, &sha), "after it too: the planter learns nothing");
    let chunks: serde_json::Value =
        signed(&c, base, &format!("/v1/blobs/{sha}/chunks")).send().unwrap().json().unwrap();
    assert_eq!(chunks, serde_json::json!({"complete": false, "chunks": [0]}), "only its own chunk");
    let read = signed(&c, base, &format!("/v1/blobs/{sha}")).send().unwrap();
    assert_eq!(read.status().as_u16(), 404);
    // Completing its junk is checked against the hash like any upload, and changes nothing.
    let body = serde_json::to_vec(&serde_json::json!({ "size": 4096 })).unwrap();
    let complete = signed_with(&c, base, reqwest::Method::POST, &format!("/v1/blobs/{sha}/complete"), body);
    assert_eq!(complete.send().unwrap().status().as_u16(), 422);
    assert!(!reported_missing(&b, base, &sha), "the owner is told it is stored");
}

#[test]
fn unfinished_uploads_beyond_a_devices_quota_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    let (server, root) = server(&data, &["--upload-quota-mib", "2"]);
    let c = enrolled_device(&tmp.path().join("c"), "sthj-01", &data, &server, &root);
    let d = enrolled_device(&tmp.path().join("d"), "sthj-02", &data, &server, &root);
    let put = |store: &Mutex<Store>, n: u8| {
        let sha = hex::encode(Sha256::digest([n]));
        let path = format!("/v1/blobs/{sha}/chunks/0");
        signed_with(store, &server.base, reqwest::Method::PUT, &path, vec![n; 1024 * 1024]).send().unwrap()
    };
    assert_eq!(put(&c, 1).status().as_u16(), 204);
    assert_eq!(put(&c, 2).status().as_u16(), 204);
    let refused = put(&c, 3);
    assert_eq!(refused.status().as_u16(), 413);
    let body: serde_json::Value = refused.json().unwrap();
    assert_eq!(body["error"], "upload_quota");
    assert_eq!(put(&d, 3).status().as_u16(), 204, "another device has its own quota");
}

#[test]
fn a_task_created_offline_by_someone_not_its_lead_is_refused_and_the_others_go_through() {
    let city = City::new();
    let c = city.device("c", "sthj-01");
    let (foreign, own) = {
        let mut s = c.lock().unwrap();
        let directory = s.directory().unwrap();
        let day = chrono::Utc::now().date_naive();
        let mut foreign = onevisit_core::sample::joint_task_draft(&directory, 0, day);
        // Naming the fire brigade and its inspector as lead, with c tagging along.
        foreign.departments.push("sthj".parse().unwrap());
        foreign.inspectors.push("sthj-01".parse().unwrap());
        foreign.matters.push("STHJ-001".parse().unwrap());
        foreign.lead_department = "xfjy".parse().unwrap();
        foreign.lead_inspector = "xfjy-01".parse().unwrap();
        let mut own = onevisit_core::sample::joint_task_draft(&directory, 1, day);
        own.departments = vec!["sthj".parse().unwrap()];
        own.inspectors = vec!["sthj-01".parse().unwrap(), "sthj-02".parse().unwrap()];
        own.matters = vec!["STHJ-001".parse().unwrap()];
        own.lead_department = "sthj".parse().unwrap();
        own.lead_inspector = "sthj-01".parse().unwrap();
        let created = s.create_tasks(vec![foreign, own]).unwrap();
        (created[0].code.clone(), created[1].code.clone())
    };
    let report = sync::sync(&c, &fast_options(), &|_| {}, &CancelToken::new()).unwrap();
    assert_eq!(report.refused.get(foreign.as_str()), Some(&Refusal::InvalidTask), "{report:?}");
    let why = &report.forbidden[foreign.as_str()].path;
    assert!(why.contains("主办检查员"), "{why}");
    assert!(!report.refused.contains_key(own.as_str()), "the valid one went through");
    // The inspector it named never sees it.
    let x = city.device("x", "xfjy-01");
    sync_ok(&x);
    assert!(x.lock().unwrap().record(&foreign).is_err());
}

#[test]
fn audit_proofs_are_asked_for_in_bounded_batches_under_one_checkpoint() {
    let city = City::new();
    let (code, a, _) = city.joint_team();
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        // More audited edits than one proof request carries.
        for i in 0..(onevisit_core::sync::wire::MAX_PROOFS_PER_REQUEST + 200) {
            let note = Some(format!("第 {i} 次"));
            s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, note, vec![]).unwrap();
        }
    }
    sync_ok(&a);
    let confirmed = a.lock().unwrap().audit_confirmed_seq().unwrap();
    let proofs = sync::audit_proofs(&a, &fast_options(), &CancelToken::new()).unwrap();
    assert_eq!(proofs.proofs.len() as u64, confirmed, "every confirmed entry is proven");
    let checkpoint =
        onevisit_core::sync::statements::verify_checkpoint(&proofs.checkpoint, &city.root).expect("one checkpoint");
    let root: [u8; 32] = hex::decode(&checkpoint.root_hash).unwrap().try_into().unwrap();
    let entries = a.lock().unwrap().audit_entries_after(0, usize::MAX).unwrap();
    for p in proofs.proofs.iter().step_by(97) {
        let entry = entries.iter().find(|e| e.entry().is_some_and(|x| x.seq == p.seq)).unwrap();
        let leaf = onevisit_core::sync::merkle::leaf_hash(entry.canonical.as_bytes());
        let path: Vec<[u8; 32]> = p.path.iter().map(|h| hex::decode(h).unwrap().try_into().unwrap()).collect();
        assert!(
            onevisit_core::sync::merkle::verify_inclusion(&leaf, p.leaf_index, checkpoint.tree_size, &path, &root),
            "entry {} against the one checkpoint",
            p.seq
        );
    }
    // One request asking for more is refused.
    let seqs: Vec<u64> = (1..=onevisit_core::sync::wire::MAX_PROOFS_PER_REQUEST as u64 + 1).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "seqs": seqs })).unwrap();
    let answer = signed_with(&a, &city.server.base, reqwest::Method::POST, "/v1/audit/proofs", body).send().unwrap();
    assert_eq!(answer.status().as_u16(), 400);
}
