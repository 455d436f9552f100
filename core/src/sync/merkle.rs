//! The server's audit log as an RFC 6962 Merkle tree: root hashes, inclusion proofs and their
//! verification, so an evidence bundle proves an audit entry was accepted without the server.

use sha2::{Digest, Sha256};

/// A 32-byte node hash.
pub type Hash = [u8; 32];

/// The hash of a leaf: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The Merkle tree hash of `leaves` (leaf hashes); the empty tree hashes to SHA-256("").
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962 §2.1.1); `None` if out of range.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    path_of(leaves, index, &mut path);
    Some(path)
}

fn path_of(leaves: &[Hash], index: usize, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        path_of(&leaves[..k], index, out);
        out.push(root(&leaves[k..]));
    } else {
        path_of(&leaves[k..], index - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// A tree built once for many proofs: the hashes of every complete, aligned power-of-two block of
/// leaves, so that each proof costs O(log² n) instead of re-hashing the whole tree.
pub struct MerkleTree {
    /// `levels[h][i]` is the root of leaves `[i·2^h, (i+1)·2^h)`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Builds the block hashes of `leaves` (O(n)).
    pub fn new(leaves: &[Hash]) -> MerkleTree {
        let mut levels = vec![leaves.to_vec()];
        while let Some(last) = levels.last().filter(|l| l.len() > 1) {
            let next: Vec<Hash> = last.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
            levels.push(next);
        }
        MerkleTree { levels }
    }

    /// Leaves in the tree.
    pub fn size(&self) -> usize {
        self.levels[0].len()
    }

    /// The RFC 6962 root hash, the same as [`root`].
    pub fn root(&self) -> Hash {
        match self.size() {
            0 => Sha256::digest([]).into(),
            n => self.range_root(0, n),
        }
    }

    /// The root of leaves `[start, start + len)`, a subtree the RFC 6962 split produces.
    fn range_root(&self, start: usize, len: usize) -> Hash {
        if len.is_power_of_two() && start.is_multiple_of(len) {
            let h = len.trailing_zeros() as usize;
            return self.levels[h][start >> h];
        }
        let k = split(len);
        node_hash(&self.range_root(start, k), &self.range_root(start + k, len - k))
    }

    /// The audit path of leaf `index`, the same as [`inclusion_proof`].
    pub fn inclusion_proof(&self, index: usize) -> Option<Vec<Hash>> {
        if index >= self.size() {
            return None;
        }
        let mut path = Vec::new();
        self.path_of(0, self.size(), index, &mut path);
        Some(path)
    }

    fn path_of(&self, start: usize, len: usize, index: usize, out: &mut Vec<Hash>) {
        if len <= 1 {
            return;
        }
        let k = split(len);
        if index < k {
            self.path_of(start, k, index, out);
            out.push(self.range_root(start + k, len - k));
        } else {
            self.path_of(start + k, len - k, index - k, out);
            out.push(self.range_root(start, k));
        }
    }
}

/// A stored node of the tree: `(level, index)` is the root of leaves
/// `[index·2^level, (index+1)·2^level)`; level 0 holds the leaves. A server that stores these nodes
/// appends, signs checkpoints and proves inclusion reading O(log n) of them, never every leaf.
pub type NodeKey = (u32, u64);

/// The stored nodes that make up the subtree of leaves `[start, start + len)` (as the RFC 6962
/// split produces it), left to right.
pub fn range_nodes(start: u64, len: u64) -> Vec<NodeKey> {
    let (mut at, end) = (start, start + len);
    let mut out = Vec::new();
    while at < end {
        let mut level = 0u32;
        while level < 63 && at % (1u64 << (level + 1)) == 0 && at + (1u64 << (level + 1)) <= end {
            level += 1;
        }
        out.push((level, at >> level));
        at += 1u64 << level;
    }
    out
}

/// The root of a subtree from the hashes of its [`range_nodes`], in that order; the empty tree
/// hashes to SHA-256("").
pub fn fold_nodes(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => Sha256::digest([]).into(),
        Some((last, rest)) => rest.iter().rev().fold(*last, |right, left| node_hash(left, &right)),
    }
}

/// The subtrees `(start, len)` whose roots form the audit path of leaf `index` in a tree of
/// `size` leaves, leaf to root (the order of [`inclusion_proof`]).
pub fn path_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut start, mut len) = (0u64, size);
    // Descend from the root, then reverse: the deepest sibling comes first in a proof.
    while len > 1 && index < start + len {
        let k = split(usize::try_from(len).unwrap_or(usize::MAX)) as u64;
        if index < start + k {
            out.push((start + k, len - k));
            len = k;
        } else {
            out.push((start, k));
            start += k;
            len -= k;
        }
    }
    out.reverse();
    out
}

