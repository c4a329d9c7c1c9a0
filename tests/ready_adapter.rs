//! A second node implementation, in the "ready/advance" style of tikv's `raft::RawNode`, run by
//! the unchanged simulator: `ReadyAdapter` implements `RaftNode` over `ToyRaw`
//! (`tests/ready_adapter/toy_raw.rs`), a toy library with the RawNode surface that wraps the
//! built-in node inside. The adapter sees only that surface, as a tikv application would.
//!
//! | RawNode                                   | raftsim node interface                                  |
//! |-------------------------------------------|---------------------------------------------------------|
//! | `RawNode::new(config, storage)`           | `restart(cfg, hard)`: storage from `HardState` (term, vote, log); commit starts at 0 |
//! | a ticker calling `tick()`                 | `SetTimer{Heartbeat, min, max}`, re-armed at each `Input::Timer(Heartbeat)`, which calls `tick()` |
//! | randomized election timeout (own RNG)     | pinned to a fixed number of ticks; the world draws each tick interval from the tick timer's [min, max] instead (so heartbeats jitter too); a library that must draw its own can seed from `cfg.seed` |
//! | `step(msg)`                               | `Input::Message`; `Msg: WireMessage` is the library's message |
//! | `propose(data)`                           | `Input::ClientRequest`; `ProposalDropped` → `ClientReply::NotLeader{hint: leader_id}`; `Committed` when the proposal's index applies with the same request, `NotLeader` if another entry lands there or leadership is lost |
//! | `Ready::ss` (role, leader_id)             | `role()`, `leader()`: the last soft state seen |
//! | `Ready::hs` (term, vote) + `entries`      | one `Output::Persist{seq, term, voted_for, ops}` if `must_sync`; entries from an index already written → `Truncate{from}` then `Append` |
//! | `Ready::hs.commit`                        | nothing: the world keeps no commit index; it sees commit through `Apply` |
//! | `Ready::messages`                         | `Output::Send` at once |
//! | `Ready::persisted_messages`               | `Output::Send` once `Input::Persisted(s)` covers this Ready's write (or the last one before it) |
//! | `Ready::committed_entries`                | `Output::Apply` each, then `advance_apply()` |
//! | `advance_append_async(rd)`                | right after issuing the write (not `advance(rd)`: the world's disk is asynchronous) |
//! | `on_persist_ready(number)`                | on `Input::Persisted(seq)`, for the last Ready whose write is ≤ seq (a Ready with no write: once every earlier write is durable) |
//! | —                                         | `bootstrap_leader`: no RawNode equivalent (a toy extension here) |
//!
//! Randomness stays with the world: the adapter never draws. A tick-driven library that draws
//! its own election timeout must seed its generator from `cfg.seed` (the world derives it per
//! node and incarnation), or a run does not replay. This toy has no generator: its timeout is a
//! fixed number of ticks and the world randomizes the ticks: each is drawn from [T, T·max/min] with T = heartbeat_interval / 2, so
//! `election_tick` = ⌈min/T⌉ ticks span about [min, max]. The
//! other mapping, an `Election` timer with [min, max] that calls `campaign()`, would need the
//! adapter to know when the library resets its election clock, which a Ready does not say.
//!
//! What a real tikv adapter would also need:
//! - `eraftpb::Message` as `Msg`: `kind` from `msg_type`, `term`, and `vote_granted` =
//!   `Some(!reject)` for `MsgRequestVoteResponse` only; `None` for `MsgRequestPreVoteResponse`
//!   (a pre-vote is not a vote; the checker counts grants to check a leader's majority).
//! - `Entry.data` as bytes: encode `Command::Put`, decode on apply; the empty entry a new leader
//!   appends is `Command::Noop`. No `EntryConfChange`: membership is fixed (`ConfState` voters
//!   1..=n at restart).
//! - `raft::Storage` over the log as written (issued, not yet durable), rebuilt from `HardState`
//!   at restart, with `Config::applied = 0` (the world rebuilds the state machine from index 1).
//! - No snapshots: `Persist` has no snapshot op, `HardState` no snapshot and `Apply` is per
//!   entry, so never compact the log and treat a non-empty `Ready::snapshot` as a bug.
//! - No ReadIndex: there is no read request among the inputs; `read_states` stays empty.
//! - `StateRole::PreCandidate` reported as `Role::Follower` (it has no new term or vote);
//!   `disable_proposal_forwarding = true` (a forwarded proposal would leave no index to answer).
//! - `bootstrap_leader`: raft-rs cannot lead its current term without an election.

