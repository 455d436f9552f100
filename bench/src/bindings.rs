//! Per-call overhead of the bindings: the same calls through Kotlin (JNA, the generated bindings)
//! and straight in Rust on the same `onevisit-ffi` surface, in one run, on copies of one store.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use onevisit_ffi::store::{DeviceStore, KeyProtection};
use onevisit_ffi::types::Answer;
use serde_json::{Value, json};

use crate::{emit, ms, on_site_store, percentile, release_bin, round, shell};

/// Runs both sides: `trivial` calls of `core_version`, `answers` check-point answers.
pub fn run(base: &Path, trivial: usize, answers: usize) {
    let (store, code) = on_site_store(&base.join("ffi-rust"));
    drop(store);
    shell(&format!("cp -r {} {}", base.join("ffi-rust").display(), base.join("ffi-kotlin").display()));
    let code = code.to_string();

    // Rust, through the same exported functions the generated Kotlin calls.
    let rust_trivial = {
        for _ in 0..1000 {
            std::hint::black_box(onevisit_ffi::core_version());
        }
        let t = Instant::now();
        for _ in 0..trivial {
            std::hint::black_box(onevisit_ffi::core_version());
        }
        t.elapsed().as_secs_f64() * 1e9 / trivial as f64
    };
    let cancellation = onevisit_ffi::background::Cancellation::new();
    let rust_is_cancelled = {
        let t = Instant::now();
        for _ in 0..trivial {
            std::hint::black_box(cancellation.is_cancelled());
        }
        t.elapsed().as_secs_f64() * 1e9 / trivial as f64
    };
    let key = KeyProtection::KeyFile { path: base.join("ffi-rust/device.key").display().to_string() };
    let store = DeviceStore::open(base.join("ffi-rust").display().to_string(), key, None).expect("open store");
    let mut samples = Vec::with_capacity(answers);
    for i in 0..answers {
        let answer = if i % 2 == 0 { Answer::Pass } else { Answer::Fail };
        let t = Instant::now();
        store.answer(code.clone(), "SCJG-001-01".into(), answer, Some(format!("第{i}次")), vec![]).expect("answer");
        samples.push(ms(t.elapsed()));
    }
    let rust_answer = percentile(&mut samples, 0.5);

    // Kotlin, in a JVM through Maven, against the release build of the same library.
    let lib = release_bin("libonevisit_ffi.so", &["-p", "onevisit-ffi", "--lib"]);
    let pom = concat!(env!("CARGO_MANIFEST_DIR"), "/../android/onevisit-kotlin/pom.xml");
    let target = lib.parent().expect("target dir").display().to_string();
    let args = format!(
        "{} {} {code} {trivial} {answers}",
        base.join("ffi-kotlin").display(),
        base.join("ffi-kotlin/device.key").display()
    );
    let out = Command::new("mvn")
        .args(["-q", "-B", "-Dstyle.color=never", "-f", pom, "test-compile", "exec:java@bench"])
        .arg(format!("-Donevisit.bench.target={target}"))
        .arg(format!("-Dexec.args={args}"))
        .output()
        .expect("run mvn (Maven and Java 17 are needed for this group)");
    let said = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    assert!(out.status.success(), "the Kotlin benchmark failed: {}{}", said(&out.stdout), said(&out.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.find('{').and_then(|i| serde_json::from_str(&l[i..]).ok()))
        .collect();
    let kotlin = |name: &str| {
        lines.iter().find(|l| l["name"] == name).and_then(|l| l["value"].as_f64()).expect("the Kotlin figure")
    };
    let (kotlin_trivial, kotlin_answer) = (kotlin("kotlin_core_version_ns"), kotlin("kotlin_answer_p50_ms"));
    let kotlin_primitive = kotlin("kotlin_is_cancelled_ns");
    emit(
        "bindings_trivial_call",
        kotlin_trivial,
        "ns",
        json!({"reference": round(rust_trivial), "reference_name": "rust_core_version_ns", "overhead_ns": round(kotlin_trivial - rust_trivial), "calls": trivial}),
    );
    emit(
        "bindings_primitive_method_call",
        kotlin_primitive,
        "ns",
        json!({"reference": round(rust_is_cancelled), "reference_name": "rust_is_cancelled_ns", "overhead_ns": round(kotlin_primitive - rust_is_cancelled), "calls": trivial, "detail": "Cancellation.isCancelled(): an object method returning a boolean, no buffers"}),
    );
    emit(
        "bindings_answer_p50",
        kotlin_answer,
        "ms",
        json!({"reference": round(rust_answer), "reference_name": "rust_answer_p50_ms", "overhead_ms": round(kotlin_answer - rust_answer), "ratio": round(kotlin_answer / rust_answer), "calls": answers}),
    );
}
