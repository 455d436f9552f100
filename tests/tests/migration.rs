//! Moving a city from the embedded SQLite file to PostgreSQL with `onevisit-server migrate`: the
//! devices that recorded on the embedded server sync on from the PostgreSQL one without enrolling
//! again and without sending anything again; a refused move changes nothing.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure being reported")]

use std::process::Command;

use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::{AnswerValue, Position};
use onevisit_flow_tests::{City, ServerProcess, cp, files_under, server_bin, sync_ok, use_database};
use onevisit_test_support::{PostgresCluster, S3Server, SampleExif, sample_jpeg};

fn migrate(data: &std::path::Path, to: &str) -> std::process::Output {
    Command::new(server_bin()).arg("--data").arg(data).args(["migrate", "--to", to]).output().unwrap()
}

/// `migrate --to DATABASE --blobs BUCKET` with the S3 server's settings.
fn migrate_with_blobs(data: &std::path::Path, to: &str, blobs: &str, s3: &S3Server) -> std::process::Output {
    Command::new(server_bin())
        .arg("--data")
        .arg(data)
        .args(["migrate", "--to", to, "--blobs", blobs])
        .envs(s3.env())
        .output()
        .unwrap()
}

#[test]
fn a_city_moved_to_postgres_and_s3_syncs_on_without_enrolling_or_sending_again() {
    let mut city = City::new();
    let (code, a, b) = city.joint_team();
    let here = Position::wgs84(30.7, 121.0, 5).unwrap();
    let photo = sample_jpeg(640, 480, Some(&SampleExif::pinghu()));
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, here).unwrap();
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
        s.add_photo(&code, &photo, CaptureTarget::Inspection, None).unwrap();
    }
    b.lock().unwrap().check_in(&code, here).unwrap();
    for d in [&a, &b, &a, &b] {
        sync_ok(d);
    }
    let revoked = city.device("c", "scjg-02");
    sync_ok(&revoked);
    let id = revoked.lock().unwrap().device_key().device_id();
    city.admin(&["revoke", &id, "--reason", "设备遗失"]);

    // Stop the embedded server and move its data.
    let addr = city.server.addr.clone();
    city.server.kill();
    let cluster = PostgresCluster::start();
    let url = cluster.database("city");
    let s3 = S3Server::start();
    let bucket = s3.bucket("evidence", "330482");
    let out = migrate_with_blobs(&city.data, &url, &bucket, &s3);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("已迁移并核对") && stdout.contains("3 台设备"), "{stdout}");
    let files =
        files_under(&city.data.join("blobs")).into_iter().filter(|p| !p.starts_with(city.data.join("blobs/partial")));
    let copied = format!("{} 个照片等文件", files.count());
    assert!(stdout.contains(&copied) && stdout.contains("s3://evidence/330482"), "{copied}: {stdout}");
    // A second move onto the same database is refused and changes nothing.
    let again = migrate(&city.data, &url);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("目标数据库已有租户数据"), "{again:?}");

    // Served from PostgreSQL and the bucket at the same address, from a data directory holding
    // only the key and TLS files: the photos come from the bucket.
    let moved = onevisit_flow_tests::copy_data_directory(&city.data, &city.data.with_file_name("moved"));
    std::fs::remove_dir_all(moved.join("blobs")).unwrap();
    std::fs::remove_file(moved.join("server.sqlite")).unwrap();
    use_database(&city.data, &url);
    city.server = ServerProcess::start_with_env(&moved, &addr, &["--database", &url, "--blobs", &bucket], &s3.env());
    for d in [&a, &b] {
        let report = sync_ok(d);
        assert_eq!(report.progress.records_pushed, 0, "nothing is pushed again");
        assert_eq!(report.progress.blobs_total, 0, "no photo is uploaded again");
        assert_eq!(report.progress.records_pulled, 0, "nothing is pulled again: the feed cursor holds");
    }
    // The revocation moved with the data.
    let refused = onevisit_core::sync::sync(
        &revoked,
        &onevisit_flow_tests::fast_options(),
        &|_| {},
        &onevisit_core::sync::CancelToken::new(),
    );
    assert!(refused.is_err(), "the revoked device stays refused: {refused:?}");
    // And recording goes on.
    a.lock().unwrap().answer(&code, &cp("SCJG-001-02"), AnswerValue::Pass, None, vec![]).unwrap();
    b.lock().unwrap().answer(&code, &cp("XFJY-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    for d in [&a, &b, &a] {
        sync_ok(d);
    }
    let heads = |d: &std::sync::Mutex<onevisit_core::store::Store>| {
        let mut h = d.lock().unwrap().local_heads(&code).unwrap().unwrap();
        h.sort();
        h
    };
    assert_eq!(heads(&a), heads(&b));
    for d in [&a, &b] {
        assert!(d.lock().unwrap().verify_audit().unwrap().is_intact());
    }
    let devices = city.admin(&["device", "list"]);
    assert!(devices.contains("3 台已登记设备") && devices.contains("已吊销（设备遗失）"), "{devices}");
    // A new device enrols on the moved city and fetches the photo recorded before the move.
    let d = city.device("d", "scjg-01");
    sync_ok(&d);
    let evidence = a.lock().unwrap().photos(&code).unwrap().remove(0);
    {
        let s = d.lock().unwrap();
        assert!(!s.blobs().unwrap().has(s.connection(), &evidence.sha256).unwrap(), "not on the new device yet");
    }
    let fetched = onevisit_core::sync::fetch_blob(
        &d,
        &evidence.sha256,
        &evidence.mime,
        evidence.size,
        &onevisit_flow_tests::fast_options(),
        &onevisit_core::sync::CancelToken::new(),
    )
    .unwrap();
    let s = d.lock().unwrap();
    assert_eq!(s.blobs().unwrap().read(s.connection(), &fetched.sha256).unwrap().1, photo, "from the bucket");
}

