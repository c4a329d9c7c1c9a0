//! Log replication under load and faults (§5.3, §5.4): many seeds with zero safety violations
//! and, once the faults are over, every node applying the same log; the shipped replication and
//! leader-churn scenarios; and crashes aimed at every disk write of a run, which must never lose
//! a write a client was told was committed.

use std::collections::BTreeSet;
use std::path::Path;

use rayon::prelude::*;

use raftsim::raft::{Command, Entry};
use raftsim::scenario::Scenario;
use raftsim::sim::{
    self, NodeEnd, Outcome, RunOptions, RunResult, Simulation, WriteCrash, WritePoint,
};
use raftsim::time::SimDuration;
use raftsim::trace::{parse_trace, Event};

fn shipped(name: &str) -> Scenario {
    Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Five nodes under client load with 5% message loss, duplication, drifting clocks, a random
/// node crashed and restarted, a minority/majority partition, a one-way cut, a pause and the
/// leader crashed and restarted; fault times jitter per seed. All faults are over by 1.9s, the
/// load by 2s; the run goes on to 3.5s so the cluster can settle.
const FAULTY_UNDER_LOAD: &str = r#"{
  "version": 1,
  "name": "faulty-under-load",
  "cluster": { "nodes": 5 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "uniform": ["2ms", "10ms"] }, "loss": 0.05, "duplicate": 0.01 },
  "clocks": { "drift_ppm": { "uniform": [-500, 500] }, "timer_jitter": { "exponential": { "mean": "100us" } } },
  "storage": { "write_latency": { "uniform": ["1ms", "3ms"] } },
  "workload": { "requests_per_second": 100, "arrivals": "poisson", "start": "200ms", "end": "2s", "request_timeout": "300ms" },
  "faults": [
    { "at": "400ms", "jitter": { "uniform": ["0ms", "200ms"] }, "crash": "random", "until": "1100ms" },
    { "at": "500ms", "cut": { "from": 3, "to": 1 }, "until": "1500ms" },
    { "at": "700ms", "jitter": { "uniform": ["0ms", "200ms"] }, "partition": [[1, 2], [3, 4, 5]], "until": "1300ms" },
    { "at": "900ms", "pause": 4, "until": "1000ms" },
    { "at": "1200ms", "jitter": { "uniform": ["0ms", "300ms"] }, "crash": "leader", "until": "1900ms" }
  ],
  "stop": { "at": "3500ms" }
}"#;

/// The applied prefix of every node; panics unless all nodes are up and agree.
fn agreed_prefix(r: &RunResult, what: &str) -> Vec<Entry> {
    let nodes: Vec<&NodeEnd> = r
        .nodes_at_end
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.as_ref()
                .unwrap_or_else(|| panic!("{what}: n{} is down at the end", i + 1))
        })
        .collect();
    let first = nodes[0];
    let prefix = first.log.entries()[..first.last_applied as usize].to_vec();
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            n.last_applied,
            first.last_applied,
            "{what}: n{} applied {} entries, n1 {}",
            i + 1,
            n.last_applied,
            first.last_applied
        );
        assert_eq!(n.commit_index, n.last_applied, "{what}: n{}", i + 1);
        assert_eq!(
            n.log.entries()[..n.last_applied as usize],
            prefix[..],
            "{what}: n{} applied a different log",
            i + 1
        );
    }
    prefix
}

fn put_reqs(entries: &[Entry]) -> BTreeSet<u64> {
    entries
        .iter()
        .filter_map(|e| match e.command {
            Command::Put { req, .. } => Some(req),
            Command::Noop => None,
        })
        .collect()
}

/// 1000 seeds of faults under load: Election Safety, Log Matching, Leader Completeness, State
/// Machine Safety (and the rest) hold after every event of every run, and once the faults are
/// over every node has applied the same log, holding every write acknowledged to a client.
#[test]
fn a_thousand_faulty_seeds_under_load_stay_safe_and_converge() {
    let sc = Scenario::parse("faulty-under-load", FAULTY_UNDER_LOAD).unwrap();
    let reproduce = |seed: u64| {
        format!("seed {seed} of the FAULTY_UNDER_LOAD scenario in tests/replication.rs")
    };
    let committed: u64 = (0..1000u64)
        .into_par_iter()
        .map(|seed| {
            let r = sim::run(&sc, seed, RunOptions { trace: false });
            assert!(
                r.violation.is_none(),
                "{}: {}",
                reproduce(seed),
                r.violation.unwrap()
            );
            assert_eq!(r.outcome, Outcome::Completed, "{}", reproduce(seed));
            let prefix = agreed_prefix(&r, &reproduce(seed));
            let c = r.summary.client.as_ref().unwrap();
            assert!(c.committed > 0, "{}: nothing committed", reproduce(seed));
            assert_eq!(
                c.pending_at_end,
                0,
                "{}: requests still pending",
                reproduce(seed)
            );
            // Every committed request is in the agreed log (the count may be smaller than the
            // entries: a retried request can be appended twice).
            assert!(
                put_reqs(&prefix).len() as u64 >= c.committed,
                "{}: {} requests acknowledged but {} in the log",
                reproduce(seed),
                c.committed,
                put_reqs(&prefix).len()
            );
            c.committed
        })
        .sum();
    assert!(committed > 100_000, "the load was light: {committed}");
}

