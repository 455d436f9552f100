//! Tolerant EXIF reading: what the camera says about a photo, when it says it intelligibly.
//! Broken or garbage EXIF never fails an ingest; it yields fewer facts.

use std::io::Cursor;

use exif::{In, Reader, Tag, Value};
use serde::{Deserialize, Serialize};

/// The EXIF facts OneVisit keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExifFacts {
    /// DateTimeOriginal as written by the camera (`YYYY:MM:DD HH:MM:SS`, local time, no zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_time: Option<String>,
    /// GPS position in 1e-7 degrees (the EXIF datum is WGS-84 unless GPSMapDatum says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<(i64, i64)>,
    /// The GPSMapDatum tag, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps_datum: Option<String>,
    /// Orientation 1-8 (1 = upright).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u16>,
    /// Camera maker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    /// Camera model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Reads the EXIF facts of a JPEG or PNG, ignoring whatever cannot be parsed.
pub fn read(bytes: &[u8]) -> ExifFacts {
    let mut reader = Reader::new();
    reader.continue_on_error(true);
    let parsed = reader.read_from_container(&mut Cursor::new(bytes)).or_else(|e| e.distill_partial_result(|_| {}));
    let Ok(exif) = parsed else { return ExifFacts::default() };
    let ascii = |tag: Tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(parts)) => parts
            .first()
            .map(|p| String::from_utf8_lossy(p).trim_matches(char::from(0)).trim().to_string())
            .filter(|s| !s.is_empty() && s.len() <= 128),
        _ => None,
    };
    let orientation =
        exif.get_field(Tag::Orientation, In::PRIMARY).and_then(|f| f.value.get_uint(0)).filter(|o| (1..=8).contains(o));
    let capture_time = ascii(Tag::DateTimeOriginal).or_else(|| ascii(Tag::DateTime)).filter(|t| valid_exif_time(t));
    let coordinate = |value: Tag, reference: Tag, positive: &str, limit: f64| -> Option<i64> {
        let Value::Rational(parts) = &exif.get_field(value, In::PRIMARY)?.value else { return None };
        if parts.len() < 3 || parts.iter().take(3).any(|r| r.denom == 0) {
            return None;
        }
        let degrees = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
        let sign = if ascii(reference)?.eq_ignore_ascii_case(positive) { 1.0 } else { -1.0 };
        (degrees.is_finite() && degrees <= limit).then(|| (sign * degrees * 1e7).round() as i64)
    };
    let gps = coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, "N", 90.0).zip(coordinate(
        Tag::GPSLongitude,
        Tag::GPSLongitudeRef,
        "E",
        180.0,
    ));
    ExifFacts {
        capture_time,
        gps,
        gps_datum: ascii(Tag::GPSMapDatum),
        orientation: orientation.map(|o| o as u16),
        make: ascii(Tag::Make),
        model: ascii(Tag::Model),
    }
}

fn valid_exif_time(t: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(t, "%Y:%m:%d %H:%M:%S").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use onevisit_test_support::{SampleExif, sample_jpeg};

    #[test]
    fn reads_time_gps_orientation_and_camera() {
        let jpeg = sample_jpeg(64, 48, Some(&SampleExif::pinghu()));
        let facts = read(&jpeg);
        assert_eq!(facts.capture_time.as_deref(), Some("2026:11:28 10:15:30"));
        assert_eq!(facts.orientation, Some(6));
        assert_eq!(facts.make.as_deref(), Some("HUAWEI"));
        let (lat, lon) = facts.gps.unwrap();
        assert!((lat - 306_985_000).abs() < 10 && (lon - 1_210_156_000).abs() < 10, "{lat} {lon}");
    }

    #[test]
    fn garbage_or_missing_exif_yields_no_facts() {
        assert_eq!(read(&sample_jpeg(16, 16, None)), ExifFacts::default());
        let mut garbage = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x20];
        garbage.extend_from_slice(b"Exif\0\0MM\0\x2a\xff\xff\xff\xff garbage garbage");
        garbage.extend_from_slice(&sample_jpeg(16, 16, None)[2..]);
        assert_eq!(read(&garbage), ExifFacts::default());
        assert_eq!(read(b"not even an image"), ExifFacts::default());
    }
}
