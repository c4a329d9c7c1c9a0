//! Candidates (paper §5.2): start an election, count votes, win by a majority.
//!
//! A candidate's own vote counts like any other, and only once it is durable (Figure 2:
//! persistent state is on stable storage before the server acts on it). With
//! `candidate_persist: before_send` RequestVote waits for that write; with `parallel` it goes
//! out at once and the own vote counts when the write completes.

use super::quorum::VoteSet;
use super::{CandidatePersist, Node, RoleState};
use crate::protocol::*;

/// What only a candidate holds: the votes of this term and whether its own is durable.
#[derive(Clone, Debug, Default)]
pub struct Candidacy {
    pub(super) votes: VoteSet,
    own_vote_durable: bool,
    /// The disk write that makes this candidacy's term and vote durable.
    election_seq: u64,
}

impl Candidacy {
    /// Whether the write `seq` just completed makes this candidate's own vote durable now. Only
    /// the write that holds this term's vote counts, not an older one that happens to complete
    /// first.
    pub(super) fn own_vote_durable_with(&self, seq: u64) -> bool {
        !self.own_vote_durable && seq >= self.election_seq
    }
}

impl Node {
    /// A follower or candidate whose election timer fired starts an election for the next term
    /// (§5.2). Never from leader.
    pub(super) fn become_candidate(&mut self, out: &mut Vec<Output>) {
        self.stand(false, out)
    }

    /// Starts an election; `transfer`: because the leader asked (TimeoutNow, dissertation
    /// §3.10), which the vote requests say so that stickiness does not disregard them.
    pub(super) fn stand(&mut self, transfer: bool, out: &mut Vec<Output>) {
        assert!(
            !matches!(self.role, RoleState::Leader(_)),
            "a leader does not start elections"
        );
        self.term += 1;
        self.voted_for = Some(self.cfg.id);
        self.hard_dirty = true;
        self.role = RoleState::Candidate(Candidacy {
            votes: VoteSet::default(),
            own_vote_durable: false,
            // flush_persist at the end of this step issues this write (hard_dirty is set).
            election_seq: self.persist_seq + 1,
        });
        self.arm_election_timer(out);
        let msg = Message::RequestVote {
            term: self.term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            transfer,
        };
        let wait = self.opts.candidate_persist == CandidatePersist::BeforeSend;
        let me = self.cfg.id;
        let peers: Vec<NodeId> = self.peers().collect();
        for p in peers {
            let env = Envelope {
                from: me,
                to: p,
                msg: msg.clone(),
            };
            if wait {
                // Held until the write issued at the end of this step is durable.
                self.held.push((self.persist_seq + 1, env));
            } else {
                out.push(Output::Send(env));
            }
        }
    }

    /// The candidate's own term and vote reached the disk: its own vote now counts.
    pub(super) fn on_own_vote_durable(&mut self, out: &mut Vec<Output>) {
        let RoleState::Candidate(c) = &mut self.role else {
            unreachable!("only a candidate waits for its own vote")
        };
        c.own_vote_durable = true;
        let me = self.cfg.id;
        self.count_vote(me, out);
    }

    /// Counts a granted vote; a majority, own vote included and durable, wins (§5.2).
    pub(super) fn count_vote(&mut self, voter: NodeId, out: &mut Vec<Output>) {
        let RoleState::Candidate(c) = &mut self.role else {
            panic!("only a candidate counts votes")
        };
        c.votes.grant(voter);
        let c = &*c;
        if c.own_vote_durable && self.quorum.is_won(|v| c.votes.has(v)) {
            self.become_leader(out, true);
        }
    }
}
