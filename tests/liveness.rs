//! Liveness as named properties (`liveness` in a scenario): bounds measured from the quiet
//! phase, the moment every fault event has applied (the start of the run if there are none).
//! "Liveness: Leader" — a leader that every live node follows exists within its bound;
//! "Liveness: Commit" — every client request outstanding at the quiet phase has finished
//! (committed, or given up by its client) within its bound; "Liveness: Convergence" — every
//! live node has applied, within its bound, what any node had applied when the quiet phase
//! started. A bound not met is a violation,
//! named and reproducible like any other.

use crate::common;
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

/// The correct node's Liveness: Commit failures on `random-faults.json` (seeds 1253 and 1838
/// of 0..2000, 4729 and 8271 below 10000; 1838 of `random-faults-light.json` too) were its
/// own: a leader appended a new copy of a request for every client retry, so while the
/// faults held commits below one per request timeout, each waiting request added an entry per
/// timeout. On seed 1253 the leader held 3,183 uncommitted entries for 561 requests when the
/// faults ended (up to 11 copies of one), and request 767's first copy was still 9 entries
/// past the commit index when the 4 s bound ran out. A leader now appends a request once
/// while it waits: these seeds pass, on reordering and on ordered links, and no leader
/// appends a second copy of a request while the first waits to commit.
#[test]
fn a_retried_request_is_appended_once_per_term_and_the_seeds_it_failed_pass() {
    use raftsim::observe::trace::{parse_trace, Event};
    use std::collections::BTreeMap;
    for (name, seed) in [
        ("random-faults", 1253),
        ("random-faults", 1838),
        ("random-faults-light", 1838),
    ] {
        let path = format!("{}/scenarios/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let mut sc = Scenario::load(std::path::Path::new(&path)).expect("shipped");
        for ordered in [false, true] {
            sc.network.ordered = ordered;
            let opts = RunOptions {
                trace: true,
                ..Default::default()
            };
            let r = run(&sc, seed, opts);
            assert!(
                r.violation.is_none(),
                "{name} {seed} {ordered}: {:?}",
                r.violation
            );
            assert_eq!(r.outcome, Outcome::ConditionMet, "{name} {seed} {ordered}");
            if ordered {
                continue;
            }
            // Each node's log, rebuilt from its append and truncate records, its commit index
            // and the term it leads: a leader appends a request at most once while it waits
            // to commit (once committed and answered, a late retry is a new proposal).
            let text = std::str::from_utf8(r.trace.as_ref().unwrap().bytes()).unwrap();
            let mut logs: BTreeMap<u32, BTreeMap<u64, (u64, u64)>> = BTreeMap::new();
            let mut commit: BTreeMap<u32, u64> = BTreeMap::new();
            let mut leads: BTreeMap<u32, u64> = BTreeMap::new();
            let mut requests = 0;
            for rec in parse_trace(text).unwrap() {
                match rec.ev {
                    Event::Leader { node, term, .. } => {
                        leads.insert(node, term);
                    }
                    Event::Commit { node, commit_index } => {
                        commit.insert(node, commit_index);
                    }
                    Event::Append {
                        node,
                        index,
                        entries,
                    } => {
                        let log = logs.entry(node).or_default();
                        let committed = commit.get(&node).copied().unwrap_or(0);
                        for (k, e) in entries.iter().enumerate() {
                            let at = index + k as u64;
                            let req = e.put.map(|p| p[0]).or(e.get.map(|g| g[0]));
                            let Some(req) = req.or(e.cas.map(|c| c[0])) else {
                                log.remove(&at);
                                continue;
                            };
                            if leads.get(&node) == Some(&e.term) {
                                let waiting = log
                                    .range(committed + 1..at)
                                    .any(|(_, &v)| v == (e.term, req));
                                assert!(!waiting, "{name} {seed}: n{node} appended req {req} at {at} while a copy waited");
                                requests += 1;
                            }
                            log.insert(at, (e.term, req));
                        }
                    }
                    Event::Truncate { node, from } => {
                        logs.entry(node).or_default().split_off(&from);
                    }
                    _ => {}
                }
            }
            assert!(requests > 0, "{name} {seed}: leaders appended requests");
        }
    }
}

/// On an ordered network a message drawn under the last delay spike holds its link, and every
/// message behind it, past the spike's end, so the quiet phase starts only once the links have
/// drained of what was sent before it. Seed 7716 of `random-faults.json` with ordered links
/// failed Liveness: Convergence while the bounds ran from the last fault event (a message n2
/// sent n5 at 5.98 s under a spike drew 5.8 s, and held n2→n5 until 11.80 s); the four seeds of
/// 0..10000 that failed so pass now, and the same seeds unordered run as before.
#[test]
fn an_ordered_network_starts_the_quiet_phase_once_its_links_drain() {
    let mut sc =
        Scenario::load(&common::root().join("scenarios/random-faults.json")).expect("valid");
    for seed in [1154, 3494, 4346, 7716] {
        let unordered = run(&sc, seed, RunOptions::default());
        assert_eq!(unordered.outcome, Outcome::ConditionMet, "seed {seed}");
    }
    sc.network.ordered = true;
    assert_all_pass(&sc, &[1154, 3494, 4346, 7716]);
}

/// A bound is met once its condition holds within it, as Leader always was: in seven seeds of
/// `random-swarm.json` (of 0..25000) the leader of a two-voter C_new stepped down by
/// CheckQuorum after lost replies, or on a removed server's higher term, a few hundred
/// milliseconds before the bound, and Membership judged that instant ("no running leader"),
/// while Convergence, finding no leader, asked the removed servers to catch up too. Every
/// change had completed and every member had converged well before; keeping a leader is what
/// Stable Leader judges. Each seed failed before and passes now.
#[test]
fn a_bound_met_within_its_window_is_not_failed_by_a_later_step_down() {
    let sc = Scenario::load(&common::root().join("scenarios/random-swarm.json")).expect("valid");
    assert_all_pass(&sc, &[6275, 7301, 11430, 11592, 14801, 23464, 24769]);
}

/// `stop.when: leader_after_faults` is met by a leader followed after the faults: the run
/// waits past it only for the liveness bounds. Seed 29513 of `random-clients.json` had a
/// stable leader from 7.7 s; its bounds passed at 12.6 s just as a loss-driven election (PreVote
/// off) deposed it, and 0.4 s to `stop.at` was too short for the next: "no leader followed by
/// every live node after the faults, by stop.at". It passes now.
#[test]
fn a_leader_seen_after_the_faults_meets_the_stop_condition() {
    let sc = Scenario::load(&common::root().join("scenarios/random-clients.json")).expect("valid");
    assert_all_pass(&sc, &[29513]);
}

/// Runs `scenario` at each seed and asserts each meets its stop condition with no violation.
fn assert_all_pass(sc: &Scenario, seeds: &[u64]) {
    for &seed in seeds {
        let r = run(sc, seed, RunOptions::default());
        assert_eq!(
            r.outcome,
            Outcome::ConditionMet,
            "seed {seed}: {:?}",
            r.violation
        );
    }
}
