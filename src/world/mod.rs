//! One simulation: a scenario and a seed, played on a virtual clock.
//!
//! The loop pops the earliest (time, sequence) event, hands it to a node (or applies a fault,
//! or moves a client), turns the node's outputs into future events through the network, clocks
//! and disks, and passes every observation through the split-vote detector, the checker, the
//! summary and (when on) the trace writer. Everything random is drawn from streams derived from
//! the seed (see `rng`), so a run is a pure function of (scenario, seed).
//!
//! A crash drops the node's volatile state and any disk write not yet complete; its durable
//! state (`HardState`) lives here, outside the node, and a restart rebuilds the node from it.
//! A paused node handles nothing: its events are put back to the moment it resumes, in order.

pub mod net;
pub mod queue;

use std::collections::{BTreeMap, VecDeque};

use crate::base::rng::{Purpose, Rng};
use crate::base::time::{SimDuration, SimTime};
use crate::node::{
    ClientReply, Command, Entry, Envelope, HardState, Input, Log, LogOp, Node, NodeId, Output,
    Role, TimerKind,
};
use crate::observe::check::{Checker, Violation};
use crate::observe::summary::{
    client_stats, kv_digest, SplitVoteDetector, StateMachineSummary, Summary, SummaryBuilder,
};
use crate::observe::trace::{Event, Record, TEntry, TraceWriter};
use crate::scenario::{
    Arrivals, FaultSpec, NamedTarget, Scenario, StopWhen, Target, MAX_DRIFT_PPM,
};
use crate::world::net::{DropReason, Fate, Network};
use crate::world::queue::EventQueue;

#[derive(Clone, Debug)]
enum Ev {
    Deliver(Envelope),
    Timer {
        node: NodeId,
        kind: TimerKind,
        gen: u64,
    },
    Disk {
        node: NodeId,
        incarnation: u32,
        seq: u64,
    },
    FaultStart(usize),
    FaultEnd(usize),
    ClientArrival,
    ClientToNode {
        req: u64,
        node: NodeId,
    },
    ClientReply {
        req: u64,
        node: NodeId,
        reply: ClientReply,
    },
    ClientTimeout {
        req: u64,
        attempt: u32,
    },
    ClientResend {
        req: u64,
        attempt: u32,
    },
    /// Restart after a crash made by [`Simulation::crash_at_write`].
    RestartNode(NodeId),
}

impl Ev {
    /// The node an event is handled by, if any (used to hold events of a paused node).
    fn node(&self) -> Option<NodeId> {
        match self {
            Ev::Deliver(env) => Some(env.to),
            Ev::Timer { node, .. } | Ev::Disk { node, .. } | Ev::ClientToNode { node, .. } => {
                Some(*node)
            }
            _ => None,
        }
    }
}

/// A disk write: one node's batch of writes that complete together (group commit). A write
/// issued while another is in flight waits for it; writes issued while one is already waiting
/// join that waiting batch, so a busy disk never builds an unbounded queue.
struct PendingWrite {
    /// The first and last write (by the node's sequence number) in this batch.
    first_seq: u64,
    seq: u64,
    /// When the disk starts this batch.
    start: SimTime,
    term: u64,
    voted_for: Option<NodeId>,
    ops: Vec<LogOp>,
}

struct Slot {
    node: Option<Node>,
    cfg: crate::node::Config,
    hard: HardState,
    incarnation: u32,
    timer_gen: [u64; 2],
    timer_rng: Rng,
    jitter_rng: Rng,
    disk_rng: Rng,
    disk_free: SimTime,
    disk_queue: VecDeque<PendingWrite>,
    drift_ppb: i64,
    /// While paused: the latest end of the pauses in effect, and how many are in effect
    /// (pauses may overlap; the node resumes when the last one ends).
    paused_until: Option<SimTime>,
    pauses: u32,
    /// The node's state machine: a key-value map fed by applied entries. Volatile: a restart
    /// rebuilds it by applying the log again.
    kv: BTreeMap<u32, u64>,
    applied: u64,
}

struct ClientReq {
    submitted: SimTime,
    key: u32,
    attempt: u32,
    target: NodeId,
    done: Option<(SimTime, bool)>,
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
    /// A safety property failed.
    Violation,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::ConditionMet => "condition_met",
            Outcome::TimeLimit => "time_limit",
            Outcome::EventLimit => "event_limit",
            Outcome::Violation => "violation",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Record the JSON Lines trace (and its hash).
    pub trace: bool,
}

