//! A Merkle tree over the journal's record hashes, as RFC 6962 (Certificate Transparency)
//! defines it, with BLAKE3 for the hash: a tree head commits to the first `n` records, an
//! inclusion proof shows one record is in it, a consistency proof shows a tree of `m` records
//! is a prefix of one of `n`. Proofs are `O(log n)` hashes and verify without the journal.
//!
//! - the leaf of record `i` is `BLAKE3(0x00 ‖ hash_i)` (its 32-byte record hash);
//! - an inner node is `BLAKE3(0x01 ‖ left ‖ right)`;
//! - the root of `n > 1` leaves splits them at `k`, the largest power of two below `n`;
//!   the root of no leaf is `BLAKE3("")`.
//!
//! Verification follows RFC 9162, sections 2.1.3.2 and 2.1.4.2.

use crate::Digest;

/// The leaf hash of a record hash.
pub fn leaf_hash(record_hash: &Digest) -> Digest {
    let mut input = [0u8; 33];
    if let Some(rest) = input.get_mut(1..) {
        rest.copy_from_slice(record_hash.as_bytes());
    }
    Digest::of(&input)
}

/// The hash of an inner node.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut input = [0u8; 65];
    if let Some(tag) = input.first_mut() {
        *tag = 1;
    }
    if let Some(l) = input.get_mut(1..33) {
        l.copy_from_slice(left.as_bytes());
    }
    if let Some(r) = input.get_mut(33..) {
        r.copy_from_slice(right.as_bytes());
    }
    Digest::of(&input)
}

/// The largest power of two strictly below `n` (`n ≥ 2`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root over `leaves` (leaf hashes, see [`leaf_hash`]).
pub fn root(leaves: &[Digest]) -> Digest {
    match leaves {
        [] => Digest::of(b""),
        [one] => *one,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `leaves`; `None` when the
/// index is outside it.
pub fn inclusion_proof(leaves: &[Digest], index: usize) -> Option<Vec<Digest>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    path_into(leaves, index, &mut path);
    Some(path)
}

fn path_into(leaves: &[Digest], index: usize, path: &mut Vec<Digest>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    let (left, right) = leaves.split_at(k);
    if index < k {
        path_into(left, index, path);
        path.push(root(right));
    } else {
        path_into(right, index - k, path);
        path.push(root(left));
    }
}

/// The consistency proof that the tree of the first `old_size` leaves is a prefix of the tree
/// of `leaves`; `None` when `old_size` is beyond it.
pub fn consistency_proof(leaves: &[Digest], old_size: usize) -> Option<Vec<Digest>> {
    if old_size > leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    if old_size > 0 {
        subproof_into(old_size, leaves, true, &mut path);
    }
    Some(path)
}

fn subproof_into(m: usize, leaves: &[Digest], whole: bool, path: &mut Vec<Digest>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            path.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof_into(m, left, whole, path);
        path.push(root(right));
    } else {
        subproof_into(m - k, right, false, path);
        path.push(root(left));
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Digest,
    index: u64,
    size: u64,
    path: &[Digest],
    root: &Digest,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    path: &[Digest],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return path.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return path.is_empty();
    }
    let mut nodes: Vec<Digest> = Vec::with_capacity(path.len() + 1);
    if old_size.is_power_of_two() {
        nodes.push(*old_root);
    }
    nodes.extend_from_slice(path);
    let Some((first, rest)) = nodes.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Digest> {
        (0..n)
            .map(|i| leaf_hash(&Digest::of(format!("record {i}").as_bytes())))
            .collect()
    }

    #[test]
    fn small_trees_have_the_rfc_shape() {
        let l = leaves(3);
        assert_eq!(root(&[]), Digest::of(b""));
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(
            root(&l),
            node_hash(&node_hash(&l[0], &l[1]), &l[2]),
            "three leaves split at two"
        );
        assert_eq!(
            inclusion_proof(&l, 2).unwrap(),
            vec![node_hash(&l[0], &l[1])]
        );
        assert_eq!(inclusion_proof(&l, 3), None);
        assert_eq!(consistency_proof(&l, 4), None);
    }

    proptest! {
        #[test]
        fn every_inclusion_proof_verifies_and_no_other_leaf_does(n in 1usize..80, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let r = root(&l);
            let i = pick.index(n);
            let path = inclusion_proof(&l, i).unwrap();
            prop_assert!(verify_inclusion(&l[i], i as u64, n as u64, &path, &r));
            let other = (i + 1) % n;
            if other != i {
                prop_assert!(!verify_inclusion(&l[other], i as u64, n as u64, &path, &r));
                prop_assert!(!verify_inclusion(&l[i], other as u64, n as u64, &path, &r));
            }
            if let Some(first) = path.first() {
                let mut bad = path.clone();
                bad[0] = node_hash(first, first);
                prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &bad, &r));
            }
        }

        #[test]
        fn every_prefix_is_proven_consistent_and_a_rewritten_one_is_not(n in 1usize..80, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let m = pick.index(n + 1);
            let path = consistency_proof(&l, m).unwrap();
            let (old, new) = (root(&l[..m]), root(&l));
            prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &path));
            if m > 0 && m < n {
                // A history rewritten under the old head: its root differs.
                let mut forged = l.clone();
                forged[m - 1] = leaf_hash(&Digest::of(b"forged"));
                prop_assert!(!verify_consistency(m as u64, n as u64, &old, &root(&forged), &path));
                let forged_path = consistency_proof(&forged, m).unwrap();
                prop_assert!(!verify_consistency(m as u64, n as u64, &old, &root(&forged), &forged_path));
            }
            // Proofs stay logarithmic.
            prop_assert!(path.len() <= 2 * (usize::BITS - n.leading_zeros()) as usize);
        }
    }
}
