//! The values an inspection record holds. Each is stored as one JSON string under one key of the
//! Automerge document, stamped with who wrote it and when, so that concurrent writes of the same
//! field surface as a conflict between whole values rather than a silent field-by-field mix.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::{CheckPointId, DepartmentId, InspectorId};

use super::status::Status;

/// Who made an entry and when, by the device clock (ms since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The inspector who made the entry.
    pub by: InspectorId,
    /// Device time of the entry, ms since the Unix epoch.
    pub at_ms: i64,
}

/// A raw GNSS fix. Integers (1e-7 degree) keep floats out of what is later signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Latitude in 1e-7 degrees.
    pub latitude_e7: i64,
    /// Longitude in 1e-7 degrees.
    pub longitude_e7: i64,
    /// Horizontal accuracy (radius), metres.
    pub accuracy_m: u32,
    /// The datum the coordinates are in; always WGS-84 on record (display converts).
    pub datum: Datum,
}

/// A geodetic datum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Datum {
    /// WGS-84, as GNSS receivers report.
    #[serde(rename = "WGS-84")]
    Wgs84,
}

impl Position {
    /// A WGS-84 position from degrees, or `None` if out of range or not finite.
    pub fn wgs84(latitude: f64, longitude: f64, accuracy_m: u32) -> Option<Position> {
        let valid = latitude.is_finite() && longitude.is_finite() && latitude.abs() <= 90.0 && longitude.abs() <= 180.0;
        valid.then(|| Position {
            latitude_e7: (latitude * 1e7).round() as i64,
            longitude_e7: (longitude * 1e7).round() as i64,
            accuracy_m,
            datum: Datum::Wgs84,
        })
    }

    /// Latitude in degrees.
    pub fn latitude(&self) -> f64 {
        self.latitude_e7 as f64 / 1e7
    }

    /// Longitude in degrees.
    pub fn longitude(&self) -> f64 {
        self.longitude_e7 as f64 / 1e7
    }
}

/// Arrival on site (到达现场).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    /// Where the team checked in.
    pub position: Position,
    /// Who checked in and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// The inspectors showed their enforcement certificates (出示执法证件).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityShown {
    /// The certificate numbers shown.
    pub certificate_numbers: Vec<String>,
    /// Who recorded it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// The party's answer when told of the right to ask for recusal (申请回避).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Recusal {
    /// The party does not ask for any inspector to withdraw.
    NotRequested,
    /// The party asks for recusal, with the reason given.
    Requested {
        /// The party's stated reason.
        reason: String,
    },
}

/// The party's representative present on site (当事人/现场负责人).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyRepresentative {
    /// Name.
    pub name: String,
    /// Role, e.g. 法定代表人 or 现场负责人.
    pub role: String,
    /// Phone number, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The answer on recusal.
    pub recusal: Recusal,
    /// Their identity document number (身份证号), if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// What they said in their statement and defence (陈述申辩), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// Who recorded it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// Where the party accepts service of documents (送达地址确认书), as confirmed on site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAddress {
    /// The address documents are served at.
    pub address: String,
    /// Who receives them there (受送达人 or the person it names).
    pub recipient: String,
    /// A telephone number for service.
    pub phone: String,
    /// Where the party agrees to electronic service (an e-mail address or a mobile number), if it
    /// agrees to it at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electronic: Option<String>,
    /// Who recorded it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// The value of a check-point answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerValue {
    /// 符合.
    Pass,
    /// 不符合.
    Fail,
    /// 不适用.
    NotApplicable,
    /// A measurement, as a decimal string (no floats in signed data) with its unit.
    Number {
        /// The decimal value, e.g. `"4.5"`.
        value: String,
        /// The unit, matching the check point's.
        unit: String,
    },
    /// Free text.
    Text {
        /// The text.
        text: String,
    },
    /// The required photos are attached (see the answer's evidence).
    Photos,
}

impl AnswerValue {
    /// The zh-CN rendering of the value.
    pub fn display_zh(&self) -> String {
        match self {
            AnswerValue::Pass => "符合".into(),
            AnswerValue::Fail => "不符合".into(),
            AnswerValue::NotApplicable => "不适用".into(),
            AnswerValue::Number { value, unit } => format!("{value} {unit}"),
            AnswerValue::Text { text } => text.clone(),
            AnswerValue::Photos => "已拍照".into(),
        }
    }
}

/// A check-point answer in a department's section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The check point answered.
    pub check_point: CheckPointId,
    /// The answer.
    pub value: AnswerValue,
    /// The inspector's note, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// SHA-256 (lower-case hex) of the evidence files supporting the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Who answered and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// What a re-inspection (复查) found of one finding of the task it re-inspects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecheckOutcome {
    /// The problem is put right: the finding's loop closes.
    Rectified,
    /// Not put right, handed over for a case (移送立案) under `reference`.
    TransferredForCase {
        /// The case transfer's reference.
        reference: String,
    },
    /// Not put right, given a new deadline (the loop goes round again).
    NewDeadline {
        /// The new deadline.
        deadline: NaiveDate,
    },
}

impl RecheckOutcome {
    /// The outcome as inspectors read it.
    pub fn label_zh(&self) -> String {
        match self {
            RecheckOutcome::Rectified => "已整改".into(),
            RecheckOutcome::TransferredForCase { reference } => format!("未整改，移送立案（{reference}）"),
            RecheckOutcome::NewDeadline { deadline } => format!("未整改，责令于 {deadline} 前改正"),
        }
    }

    /// Whether the finding's loop is settled (closed or handed over for a case).
    pub fn settles(&self) -> bool {
        !matches!(self, RecheckOutcome::NewDeadline { .. })
    }
}

/// A re-inspection's result for one finding of the original task, with photo evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recheck {
    /// The finding's identifier in the original task's record (the key too).
    pub finding: String,
    /// What was found.
    pub outcome: RecheckOutcome,
    /// The inspector's note, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// SHA-256 of the photos attached to this record that show it (at least one).
    pub evidence: Vec<String>,
    /// Who recorded it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// A problem found on site (发现问题).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Identifier within the record.
    pub id: String,
    /// The department whose matter the problem falls under.
    pub department: DepartmentId,
    /// The check point it arose from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_point: Option<CheckPointId>,
    /// What is wrong.
    pub problem: String,
    /// The provision violated.
    pub legal_basis: String,
    /// Whether an order to rectify (责令改正) is required.
    pub rectification_required: bool,
    /// The rectification deadline, when rectification is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
    /// Who recorded it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// The status entry: the status and who set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// The status.
    pub status: Status,
    /// Who set it and when.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// Whether `s` is a lower-case hex SHA-256 digest.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
