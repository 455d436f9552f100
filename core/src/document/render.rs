//! The content of a legal document, built from the record, and its zh-CN rendering.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{DOCUMENT_SCHEMA, DocumentKind, SignatureRole, SignedStatement};

/// A person named on a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonBlock {
    /// Their inspector id: whose signature counts for this line (empty in documents rendered
    /// before signatures were tied to the officers a document names).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub inspector: String,
    /// Their department's id (empty in older documents).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub department_id: String,
    /// Name.
    pub name: String,
    /// Enforcement certificate number.
    pub certificate_number: String,
    /// Department (short name).
    pub department: String,
}

/// The inspected party.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyBlock {
    /// Registered name.
    pub name: String,
    /// Unified social credit code.
    pub uscc: String,
    /// Address.
    pub address: String,
    /// The representative present, if recorded.
    pub representative: Option<String>,
    /// Their role.
    pub representative_role: Option<String>,
    /// Their phone.
    pub phone: Option<String>,
    /// The representative's identity document number, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative_id: Option<String>,
    /// The enterprise's legal representative (法定代表人), as registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<String>,
    /// Its licences establishing its standing (主体资格证照).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<String>,
}

/// Where the inspection took place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceBlock {
    /// The premises' address.
    pub address: String,
    /// The first check-in's latitude, 1e-7 degrees.
    pub latitude_e7: Option<i64>,
    /// The first check-in's longitude, 1e-7 degrees.
    pub longitude_e7: Option<i64>,
    /// The coordinates' datum.
    pub datum: String,
}

/// One checked point and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBlock {
    /// Department (short name).
    pub department: String,
    /// The inspection matter.
    pub matter: String,
    /// Its legal basis.
    pub legal_basis: String,
    /// The power to inspect (e.g. 消防法第五十三条), if the catalogue names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_basis: Option<String>,
    /// Check point id.
    pub check_point: String,
    /// What was checked.
    pub title: String,
    /// The result as shown.
    pub result: String,
    /// The inspector's note.
    pub note: Option<String>,
    /// Evidence photos (SHA-256).
    pub evidence: Vec<String>,
}

/// A finding as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingBlock {
    /// Department (short name).
    pub department: String,
    /// The problem.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// Whether rectification is ordered.
    pub rectification_required: bool,
    /// The deadline (YYYY-MM-DD).
    pub deadline: Option<String>,
    /// To be put right at once (责令立即改正): no deadline after the day of the inspection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immediate: bool,
    /// The power to order its rectification (e.g. 消防法第六十条第一款第（一）项), if the
    /// catalogue names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_basis: Option<String>,
}

/// The operative part of an order to rectify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBlock {
    /// What the party must do, by when.
    pub requirement: String,
    /// The latest deadline among the problems (YYYY-MM-DD).
    pub deadline: String,
    /// The party's rights of review and appeal.
    pub rights: String,
    /// 责令立即改正 or 责令限期改正.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind_zh: String,
    /// The number of the on-site record the order follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_site_record: Option<String>,
    /// The contact (office and telephone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The date of issue (YYYY-MM-DD, Beijing).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issued_on: String,
}

/// A document served, as a service receipt lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedDocument {
    /// Its title.
    pub title: String,
    /// Its number.
    pub number: String,
    /// Its version's SHA-256.
    pub sha256: String,
}

/// Service (送达): where and to whom documents are served, and for a receipt, which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceBlock {
    /// The address for service (the confirmed one, else the premises).
    pub address: String,
    /// Who receives documents.
    pub recipient: String,
    /// A telephone number for service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Where the party agreed to electronic service, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electronic: Option<String>,
    /// The documents served (a service receipt).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub served: Vec<ServedDocument>,
}

