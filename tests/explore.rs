//! Finding failures from a seed: faults drawn from the seed by a scenario's generator, and
//! `raftsim explore`, which runs many seeds and reports the failing ones with the command that
//! replays each. What a search reports must not depend on the number of threads, and it must
//! write files only for failing seeds.

use crate::common;
use common::root;

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use raftsim::base::time::SimTime;
use raftsim::experiment::explore::{explore, ExplorePlan};
use raftsim::experiment::ChooseNode;
use raftsim::scenario::Scenario;
use raftsim::world::config::{FaultKind, GenKind};
use raftsim::world::faults::generate;

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

fn random_faults() -> Scenario {
    Scenario::load(&root().join("scenarios/random-faults.json")).expect("valid")
}

/// A scenario that fails liveness on every seed: every node is cut off from every other until
/// the run's last instant, so no leader can be followed (a finding on each seed, on purpose).
const NEVER_A_LEADER: &str = r#"{
  "version": 1, "name": "never-a-leader",
  "cluster": { "nodes": 3 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "faults": [
    { "at": "0s", "partition": [[1], [2], [3]], "until": "1s" },
    { "at": "100ms", "until": "900ms", "generate": { "kinds": ["loss_burst"], "max_faults": 3 } }
  ],
  "stop": { "at": "1s", "when": "leader_after_faults" }
}"#;

/// The generator draws from its own stream: the same seed gives the same faults; different
/// seeds give different ones; every fault lies within the window and ends by its end (the
/// quiet phase that follows is fault-free); and over a few hundred seeds every kind appears
/// (swarm testing enables a random subset per seed, never nothing).
#[test]
fn generated_faults_are_seeded_bounded_and_cover_every_kind() {
    let cfg = random_faults().compile();
    let g = &cfg.generators[0];
    assert_eq!(generate(g, 0, &cfg, 7), generate(g, 0, &cfg, 7));
    assert_ne!(generate(g, 0, &cfg, 7), generate(g, 0, &cfg, 8));
    let mut seen = BTreeSet::new();
    for seed in 0..300 {
        let faults = generate(g, 0, &cfg, seed);
        assert!(faults.len() as u32 <= g.max_faults, "seed {seed}");
        for f in &faults {
            assert!(f.at >= g.from && f.at < g.until, "seed {seed}: {f:?}");
            if let Some(u) = f.until {
                assert!(u <= g.until && u > f.at, "seed {seed}: {f:?}");
            }
            if let FaultKind::Pause { until, .. } = f.kind {
                assert_eq!(Some(until), f.until, "a pause ends with its fault");
            }
            seen.insert(match f.kind {
                FaultKind::Crash(_) => GenKind::Crash,
                FaultKind::CrashAtWrite { .. } => GenKind::CrashAtWrite,
                FaultKind::Partition(_) => GenKind::Partition,
                FaultKind::Isolate(_) => GenKind::Isolate,
                FaultKind::Cut { .. } => GenKind::Cut,
                FaultKind::Pause { .. } => GenKind::Pause,
                FaultKind::LossBurst(_) => GenKind::LossBurst,
                FaultKind::DuplicateBurst(_) => GenKind::DuplicateBurst,
                FaultKind::DelaySpike(_) => GenKind::DelaySpike,
                FaultKind::ClockJump { .. } => GenKind::ClockJump,
                FaultKind::Restart(_) => panic!("restarts are not generated"),
                FaultKind::TransferLeadership(_) => panic!("transfers are not generated"),
                FaultKind::ChangeMembership(_) => panic!("whole voter sets are not generated"),
                FaultKind::Reconfigure { .. } => GenKind::Membership,
            });
        }
    }
    assert_eq!(seen, GenKind::ALL.into_iter().collect::<BTreeSet<_>>());
    assert!(g.until <= SimTime(8_000_000_000));
}

/// The generated faults of a seed are listed in its trace (`fault_plan`), so a reader sees what
/// happened; the same seed gives the same trace.
#[test]
fn a_seed_lists_its_generated_faults_in_the_trace() {
    let sc = random_faults();
    let opts = raftsim::experiment::run::RunOptions {
        trace: true,
        ..Default::default()
    };
    let a = raftsim::experiment::run::run(&sc, 3, opts);
    let b = raftsim::experiment::run::run(&sc, 3, opts);
    assert_eq!(a.summary.trace_hash, b.summary.trace_hash);
    let text = std::str::from_utf8(a.trace.as_ref().unwrap().bytes()).unwrap();
    let plans = text
        .lines()
        .filter(|l| l.contains("\"fault_plan\""))
        .count();
    let cfg = sc.compile();
    assert_eq!(plans, generate(&cfg.generators[0], 0, &cfg, 3).len());
    assert!(plans > 0);
}

