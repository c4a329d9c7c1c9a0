//! A cluster of Raft nodes driven by hand: a network that delivers only when told, disks that
//! complete only when told (or at once, with `disk=instant`), timers that fire only when told.
//! The nodes are the built-in node ([`Cluster`]) or tikv's raft crate through raftsim's adapter
//! ([`Harness<RaftRs>`]): any [`Driven`] node. A node that asks for a ticker
//! (`Output::Ticker`) is given, at `tick-election` or `tick-heartbeat`, the ticks it asked to
//! sleep for (`Output::WakeAfterTicks`): its election or heartbeat timer firing. Every input and every output is rendered as one human-readable line, so a test
//! can compare what happened with an expected text (`tests/interaction/*.txt`) or assert on
//! the nodes through their accessors (`tests/figure8.rs`).
//!
//! Line forms (the node id always comes first, so a line can be read on its own):
//!
//! - an input, at the left margin: `n1 election timeout`, `n1 heartbeat timeout`,
//!   `n1 -> n2 RequestVote ...` (a message delivered to n2), `n1 persisted #3` (disk writes
//!   durable), `n1 propose #1 key=1 value=7`, `n1 bootstrap leader`, `n1 start ...`,
//!   `n1 restart ...`, `n1 crash ...`, `drop n1 -> n2 ...` (a message lost);
//! - the node's outputs for that input, indented by two spaces, rendered by
//!   [`render_output`], then `nX role ROLE term=T` if the node's role or term changed, read
//!   through its accessors.
//!
//! A node with a ticker shows `nX ticker 1ms` at start and `nX wake after N ticks` whenever the
//! wake-up it asks for changes; `nX N ticks (election timeout)` is the input that gives them.
//!
//! `INDEX@TERM` is a log position: `last=3@2` is a last entry at index 3 of term 2;
//! `append 2@[2 2]` appends entries of terms 2 and 2 from index 2. An entry is shown by its
//! term, and a client write as `TERM(kKEY=VALUE)`.
#![allow(dead_code)] // each test crate that includes this module uses part of it

use std::collections::VecDeque;

use raftsim::base::time::SimDuration;
use raftsim::node::{
    CandidatePersist, ClientReply, Command, Config, Entry, Envelope, HardState, Index, Input, Log,
    LogOp, Message, Node, NodeId, Output, RaftNode, Role, Term, TimerKind, WireMessage,
};
use raftsim::observe::trace::{Event, TEntry};
use raftsim::raftrs::{self, RaftRs};
use raftsim::world::witness::{commit_of_applies, sent_record, Seen};

/// A driver error: a command the cluster's state does not allow (a down node, no write to
/// complete, a timer that is not armed). Scripts show it as `error: ...`.
pub type Res<T> = Result<T, String>;

/// When disk writes complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disk {
    /// Only on `persist`.
    Manual,
    /// Right after the step that issued them.
    Instant,
}

/// What a cluster starts from.
#[derive(Clone, Debug)]
pub struct Spec {
    pub nodes: u32,
    pub persist: CandidatePersist,
    pub max_entries: usize,
    pub disk: Disk,
    /// Each node's initial durable state; index 0 is n1.
    pub hard: Vec<HardState>,
}

impl Spec {
    /// `nodes` nodes with empty logs in term 0, `before_send`, 64 entries per message, manual
    /// disks.
    pub fn new(nodes: u32) -> Spec {
        Spec {
            nodes,
            persist: CandidatePersist::BeforeSend,
            max_entries: 64,
            disk: Disk::Manual,
            hard: vec![HardState::default(); nodes as usize],
        }
    }

