//! The `load` group: how many no-op syncs and pushes per second one city server answers, with 200
//! simulated devices keeping requests in flight at once, on the embedded SQLite default, on one
//! PostgreSQL replica and on two (PostgreSQL + S3); then a city-sized server (100,000
//! inspections, 1,000 enrolled devices) on the embedded default. Each device has its own enrolled
//! key and signs every request as the app does; a device talks to one replica (client-side
//! spreading, so no balancer process takes CPU from the servers). The load tool runs on one thread
//! of this 2-core machine.

mod device;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use onevisit_core::domain::Directory;
use onevisit_test_support::{PostgresCluster, S3Server, ServerProcess};
use serde_json::json;

use self::device::{Device, EDITS_PER_PUSH};
use crate::{emit, ms, percentile, round};

/// How often each device pushes in the paced push measurement: the latency a device sees when
/// the server is busy but not saturated (200 devices: 200 pushes/s).
const PUSH_PACE: Duration = Duration::from_secs(1);

/// Where the admin commands and servers of one setup run.
struct City {
    data: PathBuf,
    database: Option<String>,
    s3: Option<(S3Server, String)>,
}

/// How many tasks a setup plans, and whether they are spread over the whole directory (a city's
/// year) or are all the same two-department joint inspection.
#[derive(Clone, Copy)]
struct Plan {
    tasks: usize,
    spread: bool,
}

/// Requests per second and latency of one kind of request under load.
#[derive(Clone, Copy)]
struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// What one setup measured.
struct Measured {
    noop: Figures,
    push: Figures,
    /// Pushes when each device pushes once every [`PUSH_PACE`] instead of back to back.
    paced: Figures,
    /// Devices that had a record of their own to push to.
    pushing: usize,
}

/// What each device does, back to back, while a setup is measured.
#[derive(Clone)]
enum Work {
    Noop,
    Push(Arc<Directory>),
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

    /// Initialises the tenant, imports the sample directory and plans the tasks; returns the root key.
    fn plan(&self, plan: Plan) -> String {
        let init = self.admin(&["init", "--tenant", "330482"]);
        let root = init.lines().find(|l| l.contains("根公钥")).and_then(|l| l.trim().rsplit(' ').next()).expect("root");
        self.admin(&["import", "--sample"]);
        let count = plan.tasks.to_string();
        let mut args = vec!["task", "create", "--sample", count.as_str(), "--json"];
        if plan.spread {
            args.push("--spread");
        }
        let t = Instant::now();
        self.admin(&args);
        eprintln!("load: {} tasks planned in {:.1} s", plan.tasks, t.elapsed().as_secs_f64());
        root.to_string()
    }

    /// Each task's code and the inspectors assigned to it.
    fn assignments(&self) -> Vec<(String, Vec<String>)> {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&self.admin(&["task", "list", "--json"])).expect("json");
        list.iter()
            .map(|t| {
                let code = t["code"].as_str().expect("code").to_string();
                let inspectors = t["inspectors"].as_array().expect("inspectors");
                (code, inspectors.iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
            })
            .collect()
    }
}

/// Enrols `count` devices spread over the sample inspectors and over `bases` (codes issued a
/// team at a time), bringing each feed cursor up to date, `in_flight` devices at once.
async fn enrol_devices(city: &City, root: &str, bases: &[String], count: usize, in_flight: usize) -> Vec<Device> {
    let directory = onevisit_core::sample::directory().expect("sample directory");
    let inspectors: Vec<String> = directory.inspectors().map(|i| i.id.to_string()).collect();
    let mut per_inspector: BTreeMap<&str, usize> = BTreeMap::new();
    for n in 0..count {
        *per_inspector.entry(inspectors[n % inspectors.len()].as_str()).or_default() += 1;
    }
    let mut pending = Vec::new();
    for (inspector, n) in per_inspector {
        let codes = city.admin(&["enrolment", inspector, "--count", &n.to_string()]);
        pending.extend(codes.lines().map(|code| (inspector.to_string(), code.trim().to_string())));
    }
    let pending: Vec<(String, String, String)> = pending
        .into_iter()
        .enumerate()
        .map(|(n, (inspector, code))| (bases[n % bases.len()].clone(), inspector, code))
        .collect();
    let http = reqwest::Client::new();
    let root = root.to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let pending = Arc::new(pending);
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (http, root, next, pending) = (http.clone(), root.clone(), next.clone(), pending.clone());
            tokio::spawn(async move {
                let mut enrolled = Vec::new();
                while let Some((base, inspector, code)) = pending.get(next.fetch_add(1, Ordering::Relaxed)) {
                    enrolled.push(Device::enrol(&http, base.clone(), &root, inspector, code.clone()).await);
                }
                enrolled
            })
        })
        .collect();
    let mut devices = Vec::new();
    for w in workers {
        devices.extend(w.await.expect("enrolling worker"));
    }
    devices
}

