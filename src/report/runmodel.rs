//! A run as a picture sees it: the records of a trace folded into one lane of state spans per
//! node (follower, pre-candidate, candidate, leader, down, paused, each with its term), network intervals
//! (partitions, cut links, loss or delay bursts), point marks (elections, leaders, split votes,
//! commits, crashes, restarts, truncations, configuration entries appended and committed, clock
//! jumps, skipped faults, violations), each node's log length and commit index over time
//! ([`LogStep`]s: what one needs beside the roles to see a Leader Completeness failure) and
//! messages (a `send` paired with its `deliver` or `drop` by id, at `--trace-level messages`)
//! and client operations (a request from its first `client_request` to its `client_done`, those
//! in a linearizability violation's window flagged).
//!
//! The timeline picture (`timeline`), the Perfetto export (`perfetto`) and the browser viewer
//! (`view`) all draw from this one model, so they agree on what the trace says. It reads
//! records only, like every observer (docs/ARCHITECTURE.md "Observers"): a role comes from the
//! `role` records the world derived from outside the node; a crash makes a lane `down` until the
//! node's `restart`, which brings it back as a follower in the term it had written to disk.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::observe::trace::{Event, Record, TEntry, TOp, TRet, TVia};
use crate::protocol::{NodeId, Role};

/// What a lane shows at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Follower,
    /// PreVote (dissertation §9.6): asking whether it could win, before raising its term;
    /// shown for nodes that report such a role.
    PreCandidate,
    Candidate,
    Leader,
    /// Crashed, not yet restarted.
    Down,
    /// Paused (handles nothing until it resumes), in the role it had.
    Paused,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Follower => "follower",
            State::PreCandidate => "pre_candidate",
            State::Candidate => "candidate",
            State::Leader => "leader",
            State::Down => "down",
            State::Paused => "paused",
        }
    }

    pub const ALL: [State; 6] = [
        State::Follower,
        State::PreCandidate,
        State::Candidate,
        State::Leader,
        State::Down,
        State::Paused,
    ];
}

/// One stretch of a lane in one state and term, `[from, to)` in ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub from: u64,
    pub to: u64,
    pub state: State,
    pub term: u64,
}

/// A network condition over `[from, to)`: the end of the trace when it never ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetInterval {
    pub from: u64,
    pub to: u64,
    #[serde(flatten)]
    pub kind: NetKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NetKind {
    /// Groups of nodes that cannot reach each other (every node listed).
    Partition { groups: Vec<Vec<NodeId>> },
    /// One direction of one link: what `sender` sends `receiver` is lost. (Not `from`/`to`:
    /// the interval's own `from`/`to` share the object, and a reader keeps one pair only.)
    Cut {
        #[serde(rename = "sender")]
        from: NodeId,
        #[serde(rename = "receiver")]
        to: NodeId,
    },
    /// A network-wide burst or spike (loss, duplication, delay).
    Network { what: String },
}

/// A moment worth marking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mark {
    pub t: u64,
    /// The lane it belongs to; `None` for the whole cluster.
    pub node: Option<NodeId>,
    #[serde(flatten)]
    pub kind: MarkKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MarkKind {
    Election {
        term: u64,
    },
    Leader {
        term: u64,
        votes: u32,
    },
    SplitVote {
        term: u64,
        candidates: Vec<NodeId>,
    },
    /// A term whose only candidate lost.
    FailedElection {
        term: u64,
    },
    Commit {
        index: u64,
    },
    Crash,
    Restart {
        term: u64,
    },
    Truncate {
        from: u64,
    },
    /// A configuration entry (paper §6) reached this node's log at `index`: `old` is C_old
    /// for the joint C_old,new (empty for C_new alone).
    ConfigAppended {
        index: u64,
        old: Vec<NodeId>,
        new: Vec<NodeId>,
    },
    /// This node's commit index reached the configuration entry at `index`.
    ConfigCommitted {
        index: u64,
    },
    /// The node's clock stepped by `by` ns, forward or back (`back`).
    ClockJump {
        by: u64,
        back: bool,
    },
    FaultSkipped {
        reason: String,
    },
    Violation {
        property: String,
        detail: String,
    },
}

/// A node's log from time `t` on (until its next step): the index of its last entry and its
/// commit index, as the trace's `append`, `truncate`, `commit`, `boot` and `restart` records
/// give them (a restart starts the commit index afresh at 0, as the checker does: it is
/// volatile state, Figure 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LogStep {
    pub t: u64,
    pub last: u64,
    pub commit: u64,
}