    /// Parses the arguments of a `cluster` line: `nodes=N` and optional
    /// `persist=before_send|parallel`, `disk=manual|instant`, `max-entries=K`, `log=T,T,..`,
    /// `term=T`, `vote=V`, and per node `nI.log=..`, `nI.term=..`, `nI.vote=..`. A node's term
    /// defaults to the larger of `term` and its log's last term.
    pub fn parse(args: &[&str]) -> Res<Spec> {
        let mut nodes = None;
        let mut spec = Spec::new(0);
        // (log, term, vote) for all nodes, then per node.
        type Init = (Option<Vec<Term>>, Option<Term>, Option<Option<NodeId>>);
        let mut all: Init = (None, None, None);
        let mut per: Vec<(u32, Init)> = Vec::new();
        for arg in args {
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| format!("`{arg}`: expected key=value"))?;
            let (node, field) = match key.split_once('.') {
                Some((n, f)) => (Some(parse_id(n)?), f),
                None => (None, key),
            };
            let init = match node {
                Some(id) => {
                    if !per.iter().any(|(i, _)| *i == id) {
                        per.push((id, (None, None, None)));
                    }
                    &mut per.iter_mut().find(|(i, _)| *i == id).unwrap().1
                }
                None => &mut all,
            };
            match (node, field) {
                (None, "nodes") => nodes = Some(parse_num(key, value)? as u32),
                (None, "persist") => {
                    spec.persist = match value {
                        "before_send" => CandidatePersist::BeforeSend,
                        "parallel" => CandidatePersist::Parallel,
                        _ => return Err(format!("persist={value}: before_send or parallel")),
                    }
                }
                (None, "disk") => {
                    spec.disk = match value {
                        "manual" => Disk::Manual,
                        "instant" => Disk::Instant,
                        _ => return Err(format!("disk={value}: manual or instant")),
                    }
                }
                (None, "max-entries") => spec.max_entries = parse_num(key, value)? as usize,
                (_, "log") => init.0 = Some(parse_terms(value)?),
                (_, "term") => init.1 = Some(parse_num(key, value)?),
                (_, "vote") => {
                    init.2 = Some(if value == "-" {
                        None
                    } else {
                        Some(parse_id(value)?)
                    })
                }
                _ => {
                    return Err(format!(
                        "unknown `{key}`: nodes, persist, disk, max-entries, log, term, vote, \
                         nI.log, nI.term, nI.vote"
                    ))
                }
            }
        }
        let nodes = nodes.ok_or("nodes=N is required")?;
        if !(1..=64).contains(&nodes) {
            return Err(format!("nodes={nodes}: 1 to 64"));
        }
        if spec.max_entries == 0 {
            return Err("max-entries must be at least 1".into());
        }
        spec.nodes = nodes;
        spec.hard = Vec::new();
        for id in 1..=nodes {
            let own = per.iter().find(|(i, _)| *i == id).map(|(_, x)| x.clone());
            let own = own.unwrap_or((None, None, None));
            let terms = own.0.or(all.0.clone()).unwrap_or_default();
            let last = terms.last().copied().unwrap_or(0);
            let term = own.1.unwrap_or(all.1.unwrap_or(0).max(last));
            let voted_for = own.2.or(all.2).flatten();
            if terms.windows(2).any(|w| w[0] > w[1]) || term < last {
                return Err(format!(
                    "n{id}: log terms must not decrease nor exceed term {term}"
                ));
            }
            if voted_for.is_some_and(|v| v < 1 || v > nodes || term == 0) {
                return Err(format!("n{id}: vote must name a node, in a term above 0"));
            }
            spec.hard.push(HardState {
                commit: 0,
                term,
                voted_for,
                log: Log::from_entries(terms.iter().map(|&t| Entry::noop(t)).collect()),
            });
        }
        for (id, _) in &per {
            if *id == 0 || *id > nodes {
                return Err(format!("n{id}: the nodes are n1..n{nodes}"));
            }
        }
        Ok(spec)
    }
}

/// `3` or `n3`.
pub fn parse_id(s: &str) -> Res<NodeId> {
    s.strip_prefix('n')
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("`{s}`: expected a node id (3 or n3)"))
}

fn parse_num(key: &str, value: &str) -> Res<u64> {
    value
        .parse()
        .map_err(|_| format!("{key}={value}: expected a number"))
}

/// `1,1,2`; empty or `-` for an empty log.
fn parse_terms(value: &str) -> Res<Vec<Term>> {
    if value.is_empty() || value == "-" {
        return Ok(Vec::new());
    }
    value.split(',').map(|t| parse_num("log", t)).collect()
}

/// Which in-flight messages a `deliver` or `drop` takes: `FROM->TO`, either side `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub from: Option<NodeId>,
    pub to: Option<NodeId>,
}

impl Link {
    pub const ALL: Link = Link {
        from: None,
        to: None,
    };
    pub fn new(from: NodeId, to: NodeId) -> Link {
        Link {
            from: Some(from),
            to: Some(to),
        }
    }
    pub fn to(to: NodeId) -> Link {
        Link {
            from: None,
            to: Some(to),
        }
    }
    /// `all`, `1->2`, `n1->n2`, `*->2`, `1->*`.
    pub fn parse(s: &str) -> Res<Link> {
        if s == "all" {
            return Ok(Link::ALL);
        }
        let (f, t) = s
            .split_once("->")
            .ok_or_else(|| format!("`{s}`: expected FROM->TO or all"))?;
        let side = |x: &str| -> Res<Option<NodeId>> {
            if x == "*" {
                Ok(None)
            } else {
                parse_id(x).map(Some)
            }
        };
        Ok(Link {
            from: side(f)?,
            to: side(t)?,
        })
    }
    pub fn matches<M>(&self, e: &Envelope<M>) -> bool {
        self.from.is_none_or(|f| f == e.from) && self.to.is_none_or(|t| t == e.to)
    }
}

