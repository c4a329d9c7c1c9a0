//! Real incidents as scenarios, each under plain Raft, PreVote (dissertation §9.6) and
//! PreVote + CheckQuorum (dissertation §6.2), and leader stickiness (paper §6) alone where it
//! tells a story of its own. Each scenario's `description` explains the incident and its
//! source; these tests assert what each setting does, over several seeds, with the summary's
//! availability metrics and the "Liveness: Stable Leader" property.
//!
//! Then: the switches break no safety property over 1,000 seeds of `scenarios/faulty.json`.

use crate::common;
use common::root;

use predicates::prelude::*;
use raftsim::experiment::run::{run, RunOptions, RunReport};
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

const SEEDS: std::ops::RangeInclusive<u64> = 1..=6;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Setting {
    Plain,
    PreVote,
    PreVoteCheckQuorum,
    Stickiness,
}
use Setting::*;

fn load(name: &str, s: Setting) -> Scenario {
    let mut sc = Scenario::load(&root().join("scenarios").join(name)).unwrap();
    assert!(
        !sc.raft.pre_vote && !sc.raft.check_quorum && !sc.leader_stickiness(),
        "{name}: the shipped file is plain Raft"
    );
    sc.raft.pre_vote = matches!(s, PreVote | PreVoteCheckQuorum);
    sc.raft.check_quorum = s == PreVoteCheckQuorum;
    sc.raft.leader_stickiness = Some(s == Stickiness);
    sc
}

fn go(name: &str, s: Setting, seed: u64) -> RunReport {
    run(&load(name, s), seed, RunOptions::default())
}

/// Leaders elected (not bootstrapped) in [from, to) ns.
fn elected_between(r: &RunReport, from: u64, to: u64) -> usize {
    r.summary
        .leaders
        .iter()
        .filter(|l| l.elected_at_ns > 0 && (from..to).contains(&l.elected_at_ns))
        .count()
}

const S: u64 = 1_000_000_000;

/// No safety violation, and the run completed.
fn assert_clean(r: &RunReport, what: &str) {
    assert_eq!(r.outcome, Outcome::Completed, "{what}: {:?}", r.violation);
}

/// PreVote alone and with CheckQuorum: the leader of term 1 holds throughout, no term rises.
fn assert_undisturbed(name: &str) {
    for s in [PreVote, PreVoteCheckQuorum] {
        for seed in SEEDS {
            let what = format!("{name} {s:?} seed {seed}");
            let r = go(name, s, seed);
            assert_clean(&r, &what);
            let a = &r.summary.availability;
            assert_eq!(a.leader_changes, 0, "{what}");
            assert_eq!(a.max_term, 1, "{what}");
            assert_eq!(a.stable_leader_share, 1.0, "{what}");
            assert_eq!(a.majority_windows, a.majority_windows_held, "{what}");
        }
    }
}

