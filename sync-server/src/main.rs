//! `onevisit-server`: the city sync server and its admin commands (embedded SQLite by default).
//! The doc comments of the command-line types are the `--help` text, so they are in Chinese.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onevisit_core::domain::{Directory, InspectorId};
use onevisit_server::blobs::{FileBlobs, S3Blobs, S3Config};
use onevisit_server::storage::Storage;
use onevisit_server::storage::postgres::PostgresStorage;
use onevisit_server::storage::sqlite::SqliteStorage;
use onevisit_server::tenant::Tenant;
use onevisit_server::{embedded, http, storage, tasks, tenant, tls};

/// OneVisit 市同步服务器（管理命令）。
#[derive(Debug, Parser)]
#[command(name = "onevisit-server", version)]
struct Cli {
    /// 数据目录（根密钥文件、TLS 证书、照片等文件；不设 --database 时还有 SQLite 数据库）。
    #[arg(long, global = true, env = "ONEVISIT_SERVER_DATA", default_value = "onevisit-server-data")]
    data: PathBuf,
    /// PostgreSQL 数据库地址（postgres://用户:密码@主机:端口/库名）：多个服务器副本共用一个数据库；
    /// 不设则用数据目录中的 SQLite 文件。
    #[arg(long, global = true, env = "ONEVISIT_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// 照片等文件的对象存储（s3://桶名/前缀，S3 兼容：阿里云 OSS、AWS S3 等）：多个副本共用一个桶；
    /// 地址、区域和密钥取自 AWS_ENDPOINT_URL、AWS_REGION、AWS_ACCESS_KEY_ID、AWS_SECRET_ACCESS_KEY
    /// （OSS 还需 AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true）。不设则存放在数据目录的 blobs 文件夹；
    /// 对 migrate 而言是照片迁往的桶。
    #[arg(long, global = true, env = "ONEVISIT_BLOBS")]
    blobs: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// 初始化租户及其根密钥，并签发服务器的 TLS 证书。
    Init {
        /// 租户编号，如本市的行政区划代码 330482。
        #[arg(long)]
        tenant: String,
        /// 设备访问服务器所用的主机名或 IP 地址（可重复）。
        #[arg(long = "tls-name", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        tls_names: Vec<String>,
    },
    /// 打印租户根公钥（十六进制）：设备登记时要用，法院核验证据包和检查码也以它为准。
    RootKey,
    /// 在租户根密钥下重新签发 TLS 证书（新主机名，或到期前）；运行中的服务器收到 SIGHUP 后启用。
    TlsCertificate {
        /// 设备访问服务器所用的主机名或 IP 地址（可重复）。
        #[arg(long = "tls-name", required = true)]
        tls_names: Vec<String>,
    },
    /// 导入名录数据（部门、执法人员、企业、检查事项）。
    Import {
        /// 名录 JSON 文件。
        file: Option<PathBuf>,
        /// 改为导入随附的平湖示例名录。
        #[arg(long, conflicts_with = "file")]
        sample: bool,
    },
    /// 为执法人员的设备生成一次性登记码。
    Enrolment {
        /// 执法人员编号（如 scjg-01）。
        inspector: String,
        /// 登记码有效的小时数。
        #[arg(long, default_value_t = 72)]
        valid_hours: i64,
        /// 一次生成这么多个登记码（每行一个，供一个班组的设备使用）。
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
    },
    /// 列出登记码：执法人员、有效期、被哪台设备使用（登记码只保存哈希值）。
    Enrolments {
        /// 输出 JSON 而不是表格。
        #[arg(long)]
        json: bool,
    },
    /// 计划任务、调整分配的执法人员。
    #[command(subcommand)]
    Task(TaskCommand),
    /// 双随机抽查：预览（draw 计划.json --dry-run）、公示随机种子的哈希（commit）、抽取并生成任务
    /// （publish）、核验公布的抽查结果记录（verify）。
    Draw(DrawArgs),
    /// 一企一档：一家企业的全部检查、问题、责令改正通知书和复查，按时间先后。
    Enterprise {
        /// 企业的统一社会信用代码。
        uscc: String,
        /// 输出 JSON 而不是文字。
        #[arg(long)]
        json: bool,
    },
    /// 闭环跟进：责令改正期限届满后安排复查任务。
    #[command(subcommand)]
    Followup(FollowupCommand),
    /// 执法监管指标（掌上执法率、计划任务完成率、到期任务完成率、后续处置率、跨部门联合监管率等，
    /// 定义见 README）和督办清单。
    Report {
        /// 统计期起始日（YYYY-MM-DD，北京时间）；不给则为本月 1 日。
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// 统计期截止日（含当天）；不给则为今天。
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// 只统计这个部门参与的任务和它的问题（部门编号，如 xfjy）。
        #[arg(long)]
        department: Option<String>,
        /// 以这一天为“今天”判断逾期（YYYY-MM-DD）；不给则用今天。
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// 输出 JSON 而不是文字。
        #[arg(long)]
        json: bool,
    },
    /// 列出已登记的设备。
    #[command(subcommand)]
    Device(DeviceCommand),
    /// 指挥端（网页控制台）账号：添加、改密码、停用、启用、列出。密码从标准输入读取一行。
    #[command(subcommand)]
    User(UserCommand),
    /// 吊销一台设备。
    Revoke {
        /// 设备：登记时打印的设备编号（如 KSV30GDQ）或设备标识（十六进制）。
        device: String,
        /// 原因。
        #[arg(long)]
        reason: String,
    },
    /// 提供 HTTP 服务。
    Serve(ServeArgs),
    /// 把内置 SQLite 数据（--data）整体迁移到一个空的 PostgreSQL 数据库（给出 --blobs 时照片迁往该桶），
    /// 核对无误后才提交；迁移前请先停止服务器。
    Migrate {
        /// 目标数据库地址（postgres://用户:密码@主机:端口/库名）。
        #[arg(long)]
        to: String,
        /// 输出 JSON 而不是文字。
        #[arg(long)]
        json: bool,
    },
}

