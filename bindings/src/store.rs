//! The device store handle: opening it under a protected key, who the device is, directory data
//! and the task list.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use onevisit_core::domain::{DepartmentId, Directory, TaskCode};
use onevisit_core::identity::{KeyError, KeyFileWrapper, PassphraseWrapper, SeedWrapper};
use onevisit_core::store::{Store, StoreError as CoreStoreError, TaskFilter};

use crate::errors::{KeyProtectorError, RecordError, StoreError, key_error};
use crate::types::{AuditSummary, DepartmentInfo, DeviceInfo, InspectorInfo, TaskQuery, TaskSummary};

/// Implemented by the app over the platform key store (Android Keystore, iOS Keychain): seals the
/// device's 32-byte key seed at rest.
#[uniffi::export(with_foreign)]
pub trait KeyProtector: Send + Sync {
    /// Encrypts the seed; what it returns is stored in the store.
    fn seal(&self, seed: Vec<u8>) -> Result<Vec<u8>, KeyProtectorError>;
    /// Decrypts what `seal` returned.
    fn open(&self, sealed: Vec<u8>) -> Result<Vec<u8>, KeyProtectorError>;
}

/// How the platform confirmed its user's presence for one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SignerPresence {
    /// A biometric check (BiometricPrompt; Face ID / Touch ID), bound to the platform key.
    Biometric,
    /// The device's PIN, pattern or password, bound to the platform key.
    DeviceCredential,
}

/// Why the platform did not confirm its user's presence.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PresenceError {
    /// The user cancelled the prompt or failed the check.
    #[error("签名人取消或未通过本人验证")]
    NotConfirmed,
    /// The device cannot check presence (no lock screen or biometrics set up).
    #[error("本设备无法验证签名人本人：{detail}")]
    Unavailable {
        /// What the platform said.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for PresenceError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        PresenceError::Unavailable { detail: e.reason }
    }
}

/// Implemented by the app over the platform's user authentication (Android BiometricPrompt with
/// a key that requires it, iOS LocalAuthentication with `.userPresence`): asked before every
/// signature this device makes, with what is about to be signed.
#[uniffi::export(with_foreign)]
pub trait PresenceVerifier: Send + Sync {
    /// Asks the user to confirm; blocks until they do, cancel or fail.
    fn confirm(&self, prompt: String) -> Result<SignerPresence, PresenceError>;
}

struct PlatformPresence(Arc<dyn PresenceVerifier>);

impl onevisit_core::document::presence::PresenceCheck for PlatformPresence {
    fn confirm(
        &self,
        prompt: &str,
    ) -> Result<onevisit_core::document::presence::SignerPresence, onevisit_core::document::presence::PresenceError>
    {
        use onevisit_core::document::presence::{PresenceError as Core, SignerPresence as Presence};
        match self.0.confirm(prompt.to_string()) {
            Ok(SignerPresence::Biometric) => Ok(Presence::Biometric),
            Ok(SignerPresence::DeviceCredential) => Ok(Presence::DeviceCredential),
            Err(PresenceError::NotConfirmed) => Err(Core::NotConfirmed),
            Err(PresenceError::Unavailable { detail }) => Err(Core::Unavailable(detail)),
        }
    }
}

/// How the device key's seed is protected at rest.
#[derive(uniffi::Enum)]
pub enum KeyProtection {
    /// A 32-byte key file (created when missing); for desktops and tests.
    KeyFile {
        /// The key file (created when missing).
        path: String,
    },
    /// A passphrase (Argon2id).
    Passphrase {
        /// The passphrase.
        passphrase: String,
    },
    /// The platform key store, through the app's protector.
    Platform {
        /// The app's key protector.
        protector: Arc<dyn KeyProtector>,
    },
}

struct PlatformWrapper(Arc<dyn KeyProtector>);

impl SeedWrapper for PlatformWrapper {
    fn wrap(&self, seed: &[u8; 32]) -> Result<Vec<u8>, KeyError> {
        self.0.seal(seed.to_vec()).map_err(|e| KeyError::Platform(e.to_string()))
    }

    fn unwrap(&self, sealed: &[u8]) -> Result<[u8; 32], KeyError> {
        let seed = self.0.open(sealed.to_vec()).map_err(|e| KeyError::Platform(e.to_string()))?;
        <[u8; 32]>::try_from(seed.as_slice()).map_err(|_| KeyError::MalformedSealedSeed)
    }
}

