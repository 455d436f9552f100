//! Legal documents inside the record: each rendered version (its exact canonical bytes, keyed by
//! their hash) and every signature over it. Versions and signatures are ordinary record entries,
//! so they travel and merge with the record; the hash key makes a version immutable.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use serde::{Deserialize, Serialize};

use crate::audit::sha256_hex;
use crate::canonical::to_canonical_json;
use crate::document::render::{
    CheckBlock, FindingBlock, OrderBlock, PartyBlock, PersonBlock, PlaceBlock, ServedDocument, ServiceBlock,
};
use crate::document::signature::SignatureProblem;
use crate::document::{DocumentContent, DocumentError, DocumentKind, DocumentSignature, SignatureRole};
use crate::domain::{DepartmentId, Directory, InspectorId};

use super::{Field, InspectionRecord, RecordError, Recusal, Stamp, Status, to_json};

/// A rendered version of a document, as kept in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentVersion {
    /// SHA-256 of `canonical`: the version's identity and what signatures name.
    pub sha256: String,
    /// Which document.
    pub kind: DocumentKind,
    /// The issuing department.
    pub department: DepartmentId,
    /// Its number.
    pub number: String,
    /// Its version.
    pub version: u32,
    /// The canonical JSON of the [`DocumentContent`], exactly as signed.
    pub canonical: String,
    /// Who rendered it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl DocumentVersion {
    /// The content, if the bytes still hash to the version's identity and parse.
    pub fn content(&self) -> Result<DocumentContent, DocumentError> {
        if sha256_hex(self.canonical.as_bytes()) != self.sha256 {
            return Err(DocumentError::Altered(self.sha256.clone()));
        }
        serde_json::from_str(&self.canonical).map_err(|_| DocumentError::Altered(self.sha256.clone()))
    }
}

/// One signature's verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    /// Its key in the record.
    pub key: String,
    /// Who signed (inspector id, or the party's name / "refused").
    pub signer: String,
    /// Device time of signing.
    pub device_time_ms: Option<i64>,
    /// What is wrong with it, if anything.
    pub problem: Option<SignatureProblem>,
    /// How the signer's presence was confirmed at signing, as the statement says.
    pub presence: Option<crate::document::presence::SignerPresence>,
}

pub use crate::document::completeness::MissingSignature;

/// Whether a document version is complete and trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentReport {
    /// The version's hash.
    pub sha256: String,
    /// Which document.
    pub kind: DocumentKind,
    /// Its number.
    pub number: String,
    /// Its version.
    pub version: u32,
    /// Whether its bytes match its hash.
    pub intact: bool,
    /// The newer version that replaced it, if any.
    pub superseded_by: Option<String>,
    /// Every signature and its verification.
    pub signatures: Vec<SignatureCheck>,
    /// What is still missing before the document counts as signed.
    pub missing: Vec<MissingSignature>,
    /// Intact, no signature forged or uncertified, two named officers of every acting department,
    /// and the party signed or refused before a witness.
    pub signed: bool,
    /// Whether rendering the record at the version's heads reproduces exactly these bytes (the
    /// document says what the record said then). `None` when not checked.
    pub matches_record: Option<bool>,
    /// Whether each signing key was checked against its certificate from the tenant root (false
    /// on a store that was never enrolled: there is no root to check against).
    pub identities_checked: bool,
}

/// What binds signing keys to people: the tenant root, and the revocation list the device holds.
pub struct SignerTrust<'a> {
    /// The tenant root key.
    pub root: &'a ed25519_dalek::VerifyingKey,
    /// The latest revocation list, if any.
    pub revocations: Option<&'a crate::certificate::RevocationList>,
}

impl SignerTrust<'_> {
    /// Checks that a statement's key is certified for the inspector it names, at its signing time.
    pub fn check(
        &self,
        statement: &crate::document::SignedStatement,
        certificates: &[(String, crate::certificate::SignedCertificate)],
    ) -> Result<(), SignatureProblem> {
        let uncertified = || SignatureProblem::Uncertified(statement.device.clone());
        let (_, signed) = certificates.iter().find(|(d, _)| d == &statement.device).ok_or_else(uncertified)?;
        let certificate = signed.verify_issued(self.root).map_err(|_| uncertified())?;
        if certificate.device_public_key != statement.device_public_key {
            return Err(uncertified());
        }
        let named = statement.responsible_inspector();
        if certificate.inspector != named {
            return Err(SignatureProblem::NamedAnotherInspector {
                named: named.to_string(),
                certified: certificate.inspector,
            });
        }
        signed
            .verify(self.root, statement.device_time_ms, self.revocations)
            .map(|_| ())
            .map_err(|e| SignatureProblem::CertificateInvalid(e.to_string()))
    }
}

