//! Availability, from the trace records alone: is there a *stable leader*, and could a
//! majority of nodes reach each other?
//!
//! - A **stable leader** is a live, running node in role leader whose term a majority of the
//!   live, running nodes (itself included) share as followers or leader. A term has at most
//!   one leader, so a follower in the leader's term follows it (or will at its next message).
//!   With membership changes (paper §6) the majority is of the voters, not of every node: of
//!   the `start` record's voters, then of each configuration the `membership` records show
//!   committed (while joint, a majority of C_old and one of C_new). Non-voting members count
//!   for nothing.
//! - A **window** is a stretch of time in which neither the network (partitions, cut links)
//!   nor the set of live, running nodes changes, and some majority of the nodes can all reach
//!   each other in both directions (a *connected majority*; with membership changes, some
//!   majority of the voters of each configuration in use). Every fault event starts a new
//!   window, so a leader crash gives the survivors a fresh settling time.
//!
//! The metrics: leader changes (`leader` records after the first), the longest time without a
//! stable leader, term growth per second, the share of time with a stable leader, and, for each
//! window, how long it lacked a stable leader once settled. The liveness property "Liveness:
//! Stable Leader" (on when the scenario gives `liveness.stable_leader_after`) fails at the
//! first record at which a window has lasted its settling time and no stable leader holds.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::observe::check::Violation;
use crate::observe::trace::{Event, Record};
use crate::protocol::{NodeId, Role};

/// Node ids as a bit set (bit `id − 1`); ids outside 1..=64 (a trace read from a file may
/// hold anything) are left out.
fn mask(ids: &[NodeId]) -> u64 {
    ids.iter()
        .filter(|&&id| (1..=64).contains(&id))
        .fold(0, |m, &id| m | 1u64 << (id - 1))
}

/// At most this many windows are listed in the summary; the counts cover them all.
pub const MAX_LISTED_WINDOWS: usize = 100;

/// One window with a connected majority (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MajorityWindow {
    pub from_ns: u64,
    pub to_ns: u64,
    /// Time without a stable leader after the settling time.
    pub leaderless_after_settle_ns: u64,
    /// Whether a stable leader held throughout, once settled (a window shorter than its
    /// settling time holds trivially).
    pub stable_leader_held: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AvailabilityStats {
    /// `leader` records after the first.
    pub leader_changes: u64,
    /// The longest stretch without a stable leader, the start of the run included.
    pub longest_without_leader_ns: u64,
    /// (highest term at the end − highest term at the start) per second of simulated time.
    pub term_growth_per_s: f64,
    pub max_term: u64,
    /// Share of the run's time with a stable leader, in [0, 1].
    pub stable_leader_share: f64,
    /// The settling time windows are judged with.
    pub settle_ns: u64,
    pub majority_windows: u64,
    /// Windows that outlasted their settling time and kept a stable leader throughout after it.
    pub majority_windows_held: u64,
    /// Windows that ended before their settling time was up: nothing to judge (they count as
    /// held, since no failure can be seen in them).
    pub majority_windows_unsettled: u64,
    /// The first [`MAX_LISTED_WINDOWS`] windows.
    pub windows: Vec<MajorityWindow>,
}

#[derive(Clone, Copy, Debug)]
struct NodeState {
    up: bool,
    paused: bool,
    role: Role,
    term: u64,
}

/// Builds [`AvailabilityStats`] from records, and checks "Liveness: Stable Leader".
pub struct Availability {
    settle_ns: u64,
    check: bool,
    nodes: Vec<NodeState>,
    /// The voters whose majority counts, as bit sets (bit `id − 1`): C_new, and C_old while
    /// joint (0 when not). `new` 0: every node (no membership change in the run).
    voters: (u64, u64),
    partitions: Vec<Vec<Vec<NodeId>>>,
    cuts: BTreeSet<(NodeId, NodeId)>,
    now: u64,
    start_term: Option<u64>,
    leaders_seen: u64,
    /// Since when no stable leader holds (None: one holds).
    leaderless_since: Option<u64>,
    stable_ns: u64,
    /// The open window: its start, its time without a leader after settling so far, and
    /// whether a settled moment without one was seen (perhaps of no length).
    window: Option<(u64, u64, bool)>,
    violated: bool,
    s: AvailabilityStats,
}