/// A message from its send to its delivery or drop. A duplicated message is two.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub msg: String,
    pub term: u64,
    pub sent: u64,
    /// Delivery or drop time.
    pub arrived: u64,
    /// Why it was dropped, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
}

/// How a client operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpOutcome {
    /// The client was answered.
    Ok,
    /// The client gave up (its attempts ran out): it may or may not have taken effect.
    Failed,
    /// Never answered before the run ended: it may or may not have taken effect.
    Open,
}

/// A client request (docs/CLIENTS.md) from its first attempt to its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientOp {
    pub req: u64,
    /// The node its latest attempt went to.
    pub node: NodeId,
    pub attempts: u32,
    /// What it asks; `None` in a run whose requests are all puts (the trace leaves it out).
    pub op: Option<TOp>,
    pub start: u64,
    /// When it was answered or given up; the end of the trace when it is still open.
    pub end: u64,
    pub outcome: OpOutcome,
    /// What the client was told, for a get or a CAS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ret: Option<TRet>,
    /// For a get served without the log: where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<TVia>,
    /// In the shortest window of operations that no order explains (a `linearizability`
    /// record's `window`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub violation: bool,
}

impl ClientOp {
    /// A short label: `r12 get k1 → 7`, `r3 cas k0 2->5 → no`, `r8 put k2=4 (failed)`.
    pub fn label(&self) -> String {
        let what = self.op.map_or("put".to_string(), |op| op.to_string());
        let told = match (self.outcome, self.ret) {
            (OpOutcome::Failed, _) => " (failed)".to_string(),
            (OpOutcome::Open, _) => " (no answer)".to_string(),
            (OpOutcome::Ok, Some(TRet::Get(Some(v)))) => format!(" → {v}"),
            (OpOutcome::Ok, Some(TRet::Get(None))) => " → none".to_string(),
            (OpOutcome::Ok, Some(TRet::Cas(ok))) => {
                format!(" → {}", if ok { "ok" } else { "no" })
            }
            (OpOutcome::Ok, None) => String::new(),
        };
        format!("r{} {what}{told}", self.req)
    }
}

/// The whole run, as lanes, intervals, marks and messages, times in ns.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunModel {
    pub scenario: String,
    pub seed: u64,
    pub nodes: u32,
    /// The last record's time.
    pub end: u64,
    /// `lanes[i]` is node `i + 1`'s, spans in time order, covering `[0, end)`.
    pub lanes: Vec<Vec<Span>>,
    pub net: Vec<NetInterval>,
    pub marks: Vec<Mark>,
    /// `logs[i]` is node `i + 1`'s log steps in time order, the first at 0; one step per time
    /// (the state after that time's last record). Not embedded in the viewer's page.
    #[serde(skip)]
    pub logs: Vec<Vec<LogStep>>,
    pub messages: Vec<Message>,
    /// The trace was written with `--trace-level messages` (else `messages` is empty).
    pub has_messages: bool,
    /// Client operations, by their first attempt's time.
    pub ops: Vec<ClientOp>,
}

/// A trace this model cannot be drawn from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("no `start` record gives the cluster size (is this a raftsim trace?)")]
    NoStart,
    #[error("record {index}: node n{node} is outside the cluster of {nodes}")]
    BadNode {
        index: usize,
        node: NodeId,
        nodes: u32,
    },
}

#[derive(Clone, Copy)]
struct NodeNow {
    role: Role,
    term: u64,
    down: bool,
    paused: bool,
    since: u64,
}

impl NodeNow {
    fn state(&self) -> State {
        if self.down {
            State::Down
        } else if self.paused {
            State::Paused
        } else {
            match self.role {
                Role::Candidate => State::Candidate,
                Role::Leader => State::Leader,
                // Any other role by its trace name: a node with PreVote reports
                // `pre_candidate`; the rest are followers.
                other if other.name() == "pre_candidate" => State::PreCandidate,
                _ => State::Follower,
            }
        }
    }
}

impl RunModel {
    /// Folds a trace's records into the model.
    pub fn build(records: &[Record]) -> Result<RunModel, ModelError> {
        let mut fold = Fold::new(records)?;
        for (index, r) in records.iter().enumerate() {
            fold.index = index + 1;
            fold.t = r.t;
            fold.record(&r.ev)?;
        }
        Ok(fold.finish())
    }

