//! Coverage marks (`observe::coverage`): each mark is hit by a named scenario and seed, a run
//! that cannot reach a mark does not hit it, the shipped exploration budgets hit the marks
//! they exist for, and what a search counts does not depend on the number of threads.

use crate::common::root;

use raftsim::experiment::explore::{explore, ExplorePlan};
use raftsim::experiment::run::{run, RunOptions};
use raftsim::observe::coverage::{Mark, Marks, Tally, MARKS};
use raftsim::scenario::Scenario;

fn scenario(name: &str) -> Scenario {
    Scenario::load(&root().join("scenarios").join(name)).expect("valid")
}

/// The marks a run of `scenarios/NAME` at `seed` hit (from its summary).
fn marks(name: &str, seed: u64) -> Marks {
    run(&scenario(name), seed, RunOptions::default())
        .summary
        .coverage
}

fn ids(m: &[Mark]) -> Vec<&'static str> {
    m.iter().map(|m| m.id()).collect()
}

/// A search of `scenarios/NAME` over `seeds` on `jobs` threads: how many seeds hit each mark.
fn search(name: &str, seeds: std::ops::Range<u64>, jobs: usize) -> Tally {
    let plan = ExplorePlan {
        seeds,
        max_failures: 10,
        shard: None,
        jobs,
        guided: false,
    };
    let r = explore(&scenario(name), &plan, &|_, _| {});
    assert!(r.findings.is_empty(), "{name}: {:?}", r.findings);
    r.coverage
}

/// Every mark, and a shipped scenario and seed whose run hits it (found by `raftsim run` and
/// its `coverage` line).
const HIT_BY: [(Mark, &str, u64); 18] = [
    (Mark::PreVote, "random-clients.json", 0),
    (Mark::SplitVote, "basic.json", 1),
    (Mark::VoteDeniedLogBehind, "figure8.json", 0),
    (Mark::RevoteAfterRestart, "random-shapes.json", 29),
    (Mark::StepDownHigherTerm, "figure8.json", 0),
    (Mark::CheckQuorumStepDown, "random-clients.json", 1),
    (Mark::TransferCompleted, "lease.json", 0),
    (Mark::TruncateSuffix, "figure8.json", 0),
    (Mark::CommitOldTerm, "figure8.json", 0),
    (Mark::JointCommitted, "membership-grow.json", 0),
    (Mark::LeaderInJoint, "random-membership.json", 2),
    (
        Mark::RemovedLeaderStepsDown,
        "membership-replace-leader.json",
        0,
    ),
    (Mark::ClockJump, "random-shapes.json", 0),
    (Mark::CrashAtWrite, "random-faults.json", 2),
    (Mark::ClientRetry, "random-faults.json", 0),
    (Mark::ReadAtLeader, "reads.json", 0),
    (Mark::ReadAtFollower, "reads.json", 0),
    (Mark::ReadHeldBack, "reads.json", 0),
];

#[test]
fn every_mark_is_hit_by_a_named_run() {
    for (i, (m, name, seed)) in HIT_BY.iter().enumerate() {
        assert_eq!(*m, MARKS[i].0, "HIT_BY lists the marks in table order");
        assert!(
            marks(name, *seed).has(*m),
            "{name} seed {seed} no longer hits {}: {:?}",
            m.id(),
            marks(name, *seed).ids()
        );
    }
}

/// Runs that cannot reach a mark do not hit it: no membership change, no joint or removal
/// mark; no workload, no client mark; no generated faults, no crash at a write; a scenario
/// without CheckQuorum or PreVote, neither; tikv's raft crate gives no vote-denial notes.
#[test]
fn a_run_that_cannot_reach_a_mark_does_not_hit_it() {
    // basic.json: no faults, no clients, no membership: at most a split first election.
    assert!(marks("basic.json", 0).is_empty());
    assert_eq!(marks("basic.json", 1).ids(), ["split_vote"]);
    // The seed that hits the most marks of the first twenty must still miss these.
    let faults = (0..20)
        .map(|s| marks("random-faults.json", s))
        .max_by_key(|m| m.iter().count())
        .unwrap();
    for m in [
        Mark::PreVote,
        Mark::CheckQuorumStepDown,
        Mark::TransferCompleted,
        Mark::JointCommitted,
        Mark::LeaderInJoint,
        Mark::RemovedLeaderStepsDown,
        Mark::ClockJump,
        Mark::ReadAtLeader,
        Mark::ReadAtFollower,
        Mark::ReadHeldBack,
    ] {
        assert!(!faults.has(m), "random-faults.json hit {}", m.id());
    }
    // The membership change that keeps its leader: joint, but nobody removed steps down.
    let grow = marks("membership-grow.json", 0);
    assert!(grow.has(Mark::JointCommitted) && !grow.has(Mark::RemovedLeaderStepsDown));
    // tikv's raft crate under the same world: marks from records alone, and no denial notes.
    let rs = marks("raft-rs-leader-write-crash.json", 0);
    assert!(
        rs.has(Mark::TruncateSuffix) && rs.has(Mark::CrashAtWrite) && rs.has(Mark::CommitOldTerm),
        "{:?}",
        rs.ids()
    );
    assert!(!rs.has(Mark::VoteDeniedLogBehind));
}