/// What a run produced.
pub struct RunResult {
    pub outcome: Outcome,
    pub summary: Summary,
    pub violation: Option<Violation>,
    pub trace: Option<TraceWriter>,
    /// Time the last fault event (start or end) applied.
    pub last_fault_ns: Option<u64>,
    /// First leader elected after the last fault, and when.
    pub leader_after_faults_ns: Option<u64>,
    pub elections_after_faults: u64,
    pub split_votes_after_faults: u64,
    /// Of those, terms in which two or more candidates stood (the vote really split, rather
    /// than a lone candidate that could not win).
    pub contested_after_faults: u64,
    /// Each node when the run ended, by id - 1; `None` for a node that was down.
    pub nodes_at_end: Vec<Option<NodeEnd>>,
}

/// A live node's state when the run ended.
#[derive(Clone, Debug)]
pub struct NodeEnd {
    pub term: u64,
    pub role: Role,
    pub commit_index: u64,
    pub last_applied: u64,
    pub log: Log,
}

/// Where [`Simulation::crash_at_write`] crashes a node, relative to one of its disk writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritePoint {
    /// Right after the step that issued the write (what that step sent is already on the wire).
    AfterIssue,
    /// At the moment the write would have completed: it is lost.
    BeforeComplete,
    /// Right after the write completed and the node handled the completion.
    AfterComplete,
}

/// A crash aimed at one disk write, for tests of what a crash can lose.
#[derive(Clone, Copy, Debug)]
pub struct WriteCrash {
    /// The k-th disk write of the run (1-based) among those counted.
    pub k: u64,
    /// Count only writes issued by a node that is leader when it issues them.
    pub leader_only: bool,
    pub point: WritePoint,
    /// The crashed node restarts (from its durable state) this long after the crash.
    pub restart_after: SimDuration,
}

pub struct Simulation<'a> {
    sc: &'a Scenario,
    seed: u64,
    now: SimTime,
    queue: EventQueue<Ev>,
    slots: Vec<Slot>,
    net: Network,
    outs: Vec<Output>,
    // observation
    trace: Option<TraceWriter>,
    checker: Checker,
    split: SplitVoteDetector,
    summary: SummaryBuilder,
    derived: Vec<Event>,
    violation: Option<Violation>,
    events: u64,
    /// Trace records observed so far (whether or not the trace is written).
    records: u64,
    messages_sent: u64,
    // faults
    fault_rngs: Vec<Rng>,
    faults_pending: usize,
    last_crashed: Option<NodeId>,
    /// Which node a crash/pause fault hit, so its `until` ends the right one.
    fault_targets: Vec<Option<NodeId>>,
    last_fault: Option<SimTime>,
    leader_after_faults: Option<SimTime>,
    elections_after_faults: u64,
    split_votes_after_faults: u64,
    contested_after_faults: u64,
    // clients
    /// Arrivals draw from one stream (gap, first target, key) and event-driven retries from
    /// another, so a fault that changes retries does not move later arrivals.
    client_rng: Rng,
    retry_rng: Rng,
    reqs: Vec<ClientReq>,
    // test hook: crash at a disk write
    write_crash: Option<WriteCrash>,
    writes_counted: u64,
    /// The write picked by `write_crash`: (node, incarnation, seq).
    write_crash_target: Option<(NodeId, u32, u64)>,
}

fn hard_state_of(sc: &Scenario, id: NodeId) -> HardState {
    let log: Vec<Entry> = sc
        .cluster
        .initial_logs
        .as_ref()
        .map(|logs| {
            logs[id as usize - 1]
                .iter()
                .map(|&t| Entry::noop(t))
                .collect()
        })
        .unwrap_or_default();
    let max_term = sc
        .cluster
        .initial_logs
        .as_ref()
        .map_or(0, |logs| logs.iter().flatten().copied().max().unwrap_or(0));
    match sc.cluster.initial_leader {
        Some(l) => HardState {
            term: max_term.max(1),
            voted_for: Some(l),
            log: Log::from_entries(log),
        },
        None => HardState {
            term: log.last().map_or(0, |e| e.term),
            voted_for: None,
            log: Log::from_entries(log),
        },
    }
}

