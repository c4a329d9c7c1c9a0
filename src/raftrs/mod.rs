//! tikv's raft crate (0.7) as a node under the simulator: its `RawNode` behind the node
//! interface ([`RaftNode`]), with nothing in the world that knows it.
//!
//! How the library is driven (`docs/TEST-YOUR-RAFT.md` is the guide, with this adapter as the
//! worked example):
//!
//! - **Ticks.** `RawNode` is tick-driven. The adapter asks the world for a ticker of
//!   [`Options::tick`] on the node's own (drifting) clock and, after every input, for a wake-up
//!   only at the next tick at which something happens: a follower's or candidate's election
//!   timeout, a leader's heartbeat or quorum check. The ticks in between are handed over, all
//!   at once, before the next input ([`Input::Ticks`]), so an idle tick is never an event and
//!   `election_elapsed` is exact whenever a message is handled.
//! - **Randomness.** raft-rs draws its randomized election timeout from an unseeded thread RNG
//!   whenever it resets (a new term, a new role). After every input and every tick the adapter
//!   sees whether a reset happened (term, role or timeout changed) and overrides the timeout
//!   with a draw from the node's seeded stream ([`Config::seed`]), uniform over
//!   [ceil(min / tick), floor(max / tick)] ticks of the scenario's `raft.election_timeout`. No
//!   unseeded draw survives to a tick, so a run replays.
//! - **Durability.** Each `Ready`'s entries and hard state (term, vote) become one
//!   [`Output::Persist`]; the entries go into the library's `MemStorage` at once (it must read
//!   them back before they are durable: the page cache), and the world's disk makes them
//!   durable when the write completes. `persisted_messages` (a follower's acknowledgements and
//!   vote grants, a candidate's vote requests) are held until then, and `on_persist_ready` is
//!   called only then. A crash loses the writes in flight; a restart builds a new `RawNode`
//!   from what was durable: raft-rs keeps its commit index in its hard state, so the adapter
//!   writes it with every change ([`Output::Persist`]'s `commit`), and a restart (applied at
//!   0) first applies what it had committed, configurations included.
//! - **Clients.** A request goes to `propose`. A leader appends it; a follower that knows the
//!   leader forwards it (raft-rs's behaviour), and answers the client when it applies the
//!   entry; a node that cannot propose (no known leader, a transfer in progress) answers
//!   `NotLeader` with the leader it knows of. Entries carry `(req, key, value)` in 20 bytes.
//!
//! - **Membership.** `Input::ChangeMembership` becomes one `ConfChangeV2` (automatic
//!   transition: one change is raft-rs's simple change, several a joint configuration it
//!   leaves by itself, paper §6); a configuration takes effect when applied
//!   ([`ConfigEffect::OnApply`]), and the checker judges raft-rs by that rule. A leader that
//!   applies a configuration without itself steps down (see `apply`).
//!
//! Not mapped: single-server changes as raftsim's node makes them, snapshots and log
//! compaction (the log is kept whole, as the built-in node's is), ReadIndex, and starting with
//! an established leader (raft-rs cannot lead a term without an election).

use std::collections::{BTreeSet, VecDeque};

use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry as RsEntry, EntryType, HardState as RsHardState, Message as RsMessage, MessageType,
};
use raft::storage::{GetEntriesContext, MemStorage};
use raft::{RawNode, StateRole};

use crate::base::rng::{Purpose, Rng};
use crate::base::time::SimDuration;
use crate::protocol::{
    Capabilities, ClientReply, Command, Config, ConfigEffect, Entry, Envelope, HardState, Index,
    Input, Log, LogOp, NodeId, Op, Output, RaftNode, Role, Term, WireMessage,
};

mod bugs;
pub use bugs::{Bug, Bugs};

/// The adapter's settings ([`RaftNode::Options`]), derived from the scenario's `raft` and
/// `raft_rs` sections (`scenario::Scenario::node_choice`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// One tick on the node's clock.
    pub tick: SimDuration,
    /// The randomized election timeout's range in ticks, both ends included.
    pub election_ticks: [usize; 2],
    /// A leader's heartbeat interval in ticks.
    pub heartbeat_ticks: usize,
    /// raft-rs's `max_size_per_msg`, in bytes: as many client entries as the scenario's
    /// `raft.max_entries_per_message`.
    pub max_size_per_msg: u64,
    /// raft-rs's `max_inflight_msgs`.
    pub max_inflight_msgs: usize,
    /// Mistakes planted in the adapter, none normally.
    pub bugs: Bugs,
}

impl Default for Options {
    fn default() -> Options {
        Options::new(
            SimDuration::from_millis(1),
            [SimDuration::from_millis(150), SimDuration::from_millis(300)],
            SimDuration::from_millis(50),
            64,
            256,
            Bugs::NONE,
        )
    }
}

