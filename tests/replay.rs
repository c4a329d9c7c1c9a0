//! Replay verification from the command line: `raftsim run --expect-hash` turns "same scenario +
//! same seed = the same run, byte for byte" (docs/ARCHITECTURE.md, "Determinism") into a check;
//! `raftsim diff` finds where two traces part; `raftsim check` refuses a trace cut short or out
//! of order; and the reproduce line printed on a failure replays the run as printed.

use crate::common;
use common::root;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

use raftsim::observe::trace::{hash_hex, parse_trace};

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

fn basic() -> PathBuf {
    root().join("scenarios/basic.json")
}

/// Runs `scenarios/basic.json` into `out`; returns the trace's text.
fn basic_trace(out: &Path) -> String {
    raftsim()
        .arg("run")
        .arg(basic())
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .assert()
        .code(0);
    std::fs::read_to_string(out.join("trace.jsonl")).expect("trace.jsonl written")
}

/// Writes `lines` as a trace file named `name` in `dir`.
fn write_lines(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// A replay with the hash of the run it replays passes as today (exit 0, same output); the
/// determinism contract says it always does.
#[test]
fn the_right_expected_hash_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = basic_trace(&tmp.path().join("first"));
    let hash = hash_hex(trace.as_bytes());
    raftsim()
        .arg("run")
        .arg(basic())
        .arg("--out")
        .arg(tmp.path().join("replay"))
        .args(["--quiet", "--expect-hash", &hash])
        .assert()
        .code(0)
        .stdout(format!("completed {hash}\n"))
        .stderr("");
}

/// A replay that is not byte-identical is a failed check (exit 1): both hashes are printed, and
/// the two forms of the command that reproduces this run.
#[test]
fn a_wrong_expected_hash_fails_naming_both_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let wrong = "0123456789abcdef".repeat(4);
    let o = raftsim()
        .arg("run")
        .arg(basic())
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--expect-hash", &wrong])
        .output()
        .unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert_eq!(o.status.code(), Some(1), "stderr: {stderr}");
    let got = hash_hex(&std::fs::read(out.join("trace.jsonl")).expect("the run wrote its trace"));
    assert_ne!(got, wrong);
    for want in [
        format!("expected: {wrong}"),
        format!("got:      {got}"),
        format!("reproduce with: raftsim run {} --seed 1", basic().display()),
        format!(
            "  or: cargo run --release -- run {} --seed 1",
            basic().display()
        ),
    ] {
        assert!(stderr.contains(&want), "stderr lacks {want:?}: {stderr}");
    }
}

