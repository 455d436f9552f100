//! Devices syncing through a real `onevisit-server` process on loopback: convergence, photos,
//! authorisation, revocation, interrupted uploads, a killed server, and bad requests.

use std::sync::Mutex;
use std::time::Duration;

use onevisit_core::domain::TaskCode;
use onevisit_core::evidence::CaptureTarget;
use onevisit_core::record::{AnswerValue, FindingDraft, Position};
use onevisit_core::store::Store;
use onevisit_core::sync::wire::{RecordPush, Refusal, SyncRequest, SyncResponse, b64};
use onevisit_core::sync::{self, CancelToken, ClientError, SyncClient, SyncError};
use onevisit_flow_tests::{
    City, Deployment, Lcg, ReplicatedCity, ServerProcess, cp, enrolled_device, fast_options, init_tenant, rendered,
    sync_ok,
};
use onevisit_test_support::{SampleExif, sample_jpeg};

fn client_of(store: &Mutex<Store>) -> SyncClient {
    sync::engine::client_for(store, &fast_options()).unwrap().0
}

#[test]
fn three_devices_of_two_departments_converge_through_the_server_in_random_orders() {
    for seed in 1..=3u64 {
        let city = City::new();
        let code = city.plan_sample_task();
        city.admin(&["task", "assign", code.as_str(), "scjg-02"]);
        let names = ["scjg-01", "scjg-02", "xfjy-01"];
        let devices: Vec<Mutex<Store>> = names.iter().map(|n| city.device(n, n)).collect();
        for d in &devices {
            sync_ok(d);
            assert!(d.lock().unwrap().local_heads(&code).unwrap().is_some(), "the task reached every device");
        }

        // Offline, concurrently: everyone checks in; each department answers; scjg-01 and scjg-02
        // answer the same check point differently (a conflict); the fire brigade records a finding.
        let here = Position::wgs84(30.7, 121.0, 5).unwrap();
        for d in &devices {
            d.lock().unwrap().check_in(&code, here).unwrap();
        }
        {
            let mut a = devices[0].lock().unwrap();
            a.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
            a.answer(
                &code,
                &cp("SCJG-001-03"),
                AnswerValue::Number { value: "2".into(), unit: "℃".into() },
                None,
                vec![],
            )
            .unwrap();
        }
        {
            let mut b = devices[1].lock().unwrap();
            b.answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, Some("标签缺失".into()), vec![]).unwrap();
            b.answer(&code, &cp("SCJG-001-04"), AnswerValue::Fail, Some("过期酱油 2 瓶".into()), vec![]).unwrap();
        }
        {
            let mut c = devices[2].lock().unwrap();
            c.answer(&code, &cp("XFJY-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
            c.add_finding(
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
        }

        // Sync in a seeded random order, two rounds each, then once more in order.
        let mut rng = Lcg(seed);
        for _ in 0..6 {
            sync_ok(&devices[rng.below(3)]);
        }
        for d in &devices {
            sync_ok(d);
        }
        for d in &devices {
            sync_ok(d);
        }
        let first = rendered(&devices[0], &code);
        for d in &devices[1..] {
            assert_eq!(rendered(d, &code), first, "seed {seed}: identical heads and rendered record");
        }
        // The record carries every writer's certificate, for anyone who receives it later.
        let certificates = devices[2].lock().unwrap().record(&code).unwrap().certificates().unwrap();
        assert_eq!(certificates.len(), 3, "one certificate per writing device");
        let conflicts = devices[0].lock().unwrap().conflicts(&code).unwrap();
        assert_eq!(conflicts.len(), 1, "the concurrent answers of scjg-01 and scjg-02 are one conflict");
        for d in &devices {
            assert!(d.lock().unwrap().dirty_records().unwrap().is_empty(), "nothing left to push");
            assert!(d.lock().unwrap().verify_audit().unwrap().is_intact());
        }
    }
}

#[test]
fn a_photo_uploaded_once_is_fetched_by_another_device_byte_for_byte() {
    let city = City::new();
    let (code, a, b) = city.joint_team();
    let photo = sample_jpeg(640, 480, Some(&SampleExif::pinghu()));
    let evidence = {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.add_photo(&code, &photo, CaptureTarget::Inspection, None).unwrap().evidence
    };
    let first = sync_ok(&a);
    assert_eq!(first.progress.blobs_total, 2, "the original and its thumbnail are uploaded");
    let again = sync_ok(&a);
    assert_eq!(again.progress.blobs_total, 0, "uploaded once: nothing left to send");

    sync_ok(&b);
    let missing = b.lock().unwrap().missing_evidence(&code).unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].sha256, evidence.sha256);
    let blob =
        sync::fetch_blob(&b, &evidence.sha256, &evidence.mime, evidence.size, &fast_options(), &CancelToken::new())
            .unwrap();
    let (_, bytes) = {
        let s = b.lock().unwrap();
        s.blobs().unwrap().read(s.connection(), &blob.sha256).unwrap()
    };
    assert_eq!(bytes, photo);
    assert!(b.lock().unwrap().missing_evidence(&code).unwrap().is_empty());
    assert_eq!(sync_ok(&b).progress.blobs_total, 0, "a fetched photo is not uploaded back");
    let metrics = onevisit_flow_tests::metrics(&city.server);
    let counter = |name: &str| -> u64 {
        metrics.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    assert!(counter("onevisit_records_accepted_total") >= 1, "{metrics}");
    assert!(counter("onevisit_received_bytes_total") as usize > photo.len(), "{metrics}");
}

#[test]
fn an_unassigned_device_can_neither_read_nor_write_the_inspection() {
    let city = City::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    let outsider = city.device("o", "sthj-01");
    sync_ok(&a);
    let photo = sample_jpeg(320, 240, None);
    let sha = {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.add_photo(&code, &photo, CaptureTarget::Inspection, None).unwrap().evidence.sha256
    };
    sync_ok(&a);

    // Reading: the feed does not announce it, asking for it is refused, the photo is invisible.
    let report = sync_ok(&outsider);
    assert!(outsider.lock().unwrap().local_heads(&code).unwrap().is_none());
    assert_eq!(report.progress.records_pulled, 0);
    let client = client_of(&outsider);
    let ask = SyncRequest {
        since: 0,
        limit: 10,
        records: vec![RecordPush { id: code.to_string(), ..Default::default() }],
        audit: vec![],
        ..Default::default()
    };
    let answer: SyncResponse = client.post_json("/v1/sync", &ask, &CancelToken::new()).unwrap();
    assert_eq!(answer.records[0].refused, Some(Refusal::NotAssigned));
    assert!(answer.records[0].changes.is_empty());
    assert!(answer.feed.is_empty());
    match client.get_range(&format!("/v1/blobs/{sha}"), 0, 10, &CancelToken::new()) {
        Err(ClientError::Refused { status: 404, kind, .. }) => assert_eq!(kind, "not_found"),
        other => panic!("the outsider read the photo: {other:?}"),
    }

    // Writing: a change it made (by its own actor, to a copy it obtained) is refused.
    let bytes = a.lock().unwrap().export_record(&code).unwrap();
    let mut copy = onevisit_core::record::InspectionRecord::load(&bytes, []).unwrap();
    let known = copy.heads();
    copy.set_actor(outsider.lock().unwrap().device_key().actor_id());
    let dir = onevisit_core::sample::directory().unwrap();
    copy.answer_check_point(
        onevisit_core::record::Stamp { by: "scjg-01".parse().unwrap(), at_ms: 1 },
        &dir,
        &cp("SCJG-001-01"),
        AnswerValue::Fail,
        Some("forged".into()),
        vec![],
    )
    .unwrap();
    let forged = copy.changes_since(&known);
    let push = SyncRequest {
        since: 0,
        limit: 10,
        records: vec![RecordPush {
            id: code.to_string(),
            known_heads: onevisit_core::sync::wire::heads_to_hex(&known),
            changes: forged.iter().map(|c| b64(c)).collect(),
            sync_message: None,
        }],
        audit: vec![],
        ..Default::default()
    };
    let answer: SyncResponse = client.post_json("/v1/sync", &push, &CancelToken::new()).unwrap();
    assert_eq!(answer.records[0].refused, Some(Refusal::NotAssigned));
    sync_ok(&a);
    let record_view = rendered(&a, &code).1;
    assert!(!record_view.contains("forged"), "the forged answer never reached the record");
}

#[test]
fn a_revoked_device_is_refused_with_the_reason() {
    let city = City::new();
    city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    let b = city.device("b", "xfjy-01");
    sync_ok(&b);
    let device = a.lock().unwrap().device_key().device_id();
    city.admin(&["revoke", &device, "--reason", "设备遗失"]);
    // The other devices receive the new revocation list with their next sync.
    let report = sync_ok(&b);
    assert_eq!(report.revocations, Some(1));
    let list = b.lock().unwrap().sync_account().unwrap().unwrap().revocations.canonical;
    assert!(list.contains(&device) && list.contains("设备遗失"));
    assert_eq!(sync_ok(&b).revocations, None, "sent again only when it changes");
    match sync::sync(&a, &fast_options(), &|_| {}, &CancelToken::new()) {
        Err(SyncError::Client(ClientError::Revoked(reason))) => assert!(reason.contains("设备遗失"), "{reason}"),
        other => panic!("a revoked device synced: {other:?}"),
    }
}

#[test]
fn an_interrupted_upload_resumes_without_resending_finished_chunks() {
    let city = City::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    // Noise compresses badly: a 3600×2400 photo is a few MB, several 1 MiB chunks.
    let photo = sample_jpeg(3600, 2400, Some(&SampleExif::pinghu()));
    let chunks = photo.len().div_ceil(onevisit_core::sync::wire::CHUNK_BYTES) as u64;
    assert!(chunks >= 3, "the photo needs several chunks ({} bytes)", photo.len());
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.add_photo(&code, &photo, CaptureTarget::Inspection, None).unwrap();
    }
    let cancel = CancelToken::new();
    let stop_after_two = |p: &sync::Progress| {
        if p.chunks_sent >= 2 {
            cancel.cancel();
        }
    };
    match sync::sync(&a, &fast_options(), &stop_after_two, &cancel) {
        Err(SyncError::Client(ClientError::Cancelled)) => {}
        other => panic!("expected a cancelled sync, got {other:?}"),
    }
    let resumed = sync_ok(&a);
    // The thumbnail is one chunk; the original needs `chunks`, two of which arrived before.
    assert_eq!(resumed.progress.chunks_sent, chunks - 2 + 1, "finished chunks were not sent again");
    assert_eq!(sync_ok(&a).progress.blobs_total, 0);
    let b = city.device("b", "xfjy-01");
    sync_ok(&b);
    let e = b.lock().unwrap().missing_evidence(&code).unwrap().remove(0);
    sync::fetch_blob(&b, &e.sha256, &e.mime, e.size, &fast_options(), &CancelToken::new()).unwrap();
}

