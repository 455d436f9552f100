//! Evidence attached to a record: a reference per capture (never the bytes), carrying the signed
//! capture record so that every device, and later a court, can check where a photo came from.

use automerge::transaction::Transactable;
use serde::{Deserialize, Serialize};

use crate::domain::Directory;
use crate::evidence::{CaptureTarget, SignedCapture};

use super::{Field, InspectionRecord, RecordError, Stamp, to_json};

/// A photo attached to the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// SHA-256 of the original.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    pub mime: String,
    /// SHA-256 of the thumbnail (a derivative; points back to the original by `sha256`).
    pub thumbnail_sha256: String,
    /// What it documents.
    pub target: CaptureTarget,
    /// The signed capture record.
    pub capture: SignedCapture,
    /// Who attached it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl InspectionRecord {
    /// Attaches a captured photo; the target must be a check point of the task, an existing
    /// finding, the inspection itself or a party signature.
    pub fn attach_evidence(
        &mut self,
        stamp: Stamp,
        directory: &Directory,
        evidence: EvidenceRef,
    ) -> Result<Field, RecordError> {
        self.require_on_site_or_recorded(&stamp.by)?;
        self.check_target(directory, &evidence.target)?;
        let key = evidence.capture.hash();
        let map = self.map("evidence")?;
        self.doc.put(&map, key.as_str(), to_json(&EvidenceRef { stamp: stamp.clone(), ..evidence }))?;
        self.commit("evidence", &stamp);
        Ok(Field::Evidence(key))
    }

    /// Every attached photo.
    pub fn evidence(&self) -> Result<Vec<EvidenceRef>, RecordError> {
        self.values_in(&self.map("evidence")?)
    }

    /// The reference of a photo already attached for this target, if any (re-imports are no-ops).
    pub fn evidence_for(&self, sha256: &str, target: &CaptureTarget) -> Result<Option<EvidenceRef>, RecordError> {
        Ok(self.evidence()?.into_iter().find(|e| e.sha256 == sha256 && &e.target == target))
    }

    /// Checks that a capture target exists in this record.
    pub fn check_target(&self, directory: &Directory, target: &CaptureTarget) -> Result<(), RecordError> {
        match target {
            CaptureTarget::CheckPoint(id) => {
                let known = id
                    .parse()
                    .ok()
                    .and_then(|cp| directory.check_point(&cp))
                    .is_some_and(|(m, _)| self.task().matters.contains(&m.id));
                if !known {
                    return Err(RecordError::UnknownCheckPoint(
                        id.parse().map_err(|_| RecordError::UnknownTarget(target.to_string()))?,
                    ));
                }
            }
            CaptureTarget::Finding(id) => {
                if !self.findings()?.iter().any(|f| &f.id == id) {
                    return Err(RecordError::UnknownTarget(target.to_string()));
                }
            }
            CaptureTarget::Inspection | CaptureTarget::PartySignature(_) => {}
        }
        Ok(())
    }
}
