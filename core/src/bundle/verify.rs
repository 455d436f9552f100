//! Verifying a bag offline with only the tenant's root key: manifests (nothing missing, altered or
//! unlisted), the seal, certificates against the revocation list at each signing time, capture
//! records, document signatures, the audit chain and its inclusion proofs. Every check is reported;
//! a failure names exactly what failed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

use super::bag::{BagReader, Digests, FolderReader, ZipReader, parse_manifest};
use super::{BundleError, BundleProgress, SEAL_SCHEMA, SEALED_FILES, Seal};
use crate::audit::{SignedAuditEntry, verify_chain};
use crate::certificate::{DeviceCertificate, RevocationList, SignedCertificate, SignedRevocationList};
use crate::document::{DocumentContent, DocumentSignature, SignatureRole};
use crate::evidence::SignedCapture;
use crate::identity::verifying_key_from_hex;
use crate::sync::CancelToken;
use crate::sync::merkle;
use crate::sync::statements::{Receipt, verify_checkpoint};
use crate::sync::wire::{AuditProofs, SignedStatement};

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (stable, e.g. `manifest`, `seal`, `capture`, `document`, `audit`).
    pub kind: String,
    /// Whether it holds.
    pub ok: bool,
    /// What exactly, in words: the file, the signer, the entry.
    pub detail: String,
}

impl Check {
    /// The check's name in Chinese, as reports print it (`kind` stays the machine name).
    pub fn label_zh(&self) -> &'static str {
        match self.kind.as_str() {
            "bagit" => "包格式",
            "manifest" => "内容清单",
            "tagmanifest" => "标签清单",
            "revocations" => "吊销列表",
            "certificate" => "设备证书",
            "seal" => "封签",
            "capture" => "照片采集记录",
            "document" => "文书签名",
            "completeness" => "文书签署完整性",
            "agency_seal" => "机关电子印章",
            "receipt" => "服务器回执",
            "audit" => "审计日志",
            _ => "其他",
        }
    }
}

/// Every check made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// In the order made.
    pub checks: Vec<Check>,
}

impl VerifyReport {
    /// Whether every check holds.
    pub fn is_valid(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// Whether no device certificate in the bundle (the sealing device's among them) was issued under the root key
    /// given: almost always a wrong `--root`, not a forged bundle — the one thing to check first.
    pub fn root_mismatch(&self) -> bool {
        let mut certificates = self.checks.iter().filter(|c| c.kind == "certificate").peekable();
        certificates.peek().is_some() && certificates.all(|c| !c.ok)
    }

    /// The failed checks.
    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.ok).collect()
    }

    fn pass(&mut self, kind: &str, detail: impl Into<String>) {
        self.checks.push(Check { kind: kind.into(), ok: true, detail: detail.into() });
    }

    fn fail(&mut self, kind: &str, detail: impl Into<String>) {
        self.checks.push(Check { kind: kind.into(), ok: false, detail: detail.into() });
    }
}

/// Verifies the bag at `path` (a folder, or a `.zip` holding one) against the root key (hex);
/// `cancel` stops it between files.
pub fn verify(
    path: &Path,
    root_hex: &str,
    progress: &dyn Fn(&BundleProgress),
    cancel: &CancelToken,
) -> Result<VerifyReport, BundleError> {
    let root = verifying_key_from_hex(root_hex.trim()).ok_or(BundleError::BadRootKey)?;
    let mut reader: Box<dyn BagReader> =
        if path.is_dir() { Box::new(FolderReader::open(path)?) } else { Box::new(ZipReader::open(path)?) };
    let mut v = Verifier {
        reader: reader.as_mut(),
        root,
        report: VerifyReport::default(),
        digests: HashMap::new(),
        held: HashMap::new(),
        cancel,
    };
    v.run(progress)?;
    let failed = v.report.failures().len();
    tracing::info!(target: "onevisit::bundle", checks = v.report.checks.len(), failed, "evidence bundle verified");
    Ok(v.report)
}

struct Verifier<'a> {
    reader: &'a mut dyn BagReader,
    root: VerifyingKey,
    report: VerifyReport,
    digests: HashMap<String, Digests>,
    /// Per task, what the record held at each server receipt.
    held: HashMap<String, Vec<(i64, HashSet<String>)>>,
    cancel: &'a CancelToken,
}

