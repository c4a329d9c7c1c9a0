//! Compiling a validated scenario into the world's typed [`RunConfig`]: defaults filled in,
//! initial logs turned into durable states, faults into the one fault model. Nothing is
//! checked here that `Scenario::validate` has not already checked, so compiling cannot fail.

use super::{Arrivals as FileArrivals, FaultSpec, NamedTarget, Scenario, StopWhen as FileStop};
use crate::base::time::SimTime;
use crate::protocol::{voter_ids, voter_mask, Config, Entry, HardState, Log, NodeId};
use crate::world::config::{
    Arrivals, ClockConfig, Condition, Drift, Fault, FaultKind, GenKind, Generator, LinkConfig,
    NetConfig, RunConfig, Stop, StopWhen, Target, Workload, MAX_QUEUED_EVENTS,
};

/// The entries all messages in flight may carry together, at most: a run's bound on messages
/// in flight is this divided by `raft.max_entries_per_message` (262,144 messages at the default
/// 64, 16,384 at the largest allowed, 1024). An entry takes about 40 bytes, so messages in
/// flight stay within about 700 MB even when every one is full, as they are when a leader keeps
/// re-sending to a follower it is probing.
pub const IN_FLIGHT_ENTRIES: u64 = 1 << 24;

impl super::Target {
    fn compile(self) -> Target {
        match self {
            super::Target::Node(id) => Target::Node(id),
            super::Target::Named(NamedTarget::Leader) => Target::Leader,
            super::Target::Named(NamedTarget::Follower) => Target::Follower,
            super::Target::Named(NamedTarget::Random) => Target::Random,
            super::Target::Named(NamedTarget::LastCrashed) => Target::LastCrashed,
        }
    }
}

impl FaultSpec {
    /// The generator this entry describes, if it is one.
    pub fn generator(&self) -> Option<Generator> {
        let g = self.generate.as_ref()?;
        Some(Generator {
            from: SimTime(self.at.0),
            until: SimTime(self.until.map_or(self.at.0, |u| u.0)),
            kinds: match &g.kinds {
                None => GenKind::ALL.to_vec(),
                Some(k) => k.clone(),
            },
            max_faults: g.max_faults,
            mean_gap: g.mean_gap,
        })
    }

    /// The fault this entry describes (validation made sure exactly one kind is given); not
    /// for a generator.
    pub fn compile(&self) -> Fault {
        let kind = if let Some(t) = self.crash {
            FaultKind::Crash(t.compile())
        } else if let Some(t) = self.restart {
            FaultKind::Restart(t.compile())
        } else if let Some(g) = &self.partition {
            FaultKind::Partition(g.clone())
        } else if let Some(c) = self.cut {
            FaultKind::Cut {
                from: c.from,
                to: c.to,
            }
        } else if let (Some(t), Some(until)) = (self.pause, self.until) {
            FaultKind::Pause {
                target: t.compile(),
                until: SimTime(until.0),
            }
        } else if let Some(w) = &self.crash_at_write {
            FaultKind::CrashAtWrite {
                k: w.k,
                leader_only: w.leader_only,
                point: w.point,
                restart_after: w.restart_after,
            }
        } else if let (Some(t), Some(_)) = (self.isolate, self.until) {
            FaultKind::Isolate(t.compile())
        } else if let Some(p) = self.loss_burst {
            FaultKind::LossBurst(p)
        } else if let Some(p) = self.duplicate_burst {
            FaultKind::DuplicateBurst(p)
        } else if let Some(d) = &self.delay_spike {
            FaultKind::DelaySpike(d.clone())
        } else if let Some(to) = self.transfer_leadership {
            FaultKind::TransferLeadership(to)
        } else if let Some(j) = self.clock_jump {
            FaultKind::ClockJump {
                target: j.node.compile(),
                by: j.by,
                back: j.back,
            }
        } else if let Some(v) = &self.change_membership {
            FaultKind::ChangeMembership(voter_mask(v))
        } else if let Some(t) = self.add_server {
            FaultKind::Reconfigure {
                add: Some(t.compile()),
                remove: None,
            }
        } else if let Some(t) = self.remove_server {
            FaultKind::Reconfigure {
                add: None,
                remove: Some(t.compile()),
            }
        } else if let Some(r) = self.replace_server {
            FaultKind::Reconfigure {
                add: Some(r.add.compile()),
                remove: Some(r.remove.compile()),
            }
        } else {
            unreachable!("validated: exactly one fault kind, and a pause has `until`")
        };
        Fault {
            at: SimTime(self.at.0),
            when: self.when.map(|w| Condition {
                committed: w.committed,
                changes_done: w.changes_done,
            }),
            jitter: self.jitter.clone(),
            until: self.until.map(|u| SimTime(u.0)),
            kind,
        }
    }
}

