//! Writes the seed inputs of every fuzz target into `fuzz/corpus/<target>/seed-*`: real messages,
//! photos, tokens, record changes and an evidence bundle exported from a real flow (embedded
//! server, an enrolled device), so the fuzzers start from what the parsers meet in practice.
//! Usage: `onevisit-seed-corpus [fuzz/corpus]`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use onevisit_core::evidence::CaptureTarget;
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::{AnswerValue, Position, Stamp};
use onevisit_core::store::Store;
use onevisit_core::sync::{self, CancelToken, SyncOptions, wire};
use onevisit_fuzzing::{fixed_key, fixture, join_changes};
use onevisit_test_support::{SampleExif, sample_jpeg};

/// Writes one seed unless it is there already (the committed seeds stay as they are).
fn write(corpus: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus.join(target);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    let path = dir.join(format!("seed-{name}"));
    if !path.exists() {
        std::fs::write(path, bytes).expect("seed file");
    }
}

fn main() {
    let corpus = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("fuzz/corpus"));
    let f = fixture();

    // Record changes made by the certified device on the fixture record, and the creation itself.
    let mut record = f.record();
    let creation = record.changes_since(&[]);
    let heads = record.heads();
    record.set_actor(f.device.actor_id());
    let stamp = Stamp { by: "scjg-01".parse().expect("literal"), at_ms: 1_764_550_800_000 };
    record.check_in_at(stamp.clone(), Position::wgs84(30.7, 121.0, 5).expect("position")).expect("check in");
    let point = "SCJG-001-01".parse().expect("literal");
    record
        .answer_check_point(stamp, &f.directory, &point, AnswerValue::Pass, Some("符合".into()), vec![])
        .expect("answer");
    let edits = record.changes_since(&heads);
    let with_mode = |mode: u8, bytes: Vec<u8>| [vec![mode], bytes].concat();
    write(&corpus, "record_changes", "edits", &with_mode(0, join_changes(&edits)));
    write(&corpus, "record_changes", "creation", &with_mode(2, join_changes(&creation)));
    let mut state = automerge::sync::State::new();
    if let Some(message) = record.sync_message(&mut state) {
        write(&corpus, "record_changes", "sync-message", &with_mode(1, message.encode()));
    }

    // Sync messages.
    let push = serde_json::json!({
        "since": 3, "limit": 500, "revocations_seen": 0, "directory_version": "",
        "documents": [{"id": "330482-20261201-FA22FA22", "known_heads": [], "changes": edits.iter().map(|c| wire::b64(c)).collect::<Vec<_>>()}],
        "audit": []
    });
    write(&corpus, "sync_wire", "request", push.to_string().as_bytes());
    let answer = serde_json::json!({
        "documents": [{"id": "330482-20261201-FA22FA22", "heads": ["00".repeat(32)], "changes": [wire::b64(&edits[0])]}],
        "feed": [{"seq": 1, "kind": "document", "id": "330482-20261201-FA22FA22", "heads": []}],
        "next": 1, "more": false
    });
    write(&corpus, "sync_wire", "response", answer.to_string().as_bytes());
    write(&corpus, "sync_wire", "proofs", br#"{"seqs":[1,2,3],"tree_size":10}"#);
    write(&corpus, "sync_wire", "error", r#"{"error":"throttled","message":"请求过于频繁"}"#.as_bytes());
    write(&corpus, "deflate", "request", &wire::deflate(push.to_string().as_bytes()));

    // Request headers, blob ranges.
    let auth = onevisit_core::request_auth::RequestAuth::sign(&f.device, "POST", "/v1/sync", b"{}", 1_764_550_800_000);
    let headers = format!("{}\n{}\n{}\n{}\n", auth.device, auth.timestamp_ms, auth.nonce, auth.signature);
    write(&corpus, "request_headers", "signed", headers.as_bytes());
    write(&corpus, "blob_range", "closed", b"bytes=0-99\n1000");
    write(&corpus, "blob_range", "open", b"bytes=900-\n1000");

    // Photos, a task token, canonical JSON.
    let jpeg = sample_jpeg(320, 240, Some(&SampleExif::pinghu()));
    write(&corpus, "photo", "jpeg-exif", &jpeg);
    write(&corpus, "photo", "jpeg-plain", &sample_jpeg(64, 48, None));
    write(&corpus, "photo", "png-signature", include_bytes!("../../../data/sample-signature.png"));
    let claims = onevisit_core::task_token::TaskClaims {
        code: "330482-20261201-FA22FA22".into(),
        uscc: "92330482F1BAP1RXHJ".into(),
        inspectors: vec![("张三".into(), "SCJG-0001".into())],
        matters: vec!["SCJG-001".into()],
        not_before_ms: 0,
        expires_ms: 1,
        issuer: fixed_key(0).device_id(),
    };
    let token = onevisit_core::task_token::issue(&claims, &fixed_key(0)).expect("token");
    write(&corpus, "task_token", "issued", token.as_bytes());
    let canonical = onevisit_core::canonical::to_canonical_json(&claims).expect("canonical");
    write(&corpus, "canonical_json", "claims", &canonical);
    write(&corpus, "canonical_json", "numbers", br#"{"b":[1e2,-0,0.5,9007199254740991],"a":"\u00e9\ud83d\ude00"}"#);

    // An evidence bundle exported from a real flow (made only when missing: it takes a while).
    if !corpus.join("bundle_zip/seed-exported").exists() {
        match exported_bundle() {
            Ok(zip) => write(&corpus, "bundle_zip", "exported", &zip),
            Err(e) => eprintln!("no bundle seed: {e}"),
        }
    }
    println!("seeds written under {}", corpus.display());
}

/// A task recorded with a photo on an enrolled device, synced, and exported as a .zip with proofs.
fn exported_bundle() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let directory = onevisit_core::sample::directory()?;
    let server = onevisit_server::embedded::EmbeddedServer::start(&tmp.path().join("server"), "330482", &directory)?;
    let day = chrono::Utc::now().date_naive();
    server.plan(&directory, vec![onevisit_core::sample::joint_task_draft(&directory, 0, day)])?;
    let root = tmp.path().join("device");
    std::fs::create_dir_all(&root)?;
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key"))?;
    let mut store = Store::init(&root, &wrapper, Some("scjg-01".parse()?))?;
    store.import_directory(directory)?;
    let code = server.enrolment_code("scjg-01")?;
    sync::enrol(&mut store, &server.base, &code, &server.root_public_key)?;
    let store = Mutex::new(store);
    let cancel = CancelToken::new();
    sync::sync(&store, &SyncOptions::default(), &|_| {}, &cancel)?;
    let task = {
        let mut s = store.lock().map_err(|_| "poisoned")?;
        let code = onevisit_core::domain::TaskCode::parse(&s.list_tasks(&Default::default())?[0].code)?;
        let here = Position::wgs84(30.7, 121.0, 5).ok_or("position")?;
        s.check_in(&code, here)?;
        let photo = sample_jpeg(320, 240, Some(&SampleExif::pinghu()));
        s.add_photo(&code, &photo, CaptureTarget::Inspection, Some(here))?;
        s.answer(&code, &"SCJG-001-01".parse()?, AnswerValue::Pass, None, vec![])?;
        code
    };
    sync::sync(&store, &SyncOptions::default(), &|_| {}, &cancel)?;
    let proofs = sync::audit_proofs(&store, &SyncOptions::default(), &cancel)?;
    let out = tmp.path().join("bundle.zip");
    let options = onevisit_core::bundle::ExportOptions {
        format: onevisit_core::bundle::Format::Zip,
        agency: "平湖市市场监督管理局".into(),
        proofs: Some(proofs),
    };
    let mut s = store.lock().map_err(|_| "poisoned")?;
    onevisit_core::bundle::export(&mut s, &[task], &out, &options, &|_| {}, &cancel)?;
    Ok(std::fs::read(out)?)
}
