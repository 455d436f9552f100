//! The rules, edit by edit: what each path of the record may hold, who may write it and when,
//! read against the record as it was at the change's dependencies.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, AutoCommit, Change, ChangeHash, ObjId, ROOT, ReadDoc, ScalarValue};
use serde::de::DeserializeOwned;

use super::authors::{Author, Authors};
use super::edits::{Action, Container, Edit, LATER_ROOT_MAPS, ROOT_MAPS};
use super::{ForbiddenEdit, WriteRule, WriteRules};
use crate::certificate::{DeviceCertificate, SignedCertificate};
use crate::document::{DocumentSignature, SignatureRole, SignedStatement};
use crate::domain::{DepartmentId, InspectorId, Task, TaskSource};
use crate::evidence::CaptureTarget;
use crate::identity::{actor_id_of, verifying_key_from_hex};
use crate::record::documents::DocumentVersion;
use crate::record::{
    Answer, CheckIn, EvidenceRef, Finding, IdentityShown, InspectionRecord, PartyRepresentative, Position, Recheck,
    RecheckOutcome, SCHEMA_VERSION, Status, StatusEntry, validate_answer,
};

type Verdict = Result<(), WriteRule>;

/// An operation's id: its counter and actor.
type OpRef = (u64, ActorId);

/// The values visible at one key (text, if a string), with the operations that wrote them.
type Visible = Vec<(Option<String>, OpRef)>;

/// A key of one map of the record.
type Slot = (ObjId, String);

/// The values a linear batch's earlier changes wrote, over the record at the batch's first
/// dependencies: what the next change's past adds to that state, read by a map lookup instead of
/// a historical read of the whole document.
#[derive(Default)]
pub(super) struct Overlay {
    values: HashMap<Slot, Visible>,
    /// Values already read from the record at the start (the task, the status … are read by every
    /// change): read once per chain.
    memo: std::cell::RefCell<HashMap<Slot, Visible>>,
    /// The batch's changes judged so far.
    seen: HashSet<ChangeHash>,
}

impl Overlay {
    /// Takes in a judged change (`base`: the record at the batch's start): each put replaces the
    /// values it overwrote at its key.
    pub(super) fn record(&mut self, base: &At<'_>, change: &Change, edits: &[Edit]) {
        let start = change.start_op().get();
        for (i, edit) in edits.iter().enumerate() {
            let slot = (edit.obj.clone(), edit.key.clone());
            let before = match self.values.get(&slot).or(self.memo.get_mut().get(&slot)) {
                Some(v) => v.clone(),
                None => base.values(&edit.obj, &edit.key),
            };
            let mut after: Vec<_> = before.into_iter().filter(|(_, id)| !edit.pred.contains(id)).collect();
            after.push((edit.text().map(str::to_string), (start + i as u64, change.actor_id().clone())));
            self.values.insert(slot, after);
        }
        self.seen.insert(change.hash());
    }
}

/// The record as it was at a change's dependencies.
pub(super) struct At<'d> {
    doc: &'d AutoCommit,
    /// `None` when the dependencies are the document's current heads.
    heads: Option<Vec<ChangeHash>>,
    /// In a linear batch: what its earlier changes wrote (then `heads` is the batch's start).
    overlay: Option<&'d Overlay>,
}

/// The heads to read `doc` at for the record at `deps`: `None` when they are its current heads.
pub(super) fn heads_for(doc: &mut AutoCommit, deps: &[ChangeHash]) -> Option<Vec<ChangeHash>> {
    let mut deps = deps.to_vec();
    deps.sort();
    let mut heads = doc.get_heads();
    heads.sort();
    (deps != heads).then_some(deps)
}

