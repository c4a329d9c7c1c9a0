//! Membership changes by joint consensus (paper §6), as a scripted action
//! (`{"at": "2s", "change_membership": [1, 2, 3, 4, 5]}`): the shipped scenario reaches its
//! final configuration with no violation, a seed search of it is clean, changes under
//! generated faults keep every safety property, and bad voter sets are refused up front.

use crate::common;

use common::{explore_finds_nothing, root, trace_records, traced};
use raftsim::experiment::run::{run, RunOptions};
use raftsim::observe::trace::{Event, Record};
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

/// The membership events of a traced run: (phase, voters, old).
fn membership_events(r: &raftsim::experiment::run::RunReport) -> Vec<(String, Vec<u32>, Vec<u32>)> {
    trace_records(r)
        .into_iter()
        .filter_map(|rec| match rec.ev {
            Event::Membership {
                phase, voters, old, ..
            } => Some((phase, voters, old)),
            _ => None,
        })
        .collect()
}

#[test]
fn membership_grow_reaches_five_voters_with_no_violation() {
    let sc = Scenario::load(&root().join("scenarios/membership-grow.json")).unwrap();
    for seed in 1..=5 {
        let r = traced(&sc, seed);
        assert_eq!(
            r.outcome,
            Outcome::Completed,
            "seed {seed}: {:?}",
            r.violation
        );
        assert!(r.violation.is_none());
        let all = vec![1, 2, 3, 4, 5];
        // n4 and n5 are caught up (one round or more, dissertation §4.2.1) before C_old,new.
        let mut events = membership_events(&r);
        events.dedup();
        assert_eq!(
            events,
            vec![
                ("proposed".into(), all.clone(), vec![]),
                ("catching_up".into(), vec![4, 5], vec![]),
                ("caught_up".into(), vec![4, 5], vec![]),
                ("joint".into(), all.clone(), vec![1, 2, 3]),
                ("final".into(), all.clone(), vec![]),
            ],
            "seed {seed}"
        );
        // The new servers hold the whole state machine.
        let sms = &r.summary.state_machines;
        assert_eq!(sms.len(), 5);
        assert!(sms.iter().all(|s| s.digest == sms[0].digest), "seed {seed}");
        let c = r.summary.client.as_ref().unwrap();
        assert_eq!(c.failed, 0, "seed {seed}");
    }
}

#[test]
fn explore_membership_grow_finds_nothing_in_500_seeds() {
    explore_finds_nothing("membership-grow.json", 500, &[]);
}

/// Grow 3 → 5 while the seed's generated faults run (crashes, partitions, pauses, losses),
/// ask again once they end, then shrink to {n2, n3, n4}, removing n1 and n5 (often the
/// leader). No seed may break a safety property, whatever configuration each leader believed
/// in; most seeds finish both changes.
#[test]
fn changes_under_generated_faults_keep_every_safety_property() {
    let text = r#"{ "version": 1, "name": "membership-faults",
        "cluster": { "nodes": 5, "voters": [1, 2, 3] },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms",
                  "leader_stickiness": true },
        "network": { "delay": { "uniform": ["1ms", "6ms"] }, "loss": 0.01 },
        "storage": { "write_latency": { "uniform": ["500us", "4ms"] } },
        "workload": { "requests_per_second": 50, "start": "200ms", "end": "11s" },
        "faults": [
            { "at": "1s", "until": "5s", "generate": { "max_faults": 10, "mean_gap": "400ms" } },
            { "at": "2s", "change_membership": [1, 2, 3, 4, 5] },
            { "at": "6s", "change_membership": [1, 2, 3, 4, 5] },
            { "at": "8s", "change_membership": [2, 3, 4] }
        ],
        "stop": { "at": "12s" } }"#;
    let sc = Scenario::parse("membership-faults.json", text).unwrap();
    let seeds = 1000;
    // Untraced and in parallel, as the seed search runs: the checker still sees every event,
    // and the summary's configuration history says which change completed last.
    use rayon::prelude::*;
    let finished = (0..seeds)
        .into_par_iter()
        .filter(|&seed| {
            let r = raftsim::experiment::run::run(&sc, seed, Default::default());
            assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
            assert_eq!(r.outcome, Outcome::Completed, "seed {seed}");
            let last_final = r
                .summary
                .configuration_changes
                .iter()
                .filter(|c| c.final_at_ns.is_some())
                .max_by_key(|c| c.final_at_ns);
            last_final.is_some_and(|c| c.to == [2, 3, 4])
        })
        .count() as u64;
    eprintln!("{finished} of {seeds} seeds finished both changes");
    assert!(finished * 10 >= seeds * 9, "{finished} of {seeds}");
}

