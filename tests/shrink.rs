//! Shrinking a failure to a minimal scenario: the seed's generated faults are written out
//! (the same run, fault for fault), then removed, shortened and unloaded while the same
//! property still fails. The result is smaller than its input and reproduces the failure.

use crate::common;
use common::root;

use assert_cmd::Command;
use raftsim::experiment::explore::judge;
use raftsim::experiment::shrink::shrink;
use raftsim::experiment::ChooseNode;
use raftsim::node::Bug;
use raftsim::scenario::Scenario;

fn buggy() -> Scenario {
    let mut sc = Scenario::load(&root().join("scenarios/random-faults.json")).expect("valid");
    sc.raft.bugs.push(Bug::NoLogCheckOnVote.name().into());
    sc
}

/// Writing a seed's generated faults out explicitly replays the same run: the same outcome and
/// property at the same time, with the same detail (the record index differs only by the
/// `fault_plan` records a generator writes at the start).
#[test]
fn generated_faults_written_out_replay_the_same_run() {
    let sc = buggy();
    let explicit = sc.with_generated_faults(0);
    explicit
        .validate()
        .expect("the written-out faults are a valid scenario");
    assert!(explicit.faults.iter().all(|f| f.generate.is_none()));
    let a = judge(&sc.compile(), &sc.node_choice(), 0).expect("seed 0 fails");
    let b = judge(&explicit.compile(), &explicit.node_choice(), 0)
        .expect("and still fails written out");
    assert_eq!(
        (a.seed, &a.outcome, &a.property),
        (b.seed, &b.outcome, &b.property)
    );
    let at = |d: &str| d[d.find("(t=").expect("a time")..].to_string();
    assert_eq!(at(&a.detail), at(&b.detail));
    let plans = sc.with_generated_faults(0).faults.len();
    let index = |d: &str| -> u64 {
        d.split("at trace record ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(index(&a.detail), index(&b.detail) + plans as u64);
}

/// The shrunk scenario has fewer faults than the seed generated, fails the same property, and
/// survives a round trip through its file form.
#[test]
fn a_shrunk_failure_is_smaller_and_fails_the_same_way() {
    let sc = buggy();
    let generated = sc.with_generated_faults(0).faults.len();
    let s = shrink(&sc, 0).expect("seed 0 fails");
    assert_eq!(s.property, "Election Restriction");
    assert!(
        s.scenario.faults.len() < generated,
        "{} of {generated}",
        s.scenario.faults.len()
    );
    assert!(!s.steps.is_empty());
    let text = serde_json::to_string_pretty(&s.scenario).unwrap();
    let back = Scenario::parse("shrunk.json", &text).expect("the shrunk scenario parses");
    let f = judge(&back.compile(), &back.node_choice(), 0).expect("the shrunk scenario fails");
    assert_eq!(f.property, "Election Restriction");
}

/// From the command line: the written file, run with the printed command, fails (exit 1); a
/// seed that does not fail has nothing to shrink (exit 2).
#[test]
fn shrink_writes_a_scenario_that_replays_the_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("shrunk.json");
    let o = Command::cargo_bin("raftsim")
        .unwrap()
        .current_dir(root())
        .args([
            "shrink",
            "scenarios/random-faults.json",
            "--seed",
            "0",
            "--bug",
            "no-log-check-on-vote",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Election Restriction"), "{stdout}");
    Command::cargo_bin("raftsim")
        .unwrap()
        .args(["run", "--seed", "0", "--quiet", "--out"])
        .arg(tmp.path().join("replay"))
        .arg(&file)
        .assert()
        .code(1);
    Command::cargo_bin("raftsim")
        .unwrap()
        .current_dir(root())
        .args([
            "shrink",
            "scenarios/random-faults.json",
            "--seed",
            "0",
            "--out",
        ])
        .arg(tmp.path().join("none.json"))
        .assert()
        .code(2);
    assert!(!tmp.path().join("none.json").exists());
}

/// A scenario that draws its shape from the seed shrinks to one that draws nothing: the seed's
/// draw is written in as plain settings (and then the cluster cut while the failure stays),
/// and the shrunk scenario fails the same way under `raftsim run`.
#[test]
fn a_drawn_shape_is_written_out_when_shrinking() {
    let mut sc = Scenario::load(&root().join("scenarios/random-shapes.json")).expect("valid");
    sc.raft.bugs.push(Bug::NoTruncateOnConflict.name().into());
    let drawn = sc.for_seed(0).into_owned();
    assert!(drawn.draw.is_none() && drawn.drawn.is_some());
    let s = shrink(&sc, 0).expect("seed 0 fails");
    assert_eq!(s.property, "Log Matching");
    assert!(s.scenario.draw.is_none());
    assert!(s.scenario.cluster.nodes <= drawn.cluster.nodes);
    assert_eq!(
        s.scenario.raft.max_entries_per_message,
        drawn.raft.max_entries_per_message
    );
    let f = judge(&s.scenario.compile(), &s.scenario.node_choice(), 0)
        .expect("the shrunk scenario fails");
    assert_eq!(f.property, "Log Matching");
}
