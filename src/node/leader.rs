//! Leaders (paper §5.3, §5.4): replicate the log, advance commitIndex, answer clients.
//!
//! A leader tracks each follower's log in a [`ProgressTracker`], commits the highest index a
//! majority holds *only if it is of the current term* (§5.4.2, Figure 8), and counts itself
//! only for entries on its own disk.

use super::progress::ProgressTracker;
use super::quorum::VoteSet;
use super::{Bug, Node, RoleState};
use crate::protocol::*;

/// What only a leader holds.
#[derive(Clone, Debug)]
pub struct Leadership {
    pub(super) progress: ProgressTracker,
    /// Client requests appended by this leader, by log index, awaiting commit.
    pending_clients: Vec<(Index, u64)>,
    /// Reused when computing the committed index, so the hot path does not allocate.
    scratch: Vec<Index>,
    /// CheckQuorum: the followers that answered since the last quorum check.
    pub(super) heard_since_check: VoteSet,
    /// Leadership transfer in progress: to whom, and whether TimeoutNow has been sent.
    pub(super) transfer: Option<(NodeId, bool)>,
    /// A membership change asked of this leader, in progress.
    pub(super) change: Option<super::membership::Change>,
    /// ReadIndex: heartbeat rounds, their answers, the reads waiting ([`super::read`]).
    pub(super) reads: super::read::Reads,
}

impl Leadership {
    /// Answers the clients whose entries are committed at `committed`.
    pub(super) fn answer_committed(&mut self, committed: Index, out: &mut Vec<Output>) {
        let mut k = 0;
        while k < self.pending_clients.len() {
            let (idx, req) = self.pending_clients[k];
            if idx <= committed {
                self.pending_clients.remove(k);
                out.push(Output::ClientReply {
                    req,
                    reply: ClientReply::Committed { index: idx },
                });
            } else {
                k += 1;
            }
        }
    }

    /// A leader that steps down cannot tell whether its pending entries will commit: their
    /// clients retry elsewhere; and it fails the reads it was serving ([`super::read`]).
    pub(super) fn fail_pending_clients(&mut self, term: Term, me: NodeId, out: &mut Vec<Output>) {
        for (_, req) in self.pending_clients.drain(..) {
            out.push(Output::ClientReply {
                req,
                reply: ClientReply::NotLeader { hint: None },
            });
        }
        self.reads.fail_all(term, me, out);
    }
}

impl Node {
    /// A candidate that won a majority (`elected`), or a follower made leader by the scenario's
    /// initial state, takes office.
    pub(super) fn become_leader(&mut self, out: &mut Vec<Output>, elected: bool) {
        match &self.role {
            RoleState::Candidate(c) => {
                assert!(elected, "a candidate becomes leader only by election");
                assert!(
                    self.quorum.is_won(|v| c.votes.has(v)),
                    "a leader needs a majority"
                );
            }
            RoleState::Follower { .. } => assert!(!elected, "only a candidate wins an election"),
            RoleState::PreCandidate(_) => panic!("a pre-candidate stands as candidate first"),
            RoleState::Leader(_) => panic!("already leader"),
        }
        let next = self.log.last_index() + 1;
        self.role = RoleState::Leader(Leadership {
            progress: ProgressTracker::new(self.cfg.cluster_size, next),
            pending_clients: Vec::new(),
            scratch: Vec::with_capacity(self.quorum.voters().len()),
            heard_since_check: VoteSet::default(),
            transfer: None,
            change: None,
            reads: super::read::Reads::new(self.cfg.cluster_size),
        });
        out.push(Output::CancelTimer(TimerKind::Election));
        if self.cfg.check_quorum {
            self.arm_quorum_check(out);
        }
        // A no-op of the new term lets earlier entries commit (dissertation §6.4). Injected bug
        // `single-server-change-without-noop`, breaking the 2015 correction to the
        // dissertation's §4 (a leader starts a single-server change only once an entry of its
        // term is committed): with single-server changes there is no no-op either, so a change
        // can be the first entry of the term (see `membership::advance_change`).
        let without_noop =
            self.opts.single_server_changes && self.bug(Bug::SingleServerChangeWithoutNoop);
        if elected && !without_noop {
            self.append_local(Entry::noop(self.term));
        }
        self.broadcast_append(out);
        self.arm_heartbeat(out);
    }

    fn arm_heartbeat(&self, out: &mut Vec<Output>) {
        out.push(Output::SetTimer {
            kind: TimerKind::Heartbeat,
            min: self.cfg.heartbeat_interval,
            max: self.cfg.heartbeat_interval,
        });
    }

    pub(super) fn on_heartbeat(&mut self, out: &mut Vec<Output>) {
        // Lease reads: every heartbeat is a round that can extend the lease (see `read`).
        if self.cfg.lease_reads {
            self.start_round();
        }
        self.broadcast_append(out);
        self.arm_heartbeat(out);
        self.change_heartbeat(out);
    }

