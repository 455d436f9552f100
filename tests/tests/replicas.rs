//! Devices syncing through two server replicas on one PostgreSQL database and one S3 bucket (no
//! shared folder), a balancer sending each request to the next replica: convergence to identical
//! heads, a photo whose chunks land on both replicas, and a replica killed mid-push while the device
//! finishes on the other.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test helpers: a panic is the failure being reported")]

use std::collections::BTreeSet;
use std::sync::Mutex;

use onevisit_core::domain::TaskCode;
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::{AnswerValue, FindingDraft, Position};
use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken};
use onevisit_flow_tests::{Lcg, ReplicatedCity, cp, fast_options, files_under, rendered, sync_ok};
use onevisit_test_support::{SampleExif, sample_jpeg};

/// The replicas that served requests whose path contains `part`.
fn replicas_serving(city: &ReplicatedCity, part: &str) -> BTreeSet<usize> {
    city.balancer.served().into_iter().filter(|(_, p)| p.contains(part)).map(|(i, _)| i).collect()
}

#[test]
fn three_devices_converge_through_two_replicas_request_by_request() {
    let city = ReplicatedCity::new();
    let code = city.plan_sample_task();
    city.admin(&["task", "assign", code.as_str(), "scjg-02"]);
    let names = ["scjg-01", "scjg-02", "xfjy-01"];
    let devices: Vec<Mutex<Store>> = names.iter().map(|n| city.device(n, n)).collect();
    for d in &devices {
        sync_ok(d);
        assert!(d.lock().unwrap().local_heads(&code).unwrap().is_some(), "the task reached every device");
    }
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    for d in &devices {
        d.lock().unwrap().check_in(&code, here).unwrap();
    }
    devices[0].lock().unwrap().answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    devices[1]
        .lock()
        .unwrap()
        .answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, Some("标签缺失".into()), vec![])
        .unwrap();
    devices[2]
        .lock()
        .unwrap()
        .add_finding(
            &code,
            FindingDraft {
                department: "xfjy".parse().unwrap(),
                check_point: None,
                problem: "安全出口上锁".into(),
                legal_basis: "《中华人民共和国消防法》第二十八条".into(),
                rectification_required: true,
                deadline: chrono::NaiveDate::from_ymd_opt(2026, 12, 10),
            },
        )
        .unwrap();
    let mut rng = Lcg(7);
    for _ in 0..6 {
        sync_ok(&devices[rng.below(3)]);
    }
    for _ in 0..2 {
        for d in &devices {
            sync_ok(d);
        }
    }
    let first = rendered(&devices[0], &code);
    for d in &devices[1..] {
        assert_eq!(rendered(d, &code), first, "identical heads and rendered record everywhere");
    }
    assert_eq!(devices[0].lock().unwrap().conflicts(&code).unwrap().len(), 1);
    for d in &devices {
        assert!(d.lock().unwrap().dirty_records().unwrap().is_empty(), "nothing left to push");
    }
    assert_eq!(replicas_serving(&city, "/v1/sync"), BTreeSet::from([0, 1]), "both replicas served syncs");
    // The audit entries uploaded through both replicas form one tree: every device's proofs verify.
    for d in &devices {
        let s = d.lock().unwrap();
        assert!(s.verify_audit().unwrap().is_intact());
    }
}

#[test]
fn a_photo_uploaded_in_chunks_to_both_replicas_completes_and_is_fetched_whole() {
    let city = ReplicatedCity::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    let b = city.device("b", "xfjy-01");
    sync_ok(&a);
    sync_ok(&b);
    // A photo of several 1 MiB chunks.
    let photo = sample_jpeg(3200, 2400, Some(&SampleExif::pinghu()));
    assert!(photo.len() > 2 * onevisit_core::sync::wire::CHUNK_BYTES, "{} bytes", photo.len());
    let evidence = {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.add_photo(&code, &photo, CaptureTarget::Inspection, None).unwrap().evidence
    };
    sync_ok(&a);
    assert_eq!(replicas_serving(&city, "/chunks/"), BTreeSet::from([0, 1]), "chunks went to both replicas");
    sync_ok(&b);
    let blob =
        sync::fetch_blob(&b, &evidence.sha256, &evidence.mime, evidence.size, &fast_options(), &CancelToken::new())
            .unwrap();
    let (_, bytes) = {
        let s = b.lock().unwrap();
        s.blobs().unwrap().read(s.connection(), &blob.sha256).unwrap()
    };
    assert_eq!(bytes, photo, "byte for byte");
    // The photo lives in the bucket, not in a replica's folder.
    let key = city.s3.folder().join("evidence/330482/blobs").join(&evidence.sha256[..2]).join(&evidence.sha256);
    assert_eq!(std::fs::read(&key).unwrap(), photo, "stored in the bucket");
    assert!(!city.data.join("blobs").join(&evidence.sha256[..2]).exists(), "nothing in the data directory");
    let staged = city.s3.folder().join("evidence/330482/partial");
    assert!(
        !staged.exists() || files_under(&staged).is_empty(),
        "no staged chunk is left behind: {:?}",
        files_under(&staged)
    );
}