/// A legal document's content: what every signature covers, as canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentContent {
    /// Always [`DOCUMENT_SCHEMA`].
    pub schema: String,
    /// Which document.
    pub kind: DocumentKind,
    /// Its title.
    pub title: String,
    /// Its number (文号).
    pub number: String,
    /// Its version: 1, then one more each time what it covers changes.
    pub version: u32,
    /// The task code.
    pub task: String,
    /// The record's heads the document was rendered at (hex, sorted): they pin the full history.
    pub record_heads: Vec<String>,
    /// The issuing department's full name.
    pub issuer: String,
    /// The issuing department's id (empty in older documents).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer_id: String,
    /// The party.
    pub party: PartyBlock,
    /// The place.
    pub place: PlaceBlock,
    /// Start of the inspection: the first check-in (ms since the Unix epoch).
    pub start_ms: Option<i64>,
    /// End of the inspection: when the record was completed.
    pub end_ms: Option<i64>,
    /// The inspectors.
    pub inspectors: Vec<PersonBlock>,
    /// Who recorded (rendered) the document.
    pub recorder: PersonBlock,
    /// The notice of identity and rights read to the party.
    pub notice: String,
    /// Certificate numbers shown.
    pub identity_shown: Vec<String>,
    /// The party's answer on recusal.
    pub recusal: String,
    /// The party's statement and defence (陈述申辩), if they made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_statement: Option<String>,
    /// Check results (on-site record).
    pub checks: Vec<CheckBlock>,
    /// Findings (all, or the issuing department's requiring rectification for an order).
    pub findings: Vec<FindingBlock>,
    /// The order's operative part (orders only).
    pub order: Option<OrderBlock>,
    /// Service: the address confirmed, or the documents a receipt records as served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceBlock>,
    /// When it was rendered (device time, ms).
    pub rendered_at_ms: i64,
}

impl DocumentContent {
    /// Whether two versions say the same thing: equal apart from number, version, heads, recorder,
    /// rendering time and the date of issue it gives. A new version is made only when this is false.
    pub fn same_substance(&self, other: &DocumentContent) -> bool {
        let strip = |c: &DocumentContent| DocumentContent {
            number: String::new(),
            version: 0,
            record_heads: Vec::new(),
            recorder: PersonBlock::default(),
            rendered_at_ms: 0,
            // The date of issue follows the rendering time: not a change of substance.
            order: c.order.clone().map(|o| OrderBlock { issued_on: String::new(), ..o }),
            ..c.clone()
        };
        strip(self) == strip(other)
    }

    /// A fresh content value with the schema filled in.
    pub fn schema() -> String {
        DOCUMENT_SCHEMA.to_string()
    }
}

/// The printable zh-CN rendering of a document with the signatures made on it: each officer's
/// line filled with who signed and when, the party's signature and statement, or their refusal
/// with its reason and witness. `signed` holds statements that verified against this document.
pub fn render_text(d: &DocumentContent, signed: &[SignedStatement]) -> String {
    render_page(d, signed, &std::collections::HashMap::new())
}

/// [`render_text`] with, beside each signature's device time, the trusted time: the server
/// received it no later than `received[(device, device time)]` (from its signed receipts).
pub fn render_page(
    d: &DocumentContent,
    signed: &[SignedStatement],
    received: &std::collections::HashMap<(String, i64), i64>,
) -> String {
    let mut o = heading(d).join("\n");
    o.push_str("\n\n");
    o.push_str(&render_body(d, signed, received));
    o.push('\n');
    for line in metadata(d) {
        o.push_str(&line);
        o.push('\n');
    }
    o
}

/// The document's metadata lines: the task code, the version (not part of the number) and the
/// record heads it was rendered at. The printout sets them in every page's foot.
pub fn metadata(d: &DocumentContent) -> [String; 3] {
    [
        format!("检查码：{}", d.task),
        format!("文书版本：第 {} 版（版本为文书元数据，不属于文号）", d.version),
        format!("记录版本：{}", d.record_heads.iter().map(|h| &h[..12.min(h.len())]).collect::<Vec<_>>().join(",")),
    ]
}

/// The lines at the head of the first page: the issuing agency, the title, the number.
pub fn heading(d: &DocumentContent) -> [&str; 3] {
    [&d.issuer, &d.title, &d.number]
}

