//! The device identity: an Ed25519 key made at initialisation, its seed kept encrypted at rest
//! under a key the platform supplies (Android Keystore, iOS Keychain; on the desktop a passphrase
//! or a key file).

use std::path::Path;

use automerge::ActorId;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Associated data binding a sealed seed to its purpose and format version.
const SEAL_CONTEXT: &[u8] = b"onevisit device seed v1";
/// Length of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;
/// Length of the passphrase salt.
const SALT_LEN: usize = 16;

/// Why the device key cannot be made, unsealed or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The wrapping key is wrong, or the sealed seed was altered.
    #[error("无法解锁设备密钥：口令或密钥文件不对，或者加密保存的密钥被改动过")]
    WrongKeyOrTampered,
    /// The sealed seed does not have the expected layout.
    #[error("加密保存的设备密钥格式错误")]
    MalformedSealedSeed,
    /// The unsealed key does not match the public key on record.
    #[error("解锁出的设备密钥与本设备的公钥不符")]
    PublicKeyMismatch,
    /// The key file cannot be read or created.
    #[error("密钥文件 {path}：{source}（在没有存储的目录运行时，先运行 onevisit init --inspector 执法人员编号）")]
    KeyFile {
        /// The key file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A key file must hold exactly 32 bytes.
    #[error("密钥文件 {path} 必须正好是 32 字节")]
    KeyFileLength {
        /// The key file.
        path: String,
    },
    /// A passphrase must not be empty.
    #[error("口令不能为空")]
    EmptyPassphrase,
    /// The key derivation failed (bad parameters).
    #[error("由口令派生密钥失败")]
    Derivation,
    /// The platform key store (Android Keystore, iOS Keychain) refused to seal or open the seed.
    #[error("系统密钥库拒绝：{0}")]
    Platform(String),
}

/// A platform-held key that encrypts the device seed at rest.
///
/// Implemented by the desktop for a passphrase and a key file; the mobile shells implement it over
/// the Android Keystore or the iOS Keychain.
pub trait SeedWrapper: Send + Sync {
    /// Encrypts the seed; the result is stored beside the public key.
    fn wrap(&self, seed: &[u8; 32]) -> Result<Vec<u8>, KeyError>;
    /// Decrypts what [`Self::wrap`] produced.
    fn unwrap(&self, sealed: &[u8]) -> Result<[u8; 32], KeyError>;

    /// Whether unwrapping took something only the user has just given (a typed passphrase): then
    /// signatures made soon after count as made in the user's presence.
    fn confirms_presence(&self) -> bool {
        false
    }
}

/// A wrapping key derived from a passphrase with Argon2id.
pub struct PassphraseWrapper {
    passphrase: String,
}

impl PassphraseWrapper {
    /// Wraps with `passphrase`, which must not be empty.
    pub fn new(passphrase: impl Into<String>) -> Result<Self, KeyError> {
        let passphrase = passphrase.into();
        if passphrase.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        Ok(PassphraseWrapper { passphrase })
    }

    fn derive(&self, salt: &[u8]) -> Result<[u8; 32], KeyError> {
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(self.passphrase.as_bytes(), salt, &mut key)
            .map_err(|_| KeyError::Derivation)?;
        Ok(key)
    }
}

impl SeedWrapper for PassphraseWrapper {
    fn confirms_presence(&self) -> bool {
        true
    }

    fn wrap(&self, seed: &[u8; 32]) -> Result<Vec<u8>, KeyError> {
        let mut salt = [0u8; SALT_LEN];
        crate::random::fill(&mut salt);
        let mut out = salt.to_vec();
        out.extend(seal(&self.derive(&salt)?, seed));
        Ok(out)
    }

    fn unwrap(&self, sealed: &[u8]) -> Result<[u8; 32], KeyError> {
        if sealed.len() < SALT_LEN {
            return Err(KeyError::MalformedSealedSeed);
        }
        let (salt, rest) = sealed.split_at(SALT_LEN);
        open(&self.derive(salt)?, rest)
    }
}

