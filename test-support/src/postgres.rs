//! A throw-away PostgreSQL cluster on loopback for the tests and benchmarks that claim PostgreSQL:
//! `initdb` in a temporary folder, `postgres` on a free port with password authentication,
//! stopped and removed when dropped. PostgreSQL refuses to run as root, so as root the cluster
//! runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The role the tests connect as.
pub const PG_USER: &str = "onevisit";
/// Its password (password authentication is on, so a wrong one is refused as in production).
pub const PG_PASSWORD: &str = "onevisit-test-password";

/// A running PostgreSQL cluster, stopped and deleted when dropped.
pub struct PostgresCluster {
    bin: PathBuf,
    dir: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    as_postgres_user: bool,
}

/// The folder of PostgreSQL's programs: `ONEVISIT_PG_BIN`, else the newest Debian version folder,
/// else `pg_config --bindir`, else the one holding `initdb` on `PATH`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ONEVISIT_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| d.join("initdb").exists()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

impl PostgresCluster {
    /// Creates and starts a cluster that does not flush commits to disk (tests need no durability
    /// across a power cut, and run faster without).
    ///
    /// # Panics
    /// When PostgreSQL is not installed or does not start: the tests that claim PostgreSQL cannot
    /// pass without it (`apt-get install postgresql`; `scripts/test.sh` installs it).
    pub fn start() -> PostgresCluster {
        PostgresCluster::start_with(false)
    }

    /// [`PostgresCluster::start`] with every commit flushed to disk as a production server does
    /// (`fsync`, `synchronous_commit`, `full_page_writes` on), for benchmarks that compare it
    /// with the embedded store's durable commits. Tests run without, for speed.
    pub fn start_durable() -> PostgresCluster {
        PostgresCluster::start_with(true)
    }

    #[allow(clippy::expect_used, clippy::panic, reason = "test support: a cluster that cannot start is the failure")]
    fn start_with(durable: bool) -> PostgresCluster {
        static N: AtomicU32 = AtomicU32::new(0);
        let bin = bin_dir().expect("PostgreSQL is not installed (apt-get install postgresql, or set ONEVISIT_PG_BIN)");
        let as_postgres_user = is_root();
        // As root the cluster runs as `postgres`, which must reach its folder: /tmp, not a private TMPDIR.
        let base = if as_postgres_user { PathBuf::from("/tmp") } else { std::env::temp_dir() };
        let dir = base.join(format!(
            "onevisit-pg-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        ));
        std::fs::create_dir_all(dir.join("socket")).expect("cluster folder");
        std::fs::write(dir.join("password"), PG_PASSWORD).expect("password file");
        if as_postgres_user {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status();
            assert!(status.is_ok_and(|s| s.success()), "chown of the cluster folder to postgres");
        }
        let mut cluster = PostgresCluster { bin, dir, port: 0, as_postgres_user };
        let data = cluster.dir.join("data");
        let password = cluster.dir.join("password");
        let out = cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                PG_USER.as_ref(),
                "--pwfile".as_ref(),
                password.as_os_str(),
                "--auth-host=scram-sha-256".as_ref(),
                "--auth-local=trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        // A few tries: the free port may be taken between choosing it and binding it.
        for _ in 0..5 {
            cluster.port = free_port();
            let durability = if durable { "on" } else { "off" };
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={durability} -c synchronous_commit={durability} -c full_page_writes={durability} -c max_connections=300",
                cluster.port,
                cluster.dir.join("socket").display()
            );
            let log = cluster.dir.join("server.log");
            let out = cluster.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "start".as_ref(),
                ],
            );
            if out.status.success() {
                return cluster;
            }
        }
        panic!(
            "PostgreSQL did not start: {}",
            std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default()
        );
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Output {
        let exe = self.bin.join(program);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        command.args(args).current_dir(&self.dir).env("PGPASSWORD", PG_PASSWORD);
        command.output().unwrap_or_else(|e| Output {
            status: std::process::ExitStatus::default(),
            stdout: Vec::new(),
            stderr: e.to_string().into_bytes(),
        })
    }

    /// Creates the database `name` and returns its address (`postgres://…@127.0.0.1:PORT/name`).
    #[allow(clippy::panic, reason = "test support: a database that cannot be created is the failure")]
    pub fn database(&self, name: &str) -> String {
        let port = self.port.to_string();
        let out = self.run(
            "createdb",
            &[
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                PG_USER.as_ref(),
                name.as_ref(),
            ],
        );
        if !out.status.success() {
            panic!("createdb {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        self.url(name)
    }

    /// The address of database `name` (whether or not it exists).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL in database `name` through `psql` (for tests that set up what a server would refuse).
    pub fn psql(&self, name: &str, sql: &str) -> Output {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                PG_USER.as_ref(),
                "-d".as_ref(),
                name.as_ref(),
                "-v".as_ref(),
                "ON_ERROR_STOP=1".as_ref(),
                "-c".as_ref(),
                sql.as_ref(),
            ],
        )
    }

    /// The cluster's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .run("pg_ctl", &["-D".as_ref(), data.as_os_str(), "-m".as_ref(), "immediate".as_ref(), "stop".as_ref()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
