//! Trace events: what happened in a run, one JSON object per line with integer times and a
//! stable field order (`t`, `ev`, then the event's fields in declaration order). The same
//! values feed the online checker (`check`) and the summary (`summary`), so `raftsim check`
//! over a written trace sees exactly what the online checker saw.
//!
//! The trace hash is the SHA-256 of the trace bytes. Each event also has a one-line human form,
//! e.g. `t=1.203000s n2 vote for n1 term=3 granted`.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::base::time::{SimDuration, SimTime};
use crate::observe::linear::Ret;
use crate::protocol::{voter_ids, Command, Entry, NodeId, Note, Op, Role};

/// A log entry as traced: its term, and for a client write the request id, key and value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TEntry {
    pub term: u64,
    /// A client's put: `[req, key, value]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub put: Option<[u64; 3]>,
    /// A client's read through the log: `[req, key]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<[u64; 2]>,
    /// A client's compare-and-set: `[req, key, expect, value]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cas: Option<[u64; 4]>,
    /// A configuration entry (paper §6): `[old, new]` voter bit sets (bit `id - 1` for node
    /// `id`); `old` is 0 for C_new alone, non-zero for the joint C_old,new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<[u64; 2]>,
}

impl TEntry {
    /// The configuration this entry sets, as (old voters, new voters); `old` empty unless
    /// joint.
    pub fn configuration(&self) -> Option<(Vec<NodeId>, Vec<NodeId>)> {
        self.config.map(|[o, n]| (voter_ids(o), voter_ids(n)))
    }

    /// The client request this entry carries, if any: its number and what it asks.
    pub fn request(&self) -> Option<(u64, Op)> {
        if let Some([req, key, value]) = self.put {
            let key = key as u32;
            return Some((req, Op::Put { key, value }));
        }
        if let Some([req, key]) = self.get {
            return Some((req, Op::Get { key: key as u32 }));
        }
        self.cas.map(|[req, key, expect, value]| {
            let key = key as u32;
            (req, Op::Cas { key, expect, value })
        })
    }
}

impl From<&Entry> for TEntry {
    fn from(e: &Entry) -> TEntry {
        TEntry {
            term: e.term,
            put: match e.command {
                Command::Put { req, key, value } => Some([req, key as u64, value]),
                _ => None,
            },
            get: match e.command {
                Command::Get { req, key } => Some([req, key as u64]),
                _ => None,
            },
            cas: match e.command {
                Command::Cas {
                    req,
                    key,
                    expect,
                    value,
                } => Some([req, key as u64, expect, value]),
                _ => None,
            },
            config: match e.command {
                Command::Config { old, new } => Some([old, new]),
                _ => None,
            },
        }
    }
}

/// A client's operation as traced (see [`crate::protocol::Op`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TOp {
    Get { key: u32 },
    Put { key: u32, value: u64 },
    Cas { key: u32, expect: u64, value: u64 },
}

/// The human form: `get k1`, `put k1=5`, `cas k1 3->5`.
impl std::fmt::Display for TOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TOp::Get { key } => write!(f, "get k{key}"),
            TOp::Put { key, value } => write!(f, "put k{key}={value}"),
            TOp::Cas { key, expect, value } => write!(f, "cas k{key} {expect}->{value}"),
        }
    }
}

impl From<Op> for TOp {
    fn from(op: Op) -> TOp {
        match op {
            Op::Get { key } => TOp::Get { key },
            Op::Put { key, value } => TOp::Put { key, value },
            Op::Cas { key, expect, value } => TOp::Cas { key, expect, value },
        }
    }
}

impl From<TOp> for Op {
    fn from(op: TOp) -> Op {
        match op {
            TOp::Get { key } => Op::Get { key },
            TOp::Put { key, value } => Op::Put { key, value },
            TOp::Cas { key, expect, value } => Op::Cas { key, expect, value },
        }
    }
}

/// What a client was told (see [`crate::observe::linear::Ret`]): a get's value (`null`: the
/// key was never written), whether a CAS took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TRet {
    Get(Option<u64>),
    Cas(bool),
}

