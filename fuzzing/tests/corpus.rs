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

#[test]
fn a_change_that_makes_automerges_decoder_panic_is_refused_as_malformed() {
    use onevisit_core::record::{RecordError, WriteRule};
    let found = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/artifacts/record_changes/automerge-decode-panics-on-an-unknown-actor-index");
    let bytes = std::fs::read(found).unwrap();
    let fixture = onevisit_fuzzing::fixture();
    let changes: Vec<automerge::Change> = onevisit_fuzzing::split_changes(&bytes[1..])
        .into_iter()
        .filter_map(|c| automerge::Change::from_bytes(c).ok())
        .collect();
    assert!(!changes.is_empty(), "the bytes parse as a change; only decoding its operations panics");
    let mut record = fixture.record();
    let heads = record.heads();
    match record.apply_changes(changes, &fixture.rules()) {
        Err(RecordError::Forbidden(f)) => assert_eq!(f.rule, WriteRule::Malformed, "{f:?}"),
        other => panic!("the hostile change was not refused as malformed: {other:?}"),
    }
    assert_eq!(record.heads(), heads, "the record is as it was");
}
