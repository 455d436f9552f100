//! `onevisit-server`: the city sync server and its admin commands (embedded SQLite by default).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onevisit_core::domain::{Directory, InspectorId};
use onevisit_server::storage::Storage;
use onevisit_server::storage::sqlite::SqliteStorage;
use onevisit_server::tenant::Tenant;
use onevisit_server::{embedded, http, storage, tasks, tenant, tls};

/// The OneVisit city sync server.
#[derive(Debug, Parser)]
#[command(name = "onevisit-server", version, about)]
struct Cli {
    /// The data directory (SQLite file, CA key file, blobs).
    #[arg(long, global = true, env = "ONEVISIT_SERVER_DATA", default_value = "onevisit-server-data")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Initialise the tenant and its CA key, and issue the server's TLS certificate under it.
    Init {
        /// The tenant identifier, e.g. the city's division code 330482.
        #[arg(long)]
        tenant: String,
        /// Host names or IP addresses devices reach the server by (repeatable).
        #[arg(long = "tls-name", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        tls_names: Vec<String>,
    },
    /// Print the tenant root public key (hex): what devices enrol with and a court verifies
    /// bundles and task codes against.
    RootKey,
    /// Issue a new TLS certificate under the tenant root (new host name, or before expiry);
    /// a running server picks it up on SIGHUP.
    TlsCertificate {
        /// Host names or IP addresses devices reach the server by (repeatable).
        #[arg(long = "tls-name", required = true)]
        tls_names: Vec<String>,
    },
    /// Import directory data (departments, inspectors, enterprises, matters).
    Import {
        /// The JSON file.
        file: Option<PathBuf>,
        /// Import the shipped Pinghu sample instead.
        #[arg(long, conflicts_with = "file")]
        sample: bool,
    },
    /// Create a one-time enrolment code for an inspector's device.
    Enrolment {
        /// The inspector.
        inspector: String,
        /// How long the code stays valid, hours.
        #[arg(long, default_value_t = 72)]
        valid_hours: i64,
    },
    /// List the enrolment codes: inspector, expiry, used by which device (codes are kept only as hashes).
    Enrolments {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Plan tasks and change who is assigned.
    #[command(subcommand)]
    Task(TaskCommand),
    /// List the enrolled devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Revoke a device.
    Revoke {
        /// The device: its 设备编号 (printed at enrolment, e.g. KSV30GDQ) or its identifier (hex).
        device: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Serve the HTTP API.
    Serve(ServeArgs),
}

/// How to serve.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The bearer token `/metrics` requires (without one, `/metrics` is not served).
    #[arg(long, env = "ONEVISIT_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// TLS certificate chain (PEM); `init` writes one to <data>/tls/server.crt.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve the certificate `init` issued under the tenant root (<data>/tls/).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls: bool,
    /// Plain http on a non-loopback address, because a reverse proxy in front terminates TLS.
    #[arg(long)]
    behind_proxy: bool,
    /// Connections open at once.
    #[arg(long, default_value_t = 2048)]
    max_connections: usize,
    /// Seconds for request headers to arrive (also how long idle connections stay).
    #[arg(long, default_value_t = 20)]
    header_timeout_secs: u64,
    /// Seconds for a request body to arrive.
    #[arg(long, default_value_t = 120)]
    body_timeout_secs: u64,
    /// Requests per second one device may make on average (0: no limit).
    #[arg(long, default_value_t = 20.0)]
    device_rate: f64,
    /// Requests one device may make at once.
    #[arg(long, default_value_t = 200.0)]
    device_burst: f64,
    /// Unauthenticated or refused requests per second from one address (0: no limit).
    #[arg(long, default_value_t = 20.0)]
    address_rate: f64,
    /// Wrong enrolment codes from one address or for one code prefix before a lockout.
    #[arg(long, default_value_t = 10)]
    enrolment_failures: u32,
    /// Minutes an enrolment lockout lasts.
    #[arg(long, default_value_t = 15)]
    enrolment_lockout_minutes: u64,
    /// MiB of unfinished uploads one device may hold.
    #[arg(long, default_value_t = 256)]
    upload_quota_mib: u64,
    /// Hours an unfinished upload is kept after its latest chunk.
    #[arg(long, default_value_t = 48)]
    upload_expiry_hours: u64,
}

/// Planning commands.
#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// Create tasks from a JSON file of drafts (one object or an array), or sample joint tasks.
    Create {
        /// The drafts.
        file: Option<PathBuf>,
        /// Create this many sample joint inspections (market supervision + fire brigade) instead.
        #[arg(long, conflicts_with = "file")]
        sample: Option<usize>,
        /// Print the task codes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every task with its status, enterprise, dates and who is assigned.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Assign an inspector to a task.
    Assign {
        /// Task code.
        code: String,
        /// Inspector.
        inspector: String,
    },
    /// Take an inspector off a task.
    Unassign {
        /// Task code.
        code: String,
        /// Inspector.
        inspector: String,
    },
}

/// Administering the enrolled devices.
#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Every enrolled device: inspector, 设备编号, certificate serial, last request, revoked.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum ServerError {
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Tenant(#[from] tenant::TenantError),
    #[error(transparent)]
    Directory(#[from] onevisit_core::domain::DirectoryError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "导入的名录中没有执法人员 {0}：先运行 onevisit-server import --sample（或 import 名录.json），执法人员编号如 scjg-01"
    )]
    UnknownInspector(String),
    #[error("没有设备编号或标识为 {0} 的已登记设备：用 onevisit-server device list 查看")]
    UnknownDevice(String),
    #[error("无法在 {0} 上监听（{1}）：端口可能已被占用，请用 --listen 换一个地址或端口")]
    Listen(SocketAddr, std::io::Error),
    #[error(
        "数据目录 {} 尚未初始化：先运行 onevisit-server --data {} init --tenant <行政区划代码>（或用 --data 指向已有的数据目录）",
        .0.display(),
        .0.display()
    )]
    NotInitialised(PathBuf),
    #[error("请给出一个 JSON 文件，或用 --sample")]
    Usage,
    #[error(transparent)]
    Serve(#[from] embedded::EmbeddedError),
    #[error(transparent)]
    Plan(#[from] tasks::PlanError),
    #[error("{0} 不是任务草稿（TaskDraft JSON 数组，格式见 README）：{1}")]
    Drafts(PathBuf, serde_json::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(
        "在非回环地址 {0} 上提供明文 HTTP：请用 --tls（或 --tls-cert/--tls-key）启用 TLS；若前面有终止 TLS 的反向代理，加 --behind-proxy"
    )]
    PlainHttpExposed(SocketAddr),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    #[cfg(feature = "bench-unchecked")]
    {
        // A benchmark build: the write rules are off so that their cost can be measured.
        onevisit_core::record::rules::set_checks_for_benchmarks(false);
        tracing::warn!("benchmark build: the record write rules are OFF; never deploy this binary");
    }
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), ServerError> {
    // Only `init` creates a data directory: any other command on a missing one says so instead of
    // leaving an empty folder behind and failing later for another reason.
    if !matches!(cli.command, Command::Init { .. }) && !SqliteStorage::exists(&cli.data) {
        return Err(ServerError::NotInitialised(cli.data));
    }
    let storage = SqliteStorage::open(&cli.data)?;
    let now = chrono::Utc::now().timestamp_millis();
    match cli.command {
        Command::Init { tenant, tls_names } => {
            let t = Tenant::init(&storage, &cli.data, &tenant).await?;
            println!("租户 {} 已初始化，根公钥 {}", t.id, hex::encode(t.root_public_key()));
            let (chain, key) = tls::default_paths(&cli.data);
            tls::write_certificate(&tls::issue_server_certificate(&t, &tls_names)?, &chain, &key)?;
            println!("TLS 证书已签发（{}）：{}", tls_names.join("、"), chain.display());
        }
        Command::RootKey => {
            let t = Tenant::open(&storage, &cli.data).await?;
            println!("{}", hex::encode(t.root_public_key()));
        }
        Command::TlsCertificate { tls_names } => {
            let t = Tenant::open(&storage, &cli.data).await?;
            let (chain, key) = tls::default_paths(&cli.data);
            tls::write_certificate(&tls::issue_server_certificate(&t, &tls_names)?, &chain, &key)?;
            println!(
                "TLS 证书已签发（{}）：{}；运行中的服务器收到 SIGHUP 后启用",
                tls_names.join("、"),
                chain.display()
            );
        }
        Command::Import { file, sample } => {
            let json = match (file, sample) {
                (Some(path), false) => {
                    std::fs::read_to_string(&path).map_err(|source| ServerError::Io { path, source })?
                }
                (None, true) => onevisit_core::domain::SAMPLE_DIRECTORY_JSON.to_string(),
                _ => return Err(ServerError::Usage),
            };
            let directory = Directory::from_json(json.as_bytes())?;
            storage.put_directory(json).await?;
            println!(
                "已导入名录：{} 名执法人员，{} 家企业",
                directory.inspectors().count(),
                directory.enterprises().count()
            );
        }
        Command::Enrolment { inspector, valid_hours } => {
            let directory =
                storage.directory().await?.map(|j| Directory::from_json(j.as_bytes())).transpose()?.unwrap_or_default();
            let known = InspectorId::new(inspector.as_str()).ok().is_some_and(|id| directory.inspector(&id).is_some());
            if !known {
                return Err(ServerError::UnknownInspector(inspector));
            }
            let code = onevisit_server::enrolment_code();
            storage.create_enrolment(http::code_hash(&code), inspector.clone(), now + valid_hours * 3_600_000).await?;
            println!("{code}");
        }
        Command::Task(TaskCommand::Create { file, sample, json }) => {
            let directory = imported_directory(&storage).await?;
            let drafts = match (file, sample) {
                (Some(path), None) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|source| ServerError::Io { path: path.clone(), source })?;
                    let value: serde_json::Value =
                        serde_json::from_str(&text).map_err(|e| ServerError::Drafts(path.clone(), e))?;
                    let list = if value.is_array() { value } else { serde_json::Value::Array(vec![value]) };
                    serde_json::from_value(list).map_err(|e| ServerError::Drafts(path, e))?
                }
                (None, Some(n)) => {
                    let today = chrono::Utc::now().date_naive();
                    (0..n).map(|i| onevisit_core::sample::joint_task_draft(&directory, i, today)).collect()
                }
                _ => return Err(ServerError::Usage),
            };
            let tenant = Tenant::open(&storage, &cli.data).await?;
            let created = tasks::create(&storage, &tenant, &directory, drafts, now).await?;
            if json {
                let codes: Vec<String> = created.iter().map(|t| t.code.to_string()).collect();
                println!("{}", serde_json::to_string(&codes).unwrap_or_default());
            } else {
                for t in &created {
                    println!("{} {}", t.code, t.enterprise);
                }
            }
        }
        Command::Task(TaskCommand::List { json }) => {
            let directory = imported_directory(&storage).await?;
            let list = tasks::list(&storage, &directory).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
            } else {
                println!("{} 个任务", list.len());
                for t in &list {
                    println!(
                        "{}  {}  {}（{}）  {} 至 {}  牵头 {}  执法人员 {}",
                        t.code,
                        t.status_zh,
                        t.enterprise_name,
                        t.enterprise,
                        t.window.0,
                        t.window.1,
                        t.lead_department,
                        t.inspectors.join("、")
                    );
                }
            }
        }
        Command::Enrolments { json } => {
            let list = storage.enrolments().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
            } else {
                println!("{} 个登记码", list.len());
                for e in &list {
                    let state = match &e.used_by_device {
                        Some(device) => format!("已由设备 {device} 使用"),
                        None if e.expires_ms <= now => "已过期".to_string(),
                        None => "未使用".to_string(),
                    };
                    println!(
                        "摘要 {}…  执法人员 {}  有效至 {}（北京时间）  {state}",
                        e.code_hash_prefix,
                        e.inspector,
                        onevisit_core::beijing::date_time(e.expires_ms)
                    );
                }
            }
        }
        Command::Task(TaskCommand::Assign { code, inspector }) => {
            reassign(&storage, &cli.data, &code, &inspector, true, now).await?;
            println!("已将 {inspector} 分配到任务 {code}");
        }
        Command::Task(TaskCommand::Unassign { code, inspector }) => {
            reassign(&storage, &cli.data, &code, &inspector, false, now).await?;
            println!("已将 {inspector} 从任务 {code} 移出");
        }
        Command::Device(DeviceCommand::List { json }) => {
            let devices = storage.devices().await?;
            let revoked = storage.revocations().await?;
            if json {
                let list: Vec<serde_json::Value> = devices
                    .iter()
                    .map(|d| {
                        let r = revoked.iter().find(|r| r.device == d.device);
                        serde_json::json!({
                            "device": d.device, "inspector": d.inspector, "device_code": d.device_code,
                            "serial": d.serial, "last_request_ms": d.last_request_ms,
                            "revoked_at_ms": r.map(|r| r.revoked_at_ms), "revoked_reason": r.map(|r| &r.reason),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
            } else {
                println!("{} 台已登记设备", devices.len());
                for d in &devices {
                    let last = d.last_request_ms.map_or("从未同步".to_string(), |ms| {
                        format!("最近请求 {}", onevisit_core::beijing::date_time(ms))
                    });
                    let state = match revoked.iter().find(|r| r.device == d.device) {
                        Some(r) => format!("已吊销（{}）", r.reason),
                        None => "有效".to_string(),
                    };
                    println!(
                        "{}  执法人员 {}  标识 {}  证书 {}  {last}  {state}",
                        d.device_code, d.inspector, d.device, d.serial
                    );
                }
            }
        }
        Command::Revoke { device, reason } => {
            // The 设备编号 the device printed, or its identifier.
            let devices = storage.devices().await?;
            let device = devices
                .iter()
                .find(|d| d.device_code.eq_ignore_ascii_case(device.trim()) || d.device == device.trim())
                .map(|d| d.device.clone())
                .ok_or(ServerError::UnknownDevice(device))?;
            let r = storage.revoke(device, reason, now).await?;
            println!(
                "已吊销设备 {}（证书序列号 {}），吊销时间 {}（北京时间）",
                r.device,
                r.serial,
                onevisit_core::beijing::date_time(r.revoked_at_ms)
            );
        }
        Command::Serve(args) => serve(storage, &cli.data, args).await?,
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM; SIGHUP reloads the TLS certificate.
async fn serve(storage: SqliteStorage, data: &std::path::Path, args: ServeArgs) -> Result<(), ServerError> {
    let files = match (&args.tls_cert, &args.tls_key, args.tls) {
        (Some(cert), Some(key), _) => Some((cert.clone(), key.clone())),
        (_, _, true) => Some(tls::default_paths(data)),
        _ => None,
    };
    let tls = files.map(|(cert, key)| tls::TlsFiles::load(&cert, &key)).transpose()?.map(std::sync::Arc::new);
    if tls.is_none() && !args.listen.ip().is_loopback() && !args.behind_proxy {
        return Err(ServerError::PlainHttpExposed(args.listen));
    }
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.map_err(|source| ServerError::Listen(args.listen, source))?;
    let bound = listener.local_addr().map_err(|source| ServerError::Listen(args.listen, source))?;
    #[cfg(unix)]
    if let Some(files) = tls.clone() {
        tokio::spawn(reload_on_hangup(files));
    }
    // The first line on stdout says where we listen (tests bind port 0 and read it).
    println!("正在监听 {bound}{}", if tls.is_some() { "（TLS）" } else { "" });
    tracing::info!(%bound, tls = tls.is_some(), "serving");
    let options = embedded::ServeOptions {
        metrics_token: args.metrics_token,
        tls,
        connections: onevisit_server::listener::ConnectionLimits {
            max_connections: args.max_connections.max(1),
            header_timeout: std::time::Duration::from_secs(args.header_timeout_secs.max(1)),
            ..Default::default()
        },
        rates: onevisit_server::throttle::RateLimits {
            device_per_second: args.device_rate,
            device_burst: args.device_burst.max(1.0),
            address_per_second: args.address_rate,
            enrolment_failures: args.enrolment_failures.max(1),
            enrolment_lockout: std::time::Duration::from_secs(args.enrolment_lockout_minutes * 60),
            ..Default::default()
        },
        body_timeout: Some(std::time::Duration::from_secs(args.body_timeout_secs.max(1))),
        uploads: onevisit_server::blobs::UploadLimits {
            quota_bytes: args.upload_quota_mib.saturating_mul(1024 * 1024),
            expiry: std::time::Duration::from_secs(args.upload_expiry_hours.max(1) * 3600),
        },
    };
    embedded::serve(storage, data, listener, options, shutdown()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Reloads the TLS files on every SIGHUP; connections already open keep theirs.
#[cfg(unix)]
async fn reload_on_hangup(files: std::sync::Arc<tls::TlsFiles>) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
    while hangup.recv().await.is_some() {
        match files.reload() {
            Ok(()) => tracing::info!("TLS certificate reloaded"),
            Err(e) => tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays"),
        }
    }
}

/// The directory data imported with `import`.
async fn imported_directory(storage: &SqliteStorage) -> Result<Directory, ServerError> {
    let json = storage.directory().await?.ok_or(tasks::PlanError::NoDirectory)?;
    Ok(Directory::from_json(json.as_bytes())?)
}

/// Changes a task's assignment from the command line.
async fn reassign(
    storage: &SqliteStorage,
    data: &std::path::Path,
    code: &str,
    inspector: &str,
    assigned: bool,
    now: i64,
) -> Result<(), ServerError> {
    let directory = imported_directory(storage).await?;
    let tenant = Tenant::open(storage, data).await?;
    tasks::reassign(storage, &tenant, &directory, code, inspector, assigned, now).await?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM, for a graceful shutdown.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}
