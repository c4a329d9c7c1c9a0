//! Sweeps: the experiment of the Raft paper's Figure 16, over a grid of configurations, and a
//! second experiment, the first election of a cluster that starts cold.
//!
//! A **failover** trial (Figure 16) starts from an established cluster (the scenario's
//! `cluster.initial_leader`), in which the leader has just sent a heartbeat to every follower.
//! The leader crashes at a uniformly random offset within its heartbeat interval, and the trial
//! measures:
//! - **downtime**: from the crash until every surviving node follows a new leader, i.e. has
//!   accepted an AppendEntries from it (the paper's definition);
//! - **time to leader**: from the crash until a candidate counts a majority.
//!
//! A **cold start** trial starts with every node a follower of term 0 with an empty log, no
//! leader and no fault, and measures the same two times from the start of the run.
//!
//! A **membership** trial grows a cluster under the scenario's load (paper §6): n1 leads the
//! initial voters (`cluster.voters`, else n1..n3) from the start, the other nodes run as
//! non-voting members with empty logs, and at [`MEMBERSHIP_CHANGE_AT`] the leader is asked to
//! make every node a voter. It measures the time from that request until C_new is committed
//! (in the downtime column, plotted as the CDF) and until C_old,new is (in the leader column).
//! With `--nodes` the sweep varies how many servers join while the change is in flight; the
//! new servers are caught up from nothing, so the time grows with their number and the log.
//!
//! Statistics treat a capped trial as a censored observation (its time is above the cap), not
//! as a missing one: quantiles and the maximum count it, and the mean is exact only when no
//! trial is capped (else it is a lower bound, each capped trial counted at the cap).
//!
//! The sweep owns the trial's shape: for each configuration it sets the election timeout range,
//! a heartbeat interval of half the minimum timeout (as in the paper), the crash fault and the
//! stop condition, and takes everything else (network, clocks, disks, logs) from the scenario.
//! A trial that reaches the cap is counted as capped, never dropped.
//!
//! Each trial's seed is derived from (seed, configuration index, trial index), and results are
//! collected in index order, so the files written are identical at any `--jobs`.

use crate::experiment::ChooseNode;
use crate::report::plot::CdfLine;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde_json::Value;

use crate::base::dist::DurationDist;
use crate::base::input::thousands;
use crate::base::rng::trial_seed;
use crate::base::time::{format_duration, SimDuration};
use crate::experiment::run::run_observed;
use crate::observe::check::Violation;
use crate::observe::trace::{Event, Record};
use crate::observe::{ObsCtx, Observer};
use crate::protocol::NodeId;
use crate::scenario::{
    trials_bound, CutSpec, FaultSpec, NamedTarget, Scenario, ScenarioError, StopSpec, StopWhen,
    SweepRange, Target, MAX_CONFIGURATIONS, MAX_TRIALS,
};
use crate::world::config::{FaultKind, RunConfig};
use crate::world::{Outcome, TraceLevel};

/// The most worker threads a sweep may use. A trial runs on one thread, so threads beyond the
/// machine's cores add memory (a stack each) and switching, not speed; 1024 is above the core
/// count of the machines this runs on, and a bound that does not depend on the machine keeps a
/// command line that works on one working on another.
pub const MAX_JOBS: usize = 1024;

/// When a membership trial asks the leader to grow the cluster: after a second of the
/// scenario's load, so the new servers have a log to catch up.
pub const MEMBERSHIP_CHANGE_AT: SimDuration = SimDuration(1_000_000_000);

/// An axis given on the command line: a scenario field by its path and the values to try.
#[derive(Clone, Debug)]
pub struct SetAxis {
    pub path: String,
    pub values: Vec<Value>,
}

pub use crate::scenario::Experiment;

/// What to sweep, after flags and the scenario's `sweep` section are merged.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    pub experiment: Experiment,
    pub ranges: Vec<SweepRange>,
    /// Trials per range when the range does not say; `Some` from `--trials` overrides all.
    pub default_trials: u32,
    pub trials_override: Option<u32>,
    pub nodes: Vec<u32>,
    pub sets: Vec<SetAxis>,
    pub seed: u64,
    pub cap: SimDuration,
}

/// One point of the grid.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    pub index: usize,
    /// (column name, value as text), e.g. ("nodes", "5"), ("network.loss", "0.01").
    pub axes: Vec<(String, String)>,
    pub timeout: [SimDuration; 2],
    pub trials: u32,
    /// The longest downtime measured: a trial whose downtime would exceed it is capped.
    pub cap: SimDuration,
    /// The trial's scenario, as a file would hold it (saved when a trial fails).
    pub scenario: Scenario,
    /// The same, compiled.
    pub run: RunConfig,
    /// The implementation under test (the scenario's `node`, which `--set node=...` may put
    /// on an axis) with its options.
    pub node: crate::nodes::NodeChoice,
}

