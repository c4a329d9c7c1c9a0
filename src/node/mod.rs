//! The built-in Raft node (paper Figure 2, §5.1–5.4), one implementation of the node
//! interface in [`crate::protocol`].
//!
//! The node holds no clock, RNG, channel or file. It never answers before what the answer
//! depends on is durable: a reply produced while a disk write is outstanding is held and sent
//! when [`Input::Persisted`] reports that write (and all before it) done.
//!
//! Structure, by role: what only a candidate or a leader needs lives in its role's state
//! ([`candidate::Candidacy`], [`leader::Leadership`]), so it cannot outlive the role. Each
//! transition (`become_follower_*`, `become_candidate`, `become_leader`) asserts the role it
//! comes from. Messages are dispatched first by the rule for all servers (a higher term makes
//! a follower, Figure 2), then by kind to the role that handles it: [`follower`] holds what
//! every server does on RequestVote and AppendEntries, [`candidate`] counts votes, [`leader`]
//! replicates and commits. Decisions by majority go through [`quorum`], never `n/2+1`.
//!
//! Extensions, each off by default ([`Config`]; this node's own switches are [`Options`]): PreVote ([`pre_vote`], a pre-candidate role
//! before the candidate), and the rules that depend on how recently a leader was heard from
//! ([`lease`]: leader stickiness, CheckQuorum). With all of them off the node behaves, output
//! for output, as without them.
//!
//! Injected bugs ([`Options::bugs`], none by default) each switch one rule off, to show the
//! checker catching the mistake; each is a few lines marked by a comment naming the bug and the
//! rule it breaks.

pub mod candidate;
pub mod follower;
pub mod leader;
pub mod lease;
pub mod membership;
pub mod pre_vote;
pub mod progress;
pub mod quorum;
pub mod read;
pub mod transfer;

pub use crate::protocol::*;

mod bugs;
pub use bugs::{Bug, Bugs};

/// When a candidate makes its own term and vote durable relative to sending RequestVote. (The
/// scenario file's `raft.candidate_persist` is `scenario::CandidatePersist`, mapped onto this
/// by `experiment::ChooseNode`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CandidatePersist {
    /// Write term and vote, wait for the disk, then send RequestVote (Figure 2 read strictly).
    #[default]
    BeforeSend,
    /// Send RequestVote at once and write in parallel; the candidate counts its own vote only
    /// once the write is durable.
    Parallel,
}

/// The default of [`Options::catch_up_rounds`]: at most this many catch-up rounds
/// (dissertation §4.2.1: a fixed number, such as ten) before the leader gives up a change that
/// adds servers.
pub const DEFAULT_CATCH_UP_ROUNDS: u32 = 10;

/// The built-in node's own switches ([`RaftNode::Options`]): how it orders its writes, how it
/// changes membership, and the bugs injected into it. [`Options::default`] is the paper's node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub candidate_persist: CandidatePersist,
    /// A term adopted from a higher-term message is written on its own, before the message is
    /// handled, as a separate disk write (a vote granted at a higher term then costs two
    /// writes: the term, then the vote). Off: one write carries both.
    pub separate_term_write: bool,
    /// While a write issued outside leadership (term, vote, entries) is in flight, the node
    /// handles nothing else: messages and timer firings wait until it is durable, and a timer
    /// re-armed meanwhile cancels a firing that waited (a handler that holds the server's lock
    /// through a synchronous write). A leader is never blocked (its log writes run beside it).
    pub block_during_writes: bool,
    /// Injected bugs to switch on ([`Bugs::NONE`] normally).
    pub bugs: Bugs,
    /// Membership changes one server at a time (dissertation §4), instead of by joint
    /// consensus (paper §6).
    pub single_server_changes: bool,
    /// Before a configuration that adds servers, the leader catches them up in at most this
    /// many rounds (dissertation §4.2.1), giving the change up after that; 0: no catch-up, the
    /// configuration is appended at once.
    pub catch_up_rounds: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            candidate_persist: CandidatePersist::BeforeSend,
            separate_term_write: false,
            block_during_writes: false,
            bugs: Bugs::NONE,
            single_server_changes: false,
            catch_up_rounds: DEFAULT_CATCH_UP_ROUNDS,
        }
    }
}

use candidate::Candidacy;
use leader::Leadership;
use lease::ElectionWait;
use pre_vote::PreCandidacy;
use quorum::Quorum;

/// What the node's current role needs, and nothing another role needs.
// The leader's state is the large variant, and the one every step of a leader uses: one per
// node, so boxing it would save little memory and cost an indirection on the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum RoleState {
    Follower {
        /// The leader of the current term, once heard from.
        leader: Option<NodeId>,
    },
    PreCandidate(PreCandidacy),
    Candidate(Candidacy),
    Leader(Leadership),
}

