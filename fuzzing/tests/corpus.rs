//! Every stored fuzz input replayed through its harness: the seeds, the corpus the fuzzers kept,
//! and every input that once crashed a parser (`fuzz/artifacts/`, kept after the fix).

use std::path::Path;

#[test]
fn every_stored_fuzz_input_is_handled_without_a_crash() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (name, harness) in onevisit_fuzzing::TARGETS {
        let mut replayed = 0;
        for folder in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(name)) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_file() {
                    harness(&std::fs::read(&path).unwrap());
                    replayed += 1;
                }
            }
        }
        assert!(replayed > 0, "no stored input for the fuzz target {name}: run onevisit-seed-corpus");
    }
}

#[test]
fn every_harness_takes_empty_and_garbage_input() {
    for (_, harness) in onevisit_fuzzing::TARGETS {
        harness(b"");
        harness(&[0xff; 64]);
        harness(b"\n\n\n\n");
    }
}