#[path = "ready_adapter/toy_raw.rs"]
mod toy_raw;

use std::collections::VecDeque;
use std::path::Path;

use raftsim::base::time::SimDuration;
use raftsim::experiment::run::{run_config, RunOptions, RunReport};
use raftsim::protocol::{
    CandidatePersist, ClientReply, Command, Config, Entry, Envelope, HardState, Index, Input,
    LogOp, NodeId, Output, RaftNode, Role, Term, TimerKind, WireMessage,
};
use raftsim::scenario::Scenario;
use raftsim::world::config::RunConfig;
use toy_raw::{MessageType, StateRole, ToyConfig, ToyMessage, ToyRaw};

impl WireMessage for ToyMessage {
    fn kind(&self) -> &'static str {
        match self.msg_type {
            MessageType::MsgRequestVote => "MsgRequestVote",
            MessageType::MsgRequestVoteResponse => "MsgRequestVoteResponse",
            MessageType::MsgAppend => "MsgAppend",
            MessageType::MsgAppendResponse => "MsgAppendResponse",
        }
    }
    fn term(&self) -> Term {
        self.term
    }
    fn vote_granted(&self) -> Option<bool> {
        (self.msg_type == MessageType::MsgRequestVoteResponse).then_some(!self.reject)
    }
}

/// The tick plan for a node's settings: (election_tick, heartbeat_tick, shortest tick, longest
/// tick). Two ticks per heartbeat keep the longest heartbeat gap (2 long ticks) under the
/// shortest election timeout (`election_tick - 1` short ticks, the first tick after a reset
/// being partial) for the scenarios' 50ms heartbeat and [150ms, 300ms] election timeout.
fn tick_plan(cfg: &Config) -> (u64, u64, SimDuration, SimDuration) {
    let heartbeat_tick = 2;
    let t = (cfg.heartbeat_interval.0 / heartbeat_tick).max(1);
    let (min, max) = (
        cfg.election_timeout_min.0.max(1),
        cfg.election_timeout_max.0,
    );
    let election_tick = min.div_ceil(t).max(heartbeat_tick + 1);
    let longest = (u128::from(t) * u128::from(max.max(min)) / u128::from(min)) as u64;
    (
        election_tick,
        heartbeat_tick,
        SimDuration(t),
        SimDuration(longest),
    )
}

/// `RaftNode` for a RawNode-style library: the glue a tikv application would write.
pub struct ReadyAdapter {
    id: NodeId,
    raw: ToyRaw,
    tick_min: SimDuration,
    tick_max: SimDuration,
    /// The last soft and hard state the library reported.
    role: Role,
    leader: Option<NodeId>,
    term: Term,
    vote: Option<NodeId>,
    /// The log length once every write issued so far completes.
    written_len: Index,
    /// The last write issued, and the last reported durable.
    write_seq: u64,
    durable_seq: u64,
    /// Readies not yet reported durable: (ready number, write it waits for).
    unpersisted: VecDeque<(u64, u64)>,
    /// Persisted messages waiting for a write: (write, message), in Ready order.
    held: VecDeque<(u64, ToyMessage)>,
    /// Client requests proposed here while leading: (log index, request).
    proposals: Vec<(Index, u64)>,
}

impl ReadyAdapter {
    fn arm_tick(&self, out: &mut Vec<Output<ToyMessage>>) {
        out.push(Output::SetTimer {
            kind: TimerKind::Heartbeat,
            min: self.tick_min,
            max: self.tick_max,
        });
    }

