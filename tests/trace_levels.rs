//! The two trace levels. At `messages` every message's `send` is recorded with an id, and its
//! `deliver` or `drop` carries the same id, so a reader can follow one RPC (§5.1: servers
//! communicate by RPCs that may be lost, duplicated or delayed) through loss, duplication and
//! partitions. The level changes what is written, never the run: stripped of the message
//! records, a messages-level trace is the events-level trace of the same run.

use crate::common;
use common::root;

use std::collections::BTreeMap;

use assert_cmd::Command;
use raftsim::experiment::run::{run, RunOptions};
use raftsim::observe::trace::{parse_trace, Event, Record};
use raftsim::scenario::Scenario;
use raftsim::world::TraceLevel;

fn scenario(name: &str) -> Scenario {
    Scenario::load(&root().join("scenarios").join(name)).expect("a shipped scenario is valid")
}

/// The trace of `name` at its own seed and the given level, as records and as bytes.
fn trace(name: &str, level: TraceLevel) -> (Vec<Record>, Vec<u8>) {
    let sc = scenario(name);
    let r = run(&sc, sc.seed, RunOptions { trace: true, level });
    assert!(r.violation.is_none(), "{name}: {:?}", r.violation);
    let bytes = r.trace.expect("trace asked for").bytes().to_vec();
    let text = std::str::from_utf8(&bytes).expect("utf-8 trace");
    let records = parse_trace(text).unwrap_or_else(|(l, e)| panic!("{name}:{l}: {e}"));
    (records, bytes)
}

/// Checks the pairing of message records in a messages-level trace; returns (sends, delivers,
/// drops) counted.
fn check_pairing(name: &str, records: &[Record]) -> (usize, usize, usize) {
    // id -> (from, to, kind, term, how many times delivered or dropped)
    let mut sent: BTreeMap<u64, (u32, u32, String, u64, u32)> = BTreeMap::new();
    let (mut delivers, mut drops) = (0, 0);
    for (i, r) in records.iter().enumerate() {
        let line = i + 1;
        match &r.ev {
            Event::Send {
                from,
                to,
                msg,
                term,
                id,
            } => {
                let prev = sent.insert(*id, (*from, *to, msg.to_string(), *term, 0));
                assert!(prev.is_none(), "{name}:{line}: send id {id} used twice");
            }
            Event::Deliver {
                from,
                to,
                msg,
                term,
                id,
            }
            | Event::Drop {
                from,
                to,
                msg,
                term,
                id: Some(id),
                ..
            } => {
                let s = sent.get_mut(id).unwrap_or_else(|| {
                    panic!("{name}:{line}: {:?} #{id} has no earlier send", r.ev)
                });
                assert_eq!(
                    (s.0, s.1, s.2.as_str(), s.3),
                    (*from, *to, msg.as_ref(), *term),
                    "{name}:{line}: #{id} does not match its send"
                );
                // At most the message and one duplicate.
                s.4 += 1;
                assert!(s.4 <= 2, "{name}:{line}: #{id} resolved {} times", s.4);
                if matches!(r.ev, Event::Deliver { .. }) {
                    delivers += 1;
                } else {
                    drops += 1;
                }
            }
            Event::Drop { id: None, .. } => {
                panic!("{name}:{line}: a drop without an id at the messages level")
            }
            _ => {}
        }
    }
    (sent.len(), delivers, drops)
}

/// A messages-level trace without its `send` and `deliver` records and without drop ids.
fn strip_messages(records: &[Record]) -> Vec<Record> {
    records
        .iter()
        .filter(|r| !matches!(r.ev, Event::Send { .. } | Event::Deliver { .. }))
        .map(|r| {
            let mut r = r.clone();
            if let Event::Drop { id, .. } = &mut r.ev {
                *id = None;
            }
            r
        })
        .collect()
}

