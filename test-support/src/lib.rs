//! What the tests, the benchmark, the fuzzing seeds and the demo share, kept out of the production
//! core: realistic sample photos ([`jpeg`]) and a real `onevisit-server` process on loopback
//! ([`server`]). It depends on no OneVisit crate, so the core's own unit tests can use it too.

pub mod jpeg;
pub mod server;

pub use jpeg::{SampleExif, sample_jpeg};
pub use server::{METRICS_TOKEN, ServerProcess, built_bin};
