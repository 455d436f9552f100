//! The capture record: what the device attests about a photo at the moment it is taken —
//! its hash, size, type, time, place, inspector, device, task and what it documents — as canonical
//! JSON (RFC 8785) signed by the device key.

use serde::{Deserialize, Serialize};

use crate::audit::sha256_hex;
use crate::canonical::CanonicalError;
use crate::identity::DeviceKey;
use crate::signed::SignedJsonError;

/// The schema tag of capture records written by this code.
pub const CAPTURE_SCHEMA: &str = "onevisit.capture.v1";

/// Where a capture position came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// The device's GNSS fix at capture.
    Device,
    /// The photo's EXIF GPS tags.
    Exif,
}

impl PositionSource {
    /// Where the position came from, as a person reads it.
    pub fn label_zh(&self) -> &'static str {
        match self {
            PositionSource::Device => "设备定位",
            PositionSource::Exif => "照片 EXIF",
        }
    }
}

/// The position of a capture, raw, with its datum and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturePosition {
    /// Latitude in 1e-7 degrees.
    pub latitude_e7: i64,
    /// Longitude in 1e-7 degrees.
    pub longitude_e7: i64,
    /// Accuracy radius in metres, when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<u32>,
    /// The datum as reported (`WGS-84` for GNSS).
    pub datum: String,
    /// Where the position came from.
    pub source: PositionSource,
}

/// What a photo documents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum CaptureTarget {
    /// A check point's answer.
    CheckPoint(String),
    /// A finding.
    Finding(String),
    /// The inspection as a whole (the premises, a sign, a document shown).
    Inspection,
    /// A party's handwritten signature on a document (by the document's hash).
    PartySignature(String),
}

impl std::fmt::Display for CaptureTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureTarget::CheckPoint(id) => write!(f, "check_point:{id}"),
            CaptureTarget::Finding(id) => write!(f, "finding:{id}"),
            CaptureTarget::Inspection => f.write_str("inspection"),
            CaptureTarget::PartySignature(doc) => write!(f, "party_signature:{doc}"),
        }
    }
}

/// The attested facts of one capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRecord {
    /// Always [`CAPTURE_SCHEMA`].
    pub schema: String,
    /// SHA-256 of the original's exact bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type sniffed from the bytes.
    pub mime: String,
    /// Width in pixels, as stored.
    pub width: u32,
    /// Height in pixels, as stored.
    pub height: u32,
    /// Device time at capture, ms since the Unix epoch.
    pub device_time_ms: i64,
    /// The camera's own capture time (EXIF DateTimeOriginal, local, no zone), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exif_time: Option<String>,
    /// Where, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<CapturePosition>,
    /// Camera make and model from EXIF, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// EXIF orientation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u16>,
    /// The inspector operating the device.
    pub inspector: String,
    /// The device identifier.
    pub device: String,
    /// The device's Ed25519 public key (hex), which verifies the signature.
    pub device_public_key: String,
    /// The task the photo belongs to.
    pub task: String,
    /// What the photo documents.
    pub target: CaptureTarget,
    /// SHA-256 of the derived thumbnail.
    pub thumbnail_sha256: String,
}

/// A capture record as signed: its canonical bytes and the device's signature over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCapture {
    /// Canonical JSON of the [`CaptureRecord`], exactly as signed.
    pub canonical: String,
    /// Ed25519 signature (hex) over `canonical`.
    pub signature: String,
}

/// Why a signed capture record does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The canonical bytes do not parse as a capture record.
    #[error("采集记录格式错误")]
    Malformed,
    /// The bytes are not canonical JSON (they were re-serialised or edited).
    #[error("采集记录不是规范格式（被重新编排或改动过）")]
    NotCanonical,
    /// The public key in the record is not a valid Ed25519 key.
    #[error("采集记录中的公钥无效")]
    BadPublicKey,
    /// The signature does not verify.
    #[error("采集记录的签名验证不通过")]
    BadSignature,
    /// The record is for other bytes than the file presented.
    #[error("采集记录对应的是 {recorded}，不是这个文件（{actual}）")]
    WrongFile {
        /// The SHA-256 recorded.
        recorded: String,
        /// The SHA-256 of the file.
        actual: String,
    },
}

/// How far the camera's own time may be from the device's before a photo is flagged: an hour
/// covers a camera clock a little off or set to a neighbouring zone.
pub const EXIF_TIME_TOLERANCE_MS: i64 = 3_600_000;

