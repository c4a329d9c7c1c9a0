//! Leadership transfer (dissertation §3.10) as a scripted action in a scenario
//! (`{"at": "5s", "transfer_leadership": 3}`): completes within one election timeout when the
//! target is caught up; aborts cleanly when it cannot, and the leader leads on.

use raftsim::experiment::run::{run, RunOptions};
use raftsim::observe::trace::Event;
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

fn scenario(extra_faults: &str, pre_vote: bool) -> Scenario {
    with_raft(
        extra_faults,
        &format!(r#""pre_vote": {pre_vote}, "check_quorum": {pre_vote}"#),
    )
}

fn with_raft(extra_faults: &str, switches: &str) -> Scenario {
    let text = format!(
        r#"{{ "version": 1, "name": "transfer",
        "cluster": {{ "nodes": 5, "initial_leader": 1 }},
        "raft": {{ "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms",
                   {switches} }},
        "network": {{ "delay": {{ "uniform": ["1ms", "3ms"] }} }},
        "storage": {{ "write_latency": {{ "constant": "1ms" }} }},
        "workload": {{ "requests_per_second": 50, "start": "100ms", "end": "9s" }},
        "faults": [ {{ "at": "5s", "transfer_leadership": 3 }} {extra_faults} ],
        "stop": {{ "at": "10s" }} }}"#
    );
    Scenario::parse("transfer.json", &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn transfer_to_a_caught_up_node_completes_within_an_election_timeout() {
    for pre_vote in [false, true] {
        for seed in 1..=5 {
            let r = run(&scenario("", pre_vote), seed, RunOptions::default());
            assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.violation);
            let after: Vec<_> = r
                .summary
                .leaders
                .iter()
                .filter(|l| l.elected_at_ns >= 5 * S)
                .collect();
            assert_eq!(after.len(), 1, "seed {seed}: one leader change, {after:?}");
            assert_eq!(after[0].node, 3, "seed {seed}");
            assert!(
                after[0].elected_at_ns <= 5 * S + 300 * MS,
                "seed {seed}: {after:?}"
            );
            let c = r.summary.client.as_ref().unwrap();
            assert_eq!(c.failed, 0, "seed {seed}: clients retry at n3");
        }
    }
}

#[test]
fn transfer_to_a_cut_off_node_aborts_and_the_leader_leads_on() {
    let cut = r#", { "at": "4s", "isolate": 3, "until": "8s" }"#;
    let r = run(
        &scenario(cut, true),
        1,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.violation);
    // No leader change at all: n3 never got the TimeoutNow (with PreVote it cannot disturb
    // when it is back either).
    assert_eq!(r.summary.leaders.len(), 1, "{:?}", r.summary.leaders);
    let text = String::from_utf8(r.trace.unwrap().bytes().to_vec()).unwrap();
    assert!(text.contains(r#""ev":"transfer","from":1,"to":3"#));
    // Requests are taken again after the deadline (300 ms): commits continue while n3 is away.
    let commits_after_abort = text
        .lines()
        .map(|l| serde_json::from_str::<raftsim::observe::trace::Record>(l).unwrap())
        .filter(|rec| {
            rec.t > 5 * S + 400 * MS
                && rec.t < 8 * S
                && matches!(rec.ev, Event::ClientDone { ok: true, .. })
        })
        .count();
    assert!(commits_after_abort > 50, "{commits_after_abort}");
}

#[test]
fn transfer_without_a_leader_is_skipped_and_a_bad_target_is_refused() {
    let err = Scenario::parse(
        "t.json",
        r#"{ "version": 1, "name": "t", "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "faults": [ { "at": "1s", "transfer_leadership": 4 } ], "stop": { "at": "2s" } }"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("faults[0].transfer_leadership"), "{err}");
    let err = Scenario::parse(
        "t.json",
        r#"{ "version": 1, "name": "t", "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "faults": [ { "at": "1s", "transfer_leadership": 2, "until": "1500ms" } ],
        "stop": { "at": "2s" } }"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("faults[0].until") && err.contains("remove `until`"),
        "{err}"
    );
    let sc = Scenario::parse(
        "t.json",
        r#"{ "version": 1, "name": "t", "cluster": { "nodes": 3 },
        "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
        "network": { "loss": 1.0 },
        "faults": [ { "at": "1s", "transfer_leadership": 2 } ], "stop": { "at": "2s" } }"#,
    )
    .unwrap();
    let r = run(
        &sc,
        1,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let text = String::from_utf8(r.trace.unwrap().bytes().to_vec()).unwrap();
    assert!(text.contains("transfer leadership to n2: no running leader"));
}

/// With leader stickiness, voters that still hear the leader disregard an ordinary vote
/// request, but not one caused by a transfer (dissertation §4.2.3: the leader asked for this
/// election). Over 200 seeds, with stickiness alone and with PreVote and CheckQuorum too, n3
/// wins the one election after 5 s within an election timeout, and no other election follows.
#[test]
fn transfer_completes_under_leader_stickiness_and_no_election_follows() {
    for switches in [
        r#""leader_stickiness": true"#,
        r#""leader_stickiness": true, "pre_vote": true, "check_quorum": true"#,
    ] {
        let sc = with_raft("", switches);
        for seed in 1..=200 {
            let r = run(&sc, seed, RunOptions::default());
            assert_eq!(r.outcome, Outcome::Completed, "{switches} seed {seed}");
            let after: Vec<_> = r
                .summary
                .leaders
                .iter()
                .filter(|l| l.elected_at_ns >= 5 * S)
                .map(|l| (l.node, l.elected_at_ns))
                .collect();
            assert_eq!(after.len(), 1, "{switches} seed {seed}: {after:?}");
            assert_eq!(after[0].0, 3, "{switches} seed {seed}: {after:?}");
            assert!(
                after[0].1 <= 5 * S + 300 * MS,
                "{switches} seed {seed}: {after:?}"
            );
            assert_eq!(
                r.summary.elections, 1,
                "{switches} seed {seed}: the transfer's election only"
            );
        }
    }
}