/// What the party did with the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartyAct {
    /// Signed by hand; the image is kept as evidence.
    Signed {
        /// Name.
        name: String,
        /// Role.
        role: String,
        /// SHA-256 of the handwritten signature image (already attached as evidence).
        image_sha256: String,
    },
    /// Refused to sign, before a witness.
    Refused {
        /// The stated reason.
        reason: String,
        /// The witness's name.
        witness: String,
        /// The witness's ID or role.
        witness_detail: Option<String>,
    },
}

/// The statement a party signs an on-site record under.
pub const PARTY_STATEMENT: &str = "以上笔录我已看过，与事实相符";

/// The statement a party signs for an order they receive (签收), not the 笔录's sentence.
pub const RECEIPT_STATEMENT: &str = "本文书已收到";

/// The statement a party signs its address for service under.
pub const ADDRESS_STATEMENT: &str = "以上送达地址及联系方式由本单位确认，真实有效；送达至该地址即视为送达";

/// The statement the party signs `kind` under.
pub fn party_statement(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::OnSiteRecord => PARTY_STATEMENT,
        DocumentKind::RectificationOrder | DocumentKind::ServiceReceipt => RECEIPT_STATEMENT,
        DocumentKind::AddressConfirmation => ADDRESS_STATEMENT,
    }
}