/// A node the harness can drive: how it is built from a [`Spec`], what its state is, how its
/// messages read.
pub trait Driven: RaftNode {
    /// Node `cfg.id` of the cluster `spec` describes, from its durable state.
    fn build(cfg: &Config, spec: &Spec, hard: HardState) -> Res<Self>;
    /// Term, vote, commit index and log as the node holds them in memory.
    fn view(&self) -> View;
    /// A message's body, after `nFROM -> nTO `.
    fn render_msg(msg: &Self::Msg) -> String;
}

/// A node's state, read from the node itself.
pub struct View {
    pub term: Term,
    pub voted_for: Option<NodeId>,
    pub commit: Index,
    pub log: Log,
}

impl Driven for Node {
    fn build(cfg: &Config, spec: &Spec, hard: HardState) -> Res<Node> {
        let opts = raftsim::node::Options {
            candidate_persist: spec.persist,
            ..Default::default()
        };
        Ok(Node::with_options(cfg.clone(), opts, hard))
    }
    fn view(&self) -> View {
        View {
            term: self.term(),
            voted_for: self.voted_for(),
            commit: self.commit_index(),
            log: self.log().clone(),
        }
    }
    fn render_msg(msg: &Message) -> String {
        render_message(msg)
    }
}

impl Driven for RaftRs {
    /// raft-rs at a tick of 1 ms: the election timeout is drawn from 150..=300 ticks by the
    /// adapter's seeded stream (seed 0), the heartbeat is 50 ticks.
    fn build(cfg: &Config, spec: &Spec, hard: HardState) -> Res<RaftRs> {
        if spec.persist != CandidatePersist::BeforeSend {
            return Err(
                "persist= is the built-in node's switch: raft-rs sends its vote \
                        requests once its Ready is durable"
                    .into(),
            );
        }
        let opts = raftrs::Options::new(
            SimDuration::from_millis(1),
            [cfg.election_timeout_min, cfg.election_timeout_max],
            cfg.heartbeat_interval,
            cfg.max_entries_per_message,
            256,
            raftrs::Bugs::NONE,
        );
        Ok(RaftRs::restart(cfg, &opts, hard))
    }
    fn view(&self) -> View {
        View {
            term: self.term(),
            voted_for: self.voted_for(),
            commit: self.commit_index(),
            log: self.log(),
        }
    }
    fn render_msg(msg: &raftrs::Msg) -> String {
        render_raft_rs(msg)
    }
}

/// Something that happened, for a test that feeds a checker.
#[derive(Clone, Debug)]
pub enum Happening<M = Message> {
    /// A node (re)started from this durable state.
    Start {
        node: NodeId,
        hard: HardState,
        restart: bool,
    },
    Crash {
        node: NodeId,
    },
    Output {
        node: NodeId,
        output: Output<M>,
    },
    /// A trace record, derived from the node's outputs and role exactly as the simulator
    /// derives them (`raftsim::world::witness`): what a checker sees.
    Record(Event),
}

/// A disk write issued and not yet complete.
#[derive(Clone, Debug)]
struct Write {
    seq: u64,
    term: Term,
    voted_for: Option<NodeId>,
    commit: Index,
    ops: Vec<LogOp>,
}

struct Slot<N> {
    cfg: Config,
    /// `None` while crashed.
    node: Option<N>,
    durable: HardState,
    /// Oldest first.
    pending: VecDeque<Write>,
    /// The log as it will be on disk once every pending write completes.
    written: Log,
    /// Armed timers: election, heartbeat.
    armed: [bool; 2],
    /// For a node with a ticker: the ticks it asked to sleep for, from its last step.
    wake: Option<u64>,
    /// What an outside observer has seen of the node (as the simulator observes it).
    seen: Seen,
}

fn timer_slot(kind: TimerKind) -> usize {
    match kind {
        TimerKind::Election => 0,
        TimerKind::Heartbeat => 1,
        TimerKind::Tick => unreachable!("the built-in node asks for no ticker"),
    }
}

fn timer_name(kind: TimerKind) -> &'static str {
    match kind {
        TimerKind::Election => "election",
        TimerKind::Heartbeat => "heartbeat",
        TimerKind::Tick => "tick",
    }
}

/// A cluster of built-in nodes.
pub type Cluster = Harness<Node>;

/// A cluster of nodes of one implementation, driven by hand.
pub struct Harness<N: Driven> {
    spec: Spec,
    slots: Vec<Slot<N>>,
    disk: Disk,
    /// Sent and not yet delivered or dropped, in send order.
    net: Vec<Envelope<N::Msg>>,
    next_req: u64,
    /// Rendered lines not yet taken.
    lines: Vec<String>,
    happenings: Vec<Happening<N::Msg>>,
}

