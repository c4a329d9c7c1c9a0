//! The run configuration: everything the simulated world needs, typed and already validated.
//!
//! A scenario file is parsed and checked once (`crate::scenario`) and compiled into a
//! [`RunConfig`]; the world reads only this. Nothing here can be missing or out of range at
//! run time: options that a file may leave out have their defaults filled in by the compiler.

use crate::base::dist::{DurationDist, NumberDist};
use crate::base::time::{SimDuration, SimTime};
use crate::protocol::{Config, HardState, NodeId};

/// One run's settings, minus the seed.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The scenario's name (traced in `start`, names output folders).
    pub name: String,
    /// What the seed drew of the cluster's shape (a scenario's `draw`), traced in `start`.
    pub drawn: Option<String>,
    pub nodes: u32,
    /// Each node's durable state at the start, by id - 1.
    pub initial: Vec<HardState>,
    /// Start with this node leading (an established cluster, as in Figure 16).
    pub initial_leader: Option<NodeId>,
    /// The Raft settings every node gets (`id` is set per node).
    pub raft: Config,
    pub network: NetConfig,
    pub clocks: ClockConfig,
    /// Time for one durable write; writes queue and batch per node (group commit).
    pub write_latency: DurationDist,
    /// Per kind of write, (one sync's time, syncs): replaces `write_latency` for the writes
    /// that change the term or vote, and for those with log operations.
    pub metadata_write: Option<(DurationDist, u32)>,
    pub log_write: Option<(DurationDist, u32)>,
    pub workload: Option<Workload>,
    /// The fault schedule, in file order (ties at one time apply in this order).
    pub faults: Vec<Fault>,
    /// Faults drawn from the seed at the start of the run, appended to `faults`.
    pub generators: Vec<Generator>,
    pub stop: Stop,
    pub liveness: Liveness,
    /// The run ends with outcome `event_limit` after this many events.
    pub max_events: u64,
    /// The run ends with outcome `queue_limit` when more events than this wait in the queue at
    /// once (at most [`MAX_QUEUED_EVENTS`]).
    pub max_queued: u64,
    /// The run ends with outcome `queue_limit` when more messages than this are in flight at
    /// once. Each message holds the node's payload (the built-in node's AppendEntries carries
    /// up to `max_entries_per_message` entries), so the compiler sets this from the payload size.
    pub max_in_flight: u64,
}

/// The most events a run may hold in its queue at once: messages in flight, timers (a reset
/// timer's old event stays queued until its time), disk writes and client timeouts. A run that
/// gets there is receiving far more than its cluster handles; at about 100 bytes an event, the
/// queue then holds about 200 MB.
pub const MAX_QUEUED_EVENTS: u64 = 1 << 21;

#[derive(Clone, Debug)]
pub struct NetConfig {
    pub delay: DurationDist,
    pub loss: f64,
    pub duplicate: f64,
    /// Receiver's handling time, added to every message's delay.
    pub processing: DurationDist,
    /// Per-direction overrides.
    pub links: Vec<LinkConfig>,
    /// Each direction delivers in send order (see `world::net`).
    pub ordered: bool,
}

