//! The fault model, executed in one place. A run's faults are a list of [`Fault`]s (from a
//! scenario's script, or built by an experiment); each has a kind with a typed target, a start
//! time (plus optional jitter drawn from the fault's own stream) and an optional end. This
//! module schedules them, resolves targets ("leader", "random", ...) at the moment they apply,
//! and carries them out: crashes and restarts, partitions and cuts, pauses, and crashes aimed at
//! a node's k-th disk write.
//!
//! Deciding and doing are apart, as in the network's `send`: when a fault acts, the world shows
//! [`FaultState`] a [`Scene`] (which nodes run, the current leader, its configuration when the
//! fault needs it), the fault state resolves the target, drawing from the fault's own stream,
//! and returns a [`Decision`] (crash n2, heal these groups, propose these voters, skip and
//! why, ...); the world applies it: trace records, node steps, queue events. The deciding code
//! never reads the world's slots, queue or nodes.
//!
//! A fault that finds nothing to act on (no leader to crash, a node already up) is traced as
//! `fault_skipped`, never dropped silently.
//!
//! Membership actions (`add_server`, `remove_server`, `replace_server`, and the generated
//! `membership` kind) are compiled into a change of the leader's latest configuration when they
//! fire: the world reads it from the leader's log as written to its disk, never by asking the
//! node. A conditional action (`when`) waits from its start until its condition holds, judged
//! on the commit and configuration records the world emits anyway: the highest index applied
//! anywhere and the number of changes completed are kept up to date, and the waiting actions
//! are looked at only when one of them moves.

use super::config::{
    Condition, Fault, FaultKind, GenKind, Generator, RunConfig, Target, WritePoint,
};
use super::{Ev, Simulation};
use crate::base::dist::DurationDist;
use crate::base::rng::{Purpose, Rng};
use crate::base::time::format_duration;
use crate::base::time::{SimDuration, SimTime};
use crate::observe::trace::Event;
use crate::observe::Observer;
use crate::protocol::{voter_ids, Index, Input, NodeId, RaftNode};

/// A crash-at-write fault once started: counting writes until its k-th.
struct WriteWatch {
    fault: usize,
    k: u64,
    leader_only: bool,
    point: WritePoint,
    restart_after: SimDuration,
    counted: u64,
    /// The chosen write: (node, incarnation, seq).
    target: Option<(NodeId, u32, u64)>,
    /// The crash happened, or the fault's `until` passed first: the watch is done.
    fired: bool,
}

/// What the world shows the fault state when a fault acts: enough to resolve a target and to
/// judge a membership action, as the world observes it (never from a node's insides).
#[derive(Clone, Debug, Default)]
pub struct Scene {
    /// The running (not crashed) nodes, a bit set over ids (bit `id - 1`).
    pub live: u64,
    /// The live leader of the highest term, if any.
    pub leader: Option<LeaderView>,
}

/// The current leader, as a [`Scene`] shows it.
#[derive(Clone, Copy, Debug)]
pub struct LeaderView {
    pub id: NodeId,
    /// It is paused: an operator's request would not reach it.
    pub paused: bool,
    /// Its term as observed.
    pub term: u64,
    /// The highest index it applied.
    pub applied: Index,
    /// Its latest configuration, (index, C_old, C_new) as in `Simulation::config_of`: read
    /// (from its disk) only for a fault that needs it.
    pub config: Option<(Index, u64, u64)>,
}

impl Scene {
    /// Node `id` is running.
    fn is_live(&self, id: NodeId) -> bool {
        self.live & (1u64 << (id - 1)) != 0
    }

    /// The leader, unless it is paused: the one an operator's request would reach.
    fn running_leader(&self) -> Option<&LeaderView> {
        self.leader.as_ref().filter(|l| !l.paused)
    }
}

/// What a fault does now, decided by [`FaultState`] and applied by the world.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Nothing: the end of a fault that undoes nothing, or a crash at a write that starts or
    /// stops counting writes.
    Nothing,
    /// A `fault_skipped` record, with why.
    Skip(String),
    /// A conditional fault began to wait: its condition may hold already.
    Wait,
    /// The node crashes (the world reports back whether it was up).
    Crash(NodeId),
    /// The node restarts from its durable state.
    Restart(NodeId),
    /// These groups are partitioned from the rest (`on`), or healed.
    Partition { groups: Vec<Vec<NodeId>>, on: bool },
    /// Messages `from`→`to` are cut (`on`), or restored.
    Cut { from: NodeId, to: NodeId, on: bool },
    /// The node handles nothing until `until` (pauses may overlap).
    Pause { node: NodeId, until: SimTime },
    /// One pause of the node ends; it resumes when the last one does.
    Unpause(NodeId),
    /// Every message sent meanwhile is lost with extra probability `p` (`on`), or no longer.
    LossBurst { p: f64, on: bool },
    /// Every message sent meanwhile is duplicated with extra probability `p` (`on`), or no
    /// longer.
    DuplicateBurst { p: f64, on: bool },
    /// Every message sent meanwhile takes `extra` longer (`on`), or no longer.
    DelaySpike { extra: DurationDist, on: bool },
    /// The node's clock steps `by`, forward or `back`.
    ClockJump {
        node: NodeId,
        by: SimDuration,
        back: bool,
    },
    /// `leader` is asked to make `voters` (a bit set) the configuration; `action` is what the
    /// `membership` record says the fault asked.
    Propose {
        leader: NodeId,
        voters: u64,
        action: Option<String>,
    },
    /// `from` (the leader) is asked to hand leadership to `to`.
    Transfer { from: NodeId, to: NodeId },
}