impl Cluster {
    /// A cluster of built-in nodes; panics if `spec` asks for what they cannot do.
    pub fn new(spec: Spec) -> Cluster {
        Harness::build(spec).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Parses a `cluster` line's arguments (see [`Spec::parse`]) and builds the cluster.
    pub fn parse(args: &str) -> Res<Cluster> {
        let args: Vec<&str> = args.split_whitespace().collect();
        Harness::build(Spec::parse(&args)?)
    }
}

impl<N: Driven> Harness<N> {
    /// Builds every node from its initial durable state and starts it.
    pub fn build(spec: Spec) -> Res<Harness<N>> {
        let n = spec.nodes;
        let mut c = Harness {
            slots: (1..=n)
                .map(|id| Slot {
                    cfg: Config {
                        max_entries_per_message: spec.max_entries,
                        // Each node its own stream (raft-rs draws its election timeouts
                        // from it; the built-in node draws nothing).
                        seed: id as u64,
                        ..Config::new(id, n)
                    },
                    node: None,
                    durable: spec.hard[id as usize - 1].clone(),
                    pending: VecDeque::new(),
                    written: spec.hard[id as usize - 1].log.clone(),
                    armed: [false; 2],
                    wake: None,
                    seen: Seen::from_disk(&spec.hard[id as usize - 1]),
                })
                .collect(),
            disk: spec.disk,
            spec,
            net: Vec::new(),
            next_req: 1,
            lines: Vec::new(),
            happenings: Vec::new(),
        };
        for id in 1..=n {
            c.boot(id, false)?;
        }
        Ok(c)
    }

    pub fn size(&self) -> u32 {
        self.slots.len() as u32
    }

    fn slot(&self, id: NodeId) -> Res<&Slot<N>> {
        if id == 0 || id > self.size() {
            return Err(format!("n{id}: no such node"));
        }
        Ok(&self.slots[id as usize - 1])
    }

    fn up(&self, id: NodeId) -> Res<&N> {
        self.slot(id)?
            .node
            .as_ref()
            .ok_or_else(|| format!("n{id} is down"))
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.up(id).is_ok()
    }

    /// The running node `id`; panics if it is down.
    #[track_caller]
    pub fn node(&self, id: NodeId) -> &N {
        self.up(id).unwrap_or_else(|e| panic!("{e}"))
    }

    /// What node `id` has on disk.
    pub fn durable(&self, id: NodeId) -> &HardState {
        &self.slots[id as usize - 1].durable
    }

    /// The terms of node `id`'s durable log.
    pub fn durable_terms(&self, id: NodeId) -> Vec<Term> {
        self.durable(id)
            .log
            .entries()
            .iter()
            .map(|e| e.term)
            .collect()
    }

    pub fn in_flight(&self) -> &[Envelope<N::Msg>] {
        &self.net
    }

    /// The rendered lines since the last call.
    pub fn take_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }

    /// Everything that happened since the cluster was built, in order.
    pub fn happenings(&self) -> &[Happening<N::Msg>] {
        &self.happenings
    }

    // ---- inputs ----

    /// Fires node `id`'s timer; it must be armed. A node with a ticker is given the ticks it
    /// asked to sleep for, if its role makes them this kind of timeout (a leader's are its
    /// heartbeat's, anyone else's its election timeout's).
    pub fn tick(&mut self, id: NodeId, kind: TimerKind) -> Res<()> {
        let node = self.up(id)?;
        let slot = &self.slots[id as usize - 1];
        if let Some(n) = slot.wake {
            let leading = node.role() == Role::Leader;
            if leading != (kind == TimerKind::Heartbeat) {
                return Err(format!(
                    "n{id} is {} {}: its ticks are not its {} timer",
                    if leading { "a" } else { "not a" },
                    Role::Leader.name(),
                    timer_name(kind)
                ));
            }
            self.slots[id as usize - 1].wake = None;
            self.step(
                id,
                Input::Ticks(n),
                format!("n{id} {n} ticks ({} timeout)", timer_name(kind)),
            );
            return Ok(());
        }
        let slot = &mut self.slots[id as usize - 1];
        let armed = &mut slot.armed[timer_slot(kind)];
        if !*armed {
            return Err(format!("n{id} has no {} timer armed", timer_name(kind)));
        }
        *armed = false;
        self.step(
            id,
            Input::Timer(kind),
            format!("n{id} {} timeout", timer_name(kind)),
        );
        Ok(())
    }

    pub fn tick_election(&mut self, id: NodeId) -> Res<()> {
        self.tick(id, TimerKind::Election)
    }

    pub fn tick_heartbeat(&mut self, id: NodeId) -> Res<()> {
        self.tick(id, TimerKind::Heartbeat)
    }