impl Availability {
    /// `settle_ns`: the settling time of each window; `check`: report "Liveness: Stable
    /// Leader" when a settled window lacks a stable leader.
    pub fn new(settle_ns: u64, check: bool) -> Availability {
        Availability {
            settle_ns,
            check,
            nodes: Vec::new(),
            voters: (0, 0),
            partitions: Vec::new(),
            cuts: BTreeSet::new(),
            now: 0,
            start_term: None,
            leaders_seen: 0,
            leaderless_since: Some(0),
            stable_ns: 0,
            window: None,
            violated: false,
            s: AvailabilityStats {
                settle_ns,
                ..Default::default()
            },
        }
    }

    fn node(&mut self, id: NodeId) -> Option<&mut NodeState> {
        self.nodes.get_mut(id as usize - 1)
    }

    fn running(&self, i: usize) -> bool {
        self.nodes[i].up && !self.nodes[i].paused
    }

    /// The sets whose majorities count: C_new (every node when no change was seen), and C_old
    /// while joint.
    fn majorities(&self) -> impl Iterator<Item = u64> {
        let all = match self.nodes.len() {
            n if n >= 64 => u64::MAX,
            n => (1u64 << n) - 1,
        };
        let (new, old) = self.voters;
        [if new == 0 { all } else { new & all }, old & all]
            .into_iter()
            .filter(|&m| m != 0)
    }

    /// The stable leader now, if any.
    pub fn stable_leader(&self) -> Option<NodeId> {
        let n = self.nodes.len();
        (0..n)
            .find(|&l| {
                self.running(l) && self.nodes[l].role == Role::Leader && {
                    let t = self.nodes[l].term;
                    let with = (0..n)
                        .filter(|&i| {
                            self.running(i)
                                && self.nodes[i].term == t
                                && matches!(self.nodes[i].role, Role::Follower | Role::Leader)
                        })
                        .fold(0u64, |m, i| m | 1 << i);
                    self.majorities()
                        .all(|set| (with & set).count_ones() > set.count_ones() / 2)
                }
            })
            .map(|l| l as NodeId + 1)
    }

    fn linked(&self, a: NodeId, b: NodeId) -> bool {
        if self.cuts.contains(&(a, b)) || self.cuts.contains(&(b, a)) {
            return false;
        }
        self.partitions.iter().all(|groups| {
            let g = |x: NodeId| groups.iter().position(|g| g.contains(&x));
            g(a) == g(b)
        })
    }

    /// Whether some majority of running nodes can all reach each other: the largest clique of
    /// the "linked both ways" graph (Bron–Kerbosch with pivoting, on bitmasks; stops as soon
    /// as a majority is found).
    pub fn connected_majority(&self) -> bool {
        let n = self.nodes.len();
        if n == 0 || n > 64 {
            return false;
        }
        self.majorities().all(|set| self.connected_majority_of(set))
    }

    /// Whether some majority of the nodes in `set` are running and can all reach each other.
    fn connected_majority_of(&self, set: u64) -> bool {
        let n = self.nodes.len();
        let need = set.count_ones() as usize / 2 + 1;
        let mut adj = vec![0u64; n];
        let mut all = 0u64;
        for (a, row) in adj.iter_mut().enumerate() {
            if !self.running(a) || set & 1 << a == 0 {
                continue;
            }
            all |= 1 << a;
            for b in 0..n {
                if a != b
                    && set & 1 << b != 0
                    && self.running(b)
                    && self.linked(a as NodeId + 1, b as NodeId + 1)
                {
                    *row |= 1 << b;
                }
            }
        }
        fn bk(r: u32, mut p: u64, mut x: u64, adj: &[u64], need: u32) -> bool {
            if p == 0 && x == 0 {
                return r >= need;
            }
            if r + p.count_ones() < need {
                return false;
            }
            let pivot = (p | x).trailing_zeros() as usize;
            let mut cand = p & !adj[pivot];
            while cand != 0 {
                let v = cand.trailing_zeros() as usize;
                cand &= cand - 1;
                if bk(r + 1, p & adj[v], x & adj[v], adj, need) {
                    return true;
                }
                p &= !(1 << v);
                x |= 1 << v;
            }
            false
        }
        bk(0, all, 0, &adj, need as u32)
    }

    /// Accounts the time from the last record to `t` under the state before this record.
    fn advance(&mut self, t: u64) {
        let settle = self.settle_ns;
        if self.leaderless_since.is_none() {
            self.stable_ns += t.saturating_sub(self.now);
        } else if let Some((from, lost, _)) = &mut self.window {
            let settled_at = self.now.max(*from + settle);
            *lost += t.saturating_sub(settled_at);
        }
        self.now = t;
    }

