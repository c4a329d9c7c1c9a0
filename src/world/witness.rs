//! Observing a node from outside. After each step the world compares what the node did with
//! what it had observed before, and emits the trace records that describe the change:
//!
//! - **term and vote** from the last disk write the step issued (Figure 2's persistent state is
//!   what the node wrote, not what it says);
//! - **log changes** (`append`, `truncate`) from the write's log operations;
//! - **role** from the node interface, with the observed term; a new candidacy (`election`)
//!   when a candidate has written a vote for itself in a new term; `leader` when the interface
//!   reports leadership, with the votes the world saw delivered to it plus its own durable one;
//! - **votes** from the granted vote replies the node sends ([`sent_record`]);
//! - **commit** from what the node applied (written by the caller, in output order).
//!
//! The records for one step come in a fixed order: role, election, leader, log changes, then
//! the outputs in the order the node gave them.

use super::Simulation;
use crate::base::time::{SimDuration, SimTime};
use crate::observe::trace::{Event, TEntry};
use crate::observe::Observer;
use crate::protocol::{
    Envelope, HardState, Index, LogOp, NodeId, Output, RaftNode, Role, Term, WireMessage,
};

/// What the world has observed of one node in its current incarnation.
#[derive(Clone, Debug)]
pub struct Seen {
    pub role: Role,
    /// From the last write issued.
    pub term: Term,
    pub voted_for: Option<NodeId>,
    /// The length of the log as the node's writes (issued, not necessarily complete) have
    /// shaped it; the entries themselves are on its disk or in its disk's queue.
    pub log_len: Index,
    /// The highest index applied.
    pub applied: Index,
    /// Granted votes delivered to the node, for `votes_term` only.
    votes_term: Term,
    votes: Vec<NodeId>,
}

impl Seen {
    /// A node just built from its disk: a follower with what the disk holds.
    pub fn from_disk(hard: &HardState) -> Seen {
        Seen {
            role: Role::Follower,
            term: hard.term,
            voted_for: hard.voted_for,
            log_len: hard.log.last_index(),
            applied: 0,
            votes_term: 0,
            votes: Vec::new(),
        }
    }

    /// A granted vote for `term` from `voter` reached the node.
    /// A grant from an earlier term than one already seen is stale and not kept.
    pub fn vote_delivered(&mut self, term: Term, voter: NodeId) {
        if term < self.votes_term {
            return;
        }
        if term > self.votes_term {
            self.votes_term = term;
            self.votes.clear();
        }
        if !self.votes.contains(&voter) {
            self.votes.push(voter);
        }
    }

    fn votes_in(&self, term: Term) -> u32 {
        if term == self.votes_term {
            self.votes.len() as u32
        } else {
            0
        }
    }
}

impl Seen {
    /// The records node `id`'s step implies before its outputs are carried out, given its role
    /// after the step (from the interface) and its durable state (for its own vote).
    pub fn step_records<M>(
        &mut self,
        id: NodeId,
        role: Role,
        outs: &[Output<M>],
        durable: &HardState,
        records: &mut Vec<Event>,
    ) {
        let (old_role, old_term, old_vote) = (self.role, self.term, self.voted_for);
        // The common step (a heartbeat, an ack) changes neither role nor disk: nothing to say.
        if role == old_role && !outs.iter().any(|o| matches!(o, Output::Persist { .. })) {
            return;
        }
        let (mut term, mut vote) = (old_term, old_vote);
        let mut writes = false;
        for o in outs {
            if let Output::Persist {
                term: t,
                voted_for: v,
                ..
            } = o
            {
                (term, vote) = (*t, *v);
                writes = true;
            }
        }
        if (role, term) != (old_role, old_term) {
            records.push(Event::Role {
                node: id,
                role,
                term,
            });
        }
        if role == Role::Candidate && term > old_term && vote == Some(id) {
            records.push(Event::Election { node: id, term });
        }
        // A leader of a new term is a new leadership, even if the node never stopped leading
        // (a correct node cannot: a higher term makes it a follower first).
        if role == Role::Leader && (old_role != Role::Leader || term != old_term) {
            let own = durable.term == term && durable.voted_for == Some(id);
            records.push(Event::Leader {
                node: id,
                term,
                votes: self.votes_in(term) + own as u32,
            });
        }
        self.role = role;
        self.term = term;
        self.voted_for = vote;
        if writes {
            for o in outs {
                if let Output::Persist { ops, .. } = o {
                    for op in ops {
                        records.push(match op {
                            LogOp::Truncate { from } => Event::Truncate {
                                node: id,
                                from: *from,
                            },
                            LogOp::Append { entries } => Event::Append {
                                node: id,
                                index: self.log_len + 1,
                                entries: entries.iter().map(TEntry::from).collect(),
                            },
                        });
                        self.log_len = match op {
                            LogOp::Truncate { from } => self.log_len.min(from.saturating_sub(1)),
                            LogOp::Append { entries } => self.log_len + entries.len() as Index,
                        };
                    }
                }
            }
        }
    }
}