#[test]
fn a_server_killed_mid_sync_and_restarted_loses_nothing_it_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    let root = init_tenant(&data);
    let mut server = ServerProcess::start(&data, "127.0.0.1:0");
    let addr = server.addr.clone();
    let a = enrolled_device(&tmp.path().join("a"), "scjg-01", &data, &server, &root);
    let b = enrolled_device(&tmp.path().join("b"), "xfjy-01", &data, &server, &root);
    // Thirty tasks planned offline on device A.
    let codes: Vec<TaskCode> = {
        let mut s = a.lock().unwrap();
        let dir = s.directory().unwrap();
        let drafts = (0..30)
            .map(|i| onevisit_core::sample::joint_task_draft(&dir, i, chrono::Utc::now().date_naive()))
            .collect();
        s.create_tasks(drafts).unwrap().into_iter().map(|t| t.code).collect()
    };
    let options = sync::SyncOptions { batch_records: 5, ..fast_options() };
    let killer = Mutex::new(Some(server));
    let kill_after_two_batches = |p: &sync::Progress| {
        if p.records_pushed >= 10
            && let Some(mut s) = killer.lock().unwrap().take()
        {
            s.kill();
            std::mem::forget(s);
        }
    };
    let interrupted = sync::sync(&a, &options, &kill_after_two_batches, &CancelToken::new());
    assert!(matches!(interrupted, Err(SyncError::Client(ClientError::Network(_)))), "{interrupted:?}");
    let acknowledged: Vec<String> = a
        .lock()
        .unwrap()
        .receipts()
        .unwrap()
        .iter()
        .flat_map(|r| sync::statements::verify_receipt(r, &root).unwrap().records)
        .map(|d| d.id)
        .collect();
    assert!(acknowledged.len() >= 10, "receipts for the acknowledged batches: {}", acknowledged.len());
    assert!(acknowledged.len() < 30, "the server died before the end");

    server = ServerProcess::start(&data, &addr);
    sync_ok(&b);
    for id in &acknowledged {
        let code = TaskCode::parse(id).unwrap();
        assert!(b.lock().unwrap().local_heads(&code).unwrap().is_some(), "{id} was acknowledged, then lost");
    }
    sync_ok(&a);
    sync_ok(&b);
    for code in &codes {
        assert_eq!(rendered(&a, code), rendered(&b, code));
    }
    drop(server);
}

