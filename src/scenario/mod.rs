//! The scenario file: its serde schema, validation, and errors a user can act on.
//!
//! A scenario names the cluster, the Raft settings, the network, clocks, storage, client load,
//! a schedule of faults and when to stop. Unknown fields are rejected, durations are readable
//! strings, and every semantic check (a min timeout above its max, a node id outside the
//! cluster, a node in two partition groups, ...) reports the file, the field path, the line and
//! column of that field in the file, and what is allowed. `raftsim schema` prints the JSON
//! Schema derived from these types.
//!
//! The checks live in `validate`, one function per section of the file, run in a fixed order
//! so that the error reported first never changes.
//!
//! This module only describes and checks; `compile` turns a validated `Scenario` into a run's
//! configuration.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::base::dist::{DurationDist, NumberDist};
use crate::base::time::SimDuration;
use crate::nodes::NodeKind;
use crate::protocol::NodeId;

/// The scenario format version this build reads.
pub const VERSION: u32 = 1;

/// The largest term an initial log may hold, far from where term arithmetic could overflow.
pub const MAX_TERM: u64 = 1 << 32;

pub use crate::world::config::{GenKind, WritePoint, MAX_DRIFT_PPM};

/// The largest scenario file read, in bytes (1 MiB). A scenario is a few KB; its only part that
/// can grow large is `cluster.initial_logs`, which every node, its disk and the checker copy,
/// so 1 MiB of it (half a million entries) already costs a run about 100 MB.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// The most client requests one run may issue (`requests_per_second` × the time the workload
/// runs). Every request is kept for the run's client statistics and becomes an entry in every
/// node's log; logs are kept whole (there are no snapshots), by the nodes, their disks and the
/// checker, about 120 bytes per node and entry. See also [`MAX_CLIENT_LOG_ENTRIES`].
pub const MAX_CLIENT_REQUESTS: u64 = 1_000_000;

/// The most log entries a workload may add across the cluster (requests × nodes): with more
/// than 5 nodes, fewer requests than [`MAX_CLIENT_REQUESTS`] are allowed, so that a run's logs
/// stay within about 1 GB.
pub const MAX_CLIENT_LOG_ENTRIES: u64 = 5_000_000;

/// The most entries one AppendEntries may carry. A leader may have many messages in flight,
/// each a copy of up to this many entries; the run's bound on messages in flight is this
/// budget divided by it (see `compile`).
pub const MAX_ENTRIES_PER_MESSAGE: usize = 1024;

/// The most trials a sweep may run, per configuration and across its grid. One result row per
/// trial is kept in memory until the sweep ends and written to trials.csv (about 300 bytes per
/// trial in all), so 1,000,000 trials take about 300 MB; at 76,000 trials/s per core, about
/// 7 s on two cores.
pub const MAX_TRIALS: u64 = 1_000_000;

/// The most configurations a sweep's grid may hold (ranges × cluster sizes × each `--set`
/// axis's values). Each holds its own scenario and compiled run, a row in summary.csv and a
/// line in the plots, which stop being readable long before this.
pub const MAX_CONFIGURATIONS: u64 = 1_000;

pub mod compile;
mod validate;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; must be 1.
    pub version: u32,
    /// Short name, used in output folder names.
    pub name: String,
    /// What the scenario shows, in a sentence or three.
    #[serde(default)]
    pub description: String,
    /// Default seed; `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// The Raft implementation under test: `raftsim` (the built-in node, the default) or
    /// `raft-rs` (tikv's raft crate). `--set node=raft-rs` chooses it on any command.
    #[serde(default, skip_serializing_if = "NodeKind::is_default")]
    pub node: NodeKind,
    pub cluster: ClusterSpec,
    pub raft: RaftSpec,
    /// Settings of the raft-rs adapter (`node: raft-rs` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_rs: Option<RaftRsSpec>,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub clocks: ClockSpec,
    #[serde(default)]
    pub storage: StorageSpec,
    /// Client load; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadSpec>,
    /// Faults, applied in time order (ties in file order).
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    pub stop: StopSpec,
    /// Liveness as named properties, checked in the quiet phase after the faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<LivenessSpec>,
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Settings for `raftsim sweep`; ignored by `raftsim run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSpec>,
    /// Parts of the cluster's shape drawn from each run's seed (see [`DrawSpec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw: Option<DrawSpec>,
    /// What was drawn, once [`Scenario::for_seed`] has drawn it (traced in `start`).
    #[serde(skip)]
    #[schemars(skip)]
    pub drawn: Option<String>,
}