/// Cloudflare, November 2020: n1–n3 cut from 2 s to 182 s, n2 reaching both.
#[test]
fn cloudflare_2020() {
    const F: &str = "cloudflare-2020.json";
    for seed in SEEDS {
        // Plain Raft: n1 deposes the leader through n2, more than once on some seeds, until n2
        // leads (n1 and n3 both hear n2); then it settles, within the property's 3 s.
        let what = format!("plain seed {seed}");
        let r = go(F, Plain, seed);
        assert_clean(&r, &what);
        let a = &r.summary.availability;
        assert!(a.leader_changes >= 1, "{what}: {a:?}");
        assert!(a.max_term > 1, "{what}");
        let last = r.summary.leaders.last().unwrap();
        assert_eq!(last.node, 2, "{what}: n2 is the leader both others hear");
        assert!(last.elected_at_ns < 5 * S, "{what}: settled by 5 s");

        // Stickiness alone: n2 disregards n1, so no leader change while the link is down, but
        // n1's term grows without bound, and it deposes the leader when the link is back.
        let what = format!("stickiness seed {seed}");
        let r = go(F, Stickiness, seed);
        assert_clean(&r, &what);
        let a = &r.summary.availability;
        assert_eq!(elected_between(&r, 0, 182 * S), 0, "{what}");
        assert!(a.term_growth_per_s > 2.0, "{what}: {a:?}");
        assert!(elected_between(&r, 182 * S, 186 * S) >= 1, "{what}");
    }
    assert_undisturbed(F);

    // In the trace: n1 is a pre-candidate in term 1 (its term not raised), asks and is
    // refused; nobody stands, and no pre-vote shows as a vote.
    let r = run(
        &load(F, PreVote),
        1,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let text = String::from_utf8(r.trace.unwrap().bytes().to_vec()).unwrap();
    assert!(text.contains(r#""ev":"role","node":1,"role":"pre_candidate","term":1}"#));
    assert!(!text.contains(r#""ev":"election""#));
    assert!(!text.contains(r#""ev":"vote""#));
}

/// Howard & Abraham 2020: {1,2,3} connected, n4 only to n2, n5 only to n3, for a minute.
#[test]
fn partial_connectivity() {
    const F: &str = "partial-connectivity.json";
    for seed in SEEDS {
        // Plain Raft never keeps a stable leader: a named liveness failure.
        let what = format!("plain seed {seed}");
        let r = go(F, Plain, seed);
        assert_eq!(r.outcome, Outcome::Violation, "{what}");
        let v = r.violation.as_ref().unwrap();
        assert_eq!(v.property, "Liveness: Stable Leader", "{what}");
        assert!(v.time < 61 * S, "{what}: during the fault");
        assert!(r.summary.availability.leader_changes >= 2, "{what}");
    }
    // With the property off, plain Raft's churn lasts the whole minute.
    let mut sc = load(F, Plain);
    sc.liveness = None;
    let r = run(&sc, 1, RunOptions::default());
    assert_clean(&r, "plain, unchecked");
    assert!(
        elected_between(&r, 50 * S, 61 * S) >= 1,
        "still churning at 50 s"
    );
    let a = &r.summary.availability;
    assert!(
        a.term_growth_per_s > 1.0 && a.stable_leader_share < 0.95,
        "{a:?}"
    );
    assert!(a.majority_windows_held < a.majority_windows, "{a:?}");
    assert_undisturbed(F);
}

/// A node isolated from 1 s to 11 s rejoins.
#[test]
fn rejoin() {
    const F: &str = "rejoin.json";
    for seed in SEEDS {
        // Plain Raft: no change while n5 is away; its term, far ahead, deposes the leader
        // when it is back; n5, behind in its log, does not win.
        let what = format!("plain seed {seed}");
        let r = go(F, Plain, seed);
        assert_clean(&r, &what);
        assert_eq!(elected_between(&r, 0, 11 * S), 0, "{what}");
        assert!(elected_between(&r, 11 * S, 15 * S) >= 1, "{what}");
        assert!(r.summary.availability.max_term > 20, "{what}");
        assert!(r.summary.leaders.iter().all(|l| l.node != 5), "{what}");
    }
    assert_undisturbed(F);
}

/// The switches break no safety property: `scenarios/faulty.json` (loss, duplication, a
/// partition that heals, a crashed and restarted leader, drifting clocks) over 1,000 seeds with
/// PreVote, CheckQuorum and stickiness all on, and a leader after the faults on every one.
#[test]
fn thousand_faulty_seeds_with_every_switch_on_stay_safe() {
    let mut sc = Scenario::load(&root().join("scenarios/faulty.json")).unwrap();
    sc.raft.pre_vote = true;
    sc.raft.check_quorum = true;
    sc.raft.leader_stickiness = Some(true);
    let failures: Vec<String> = (0..1000u64)
        .filter_map(|seed| {
            let r = run(&sc, seed, RunOptions::default());
            (r.outcome != Outcome::ConditionMet)
                .then(|| format!("seed {seed}: {:?} {:?}", r.outcome, r.violation))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The switches in `explore`: `--set` applies them to every seed (and to the saved scenario of
/// any failing one); a value the schema refuses is bad input, exit 2, before any seed runs.
#[test]
fn explore_takes_the_switches_with_set() {
    use assert_cmd::Command;
    let tmp = tempfile::tempdir().unwrap();
    let explore = |sets: &[&str]| {
        let mut c = Command::cargo_bin("raftsim").unwrap();
        c.arg("explore")
            .arg(root().join("scenarios/random-faults-light.json"))
            .args(["--seeds", "0..150", "--quiet", "--jobs", "2", "--out"])
            .arg(tmp.path().join("out"));
        for s in sets {
            c.args(["--set", s]);
        }
        c.assert()
    };
    // Generated faults (crashes, crashes at disk writes, partitions, cuts, pauses, bursts)
    // with every switch on: safe, and live by the scenario's bounds, on every seed.
    explore(&[
        "raft.pre_vote=true",
        "raft.check_quorum=true",
        "raft.leader_stickiness=true",
    ])
    .code(0)
    .stdout(predicates::str::contains("150 seeds").and(predicates::str::contains("0 failing")));
    explore(&["raft.pre_vote=maybe"])
        .code(2)
        .stderr(predicates::str::contains("raft.pre_vote"));
}

/// A leader that can send but hears nobody (n1->n3 and n2->n3 cut from 2 s to 22 s): only
/// CheckQuorum lets the cluster commit again.
#[test]
fn deaf_leader() {
    const F: &str = "deaf-leader.json";
    for seed in SEEDS {
        for s in [Plain, PreVote, PreVoteCheckQuorum] {
            let what = format!("{s:?} seed {seed}");
            let r = go(F, s, seed);
            assert_clean(&r, &what);
            let c = r.summary.client.as_ref().unwrap();
            let longest_stall = c
                .no_commit_windows
                .iter()
                .map(|w| w[1] - w[0])
                .max()
                .unwrap_or(0);
            if s == PreVoteCheckQuorum {
                assert_eq!(r.summary.availability.leader_changes, 1, "{what}");
                assert!(longest_stall < S, "{what}: {longest_stall}");
                assert_eq!(c.failed, 0, "{what}");
            } else {
                assert_eq!(r.summary.availability.leader_changes, 0, "{what}");
                assert!(longest_stall > 19 * S, "{what}: {longest_stall}");
                assert!(c.failed > 100, "{what}");
            }
        }
    }
}

/// One row of docs/RAFT-SWITCHES.md's incident table, from seeds 1 to 20: Stable Leader
/// failures, leader changes (min–max), highest term (min–max), the lowest stable leader share.
fn incident_row(name: &str, s: Setting) -> String {
    use rayon::prelude::*;
    let runs: Vec<RunReport> = (1..=20u64)
        .into_par_iter()
        .map(|seed| go(name, s, seed))
        .collect();
    let failures = runs
        .iter()
        .filter(|r| {
            r.violation
                .as_ref()
                .is_some_and(|v| v.property == "Liveness: Stable Leader")
        })
        .count();
    let span = |f: &dyn Fn(&RunReport) -> u64| {
        let lo = runs.iter().map(f).min().unwrap();
        let hi = runs.iter().map(f).max().unwrap();
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        }
    };
    let share = runs
        .iter()
        .map(|r| r.summary.availability.stable_leader_share)
        .fold(f64::INFINITY, f64::min);
    let setting = match s {
        Plain => "plain",
        Stickiness => "leader_stickiness",
        PreVote => "pre_vote",
        PreVoteCheckQuorum => "pre_vote + check_quorum",
    };
    format!(
        "| {} | {setting} | {failures}/20 | {} | {} | {}% |",
        name.trim_end_matches(".json"),
        span(&|r| r.summary.availability.leader_changes),
        span(&|r| r.summary.availability.max_term),
        (share * 1000.0).floor() / 10.0
    )
}

/// Docs that cannot lie: the incident table of docs/RAFT-SWITCHES.md is what seeds 1 to 20 of
/// each scenario and setting give now.
#[test]
fn the_incident_table_is_what_twenty_seeds_give() {
    let doc = std::fs::read_to_string(root().join("docs/RAFT-SWITCHES.md")).unwrap();
    let header = "| scenario | setting | Stable Leader failures |";
    let at = doc.find(header).expect("the incident table");
    let table: Vec<&str> = doc[at..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let mut now = Vec::new();
    for name in [
        "cloudflare-2020.json",
        "partial-connectivity.json",
        "rejoin.json",
    ] {
        for s in [Plain, Stickiness, PreVote, PreVoteCheckQuorum] {
            now.push(incident_row(name, s));
        }
    }
    assert_eq!(
        table,
        now,
        "docs/RAFT-SWITCHES.md's incident table differs from what the runs give now:\n{}",
        now.join("\n")
    );
}
