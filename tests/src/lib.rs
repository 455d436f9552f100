//! Whole-flow tests live in `tests/tests/`; `src/bin/` holds the helper processes they drive, and
//! this library the set-up they share.

pub mod console_client;
pub mod fault_proxy;
pub mod round_robin;
pub mod tamper_proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use onevisit_core::bundle;
use onevisit_core::document::DocumentKind;
use onevisit_core::domain::{CheckPointId, TaskCode};
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::documents::PartyAct;
use onevisit_core::record::{AnswerValue, FindingDraft, PartyDraft, Position, Recusal, Status};
use onevisit_core::sample;
use onevisit_core::store::Store;
use onevisit_core::sync::CancelToken;
pub use onevisit_test_support::{METRICS_TOKEN, SampleExif, ServerProcess, built_bin, sample_jpeg};

/// A new device store in `root` (with its key file there), operated by `inspector`, with the
/// sample directory imported.
pub fn device(root: &Path, inspector: &str) -> Store {
    std::fs::create_dir_all(root).expect("store directory");
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key")).expect("key file");
    let mut store = Store::init(root, &wrapper, Some(inspector.parse().expect("inspector id"))).expect("init");
    store.import_directory(sample::directory().expect("sample directory")).expect("import");
    store
}

/// A device store of scjg-01 in `root` holding the sample joint task, checked in on site (ready
/// for answers); returns the task.
pub fn on_site_device(root: &Path) -> TaskCode {
    let mut store = device(root, "scjg-01");
    let directory = store.directory().expect("directory");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let code = store.create_task(sample::joint_task_draft(&directory, 0, day)).expect("task").code;
    store.check_in(&code, Position::wgs84(30.7, 121.0, 5).expect("position")).expect("check in");
    code
}

/// Starts `onevisit-crash-recorder` answering into the store in `root` until killed; returns the
/// process and its `ack …` lines.
pub fn crash_recorder(root: &Path, code: &TaskCode) -> (Child, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let mut child = Command::new(built_bin("onevisit-crash-recorder"))
        .arg(root)
        .arg(code.as_str())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the recorder");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    (child, lines)
}

/// The `onevisit-server` binary.
pub fn server_bin() -> PathBuf {
    built_bin("onevisit-server")
}

/// The arguments of `onevisit tasks create` for a joint task planned on a device: the sample
/// directory's first enterprise, market supervision (scjg-01, the lead, and scjg-02) with the fire
/// brigade (xfjy-01, xfjy-02), one matter each, 2026-12-01 to 2026-12-07.
pub fn joint_task_args() -> Vec<String> {
    let data: serde_json::Value =
        serde_json::from_str(onevisit_core::domain::SAMPLE_DIRECTORY_JSON).expect("the sample directory");
    let uscc = data["enterprises"][0]["uscc"].as_str().expect("an enterprise").to_string();
    [
        "tasks",
        "create",
        "--enterprise",
        &uscc,
        "--lead",
        "scjg",
        "--department",
        "xfjy",
        "--inspector",
        "scjg-01",
        "--inspector",
        "scjg-02",
        "--inspector",
        "xfjy-01",
        "--inspector",
        "xfjy-02",
        "--matter",
        "SCJG-001",
        "--matter",
        "XFJY-001",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-07",
    ]
    .map(String::from)
    .to_vec()
}

/// The `onevisit` command.
pub fn cli_bin() -> PathBuf {
    built_bin("onevisit")
}

/// The databases the servers of data directories use, where not the embedded SQLite file
/// (see [`use_database`]).
static DATABASES: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// Makes every admin command on `data` in this test process use the PostgreSQL database `url`.
pub fn use_database(data: &Path, url: &str) {
    DATABASES.lock().expect("database registry").push((data.to_path_buf(), url.to_string()));
}

/// The database registered for `data`, if any.
pub fn database_of(data: &Path) -> Option<String> {
    DATABASES.lock().expect("database registry").iter().rev().find(|(d, _)| d == data).map(|(_, url)| url.clone())
}

