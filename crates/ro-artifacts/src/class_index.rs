//! The per-class index of artifacts in (registration time, locator) order.
//!
//! Registrations arrive in time order (the journal refuses time going backwards), so nearly
//! every insert belongs at the end: a `Vec` of instants takes it with one comparison, where a
//! `BTreeSet<(Timestamp, Locator)>` paid a descent from the root (appending is the B-tree's
//! worst case: every key of every node on the way is compared). Registrations sharing one
//! instant (a batch applied at one time) go into a set for that instant, so they stay
//! logarithmic whatever their locators' order. An instant older than the last (which only a
//! caller bypassing the journal can produce) is still placed correctly, at the cost of a shift.
//!
//! It serializes exactly as the `BTreeSet<(Timestamp, Locator)>` it replaces did (a sequence
//! of `[time, locator]` pairs in order), so state digests are unchanged.

use std::collections::BTreeSet;

use ro_core::Timestamp;
use serde::{Serialize, Serializer};

use crate::Locator;

/// One class's artifacts, ordered by registration time, then locator; no duplicates.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub(crate) struct ClassIndex {
    /// Instants in increasing order, each with its locators.
    instants: Vec<(Timestamp, Members)>,
    len: usize,
}

/// The locators registered at one instant: one (the usual case, no allocation), or a set.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
enum Members {
    One(Locator),
    /// Always two or more.
    Many(BTreeSet<Locator>),
}

impl Members {
    fn iter(&self) -> impl DoubleEndedIterator<Item = &Locator> {
        let (one, many) = match self {
            Members::One(l) => (Some(l), None),
            Members::Many(set) => (None, Some(set.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// Adds `locator`; false if it was already there.
    fn insert(&mut self, locator: Locator) -> bool {
        match self {
            Members::One(existing) if *existing == locator => false,
            Members::One(existing) => {
                let set = BTreeSet::from([existing.clone(), locator]);
                *self = Members::Many(set);
                true
            }
            Members::Many(set) => set.insert(locator),
        }
    }

    fn len(&self) -> usize {
        match self {
            Members::One(_) => 1,
            Members::Many(set) => set.len(),
        }
    }
}

impl ClassIndex {
    /// Adds `(at, locator)`; does nothing if it is already there.
    pub(crate) fn insert(&mut self, at: Timestamp, locator: Locator) {
        let added = match self.instants.last_mut() {
            None => {
                self.instants.push((at, Members::One(locator)));
                true
            }
            Some((last, _)) if *last < at => {
                self.instants.push((at, Members::One(locator)));
                true
            }
            Some((last, members)) if *last == at => members.insert(locator),
            Some(_) => match self.instants.binary_search_by(|(t, _)| t.cmp(&at)) {
                Ok(i) => self
                    .instants
                    .get_mut(i)
                    .is_some_and(|(_, members)| members.insert(locator)),
                Err(i) => {
                    self.instants.insert(i, (at, Members::One(locator)));
                    true
                }
            },
        };
        if added {
            self.len += 1;
        }
    }

    /// The entries in order (reverse it for the newest first).
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (Timestamp, &Locator)> {
        self.instants
            .iter()
            .flat_map(|(at, members)| members.iter().map(move |l| (*at, l)))
    }

    /// How many artifacts are indexed.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the representation is consistent: instants strictly increasing, sets of two or
    /// more, and the count right.
    pub(crate) fn is_consistent(&self) -> bool {
        self.instants.is_sorted_by(|(a, _), (b, _)| a < b)
            && self
                .instants
                .iter()
                .all(|(_, m)| !matches!(m, Members::Many(set) if set.len() < 2))
            && self.instants.iter().map(|(_, m)| m.len()).sum::<usize>() == self.len
    }
}

impl Serialize for ClassIndex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_seconds(secs).unwrap()
    }

    fn loc(n: u8) -> Locator {
        Locator::new(format!("runs/r-{n}/report.json")).unwrap()
    }

    proptest! {
        /// Whatever the order of inserts (in time order, same instants, out of order,
        /// duplicates), the index holds and serializes what a BTreeSet would.
        #[test]
        fn agrees_with_a_btreeset(
            inserts in proptest::collection::vec((0i64..6, 0u8..12, proptest::bool::weighted(0.8)), 0..60)
        ) {
            let mut index = ClassIndex::default();
            let mut reference = BTreeSet::new();
            let mut clock = 0;
            for (secs, n, forward) in inserts {
                // Mostly moving forward, as the journal does; sometimes anywhere.
                let t = if forward { clock += secs % 2; clock } else { secs };
                index.insert(at(t), loc(n));
                reference.insert((at(t), loc(n)));
                prop_assert!(index.is_consistent());
            }
            prop_assert_eq!(index.len(), reference.len());
            let ours: Vec<_> = index.iter().map(|(t, l)| (t, l.clone())).collect();
            let theirs: Vec<_> = reference.iter().cloned().collect();
            prop_assert_eq!(&ours, &theirs);
            let newest_first: Vec<_> = index.iter().rev().map(|(t, l)| (t, l.clone())).collect();
            prop_assert_eq!(newest_first, theirs.into_iter().rev().collect::<Vec<_>>());
            prop_assert_eq!(
                serde_json::to_string(&index).unwrap(),
                serde_json::to_string(&reference).unwrap()
            );
        }
    }

    #[test]
    fn a_batch_at_one_instant_is_a_set() {
        let mut index = ClassIndex::default();
        for n in [5, 1, 9, 1, 3] {
            index.insert(at(7), loc(n));
        }
        assert_eq!(index.len(), 4);
        assert_eq!(index.instants.len(), 1);
        let order: Vec<_> = index.iter().map(|(_, l)| l.as_str().to_owned()).collect();
        assert_eq!(
            order,
            [
                "runs/r-1/report.json",
                "runs/r-3/report.json",
                "runs/r-5/report.json",
                "runs/r-9/report.json"
            ]
        );
        assert!(index.is_consistent());
    }
}
