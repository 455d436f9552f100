//! A real S3-compatible server on loopback for the tests and benchmarks that claim S3: the
//! workspace's `onevisit-s3-server` (s3s-fs: the S3 protocol over a folder, signed requests with
//! one access key) on a free port, its folder removed when dropped. Buckets are that folder's
//! subfolders, so a test creates one with [`S3Server::bucket`].

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::built_bin;

/// The access key id the server accepts.
pub const S3_ACCESS_KEY: &str = "onevisit-test-access";
/// Its secret.
pub const S3_SECRET_KEY: &str = "onevisit-test-secret-key-0123456789";

/// A running S3-compatible server, killed and its folder removed when dropped.
pub struct S3Server {
    child: Child,
    root: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl S3Server {
    /// Starts a server with no buckets.
    ///
    /// # Panics
    /// When the workspace's `onevisit-s3-server` is not built or does not start.
    #[allow(clippy::expect_used, reason = "test support: a server that does not start is the failure")]
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().expect("S3 folder");
        let mut child = Command::new(built_bin("onevisit-s3-server"))
            .args(["--listen", "127.0.0.1:0", "--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start onevisit-s3-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read address");
        let addr = line.trim().strip_prefix("正在监听 ").expect("the S3 server announces its address").to_string();
        S3Server { child, root, endpoint: format!("http://{addr}") }
    }

    /// Creates bucket `name` and returns `s3://name/prefix`.
    #[allow(clippy::expect_used, reason = "test support: a bucket that cannot be made is the failure")]
    pub fn bucket(&self, name: &str, prefix: &str) -> String {
        std::fs::create_dir_all(self.root.path().join(name)).expect("bucket folder");
        format!("s3://{name}/{prefix}")
    }

    /// The folder behind the buckets (to look at what was stored, or to tamper with it).
    pub fn folder(&self) -> PathBuf {
        self.root.path().to_path_buf()
    }

    /// The environment a server process needs to reach this store (`AWS_*`).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY.to_string()),
        ]
    }

    /// Kills the server (SIGKILL), as a crash or an outage would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}