/// Runs an admin command of the server on `data` (and its database, if one was registered);
/// returns its stdout.
pub fn admin(data: &Path, args: &[&str]) -> String {
    let mut command = Command::new(server_bin());
    command.arg("--data").arg(data);
    if let Some(url) = database_of(data) {
        command.env("ONEVISIT_DATABASE", url);
    }
    let out = command.args(args).output().expect("run onevisit-server");
    assert!(out.status.success(), "onevisit-server {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs an admin command with `input` on its standard input (a password); returns (success,
/// stdout, stderr).
pub fn admin_with_input(data: &Path, args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write as _;
    let mut command = Command::new(server_bin());
    command.arg("--data").arg(data);
    if let Some(url) = database_of(data) {
        command.env("ONEVISIT_DATABASE", url);
    }
    let mut child = command
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run onevisit-server");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("onevisit-server ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A tenant on disk: initialised with the sample directory; returns the root public key (hex).
pub fn init_tenant(data: &Path) -> String {
    let init = admin(data, &["init", "--tenant", "330482"]);
    admin(data, &["import", "--sample"]);
    let line = init.lines().find(|l| l.contains("根公钥")).expect("root key printed");
    line.trim().rsplit(' ').next().expect("root key").to_string()
}

/// A bare HTTP client for requests a device would never make (attacks, metrics), with ring as the
/// TLS provider like the device's own client.
pub fn raw_client(timeout: Duration) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(timeout).build().expect("an HTTP client")
}

/// The head of a request signed by `key` announcing a body of `length` bytes, as raw HTTP/1.1: for
/// attacks that send a head and then stall, or never send the body.
pub fn signed_request_head(key: &onevisit_core::identity::DeviceKey, path: &str, length: u64) -> String {
    use onevisit_core::request_auth::{self, RequestAuth};
    let auth = RequestAuth::sign(key, "POST", path, b"", chrono::Utc::now().timestamp_millis());
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n{}: {}\r\n{}: {}\r\n{}: {}\r\n{}: {}\r\n\r\n",
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

/// `GET /metrics` of a test server, with its token.
pub fn metrics(server: &ServerProcess) -> String {
    let http = raw_client(Duration::from_secs(10));
    let response = http.get(format!("{}/metrics", server.base)).bearer_auth(METRICS_TOKEN).send().expect("metrics");
    assert!(response.status().is_success(), "metrics: {}", response.status());
    response.text().expect("metrics text")
}

/// A device store for `inspector` in `root`, enrolled with the server (a fresh one-time code).
pub fn enrolled_device(
    root: &Path,
    inspector: &str,
    data: &Path,
    server: &ServerProcess,
    root_key: &str,
) -> Mutex<Store> {
    let mut store = device(root, inspector);
    let code = admin(data, &["enrolment", inspector]).trim().to_string();
    onevisit_core::sync::enrol(&mut store, &server.base, &code, root_key).expect("enrolment");
    Mutex::new(store)
}

/// Syncs with default options and no progress display; panics on failure.
pub fn sync_ok(store: &Mutex<Store>) -> onevisit_core::sync::SyncReport {
    onevisit_core::sync::sync(store, &fast_options(), &|_| {}, &onevisit_core::sync::CancelToken::new()).expect("sync")
}

/// Sync options with short retries, for tests that kill or stop the server.
pub fn fast_options() -> onevisit_core::sync::SyncOptions {
    onevisit_core::sync::SyncOptions {
        retry: onevisit_core::sync::RetryPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
        ..Default::default()
    }
}

/// A city for a test: a tenant with the sample directory in a temporary folder, its server
/// running on loopback, and room for device stores beside it.
pub struct City {
    /// The server's data directory.
    pub data: PathBuf,
    /// The tenant root public key (hex).
    pub root: String,
    /// The running server.
    pub server: ServerProcess,
    tmp: tempfile::TempDir,
}

impl City {
    /// Initialises the tenant and starts its server.
    pub fn new() -> City {
        City::serving_with(&[])
    }

    /// Initialises the tenant and starts its server with more `serve` options.
    pub fn serving_with(options: &[&str]) -> City {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let data = tmp.path().join("server");
        let root = init_tenant(&data);
        let server = ServerProcess::start_with(&data, "127.0.0.1:0", options);
        City { data, root, server, tmp }
    }

    /// Plans one sample joint task (scjg-01 leads, xfjy-01 takes part); returns its code.
    pub fn plan_sample_task(&self) -> TaskCode {
        let out = self.admin(&["task", "create", "--sample", "1", "--json"]);
        let codes: Vec<String> = serde_json::from_str(out.trim()).expect("task codes as JSON");
        TaskCode::parse(&codes[0]).expect("task code")
    }

    /// Runs an admin command on the city's data.
    pub fn admin(&self, args: &[&str]) -> String {
        admin(&self.data, args)
    }

    /// The sample joint task planned, and its two inspectors' devices (`a`: scjg-01, the lead;
    /// `b`: xfjy-01) enrolled and synced once, so both hold it.
    pub fn joint_team(&self) -> (TaskCode, Mutex<Store>, Mutex<Store>) {
        let code = self.plan_sample_task();
        let a = self.device("a", "scjg-01");
        let b = self.device("b", "xfjy-01");
        sync_ok(&a);
        sync_ok(&b);
        (code, a, b)
    }

    /// An enrolled device store named `name`, operated by `inspector`.
    pub fn device(&self, name: &str, inspector: &str) -> Mutex<Store> {
        enrolled_device(&self.tmp.path().join(name), inspector, &self.data, &self.server, &self.root)
    }

    /// Kills the server (SIGKILL) and starts it again on the same address and data, as after a crash.
    pub fn restart_server(&mut self) {
        let addr = self.server.addr.clone();
        self.server.kill();
        self.server = ServerProcess::start(&self.data, &addr);
    }

    /// A folder for anything else the test writes.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
}

impl Default for City {
    fn default() -> Self {
        City::new()
    }
}

/// A device's record of `code` as it shows it: its heads (sorted) and the rendered view (JSON), to
/// compare devices.
pub fn rendered(store: &Mutex<Store>, code: &TaskCode) -> (Vec<automerge::ChangeHash>, String) {
    let mut s = store.lock().expect("store lock");
    let dir = s.directory().expect("directory");
    let record = s.record(code).expect("record");
    let mut heads = record.heads();
    heads.sort();
    (heads, serde_json::to_string(&record.view(&dir).expect("view")).expect("JSON"))
}

/// A check point identifier from a literal.
pub fn cp(id: &str) -> CheckPointId {
    id.parse().expect("check point literal")
}

/// A small deterministic generator for merge and sync orders (no randomness crate needed).
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A handwritten signature as the party's pad would give it.
pub const SIGNATURE_PNG: &[u8] = include_bytes!("../../data/sample-signature.png");

/// A city a flow runs against: the embedded default ([`City`]) or replicas on PostgreSQL + S3
/// ([`ReplicatedCity`]), so that one flow test runs on every backend.
pub trait Deployment {
    /// An enrolled device store named `name`, operated by `inspector`.
    fn device(&self, name: &str, inspector: &str) -> Mutex<Store>;
    /// Runs an admin command on the city's data; returns stdout.
    fn admin(&self, args: &[&str]) -> String;
    /// The address devices and browsers use (`http://127.0.0.1:PORT`).
    fn base(&self) -> String;
    /// The data directory admin commands use.
    fn data(&self) -> &Path;
    /// The tenant root public key (hex), which verifies bundles offline.
    fn root(&self) -> &str;
    /// The sample joint task planned, and its two inspectors' devices (`a`: scjg-01, the lead;
    /// `b`: xfjy-01) enrolled and synced once, so both hold it.
    fn joint_team(&self) -> (TaskCode, Mutex<Store>, Mutex<Store>) {
        let out = self.admin(&["task", "create", "--sample", "1", "--json"]);
        let codes: Vec<String> = serde_json::from_str(out.trim()).expect("task codes as JSON");
        let code = TaskCode::parse(&codes[0]).expect("task code");
        let a = self.device("a", "scjg-01");
        let b = self.device("b", "xfjy-01");
        sync_ok(&a);
        sync_ok(&b);
        (code, a, b)
    }
}

impl Deployment for City {
    fn device(&self, name: &str, inspector: &str) -> Mutex<Store> {
        City::device(self, name, inspector)
    }
    fn admin(&self, args: &[&str]) -> String {
        City::admin(self, args)
    }
    fn base(&self) -> String {
        self.server.base.clone()
    }
    fn data(&self) -> &Path {
        &self.data
    }
    fn root(&self) -> &str {
        &self.root
    }
}

impl Deployment for ReplicatedCity {
    fn device(&self, name: &str, inspector: &str) -> Mutex<Store> {
        ReplicatedCity::device(self, name, inspector)
    }
    fn admin(&self, args: &[&str]) -> String {
        ReplicatedCity::admin(self, args)
    }
    fn base(&self) -> String {
        self.balancer.base()
    }
    fn data(&self) -> &Path {
        &self.data
    }
    fn root(&self) -> &str {
        &self.root
    }
}

/// A recorded joint inspection of the sample task through the city's server: scjg-01 (the lead,
/// device A) and xfjy-01 (device B) each record their department's part, B with a photo and a
/// finding, and the lead completes it. Returns the two devices and the task.
pub fn recorded_case(city: &impl Deployment) -> (Mutex<Store>, Mutex<Store>, TaskCode) {
    let (code, a, b) = Deployment::joint_team(city);
    record_joint_case(&a, &b, &code);
    (a, b, code)
}

/// The recording of [`recorded_case`] by `a` (scjg-01, the lead) and `b` (xfjy-01) on the sample
/// joint task `code` both already hold.
pub fn record_joint_case(a: &Mutex<Store>, b: &Mutex<Store>, code: &TaskCode) {
    record_joint_parts(a, b, code);
    complete_recording(a, b, code);
}

/// Each device's part of [`record_joint_case`], offline: `a` checks in, shows identity, records
/// the party and answers the market regulator's points; `b` checks in, answers the fire
/// brigade's with a photo, and records a finding.
pub fn record_joint_parts(a: &Mutex<Store>, b: &Mutex<Store>, code: &TaskCode) {
    let code = code.clone();
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, here).unwrap();
        s.show_identity(&code).unwrap();
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "现场负责人".into(),
            phone: None,
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        s.record_party(&code, party).unwrap();
        for p in ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"] {
            s.answer(&code, &cp(p), AnswerValue::Pass, None, vec![]).unwrap();
        }
        s.answer(&code, &cp("SCJG-001-03"), AnswerValue::Number { value: "4".into(), unit: "℃".into() }, None, vec![])
            .unwrap();
    }
    {
        let mut s = b.lock().unwrap();
        s.check_in(&code, here).unwrap();
        for p in ["XFJY-001-01", "XFJY-001-02"] {
            s.answer(&code, &cp(p), AnswerValue::Pass, None, vec![]).unwrap();
        }
        s.answer(
            &code,
            &cp("XFJY-001-03"),
            AnswerValue::Number { value: "0.8".into(), unit: "MPa".into() },
            None,
            vec![],
        )
        .unwrap();
        let photo = sample_jpeg(800, 600, Some(&SampleExif::pinghu()));
        let e = s.add_photo(&code, &photo, CaptureTarget::CheckPoint("XFJY-001-04".into()), Some(here)).unwrap();
        s.answer(&code, &cp("XFJY-001-04"), AnswerValue::Photos, None, vec![e.evidence.sha256]).unwrap();
        let finding = FindingDraft {
            department: "xfjy".parse().unwrap(),
            check_point: None,
            problem: "疏散通道堆放杂物".into(),
            legal_basis: "《中华人民共和国消防法》第二十八条".into(),
            rectification_required: true,
            deadline: chrono::NaiveDate::from_ymd_opt(2026, 12, 20),
        };
        s.add_finding(&code, finding).unwrap();
    }
}

