//! What the tests, the benchmark, the fuzzing seeds and the demo share, kept out of the production
//! core: realistic sample photos ([`jpeg`]), a real `onevisit-server` process on loopback
//! ([`server`]), a throw-away PostgreSQL cluster ([`postgres`]) and a real S3-compatible server ([`s3`]). It depends on no OneVisit
//! crate, so the core's own unit tests can use it too.

pub mod jpeg;
pub mod postgres;
pub mod s3;
pub mod server;

pub use jpeg::{SampleExif, sample_jpeg};
pub use postgres::PostgresCluster;
pub use s3::S3Server;
pub use server::{METRICS_TOKEN, ServerProcess, built_bin};
