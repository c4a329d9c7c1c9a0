//! The node interface: what the simulator and a Raft node say to each other.
//!
//! A node is sans-IO. Inputs go in through [`RaftNode::step`]: a message, a timer firing, a
//! client request, or word that a disk write is durable; a restart builds a new node from its
//! durable state ([`RaftNode::restart`]). Outputs come back in a caller-owned `Vec<Output>`:
//! messages to send, timer requests as a *range* (the runtime draws the timeout from the node's
//! own seeded stream), disk writes, applies and client replies, plus optional notes that explain
//! a decision (a vote's denial reason) for a human reader of the trace.
//!
//! The simulator observes a node only through this interface: its log, term, vote and commit
//! from what it persisted, sent and applied, and its role from [`RaftNode::role`]. Notes are
//! shown in the trace but never trusted by the checker. `docs/ARCHITECTURE.md` says how a
//! library in the "ready/advance" style maps onto it.
//!
//! Node ids are 1-based (`n1`..`nN`), as in traces and scenario files.

use crate::base::time::{SimDuration, SimTime};

pub type NodeId = u32;
pub type Term = u64;
pub type Index = u64;

/// What a client asks of the key-value store the cluster replicates (dissertation §6.3). Each
/// key is a register: `Get` reads it, `Put` writes it, `Cas` writes `value` only if it holds
/// `expect` (a key never written holds nothing, which no `expect` matches).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Get { key: u32 },
    Put { key: u32, value: u64 },
    Cas { key: u32, expect: u64, value: u64 },
}

impl Op {
    pub fn key(&self) -> u32 {
        match *self {
            Op::Get { key } | Op::Put { key, .. } | Op::Cas { key, .. } => key,
        }
    }
    /// Whether it only reads (a read may be served without the log, dissertation §6.4).
    pub fn is_read(&self) -> bool {
        matches!(self, Op::Get { .. })
    }
}

/// A log entry's command. `Noop` is what a new leader appends (dissertation §6.4) and what
/// scenario-given initial logs hold. A client's request carries its number `req`, which is
/// also its session's sequence number: the state machine applies a request once, however
/// often a retry puts it in the log (dissertation §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    Noop,
    Put {
        req: u64,
        key: u32,
        value: u64,
    },
    /// A read through the log (the default read path, dissertation §6.4).
    Get {
        req: u64,
        key: u32,
    },
    Cas {
        req: u64,
        key: u32,
        expect: u64,
        value: u64,
    },
    /// A configuration entry (paper §6): the voters, as bit sets over node ids (bit `id - 1`,
    /// see [`voter_ids`]). `old == 0`: the configuration `new` alone (C_new). Otherwise the
    /// joint configuration C_old,new, in which decisions need separate majorities of `old` and
    /// of `new`. A server uses the latest configuration in its log, committed or not.
    Config {
        old: u64,
        new: u64,
    },
}

impl Command {
    /// The entry a client's request `req` for `op` becomes.
    pub fn client(req: u64, op: Op) -> Command {
        match op {
            Op::Get { key } => Command::Get { req, key },
            Op::Put { key, value } => Command::Put { req, key, value },
            Op::Cas { key, expect, value } => Command::Cas {
                req,
                key,
                expect,
                value,
            },
        }
    }
    /// The client request this entry carries, if any.
    pub fn request(&self) -> Option<(u64, Op)> {
        match *self {
            Command::Get { req, key } => Some((req, Op::Get { key })),
            Command::Put { req, key, value } => Some((req, Op::Put { key, value })),
            Command::Cas {
                req,
                key,
                expect,
                value,
            } => Some((req, Op::Cas { key, expect, value })),
            Command::Noop | Command::Config { .. } => None,
        }
    }
}

/// The node ids in a voter bit set (bit `id - 1` for node `id`), in increasing order.
pub fn voter_ids(mask: u64) -> Vec<NodeId> {
    (1..=64u32)
        .filter(|&id| mask & (1u64 << (id - 1)) != 0)
        .collect()
}

