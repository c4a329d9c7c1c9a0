//! `raftsim bench`: the simulator's speed, measured with the wall clock at the edge (never
//! inside a run). Figures: events per second for a 5-node cluster with repeated elections
//! (tracing off and on), with replication under client load, the wall time of a 10-second
//! loaded run with faults, the seed search's seeds per second (as shipped, and with its client
//! load at 1 request/s), Figure 16 trials per second on one thread, and both Figure 16 graphs at
//! full trial counts on all cores.

use crate::experiment::ChooseNode;
use std::fmt::Write;
use std::time::Instant;

use crate::experiment::run::{run_choice, RunOptions};
use crate::experiment::sweep::{build_configs, run_sweep, SweepPlan};
use crate::nodes::{NodeChoice, NodeKind};
use crate::scenario::Scenario;
use crate::world::config::RunConfig;

const ELECTIONS: &str = r#"{
  "version": 1, "name": "bench-elections",
  "cluster": { "nodes": 5 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "uniform": ["5ms", "10ms"] } },
  "storage": { "write_latency": { "constant": "1ms" } },
  "faults": [
    { "at": "1s", "crash": "leader", "until": "1.5s" }, { "at": "2s", "crash": "leader", "until": "2.5s" },
    { "at": "3s", "crash": "leader", "until": "3.5s" }, { "at": "4s", "crash": "leader", "until": "4.5s" },
    { "at": "5s", "crash": "leader", "until": "5.5s" }, { "at": "6s", "crash": "leader", "until": "6.5s" }
  ],
  "stop": { "at": "60s" }
}"#;

const LOADED: &str = r#"{
  "version": 1, "name": "bench-load",
  "cluster": { "nodes": 5 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "uniform": ["1ms", "3ms"] }, "loss": 0.01 },
  "storage": { "write_latency": { "normal": { "mean": "1ms", "stddev": "200us" } } },
  "workload": { "requests_per_second": RATE },
  "faults": [
    { "at": "3s", "crash": "leader", "until": "4s" },
    { "at": "6s", "partition": [[1, 2]], "until": "7s" }
  ],
  "stop": { "at": "10s" }
}"#;

fn parse(text: &str) -> Scenario {
    Scenario::parse("<bench>", text).expect("bench scenarios are valid")
}

/// One run of the chosen node with the standard observers; returns the events handled.
fn events(cfg: &RunConfig, node: &NodeChoice, seed: u64, trace: bool) -> u64 {
    let opts = RunOptions {
        trace,
        ..Default::default()
    };
    run_choice(cfg, node, seed, opts).summary.events
}

