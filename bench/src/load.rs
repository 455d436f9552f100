//! The `load` group: how many no-op syncs per second one city server answers, with 200 simulated
//! devices keeping requests in flight at once, on the embedded SQLite default, on one PostgreSQL
//! replica and on two (PostgreSQL + S3). Each device has its own enrolled key and signs every
//! request as the app does; a device talks to one replica (client-side spreading, so no balancer
//! process takes CPU from the servers). The load tool runs on one thread of this 2-core machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onevisit_core::identity::DeviceKey;
use onevisit_core::request_auth::{self, RequestAuth};
use onevisit_core::sync::wire::{self, EnrolRequest, EnrolResponse, SyncRequest, SyncResponse};
use onevisit_test_support::{PostgresCluster, S3Server, ServerProcess};
use serde_json::json;

use crate::{emit, ms, percentile, round};

/// One simulated device: its key, the replica it talks to and its feed cursor.
struct Device {
    key: DeviceKey,
    base: String,
    since: u64,
    directory_version: String,
}

/// Where the admin commands and servers of one setup run.
struct City {
    data: PathBuf,
    database: Option<String>,
    s3: Option<(S3Server, String)>,
}

impl City {
    fn admin(&self, args: &[&str]) -> String {
        let mut command = Command::new(crate::release_bin("onevisit-server", &["-p", "onevisit-server"]));
        command.arg("--data").arg(&self.data);
        if let Some(url) = &self.database {
            command.env("ONEVISIT_DATABASE", url);
        }
        let out = command.args(args).output().expect("onevisit-server");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn serve(&self) -> ServerProcess {
        let bin = crate::release_bin("onevisit-server", &["-p", "onevisit-server"]);
        // Capacity is measured, so the per-device and per-address limits are off.
        let mut options = vec!["--device-rate", "0", "--address-rate", "0"];
        if let Some(url) = &self.database {
            options.extend(["--database", url.as_str()]);
        }
        let env = match &self.s3 {
            Some((server, bucket)) => {
                options.extend(["--blobs", bucket.as_str()]);
                server.env()
            }
            None => Vec::new(),
        };
        ServerProcess::spawn_with_env(&bin, &self.data, "127.0.0.1:0", &options, &env, "warn", Stdio::null())
    }
}

async fn post<T: serde::Serialize, R: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    key: Option<&DeviceKey>,
    body: &T,
) -> R {
    let json = serde_json::to_vec(body).expect("json");
    let (bytes, deflated) = if key.is_some() { (wire::deflate(&json), true) } else { (json, false) };
    let mut request = http.post(format!("{base}{path}")).header("content-type", "application/json");
    if let Some(key) = key {
        let auth = RequestAuth::sign(key, "POST", path, &bytes, chrono::Utc::now().timestamp_millis());
        request = request
            .header(request_auth::HEADER_DEVICE, auth.device)
            .header(request_auth::HEADER_TIMESTAMP, auth.timestamp_ms.to_string())
            .header(request_auth::HEADER_NONCE, auth.nonce)
            .header(request_auth::HEADER_SIGNATURE, auth.signature);
    }
    if deflated {
        request = request.header("content-encoding", wire::DEFLATE).header("accept-encoding", wire::DEFLATE);
    }
    let answer = request.body(bytes).send().await.expect("request");
    let status = answer.status();
    let encoded = answer.headers().get("content-encoding").is_some_and(|v| v.as_bytes() == wire::DEFLATE.as_bytes());
    let body = answer.bytes().await.expect("body");
    assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&body));
    let body = if encoded { wire::inflate(&body, 64 << 20).expect("inflate") } else { body.to_vec() };
    serde_json::from_slice(&body).expect("answer")
}

/// Enrols `count` devices spread over `bases` and brings each feed cursor up to date.
async fn enrol_devices(city: &City, root: &str, bases: &[String], count: usize) -> Vec<Device> {
    let directory = onevisit_core::sample::directory().expect("sample directory");
    let inspectors: Vec<String> = directory.inspectors().map(|i| i.id.to_string()).collect();
    let http = reqwest::Client::new();
    let mut devices = Vec::new();
    for n in 0..count {
        let inspector = &inspectors[n % inspectors.len()];
        let code = city.admin(&["enrolment", inspector]).trim().to_string();
        let key = DeviceKey::generate();
        let public = hex::encode(key.public_bytes());
        let proof = hex::encode(key.sign(&request_auth::enrolment_proof_bytes(&code, &public)).to_bytes());
        let request = EnrolRequest {
            code,
            device_public_key: public,
            proof,
            root_public_key: Some(root.to_string()),
            inspector: Some(inspector.clone()),
        };
        let base = bases[n % bases.len()].clone();
        let _: EnrolResponse = post(&http, &base, "/v1/enroll", None, &request).await;
        let mut device = Device { key, base, since: 0, directory_version: String::new() };
        loop {
            let answer: SyncResponse = post(&http, &device.base, "/v1/sync", Some(&device.key), &noop(&device)).await;
            device.since = answer.next;
            if let Some(d) = answer.directory {
                device.directory_version = d.version;
            }
            if !answer.more {
                break;
            }
        }
        devices.push(device);
    }
    devices
}