    /// The state of node `node` (1-based) at time `t`: the span covering it.
    pub fn state_at(&self, node: NodeId, t: u64) -> Option<Span> {
        let lane = self.lanes.get(node.checked_sub(1)? as usize)?;
        lane.iter()
            .find(|s| s.from <= t && t < s.to)
            .or_else(|| lane.last().filter(|s| t >= s.to))
            .copied()
    }

    /// Node `node`'s (last index, commit index) at `t`: the last step at or before it.
    pub fn log_at(&self, node: NodeId, t: u64) -> Option<(u64, u64)> {
        let lane = self.logs.get(node.checked_sub(1)? as usize)?;
        let k = lane.partition_point(|s| s.t <= t);
        let s = lane.get(k.checked_sub(1)?)?;
        Some((s.last, s.commit))
    }

    /// Whether node `node` is on the minority side of a partition, or cut off in some
    /// direction, at `t`: the lanes the picture shades.
    pub fn cut_off_at(&self, node: NodeId, t: u64) -> bool {
        self.net.iter().any(|n| {
            n.from <= t
                && t < n.to
                && match &n.kind {
                    NetKind::Partition { groups } => {
                        let biggest = groups.iter().map(Vec::len).max().unwrap_or(0);
                        groups
                            .iter()
                            .any(|g| g.contains(&node) && g.len() < biggest)
                            || groups.iter().filter(|g| g.len() == biggest).count() > 1
                    }
                    NetKind::Cut { from, to } => *from == node || *to == node,
                    NetKind::Network { .. } => false,
                }
        })
    }
}

/// A trace being folded into a [`RunModel`]: the model so far, each node's state now, and the
/// network intervals and messages still open.
struct Fold {
    m: RunModel,
    /// The record being folded: its 1-based index and its time.
    index: usize,
    t: u64,
    now: Vec<NodeNow>,
    // Open network intervals, by what closes them.
    open_parts: Vec<(u64, Vec<Vec<NodeId>>)>,
    open_cuts: BTreeMap<(NodeId, NodeId), u64>,
    open_net: BTreeMap<String, u64>,
    sent: BTreeMap<u64, (NodeId, NodeId, String, u64, u64)>,
    /// Each node's configuration entries by index, to mark when its commit index passes them,
    /// and the highest one marked (a restart's commit index starts again at 0: an entry it
    /// commits again is not marked twice).
    configs: Vec<BTreeSet<u64>>,
    config_marked: Vec<u64>,
    /// Each client request's place in `m.ops`.
    ops: BTreeMap<u64, usize>,
}

impl Fold {
    /// An empty fold sized by the trace's `start` record.
    fn new(records: &[Record]) -> Result<Fold, ModelError> {
        let (nodes, scenario, seed) = records
            .iter()
            .find_map(|r| match &r.ev {
                Event::Start {
                    nodes,
                    seed,
                    scenario,
                    ..
                } => Some((*nodes, scenario.clone(), *seed)),
                _ => None,
            })
            .ok_or(ModelError::NoStart)?;
        let n = nodes as usize;
        let m = RunModel {
            scenario,
            seed,
            nodes,
            end: records.last().map_or(0, |r| r.t),
            lanes: vec![Vec::new(); n],
            logs: vec![
                vec![LogStep {
                    t: 0,
                    last: 0,
                    commit: 0,
                }];
                n
            ],
            has_messages: records.iter().any(|r| matches!(r.ev, Event::Send { .. })),
            ..RunModel::default()
        };
        let now = NodeNow {
            role: Role::Follower,
            term: 0,
            down: false,
            paused: false,
            since: 0,
        };
        Ok(Fold {
            m,
            index: 0,
            t: 0,
            now: vec![now; n],
            open_parts: Vec::new(),
            open_cuts: BTreeMap::new(),
            open_net: BTreeMap::new(),
            sent: BTreeMap::new(),
            configs: vec![BTreeSet::new(); n],
            config_marked: vec![0; n],
            ops: BTreeMap::new(),
        })
    }

