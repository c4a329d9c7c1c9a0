//! The `raftsim run` and `raftsim schema` command lines, end to end: every shipped scenario
//! runs, runs are reproducible byte for byte, the golden trace of `scenarios/basic.json`, the
//! default output folder, `--quiet`, and the schema.
//!
//! Golden files are rewritten only on purpose: `UPDATE_GOLDEN=1 cargo test --release --test suite cli::`, then
//! read the diff before committing it (docs/ARCHITECTURE.md "Testing").

use crate::common;
use common::{root, scenario_files};

use std::path::Path;

use assert_cmd::Command;
use sha2::{Digest, Sha256};

/// Shipped scenarios documented to end in a failed property or liveness check (exit 1), by
/// file name. Such a scenario must say so in its description. None today.
/// Scenarios that show a named failure of plain Raft (see their descriptions).
const EXPECTED_TO_FAIL: &[&str] = &["partial-connectivity.json"];

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

/// Output of one `raftsim run --quiet`: exit code, stdout, and the files it wrote.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    trace: Vec<u8>,
    summary: serde_json::Value,
}

fn run_quiet(scenario: &Path, seed: Option<u64>, out: &Path) -> Run {
    let mut cmd = raftsim();
    cmd.arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet");
    if let Some(s) = seed {
        cmd.arg("--seed").arg(s.to_string());
    }
    let o = cmd.output().expect("raftsim runs");
    let trace = std::fs::read(out.join("trace.jsonl")).unwrap_or_else(|e| {
        panic!(
            "{}: no trace.jsonl in {}: {e}\nstderr: {}",
            scenario.display(),
            out.display(),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let summary = std::fs::read(out.join("summary.json")).expect("summary.json written");
    Run {
        code: o.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(o.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(o.stderr).expect("utf-8 stderr"),
        trace,
        summary: serde_json::from_slice(&summary).expect("summary.json is JSON"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash printed by `--quiet` ("<outcome> <hash>").
fn printed_hash(stdout: &str) -> &str {
    stdout
        .split_whitespace()
        .nth(1)
        .expect("quiet prints a hash")
}

/// docs/ARCHITECTURE.md "Outputs" (each shipped scenario runs; exit 0 ok, 1 a property failed) and
/// "Determinism rules" (same scenario + seed = the same run byte for byte; the summary prints a
/// hash of the trace; a different seed drives different draws). Covers every scenarios/*.json.
#[test]
fn every_shipped_scenario_runs_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, sc) in scenario_files().iter().enumerate() {
        let name = sc.file_name().unwrap().to_string_lossy().into_owned();
        let expected = if EXPECTED_TO_FAIL.contains(&name.as_str()) {
            1
        } else {
            0
        };
        let repro = format!("raftsim run {} --quiet", sc.display());
        let a = run_quiet(sc, None, &tmp.path().join(format!("{i}-a")));
        assert_eq!(
            a.code, expected,
            "{name}: exit code (reproduce with `{repro}`)\nstdout: {}\nstderr: {}",
            a.stdout, a.stderr
        );
        assert!(!a.trace.is_empty(), "{name}: empty trace");
        let hash = printed_hash(&a.stdout).to_string();
        assert_eq!(
            hash,
            sha256_hex(&a.trace),
            "{name}: hash is SHA-256 of trace"
        );
        assert_eq!(
            a.summary["trace_hash"],
            hash.as_str(),
            "{name}: summary hash"
        );

        // Same command again: identical bytes and hash.
        let b = run_quiet(sc, None, &tmp.path().join(format!("{i}-b")));
        assert_eq!(b.code, a.code, "{name}: exit code differs between two runs");
        assert!(
            a.trace == b.trace,
            "{name}: two runs of `{repro}` wrote different traces; first differing line {}",
            first_difference(&a.trace, &b.trace)
        );
        assert_eq!(printed_hash(&b.stdout), hash, "{name}: hash differs");

        // Another seed: another run.
        let seed = a.summary["seed"].as_u64().expect("summary has the seed") + 1;
        let c = run_quiet(sc, Some(seed), &tmp.path().join(format!("{i}-c")));
        assert_eq!(c.summary["seed"], seed, "{name}: --seed is used");
        assert_ne!(
            c.trace, a.trace,
            "{name}: --seed {seed} wrote the same trace as the default seed"
        );
        assert_ne!(
            printed_hash(&c.stdout),
            hash,
            "{name}: same hash for another seed"
        );
    }
}

/// 1-based number of the first line where two traces differ, for failure messages.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let mut la = a.lines();
    let mut lb = b.lines();
    for n in 1.. {
        match (la.next(), lb.next()) {
            (None, None) => return "(none: same lines)".into(),
            (x, y) if x != y => {
                return format!(
                    "{n}:\n  - {}\n  + {}",
                    x.unwrap_or("<end>"),
                    y.unwrap_or("<end>")
                )
            }
            _ => {}
        }
    }
    unreachable!()
}

/// docs/ARCHITECTURE.md "Testing" (golden traces for shipped scenarios, rewritten only through an explicit
/// switch) and "Determinism" (same seed, same trace on any machine): the trace of
/// `scenarios/basic.json` at its own seed, byte for byte. A change to the simulator that moves
/// any event shows up here as a diff to review; then `UPDATE_GOLDEN=1 cargo test --release --test suite cli::`.
#[test]
fn basic_scenario_matches_golden_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_quiet(&root().join("scenarios/basic.json"), None, tmp.path());
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let golden = root().join("tests/golden/basic.trace.jsonl");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &run.trace).expect("write the golden file");
        eprintln!("rewrote {}", golden.display());
        return;
    }
    let want = std::fs::read(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_GOLDEN=1 cargo test --release --test suite cli::",
            golden.display()
        )
    });
    assert!(
        run.trace == want,
        "scenarios/basic.json no longer matches {}; first differing line {}\n\
         If the change is intended, rewrite with UPDATE_GOLDEN=1 cargo test --release --test suite cli:: and review the diff.",
        golden.display(),
        first_difference(&want, &run.trace)
    );
}