/// B's part reaches the lead (A), who completes the recording; both then hold the recorded task.
pub fn complete_recording(a: &Mutex<Store>, b: &Mutex<Store>, code: &TaskCode) {
    sync_ok(b);
    sync_ok(a);
    a.lock().unwrap().set_status(code, Status::Recorded).unwrap();
    sync_ok(a);
    sync_ok(b);
}

/// Downloads every photo of the task this device lacks.
pub fn fetch_all_photos(store: &Mutex<Store>, code: &TaskCode) {
    let missing = store.lock().unwrap().missing_evidence(code).unwrap();
    for e in missing {
        onevisit_core::sync::fetch_blob(store, &e.sha256, &e.mime, e.size, &fast_options(), &CancelToken::new())
            .unwrap();
    }
}

/// Exports one task's evidence bundle (with the server's audit proofs when `proofs`).
pub fn export_bundle(
    store: &Mutex<Store>,
    code: &TaskCode,
    dest: &Path,
    format: bundle::Format,
    proofs: bool,
) -> bundle::ExportSummary {
    let proofs =
        proofs.then(|| onevisit_core::sync::audit_proofs(store, &fast_options(), &CancelToken::new()).unwrap());
    let options = bundle::ExportOptions { format, agency: "平湖市市场监督管理局".into(), proofs };
    bundle::export(&mut store.lock().unwrap(), std::slice::from_ref(code), dest, &options, &|_| {}, &CancelToken::new())
        .unwrap()
}

