//! The draw's randomness: independent streams derived from the revealed seed with SHA-256, so
//! that anyone recomputes exactly the same choices from the published record.
//!
//! A stream's key is SHA-256 of the algorithm name, each label part (length-prefixed) and the
//! seed; its bytes are SHA-256(key ‖ counter as 8 big-endian bytes) for counter 0, 1, …, read
//! 8 bytes (big-endian) at a time. `below(n)` rejects values at or above the largest multiple of
//! n (no modulo bias); `choose(n, k)` is the first k steps of a Fisher–Yates shuffle of 0..n.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::ALGORITHM;

/// A deterministic stream of random numbers for one labelled choice.
pub(crate) struct Stream {
    key: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Stream {
    /// The stream for the choice named by `label`, under `seed`.
    pub(crate) fn new(seed: &[u8], label: &[&str]) -> Stream {
        let mut hasher = Sha256::new();
        hasher.update(ALGORITHM.as_bytes());
        for part in label {
            hasher.update((part.len() as u32).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.update(seed);
        Stream { key: hasher.finalize().into(), counter: 0, block: [0; 32], used: 32 }
    }

    fn next_u64(&mut self) -> u64 {
        if self.used + 8 > self.block.len() {
            let mut hasher = Sha256::new();
            hasher.update(self.key);
            hasher.update(self.counter.to_be_bytes());
            self.block = hasher.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.block[self.used..self.used + 8]);
        self.used += 8;
        u64::from_be_bytes(bytes)
    }

    /// A uniform number in 0..n (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let limit = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < limit {
                return x % n;
            }
        }
    }

    /// `k` distinct indices of 0..n, uniformly, in the order drawn (k ≤ n): the first k steps of
    /// a Fisher–Yates shuffle of 0..n. Only the displaced positions are kept, so choosing 2 of
    /// 200 costs 2 steps, not 200 slots.
    pub(crate) fn choose(&mut self, n: usize, k: usize) -> Vec<usize> {
        let k = k.min(n);
        let mut displaced: HashMap<usize, usize> = HashMap::with_capacity(2 * k);
        let mut chosen = Vec::with_capacity(k);
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            let at_j = displaced.get(&j).copied().unwrap_or(j);
            let at_i = displaced.get(&i).copied().unwrap_or(i);
            displaced.insert(j, at_i);
            chosen.push(at_j);
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_label_give_the_same_numbers_and_others_differ() {
        let a: Vec<u64> = (0..10)
            .map({
                let mut s = Stream::new(b"seed", &["x", "1"]);
                move |_| s.below(1000)
            })
            .collect();
        let again: Vec<u64> = (0..10)
            .map({
                let mut s = Stream::new(b"seed", &["x", "1"]);
                move |_| s.below(1000)
            })
            .collect();
        assert_eq!(a, again);
        // Length prefixes keep ("x1", "") apart from ("x", "1").
        let mut joined = Stream::new(b"seed", &["x1", ""]);
        assert_ne!(a, (0..10).map(|_| joined.below(1000)).collect::<Vec<_>>());
        let mut other_seed = Stream::new(b"seeds", &["x", "1"]);
        assert_ne!(a, (0..10).map(|_| other_seed.below(1000)).collect::<Vec<_>>());
    }

    #[test]
    fn choices_are_distinct_and_every_index_is_about_equally_likely() {
        let mut s = Stream::new(b"uniform", &[]);
        let mut hits = [0u32; 10];
        for _ in 0..20_000 {
            let chosen = s.choose(10, 3);
            let mut sorted = chosen.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 3);
            for i in chosen {
                hits[i] += 1;
            }
        }
        // Expected 6,000 each; the standard deviation is about 65.
        for h in hits {
            assert!((5_600..=6_400).contains(&h), "{hits:?}");
        }
        assert!(s.choose(3, 5).len() == 3 && s.choose(0, 1).is_empty());
        // The same choices as a whole shuffle of 0..n.
        let mut a = Stream::new(b"same", &[]);
        let mut b = Stream::new(b"same", &[]);
        let mut whole: Vec<usize> = (0..50).collect();
        for i in 0..20 {
            let j = i + b.below((50 - i) as u64) as usize;
            whole.swap(i, j);
        }
        assert_eq!(a.choose(50, 20), whole[..20]);
    }
}
