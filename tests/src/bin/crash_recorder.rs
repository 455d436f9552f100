//! A recorder process for the crash test: opens a store, records answers in a loop and prints
//! `ack <n> <note>` after each call returns, until it is killed.
//!
//! Usage: onevisit-crash-recorder STORE_DIR TASK_CODE

use std::io::Write;
use std::path::Path;

use onevisit_core::domain::{CheckPointId, TaskCode};
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::AnswerValue;
use onevisit_core::store::Store;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, code] = args.as_slice() else {
        eprintln!("usage: onevisit-crash-recorder STORE_DIR TASK_CODE");
        std::process::exit(2);
    };
    let root = Path::new(dir);
    let wrapper = KeyFileWrapper::load(&root.join("device.key")).expect("key file");
    let mut store = Store::open(root, &wrapper).expect("open store");
    let code = TaskCode::parse(code).expect("task code");
    // The operator's own department's check points (scjg-01: market supervision).
    let points = ["SCJG-001-01", "SCJG-001-02", "SCJG-001-04"];
    let mut out = std::io::stdout().lock();
    // Bounded: the test kills the process long before this ends.
    for n in 0..100_000u32 {
        let cp = CheckPointId::new(points[n as usize % points.len()]).expect("literal");
        let note = format!("edit-{n}");
        store.answer(&code, &cp, AnswerValue::Pass, Some(note.clone()), vec![]).expect("answer");
        writeln!(out, "ack {n} {cp} {note}").and_then(|_| out.flush()).expect("stdout");
    }
}
