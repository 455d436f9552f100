//! Canonical JSON (RFC 8785, JCS) for the bytes that signatures cover.
//!
//! Signed records hold only strings, booleans, null, arrays, objects and integers within ±2^53,
//! for which JCS is exact and simple: keys sorted by UTF-16 code units, no whitespace, minimal
//! string escapes. Floats and larger integers are refused rather than silently rounded.

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

/// The largest integer JSON numbers carry exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value cannot be canonicalised.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// The value did not serialise to JSON.
    #[error("值无法编码为 JSON")]
    Serialize(#[from] serde_json::Error),
    /// A float or an integer beyond ±2^53: use fixed-point integers or strings in signed data.
    #[error("数字 {0} 不是 ±2^53 以内的整数：签名数据中这类数字须写成字符串")]
    UnsafeNumber(String),
}

/// Serialises `value` to RFC 8785 canonical JSON bytes.
pub fn to_canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value)?;
    let mut out = String::new();
    write_value(&value, &mut out)?;
    Ok(out.into_bytes())
}

fn write_value(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let safe = n.as_u64().is_some_and(|u| u <= MAX_SAFE_INTEGER)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER);
            if !safe {
                return Err(CanonicalError::UnsafeNumber(n.to_string()));
            }
            out.push_str(&n.to_string());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "c": {"z": 0, "y": -5}});
        assert_eq!(to_canonical_json(&v).unwrap(), br#"{"a":[true,null,"x"],"b":1,"c":{"y":-5,"z":0}}"#);
    }

    #[test]
    fn escapes_minimally_and_keeps_unicode() {
        let v = json!({"k": "平湖\n\"q\"\u{1}\\"});
        assert_eq!(
            String::from_utf8(to_canonical_json(&v).unwrap()).unwrap(),
            "{\"k\":\"平湖\\n\\\"q\\\"\\u0001\\\\\"}"
        );
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // U+1F600 is the surrogate pair D83D DE00 in UTF-16, so it sorts before U+E000 there,
        // although its UTF-8 bytes (F0 …) sort after U+E000's (EE …).
        let v = json!({"\u{E000}": 2, "\u{1F600}": 1});
        let s = String::from_utf8(to_canonical_json(&v).unwrap()).unwrap();
        assert_eq!(s, "{\"\u{1F600}\":1,\"\u{E000}\":2}");
    }

    #[test]
    fn refuses_floats_and_large_integers() {
        assert!(matches!(to_canonical_json(&json!({"x": 1.5})), Err(CanonicalError::UnsafeNumber(_))));
        assert!(matches!(to_canonical_json(&json!(9007199254740993u64)), Err(CanonicalError::UnsafeNumber(_))));
        assert!(to_canonical_json(&json!(9007199254740991u64)).is_ok());
        assert!(to_canonical_json(&json!(-9007199254740991i64)).is_ok());
    }
}