#[test]
fn a_copy_that_never_synced_catches_up_through_the_sync_protocol() {
    let city = City::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    }
    sync_ok(&a);
    // Device B got the record from A by hand (before it ever synced), then answered offline.
    let b = city.device("b", "xfjy-01");
    let bytes = a.lock().unwrap().export_record(&code).unwrap();
    b.lock().unwrap().receive_record(&bytes).unwrap();
    b.lock().unwrap().answer(&code, &cp("XFJY-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    let report = sync_ok(&b);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    sync_ok(&a);
    assert_eq!(rendered(&a, &code), rendered(&b, &code));
    assert!(b.lock().unwrap().dirty_records().unwrap().is_empty());
}

#[test]
fn recording_goes_on_while_a_sync_is_in_flight() {
    let city = City::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    a.lock().unwrap().check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    // The progress callback runs between round trips without the store held: an inspector's edit
    // there stands for one made on the UI thread while the sync talks to the server.
    let edited = std::sync::atomic::AtomicBool::new(false);
    let edit_during_sync = |_: &sync::Progress| {
        if !edited.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let mut s = a.try_lock().expect("the store is free while the sync waits on the network");
            s.answer(&code, &cp("SCJG-001-02"), AnswerValue::Pass, None, vec![]).unwrap();
        }
    };
    sync::sync(&a, &fast_options(), &edit_during_sync, &CancelToken::new()).unwrap();
    // The edit made mid-sync was pushed in the same run or is still marked for the next.
    let b = city.device("b", "xfjy-01");
    sync_ok(&a);
    sync_ok(&b);
    assert_eq!(rendered(&a, &code), rendered(&b, &code));
    assert!(rendered(&b, &code).1.contains("SCJG-001-02"));
}