pub struct FaultState {
    /// The run's faults: the configuration's, then those its generators drew from the seed.
    pub list: Vec<Fault>,
    /// How many of `list` were generated (the last ones).
    pub generated: usize,
    /// The cluster's size.
    nodes: u32,
    /// Where each isolation put its node (to heal the same partition).
    isolated: Vec<Option<Vec<Vec<NodeId>>>>,
    /// One stream per fault, for its jitter and its random targets.
    rngs: Vec<Rng>,
    /// Fault events not yet applied: scheduled starts and ends, and the restart of a crash at a
    /// disk write once it has happened.
    pending: usize,
    last_crashed: Option<NodeId>,
    /// Which node a crash or pause hit, so its end acts on the same node.
    targets: Vec<Option<NodeId>>,
    last_fault: Option<SimTime>,
    watches: Vec<WriteWatch>,
    /// Conditional faults started and still waiting for their condition, by index.
    waiting: Vec<usize>,
    /// What conditions are judged on: the highest index any node has applied, and the
    /// configuration changes completed (C_new first committed).
    committed: u64,
    changes_done: u32,
    /// The run changes membership (initial voters given, or a membership action): liveness
    /// then looks at the leader's configuration, not every node.
    membership: bool,
    /// Some leader has been asked for a change (`Input::ChangeMembership`): only then can a
    /// log hold a configuration entry.
    asked: bool,
    /// The leader (and its term) whose catch-up of new servers (dissertation §4.2.1) last
    /// started and has not ended: its change is under way though its log does not show it yet.
    pub catching_up: Option<(NodeId, u64)>,
}

impl FaultState {
    pub fn new(cfg: &RunConfig, seed: u64) -> FaultState {
        let mut list = cfg.faults.clone();
        for (g, spec) in cfg.generators.iter().enumerate() {
            list.extend(generate(spec, g, cfg, seed));
        }
        let generated = list.len() - cfg.faults.len();
        let membership = cfg.raft.initial_voters != 0
            || cfg
                .generators
                .iter()
                .any(|g| g.kinds.contains(&GenKind::Membership))
            || cfg.faults.iter().any(|f| {
                matches!(
                    f.kind,
                    FaultKind::ChangeMembership(_) | FaultKind::Reconfigure { .. }
                )
            });
        FaultState::of(list, generated, cfg.nodes, membership, seed)
    }

    /// The state of the faults `list` (its last `generated` drawn by generators) in a cluster
    /// of `nodes`, each with its own stream from `seed`; `membership`: the run changes it.
    fn of(
        list: Vec<Fault>,
        generated: usize,
        nodes: u32,
        membership: bool,
        seed: u64,
    ) -> FaultState {
        let n = list.len();
        FaultState {
            generated,
            list,
            nodes,
            isolated: vec![None; n],
            rngs: (0..n)
                .map(|i| Rng::stream(seed, Purpose::Faults, i as u64))
                .collect(),
            pending: 0,
            last_crashed: None,
            targets: vec![None; n],
            last_fault: None,
            watches: Vec::new(),
            waiting: Vec::new(),
            committed: 0,
            changes_done: 0,
            asked: false,
            catching_up: None,
            membership,
        }
    }

    /// Every scheduled fault event has been applied.
    pub fn all_applied(&self) -> bool {
        self.pending == 0
    }

    /// At least one fault event applied, and none is left.
    pub fn done(&self) -> bool {
        self.last_fault.is_some() && self.pending == 0
    }

    pub fn last_fault(&self) -> Option<SimTime> {
        self.last_fault
    }

    /// A node applied up to `index`. True when the highest index applied anywhere moved while
    /// a conditional fault waits: its condition may hold now.
    #[inline]
    pub fn note_commit(&mut self, index: u64) -> bool {
        if index <= self.committed {
            return false;
        }
        self.committed = index;
        !self.waiting.is_empty()
    }

    /// A configuration change completed. True when a conditional fault waits: its condition
    /// may hold now.
    pub fn note_change_completed(&mut self) -> bool {
        self.changes_done += 1;
        !self.waiting.is_empty()
    }

    pub fn crashed(&mut self, id: NodeId) {
        self.last_crashed = Some(id);
        // A crash ends the node's pauses: their ends have nothing left to end, and must not
        // end a pause of its next incarnation early.
        for (i, f) in self.list.iter().enumerate() {
            if matches!(f.kind, FaultKind::Pause { .. }) && self.targets[i] == Some(id) {
                self.targets[i] = None;
            }
        }
    }

    /// Crash fault `i` crashed `id`: its end restarts that node.
    fn struck(&mut self, i: usize, id: NodeId) {
        self.targets[i] = Some(id);
    }

    fn applied(&mut self, now: SimTime) {
        self.pending -= 1;
        self.last_fault = Some(now);
    }

    /// One line for each generated fault, for the `fault_plan` records.
    fn plans(&self) -> Vec<String> {
        let first_generated = self.list.len() - self.generated;
        self.list[first_generated..].iter().map(describe).collect()
    }

    /// Every fault's start (and end), in the order they go on the queue: (time, fault, true for
    /// a start). Draws each fault's jitter from its own stream and counts the events pending.
    fn schedule(&mut self) -> Vec<(SimTime, usize, bool)> {
        let mut events = Vec::with_capacity(2 * self.list.len());
        for (i, f) in self.list.iter().enumerate() {
            let at = f.at
                + f.jitter
                    .as_ref()
                    .map_or(SimDuration::ZERO, |j| j.sample(&mut self.rngs[i]));
            events.push((at, i, true));
            if let Some(u) = f.until {
                events.push((u.max(at), i, false));
            }
        }
        self.pending += events.len();
        events
    }

    /// Whether fault `i`'s decision needs the leader's configuration in its [`Scene`].
    fn needs_config(&self, i: usize) -> bool {
        matches!(self.list[i].kind, FaultKind::Reconfigure { .. })
    }

    /// The start or end of conditional fault `i` at `now`: a start begins its wait, an end
    /// while it still waits stops it (skipped, and why). `None` for a fault without a
    /// condition, which acts instead.
    fn condition_event(&mut self, i: usize, start: bool, now: SimTime) -> Option<Decision> {
        let cond = self.list[i].when?;
        if start {
            self.waiting.push(i);
            return Some(Decision::Wait);
        }
        let Some(j) = self.waiting.iter().position(|&w| w == i) else {
            return Some(Decision::Nothing);
        };
        // `until` came first: stop waiting.
        self.waiting.remove(j);
        let what = describe_kind(&self.list[i].kind);
        Some(Decision::Skip(format!(
            "{what}: its condition ({}) did not hold by {now}",
            cond.describe()
        )))
    }

