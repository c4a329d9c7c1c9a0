//! Sweeps: the experiment of the Raft paper's Figure 16, over a grid of configurations.
//!
//! One trial starts from an established cluster (the scenario's `cluster.initial_leader`), in
//! which the leader has just sent a heartbeat to every follower. The leader crashes at a
//! uniformly random offset within its heartbeat interval, and the trial measures:
//! - **downtime**: from the crash until every surviving node follows a new leader, i.e. has
//!   accepted an AppendEntries from it (the paper's definition);
//! - **time to leader**: from the crash until a candidate counts a majority.
//!
//! The sweep owns the trial's shape: for each configuration it sets the election timeout range,
//! a heartbeat interval of half the minimum timeout (as in the paper), the crash fault and the
//! stop condition, and takes everything else (network, clocks, disks, logs) from the scenario.
//! A trial that reaches the cap is counted as capped, never dropped.
//!
//! Each trial's seed is derived from (seed, configuration index, trial index), and results are
//! collected in index order, so the files written are identical at any `--jobs`.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde_json::Value;

use crate::base::dist::DurationDist;
use crate::base::input::thousands;
use crate::base::rng::trial_seed;
use crate::base::time::{format_duration, SimDuration};
use crate::experiment::run::run_observed;
use crate::node::Node;
use crate::observe::check::Violation;
use crate::observe::summary::quantile_sorted;
use crate::observe::trace::{Event, Record};
use crate::observe::{ObsCtx, Observer};
use crate::protocol::NodeId;
use crate::scenario::{
    trials_bound, CutSpec, FaultSpec, NamedTarget, Scenario, ScenarioError, StopSpec, StopWhen,
    SweepRange, Target, MAX_CONFIGURATIONS, MAX_TRIALS,
};
use crate::world::config::RunConfig;
use crate::world::{Outcome, TraceLevel};

/// The most worker threads a sweep may use. A trial runs on one thread, so threads beyond the
/// machine's cores add memory (a stack each) and switching, not speed; 1024 is above the core
/// count of the machines this runs on, and a bound that does not depend on the machine keeps a
/// command line that works on one working on another.
pub const MAX_JOBS: usize = 1024;

/// An axis given on the command line: a scenario field by its path and the values to try.
#[derive(Clone, Debug)]
pub struct SetAxis {
    pub path: String,
    pub values: Vec<Value>,
}

/// What to sweep, after flags and the scenario's `sweep` section are merged.
#[derive(Clone, Debug)]
pub struct SweepPlan {
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
    /// The trial's scenario, as a file would hold it (saved when a trial fails).
    pub scenario: Scenario,
    /// The same, compiled.
    pub run: RunConfig,
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
    pub split_votes: u64,
    /// Split votes with two or more candidates.
    pub contested: u64,
    pub messages: u64,
    pub capped: bool,
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
            shape_trial(&mut sc, [lo, hi], plan.cap);
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
                run: sc.compile(),
                scenario: sc,
            });
        }
    }
    Ok(configs)
}