/// Under loss, duplication and a partition (`scenarios/faulty.json`), and on a clean network
/// (`scenarios/basic.json`), every `deliver` and `drop` pairs with one earlier `send` of the
/// same id, sender, receiver, kind and term; send ids are unique; every drop has an id. And the
/// level does not change the run.
#[test]
fn message_events_pair_up_and_the_level_does_not_change_the_run() {
    for name in ["faulty.json", "basic.json"] {
        let (msgs, _) = trace(name, TraceLevel::Messages);
        let (events, _) = trace(name, TraceLevel::Events);
        let (sends, delivers, drops) = check_pairing(name, &msgs);
        assert!(
            sends > 100 && delivers > 100,
            "{name}: {sends} sends, {delivers} delivers"
        );
        if name == "faulty.json" {
            assert!(drops > 0, "{name}: loss and a partition drop messages");
            // A duplicated message shows as two resolutions of one id.
            let mut per_id: BTreeMap<u64, u32> = BTreeMap::new();
            for r in &msgs {
                if let Event::Deliver { id, .. } | Event::Drop { id: Some(id), .. } = r.ev {
                    *per_id.entry(id).or_default() += 1;
                }
            }
            assert!(
                per_id.values().any(|&n| n == 2),
                "{name}: no duplicate seen"
            );
        }
        assert!(
            events.iter().all(|r| match &r.ev {
                Event::Send { .. } | Event::Deliver { .. } => false,
                Event::Drop { id, .. } => id.is_none(),
                _ => true,
            }),
            "{name}: message records at the events level"
        );
        let stripped = strip_messages(&msgs);
        assert_eq!(stripped.len(), events.len(), "{name}: record counts differ");
        for (i, (a, b)) in stripped.iter().zip(&events).enumerate() {
            assert_eq!(a, b, "{name}: record {} differs between levels", i + 1);
        }
    }
}

/// The events-level trace of `scenarios/basic.json` through the library equals the golden file
/// the command line is held to: the library and the CLI run the same thing.
#[test]
fn library_events_trace_of_basic_matches_the_golden_file() {
    let (_, bytes) = trace("basic.json", TraceLevel::Events);
    let golden = std::fs::read(root().join("tests/golden/basic.trace.jsonl")).expect("golden");
    assert!(
        bytes == golden,
        "basic.json's library trace differs from tests/golden/basic.trace.jsonl"
    );
}

/// `raftsim run --trace-level messages` writes `send` records to trace.jsonl.
#[test]
fn cli_trace_level_messages_writes_sends() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::cargo_bin("raftsim")
        .unwrap()
        .current_dir(root())
        .args([
            "run",
            "scenarios/basic.json",
            "--quiet",
            "--trace-level",
            "messages",
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(tmp.path().join("trace.jsonl")).unwrap();
    let records = parse_trace(&text).unwrap();
    let sends = records
        .iter()
        .filter(|r| matches!(r.ev, Event::Send { .. }))
        .count();
    assert!(sends > 100, "{sends} send records");
    check_pairing("cli basic.json", &records);
    // The same bytes as the library's messages-level trace.
    let (_, bytes) = trace("basic.json", TraceLevel::Messages);
    assert!(
        text.as_bytes() == bytes,
        "CLI and library messages-level traces differ"
    );
}

/// Per link, how often a delivered message was sent before one delivered ahead of it.
fn overtakes(records: &[Record]) -> usize {
    let mut latest: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    let mut overtaken = 0;
    for r in records {
        if let Event::Deliver { from, to, id, .. } = &r.ev {
            let last = latest.entry((*from, *to)).or_insert(0);
            // A duplicate's copy has its original's id: equal is in order.
            overtaken += (*id < *last) as usize;
            *last = (*last).max(*id);
        }
    }
    overtaken
}

/// `network.ordered`: each direction of a link delivers in the order sent (message ids are
/// given in send order), where without it messages overtake one another.
#[test]
fn an_ordered_network_delivers_each_link_in_send_order() {
    let mut sc = scenario("random-faults.json");
    let mut run_with = |ordered: bool| {
        sc.network.ordered = ordered;
        let r = run(
            &sc,
            3,
            RunOptions {
                trace: true,
                level: TraceLevel::Messages,
            },
        );
        let text = String::from_utf8(r.trace.expect("traced").bytes().to_vec()).unwrap();
        let records = parse_trace(&text).unwrap_or_else(|(l, e)| panic!("line {l}: {e}"));
        let delivered = records
            .iter()
            .filter(|r| matches!(r.ev, Event::Deliver { .. }))
            .count();
        (overtakes(&records), delivered)
    };
    let (free, free_delivered) = run_with(false);
    let (ordered, ordered_delivered) = run_with(true);
    assert!(free > 100, "only {free} overtakes on a reordering network");
    assert_eq!(
        ordered, 0,
        "an ordered network let {ordered} messages overtake"
    );
    assert!(ordered_delivered > 5000 && free_delivered > 5000);
}
