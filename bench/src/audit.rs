//! The audit tree at city scale: what appending one device's entry costs when the tenant's tree
//! already holds 10,000 or 100,000 leaves, on the embedded SQLite file and on PostgreSQL, beside
//! the reference — what every upload cost before the tree's nodes were stored (read every leaf
//! hash and recompute the root).

use std::path::Path;
use std::time::Instant;

use onevisit_core::sync::merkle::{self, Hash};
use onevisit_server::audit;
use onevisit_server::storage::postgres::PostgresStorage;
use onevisit_server::storage::sqlite::SqliteStorage;
use onevisit_server::storage::{Storage, StoredAuditEntry};
use onevisit_server::tenant::Tenant;
use onevisit_test_support::PostgresCluster;
use serde_json::json;

use crate::{emit, ms, percentile, round};

fn entry(device: &str, seq: u64) -> StoredAuditEntry {
    StoredAuditEntry {
        device: device.into(),
        seq,
        hash: format!("{seq:064x}"),
        leaf_hash: hex::encode(merkle::leaf_hash(format!("{device}/{seq}").as_bytes())),
        json: "{}".into(),
    }
}

/// Grows the tree to each of `sizes` and measures `samples` one-entry appends at each, and the
/// signed checkpoint the device gets back (time to make it, and its size on the wire).
async fn measure<S: Storage>(backend: &str, storage: S, data: &Path, sizes: &[u64], samples: usize) {
    std::fs::create_dir_all(data).expect("data directory");
    let tenant = Tenant::init(&storage, data, "330482").await.expect("tenant");
    let mut grown = 0u64;
    let mut probe_seq = 0u64;
    for &size in sizes {
        while grown < size {
            let batch = (size - grown).min(1_000);
            let entries = (grown + 1..=grown + batch).map(|s| entry("grow", s)).collect();
            storage.append_audit("grow".into(), grown, entries).await.expect("grow the tree");
            grown += batch;
        }
        let mut append = Vec::with_capacity(samples);
        let mut checkpoint = Vec::with_capacity(samples);
        let mut checkpoint_bytes = 0;
        for _ in 0..samples {
            let t = Instant::now();
            storage.append_audit("probe".into(), probe_seq, vec![entry("probe", probe_seq + 1)]).await.expect("append");
            append.push(ms(t.elapsed()));
            probe_seq += 1;
            // The signed checkpoint the upload is answered with (the frontier's nodes read, signed).
            let t = Instant::now();
            let signed = audit::checkpoint(&storage, &tenant, 0).await.expect("checkpoint");
            checkpoint.push(ms(t.elapsed()));
            checkpoint_bytes = serde_json::to_vec(&signed).expect("json").len();
        }
        // The reference: every leaf read and the root recomputed, as each upload did before.
        let n = storage.audit_size().await.expect("size");
        let t = Instant::now();
        let leaves = storage.audit_nodes((0..n).map(|i| (0, i)).collect()).await.expect("leaves");
        let all: Vec<Hash> = (0..n).map(|i| leaves[&(0, i)]).collect();
        std::hint::black_box(merkle::root(&all));
        let reference = ms(t.elapsed());
        emit(
            "server_audit_append_p50_ms",
            percentile(&mut append, 0.5),
            "ms",
            json!({"backend": backend, "tree_size": size, "p99_ms": round(percentile(&mut append, 0.99)),
                   "checkpoint_p50_ms": round(percentile(&mut checkpoint, 0.5)), "checkpoint_bytes": checkpoint_bytes,
                   "reference_recompute_ms": round(reference),
                   "detail": "one device's one-entry upload appended to the tenant's tree (leaf + the nodes it completes), then the signed checkpoint it is answered with (checkpoint_p50_ms, checkpoint_bytes as JSON); reference: reading every leaf and recomputing the root, the cost of each upload before nodes were stored (here the leaves are read key by key through the node lookup, slower than the old single ordered scan)"}),
        );
    }
}

/// Runs the group on SQLite (in `base`) and PostgreSQL (a throw-away cluster).
pub fn run(base: &Path, sizes: &[u64], samples: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = base.join("audit-sqlite");
    let sqlite = SqliteStorage::open(&dir).expect("SQLite storage");
    runtime.block_on(measure("sqlite", sqlite, &dir, sizes, samples));
    let cluster = PostgresCluster::start_durable();
    let url = cluster.database("audit");
    runtime.block_on(async {
        let postgres = PostgresStorage::connect(&url).await.expect("PostgreSQL storage");
        measure("postgres", postgres, &base.join("audit-postgres"), sizes, samples).await;
    });
}
