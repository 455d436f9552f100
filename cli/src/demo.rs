//! `onevisit demo`: the city sync server starts embedded (SQLite + blob files, loopback HTTP); an
//! administrator plans a joint inspection; four inspectors, two of each of two departments, enrol
//! their devices and receive the task; one of each department records it offline (both note the party's representative, differently) with an
//! evidence photo; both sync through the server, the photo is fetched by the other device, the
//! conflict is shown and resolved by the lead inspector, the on-site record is signed by all four
//! officers on their own devices (two of each department) and by the party, the task code is issued and verified, and
//! both audit logs are verified and confirmed by the server.

use std::path::Path;
use std::sync::Mutex;

use chrono::Days;
use onevisit_core::document::DocumentKind;
use onevisit_core::domain::CheckPointId;
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::documents::PartyAct;
use onevisit_core::record::{AnswerValue, Field, FindingDraft, PartyDraft, Position, Recusal, Status};
use onevisit_core::sample;
use onevisit_core::store::{Store, StoreError};
use onevisit_core::sync::{self, CancelToken, SyncOptions};
use onevisit_server::embedded::EmbeddedServer;
use onevisit_test_support::{SampleExif, sample_jpeg};
use serde_json::json;

use crate::error::CliError;
use crate::render;

/// A handwritten signature, as a signature pad would capture it.
const SAMPLE_SIGNATURE_PNG: &[u8] = include_bytes!("../../data/sample-signature.png");

