//! Coverage marks: named rare paths of a run (a conflicting suffix truncated, an entry of an
//! older term committed through one of the leader's term, a leader elected while the
//! configuration is joint, ...), so that a seed search that passes can be told from one that
//! exercised nothing. `raftsim explore` counts the seeds that hit each mark and names those
//! never hit; `raftsim run` lists the marks its run hit (`coverage` in `summary.json`).
//!
//! Every mark is derived from the records the world emits, like the checker's verdicts: no
//! probe sits inside a node, so every implementation under the interface (the built-in node,
//! tikv's raft crate) is covered alike. At the `events` trace level messages are not records
//! (a `send` or `deliver` is emitted only at `messages`), so no mark reads a message: a vote
//! request is seen only through the votes it brought (`vote` records) and the roles it
//! changed. One mark rests on what a node says rather than what it did: a vote denied
//! because the candidate's log is behind is the voter's own `Note` (a `vote` record with
//! `granted: false`), which tikv's raft crate does not give. One rests on what the world says
//! besides the record: a crash at a disk write is an ordinary `crash` record, told apart by
//! [`ObsCtx::at_write`]. Marks never change the run or the trace: the observer only reads.
//!
//! [`MARKS`] is the one list: each mark's id and meaning, in the order printed; the docs and
//! every output come from it.

use serde::{Serialize, Serializer};

use crate::observe::check::Violation;
use crate::observe::trace::{Event, Record, TEntry, TVia};
use crate::observe::{ObsCtx, Observer};
use crate::protocol::{NodeId, Role};

/// A named rare path. The discriminant is the mark's place in [`MARKS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mark {
    PreVote,
    SplitVote,
    VoteDeniedLogBehind,
    RevoteAfterRestart,
    StepDownHigherTerm,
    CheckQuorumStepDown,
    TransferCompleted,
    TruncateSuffix,
    CommitOldTerm,
    JointCommitted,
    LeaderInJoint,
    RemovedLeaderStepsDown,
    ClockJump,
    CrashAtWrite,
    ClientRetry,
    ReadAtLeader,
    ReadAtFollower,
    ReadHeldBack,
}

/// Every mark: (mark, id, meaning), in the order printed.
pub const MARKS: [(Mark, &str, &str); 18] = [
    (
        Mark::PreVote,
        "pre_vote",
        "a node became a pre-candidate (PreVote, dissertation §9.6)",
    ),
    (
        Mark::SplitVote,
        "split_vote",
        "a term in which two or more candidates stood and nobody won",
    ),
    (
        Mark::VoteDeniedLogBehind,
        "vote_denied_log_behind",
        "a voter denied its vote because the candidate's log is behind (§5.4.1; the voter's note)",
    ),
    (
        Mark::RevoteAfterRestart,
        "revote_after_restart",
        "a node restarted with a vote in its term voted again in that term",
    ),
    (
        Mark::StepDownHigherTerm,
        "step_down_higher_term",
        "a leader stepped down on seeing a higher term",
    ),
    (
        Mark::CheckQuorumStepDown,
        "check_quorum_step_down",
        "a leader stepped down in its own term while in its configuration (CheckQuorum)",
    ),
    (
        Mark::TransferCompleted,
        "transfer_completed",
        "the target of a leadership transfer was the next leader elected",
    ),
    (
        Mark::TruncateSuffix,
        "truncate_suffix",
        "a node removed a conflicting suffix of its log (§5.3)",
    ),
    (
        Mark::CommitOldTerm,
        "commit_old_term",
        "a leader's commit first covered an entry of an older term through one of its own (§5.4.2)",
    ),
    (
        Mark::JointCommitted,
        "joint_committed",
        "a joint configuration C_old,new was committed (§6)",
    ),
    (
        Mark::LeaderInJoint,
        "leader_in_joint",
        "a leader was elected whose latest configuration is joint",
    ),
    (
        Mark::RemovedLeaderStepsDown,
        "removed_leader_steps_down",
        "a leader stepped down in its term, left out of its latest configuration C_new",
    ),
    (
        Mark::ClockJump,
        "clock_jump",
        "a node's clock stepped forward or back",
    ),
    (
        Mark::CrashAtWrite,
        "crash_at_write",
        "a node crashed at one of its disk writes (crash_at_write)",
    ),
    (
        Mark::ClientRetry,
        "client_retry",
        "a client sent a request again (a timeout or a redirect)",
    ),
    (
        Mark::ReadAtLeader,
        "read_at_leader",
        "a get was served at the leader without the log (ReadIndex or lease)",
    ),
    (
        Mark::ReadAtFollower,
        "read_at_follower",
        "a get was served at a follower, at a read index the leader gave it",
    ),
    (
        Mark::ReadHeldBack,
        "read_held_back",
        "a get served without the log was held until its server had applied the last write answered before it began",
    ),
];