fn findings(sc: &Scenario, jobs: usize, shard: Option<(u64, u64)>, max: usize) -> Vec<u64> {
    let plan = ExplorePlan {
        seeds: 0..40,
        max_failures: max,
        shard,
        jobs,
        guided: false,
    };
    explore(sc, &plan, &|_, _| {})
        .findings
        .into_iter()
        .map(|f| f.seed)
        .collect()
}

/// What a search reports does not depend on the number of threads; `--max-failures` keeps the
/// first failures by seed; shards 1/2 and 2/2 together find what one unsharded search finds.
#[test]
fn explore_results_do_not_depend_on_jobs_and_shards_partition_the_seeds() {
    let sc = Scenario::parse("never-a-leader", NEVER_A_LEADER).unwrap();
    let all = findings(&sc, 2, None, 100);
    assert_eq!(
        all,
        (0..40).collect::<Vec<_>>(),
        "every seed fails liveness"
    );
    assert_eq!(findings(&sc, 1, None, 3), vec![0, 1, 2]);
    assert_eq!(findings(&sc, 2, None, 3), vec![0, 1, 2]);
    let mut sharded = findings(&sc, 2, Some((0, 2)), 100);
    sharded.extend(findings(&sc, 1, Some((1, 2)), 100));
    sharded.sort_unstable();
    assert_eq!(sharded, all);
}

/// The correct node under generated faults: no failure in these seeds, exit 0, and no output
/// folder (files are written only for failing seeds).
#[test]
fn explore_on_the_correct_node_finds_nothing_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("explore");
    raftsim()
        .current_dir(root())
        .args([
            "explore",
            "scenarios/random-faults.json",
            "--seeds",
            "0..24",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(0);
    assert!(!out.exists());
}

/// A failing search: exit 1, one line per failure with the property and the command that
/// replays it, a trace per failing seed and a table of failures; the printed command replays
/// the failure.
#[test]
fn explore_reports_failing_seeds_with_their_replay_command_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("never.json");
    std::fs::write(&scenario, NEVER_A_LEADER).unwrap();
    let out = tmp.path().join("explore");
    let o = raftsim()
        .args([
            "explore",
            "--seeds",
            "10..30",
            "--max-failures",
            "2",
            "--quiet",
        ])
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("seed 10: liveness"), "{stdout}");
    assert!(stdout.contains("seed 11: liveness"), "{stdout}");
    assert!(!stdout.contains("seed 12:"), "{stdout}");
    let line = format!(
        "reproduce with: raftsim run {} --seed 10",
        scenario.display()
    );
    assert!(stdout.contains(&line), "{stdout}");
    let tsv = std::fs::read_to_string(out.join("failures.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 2);
    for seed in [10, 11] {
        assert!(out.join(format!("seed-{seed}.trace.jsonl")).exists());
    }
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    // The printed command replays the failure.
    let replay = tmp.path().join("replay");
    raftsim()
        .args(["run", "--seed", "10", "--quiet", "--out"])
        .arg(&replay)
        .arg(&scenario)
        .assert()
        .code(1);
    assert_eq!(
        std::fs::read(replay.join("trace.jsonl")).unwrap(),
        std::fs::read(out.join("seed-10.trace.jsonl")).unwrap(),
        "the failing seed's trace replays byte for byte"
    );
}

/// Bad flags are refused before any work, with exit 2.
#[test]
fn explore_refuses_bad_flags() {
    for args in [
        &["--seeds", "5..5"][..],
        &["--seeds", "x"],
        &["--shard", "0/3"],
        &["--shard", "4/3"],
        &["--max-failures", "0"],
        &["--jobs", "0"],
    ] {
        raftsim()
            .current_dir(root())
            .arg("explore")
            .arg(Path::new("scenarios/random-faults.json"))
            .args(args)
            .assert()
            .code(2);
    }
}

/// `raftsim merge` of three shards' folders writes exactly what one unsharded search writes:
/// the same failures.tsv, scenario and traces, byte for byte.
#[test]
fn merging_three_shards_equals_the_unsharded_search() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("never.json");
    std::fs::write(&scenario, NEVER_A_LEADER).unwrap();
    let search = |out: &str, shard: Option<&str>| {
        let mut c = raftsim();
        c.current_dir(tmp.path()).args([
            "explore",
            "never.json",
            "--seeds",
            "0..20",
            "--max-failures",
            "5",
            "--quiet",
            "--out",
            out,
        ]);
        if let Some(s) = shard {
            c.args(["--shard", s]);
        }
        c.assert().code(1);
    };
    search("whole", None);
    for (k, dir) in [("1/3", "s1"), ("2/3", "s2"), ("3/3", "s3")] {
        search(dir, Some(k));
    }
    raftsim()
        .current_dir(tmp.path())
        .args([
            "merge",
            "s1",
            "s2",
            "s3",
            "--max-failures",
            "5",
            "--out",
            "merged",
        ])
        .assert()
        .code(1);
    let files = |dir: &str| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(tmp.path().join(dir))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let whole = files("whole");
    assert_eq!(whole.len(), 7, "failures.tsv, scenario.json and 5 traces");
    assert_eq!(files("merged"), whole);
}

