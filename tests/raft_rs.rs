//! tikv's raft crate (raft-rs 0.7) under the simulator, through `raftsim::raftrs`: the same
//! world, faults, checker, sweeps and seed search as the built-in node (issue: a real Raft
//! library under the simulator). Each test says what it shows; the planted adapter mistakes
//! are the durability contract of `docs/TEST-YOUR-RAFT.md` broken one way at a time.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use raftsim::experiment::explore::{explore, ExplorePlan};
use raftsim::nodes::NodeKind;
use raftsim::observe::trace::Event;
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

fn shipped(name: &str) -> Scenario {
    Scenario::load(&common::root().join("scenarios").join(name)).expect("a shipped scenario")
}

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

// Why: the determinism contract holds for a library with randomness of its own: raft-rs's
// unseeded election-timeout draws never reach a run (the adapter overrides them from the
// node's seeded stream after every reset).
#[test]
fn same_seed_same_trace_hash_and_other_seeds_differ() {
    let sc = shipped("raft-rs-basic.json");
    let a = common::traced(&sc, 1).summary.trace_hash;
    let b = common::traced(&sc, 1).summary.trace_hash;
    assert!(a.is_some());
    assert_eq!(a, b, "the same seed twice");
    let hashes: std::collections::BTreeSet<_> = (1..6)
        .map(|s| common::traced(&sc, s).summary.trace_hash)
        .collect();
    assert_eq!(hashes.len(), 5, "five seeds, five runs");
}

// Why: the shipped raft-rs scenario is a clean run under the checker: every request
// committed (forwarded ones included), every state machine the same, the crashed leader
// replaced and rejoined.
#[test]
fn raft_rs_basic_runs_clean_and_serves_every_request() {
    let r = common::traced(&shipped("raft-rs-basic.json"), 1);
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.violation);
    let c = r.summary.client.as_ref().expect("a workload");
    assert_eq!((c.committed, c.failed), (c.requests, 0), "{c:?}");
    let digests: std::collections::BTreeSet<_> = r
        .summary
        .state_machines
        .iter()
        .map(|m| m.digest.clone())
        .collect();
    assert_eq!(digests.len(), 1, "{:?}", r.summary.state_machines);
    let leaders = common::trace_records(&r)
        .iter()
        .filter(|rec| matches!(rec.ev, Event::Leader { .. }))
        .count();
    assert!(leaders >= 2, "a leader before the crash and one after");
}

// Why: ticks must not swamp the queue. raft-rs-basic without its load ticks 5 nodes every 1 ms
// for 6 s (30,000 ticks); only the ticks where something happens are events, so a run costs
// about what the built-in node's does on the same scenario.
#[test]
fn idle_ticks_are_not_events() {
    let mut sc = shipped("raft-rs-basic.json");
    sc.workload = None;
    sc.liveness = None;
    let rs = common::traced(&sc, 1).summary.events;
    let mut builtin = sc.clone();
    builtin.node = NodeKind::Raftsim;
    builtin.raft_rs = None;
    let own = common::traced(&builtin, 1).summary.events;
    assert!(rs < 3_000, "{rs} events for 30,000 ticks");
    assert!(rs < 2 * own, "raft-rs {rs} events, the built-in node {own}");
}

// Why: the election timeout is the scenario's range at tick resolution (raft.election_timeout
// [150ms, 300ms] at 1ms ticks: 150..=300 ticks), drawn per node from the seeded stream. With
// no faults and no load, the first candidate of a cold start stands between 150 ms and 300 ms
// (plus one tick and the wake-up latency) on every seed, and the seeds spread over the range.
#[test]
fn first_election_falls_in_the_timeout_range() {
    let mut sc = shipped("raft-rs-basic.json");
    sc.workload = None;
    sc.liveness = None;
    sc.faults.clear();
    sc.stop.at = raftsim::base::time::SimDuration::from_millis(400);
    let mut firsts = Vec::new();
    for seed in 0..40 {
        let r = common::traced(&sc, seed);
        let t = common::trace_records(&r)
            .iter()
            .find(|rec| matches!(rec.ev, Event::Election { .. }))
            .map(|rec| rec.t)
            .expect("an election within 400 ms");
        firsts.push(t);
    }
    let (lo, hi) = (*firsts.iter().min().unwrap(), *firsts.iter().max().unwrap());
    assert!(
        lo >= 149_000_000,
        "first election at {lo} ns, before 150 ms"
    );
    assert!(
        hi <= 305_000_000,
        "first election at {hi} ns, after 300 ms and a tick"
    );
    assert!(hi - lo > 20_000_000, "40 seeds all within {} ns", hi - lo);
}