#[test]
fn malformed_oversized_replayed_and_foreign_requests_are_refused_with_clear_errors() {
    use onevisit_core::request_auth::{self, RequestAuth};
    let city = City::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    let http = onevisit_flow_tests::raw_client(Duration::from_secs(30));
    let signed = |method: &str, path: &str, body: &[u8]| {
        let s = a.lock().unwrap();
        let auth = RequestAuth::sign(s.device_key(), method, path, body, chrono::Utc::now().timestamp_millis());
        http.request(method.parse().unwrap(), format!("{}{path}", city.server.base))
            .header(request_auth::HEADER_DEVICE, &auth.device)
            .header(request_auth::HEADER_TIMESTAMP, auth.timestamp_ms.to_string())
            .header(request_auth::HEADER_NONCE, &auth.nonce)
            .header(request_auth::HEADER_SIGNATURE, &auth.signature)
            .body(body.to_vec())
    };
    let kind = |r: reqwest::blocking::Response| {
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().unwrap();
        assert!(!v["message"].as_str().unwrap().is_empty(), "a clear message");
        (status, v["error"].as_str().unwrap().to_string())
    };

    // Malformed JSON.
    assert_eq!(kind(signed("POST", "/v1/sync", b"{not json").send().unwrap()), (400, "malformed".into()));
    // Replayed: the same signed request twice.
    let body = serde_json::to_vec(&SyncRequest { since: 0, limit: 1, ..Default::default() }).unwrap();
    let first = signed("POST", "/v1/sync", &body).build().unwrap();
    let again = first.try_clone().unwrap();
    assert!(http.execute(first).unwrap().status().is_success());
    assert_eq!(kind(http.execute(again).unwrap()), (401, "replayed".into()));
    // A batch with one malformed and one foreign document: each refused alone, the rest accepted.
    let mut other =
        onevisit_core::record::InspectionRecord::load(&a.lock().unwrap().export_record(&code).unwrap(), []).unwrap();
    let known = other.heads();
    other.set_actor(automerge::ActorId::from(&[7u8; 16][..]));
    other
        .check_in_at(
            onevisit_core::record::Stamp { by: "scjg-01".parse().unwrap(), at_ms: 5 },
            Position::wgs84(30.7, 121.0, 5).unwrap(),
        )
        .unwrap();
    let foreign = other.changes_since(&known);
    // A record created separately under the same task code, by the device itself.
    let task = other.task().clone();
    let actor = a.lock().unwrap().device_key().actor_id();
    let by = onevisit_core::record::Stamp { by: "scjg-01".parse().unwrap(), at_ms: 9 };
    let impostor = onevisit_core::record::InspectionRecord::create(task, actor, by).unwrap().changes_since(&[]);
    let batch = SyncRequest {
        since: 0,
        limit: 10,
        records: vec![
            RecordPush { id: code.to_string(), changes: vec!["!!not base64".into()], ..Default::default() },
            RecordPush {
                id: code.to_string(),
                known_heads: onevisit_core::sync::wire::heads_to_hex(&known),
                changes: foreign.iter().map(|c| b64(c)).collect(),
                sync_message: None,
            },
            RecordPush { id: code.to_string(), known_heads: vec![], ..Default::default() },
            RecordPush {
                id: code.to_string(),
                changes: impostor.iter().map(|c| b64(c)).collect(),
                ..Default::default()
            },
        ],
        audit: vec![],
        ..Default::default()
    };
    let answer: SyncResponse = client_of(&a).post_json("/v1/sync", &batch, &CancelToken::new()).unwrap();
    assert_eq!(answer.records[0].refused, Some(Refusal::Malformed));
    assert_eq!(answer.records[1].refused, Some(Refusal::ForeignActor));
    assert_eq!(answer.records[2].refused, None, "a plain pull in the same batch is answered");
    assert!(!answer.records[2].changes.is_empty());
    assert_eq!(answer.records[3].refused, Some(Refusal::Unrelated));
    // Blob uploads: an oversized chunk, and a blob whose bytes do not match its name.
    let fake = "ab".repeat(32);
    let r = signed("PUT", &format!("/v1/blobs/{fake}/chunks/0"), &vec![0u8; 1024 * 1024 + 1]).send().unwrap();
    assert_eq!(kind(r), (413, "too_large".into()));
    assert_eq!(signed("PUT", &format!("/v1/blobs/{fake}/chunks/0"), b"not the photo").send().unwrap().status(), 204);
    let r = signed("POST", &format!("/v1/blobs/{fake}/complete"), br#"{"size":13}"#).send().unwrap();
    assert_eq!(kind(r), (422, "hash_mismatch".into()));
    let r = signed("GET", "/v1/blobs/not-a-hash/chunks", b"").send().unwrap();
    assert_eq!(kind(r), (400, "malformed".into()));
    // An audit upload that does not continue the chain is refused as a whole; the chain the server
    // holds stays as it was and the device's next honest upload continues it.
    let confirmed = a.lock().unwrap().audit_confirmed_seq().unwrap();
    {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
    }
    let mut entries = a.lock().unwrap().audit_entries_after(confirmed, 100).unwrap();
    assert!(entries.len() >= 2);
    entries.remove(0);
    let audit = SyncRequest { since: 0, limit: 1, records: vec![], audit: entries, ..Default::default() };
    let answer: SyncResponse = client_of(&a).post_json("/v1/sync", &audit, &CancelToken::new()).unwrap();
    let refused = answer.audit.unwrap();
    assert!(refused.refused.as_deref().is_some_and(|r| r.contains("被删除")), "{refused:?}");
    assert_eq!(refused.accepted_through, confirmed);
    let report = sync_ok(&a);
    assert!(report.audit_refused.is_none());
    assert_eq!(report.audit_through, a.lock().unwrap().audit_head().unwrap().seq);
    // Unauthenticated: no headers at all.
    let r = http.post(format!("{}/v1/sync", city.server.base)).body("{}").send().unwrap();
    assert_eq!(kind(r), (401, "unauthenticated".into()));
    // An oversized body is refused from its headers, before a byte of it is read: the answer
    // arrives although the body is never sent.
    let head =
        onevisit_flow_tests::signed_request_head(a.lock().unwrap().device_key(), "/v1/sync", 16 * 1024 * 1024 + 1024);
    let mut stream = std::net::TcpStream::connect(&city.server.addr).unwrap();
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("too_large"), "{answer}");
}