    /// Delivers the messages in flight now that match any of `links`, in send order; what they
    /// cause joins the network after them. A message to a down node is dropped. Returns how
    /// many were taken.
    pub fn deliver(&mut self, links: &[Link]) -> usize {
        let (now, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|e| links.iter().any(|l| l.matches(e)));
        self.net = rest;
        let n = now.len();
        for env in now {
            let header = render_envelope::<N>(&env);
            if self.is_up(env.to) {
                if env.msg.vote_granted() == Some(true) {
                    self.slots[env.to as usize - 1]
                        .seen
                        .vote_delivered(env.msg.term(), env.from);
                }
                self.step(env.to, Input::Message(env), header);
            } else {
                self.lines
                    .push(format!("drop {header} (n{} is down)", env.to));
            }
        }
        n
    }

    /// Delivers the messages in flight from `from` to `to`.
    pub fn deliver_link(&mut self, from: NodeId, to: NodeId) -> usize {
        self.deliver(&[Link::new(from, to)])
    }

    /// Loses the messages in flight that match any of `links`.
    pub fn drop(&mut self, links: &[Link]) -> usize {
        self.drop_where(|e| links.iter().any(|l| l.matches(e)))
    }

    /// Loses the messages in flight for which `lose` holds.
    pub fn drop_where(&mut self, mut lose: impl FnMut(&Envelope<N::Msg>) -> bool) -> usize {
        let (gone, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(&mut lose);
        self.net = rest;
        for e in &gone {
            self.lines.push(format!("drop {}", render_envelope::<N>(e)));
        }
        gone.len()
    }

    /// Makes node `id`'s oldest pending disk write durable, or all of them, and tells the node.
    pub fn persist(&mut self, id: NodeId, all: bool) -> Res<()> {
        self.up(id)?;
        let slot = &mut self.slots[id as usize - 1];
        if slot.pending.is_empty() {
            return Err(format!("n{id} has no disk write pending"));
        }
        let k = if all { slot.pending.len() } else { 1 };
        let done: Vec<Write> = slot.pending.drain(..k).collect();
        for w in &done {
            slot.durable
                .apply_write(w.term, w.voted_for, w.commit, &w.ops);
        }
        let seqs: Vec<String> = done.iter().map(|w| format!("#{}", w.seq)).collect();
        let last = done.last().expect("at least one").seq;
        self.step(
            id,
            Input::Persisted(last),
            format!("n{id} persisted {}", seqs.join(" ")),
        );
        Ok(())
    }

    /// Whether node `id` has disk writes not yet durable.
    pub fn has_pending_writes(&self, id: NodeId) -> bool {
        !self.slots[id as usize - 1].pending.is_empty()
    }

    /// Crashes node `id`: its pending disk writes are lost, messages to it are dropped,
    /// messages it sent stay in flight.
    pub fn crash(&mut self, id: NodeId) -> Res<()> {
        self.up(id)?;
        let slot = &mut self.slots[id as usize - 1];
        slot.node = None;
        slot.armed = [false; 2];
        slot.wake = None;
        slot.written = slot.durable.log.clone();
        let lost: Vec<String> = slot
            .pending
            .drain(..)
            .map(|w| format!(" #{}", w.seq))
            .collect();
        self.lines.push(if lost.is_empty() {
            format!("n{id} crash")
        } else {
            format!("n{id} crash, losing write{}", lost.concat())
        });
        self.happenings.push(Happening::Crash { node: id });
        self.drop_where(|e| e.to == id);
        Ok(())
    }

    /// Restarts node `id` from its durable state.
    pub fn restart(&mut self, id: NodeId) -> Res<()> {
        self.slot(id)?;
        if self.is_up(id) {
            return Err(format!("n{id} is up"));
        }
        self.boot(id, true)
    }

    /// A client request to node `id`; returns its request number.
    pub fn propose(&mut self, id: NodeId, key: u32, value: u64) -> Res<u64> {
        self.up(id)?;
        let req = self.next_req;
        self.next_req += 1;
        self.step(
            id,
            Input::ClientRequest {
                req,
                op: raftsim::node::Op::Put { key, value },
            },
            format!("n{id} propose #{req} key={key} value={value}"),
        );
        Ok(req)
    }

    /// Makes node `id` leader of its term without an election ([`Node::bootstrap_leader`]):
    /// it must be a follower that voted for itself.
    pub fn bootstrap(&mut self, id: NodeId) -> Res<()> {
        let node = self.up(id)?;
        if !N::CAPABILITIES.bootstrap_leader {
            return Err(format!("{} cannot start as an established leader", N::NAME));
        }
        let view = node.view();
        if node.role() != Role::Follower || view.voted_for != Some(id) {
            return Err(format!("n{id} must be a follower that voted for itself"));
        }
        let before = (node.role(), view.term);
        self.lines.push(format!("n{id} bootstrap leader"));
        let mut out = Vec::new();
        self.slots[id as usize - 1]
            .node
            .as_mut()
            .expect("up")
            .bootstrap_leader(&mut out);
        self.handle(id, out, before);
        Ok(())
    }

    /// Completes every pending disk write and delivers every message, round after round, until
    /// nothing is pending or in flight. Timers never fire.
    pub fn stabilize(&mut self) -> Res<()> {
        for _ in 0..10_000 {
            let mut busy = false;
            for id in 1..=self.size() {
                if self.is_up(id) && self.has_pending_writes(id) {
                    self.persist(id, true)?;
                    busy = true;
                }
            }
            if !self.net.is_empty() {
                self.deliver(&[Link::ALL]);
                busy = true;
            }
            if !busy {
                return Ok(());
            }
        }
        Err("still busy after 10000 rounds".into())
    }

    // ---- views ----

    /// One line per node: role, term, vote, leader, commit index, log; what is still only in
    /// memory; or, for a down node, what is on its disk.
    pub fn status(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let id = i + 1;
            let d = &slot.durable;
            let Some(n) = &slot.node else {
                lines.push(format!(
                    "n{id} down, on disk: term={} vote={} log={}",
                    d.term,
                    render_id(d.voted_for),
                    render_entries(d.log.entries())
                ));
                continue;
            };
            let v = n.view();
            let mut line = format!(
                "n{id} {} term={} vote={} leader={} commit={} log={}",
                n.role().name(),
                v.term,
                render_id(v.voted_for),
                render_id(n.leader()),
                v.commit,
                render_entries(v.log.entries())
            );
            if (d.term, d.voted_for, &d.log) != (v.term, v.voted_for, &v.log) {
                line += &format!(
                    "; on disk: term={} vote={} log={}",
                    d.term,
                    render_id(d.voted_for),
                    render_entries(d.log.entries())
                );
            }
            lines.push(line);
        }
        lines
    }

