//! Identifiers of directory entries: short, printable, stable strings assigned by the server.

use serde::{Deserialize, Serialize};

/// Why a string cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}编号“{value}”须为 1～64 个可打印字符，不含空格", kind_zh(.kind))]
pub struct IdError {
    /// Which kind of identifier was being parsed.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

/// A kind of identifier or directory entry as a person names it (errors of ids and the directory).
pub(crate) fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "department" => "部门",
        "inspector" => "执法人员",
        "enterprise" => "企业",
        "matter" => "检查事项",
        "check point" => "检查项",
        _ => "条目",
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an identifier.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let ok = !value.is_empty()
                    && value.chars().count() <= 64
                    && value.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '/');
                if ok { Ok(Self(value)) } else { Err(IdError { kind: $kind, value }) }
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// Identifies an enforcement department (执法部门).
    DepartmentId, "department"
);
id_type!(
    /// Identifies an inspector (执法人员).
    InspectorId, "inspector"
);
id_type!(
    /// Identifies an inspection matter (检查事项) in the catalogue.
    MatterId, "matter"
);
id_type!(
    /// Identifies a check point (检查要点) within the catalogue; unique across all matters.
    CheckPointId, "check point"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_spaced_and_slashed_ids() {
        assert!(DepartmentId::new("").is_err());
        assert!(DepartmentId::new("a b").is_err());
        assert!(CheckPointId::new("a/b").is_err());
        assert!(InspectorId::new("x".repeat(65)).is_err());
        assert_eq!(MatterId::new("SCJG-01").unwrap().as_str(), "SCJG-01");
    }
}
