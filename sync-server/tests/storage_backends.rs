//! One storage test suite, every backend: each behaviour below is a generic function run against
//! the embedded SQLite file and against a real PostgreSQL cluster started for the test — above all
//! the races that replicas make possible (two appends to one record, one enrolment code redeemed
//! twice, many devices uploading audit entries at once, a feed read while writes are in flight).

#![allow(clippy::unwrap_used, clippy::panic, reason = "test helpers: a panic is the failure being reported")]

use std::collections::{BTreeMap, BTreeSet};

use onevisit_core::sync::merkle;
use onevisit_server::storage::postgres::PostgresStorage;
use onevisit_server::storage::{
    ConsoleSession, ConsoleUser, DeviceRecord, NewRecord, Storage, StorageError, StoredAuditEntry, TenantRecord,
};
use onevisit_test_support::{PostgresCluster, on_every_backend};

on_every_backend!(
    the_tenant_is_initialised_once,
    an_enrolment_code_redeemed_twice_at_once_enrols_exactly_one_device,
    of_two_concurrent_appends_to_one_record_exactly_one_wins,
    a_compaction_keeps_the_heads_and_moves_the_version,
    concurrent_audit_uploads_from_many_devices_form_one_tree,
    an_audit_upload_that_does_not_continue_the_chain_is_refused,
    a_feed_read_while_writes_are_in_flight_never_skips_a_write,
    the_feed_shows_what_an_inspector_may_read_and_what_was_taken_away,
    a_replayed_nonce_is_refused_and_forgotten_after_the_horizon,
    a_replay_racing_its_original_is_refused_exactly_once,
    a_revocation_is_found_by_device,
    naming_a_hash_in_ones_own_record_grants_no_read_until_one_uploads_it,
    directory_data_is_versioned_by_its_hash,
    serials_are_handed_out_once_each,
    wrong_enrolment_codes_count_in_a_sliding_window_per_key,
    writes_racing_a_stream_of_request_nonces_all_succeed,
    records_created_in_one_batch_enter_the_feed_in_order_or_not_at_all,
    a_record_summary_is_written_with_each_write_and_never_by_a_stale_summariser,
    console_accounts_are_unique_and_a_password_change_or_disabling_ends_their_sessions,
    document_number_blocks_reserved_at_once_never_overlap_and_one_device_cannot_drain_a_series,
);

const DAY: &str = "20261201";

fn record(n: usize, department: &str, inspector: &str) -> NewRecord {
    NewRecord {
        id: format!("330482-{DAY}-{n:08}"),
        task_json: "{}".into(),
        departments: vec![department.into()],
        inspectors: vec![inspector.into()],
        heads: vec![format!("{n:064x}")],
        snapshot: vec![n as u8; 16],
        facts: format!("facts-{n}"),
    }
}

fn device(n: usize) -> DeviceRecord {
    DeviceRecord {
        device: format!("{n:064x}"),
        public_key: [n as u8; 32],
        inspector: "scjg-01".into(),
        certificate: "{}".into(),
        serial: format!("serial-{n}"),
        device_code: format!("CODE{n:04}"),
    }
}

fn entry(device: &str, seq: u64) -> StoredAuditEntry {
    let leaf = merkle::leaf_hash(format!("{device}/{seq}").as_bytes());
    StoredAuditEntry {
        device: device.into(),
        seq,
        hash: format!("{seq:064x}"),
        leaf_hash: hex::encode(leaf),
        json: "{}".into(),
    }
}

async fn the_tenant_is_initialised_once<S: Storage>(storage: S) {
    assert!(storage.tenant().await.unwrap().is_none());
    let tenant = TenantRecord { tenant: "330482".into(), ca_public_key: [7; 32], sealed_ca_seed: vec![1, 2, 3] };
    storage.init_tenant(tenant.clone()).await.unwrap();
    assert_eq!(storage.tenant().await.unwrap(), Some(tenant.clone()));
    let again = storage.init_tenant(TenantRecord { tenant: "330483".into(), ..tenant.clone() }).await;
    assert!(matches!(again, Err(StorageError::TenantExists)), "{again:?}");
    assert_eq!(storage.tenant().await.unwrap(), Some(tenant), "the first tenant stays");
}

