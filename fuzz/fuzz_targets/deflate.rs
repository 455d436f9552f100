#![no_main]
//! Fuzzes `onevisit_fuzzing::deflate`.
libfuzzer_sys::fuzz_target!(init: onevisit_fuzzing::report_only_escaping_panics(), |data: &[u8]| {
    onevisit_fuzzing::deflate(data)
});
