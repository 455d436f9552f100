//! The command line: global options and the subcommands. The doc comments of this file are the
//! `--help` text a person reads, so they are written in Chinese.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// OneVisit（综合查一次）：在本设备上离线记录联合现场检查。
#[derive(Debug, Parser)]
#[command(name = "onevisit", version)]
pub(crate) struct Cli {
    /// 设备存储目录（默认：本用户的数据目录）。
    #[arg(long, global = true, env = "ONEVISIT_STORE")]
    pub store: Option<PathBuf>,
    /// 输出机器可读的 JSON，而不是文字。
    #[arg(long, global = true)]
    pub json: bool,
    /// 加密设备密钥的 32 字节密钥文件（默认：存储目录中的 device.key，由 init 创建）。
    #[arg(long, global = true)]
    pub key_file: Option<PathBuf>,
    /// 改用此环境变量中的口令加密设备密钥，而不用密钥文件。
    #[arg(long, global = true)]
    pub passphrase_env: Option<String>,
    /// 在标准错误输出诊断信息：-v 步骤（同步、重试、升级、证据包），-vv 细节，-vvv 全部；RUST_LOG 优先。
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// 要做的事。
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// 创建设备存储和本设备的密钥。
    Init {
        /// 使用本设备的执法人员编号（如 scjg-01）。
        #[arg(long)]
        inspector: Option<String>,
    },
    /// 从 JSON 文件导入名录数据（部门、执法人员、企业、检查事项）。
    Import {
        /// 名录 JSON 文件；用 --sample 则导入随附的平湖示例。
        file: Option<PathBuf>,
        /// 导入随附的示例名录。
        #[arg(long, conflicts_with = "file")]
        sample: bool,
    },
    /// 计划、列出和查看任务。
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// 逐步记录一次检查。
    #[command(subcommand)]
    Record(RecordCommand),
    /// 列出并解决同时填写造成的冲突。
    #[command(subcommand)]
    Conflicts(ConflictsCommand),
    /// 验证本设备的审计日志。
    #[command(subcommand)]
    Audit(AuditCommand),
    /// 证据照片：添加、列出、查看。
    #[command(subcommand)]
    Photo(PhotoCommand),
    /// 法律文书：生成、签署、验证、查看、列出版本。
    #[command(subcommand)]
    Document(DocumentCommand),
    /// 亮码检查的检查码：签发与核验。
    #[command(subcommand, name = "taskcode")]
    TaskCode(TaskCodeCommand),
    /// 用一次性登记码把本设备登记到市同步服务器。
    Enroll {
        /// 服务器的 https 地址（仅本机可用 http）。
        #[arg(long)]
        server: String,
        /// 管理员发放的一次性登记码。
        #[arg(long)]
        code: String,
        /// 执法平台的根公钥（十六进制），另行获得（onevisit-server root-key）。
        #[arg(long)]
        root: String,
        /// 仅供开发：允许用 http 连接其他机器。
        #[arg(long)]
        insecure_http: bool,
    },
    /// 与市服务器同步记录、审计日志和照片。
    Sync {
        /// 同时下载本设备没有的各任务证据照片原图。
        #[arg(long)]
        fetch_photos: bool,
        /// 仅供开发：允许用 http 连接其他机器。
        #[arg(long)]
        insecure_http: bool,
    },
    /// 把任务导出为封签的证据包（BagIt 1.0），文件夹或 .zip。
    Export {
        /// 任务编号。
        #[arg(required = true)]
        codes: Vec<String>,
        /// 证据包写到哪里（新文件夹，或以 .zip 结尾的新文件）。
        #[arg(long)]
        out: PathBuf,
        /// 证据包中写明的机关（默认：执法人员所在部门）。
        #[arg(long)]
        agency: Option<String>,
        /// 不向服务器索取审计包含证明（完全离线导出）。
        #[arg(long)]
        offline: bool,
    },
    /// 用执法平台的根公钥离线核验证据包（文件夹或 .zip）。
    Verify {
        /// 证据包。
        bundle: PathBuf,
        /// 执法平台的根公钥（十六进制），另行获得。
        #[arg(long)]
        root: String,
    },
    /// 演示：两个部门的两名执法人员离线记录同一次联合检查并合并。
    Demo {
        /// 两个演示存储放在哪里（默认：临时目录，结束后删除）。
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// 任务命令。
#[derive(Debug, Subcommand)]
pub(crate) enum TasksCommand {
    /// 计划一次联合检查。
    Create(CreateTask),
    /// 从索引列出任务。
    List {
        /// 只列此状态：planned（待检查）、on_site（检查中）、recorded（已记录）、closed（已办结）、cancelled（已取消）。
        #[arg(long)]
        status: Option<String>,
        /// 只列此日在检查时限内的任务（年-月-日）。
        #[arg(long)]
        date: Option<String>,
        /// 只列此企业（统一社会信用代码）。
        #[arg(long)]
        enterprise: Option<String>,
        /// 只列此部门参加的任务。
        #[arg(long)]
        department: Option<String>,
        /// 最多列出这么多。
        #[arg(long)]
        limit: Option<usize>,
    },
    /// 查看任务及其检查记录。
    Show {
        /// 任务编号。
        code: String,
    },
}

/// 任务来源。
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SourceArg {
    /// 双随机抽查。
    Random,
    /// 投诉举报线索（须 --reference）。
    Complaint,
    /// 执法计划（须 --reference）。
    Plan,
    /// 复查（须 --reference：原任务编号）。
    Reinspection,
}

/// tasks create 的参数。
#[derive(Debug, Args)]
pub(crate) struct CreateTask {
    /// 检查对象企业（统一社会信用代码）。
    #[arg(long)]
    pub enterprise: String,
    /// 牵头部门。
    #[arg(long)]
    pub lead: String,
    /// 参加部门（可重复；牵头部门未写时自动加入）。
    #[arg(long = "department")]
    pub departments: Vec<String>,
    /// 分配的执法人员（可重复；至少两名）。
    #[arg(long = "inspector")]
    pub inspectors: Vec<String>,
    /// 牵头执法人员（默认：本设备的执法人员）。
    #[arg(long)]
    pub lead_inspector: Option<String>,
    /// 选定的检查事项（可重复）。
    #[arg(long = "matter")]
    pub matters: Vec<String>,
    /// 开始日期（年-月-日）。
    #[arg(long)]
    pub from: String,
    /// 结束日期（年-月-日）。
    #[arg(long)]
    pub to: String,
    /// 任务来源。
    #[arg(long, value_enum, default_value = "random")]
    pub source: SourceArg,
    /// 投诉、计划或原任务的编号。
    #[arg(long)]
    pub reference: Option<String>,
}

/// 记录步骤。
#[derive(Debug, Subcommand)]
pub(crate) enum RecordCommand {
    /// 在现场签到（WGS-84 定位）。
    CheckIn {
        /// 任务编号。
        code: String,
        /// 纬度，度（WGS-84）。
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// 经度，度（WGS-84）。
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// 定位精度半径，米。
        #[arg(long, default_value_t = 10)]
        accuracy: u32,
    },
    /// 记录执法人员已出示执法证件。
    Identity {
        /// 任务编号。
        code: String,
    },
    /// 记录当事人代表及其是否申请回避。
    Party {
        /// 任务编号。
        code: String,
        /// 姓名。
        #[arg(long)]
        name: String,
        /// 身份，如 法定代表人 或 现场负责人。
        #[arg(long)]
        role: String,
        /// 电话。
        #[arg(long)]
        phone: Option<String>,
        /// 当事人申请回避，理由如下。
        #[arg(long)]
        recusal: Option<String>,
        /// 在场人员的身份证件号码。
        #[arg(long)]
        id_number: Option<String>,
        /// 当事人的陈述、申辩（写入笔录）。
        #[arg(long)]
        statement: Option<String>,
    },
    /// 记录当事人确认的送达地址（送达地址确认书所依据的内容）。
    ServiceAddress {
        /// 任务编号。
        code: String,
        /// 送达地址。
        #[arg(long)]
        address: String,
        /// 受送达人（或在该地址代收文书的人）。
        #[arg(long)]
        recipient: String,
        /// 送达联系电话。
        #[arg(long)]
        phone: String,
        /// 同意电子送达时的接收方式（电子邮箱或手机号码）；不填即不同意电子送达。
        #[arg(long)]
        electronic: Option<String>,
    },
    /// 填写检查项结果：pass（符合）、fail（不符合）、na（不适用）、数值、photos（配 --evidence）或文字。
    Answer {
        /// 任务编号。
        code: String,
        /// 检查项编号。
        check_point: String,
        /// 结果（负数不需要 `--`）。
        #[arg(allow_negative_numbers = true)]
        value: String,
        /// 备注。
        #[arg(long)]
        note: Option<String>,
        /// 证据照片的 SHA-256 或其唯一前缀（可重复；onevisit photo list 列出）。
        #[arg(long = "evidence")]
        evidence: Vec<String>,
    },
    /// 记录发现的问题。
    Finding {
        /// 任务编号。
        code: String,
        /// 问题所属部门。
        #[arg(long)]
        department: String,
        /// 问题描述。
        #[arg(long)]
        problem: String,
        /// 违反的规定。
        #[arg(long)]
        basis: String,
        /// 问题来自哪个检查项。
        #[arg(long)]
        check_point: Option<String>,
        /// 改正期限（年-月-日）；写了期限即表示须责令改正。
        #[arg(long)]
        deadline: Option<String>,
    },
    /// 改变检查状态（on_site、recorded、closed、cancelled）。
    Status {
        /// 任务编号。
        code: String,
        /// 新状态。
        status: String,
    },
    /// 把整份记录写入文件，交给另一台设备。
    Export {
        /// 任务编号。
        code: String,
        /// 输出文件。
        #[arg(long)]
        out: PathBuf,
    },
    /// 合并另一台设备导出的记录。
    Merge {
        /// 导出的文件。
        file: PathBuf,
    },
}

/// 冲突命令。
#[derive(Debug, Subcommand)]
pub(crate) enum ConflictsCommand {
    /// 列出任务中待解决的冲突。
    List {
        /// 任务编号。
        code: String,
    },
    /// 从冲突的几个值中选定一个（牵头执法人员）。
    Resolve {
        /// 任务编号。
        code: String,
        /// 字段，按 conflicts list 列出的写法（如 answer:SCJG-001-02、party）。
        field: String,
        /// 选定值的序号，按列出的（从 1 开始）。
        #[arg(long)]
        choose: usize,
    },
}

/// 审计命令。
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// 验证哈希链和每条签名；有问题时退出码为 3。
    Verify,
    /// 服务器拒绝本设备的审计日志之后（例如存储是从旧备份恢复的）：从服务器持有的链头开始新的链段，并带上服务器从未接受的记录。原因签入链中，下次同步上传。
    NewSegment {
        /// 原因（如“从 11 月 28 日的备份恢复”）。
        #[arg(long)]
        reason: String,
    },
}

/// 照片命令。
#[derive(Debug, Subcommand)]
pub(crate) enum PhotoCommand {
    /// 把照片文件作为检查项、问题或本次检查的证据；照片类检查项同时记为已拍照。
    Add {
        /// 任务编号。
        code: String,
        /// 照片文件（JPEG 或 PNG）。
        file: PathBuf,
        /// 照片证明的检查项。
        #[arg(long, conflicts_with = "finding")]
        check_point: Option<String>,
        /// 照片证明的问题。
        #[arg(long)]
        finding: Option<String>,
        /// 本设备的定位：纬度（WGS-84）；不写则用照片 EXIF 中的 GPS。
        #[arg(long, allow_hyphen_values = true, requires = "lon")]
        lat: Option<f64>,
        /// 本设备的定位：经度（WGS-84）。
        #[arg(long, allow_hyphen_values = true, requires = "lat")]
        lon: Option<f64>,
        /// 定位精度，米。
        #[arg(long, default_value_t = 10)]
        accuracy: u32,
    },
    /// 列出任务的照片。
    List {
        /// 任务编号。
        code: String,
    },
    /// 查看照片的采集记录，并与存储的原图核对。
    Show {
        /// 任务编号。
        code: String,
        /// 照片的 SHA-256（或其唯一前缀）。
        sha256: String,
        /// 把原图写到这里。
        #[arg(long)]
        out: Option<PathBuf>,
        /// 把缩略图写到这里。
        #[arg(long)]
        thumbnail: Option<PathBuf>,
    },
}

/// 哪种文书。
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    /// 现场检查笔录。
    OnSite,
    /// 责令改正通知书（须 --department）。
    Order,
    /// 送达地址确认书（默认牵头部门，可用 --department 指定）。
    AddressConfirmation,
    /// 送达回证：送达该部门的责令改正通知书（须 --department）。
    ServiceReceipt,
}