impl<'a> Simulation<'a> {
    pub fn new(sc: &'a Scenario, seed: u64, opts: RunOptions) -> Simulation<'a> {
        let n = sc.cluster.nodes;
        let mut drift_rng = Rng::stream(seed, Purpose::Clocks, 0);
        let slots = (1..=n)
            .map(|id| {
                let drift_ppm = match &sc.clocks.node_drift_ppm {
                    Some(v) => v[id as usize - 1],
                    None => sc.clocks.drift_ppm.sample(&mut drift_rng),
                }
                .clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
                Slot {
                    node: None,
                    cfg: crate::node::Config {
                        id,
                        cluster_size: n,
                        election_timeout_min: sc.raft.election_timeout[0],
                        election_timeout_max: sc.raft.election_timeout[1],
                        heartbeat_interval: sc.raft.heartbeat_interval,
                        max_entries_per_message: sc.raft.max_entries_per_message,
                        candidate_persist: sc.raft.candidate_persist,
                    },
                    hard: hard_state_of(sc, id),
                    incarnation: 0,
                    timer_gen: [0; 2],
                    timer_rng: Rng::stream(seed, Purpose::Timers, id as u64),
                    jitter_rng: Rng::stream(seed, Purpose::Timers, 1000 + id as u64),
                    disk_rng: Rng::stream(seed, Purpose::Storage, id as u64),
                    disk_free: SimTime::ZERO,
                    disk_queue: VecDeque::new(),
                    drift_ppb: libm::round(drift_ppm * 1000.0) as i64,
                    paused_until: None,
                    pauses: 0,
                    kv: BTreeMap::new(),
                    applied: 0,
                }
            })
            .collect();
        Simulation {
            sc,
            seed,
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(64),
            slots,
            net: Network::new(&sc.network, n, seed),
            outs: Vec::with_capacity(32),
            trace: if opts.trace {
                Some(TraceWriter::default())
            } else {
                None
            },
            checker: Checker::new(n),
            split: SplitVoteDetector::default(),
            summary: SummaryBuilder::default(),
            derived: Vec::new(),
            violation: None,
            events: 0,
            records: 0,
            messages_sent: 0,
            fault_rngs: (0..sc.faults.len())
                .map(|i| Rng::stream(seed, Purpose::Faults, i as u64))
                .collect(),
            faults_pending: 0,
            last_crashed: None,
            fault_targets: vec![None; sc.faults.len()],
            last_fault: None,
            leader_after_faults: None,
            elections_after_faults: 0,
            split_votes_after_faults: 0,
            contested_after_faults: 0,
            client_rng: Rng::stream(seed, Purpose::Workload, 0),
            retry_rng: Rng::stream(seed, Purpose::Workload, 1),
            reqs: Vec::new(),
            write_crash: None,
            writes_counted: 0,
            write_crash_target: None,
        }
    }

    /// Test hook: crash the node that issues the chosen disk write, at the chosen point, and
    /// restart it later. Nothing else about the run changes until that moment.
    pub fn crash_at_write(mut self, wc: WriteCrash) -> Simulation<'a> {
        assert!(wc.k >= 1, "writes are counted from 1");
        self.write_crash = Some(wc);
        self
    }

    /// Crashes `id` for the write-crash hook and schedules its restart.
    fn hook_crash(&mut self, id: NodeId) {
        let wc = self.write_crash.expect("hook set");
        self.crash(id);
        self.queue
            .push(self.now + wc.restart_after, Ev::RestartNode(id));
    }

    fn slot(&mut self, id: NodeId) -> &mut Slot {
        &mut self.slots[id as usize - 1]
    }

    /// Passes an observation to the detector, checker, summary and trace.
    fn emit(&mut self, ev: Event) {
        self.split.on(&ev, &mut self.derived);
        let rec = Record { t: self.now.0, ev };
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
        if self.last_fault.is_some() && self.faults_pending == 0 {
            match rec.ev {
                Event::Election { .. } => self.elections_after_faults += 1,
                Event::SplitVote { ref candidates, .. } => {
                    self.split_votes_after_faults += 1;
                    if candidates.len() >= 2 {
                        self.contested_after_faults += 1;
                    }
                }
                Event::Leader { .. } if self.leader_after_faults.is_none() => {
                    self.leader_after_faults = Some(self.now)
                }
                _ => {}
            }
        }
        if self.violation.is_none() {
            if let Err(v) = self.checker.observe(rec, self.records) {
                self.violation = Some(v);
            }
        }
        self.summary.on(rec);
        if let Some(t) = &mut self.trace {
            t.record(rec);
        }
    }

