//! The fault model, executed in one place. A run's faults are a list of [`Fault`]s (from a
//! scenario's script, or built by an experiment); each has a kind with a typed target, a start
//! time (plus optional jitter drawn from the fault's own stream) and an optional end. This
//! module schedules them, resolves targets ("leader", "random", ...) at the moment they apply,
//! and carries them out: crashes and restarts, partitions and cuts, pauses, and crashes aimed at
//! a node's k-th disk write.
//!
//! A fault that finds nothing to act on (no leader to crash, a node already up) is traced as
//! `fault_skipped`, never dropped silently.

use super::config::{Fault, FaultKind, RunConfig, Target, WritePoint};
use super::{Ev, Simulation};
use crate::base::rng::{Purpose, Rng};
use crate::base::time::{SimDuration, SimTime};
use crate::observe::trace::Event;
use crate::observe::Observer;
use crate::protocol::{NodeId, RaftNode};

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
    /// The crash happened.
    fired: bool,
}

pub struct FaultState {
    /// One stream per fault, for its jitter and its random targets.
    rngs: Vec<Rng>,
    /// Fault events (starts, ends, crashes and restarts of crash-at-write) not yet applied.
    pending: usize,
    last_crashed: Option<NodeId>,
    /// Which node a crash or pause hit, so its end acts on the same node.
    targets: Vec<Option<NodeId>>,
    last_fault: Option<SimTime>,
    watches: Vec<WriteWatch>,
}

impl FaultState {
    pub fn new(cfg: &RunConfig, seed: u64) -> FaultState {
        FaultState {
            rngs: (0..cfg.faults.len())
                .map(|i| Rng::stream(seed, Purpose::Faults, i as u64))
                .collect(),
            pending: 0,
            last_crashed: None,
            targets: vec![None; cfg.faults.len()],
            last_fault: None,
            watches: Vec::new(),
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

    pub fn crashed(&mut self, id: NodeId) {
        self.last_crashed = Some(id);
    }

    fn applied(&mut self, now: SimTime) {
        self.pending -= 1;
        self.last_fault = Some(now);
    }

    /// Counts a write `seq` just issued by `id`. Returns true when a crash-at-write fault
    /// chose it and crashes right after the step that issued it.
    pub fn count_write(&mut self, id: NodeId, incarnation: u32, seq: u64, leader: bool) -> bool {
        let mut now = false;
        for w in &mut self.watches {
            if w.target.is_none() && (leader || !w.leader_only) {
                w.counted += 1;
                if w.counted == w.k {
                    w.target = Some((id, incarnation, seq));
                    now |= w.point == WritePoint::AfterIssue;
                }
            }
        }
        now
    }

    /// Whether a crash-at-write fault aims at the batch (first, last) of `node` completing now,
    /// and at which point.
    pub fn write_targeted(
        &self,
        node: NodeId,
        incarnation: u32,
        batch: (u64, u64),
    ) -> Option<WritePoint> {
        self.watches.iter().find_map(|w| match w.target {
            Some((n, i, k)) if !w.fired && (n, i) == (node, incarnation) => {
                (batch.0..=batch.1).contains(&k).then_some(w.point)
            }
            _ => None,
        })
    }
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// Puts every fault's start (and end) on the queue.
    pub(super) fn schedule_faults(&mut self) {
        for (i, f) in self.cfg.faults.iter().enumerate() {
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
            if let FaultKind::CrashAtWrite { .. } = f.kind {
                // Its crash and its restart are fault events too.
                self.faults.pending += 2;
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
        let f: &Fault = &self.cfg.faults[i];
        self.faults.applied(self.now);
        match &f.kind {
            &FaultKind::Crash(t) => {
                if start {
                    let target = self.resolve(i, t);
                    self.faults.targets[i] = target;
                    match target {
                        Some(id) => self.crash(id),
                        None => self.emit(Event::FaultSkipped {
                            reason: format!("crash: there is no {}", t.describe()),
                        }),
                    }
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
            &FaultKind::CrashAtWrite {
                k,
                leader_only,
                point,
                restart_after,
            } => {
                if start {
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

    /// Crashes `id` for the crash-at-write fault that chose its write, and schedules the
    /// restart.
    #[cold]
    #[inline(never)]
    pub(super) fn crash_for_write(&mut self, id: NodeId) {
        let Some(w) = self
            .faults
            .watches
            .iter_mut()
            .find(|w| !w.fired && w.target.is_some_and(|(n, _, _)| n == id))
        else {
            return;
        };
        w.fired = true;
        let (fault, after) = (w.fault, w.restart_after);
        self.faults.applied(self.now);
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
