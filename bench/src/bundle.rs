//! The `bundle` group: exporting and verifying a task with many ~3 MB photos, each beside
//! `cp -r` plus `sha256sum` of the same files in the same run, and the peak RSS of the `onevisit`
//! process doing it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use onevisit_core::evidence::CaptureTarget;
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::Position;
use onevisit_core::sample;
use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken, SyncOptions};
use onevisit_server::embedded::EmbeddedServer;
use onevisit_test_support::{SampleExif, sample_jpeg};
use serde_json::json;

use crate::{emit, ms, round, shell};

fn cli_bin() -> PathBuf {
    crate::release_bin("onevisit", &["--bin", "onevisit"])
}

/// Runs the CLI, returning (wall time, peak RSS in MiB).
fn timed_cli(args: &[&str]) -> (f64, f64) {
    let bin = cli_bin(); // built first if missing: never inside the timing
    let t = Instant::now();
    let out = Command::new(bin).args(args).env("ONEVISIT_REPORT_PEAK_RSS", "1").output().expect("onevisit");
    let elapsed = ms(t.elapsed());
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss "))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    (elapsed, kb / 1024.0)
}

/// Runs the group with `photos` photos.
pub fn run(base: &Path, photos: usize) {
    let base = base.join("bundle");
    let directory = sample::directory().expect("sample");
    let server = EmbeddedServer::start(&base.join("server"), "330482", &directory).expect("embedded server");
    let today = chrono::Utc::now().date_naive();
    let codes = server.plan(&directory, vec![sample::joint_task_draft(&directory, 3, today)]).expect("plan");
    let code = onevisit_core::domain::TaskCode::parse(&codes[0]).expect("code");
    let root = base.join("device");
    std::fs::create_dir_all(&root).expect("store dir");
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key")).expect("key");
    let mut store = Store::init(&root, &wrapper, Some("xfjy-01".parse().expect("inspector"))).expect("init");
    store.import_directory(directory.clone()).expect("import");
    let one_time = server.enrolment_code("xfjy-01").expect("code");
    sync::enrol(&mut store, &server.base, &one_time, &server.root_public_key).expect("enrol");
    let store = Mutex::new(store);
    let options = SyncOptions { upload_blobs: false, ..Default::default() };
    let quiet = |_: &sync::Progress| {};
    sync::sync(&store, &options, &quiet, &CancelToken::new()).expect("sync");

    // ~3 MB photos (noise compresses badly), each different.
    let originals = base.join("originals");
    std::fs::create_dir_all(&originals).expect("originals dir");
    let mut total = 0u64;
    {
        let mut s = store.lock().expect("store");
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).expect("fix")).expect("check in");
        for i in 0..photos {
            let exif = SampleExif {
                capture_time: format!("2026:11:29 10:{:02}:{:02}", i / 60, i % 60),
                ..SampleExif::pinghu()
            };
            let photo = sample_jpeg(3360 + (i as u32 % 7), 2520, Some(&exif));
            total += photo.len() as u64;
            std::fs::write(originals.join(format!("{i:04}.jpg")), &photo).expect("write original");
            s.add_photo(&code, &photo, CaptureTarget::Inspection, None).expect("photo");
        }
    }
    drop(store);
    let store_arg = root.to_str().expect("path");

    // The reference: copy the same files and hash them, in the same run.
    let copy = base.join("copy");
    let cp_ms = shell(&format!("cp -r {} {}", originals.display(), copy.display()));
    let sum_ms = shell(&format!("sha256sum {}/* > /dev/null", copy.display()));
    let reference = cp_ms + sum_ms;

    let bag = base.join("case");
    let (export_ms, export_rss) =
        timed_cli(&["--store", store_arg, "export", code.as_str(), "--out", bag.to_str().expect("path"), "--offline"]);
    let (verify_ms, verify_rss) =
        timed_cli(&["verify", bag.to_str().expect("path"), "--root", &server.root_public_key]);
    let zip = base.join("case.zip");
    let (zip_ms, zip_rss) =
        timed_cli(&["--store", store_arg, "export", code.as_str(), "--out", zip.to_str().expect("path"), "--offline"]);
    let (zip_verify_ms, zip_verify_rss) =
        timed_cli(&["verify", zip.to_str().expect("path"), "--root", &server.root_public_key]);

    let detail = json!({"photos": photos, "photo_bytes": total, "cp_ms": round(cp_ms), "sha256sum_ms": round(sum_ms)});
    let line = |name: &str, value: f64, rss: f64| {
        emit(
            name,
            value,
            "ms",
            json!({"reference": round(reference), "reference_name": "cp_r_plus_sha256sum", "ratio": round(value / reference),
                   "ratio_to_cp_alone": round(value / cp_ms),
                   "target": "<= 1.5x reference", "peak_rss_mib": round(rss), "rss_target": "< 100 MiB", "detail": detail}),
        )
    };
    line("bundle_export_folder", export_ms, export_rss);
    line("bundle_verify_folder", verify_ms, verify_rss);
    line("bundle_export_zip", zip_ms, zip_rss);
    line("bundle_verify_zip", zip_verify_ms, zip_verify_rss);
}