    /// Node `node`'s lane index, or the error naming the record that mentions a node outside
    /// the cluster.
    fn check(&self, node: NodeId) -> Result<usize, ModelError> {
        let nodes = self.m.nodes;
        if node == 0 || node > nodes {
            Err(ModelError::BadNode {
                index: self.index,
                node,
                nodes,
            })
        } else {
            Ok(node as usize - 1)
        }
    }

    /// Marks the current record's time on `node`'s lane (or the whole cluster's).
    fn mark(&mut self, node: Option<NodeId>, kind: MarkKind) {
        self.m.marks.push(Mark {
            t: self.t,
            node,
            kind,
        });
    }

    /// Changes lane `i`'s state now, closing its current span.
    fn change(&mut self, i: usize, f: impl FnOnce(&mut NodeNow)) {
        let t = self.t;
        let before = self.now[i];
        f(&mut self.now[i]);
        let after = self.now[i];
        if before.state() != after.state() || before.term != after.term {
            if t > before.since {
                self.m.lanes[i].push(Span {
                    from: before.since,
                    to: t,
                    state: before.state(),
                    term: before.term,
                });
            }
            self.now[i].since = t;
        }
    }

    /// Folds one record, by the part of the model it feeds.
    fn record(&mut self, ev: &Event) -> Result<(), ModelError> {
        match ev {
            Event::Boot { .. }
            | Event::Role { .. }
            | Event::Crash { .. }
            | Event::Restart { .. }
            | Event::Pause { .. }
            | Event::Resume { .. } => self.lane_record(ev),
            Event::Election { .. }
            | Event::Leader { .. }
            | Event::SplitVote { .. }
            | Event::FailedElection { .. }
            | Event::ClockJump { .. }
            | Event::FaultSkipped { .. }
            | Event::Violation { .. } => self.mark_record(ev),
            Event::Commit { node, commit_index } => self.commit(*node, *commit_index),
            Event::Truncate { node, from } => self.truncate(*node, *from),
            Event::Append {
                node,
                index,
                entries,
            } => self.append(*node, *index, entries),
            Event::Partition { .. }
            | Event::Heal { .. }
            | Event::Cut { .. }
            | Event::Restore { .. }
            | Event::NetworkFault { .. } => self.net_record(ev),
            Event::Send { .. } | Event::Deliver { .. } | Event::Drop { id: Some(_), .. } => {
                self.message_record(ev)
            }
            Event::ClientRequest { .. }
            | Event::ClientDone { .. }
            | Event::Linearizability { .. } => self.client_record(ev),
            _ => Ok(()),
        }
    }

    /// A record that changes a lane's state: boot, role, crash, restart, pause, resume.
    fn lane_record(&mut self, ev: &Event) -> Result<(), ModelError> {
        let t = self.t;
        match ev {
            Event::Boot {
                node, term, log, ..
            } => {
                let i = self.check(*node)?;
                self.change(i, |s| s.term = *term);
                self.configs[i] = config_indices(log);
                log_step(&mut self.m.logs[i], t, log.len() as u64, 0);
            }
            Event::Role { node, role, term } => {
                let i = self.check(*node)?;
                self.change(i, |s| {
                    s.role = *role;
                    s.term = *term;
                });
            }
            Event::Crash { node } => {
                let i = self.check(*node)?;
                self.change(i, |s| {
                    s.down = true;
                    s.paused = false;
                    s.role = Role::Follower;
                });
                self.mark(Some(*node), MarkKind::Crash);
            }
            Event::Restart {
                node, term, log, ..
            } => {
                let i = self.check(*node)?;
                self.configs[i] = config_indices(log);
                log_step(&mut self.m.logs[i], t, log.len() as u64, 0);
                self.change(i, |s| {
                    s.down = false;
                    s.role = Role::Follower;
                    s.term = *term;
                });
                self.mark(Some(*node), MarkKind::Restart { term: *term });
            }
            Event::Pause { node, .. } => {
                let i = self.check(*node)?;
                self.change(i, |s| s.paused = true);
            }
            Event::Resume { node } => {
                let i = self.check(*node)?;
                self.change(i, |s| s.paused = false);
            }
            _ => {}
        }
        Ok(())
    }

