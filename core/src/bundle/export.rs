//! Exporting tasks as a sealed BagIt bag.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use chrono::TimeZone;
use serde::Serialize;

use super::bag::{BagWriter, Digests, FolderWriter, ZipBagWriter, manifest_text};
use super::{BundleError, BundleProgress, SEAL_SCHEMA, SEALED_FILES, Seal};
use crate::audit::SignedAuditEntry;
use crate::canonical::to_canonical_json;
use crate::certificate::SignedCertificate;
use crate::domain::TaskCode;
use crate::store::{Store, StoreError};
use crate::sync::CancelToken;
use crate::sync::wire::AuditProofs;

/// A folder or a single zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The bag as a folder.
    Folder,
    /// The bag as one zip file holding the bag folder.
    Zip,
}

impl Format {
    /// A destination ending in `.zip` (any case) is a zip; anything else a folder.
    pub fn for_destination(dest: &Path) -> Format {
        if dest.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) { Format::Zip } else { Format::Folder }
    }
}

/// The agency a bundle names when none is given: the department of the inspector operating the
/// device (empty when the directory does not know them).
pub fn default_agency(store: &mut Store) -> Result<String, StoreError> {
    let directory = store.directory()?;
    Ok(store
        .inspector()
        .and_then(|i| directory.inspector(i))
        .and_then(|i| directory.department(&i.department))
        .map(|d| d.name.clone())
        .unwrap_or_default())
}

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Folder or zip.
    pub format: Format,
    /// The agency named in `bag-info.txt` (Source-Organization).
    pub agency: String,
    /// Inclusion proofs of the audit entries fetched from the server, when the device synced them.
    pub proofs: Option<AuditProofs>,
}

/// What was exported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Payload files.
    pub files: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Photos.
    pub photos: u64,
    /// Document versions.
    pub documents: u64,
    /// Audit entries.
    pub audit_entries: u64,
    /// Audit entries with an inclusion proof.
    pub proven_entries: u64,
}

/// One line of the evidence list.
struct ListItem {
    kind: String,
    format: String,
    path: String,
    digests: Digests,
    time_ms: Option<i64>,
    place: String,
    operator: String,
    device: String,
    task: String,
    /// Where the data came from and on what (来源/载体).
    source: String,
    /// What it is to prove (证明对象).
    purpose: String,
}

/// The payload being written: manifests and the evidence list grow as files go in.
struct Payload<'a> {
    writer: Box<dyn BagWriter + 'a>,
    sha256: Vec<(String, String)>,
    sha512: Vec<(String, String)>,
    items: Vec<ListItem>,
    /// Payload files written so far: a file named by its content (a photo that is evidence
    /// twice, e.g. one signature image on two document versions) goes in once.
    written: std::collections::HashMap<String, Digests>,
    progress: BundleProgress,
    report: &'a dyn Fn(&BundleProgress),
    cancel: &'a CancelToken,
}

impl Payload<'_> {
    fn add(&mut self, path: &str, reader: &mut dyn Read) -> Result<Digests, BundleError> {
        if self.cancel.is_cancelled() {
            return Err(BundleError::Cancelled);
        }
        if let Some(digests) = self.written.get(path) {
            return Ok(digests.clone());
        }
        let digests = self.writer.write(path, reader)?;
        self.written.insert(path.to_string(), digests.clone());
        if path.starts_with("data/") {
            self.sha256.push((digests.sha256.clone(), path.to_string()));
            self.sha512.push((digests.sha512.clone(), path.to_string()));
        }
        self.progress.files += 1;
        self.progress.bytes += digests.size;
        (self.report)(&self.progress);
        Ok(digests)
    }

    fn add_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<Digests, BundleError> {
        self.add(path, &mut &bytes[..])
    }
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, BundleError> {
    serde_json::to_vec_pretty(value).map_err(|e| BundleError::Canonical(e.into()))
}

