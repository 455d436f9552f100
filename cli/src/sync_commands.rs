//! `onevisit enroll` and `onevisit sync`: the device and the city server.

use std::sync::Mutex;

use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken, PhotoFetch, Progress, SyncOptions};
use serde_json::json;

use crate::error::CliError;
use crate::render;

/// Enrols the device and keeps its certificate.
pub(crate) fn enroll(
    store: &mut Store,
    server: &str,
    code: &str,
    root: &str,
    insecure_http: bool,
    as_json: bool,
) -> Result<(), CliError> {
    // What was typed is checked before anything is sent.
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        return Err(CliError::ServerUrl(server.to_string()));
    }
    if onevisit_core::identity::verifying_key_from_hex(root).is_none() {
        return Err(CliError::BadKey);
    }
    let account = sync::enrol_with(store, server, code, root, insecure_http)?;
    let certificate = account.certificate.canonical.clone();
    if as_json {
        render::json(
            &json!({"server": account.server_url, "device_code": account.device_code, "certificate": certificate}),
        );
    } else {
        outln!("已登记到 {}，设备编号 {}", account.server_url, account.device_code);
    }
    Ok(())
}

/// Shows a sync's progress: records pushed of those to push, with the rest beside it.
fn show_progress(display: &crate::progress::Progress, p: &Progress, waiting_told: &std::cell::Cell<bool>) {
    if p.waiting_for_other_sync {
        if !waiting_told.replace(true) {
            display.note("本设备存储的另一个同步正在进行，等待其完成后再同步……");
        }
        return;
    }
    let retries = match p.last_retry {
        Some(cause) if p.retries > 0 => format!("，{}，已重试 {} 次", cause.label_zh(), p.retries),
        _ => String::new(),
    };
    display.update(
        p.records_pushed,
        Some(p.records_to_push),
        format!(
            "请求 {}，接收记录 {}，待处理 {}，照片 {}/{}，↑{} KB ↓{} KB{retries}",
            p.requests,
            p.records_pulled,
            p.records_pending,
            p.blobs_done,
            p.blobs_total,
            p.bytes_up / 1024,
            p.bytes_down / 1024
        ),
    );
}

/// Syncs everything, optionally fetching the evidence photos the device lacks. Anything refused
/// (a record, the audit log) is reported and makes the command fail, after everything else synced.
pub(crate) fn sync(store: Store, fetch_photos: bool, insecure_http: bool, as_json: bool) -> Result<(), CliError> {
    let store = Mutex::new(store);
    let cancel = CancelToken::new();
    let options = SyncOptions { allow_plain_http: insecure_http, ..SyncOptions::default() };
    let display = crate::progress::Progress::new("同步中", as_json);
    let waiting_told = std::cell::Cell::new(false);
    let report = sync::sync(&store, &options, &|p: &Progress| show_progress(&display, p, &waiting_told), &cancel);
    display.finish();
    let report = report?;
    let photos =
        if fetch_photos { sync::fetch_missing_photos(&store, &options, &cancel)? } else { PhotoFetch::default() };
    if as_json {
        render::json(&json!({"report": report, "photos_fetched": photos.fetched, "photos": photos}));
    } else {
        outln!(
            "同步完成：{} 次请求，上传 {} 份记录，接收 {} 份记录，照片上传 {} 张、下载 {} 张，审计日志已确认至第 {} 条",
            report.progress.requests,
            report.progress.records_pushed,
            report.progress.records_pulled,
            report.progress.blobs_done,
            photos.fetched,
            report.audit_through
        );
        print_problems(&report, &photos);
    }
    let refusals = report.refused.len() + report.isolated.len() + usize::from(report.audit_refused.is_some());
    if refusals > 0 {
        return Err(CliError::SyncRefusals(refusals));
    }
    Ok(())
}

/// What did not go through, and what to do about it.
fn print_problems(report: &sync::SyncReport, photos: &PhotoFetch) {
    for (id, why) in &report.refused {
        match report.forbidden.get(id) {
            Some(detail) => outln!(
                "  服务器拒绝 {id}：{}（位置 {}）",
                onevisit_core::store::quarantine::rule_label_zh(&detail.rule),
                detail.path
            ),
            None => outln!("  服务器拒绝 {id}：{why}"),
        }
    }
    for (id, why) in &report.isolated {
        match &why.forbidden {
            Some(f) => {
                outln!("  已拒收并隔离 {id} 收到的修改：{}（位置 {}），其余记录照常同步", f.rule.label_zh(), f.path)
            }
            None => outln!("  本机无法读取记录 {id}，已跳过，其余记录照常同步"),
        }
    }
    for (id, count) in &report.replayed {
        outln!("  {id}：本机存储是从旧备份恢复的，已按服务器上的记录重建，并重新做出本机此后的 {count} 项修改");
    }
    for (id, count) in &report.waiting {
        outln!(
            "  {id}：本设备的修改已上传；另有 {count} 项修改来自其他设备（记录曾以文件交换）或以其为基础，须待那些设备自行同步后再上传，届时再运行 onevisit sync"
        );
    }
    for id in &report.removed {
        outln!("  已不再分配给本设备：{id}");
    }
    if !photos.pending.is_empty() {
        outln!("  另有 {} 张照片原图尚未由拍摄设备上传，稍后同步时再下载", photos.pending.len());
    }
    if !photos.not_permitted.is_empty() {
        outln!("  {} 张照片原图服务器不允许本设备读取，已跳过", photos.not_permitted.len());
    }
    if let Some(why) = &report.audit_refused {
        outln!("  服务器拒绝了本设备的审计日志：{why}");
        outln!("  记录和照片已照常同步。本设备的审计链与服务器持有的不一致（例如存储是从旧备份恢复的）。");
        outln!(
            "  查明原因后，运行 onevisit audit new-segment --reason \"原因\" 从服务器持有的链头开始新的链段，再运行 onevisit sync。"
        );
    }
}