#[derive(Clone, Debug)]
pub struct Node {
    cfg: Config,
    opts: Options,
    /// The configuration in use: the latest in the log, committed or not (paper §6), or the
    /// initial voters while the log holds none ([`membership`]).
    quorum: Quorum,
    /// The index of the configuration entry `quorum` comes from; 0 for the initial voters.
    config_index: Index,
    // Persistent state on all servers (Figure 2), as this node holds it in memory; durable
    // once the write that carries it completes.
    term: Term,
    voted_for: Option<NodeId>,
    log: Log,
    // Volatile state on all servers.
    commit_index: Index,
    last_applied: Index,
    role: RoleState,
    /// Persistence bookkeeping: the last write issued and the last one reported durable.
    persist_seq: u64,
    durable_seq: u64,
    /// Log length once each outstanding write is durable, oldest first.
    inflight_len: Vec<(u64, Index)>,
    /// How much of the log is known durable (the leader counts itself only up to here).
    durable_len: Index,
    hard_dirty: bool,
    pending_ops: Vec<LogOp>,
    /// Replies held until the write they depend on is durable.
    held: Vec<(u64, Envelope)>,
    /// With `block_during_writes`: the last write issued outside leadership; until it is
    /// durable the node handles nothing but `Persisted`, and other inputs wait in `deferred`.
    lock_seq: u64,
    deferred: std::collections::VecDeque<Input>,
    /// Whether the leader of this term was heard from within the minimum election timeout
    /// (kept with PreVote or leader stickiness on; see [`lease`]).
    leader_recent: bool,
    /// Which part of the election timeout the election timer measures.
    election_wait: ElectionWait,
    /// Reads this follower serves ([`read`]): each request, and its read index once the
    /// leader gave one.
    follower_reads: Vec<(u64, Option<Index>)>,
    /// The node's own clock as last read (with lease reads on; see [`read`]).
    clock: crate::base::time::SimTime,
}

impl Node {
    /// A fresh node, or one restarted from what was durable: a follower with commitIndex 0,
    /// the paper's node ([`Options::default`]).
    pub fn new(cfg: Config, hard: HardState) -> Node {
        Node::with_options(cfg, Options::default(), hard)
    }

    /// As [`Node::new`], with this node's own switches.
    pub fn with_options(cfg: Config, opts: Options, hard: HardState) -> Node {
        assert!(
            cfg.id >= 1 && cfg.id <= cfg.cluster_size,
            "node id out of range"
        );
        let durable_len = hard.log.last_index();
        let mut node = Node {
            quorum: membership::initial_quorum(&cfg),
            config_index: 0,
            cfg,
            opts,
            term: hard.term,
            voted_for: hard.voted_for,
            log: hard.log,
            commit_index: 0,
            last_applied: 0,
            role: RoleState::Follower { leader: None },
            persist_seq: 0,
            durable_seq: 0,
            inflight_len: Vec::new(),
            durable_len,
            hard_dirty: false,
            pending_ops: Vec::new(),
            held: Vec::new(),
            lock_seq: 0,
            deferred: std::collections::VecDeque::new(),
            leader_recent: false,
            election_wait: ElectionWait::Whole,
            follower_reads: Vec::new(),
            clock: crate::base::time::SimTime::ZERO,
        };
        node.config_from_log();
        node
    }

    pub fn id(&self) -> NodeId {
        self.cfg.id
    }
    pub fn term(&self) -> Term {
        self.term
    }
    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower { .. } => Role::Follower,
            RoleState::PreCandidate(_) => Role::PreCandidate,
            RoleState::Candidate(_) => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    pub fn log(&self) -> &Log {
        &self.log
    }
    pub fn commit_index(&self) -> Index {
        self.commit_index
    }
    pub fn last_applied(&self) -> Index {
        self.last_applied
    }
    /// The leader this node knows of in its term: itself when leading.
    pub fn leader(&self) -> Option<NodeId> {
        match self.role {
            RoleState::Follower { leader } => leader,
            RoleState::PreCandidate(_) | RoleState::Candidate(_) => None,
            RoleState::Leader(_) => Some(self.cfg.id),
        }
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Whether the injected bug `b` is switched on for this run (never, normally).
    #[inline]
    fn bug(&self, b: Bug) -> bool {
        self.opts.bugs.has(b)
    }

    /// The other voters, in id order.
    fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        let me = self.cfg.id;
        self.quorum
            .voters()
            .iter()
            .copied()
            .filter(move |&p| p != me)
    }

    /// Called once when the node starts (fresh or restarted): arms the election timer.
    pub fn start(&mut self, out: &mut Vec<Output>) {
        self.arm_election_timer(out);
        // Lease reads (dissertation §6.4.1): a server that restarts may have acknowledged a
        // leader's heartbeat just before it crashed, and that leader's lease counts on it not to
        // vote for anyone else within the minimum election timeout. It cannot remember, so it
        // treats itself as having heard from a leader as it starts (its election timer's first
        // part is that timeout).
        if self.cfg.lease_reads {
            self.leader_recent = true;
        }
    }

    /// Makes this node leader of its current term without an election: for scenarios that start
    /// from an established cluster (Figure 16 trials). Every node's hard state must already say
    /// this term, and the others must have voted for this node.
    pub fn bootstrap_leader(&mut self, out: &mut Vec<Output>) {
        assert!(matches!(self.role, RoleState::Follower { .. }));
        assert_eq!(self.voted_for, Some(self.cfg.id));
        self.become_leader(out, false);
    }