/// 服务方式。
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// 监听地址。
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// 访问 /metrics 所需的令牌（不设则不提供 /metrics）。
    #[arg(long, env = "ONEVISIT_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// TLS 证书链（PEM）；init 写在 <数据目录>/tls/server.crt。
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS 私钥（PEM）。
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// 使用 init 在租户根密钥下签发的证书（<数据目录>/tls/）。
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls: bool,
    /// 在非本机地址上用 http，因为前面有终结 TLS 的反向代理。
    #[arg(long)]
    behind_proxy: bool,
    /// 同时打开的连接数上限。
    #[arg(long, default_value_t = 2048)]
    max_connections: usize,
    /// 请求头须在多少秒内到达（也是空闲连接保留的时间）。
    #[arg(long, default_value_t = 20)]
    header_timeout_secs: u64,
    /// 请求体须在多少秒内到达。
    #[arg(long, default_value_t = 120)]
    body_timeout_secs: u64,
    /// 每台设备平均每秒最多请求数（0：不限）。
    #[arg(long, default_value_t = 20.0)]
    device_rate: f64,
    /// 每台设备一次最多请求数。
    #[arg(long, default_value_t = 200.0)]
    device_burst: f64,
    /// 每个地址每秒最多未认证或被拒绝的请求数（0：不限）。
    #[arg(long, default_value_t = 20.0)]
    address_rate: f64,
    /// 同一地址或同一登记码前缀错几次登记码后锁定。
    #[arg(long, default_value_t = 10)]
    enrolment_failures: u32,
    /// 登记锁定持续的分钟数。
    #[arg(long, default_value_t = 15)]
    enrolment_lockout_minutes: u64,
    /// 每台设备最多保留多少 MiB 未完成的上传。
    #[arg(long, default_value_t = 256)]
    upload_quota_mib: u64,
    /// 未完成的上传在最后一块之后保留多少小时。
    #[arg(long, default_value_t = 48)]
    upload_expiry_hours: u64,
    /// 内存中缓存的检查记录最多占用多少 MiB（估算值；超出时先释放最久未用的记录）。
    #[arg(long, default_value_t = 64)]
    record_cache_mib: usize,
}

/// 计划命令。
#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// 从任务草稿 JSON 文件（一个对象或数组）创建任务，或创建示例联合检查任务。
    Create {
        /// 任务草稿文件。
        file: Option<PathBuf>,
        /// 改为创建这么多个示例联合检查（市场监管 + 消防救援）。
        #[arg(long, conflicts_with = "file")]
        sample: Option<usize>,
        /// 示例任务轮流分布到名录中的每个部门、执法人员和企业（模拟一个城市一年的检查）。
        #[arg(long, requires = "sample")]
        spread: bool,
        /// 以 JSON 输出任务编号。
        #[arg(long)]
        json: bool,
    },
    /// 列出全部任务：状态、企业、日期、分配的执法人员。
    List {
        /// 输出 JSON 而不是表格。
        #[arg(long)]
        json: bool,
    },
    /// 给任务分配一名执法人员。
    Assign {
        /// 任务编号。
        code: String,
        /// 执法人员编号。
        inspector: String,
    },
    /// 把执法人员从任务中撤下。
    Unassign {
        /// 任务编号。
        code: String,
        /// 执法人员编号。
        inspector: String,
    },
}