/// The record a sent message implies: a granted vote reply is a vote cast, recorded when it
/// leaves (a node that forgets it after a restart and votes again is caught).
pub fn sent_record<M: WireMessage>(env: &Envelope<M>) -> Option<Event> {
    (env.msg.vote_granted() == Some(true)).then(|| Event::Vote {
        node: env.from,
        candidate: env.to,
        term: env.msg.term(),
        granted: true,
        reason: None,
    })
}

/// The commit index a run of applies at the start of `rest` reaches: what the node applied is
/// what it had committed. `None` if `rest` does not start with an apply. Call it at the first
/// apply of each run.
pub fn commit_of_applies<M>(rest: &[Output<M>]) -> Option<Index> {
    rest.iter()
        .map_while(|o| match o {
            Output::Apply { index, .. } => Some(*index),
            _ => None,
        })
        .last()
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// Emits what node `id`'s last step changed, before its outputs are carried out.
    /// `writes`: whether the step issued a disk write.
    #[inline]
    pub(super) fn witness(&mut self, id: NodeId, outs: &[Output<N::Msg>], writes: bool) {
        let s = &mut self.slots[id as usize - 1];
        let role = s.node.as_ref().expect("a live node stepped").role();
        // The common step (a heartbeat, an ack) changes neither role nor disk: nothing to say.
        if role == s.seen.role && !writes {
            return;
        }
        self.witness_changes(id, role, outs);
    }

    #[inline(never)]
    fn witness_changes(&mut self, id: NodeId, role: Role, outs: &[Output<N::Msg>]) {
        let s = &mut self.slots[id as usize - 1];
        let before = (s.seen.role, s.seen.term, s.seen.voted_for);
        let mut records = std::mem::take(&mut self.witnessed);
        s.seen.step_records(id, role, outs, &s.hard, &mut records);
        for ev in records.drain(..) {
            self.emit(ev);
        }
        self.witnessed = records;
        if self.election_floor.is_some() || self.election_ceiling.is_some() {
            self.election_timer_step(id, before);
        }
        let s = &self.slots[id as usize - 1];
        if self.election_ceiling.is_some() && (s.seen.role, s.seen.term) != (before.0, before.1) {
            // An implementation may restart its timer on any new term or role.
            self.may_restart_election_timer(id, ResetCause::Changed);
        }
    }

    /// "Liveness: Election Timer" (see [`ElectionReset`]): after a step that changed the
    /// node's role or disk, `before` being its (role, term, vote) as observed before it.
    fn election_timer_step(&mut self, id: NodeId, before: (Role, Term, Option<NodeId>)) {
        let s = &self.slots[id as usize - 1];
        let (role, term, vote) = (s.seen.role, s.seen.term, s.seen.voted_for);
        let stood = (role == Role::PreCandidate && before.0 != Role::PreCandidate)
            || (role == Role::Candidate && term > before.1 && vote == Some(id));
        let cause = if stood {
            if self.timer_input && self.election_floor.is_some() {
                self.judge_election_timer(id, term);
            }
            ResetCause::Stood
        } else {
            match vote {
                Some(c) if c != id && (term, vote) != (before.1, before.2) => {
                    ResetCause::Granted(c)
                }
                _ => return,
            }
        };
        self.reset_election_timer(id, cause);
    }

    /// The world's note that node `id` restarted its election timer now, for `cause`.
    pub(super) fn reset_election_timer(&mut self, id: NodeId, cause: ResetCause) {
        let now = self.now;
        self.slots[id as usize - 1].election_reset = Some(ElectionReset { at: now, cause });
        self.restart_late_count(id, cause);
    }

    /// The world's note that node `id` may have restarted its election timer now, for
    /// `cause`: the greatest election timeout counts from here. Not after a clock jump
    /// until a restart Figure 2 asks for: a timer the jump moved back, and not restarted
    /// since, fires later than the greatest timeout after any such moment.
    pub(super) fn may_restart_election_timer(&mut self, id: NodeId, cause: ResetCause) {
        if self.slots[id as usize - 1].late_from.is_some() {
            self.restart_late_count(id, cause);
        }
    }

    fn restart_late_count(&mut self, id: NodeId, cause: ResetCause) {
        let now = self.now;
        let s = &mut self.slots[id as usize - 1];
        s.late_from = Some(ElectionReset { at: now, cause });
        // The timer armed last may not be re-armed now (a step-down, a write finished): it
        // fires within the timeout and its jitter of when it was armed, no later than of now.
        s.late_jitter = s.election_armed.1;
    }

    /// "Liveness: Election Timer", the other side: after a step of node `id`, a voter of its
    /// own configuration that is not leading, has no write pending and is not paused must
    /// have stood within its greatest election timeout (on its clock, plus the jitter drawn
    /// for its timer) of the last moment it may have restarted its timer.
    pub(super) fn judge_late_election(&mut self, id: NodeId) {
        let ceiling = self.election_ceiling.expect("judged only with a ceiling");
        let s = &self.slots[id as usize - 1];
        let Some(from) = s.late_from else {
            return; // a clock jump since: not judged
        };
        // Most steps come well within the timeout (a heartbeat restarted it): no clock runs
        // twice as fast as virtual time, so half the timeout needs no conversion.
        if (self.now - from.at).0 <= ceiling.0 / 2 {
            return;
        }
        let waited = (self.now - from.at).0.saturating_sub(s.late_jitter);
        let elapsed = super::clock::virtual_to_local(waited, s.drift_ppb);
        if elapsed <= ceiling.0.saturating_add(SLACK_NS)
            || s.node.is_none()
            || s.seen.role == Role::Leader
            || s.paused_until.is_some()
            || !s.disk.idle()
        {
            return;
        }
        let (_, old, new) = self.config_of(id);
        if (old | new) & bit(id) == 0 {
            return; // a learner, or removed: it never stands
        }
        self.fail_late_election(id, from, elapsed, ceiling);
    }

    #[cold]
    fn fail_late_election(
        &mut self,
        id: NodeId,
        from: ElectionReset,
        elapsed: u64,
        ceiling: SimDuration,
    ) {
        let s = &self.slots[id as usize - 1];
        let detail = format!(
            "n{id}, a {} of term {} and a voter, has not stood {} after it {} (at {}), longer than its greatest election timeout {} on its clock: an election timer restarted when nothing called for it (Figure 2, \"Followers\": if the election timeout elapses without AppendEntries from the current leader or a vote granted, convert to candidate; §5.2)",
            s.seen.role.name(),
            s.seen.term,
            SimDuration(elapsed),
            from.cause.describe(),
            from.at,
            ceiling
        );
        self.fail("Liveness: Election Timer", detail);
    }

    /// Node `id` stood in term `term` at an expiry of its timer (a timer or tick input): fail
    /// the run if its least election timeout had not passed, on its clock, since the last
    /// restart of its election timer the world saw.
    #[cold]
    fn judge_election_timer(&mut self, id: NodeId, term: Term) {
        let floor = self.election_floor.expect("judged only with a floor");
        let s = &self.slots[id as usize - 1];
        let Some(reset) = s.election_reset else {
            return; // a clock jump since: not judged
        };
        let elapsed = super::clock::virtual_to_local((self.now - reset.at).0, s.drift_ppb);
        // Conversions between the clocks round by a nanosecond or so.
        if elapsed + SLACK_NS >= floor.0 {
            return;
        }
        let what = reset.cause.describe();
        let detail = format!(
            "n{id} stood (term {term}) {} after it {what} (at {}), sooner than its least election timeout {} on its clock: an election timer not restarted then (Figure 2, \"Followers\"; §5.2)",
            SimDuration(elapsed),
            reset.at,
            floor
        );
        self.fail("Liveness: Election Timer", detail);
    }
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// "Liveness: CheckQuorum", after a step of node `id` (a leader before it, if
    /// `was_leader`): a new leader's silence counts from now; a leader still leading after an
    /// expiry of a timer (`judge`: when it would check its quorum) must have heard from a
    /// majority of its configuration within the implementation's bound, on its own clock.
    pub(super) fn check_quorum_step(&mut self, id: NodeId, was_leader: bool, judge: bool) {
        let now = self.now;
        let s = &mut self.slots[id as usize - 1];
        if s.seen.role != Role::Leader || s.node.is_none() {
            return;
        }
        if !was_leader {
            s.quorum_floor = now;
            return;
        }
        if judge {
            self.judge_check_quorum(id);
        }
    }

    #[cold]
    fn judge_check_quorum(&mut self, id: NodeId) {
        let bound = self.quorum_bound.expect("judged only with a bound");
        let (index, old, new) = self.config_of(id);
        if new & bit(id) == 0 {
            return; // outside its own configuration: Leader Outside Configuration's to judge
        }
        let now = self.now;
        let s = &mut self.slots[id as usize - 1];
        if index != s.quorum_config {
            // A new configuration's majority is judged from when the world first sees it in
            // force: later than it took effect, which only ever delays a failure.
            s.quorum_config = index;
            s.quorum_floor = now;
            return;
        }
        let s = &self.slots[id as usize - 1];
        // The latest moment from which a majority of `set` (the leader counted once, now)
        // has been heard from.
        let majority_since = |set: u64| {
            let mut times: Vec<SimTime> = (1..=self.cfg.nodes)
                .filter(|&p| set & bit(p) != 0)
                .map(|p| {
                    if p == id {
                        self.now
                    } else {
                        s.heard_at[p as usize - 1]
                    }
                })
                .collect();
            times.sort_unstable_by(|a, b| b.cmp(a));
            times[times.len() / 2]
        };
        let mut since = majority_since(new);
        if old != 0 {
            since = since.min(majority_since(old));
        }
        let since = since.max(s.quorum_floor);
        let silent = super::clock::virtual_to_local((self.now - since).0, s.drift_ppb);
        if silent <= bound.0.saturating_add(SLACK_NS) {
            return;
        }
        let detail = format!(
            "n{id} still leads (term {}) {} after a majority of its configuration {} last reached it (at {since}), longer than its CheckQuorum bound {bound} on its clock (dissertation §6.2: a leader that has not heard from a majority within an election timeout steps down)",
            s.seen.term,
            SimDuration(silent),
            super::faults::describe_voters(new),
        );
        self.fail("Liveness: CheckQuorum", detail);
    }
}