    pub fn step(&mut self, input: Input, out: &mut Vec<Output>) {
        if self.blocked() && !matches!(input, Input::Persisted(_)) {
            self.deferred.push_back(input);
            return;
        }
        self.handle(input, out);
        // A write that unblocked the node: what waited is handled now, in arrival order, until
        // a handler blocks it again.
        while !self.blocked() {
            let Some(input) = self.deferred.pop_front() else {
                break;
            };
            self.handle(input, out);
        }
    }

    /// With `block_during_writes`: a write issued outside leadership is still in flight.
    #[inline]
    fn blocked(&self) -> bool {
        self.lock_seq > self.durable_seq
    }

    /// One input, then one disk write for whatever it changed.
    fn handle(&mut self, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Timer(TimerKind::Election) => self.on_election_timer(out),
            Input::Timer(TimerKind::Heartbeat) => {
                if matches!(self.role, RoleState::Leader(_)) {
                    self.on_heartbeat(out);
                }
            }
            Input::Message(env) => self.on_message(env, out),
            Input::ClientRequest { req, op } => self.on_client(req, op, out),
            Input::Persisted(seq) => self.on_persisted(seq, out),
            Input::TransferLeadership { to } => self.start_transfer(to, out),
            Input::ChangeMembership { voters } => self.change_membership(voters, out),
            // This node asks for timers, never for a ticker.
            Input::Timer(TimerKind::Tick) | Input::Ticks(_) => {}
        }
        self.flush_persist(out);
    }

    /// Figure 2, "All servers": a request or response with a higher term makes this node a
    /// follower of that term before anything else is done with the message. Then the message
    /// goes to the role that handles it.
    fn on_message(&mut self, env: Envelope, out: &mut Vec<Output>) {
        debug_assert_eq!(env.to, self.cfg.id);
        if self.disregards(&env, out) {
            return;
        }
        // A pre-vote request, and a granted pre-vote, carry the term asked about, not the
        // sender's (dissertation §9.6): they change no one's term.
        let senders_term = !matches!(
            env.msg,
            Message::PreVote { .. } | Message::PreVoteResp { granted: true, .. }
        );
        if senders_term && env.msg.term() > self.term {
            // Injected bug `ignore-higher-term`, breaking §5.1 and Figure 2 ("All servers": if
            // an RPC request or response contains term T > currentTerm, set currentTerm = T
            // and convert to follower): a leader drops any message of a higher term but a
            // RequestVote (it takes AppendEntries to be meant for a follower, and responses
            // for someone else's), so it keeps leading its old term until a candidate asks it
            // for a vote.
            if self.bug(Bug::IgnoreHigherTerm)
                && matches!(self.role, RoleState::Leader(_))
                && !matches!(env.msg, Message::RequestVote { .. })
            {
                return;
            }
            self.become_follower_of_new_term(env.msg.term(), out);
            if self.opts.separate_term_write {
                // The new term goes to disk on its own; the message is handled after it (at
                // once, or once the write is durable when writes block the node).
                self.flush_persist(out);
                if self.blocked() {
                    self.deferred.push_front(Input::Message(env));
                    return;
                }
            }
        }
        match env.msg {
            Message::RequestVote {
                term,
                last_log_index,
                last_log_term,
                ..
            } => self.on_request_vote(env.from, term, last_log_index, last_log_term, out),
            Message::RequestVoteResp { term, granted } => {
                // A reply from another term is stale: never count it (§5.1: a server ignores
                // replies of terms it has left). Injected bug `count-stale-votes`, breaking
                // §5.2 (each server votes for at most one candidate *in a given term*, and a
                // candidate wins by votes of its own term): a grant from an earlier term counts.
                let counts =
                    term == self.term || (term < self.term && self.bug(Bug::CountStaleVotes));
                if counts && granted {
                    if let RoleState::Candidate(_) = self.role {
                        self.count_vote(env.from, out);
                    }
                }
            }
            Message::PreVote {
                term,
                last_log_index,
                last_log_term,
            } => self.on_pre_vote(env.from, term, last_log_index, last_log_term),
            Message::PreVoteResp { term, granted } => {
                self.on_pre_vote_resp(env.from, term, granted, out)
            }
            Message::TimeoutNow { term } => self.on_timeout_now(term, out),
            Message::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                round,
            } => self.on_append_entries(
                env.from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                round,
                out,
            ),
            Message::AppendEntriesResp {
                term,
                success,
                index,
                round,
            } => {
                // Injected bug `count-stale-append-reply`, breaking §5.1 (a reply of a term
                // the server has left is stale): a leader takes one of its earlier term as
                // of this one.
                let counts =
                    term == self.term || (term < self.term && self.bug(Bug::CountStaleAppendReply));
                if counts && matches!(self.role, RoleState::Leader(_)) {
                    self.heard_from_follower(env.from);
                    if self.cfg.read_index {
                        self.leadership().reads.answered(env.from, round);
                        if self.cfg.lease_reads {
                            self.extend_lease();
                        }
                    }
                    self.on_append_resp(env.from, success, index, out);
                    self.continue_transfer(env.from, out);
                    if self.cfg.read_index {
                        self.serve_reads(out);
                    }
                }
            }
            Message::ReadIndex { req, .. } => self.on_read_index(env.from, req, out),
            Message::ReadIndexResp { req, index, .. } => self.on_read_index_resp(req, index, out),
        }
    }

    fn on_client(&mut self, req: u64, op: Op, out: &mut Vec<Output>) {
        let leading = matches!(self.role, RoleState::Leader(_));
        if self.reads_by_index(op) {
            if leading && self.transferring_to().is_none() {
                return self.start_read(req, None, out);
            }
            if !leading && self.cfg.follower_reads {
                return self.follower_read(req, out);
            }
        }
        if !leading || self.transferring_to().is_some() {
            // During a leadership transfer (dissertation §3.10) the leader takes no new
            // requests, and points the client at the node taking over.
            let hint = self.transferring_to().or(self.leader());
            out.push(Output::ClientReply {
                req,
                reply: ClientReply::NotLeader { hint },
            });
            return;
        }
        self.propose(req, op, out);
    }

    fn on_persisted(&mut self, seq: u64, out: &mut Vec<Output>) {
        assert!(
            seq > self.durable_seq && seq <= self.persist_seq,
            "disk writes complete in order"
        );
        self.durable_seq = seq;
        while let Some(&(s, len)) = self.inflight_len.first() {
            if s > seq {
                break;
            }
            self.durable_len = len;
            self.inflight_len.remove(0);
        }
        self.release_held(out);
        match &self.role {
            RoleState::Candidate(c) => {
                if c.own_vote_durable_with(seq) {
                    self.on_own_vote_durable(out);
                }
            }
            RoleState::Leader(_) => self.advance_commit(out),
            RoleState::Follower { .. } | RoleState::PreCandidate(_) => {}
        }
    }

    // ---- shared by every role ----

    /// Appends an entry this node creates (a leader's no-op or client command).
    fn append_local(&mut self, e: Entry) -> Index {
        self.log.push(e);
        let index = self.log.last_index();
        self.config_appended(index, &e);
        match self.pending_ops.last_mut() {
            Some(LogOp::Append { entries }) => entries.push(e),
            _ => self.pending_ops.push(LogOp::Append { entries: vec![e] }),
        }
        index
    }

    /// Queues a reply until every write issued so far is durable, including the one this step
    /// is about to issue (flush_persist assigns persist_seq + 1 if state is dirty).
    fn reply(&mut self, to: NodeId, msg: Message) {
        let seq = if self.bug(Bug::ReplyBeforePersist) {
            // Injected bug `reply-before-persist`, breaking Figure 2 ("Persistent state on all
            // servers: updated on stable storage before responding to RPCs"): the reply is
            // released at the end of this step, before the write it depends on is durable.
            self.durable_seq
        } else if self.hard_dirty || !self.pending_ops.is_empty() {
            self.persist_seq + 1
        } else {
            self.persist_seq
        };
        self.held.push((
            seq,
            Envelope {
                from: self.cfg.id,
                to,
                msg,
            },
        ));
    }

    /// Advances commitIndex and applies what it covers; a leader answers the clients whose
    /// entries are now committed.
    fn set_commit(&mut self, c: Index, out: &mut Vec<Output>) {
        assert!(c > self.commit_index, "commitIndex never decreases");
        assert!(c <= self.log.last_index(), "commit beyond the log");
        self.commit_index = c;
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let entry = *self
                .log
                .get(self.last_applied)
                .expect("committed entry exists");
            out.push(Output::Apply {
                index: self.last_applied,
                entry,
            });
        }
        if let RoleState::Leader(l) = &mut self.role {
            l.answer_committed(c, out);
        }
        if self.cfg.read_index {
            self.serve_reads(out);
            self.serve_follower_reads(out);
        }
    }

    /// Issues one disk write for everything this step changed.
    fn flush_persist(&mut self, out: &mut Vec<Output>) {
        if self.hard_dirty || !self.pending_ops.is_empty() {
            self.persist_seq += 1;
            if self.opts.block_during_writes && !matches!(self.role, RoleState::Leader(_)) {
                self.lock_seq = self.persist_seq;
            }
            self.hard_dirty = false;
            let ops = std::mem::take(&mut self.pending_ops);
            self.inflight_len
                .push((self.persist_seq, self.log.last_index()));
            // Injected bug `forget-vote-on-restart`, breaking Figure 2 (votedFor is persistent
            // state, on stable storage before responding): a vote granted to another server is
            // never written, so a restart forgets it and the node may vote again in that term.
            let voted_for =
                if self.bug(Bug::ForgetVoteOnRestart) && self.voted_for != Some(self.cfg.id) {
                    None
                } else {
                    self.voted_for
                };
            out.push(Output::Persist {
                seq: self.persist_seq,
                term: self.term,
                voted_for,
                // Figure 2: commitIndex is volatile; a restarted node re-learns it.
                commit: 0,
                ops,
            });
        }
        // Anything held for a write already durable (e.g. a denial that changed nothing) goes now.
        self.release_held(out);
    }

    /// Sends held messages whose writes are durable, in the order they were made.
    fn release_held(&mut self, out: &mut Vec<Output>) {
        let durable = self.durable_seq;
        out.extend(
            self.held
                .extract_if(.., |(s, _)| *s <= durable)
                .map(|(_, env)| Output::Send(env)),
        );
    }
}

