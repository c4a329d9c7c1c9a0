//! The simulated world: one run of a compiled [`RunConfig`] and a seed on a virtual clock.
//!
//! The loop pops the earliest (time, sequence) event from the [`queue`], hands it to a node
//! through the node interface ([`RaftNode`]) or applies a fault ([`faults`]) or moves a client
//! ([`workload`]), and turns the node's outputs into future events through the [`net`]work,
//! each node's drifting [`clock`] and its [`disk`]. Everything random is drawn from streams
//! derived from the seed (`crate::base::rng`), so a run is a pure function of (config, seed).
//!
//! The world observes nodes from outside ([`witness`]): what a node wrote to its disk gives its
//! log, term and vote; what it applied gives its commit index; the votes delivered to it give
//! its election count; its role is what the interface reports. Those observations become trace
//! records, handed to every [`Observer`]. Nothing a node says about itself reaches the checker.
//!
//! A crash drops the node's volatile state and any disk write not yet complete; its durable
//! state (`HardState`) lives here, outside the node, and a restart rebuilds the node from it.
//! A paused node handles nothing: its events are put back to the moment it resumes, in order.
//!
//! The world must not know of scenario files, sweeps or output files.

pub mod clock;
pub mod config;
pub mod disk;
pub mod faults;
pub mod kv;
pub mod net;
pub mod queue;
pub mod witness;
pub mod workload;

use crate::base::dist::Law;
use crate::base::rng::{Purpose, Rng};
use crate::base::time::SimTime;
use crate::observe::check::Violation;
use crate::observe::linear;
use crate::observe::linear::Ret;
use crate::observe::summary::{client_stats, kv_digest, ClientStats, StateMachineSummary};
use crate::observe::trace::{Event, Record, TEntry, TRet, TVia};
use crate::observe::{ObsCtx, Observer};
use crate::protocol::{
    CatchUpPhase, ClientReply, Command, Config, Envelope, HardState, Index, Input, Log, NodeId,
    Note, Output, RaftNode, Role, TimerKind, WireMessage,
};
use config::{Drift, RunConfig, StopWhen, MAX_DRIFT_PPM};
use disk::Disk;
use faults::FaultState;
use net::{DropReason, Fate, Network};
use queue::EventQueue;
use witness::Seen;
use workload::Clients;

pub use clock::local_to_virtual;

#[derive(Clone, Debug)]
enum Ev<M> {
    Deliver {
        env: Envelope<M>,
        /// Pairs `send`, `deliver` and `drop` in a trace with message events.
        id: u64,
    },
    Timer {
        node: NodeId,
        kind: TimerKind,
        /// Which queued event of this timer this is (see `clock::Timers`).
        token: u64,
    },
    Disk {
        node: NodeId,
        incarnation: u32,
        seq: u64,
    },
    FaultStart(usize),
    FaultEnd(usize),
    /// The restart that follows a crash at a disk write (fault index, node).
    FaultRestart(usize, NodeId),
    /// A conditional fault whose condition now holds (fault index).
    FaultFire(usize),
    ClientArrival,
    ClientToNode {
        req: u64,
        node: NodeId,
    },
    ClientReply {
        req: u64,
        node: NodeId,
        reply: ClientReply,
        /// What the node's state machine gave the request when the node answered.
        ret: Option<Ret>,
        /// For a read served without the log: whether the node answered as leader.
        via: Option<TVia>,
        fresh: workload::Freshness,
    },
    ClientTimeout {
        req: u64,
        attempt: u32,
    },
    ClientResend {
        req: u64,
        attempt: u32,
    },
    /// A liveness bound ends: check its property.
    Liveness(LivenessCheck),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LivenessCheck {
    /// The start of the quiet phase, postponed until the messages a fault held back have
    /// arrived (`Network::drained_by`).
    Quiet,
    Leader,
    Commit,
    Converge,
    Membership,
}

impl<M> Ev<M> {
    /// The node an event is handled by, if any (used to hold events of a paused node).
    fn node(&self) -> Option<NodeId> {
        match self {
            Ev::Deliver { env, .. } => Some(env.to),
            Ev::Timer { node, .. } | Ev::Disk { node, .. } | Ev::ClientToNode { node, .. } => {
                Some(*node)
            }
            _ => None,
        }
    }
}

struct Slot<N: RaftNode> {
    node: Option<N>,
    cfg: Config,
    /// What is on the node's disk: survives a crash.
    hard: HardState,
    /// What the world has observed of the node (see `witness`).
    seen: Seen,
    incarnation: u32,
    timers: clock::Timers,
    /// A tick-driven library's ticker (`Output::Ticker`), if it asked for one.
    ticker: Option<clock::Ticker>,
    timer_rng: Rng,
    jitter_rng: Rng,
    disk: Disk,
    drift_ppb: i64,
    /// What clock jumps added to (or took from) the node's clock, in ns: its reading is the
    /// elapsed virtual time at its drift, plus this ([`clock::local_now`]).
    clock_offset_ns: i128,
    /// While paused: the latest end of the pauses in effect, and how many are in effect
    /// (pauses may overlap; the node resumes when the last one ends).
    paused_until: Option<SimTime>,
    pauses: u32,
    /// The last restart of its election timer the world saw (`None` after a clock jump).
    election_reset: Option<witness::ElectionReset>,
    /// The last moment it may have restarted its election timer, for the greatest election
    /// timeout (`None` after a clock jump), and the greatest jitter of its election timer armed then or since.
    late_from: Option<witness::ElectionReset>,
    late_jitter: u64,
    /// When its election timer was last armed, and the jitter drawn for it.
    election_armed: (SimTime, u64),
    /// "Liveness: CheckQuorum": when each node's last message was delivered to this one (by
    /// id − 1), and the moment from which its silence counts: it became leader, resumed from
    /// a pause, its clock jumped, or its configuration changed (`quorum_config`: the index of
    /// the one last judged).
    heard_at: Vec<SimTime>,
    quorum_floor: SimTime,
    quorum_config: crate::protocol::Index,
    /// The node's state machine (`kv`), fed by applied entries. Volatile: a restart rebuilds
    /// it by applying the log again.
    sm: kv::StateMachine,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Reached `stop.at` with no stop condition to wait for.
    Completed,
    /// The stop condition held.
    ConditionMet,
    /// `stop.at` came before the stop condition held: a liveness failure.
    TimeLimit,
    /// `limits.max_events` reached.
    EventLimit,
    /// More events waiting in the queue, or more messages in flight, than the run's bounds
    /// (`RunConfig::max_queued`, `RunConfig::max_in_flight`): the cluster was sent more than it
    /// handles, and the run stopped before its memory grew without bound.
    QueueLimit,
    /// A safety property failed.
    Violation,
    /// The simulator panicked (a broken assertion outside any node); the run stopped there. A
    /// node's own failed assertion is a violation ("Node Assertion").
    Panic,
    /// Stopped from outside (SIGINT or SIGTERM, `base::interrupt`) before its end: incomplete.
    Interrupted,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::ConditionMet => "condition_met",
            Outcome::TimeLimit => "time_limit",
            Outcome::EventLimit => "event_limit",
            Outcome::QueueLimit => "queue_limit",
            Outcome::Violation => "violation",
            Outcome::Panic => "panic",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// How much the world reports besides state changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceLevel {
    /// Roles, votes, log changes, commits, faults, drops, clients.
    #[default]
    Events,
    /// Also every message's `send` and `deliver`.
    Messages,
}

/// What a run produced, besides what its observers collected.
pub struct RunResult {
    pub outcome: Outcome,
    pub violation: Option<Violation>,
    /// The panic's message, for outcome `panic`.
    pub panic: Option<String>,
    pub events: u64,
    /// Trace records emitted.
    pub records: u64,
    pub end_time_ns: u64,
    pub messages_sent: u64,
    /// Time the last fault event (start or end) applied.
    pub last_fault_ns: Option<u64>,
    /// Each node when the run ended, by id - 1, as observed; `None` for a node that was down.
    pub nodes_at_end: Vec<Option<NodeEnd>>,
    /// Each live node's state machine (runs with a workload).
    pub state_machines: Vec<StateMachineSummary>,
    pub client: Option<ClientStats>,
}

impl RunResult {
    /// What the summary needs of this result.
    pub fn facts(&self) -> crate::observe::summary::RunFacts<'_> {
        crate::observe::summary::RunFacts {
            outcome: self.outcome.name(),
            end_time_ns: self.end_time_ns,
            events: self.events,
            messages_sent: self.messages_sent,
            violation: self.violation.as_ref().map(|v| v.to_string()),
            panic: self.panic.as_deref(),
            state_machines: &self.state_machines,
            client: self.client.as_ref(),
        }
    }
}