/// Everything of [`render_page`] between the [`heading`] and the [`metadata`]: the template's
/// fields and the signature lines.
pub fn render_body(
    d: &DocumentContent,
    signed: &[SignedStatement],
    received: &std::collections::HashMap<(String, i64), i64>,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "当事人：{}", d.party.name);
    let _ = writeln!(o, "统一社会信用代码：{}", d.party.uscc);
    let _ = writeln!(o, "地址：{}", d.party.address);
    if let Some(rep) = &d.party.representative {
        let role = d.party.representative_role.as_deref().unwrap_or("");
        let phone = d.party.phone.as_deref().map(|p| format!("，联系电话 {p}")).unwrap_or_default();
        let id = d.party.representative_id.as_deref().map(|i| format!("，身份证件号码 {i}")).unwrap_or_default();
        let _ = writeln!(o, "在场人员：{rep}（{role}{id}）{phone}");
    }
    if let Some(legal) = &d.party.legal_representative {
        let _ = writeln!(o, "法定代表人（负责人）：{legal}");
    }
    if !d.party.licences.is_empty() {
        let _ = writeln!(o, "主体资格证照：{}", d.party.licences.join("；"));
    }
    match d.kind {
        DocumentKind::OnSiteRecord => on_site_body(d, &mut o),
        DocumentKind::RectificationOrder => order_body(d, &mut o),
        DocumentKind::AddressConfirmation => address_body(d, &mut o),
        DocumentKind::ServiceReceipt => receipt_body(d, &mut o),
    }
    let _ = writeln!(o);
    signature_block(d, signed, received, &mut o);
    o
}

/// The signature lines: every officer the document names (signed, with the time, or blank), then
/// the party's signature or refusal.
fn signature_block(
    d: &DocumentContent,
    signed: &[SignedStatement],
    received: &std::collections::HashMap<(String, i64), i64>,
    o: &mut String,
) {
    let time = |ms: i64| crate::beijing::date_time(ms);
    // The trusted time beside the device's: when the server had it at the latest.
    let trusted = |s: &SignedStatement| match received.get(&(s.device.clone(), s.device_time_ms)) {
        Some(at) => format!("；服务器确认收到时间不晚于 {}（北京时间）", time(*at)),
        None => "；尚未经服务器确认收到".to_string(),
    };
    for p in &d.inspectors {
        match officer_signature(p, signed) {
            Some(s) => {
                let _ = writeln!(
                    o,
                    "执法人员签名：{}（{}，执法证号 {}） 已电子签名，设备时间 {}（北京时间）{}；{}",
                    p.name,
                    p.department,
                    p.certificate_number,
                    time(s.device_time_ms),
                    trusted(s),
                    presence(s)
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "执法人员签名：__________（{}，{}，执法证号 {}，未签）",
                    p.name, p.department, p.certificate_number
                );
            }
        }
    }
    let party = party_act(signed);
    let party_trusted = party.map(trusted).unwrap_or_default();
    // Whether the attesting officer's presence was confirmed when they recorded the act.
    let attested = party.map(|s| format!("（{}）", presence(s).replace("签名人", "见证执法人员"))).unwrap_or_default();
    // An order's party act is its service (送达): how, when, and the receipt or the refusal.
    let order = d.kind.is_served();
    match party.map(|s| (&s.signer, s.device_time_ms)) {
        Some((SignatureRole::Party { name, party_role, signature_image_sha256, statement, attested_by }, at)) => {
            let label = match d.kind {
                DocumentKind::OnSiteRecord => "当事人意见",
                DocumentKind::AddressConfirmation => "受送达人确认",
                DocumentKind::RectificationOrder | DocumentKind::ServiceReceipt => "受送达人签收",
            };
            let _ = writeln!(o, "{label}：{statement}。");
            let _ = writeln!(
                o,
                "当事人签名：{name}（{party_role}）手写签名，图像 SHA-256 {}…，设备时间 {}（北京时间）{party_trusted}，执法人员 {attested_by} 见证{attested}",
                &signature_image_sha256[..16.min(signature_image_sha256.len())],
                time(at)
            );
            if order {
                let _ = writeln!(
                    o,
                    "送达记录：直接送达，受送达人 {name}（{party_role}）于 {}（北京时间，设备时间）签收{party_trusted}。",
                    time(at)
                );
            }
        }
        Some((
            SignatureRole::PartyRefused {
                reason,
                witness,
                witness_detail,
                witness_signature_image_sha256,
                attested_by,
            },
            at,
        )) => {
            let refused = if order { "受送达人拒绝签收" } else { "当事人拒绝签字" };
            let _ = writeln!(o, "{refused}。拒签理由：{reason}。");
            let detail = witness_detail.as_deref().map(|d| format!("（{d}）")).unwrap_or_default();
            let witness_signed = match witness_signature_image_sha256 {
                Some(image) => format!("见证人已手写签名，图像 SHA-256 {}…", &image[..16.min(image.len())]),
                None => "见证人未在设备上签名".into(),
            };
            let _ = writeln!(
                o,
                "见证人：{witness}{detail}，{witness_signed}；执法人员 {attested_by} 于设备时间 {}（北京时间）记录在案{party_trusted}{attested}",
                time(at)
            );
            if order {
                let _ = writeln!(
                    o,
                    "送达记录：受送达人拒绝签收，执法人员在见证人 {witness} 见证下将本文书留置送达（设备时间 {}，北京时间）{party_trusted}。",
                    time(at)
                );
            }
        }
        _ => {
            let _ = match d.kind {
                DocumentKind::OnSiteRecord => writeln!(o, "当事人意见：__________（待当事人阅后签署）"),
                DocumentKind::RectificationOrder | DocumentKind::ServiceReceipt => {
                    writeln!(o, "当事人签收：__________（待当事人签收）")
                }
                DocumentKind::AddressConfirmation => writeln!(o, "受送达人确认：__________（待当事人确认签名）"),
            };
            let _ = writeln!(o, "当事人签名：__________          日期：__________");
            if order {
                let _ = writeln!(o, "送达记录：尚未送达。");
            }
        }
    }
}