/// The size of one client entry as raft-rs counts it for `max_size_per_msg`: a put's. A get's
/// entry is 8 bytes smaller and a CAS's 8 larger, so with a mix of them a message holds about
/// as many entries as the scenario's `max_entries_per_message`, not exactly.
fn client_entry_size() -> u64 {
    use protobuf::Message as _;
    let op = Op::Put {
        key: u32::MAX >> 8,
        value: u64::MAX >> 8,
    };
    let e = RsEntry {
        term: 1 << 20,
        index: 1 << 30,
        data: encode(u64::MAX >> 8, op).into(),
        ..Default::default()
    };
    e.compute_size() as u64
}

impl Options {
    /// The settings for a tick length, the scenario's election timeout and heartbeat, its
    /// entries per message, raft-rs's in-flight window and the bugs to plant. The durations
    /// must have passed [`validate`].
    pub fn new(
        tick: SimDuration,
        election_timeout: [SimDuration; 2],
        heartbeat: SimDuration,
        max_entries_per_message: usize,
        max_inflight_msgs: usize,
        bugs: Bugs,
    ) -> Options {
        let (election_ticks, heartbeat_ticks) = ticks(tick, election_timeout, heartbeat);
        Options {
            tick,
            election_ticks,
            heartbeat_ticks,
            max_size_per_msg: client_entry_size() * max_entries_per_message as u64,
            max_inflight_msgs,
            bugs,
        }
    }
}

/// (election timeout range in ticks, both ends included; heartbeat in ticks).
fn ticks(
    tick: SimDuration,
    [lo, hi]: [SimDuration; 2],
    heartbeat: SimDuration,
) -> ([usize; 2], usize) {
    let t = tick.0.max(1);
    let min = lo.0.div_ceil(t) as usize;
    let max = (hi.0 / t) as usize;
    let hb = ((heartbeat.0 + t / 2) / t).max(1) as usize;
    ([min, max], hb)
}

/// The most ticks an election timeout may last (the adapter keeps tick counts small enough
/// that a paused node's catch-up of ticks stays cheap).
pub const MAX_ELECTION_TICKS: u64 = 1_000_000;

/// The most ticks one node may be given over a run (`stop.at` / `raft_rs.tick`): each is a
/// call into raft-rs, about 25 ns when idle (5 idle nodes given 20 M ticks each ran in 2.5 s),
/// so 100 M ticks cost a few seconds per node.
pub const MAX_RUN_TICKS: u64 = 100_000_000;

/// Checks that the scenario's timing fits raft-rs at this tick: at least one tick in the
/// election range, a heartbeat shorter than the minimum election timeout (raft-rs requires
/// `heartbeat_tick < election_tick`). Returns (field, what is wrong and what is allowed).
pub fn validate(
    tick: SimDuration,
    election_timeout: [SimDuration; 2],
    heartbeat: SimDuration,
    max_inflight_msgs: usize,
) -> Result<(), (String, String)> {
    if tick.0 == 0 {
        return Err(("raft_rs.tick".into(), "a tick must be longer than 0".into()));
    }
    if election_timeout[1].0 / tick.0 > MAX_ELECTION_TICKS {
        return Err((
            "raft_rs.tick".into(),
            format!(
                "{tick} makes the maximum election timeout {} ticks: at most {MAX_ELECTION_TICKS}; use a longer tick",
                election_timeout[1].0 / tick.0
            ),
        ));
    }
    let ([min, max], hb) = ticks(tick, election_timeout, heartbeat);
    if min == 0 || min > max {
        return Err((
            "raft.election_timeout".into(),
            format!(
                "[{}, {}] holds no whole number of ticks of {tick} above 0 (raft_rs.tick): widen it or shorten the tick",
                election_timeout[0], election_timeout[1]
            ),
        ));
    }
    if hb >= min {
        return Err((
            "raft.heartbeat_interval".into(),
            format!(
                "{heartbeat} is {hb} ticks of {tick}, not fewer than the minimum election timeout's {min}: raft-rs needs heartbeat_tick < election_tick"
            ),
        ));
    }
    if max_inflight_msgs == 0 {
        return Err((
            "raft_rs.max_inflight_msgs".into(),
            "0 is not allowed: at least 1".into(),
        ));
    }
    Ok(())
}

/// A raft-rs message on raftsim's network.
#[derive(Clone, Debug, PartialEq)]
pub struct Msg(pub RsMessage);

