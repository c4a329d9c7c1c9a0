//! PreVote (dissertation §9.6), on when [`Config::pre_vote`] is set: a server whose election
//! timer fires first becomes a *pre-candidate*. It asks the others whether they would vote for
//! it in the next term, without raising its own term or writing anything, and stands as a
//! candidate only once a majority (itself included) says yes. A server says yes when the
//! pre-candidate's log is at least as up to date as its own (§5.4.1) and it has not heard from
//! a current leader within the minimum election timeout (see [`super::lease`]).
//!
//! A pre-vote is not a vote: nothing is written, the answer changes nothing at either end,
//! and the pre-vote reply says so to the world ([`WireMessage::vote_granted`] is `None`). A
//! server cut off from the majority therefore keeps its term, and does not depose a healthy
//! leader with a higher one when it comes back.

use super::quorum::VoteSet;
use super::{Node, RoleState};
use crate::protocol::*;

/// What only a pre-candidate holds: who said they would vote for it (itself included).
#[derive(Clone, Debug, Default)]
pub struct PreCandidacy {
    votes: VoteSet,
}

impl Node {
    /// A follower, candidate or pre-candidate whose election timeout elapsed asks for pre-votes
    /// for the term after its own. Never from leader.
    pub(super) fn become_pre_candidate(&mut self, out: &mut Vec<Output>) {
        assert!(
            !matches!(self.role, RoleState::Leader(_)),
            "a leader does not start elections"
        );
        assert!(self.cfg.pre_vote, "pre-candidates exist only with PreVote");
        let me = self.cfg.id;
        let mut votes = VoteSet::default();
        votes.grant(me);
        self.role = RoleState::PreCandidate(PreCandidacy { votes });
        self.arm_election_timer(out);
        if self.quorum.is_won(|v| v == me) {
            // A cluster of one: its own pre-vote is a majority.
            self.become_candidate(out);
            return;
        }
        let msg = Message::PreVote {
            term: self.term + 1,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        let peers: Vec<NodeId> = self.peers().collect();
        for p in peers {
            out.push(Output::Send(Envelope {
                from: me,
                to: p,
                msg: msg.clone(),
            }));
        }
    }

    /// PreVote receiver: would this server vote for `candidate` in `term`? Whatever the answer,
    /// its term, vote and timers stay as they are.
    pub(super) fn on_pre_vote(
        &mut self,
        candidate: NodeId,
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
    ) {
        let granted = term > self.term
            && (self.log.is_up_to_date(last_log_index, last_log_term)
                || self.bug(super::Bug::PreVoteIgnoresLog))
            && !self.leader_is_recent();
        self.reply(
            candidate,
            Message::PreVoteResp {
                term: if granted { term } else { self.term },
                granted,
            },
        );
    }

    /// A pre-vote reply. A granted one counts if it is about the term this pre-candidate asks
    /// for; a majority makes it a candidate (§9.6). A denial from a higher term has already
    /// made it a follower of that term (`Node::on_message`).
    pub(super) fn on_pre_vote_resp(
        &mut self,
        from: NodeId,
        term: Term,
        granted: bool,
        out: &mut Vec<Output>,
    ) {
        if !granted || term != self.term + 1 {
            return;
        }
        let RoleState::PreCandidate(c) = &mut self.role else {
            return;
        };
        c.votes.grant(from);
        let c = &*c;
        if self.quorum.is_won(|v| c.votes.has(v)) {
            self.become_candidate(out);
        }
    }
}
