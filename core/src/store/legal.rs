//! Rendering, signing and verifying legal documents on the device.

use rusqlite::{OptionalExtension, params};

use crate::audit::AuditAction;
use crate::document::presence::SignerPresence;
use crate::document::{
    DocumentKind, DocumentSignature, SignatureRole, SignedStatement, number, signature::SIGNATURE_SCHEMA,
};
use crate::domain::{DepartmentId, TaskCode};
use crate::evidence::CaptureTarget;
use crate::record::documents::{DocumentReport, DocumentVersion, PartyAct, SignerTrust, party_statement};
use crate::record::{Field, RecordError};
use crate::task_token::TaskClaims;

use super::{Store, StoreError, now_ms};

/// Where a rendered version's number comes from.
#[derive(Clone, Copy)]
enum Allocation {
    /// The document's own, from its earlier versions.
    Kept,
    /// The next of the agency's sequence, from a block the server reserved for this device.
    Agency(super::numbers::Reserved),
    /// The next of a stand-alone device's own sequence.
    Device(u32),
}

/// What a printout of a document version shows: see [`Store::printed_document`].
struct Printing {
    content: crate::document::DocumentContent,
    signed: Vec<crate::document::SignedStatement>,
    received: std::collections::HashMap<(String, i64), i64>,
    seal: crate::record::seals::SealCheck,
}

impl Store {
    /// Renders the latest version of a document from the record: the on-site record (issued by the
    /// lead department) or a department's order to rectify. If nothing it covers has changed since
    /// the latest version, that version is returned and nothing is written; otherwise a new version
    /// (same number, version + 1) is kept in the record, needing new signatures.
    pub fn render_document(
        &mut self,
        code: &TaskCode,
        kind: DocumentKind,
        department: Option<DepartmentId>,
    ) -> Result<DocumentVersion, StoreError> {
        // One write from the number's allocation to the version kept: two writers on one store
        // never take the same number.
        self.write(|s| s.render_document_locked(code, kind, department))
    }

    fn render_document_locked(
        &mut self,
        code: &TaskCode,
        kind: DocumentKind,
        department: Option<DepartmentId>,
    ) -> Result<DocumentVersion, StoreError> {
        let directory = self.directory()?;
        let recorder = self.operator(&directory)?;
        let lead = self.record(code)?.task().lead_department.clone();
        let department = match (kind, department) {
            (DocumentKind::OnSiteRecord, _) => lead,
            // The address is confirmed to the lead department unless another asks for its own.
            (DocumentKind::AddressConfirmation, d) => d.unwrap_or(lead),
            (DocumentKind::RectificationOrder | DocumentKind::ServiceReceipt, Some(d)) => d,
            (DocumentKind::RectificationOrder | DocumentKind::ServiceReceipt, None) => {
                return Err(RecordError::from(crate::document::DocumentError::DepartmentRequired).into());
            }
        };
        let latest = self.record(code)?.latest_document(kind, &department)?;
        let now = now_ms();
        let year = crate::beijing::year();
        let prefix = directory
            .department(&department)
            .map(|d| d.number_prefix().to_string())
            .unwrap_or_else(|| department.to_string());
        // The number: the document's own once it has one; else the next of the agency's sequence
        // from a block the server reserved (enrolled), or of this device's own (stand-alone).
        let enrolled = self.sync_account()?.is_some();
        let (number, version, allocated) = match &latest {
            Some(l) => (l.number.clone(), l.version + 1, Allocation::Kept),
            None if enrolled => {
                let reserved =
                    self.next_reserved(&department, kind, year)?.ok_or_else(|| StoreError::NoDocumentNumber {
                        department: directory
                            .department(&department)
                            .map(|d| d.short_name.clone())
                            .unwrap_or_else(|| department.to_string()),
                        title: kind.title_zh(),
                    })?;
                (number::format_agency(&prefix, kind, year, reserved.number), 1, Allocation::Agency(reserved))
            }
            None => {
                let next = self.next_number(&prefix, kind, year)?;
                let code = number::device_code(&self.key);
                (number::format(&prefix, kind, year, &code, next), 1, Allocation::Device(next))
            }
        };
        let content =
            self.record(code)?.build_document(&directory, kind, &department, number, version, &recorder, now)?;
        if let Some(l) = latest
            && l.content().map_err(RecordError::from)?.same_substance(&content)
        {
            return Ok(l);
        }
        let issuing = department.clone();
        let allocate = |tx: &rusqlite::Connection| -> Result<(), StoreError> {
            match allocated {
                Allocation::Kept => {}
                Allocation::Agency(reserved) => {
                    super::numbers::spend_number(tx, &issuing, kind, year, reserved)?;
                }
                Allocation::Device(next) => {
                    tx.execute(
                        "INSERT INTO document_numbers (prefix, kind, year, next) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(prefix, kind, year) DO UPDATE SET next = ?4",
                        params![prefix, kind.as_str(), year, next + 1],
                    )?;
                }
            }
            Ok(())
        };
        let dept = department.clone();
        if matches!(allocated, Allocation::Agency(_)) {
            self.numbers_spent();
        }
        self.change_locked(
            code,
            AuditAction::RenderDocument,
            |r, s, _| {
                let version = r.add_document(s, &content, dept)?;
                let object = format!("task/{code}/document:{}", version.sha256);
                Ok((version, object))
            },
            &allocate,
        )
    }