impl Mark {
    pub fn id(self) -> &'static str {
        MARKS[self as usize].1
    }

    pub fn meaning(self) -> &'static str {
        MARKS[self as usize].2
    }

    /// The mark named `id`.
    pub fn from_id(id: &str) -> Option<Mark> {
        MARKS.iter().find(|m| m.1 == id).map(|m| m.0)
    }
}

/// A set of marks (the ones a run hit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks(u32);

impl Marks {
    pub fn hit(&mut self, m: Mark) {
        self.0 |= 1 << m as u32;
    }

    pub fn has(self, m: Mark) -> bool {
        self.0 & (1 << m as u32) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The marks in the set, in [`MARKS`] order.
    pub fn iter(self) -> impl Iterator<Item = Mark> {
        MARKS.iter().map(|m| m.0).filter(move |&m| self.has(m))
    }

    /// Their ids, in [`MARKS`] order.
    pub fn ids(self) -> Vec<&'static str> {
        self.iter().map(Mark::id).collect()
    }
}

/// A list of ids in `summary.json`.
impl Serialize for Marks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Mark::id))
    }
}

/// How many runs hit each mark, over a seed search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub runs: u64,
    /// Runs that hit each mark, by [`MARKS`] order.
    pub hits: [u64; MARKS.len()],
}

impl Tally {
    pub fn add(&mut self, m: Marks) {
        self.runs += 1;
        for mark in m.iter() {
            self.hits[mark as usize] += 1;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.runs += other.runs;
        for (a, b) in self.hits.iter_mut().zip(other.hits) {
            *a += b;
        }
    }

    pub fn of(&self, m: Mark) -> u64 {
        self.hits[m as usize]
    }

    /// The marks no run hit, in [`MARKS`] order.
    pub fn never_hit(&self) -> Vec<Mark> {
        MARKS
            .iter()
            .map(|m| m.0)
            .filter(|&m| self.of(m) == 0)
            .collect()
    }

    /// `{"seeds": N, "marks": {"id": hits, ...}}`, the marks in table order.
    pub fn to_json(&self) -> serde_json::Value {
        let marks: serde_json::Map<String, serde_json::Value> = MARKS
            .iter()
            .map(|(m, id, _)| (id.to_string(), self.of(*m).into()))
            .collect();
        serde_json::json!({ "seeds": self.runs, "marks": marks })
    }

    /// The tally [`to_json`](Self::to_json) wrote; `None` unless it names every mark.
    pub fn from_json(v: &serde_json::Value) -> Option<Tally> {
        let mut t = Tally {
            runs: v["seeds"].as_u64()?,
            ..Default::default()
        };
        for (m, id, _) in MARKS {
            t.hits[m as usize] = v["marks"][id].as_u64()?;
        }
        Some(t)
    }

    /// The printed table: each mark, the runs that hit it, and the marks never hit.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(o, "coverage (seeds that hit each mark, of {}):", self.runs);
        let width = MARKS.iter().map(|m| m.1.len()).max().unwrap_or(0);
        for (m, id, _) in MARKS {
            let _ = writeln!(o, "  {id:<width$}  {}", self.of(m));
        }
        let never = self.never_hit();
        if never.is_empty() {
            let _ = writeln!(o, "never hit: none");
        } else {
            let ids: Vec<&str> = never.into_iter().map(Mark::id).collect();
            let _ = writeln!(o, "never hit: {}", ids.join(", "));
        }
        o
    }
}

/// What the observer keeps of one node: its role and term, its log as runs of one term (the
/// first index of each run), its configuration entries, and the vote it restarted with.
#[derive(Clone, Debug)]
struct NodeCov {
    role: Role,
    term: u64,
    log_len: u64,
    /// (first index, term) of each run of entries of one term, in log order.
    runs: Vec<(u64, u64)>,
    /// (index, [old, new]) of each configuration entry in the log, in log order.
    configs: Vec<(u64, [u64; 2])>,
    /// The term of the vote the node restarted with, while it is still in that term.
    restarted_vote: Option<u64>,
}

impl Default for NodeCov {
    fn default() -> Self {
        NodeCov {
            role: Role::Follower,
            term: 0,
            log_len: 0,
            runs: Vec::new(),
            configs: Vec::new(),
            restarted_vote: None,
        }
    }
}

impl NodeCov {
    fn set_log(&mut self, log: &[TEntry]) {
        self.runs.clear();
        self.configs.clear();
        self.log_len = 0;
        self.append(1, log, true);
    }