/// The same scenario with the built-in node and with raft-rs.
fn both(sc: &Scenario) -> [(&'static str, NodeChoice); 2] {
    let mut rs = sc.clone();
    rs.node = NodeKind::RaftRs;
    [("raftsim", sc.node_choice()), ("raft-rs", rs.node_choice())]
}

/// Runs `f` until at least `min_secs` of wall time has passed; returns (runs, seconds, events).
fn measure(min_secs: f64, mut f: impl FnMut(u64) -> u64) -> (u64, f64, u64) {
    let start = Instant::now();
    let (mut runs, mut events) = (0u64, 0u64);
    while runs == 0 || start.elapsed().as_secs_f64() < min_secs {
        events += f(runs);
        runs += 1;
    }
    (runs, start.elapsed().as_secs_f64(), events)
}

pub fn run_all(quick: bool) -> String {
    let secs = if quick { 0.3 } else { 2.0 };
    let mut o = String::new();
    let elections_sc = parse(ELECTIONS);
    let elections = elections_sc.compile();
    let [(_, builtin), _] = both(&elections_sc);
    for (label, trace) in [("tracing off", false), ("tracing on", true)] {
        let (runs, t, ev) = measure(secs, |i| events(&elections, &builtin, i, trace));
        let _ = writeln!(o, "elections, 5 nodes, 60s simulated, {label}: {:.2} M events/s ({runs} runs, {:.0} events each)", ev as f64 / t / 1e6, ev as f64 / runs as f64);
    }
    // The same elections with raft-rs under the same world: its events per run (a tick is
    // an event only where it does something) and its speed.
    for (name, node) in both(&elections_sc) {
        let (runs, t, ev) = measure(secs, |i| events(&elections, &node, i, false));
        let _ = writeln!(o, "elections, node {name}: {:.2} M events/s, {:.0} events per run, {:.2} ms wall per run ({runs} runs)", ev as f64 / t / 1e6, ev as f64 / runs as f64, t / runs as f64 * 1e3);
    }
    let loaded = parse(&LOADED.replace("RATE", "1000")).compile();
    let (runs, t, ev) = measure(secs, |i| events(&loaded, &builtin, i, false));
    let _ = writeln!(
        o,
        "replication, 1000 req/s, 10s simulated, tracing off: {:.2} M events/s ({runs} runs)",
        ev as f64 / t / 1e6
    );
    let loaded100_sc = parse(&LOADED.replace("RATE", "100"));
    let loaded100 = loaded100_sc.compile();
    let (runs, t, ev) = measure(secs, |i| events(&loaded100, &builtin, i, false));
    let _ = writeln!(
        o,
        "10s simulated, 5 nodes, 100 req/s, crash + partition, tracing off: {:.3} ms wall per run ({:.0}x real time, {:.0} events per run)",
        t / runs as f64 * 1e3,
        10.0 / (t / runs as f64),
        ev as f64 / runs as f64
    );
    for (name, node) in both(&loaded100_sc) {
        let (runs, t, ev) = measure(secs, |i| events(&loaded100, &node, i, false));
        let _ = writeln!(
            o,
            "the same, node {name}: {:.3} ms wall per run, {:.0} events per run",
            t / runs as f64 * 1e3,
            ev as f64 / runs as f64
        );
    }
    // The seed search's own figure (issue target: 300 seeds/s per core): every checker on,
    // faults drawn from the seed, one thread. Then the same search with the client load at 1
    // request/s: the rest of a seed's cost (elections, faults, heartbeats, checks), so the
    // difference is what the load costs.
    let search_rate = |sc: &Scenario| {
        let (cfg, node) = (sc.compile(), sc.node_choice());
        let (seeds, t, _) = measure(secs, |i| {
            crate::experiment::explore::judge_covered(&cfg, &node, i);
            0
        });
        (seeds as f64 / t, seeds)
    };
    let mut search = parse(include_str!("../../scenarios/random-faults.json"));
    let (rate, seeds) = search_rate(&search);
    let _ = writeln!(
        o,
        "seed search, random-faults.json (5 nodes, generated faults, 100 req/s, every check), one thread: {rate:.0} seeds/s ({seeds} seeds)"
    );
    search
        .workload
        .as_mut()
        .expect("random-faults.json has a workload")
        .requests_per_second = 1.0;
    let (rate, seeds) = search_rate(&search);
    let _ = writeln!(
        o,
        "seed search, the same at 1 req/s (what is not client load), one thread: {rate:.0} seeds/s ({seeds} seeds)"
    );
    let mut rs = parse(include_str!("../../scenarios/random-faults.json"));
    rs.node = NodeKind::RaftRs;
    let (rate, seeds) = search_rate(&rs);
    let _ = writeln!(
        o,
        "seed search, random-faults.json with node raft-rs, one thread: {rate:.0} seeds/s ({seeds} seeds)"
    );
    clients(&mut o, secs, &search_rate);
    let top = parse(include_str!("../../scenarios/figure16-top.json"));
    let bottom = parse(include_str!("../../scenarios/figure16-bottom.json"));
    let plan_of = |sc: &Scenario, trials: Option<u32>| SweepPlan {
        experiment: sc.sweep.as_ref().expect("sweep section").experiment,
        ranges: sc.sweep.as_ref().expect("sweep section").ranges.clone(),
        default_trials: sc.sweep.as_ref().expect("sweep section").trials,
        trials_override: trials,
        nodes: vec![],
        sets: vec![],
        seed: sc.seed,
        cap: sc.sweep.as_ref().and_then(|s| s.cap).expect("cap"),
    };
    // One thread, the 150-300 range.
    let mut plan = plan_of(&bottom, Some(if quick { 2000 } else { 20000 }));
    plan.ranges
        .retain(|r| r.timeout[0].0 == 150_000_000 && r.timeout[1].0 == 300_000_000);
    let configs = build_configs("<bench>", &bottom, &plan).expect("valid");
    let start = Instant::now();
    let n = run_sweep(&configs, 1, 1, &|_| {})
        .expect("one thread")
        .len();
    let t = start.elapsed().as_secs_f64();
    let _ = writeln!(
        o,
        "figure 16, 150-300ms, one thread: {:.0} trials/s ({n} trials)",
        n as f64 / t
    );
    if !quick {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let start = Instant::now();
        let mut total = 0;
        for sc in [&top, &bottom] {
            let configs = build_configs("<bench>", sc, &plan_of(sc, None)).expect("valid");
            total += run_sweep(&configs, sc.seed, jobs, &|_| {})
                .expect("threads")
                .len();
        }
        let t = start.elapsed().as_secs_f64();
        let _ = writeln!(o, "figure 16, both graphs, full trial counts ({total} trials), {jobs} threads: {t:.3} s wall");
    }
    o
}

/// What clients see: the seed search with reads by ReadIndex at the leader and at followers,
/// and with lease reads, each run's history checked for linearizability; then the check's own
/// cost on one 12-second run of clients.json (seed 1, its default load), guided by the log's
/// order as every run is, and without the guide.
fn clients(o: &mut String, secs: f64, search_rate: &dyn Fn(&Scenario) -> (f64, u64)) {
    // What clients see: reads by ReadIndex at the leader and at followers, and lease reads,
    // each run's history checked for linearizability.
    for (file, text) in [
        ("reads.json (reads by ReadIndex at leader and followers, 100 req/s, linearizability checked)", include_str!("../../scenarios/reads.json")),
        ("lease.json (lease reads, 300 req/s, linearizability checked)", include_str!("../../scenarios/lease.json")),
    ] {
        let (rate, seeds) = search_rate(&parse(text));
        let _ = writeln!(o, "seed search, {file}, one thread: {rate:.0} seeds/s ({seeds} seeds)");
    }
    // The checker's own cost on one 12-second run of clients.json (seed 1, its default load),
    // guided by the log's order as every run is, and without the guide.
    let clients = parse(include_str!("../../scenarios/clients.json"));
    let report = crate::experiment::run::run(
        &clients,
        1,
        RunOptions {
            trace: true,
            ..RunOptions::default()
        },
    );
    let records = crate::observe::trace::parse_trace(
        std::str::from_utf8(report.trace.as_ref().expect("traced").bytes()).expect("utf-8"),
    )
    .expect("own trace parses");
    let (history, guide) =
        crate::observe::clients::from_records(&records).expect("a mixed workload");
    let limits = crate::observe::linear::Limits::default();
    for (label, guided) in [("guided by the log's order", true), ("unguided", false)] {
        let mut states = 0;
        let (runs, t, _) = measure(secs, |_| {
            let r = if guided {
                crate::observe::linear::check_guided(&history, &guide, &limits)
            } else {
                crate::observe::linear::check(&history, &limits)
            };
            states = r.states;
            0
        });
        let _ = writeln!(o, "linearizability check, clients.json seed 1 ({} operations), {label}: {:.3} ms ({states} states)", history.len(), t / runs as f64 * 1e3);
    }
}