/// Swarm testing of the cluster's shape, not only of its faults: each list is a set of
/// choices, and every run takes one of each from its seed (its own stream, so the draw moves
/// nothing else); `switches` is the exception, each switch listed drawn on or off. What a
/// seed drew is traced in its `start` record, and `raftsim shrink` writes it out as plain
/// settings. Fields left out keep the scenario's own value. The lists are drawn in the order
/// below, each only when given, so that a list added later moves no earlier draw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawSpec {
    /// Cluster sizes (`cluster.nodes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<u32>,
    /// Entries per AppendEntries (`raft.max_entries_per_message`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_entries_per_message: Vec<usize>,
    /// Client rates (`workload.requests_per_second`; needs a `workload`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests_per_second: Vec<f64>,
    /// Election timeout ranges (`raft.election_timeout`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub election_timeout: Vec<[SimDuration; 2]>,
    /// Shares of reads (`workload.reads`, 0 to 1; needs a `workload`). Drawn after the four
    /// lists above, so a scenario without the lists below draws what it drew before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<f64>,
    /// Shares of compare-and-set requests (`workload.cas`, 0 to 1; needs a `workload`). Every
    /// choice of `reads` with every choice of `cas` must add up to at most 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cas: Vec<f64>,
    /// Numbers of keys (`workload.keys`; needs a `workload`): few keys, more contention.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<u32>,
    /// How reads are served (`raft.read_index`, `raft.follower_reads`, `raft.lease_reads`;
    /// see [`ReadPath`]). `lease` needs `raft.leader_stickiness` and
    /// `raft.clock_drift_bound_ppm` in the scenario (or stickiness among the `switches`, on in
    /// every draw).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_path: Vec<ReadPath>,
    /// Raft switches each drawn on or off, independently, in list order (`raft.pre_vote`,
    /// `raft.check_quorum`, `raft.leader_stickiness`); each at most once. Every choice of
    /// `read_path` with every on/off combination of these must make a valid scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<Switch>,
}

/// A read path a `draw` may choose ([`DrawSpec::read_path`]): which of the read switches are
/// on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadPath {
    /// Every read through the log, as a write is (`read_index`, `follower_reads` and
    /// `lease_reads` off).
    Log,
    /// ReadIndex at the leader (dissertation §6.4): `read_index` on, the other two off.
    ReadIndex,
    /// ReadIndex at the leader and at followers: `read_index` and `follower_reads` on.
    Follower,
    /// Lease reads (dissertation §6.4.1), falling back to ReadIndex: `read_index` and
    /// `lease_reads` on.
    Lease,
}

impl ReadPath {
    /// Its name in a scenario file (and in what a seed drew).
    pub fn name(self) -> &'static str {
        match self {
            ReadPath::Log => "log",
            ReadPath::ReadIndex => "read_index",
            ReadPath::Follower => "follower",
            ReadPath::Lease => "lease",
        }
    }

    /// Sets `raft`'s read switches to this path.
    pub fn apply(self, raft: &mut RaftSpec) {
        let (read_index, follower_reads, lease_reads) = match self {
            ReadPath::Log => (false, false, false),
            ReadPath::ReadIndex => (true, false, false),
            ReadPath::Follower => (true, true, false),
            ReadPath::Lease => (true, false, true),
        };
        raft.read_index = read_index;
        raft.follower_reads = follower_reads;
        raft.lease_reads = lease_reads;
    }
}

/// A Raft switch a `draw` turns on or off ([`DrawSpec::switches`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Switch {
    /// `raft.pre_vote` (dissertation §9.6).
    PreVote,
    /// `raft.check_quorum` (dissertation §6.2).
    CheckQuorum,
    /// `raft.leader_stickiness` (paper §6): on or off as drawn, never left unset.
    LeaderStickiness,
}

impl Switch {
    /// Its name in a scenario file (and in what a seed drew).
    pub fn name(self) -> &'static str {
        match self {
            Switch::PreVote => "pre_vote",
            Switch::CheckQuorum => "check_quorum",
            Switch::LeaderStickiness => "leader_stickiness",
        }
    }

    /// Turns this switch of `raft` on or off.
    pub fn apply(self, raft: &mut RaftSpec, on: bool) {
        match self {
            Switch::PreVote => raft.pre_vote = on,
            Switch::CheckQuorum => raft.check_quorum = on,
            Switch::LeaderStickiness => raft.leader_stickiness = Some(on),
        }
    }
}