    /// The waiting conditional faults whose condition holds now, in the order they waited; they
    /// stop waiting, and each firing is a fault event still to apply.
    fn due(&mut self) -> Vec<usize> {
        let (committed, changes) = (self.committed, self.changes_done);
        let list = &self.list;
        let mut due = Vec::new();
        self.waiting.retain(|&i| {
            let cond = list[i].when.expect("a waiting fault has a condition");
            let holds = cond.holds(committed, changes);
            if holds {
                due.push(i);
            }
            !holds
        });
        self.pending += due.len();
        due
    }

    /// What fault `i` does at its start or end, given the world as `scene` shows it. Random
    /// targets are drawn from the fault's own stream.
    fn decide(&mut self, i: usize, start: bool, scene: &Scene) -> Decision {
        let when = self.list[i].when;
        match self.list[i].kind.clone() {
            FaultKind::Crash(t) => self.decide_crash(i, t, start, scene),
            FaultKind::Restart(t) => match self.resolve(i, t, scene) {
                Some(id) => Decision::Restart(id),
                None => Decision::Skip(format!("restart: there is no {}", t.describe())),
            },
            FaultKind::Partition(groups) => Decision::Partition { groups, on: start },
            FaultKind::Cut { from, to } => Decision::Cut {
                from,
                to,
                on: start,
            },
            FaultKind::Pause { target, until } => self.decide_pause(i, target, until, start, scene),
            FaultKind::Isolate(t) => self.decide_isolate(i, t, start, scene),
            FaultKind::LossBurst(p) => Decision::LossBurst { p, on: start },
            FaultKind::DuplicateBurst(p) => Decision::DuplicateBurst { p, on: start },
            FaultKind::DelaySpike(extra) => Decision::DelaySpike { extra, on: start },
            FaultKind::ClockJump { target, by, back } => {
                match self.resolve_live(i, target, scene) {
                    Some(node) => Decision::ClockJump { node, by, back },
                    None => Decision::Skip(format!(
                        "clock jump: {} is not a live node",
                        target.describe()
                    )),
                }
            }
            FaultKind::ChangeMembership(voters) => self.change_membership(voters, when, scene),
            FaultKind::Reconfigure { add, remove } => self.reconfigure(i, add, remove, when, scene),
            FaultKind::TransferLeadership(to) => match scene.running_leader() {
                Some(l) => Decision::Transfer { from: l.id, to },
                None => Decision::Skip(format!("transfer leadership to n{to}: no running leader")),
            },
            FaultKind::CrashAtWrite { .. } => {
                self.watch_writes(i, start);
                Decision::Nothing
            }
        }
    }

    /// The node target `t` names for fault `i` now, if any: a follower or a random node is
    /// drawn among the running ones.
    fn resolve(&mut self, i: usize, t: Target, scene: &Scene) -> Option<NodeId> {
        let leader = scene.leader.map(|l| l.id);
        match t {
            Target::Node(id) => Some(id),
            Target::LastCrashed => self.last_crashed,
            Target::Leader => leader,
            Target::Random | Target::Follower => {
                let live: Vec<NodeId> = voter_ids(scene.live)
                    .into_iter()
                    .filter(|&id| t == Target::Random || Some(id) != leader)
                    .collect();
                if live.is_empty() {
                    None
                } else {
                    let k = self.rngs[i].range_inclusive(0, live.len() as u64 - 1);
                    Some(live[k as usize])
                }
            }
        }
    }

    /// [`resolve`](Self::resolve), kept only if the node is running.
    fn resolve_live(&mut self, i: usize, t: Target, scene: &Scene) -> Option<NodeId> {
        self.resolve(i, t, scene).filter(|&id| scene.is_live(id))
    }

    /// A crash's start crashes its target; its end restarts the node it crashed, if it did.
    fn decide_crash(&mut self, i: usize, t: Target, start: bool, scene: &Scene) -> Decision {
        if !start {
            return self.targets[i].map_or(Decision::Nothing, Decision::Restart);
        }
        // Only a crash that happened is undone by this fault's end (the world reports it with
        // `struck`): a node that was already down is another fault's to restart.
        self.targets[i] = None;
        match self.resolve(i, t, scene) {
            Some(id) => Decision::Crash(id),
            None => Decision::Skip(format!("crash: there is no {}", t.describe())),
        }
    }

    /// A pause's start pauses a running target until `until`; its end ends that pause.
    fn decide_pause(
        &mut self,
        i: usize,
        t: Target,
        until: SimTime,
        start: bool,
        scene: &Scene,
    ) -> Decision {
        if !start {
            return self.targets[i].map_or(Decision::Nothing, Decision::Unpause);
        }
        let target = self.resolve_live(i, t, scene);
        self.targets[i] = target;
        match target {
            Some(node) => Decision::Pause { node, until },
            None => Decision::Skip(format!("pause: {} is not a live node", t.describe())),
        }
    }

    /// An isolation's start partitions a running target alone; its end heals that partition.
    fn decide_isolate(&mut self, i: usize, t: Target, start: bool, scene: &Scene) -> Decision {
        if !start {
            return match self.isolated[i].take() {
                Some(groups) => Decision::Partition { groups, on: false },
                None => Decision::Nothing,
            };
        }
        match self.resolve_live(i, t, scene) {
            Some(id) => {
                let groups = vec![vec![id]];
                self.isolated[i] = Some(groups.clone());
                Decision::Partition { groups, on: true }
            }
            None => Decision::Skip(format!("isolate: {} is not a live node", t.describe())),
        }
    }

    /// A crash at a write: its start begins counting writes, its end (`until` passed) stops
    /// waiting for the write.
    fn watch_writes(&mut self, i: usize, start: bool) {
        if !start {
            if let Some(w) = self.watches.iter_mut().find(|w| w.fault == i) {
                w.fired = true;
            }
            return;
        }
        let FaultKind::CrashAtWrite {
            k,
            leader_only,
            point,
            restart_after,
        } = self.list[i].kind
        else {
            unreachable!("fault {i} is a crash at a write");
        };
        self.watches.push(WriteWatch {
            fault: i,
            k,
            leader_only,
            point,
            restart_after,
            counted: 0,
            target: None,
            fired: false,
        });
    }