#[test]
fn a_device_that_may_only_read_a_task_receives_it_without_changing_it() {
    let city = City::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    // xfjy-02's department takes part in the task, but xfjy-02 is not assigned to it.
    let reader = city.device("r", "xfjy-02");
    sync_ok(&a);
    sync_ok(&reader);
    // A change arrives for a record the reader holds already: it is merged, nothing added.
    a.lock().unwrap().check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    sync_ok(&a);
    let report = sync_ok(&reader);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert!(reader.lock().unwrap().dirty_records().unwrap().is_empty(), "receiving wrote nothing of its own");
    assert_eq!(rendered(&reader, &code), rendered(&a, &code));
}

#[test]
fn an_inspector_taken_off_a_task_can_no_longer_record_in_it() {
    let city = City::new();
    let code = city.plan_sample_task();
    city.admin(&["task", "assign", code.as_str(), "scjg-02"]);
    let b = city.device("b", "scjg-02");
    sync_ok(&b);
    b.lock().unwrap().check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    sync_ok(&b);
    city.admin(&["task", "unassign", code.as_str(), "scjg-02"]);
    sync_ok(&b);
    // Its department still supervises the task, so it reads it, but the task no longer lists it.
    let err = b.lock().unwrap().answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap_err();
    assert!(err.to_string().contains("不是本任务的检查人员"), "{err}");
    let task = b.lock().unwrap().record(&code).unwrap().task().clone();
    assert!(!task.inspectors.iter().any(|i| i.as_str() == "scjg-02"));
}

