//! `raftsim check TRACE` against the online checker: over the trace of every shipped scenario
//! the offline check (the library's `check_records`, and the command line) finds exactly what
//! the simulator found while running — nothing — and a tampered trace fails with the property
//! named. Bad trace files are bad input (exit 2) with the file and line named.

use crate::common;
use common::{root, scenario_files};

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

use raftsim::experiment::run::{self as world, RunOptions};
use raftsim::observe::check::check_records;
use raftsim::observe::trace::{parse_trace, Event};
use raftsim::scenario::Scenario;

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

/// Runs a scenario with tracing on; returns the trace text and the online violation, if any.
fn traced_run(path: &Path) -> (String, Option<(String, u64)>) {
    let sc = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let r = world::run(
        &sc,
        sc.seed,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let text = String::from_utf8(r.trace.expect("tracing was on").bytes().to_vec()).unwrap();
    // Liveness properties are judged online only (the world knows what a trace does not
    // show, such as when the faults are over); the offline checker checks safety.
    let safety = r.violation.filter(|v| !v.property.starts_with("Liveness"));
    (text, safety.map(|v| (v.property.to_string(), v.time)))
}

#[test]
fn offline_check_agrees_with_the_online_checker_on_every_shipped_scenario() {
    let dir = tempfile::tempdir().unwrap();
    for path in scenario_files() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let (text, online) = traced_run(&path);
        let recs = parse_trace(&text).expect("own trace parses");
        let nodes = recs
            .iter()
            .find_map(|r| match r.ev {
                Event::Start { nodes, .. } => Some(nodes),
                _ => None,
            })
            .expect("a start event");
        let (events, offline) = check_records(nodes, &recs);
        assert_eq!(events, recs.len() as u64, "{name}");
        let offline = offline.map(|v| (v.property.to_string(), v.time));
        assert_eq!(
            offline, online,
            "{name}: offline and online checks disagree"
        );
        assert_eq!(
            online, None,
            "{name}: a shipped scenario violates a property"
        );

        let trace = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&trace, &text).unwrap();
        // A trace that records a liveness failure (partial-connectivity.json under plain
        // Raft) is safe, and `check` still exits 1 for the failure it records.
        let recorded_failure = text.contains(r#""ev":"violation""#);
        raftsim()
            .arg("check")
            .arg(&trace)
            .assert()
            .code(i32::from(recorded_failure))
            .stdout(predicate::str::starts_with(format!(
                "ok: {} events, no violation",
                recs.len()
            )));
    }
}

/// A second `leader` event for another node in a term that already has one: Election Safety.
#[test]
fn a_trace_with_two_leaders_in_one_term_fails_election_safety() {
    let (text, _) = traced_run(&root().join("scenarios/basic.json"));
    let lines: Vec<&str> = text.lines().collect();
    let (at, rec) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            let rec = &parse_trace(l).unwrap()[0];
            matches!(rec.ev, Event::Leader { .. }).then(|| (i, rec.clone()))
        })
        .expect("basic elects a leader");
    let Event::Leader { node, term, votes } = rec.ev else {
        unreachable!()
    };
    let other = if node == 1 { 2 } else { 1 };
    let forged = format!(
        "{{\"t\":{},\"ev\":\"leader\",\"node\":{other},\"term\":{term},\"votes\":{votes}}}",
        rec.t
    );
    let mut tampered: Vec<&str> = lines.clone();
    tampered.insert(at + 1, &forged);
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("tampered.jsonl");
    std::fs::write(&trace, tampered.join("\n") + "\n").unwrap();
    raftsim().arg("check").arg(&trace).assert().code(1).stdout(
        predicate::str::contains("Election Safety")
            .and(predicate::str::contains(format!(
                "tampered.jsonl:{}",
                at + 2
            )))
            .and(predicate::str::contains(format!(
                "two leaders in term {term}"
            ))),
    );
}

#[test]
fn bad_trace_files_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let start = r#"{"t":0,"ev":"start","nodes":3,"seed":1,"scenario":"x"}"#;

    // Unreadable file.
    raftsim()
        .arg("check")
        .arg(dir.path().join("missing.jsonl"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("missing.jsonl").and(predicate::str::contains("cannot read")),
        );

    // A line that is not a trace event: file and line number.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{start}\n{{\"t\":1,\"ev\":\"nonsense\"}}\n")).unwrap();
    raftsim()
        .arg("check")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.jsonl:2:"));

    // A node outside the cluster named in `start`.
    let outside = dir.path().join("outside.jsonl");
    std::fs::write(
        &outside,
        format!("{start}\n{{\"t\":1,\"ev\":\"crash\",\"node\":9}}\n"),
    )
    .unwrap();
    raftsim()
        .arg("check")
        .arg(&outside)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("outside.jsonl:2:").and(predicate::str::contains("node 9")),
        );

    // No `start` event and no --nodes; then --nodes makes it checkable.
    let headless = dir.path().join("headless.jsonl");
    std::fs::write(
        &headless,
        "{\"t\":1,\"ev\":\"crash\",\"node\":2}\n{\"t\":1,\"ev\":\"end\",\"outcome\":\"completed\",\"events\":1}\n",
    )
    .unwrap();
    raftsim()
        .arg("check")
        .arg(&headless)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--nodes"));
    raftsim()
        .args(["check", "--nodes", "3"])
        .arg(&headless)
        .assert()
        .code(0)
        .stdout("ok: 2 events, no violation\n");
}
