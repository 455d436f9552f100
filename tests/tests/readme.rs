//! The README's walk-through, run as written: the block after the walk-through marker, command by
//! command, against a fresh server and fresh stores with the binaries of this build, so that a
//! newcomer copying it ends with a verified evidence bundle.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use onevisit_flow_tests::{cli_bin, server_bin};

/// The README's walk-through block (the fenced block right after the marker comment).
fn walk_through() -> String {
    let readme = include_str!("../../README.md");
    let (_, after) = readme.split_once("<!-- walk-through:").expect("the README marks its walk-through");
    let (_, block) = after.split_once("```sh\n").expect("a sh block follows the marker");
    let (block, _) = block.split_once("\n```").expect("the block ends");
    block.to_string()
}

#[test]
fn the_readme_walk_through_runs_as_written_and_ends_with_a_verified_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("walk-through.sh");
    // Stop at the first failing command, as a person would.
    std::fs::write(&script, format!("set -eo pipefail\n{}\n", walk_through())).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bins = [cli_bin(), server_bin()].map(|b| b.parent().unwrap().to_path_buf());
    let path =
        std::env::join_paths(bins.iter().cloned().chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())))
            .unwrap();
    let (out, err) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut child = Command::new("bash")
        .arg(&script)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("PATH", path)
        .env("PORT", port.to_string())
        .env("TMPDIR", tmp.path())
        .env_remove("ONEVISIT_STORE")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(300) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The server the block started in the background goes with it, whatever happened.
    let _ = Command::new("kill").arg("--").arg(format!("-{}", child.id())).status();
    let (stdout, stderr) = (std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&err).unwrap());
    assert!(status.is_some_and(|s| s.success()), "the walk-through stopped:\n{stdout}\n{stderr}");
    for shown in ["根公钥", "已登记到", "1 项冲突", "已记录检查项 XFJY-001-04 的结果：已拍照", "有效 ✓", "全部核验通过"]
    {
        assert!(stdout.contains(shown), "{shown:?} not shown:\n{stdout}");
    }
}

#[test]
fn the_readme_task_draft_example_is_a_valid_task_for_the_sample_directory() {
    let readme = include_str!("../../README.md");
    let (_, after) = readme.split_once("```json\n").expect("the README shows a task draft");
    let (json, _) = after.split_once("\n```").expect("the block ends");
    let drafts: Vec<onevisit_core::domain::TaskDraft> = serde_json::from_str(json).expect("TaskDraft JSON");
    let directory = onevisit_core::sample::directory().unwrap();
    for draft in drafts {
        let code = onevisit_core::domain::TaskCode::parse("330482-20261201-AB12CD34").unwrap();
        onevisit_core::domain::Task::from_draft(draft, code, &directory).expect("a valid task");
    }
}