impl WireMessage for Msg {
    fn kind(&self) -> &'static str {
        match self.0.get_msg_type() {
            MessageType::MsgRequestVote => "RequestVote",
            MessageType::MsgRequestVoteResponse => "RequestVoteResp",
            MessageType::MsgRequestPreVote => "PreVote",
            MessageType::MsgRequestPreVoteResponse => "PreVoteResp",
            MessageType::MsgAppend => "AppendEntries",
            MessageType::MsgAppendResponse => "AppendEntriesResp",
            MessageType::MsgHeartbeat => "Heartbeat",
            MessageType::MsgHeartbeatResponse => "HeartbeatResp",
            MessageType::MsgTimeoutNow => "TimeoutNow",
            MessageType::MsgPropose => "Propose",
            MessageType::MsgTransferLeader => "TransferLeader",
            MessageType::MsgReadIndex => "ReadIndex",
            MessageType::MsgReadIndexResp => "ReadIndexResp",
            MessageType::MsgSnapshot => "Snapshot",
            _ => "Other",
        }
    }
    fn term(&self) -> Term {
        self.0.term
    }
    fn vote_granted(&self) -> Option<bool> {
        (self.0.get_msg_type() == MessageType::MsgRequestVoteResponse).then_some(!self.0.reject)
    }
    fn leader_only(&self) -> bool {
        matches!(
            self.0.get_msg_type(),
            MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot
        )
    }
    fn vote_request(&self) -> Option<crate::protocol::VoteRequest> {
        let pre_vote = match self.0.get_msg_type() {
            MessageType::MsgRequestVote => false,
            MessageType::MsgRequestPreVote => true,
            _ => return None,
        };
        Some(crate::protocol::VoteRequest {
            pre_vote,
            last_log_index: self.0.index,
            last_log_term: self.0.log_term,
        })
    }
    fn pre_vote_granted(&self) -> Option<bool> {
        (self.0.get_msg_type() == MessageType::MsgRequestPreVoteResponse).then_some(!self.0.reject)
    }
}

/// A client command in an entry's data: request id, key, value (little-endian).
/// A client request as a raft-rs entry's data, little-endian: `req`, `key`, then `value` for a
/// put (20 bytes), nothing more for a get (12 bytes), `expect` and `value` for a CAS (28
/// bytes). The length tells them apart; an empty entry is a no-op.
fn encode(req: u64, op: Op) -> Vec<u8> {
    let mut d = Vec::with_capacity(28);
    d.extend_from_slice(&req.to_le_bytes());
    d.extend_from_slice(&op.key().to_le_bytes());
    match op {
        Op::Get { .. } => {}
        Op::Put { value, .. } => d.extend_from_slice(&value.to_le_bytes()),
        Op::Cas { expect, value, .. } => {
            d.extend_from_slice(&expect.to_le_bytes());
            d.extend_from_slice(&value.to_le_bytes());
        }
    }
    d
}

/// The client request in an entry's data ([`encode`]), if its length is one of a request's.
fn decode(d: &[u8]) -> Option<Command> {
    let u64_at = |at: usize| u64::from_le_bytes(d[at..at + 8].try_into().expect("8 bytes"));
    let (req, key) = match d.len() {
        12 | 20 | 28 => (
            u64_at(0),
            u32::from_le_bytes(d[8..12].try_into().expect("4 bytes")),
        ),
        _ => return None,
    };
    let op = match d.len() {
        12 => Op::Get { key },
        20 => Op::Put {
            key,
            value: u64_at(12),
        },
        _ => Op::Cas {
            key,
            expect: u64_at(12),
            value: u64_at(20),
        },
    };
    Some(Command::client(req, op))
}

/// A configuration as the world writes it: (old, new) voter bit sets, `old` 0 unless joint
/// (see [`Command::Config`]).
type Conf = [u64; 2];

fn mask_of(ids: &[u64]) -> u64 {
    ids.iter().fold(0, |m, &id| m | 1u64 << (id - 1))
}

fn ids_of(mask: u64) -> Vec<u64> {
    crate::protocol::voter_ids(mask)
        .into_iter()
        .map(u64::from)
        .collect()
}

fn conf_change(changes: &[(ConfChangeType, u64)]) -> ConfChangeV2 {
    let mut cc = ConfChangeV2::default();
    cc.set_transition(ConfChangeTransition::Auto);
    for &(t, id) in changes {
        let mut c = ConfChangeSingle::default();
        c.set_change_type(t);
        c.node_id = id;
        cc.mut_changes().push(c);
    }
    cc
}

/// The changes that take voters `from` to `to`: additions, then removals, in id order.
fn diff(from: u64, to: u64) -> Vec<(ConfChangeType, u64)> {
    (ids_of(to & !from)
        .into_iter()
        .map(|id| (ConfChangeType::AddNode, id)))
    .chain(
        ids_of(from & !to)
            .into_iter()
            .map(|id| (ConfChangeType::RemoveNode, id)),
    )
    .collect()
}

