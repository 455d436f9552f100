//! The fuzz harnesses: one function per parser of bytes an attacker controls, each feeding the
//! bytes to the parser exactly as the device or the server would and checking what must hold
//! whatever the bytes (no panic, bounded output, round trips that agree). `fuzz/` runs them under
//! cargo-fuzz (`scripts/fuzz.sh`); `tests/corpus.rs` replays every stored input as a regression
//! test of the ordinary test command.

use std::sync::OnceLock;

use onevisit_core::domain::{Directory, Task, TaskCode};
use onevisit_core::identity::{DeviceKey, KeyError, SeedWrapper};
use onevisit_core::record::rules::{Author, WriteRules};
use onevisit_core::record::{InspectionRecord, Stamp};
use onevisit_core::sync::wire;

/// A harness: takes any bytes, panics only on a bug.
pub type Harness = fn(&[u8]);

/// Every harness by name (the names of `fuzz/fuzz_targets/` and of the corpus folders).
pub const TARGETS: &[(&str, Harness)] = &[
    ("sync_wire", sync_wire),
    ("deflate", deflate),
    ("request_headers", request_headers),
    ("blob_range", blob_range),
    ("bundle_zip", bundle_zip),
    ("photo", photo),
    ("task_token", task_token),
    ("canonical_json", canonical_json),
    ("record_changes", record_changes),
];

/// Makes only panics that escape a harness count as crashes. The fuzzer's own hook aborts on every
/// panic, even one the code under test catches on purpose (the write rules catch Automerge's decoder
/// panicking on hostile change bytes and refuse the change); those are handled, so they stay
/// silent. An escaping panic still aborts (libFuzzer's wrapper), and the corpus replay test shows
/// its message.
pub fn report_only_escaping_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// Splits fuzz input into up to `n` parts at `\n`.
fn parts(data: &[u8], n: usize) -> Vec<String> {
    String::from_utf8_lossy(data).splitn(n, '\n').map(str::to_string).collect()
}

/// The JSON messages of the sync protocol, as either side parses them.
pub fn sync_wire(data: &[u8]) {
    let _ = serde_json::from_slice::<wire::SyncRequest>(data);
    let _ = serde_json::from_slice::<wire::SyncResponse>(data);
    let _ = serde_json::from_slice::<wire::EnrolRequest>(data);
    let _ = serde_json::from_slice::<wire::EnrolResponse>(data);
    let _ = serde_json::from_slice::<wire::ProofRequest>(data);
    let _ = serde_json::from_slice::<wire::AuditProofs>(data);
    let _ = serde_json::from_slice::<wire::BlobList>(data);
    let _ = serde_json::from_slice::<wire::UploadState>(data);
    let _ = serde_json::from_slice::<wire::ErrorBody>(data);
    if let Ok(response) = serde_json::from_slice::<wire::SyncResponse>(data) {
        // What the device does with each part of an answer before trusting it.
        for d in &response.records {
            let _ = wire::heads_from_hex(&d.heads);
            for c in &d.changes {
                let _ = wire::unb64(c).map(automerge::Change::from_bytes);
            }
        }
        if let Some(update) = &response.directory {
            let _ = Directory::from_json(update.json.as_bytes());
        }
    }
}

/// Request bodies compressed with DEFLATE: never more out than the limit, whatever comes in.
pub fn deflate(data: &[u8]) {
    const LIMIT: usize = 1 << 20;
    if let Ok(out) = wire::inflate(data, LIMIT) {
        assert!(out.len() <= LIMIT, "inflated past the limit");
        assert_eq!(wire::inflate(&wire::deflate(&out), LIMIT).ok(), Some(out), "a round trip changed the bytes");
    }
}

/// The authentication headers of a device request.
pub fn request_headers(data: &[u8]) {
    let p = parts(data, 5);
    let get = |i: usize| p.get(i).map(String::as_str);
    if let Ok(auth) = onevisit_core::request_auth::RequestAuth::from_headers(get(0), get(1), get(2), get(3)) {
        let _ = auth.check_clock(chrono::Utc::now().timestamp_millis());
        let _ = auth.verify(&fixed_key(1).verifying_key(), "POST", "/v1/sync", data, auth.timestamp_ms);
    }
}

