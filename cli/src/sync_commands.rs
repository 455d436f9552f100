//! `onevisit enroll` and `onevisit sync`: the device and the city server.

use std::io::Write;
use std::sync::Mutex;

use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken, Progress, SyncOptions};
use serde_json::json;

use crate::error::CliError;
use crate::render;

/// Enrols the device and keeps its certificate.
pub fn enroll(store: &mut Store, server: &str, code: &str, root: &str, as_json: bool) -> Result<(), CliError> {
    let account = sync::enrol(store, server, code, root)?;
    let certificate = account.certificate.canonical.clone();
    if as_json {
        render::json(
            &json!({"server": account.server_url, "device_code": account.device_code, "certificate": certificate}),
        );
    } else {
        println!("已登记到 {}，设备编号 {}", account.server_url, account.device_code);
    }
    Ok(())
}

fn progress_line(p: &Progress) {
    eprint!(
        "\r同步中：请求 {}，上传记录 {}/{}，接收记录 {}，待处理 {}，照片 {}/{}，↑{} KB ↓{} KB   ",
        p.requests,
        p.documents_pushed,
        p.documents_to_push,
        p.documents_pulled,
        p.documents_pending,
        p.blobs_done,
        p.blobs_total,
        p.bytes_up / 1024,
        p.bytes_down / 1024
    );
    let _ = std::io::stderr().flush();
}

/// Syncs everything, optionally fetching the evidence photos the device lacks.
pub fn sync(store: Store, fetch_photos: bool, as_json: bool) -> Result<(), CliError> {
    let store = Mutex::new(store);
    let cancel = CancelToken::new();
    let options = SyncOptions::default();
    let quiet = |_: &Progress| {};
    let report = sync::sync(&store, &options, if as_json { &quiet } else { &progress_line }, &cancel)?;
    if !as_json {
        eprintln!();
    }
    let fetched = if fetch_photos { sync::fetch_missing_photos(&store, &options, &cancel)? } else { 0 };
    if as_json {
        render::json(&json!({"report": report, "photos_fetched": fetched}));
    } else {
        println!(
            "同步完成：{} 次请求，上传 {} 份记录，接收 {} 份记录，照片上传 {} 张、下载 {} 张，审计日志已确认至第 {} 条",
            report.progress.requests,
            report.progress.documents_pushed,
            report.progress.documents_pulled,
            report.progress.blobs_done,
            fetched,
            report.audit_through
        );
        for (id, why) in &report.refused {
            match report.forbidden.get(id) {
                Some(detail) => println!(
                    "  服务器拒绝 {id}：{}（位置 {}）",
                    onevisit_core::store::quarantine::rule_label_zh(&detail.rule),
                    detail.path
                ),
                None => println!("  服务器拒绝 {id}：{why}"),
            }
        }
        for (id, why) in &report.isolated {
            match &why.forbidden {
                Some(f) => println!(
                    "  已拒收并隔离 {id} 收到的修改：{}（位置 {}），其余记录照常同步",
                    f.rule.label_zh(),
                    f.path
                ),
                None => println!("  本机无法读取记录 {id}，已跳过，其余记录照常同步"),
            }
        }
        for id in &report.removed {
            println!("  已不再分配给本设备：{id}");
        }
        if let Some(why) = &report.audit_refused {
            println!("  审计日志被拒绝：{why}");
        }
    }
    Ok(())
}
