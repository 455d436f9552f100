//! The unified social credit code (统一社会信用代码) of GB 32100-2015.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The 31 characters a USCC may use (the Latin letters I, O, Z, S and V are excluded).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weight of each of the first 17 positions in the check-character sum.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a string is not a valid unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// A USCC has exactly 18 characters.
    #[error("统一社会信用代码应为 18 位，这里是 {0} 位")]
    WrongLength(usize),
    /// A character outside the GB 32100 alphabet.
    #[error("统一社会信用代码第 {position} 位的“{character}”不是允许的字符（不含 I、O、Z、S、V）")]
    InvalidCharacter {
        /// Its position in the log.
        position: usize,
        /// The character found.
        character: char,
    },
    /// Positions 3-8 hold the administrative division code: six digits.
    #[error("统一社会信用代码第 3～8 位应为 6 位行政区划代码")]
    InvalidDivisionCode,
    /// The 18th character does not match the one computed from the first 17.
    #[error("校验码是“{found}”，按前 17 位应为“{expected}”：请核对是否抄错")]
    CheckCharacterMismatch {
        /// What was expected.
        expected: char,
        /// What was found.
        found: char,
    },
}

/// A validated 18-character unified social credit code: the enterprise's identity in every record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

impl Uscc {
    /// Parses and validates a code, accepting lower-case letters and surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, UsccError> {
        let code: String = input.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(UsccError::WrongLength(chars.len()));
        }
        let mut values = [0u32; 18];
        for (i, &c) in chars.iter().enumerate() {
            values[i] = alphabet_value(c).ok_or(UsccError::InvalidCharacter { position: i + 1, character: c })?;
        }
        if !chars[2..8].iter().all(|c| c.is_ascii_digit()) {
            return Err(UsccError::InvalidDivisionCode);
        }
        let expected = check_character(&values[..17]);
        if chars[17] != expected {
            return Err(UsccError::CheckCharacterMismatch { expected, found: chars[17] });
        }
        Ok(Uscc(code))
    }

    /// Completes the first 17 characters of a code with its check character.
    pub fn with_check_character(first17: &str) -> Result<Self, UsccError> {
        let chars: Vec<char> = first17.trim().to_ascii_uppercase().chars().collect();
        if chars.len() != 17 {
            return Err(UsccError::WrongLength(chars.len() + 1));
        }
        let mut values = [0u32; 17];
        for (i, &c) in chars.iter().enumerate() {
            values[i] = alphabet_value(c).ok_or(UsccError::InvalidCharacter { position: i + 1, character: c })?;
        }
        let mut code: String = chars.into_iter().collect();
        code.push(check_character(&values));
        Self::parse(&code)
    }

    /// The six-digit administrative division code of the registering authority (positions 3-8).
    pub fn division_code(&self) -> &str {
        &self.0[2..8]
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn alphabet_value(c: char) -> Option<u32> {
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u32)
}

fn check_character(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    ALPHABET[check as usize] as char
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Uscc {
    type Err = UsccError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Uscc {
    type Error = UsccError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Uscc> for String {
    fn from(u: Uscc) -> String {
        u.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Codes whose check characters were computed independently of this module (Python, from the standard).
    const KNOWN_VALID: &[&str] = &["91350100M000100Y43", "91110000802100433B", "91330000712558220W"];

    #[test]
    fn accepts_published_codes() {
        for code in KNOWN_VALID {
            assert_eq!(Uscc::parse(code).unwrap().as_str(), *code);
        }
    }

    #[test]
    fn accepts_lower_case_and_spaces() {
        assert_eq!(Uscc::parse(" 91350100m000100y43 ").unwrap().as_str(), "91350100M000100Y43");
    }

    #[test]
    fn rejects_a_wrong_check_character() {
        let err = Uscc::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(err, UsccError::CheckCharacterMismatch { expected: '3', found: '4' });
    }

    #[test]
    fn rejects_wrong_length() {
        assert_eq!(Uscc::parse("9135010").unwrap_err(), UsccError::WrongLength(7));
    }

    #[test]
    fn rejects_excluded_letters() {
        let err = Uscc::parse("91350100M000100I43").unwrap_err();
        assert_eq!(err, UsccError::InvalidCharacter { position: 16, character: 'I' });
    }

    #[test]
    fn rejects_letters_in_the_division_code() {
        assert_eq!(Uscc::parse("9133A482MA2B3C4D5E").unwrap_err(), UsccError::InvalidDivisionCode);
    }

    #[test]
    fn completes_a_code_with_its_check_character() {
        let code = Uscc::with_check_character("91350100M000100Y4").unwrap();
        assert_eq!(code.as_str(), "91350100M000100Y43");
        assert_eq!(code.division_code(), "350100");
    }

    #[test]
    fn deserialising_validates() {
        let bad: Result<Uscc, _> = serde_json::from_str("\"91350100M000100Y44\"");
        assert!(bad.is_err());
    }
}