/// Gives each device a record of its own that its inspector is assigned to (first come, first
/// served) and claims it; returns how many devices got one.
async fn claim_records(devices: &mut [Device], assignments: &[(String, Vec<String>)], directory: &Directory) -> usize {
    let http = reqwest::Client::new();
    let mut taken = HashSet::new();
    let mut claimed = 0;
    for device in devices.iter_mut() {
        let free = assignments
            .iter()
            .find(|(code, inspectors)| !taken.contains(code) && inspectors.contains(&device.inspector));
        if let Some((code, _)) = free {
            taken.insert(code.clone());
            device.claim(&http, directory, code).await;
            claimed += 1;
        }
    }
    claimed
}

/// Every device does `work` for `seconds` (devices with nothing to push sit out): back to back,
/// or once every `pace` (the devices' starts spread evenly over one period); returns the devices
/// and the figures.
async fn hammer(devices: Vec<Device>, work: Work, seconds: f64, pace: Option<Duration>) -> (Vec<Device>, Figures) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(devices.len()).build().expect("client");
    let start = tokio::time::Instant::now();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let count = devices.len() as u32;
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(n, mut device)| {
            let (http, work) = (http.clone(), work.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let idle = matches!(work, Work::Push(_)) && device.writing.is_none();
                let mut next = pace.map(|p| start + p * n as u32 / count);
                while !idle && Instant::now() < deadline {
                    if let (Some(at), Some(pace)) = (next.as_mut(), pace) {
                        tokio::time::sleep_until(*at).await;
                        *at += pace;
                    }
                    let t = Instant::now();
                    match &work {
                        Work::Noop => device.noop(&http).await,
                        Work::Push(directory) => device.push(&http, directory).await,
                    }
                    samples.push(ms(t.elapsed()));
                }
                (device, samples)
            })
        })
        .collect();
    let started = Instant::now();
    let (mut devices, mut all) = (Vec::new(), Vec::new());
    for t in tasks {
        let (device, samples) = t.await.expect("device task");
        devices.push(device);
        all.extend(samples);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    (devices, Figures { rate, p50: percentile(&mut all, 0.5), p99: percentile(&mut all, 0.99) })
}

/// Every device re-syncs once with nothing new, `in_flight` at a time (a city's ordinary traffic,
/// not a stampede); returns the devices and the p50/p99 of one re-sync.
async fn resync_each_once(devices: Vec<Device>, in_flight: usize) -> (Vec<Device>, Figures) {
    let http = reqwest::Client::new();
    let queue = Arc::new(std::sync::Mutex::new(devices));
    let started = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (http, queue) = (http.clone(), queue.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some(mut device) = next else { break };
                    let t = Instant::now();
                    device.noop(&http).await;
                    done.push((device, ms(t.elapsed())));
                }
                done
            })
        })
        .collect();
    let (mut devices, mut samples) = (Vec::new(), Vec::new());
    for w in workers {
        for (device, sample) in w.await.expect("re-sync worker") {
            devices.push(device);
            samples.push(sample);
        }
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    (devices, Figures { rate, p50: percentile(&mut samples, 0.5), p99: percentile(&mut samples, 0.99) })
}