impl<'d> At<'d> {
    /// The record at `heads` (see [`heads_for`]), with what a linear batch wrote before, if any.
    pub(super) fn new(doc: &'d AutoCommit, heads: Option<Vec<ChangeHash>>, overlay: Option<&'d Overlay>) -> At<'d> {
        At { doc, heads, overlay }
    }

    /// Every value visible at `key`, with the id of the operation that wrote it.
    fn values(&self, obj: &ObjId, key: &str) -> Visible {
        let Some(overlay) = self.overlay else { return self.read(obj, key) };
        let slot = (obj.clone(), key.to_string());
        if let Some(written) = overlay.values.get(&slot) {
            return written.clone();
        }
        if let Some(read) = overlay.memo.borrow().get(&slot) {
            return read.clone();
        }
        let read = self.read(obj, key);
        overlay.memo.borrow_mut().insert(slot, read.clone());
        read
    }

    /// Every value visible at `key` in the document at `heads`.
    fn read(&self, obj: &ObjId, key: &str) -> Visible {
        let all = match &self.heads {
            None => self.doc.get_all(obj, key),
            Some(h) => self.doc.get_all_at(obj, key, h),
        };
        all.unwrap_or_default()
            .into_iter()
            .filter_map(|(v, id)| match id {
                ObjId::Id(counter, actor, _) => Some((v.as_str().map(str::to_string), (counter, actor))),
                ObjId::Root => None,
            })
            .collect()
    }

    /// The winning value at `key` (Automerge's: the greatest operation id), as text.
    fn text(&self, obj: &ObjId, key: &str) -> Option<String> {
        if self.overlay.is_some() {
            return self.values(obj, key).into_iter().max_by(|a, b| a.1.cmp(&b.1)).and_then(|(v, _)| v);
        }
        let got = match &self.heads {
            None => self.doc.get(obj, key),
            Some(h) => self.doc.get_at(obj, key, h),
        };
        let (value, _) = got.ok().flatten()?;
        value.as_str().map(str::to_string)
    }

    /// The winning value at `key`, parsed.
    fn json<T: DeserializeOwned>(&self, obj: &ObjId, key: &str) -> Option<T> {
        serde_json::from_str(&self.text(obj, key)?).ok()
    }

    fn has(&self, obj: &ObjId, key: &str) -> bool {
        !self.values(obj, key).is_empty()
    }

    /// Every key of a map.
    fn keys(&self, obj: &ObjId) -> Vec<String> {
        let mut keys: Vec<String> = match &self.heads {
            None => self.doc.keys(obj).collect(),
            Some(h) => self.doc.keys_at(obj, h).collect(),
        };
        if let Some(o) = self.overlay {
            let added: Vec<String> =
                o.values.keys().filter(|(id, k)| id == obj && !keys.contains(k)).map(|(_, k)| k.clone()).collect();
            keys.extend(added);
        }
        keys
    }

    /// Whether a change is in the record's past here.
    fn knows(&self, hash: &ChangeHash) -> bool {
        self.overlay.is_some_and(|o| o.seen.contains(hash)) || self.doc.get_change_by_hash(hash).is_some()
    }

    fn map(&self, key: &str) -> Option<ObjId> {
        self.doc.get(ROOT, key).ok().flatten().map(|(_, id)| id)
    }
}

/// One change being judged.
struct Ctx<'a> {
    at: At<'a>,
    change: &'a Change,
    edits: &'a [Edit],
    authors: &'a Authors,
    rules: &'a WriteRules<'a>,
    task: Task,
    status: Status,
    /// Whether the record met the precondition of the status the change moves to, at the
    /// dependencies (computed only for a change completing the recording or closing the task).
    complete: bool,
}

/// The task as last parsed, by its JSON: most changes of a batch see the same task.
#[derive(Default)]
pub(super) struct TaskCache(Option<(String, Task)>);

impl TaskCache {
    fn get(&mut self, at: &At<'_>) -> Option<Task> {
        let text = at.text(&ROOT, "task")?;
        if let Some((t, task)) = &self.0
            && t == &text
        {
            return Some(task.clone());
        }
        let task: Task = serde_json::from_str(&text).ok()?;
        self.0 = Some((text, task.clone()));
        Some(task)
    }
}

/// The status a change moves to whose precondition reads the whole record: completing the
/// recording (everything answered, no open conflict) or closing the task (every finding's loop
/// settled).
pub(super) fn whole_record_status(edits: &[Edit]) -> Option<Status> {
    edits.iter().find_map(|e| {
        let entry = (e.container == Container::Root && e.key == "status")
            .then(|| e.text().and_then(|t| serde_json::from_str::<StatusEntry>(t).ok()))
            .flatten()?;
        matches!(entry.status, Status::Recorded | Status::Closed).then_some(entry.status)
    })
}