    fn send(m: ToyMessage, out: &mut Vec<Output<ToyMessage>>) {
        out.push(Output::Send(Envelope {
            from: m.from as NodeId,
            to: m.to as NodeId,
            msg: m,
        }));
    }

    /// Handles every Ready the library has.
    fn drain(&mut self, out: &mut Vec<Output<ToyMessage>>) {
        while self.raw.has_ready() {
            let mut rd = self.raw.ready();
            if let Some(ss) = rd.ss {
                let was_leading = self.role == Role::Leader;
                self.role = match ss.raft_state {
                    StateRole::Follower => Role::Follower,
                    StateRole::Candidate => Role::Candidate,
                    StateRole::Leader => Role::Leader,
                };
                self.leader = (ss.leader_id != 0).then_some(ss.leader_id as NodeId);
                if was_leading && self.role != Role::Leader {
                    // Whether these entries commit is unknown: their clients retry elsewhere.
                    for (_, req) in self.proposals.drain(..) {
                        out.push(Output::ClientReply {
                            req,
                            reply: ClientReply::NotLeader { hint: None },
                        });
                    }
                }
            }
            if let Some(hs) = rd.hs {
                self.term = hs.term;
                self.vote = (hs.vote != 0).then_some(hs.vote as NodeId);
            }
            if rd.must_sync() {
                self.write_seq += 1;
                let ops = self.ops_for(std::mem::take(&mut rd.entries));
                out.push(Output::Persist {
                    seq: self.write_seq,
                    term: self.term,
                    voted_for: self.vote,
                    ops,
                });
            }
            // The write this Ready's persisted messages wait for: its own, or the last before.
            let wait_for = self.write_seq;
            for m in std::mem::take(&mut rd.messages) {
                Self::send(m, out);
            }
            for m in std::mem::take(&mut rd.persisted_messages) {
                if wait_for <= self.durable_seq {
                    Self::send(m, out);
                } else {
                    self.held.push_back((wait_for, m));
                }
            }
            for e in std::mem::take(&mut rd.committed_entries) {
                let entry = Entry {
                    term: e.term,
                    command: e.data,
                };
                out.push(Output::Apply {
                    index: e.index,
                    entry,
                });
                self.answer(e.index, entry, out);
            }
            let number = rd.number();
            self.raw.advance_append_async(rd);
            self.raw.advance_apply();
            if wait_for <= self.durable_seq {
                self.raw.on_persist_ready(number);
            } else {
                self.unpersisted.push_back((number, wait_for));
            }
        }
    }

    /// Ready entries (overwriting from their first index) as log operations.
    fn ops_for(&mut self, entries: Vec<toy_raw::ToyEntry>) -> Vec<LogOp> {
        let Some(first) = entries.first().map(|e| e.index) else {
            return Vec::new();
        };
        assert!(first <= self.written_len + 1, "entries leave a gap");
        let mut ops = Vec::with_capacity(2);
        if first <= self.written_len {
            ops.push(LogOp::Truncate { from: first });
        }
        self.written_len = first - 1 + entries.len() as Index;
        ops.push(LogOp::Append {
            entries: entries
                .into_iter()
                .map(|e| Entry {
                    term: e.term,
                    command: e.data,
                })
                .collect(),
        });
        ops
    }

    /// Answers the client whose proposal sat at `index`, now applied.
    fn answer(&mut self, index: Index, entry: Entry, out: &mut Vec<Output<ToyMessage>>) {
        let Some(k) = self.proposals.iter().position(|&(i, _)| i == index) else {
            return;
        };
        let (_, req) = self.proposals.remove(k);
        let reply = match entry.command {
            Command::Put { req: r, .. } if r == req => ClientReply::Committed { index },
            _ => ClientReply::NotLeader { hint: None },
        };
        out.push(Output::ClientReply { req, reply });
    }

