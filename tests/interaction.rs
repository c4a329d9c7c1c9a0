//! Interaction tests: scripts in `tests/interaction/*.txt` drive a cluster of built-in Raft
//! nodes by hand — which timer fires, which message arrives, which disk write completes — and
//! hold the exact outputs each step must produce. The format and its commands are described in
//! `tests/interaction/script.rs`, the output lines in `tests/interaction/cluster.rs`.
//!
//! A block that differs fails the test with `FILE:LINE: COMMAND` and a diff. When a change is
//! intended, rewrite the expected blocks and review them with git:
//! `UPDATE_GOLDEN=1 cargo test --release --test interaction`, then `git diff tests/interaction`.

#[path = "interaction/cluster.rs"]
mod cluster;
#[path = "interaction/script.rs"]
mod script;

use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interaction")
}

fn scripts() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/interaction exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests/interaction/*.txt found");
    files
}

fn name(p: &Path) -> String {
    format!(
        "tests/interaction/{}",
        p.file_name().unwrap().to_string_lossy()
    )
}

#[test]
fn scripts_produce_their_expected_output() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for path in scripts() {
        let text = std::fs::read_to_string(&path).expect("readable script");
        let report = script::run(&name(&path), &text);
        if update {
            if report.rewritten != text {
                std::fs::write(&path, &report.rewritten).expect("write the script");
                eprintln!("rewrote {}", name(&path));
            }
        } else {
            failures.extend(report.failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n{} block(s) differ. If the change is intended, rewrite them with \
         UPDATE_GOLDEN=1 cargo test --release --test interaction and review `git diff tests/interaction`.",
        failures.join("\n"),
        failures.len()
    );
}

/// Every script says what it shows and where the paper says it.
#[test]
fn every_script_opens_with_a_comment_citing_the_paper() {
    for path in scripts() {
        let text = std::fs::read_to_string(&path).unwrap();
        let opening: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(!opening.is_empty(), "{} opens with a comment", name(&path));
        let opening = opening.join("\n");
        assert!(
            opening.contains('§') || opening.contains("Figure"),
            "{}: the opening comment cites a section or figure of the paper",
            name(&path)
        );
    }
}

const SMALL: &str = "\
# one node
cluster nodes=1
----
n1 start term=0 vote=- log=[]
  n1 timer election 150ms..300ms

status
----
n1 leader term=0 vote=- leader=- commit=0 log=[]
";

#[test]
fn a_differing_block_is_reported_with_its_file_line_and_a_diff() {
    let report = script::run("x.txt", SMALL);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(
        report.failures[0],
        "x.txt:7: status\n\
         --- expected\n\
         +++ actual\n\
         -n1 leader term=0 vote=- leader=- commit=0 log=[]\n\
         +n1 follower term=0 vote=- leader=- commit=0 log=[]\n"
    );
}

#[test]
fn the_rewrite_replaces_only_expected_blocks() {
    // The second block is wrong and the third has none; comments and blank lines stay.
    let text = format!("{SMALL}\n# then\ntick-election 1\n");
    let report = script::run("x.txt", &text);
    assert_eq!(report.failures.len(), 2);
    assert!(report.failures[1].starts_with("x.txt:12: tick-election 1\nno expected output"));
    let want = "\
# one node
cluster nodes=1
----
n1 start term=0 vote=- log=[]
  n1 timer election 150ms..300ms

status
----
n1 follower term=0 vote=- leader=- commit=0 log=[]

# then
tick-election 1
----
n1 election timeout
  n1 timer election 150ms..300ms
  n1 persist #1 term=1 vote=n1
  n1 role candidate term=1
";
    assert_eq!(report.rewritten, want);
    assert!(script::run("x.txt", want).failures.is_empty());
}

#[test]
fn a_command_the_state_does_not_allow_prints_an_error_and_the_script_goes_on() {
    let text = "\
cluster nodes=3 log=1 term=1 vote=1
----

bootstrap 2
----

tick-election 1
----

frobnicate
----

persist 2
----

status
----
";
    let out = script::run("x.txt", text).rewritten;
    for want in [
        "bootstrap 2\n----\nerror: n2 must be a follower that voted for itself\n",
        "frobnicate\n----\nerror: unknown command `frobnicate`",
        "persist 2\n----\nerror: n2 has no disk write pending\n",
        "n1 candidate term=2 vote=n1 leader=- commit=0 log=[1]; on disk: term=1 vote=n1 log=[1]\n",
    ] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
}