/// Checks one change of a created record, read through `at` (the record at its dependencies).
pub(super) fn check_change(
    at: At<'_>,
    change: &Change,
    edits: &[Edit],
    authors: &Authors,
    rules: &WriteRules<'_>,
    tasks: &mut TaskCache,
    complete: bool,
) -> Result<(), ForbiddenEdit> {
    let forbidden =
        |rule, path: &str| ForbiddenEdit { rule, path: path.to_string(), change: change.hash().to_string() };
    let task: Task = tasks.get(&at).ok_or_else(|| forbidden(WriteRule::Malformed, "task"))?;
    let status =
        at.json::<StatusEntry>(&ROOT, "status").ok_or_else(|| forbidden(WriteRule::Malformed, "status"))?.status;
    let ctx = Ctx { at, change, edits, authors, rules, task, status, complete };
    for edit in edits {
        ctx.check(edit).map_err(|rule| forbidden(rule, &edit.path()))?;
    }
    Ok(())
}

impl Ctx<'_> {
    fn check(&self, edit: &Edit) -> Verdict {
        let text = match &edit.action {
            Action::Delete => return Err(WriteRule::NoDeletion),
            Action::Make => return Err(WriteRule::Structure),
            Action::Other => return Err(WriteRule::UnknownPath),
            Action::Put(ScalarValue::Str(s)) => s.as_str(),
            Action::Put(_) if edit.container == Container::Root && edit.key == "schema_version" => {
                return Err(WriteRule::SchemaVersion);
            }
            Action::Put(_) => return Err(WriteRule::Malformed),
        };
        // An operation overwrites only what its author could see.
        let visible = self.at.values(&edit.obj, &edit.key);
        if edit.pred.iter().any(|p| !visible.iter().any(|(_, id)| id == p)) {
            return Err(WriteRule::Immutable);
        }
        let claimed = claimed_author(&edit.container, text);
        let author = self.author(claimed.as_ref())?;
        if self.status.is_final() && author != Author::Tenant {
            return Err(WriteRule::WrongStatus);
        }
        if self.is_resolution(edit, text, &visible, &author) {
            return Ok(());
        }
        let append_only = matches!(
            edit.container,
            Container::Findings
                | Container::Arrivals
                | Container::Evidence
                | Container::Documents
                | Container::Signatures
                | Container::Rechecks
                | Container::Seals
        );
        if append_only && !visible.is_empty() {
            return Err(WriteRule::Immutable);
        }
        match &edit.container {
            Container::Root => self.root(edit, text, &author),
            Container::Sections => Err(WriteRule::Structure),
            Container::Section(department) => self.answer(edit, department, text, &author),
            Container::Findings => self.finding(edit, text, &author),
            Container::Arrivals => self.arrival(edit, text, &author),
            Container::Evidence => self.evidence(edit, text, &author),
            Container::Documents => self.document(edit, text, &author),
            Container::Signatures => self.signature(edit, text, &author),
            Container::Rechecks => self.recheck(edit, text, &author),
            Container::Seals => self.seal(edit, text, &author),
        }
    }

    fn author(&self, claimed: Option<&InspectorId>) -> Result<Author, WriteRule> {
        let directory = self.rules.directory;
        self.authors
            .of(self.change.actor_id(), claimed, |i| {
                directory.inspector(i).map(|x| vec![x.department.clone()]).unwrap_or_default()
            })
            .ok_or(WriteRule::UnknownWriter)
    }

    /// The lead inspector settling a conflict: one of the values concurrently visible, written again.
    fn is_resolution(&self, edit: &Edit, text: &str, visible: &[(Option<String>, OpRef)], author: &Author) -> bool {
        let resolvable = matches!(
            (&edit.container, edit.key.as_str()),
            (Container::Root, "status" | "identity" | "party" | "service_address")
                | (Container::Section(_), _)
                | (Container::Findings, _)
                | (Container::Arrivals, _)
        );
        if !resolvable || !self.is_lead(author) || visible.len() < 2 {
            return false;
        }
        let Ok(chosen) = serde_json::from_str::<serde_json::Value>(text) else { return false };
        let values: Vec<serde_json::Value> =
            visible.iter().filter_map(|(v, _)| v.as_deref().and_then(|t| serde_json::from_str(t).ok())).collect();
        let unstamped: Vec<serde_json::Value> = values.iter().map(unstamp).collect();
        let disagree = unstamped.iter().any(|v| v != &unstamped[0]);
        disagree && values.contains(&chosen)
    }

    fn is_lead(&self, author: &Author) -> bool {
        match author {
            Author::Tenant => true,
            Author::Inspector { inspector, .. } => inspector == &self.task.lead_inspector,
        }
    }

    /// The stamp must name the change's author; the author must be assigned to the task.
    fn stamped(&self, author: &Author, by: &InspectorId) -> Verdict {
        match author {
            Author::Tenant => Ok(()),
            Author::Inspector { inspector, .. } if inspector != by => Err(WriteRule::ImpersonatedAuthor),
            Author::Inspector { inspector, .. } if !self.task.inspectors.contains(inspector) => {
                Err(WriteRule::NotAssigned)
            }
            Author::Inspector { .. } => Ok(()),
        }
    }

    fn require_status(&self, allowed: &[Status]) -> Verdict {
        if allowed.contains(&self.status) { Ok(()) } else { Err(WriteRule::WrongStatus) }
    }

    fn root(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        match edit.key.as_str() {
            "schema_version" => Err(WriteRule::SchemaVersion),
            "task" => {
                if author != &Author::Tenant {
                    return Err(WriteRule::TenantOnly);
                }
                let task: Task = parse(text)?;
                let same = task.code == self.task.code
                    && task.departments == self.task.departments
                    && task.inspectors.contains(&task.lead_inspector);
                if same { Ok(()) } else { Err(WriteRule::InvalidValue) }
            }
            "status" => self.status_change(text, author),
            "identity" => {
                let value: IdentityShown = parse(text)?;
                self.stamped(author, &value.stamp.by)?;
                self.require_status(&[Status::OnSite])?;
                if value.certificate_numbers.len() < 2 || value.certificate_numbers.iter().any(|c| c.trim().is_empty())
                {
                    return Err(WriteRule::InvalidValue);
                }
                Ok(())
            }
            "party" => {
                let value: PartyRepresentative = parse(text)?;
                self.stamped(author, &value.stamp.by)?;
                self.require_status(&[Status::OnSite])?;
                let recusal_ok = match &value.recusal {
                    crate::record::Recusal::Requested { reason } => !reason.trim().is_empty(),
                    crate::record::Recusal::NotRequested => true,
                };
                if value.name.trim().is_empty() || value.role.trim().is_empty() || !recusal_ok {
                    return Err(WriteRule::InvalidValue);
                }
                Ok(())
            }
            "service_address" => {
                let value: crate::record::ServiceAddress = parse(text)?;
                self.stamped(author, &value.stamp.by)?;
                self.require_status(&[Status::OnSite, Status::Recorded])?;
                let blank = |s: &str| s.trim().is_empty();
                if blank(&value.address) || blank(&value.recipient) || blank(&value.phone) {
                    return Err(WriteRule::InvalidValue);
                }
                Ok(())
            }
            key => match key.strip_prefix("certificate/") {
                Some(device) => self.certificate(device, text),
                None => Err(WriteRule::UnknownPath),
            },
        }
    }

    /// A device's certificate: its own slot, its own key, issued by the root (when anchored).
    fn certificate(&self, device: &str, text: &str) -> Verdict {
        let signed: SignedCertificate = parse(text)?;
        let certificate: DeviceCertificate = match self.rules.root {
            Some(root) => signed.verify_issued(&root).map_err(|_| WriteRule::Signature)?,
            None => parse(&signed.canonical)?,
        };
        if certificate.device != device {
            return Err(WriteRule::InvalidValue);
        }
        self.own_key(&certificate.device_public_key)
    }

    /// A key inside a value must be the one whose actor made the change.
    fn own_key(&self, public_key_hex: &str) -> Verdict {
        let key = verifying_key_from_hex(public_key_hex).ok_or(WriteRule::Signature)?;
        if &actor_id_of(&key.to_bytes()) == self.change.actor_id() { Ok(()) } else { Err(WriteRule::Signature) }
    }

    fn status_change(&self, text: &str, author: &Author) -> Verdict {
        let entry: StatusEntry = parse(text)?;
        self.stamped(author, &entry.stamp.by)?;
        let (from, next) = (self.status, entry.status);
        if !from.can_become(next) {
            return Err(WriteRule::Lifecycle);
        }
        if author == &Author::Tenant {
            return Ok(());
        }
        if (from, next) == (Status::Planned, Status::OnSite) {
            // Any assigned inspector, by checking in (in this change or before it).
            let me = entry.stamp.by.as_str();
            let arrives_now = self.edits.iter().any(|e| e.container == Container::Arrivals && e.key == me);
            let arrived = self.at.map("arrivals").is_some_and(|a| self.at.has(&a, me));
            return if arrives_now || arrived { Ok(()) } else { Err(WriteRule::Precondition) };
        }
        if !self.is_lead(author) {
            return Err(WriteRule::LeadOnly);
        }
        if matches!(next, Status::Recorded | Status::Closed) && !self.complete {
            return Err(WriteRule::Precondition);
        }
        Ok(())
    }

    fn answer(&self, edit: &Edit, department: &DepartmentId, text: &str, author: &Author) -> Verdict {
        let answer: Answer = parse(text)?;
        if answer.check_point.as_str() != edit.key {
            return Err(WriteRule::Malformed);
        }
        self.stamped(author, &answer.stamp.by)?;
        self.own_department(author, department)?;
        self.require_status(&[Status::OnSite])?;
        let (matter, point) = self
            .rules
            .directory
            .check_point(&answer.check_point)
            .filter(|(m, _)| self.task.matters.contains(&m.id) && &m.department == department)
            .ok_or(WriteRule::UnknownReference)?;
        let _ = matter;
        validate_answer(&answer.check_point, &point.answer, &answer.value, &answer.evidence)
            .map_err(|_| WriteRule::InvalidValue)?;
        if !answer.evidence.is_empty() {
            let attached = self.attached_photos();
            if answer.evidence.iter().any(|h| !attached.contains(h)) {
                return Err(WriteRule::UnknownReference);
            }
        }
        Ok(())
    }

    /// The SHA-256 of every photo attached at the change's dependencies.
    fn attached_photos(&self) -> Vec<String> {
        let Some(map) = self.at.map("evidence") else { return Vec::new() };
        self.at.keys(&map).into_iter().filter_map(|k| self.at.json::<EvidenceRef>(&map, &k)).map(|e| e.sha256).collect()
    }

    fn own_department(&self, author: &Author, department: &DepartmentId) -> Verdict {
        match author {
            Author::Tenant => Err(WriteRule::OtherDepartment),
            Author::Inspector { departments, .. } if departments.contains(department) => Ok(()),
            Author::Inspector { .. } => Err(WriteRule::OtherDepartment),
        }
    }

    fn finding(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        let finding: Finding = parse(text)?;
        if finding.id != edit.key {
            return Err(WriteRule::Malformed);
        }
        self.stamped(author, &finding.stamp.by)?;
        self.require_status(&[Status::OnSite])?;
        if !self.task.departments.contains(&finding.department) {
            return Err(WriteRule::InvalidValue);
        }
        self.own_department(author, &finding.department)?;
        let texts_ok = !finding.problem.trim().is_empty() && !finding.legal_basis.trim().is_empty();
        if !texts_ok || finding.rectification_required != finding.deadline.is_some() {
            return Err(WriteRule::InvalidValue);
        }
        Ok(())
    }

    /// A re-inspection's result: only in a re-inspection task, only for a finding it covers, by
    /// an assigned inspector of the re-inspecting department, on site, with attached photos.
    fn recheck(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        let recheck: Recheck = parse(text)?;
        if recheck.finding != edit.key {
            return Err(WriteRule::Malformed);
        }
        let TaskSource::ReInspection { .. } = &self.task.source else {
            // In an inspected task, only the tenant copies a settling result in, for a finding the
            // record holds.
            let held = self.at.map("findings").is_some_and(|f| self.at.has(&f, &recheck.finding));
            let tenant_settles = matches!(author, Author::Tenant) && held && recheck.outcome.settles();
            return if tenant_settles { Ok(()) } else { Err(WriteRule::UnknownReference) };
        };
        if !self.task.source.covers(&recheck.finding) {
            return Err(WriteRule::UnknownReference);
        }
        self.stamped(author, &recheck.stamp.by)?;
        self.require_status(&[Status::OnSite])?;
        self.own_department(author, &self.task.lead_department)?;
        let attached = self.attached_photos();
        if recheck.evidence.is_empty() {
            return Err(WriteRule::InvalidValue);
        }
        if recheck.evidence.iter().any(|h| !attached.contains(h)) {
            return Err(WriteRule::UnknownReference);
        }
        let valid = match &recheck.outcome {
            RecheckOutcome::Rectified => true,
            RecheckOutcome::TransferredForCase { reference } => !reference.trim().is_empty(),
            RecheckOutcome::NewDeadline { deadline } => {
                Some(*deadline) > crate::beijing::at(recheck.stamp.at_ms).map(|t| t.date_naive())
            }
        };
        if valid { Ok(()) } else { Err(WriteRule::InvalidValue) }
    }

    fn arrival(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        let arrival: CheckIn = parse(text)?;
        if arrival.stamp.by.as_str() != edit.key {
            return Err(WriteRule::ImpersonatedAuthor);
        }
        self.stamped(author, &arrival.stamp.by)?;
        self.require_status(&[Status::Planned, Status::OnSite])?;
        let p = arrival.position;
        if Position::wgs84(p.latitude(), p.longitude(), p.accuracy_m).as_ref() != Some(&p) {
            return Err(WriteRule::InvalidValue);
        }
        Ok(())
    }

    fn evidence(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        let evidence: EvidenceRef = parse(text)?;
        self.stamped(author, &evidence.stamp.by)?;
        self.require_status(&[Status::OnSite, Status::Recorded])?;
        if evidence.capture.hash() != edit.key {
            return Err(WriteRule::Malformed);
        }
        let capture = evidence.capture.verify().map_err(|_| WriteRule::Signature)?;
        self.own_key(&capture.device_public_key)?;
        if capture.inspector != evidence.stamp.by.as_str() {
            return Err(WriteRule::ImpersonatedAuthor);
        }
        let consistent = capture.sha256 == evidence.sha256
            && capture.task == self.task.code.as_str()
            && capture.target == evidence.target
            && capture.thumbnail_sha256 == evidence.thumbnail_sha256;
        if !consistent {
            return Err(WriteRule::InvalidValue);
        }
        let target_exists = match &evidence.target {
            CaptureTarget::CheckPoint(id) => id
                .parse()
                .ok()
                .and_then(|cp| self.rules.directory.check_point(&cp))
                .is_some_and(|(m, _)| self.task.matters.contains(&m.id)),
            CaptureTarget::Finding(id) => self.at.map("findings").is_some_and(|f| self.at.has(&f, id)),
            CaptureTarget::PartySignature(sha) => self.at.map("documents").is_some_and(|d| self.at.has(&d, sha)),
            CaptureTarget::Inspection => true,
        };
        if target_exists { Ok(()) } else { Err(WriteRule::UnknownReference) }
    }

    fn document(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        let version: DocumentVersion = parse(text)?;
        self.stamped(author, &version.stamp.by)?;
        self.require_status(&[Status::Recorded])?;
        if version.sha256 != edit.key {
            return Err(WriteRule::Malformed);
        }
        let content = version.content().map_err(|_| WriteRule::InvalidValue)?;
        let consistent = content.kind == version.kind
            && content.number == version.number
            && content.version == version.version
            && content.task == self.task.code.as_str()
            && self.task.departments.contains(&version.department)
            && (content.issuer_id.is_empty() || content.issuer_id == version.department.as_str())
            && content
                .inspectors
                .iter()
                .all(|p| p.inspector.is_empty() || self.task.inspectors.iter().any(|i| i.as_str() == p.inspector));
        let heads_known = content.record_heads.iter().all(|h| h.parse::<ChangeHash>().is_ok_and(|h| self.at.knows(&h)));
        if consistent && heads_known { Ok(()) } else { Err(WriteRule::InvalidValue) }
    }

    fn signature(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        let Some((sha, role)) = edit.key.split_once('/') else { return Err(WriteRule::Malformed) };
        let signature: DocumentSignature = parse(text)?;
        let statement = signature.verify(sha).map_err(|_| WriteRule::Signature)?;
        self.own_key(&statement.device_public_key)?;
        let documents = self.at.map("documents").ok_or(WriteRule::UnknownReference)?;
        if !self.at.has(&documents, sha) {
            return Err(WriteRule::UnknownReference);
        }
        let signer = match (&statement.signer, role.strip_prefix("inspector/")) {
            (SignatureRole::Inspector { inspector, .. }, Some(named)) if named == inspector => {
                // Only the officers the document names sign it (an order: its department's).
                let content = self.at.json::<DocumentVersion>(&documents, sha).and_then(|v| v.content().ok());
                if content.is_some_and(|c| !crate::document::completeness::is_named(&c, inspector)) {
                    return Err(WriteRule::InvalidValue);
                }
                inspector
            }
            (SignatureRole::PartyRefused { .. }, None)
                if self.at.json::<DocumentVersion>(&documents, sha).is_some_and(|v| !v.kind.takes_refusal()) =>
            {
                // The address confirmation is the party's own statement: no refusal stands in.
                return Err(WriteRule::InvalidValue);
            }
            (SignatureRole::Party { attested_by, .. } | SignatureRole::PartyRefused { attested_by, .. }, None)
                if role == "party" =>
            {
                attested_by
            }
            _ => return Err(WriteRule::Malformed),
        };
        let signer = InspectorId::new(signer.clone()).map_err(|_| WriteRule::Malformed)?;
        self.stamped(author, &signer)
    }
}