/// A wrapping key read from a 32-byte key file (e.g. on a removable token).
pub struct KeyFileWrapper {
    key: [u8; 32],
}

impl KeyFileWrapper {
    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| KeyError::KeyFile { path: name.clone(), source })?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::KeyFileLength { path: name })?;
        Ok(KeyFileWrapper { key })
    }

    /// Creates a new random key file at `path` (owner-only permissions), refusing to overwrite one.
    pub fn create(path: &Path) -> Result<Self, KeyError> {
        use std::io::Write;
        let name = path.display().to_string();
        let mut key = [0u8; 32];
        crate::random::fill(&mut key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let io = |source| KeyError::KeyFile { path: name.clone(), source };
        let mut file = options.open(path).map_err(io)?;
        file.write_all(&key).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(KeyFileWrapper { key })
    }

    /// Loads the key file if it exists, otherwise creates it.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        if path.exists() { Self::load(path) } else { Self::create(path) }
    }
}

impl SeedWrapper for KeyFileWrapper {
    fn wrap(&self, seed: &[u8; 32]) -> Result<Vec<u8>, KeyError> {
        Ok(seal(&self.key, seed))
    }

    fn unwrap(&self, sealed: &[u8]) -> Result<[u8; 32], KeyError> {
        open(&self.key, sealed)
    }
}

fn seal(key: &[u8; 32], seed: &[u8; 32]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(&Key::from(*key));
    let mut nonce = [0u8; NONCE_LEN];
    crate::random::fill(&mut nonce);
    // Encryption of 32 bytes under a valid key and nonce cannot fail.
    let ciphertext = cipher.encrypt(&XNonce::from(nonce), Payload { msg: seed, aad: SEAL_CONTEXT }).unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend(ciphertext);
    out
}

fn open(key: &[u8; 32], sealed: &[u8]) -> Result<[u8; 32], KeyError> {
    if sealed.len() != NONCE_LEN + 32 + 16 {
        return Err(KeyError::MalformedSealedSeed);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KeyError::MalformedSealedSeed)?;
    let cipher = XChaCha20Poly1305::new(&Key::from(*key));
    let plain = cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: SEAL_CONTEXT })
        .map_err(|_| KeyError::WrongKeyOrTampered)?;
    plain.try_into().map_err(|_| KeyError::MalformedSealedSeed)
}

/// The device's signing key. Never leaves the device; its seed is stored only sealed.
pub struct DeviceKey {
    signing: SigningKey,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey").field("device_id", &self.device_id()).finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// Makes a new key from the operating system's CSPRNG.
    pub fn generate() -> DeviceKey {
        let mut seed = [0u8; 32];
        crate::random::fill(&mut seed);
        DeviceKey { signing: SigningKey::from_bytes(&seed) }
    }

    /// A second handle on the same key, for the sync client to sign its requests while the store
    /// stays usable for recording. Crate-private: the key never leaves the core.
    pub(crate) fn duplicate(&self) -> DeviceKey {
        DeviceKey { signing: SigningKey::from_bytes(&self.signing.to_bytes()) }
    }

    /// Seals the seed under `wrapper` for storage.
    pub fn seal(&self, wrapper: &dyn SeedWrapper) -> Result<Vec<u8>, KeyError> {
        wrapper.wrap(&self.signing.to_bytes())
    }

    /// Unseals a stored seed and checks it against the public key on record.
    pub fn unseal(sealed: &[u8], wrapper: &dyn SeedWrapper, public: &[u8; 32]) -> Result<DeviceKey, KeyError> {
        let key = DeviceKey { signing: SigningKey::from_bytes(&wrapper.unwrap(sealed)?) };
        if key.public_bytes() != *public {
            return Err(KeyError::PublicKeyMismatch);
        }
        Ok(key)
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key's 32 bytes.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.verifying_key().to_bytes()
    }

    /// Signs `message` (canonical bytes of a record).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// A short stable identifier of the device: hex of the first 8 bytes of SHA-256(public key).
    pub fn device_id(&self) -> String {
        device_id_of(&self.public_bytes())
    }