    /// Every write up to `seq` is durable.
    fn persisted(&mut self, seq: u64, out: &mut Vec<Output<ToyMessage>>) {
        assert!(seq > self.durable_seq && seq <= self.write_seq);
        self.durable_seq = seq;
        while self.held.front().is_some_and(|&(s, _)| s <= seq) {
            let (_, m) = self.held.pop_front().expect("checked");
            Self::send(m, out);
        }
        let mut last = None;
        while self.unpersisted.front().is_some_and(|&(_, s)| s <= seq) {
            last = self.unpersisted.pop_front().map(|(n, _)| n);
        }
        if let Some(number) = last {
            self.raw.on_persist_ready(number);
        }
    }
}

impl RaftNode for ReadyAdapter {
    type Msg = ToyMessage;

    fn restart(cfg: &Config, hard: HardState) -> Self {
        let (election_tick, heartbeat_tick, tick_min, tick_max) = tick_plan(cfg);
        ReadyAdapter {
            id: cfg.id,
            tick_min,
            tick_max,
            role: Role::Follower,
            leader: None,
            term: hard.term,
            vote: hard.voted_for,
            written_len: hard.log.last_index(),
            write_seq: 0,
            durable_seq: 0,
            unpersisted: VecDeque::new(),
            held: VecDeque::new(),
            proposals: Vec::new(),
            raw: ToyRaw::new(
                ToyConfig {
                    raft: cfg.clone(),
                    election_tick,
                    heartbeat_tick,
                },
                hard,
            ),
        }
    }

    fn start(&mut self, out: &mut Vec<Output<ToyMessage>>) {
        self.arm_tick(out);
        self.drain(out);
    }

    fn bootstrap_leader(&mut self, out: &mut Vec<Output<ToyMessage>>) {
        self.raw.bootstrap_leader();
        self.arm_tick(out);
        self.drain(out);
    }

    fn step(&mut self, input: Input<ToyMessage>, out: &mut Vec<Output<ToyMessage>>) {
        match input {
            Input::Timer(TimerKind::Heartbeat) => {
                self.raw.tick();
                self.arm_tick(out);
            }
            Input::Timer(TimerKind::Election) => unreachable!("never armed"),
            // The toy library has no leadership transfer and no membership changes.
            Input::TransferLeadership { .. } | Input::ChangeMembership { .. } => {}
            Input::Message(env) => {
                assert_eq!(env.to, self.id);
                // The library validates its own messages; an error would only be logged.
                let _ = self.raw.step(env.msg);
            }
            Input::ClientRequest { req, key, value } => {
                match self.raw.propose(Command::Put { req, key, value }) {
                    Ok(()) => self.proposals.push((self.raw.last_index(), req)),
                    Err(toy_raw::Error::ProposalDropped) => out.push(Output::ClientReply {
                        req,
                        reply: ClientReply::NotLeader { hint: self.leader },
                    }),
                }
            }
            Input::Persisted(seq) => self.persisted(seq, out),
        }
        self.drain(out);
    }

    fn role(&self) -> Role {
        self.role
    }

    fn leader(&self) -> Option<NodeId> {
        self.leader
    }
}

// ---- tests ----

fn compiled(file: &str) -> RunConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    Scenario::load(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .compile()
}

fn run(cfg: &RunConfig, seed: u64) -> RunReport {
    run_config::<ReadyAdapter>(
        cfg,
        seed,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    )
}

const SEEDS: std::ops::Range<u64> = 0..8;

/// The run is clean and live: no violation, no panic, a leader, and (with a workload)
/// committed requests.
fn assert_clean(name: &str, cfg: &RunConfig, seed: u64) -> RunReport {
    let r = run(cfg, seed);
    let s = &r.summary;
    assert!(
        r.violation.is_none() && r.panic.is_none(),
        "{name} seed {seed}: {:?} {:?}",
        r.violation,
        r.panic
    );
    assert_eq!(s.outcome, "completed", "{name} seed {seed}");
    assert!(!s.leaders.is_empty(), "{name} seed {seed}: no leader");
    if cfg.workload.is_some() {
        let c = s.client.as_ref().expect("a workload reports clients");
        assert!(c.committed > 0, "{name} seed {seed}: nothing committed");
    }
    r
}

