//! What a run leaves behind when it does not end well: a node's broken assertion (a panic in
//! its step) is a named violation, "Node Assertion", with a readable trace up to that point and
//! the line that reproduces it; an output
//! that cannot be written after the run exits 3 without stray temporary files; and the
//! crash-at-disk-write fault (Figure 2: persistent state is "updated on stable storage before
//! responding to RPCs", so the interesting crashes fall around a write) is read from a
//! scenario file, run, and refused when malformed.

use crate::common;
use common::root;

use std::path::Path;

use assert_cmd::Command;
use raftsim::experiment::run::{run, run_config, PanicAfter, RunOptions};
use raftsim::observe::check::check_records;
use raftsim::observe::trace::{parse_trace, Event, Record};
use raftsim::protocol::Role;
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

fn basic() -> Scenario {
    Scenario::load(&root().join("scenarios/basic.json")).expect("valid")
}

fn parse(text: &str) -> Vec<Record> {
    parse_trace(text).unwrap_or_else(|(l, e)| panic!("line {l} does not parse: {e}"))
}

/// Temporary files left in `dir`: the CLI writes `.trace.jsonl.tmp-PID` (and `.NAME.tmp-PID`
/// for the other outputs) and renames them into place.
fn temp_traces(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".trace.jsonl.tmp-") || n.contains(".tmp"))
        .collect()
}

/// A node panicking mid-run (the hidden `--panic-after-steps`): exit 1, the property and the
/// reproduce line on stderr, a trace that parses line by line and ends with a `violation`
/// ("Node Assertion") then `end` (outcome `violation`), whose records before it are exactly the
/// start of the normal run's trace; summary.json names the violation.
#[test]
fn a_panic_leaves_a_readable_partial_trace_and_the_reproduce_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let o = raftsim()
        .current_dir(root())
        .args([
            "run",
            "scenarios/basic.json",
            "--quiet",
            "--panic-after-steps",
            "200",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {stderr}");
    // The line replays the run; it may also carry the testing flag so that it replays the
    // panic as printed.
    assert!(
        stderr.lines().any(|l| [
            "reproduce with: raftsim run scenarios/basic.json --seed 1",
            "reproduce with: raftsim run scenarios/basic.json --seed 1 --panic-after-steps 200",
        ]
        .contains(&l)),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("injected panic"), "stderr: {stderr}");
    assert!(stderr.contains("Node Assertion"), "stderr: {stderr}");
    assert!(temp_traces(&dir).is_empty(), "{:?}", temp_traces(&dir));

    let text = std::fs::read_to_string(dir.join("trace.jsonl")).expect("trace.jsonl written");
    for (i, line) in text.lines().enumerate() {
        serde_json::from_str::<Record>(line)
            .unwrap_or_else(|e| panic!("trace.jsonl:{}: {e}", i + 1));
    }
    let records = parse(&text);
    let n = records.len();
    assert!(n > 3, "{n} records");
    assert!(
        matches!(&records[n - 2].ev, Event::Violation { property, detail }
            if property == "Node Assertion" && detail.contains("injected panic")),
        "{:?}",
        records[n - 2]
    );
    assert!(
        matches!(&records[n - 1].ev, Event::End { outcome, .. } if outcome == "violation"),
        "{:?}",
        records[n - 1]
    );

    let sc = basic();
    let normal = run(
        &sc,
        1,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let normal = std::str::from_utf8(normal.trace.as_ref().unwrap().bytes())
        .unwrap()
        .to_string();
    let normal_lines: Vec<&str> = normal.lines().collect();
    let before: Vec<&str> = text.lines().take(n - 2).collect();
    assert!(before.len() < normal_lines.len());
    assert_eq!(
        before,
        normal_lines[..before.len()],
        "not a prefix of the normal run"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "violation", "{summary}");
    let violation = summary["violation"].as_str().unwrap();
    assert!(
        violation.contains("Node Assertion") && violation.contains("injected panic"),
        "{summary}"
    );
}

/// The library path of the same: `PanicAfter` ends the run with a "Node Assertion" violation,
/// and the trace up to it has no violation of the checker's own properties when checked offline.
#[test]
fn library_panic_run_ends_in_panic_and_its_trace_checks_clean() {
    let cfg = basic().compile();
    PanicAfter::arm(300);
    let r = run_config::<PanicAfter>(
        &cfg,
        &Default::default(),
        1,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    assert_eq!(r.outcome, Outcome::Violation);
    let v = r.violation.as_ref().expect("a named violation");
    assert_eq!(v.property, "Node Assertion");
    assert!(v.detail.contains("injected panic"), "{}", v.detail);
    assert!(r.panic.is_none());
    let records = parse(std::str::from_utf8(r.trace.as_ref().unwrap().bytes()).unwrap());
    assert!(
        matches!(records.last().unwrap().ev, Event::End { ref outcome, .. } if outcome == "violation")
    );
    let (events, v) = check_records(cfg.nodes, &records);
    assert_eq!(events, records.len() as u64);
    assert!(v.is_none(), "{v:?}");
}

/// Panics at its `at`-th record: a stand-in for a bug in the simulator itself (outside any node).
struct PanickyObserver {
    seen: u64,
    at: u64,
}

impl raftsim::observe::Observer for PanickyObserver {
    fn observe(
        &mut self,
        _: &Record,
        _: u64,
        _: &raftsim::observe::ObsCtx,
    ) -> Option<raftsim::observe::check::Violation> {
        self.seen += 1;
        if self.seen >= self.at {
            panic!("observer bug");
        }
        None
    }
}

/// A panic outside any node (here an observer's) ends the run with outcome `panic`: the
/// observers before it in the chain still record everything up to it, a `panic` record and the
/// `end`, so the trace so far survives.
#[test]
fn a_simulator_panic_ends_the_run_with_outcome_panic_and_keeps_the_trace() {
    use raftsim::experiment::run::run_observed;
    use raftsim::observe::trace::TraceWriter;
    let cfg = basic().compile();
    let mut trace = TraceWriter::in_memory();
    let mut bad = PanickyObserver { seen: 0, at: 50 };
    let (r, summary) = run_observed::<raftsim::node::Node, _, _>(
        &cfg,
        &Default::default(),
        1,
        raftsim::world::TraceLevel::Events,
        Some(&mut trace),
        &mut bad,
    );
    assert_eq!(r.outcome, Outcome::Panic);
    assert_eq!(r.panic.as_deref(), Some("observer bug"));
    assert_eq!(summary.outcome, "panic");
    let records = parse(std::str::from_utf8(trace.bytes()).unwrap());
    let n = records.len();
    assert_eq!(n, 52, "50 records, then panic and end");
    assert!(matches!(&records[n - 2].ev, Event::Panic { message } if message == "observer bug"));
    assert!(matches!(&records[n - 1].ev, Event::End { outcome, .. } if outcome == "panic"));
}

/// Exit code 3: the run finished but trace.jsonl could not take its name (a non-empty folder is
/// in the way). The message names the file, the reproduce line is on stderr, and the temporary
/// trace is removed.
#[test]
fn an_output_that_cannot_be_written_exits_3_and_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    std::fs::create_dir_all(dir.join("trace.jsonl")).unwrap();
    std::fs::write(dir.join("trace.jsonl/keep"), b"x").unwrap();
    let o = raftsim()
        .current_dir(root())
        .args(["run", "scenarios/basic.json", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot write {}",
            dir.join("trace.jsonl").display()
        )),
        "stderr: {stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l == "reproduce with: raftsim run scenarios/basic.json --seed 1"),
        "stderr: {stderr}"
    );
    assert!(temp_traces(&dir).is_empty(), "{:?}", temp_traces(&dir));
    assert!(
        !dir.join("summary.json").exists(),
        "summary written after a failed trace"
    );
    assert!(
        dir.join("trace.jsonl/keep").exists(),
        "what was in the way is untouched"
    );
}

/// A five-node scenario with a client load and one crash at a leader's fifth disk write, just
/// before it completes.
const CRASH_AT_WRITE: &str = r#"{
  "version": 1,
  "name": "crash-at-write",
  "seed": 3,
  "cluster": { "nodes": 5 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "uniform": ["2ms", "8ms"] } },
  "storage": { "write_latency": { "normal": { "mean": "2ms", "stddev": "500us" } } },
  "workload": { "requests_per_second": 50 },
  "faults": [
    { "at": "0s", "crash_at_write": { "k": 5, "leader_only": true, "point": "before_complete", "restart_after": "100ms" } }
  ],
  "stop": { "at": "2s" }
}"#;