async fn an_enrolment_code_redeemed_twice_at_once_enrols_exactly_one_device<S: Storage + Clone>(storage: S) {
    let now = 1_000;
    for round in 0..20 {
        let code = format!("code-{round}");
        storage.create_enrolment(code.clone(), "scjg-01".into(), now + 60_000).await.unwrap();
        let (a, b) = (storage.clone(), storage.clone());
        let (code_a, code_b) = (code.clone(), code.clone());
        let first = tokio::spawn(async move { a.enrol(code_a, now, device(2 * round)).await });
        let second = tokio::spawn(async move { b.enrol(code_b, now, device(2 * round + 1)).await });
        let results = [first.await.unwrap(), second.await.unwrap()];
        let enrolled = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(enrolled, 1, "round {round}: {results:?}");
        assert!(results.iter().any(|r| matches!(r, Err(StorageError::CodeUsed))), "{results:?}");
        let used_by = storage.enrolment_used_by(code).await.unwrap().unwrap();
        assert!(storage.device(used_by).await.unwrap().is_some(), "the device that spent the code is enrolled");
    }
    assert_eq!(storage.devices().await.unwrap().len(), 20, "one device per code");
    let expired = storage.enrol("code-0".into(), now, device(99)).await;
    assert!(matches!(expired, Err(StorageError::CodeUsed)), "{expired:?}");
    storage.create_enrolment("late".into(), "scjg-01".into(), now - 1).await.unwrap();
    assert!(matches!(storage.enrol("late".into(), now, device(98)).await, Err(StorageError::CodeExpired)));
    assert!(matches!(storage.enrol("none".into(), now, device(97)).await, Err(StorageError::UnknownCode)));
}

async fn of_two_concurrent_appends_to_one_record_exactly_one_wins<S: Storage + Clone>(storage: S) {
    for n in 0..20 {
        let doc = record(n, "scjg", "scjg-01");
        let id = doc.id.clone();
        storage.create_record(doc).await.unwrap();
        let (a, b) = (storage.clone(), storage.clone());
        let (id_a, id_b) = (id.clone(), id.clone());
        let first =
            tokio::spawn(async move { a.append_record(id_a, 1, vec![1; 8], vec!["a".into()], "facts-a".into()).await });
        let second =
            tokio::spawn(async move { b.append_record(id_b, 1, vec![2; 8], vec!["b".into()], "facts-b".into()).await });
        let results = [first.await.unwrap(), second.await.unwrap()];
        assert_eq!(results.iter().filter(|r| matches!(r, Ok(2))).count(), 1, "{results:?}");
        assert_eq!(
            results.iter().filter(|r| matches!(r, Err(StorageError::VersionConflict(_)))).count(),
            1,
            "{results:?}"
        );
        let stored = storage.record_bytes(id.clone()).await.unwrap().unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(stored.chunks.len(), 2, "the snapshot and the winner's chunk only");
        let meta = storage.record_meta(id.clone()).await.unwrap().unwrap();
        let winner = if stored.chunks[1] == vec![1; 8] { "a" } else { "b" };
        assert_eq!(meta.heads, vec![winner.to_string()], "the heads are the winner's");
        assert_eq!(meta.size, 24);
        let facts = storage.task_facts().await.unwrap();
        let (_, stored_facts) = facts.iter().find(|(i, _)| i == &id).unwrap();
        assert_eq!(stored_facts.as_deref(), Some(format!("facts-{winner}").as_str()), "the summary is the winner's");
    }
    let unknown = storage.append_record("330482-20261201-XXXXXXXX".into(), 1, vec![], vec![], String::new()).await;
    assert!(matches!(unknown, Err(StorageError::UnknownRecord(_))), "{unknown:?}");
    let exists = storage.create_record(record(0, "scjg", "scjg-01")).await;
    assert!(matches!(exists, Err(StorageError::RecordExists(_))), "{exists:?}");
}

async fn a_compaction_keeps_the_heads_and_moves_the_version<S: Storage>(storage: S) {
    let doc = record(1, "scjg", "scjg-01");
    let id = doc.id.clone();
    storage.create_record(doc).await.unwrap();
    storage.append_record(id.clone(), 1, vec![5; 4], vec!["h".into()], String::new()).await.unwrap();
    assert!(matches!(storage.compact_record(id.clone(), 1, vec![9; 3]).await, Err(StorageError::VersionConflict(_))));
    storage.compact_record(id.clone(), 2, vec![9; 3]).await.unwrap();
    let stored = storage.record_bytes(id.clone()).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.chunks), (3, vec![vec![9; 3]]));
    let meta = storage.record_meta(id).await.unwrap().unwrap();
    assert_eq!((meta.heads, meta.size, meta.chunks), (vec!["h".to_string()], 3, 0));
    assert_eq!(meta.departments, vec!["scjg".to_string()]);
    assert_eq!(meta.inspectors, vec!["scjg-01".to_string()]);
}

