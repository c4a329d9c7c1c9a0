//! Bad input, one test per class. DESIGN "Bad input": each bad scenario gets one clear message
//! naming the file, the field (and line:column where the parser knows it) and what is allowed —
//! never a panic, never a half-written output file; and DESIGN "Files and outputs": exit code 2
//! for bad input (file, flag, value). STYLE habit 6: an operating error is a `Result` with a
//! message a user can act on.

use std::path::Path;

use assert_cmd::Command;

/// A valid scenario whose lines the cases below edit. Line numbers in the tests refer to it.
const BASE: &str = r#"{
  "version": 1,
  "name": "bad",
  "cluster": { "nodes": 5 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "constant": "5ms" }, "loss": 0.0 },
  "faults": [
    { "at": "1s", "crash": 1, "until": "1.5s" },
    { "at": "1s", "partition": [[1, 2], [3, 4, 5]], "until": "2s" }
  ],
  "stop": { "at": "3s" }
}
"#;

/// Writes `BASE` with `from` replaced by `to` to `<tmp>/case.json`, runs it with
/// `--out <tmp>/out`, asserts exit code 2, one line of message and no output files, and
/// returns the message.
fn run_edited(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "edit {from:?} is ambiguous");
    let text = BASE.replacen(from, to, 1);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("case.json");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    let stderr = expect_bad_input(
        raftsim()
            .current_dir(tmp.path())
            .args(["run", "case.json", "--out"])
            .arg(&out),
    );
    assert_no_outputs(&out);
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    stderr
}

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