impl InspectionRecord {
    /// Builds a document's content from the record as it is now (which must be complete and free
    /// of conflicts). `department` issues it: the lead department for an on-site record.
    #[allow(clippy::too_many_arguments)]
    pub fn build_document(
        &mut self,
        directory: &Directory,
        kind: DocumentKind,
        department: &DepartmentId,
        number: String,
        version: u32,
        recorder: &InspectorId,
        now_ms: i64,
    ) -> Result<DocumentContent, RecordError> {
        let status = self.status()?;
        if status != Status::Recorded {
            return Err(DocumentError::RecordNotComplete(status.label_zh()).into());
        }
        let open = self.conflicts()?.len();
        if open > 0 {
            return Err(DocumentError::OpenConflicts(open).into());
        }
        if !self.task().departments.contains(department) {
            return Err(DocumentError::UnknownDepartment(department.to_string()).into());
        }
        let task = self.task().clone();
        let dept_name = |id: &DepartmentId| {
            directory.department(id).map(|d| d.short_name.clone()).unwrap_or_else(|| id.to_string())
        };
        let person = |id: &InspectorId| {
            let i = directory.inspector(id);
            PersonBlock {
                inspector: id.to_string(),
                department_id: i.map(|i| i.department.to_string()).unwrap_or_default(),
                name: i.map(|i| i.name.clone()).unwrap_or_else(|| id.to_string()),
                certificate_number: i.map(|i| i.certificate_number.clone()).unwrap_or_default(),
                department: i.map(|i| dept_name(&i.department)).unwrap_or_default(),
            }
        };
        let enterprise = directory.enterprise(&task.enterprise);
        let party = self.party()?;
        let arrival = self.check_in()?;
        let identity = self.identity()?;
        let end_ms = self.status_entry()?.map(|e| e.stamp.at_ms);
        // The day of the inspection: a deadline no later than it means "at once" (责令立即改正).
        let inspected_on = end_ms.and_then(crate::beijing::at).map(|t| t.date_naive());
        // The matter a finding falls under: its check point's, else its department's first on the task.
        let matter_of = |f: &super::Finding| {
            let matters = || task.matters.iter().filter_map(|m| directory.matter(m));
            f.check_point
                .as_ref()
                .and_then(|cp| matters().find(|m| m.check_points.iter().any(|p| &p.id == cp)))
                .or_else(|| matters().find(|m| m.department == f.department))
        };
        let findings: Vec<FindingBlock> = self
            .findings()?
            .into_iter()
            .filter(|f| match kind {
                DocumentKind::OnSiteRecord => true,
                DocumentKind::RectificationOrder => &f.department == department && f.rectification_required,
                DocumentKind::AddressConfirmation | DocumentKind::ServiceReceipt => false,
            })
            .map(|f| {
                let immediate = f.rectification_required
                    && match (f.deadline, inspected_on) {
                        (None, _) => true,
                        (Some(d), Some(day)) => d <= day,
                        (Some(_), None) => false,
                    };
                FindingBlock {
                    department: dept_name(&f.department),
                    order_basis: matter_of(&f).and_then(|m| m.order_basis.clone()),
                    problem: f.problem,
                    legal_basis: f.legal_basis,
                    rectification_required: f.rectification_required,
                    deadline: f.deadline.map(|d| d.to_string()),
                    immediate,
                }
            })
            .collect();
        let answers = self.answers()?;
        let mut checks = Vec::new();
        if kind == DocumentKind::OnSiteRecord {
            for matter in task.matters.iter().filter_map(|m| directory.matter(m)) {
                for point in &matter.check_points {
                    let answer = answers.iter().find(|(_, a)| a.check_point == point.id).map(|(_, a)| a);
                    checks.push(CheckBlock {
                        department: dept_name(&matter.department),
                        matter: matter.title.clone(),
                        legal_basis: matter.legal_basis.clone(),
                        power_basis: matter.power_basis.clone(),
                        check_point: point.id.to_string(),
                        title: point.title.clone(),
                        result: answer.map(|a| a.value.display_zh()).unwrap_or_else(|| "未检查".into()),
                        note: answer.and_then(|a| a.note.clone()),
                        evidence: answer.map(|a| a.evidence.clone()).unwrap_or_default(),
                    });
                }
            }
        }
        let issuing = directory.department(department);
        let confirmed = self.service_address()?;
        let service = match kind {
            DocumentKind::OnSiteRecord | DocumentKind::RectificationOrder => None,
            DocumentKind::AddressConfirmation => {
                let a = confirmed.ok_or(DocumentError::NoServiceAddress)?;
                Some(ServiceBlock {
                    address: a.address,
                    recipient: a.recipient,
                    phone: Some(a.phone),
                    electronic: a.electronic,
                    served: Vec::new(),
                })
            }
            DocumentKind::ServiceReceipt => {
                let order = self
                    .latest_document(DocumentKind::RectificationOrder, department)?
                    .ok_or_else(|| DocumentError::NothingToServe(department.to_string()))?;
                let served = ServedDocument {
                    title: order.content().map(|c| c.title).unwrap_or_else(|_| order.kind.title_zh().to_string()),
                    number: order.number,
                    sha256: order.sha256,
                };
                // The confirmed address, else the premises and the representative present.
                let (address, recipient, phone, electronic) = match confirmed {
                    Some(a) => (a.address, a.recipient, Some(a.phone), a.electronic),
                    None => (
                        enterprise.map(|e| e.address.clone()).unwrap_or_default(),
                        party
                            .as_ref()
                            .map(|p| format!("{}（{}）", p.name, p.role))
                            .or_else(|| enterprise.map(|e| e.name.clone()))
                            .unwrap_or_default(),
                        party.as_ref().and_then(|p| p.phone.clone()),
                        None,
                    ),
                };
                Some(ServiceBlock { address, recipient, phone, electronic, served: vec![served] })
            }
        };
        let order = match kind {
            DocumentKind::OnSiteRecord | DocumentKind::AddressConfirmation | DocumentKind::ServiceReceipt => None,
            DocumentKind::RectificationOrder => {
                if findings.is_empty() {
                    return Err(DocumentError::NothingToOrder(department.to_string()).into());
                }
                let deadline = findings.iter().filter_map(|f| f.deadline.clone()).max().unwrap_or_default();
                let all_at_once = findings.iter().all(|f| f.immediate);
                let review = issuing.and_then(|d| d.review_authority.clone());
                let court = issuing.and_then(|d| d.court.clone());
                let on_site_record =
                    self.latest_document(DocumentKind::OnSiteRecord, &task.lead_department)?.map(|d| d.number);
                Some(OrderBlock {
                    requirement: "请你单位按上列期限改正，并将整改情况书面报告本机关。逾期不改正的，本机关将依法处理。"
                        .into(),
                    deadline,
                    rights: format!(
                        "如不服本通知，可以在收到本通知书之日起六十日内依法向{}申请行政复议，或者在六个月内依法向{}提起行政诉讼。",
                        review.as_deref().unwrap_or("有管辖权的行政复议机关"),
                        court.as_deref().unwrap_or("有管辖权的人民法院")
                    ),
                    kind_zh: if all_at_once { "责令立即改正" } else { "责令限期改正" }.into(),
                    on_site_record,
                    contact: issuing.and_then(|d| d.contact.clone()),
                    issued_on: crate::beijing::at(now_ms).map(|t| t.date_naive().to_string()).unwrap_or_default(),
                })
            }
        };
        let title = match (&order, issuing) {
            (Some(o), Some(d)) if d.order_titles_by_kind => format!("{}通知书", o.kind_zh),
            _ => kind.title_zh().to_string(),
        };
        let inspectors: Vec<PersonBlock> = task
            .inspectors
            .iter()
            .filter(|i| {
                kind == DocumentKind::OnSiteRecord
                    || directory.inspector(i).is_some_and(|x| &x.department == department)
            })
            .map(person)
            .collect();
        let names: Vec<String> = inspectors.iter().map(|p| p.name.clone()).collect();
        let certificates = identity.as_ref().map(|i| i.certificate_numbers.clone()).unwrap_or_default();
        let heads = self.heads();
        let mut record_heads: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
        record_heads.sort();
        Ok(DocumentContent {
            schema: DocumentContent::schema(),
            kind,
            title,
            number,
            version,
            task: task.code.to_string(),
            record_heads,
            issuer: directory.department(department).map(|d| d.name.clone()).unwrap_or_else(|| department.to_string()),
            issuer_id: department.to_string(),
            party: PartyBlock {
                name: enterprise.map(|e| e.name.clone()).unwrap_or_default(),
                uscc: task.enterprise.to_string(),
                address: enterprise.map(|e| e.address.clone()).unwrap_or_default(),
                representative: party.as_ref().map(|p| p.name.clone()),
                representative_role: party.as_ref().map(|p| p.role.clone()),
                phone: party.as_ref().and_then(|p| p.phone.clone()),
                representative_id: party.as_ref().and_then(|p| p.id_number.clone()),
                legal_representative: enterprise.and_then(|e| e.legal_representative.clone()),
                licences: enterprise.map(|e| e.licences.clone()).unwrap_or_default(),
            },
            place: PlaceBlock {
                address: enterprise.map(|e| e.address.clone()).unwrap_or_default(),
                latitude_e7: arrival.as_ref().map(|a| a.position.latitude_e7),
                longitude_e7: arrival.as_ref().map(|a| a.position.longitude_e7),
                datum: "WGS-84".into(),
            },
            start_ms: arrival.map(|a| a.stamp.at_ms),
            end_ms,
            inspectors,
            recorder: person(recorder),
            notice: format!(
                "我们是{}的执法人员{}，已向你出示执法证件（证号：{}），现依法对你单位进行现场检查。你有如实回答询问、协助检查的义务，有陈述、申辩的权利；如认为执法人员与你单位有直接利害关系或者有其他关系可能影响公正执法的，有权申请回避。",
                task.departments.iter().map(&dept_name).collect::<Vec<_>>().join("、"),
                names.join("、"),
                certificates.join("、")
            ),
            identity_shown: certificates,
            party_statement: party.as_ref().and_then(|p| p.statement.clone()),
            recusal: match party.map(|p| p.recusal) {
                Some(Recusal::NotRequested) => "不申请回避".into(),
                Some(Recusal::Requested { reason }) => format!("申请回避：{reason}"),
                None => "未记录".into(),
            },
            checks,
            findings,
            order,
            service,
            rendered_at_ms: now_ms,
        })
    }

