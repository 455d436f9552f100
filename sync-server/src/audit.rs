//! Audit uploads: each device's chain must continue from what the server holds; accepted entries
//! become leaves of the tenant's RFC 6962 Merkle tree, and the device receives a signed checkpoint.

use ed25519_dalek::VerifyingKey;
use onevisit_core::audit::packed::{PackedAudit, unpack};
use onevisit_core::audit::{AuditProblem, SignedAuditEntry, verify_continuation, verify_links};
use std::collections::HashMap;

use onevisit_core::sync::merkle::{self, Hash, NodeKey};
use onevisit_core::sync::statements::{CHECKPOINT_SCHEMA, Checkpoint};
use onevisit_core::sync::wire::{AuditResult, SignedStatement};
use serde::{Deserialize, Serialize};

use crate::storage::{DeviceRecord, Storage, StorageError, StoredAuditEntry, nodes_in_order};
use crate::tenant::Tenant;

/// A stored entry: as the device signed it (its own signature empty when a packed upload's head
/// covers it), and for the last entry of a packed upload the device's signature over that head.
#[derive(Serialize)]
struct StoredJson<'a> {
    #[serde(flatten)]
    entry: &'a SignedAuditEntry,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_signature: Option<&'a str>,
}

/// An inclusion proof of one device entry in a signed checkpoint's tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry's leaf index.
    pub leaf_index: u64,
    /// The tree size the proof is for (the checkpoint's).
    pub tree_size: u64,
    /// The audit path (hex), leaf to root.
    pub path: Vec<String>,
    /// The signed checkpoint.
    pub checkpoint: SignedStatement,
}

/// How the entries of one upload are signed.
enum Signed {
    /// Each entry by itself.
    EachEntry,
    /// All of them by the device's signature over the head they lead to (hex), already checked.
    Head(String),
}

/// Checks and appends a device's new entries, each signed by itself; a broken chain is refused
/// as a whole, with why.
pub async fn accept<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    device: &DeviceRecord,
    entries: Vec<SignedAuditEntry>,
    now_ms: i64,
) -> Result<AuditResult, StorageError> {
    accept_signed(storage, tenant, device, entries, Signed::EachEntry, now_ms).await
}

/// Checks and appends a packed upload: its entries are rebuilt from their fields and accepted
/// only under the device's signature over the head they lead to; then as [`accept`].
pub async fn accept_packed<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    device: &DeviceRecord,
    packed: PackedAudit,
    now_ms: i64,
) -> Result<AuditResult, StorageError> {
    let key = VerifyingKey::from_bytes(&device.public_key).map_err(|e| StorageError::Database(Box::new(e)))?;
    let entries = if packed.device != device.device {
        Err(AuditProblem::Altered { seq: packed.first_seq })
    } else {
        unpack(&packed, &key)
    };
    match entries {
        Ok(entries) => {
            accept_signed(storage, tenant, device, entries, Signed::Head(packed.head_signature), now_ms).await
        }
        Err(problem) => {
            let (seq, hash) = storage.audit_head(device.device.clone()).await?;
            tracing::warn!(device = %device.device, %problem, "packed audit upload refused");
            Ok(AuditResult {
                accepted_through: seq,
                refused: Some(problem.to_string()),
                checkpoint: None,
                head_hash: Some(hash),
            })
        }
    }
}

async fn accept_signed<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    device: &DeviceRecord,
    entries: Vec<SignedAuditEntry>,
    signed: Signed,
    now_ms: i64,
) -> Result<AuditResult, StorageError> {
    let (seq, hash) = storage.audit_head(device.device.clone()).await?;
    let refuse = |problem: String| {
        tracing::warn!(device = %device.device, %problem, "audit upload refused");
        AuditResult { accepted_through: seq, refused: Some(problem), checkpoint: None, head_hash: Some(hash.clone()) }
    };
    // An entry the server already holds must be the very same entry: a device restored from an
    // old backup re-uses sequence numbers for different entries, and must be told so rather
    // than be told they were accepted.
    for e in entries.iter().filter_map(|e| e.entry().map(|x| (x.seq, &e.hash))).filter(|(s, _)| *s <= seq) {
        let held = storage.audit_entry_hash(device.device.clone(), e.0).await?;
        if held.as_deref().is_some_and(|h| h != e.1) {
            return Ok(refuse(format!(
                "entry #{} differs from the entry #{} the server already holds: this device's chain diverged \
                 from the server's (a store restored from an old backup?); start a new chain segment",
                e.0, e.0
            )));
        }
    }
    let fresh: Vec<SignedAuditEntry> =
        entries.into_iter().filter(|e| e.entry().is_none_or(|entry| entry.seq > seq)).collect();
    if fresh.is_empty() {
        return Ok(AuditResult { accepted_through: seq, refused: None, checkpoint: None, head_hash: None });
    }
    let key = VerifyingKey::from_bytes(&device.public_key).map_err(|e| StorageError::Database(Box::new(e)))?;
    let verified = match &signed {
        Signed::EachEntry => verify_continuation(seq, &hash, &fresh, &key, &device.device),
        Signed::Head(_) => verify_links(seq, &hash, &fresh, &device.device),
    };
    if let Err(problem) = verified {
        return Ok(refuse(problem.to_string()));
    }
    // An entry says who acted: it must be the inspector the device is certified for.
    let impostor =
        fresh.iter().filter_map(|e| e.entry()).find(|e| e.inspector.as_deref().is_some_and(|i| i != device.inspector));
    if let Some(e) = impostor {
        let problem = format!(
            "entry #{} names {}, but this device is certified for {}",
            e.seq,
            e.inspector.as_deref().unwrap_or_default(),
            device.inspector
        );
        return Ok(refuse(problem));
    }
    let last = fresh.len() - 1;
    let stored: Vec<StoredAuditEntry> = fresh
        .iter()
        .enumerate()
        .map(|(i, e)| {
            // The last entry of a packed upload keeps the device's signature over the head.
            let head_signature = match &signed {
                Signed::Head(signature) if i == last => Some(signature.as_str()),
                _ => None,
            };
            let json = StoredJson { entry: e, head_signature };
            Ok(StoredAuditEntry {
                device: device.device.clone(),
                seq: e.entry().map(|x| x.seq).unwrap_or_default(),
                hash: e.hash.clone(),
                leaf_hash: hex::encode(merkle::leaf_hash(e.canonical.as_bytes())),
                json: serde_json::to_string(&json).map_err(|e| StorageError::Database(Box::new(e)))?,
            })
        })
        .collect::<Result<_, StorageError>>()?;
    let through = stored.last().map(|e| e.seq).unwrap_or(seq);
    match storage.append_audit(device.device.clone(), seq, stored).await {
        Ok(_) => {}
        Err(StorageError::AuditHeadMoved(now_at)) => {
            return Ok(AuditResult {
                accepted_through: now_at,
                refused: Some("another upload of this device's chain was accepted first; retry".into()),
                checkpoint: None,
                head_hash: None,
            });
        }
        Err(e) => return Err(e),
    }
    let checkpoint = checkpoint(storage, tenant, now_ms).await?;
    Ok(AuditResult { accepted_through: through, refused: None, checkpoint: Some(checkpoint), head_hash: None })
}