    /// The running leader is asked to make `voters` the configuration.
    fn change_membership(
        &mut self,
        voters: u64,
        when: Option<Condition>,
        scene: &Scene,
    ) -> Decision {
        match scene.running_leader() {
            Some(l) => {
                self.asked = true;
                Decision::Propose {
                    leader: l.id,
                    voters,
                    action: when.map(|c| format!("when {}", c.describe())),
                }
            }
            None => Decision::Skip(format!(
                "change membership to {}: no running leader",
                describe_voters(voters)
            )),
        }
    }

    /// One of `pool` for fault `i`: the only one, or (`draw`) one drawn from the fault's own
    /// stream.
    fn pick(&mut self, i: usize, pool: &[NodeId], draw: bool) -> Option<NodeId> {
        match pool.len() {
            0 => None,
            1 if !draw => Some(pool[0]),
            len => {
                let k = self.rngs[i].range_inclusive(0, len as u64 - 1);
                Some(pool[k as usize])
            }
        }
    }

    /// A membership action: one server added, removed or replaced in the leader's latest
    /// configuration, which must be committed and not joint (a change under way is not
    /// disturbed: the action is skipped, and says so).
    fn reconfigure(
        &mut self,
        i: usize,
        add: Option<Target>,
        remove: Option<Target>,
        when: Option<Condition>,
        scene: &Scene,
    ) -> Decision {
        let what = describe_kind(&self.list[i].kind);
        let skip = |why: String| Decision::Skip(format!("{what}: {why}"));
        let (leader, voters) = match self.settled_leader(scene) {
            Ok(settled) => settled,
            Err(why) => return skip(why),
        };
        let mut parts = Vec::new();
        let mut new = voters;
        if let Some(t) = remove {
            let id = match self.pick_removal(i, t, leader, voters) {
                Ok(id) => id,
                Err(why) => return skip(why),
            };
            new &= !(1u64 << (id - 1));
            parts.push(match t {
                Target::Node(_) => format!("remove n{id}"),
                _ => format!("remove n{id} ({})", describe_member(t)),
            });
        }
        if let Some(t) = add {
            let id = match self.pick_addition(i, t, voters) {
                Ok(id) => id,
                Err(why) => return skip(why),
            };
            new |= 1u64 << (id - 1);
            parts.push(format!("add n{id}"));
        }
        if new == 0 {
            return skip(format!(
                "it would leave no voter in {}",
                describe_voters(voters)
            ));
        }
        let mut action = format!("{what}: {}", parts.join(", "));
        if let Some(c) = when {
            action.push_str(&format!(", when {}", c.describe()));
        }
        self.asked = true;
        Decision::Propose {
            leader,
            voters: new,
            action: Some(action),
        }
    }

    /// The running leader and the voters of its latest configuration, if that configuration is
    /// settled (committed, not joint, no catch-up under way); otherwise why not.
    fn settled_leader(&self, scene: &Scene) -> Result<(NodeId, u64), String> {
        let Some(l) = scene.running_leader() else {
            return Err("no running leader".into());
        };
        let leader = l.id;
        if self.catching_up == Some((leader, l.term)) {
            return Err(format!(
                "leader n{leader} has a change under way (catching new servers up)"
            ));
        }
        let (index, old, voters) = l
            .config
            .expect("the scene holds the leader's configuration");
        if old != 0 || index > l.applied {
            return Err(format!(
                "leader n{leader} has a change under way (its configuration at index {index} is {})",
                if old != 0 { "joint" } else { "not committed" }
            ));
        }
        Ok((leader, voters))
    }

    /// The voter of `voters` that target `t` removes for fault `i` (a follower or a random
    /// voter drawn from its stream), or why there is none.
    fn pick_removal(
        &mut self,
        i: usize,
        t: Target,
        leader: NodeId,
        voters: u64,
    ) -> Result<NodeId, String> {
        let pool: Vec<NodeId> = voter_ids(voters)
            .into_iter()
            .filter(|&v| match t {
                Target::Node(id) => v == id,
                Target::Leader => v == leader,
                Target::Follower => v != leader,
                Target::Random | Target::LastCrashed => true,
            })
            .collect();
        let draw = matches!(t, Target::Follower | Target::Random);
        self.pick(i, &pool, draw).ok_or_else(|| {
            format!(
                "{} is not a voter of {}",
                t.describe(),
                describe_voters(voters)
            )
        })
    }

    /// The node outside `voters` that target `t` adds for fault `i` (a random one drawn from
    /// its stream), or why there is none.
    fn pick_addition(&mut self, i: usize, t: Target, voters: u64) -> Result<NodeId, String> {
        let pool: Vec<NodeId> = (1..=self.nodes)
            .filter(|&v| voters & (1u64 << (v - 1)) == 0)
            .filter(|&v| !matches!(t, Target::Node(id) if id != v))
            .collect();
        self.pick(i, &pool, !matches!(t, Target::Node(_)))
            .ok_or_else(|| {
                let who = match t {
                    Target::Node(id) => format!("n{id} is already a voter"),
                    _ => "every node is already a voter".into(),
                };
                format!("{who} of {}", describe_voters(voters))
            })
    }

    /// The crash-at-write watch `watch` fires at `now`, unless it already has: the fault and
    /// how long after the crash its restart comes. The crash is a fault event, and its restart
    /// one still to come. (A chosen write that never comes, or is lost to another crash, leaves
    /// nothing pending.)
    fn fire_watch(&mut self, watch: usize, now: SimTime) -> Option<(usize, SimDuration)> {
        let w = &mut self.watches[watch];
        if w.fired {
            return None;
        }
        w.fired = true;
        self.last_fault = Some(now);
        self.pending += 1;
        Some((w.fault, w.restart_after))
    }

    /// Counts a write `seq` just issued by `id`. Returns the watch that chose it and crashes
    /// right after the step that issued it, if one did.
    pub fn count_write(
        &mut self,
        id: NodeId,
        incarnation: u32,
        seq: u64,
        leader: bool,
    ) -> Option<usize> {
        let mut now = None;
        for (i, w) in self.watches.iter_mut().enumerate() {
            if !w.fired && w.target.is_none() && (leader || !w.leader_only) {
                w.counted += 1;
                if w.counted == w.k {
                    w.target = Some((id, incarnation, seq));
                    if w.point == WritePoint::AfterIssue && now.is_none() {
                        now = Some(i);
                    }
                }
            }
        }
        now
    }