    /// Signs a document version as this device's inspector.
    pub fn sign_document(&mut self, code: &TaskCode, sha256: &str) -> Result<DocumentReport, StoreError> {
        let directory = self.directory()?;
        let me = self.operator(&directory)?;
        let version = self.record(code)?.signable(sha256)?;
        self.record(code)?.require_assigned(&me)?;
        if !crate::document::completeness::is_named(&version.content().map_err(RecordError::from)?, me.as_str()) {
            return Err(RecordError::from(crate::document::DocumentError::NotNamed(me.to_string())).into());
        }
        let certificate_number = directory.inspector(&me).map(|i| i.certificate_number.clone()).unwrap_or_default();
        let role = SignatureRole::Inspector { inspector: me.to_string(), certificate_number };
        // Asked last before the write: a refusal leaves nothing behind.
        let presence = self.signer_presence(&format!("签署{} {}", version.kind.title_zh(), version.number))?;
        self.add_statement(code, &version, role, AuditAction::SignDocument, presence)
    }

    /// Records what the party did with a document: signed by hand (the image is kept as evidence)
    /// or refused before a witness. The device attests it with its key.
    pub fn party_act(
        &mut self,
        code: &TaskCode,
        sha256: &str,
        act: PartyAct,
        image: Option<&[u8]>,
    ) -> Result<DocumentReport, StoreError> {
        let directory = self.directory()?;
        let me = self.operator(&directory)?;
        let version = self.record(code)?.signable(sha256)?;
        // A handwriting image is drawn for one document: the same bytes offered for another are
        // refused before anything is kept.
        if let Some(image) = image {
            let drawn = crate::audit::sha256_hex(image);
            if let Some((_, other)) =
                self.record(code)?.handwriting_elsewhere(sha256)?.into_iter().find(|(i, _)| i == &drawn)
            {
                return Err(RecordError::from(crate::document::DocumentError::HandwritingReused(other)).into());
            }
        }
        if matches!(act, PartyAct::Refused { .. }) && !version.kind.takes_refusal() {
            return Err(RecordError::from(crate::document::DocumentError::RefusalNotAccepted).into());
        }
        // The attesting officer confirms presence before the handwriting is kept: a refusal
        // leaves nothing behind.
        let what = format!("{} {}", version.kind.title_zh(), version.number);
        let presence = self.signer_presence(&format!("见证当事人签署或拒签{what}"))?;
        let role = match act {
            PartyAct::Signed { name, role, .. } => {
                let image = image.ok_or(RecordError::UnknownEvidence("the handwritten signature image".into()))?;
                let captured = self.add_photo(code, image, CaptureTarget::PartySignature(sha256.to_string()), None)?;
                SignatureRole::Party {
                    name,
                    party_role: role,
                    signature_image_sha256: captured.evidence.sha256,
                    statement: party_statement(version.kind).into(),
                    attested_by: me.to_string(),
                }
            }
            PartyAct::Refused { reason, witness, witness_detail } => {
                if witness.trim().is_empty() {
                    return Err(RecordError::from(crate::document::DocumentError::WitnessRequired).into());
                }
                // The witness's own handwriting, when they sign on the device, is kept as evidence.
                let witness_signature_image_sha256 = match image {
                    Some(image) => Some(
                        self.add_photo(code, image, CaptureTarget::PartySignature(sha256.to_string()), None)?
                            .evidence
                            .sha256,
                    ),
                    None => None,
                };
                SignatureRole::PartyRefused {
                    reason,
                    witness,
                    witness_detail,
                    witness_signature_image_sha256,
                    attested_by: me.to_string(),
                }
            }
        };
        self.add_statement(code, &version, role, AuditAction::PartySignDocument, presence)
    }