/// One setup: its servers started, `plan` planned, `devices` enrolled; no-op syncs measured, then
/// pushes by every device that has a record of its own.
fn measure(label: &str, city: &City, replicas: usize, devices: usize, plan: Plan, seconds: f64) -> Measured {
    let root = city.plan(plan);
    let assignments = city.assignments();
    let directory = Arc::new(onevisit_core::sample::directory().expect("sample directory"));
    let servers: Vec<ServerProcess> = (0..replicas).map(|_| city.serve()).collect();
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let measured = runtime.block_on(async {
        let enrolled = enrol_devices(city, &root, &bases, devices, 8).await;
        let (mut enrolled, noop) = hammer(enrolled, Work::Noop, seconds, None).await;
        let pushing = claim_records(&mut enrolled, &assignments, &directory).await;
        let (enrolled, push) = hammer(enrolled, Work::Push(directory.clone()), seconds, None).await;
        let (_, paced) = hammer(enrolled, Work::Push(directory.clone()), seconds, Some(PUSH_PACE)).await;
        Measured { noop, push, paced, pushing }
    });
    let rss: Vec<f64> = servers.iter().map(|s| round(s.peak_rss_mib())).collect();
    eprintln!(
        "load {label}: no-op {:.0}/s p50 {:.2} ms p99 {:.2} ms; push ({} devices) {:.0}/s p50 {:.2} ms p99 {:.2} ms, paced {:.0}/s p50 {:.2} ms p99 {:.2} ms; server peak RSS {rss:?} MiB",
        measured.noop.rate,
        measured.noop.p50,
        measured.noop.p99,
        measured.pushing,
        measured.push.rate,
        measured.push.p50,
        measured.push.p99,
        measured.paced.rate,
        measured.paced.p50,
        measured.paced.p99
    );
    measured
}

/// The city-sized server: `plan` spread over the directory, `devices` enrolled on one embedded
/// server; each device's re-sync once, then no-op syncs by `busy` of them at once.
fn measure_city(city: &City, plan: Plan, devices: usize, busy: usize, seconds: f64) -> (Figures, Figures, f64) {
    let root = city.plan(plan);
    let server = city.serve();
    let bases = vec![server.base.clone()];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (resync, noop) = runtime.block_on(async {
        let t = Instant::now();
        let enrolled = enrol_devices(city, &root, &bases, devices, 16).await;
        eprintln!("load city: {devices} devices enrolled and brought up to date in {:.1} s", t.elapsed().as_secs_f64());
        let (mut enrolled, resync) = resync_each_once(enrolled, 16).await;
        enrolled.truncate(busy);
        let (_, noop) = hammer(enrolled, Work::Noop, seconds, None).await;
        (resync, noop)
    });
    let rss = server.peak_rss_mib();
    eprintln!(
        "load city: {} records, {devices} devices: one re-sync p50 {:.2} ms p99 {:.2} ms; {busy} in flight {:.0}/s p99 {:.2} ms; peak RSS {rss:.0} MiB",
        plan.tasks, resync.p50, resync.p99, noop.rate, noop.p99
    );
    (resync, noop, rss)
}

/// The sizes of one run of the group.
pub struct Sizes {
    /// Devices in flight at once in each setup.
    pub devices: usize,
    /// Tasks planned in each setup.
    pub tasks: usize,
    /// Inspections held by the city-sized server.
    pub city_tasks: usize,
    /// Devices enrolled on the city-sized server.
    pub city_devices: usize,
    /// Seconds each load runs.
    pub seconds: f64,
}

