//! Document numbers (文号) that never collide although devices issue them offline.
//!
//! An enrolled device numbers in its agency's own sequence: `{prefix}{kind}〔{year}〕{n}号`, e.g.
//! `平消责改〔2026〕12号`, spending numbers from blocks of the sequence the server reserved for it
//! (see `store::numbers`). A store never enrolled (a stand-alone command-line store) has no
//! agency sequence to draw from and numbers in its own: `{prefix}{kind}〔{year}〕{device code}-{n}号`,
//! the device code (8 Crockford-base32 characters of its key's hash) keeping devices apart. The
//! version of a document is metadata and never part of its number.

use crate::identity::DeviceKey;

use super::DocumentKind;

/// Crockford base32, as in task codes.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The device's code inside document numbers.
pub fn device_code(key: &DeviceKey) -> String {
    device_code_of(&key.public_bytes())
}

/// The document-number code of a device public key.
pub fn device_code_of(public: &[u8; 32]) -> String {
    let id = hex::decode(crate::identity::device_id_of(public)).unwrap_or_default();
    let mut bits: u64 = id.iter().take(5).fold(0, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = [0u8; 8];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Formats a number of an agency's own sequence.
pub fn format_agency(prefix: &str, kind: DocumentKind, year: i32, sequence: u32) -> String {
    format!("{prefix}{}〔{year}〕{sequence}号", kind.number_code())
}

/// Formats a number of a stand-alone device's own sequence.
pub fn format(prefix: &str, kind: DocumentKind, year: i32, device_code: &str, sequence: u32) -> String {
    format!("{prefix}{}〔{year}〕{device_code}-{sequence:04}号", kind.number_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_two_devices_differ_and_one_device_counts_up() {
        let (a, b) = (DeviceKey::generate(), DeviceKey::generate());
        let (ca, cb) = (device_code(&a), device_code(&b));
        assert_eq!(ca.len(), 8);
        assert_ne!(ca, cb);
        let n1 = format("平市监", DocumentKind::OnSiteRecord, 2026, &ca, 1);
        let n2 = format("平市监", DocumentKind::OnSiteRecord, 2026, &ca, 2);
        assert!(n1.starts_with("平市监现检〔2026〕") && n1.ends_with("-0001号"), "{n1}");
        assert_ne!(n1, n2);
        assert_ne!(n1, format("平市监", DocumentKind::OnSiteRecord, 2026, &cb, 1));
        assert_ne!(n1, format("平市监", DocumentKind::RectificationOrder, 2026, &ca, 1));
    }
}