    fn add_statement(
        &mut self,
        code: &TaskCode,
        version: &DocumentVersion,
        role: SignatureRole,
        action: AuditAction,
        presence: Option<SignerPresence>,
    ) -> Result<DocumentReport, StoreError> {
        let me = self.inspector.clone();
        let position =
            self.record(code)?.arrivals()?.into_iter().find(|a| Some(&a.stamp.by) == me.as_ref()).map(|a| a.position);
        let statement = SignedStatement {
            schema: SIGNATURE_SCHEMA.into(),
            position,
            document_sha256: version.sha256.clone(),
            document_number: version.number.clone(),
            signer: role.clone(),
            device: self.key.device_id(),
            device_public_key: hex::encode(self.key.public_bytes()),
            device_time_ms: now_ms(),
            presence,
        };
        let signature = DocumentSignature::sign(&statement, &self.key)?;
        let sha = version.sha256.clone();
        self.change(
            code,
            action,
            |r, s, _| {
                let field: Field = r.add_signature(s, &sha, &signature, &role)?;
                let object = format!("task/{code}/{field}");
                Ok((field, object))
            },
            &|_| Ok(()),
        )?;
        self.document_report(code, &version.sha256)
    }

    /// Verifies a document version and its signatures, and that it matches the record's history.
    pub fn document_report(&mut self, code: &TaskCode, sha256: &str) -> Result<DocumentReport, StoreError> {
        let directory = self.directory()?;
        let account = self.sync_account()?;
        let root = account.as_ref().and_then(|a| crate::identity::verifying_key_from_hex(&a.root_public_key));
        let revocations = match (&account, &root) {
            (Some(a), Some(root)) => a.revocations.verify(root).ok(),
            _ => None,
        };
        let trust = root.as_ref().map(|root| SignerTrust { root, revocations: revocations.as_ref() });
        let record = self.record(code)?;
        let mut report = record.document_report(sha256, trust.as_ref())?;
        report.matches_record = record.matches_record(&directory, sha256)?;
        Ok(report)
    }

    /// A document version as printed: its text with every signature made on it so far, each
    /// with its device time and the server's receipt time beside it.
    pub fn printed_document(&mut self, code: &TaskCode, sha256: &str) -> Result<String, StoreError> {
        let printed = self.printing(code, sha256)?;
        let mut page = crate::document::render_page(&printed.content, &printed.signed, &printed.received);
        page.push_str(&crate::document::render::seal_line(&printed.seal));
        page.push('\n');
        Ok(page)
    }

    /// What a printout of a version shows besides its content: the signatures that verified, the
    /// server's receipt times and the seal.
    fn printing(&mut self, code: &TaskCode, sha256: &str) -> Result<Printing, StoreError> {
        let seal = self.seal_check(code, sha256)?;
        let receipts = self.verified_receipts(code)?;
        let record = self.record(code)?;
        let content = record.document(sha256)?.content().map_err(RecordError::from)?;
        let received = crate::record::documents::received_times(record, &receipts, sha256)?;
        let signed = record.verified_statements(sha256)?;
        Ok(Printing { content, signed, received, seal })
    }

    /// The printable PDF of a document version: the page of [`Store::printed_document`] on
    /// numbered A4 pages, with the handwriting this device holds drawn in each page's signature
    /// block.
    pub fn printed_pdf(&mut self, code: &TaskCode, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let Printing { content, signed, received, seal } = self.printing(code, sha256)?;
        let blobs = self.blobs()?;
        let mut images = crate::document::pdf::Handwriting::new();
        for sha in signed.iter().filter_map(|s| s.handwriting()) {
            // A drawing this device has not received yet is described on the page instead.
            if let Ok((_, bytes)) = blobs.read(&self.conn, sha) {
                images.insert(sha.to_string(), bytes);
            }
        }
        Ok(crate::document::render_pdf(&content, sha256, &signed, &received, &images, &seal)?)
    }