    pub fn run(mut self) -> RunResult {
        let sc = self.sc;
        self.emit(Event::Start {
            nodes: sc.cluster.nodes,
            seed: self.seed,
            scenario: sc.name.clone(),
        });
        // Boot every node.
        for id in 1..=sc.cluster.nodes {
            let hard = self.slot(id).hard.clone();
            if hard.term > 0 || hard.log.last_index() > 0 {
                self.emit(Event::Boot {
                    node: id,
                    term: hard.term,
                    voted_for: hard.voted_for,
                    log: hard.log.entries().iter().map(TEntry::from).collect(),
                });
            }
            let cfg = self.slot(id).cfg.clone();
            self.slot(id).node = Some(Node::new(cfg, hard));
        }
        for id in 1..=sc.cluster.nodes {
            let mut outs = std::mem::take(&mut self.outs);
            let slot = self.slot(id);
            let node = slot.node.as_mut().expect("booted");
            if sc.cluster.initial_leader == Some(id) {
                node.bootstrap_leader(&mut outs);
            } else {
                node.start(&mut outs);
            }
            self.outs = outs;
            self.process_outputs(id);
        }
        // Schedule faults.
        for (i, f) in sc.faults.iter().enumerate() {
            let at = SimTime(f.at.0)
                + f.jitter
                    .as_ref()
                    .map_or(SimDuration::ZERO, |j| j.sample(&mut self.fault_rngs[i]));
            self.queue.push(at, Ev::FaultStart(i));
            self.faults_pending += 1;
            if let Some(u) = f.until {
                let end = SimTime(u.0).max(at);
                self.queue.push(end, Ev::FaultEnd(i));
                self.faults_pending += 1;
            }
        }
        if let Some(w) = &sc.workload {
            let start = SimTime(w.start.map_or(0, |d| d.0));
            self.queue.push(start, Ev::ClientArrival);
        }

        let stop_at = SimTime(sc.stop.at.0);
        let outcome = loop {
            if self.violation.is_some() {
                break Outcome::Violation;
            }
            if sc.stop.when == Some(StopWhen::LeaderAfterFaults)
                && self.faults_pending == 0
                && self.stable_leader().is_some()
            {
                break Outcome::ConditionMet;
            }
            if self.events >= sc.limits.max_events {
                break Outcome::EventLimit;
            }
            let Some(t) = self.queue.peek_time() else {
                self.now = self.now.max(stop_at);
                break if sc.stop.when.is_some() {
                    Outcome::TimeLimit
                } else {
                    Outcome::Completed
                };
            };
            if t > stop_at {
                self.now = stop_at;
                break if sc.stop.when.is_some() {
                    Outcome::TimeLimit
                } else {
                    Outcome::Completed
                };
            }
            let (t, ev) = self.queue.pop().expect("peeked");
            self.now = t;
            self.events += 1;
            self.handle(ev);
        };
        self.finish(outcome)
    }

    fn finish(mut self, outcome: Outcome) -> RunResult {
        if let Some(v) = &self.violation {
            self.emit(Event::Violation {
                property: v.property.to_string(),
                detail: v.detail.clone(),
            });
        }
        let events = self.events;
        self.emit(Event::End {
            outcome: outcome.name().to_string(),
            events,
        });
        let mut summary = std::mem::take(&mut self.summary.s);
        summary.scenario = self.sc.name.clone();
        summary.seed = self.seed;
        summary.outcome = outcome.name().to_string();
        summary.end_time_ns = self.now.0;
        summary.events = self.events;
        summary.messages_sent = self.messages_sent;
        summary.violation = self.violation.as_ref().map(|v| v.to_string());
        if self.sc.workload.is_some() {
            let reqs: Vec<(u64, Option<(u64, bool)>)> = self
                .reqs
                .iter()
                .map(|r| (r.submitted.0, r.done.map(|(t, ok)| (t.0, ok))))
                .collect();
            summary.state_machines = self
                .slots
                .iter()
                .filter(|s| s.node.is_some())
                .map(|s| StateMachineSummary {
                    node: s.cfg.id,
                    applied: s.applied,
                    keys: s.kv.len() as u64,
                    digest: kv_digest(&s.kv),
                })
                .collect();
            summary.client = Some(client_stats(
                &reqs,
                self.now.0,
                self.sc.raft.election_timeout[1].0,
            ));
        }
        summary.trace_hash = self.trace.as_ref().map(|t| t.hash());
        RunResult {
            outcome,
            summary,
            violation: self.violation,
            trace: self.trace,
            last_fault_ns: self.last_fault.map(|t| t.0),
            leader_after_faults_ns: self.leader_after_faults.map(|t| t.0),
            elections_after_faults: self.elections_after_faults,
            split_votes_after_faults: self.split_votes_after_faults,
            contested_after_faults: self.contested_after_faults,
            nodes_at_end: self
                .slots
                .iter()
                .map(|s| {
                    s.node.as_ref().map(|n| NodeEnd {
                        term: n.term(),
                        role: n.role(),
                        commit_index: n.commit_index(),
                        last_applied: n.last_applied(),
                        log: n.log().clone(),
                    })
                })
                .collect(),
        }
    }