    /// One line per message in flight, in send order.
    pub fn in_flight_lines(&self) -> Vec<String> {
        self.net.iter().map(render_envelope::<N>).collect()
    }

    // ---- plumbing ----

    fn boot(&mut self, id: NodeId, restart: bool) -> Res<()> {
        let slot = &mut self.slots[id as usize - 1];
        if restart {
            // A new incarnation, a new stream (as the world derives one per incarnation).
            slot.cfg.seed += 1 << 32;
        }
        let hard = slot.durable.clone();
        self.lines.push(format!(
            "n{id} {} term={} vote={} log={}",
            if restart { "restart" } else { "start" },
            hard.term,
            render_id(hard.voted_for),
            render_entries(hard.log.entries())
        ));
        self.happenings.push(Happening::Start {
            node: id,
            hard: hard.clone(),
            restart,
        });
        slot.seen = Seen::from_disk(&hard);
        let mut node = N::build(&slot.cfg, &self.spec, hard)?;
        let before = (node.role(), node.view().term);
        let mut out = Vec::new();
        node.start(&mut out);
        slot.node = Some(node);
        self.handle(id, out, before);
        Ok(())
    }

    /// One input to a running node: the header line, then what the node does.
    fn step(&mut self, id: NodeId, input: Input<N::Msg>, header: String) {
        self.lines.push(header);
        let node = self.slots[id as usize - 1].node.as_mut().expect("up");
        let before = (node.role(), node.view().term);
        let mut out = Vec::new();
        node.step(input, &mut out);
        self.handle(id, out, before);
    }

