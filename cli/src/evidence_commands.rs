//! Photo, document and task code commands.

use onevisit_core::document::{DocumentKind, render_text};
use onevisit_core::domain::{AnswerType, CheckPointId, DepartmentId, TaskCode};
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::documents::{DocumentReport, PartyAct};
use onevisit_core::record::{AnswerValue, Position};
use onevisit_core::store::Store;
use serde_json::json;

use crate::args::{DocumentCommand, KindArg, PhotoCommand, TaskCodeCommand};
use crate::error::CliError;
use crate::render;

/// Runs a photo command.
pub(crate) fn photo(store: &mut Store, command: &PhotoCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        PhotoCommand::Add { code, file, check_point, finding, lat, lon, accuracy } => {
            let target = match (check_point, finding) {
                (Some(cp), _) => CaptureTarget::CheckPoint(cp.clone()),
                (None, Some(f)) => CaptureTarget::Finding(f.clone()),
                (None, None) => CaptureTarget::Inspection,
            };
            let position = match (lat, lon) {
                (Some(lat), Some(lon)) => Some(
                    Position::wgs84(*lat, *lon, *accuracy)
                        .ok_or(CliError::Usage("纬度应在 -90～90、经度应在 -180～180 之间（WGS-84）"))?,
                ),
                _ => None,
            };
            let bytes = read(file)?;
            let task = TaskCode::parse(code)?;
            let captured = store.add_photo(&task, &bytes, target, position)?;
            // A photo of a check point that asks for photos answers it (with the photos before it).
            let answered = match check_point {
                Some(cp) => answer_photo_check_point(store, &task, cp, &captured.evidence.sha256)?,
                None => false,
            };
            if as_json {
                render::json(&captured);
            } else if captured.created {
                outln!(
                    "已保存证据照片 {}（{} 字节），采集记录已签名",
                    captured.evidence.sha256,
                    captured.evidence.size
                );
            } else {
                outln!("该照片已作为同一对象的证据保存过：{}", captured.evidence.sha256);
            }
            if answered && !as_json {
                outln!("已记录检查项 {} 的结果：已拍照", check_point.as_deref().unwrap_or_default());
            }
        }
        PhotoCommand::List { code } => {
            let photos = store.photos(&TaskCode::parse(code)?)?;
            if as_json {
                render::json(&photos);
            } else {
                outln!("{} 张证据照片", photos.len());
                for p in &photos {
                    outln!(
                        "  {}  {:>9} 字节  {}  [{} {}]",
                        p.sha256,
                        p.size,
                        p.target,
                        p.stamp.by,
                        render::time(p.stamp.at_ms)
                    );
                }
            }
        }
        PhotoCommand::Show { code, sha256, out, thumbnail } => {
            let photos = store.photos(&TaskCode::parse(code)?)?;
            let matches: Vec<_> = photos.iter().filter(|p| p.sha256.starts_with(sha256.as_str())).collect();
            let [photo] = matches.as_slice() else {
                return Err(CliError::Ambiguous { prefix: sha256.clone(), list: "onevisit photo list" });
            };
            let blobs = store.blobs()?;
            let (_, bytes) = blobs.read(store.connection(), &photo.sha256)?;
            let record = photo.capture.verify_file(&bytes).map_err(|e| CliError::DocumentFailed(e.to_string()))?;
            if let Some(path) = out {
                write(path, &bytes)?;
            }
            if let Some(path) = thumbnail {
                write(path, &blobs.read(store.connection(), &photo.thumbnail_sha256)?.1)?;
            }
            if as_json {
                render::json(&json!({"capture": record, "signature": photo.capture.signature, "verified": true}));
            } else {
                outln!(
                    "照片 {}（{}，{}×{}，{} 字节）",
                    record.sha256,
                    record.mime,
                    record.width,
                    record.height,
                    record.size
                );
                outln!("采集：{} 于 {}，设备 {}", record.inspector, render::time(record.device_time_ms), record.device);
                if let Some(t) = &record.exif_time {
                    outln!("相机时间（EXIF）：{t}");
                }
                if let Some(warning) = record.exif_time_warning_zh() {
                    outln!("⚠ {warning}");
                }
                if let Some(p) = &record.position {
                    outln!(
                        "位置：{:.6}, {:.6}（{}，来源：{}）",
                        p.latitude_e7 as f64 / 1e7,
                        p.longitude_e7 as f64 / 1e7,
                        p.datum,
                        p.source.label_zh()
                    );
                }
                outln!("证明对象：{}", record.target);
                outln!("原件与采集记录一致，设备签名验证通过 ✓");
            }
        }
    }
    Ok(())
}