/// The configuration a `ConfChangeV2` makes of `prev` (raft-rs's own rule): an empty change
/// leaves a joint configuration; one change with the automatic transition is a "simple"
/// change, straight to the new voters (dissertation §4.1); more enter a joint configuration
/// (paper §6), which raft-rs leaves by itself once it is applied.
fn conf_after(prev: Conf, cc: &ConfChangeV2) -> Conf {
    if cc.leave_joint() {
        return [0, prev[1]];
    }
    let mut new = prev[1];
    for c in cc.get_changes() {
        let bit = 1u64 << (c.node_id - 1);
        match c.get_change_type() {
            ConfChangeType::AddNode => new |= bit,
            ConfChangeType::RemoveNode | ConfChangeType::AddLearnerNode => new &= !bit,
        }
    }
    match cc.enter_joint() {
        Some(_) => [prev[1], new],
        None => [0, new],
    }
}

fn parse_conf_change(e: &RsEntry) -> ConfChangeV2 {
    use protobuf::Message as _;
    ConfChangeV2::parse_from_bytes(e.get_data())
        .unwrap_or_else(|err| panic!("entry {}: not a ConfChangeV2: {err}", e.index))
}

/// The command of a raft-rs entry, in the world's vocabulary; `prev` is the configuration of
/// the log before it.
fn command_of(e: &RsEntry, prev: Conf) -> Command {
    let d = e.get_data();
    match e.get_entry_type() {
        EntryType::EntryNormal if d.is_empty() => Command::Noop,
        EntryType::EntryNormal if decode(d).is_some() => decode(d).expect("checked"),
        EntryType::EntryConfChangeV2 => {
            let [old, new] = conf_after(prev, &parse_conf_change(e));
            Command::Config { old, new }
        }
        // The adapter proposes nothing else: anything else is the adapter's bug.
        t => panic!(
            "raft-rs entry {} of type {t:?} with {} bytes: the adapter never proposes one",
            e.index,
            d.len()
        ),
    }
}

fn to_world(e: &RsEntry, prev: Conf) -> Entry {
    Entry {
        term: e.term,
        command: command_of(e, prev),
    }
}

/// The raft-rs entry that a durable entry was written from; `prev` is the configuration of the
/// log before it.
fn to_raft(index: u64, e: &Entry, prev: Conf) -> RsEntry {
    use protobuf::Message as _;
    let (entry_type, data) = match e.command {
        Command::Noop => (EntryType::EntryNormal, Vec::new()),
        Command::Put { .. } | Command::Get { .. } | Command::Cas { .. } => {
            let (req, op) = e.command.request().expect("a client command");
            (EntryType::EntryNormal, encode(req, op))
        }
        Command::Config { old, new } => {
            let cc = match (prev, old) {
                ([p, _], 0) if p != 0 => conf_change(&[]),
                (_, 0) => conf_change(&diff(prev[1], new)),
                (_, old) => conf_change(&diff(old, new)),
            };
            let data = cc.write_to_bytes().expect("a ConfChangeV2 serialises");
            (EntryType::EntryConfChangeV2, data)
        }
    };
    RsEntry {
        entry_type,
        term: e.term,
        index,
        data: data.into(),
        ..Default::default()
    }
}

/// A `Ready` handled but not yet acknowledged: the write it waits for and the messages that
/// may go only once that write is durable.
struct Waiting {
    seq: u64,
    number: u64,
    messages: Vec<RsMessage>,
}

/// tikv's raft crate as a raftsim node (see the module doc).
pub struct RaftRs {
    id: NodeId,
    raw: RawNode<MemStorage>,
    opts: Options,
    rng: Rng,
    /// What the last override of the election timeout saw, to notice the next reset.
    seen_term: u64,
    seen_state: StateRole,
    seen_timeout: usize,
    /// The last write issued, the last one durable, and the term and vote it carried.
    write_seq: u64,
    durable_seq: u64,
    written_term: Term,
    written_vote: Option<NodeId>,
    written_commit: u64,
    /// The index of the last entry written (issued, durable or not).
    written_last: u64,
    waiting: VecDeque<Waiting>,
    /// Client requests this node accepted, answered when it applies them.
    clients: BTreeSet<u64>,
    /// The voters before any configuration entry.
    initial_voters: u64,
    /// The configuration entries of the written log, in order: (index, configuration).
    log_configs: Vec<(u64, Conf)>,
}

fn role_of(s: StateRole) -> Role {
    match s {
        StateRole::Follower => Role::Follower,
        StateRole::PreCandidate => Role::PreCandidate,
        StateRole::Candidate => Role::Candidate,
        StateRole::Leader => Role::Leader,
    }
}