/// docs/ARCHITECTURE.md "Outputs": runs write to output/<name>-<seed>/ unless told otherwise
/// (--help says the same). Run from a fresh folder holding only a copy of the scenario.
#[test]
fn default_output_folder_is_output_name_seed() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("scenarios/basic.json"),
        tmp.path().join("sc.json"),
    )
    .unwrap();
    raftsim()
        .current_dir(tmp.path())
        .args(["run", "sc.json", "--quiet"])
        .assert()
        .code(0);
    // The scenario's own seed is 1 and its name "basic" (not the file name).
    let dir = tmp.path().join("output/basic-1");
    assert!(dir.join("trace.jsonl").is_file(), "no {}", dir.display());
    assert!(dir.join("summary.json").is_file());

    raftsim()
        .current_dir(tmp.path())
        .args(["run", "sc.json", "--quiet", "--seed", "7"])
        .assert()
        .code(0);
    let dir7 = tmp.path().join("output/basic-7");
    assert!(dir7.join("trace.jsonl").is_file(), "no {}", dir7.display());
    // Atomic writes leave no temporary files behind (docs/ARCHITECTURE.md "Outputs").
    let mut names: Vec<String> = std::fs::read_dir(&dir7)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["summary.json", "trace.jsonl"]);
}

/// `--quiet` prints only the outcome and the trace hash (its --help; README "What it does": "prints a
/// summary ... and a trace hash"), one line, for scripts that compare hashes.
#[test]
fn quiet_prints_outcome_and_hash_only() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_quiet(&root().join("scenarios/basic.json"), None, tmp.path());
    assert_eq!(run.code, 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "quiet printed {:?}", run.stdout);
    let words: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(
        words.len(),
        2,
        "want `<outcome> <hash>`, got {:?}",
        lines[0]
    );
    assert_eq!(words[0], "completed");
    assert_eq!(words[1].len(), 64);
    assert!(words[1].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);
}