#[test]
fn a_replica_killed_mid_push_loses_nothing_the_device_was_receipted_for() {
    let mut city = ReplicatedCity::new();
    let a = city.device("a", "scjg-01");
    let b = city.device("b", "xfjy-01");
    let codes: Vec<TaskCode> = {
        let mut s = a.lock().unwrap();
        let dir = s.directory().unwrap();
        let drafts = (0..30)
            .map(|i| onevisit_core::sample::joint_task_draft(&dir, i, chrono::Utc::now().date_naive()))
            .collect();
        s.create_tasks(drafts).unwrap().into_iter().map(|t| t.code).collect()
    };
    let options = sync::SyncOptions { batch_records: 5, ..fast_options() };
    let victim = Mutex::new(Some(city.replicas.remove(0)));
    let kill_after_two_batches = |p: &sync::Progress| {
        if p.records_pushed >= 10
            && let Some(mut replica) = victim.lock().unwrap().take()
        {
            replica.kill();
        }
    };
    // The device goes on through the surviving replica (its retries meet it) in the same sync.
    let report = sync::sync(&a, &options, &kill_after_two_batches, &CancelToken::new());
    assert!(victim.lock().unwrap().is_none(), "a replica was killed during the push");
    if report.is_err() {
        sync_ok(&a);
    }
    let receipted: BTreeSet<String> = a
        .lock()
        .unwrap()
        .receipts()
        .unwrap()
        .iter()
        .flat_map(|r| sync::statements::verify_receipt(r, &city.root).unwrap().records)
        .map(|d| d.id)
        .collect();
    assert_eq!(receipted.len(), 30, "every record receipted, by one replica or the other");
    assert!(a.lock().unwrap().dirty_records().unwrap().is_empty());
    sync_ok(&b);
    for code in &codes {
        assert_eq!(rendered(&a, code), rendered(&b, code), "{code}: nothing the device was receipted for is lost");
    }
}

#[test]
fn wrong_enrolment_codes_spread_over_both_replicas_lock_out_the_address() {
    let city = ReplicatedCity::new();
    let mut store = onevisit_flow_tests::device(&city.path().join("a"), "scjg-01");
    // The default limit is 10 wrong codes; the balancer sends 5 to each replica.
    for guess in 0..10 {
        let code = format!("{:04}WRONG000", guess);
        match sync::enrol(&mut store, &city.balancer.base(), &code, &city.root) {
            Err(sync::SyncError::Client(sync::ClientError::Refused { status: 403, .. })) => {}
            other => panic!("wrong code {guess}: {other:?}"),
        }
    }
    assert_eq!(replicas_serving(&city, "/v1/enroll"), BTreeSet::from([0, 1]));
    // Locked on every replica: even the right code is not tried (and so not spent).
    let code = city.admin(&["enrolment", "scjg-01"]).trim().to_string();
    for _ in 0..2 {
        match sync::enrol(&mut store, &city.balancer.base(), &code, &city.root) {
            Err(sync::SyncError::Client(sync::ClientError::Refused { status: 429, kind, .. })) => {
                assert_eq!(kind, "throttled")
            }
            other => panic!("a locked-out address enrolled: {other:?}"),
        }
    }
    assert!(store.sync_account().unwrap().is_none());
}

#[test]
fn a_replica_given_a_missing_bucket_or_a_wrong_secret_does_not_start() {
    let city = ReplicatedCity::new();
    for (blobs, secret, says) in [
        ("s3://no-such-bucket/330482", onevisit_test_support::s3::S3_SECRET_KEY, "没有这个桶"),
        (city.blobs.as_str(), "a-wrong-secret", "拒绝了访问"),
        ("file:///srv/blobs", onevisit_test_support::s3::S3_SECRET_KEY, "s3://桶名/前缀"),
    ] {
        let out = std::process::Command::new(onevisit_flow_tests::server_bin())
            .arg("--data")
            .arg(&city.data)
            .args(["--database", &city.database, "--blobs", blobs, "serve", "--listen", "127.0.0.1:0"])
            .envs(city.s3.env())
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "{blobs}: started");
        assert!(!stdout.contains("正在监听"), "{blobs}: the port was opened: {stdout}");
        assert!(stderr.contains(says) && !stderr.contains(secret), "{blobs}: {stderr}");
    }
}