    fn close_window(&mut self) {
        if let Some((from, lost, broken)) = self.window.take() {
            if self.now == from {
                // Replaced at once (two fault events at one instant): not a window.
                return;
            }
            self.s.majority_windows += 1;
            let held = lost == 0 && !broken;
            if held {
                self.s.majority_windows_held += 1;
                if self.now < from + self.settle_ns {
                    self.s.majority_windows_unsettled += 1;
                }
            }
            if self.s.windows.len() < MAX_LISTED_WINDOWS {
                self.s.windows.push(MajorityWindow {
                    from_ns: from,
                    to_ns: self.now,
                    leaderless_after_settle_ns: lost,
                    stable_leader_held: held,
                });
            }
        }
    }

    fn update_leader(&mut self) {
        match (self.stable_leader(), self.leaderless_since) {
            (Some(_), Some(since)) => {
                self.s.longest_without_leader_ns =
                    self.s.longest_without_leader_ns.max(self.now - since);
                self.leaderless_since = None;
            }
            (None, None) => self.leaderless_since = Some(self.now),
            _ => {}
        }
    }

    /// Sees one record; returns the liveness violation, once, if checking.
    pub fn on(&mut self, rec: &Record, index: u64) -> Option<Violation> {
        self.advance(rec.t);
        let (topology, roles) = self.take(&rec.ev);
        if roles || topology {
            let max_term = self.nodes.iter().map(|s| s.term).max().unwrap_or(0);
            self.s.max_term = self.s.max_term.max(max_term);
        }
        if self.start_term.is_none() && !matches!(rec.ev, Event::Start { .. } | Event::Boot { .. })
        {
            self.start_term = Some(self.s.max_term);
        }
        if topology {
            self.close_window();
            if self.connected_majority() {
                self.window = Some((self.now, 0, false));
            }
        }
        if roles || topology {
            self.update_leader();
        }
        self.settled_without_leader(index)
    }

    /// Takes in what one record changes, and says whether it changed the network or the live
    /// nodes (a new window), and whether it may have changed any node's role or term (the
    /// stable leader): most records (appends, commits, messages) change neither, and cost
    /// only the check that follows.
    #[inline]
    fn take(&mut self, ev: &Event) -> (bool, bool) {
        match ev {
            Event::Start { nodes, voters, .. } => {
                self.voters = (voters.as_deref().map_or(0, mask), 0);
                self.nodes = vec![
                    NodeState {
                        up: true,
                        paused: false,
                        role: Role::Follower,
                        term: 0,
                    };
                    *nodes as usize
                ];
                (true, true)
            }
            Event::Boot { .. }
            | Event::Role { .. }
            | Event::Crash { .. }
            | Event::Restart { .. }
            | Event::Pause { .. }
            | Event::Resume { .. } => (self.node_record(ev), true),
            Event::Leader { .. } => {
                self.leaders_seen += 1;
                self.s.leader_changes = self.leaders_seen.saturating_sub(1);
                (false, false)
            }
            Event::Partition { .. }
            | Event::Heal { .. }
            | Event::Cut { .. }
            | Event::Restore { .. } => {
                self.network_record(ev);
                (true, true)
            }
            // A configuration first committed (paper §6): its voters' majorities count from now.
            Event::Membership {
                phase, voters, old, ..
            } if matches!(phase.as_str(), "joint" | "final") => {
                self.voters = (mask(voters), mask(old));
                (true, true)
            }
            _ => (false, false),
        }
    }

    /// A record of one node's state (boot, role, crash, restart, pause, resume); whether it
    /// changed the live, running nodes.
    #[inline]
    fn node_record(&mut self, ev: &Event) -> bool {
        match ev {
            Event::Boot { node, term, .. } => {
                if let Some(s) = self.node(*node) {
                    s.term = *term;
                }
                false
            }
            Event::Role { node, role, term } => {
                if let Some(s) = self.node(*node) {
                    s.role = *role;
                    s.term = *term;
                }
                false
            }
            Event::Crash { node } => {
                if let Some(s) = self.node(*node) {
                    s.up = false;
                    s.role = Role::Follower;
                }
                true
            }
            Event::Restart { node, term, .. } => {
                if let Some(s) = self.node(*node) {
                    s.up = true;
                    s.role = Role::Follower;
                    s.term = *term;
                }
                true
            }
            Event::Pause { node, .. } | Event::Resume { node } => {
                if let Some(s) = self.node(*node) {
                    s.paused = matches!(ev, Event::Pause { .. });
                }
                true
            }
            _ => false,
        }
    }