/// A malformed hash is bad input (docs/ARCHITECTURE.md, "Bad input and exit codes"): exit 2
/// before any work, nothing on stdout, no output folder.
#[test]
fn a_malformed_expected_hash_is_bad_input_and_writes_nothing() {
    let good = "0123456789abcdef".repeat(4);
    for bad in [
        "abc".to_string(),
        good.to_uppercase(),
        format!("{}x", &good[..63]),
        format!("{good}0"),
        String::new(),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = raftsim()
            .arg("run")
            .arg(basic())
            .arg("--out")
            .arg(&out)
            .arg(format!("--expect-hash={bad}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8(o.stderr).unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(o.stdout.is_empty(), "{bad:?}: output on stdout");
        assert!(stderr.contains("--expect-hash"), "{bad:?}: {stderr}");
        assert!(stderr.contains("64 lowercase hex"), "{bad:?}: {stderr}");
        assert!(!out.exists(), "{bad:?}: the output folder was created");
    }
}

/// A trace compared with itself (and with a replay of the same run) is identical, exit 0.
#[test]
fn diff_of_a_trace_with_itself_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = basic_trace(&tmp.path().join("a"));
    basic_trace(&tmp.path().join("b"));
    let n = trace.lines().count();
    let a = tmp.path().join("a/trace.jsonl");
    for other in [&a, &tmp.path().join("b/trace.jsonl")] {
        raftsim()
            .arg("diff")
            .arg(&a)
            .arg(other)
            .assert()
            .code(0)
            .stdout(format!("identical: {n} records\n"));
    }
}

/// One record changed in the middle: the report names its line in each file, shows both
/// records in the human form and the common records before them (3 by default), exit 1.
#[test]
fn diff_reports_the_line_of_a_changed_record() {
    let tmp = tempfile::tempdir().unwrap();
    let text = basic_trace(&tmp.path().join("run"));
    let lines: Vec<&str> = text.lines().collect();
    let mid = lines.len() / 2;
    let original = &parse_trace(lines[mid]).unwrap()[0];
    let forged = format!(
        "{{\"t\":{},\"ev\":\"fault_skipped\",\"reason\":\"tampered\"}}",
        original.t
    );
    let mut changed = lines.clone();
    changed[mid] = &forged;
    let a = write_lines(tmp.path(), "a.jsonl", &lines);
    let b = write_lines(tmp.path(), "b.jsonl", &changed);
    let o = raftsim().arg("diff").arg(&a).arg(&b).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let line = mid + 1;
    assert!(
        stdout.contains(&format!(
            "first difference at record {line}: {}:{line} and {}:{line}",
            a.display(),
            b.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("- {line}  {original}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("+ {line}  t=")) && stdout.contains("fault skipped: tampered"),
        "{stdout}"
    );
    for before in &lines[mid - 3..mid] {
        let rec = &parse_trace(before).unwrap()[0];
        assert!(
            stdout.contains(&rec.to_string()),
            "no context {rec}: {stdout}"
        );
    }
    let earlier = &parse_trace(lines[mid - 4]).unwrap()[0];
    assert!(
        !stdout.contains(&format!("  {}  {earlier}", mid - 3)),
        "{stdout}"
    );
    // --context widens it.
    let o = raftsim()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--context", "5"])
        .output()
        .unwrap();
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains(&earlier.to_string()));
}

/// A trace cut short (the last lines removed) is a prefix of the full one: `diff` says which
/// ends first and where (exit 1), and `check` reports it incomplete (exit 1), since a run always
/// writes its `end` record last.
#[test]
fn a_truncated_trace_is_a_prefix_for_diff_and_incomplete_for_check() {
    let tmp = tempfile::tempdir().unwrap();
    let text = basic_trace(&tmp.path().join("run"));
    let lines: Vec<&str> = text.lines().collect();
    let kept = lines.len() - 5;
    let full = write_lines(tmp.path(), "full.jsonl", &lines);
    let cut = write_lines(tmp.path(), "cut.jsonl", &lines[..kept]);
    raftsim()
        .arg("diff")
        .arg(&full)
        .arg(&cut)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "{} ends first, after line {kept}: it is the first {kept} of the {} records of {}, which goes on at line {}",
            cut.display(),
            lines.len(),
            full.display(),
            kept + 1
        )));
    raftsim()
        .arg("check")
        .arg(&cut)
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("ok").not())
        .stderr(predicate::str::contains(
            "the trace is incomplete: no `end` record (the run was cut short, or the file truncated)",
        ));
    // The full trace still checks clean.
    raftsim()
        .arg("check")
        .arg(&full)
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("ok: "));
}

/// A trace cut mid-record (its writer stopped while writing a line) reads as incomplete too:
/// the partial last line is left out with a note naming it, `check` exits 1, and `trace` shows
/// what came before. A bad line anywhere else is still bad input (exit 2).
#[test]
fn a_trace_cut_mid_line_is_incomplete_not_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let text = basic_trace(&tmp.path().join("run"));
    let half = text.len() / 2;
    let at = half + text[half..].find('\n').unwrap() + 10;
    let cut = tmp.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..at]).unwrap();
    let line = text[..at].lines().count();
    let note = format!(
        "{}:{line}: the last line is cut off mid-record",
        cut.display()
    );
    raftsim()
        .arg("check")
        .arg(&cut)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(note.clone()))
        .stderr(predicate::str::contains("the trace is incomplete"));
    raftsim()
        .arg("trace")
        .arg(&cut)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(note));
    // The same partial line followed by a newline is not a cut: bad input.
    std::fs::write(&cut, format!("{}\n", &text[..at])).unwrap();
    raftsim()
        .arg("check")
        .arg(&cut)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a trace event"));
}