/// The voter bit set of these node ids (each 1..=64).
pub fn voter_mask(ids: &[NodeId]) -> u64 {
    ids.iter().fold(0, |m, &id| m | (1u64 << (id - 1)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub term: Term,
    pub command: Command,
}

impl Entry {
    pub fn noop(term: Term) -> Entry {
        Entry {
            term,
            command: Command::Noop,
        }
    }
}

/// A 1-indexed Raft log. Index 0 is the empty prefix, with term 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    entries: Vec<Entry>,
}

impl Log {
    pub fn from_entries(entries: Vec<Entry>) -> Log {
        Log { entries }
    }
    pub fn last_index(&self) -> Index {
        self.entries.len() as Index
    }
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |e| e.term)
    }
    /// The term at `index`, 0 for index 0, `None` past the end.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            Some(0)
        } else {
            self.entries.get(index as usize - 1).map(|e| e.term)
        }
    }
    pub fn get(&self, index: Index) -> Option<&Entry> {
        if index == 0 {
            None
        } else {
            self.entries.get(index as usize - 1)
        }
    }
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    /// Entries from `from` (inclusive), at most `max`.
    pub fn slice_from(&self, from: Index, max: usize) -> Vec<Entry> {
        let start = (from.max(1) - 1) as usize;
        if start >= self.entries.len() {
            return Vec::new();
        }
        let end = start.saturating_add(max).min(self.entries.len());
        self.entries[start..end].to_vec()
    }
    pub fn push(&mut self, e: Entry) {
        self.entries.push(e);
    }
    /// Deletes the entry at `from` and every entry after it.
    pub fn truncate_from(&mut self, from: Index) {
        self.entries.truncate((from.max(1) - 1) as usize);
    }
    /// §5.4.1: a log ending in (last_term, last_index) is at least as up to date as this one.
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }
    /// Applies a durable-log change, in the order the node issued it.
    pub fn apply_op(&mut self, op: &LogOp) {
        match op {
            LogOp::Truncate { from } => self.truncate_from(*from),
            LogOp::Append { entries } => self.entries.extend_from_slice(entries),
        }
    }
}

/// A change to the log, as written to disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogOp {
    /// Delete the entry at `from` and all after it.
    Truncate { from: Index },
    /// Append these entries at the end.
    Append { entries: Vec<Entry> },
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Follower,
    /// PreVote (dissertation §9.6): asking whether a majority would vote for it, in its
    /// current term (not raised) and with no vote written.
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre_candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// Why a vote was denied; traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    StaleTerm,
    AlreadyVoted(NodeId),
    LogNotUpToDate,
    /// Leader stickiness (paper §6): this server heard from a current leader within the
    /// minimum election timeout, so it disregards the request (its term stays as it is).
    LeaderRecent,
}

