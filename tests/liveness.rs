//! Liveness as named properties (`liveness` in a scenario): bounds measured from the quiet
//! phase, the moment every fault event has applied (the start of the run if there are none).
//! "Liveness: Leader" — a leader that every live node follows exists within its bound;
//! "Liveness: Commit" — every client request outstanding at the quiet phase has finished
//! (committed, or given up by its client) within its bound; "Liveness: Convergence" — every
//! live node has applied, within its bound, what any node had applied when the quiet phase
//! started. A bound not met is a violation,
//! named and reproducible like any other.

use raftsim::experiment::run::{run, RunOptions};
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

fn parse(text: &str) -> Scenario {
    Scenario::parse("liveness.json", text).expect("valid")
}

/// With every message lost, no leader can be elected: the Leader bound fails at its end, one
/// second into the run (there are no faults, so the quiet phase starts at once).
#[test]
fn no_leader_within_the_bound_is_a_named_violation() {
    let sc = parse(
        r#"{ "version": 1, "name": "no-leader",
        "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "network": { "loss": 1.0 },
        "liveness": { "leader_within": "1s" },
        "stop": { "at": "2s" } }"#,
    );
    let r = run(&sc, 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Violation);
    let v = r.violation.unwrap();
    assert_eq!(v.property, "Liveness: Leader");
    assert_eq!(v.time, 1_000_000_000);
}

/// The same cluster with a working network meets the bound.
#[test]
fn a_leader_within_the_bound_passes() {
    let sc = parse(
        r#"{ "version": 1, "name": "a-leader",
        "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "liveness": { "leader_within": "1s" },
        "stop": { "at": "2s" } }"#,
    );
    let r = run(&sc, 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.violation);
}

/// Requests sent to a crashed node are lost, and with a 10-second timeout their clients still
/// wait a second after the node is back: the Commit bound fails and names how many. With the
/// clients' usual timeout they retry and commit, and the bound holds.
#[test]
fn requests_still_waiting_after_the_bound_are_a_named_violation() {
    let text = |timeout: &str| {
        format!(
            r#"{{ "version": 1, "name": "waiting",
        "cluster": {{ "nodes": 3 }},
        "raft": {{ "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" }},
        "workload": {{ "requests_per_second": 50, "end": "1s", "request_timeout": "{timeout}" }},
        "faults": [ {{ "at": "500ms", "crash": 3, "until": "1200ms" }} ],
        "liveness": {{ "commit_within": "1s" }},
        "stop": {{ "at": "3s" }} }}"#
        )
    };
    let r = run(&parse(&text("10s")), 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Violation);
    let v = r.violation.unwrap();
    assert_eq!(v.property, "Liveness: Commit");
    assert_eq!(
        v.time, 2_200_000_000,
        "one second after the restart that ends the faults"
    );
    assert!(v.detail.contains("still waiting"), "{}", v.detail);
    let r = run(&parse(&text("300ms")), 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.violation);
}

/// A bound must be above zero and fit in the run.
#[test]
fn a_bound_longer_than_the_run_is_refused() {
    let e = Scenario::parse(
        "x.json",
        r#"{ "version": 1, "name": "x",
        "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "liveness": { "leader_within": "5s" },
        "stop": { "at": "2s" } }"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("liveness.leader_within"), "{e}");
}

/// "Liveness: Convergence": a node that never hears from anyone (every link into n3 loses
/// everything) applies nothing, while the others commit the client load; once the faults have
/// ended the bound runs out with n3 left behind, and the failure names it. With the links
/// whole the same scenario converges.
#[test]
fn a_node_left_behind_fails_convergence() {
    let text = r#"{ "version": 1, "name": "left-behind",
        "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "network": { "delay": { "constant": "2ms" }, "links": [
            { "from": 1, "to": 3, "loss": 1.0 }, { "from": 2, "to": 3, "loss": 1.0 } ] },
        "workload": { "requests_per_second": 50, "end": "2s" },
        "faults": [ { "at": "1s", "pause": 2, "until": "1.05s" } ],
        "liveness": { "converge_within": "1s" },
        "stop": { "at": "3s" } }"#;
    let r = run(&parse(text), 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Violation);
    let v = r.violation.unwrap();
    assert_eq!(v.property, "Liveness: Convergence");
    assert!(v.detail.starts_with("n3 applied 0 of "), "{}", v.detail);
    assert_eq!(v.time, 2_050_000_000);
    let whole = text.replace(r#", "loss": 1.0 }"#, r#", "loss": 0.0 }"#);
    let r = run(&parse(&whole), 1, RunOptions::default());
    assert!(r.violation.is_none(), "{:?}", r.violation);
}

/// docs/RUNNING.md's account of the correct node's Liveness: Commit failures on
/// `random-faults.json`: seed 1253's retry backlog outlasts the 4 s bound on the shipped,
/// reordering network, and drains in time when each link keeps order (`network.ordered`).
#[test]
fn seed_1253s_backlog_drains_in_time_only_on_ordered_links() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/random-faults.json");
    let mut sc = Scenario::load(std::path::Path::new(path)).expect("shipped");
    let r = run(&sc, 1253, RunOptions::default());
    let v = r.violation.expect("the backlog outlasts the bound");
    assert_eq!(v.property, "Liveness: Commit", "{}", v.detail);
    sc.network.ordered = true;
    let r = run(&sc, 1253, RunOptions::default());
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert_eq!(r.outcome, Outcome::ConditionMet);
}
