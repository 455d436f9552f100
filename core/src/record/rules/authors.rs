//! Who made a change: its Automerge actor bound to the tenant (the root key's actor) or to a device
//! whose certificate, signed by the tenant root and carried in the record, names an inspector.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, AutoCommit, Change, ROOT, ReadDoc, ScalarValue};

use super::WriteRules;
use crate::certificate::SignedCertificate;
use crate::domain::{DepartmentId, InspectorId};
use crate::identity::actor_id_of;

/// The identity behind a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    /// The tenant's own actor: the planning office, writing through the server.
    Tenant,
    /// An inspector's device.
    Inspector {
        /// The inspector the device is certified for (or, unanchored, the stamp it claims).
        inspector: InspectorId,
        /// Their departments.
        departments: Vec<DepartmentId>,
        /// Whether a certificate binds the actor to the inspector (false on an unenrolled store).
        certified: bool,
    },
}

const CERTIFICATE_PREFIX: &str = "certificate/";

/// The actors the rules can name, for one batch.
pub(super) struct Authors {
    known: HashMap<ActorId, Author>,
    /// No trust anchor: inspectors are whoever their stamps claim, and the record's creator
    /// (this actor) stands for the planner.
    unanchored: Option<Option<ActorId>>,
}

impl Authors {
    /// Binds the actors of a record and of a batch of changes to their identities.
    pub(super) fn resolve(
        rules: &WriteRules<'_>,
        doc: &AutoCommit,
        batch: &[Change],
        expanded: &[automerge::ExpandedChange],
    ) -> Authors {
        let mut known = HashMap::new();
        if let Some((actor, author)) = &rules.authenticated {
            known.insert(actor.clone(), author.clone());
        }
        let Some(root) = rules.root else {
            // Unanchored: the creator of the record is its planner.
            let creator =
                batch.iter().find(|c| c.deps().is_empty()).map(|c| c.actor_id().clone()).or_else(|| creator_of(doc));
            return Authors { known, unanchored: Some(creator) };
        };
        known.insert(actor_id_of(&root.to_bytes()), Author::Tenant);
        let mut certificates: Vec<String> = doc
            .keys(ROOT)
            .filter(|k| k.starts_with(CERTIFICATE_PREFIX))
            .filter_map(|k| doc.get(ROOT, k.as_str()).ok().flatten())
            .filter_map(|(v, _)| v.as_str().map(str::to_string))
            .collect();
        for expanded in expanded {
            for op in &expanded.operations {
                if let (ObjectId::Root, Key::Map(key), OpType::Put(ScalarValue::Str(text))) =
                    (&op.obj, &op.key, &op.action)
                    && key.starts_with(CERTIFICATE_PREFIX)
                {
                    certificates.push(text.to_string());
                }
            }
        }
        for json in certificates {
            let Ok(signed) = serde_json::from_str::<SignedCertificate>(&json) else { continue };
            let Some(certificate) = verified_certificate(&signed, &root) else { continue };
            let Ok(key) = SignedCertificate::device_key(&certificate) else { continue };
            let Ok(inspector) = InspectorId::new(certificate.inspector.clone()) else { continue };
            let departments =
                certificate.departments.iter().filter_map(|d| DepartmentId::new(d.clone()).ok()).collect();
            known.entry(actor_id_of(&key.to_bytes())).or_insert(Author::Inspector {
                inspector,
                departments,
                certified: true,
            });
        }
        Authors { known, unanchored: None }
    }

    /// The author of a change by `actor`; `claimed` is the stamp its value carries, which decides
    /// only on an unanchored store. `None`: nobody the rules know.
    pub(super) fn of(
        &self,
        actor: &ActorId,
        claimed: Option<&InspectorId>,
        departments_of: impl Fn(&InspectorId) -> Vec<DepartmentId>,
    ) -> Option<Author> {
        if let Some(author) = self.known.get(actor) {
            return Some(author.clone());
        }
        let creator = self.unanchored.as_ref()?;
        match claimed {
            Some(inspector) => {
                let departments = departments_of(inspector);
                Some(Author::Inspector { inspector: inspector.clone(), departments, certified: false })
            }
            None if creator.as_ref() == Some(actor) => Some(Author::Tenant),
            None => None,
        }
    }
}

/// Certificates already verified under a root in this process, by the hash of root, bytes and
/// signature: every batch of a record carries the same few certificates, and an Ed25519 check
/// of each, every time, would cost more than judging the changes.
static VERIFIED: std::sync::Mutex<Option<HashMap<[u8; 32], crate::certificate::DeviceCertificate>>> =
    std::sync::Mutex::new(None);
const VERIFIED_MAX: usize = 4096;

fn verified_certificate(
    signed: &SignedCertificate,
    root: &ed25519_dalek::VerifyingKey,
) -> Option<crate::certificate::DeviceCertificate> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(root.as_bytes());
    h.update(signed.canonical.as_bytes());
    h.update(signed.signature.as_bytes());
    let id: [u8; 32] = h.finalize().into();
    let mut cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(c) = cache.get(&id) {
        return Some(c.clone());
    }
    let certificate = signed.verify_issued(root).ok()?;
    if cache.len() >= VERIFIED_MAX {
        cache.clear();
    }
    cache.insert(id, certificate.clone());
    Some(certificate)
}

fn creator_of(doc: &AutoCommit) -> Option<ActorId> {
    // The record's maps are made by its creation, so the `sections` map names the creator.
    match doc.get(ROOT, "sections").ok().flatten() {
        Some((_, automerge::ObjId::Id(_, actor, _))) => Some(actor),
        _ => None,
    }
}
