//! The command line: global options and the subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// OneVisit (综合查一次): record joint field inspections offline on this device.
#[derive(Debug, Parser)]
#[command(name = "onevisit", version, about)]
pub(crate) struct Cli {
    /// The store directory (default: the user's data directory).
    #[arg(long, global = true, env = "ONEVISIT_STORE")]
    pub store: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The 32-byte key file that seals the device key (default: device.key in the store, created by init).
    #[arg(long, global = true)]
    pub key_file: Option<PathBuf>,
    /// Seal the device key with the passphrase held in this environment variable instead of a key file.
    #[arg(long, global = true)]
    pub passphrase_env: Option<String>,
    /// Diagnostics on standard error: -v steps (sync, retries, migrations, bundles), -vv detail,
    /// -vvv everything. `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a store and this device's key.
    Init {
        /// The inspector operating this device.
        #[arg(long)]
        inspector: Option<String>,
    },
    /// Import directory data (departments, inspectors, enterprises, matters) from a JSON file.
    Import {
        /// The JSON file; `--sample` imports the shipped Pinghu sample instead.
        file: Option<PathBuf>,
        /// Import the shipped sample directory.
        #[arg(long, conflicts_with = "file")]
        sample: bool,
    },
    /// Plan, list and show tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Record an inspection step by step.
    #[command(subcommand)]
    Record(RecordCommand),
    /// List and resolve conflicting concurrent entries.
    #[command(subcommand)]
    Conflicts(ConflictsCommand),
    /// Check the device's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Evidence photos: add, list, show.
    #[command(subcommand)]
    Photo(PhotoCommand),
    /// Legal documents: render, sign, verify, show, list versions.
    #[command(subcommand)]
    Document(DocumentCommand),
    /// The task code shown on site (亮码检查): issue and verify.
    #[command(subcommand, name = "taskcode")]
    TaskCode(TaskCodeCommand),
    /// Enrol this device with the city sync server using a one-time code.
    Enroll {
        /// The server's https address (plain http only to this machine).
        #[arg(long)]
        server: String,
        /// The one-time enrolment code from the administrator.
        #[arg(long)]
        code: String,
        /// The tenant's root public key (hex), given out of band.
        #[arg(long)]
        root: String,
        /// Development only: allow plain http to another machine.
        #[arg(long)]
        insecure_http: bool,
    },
    /// Sync records, audit log and photos with the city server.
    Sync {
        /// Also download the evidence photos of every task that are not on this device.
        #[arg(long)]
        fetch_photos: bool,
        /// Development only: allow plain http to another machine.
        #[arg(long)]
        insecure_http: bool,
    },
    /// Export tasks as a sealed evidence bundle (BagIt 1.0), a folder or a .zip.
    Export {
        /// Task codes.
        #[arg(required = true)]
        codes: Vec<String>,
        /// Where to write the bundle (a new folder, or a new file ending in .zip).
        #[arg(long)]
        out: PathBuf,
        /// The agency named in the bundle (default: the inspector's department).
        #[arg(long)]
        agency: Option<String>,
        /// Do not ask the server for audit inclusion proofs (export fully offline).
        #[arg(long)]
        offline: bool,
    },
    /// Verify an evidence bundle offline (a folder or a .zip) against the tenant's root key.
    Verify {
        /// The bundle.
        bundle: PathBuf,
        /// The tenant's root public key (hex), given out of band.
        #[arg(long)]
        root: String,
    },
    /// Two inspectors of two departments record one joint inspection offline and merge.
    Demo {
        /// Where to keep the two demo stores (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Task commands.
#[derive(Debug, Subcommand)]
pub(crate) enum TasksCommand {
    /// Plan a joint inspection.
    Create(CreateTask),
    /// List tasks from the index.
    List {
        /// Only this status (planned, on_site, recorded, closed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only tasks due on this day (YYYY-MM-DD).
        #[arg(long)]
        date: Option<String>,
        /// Only this enterprise (USCC).
        #[arg(long)]
        enterprise: Option<String>,
        /// Only tasks this department takes part in.
        #[arg(long)]
        department: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show a task and its record.
    Show {
        /// The task code.
        code: String,
    },
}

/// Where a task comes from.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SourceArg {
    /// 双随机 random draw.
    Random,
    /// A complaint or lead (needs --reference).
    Complaint,
    /// An enforcement plan (needs --reference).
    Plan,
    /// A re-inspection (needs --reference: the earlier task code).
    Reinspection,
}

/// Arguments of `tasks create`.
#[derive(Debug, Args)]
pub(crate) struct CreateTask {
    /// Target enterprise (USCC).
    #[arg(long)]
    pub enterprise: String,
    /// Lead department.
    #[arg(long)]
    pub lead: String,
    /// Participating department (repeat; the lead is added if missing).
    #[arg(long = "department")]
    pub departments: Vec<String>,
    /// Assigned inspector (repeat; at least two).
    #[arg(long = "inspector")]
    pub inspectors: Vec<String>,
    /// The lead inspector (default: this device's inspector).
    #[arg(long)]
    pub lead_inspector: Option<String>,
    /// Selected inspection matter (repeat).
    #[arg(long = "matter")]
    pub matters: Vec<String>,
    /// First day (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Last day (YYYY-MM-DD).
    #[arg(long)]
    pub to: String,
    /// Why the task exists.
    #[arg(long, value_enum, default_value = "random")]
    pub source: SourceArg,
    /// The complaint, plan or earlier task reference.
    #[arg(long)]
    pub reference: Option<String>,
}

/// Recording steps.
#[derive(Debug, Subcommand)]
pub(crate) enum RecordCommand {
    /// Check in on site with a WGS-84 fix.
    CheckIn {
        /// Task code.
        code: String,
        /// Latitude, degrees (WGS-84).
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude, degrees (WGS-84).
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Accuracy radius, metres.
        #[arg(long, default_value_t = 10)]
        accuracy: u32,
    },
    /// Record that the inspectors showed their certificates.
    Identity {
        /// Task code.
        code: String,
    },
    /// Record the party's representative and their answer on recusal.
    Party {
        /// Task code.
        code: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Role, e.g. 法定代表人 or 现场负责人.
        #[arg(long)]
        role: String,
        /// Phone.
        #[arg(long)]
        phone: Option<String>,
        /// The party asks for recusal, for this reason.
        #[arg(long)]
        recusal: Option<String>,
    },
    /// Answer a check point: pass, fail, na, a number, "photos" (with --evidence) or text.
    Answer {
        /// Task code.
        code: String,
        /// Check point id.
        check_point: String,
        /// The answer (a negative number needs no `--`).
        #[arg(allow_negative_numbers = true)]
        value: String,
        /// A note.
        #[arg(long)]
        note: Option<String>,
        /// SHA-256 of an evidence file (repeat).
        #[arg(long = "evidence")]
        evidence: Vec<String>,
    },
    /// Record a finding.
    Finding {
        /// Task code.
        code: String,
        /// The department it falls under.
        #[arg(long)]
        department: String,
        /// What is wrong.
        #[arg(long)]
        problem: String,
        /// The provision violated.
        #[arg(long)]
        basis: String,
        /// The check point it arose from.
        #[arg(long)]
        check_point: Option<String>,
        /// Rectification deadline (YYYY-MM-DD); giving one means rectification is required.
        #[arg(long)]
        deadline: Option<String>,
    },
    /// Change the status (on_site, recorded, closed, cancelled).
    Status {
        /// Task code.
        code: String,
        /// The new status.
        status: String,
    },
    /// Write the whole record to a file for another device.
    Export {
        /// Task code.
        code: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Merge a record exported by another device.
    Merge {
        /// The exported file.
        file: PathBuf,
    },
}

/// Conflict commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ConflictsCommand {
    /// List open conflicts of a task.
    List {
        /// Task code.
        code: String,
    },
    /// Resolve a conflict by choosing one of its values (lead inspector).
    Resolve {
        /// Task code.
        code: String,
        /// The field, as listed (e.g. answer:SCJG-001-02).
        field: String,
        /// The number of the chosen value, as listed (from 1).
        #[arg(long)]
        choose: usize,
    },
}

/// Audit commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the hash chain and every signature; exits 3 if anything is wrong.
    Verify,
    /// After the server refused this device's audit log (e.g. the store was restored from an old
    /// backup): start a new chain segment from the server's head, carrying over the entries it
    /// never accepted. The reason is signed into the chain; the next sync uploads it.
    NewSegment {
        /// Why (e.g. "从 11 月 28 日的备份恢复").
        #[arg(long)]
        reason: String,
    },
}

/// Photo commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PhotoCommand {
    /// Take a photo file in as evidence of a check point, a finding or the inspection.
    Add {
        /// Task code.
        code: String,
        /// The photo file (JPEG or PNG).
        file: PathBuf,
        /// The check point it documents.
        #[arg(long, conflicts_with = "finding")]
        check_point: Option<String>,
        /// The finding it documents.
        #[arg(long)]
        finding: Option<String>,
        /// The device's own fix: latitude (WGS-84); otherwise EXIF GPS is used.
        #[arg(long, allow_hyphen_values = true, requires = "lon")]
        lat: Option<f64>,
        /// The device's own fix: longitude (WGS-84).
        #[arg(long, allow_hyphen_values = true, requires = "lat")]
        lon: Option<f64>,
        /// Accuracy of the fix, metres.
        #[arg(long, default_value_t = 10)]
        accuracy: u32,
    },
    /// List a task's photos.
    List {
        /// Task code.
        code: String,
    },
    /// Show a photo's capture record, verified against the stored original.
    Show {
        /// Task code.
        code: String,
        /// The photo's SHA-256 (or a unique prefix).
        sha256: String,
        /// Write the original here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the thumbnail here.
        #[arg(long)]
        thumbnail: Option<PathBuf>,
    },
}

