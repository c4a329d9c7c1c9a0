//! The determinism contract, in process (docs/ARCHITECTURE.md "Determinism"):
//! a run is a pure function of (scenario, seed) — the same on any thread and whether or not it
//! is traced — and adding a fault does not shift the random draws of anything else.

use crate::common;
use common::{root, scenario_files};

use raftsim::experiment::run::{self as world, RunOptions};
use raftsim::scenario::Scenario;

/// Every shipped scenario, parsed, with its file name.
fn scenarios() -> Vec<(String, Scenario)> {
    scenario_files()
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let sc = Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            (name, sc)
        })
        .collect()
}

fn traced(sc: &Scenario, seed: u64) -> (Vec<u8>, String) {
    let r = world::run(
        sc,
        seed,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let t = r.trace.expect("tracing was on");
    (t.bytes().to_vec(), t.hash())
}

/// The summary as JSON, without the trace hash (absent when tracing is off).
fn summary_json(sc: &Scenario, seed: u64, trace: bool) -> serde_json::Value {
    let r = world::run(
        sc,
        seed,
        RunOptions {
            trace,
            ..Default::default()
        },
    );
    let mut v = serde_json::to_value(&r.summary).expect("summary serialises");
    v.as_object_mut().unwrap().remove("trace_hash");
    v
}

/// "No thread-order dependence inside a run ... `--jobs 1` and `--jobs 8` write identical
/// files": the same (scenario, seed) on four threads at once gives the trace of a lone run,
/// so no global or thread-local state leaks into a run.
#[test]
fn same_seed_same_trace_on_any_thread() {
    for (name, sc) in scenarios() {
        for seed in [0u64, 3] {
            let (want, want_hash) = traced(&sc, seed);
            let hashes: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4).map(|_| s.spawn(|| traced(&sc, seed).1)).collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for h in hashes {
                assert_eq!(
                    h, want_hash,
                    "{name} seed {seed}: a run on another thread diverged \
                     (reproduce with `raftsim run scenarios/{name} --seed {seed}`)"
                );
            }
            assert_eq!(
                traced(&sc, seed).0,
                want,
                "{name} seed {seed}: rerun diverged"
            );
        }
    }
}

/// Tracing only observes: a run with `trace: false` (how sweeps and seed searches run) must end
/// exactly as the traced run the user replays with `raftsim run --seed N`, or a failure found
/// untraced could not be reproduced.
#[test]
fn tracing_does_not_change_the_run() {
    for (name, sc) in scenarios() {
        for seed in 0..20u64 {
            assert_eq!(
                summary_json(&sc, seed, true),
                summary_json(&sc, seed, false),
                "{name} seed {seed}: summary differs with and without the trace"
            );
        }
    }
}

/// "Adding a fault must not change the election timeouts that the other draws produce": each
/// fault draws its jitter from its own stream, so a fault added at 5s (with jitter) leaves every
/// event before 5s exactly as it was.
#[test]
fn adding_a_fault_keeps_the_run_before_it() {
    let path = root().join("scenarios/basic.json");
    let base = Scenario::load(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let extra: serde_json::Value = serde_json::from_str(
        r#"{ "at": "5s", "jitter": { "uniform": ["0ms", "100ms"] },
             "cut": { "from": 1, "to": 2 }, "until": "5.5s" }"#,
    )
    .unwrap();
    json["faults"].as_array_mut().unwrap().insert(0, extra);
    let more = Scenario::parse("basic+cut", &json.to_string()).unwrap();

    for seed in 0..10u64 {
        let before_5s = |sc: &Scenario| -> Vec<String> {
            let (bytes, _) = traced(sc, seed);
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .filter(|l| {
                    let rec: serde_json::Value = serde_json::from_str(l).unwrap();
                    rec["t"].as_u64().unwrap() < 5_000_000_000
                })
                .map(str::to_string)
                .collect()
        };
        let (a, b) = (before_5s(&base), before_5s(&more));
        assert!(a.len() > 10, "seed {seed}: too few events to compare");
        assert_eq!(a, b, "seed {seed}: a fault at 5s changed events before 5s");
    }
}

/// Different seeds drive different draws: over ten seeds, the first leader is not always
/// elected at the same instant (paper section 5.2: randomized election timeouts).
#[test]
fn different_seeds_give_different_runs() {
    let sc = Scenario::load(&root().join("scenarios/basic.json")).unwrap();
    let mut firsts: Vec<u64> = (0..10)
        .map(|seed| {
            world::run(
                &sc,
                seed,
                RunOptions {
                    trace: false,
                    ..Default::default()
                },
            )
            .summary
            .first_leader_ns
            .expect("basic elects a leader")
        })
        .collect();
    firsts.sort_unstable();
    firsts.dedup();
    assert!(
        firsts.len() >= 8,
        "first-leader times barely vary: {firsts:?}"
    );
}

/// `clocks.timer_resolution` of 1 ns rounds nothing (every duration is whole nanoseconds), so
/// the run is the one without it, hash for hash; 1 ms makes a different run.
#[test]
fn a_one_nanosecond_timer_resolution_changes_nothing() {
    let mut sc = Scenario::load(&root().join("scenarios/random-faults.json")).expect("valid");
    let hash = |sc: &Scenario| common::traced(sc, 3).summary.trace_hash;
    let plain = hash(&sc);
    assert!(plain.is_some(), "a traced run has a hash");
    sc.clocks.timer_resolution = Some(raftsim::base::time::SimDuration(1));
    assert_eq!(hash(&sc), plain);
    sc.clocks.timer_resolution = Some(raftsim::base::time::SimDuration(1_000_000));
    assert_ne!(hash(&sc), plain);
}
