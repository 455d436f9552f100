//! `onevisit demo`: two inspectors of two departments record one joint inspection on two separate
//! stores, offline, with one concurrent answer to the same check point and an evidence photo; the
//! stores merge, the conflict is shown and resolved by the lead inspector, the on-site record is
//! signed by both inspectors on their own devices and by the party, the task code is issued and
//! verified, and both audit logs are verified.

use std::path::Path;

use chrono::Days;
use onevisit_core::document::{DocumentKind, render_text};
use onevisit_core::domain::CheckPointId;
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::evidence::fixture::{SampleExif, sample_jpeg};
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::documents::PartyAct;
use onevisit_core::record::{AnswerValue, Field, FindingDraft, PartyDraft, Position, Recusal, Status};
use onevisit_core::sample;
use onevisit_core::store::{Store, StoreError};
use serde_json::json;

use crate::error::CliError;
use crate::render;

/// A handwritten signature, as a signature pad would capture it.
const SAMPLE_SIGNATURE_PNG: &[u8] = include_bytes!("../../data/sample-signature.png");

/// The check point both inspectors answer concurrently: 从业人员是否持有效健康证明.
const CONTESTED: &str = "SCJG-001-02";

/// Runs the demo in `dir` (or a temporary directory).
pub fn run(dir: Option<&Path>, as_json: bool) -> Result<(), CliError> {
    let tmp;
    let base = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile::tempdir().map_err(|source| CliError::Io { path: std::env::temp_dir(), source })?;
            tmp.path().to_path_buf()
        }
    };
    let say = |text: &str| {
        if !as_json {
            println!("{text}");
        }
    };

    say("▶ 1. 两台设备各自初始化：市场监管局 scjg-01（牵头）与 消防救援大队 xfjy-01");
    let mut a = device(&base.join("device-scjg"), "scjg-01")?;
    let mut b = device(&base.join("device-xfjy"), "xfjy-01")?;
    let directory = a.directory()?;

    say("▶ 2. 牵头设备创建联合检查任务，并在出发前下发给另一台设备");
    let today = chrono::Local::now().date_naive();
    let task = a.create_task(sample::joint_task_draft(&directory, 7, today))?;
    let code = task.code.clone();
    b.receive_record(&a.export_record(&code)?)?;
    say(&format!("   任务 {code}，检查对象 {}", task.enterprise));

    say("▶ 3. 断网状态下，两台设备同时记录（互不通信）");
    let cp = |id: &str| CheckPointId::new(id).map_err(CliError::from);
    let site = directory.enterprise(&task.enterprise).and_then(|e| e.location);
    let (lat, lon) = site.map(|p| (p.latitude, p.longitude)).unwrap_or((30.6985, 121.0156));
    let position = Position::wgs84(lat, lon, 6).ok_or(CliError::Usage("sample position out of range"))?;
    a.check_in(&code, position)?;
    a.show_identity(&code)?;
    let party = PartyDraft {
        name: "沈建国".into(),
        role: "现场负责人".into(),
        phone: Some("13800000000".into()),
        recusal: Recusal::NotRequested,
    };
    a.record_party(&code, party)?;
    a.answer(&code, &cp("SCJG-001-01")?, AnswerValue::Pass, None, vec![])?;
    a.answer(&code, &cp("SCJG-001-03")?, AnswerValue::Number { value: "4.5".into(), unit: "℃".into() }, None, vec![])?;
    a.answer(&code, &cp("SCJG-001-04")?, AnswerValue::Pass, None, vec![])?;
    a.answer(&code, &cp(CONTESTED)?, AnswerValue::Pass, Some("抽查 3 名从业人员，健康证均在有效期内".into()), vec![])?;
    say("   scjg-01：签到、出示证件、记录当事人、完成食品经营检查 4 项");

    b.check_in(&code, position)?;
    b.answer(&code, &cp("XFJY-001-01")?, AnswerValue::Fail, Some("2 具灭火器压力不足".into()), vec![])?;
    b.answer(&code, &cp("XFJY-001-02")?, AnswerValue::Pass, None, vec![])?;
    b.answer(
        &code,
        &cp("XFJY-001-03")?,
        AnswerValue::Number { value: "0.8".into(), unit: "MPa".into() },
        None,
        vec![],
    )?;
    let photo = sample_jpeg(1600, 1200, Some(&SampleExif::pinghu()));
    let target = CaptureTarget::CheckPoint("XFJY-001-04".into());
    let captured = b.add_photo(&code, &photo, target, Some(position))?;
    b.answer(&code, &cp("XFJY-001-04")?, AnswerValue::Photos, None, vec![captured.evidence.sha256.clone()])?;
    b.answer(&code, &cp(CONTESTED)?, AnswerValue::Fail, Some("后厨 1 名帮工健康证已过期".into()), vec![])?;
    b.add_finding(
        &code,
        FindingDraft {
            department: "xfjy".parse()?,
            check_point: Some(cp("XFJY-001-01")?),
            problem: "2 具灭火器压力不足，未保持完好有效".into(),
            legal_basis: "《中华人民共和国消防法》第十六条".into(),
            rectification_required: true,
            deadline: Some(today + Days::new(15)),
        },
    )?;
    say(&format!(
        "   xfjy-01：签到、完成消防安全检查 4 项（含现场照片 {}…，采集记录已签名）、记录 1 个问题",
        &captured.evidence.sha256[..12]
    ));
    say(&format!("   ⚠ 两人同时回答了同一检查要点 {CONTESTED}（符合 / 不符合）"));

    say("▶ 4. 恢复联网后两台设备互相合并");
    a.receive_record(&b.export_record(&code)?)?;
    b.receive_record(&a.export_record(&code)?)?;
    let heads_a = a.record(&code)?.heads();
    let heads_b = b.record(&code)?.heads();
    let converged = heads_a == heads_b;
    say(&format!("   两台设备的文档头一致：{}", if converged { "是" } else { "否" }));

    let conflicts = a.conflicts(&code)?;
    let merged = a.record(&code)?.view(&directory).map_err(StoreError::from)?;
    if !as_json {
        print!("{}", render::record(&merged));
        print!("{}", render::conflicts(&conflicts));
    }

    say("▶ 5. 牵头执法人员 scjg-01 核实后裁决冲突（采用“不符合”），并同步给对方");
    let field = Field::Answer(cp(CONTESTED)?);
    let conflict =
        conflicts.iter().find(|c| c.field == field).ok_or(CliError::Usage("the demo expected a conflict"))?;
    let choice = conflict.values.iter().position(|v| v.by.as_str() == "xfjy-01").unwrap_or(0);
    a.resolve_conflict(&code, &field, choice)?;
    a.set_status(&code, Status::Recorded)?;
    b.receive_record(&a.export_record(&code)?)?;
    let final_view = b.record(&code)?.view(&directory).map_err(StoreError::from)?;
    if !as_json {
        print!("{}", render::record(&final_view));
    }

    say("▶ 6. 生成现场检查笔录：两名执法人员各在自己的设备上签名，当事人手写签名");
    let document = a.render_document(&code, DocumentKind::OnSiteRecord, None)?;
    a.sign_document(&code, &document.sha256)?;
    b.receive_record(&a.export_record(&code)?)?;
    b.sign_document(&code, &document.sha256)?;
    a.receive_record(&b.export_record(&code)?)?;
    let party =
        PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
    let report = a.party_act(&code, &document.sha256, party, Some(SAMPLE_SIGNATURE_PNG))?;
    if !as_json {
        let content = document.content().map_err(|e| CliError::DocumentFailed(e.to_string()))?;
        print!("{}", render_text(&content));
        println!("文书哈希 {}", document.sha256);
        for check in &report.signatures {
            let state = if check.problem.is_none() { "有效 ✓" } else { "无效 ✗" };
            println!("  签名 {}：{state}", check.signer);
        }
        println!("  状态：{}", if report.signed { "已签署 ✓" } else { "待签署" });
    }

    say("▶ 7. 亮码检查：签发检查码，企业离线验证");
    let (token, claims) = a.issue_task_token(&code)?;
    let checked =
        onevisit_core::task_token::verify(&token, &a.device_key().verifying_key(), claims.not_before_ms + 3_600_000)?;
    say(&format!("   {token}"));
    say(&format!("   验证：任务 {} 检查对象 {} —— 签名有效 ✓", checked.code, checked.uscc));

    say("▶ 8. 两台设备的审计日志（全过程记录）验证");
    let audit_a = a.verify_audit()?;
    let audit_b = b.verify_audit()?;
    if as_json {
        render::json(&json!({
            "task": code,
            "converged": converged,
            "conflicts": conflicts,
            "merged": merged,
            "resolved": final_view,
            "document": report,
            "task_code": token,
            "audit": {"scjg-01": audit_a, "xfjy-01": audit_b},
        }));
    } else {
        print!("scjg-01 {}", render::audit(&audit_a));
        print!("xfjy-01 {}", render::audit(&audit_b));
    }
    if !converged || !audit_a.is_intact() || !audit_b.is_intact() || final_view.open_conflicts != 0 || !report.signed {
        return Err(CliError::Usage("the demo did not converge cleanly"));
    }
    Ok(())
}

fn device(root: &Path, inspector: &str) -> Result<Store, CliError> {
    std::fs::create_dir_all(root).map_err(|source| CliError::Io { path: root.to_path_buf(), source })?;
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key"))?;
    let mut store = match Store::open(root, &wrapper) {
        Ok(s) => s,
        Err(StoreError::NotInitialised(_)) => Store::init(root, &wrapper, Some(inspector.parse()?))?,
        Err(e) => return Err(e.into()),
    };
    store.import_directory(sample::directory()?)?;
    Ok(store)
}
