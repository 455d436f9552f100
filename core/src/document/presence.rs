//! The signer's presence at signing: before a device signs a document (an officer's signature, or
//! the party's act it attests), the platform confirms that its user is there — biometrics or the
//! device credential bound to the platform key on Android and iOS, the store's passphrase typed
//! for the command on a desktop — and the signature statement says which.

use serde::{Deserialize, Serialize};

/// How long after the store was unlocked with its passphrase a signature still counts as made
/// by the person who typed it (a desktop command signs within seconds).
pub const PASSPHRASE_PRESENCE_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

/// How the signer's presence was confirmed when the statement was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerPresence {
    /// The store's passphrase, typed to unlock the device key for this command (desktop).
    Passphrase,
    /// A biometric check through the platform, bound to the platform key.
    Biometric,
    /// The device's PIN, pattern or password through the platform, bound to the platform key.
    DeviceCredential,
}

impl SignerPresence {
    /// How the printout and the verifier name it (zh-CN).
    pub fn label_zh(self) -> &'static str {
        match self {
            SignerPresence::Passphrase => "签名人输入口令确认",
            SignerPresence::Biometric => "签名人生物识别确认",
            SignerPresence::DeviceCredential => "签名人设备锁屏密码确认",
        }
    }
}

/// Why the signer's presence was not confirmed: nothing is signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    /// The user cancelled the prompt or failed the check.
    #[error("未确认签名人本人在场（已取消或验证未通过），未签署")]
    NotConfirmed,
    /// The platform cannot check presence (no biometrics or device credential set up).
    #[error("本设备无法验证签名人本人（请先设置锁屏密码或生物识别）：{0}")]
    Unavailable(String),
}

/// The platform's check of its user's presence, asked before every signature.
pub trait PresenceCheck: Send + Sync {
    /// Asks the user to confirm, showing `prompt` (zh-CN: what is about to be signed).
    fn confirm(&self, prompt: &str) -> Result<SignerPresence, PresenceError>;
}
