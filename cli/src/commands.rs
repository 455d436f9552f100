//! Each subcommand: parse arguments into domain types, call the store, print the outcome.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use onevisit_core::domain::{
    AnswerType, CheckPointId, DepartmentId, Directory, InspectorId, MatterId, TaskCode, TaskDraft, TaskSource,
    TimeWindow, Uscc,
};
use onevisit_core::identity::{KeyFileWrapper, PassphraseWrapper, SeedWrapper};
use onevisit_core::record::{AnswerValue, Field, FindingDraft, PartyDraft, Position, Recusal, Status};
use onevisit_core::sample;
use onevisit_core::store::{Store, TaskFilter};
use serde_json::json;

use crate::args::{
    AuditCommand, Cli, Command, ConflictsCommand, CreateTask, RecordCommand, SourceArg, TaskCodeCommand, TasksCommand,
};
use crate::error::CliError;
use crate::render;

/// Runs one invocation.
pub(crate) fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Demo { dir } = &cli.command {
        return crate::demo::run(dir.as_deref(), cli.json);
    }
    if let Command::Verify { bundle, root } = &cli.command {
        // A receiver needs no store: only the bundle and the root key.
        return crate::bundle_commands::verify(bundle, root, cli.json);
    }
    if let Command::TaskCode(TaskCodeCommand::Verify { token, root: Some(root), at, .. }) = &cli.command {
        // Neither does the inspected party checking a task code: only the root key.
        return crate::evidence_commands::check_task_code(token, root, at.as_deref(), cli.json);
    }
    let root = store_dir(&cli)?;
    match &cli.command {
        Command::Init { inspector } => {
            let inspector = inspector.as_deref().map(InspectorId::new).transpose()?;
            let store = Store::init(&root, wrapper(&cli, &root, true)?.as_ref(), inspector)?;
            let device = store.device_key().device_id();
            if cli.json {
                render::json(
                    &json!({"store": root, "device": device, "public_key": hex::encode(store.device_key().public_bytes())}),
                );
            } else {
                outln!("已初始化设备存储 {}\n设备标识 {device}", root.display());
            }
            Ok(())
        }
        Command::Demo { .. } => Ok(()),
        Command::Export { codes, out, agency, offline } => {
            let store = open_store(&cli, &root)?;
            crate::bundle_commands::export(store, codes, out, agency.as_deref(), *offline, cli.json)
        }
        Command::Sync { fetch_photos, insecure_http } => {
            let store = open_store(&cli, &root)?;
            crate::sync_commands::sync(store, *fetch_photos, *insecure_http, cli.json)
        }
        command => {
            let mut store = open_store(&cli, &root)?;
            dispatch(&mut store, command, cli.json)
        }
    }
}

fn dispatch(store: &mut Store, command: &Command, as_json: bool) -> Result<(), CliError> {
    match command {
        Command::Import { file, sample } => {
            let directory = match (file, sample) {
                (Some(path), false) => Directory::from_json(&read(path)?)?,
                (None, true) => sample::directory()?,
                _ => return Err(CliError::Usage("请给出名录 JSON 文件，或用 --sample 导入示例名录")),
            };
            let summary = store.import_directory(directory)?;
            if as_json {
                render::json(&summary);
            } else {
                outln!(
                    "已导入：{} 个部门，{} 名执法人员，{} 家企业，{} 个检查事项",
                    summary.departments,
                    summary.inspectors,
                    summary.enterprises,
                    summary.matters
                );
            }
        }
        Command::Tasks(TasksCommand::Create(args)) => {
            let draft = draft(store, args)?;
            let task = store.create_task(draft)?;
            if as_json {
                render::json(&task);
            } else {
                outln!("已创建任务 {}", task.code);
            }
        }
        Command::Tasks(TasksCommand::List { status, date, enterprise, department, limit }) => {
            let filter = TaskFilter {
                status: status.as_deref().map(parse_status).transpose()?,
                date: date.as_deref().map(parse_date).transpose()?,
                enterprise: enterprise.as_deref().map(Uscc::parse).transpose()?,
                department: department.as_deref().map(DepartmentId::new).transpose()?,
                limit: *limit,
            };
            let rows = store.list_tasks(&filter)?;
            if as_json { render::json(&rows) } else { out!("{}", render::task_rows(&rows)) }
        }
        Command::Tasks(TasksCommand::Show { code }) => show(store, &TaskCode::parse(code)?, as_json)?,
        Command::Record(step) => record(store, step, as_json)?,
        Command::Conflicts(ConflictsCommand::List { code }) => {
            let list = store.conflicts(&TaskCode::parse(code)?)?;
            if as_json { render::json(&list) } else { out!("{}", render::conflicts(&list)) }
        }
        Command::Conflicts(ConflictsCommand::Resolve { code, field, choose }) => {
            if *choose == 0 {
                return Err(CliError::Usage("--choose 从 1 开始数，按 onevisit conflicts list 列出的序号"));
            }
            let field: Field = field.parse()?;
            store.resolve_conflict(&TaskCode::parse(code)?, &field, choose - 1)?;
            done(as_json, &format!("已解决冲突：{}，采用第 {choose} 项", field.label_zh()), &field);
        }
        Command::Audit(AuditCommand::Verify) => {
            let report = store.verify_audit()?;
            if as_json {
                render::json(&report)
            } else {
                out!("{}", render::audit(&report))
            }
            if !report.is_intact() {
                return Err(CliError::AuditFailed(report.problems.len()));
            }
        }
        Command::Audit(AuditCommand::NewSegment { reason }) => {
            let started = store.start_audit_segment(reason)?;
            if as_json {
                render::json(&started)
            } else {
                outln!(
                    "已开始新的审计链段：第 {} 条起接续服务器持有的链，重新签署了服务器未接受的 {} 条本机记录，当前链头第 {} 条。请运行 onevisit sync 上传。",
                    started.start_seq,
                    started.carried,
                    started.head_seq
                );
            }
        }
        Command::Photo(c) => crate::evidence_commands::photo(store, c, as_json)?,
        Command::Document(c) => crate::evidence_commands::document(store, c, as_json)?,
        Command::TaskCode(c) => crate::evidence_commands::task_code(store, c, as_json)?,
        Command::Enroll { server, code, root, insecure_http } => {
            crate::sync_commands::enroll(store, server, code, root, *insecure_http, as_json)?
        }
        Command::Init { .. }
        | Command::Demo { .. }
        | Command::Sync { .. }
        | Command::Export { .. }
        | Command::Verify { .. } => {}
    }
    Ok(())
}

