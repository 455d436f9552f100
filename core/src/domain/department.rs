//! Enforcement departments (执法部门) and their inspectors (执法人员).

use serde::{Deserialize, Serialize};

use super::ids::{DepartmentId, InspectorId};
use super::uscc::Uscc;

/// An enforcement department taking part in joint inspections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Stable identifier, e.g. `scjg`.
    pub id: DepartmentId,
    /// Full official name, e.g. 平湖市市场监督管理局.
    pub name: String,
    /// The short name used on screens, e.g. 市场监管局.
    pub short_name: String,
    /// The issuing prefix of its document numbers (文号), e.g. 平市监; the short name if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_prefix: Option<String>,
    /// Where the party applies for administrative review of its decisions (复议机关), named in
    /// the rights notice of its orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_authority: Option<String>,
    /// The court an action against its decisions is brought before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub court: Option<String>,
    /// The contact printed on its orders (office and telephone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Whether its orders are titled by kind (责令立即改正通知书 / 责令限期改正通知书, as the fire
    /// service's are) rather than 责令改正通知书.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub order_titles_by_kind: bool,
}

impl Department {
    /// The prefix of this department's document numbers.
    pub fn number_prefix(&self) -> &str {
        self.document_prefix.as_deref().unwrap_or(&self.short_name)
    }
}

/// An inspector: a person holding an enforcement certificate, belonging to one department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspector {
    /// Stable identifier.
    pub id: InspectorId,
    /// The inspector's name as printed on documents.
    pub name: String,
    /// The enforcement certificate number (执法证号) shown on site and printed on documents.
    pub certificate_number: String,
    /// The department the inspector serves in.
    pub department: DepartmentId,
    /// Enterprises the inspector declared a conflict of interest with (回避): never drawn for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Uscc>,
}
