//! One simulated device of the `load` group: its enrolled key, the replica it talks to, its feed
//! cursor, and (for pushes) the one record it writes, held as the app holds it.

use automerge::ChangeHash;
use onevisit_core::domain::{CheckPointId, Directory, InspectorId};
use onevisit_core::identity::DeviceKey;
use onevisit_core::record::{AnswerValue, InspectionRecord, Position, Stamp};
use onevisit_core::request_auth::{self, RequestAuth};
use onevisit_core::sync::wire::{self, EnrolRequest, EnrolResponse, RecordPush, SyncRequest, SyncResponse};

/// Edits in one measured push (a check point answered twenty times over, as a busy visit does).
pub const EDITS_PER_PUSH: usize = 20;

/// A simulated device.
pub struct Device {
    pub key: DeviceKey,
    pub inspector: String,
    pub base: String,
    pub since: u64,
    pub directory_version: String,
    /// The record this device writes, once claimed.
    pub writing: Option<Writing>,
}

/// A record a device writes: its local copy, the server heads it last confirmed, the check points
/// its department answers there.
pub struct Writing {
    id: String,
    record: InspectionRecord,
    known: Vec<String>,
    points: Vec<CheckPointId>,
    round: usize,
}

/// Posts a JSON body (signed and deflated when `key` is given) and decodes the JSON answer.
pub async fn post<T: serde::Serialize, R: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    key: Option<&DeviceKey>,
    body: &T,
) -> R {
    let json = serde_json::to_vec(body).expect("json");
    let (bytes, deflated) = if key.is_some() { (wire::deflate(&json), true) } else { (json, false) };
    let mut request = http.post(format!("{base}{path}")).header("content-type", "application/json");
    if let Some(key) = key {
        let auth = RequestAuth::sign(key, "POST", path, &bytes, chrono::Utc::now().timestamp_millis());
        request = request
            .header(request_auth::HEADER_DEVICE, auth.device)
            .header(request_auth::HEADER_TIMESTAMP, auth.timestamp_ms.to_string())
            .header(request_auth::HEADER_NONCE, auth.nonce)
            .header(request_auth::HEADER_SIGNATURE, auth.signature);
    }
    if deflated {
        request = request.header("content-encoding", wire::DEFLATE).header("accept-encoding", wire::DEFLATE);
    }
    let answer = request.body(bytes).send().await.expect("request");
    let status = answer.status();
    let encoded = answer.headers().get("content-encoding").is_some_and(|v| v.as_bytes() == wire::DEFLATE.as_bytes());
    let body = answer.bytes().await.expect("body");
    assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&body));
    let body = if encoded { wire::inflate(&body, 64 << 20).expect("inflate") } else { body.to_vec() };
    serde_json::from_slice(&body).expect("answer")
}

impl Device {
    /// Enrols a new key with `code` at `base` and brings its feed cursor up to date, page by page.
    pub async fn enrol(http: &reqwest::Client, base: String, root: &str, inspector: &str, code: String) -> Device {
        let key = DeviceKey::generate();
        let public = hex::encode(key.public_bytes());
        let proof = hex::encode(key.sign(&request_auth::enrolment_proof_bytes(&code, &public)).to_bytes());
        let request = EnrolRequest {
            code,
            device_public_key: public,
            proof,
            root_public_key: Some(root.to_string()),
            inspector: Some(inspector.to_string()),
        };
        let _: EnrolResponse = post(http, &base, "/v1/enroll", None, &request).await;
        let mut device = Device {
            key,
            inspector: inspector.to_string(),
            base,
            since: 0,
            directory_version: String::new(),
            writing: None,
        };
        loop {
            let answer = device.sync(http, Vec::new()).await;
            if !answer.more {
                break;
            }
        }
        device
    }