async fn concurrent_audit_uploads_from_many_devices_form_one_tree<S: Storage + Clone>(storage: S) {
    const DEVICES: usize = 8;
    const UPLOADS: u64 = 5;
    let mut tasks = Vec::new();
    for d in 0..DEVICES {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("device-{d}");
            for upload in 0..UPLOADS {
                let entries = (upload * 2 + 1..=upload * 2 + 2).map(|seq| entry(&name, seq)).collect();
                storage.append_audit(name.clone(), upload * 2, entries).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = DEVICES * UPLOADS as usize * 2;
    assert_eq!(storage.audit_size().await.unwrap(), total as u64, "every entry is one leaf");
    let leaves = storage.audit_nodes((0..total as u64).map(|i| (0, i)).collect()).await.unwrap();
    let hashes: Vec<merkle::Hash> = (0..total as u64).map(|i| leaves[&(0, i)]).collect();
    assert_eq!(hashes.iter().collect::<BTreeSet<_>>().len(), total, "no leaf twice");
    let root = merkle::root(&hashes);
    // The stored nodes the server signs checkpoints from agree with the leaves.
    let frontier_keys = merkle::range_nodes(0, total as u64);
    let frontier = storage.audit_nodes(frontier_keys.clone()).await.unwrap();
    let frontier: Vec<merkle::Hash> = frontier_keys.iter().map(|k| frontier[k]).collect();
    assert_eq!(merkle::fold_nodes(&frontier), root, "the stored nodes give the root of the leaves");
    let mut indices = BTreeSet::new();
    for d in 0..DEVICES {
        let name = format!("device-{d}");
        assert_eq!(storage.audit_head(name.clone()).await.unwrap().0, UPLOADS * 2);
        let mut last = None;
        for seq in 1..=UPLOADS * 2 {
            let index = storage.audit_leaf_index(name.clone(), seq).await.unwrap().unwrap();
            assert!(last.is_none_or(|l| l < index), "a device's entries stay in chain order");
            last = Some(index);
            indices.insert(index);
            let leaf = merkle::leaf_hash(format!("{name}/{seq}").as_bytes());
            assert_eq!(hashes[index as usize], leaf, "the index names the entry's own leaf");
            let proof = merkle::inclusion_proof(&hashes, index as usize).unwrap();
            assert!(merkle::verify_inclusion(&leaf, index, total as u64, &proof, &root));
        }
    }
    assert_eq!(indices, (0..total as u64).collect(), "leaf indices are dense");
}

async fn an_audit_upload_that_does_not_continue_the_chain_is_refused<S: Storage>(storage: S) {
    storage.append_audit("d".into(), 0, vec![entry("d", 1), entry("d", 2)]).await.unwrap();
    let stale = storage.append_audit("d".into(), 0, vec![entry("d", 1)]).await;
    assert!(matches!(stale, Err(StorageError::AuditHeadMoved(2))), "{stale:?}");
    assert_eq!(storage.audit_size().await.unwrap(), 2, "nothing of the refused upload is kept");
    assert_eq!(storage.audit_entry_hash("d".into(), 2).await.unwrap(), Some(format!("{:064x}", 2)));
    assert_eq!(storage.audit_entry_hash("d".into(), 3).await.unwrap(), None);
}

async fn a_feed_read_while_writes_are_in_flight_never_skips_a_write<S: Storage + Clone>(storage: S) {
    const RECORDS: usize = 12;
    const ROUNDS: u64 = 8;
    // A race: repeated on fresh records so that a feed handing out positions out of commit order
    // is caught on most runs (with a sequence instead of the counter row, 3 runs in 4 failed).
    const REPEATS: usize = 4;
    let mut cursor = 0;
    for repeat in 0..REPEATS {
        let ids: Vec<usize> = (repeat * RECORDS..(repeat + 1) * RECORDS).collect();
        for &n in &ids {
            storage.create_record(record(n, "scjg", "scjg-01")).await.unwrap();
        }
        let mut writers = Vec::new();
        for w in 0..3 {
            let storage = storage.clone();
            let mine: Vec<usize> = ids.iter().copied().skip(w).step_by(3).collect();
            writers.push(tokio::spawn(async move {
                for round in 0..ROUNDS {
                    for &n in &mine {
                        let id = record(n, "scjg", "scjg-01").id;
                        let heads = vec![format!("{n}-{round}")];
                        storage.append_record(id, round + 1, vec![0; 64], heads, String::new()).await.unwrap();
                    }
                }
            }));
        }
        let last = |n: usize| vec![format!("{n}-{}", ROUNDS - 1)];
        // A device syncing all the while: its cursor only moves past what it has seen.
        let reader = {
            let storage = storage.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                let mut cursor = cursor;
                let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for _ in 0..2_000 {
                    // The cursor moves as the server says (to the head when the page is not
                    // full): a head read outside the rows' snapshot would skip a write here.
                    let page = storage.feed("scjg-01".into(), vec![], cursor, 6).await.unwrap();
                    let next = page.next(cursor, 5);
                    for row in page.rows.into_iter().take(5) {
                        assert!(row.seq > cursor, "the feed goes forward");
                        seen.insert(row.id, row.heads);
                    }
                    assert!(next >= cursor, "the cursor never goes back");
                    cursor = next;
                    if ids.iter().all(|&n| seen.get(&record(n, "", "").id) == Some(&last(n))) {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                (cursor, seen)
            })
        };
        for w in writers {
            w.await.unwrap();
        }
        let (reached, mut seen) = reader.await.unwrap();
        // Whatever the reader has not seen yet is after its cursor, never behind it.
        for row in storage.feed("scjg-01".into(), vec![], reached, 1_000).await.unwrap().rows {
            cursor = row.seq;
            seen.insert(row.id, row.heads);
        }
        cursor = cursor.max(reached);
        for &n in &ids {
            let id = record(n, "scjg", "scjg-01").id;
            assert_eq!(seen.get(&id), Some(&last(n)), "{id}: the last write is seen");
        }
    }
    assert_eq!(storage.feed_head().await.unwrap(), (REPEATS * RECORDS) as u64 * (ROUNDS + 1));
}

async fn the_feed_shows_what_an_inspector_may_read_and_what_was_taken_away<S: Storage>(storage: S) {
    let mine = record(1, "scjg", "scjg-01");
    let departments = record(2, "xfjy", "xfjy-01");
    let other = record(3, "sthj", "sthj-01");
    for r in [&mine, &departments, &other] {
        storage.create_record(r.clone()).await.unwrap();
    }
    let storage = &storage;
    let feed = |since| async move { storage.feed("scjg-01".into(), vec!["xfjy".into()], since, 100).await.unwrap() };
    let first = feed(0).await;
    let ids: Vec<String> = first.rows.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, vec![mine.id.clone(), departments.id.clone()], "assigned or of a department read, in feed order");
    let cursor = storage.feed_head().await.unwrap();
    assert_eq!(first.head, cursor);
    assert_eq!(first.next(0, 99), cursor, "past the record it may not see, up to the head");
    assert!(feed(cursor).await.rows.is_empty());
    // A device that sees nothing of the city is still brought up to the head, so its next sync
    // does not walk the same records again.
    let nothing = storage.feed("sthj-09".into(), vec![], 0, 100).await.unwrap();
    assert!(nothing.rows.is_empty());
    assert_eq!(nothing.next(0, 99), cursor);
    storage.assign(other.id.clone(), "scjg-01".into(), true).await.unwrap();
    storage.assign(mine.id.clone(), "scjg-01".into(), false).await.unwrap();
    let rows = feed(cursor).await.rows;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].id.as_str(), rows[0].removed), (other.id.as_str(), false));
    assert_eq!(rows[0].heads, other.heads);
    assert_eq!((rows[1].id.as_str(), rows[1].removed), (mine.id.as_str(), true));
    assert!(rows[1].heads.is_empty());
    assert_eq!(storage.record_meta(mine.id.clone()).await.unwrap().unwrap().inspectors, Vec::<String>::new());
    let limited = storage.feed("scjg-01".into(), vec!["xfjy".into()], 0, 2).await.unwrap();
    assert_eq!(limited.rows.len(), 2);
    assert_eq!(limited.next(0, 1), limited.rows[0].seq, "a full page moves only past what it gave");
    assert!(matches!(
        storage.assign("330482-20261201-NOPE0000".into(), "scjg-01".into(), true).await,
        Err(StorageError::UnknownRecord(_))
    ));
    assert_eq!(storage.record_ids().await.unwrap(), vec![mine.id, departments.id, other.id]);
}