    /// A client command: append it, replicate it, answer once it commits.
    ///
    /// A retry of a request already in this leader's log, uncommitted, appends nothing: the
    /// entry there either commits in this term (and answers the request, whichever attempt is
    /// waiting) or the leader steps down and fails it. Appending a copy per retry turns client
    /// timeouts into log growth: when commits are slower than the retry interval, every
    /// waiting request adds an entry per timeout, the backlog grows faster than followers can
    /// take it, and the requests behind it wait longer still (random-faults.json seed 1253:
    /// 5,100 entries for 778 requests, and commits four seconds behind when the faults ended).
    pub(super) fn propose(&mut self, req: u64, op: Op, out: &mut Vec<Output>) {
        if self
            .leadership()
            .pending_clients
            .iter()
            .any(|&(_, r)| r == req)
        {
            return;
        }
        let index = self.append_local(Entry {
            term: self.term,
            command: Command::client(req, op),
        });
        self.leadership().pending_clients.push((index, req));
        for p in 1..=self.cfg.cluster_size {
            if p != self.cfg.id
                && (self.quorum.contains(p) || self.is_learner(p))
                && self.leadership().progress.get(p).sends_on_propose()
            {
                self.send_append(p, out);
            }
        }
    }

    pub(super) fn leadership(&mut self) -> &mut Leadership {
        match &mut self.role {
            RoleState::Leader(l) => l,
            _ => panic!("only a leader replicates"),
        }
    }

    pub(super) fn broadcast_append(&mut self, out: &mut Vec<Output>) {
        for p in 1..=self.cfg.cluster_size {
            if p != self.cfg.id && (self.quorum.contains(p) || self.is_learner(p)) {
                self.send_append(p, out);
            }
        }
    }

    pub(super) fn send_append(&mut self, to: NodeId, out: &mut Vec<Output>) {
        let last = self.log.last_index();
        let round = self.leadership().reads.round;
        let pr = self.leadership().progress.get_mut(to);
        let next = pr.next_to_send(last);
        let entries = self.log.slice_from(next, self.cfg.max_entries_per_message);
        self.leadership()
            .progress
            .get_mut(to)
            .on_sent(next, entries.len());
        let prev = next - 1;
        out.push(Output::Send(Envelope {
            from: self.cfg.id,
            to,
            msg: Message::AppendEntries {
                term: self.term,
                prev_log_index: prev,
                prev_log_term: self.log.term_at(prev).expect("prev is within the log"),
                entries,
                leader_commit: self.commit_index,
                round,
            },
        }));
    }

    pub(super) fn on_append_resp(
        &mut self,
        from: NodeId,
        success: bool,
        index: Index,
        out: &mut Vec<Output>,
    ) {
        // Only an answer that moved this follower's progress sends again: duplicates and
        // stale answers on the network must not multiply the sends.
        if success {
            let pr = self.leadership().progress.get_mut(from);
            let news = pr.on_accepted(index);
            let next = pr.next;
            self.advance_commit(out);
            // A leader that committed a C_new without itself has stepped down (paper §6).
            if !matches!(self.role, RoleState::Leader(_)) {
                return;
            }
            if news && next <= self.log.last_index() {
                self.send_append(from, out);
            }
            if news && self.is_learner(from) {
                self.advance_change(out);
            }
        } else if self.leadership().progress.get_mut(from).on_rejected(index) {
            self.send_append(from, out);
        }
    }

    /// §5.3, §5.4.2: commit the highest index held by a majority, only if it is of this term.
    pub(super) fn advance_commit(&mut self, out: &mut Vec<Output>) {
        let me = self.cfg.id;
        let durable_len = self.durable_len;
        let ack_early = self.opts.bugs.has(Bug::AckBeforeCommit);
        let RoleState::Leader(l) = &mut self.role else {
            panic!("only a leader commits by counting")
        };
        if ack_early {
            // Injected bug `ack-before-commit`, breaking §5.3 (the leader returns the result
            // to the client once the entry is committed): clients are answered once their
            // entries are on the leader's own disk.
            l.answer_committed(durable_len, out);
        }
        let progress = &l.progress;
        let acked = |v| {
            if v == me {
                durable_len
            } else {
                progress.get(v).matched
            }
        };
        // Injected bug `joint-commit-by-new-only`, breaking paper §6 (while joint, agreement
        // for commitment requires separate majorities from both the old and new
        // configurations): only C_new's majority is counted.
        let n = if self.opts.bugs.has(Bug::JointCommitByNewOnly) && self.quorum.is_joint() {
            self.quorum
                .new_majority()
                .committed_index(acked, &mut l.scratch)
        } else {
            self.quorum.committed_index(acked, &mut l.scratch)
        };
        // Injected bug `commit-old-term-by-count`, breaking §5.4.2 (Figure 8: "Raft never
        // commits log entries from previous terms by counting replicas"): no term check.
        if n > self.commit_index
            && (self.log.term_at(n) == Some(self.term) || self.bug(Bug::CommitOldTermByCount))
        {
            self.set_commit(n, out);
            self.on_config_committed(out);
        }
    }
}