impl RaftRs {
    /// The configuration of the written log before index `index`.
    fn conf_before(&self, index: u64) -> Conf {
        self.log_configs
            .iter()
            .rev()
            .find(|(i, _)| *i < index)
            .map_or([0, self.initial_voters], |&(_, c)| c)
    }

    /// The world's form of an entry of the written log.
    fn world_entry(&self, e: &RsEntry) -> Entry {
        if let Some(&(_, [old, new])) = self.log_configs.iter().find(|(i, _)| *i == e.index) {
            return Entry {
                term: e.term,
                command: Command::Config { old, new },
            };
        }
        to_world(e, self.conf_before(e.index))
    }

    /// Overrides raft-rs's own draw of the election timeout after a reset (see the module
    /// doc).
    fn reseed(&mut self) {
        let r = &self.raw.raft;
        if r.term == self.seen_term
            && r.state == self.seen_state
            && r.randomized_election_timeout() == self.seen_timeout
        {
            return;
        }
        let [lo, hi] = self.opts.election_ticks;
        let t = self.rng.range_inclusive(lo as u64, hi as u64) as usize;
        self.raw.raft.set_randomized_election_timeout(t);
        self.seen_term = self.raw.raft.term;
        self.seen_state = self.raw.raft.state;
        self.seen_timeout = t;
    }

    /// Handles every pending `Ready`, and acknowledges what has become durable.
    fn drain(&mut self, out: &mut Vec<Output<Msg>>) {
        loop {
            self.release(out);
            if !self.raw.has_ready() {
                break;
            }
            self.handle_ready(out);
        }
        // Applying a configuration that removes a leader steps it down (`apply`): a reset
        // whose timeout raft-rs drew itself, overridden before any tick or wake-up reads it.
        self.reseed();
    }

    fn send(&self, m: RsMessage, out: &mut Vec<Output<Msg>>) {
        out.push(Output::Send(Envelope {
            from: self.id,
            to: m.to as NodeId,
            msg: Msg(m),
        }));
    }

    fn handle_ready(&mut self, out: &mut Vec<Output<Msg>>) {
        let mut rd = self.raw.ready();
        for m in rd.take_messages() {
            self.send(m, out);
        }
        let entries = rd.take_entries();
        let hs: Option<RsHardState> = rd.hs().cloned();
        let must_sync = rd.must_sync();
        let number = rd.number();
        let held = rd.take_persisted_messages();
        let committed = rd.take_committed_entries();
        // Readable by the library at once (it reads its log from storage after
        // `advance_append_async`); durable only when the world's disk says so.
        {
            let store = self.raw.store().clone();
            let mut w = store.wl();
            if !entries.is_empty() {
                w.append(&entries)
                    .expect("raft-rs hands out entries that fit its log");
            }
            if let Some(hs) = &hs {
                w.set_hardstate(hs.clone());
            }
        }
        let (term, vote, commit) = hs.as_ref().map_or(
            (self.written_term, self.written_vote, self.written_commit),
            |h| (h.term, (h.vote != 0).then_some(h.vote as NodeId), h.commit),
        );
        // Every change of the hard state is written, as raft-rs asks of a Ready (`must_sync`
        // says only whether it needs an fsync): its commit index too, so that a restart
        // applies what it had committed, configurations included, before it does anything.
        if !entries.is_empty()
            || (term, vote, commit) != (self.written_term, self.written_vote, self.written_commit)
        {
            let mut ops = Vec::with_capacity(2);
            if let Some(first) = entries.first() {
                if first.index <= self.written_last {
                    ops.push(LogOp::Truncate { from: first.index });
                    self.log_configs.retain(|(i, _)| *i < first.index);
                }
                self.written_last = entries.last().expect("not empty").index;
                let mut prev = self.conf_before(first.index);
                let mut world = Vec::with_capacity(entries.len());
                for e in &entries {
                    let w = to_world(e, prev);
                    if let Command::Config { old, new } = w.command {
                        prev = [old, new];
                        self.log_configs.push((e.index, prev));
                    }
                    world.push(w);
                }
                ops.push(LogOp::Append { entries: world });
            }
            self.write_seq += 1;
            self.written_term = term;
            self.written_vote = vote;
            self.written_commit = commit;
            out.push(Output::Persist {
                seq: self.write_seq,
                term,
                voted_for: vote,
                commit,
                ops,
            });
        }
        // All of a Ready's applies together, then the client replies: the world reads the
        // commit index a node reached from each run of applies (a reply between two applies
        // would split one commit into several, each judged after the configuration entries
        // applied before it).
        let mut replies = Vec::new();
        for e in &committed {
            self.apply(e, out, &mut replies);
        }
        out.append(&mut replies);
        self.raw.advance_append_async(rd);
        self.raw.advance_apply();
        // Planted bug `drop-must-sync`: a Ready that must be synced is treated as written
        // once issued, as if it needed no sync.
        let as_durable = self.opts.bugs.has(Bug::DropMustSync) && must_sync;
        let (now, later) = if as_durable || self.opts.bugs.has(Bug::PersistedMessagesAtOnce) {
            // Planted bug `persisted-messages-at-once`: acknowledgements and votes go before
            // the write they report is durable.
            (held, Vec::new())
        } else {
            (Vec::new(), held)
        };
        for m in now {
            self.send(m, out);
        }
        if as_durable || self.opts.bugs.has(Bug::AckBeforeDurable) {
            // Planted bug `ack-before-durable`: the library is told the Ready is persisted
            // as soon as the write is issued.
            self.raw.on_persist_ready(number);
        }
        self.waiting.push_back(Waiting {
            seq: self.write_seq,
            number,
            messages: later,
        });
    }