/// Node `id`'s durable state at the start: its initial log (entries are no-ops), and with an
/// initial leader, that leader's term and a vote for it.
fn initial_state(sc: &Scenario, id: NodeId) -> HardState {
    let logs = sc.cluster.initial_logs.as_ref();
    let log: Vec<Entry> = logs
        .map(|logs| {
            logs[id as usize - 1]
                .iter()
                .map(|&t| Entry::noop(t))
                .collect()
        })
        .unwrap_or_default();
    let max_term = logs.map_or(0, |logs| logs.iter().flatten().copied().max().unwrap_or(0));
    match sc.cluster.initial_leader {
        Some(l) => HardState {
            commit: 0,
            term: max_term.max(1),
            voted_for: Some(l),
            log: Log::from_entries(log),
        },
        None => HardState {
            commit: 0,
            term: log.last().map_or(0, |e| e.term),
            voted_for: None,
            log: Log::from_entries(log),
        },
    }
}

impl Scenario {
    /// Whether the scenario changes membership (paper §6): initial voters other than every
    /// node, a scripted `change_membership` or membership action, or a generator that draws
    /// membership changes.
    pub fn uses_membership_changes(&self) -> bool {
        self.cluster.voters.is_some()
            || self.faults.iter().any(|f| {
                f.change_membership.is_some()
                    || f.add_server.is_some()
                    || f.remove_server.is_some()
                    || f.replace_server.is_some()
                    || f.generate.as_ref().is_some_and(|g| {
                        g.kinds
                            .as_ref()
                            .is_some_and(|k| k.contains(&GenKind::Membership))
                    })
            })
    }

    /// `raft.leader_stickiness` as the run uses it: as given, or when unset, on exactly when
    /// the scenario changes membership, so that a removed server that never learned of C_new
    /// cannot depose the leader with RequestVote of ever higher terms (paper §6).
    pub fn leader_stickiness(&self) -> bool {
        self.raft
            .leader_stickiness
            .unwrap_or_else(|| self.uses_membership_changes())
    }

    /// The run configuration of this (validated) scenario.
    pub fn compile(&self) -> RunConfig {
        let n = self.cluster.nodes;
        let net = &self.network;
        RunConfig {
            name: self.name.clone(),
            drawn: self.drawn.clone(),
            nodes: n,
            initial: (1..=n).map(|id| initial_state(self, id)).collect(),
            initial_leader: self.cluster.initial_leader,
            raft: Config {
                id: 0,
                cluster_size: n,
                election_timeout_min: self.raft.election_timeout[0],
                election_timeout_max: self.raft.election_timeout[1],
                heartbeat_interval: self.raft.heartbeat_interval,
                max_entries_per_message: self.raft.max_entries_per_message,
                leader_stickiness: self.leader_stickiness(),
                initial_voters: self.cluster.voters.as_deref().map_or(0, voter_mask),
                seed: 0, // set per node and incarnation by the world
                pre_vote: self.raft.pre_vote,
                check_quorum: self.raft.check_quorum,
                read_index: self.raft.read_index,
                follower_reads: self.raft.follower_reads,
                lease_reads: self.raft.lease_reads,
                clock_drift_bound_ppm: self.raft.clock_drift_bound_ppm.unwrap_or(0),
            },
            network: NetConfig {
                delay: net.delay.clone(),
                loss: net.loss,
                duplicate: net.duplicate,
                processing: net.processing.clone(),
                ordered: net.ordered,
                links: net
                    .links
                    .iter()
                    .map(|l| LinkConfig {
                        from: l.from,
                        to: l.to,
                        delay: l.delay.clone(),
                        loss: l.loss,
                        duplicate: l.duplicate,
                    })
                    .collect(),
            },
            clocks: ClockConfig {
                drift: match &self.clocks.node_drift_ppm {
                    Some(v) => Drift::PerNode(v.clone()),
                    None => Drift::Drawn(self.clocks.drift_ppm.clone()),
                },
                timer_jitter: self.clocks.timer_jitter.clone(),
                timer_resolution: self.clocks.timer_resolution.map_or(0, |d| d.0),
            },
            write_latency: self.storage.write_latency.clone(),
            metadata_write: self
                .storage
                .metadata_write
                .as_ref()
                .map(|w| (w.sync.clone(), w.syncs)),
            log_write: self
                .storage
                .log_write
                .as_ref()
                .map(|w| (w.sync.clone(), w.syncs)),
            workload: self.workload.as_ref().map(|w| Workload {
                requests_per_second: w.requests_per_second,
                arrivals: match w.arrivals {
                    FileArrivals::Fixed => Arrivals::Fixed,
                    FileArrivals::Poisson => Arrivals::Poisson,
                },
                start: SimTime(w.start.map_or(0, |d| d.0)),
                end: w.end.map(|d| SimTime(d.0)),
                max_attempts: w.max_attempts,
                request_timeout: w.request_timeout,
                retry_backoff: w.retry_backoff,
                keys: w.keys,
                remember_leader: w.routing == super::Routing::RememberLeader,
                reads: w.reads,
                cas: w.cas,
                sessions: w.sessions && !self.raft.bugs.iter().any(|b| b == "no-session-dedup"),
            }),
            faults: self
                .faults
                .iter()
                .filter(|f| f.generate.is_none())
                .map(FaultSpec::compile)
                .collect(),
            generators: self
                .faults
                .iter()
                .filter_map(FaultSpec::generator)
                .collect(),
            stop: Stop {
                at: SimTime(self.stop.at.0),
                when: self.stop.when.map(|w| match w {
                    FileStop::LeaderAfterFaults => StopWhen::LeaderAfterFaults,
                }),
            },
            liveness: crate::world::config::Liveness {
                leader_within: self.liveness.and_then(|l| l.leader_within),
                commit_within: self.liveness.and_then(|l| l.commit_within),
                converge_within: self.liveness.and_then(|l| l.converge_within),
                membership_within: self.liveness.and_then(|l| l.membership_within),
                stable_leader_after: self.liveness.and_then(|l| l.stable_leader_after),
            },
            max_events: self.limits.max_events,
            max_queued: MAX_QUEUED_EVENTS,
            max_in_flight: (IN_FLIGHT_ENTRIES / self.raft.max_entries_per_message as u64)
                .min(MAX_QUEUED_EVENTS),
        }
    }
}

