//! What every server does, whatever its role, with the two RPC requests (paper Figure 2,
//! "Receiver implementation"), and the transitions to follower.
//!
//! A request from a higher term has already made the node a follower of that term (see
//! `Node::on_message`), so a vote is granted only by a follower, and an AppendEntries of the
//! current term comes from that term's one leader: a candidate of the same term steps down.

use super::{Bug, Node, RoleState};
use crate::protocol::*;

impl Node {
    /// Adopts a higher term (Figure 2, "All servers"): forget the vote, become follower. From
    /// any role.
    pub(super) fn become_follower_of_new_term(&mut self, term: Term, out: &mut Vec<Output>) {
        assert!(term > self.term, "terms only increase");
        let was = std::mem::replace(&mut self.role, RoleState::Follower { leader: None });
        self.term = term;
        self.voted_for = None;
        self.hard_dirty = true;
        self.leader_recent = false;
        if !self.follower_reads.is_empty() {
            self.fail_follower_reads(out);
        }
        if let RoleState::Leader(mut l) = was {
            out.push(Output::CancelTimer(TimerKind::Heartbeat));
            l.fail_pending_clients(self.term, self.cfg.id, out);
            self.arm_election_timer(out);
        }
    }

    /// §5.2: a candidate that hears from the leader of its own term steps down; a follower
    /// learns who leads. Never from leader: two leaders in one term break Election Safety.
    fn follow_leader_of_this_term(&mut self, leader: NodeId) {
        match self.role {
            RoleState::Leader(_) => panic!("two leaders in term {}", self.term),
            RoleState::PreCandidate(_) | RoleState::Candidate(_) | RoleState::Follower { .. } => {
                // Injected bug `reset-vote-on-step-down`, breaking §5.2 ("each server will vote
                // for at most one candidate in a given term") and Figure 2 (votedFor is reset
                // only with a new term): a candidate stepping down in its own term forgets its
                // vote for itself (and writes that), so it may vote again in this term.
                if matches!(self.role, RoleState::Candidate(_))
                    && self.bug(Bug::ResetVoteOnStepDown)
                {
                    self.voted_for = None;
                    self.hard_dirty = true;
                }
                self.role = RoleState::Follower {
                    leader: Some(leader),
                }
            }
        }
    }

    /// RequestVote receiver (Figure 2, §5.2, §5.4.1).
    pub(super) fn on_request_vote(
        &mut self,
        candidate: NodeId,
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
        out: &mut Vec<Output>,
    ) {
        let deny = if term < self.term {
            Some(DenyReason::StaleTerm)
        } else if let Some(v) = self.voted_for.filter(|&v| v != candidate) {
            Some(DenyReason::AlreadyVoted(v))
        } else if !self.log.is_up_to_date(last_log_index, last_log_term)
            // Injected bug `no-log-check-on-vote`, breaking §5.4.1 (the election restriction:
            // deny a candidate whose log is less up to date than the voter's): no check.
            && !self.bug(Bug::NoLogCheckOnVote)
        {
            Some(DenyReason::LogNotUpToDate)
        } else {
            None
        };
        match deny {
            Some(reason) => {
                out.push(Output::Note(Note::VoteDenied {
                    candidate,
                    term,
                    reason,
                }));
                self.reply(
                    candidate,
                    Message::RequestVoteResp {
                        term: self.term,
                        granted: false,
                    },
                );
            }
            None => {
                // A candidate or leader of this term voted for itself, so only a follower
                // gets here, or a pre-candidate (which has not voted in its term), which
                // becomes a follower by granting.
                if matches!(self.role, RoleState::PreCandidate(_)) {
                    self.role = RoleState::Follower { leader: None };
                }
                debug_assert!(matches!(self.role, RoleState::Follower { .. }));
                if self.voted_for.is_none() {
                    self.voted_for = Some(candidate);
                    self.hard_dirty = true;
                }
                // §5.2: the election timer restarts only when a vote is granted, not when one
                // is denied. Injected bug `no-timer-restart-on-vote`, breaking Figure 2
                // ("Followers"): it does not restart at all.
                if !self.bug(Bug::NoTimerRestartOnVote) {
                    self.arm_election_timer(out);
                }
                self.reply(
                    candidate,
                    Message::RequestVoteResp {
                        term: self.term,
                        granted: true,
                    },
                );
            }
        }
    }

