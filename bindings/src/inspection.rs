//! Recording an inspection on site: check-in, identity notice, party, answers, findings, status,
//! and the conflicts two devices left.

use onevisit_core::domain::CheckPointId;
use onevisit_core::record::{Field, FindingDraft, PartyDraft, Position, Recusal};

use crate::errors::RecordError;
use crate::store::{DeviceStore, date, task_code};
use crate::types::{
    Answer, ConflictView, FindingInput, GeoPosition, InspectionView, PartyInput, RecheckChoice, TaskStatus,
};

/// A position argument, checked.
pub(crate) fn position(p: GeoPosition) -> Result<Position, RecordError> {
    Position::wgs84(p.latitude, p.longitude, p.accuracy_m)
        .ok_or(RecordError::InvalidInput { detail: "position is not a valid WGS-84 coordinate".into() })
}

#[uniffi::export]
impl DeviceStore {
    /// The whole inspection record with names, as the inspection screen shows it.
    pub fn inspection(&self, code: String) -> Result<InspectionView, RecordError> {
        let code = task_code(&code)?;
        let directory = self.directory()?;
        let mut store = self.lock::<RecordError>()?;
        let view = store.record(&code)?.view(&directory)?;
        Ok(view.into())
    }

    /// Records this inspector's arrival on site (签到); the record goes on site.
    pub fn check_in(&self, code: String, at: GeoPosition) -> Result<(), RecordError> {
        let (code, at) = (task_code(&code)?, position(at)?);
        self.lock::<RecordError>()?.check_in(&code, at)?;
        Ok(())
    }

    /// Records that the inspectors showed their enforcement certificates (出示执法证件).
    pub fn show_identity(&self, code: String) -> Result<(), RecordError> {
        let code = task_code(&code)?;
        self.lock::<RecordError>()?.show_identity(&code)?;
        Ok(())
    }

    /// Records the party's representative and their answer on recusal.
    pub fn record_party(&self, code: String, party: PartyInput) -> Result<(), RecordError> {
        let code = task_code(&code)?;
        let draft = PartyDraft {
            name: party.name,
            role: party.role,
            phone: party.phone,
            recusal: match party.recusal_reason {
                Some(reason) => Recusal::Requested { reason },
                None => Recusal::NotRequested,
            },
            id_number: party.id_number,
            statement: party.statement,
        };
        self.lock::<RecordError>()?.record_party(&code, draft)?;
        Ok(())
    }

    /// Records where the party accepts service (送达地址确认书): the address, who receives
    /// documents there, a telephone, and where it agrees to electronic service, if it does.
    pub fn confirm_service_address(
        &self,
        code: String,
        address: String,
        recipient: String,
        phone: String,
        electronic: Option<String>,
    ) -> Result<(), RecordError> {
        let code = task_code(&code)?;
        let draft = onevisit_core::record::ServiceAddressDraft { address, recipient, phone, electronic };
        self.lock::<RecordError>()?.confirm_service_address(&code, draft)?;
        Ok(())
    }

    /// Answers a check point; `evidence` lists the hashes of attached photos that support it.
    pub fn answer(
        &self,
        code: String,
        check_point: String,
        answer: Answer,
        note: Option<String>,
        evidence: Vec<String>,
    ) -> Result<(), RecordError> {
        let code = task_code(&code)?;
        let check_point = CheckPointId::new(check_point)?;
        self.lock::<RecordError>()?.answer(&code, &check_point, answer.into(), note, evidence)?;
        Ok(())
    }

    /// Records a problem found; returns its identifier (photos and orders name it).
    pub fn add_finding(&self, code: String, finding: FindingInput) -> Result<String, RecordError> {
        let code = task_code(&code)?;
        let invalid = |detail: String| RecordError::InvalidInput { detail };
        let draft = FindingDraft {
            department: finding
                .department
                .parse()
                .map_err(|e: onevisit_core::domain::IdError| invalid(e.to_string()))?,
            check_point: finding.check_point.map(CheckPointId::new).transpose()?,
            problem: finding.problem,
            legal_basis: finding.legal_basis,
            rectification_required: finding.rectification_required,
            deadline: finding.deadline.as_deref().map(date).transpose().map_err(invalid)?,
        };
        match self.lock::<RecordError>()?.add_finding(&code, draft)? {
            Field::Finding(id) => Ok(id),
            other => Ok(other.to_string()),
        }
    }

    /// Records what this re-inspection (复查) found of one finding it covers, with the hashes of
    /// photos attached to this task that show it (at least one); once per finding, never rewritten.
    pub fn record_recheck(
        &self,
        code: String,
        finding: String,
        outcome: RecheckChoice,
        note: Option<String>,
        evidence: Vec<String>,
    ) -> Result<(), RecordError> {
        use onevisit_core::record::RecheckOutcome;
        let code = task_code(&code)?;
        let invalid = |detail: String| RecordError::InvalidInput { detail };
        let outcome = match outcome {
            RecheckChoice::Rectified => RecheckOutcome::Rectified,
            RecheckChoice::TransferredForCase { reference } => RecheckOutcome::TransferredForCase { reference },
            RecheckChoice::NewDeadline { deadline } => {
                RecheckOutcome::NewDeadline { deadline: date(&deadline).map_err(invalid)? }
            }
        };
        let note = note.filter(|n| !n.trim().is_empty());
        self.lock::<RecordError>()?.record_recheck(&code, &finding, outcome, note, evidence)?;
        Ok(())
    }

    /// Moves the record along its lifecycle (e.g. to recorded when recording is complete).
    pub fn set_status(&self, code: String, status: TaskStatus) -> Result<(), RecordError> {
        let code = task_code(&code)?;
        self.lock::<RecordError>()?.set_status(&code, status.into())?;
        Ok(())
    }

    /// The fields two devices wrote concurrently, for the lead inspector to resolve.
    pub fn conflicts(&self, code: String) -> Result<Vec<ConflictView>, RecordError> {
        let code = task_code(&code)?;
        Ok(self.lock::<RecordError>()?.conflicts(&code)?.into_iter().map(Into::into).collect())
    }

    /// Keeps value `choice` (an index into the conflict's values) of a conflicted field.
    pub fn resolve_conflict(&self, code: String, field: String, choice: u32) -> Result<(), RecordError> {
        let code = task_code(&code)?;
        let field: Field = field.parse().map_err(|e: onevisit_core::record::conflict::UnknownField| {
            RecordError::InvalidInput { detail: e.to_string() }
        })?;
        self.lock::<RecordError>()?.resolve_conflict(&code, &field, choice as usize)?;
        Ok(())
    }
}
