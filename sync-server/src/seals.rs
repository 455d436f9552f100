//! The agency seal the server applies: each department's SM2 organisation key, derived from the
//! tenant root's key (so it is sealed at rest exactly as the root is, and every replica holds the
//! same key without storing a secret), its certificate signed by the root, and the sealing of a
//! record's document versions once a write makes them fully signed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use onevisit_core::certificate::RevocationList;
use onevisit_core::domain::{DepartmentId, Directory};
use onevisit_core::record::InspectionRecord;
use onevisit_core::record::documents::SignerTrust;
use onevisit_core::seal::{
    AgencySeal, ORGANISATION_CERTIFICATE_SCHEMA, OrganisationCertificate, OrganisationKey, SEAL_ALGORITHM, SEAL_SCHEMA,
    SealStatement,
};
use onevisit_core::sync::wire::SignedStatement;

use crate::tenant::Tenant;

/// Why a document could not be sealed (the write that completed it still stands; the next write
/// of the record tries again).
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// The record could not be read or written.
    #[error(transparent)]
    Record(#[from] onevisit_core::record::RecordError),
    /// The directory has no such department (the document names one the city removed).
    #[error("目录中没有部门 {0}，无法加盖印章")]
    UnknownDepartment(String),
    /// A statement could not be encoded (a bug).
    #[error(transparent)]
    Seal(#[from] onevisit_core::seal::SealError),
    /// A certificate could not be encoded (a bug).
    #[error(transparent)]
    Canonical(#[from] onevisit_core::canonical::CanonicalError),
}

/// A department's seal key with the certificate issued for it under one agency name.
struct DepartmentSeal {
    agency: String,
    key: Arc<OrganisationKey>,
    certificate: SignedStatement,
}

/// The city's seals, one per department, made on first use and kept for the process.
#[derive(Default)]
pub struct Sealer {
    departments: Mutex<HashMap<String, Arc<DepartmentSeal>>>,
}

impl Sealer {
    /// A department's organisation certificate and key, for `agency` (its name in the directory).
    fn department(&self, tenant: &Tenant, department: &str, agency: &str) -> Result<Arc<DepartmentSeal>, SealingError> {
        let mut known = self.departments.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(seal) = known.get(department).filter(|s| s.agency == agency) {
            return Ok(seal.clone());
        }
        let key = organisation_key(tenant, department);
        let certificate = OrganisationCertificate {
            schema: ORGANISATION_CERTIFICATE_SCHEMA.into(),
            tenant: tenant.id.clone(),
            department: department.to_string(),
            agency: agency.to_string(),
            algorithm: SEAL_ALGORITHM.into(),
            seal_public_key: key.public_hex(),
            issuer_public_key: hex::encode(tenant.root_public_key()),
        };
        let certificate = tenant.sign(&certificate)?;
        let seal = Arc::new(DepartmentSeal { agency: agency.to_string(), key: Arc::new(key), certificate });
        known.insert(department.to_string(), seal.clone());
        Ok(seal)
    }

    /// Seals every latest document version of `record` that is fully signed and not yet sealed,
    /// as the tenant's changes to the record; returns how many. Signer identities are checked
    /// under the root and `revocations`.
    pub fn seal_completed(
        &self,
        tenant: &Tenant,
        record: &mut InspectionRecord,
        directory: &Directory,
        revocations: Option<&RevocationList>,
        now_ms: i64,
    ) -> Result<usize, SealingError> {
        let root = tenant.root_key();
        let due = record.seals_due(&SignerTrust { root: &root, revocations })?;
        if due.is_empty() {
            return Ok(0);
        }
        record.set_actor(tenant.actor());
        for document in &due {
            let agency = agency(directory, &document.department)?;
            let seal = self.department(tenant, document.department.as_str(), &agency)?;
            let statement = SealStatement {
                schema: SEAL_SCHEMA.into(),
                document_sha256: document.sha256.clone(),
                document_number: document.number.clone(),
                department: document.department.to_string(),
                agency,
                signatures: document.signatures.clone(),
                sealed_at_ms: now_ms,
            };
            let sealed = AgencySeal { seal: seal.key.seal(&statement)?, certificate: seal.certificate.clone() };
            record.put_seal(&document.sha256, &sealed, now_ms)?;
        }
        Ok(due.len())
    }
}

/// The department's full name in the directory: what its seal reads.
fn agency(directory: &Directory, department: &DepartmentId) -> Result<String, SealingError> {
    directory
        .department(department)
        .map(|d| d.name.clone())
        .ok_or_else(|| SealingError::UnknownDepartment(department.to_string()))
}

/// A department's organisation key: derived from a secret only the root key's holder computes.
fn organisation_key(tenant: &Tenant, department: &str) -> OrganisationKey {
    OrganisationKey::derive(tenant.derive_secret(format!("onevisit organisation key/{department}").as_bytes()))
}
