//! The inspected party (检查对象): an enterprise identified by its USCC.

use serde::{Deserialize, Serialize};

use super::uscc::Uscc;

/// The credit grade (信用分级分类) that sets how often an enterprise is drawn for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CreditGrade {
    /// Good credit: inspected least often.
    A,
    /// Ordinary credit.
    B,
    /// Poor credit: inspected more often.
    C,
    /// Bad credit: inspected most often.
    D,
}

impl CreditGrade {
    /// Every grade, best first.
    pub const ALL: [CreditGrade; 4] = [CreditGrade::A, CreditGrade::B, CreditGrade::C, CreditGrade::D];

    /// The grade's letter.
    pub fn letter(self) -> &'static str {
        match self {
            CreditGrade::A => "A",
            CreditGrade::B => "B",
            CreditGrade::C => "C",
            CreditGrade::D => "D",
        }
    }
}

/// A WGS-84 position as received from a GNSS receiver, before any display conversion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude in degrees, WGS-84.
    pub latitude: f64,
    /// Longitude in degrees, WGS-84.
    pub longitude: f64,
}

/// An enterprise that can be the target of an inspection task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enterprise {
    /// The unified social credit code, validated on deserialisation.
    pub uscc: Uscc,
    /// Registered name.
    pub name: String,
    /// Registered or operating address.
    pub address: String,
    /// The premises' position, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
    /// The enterprise's credit grade.
    pub credit_grade: CreditGrade,
    /// The town, street or development zone (乡镇街道) it is registered in: a draw's area filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    /// Its industry (行业), e.g. 餐饮: which matters apply to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Its legal representative (法定代表人 or 负责人), as registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<String>,
    /// Its licences establishing its standing (主体资格证照), name and number each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<String>,
}