/// Runs `cmd`, asserts exit code 2 and nothing on stdout, returns stderr.
fn expect_bad_input(cmd: &mut Command) -> String {
    let o = cmd.output().expect("raftsim runs");
    let stderr = String::from_utf8(o.stderr).expect("utf-8 stderr");
    assert_eq!(
        o.status.code(),
        Some(2),
        "want exit code 2 (bad input); stderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "bad input must not panic: {stderr}"
    );
    assert!(
        o.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    stderr
}

/// No trace.jsonl or summary.json (nor a temporary file of either) in `out`.
fn assert_no_outputs(out: &Path) {
    for f in ["trace.jsonl", "summary.json"] {
        assert!(!out.join(f).exists(), "{f} written despite bad input");
    }
    if let Ok(dir) = std::fs::read_dir(out) {
        let names: Vec<_> = dir.map(|e| e.unwrap().file_name()).collect();
        assert!(
            names.is_empty(),
            "files left in {}: {names:?}",
            out.display()
        );
    }
}

fn assert_has(stderr: &str, words: &[&str]) {
    for w in words {
        assert!(stderr.contains(w), "message lacks {w:?}: {stderr}");
    }
}

/// The JSON parser knows where the text stops being JSON: file and line:column.
#[test]
fn malformed_json() {
    // A missing comma after line 2's `"version": 1`.
    let stderr = run_edited(r#""version": 1,"#, r#""version": 1"#);
    assert_has(&stderr, &["case.json:3:3:", "expected `,` or `}`"]);
}

/// `deny_unknown_fields`: a typo is an error naming the unknown field, its path and the
/// allowed names, not a silently ignored setting.
#[test]
fn unknown_field() {
    let stderr = run_edited("heartbeat_interval", "heartbeat_intervl");
    assert_has(
        &stderr,
        &[
            "case.json:5:71:",
            "raft.heartbeat_intervl",
            "unknown field `heartbeat_intervl`",
            "heartbeat_interval",
        ],
    );
}

/// A value of the wrong JSON type names the field and the expected type.
#[test]
fn wrong_type() {
    let stderr = run_edited(r#""nodes": 5"#, r#""nodes": "five""#);
    assert_has(
        &stderr,
        &["case.json:4:30:", "cluster.nodes", "invalid type", "u32"],
    );
}

/// A zero heartbeat interval would make the leader loop at one instant (DESIGN "a limit on
/// everything"); validation rejects it and says what is allowed.
#[test]
fn zero_duration_where_meaningless() {
    let stderr = run_edited(
        r#""heartbeat_interval": "50ms""#,
        r#""heartbeat_interval": "0ms""#,
    );
    assert_has(
        &stderr,
        &["case.json:5:53:", "raft.heartbeat_interval", "above zero"],
    );
}

/// DESIGN "Bad input": a negative delay. Durations are unsigned; the message shows the
/// accepted forms.
#[test]
fn negative_duration() {
    let stderr = run_edited(r#""constant": "5ms""#, r#""constant": "-5ms""#);
    assert_has(
        &stderr,
        &[
            "case.json:6:44:",
            "network.delay.constant",
            "\"-5ms\"",
            "cannot be negative",
            "150ms",
        ],
    );
}

/// DESIGN "Bad input": a min timeout above its max (paper section 5.2: the timeout is drawn
/// from [min, max]).
#[test]
fn min_timeout_above_max() {
    let stderr = run_edited(r#"["150ms", "300ms"]"#, r#"["300ms", "150ms"]"#);
    assert_has(
        &stderr,
        &[
            "case.json:5:13:",
            "raft.election_timeout",
            "300ms is above max 150ms",
        ],
    );
}

/// A probability outside [0, 1].
#[test]
fn probability_out_of_range() {
    let stderr = run_edited(r#""loss": 0.0"#, r#""loss": 1.5"#);
    assert_has(
        &stderr,
        &["case.json:6:48:", "network.loss", "1.5", "[0, 1]"],
    );
}

/// DESIGN "Bad input": a node id outside the cluster (ids are 1..=nodes).
#[test]
fn node_id_outside_cluster() {
    let stderr = run_edited(r#""crash": 1"#, r#""crash": 9"#);
    assert_has(
        &stderr,
        &["case.json:8:19:", "faults[0].crash", "node 9", "1 to 5"],
    );
}

/// DESIGN "Bad input": a partition that names a node twice.
#[test]
fn node_in_two_partition_groups() {
    let stderr = run_edited("[3, 4, 5]", "[3, 4, 2]");
    assert_has(
        &stderr,
        &[
            "case.json:9:19:",
            "faults[1].partition",
            "node 2 is in two groups",
        ],
    );
}

/// An output folder that cannot be created (a regular file is in the way): exit 2 naming the
/// folder, before any work, and nothing written (DESIGN: "never a half-written output file").
#[test]
fn unwritable_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("ok.json");
    std::fs::write(&scenario, BASE).unwrap();
    std::fs::write(tmp.path().join("file"), b"not a folder").unwrap();
    let out = tmp.path().join("file").join("sub");
    let stderr = expect_bad_input(raftsim().arg("run").arg(&scenario).arg("--out").arg(&out));
    assert_has(
        &stderr,
        &[&out.display().to_string(), "not writable", "--out"],
    );
    assert_eq!(
        std::fs::read(tmp.path().join("file")).unwrap(),
        b"not a folder",
        "the file in the way was changed"
    );
    // The reason appears once, not repeated through the error chain.
    assert_eq!(stderr.matches("Not a directory").count(), 1, "{stderr}");
}

/// A scenario file that does not exist: exit 2 naming it.
#[test]
fn missing_scenario_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let stderr = expect_bad_input(
        raftsim()
            .current_dir(tmp.path())
            .args(["run", "no-such-scenario.json", "--out"])
            .arg(&out),
    );
    assert_has(&stderr, &["no-such-scenario.json", "cannot read"]);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_no_outputs(&out);
    assert!(!out.exists());
}

/// A flag value that is not a number: clap's usage error, exit 2, naming flag and value.
#[test]
fn bad_seed_value() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("ok.json");
    std::fs::write(&scenario, BASE).unwrap();
    let out = tmp.path().join("out");
    let stderr = expect_bad_input(
        raftsim()
            .arg("run")
            .arg(&scenario)
            .args(["--seed", "abc", "--out"])
            .arg(&out),
    );
    assert_has(&stderr, &["'abc'", "--seed"]);
    assert_no_outputs(&out);
}

/// The base scenario itself is valid, so each case above fails for its one edit only.
#[test]
fn base_scenario_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("ok.json");
    std::fs::write(&scenario, BASE).unwrap();
    let out = tmp.path().join("out");
    raftsim()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .assert()
        .code(0);
    assert!(out.join("trace.jsonl").is_file());
}
