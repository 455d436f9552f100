//! Console accounts: who may use the command centre's console and what they may see. People log
//! in with a password (Argon2id); devices never do.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

use crate::storage::{ConsoleUser, Storage, StorageError};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What an account may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// City administrator (市级管理员): everything.
    Administrator,
    /// Department supervisor (部门负责人): only the tasks their department takes part in.
    Supervisor {
        /// The department.
        department: String,
    },
    /// Auditor (审计): reads everything, changes nothing.
    Auditor,
}

impl Role {
    /// The role of a stored account, if it is one this version knows.
    pub fn of(user: &ConsoleUser) -> Option<Role> {
        match (user.role.as_str(), &user.department) {
            ("administrator", _) => Some(Role::Administrator),
            ("supervisor", Some(d)) => Some(Role::Supervisor { department: d.clone() }),
            ("auditor", _) => Some(Role::Auditor),
            _ => None,
        }
    }

    /// The machine name, as stored and given to `user add --role`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Supervisor { .. } => "supervisor",
            Role::Auditor => "auditor",
        }
    }

    /// The role with its department, as the action log names it.
    pub fn as_stored(&self) -> String {
        match self {
            Role::Supervisor { department } => format!("supervisor:{department}"),
            other => other.as_str().into(),
        }
    }

    /// Whether it acts for the whole city: plans draws, enrols and revokes devices.
    pub fn may_administer(&self) -> bool {
        matches!(self, Role::Administrator)
    }

    /// How the console names it.
    pub fn label_zh(&self) -> String {
        match self {
            Role::Administrator => "市级管理员".into(),
            Role::Supervisor { department } => format!("部门负责人（{department}）"),
            Role::Auditor => "审计（只读）".into(),
        }
    }

    /// The department whose tasks alone it may see, if it is limited to one.
    pub fn department(&self) -> Option<&str> {
        match self {
            Role::Supervisor { department } => Some(department),
            _ => None,
        }
    }

    /// Whether it may change anything (plan, publish, revoke).
    pub fn may_change(&self) -> bool {
        !matches!(self, Role::Auditor)
    }
}

/// Why an account could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Storage failed, or the name is taken, or there is no such account.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The password is too short.
    #[error("密码至少 {MIN_PASSWORD_CHARS} 个字符")]
    WeakPassword,
    /// The login name is not usable.
    #[error("账号名须为 1–32 个字母、数字、点、下划线或连字符：{0}")]
    BadName(String),
    /// A supervisor needs a department of the directory.
    #[error("部门负责人须给出名录中的部门（--department，如 xfjy）")]
    NoDepartment,
    /// Hashing failed.
    #[error("密码散列失败")]
    Hash,
}

/// The Argon2id hash (PHC string) of a password, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    Ok(Argon2::default().hash_password(password.as_bytes()).map_err(|_| AccountError::Hash)?.to_string())
}

/// Whether `password` matches a stored hash (false for a hash that does not parse).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash no password matches, checked when the name is unknown so that a wrong name takes as
/// long as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 24];
        onevisit_core::random::fill(&mut random);
        hash_password(&hex::encode(random)).unwrap_or_default()
    })
}

fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = (1..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(AccountError::BadName(name.to_string())) }
}

/// Makes an account.
pub async fn add<S: Storage>(
    storage: &S,
    name: &str,
    role: Role,
    password: &str,
    now_ms: i64,
) -> Result<(), AccountError> {
    check_name(name)?;
    if matches!(&role, Role::Supervisor { department } if department.trim().is_empty()) {
        return Err(AccountError::NoDepartment);
    }
    let user = ConsoleUser {
        name: name.to_string(),
        password_hash: hash_password(password)?,
        role: role.as_str().to_string(),
        department: role.department().map(str::to_string),
        disabled: false,
        created_at_ms: now_ms,
    };
    storage.add_user(user).await?;
    Ok(())
}

/// Sets a new password; the account's sessions end.
pub async fn change_password<S: Storage>(storage: &S, name: &str, password: &str) -> Result<(), AccountError> {
    storage.set_password(name.to_string(), hash_password(password)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_argon2id_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!verify_password("", decoy_hash()));
        assert_ne!(hash, hash_password("correct horse battery").unwrap(), "a fresh salt each time");
        assert!(matches!(hash_password("short"), Err(AccountError::WeakPassword)));
    }

    #[test]
    fn roles_round_trip_and_only_a_supervisor_is_limited_to_a_department() {
        let user = |role: &str, department: Option<&str>| ConsoleUser {
            name: "u".into(),
            password_hash: String::new(),
            role: role.into(),
            department: department.map(Into::into),
            disabled: false,
            created_at_ms: 0,
        };
        assert_eq!(Role::of(&user("administrator", None)), Some(Role::Administrator));
        let supervisor = Role::of(&user("supervisor", Some("xfjy"))).unwrap();
        assert_eq!(supervisor.department(), Some("xfjy"));
        assert!(supervisor.may_change());
        assert_eq!(Role::of(&user("supervisor", None)), None, "a supervisor without a department is no role");
        assert!(!Role::of(&user("auditor", None)).unwrap().may_change());
        assert_eq!(Role::of(&user("root", None)), None);
        assert!(check_name("zhang.san-1").is_ok());
        assert!(check_name("张三").is_err() && check_name("").is_err() && check_name("a b").is_err());
    }
}