#[test]
fn a_new_device_receives_the_directory_data_before_its_tasks() {
    let city = City::new();
    let code = city.plan_sample_task();
    let root = city.path().join("fresh");
    std::fs::create_dir_all(&root).unwrap();
    let wrapper = onevisit_core::identity::KeyFileWrapper::load_or_create(&root.join("device.key")).unwrap();
    let mut store = Store::init(&root, &wrapper, Some("xfjy-01".parse().unwrap())).unwrap();
    assert!(store.directory().is_err(), "no directory yet");
    let one_time = city.admin(&["enrolment", "xfjy-01"]).trim().to_string();
    sync::enrol(&mut store, &city.server.base, &one_time, &city.root).unwrap();
    let store = Mutex::new(store);
    let report = sync_ok(&store);
    assert!(report.directory_updated);
    assert!(store.lock().unwrap().directory().unwrap().inspectors().count() > 20);
    assert!(store.lock().unwrap().local_heads(&code).unwrap().is_some());
    assert!(!sync_ok(&store).directory_updated, "sent again only when it changes");
}

/// `n` inspections created offline on `device`; their codes.
fn created_offline(device: &Mutex<Store>, n: usize) -> Vec<TaskCode> {
    let mut s = device.lock().unwrap();
    let directory = s.directory().unwrap();
    let today = onevisit_core::beijing::today();
    let drafts = (0..n).map(|i| onevisit_core::sample::joint_task_draft(&directory, i, today)).collect();
    s.create_tasks(drafts).unwrap().into_iter().map(|t| t.code).collect()
}

#[test]
fn a_pull_interrupted_between_feed_pages_resumes_after_the_last_page_applied() {
    interrupted_pull(&City::new());
}

#[test]
fn a_pull_interrupted_between_feed_pages_resumes_the_same_on_postgres_and_s3_replicas() {
    interrupted_pull(&ReplicatedCity::new());
}

