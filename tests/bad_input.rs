//! Bad input, one test per class. docs/ARCHITECTURE.md "Bad input and exit codes": each bad scenario gets one clear message
//! naming the file, the field (and line:column where the parser knows it) and what is allowed —
//! never a panic, never a half-written output file; and docs/ARCHITECTURE.md: exit code 2
//! for bad input (file, flag, value). An operating error is a `Result` with a
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
    run_text(&BASE.replacen(from, to, 1))
}

/// Writes `text` to `<tmp>/case.json` and runs it as [`run_edited`] does.
fn run_text(text: &str) -> String {
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

/// A zero heartbeat interval would make the leader loop at one instant (docs/ARCHITECTURE.md "Limits": "a limit on
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

/// Bad input: a negative delay. Durations are unsigned; the message shows the
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

/// Bad input: a min timeout above its max (paper section 5.2: the timeout is drawn
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

/// Whitespace before, inside or after a duration is rejected, as the schema's pattern for a
/// duration rejects it (`raftsim schema`), so an editor checking against the schema and a run
/// agree; the message quotes the value and gives the allowed form.
#[test]
fn duration_with_whitespace() {
    // The column is the value's closing quote; `\\t` is a tab written as a JSON escape.
    for (bad, column) in [(" 50ms", 81), ("50ms ", 81), ("50 ms", 81), ("50\\tms", 82)] {
        let stderr = run_edited(
            r#""heartbeat_interval": "50ms""#,
            &format!(r#""heartbeat_interval": "{bad}""#),
        );
        assert_has(
            &stderr,
            &[
                &format!("case.json:5:{column}:"),
                "raft.heartbeat_interval",
                &format!("invalid duration {:?}", bad.replace("\\t", "\t")),
                "whitespace is not allowed",
                "with no spaces",
                "\"1.5s\"",
                "ns, us or µs, ms, s, m or min",
            ],
        );
    }
}

/// A decimal point must be followed by a digit: "5.s" is rejected (".5s" and "5.5s" are
/// accepted), the same rule as the schema's pattern for a duration.
#[test]
fn duration_with_trailing_decimal_point() {
    let stderr = run_edited(r#""until": "1.5s""#, r#""until": "1.s""#);
    assert_has(
        &stderr,
        &[
            "case.json:8:44:",
            "faults[0].until",
            "invalid duration \"1.s\"",
            "a decimal point must be followed by a digit",
            "\".5s\"",
        ],
    );
}

/// A UTF-8 byte-order mark at the start of the file is accepted and skipped, not an error: the
/// file runs, and a later error is reported at the same file:line:column as without the mark
/// (columns on line 1 count from after it, as an editor that hides it shows them).
#[test]
fn byte_order_mark_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("bom.json");
    std::fs::write(&scenario, format!("\u{feff}{BASE}")).unwrap();
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

    let with_error = BASE.replacen(r#""version": 1,"#, r#""version": 1"#, 1);
    let stderr = run_text(&format!("\u{feff}{with_error}"));
    assert_has(&stderr, &["case.json:3:3:", "expected `,` or `}`"]);
    let stderr = run_text(&format!("\u{feff}[{BASE}]"));
    assert_has(&stderr, &["case.json:1:1:", "not an array"]);
}

/// A top-level array, e.g. `[ {...} ]`: serde would read the scenario's fields from the
/// array's elements in order and complain about the first; the message says what a scenario
/// file holds instead.
#[test]
fn top_level_array() {
    let stderr = run_text(&format!("\n  [{BASE}]\n"));
    assert_has(
        &stderr,
        &[
            "case.json:2:3:",
            "a scenario file holds one JSON object ({...}), not an array",
        ],
    );
}

/// A distribution is an object with exactly one key naming its kind (the schema's `oneOf`);
/// with two, the message lists the allowed kinds and the ones found, at the field's path and
/// the object's closing brace (the first point where the parser knows the count).
#[test]
fn distribution_with_two_kinds() {
    let stderr = run_edited(
        r#"{ "constant": "5ms" }"#,
        r#"{ "constant": "1ms", "uniform": ["1ms", "2ms"] }"#,
    );
    assert_has(
        &stderr,
        &[
            "case.json:6:72:",
            "network.delay",
            "give exactly one of constant, uniform, normal, exponential, lognormal (found 2: constant, uniform)",
        ],
    );
}

/// The same rule with no key at all.
#[test]
fn distribution_with_no_kind() {
    let stderr = run_edited(r#"{ "constant": "5ms" }"#, "{ }");
    assert_has(
        &stderr,
        &[
            "case.json:6:27:",
            "network.delay",
            "give exactly one of constant, uniform, normal, exponential, lognormal (found 0)",
        ],
    );
}

/// A number distribution (clock drift) follows the same rule with its own kinds.
#[test]
fn number_distribution_with_two_kinds() {
    let stderr = run_edited(
        r#""stop": { "at": "3s" }"#,
        r#""clocks": { "drift_ppm": { "uniform": [-5, 5], "normal": { "mean": 0, "stddev": 1 } } },
  "stop": { "at": "3s" }"#,
    );
    assert_has(
        &stderr,
        &[
            "case.json:11:87:",
            "clocks.drift_ppm",
            "give exactly one of constant, uniform, normal (found 2: uniform, normal)",
        ],
    );
}

/// A plain duration where a distribution is expected (`"delay": "5ms"`): the message says a
/// distribution is an object and names the kinds.
#[test]
fn duration_where_distribution_expected() {
    let stderr = run_edited(r#"{ "constant": "5ms" }"#, r#""5ms""#);
    assert_has(
        &stderr,
        &[
            "case.json:6:29:",
            "network.delay",
            "invalid type: string \"5ms\"",
            "an object with exactly one of constant, uniform, normal, exponential, lognormal",
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

/// Bad input: a node id outside the cluster (ids are 1..=nodes).
#[test]
fn node_id_outside_cluster() {
    let stderr = run_edited(r#""crash": 1"#, r#""crash": 9"#);
    assert_has(
        &stderr,
        &["case.json:8:19:", "faults[0].crash", "node 9", "1 to 5"],
    );
}

/// Bad input: a partition that names a node twice.
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
/// folder, before any work, and nothing written (docs/ARCHITECTURE.md: "never a half-written output file").
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

/// Bad input: a `draw` choice that makes the scenario invalid is named, with why (here a
/// cluster of 3 cannot hold the partition's nodes 4 and 5).
#[test]
fn draw_choice_that_breaks_the_scenario() {
    let stderr = run_edited(
        r#""stop": { "at": "3s" }"#,
        r#""stop": { "at": "3s" }, "draw": { "nodes": [5, 3] }"#,
    );
    assert_has(
        &stderr,
        &["case.json:", "draw.nodes[1]", "with this choice"],
    );
    let stderr = run_edited(
        r#""stop": { "at": "3s" }"#,
        r#""stop": { "at": "3s" }, "draw": { "requests_per_second": [5] }"#,
    );
    assert_has(&stderr, &["draw.requests_per_second", "no `workload`"]);
    let stderr = run_edited(
        r#""stop": { "at": "3s" }"#,
        r#""stop": { "at": "3s" }, "draw": { "read_path": ["log", "lease"] }"#,
    );
    assert_has(
        &stderr,
        &["draw.read_path[1]", "(read_path=lease)", "raft.lease_reads"],
    );
}

/// Bad input: a clock jump is instant (no `until`) and steps by more than nothing.
#[test]
fn clock_jump_with_an_end_or_no_step() {
    let stderr = run_edited(
        r#"{ "at": "1s", "crash": 1, "until": "1.5s" },"#,
        r#"{ "at": "1s", "clock_jump": { "node": 1, "by": "1s" }, "until": "1.5s" },"#,
    );
    assert_has(&stderr, &["faults[0].until", "a clock jump is instant"]);
    let stderr = run_edited(
        r#"{ "at": "1s", "crash": 1, "until": "1.5s" },"#,
        r#"{ "at": "1s", "clock_jump": { "node": 1, "by": "0s" } },"#,
    );
    assert_has(&stderr, &["faults[0].clock_jump.by", "above zero"]);
}

/// Flags a user mistyped, each refused with what is allowed, by the command that was run.
#[test]
fn seeds_trials_and_set_values_are_refused_with_their_bounds() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let basic = root.join("scenarios/basic.json");
    let top = root.join("scenarios/figure16-top.json");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for (cmd, args, says) in [
        (
            "run",
            &["--seed", "-1"][..],
            "\"-1\" is not a seed: a whole number from 0 to",
        ),
        ("run", &["--seed", "1e3"][..], "\"1e3\" is not a seed"),
        (
            "run",
            &["--set", "raft.pre_vote=true,false"][..],
            "run takes one value (a sweep takes several)",
        ),
        (
            "sweep",
            &["--trials", "1000000000000"][..],
            "1,000,000,000,000 trials is not allowed: at most 1,000,000 per sweep",
        ),
        (
            "sweep",
            &["--trials", "1e12"][..],
            "\"1e12\" is not a number of trials",
        ),
        (
            "sweep",
            &["--trials", "0"][..],
            "0 trials is not allowed: 1 to 1,000,000",
        ),
        (
            "explore",
            &["--seeds", "0..18446744073709551615"][..],
            "at most 1,000,000,000 in one search",
        ),
    ] {
        let scenario = if cmd == "sweep" { &top } else { &basic };
        let stderr = expect_bad_input(
            raftsim()
                .arg(cmd)
                .arg(scenario)
                .args(args)
                .arg("--out")
                .arg(&out),
        );
        assert!(stderr.contains(says), "{cmd} {args:?}: {stderr}");
        assert!(!stderr.contains("-- -1"), "{stderr}");
        assert!(!out.exists(), "{cmd} {args:?} wrote something");
    }
}
