//! Moving a city from the embedded SQLite file to PostgreSQL with `onevisit-server migrate`: the
//! devices that recorded on the embedded server sync on from the PostgreSQL one without enrolling
//! again and without sending anything again; a refused move changes nothing.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure being reported")]

use std::process::Command;

use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::{AnswerValue, Position};
use onevisit_flow_tests::{City, ServerProcess, cp, server_bin, sync_ok, use_database};
use onevisit_test_support::{PostgresCluster, SampleExif, sample_jpeg};

fn migrate(data: &std::path::Path, to: &str) -> std::process::Output {
    Command::new(server_bin()).arg("--data").arg(data).args(["migrate", "--to", to]).output().unwrap()
}

#[test]
fn a_city_moved_to_postgres_syncs_on_without_enrolling_or_sending_again() {
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
    let out = migrate(&city.data, &url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("已迁移并核对") && stdout.contains("3 台设备"), "{stdout}");
    // A second move onto the same database is refused and changes nothing.
    let again = migrate(&city.data, &url);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("目标数据库已有租户数据"), "{again:?}");

    // Served from PostgreSQL at the same address, the same key file and blob folder.
    use_database(&city.data, &url);
    city.server = ServerProcess::start_with(&city.data, &addr, &["--database", &url]);
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
    // A new device enrols on the moved city.
    sync_ok(&city.device("d", "sthj-01"));
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