impl DenyReason {
    pub fn describe(self) -> String {
        match self {
            DenyReason::StaleTerm => "stale_term".into(),
            DenyReason::AlreadyVoted(c) => format!("already_voted_for_n{c}"),
            DenyReason::LogNotUpToDate => "log_not_up_to_date".into(),
            DenyReason::LeaderRecent => "leader_recent".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    RequestVote {
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
        /// Sent by a server that a leader's TimeoutNow told to stand (dissertation §3.10):
        /// overrides leader stickiness (§4.2.3), since this election is the leader's own wish.
        transfer: bool,
    },
    RequestVoteResp {
        term: Term,
        granted: bool,
    },
    /// PreVote (dissertation §9.6): would the receiver vote for the sender in `term`, the term
    /// after the sender's own? Changes nothing at the receiver, whatever its term.
    PreVote {
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
    },
    /// The answer to a PreVote. Granted: `term` is the term asked about (not the sender's, so
    /// it does not make the pre-candidate adopt it). Denied: the sender's current term, which
    /// a pre-candidate behind it adopts like any other.
    PreVoteResp {
        term: Term,
        granted: bool,
    },
    /// Leadership transfer (dissertation §3.10): the leader of `term` tells a caught-up
    /// follower to start an election at once.
    TimeoutNow {
        term: Term,
    },
    AppendEntries {
        term: Term,
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
        /// The leader's heartbeat round when it sent this, echoed in the answer: a read by
        /// ReadIndex (dissertation §6.4) knows its leadership is confirmed once a majority
        /// answered a round sent after the read arrived.
        round: u64,
    },
    AppendEntriesResp {
        term: Term,
        success: bool,
        /// On success, the index of the last entry the follower now matches. On failure, the
        /// follower's last log index (a hint for where the leader should retry).
        index: Index,
        /// The `round` of the AppendEntries answered.
        round: u64,
    },
    /// A follower serving a read (dissertation §6.4) asks the leader of `term` for a read
    /// index for client request `req`.
    ReadIndex {
        term: Term,
        req: u64,
    },
    /// The leader's answer: the read index once its leadership is confirmed, or `None` (it is
    /// not the leader, or stopped being one).
    ReadIndexResp {
        term: Term,
        req: u64,
        index: Option<Index>,
    },
}

impl Message {
    pub fn term(&self) -> Term {
        match self {
            Message::RequestVote { term, .. }
            | Message::RequestVoteResp { term, .. }
            | Message::PreVote { term, .. }
            | Message::PreVoteResp { term, .. }
            | Message::TimeoutNow { term }
            | Message::AppendEntries { term, .. }
            | Message::AppendEntriesResp { term, .. }
            | Message::ReadIndex { term, .. }
            | Message::ReadIndexResp { term, .. } => *term,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Message::RequestVote { .. } => "RequestVote",
            Message::RequestVoteResp { .. } => "RequestVoteResp",
            Message::PreVote { .. } => "PreVote",
            Message::PreVoteResp { .. } => "PreVoteResp",
            Message::TimeoutNow { .. } => "TimeoutNow",
            Message::AppendEntries { .. } => "AppendEntries",
            Message::AppendEntriesResp { .. } => "AppendEntriesResp",
            Message::ReadIndex { .. } => "ReadIndex",
            Message::ReadIndexResp { .. } => "ReadIndexResp",
        }
    }
}

/// A message with its sender and receiver. `M` is the node implementation's wire message; the
/// built-in node's is [`Message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<M = Message> {
    pub from: NodeId,
    pub to: NodeId,
    pub msg: M,
}

/// What the simulator may read of any implementation's messages: enough to trace them and to
/// count the votes a candidate received, nothing else.
pub trait WireMessage: Clone + std::fmt::Debug {
    /// A short name for traces, e.g. "RequestVote".
    fn kind(&self) -> &'static str;
    /// The sender's term (for a pre-vote request or a granted pre-vote, the term asked about).
    fn term(&self) -> Term;
    /// For a reply to a vote request: whether the vote was granted; `None` for other messages,
    /// including pre-vote replies (a pre-vote is not a vote, dissertation §9.6).
    fn vote_granted(&self) -> Option<bool>;
    /// Whether this is a message only a term's leader sends, whose receipt from the leader of
    /// the receiver's term restarts the receiver's election timer (Figure 2, "Followers": an
    /// AppendEntries, and a library's heartbeat or snapshot). The property "Liveness: Election
    /// Timer" counts those receipts; the default, `false` for every message, leaves the
    /// property weaker, never wrong.
    fn leader_only(&self) -> bool {
        false
    }
    /// For a vote or pre-vote request: whether it is a pre-vote, and the candidate's last log
    /// entry (index, term) as the request states it. With it and
    /// [`WireMessage::pre_vote_granted`], the property "Election Restriction" is judged (a
    /// vote or pre-vote granted only to a candidate whose log is at least as up to date as
    /// the voter's, §5.4.1 and dissertation §9.6). The default, `None`: not judged.
    fn vote_request(&self) -> Option<VoteRequest> {
        None
    }
    /// For a reply to a pre-vote request: whether it was granted; `None` for other messages.
    fn pre_vote_granted(&self) -> Option<bool> {
        None
    }
}

/// What a vote or pre-vote request states of the candidate's log ([`WireMessage::vote_request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoteRequest {
    pub pre_vote: bool,
    pub last_log_index: Index,
    pub last_log_term: Term,
}

