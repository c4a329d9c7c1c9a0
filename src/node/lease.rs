//! Leader contact: the rules that depend on how recently a server heard from a leader, each
//! off by default.
//!
//! - **Leader stickiness** (paper §6, [`Config::leader_stickiness`]): a server that heard from
//!   a current leader within the minimum election timeout disregards RequestVote: it neither
//!   adopts the candidate's term nor grants its vote. A leader counts as hearing from itself.
//! - The same recency decides a **pre-vote** (dissertation §9.6, [`super::pre_vote`]).
//! - **CheckQuorum** (dissertation §6.2, [`Config::check_quorum`]): a leader that has not heard
//!   from a majority (itself included) within an election timeout steps down, so a leader cut
//!   off from the majority stops claiming to lead, and its followers become free to elect.
//!
//! The node has no clock. With stickiness or PreVote on, a follower's election timer runs in
//! two halves: the minimum election timeout (the *lease*: a leader heard from at its start is
//! recent until it fires), then the rest, drawn from [0, max − min], after which the server
//! stands. The sum is distributed as the one draw from [min, max] that the timer otherwise is.
//! A leader with CheckQuorum uses its (otherwise idle) election timer, fixed at the minimum
//! election timeout, to check its quorum. With every switch off, no timer changes.

use super::{Node, RoleState};
use crate::base::time::SimDuration;
use crate::protocol::*;

/// Which part of the election timeout the election timer is measuring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ElectionWait {
    /// The whole timeout, one draw from [min, max] (every switch off).
    Whole,
    /// The minimum election timeout since the timer was reset.
    Lease,
    /// What is left after the lease, drawn from [0, max − min].
    Rest,
}

impl Node {
    fn splits_election_timer(&self) -> bool {
        self.cfg.pre_vote || self.cfg.leader_stickiness
    }

    /// (Re)starts the election timeout.
    pub(super) fn arm_election_timer(&mut self, out: &mut Vec<Output>) {
        // With `block_during_writes`: a firing that waited for a write is superseded, as a
        // deadline moved before the timer could act on the old one.
        if !self.deferred.is_empty() {
            self.deferred
                .retain(|i| !matches!(i, Input::Timer(TimerKind::Election)));
        }
        let (min, max) = if self.splits_election_timer() {
            self.election_wait = ElectionWait::Lease;
            (self.cfg.election_timeout_min, self.cfg.election_timeout_min)
        } else {
            self.election_wait = ElectionWait::Whole;
            (self.cfg.election_timeout_min, self.cfg.election_timeout_max)
        };
        out.push(Output::SetTimer {
            kind: TimerKind::Election,
            min,
            max,
        });
    }

    /// The election timer fired: a leader checks its quorum (CheckQuorum); any other server
    /// ends its lease, or, once the whole timeout has elapsed, stands (through PreVote if on).
    pub(super) fn on_election_timer(&mut self, out: &mut Vec<Output>) {
        if matches!(self.role, RoleState::Leader(_)) {
            // One timer serves both: a transfer's deadline (which, armed later, postpones the
            // next quorum check) and CheckQuorum.
            self.abort_transfer();
            if self.cfg.check_quorum {
                self.check_quorum(out);
            }
            return;
        }
        if self.election_wait == ElectionWait::Lease {
            self.election_wait = ElectionWait::Rest;
            self.leader_recent = false;
            out.push(Output::SetTimer {
                kind: TimerKind::Election,
                min: SimDuration(0),
                max: SimDuration(self.cfg.election_timeout_max.0 - self.cfg.election_timeout_min.0),
            });
            return;
        }
        // A server outside its own configuration (not yet added, or removed) does not stand:
        // it could not count its own vote, and would only disrupt the voters (paper §6). Unless
        // that configuration may not be committed yet: then the server may still be needed to
        // elect a leader of C_old,new (a leader that crashed before C_new committed, the
        // others holding only C_old,new), so it stands without counting its own vote
        // (dissertation §4.2.2).
        if !self.quorum.contains(self.cfg.id)
            && (self.config_index == 0 || self.config_index <= self.commit_index)
        {
            self.arm_election_timer(out);
            return;
        }
        if self.cfg.pre_vote {
            self.become_pre_candidate(out);
        } else {
            self.become_candidate(out);
        }
    }

