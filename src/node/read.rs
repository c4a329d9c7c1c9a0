//! Reads without the log: ReadIndex (dissertation §6.4), at the leader and, with
//! `follower_reads`, at followers ([`Config::read_index`], [`Config::follower_reads`]; off by
//! default, when a `get` goes through the log like a write).
//!
//! The leader serves a read in four steps:
//! 1. it waits until it has committed an entry of its own term (its no-op), so its commit
//!    index is at least every index its predecessors committed;
//! 2. it notes its commit index as the read's *read index*;
//! 3. it confirms it still leads: it starts a heartbeat round (AppendEntries carries the
//!    round, an answer echoes it) and waits until a majority, itself included, answered that
//!    round or a later one; no other leader can have been elected before that round was sent;
//! 4. once it has applied the read index, the read is answered from its state machine
//!    ([`ClientReply::Read`]).
//!
//! A follower asks the leader for a read index ([`Message::ReadIndex`]); the leader runs
//! steps 1–3 and answers ([`Message::ReadIndexResp`]); the follower answers the client once it
//! has applied that index. A leader that steps down fails its reads (its clients retry); a
//! follower whose leader said no tells its client so.
//!
//! **Lease reads** ([`Config::lease_reads`], dissertation §6.4.1) skip step 3 while the leader
//! holds a lease. Every heartbeat starts a round, noted with the time on the leader's own clock
//! ([`RaftNode::observe_clock`]); once a majority answered a round sent at t, the lease lasts
//! until t + election_timeout_min · (1 − ρ)/(1 + ρ), ρ the configured drift bound. It holds
//! because every follower that answered restarted its election timer, and with leader
//! stickiness votes for no one, for the minimum election timeout on its own clock (a restarted
//! server as well, [`Node::start`]): no successor can be elected before t + min/(1 + ρ) of real
//! time, and the lease ends, on a clock slow by up to ρ, before that. The promise outlives a
//! new term that a message other than a vote request brings (`Node::leader_is_recent`, in `lease`). A
//! transfer drops the lease for the rest of the term (its target's vote requests override
//! stickiness, and its TimeoutNow may arrive after an abort). A clock jump, like drift beyond
//! the bound, is outside what the lease assumes.
//!
//! The injected bugs `read-index-without-heartbeat`, `read-before-own-term-commit`,
//! `follower-read-without-read-index` and `lease-ignores-drift` each skip one step.

use std::collections::VecDeque;

use super::{Bug, Node, RoleState};
use crate::base::time::{SimDuration, SimTime};
use crate::protocol::*;

/// A read the leader is serving.
#[derive(Clone, Copy, Debug)]
pub struct PendingRead {
    req: u64,
    /// The follower that asked for a read index, or `None` for a client of this leader.
    asker: Option<NodeId>,
    /// The read index, once the leader has committed an entry of its term.
    index: Option<Index>,
    /// The heartbeat round a majority must answer.
    round: u64,
}

impl PendingRead {
    /// Answers the read: at read index `index` (its own client is answered from this node's
    /// state machine, a follower that asked is given the index), or, with `None`, it fails
    /// (the client is told this node does not lead, the follower is told no).
    fn answer(&self, index: Option<Index>, term: Term, me: NodeId, out: &mut Vec<Output>) {
        match (self.asker, index) {
            (None, Some(index)) => out.push(Output::ClientReply {
                req: self.req,
                reply: ClientReply::Read { index },
            }),
            (None, None) => out.push(Output::ClientReply {
                req: self.req,
                reply: ClientReply::NotLeader { hint: None },
            }),
            (Some(f), index) => out.push(Output::Send(Envelope {
                from: me,
                to: f,
                msg: Message::ReadIndexResp {
                    term,
                    req: self.req,
                    index,
                },
            })),
        }
    }
}

/// What a leader keeps for ReadIndex: its rounds, who answered which, the reads waiting.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    /// The latest heartbeat round started (AppendEntries carry it).
    pub(super) round: u64,
    /// The latest round each server answered in this term, by id − 1.
    acked: Vec<u64>,
    waiting: Vec<PendingRead>,
    /// Lease reads: the rounds not yet answered by a majority, with when each was sent on
    /// this node's clock.
    sent: VecDeque<(u64, SimTime)>,
    /// Lease reads: the lease ends at this time on this node's clock.
    lease_until: SimTime,
    /// Lease reads: no lease for the rest of this term (a transfer was started: a TimeoutNow
    /// it sent cannot be taken back by an abort).
    no_lease: bool,
    /// Reused to find the latest round a majority answered.
    scratch: Vec<u64>,
}