impl WireMessage for Message {
    fn kind(&self) -> &'static str {
        Message::kind(self)
    }
    fn term(&self) -> Term {
        Message::term(self)
    }
    fn vote_granted(&self) -> Option<bool> {
        match self {
            Message::RequestVoteResp { granted, .. } => Some(*granted),
            _ => None,
        }
    }
    fn leader_only(&self) -> bool {
        matches!(self, Message::AppendEntries { .. })
    }
    fn vote_request(&self) -> Option<VoteRequest> {
        match *self {
            Message::RequestVote {
                last_log_index,
                last_log_term,
                ..
            } => Some(VoteRequest {
                pre_vote: false,
                last_log_index,
                last_log_term,
            }),
            Message::PreVote {
                last_log_index,
                last_log_term,
                ..
            } => Some(VoteRequest {
                pre_vote: true,
                last_log_index,
                last_log_term,
            }),
            _ => None,
        }
    }
    fn pre_vote_granted(&self) -> Option<bool> {
        match self {
            Message::PreVoteResp { granted, .. } => Some(*granted),
            _ => None,
        }
    }
}

/// The [`RaftNode::NAME`] of the built-in node, the default: traces name any other.
pub const DEFAULT_NODE: &str = "raftsim";

/// The node interface the simulator drives (see the module doc). The built-in node
/// (`crate::node::Node`) is one implementation, tikv's raft crate behind `crate::raftrs` is
/// another; `docs/TEST-YOUR-RAFT.md` is the guide to writing a third.
pub trait RaftNode: Sized {
    type Msg: WireMessage;
    /// What belongs to this implementation alone: its own switches, its injected bugs, a
    /// library's tick length. The scenario layer builds it (`crate::nodes`); the world only
    /// hands it to [`RaftNode::restart`].
    type Options: Clone + std::fmt::Debug + Send + Sync;
    /// The name a scenario's `node` field and the command line use.
    const NAME: &'static str;
    /// What this implementation supports and the rules the checker judges it by.
    const CAPABILITIES: Capabilities;