/// The most choices one `draw` list may hold.
pub const MAX_DRAW_CHOICES: usize = 16;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Number of nodes, 1 to 64; ids are 1..=nodes.
    pub nodes: u32,
    /// Initial log of each node, as the term of each entry (entries are no-ops). One list per
    /// node, in id order. Terms must not decrease along a log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_logs: Option<Vec<Vec<u64>>>,
    /// Start with this node already leader of the highest initial term, every node having voted
    /// for it (as in the paper's Figure 16 experiment). Its log must be at least as up to date
    /// as every other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_leader: Option<NodeId>,
    /// The initial voters (paper §6), when not every node is one: the others start as
    /// non-voting members (they take entries but never stand) until a `change_membership`
    /// fault adds them. Default: every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<Vec<NodeId>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaftSpec {
    /// [min, max] of the randomized election timeout, drawn anew at every reset.
    pub election_timeout: [SimDuration; 2],
    /// How often a leader sends AppendEntries when it has nothing else to send.
    pub heartbeat_interval: SimDuration,
    /// At most this many entries in one AppendEntries.
    #[serde(default = "default_max_entries")]
    pub max_entries_per_message: usize,
    /// Whether a candidate writes its term and vote before sending RequestVote or in parallel.
    #[serde(default)]
    pub candidate_persist: CandidatePersist,
    /// Write a term adopted from a higher-term message on its own, before handling the
    /// message: a vote granted at a higher term costs two writes (term, then vote).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub separate_term_write: bool,
    /// Handle nothing else (messages, timer firings) while a term, vote or log write issued
    /// outside leadership is in flight, as a handler holding the server's lock through a
    /// synchronous write does; a timer re-armed meanwhile cancels a firing that waited.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub block_during_writes: bool,
    /// PreVote (dissertation §9.6): a server whose election timeout elapses first asks, as a
    /// pre-candidate and without raising its term, whether a majority would vote for it; it
    /// stands only if so. Off by default.
    #[serde(default)]
    pub pre_vote: bool,
    /// CheckQuorum (dissertation §6.2): a leader that has not heard from a majority within an
    /// election timeout steps down. Off by default.
    #[serde(default)]
    pub check_quorum: bool,
    /// Reads (`get`, `workload.reads`) by ReadIndex (dissertation §6.4) instead of through the
    /// log: the leader, once it has committed an entry of its term, notes its commit index,
    /// confirms it still leads with a round of heartbeats a majority answers, and answers from
    /// its state machine once it has applied that index. Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_index: bool,
    /// With `read_index`: followers serve reads too, at a read index they ask the leader for
    /// (dissertation §6.4). Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follower_reads: bool,
    /// With `read_index`: lease reads (dissertation §6.4.1). Once a majority answered a
    /// heartbeat round the leader sent at time t on its own clock, it answers reads without a
    /// round until t + election_timeout.min · (1 − ρ)/(1 + ρ), ρ = `clock_drift_bound_ppm`.
    /// Safe only while every clock's drift stays within that bound, and with
    /// `leader_stickiness` (a follower that answered the round votes for no one within the
    /// minimum election timeout), which it needs. Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lease_reads: bool,
    /// The bound on clock drift, in parts per million, that lease reads assume (required
    /// with `lease_reads`, at most 100,000). The scenario's `clocks.drift_ppm` is what the
    /// clocks actually do: a bound below it is a configuration error a run can show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_drift_bound_ppm: Option<u32>,
    /// Leader stickiness (paper §6): a server disregards RequestVote (keeps its term, grants
    /// nothing) while it has heard from a current leader within the minimum election timeout.
    /// Unset: on when the scenario changes membership (`cluster.voters` or a
    /// `change_membership` fault), so removed servers cannot disrupt the cluster (paper §6),
    /// off otherwise. `false` keeps it off even then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_stickiness: Option<bool>,
    /// How membership changes are made: `joint` (joint consensus, paper §6; the default) or
    /// `single_server` (one server at a time, dissertation §4, with its 2015 correction: a new
    /// leader first commits an entry of its own term). A `single_server` request to add or
    /// remove several servers is carried out one server at a time.
    #[serde(default, skip_serializing_if = "MembershipMode::is_joint")]
    pub membership: MembershipMode,
    /// Before a configuration that adds servers, the leader catches them up as non-voting
    /// members (dissertation §4.2.1) in rounds, each up to its last index at the round's
    /// start, until a round ends within an election timeout; after this many rounds (default
    /// 10, at most 100) it gives the change up. 0: no catch-up, the configuration is appended
    /// at once and the new servers catch up while counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up_rounds: Option<u32>,
    /// Bugs to inject into the node under test, by name, to see the checker catch them (none
    /// by default); each implementation has its own list (`raftsim nodes`). `raftsim run --bug
    /// NAME` adds to this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "bug_names_schema")]
    pub bugs: Vec<String>,
}

/// `raft.bugs` in the JSON Schema: a list of the names of every implementation's bugs (which
/// of them the chosen node has is checked on validation).
fn bug_names_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
    let names: Vec<serde_json::Value> = NodeKind::ALL
        .into_iter()
        .flat_map(|k| k.bug_names().iter().map(|&n| serde_json::Value::from(n)))
        .chain(crate::nodes::APPLICATION_BUGS.map(serde_json::Value::from))
        .collect();
    let schema =
        serde_json::json!({ "type": "array", "items": { "type": "string", "enum": names } });
    serde_json::from_value(schema).expect("a valid schema")
}