/// A trace follows one virtual clock; a record earlier than the one before it is not a trace
/// the simulator writes, so `check` refuses it as bad input (exit 2) naming the line.
#[test]
fn check_refuses_times_going_backwards() {
    let tmp = tempfile::tempdir().unwrap();
    let text = basic_trace(&tmp.path().join("run"));
    let mut lines: Vec<&str> = text.lines().collect();
    let times: Vec<u64> = lines.iter().map(|l| parse_trace(l).unwrap()[0].t).collect();
    let i = (1..lines.len() - 1)
        .find(|&i| times[i] < times[i + 1])
        .expect("time advances somewhere");
    lines.swap(i, i + 1);
    let path = write_lines(tmp.path(), "backwards.jsonl", &lines);
    raftsim()
        .arg("check")
        .arg(&path)
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains(format!("backwards.jsonl:{}:", i + 2))
                .and(predicate::str::contains("time goes backwards")),
        );
}

/// `diff` input that cannot be read or parsed is bad input (exit 2), naming the file and line.
#[test]
fn diff_refuses_unreadable_or_unparseable_traces() {
    let tmp = tempfile::tempdir().unwrap();
    let start = r#"{"t":0,"ev":"start","nodes":3,"seed":1,"scenario":"x"}"#;
    let good = write_lines(tmp.path(), "good.jsonl", &[start]);
    let bad = write_lines(
        tmp.path(),
        "bad.jsonl",
        &[start, r#"{"t":1,"ev":"nonsense"}"#],
    );
    raftsim()
        .arg("diff")
        .arg(&good)
        .arg(&bad)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("bad.jsonl:2:"));
    raftsim()
        .arg("diff")
        .arg(tmp.path().join("missing.jsonl"))
        .arg(&good)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("missing.jsonl").and(predicate::str::contains("cannot read")),
        );
}

/// The reproduce line is printed in both forms and works as printed: run from the same folder,
/// the `raftsim run` line writes the same trace byte for byte, keeping the flags that change
/// what the run writes (the seed, `--trace-level`, the testing aid `--panic-after-steps`).
#[test]
fn the_reproduce_line_replays_the_run_as_printed() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(basic(), tmp.path().join("basic.json")).unwrap();
    let o = raftsim()
        .current_dir(tmp.path())
        .args([
            "run",
            "basic.json",
            "--out",
            "first",
            "--trace-level",
            "messages",
            "--panic-after-steps",
            "60",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "a panic is a failed check: {stderr}"
    );
    let args = "run basic.json --seed 1 --trace-level messages --panic-after-steps 60";
    assert!(
        stderr.contains(&format!("reproduce with: raftsim {args}\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("  or: cargo run --release -- {args}\n")),
        "{stderr}"
    );
    let printed = stderr
        .lines()
        .find_map(|l| l.strip_prefix("reproduce with: raftsim "))
        .unwrap();
    raftsim()
        .current_dir(tmp.path())
        .args(printed.split_whitespace())
        .assert()
        .code(1);
    let first = std::fs::read(tmp.path().join("first/trace.jsonl")).unwrap();
    let again = std::fs::read(tmp.path().join("output/basic-1/trace.jsonl")).unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("\"property\":\"Node Assertion\""),
        "the node panicked as asked (a named violation)"
    );
    assert!(
        first == again,
        "the printed command wrote a different trace"
    );
}