/// The seal's line on a printout: "机关电子印章：" and the seal in words.
pub fn seal_line(seal: &crate::record::seals::SealCheck) -> String {
    format!("机关电子印章：{}", seal.label_zh())
}

/// How the signer's presence was confirmed at signing, in words.
fn presence(s: &SignedStatement) -> &'static str {
    s.presence.map_or("签署时未验证签名人本人", super::presence::SignerPresence::label_zh)
}

/// The signature of the officer on line `p`, among statements that verified against the document.
pub fn officer_signature<'a>(p: &PersonBlock, signed: &'a [SignedStatement]) -> Option<&'a SignedStatement> {
    signed.iter().find(|s| match &s.signer {
        SignatureRole::Inspector { inspector, certificate_number } => {
            if p.inspector.is_empty() {
                !p.certificate_number.is_empty() && certificate_number == &p.certificate_number
            } else {
                inspector == &p.inspector
            }
        }
        _ => false,
    })
}

/// The party's act on the document (signature or refusal), among statements that verified.
pub fn party_act(signed: &[SignedStatement]) -> Option<&SignedStatement> {
    signed.iter().find(|s| !matches!(s.signer, SignatureRole::Inspector { .. }))
}

fn on_site_body(d: &DocumentContent, o: &mut String) {
    let _ = writeln!(o, "检查地点：{}", d.place.address);
    if let (Some(lat), Some(lon)) = (d.place.latitude_e7, d.place.longitude_e7) {
        let _ = writeln!(o, "定位：北纬 {:.6}，东经 {:.6}（{}）", lat as f64 / 1e7, lon as f64 / 1e7, d.place.datum);
    }
    let _ = writeln!(
        o,
        "检查时间：{} 至 {}",
        d.start_ms.map(crate::beijing::written).unwrap_or_default(),
        d.end_ms.map(crate::beijing::written).unwrap_or_default()
    );
    for p in &d.inspectors {
        let _ = writeln!(o, "检查人：{}（{}，执法证号 {}）", p.name, p.department, p.certificate_number);
    }
    let _ = writeln!(o, "记录人：{}（执法证号 {}）", d.recorder.name, d.recorder.certificate_number);
    let _ = writeln!(o);
    let _ = writeln!(o, "告知：{}", d.notice);
    let _ = writeln!(o, "出示证件：{}", d.identity_shown.join("、"));
    let _ = writeln!(o, "是否申请回避：{}", d.recusal);
    let _ = writeln!(o);
    let _ = writeln!(o, "检查情况：");
    let mut matter = String::new();
    for c in &d.checks {
        if c.matter != matter {
            matter.clone_from(&c.matter);
            match &c.power_basis {
                Some(power) => {
                    let _ = writeln!(
                        o,
                        "【{}】{}（检查依据：{power}；检查内容依据：{}）",
                        c.department, c.matter, c.legal_basis
                    );
                }
                None => {
                    let _ = writeln!(o, "【{}】{}（依据：{}）", c.department, c.matter, c.legal_basis);
                }
            }
        }
        let note = c.note.as_deref().map(|n| format!("（{n}）")).unwrap_or_default();
        let photos = if c.evidence.is_empty() { String::new() } else { format!(" [照片 {} 张]", c.evidence.len()) };
        let _ = writeln!(o, "  {}：{}{}{}", c.title, c.result, note, photos);
    }
    let _ = writeln!(o);
    if d.findings.is_empty() {
        let _ = writeln!(o, "发现问题：未发现问题。");
    } else {
        let _ = writeln!(o, "发现问题：");
        for (i, f) in d.findings.iter().enumerate() {
            let deadline = match (f.immediate, f.deadline.as_deref()) {
                (true, _) if f.rectification_required => "，应立即改正".to_string(),
                (_, Some(x)) => format!("，应于 {x} 前改正"),
                _ => String::new(),
            };
            let _ = writeln!(o, "  {}. 【{}】{}（{}）{}", i + 1, f.department, f.problem, f.legal_basis, deadline);
        }
    }
    let _ = writeln!(o);
    match &d.party_statement {
        Some(said) => {
            let _ = writeln!(o, "当事人陈述、申辩：{said}");
        }
        None => {
            let _ = writeln!(o, "当事人陈述、申辩：当事人未提出陈述、申辩。");
        }
    }
}

