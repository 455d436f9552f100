//! What the tests, the benchmark, the fuzzing seeds and the demo share, kept out of the production
//! core: realistic sample photos ([`jpeg`]), handwritten signatures ([`handwriting`]), a real `onevisit-server` process on loopback
//! ([`server`]), a throw-away PostgreSQL cluster ([`postgres`]) and a real S3-compatible server ([`s3`]). It depends on no OneVisit
//! crate, so the core's own unit tests can use it too.

pub mod console;
pub mod handwriting;
pub mod jpeg;
pub mod postgres;
pub mod s3;
pub mod server;

pub use handwriting::handwriting_png;
pub use jpeg::{SampleExif, sample_jpeg};
pub use postgres::PostgresCluster;
pub use s3::S3Server;
pub use server::{METRICS_TOKEN, ServerProcess, built_bin};

/// Re-exported for [`on_every_backend!`]: the embedded backend's throw-away data directory.
pub use tempfile;

/// Runs each named generic async test (`async fn name<S: Storage>(storage: S)`) on the embedded
/// SQLite file and on a PostgreSQL cluster of its own, as modules `sqlite` and `postgres`. The
/// calling crate depends on `onevisit-server` and `tokio`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = $crate::tempfile::tempdir().unwrap();
                    super::$name(::onevisit_server::storage::sqlite::SqliteStorage::open(dir.path()).unwrap()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let cluster = $crate::PostgresCluster::start();
                    let url = cluster.database("onevisit");
                    super::$name(::onevisit_server::storage::postgres::PostgresStorage::connect(&url).await.unwrap()).await;
                }
            )*
        }
    };
}