impl RaftNode for Node {
    type Msg = Message;
    type Options = Options;
    const NAME: &'static str = DEFAULT_NODE;
    const CAPABILITIES: Capabilities = Capabilities {
        config_effect: ConfigEffect::OnAppend,
        bootstrap_leader: true,
        pre_vote: true,
        check_quorum: true,
        leader_stickiness: true,
        transfer: true,
        membership_joint: true,
        membership_single_server: true,
        initial_log: true,
        read_index: true,
        lease_reads: true,
    };

    fn restart(cfg: &Config, opts: &Options, hard: HardState) -> Node {
        Node::with_options(cfg.clone(), opts.clone(), hard)
    }
    fn start(&mut self, out: &mut Vec<Output>) {
        Node::start(self, out)
    }
    fn bootstrap_leader(&mut self, out: &mut Vec<Output>) {
        Node::bootstrap_leader(self, out)
    }
    fn step(&mut self, input: Input, out: &mut Vec<Output>) {
        Node::step(self, input, out)
    }
    fn role(&self) -> Role {
        Node::role(self)
    }
    fn leader(&self) -> Option<NodeId> {
        Node::leader(self)
    }
    fn observe_clock(&mut self, local: crate::base::time::SimTime) {
        self.clock = local;
    }
    /// Every election timer is drawn from [min, max] (with PreVote or stickiness: the minimum,
    /// then the rest), so none runs out sooner than the minimum.
    fn least_election_timeout(
        cfg: &Config,
        _opts: &Options,
    ) -> Option<crate::base::time::SimDuration> {
        Some(cfg.election_timeout_min)
    }
    /// A follower's timer is drawn within the maximum election timeout, or, split with PreVote
    /// or leader stickiness on, the minimum then the rest (its firing restarts the count).
    fn greatest_election_timeout(
        cfg: &Config,
        _opts: &Options,
    ) -> Option<crate::base::time::SimDuration> {
        Some(cfg.election_timeout_max)
    }
    /// The quorum is checked each minimum election timeout, on the leader's election timer,
    /// over what it heard since the last check: a majority last heard just after one check
    /// is missed at the next but one, two minimum timeouts on. A leadership transfer's
    /// deadline, armed on the same timer, postpones the next check by up to one maximum
    /// timeout more; the bound is three maximum timeouts.
    fn check_quorum_within(
        cfg: &Config,
        _opts: &Options,
    ) -> Option<crate::base::time::SimDuration> {
        cfg.check_quorum
            .then(|| crate::base::time::SimDuration(cfg.election_timeout_max.0.saturating_mul(3)))
    }
}