/// A live node's state when the run ended, as the world observed it: term and log from its
/// disk writes, commit and apply from what it applied, role from the interface.
#[derive(Clone, Debug)]
pub struct NodeEnd {
    pub term: u64,
    pub role: Role,
    pub commit_index: Index,
    pub last_applied: Index,
    pub log: Log,
}

pub struct Simulation<'a, N: RaftNode, O: Observer> {
    cfg: &'a RunConfig,
    /// The implementation's own options, handed to every `restart`.
    opts: &'a N::Options,
    seed: u64,
    now: SimTime,
    queue: EventQueue<Ev<N::Msg>>,
    slots: Vec<Slot<N>>,
    net: Network,
    outs: Vec<Output<N::Msg>>,
    /// Every observer, composed statically (a tuple of observers is one), so the hot path
    /// calls them without dynamic dispatch.
    observers: &'a mut O,
    derived: Vec<Event>,
    /// Scratch for the records a step implies.
    witnessed: Vec<Event>,
    violation: Option<Violation>,
    events: u64,
    /// Trace records observed so far (whether or not a trace is written).
    records: u64,
    messages_sent: u64,
    /// Message deliveries waiting in the queue (a duplicated message counts twice).
    in_flight: u64,
    trace_messages: bool,
    /// The node whose step is running: a panic there is the node's own assertion failing.
    in_node: Option<NodeId>,
    /// Liveness: when the quiet phase started, the checks still to come, whether a stable leader
    /// has been seen since, and the requests outstanding when it started.
    quiet_since: Option<SimTime>,
    /// The quiet phase's start is queued (`LivenessCheck::Quiet`).
    quiet_waiting: bool,
    checks_pending: u32,
    leader_seen: bool,
    /// "Liveness: Membership" held at some moment of the quiet phase: a running leader whose
    /// latest configuration was C_new alone and committed.
    membership_settled: bool,
    outstanding_at_quiet: Vec<u64>,
    /// The most any node had applied when the quiet phase started.
    applied_at_quiet: u64,
    faults: FaultState,
    clients: Clients,
    /// The disk's write latency and the timers' jitter, ready to draw from.
    write_laws: disk::WriteLaws,
    timer_jitter: Law,
    /// The highest index of a configuration entry any node has applied (paper §6): each one
    /// applied beyond it is a configuration transition, traced once.
    config_applied: Index,
    /// A crash at a disk write is under way (its records' [`ObsCtx::at_write`]).
    crashing_at_write: bool,
    /// The implementation's least election timeout, when "Liveness: Election Timer" is judged
    /// ([`RaftNode::least_election_timeout`]), and whether the step running is an expiry of a
    /// node's timer (a timer or tick input).
    election_floor: Option<crate::base::time::SimDuration>,
    /// The implementation's greatest election timeout, when judged
    /// ([`RaftNode::greatest_election_timeout`]), plus the timers' resolution.
    election_ceiling: Option<crate::base::time::SimDuration>,
    /// The implementation's CheckQuorum bound ([`RaftNode::check_quorum_within`]), when
    /// "Liveness: CheckQuorum" is judged.
    quorum_bound: Option<crate::base::time::SimDuration>,
    timer_input: bool,
    /// The vote or pre-vote request the step running handles, for "Election Restriction";
    /// whether the step's outputs grant a vote (to anyone, for the greatest election
    /// timeout) and a pre-vote (to the asker).
    vote_ask: Option<witness::VoteAsk>,
    vote_regranted: bool,
    pre_vote_granted: bool,
}