    /// Every document version in the record.
    pub fn documents(&self) -> Result<Vec<DocumentVersion>, RecordError> {
        self.values_in(&self.map("documents")?)
    }

    /// One version by hash.
    pub fn document(&self, sha256: &str) -> Result<DocumentVersion, RecordError> {
        let map = self.map("documents")?;
        super::read_json(&self.doc, &map, sha256)?
            .ok_or_else(|| DocumentError::UnknownDocument(sha256.to_string()).into())
    }

    /// The latest version of a document of this kind from this department, under the one number
    /// the document carries (see [`InspectionRecord::document_number`]).
    pub fn latest_document(
        &self,
        kind: DocumentKind,
        department: &DepartmentId,
    ) -> Result<Option<DocumentVersion>, RecordError> {
        let versions = self.versions_of(kind, department)?;
        let Some(number) = first_number(&versions) else { return Ok(None) };
        Ok(versions
            .into_iter()
            .filter(|d| d.number == number)
            .max_by(|a, b| (a.version, a.stamp.at_ms, &a.sha256).cmp(&(b.version, b.stamp.at_ms, &b.sha256))))
    }

    /// The number (文号) a document of this kind from this department carries: that of its
    /// earliest first version. Two devices that numbered it offline at the same time agree on
    /// this one once their records merge; the other number's versions are superseded by it.
    pub fn document_number(
        &self,
        kind: DocumentKind,
        department: &DepartmentId,
    ) -> Result<Option<String>, RecordError> {
        Ok(first_number(&self.versions_of(kind, department)?))
    }