/// scenarios/replication.json: the follower that crashes at 3s and restarts at 6s catches up,
/// and every request commits.
#[test]
fn replication_scenario_restarted_follower_catches_up() {
    let sc = shipped("replication.json");
    for seed in [sc.seed, 2, 3] {
        let r = sim::run(&sc, seed, RunOptions { trace: true });
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let prefix = agreed_prefix(&r, &format!("replication seed {seed}"));
        let c = r.summary.client.as_ref().unwrap();
        assert_eq!(c.failed + c.pending_at_end, 0, "seed {seed}");
        assert_eq!(c.requests, 850, "seed {seed}");
        assert_eq!(put_reqs(&prefix).len(), 850, "seed {seed}");
        // The crash hit a follower, and it came back behind and caught up.
        let text = std::str::from_utf8(r.trace.as_ref().unwrap().bytes()).unwrap();
        let recs = parse_trace(text).unwrap();
        let crashed = recs
            .iter()
            .find_map(|r| match r.ev {
                Event::Crash { node } => Some(node),
                _ => None,
            })
            .unwrap();
        let leader_then = recs
            .iter()
            .take_while(|r| !matches!(r.ev, Event::Crash { .. }))
            .filter_map(|r| match r.ev {
                Event::Leader { node, .. } => Some(node),
                _ => None,
            })
            .last();
        assert_ne!(
            Some(crashed),
            leader_then,
            "seed {seed}: a follower crashes"
        );
        let restart_len = recs
            .iter()
            .find_map(|r| match &r.ev {
                Event::Restart { log, .. } => Some(log.len() as u64),
                _ => None,
            })
            .unwrap();
        assert!(
            restart_len < prefix.len() as u64 - 100,
            "seed {seed}: it restarts behind"
        );
    }
}

/// scenarios/leader-churn.json: five leader crashes, a new leader after each, no violation.
#[test]
fn leader_churn_scenario_elects_after_every_crash() {
    let sc = shipped("leader-churn.json");
    for seed in [sc.seed, 2, 3] {
        let r = sim::run(&sc, seed, RunOptions { trace: false });
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let crashes = &r.summary.crash_to_next_leader;
        assert_eq!(crashes.len(), 5, "seed {seed}");
        assert!(
            crashes.iter().all(|c| c.next_leader_after_ns.is_some()),
            "seed {seed}"
        );
        agreed_prefix(&r, &format!("leader-churn seed {seed}"));
        let c = r.summary.client.as_ref().unwrap();
        assert_eq!(c.committed, c.requests, "seed {seed}");
    }
}

// ---- crashes aimed at every disk write ----

/// Three nodes, light load for a second, then quiet so crashed nodes recover.
const SMALL_UNDER_LOAD: &str = r#"{
  "version": 1,
  "name": "small-under-load",
  "cluster": { "nodes": 3 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "uniform": ["1ms", "4ms"] } },
  "storage": { "write_latency": { "uniform": ["1ms", "5ms"] } },
  "workload": { "requests_per_second": 40, "start": "300ms", "end": "1s", "request_timeout": "300ms" },
  "stop": { "at": "2500ms" }
}"#;

/// Runs with a crash at the k-th counted write; `None` once k is past the last write.
fn run_with_write_crash(
    sc: &Scenario,
    seed: u64,
    wc: WriteCrash,
) -> Option<(RunResult, BTreeSet<u64>)> {
    let r = Simulation::new(sc, seed, RunOptions { trace: true })
        .crash_at_write(wc)
        .run();
    let text = std::str::from_utf8(r.trace.as_ref().unwrap().bytes()).unwrap();
    let recs = parse_trace(text).unwrap();
    if !recs.iter().any(|r| matches!(r.ev, Event::Crash { .. })) {
        return None;
    }
    let acked = recs
        .iter()
        .filter_map(|r| match r.ev {
            Event::ClientDone { req, ok: true, .. } => Some(req),
            _ => None,
        })
        .collect();
    Some((r, acked))
}

/// Figure 2's persistence rule, end to end: a node answers only once what the answer depends on
/// is durable, and a crash loses only writes that were not. Crash a node right after it issues
/// its k-th disk write, just before that write completes (so it is lost), and right after it
/// completes, for every k of a small loaded run — counting the leader's writes, then every
/// node's — restart it 200ms later from its durable state, and check that every request a
/// client was told had committed is in the log every node applied.
#[test]
fn a_crash_at_any_disk_write_loses_no_acknowledged_write() {
    let sc = Scenario::parse("small-under-load", SMALL_UNDER_LOAD).unwrap();
    let mut cases = Vec::new();
    for leader_only in [true, false] {
        for point in [
            WritePoint::AfterIssue,
            WritePoint::BeforeComplete,
            WritePoint::AfterComplete,
        ] {
            cases.push((leader_only, point));
        }
    }
    let runs: usize = cases
        .par_iter()
        .map(|&(leader_only, point)| {
            let mut k = 1;
            loop {
                let wc = WriteCrash {
                    k,
                    leader_only,
                    point,
                    restart_after: SimDuration::from_millis(200),
                };
                let what = format!("crash at write {k} (leader_only={leader_only}, {point:?})");
                let Some((r, acked)) = run_with_write_crash(&sc, 1, wc) else {
                    break;
                };
                assert!(r.violation.is_none(), "{what}: {}", r.violation.unwrap());
                let prefix = agreed_prefix(&r, &what);
                let in_log = put_reqs(&prefix);
                let lost: Vec<&u64> = acked.difference(&in_log).collect();
                assert!(
                    lost.is_empty(),
                    "{what}: acknowledged requests {lost:?} are not in the log"
                );
                k += 1;
            }
            assert!(
                k > 20,
                "only {} writes counted (leader_only={leader_only})",
                k - 1
            );
            k as usize - 1
        })
        .sum();
    assert!(runs > 200, "{runs} runs");
}