    /// Acknowledges every handled `Ready` whose write is durable and sends what it held.
    fn release(&mut self, out: &mut Vec<Output<Msg>>) {
        let mut last = None;
        while self
            .waiting
            .front()
            .is_some_and(|w| w.seq <= self.durable_seq)
        {
            let w = self.waiting.pop_front().expect("looked at");
            for m in w.messages {
                self.send(m, out);
            }
            last = Some(w.number);
        }
        if let Some(n) = last {
            self.raw.on_persist_ready(n);
        }
    }

    fn apply(&mut self, e: &RsEntry, out: &mut Vec<Output<Msg>>, replies: &mut Vec<Output<Msg>>) {
        let entry = self.world_entry(e);
        if e.get_entry_type() == EntryType::EntryConfChangeV2 {
            // raft-rs's rule: the configuration takes effect once applied.
            if let Ok(cs) = self.raw.apply_conf_change(&parse_conf_change(e)) {
                let removed = !cs.get_voters().contains(&(self.id as u64))
                    && !cs.get_voters_outgoing().contains(&(self.id as u64));
                self.raw.store().wl().set_conf_state(cs);
                if removed && self.raw.raft.state == StateRole::Leader {
                    // A leader not in C_new steps down once C_new is committed (paper §6).
                    // raft-rs 0.7 keeps leading (raft.rs `post_conf_change`: "TODO: step
                    // down") and panics at its next commit, where it looks up its own
                    // progress (`maybe_commit`); its users transfer leadership before they
                    // remove a leader, and etcd's raft has `StepDownOnRemoval`. The adapter
                    // steps it down, in its term, as that option does.
                    let term = self.raw.raft.term;
                    self.raw.raft.become_follower(term, raft::INVALID_ID);
                }
            }
        }
        out.push(Output::Apply {
            index: e.index,
            entry,
        });
        if let Some((req, _)) = entry.command.request() {
            if self.clients.remove(&req) {
                replies.push(Output::ClientReply {
                    req,
                    reply: ClientReply::Committed { index: e.index },
                });
            }
        }
    }

    /// Asks to be woken at the next tick at which raft-rs would do something.
    fn wake(&self, out: &mut Vec<Output<Msg>>) {
        let r = &self.raw.raft;
        let ticks = match r.state {
            StateRole::Leader => {
                let heartbeat = r.heartbeat_timeout().saturating_sub(r.heartbeat_elapsed());
                let quorum = r.election_timeout().saturating_sub(r.election_elapsed);
                heartbeat.min(quorum)
            }
            _ if !r.promotable() => r.election_timeout(),
            _ => r
                .randomized_election_timeout()
                .saturating_sub(r.election_elapsed),
        };
        out.push(Output::WakeAfterTicks(ticks.max(1) as u64));
    }

    /// An operator's membership change, as raft-rs takes one: a `ConfChangeV2` from the
    /// voters the leader uses now to `voters`, automatic transition (one change: a simple
    /// change; more: joint consensus, left by raft-rs itself). Not leading, or a change still
    /// joint: nothing (raft-rs itself turns a second pending change into an empty entry).
    fn change_membership(&mut self, voters: u64) {
        if self.raw.raft.state != StateRole::Leader {
            return;
        }
        let cs = self.raw.raft.prs().conf().to_conf_state();
        if !cs.get_voters_outgoing().is_empty() {
            return;
        }
        let changes = diff(mask_of(cs.get_voters()), voters);
        if changes.is_empty() {
            return;
        }
        let _ = self
            .raw
            .propose_conf_change(Vec::new(), conf_change(&changes));
    }