fn interrupted_pull(city: &impl Deployment) {
    // Device A records six inspections offline and pushes them.
    let a = city.device("a", "scjg-01");
    created_offline(&a, 6);
    sync_ok(&a);
    // The inspector's second handheld pulls them, two per feed page; the sync is cancelled
    // once the first page's records are in.
    let b = city.device("b", "scjg-01");
    let small = sync::SyncOptions { feed_page: 2, batch_records: 2, ..fast_options() };
    let cancel = CancelToken::new();
    let stop = |p: &sync::Progress| {
        if p.records_pulled >= 2 {
            cancel.cancel();
        }
    };
    let interrupted = sync::sync(&b, &small, &stop, &cancel);
    assert!(matches!(interrupted, Err(SyncError::Client(ClientError::Cancelled))), "{interrupted:?}");
    let held = |s: &Mutex<Store>| s.lock().unwrap().list_tasks(&Default::default()).unwrap().len();
    let before = held(&b);
    let cursor = b.lock().unwrap().feed_cursor().unwrap();
    assert!((2..6).contains(&before), "{before} records in before the interruption");
    assert!(cursor > 0, "the cursor stands at the end of the page applied");
    // The next sync reads the feed from there: it pulls only what was not applied.
    let resumed = sync::sync(&b, &small, &|_| {}, &CancelToken::new()).unwrap();
    assert_eq!(resumed.progress.records_pulled as usize + before, 6, "no applied page read again");
    assert_eq!(held(&b), 6);
    // And the first sync after a completed pull is a one-request no-op.
    let after = sync::sync(&b, &small, &|_| {}, &CancelToken::new()).unwrap();
    assert_eq!((after.progress.requests, after.progress.records_pulled), (1, 0));
    let default = sync::sync(&b, &fast_options(), &|_| {}, &CancelToken::new()).unwrap();
    assert_eq!(default.progress.requests, 1);
}

