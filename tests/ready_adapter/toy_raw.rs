//! `ToyRaw`: a toy Raft library with the surface of tikv's `raft::RawNode`, for
//! `tests/ready_adapter.rs`.
//!
//! Inside it is the built-in `raftsim::node::Node`, so its Raft is correct; outside it shows
//! only what a RawNode shows: `tick`, `step`, `propose`, `has_ready`, `ready`,
//! `advance_append_async`, `on_persist_ready`, `advance_apply`, and eraftpb-shaped messages,
//! entries, soft and hard state. Nothing of the simulator's interface (`Input`, `Output`,
//! timers by duration, write sequence numbers, client replies) leaks out.
//!
//! How the wrapped node's outputs become a [`Ready`]:
//! - `SetTimer`/`CancelTimer` become tick deadlines (`election_tick`, `heartbeat_tick`); the
//!   library has no RNG: its election timeout is a fixed number of ticks, a pinned timeout (see
//!   the adapter for where randomness comes from);
//! - `Persist` becomes [`Ready::hs`] (term, vote, commit) and [`Ready::entries`] in raft-rs form
//!   (entries carry their index; the first one overwrites the log from there);
//! - `Send` becomes [`Ready::messages`] when leading (dissertation §10.2.1) and
//!   [`Ready::persisted_messages`] otherwise; what the node releases because a write became
//!   durable ([`ToyRaw::on_persist_ready`]) is sendable at once and goes to `messages`;
//! - `Apply` becomes [`Ready::committed_entries`];
//! - `ClientReply` and `Note` are dropped: a RawNode knows no clients (the application answers
//!   them from committed entries) and logs its reasons instead.
//!
//! The wrapped node still holds its own replies until `on_persist_ready` reports the write they
//! depend on (it is the built-in node); `persisted_messages` is the RawNode contract on top.

use std::collections::VecDeque;

use raftsim::node::Node;
use raftsim::protocol::{
    Command, Config, Entry, Envelope, HardState as DiskState, Index, Input, LogOp, Message, Output,
    Role, TimerKind,
};

/// `raft::StateRole` (without `PreCandidate`: the wrapped node has no pre-vote).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateRole {
    Follower,
    Candidate,
    Leader,
}

/// `raft::SoftState`: volatile, need not be persisted. `leader_id` 0 means none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    pub leader_id: u64,
    pub raft_state: StateRole,
}

/// `eraftpb::HardState`. `vote` 0 means none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HardState {
    pub term: u64,
    pub vote: u64,
    pub commit: u64,
}

/// `eraftpb::Entry`, with a typed command where eraftpb has bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToyEntry {
    pub index: u64,
    pub term: u64,
    pub data: Command,
}

/// `eraftpb::MessageType`, the four the wrapped node speaks, with eraftpb's names.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    MsgRequestVote,
    MsgRequestVoteResponse,
    MsgAppend,
    MsgAppendResponse,
}

/// `eraftpb::Message`: one flat struct whose fields mean different things per type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToyMessage {
    pub msg_type: MessageType,
    pub from: u64,
    pub to: u64,
    pub term: u64,
    /// MsgRequestVote: last log term; MsgAppend: term of the entry at `index`.
    pub log_term: u64,
    /// MsgRequestVote: last log index; MsgAppend: index before `entries`; MsgAppendResponse:
    /// the last index matched.
    pub index: u64,
    pub entries: Vec<ToyEntry>,
    pub commit: u64,
    pub reject: bool,
    /// MsgAppendResponse with `reject`: the follower's last index.
    pub reject_hint: u64,
}

/// `raft::Error`, reduced to the one error this toy returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    ProposalDropped,
}

/// `raft::Config`, reduced: the wrapped node's settings (id, cluster size, batching, candidate
/// persistence; its durations are not used) and the timeouts in ticks.
#[derive(Clone, Debug)]
pub struct ToyConfig {
    pub raft: Config,
    pub election_tick: u64,
    pub heartbeat_tick: u64,
}