/// Runs the group: embedded, one PostgreSQL replica, two replicas on PostgreSQL + S3, then the
/// city-sized embedded server.
pub fn run(base: &Path, sizes: &Sizes) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Sizes { devices, tasks, city_tasks, city_devices, seconds } = *sizes;
    let plan = Plan { tasks, spread: true };
    let embedded = City { data: base.join("load-embedded"), database: None, s3: None };
    let sqlite = measure("embedded", &embedded, 1, devices, plan, seconds);
    let cluster = PostgresCluster::start_durable();
    let s3 = S3Server::start();
    let bucket = s3.bucket("evidence", "330482");
    let one = City { data: base.join("load-pg1"), database: Some(cluster.database("one")), s3: None };
    let pg1 = measure("postgres-1", &one, 1, devices, plan, seconds);
    let two = City { data: base.join("load-pg2"), database: Some(cluster.database("two")), s3: Some((s3, bucket)) };
    let pg2 = measure("postgres-2", &two, 2, devices, plan, seconds);
    let detail = format!(
        "{devices} devices each with a sync in flight, {tasks} records spread over the sample directory, {seconds} s; signed, deflated syncs over loopback http; rate limits off; the load tool on one thread of the same 2 cores"
    );
    let setups = [("sqlite", &sqlite), ("postgres_1_replica", &pg1), ("postgres_2_replicas", &pg2)];
    for (backend, m) in setups {
        emit(
            "server_noop_sync_per_s",
            m.noop.rate,
            "req/s",
            json!({"backend": backend, "records": tasks, "p50_ms": round(m.noop.p50), "p99_ms": round(m.noop.p99),
                   "target": ">= 5000 (embedded), p99 <= 200 ms", "detail": detail}),
        );
    }
    for (backend, m) in setups {
        emit(
            "server_push_per_s",
            m.push.rate,
            "req/s",
            json!({"backend": backend, "records": tasks, "devices_pushing": m.pushing, "edits_per_push": EDITS_PER_PUSH,
                   "p50_ms": round(m.push.p50), "p99_ms": round(m.push.p99), "target": "p99 <= 200 ms",
                   "detail": format!("each device pushes {EDITS_PER_PUSH} answers to a record of its own in one sync (write rules checked, stored, receipted), then the next; {detail}")}),
        );
    }
    for (backend, m) in setups {
        emit(
            "server_push_paced_p99_ms",
            m.paced.p99,
            "ms",
            json!({"backend": backend, "records": tasks, "devices_pushing": m.pushing, "per_s": round(m.paced.rate), "p50_ms": round(m.paced.p50),
                   "saturated_p99_ms": round(m.push.p99), "target": "p99 <= 200 ms",
                   "detail": format!("the same pushes, each device once every {} s (the server busy, not saturated); saturated_p99_ms: back to back as in server_push_per_s", PUSH_PACE.as_secs())}),
        );
    }
    for (kind, one, two) in [("noop", pg1.noop, pg2.noop), ("push", pg1.push, pg2.push)] {
        emit(
            &format!("server_{kind}_replica_scaling"),
            two.rate / one.rate,
            "x",
            json!({"one_replica_per_s": round(one.rate), "two_replicas_per_s": round(two.rate), "target": ">= 1.6 where the CPU allows it",
                   "detail": "both replicas, PostgreSQL and the load tool share the same 2 cores"}),
        );
    }
    let large = City { data: base.join("load-city"), database: None, s3: None };
    let city_plan = Plan { tasks: city_tasks, spread: true };
    let (resync, noop, rss) = measure_city(&large, city_plan, city_devices, devices, seconds);
    emit(
        "server_noop_sync_per_s",
        noop.rate,
        "req/s",
        json!({"backend": "sqlite", "records": city_tasks, "enrolled_devices": city_devices, "p50_ms": round(noop.p50), "p99_ms": round(noop.p99),
               "records_small_per_s": round(sqlite.noop.rate), "target": "the rate with few records kept at city scale",
               "detail": format!("{devices} of the {city_devices} enrolled devices each with a sync in flight, {seconds} s; as above")}),
    );
    emit(
        "server_city_noop_resync_p50_ms",
        resync.p50,
        "ms",
        json!({"records": city_tasks, "enrolled_devices": city_devices, "p99_ms": round(resync.p99), "target": "<= 50 ms",
               "detail": "each enrolled device, up to date, syncs once with nothing new, 16 devices at a time (embedded default)"}),
    );
    emit(
        "server_city_peak_rss_mib",
        rss,
        "MiB",
        json!({"records": city_tasks, "enrolled_devices": city_devices, "target": "<= 512 MiB",
               "detail": "the server's peak resident set (VmHWM) over enrolment, every device's catch-up, the re-syncs and the no-op load"}),
    );
}