async fn a_replay_racing_its_original_is_refused_exactly_once<S: Storage + Clone>(storage: S) {
    // An attacker who captured a request sends it again many times at once, among other
    // devices' requests: whatever batch they land in, exactly one copy is fresh.
    for round in 0..10 {
        let mut sends = Vec::new();
        for copy in 0..16 {
            let storage = storage.clone();
            let (device, nonce) = if copy % 4 == 3 {
                (format!("other-{copy}"), format!("n{round}"))
            } else {
                ("d".into(), format!("n{round}"))
            };
            sends.push(tokio::spawn(async move { storage.remember_nonce(device, nonce, 1_000 + round, 0).await }));
        }
        let mut fresh_of_d = 0;
        for (copy, send) in sends.into_iter().enumerate() {
            let fresh = send.await.unwrap().unwrap();
            if copy % 4 == 3 {
                assert!(fresh, "another device's nonce is its own");
            } else if fresh {
                fresh_of_d += 1;
            }
        }
        assert_eq!(fresh_of_d, 1, "round {round}");
    }
}

async fn a_replayed_nonce_is_refused_and_forgotten_after_the_horizon<S: Storage>(storage: S) {
    assert!(storage.remember_nonce("d".into(), "n1".into(), 1_000, 0).await.unwrap());
    assert!(!storage.remember_nonce("d".into(), "n1".into(), 1_001, 0).await.unwrap(), "a replay");
    assert!(storage.remember_nonce("e".into(), "n1".into(), 1_002, 0).await.unwrap(), "nonces are per device");
    // Past the horizon the old nonce is gone (the clock check refuses such an old request first).
    assert!(storage.remember_nonce("d".into(), "n2".into(), 500_000, 400_000).await.unwrap());
    assert!(storage.remember_nonce("d".into(), "n1".into(), 500_001, 400_000).await.unwrap());
}