    /// Renders and carries out a node's outputs: messages join the network, writes the disk
    /// queue, timers are armed or disarmed.
    fn handle(&mut self, id: NodeId, out: Vec<Output<N::Msg>>, before: (Role, Term)) {
        let slot = &mut self.slots[id as usize - 1];
        let role = slot.node.as_ref().expect("up").role();
        let mut records = Vec::new();
        slot.seen
            .step_records(id, role, &out, &slot.durable, &mut records);
        self.happenings
            .extend(records.into_iter().map(Happening::Record));
        for (k, o) in out.iter().enumerate() {
            let first_apply = matches!(o, Output::Apply { .. })
                && (k == 0 || !matches!(out[k - 1], Output::Apply { .. }));
            if first_apply {
                let commit_index = commit_of_applies(&out[k..]).expect("an apply");
                self.happenings.push(Happening::Record(Event::Commit {
                    node: id,
                    commit_index,
                }));
            }
            match o {
                Output::Apply { index, entry } => {
                    self.happenings.push(Happening::Record(Event::Apply {
                        node: id,
                        index: *index,
                        entry: TEntry::from(entry),
                        ret: None,
                    }))
                }
                Output::Note(note) => self
                    .happenings
                    .push(Happening::Record(Event::from_note(id, note.clone()))),
                Output::Send(env) => self
                    .happenings
                    .extend(sent_record(env).map(Happening::Record)),
                _ => {}
            }
        }
        for o in out {
            // A ticker node asks for its next wake-up after every input: shown when it changes.
            let same_wake = matches!(o, Output::WakeAfterTicks(n) if slot.wake == Some(n));
            if !same_wake {
                self.lines
                    .push(format!("  {}", render_output::<N>(id, &o, &slot.written)));
            }
            match &o {
                Output::Send(env) => self.net.push(env.clone()),
                Output::SetTimer { kind, .. } => slot.armed[timer_slot(*kind)] = true,
                Output::CancelTimer(kind) => slot.armed[timer_slot(*kind)] = false,
                Output::Ticker { .. } => {}
                Output::WakeAfterTicks(n) => slot.wake = Some(*n),
                Output::Persist {
                    seq,
                    term,
                    voted_for,
                    commit,
                    ops,
                } => {
                    for op in ops {
                        slot.written.apply_op(op);
                    }
                    slot.pending.push_back(Write {
                        seq: *seq,
                        term: *term,
                        voted_for: *voted_for,
                        commit: *commit,
                        ops: ops.clone(),
                    });
                }
                Output::Apply { .. } | Output::ClientReply { .. } | Output::Note(_) => {}
            }
            self.happenings.push(Happening::Output {
                node: id,
                output: o,
            });
        }
        let node = slot.node.as_ref().expect("up");
        let now = (node.role(), node.view().term);
        if now != before {
            self.lines
                .push(format!("  n{id} role {} term={}", now.0.name(), now.1));
        }
        if self.disk == Disk::Instant && !slot.pending.is_empty() {
            self.persist(id, true).expect("a pending write");
        }
    }
}

// ---- rendering ----

/// One output of node `id` as one line. `written` is the node's log as it will be on disk
/// once every earlier write completes: where a new write's appended entries land.
pub fn render_output<N: Driven>(id: NodeId, o: &Output<N::Msg>, written: &Log) -> String {
    match o {
        Output::Send(env) => render_envelope::<N>(env),
        Output::SetTimer { kind, min, max } if min == max => {
            format!("n{id} timer {} {min}", timer_name(*kind))
        }
        Output::SetTimer { kind, min, max } => {
            format!("n{id} timer {} {min}..{max}", timer_name(*kind))
        }
        Output::CancelTimer(kind) => format!("n{id} timer {} off", timer_name(*kind)),
        Output::Ticker { period } => format!("n{id} ticker {period}"),
        Output::WakeAfterTicks(n) => format!("n{id} wake after {n} ticks"),
        Output::Persist {
            seq,
            term,
            voted_for,
            commit,
            ops,
        } => {
            let mut s = format!(
                "n{id} persist #{seq} term={term} vote={}",
                render_id(*voted_for)
            );
            if *commit > 0 {
                s += &format!(" commit={commit}");
            }
            let mut len = written.last_index();
            for op in ops {
                match op {
                    LogOp::Truncate { from } => {
                        s += &format!(" truncate {from}..");
                        len = from - 1;
                    }
                    LogOp::Append { entries } => {
                        s += &format!(" append {}@{}", len + 1, render_entries(entries));
                        len += entries.len() as u64;
                    }
                }
            }
            s
        }
        Output::Apply { index, entry } => {
            let mut s = format!("n{id} apply {index} term={}", entry.term);
            if let Command::Put { key, value, .. } = entry.command {
                s += &format!(" k{key}={value}");
            }
            s
        }
        Output::ClientReply { req, reply } => match reply {
            ClientReply::Committed { index } => {
                format!("n{id} reply #{req} committed index={index}")
            }
            ClientReply::Read { index } => format!("n{id} reply #{req} read index={index}"),
            ClientReply::NotLeader { hint } => {
                format!("n{id} reply #{req} not-leader hint={}", render_id(*hint))
            }
        },
        // Debug form: a change to the notes shows up as a diff of the expected outputs.
        Output::Note(note) => format!("n{id} note {note:?}"),
    }
}

pub fn render_envelope<N: Driven>(e: &Envelope<N::Msg>) -> String {
    format!("n{} -> n{} {}", e.from, e.to, N::render_msg(&e.msg))
}