/// Writes to `out` a copy of the zip bundle with one byte appended to its first photo (an
/// independent zip writer: Python's), as someone altering evidence would.
pub fn tamper_bundle_photo(zip: &Path, out: &Path) {
    let script = "import zipfile, sys\n\
        src = zipfile.ZipFile(sys.argv[1]); dst = zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED)\n\
        done = False\n\
        for info in src.infolist():\n\
        \x20   data = src.read(info.filename)\n\
        \x20   if not done and info.filename.endswith('.jpg'):\n\
        \x20       data += b'\\x00'; done = True\n\
        \x20   dst.writestr(info, data)\n\
        dst.close(); assert done\n";
    let status = Command::new("python3").args(["-c", script]).arg(zip).arg(out).status().expect("python3");
    assert!(status.success(), "tampering with {}", zip.display());
}

/// Verifies a bundle offline against the tenant root key.
pub fn check_bundle(bag: &Path, root: &str) -> bundle::VerifyReport {
    bundle::verify(bag, root, &|_| {}, &CancelToken::new()).unwrap()
}

/// The on-site record signed by every officer it names (A, B and the second officer of each
/// department, on their own devices) and the party; returns its hash.
pub fn sign_everything(city: &impl Deployment, a: &Mutex<Store>, b: &Mutex<Store>, code: &TaskCode) -> String {
    let doc = a.lock().unwrap().render_document(code, DocumentKind::OnSiteRecord, None).unwrap().sha256;
    sign_by_all(city, a, b, code, &doc);
    doc
}