/// The shipped exploration budgets hit the marks they exist for (seed counts kept small, so
/// the suite stays fast; docs/SEARCHING.md, "Coverage", gives the counts over 1,000 seeds).
#[test]
fn shipped_search_budgets_hit_the_marks_they_exist_for() {
    let cases: [(&str, u64, &[Mark], &[Mark]); 5] = [
        (
            "random-faults.json",
            24,
            &[
                Mark::SplitVote,
                Mark::VoteDeniedLogBehind,
                Mark::StepDownHigherTerm,
                Mark::TruncateSuffix,
                Mark::CommitOldTerm,
                Mark::CrashAtWrite,
                Mark::ClientRetry,
            ],
            // CheckQuorum and PreVote are off: a leader steps down only on a higher term.
            &[Mark::CheckQuorumStepDown, Mark::PreVote],
        ),
        (
            "random-membership.json",
            48,
            &[
                Mark::JointCommitted,
                Mark::LeaderInJoint,
                Mark::RemovedLeaderStepsDown,
                Mark::TruncateSuffix,
                Mark::CommitOldTerm,
            ],
            &[Mark::ReadAtLeader, Mark::ClockJump],
        ),
        (
            "random-clients.json",
            64,
            &[
                Mark::ReadAtLeader,
                Mark::ReadAtFollower,
                Mark::ReadHeldBack,
                Mark::PreVote,
                Mark::CheckQuorumStepDown,
            ],
            &[Mark::JointCommitted],
        ),
        (
            "random-swarm.json",
            64,
            &[
                Mark::JointCommitted,
                Mark::LeaderInJoint,
                Mark::RemovedLeaderStepsDown,
                Mark::ReadAtLeader,
                Mark::ReadAtFollower,
                Mark::ReadHeldBack,
                Mark::PreVote,
                Mark::CheckQuorumStepDown,
            ],
            // No generator draws a clock jump or a transfer there.
            &[Mark::ClockJump, Mark::TransferCompleted],
        ),
        (
            "random-shapes.json",
            64,
            &[
                Mark::ClockJump,
                Mark::RevoteAfterRestart,
                Mark::CrashAtWrite,
            ],
            &[Mark::ReadAtFollower, Mark::JointCommitted],
        ),
    ];
    for (name, seeds, hit, never) in cases {
        let t = search(name, 0..seeds, 2);
        let missed: Vec<Mark> = hit.iter().copied().filter(|&m| t.of(m) == 0).collect();
        assert!(
            missed.is_empty(),
            "{name} over {seeds} seeds missed {:?}\n{}",
            ids(&missed),
            t.render()
        );
        let wrongly: Vec<Mark> = never.iter().copied().filter(|&m| t.of(m) > 0).collect();
        assert!(wrongly.is_empty(), "{name} hit {:?}", ids(&wrongly));
    }
}

/// What a search counts is a function of its seeds: the same at one thread and two, over
/// more than one chunk.
#[test]
fn search_coverage_does_not_depend_on_threads() {
    let one = search("random-clients.json", 0..300, 1);
    let two = search("random-clients.json", 0..300, 2);
    assert_eq!(one, two);
    assert_eq!(one.runs, 300);
    // And each seed's marks are its run's: the search's count is the sum of single runs'.
    let mut by_runs = Tally::default();
    for seed in 0..300 {
        by_runs.add(marks("random-clients.json", seed));
    }
    assert_eq!(one, by_runs);
}

/// `raftsim explore` prints the table after its summary line, and names the marks never hit.
#[test]
fn explore_prints_the_coverage_table() {
    let tmp = tempfile::tempdir().unwrap();
    let o = assert_cmd::Command::cargo_bin("raftsim")
        .unwrap()
        .arg("explore")
        .arg(root().join("scenarios/basic.json"))
        .args(["--seeds", "0..4", "--quiet", "--out"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("coverage (seeds that hit each mark, of 4):"),
        "{out}"
    );
    for (_, id, _) in MARKS {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(id)),
            "{id}: {out}"
        );
    }
    let never = out.lines().find(|l| l.starts_with("never hit: ")).unwrap();
    assert!(
        never.contains("joint_committed") && !never.contains("split_vote"),
        "{never}"
    );
}

/// docs/SEARCHING.md, "Coverage", lists every mark with its meaning, as `MARKS` says.
#[test]
fn the_docs_list_every_mark() {
    let page = std::fs::read_to_string(root().join("docs/SEARCHING.md")).unwrap();
    for (_, id, meaning) in MARKS {
        let row = format!("| `{id}` | {meaning} |");
        assert!(page.contains(&row), "docs/SEARCHING.md lacks the row {row}");
    }
}

/// Shards of a search, merged, print the unsharded search's coverage table.
#[test]
fn merged_shards_print_the_whole_searchs_coverage() {
    let tmp = tempfile::tempdir().unwrap();
    let explore = |extra: &[&str], out: &str| {
        let o = assert_cmd::Command::cargo_bin("raftsim")
            .unwrap()
            .arg("explore")
            .arg(root().join("scenarios/random-clients.json"))
            .args(["--seeds", "0..12", "--quiet", "--out"])
            .arg(tmp.path().join(out))
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success());
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out[out.find("coverage (").expect("a table")..].to_string()
    };
    let whole = explore(&[], "whole");
    explore(&["--shard", "1/2"], "s1");
    explore(&["--shard", "2/2"], "s2");
    let o = assert_cmd::Command::cargo_bin("raftsim")
        .unwrap()
        .arg("merge")
        .arg(tmp.path().join("s1"))
        .arg(tmp.path().join("s2"))
        .arg("--out")
        .arg(tmp.path().join("merged"))
        .output()
        .unwrap();
    let merged = String::from_utf8_lossy(&o.stdout);
    assert!(
        merged.starts_with(&whole),
        "merged:\n{merged}\nwhole:\n{whole}"
    );
}