    /// Entries appended at `index`; `configs`: look for configuration entries among them.
    fn append(&mut self, index: u64, entries: &[TEntry], configs: bool) {
        self.log_len = index + entries.len() as u64 - 1;
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return;
        };
        // The common append: more entries of the term the log ends with.
        let same = first.term == last.term && self.runs.last().is_some_and(|r| r.1 == last.term);
        if same && !configs {
            return;
        }
        for (i, e) in (index..).zip(entries) {
            if !same && self.runs.last().is_none_or(|r| r.1 != e.term) {
                self.runs.push((i, e.term));
            }
            if let Some(c) = e.config {
                self.configs.push((i, c));
            }
        }
    }

    fn truncate(&mut self, from: u64) {
        while self.runs.last().is_some_and(|r| r.0 >= from) {
            self.runs.pop();
        }
        while self.configs.last().is_some_and(|c| c.0 >= from) {
            self.configs.pop();
        }
        self.log_len = self.log_len.min(from.saturating_sub(1));
    }

    /// The term of the entry at `index`, if the log holds it.
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 || index > self.log_len {
            return None;
        }
        let at = self.runs.partition_point(|r| r.0 <= index);
        at.checked_sub(1).map(|i| self.runs[i].1)
    }

    /// Whether an entry in (`after`, `upto`] has a term below `term`.
    fn older_term_within(&self, after: u64, upto: u64, term: u64) -> bool {
        let end = self.runs.partition_point(|r| r.0 <= upto);
        // Runs from the one holding `after + 1` to the one holding `upto`.
        let start = self.runs.partition_point(|r| r.0 <= after + 1).max(1) - 1;
        self.runs[start.min(end)..end].iter().any(|r| r.1 < term)
    }

    /// The latest configuration in the log, if any: [old, new].
    fn latest_config(&self) -> Option<[u64; 2]> {
        self.configs.last().map(|c| c.1)
    }
}

/// Derives [`Marks`] from a run's records.
#[derive(Default)]
pub struct Coverage {
    hits: Marks,
    nodes: Vec<NodeCov>,
    /// The highest index any node has applied.
    committed: u64,
    /// The target of the latest transfer asked for, until the next leader is elected.
    transfer_to: Option<NodeId>,
    /// A log may hold configuration entries: a node booted with one, or a membership change
    /// was asked for (before then, appends are not searched for them).
    configs: bool,
}

impl Coverage {
    /// The marks hit so far.
    pub fn marks(&self) -> Marks {
        self.hits
    }

    fn node(&mut self, id: NodeId) -> &mut NodeCov {
        let i = id as usize - 1;
        if i >= self.nodes.len() {
            self.nodes.resize_with(i + 1, Default::default);
        }
        &mut self.nodes[i]
    }

    pub fn on(&mut self, rec: &Record, ctx: &ObsCtx) {
        match &rec.ev {
            Event::Append {
                node,
                index,
                entries,
            } => {
                let configs = self.configs;
                self.node(*node).append(*index, entries, configs)
            }
            Event::Commit { node, commit_index } => self.commit(*node, *commit_index),
            Event::Role { node, role, term } => self.role(*node, *role, *term),
            Event::Truncate { node, from } => {
                let n = self.node(*node);
                if *from <= n.log_len {
                    self.hits.hit(Mark::TruncateSuffix);
                }
                self.node(*node).truncate(*from);
            }
            Event::Leader { node, .. } => {
                if self.node(*node).latest_config().is_some_and(|c| c[0] != 0) {
                    self.hits.hit(Mark::LeaderInJoint);
                }
                if self.transfer_to.take() == Some(*node) {
                    self.hits.hit(Mark::TransferCompleted);
                }
            }
            Event::Vote {
                node,
                term,
                granted,
                reason,
                ..
            } => {
                if !granted && reason.as_deref() == Some("log_not_up_to_date") {
                    self.hits.hit(Mark::VoteDeniedLogBehind);
                }
                if self.node(*node).restarted_vote == Some(*term) {
                    self.hits.hit(Mark::RevoteAfterRestart);
                }
            }
            Event::ClientRequest { attempt, .. } if *attempt > 1 => {
                self.hits.hit(Mark::ClientRetry)
            }
            Event::ClientDone { via, held_back, .. } => {
                match via {
                    Some(TVia::Leader) => self.hits.hit(Mark::ReadAtLeader),
                    Some(TVia::Follower) => self.hits.hit(Mark::ReadAtFollower),
                    None => {}
                }
                if *held_back {
                    self.hits.hit(Mark::ReadHeldBack);
                }
            }
            Event::Start { nodes, voters, .. } => {
                self.nodes.resize_with(*nodes as usize, Default::default);
                self.configs |= voters.is_some();
            }
            Event::Boot {
                node, term, log, ..
            }
            | Event::Restart {
                node, term, log, ..
            } => {
                let restarted_vote = match &rec.ev {
                    Event::Restart {
                        voted_for: Some(_), ..
                    } => Some(*term),
                    _ => None,
                };
                self.configs |= log.iter().any(|e| e.config.is_some());
                let n = self.node(*node);
                n.set_log(log);
                (n.role, n.term, n.restarted_vote) = (Role::Follower, *term, restarted_vote);
            }
            Event::Crash { node } => {
                if ctx.at_write {
                    self.hits.hit(Mark::CrashAtWrite);
                }
                let n = self.node(*node);
                (n.role, n.restarted_vote) = (Role::Follower, None);
            }
            Event::SplitVote { .. } => self.hits.hit(Mark::SplitVote),
            Event::Membership { phase, .. } => {
                self.configs = true;
                if phase == "joint" {
                    self.hits.hit(Mark::JointCommitted)
                }
            }
            Event::Transfer { to, .. } => self.transfer_to = Some(*to),
            Event::ClockJump { .. } => self.hits.hit(Mark::ClockJump),
            _ => {}
        }
    }