#[test]
fn a_move_to_an_unreachable_or_unknown_database_says_what_to_fix() {
    let city = City::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = migrate(&city.data, &format!("postgres://onevisit:secret@127.0.0.1:{port}/city"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("无法连接数据库") && !stderr.contains("secret"), "{stderr}");
    let cluster = PostgresCluster::start();
    let out = migrate(&city.data, &cluster.url("missing"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("数据库 127.0.0.1"), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("不存在"), "{out:?}");
}

#[test]
fn a_move_to_a_missing_bucket_or_of_a_tampered_photo_changes_no_database() {
    let city = City::new();
    let (code, a, _b) = city.joint_team();
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.add_photo(&code, &sample_jpeg(320, 240, None), CaptureTarget::Inspection, None).unwrap();
    }
    sync_ok(&a);
    let cluster = PostgresCluster::start();
    let url = cluster.database("city");
    let s3 = S3Server::start();
    let out = migrate_with_blobs(&city.data, &url, "s3://no-such-bucket/x", &s3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("没有这个桶") && stderr.contains("no-such-bucket"), "{stderr}");
    assert!(!stderr.contains(onevisit_test_support::s3::S3_SECRET_KEY), "{stderr}");
    // A photo file changed on the server's disk is refused, not copied as evidence.
    let bucket = s3.bucket("evidence", "");
    let file = files_under(&city.data.join("blobs"))
        .into_iter()
        .find(|p| !p.starts_with(city.data.join("blobs/partial")))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let out = migrate_with_blobs(&city.data, &url, &bucket, &s3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("哈希值"), "{stderr}");
    assert!(
        files_under(&s3.folder().join("evidence")).is_empty(),
        "nothing half-copied: {:?}",
        files_under(&s3.folder())
    );
    // Neither attempt touched the database: a clean move is still possible.
    let out = migrate(&city.data, &url);
    assert!(out.status.success(), "{out:?}");
}