    /// A node built from durable state: at the start of a run (empty, or the scenario's initial
    /// state) and after every crash. Volatile state starts afresh.
    fn restart(cfg: &Config, opts: &Self::Options, hard: HardState) -> Self;
    /// Called once after [`RaftNode::restart`]: arm the first timers.
    fn start(&mut self, out: &mut Vec<Output<Self::Msg>>);
    /// Instead of `start`: lead the current term at once, as a cluster that has already elected
    /// this node (every node's durable state says so). For scenarios that begin established;
    /// called only when [`Capabilities::bootstrap_leader`] says so.
    fn bootstrap_leader(&mut self, out: &mut Vec<Output<Self::Msg>>);
    /// One input; the outputs go to `out`, in the order they are to take effect.
    fn step(&mut self, input: Input<Self::Msg>, out: &mut Vec<Output<Self::Msg>>);
    /// The node's role, as it would tell an operator.
    fn role(&self) -> Role;
    /// The leader this node follows in its current term (itself when leading), if known.
    fn leader(&self) -> Option<NodeId>;
    /// The node's own clock, read before each input when [`Config::lease_reads`] is on: time
    /// since the run began as the node's drifting clock measures it (stepped by clock jumps),
    /// for an implementation that bounds a lease by it. Others need not implement it.
    fn observe_clock(&mut self, _local: SimTime) {}
    /// The least time, on the node's own clock, from the last restart of its election timer to
    /// the election that timer starts: the property "Liveness: Election Timer" fails a server
    /// that stands sooner after it heard from its term's leader, granted a vote, stood, or
    /// started (Figure 2, "Followers" and "Candidates"; §5.2). `None`, the default: not
    /// judged.
    fn least_election_timeout(_cfg: &Config, _opts: &Self::Options) -> Option<SimDuration> {
        None
    }
    /// The greatest time, on the node's own clock, from the last moment it may have restarted
    /// its election timer to the election that timer starts, the world's timer jitter and
    /// resolution aside: the property "Liveness: Election Timer" fails a voter that has not
    /// stood that long after it last started, heard from a leader of at least its term,
    /// granted a vote, stood, changed term or role, finished a disk write, resumed or had its
    /// timer fire (Figure 2, "Followers": a follower that receives no communication over the
    /// timeout "assumes there is no viable leader"; §5.2). Judged after each of its steps,
    /// never while a write of its is pending. `None`, the default: not judged.
    fn greatest_election_timeout(_cfg: &Config, _opts: &Self::Options) -> Option<SimDuration> {
        None
    }
    /// With CheckQuorum on (dissertation §6.2): the longest time, on the node's own clock, that
    /// a leader may go without hearing from a majority of its configuration (itself counted
    /// once) and still lead. The property "Liveness: CheckQuorum" fails a leader that leads on
    /// past it. `None`, the default (and with CheckQuorum off): not judged.
    fn check_quorum_within(_cfg: &Config, _opts: &Self::Options) -> Option<SimDuration> {
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    Election,
    Heartbeat,
    /// The wake-up of a node's ticker ([`Output::Ticker`], [`Output::WakeAfterTicks`]); never
    /// set with [`Output::SetTimer`].
    Tick,
}

impl TimerKind {
    /// How many kinds there are (`kind as usize` is below it).
    pub const COUNT: usize = TimerKind::Tick as usize + 1;
}

/// The settings every implementation is given: what a scenario says of the cluster and of
/// Raft itself (paper §5–6, dissertation §3.10, §6.2, §9.6). What belongs to one implementation
/// (the built-in node's write ordering and injected bugs, a library's tick length) is that
/// implementation's [`RaftNode::Options`].
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    pub cluster_size: u32,
    pub election_timeout_min: SimDuration,
    pub election_timeout_max: SimDuration,
    pub heartbeat_interval: SimDuration,
    pub max_entries_per_message: usize,
    /// For implementations that draw randomness of their own (a library with its own election
    /// timer): a seed the world derives from the run's seed, the node's id and its incarnation,
    /// so that randomness replays too. The built-in node draws nothing and ignores it.
    pub seed: u64,
    /// PreVote (dissertation §9.6): a would-be candidate first asks whether a majority would
    /// vote for it, without raising its term.
    pub pre_vote: bool,
    /// CheckQuorum (dissertation §6.2): a leader that has not heard from a majority within an
    /// election timeout steps down.
    pub check_quorum: bool,
    /// Leader stickiness (paper §6): a server disregards RequestVote while it has heard from a
    /// current leader within the minimum election timeout.
    pub leader_stickiness: bool,
    /// The voters before the log holds any configuration entry, as a bit set (see
    /// [`voter_ids`]); 0 means every server, 1..=`cluster_size`. Servers outside it start as
    /// non-voting members, until a membership change (paper §6) adds them.
    pub initial_voters: u64,
    /// Reads (`get`) by ReadIndex (dissertation §6.4) instead of through the log: the leader
    /// notes its commit index once it has committed an entry of its term, confirms it still
    /// leads with a round of heartbeats a majority answers, and answers once it has applied
    /// that index.
    pub read_index: bool,
    /// With `read_index`: a follower serves a read too, asking the leader for a read index and
    /// answering once it has applied it.
    pub follower_reads: bool,
    /// With `read_index`: lease reads (dissertation §6.4.1). Once a majority answered a
    /// heartbeat round sent at time t on the leader's clock, the leader holds a lease until
    /// t + `election_timeout_min` · (1 − ρ) / (1 + ρ), ρ the clock drift bound; within it, a
    /// read skips the round. The world hands the node its clock ([`RaftNode::observe_clock`]).
    pub lease_reads: bool,
    /// The bound on clock drift that lease reads assume, in parts per million.
    pub clock_drift_bound_ppm: u32,
}