// Why: the seed search judges raft-rs as it judges the built-in node; the correct adapter
// passes the shipped fault search (the larger budget is measured in docs/TEST-YOUR-RAFT.md).
#[test]
fn correct_adapter_passes_the_seed_search() {
    common::explore_finds_nothing("raft-rs-random-faults.json", 48, &[]);
}

fn first_failures(sc: &Scenario, bug: &str, seeds: u64) -> Vec<(u64, String)> {
    let mut sc = sc.clone();
    sc.raft.bugs.push(bug.into());
    sc.validate().expect("a bug of node raft-rs");
    let plan = ExplorePlan {
        seeds: 0..seeds,
        max_failures: 1,
        shard: None,
        jobs: 2,
    };
    explore(&sc, &plan, &|_, _| {})
        .findings
        .into_iter()
        .map(|f| (f.seed, f.property))
        .collect()
}

// Why: mistakes planted in the adapter are found by the seed search through the same `--bug`
// switch. Sending `persisted_messages` at once lets a candidate win with votes granted for a
// term its own disk has not yet recorded (the checker counts its own vote only once durable):
// Election Safety, on seed 2 of raft-rs-random-faults.json. Dropping `must_sync` also
// acknowledges appends a crash then loses: raft-rs's own assertion fires when its leader
// commits past the follower's log (a "Node Assertion"), on seed 0.
#[test]
fn planted_adapter_mistakes_are_found() {
    let sc = shipped("raft-rs-random-faults.json");
    for (bug, seed, property) in [
        ("persisted-messages-at-once", 2, "Election Safety"),
        ("drop-must-sync", 0, "Node Assertion"),
    ] {
        let f = first_failures(&sc, bug, 8);
        assert_eq!(f.len(), 1, "{bug}: nothing found in 8 seeds");
        assert_eq!(f[0], (seed, property.to_string()), "{bug}");
    }
}

// Why: a scenario that asks raft-rs for something it lacks is refused before any work, exit 2,
// naming the feature and the node; so is another node's bug.
#[test]
fn what_raft_rs_lacks_is_refused_with_exit_2() {
    let scen = |name: &str| common::root().join("scenarios").join(name);
    let tmp = tempfile::tempdir().unwrap();
    for (file, field, feature) in [
        (
            "partition.json",
            "cluster.initial_leader",
            "established leader",
        ),
        ("membership-grow.json", "cluster.voters", "membership"),
        (
            "figure16-top.json",
            "raft.separate_term_write",
            "built-in node",
        ),
    ] {
        raftsim()
            .args(["run", "--set", "node=raft-rs", "--out"])
            .arg(tmp.path().join("x"))
            .arg(scen(file))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(field))
            .stderr(predicate::str::contains(feature))
            .stderr(predicate::str::contains("raft-rs"));
    }
    raftsim()
        .args(["run", "--bug", "ack-before-durable", "--out"])
        .arg(tmp.path().join("y"))
        .arg(scen("basic.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a bug of node raftsim"))
        .stderr(predicate::str::contains("it is a bug of node raft-rs"));
    assert!(!tmp.path().join("x").exists() && !tmp.path().join("y").exists());
}

// Why: a sweep can put the node on an axis (`--set node=raftsim,raft-rs`), and its files do
// not depend on `--jobs`.
#[test]
fn a_sweep_over_both_nodes_is_the_same_at_any_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |jobs: &str, out: &str| {
        raftsim()
            .args([
                "sweep",
                "--experiment",
                "cold_start",
                "--timeouts",
                "150-200,150-300",
            ])
            .args(["--set", "node=raftsim,raft-rs", "--trials", "30", "--quiet"])
            .args(["--jobs", jobs, "--out"])
            .arg(tmp.path().join(out))
            .arg(common::root().join("scenarios/basic.json"))
            .assert()
            .success();
    };
    run("1", "a");
    run("2", "b");
    for f in ["trials.csv", "summary.csv", "cdf.svg"] {
        let a = std::fs::read(tmp.path().join("a").join(f)).unwrap();
        let b = std::fs::read(tmp.path().join("b").join(f)).unwrap();
        assert!(a == b, "{f} differs between --jobs 1 and 2");
    }
    let summary = std::fs::read_to_string(tmp.path().join("a/summary.csv")).unwrap();
    assert!(
        summary.contains("raft-rs") && summary.contains("raftsim"),
        "{summary}"
    );
}