    /// The Automerge actor of this device, so that every change names its device.
    pub fn actor_id(&self) -> ActorId {
        actor_id_of(&self.public_bytes())
    }
}

/// An Ed25519 public key from its 64 hex characters, or `None` if it is not one.
pub fn verifying_key_from_hex(hex_key: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// The device identifier of a public key.
pub fn device_id_of(public: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// The Automerge actor id of a public key: the first 16 bytes of SHA-256("onevisit-actor" ‖ key).
pub fn actor_id_of(public: &[u8; 32]) -> ActorId {
    let mut h = Sha256::new();
    h.update(b"onevisit-actor");
    h.update(public);
    ActorId::from(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_is_read_from_exactly_64_hex_characters() {
        let key = DeviceKey::generate();
        let hex_key = hex::encode(key.public_bytes());
        assert_eq!(verifying_key_from_hex(&hex_key), Some(key.verifying_key()));
        assert_eq!(verifying_key_from_hex(&hex_key[..62]), None);
        assert_eq!(verifying_key_from_hex(&format!("{hex_key}00")), None);
        assert_eq!(verifying_key_from_hex(&"zz".repeat(32)), None);
        assert_eq!(verifying_key_from_hex(&format!(" {hex_key}")), None, "callers trim where they accept typed input");
    }

    #[test]
    fn a_key_sealed_with_a_passphrase_unseals_only_with_it() {
        let key = DeviceKey::generate();
        let sealed = key.seal(&PassphraseWrapper::new("正确的口令").unwrap()).unwrap();
        let back =
            DeviceKey::unseal(&sealed, &PassphraseWrapper::new("正确的口令").unwrap(), &key.public_bytes()).unwrap();
        assert_eq!(back.public_bytes(), key.public_bytes());
        let wrong = DeviceKey::unseal(&sealed, &PassphraseWrapper::new("wrong").unwrap(), &key.public_bytes());
        assert!(matches!(wrong, Err(KeyError::WrongKeyOrTampered)));
    }

    #[test]
    fn a_sealed_seed_is_not_the_plain_seed() {
        let key = DeviceKey::generate();
        let dir = tempfile::tempdir().unwrap();
        let wrapper = KeyFileWrapper::create(&dir.path().join("k")).unwrap();
        let sealed = key.seal(&wrapper).unwrap();
        let seed = key.signing.to_bytes();
        assert!(!sealed.windows(32).any(|w| w == seed));
    }

    #[test]
    fn a_flipped_bit_in_the_sealed_seed_is_detected() {
        let key = DeviceKey::generate();
        let dir = tempfile::tempdir().unwrap();
        let wrapper = KeyFileWrapper::create(&dir.path().join("k")).unwrap();
        let mut sealed = key.seal(&wrapper).unwrap();
        sealed[30] ^= 1;
        assert!(matches!(DeviceKey::unseal(&sealed, &wrapper, &key.public_bytes()), Err(KeyError::WrongKeyOrTampered)));
        assert!(matches!(
            DeviceKey::unseal(&sealed[..10], &wrapper, &key.public_bytes()),
            Err(KeyError::MalformedSealedSeed)
        ));
    }

    #[test]
    fn a_key_file_of_the_wrong_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short");
        std::fs::write(&path, b"too short").unwrap();
        assert!(matches!(KeyFileWrapper::load(&path), Err(KeyError::KeyFileLength { .. })));
        assert!(matches!(KeyFileWrapper::create(&path), Err(KeyError::KeyFile { .. })));
    }

    #[test]
    fn a_seed_for_another_public_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wrapper = KeyFileWrapper::create(&dir.path().join("k")).unwrap();
        let sealed = DeviceKey::generate().seal(&wrapper).unwrap();
        let other = DeviceKey::generate().public_bytes();
        assert!(matches!(DeviceKey::unseal(&sealed, &wrapper, &other), Err(KeyError::PublicKeyMismatch)));
    }
}