    /// The current term, as raft-rs holds it in memory. This and the next three are for a
    /// harness that drives the node by hand (`tests/interaction`); the world reads nothing but
    /// outputs.
    pub fn term(&self) -> Term {
        self.raw.raft.term
    }

    /// The vote of the current term, in memory.
    pub fn voted_for(&self) -> Option<NodeId> {
        let v = self.raw.raft.vote;
        (v != 0).then_some(v as NodeId)
    }

    /// The commit index raft-rs knows.
    pub fn commit_index(&self) -> Index {
        self.raw.raft.raft_log.committed
    }

    /// The whole log in memory (stable and unstable entries), in the world's form.
    pub fn log(&self) -> Log {
        let entries = self
            .raw
            .raft
            .raft_log
            .entries(1, None, GetEntriesContext::empty(false))
            .expect("the adapter keeps the whole log");
        Log::from_entries(entries.iter().map(|e| self.world_entry(e)).collect())
    }

    /// After any input: override a fresh timeout, handle what is ready, ask for the next tick.
    fn after(&mut self, out: &mut Vec<Output<Msg>>) {
        self.reseed();
        self.drain(out);
        self.wake(out);
    }
}

impl RaftNode for RaftRs {
    type Msg = Msg;
    type Options = Options;
    const NAME: &'static str = "raft-rs";
    const CAPABILITIES: Capabilities = Capabilities {
        config_effect: ConfigEffect::OnApply,
        bootstrap_leader: false,
        pre_vote: true,
        check_quorum: true,
        // Its stickiness (a follower ignores votes while it heard from a leader within the
        // election timeout) is part of check_quorum.
        leader_stickiness: false,
        transfer: true,
        membership_joint: true,
        membership_single_server: false,
        initial_log: true,
        read_index: false,
        lease_reads: false,
    };

    fn restart(cfg: &Config, opts: &Options, hard: HardState) -> RaftRs {
        let everyone = if cfg.cluster_size >= 64 {
            u64::MAX
        } else {
            (1u64 << cfg.cluster_size) - 1
        };
        let initial_voters = match cfg.initial_voters {
            0 => everyone,
            v => v,
        };
        // Servers outside the initial voters start as learners (they take entries, never
        // stand), until a configuration adds them.
        let storage = MemStorage::new_with_conf_state(ConfState::from((
            ids_of(initial_voters),
            ids_of(everyone & !initial_voters),
        )));
        let mut log_configs = Vec::new();
        // What was durably known committed; applied restarts at 0, so the first Ready applies
        // the log up to it again (the state machine is rebuilt), configurations included.
        let commit = hard.commit.min(hard.log.last_index());
        {
            let mut w = storage.wl();
            let mut prev = [0, initial_voters];
            let entries: Vec<RsEntry> = (hard.log.entries().iter().enumerate())
                .map(|(i, e)| {
                    let r = to_raft(i as u64 + 1, e, prev);
                    if let Command::Config { old, new } = e.command {
                        prev = [old, new];
                        log_configs.push((i as u64 + 1, prev));
                    }
                    r
                })
                .collect();
            w.append(&entries).expect("a durable log starts at index 1");
            w.set_hardstate(RsHardState {
                term: hard.term,
                vote: hard.voted_for.unwrap_or(0) as u64,
                commit,
                ..Default::default()
            });
        }
        let [lo, hi] = opts.election_ticks;
        let config = raft::Config {
            id: cfg.id as u64,
            election_tick: lo,
            heartbeat_tick: opts.heartbeat_ticks,
            min_election_tick: lo,
            // raft-rs draws from [min, max): one past the last tick allowed.
            max_election_tick: hi + 1,
            max_size_per_msg: opts.max_size_per_msg,
            max_inflight_msgs: opts.max_inflight_msgs,
            check_quorum: cfg.check_quorum,
            pre_vote: cfg.pre_vote,
            applied: 0,
            ..Default::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&config, storage, &logger)
            .expect("the scenario's settings were checked against raft-rs's (raftrs::validate)");
        let mut node = RaftRs {
            id: cfg.id,
            raw,
            opts: opts.clone(),
            rng: Rng::stream(cfg.seed, Purpose::NodeSeed, 0),
            seen_term: u64::MAX,
            seen_state: StateRole::Follower,
            seen_timeout: 0,
            write_seq: 0,
            durable_seq: 0,
            written_term: hard.term,
            written_vote: hard.voted_for,
            written_commit: commit,
            written_last: hard.log.last_index(),
            waiting: VecDeque::new(),
            clients: BTreeSet::new(),
            initial_voters,
            log_configs,
        };
        node.reseed();
        node
    }

    fn start(&mut self, out: &mut Vec<Output<Msg>>) {
        out.push(Output::Ticker {
            period: self.opts.tick,
        });
        self.after(out);
    }