async fn a_revocation_is_found_by_device<S: Storage>(storage: S) {
    storage.create_enrolment("c1".into(), "scjg-01".into(), 10_000).await.unwrap();
    storage.enrol("c1".into(), 1, device(1)).await.unwrap();
    assert_eq!(storage.revocation(device(1).device).await.unwrap(), None);
    let unknown = storage.revoke("nobody".into(), "lost".into(), 5).await;
    assert!(matches!(unknown, Err(StorageError::UnknownDevice(_))), "{unknown:?}");
    let r = storage.revoke(device(1).device, "丢失".into(), 5).await.unwrap();
    assert_eq!((r.serial.as_str(), r.revoked_at_ms, r.reason.as_str()), ("serial-1", 5, "丢失"));
    let again = storage.revoke(device(1).device, "again".into(), 9).await.unwrap();
    assert_eq!(again, r, "the first revocation stands");
    assert_eq!(storage.revocation(device(1).device).await.unwrap(), Some(r.clone()));
    assert_eq!(storage.revocations().await.unwrap(), vec![r]);
}

async fn naming_a_hash_in_ones_own_record_grants_no_read_until_one_uploads_it<S: Storage>(storage: S) {
    let photo = "ab".repeat(32);
    let (a, b) = (record(1, "xfjy", "xfjy-01"), record(2, "sthj", "sthj-01"));
    storage.create_record(a.clone()).await.unwrap();
    storage.create_record(b.clone()).await.unwrap();
    let may_read = |inspector: &str, department: &str| {
        storage.may_read_blob(photo.clone(), inspector.to_string(), vec![department.to_string()])
    };
    storage.add_blob_refs(a.id.clone(), "owner".into(), vec![photo.clone()]).await.unwrap();
    assert!(storage.blob_referenced(photo.clone(), "xfjy-01".into(), vec![]).await.unwrap());
    assert!(!may_read("xfjy-01", "xfjy").await.unwrap(), "not before the bytes are there");
    storage.add_blob_holder(photo.clone(), "owner".into()).await.unwrap();
    assert!(may_read("xfjy-01", "xfjy").await.unwrap());
    assert!(may_read("someone", "xfjy").await.unwrap(), "by department");
    storage.add_blob_refs(b.id.clone(), "attacker".into(), vec![photo.clone()]).await.unwrap();
    assert!(!may_read("sthj-01", "sthj").await.unwrap());
    storage.add_blob_holder(photo.clone(), "attacker".into()).await.unwrap();
    assert!(may_read("sthj-01", "sthj").await.unwrap());
}

async fn directory_data_is_versioned_by_its_hash<S: Storage>(storage: S) {
    assert_eq!(storage.directory_version().await.unwrap(), None);
    storage.put_directory("{\"a\":1}".into()).await.unwrap();
    let first = storage.directory_version().await.unwrap().unwrap();
    storage.put_directory("{\"a\":2}".into()).await.unwrap();
    let second = storage.directory_version().await.unwrap().unwrap();
    assert_ne!(first, second);
    assert_eq!(storage.directory().await.unwrap().as_deref(), Some("{\"a\":2}"));
}

async fn serials_are_handed_out_once_each<S: Storage + Clone>(storage: S) {
    assert!(matches!(storage.next_serial().await, Err(StorageError::NoTenant)));
    storage
        .init_tenant(TenantRecord { tenant: "330482".into(), ca_public_key: [1; 32], sealed_ca_seed: vec![] })
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = storage.clone();
            tokio::spawn(async move { s.next_serial().await.unwrap() })
        })
        .collect();
    let mut serials = BTreeSet::new();
    for t in tasks {
        serials.insert(t.await.unwrap());
    }
    assert_eq!(serials, (1..=10).collect());
}