/// The seed search judges a run with only the observers that can fail it (`run_judged`); it
/// must reach the very outcome, violation, record count and end that a full run with summary
/// and story reaches. Checked on failing seeds of every injected bug (safety and liveness),
/// on a clean seed, and on a scenario whose stable-leader property fails (partial
/// connectivity), so that each observer a judged run keeps is shown to matter.
#[test]
fn a_judged_run_ends_exactly_as_a_full_run() {
    use raftsim::experiment::run::{run_judged, run_observed};
    use raftsim::node::Bug;
    use raftsim::node::Node;
    use raftsim::world::TraceLevel;
    let same = |sc: &Scenario, seed: u64, what: &str| {
        let drawn = sc.for_seed(seed);
        let cfg = drawn.compile();
        let raftsim::nodes::NodeChoice::Raftsim(o) = drawn.node_choice() else {
            panic!("the built-in node")
        };
        let j = run_judged::<Node>(&cfg, &o, seed);
        let (f, _) =
            run_observed::<Node, Vec<u8>, _>(&cfg, &o, seed, TraceLevel::Events, None, &mut ());
        assert_eq!(j.outcome, f.outcome, "{what}");
        assert_eq!(
            j.violation.as_ref().map(|v| v.to_string()),
            f.violation.as_ref().map(|v| v.to_string()),
            "{what}"
        );
        assert_eq!(j.panic, f.panic, "{what}");
        assert_eq!(
            (j.events, j.records, j.end_time_ns),
            (f.events, f.records, f.end_time_ns),
            "{what}"
        );
        j.outcome
    };
    let mut outcomes = BTreeSet::new();
    for (bug, seed) in [
        (Bug::NoLogCheckOnVote, 0),
        (Bug::IgnoreHigherTerm, 0),
        (Bug::CountStaleVotes, 6),
        (Bug::ReplyBeforePersist, 15),
    ] {
        let mut sc = random_faults();
        sc.raft.bugs.push(bug.name().into());
        outcomes.insert(format!("{:?}", same(&sc, seed, bug.name())));
    }
    assert_eq!(
        same(&random_faults(), 3, "correct node"),
        raftsim::world::Outcome::ConditionMet
    );
    let partial =
        Scenario::load(&root().join("scenarios/partial-connectivity.json")).expect("valid");
    let o = same(&partial, 1, "partial connectivity");
    assert_eq!(
        o,
        raftsim::world::Outcome::Violation,
        "stable leader fails here"
    );
    assert!(outcomes.contains("Violation"), "{outcomes:?}");
}

/// A shard that finished leaves `shard.json` even when it found nothing, so `merge` refuses
/// an incomplete set (a shard crashed, never ran, or a folder was mistyped) instead of taking
/// it for a clean one.
#[test]
fn merge_refuses_a_missing_or_unfinished_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let basic = root().join("scenarios/basic.json");
    for (k, dir) in [("1/2", "s1"), ("2/2", "s2")] {
        raftsim()
            .current_dir(tmp.path())
            .arg("explore")
            .arg(&basic)
            .args(["--seeds", "0..4", "--quiet", "--shard", k, "--out", dir])
            .assert()
            .code(0);
        assert!(tmp.path().join(dir).join("shard.json").is_file(), "{dir}");
    }
    let merge = |dirs: &[&str]| {
        let mut c = raftsim();
        c.current_dir(tmp.path())
            .arg("merge")
            .args(dirs)
            .args(["--out", "merged"]);
        c
    };
    merge(&["s1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "shard 2/2 of seeds 0..4 is missing: merge needs every shard of the search",
        ));
    merge(&["s1", "typo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "typo: no shard.json: not a finished shard",
        ));
    merge(&["s1", "s1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shard 1/2 is given twice"));
    merge(&["s1", "s2"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no shard found a failure"));
}