#[test]
fn bad_voter_sets_are_refused() {
    let base = |cluster: &str, fault: &str| {
        format!(
            r#"{{ "version": 1, "name": "m", "cluster": {cluster},
            "raft": {{ "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" }},
            "faults": [ {fault} ], "stop": {{ "at": "2s" }} }}"#
        )
    };
    let ok_cluster = r#"{ "nodes": 5, "voters": [1, 2, 3] }"#;
    for (cluster, fault, field, what) in [
        (
            ok_cluster,
            r#"{ "at": "1s", "change_membership": [1, 6] }"#,
            "faults[0].change_membership",
            "node 6 is outside",
        ),
        (
            ok_cluster,
            r#"{ "at": "1s", "change_membership": [] }"#,
            "faults[0].change_membership",
            "at least one voter",
        ),
        (
            ok_cluster,
            r#"{ "at": "1s", "change_membership": [2, 2] }"#,
            "faults[0].change_membership",
            "listed twice",
        ),
        (
            ok_cluster,
            r#"{ "at": "1s", "until": "1500ms", "change_membership": [1] }"#,
            "faults[0].until",
            "no end",
        ),
        (
            r#"{ "nodes": 3, "voters": [0] }"#,
            r#"{ "at": "1s", "crash": 1 }"#,
            "cluster.voters",
            "node 0 is outside",
        ),
        (
            r#"{ "nodes": 3, "voters": [1], "initial_leader": 2 }"#,
            r#"{ "at": "1s", "crash": 1 }"#,
            "cluster.initial_leader",
            "not one of cluster.voters",
        ),
    ] {
        let e = Scenario::parse("m.json", &base(cluster, fault))
            .unwrap_err()
            .to_string();
        assert!(e.contains(field) && e.contains(what), "{e}");
    }
}