async fn wrong_enrolment_codes_count_in_a_sliding_window_per_key<S: Storage>(storage: S) {
    let keys = || vec!["address:10.0.0.1".to_string(), "prefix:ABCD".to_string()];
    assert_eq!(storage.enrolment_nth_failure(keys(), 2, 0).await.unwrap(), None);
    storage.enrolment_failed(vec!["address:10.0.0.1".into()], 1_000, 0).await.unwrap();
    storage.enrolment_failed(vec!["prefix:ABCD".into()], 2_000, 0).await.unwrap();
    assert_eq!(storage.enrolment_nth_failure(keys(), 2, 0).await.unwrap(), None, "one failure per key");
    storage.enrolment_failed(keys(), 3_000, 0).await.unwrap();
    assert_eq!(storage.enrolment_nth_failure(keys(), 2, 0).await.unwrap(), Some(2_000), "the later of the keys");
    assert_eq!(storage.enrolment_nth_failure(keys(), 2, 1_500).await.unwrap(), Some(2_000));
    assert_eq!(storage.enrolment_nth_failure(keys(), 2, 2_500).await.unwrap(), None, "out of the window");
    // Old failures are forgotten.
    storage.enrolment_failed(vec!["other".into()], 10_000, 5_000).await.unwrap();
    assert_eq!(storage.enrolment_nth_failure(keys(), 1, 0).await.unwrap(), None);
}