    /// A record that is only a mark: elections, leaders, split votes, failed elections, clock
    /// jumps, skipped faults, violations.
    fn mark_record(&mut self, ev: &Event) -> Result<(), ModelError> {
        let (node, kind) = match ev {
            Event::Election { node, term } => (Some(*node), MarkKind::Election { term: *term }),
            Event::Leader { node, term, votes } => (
                Some(*node),
                MarkKind::Leader {
                    term: *term,
                    votes: *votes,
                },
            ),
            Event::SplitVote { term, candidates } => (
                None,
                MarkKind::SplitVote {
                    term: *term,
                    candidates: candidates.clone(),
                },
            ),
            Event::FailedElection { term, node } => {
                (Some(*node), MarkKind::FailedElection { term: *term })
            }
            Event::ClockJump { node, by, back } => (
                Some(*node),
                MarkKind::ClockJump {
                    by: *by,
                    back: *back,
                },
            ),
            Event::FaultSkipped { reason } => (
                None,
                MarkKind::FaultSkipped {
                    reason: reason.clone(),
                },
            ),
            Event::Violation { property, detail } => (
                None,
                MarkKind::Violation {
                    property: property.clone(),
                    detail: detail.clone(),
                },
            ),
            _ => return Ok(()),
        };
        if let Some(node) = node {
            self.check(node)?;
        }
        self.mark(node, kind);
        Ok(())
    }

    /// A `commit` record: its mark, a mark for each configuration entry it passes, and the
    /// node's new commit index.
    fn commit(&mut self, node: NodeId, commit_index: u64) -> Result<(), ModelError> {
        let i = self.check(node)?;
        let before = self.m.logs[i]
            .last()
            .map_or(0, |s| s.commit)
            .max(self.config_marked[i]);
        self.mark(
            Some(node),
            MarkKind::Commit {
                index: commit_index,
            },
        );
        if before < commit_index {
            for &index in self.configs[i].range(before + 1..=commit_index) {
                self.m.marks.push(Mark {
                    t: self.t,
                    node: Some(node),
                    kind: MarkKind::ConfigCommitted { index },
                });
                self.config_marked[i] = index;
            }
        }
        let last = self.m.logs[i].last().map_or(0, |s| s.last);
        log_step(&mut self.m.logs[i], self.t, last, commit_index);
        Ok(())
    }

    /// A `truncate` record: its mark, and the node's log cut back to before `from`.
    fn truncate(&mut self, node: NodeId, from: u64) -> Result<(), ModelError> {
        let i = self.check(node)?;
        self.mark(Some(node), MarkKind::Truncate { from });
        self.configs[i].retain(|&c| c < from);
        let now = *self.m.logs[i].last().expect("a first step at 0");
        log_step(
            &mut self.m.logs[i],
            self.t,
            now.last.min(from.saturating_sub(1)),
            now.commit,
        );
        Ok(())
    }

    /// An `append` record: a mark for each configuration entry, and the node's new last index.
    fn append(&mut self, node: NodeId, index: u64, entries: &[TEntry]) -> Result<(), ModelError> {
        let i = self.check(node)?;
        for (k, e) in entries.iter().enumerate() {
            if let Some((old, new)) = e.configuration() {
                let at = index + k as u64;
                self.configs[i].insert(at);
                self.mark(
                    Some(node),
                    MarkKind::ConfigAppended {
                        index: at,
                        old,
                        new,
                    },
                );
            }
        }
        let commit = self.m.logs[i].last().map_or(0, |s| s.commit);
        let last = (index + entries.len() as u64).saturating_sub(1);
        log_step(&mut self.m.logs[i], self.t, last, commit);
        Ok(())
    }