    /// AppendEntries receiver (Figure 2, §5.3).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_append_entries(
        &mut self,
        leader: NodeId,
        term: Term,
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
        round: u64,
        out: &mut Vec<Output>,
    ) {
        if term < self.term {
            if self.bug(Bug::AnyAppendRestartsTimer) {
                self.arm_election_timer(out);
            }
            // The answer carries this server's term, not the request's: it echoes no round,
            // or a leader of this term that once led an earlier one would take the answer to
            // one of its old heartbeats for an answer to a round of this term ([`super::read`]).
            self.reply(
                leader,
                Message::AppendEntriesResp {
                    term: self.term,
                    success: false,
                    index: 0,
                    round: 0,
                },
            );
            return;
        }
        self.follow_leader_of_this_term(leader);
        self.arm_election_timer(out);
        self.leader_recent = true;

        match self.log.term_at(prev_log_index) {
            Some(t) if t == prev_log_term => {}
            found => {
                // Where the leader should try next (§5.3, the optimisation at the end of the
                // section): past the end of a short log, or back past every entry of the
                // conflicting term at once, not one entry per round trip. A lagging follower
                // with a long conflicting suffix would otherwise take as many round trips as
                // it has stale entries to find where the logs agree.
                let hint = match found {
                    None => self.log.last_index(),
                    Some(t) => {
                        let mut first = prev_log_index;
                        while first > 1 && self.log.term_at(first - 1) == Some(t) {
                            first -= 1;
                        }
                        first - 1
                    }
                };
                self.reply(
                    leader,
                    Message::AppendEntriesResp {
                        term: self.term,
                        success: false,
                        index: hint,
                        round,
                    },
                );
                return;
            }
        }
        let last_new = prev_log_index + entries.len() as Index;
        // Skip entries we already hold; truncate at the first conflict only (a delayed or
        // duplicated AppendEntries must not cut entries that match).
        let mut i = 0;
        // With the injected bug `no-truncate-on-conflict`: the old entries after those sent,
        // written back after them.
        let mut kept_tail: Vec<Entry> = Vec::new();
        while i < entries.len() {
            let idx = prev_log_index + 1 + i as Index;
            match self.log.term_at(idx) {
                Some(t) if t == entries[i].term => i += 1,
                Some(_) => {
                    assert!(
                        idx > self.commit_index,
                        "truncating a committed entry at {idx}"
                    );
                    // Injected bug `no-truncate-on-conflict`, breaking Figure 2 (AppendEntries
                    // receiver step 3: "if an existing entry conflicts with a new one, delete
                    // the existing entry and all that follow it") and so §5.3's Log Matching:
                    // the entries sent overwrite theirs index by index and the stale ones after
                    // them stay (as `log[i] = entry` would do). On disk: cut, and write back.
                    if self.bug(Bug::NoTruncateOnConflict) {
                        let end = (last_new as usize).min(self.log.entries().len());
                        kept_tail = self.log.entries()[end..].to_vec();
                    }
                    self.log.truncate_from(idx);
                    if idx <= self.config_index {
                        self.config_from_log();
                    }
                    self.durable_len = self.durable_len.min(idx - 1);
                    // Writes still in flight were issued for the old suffix: once they land,
                    // at most the prefix before `idx` of the current log is durable.
                    for (_, len) in &mut self.inflight_len {
                        *len = (*len).min(idx - 1);
                    }
                    self.pending_ops.push(LogOp::Truncate { from: idx });
                    break;
                }
                None => break,
            }
        }
        if i < entries.len() {
            let mut new: Vec<Entry> = entries[i..].to_vec();
            new.append(&mut kept_tail);
            for e in &new {
                self.log.push(*e);
                self.config_appended(self.log.last_index(), e);
            }
            self.pending_ops.push(LogOp::Append { entries: new });
        }
        // Figure 2, step 5: commitIndex = min(leaderCommit, index of last new entry).
        if leader_commit > self.commit_index {
            let c = leader_commit.min(last_new);
            if c > self.commit_index {
                self.set_commit(c, out);
            }
        }
        self.reply(
            leader,
            Message::AppendEntriesResp {
                term: self.term,
                success: true,
                index: last_new,
                round,
            },
        );
    }
}
