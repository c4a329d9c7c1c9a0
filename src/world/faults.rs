//! The fault model, executed in one place. A run's faults are a list of [`Fault`]s (from a
//! scenario's script, or built by an experiment); each has a kind with a typed target, a start
//! time (plus optional jitter drawn from the fault's own stream) and an optional end. This
//! module schedules them, resolves targets ("leader", "random", ...) at the moment they apply,
//! and carries them out: crashes and restarts, partitions and cuts, pauses, and crashes aimed at
//! a node's k-th disk write.
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

pub struct FaultState {
    /// The run's faults: the configuration's, then those its generators drew from the seed.
    pub list: Vec<Fault>,
    /// How many of `list` were generated (the last ones).
    pub generated: usize,
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
        let n = list.len();
        FaultState {
            generated: n - cfg.faults.len(),
            list,
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
            membership: cfg.raft.initial_voters != 0
                || cfg
                    .generators
                    .iter()
                    .any(|g| g.kinds.contains(&GenKind::Membership))
                || cfg.faults.iter().any(|f| {
                    matches!(
                        f.kind,
                        FaultKind::ChangeMembership(_) | FaultKind::Reconfigure { .. }
                    )
                }),
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

    pub fn crashed(&mut self, id: NodeId) {
        self.last_crashed = Some(id);
    }

    fn applied(&mut self, now: SimTime) {
        self.pending -= 1;
        self.last_fault = Some(now);
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
        let first_generated = self.faults.list.len() - self.faults.generated;
        for i in first_generated..self.faults.list.len() {
            let fault = describe(&self.faults.list[i]);
            self.emit(Event::FaultPlan { fault });
        }
        for i in 0..self.faults.list.len() {
            let f = &self.faults.list[i];
            let at = f.at
                + f.jitter
                    .as_ref()
                    .map_or(SimDuration::ZERO, |j| j.sample(&mut self.faults.rngs[i]));
            self.queue.push(at, Ev::FaultStart(i));
            self.faults.pending += 1;
            if let Some(u) = f.until {
                self.queue.push(u.max(at), Ev::FaultEnd(i));
                self.faults.pending += 1;
            }
        }
    }

    fn resolve(&mut self, i: usize, t: Target) -> Option<NodeId> {
        let leader = self.current_leader();
        match t {
            Target::Node(id) => Some(id),
            Target::LastCrashed => self.faults.last_crashed,
            Target::Leader => leader,
            Target::Random | Target::Follower => {
                let live: Vec<NodeId> = self
                    .slots
                    .iter()
                    .filter(|s| s.node.is_some())
                    .map(|s| s.cfg.id)
                    .filter(|&id| t == Target::Random || Some(id) != leader)
                    .collect();
                if live.is_empty() {
                    None
                } else {
                    let k = self.faults.rngs[i].range_inclusive(0, live.len() as u64 - 1);
                    Some(live[k as usize])
                }
            }
        }
    }

    // Rare next to message and timer events: kept out of the event loop's inlined body.
    #[cold]
    #[inline(never)]
    pub(super) fn fault(&mut self, i: usize, start: bool) {
        self.faults.applied(self.now);
        let Some(cond) = self.faults.list[i].when else {
            return self.act(i, start);
        };
        if start {
            self.faults.waiting.push(i);
            // It may hold already.
            self.conditions_met();
        } else if let Some(j) = self.faults.waiting.iter().position(|&w| w == i) {
            // `until` came first: stop waiting.
            self.faults.waiting.remove(j);
            let what = describe_kind(&self.faults.list[i].kind);
            self.emit(Event::FaultSkipped {
                reason: format!(
                    "{what}: its condition ({}) did not hold by {}",
                    cond.describe(),
                    self.now
                ),
            });
        }
    }

    /// Queues, for this moment, every waiting conditional fault whose condition now holds
    /// (each fires as a fault event of its own, after whatever is being handled).
    #[cold]
    #[inline(never)]
    pub(super) fn conditions_met(&mut self) {
        let (committed, changes) = (self.faults.committed, self.faults.changes_done);
        let mut j = 0;
        while j < self.faults.waiting.len() {
            let i = self.faults.waiting[j];
            let cond = self.faults.list[i]
                .when
                .expect("a waiting fault has a condition");
            if cond.holds(committed, changes) {
                self.faults.waiting.remove(j);
                self.faults.pending += 1;
                self.queue.push(self.now, Ev::FaultFire(i));
            } else {
                j += 1;
            }
        }
    }

    /// A configuration change completed (its C_new first committed somewhere).
    #[cold]
    #[inline(never)]
    pub(super) fn change_completed(&mut self) {
        self.faults.changes_done += 1;
        if !self.faults.waiting.is_empty() {
            self.conditions_met();
        }
    }

    /// A conditional fault whose condition held: it acts now.
    #[cold]
    #[inline(never)]
    pub(super) fn fault_fire(&mut self, i: usize) {
        self.faults.applied(self.now);
        self.act(i, true);
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

    /// One of `pool` for fault `i`: the only one, or (`draw`) one drawn from the fault's own
    /// stream.
    fn pick(&mut self, i: usize, pool: &[NodeId], draw: bool) -> Option<NodeId> {
        match pool.len() {
            0 => None,
            1 if !draw => Some(pool[0]),
            len => {
                let k = self.faults.rngs[i].range_inclusive(0, len as u64 - 1);
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
    ) {
        let what = describe_kind(&self.faults.list[i].kind);
        let skip = |s: &mut Self, why: String| {
            s.emit(Event::FaultSkipped {
                reason: format!("{what}: {why}"),
            })
        };
        let Some(leader) = self
            .current_leader()
            .filter(|&l| self.slots[l as usize - 1].paused_until.is_none())
        else {
            return skip(self, "no running leader".into());
        };
        let leader_term = self.slots[leader as usize - 1].seen.term;
        if self.faults.catching_up == Some((leader, leader_term)) {
            return skip(
                self,
                format!("leader n{leader} has a change under way (catching new servers up)"),
            );
        }
        let (index, old, voters) = self.config_of(leader);
        if old != 0 || index > self.slots[leader as usize - 1].seen.applied {
            return skip(
                self,
                format!(
                    "leader n{leader} has a change under way (its configuration at index {index} is {})",
                    if old != 0 { "joint" } else { "not committed" }
                ),
            );
        }
        let mut parts = Vec::new();
        let mut new = voters;
        if let Some(t) = remove {
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
            let Some(id) = self.pick(i, &pool, draw) else {
                return skip(
                    self,
                    format!(
                        "{} is not a voter of {}",
                        t.describe(),
                        describe_voters(voters)
                    ),
                );
            };
            new &= !(1u64 << (id - 1));
            parts.push(match t {
                Target::Node(_) => format!("remove n{id}"),
                _ => format!("remove n{id} ({})", describe_member(t)),
            });
        }
        if let Some(t) = add {
            let pool: Vec<NodeId> = (1..=self.cfg.nodes)
                .filter(|&v| voters & (1u64 << (v - 1)) == 0)
                .filter(|&v| !matches!(t, Target::Node(id) if id != v))
                .collect();
            let Some(id) = self.pick(i, &pool, !matches!(t, Target::Node(_))) else {
                let who = match t {
                    Target::Node(id) => format!("n{id} is already a voter"),
                    _ => "every node is already a voter".into(),
                };
                return skip(self, format!("{who} of {}", describe_voters(voters)));
            };
            new |= 1u64 << (id - 1);
            parts.push(format!("add n{id}"));
        }
        if new == 0 {
            return skip(
                self,
                format!("it would leave no voter in {}", describe_voters(voters)),
            );
        }
        let mut action = format!("{what}: {}", parts.join(", "));
        if let Some(c) = when {
            action.push_str(&format!(", when {}", c.describe()));
        }
        self.emit(Event::Membership {
            phase: "proposed".into(),
            node: leader,
            index: 0,
            voters: voter_ids(new),
            old: Vec::new(),
            action: Some(action),
        });
        self.faults.asked = true;
        self.step(leader, Input::ChangeMembership { voters: new });
    }

    /// What a fault does, when it acts (at its start or its end).
    fn act(&mut self, i: usize, start: bool) {
        let f: Fault = self.faults.list[i].clone();
        match &f.kind {
            &FaultKind::Crash(t) => {
                if start {
                    // Only a crash that happened is undone by this fault's end: a node that was
                    // already down is another fault's to restart.
                    self.faults.targets[i] = match self.resolve(i, t) {
                        Some(id) => self.crash(id).then_some(id),
                        None => {
                            self.emit(Event::FaultSkipped {
                                reason: format!("crash: there is no {}", t.describe()),
                            });
                            None
                        }
                    };
                } else if let Some(id) = self.faults.targets[i] {
                    self.restart(id);
                }
            }
            &FaultKind::Restart(t) => match self.resolve(i, t) {
                Some(id) => self.restart(id),
                None => self.emit(Event::FaultSkipped {
                    reason: format!("restart: there is no {}", t.describe()),
                }),
            },
            FaultKind::Partition(groups) => {
                self.net.set_partition(groups, start);
                let groups = groups.clone();
                self.emit(if start {
                    Event::Partition { groups }
                } else {
                    Event::Heal { groups }
                });
            }
            &FaultKind::Cut { from, to } => {
                self.net.set_cut(from, to, start);
                self.emit(if start {
                    Event::Cut { from, to }
                } else {
                    Event::Restore { from, to }
                });
            }
            &FaultKind::Pause { target: t, until } => {
                if start {
                    let target = self
                        .resolve(i, t)
                        .filter(|&id| self.slots[id as usize - 1].node.is_some());
                    self.faults.targets[i] = target;
                    if let Some(id) = target {
                        let s = self.slot(id);
                        s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
                        s.pauses += 1;
                        self.emit(Event::Pause {
                            node: id,
                            until: until.0,
                        });
                    } else {
                        self.emit(Event::FaultSkipped {
                            reason: format!("pause: {} is not a live node", t.describe()),
                        });
                    }
                } else if let Some(id) = self.faults.targets[i] {
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
            &FaultKind::Isolate(t) => {
                if start {
                    let target = self
                        .resolve(i, t)
                        .filter(|&id| self.slots[id as usize - 1].node.is_some());
                    match target {
                        Some(id) => {
                            let groups = vec![vec![id]];
                            self.net.set_partition(&groups, true);
                            self.faults.isolated[i] = Some(groups.clone());
                            self.emit(Event::Partition { groups });
                        }
                        None => self.emit(Event::FaultSkipped {
                            reason: format!("isolate: {} is not a live node", t.describe()),
                        }),
                    }
                } else if let Some(groups) = self.faults.isolated[i].take() {
                    self.net.set_partition(&groups, false);
                    self.emit(Event::Heal { groups });
                }
            }
            &FaultKind::LossBurst(p) => {
                self.net.set_loss_burst(i, p, start);
                self.emit(Event::NetworkFault {
                    what: format!("loss burst {p:.2}"),
                    on: start,
                });
            }
            &FaultKind::DuplicateBurst(p) => {
                self.net.set_duplicate_burst(i, p, start);
                self.emit(Event::NetworkFault {
                    what: format!("duplication burst {p:.2}"),
                    on: start,
                });
            }
            FaultKind::DelaySpike(extra) => {
                self.net.set_delay_spike(i, extra, start);
                self.emit(Event::NetworkFault {
                    what: format!("delay spike {}", describe_dist(extra)),
                    on: start,
                });
            }
            &FaultKind::ClockJump {
                target: t,
                by,
                back,
            } => {
                match self
                    .resolve(i, t)
                    .filter(|&id| self.slots[id as usize - 1].node.is_some())
                {
                    Some(id) => {
                        self.jump_clock(id, by, back);
                        self.emit(Event::ClockJump {
                            node: id,
                            by: by.0,
                            back,
                        });
                    }
                    None => self.emit(Event::FaultSkipped {
                        reason: format!("clock jump: {} is not a live node", t.describe()),
                    }),
                }
            }
            &FaultKind::ChangeMembership(voters) => {
                let leader = self
                    .current_leader()
                    .filter(|&l| self.slots[l as usize - 1].paused_until.is_none());
                match leader {
                    Some(node) => {
                        self.emit(Event::Membership {
                            phase: "proposed".into(),
                            node,
                            index: 0,
                            voters: voter_ids(voters),
                            old: Vec::new(),
                            action: f.when.map(|c| format!("when {}", c.describe())),
                        });
                        self.faults.asked = true;
                        self.step(node, Input::ChangeMembership { voters });
                    }
                    None => self.emit(Event::FaultSkipped {
                        reason: format!(
                            "change membership to {}: no running leader",
                            describe_voters(voters)
                        ),
                    }),
                }
            }
            &FaultKind::Reconfigure { add, remove } => self.reconfigure(i, add, remove, f.when),
            &FaultKind::TransferLeadership(to) => {
                let leader = self
                    .current_leader()
                    .filter(|&l| self.slots[l as usize - 1].paused_until.is_none());
                match leader {
                    Some(from) => {
                        self.emit(Event::Transfer { from, to });
                        self.step(from, Input::TransferLeadership { to });
                    }
                    None => self.emit(Event::FaultSkipped {
                        reason: format!("transfer leadership to n{to}: no running leader"),
                    }),
                }
            }
            &FaultKind::CrashAtWrite {
                k,
                leader_only,
                point,
                restart_after,
            } => {
                if !start {
                    // `until` passed: stop waiting for the write.
                    if let Some(w) = self.faults.watches.iter_mut().find(|w| w.fault == i) {
                        w.fired = true;
                    }
                } else {
                    self.faults.watches.push(WriteWatch {
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
            }
        }
    }

    /// Crashes `id` for crash-at-write watch `watch`, which chose its write, and schedules the
    /// restart.
    #[cold]
    #[inline(never)]
    pub(super) fn crash_for_write(&mut self, id: NodeId, watch: usize) {
        let w = &mut self.faults.watches[watch];
        if w.fired {
            return;
        }
        w.fired = true;
        let (fault, after) = (w.fault, w.restart_after);
        // The crash is a fault event, and its restart one still to come. (A chosen write that
        // never comes, or is lost to another crash, leaves nothing pending.)
        self.faults.last_fault = Some(self.now);
        self.faults.pending += 1;
        self.crash(id);
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

/// The faults generator `spec` (the `index`-th of the run) draws for `seed`: a swarm of kinds
/// with random weights, at Poisson times within its window, each ending by the window's end.
/// Its own stream, so generated faults never move another draw.
pub fn generate(spec: &Generator, index: usize, cfg: &RunConfig, seed: u64) -> Vec<Fault> {
    let mut rng = Rng::stream(seed, Purpose::Faults, (1 << 32) + index as u64);
    let n = cfg.nodes;
    let (et_min, et_max) = (
        cfg.raft.election_timeout_min.0,
        cfg.raft.election_timeout_max.0,
    );
    // Swarm: each allowed kind is enabled with probability 1/2 (at least one), with a weight.
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
    let total: u64 = kinds.iter().map(|k| k.1).sum();
    let mut faults = Vec::new();
    let mut t = spec.from.0;
    let end = spec.until.0;
    // Durations come from the configuration; saturate so that no sum wraps.
    let (et_min, et_max) = (et_min.min(u64::MAX / 8), et_max.min(u64::MAX / 8));
    let between = |rng: &mut Rng, lo: u64, hi: u64| rng.range_inclusive(lo.min(hi), hi.max(lo));
    while total > 0 && (faults.len() as u32) < spec.max_faults {
        t = t.saturating_add(libm::round(rng.exponential(spec.mean_gap.0.max(1) as f64)) as u64);
        if t >= end {
            break;
        }
        let mut pick = rng.range_inclusive(0, total - 1);
        let kind = kinds
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
            .expect("a weight covers the pick");
        let role_target = |rng: &mut Rng| match rng.range_inclusive(0, 2) {
            0 => Target::Leader,
            1 => Target::Follower,
            _ => Target::Random,
        };
        // Long enough to matter: from one minimum election timeout to four maximum ones.
        let window = |rng: &mut Rng| between(rng, et_min, 4 * et_max);
        let (kind, dur) = match kind {
            GenKind::Crash => {
                // Half the time back at once: a voter that restarts mid-election.
                let d = if rng.chance(0.5) {
                    between(&mut rng, 1_000_000, et_min / 2)
                } else {
                    between(&mut rng, et_min, 3 * et_max)
                };
                (FaultKind::Crash(role_target(&mut rng)), Some(d))
            }
            GenKind::CrashAtWrite => {
                let point = match rng.range_inclusive(0, 2) {
                    0 => WritePoint::AfterIssue,
                    1 => WritePoint::BeforeComplete,
                    _ => WritePoint::AfterComplete,
                };
                let kind = FaultKind::CrashAtWrite {
                    k: rng.range_inclusive(1, 10),
                    leader_only: rng.chance(0.5),
                    point,
                    restart_after: SimDuration(between(&mut rng, 1_000_000, 2 * et_max)),
                };
                // It waits for its write at most until the window ends.
                (kind, Some(end - t))
            }
            GenKind::Partition => {
                let mut ids: Vec<NodeId> = (1..=n).collect();
                for i in (1..ids.len()).rev() {
                    let j = rng.range_inclusive(0, i as u64) as usize;
                    ids.swap(i, j);
                }
                let minority = rng.range_inclusive(1, ((n as u64 - 1) / 2).max(1)) as usize;
                let minority = minority.min(ids.len().saturating_sub(1)).max(1);
                let mut group: Vec<NodeId> = ids[..minority].to_vec();
                group.sort_unstable();
                (FaultKind::Partition(vec![group]), Some(window(&mut rng)))
            }
            GenKind::Isolate => {
                let t = if rng.chance(0.5) {
                    Target::Leader
                } else {
                    Target::Random
                };
                (FaultKind::Isolate(t), Some(window(&mut rng)))
            }
            GenKind::Cut => {
                let from = rng.range_inclusive(1, n as u64) as NodeId;
                let mut to = rng.range_inclusive(1, n as u64 - 1) as NodeId;
                if to >= from {
                    to += 1;
                }
                (FaultKind::Cut { from, to }, Some(window(&mut rng)))
            }
            GenKind::Pause => {
                // Longer than an election timeout: the others move on meanwhile.
                let d = between(&mut rng, et_max, 3 * et_max);
                let target = role_target(&mut rng);
                let until = SimTime(t.saturating_add(d).min(end));
                (FaultKind::Pause { target, until }, Some(d))
            }
            GenKind::LossBurst => {
                let p = 0.2 + 0.7 * rng.unit();
                (FaultKind::LossBurst(p), Some(window(&mut rng)))
            }
            GenKind::DuplicateBurst => {
                let p = 0.2 + 0.6 * rng.unit();
                (FaultKind::DuplicateBurst(p), Some(window(&mut rng)))
            }
            GenKind::ClockJump => {
                // Forward by up to two election timeouts (the timer fires at once or early), or,
                // a quarter of the time, back by as much.
                let by = SimDuration(between(&mut rng, et_min / 2, 2 * et_max));
                let back = rng.chance(0.25);
                let target = role_target(&mut rng);
                (FaultKind::ClockJump { target, by, back }, None)
            }
            GenKind::Membership => {
                // Add a server, remove one (the leader a third of the time) or replace one,
                // resolved against the leader's configuration when it fires. A server is
                // added only if some node is outside the configuration then.
                let remove = match rng.range_inclusive(0, 2) {
                    0 => Target::Leader,
                    1 => Target::Follower,
                    _ => Target::Random,
                };
                let kind = match rng.range_inclusive(0, 2) {
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
                };
                (kind, None)
            }
            GenKind::DelaySpike => {
                let mean = SimDuration(between(&mut rng, et_min, 2 * et_max));
                (
                    FaultKind::DelaySpike(DurationDist::Exponential { mean }),
                    Some(window(&mut rng)),
                )
            }
        };
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
fn describe_voters(mask: u64) -> String {
    let ids: Vec<String> = voter_ids(mask).iter().map(|i| format!("n{i}")).collect();
    format!("{{{}}}", ids.join(","))
}