fn record(store: &mut Store, step: &RecordCommand, as_json: bool) -> Result<(), CliError> {
    let field = match step {
        RecordCommand::CheckIn { code, lat, lon, accuracy } => {
            let position = Position::wgs84(*lat, *lon, *accuracy)
                .ok_or(CliError::Usage("纬度应在 -90～90、经度应在 -180～180 之间（WGS-84）"))?;
            store.check_in(&TaskCode::parse(code)?, position)?
        }
        RecordCommand::Identity { code } => store.show_identity(&TaskCode::parse(code)?)?,
        RecordCommand::Party { code, name, role, phone, recusal, id_number, statement } => {
            let recusal = match recusal {
                Some(reason) => Recusal::Requested { reason: reason.clone() },
                None => Recusal::NotRequested,
            };
            let party = PartyDraft {
                name: name.clone(),
                role: role.clone(),
                phone: phone.clone(),
                recusal,
                id_number: id_number.clone(),
                statement: statement.clone(),
            };
            store.record_party(&TaskCode::parse(code)?, party)?
        }
        RecordCommand::ServiceAddress { code, address, recipient, phone, electronic } => {
            let draft = onevisit_core::record::ServiceAddressDraft {
                address: address.clone(),
                recipient: recipient.clone(),
                phone: phone.clone(),
                electronic: electronic.clone(),
            };
            store.confirm_service_address(&TaskCode::parse(code)?, draft)?
        }
        RecordCommand::Answer { code, check_point, value, note, evidence } => {
            let cp = CheckPointId::new(check_point.as_str())?;
            let directory = store.directory()?;
            let value = parse_answer(value, directory.check_point(&cp).map(|(_, p)| &p.answer));
            let task = TaskCode::parse(code)?;
            // Photos as `photo list` prints them: a prefix of the hash is enough.
            let evidence = evidence
                .iter()
                .map(|e| crate::evidence_commands::photo_hash(store, &task, e))
                .collect::<Result<Vec<_>, _>>()?;
            store.answer(&task, &cp, value, note.clone(), evidence)?
        }
        RecordCommand::Finding { code, department, problem, basis, check_point, deadline } => {
            let finding = FindingDraft {
                department: DepartmentId::new(department.as_str())?,
                check_point: check_point.as_deref().map(CheckPointId::new).transpose()?,
                problem: problem.clone(),
                legal_basis: basis.clone(),
                rectification_required: deadline.is_some(),
                deadline: deadline.as_deref().map(parse_date).transpose()?,
            };
            store.add_finding(&TaskCode::parse(code)?, finding)?
        }
        RecordCommand::Status { code, status } => store.set_status(&TaskCode::parse(code)?, parse_status(status)?)?,
        RecordCommand::Export { code, out } => {
            let bytes = store.export_record(&TaskCode::parse(code)?)?;
            std::fs::write(out, &bytes).map_err(|source| CliError::Io { path: out.clone(), source })?;
            done(as_json, &format!("已导出 {} 字节到 {}", bytes.len(), out.display()), &json!({"bytes": bytes.len()}));
            return Ok(());
        }
        RecordCommand::Merge { file } => {
            let code = store.receive_record(&read(file)?)?;
            done(as_json, &format!("已合并任务 {code} 的记录"), &json!({"task": code}));
            return Ok(());
        }
    };
    done(as_json, &format!("已记录{}", field.label_zh()), &field);
    Ok(())
}

