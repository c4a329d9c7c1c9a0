//! tikv's raft crate (raft-rs 0.7) under the simulator, through `raftsim::raftrs`: the same
//! world, faults, checker, sweeps and seed search as the built-in node (issue: a real Raft
//! library under the simulator). Each test says what it shows; the planted adapter mistakes
//! are the durability contract of `docs/TEST-YOUR-RAFT.md` broken one way at a time.

use crate::common;

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
        guided: false,
    };
    explore(&sc, &plan, &|_, _| {})
        .findings
        .into_iter()
        .map(|f| (f.seed, f.property))
        .collect()
}

// Why: mistakes planted in the adapter are found by the seed search through the same `--bug`
// switch. Sending `persisted_messages` at once (or dropping `must_sync`, which does that and
// more) lets a candidate win with votes granted for a term its own disk has not yet recorded
// (the checker counts its own vote only once durable): Election Safety, on seed 0 of
// raft-rs-random-faults.json for both.
#[test]
fn planted_adapter_mistakes_are_found() {
    let sc = shipped("raft-rs-random-faults.json");
    for (bug, seed, property) in [
        ("persisted-messages-at-once", 0, "Election Safety"),
        ("drop-must-sync", 0, "Election Safety"),
    ] {
        let f = first_failures(&sc, bug, 8);
        assert_eq!(f.len(), 1, "{bug}: nothing found in 8 seeds");
        assert_eq!(f[0], (seed, property.to_string()), "{bug}");
    }
}