impl Config {
    /// Server `id` of `cluster_size` with the paper's settings (election timeouts 150–300 ms,
    /// heartbeats every 50 ms), 64 entries per message and every switch off; a scenario sets
    /// every field itself (`scenario::compile`). For a node driven by hand:
    /// `Config { pre_vote: true, ..Config::new(1, 3) }`.
    pub fn new(id: NodeId, cluster_size: u32) -> Config {
        Config {
            id,
            cluster_size,
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            max_entries_per_message: 64,
            seed: 0,
            pre_vote: false,
            check_quorum: false,
            leader_stickiness: false,
            initial_voters: 0,
            read_index: false,
            follower_reads: false,
            lease_reads: false,
            clock_drift_bound_ppm: 0,
        }
    }
}

/// When a node starts to use a configuration entry (paper §6): the checker judges each
/// implementation by its own rule, or it would report false Election Safety and Commit Quorum
/// failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigEffect {
    /// From the moment the entry is in its log, committed or not (paper §6, dissertation §4.1).
    OnAppend,
    /// Once the entry is applied (committed): one change pending at a time, as tikv's raft and
    /// etcd's raft do.
    OnApply,
}

/// What an implementation supports and the rules it is judged by. A scenario that asks for
/// a feature its node lacks is refused before any work (exit 2), naming the feature and the
/// node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub config_effect: ConfigEffect,
    /// `bootstrap_leader`: start as the established leader of the current term.
    pub bootstrap_leader: bool,
    /// PreVote (dissertation §9.6).
    pub pre_vote: bool,
    /// CheckQuorum (dissertation §6.2).
    pub check_quorum: bool,
    /// Leader stickiness (paper §6) on its own, without CheckQuorum.
    pub leader_stickiness: bool,
    /// Leadership transfer (dissertation §3.10): `Input::TransferLeadership`.
    pub transfer: bool,
    /// Membership change by joint consensus (paper §6): `Input::ChangeMembership`, and
    /// initial voters other than every server.
    pub membership_joint: bool,
    /// Membership change one server at a time (dissertation §4).
    pub membership_single_server: bool,
    /// A durable initial log (a scenario's `initial` entries) it can start from.
    pub initial_log: bool,
    /// Reads by ReadIndex, at the leader and at followers (dissertation §6.4).
    pub read_index: bool,
    /// Lease reads (dissertation §6.4.1), reading [`RaftNode::observe_clock`].
    pub lease_reads: bool,
}

/// What a node tells the runtime; see the module doc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<M = Message> {
    Send(Envelope<M>),
    /// (Re)arm a timer to fire after a duration drawn uniformly from [min, max] on the node's
    /// own clock. Re-arming cancels the previous one of the same kind.
    SetTimer {
        kind: TimerKind,
        min: SimDuration,
        max: SimDuration,
    },
    CancelTimer(TimerKind),
    /// Start (or restart, from now) a ticker of this period on the node's own clock, for a
    /// library driven by `tick()`. The world counts the ticks as its clock passes them and
    /// hands them over as [`Input::Ticks`] before any other input to the node, and when a
    /// wake-up asked for with [`Output::WakeAfterTicks`] comes due. A tick that changes
    /// nothing is never an event of its own.
    Ticker {
        period: SimDuration,
    },
    /// Wake the node (with [`Input::Ticks`]) once this many ticks have passed since the last
    /// ticks it was given; replaces the previous wake-up.
    WakeAfterTicks(u64),
    /// Make this durable: the hard state and the log changes since the last write. Report it
    /// back with `Input::Persisted(seq)`.
    Persist {
        seq: u64,
        term: Term,
        voted_for: Option<NodeId>,
        /// The commit index this node knows, made durable with this write, as tikv's and
        /// etcd's raft keep it in their hard state (a node that re-learns it from the leader
        /// after a restart, as Figure 2 has it volatile, writes 0). Handed back in
        /// [`HardState::commit`]; never trusted by the checker.
        commit: Index,
        ops: Vec<LogOp>,
    },
    /// Apply a committed entry to the state machine.
    Apply {
        index: Index,
        entry: Entry,
    },
    /// Answer to a client request.
    ClientReply {
        req: u64,
        reply: ClientReply,
    },
    /// An explanation for a human reader of the trace; never trusted by the checker.
    Note(Note),
}