/// The raft-rs adapter's settings ([`Scenario::raft_rs`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaftRsSpec {
    /// The length of one `tick()` on the node's clock (default 1ms). Election timeouts and
    /// heartbeats are whole numbers of ticks: `raft.election_timeout` becomes
    /// [ceil(min / tick), floor(max / tick)] ticks and `raft.heartbeat_interval` rounds to the
    /// nearest tick (at least one, and fewer than the minimum election timeout).
    #[serde(default = "default_tick")]
    pub tick: SimDuration,
    /// raft-rs's `max_inflight_msgs`: AppendEntries a leader may have unacknowledged per
    /// follower (default 256, raft-rs's own default).
    #[serde(default = "default_inflight")]
    pub max_inflight_msgs: usize,
}

fn default_tick() -> SimDuration {
    SimDuration::from_millis(1)
}

fn default_inflight() -> usize {
    256
}

impl Default for RaftRsSpec {
    fn default() -> RaftRsSpec {
        RaftRsSpec {
            tick: default_tick(),
            max_inflight_msgs: default_inflight(),
        }
    }
}

/// When a candidate sends its RequestVotes (the built-in node's `raft.candidate_persist`;
/// `experiment::ChooseNode` hands it to the node).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CandidatePersist {
    /// Write term and vote, wait for the disk, then send RequestVote (Figure 2 read strictly).
    #[default]
    BeforeSend,
    /// Send RequestVote at once and write in parallel; the candidate counts its own vote only
    /// once the write is durable.
    Parallel,
}

/// How a scenario's membership changes are made ([`RaftSpec::membership`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipMode {
    /// Joint consensus (paper §6): C_old → C_old,new → C_new.
    #[default]
    Joint,
    /// One server added or removed per configuration (dissertation §4).
    SingleServer,
}

impl MembershipMode {
    pub fn is_joint(&self) -> bool {
        *self == MembershipMode::Joint
    }
}

fn default_max_entries() -> usize {
    64
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// One-way delay of each message.
    #[serde(default = "default_delay")]
    pub delay: DurationDist,
    /// Probability that a message is lost, in [0, 1].
    #[serde(default)]
    pub loss: f64,
    /// Probability that a message is delivered twice (the copy gets its own delay), in [0, 1].
    #[serde(default)]
    pub duplicate: f64,
    /// Time the receiver spends before handling a message (deserialisation, scheduling),
    /// added to each message's delay. A source of desynchronisation between nodes.
    #[serde(default = "zero_dist")]
    pub processing: DurationDist,
    /// Per-direction overrides of delay, loss and duplication.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// Each direction of each link delivers in the order sent, as one TCP connection per pair
    /// would: a message never overtakes an earlier one on its link, so a slow one holds back
    /// those behind it. Off by default: every message draws its own delay and may overtake.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ordered: bool,
}

fn default_delay() -> DurationDist {
    DurationDist::Constant(SimDuration::from_millis(1))
}
fn zero_dist() -> DurationDist {
    DurationDist::ZERO
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            delay: default_delay(),
            loss: 0.0,
            duplicate: 0.0,
            processing: zero_dist(),
            links: Vec::new(),
            ordered: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub from: NodeId,
    pub to: NodeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DurationDist>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// Clock drift of every node in parts per million (positive: the clock runs fast, so its
    /// timers fire early in virtual time). Drawn once per node.
    #[serde(default = "zero_drift")]
    pub drift_ppm: NumberDist,
    /// Fixed drift per node, in id order; overrides `drift_ppm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drift_ppm: Option<Vec<f64>>,
    /// Delay between a timer's deadline and the moment the node runs (operating-system
    /// wake-up latency), added to every timer.
    #[serde(default = "zero_dist")]
    pub timer_jitter: DurationDist,
    /// The granularity of a timer's duration on the node's clock: each duration a node arms
    /// (drawn within its range) is rounded to the nearest multiple of this, as an
    /// implementation that draws its election timeout in whole milliseconds does (the one
    /// the paper measured: docs/FIGURE16.md). Absent: durations are kept to the nanosecond.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_resolution: Option<SimDuration>,
}

fn zero_drift() -> NumberDist {
    NumberDist::Constant(0.0)
}

