//! `onevisit export` and `onevisit verify`: evidence bundles.

use std::path::Path;
use std::sync::Mutex;

use onevisit_core::bundle::{self, BundleProgress, ExportOptions, Format};
use onevisit_core::domain::TaskCode;
use onevisit_core::store::{Store, StoreError};
use onevisit_core::sync::{self, CancelToken, SyncOptions};
use serde_json::json;

use crate::error::CliError;
use crate::progress::Progress;
use crate::render;

/// Shows a bundle's progress: files done of the total, with the bytes beside it.
fn show_progress(display: &Progress) -> impl Fn(&BundleProgress) + '_ {
    move |p: &BundleProgress| {
        let total = (p.files_total > 0).then_some(p.files_total);
        display.update(p.files, total, format!("{} 个文件，{:.1} MB", p.files, p.bytes as f64 / 1_048_576.0));
    }
}

/// Exports tasks as a sealed bundle.
pub(crate) fn export(
    store: Store,
    codes: &[String],
    out: &Path,
    agency: Option<&str>,
    offline: bool,
    as_json: bool,
) -> Result<(), CliError> {
    let codes = codes.iter().map(|c| TaskCode::parse(c)).collect::<Result<Vec<_>, _>>()?;
    let store = Mutex::new(store);
    let cancel = CancelToken::new();
    let proofs = if offline {
        None
    } else {
        match sync::audit_proofs(&store, &SyncOptions::default(), &cancel) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("注意：未能从服务器取得审计日志的包含证明（{e}），证据包中不含证明");
                None
            }
        }
    };
    let mut store = store.into_inner().map_err(|_| StoreError::Poisoned)?;
    let agency = match agency {
        Some(a) => a.to_string(),
        None => bundle::export::default_agency(&mut store)?,
    };
    let options = ExportOptions { format: Format::for_destination(out), agency, proofs };
    let display = Progress::new("导出中", as_json);
    let summary = bundle::export(&mut store, &codes, out, &options, &show_progress(&display), &cancel);
    display.finish();
    let summary = summary?;
    if as_json {
        render::json(&json!({"bundle": out, "summary": summary}));
    } else {
        outln!(
            "已导出证据包 {}：{} 个文件（{} 字节），照片 {} 张，文书 {} 份，审计日志 {} 条（{} 条附包含证明）",
            out.display(),
            summary.files,
            summary.bytes,
            summary.photos,
            summary.documents,
            summary.audit_entries,
            summary.proven_entries
        );
    }
    if std::env::var_os("ONEVISIT_REPORT_PEAK_RSS").is_some() {
        report_peak_rss();
    }
    Ok(())
}

/// Verifies a bundle offline; exit code 3 names what failed.
pub(crate) fn verify(path: &Path, root: &str, as_json: bool) -> Result<(), CliError> {
    let display = Progress::new("核验中", as_json);
    let report = bundle::verify(path, root, &show_progress(&display), &CancelToken::new());
    display.finish();
    let report = report?;
    if as_json {
        render::json(&report);
    } else {
        for c in &report.checks {
            outln!("{} [{}] {}", if c.ok { "✓" } else { "✗" }, c.label_zh(), c.detail);
        }
        outln!(
            "{}",
            if report.is_valid() {
                "结果：证据包完整，全部核验通过 ✓"
            } else {
                "结果：核验未通过 ✗"
            }
        );
    }
    if report.root_mismatch() {
        // One cause explains every line above: say it, not twenty failures.
        return Err(CliError::BundleInvalid(
            "包内没有一张证书是由这个根公钥签发的：多半是 --root 给错了，请核对执法平台公布的根公钥（onevisit-server root-key）".into(),
        ));
    }
    if !report.is_valid() {
        let failed: Vec<String> =
            report.failures().iter().map(|c| format!("[{}] {}", c.label_zh(), c.detail)).collect();
        return Err(CliError::BundleInvalid(failed.join("; ")));
    }
    if std::env::var_os("ONEVISIT_REPORT_PEAK_RSS").is_some() {
        report_peak_rss();
    }
    Ok(())
}

/// Prints this process's peak resident set to stderr (for the benchmark).
pub(crate) fn report_peak_rss() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        eprintln!("peak_rss {}", line.trim_start_matches("VmHWM:").trim());
    }
}