/// The nodes completed by appending `leaves` to a tree of `size` leaves whose frontier — the
/// hashes of `range_nodes(0, size)` — is given: the new leaves themselves and every node they
/// complete, each once.
pub fn appended_nodes(size: u64, frontier: &[Hash], leaves: &[Hash]) -> Vec<(NodeKey, Hash)> {
    let mut stack: Vec<(NodeKey, Hash)> = range_nodes(0, size).into_iter().zip(frontier.iter().copied()).collect();
    let mut out = Vec::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let node = ((0, size + i as u64), *leaf);
        out.push(node);
        stack.push(node);
        while stack.len() >= 2 && stack[stack.len() - 1].0.0 == stack[stack.len() - 2].0.0 {
            let Some(((level, _), right)) = stack.pop() else { break };
            let Some(((_, left_index), left)) = stack.pop() else { break };
            let parent = ((level + 1, left_index >> 1), node_hash(&left, &right));
            out.push(parent);
            stack.push(parent);
        }
    }
    out
}

/// Whether `proof` shows the leaf hash `leaf` at `index` in a tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], expected_root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == expected_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    #[test]
    fn every_leaf_of_trees_of_every_size_up_to_33_has_a_valid_proof() {
        for n in 1..=33 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let proof = inclusion_proof(&l, i).unwrap();
                assert!(verify_inclusion(&l[i], i as u64, n as u64, &proof, &r), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn the_prebuilt_tree_gives_the_same_roots_and_proofs_as_the_direct_computation() {
        for n in 0..=70 {
            let l = leaves(n);
            let tree = MerkleTree::new(&l);
            assert_eq!(tree.root(), root(&l), "n={n}");
            for i in 0..=n {
                assert_eq!(tree.inclusion_proof(i), inclusion_proof(&l, i), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn a_proof_fails_for_another_leaf_index_size_or_root() {
        let l = leaves(7);
        let r = root(&l);
        let proof = inclusion_proof(&l, 3).unwrap();
        assert!(!verify_inclusion(&l[4], 3, 7, &proof, &r));
        assert!(!verify_inclusion(&l[3], 2, 7, &proof, &r));
        assert!(!verify_inclusion(&l[3], 3, 7, &proof, &root(&l[..6])));
        assert!(!verify_inclusion(&l[3], 7, 7, &proof, &r));
        assert!(inclusion_proof(&l, 7).is_none());
    }

    #[test]
    fn known_answer_for_two_leaves() {
        // RFC 6962: MTH({d0, d1}) = SHA-256(0x01 ‖ SHA-256(0x00 ‖ d0) ‖ SHA-256(0x00 ‖ d1)).
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(a);
        h.update(b);
        let expected: Hash = h.finalize().into();
        assert_eq!(root(&[a, b]), expected);
        assert_eq!(hex::encode(root(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn stored_nodes_give_the_same_roots_proofs_and_appends_as_the_whole_tree() {
        for n in 0..70usize {
            let all = leaves(n);
            let tree = MerkleTree::new(&all);
            let node = |(level, index): NodeKey| tree.levels[level as usize][index as usize];
            let hashes: Vec<Hash> = range_nodes(0, n as u64).into_iter().map(node).collect();
            assert_eq!(fold_nodes(&hashes), root(&all), "root of {n}");
            for m in 0..n {
                let path: Vec<Hash> = path_ranges(m as u64, n as u64)
                    .into_iter()
                    .map(|(start, len)| fold_nodes(&range_nodes(start, len).into_iter().map(node).collect::<Vec<_>>()))
                    .collect();
                assert_eq!(Some(path), inclusion_proof(&all, m), "path of {m} in {n}");
            }
            // Appending in two steps completes exactly the nodes of the whole tree.
            for cut in 0..=n {
                let frontier: Vec<Hash> = {
                    let first = MerkleTree::new(&all[..cut]);
                    range_nodes(0, cut as u64).into_iter().map(|(l, i)| first.levels[l as usize][i as usize]).collect()
                };
                for ((level, index), hash) in appended_nodes(cut as u64, &frontier, &all[cut..]) {
                    assert_eq!(hash, node((level, index)), "node {level}/{index} appending {cut}..{n}");
                }
                let count = appended_nodes(cut as u64, &frontier, &all[cut..]).len();
                let expected: usize = tree.levels.iter().enumerate().map(|(l, v)| v.len() - (cut >> l)).sum();
                assert_eq!(count, expected, "every new node once, {cut}..{n}");
            }
        }
    }
}