/// Newly enrolled devices, holding the task, for each of `officers` not operating one of `held`.
pub fn officer_devices(city: &impl Deployment, officers: &[String], held: &[&Mutex<Store>]) -> Vec<Mutex<Store>> {
    static TEAMS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = TEAMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let operated: Vec<String> =
        held.iter().filter_map(|s| s.lock().unwrap().inspector().map(|i| i.to_string())).collect();
    officers
        .iter()
        .filter(|o| !operated.contains(o))
        .map(|o| {
            let device = city.device(&format!("officer-{n}-{o}"), o);
            sync_ok(&device);
            device
        })
        .collect()
}

/// The officers the document version `doc` names (inspector ids), read on `store`.
pub fn named_officers(store: &Mutex<Store>, code: &TaskCode, doc: &str) -> Vec<String> {
    let mut s = store.lock().unwrap();
    let version = s.record(code).unwrap().document(doc).unwrap();
    version.content().unwrap().inspectors.into_iter().map(|p| p.inspector).collect()
}

/// Every officer the document version `doc` names signs it on their own device (`a` the lead
/// and `b` where named, then a new device for each other officer), syncing in between; the party
/// then signs by hand on the lead's device, a drawing made for this document.
pub fn sign_by_all(city: &impl Deployment, a: &Mutex<Store>, b: &Mutex<Store>, code: &TaskCode, doc: &str) {
    let named = named_officers(a, code, doc);
    let others = officer_devices(city, &named, &[a, b]);
    for officer in [a, b].into_iter().chain(others.iter()) {
        sync_ok(officer);
        let me = officer.lock().unwrap().inspector().map(|i| i.to_string()).unwrap_or_default();
        if named.contains(&me) {
            officer.lock().unwrap().sign_document(code, doc).unwrap();
            sync_ok(officer);
        }
    }
    sync_ok(a);
    let party =
        PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
    let drawn = onevisit_test_support::handwriting_png(doc);
    let report = a.lock().unwrap().party_act(code, doc, party, Some(&drawn)).unwrap();
    assert!(report.signed, "{report:?}");
    sync_ok(a);
    sync_ok(b);
}