/// Gives a configuration's scenario the shape of one Figure 16 trial: the timeout range, a
/// heartbeat of half the minimum timeout, an established leader (n1 unless the scenario names
/// one), its crash at a uniformly random time within one heartbeat interval, cuts that keep the
/// nodes whose logs are behind from being repaired before the crash, and the stop condition.
fn shape_trial(sc: &mut Scenario, timeout: [SimDuration; 2], cap: SimDuration) {
    let hb = SimDuration(timeout[0].0 / 2).max(SimDuration(1));
    sc.raft.election_timeout = timeout;
    sc.raft.heartbeat_interval = hb;
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
    sc.stop = StopSpec {
        at: cap,
        when: Some(StopWhen::LeaderAfterFaults),
    };
    sc.workload = None;
    sc.sweep = None;
    sc.liveness = None;
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

/// The per-trial metrics of Figure 16, as an observer: elections, split votes and the first
/// leader once every fault event (the leader's crash) has applied.
#[derive(Default)]
pub struct TrialMetrics {
    pub elections: u64,
    pub split_votes: u64,
    /// Split votes with two or more candidates.
    pub contested: u64,
    pub leader_at_ns: Option<u64>,
}

impl Observer for TrialMetrics {
    fn observe(&mut self, rec: &Record, _: u64, ctx: &ObsCtx) -> Option<Violation> {
        if ctx.faults_done {
            match &rec.ev {
                Event::Election { .. } => self.elections += 1,
                Event::SplitVote { candidates, .. } => {
                    self.split_votes += 1;
                    if candidates.len() >= 2 {
                        self.contested += 1;
                    }
                }
                Event::Leader { .. } if self.leader_at_ns.is_none() => {
                    self.leader_at_ns = Some(rec.t)
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
    let mut m = TrialMetrics::default();
    let (r, _) = run_observed::<Node, Vec<u8>, _>(&cfg.run, s, TraceLevel::Events, None, &mut m);
    let crash = r.last_fault_ns.unwrap_or(0);
    let done = r.outcome == Outcome::ConditionMet;
    TrialResult {
        config: cfg.index,
        trial,
        seed: s,
        downtime_ns: done.then(|| r.end_time_ns - crash),
        time_to_leader_ns: m.leader_at_ns.map(|t| t - crash),
        elections: m.elections,
        split_votes: m.split_votes,
        contested: m.contested,
        messages: r.messages_sent,
        capped: !done,
        violation: r
            .violation
            .map(|v| v.to_string())
            .or(r.panic.map(|p| format!("panic: {p}"))),
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

/// Per-configuration statistics of downtime over the trials that finished.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigSummary {
    pub label: String,
    pub axes: Vec<(String, String)>,
    pub timeout: [SimDuration; 2],
    pub trials: u64,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub leader_p50_ms: f64,
    pub split_share: f64,
    pub contested_share: f64,
    pub capped: u64,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Rounds to the microsecond, as the CSV files hold it.
fn ms3(x: f64) -> f64 {
    libm::round(x * 1000.0) / 1000.0
}

pub fn summarize(configs: &[SweepConfig], results: &[TrialResult]) -> Vec<ConfigSummary> {
    configs
        .iter()
        .map(|c| {
            let rs: Vec<&TrialResult> = results.iter().filter(|r| r.config == c.index).collect();
            let mut d: Vec<u64> = rs.iter().filter_map(|r| r.downtime_ns).collect();
            d.sort_unstable();
            let mut l: Vec<u64> = rs.iter().filter_map(|r| r.time_to_leader_ns).collect();
            l.sort_unstable();
            let q = |v: &[u64], p: f64| quantile_sorted(v, p).map_or(f64::NAN, |x| ms3(ms(x)));
            ConfigSummary {
                label: c.label(),
                axes: c.axes.clone(),
                timeout: c.timeout,
                trials: rs.len() as u64,
                min_ms: q(&d, 0.0),
                p50_ms: q(&d, 0.5),
                p90_ms: q(&d, 0.9),
                p99_ms: q(&d, 0.99),
                max_ms: q(&d, 1.0),
                mean_ms: if d.is_empty() {
                    f64::NAN
                } else {
                    ms3(d.iter().map(|&x| ms(x)).sum::<f64>() / d.len() as f64)
                },
                leader_p50_ms: q(&l, 0.5),
                split_share: if rs.is_empty() {
                    0.0
                } else {
                    rs.iter().filter(|r| r.split_votes > 0).count() as f64 / rs.len() as f64
                },
                contested_share: if rs.is_empty() {
                    0.0
                } else {
                    rs.iter().filter(|r| r.contested > 0).count() as f64 / rs.len() as f64
                },
                capped: rs.iter().filter(|r| r.capped).count() as u64,
            }
        })
        .collect()
}

fn opt_ms(x: Option<u64>) -> String {
    x.map_or(String::new(), |v| format!("{:.3}", ms(v)))
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
            "seed",
            "downtime_ms",
            "time_to_leader_ms",
            "elections",
            "split_votes",
            "contested_split_votes",
            "messages",
            "capped",
        ]
        .map(String::from),
    );
    w.write_record(&header).expect("csv to memory");
    for r in results {
        let c = &configs[r.config];
        let mut row: Vec<String> = c.axes.iter().map(|(_, v)| v.clone()).collect();
        row.extend([
            format!("{}", ms(c.timeout[0].0)),
            format!("{}", ms(c.timeout[1].0)),
            r.trial.to_string(),
            r.seed.to_string(),
            opt_ms(r.downtime_ns),
            opt_ms(r.time_to_leader_ns),
            r.elections.to_string(),
            r.split_votes.to_string(),
            r.contested.to_string(),
            r.messages.to_string(),
            r.capped.to_string(),
        ]);
        w.write_record(&row).expect("csv to memory");
    }
    w.into_inner().expect("csv flush")
}

pub const SUMMARY_COLUMNS: [&str; 13] = [
    "timeout_min_ms",
    "timeout_max_ms",
    "trials",
    "min_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "leader_p50_ms",
    "split_vote_share",
    "contested_share",
    "capped",
];

fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:.3}")
    }
}

/// `summary.csv`: one row per configuration.
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
            num(s.min_ms),
            num(s.p50_ms),
            num(s.p90_ms),
            num(s.p99_ms),
            num(s.max_ms),
            num(s.mean_ms),
            num(s.leader_p50_ms),
            format!("{:.3}", s.split_share),
            format!("{:.3}", s.contested_share),
            s.capped.to_string(),
        ]);
        w.write_record(&row).expect("csv to memory");
    }
    w.into_inner().expect("csv flush")
}

/// The summary as a table for the terminal.
pub fn summary_table(sums: &[ConfigSummary]) -> String {
    let width = sums.iter().map(|s| s.label.len()).max().unwrap_or(5).max(5);
    let mut o = format!(
        "{:<width$} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>7} {:>9} {:>6}\n",
        "range",
        "trials",
        "min",
        "p50",
        "p90",
        "p99",
        "max",
        "mean",
        "split%",
        "contest%",
        "capped"
    );
    for s in sums {
        o.push_str(&format!(
            "{:<width$} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>6.1}% {:>8.1}% {:>6}\n",
            s.label,
            s.trials,
            num(s.min_ms),
            num(s.p50_ms),
            num(s.p90_ms),
            num(s.p99_ms),
            num(s.max_ms),
            num(s.mean_ms),
            s.split_share * 100.0,
            s.contested_share * 100.0,
            s.capped
        ));
    }
    o.push_str("times in ms: from the leader's crash until every survivor follows a new leader\n");
    o.push_str("split%: trials with a term in which candidates stood and nobody won; contest%: of those, with two or more candidates\n");
    o
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