/// The fault parses, runs without a violation, and crashes exactly one node once — a leader,
/// as `leader_only` asks — which restarts `restart_after` later.
#[test]
fn crash_at_write_from_a_scenario_file() {
    let sc = Scenario::parse("crash-at-write.json", CRASH_AT_WRITE).expect("parses");
    let r = run(
        &sc,
        sc.seed,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert_eq!(r.outcome, Outcome::Completed);
    let records = parse(std::str::from_utf8(r.trace.as_ref().unwrap().bytes()).unwrap());
    let crashes: Vec<(u64, u32)> = records
        .iter()
        .filter_map(|r| match r.ev {
            Event::Crash { node } => Some((r.t, node)),
            _ => None,
        })
        .collect();
    let restarts: Vec<(u64, u32)> = records
        .iter()
        .filter_map(|r| match r.ev {
            Event::Restart { node, .. } => Some((r.t, node)),
            _ => None,
        })
        .collect();
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    let ((tc, n), (tr, m)) = (crashes[0], restarts[0]);
    assert_eq!(n, m, "the crashed node restarts");
    assert_eq!(tr - tc, 100_000_000, "restart_after 100ms");
    // The crashed node was leader when it crashed: its last role record before the crash.
    let at_crash = records
        .iter()
        .position(|r| matches!(r.ev, Event::Crash { .. }))
        .expect("one crash");
    let last_role = records[..at_crash].iter().rev().find_map(|r| match r.ev {
        Event::Role { node, role, .. } if node == n => Some(role),
        _ => None,
    });
    assert_eq!(
        last_role,
        Some(Role::Leader),
        "n{n} was not leader at its crash"
    );
    let (_, v) = check_records(sc.cluster.nodes, &records);
    assert!(v.is_none(), "{v:?}");
}

/// Runs `text` as a scenario file through the CLI; asserts exit 2 and no trace; returns stderr.
fn refused(text: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("case.json"), text).unwrap();
    let out = tmp.path().join("out");
    let o = raftsim()
        .current_dir(tmp.path())
        .args(["run", "case.json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert_eq!(o.status.code(), Some(2), "stderr: {stderr}");
    assert!(!out.join("trace.jsonl").exists());
    stderr
}

/// `k` counts writes from 1, so `k: 0` is bad input (exit 2), named by its field; an `until`
/// (when the fault stops waiting for its write) must come after `at`.
#[test]
fn malformed_crash_at_write_is_refused() {
    let k0 = CRASH_AT_WRITE.replacen("\"k\": 5", "\"k\": 0", 1);
    assert_ne!(k0, CRASH_AT_WRITE);
    let e = refused(&k0);
    assert!(e.contains("faults[0].crash_at_write.k"), "{e}");
    assert!(e.contains("counted from 1"), "{e}");

    let until = CRASH_AT_WRITE.replacen(
        "{ \"at\": \"0s\",",
        "{ \"at\": \"1s\", \"until\": \"1s\",",
        1,
    );
    assert_ne!(until, CRASH_AT_WRITE);
    let e = refused(&until);
    assert!(e.contains("faults[0].until"), "{e}");
    assert!(e.contains("must be after at"), "{e}");
}

/// A crash of a node that is already down is skipped, and its `until` then restarts nothing: the
/// node stays down until the fault that crashed it ends.
#[test]
fn a_skipped_crash_does_not_restart_the_node_at_its_end() {
    let text = r#"{
      "version": 1, "name": "skipped-crash",
      "cluster": { "nodes": 3 },
      "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
      "faults": [
        { "at": "1s", "crash": 3, "until": "3s" },
        { "at": "1500ms", "crash": 3, "until": "2s" }
      ],
      "stop": { "at": "4s" }
    }"#;
    let sc = Scenario::parse("skipped-crash.json", text).unwrap();
    let r = run(
        &sc,
        1,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let records = parse(std::str::from_utf8(r.trace.as_ref().unwrap().bytes()).unwrap());
    let restarts: Vec<u64> = records
        .iter()
        .filter(|r| matches!(r.ev, Event::Restart { node: 3, .. }))
        .map(|r| r.t)
        .collect();
    assert_eq!(
        restarts,
        vec![3_000_000_000],
        "restarted only by the fault that crashed it"
    );
    assert!(records.iter().any(
        |r| matches!(&r.ev, Event::FaultSkipped { reason } if reason.contains("already down"))
    ));
}

/// `raftsim check` fails a trace whose run recorded a failure (here a node's failed assertion),
/// even though the records before it pass the safety check.
#[test]
fn check_fails_a_trace_that_records_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    raftsim()
        .current_dir(root())
        .args([
            "run",
            "scenarios/basic.json",
            "--quiet",
            "--panic-after-steps",
            "100",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .code(1);
    raftsim()
        .arg("check")
        .arg(dir.join("trace.jsonl"))
        .assert()
        .code(1)
        .stdout(predicates::str::contains("Node Assertion"));
}

/// SIGTERM (as a CI runner or `timeout` sends it) stops a run at its next event: the trace so
/// far, the summary and the reproduce line are kept, as for any other early end. Before the
/// interrupt handler a killed run left nothing (its trace was an unlinked temporary file).
#[cfg(unix)]
#[test]
fn sigterm_keeps_the_trace_so_far_and_the_reproduce_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    // Minutes of simulated idling (10^9 events): the signal comes long before its end. At the
    // default event limit the run ended in about 1.6 s, a race with the signal.
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("raftsim"))
        .current_dir(root())
        .args([
            "run",
            "scenarios/basic.json",
            "--set",
            "stop.at=1000000s",
            "--set",
            "limits.max_events=1000000000",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("raftsim starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let o = child.wait_with_output().expect("raftsim ends");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("interrupted at t="), "{stderr}");
    assert!(
        stderr.contains(
            "reproduce with: raftsim run scenarios/basic.json --seed 1 --set stop.at=1000000s"
        ),
        "{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary written"))
            .expect("summary parses");
    assert_eq!(summary["outcome"], "interrupted");
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).expect("trace written");
    let records = parse(&trace);
    assert!(
        records.len() > 5,
        "the trace so far: {} records",
        records.len()
    );
    assert!(
        matches!(&records.last().expect("records").ev, Event::End { outcome, .. } if outcome == "interrupted"),
        "{:?}",
        records.last()
    );
    assert!(
        check_records(5, &records).1.is_none(),
        "the partial trace checks clean"
    );
}