/// `raft::Ready`. Handle it in this order: persist `hs` and `entries` (when [`Ready::must_sync`]),
/// send `messages` at once, send `persisted_messages` once the write is durable, apply
/// `committed_entries`; then [`ToyRaw::advance_append_async`], and [`ToyRaw::on_persist_ready`]
/// with [`Ready::number`] when durable.
#[derive(Debug)]
pub struct Ready {
    number: u64,
    pub ss: Option<SoftState>,
    pub hs: Option<HardState>,
    pub entries: Vec<ToyEntry>,
    pub messages: Vec<ToyMessage>,
    pub persisted_messages: Vec<ToyMessage>,
    pub committed_entries: Vec<ToyEntry>,
    must_sync: bool,
}

impl Ready {
    pub fn number(&self) -> u64 {
        self.number
    }
    /// Whether there is anything to make durable: term or vote changed, or entries. A change
    /// of `commit` alone need not be synced.
    pub fn must_sync(&self) -> bool {
        self.must_sync
    }
}

pub struct ToyRaw {
    node: Node,
    election_tick: u64,
    heartbeat_tick: u64,
    /// Ticks so far, and each timer's deadline in ticks (by `TimerKind as usize`).
    ticks: u64,
    deadline: [Option<u64>; 2],
    // What the node produced since the last `ready`.
    msgs: Vec<ToyMessage>,
    persisted_msgs: Vec<ToyMessage>,
    committed: Vec<ToyEntry>,
    /// The first log index the unreported writes changed, the log length they leave, and the
    /// node's sequence number of the last of them.
    unstable_from: Option<Index>,
    unstable_len: Index,
    unstable_seq: Option<u64>,
    prev_ss: SoftState,
    prev_hs: HardState,
    max_number: u64,
    /// Readies handed out and not yet reported durable: (number, node write they carry).
    records: VecDeque<(u64, Option<u64>)>,
    durable_node_seq: u64,
}

impl ToyRaw {
    /// `RawNode::new`: a follower built from what storage holds.
    pub fn new(cfg: ToyConfig, disk: DiskState) -> ToyRaw {
        assert!(cfg.election_tick > cfg.heartbeat_tick && cfg.heartbeat_tick > 0);
        let prev_hs = HardState {
            term: disk.term,
            vote: disk.voted_for.map_or(0, u64::from),
            commit: 0,
        };
        let unstable_len = disk.log.last_index();
        let mut t = ToyRaw {
            node: Node::new(cfg.raft, disk),
            election_tick: cfg.election_tick,
            heartbeat_tick: cfg.heartbeat_tick,
            ticks: 0,
            deadline: [None; 2],
            msgs: Vec::new(),
            persisted_msgs: Vec::new(),
            committed: Vec::new(),
            unstable_from: None,
            unstable_len,
            unstable_seq: None,
            prev_ss: SoftState {
                leader_id: 0,
                raft_state: StateRole::Follower,
            },
            prev_hs,
            max_number: 0,
            records: VecDeque::new(),
            durable_node_seq: 0,
        };
        let mut out = Vec::new();
        t.node.start(&mut out);
        t.absorb(out, false);
        t
    }

    /// Not part of RawNode (raft-rs cannot lead its current term without a new election):
    /// lead at once, for scenarios that start from an established cluster.
    pub fn bootstrap_leader(&mut self) {
        let mut out = Vec::new();
        self.node.bootstrap_leader(&mut out);
        self.absorb(out, false);
    }

    /// `RawNode::tick`: one tick of the logical clock. Returns whether a Ready may be needed.
    pub fn tick(&mut self) -> bool {
        self.ticks += 1;
        for kind in [TimerKind::Election, TimerKind::Heartbeat] {
            if self.deadline[kind as usize].is_some_and(|d| d <= self.ticks) {
                self.deadline[kind as usize] = None;
                self.drive(Input::Timer(kind), false);
            }
        }
        self.has_ready()
    }

    /// `RawNode::step`.
    pub fn step(&mut self, m: ToyMessage) -> Result<(), Error> {
        let env = from_toy(m);
        self.drive(Input::Message(env), false);
        Ok(())
    }