    /// The crash-at-write watch that aims at the batch (first, last) of `node` completing now,
    /// and at which point.
    pub fn write_targeted(
        &self,
        node: NodeId,
        incarnation: u32,
        batch: (u64, u64),
    ) -> Option<(usize, WritePoint)> {
        self.watches
            .iter()
            .enumerate()
            .find_map(|(w_at, w)| match w.target {
                Some((n, i, k)) if !w.fired && (n, i) == (node, incarnation) => {
                    (batch.0..=batch.1).contains(&k).then_some((w_at, w.point))
                }
                _ => None,
            })
    }
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// Puts every fault's start (and end) on the queue.
    pub(super) fn schedule_faults(&mut self) {
        for fault in self.faults.plans() {
            self.emit(Event::FaultPlan { fault });
        }
        for (at, i, start) in self.faults.schedule() {
            let ev = if start {
                Ev::FaultStart(i)
            } else {
                Ev::FaultEnd(i)
            };
            self.queue.push(at, ev);
        }
    }

    /// What fault `i` is shown of the world: the running nodes and the current leader, with
    /// the leader's configuration when the fault needs it.
    fn scene(&self, i: usize) -> Scene {
        let live = (self.slots.iter())
            .filter(|s| s.node.is_some())
            .fold(0, |m, s| m | (1u64 << (s.cfg.id - 1)));
        let leader = self.current_leader().map(|id| {
            let s = &self.slots[id as usize - 1];
            LeaderView {
                id,
                paused: s.paused_until.is_some(),
                term: s.seen.term,
                applied: s.seen.applied,
                config: self.faults.needs_config(i).then(|| self.config_of(id)),
            }
        });
        Scene { live, leader }
    }

    // Rare next to message and timer events: kept out of the event loop's inlined body.
    #[cold]
    #[inline(never)]
    pub(super) fn fault(&mut self, i: usize, start: bool) {
        self.faults.applied(self.now);
        let decision = match self.faults.condition_event(i, start, self.now) {
            Some(d) => d,
            None => {
                let scene = self.scene(i);
                self.faults.decide(i, start, &scene)
            }
        };
        self.apply_fault(i, decision);
    }

    /// Queues, for this moment, every waiting conditional fault whose condition now holds
    /// (each fires as a fault event of its own, after whatever is being handled).
    #[cold]
    #[inline(never)]
    pub(super) fn conditions_met(&mut self) {
        for i in self.faults.due() {
            self.queue.push(self.now, Ev::FaultFire(i));
        }
    }

    /// A configuration change completed (its C_new first committed somewhere).
    #[cold]
    #[inline(never)]
    pub(super) fn change_completed(&mut self) {
        if self.faults.note_change_completed() {
            self.conditions_met();
        }
    }

    /// A conditional fault whose condition held: it acts now.
    #[cold]
    #[inline(never)]
    pub(super) fn fault_fire(&mut self, i: usize) {
        self.faults.applied(self.now);
        let scene = self.scene(i);
        let decision = self.faults.decide(i, true, &scene);
        self.apply_fault(i, decision);
    }

    /// Carries out what fault `i` decided: trace records, node steps, queue events.
    fn apply_fault(&mut self, i: usize, decision: Decision) {
        match decision {
            Decision::Nothing => {}
            Decision::Skip(reason) => self.emit(Event::FaultSkipped { reason }),
            Decision::Wait => self.conditions_met(),
            Decision::Crash(id) => {
                if self.crash(id) {
                    self.faults.struck(i, id);
                }
            }
            Decision::Restart(id) => self.restart(id),
            Decision::Partition { groups, on } => {
                self.net.set_partition(&groups, on);
                self.emit(if on {
                    Event::Partition { groups }
                } else {
                    Event::Heal { groups }
                });
            }
            Decision::Cut { from, to, on } => {
                self.net.set_cut(from, to, on);
                self.emit(if on {
                    Event::Cut { from, to }
                } else {
                    Event::Restore { from, to }
                });
            }
            Decision::Pause { node, until } => self.pause(node, until),
            Decision::Unpause(node) => self.unpause(node),
            Decision::LossBurst { p, on } => {
                self.net.set_loss_burst(i, p, on);
                let what = format!("loss burst {p:.2}");
                self.emit(Event::NetworkFault { what, on });
            }
            Decision::DuplicateBurst { p, on } => {
                self.net.set_duplicate_burst(i, p, on);
                let what = format!("duplication burst {p:.2}");
                self.emit(Event::NetworkFault { what, on });
            }
            Decision::DelaySpike { extra, on } => {
                self.net.set_delay_spike(i, &extra, on);
                let what = format!("delay spike {}", describe_dist(&extra));
                self.emit(Event::NetworkFault { what, on });
            }
            Decision::ClockJump { node, by, back } => {
                self.jump_clock(node, by, back);
                let by = by.0;
                self.emit(Event::ClockJump { node, by, back });
            }
            Decision::Propose {
                leader,
                voters,
                action,
            } => self.propose(leader, voters, action),
            Decision::Transfer { from, to } => {
                self.emit(Event::Transfer { from, to });
                self.step(from, Input::TransferLeadership { to });
            }
        }
    }

    /// Pauses `id` until `until`, or later if a pause in effect ends later.
    fn pause(&mut self, id: NodeId, until: SimTime) {
        let s = self.slot(id);
        s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
        s.pauses += 1;
        self.emit(Event::Pause {
            node: id,
            until: until.0,
        });
    }

    /// One pause of `id` ends: it resumes with the last one. A crash ends every pause of the
    /// node, so there may be none left to end.
    fn unpause(&mut self, id: NodeId) {
        let now = self.now;
        let s = self.slot(id);
        if s.pauses > 0 {
            s.pauses -= 1;
            if s.pauses == 0 {
                s.paused_until = None;
                s.quorum_floor = now;
                self.emit(Event::Resume { node: id });
                // Its timers held their firings for the pause; they act from now.
                self.may_restart_election_timer(id, super::witness::ResetCause::Resumed);
            }
        }
    }