    /// Every version of the document of this kind from this department, whatever its number.
    fn versions_of(&self, kind: DocumentKind, department: &DepartmentId) -> Result<Vec<DocumentVersion>, RecordError> {
        Ok(self.documents()?.into_iter().filter(|d| d.kind == kind && &d.department == department).collect())
    }

    /// Keeps a rendered version in the record.
    pub fn add_document(
        &mut self,
        stamp: Stamp,
        content: &DocumentContent,
        department: DepartmentId,
    ) -> Result<DocumentVersion, RecordError> {
        self.require_assigned(&stamp.by)?;
        let bytes = to_canonical_json(content).map_err(|_| RecordError::MalformedField { field: "document".into() })?;
        let canonical =
            String::from_utf8(bytes).map_err(|_| RecordError::MalformedField { field: "document".into() })?;
        let version = DocumentVersion {
            sha256: sha256_hex(canonical.as_bytes()),
            kind: content.kind,
            department,
            number: content.number.clone(),
            version: content.version,
            canonical,
            stamp: stamp.clone(),
        };
        let map = self.map("documents")?;
        self.doc.put(&map, version.sha256.as_str(), to_json(&version))?;
        self.commit("document", &stamp);
        Ok(version)
    }

    /// Checks that `sha256` may be signed now: intact, the latest of its kind, no open conflicts.
    pub fn signable(&self, sha256: &str) -> Result<DocumentVersion, RecordError> {
        let version = self.document(sha256)?;
        version.content()?;
        if let Some(latest) = self.latest_document(version.kind, &version.department)?
            && (latest.version > version.version || latest.number != version.number)
        {
            return Err(DocumentError::Superseded { old: version.sha256, newer: latest.sha256 }.into());
        }
        let open = self.conflicts()?.len();
        if open > 0 {
            return Err(DocumentError::OpenConflicts(open).into());
        }
        Ok(version)
    }

    /// Adds a signature statement over a version, under its key (`<sha>/inspector/<id>` or `<sha>/party`).
    pub fn add_signature(
        &mut self,
        stamp: Stamp,
        sha256: &str,
        signature: &DocumentSignature,
        role: &SignatureRole,
    ) -> Result<Field, RecordError> {
        self.require_assigned(&stamp.by)?;
        let key = signature_key(sha256, role);
        let map = self.map("signatures")?;
        if self.doc.get(&map, key.as_str())?.is_some() {
            return Err(match role {
                SignatureRole::Inspector { inspector, .. } => DocumentError::AlreadySigned(inspector.clone()),
                _ => DocumentError::PartyAlreadyActed,
            }
            .into());
        }
        self.doc.put(&map, key.as_str(), to_json(signature))?;
        self.commit("signature", &stamp);
        Ok(Field::Signature(key))
    }

    /// The statements over a version whose signatures verify, as printed on its page.
    pub fn verified_statements(&self, sha256: &str) -> Result<Vec<crate::document::SignedStatement>, RecordError> {
        Ok(self.signatures(sha256)?.into_iter().filter_map(|(_, s)| s.verify(sha256).ok()).collect())
    }

    /// Every signature over a version, with its key.
    pub fn signatures(&self, sha256: &str) -> Result<Vec<(String, DocumentSignature)>, RecordError> {
        let map = self.map("signatures")?;
        let prefix = format!("{sha256}/");
        let mut out = Vec::new();
        for key in self.doc.keys(&map).filter(|k| k.starts_with(&prefix)) {
            if let Some(sig) = super::read_json::<DocumentSignature>(&self.doc, &map, &key)? {
                out.push((key, sig));
            }
        }
        Ok(out)
    }