    /// A partition, heal, cut or restore: the network as it now stands.
    fn network_record(&mut self, ev: &Event) {
        match ev {
            Event::Partition { groups } => self.partitions.push(groups.clone()),
            Event::Heal { groups } => {
                if let Some(i) = self.partitions.iter().position(|g| g == groups) {
                    self.partitions.remove(i);
                }
            }
            Event::Cut { from, to } => {
                self.cuts.insert((*from, *to));
            }
            Event::Restore { from, to } => {
                self.cuts.remove(&(*from, *to));
            }
            _ => {}
        }
    }

    /// The open window, once settled, without a stable leader now: marked so, and the
    /// liveness violation at record `index`, once, if checking.
    #[inline]
    fn settled_without_leader(&mut self, index: u64) -> Option<Violation> {
        let settle = self.settle_ns;
        let (from, _, broken) = self.window.as_mut()?;
        let from = *from;
        if self.leaderless_since.is_none() || self.now < from + settle {
            return None;
        }
        *broken = true;
        if self.check && !self.violated {
            self.violated = true;
            return Some(Violation {
                property: "Liveness: Stable Leader",
                event_index: index,
                time: self.now,
                detail: format!(
                    "no stable leader (one whose term a majority follows) at {} ms, though a majority has been connected since {} ms (settling time {} ms)",
                    self.now / 1_000_000,
                    from / 1_000_000,
                    self.settle_ns / 1_000_000
                ),
            });
        }
        None
    }

    /// The statistics at the end of the run (time `end_ns`).
    pub fn finish(mut self, end_ns: u64) -> AvailabilityStats {
        self.advance(end_ns.max(self.now));
        self.close_window();
        if let Some(since) = self.leaderless_since {
            self.s.longest_without_leader_ns =
                self.s.longest_without_leader_ns.max(self.now - since);
        }
        if self.now > 0 {
            self.s.stable_leader_share = self.stable_ns as f64 / self.now as f64;
            let grown = self.s.max_term - self.start_term.unwrap_or(self.s.max_term);
            self.s.term_growth_per_s = grown as f64 / (self.now as f64 / 1e9);
        }
        self.s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(t: u64, ev: Event) -> Record {
        Record { t, ev }
    }

    proptest! {
        /// Against a dumb reference: some set of at least a majority of the up nodes whose every
        /// pair is linked both ways, found by trying every subset.
        #[test]
        fn connected_majority_matches_every_subset(
            n in 1u32..8,
            cuts in proptest::collection::vec((1u32..8, 1u32..8), 0..20),
            down in proptest::collection::vec(1u32..8, 0..3),
        ) {
            let mut a = Availability::new(0, false);
            a.on(&rec(0, Event::start(n, None)), 1);
            let cuts: Vec<(u32, u32)> =
                cuts.into_iter().filter(|&(f, t)| f != t && f <= n && t <= n).collect();
            for &(from, to) in &cuts {
                a.on(&rec(1, Event::Cut { from, to }), 2);
            }
            for &node in down.iter().filter(|&&d| d <= n) {
                a.on(&rec(1, Event::Crash { node }), 3);
            }
            let up = |x: u32| !down.contains(&x);
            let linked = |x: u32, y: u32| !cuts.contains(&(x, y)) && !cuts.contains(&(y, x));
            let want = (0u32..1 << n).any(|mask| {
                let members: Vec<u32> = (1..=n).filter(|&i| mask & (1 << (i - 1)) != 0).collect();
                members.len() as u32 > n / 2
                    && members.iter().all(|&x| up(x))
                    && members.iter().all(|&x| members.iter().all(|&y| x == y || linked(x, y)))
            });
            prop_assert_eq!(a.connected_majority(), want);
        }
    }

    /// A leader counts as stable once a majority shares its term as followers; a pre-candidate
    /// at that term does not follow it.
    #[test]
    fn a_stable_leader_needs_a_majority_in_its_term() {
        let mut a = Availability::new(0, false);
        a.on(&rec(0, Event::start(3, None)), 1);
        a.on(&rec(1, Event::role(1, Role::Leader, 2)), 2);
        assert_eq!(a.stable_leader(), None, "n2 and n3 are still in term 0");
        a.on(&rec(2, Event::role(2, Role::PreCandidate, 2)), 3);
        assert_eq!(a.stable_leader(), None);
        a.on(&rec(3, Event::role(3, Role::Follower, 2)), 4);
        assert_eq!(a.stable_leader(), Some(1));
        let s = a.finish(4);
        assert_eq!(s.longest_without_leader_ns, 3);
        assert_eq!(s.stable_leader_share, 0.25);
    }
}
