//! The agency's seals inside the record: one per document version, written by the tenant (the
//! city server) once the version is fully signed, so that seals travel with the record to every
//! device, file and bundle. Each seal carries the certificate of its key, so it is checked with
//! the tenant root alone.

use automerge::ROOT;
use automerge::ReadDoc;
use automerge::transaction::Transactable;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::documents::SignerTrust;
use super::{InspectionRecord, RecordError, to_json};
use crate::domain::DepartmentId;
use crate::seal::{AgencySeal, SealError, VerifiedSeal, signature_hashes};

/// A fully signed document version the tenant has yet to seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealDue {
    /// The version (SHA-256 of its canonical bytes).
    pub sha256: String,
    /// Its number.
    pub number: String,
    /// The issuing department, whose seal it takes.
    pub department: DepartmentId,
    /// The SHA-256s of the signature statements that make it complete (every one that holds).
    pub signatures: Vec<String>,
}

/// What a document version's seal says, as a verifier reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SealCheck {
    /// The record holds no seal for it (signed offline and not yet synced, or not complete).
    Unsealed,
    /// Sealed: the seal verifies under a certificate from the root, for this version, and every
    /// signature it confirms is in the record.
    Sealed {
        /// The agency's name as the seal reads.
        agency: String,
        /// The department sealing.
        department: String,
        /// When the server sealed it (server clock, ms).
        sealed_at_ms: i64,
        /// The organisation key (hex of x‖y).
        public_key: String,
    },
    /// A seal is there and does not hold.
    Invalid {
        /// Why, in zh-CN.
        reason: String,
    },
}

impl SealCheck {
    /// Whether a seal is there and holds.
    pub fn is_sealed(&self) -> bool {
        matches!(self, SealCheck::Sealed { .. })
    }

    /// The seal in words (zh-CN), as the printout and the apps show it after "机关电子印章：".
    pub fn label_zh(&self) -> String {
        match self {
            SealCheck::Sealed { agency, sealed_at_ms, .. } => {
                format!("{agency} 已加盖（SM2，{}）", crate::beijing::date_time(*sealed_at_ms))
            }
            SealCheck::Unsealed => "尚未加盖（文书签署完整并同步至服务器后加盖）".to_string(),
            SealCheck::Invalid { reason } => format!("无效（{reason}）"),
        }
    }
}

impl InspectionRecord {
    /// The `seals` map, if the record has one (records created before seals were kept do not).
    fn seals_map(&self) -> Result<Option<automerge::ObjId>, RecordError> {
        Ok(self.doc.get(ROOT, "seals")?.filter(|(v, _)| v.is_object()).map(|(_, id)| id))
    }

    /// Whether the record can hold seals.
    pub fn holds_seals(&self) -> Result<bool, RecordError> {
        Ok(self.seals_map()?.is_some())
    }

    /// The seal kept for a document version, if any.
    pub fn seal_of(&self, sha256: &str) -> Result<Option<AgencySeal>, RecordError> {
        match self.seals_map()? {
            Some(map) => super::read_json(&self.doc, &map, sha256),
            None => Ok(None),
        }
    }

    /// The latest versions that are fully signed (identities checked under `trust`) and carry no
    /// seal yet: what the tenant seals now. Empty for a record that cannot hold seals.
    pub fn seals_due(&self, trust: &SignerTrust<'_>) -> Result<Vec<SealDue>, RecordError> {
        let Some(map) = self.seals_map()? else { return Ok(Vec::new()) };
        let mut due = Vec::new();
        for version in self.documents()? {
            if self.doc.get(&map, version.sha256.as_str())?.is_some() {
                continue;
            }
            let report = self.document_report(&version.sha256, Some(trust))?;
            if !report.signed || report.superseded_by.is_some() {
                continue;
            }
            let holding: Vec<&str> =
                report.signatures.iter().filter(|c| c.problem.is_none()).map(|c| c.key.as_str()).collect();
            let statements: Vec<String> = self
                .signatures(&version.sha256)?
                .into_iter()
                .filter(|(key, _)| holding.contains(&key.as_str()))
                .map(|(_, s)| s.canonical)
                .collect();
            due.push(SealDue {
                sha256: version.sha256,
                number: version.number,
                department: version.department,
                signatures: signature_hashes(statements.iter().map(String::as_str)),
            });
        }
        Ok(due)
    }

    /// Keeps the tenant's seal of a version. The record's actor must be the tenant's: devices
    /// refuse seals any other writer puts.
    pub fn put_seal(&mut self, sha256: &str, seal: &AgencySeal, at_ms: i64) -> Result<(), RecordError> {
        let map = self.seals_map()?.ok_or_else(|| RecordError::MalformedField { field: "seals".into() })?;
        if self.doc.get(&map, sha256)?.is_some() {
            return Ok(());
        }
        self.doc.put(&map, sha256, to_json(seal))?;
        self.doc
            .commit_with(automerge::transaction::CommitOptions::default().with_message("seal").with_time(at_ms / 1000));
        Ok(())
    }

    /// Checks a version's seal under the tenant root: the certificate, the SM2 signature, the
    /// version and department it names, and that every signature it confirms is in the record.
    pub fn seal_check(&self, sha256: &str, root: &VerifyingKey) -> Result<SealCheck, RecordError> {
        let Some(seal) = self.seal_of(sha256)? else { return Ok(SealCheck::Unsealed) };
        let invalid = |e: SealError| SealCheck::Invalid { reason: e.to_string() };
        let verified = match seal.verify(root, sha256) {
            Ok(v) => v,
            Err(e) => return Ok(invalid(e)),
        };
        let version = self.document(sha256)?;
        let held = signature_hashes(self.signatures(sha256)?.iter().map(|(_, s)| s.canonical.as_str()));
        if let Err(e) = verified.covers(version.department.as_str(), &version.number, &held) {
            return Ok(invalid(e));
        }
        let VerifiedSeal { statement, certificate } = verified;
        Ok(SealCheck::Sealed {
            agency: certificate.agency,
            department: certificate.department,
            sealed_at_ms: statement.sealed_at_ms,
            public_key: certificate.seal_public_key,
        })
    }
}