    /// How many signatures the record holds, over every version: a write that adds one may
    /// complete a document.
    pub fn signature_count(&self) -> Result<usize, RecordError> {
        Ok(self.doc.keys(&self.map("signatures")?).count())
    }

    /// Verifies a version and every signature over it, and says whether it counts as signed.
    /// With the tenant's `trust`, a signature counts only if the certificate the record carries
    /// for its key names the same inspector and held (not expired, not revoked) at the signing time.
    pub fn document_report(
        &self,
        sha256: &str,
        trust: Option<&SignerTrust<'_>>,
    ) -> Result<DocumentReport, RecordError> {
        let version = self.document(sha256)?;
        let intact = version.content().is_ok();
        let superseded_by = self
            .latest_document(version.kind, &version.department)?
            .filter(|l| l.version > version.version || l.number != version.number)
            .map(|l| l.sha256);
        let assigned = |id: &str| self.task().inspectors.iter().any(|i| i.as_str() == id);
        let certificates = match trust {
            Some(_) => self.certificates()?,
            None => Vec::new(),
        };
        let content = version.content().ok();
        let reused = self.handwriting_elsewhere(sha256)?;
        let mut checks = Vec::new();
        let (mut inspectors, mut party) = (std::collections::BTreeSet::new(), false);
        for (key, sig) in self.signatures(sha256)? {
            let verified = sig.verify(sha256);
            let presence = verified.as_ref().ok().and_then(|s| s.presence);
            let (signer, device_time_ms, problem) = match verified {
                Err(problem) => (key.rsplit('/').next().unwrap_or_default().to_string(), None, Some(problem)),
                Ok(statement) => {
                    let signer = match &statement.signer {
                        SignatureRole::Inspector { inspector, .. } => inspector.clone(),
                        SignatureRole::Party { name, .. } => name.clone(),
                        SignatureRole::PartyRefused { reason, witness, attested_by, .. } => {
                            format!("当事人拒绝签字（理由：{reason}；见证人 {witness}；{attested_by} 证明）")
                        }
                    };
                    let attester = statement.responsible_inspector().to_string();
                    let problem = match trust {
                        Some(trust) => trust.check(&statement, &certificates).err(),
                        None => None,
                    }
                    .or_else(|| (!assigned(&attester)).then(|| SignatureProblem::NotTaskInspector(attester.clone())))
                    .or_else(|| {
                        let image = statement.handwriting()?;
                        reused
                            .iter()
                            .find(|(i, _)| i == image)
                            .map(|(_, other)| SignatureProblem::HandwritingReused(other.clone()))
                    })
                    .or_else(|| match &statement.signer {
                        SignatureRole::Inspector { inspector, .. }
                            if content
                                .as_ref()
                                .is_some_and(|c| !crate::document::completeness::is_named(c, inspector)) =>
                        {
                            Some(SignatureProblem::NotNamedOnDocument(inspector.clone()))
                        }
                        _ => None,
                    });
                    if problem.is_none() {
                        party |= crate::document::completeness::party_act_counts(version.kind, &statement.signer);
                        if let SignatureRole::Inspector { inspector, .. } = statement.signer {
                            inspectors.insert(inspector);
                        }
                    }
                    (signer, Some(statement.device_time_ms), problem)
                }
            };
            checks.push(SignatureCheck { key, signer, device_time_ms, problem, presence });
        }
        // An altered document is not signed whatever its signatures; its gaps are still listed.
        let missing = match &content {
            Some(c) => crate::document::completeness::missing(c, &inspectors, party),
            None => [
                (inspectors.len() < 2).then_some(MissingSignature::Inspectors { have: inspectors.len() }),
                (!party).then_some(MissingSignature::Party),
            ]
            .into_iter()
            .flatten()
            .collect(),
        };
        let all_valid = checks.iter().all(|c| c.problem.as_ref().is_none_or(SignatureProblem::only_uncounted));
        Ok(DocumentReport {
            sha256: version.sha256.clone(),
            kind: version.kind,
            number: version.number.clone(),
            version: version.version,
            intact,
            superseded_by,
            signed: intact && all_valid && missing.is_empty(),
            signatures: checks,
            missing,
            matches_record: None,
            identities_checked: trust.is_some(),
        })
    }