// Why: the third planted mistake, acknowledging a Ready before its write is durable, breaks
// durability only on the leader's own disk: it shows when the leader crashes inside its write
// after counting itself toward a commit. raft-rs-leader-write-crash.json makes that window
// (slow disks, the leader crashed as its write would complete): seed 30 is the first of
// seeds 0..40 where a leader is then elected without a committed entry; the correct adapter
// passes the same seeds.
#[test]
fn ack_before_durable_is_found_where_the_leader_crashes_in_its_write() {
    let sc = shipped("raft-rs-leader-write-crash.json");
    let f = first_failures(&sc, "ack-before-durable", 40);
    assert_eq!(f, [(30, "Leader Completeness".to_string())]);
    common::explore_finds_nothing("raft-rs-leader-write-crash.json", 40, &[]);
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
        (
            "random-membership.json",
            "raft.leader_stickiness",
            "stickiness",
        ),
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
    // Ticks are work even when they are not events: bounded per node over the run.
    raftsim()
        .args([
            "run",
            "--set",
            "raft_rs.tick=10us",
            "--set",
            "stop.at=2000s",
            "--out",
        ])
        .arg(tmp.path().join("z"))
        .arg(scen("raft-rs-basic.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("raft_rs.tick"))
        .stderr(predicate::str::contains(
            "200,000,000 ticks per node: at most 100,000,000",
        ));
    assert!(["x", "y", "z"].iter().all(|d| !tmp.path().join(d).exists()));
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

// Why: membership change by joint consensus is mapped onto raft-rs's ConfChangeV2 (paper §6):
// the shipped scenario grows three voters to five under load, through the joint configuration
// raft-rs enters and leaves by itself, with every request committed and no violation.
#[test]
fn raft_rs_grows_its_cluster_through_a_joint_configuration() {
    let r = common::traced(&shipped("raft-rs-membership.json"), 1);
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.violation);
    let phases: Vec<String> = common::trace_records(&r)
        .iter()
        .filter_map(|rec| match &rec.ev {
            Event::Membership { phase, .. } => Some(phase.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(phases, ["proposed", "joint", "final"]);
    let c = r.summary.client.as_ref().expect("a workload");
    assert_eq!((c.committed, c.failed), (c.requests, 0), "{c:?}");
}

/// random-membership.json as raft-rs takes it: its stickiness is part of CheckQuorum.
fn raft_rs_random_membership() -> Scenario {
    let mut sc = shipped("random-membership.json");
    sc.node = NodeKind::RaftRs;
    sc.raft.leader_stickiness = None;
    sc.raft.check_quorum = true;
    sc.validate().expect("valid for raft-rs");
    sc
}

// Why: the checker must judge each implementation by its own rule for when a configuration
// takes effect. raft-rs switches when the entry is applied; judged by the paper's rule (from
// the moment it is appended) its clean runs show false Election Safety and Commit Quorum
// failures. Seeds 102 and 104 of random-membership.json (measured: 18 of the 41 seeds 100..140
// that pass are false failures under the paper's rule).
#[test]
fn raft_rs_is_judged_by_its_own_configuration_rule() {
    let sc = raft_rs_random_membership();
    for seed in [102, 104] {
        let r = common::traced(&sc, seed);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let mut records = common::trace_records(&r);
        let (_, clean) = raftsim::observe::check::check_records(5, &records);
        assert!(clean.is_none(), "offline, by its own rule: {clean:?}");
        let Event::Start { config_effect, .. } = &mut records[0].ev else {
            panic!("a trace starts with its start record")
        };
        assert_eq!(config_effect.as_deref(), Some("on_apply"));
        *config_effect = None;
        let (_, paper) = raftsim::observe::check::check_records(5, &records);
        let v = paper.expect("judged by the paper's rule, a false failure");
        assert!(
            ["Election Safety", "Commit Quorum"].contains(&v.property),
            "seed {seed}: {v}"
        );
    }
}

// Why: a finding about raft-rs 0.7, kept so that a change in it or in the adapter shows. In a
// configuration of one voter a candidate wins at once, in the step that raised its term, and
// leads (sending AppendEntries to learners) before its new term and vote are durable; the
// checker counts a candidate's own vote only once durable (Figure 2), so it reports Election
// Safety. Every failure of seeds 0..60 of random-membership.json under raft-rs is this one.
#[test]
fn raft_rs_leads_a_single_voter_configuration_before_its_vote_is_durable() {
    let plan = ExplorePlan {
        seeds: 0..60,
        max_failures: 60,
        shard: None,
        jobs: 2,
        guided: false,
    };
    let found = explore(&raft_rs_random_membership(), &plan, &|_, _| {}).findings;
    assert!(!found.is_empty(), "the single-voter case is reached");
    for f in &found {
        assert_eq!(
            f.property, "Election Safety",
            "seed {}: {}",
            f.seed, f.detail
        );
        assert!(
            f.detail
                .contains("with 0 votes delivered and 0 recorded of the voters {n"),
            "seed {}: {}",
            f.seed,
            f.detail
        );
        assert!(f.detail.contains("} it believed in"), "{}", f.detail);
    }
}

// Why: the reproduce line of a search replays what was searched: the node chosen by `--set`
// is in it with the bug, and running it fails the same way.
#[test]
fn the_reproduce_line_names_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::root().join("scenarios/random-faults.json");
    let out = raftsim()
        .args([
            "explore",
            "--set",
            "node=raft-rs",
            "--bug",
            "persisted-messages-at-once",
        ])
        .args(["--seeds", "0..4", "--max-failures", "1", "--quiet", "--out"])
        .arg(tmp.path().join("search"))
        .arg(&scenario)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce with: raftsim "))
        .unwrap_or_else(|| panic!("no reproduce line in: {text}"));
    assert!(line.contains("--set node=raft-rs"), "{line}");
    let args: Vec<&str> = line.split_whitespace().collect();
    raftsim()
        .args(&args)
        .arg("--out")
        .arg(tmp.path().join("replay"))
        .current_dir(common::root())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Election Safety"));
}

// Why: a tick loop measures intervals on a monotonic clock: a step of a raft-rs node's wall
// clock (`clock_jump`, up to an hour) neither hands it an hour of ticks at once nor changes
// its run. The same run with and without a forward jump of one hour on a follower stays clean
// and costs about the same number of events.
#[test]
fn a_clock_jump_does_not_move_a_ticker() {
    let mut sc = shipped("raft-rs-basic.json");
    sc.workload = None;
    sc.liveness = None;
    let plain = common::traced(&sc, 1);
    let text = r#"{ "at": "3s", "clock_jump": { "node": 2, "by": "60m" } }"#;
    sc.faults
        .push(serde_json::from_str(text).expect("a clock jump"));
    sc.validate().expect("valid");
    let jumped = common::traced(&sc, 1);
    assert_eq!(jumped.outcome, Outcome::Completed, "{:?}", jumped.violation);
    assert!(
        jumped.summary.events < plain.summary.events + 100,
        "{} events with the jump, {} without",
        jumped.summary.events,
        plain.summary.events
    );
}

// Why: `raftsim nodes` tells a user what each implementation supports before a scenario is
// refused for it; its lines come from the same capabilities validation reads.
#[test]
fn nodes_lists_each_implementation_with_its_capabilities_and_bugs() {
    let out = raftsim()
        .arg("nodes")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let raft_rs = &text[text.find("node raft-rs").expect("raft-rs listed")..];
    assert!(text.starts_with("node raftsim"), "{text}");
    for line in [
        "configuration takes effect  when applied",
        "established leader at start no",
        "membership, joint consensus yes",
        "bugs: ack-before-durable, persisted-messages-at-once, drop-must-sync",
    ] {
        assert!(raft_rs.contains(line), "{line:?} missing from:\n{raft_rs}");
    }
    for kind in NodeKind::ALL {
        assert_eq!(
            kind.capabilities().bootstrap_leader,
            !text[text.find(&format!("node {kind}")).unwrap()..]
                .lines()
                .nth(2)
                .unwrap()
                .ends_with("no"),
            "{kind}"
        );
    }
}

// Why: Figure 16's failover for a node that cannot start as an established leader. raft-rs is
// elected from a cold start first; after the warm-up (10 s) its leader crashes at a uniform
// time within a heartbeat interval, and the trial measures from that crash until every
// survivor follows a new leader. Every trial's crash found a leader (a crash that found none
// would be reported, not measured), none is capped, and none is shorter than the minimum
// election timeout less a heartbeat interval (a survivor's timer, last reset by the leader's
// heartbeat at most that long before the crash).
#[test]
fn raft_rs_failover_trials_crash_an_elected_leader() {
    let tmp = tempfile::tempdir().unwrap();
    raftsim()
        .args([
            "sweep",
            "--set",
            "node=raft-rs",
            "--timeouts",
            "150-200,150-300",
        ])
        .args(["--trials", "60", "--quiet", "--out"])
        .arg(tmp.path())
        .arg(common::root().join("scenarios/basic.json"))
        .assert()
        .success();
    let text = std::fs::read_to_string(tmp.path().join("trials.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|&h| h == name).unwrap();
    let (down, capped) = (col("downtime_ms"), col("capped"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 120);
    for r in &rows {
        assert_eq!(r[capped], "false", "{r:?}");
        let ms: f64 = r[down].parse().unwrap();
        assert!(ms > 150.0 - 75.0, "a failover of {ms} ms: {r:?}");
    }
}