    /// The agency's seal of a document version, checked under the tenant root (a store never
    /// enrolled has no root: a seal it holds is reported invalid, not trusted).
    pub fn seal_check(&mut self, code: &TaskCode, sha256: &str) -> Result<crate::record::seals::SealCheck, StoreError> {
        let root = self.sync_account()?.and_then(|a| crate::identity::verifying_key_from_hex(&a.root_public_key));
        let record = self.record(code)?;
        match root {
            Some(root) => Ok(record.seal_check(sha256, &root)?),
            None if record.seal_of(sha256)?.is_none() => Ok(crate::record::seals::SealCheck::Unsealed),
            None => Ok(crate::record::seals::SealCheck::Invalid {
                reason: "本设备未登记，无法核验印章".into()
            }),
        }
    }

    /// The server's receipts this device holds that name `code` and verify under the tenant root.
    pub fn verified_receipts(&self, code: &TaskCode) -> Result<Vec<crate::sync::statements::Receipt>, StoreError> {
        let Some(account) = self.sync_account()? else { return Ok(Vec::new()) };
        Ok(self
            .receipts()?
            .iter()
            .filter(|r| r.canonical.contains(code.as_str()))
            .filter_map(|r| crate::sync::statements::verify_receipt(r, &account.root_public_key).ok())
            .collect())
    }

    /// Every document version of a task, by kind, department and version.
    pub fn documents(&mut self, code: &TaskCode) -> Result<Vec<DocumentVersion>, StoreError> {
        let mut docs = self.record(code)?.documents()?;
        docs.sort_by(|a, b| {
            (a.kind.as_str(), &a.department, a.version).cmp(&(b.kind.as_str(), &b.department, b.version))
        });
        Ok(docs)
    }

    fn next_number(&self, prefix: &str, kind: DocumentKind, year: i32) -> Result<u32, StoreError> {
        let next: Option<u32> = self
            .conn
            .query_row(
                "SELECT next FROM document_numbers WHERE prefix = ?1 AND kind = ?2 AND year = ?3",
                params![prefix, kind.as_str(), year],
                |r| r.get(0),
            )
            .optional()?;
        Ok(next.unwrap_or(1))
    }
}

impl Store {
    /// Issues the task code token shown on site, valid through the task's time window (Beijing
    /// time), signed by this device and, once enrolled, carrying its certificate. Returns the token
    /// and its claims.
    pub fn issue_task_token(&mut self, code: &TaskCode) -> Result<(String, TaskClaims), StoreError> {
        let directory = self.directory()?;
        let by = self.operator(&directory)?;
        let task = self.record(code)?.task().clone();
        let at = crate::beijing::instant;
        let claims = TaskClaims {
            code: task.code.to_string(),
            uscc: task.enterprise.to_string(),
            inspectors: task
                .inspectors
                .iter()
                .map(|i| {
                    let found = directory.inspector(i);
                    (
                        found.map(|x| x.name.clone()).unwrap_or_else(|| i.to_string()),
                        found.map(|x| x.certificate_number.clone()).unwrap_or_default(),
                    )
                })
                .collect(),
            matters: task.matters.iter().map(|m| m.to_string()).collect(),
            not_before_ms: at(task.window.start, chrono::NaiveTime::MIN),
            expires_ms: at(
                task.window.end,
                chrono::NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap_or(chrono::NaiveTime::MIN),
            ),
            issuer: self.key.device_id(),
        };
        // An enrolled device puts its certificate in the code, so that the party checks it with
        // the tenant root alone; before enrolment only this device's key can check it.
        let issued = match self.sync_account()? {
            Some(account) => crate::task_token::issue_certified(&claims, &self.key, &account.certificate),
            None => crate::task_token::issue(&claims, &self.key),
        };
        let token = issued.map_err(|e| match e {
            crate::task_token::TokenIssueError::Token(t) => StoreError::Token(t),
            crate::task_token::TokenIssueError::Canonical(c) => StoreError::Canonical(c),
            crate::task_token::TokenIssueError::Certificate => {
                StoreError::Token(crate::task_token::TokenError::Malformed)
            }
        })?;
        let now = now_ms();
        self.write(|s| {
            let event = super::audit_log::Event {
                action: AuditAction::IssueTaskCode,
                inspector: Some(by.as_str()),
                object: format!("task/{code}/task_code"),
                object_hash: crate::audit::sha256_hex(token.as_bytes()),
                at_ms: now,
            };
            super::audit_log::append(&s.conn, &s.key, event)
        })?;
        Ok((token, claims))
    }
}