#[cfg(test)]
mod tests {
    //! A node driven by hand: inputs in, outputs inspected. Each test names the rule it checks.
    use super::*;
    use crate::base::time::SimDuration;

    fn cfg(id: NodeId, n: u32, _persist: CandidatePersist) -> Config {
        Config::new(id, n)
    }

    fn node(id: NodeId, n: u32, term: Term, voted_for: Option<NodeId>, terms: &[Term]) -> Node {
        let log = Log::from_entries(terms.iter().map(|&t| Entry::noop(t)).collect());
        Node::new(
            cfg(id, n, CandidatePersist::BeforeSend),
            HardState {
                commit: 0,
                term,
                voted_for,
                log,
            },
        )
    }

    fn step(n: &mut Node, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        n.step(input, &mut out);
        out
    }

    fn msg(from: NodeId, to: NodeId, msg: Message) -> Input {
        Input::Message(Envelope { from, to, msg })
    }

    fn sends(out: &[Output]) -> Vec<&Envelope> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn persist_seq(out: &[Output]) -> Option<u64> {
        out.iter().find_map(|o| match o {
            Output::Persist { seq, .. } => Some(*seq),
            _ => None,
        })
    }

    fn grant(from: NodeId, to: NodeId, term: Term) -> Input {
        msg(
            from,
            to,
            Message::RequestVoteResp {
                term,
                granted: true,
            },
        )
    }

    /// Makes `n` leader of `term` + 1 in a 3-node cluster, with every write durable.
    fn elect(n: &mut Node) {
        let out = step(n, Input::Timer(TimerKind::Election));
        let seq = persist_seq(&out).expect("the candidacy is written");
        step(n, Input::Persisted(seq));
        let term = n.term();
        let out = step(n, grant(2, 1, term));
        assert_eq!(n.role(), Role::Leader);
        if let Some(seq) = persist_seq(&out) {
            step(n, Input::Persisted(seq));
        }
    }

    fn ack(from: NodeId, term: Term, index: Index) -> Input {
        msg(
            from,
            1,
            Message::AppendEntriesResp {
                term,
                success: true,
                index,
                round: 0,
            },
        )
    }