/// Signs a checkpoint of the current tree.
pub async fn checkpoint<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    now_ms: i64,
) -> Result<SignedStatement, StorageError> {
    Ok(checkpoint_of(storage, tenant, now_ms, u64::MAX).await?.0)
}

/// The stored nodes named by `keys` (deduplicated for the query).
async fn nodes<S: Storage>(storage: &S, mut keys: Vec<NodeKey>) -> Result<HashMap<NodeKey, Hash>, StorageError> {
    keys.sort_unstable();
    keys.dedup();
    storage.audit_nodes(keys).await
}

/// The root of the subtree `(start, len)` from stored nodes, all of which must be there.
fn subtree_root(nodes: &HashMap<NodeKey, Hash>, start: u64, len: u64) -> Result<Hash, StorageError> {
    Ok(merkle::fold_nodes(&nodes_in_order(&merkle::range_nodes(start, len), nodes)?))
}

/// Signs a checkpoint of the tree's first `size` leaves (at most the whole tree): the tree is
/// append-only, so an earlier size is a state it really had. Reads O(log n) stored nodes.
async fn checkpoint_of<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    now_ms: i64,
    size: u64,
) -> Result<(SignedStatement, u64), StorageError> {
    let size = size.min(storage.audit_size().await?);
    let frontier = nodes(storage, merkle::range_nodes(0, size)).await?;
    let body = Checkpoint {
        schema: CHECKPOINT_SCHEMA.into(),
        tenant: tenant.id.clone(),
        tree_size: size,
        root_hash: hex::encode(subtree_root(&frontier, 0, size)?),
        at_ms: now_ms,
        issuer_public_key: hex::encode(tenant.root_public_key()),
    };
    let signed = tenant.sign(&body).map_err(|e| StorageError::Database(Box::new(e)))?;
    Ok((signed, size))
}

/// The audit path of leaf `index` in the tree of `size` leaves, from stored nodes (O(log² n)).
async fn path<S: Storage>(storage: &S, index: u64, size: u64) -> Result<Vec<Hash>, StorageError> {
    let ranges = merkle::path_ranges(index, size);
    let keys = ranges.iter().flat_map(|&(start, len)| merkle::range_nodes(start, len)).collect();
    let held = nodes(storage, keys).await?;
    ranges.iter().map(|&(start, len)| subtree_root(&held, start, len)).collect()
}

/// Inclusion proofs of several entries of a device against one fresh checkpoint (entries the server
/// does not hold are left out).
pub async fn proofs<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    device: &str,
    seqs: &[u64],
    tree_size: Option<u64>,
    now_ms: i64,
) -> Result<onevisit_core::sync::wire::AuditProofs, StorageError> {
    let (checkpoint, size) = checkpoint_of(storage, tenant, now_ms, tree_size.unwrap_or(u64::MAX)).await?;
    let mut out = Vec::new();
    for &seq in seqs {
        let Some(index) = storage.audit_leaf_index(device.to_string(), seq).await? else { continue };
        if index < size {
            let path = path(storage, index, size).await?;
            out.push(onevisit_core::sync::wire::AuditProof {
                seq,
                leaf_index: index,
                path: path.iter().map(hex::encode).collect(),
            });
        }
    }
    Ok(onevisit_core::sync::wire::AuditProofs { checkpoint, proofs: out })
}

/// The inclusion proof of a device's entry `seq`, against a fresh checkpoint.
pub async fn proof<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    device: &str,
    seq: u64,
    now_ms: i64,
) -> Result<Option<InclusionProof>, StorageError> {
    let Some(index) = storage.audit_leaf_index(device.to_string(), seq).await? else { return Ok(None) };
    let (checkpoint, size) = checkpoint_of(storage, tenant, now_ms, u64::MAX).await?;
    let path = path(storage, index, size).await?;
    Ok(Some(InclusionProof {
        leaf_index: index,
        tree_size: size,
        path: path.iter().map(hex::encode).collect(),
        checkpoint,
    }))
}