/// `Range:` headers of blob downloads: any accepted range lies within the blob.
pub fn blob_range(data: &[u8]) {
    let p = parts(data, 2);
    let size = p.get(1).and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(1000);
    if let Some((start, end)) = onevisit_server::blobs::parse_range(&p[0], size) {
        assert!(start < end && end <= size, "range {start}..{end} outside a blob of {size}");
    }
}

/// `onevisit verify` on a .zip someone sent.
pub fn bundle_zip(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("bundle.zip");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let root = hex::encode(fixed_key(0).public_bytes());
    let cancel = onevisit_core::sync::CancelToken::new();
    let _ = onevisit_core::bundle::verify(&path, &root, &|_| {}, &cancel);
}

/// A photo taken in: sniffing, EXIF, decoding and the thumbnail.
pub fn photo(data: &[u8]) {
    if let Ok(analysed) = onevisit_core::evidence::analyse(data) {
        assert!(analysed.facts.width > 0 && analysed.facts.height > 0);
        assert!(!analysed.thumbnail_jpeg.is_empty());
    }
    let _ = onevisit_core::evidence::exif::read(data);
}

/// The task code a party scans (亮码), checked offline.
pub fn task_token(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let _ = onevisit_core::task_token::verify(&token, &fixed_key(0).verifying_key(), 0);
}

/// Signed JSON statements: a statement accepted as canonical re-encodes to the same bytes.
pub fn canonical_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
        && let Ok(canonical) = onevisit_core::canonical::to_canonical_json(&value)
    {
        let again: serde_json::Value = serde_json::from_slice(&canonical).expect("canonical JSON parses");
        let twice = onevisit_core::canonical::to_canonical_json(&again).expect("canonical JSON re-encodes");
        assert_eq!(canonical, twice, "canonical JSON is not stable");
    }
    let _ = onevisit_core::signed::verify::<serde_json::Value>(&text, &"00".repeat(64), |_| "");
}

/// Record changes as the server and every device judge them: arbitrary change bytes, sync
/// messages and whole record files, against a record of a fixed tenant with a certified writer.
pub fn record_changes(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else { return };
    let fixture = fixture();
    let rules = fixture.rules();
    match mode % 3 {
        0 => {
            let mut record = fixture.record();
            let changes: Vec<automerge::Change> =
                split_changes(bytes).into_iter().filter_map(|b| automerge::Change::from_bytes(b).ok()).collect();
            let _ = record.apply_changes(changes, &rules);
        }
        1 => {
            let mut record = fixture.record();
            if let Ok(message) = automerge::sync::Message::decode(bytes) {
                let _ = record.receive_sync_message(&mut automerge::sync::State::new(), message, &rules);
            }
        }
        _ => {
            let changes: Vec<automerge::Change> =
                split_changes(bytes).into_iter().filter_map(|b| automerge::Change::from_bytes(b).ok()).collect();
            let _ = InspectionRecord::from_changes(changes, &rules);
        }
    }
}

/// Several changes in one input: each prefixed by its length (u16, big-endian).
pub fn split_changes(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 2 && out.len() < 16 {
        let n = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
        let end = (2 + n).min(bytes.len());
        out.push(bytes[2..end].to_vec());
        bytes = &bytes[end..];
    }
    out
}