impl Ctx<'_> {
    /// The tenant's seal of a document version: it verifies under a certificate from the root,
    /// names the version it is kept under (its department and number), and every signature it
    /// confirms was in the record before it.
    fn seal(&self, edit: &Edit, text: &str, author: &Author) -> Verdict {
        if author != &Author::Tenant {
            return Err(WriteRule::TenantOnly);
        }
        let seal: crate::seal::AgencySeal = parse(text)?;
        let root = self.rules.root.as_ref().ok_or(WriteRule::Signature)?;
        let verified = seal.verify(root, &edit.key).map_err(|_| WriteRule::Signature)?;
        let documents = self.at.map("documents").ok_or(WriteRule::UnknownReference)?;
        let version: DocumentVersion = self.at.json(&documents, &edit.key).ok_or(WriteRule::UnknownReference)?;
        let signatures = self.at.map("signatures").ok_or(WriteRule::UnknownReference)?;
        let prefix = format!("{}/", edit.key);
        let statements: Vec<DocumentSignature> = self
            .at
            .keys(&signatures)
            .into_iter()
            .filter(|k| k.starts_with(&prefix))
            .filter_map(|k| self.at.json::<DocumentSignature>(&signatures, &k))
            .collect();
        let held = crate::seal::signature_hashes(statements.iter().map(|s| s.canonical.as_str()));
        match verified.covers(version.department.as_str(), &version.number, &held) {
            Err(crate::seal::SealError::OtherDocument(_)) => Err(WriteRule::InvalidValue),
            Err(_) => Err(WriteRule::UnknownReference),
            Ok(()) if verified.statement.signatures.is_empty() => Err(WriteRule::UnknownReference),
            Ok(()) => Ok(()),
        }
    }
}