/// Runs a document command.
pub(crate) fn document(store: &mut Store, command: &DocumentCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        DocumentCommand::Render { code, kind, department } => {
            let kind = match kind {
                KindArg::OnSite => DocumentKind::OnSiteRecord,
                KindArg::Order => DocumentKind::RectificationOrder,
                KindArg::AddressConfirmation => DocumentKind::AddressConfirmation,
                KindArg::ServiceReceipt => DocumentKind::ServiceReceipt,
            };
            let department = department.as_deref().map(DepartmentId::new).transpose()?;
            if kind == DocumentKind::RectificationOrder && department.is_none() {
                return Err(CliError::Usage("责令改正通知书须写明发文部门：--department 部门编号（如 xfjy）"));
            }
            let version = store.render_document(&TaskCode::parse(code)?, kind, department)?;
            if as_json {
                render::json(&json!({"sha256": version.sha256, "number": version.number, "version": version.version}));
            } else {
                let content = version.content().map_err(|e| CliError::DocumentFailed(e.to_string()))?;
                out!("{}", render_text(&content, &[]));
                outln!("\n文书哈希 {}（第 {} 版）", version.sha256, version.version);
            }
        }
        DocumentCommand::Sign { code, document } => {
            let code = TaskCode::parse(code)?;
            let sha = resolve(store, &code, document)?;
            let report = store.sign_document(&code, &sha)?;
            print_report(&report, as_json);
        }
        DocumentCommand::PartySign { code, document, name, role, image } => {
            let code = TaskCode::parse(code)?;
            let sha = resolve(store, &code, document)?;
            let bytes = read(image)?;
            let act = PartyAct::Signed { name: name.clone(), role: role.clone(), image_sha256: String::new() };
            let report = store.party_act(&code, &sha, act, Some(&bytes))?;
            print_report(&report, as_json);
        }
        DocumentCommand::PartyRefuse { code, document, reason, witness, witness_detail, witness_signature } => {
            let code = TaskCode::parse(code)?;
            let sha = resolve(store, &code, document)?;
            let act = PartyAct::Refused {
                reason: reason.clone(),
                witness: witness.clone(),
                witness_detail: witness_detail.clone(),
            };
            let image = witness_signature.as_ref().map(|p| read(p)).transpose()?;
            let report = store.party_act(&code, &sha, act, image.as_deref())?;
            print_report(&report, as_json);
        }
        DocumentCommand::Verify { code, document } => {
            let code = TaskCode::parse(code)?;
            let sha = resolve(store, &code, document)?;
            let report = store.document_report(&code, &sha)?;
            print_report(&report, as_json);
            let bad: Vec<String> = report
                .signatures
                .iter()
                .filter_map(|c| c.problem.as_ref().map(|p| format!("{}: {p}", c.key)))
                .chain((!report.intact).then(|| "the document's bytes do not match its hash".to_string()))
                .chain(
                    (report.matches_record == Some(false))
                        .then(|| "the document does not match the record at its heads".to_string()),
                )
                .collect();
            if !bad.is_empty() {
                return Err(CliError::DocumentFailed(bad.join("; ")));
            }
        }
        DocumentCommand::Show { code, document } => {
            let code = TaskCode::parse(code)?;
            let sha = resolve(store, &code, document)?;
            let version = store.record(&code)?.document(&sha).map_err(onevisit_core::store::StoreError::from)?;
            if as_json { outln!("{}", version.canonical) } else { out!("{}", store.printed_document(&code, &sha)?) }
        }
        DocumentCommand::Pdf { code, document, out } => {
            let code = TaskCode::parse(code)?;
            let sha = resolve(store, &code, document)?;
            let pdf = store.printed_pdf(&code, &sha)?;
            write(out, &pdf)?;
            if as_json {
                outln!("{}", json!({"path": out, "bytes": pdf.len(), "sha256": sha}));
            } else {
                outln!("已打印文书 {} 到 {}（{} 字节）", &sha[..12.min(sha.len())], out.display(), pdf.len());
            }
        }
        DocumentCommand::Versions { code } => {
            let code = TaskCode::parse(code)?;
            let versions = store.documents(&code)?;
            let mut rows = Vec::new();
            for v in &versions {
                let report = store.document_report(&code, &v.sha256)?;
                rows.push(json!({"sha256": v.sha256, "kind": v.kind, "department": v.department, "number": v.number,
                    "version": v.version, "signed": report.signed, "superseded_by": report.superseded_by}));
            }
            if as_json {
                render::json(&rows);
            } else {
                outln!("{} 个文书版本", versions.len());
                for (v, row) in versions.iter().zip(&rows) {
                    let state = if row["signed"] == true { "已签署" } else { "待签署" };
                    let old = if row["superseded_by"].is_null() { "" } else { "（已被新版本取代）" };
                    outln!(
                        "  {} {} 第{}版 {} {}{}",
                        &v.sha256[..16],
                        v.number,
                        v.version,
                        v.kind.title_zh(),
                        state,
                        old
                    );
                }
            }
        }
    }
    Ok(())
}