    /// `RawNode::propose`, with proposal forwarding disabled: dropped unless leading. On
    /// success the entry is at [`ToyRaw::last_index`].
    pub fn propose(&mut self, data: Command) -> Result<(), Error> {
        let Command::Put { req, key, value } = data else {
            panic!("only Put commands are proposed");
        };
        if self.node.role() != Role::Leader {
            return Err(Error::ProposalDropped);
        }
        self.drive(Input::ClientRequest { req, key, value }, false);
        Ok(())
    }

    /// `raft_log.last_index()`.
    pub fn last_index(&self) -> u64 {
        self.node.log().last_index()
    }

    /// `RawNode::has_ready`.
    pub fn has_ready(&self) -> bool {
        !self.msgs.is_empty()
            || !self.persisted_msgs.is_empty()
            || !self.committed.is_empty()
            || self.unstable_from.is_some()
            || self.unstable_seq.is_some()
            || self.soft_state() != self.prev_ss
            || self.hard_state() != self.prev_hs
    }

    /// `RawNode::ready`.
    pub fn ready(&mut self) -> Ready {
        self.max_number += 1;
        let ss = self.soft_state();
        let hs = self.hard_state();
        let entries = match self.unstable_from.take() {
            None => Vec::new(),
            Some(from) => {
                let log = self.node.log();
                assert_eq!(self.unstable_len, log.last_index());
                assert!(
                    from <= self.unstable_len,
                    "a truncation without an append has no raft-rs form"
                );
                (from..=self.unstable_len)
                    .map(|i| {
                        let e = log.get(i).expect("in the log");
                        ToyEntry {
                            index: i,
                            term: e.term,
                            data: e.command,
                        }
                    })
                    .collect()
            }
        };
        let must_sync =
            !entries.is_empty() || (hs.term, hs.vote) != (self.prev_hs.term, self.prev_hs.vote);
        self.records
            .push_back((self.max_number, self.unstable_seq.take()));
        Ready {
            number: self.max_number,
            ss: (ss != self.prev_ss).then_some(ss),
            hs: (hs != self.prev_hs).then_some(hs),
            entries,
            messages: std::mem::take(&mut self.msgs),
            persisted_messages: std::mem::take(&mut self.persisted_msgs),
            committed_entries: std::mem::take(&mut self.committed),
            must_sync,
        }
    }

    /// `RawNode::advance_append_async`: the Ready was handled, its write issued (not yet
    /// durable).
    pub fn advance_append_async(&mut self, rd: Ready) {
        assert_eq!(rd.number, self.max_number, "readies are advanced in order");
        if let Some(ss) = rd.ss {
            self.prev_ss = ss;
        }
        if let Some(hs) = rd.hs {
            self.prev_hs = hs;
        }
    }

    /// `RawNode::on_persist_ready`: every Ready up to `number` is durable.
    pub fn on_persist_ready(&mut self, number: u64) {
        let mut seq = None;
        while self.records.front().is_some_and(|&(n, _)| n <= number) {
            let (_, s) = self.records.pop_front().expect("checked");
            seq = s.or(seq);
        }
        if let Some(seq) = seq.filter(|&s| s > self.durable_node_seq) {
            self.durable_node_seq = seq;
            self.drive(Input::Persisted(seq), true);
        }
    }

    /// `RawNode::advance_apply`: the committed entries handed out are applied. The wrapped node
    /// tracks lastApplied itself, so there is nothing to do.
    pub fn advance_apply(&mut self) {}

    fn soft_state(&self) -> SoftState {
        SoftState {
            leader_id: self.node.leader().map_or(0, u64::from),
            raft_state: match self.node.role() {
                Role::Follower => StateRole::Follower,
                Role::Candidate => StateRole::Candidate,
                Role::Leader => StateRole::Leader,
            },
        }
    }

    fn hard_state(&self) -> HardState {
        HardState {
            term: self.node.term(),
            vote: self.node.voted_for().map_or(0, u64::from),
            commit: self.node.commit_index(),
        }
    }

    /// One input to the wrapped node. `released`: the input reports a write durable, so what
    /// the node sends depends only on durable state.
    fn drive(&mut self, input: Input, released: bool) {
        let mut out = Vec::new();
        self.node.step(input, &mut out);
        self.absorb(out, released);
    }