/// Whether the record at `deps` meets the precondition of moving to `status`: complete and free
/// of open conflicts (recording completes), or every finding's loop settled (the task closes).
pub(super) fn precondition_at(
    doc: &mut AutoCommit,
    deps: &[ChangeHash],
    rules: &WriteRules<'_>,
    status: Status,
) -> bool {
    let Ok(then) = doc.fork_at(deps) else { return false };
    let Ok(record) = InspectionRecord::from_doc(then) else { return false };
    match status {
        Status::Recorded => {
            record.conflicts().is_ok_and(|c| c.is_empty()) && record.require_complete(rules.directory).is_ok()
        }
        _ => record.open_findings().is_ok_and(|open| open.is_empty()),
    }
}

/// Checks the first change of a record: exactly the layout [`InspectionRecord::create`] makes, by
/// the tenant or a certified inspector the task names.
pub(super) fn check_creation(
    change: &Change,
    expanded: &automerge::ExpandedChange,
    authors: &Authors,
    rules: &WriteRules<'_>,
) -> Result<(), ForbiddenEdit> {
    let forbidden = |path: &str| ForbiddenEdit {
        rule: WriteRule::Creation,
        path: path.to_string(),
        change: change.hash().to_string(),
    };
    if !change.deps().is_empty() {
        return Err(forbidden(""));
    }
    use automerge::legacy::{Key, ObjectId, OpType};
    let start = change.start_op().get();
    let mut task: Option<Task> = None;
    let mut sections: Option<(u64, ActorId)> = None;
    let mut maps: Vec<String> = Vec::new();
    let mut departments: Vec<String> = Vec::new();
    let (mut schema, mut status) = (false, false);
    for (i, op) in expanded.operations.iter().enumerate() {
        let Key::Map(key) = &op.key else { return Err(forbidden("[list]")) };
        if op.insert || !op.pred.is_empty() {
            return Err(forbidden(key));
        }
        match (&op.obj, &op.action) {
            (ObjectId::Root, OpType::Put(value)) => match key.as_str() {
                "schema_version" => {
                    schema = matches!(value, ScalarValue::Uint(v) if *v == SCHEMA_VERSION)
                        || matches!(value, ScalarValue::Int(v) if *v as u64 == SCHEMA_VERSION);
                }
                "task" => task = value.as_str().and_then(|t| serde_json::from_str(t).ok()),
                "status" => {
                    status = value
                        .as_str()
                        .and_then(|t| serde_json::from_str::<StatusEntry>(t).ok())
                        .is_some_and(|e| e.status == Status::Planned);
                }
                other => return Err(forbidden(other)),
            },
            (ObjectId::Root, OpType::Make(automerge::ObjType::Map))
                if ROOT_MAPS.contains(&key.as_str()) || LATER_ROOT_MAPS.contains(&key.as_str()) =>
            {
                if key == "sections" {
                    sections = Some((start + i as u64, change.actor_id().clone()));
                }
                maps.push(key.to_string());
            }
            (ObjectId::Id(obj), OpType::Make(automerge::ObjType::Map))
                if sections.as_ref() == Some(&(obj.counter(), obj.actor().clone())) =>
            {
                departments.push(key.to_string());
            }
            _ => return Err(forbidden(key)),
        }
    }
    let Some(task) = task else { return Err(forbidden("task")) };
    // Every map of the layout; of the later maps, those introduced before the record was made.
    maps.sort();
    let mut expected: Vec<String> = ROOT_MAPS.iter().map(|m| m.to_string()).collect();
    let later = maps.len().saturating_sub(expected.len()).min(LATER_ROOT_MAPS.len());
    expected.extend(LATER_ROOT_MAPS[..later].iter().map(|m| m.to_string()));
    expected.sort();
    departments.sort();
    let wanted: Vec<String> = task.departments.iter().map(|d| d.to_string()).collect();
    if !schema || !status || maps != expected || departments != wanted {
        return Err(forbidden("layout"));
    }
    let author = authors.of(change.actor_id(), Some(&task.lead_inspector), |i| {
        rules.directory.inspector(i).map(|x| vec![x.department.clone()]).unwrap_or_default()
    });
    match author {
        Some(Author::Tenant) => Ok(()),
        Some(Author::Inspector { inspector, .. }) if task.inspectors.contains(&inspector) => Ok(()),
        _ => Err(ForbiddenEdit {
            rule: WriteRule::UnknownWriter,
            path: "task".into(),
            change: change.hash().to_string(),
        }),
    }
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, WriteRule> {
    serde_json::from_str(text).map_err(|_| WriteRule::Malformed)
}

/// Who a value claims wrote it: its `by` stamp, or for a signature the signing (attesting)
/// inspector, for a certificate its inspector. Decides the author only on an unanchored store.
fn claimed_author(container: &Container, text: &str) -> Option<InspectorId> {
    let named = match container {
        Container::Signatures => {
            let signature: DocumentSignature = serde_json::from_str(text).ok()?;
            match serde_json::from_str::<SignedStatement>(&signature.canonical).ok()?.signer {
                SignatureRole::Inspector { inspector, .. } => inspector,
                SignatureRole::Party { attested_by, .. } | SignatureRole::PartyRefused { attested_by, .. } => {
                    attested_by
                }
            }
        }
        Container::Root if serde_json::from_str::<SignedCertificate>(text).is_ok() => {
            let signed: SignedCertificate = serde_json::from_str(text).ok()?;
            serde_json::from_str::<DeviceCertificate>(&signed.canonical).ok()?.inspector
        }
        _ => {
            let value: serde_json::Value = serde_json::from_str(text).ok()?;
            value.get("by")?.as_str()?.to_string()
        }
    };
    InspectorId::new(named).ok()
}

fn unstamp(value: &serde_json::Value) -> serde_json::Value {
    let mut v = value.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("by");
        map.remove("at_ms");
    }
    v
}