    /// §5.4.2 and Figure 8: a leader does not commit an entry of an earlier term by counting
    /// replicas, only by committing an entry of its own term after it.
    #[test]
    fn leader_commits_only_entries_of_its_own_term_by_counting() {
        // n1 holds [1, 2]; it is elected for term 3 and appends its no-op at 3.
        let mut n1 = node(1, 3, 2, None, &[1, 2]);
        elect(&mut n1);
        assert_eq!(n1.term(), 3);
        assert_eq!(n1.log().last_index(), 3);
        // n2 now holds entry 2 (term 2): on 2 of 3 nodes, a majority, and still not committed.
        step(&mut n1, ack(2, 3, 2));
        assert_eq!(n1.commit_index(), 0, "entry 2 is of term 2, not 3");
        // Once the term-3 entry is on a majority, it and everything before it commit.
        let out = step(&mut n1, ack(2, 3, 3));
        assert_eq!(n1.commit_index(), 3);
        let applied: Vec<Index> = out
            .iter()
            .filter_map(|o| match o {
                Output::Apply { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(applied, vec![1, 2, 3]);
    }

    /// Figure 2, AppendEntries receiver step 5: commitIndex = min(leaderCommit, index of the
    /// last new entry) — not the end of the follower's log, which may hold stale entries.
    #[test]
    fn follower_commit_is_min_of_leader_commit_and_last_new_entry() {
        // n2 holds [1, 1, 1] from term 1; the leader of term 2 has only entry 1 in common.
        let mut n2 = node(2, 3, 1, None, &[1, 1, 1]);
        let hb = |prev: Index, leader_commit: Index, entries: Vec<Entry>| {
            msg(
                1,
                2,
                Message::AppendEntries {
                    term: 2,
                    prev_log_index: prev,
                    prev_log_term: if prev == 0 { 0 } else { 1 },
                    entries,
                    leader_commit,
                    round: 0,
                },
            )
        };
        // A heartbeat proving only entry 1: commit 1, not 3, though leaderCommit is 5.
        step(&mut n2, hb(1, 5, vec![]));
        assert_eq!(n2.commit_index(), 1);
        // Entries 2 (term 2) arrive with leaderCommit 5: commit up to 2, the last new entry.
        step(&mut n2, hb(1, 5, vec![Entry::noop(2)]));
        assert_eq!(
            n2.log().last_index(),
            2,
            "the conflicting entries 2..3 are gone"
        );
        assert_eq!(n2.commit_index(), 2);
    }

    /// Figure 2, "Persistent state ... updated on stable storage before responding to RPCs":
    /// an AppendEntries success and a granted vote are sent only after the write is durable.
    #[test]
    fn replies_wait_until_what_they_depend_on_is_durable() {
        let mut n2 = node(2, 3, 1, None, &[1]);
        let out = step(
            &mut n2,
            msg(
                1,
                2,
                Message::AppendEntries {
                    term: 1,
                    prev_log_index: 1,
                    prev_log_term: 1,
                    entries: vec![Entry::noop(1)],
                    leader_commit: 0,
                    round: 0,
                },
            ),
        );
        assert!(sends(&out).is_empty(), "no ack before the entry is on disk");
        let seq = persist_seq(&out).expect("the entry is written");
        let out = step(&mut n2, Input::Persisted(seq));
        assert!(matches!(
            sends(&out)[..],
            [Envelope {
                msg: Message::AppendEntriesResp {
                    success: true,
                    index: 2,
                    ..
                },
                ..
            }]
        ));

        let out = step(
            &mut n2,
            msg(
                3,
                2,
                Message::RequestVote {
                    term: 2,
                    last_log_index: 2,
                    last_log_term: 1,
                    transfer: false,
                },
            ),
        );
        assert!(
            sends(&out).is_empty(),
            "no vote before term and vote are on disk"
        );
        let seq = persist_seq(&out).expect("term and vote are written");
        let out = step(&mut n2, Input::Persisted(seq));
        assert_eq!(sends(&out).len(), 1);
        assert_eq!(n2.voted_for(), Some(3));
    }

    /// §5.2 with Figure 2's persistence rule, for a candidate that sends RequestVote while its
    /// own write is in flight: its own vote counts only once *that* write is durable. An older
    /// write completing first is not enough — had it been, a crash could make the node forget
    /// a vote it had counted, vote again, and let two leaders win the same term.
    #[test]
    fn candidate_counts_itself_only_when_its_own_vote_is_durable() {
        let mut n1 = Node::with_options(
            cfg(1, 3, CandidatePersist::Parallel),
            Options {
                candidate_persist: CandidatePersist::Parallel,
                ..Options::default()
            },
            HardState {
                commit: 0,
                term: 1,
                voted_for: None,
                log: Log::from_entries(vec![Entry::noop(1)]),
            },
        );
        // A write from term 1 is still in flight (an entry from the leader of term 1).
        let out = step(
            &mut n1,
            msg(
                2,
                1,
                Message::AppendEntries {
                    term: 1,
                    prev_log_index: 1,
                    prev_log_term: 1,
                    entries: vec![Entry::noop(1)],
                    leader_commit: 0,
                    round: 0,
                },
            ),
        );
        let older = persist_seq(&out).unwrap();
        // The election starts: term 2 and the vote for itself go to disk as a later write.
        let out = step(&mut n1, Input::Timer(TimerKind::Election));
        let own = persist_seq(&out).unwrap();
        assert!(own > older);
        assert_eq!(
            sends(&out).len(),
            2,
            "Parallel: RequestVote goes out at once"
        );
        step(&mut n1, grant(3, 1, 2));
        step(&mut n1, Input::Persisted(older));
        assert_eq!(
            n1.role(),
            Role::Candidate,
            "its own vote is not durable yet"
        );
        step(&mut n1, Input::Persisted(own));
        assert_eq!(n1.role(), Role::Leader);
    }

    /// §5.3, the consistency check walking nextIndex back over a long conflicting suffix while
    /// heartbeats keep probing. Regression: seed 18 (and 501, 573, ...) of FAULTY_UNDER_LOAD in
    /// tests/replication.rs, where a deposed leader rejoined with 54 uncommitted entries and
    /// never caught up: each heartbeat was sent from an optimistically advanced nextIndex, so
    /// every new probe started again from the top, and with 5% loss no chain of probes and
    /// rejections lived the 54 round trips needed to walk back.
    #[test]
    fn a_long_conflicting_suffix_is_repaired_despite_heartbeats() {
        let leader_log: Vec<Term> = [vec![1; 41], vec![4; 160]].concat();
        let follower_log: Vec<Term> = [vec![1; 41], vec![2; 54]].concat();
        let mut n1 = node(1, 3, 4, Some(1), &leader_log);
        let mut n2 = node(2, 3, 4, Some(1), &follower_log);
        let mut to_n2: Vec<Envelope> = Vec::new();
        let mut out = Vec::new();
        // Every 8th message is lost.
        let mut sent = 0u32;
        let mut lost = |_: &Envelope| {
            sent += 1;
            sent.is_multiple_of(8)
        };
        n1.bootstrap_leader(&mut out);
        for round in 0..200 {
            if n2.log() == n1.log() {
                assert!(round < 100, "took {round} rounds");
                return;
            }
            // A heartbeat every round, as under load or with a short heartbeat interval.
            out.extend(step(&mut n1, Input::Timer(TimerKind::Heartbeat)));
            to_n2.extend(sends(&out).into_iter().filter(|e| e.to == 2).cloned());
            out.clear();
            to_n2.retain(|e| !lost(e));
            let mut to_n1 = Vec::new();
            for env in to_n2.drain(..) {
                let o = step(&mut n2, Input::Message(env));
                let mut released: Vec<Envelope> = sends(&o).into_iter().cloned().collect();
                if let Some(seq) = persist_seq(&o) {
                    let o = step(&mut n2, Input::Persisted(seq));
                    released.extend(sends(&o).into_iter().cloned());
                }
                to_n1.extend(released);
            }
            to_n1.retain(|e| !lost(e));
            for env in to_n1 {
                out.extend(step(&mut n1, Input::Message(env)));
            }
        }
        panic!(
            "n2 never caught up: {} of {} entries",
            n2.log().last_index(),
            n1.log().last_index()
        );
    }

    /// Figure 2: the leader counts itself in a majority only for entries on its own disk.
    #[test]
    fn leader_counts_itself_only_for_durable_entries() {
        let mut n1 = node(1, 3, 0, None, &[]);
        elect(&mut n1);
        let term = n1.term();
        step(&mut n1, ack(2, term, 1));
        assert_eq!(n1.commit_index(), 1);
        let out = step(
            &mut n1,
            Input::ClientRequest {
                req: 7,
                op: Op::Put { key: 0, value: 7 },
            },
        );
        let seq = persist_seq(&out).unwrap();
        // n3 acks entry 2 before the leader's own write lands: n3 alone is not a majority.
        step(&mut n1, ack(3, term, 2));
        assert_eq!(n1.commit_index(), 1);
        let out = step(&mut n1, Input::Persisted(seq));
        assert_eq!(n1.commit_index(), 2);
        assert!(out.contains(&Output::ClientReply {
            req: 7,
            reply: ClientReply::Committed { index: 2 },
        }));
    }

    /// A node of a 3-node cluster at term 1 with one entry, with the LogCabin switches given.
    fn logcabin_node(id: NodeId, separate: bool, block: bool, sticky: bool) -> Node {
        let mut c = cfg(id, 3, CandidatePersist::BeforeSend);
        c.leader_stickiness = sticky;
        Node::with_options(
            c,
            Options {
                separate_term_write: separate,
                block_during_writes: block,
                ..Options::default()
            },
            HardState {
                commit: 0,
                term: 1,
                voted_for: None,
                log: Log::from_entries(vec![Entry::noop(1)]),
            },
        )
    }

    fn request_vote(from: NodeId, to: NodeId, term: Term) -> Input {
        msg(
            from,
            to,
            Message::RequestVote {
                term,
                last_log_index: 1,
                last_log_term: 1,
                transfer: false,
            },
        )
    }

    fn persists(out: &[Output]) -> Vec<(u64, Term, Option<NodeId>)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Persist {
                    seq,
                    term,
                    voted_for,
                    ..
                } => Some((*seq, *term, *voted_for)),
                _ => None,
            })
            .collect()
    }