impl From<Target> for super::Target {
    fn from(t: Target) -> super::Target {
        match t {
            Target::Node(id) => super::Target::Node(id),
            Target::Leader => super::Target::Named(NamedTarget::Leader),
            Target::Follower => super::Target::Named(NamedTarget::Follower),
            Target::Random => super::Target::Named(NamedTarget::Random),
            Target::LastCrashed => super::Target::Named(NamedTarget::LastCrashed),
        }
    }
}

impl FaultSpec {
    /// The file form of a fault: how a fault drawn from a seed is written out as an explicit
    /// one (`raftsim shrink`). Compiling it gives the same fault back.
    pub fn from_fault(f: &Fault) -> FaultSpec {
        use crate::base::time::SimDuration;
        let mut spec = FaultSpec {
            at: SimDuration(f.at.0),
            jitter: f.jitter.clone(),
            until: f.until.map(|u| SimDuration(u.0)),
            when: f.when.map(|c| super::WhenSpec {
                committed: c.committed,
                changes_done: c.changes_done,
            }),
            ..Default::default()
        };
        match &f.kind {
            FaultKind::Crash(t) => spec.crash = Some((*t).into()),
            FaultKind::Restart(t) => spec.restart = Some((*t).into()),
            FaultKind::Partition(g) => spec.partition = Some(g.clone()),
            FaultKind::Cut { from, to } => {
                spec.cut = Some(super::CutSpec {
                    from: *from,
                    to: *to,
                })
            }
            FaultKind::Pause { target, until } => {
                spec.pause = Some((*target).into());
                spec.until = Some(SimDuration(until.0));
            }
            FaultKind::Isolate(t) => spec.isolate = Some((*t).into()),
            FaultKind::LossBurst(p) => spec.loss_burst = Some(*p),
            FaultKind::DuplicateBurst(p) => spec.duplicate_burst = Some(*p),
            FaultKind::DelaySpike(d) => spec.delay_spike = Some(d.clone()),
            FaultKind::TransferLeadership(to) => spec.transfer_leadership = Some(*to),
            FaultKind::ClockJump { target, by, back } => {
                spec.clock_jump = Some(super::ClockJumpSpec {
                    node: (*target).into(),
                    by: *by,
                    back: *back,
                })
            }
            FaultKind::ChangeMembership(v) => spec.change_membership = Some(voter_ids(*v)),
            FaultKind::Reconfigure { add, remove } => match (add, remove) {
                (Some(a), Some(r)) => {
                    spec.replace_server = Some(super::ReplaceSpec {
                        remove: (*r).into(),
                        add: (*a).into(),
                    })
                }
                (Some(a), None) => spec.add_server = Some((*a).into()),
                (None, Some(r)) => spec.remove_server = Some((*r).into()),
                (None, None) => unreachable!("a reconfiguration adds or removes a server"),
            },
            FaultKind::CrashAtWrite {
                k,
                leader_only,
                point,
                restart_after,
            } => {
                spec.crash_at_write = Some(super::CrashAtWriteSpec {
                    k: *k,
                    leader_only: *leader_only,
                    point: *point,
                    restart_after: *restart_after,
                })
            }
        }
        spec
    }
}