/// Paper §6, removed servers: n4 is removed from {n1..n4} while it hears nothing (every link
/// to it is cut, from before the change until the end), so it never learns of C_new, times out
/// again and again and sends RequestVote of ever higher terms to the others. Leader stickiness
/// is on by default in a scenario that changes membership, and the cluster keeps its leader
/// and its term; with `leader_stickiness: false` given explicitly, every one of n4's
/// elections deposes the leader. (n1 leads from the start, so n4 is not the leader the
/// cuts make deaf.)
#[test]
fn a_removed_server_cannot_disrupt_with_stickiness_on_by_default() {
    let scenario = |stickiness: &str| {
        let text = format!(
            r#"{{ "version": 1, "name": "removed-server",
            "cluster": {{ "nodes": 4, "initial_leader": 1 }},
            "raft": {{ "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" {stickiness} }},
            "network": {{ "delay": {{ "uniform": ["1ms", "5ms"] }} }},
            "workload": {{ "requests_per_second": 50, "start": "200ms", "end": "5s" }},
            "faults": [
                {{ "at": "1s", "cut": {{ "from": 1, "to": 4 }}, "until": "6s" }},
                {{ "at": "1s", "cut": {{ "from": 2, "to": 4 }}, "until": "6s" }},
                {{ "at": "1s", "cut": {{ "from": 3, "to": 4 }}, "until": "6s" }},
                {{ "at": "1100ms", "change_membership": [1, 2, 3] }}
            ],
            "stop": {{ "at": "6s" }} }}"#
        );
        Scenario::parse("removed-server.json", &text).unwrap()
    };
    let default = scenario("");
    assert!(
        default.leader_stickiness(),
        "on: the scenario changes membership"
    );
    let off = scenario(r#", "leader_stickiness": false"#);
    assert!(!off.leader_stickiness(), "an explicit false is honoured");
    // Leaders elected after the change completed (t > 1.5 s), over a few seeds.
    let leaders_after = |sc: &Scenario, seed: u64| {
        let r = traced(sc, seed);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let text = String::from_utf8(r.trace.as_ref().unwrap().bytes().to_vec()).unwrap();
        let recs: Vec<Record> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            recs.iter().any(|rec| matches!(&rec.ev,
                Event::Membership { phase, voters, .. } if phase == "final" && voters == &[1, 2, 3])),
            "seed {seed}: the removal completes"
        );
        recs.iter()
            .filter(|rec| rec.t > 1_500_000_000 && matches!(rec.ev, Event::Leader { .. }))
            .count()
    };
    for seed in 1..=5 {
        assert_eq!(
            leaders_after(&default, seed),
            0,
            "seed {seed}, stickiness by default"
        );
        assert!(
            leaders_after(&off, seed) >= 3,
            "seed {seed}, stickiness explicitly off"
        );
    }
}

/// Paper §6 and the checker's Commit Quorum: while joint, commitment needs a majority of
/// C_old and of C_new. {n1, n2, n3} grows to {n1..n5} while n2 and n3 are cut off from the
/// rest and from each other, so only C_new's majority {n1, n4, n5} can answer. The correct leader commits nothing
/// until the partition heals; with `joint-commit-by-new-only` it commits by C_new alone and
/// the checker names the commit that no majority of C_old holds. (PreVote keeps n2 and n3 from
/// raising their terms while cut off, so the change survives the heal.)
#[test]
fn commit_quorum_catches_a_joint_commit_by_c_new_alone() {
    let text = r#"{ "version": 1, "name": "joint-commit",
        "cluster": { "nodes": 5, "voters": [1, 2, 3], "initial_leader": 1 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms",
                  "pre_vote": true },
        "network": { "delay": { "uniform": ["1ms", "5ms"] } },
        "workload": { "requests_per_second": 50, "start": "200ms", "end": "5s" },
        "faults": [
            { "at": "1900ms", "partition": [[1, 4, 5], [2], [3]], "until": "4s" },
            { "at": "2s", "change_membership": [1, 2, 3, 4, 5] }
        ],
        "stop": { "at": "6s" } }"#;
    let sc = Scenario::parse("joint-commit.json", text).unwrap();
    let mut buggy = sc.clone();
    buggy
        .raft
        .bugs
        .push(raftsim::node::Bug::JointCommitByNewOnly.name().into());
    for seed in 1..=5 {
        let r = traced(&sc, seed);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let joint_at = trace_records(&r)
            .into_iter()
            .find(|rec| matches!(&rec.ev, Event::Membership { phase, .. } if phase == "joint"))
            .map(|rec| rec.t)
            .expect("the change goes joint once the partition heals");
        assert!(
            joint_at > 4_000_000_000,
            "seed {seed}: joint at {joint_at} ns"
        );
        let r = run(&buggy, seed, RunOptions::default());
        let v = r.violation.expect("the bug is caught");
        assert_eq!(v.property, "Commit Quorum", "seed {seed}: {v}");
        assert!(v.detail.contains("{n1,n2,n3}"), "{}", v.detail);
    }
}