    /// Asks `leader` to make `voters` the configuration, traced first as a `membership`
    /// record with phase `proposed`.
    fn propose(&mut self, leader: NodeId, voters: u64, action: Option<String>) {
        self.emit(Event::Membership {
            phase: "proposed".into(),
            node: leader,
            index: 0,
            voters: voter_ids(voters),
            old: Vec::new(),
            action,
        });
        self.step(leader, Input::ChangeMembership { voters });
    }

    /// The latest configuration in node `id`'s log as the world observed it (its disk, with
    /// the writes it has issued): (index, C_old, C_new) as voter bit sets, C_old 0 unless
    /// joint; index 0 and the initial voters before any configuration entry.
    pub(super) fn config_of(&self, id: NodeId) -> (Index, u64, u64) {
        let s = &self.slots[id as usize - 1];
        // No leader was ever asked for a change: no log holds a configuration entry.
        let latest = if self.faults.asked {
            s.disk.latest_config(&s.hard.log)
        } else {
            None
        };
        latest.unwrap_or_else(|| {
            let n = self.cfg.nodes;
            let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
            match self.cfg.raft.initial_voters {
                0 => (0, 0, all),
                v => (0, 0, v),
            }
        })
    }

    /// The nodes liveness expects to follow `leader`, as a bit set: every node, or, when the
    /// run changes membership, the voters of either half of the leader's latest configuration.
    pub(super) fn members(&self, leader: NodeId) -> u64 {
        if !self.faults.membership {
            return u64::MAX;
        }
        let (_, old, new) = self.config_of(leader);
        old | new
    }

    /// "Liveness: Membership": what is wrong, unless a running leader's latest configuration
    /// is C_new alone (not joint) and committed (applied by that leader).
    pub(super) fn membership_unsettled(&self) -> Option<String> {
        let Some(l) = self.current_leader() else {
            return Some("no running leader, so no configuration change can finish".into());
        };
        let (index, old, new) = self.config_of(l);
        if old != 0 {
            return Some(format!(
                "leader n{l}'s configuration is still joint: {} and {} (index {index})",
                describe_voters(old),
                describe_voters(new)
            ));
        }
        let applied = self.slots[l as usize - 1].seen.applied;
        if index > applied {
            return Some(format!(
                "leader n{l}'s configuration {} (index {index}) is not committed: it applied {applied}",
                describe_voters(new)
            ));
        }
        None
    }

    /// Crashes `id` for crash-at-write watch `watch`, which chose its write, and schedules the
    /// restart.
    #[cold]
    #[inline(never)]
    pub(super) fn crash_for_write(&mut self, id: NodeId, watch: usize) {
        let Some((fault, after)) = self.faults.fire_watch(watch, self.now) else {
            return;
        };
        self.crashing_at_write = true;
        self.crash(id);
        self.crashing_at_write = false;
        self.queue
            .push(self.now + after, Ev::FaultRestart(fault, id));
    }

    #[cold]
    #[inline(never)]
    pub(super) fn fault_restart(&mut self, _fault: usize, id: NodeId) {
        self.faults.applied(self.now);
        self.restart(id);
    }
}

/// The durations a generator draws from: the run's election timeouts (ns), saturated so that
/// no sum of them wraps.
#[derive(Clone, Copy)]
struct Timeouts {
    min: u64,
    max: u64,
}

impl Timeouts {
    /// Long enough to matter: from one minimum election timeout to four maximum ones.
    fn window(self, rng: &mut Rng) -> u64 {
        between(rng, self.min, 4 * self.max)
    }
}

/// A uniform draw between `lo` and `hi`, whichever is lower.
fn between(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    rng.range_inclusive(lo.min(hi), hi.max(lo))
}

/// The leader, a follower or a random node, one in three each.
fn role_target(rng: &mut Rng) -> Target {
    match rng.range_inclusive(0, 2) {
        0 => Target::Leader,
        1 => Target::Follower,
        _ => Target::Random,
    }
}

/// The faults generator `spec` (the `index`-th of the run) draws for `seed`: a swarm of kinds
/// with random weights, at Poisson times within its window, each ending by the window's end.
/// Its own stream, so generated faults never move another draw.
pub fn generate(spec: &Generator, index: usize, cfg: &RunConfig, seed: u64) -> Vec<Fault> {
    let mut rng = Rng::stream(seed, Purpose::Faults, (1 << 32) + index as u64);
    let n = cfg.nodes;
    let kinds = swarm(spec, &mut rng);
    let total: u64 = kinds.iter().map(|k| k.1).sum();
    let mut faults = Vec::new();
    let mut t = spec.from.0;
    let end = spec.until.0;
    // Durations come from the configuration; saturate so that no sum wraps.
    let et = Timeouts {
        min: cfg.raft.election_timeout_min.0.min(u64::MAX / 8),
        max: cfg.raft.election_timeout_max.0.min(u64::MAX / 8),
    };
    while total > 0 && (faults.len() as u32) < spec.max_faults {
        t = t.saturating_add(libm::round(rng.exponential(spec.mean_gap.0.max(1) as f64)) as u64);
        if t >= end {
            break;
        }
        let kind = weighted(&kinds, rng.range_inclusive(0, total - 1));
        let (kind, dur) = draw_fault(kind, &mut rng, et, n, (t, end));
        if n < 2 && !matches!(kind, FaultKind::Crash(_) | FaultKind::CrashAtWrite { .. }) {
            continue;
        }
        faults.push(Fault {
            at: SimTime(t),
            when: None,
            jitter: None,
            until: dur.map(|d| SimTime(t.saturating_add(d.max(1)).min(end))),
            kind,
        });
    }
    faults
}

/// The kinds generator `spec` (the `index`-th) enables for `seed`, with their weights: what
/// [`generate`] draws first, without drawing the faults (cheap: for `explore --guided`, which
/// picks seeds by what they will draw).
pub fn swarm_of(spec: &Generator, index: usize, seed: u64) -> Vec<(GenKind, u64)> {
    let mut rng = Rng::stream(seed, Purpose::Faults, (1 << 32) + index as u64);
    swarm(spec, &mut rng)
}

