//! The network and clock models' documented rules (src/net.rs, src/sim.rs, README "Semantics"):
//! a message is delivered only if its link is open both when it is sent and when it arrives; a
//! node whose clock runs fast reaches its timer deadlines early in virtual time.

use crate::common;

use common::{trace_records, traced};
use raftsim::experiment::run::{run, RunOptions};
use raftsim::observe::trace::{Event, Record};
use raftsim::scenario::Scenario;

/// n1 leads from the start and sends its first heartbeats at t=0; every message takes 10ms.
fn scenario(faults: &str) -> Scenario {
    let text = format!(
        r#"{{
          "version": 1, "name": "inflight",
          "cluster": {{ "nodes": 3, "initial_leader": 1 }},
          "raft": {{ "election_timeout": ["1s", "2s"], "heartbeat_interval": "100ms" }},
          "network": {{ "delay": {{ "constant": "10ms" }} }},
          "faults": [{faults}],
          "stop": {{ "at": "150ms" }}
        }}"#
    );
    Scenario::parse("inflight.json", &text).expect("valid scenario")
}

fn records(sc: &Scenario) -> Vec<Record> {
    let r = traced(sc, 1);
    assert!(r.violation.is_none());
    trace_records(&r)
}

fn drops(recs: &[Record]) -> Vec<(u64, u32, u32, String, String)> {
    recs.iter()
        .filter_map(|r| match &r.ev {
            Event::Drop {
                from,
                to,
                msg,
                reason,
                ..
            } => Some((r.t, *from, *to, msg.to_string(), reason.to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_cut_that_starts_while_a_message_is_in_flight_drops_it_on_arrival() {
    // Heartbeats leave n1 at 0ms and arrive at 10ms; the cut n1->n2 starts at 5ms.
    let recs = records(&scenario(
        r#"{ "at": "5ms", "cut": { "from": 1, "to": 2 }, "until": "50ms" }"#,
    ));
    let d = drops(&recs);
    assert_eq!(
        d,
        vec![(10_000_000, 1, 2, "AppendEntries".into(), "cut".into())],
        "{d:?}"
    );
    // n3's copy and n2's reply direction are untouched: n3 appends nothing new but answers.
    assert!(!d.iter().any(|x| x.2 == 3 || x.1 == 2));
}

#[test]
fn a_message_sent_across_a_cut_is_dropped_even_if_the_cut_heals_before_it_arrives() {
    // The cut n1->n2 covers the heartbeat sent at 100ms and heals at 105ms, before its 110ms
    // arrival.
    let recs = records(&scenario(
        r#"{ "at": "95ms", "cut": { "from": 1, "to": 2 }, "until": "105ms" }"#,
    ));
    let d = drops(&recs);
    assert_eq!(
        d,
        vec![(100_000_000, 1, 2, "AppendEntries".into(), "cut".into())],
        "{d:?}"
    );
}

#[test]
fn a_partition_drops_both_directions_and_a_cut_only_one() {
    // The partition starts at 105ms, after n1's second heartbeat (sent at 100ms) and before it
    // arrives (110ms): both copies die on arrival; nothing else is dropped.
    let recs = records(&scenario(
        r#"{ "at": "105ms", "partition": [[1], [2, 3]], "until": "140ms" }"#,
    ));
    let d = drops(&recs);
    assert_eq!(
        d,
        vec![
            (
                110_000_000,
                1,
                2,
                "AppendEntries".into(),
                "partition".into()
            ),
            (
                110_000_000,
                1,
                3,
                "AppendEntries".into(),
                "partition".into()
            )
        ],
        "{d:?}"
    );
}

#[test]
fn a_fast_clock_times_out_first_and_at_the_drifted_time() {
    // Identical timeouts; only n2's clock runs fast (+50000 ppm): its 300ms timer fires at
    // 300ms / 1.05 = 285.714286ms of virtual time, before anyone else, on every seed.
    let text = r#"{
      "version": 1, "name": "drift",
      "cluster": { "nodes": 3 },
      "raft": { "election_timeout": ["300ms", "300ms"], "heartbeat_interval": "50ms" },
      "network": { "delay": { "constant": "1ms" } },
      "clocks": { "node_drift_ppm": [0, 50000, -50000] },
      "stop": { "at": "400ms" }
    }"#;
    let sc = Scenario::parse("drift.json", text).unwrap();
    for seed in 0..20 {
        let recs = records_seed(&sc, seed);
        let first = recs.iter().find_map(|r| match r.ev {
            Event::Election { node, term } => Some((r.t, node, term)),
            _ => None,
        });
        assert_eq!(first, Some((285_714_286, 2, 1)), "seed {seed}");
        assert!(
            recs.iter().any(|r| matches!(
                r.ev,
                Event::Leader {
                    node: 2,
                    term: 1,
                    ..
                }
            )),
            "seed {seed}"
        );
    }
    assert_eq!(
        raftsim::world::local_to_virtual(300_000_000, -50_000_000),
        315_789_474
    );
}

fn records_seed(sc: &Scenario, seed: u64) -> Vec<Record> {
    trace_records(&traced(sc, seed))
}

#[test]
fn key_value_state_machines_that_applied_as_far_hold_the_same_contents() {
    // State Machine Safety seen from the outside (§5.4.3): same applied index, same map.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/replication.json"
    ))
    .unwrap();
    let sc = Scenario::parse("replication.json", &text).unwrap();
    for seed in 0..5 {
        let r = run(&sc, seed, RunOptions::default());
        let sms = &r.summary.state_machines;
        assert_eq!(sms.len(), 5, "seed {seed}: every node is up at the end");
        let top = sms.iter().map(|m| m.applied).max().unwrap();
        assert!(top > 100, "seed {seed}: the load committed");
        let full: Vec<_> = sms.iter().filter(|m| m.applied == top).collect();
        assert!(
            full.len() >= 3,
            "seed {seed}: a majority applied everything"
        );
        assert!(
            full.iter()
                .all(|m| m.digest == full[0].digest && m.keys == full[0].keys),
            "seed {seed}: {sms:?}"
        );
    }
}

#[test]
fn a_pause_a_crash_ended_does_not_end_the_next_incarnations_pause() {
    // Found by the greatest election timeout (random-swarm seed 373): n2 paused until 2.14 s,
    // crashed and restarted, paused again until 2.77 s, and the first pause's end resumed it
    // at 2.14 s, while its held events waited for 2.77 s.
    let text = r#"{ "version": 1, "name": "pause-crash-pause",
      "cluster": { "nodes": 3 },
      "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
      "network": { "delay": { "constant": "1ms" } },
      "storage": { "write_latency": { "constant": "2ms" } },
      "faults": [ {"at":"1s","pause":2,"until":"2s"}, {"at":"1.2s","crash":2,"until":"1.3s"},
                  {"at":"1.5s","pause":2,"until":"2.5s"} ],
      "stop": { "at": "4s" } }"#;
    let sc = Scenario::parse("pause-crash-pause.json", text).unwrap();
    for seed in 0..5 {
        let r = traced(&sc, seed);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let resumes: Vec<(u64, u32)> = trace_records(&r)
            .iter()
            .filter_map(|r| match r.ev {
                Event::Resume { node } => Some((r.t, node)),
                _ => None,
            })
            .collect();
        assert_eq!(resumes, vec![(2_500_000_000, 2)], "seed {seed}");
    }
}

#[test]
fn overlapping_pauses_resume_when_the_last_one_ends() {
    // Found in review: a second pause overwrote the first and the earlier end resumed the node,
    // so events held for the later end ran out of order (disk completions among them).
    let text = r#"{ "version": 1, "name": "pauses",
      "cluster": { "nodes": 3 },
      "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
      "network": { "delay": { "constant": "1ms" } },
      "storage": { "write_latency": { "constant": "2ms" } },
      "workload": { "requests_per_second": 200 },
      "faults": [ {"at":"1s","pause":1,"until":"3s"}, {"at":"1.5s","pause":1,"until":"2s"},
                  {"at":"1.2s","pause":2,"until":"1.4s"}, {"at":"1.3s","pause":2,"until":"2.5s"} ],
      "stop": { "at": "4s" } }"#;
    let sc = Scenario::parse("pauses.json", text).unwrap();
    for seed in 0..10 {
        let r = traced(&sc, seed);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let recs = trace_records(&r);
        let resumes: Vec<(u64, u32)> = recs
            .iter()
            .filter_map(|r| match r.ev {
                Event::Resume { node } => Some((r.t, node)),
                _ => None,
            })
            .collect();
        assert_eq!(
            resumes,
            vec![(2_500_000_000, 2), (3_000_000_000, 1)],
            "seed {seed}"
        );
        // Nothing is handled by n1 while it is paused.
        assert!(!recs.iter().any(|r| r.t > 1_000_000_000
            && r.t < 3_000_000_000
            && matches!(
                r.ev,
                Event::Role { node: 1, .. }
                    | Event::Vote { node: 1, .. }
                    | Event::Append { node: 1, .. }
            )));
    }
}