/// Runs node implementation `N` with its options on a compiled configuration with a seed,
/// feeding `observers` (one observer, or a tuple of them).
pub fn run<N: RaftNode, O: Observer>(
    cfg: &RunConfig,
    opts: &N::Options,
    seed: u64,
    level: TraceLevel,
    observers: &mut O,
) -> RunResult {
    Simulation::<N, O>::new(cfg, opts, seed, level, observers).run()
}

impl<'a, N: RaftNode, O: Observer> Simulation<'a, N, O> {
    pub fn new(
        cfg: &'a RunConfig,
        opts: &'a N::Options,
        seed: u64,
        level: TraceLevel,
        observers: &'a mut O,
    ) -> Simulation<'a, N, O> {
        let n = cfg.nodes;
        let mut drift_rng = Rng::stream(seed, Purpose::Clocks, 0);
        let slots = (1..=n)
            .map(|id| {
                let drift_ppm = match &cfg.clocks.drift {
                    Drift::PerNode(v) => v[id as usize - 1],
                    Drift::Drawn(d) => d.sample(&mut drift_rng),
                }
                .clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
                let hard = cfg.initial[id as usize - 1].clone();
                Slot {
                    node: None,
                    cfg: Config {
                        id,
                        ..cfg.raft.clone()
                    },
                    seen: Seen::from_disk(&hard),
                    hard,
                    incarnation: 0,
                    timers: clock::Timers::default(),
                    ticker: None,
                    timer_rng: Rng::stream(seed, Purpose::Timers, id as u64),
                    jitter_rng: Rng::stream(seed, Purpose::Timers, 1000 + id as u64),
                    disk: Disk::for_node(seed, id),
                    drift_ppb: libm::round(drift_ppm * 1000.0) as i64,
                    clock_offset_ns: 0,
                    paused_until: None,
                    pauses: 0,
                    election_reset: Some(witness::ElectionReset {
                        at: SimTime::ZERO,
                        cause: witness::ResetCause::Started,
                    }),
                    late_from: Some(witness::ElectionReset {
                        at: SimTime::ZERO,
                        cause: witness::ResetCause::Started,
                    }),
                    late_jitter: 0,
                    election_armed: (SimTime::ZERO, 0),
                    heard_at: vec![SimTime::ZERO; cfg.nodes as usize],
                    quorum_floor: SimTime::ZERO,
                    quorum_config: 0,
                    sm: kv::StateMachine::default(),
                }
            })
            .collect();
        Simulation {
            election_floor: N::least_election_timeout(&cfg.raft, opts),
            election_ceiling: N::greatest_election_timeout(&cfg.raft, opts).map(|d| {
                crate::base::time::SimDuration(d.0.saturating_add(cfg.clocks.timer_resolution))
            }),
            quorum_bound: N::check_quorum_within(&cfg.raft, opts),
            timer_input: false,
            vote_ask: None,
            vote_regranted: false,
            pre_vote_granted: false,
            config_applied: 0,
            crashing_at_write: false,
            write_laws: disk::WriteLaws::of(cfg),
            timer_jitter: Law::from(&cfg.clocks.timer_jitter),
            cfg,
            opts,
            seed,
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(64),
            slots,
            net: Network::new(&cfg.network, n, seed),
            outs: Vec::with_capacity(32),
            observers,
            derived: Vec::new(),
            witnessed: Vec::new(),
            violation: None,
            events: 0,
            records: 0,
            messages_sent: 0,
            in_flight: 0,
            trace_messages: level == TraceLevel::Messages,
            in_node: None,
            quiet_since: None,
            quiet_waiting: false,
            checks_pending: 0,
            leader_seen: false,
            membership_settled: false,
            outstanding_at_quiet: Vec::new(),
            applied_at_quiet: 0,
            faults: FaultState::new(cfg, seed),
            clients: Clients::new(seed),
        }
    }

    /// Node `id`'s settings for its current incarnation, with the seed its implementation may
    /// draw from.
    fn node_config(&self, id: NodeId) -> Config {
        let s = &self.slots[id as usize - 1];
        let index = ((id as u64) << 32) | s.incarnation as u64;
        Config {
            seed: crate::base::rng::derive_seed(self.seed, Purpose::NodeSeed, index),
            ..s.cfg.clone()
        }
    }

    fn slot(&mut self, id: NodeId) -> &mut Slot<N> {
        &mut self.slots[id as usize - 1]
    }

    /// Passes an observable event to every observer, then what they derive from it.
    fn emit(&mut self, ev: Event) {
        let rec = Record { t: self.now.0, ev };
        self.observers.derive(&rec, &mut self.derived);
        self.observe(&rec);
        while let Some(d) = self.derived.pop() {
            let rec = Record {
                t: self.now.0,
                ev: d,
            };
            self.observe(&rec);
        }
    }

    fn observe(&mut self, rec: &Record) {
        // Numbered like the trace's lines, so a reported event can be found in trace.jsonl
        // and `raftsim check` reports the same number.
        self.records += 1;
        let ctx = ObsCtx {
            faults_done: self.faults.done(),
            at_write: self.crashing_at_write,
        };
        if let Some(v) = self.observers.observe(rec, self.records, &ctx) {
            self.violation.get_or_insert(v);
        }
    }

    /// Runs to the end. A panic inside the loop (a node's broken assertion, or the
    /// simulator's) ends the run with outcome `panic` and a `panic` record: the observers keep
    /// everything up to that point, so the trace so far and the reproduce line survive it.
    pub fn run(mut self) -> RunResult {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop()));
        let outcome = match result {
            Ok(o) => o,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                return self.finish_after_panic(message);
            }
        };
        self.finish(outcome, None)
    }

    fn run_loop(&mut self) -> Outcome {
        let cfg = self.cfg;
        self.emit(Event::Start {
            nodes: cfg.nodes,
            seed: self.seed,
            scenario: cfg.name.clone(),
            drawn: cfg.drawn.clone(),
            voters: (cfg.raft.initial_voters != 0)
                .then(|| crate::protocol::voter_ids(cfg.raft.initial_voters)),
            node: (N::NAME != crate::protocol::DEFAULT_NODE).then(|| N::NAME.to_string()),
            config_effect: (N::CAPABILITIES.config_effect
                == crate::protocol::ConfigEffect::OnApply)
                .then(|| "on_apply".to_string()),
        });
        // Boot every node.
        for id in 1..=cfg.nodes {
            let hard = self.slot(id).hard.clone();
            if hard.term > 0 || hard.log.last_index() > 0 {
                self.emit(Event::Boot {
                    node: id,
                    term: hard.term,
                    voted_for: hard.voted_for,
                    log: hard.log.entries().iter().map(TEntry::from).collect(),
                });
            }
            let cfg = self.node_config(id);
            self.in_node = Some(id);
            let node = N::restart(&cfg, self.opts, hard);
            self.in_node = None;
            self.slot(id).node = Some(node);
        }
        if let Some(l) = cfg.initial_leader {
            // The votes that made it leader are on the others' disks.
            let term = self.slot(l).hard.term;
            let voters: Vec<NodeId> = (1..=cfg.nodes)
                .filter(|&v| v != l)
                .filter(|&v| {
                    let h = &self.slots[v as usize - 1].hard;
                    h.term == term && h.voted_for == Some(l)
                })
                .collect();
            for v in voters {
                self.slot(l).seen.vote_delivered(term, v);
            }
        }
        for id in 1..=cfg.nodes {
            let mut outs = std::mem::take(&mut self.outs);
            self.in_node = Some(id);
            let node = self.slot(id).node.as_mut().expect("booted");
            if cfg.initial_leader == Some(id) {
                node.bootstrap_leader(&mut outs);
            } else {
                node.start(&mut outs);
            }
            self.in_node = None;
            self.outs = outs;
            self.process_outputs(id);
        }
        self.schedule_faults();
        if let Some(w) = &cfg.workload {
            self.queue.push(w.start, Ev::ClientArrival);
        }

        let stop_at = cfg.stop.at;
        let liveness = cfg.liveness != Default::default();
        loop {
            if self.violation.is_some() {
                return Outcome::Violation;
            }
            if liveness {
                self.watch_liveness();
            }
            // The condition is a leader followed after the faults; the run waits past it only
            // for the liveness bounds to be judged, and one seen in the quiet phase meets it
            // even if a loss-driven election is under way when the last bound passes.
            if cfg.stop.when == Some(StopWhen::LeaderAfterFaults)
                && self.faults.all_applied()
                && self.checks_pending == 0
                && (self.leader_seen || self.stable_leader().is_some())
            {
                return Outcome::ConditionMet;
            }
            if self.events >= cfg.max_events {
                return Outcome::EventLimit;
            }
            if crate::base::interrupt::requested() {
                return Outcome::Interrupted;
            }
            if self.queue.len() as u64 > cfg.max_queued || self.in_flight > cfg.max_in_flight {
                return Outcome::QueueLimit;
            }
            let t = match self.queue.peek_time() {
                Some(t) if t <= stop_at => t,
                _ => {
                    self.now = self.now.max(stop_at);
                    return if cfg.stop.when.is_some() {
                        Outcome::TimeLimit
                    } else {
                        Outcome::Completed
                    };
                }
            };
            let (_, ev) = self.queue.pop().expect("peeked");
            self.now = t;
            self.events += 1;
            self.handle(ev);
        }
    }

    /// A property failed now: the run's violation, at the next record (the first one found
    /// stands).
    #[cold]
    fn fail(&mut self, property: &'static str, detail: String) {
        self.violation.get_or_insert(Violation {
            property,
            event_index: self.records + 1,
            time: self.now.0,
            detail,
        });
    }

    #[cold]
    fn finish_after_panic(mut self, message: String) -> RunResult {
        if let Some(id) = self.in_node {
            // The node's own assertion failed: a named violation, like any the checker finds.
            self.fail("Node Assertion", format!("n{id} panicked: {message}"));
            return self.finish(Outcome::Violation, None);
        }
        // The panic may have left a node half-stepped: keep only what the observers saw, and
        // make sure the end of the trace says why it ends.
        // An observer that panicked may panic again: what the others record still counts.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.emit(Event::Panic {
                message: message.clone(),
            });
        }));
        self.finish(Outcome::Panic, Some(message))
    }

    /// Checks the client history for linearizability (`observe::linear`), in a run whose
    /// workload draws reads or CAS: traces the verdict, and a history no order explains is a
    /// violation, "Linearizability", at that record.
    fn check_clients(&mut self) {
        if !self.cfg.workload.as_ref().is_some_and(|w| w.mixed()) {
            return;
        }
        let history = self.clients.history();
        let guide = self.clients.applied_order();
        let report = linear::check_guided(&history, &guide, &linear::Limits::default());
        let (verdict, key, window) = match &report.verdict {
            linear::Verdict::Linearizable => ("linearizable", None, Vec::new()),
            linear::Verdict::Violation { key, window, .. } => {
                ("violation", Some(*key), window.clone())
            }
            linear::Verdict::Unknown { key, .. } => ("unknown", Some(*key), Vec::new()),
        };
        if let linear::Verdict::Violation {
            key,
            window,
            start,
            end,
            from,
        } = &report.verdict
        {
            let detail = linear::describe_violation(&history, *key, window, *start, *end, *from);
            self.fail("Linearizability", detail);
        }
        self.emit(Event::Linearizability {
            verdict: verdict.into(),
            ops: report.ops as u64,
            states: report.states,
            key,
            window,
        });
    }

    fn finish(mut self, mut outcome: Outcome, panic: Option<String>) -> RunResult {
        if outcome != Outcome::Panic && self.violation.is_none() {
            self.check_clients();
            if self.violation.is_some() {
                outcome = Outcome::Violation;
            }
        }
        if outcome != Outcome::Panic {
            if let Some(v) = self.violation.clone() {
                self.emit(Event::Violation {
                    property: v.property.to_string(),
                    detail: v.detail.clone(),
                });
            }
        }
        let events = self.events;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.emit(Event::End {
                outcome: outcome.name().to_string(),
                events,
            });
        }));
        let (state_machines, client) = match &self.cfg.workload {
            Some(_) => (
                self.slots
                    .iter()
                    .filter(|s| s.node.is_some())
                    .map(|s| StateMachineSummary {
                        node: s.cfg.id,
                        applied: s.seen.applied,
                        keys: s.sm.kv.len() as u64,
                        digest: kv_digest(&s.sm.kv),
                    })
                    .collect(),
                Some(client_stats(
                    &self.clients.outcomes(),
                    self.now.0,
                    self.cfg.raft.election_timeout_max.0,
                )),
            ),
            None => (Vec::new(), None),
        };
        RunResult {
            outcome,
            violation: self.violation,
            panic,
            events: self.events,
            records: self.records,
            end_time_ns: self.now.0,
            messages_sent: self.messages_sent,
            last_fault_ns: self.faults.last_fault().map(|t| t.0),
            nodes_at_end: self
                .slots
                .iter()
                .map(|s| {
                    s.node.as_ref().map(|n| NodeEnd {
                        term: s.seen.term,
                        role: n.role(),
                        commit_index: s.seen.applied,
                        last_applied: s.seen.applied,
                        log: s.disk.log_after_writes(&s.hard.log),
                    })
                })
                .collect(),
            state_machines,
            client,
        }
    }

    /// The live leader of the highest term, if any: role from the interface, term observed.
    fn current_leader(&self) -> Option<NodeId> {
        self.slots
            .iter()
            .filter(|s| s.node.as_ref().is_some_and(|n| n.role() == Role::Leader))
            .max_by_key(|s| s.seen.term)
            .map(|s| s.cfg.id)
    }

    /// A live leader that every other live, unpaused node of its configuration follows in its
    /// term (every node, unless the run changes membership: a non-voting or removed server
    /// is not replicated to, so it follows nobody).
    fn stable_leader(&self) -> Option<NodeId> {
        let id = self.current_leader()?;
        let term = self.slots[id as usize - 1].seen.term;
        let members = self.members(id);
        let all = self
            .slots
            .iter()
            .filter(|s| s.paused_until.is_none() && members & (1u64 << (s.cfg.id - 1)) != 0)
            .filter_map(|s| s.node.as_ref().map(|n| (s, n)))
            .all(|(s, n)| s.cfg.id == id || (s.seen.term == term && n.leader() == Some(id)));
        all.then_some(id)
    }

    fn handle(&mut self, ev: Ev<N::Msg>) {
        if let Some(id) = ev.node() {
            if let Some(until) = self.slots[id as usize - 1].paused_until {
                if self.now < until {
                    self.queue.push(until, ev);
                    return;
                }
            }
        }
        match ev {
            Ev::Deliver { env, id } => {
                self.in_flight -= 1;
                let (from, to) = (env.from, env.to);
                if let Some(reason) = self.net.blocked(from, to) {
                    self.drop_msg(&env, reason, id);
                } else if self.slot(to).node.is_none() {
                    self.drop_msg(&env, DropReason::NodeDown, id);
                } else {
                    if self.trace_messages {
                        self.emit(Event::Deliver {
                            from,
                            to,
                            msg: env.msg.kind().into(),
                            term: env.msg.term(),
                            id,
                        });
                    }
                    if env.msg.vote_granted() == Some(true) {
                        self.slot(to).seen.vote_delivered(env.msg.term(), from);
                    }
                    if self.quorum_bound.is_some() {
                        let now = self.now;
                        self.slot(to).heard_at[from as usize - 1] = now;
                    }
                    let leader_msg = (self.election_floor.is_some()
                        || self.election_ceiling.is_some())
                        && env.msg.leader_only()
                        && env.msg.term() >= self.slot(to).seen.term;
                    // After the step: the ticks that passed before the message come first in it.
                    self.step(to, Input::Message(env));
                    // Whatever `to` made of it, Figure 2 has it follow `from` now
                    // ("Candidates": convert to follower) and restart its election timer
                    // ("Followers").
                    if leader_msg {
                        self.reset_election_timer(to, witness::ResetCause::Heard(from));
                    }
                }
            }
            Ev::Timer { node, kind, token } => self.timer_due(node, kind, token),
            Ev::Disk {
                node,
                incarnation,
                seq,
            } => self.disk_done(node, incarnation, seq),
            Ev::FaultStart(i) => self.fault(i, true),
            Ev::FaultEnd(i) => self.fault(i, false),
            Ev::FaultRestart(i, id) => self.fault_restart(i, id),
            Ev::FaultFire(i) => self.fault_fire(i),
            Ev::ClientArrival => self.client_arrival(),
            Ev::ClientToNode { req, node } => {
                if self.slot(node).node.is_some() {
                    let op = self.clients.op(req);
                    if self.cfg.raft.read_index {
                        let applied = self.slot(node).seen.applied;
                        self.clients.read_arrived(req, node, applied);
                    }
                    self.step(node, Input::ClientRequest { req, op });
                }
                // A request to a crashed node is lost; the client's timeout retries it.
            }
            Ev::ClientReply {
                req,
                node,
                reply,
                ret,
                via,
                fresh,
            } => self.client_reply(req, node, reply, ret, via, fresh),
            Ev::ClientResend { req, attempt } => self.client_resend(req, attempt),
            Ev::ClientTimeout { req, attempt } => self.client_timeout(req, attempt),
            Ev::Liveness(check) => self.check_liveness(check),
        }
    }

    /// Starts the quiet phase once every fault event has applied (at once if there are none),
    /// scheduling the checks of the liveness bounds, and notes a stable leader when one exists.
    /// The quiet phase waits for the messages a fault held back (`Network::drained_by`): one
    /// drawn under a delay spike arrives past the spike's end, and on an ordered network holds
    /// every message behind it on its link, so the fault is still in force until it arrives.
    #[cold]
    #[inline(never)]
    fn watch_liveness(&mut self) {
        if self.quiet_since.is_none()
            && !self.quiet_waiting
            && (self.faults.done() || self.faults.list.is_empty())
        {
            let drained = self.net.drained_by();
            if drained > self.now {
                self.quiet_waiting = true;
                // Counted as a check to come, so `stop.when` waits for it; unless it comes
                // after stop.at, when no bound could be judged anyway.
                if drained <= self.cfg.stop.at {
                    self.checks_pending += 1;
                }
                self.queue.push(drained, Ev::Liveness(LivenessCheck::Quiet));
            } else {
                self.start_quiet();
            }
        }
        if self.quiet_since.is_some() && !self.leader_seen && self.stable_leader().is_some() {
            self.leader_seen = true;
        }
        // Like Leader, Membership is met once its condition holds within the bound: a leader
        // that loses its quorum later (CheckQuorum under loss) un-finishes no change; keeping
        // a leader is what Stable Leader judges.
        if self.quiet_since.is_some()
            && !self.membership_settled
            && self.cfg.liveness.membership_within.is_some()
            && self.membership_unsettled().is_none()
        {
            self.membership_settled = true;
        }
    }

    /// The quiet phase starts now: note what the bounds are judged against and schedule them.
    fn start_quiet(&mut self) {
        self.quiet_since = Some(self.now);
        self.outstanding_at_quiet = self.clients.outstanding();
        self.applied_at_quiet = self.slots.iter().map(|s| s.seen.applied).max().unwrap_or(0);
        let l = self.cfg.liveness;
        for (bound, check) in [
            (l.leader_within, LivenessCheck::Leader),
            (l.commit_within, LivenessCheck::Commit),
            (l.converge_within, LivenessCheck::Converge),
            (l.membership_within, LivenessCheck::Membership),
        ] {
            // A bound that would end after stop.at cannot be judged: it is not checked.
            if let Some(at) = bound
                .map(|b| self.now + b)
                .filter(|&at| at <= self.cfg.stop.at)
            {
                self.queue.push(at, Ev::Liveness(check));
                self.checks_pending += 1;
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn check_liveness(&mut self, check: LivenessCheck) {
        if check == LivenessCheck::Quiet {
            if self.now <= self.cfg.stop.at {
                self.checks_pending -= 1;
            }
            self.start_quiet();
            return;
        }
        self.checks_pending -= 1;
        let since = self
            .quiet_since
            .expect("scheduled when the quiet phase started");
        let (property, detail) = match check {
            LivenessCheck::Quiet => unreachable!("handled above"),
            LivenessCheck::Membership => match self.membership_unsettled() {
                _ if self.membership_settled => return,
                None => return,
                Some(why) => (
                    "Liveness: Membership",
                    format!(
                        "{why}, {} after the quiet phase started ({since})",
                        self.now - since
                    ),
                ),
            },
            LivenessCheck::Leader => {
                if self.leader_seen || self.stable_leader().is_some() {
                    return;
                }
                (
                    "Liveness: Leader",
                    format!(
                        "no leader that every live node follows within {} of the quiet phase (from {since})",
                        self.now - since
                    ),
                )
            }
            LivenessCheck::Commit => {
                let late: Vec<u64> = self
                    .outstanding_at_quiet
                    .iter()
                    .copied()
                    .filter(|&r| self.clients.pending(r))
                    .collect();
                if late.is_empty() {
                    return;
                }
                (
                    "Liveness: Commit",
                    format!(
                        "{} of the {} client requests outstanding at the quiet phase ({since}) are still waiting after {} (first: req {})",
                        late.len(),
                        self.outstanding_at_quiet.len(),
                        self.now - since,
                        late[0]
                    ),
                )
            }
            LivenessCheck::Converge => {
                // Every live node has applied what any node had applied when the faults ended
                // (State Machine Safety already holds every applied log to one sequence, so
                // this is the rest of convergence: nobody is left behind).
                let want = self.applied_at_quiet;
                // Of the leader's configuration, when membership changes: a removed server
                // is left behind on purpose. Between leaders, of the configuration of the
                // node that has applied most: the next leader holds every entry that node applied,
                // its configurations included.
                let members = self.members(self.current_leader().unwrap_or_else(|| {
                    self.slots
                        .iter()
                        .filter(|s| s.node.is_some())
                        .max_by_key(|s| (s.seen.applied, std::cmp::Reverse(s.cfg.id)))
                        .map_or(1, |s| s.cfg.id)
                }));
                let behind: Vec<String> = self
                    .slots
                    .iter()
                    .filter(|s| members & (1u64 << (s.cfg.id - 1)) != 0)
                    .filter(|s| s.node.is_some() && s.seen.applied < want)
                    .map(|s| format!("n{} applied {}", s.cfg.id, s.seen.applied))
                    .collect();
                if behind.is_empty() {
                    return;
                }
                (
                    "Liveness: Convergence",
                    format!(
                        "{} of {want} entries applied somewhere when the quiet phase started ({since}), still not everywhere after {}",
                        behind.join(", "),
                        self.now - since
                    ),
                )
            }
        };
        self.fail(property, detail);
    }

    fn drop_msg(&mut self, env: &Envelope<N::Msg>, reason: DropReason, id: u64) {
        self.emit(Event::Drop {
            from: env.from,
            to: env.to,
            msg: env.msg.kind().into(),
            term: env.msg.term(),
            reason: reason.name().into(),
            id: self.trace_messages.then_some(id),
        });
    }

    fn step(&mut self, id: NodeId, input: Input<N::Msg>) {
        // The ticks that passed come first, as they would to a library whose ticker runs
        // beside its message loop.
        if self.slots[id as usize - 1].ticker.is_some()
            && !matches!(input, Input::Ticks(_))
            && !self.give_ticks(id)
        {
            return; // it crashed at a disk write while handling them
        }
        if let Input::Message(env) = &input {
            if let Some(req) = env.msg.vote_request() {
                self.ask_vote(id, env.from, env.msg.term(), req);
            }
        }
        let mut outs = std::mem::take(&mut self.outs);
        let now = self.now;
        let lease_reads = self.cfg.raft.lease_reads;
        let s = &mut self.slots[id as usize - 1];
        let node = s.node.as_mut().expect("step a live node");
        if lease_reads {
            node.observe_clock(clock::local_now(now, s.drift_ppb, s.clock_offset_ns));
        }
        self.in_node = Some(id);
        self.timer_input = matches!(input, Input::Timer(TimerKind::Election) | Input::Ticks(_));
        // A write done or the election timer fired: the timer may restart now, whatever the
        // node makes of it (a firing that found a lease or no configuration re-arms it).
        let restarts = matches!(
            input,
            Input::Persisted(_) | Input::Timer(TimerKind::Election)
        );
        let judge_quorum =
            self.quorum_bound.is_some() && matches!(input, Input::Timer(_) | Input::Ticks(_));
        let was_leader = s.seen.role == Role::Leader;
        node.step(input, &mut outs);
        self.in_node = None;
        self.outs = outs;
        self.process_outputs(id);
        self.timer_input = false;
        if self.quorum_bound.is_some() {
            self.check_quorum_step(id, was_leader, judge_quorum);
        }
        if self.vote_ask.is_some() {
            self.judge_vote(id);
        }
        if self.election_ceiling.is_some() {
            if restarts {
                self.may_restart_election_timer(id, witness::ResetCause::Stepped);
            }
            self.judge_late_election(id);
        }
    }

    /// Observes what the node's step did, then carries out its outputs in order.
    fn process_outputs(&mut self, id: NodeId) {
        let mut outs = std::mem::take(&mut self.outs);
        let (mut writes, mut applies) = (false, false);
        for o in &outs {
            match o {
                Output::Persist { .. } => writes = true,
                Output::Apply { .. } => applies = true,
                _ => {}
            }
        }
        if self.vote_ask.is_some() || self.election_ceiling.is_some() {
            let asker = self.vote_ask.map(|a| a.from);
            for o in &outs {
                if let Output::Send(env) = o {
                    self.vote_regranted |= env.msg.vote_granted() == Some(true);
                    // A pre-vote reply is sent in the step that handles the request.
                    self.pre_vote_granted |=
                        Some(env.to) == asker && env.msg.pre_vote_granted() == Some(true);
                }
            }
        }
        self.witness(id, &outs, writes);
        if std::mem::take(&mut self.vote_regranted) && self.election_ceiling.is_some() {
            // A vote granted again (a repeated request, the vote already on disk) restarts
            // the timer as the first grant did (Figure 2, "Followers").
            self.may_restart_election_timer(id, witness::ResetCause::Regranted);
        }
        let mut crash_after = None;
        if !applies {
            for out in outs.drain(..) {
                crash_after = crash_after.or(self.carry_out(id, out));
            }
        } else {
            let mut prev_apply = false;
            let mut drain = outs.drain(..);
            while let Some(first) = drain.as_slice().first() {
                // What a node applied is what it had committed: each run of applies starts
                // with the commit index it reaches (read ahead, before the outputs are taken).
                let apply = matches!(first, Output::Apply { .. });
                if apply && !prev_apply {
                    let commit_index =
                        witness::commit_of_applies(drain.as_slice()).expect("an apply");
                    self.emit(Event::Commit {
                        node: id,
                        commit_index,
                    });
                    if self.faults.note_commit(commit_index) {
                        self.conditions_met();
                    }
                }
                prev_apply = apply;
                let out = drain.next().expect("looked at above");
                crash_after = crash_after.or(self.carry_out(id, out));
            }
        }
        self.outs = outs;
        if let Some(watch) = crash_after {
            self.crash_for_write(id, watch);
        }
    }

    /// Carries out one output. Returns the crash-at-write watch that wants the node crashed
    /// once this step's outputs are done, if one does.
    #[inline(always)]
    fn carry_out(&mut self, id: NodeId, out: Output<N::Msg>) -> Option<usize> {
        match out {
            Output::Send(env) => {
                if let Some(vote) = witness::sent_record(&env) {
                    self.emit(vote);
                }
                self.send(env)
            }
            Output::SetTimer { kind, min, max } => self.set_timer(id, kind, min, max),
            Output::CancelTimer(kind) => self.slots[id as usize - 1].timers.cancel(kind),
            Output::Ticker { period } => self.start_ticker(id, period),
            Output::WakeAfterTicks(n) => self.wake_after_ticks(id, n),
            Output::Persist {
                seq,
                term,
                voted_for,
                commit,
                ops,
            } => return self.write_issued(id, seq, term, voted_for, commit, ops),
            Output::Apply { index, entry } => {
                let dedup = self.cfg.workload.as_ref().is_none_or(|w| w.sessions);
                let s = &mut self.slots[id as usize - 1];
                let mut ret = None;
                if let Some((req, op)) = entry.command.request() {
                    let gave = s.sm.apply(req, op, dedup);
                    self.clients.applied(req, index, self.now, gave);
                    ret = TRet::of(gave);
                }
                s.seen.applied = index;
                self.emit(Event::Apply {
                    node: id,
                    index,
                    entry: TEntry::from(&entry),
                    ret,
                });
                if let Command::Config { old, new } = entry.command {
                    if index > self.config_applied {
                        self.config_applied = index;
                        self.emit(Event::Membership {
                            phase: if old == 0 { "final" } else { "joint" }.into(),
                            node: id,
                            index,
                            voters: crate::protocol::voter_ids(new),
                            old: crate::protocol::voter_ids(old),
                            action: None,
                        });
                        if old == 0 {
                            self.change_completed();
                        }
                    }
                }
            }
            Output::ClientReply { req, reply } => {
                // The answer is what the node's state machine gave the request when it applied
                // it, or (a node answering before it applied it) what it gives now.
                let mut fresh = workload::Freshness::Fresh;
                let ret = match reply {
                    ClientReply::Committed { .. } => {
                        let op = self.clients.op(req);
                        let sm = &self.slots[id as usize - 1].sm;
                        Some(sm.answer(req).unwrap_or_else(|| sm.evaluate(op)))
                    }
                    // A read served without the log: what the state machine holds now.
                    ClientReply::Read { index } => {
                        let applied = self.slots[id as usize - 1].seen.applied;
                        fresh = self.clients.read_served(req, index, id, applied);
                        let op = self.clients.op(req);
                        Some(self.slots[id as usize - 1].sm.evaluate(op))
                    }
                    ClientReply::NotLeader { .. } => None,
                };
                let via = matches!(reply, ClientReply::Read { .. }).then(|| {
                    let leading = self.slots[id as usize - 1]
                        .node
                        .as_ref()
                        .is_some_and(|n| n.role() == Role::Leader);
                    if leading {
                        TVia::Leader
                    } else {
                        TVia::Follower
                    }
                });
                let d = self.net.client_delay(None);
                self.queue.push(
                    self.now + d,
                    Ev::ClientReply {
                        req,
                        node: id,
                        reply,
                        ret,
                        via,
                        fresh,
                    },
                );
            }
            Output::Note(note) => {
                if let Note::CatchUp { phase, .. } = note {
                    let term = self.slots[id as usize - 1].seen.term;
                    self.faults.catching_up = match phase {
                        CatchUpPhase::Round => Some((id, term)),
                        _ => None,
                    };
                }
                self.emit(Event::from_note(id, note))
            }
        }
        None
    }

    fn send(&mut self, env: Envelope<N::Msg>) {
        let id = self.messages_sent;
        self.messages_sent += 1;
        if self.trace_messages {
            self.emit(Event::Send {
                from: env.from,
                to: env.to,
                msg: env.msg.kind().into(),
                term: env.msg.term(),
                id,
            });
        }
        match self.net.send(env.from, env.to, self.now) {
            Fate::Drop(reason) => self.drop_msg(&env, reason, id),
            Fate::Deliver { delay, copy_delay } => {
                self.in_flight += 1 + copy_delay.is_some() as u64;
                if let Some(d) = copy_delay {
                    self.queue.push(
                        self.now + d,
                        Ev::Deliver {
                            env: env.clone(),
                            id,
                        },
                    );
                }
                self.queue.push(self.now + delay, Ev::Deliver { env, id });
            }
        }
    }

    // ---- node lifecycle (used by faults) ----

    // Rare next to message and timer events: kept out of the event loop's inlined body.
    #[cold]
    #[inline(never)]
    /// Crashes `id`; false (and a `fault_skipped` record) if it was already down.
    fn crash(&mut self, id: NodeId) -> bool {
        let s = self.slot(id);
        if s.node.is_none() {
            self.emit(Event::FaultSkipped {
                reason: format!("crash: n{id} is already down"),
            });
            return false;
        }
        s.node = None;
        s.incarnation += 1;
        s.disk.clear();
        s.paused_until = None;
        s.pauses = 0;
        // Timers of this incarnation never fire on the next.
        s.timers.clear();
        s.ticker = None;
        self.faults.crashed(id);
        self.emit(Event::Crash { node: id });
        true
    }

    #[cold]
    #[inline(never)]
    fn restart(&mut self, id: NodeId) {
        if self.slot(id).node.is_some() {
            self.emit(Event::FaultSkipped {
                reason: format!("restart: n{id} is already up"),
            });
            return;
        }
        let hard = self.slot(id).hard.clone();
        self.emit(Event::Restart {
            node: id,
            term: hard.term,
            voted_for: hard.voted_for,
            log: hard.log.entries().iter().map(TEntry::from).collect(),
        });
        let s = self.slot(id);
        s.seen = Seen::from_disk(&hard);
        s.sm.clear();
        self.reset_election_timer(id, witness::ResetCause::Started);
        let cfg = self.node_config(id);
        self.in_node = Some(id);
        let mut node = N::restart(&cfg, self.opts, hard);
        let mut outs = std::mem::take(&mut self.outs);
        node.start(&mut outs);
        self.in_node = None;
        self.outs = outs;
        self.slot(id).node = Some(node);
        self.process_outputs(id);
    }
}