impl Verifier<'_> {
    fn run(&mut self, progress: &dyn Fn(&BundleProgress)) -> Result<(), BundleError> {
        let files = self.reader.files()?;
        match self.text("bagit.txt") {
            Some(t) if t.contains("BagIt-Version: 1.0") => self.report.pass("bagit", "bagit.txt：BagIt 1.0 格式"),
            _ => self.report.fail("bagit", "bagit.txt 缺失或不是 BagIt 1.0 格式"),
        }
        self.payload(&files, progress)?;
        self.tag_manifests(&files)?;
        let revocations = self.revocations();
        let certificates = self.certificates(&files);
        self.seal(revocations.as_ref());
        let signers = Signers { certificates: &certificates, revocations: revocations.as_ref() };
        let receipts = self.receipts();
        self.captures(&files, &signers, &receipts);
        self.documents(&files, &signers, &receipts);
        self.audit(&files, &certificates);
        Ok(())
    }

    fn text(&mut self, path: &str) -> Option<String> {
        self.reader.read_all(path).ok().and_then(|b| String::from_utf8(b).ok())
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Option<T> {
        self.reader.read_all(path).ok().and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Every payload file hashed once (streaming) and compared with both manifests.
    fn payload(&mut self, files: &[String], progress: &dyn Fn(&BundleProgress)) -> Result<(), BundleError> {
        let payload: Vec<&String> = files.iter().filter(|f| f.starts_with("data/")).collect();
        let mut state = BundleProgress { files_total: payload.len() as u64, ..Default::default() };
        for f in &payload {
            if self.cancel.is_cancelled() {
                return Err(BundleError::Cancelled);
            }
            let d = self.reader.digest(f)?;
            state.files += 1;
            state.bytes += d.size;
            progress(&state);
            self.digests.insert((*f).clone(), d);
        }
        let mut listed = HashSet::new();
        let mut problems = 0;
        for (alg, name) in [("SHA-256", "manifest-sha256.txt"), ("SHA-512", "manifest-sha512.txt")] {
            let Some(text) = self.text(name) else {
                self.report.fail("manifest", format!("{name} 缺失"));
                problems += 1;
                continue;
            };
            let entries = match parse_manifest(&text) {
                Ok(e) => e,
                Err(why) => {
                    self.report.fail("manifest", format!("{name}：{why}"));
                    problems += 1;
                    continue;
                }
            };
            for (hash, file) in entries {
                listed.insert(file.clone());
                match self.digests.get(&file) {
                    None => {
                        self.report.fail("manifest", format!("文件缺失：{file} 列在 {name} 中，但包内没有"));
                        problems += 1;
                    }
                    Some(d) => {
                        let actual = if alg == "SHA-256" { &d.sha256 } else { &d.sha512 };
                        if actual != &hash {
                            self.report.fail("manifest", format!("文件被改动：{file} 与 {name} 中的 {alg} 摘要不符"));
                            problems += 1;
                        }
                    }
                }
            }
        }
        for f in payload {
            if !listed.contains(f.as_str()) {
                self.report.fail("manifest", format!("多出文件：{f} 在包内，但不在任何清单中"));
                problems += 1;
            }
        }
        if problems == 0 {
            let bytes: u64 = self.digests.values().map(|d| d.size).sum();
            self.report.pass("manifest", format!("{} 个内容文件（{bytes} 字节）与两份清单一致", self.digests.len()));
        }
        Ok(())
    }

    fn tag_manifests(&mut self, files: &[String]) -> Result<(), BundleError> {
        let mut problems = 0;
        let mut listed = HashSet::new();
        for (alg, name) in [("SHA-256", "tagmanifest-sha256.txt"), ("SHA-512", "tagmanifest-sha512.txt")] {
            let Some(entries) = self.text(name).and_then(|t| parse_manifest(&t).ok()) else {
                self.report.fail("tagmanifest", format!("{name} 缺失或格式错误"));
                problems += 1;
                continue;
            };
            for (hash, file) in entries {
                listed.insert(file.clone());
                match self.reader.digest(&file) {
                    Err(_) => {
                        self.report.fail("tagmanifest", format!("标签文件缺失：{file}"));
                        problems += 1;
                    }
                    Ok(d) if (if alg == "SHA-256" { &d.sha256 } else { &d.sha512 }) != &hash => {
                        self.report.fail("tagmanifest", format!("标签文件被改动：{file} 与 {name} 不符"));
                        problems += 1;
                    }
                    Ok(_) => {}
                }
            }
        }
        for f in files.iter().filter(|f| !f.starts_with("data/") && !f.starts_with("tagmanifest-")) {
            if !listed.contains(f) {
                self.report.fail("tagmanifest", format!("多出标签文件：{f}"));
                problems += 1;
            }
        }
        if problems == 0 {
            self.report.pass("tagmanifest", "标签文件与两份标签清单一致");
        }
        Ok(())
    }

    fn revocations(&mut self) -> Option<RevocationList> {
        let Some(list) = self.json::<SignedRevocationList>("data/revocations.json") else {
            self.report.fail("revocations", "data/revocations.json 缺失或格式错误");
            return None;
        };
        match list.verify(&self.root) {
            Ok(l) => {
                self.report.pass(
                    "revocations",
                    format!("租户 {} 的吊销列表经根密钥签名（已吊销 {} 台设备）", l.tenant, l.revoked.len()),
                );
                Some(l)
            }
            Err(e) => {
                self.report.fail("revocations", format!("data/revocations.json：{e}"));
                None
            }
        }
    }

    fn certificates(&mut self, files: &[String]) -> BTreeMap<String, Vec<DeviceCertificate>> {
        let mut out: BTreeMap<String, Vec<DeviceCertificate>> = BTreeMap::new();
        for f in files.iter().filter(|f| f.starts_with("data/certificates/") && f.ends_with(".json")) {
            let parsed: Option<SignedCertificate> = self.json(f);
            // Validity and revocation are checked at each signing time; here: issued by the root.
            let checked = parsed.map(|c| c.verify_issued(&self.root));
            match checked {
                Some(Ok(c)) => {
                    self.report.pass(
                        "certificate",
                        format!("{f}：执法人员 {} 的设备 {} 的证书经根密钥签发", c.inspector, c.device),
                    );
                    out.entry(c.device.clone()).or_default().push(c);
                }
                Some(Err(e)) => self.report.fail("certificate", format!("{f}：{e}")),
                None => self.report.fail("certificate", format!("{f} 格式错误")),
            }
        }
        for held in out.values_mut() {
            held.sort_by_key(|c| c.not_before_ms);
        }
        out
    }

    fn seal(&mut self, revocations: Option<&RevocationList>) {
        let (Some(sealed), Ok(sig), Some(cert)) = (
            self.reader.read_all("seal/seal.json").ok(),
            self.reader.read_all("seal/seal.sig"),
            self.json::<SignedCertificate>("seal/device-certificate.json"),
        ) else {
            self.report.fail("seal", "seal/seal.json、seal/seal.sig 或 seal/device-certificate.json 缺失");
            return;
        };
        let Ok(seal) = serde_json::from_slice::<Seal>(&sealed) else {
            self.report.fail("seal", "seal/seal.json 格式错误");
            return;
        };
        if seal.schema != SEAL_SCHEMA {
            self.report.fail("seal", format!("未知的封签格式 {:?}", seal.schema));
        }
        match cert.verify(&self.root, seal.sealed_at_ms, revocations) {
            Ok(c) if c.device_public_key == seal.device_public_key => self
                .report
                .pass("seal", format!("由执法人员 {} 的设备 {} 封签，设备证书经根密钥签发", c.inspector, c.device)),
            Ok(_) => self.report.fail("seal", "封签所用密钥不是证书认证的设备密钥"),
            Err(e) => self.report.fail("seal", format!("封签设备的证书：{e}")),
        }
        let key = verifying_key_from_hex(&seal.device_public_key);
        let signature = Signature::from_slice(&sig).ok();
        match (key, signature) {
            (Some(k), Some(s)) if k.verify_strict(&sealed, &s).is_ok() => self.report.pass("seal", "封签签名有效"),
            _ => self.report.fail("seal", "封签签名无效"),
        }
        let mut changed = Vec::new();
        for f in SEALED_FILES {
            let actual = self.reader.read_all(f).ok().map(|b| crate::audit::sha256_hex(&b));
            if actual.as_ref() != seal.files.get(f) {
                changed.push(f);
            }
        }
        if changed.is_empty() {
            self.report.pass("seal", "清单与 bag-info 与封签时完全一致");
        } else {
            self.report.fail("seal", format!("封签后被改动：{}", changed.join("、")));
        }
    }

    fn captures(&mut self, files: &[String], signers: &Signers<'_>, receipts: &[Receipt]) {
        for f in files.iter().filter(|f| f.starts_with("data/captures/")) {
            let Some(signed) = self.json::<SignedCapture>(f) else {
                self.report.fail("capture", format!("{f} 格式错误"));
                continue;
            };
            let record = match signed.verify() {
                Ok(r) => r,
                Err(e) => {
                    self.report.fail("capture", format!("{f}：{e}"));
                    continue;
                }
            };
            let media = self.digests.iter().find(|(p, _)| {
                p.strip_prefix("data/media/").is_some_and(|n| n.split('.').next() == Some(record.sha256.as_str()))
            });
            match media {
                None => self.report.fail("capture", format!("{f}：包内没有照片 {}", record.sha256)),
                Some((p, d)) if d.sha256 != record.sha256 => {
                    self.report.fail("capture", format!("{p} 不是其采集记录所签的照片"))
                }
                Some(_) => match signers.check(
                    &record.device,
                    &record.device_public_key,
                    record.device_time_ms,
                    &record.inspector,
                ) {
                    Err(why) => self.report.fail("capture", format!("照片 {}…：{why}", &record.sha256[..12])),
                    Ok(who) => {
                        let held = self.received_by(&record.task, receipts, &format!("capture:{}", signed.hash()));
                        let photo = &record.sha256[..12];
                        // A camera time far from the capture is shown to whoever reads the report;
                        // it is a fact about the photo, not a break of the evidence chain.
                        let flag = record.exif_time_warning_zh().map(|w| format!("；注意：{w}")).unwrap_or_default();
                        match held {
                            Some(bound) if record.device_time_ms > bound => self.report.fail(
                                "capture",
                                format!(
                                    "照片 {photo}…：按设备时钟拍摄于 {}，却晚于服务器收到它的时间 {}（北京时间）",
                                    crate::beijing::date_time(record.device_time_ms),
                                    crate::beijing::date_time(bound)
                                ),
                            ),
                            Some(bound) => self.report.pass(
                                "capture",
                                format!(
                                    "照片 {photo}…：采集记录由 {who} 签署，服务器于 {} 前已收到（北京时间）{flag}",
                                    crate::beijing::date_time(bound)
                                ),
                            ),
                            None => self.report.pass("capture", format!("照片 {photo}…：采集记录由 {who} 签署{flag}")),
                        }
                    }
                },
            }
        }
    }

    fn documents(&mut self, files: &[String], signers: &Signers<'_>, receipts: &[Receipt]) {
        // Per document: its content and who signed it validly (inspectors; the party), then
        // whether it is complete, judged once every document's signatures are known.
        let mut read: Vec<(String, DocumentContent, BTreeSet<String>, bool)> = Vec::new();
        // Per document: its folder and the hashes of the signature statements it carries.
        let mut held: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        let mut drawn: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in files.iter().filter(|f| f.starts_with("data/documents/") && f.ends_with("/document.json")) {
            let dir = f.trim_end_matches("/document.json");
            let name = dir.rsplit('/').next().unwrap_or_default().to_string();
            let task = dir.trim_start_matches("data/documents/").split('/').next().unwrap_or_default().to_string();
            let actual = self.digests.get(f).map(|d| d.sha256.clone()).unwrap_or_default();
            if actual != name {
                self.report.fail("document", format!("{f} 被改动：内容的哈希不再是 {name}"));
                continue;
            }
            let Some(signatures) = self.json::<Vec<DocumentSignature>>(&format!("{dir}/signatures.json")) else {
                self.report.fail("document", format!("{dir}/signatures.json 缺失或格式错误"));
                continue;
            };
            let content = self.json::<DocumentContent>(f);
            let hashes = crate::seal::signature_hashes(signatures.iter().map(|s| s.canonical.as_str()));
            held.insert(name.clone(), (dir.to_string(), hashes));
            let (mut inspectors, mut party) = (BTreeSet::new(), false);
            let mut ok = 0;
            for s in &signatures {
                match s.verify(&name) {
                    Err(e) => self.report.fail("document", format!("文书 {}…：一个签名 {e}", &name[..12])),
                    Ok(statement) => {
                        if let Some(image) = statement.handwriting() {
                            drawn.entry(image.to_string()).or_default().insert(name.clone());
                        }
                        let counted = match &statement.signer {
                            SignatureRole::Inspector { inspector, .. } => content
                                .as_ref()
                                .is_some_and(|c| crate::document::completeness::is_named(c, inspector))
                                .then(|| inspector.clone()),
                            _ => None,
                        };
                        let is_party = content.as_ref().is_some_and(|c| {
                            crate::document::completeness::party_act_counts(c.kind, &statement.signer)
                        });
                        let named = statement.responsible_inspector();
                        match signers.check(
                            &statement.device,
                            &statement.device_public_key,
                            statement.device_time_ms,
                            named,
                        ) {
                            Ok(_) => match self.received_by(&task, receipts, &format!("signature:{}", s.canonical)) {
                                Some(bound) if statement.device_time_ms > bound => self.report.fail(
                                    "document",
                                    format!(
                                        "文书 {}…：{} 声称签署于 {}，却晚于服务器收到该签名的时间 {}（北京时间）",
                                        &name[..12],
                                        statement.device,
                                        crate::beijing::date_time(statement.device_time_ms),
                                        crate::beijing::date_time(bound)
                                    ),
                                ),
                                Some(bound) => {
                                    ok += 1;
                                    inspectors.extend(counted);
                                    party |= is_party;
                                    self.report.pass(
                                        "document",
                                        format!(
                                            "文书 {}…：{} 的签名，服务器于 {} 前已收到（北京时间）",
                                            &name[..12],
                                            statement.device,
                                            crate::beijing::date_time(bound)
                                        ),
                                    );
                                }
                                None => {
                                    ok += 1;
                                    inspectors.extend(counted);
                                    party |= is_party;
                                }
                            },
                            Err(why) => self
                                .report
                                .fail("document", format!("文书 {}…：{} 的签名：{why}", &name[..12], statement.device)),
                        }
                    }
                }
            }
            if ok == signatures.len() {
                self.report.pass("document", format!("文书 {}…：{ok} 个签名有效，签署人均经认证", &name[..12]));
            }
            match content {
                Some(content) => read.push((name, content, inspectors, party)),
                None => self.report.fail("document", format!("文书 {}…：内容格式错误", &name[..12])),
            }
        }
        for (image, documents) in drawn.iter().filter(|(_, d)| d.len() > 1) {
            self.report.fail(
                "document",
                format!(
                    "同一手写签名图像 {}… 出现在 {} 份文书上：一张手写签名只能签一份文书",
                    &image[..12.min(image.len())],
                    documents.len()
                ),
            );
        }
        // Which version replaced which is the record's rule (a later version of the number, or the
        // number the document kept when two devices numbered it offline); without the record in the
        // bag, a later version of the same number in the bag.
        let mut records = BTreeMap::new();
        for (name, content, inspectors, party) in &read {
            let record = records.entry(content.task.clone()).or_insert_with(|| self.record_of(&content.task));
            let by_record = record
                .as_ref()
                .and_then(|r| r.document_report(name, None).ok())
                .and_then(|r| r.superseded_by)
                .and_then(|newer| read.iter().find(|(n, _, _, _)| *n == newer));
            let newer = by_record.or_else(|| {
                read.iter().find(|(_, c, _, _)| {
                    c.task == content.task
                        && c.number == content.number
                        && c.kind == content.kind
                        && c.version > content.version
                })
            });
            let what =
                format!("文书 {}…（{} {} 第 {} 版）", &name[..12], content.title, content.number, content.version);
            let missing = crate::document::completeness::missing(content, inspectors, *party);
            if let Some((dir, hashes)) = held.get(name) {
                let record_sealed = record.as_ref().is_some_and(|r| r.seal_of(name).ok().flatten().is_some());
                self.agency_seal(dir, name, content, hashes, record_sealed, &what);
            }
            match (missing.is_empty(), newer) {
                (true, _) => self.report.pass("completeness", format!("{what}：签署完整")),
                (false, Some((_, n, _, _))) => self.report.pass(
                    "completeness",
                    format!("{what}：已被 {} 第 {} 版取代，本版未签署完整（以新版为准）", n.number, n.version),
                ),
                (false, None) => self.report.fail(
                    "completeness",
                    format!(
                        "{what}：未签署完整，缺{}",
                        missing.iter().map(|m| m.label_zh()).collect::<Vec<_>>().join("、")
                    ),
                ),
            }
        }
    }

    /// The agency's seal of one document (`seal.json` beside it): its certificate from the root,
    /// the SM2 signature, the document, department and number it names, and that every signature
    /// it confirms is in the bundle. A document without one is noted, not failed (signed offline
    /// and not yet synced); one the bag's record holds but the bundle lacks is a removed seal.
    fn agency_seal(
        &mut self,
        dir: &str,
        name: &str,
        content: &DocumentContent,
        signatures: &[String],
        record_sealed: bool,
        what: &str,
    ) {
        let path = format!("{dir}/seal.json");
        let Ok(bytes) = self.reader.read_all(&path) else {
            if record_sealed {
                self.report.fail("agency_seal", format!("{what}：记录中有机关电子印章，包中却缺少 {path}"));
            } else {
                self.report.pass("agency_seal", format!("{what}：尚未加盖机关电子印章（签署后尚未同步到服务器）"));
            }
            return;
        };
        let Ok(seal) = serde_json::from_slice::<crate::seal::AgencySeal>(&bytes) else {
            self.report.fail("agency_seal", format!("{what}：{path} 格式错误"));
            return;
        };
        let verified = match seal.verify(&self.root, name) {
            Ok(v) => v,
            Err(e) => {
                self.report.fail("agency_seal", format!("{what}：{e}"));
                return;
            }
        };
        match verified.covers(&content.issuer_id, &content.number, signatures) {
            Err(e) => self.report.fail("agency_seal", format!("{what}：{e}")),
            Ok(()) => self.report.pass(
                "agency_seal",
                format!(
                    "{what}：{} 电子印章有效（SM2，加盖于 {}，北京时间；印章证书由租户根密钥签发）",
                    verified.certificate.agency,
                    crate::beijing::date_time(verified.statement.sealed_at_ms)
                ),
            ),
        }
    }

    /// The server's receipts that verify, oldest first.
    fn receipts(&mut self) -> Vec<Receipt> {
        let Ok(bytes) = self.reader.read_all("data/receipts.json") else { return Vec::new() };
        let Ok(receipts) = serde_json::from_slice::<Vec<SignedStatement>>(&bytes) else {
            self.report.fail("receipt", "data/receipts.json 格式错误");
            return Vec::new();
        };
        let root_hex = hex::encode(self.root.to_bytes());
        let mut valid = Vec::new();
        for r in &receipts {
            match crate::sync::statements::verify_receipt(r, &root_hex) {
                Ok(r) => valid.push(r),
                Err(e) => self.report.fail("receipt", format!("一份服务器回执：{e}")),
            }
        }
        if valid.len() == receipts.len() {
            self.report.pass("receipt", format!("{} 份服务器回执经根密钥签名", valid.len()));
        }
        valid.sort_by_key(|r| r.received_at_ms);
        valid
    }

    /// The earliest receipt time by which the record of `task` held `signature` (an upper bound
    /// for when it was made, from the server's clock, not the device's).
    /// For each receipt of `task` (oldest first): its time and what the record held at its heads —
    /// `capture:<hash>` and `signature:<canonical statement>` — computed once per task.
    fn held_at_receipts(&mut self, task: &str, receipts: &[Receipt]) -> &[(i64, HashSet<String>)] {
        if !self.held.contains_key(task) {
            let mut out = Vec::new();
            if let Some(mut record) = self.record_of(task) {
                for r in receipts {
                    let Some(d) = r.records.iter().find(|d| d.id == task) else { continue };
                    let Some(heads) = crate::sync::wire::heads_from_hex(&d.heads) else { continue };
                    let Some(then) = record.at(&heads) else { continue };
                    let mut held = HashSet::new();
                    for e in then.evidence().unwrap_or_default() {
                        held.insert(format!("capture:{}", e.capture.hash()));
                    }
                    for doc in then.documents().unwrap_or_default() {
                        for (_, sig) in then.signatures(&doc.sha256).unwrap_or_default() {
                            held.insert(format!("signature:{}", sig.canonical));
                        }
                    }
                    out.push((r.received_at_ms, held));
                }
            }
            self.held.insert(task.to_string(), out);
        }
        self.held.get(task).map(Vec::as_slice).unwrap_or_default()
    }

    /// The earliest receipt time by which the record of `task` held `key` (an upper bound for when
    /// it was made, from the server's clock, not the device's).
    fn received_by(&mut self, task: &str, receipts: &[Receipt], key: &str) -> Option<i64> {
        self.held_at_receipts(task, receipts).iter().find(|(_, held)| held.contains(key)).map(|(t, _)| *t)
    }

    /// The record of a task from the bag, if it is there.
    fn record_of(&mut self, task: &str) -> Option<crate::record::InspectionRecord> {
        self.reader
            .read_all(&format!("data/records/{task}.automerge"))
            .ok()
            .and_then(|b| crate::record::InspectionRecord::load(&b, []).ok())
    }

    fn audit(&mut self, files: &[String], certificates: &BTreeMap<String, Vec<DeviceCertificate>>) {
        let proofs: Option<AuditProofs> = self.json("data/audit/proofs.json");
        let checkpoint = proofs
            .as_ref()
            .map(|p| p.checkpoint.clone())
            .or_else(|| self.json::<SignedStatement>("data/audit/checkpoint.json"));
        let root_hex = hex::encode(self.root.to_bytes());
        let checkpoint = match checkpoint.map(|c| verify_checkpoint(&c, &root_hex)) {
            None => None,
            Some(Ok(c)) => {
                self.report.pass("audit", format!("服务器审计检查点（{} 条）经根密钥签名", c.tree_size));
                Some(c)
            }
            Some(Err(e)) => {
                self.report.fail("audit", format!("服务器审计检查点：{e}"));
                None
            }
        };
        for f in files.iter().filter(|f| f.starts_with("data/audit/") && f.ends_with(".jsonl")) {
            let device = f.trim_start_matches("data/audit/").trim_end_matches(".jsonl").to_string();
            let Some(text) = self.text(f) else { continue };
            let entries: Option<Vec<SignedAuditEntry>> =
                text.lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).ok()).collect();
            let Some(entries) = entries else {
                self.report.fail("audit", format!("{f} 格式错误"));
                continue;
            };
            // Every certificate a device held names its one key and its one inspector.
            let Some(certificate) = certificates.get(&device).and_then(|held| held.last()) else {
                self.report.fail("audit", format!("{f}：包内没有设备 {device} 的证书"));
                continue;
            };
            if let Some(other) =
                certificates.get(&device).into_iter().flatten().find(|c| {
                    c.device_public_key != certificate.device_public_key || c.inspector != certificate.inspector
                })
            {
                self.report.fail(
                    "audit",
                    format!(
                        "{f}：设备 {device} 的证书 {} 与 {} 所载密钥或执法人员不同",
                        other.serial, certificate.serial
                    ),
                );
                continue;
            }
            let Ok(key) = SignedCertificate::device_key(certificate) else {
                self.report.fail("audit", format!("{f}：包内没有设备 {device} 的证书"));
                continue;
            };
            // An entry names who acted; the device's certificate must name the same inspector.
            let impostor = entries
                .iter()
                .filter_map(|e| e.entry())
                .find(|e| e.inspector.as_deref().is_some_and(|i| i != certificate.inspector));
            if let Some(e) = impostor {
                self.report.fail(
                    "audit",
                    format!(
                        "{f}：第 {} 条记名为 {}，但设备 {device} 的证书属于 {}",
                        e.seq,
                        e.inspector.as_deref().unwrap_or_default(),
                        certificate.inspector
                    ),
                );
            }
            let head = entries.iter().filter_map(|e| e.entry()).map(|e| e.seq).max().unwrap_or(0);
            let report = verify_chain(&entries, &key, head);
            if report.is_intact() {
                self.report.pass("audit", format!("{f}：{} 条，哈希链完整，每条签名有效", entries.len()));
                // A new segment is explained, never passed over: who started it, why, and which
                // entries only the server holds (their inclusion proofs are the server's).
                for segment in &report.segments {
                    self.report.pass(
                        "audit",
                        format!(
                            "{f}: 第 {} 条起为新链段（{}），设备签署的说明：{}",
                            segment.seq,
                            segment.held_zh(),
                            segment.explanation
                        ),
                    );
                }
            } else {
                for p in report.problems {
                    self.report.fail("audit", format!("{f}：{p}"));
                }
            }
            if let (Some(proofs), Some(cp)) = (&proofs, &checkpoint) {
                let root: Option<merkle::Hash> = hex::decode(&cp.root_hash).ok().and_then(|b| b.try_into().ok());
                let mut proven = 0;
                for p in &proofs.proofs {
                    let entry = entries.iter().find(|e| e.entry().is_some_and(|x| x.seq == p.seq));
                    let path: Option<Vec<merkle::Hash>> =
                        p.path.iter().map(|h| hex::decode(h).ok().and_then(|b| b.try_into().ok())).collect();
                    let ok = match (entry, path, root) {
                        (Some(e), Some(path), Some(root)) => merkle::verify_inclusion(
                            &merkle::leaf_hash(e.canonical.as_bytes()),
                            p.leaf_index,
                            cp.tree_size,
                            &path,
                            &root,
                        ),
                        _ => false,
                    };
                    if ok {
                        proven += 1;
                    } else {
                        self.report.fail("audit", format!("{f}：第 {} 条不在服务器签名的审计树中", p.seq));
                    }
                }
                if proven == proofs.proofs.len() {
                    self.report.pass("audit", format!("{f}：{proven} 条已证明收录于服务器的审计树"));
                }
            }
        }
    }
}