    /// `separate_term_write` (LogCabin's step-down, then its vote): a vote granted at a higher
    /// term is two writes, the term alone and then the vote, and the grant leaves only once the
    /// second is durable (Figure 2).
    #[test]
    fn separate_term_write_makes_a_vote_at_a_higher_term_two_writes() {
        let mut n2 = logcabin_node(2, true, false, false);
        let out = step(&mut n2, request_vote(3, 2, 2));
        assert_eq!(persists(&out), vec![(1, 2, None), (2, 2, Some(3))]);
        assert!(sends(&out).is_empty());
        assert!(sends(&step(&mut n2, Input::Persisted(1))).is_empty());
        let out = step(&mut n2, Input::Persisted(2));
        assert!(matches!(
            sends(&out)[..],
            [Envelope {
                msg: Message::RequestVoteResp { granted: true, .. },
                ..
            }]
        ));
        // Off: one write carries both.
        let mut n2 = logcabin_node(2, false, false, false);
        assert_eq!(
            persists(&step(&mut n2, request_vote(3, 2, 2))),
            vec![(1, 2, Some(3))]
        );
    }

    /// `block_during_writes`: while a write issued outside leadership is in flight the node
    /// handles nothing else; what arrived meanwhile is handled once it is durable, in order. An
    /// election timer that fired during the term write is superseded when the vote handled
    /// after it re-arms the timer, as a deadline moved before the timer could act.
    #[test]
    fn block_during_writes_defers_inputs_and_a_rearmed_timer_supersedes_a_waiting_firing() {
        let mut n2 = logcabin_node(2, true, true, false);
        // The RequestVote of term 2: the term write goes out, the vote waits for it.
        let out = step(&mut n2, request_vote(3, 2, 2));
        assert_eq!(persists(&out), vec![(1, 2, None)]);
        assert_eq!(n2.voted_for(), None, "the vote waits for the term write");
        // Meanwhile the election timer fires and another RequestVote arrives: both wait.
        assert!(step(&mut n2, Input::Timer(TimerKind::Election)).is_empty());
        assert!(step(&mut n2, request_vote(1, 2, 2)).is_empty());
        assert_eq!(n2.role(), Role::Follower);
        // The term write lands: the vote for n3 is handled (re-arming the timer, which drops
        // the firing that waited) and written; n1's request waits for that write.
        let out = step(&mut n2, Input::Persisted(1));
        assert_eq!(persists(&out), vec![(2, 2, Some(3))]);
        assert!(out.iter().any(|o| matches!(
            o,
            Output::SetTimer {
                kind: TimerKind::Election,
                ..
            }
        )));
        assert_eq!(n2.voted_for(), Some(3));
        // The vote lands: the grant to n3 leaves, n1 is denied, and no election starts.
        let out = step(&mut n2, Input::Persisted(2));
        let replies: Vec<(NodeId, bool)> = sends(&out)
            .iter()
            .map(|e| match e.msg {
                Message::RequestVoteResp { granted, .. } => (e.to, granted),
                ref m => panic!("unexpected {m:?}"),
            })
            .collect();
        assert_eq!(replies, vec![(3, true), (1, false)]);
        assert_eq!(n2.role(), Role::Follower);
        assert_eq!(n2.term(), 2);
        // Without blocking the same firing starts an election at once.
        let mut n2 = logcabin_node(2, true, false, false);
        step(&mut n2, request_vote(3, 2, 2));
        step(&mut n2, Input::Timer(TimerKind::Election));
        assert_eq!(n2.role(), Role::Candidate);
    }