/// Where a read served without the log was answered (`raft.read_index`, dissertation §6.4):
/// a `client_done` record without it, for a get, went through the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TVia {
    /// The leader, by ReadIndex or within its lease.
    Leader,
    /// A follower, at a read index the leader gave it.
    Follower,
}

impl TRet {
    /// The traced form of an answer; a put's says nothing.
    pub fn of(ret: Ret) -> Option<TRet> {
        match ret {
            Ret::Get(v) => Some(TRet::Get(v)),
            Ret::Cas(ok) => Some(TRet::Cas(ok)),
            Ret::Put => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Event {
    Start {
        nodes: u32,
        seed: u64,
        scenario: String,
        /// What the seed drew of the cluster's shape, when the scenario draws it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        drawn: Option<String>,
        /// The initial voters, when not every node is one (`cluster.voters`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voters: Option<Vec<NodeId>>,
        /// The implementation under test, when not the built-in node (`node` in the scenario).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// `on_apply` when the node starts to use a configuration once it is applied (tikv's
        /// and etcd's rule), so that the checker, online or offline, judges it by that rule;
        /// absent: when appended (paper §6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config_effect: Option<String>,
    },
    /// A node's initial durable state, when the scenario gives one.
    Boot {
        node: NodeId,
        term: u64,
        voted_for: Option<NodeId>,
        log: Vec<TEntry>,
    },
    Crash {
        node: NodeId,
    },
    /// A node restarts from its durable state, shown in full so a checker can rebuild it.
    Restart {
        node: NodeId,
        term: u64,
        voted_for: Option<NodeId>,
        log: Vec<TEntry>,
    },
    Partition {
        groups: Vec<Vec<NodeId>>,
    },
    Heal {
        groups: Vec<Vec<NodeId>>,
    },
    Cut {
        from: NodeId,
        to: NodeId,
    },
    Restore {
        from: NodeId,
        to: NodeId,
    },
    Pause {
        node: NodeId,
        until: u64,
    },
    Resume {
        node: NodeId,
    },
    Role {
        node: NodeId,
        role: Role,
        term: u64,
    },
    Election {
        node: NodeId,
        term: u64,
    },
    Vote {
        node: NodeId,
        candidate: NodeId,
        term: u64,
        granted: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Leader {
        node: NodeId,
        term: u64,
        votes: u32,
    },
    /// A term in which two or more candidates stood and nobody won, reported once the term is
    /// over (see `summary::SplitVoteDetector`).
    SplitVote {
        term: u64,
        candidates: Vec<NodeId>,
    },
    /// A term in which a single candidate stood and lost (for example a node whose log is
    /// behind timing out first), reported like a split vote once the cluster has moved past
    /// it. A term is judged once: a node still behind (restarted from an older term, or cut
    /// off) may stand in it later, which the trace then shows as an ordinary `election`.
    FailedElection {
        term: u64,
        node: NodeId,
    },
    Drop {
        from: NodeId,
        to: NodeId,
        msg: Cow<'static, str>,
        term: u64,
        reason: Cow<'static, str>,
        /// The `send` this drop pairs with (traced with `--trace-level messages` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// A message left its sender (`--trace-level messages`); `id` pairs it with its `deliver`
    /// or `drop` (a duplicated message is delivered twice under one id).
    Send {
        from: NodeId,
        to: NodeId,
        msg: Cow<'static, str>,
        term: u64,
        id: u64,
    },
    /// A message reached its receiver, which handles it now (`--trace-level messages`).
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: Cow<'static, str>,
        term: u64,
        id: u64,
    },
    Append {
        node: NodeId,
        index: u64,
        entries: Vec<TEntry>,
    },
    Truncate {
        node: NodeId,
        from: u64,
    },
    Commit {
        node: NodeId,
        commit_index: u64,
    },
    Apply {
        node: NodeId,
        index: u64,
        entry: TEntry,
        /// What applying a get or CAS gave, in a run whose workload draws them: the first
        /// application's answer is what the linearizability check takes for a request its
        /// client never heard back about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ret: Option<TRet>,
    },
    ClientRequest {
        req: u64,
        node: NodeId,
        attempt: u32,
        /// What the request asks, on its first attempt, in a run whose workload draws reads or
        /// CAS (`workload.reads`, `workload.cas`): the client history the linearizability
        /// check reads. Left out when every request is a put.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op: Option<TOp>,
    },
    ClientDone {
        req: u64,
        ok: bool,
        latency: u64,
        /// What the client was told, for a get or a CAS that completed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ret: Option<TRet>,
        /// For a get served without the log: where.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<TVia>,
        /// A get served without the log by a server that, when the get reached it, had not
        /// applied the latest write to the key that a client learned of (by its answer or by
        /// a read) before the get was invoked, and waited until it had: a stale read
        /// prevented (docs/CLIENTS.md).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        held_back: bool,
        /// A get served without the log by a server that had still not applied that write:
        /// a stale read served, by the log's order (the linearizability check judges the
        /// history: two concurrent writes may linearize either way).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stale: bool,
    },
    /// The linearizability check of the run's client history (`observe::linear`), at the end
    /// of a run whose workload draws reads or CAS: `verdict` is `linearizable`, `violation`
    /// (`key` and `window`, the request numbers of the shortest window of its operations that
    /// no order explains) or `unknown` (the search passed its bound of `states`).
    Linearizability {
        verdict: String,
        ops: u64,
        states: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        window: Vec<u64>,
    },
    /// A membership change (paper §6): `phase` "proposed" when the world asks leader `node`
    /// to change the voters to `voters` (a scripted action); "joint" and "final" when C_old,new
    /// and C_new are first committed (`node` applied them first, at `index`; 0 when
    /// proposed). `old` is C_old, given for "joint" only. Before a configuration that adds
    /// servers, leader `node` catches them (`voters`) up (dissertation §4.2.1):
    /// "catching_up" at each round's start, to its last index `index`; "caught_up" once a
    /// round ended within an election timeout; "catch_up_aborted" when it gave up (`index`:
    /// what the slowest held).
    Membership {
        phase: String,
        node: NodeId,
        index: u64,
        voters: Vec<NodeId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        old: Vec<NodeId>,
        /// For "proposed": the scripted or generated action that asked, when it was more than
        /// a plain `change_membership` (`replace_server leader n1 with n4`), and the condition
        /// it waited for (`when committed >= 50`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<String>,
    },
    /// The world asked leader `from` to hand leadership to `to` (a scripted transfer).
    Transfer {
        from: NodeId,
        to: NodeId,
    },
    /// A node's clock stepped by `by` ns (forward, or back): its timers moved with it.
    ClockJump {
        node: NodeId,
        by: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        back: bool,
    },
    /// A fault that found nothing to act on (no leader to crash, a node already up, ...).
    FaultSkipped {
        reason: String,
    },
    /// A fault the seed drew (a scenario's fault generator), listed at the start of the run.
    FaultPlan {
        fault: String,
    },
    /// A network-wide fault starts (`on`) or ends: a loss or duplication burst, a delay spike.
    NetworkFault {
        what: String,
        on: bool,
    },
    Violation {
        property: String,
        detail: String,
    },
    /// The run stopped on a panic (a broken assertion in the node or the simulator).
    Panic {
        message: String,
    },
    End {
        outcome: String,
        events: u64,
    },
}

impl Event {
    pub fn role(node: NodeId, role: Role, term: u64) -> Event {
        Event::Role { node, role, term }
    }

    /// A `start` of `nodes` nodes (seed 0, scenario "t"), all voters unless `voters` says.
    #[cfg(test)]
    pub(crate) fn start(nodes: u32, voters: Option<Vec<NodeId>>) -> Event {
        Event::Start {
            nodes,
            seed: 0,
            scenario: "t".into(),
            drawn: None,
            voters,
            node: None,
            config_effect: None,
        }
    }

    /// The trace event for node `id`'s explanation.
    pub fn from_note(id: NodeId, note: Note) -> Event {
        match note {
            Note::VoteDenied {
                candidate,
                term,
                reason,
            } => Event::Vote {
                node: id,
                candidate,
                term,
                granted: false,
                reason: Some(reason.describe()),
            },
            Note::CatchUp {
                phase,
                servers,
                index,
            } => Event::Membership {
                phase: phase.name().into(),
                node: id,
                index,
                voters: voter_ids(servers),
                old: Vec::new(),
                action: None,
            },
        }
    }

    /// Every node id the record names (a partition's groups flattened). The offline checker
    /// validates these against the cluster size; the trace filter's `--node` matches them.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            Event::Boot { node, .. }
            | Event::Crash { node }
            | Event::Restart { node, .. }
            | Event::Pause { node, .. }
            | Event::Resume { node }
            | Event::ClockJump { node, .. }
            | Event::Role { node, .. }
            | Event::Election { node, .. }
            | Event::Leader { node, .. }
            | Event::Append { node, .. }
            | Event::Truncate { node, .. }
            | Event::Commit { node, .. }
            | Event::Apply { node, .. }
            | Event::ClientRequest { node, .. }
            | Event::Membership { node, .. }
            | Event::FailedElection { node, .. } => vec![*node],
            Event::Vote {
                node, candidate, ..
            } => vec![*node, *candidate],
            Event::Cut { from, to }
            | Event::Restore { from, to }
            | Event::Transfer { from, to }
            | Event::Drop { from, to, .. }
            | Event::Send { from, to, .. }
            | Event::Deliver { from, to, .. } => vec![*from, *to],
            Event::Partition { groups } | Event::Heal { groups } => {
                groups.iter().flatten().copied().collect()
            }
            Event::SplitVote { candidates, .. } => candidates.clone(),
            Event::Start { .. }
            | Event::ClientDone { .. }
            | Event::Linearizability { .. }
            | Event::FaultSkipped { .. }
            | Event::FaultPlan { .. }
            | Event::NetworkFault { .. }
            | Event::Violation { .. }
            | Event::Panic { .. }
            | Event::End { .. } => Vec::new(),
        }
    }

    /// Whether the record concerns the whole cluster, whichever nodes it names: the run's
    /// start and end, network-wide faults, faults skipped or planned, a violation, a panic, a
    /// membership change, and a partition (every node is on some side of it, the unlisted ones
    /// forming one more group).
    pub fn is_cluster_wide(&self) -> bool {
        matches!(
            self,
            Event::Start { .. }
                | Event::End { .. }
                | Event::NetworkFault { .. }
                | Event::FaultSkipped { .. }
                | Event::FaultPlan { .. }
                | Event::Violation { .. }
                | Event::Panic { .. }
                | Event::Membership { .. }
                | Event::Partition { .. }
                | Event::Heal { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub t: u64,
    #[serde(flatten)]
    pub ev: Event,
}

fn terms(entries: &[TEntry]) -> String {
    let v: Vec<String> = entries.iter().map(|e| e.term.to_string()).collect();
    v.join(",")
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={} ", SimTime(self.t))?;
        match &self.ev {
            Event::Start {
                nodes,
                seed,
                scenario,
                drawn,
                voters,
                node,
                ..
            } => {
                write!(f, "start {scenario} nodes={nodes} seed={seed}")?;
                if let Some(n) = node {
                    write!(f, " node={n}")?;
                }
                if let Some(v) = voters {
                    let v: Vec<String> = v.iter().map(|i| format!("n{i}")).collect();
                    write!(f, " voters={}", v.join(","))?;
                }
                match drawn {
                    Some(d) => write!(f, " drawn: {d}"),
                    None => Ok(()),
                }
            }
            Event::Boot {
                node, term, log, ..
            } => write!(f, "n{node} boot term={term} log_len={}", log.len()),
            Event::Crash { node } => write!(f, "n{node} CRASH"),
            Event::Restart {
                node, term, log, ..
            } => write!(f, "n{node} RESTART term={term} log_len={}", log.len()),
            Event::Partition { groups } => write!(f, "PARTITION {groups:?}"),
            Event::Heal { groups } => write!(f, "HEAL {groups:?}"),
            Event::Cut { from, to } => write!(f, "CUT n{from}->n{to}"),
            Event::Restore { from, to } => write!(f, "RESTORE n{from}->n{to}"),
            Event::Pause { node, until } => write!(f, "n{node} PAUSE until={}", SimTime(*until)),
            Event::Resume { node } => write!(f, "n{node} RESUME"),
            Event::Role { node, role, term } => {
                write!(f, "n{node} becomes {} term={term}", role.name())
            }
            Event::Election { node, term } => write!(f, "n{node} starts election term={term}"),
            Event::Vote {
                node,
                candidate,
                term,
                granted,
                reason,
            } => {
                write!(f, "n{node} vote for n{candidate} term={term} ")?;
                match reason {
                    Some(r) if !granted => write!(f, "denied ({r})"),
                    _ => write!(f, "granted"),
                }
            }
            Event::Leader { node, term, votes } => {
                write!(f, "n{node} LEADER term={term}, won with {votes} votes")
            }
            Event::SplitVote { term, candidates } => {
                write!(f, "split vote term={term} candidates={candidates:?}")
            }
            Event::FailedElection { term, node } => {
                write!(
                    f,
                    "n{node} failed election term={term} (the only candidate before the cluster moved past it)"
                )
            }
            Event::Drop {
                from,
                to,
                msg,
                term,
                reason,
                id,
            } => {
                write!(f, "n{from}->n{to} {msg} term={term} dropped ({reason})")?;
                match id {
                    Some(id) => write!(f, " #{id}"),
                    None => Ok(()),
                }
            }
            Event::Send {
                from,
                to,
                msg,
                term,
                id,
            } => write!(f, "n{from}->n{to} {msg} term={term} sent #{id}"),
            Event::Deliver {
                from,
                to,
                msg,
                term,
                id,
            } => write!(f, "n{from}->n{to} {msg} term={term} delivered #{id}"),
            Event::Append {
                node,
                index,
                entries,
            } => write!(f, "n{node} append at {index} terms=[{}]", terms(entries)),
            Event::Truncate { node, from } => write!(f, "n{node} truncate from {from}"),
            Event::Commit { node, commit_index } => write!(f, "n{node} commit={commit_index}"),
            Event::Apply {
                node, index, entry, ..
            } => {
                write!(f, "n{node} apply {index} term={}", entry.term)
            }
            Event::ClientRequest {
                req,
                node,
                attempt,
                op,
            } => {
                write!(f, "client req={req} -> n{node} attempt={attempt}")?;
                match op {
                    Some(op) => write!(f, " {op}"),
                    None => Ok(()),
                }
            }
            Event::ClientDone {
                req,
                ok,
                latency,
                ret,
                via,
                held_back,
                stale,
            } => {
                write!(
                    f,
                    "client req={req} {} latency={}",
                    if *ok { "committed" } else { "FAILED" },
                    crate::base::time::SimDuration(*latency)
                )?;
                match ret {
                    Some(TRet::Get(Some(v))) => write!(f, " read {v}"),
                    Some(TRet::Get(None)) => write!(f, " read nothing"),
                    Some(TRet::Cas(true)) => write!(f, " cas took effect"),
                    Some(TRet::Cas(false)) => write!(f, " cas failed"),
                    None => Ok(()),
                }?;
                match via {
                    Some(TVia::Leader) => write!(f, " (at the leader, without the log)"),
                    Some(TVia::Follower) => write!(f, " (at a follower, without the log)"),
                    None => Ok(()),
                }?;
                if *held_back {
                    write!(f, " held back until fresh")?;
                }
                if *stale {
                    write!(f, " STALE")?;
                }
                Ok(())
            }
            Event::Linearizability {
                verdict,
                ops,
                states,
                key,
                window,
            } => {
                write!(
                    f,
                    "LINEARIZABILITY {verdict}: {ops} client operations, {states} search states"
                )?;
                if let Some(k) = key {
                    write!(f, "; key k{k}, requests {window:?}")?;
                }
                Ok(())
            }
            Event::ClockJump { node, by, back } => write!(
                f,
                "n{node} CLOCK JUMP {} by {}",
                if *back { "back" } else { "forward" },
                SimDuration(*by)
            ),
            Event::Transfer { from, to } => {
                write!(f, "n{from} asked to transfer leadership to n{to}")
            }
            Event::Membership {
                phase,
                node,
                index,
                voters,
                old,
                action,
            } => {
                let ids = |v: &[NodeId]| {
                    v.iter()
                        .map(|i| format!("n{i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                match phase.as_str() {
                    "proposed" => {
                        write!(f, "n{node} asked to change the voters to {{{}}}", ids(voters))?;
                        match action {
                            Some(a) => write!(f, " ({a})"),
                            None => Ok(()),
                        }
                    }
                    "catching_up" => write!(
                        f,
                        "n{node} catching up {{{}}} to index {index} before adding them",
                        ids(voters)
                    ),
                    "caught_up" => write!(f, "n{node} caught up {{{}}} to index {index}", ids(voters)),
                    "catch_up_aborted" => write!(
                        f,
                        "n{node} gave up catching up {{{}}} (the slowest at index {index}): change aborted",
                        ids(voters)
                    ),
                    _ => write!(
                        f,
                        "MEMBERSHIP {phase} {{{}}}{} committed at index {index} (first applied by n{node})",
                        ids(voters),
                        if old.is_empty() { String::new() } else { format!(" with old {{{}}}", ids(old)) }
                    ),
                }
            }
            Event::FaultSkipped { reason } => write!(f, "fault skipped: {reason}"),
            Event::FaultPlan { fault } => write!(f, "fault planned: {fault}"),
            Event::NetworkFault { what, on } => {
                write!(f, "NETWORK {what} {}", if *on { "starts" } else { "ends" })
            }
            Event::Violation { property, detail } => write!(f, "VIOLATION {property}: {detail}"),
            Event::Panic { message } => write!(f, "PANIC {message}"),
            Event::End { outcome, events } => write!(f, "end {outcome} events={events}"),
        }
    }
}

/// Writes the JSON Lines of a run as events happen, into any `Write` (a buffered file, or a
/// `Vec<u8>` in memory), and hashes them on the way. Memory stays flat however long the run;
/// what was written before a panic or a violation is on disk once the writer is flushed or
/// dropped. A write error is kept (the run goes on) and reported by [`TraceWriter::finish`].
pub struct TraceWriter<W: Write> {
    out: W,
    hasher: Sha256,
    line: Vec<u8>,
    error: Option<std::io::Error>,
}

impl<W: Write> TraceWriter<W> {
    pub fn new(out: W) -> TraceWriter<W> {
        TraceWriter {
            out,
            hasher: Sha256::new(),
            line: Vec::with_capacity(256),
            error: None,
        }
    }

    pub fn record(&mut self, rec: &Record) {
        self.line.clear();
        serde_json::to_writer(&mut self.line, rec).expect("trace records serialise");
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(&self.line) {
                self.error = Some(e);
            }
        }
    }

    /// SHA-256 of everything recorded so far, in lowercase hex.
    pub fn hash(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    /// The sink, e.g. the bytes of an in-memory trace.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Flushes; returns the sink and the hash, or the first write error.
    pub fn finish(mut self) -> Result<(W, String), std::io::Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        let hash = self.hash();
        Ok((self.out, hash))
    }
}

impl TraceWriter<Vec<u8>> {
    /// An in-memory trace.
    pub fn in_memory() -> Self {
        TraceWriter::new(Vec::new())
    }
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of the bytes, in lowercase hex.
pub fn hash_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The largest trace `raftsim check` reads (512 MiB). It reads the whole trace into memory and
/// parses every record before checking, about 3 times the file's size in all, so this keeps a
/// check within about 1.5 GB. A trace written at the events level by a run at the default
/// `limits.max_events` is well below it; one written with every message may not be, and that
/// run has already checked the same properties as it went.
pub const MAX_TRACE_BYTES: u64 = 512 << 20;

/// Parses a trace file's text; errors name the line.
pub fn parse_trace(text: &str) -> Result<Vec<Record>, (usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| (i + 1, e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_order_is_time_then_kind_then_fields() {
        let rec = Record {
            t: 5,
            ev: Event::Vote {
                node: 2,
                candidate: 1,
                term: 3,
                granted: false,
                reason: Some("stale_term".into()),
            },
        };
        let mut w = TraceWriter::in_memory();
        w.record(&rec);
        assert_eq!(
            std::str::from_utf8(w.bytes()).unwrap(),
            "{\"t\":5,\"ev\":\"vote\",\"node\":2,\"candidate\":1,\"term\":3,\"granted\":false,\"reason\":\"stale_term\"}\n"
        );
        let back = parse_trace(std::str::from_utf8(w.bytes()).unwrap()).unwrap();
        assert_eq!(back, vec![rec]);
    }
}