/// A vote or pre-vote request a node is handling, for "Election Restriction" (§5.4.1;
/// dissertation §9.6): who asks, for which term, what it states of its log, and the voter's
/// last entry and (term, vote) before the step.
#[derive(Clone, Copy, Debug)]
pub(super) struct VoteAsk {
    pub from: NodeId,
    pub term: Term,
    pub req: crate::protocol::VoteRequest,
    pub voter_last: (crate::protocol::Index, Term),
    pub before: (Term, Option<NodeId>),
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// Node `id` is about to handle a vote or pre-vote request from `from` for `term`.
    pub(super) fn ask_vote(
        &mut self,
        id: NodeId,
        from: NodeId,
        term: Term,
        req: crate::protocol::VoteRequest,
    ) {
        let s = &self.slots[id as usize - 1];
        self.vote_ask = Some(VoteAsk {
            from,
            term,
            req,
            voter_last: s.disk.last_entry(&s.hard.log),
            before: (s.seen.term, s.seen.voted_for),
        });
        self.vote_regranted = false;
        self.pre_vote_granted = false;
    }

    /// "Election Restriction", after node `id` handled a vote or pre-vote request: if it
    /// granted it (a pre-vote: a granted reply to the asker; a vote: a write of its vote for
    /// the asker in the request's term, new in this step), the asker's log as the request
    /// states it must be at least as up to date as the voter's (§5.4.1: last terms compared,
    /// then lengths). A grant the node defers past this step is not judged.
    pub(super) fn judge_vote(&mut self, id: NodeId) {
        let Some(ask) = self.vote_ask.take() else {
            return;
        };
        let pre_vote_granted = std::mem::take(&mut self.pre_vote_granted);
        let s = &self.slots[id as usize - 1];
        let granted = if ask.req.pre_vote {
            pre_vote_granted
        } else {
            let vote = (ask.term, Some(ask.from));
            (s.seen.term, s.seen.voted_for) == vote && ask.before != vote
        };
        let (vi, vt) = ask.voter_last;
        let (ci, ct) = (ask.req.last_log_index, ask.req.last_log_term);
        if !granted || ct > vt || (ct == vt && ci >= vi) {
            return;
        }
        self.fail_vote(id, ask);
    }