fn wrapper(key: KeyProtection) -> Result<Box<dyn SeedWrapper>, StoreError> {
    Ok(match key {
        KeyProtection::KeyFile { path } => {
            Box::new(KeyFileWrapper::load_or_create(&PathBuf::from(path)).map_err(key_error)?)
        }
        KeyProtection::Passphrase { passphrase } => Box::new(PassphraseWrapper::new(passphrase).map_err(key_error)?),
        KeyProtection::Platform { protector } => Box::new(PlatformWrapper(protector)),
    })
}

/// One device's store: the records, photos, keys and sync state in one folder.
#[derive(uniffi::Object)]
pub struct DeviceStore {
    pub(crate) store: Arc<Mutex<Store>>,
}

impl DeviceStore {
    /// The store, locked for one short operation.
    pub(crate) fn lock<E: From<CoreStoreError>>(&self) -> Result<MutexGuard<'_, Store>, E> {
        self.store.lock().map_err(|_| E::from(CoreStoreError::Poisoned))
    }

    /// The directory data, for names.
    pub(crate) fn directory(&self) -> Result<Arc<Directory>, RecordError> {
        Ok(self.lock::<RecordError>()?.directory()?)
    }
}

/// Parses a task code argument.
pub(crate) fn task_code(code: &str) -> Result<TaskCode, RecordError> {
    TaskCode::parse(code).map_err(|e| RecordError::InvalidInput { detail: e.to_string() })
}

/// Parses a `YYYY-MM-DD` argument.
pub(crate) fn date(day: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").map_err(|_| format!("{day:?} is not a YYYY-MM-DD date"))
}