/// Exports `tasks` from `store` as a sealed bag at `dest` (a new folder, or a new `.zip`). An
/// export that fails or is cancelled leaves nothing at `dest`.
pub fn export(
    store: &mut Store,
    tasks: &[TaskCode],
    dest: &Path,
    options: &ExportOptions,
    progress: &dyn Fn(&BundleProgress),
    cancel: &CancelToken,
) -> Result<ExportSummary, BundleError> {
    if dest.exists() {
        return Err(BundleError::Exists(dest.display().to_string()));
    }
    let result = export_new(store, tasks, dest, options, progress, cancel);
    match &result {
        Ok(s) => tracing::info!(
            target: "onevisit::bundle",
            tasks = tasks.len(),
            files = s.files,
            bytes = s.bytes,
            photos = s.photos,
            audit_entries = s.audit_entries,
            "evidence bundle exported"
        ),
        Err(e) => {
            tracing::warn!(target: "onevisit::bundle", tasks = tasks.len(), error = %e, "evidence bundle export failed");
            let _ = if dest.is_dir() { std::fs::remove_dir_all(dest) } else { std::fs::remove_file(dest) };
        }
    }
    result
}

/// An officer as the evidence list names them: name and certificate number (the id when the
/// directory does not know them).
fn officer_line(directory: &crate::domain::Directory, id: &str) -> String {
    let found = id.parse().ok().and_then(|i| directory.inspector(&i));
    match found {
        Some(i) => format!("{}（执法证号 {}）", i.name, i.certificate_number),
        None => id.to_string(),
    }
}