/// Runs a task code command.
pub(crate) fn task_code(store: &mut Store, command: &TaskCodeCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        TaskCodeCommand::Issue { code, qr } => {
            let (token, claims) = store.issue_task_token(&TaskCode::parse(code)?)?;
            if let Some(path) = qr {
                write(path, &onevisit_core::task_token::qr_png(&token)?)?;
            }
            if as_json {
                render::json(
                    &json!({"token": token, "claims": claims, "issuer_key": hex::encode(store.device_key().public_bytes())}),
                );
            } else {
                outln!("{token}");
                outln!(
                    "有效期 {} 至 {}；签发设备公钥 {}",
                    render::time(claims.not_before_ms),
                    render::time(claims.expires_ms),
                    hex::encode(store.device_key().public_bytes())
                );
            }
        }
        TaskCodeCommand::Verify { token, root: Some(root), at, .. } => {
            check_task_code(token, root, at.as_deref(), as_json)?
        }
        TaskCodeCommand::Verify { token, issuer_key, at, root: None } => {
            let key = match issuer_key {
                Some(h) => onevisit_core::identity::verifying_key_from_hex(h).ok_or(CliError::BadKey)?,
                None => store.device_key().verifying_key(),
            };
            let now = when(at.as_deref())?;
            let claims = onevisit_core::task_token::verify(token, &key, now)?;
            if as_json {
                render::json(&json!({"valid": true, "claims": claims}));
            } else {
                outln!("检查码有效 ✓  任务 {}，检查对象 {}", claims.code, claims.uscc);
                for (name, cert) in &claims.inspectors {
                    outln!("  执法人员 {name}（执法证号 {cert}）");
                }
                outln!("  有效期至 {}", render::time(claims.expires_ms));
            }
        }
    }
    Ok(())
}

/// A time argument as ms since the epoch: `2026-12-02` (noon, Beijing time), `2026-12-02 09:30`
/// (Beijing time) or RFC 3339; now when absent.
pub(crate) fn when(at: Option<&str>) -> Result<i64, CliError> {
    let Some(text) = at.map(str::trim) else { return Ok(chrono::Utc::now().timestamp_millis()) };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for pattern in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, pattern) {
            return Ok(onevisit_core::beijing::instant(t.date(), t.time()));
        }
    }
    match (chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d"), chrono::NaiveTime::from_hms_opt(12, 0, 0)) {
        (Ok(day), Some(noon)) => Ok(onevisit_core::beijing::instant(day, noon)),
        _ => Err(CliError::When(text.to_string())),
    }
}