impl Default for ClockSpec {
    fn default() -> Self {
        ClockSpec {
            drift_ppm: zero_drift(),
            node_drift_ppm: None,
            timer_jitter: zero_dist(),
            timer_resolution: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// Time for one durable write (term, vote and log entries) to complete. A node's disk does
    /// one write at a time, in order; writes issued while one is in flight are batched into the
    /// next write (group commit), so a busy disk queues at most one batch.
    #[serde(default = "zero_dist")]
    pub write_latency: DurationDist,
    /// A write that changes the term or the vote (Figure 2's currentTerm and votedFor) takes
    /// this instead of `write_latency`: `syncs` draws of `sync`, one after another. Drawn
    /// from a stream of its own, so it leaves every other draw of the run unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_write: Option<WriteLawSpec>,
    /// A write that appends or truncates log entries takes this instead of `write_latency`
    /// (plus `metadata_write` when it changes the term or vote too), from a stream of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_write: Option<WriteLawSpec>,
}

/// The time one kind of disk write takes: the durable syncs it needs, each drawn on its own.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteLawSpec {
    /// The time one sync (a flush to stable storage) takes.
    pub sync: DurationDist,
    /// How many syncs the write needs, one after another (1 to 16).
    #[serde(default = "one_sync")]
    pub syncs: u32,
}

fn one_sync() -> u32 {
    1
}

/// The most syncs a kind of write may take.
pub const MAX_SYNCS: u32 = 16;

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec {
            write_latency: zero_dist(),
            metadata_write: None,
            log_write: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Client requests started per second of virtual time.
    pub requests_per_second: f64,
    /// `fixed` spacing, or `poisson` arrivals.
    #[serde(default)]
    pub arrivals: Arrivals,
    /// When requests start and stop being issued (default: from 0 to the stop time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<SimDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<SimDuration>,
    /// Attempts per request, counting the first, before it is reported failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// How long a client waits for an answer before trying another node.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: SimDuration,
    /// Wait before retrying when told there is no known leader.
    #[serde(default = "default_retry_backoff")]
    pub retry_backoff: SimDuration,
    /// Keys are drawn uniformly from 0..keys.
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// Where a request's first attempt goes: `random` (every request from a new client) or
    /// `remember_leader` (the client library remembers the leader, paper §8).
    #[serde(default, skip_serializing_if = "Routing::is_random")]
    pub routing: Routing,
    /// The share of requests that read a key (`get`), 0 to 1; the rest write it. A run with
    /// reads or CAS is checked for linearizability at its end (docs/CLIENTS.md).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reads: f64,
    /// The share of requests that compare-and-set a key (`cas`), expecting the value the
    /// clients last saw there; `reads + cas` at most 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cas: f64,
    /// Client sessions (dissertation §6.3): the state machine applies a request once, however
    /// often retries put it in the log. `false` is the application bug `no-session-dedup`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub sessions: bool,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Where a client sends a request's first attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// A node drawn at random, as a client that has just started would (paper §8).
    #[default]
    Random,
    /// The node the client library last learned leads: the one that answered a request, or
    /// the one a redirect named; a random node when none is known (paper §8, dissertation
    /// §6.2).
    RememberLeader,
}

impl Routing {
    fn is_random(&self) -> bool {
        *self == Routing::Random
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    #[default]
    Fixed,
    Poisson,
}

fn default_attempts() -> u32 {
    20
}
fn default_request_timeout() -> SimDuration {
    SimDuration::from_millis(500)
}
fn default_retry_backoff() -> SimDuration {
    SimDuration::from_millis(50)
}
fn default_keys() -> u32 {
    16
}

/// A node chosen by id, or by role at the moment the fault applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(untagged)]
pub enum Target {
    /// A node id.
    Node(NodeId),
    /// "leader": the current leader (the live leader of the highest term); nothing if none.
    /// "random": a live node drawn from the faults stream.
    /// "follower": a live node other than the current leader, drawn from the faults stream.
    /// "last_crashed": the node most recently crashed.
    Named(NamedTarget),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NamedTarget {
    Leader,
    Random,
    Follower,
    LastCrashed,
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Target::Node(n) => s.serialize_u32(*n),
            Target::Named(t) => t.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Target;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a node id (1, 2, ...) or one of \"leader\", \"random\", \"follower\", \"last_crashed\"",
                )
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Target, E> {
                u32::try_from(v)
                    .map(Target::Node)
                    .map_err(|_| E::custom("node id too large"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Target, E> {
                Err(E::custom(format!(
                    "node id {v} is not allowed: ids start at 1"
                )))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Target, E> {
                match v {
                    "leader" => Ok(Target::Named(NamedTarget::Leader)),
                    "random" => Ok(Target::Named(NamedTarget::Random)),
                    "follower" => Ok(Target::Named(NamedTarget::Follower)),
                    "last_crashed" => Ok(Target::Named(NamedTarget::LastCrashed)),
                    _ => Err(E::custom(format!(
                        "unknown target {v:?}: write a node id or one of \"leader\", \"random\", \"follower\", \"last_crashed\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One fault. Exactly one of `crash`, `restart`, `partition`, `cut`, `pause`,
/// `crash_at_write` is given.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When the fault applies.
    pub at: SimDuration,
    /// A random extra delay added to `at`, drawn from this fault's own stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<DurationDist>,
    /// When the fault ends (heal a partition, restore a cut, resume a paused node, restart a
    /// crashed one). Absolute time, after `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<SimDuration>,
    /// Crash a node: volatile state is lost, durable state (written to disk) survives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<Target>,
    /// Restart a crashed node from its durable state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<Target>,
    /// Split the cluster into these groups; messages between groups are dropped. Nodes not
    /// listed form one more group together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Vec<Vec<NodeId>>>,
    /// Drop messages in one direction only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<CutSpec>,
    /// The node handles nothing until `until` (a long GC pause); what arrives meanwhile waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Target>,
    /// Crash whichever node issues the k-th disk write after `at`, at a chosen point of that
    /// write, and restart it from its durable state a while later. With `until`, the fault
    /// stops waiting for its write then (and holds `stop.when` until then); without, it waits
    /// to the end of the run without holding `stop.when`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_at_write: Option<CrashAtWriteSpec>,
    /// Cut this node off from every other (both directions) until `until`; "leader" isolates
    /// whoever leads when the fault applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolate: Option<Target>,
    /// Ask whoever leads at `at` to hand leadership to this node (dissertation §3.10,
    /// TimeoutNow): the leader takes no client requests meanwhile and gives up after an
    /// election timeout. No `until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_leadership: Option<NodeId>,
    /// A node's clock steps at `at` (an NTP step, a VM resumed after a freeze): every timer it
    /// has armed comes `by` sooner (those due within `by` fire at once), or, with `back`, `by`
    /// later. No `until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_jump: Option<ClockJumpSpec>,
    /// Ask whoever leads at `at` to make these nodes the voters, by joint consensus (paper
    /// §6): C_old,new, then C_new once that commits. A leader with a change under way ignores
    /// it. No `until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_membership: Option<Vec<NodeId>>,
    /// Ask whoever leads when the fault fires to add this node to its configuration (joint
    /// consensus, paper §6): a node id, or "random" (a node outside the configuration, drawn
    /// from this fault's stream). Skipped (`fault_skipped`) when the node is already a voter,
    /// with no running leader, or with a change under way. No `until` (but see `when`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_server: Option<Target>,
    /// Ask whoever leads when the fault fires to remove this voter from its configuration: a
    /// node id, "leader" (it steps down once C_new commits), "follower" (a voter other than the
    /// leader) or "random" (any voter). Skipped like `add_server`, and when it would leave no
    /// voter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_server: Option<Target>,
    /// Remove one voter and add one node in a single change: `{"remove": "leader", "add": 4}`
    /// replaces the current leader with n4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_server: Option<ReplaceSpec>,
    /// Fire only once this holds, watched from `at` on (membership actions only: a
    /// `change_membership`, `add_server`, `remove_server` or `replace_server`). With `until`,
    /// stop waiting then (traced `fault_skipped`), and the quiet phase waits for it; without,
    /// it waits to the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<WhenSpec>,
    /// Until `until`, every message is also lost with this probability, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_burst: Option<f64>,
    /// Until `until`, every message is also duplicated with this probability, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_burst: Option<f64>,
    /// Until `until`, every message sent takes this much longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_spike: Option<DurationDist>,
    /// Draw faults from the seed between `at` and `until` ("swarm" testing: each seed enables
    /// a random subset of the kinds, with random weights); every drawn fault ends by `until`,
    /// and a quiet phase follows. The drawn faults are listed in the trace (`fault_plan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<GenerateSpec>,
}

/// A replacement (`replace_server` in a fault): one voter out, one node in, in one change.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceSpec {
    /// The voter to remove: a node id, "leader", "follower" or "random".
    pub remove: Target,
    /// The node to add: a node id, or "random" (a node outside the configuration).
    pub add: Target,
}

/// The condition a membership action waits for (`when` in a fault). Give at least one part;
/// every part given must hold. Judged on the commit and configuration records of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhenSpec {
    /// The cluster has committed this log index (some node applied it), 1 to 2,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<u64>,
    /// This many configuration changes have completed in the run (their C_new committed),
    /// 1 to 1000: chains one change after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_done: Option<u32>,
}

/// The largest log index a `when.committed` may name: a run's log holds at most
/// [`MAX_CLIENT_REQUESTS`] client entries, plus leader no-ops and configurations.
pub const MAX_WHEN_COMMITTED: u64 = 2 * MAX_CLIENT_REQUESTS;

/// A step of one node's clock (`clock_jump` in a fault).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockJumpSpec {
    /// The node, or "leader", "random", "follower".
    pub node: Target,
    /// How far the clock steps, above zero.
    pub by: SimDuration,
    /// Step back (timers come later) instead of forward.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub back: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    /// The kinds a seed may enable [default: all].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<GenKind>>,
    /// At most this many faults per seed, 1 to 1000.
    #[serde(default = "default_max_faults")]
    pub max_faults: u32,
    /// Mean time between two drawn faults (exponential gaps).
    #[serde(default = "default_mean_gap")]
    pub mean_gap: SimDuration,
}

fn default_max_faults() -> u32 {
    20
}
fn default_mean_gap() -> SimDuration {
    SimDuration::from_millis(300)
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrashAtWriteSpec {
    /// Which write, counting from 1 the writes issued once the fault has started.
    pub k: u64,
    /// Count only writes issued by a node that is leader when it issues them.
    #[serde(default)]
    pub leader_only: bool,
    /// Where the crash falls relative to that write.
    pub point: WritePoint,
    /// The crashed node restarts this long after the crash.
    pub restart_after: SimDuration,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CutSpec {
    pub from: NodeId,
    pub to: NodeId,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {
    /// The run ends at this virtual time at the latest.
    pub at: SimDuration,
    /// End earlier, once this condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<StopWhen>,
}

/// Bounds measured from the start of the quiet phase (when every fault event has applied; the
/// start of the run if there are no faults). A bound not met is a named violation.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LivenessSpec {
    /// "Liveness: Leader": within this, a live leader that every other live, unpaused node
    /// follows in its term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_within: Option<SimDuration>,
    /// "Liveness: Commit": within this, every client request still outstanding at the start of
    /// the quiet phase has finished: committed, or given up by its client after its attempts
    /// (counted as failed in the summary), never still waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_within: Option<SimDuration>,
    /// "Liveness: Convergence": within this, every live node has applied every entry that any
    /// node had applied when the quiet phase started (nobody is left behind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converge_within: Option<SimDuration>,
    /// "Liveness: Membership": within this, every configuration change has completed: a
    /// running leader's latest configuration is C_new alone (not joint) and committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_within: Option<SimDuration>,
    /// "Liveness: Stable Leader": in every window in which the network and the live nodes
    /// stay the same and a majority can reach each other, from this long after the window
    /// starts, a stable leader (one whose term a majority follows) holds at every moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_leader_after: Option<SimDuration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopWhen {
    /// After the last fault event (start or end), a live leader that every other live,
    /// unpaused node follows in its term, i.e. has accepted an AppendEntries from (the paper's
    /// Figure 16 end of downtime).
    LeaderAfterFaults,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// The run ends with outcome `event_limit` after this many events.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
}

fn default_max_events() -> u64 {
    10_000_000
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            max_events: default_max_events(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// What a trial measures: `failover` (the paper's Figure 16: the leader crashes),
    /// `cold_start` (a cluster of followers elects its first leader) or `membership` (the
    /// cluster grows to every node under load: time to complete the change).
    #[serde(default)]
    pub experiment: Experiment,
    /// The election-timeout ranges to compare.
    pub ranges: Vec<SweepRange>,
    /// Trials per range unless the range says otherwise.
    #[serde(default = "default_trials")]
    pub trials: u32,
    /// A trial whose measured time (from the crash, or from a cold start) would exceed this
    /// is counted as capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<SimDuration>,
    /// Draw the CDF's time axis on a log scale.
    #[serde(default)]
    pub log_axis: bool,
    /// End the CDF's time axis here (default: the slowest trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot_max: Option<SimDuration>,
}

fn default_trials() -> u32 {
    1000
}

/// The experiment a sweep runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Experiment {
    /// The paper's Figure 16: an established leader crashes; time until every survivor
    /// follows a new one.
    #[default]
    Failover,
    /// Every node starts a follower of term 0 with an empty log; time until every node
    /// follows the first leader.
    ColdStart,
    /// A cluster grows under the scenario's load: n1 leads the initial voters
    /// (`cluster.voters`, else n1..n3) and, after 1 s, is asked to make every node a voter
    /// (joint consensus, paper §6); time from that request until C_new is committed.
    Membership,
}

impl Experiment {
    pub const NAMES: [&'static str; 3] = ["failover", "cold_start", "membership"];
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Failover => "failover",
            Experiment::ColdStart => "cold_start",
            Experiment::Membership => "membership",
        }
    }
    pub fn from_name(s: &str) -> Option<Experiment> {
        match s {
            "failover" => Some(Experiment::Failover),
            "cold_start" => Some(Experiment::ColdStart),
            "membership" => Some(Experiment::Membership),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRange {
    pub timeout: [SimDuration; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<u32>,
}

/// A bad scenario: where and why, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read the file: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A file refused before it is parsed (too large, a device).
    #[error("{file}: {message}")]
    Refused { file: String, message: String },
    #[error("{}", invalid_text(file, field, *location, message))]
    Invalid {
        file: String,
        field: String,
        location: Option<(usize, usize)>,
        message: String,
    },
}

/// `FILE:LINE:COL: field `F`: ...`, `FILE: field `F`: ...`, or, for a flag's value (a field
/// named `--flag` or `--set PATH`), the flag alone: the file is not to blame.
fn invalid_text(
    file: &str,
    field: &str,
    location: Option<(usize, usize)>,
    message: &str,
) -> String {
    if field.starts_with("--") {
        return format!("{field}: {message}");
    }
    match location {
        Some((l, c)) => format!("{file}:{l}:{c}: field `{field}`: {message}"),
        None => format!("{file}: field `{field}`: {message}"),
    }
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        use crate::base::input::{format_bytes, read_to_string_limited, InputError};
        let file = path.display().to_string();
        let text = read_to_string_limited(path, MAX_SCENARIO_BYTES).map_err(|e| match e {
            InputError::Io(error) => ScenarioError::Read {
                file: file.clone(),
                error,
            },
            InputError::TooLarge(limit) => ScenarioError::Refused {
                file: file.clone(),
                message: format!(
                    "larger than {}, the most a scenario file may hold (a scenario is a few KB; cluster.initial_logs, its only part that grows, is copied to every node, its disk and the checker)",
                    format_bytes(limit)
                ),
            },
            e @ InputError::NotAFile(_) => ScenarioError::Refused {
                file: file.clone(),
                message: e.to_string(),
            },
        })?;
        Scenario::parse(&file, &text)
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        // A UTF-8 byte-order mark, which some editors write at the start of a file and none
        // show, is skipped, so that it is accepted and columns on line 1 count as the editor
        // does.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // serde would read a struct from an array too (its fields in order), and so report a
        // file holding `[ {...} ]` as a wrong type for the first field.
        let first = text.find(|c: char| !matches!(c, ' ' | '\t' | '\n' | '\r'));
        if let Some(at) = first.filter(|&at| text[at..].starts_with('[')) {
            let (line, column) = line_column(text, at);
            return Err(ScenarioError::Parse {
                file: file.to_string(),
                line,
                column,
                message: "a scenario file holds one JSON object ({...}), not an array".into(),
            });
        }
        // serde_path_to_error names the field a type error is in (serde_json alone gives only
        // the line and column); `end` rejects trailing characters as `from_str` does.
        let parse_err = |e: &serde_json::Error, path: String| ScenarioError::Parse {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            // "?" marks a key serde could not read; "." is the top level.
            message: match path.trim_end_matches(".?") {
                "" | "." | "?" => explain_serde(&e.to_string()),
                field => format!("field `{field}`: {}", explain_serde(&e.to_string())),
            },
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let sc: Scenario = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| parse_err(e.inner(), e.path().to_string()))?;
        de.end().map_err(|e| parse_err(&e, String::new()))?;
        sc.validate()
            .map_err(|(field, message)| ScenarioError::Invalid {
                file: file.to_string(),
                location: locate(text, &field),
                field,
                message,
            })?;
        Ok(sc)
    }

    /// The JSON Schema of the scenario file.
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(Scenario);
        serde_json::to_string_pretty(&schema).expect("schema serialises")
    }
}

/// Why `trials` trials are refused: the bound on a sweep's trials and the reason for it.
pub fn trials_bound(trials: u64) -> String {
    use crate::base::input::thousands;
    format!(
        "{} trials is not allowed: at most {} per sweep (one result row per trial is kept in memory until the sweep ends and written to trials.csv)",
        thousands(trials),
        thousands(MAX_TRIALS)
    )
}

/// Adds the list of allowed fields' context where serde's message is terse.
fn explain_serde(msg: &str) -> String {
    // serde_json appends " at line L column C"; the location is reported separately.
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    msg.to_string()
}

/// The 1-based line and column (in bytes, as serde_json counts) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Finds the line and column of the field named by a path like `faults[2].partition` in the
/// source text: walks the keys in order, each found after the previous one, and for an index
/// skips that many earlier siblings. An approximation that is exact for ordinary files.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let mut pos = 0usize;
    let mut found = None;
    for part in path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let needle = format!("\"{key}\"");
        let at = pos + text[pos..].find(&needle)?;
        pos = at + needle.len();
        found = Some(at);
        if let Some(i) = index {
            // Skip to the i-th element: count top-level '{' or '[' openings inside the array.
            let open = pos + text[pos..].find('[')?;
            let mut depth = 0i32;
            let mut count = 0usize;
            let mut p = open + 1;
            let bytes = text.as_bytes();
            let mut elem_start = None;
            while p < bytes.len() {
                match bytes[p] {
                    b'{' | b'[' => {
                        if depth == 0 {
                            if count == i {
                                elem_start = Some(p);
                                break;
                            }
                            count += 1;
                        }
                        depth += 1;
                    }
                    b'}' | b']' => {
                        if depth == 0 {
                            break;
                        }
                        depth -= 1;
                    }
                    _ => {}
                }
                p += 1;
            }
            let e = elem_start?;
            pos = e;
            found = Some(e);
        }
    }
    let at = found?;
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_nested_and_indexed_fields() {
        let text = "{\n  \"raft\": {\n    \"election_timeout\": [\"3s\", \"1s\"]\n  },\n  \"faults\": [\n    {\"at\": \"1s\"},\n    {\"at\": \"2s\", \"partition\": [[1],[1]]}\n  ]\n}";
        assert_eq!(locate(text, "raft.election_timeout"), Some((3, 5)));
        assert_eq!(locate(text, "faults[1]"), Some((7, 5)));
        assert_eq!(locate(text, "faults[1].partition"), Some((7, 18)));
    }
}
