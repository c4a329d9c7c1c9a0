//! Quorums: which sets of servers decide (paper §5.2 for votes, §5.3–5.4 for commitment).
//!
//! A [`Majority`] is a configuration's voters; a decision needs more than half of them. Joint
//! consensus (paper §6) decides by a majority of the old *and* of the new configuration, so the
//! node asks its quorum, never `n/2+1` itself: a joint configuration can later answer the same
//! two questions (has this vote been won? what index is on a quorum?) without touching the
//! roles that ask them.

use crate::protocol::{Index, NodeId};

/// The voters of one configuration, sorted by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Majority {
    voters: Vec<NodeId>,
}

impl Majority {
    pub fn new(mut voters: Vec<NodeId>) -> Majority {
        voters.sort_unstable();
        voters.dedup();
        assert!(!voters.is_empty(), "a configuration has at least one voter");
        Majority { voters }
    }

    /// Servers 1..=n.
    pub fn of_size(n: u32) -> Majority {
        Majority::new((1..=n).collect())
    }

    pub fn voters(&self) -> &[NodeId] {
        &self.voters
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }

    /// How many voters make a majority.
    pub fn threshold(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Whether the voters for which `granted` holds are a majority.
    pub fn is_won(&self, granted: impl Fn(NodeId) -> bool) -> bool {
        self.voters.iter().filter(|&&v| granted(v)).count() >= self.threshold()
    }

    /// The highest index that a majority of voters hold, given each voter's acknowledged index.
    /// `scratch` is reused so the leader's hot path does not allocate.
    pub fn committed_index(
        &self,
        acked: impl Fn(NodeId) -> Index,
        scratch: &mut Vec<Index>,
    ) -> Index {
        scratch.clear();
        scratch.extend(self.voters.iter().map(|&v| acked(v)));
        scratch.sort_unstable_by(|a, b| b.cmp(a));
        scratch[self.threshold() - 1]
    }
}

/// A configuration as a server uses it (paper §6): one majority, or during a change the joint
/// configuration C_old,new, where every decision needs a majority of `old` *and* of `new`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    new: Majority,
    old: Option<Majority>,
    /// Every voter of either, sorted: who gets RequestVote and AppendEntries.
    all: Vec<NodeId>,
}

impl Quorum {
    pub fn single(m: Majority) -> Quorum {
        Quorum {
            all: m.voters().to_vec(),
            new: m,
            old: None,
        }
    }

    /// The joint configuration of `old` and `new`.
    pub fn joint(old: Majority, new: Majority) -> Quorum {
        let mut all: Vec<NodeId> = old.voters().iter().chain(new.voters()).copied().collect();
        all.sort_unstable();
        all.dedup();
        Quorum {
            new,
            old: Some(old),
            all,
        }
    }

    /// Whether this is a joint configuration (a change is under way).
    pub fn is_joint(&self) -> bool {
        self.old.is_some()
    }

    /// The configuration being moved to (the only one when not joint).
    pub fn new_voters(&self) -> &[NodeId] {
        self.new.voters()
    }

    /// The majority of the configuration being moved to (C_new).
    pub fn new_majority(&self) -> &Majority {
        &self.new
    }

    /// Every voter of either configuration, sorted.
    pub fn voters(&self) -> &[NodeId] {
        &self.all
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.all.binary_search(&id).is_ok()
    }

    /// Won by a majority of `new`, and of `old` when joint.
    pub fn is_won(&self, granted: impl Fn(NodeId) -> bool) -> bool {
        self.new.is_won(&granted) && self.old.as_ref().is_none_or(|o| o.is_won(&granted))
    }

    /// The highest index on a majority of `new` and, when joint, of `old`.
    pub fn committed_index(
        &self,
        acked: impl Fn(NodeId) -> Index,
        scratch: &mut Vec<Index>,
    ) -> Index {
        let n = self.new.committed_index(&acked, scratch);
        match &self.old {
            Some(o) => n.min(o.committed_index(&acked, scratch)),
            None => n,
        }
    }
}

/// The votes a candidate has received in its current term.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoteSet {
    granted: Vec<NodeId>,
}

impl VoteSet {
    /// Records a granted vote; a duplicate counts once.
    pub fn grant(&mut self, voter: NodeId) {
        if let Err(i) = self.granted.binary_search(&voter) {
            self.granted.insert(i, voter);
        }
    }
    pub fn has(&self, voter: NodeId) -> bool {
        self.granted.binary_search(&voter).is_ok()
    }
    pub fn count(&self) -> usize {
        self.granted.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a dumb reference: the committed index is the largest k that more than half
        /// of the voters have reached.
        #[test]
        fn committed_index_is_what_a_majority_holds(acked in proptest::collection::vec(0u64..20, 1..10)) {
            let q = Majority::of_size(acked.len() as u32);
            let got = q.committed_index(|v| acked[v as usize - 1], &mut Vec::new());
            let want = (0..20u64)
                .filter(|&k| acked.iter().filter(|&&a| a >= k).count() * 2 > acked.len())
                .max()
                .unwrap();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn a_vote_is_won_by_more_than_half(n in 1u32..12, mask in 0u32..4096) {
            let q = Majority::of_size(n);
            let granted = |v: NodeId| mask & (1 << (v - 1)) != 0;
            let count = (1..=n).filter(|&v| granted(v)).count() as u32;
            prop_assert_eq!(q.is_won(granted), count * 2 > n);
        }

        /// Joint consensus (paper §6): a joint decision is exactly a decision of both.
        #[test]
        fn a_joint_quorum_needs_both_majorities(
            old_mask in 1u64..64, new_mask in 1u64..64, mask in 0u64..64,
            acked in proptest::collection::vec(0u64..20, 6),
        ) {
            let ids = |m: u64| (1..=6u32).filter(|&v| m & (1 << (v - 1)) != 0).collect::<Vec<_>>();
            let (old, new) = (Majority::new(ids(old_mask)), Majority::new(ids(new_mask)));
            let q = Quorum::joint(old.clone(), new.clone());
            let granted = |v: NodeId| mask & (1 << (v - 1)) != 0;
            prop_assert_eq!(q.is_won(granted), old.is_won(granted) && new.is_won(granted));
            let a = |v: NodeId| acked[v as usize - 1];
            let s = &mut Vec::new();
            prop_assert_eq!(
                q.committed_index(a, s),
                old.committed_index(a, s).min(new.committed_index(a, s))
            );
            for v in 1..=6 {
                prop_assert_eq!(q.contains(v), old.contains(v) || new.contains(v));
            }
        }
    }
}
