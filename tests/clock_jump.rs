//! Clock jumps (`clock_jump` faults, and the `clock_jump` kind of a fault generator): a node's
//! clock steps, and the timers it has armed move with it. Forward, an election timer due
//! within the step fires at once, so a follower stands for election although its leader is
//! fine; back, a leader's heartbeat comes late, and its followers elect another leader.

use raftsim::experiment::run::{run, RunOptions};
use raftsim::scenario::Scenario;
use serde_json::Value;

fn records(fault: &str) -> Vec<Value> {
    let text = format!(
        r#"{{ "version": 1, "name": "jump",
        "cluster": {{ "nodes": 3 }},
        "raft": {{ "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" }},
        "network": {{ "delay": {{ "constant": "2ms" }} }},
        "faults": [ {fault} ],
        "stop": {{ "at": "3s" }} }}"#
    );
    let sc = Scenario::parse("jump.json", &text).expect("valid");
    let r = run(
        &sc,
        1,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    assert!(r.violation.is_none(), "{:?}", r.violation);
    let bytes = r.trace.expect("a trace").bytes().to_vec();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn elections_from(recs: &[Value], t: u64) -> Vec<(u64, u64)> {
    recs.iter()
        .filter(|r| r["ev"] == "election" && r["t"].as_u64().unwrap() >= t)
        .map(|r| (r["t"].as_u64().unwrap(), r["node"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_forward_jump_past_the_election_timeout_starts_an_election_at_once() {
    let recs = records(r#"{ "at": "1s", "clock_jump": { "node": "follower", "by": "400ms" } }"#);
    let jump = recs
        .iter()
        .find(|r| r["ev"] == "clock_jump")
        .expect("the jump is traced");
    assert_eq!(jump["t"], 1_000_000_000u64);
    let node = jump["node"].as_u64().unwrap();
    let first = elections_from(&recs, 1_000_000_000)[0];
    assert_eq!(
        first,
        (1_000_000_000, node),
        "the jumped follower stands at once"
    );
    // Without the jump nobody stands after the first election.
    let calm = records(r#"{ "at": "1s", "pause": 3, "until": "1.001s" }"#);
    assert!(elections_from(&calm, 1_000_000_000).is_empty());
}

#[test]
fn a_backward_jump_on_the_leader_delays_its_heartbeats_and_another_leader_is_elected() {
    let recs =
        records(r#"{ "at": "1s", "clock_jump": { "node": "leader", "by": "1s", "back": true } }"#);
    let jump = recs.iter().find(|r| r["ev"] == "clock_jump").unwrap();
    assert_eq!(jump["back"], true);
    let old = jump["node"].as_u64().unwrap();
    let later = elections_from(&recs, 1_000_000_000);
    let (t, node) = later[0];
    assert_ne!(node, old, "a follower stands");
    assert!(
        t < 1_400_000_000,
        "within an election timeout of the last heartbeat: {t}"
    );
}

#[test]
fn a_generator_draws_clock_jumps_when_asked() {
    let text = r#"{ "version": 1, "name": "jumps",
        "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "faults": [ { "at": "500ms", "until": "3s",
                      "generate": { "kinds": ["clock_jump"], "max_faults": 5 } } ],
        "stop": { "at": "5s" } }"#;
    let sc = Scenario::parse("jumps.json", text).expect("valid");
    let explicit = sc.with_generated_faults(7);
    assert!(!explicit.faults.is_empty());
    assert!(explicit.faults.iter().all(|f| f.clock_jump.is_some()));
    let a = run(
        &sc,
        7,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let b = run(
        &explicit,
        7,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    assert_eq!(a.outcome, b.outcome);
    let jumps = |t: &[u8]| String::from_utf8_lossy(t).matches("\"clock_jump\"").count();
    let (ta, tb) = (a.trace.unwrap(), b.trace.unwrap());
    assert_eq!(jumps(ta.bytes()), jumps(tb.bytes()));
    assert!(jumps(ta.bytes()) > 0);
}