/// Which document.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    /// 现场检查笔录.
    OnSite,
    /// 责令改正通知书 (needs --department).
    Order,
}

/// Document commands.
#[derive(Debug, Subcommand)]
pub(crate) enum DocumentCommand {
    /// Render the latest version of a document from the recorded inspection.
    Render {
        /// Task code.
        code: String,
        /// Which document.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// The issuing department (orders).
        #[arg(long)]
        department: Option<String>,
    },
    /// Sign a document version as this device's inspector.
    Sign {
        /// Task code.
        code: String,
        /// The version's SHA-256 (or a unique prefix).
        document: String,
    },
    /// Record the party's handwritten signature (an image file) on a document version.
    PartySign {
        /// Task code.
        code: String,
        /// The version's SHA-256 (or a unique prefix).
        document: String,
        /// The signer's name.
        #[arg(long)]
        name: String,
        /// The signer's role.
        #[arg(long)]
        role: String,
        /// The handwritten signature image (PNG or JPEG).
        #[arg(long)]
        image: PathBuf,
    },
    /// Record that the party refused to sign, before a witness.
    PartyRefuse {
        /// Task code.
        code: String,
        /// The version's SHA-256 (or a unique prefix).
        document: String,
        /// The reason the party gave.
        #[arg(long)]
        reason: String,
        /// The witness's name.
        #[arg(long)]
        witness: String,
        /// The witness's ID number or role.
        #[arg(long)]
        witness_detail: Option<String>,
    },
    /// Verify a document version and its signatures; exits 3 if anything is wrong.
    Verify {
        /// Task code.
        code: String,
        /// The version's SHA-256 (or a unique prefix).
        document: String,
    },
    /// Print a document version (zh-CN), or its canonical JSON with --json.
    Show {
        /// Task code.
        code: String,
        /// The version's SHA-256 (or a unique prefix).
        document: String,
    },
    /// List every document version of a task.
    Versions {
        /// Task code.
        code: String,
    },
}

/// Task code commands.
#[derive(Debug, Subcommand)]
pub(crate) enum TaskCodeCommand {
    /// Issue the task code for a task (valid through its window), optionally as a QR PNG.
    Issue {
        /// Task code.
        code: String,
        /// Write the QR code here (PNG).
        #[arg(long)]
        qr: Option<PathBuf>,
    },
    /// Verify a task code offline. With --root (what the inspected party does) no device store
    /// is needed: the code carries its issuing device's certificate.
    Verify {
        /// The token (OV2.… or OV1.…).
        token: String,
        /// The tenant's published root public key (hex).
        #[arg(long, conflicts_with = "issuer_key")]
        root: Option<String>,
        /// For an old OV1 code: the issuing device's public key (hex); default: this device's.
        #[arg(long)]
        issuer_key: Option<String>,
        /// Verify as of this time, Beijing time: 2026-12-02, "2026-12-02 09:30" or RFC 3339; default: now.
        #[arg(long)]
        at: Option<String>,
    },
}