/// A city served by two replicas of the server on one PostgreSQL database and one S3 bucket
/// (a throw-away cluster and S3 server), behind a balancer that sends every request to the next
/// replica in turn. The replicas share no folder: each has its own copy of the data directory
/// (the CA key file, as a deployment hands each replica its secrets).
pub struct ReplicatedCity {
    /// The data directory the admin commands use (replica 0's).
    pub data: PathBuf,
    /// The tenant root public key (hex).
    pub root: String,
    /// The database's address.
    pub database: String,
    /// The bucket's address (`s3://…`).
    pub blobs: String,
    /// The replicas.
    pub replicas: Vec<ServerProcess>,
    /// The balancer in front of them.
    pub balancer: round_robin::RoundRobin,
    /// The S3-compatible server holding the bucket.
    pub s3: onevisit_test_support::S3Server,
    /// The PostgreSQL cluster (dropped last).
    pub cluster: onevisit_test_support::PostgresCluster,
    tmp: tempfile::TempDir,
}

impl ReplicatedCity {
    /// Initialises the tenant in a new database and bucket and starts two replicas and the balancer.
    pub fn new() -> ReplicatedCity {
        let cluster = onevisit_test_support::PostgresCluster::start();
        let database = cluster.database("city");
        let s3 = onevisit_test_support::S3Server::start();
        let blobs = s3.bucket("evidence", "330482");
        let tmp = tempfile::tempdir().expect("temporary directory");
        let data = tmp.path().join("server");
        use_database(&data, &database);
        let root = init_tenant(&data);
        let replicas: Vec<ServerProcess> = (0..2)
            .map(|i| {
                let own = if i == 0 {
                    data.clone()
                } else {
                    copy_data_directory(&data, &tmp.path().join(format!("replica-{i}")))
                };
                ServerProcess::start_with_env(
                    &own,
                    "127.0.0.1:0",
                    &["--database", &database, "--blobs", &blobs],
                    &s3.env(),
                )
            })
            .collect();
        let balancer = round_robin::RoundRobin::start(&replicas.iter().map(|r| r.addr.clone()).collect::<Vec<_>>());
        ReplicatedCity { data, root, database, blobs, replicas, balancer, s3, cluster, tmp }
    }

    /// Starts one more replica on the city's database and bucket, with its own copy of the data
    /// directory (not behind the balancer).
    pub fn start_replica(&self, name: &str) -> ServerProcess {
        let own = copy_data_directory(&self.data, &self.tmp.path().join(name));
        ServerProcess::start_with_env(
            &own,
            "127.0.0.1:0",
            &["--database", &self.database, "--blobs", &self.blobs],
            &self.s3.env(),
        )
    }

    /// An enrolled device store named `name`, operated by `inspector`, talking to the balancer.
    pub fn device(&self, name: &str, inspector: &str) -> Mutex<Store> {
        let mut store = device(&self.tmp.path().join(name), inspector);
        let code = admin(&self.data, &["enrolment", inspector]).trim().to_string();
        onevisit_core::sync::enrol(&mut store, &self.balancer.base(), &code, &self.root).expect("enrolment");
        Mutex::new(store)
    }

    /// Runs an admin command on the city's database.
    pub fn admin(&self, args: &[&str]) -> String {
        admin(&self.data, args)
    }

    /// Plans one sample joint task (scjg-01 leads, xfjy-01 takes part); returns its code.
    pub fn plan_sample_task(&self) -> TaskCode {
        let out = self.admin(&["task", "create", "--sample", "1", "--json"]);
        let codes: Vec<String> = serde_json::from_str(out.trim()).expect("task codes as JSON");
        TaskCode::parse(&codes[0]).expect("task code")
    }

    /// A folder for anything else the test writes.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
}

/// Every file under `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// Copies the files of a server's data directory (the CA key, TLS files) to `to`; returns `to`.
pub fn copy_data_directory(from: &Path, to: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()))?;
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name()))?;
            }
        }
        Ok(())
    }
    copy(from, to).expect("copy the data directory");
    to.to_path_buf()
}

impl Default for ReplicatedCity {
    fn default() -> Self {
        ReplicatedCity::new()
    }
}