    /// A live leader that every other live, unpaused node follows in its term.
    /// The live leader of the highest term, if any.
    fn current_leader(&self) -> Option<&Node> {
        self.slots
            .iter()
            .filter_map(|s| s.node.as_ref())
            .filter(|n| n.role() == Role::Leader)
            .max_by_key(|n| n.term())
    }

    fn stable_leader(&self) -> Option<NodeId> {
        let leader = self.current_leader()?;
        let (id, term) = (leader.id(), leader.term());
        let all = self
            .slots
            .iter()
            .filter(|s| s.paused_until.is_none())
            .filter_map(|s| s.node.as_ref())
            .all(|n| n.id() == id || (n.term() == term && n.leader() == Some(id)));
        all.then_some(id)
    }

    fn handle(&mut self, ev: Ev) {
        if let Some(id) = ev.node() {
            if let Some(until) = self.slots[id as usize - 1].paused_until {
                if self.now < until {
                    self.queue.push(until, ev);
                    return;
                }
            }
        }
        match ev {
            Ev::Deliver(env) => {
                let (from, to) = (env.from, env.to);
                if let Some(reason) = self.net.blocked(from, to) {
                    self.drop_msg(&env, reason);
                } else if self.slot(to).node.is_none() {
                    self.drop_msg(&env, DropReason::NodeDown);
                } else {
                    self.step(to, Input::Message(env));
                }
            }
            Ev::Timer { node, kind, gen } => {
                let s = self.slot(node);
                if s.node.is_some() && s.timer_gen[kind as usize] == gen {
                    self.step(node, Input::Timer(kind));
                }
            }
            Ev::Disk {
                node,
                incarnation,
                seq,
            } => {
                if self.slot(node).incarnation != incarnation {
                    return;
                }
                let batch = self
                    .slot(node)
                    .disk_queue
                    .front()
                    .map(|w| (w.first_seq, w.seq))
                    .expect("a write is pending");
                debug_assert_eq!(batch.0, seq, "disk writes complete in order");
                let hooked = self.write_crash_target.is_some_and(|(n, i, k)| {
                    (n, i) == (node, incarnation) && (batch.0..=batch.1).contains(&k)
                });
                let point = self.write_crash.map(|w| w.point);
                if hooked && point == Some(WritePoint::BeforeComplete) {
                    self.hook_crash(node);
                    return;
                }
                let s = self.slot(node);
                let w = s.disk_queue.pop_front().expect("a write is pending");
                let seq = w.seq;
                s.hard.apply_write(w.term, w.voted_for, &w.ops);
                self.step(node, Input::Persisted(seq));
                if hooked && point == Some(WritePoint::AfterComplete) {
                    self.hook_crash(node);
                }
            }
            Ev::FaultStart(i) => self.fault(i, true),
            Ev::FaultEnd(i) => self.fault(i, false),
            Ev::ClientArrival => self.client_arrival(),
            Ev::ClientToNode { req, node } => {
                if self.slot(node).node.is_some() {
                    let key = self.reqs[req as usize].key;
                    self.step(
                        node,
                        Input::ClientRequest {
                            req,
                            key,
                            value: req,
                        },
                    );
                }
                // A request to a crashed node is lost; the client's timeout retries it.
            }
            Ev::ClientReply { req, node, reply } => self.client_reply(req, node, reply),
            Ev::RestartNode(id) => self.restart(id),
            Ev::ClientResend { req, attempt } => {
                let r = &self.reqs[req as usize];
                if r.done.is_none() && r.attempt == attempt {
                    self.client_send(req);
                }
            }
            Ev::ClientTimeout { req, attempt } => {
                let r = &self.reqs[req as usize];
                if r.done.is_none() && r.attempt == attempt {
                    self.client_retry(req, None);
                }
            }
        }
    }