impl Reads {
    /// A leader's first state: no round started, no answers, no reads.
    pub fn new(cluster_size: u32) -> Reads {
        Reads {
            round: 0,
            acked: vec![0; cluster_size as usize],
            waiting: Vec::new(),
            sent: VecDeque::new(),
            lease_until: SimTime::ZERO,
            no_lease: false,
            scratch: Vec::new(),
        }
    }

    /// Server `from` answered round `round`.
    pub(super) fn answered(&mut self, from: NodeId, round: u64) {
        let a = &mut self.acked[from as usize - 1];
        *a = (*a).max(round);
    }

    /// A leader that stops leading fails every read it holds: its own clients are told it is
    /// not the leader, followers that asked are told no.
    pub(super) fn fail_all(&mut self, term: Term, me: NodeId, out: &mut Vec<Output>) {
        for r in self.waiting.drain(..) {
            r.answer(None, term, me, out);
        }
    }
}

impl Node {
    /// Whether a `get` is served by ReadIndex rather than through the log.
    pub(super) fn reads_by_index(&self, op: Op) -> bool {
        self.cfg.read_index && matches!(op, Op::Get { .. })
    }

    /// Lease reads: the length of a lease, from the round's sending, on the leader's clock:
    /// the minimum election timeout shortened by the drift bound ρ, min · (1 − ρ)/(1 + ρ).
    fn lease_length(&self) -> SimDuration {
        let min = self.cfg.election_timeout_min.0 as u128;
        // Injected bug `lease-ignores-drift`, breaking dissertation §6.4.1 (the lease is bounded
        // by the election timeout *and the clock drift bound*): the whole minimum timeout.
        if self.bug(Bug::LeaseIgnoresDrift) {
            return SimDuration(min as u64);
        }
        let rho = self.cfg.clock_drift_bound_ppm as u128;
        SimDuration((min * (1_000_000 - rho.min(1_000_000)) / (1_000_000 + rho)) as u64)
    }

    /// A leader starts a heartbeat round: every AppendEntries it sends from now carries it.
    /// With lease reads, its time is noted (none once a transfer started in this term).
    pub(super) fn start_round(&mut self) {
        let (clock, lease) = (self.clock, self.cfg.lease_reads);
        let l = self.leadership();
        l.reads.round += 1;
        if lease && !l.reads.no_lease {
            let round = l.reads.round;
            l.reads.sent.push_back((round, clock));
        }
    }

    /// Lease reads: after an answer, the lease extends to the sending time of the latest round
    /// a majority answered, plus [`Node::lease_length`].
    pub(super) fn extend_lease(&mut self) {
        let (me, length) = (self.cfg.id, self.lease_length());
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let r = &mut l.reads;
        let (round, acked) = (r.round, &r.acked);
        let answered = self.quorum.committed_index(
            |v| {
                if v == me {
                    round
                } else {
                    acked[v as usize - 1]
                }
            },
            &mut r.scratch,
        );
        while let Some(&(k, at)) = r.sent.front() {
            if k > answered {
                break;
            }
            r.sent.pop_front();
            r.lease_until = r.lease_until.max(at + length);
        }
    }

    /// A transfer started: the lease is dropped for the rest of the term, since the target's
    /// vote requests override leader stickiness, and a TimeoutNow sent may arrive after the
    /// transfer was given up.
    pub(super) fn drop_lease(&mut self) {
        if let RoleState::Leader(l) = &mut self.role {
            l.reads.lease_until = SimTime::ZERO;
            l.reads.sent.clear();
            l.reads.no_lease = true;
        }
    }

    /// A leader takes a read (from its client, or a follower's `asker`): steps 1–3 start.
    pub(super) fn start_read(&mut self, req: u64, asker: Option<NodeId>, out: &mut Vec<Output>) {
        let index = self.read_index_now();
        let RoleState::Leader(l) = &self.role else {
            panic!("only a leader serves a read index")
        };
        // Lease reads: within the lease, step 3 is skipped.
        let leased = self.cfg.lease_reads && index.is_some() && self.clock < l.reads.lease_until;
        let skip_round = leased || self.bug(Bug::ReadIndexWithoutHeartbeat);
        let RoleState::Leader(l) = &mut self.role else {
            panic!("only a leader serves a read index")
        };
        // Injected bug `read-index-without-heartbeat`, breaking dissertation §6.4 step 3 (the
        // leader confirms it is still the leader by a round of heartbeats before answering):
        // the read counts as confirmed already.
        let round = if skip_round { 0 } else { l.reads.round + 1 };
        l.reads.waiting.push(PendingRead {
            req,
            asker,
            index,
            round,
        });
        if !skip_round {
            self.start_round();
            self.broadcast_append(out);
        }
        self.serve_reads(out);
    }

