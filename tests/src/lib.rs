//! Whole-flow tests live in `tests/tests/`; `src/bin/` holds the helper processes they drive, and
//! this library the set-up they share.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use onevisit_core::domain::{CheckPointId, TaskCode};
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::sample;
use onevisit_core::store::Store;

/// A new device store in `root` (with its key file there), operated by `inspector`, with the
/// sample directory imported.
pub fn device(root: &Path, inspector: &str) -> Store {
    std::fs::create_dir_all(root).expect("store directory");
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key")).expect("key file");
    let mut store = Store::init(root, &wrapper, Some(inspector.parse().expect("inspector id"))).expect("init");
    store.import_directory(sample::directory().expect("sample directory")).expect("import");
    store
}

/// A binary of the workspace built beside these tests (`cargo build --workspace` makes them).
fn built_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: run `cargo build --workspace` first", bin.display());
    bin
}

/// The `onevisit-server` binary.
pub fn server_bin() -> PathBuf {
    built_bin("onevisit-server")
}

/// The `onevisit` command.
pub fn cli_bin() -> PathBuf {
    built_bin("onevisit")
}

/// Runs an admin command of the server on `data`; returns its stdout.
pub fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(server_bin()).arg("--data").arg(data).args(args).output().expect("run onevisit-server");
    assert!(out.status.success(), "onevisit-server {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A tenant on disk: initialised with the sample directory; returns the root public key (hex).
pub fn init_tenant(data: &Path) -> String {
    let init = admin(data, &["init", "--tenant", "330482"]);
    admin(data, &["import", "--sample"]);
    init.trim().rsplit(' ').next().expect("root key printed").to_string()
}

/// A running `onevisit-server serve` on loopback, stopped when dropped (SIGTERM, then SIGKILL).
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl ServerProcess {
    /// Starts serving `data` on `listen` (`127.0.0.1:0` picks a free port).
    pub fn start(data: &Path, listen: &str) -> ServerProcess {
        let mut child = Command::new(server_bin())
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", listen])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start onevisit-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read address");
        let addr = line.trim().strip_prefix("listening on ").expect("the server announces its address").to_string();
        ServerProcess { child, base: format!("http://{addr}"), addr }
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        let tmp = tempfile::tempdir().expect("temporary directory");
        let data = tmp.path().join("server");
        let root = init_tenant(&data);
        let server = ServerProcess::start(&data, "127.0.0.1:0");
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

    /// An enrolled device store named `name`, operated by `inspector`.
    pub fn device(&self, name: &str, inspector: &str) -> Mutex<Store> {
        enrolled_device(&self.tmp.path().join(name), inspector, &self.data, &self.server, &self.root)
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