/// {n1, n2, n3} with 3,000 entries each, n4 and n5 empty; n3 is down from 0.5 s, and at 1 s
/// the leader is asked for {n1..n5}. `catch_up_rounds` given as `rounds` (None: default).
fn far_behind(rounds: Option<u32>, crash_learner: bool) -> Scenario {
    let long = vec!["1"; 3000].join(",");
    let rounds = rounds.map_or(String::new(), |r| format!(r#", "catch_up_rounds": {r}"#));
    let down = if crash_learner {
        r#"{ "at": "900ms", "crash": 4, "until": "5s" },"#
    } else {
        ""
    };
    let text = format!(
        r#"{{ "version": 1, "name": "far-behind",
        "cluster": {{ "nodes": 5, "voters": [1, 2, 3], "initial_leader": 1,
                      "initial_logs": [[{long}], [{long}], [{long}], [], []] }},
        "raft": {{ "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms",
                   "max_entries_per_message": 8 {rounds} }},
        "network": {{ "delay": {{ "uniform": ["1ms", "5ms"] }} }},
        "storage": {{ "write_latency": {{ "uniform": ["500us", "2ms"] }} }},
        "workload": {{ "requests_per_second": 100, "start": "100ms", "end": "5s" }},
        "faults": [ {down}
            {{ "at": "500ms", "crash": 3, "until": "5s" }},
            {{ "at": "1s", "change_membership": [1, 2, 3, 4, 5] }} ],
        "stop": {{ "at": "6s" }} }}"#
    );
    Scenario::parse("far-behind.json", &text).unwrap()
}

/// The longest time, from 1 s on, between two advances of the highest commit index.
fn max_commit_gap_ns(recs: &[Record]) -> u64 {
    let (mut last, mut at, mut gap) = (0, None, 0);
    for r in recs {
        if let Event::Commit { commit_index, .. } = r.ev {
            if commit_index > last {
                if let Some(a) = at {
                    if r.t >= 1_000_000_000 {
                        gap = gap.max(r.t - a);
                    }
                }
                (last, at) = (commit_index, Some(r.t));
            }
        }
    }
    gap
}

/// Dissertation §4.2.1: new servers join as non-voting members until caught up, so that a
/// change does not stall commitment. With n3 down, C_new = {n1..n5} needs n4 or n5 for a
/// majority: appended at once (`catch_up_rounds: 0`), nothing commits until one of them has
/// copied 3,000 entries, 8 per message (1.6 s on seed 1); caught up first as non-voting
/// members (the default), the longest wait between commits stays that of the load itself.
#[test]
fn catching_up_new_servers_first_keeps_commitment_going() {
    for seed in 1..=3 {
        let records_of = |sc: &Scenario| {
            let r = traced(sc, seed);
            assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
            trace_records(&r)
        };
        let with = records_of(&far_behind(None, false));
        let without = records_of(&far_behind(Some(0), false));
        let (g_with, g_without) = (max_commit_gap_ns(&with), max_commit_gap_ns(&without));
        eprintln!(
            "seed {seed}: longest commit gap {} ms with catch-up, {} ms without",
            g_with / 1_000_000,
            g_without / 1_000_000
        );
        assert!(
            g_with < 300_000_000,
            "seed {seed}: {g_with} ns with catch-up"
        );
        assert!(
            g_without > 1_000_000_000,
            "seed {seed}: {g_without} ns without"
        );
        let phases: Vec<String> = with
            .iter()
            .filter_map(|r| match &r.ev {
                Event::Membership { phase, .. } => Some(phase.clone()),
                _ => None,
            })
            .collect();
        let caught = phases
            .iter()
            .position(|p| p == "caught_up")
            .expect("caught up");
        let joint = phases.iter().position(|p| p == "joint").expect("joint");
        assert!(
            phases[1] == "catching_up" && caught < joint,
            "seed {seed}: {phases:?}"
        );
        assert!(phases.last().unwrap() == "final", "{phases:?}");
    }
}

