//! A real `onevisit-server serve` process on loopback, as the tests and the benchmark run it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `/metrics` bearer token of the servers the tests start.
pub const METRICS_TOKEN: &str = "metrics-token-for-tests";

/// A binary of the workspace built beside the running test or benchmark (`target/<profile>/`).
///
/// # Panics
/// When it is not built: run `cargo build --workspace` first.
#[allow(clippy::expect_used, reason = "test support: a missing binary is the failure being reported")]
pub fn built_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    // A test: target/<profile>/deps/<test> → target/<profile>/<name>; a benchmark or other binary
    // of the workspace: target/<profile>/<it> → target/<profile>/<name>.
    let beside = exe.parent().map(|d| d.join(&file)).filter(|b| b.exists());
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let bin = beside.unwrap_or_else(|| dir.join(&file));
    assert!(bin.exists(), "{} is missing: run `cargo build --workspace` first", bin.display());
    bin
}

/// A running `onevisit-server serve` on loopback, stopped when dropped (SIGTERM, then SIGKILL).
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, or `https://…` when the server terminates TLS.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl ServerProcess {
    /// Starts the workspace's `onevisit-server` serving `data` on `listen` (`127.0.0.1:0` picks a
    /// free port).
    pub fn start(data: &Path, listen: &str) -> ServerProcess {
        ServerProcess::start_with(data, listen, &[])
    }

    /// Starts serving with more `serve` options (e.g. `--tls`, limits).
    pub fn start_with(data: &Path, listen: &str, options: &[&str]) -> ServerProcess {
        ServerProcess::spawn(&built_bin("onevisit-server"), data, listen, options, "warn", Stdio::null())
    }

    /// Starts serving with more `serve` options and environment variables (e.g. the `AWS_*` of a
    /// bucket).
    pub fn start_with_env(data: &Path, listen: &str, options: &[&str], env: &[(&str, String)]) -> ServerProcess {
        ServerProcess::spawn_with_env(&built_bin("onevisit-server"), data, listen, options, env, "warn", Stdio::null())
    }

    /// Starts serving with every log line down to `debug` written to `log`.
    #[allow(clippy::expect_used, reason = "test support: an unwritable log is the failure being reported")]
    pub fn start_logging_to(data: &Path, listen: &str, log: &Path) -> ServerProcess {
        let file = std::fs::File::create(log).expect("create the server's log file");
        ServerProcess::spawn(&built_bin("onevisit-server"), data, listen, &[], "debug", Stdio::from(file))
    }

    /// Starts `bin` (the workspace's server or a benchmark build of it) and waits for the address
    /// it announces.
    pub fn spawn(
        bin: &Path,
        data: &Path,
        listen: &str,
        options: &[&str],
        log_level: &str,
        stderr: Stdio,
    ) -> ServerProcess {
        ServerProcess::spawn_with_env(bin, data, listen, options, &[], log_level, stderr)
    }

    /// [`ServerProcess::spawn`] with environment variables.
    #[allow(clippy::expect_used, reason = "test support: a server that does not start is the failure")]
    pub fn spawn_with_env(
        bin: &Path,
        data: &Path,
        listen: &str,
        options: &[&str],
        env: &[(&str, String)],
        log_level: &str,
        stderr: Stdio,
    ) -> ServerProcess {
        let mut child = Command::new(bin)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", listen])
            .args(options)
            .env("RUST_LOG", log_level)
            .env("ONEVISIT_METRICS_TOKEN", METRICS_TOKEN)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start onevisit-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read address");
        let announced = line.trim().strip_prefix("正在监听 ").expect("the server announces its address");
        let (addr, scheme) = match announced.strip_suffix("（TLS）") {
            Some(addr) => (addr.to_string(), "https"),
            None => (announced.to_string(), "http"),
        };
        ServerProcess { child, base: format!("{scheme}://{addr}"), addr }
    }

    /// The process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set (VmHWM) in MiB, NaN where /proc does not say.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// Kills the process (SIGKILL), as a crash would.
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