    /// The read index a read taken now gets: the commit index, once an entry of this leader's
    /// term is committed (step 1); `None` until then.
    fn read_index_now(&self) -> Option<Index> {
        // Injected bug `read-before-own-term-commit`, breaking dissertation §6.4 step 1 (a
        // leader serves reads only once it has committed an entry of its term): the commit
        // index as it stands, which after an election may be behind its predecessor's.
        let own_term = self.log.term_at(self.commit_index) == Some(self.term);
        (own_term || self.bug(Bug::ReadBeforeOwnTermCommit)).then_some(self.commit_index)
    }

    /// Answers every read whose round a majority answered and whose read index is applied;
    /// gives a read index to those still without one, once one can be given.
    pub(super) fn serve_reads(&mut self, out: &mut Vec<Output>) {
        match &self.role {
            RoleState::Leader(l) if !l.reads.waiting.is_empty() => {}
            _ => return,
        }
        let index_now = self.read_index_now();
        let (me, term, applied) = (self.cfg.id, self.term, self.last_applied);
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let acked = &l.reads.acked;
        let mut k = 0;
        while k < l.reads.waiting.len() {
            let r = &mut l.reads.waiting[k];
            if r.index.is_none() {
                r.index = index_now;
            }
            let round = r.round;
            let confirmed = round == 0
                || self
                    .quorum
                    .is_won(|v| v == me || acked[v as usize - 1] >= round);
            match r.index {
                Some(index) if confirmed && applied >= index => {
                    let r = l.reads.waiting.remove(k);
                    r.answer(Some(index), term, me, out);
                }
                _ => k += 1,
            }
        }
    }

    /// A follower takes a read: it asks the leader for a read index, or says who leads.
    pub(super) fn follower_read(&mut self, req: u64, out: &mut Vec<Output>) {
        // Injected bug `follower-read-without-read-index`, breaking dissertation §6.4 (a
        // follower serves a read at a read index the leader confirmed): it answers from what
        // it has applied.
        if self.bug(Bug::FollowerReadWithoutReadIndex) {
            out.push(Output::ClientReply {
                req,
                reply: ClientReply::Read {
                    index: self.last_applied,
                },
            });
            return;
        }
        let leader = self.leader().filter(|&l| l != self.cfg.id);
        // A server outside its configuration may never be sent the entries a read index
        // names (a server being added whose change was given up): it redirects instead.
        let (Some(leader), true) = (leader, self.quorum.contains(self.cfg.id)) else {
            out.push(Output::ClientReply {
                req,
                reply: ClientReply::NotLeader { hint: leader },
            });
            return;
        };
        // A retry at the same server replaces the read it retries.
        self.follower_reads.retain(|&(r, _)| r != req);
        self.follower_reads.push((req, None));
        out.push(Output::Send(Envelope {
            from: self.cfg.id,
            to: leader,
            msg: Message::ReadIndex {
                term: self.term,
                req,
            },
        }));
    }

    /// A follower asks this server for a read index.
    pub(super) fn on_read_index(&mut self, from: NodeId, req: u64, out: &mut Vec<Output>) {
        if matches!(self.role, RoleState::Leader(_)) && self.transferring_to().is_none() {
            return self.start_read(req, Some(from), out);
        }
        out.push(Output::Send(Envelope {
            from: self.cfg.id,
            to: from,
            msg: Message::ReadIndexResp {
                term: self.term,
                req,
                index: None,
            },
        }));
    }

    /// The leader answered a follower's request for a read index.
    pub(super) fn on_read_index_resp(
        &mut self,
        req: u64,
        index: Option<Index>,
        out: &mut Vec<Output>,
    ) {
        let Some(k) = self.follower_reads.iter().position(|&(r, _)| r == req) else {
            return;
        };
        match index {
            Some(i) => {
                self.follower_reads[k].1 = Some(i);
                self.serve_follower_reads(out);
            }
            None => {
                self.follower_reads.remove(k);
                let hint = self.leader().filter(|&l| l != self.cfg.id);
                out.push(Output::ClientReply {
                    req,
                    reply: ClientReply::NotLeader { hint },
                });
            }
        }
    }

    /// A follower that moves to a new term gives up the reads it serves (their clients retry):
    /// a read index may be lost with the leader that was to send it.
    pub(super) fn fail_follower_reads(&mut self, out: &mut Vec<Output>) {
        for (req, _) in self.follower_reads.drain(..) {
            out.push(Output::ClientReply {
                req,
                reply: ClientReply::NotLeader { hint: None },
            });
        }
    }

    /// Answers each follower read whose read index this server has applied.
    pub(super) fn serve_follower_reads(&mut self, out: &mut Vec<Output>) {
        let applied = self.last_applied;
        self.follower_reads.retain(|&(req, index)| match index {
            Some(index) if applied >= index => {
                out.push(Output::ClientReply {
                    req,
                    reply: ClientReply::Read { index },
                });
                false
            }
            _ => true,
        });
    }
}