/// 双随机抽查。
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct DrawArgs {
    #[command(subcommand)]
    command: Option<DrawCommand>,
    /// 抽查计划 JSON 文件（与 --dry-run 一起使用：预览）。
    plan: Option<PathBuf>,
    /// 用临时随机种子预览抽查对象库、比例、人员是否够派和合并的联合任务，不生成任何任务。
    #[arg(long)]
    dry_run: bool,
    /// 输出 JSON 而不是文字。
    #[arg(long)]
    json: bool,
}

/// 双随机抽查的步骤。
#[derive(Debug, Subcommand)]
enum DrawCommand {
    /// 登记抽查计划并固定随机种子，打印其哈希：抽取前对外公示，事后任何人可核对。
    Commit {
        /// 抽查计划 JSON 文件。
        plan: PathBuf,
        /// 输出 JSON 而不是文字。
        #[arg(long)]
        json: bool,
    },
    /// 固定抽查对象库，用已公示的随机种子抽取，签发抽查结果记录并生成任务。
    Publish {
        /// 抽查计划编号。
        plan_id: String,
        /// 把签名的抽查结果记录写到这个文件（供公开和核验）。
        #[arg(long)]
        out: Option<PathBuf>,
        /// 输出 JSON 而不是文字。
        #[arg(long)]
        json: bool,
    },
    /// 核验抽查结果记录：根密钥签名、随机种子与事先公示的哈希、对象库哈希，并重新计算抽取结果。
    Verify {
        /// 抽查结果记录文件。
        record: PathBuf,
        /// 用这个根公钥（十六进制）核验，不需要服务器数据；不给则用本服务器租户的根公钥。
        #[arg(long)]
        root_key: Option<String>,
        /// 输出 JSON 而不是文字。
        #[arg(long)]
        json: bool,
    },
    /// 列出抽查计划：公示的哈希、是否已抽取、生成的任务数。
    List {
        /// 输出 JSON 而不是表格。
        #[arg(long)]
        json: bool,
    },
    /// 把已公布的抽查结果记录写到文件（或标准输出）。
    Record {
        /// 抽查计划编号。
        plan_id: String,
        /// 输出文件；不给则打印。
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// 闭环跟进。
#[derive(Debug, Subcommand)]
enum FollowupCommand {
    /// 为整改期限已过、责令改正通知书已签署完整的问题安排复查任务（每个任务每个部门一次）。
    Plan {
        /// 以这一天为“今天”（YYYY-MM-DD，北京时间）；不给则用今天。
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// 输出 JSON 而不是文字。
        #[arg(long)]
        json: bool,
    },
}

/// 指挥端账号的管理。
#[derive(Debug, Subcommand)]
enum UserCommand {
    /// 添加账号（密码从标准输入读取一行，至少 10 个字符）。
    Add {
        /// 账号名（字母、数字、点、下划线、连字符）。
        name: String,
        /// 角色：administrator（市级管理员）、supervisor（部门负责人）、auditor（审计，只读）。
        #[arg(long)]
        role: String,
        /// 部门负责人的部门编号（如 xfjy）。
        #[arg(long)]
        department: Option<String>,
    },
    /// 修改密码（从标准输入读取新密码）；该账号已登录的会话全部失效。
    Passwd {
        /// 账号名。
        name: String,
    },
    /// 停用账号；其会话立即失效。
    Disable {
        /// 账号名。
        name: String,
    },
    /// 重新启用账号。
    Enable {
        /// 账号名。
        name: String,
    },
    /// 列出全部账号。
    List {
        /// 输出 JSON 而不是表格。
        #[arg(long)]
        json: bool,
    },
}

/// 已登记设备的管理。
#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// 全部已登记设备：执法人员、设备编号、证书序列号、最近请求、是否吊销。
    List {
        /// 输出 JSON 而不是表格。
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
    #[error("数据库中还没有租户：先运行 onevisit-server --database … --data 目录 init --tenant <行政区划代码>")]
    DatabaseNotInitialised,
    #[error("名录中至少要有两个各有执法人员和检查事项的部门，才能分布示例任务")]
    SmallDirectory,
    #[error("请给出一个 JSON 文件，或用 --sample")]
    Usage,
    #[error(transparent)]
    Migrate(#[from] storage::migrate::MigrateError),
    #[error("migrate 从 --data 中的内置 SQLite 数据迁出：不要同时给 --database（目标用 --to）")]
    MigrateFromDatabase,
    #[error(transparent)]
    Serve(#[from] embedded::EmbeddedError),
    #[error(transparent)]
    Blobs(#[from] onevisit_server::blobs::BlobError),
    #[error(transparent)]
    Plan(#[from] tasks::PlanError),
    #[error(transparent)]
    Draw(#[from] onevisit_server::draws::DrawServiceError),
    #[error(transparent)]
    Followup(#[from] onevisit_server::followups::FollowupError),
    #[error(transparent)]
    Account(#[from] onevisit_server::console::accounts::AccountError),
    #[error("未知角色 {0}：可用 administrator、supervisor、auditor")]
    UnknownRole(String),
    #[error("请从标准输入给出密码（一行）")]
    NoPassword,
    #[error("统计期起始日 {0} 晚于截止日 {1}")]
    ReportPeriod(chrono::NaiveDate, chrono::NaiveDate),
    #[error("名录中没有部门 {0}（部门编号如 scjg、xfjy，见 onevisit-server import 导入的名录）")]
    UnknownDepartment(String),
    #[error("统一社会信用代码 {0} 无效：{1}")]
    Uscc(String, onevisit_core::domain::UsccError),
    #[error("根公钥须为 64 位十六进制：{0}")]
    RootKey(String),
    #[error("预览用 draw 计划.json --dry-run；正式抽取先 draw commit 计划.json，再 draw publish 计划编号")]
    DrawUsage,
    #[error("抽查计划 {0} 尚未抽取，还没有抽查结果记录")]
    DrawNotPublished(String),
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
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the configured storage, then runs the command on it.
async fn run(cli: Cli) -> Result<(), ServerError> {
    if let Command::Migrate { to, json } = &cli.command {
        return migrate(&cli, to, *json).await;
    }
    if let Command::Draw(DrawArgs {
        command: Some(DrawCommand::Verify { record, root_key: Some(key), json }), ..
    }) = &cli.command
    {
        // An independent check: no server data, only the record and the published root key.
        let root =
            onevisit_core::identity::verifying_key_from_hex(key).ok_or_else(|| ServerError::RootKey(key.clone()))?;
        return verify_draw(record, &root, *json);
    }
    let init = matches!(cli.command, Command::Init { .. });
    match cli.database.clone() {
        Some(url) => {
            let storage = PostgresStorage::connect(&url).await?;
            if !init && !storage.initialised().await? {
                return Err(ServerError::DatabaseNotInitialised);
            }
            if init {
                // The data directory keeps what is not in the database: the CA key file, TLS files.
                std::fs::create_dir_all(&cli.data)
                    .map_err(|source| ServerError::Io { path: cli.data.clone(), source })?;
            }
            run_on(storage, cli).await
        }
        None => {
            // Only `init` creates a data directory: any other command on a missing one says so
            // instead of leaving an empty folder behind and failing later for another reason.
            if !init && !SqliteStorage::exists(&cli.data) {
                return Err(ServerError::NotInitialised(cli.data));
            }
            run_on(SqliteStorage::open(&cli.data)?, cli).await
        }
    }
}

async fn run_on<S: Storage>(storage: S, cli: Cli) -> Result<(), ServerError> {
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
        Command::Enrolment { inspector, valid_hours, count } => {
            let directory =
                storage.directory().await?.map(|j| Directory::from_json(j.as_bytes())).transpose()?.unwrap_or_default();
            let known = InspectorId::new(inspector.as_str()).ok().is_some_and(|id| directory.inspector(&id).is_some());
            if !known {
                return Err(ServerError::UnknownInspector(inspector));
            }
            for _ in 0..count {
                let code = onevisit_server::enrolment_code();
                storage
                    .create_enrolment(http::code_hash(&code), inspector.clone(), now + valid_hours * 3_600_000)
                    .await?;
                println!("{code}");
            }
        }
        Command::Task(TaskCommand::Create { file, sample, spread, json }) => {
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
                    if spread {
                        (0..n)
                            .map(|i| onevisit_core::sample::city_task_draft(&directory, i, today))
                            .collect::<Option<Vec<_>>>()
                            .ok_or(ServerError::SmallDirectory)?
                    } else {
                        (0..n).map(|i| onevisit_core::sample::joint_task_draft(&directory, i, today)).collect()
                    }
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
        Command::Draw(args) => draw_command(&storage, &cli.data, args, now).await?,
        Command::Enterprise { uscc, json } => {
            let directory = imported_directory(&storage).await?;
            let tenant = Tenant::open(&storage, &cli.data).await?;
            let code = onevisit_core::domain::Uscc::parse(&uscc).map_err(|e| ServerError::Uscc(uscc.clone(), e))?;
            let file = onevisit_server::enterprise_file::file(&storage, &tenant, &directory, &code, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&file).unwrap_or_default());
            } else {
                print_enterprise_file(&file);
            }
        }
        Command::Followup(FollowupCommand::Plan { today, json }) => {
            let directory = imported_directory(&storage).await?;
            let tenant = Tenant::open(&storage, &cli.data).await?;
            let today = today.unwrap_or_else(onevisit_core::beijing::today);
            let plan =
                onevisit_server::followups::plan_reinspections(&storage, &tenant, &directory, today, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
            } else {
                println!("{today}：安排复查任务 {} 个，闭环问题 {} 个", plan.planned.len(), plan.settled.len());
                for r in &plan.planned {
                    println!(
                        "{}  复查任务 {} 的 {} 个问题（{}，整改期限 {}）  执法人员 {}",
                        r.code,
                        r.of_task,
                        r.findings.len(),
                        r.department,
                        r.deadline,
                        r.inspectors.join("、")
                    );
                }
                for u in &plan.unstaffed {
                    println!(
                        "无法安排：任务 {} 的 {} 复查不足两名可派执法人员（可派：{}）",
                        u.of_task,
                        u.department,
                        if u.available.is_empty() { "无".to_string() } else { u.available.join("、") }
                    );
                }
            }
        }
        Command::Report { from, to, department, today, json } => {
            let directory = imported_directory(&storage).await?;
            let today = today.unwrap_or_else(onevisit_core::beijing::today);
            let to = to.unwrap_or(today);
            let from = from.unwrap_or_else(|| chrono::Datelike::with_day(&to, 1).unwrap_or(to));
            if from > to {
                return Err(ServerError::ReportPeriod(from, to));
            }
            if let Some(d) = &department
                && !onevisit_core::domain::DepartmentId::new(d.clone())
                    .is_ok_and(|id| directory.department(&id).is_some())
            {
                return Err(ServerError::UnknownDepartment(d.clone()));
            }
            let query = onevisit_core::figures::ReportQuery { from, to, department, today };
            let report = onevisit_server::reports::city_report(&storage, &query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{}", onevisit_server::reports::render_zh(&report, &directory));
            }
        }
        Command::User(command) => user_command(&storage, command, now).await?,
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
        Command::Serve(args) => serve(storage, &cli.data, cli.blobs.as_deref(), args).await?,
        // Handled in `run` before any storage is opened.
        Command::Migrate { .. } => {}
    }
    Ok(())
}

/// Moves the embedded server in `--data` into the PostgreSQL database `to`.
async fn migrate(cli: &Cli, to: &str, json: bool) -> Result<(), ServerError> {
    if cli.database.is_some() {
        return Err(ServerError::MigrateFromDatabase);
    }
    if !SqliteStorage::exists(&cli.data) {
        return Err(ServerError::NotInitialised(cli.data.clone()));
    }
    // With --blobs the photos go first: a bucket that is wrong fails before the database is
    // touched, and blobs are named by their hash, so copying them again is harmless.
    let blobs = match cli.blobs.as_deref() {
        Some(url) => {
            let config = S3Config::parse(url)?.with_environment();
            if PostgresStorage::connect(to).await?.initialised().await? {
                return Err(storage::migrate::MigrateError::TargetNotEmpty.into());
            }
            let bucket = S3Blobs::connect(&config, Default::default()).await?;
            Some((config.describe(), bucket.copy_from_folder(&cli.data.join("blobs")).await?))
        }
        None => None,
    };
    let report = storage::migrate::sqlite_to_postgres(&cli.data, to).await?;
    if json {
        #[derive(serde::Serialize)]
        struct Moved<'a> {
            #[serde(flatten)]
            database: &'a storage::migrate::MigrationReport,
            blobs: Option<onevisit_server::blobs::FolderCopy>,
        }
        let moved = Moved { database: &report, blobs: blobs.as_ref().map(|(_, copy)| *copy) };
        println!("{}", serde_json::to_string_pretty(&moved).unwrap_or_default());
    } else {
        if let Some((place, copy)) = &blobs {
            println!(
                "已复制并核对：{} 个照片等文件（{:.1} MiB）到 {place}，逐个读回核对哈希值",
                copy.blobs,
                copy.bytes as f64 / 1048576.0
            );
        }
        let rows = |t: &str| report.rows.get(t).copied().unwrap_or(0);
        println!(
            "已迁移并核对：{} 条记录（逐条比对内容、版本和 heads），{} 台设备，{} 个登记码，{} 条吊销，{} 条审计日志（审计树根 {} 一致）",
            report.records_checked,
            rows("devices"),
            rows("enrolments"),
            rows("revocations"),
            report.audit_size,
            &report.audit_root[..16.min(report.audit_root.len())]
        );
        if blobs.is_some() {
            println!(
                "此后请用 --database 和 --blobs（或 ONEVISIT_DATABASE、ONEVISIT_BLOBS）启动服务器；根密钥文件仍在数据目录中，设备无需重新登记"
            );
        } else {
            println!(
                "此后请用 --database（或 ONEVISIT_DATABASE）启动服务器；数据目录中的根密钥文件和照片继续使用，设备无需重新登记"
            );
        }
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM; SIGHUP reloads the TLS certificate.
async fn serve<S: Storage>(
    storage: S,
    data: &std::path::Path,
    blobs: Option<&str>,
    args: ServeArgs,
) -> Result<(), ServerError> {
    let uploads = onevisit_server::blobs::UploadLimits {
        quota_bytes: args.upload_quota_mib.saturating_mul(1024 * 1024),
        expiry: std::time::Duration::from_secs(args.upload_expiry_hours.max(1) * 3600),
    };
    // The bucket is checked before the port is opened: a wrong one fails here, with what to fix.
    let bucket = match blobs {
        Some(url) => Some(S3Blobs::connect(&S3Config::parse(url)?.with_environment(), uploads).await?),
        None => None,
    };
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
        uploads,
        record_cache_bytes: Some(args.record_cache_mib.max(1).saturating_mul(1024 * 1024)),
    };
    match bucket {
        Some(bucket) => embedded::serve(storage, bucket, data, listener, options, shutdown()).await?,
        None => {
            let files = FileBlobs::with_limits(&data.join("blobs"), uploads)?;
            embedded::serve(storage, files, data, listener, options, shutdown()).await?
        }
    }
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
/// Runs a `user` subcommand (console accounts).
async fn user_command<S: Storage>(storage: &S, command: UserCommand, now: i64) -> Result<(), ServerError> {
    use onevisit_server::console::accounts::{self, Role};
    let password = || {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|_| ServerError::NoPassword)?;
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() { Err(ServerError::NoPassword) } else { Ok(line) }
    };
    match command {
        UserCommand::Add { name, role, department } => {
            let role = match role.as_str() {
                "administrator" => Role::Administrator,
                "auditor" => Role::Auditor,
                "supervisor" => {
                    let department = department.ok_or(accounts::AccountError::NoDepartment)?;
                    let directory = imported_directory(storage).await?;
                    if !onevisit_core::domain::DepartmentId::new(department.clone())
                        .is_ok_and(|id| directory.department(&id).is_some())
                    {
                        return Err(ServerError::UnknownDepartment(department));
                    }
                    Role::Supervisor { department }
                }
                other => return Err(ServerError::UnknownRole(other.to_string())),
            };
            let label = role.label_zh();
            accounts::add(storage, &name, role, &password()?, now).await?;
            println!("已添加指挥端账号 {name}（{label}）");
        }
        UserCommand::Passwd { name } => {
            accounts::change_password(storage, &name, &password()?).await?;
            println!("已修改 {name} 的密码，其已登录的会话全部失效");
        }
        UserCommand::Disable { name } => {
            storage.set_disabled(name.clone(), true).await?;
            println!("已停用 {name}，其会话立即失效");
        }
        UserCommand::Enable { name } => {
            storage.set_disabled(name.clone(), false).await?;
            println!("已重新启用 {name}");
        }
        UserCommand::List { json } => {
            let users = storage.users().await?;
            if json {
                let list: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| serde_json::json!({"name": u.name, "role": u.role, "department": u.department, "disabled": u.disabled}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
            } else {
                println!("{} 个指挥端账号", users.len());
                for u in &users {
                    let role = Role::of(u).map_or(u.role.clone(), |r| r.label_zh());
                    println!("{}  {role}{}", u.name, if u.disabled { "  已停用" } else { "" });
                }
            }
        }
    }
    Ok(())
}

async fn imported_directory<S: Storage>(storage: &S) -> Result<Directory, ServerError> {
    let json = storage.directory().await?.ok_or(tasks::PlanError::NoDirectory)?;
    Ok(Directory::from_json(json.as_bytes())?)
}

/// Changes a task's assignment from the command line.
async fn reassign<S: Storage>(
    storage: &S,
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

/// Reads a file named on the command line.
fn read_text(path: &std::path::Path) -> Result<String, ServerError> {
    std::fs::read_to_string(path).map_err(|source| ServerError::Io { path: path.to_path_buf(), source })
}

/// Writes a file named on the command line.
fn write_text(path: &std::path::Path, text: &str) -> Result<(), ServerError> {
    std::fs::write(path, text).map_err(|source| ServerError::Io { path: path.to_path_buf(), source })
}

/// Runs a `draw` command.
async fn draw_command<S: Storage>(
    storage: &S,
    data: &std::path::Path,
    args: DrawArgs,
    now: i64,
) -> Result<(), ServerError> {
    use onevisit_server::draws;
    match args.command {
        None => {
            let (Some(plan), true) = (args.plan, args.dry_run) else { return Err(ServerError::DrawUsage) };
            let directory = imported_directory(storage).await?;
            let preview = draws::preview(storage, &directory, &read_text(&plan)?).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&preview).unwrap_or_default());
            } else {
                println!("预览（临时随机种子，不是正式结果；正式抽取用 draw commit 和 draw publish）");
                print_draw(&directory, &preview.parameters, &preview.result, preview.directory_enterprises);
            }
        }
        Some(DrawCommand::Commit { plan, json }) => {
            let directory = imported_directory(storage).await?;
            let tenant = Tenant::open(storage, data).await?;
            let c = draws::commit(storage, &tenant, &directory, &read_text(&plan)?, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
            } else {
                println!("抽查计划 {} 已登记，随机种子已固定。", c.plan_id);
                println!("请在抽取前公示随机种子的哈希（SHA-256）：{}", c.seed_commitment);
                println!("公示后运行 onevisit-server draw publish {} 抽取。", c.plan_id);
            }
        }
        Some(DrawCommand::Publish { plan_id, out, json }) => {
            let directory = imported_directory(storage).await?;
            let tenant = Tenant::open(storage, data).await?;
            let published = draws::publish(storage, &tenant, &directory, &plan_id, now).await?;
            let text = serde_json::to_string_pretty(&published.record).unwrap_or_default();
            if let Some(path) = &out {
                write_text(path, &text)?;
            }
            if json {
                let codes: Vec<String> = published.content.task_codes.iter().map(ToString::to_string).collect();
                let summary = serde_json::json!({
                    "plan_id": plan_id,
                    "seed": published.content.seed,
                    "seed_commitment": published.content.seed_commitment,
                    "pool_sha256": published.content.pool_sha256,
                    "task_codes": codes,
                    "created": published.created,
                    "separate_visits": published.content.result.separate_visits,
                    "joint_visits": published.content.result.joint_visits,
                    "visits_saved": published.content.result.visits_saved(),
                });
                println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
            } else {
                let c = &published.content;
                println!("抽查计划 {plan_id} 已抽取并公布：随机种子 {}（公示的哈希 {}）", c.seed, c.seed_commitment);
                println!("抽查对象库快照哈希 {}", c.pool_sha256);
                print_draw(&directory, &c.parameters, &c.result, published.record.pool.enterprises.len());
                println!("已生成 {} 个任务", published.created);
                for (code, t) in c.task_codes.iter().zip(&c.result.tasks) {
                    println!("{code}  {}", enterprise_name(&directory, &t.enterprise));
                }
                if let Some(path) = &out {
                    println!("抽查结果记录已写入 {}", path.display());
                }
            }
        }
        Some(DrawCommand::Verify { record, root_key: _, json }) => {
            let tenant = Tenant::open(storage, data).await?;
            verify_draw(&record, &tenant.root_key(), json)?;
        }
        Some(DrawCommand::List { json }) => {
            let list = storage.draws().await?;
            let rows: Vec<serde_json::Value> = list
                .iter()
                .map(|d| {
                    let codes = draws::task_codes(d).map(|c| c.len()).unwrap_or(0);
                    serde_json::json!({
                        "plan_id": d.plan_id,
                        "seed_commitment": d.commitment,
                        "committed_at_ms": d.committed_at_ms,
                        "published": d.record.is_some(),
                        "tasks": codes,
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
            } else {
                println!("{} 个抽查计划", list.len());
                for (d, row) in list.iter().zip(&rows) {
                    let state = if d.record.is_some() {
                        format!("已抽取，{} 个任务", row["tasks"])
                    } else {
                        "已公示哈希，未抽取".into()
                    };
                    println!(
                        "{}  公示于 {}（北京时间）  哈希 {}  {state}",
                        d.plan_id,
                        onevisit_core::beijing::date_time(d.committed_at_ms),
                        d.commitment
                    );
                }
            }
        }
        Some(DrawCommand::Record { plan_id, out }) => {
            let stored = storage
                .draw(plan_id.clone())
                .await?
                .ok_or_else(|| storage::StorageError::UnknownDraw(plan_id.clone()))?;
            let json = stored.record.ok_or(ServerError::DrawNotPublished(plan_id))?;
            let value: serde_json::Value =
                serde_json::from_str(&json).map_err(onevisit_server::draws::DrawServiceError::Stored)?;
            let text = serde_json::to_string_pretty(&value).unwrap_or_default();
            match out {
                Some(path) => write_text(&path, &text)?,
                None => println!("{text}"),
            }
        }
    }
    Ok(())
}

/// Verifies a draw record file and says what was checked.
fn verify_draw(path: &std::path::Path, root: &ed25519_dalek::VerifyingKey, json: bool) -> Result<(), ServerError> {
    let (record, pool) = onevisit_server::draws::verify(&read_text(path)?, root)?;
    if json {
        let summary = serde_json::json!({
            "valid": true,
            "plan_id": record.parameters.plan_id,
            "tenant": record.tenant,
            "algorithm": record.algorithm,
            "tasks": record.result.tasks.len(),
            "pool_sha256": record.pool_sha256,
        });
        println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    } else {
        println!("抽查结果记录核验通过：计划 {}（租户 {}）", record.parameters.plan_id, record.tenant);
        println!("  ✓ 根密钥签名有效");
        println!("  ✓ 公布的随机种子与事先公示的哈希 {} 一致，公示早于对象库固定", record.seed_commitment);
        println!("  ✓ 抽查对象库快照与哈希 {} 一致（{} 家企业）", record.pool_sha256, pool.enterprises.len());
        println!(
            "  ✓ 按算法 {} 重新计算，抽取结果完全一致（{} 家企业，{} 个任务）",
            record.algorithm,
            record.result.tasks.len(),
            record.task_codes.len()
        );
    }
    Ok(())
}

fn enterprise_name(directory: &Directory, uscc: &onevisit_core::domain::Uscc) -> String {
    directory.enterprise(uscc).map(|e| format!("{}（{uscc}）", e.name)).unwrap_or_else(|| uscc.to_string())
}

/// Prints a draw's figures and tasks in Chinese.
fn print_draw(
    directory: &Directory,
    parameters: &onevisit_core::draw::DrawParameters,
    result: &onevisit_core::draw::DrawResult,
    enterprises: usize,
) {
    use onevisit_core::domain::CreditGrade;
    println!(
        "计划 {}：{}，检查时间 {} 至 {}",
        parameters.plan_id, parameters.title, parameters.window.start, parameters.window.end
    );
    println!("名录企业 {enterprises} 家；每部门每家企业抽取 {} 名执法人员", parameters.inspectors_per_department);
    for t in &result.departments {
        let name = directory.department(&t.department).map(|d| d.short_name.clone()).unwrap_or_default();
        let grades: Vec<String> = CreditGrade::ALL
            .iter()
            .map(|g| format!("{} 级 {}/{}", g.letter(), t.drawn.of(*g), t.eligible.of(*g)))
            .collect();
        println!("  {name}（{}）：抽中/符合条件 {}；合计 {} 家", t.department, grades.join("，"), t.drawn.total());
    }
    let joint = result.tasks.iter().filter(|t| t.departments.len() > 1).count();
    println!(
        "合并为 {} 个任务（其中 {joint} 个多部门联合检查）：各部门分别上门需 {} 次，综合查一次后 {} 次，少上门 {} 次",
        result.tasks.len(),
        result.separate_visits,
        result.joint_visits,
        result.visits_saved()
    );
}

/// An admin command whose reader went away (`onevisit-server task list | head`) ends quietly, as
/// Unix commands do, instead of panicking on the failed print: SIGPIPE goes back to its default
/// (Rust ignores it). Not for `serve`, whose sockets must see EPIPE as an error instead.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called at start-up before any other thread writes to a pipe; restoring the default
    // disposition of SIGPIPE has no other effect on this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Prints an enterprise's file in Chinese.
fn print_enterprise_file(file: &onevisit_server::enterprise_file::EnterpriseFile) {
    println!(
        "一企一档：{}（{}）信用等级 {}，共 {} 个任务",
        file.name,
        file.uscc,
        file.credit_grade.as_deref().unwrap_or("未知"),
        file.tasks.len()
    );
    for t in &file.tasks {
        let of = t.of_task.as_ref().map(|o| format!("（复查 {o}）")).unwrap_or_default();
        println!(
            "{} 至 {}  {}  {}{of}  {}  部门 {}  执法人员 {}",
            t.window.0,
            t.window.1,
            t.code,
            t.source_zh,
            t.status_zh,
            t.departments.join("、"),
            t.inspectors.join("、")
        );
        for f in &t.findings {
            let deadline = f.deadline.map(|d| format!("，限 {d} 前整改")).unwrap_or_default();
            let loop_state = match (&f.reinspection, &f.result) {
                (_, Some(result)) if f.settled => format!("，复查结果：{result}（已闭环）"),
                (_, Some(result)) => format!("，复查结果：{result}"),
                (Some(r), None) => format!("，已安排复查 {r}"),
                (None, None) => String::new(),
            };
            println!("    问题（{}）：{}{deadline}{loop_state}", f.department, f.problem);
        }
        for o in &t.orders {
            println!(
                "    责令改正通知书 {}（{}）：{}",
                o.number,
                o.department,
                if o.signed { "已签署" } else { "未签署完整" }
            );
        }
    }
}