/// Records a server has loaded, summed over its replicas (from `/metrics`).
fn records_loaded(servers: &[&ServerProcess]) -> u64 {
    servers
        .iter()
        .map(|server| {
            let metrics = onevisit_flow_tests::metrics(server);
            let line = metrics.lines().find(|l| l.starts_with("onevisit_records_cached ")).unwrap();
            line.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum()
}

#[test]
fn a_whole_pull_is_served_without_loading_records_into_the_servers_cache() {
    let mut city = City::new();
    let a = city.device("a", "scjg-01");
    let codes = created_offline(&a, 12);
    sync_ok(&a);
    // A restarted server holds nothing loaded; a new handheld pulls all twelve.
    city.restart_server();
    whole_pull(&city, &a, &codes, &[&city.server], 0);
}

#[test]
fn a_whole_pull_leaves_the_replicas_caches_as_they_were_on_postgres_and_s3() {
    let city = ReplicatedCity::new();
    let a = city.device("a", "scjg-01");
    let codes = created_offline(&a, 12);
    sync_ok(&a);
    let replicas: Vec<&ServerProcess> = city.replicas.iter().collect();
    let loaded = records_loaded(&replicas);
    whole_pull(&city, &a, &codes, &replicas, loaded);
}

/// A new handheld of A's inspector pulls whole every record of `codes` (stored as their changes)
/// identical to A's, and a task planned on the server (stored as a snapshot), while the servers'
/// caches hold `loaded` records before and after; its first write to one of them loads that one
/// record (the write rules read it) and reaches A.
fn whole_pull(city: &impl Deployment, a: &Mutex<Store>, codes: &[TaskCode], servers: &[&ServerProcess], loaded: u64) {
    let planned: Vec<String> =
        serde_json::from_str(city.admin(&["task", "create", "--sample", "1", "--json"]).trim()).unwrap();
    let planned = TaskCode::parse(&planned[0]).unwrap();
    assert_eq!(records_loaded(servers), loaded);
    let b = city.device("b", "scjg-01");
    let pulled = sync_ok(&b);
    assert_eq!(pulled.progress.records_pulled as usize, codes.len() + 1, "{:?} {:?}", pulled.isolated, pulled.refused);
    for code in codes {
        assert_eq!(rendered(&b, code), rendered(a, code), "{code} pulled whole");
    }
    sync_ok(a);
    assert_eq!(rendered(&b, &planned), rendered(a, &planned), "the planned task pulled whole");
    assert_eq!(records_loaded(servers), loaded, "a whole pull loads nothing into the cache");
    b.lock().unwrap().check_in(&codes[3], Position::wgs84(30.7, 121.0, 5).unwrap()).unwrap();
    let pushed = sync_ok(&b);
    assert_eq!(pushed.progress.records_pushed, 1);
    assert!(records_loaded(servers) <= loaded + 1);
    sync_ok(a);
    assert_eq!(rendered(a, &codes[3]), rendered(&b, &codes[3]));
}

#[test]
fn packed_and_per_entry_audit_uploads_are_held_to_the_same_chain_and_signer() {
    use onevisit_core::audit::packed::pack;
    let city = City::new();
    let code = city.plan_sample_task();
    let a = city.device("a", "scjg-01");
    sync_ok(&a);
    let edit = |n: usize| {
        let mut s = a.lock().unwrap();
        s.check_in(&code, Position::wgs84(30.7, 121.0, 5).unwrap()).ok();
        for i in 0..n {
            let note = Some(format!("第{i}次"));
            s.answer(&code, &cp("SCJG-001-01"), AnswerValue::NotApplicable, note, vec![]).unwrap();
        }
    };
    edit(3);
    let confirmed = a.lock().unwrap().audit_confirmed_seq().unwrap();
    let entries = a.lock().unwrap().audit_entries_after(confirmed, 100).unwrap();
    let post = |request: &SyncRequest| -> onevisit_core::sync::wire::AuditResult {
        let answer: SyncResponse = client_of(&a).post_json("/v1/sync", request, &CancelToken::new()).unwrap();
        answer.audit.unwrap()
    };
    let packed_by = |key: &onevisit_core::identity::DeviceKey,
                     doctor: &dyn Fn(&mut onevisit_core::audit::packed::PackedAudit)| {
        let mut p = pack(&entries, key).unwrap().unwrap();
        doctor(&mut p);
        SyncRequest { since: 0, limit: 1, audit_packed: Some(p), ..Default::default() }
    };
    // Signed by another key (a stolen upload replayed by another device), or with one object
    // hash changed after signing: refused as a whole, the server's chain as it was.
    let thief = onevisit_core::identity::DeviceKey::generate();
    for (what, request) in [
        ("another key", packed_by(&thief, &|_| {})),
        ("an edited entry", {
            let key = a.lock().unwrap();
            packed_by(key.device_key(), &|p| p.object_hashes[0] = "0".repeat(64))
        }),
    ] {
        let refused = post(&request);
        assert!(refused.refused.is_some(), "{what}: {refused:?}");
        assert_eq!(refused.accepted_through, confirmed, "{what}");
    }
    // Both forms at once are refused as malformed.
    let both = {
        let key = a.lock().unwrap();
        SyncRequest { audit: entries.clone(), ..packed_by(key.device_key(), &|_| {}) }
    };
    assert!(client_of(&a).post_json::<_, SyncResponse>("/v1/sync", &both, &CancelToken::new()).is_err());
    // The per-entry form a device of the previous version sends is still accepted...
    let old = SyncRequest { since: 0, limit: 1, audit: entries.clone(), ..Default::default() };
    let accepted = post(&old);
    assert_eq!(
        (accepted.refused.as_deref(), accepted.accepted_through),
        (None, entries.last().unwrap().entry().unwrap().seq)
    );
    a.lock().unwrap().confirm_audit(accepted.accepted_through, accepted.checkpoint.as_ref()).unwrap();
    // ...and the packed form continues the same chain, its entries provable in the same tree.
    edit(2);
    let report = sync_ok(&a);
    assert!(report.audit_refused.is_none());
    assert_eq!(report.audit_through, a.lock().unwrap().audit_head().unwrap().seq);
    let proofs = onevisit_core::sync::audit_proofs(&a, &fast_options(), &CancelToken::new()).unwrap();
    assert!(proofs.proofs.len() as u64 >= report.audit_through, "every entry has its inclusion proof");
    assert!(a.lock().unwrap().verify_audit().unwrap().is_intact());
    // A bundle of the chain uploaded both ways, with the server's proofs, verifies offline.
    let bag = city.path().join("both-ways.zip");
    onevisit_flow_tests::export_bundle(&a, &code, &bag, onevisit_core::bundle::Format::Zip, true);
    let checked = onevisit_flow_tests::check_bundle(&bag, &city.root);
    assert!(checked.is_valid(), "{:?}", checked.failures());
    assert!(checked.checks.iter().any(|c| c.kind == "audit" && c.ok));
}