#[uniffi::export]
impl DeviceStore {
    /// Opens the store in `path`, creating it (and the device key) for `inspector` when there is
    /// none yet.
    #[uniffi::constructor]
    pub fn open(path: String, key: KeyProtection, inspector: Option<String>) -> Result<Arc<Self>, StoreError> {
        let root = PathBuf::from(&path);
        let wrapper = wrapper(key)?;
        let store = match Store::open(&root, wrapper.as_ref()) {
            Ok(store) => store,
            Err(CoreStoreError::NotInitialised(_)) if inspector.is_some() => {
                std::fs::create_dir_all(&root).map_err(|e| StoreError::Storage { detail: format!("{path}: {e}") })?;
                let inspector =
                    inspector.as_deref().map(str::parse).transpose().map_err(|e: onevisit_core::domain::IdError| {
                        StoreError::InvalidInput { detail: e.to_string() }
                    })?;
                Store::init(&root, wrapper.as_ref(), inspector)?
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Arc::new(DeviceStore { store: Arc::new(Mutex::new(store)) }))
    }

    /// Asks `verifier` for the user's presence before every signature made through this store
    /// (the officer's own, and the party's act the officer attests); the statement records how.
    pub fn set_presence_verifier(&self, verifier: Arc<dyn PresenceVerifier>) -> Result<(), StoreError> {
        self.lock::<StoreError>()?.set_presence_check(Arc::new(PlatformPresence(verifier)));
        Ok(())
    }

    /// Who this device is and where it is enrolled.
    pub fn device_info(&self) -> Result<DeviceInfo, StoreError> {
        let store = self.lock::<StoreError>()?;
        let account = store.sync_account()?;
        Ok(DeviceInfo {
            device_id: store.device_key().device_id(),
            public_key_hex: hex::encode(store.device_key().public_bytes()),
            inspector: store.inspector().map(|i| i.to_string()),
            server_url: account.as_ref().map(|a| a.server_url.clone()),
            device_code: account.map(|a| a.device_code),
        })
    }

    /// Imports directory data (JSON) given out of band; a sync brings the server's own.
    pub fn import_directory_json(&self, json: String) -> Result<(), StoreError> {
        let directory = Directory::from_json(json.as_bytes())
            .map_err(|e| StoreError::InvalidDirectory { detail: e.to_string() })?;
        self.lock::<StoreError>()?.import_directory(directory)?;
        Ok(())
    }

    /// The departments of the directory.
    pub fn departments(&self) -> Result<Vec<DepartmentInfo>, StoreError> {
        let directory = self.lock::<StoreError>()?.directory()?;
        Ok(directory
            .departments()
            .map(|d| DepartmentInfo { id: d.id.to_string(), name: d.name.clone(), short_name: d.short_name.clone() })
            .collect())
    }

    /// The inspectors of the directory.
    pub fn inspectors(&self) -> Result<Vec<InspectorInfo>, StoreError> {
        let directory = self.lock::<StoreError>()?.directory()?;
        Ok(directory
            .inspectors()
            .map(|i| InspectorInfo {
                id: i.id.to_string(),
                name: i.name.clone(),
                certificate_number: i.certificate_number.clone(),
                department: i.department.to_string(),
            })
            .collect())
    }

    /// The task list, narrowed by `query`.
    pub fn tasks(&self, query: TaskQuery) -> Result<Vec<TaskSummary>, StoreError> {
        let invalid = |detail: String| StoreError::InvalidInput { detail };
        let filter = TaskFilter {
            status: query.status.map(Into::into),
            date: query.date.as_deref().map(date).transpose().map_err(invalid)?,
            enterprise: None,
            department: query
                .department
                .as_deref()
                .map(DepartmentId::new)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
            limit: query.limit.map(|l| l as usize),
        };
        Ok(self.lock::<StoreError>()?.list_tasks(&filter)?.into_iter().map(Into::into).collect())
    }

    /// Checks the device's signed audit log (全过程记录).
    pub fn verify_audit(&self) -> Result<AuditSummary, StoreError> {
        let store = self.lock::<StoreError>()?;
        audit_summary(&store)
    }

    /// After the server refused the audit log (e.g. this store was restored from an old backup),
    /// starts a new chain segment from the server's head, carrying over the entries it never
    /// accepted; `reason` is signed into the chain.
    pub fn start_audit_segment(&self, reason: String) -> Result<AuditSummary, StoreError> {
        let mut store = self.lock::<StoreError>()?;
        store.start_audit_segment(&reason)?;
        audit_summary(&store)
    }
}

/// The audit log's state as the app shows it.
fn audit_summary(store: &Store) -> Result<AuditSummary, StoreError> {
    let report = store.verify_audit()?;
    Ok(AuditSummary {
        entries: report.entries as u64,
        head_seq: report.head_seq,
        intact: report.is_intact(),
        problems: report.problems.iter().map(ToString::to_string).collect(),
        confirmed_through: store.audit_confirmed_seq()?,
        server_refusal: store.audit_refusal()?.map(|r| r.reason),
        segments: report.segments.iter().map(|s| format!("#{}: {}", s.seq, s.explanation)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for a platform key store: XORs with a fixed pad, or refuses.
    struct Pad {
        refuse: bool,
    }

    impl KeyProtector for Pad {
        fn seal(&self, seed: Vec<u8>) -> Result<Vec<u8>, KeyProtectorError> {
            Ok(seed.iter().map(|b| b ^ 0x5a).collect())
        }

        fn open(&self, sealed: Vec<u8>) -> Result<Vec<u8>, KeyProtectorError> {
            if self.refuse {
                return Err(KeyProtectorError::Refused { detail: "the device is locked".into() });
            }
            Ok(sealed.iter().map(|b| b ^ 0x5a).collect())
        }
    }

    fn platform(refuse: bool) -> KeyProtection {
        KeyProtection::Platform { protector: Arc::new(Pad { refuse }) }
    }

    #[test]
    fn a_store_sealed_by_the_platform_opens_again_with_the_same_device_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s").display().to_string();
        let first = DeviceStore::open(path.clone(), platform(false), Some("scjg-01".into())).expect("create");
        let key = first.device_info().expect("info").public_key_hex;
        drop(first);
        let again = DeviceStore::open(path, platform(false), None).expect("reopen");
        assert_eq!(again.device_info().expect("info").public_key_hex, key);
    }

    #[test]
    fn a_platform_that_refuses_to_open_the_key_is_reported_and_the_store_is_untouched() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s").display().to_string();
        drop(DeviceStore::open(path.clone(), platform(false), Some("scjg-01".into())).expect("create"));
        let refused = DeviceStore::open(path.clone(), platform(true), None).err().expect("refused");
        assert!(matches!(&refused, StoreError::KeyLocked { detail } if detail.contains("locked")), "{refused:?}");
        assert!(DeviceStore::open(path, platform(false), None).is_ok());
    }

    #[test]
    fn a_missing_store_without_an_inspector_is_not_initialised_and_creates_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("none");
        let key = KeyProtection::Passphrase { passphrase: "口令".into() };
        let e = DeviceStore::open(path.display().to_string(), key, None).err().expect("refused");
        assert!(matches!(e, StoreError::NotInitialised { .. }));
        assert!(!path.exists());
    }
}