    fn drop_msg(&mut self, env: &Envelope, reason: DropReason) {
        self.emit(Event::Drop {
            from: env.from,
            to: env.to,
            msg: env.msg.kind().into(),
            term: env.msg.term(),
            reason: reason.name().into(),
        });
    }

    fn step(&mut self, id: NodeId, input: Input) {
        let mut outs = std::mem::take(&mut self.outs);
        let node = self.slots[id as usize - 1]
            .node
            .as_mut()
            .expect("step a live node");
        node.step(input, &mut outs);
        self.outs = outs;
        self.process_outputs(id);
    }

    fn process_outputs(&mut self, id: NodeId) {
        let mut outs = std::mem::take(&mut self.outs);
        let mut crash_after = false;
        for out in outs.drain(..) {
            match out {
                Output::Send(env) => self.send(env),
                Output::SetTimer { kind, min, max } => {
                    let s = &mut self.slots[id as usize - 1];
                    s.timer_gen[kind as usize] += 1;
                    let local = if min == max {
                        min.0
                    } else {
                        s.timer_rng.range_inclusive(min.0, max.0)
                    };
                    let virt = local_to_virtual(local, s.drift_ppb);
                    let jitter = if self.sc.clocks.timer_jitter.is_zero() {
                        0
                    } else {
                        self.sc.clocks.timer_jitter.sample(&mut s.jitter_rng).0
                    };
                    let gen = s.timer_gen[kind as usize];
                    self.queue.push(
                        self.now + SimDuration(virt + jitter),
                        Ev::Timer {
                            node: id,
                            kind,
                            gen,
                        },
                    );
                }
                Output::CancelTimer(kind) => {
                    self.slots[id as usize - 1].timer_gen[kind as usize] += 1
                }
                Output::Persist {
                    seq,
                    term,
                    voted_for,
                    ops,
                } => {
                    let s = &mut self.slots[id as usize - 1];
                    let now = self.now;
                    let joined = match s.disk_queue.back_mut() {
                        Some(w) if w.start > now => {
                            w.seq = seq;
                            w.term = term;
                            w.voted_for = voted_for;
                            w.ops.extend(ops);
                            true
                        }
                        _ => {
                            let latency = if self.sc.storage.write_latency.is_zero() {
                                SimDuration::ZERO
                            } else {
                                self.sc.storage.write_latency.sample(&mut s.disk_rng)
                            };
                            let start = now.max(s.disk_free);
                            s.disk_free = start + latency;
                            s.disk_queue.push_back(PendingWrite {
                                first_seq: seq,
                                seq,
                                start,
                                term,
                                voted_for,
                                ops,
                            });
                            false
                        }
                    };
                    let done = s.disk_free;
                    let incarnation = s.incarnation;
                    if let Some(wc) = self.write_crash {
                        let leader = s.node.as_ref().map(|n| n.role()) == Some(Role::Leader);
                        if self.write_crash_target.is_none() && (leader || !wc.leader_only) {
                            self.writes_counted += 1;
                            if self.writes_counted == wc.k {
                                self.write_crash_target = Some((id, incarnation, seq));
                                if wc.point == WritePoint::AfterIssue {
                                    crash_after = true;
                                }
                            }
                        }
                    }
                    if !joined {
                        self.queue.push(
                            done,
                            Ev::Disk {
                                node: id,
                                incarnation,
                                seq,
                            },
                        );
                    }
                }
                Output::Apply { index, entry } => {
                    let s = &mut self.slots[id as usize - 1];
                    if let Command::Put { key, value, .. } = entry.command {
                        s.kv.insert(key, value);
                    }
                    s.applied = index;
                    self.emit(Event::Apply {
                        node: id,
                        index,
                        entry: TEntry::from(&entry),
                    })
                }
                Output::ClientReply { req, reply } => {
                    let d = self.net.client_delay(None);
                    self.queue.push(
                        self.now + d,
                        Ev::ClientReply {
                            req,
                            node: id,
                            reply,
                        },
                    );
                }
                Output::Note(note) => self.emit(Event::from_note(id, note)),
            }
        }
        self.outs = outs;
        if crash_after {
            self.hook_crash(id);
        }
    }

