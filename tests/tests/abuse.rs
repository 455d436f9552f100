//! The server under abuse, each attack as an attacker would run it on loopback: a device flooding
//! requests, unauthenticated floods, enrolment-code guessing, connections that send half a request
//! and stall (hundreds at once, with the server's memory measured), and more connections than the
//! cap. Each is turned away in bounded time, and an honest device that backs off gets through.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use onevisit_core::request_auth::{self, RequestAuth};
use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken, RetryCause, RetryPolicy, SyncOptions};
use onevisit_flow_tests::{ServerProcess, admin, enrolled_device, init_tenant, raw_client};

/// A tenant in `dir` served with `options`.
fn server(dir: &Path, options: &[&str]) -> (ServerProcess, String) {
    let root = init_tenant(dir);
    (ServerProcess::start_with(dir, "127.0.0.1:0", options), root)
}

/// A request signed by `store`'s device key, as its sync client would send it.
fn signed(store: &Mutex<Store>, base: &str, path: &str) -> reqwest::blocking::RequestBuilder {
    let store = store.lock().unwrap();
    let auth = RequestAuth::sign(store.device_key(), "GET", path, b"", chrono::Utc::now().timestamp_millis());
    raw_client(Duration::from_secs(10))
        .get(format!("{base}{path}"))
        .header(request_auth::HEADER_DEVICE, &auth.device)
        .header(request_auth::HEADER_TIMESTAMP, auth.timestamp_ms.to_string())
        .header(request_auth::HEADER_NONCE, &auth.nonce)
        .header(request_auth::HEADER_SIGNATURE, &auth.signature)
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
            _ => {
                let store = device.lock().unwrap();
                let now = chrono::Utc::now().timestamp_millis();
                let auth = RequestAuth::sign(store.device_key(), "POST", "/v1/sync", b"", now);
                format!(
                    "POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 16000000\r\n{}: {}\r\n{}: {}\r\n{}: {}\r\n{}: {}\r\n\r\n",
                    request_auth::HEADER_DEVICE,
                    auth.device,
                    request_auth::HEADER_TIMESTAMP,
                    auth.timestamp_ms,
                    request_auth::HEADER_NONCE,
                    auth.nonce,
                    request_auth::HEADER_SIGNATURE,
                    auth.signature
                )
            }
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