/// The inspected party's check (亮码核验): the task code against the tenant's published root key,
/// with no device store. Prints 有效 with what the code says, or why it is not.
pub(crate) fn check_task_code(token: &str, root: &str, at: Option<&str>, as_json: bool) -> Result<(), CliError> {
    let root = onevisit_core::identity::verifying_key_from_hex(root.trim()).ok_or(CliError::BadKey)?;
    let checked = onevisit_core::task_token::verify_with_root(token, &root, when(at)?)?;
    if as_json {
        render::json(&json!({"valid": true, "claims": checked.claims, "issuer_inspector": checked.issuer_inspector}));
    } else {
        let c = &checked.claims;
        outln!("有效 ✓  检查码由本地执法平台认证的设备签发（执法人员 {} 的设备）", checked.issuer_inspector);
        outln!("  任务 {}，检查对象 {}", c.code, c.uscc);
        for (name, cert) in &c.inspectors {
            outln!("  执法人员 {name}（执法证号 {cert}）");
        }
        outln!("  检查事项 {}", c.matters.join("、"));
        outln!(
            "  有效期 {} 至 {}（北京时间）",
            onevisit_core::beijing::date_time(c.not_before_ms),
            onevisit_core::beijing::date_time(c.expires_ms)
        );
    }
    Ok(())
}

fn print_report(report: &DocumentReport, as_json: bool) {
    if as_json {
        render::json(report);
        return;
    }
    outln!("{} 第{}版（{}）", report.number, report.version, &report.sha256[..16]);
    outln!("文书完整性：{}", if report.intact { "一致 ✓" } else { "已被篡改 ✗" });
    match report.matches_record {
        Some(true) => outln!("与检查记录（该版本对应的记录历史）一致 ✓"),
        Some(false) => outln!("与检查记录不一致 ✗"),
        None => {}
    }
    for c in &report.signatures {
        match &c.problem {
            None => outln!("  签名 {}：有效 ✓ {}", c.signer, c.device_time_ms.map(render::time).unwrap_or_default()),
            Some(p) => outln!("  签名 {}：无效 ✗ {}", c.signer, p.label_zh()),
        }
    }
    if !report.identities_checked {
        outln!("（本机尚未登记，签名人身份未经本租户证书核验）");
    }
    if let Some(newer) = &report.superseded_by {
        outln!("已被新版本 {} 取代", &newer[..16]);
    }
    if report.signed {
        outln!("状态：已签署 ✓");
    } else {
        let missing: Vec<String> = report.missing.iter().map(|m| m.label_zh()).collect();
        outln!("状态：待签署（尚缺：{}）", missing.join("；"));
    }
}

fn resolve(store: &mut Store, code: &TaskCode, prefix: &str) -> Result<String, CliError> {
    let versions = store.documents(code)?;
    let matches: Vec<_> = versions.iter().filter(|v| v.sha256.starts_with(prefix)).collect();
    match matches.as_slice() {
        [one] => Ok(one.sha256.clone()),
        _ => Err(CliError::Ambiguous { prefix: prefix.to_string(), list: "onevisit document versions" }),
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io { path: path.to_path_buf(), source })
}

fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|source| CliError::Io { path: path.to_path_buf(), source })
}

/// The photo of a task whose SHA-256 starts with `prefix` (as `photo list` prints it).
pub(crate) fn photo_hash(store: &mut Store, code: &TaskCode, prefix: &str) -> Result<String, CliError> {
    let photos = store.photos(code)?;
    let matches: Vec<_> = photos.iter().filter(|p| p.sha256.starts_with(prefix)).collect();
    match matches.as_slice() {
        [one] => Ok(one.sha256.clone()),
        _ => Err(CliError::Ambiguous { prefix: prefix.to_string(), list: "onevisit photo list" }),
    }
}

/// Answers a check point that asks for photos with this photo and those already given; `false`
/// when the check point asks for something else (the photo is then evidence only).
fn answer_photo_check_point(store: &mut Store, task: &TaskCode, cp: &str, sha256: &str) -> Result<bool, CliError> {
    let cp = CheckPointId::new(cp)?;
    let directory = store.directory()?;
    let Some((matter, point)) = directory.check_point(&cp) else { return Ok(false) };
    if point.answer != AnswerType::Photo {
        return Ok(false);
    }
    let department = matter.department.clone();
    let mut evidence = store
        .record(task)?
        .answer(&department, &cp)
        .map_err(onevisit_core::store::StoreError::from)?
        .map(|a| a.evidence)
        .unwrap_or_default();
    if evidence.iter().any(|e| e == sha256) {
        return Ok(false); // answered with this photo already
    }
    evidence.push(sha256.to_string());
    store.answer(task, &cp, AnswerValue::Photos, None, evidence)?;
    Ok(true)
}
