//! What clients see (dissertation §6.3): gets, puts and CAS with sessions, and the
//! linearizability check of the client history at the end of every run that reads or CASes,
//! online and offline alike. The checker itself is proven against a brute-force reference in
//! `observe::linear`'s own tests.

use crate::common;
use common::{root, trace_records, traced};

use raftsim::observe::check::check_records;
use raftsim::observe::trace::{Event, TRet};
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

fn clients() -> Scenario {
    Scenario::load(&root().join("scenarios/clients.json")).expect("valid")
}

fn with_bug(mut sc: Scenario, bug: &str) -> Scenario {
    sc.raft.bugs.push(bug.into());
    sc.validate().expect("a known bug");
    sc
}

/// The correct node is clean over 300 seeds of the shipped scenario, each run checked for
/// linearizability (through the CLI, as a user searches).
#[test]
fn the_correct_node_is_linearizable_over_300_seeds() {
    common::explore_finds_nothing("clients.json", 300, &[]);
}

/// `no-session-dedup`: a retried request is applied again. Found at seed 3 of the shipped
/// scenario (a CAS applied twice answers its client with its second application, "failed",
/// while its first took effect); the same seed is clean with sessions. Seeds 0..3 pass since
/// a leader appends a retried request once while it waits: a second copy in the log now takes
/// a retry that reaches another leader.
#[test]
fn a_state_machine_without_sessions_is_caught_at_its_first_failing_seed() {
    let r = traced(&with_bug(clients(), "no-session-dedup"), 3);
    assert_eq!(r.outcome, Outcome::Violation);
    let v = r.violation.as_ref().expect("a violation");
    assert_eq!(v.property, "Linearizability");
    assert!(v.detail.contains("no order of these"), "{}", v.detail);
    let records = trace_records(&r);
    // The trace says so, and `raftsim check` finds the same window offline.
    let verdict = records.iter().find_map(|rec| match &rec.ev {
        Event::Linearizability {
            verdict, window, ..
        } => Some((verdict.clone(), window.clone())),
        _ => None,
    });
    let (verdict, window) = verdict.expect("a linearizability record");
    assert_eq!(verdict, "violation");
    assert!(!window.is_empty());
    let (_, offline) = check_records(5, &records);
    let offline = offline.expect("the offline check finds it too");
    assert_eq!(offline.property, "Linearizability");
    assert_eq!(offline.detail, v.detail);

    let clean = traced(&clients(), 3);
    assert_ne!(clean.outcome, Outcome::Violation, "{:?}", clean.violation);
}

/// Reads and CAS are answered with what the replying node's state machine gave: every read
/// completed returns a value some put or CAS of that key wrote (or nothing), and the history
/// of a correct run is decided in one search state per operation (the log order guides it).
#[test]
fn answers_come_from_the_state_machine_and_a_correct_run_costs_one_state_per_operation() {
    let r = traced(&clients(), 3);
    let records = trace_records(&r);
    let mut written = std::collections::HashSet::new();
    let mut reads = 0;
    for rec in &records {
        if let Event::ClientRequest {
            op: Some(op), req, ..
        } = &rec.ev
        {
            use raftsim::observe::trace::TOp;
            if let TOp::Put { value, .. } | TOp::Cas { value, .. } = op {
                assert_eq!(*value, *req, "a write's value is its request number");
                written.insert(*value);
            }
        }
    }
    for rec in &records {
        if let Event::ClientDone {
            ret: Some(TRet::Get(Some(v))),
            ..
        } = &rec.ev
        {
            assert!(written.contains(v), "read {v}, which nobody wrote");
            reads += 1;
        }
    }
    assert!(reads > 50, "{reads} reads completed");
    let (ops, states) = records
        .iter()
        .find_map(|rec| match &rec.ev {
            Event::Linearizability {
                verdict,
                ops,
                states,
                ..
            } => {
                assert_eq!(verdict, "linearizable");
                Some((*ops, *states))
            }
            _ => None,
        })
        .expect("checked");
    assert_eq!(ops, states, "guided: one state per operation");
}

/// A run of puts only is traced as before the client operations existed: no `op`, no `ret`,
/// no `linearizability` record (such a history is always linearizable).
#[test]
fn a_workload_of_puts_only_adds_nothing_to_the_trace() {
    let sc = Scenario::load(&root().join("scenarios/random-faults.json")).expect("valid");
    let records = trace_records(&traced(&sc, 1));
    assert!(records
        .iter()
        .any(|r| matches!(r.ev, Event::ClientDone { .. })));
    for rec in &records {
        match &rec.ev {
            Event::ClientRequest { op, .. } => assert!(op.is_none()),
            Event::ClientDone { ret, .. } => assert!(ret.is_none()),
            Event::Apply { ret, .. } => assert!(ret.is_none()),
            Event::Linearizability { .. } => panic!("checked a puts-only history"),
            _ => {}
        }
    }
}

/// Shares that are not shares, or that add up to more than 1, and the application bug without
/// a workload, are refused with the field named.
#[test]
fn a_bad_mix_is_refused() {
    let mut sc = clients();
    sc.workload.as_mut().unwrap().reads = 0.7;
    sc.workload.as_mut().unwrap().cas = 0.4;
    let (field, msg) = sc.validate().unwrap_err();
    assert_eq!(field, "workload.cas");
    assert!(msg.contains("more than 1"), "{msg}");
    let mut sc = clients();
    sc.workload.as_mut().unwrap().reads = -0.1;
    assert_eq!(sc.validate().unwrap_err().0, "workload.reads");
    let mut sc = Scenario::load(&root().join("scenarios/basic.json")).expect("valid");
    sc.raft.bugs.push("no-session-dedup".into());
    let (field, msg) = sc.validate().unwrap_err();
    assert_eq!(field, "raft.bugs[0]");
    assert!(msg.contains("needs a `workload`"), "{msg}");
}