    fn absorb(&mut self, out: Vec<Output>, released: bool) {
        let leading = self.node.role() == Role::Leader;
        for o in out {
            match o {
                Output::Send(env) => {
                    let m = to_toy(env);
                    if released || leading {
                        self.msgs.push(m);
                    } else {
                        self.persisted_msgs.push(m);
                    }
                }
                Output::SetTimer { kind, .. } => {
                    let n = match kind {
                        TimerKind::Election => self.election_tick,
                        TimerKind::Heartbeat => self.heartbeat_tick,
                        TimerKind::WithholdVotes => unreachable!("leader_stickiness is off"),
                    };
                    self.deadline[kind as usize] = Some(self.ticks + n);
                }
                Output::CancelTimer(kind) => self.deadline[kind as usize] = None,
                Output::Persist { seq, ops, .. } => {
                    for op in &ops {
                        let at = match op {
                            LogOp::Truncate { from } => {
                                self.unstable_len = self.unstable_len.min(from.saturating_sub(1));
                                *from
                            }
                            LogOp::Append { entries } => {
                                let at = self.unstable_len + 1;
                                self.unstable_len += entries.len() as Index;
                                at
                            }
                        };
                        self.unstable_from = Some(self.unstable_from.map_or(at, |f| f.min(at)));
                    }
                    self.unstable_seq = Some(seq);
                }
                Output::Apply { index, entry } => self.committed.push(ToyEntry {
                    index,
                    term: entry.term,
                    data: entry.command,
                }),
                Output::ClientReply { .. } | Output::Note(_) => {}
            }
        }
    }
}

fn entries_to_toy(first: Index, entries: Vec<Entry>) -> Vec<ToyEntry> {
    entries
        .into_iter()
        .zip(first..)
        .map(|(e, index)| ToyEntry {
            index,
            term: e.term,
            data: e.command,
        })
        .collect()
}

fn to_toy(env: Envelope) -> ToyMessage {
    let mut m = ToyMessage {
        msg_type: MessageType::MsgAppend,
        from: env.from.into(),
        to: env.to.into(),
        term: 0,
        log_term: 0,
        index: 0,
        entries: Vec::new(),
        commit: 0,
        reject: false,
        reject_hint: 0,
    };
    match env.msg {
        Message::RequestVote {
            term,
            last_log_index,
            last_log_term,
        } => {
            m.msg_type = MessageType::MsgRequestVote;
            (m.term, m.index, m.log_term) = (term, last_log_index, last_log_term);
        }
        Message::RequestVoteResp { term, granted } => {
            m.msg_type = MessageType::MsgRequestVoteResponse;
            (m.term, m.reject) = (term, !granted);
        }
        Message::AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } => {
            (m.term, m.index, m.log_term) = (term, prev_log_index, prev_log_term);
            m.entries = entries_to_toy(prev_log_index + 1, entries);
            m.commit = leader_commit;
        }
        Message::AppendEntriesResp {
            term,
            success,
            index,
        } => {
            m.msg_type = MessageType::MsgAppendResponse;
            (m.term, m.reject) = (term, !success);
            if success {
                m.index = index;
            } else {
                m.reject_hint = index;
            }
        }
    }
    m
}

fn from_toy(m: ToyMessage) -> Envelope {
    let msg = match m.msg_type {
        MessageType::MsgRequestVote => Message::RequestVote {
            term: m.term,
            last_log_index: m.index,
            last_log_term: m.log_term,
        },
        MessageType::MsgRequestVoteResponse => Message::RequestVoteResp {
            term: m.term,
            granted: !m.reject,
        },
        MessageType::MsgAppend => Message::AppendEntries {
            term: m.term,
            prev_log_index: m.index,
            prev_log_term: m.log_term,
            entries: m
                .entries
                .into_iter()
                .map(|e| Entry {
                    term: e.term,
                    command: e.data,
                })
                .collect(),
            leader_commit: m.commit,
        },
        MessageType::MsgAppendResponse => Message::AppendEntriesResp {
            term: m.term,
            success: !m.reject,
            index: if m.reject { m.reject_hint } else { m.index },
        },
    };
    Envelope {
        from: m.from as u32,
        to: m.to as u32,
        msg,
    }
}