    fn send(&mut self, env: Envelope) {
        self.messages_sent += 1;
        match self.net.send(env.from, env.to) {
            Fate::Drop(reason) => self.drop_msg(&env, reason),
            Fate::Deliver { delay, copy_delay } => {
                if let Some(d) = copy_delay {
                    self.queue.push(self.now + d, Ev::Deliver(env.clone()));
                }
                self.queue.push(self.now + delay, Ev::Deliver(env));
            }
        }
    }

    // ---- faults ----

    fn resolve(&mut self, i: usize, t: Target) -> Option<NodeId> {
        let leader = self.current_leader().map(|n| n.id());
        match t {
            Target::Node(id) => Some(id),
            Target::Named(NamedTarget::LastCrashed) => self.last_crashed,
            Target::Named(NamedTarget::Leader) => leader,
            Target::Named(named @ (NamedTarget::Random | NamedTarget::Follower)) => {
                let live: Vec<NodeId> = self
                    .slots
                    .iter()
                    .filter_map(|s| s.node.as_ref().map(|n| n.id()))
                    .filter(|&id| named == NamedTarget::Random || Some(id) != leader)
                    .collect();
                if live.is_empty() {
                    None
                } else {
                    let k = self.fault_rngs[i].range_inclusive(0, live.len() as u64 - 1);
                    Some(live[k as usize])
                }
            }
        }
    }

    // Rare next to message and timer events: kept out of the event loop's inlined body.
    #[cold]
    #[inline(never)]
    fn fault(&mut self, i: usize, start: bool) {
        let f: &FaultSpec = &self.sc.faults[i];
        self.faults_pending -= 1;
        self.last_fault = Some(self.now);
        if let Some(t) = f.crash {
            if start {
                let target = self.resolve(i, t);
                self.fault_targets[i] = target;
                match target {
                    Some(id) => self.crash(id),
                    None => self.emit(Event::FaultSkipped {
                        reason: format!("crash: there is no {}", target_name(t)),
                    }),
                }
            } else if let Some(id) = self.fault_targets[i] {
                self.restart(id);
            }
        } else if let Some(t) = f.restart {
            match self.resolve(i, t) {
                Some(id) => self.restart(id),
                None => self.emit(Event::FaultSkipped {
                    reason: format!("restart: there is no {}", target_name(t)),
                }),
            }
        } else if let Some(groups) = &f.partition {
            self.net.set_partition(groups, start);
            let groups = groups.clone();
            self.emit(if start {
                Event::Partition { groups }
            } else {
                Event::Heal { groups }
            });
        } else if let Some(c) = f.cut {
            self.net.set_cut(c.from, c.to, start);
            self.emit(if start {
                Event::Cut {
                    from: c.from,
                    to: c.to,
                }
            } else {
                Event::Restore {
                    from: c.from,
                    to: c.to,
                }
            });
        } else if let Some(t) = f.pause {
            if start {
                let target = self
                    .resolve(i, t)
                    .filter(|&id| self.slots[id as usize - 1].node.is_some());
                self.fault_targets[i] = target;
                if let Some(id) = target {
                    let until = SimTime(f.until.expect("validated").0);
                    let s = self.slot(id);
                    s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
                    s.pauses += 1;
                    self.emit(Event::Pause {
                        node: id,
                        until: until.0,
                    });
                } else {
                    self.emit(Event::FaultSkipped {
                        reason: format!("pause: {} is not a live node", target_name(t)),
                    });
                }
            } else if let Some(id) = self.fault_targets[i] {
                // A crash ends every pause of the node; otherwise resume with the last pause.
                let s = self.slot(id);
                if s.pauses > 0 {
                    s.pauses -= 1;
                    if s.pauses == 0 {
                        s.paused_until = None;
                        self.emit(Event::Resume { node: id });
                    }
                }
            }
        }
    }

    // Rare next to message and timer events: kept out of the event loop's inlined body.
    #[cold]
    #[inline(never)]
    fn crash(&mut self, id: NodeId) {
        let s = self.slot(id);
        if s.node.is_none() {
            self.emit(Event::FaultSkipped {
                reason: format!("crash: n{id} is already down"),
            });
            return;
        }
        s.node = None;
        s.incarnation += 1;
        s.disk_queue.clear();
        s.disk_free = SimTime::ZERO;
        s.paused_until = None;
        s.pauses = 0;
        self.last_crashed = Some(id);
        self.emit(Event::Crash { node: id });
    }