    #[cold]
    fn fail_vote(&mut self, id: NodeId, ask: VoteAsk) {
        let what = if ask.req.pre_vote {
            "a pre-vote"
        } else {
            "its vote"
        };
        let detail = format!(
            "n{id} granted {what} in term {} to n{}, whose log ends at index {} of term {}, behind its own (index {} of term {}): a vote only for a candidate whose log is at least as up to date (§5.4.1{})",
            ask.term,
            ask.from,
            ask.req.last_log_index,
            ask.req.last_log_term,
            ask.voter_last.0,
            ask.voter_last.1,
            if ask.req.pre_vote { "; dissertation §9.6: a pre-vote by the same rule" } else { "" }
        );
        self.fail("Election Restriction", detail);
    }
}

/// A node's bit in a voter set.
fn bit(id: NodeId) -> u64 {
    1u64 << ((id as u64 - 1) % 64)
}

/// Tolerance for the clock conversions' rounding, in ns.
const SLACK_NS: u64 = 1_000;

/// The last moment the world saw that a node must have restarted its election timer, for
/// "Liveness: Election Timer": a server stands only once its election timeout has passed
/// without it hearing from its term's leader or granting a vote (Figure 2, "Followers"), and a
/// candidate restarts its timer when it stands (§5.2). The world notes each such moment from
/// what it observes: the node's start, the delivery of a message only leaders send, of at least
/// the receiver's term, a vote for another server in its disk write, a new candidacy or
/// pre-candidacy. An implementation may restart its timer more often (on any new term, say);
/// that only makes its elections later than the world's bound requires. A clock jump forgets
/// the moment: the next is judged afresh.
#[derive(Clone, Copy, Debug)]
pub(super) struct ElectionReset {
    pub at: SimTime,
    pub cause: ResetCause,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum ResetCause {
    Started,
    Heard(NodeId),
    Granted(NodeId),
    Stood,
    /// Only for the greatest election timeout: moments an implementation may restart its
    /// timer without Figure 2 asking for it.
    Changed,
    Stepped,
    Resumed,
    Regranted,
}

impl ResetCause {
    fn describe(self) -> String {
        match self {
            ResetCause::Started => "started".to_string(),
            ResetCause::Heard(l) => format!("received an AppendEntries of its term from n{l}"),
            ResetCause::Granted(c) => format!("granted its vote to n{c}"),
            ResetCause::Stood => "stood in an election".to_string(),
            ResetCause::Changed => "changed its term or role".to_string(),
            ResetCause::Stepped => "finished a write or had its election timer fire".to_string(),
            ResetCause::Resumed => "resumed from a pause".to_string(),
            ResetCause::Regranted => "granted a vote".to_string(),
        }
    }
}