    fn bootstrap_leader(&mut self, _out: &mut Vec<Output<Msg>>) {
        // Refused when the scenario is validated (Capabilities::bootstrap_leader).
        panic!("raft-rs cannot start as an established leader");
    }

    fn step(&mut self, input: Input<Msg>, out: &mut Vec<Output<Msg>>) {
        match input {
            Input::Ticks(n) => {
                for _ in 0..n {
                    self.raw.tick();
                    self.reseed();
                    if self.raw.has_ready() {
                        self.drain(out);
                    }
                }
            }
            Input::Message(env) => {
                // A message raft-rs refuses (a response from a peer it does not know) changes
                // nothing.
                let _ = self.raw.step(env.msg.0);
            }
            Input::ClientRequest { req, op } => {
                // A server outside its own configuration (removed, paper §6) takes no
                // requests: forwarded, it would wait for entries it is no longer sent.
                let member = self.raw.raft.prs().conf().voters().contains(self.id as u64)
                    || self
                        .raw
                        .raft
                        .prs()
                        .conf()
                        .learners()
                        .contains(&(self.id as u64));
                let proposed = if member {
                    self.raw.propose(Vec::new(), encode(req, op))
                } else {
                    Err(raft::Error::ProposalDropped)
                };
                match proposed {
                    Ok(()) => {
                        self.clients.insert(req);
                    }
                    Err(_) => {
                        let hint = self.raw.raft.leader_id;
                        out.push(Output::ClientReply {
                            req,
                            reply: ClientReply::NotLeader {
                                hint: (hint != 0 && hint != self.id as u64)
                                    .then_some(hint as NodeId),
                            },
                        });
                    }
                }
            }
            Input::Persisted(seq) => self.durable_seq = self.durable_seq.max(seq),
            Input::TransferLeadership { to } => self.raw.transfer_leader(to as u64),
            Input::ChangeMembership { voters } => self.change_membership(voters),
            Input::Timer(_) => {}
        }
        self.after(out);
    }

    fn role(&self) -> Role {
        role_of(self.raw.raft.state)
    }

    fn leader(&self) -> Option<NodeId> {
        let l = self.raw.raft.leader_id;
        (l != 0).then_some(l as NodeId)
    }
    // `greatest_election_timeout` is left unjudged: raft-rs declines to stand while a
    // committed configuration change is not yet applied (and counts its timeout again), a
    // state the world does not see in what the node tells it.
    /// raft-rs resets its elapsed ticks to 0 between ticks and stands once they reach the
    /// drawn timeout, at least `election_ticks[0]`: so at least that many ticks less one.
    fn least_election_timeout(_cfg: &Config, opts: &Options) -> Option<SimDuration> {
        let ticks = opts.election_ticks[0].saturating_sub(1) as u64;
        Some(SimDuration(opts.tick.0.saturating_mul(ticks)))
    }
    /// raft-rs checks its quorum (`check_quorum`) each time its elapsed ticks reach the
    /// election timeout, over the peers active since the last check: two timeouts at most;
    /// the bound is three of the longest.
    fn check_quorum_within(cfg: &Config, opts: &Options) -> Option<SimDuration> {
        let ticks = opts.election_ticks[1] as u64 + 1;
        cfg.check_quorum
            .then(|| SimDuration(opts.tick.0.saturating_mul(ticks).saturating_mul(3)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn election_ticks_cover_the_range_at_tick_resolution() {
        let ms = SimDuration::from_millis;
        assert_eq!(ticks(ms(1), [ms(150), ms(300)], ms(50)), ([150, 300], 50));
        assert_eq!(ticks(ms(10), [ms(155), ms(300)], ms(50)), ([16, 30], 5));
        assert_eq!(ticks(ms(1), [ms(150), ms(151)], ms(50)), ([150, 151], 50));
        assert!(validate(ms(10), [ms(151), ms(159)], ms(5), 256).is_err());
        assert!(validate(ms(1), [ms(150), ms(300)], ms(150), 256).is_err());
        assert!(validate(ms(1), [ms(150), ms(300)], ms(50), 256).is_ok());
    }

    #[test]
    fn commands_round_trip_through_entry_data() {
        for c in [
            Command::Noop,
            Command::Put {
                req: 7,
                key: 3,
                value: u64::MAX,
            },
            Command::Get { req: 8, key: 1 },
            Command::Cas {
                req: 9,
                key: 2,
                expect: 5,
                value: 6,
            },
        ] {
            let e = Entry {
                term: 4,
                command: c,
            };
            assert_eq!(to_world(&to_raft(9, &e, [0, 7]), [0, 7]), e);
        }
    }
}