impl Default for NetConfig {
    /// 1 ms one way, no loss, duplication or processing time.
    fn default() -> Self {
        NetConfig {
            delay: DurationDist::Constant(SimDuration::from_millis(1)),
            loss: 0.0,
            duplicate: 0.0,
            processing: DurationDist::ZERO,
            links: Vec::new(),
            ordered: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LinkConfig {
    pub from: NodeId,
    pub to: NodeId,
    pub delay: Option<DurationDist>,
    pub loss: Option<f64>,
    pub duplicate: Option<f64>,
}

#[derive(Clone, Debug)]
pub enum Drift {
    /// Drawn once per node from this distribution (ppm), clamped to ±[`MAX_DRIFT_PPM`].
    Drawn(NumberDist),
    /// Given per node, by id - 1.
    PerNode(Vec<f64>),
}

/// The largest clock drift a node can have, in parts per million (10%).
pub const MAX_DRIFT_PPM: f64 = 100_000.0;

#[derive(Clone, Debug)]
pub struct ClockConfig {
    pub drift: Drift,
    /// Operating-system wake-up latency added to every timer.
    pub timer_jitter: DurationDist,
    /// Every armed duration is rounded to the nearest multiple of this (ns; 0: not rounded).
    pub timer_resolution: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    Fixed,
    Poisson,
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub requests_per_second: f64,
    pub arrivals: Arrivals,
    pub start: SimTime,
    pub end: Option<SimTime>,
    pub max_attempts: u32,
    pub request_timeout: SimDuration,
    pub retry_backoff: SimDuration,
    pub keys: u32,
    /// First attempts go to the leader the clients last learned of, not to a random node.
    pub remember_leader: bool,
    /// Shares of gets and CAS among requests; the rest are puts.
    pub reads: f64,
    pub cas: f64,
    /// The state machine applies a request once (dissertation §6.3; see `world::kv`).
    pub sessions: bool,
}

impl Workload {
    /// Whether requests other than puts are drawn: then requests are traced with what they
    /// ask and the run's client history is checked for linearizability.
    pub fn mixed(&self) -> bool {
        self.reads > 0.0 || self.cas > 0.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopWhen {
    /// After the last fault event, a live leader that every other live, unpaused node follows.
    LeaderAfterFaults,
}

#[derive(Clone, Copy, Debug)]
pub struct Stop {
    pub at: SimTime,
    pub when: Option<StopWhen>,
}

/// Liveness bounds, measured from the quiet phase: the moment every fault event has applied
/// (the start of the run when there are none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Liveness {
    /// A leader that every other live, unpaused node follows must exist within this.
    pub leader_within: Option<SimDuration>,
    /// Every client request still outstanding when the quiet phase starts must have finished
    /// within this: committed, or given up by its client (whose retry budget the summary
    /// reports), not still waiting.
    pub commit_within: Option<SimDuration>,
    /// Every live node must have applied, within this, every entry any node had applied when
    /// the quiet phase started.
    pub converge_within: Option<SimDuration>,
    /// Every configuration change must have completed within this: a running leader whose
    /// latest configuration is C_new alone (not joint) and committed.
    pub membership_within: Option<SimDuration>,
    /// Checked by the summary's observer, not the world: in every window with a connected
    /// majority, a stable leader holds from this long after the window starts
    /// (`crate::observe::availability`).
    pub stable_leader_after: Option<SimDuration>,
}

/// A node chosen by id, or by role at the moment the fault applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Node(NodeId),
    /// The live leader of the highest term; nothing if none.
    Leader,
    /// A live node other than the current leader, drawn from the fault's stream.
    Follower,
    /// A live node, drawn from the fault's stream.
    Random,
    /// The node most recently crashed.
    LastCrashed,
}

impl Target {
    /// How the target reads in a `fault_skipped` reason.
    pub fn describe(self) -> String {
        match self {
            Target::Node(id) => format!("n{id}"),
            Target::Leader => "leader".into(),
            Target::Follower => "live follower".into(),
            Target::Random => "live node".into(),
            Target::LastCrashed => "crashed node".into(),
        }
    }
}

/// Where a [`FaultKind::CrashAtWrite`] crashes a node, relative to one of its disk writes.
/// Scenario files name it in snake case (`"after_issue"`, ...).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WritePoint {
    /// Right after the step that issued the write (what that step sent is already on the wire).
    AfterIssue,
    /// At the moment the write would have completed: it is lost.
    BeforeComplete,
    /// Right after the write completed and the node handled the completion.
    AfterComplete,
}

/// What a fault does. Executed by one module, `world::faults`.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Volatile state and writes in flight are lost; `until` restarts the same node.
    Crash(Target),
    /// Restart a crashed node from its durable state.
    Restart(Target),
    /// Messages between groups are dropped; unlisted nodes form one more group.
    Partition(Vec<Vec<NodeId>>),
    /// Messages from→to are dropped (one direction).
    Cut { from: NodeId, to: NodeId },
    /// The node handles nothing until `until` (also the fault's end); what arrives meanwhile
    /// waits.
    Pause { target: Target, until: SimTime },
    /// Cut the target off from every other node (both directions) until `until`.
    Isolate(Target),
    /// Every message sent meanwhile is lost with this extra probability.
    LossBurst(f64),
    /// Every message sent meanwhile is duplicated with this extra probability.
    DuplicateBurst(f64),
    /// Every message sent meanwhile takes this much longer (heavy-tailed: replies that arrive
    /// after an election timeout).
    DelaySpike(DurationDist),
    /// The target's clock steps: its armed timers come `by` sooner (or later, `back`).
    ClockJump {
        target: Target,
        by: SimDuration,
        back: bool,
    },
    /// An operator asks the current leader to hand leadership to this node (dissertation
    /// §3.10): a scripted action rather than a failure. No end.
    TransferLeadership(NodeId),
    /// An operator asks the current leader to make these the voters (a bit set over node ids,
    /// see [`crate::protocol::voter_ids`]) by joint consensus (paper §6). No end.
    ChangeMembership(u64),
    /// An operator asks the current leader to change its configuration by one server added,
    /// one removed, or both (a replacement), by joint consensus (paper §6). Resolved when it
    /// fires, against the leader's latest configuration: `remove` is a voter (`Node`,
    /// `Leader`, `Follower`: a voter other than the leader, `Random`: any voter) and `add` a
    /// node outside it (`Node`, or `Random`); each drawn from the fault's own stream. No end.
    Reconfigure {
        add: Option<Target>,
        remove: Option<Target>,
    },
    /// Crash the node that issues the k-th disk write counted from the fault's start (only
    /// writes issued by a leader if `leader_only`), at `point`, and restart it `restart_after`
    /// later.
    CrashAtWrite {
        k: u64,
        leader_only: bool,
        point: WritePoint,
        restart_after: SimDuration,
    },
}

/// What must hold for a conditional fault to fire, watched from its start (`at`): every given
/// part. Each part is judged on records the world emits anyway (commits, configuration
/// transitions), never by scanning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    /// Some node has applied this index: a leader has committed it.
    pub committed: Option<u64>,
    /// This many configuration changes have completed (their C_new committed) in the run.
    pub changes_done: Option<u32>,
}