    /// The handwriting images (SHA-256) that signatures over documents other than `sha256` bind,
    /// with the document each was drawn for: an image is drawn for one document only.
    pub fn handwriting_elsewhere(&self, sha256: &str) -> Result<Vec<(String, String)>, RecordError> {
        let map = self.map("signatures")?;
        let mut out = Vec::new();
        for key in self.doc.keys(&map).filter(|k| !k.starts_with(&format!("{sha256}/"))) {
            let Some(sig) = super::read_json::<DocumentSignature>(&self.doc, &map, &key)? else { continue };
            let Some(document) = key.split('/').next() else { continue };
            if let Ok(statement) = sig.verify(document)
                && let Some(image) = statement.handwriting()
            {
                out.push((image.to_string(), document.to_string()));
            }
        }
        Ok(out)
    }

    /// Re-renders a version from the record at the heads it names and compares the bytes: proof
    /// that the document says exactly what the record said at that point of its history. `None`
    /// for a document of an earlier layout, which this code does not reproduce.
    pub fn matches_record(&mut self, directory: &Directory, sha256: &str) -> Result<Option<bool>, RecordError> {
        let version = self.document(sha256)?;
        let Ok(content) = version.content() else { return Ok(Some(false)) };
        if content.schema != crate::document::DOCUMENT_SCHEMA {
            return Ok(None);
        }
        let heads: Result<Vec<automerge::ChangeHash>, _> = content.record_heads.iter().map(|h| h.parse()).collect();
        let Ok(heads) = heads else { return Ok(Some(false)) };
        // The record as it was then, the task (its inspectors) included: a later reassignment
        // must not change what an already signed document is compared with.
        let Some(mut then) = self.at(&heads) else { return Ok(Some(false)) };
        let again = then.build_document(
            directory,
            content.kind,
            &version.department,
            content.number.clone(),
            content.version,
            &version.stamp.by,
            content.rendered_at_ms,
        );
        Ok(Some(match again {
            Ok(rendered) => to_canonical_json(&rendered).is_ok_and(|bytes| bytes == version.canonical.as_bytes()),
            Err(_) => false,
        }))
    }
}

/// For each signature over a version, keyed by (device, device time): the earliest time a
/// server receipt shows the server held it — a bound from the server's clock, not the device's.
pub type ReceivedTimes = std::collections::HashMap<(String, i64), i64>;

/// The [`ReceivedTimes`] of the signatures over `sha256` in `record`, from `receipts` (verified
/// already; any order).
pub fn received_times(
    record: &mut InspectionRecord,
    receipts: &[crate::sync::statements::Receipt],
    sha256: &str,
) -> Result<ReceivedTimes, RecordError> {
    let id = record.task().code.to_string();
    let mut held: Vec<(i64, Vec<automerge::ChangeHash>)> = receipts
        .iter()
        .filter_map(|r| {
            let d = r.records.iter().find(|d| d.id == id)?;
            Some((r.received_at_ms, crate::sync::wire::heads_from_hex(&d.heads)?))
        })
        .collect();
    held.sort_by_key(|(at, _)| *at);
    let wanted = record.signatures(sha256)?.len();
    let mut out = ReceivedTimes::new();
    for (at, heads) in held {
        if out.len() >= wanted {
            break;
        }
        let Some(then) = record.at(&heads) else { continue };
        for statement in then.verified_statements(sha256).unwrap_or_default() {
            out.entry((statement.device, statement.device_time_ms)).or_insert(at);
        }
    }
    Ok(out)
}

/// The number of the earliest first version among `versions` (by time rendered, then hash).
fn first_number(versions: &[DocumentVersion]) -> Option<String> {
    versions
        .iter()
        .min_by(|a, b| (a.version, a.stamp.at_ms, &a.sha256).cmp(&(b.version, b.stamp.at_ms, &b.sha256)))
        .map(|d| d.number.clone())
}

/// The record key of a signature.
pub fn signature_key(sha256: &str, role: &SignatureRole) -> String {
    match role {
        SignatureRole::Inspector { inspector, .. } => format!("{sha256}/inspector/{inspector}"),
        SignatureRole::Party { .. } | SignatureRole::PartyRefused { .. } => format!("{sha256}/party"),
    }
}