/// Joins changes the way [`split_changes`] reads them (for seeds).
pub fn join_changes(changes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in changes {
        out.extend_from_slice(&(c.len().min(u16::MAX as usize) as u16).to_be_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// A key fixed by its seed byte: 0 is the tenant root, 1 the certified inspector's device.
pub fn fixed_key(n: u8) -> DeviceKey {
    /// The seed as its own sealed form: fixture keys only, never a real device's.
    struct Plain;
    impl SeedWrapper for Plain {
        fn wrap(&self, seed: &[u8; 32]) -> Result<Vec<u8>, KeyError> {
            Ok(seed.to_vec())
        }
        fn unwrap(&self, sealed: &[u8]) -> Result<[u8; 32], KeyError> {
            sealed.try_into().map_err(|_| KeyError::MalformedSealedSeed)
        }
    }
    let seed = [n.wrapping_add(7); 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    DeviceKey::unseal(&seed, &Plain, &public).expect("a fixed seed")
}

/// The record every change input is judged against, and who may write it.
pub struct Fixture {
    /// The sample directory.
    pub directory: Directory,
    /// A joint task created by the tenant (scjg-01 leads, xfjy-01 takes part), saved.
    pub snapshot: Vec<u8>,
    /// The tenant root.
    pub root: DeviceKey,
    /// scjg-01's device.
    pub device: DeviceKey,
}

impl Fixture {
    /// The write rules with the tenant anchor and scjg-01's device as the authenticated writer.
    pub fn rules(&self) -> WriteRules<'_> {
        let author = Author::Inspector {
            inspector: "scjg-01".parse().expect("literal"),
            departments: vec!["scjg".parse().expect("literal")],
            certified: true,
        };
        WriteRules::anchored(&self.directory, self.root.verifying_key())
            .with_authenticated(self.device.actor_id(), author)
    }

    /// The record as created, loaded afresh.
    pub fn record(&self) -> InspectionRecord {
        InspectionRecord::load(&self.snapshot, std::iter::empty()).expect("the fixture record loads")
    }
}

/// The record's creation exactly as `InspectionRecord::create` made it when the stored artifacts
/// were found (the maps up to `rechecks`), saved: its change hash is what they depend on, so maps
/// added to new records later must not change it. Records of that layout stay valid.
fn creation_with_rechecks(task: &Task, root: &DeviceKey, stamp: &Stamp) -> Vec<u8> {
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{AutoCommit, ObjType, ROOT};
    let mut doc = AutoCommit::new().with_actor(root.actor_id());
    let status =
        onevisit_core::record::StatusEntry { status: onevisit_core::record::Status::Planned, stamp: stamp.clone() };
    let made = (|| -> Result<(), automerge::AutomergeError> {
        doc.put(ROOT, "schema_version", onevisit_core::record::SCHEMA_VERSION)?;
        doc.put(ROOT, "task", serde_json::to_string(task).unwrap_or_default())?;
        doc.put(ROOT, "status", serde_json::to_string(&status).unwrap_or_default())?;
        let sections = doc.put_object(ROOT, "sections", ObjType::Map)?;
        for department in &task.departments {
            doc.put_object(&sections, department.as_str(), ObjType::Map)?;
        }
        for map in ["findings", "arrivals", "evidence", "documents", "signatures", "rechecks"] {
            doc.put_object(ROOT, map, ObjType::Map)?;
        }
        Ok(())
    })();
    made.expect("the fixture's creation");
    doc.commit_with(CommitOptions::default().with_message("create").with_time(stamp.at_ms / 1000));
    doc.save()
}

/// The fixture, made once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let directory = onevisit_core::sample::directory().expect("the sample directory");
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        // The team as the stored artifacts were made against (one officer of each department):
        // a hostile change names the fixture's creation change as its dependency, so the
        // fixture's bytes must not follow the sample task as it grows.
        let mut draft = onevisit_core::sample::joint_task_draft(&directory, 0, day);
        draft.inspectors = vec!["scjg-01".parse().expect("literal"), "xfjy-01".parse().expect("literal")];
        let code = TaskCode::parse("330482-20261201-FA22FA22").expect("code");
        let task = Task::from_draft(draft, code, &directory).expect("task");
        let root = fixed_key(0);
        let stamp = Stamp { by: "scjg-01".parse().expect("literal"), at_ms: 1_764_547_200_000 };
        let snapshot = creation_with_rechecks(&task, &root, &stamp);
        Fixture { directory, snapshot, root, device: fixed_key(1) }
    })
}