    /// One signed sync carrying `records`; moves the cursor and keeps the directory version.
    pub async fn sync(&mut self, http: &reqwest::Client, records: Vec<RecordPush>) -> SyncResponse {
        let request = SyncRequest {
            since: self.since,
            limit: 500,
            records,
            revocations_seen: 0,
            directory_version: self.directory_version.clone(),
            ..Default::default()
        };
        let answer: SyncResponse = post(http, &self.base, "/v1/sync", Some(&self.key), &request).await;
        self.since = answer.next;
        if let Some(d) = &answer.directory {
            self.directory_version = d.version.clone();
        }
        answer
    }

    /// A no-op sync: nothing to push, nothing new to pull.
    pub async fn noop(&mut self, http: &reqwest::Client) {
        let answer = self.sync(http, Vec::new()).await;
        assert!(answer.feed.is_empty() && answer.directory.is_none(), "a no-op sync");
    }

    /// Fetches record `id` from the server, checks in there and pushes the check-in: from then on
    /// this device writes that record.
    pub async fn claim(&mut self, http: &reqwest::Client, directory: &Directory, id: &str) {
        let fetch = RecordPush { id: id.to_string(), ..Default::default() };
        let answer = self.sync(http, vec![fetch]).await;
        let result = answer.records.into_iter().next().expect("one record result");
        assert!(result.refused.is_none(), "fetching {id}: {:?}", result.refused);
        let mut doc = automerge::AutoCommit::new();
        let changes = result
            .changes
            .iter()
            .map(|c| automerge::Change::from_bytes(wire::unb64(c).expect("base64")).expect("a change from the server"));
        doc.apply_changes(changes).expect("the server's changes");
        let mut record = InspectionRecord::load(&doc.save(), []).expect("record");
        record.set_actor(self.key.actor_id());
        let me = InspectorId::new(self.inspector.clone()).expect("inspector id");
        let department = directory.inspector(&me).expect("known inspector").department.clone();
        let points = crate::department_check_points(directory, record.task(), &department);
        assert!(!points.is_empty(), "{id} has a matter of {department}");
        let before = record.heads();
        let stamp = Stamp { by: me, at_ms: chrono::Utc::now().timestamp_millis() };
        record.check_in_at(stamp, Position::wgs84(30.7, 121.0, 5).expect("fix")).expect("check in");
        let mut writing = Writing { id: id.to_string(), record, known: result.heads, points, round: 0 };
        let push = writing.changes_since(&before);
        let answer = self.sync(http, vec![push]).await;
        writing.confirmed(answer);
        self.writing = Some(writing);
    }

    /// Makes [`EDITS_PER_PUSH`] answers on the claimed record and pushes them in one sync.
    pub async fn push(&mut self, http: &reqwest::Client, directory: &Directory) {
        let writing = self.writing.as_mut().expect("a claimed record");
        let me = InspectorId::new(self.inspector.clone()).expect("inspector id");
        let before = writing.record.heads();
        writing.round += 1;
        for k in 0..EDITS_PER_PUSH {
            let stamp = Stamp { by: me.clone(), at_ms: chrono::Utc::now().timestamp_millis() };
            let point = &writing.points[k % writing.points.len()];
            let note = Some(format!("第{}轮第{k}项", writing.round));
            writing
                .record
                .answer_check_point(stamp, directory, point, AnswerValue::NotApplicable, note, vec![])
                .expect("answer");
        }
        let push = writing.changes_since(&before);
        let answer = self.sync(http, vec![push]).await;
        if let Some(writing) = self.writing.as_mut() {
            writing.confirmed(answer);
        }
    }
}

impl Writing {
    fn changes_since(&mut self, before: &[ChangeHash]) -> RecordPush {
        let changes = self.record.changes_since(before).iter().map(|c| wire::b64(c)).collect();
        self.record.take_unsaved();
        RecordPush { id: self.id.clone(), known_heads: self.known.clone(), changes, sync_message: None }
    }

    fn confirmed(&mut self, answer: SyncResponse) {
        let result = answer.records.into_iter().next().expect("one record result");
        assert!(result.refused.is_none(), "push to {} refused: {:?} {:?}", self.id, result.refused, result.forbidden);
        assert!(result.changes.is_empty(), "{}: only this device writes it", self.id);
        self.known = result.heads;
    }
}