/// Swarm: each kind `spec` allows is enabled with probability 1/2 (at least one), then given a
/// weight from 1 to 4.
fn swarm(spec: &Generator, rng: &mut Rng) -> Vec<(GenKind, u64)> {
    let mut kinds: Vec<(GenKind, u64)> = spec
        .kinds
        .iter()
        .filter(|_| rng.chance(0.5))
        .map(|&k| (k, 0))
        .collect();
    if kinds.is_empty() && !spec.kinds.is_empty() {
        let k = rng.range_inclusive(0, spec.kinds.len() as u64 - 1) as usize;
        kinds.push((spec.kinds[k], 0));
    }
    for k in &mut kinds {
        k.1 = rng.range_inclusive(1, 4);
    }
    kinds
}

/// The kind whose share of the weights covers `pick` (below their total).
fn weighted(kinds: &[(GenKind, u64)], mut pick: u64) -> GenKind {
    kinds
        .iter()
        .find(|k| {
            if pick < k.1 {
                true
            } else {
                pick -= k.1;
                false
            }
        })
        .map(|k| k.0)
        .expect("a weight covers the pick")
}

/// One generated fault of `kind` for a cluster of `n`, starting at `window.0` (ns) in a
/// generator's window ending at `window.1`: the fault and how long it lasts (ns; `None`: no
/// end).
fn draw_fault(
    kind: GenKind,
    rng: &mut Rng,
    et: Timeouts,
    n: u32,
    (t, end): (u64, u64),
) -> (FaultKind, Option<u64>) {
    match kind {
        GenKind::Crash => {
            // Half the time back at once: a voter that restarts mid-election.
            let d = if rng.chance(0.5) {
                between(rng, 1_000_000, et.min / 2)
            } else {
                between(rng, et.min, 3 * et.max)
            };
            (FaultKind::Crash(role_target(rng)), Some(d))
        }
        // It waits for its write at most until the window ends.
        GenKind::CrashAtWrite => (draw_crash_at_write(rng, et), Some(end - t)),
        GenKind::Partition => {
            let kind = draw_partition(rng, n);
            (kind, Some(et.window(rng)))
        }
        GenKind::Isolate => {
            let t = if rng.chance(0.5) {
                Target::Leader
            } else {
                Target::Random
            };
            (FaultKind::Isolate(t), Some(et.window(rng)))
        }
        GenKind::Cut => {
            let from = rng.range_inclusive(1, n as u64) as NodeId;
            let mut to = rng.range_inclusive(1, n as u64 - 1) as NodeId;
            if to >= from {
                to += 1;
            }
            (FaultKind::Cut { from, to }, Some(et.window(rng)))
        }
        GenKind::Pause => {
            // Longer than an election timeout: the others move on meanwhile.
            let d = between(rng, et.max, 3 * et.max);
            let target = role_target(rng);
            let until = SimTime(t.saturating_add(d).min(end));
            (FaultKind::Pause { target, until }, Some(d))
        }
        GenKind::LossBurst => {
            let p = 0.2 + 0.7 * rng.unit();
            (FaultKind::LossBurst(p), Some(et.window(rng)))
        }
        GenKind::DuplicateBurst => {
            let p = 0.2 + 0.6 * rng.unit();
            (FaultKind::DuplicateBurst(p), Some(et.window(rng)))
        }
        GenKind::ClockJump => {
            // Forward by up to two election timeouts (the timer fires at once or early), or,
            // a quarter of the time, back by as much.
            let by = SimDuration(between(rng, et.min / 2, 2 * et.max));
            let back = rng.chance(0.25);
            let target = role_target(rng);
            (FaultKind::ClockJump { target, by, back }, None)
        }
        GenKind::Membership => (draw_membership(rng), None),
        GenKind::DelaySpike => {
            let mean = SimDuration(between(rng, et.min, 2 * et.max));
            let kind = FaultKind::DelaySpike(DurationDist::Exponential { mean });
            (kind, Some(et.window(rng)))
        }
    }
}

/// A crash at a write: which write (1 to 10th, of any node or of a leader), at which point of
/// it, and how soon the node restarts.
fn draw_crash_at_write(rng: &mut Rng, et: Timeouts) -> FaultKind {
    let point = match rng.range_inclusive(0, 2) {
        0 => WritePoint::AfterIssue,
        1 => WritePoint::BeforeComplete,
        _ => WritePoint::AfterComplete,
    };
    FaultKind::CrashAtWrite {
        k: rng.range_inclusive(1, 10),
        leader_only: rng.chance(0.5),
        point,
        restart_after: SimDuration(between(rng, 1_000_000, 2 * et.max)),
    }
}

/// A minority of the `n` nodes, drawn by a shuffle, partitioned from the rest.
fn draw_partition(rng: &mut Rng, n: u32) -> FaultKind {
    let mut ids: Vec<NodeId> = (1..=n).collect();
    for i in (1..ids.len()).rev() {
        let j = rng.range_inclusive(0, i as u64) as usize;
        ids.swap(i, j);
    }
    let minority = rng.range_inclusive(1, ((n as u64 - 1) / 2).max(1)) as usize;
    let minority = minority.min(ids.len().saturating_sub(1)).max(1);
    let mut group: Vec<NodeId> = ids[..minority].to_vec();
    group.sort_unstable();
    FaultKind::Partition(vec![group])
}

/// Add a server, remove one (the leader a third of the time) or replace one, resolved against
/// the leader's configuration when it fires. A server is added only if some node is outside
/// the configuration then.
fn draw_membership(rng: &mut Rng) -> FaultKind {
    let remove = role_target(rng);
    match rng.range_inclusive(0, 2) {
        0 => FaultKind::Reconfigure {
            add: Some(Target::Random),
            remove: None,
        },
        1 => FaultKind::Reconfigure {
            add: None,
            remove: Some(remove),
        },
        _ => FaultKind::Reconfigure {
            add: Some(Target::Random),
            remove: Some(remove),
        },
    }
}

fn describe_dist(d: &DurationDist) -> String {
    match d {
        DurationDist::Constant(x) => format_duration(*x),
        DurationDist::Uniform([a, b]) => {
            format!("uniform {}..{}", format_duration(*a), format_duration(*b))
        }
        DurationDist::Normal { mean, stddev } => {
            format!(
                "normal {}±{}",
                format_duration(*mean),
                format_duration(*stddev)
            )
        }
        DurationDist::Exponential { mean } => {
            format!("exponential mean {}", format_duration(*mean))
        }
        DurationDist::Lognormal { mean, stddev } => {
            format!(
                "lognormal {}±{}",
                format_duration(*mean),
                format_duration(*stddev)
            )
        }
    }
}

