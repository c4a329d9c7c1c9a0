//! Limits on everything a user can ask for (docs/ARCHITECTURE.md "Limits"; docs/RUNNING.md "Limits").
//! Each request above a bound is refused up front: exit code 2 (docs/ARCHITECTURE.md "Bad
//! input and exit codes"), one message naming the flag, file or field, the bound and why,
//! nothing written, and it returns at once. What cannot be known before a run (a cluster sent
//! more than it handles) is bounded during the run instead.
//!
//! Every command here runs under a memory limit and a timeout, so that a refusal that stopped
//! happening fails the test instead of filling the machine's memory or running for hours.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

use crate::common;
use common::root;

/// A valid scenario with a client load, whose lines the cases below edit.
const LOAD: &str = r#"{
  "version": 1,
  "name": "load",
  "cluster": { "nodes": 3 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "uniform": ["2ms", "8ms"] } },
  "workload": { "requests_per_second": 1000 },
  "stop": { "at": "60s" }
}
"#;

/// The raftsim binary run through `sh` with at most 2 GB of address space and for at most
/// 60 s; `args` follow the binary.
fn limited(args: &[&str]) -> Command {
    let bin = assert_cmd::cargo::cargo_bin("raftsim");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -v 2000000 && exec "$0" "$@""#)
        .arg(bin)
        .args(args)
        .timeout(Duration::from_secs(60));
    cmd
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `cmd`, asserts exit code 2 (no panic, no abort, nothing on stdout) and returns the one
/// line of message.
fn refused(cmd: &mut Command) -> String {
    let o = cmd.output().expect("raftsim runs");
    let stderr = stderr_of(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "want exit code 2; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    stderr
}

fn assert_has(stderr: &str, words: &[&str]) {
    for w in words {
        assert!(stderr.contains(w), "message lacks {w:?}: {stderr}");
    }
}

/// A temporary folder holding `case.json` with `text`, and the path `--out` will name (which
/// must not exist after a refusal).
fn case(text: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("case.json"), text).unwrap();
    let out = tmp.path().join("out");
    (tmp, out)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `raftsim run case.json --out OUT` in `tmp`: refused, and no output folder.
fn run_refused(text: &str) -> String {
    let (tmp, out) = case(text);
    let stderr = refused(limited(&["run", "case.json", "--out", s(&out)]).current_dir(tmp.path()));
    assert!(!out.exists(), "a refused run left {}", out.display());
    stderr
}

/// `raftsim sweep SCENARIO ARGS --out OUT`: refused, and no output folder.
fn sweep_refused(scenario: &Path, args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut all = vec!["sweep", s(scenario), "--quiet", "--out", s(&out)];
    all.extend_from_slice(args);
    let stderr = refused(&mut limited(&all));
    assert!(!out.exists(), "a refused sweep left {}", out.display());
    stderr
}

fn figure16_top() -> PathBuf {
    root().join("scenarios/figure16-top.json")
}

/// `--trials 4294967295` used to abort on a failed 64 GB allocation (the sweep keeps one
/// result per trial): now refused, naming the flag and the bound of 1,000,000 trials.
#[test]
fn trials_above_the_bound_per_configuration() {
    let stderr = sweep_refused(&figure16_top(), &["--trials", "4294967295"]);
    assert_has(
        &stderr,
        &["--trials", "4,294,967,295", "1,000,000", "trials.csv"],
    );
}

/// The bound holds across the grid too: 1,000,000 trials for each of the scenario's six
/// ranges is six million.
#[test]
fn trials_above_the_bound_across_the_grid() {
    let stderr = sweep_refused(&figure16_top(), &["--trials", "1000000"]);
    assert_has(
        &stderr,
        &["--trials", "6,000,000", "6 configurations", "1,000,000"],
    );
}

/// The scenario's own `sweep.trials` and `sweep.ranges[].trials` have the same bound, named by
/// their field, for `run` (which validates the whole file) as for `sweep`.
#[test]
fn scenario_sweep_trials_above_the_bound() {
    let text = std::fs::read_to_string(figure16_top()).unwrap();
    let per_range = text.replacen(
        r#"{ "timeout": ["150ms", "150ms"], "trials": 100 }"#,
        r#"{ "timeout": ["150ms", "150ms"], "trials": 1000001 }"#,
        1,
    );
    assert_ne!(per_range, text, "the edit applies");
    let (tmp, _) = case(&per_range);
    let stderr = sweep_refused(&tmp.path().join("case.json"), &[]);
    assert_has(
        &stderr,
        &["sweep.ranges[0].trials", "1,000,001", "1,000,000"],
    );

    let default = text.replacen(r#""trials": 1000,"#, r#""trials": 2000000,"#, 1);
    assert_ne!(default, text, "the edit applies");
    let stderr = run_refused(&default);
    assert_has(&stderr, &["sweep.trials", "2,000,000", "1,000,000"]);
}

/// A grid of ranges × cluster sizes × `--set` values above 1000 configurations is refused
/// before any of it is built, naming the axes and the bound.
#[test]
fn grid_above_the_bound() {
    let values: Vec<String> = (0..1001).map(|i| format!("{}", i as f64 / 1e5)).collect();
    let set = format!("network.loss={}", values.join(","));
    let stderr = sweep_refused(&figure16_top(), &["--trials", "1", "--set", &set]);
    assert_has(
        &stderr,
        &[
            "--set",
            "6,006 configurations",
            "1001 values of network.loss",
            "1,000",
        ],
    );
}

/// `--jobs 100000` would start a hundred thousand threads; refused, naming the bound (1024).
#[test]
fn jobs_above_the_bound() {
    let stderr = sweep_refused(&figure16_top(), &["--jobs", "100000"]);
    assert_has(&stderr, &["--jobs 100000", "1 to 1024"]);
}

/// A scenario file above 1 MiB is refused without being parsed, naming the file and the bound.
#[test]
fn scenario_file_above_the_bound() {
    let mut text = LOAD.to_string();
    text.push_str(&" ".repeat((1 << 20) + 1 - text.len()));
    let stderr = run_refused(&text);
    assert_has(&stderr, &["case.json", "larger than 1 MiB"]);
}

/// A pipe is read through a size limit, so it cannot grow past the bound either.
#[test]
fn scenario_pipe_above_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let stderr = refused(
        limited(&["run", "/dev/stdin", "--out", s(&out)]).write_stdin(vec![b' '; (1 << 20) + 1]),
    );
    assert_has(&stderr, &["/dev/stdin", "larger than 1 MiB"]);
    assert!(!out.exists());
}

/// `raftsim run /dev/zero` read until memory ran out; a device is refused at once, by name.
#[test]
fn run_of_a_device_is_refused() {
    let stderr = run_refused_path("/dev/zero");
    assert_has(&stderr, &["/dev/zero", "a character device, not a file"]);
}

fn run_refused_path(path: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let stderr = refused(&mut limited(&["run", path, "--out", s(&out)]));
    assert!(!out.exists());
    stderr
}

/// `raftsim check /dev/zero` likewise.
#[test]
fn check_of_a_device_is_refused() {
    let stderr = refused(&mut limited(&["check", "/dev/zero"]));
    assert_has(&stderr, &["/dev/zero", "a character device, not a file"]);
}

/// A trace above 512 MiB is refused from its size alone, before it is read (the file here is
/// sparse: it takes no disk space).
#[test]
fn trace_file_above_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.jsonl");
    std::fs::File::create(&path)
        .unwrap()
        .set_len((512 << 20) + 1)
        .unwrap();
    let stderr = refused(&mut limited(&["check", s(&path)]));
    assert_has(&stderr, &["big.jsonl", "larger than 512 MiB", "in memory"]);
}

/// The scenario that grew to 1.5 GB: 1,000,000 requests/s for a minute is 60 million client
/// requests, each kept for the client statistics and an entry in every node's log. Refused,
/// naming the field, the count and the bound.
#[test]
fn workload_above_the_request_bound() {
    let stderr = run_refused(&LOAD.replace(
        r#""requests_per_second": 1000"#,
        r#""requests_per_second": 1000000"#,
    ));
    assert_has(
        &stderr,
        &[
            "case.json:7:17:",
            "workload.requests_per_second",
            "60,000,001 requests",
            "at most 1,000,000",
        ],
    );
}

/// With 64 nodes every request is 64 log entries: the bound is requests × nodes ≤ 5,000,000,
/// so 100,000 requests are too many there although they would do for 3 nodes.
#[test]
fn workload_above_the_log_entry_bound() {
    let stderr = run_refused(
        &LOAD
            .replace(r#""nodes": 3"#, r#""nodes": 64"#)
            .replace(r#""at": "60s""#, r#""at": "100s""#),
    );
    assert_has(
        &stderr,
        &[
            "workload.requests_per_second",
            "100,001 requests",
            "at most 78,125 are allowed with 64 nodes",
            "5,000,000",
        ],
    );
}

/// One AppendEntries copies up to `max_entries_per_message` entries; above 1024 is refused.
#[test]
fn entries_per_message_above_the_bound() {
    let stderr = run_refused(&LOAD.replace(
        r#""heartbeat_interval": "50ms""#,
        r#""heartbeat_interval": "50ms", "max_entries_per_message": 1000000000"#,
    ));
    assert_has(
        &stderr,
        &["raft.max_entries_per_message", "1000000000", "1 to 1024"],
    );
}

/// Catch-up rounds before a membership change adds servers (dissertation §4.2.1): above 100
/// is refused, exit 2, naming the field and the bound.
#[test]
fn catch_up_rounds_above_the_bound() {
    let stderr = run_refused(&LOAD.replace(
        r#""heartbeat_interval": "50ms""#,
        r#""heartbeat_interval": "50ms", "catch_up_rounds": 101"#,
    ));
    assert_has(
        &stderr,
        &["raft.catch_up_rounds", "101", "0 (no catch-up) to 100"],
    );
}

/// A cluster sent more than it handles cannot be told apart up front: the leader re-sends to
/// a follower it is probing on every request and every answer, so messages in flight grow
/// with every request. The run stops once more messages are in flight than its bound
/// (16,384 with 1024 entries per message) with outcome `queue_limit`, exit code 1 and a
/// message naming the bound, and keeps what it wrote up to then.
#[test]
fn an_overloaded_cluster_stops_at_the_queue_limit() {
    let text = LOAD
        .replace(
            r#""election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms""#,
            r#""election_timeout": ["10ms", "20ms"], "heartbeat_interval": "5ms", "max_entries_per_message": 1024"#,
        )
        .replace(
            r#""requests_per_second": 1000"#,
            r#""requests_per_second": 1000000, "end": "999ms""#,
        )
        .replace(r#""at": "60s""#, r#""at": "1s""#);
    let (tmp, out) = case(&text);
    let o = limited(&["run", "case.json", "--quiet", "--out", s(&out)])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = stderr_of(&o);
    assert_eq!(o.status.code(), Some(1), "stderr: {stderr}");
    assert_has(
        &stderr,
        &["16,384 messages in flight", "max_entries_per_message 1024"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.starts_with("queue_limit "), "{stdout}");
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).unwrap();
    let end = trace.lines().last().unwrap();
    assert!(end.contains(r#""outcome":"queue_limit""#), "{end}");
}

/// The queue bounds from the library: a run whose queue or messages in flight pass the
/// configured bound ends with `QueueLimit`, and the same run within them does not.
#[test]
fn queue_bounds_end_a_run() {
    use raftsim::node::Node;
    use raftsim::scenario::Scenario;
    use raftsim::world::{run, Outcome, TraceLevel};

    let sc = Scenario::load(&root().join("scenarios/basic.json")).unwrap();
    let cfg = sc.compile();
    let r = run::<Node, _>(&cfg, &Default::default(), 1, TraceLevel::Events, &mut ());
    assert_eq!(r.outcome, Outcome::Completed);

    let mut few_events = cfg.clone();
    few_events.max_queued = 3;
    let r = run::<Node, _>(
        &few_events,
        &Default::default(),
        1,
        TraceLevel::Events,
        &mut (),
    );
    assert_eq!(r.outcome, Outcome::QueueLimit);

    let mut few_messages = cfg.clone();
    few_messages.max_in_flight = 2;
    let r = run::<Node, _>(
        &few_messages,
        &Default::default(),
        1,
        TraceLevel::Events,
        &mut (),
    );
    assert_eq!(r.outcome, Outcome::QueueLimit);
}

/// A run that is killed leaves nothing behind, not even an empty output folder: the trace
/// streams into an unnamed file, and the folder is made when the files take their names.
#[test]
fn a_killed_run_leaves_no_folder() {
    let long = std::fs::read_to_string(root().join("scenarios/basic.json"))
        .unwrap()
        .replace(
            r#""stop": { "at": "6s" }"#,
            r#""stop": { "at": "6000m" }, "limits": { "max_events": 1000000000000 }"#,
        );
    assert!(long.contains("6000m"), "the edit applies");
    let (tmp, _) = case(&long);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("raftsim"))
        .args(["run", "case.json", "--quiet"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run should still be going"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["case.json"], "left behind: {left:?}");
}