    /// Whether this server heard from a current leader within the minimum election timeout
    /// (a leader: always).
    pub(super) fn leader_is_recent(&self) -> bool {
        match self.role {
            RoleState::Leader(_) => true,
            // With lease reads, a follower keeps its promise not to vote until the first part
            // of its election timer ends, whatever term a message brought meanwhile: a leader's
            // lease counts on it ([`super::read`]). Plain stickiness forgets the leader with
            // its term.
            RoleState::Follower { .. } => {
                self.leader_recent
                    || (self.cfg.lease_reads && self.election_wait == ElectionWait::Lease)
            }
            RoleState::PreCandidate(_) | RoleState::Candidate(_) => false,
        }
    }

    /// Leader stickiness (paper §6): whether to disregard this message altogether, before the
    /// higher-term rule sees it. The denial is noted for the trace; nothing is sent. A vote
    /// request of a leadership transfer is never disregarded (dissertation §4.2.3: the leader
    /// itself asked for this election).
    pub(super) fn disregards(&self, env: &Envelope, out: &mut Vec<Output>) -> bool {
        let Message::RequestVote { term, transfer, .. } = env.msg else {
            return false;
        };
        if transfer || !(self.cfg.leader_stickiness && self.leader_is_recent()) {
            return false;
        }
        out.push(Output::Note(Note::VoteDenied {
            candidate: env.from,
            term,
            reason: DenyReason::LeaderRecent,
        }));
        true
    }

    /// A leader with CheckQuorum arms its quorum check: one minimum election timeout.
    pub(super) fn arm_quorum_check(&self, out: &mut Vec<Output>) {
        out.push(Output::SetTimer {
            kind: TimerKind::Election,
            min: self.cfg.election_timeout_min,
            max: self.cfg.election_timeout_min,
        });
    }

    /// CheckQuorum: a follower answered this leader in its term.
    pub(super) fn heard_from_follower(&mut self, from: NodeId) {
        if let RoleState::Leader(l) = &mut self.role {
            l.heard_since_check.grant(from);
        }
    }

    /// CheckQuorum (dissertation §6.2): lead on if a majority, itself included, answered since
    /// the last check; otherwise step down.
    fn check_quorum(&mut self, out: &mut Vec<Output>) {
        let me = self.cfg.id;
        let RoleState::Leader(l) = &mut self.role else {
            panic!("only a leader checks its quorum")
        };
        let heard = std::mem::take(&mut l.heard_since_check);
        // The bug counts the leader a second time, in place of one voter not heard from.
        let twice = if self.bug(super::Bug::CheckQuorumCountsLeaderTwice) {
            self.quorum
                .new_voters()
                .iter()
                .copied()
                .find(|&v| v != me && !heard.has(v))
        } else {
            None
        };
        if self
            .quorum
            .is_won(|v| v == me || heard.has(v) || Some(v) == twice)
        {
            self.arm_quorum_check(out);
        } else {
            self.step_down_without_quorum(out);
        }
    }

    /// A leader that lost touch with its majority becomes a follower of the same term, with no
    /// leader known; also a leader that committed a C_new without itself (paper §6, see
    /// [`super::membership`]). Only from leader.
    pub(super) fn step_down_without_quorum(&mut self, out: &mut Vec<Output>) {
        let was = std::mem::replace(&mut self.role, RoleState::Follower { leader: None });
        let RoleState::Leader(mut l) = was else {
            panic!("only a leader steps down for want of a quorum")
        };
        out.push(Output::CancelTimer(TimerKind::Heartbeat));
        l.fail_pending_clients(self.term, self.cfg.id, out);
        self.arm_election_timer(out);
    }
}