/// One line for a fault, as a `fault_plan` record shows a generated one.
pub fn describe(f: &Fault) -> String {
    let mut what = describe_kind(&f.kind);
    if let Some(c) = f.when {
        what.push_str(&format!(" when {}", c.describe()));
    }
    let at = format_duration(SimDuration(f.at.0));
    match f.until {
        Some(u) => format!("{at}..{}: {what}", format_duration(SimDuration(u.0))),
        None => format!("{at}: {what}"),
    }
}

/// What a fault kind does, in a few words.
fn describe_kind(kind: &FaultKind) -> String {
    match kind {
        FaultKind::Crash(t) => format!("crash {}", t.describe()),
        FaultKind::Restart(t) => format!("restart {}", t.describe()),
        FaultKind::Partition(g) => format!("partition {g:?} from the rest"),
        FaultKind::Cut { from, to } => format!("cut n{from}->n{to}"),
        FaultKind::Pause { target, .. } => format!("pause {}", target.describe()),
        FaultKind::Isolate(t) => format!("isolate {}", t.describe()),
        FaultKind::TransferLeadership(to) => format!("transfer leadership to n{to}"),
        FaultKind::ClockJump { target, by, back } => format!(
            "clock of {} jumps {} by {}",
            target.describe(),
            if *back { "back" } else { "forward" },
            format_duration(*by)
        ),
        FaultKind::ChangeMembership(v) => format!("change membership to {}", describe_voters(*v)),
        FaultKind::Reconfigure { add, remove } => match (add, remove) {
            (Some(a), Some(r)) => format!(
                "replace_server {} with {}",
                describe_member(*r),
                describe_member(*a)
            ),
            (Some(a), None) => format!("add_server {}", describe_member(*a)),
            (None, Some(r)) => format!("remove_server {}", describe_member(*r)),
            (None, None) => "reconfigure with nothing to do".into(),
        },
        FaultKind::LossBurst(p) => format!("loss burst {p:.2}"),
        FaultKind::DuplicateBurst(p) => format!("duplication burst {p:.2}"),
        FaultKind::DelaySpike(d) => format!("delay spike {}", describe_dist(d)),
        FaultKind::CrashAtWrite {
            k,
            leader_only,
            point,
            restart_after,
        } => format!(
            "crash at the {k}th disk write{} ({point:?}), restart after {}",
            if *leader_only { " of a leader" } else { "" },
            format_duration(*restart_after)
        ),
    }
}

/// A server a membership action names: `n4`, `leader`, `follower` (a voter other than the
/// leader), `random`.
fn describe_member(t: Target) -> String {
    match t {
        Target::Node(id) => format!("n{id}"),
        Target::Leader => "leader".into(),
        Target::Follower => "follower".into(),
        Target::Random | Target::LastCrashed => "random".into(),
    }
}

/// A voter bit set as `{n1,n2,...}`.
pub(super) fn describe_voters(mask: u64) -> String {
    let ids: Vec<String> = voter_ids(mask).iter().map(|i| format!("n{i}")).collect();
    format!("{{{}}}", ids.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: FaultKind, until: Option<u64>) -> Fault {
        Fault {
            at: SimTime(1),
            when: None,
            jitter: None,
            until: until.map(SimTime),
            kind,
        }
    }

    /// Three running nodes, n1 leading in term 2 with `config` applied up to `applied`.
    fn scene(config: (Index, u64, u64), applied: Index) -> Scene {
        Scene {
            live: 0b111,
            leader: Some(LeaderView {
                id: 1,
                paused: false,
                term: 2,
                applied,
                config: Some(config),
            }),
        }
    }

    #[test]
    fn a_crash_ends_by_restarting_only_the_node_it_crashed() {
        let crash = fault(FaultKind::Crash(Target::Node(2)), Some(5));
        let sc = scene((0, 0, 0b111), 0);
        let mut fs = FaultState::of(vec![crash.clone()], 0, 3, false, 7);
        assert_eq!(fs.decide(0, true, &sc), Decision::Crash(2));
        // n2 was already down: the world did not report it struck.
        assert_eq!(fs.decide(0, false, &sc), Decision::Nothing);
        let mut fs = FaultState::of(vec![crash], 0, 3, false, 7);
        assert_eq!(fs.decide(0, true, &sc), Decision::Crash(2));
        fs.struck(0, 2);
        assert_eq!(fs.decide(0, false, &sc), Decision::Restart(2));
    }

    #[test]
    fn a_follower_target_is_never_the_leader() {
        let pause = FaultKind::Pause {
            target: Target::Follower,
            until: SimTime(5),
        };
        for seed in 0..50 {
            let mut fs = FaultState::of(vec![fault(pause.clone(), Some(5))], 0, 3, false, seed);
            match fs.decide(0, true, &scene((0, 0, 0b111), 0)) {
                Decision::Pause { node, .. } => assert!(node == 2 || node == 3, "n{node}"),
                other => panic!("{other:?}"),
            }
        }
    }

    /// Dissertation §4: a membership change starts only from a committed, non-joint
    /// configuration; otherwise the action is skipped and says why.
    #[test]
    fn a_membership_action_waits_for_a_settled_configuration() {
        let add = FaultKind::Reconfigure {
            add: Some(Target::Node(4)),
            remove: None,
        };
        let decide = |config, applied| {
            let mut fs = FaultState::of(vec![fault(add.clone(), None)], 0, 4, true, 0);
            fs.decide(0, true, &scene(config, applied))
        };
        let skip = |why: &str| Decision::Skip(format!("add_server n4: leader n1 {why}"));
        assert_eq!(
            decide((5, 0b011, 0b111), 5),
            skip("has a change under way (its configuration at index 5 is joint)")
        );
        assert_eq!(
            decide((5, 0, 0b111), 4),
            skip("has a change under way (its configuration at index 5 is not committed)")
        );
        assert_eq!(
            decide((5, 0, 0b111), 5),
            Decision::Propose {
                leader: 1,
                voters: 0b1111,
                action: Some("add_server n4: add n4".into()),
            }
        );
    }
}