impl Condition {
    /// How the condition reads in a trace record: `committed >= 50, changes_done >= 1`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.committed {
            parts.push(format!("committed >= {c}"));
        }
        if let Some(c) = self.changes_done {
            parts.push(format!("changes_done >= {c}"));
        }
        parts.join(", ")
    }

    /// Whether it holds with `committed` the highest index applied anywhere and `changes`
    /// the configuration changes completed so far.
    pub fn holds(&self, committed: u64, changes: u32) -> bool {
        self.committed.is_none_or(|c| committed >= c)
            && self.changes_done.is_none_or(|c| changes >= c)
    }
}

/// One scheduled fault.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub at: SimTime,
    /// Fire only once this holds (from `at` on); `until` is then when to stop waiting. Only
    /// for membership actions (`ChangeMembership`, `Reconfigure`).
    pub when: Option<Condition>,
    /// A random delay added to `at`, drawn from the fault's own stream.
    pub jitter: Option<DurationDist>,
    /// When the fault ends (heal, restore, resume, restart).
    pub until: Option<SimTime>,
    pub kind: FaultKind,
}

/// The kinds of fault a [`Generator`] may draw. Scenario files name them in snake case
/// (`"crash_at_write"`, ...).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GenKind {
    /// A node crashes and restarts (sometimes at once: a voter back mid-election).
    Crash,
    /// A node crashes around one of its disk writes and restarts.
    CrashAtWrite,
    /// A random minority is cut off from the majority.
    Partition,
    /// The leader (or a random node) is cut off from everyone.
    Isolate,
    /// One direction of one link is cut.
    Cut,
    /// A node stops for longer than an election timeout.
    Pause,
    /// Much of the traffic is lost for a while.
    LossBurst,
    /// Much of the traffic is duplicated for a while.
    DuplicateBurst,
    /// Messages are delayed past an election timeout for a while.
    DelaySpike,
    /// A node's clock steps forward (its election timer fires early) or back.
    ClockJump,
    /// The leader is asked to add a server, remove one (perhaps itself) or replace one
    /// (joint consensus, paper §6).
    Membership,
}

impl GenKind {
    /// The kinds a generator draws when its `kinds` is left out. `ClockJump` and
    /// `Membership` are drawn only when listed, so that the seeds measured before they existed
    /// keep their faults.
    pub const ALL: [GenKind; 9] = [
        GenKind::Crash,
        GenKind::CrashAtWrite,
        GenKind::Partition,
        GenKind::Isolate,
        GenKind::Cut,
        GenKind::Pause,
        GenKind::LossBurst,
        GenKind::DuplicateBurst,
        GenKind::DelaySpike,
    ];
}

/// Faults drawn from the seed ("swarm" testing): each seed enables a random subset of `kinds`
/// with random weights, then draws faults at Poisson times within [from, until); every drawn
/// fault ends by `until`, so a quiet phase follows in which the cluster must recover.
#[derive(Clone, Debug, PartialEq)]
pub struct Generator {
    pub from: SimTime,
    pub until: SimTime,
    pub kinds: Vec<GenKind>,
    pub max_faults: u32,
    pub mean_gap: SimDuration,
}