/// 送达地址确认书: the address, recipient and telephone for service, electronic service if agreed,
/// and what the party is told about them.
fn address_body(d: &DocumentContent, o: &mut String) {
    let _ = writeln!(o);
    let Some(s) = &d.service else { return };
    let _ = writeln!(o, "送达地址：{}", s.address);
    let _ = writeln!(o, "受送达人：{}", s.recipient);
    if let Some(phone) = &s.phone {
        let _ = writeln!(o, "联系电话：{phone}");
    }
    match &s.electronic {
        Some(to) => {
            let _ = writeln!(o, "电子送达：同意，接收方式 {to}（文书到达该系统之日为送达日期）");
        }
        None => {
            let _ = writeln!(o, "电子送达：不同意");
        }
    }
    let _ = writeln!(
        o,
        "告知：受送达人应当如实提供送达地址；送达地址变更的，应当及时书面告知{}。因提供的地址不准确、变更未及时告知、拒不签收或者无人签收，文书被退回的，退回之日视为送达之日。",
        d.issuer
    );
}

/// 送达回证: which documents were served, to whom, where; the party's receipt or the refusal and
/// its witness follow in the signature lines.
fn receipt_body(d: &DocumentContent, o: &mut String) {
    let _ = writeln!(o);
    let Some(s) = &d.service else { return };
    for doc in &s.served {
        let _ = writeln!(
            o,
            "送达文书：{} {}（SHA-256 {}…）",
            doc.title,
            doc.number,
            &doc.sha256[..16.min(doc.sha256.len())]
        );
    }
    let _ = writeln!(o, "受送达人：{}", s.recipient);
    let _ = writeln!(o, "送达地点：{}", s.address);
    if let Some(phone) = &s.phone {
        let _ = writeln!(o, "联系电话：{phone}");
    }
    let _ = writeln!(o, "送达人：{}", d.inspectors.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join("、"));
    let _ = writeln!(o, "送达方式：直接送达；受送达人拒绝签收的，在见证人见证下留置送达（见下方送达记录）");
}

fn order_body(d: &DocumentContent, o: &mut String) {
    let _ = writeln!(o);
    let on_site = d.order.as_ref().and_then(|x| x.on_site_record.as_deref());
    match on_site {
        Some(record) => {
            let _ = writeln!(o, "经查（见现场检查笔录 {record}），你单位存在下列问题：");
        }
        None => {
            let _ = writeln!(o, "经查，你单位存在下列问题：");
        }
    }
    for (i, f) in d.findings.iter().enumerate() {
        let _ = writeln!(o, "  {}. {}", i + 1, f.problem);
        let _ = writeln!(o, "     违反了{}的规定。", f.legal_basis);
        let when = match (f.immediate, f.deadline.as_deref()) {
            (true, _) => "立即改正".to_string(),
            (false, Some(x)) => format!("于 {x} 前改正"),
            (false, None) => "改正".to_string(),
        };
        let basis = f.order_basis.as_deref().map(|b| format!("依据{b}的规定，")).unwrap_or_default();
        let _ = writeln!(o, "     {basis}责令你单位{when}。");
    }
    if let Some(order) = &d.order {
        let _ = writeln!(o, "{}", order.requirement);
        let _ = writeln!(o, "{}", order.rights);
        if let Some(contact) = &order.contact {
            let _ = writeln!(o, "联系人及电话：{contact}");
        }
        if !order.issued_on.is_empty() {
            let _ = writeln!(o, "{}    {}", d.issuer, order.issued_on);
        }
    }
}