/// The 电子数据提取笔录 of the export: when, where, by whom (the exporting officer and the second
/// officer of their department on each task), from whom (the party), how, with what, what (the
/// list's hash), and the lines each signs on paper.
fn extraction_record(
    store: &mut Store,
    directory: &crate::domain::Directory,
    tasks: &[TaskCode],
    method: &str,
    p: &Payload<'_>,
    list: &Digests,
) -> Result<String, BundleError> {
    use std::fmt::Write;
    let me = store.inspector().cloned();
    let my_department = me.as_ref().and_then(|i| directory.inspector(i)).map(|i| i.department.clone());
    let device = store.device_key().device_id();
    let mut o = String::new();
    let _ = writeln!(o, "电子数据提取笔录");
    let _ = writeln!(o, "（依据《市场监督管理电子数据取证暂行规定》等规定制作，随证据包一并封存）");
    let _ = writeln!(o);
    let _ = writeln!(o, "提取时间：{}（北京时间）", crate::beijing::date_time(crate::store::now_ms()));
    let _ = writeln!(o, "提取地点：执法终端 {device}");
    let _ = writeln!(
        o,
        "提取人：{}",
        me.as_ref().map(|i| officer_line(directory, i.as_str())).unwrap_or_else(|| "（本机未设执法人员）".into())
    );
    for code in tasks {
        let record = store.record(code)?;
        let task = record.task().clone();
        let party = record.party()?;
        let enterprise = directory.enterprise(&task.enterprise);
        let second: Vec<String> = task
            .inspectors
            .iter()
            .filter(|i| Some(*i) != me.as_ref())
            .filter(|i| directory.inspector(i).map(|x| Some(&x.department) == my_department.as_ref()).unwrap_or(false))
            .map(|i| officer_line(directory, i.as_str()))
            .collect();
        let _ = writeln!(o);
        let _ = writeln!(o, "任务（检查码）：{code}");
        let _ = writeln!(
            o,
            "电子数据持有人：{}（统一社会信用代码 {}）",
            enterprise.map(|e| e.name.as_str()).unwrap_or_default(),
            task.enterprise
        );
        if let Some(party) = party {
            let _ = writeln!(o, "在场人员（见证）：{}（{}）", party.name, party.role);
        }
        let _ = writeln!(
            o,
            "同时在场的执法人员：{}",
            if second.is_empty() {
                "（本部门无其他执法人员参加该任务）".to_string()
            } else {
                second.join("、")
            }
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "提取方法：{method}。");
    let _ = writeln!(o, "使用工具：OneVisit {}，于执法终端 {device} 上运行。", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        o,
        "提取的电子数据：共 {} 个文件，{} 字节，逐项列于电子数据清单 data/evidence-list.csv（SHA-256 {}）。",
        p.sha256.len(),
        p.progress.bytes,
        list.sha256
    );
    let _ = writeln!(
        o,
        "完整性校验：任何人可用执法平台公布的根公钥离线核验（onevisit verify 证据包 --root 根公钥），或用 sha256sum -c manifest-sha256.txt 核对每个文件。"
    );
    let _ = writeln!(o);
    let _ = writeln!(o, "提取人签名：__________    __________        日期：__________");
    let _ = writeln!(o, "电子数据持有人（或见证人）签名：__________        日期：__________");
    Ok(o)
}

fn export_new(
    store: &mut Store,
    tasks: &[TaskCode],
    dest: &Path,
    options: &ExportOptions,
    progress: &dyn Fn(&BundleProgress),
    cancel: &CancelToken,
) -> Result<ExportSummary, BundleError> {
    let account = store.sync_account()?.ok_or(BundleError::NotEnrolled)?;
    let root = crate::identity::verifying_key_from_hex(&account.root_public_key).ok_or(BundleError::NotEnrolled)?;
    let name = dest.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "bundle".into());
    let writer: Box<dyn BagWriter> = match options.format {
        Format::Folder => Box::new(FolderWriter::create(dest)?),
        Format::Zip => Box::new(ZipBagWriter::create(dest, &name)?),
    };
    let mut p = Payload {
        writer,
        sha256: Vec::new(),
        sha512: Vec::new(),
        items: Vec::new(),
        written: Default::default(),
        progress: BundleProgress::default(),
        report: progress,
        cancel,
    };
    let mut summary = ExportSummary::default();
    let blobs = store.blobs()?;
    let directory = store.directory()?;
    // Every certificate of every writer, by device and serial: this device's whole history (a
    // signature made before it enrolled again is checked against the certificate of its time).
    let mut certificates: BTreeMap<String, BTreeMap<String, SignedCertificate>> = BTreeMap::new();
    let device = store.device_key().device_id();
    for c in store.held_certificates()?.into_iter().chain([account.certificate.clone()]) {
        add_certificate(&mut certificates, &device, c);
    }

    for code in tasks {
        let task = code.to_string();
        let receipts = store.verified_receipts(code)?;
        let record = store.record(code)?;
        for (d, c) in record.certificates()? {
            add_certificate(&mut certificates, &d, c);
        }
        let snapshot = record.snapshot();
        let evidence = record.evidence()?;
        let documents = record.documents()?;
        let mut signatures = Vec::new();
        let mut states = Vec::new();
        for d in &documents {
            signatures.push(record.signatures(&d.sha256)?);
            let report = record.document_report(&d.sha256, None)?;
            states.push(if report.signed {
                "已签署完整".to_string()
            } else if report.superseded_by.is_some() {
                "已被新版本取代，未签署完整".to_string()
            } else {
                format!("未签署完整，缺{}", report.missing.iter().map(|m| m.label_zh()).collect::<Vec<_>>().join("、"))
            });
        }
        let digests = p.add_bytes(&format!("data/records/{task}.automerge"), &snapshot)?;
        let premises = directory.enterprise(&record.task().enterprise).map(|e| e.address.clone()).unwrap_or_default();
        let officer = |id: &str| officer_line(&directory, id);
        p.items.push(ListItem {
            source: "执法终端检查记录（各执法人员设备离线记录后经同步合并，含每一步的作者与时间）".into(),
            purpose: "证明现场检查的过程、结果与修改历史".into(),
            kind: "检查记录（含全部修改历史）".into(),
            format: "Automerge".into(),
            path: format!("data/records/{task}.automerge"),
            digests,
            time_ms: None,
            place: premises.clone(),
            operator: String::new(),
            device: String::new(),
            task: task.clone(),
        });
        for e in evidence {
            let capture = e.capture.verify().ok();
            let ext = if e.mime == "image/png" { "png" } else { "jpg" };
            let path = format!("data/media/{}.{ext}", e.sha256);
            let file = blobs.path_of(&e.sha256);
            let mut f = std::fs::File::open(&file).map_err(|_| BundleError::MissingOriginal(e.sha256.clone()))?;
            let digests = p.add(&path, &mut f)?;
            let capture_path = format!("data/captures/{}.json", e.capture.hash());
            p.add_bytes(&capture_path, &json(&e.capture)?)?;
            summary.photos += 1;
            let purpose = match &e.target {
                crate::evidence::CaptureTarget::PartySignature(_) => "证明当事人（或见证人）在该文书上签名".to_string(),
                crate::evidence::CaptureTarget::CheckPoint(point) => format!("证明检查项 {point} 的现场情况"),
                t => format!("证明{t}的现场情况"),
            };
            let source = format!(
                "执法终端 {} 拍摄或采集的原始文件（未经任何修改，采集记录由该设备签名）",
                capture.as_ref().map(|c| c.device.as_str()).unwrap_or("（未知）")
            );
            let kind = match &e.target {
                // A drawing signs one document: the list names which (number, version, hash).
                crate::evidence::CaptureTarget::PartySignature(doc) => {
                    let signed = documents
                        .iter()
                        .find(|d| &d.sha256 == doc)
                        .map(|d| format!("{} {} 第 {} 版", d.kind.title_zh(), d.number, d.version))
                        .unwrap_or_default();
                    format!("手写签名（当事人或见证人），签于文书 {signed}（{}…）", &doc[..12.min(doc.len())])
                }
                t => format!("现场照片（{t}）"),
            };
            p.items.push(ListItem {
                source,
                purpose,
                kind,
                format: e.mime.clone(),
                path,
                digests,
                time_ms: capture.as_ref().map(|c| c.device_time_ms),
                place: capture
                    .as_ref()
                    .and_then(|c| c.position.as_ref())
                    .map(|pos| {
                        let (lat, lon) = (pos.latitude_e7 as f64 / 1e7, pos.longitude_e7 as f64 / 1e7);
                        let source = match pos.source {
                            crate::evidence::capture::PositionSource::Device => "设备定位",
                            crate::evidence::capture::PositionSource::Exif => "照片EXIF",
                        };
                        format!("{lat:.6}, {lon:.6}（{}，{source}）", pos.datum)
                    })
                    .unwrap_or_default(),
                operator: officer(e.stamp.by.as_str()),
                device: capture.as_ref().map(|c| c.device.clone()).unwrap_or_default(),
                task: task.clone(),
            });
        }
        for ((d, sigs), state) in documents.iter().zip(signatures).zip(states) {
            let dir = format!("data/documents/{task}/{}", d.sha256);
            let digests = p.add_bytes(&format!("{dir}/document.json"), d.canonical.as_bytes())?;
            let list: Vec<_> = sigs.into_iter().map(|(_, s)| s).collect();
            p.add_bytes(&format!("{dir}/signatures.json"), &json(&list)?)?;
            if let Some(seal) = record.seal_of(&d.sha256)? {
                p.add_bytes(&format!("{dir}/seal.json"), &json(&seal)?)?;
            }
            let statements: Vec<_> = list.iter().filter_map(|s| s.verify(&d.sha256).ok()).collect();
            if let Ok(content) = d.content() {
                let received = crate::record::documents::received_times(record, &receipts, &d.sha256)?;
                let seal = record.seal_check(&d.sha256, &root)?;
                let mut text = crate::document::render_page(&content, &statements, &received);
                text.push_str(&crate::document::render::seal_line(&seal));
                text.push('\n');
                p.add_bytes(&format!("{dir}/document.txt"), text.as_bytes())?;
                // The printout, with the handwriting the bundle carries (checked against its hash).
                let mut images = crate::document::pdf::Handwriting::new();
                for sha in statements.iter().filter_map(|s| s.handwriting()) {
                    if let Ok(bytes) = std::fs::read(blobs.path_of(sha))
                        && crate::audit::sha256_hex(&bytes) == sha
                    {
                        images.insert(sha.to_string(), bytes);
                    }
                }
                let pdf = crate::document::render_pdf(&content, &d.sha256, &statements, &received, &images, &seal)?;
                p.add_bytes(&format!("{dir}/document.pdf"), &pdf)?;
            }
            let mut signing_devices: Vec<&str> = statements.iter().map(|s| s.device.as_str()).collect();
            signing_devices.sort_unstable();
            signing_devices.dedup();
            summary.documents += 1;
            p.items.push(ListItem {
                kind: format!(
                    "电子文书：{} {} 第 {} 版（{} 个签名，{state}）",
                    d.kind.title_zh(),
                    d.number,
                    d.version,
                    list.len()
                ),
                format: "JSON（RFC 8785）".into(),
                path: format!("{dir}/document.json"),
                digests,
                time_ms: Some(d.stamp.at_ms),
                place: premises.clone(),
                operator: officer(d.stamp.by.as_str()),
                device: signing_devices.join("、"),
                task: task.clone(),
                source: "执法终端依检查记录生成的电子文书（签名所覆盖的规范化字节），签名设备见“设备”栏".into(),
                purpose: match d.kind {
                    crate::document::DocumentKind::OnSiteRecord => "证明现场检查情况及执法人员、当事人的签署",
                    crate::document::DocumentKind::RectificationOrder => "证明已责令当事人改正及其期限",
                    crate::document::DocumentKind::AddressConfirmation => "证明当事人确认的送达地址及电子送达方式",
                    crate::document::DocumentKind::ServiceReceipt => "证明文书已送达当事人（签收或留置送达）",
                }
                .into(),
            });
        }
    }

    // The exporting device's whole audit chain (a chain is checked from its start), with the
    // server's checkpoint and inclusion proofs where the device synced.
    let entries: Vec<SignedAuditEntry> = store.audit_entries_after(0, usize::MAX >> 1)?;
    summary.audit_entries = entries.len() as u64;
    let mut lines = Vec::new();
    for e in &entries {
        lines.extend(serde_json::to_vec(e).map_err(|e| BundleError::Canonical(e.into()))?);
        lines.push(b'\n');
    }
    let audit_path = format!("data/audit/{device}.jsonl");
    let digests = p.add_bytes(&audit_path, &lines)?;
    p.items.push(ListItem {
        kind: format!("审计日志（{} 条，哈希链，逐条签名）", entries.len()),
        format: "JSON Lines".into(),
        path: audit_path,
        digests,
        time_ms: entries.last().and_then(|e| e.entry()).map(|e| e.device_time_ms),
        place: String::new(),
        operator: store.inspector().map(|i| officer_line(&directory, i.as_str())).unwrap_or_default(),
        device: device.clone(),
        task: String::new(),
        source: "导出设备的审计日志（逐条由设备签名，经服务器检查点确认）".into(),
        purpose: "证明各项操作的执行人、时间与顺序未被改动".into(),
    });
    if let Some(proofs) = &options.proofs {
        summary.proven_entries = proofs.proofs.len() as u64;
        p.add_bytes("data/audit/proofs.json", &json(proofs)?)?;
    } else if let Some(checkpoint) = store.audit_checkpoint()? {
        p.add_bytes("data/audit/checkpoint.json", &json(&checkpoint)?)?;
    }
    // The server's receipts for these tasks: upper bounds for the times of what they covered.
    let receipts: Vec<_> =
        store.receipts()?.into_iter().filter(|r| tasks.iter().any(|t| r.canonical.contains(t.as_str()))).collect();
    if !receipts.is_empty() {
        p.add_bytes("data/receipts.json", &json(&receipts)?)?;
    }
    for (d, held) in &certificates {
        // The newest as <device>.json (where readers of older bundles look), earlier ones beside it.
        let mut held: Vec<(i64, &String, &SignedCertificate)> =
            held.iter().map(|(serial, c)| (not_before(c), serial, c)).collect();
        held.sort_by_key(|(at, serial, _)| (*at, *serial));
        let newest = held.len().saturating_sub(1);
        for (i, (_, serial, c)) in held.into_iter().enumerate() {
            let name = if i == newest {
                format!("data/certificates/{d}.json")
            } else {
                format!("data/certificates/{d}.{serial}.json")
            };
            p.add_bytes(&name, &json(c)?)?;
        }
    }
    p.add_bytes("data/revocations.json", &json(&account.revocations)?)?;

    // The 电子数据清单.
    let mut csv = String::from(
        "\u{feff}序号,类型,格式,文件,SHA-256,大小（字节）,采集/形成时间（北京时间）,地点,操作人（姓名、执法证号）,设备,任务编号,来源/载体,提取方法,证明对象\n",
    );
    let method = "从执法终端导出为 OneVisit 证据包（BagIt 1.0），原始文件逐字节复制，附 SHA-256/SHA-512 清单与设备封签";
    for (i, item) in p.items.iter().enumerate() {
        let cells = [
            (i + 1).to_string(),
            item.kind.clone(),
            item.format.clone(),
            item.path.clone(),
            item.digests.sha256.clone(),
            item.digests.size.to_string(),
            item.time_ms.map(crate::beijing::date_time).unwrap_or_default(),
            item.place.clone(),
            item.operator.clone(),
            item.device.clone(),
            item.task.clone(),
            item.source.clone(),
            method.to_string(),
            item.purpose.clone(),
        ];
        let row: Vec<String> = cells.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    let list_digests = p.add_bytes("data/evidence-list.csv", csv.as_bytes())?;
    let record = extraction_record(store, &directory, tasks, method, &p, &list_digests)?;
    p.add_bytes("data/extraction-record.txt", record.as_bytes())?;
    summary.files = p.sha256.len() as u64;
    summary.bytes = p.progress.bytes;

    // Tag files: manifests, bag-info, the seal, the tag manifests.
    let now = crate::store::now_ms();
    let codes: Vec<String> = tasks.iter().map(|t| t.to_string()).collect();
    let mut tags: Vec<(String, Vec<u8>)> = Vec::new();
    tags.push(("bagit.txt".into(), b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_vec()));
    let info = format!(
        "Source-Organization: {}\nBagging-Date: {}\nExternal-Identifier: {}\nPayload-Oxum: {}.{}\nBag-Software-Agent: onevisit {}\nOneVisit-Task-Code: {}\nOneVisit-Export-Time: {}\nOneVisit-Exporting-Device: {}\nOneVisit-Exporting-Inspector: {}\n",
        options.agency,
        crate::beijing::date_time(now).get(..10).unwrap_or_default(),
        codes.join(" "),
        summary.bytes,
        summary.files,
        env!("CARGO_PKG_VERSION"),
        codes.join(" "),
        chrono::Utc.timestamp_millis_opt(now).single().map(|t| t.to_rfc3339()).unwrap_or_default(),
        device,
        store.inspector().map(|i| i.to_string()).unwrap_or_default(),
    );
    tags.push(("bag-info.txt".into(), info.into_bytes()));
    tags.push(("manifest-sha256.txt".into(), manifest_text(&mut p.sha256).into_bytes()));
    tags.push(("manifest-sha512.txt".into(), manifest_text(&mut p.sha512).into_bytes()));
    tags.push(("README.txt".into(), README.as_bytes().to_vec()));
    let mut files = BTreeMap::new();
    for (path, bytes) in &tags {
        if SEALED_FILES.contains(&path.as_str()) {
            files.insert(path.clone(), crate::audit::sha256_hex(bytes));
        }
    }
    let seal = Seal {
        schema: SEAL_SCHEMA.into(),
        tasks: codes,
        files,
        device: device.clone(),
        device_public_key: hex::encode(store.device_key().public_bytes()),
        sealed_at_ms: now,
    };
    let sealed = to_canonical_json(&seal)?;
    let signature = store.device_key().sign(&sealed).to_bytes().to_vec();
    tags.push(("seal/seal.json".into(), sealed));
    tags.push(("seal/seal.sig".into(), signature));
    tags.push(("seal/device-public-key.pem".into(), public_key_pem(&store.device_key().public_bytes()).into_bytes()));
    tags.push(("seal/device-certificate.json".into(), json(&account.certificate)?));
    let (mut t256, mut t512) = (Vec::new(), Vec::new());
    for (path, bytes) in &tags {
        let d = p.add_bytes(path, bytes)?;
        t256.push((d.sha256, path.clone()));
        t512.push((d.sha512, path.clone()));
    }
    p.add_bytes("tagmanifest-sha256.txt", manifest_text(&mut t256).as_bytes())?;
    p.add_bytes("tagmanifest-sha512.txt", manifest_text(&mut t512).as_bytes())?;
    p.writer.finish()?;
    Ok(summary)
}

/// An Ed25519 public key as a PEM SubjectPublicKeyInfo (RFC 8410), for openssl.
pub fn public_key_pem(key: &[u8; 32]) -> String {
    use base64::Engine;
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend_from_slice(key);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

/// The README inside every bag.
const README: &str = "\
OneVisit 电子证据包 / evidence bundle (BagIt 1.0, RFC 8493)

如何核验（无需联网，只需本地工具）/ How to check it offline:

1. 完整性 / integrity — every payload file against both manifests:
     sha256sum -c manifest-sha256.txt
     sha512sum -c manifest-sha512.txt
   or with bagit-python (pip install bagit):  bagit.py --validate .

2. 封签 / seal — the exporting device signed seal/seal.json, which lists the SHA-256 of bagit.txt,
   bag-info.txt and both manifests. Check the signature, then the listed hashes:
     openssl pkeyutl -verify -pubin -inkey seal/device-public-key.pem -rawin \\
         -in seal/seal.json -sigfile seal/seal.sig
     sha256sum bagit.txt bag-info.txt manifest-sha256.txt manifest-sha512.txt
   The key is certified by seal/device-certificate.json, signed by the tenant's root key.
   Manifests recomputed after a change no longer match the seal.

3. 全部核验 / everything — signatures of capture records and documents, certificates against the
   revocation list at signing time, the audit hash chain and its inclusion proofs:
     onevisit verify <this folder or zip> --root <tenant root public key, hex>

data/media/      evidence originals, named by their SHA-256
data/captures/   signed capture records (who, when, where, which device)
data/documents/  legal documents: document.json (the signed bytes), signatures.json, document.txt
                 and document.pdf (the printout: numbered pages, handwriting, the hash as a QR code);
                 seal.json, the agency's electronic seal (电子印章) once the server sealed it:
                 seal.canonical signed with SM2/SM3 (signer id 1234567812345678) under
                 seal.public_key (x‖y hex), that key certified for the department by
                 certificate (Ed25519, the tenant root); any SM2 tool (gmssl) checks it
data/records/    the inspection records with their whole history (Automerge)
data/audit/      the exporting device's signed, hash-chained audit log; server checkpoint and proofs
data/certificates/, data/revocations.json   device certificates and the revocation list
data/evidence-list.csv   电子数据清单
data/extraction-record.txt  电子数据提取笔录（提取人、持有人在纸面签名）
";

/// Adds one certificate of `device` under its serial (unparsable ones under their signature, so
/// that the verifier reports them rather than the export dropping them).
fn add_certificate(
    into: &mut BTreeMap<String, BTreeMap<String, SignedCertificate>>,
    device: &str,
    c: SignedCertificate,
) {
    let serial = serde_json::from_str::<crate::certificate::DeviceCertificate>(&c.canonical)
        .map(|d| d.serial)
        .unwrap_or_else(|_| c.signature.chars().take(16).collect());
    into.entry(device.to_string()).or_default().entry(serial).or_insert(c);
}

/// When a certificate starts to hold (0 when it cannot be read).
fn not_before(c: &SignedCertificate) -> i64 {
    serde_json::from_str::<crate::certificate::DeviceCertificate>(&c.canonical).map(|d| d.not_before_ms).unwrap_or(0)
}