impl SweepConfig {
    /// A short label for tables and legends: "150-155ms" plus any other axes.
    pub fn label(&self) -> String {
        let mut s = range_label(self.timeout);
        for (k, v) in &self.axes {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

pub fn range_label([lo, hi]: [SimDuration; 2]) -> String {
    if lo.0 % 1_000_000 == 0 && hi.0 % 1_000_000 == 0 {
        format!("{}-{}ms", lo.0 / 1_000_000, hi.0 / 1_000_000)
    } else {
        format!("{}-{}", format_duration(lo), format_duration(hi))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrialResult {
    pub config: usize,
    pub trial: u32,
    pub seed: u64,
    pub downtime_ns: Option<u64>,
    pub time_to_leader_ns: Option<u64>,
    pub elections: u64,
    /// Terms in which two or more candidates stood and nobody won.
    pub split_votes: u64,
    /// Terms with a single candidate, who lost.
    pub failed_elections: u64,
    pub messages: u64,
    pub capped: bool,
    /// When the measured time starts: the leader's crash (failover), 0 (cold start).
    pub crash_ns: u64,
    /// The first term in which anyone stood (after the crash) ended in a split vote.
    pub first_term_split: bool,
    /// The first leader was elected in the first round: before any server stood a second
    /// time (a split among candidates that cannot win, settled by a third server's first
    /// candidacy, still counts; a round is a timeout per server).
    pub first_round_won: bool,
    /// A safety property that failed in this trial (a bug in the Raft under test): the sweep
    /// reports it with the command that replays the trial.
    pub violation: Option<String>,
}

/// Parses a range written "150-155" (milliseconds) or "150ms-155ms".
pub fn parse_range(s: &str) -> Result<[SimDuration; 2], String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("timeout range {s:?} must be MIN-MAX, e.g. 150-300"))?;
    let one = |x: &str| -> Result<SimDuration, String> {
        let x = x.trim();
        let with_unit = if x.chars().all(|c| c.is_ascii_digit() || c == '.') {
            format!("{x}ms")
        } else {
            x.to_string()
        };
        crate::base::time::parse_duration(&with_unit).map_err(|e| e.to_string())
    };
    let (lo, hi) = (one(a)?, one(b)?);
    if lo.0 == 0 || lo > hi {
        return Err(format!(
            "timeout range {s:?}: the minimum must be above zero and not above the maximum"
        ));
    }
    Ok([lo, hi])
}

/// Parses `PATH=V1,V2,...`: JSON values separated by top-level commas; a value that is not
/// JSON is taken as a string (so `network.delay.constant=1ms,2ms` works).
pub fn parse_set(s: &str) -> Result<SetAxis, String> {
    let (path, values) = s
        .split_once('=')
        .ok_or_else(|| format!("--set {s:?} must be PATH=VALUE[,VALUE...]"))?;
    if path.is_empty() {
        return Err(format!("--set {s:?}: the path is empty"));
    }
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut start) = (0i32, false, 0usize);
    let bytes = values.as_bytes();
    let mut push = |piece: &str| {
        let piece = piece.trim();
        out.push(serde_json::from_str(piece).unwrap_or_else(|_| Value::String(piece.to_string())));
    };
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'"' => in_str = !in_str,
            b'[' | b'{' if !in_str => depth += 1,
            b']' | b'}' if !in_str => depth -= 1,
            b',' if !in_str && depth == 0 => {
                push(&values[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    push(&values[start..]);
    Ok(SetAxis {
        path: path.to_string(),
        values: out,
    })
}

const DIST_VARIANTS: [&str; 5] = ["constant", "uniform", "normal", "exponential", "lognormal"];

/// Sets `path` in a JSON value, creating objects on the way. Setting one variant of a
/// distribution (`network.delay.uniform`) replaces the other variant that was there.
pub fn set_path(root: &mut Value, path: &str, v: Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = root;
    for (i, p) in parts.iter().enumerate() {
        let obj = cur
            .as_object_mut()
            .ok_or_else(|| format!("--set {path}: {} is not an object", parts[..i].join(".")))?;
        if i + 1 == parts.len() {
            if DIST_VARIANTS.contains(p) && obj.keys().all(|k| DIST_VARIANTS.contains(&k.as_str()))
            {
                obj.clear();
            }
            obj.insert(p.to_string(), v);
            return Ok(());
        }
        cur = obj
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}

/// Initial logs for an `n`-node trial when the scenario's do not fit: node 1 leads; of the
/// n-1 survivors, the first half hold its whole log and can win, the rest miss the last entry
/// and cannot (with 5 nodes: 2 of the 4 survivors are not eligible, as in the paper).
pub fn default_logs(n: u32) -> Vec<Vec<u64>> {
    let eligible = 1 + (n - 1).div_ceil(2);
    (1..=n)
        .map(|id| if id <= eligible { vec![1, 1] } else { vec![1] })
        .collect()
}

/// Checks a plan's size before anything is built: at most [`MAX_CONFIGURATIONS`] in the grid
/// and [`MAX_TRIALS`] trials, per configuration and in all. Returns (the field or flags at
/// fault, what is wrong and what is allowed).
pub fn check_plan(plan: &SweepPlan) -> Result<(), (String, String)> {
    let trials_field = || {
        if plan.trials_override.is_some() {
            "--trials"
        } else {
            "sweep.trials"
        }
    };
    if let Some(t) = plan.trials_override.filter(|&t| t as u64 > MAX_TRIALS) {
        return Err(("--trials".into(), trials_bound(t as u64)));
    }
    // ranges × cluster sizes × each --set axis's values, saturating: a product past u64 is
    // refused like any other above the bound.
    let sizes = [plan.ranges.len(), plan.nodes.len().max(1)]
        .into_iter()
        .chain(plan.sets.iter().map(|s| s.values.len().max(1)));
    let configs = sizes.fold(1u64, |acc, k| acc.saturating_mul(k as u64));
    if configs > MAX_CONFIGURATIONS {
        let mut parts = vec![format!("{} timeout ranges", plan.ranges.len())];
        if !plan.nodes.is_empty() {
            parts.push(format!("{} cluster sizes", plan.nodes.len()));
        }
        for s in &plan.sets {
            parts.push(format!("{} values of {}", s.values.len(), s.path));
        }
        // The scenario's own ranges are within the bound (validation), so flags made the grid.
        let mut fields = Vec::new();
        if !plan.nodes.is_empty() {
            fields.push("--nodes");
        }
        if !plan.sets.is_empty() {
            fields.push("--set");
        }
        if fields.is_empty() {
            fields.push("--timeouts");
        }
        return Err((
            fields.join(" × "),
            format!(
                "the grid has {} configurations ({}), above the bound of {} per sweep: each holds its own scenario and compiled run, and is a row in summary.csv and a line in the plots",
                thousands(configs),
                parts.join(" × "),
                thousands(MAX_CONFIGURATIONS)
            ),
        ));
    }
    let trials = |r: &SweepRange| {
        plan.trials_override
            .or(r.trials)
            .unwrap_or(plan.default_trials) as u64
    };
    if let Some((i, t)) = plan
        .ranges
        .iter()
        .map(trials)
        .enumerate()
        .find(|&(_, t)| t > MAX_TRIALS)
    {
        let field = if plan.trials_override.is_none() && plan.ranges[i].trials.is_some() {
            format!("sweep.ranges[{i}].trials")
        } else {
            trials_field().into()
        };
        return Err((field, trials_bound(t)));
    }
    let per_combo: u64 = plan.ranges.iter().map(trials).sum();
    let total = per_combo.saturating_mul(configs / plan.ranges.len().max(1) as u64);
    if total > MAX_TRIALS {
        return Err((
            trials_field().into(),
            format!(
                "the sweep asks for {} trials ({} configurations), above the bound of {} per sweep: one result row per trial is kept in memory until the sweep ends and written to trials.csv",
                thousands(total),
                thousands(configs),
                thousands(MAX_TRIALS)
            ),
        ));
    }
    Ok(())
}

/// Builds the grid of configurations, after [`check_plan`]. Errors are bad input.
pub fn build_configs(
    file: &str,
    base: &Scenario,
    plan: &SweepPlan,
) -> Result<Vec<SweepConfig>, ScenarioError> {
    let invalid = |field: String, message: String| ScenarioError::Invalid {
        file: file.to_string(),
        field,
        location: None,
        message,
    };
    check_plan(plan).map_err(|(field, message)| invalid(field, message))?;
    let base_value = serde_json::to_value(base).expect("scenario serialises");
    // The grid: nodes × each --set axis × ranges (ranges vary fastest).
    let mut combos: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    if !plan.nodes.is_empty() {
        combos = plan
            .nodes
            .iter()
            .map(|&n| vec![("nodes".to_string(), Value::from(n))])
            .collect();
    }
    for axis in &plan.sets {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((axis.path.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut configs = Vec::new();
    for combo in &combos {
        for range in &plan.ranges {
            let mut v = base_value.clone();
            let mut axes = Vec::new();
            for (k, val) in combo {
                if k == "nodes" {
                    let n = val.as_u64().unwrap_or(0) as u32;
                    if !(2..=64).contains(&n) {
                        return Err(invalid(
                            "--nodes".into(),
                            format!("{n} nodes is not allowed: 2 to 64"),
                        ));
                    }
                    v["cluster"]["nodes"] = Value::from(n);
                    if base.cluster.nodes != n {
                        v["cluster"]["initial_logs"] =
                            serde_json::to_value(default_logs(n)).expect("logs");
                        if let Some(c) = v["clocks"].as_object_mut() {
                            c.remove("node_drift_ppm");
                        }
                        if let Some(net) = v["network"].as_object_mut() {
                            net.insert("links".into(), Value::Array(Vec::new()));
                        }
                    }
                } else {
                    set_path(&mut v, k, val.clone())
                        .map_err(|m| invalid(format!("--set {k}"), m))?;
                }
                axes.push((
                    k.clone(),
                    match val {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                ));
            }
            let [lo, hi] = range.timeout;
            let mut sc: Scenario =
                serde_json::from_value(v).map_err(|e| invalid(axes_field(combo), e.to_string()))?;
            shape_trial(&mut sc, [lo, hi], plan.cap, plan.experiment);
            if plan.experiment == Experiment::Membership {
                let voters = sc.cluster.voters.as_ref().map_or(0, |v| v.len());
                if voters >= sc.cluster.nodes as usize {
                    let field = if combo.iter().any(|(k, _)| k == "nodes") {
                        "--nodes"
                    } else {
                        "cluster.nodes"
                    };
                    return Err(invalid(
                        field.into(),
                        format!(
                            "{} nodes is not allowed for a membership sweep: the cluster grows from its {voters} initial voters to every node, so give more nodes than that",
                            sc.cluster.nodes
                        ),
                    ));
                }
            }
            sc.validate().map_err(|(field, message)| {
                invalid(
                    format!("{field} (in configuration {})", axes_field(combo)),
                    message,
                )
            })?;
            let trials = plan
                .trials_override
                .or(range.trials)
                .unwrap_or(plan.default_trials);
            configs.push(SweepConfig {
                index: configs.len(),
                axes,
                timeout: [lo, hi],
                trials,
                cap: plan.cap,
                run: sc.compile(),
                node: sc.node_choice(),
                scenario: sc,
            });
        }
    }
    Ok(configs)
}

/// How long a failover trial of a node that cannot start as an established leader runs before
/// its leader crashes: a cold start elects a first leader well within it in every range swept
/// (a trial whose crash finds no leader is reported, not measured).
pub const WARM_UP: SimDuration = SimDuration::from_secs(10);

/// Gives a configuration's scenario the shape of one Figure 16 trial: the timeout range, a
/// heartbeat of half the minimum timeout, an established leader (n1 unless the scenario names
/// one), its crash at a uniformly random time within one heartbeat interval, cuts that keep the
/// nodes whose logs are behind from being repaired before the crash, and the stop condition.
fn shape_trial(
    sc: &mut Scenario,
    timeout: [SimDuration; 2],
    cap: SimDuration,
    experiment: Experiment,
) {
    let hb = SimDuration(timeout[0].0 / 2).max(SimDuration(1));
    sc.raft.election_timeout = timeout;
    sc.raft.heartbeat_interval = hb;
    // The cap bounds the time measured, from the crash (within the first heartbeat interval)
    // or from the start: the run may go on for one heartbeat interval more, so that every
    // capped trial's time is known to exceed the cap (a censored observation at the cap).
    sc.stop = StopSpec {
        at: if experiment == Experiment::Failover {
            cap + hb
        } else {
            cap
        },
        when: Some(StopWhen::LeaderAfterFaults),
    };
    sc.sweep = None;
    sc.liveness = None;
    if experiment == Experiment::Membership {
        // n1 leads the initial voters; the change to every node is the only fault; the run
        // goes on to the cap after it (the world has no stop condition for a change).
        let n = sc.cluster.nodes;
        let voters = sc
            .cluster
            .voters
            .clone()
            .filter(|v| v.iter().all(|&id| id <= n) && v.contains(&1))
            .unwrap_or_else(|| (1..=n.min(3)).collect());
        sc.cluster.voters = Some(voters);
        sc.cluster.initial_leader = Some(1);
        sc.cluster.initial_logs = None;
        sc.stop = StopSpec {
            at: MEMBERSHIP_CHANGE_AT + cap,
            when: None,
        };
        sc.faults = vec![FaultSpec {
            at: MEMBERSHIP_CHANGE_AT,
            change_membership: Some((1..=n).collect()),
            ..Default::default()
        }];
        return;
    }
    sc.workload = None;
    if experiment == Experiment::ColdStart {
        // Every node a follower of term 0 with an empty log; nothing fails.
        sc.cluster.initial_leader = None;
        sc.cluster.initial_logs = None;
        sc.faults = Vec::new();
        return;
    }
    if !sc.node.capabilities().bootstrap_leader {
        // A node that cannot start as an established leader (raft-rs: it cannot lead a term
        // without an election) is elected first: a cold start, then the leader crashes at a
        // uniform time within a heartbeat interval after WARM_UP. Every survivor's log is then
        // as up to date as the leader's (no node is kept behind, unlike the paper's setup).
        sc.cluster.initial_leader = None;
        sc.cluster.initial_logs = None;
        sc.stop.at = WARM_UP + cap + hb;
        sc.faults = vec![FaultSpec {
            at: WARM_UP,
            jitter: Some(DurationDist::Uniform([
                SimDuration::ZERO,
                SimDuration(hb.0.saturating_sub(1)),
            ])),
            crash: Some(Target::Named(NamedTarget::Leader)),
            ..Default::default()
        }];
        return;
    }
    if sc.cluster.initial_leader.is_none() {
        sc.cluster.initial_leader = Some(1);
        if sc.cluster.initial_logs.is_none() {
            sc.cluster.initial_logs = Some(default_logs(sc.cluster.nodes));
        }
    }
    let leader = sc.cluster.initial_leader.expect("set above");
    let mut faults = vec![FaultSpec {
        at: SimDuration::ZERO,
        jitter: Some(DurationDist::Uniform([
            SimDuration::ZERO,
            SimDuration(hb.0.saturating_sub(1)),
        ])),
        crash: Some(Target::Named(NamedTarget::Leader)),
        ..Default::default()
    }];
    // Nodes whose log is behind the leader's must stay behind until the crash, as in the
    // paper (they cannot win): cut the leader's link to them, or its first heartbeat would
    // repair their logs before it crashes.
    if let Some(logs) = &sc.cluster.initial_logs {
        let lead_log = &logs[leader as usize - 1];
        for (i, log) in logs.iter().enumerate() {
            if i as NodeId + 1 != leader && log != lead_log {
                faults.push(FaultSpec {
                    at: SimDuration::ZERO,
                    cut: Some(CutSpec {
                        from: leader,
                        to: i as NodeId + 1,
                    }),
                    ..Default::default()
                });
            }
        }
    }
    sc.faults = faults;
}

/// The plots' title: the scenario, the experiment and what the grid varies.
pub fn plot_title(name: &str, plan: &SweepPlan) -> String {
    let what = match plan.experiment {
        Experiment::Failover => "time without a leader after the leader crashes",
        Experiment::ColdStart => "time to the first leader from a cold start",
        Experiment::Membership => "time to grow the cluster to every node (C_new committed)",
    };
    let mut varied = vec!["election timeout".to_string()];
    if !plan.nodes.is_empty() {
        varied.push("nodes".into());
    }
    varied.extend(plan.sets.iter().map(|s| s.path.clone()));
    format!("{name}: {what}; varied: {}", varied.join(", "))
}

/// What a sweep changes in the scenario it was given, in words, for the sweep to print before
/// it runs (nothing is replaced silently).
pub fn describe_changes(base: &Scenario, plan: &SweepPlan) -> Vec<String> {
    let mut o = Vec::new();
    let ranges: Vec<String> = plan.ranges.iter().map(|r| range_label(r.timeout)).collect();
    o.push(format!(
        "raft.election_timeout {:?} -> each range of the sweep ({}); raft.heartbeat_interval {} -> half the range's minimum",
        base.raft.election_timeout.map(format_duration),
        ranges.join(", "),
        format_duration(base.raft.heartbeat_interval)
    ));
    let faults = if base.faults.is_empty() {
        "no faults".to_string()
    } else {
        format!("its {} fault(s)", base.faults.len())
    };
    match plan.experiment {
        Experiment::Failover => {
            let leader = base.cluster.initial_leader.unwrap_or(1);
            o.push(format!(
                "faults: {faults} -> n{leader} (the leader) crashes at a uniform time within its first heartbeat interval, and its links to nodes whose log is behind are cut from the start"
            ));
            if base.cluster.initial_leader.is_none() {
                o.push("cluster.initial_leader -> n1".into());
            }
            if !base.node.capabilities().bootstrap_leader
                || plan.sets.iter().any(|s| s.path == "node")
            {
                o.push(format!(
                    "a node that cannot start as an established leader (raft-rs): no initial leader or logs; a cold start, then after {} the leader crashes at a uniform time within a heartbeat interval (every survivor's log as up to date as the leader's)",
                    format_duration(WARM_UP)
                ));
            }
        }
        Experiment::ColdStart => {
            o.push(format!(
                "faults: {faults} -> none; cluster.initial_leader and cluster.initial_logs -> none (every node a follower of term 0 with an empty log)"
            ));
        }
        Experiment::Membership => {
            o.push(format!(
                "faults: {faults} -> at {} n1 (the leader) is asked to make every node a voter; cluster.initial_leader -> n1, cluster.initial_logs -> none, cluster.voters -> the scenario's (with n1), else n1..n3",
                format_duration(MEMBERSHIP_CHANGE_AT)
            ));
            o.push(format!(
                "stop -> {} after the change is asked for (the cap)",
                format_duration(plan.cap)
            ));
            if !plan.nodes.is_empty() {
                o.push("--nodes: the size the cluster grows to".into());
            }
            for s in &plan.sets {
                o.push(format!(
                    "--set {} -> each of {} values",
                    s.path,
                    s.values.len()
                ));
            }
            return o;
        }
    }
    o.push(format!(
        "stop -> when every live node follows one leader, at the latest at the cap ({})",
        format_duration(plan.cap)
    ));
    if base.workload.is_some() {
        o.push("workload -> none".into());
    }
    if base.liveness.is_some() {
        o.push("liveness -> none".into());
    }
    if !plan.nodes.is_empty() {
        o.push(
            "--nodes: a size other than the scenario's gets logs where half the survivors are behind, and no per-node drift or links"
                .into(),
        );
    }
    for s in &plan.sets {
        o.push(format!(
            "--set {} -> each of {} values",
            s.path,
            s.values.len()
        ));
    }
    o
}

fn axes_field(combo: &[(String, Value)]) -> String {
    if combo.is_empty() {
        "sweep".into()
    } else {
        combo
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The per-trial metrics of Figure 16, as an observer: elections, split votes, failed
/// elections and the first leader once every fault event (the leader's crash) has applied;
/// for a membership trial, when the change was asked for, went joint and completed.
#[derive(Default)]
pub struct TrialMetrics {
    /// The first `membership` records: proposed, joint, final.
    pub change_proposed_ns: Option<u64>,
    pub change_joint_ns: Option<u64>,
    pub change_final_ns: Option<u64>,
    /// The voters the change asked for (its "proposed" record).
    pub change_target: Option<Vec<NodeId>>,
    pub elections: u64,
    pub split_votes: u64,
    pub failed_elections: u64,
    pub leader_at_ns: Option<u64>,
    /// The first term anyone stood in, and whether it ended in a split vote.
    pub first_term: Option<u64>,
    pub first_term_split: bool,
    /// The servers that have stood (a bit each) and whether one has stood twice, before the
    /// first leader: [`TrialResult::first_round_won`].
    pub stood: u64,
    pub stood_twice: bool,
    pub first_round_won: bool,
    /// Count from the start of the run (a cold start has no fault to wait for).
    pub from_start: bool,
    /// A fault found nothing to act on (a warm-up crash with no leader to crash).
    pub skipped: bool,
}

impl Observer for TrialMetrics {
    fn observe(&mut self, rec: &Record, _: u64, ctx: &ObsCtx) -> Option<Violation> {
        if let Event::Membership { phase, voters, .. } = &rec.ev {
            // Catching the new servers up comes between proposed and joint; a single-server
            // change (dissertation §4.1) has a "final" per step, and is done at the one that
            // reaches the voters asked for.
            let at = match phase.as_str() {
                "proposed" => {
                    self.change_target.get_or_insert_with(|| voters.clone());
                    Some(&mut self.change_proposed_ns)
                }
                "joint" => Some(&mut self.change_joint_ns),
                "final" if self.change_target.as_ref() == Some(voters) => {
                    Some(&mut self.change_final_ns)
                }
                _ => None,
            };
            if let Some(at) = at {
                at.get_or_insert(rec.t);
            }
        }
        if let Event::FaultSkipped { .. } = rec.ev {
            self.skipped = true;
        }
        if ctx.faults_done || self.from_start {
            match &rec.ev {
                Event::Election { term, node } => {
                    self.elections += 1;
                    self.first_term.get_or_insert(*term);
                    let bit = 1u64 << ((*node as u64 - 1) % 64);
                    if self.leader_at_ns.is_none() {
                        self.stood_twice |= self.stood & bit != 0;
                        self.stood |= bit;
                    }
                }
                Event::SplitVote { term, .. } => {
                    self.split_votes += 1;
                    if self.first_term == Some(*term) {
                        self.first_term_split = true;
                    }
                }
                Event::FailedElection { .. } => self.failed_elections += 1,
                Event::Leader { .. } if self.leader_at_ns.is_none() => {
                    self.leader_at_ns = Some(rec.t);
                    self.first_round_won = self.first_term.is_some() && !self.stood_twice;
                }
                _ => {}
            }
        }
        None
    }
}

/// Runs one trial. A panic in it is caught by the world and reported like a violation.
pub fn run_trial(cfg: &SweepConfig, seed: u64, trial: u32) -> TrialResult {
    let s = trial_seed(seed, cfg.index as u64, trial as u64);
    let mut r = run_compiled(&cfg.run, &cfg.node, s, cfg.cap);
    r.config = cfg.index;
    r.trial = trial;
    r
}

/// Runs one trial of a compiled scenario with seed `s`, capped at `cap` of measured time
/// (`config` and `trial` are left 0).
pub fn run_compiled(
    run: &RunConfig,
    node: &crate::nodes::NodeChoice,
    s: u64,
    cap: SimDuration,
) -> TrialResult {
    let mut m = TrialMetrics {
        from_start: run.faults.is_empty() && run.generators.is_empty(),
        ..Default::default()
    };
    let (r, _) = crate::with_node!(node, N, o => {
        run_observed::<N, Vec<u8>, _>(run, o, s, TraceLevel::Events, None, &mut m)
    });
    let membership = run
        .faults
        .iter()
        .any(|f| matches!(f.kind, FaultKind::ChangeMembership(_)));
    // What the trial measures, and from when: a membership trial, from the request to C_new
    // (and to C_old,new) committed; else from the last fault (the crash) until every live node
    // follows one leader (and until a leader is elected).
    let (from, done, to_leader) = if membership {
        let asked = m.change_proposed_ns.unwrap_or(MEMBERSHIP_CHANGE_AT.0);
        let within = |t: Option<u64>| t.map(|t| t - asked).filter(|&d| d <= cap.0);
        (asked, within(m.change_final_ns), within(m.change_joint_ns))
    } else {
        let crash = r.last_fault_ns.unwrap_or(0);
        let done = r.outcome == Outcome::ConditionMet && r.end_time_ns - crash <= cap.0;
        (
            crash,
            done.then(|| r.end_time_ns - crash),
            m.leader_at_ns.map(|t| t - crash).filter(|&t| t <= cap.0),
        )
    };
    TrialResult {
        config: 0,
        trial: 0,
        seed: s,
        downtime_ns: done,
        time_to_leader_ns: to_leader,
        elections: m.elections,
        split_votes: m.split_votes,
        failed_elections: m.failed_elections,
        messages: r.messages_sent,
        capped: done.is_none(),
        crash_ns: from,
        first_term_split: m.first_term_split,
        first_round_won: m.first_round_won,
        violation: r
            .violation
            .map(|v| v.to_string())
            .or(r.panic.map(|p| format!("panic: {p}")))
            .or((m.skipped && !membership).then(|| {
                "the trial's crash found no leader to crash: its time is not a failover".into()
            })),
    }
}

/// Runs every trial of every configuration on `jobs` threads; `progress` is called with the
/// number of trials just finished. Results come back in (config, trial) order. An error (the
/// threads could not be started) comes before any trial runs.
pub fn run_sweep(
    configs: &[SweepConfig],
    seed: u64,
    jobs: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<TrialResult>, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {jobs} worker threads: {e}"))?;
    let work: Vec<(usize, u32)> = configs
        .iter()
        .flat_map(|c| (0..c.trials).map(move |t| (c.index, t)))
        .collect();
    let pending = AtomicU64::new(0);
    Ok(pool.install(|| {
        work.par_iter()
            .with_min_len(64)
            .map(|&(c, t)| {
                let r = run_trial(&configs[c], seed, t);
                if pending.fetch_add(1, Ordering::Relaxed) % 64 == 63 {
                    progress(64);
                }
                r
            })
            .collect()
    }))
}

/// A statistic over trials of which some may be capped: a value, or "above the cap" when it
/// falls among the capped trials (whose times are only known to exceed the cap).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Censored {
    Ms(f64),
    /// Above the cap, in ms.
    AboveCap(f64),
    /// No trial.
    None,
}

impl Censored {
    /// As the tables print it: `152.3`, `>120000` or empty.
    pub fn text(self) -> String {
        match self {
            Censored::Ms(x) => format!("{x:.3}"),
            Censored::AboveCap(c) => format!(">{}", trim_ms(c)),
            Censored::None => String::new(),
        }
    }
    pub fn ms(self) -> Option<f64> {
        match self {
            Censored::Ms(x) => Some(x),
            _ => None,
        }
    }
}

fn trim_ms(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The mean of trial times: exact when no trial is capped; otherwise a lower bound (each capped
/// trial counted at the cap), printed `>=`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mean {
    pub ms: f64,
    pub lower_bound: bool,
}

impl Mean {
    pub fn text(self) -> String {
        if self.ms.is_nan() {
            String::new()
        } else if self.lower_bound {
            format!(">={:.3}", self.ms)
        } else {
            format!("{:.3}", self.ms)
        }
    }
}

/// The nearest-rank quantile `q` of `n` trials of which `finished` (sorted) have a time and
/// the others are capped (above `cap_ms`): rank = ceil(q·n), at least 1; a rank past the
/// finished trials falls among the capped ones.
pub fn censored_quantile(finished: &[u64], n: usize, q: f64, cap_ms: f64) -> Censored {
    if n == 0 {
        return Censored::None;
    }
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    match finished.get(rank - 1) {
        Some(&x) => Censored::Ms(ms3(ms(x))),
        None => Censored::AboveCap(cap_ms),
    }
}

/// Per-configuration statistics over every trial, capped ones included (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigSummary {
    pub label: String,
    pub axes: Vec<(String, String)>,
    pub timeout: [SimDuration; 2],
    pub cap_ms: f64,
    pub trials: u64,
    pub min: Censored,
    pub p50: Censored,
    pub p90: Censored,
    pub p99: Censored,
    pub max: Censored,
    pub mean: Mean,
    pub leader_p50: Censored,
    /// Trials with at least one split vote (two or more candidates, nobody won), of all trials.
    pub split_share: f64,
    /// Trials with at least one failed election (one candidate, who lost), of all trials.
    pub failed_share: f64,
    /// Trials whose first term ended in a split vote, of all trials.
    pub first_split_share: f64,
    /// The share of trials elected in the first round ([`TrialResult::first_round_won`]).
    pub first_won_share: f64,
    /// The closed-form probability of that (`analytic`), with the assumptions that fail.
    pub model: crate::experiment::analytic::Analytic,
    pub capped: u64,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Rounds to the microsecond, as the CSV files hold it.
fn ms3(x: f64) -> f64 {
    libm::round(x * 1000.0) / 1000.0
}

pub fn summarize(
    configs: &[SweepConfig],
    results: &[TrialResult],
    experiment: Experiment,
) -> Vec<ConfigSummary> {
    configs
        .iter()
        .map(|c| {
            let rs: Vec<&TrialResult> = results.iter().filter(|r| r.config == c.index).collect();
            let n = rs.len();
            let cap_ms = ms(c.cap.0);
            let mut d: Vec<u64> = rs.iter().filter_map(|r| r.downtime_ns).collect();
            d.sort_unstable();
            let mut l: Vec<u64> = rs.iter().filter_map(|r| r.time_to_leader_ns).collect();
            l.sort_unstable();
            let q = |p: f64| censored_quantile(&d, n, p, cap_ms);
            let capped = (n - d.len()) as u64;
            let share = |f: &dyn Fn(&TrialResult) -> bool| {
                if n == 0 {
                    0.0
                } else {
                    rs.iter().filter(|r| f(r)).count() as f64 / n as f64
                }
            };
            ConfigSummary {
                label: c.label(),
                axes: c.axes.clone(),
                timeout: c.timeout,
                cap_ms,
                trials: n as u64,
                min: q(0.0),
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                max: q(1.0),
                mean: Mean {
                    ms: if n == 0 {
                        f64::NAN
                    } else {
                        ms3(
                            (d.iter().map(|&x| ms(x)).sum::<f64>() + capped as f64 * cap_ms)
                                / n as f64,
                        )
                    },
                    lower_bound: capped > 0,
                },
                leader_p50: censored_quantile(&l, n, 0.5, cap_ms),
                split_share: share(&|r| r.split_votes > 0),
                failed_share: share(&|r| r.failed_elections > 0),
                first_split_share: share(&|r| r.first_term_split),
                first_won_share: share(&|r| r.first_round_won),
                model: crate::experiment::analytic::for_config(c, experiment),
                capped,
            }
        })
        .collect()
}

fn opt_ms(x: Option<u64>) -> String {
    x.map_or(String::new(), |v| format!("{:.3}", ms(v)))
}

/// The identifier of a trial for `--trial` and the `trial_id` column: `150-155#17`, or
/// `c3#17` (configuration 3) when other configurations of the grid share the range.
pub fn trial_id(configs: &[SweepConfig], config: usize, trial: u32) -> String {
    format!("{}#{trial}", config_id(configs, config))
}

/// The part of [`trial_id`] before `#`.
fn config_id(configs: &[SweepConfig], config: usize) -> String {
    let c = &configs[config];
    let shared = configs
        .iter()
        .filter(|o| o.timeout == c.timeout)
        .nth(1)
        .is_some();
    if shared {
        format!("c{config}")
    } else {
        range_arg(c.timeout)
    }
}

/// A range as `--timeouts` takes it: `150-155` (ms) or `1.5ms-2ms`.
fn range_arg(t: [SimDuration; 2]) -> String {
    let l = range_label(t);
    l.strip_suffix("ms")
        .filter(|x| !x.contains("ms") && !x.contains('s'))
        .map(String::from)
        .unwrap_or(l)
}

/// Finds the trial `--trial ID` names (see [`trial_id`]): (configuration, trial).
pub fn find_trial(configs: &[SweepConfig], id: &str) -> Result<(usize, u32), String> {
    let (cfg, n) = id
        .rsplit_once('#')
        .ok_or_else(|| format!("{id:?} must be RANGE#TRIAL (e.g. 150-155#17) or cK#TRIAL"))?;
    let trial: u32 = n
        .parse()
        .map_err(|_| format!("{id:?}: the trial number {n:?} is not a whole number"))?;
    let config = if let Some(k) = cfg.strip_prefix('c').and_then(|k| k.parse::<usize>().ok()) {
        if k >= configs.len() {
            return Err(format!(
                "{id:?}: configuration {k} is not in the grid (0 to {})",
                configs.len() - 1
            ));
        }
        k
    } else {
        let range = parse_range(cfg)?;
        let matching: Vec<usize> = configs
            .iter()
            .filter(|c| c.timeout == range)
            .map(|c| c.index)
            .collect();
        match matching[..] {
            [k] => k,
            [] => {
                return Err(format!(
                    "{id:?}: no configuration of this sweep has the range {cfg} (give the same --timeouts, --nodes and --set as the sweep)"
                ))
            }
            _ => {
                return Err(format!(
                    "{id:?}: {} configurations have the range {cfg}; name one as cK#{trial}: {}",
                    matching.len(),
                    matching
                        .iter()
                        .map(|&k| format!("c{k} = {}", configs[k].label()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    };
    if trial >= configs[config].trials {
        return Err(format!(
            "{id:?}: {} has trials 0 to {}",
            configs[config].label(),
            configs[config].trials - 1
        ));
    }
    Ok((config, trial))
}

/// The complete scenario of one trial, for `raftsim run`: the trial's seed, the crash at the
/// time the trial drew for it (no jitter left to draw), and everything else as the trial had
/// it. Returns the scenario and the trial's result as the sweep computed it.
pub fn trial_scenario(
    configs: &[SweepConfig],
    seed: u64,
    config: usize,
    trial: u32,
) -> (Scenario, TrialResult) {
    let cfg = &configs[config];
    let r = run_trial(cfg, seed, trial);
    let mut sc = cfg.scenario.clone();
    sc.seed = r.seed;
    sc.name = format!(
        "{}-{}",
        sc.name,
        trial_id(configs, config, trial).replace('#', "-trial")
    );
    if let Some(crash) = sc.faults.iter_mut().find(|f| f.crash.is_some()) {
        crash.at = SimDuration(r.crash_ns);
        crash.jitter = None;
    }
    (sc, r)
}

/// `trials.csv`: one row per trial, axis columns first.
pub fn trials_csv(configs: &[SweepConfig], results: &[TrialResult]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let axis_names: Vec<String> = configs
        .first()
        .map(|c| c.axes.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let mut header = axis_names.clone();
    header.extend(
        [
            "timeout_min_ms",
            "timeout_max_ms",
            "trial",
            "trial_id",
            "seed",
            "downtime_ms",
            "time_to_leader_ms",
            "elections",
            "split_votes",
            "failed_elections",
            "first_term_split",
            "first_round_won",
            "messages",
            "capped",
        ]
        .map(String::from),
    );
    w.write_record(&header).expect("csv to memory");
    // Once per configuration, not per row: the grid may hold 1000 configurations.
    let ids: Vec<String> = (0..configs.len()).map(|k| config_id(configs, k)).collect();
    for r in results {
        let c = &configs[r.config];
        let mut row: Vec<String> = c.axes.iter().map(|(_, v)| v.clone()).collect();
        row.extend([
            format!("{}", ms(c.timeout[0].0)),
            format!("{}", ms(c.timeout[1].0)),
            r.trial.to_string(),
            format!("{}#{}", ids[r.config], r.trial),
            r.seed.to_string(),
            opt_ms(r.downtime_ns),
            opt_ms(r.time_to_leader_ns),
            r.elections.to_string(),
            r.split_votes.to_string(),
            r.failed_elections.to_string(),
            r.first_term_split.to_string(),
            r.first_round_won.to_string(),
            r.messages.to_string(),
            r.capped.to_string(),
        ]);
        w.write_record(&row).expect("csv to memory");
    }
    w.into_inner().expect("csv flush")
}

pub const SUMMARY_COLUMNS: [&str; 19] = [
    "timeout_min_ms",
    "timeout_max_ms",
    "trials",
    "capped",
    "min_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "leader_p50_ms",
    "split_vote_share",
    "failed_election_share",
    "cap_ms",
    "first_term_split_share",
    "model_first_term_split",
    "model_assumptions",
    "first_round_won_share",
    "model_first_round_won",
];

/// `summary.csv`: one row per configuration. A quantile among capped trials is written
/// `>CAP`, a mean that is a lower bound `>=MEAN`.
pub fn summary_csv(sums: &[ConfigSummary]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = sums
        .first()
        .map(|s| s.axes.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    header.extend(SUMMARY_COLUMNS.map(String::from));
    w.write_record(&header).expect("csv to memory");
    for s in sums {
        let mut row: Vec<String> = s.axes.iter().map(|(_, v)| v.clone()).collect();
        row.extend([
            format!("{}", ms(s.timeout[0].0)),
            format!("{}", ms(s.timeout[1].0)),
            s.trials.to_string(),
            s.capped.to_string(),
            s.min.text(),
            s.p50.text(),
            s.p90.text(),
            s.p99.text(),
            s.max.text(),
            s.mean.text(),
            s.leader_p50.text(),
            format!("{:.3}", s.split_share),
            format!("{:.3}", s.failed_share),
            trim_ms(s.cap_ms),
            format!("{:.3}", s.first_split_share),
            format!("{:.4}", s.model.p_split),
            if s.model.caveats.is_empty() {
                "hold".to_string()
            } else {
                format!("do not hold: {}", s.model.caveats.join("; "))
            },
            format!("{:.3}", s.first_won_share),
            format!("{:.4}", 1.0 - s.model.p_split),
        ]);
        w.write_record(&row).expect("csv to memory");
    }
    w.into_inner().expect("csv flush")
}

/// The summary as a table for the terminal. A membership sweep measures a configuration
/// change, not an election: its table has no split-vote or model columns.
pub fn summary_table(sums: &[ConfigSummary], experiment: Experiment) -> String {
    let elections = experiment != Experiment::Membership;
    let width = sums.iter().map(|s| s.label.len()).max().unwrap_or(5).max(5);
    let mut o = format!(
        "{:<width$} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11}",
        "range", "trials", "capped", "min", "p50", "p90", "p99", "max", "mean",
    );
    if elections {
        o += &format!(
            " {:>6} {:>7} {:>7} {:>7} {:>8}",
            "split%", "failed%", "1st-sv%", "model%", "1st-rnd%"
        );
    }
    o.push('\n');
    for s in sums {
        o += &format!(
            "{:<width$} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11}",
            s.label,
            s.trials,
            s.capped,
            s.min.text(),
            s.p50.text(),
            s.p90.text(),
            s.p99.text(),
            s.max.text(),
            s.mean.text(),
        );
        if elections {
            o += &format!(
                " {:>5.1}% {:>6.1}% {:>6.1}% {:>7} {:>7.1}%",
                s.split_share * 100.0,
                s.failed_share * 100.0,
                s.first_split_share * 100.0,
                format!(
                    "{:.1}{}",
                    s.model.p_split * 100.0,
                    if s.model.caveats.is_empty() { "%" } else { "*" }
                ),
                s.first_won_share * 100.0,
            );
        }
        o.push('\n');
    }
    o.push_str(match experiment {
        Experiment::Failover => {
            "times in ms: from the leader's crash until every survivor follows a new leader\n"
        }
        Experiment::ColdStart => {
            "times in ms: from a cold start until every node follows the first leader\n"
        }
        Experiment::Membership => {
            "times in ms: from the request to grow the cluster until C_new is committed (summary.csv's leader_p50_ms: until C_old,new is)\n"
        }
    });
    o.push_str("capped trials count in every quantile (\">cap\": the quantile falls among them); \">=\": a mean with capped trials counted at the cap, a lower bound\n");
    if !elections {
        return o;
    }
    o.push_str("split%: trials with a split vote (a term with two or more candidates and no winner); failed%: trials with a failed election (a term whose one candidate lost); both of all trials\n");
    o.push_str("1st-sv%: trials whose first term was a split vote; model%: its closed-form probability (timers reset together, one latency)\n");
    o.push_str("1st-rnd%: trials elected before any server stood twice (the CDF's first step); where model% holds it is 100 - model%\n");
    let mut caveats: Vec<&str> = sums
        .iter()
        .flat_map(|s| s.model.caveats.iter().copied())
        .collect();
    caveats.sort_unstable();
    caveats.dedup();
    if !caveats.is_empty() {
        o.push_str(&format!(
            "*: the model's assumptions do not hold here ({}); the value is a rough guide\n",
            caveats.join("; ")
        ));
    }
    o
}

/// The sweep's CDF lines, one per configuration, for `report::plot::draw_cdf`.
pub fn cdf_lines(configs: &[SweepConfig], results: &[TrialResult]) -> Vec<CdfLine> {
    configs
        .iter()
        .map(|c| {
            let rs: Vec<&TrialResult> = results.iter().filter(|r| r.config == c.index).collect();
            let mut d: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.downtime_ns)
                .map(|x| x as f64 / 1e6)
                .collect();
            d.sort_by(|a, b| a.total_cmp(b));
            let total = rs.len().max(1) as f64;
            let points = d
                .iter()
                .enumerate()
                .map(|(i, &x)| (x, (i + 1) as f64 * 100.0 / total))
                .collect();
            let capped = rs.len() - d.len();
            let label = if capped > 0 {
                format!("{} ({capped} of {} capped)", c.label(), rs.len())
            } else {
                c.label()
            };
            CdfLine {
                label,
                points,
                capped,
                colour: c.index,
                reference: false,
            }
        })
        .collect()
}

/// The reference's CDF for every configuration whose range it covers (the first such
/// configuration, when several share a range), in its colour.
pub fn reference_lines(
    configs: &[SweepConfig],
    reference: &super::reference::Reference,
) -> Vec<CdfLine> {
    reference
        .ranges
        .iter()
        .filter_map(|(range, v)| {
            let c = configs.iter().find(|c| c.timeout == *range)?;
            let n = v.len() as f64;
            Some(CdfLine {
                label: format!("observed {} ({} failovers)", range_label(*range), v.len()),
                points: v
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| (x, (i + 1) as f64 * 100.0 / n))
                    .collect(),
                capped: 0,
                colour: c.index,
                reference: true,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_sets() {
        assert_eq!(
            parse_range("150-155").unwrap(),
            [SimDuration::from_millis(150), SimDuration::from_millis(155)]
        );
        assert_eq!(
            parse_range("1.5ms-2ms").unwrap(),
            [SimDuration::from_micros(1500), SimDuration::from_millis(2)]
        );
        assert!(parse_range("300-150").is_err());
        assert!(parse_range("150").is_err());
        let s = parse_set(r#"network.delay.uniform=["1ms","2ms"],["2ms","4ms"]"#).unwrap();
        assert_eq!(s.values.len(), 2);
        let s = parse_set("network.loss=0,0.01,0.05").unwrap();
        assert_eq!(
            s.values,
            vec![Value::from(0), Value::from(0.01), Value::from(0.05)]
        );
    }

    #[test]
    fn setting_a_distribution_variant_replaces_the_other() {
        let mut v =
            serde_json::json!({"network": {"delay": {"normal": {"mean": "1ms", "stddev": "1ms"}}}});
        set_path(
            &mut v,
            "network.delay.uniform",
            serde_json::json!(["1ms", "2ms"]),
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"network": {"delay": {"uniform": ["1ms", "2ms"]}}})
        );
    }

    #[test]
    fn default_logs_leave_half_the_survivors_ineligible() {
        assert_eq!(
            default_logs(5),
            vec![vec![1, 1], vec![1, 1], vec![1, 1], vec![1], vec![1]]
        );
        assert_eq!(default_logs(3), vec![vec![1, 1], vec![1, 1], vec![1]]);
    }
}