/// Binds signing keys to certified devices at a time (the certificates were checked against the
/// root as they were read).
struct Signers<'a> {
    certificates: &'a BTreeMap<String, Vec<DeviceCertificate>>,
    revocations: Option<&'a RevocationList>,
}

impl Signers<'_> {
    /// Who `device` with `key` was at `at_ms`, if its certificate held then and names `named`,
    /// the inspector the signed statement makes responsible.
    fn check(&self, device: &str, key: &str, at_ms: i64, named: &str) -> Result<String, String> {
        let held = self.certificates.get(device).filter(|h| !h.is_empty());
        let held = held.ok_or_else(|| format!("包内没有设备 {device} 的证书"))?;
        // The certificate valid at the signing time decides (a device that enrolled again keeps
        // its earlier ones); with none valid then, the newest explains why.
        let mut why = String::new();
        for c in held.iter().rev() {
            match self.check_one(c, device, key, at_ms, named) {
                Ok(who) => return Ok(who),
                Err(e) if why.is_empty() => why = e,
                Err(_) => {}
            }
        }
        Err(why)
    }

    /// [`Signers::check`] against one certificate.
    fn check_one(
        &self,
        c: &DeviceCertificate,
        device: &str,
        key: &str,
        at_ms: i64,
        named: &str,
    ) -> Result<String, String> {
        if c.device_public_key != key {
            return Err(format!("该密钥不是设备 {device} 经认证的密钥"));
        }
        if c.inspector != named {
            return Err(format!("声明记名为 {named}，但设备 {device} 的签名密钥经认证属于 {}", c.inspector));
        }
        if at_ms < c.not_before_ms || at_ms > c.not_after_ms {
            return Err(format!("签署于 {}（北京时间），不在证书有效期内", crate::beijing::date_time(at_ms)));
        }
        if let Some(r) =
            // A revocation ends every certificate of the device, an earlier enrolment's included.
            self.revocations.and_then(|l| {
                l.revoked.iter().find(|r| (r.serial == c.serial || r.device == c.device) && r.revoked_at_ms <= at_ms)
            })
        {
            return Err(format!(
                "由已吊销的证书签署（序列号 {}，{} 吊销（北京时间）：{}）",
                r.serial,
                crate::beijing::date_time(r.revoked_at_ms),
                r.reason
            ));
        }
        Ok(format!("{} ({})", c.inspector, device))
    }
}