/// A node's answer to a client. What the client is told (a read's value, whether a CAS took
/// effect) is the state machine's: the world keeps each node's (`world::kv`), fed by its
/// applies, so an implementation need not hold one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientReply {
    /// The request's entry, at `index`, is committed and applied: the answer is what applying
    /// it gave (the first application's, for a request in the log more than once).
    Committed { index: Index },
    /// A read answered without the log (ReadIndex, dissertation §6.4): the answer is what the
    /// node's state machine gives now, having applied at least `index`, the read index.
    Read { index: Index },
    /// Not the leader (or a leader that takes no requests now); `hint` is the leader it knows.
    NotLeader { hint: Option<NodeId> },
}

/// Explanations a node may attach to its outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Why a vote was denied. The trace shows it; the checker ignores it (a denial changes
    /// nothing it checks).
    VoteDenied {
        candidate: NodeId,
        term: Term,
        reason: DenyReason,
    },
    /// A leader catching up the servers a membership change adds, before the configuration
    /// that adds them (dissertation §4.2.1): `servers` as a bit set (see [`voter_ids`]);
    /// `index` the leader's last index at a round's start (`Round`, `CaughtUp`), or what the
    /// slowest of them held when it gave up (`Aborted`).
    CatchUp {
        phase: CatchUpPhase,
        servers: u64,
        index: Index,
    },
}

/// The steps of a catch-up ([`Note::CatchUp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUpPhase {
    /// A round starts: replicate up to the leader's last index.
    Round,
    /// A round ended within an election timeout: the configuration follows.
    CaughtUp,
    /// Too many rounds or election timeouts: the change is given up.
    Aborted,
}

impl CatchUpPhase {
    /// The `membership` record's phase.
    pub fn name(self) -> &'static str {
        match self {
            CatchUpPhase::Round => "catching_up",
            CatchUpPhase::CaughtUp => "caught_up",
            CatchUpPhase::Aborted => "catch_up_aborted",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Input<M = Message> {
    Timer(TimerKind),
    /// This many ticks of the node's ticker ([`Output::Ticker`]) have passed since the last
    /// `Ticks` (at least one).
    Ticks(u64),
    Message(Envelope<M>),
    /// A client's request number `req` (also its session's sequence number) and what it asks.
    ClientRequest {
        req: u64,
        op: Op,
    },
    /// All disk writes up to and including `seq` are durable.
    Persisted(u64),
    /// An operator asks the leader to hand leadership to `to` (dissertation §3.10). A node
    /// that does not lead, or does not implement transfer, ignores it.
    TransferLeadership {
        to: NodeId,
    },
    /// An operator asks the leader to change the voters to this set (a bit set, see
    /// [`voter_ids`]) by joint consensus (paper §6). A node that does not lead, is already
    /// changing, or does not implement membership changes ignores it.
    ChangeMembership {
        voters: u64,
    },
}

/// The durable part of a node: what survives a crash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: Term,
    pub voted_for: Option<NodeId>,
    /// The commit index of the last completed write ([`Output::Persist`]); 0 for nodes that
    /// keep it volatile.
    pub commit: Index,
    pub log: Log,
}

impl HardState {
    /// Makes one completed disk write (an `Output::Persist`) durable.
    pub fn apply_write(
        &mut self,
        term: Term,
        voted_for: Option<NodeId>,
        commit: Index,
        ops: &[LogOp],
    ) {
        self.term = term;
        self.voted_for = voted_for;
        self.commit = commit;
        for op in ops {
            self.log.apply_op(op);
        }
    }
}
