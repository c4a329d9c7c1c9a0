//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use raftsim::experiment::run::{run, RunOptions, RunReport};
use raftsim::observe::trace::{parse_trace, Record};
use raftsim::report::runmodel::State;
use raftsim::scenario::Scenario;

/// The crate root, where `scenarios/` lives.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A run of `sc` at `seed` that keeps its trace (events level).
pub fn traced(sc: &Scenario, seed: u64) -> RunReport {
    run(
        sc,
        seed,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    )
}

/// The records of a traced run's trace.
pub fn trace_records(r: &RunReport) -> Vec<Record> {
    let bytes = r.trace.as_ref().expect("a traced run").bytes();
    parse_trace(std::str::from_utf8(bytes).expect("utf-8 trace"))
        .unwrap_or_else(|(line, e)| panic!("trace line {line}: {e}"))
}

/// `raftsim explore scenarios/NAME --seeds 0..SEEDS` with `extra` flags, through the CLI:
/// it must exit 0 and report every seed run and none failing.
pub fn explore_finds_nothing(name: &str, seeds: u64, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let o = assert_cmd::Command::cargo_bin("raftsim")
        .unwrap()
        .arg("explore")
        .arg(root().join("scenarios").join(name))
        .args(["--seeds", &format!("0..{seeds}"), "--quiet", "--out"])
        .arg(tmp.path().join("x"))
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains(&format!("{seeds} seeds")) && stdout.contains(": 0 failing"),
        "{stdout}"
    );
}

/// Every `scenarios/*.json`, sorted, so that a new scenario is covered without editing a test.
pub fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios/*.json found");
    files
}

/// Each node's state changes, read from a trace's records as JSON (independently of the
/// library's run model): (time, state), starting as a follower.
pub fn state_changes(recs: &[serde_json::Value], nodes: u32) -> Vec<Vec<(u64, State)>> {
    let mut out: Vec<Vec<(u64, State)>> = vec![vec![(0, State::Follower)]; nodes as usize];
    let mut role = vec![State::Follower; nodes as usize];
    let mut down = vec![false; nodes as usize];
    let mut paused = vec![false; nodes as usize];
    for r in recs {
        let t = r["t"].as_u64().unwrap();
        let Some(n) = r["node"].as_u64() else {
            continue;
        };
        let i = n as usize - 1;
        match r["ev"].as_str().unwrap() {
            "role" => {
                role[i] = match r["role"].as_str().unwrap() {
                    "follower" => State::Follower,
                    "pre_candidate" => State::PreCandidate,
                    "candidate" => State::Candidate,
                    "leader" => State::Leader,
                    other => panic!("unknown role {other}"),
                }
            }
            "crash" => {
                down[i] = true;
                paused[i] = false;
                role[i] = State::Follower;
            }
            "restart" => down[i] = false,
            "pause" => paused[i] = true,
            "resume" => paused[i] = false,
            _ => continue,
        }
        let s = if down[i] {
            State::Down
        } else if paused[i] {
            State::Paused
        } else {
            role[i]
        };
        out[i].push((t, s));
    }
    out
}