    /// A record that opens or closes a network interval: partition, heal, cut, restore, a
    /// network-wide fault on or off.
    fn net_record(&mut self, ev: &Event) -> Result<(), ModelError> {
        let t = self.t;
        let nodes = self.m.nodes;
        match ev {
            Event::Partition { groups } => {
                self.open_parts.push((t, complete_groups(groups, nodes)));
            }
            Event::Heal { groups } => {
                let full = complete_groups(groups, nodes);
                let open = &mut self.open_parts;
                let at = open.iter().position(|(_, g)| *g == full).unwrap_or(0);
                if at < open.len() {
                    let (from, groups) = open.remove(at);
                    self.m.net.push(NetInterval {
                        from,
                        to: t,
                        kind: NetKind::Partition { groups },
                    });
                }
            }
            Event::Cut { from, to } => {
                self.check(*from)?;
                self.check(*to)?;
                self.open_cuts.entry((*from, *to)).or_insert(t);
            }
            Event::Restore { from, to } => {
                if let Some(start) = self.open_cuts.remove(&(*from, *to)) {
                    self.m.net.push(NetInterval {
                        from: start,
                        to: t,
                        kind: NetKind::Cut {
                            from: *from,
                            to: *to,
                        },
                    });
                }
            }
            Event::NetworkFault { what, on: true } => {
                self.open_net.entry(what.clone()).or_insert(t);
            }
            Event::NetworkFault { what, on: false } => {
                if let Some(start) = self.open_net.remove(what) {
                    self.m.net.push(NetInterval {
                        from: start,
                        to: t,
                        kind: NetKind::Network { what: what.clone() },
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A message record: a `send` is held by its id until its `deliver` or `drop` completes
    /// it.
    fn message_record(&mut self, ev: &Event) -> Result<(), ModelError> {
        match ev {
            Event::Send {
                from,
                to,
                msg,
                term,
                id,
            } => {
                self.check(*from)?;
                self.check(*to)?;
                self.sent
                    .insert(*id, (*from, *to, msg.to_string(), *term, self.t));
            }
            Event::Deliver { id, .. } | Event::Drop { id: Some(id), .. } => {
                if let Some((from, to, msg, term, at)) = self.sent.get(id) {
                    self.m.messages.push(Message {
                        id: *id,
                        from: *from,
                        to: *to,
                        msg: msg.clone(),
                        term: *term,
                        sent: *at,
                        arrived: self.t,
                        dropped: match ev {
                            Event::Drop { reason, .. } => Some(reason.to_string()),
                            _ => None,
                        },
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A client record: a request's first attempt opens its operation, a later one moves it,
    /// `client_done` closes it, and a linearizability violation flags its window's.
    fn client_record(&mut self, ev: &Event) -> Result<(), ModelError> {
        match ev {
            Event::ClientRequest {
                req,
                node,
                attempt,
                op,
            } => {
                self.check(*node)?;
                if let Some(&k) = self.ops.get(req) {
                    let o = &mut self.m.ops[k];
                    o.node = *node;
                    o.attempts = o.attempts.max(*attempt);
                } else {
                    self.ops.insert(*req, self.m.ops.len());
                    self.m.ops.push(ClientOp {
                        req: *req,
                        node: *node,
                        attempts: *attempt,
                        op: *op,
                        start: self.t,
                        end: self.t,
                        outcome: OpOutcome::Open,
                        ret: None,
                        via: None,
                        violation: false,
                    });
                }
            }
            Event::ClientDone {
                req, ok, ret, via, ..
            } => {
                if let Some(&k) = self.ops.get(req) {
                    let o = &mut self.m.ops[k];
                    o.end = self.t;
                    o.outcome = if *ok {
                        OpOutcome::Ok
                    } else {
                        OpOutcome::Failed
                    };
                    o.ret = *ret;
                    o.via = *via;
                }
            }
            Event::Linearizability { window, .. } => {
                for req in window {
                    if let Some(&k) = self.ops.get(req) {
                        self.m.ops[k].violation = true;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The model at the end of the trace: every lane's last span and every interval still
    /// open closed at the last record's time, the intervals in time order.
    fn finish(self) -> RunModel {
        let mut m = self.m;
        let end = m.end;
        for (i, s) in self.now.iter().enumerate() {
            if end > s.since || m.lanes[i].is_empty() {
                m.lanes[i].push(Span {
                    from: s.since,
                    to: end.max(s.since),
                    state: s.state(),
                    term: s.term,
                });
            }
        }
        for (from, groups) in self.open_parts {
            m.net.push(NetInterval {
                from,
                to: end,
                kind: NetKind::Partition { groups },
            });
        }
        for ((a, b), from) in self.open_cuts {
            m.net.push(NetInterval {
                from,
                to: end,
                kind: NetKind::Cut { from: a, to: b },
            });
        }
        for (what, from) in self.open_net {
            m.net.push(NetInterval {
                from,
                to: end,
                kind: NetKind::Network { what },
            });
        }
        m.net.sort_by_key(|n| (n.from, n.to));
        for o in m.ops.iter_mut().filter(|o| o.outcome == OpOutcome::Open) {
            o.end = end;
        }
        m
    }
}

/// The indices of a log's configuration entries.
fn config_indices(log: &[crate::observe::trace::TEntry]) -> BTreeSet<u64> {
    (1..=log.len() as u64)
        .filter(|&i| log[i as usize - 1].config.is_some())
        .collect()
}

/// Sets a node's log to (`last`, `commit`) from `t` on: one step per time, none when nothing
/// changed.
fn log_step(lane: &mut Vec<LogStep>, t: u64, last: u64, commit: u64) {
    let prev = *lane.last().expect("a first step at 0");
    if (prev.last, prev.commit) == (last, commit) {
        return;
    }
    if prev.t == t {
        lane.pop();
        if lane
            .last()
            .is_some_and(|p| (p.last, p.commit) == (last, commit))
        {
            return;
        }
    }
    lane.push(LogStep { t, last, commit });
}

/// The partition's groups with the unlisted nodes as one more group (docs/ARCHITECTURE.md
/// "Faults"), each sorted.
fn complete_groups(groups: &[Vec<NodeId>], nodes: u32) -> Vec<Vec<NodeId>> {
    let mut out: Vec<Vec<NodeId>> = groups
        .iter()
        .map(|g| {
            let mut g = g.clone();
            g.sort_unstable();
            g
        })
        .collect();
    let rest: Vec<NodeId> = (1..=nodes)
        .filter(|n| !groups.iter().any(|g| g.contains(n)))
        .collect();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page reads these objects with JSON.parse, which keeps the last of two equal keys:
    /// a cut's link once shared `from`/`to` with its interval, and the viewer never showed it.
    #[test]
    fn network_intervals_serialize_without_duplicate_keys() {
        for kind in [
            NetKind::Partition {
                groups: vec![vec![1], vec![2, 3]],
            },
            NetKind::Cut { from: 1, to: 3 },
            NetKind::Network {
                what: "loss burst".into(),
            },
        ] {
            let json = serde_json::to_string(&NetInterval {
                from: 2,
                to: 9,
                kind,
            })
            .unwrap();
            let mut keys: Vec<&str> = json
                .split('"')
                .collect::<Vec<_>>()
                .windows(2)
                .filter(|w| w[1].starts_with(':'))
                .map(|w| w[0])
                .collect();
            let n = keys.len();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), n, "{json}");
            assert!(json.contains(r#""from":2,"to":9"#), "{json}");
        }
    }

    fn rec(t: u64, ev: Event) -> Record {
        Record { t, ev }
    }

    #[test]
    fn lanes_follow_roles_crashes_and_pauses() {
        let recs = vec![
            rec(0, Event::start(2, None)),
            rec(10, Event::role(1, Role::Candidate, 1)),
            rec(20, Event::role(1, Role::Leader, 1)),
            rec(30, Event::Crash { node: 1 }),
            rec(35, Event::Pause { node: 2, until: 45 }),
            rec(45, Event::Resume { node: 2 }),
            rec(
                50,
                Event::Restart {
                    node: 1,
                    term: 1,
                    voted_for: Some(1),
                    log: vec![],
                },
            ),
            rec(
                60,
                Event::End {
                    outcome: "completed".into(),
                    events: 9,
                },
            ),
        ];
        let m = RunModel::build(&recs).unwrap();
        let states: Vec<(u64, u64, State, u64)> = m.lanes[0]
            .iter()
            .map(|s| (s.from, s.to, s.state, s.term))
            .collect();
        assert_eq!(
            states,
            vec![
                (0, 10, State::Follower, 0),
                (10, 20, State::Candidate, 1),
                (20, 30, State::Leader, 1),
                (30, 50, State::Down, 1),
                (50, 60, State::Follower, 1),
            ]
        );
        assert_eq!(m.state_at(2, 40).unwrap().state, State::Paused);
        assert_eq!(m.state_at(2, 45).unwrap().state, State::Follower);
        assert_eq!(m.state_at(1, 60).unwrap().state, State::Follower);
    }

    #[test]
    fn partitions_pair_with_their_heal() {
        let recs = vec![
            rec(0, Event::start(3, None)),
            rec(
                5,
                Event::Partition {
                    groups: vec![vec![1]],
                },
            ),
            rec(
                9,
                Event::Heal {
                    groups: vec![vec![1]],
                },
            ),
            rec(10, Event::Cut { from: 2, to: 3 }),
        ];
        let m = RunModel::build(&recs).unwrap();
        assert_eq!(m.net.len(), 2);
        assert_eq!(
            m.net[0].kind,
            NetKind::Partition {
                groups: vec![vec![1], vec![2, 3]]
            }
        );
        assert_eq!((m.net[0].from, m.net[0].to), (5, 9));
        assert!(m.cut_off_at(1, 6) && !m.cut_off_at(2, 6) && !m.cut_off_at(1, 9));
        // An open cut runs to the end of the trace.
        assert_eq!((m.net[1].from, m.net[1].to), (10, 10));
    }

    fn entry(term: u64) -> crate::observe::trace::TEntry {
        crate::observe::trace::TEntry {
            term,
            ..Default::default()
        }
    }

    /// Each node's (time, last index, commit index) follows its appends, truncations, commits
    /// and restarts (a restart starts the commit index at 0 with the durable log); a
    /// configuration entry is marked when it reaches a log and when that node's commit index
    /// passes it, once; a clock jump is marked on its lane.
    #[test]
    fn log_steps_and_membership_marks_follow_the_records() {
        let joint = crate::observe::trace::TEntry {
            config: Some([0b011, 0b111]),
            ..entry(2)
        };
        let append = |node, index, entries: Vec<_>| Event::Append {
            node,
            index,
            entries,
        };
        let commit = |node, commit_index| Event::Commit { node, commit_index };
        let recs = vec![
            rec(0, Event::start(2, None)),
            rec(10, append(1, 1, vec![entry(1), entry(1)])),
            rec(10, commit(1, 1)),
            rec(20, append(2, 1, vec![entry(1)])),
            rec(30, append(1, 3, vec![joint])),
            rec(40, commit(1, 3)),
            rec(50, Event::Truncate { node: 2, from: 1 }),
            rec(50, append(2, 1, vec![entry(1), entry(1), joint])),
            rec(60, Event::Crash { node: 1 }),
            rec(
                70,
                Event::Restart {
                    node: 1,
                    term: 2,
                    voted_for: None,
                    log: vec![entry(1), entry(1), joint],
                },
            ),
            rec(80, commit(1, 3)),
            rec(
                85,
                Event::ClockJump {
                    node: 2,
                    by: 400,
                    back: true,
                },
            ),
            rec(90, Event::Truncate { node: 1, from: 4 }),
        ];
        let m = RunModel::build(&recs).unwrap();
        let steps = |i: usize| -> Vec<(u64, u64, u64)> {
            m.logs[i].iter().map(|s| (s.t, s.last, s.commit)).collect()
        };
        assert_eq!(
            steps(0),
            vec![
                (0, 0, 0),
                (10, 2, 1),
                (30, 3, 1),
                (40, 3, 3),
                (70, 3, 0),
                (80, 3, 3)
            ]
        );
        // n2's truncation and append at 50 are one step.
        assert_eq!(steps(1), vec![(0, 0, 0), (20, 1, 0), (50, 3, 0)]);
        assert_eq!(m.log_at(1, 35), Some((3, 1)));
        assert_eq!(m.log_at(1, 75), Some((3, 0)));
        assert_eq!(m.log_at(2, 1000), Some((3, 0)));
        let marks: Vec<(u64, Option<NodeId>, MarkKind)> = m
            .marks
            .iter()
            .filter(|k| {
                matches!(
                    k.kind,
                    MarkKind::ConfigAppended { .. }
                        | MarkKind::ConfigCommitted { .. }
                        | MarkKind::ClockJump { .. }
                )
            })
            .map(|k| (k.t, k.node, k.kind.clone()))
            .collect();
        let appended = |index| MarkKind::ConfigAppended {
            index,
            old: vec![1, 2],
            new: vec![1, 2, 3],
        };
        assert_eq!(
            marks,
            vec![
                (30, Some(1), appended(3)),
                (40, Some(1), MarkKind::ConfigCommitted { index: 3 }),
                (50, Some(2), appended(3)),
                (
                    85,
                    Some(2),
                    MarkKind::ClockJump {
                        by: 400,
                        back: true
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_node_outside_the_cluster_is_an_error() {
        let recs = vec![
            rec(0, Event::start(3, None)),
            rec(1, Event::Crash { node: 4 }),
        ];
        assert_eq!(
            RunModel::build(&recs).unwrap_err(),
            ModelError::BadNode {
                index: 2,
                node: 4,
                nodes: 3
            }
        );
        assert_eq!(RunModel::build(&[]).unwrap_err(), ModelError::NoStart);
    }
}
