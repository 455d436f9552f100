//! What the tests, the benchmark, the fuzzing seeds and the demo share, kept out of the production
//! core: realistic sample photos ([`jpeg`]), a real `onevisit-server` process on loopback
//! ([`server`]) and a throw-away PostgreSQL cluster ([`postgres`]). It depends on no OneVisit
//! crate, so the core's own unit tests can use it too.

pub mod jpeg;
pub mod postgres;
pub mod server;

pub use jpeg::{SampleExif, sample_jpeg};
pub use postgres::PostgresCluster;
pub use server::{METRICS_TOKEN, ServerProcess, built_bin};