    /// Paper §6 (`leader_stickiness`): within the minimum election timeout of hearing from a
    /// current leader a server neither adopts a RequestVote's term nor grants it (the first
    /// part of its election timer, see `lease`); once that part runs out it votes as usual.
    /// Off, it votes at once.
    #[test]
    fn leader_stickiness_withholds_votes_after_hearing_from_the_leader() {
        let heartbeat = msg(
            1,
            2,
            Message::AppendEntries {
                term: 1,
                prev_log_index: 1,
                prev_log_term: 1,
                entries: vec![],
                leader_commit: 0,
                round: 0,
            },
        );
        let mut n2 = logcabin_node(2, false, false, true);
        let out = step(&mut n2, heartbeat.clone());
        assert!(out.contains(&Output::SetTimer {
            kind: TimerKind::Election,
            min: SimDuration::from_millis(150),
            max: SimDuration::from_millis(150),
        }));
        let out = step(&mut n2, request_vote(3, 2, 2));
        assert_eq!(n2.term(), 1, "the term is not adopted");
        assert!(persists(&out).is_empty());
        assert!(out.contains(&Output::Note(Note::VoteDenied {
            candidate: 3,
            term: 2,
            reason: DenyReason::LeaderRecent,
        })));
        step(&mut n2, Input::Timer(TimerKind::Election));
        let out = step(&mut n2, request_vote(3, 2, 2));
        assert_eq!((n2.term(), n2.voted_for()), (2, Some(3)));
        assert_eq!(persists(&out).len(), 1);
        let mut n2 = logcabin_node(2, false, false, false);
        step(&mut n2, heartbeat);
        step(&mut n2, request_vote(3, 2, 2));
        assert_eq!(n2.voted_for(), Some(3));
    }
}
