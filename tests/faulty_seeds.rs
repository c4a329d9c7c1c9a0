//! `scenarios/faulty.json` over 1000 seeds, in process and untraced (as a seed search runs):
//! five nodes under loss, duplication, a partition that heals, a crashed and restarted leader,
//! drifting clocks and disk latency. The shape of a randomized system test: a safety phase, then a
//! liveness phase, and every failure prints the seed and the command that reproduces it.

use std::path::PathBuf;

use raftsim::experiment::run::{self as world, RunOptions};
use raftsim::scenario::{Scenario, StopWhen};
use raftsim::world::Outcome;

const SEEDS: u64 = 1000;
const FILE: &str = "scenarios/faulty.json";

fn load() -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FILE);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The scenario still has what this test claims to cover, so an edit to the file cannot
/// quietly weaken the test.
#[test]
fn faulty_scenario_has_every_fault_kind() {
    let sc = load();
    assert_eq!(sc.cluster.nodes, 5);
    assert!((0.02..=0.05).contains(&sc.network.loss), "2-5% loss");
    assert!(sc.network.duplicate > 0.0, "duplication");
    assert!(
        sc.faults
            .iter()
            .any(|f| f.partition.is_some() && f.until.is_some()),
        "a partition that heals"
    );
    assert!(sc.faults.iter().any(|f| f.crash.is_some()), "a crash");
    assert!(sc.faults.iter().any(|f| f.restart.is_some()), "a restart");
    assert!(!sc.storage.write_latency.is_zero(), "disk latency");
    let json = serde_json::to_value(&sc.clocks).unwrap();
    assert_ne!(
        json["drift_ppm"],
        serde_json::json!({ "constant": 0.0 }),
        "clock drift"
    );
    assert_eq!(sc.stop.when, Some(StopWhen::LeaderAfterFaults));
}

/// Safety (paper Figure 3: Election Safety, Log Matching, Leader Completeness, State Machine
/// Safety, checked after every event) must hold on every seed, and liveness after the faults
/// end (paper section 5.6: with the network healed and a majority up, a leader is elected and
/// followed): every run must end with `condition_met` before the cap in `stop.at`.
#[test]
fn thousand_faulty_seeds_stay_safe_and_elect_a_leader() {
    let sc = load();
    let mut failures = Vec::new();
    for seed in 0..SEEDS {
        let r = world::run(
            &sc,
            seed,
            RunOptions {
                trace: false,
                ..Default::default()
            },
        );
        let why = match (&r.outcome, &r.violation) {
            (_, Some(v)) => format!("safety: {v}"),
            (Outcome::ConditionMet, None) => {
                // A split-vote term is reported once (summary, split-vote detector).
                let mut terms = r.summary.split_vote_terms.clone();
                terms.sort_unstable();
                terms.dedup();
                if terms.len() == r.summary.split_vote_terms.len() {
                    continue;
                }
                format!(
                    "summary: a split-vote term reported twice: {:?}",
                    r.summary.split_vote_terms
                )
            }
            (o, None) => format!(
                "liveness: outcome {} at t={}ns, no leader followed by all live nodes after the faults",
                o.name(),
                r.summary.end_time_ns
            ),
        };
        failures.push(format!(
            "seed {seed}: {why}\n  reproduce with: raftsim run {FILE} --seed {seed} --verbose"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