/// 文书命令。
#[derive(Debug, Subcommand)]
pub(crate) enum DocumentCommand {
    /// 按已记录的检查生成文书的最新版本。
    Render {
        /// 任务编号。
        code: String,
        /// 哪种文书。
        #[arg(long, value_enum)]
        kind: KindArg,
        /// 发文部门（责令改正通知书）。
        #[arg(long)]
        department: Option<String>,
    },
    /// 以本设备执法人员的身份签署文书的某个版本。
    Sign {
        /// 任务编号。
        code: String,
        /// 版本的 SHA-256（或其唯一前缀，render 时打印）。
        document: String,
    },
    /// 记录当事人在文书某个版本上的手写签名（图片文件）。
    PartySign {
        /// 任务编号。
        code: String,
        /// 版本的 SHA-256（或其唯一前缀）。
        document: String,
        /// 签名人姓名。
        #[arg(long)]
        name: String,
        /// 签名人身份。
        #[arg(long)]
        role: String,
        /// 手写签名图片（PNG 或 JPEG）。
        #[arg(long)]
        image: PathBuf,
    },
    /// 记录当事人拒绝签字（须有见证人）。
    PartyRefuse {
        /// 任务编号。
        code: String,
        /// 版本的 SHA-256（或其唯一前缀）。
        document: String,
        /// 当事人所说的理由。
        #[arg(long)]
        reason: String,
        /// 见证人姓名。
        #[arg(long)]
        witness: String,
        /// 见证人的身份证号或身份。
        #[arg(long)]
        witness_detail: Option<String>,
        /// 见证人在设备上的手写签名图片（PNG 或 JPEG），作为证据保存并写入笔录。
        #[arg(long)]
        witness_signature: Option<PathBuf>,
    },
    /// 验证文书的某个版本及其签名；有问题时退出码为 3。
    Verify {
        /// 任务编号。
        code: String,
        /// 版本的 SHA-256（或其唯一前缀）。
        document: String,
    },
    /// 显示文书的某个版本（中文），或用 --json 输出其规范 JSON。
    Show {
        /// 任务编号。
        code: String,
        /// 版本的 SHA-256（或其唯一前缀）。
        document: String,
    },
    /// 把文书的某个版本打印为 PDF（A4 分页，逐页签名栏、页码和文书哈希二维码）。
    Pdf {
        /// 任务编号。
        code: String,
        /// 版本的 SHA-256（或其唯一前缀）。
        document: String,
        /// 写到这个文件（.pdf）。
        #[arg(long)]
        out: PathBuf,
    },
    /// 列出任务的全部文书版本。
    Versions {
        /// 任务编号。
        code: String,
    },
}

/// 检查码命令。
#[derive(Debug, Subcommand)]
pub(crate) enum TaskCodeCommand {
    /// 签发任务的检查码（在检查时限内有效），可另存为二维码 PNG。
    Issue {
        /// 任务编号。
        code: String,
        /// 二维码写到这里（PNG）。
        #[arg(long)]
        qr: Option<PathBuf>,
    },
    /// 离线核验检查码。用 --root（被检查单位的做法）不需要设备存储：检查码带有签发设备的证书。
    Verify {
        /// 检查码（OV2.… 或 OV1.…）。
        token: String,
        /// 执法平台公布的根公钥（十六进制）。
        #[arg(long, conflicts_with = "issuer_key")]
        root: Option<String>,
        /// 旧的 OV1 检查码：签发设备的公钥（十六进制）；默认本设备的。
        #[arg(long)]
        issuer_key: Option<String>,
        /// 按此时刻核验（北京时间）：2026-12-02、“2026-12-02 09:30” 或 RFC 3339；默认现在。
        #[arg(long)]
        at: Option<String>,
    },
}