fn show(store: &mut Store, code: &TaskCode, as_json: bool) -> Result<(), CliError> {
    let directory = store.directory()?;
    let view = store.record(code)?.view(&directory).map_err(onevisit_core::store::StoreError::from)?;
    if as_json {
        render::json(&view)
    } else {
        out!("{}", render::record(&view))
    }
    Ok(())
}

fn done<T: serde::Serialize>(as_json: bool, text: &str, value: &T) {
    if as_json {
        render::json(&json!({"ok": true, "result": value}));
    } else {
        outln!("{text}");
    }
}

fn draft(store: &mut Store, a: &CreateTask) -> Result<TaskDraft, CliError> {
    let lead = DepartmentId::new(a.lead.as_str())?;
    let mut departments: Vec<DepartmentId> =
        a.departments.iter().map(|d| DepartmentId::new(d.as_str())).collect::<Result<_, _>>()?;
    if !departments.contains(&lead) {
        departments.push(lead.clone());
    }
    let lead_inspector = match &a.lead_inspector {
        Some(i) => InspectorId::new(i.as_str())?,
        None => store
            .inspector()
            .cloned()
            .ok_or(CliError::Usage("本设备未设置执法人员：请用 --lead-inspector 指定牵头执法人员"))?,
    };
    let reference = || {
        a.reference
            .clone()
            .ok_or(CliError::Usage("这种任务来源须用 --reference 写明依据（计划编号、投诉线索号或原任务编号）"))
    };
    let source = match a.source {
        SourceArg::Random => TaskSource::RandomDraw,
        SourceArg::Complaint => TaskSource::ComplaintOrLead { reference: reference()? },
        SourceArg::Plan => TaskSource::Plan { reference: reference()? },
        SourceArg::Reinspection => {
            TaskSource::ReInspection { of_task: TaskCode::parse(&reference()?)?, findings: Vec::new() }
        }
    };
    Ok(TaskDraft {
        enterprise: Uscc::parse(&a.enterprise)?,
        lead_department: lead,
        departments,
        inspectors: a.inspectors.iter().map(|i| InspectorId::new(i.as_str())).collect::<Result<_, _>>()?,
        lead_inspector,
        matters: a.matters.iter().map(|m| MatterId::new(m.as_str())).collect::<Result<_, _>>()?,
        window: TimeWindow { start: parse_date(&a.from)?, end: parse_date(&a.to)? },
        source,
    })
}

/// Reads an answer as typed: keywords first, then by the check point's answer type. The core
/// checks the result against the type, so a mismatch is reported as such.
fn parse_answer(raw: &str, kind: Option<&AnswerType>) -> AnswerValue {
    match raw {
        "pass" | "符合" => AnswerValue::Pass,
        "fail" | "不符合" => AnswerValue::Fail,
        "na" | "不适用" => AnswerValue::NotApplicable,
        "photos" | "已拍照" => AnswerValue::Photos,
        _ => match kind {
            Some(AnswerType::Number { unit, .. }) => AnswerValue::Number { value: raw.to_string(), unit: unit.clone() },
            _ => AnswerValue::Text { text: raw.to_string() },
        },
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, CliError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| CliError::Date(s.to_string()))
}

fn parse_status(s: &str) -> Result<Status, CliError> {
    Status::parse(s).ok_or_else(|| CliError::Status(s.to_string()))
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io { path: path.to_path_buf(), source })
}

/// Opens the store, saying so when there is none (before looking for its key file).
fn open_store(cli: &Cli, root: &Path) -> Result<Store, CliError> {
    if !Store::exists(root) {
        return Err(onevisit_core::store::StoreError::NotInitialised(root.to_path_buf()).into());
    }
    Ok(Store::open(root, wrapper(cli, root, false)?.as_ref())?)
}

fn store_dir(cli: &Cli) -> Result<PathBuf, CliError> {
    match &cli.store {
        Some(p) => Ok(p.clone()),
        None => directories::ProjectDirs::from("cn", "OneVisit", "onevisit")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or(CliError::NoDataDir),
    }
}

/// The key that seals the device key: a passphrase from the environment, or a key file.
fn wrapper(cli: &Cli, root: &Path, creating: bool) -> Result<Box<dyn SeedWrapper>, CliError> {
    if let Some(var) = &cli.passphrase_env {
        let passphrase = std::env::var(var).map_err(|_| CliError::Usage("--passphrase-env 指定的环境变量没有设置"))?;
        return Ok(Box::new(PassphraseWrapper::new(passphrase)?));
    }
    let path = cli.key_file.clone().unwrap_or_else(|| root.join("device.key"));
    if creating {
        std::fs::create_dir_all(root).map_err(|source| CliError::Io { path: root.to_path_buf(), source })?;
        Ok(Box::new(KeyFileWrapper::load_or_create(&path)?))
    } else {
        Ok(Box::new(KeyFileWrapper::load(&path)?))
    }
}
