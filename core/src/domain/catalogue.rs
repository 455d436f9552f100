//! The catalogue of inspection matters (执法监管事项) and their check points (检查要点).

use serde::{Deserialize, Serialize};

use super::ids::{CheckPointId, DepartmentId, MatterId};

/// A catalogue entry owned by one department: what is inspected and on which legal basis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectionMatter {
    /// Stable identifier.
    pub id: MatterId,
    /// The department that owns the matter.
    pub department: DepartmentId,
    /// Title, e.g. 食品经营许可及经营过程检查.
    pub title: String,
    /// The legal basis (法律依据) cited in findings about this matter: the duty, to 款 and 项.
    pub legal_basis: String,
    /// The provision giving the department the power to inspect (e.g. 消防法第五十三条): the
    /// basis of the inspection printed in the on-site record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_basis: Option<String>,
    /// The provision giving the power to order rectification (e.g. 消防法第六十条第一款第（一）项):
    /// the basis of an order, not the provision violated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_basis: Option<String>,
    /// The points an inspector checks and answers.
    pub check_points: Vec<CheckPoint>,
    /// The industries (行业) it applies to; empty: every industry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub industries: Vec<String>,
}

impl InspectionMatter {
    /// Whether the matter applies to an enterprise of `industry` (one without a stated industry
    /// takes only the matters that apply to every industry).
    pub fn applies_to(&self, industry: Option<&str>) -> bool {
        self.industries.is_empty() || industry.is_some_and(|i| self.industries.iter().any(|x| x == i))
    }
}

/// One point to check on site, with the kind of answer it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckPoint {
    /// Identifier unique across the whole catalogue.
    pub id: CheckPointId,
    /// What to check, e.g. 是否在显著位置悬挂食品经营许可证.
    pub title: String,
    /// The kind of answer the point takes.
    pub answer: AnswerType,
}

/// The kind of answer a check point takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnswerType {
    /// 符合 / 不符合 / 不适用.
    PassFail,
    /// A measured number in a fixed unit, optionally bounded.
    Number {
        /// The unit the number is recorded in, e.g. `℃` or `m`.
        unit: String,
        /// Smallest plausible value, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest plausible value, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// Free text.
    Text,
    /// One or more evidence photos are required.
    Photo,
}

impl AnswerType {
    /// A short machine name of the kind, used in errors.
    pub fn kind(&self) -> &'static str {
        match self {
            AnswerType::PassFail => "pass_fail",
            AnswerType::Number { .. } => "number",
            AnswerType::Text => "text",
            AnswerType::Photo => "photo",
        }
    }
}