// ---- PostgreSQL only: what an administrator gets wrong ----

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://onevisit:secret@127.0.0.1:{port}/city");
    let Err(e) = PostgresStorage::connect(&url).await else { panic!("connected to nothing") };
    assert!(matches!(e, StorageError::DatabaseUnreachable { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}/city")) && !message.contains("secret"), "{message}");
    let bad = PostgresStorage::connect("mysql://x").await;
    assert!(matches!(bad, Err(StorageError::DatabaseUrl(_))), "{:?}", bad.err());
}

#[tokio::test]
async fn a_wrong_password_or_missing_database_is_refused_and_creates_nothing() {
    let cluster = PostgresCluster::start();
    let url = cluster.database("city");
    let wrong = url.replace(onevisit_test_support::postgres::PG_PASSWORD, "wrong");
    let e = PostgresStorage::connect(&wrong).await.err().unwrap();
    assert!(matches!(e, StorageError::DatabaseLogin { .. }), "{e:?}");
    assert!(e.to_string().contains("onevisit") && !e.to_string().contains("wrong"), "{e}");
    let e = PostgresStorage::connect(&cluster.url("nowhere")).await.err().unwrap();
    assert!(matches!(e, StorageError::NoSuchDatabase(_)), "{e:?}");
    let tables = cluster.psql("city", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
    assert!(String::from_utf8_lossy(&tables.stdout).contains(" 0\n"), "{tables:?}");
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_server_is_refused_untouched() {
    let cluster = PostgresCluster::start();
    let url = cluster.database("city");
    let storage = PostgresStorage::connect(&url).await.unwrap();
    storage.put_directory("{}".into()).await.unwrap();
    drop(storage);
    let out = cluster.psql("city", "INSERT INTO onevisit_schema (version) VALUES (999)");
    assert!(out.status.success(), "{out:?}");
    let e = PostgresStorage::connect(&url).await.err().unwrap();
    assert!(matches!(e, StorageError::SchemaTooNew { found: 999, .. }), "{e:?}");
    assert!(e.to_string().contains("不要降级"), "{e}");
    // Connecting again, and several servers starting at once, migrate once.
    let out = cluster.psql("city", "DELETE FROM onevisit_schema WHERE version = 999");
    assert!(out.status.success());
    let (a, b) = tokio::join!(PostgresStorage::connect(&url), PostgresStorage::connect(&url));
    a.unwrap();
    b.unwrap().directory().await.unwrap().unwrap();
}

#[tokio::test]
async fn two_servers_starting_on_a_new_database_at_once_migrate_it_once() {
    let cluster = PostgresCluster::start();
    let url = cluster.database("city");
    let (a, b, c) =
        tokio::join!(PostgresStorage::connect(&url), PostgresStorage::connect(&url), PostgresStorage::connect(&url));
    let (a, b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    a.put_directory("{\"x\":1}".into()).await.unwrap();
    assert_eq!(b.directory().await.unwrap().as_deref(), Some("{\"x\":1}"));
    // Every migration applied and recorded (a second run of one would have failed its connect).
    let versions = cluster.psql("city", "SELECT count(*) = max(version) AND count(*) > 1 FROM onevisit_schema");
    assert!(String::from_utf8_lossy(&versions.stdout).contains(" t\n"), "{versions:?}");
}

async fn writes_racing_a_stream_of_request_nonces_all_succeed<S: Storage + Clone>(storage: S) {
    // Every request records its nonce (on the embedded store, on a connection of its own) while
    // other requests enrol devices, create and append records: none of those writes may fail
    // because the other writer committed in between.
    storage
        .init_tenant(TenantRecord { tenant: "330482".into(), ca_public_key: [1; 32], sealed_ca_seed: vec![] })
        .await
        .unwrap();
    let nonces = storage.clone();
    let stream = tokio::spawn(async move {
        for burst in 0..100 {
            let sends: Vec<_> = (0..20)
                .map(|n| {
                    let storage = nonces.clone();
                    tokio::spawn(async move {
                        storage.remember_nonce(format!("d{n}"), format!("b{burst}"), 1_000 + burst, 0).await
                    })
                })
                .collect();
            for send in sends {
                assert!(send.await.unwrap().unwrap(), "a fresh nonce");
            }
        }
    });
    let now = 1_000;
    for n in 0..60 {
        let code = format!("race-{n}");
        storage.create_enrolment(code.clone(), "scjg-01".into(), now + 60_000).await.unwrap();
        storage.enrol(code, now, device(n)).await.unwrap();
        storage.next_serial().await.unwrap();
        storage.create_record(record(n, "scjg", "scjg-01")).await.unwrap();
        storage
            .append_record(record(n, "scjg", "scjg-01").id, 1, vec![1, 2, 3], vec![format!("{n:064x}")], String::new())
            .await
            .unwrap();
    }
    stream.await.unwrap();
}

async fn records_created_in_one_batch_enter_the_feed_in_order_or_not_at_all<S: Storage>(storage: S) {
    let batch: Vec<NewRecord> = (0..5).map(|n| record(n, "scjg", "scjg-01")).collect();
    storage.create_records(batch).await.unwrap();
    let page = storage.feed("scjg-01".into(), vec!["scjg".into()], 0, 100).await.unwrap();
    let ids: Vec<String> = page.rows.iter().map(|r| r.id.clone()).collect();
    let expected: Vec<String> = (0..5).map(|n| record(n, "scjg", "scjg-01").id).collect();
    assert_eq!(ids, expected, "in the batch's order");
    // One id already taken: the whole batch is refused and none of it is stored.
    let clash: Vec<NewRecord> = [7, 8, 3, 9].iter().map(|&n| record(n, "scjg", "scjg-01")).collect();
    let refused = storage.create_records(clash).await;
    assert!(
        matches!(refused, Err(StorageError::RecordExists(ref id)) if *id == record(3, "scjg", "scjg-01").id),
        "{refused:?}"
    );
    for n in [7, 8, 9] {
        assert!(storage.record_meta(record(n, "scjg", "scjg-01").id).await.unwrap().is_none(), "record {n} not stored");
    }
    let after = storage.feed("scjg-01".into(), vec!["scjg".into()], 0, 100).await.unwrap();
    assert_eq!(after.rows.len(), 5, "the feed holds only the first batch");
}

async fn a_record_summary_is_written_with_each_write_and_never_by_a_stale_summariser<S: Storage>(storage: S) {
    let doc = record(7, "scjg", "scjg-01");
    let id = doc.id.clone();
    storage.create_records(vec![record(6, "scjg", "scjg-01"), doc]).await.unwrap();
    let mut all = storage.task_facts().await.unwrap();
    all.sort();
    assert_eq!(all, vec![(record(6, "", "").id, Some("facts-6".into())), (id.clone(), Some("facts-7".into()))]);
    storage.append_record(id.clone(), 1, vec![1], vec!["h".into()], "after-append".into()).await.unwrap();
    let of = |all: Vec<(String, Option<String>)>| all.into_iter().find(|(i, _)| i == &id).and_then(|(_, f)| f);
    assert_eq!(of(storage.task_facts().await.unwrap()).as_deref(), Some("after-append"));
    // A summary computed from the record before that append is not stored over the newer one.
    assert!(!storage.put_facts(id.clone(), 1, "stale".into()).await.unwrap());
    assert_eq!(of(storage.task_facts().await.unwrap()).as_deref(), Some("after-append"));
    assert!(storage.put_facts(id.clone(), 2, "current".into()).await.unwrap());
    assert_eq!(of(storage.task_facts().await.unwrap()).as_deref(), Some("current"));
    assert!(!storage.put_facts("330482-20261201-XXXXXXXX".into(), 1, "none".into()).await.unwrap());
    // A compaction keeps the summary (same heads, same content).
    storage.compact_record(id.clone(), 2, vec![9]).await.unwrap();
    assert_eq!(of(storage.task_facts().await.unwrap()).as_deref(), Some("current"));
}

async fn console_accounts_are_unique_and_a_password_change_or_disabling_ends_their_sessions<S: Storage>(storage: S) {
    let user = |name: &str, role: &str, department: Option<&str>| ConsoleUser {
        name: name.into(),
        password_hash: format!("hash-of-{name}"),
        role: role.into(),
        department: department.map(Into::into),
        disabled: false,
        created_at_ms: 1,
    };
    storage.add_user(user("zhang", "supervisor", Some("xfjy"))).await.unwrap();
    storage.add_user(user("admin", "administrator", None)).await.unwrap();
    let again = storage.add_user(user("zhang", "auditor", None)).await;
    assert!(matches!(again, Err(StorageError::UserExists(_))), "{again:?}");
    assert_eq!(storage.user("zhang".into()).await.unwrap(), Some(user("zhang", "supervisor", Some("xfjy"))));
    assert_eq!(storage.user("nobody".into()).await.unwrap(), None);
    let names: Vec<String> = storage.users().await.unwrap().into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["admin", "zhang"]);

    let session = |token: &str, user: &str, expires_at_ms: i64| ConsoleSession {
        token_sha256: token.into(),
        user: user.into(),
        csrf: format!("csrf-{token}"),
        expires_at_ms,
    };
    storage.create_session(session("t1", "zhang", 1_000), 0).await.unwrap();
    storage.create_session(session("t2", "admin", 1_000), 0).await.unwrap();
    assert_eq!(storage.session("t1".into(), 999).await.unwrap(), Some(session("t1", "zhang", 1_000)));
    assert_eq!(storage.session("t1".into(), 1_000).await.unwrap(), None, "expired");
    assert_eq!(storage.session("nope".into(), 0).await.unwrap(), None);
    storage.end_session("t2".into()).await.unwrap();
    assert_eq!(storage.session("t2".into(), 0).await.unwrap(), None, "logged out");

    storage.create_session(session("t3", "zhang", 5_000), 0).await.unwrap();
    storage.set_password("zhang".into(), "new-hash".into()).await.unwrap();
    assert_eq!(storage.session("t3".into(), 0).await.unwrap(), None, "a new password ends the sessions");
    assert_eq!(storage.user("zhang".into()).await.unwrap().unwrap().password_hash, "new-hash");
    storage.create_session(session("t4", "zhang", 5_000), 0).await.unwrap();
    storage.set_disabled("zhang".into(), true).await.unwrap();
    assert_eq!(storage.session("t4".into(), 0).await.unwrap(), None, "disabling ends the sessions");
    assert!(storage.user("zhang".into()).await.unwrap().unwrap().disabled);
    let unknown = storage.set_disabled("nobody".into(), true).await;
    assert!(matches!(unknown, Err(StorageError::UnknownUser(_))), "{unknown:?}");
    let unknown = storage.set_password("nobody".into(), "x".into()).await;
    assert!(matches!(unknown, Err(StorageError::UnknownUser(_))), "{unknown:?}");
}

async fn document_number_blocks_reserved_at_once_never_overlap_and_one_device_cannot_drain_a_series<
    S: Storage + Clone,
>(
    storage: S,
) {
    use onevisit_core::sync::wire::NumberSeries;
    let series = |d: &str, k: &str| NumberSeries { department: d.into(), kind: k.into(), year: 2026 };
    let fire = vec![series("xfjy", "rectification_order"), series("scjg", "on_site_record")];
    // Eight devices (as if on different replicas) reserve blocks of the same series at once.
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (storage, fire) = (storage.clone(), fire.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..5 {
                got.push(storage.reserve_numbers(format!("device-{n}"), fire.clone(), 10, 100, 1).await.unwrap());
            }
            got
        }));
    }
    let mut firsts: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    for t in tasks {
        for blocks in t.await.unwrap() {
            for (i, first) in blocks.into_iter().enumerate() {
                assert!(firsts.entry(i).or_default().insert(first.unwrap()), "a block was handed out twice");
            }
        }
    }
    // Forty blocks of ten of each series: exactly 1, 11, … 391, whatever the interleaving.
    for i in 0..2 {
        assert_eq!(firsts[&i], (0..40).map(|k| 1 + 10 * k).collect::<BTreeSet<u32>>(), "series {i}");
    }
    // Another year's (or another department's) sequence starts at 1 of its own.
    let next_year = NumberSeries { year: 2027, ..series("xfjy", "rectification_order") };
    assert_eq!(storage.reserve_numbers("device-0".into(), vec![next_year], 10, 100, 1).await.unwrap(), [Some(1)]);
    // A device holding as many blocks as the cap gets no more of that series.
    let capped = storage.reserve_numbers("device-0".into(), fire.clone(), 10, 5, 1).await.unwrap();
    assert_eq!(capped, [None, None]);
}