/// `raftsim schema` prints the JSON Schema of the scenario file (docs/ARCHITECTURE.md "Scenario files": field names settled
/// and kept stable); a tool or editor can read it.
#[test]
fn schema_is_json_describing_the_scenario() {
    let out = raftsim().arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("schema is valid JSON");
    let props = schema["properties"]
        .as_object()
        .expect("schema has properties");
    for field in ["cluster", "raft", "network", "faults", "stop"] {
        assert!(props.contains_key(field), "schema lacks {field}");
    }
}

/// Every command's logic is reachable in-process (docs/ARCHITECTURE.md, `cli`): the steps of
/// `raftsim run`, called from the library, write the trace the binary writes.
#[test]
fn a_run_in_process_writes_what_the_binary_writes() {
    use raftsim::cli::run::{execute, failure_message, prepare, RunFlags};
    let dir = tempfile::tempdir().unwrap();
    let path = root().join("scenarios/basic.json");
    let flags = RunFlags {
        out: Some(dir.path().join("lib")),
        ..RunFlags::default()
    };
    let p = prepare(&path, &flags).unwrap();
    let (result, _, hash) = execute(&p, &flags).unwrap();
    assert_eq!(failure_message(&result, &p), None);
    let bin = dir.path().join("bin");
    let out = raftsim()
        .arg("run")
        .arg(&path)
        .arg("--quiet")
        .arg("--out")
        .arg(&bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.trim(), format!("completed {hash}"));
    let read = |d: &Path| std::fs::read(d.join("trace.jsonl")).unwrap();
    assert_eq!(read(&dir.path().join("lib")), read(&bin));
}

/// What a failed run says comes from the library too: a run cut by its event bound, and a
/// planted bug's violation, each named with what the user can act on.
#[test]
fn a_failed_run_says_why_in_process() {
    use raftsim::cli::run::{execute, failure_message, hash_mismatch, prepare, RunFlags};
    use raftsim::world::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let cut = RunFlags {
        out: Some(dir.path().join("cut")),
        sets: vec!["limits.max_events=200".into()],
        ..RunFlags::default()
    };
    let p = prepare(&root().join("scenarios/basic.json"), &cut).unwrap();
    let (result, _, hash) = execute(&p, &cut).unwrap();
    assert_eq!(result.outcome, Outcome::EventLimit);
    let said = failure_message(&result, &p).expect("an incomplete run fails");
    assert!(said.contains("limits.max_events (200)"), "{said}");
    assert_eq!(hash_mismatch(Some(&hash), &hash, &p.dir), None);
    let wrong = "0".repeat(64);
    let said = hash_mismatch(Some(&wrong), &hash, &p.dir).expect("another hash fails");
    assert!(said.contains(&wrong) && said.contains(&hash), "{said}");

    let planted = RunFlags {
        out: Some(dir.path().join("bug")),
        seed: Some(3),
        bugs: vec!["no-session-dedup".into()],
        ..RunFlags::default()
    };
    let p = prepare(&root().join("scenarios/clients.json"), &planted).unwrap();
    assert!(p.repro.to_string().contains("--bug no-session-dedup"));
    let (result, _, _) = execute(&p, &planted).unwrap();
    let said = failure_message(&result, &p).expect("the planted bug is caught");
    assert!(
        said.starts_with("property failed: Linearizability"),
        "{said}"
    );
}

/// `cli::main_from` runs a command line in-process with the exit codes of the shell.
#[test]
fn a_command_line_runs_in_process_with_its_exit_code() {
    use raftsim::cli::main_from;
    use std::process::ExitCode;
    assert_eq!(main_from(["raftsim", "--version"]), ExitCode::SUCCESS);
    assert_eq!(
        main_from(["raftsim", "run", "--seed", "x", "a.json"]),
        ExitCode::from(2)
    );
    assert_eq!(
        main_from(["raftsim", "check", "/no/such/trace.jsonl"]),
        ExitCode::from(2)
    );
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let run = raftsim()
        .args(["run", "scenarios/basic.json", "--quiet", "--out"])
        .arg(dir.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(run.status.success());
    std::fs::rename(dir.path().join("trace.jsonl"), &trace).unwrap();
    let t = trace.to_str().unwrap();
    assert_eq!(main_from(["raftsim", "check", t]), ExitCode::SUCCESS);
}