    // Rare next to message and timer events: kept out of the event loop's inlined body.
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
        let cfg = self.slot(id).cfg.clone();
        let mut node = Node::new(cfg, hard);
        self.slot(id).kv.clear();
        self.slot(id).applied = 0;
        let mut outs = std::mem::take(&mut self.outs);
        node.start(&mut outs);
        self.outs = outs;
        self.slot(id).node = Some(node);
        self.process_outputs(id);
    }

    // ---- clients ----

    fn client_arrival(&mut self) {
        let w = self.sc.workload.as_ref().expect("workload");
        if let Some(end) = w.end {
            if self.now.0 >= end.0 {
                return;
            }
        }
        let req = self.reqs.len() as u64;
        let target = self
            .client_rng
            .range_inclusive(1, self.sc.cluster.nodes as u64) as NodeId;
        let key = (self.client_rng.next_u64() % w.keys as u64) as u32;
        self.reqs.push(ClientReq {
            submitted: self.now,
            key,
            attempt: 1,
            target,
            done: None,
        });
        self.client_send(req);
        let gap_ns = match w.arrivals {
            Arrivals::Fixed => 1e9 / w.requests_per_second,
            Arrivals::Poisson => self.client_rng.exponential(1e9 / w.requests_per_second),
        };
        let gap = SimDuration(libm::round(gap_ns).max(1.0) as u64);
        self.queue.push(self.now + gap, Ev::ClientArrival);
    }

    fn client_send(&mut self, req: u64) {
        let (node, attempt) = {
            let r = &self.reqs[req as usize];
            (r.target, r.attempt)
        };
        self.emit(Event::ClientRequest { req, node, attempt });
        let d = self.net.client_delay(Some(node));
        self.queue
            .push(self.now + d, Ev::ClientToNode { req, node });
        let timeout = self.sc.workload.as_ref().expect("workload").request_timeout;
        self.queue
            .push(self.now + timeout, Ev::ClientTimeout { req, attempt });
    }

    fn client_reply(&mut self, req: u64, node: NodeId, reply: ClientReply) {
        let r = &mut self.reqs[req as usize];
        if r.done.is_some() {
            return;
        }
        match reply {
            ClientReply::Committed { .. } => {
                r.done = Some((self.now, true));
                let latency = self.now.0 - r.submitted.0;
                self.emit(Event::ClientDone {
                    req,
                    ok: true,
                    latency,
                });
            }
            ClientReply::NotLeader { hint } => {
                if node == r.target {
                    self.client_retry(req, hint);
                }
            }
        }
    }

    fn client_retry(&mut self, req: u64, hint: Option<NodeId>) {
        let w = self.sc.workload.as_ref().expect("workload");
        let (max_attempts, backoff) = (w.max_attempts, w.retry_backoff);
        let r = &mut self.reqs[req as usize];
        if r.attempt >= max_attempts {
            r.done = Some((self.now, false));
            let latency = self.now.0 - r.submitted.0;
            self.emit(Event::ClientDone {
                req,
                ok: false,
                latency,
            });
            return;
        }
        r.attempt += 1;
        match hint {
            Some(h) if h != r.target => {
                r.target = h;
                self.client_send(req);
            }
            _ => {
                // No leader known: back off, then try a random node.
                r.target = self
                    .retry_rng
                    .range_inclusive(1, self.sc.cluster.nodes as u64)
                    as NodeId;
                let attempt = r.attempt;
                self.queue
                    .push(self.now + backoff, Ev::ClientResend { req, attempt });
            }
        }
    }
}

/// How a fault target reads in a `fault_skipped` reason.
fn target_name(t: Target) -> String {
    match t {
        Target::Node(id) => format!("n{id}"),
        Target::Named(NamedTarget::Leader) => "leader".into(),
        Target::Named(NamedTarget::Follower) => "live follower".into(),
        Target::Named(NamedTarget::Random) => "live node".into(),
        Target::Named(NamedTarget::LastCrashed) => "crashed node".into(),
    }
}

/// Converts a duration on a node's clock to virtual time: a clock running fast by `ppb` parts
/// per billion reaches a local deadline early.
pub fn local_to_virtual(local_ns: u64, drift_ppb: i64) -> u64 {
    if drift_ppb == 0 {
        return local_ns;
    }
    let denom = 1_000_000_000i128 + drift_ppb as i128;
    ((local_ns as i128 * 1_000_000_000i128 + denom / 2) / denom) as u64
}

/// Runs a scenario with a seed.
pub fn run(sc: &Scenario, seed: u64, opts: RunOptions) -> RunResult {
    Simulation::new(sc, seed, opts).run()
}