#[test]
fn basic_elects_and_recovers_through_the_adapter() {
    let cfg = compiled("basic.json");
    for seed in SEEDS {
        let r = assert_clean("basic", &cfg, seed);
        // The leader crashes at 2s: a second leader is elected after it.
        assert!(r.summary.leaders.len() >= 2, "seed {seed}: no re-election");
    }
}

#[test]
fn replication_commits_through_the_adapter() {
    let cfg = compiled("replication.json");
    for seed in SEEDS {
        let r = assert_clean("replication", &cfg, seed);
        let c = r.summary.client.as_ref().expect("clients");
        assert!(
            c.committed * 10 >= c.requests * 9,
            "seed {seed}: {} of {} committed",
            c.committed,
            c.requests
        );
        // Every node that applied as far agrees on the state machine.
        let sms = &r.summary.state_machines;
        let top = sms.iter().map(|m| m.applied).max().expect("live nodes");
        let digests: Vec<_> = sms
            .iter()
            .filter(|m| m.applied == top)
            .map(|m| &m.digest)
            .collect();
        assert!(digests.windows(2).all(|w| w[0] == w[1]), "seed {seed}");
    }
}

/// A candidate that sends RequestVote in parallel with its write: the RawNode contract (a
/// non-leader's messages are persisted messages) holds them until the write is durable.
#[test]
fn parallel_candidates_run_clean_through_the_adapter() {
    for file in ["basic.json", "replication.json"] {
        let mut cfg = compiled(file);
        cfg.raft.candidate_persist = CandidatePersist::Parallel;
        for seed in SEEDS {
            assert_clean(file, &cfg, seed);
        }
    }
}

#[test]
fn adapter_runs_are_deterministic() {
    for file in ["basic.json", "replication.json"] {
        let cfg = compiled(file);
        let hash = |seed| run(&cfg, seed).summary.trace_hash.expect("traced");
        for seed in [1, 7] {
            assert_eq!(hash(seed), hash(seed), "{file} seed {seed}");
        }
        // The randomness is the world's: another seed, another run.
        assert_ne!(hash(1), hash(7), "{file}");
    }
}

/// The persisted-message path by hand: a follower's election (parallel persistence) makes
/// RequestVote, but the adapter sends it only once `Input::Persisted` covers the write.
#[test]
fn persisted_messages_wait_for_the_write() {
    let cfg = Config {
        candidate_persist: CandidatePersist::Parallel,
        ..Config::new(1, 3)
    };
    let mut n = ReadyAdapter::restart(&cfg, HardState::default());
    let mut out = Vec::new();
    n.start(&mut out);
    assert!(matches!(
        out[..],
        [Output::SetTimer {
            kind: TimerKind::Heartbeat,
            ..
        }]
    ));
    let (election_tick, ..) = tick_plan(&cfg);
    let mut write = None;
    for _ in 0..election_tick {
        out.clear();
        n.step(Input::Timer(TimerKind::Heartbeat), &mut out);
        write = write.or(out.iter().find_map(|o| match o {
            Output::Persist {
                seq,
                term: 1,
                voted_for: Some(1),
                ..
            } => Some(*seq),
            _ => None,
        }));
    }
    let seq = write.expect("the candidacy is written after election_tick ticks");
    assert_eq!(n.role(), Role::Candidate);
    assert!(
        !out.iter().any(|o| matches!(o, Output::Send(_))),
        "no RequestVote before the write is durable: {out:?}"
    );
    out.clear();
    n.step(Input::Persisted(seq), &mut out);
    let votes: Vec<NodeId> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send(env) if env.msg.msg_type == MessageType::MsgRequestVote => Some(env.to),
            _ => None,
        })
        .collect();
    assert_eq!(votes, vec![2, 3]);
}