/// Dissertation §4.2.1: a new server that cannot catch up (n4 is down) makes the leader give
/// the change up, traced `catch_up_aborted`, and no configuration is appended.
#[test]
fn a_new_server_that_never_catches_up_aborts_the_change() {
    let r = traced(&far_behind(None, true), 1);
    assert!(r.violation.is_none(), "{:?}", r.violation);
    let recs = trace_records(&r);
    let phases: Vec<&str> = recs
        .iter()
        .filter_map(|r| match &r.ev {
            Event::Membership { phase, .. } => Some(phase.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(phases.first(), Some(&"proposed"));
    assert_eq!(phases.last(), Some(&"catch_up_aborted"), "{phases:?}");
    assert!(!phases.contains(&"joint"));
    assert!(!recs.iter().any(|r| matches!(&r.ev, Event::Append { entries, .. } if entries.iter().any(|e| e.config.is_some()))));
}

/// `scenarios/membership-single-server.json` with the corrected algorithm (dissertation §4
/// with the 2015 correction): no violation, and on seeds 1 to 5 the new leader removes n4
/// once its no-op commits, ending at {n1, n2, n3}. (On seed 0 the new leader is elected just
/// before the partition changes, its no-op cannot commit, so it never removes n4; n1 is
/// elected by {n1, n4, n5}, commits C+n5, and is then asked for {n1, n2, n3} itself: also
/// correct.)
#[test]
fn membership_single_server_ends_at_the_removal_when_corrected() {
    let sc = Scenario::load(&root().join("scenarios/membership-single-server.json")).unwrap();
    for seed in 1..=5 {
        let r = traced(&sc, seed);
        assert_eq!(
            r.outcome,
            Outcome::Completed,
            "seed {seed}: {:?}",
            r.violation
        );
        let finals: Vec<Vec<u32>> = membership_events(&r)
            .into_iter()
            .filter(|(p, _, _)| p == "final")
            .map(|(_, v, _)| v)
            .collect();
        assert_eq!(finals, vec![vec![1, 2, 3]], "seed {seed}");
        // The summary's history counts a single-server change, which has no joint phase, as
        // completed when its last step reaches the voters asked for.
        let done: Vec<_> = r
            .summary
            .configuration_changes
            .iter()
            .filter(|c| c.outcome == "completed")
            .collect();
        assert_eq!(done.len(), 1, "seed {seed}: {done:?}");
        assert_eq!(done[0].to, vec![1, 2, 3], "seed {seed}");
        assert!(
            done[0].joint_at_ns.is_none() && done[0].took_ns.is_some(),
            "seed {seed}"
        );
    }
}

/// Availability counts voters (paper §6): with voters {n1, n2, n3} of five nodes and n3 down
/// for good, n1 and n2 are a majority of the configuration, so a leader they follow is stable,
/// though n4 and n5, non-voting members nobody sends to, stay in term 0 and follow nobody.
/// Counting all five nodes (as before), the leader would need three of them in its term, and
/// "Liveness: Stable Leader" failed one settling time after the crash.
#[test]
fn availability_counts_a_majority_of_the_voters() {
    let text = r#"{ "version": 1, "name": "voters-availability",
        "cluster": { "nodes": 5, "voters": [1, 2, 3] },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "workload": { "requests_per_second": 50, "end": "5s" },
        "faults": [ { "at": "1s", "crash": 3 } ],
        "liveness": { "stable_leader_after": "1s" },
        "stop": { "at": "6s" } }"#;
    let sc = Scenario::parse("voters-availability.json", text).unwrap();
    for seed in 1..=3 {
        let r = run(&sc, seed, RunOptions::default());
        assert_eq!(
            r.outcome,
            Outcome::Completed,
            "seed {seed}: {:?}",
            r.violation
        );
        let a = &r.summary.availability;
        // Only the first election (before any leader) is without one.
        assert!(a.stable_leader_share > 0.9, "seed {seed}: {a:?}");
        assert_eq!(
            a.majority_windows, a.majority_windows_held,
            "seed {seed}: {a:?}"
        );
    }
}