/// Runs the demo in `dir` (or a temporary directory).
pub(crate) fn run(dir: Option<&Path>, as_json: bool) -> Result<(), CliError> {
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
            outln!("{text}");
        }
    };

    if base.join("server").exists() {
        return Err(CliError::Usage("演示目录里已有上次的演示：请换一个空目录"));
    }
    let directory = std::sync::Arc::new(sample::directory()?);
    let cancel = CancelToken::new();
    let options = SyncOptions::default();
    let quiet = |_: &sync::Progress| {};
    let sync_now = |store: &Mutex<Store>| sync::sync(store, &options, &quiet, &cancel);

    say("▶ 1. 启动城市同步服务器（嵌入式默认：一个 SQLite 文件 + 照片目录，本机回环端口）");
    let server = EmbeddedServer::start(&base.join("server"), "330482", &directory)
        .map_err(|e| CliError::Server(e.to_string()))?;
    say(&format!("   {}，租户根公钥 {}…", server.base, &server.root_public_key[..16]));

    say(
        "▶ 2. 管理员制定联合检查任务（市场监管局牵头、消防救援大队参加，每个部门 2 名执法人员），四台执法终端用一次性登记码登记",
    );
    let today = onevisit_core::beijing::today();
    let planned = server
        .plan(&directory, vec![sample::joint_task_draft(&directory, 7, today)])
        .map_err(|e| CliError::Server(e.to_string()))?;
    let code = onevisit_core::domain::TaskCode::parse(&planned[0])?;
    let a = Mutex::new(device(&base.join("device-scjg"), "scjg-01")?);
    let b = Mutex::new(device(&base.join("device-xfjy"), "xfjy-01")?);
    let a2 = Mutex::new(device(&base.join("device-scjg-2"), "scjg-02")?);
    let b2 = Mutex::new(device(&base.join("device-xfjy-2"), "xfjy-02")?);
    for (store, inspector) in [(&a, "scjg-01"), (&b, "xfjy-01"), (&a2, "scjg-02"), (&b2, "xfjy-02")] {
        let one_time = server.enrolment_code(inspector).map_err(|e| CliError::Server(e.to_string()))?;
        sync::enrol(&mut *lock(store)?, &server.base, &one_time, &server.root_public_key)?;
        sync_now(store)?;
    }
    let task = lock(&a)?.record(&code)?.task().clone();
    say(&format!("   任务 {code}，检查对象 {}；四台设备均已收到", task.enterprise));

    say("▶ 3. 断网状态下，两个部门各一台设备同时记录（互不通信）");
    let cp = |id: &str| CheckPointId::new(id).map_err(CliError::from);
    let site = directory.enterprise(&task.enterprise).and_then(|e| e.location);
    let (lat, lon) = site.map(|p| (p.latitude, p.longitude)).unwrap_or((30.6985, 121.0156));
    let position = Position::wgs84(lat, lon, 6).ok_or(CliError::Usage("示例位置超出范围"))?;
    {
        let mut a = lock(&a)?;
        a.check_in(&code, position)?;
        a.show_identity(&code)?;
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "现场负责人".into(),
            phone: Some("13800000000".into()),
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        a.record_party(&code, party)?;
        a.answer(&code, &cp("SCJG-001-01")?, AnswerValue::Pass, None, vec![])?;
        a.answer(
            &code,
            &cp("SCJG-001-03")?,
            AnswerValue::Number { value: "4.5".into(), unit: "℃".into() },
            None,
            vec![],
        )?;
        a.answer(&code, &cp("SCJG-001-04")?, AnswerValue::Pass, None, vec![])?;
        a.answer(
            &code,
            &cp("SCJG-001-02")?,
            AnswerValue::Pass,
            Some("抽查 3 名从业人员，健康证均在有效期内".into()),
            vec![],
        )?;
    }
    say("   scjg-01：签到、出示证件、记录当事人、完成食品经营检查 4 项");
    // Taken just now, as on site: the camera's clock agrees with the device's.
    let now = chrono::Utc::now().timestamp_millis();
    let exif =
        SampleExif { capture_time: onevisit_core::beijing::format(now, "%Y:%m:%d %H:%M:%S"), ..SampleExif::pinghu() };
    let photo = sample_jpeg(1600, 1200, Some(&exif));
    let captured = {
        let mut b = lock(&b)?;
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
        let target = CaptureTarget::CheckPoint("XFJY-001-04".into());
        let captured = b.add_photo(&code, &photo, target, Some(position))?;
        b.answer(&code, &cp("XFJY-001-04")?, AnswerValue::Photos, None, vec![captured.evidence.sha256.clone()])?;
        // Meanwhile the fire officer also notes who represents the party — differently.
        let party = PartyDraft {
            name: "沈建国".into(),
            role: "法定代表人".into(),
            phone: Some("13800000000".into()),
            recusal: Recusal::NotRequested,
            id_number: None,
            statement: None,
        };
        b.record_party(&code, party)?;
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
        captured
    };
    say(&format!(
        "   xfjy-01：签到、完成消防安全检查 4 项（含现场照片 {}…，采集记录已签名）、记录 1 个问题、记录当事人",
        &captured.evidence.sha256[..12]
    ));
    say("   ⚠ 两人同时记录了当事人代表，身份不一致（现场负责人 / 法定代表人）");

    say("▶ 4. 恢复联网：两台设备先后与服务器同步（只传各自缺少的变更，照片单独上传）");
    let mut traffic = Vec::new();
    for store in [&a, &b, &a] {
        traffic.push(sync_now(store)?);
    }
    let evidence = captured.evidence.clone();
    sync::fetch_blob(&a, &evidence.sha256, &evidence.mime, evidence.size, &options, &cancel)?;
    let heads_a = lock(&a)?.record(&code)?.heads();
    let heads_b = lock(&b)?.record(&code)?.heads();
    let converged = heads_a == heads_b;
    for (who, r) in ["scjg-01", "xfjy-01", "scjg-01"].iter().zip(&traffic) {
        let p = &r.progress;
        say(&format!(
            "   {who}：{} 次请求，上传 {} 份、接收 {} 份记录，照片上传 {} 个文件，↑{} B ↓{} B",
            p.requests, p.records_pushed, p.records_pulled, p.blobs_done, p.bytes_up, p.bytes_down
        ));
    }
    say(&format!("   scjg-01 从服务器按需下载了照片原件（{} 字节，哈希一致）", evidence.size));
    say(&format!("   两台设备的文档头一致：{}", if converged { "是" } else { "否" }));

    let conflicts = lock(&a)?.conflicts(&code)?;
    let merged = lock(&a)?.record(&code)?.view(&directory).map_err(StoreError::from)?;
    if !as_json {
        out!("{}", render::record(&merged));
        out!("{}", render::conflicts(&conflicts));
    }

    say("▶ 5. 牵头执法人员 scjg-01 核实营业执照后裁决冲突（采用“法定代表人”），经服务器同步给对方");
    let field = Field::Party;
    let conflict = conflicts.iter().find(|c| c.field == field).ok_or(CliError::Usage("演示预期出现冲突，但没有"))?;
    let choice = conflict.values.iter().position(|v| v.by.as_str() == "xfjy-01").unwrap_or(0);
    lock(&a)?.resolve_conflict(&code, &field, choice)?;
    lock(&a)?.set_status(&code, Status::Recorded)?;
    sync_now(&a)?;
    sync_now(&b)?;
    let final_view = lock(&b)?.record(&code)?.view(&directory).map_err(StoreError::from)?;
    if !as_json {
        out!("{}", render::record(&final_view));
    }

    say("▶ 6. 生成现场检查笔录：两个部门各 2 名执法人员在各自设备上签名，当事人手写签名");
    let document = lock(&a)?.render_document(&code, DocumentKind::OnSiteRecord, None)?;
    lock(&a)?.sign_document(&code, &document.sha256)?;
    sync_now(&a)?;
    sync_now(&b)?;
    lock(&b)?.sign_document(&code, &document.sha256)?;
    sync_now(&b)?;
    for second in [&a2, &b2] {
        sync_now(second)?;
        lock(second)?.sign_document(&code, &document.sha256)?;
        sync_now(second)?;
    }
    sync_now(&a)?;
    let party =
        PartyAct::Signed { name: "沈建国".into(), role: "现场负责人".into(), image_sha256: String::new() };
    let report = lock(&a)?.party_act(&code, &document.sha256, party, Some(SAMPLE_SIGNATURE_PNG))?;
    sync_now(&a)?;
    sync_now(&b)?;
    if !as_json {
        out!("{}", lock(&a)?.printed_document(&code, &document.sha256)?);
        outln!("文书哈希 {}", document.sha256);
        for check in &report.signatures {
            let state = if check.problem.is_none() { "有效 ✓" } else { "无效 ✗" };
            outln!("  签名 {}：{state}", check.signer);
        }
        outln!("  状态：{}", if report.signed { "已签署 ✓" } else { "待签署" });
    }

    say("▶ 7. 亮码检查：签发检查码，企业只凭公布的租户根公钥离线核验");
    let (token, _) = lock(&a)?.issue_task_token(&code)?;
    let root = onevisit_core::identity::verifying_key_from_hex(&server.root_public_key).ok_or(CliError::BadKey)?;
    let checked = onevisit_core::task_token::verify_with_root(&token, &root, chrono::Utc::now().timestamp_millis())?;
    say(&format!("   {token}"));
    say(&format!(
        "   核验：有效 ✓ 任务 {} 检查对象 {}，由执法人员 {} 的认证设备签发",
        checked.claims.code, checked.claims.uscc, checked.issuer_inspector
    ));

    say("▶ 8. 两台设备的审计日志（全过程记录）验证；最后一次同步后，服务器已逐条核对哈希链并签发检查点");
    let last_a = sync_now(&a)?;
    let last_b = sync_now(&b)?;
    let audit_a = lock(&a)?.verify_audit()?;
    let audit_b = lock(&b)?.verify_audit()?;
    let head_a = lock(&a)?.audit_head()?.seq;
    let head_b = lock(&b)?.audit_head()?.seq;
    let checkpointed = lock(&a)?.audit_checkpoint()?.is_some() && lock(&b)?.audit_checkpoint()?.is_some();
    if as_json {
        render::json(&json!({
            "task": code,
            "server": server.base,
            "converged": converged,
            "conflicts": conflicts,
            "merged": merged,
            "resolved": final_view,
            "document": report,
            "task_code": token,
            "sync": {"first_round": traffic, "photo_fetched": evidence.sha256, "audit_confirmed": {"scjg-01": last_a.audit_through, "xfjy-01": last_b.audit_through}, "checkpointed": checkpointed},
            "audit": {"scjg-01": audit_a, "xfjy-01": audit_b},
        }));
    } else {
        out!("scjg-01 {}", render::audit(&audit_a));
        out!("xfjy-01 {}", render::audit(&audit_b));
        outln!(
            "服务器已确认审计日志：scjg-01 至第 {} 条（本机共 {head_a} 条），xfjy-01 至第 {} 条（本机共 {head_b} 条），检查点已签发：{}",
            last_a.audit_through,
            last_b.audit_through,
            if checkpointed { "是" } else { "否" }
        );
    }
    let clean = converged
        && audit_a.is_intact()
        && audit_b.is_intact()
        && final_view.open_conflicts == 0
        && report.signed
        && checkpointed
        && last_a.audit_through == head_a
        && last_b.audit_through == head_b;
    if !clean {
        return Err(CliError::Usage("演示未能干净地合并"));
    }
    Ok(())
}

fn lock(store: &Mutex<Store>) -> Result<std::sync::MutexGuard<'_, Store>, CliError> {
    store.lock().map_err(|_| CliError::Store(StoreError::Poisoned))
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
