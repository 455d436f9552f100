//! The content of a legal document, built from the record, and its zh-CN rendering.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{DOCUMENT_SCHEMA, DocumentKind};

/// A person named on a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonBlock {
    /// Name.
    pub name: String,
    /// Enforcement certificate number.
    pub certificate_number: String,
    /// Department (short name).
    pub department: String,
}

/// The inspected party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Check results (on-site record).
    pub checks: Vec<CheckBlock>,
    /// Findings (all, or the issuing department's requiring rectification for an order).
    pub findings: Vec<FindingBlock>,
    /// The order's operative part (orders only).
    pub order: Option<OrderBlock>,
    /// When it was rendered (device time, ms).
    pub rendered_at_ms: i64,
}

impl DocumentContent {
    /// Whether two versions say the same thing: equal apart from number, version, heads, recorder
    /// and rendering time. A new version is made only when this is false.
    pub fn same_substance(&self, other: &DocumentContent) -> bool {
        let strip = |c: &DocumentContent| DocumentContent {
            number: String::new(),
            version: 0,
            record_heads: Vec::new(),
            recorder: PersonBlock { name: String::new(), certificate_number: String::new(), department: String::new() },
            rendered_at_ms: 0,
            ..c.clone()
        };
        strip(self) == strip(other)
    }

    /// A fresh content value with the schema filled in.
    pub fn schema() -> String {
        DOCUMENT_SCHEMA.to_string()
    }
}

/// The printable zh-CN rendering of a document.
pub fn render_text(d: &DocumentContent) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", d.issuer);
    let _ = writeln!(o, "{}", d.title);
    let _ = writeln!(o, "{}（第{}版）", d.number, d.version);
    let _ = writeln!(o);
    let _ = writeln!(o, "当事人：{}", d.party.name);
    let _ = writeln!(o, "统一社会信用代码：{}", d.party.uscc);
    let _ = writeln!(o, "地址：{}", d.party.address);
    if let Some(rep) = &d.party.representative {
        let role = d.party.representative_role.as_deref().unwrap_or("");
        let phone = d.party.phone.as_deref().map(|p| format!("，联系电话 {p}")).unwrap_or_default();
        let _ = writeln!(o, "当事人代表：{rep}（{role}）{phone}");
    }
    match d.kind {
        DocumentKind::OnSiteRecord => on_site_body(d, &mut o),
        DocumentKind::RectificationOrder => order_body(d, &mut o),
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "检查码：{}", d.task);
    let _ =
        writeln!(o, "记录版本：{}", d.record_heads.iter().map(|h| &h[..12.min(h.len())]).collect::<Vec<_>>().join(","));
    o
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
            let _ = writeln!(o, "【{}】{}（依据：{}）", c.department, c.matter, c.legal_basis);
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
            let deadline = f.deadline.as_deref().map(|x| format!("，应于 {x} 前改正")).unwrap_or_default();
            let _ = writeln!(o, "  {}. 【{}】{}（{}）{}", i + 1, f.department, f.problem, f.legal_basis, deadline);
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "当事人意见：以上笔录我已看过，与事实相符。");
    let _ = writeln!(o, "当事人签名：__________        执法人员签名：__________ __________");
}

fn order_body(d: &DocumentContent, o: &mut String) {
    let _ = writeln!(o);
    let _ = writeln!(o, "经查，你单位存在下列问题：");
    for (i, f) in d.findings.iter().enumerate() {
        let _ = writeln!(o, "  {}. {}", i + 1, f.problem);
        let _ = writeln!(o, "     违反了{}的规定。", f.legal_basis);
    }
    if let Some(order) = &d.order {
        let _ = writeln!(o, "{}", order.requirement);
        let _ = writeln!(o, "改正期限：{}", order.deadline);
        let _ = writeln!(o, "{}", order.rights);
    }
    let _ = writeln!(o);
    for p in &d.inspectors {
        let _ = writeln!(o, "执法人员：{}（执法证号 {}）", p.name, p.certificate_number);
    }
    let _ = writeln!(o, "送达回证：当事人签收 __________  日期 __________");
}