impl Scenario {
    /// The scenario a run with `seed` plays: the `draw` choices taken (from the seed's own
    /// stream) and written in as plain settings, with what was drawn noted for the trace. A
    /// scenario without `draw` is returned as it is.
    pub fn for_seed(&self, seed: u64) -> std::borrow::Cow<'_, Scenario> {
        use crate::base::rng::{Purpose, Rng};
        let Some(d) = &self.draw else {
            return std::borrow::Cow::Borrowed(self);
        };
        let mut rng = Rng::stream(seed, Purpose::Shape, 0);
        let mut pick = |len: usize| rng.range_inclusive(0, len as u64 - 1) as usize;
        let mut sc = self.clone();
        sc.draw = None;
        let mut drawn = Vec::new();
        if !d.nodes.is_empty() {
            sc.cluster.nodes = d.nodes[pick(d.nodes.len())];
            drawn.push(format!("nodes={}", sc.cluster.nodes));
        }
        if !d.max_entries_per_message.is_empty() {
            sc.raft.max_entries_per_message =
                d.max_entries_per_message[pick(d.max_entries_per_message.len())];
            drawn.push(format!(
                "max_entries_per_message={}",
                sc.raft.max_entries_per_message
            ));
        }
        if !d.requests_per_second.is_empty() {
            let v = d.requests_per_second[pick(d.requests_per_second.len())];
            if let Some(w) = &mut sc.workload {
                w.requests_per_second = v;
                drawn.push(format!("requests_per_second={v}"));
            }
        }
        if !d.election_timeout.is_empty() {
            sc.raft.election_timeout = d.election_timeout[pick(d.election_timeout.len())];
            let [a, b] = sc.raft.election_timeout;
            drawn.push(format!("election_timeout={a}..{b}"));
        }
        // The workload mix, the read path and the switches come after the four above, so a
        // scenario that draws none of them draws what it drew before they existed.
        if !d.reads.is_empty() {
            let v = d.reads[pick(d.reads.len())];
            if let Some(w) = &mut sc.workload {
                w.reads = v;
                drawn.push(format!("reads={v}"));
            }
        }
        if !d.cas.is_empty() {
            let v = d.cas[pick(d.cas.len())];
            if let Some(w) = &mut sc.workload {
                w.cas = v;
                drawn.push(format!("cas={v}"));
            }
        }
        if !d.keys.is_empty() {
            let v = d.keys[pick(d.keys.len())];
            if let Some(w) = &mut sc.workload {
                w.keys = v;
                drawn.push(format!("keys={v}"));
            }
        }
        if !d.read_path.is_empty() {
            let p = d.read_path[pick(d.read_path.len())];
            p.apply(&mut sc.raft);
            drawn.push(format!("read_path={}", p.name()));
        }
        for s in &d.switches {
            let on = pick(2) == 1;
            s.apply(&mut sc.raft, on);
            drawn.push(format!("{}={}", s.name(), if on { "on" } else { "off" }));
        }
        sc.drawn = Some(drawn.join(" "));
        std::borrow::Cow::Owned(sc)
    }

    /// This scenario with the faults its generators draw for `seed` written out explicitly,
    /// after its own, in the order a run appends them: the same run, fault for fault, with no
    /// generator left.
    pub fn with_generated_faults(&self, seed: u64) -> Scenario {
        let cfg = self.compile();
        let mut sc = self.clone();
        sc.faults.retain(|f| f.generate.is_none());
        for (g, spec) in cfg.generators.iter().enumerate() {
            sc.faults.extend(
                crate::world::faults::generate(spec, g, &cfg, seed)
                    .iter()
                    .map(FaultSpec::from_fault),
            );
        }
        sc
    }
}