fn noop(device: &Device) -> SyncRequest {
    SyncRequest {
        since: device.since,
        limit: 500,
        records: Vec::new(),
        audit: Vec::new(),
        revocations_seen: 0,
        directory_version: device.directory_version.clone(),
    }
}

/// Every device syncs with nothing new, back to back, for `seconds`; returns (per second, p50, p99).
async fn noop_load(devices: Vec<Device>, seconds: f64) -> (f64, f64, f64) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(devices.len()).build().expect("client");
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let devices: Vec<Arc<Device>> = devices.into_iter().map(Arc::new).collect();
    let mut tasks = Vec::new();
    for device in devices {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let answer: SyncResponse =
                    post(&http, &device.base, "/v1/sync", Some(&device.key), &noop(&device)).await;
                assert!(answer.feed.is_empty() && answer.directory.is_none(), "a no-op sync");
                samples.push(ms(t.elapsed()));
            }
            samples
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("device task"));
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    (rate, percentile(&mut all, 0.5), percentile(&mut all, 0.99))
}

/// One setup: its servers started, `tasks` sample tasks planned, `devices` enrolled, then measured.
fn measure(label: &str, city: &City, replicas: usize, devices: usize, tasks: usize, seconds: f64) -> (f64, f64, f64) {
    let init = city.admin(&["init", "--tenant", "330482"]);
    let root = init.lines().find(|l| l.contains("根公钥")).and_then(|l| l.trim().rsplit(' ').next()).expect("root");
    city.admin(&["import", "--sample"]);
    city.admin(&["task", "create", "--sample", &tasks.to_string(), "--json"]);
    let servers: Vec<ServerProcess> = (0..replicas).map(|_| city.serve()).collect();
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let enrolled = runtime.block_on(enrol_devices(city, root, &bases, devices));
    let (rate, p50, p99) = runtime.block_on(noop_load(enrolled, seconds));
    let rss: Vec<f64> = servers.iter().map(|s| round(s.peak_rss_mib())).collect();
    eprintln!("load {label}: {rate:.0}/s p50 {p50:.2} ms p99 {p99:.2} ms, server peak RSS {rss:?} MiB");
    (rate, p50, p99)
}

/// Runs the group: embedded (with `tasks` and with `many_tasks` records), one PostgreSQL replica,
/// two replicas on PostgreSQL + S3.
pub fn run(base: &Path, devices: usize, tasks: usize, many_tasks: usize, seconds: f64) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let embedded = City { data: base.join("load-embedded"), database: None, s3: None };
    let sqlite = measure("embedded", &embedded, 1, devices, tasks, seconds);
    let large = City { data: base.join("load-embedded-large"), database: None, s3: None };
    let (rate, p50, p99) = measure("embedded-large", &large, 1, devices, many_tasks, seconds);
    emit(
        "server_noop_sync_per_s",
        rate,
        "req/s",
        json!({"backend": "sqlite", "records": many_tasks, "p50_ms": round(p50), "p99_ms": round(p99),
               "records_240_per_s": round(sqlite.0), "target": "the rate at 240 records kept with many records",
               "detail": format!("{devices} devices each with a sync in flight, {many_tasks} records, {seconds} s; as above")}),
    );
    let cluster = PostgresCluster::start();
    let s3 = S3Server::start();
    let bucket = s3.bucket("evidence", "330482");
    let one = City { data: base.join("load-pg1"), database: Some(cluster.database("one")), s3: None };
    let pg1 = measure("postgres-1", &one, 1, devices, tasks, seconds);
    let two = City { data: base.join("load-pg2"), database: Some(cluster.database("two")), s3: Some((s3, bucket)) };
    let pg2 = measure("postgres-2", &two, 2, devices, tasks, seconds);
    let detail = format!(
        "{devices} devices each with a sync in flight, {tasks} records, {seconds} s; signed, deflated no-op syncs over loopback http; rate limits off; the load tool on one thread of the same 2 cores"
    );
    for (backend, (rate, p50, p99)) in [("sqlite", sqlite), ("postgres_1_replica", pg1), ("postgres_2_replicas", pg2)] {
        emit(
            "server_noop_sync_per_s",
            rate,
            "req/s",
            json!({"backend": backend, "records": tasks, "p50_ms": round(p50), "p99_ms": round(p99), "target": ">= 5000 (embedded), p99 <= 200 ms", "detail": detail}),
        );
    }
    emit(
        "server_noop_sync_replica_scaling",
        pg2.0 / pg1.0,
        "x",
        json!({"one_replica_per_s": round(pg1.0), "two_replicas_per_s": round(pg2.0), "target": ">= 1.6 where the CPU allows it",
               "detail": "both replicas, PostgreSQL and the load tool share the same 2 cores"}),
    );
}