/// A built-in node's message.
pub fn render_message(m: &Message) -> String {
    match m {
        Message::RequestVote {
            term,
            last_log_index,
            last_log_term,
            transfer,
        } => format!(
            "RequestVote term={term} last={last_log_index}@{last_log_term}{}",
            if *transfer { " transfer" } else { "" }
        ),
        Message::RequestVoteResp { term, granted } => format!(
            "RequestVoteResp term={term} {}",
            if *granted { "granted" } else { "denied" }
        ),
        Message::PreVote {
            term,
            last_log_index,
            last_log_term,
        } => format!("PreVote term={term} last={last_log_index}@{last_log_term}"),
        Message::PreVoteResp { term, granted } => format!(
            "PreVoteResp term={term} {}",
            if *granted { "granted" } else { "denied" }
        ),
        Message::TimeoutNow { term } => format!("TimeoutNow term={term}"),
        Message::AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            ..
        } => format!(
            "AppendEntries term={term} prev={prev_log_index}@{prev_log_term} entries={} \
             commit={leader_commit}",
            render_entries(entries)
        ),
        Message::AppendEntriesResp {
            term,
            success: true,
            index,
            ..
        } => format!("AppendEntriesResp term={term} ok index={index}"),
        Message::AppendEntriesResp {
            term,
            success: false,
            index,
            ..
        } => format!("AppendEntriesResp term={term} reject hint={index}"),
        Message::ReadIndex { term, req } => format!("ReadIndex term={term} req={req}"),
        Message::ReadIndexResp { term, req, index } => match index {
            Some(i) => format!("ReadIndexResp term={term} req={req} index={i}"),
            None => format!("ReadIndexResp term={term} req={req} refused"),
        },
    }
}

/// `[1 2 2(k1=7)]`.
pub fn render_entries(entries: &[Entry]) -> String {
    let parts: Vec<String> = entries
        .iter()
        .map(|e| match e.command {
            Command::Noop => e.term.to_string(),
            Command::Put { key, value, .. } => format!("{}(k{key}={value})", e.term),
            Command::Get { key, .. } => format!("{}(get k{key})", e.term),
            Command::Cas {
                key, expect, value, ..
            } => format!("{}(k{key}:{expect}->{value})", e.term),
            Command::Config { old, new } => format!("{}(config {old:#b}->{new:#b})", e.term),
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

/// `n3`, or `-` for none.
pub fn render_id(id: Option<NodeId>) -> String {
    id.map_or("-".into(), |i| format!("n{i}"))
}

/// A raft-rs message, in the built-in node's words where they mean the same (`AppendEntries`
/// for `MsgAppend`, `last=INDEX@TERM`), raft-rs's own otherwise (`Heartbeat`, a rejection's
/// `hint`).
pub fn render_raft_rs(m: &raftrs::Msg) -> String {
    use raft::eraftpb::MessageType as T;
    let m = &m.0;
    let term = m.term;
    let vote = |name: &str| format!("{name} term={term} last={}@{}", m.index, m.log_term);
    let answer = |name: &str| {
        format!(
            "{name} term={term} {}",
            if m.reject { "denied" } else { "granted" }
        )
    };
    match m.get_msg_type() {
        T::MsgRequestVote => vote("RequestVote"),
        T::MsgRequestPreVote => vote("PreVote"),
        T::MsgRequestVoteResponse => answer("RequestVoteResp"),
        T::MsgRequestPreVoteResponse => answer("PreVoteResp"),
        T::MsgAppend => format!(
            "AppendEntries term={term} prev={}@{} entries={} commit={}",
            m.index,
            m.log_term,
            render_raft_rs_entries(m.get_entries()),
            m.commit
        ),
        T::MsgAppendResponse if !m.reject => {
            format!("AppendEntriesResp term={term} ok index={}", m.index)
        }
        T::MsgAppendResponse => format!(
            "AppendEntriesResp term={term} reject index={} hint={}@{}",
            m.index, m.reject_hint, m.log_term
        ),
        T::MsgHeartbeat => format!("Heartbeat term={term} commit={}", m.commit),
        T::MsgHeartbeatResponse => format!("HeartbeatResp term={term}"),
        T::MsgTimeoutNow => format!("TimeoutNow term={term}"),
        T::MsgPropose => format!(
            "Propose term={term} entries={}",
            render_raft_rs_entries(m.get_entries())
        ),
        t => format!("{t:?} term={term}"),
    }
}

/// raft-rs entries as [`render_entries`] shows the world's: `2`, `2(k1=7)`, `2(conf change)`.
fn render_raft_rs_entries(entries: &[raft::eraftpb::Entry]) -> String {
    use raft::eraftpb::EntryType;
    let parts: Vec<String> = entries
        .iter()
        .map(|e| {
            let d = e.get_data();
            match e.get_entry_type() {
                EntryType::EntryNormal if d.is_empty() => e.term.to_string(),
                EntryType::EntryNormal if d.len() == 20 => format!(
                    "{}(k{}={})",
                    e.term,
                    u32::from_le_bytes(d[8..12].try_into().unwrap()),
                    u64::from_le_bytes(d[12..20].try_into().unwrap())
                ),
                EntryType::EntryNormal => format!("{}({} bytes)", e.term, d.len()),
                _ => format!("{}(conf change)", e.term),
            }
        })
        .collect();
    format!("[{}]", parts.join(" "))
}