impl CaptureRecord {
    /// How far the camera's EXIF time (read as Beijing time) is from the device time at capture,
    /// in ms (negative: the camera says earlier), when it is beyond [`EXIF_TIME_TOLERANCE_MS`]:
    /// the photo may have been taken before the visit, or on a camera whose clock is wrong. Both
    /// times are in the signed record, so the flag cannot be added or removed afterwards.
    pub fn exif_time_gap_ms(&self) -> Option<i64> {
        let exif =
            chrono::NaiveDateTime::parse_from_str(self.exif_time.as_deref()?.trim(), "%Y:%m:%d %H:%M:%S").ok()?;
        let gap = crate::beijing::instant(exif.date(), exif.time()) - self.device_time_ms;
        (gap.abs() > EXIF_TIME_TOLERANCE_MS).then_some(gap)
    }

    /// The flag of [`CaptureRecord::exif_time_gap_ms`] in words (zh-CN), if the photo has one.
    pub fn exif_time_warning_zh(&self) -> Option<String> {
        let gap = self.exif_time_gap_ms()?;
        let minutes = gap.unsigned_abs() / 60_000;
        let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
        let span = match (days, hours) {
            (0, 0) => format!("{mins} 分钟"),
            (0, h) => format!("{h} 小时 {mins} 分钟"),
            (d, h) => format!("{d} 天 {h} 小时"),
        };
        let direction = if gap < 0 { "早" } else { "晚" };
        Some(format!(
            "相机时间（EXIF）比设备记录的采集时间{direction} {span}：照片可能不是当时在现场拍摄的，或相机时钟有误"
        ))
    }
}

impl SignedCapture {
    /// Canonicalises and signs a record with the device key.
    pub fn sign(record: &CaptureRecord, key: &DeviceKey) -> Result<SignedCapture, CanonicalError> {
        let (canonical, signature) = crate::signed::sign(record, key)?;
        Ok(SignedCapture { canonical, signature })
    }

    /// SHA-256 of the canonical bytes: the record's identity.
    pub fn hash(&self) -> String {
        sha256_hex(self.canonical.as_bytes())
    }

    /// Verifies the signature (strictly) with the key the record names and returns the record.
    /// Who that key belongs to is established by the device's certificate, not here.
    pub fn verify(&self) -> Result<CaptureRecord, CaptureError> {
        crate::signed::verify(&self.canonical, &self.signature, |r: &CaptureRecord| &r.device_public_key).map_err(|e| {
            match e {
                SignedJsonError::Malformed => CaptureError::Malformed,
                SignedJsonError::NotCanonical => CaptureError::NotCanonical,
                SignedJsonError::BadPublicKey => CaptureError::BadPublicKey,
                SignedJsonError::BadSignature => CaptureError::BadSignature,
            }
        })
    }

    /// Verifies the record and that it describes exactly `bytes`.
    pub fn verify_file(&self, bytes: &[u8]) -> Result<CaptureRecord, CaptureError> {
        let record = self.verify()?;
        let actual = sha256_hex(bytes);
        if record.sha256 != actual || record.size != bytes.len() as u64 {
            return Err(CaptureError::WrongFile { recorded: record.sha256, actual });
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(exif_time: Option<&str>, device_time: &str) -> CaptureRecord {
        let at = chrono::NaiveDateTime::parse_from_str(device_time, "%Y-%m-%d %H:%M").unwrap();
        CaptureRecord {
            schema: CAPTURE_SCHEMA.into(),
            sha256: "00".repeat(32),
            size: 1,
            mime: "image/jpeg".into(),
            width: 1,
            height: 1,
            device_time_ms: crate::beijing::instant(at.date(), at.time()),
            exif_time: exif_time.map(String::from),
            position: None,
            camera: None,
            orientation: None,
            inspector: "scjg-01".into(),
            device: "d".into(),
            device_public_key: "00".repeat(32),
            task: "t".into(),
            target: CaptureTarget::CheckPoint("SCJG-001-01".into()),
            thumbnail_sha256: "00".repeat(32),
        }
    }

    #[test]
    fn a_camera_time_two_days_before_the_capture_is_flagged_with_the_gap() {
        let r = record(Some("2026:11:28 10:15:30"), "2026-11-30 10:20");
        assert_eq!(r.exif_time_gap_ms().map(|g| g / 3_600_000), Some(-48));
        let warning = r.exif_time_warning_zh().unwrap();
        assert!(warning.contains("早 2 天 0 小时"), "{warning}");
    }

    #[test]
    fn a_camera_time_within_the_hour_or_missing_is_not_flagged() {
        assert_eq!(record(Some("2026:11:30 10:15:30"), "2026-11-30 10:20").exif_time_gap_ms(), None);
        assert_eq!(record(None, "2026-11-30 10:20").exif_time_gap_ms(), None);
        assert_eq!(record(Some("not a time"), "2026-11-30 10:20").exif_time_gap_ms(), None);
    }
}