    fn role(&mut self, id: NodeId, role: Role, term: u64) {
        let n = self.node(id);
        let (was, led) = (n.role, n.term);
        let removed = n
            .latest_config()
            .is_some_and(|[old, new]| old == 0 && new & (1 << (id - 1)) == 0);
        (n.role, n.term) = (role, term);
        if n.restarted_vote.is_some_and(|t| t != term) {
            n.restarted_vote = None;
        }
        if role == Role::PreCandidate {
            self.hits.hit(Mark::PreVote);
        }
        if was == Role::Leader && role != Role::Leader {
            self.hits.hit(if term > led {
                Mark::StepDownHigherTerm
            } else if removed {
                Mark::RemovedLeaderStepsDown
            } else {
                Mark::CheckQuorumStepDown
            });
        }
    }

    /// A node applied up to `index`: if it leads, and this is the first time any node went
    /// past `self.committed`, did the advance end at an entry of its own term and pass one of
    /// an older term?
    fn commit(&mut self, id: NodeId, index: u64) {
        if index <= self.committed {
            return;
        }
        let after = std::mem::replace(&mut self.committed, index);
        let n = self.node(id);
        if n.role == Role::Leader
            && n.term_at(index) == Some(n.term)
            && n.older_term_within(after, index, n.term)
        {
            self.hits.hit(Mark::CommitOldTerm);
        }
    }
}

impl Observer for Coverage {
    #[inline]
    fn observe(&mut self, rec: &Record, _: u64, ctx: &ObsCtx) -> Option<Violation> {
        self.on(rec, ctx);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_mark_order_and_ids_are_unique_snake_case() {
        for (i, (m, id, meaning)) in MARKS.iter().enumerate() {
            assert_eq!(*m as usize, i, "{id} out of place");
            assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(Mark::from_id(id), Some(*m));
            assert!(!meaning.is_empty());
        }
        assert!(MARKS.len() <= 32, "Marks is a u32");
    }

    #[test]
    fn a_tally_reads_back_what_it_wrote() {
        let mut t = Tally::default();
        let mut m = Marks::default();
        m.hit(Mark::CommitOldTerm);
        m.hit(Mark::ReadHeldBack);
        t.add(m);
        t.add(Marks::default());
        assert_eq!(Tally::from_json(&t.to_json()), Some(t.clone()));
        assert_eq!(Tally::from_json(&serde_json::json!({"seeds": 2})), None);
        let mut twice = t.clone();
        twice.merge(&t);
        assert_eq!((twice.runs, twice.of(Mark::CommitOldTerm)), (4, 2));
    }

    #[test]
    fn runs_of_terms_answer_terms_and_older_entries() {
        let e = |term| TEntry {
            term,
            ..Default::default()
        };
        let mut n = NodeCov::default();
        n.append(1, &[e(1), e(1), e(2), e(2), e(4)], false);
        assert_eq!(n.term_at(2), Some(1));
        assert_eq!(n.term_at(3), Some(2));
        assert_eq!(n.term_at(5), Some(4));
        assert_eq!(n.term_at(6), None);
        assert!(n.older_term_within(3, 5, 4));
        assert!(!n.older_term_within(4, 5, 4));
        assert!(n.older_term_within(0, 1, 2));
        n.truncate(4);
        assert_eq!((n.log_len, n.term_at(3)), (3, Some(2)));
        n.append(4, &[e(5)], false);
        n.append(5, &[e(5), e(5)], false);
        assert_eq!((n.log_len, n.runs.len()), (6, 3));
        assert_eq!(n.term_at(4), Some(5));
        assert!(!n.older_term_within(3, 4, 5));
        assert!(n.older_term_within(2, 4, 5));
    }
}
