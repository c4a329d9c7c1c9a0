//! Interaction tests: scripts in `tests/interaction/*.txt` drive a cluster of Raft nodes by
//! hand — which timer fires, which message arrives, which disk write completes — and hold the
//! exact outputs each step must produce. The format and its commands are described in
//! `tests/interaction/script.rs`, the output lines in `tests/interaction/cluster.rs`. Every
//! script runs against the built-in node; those that say `# nodes: raftsim raft-rs` run
//! against tikv's raft crate too, with their `status` blocks shared by both.
//!
//! A block that differs fails the test with `FILE:LINE: COMMAND` and a diff. When a change is
//! intended, rewrite the expected blocks and review them with git:
//! `UPDATE_GOLDEN=1 cargo test --release --test suite interaction::`, then `git diff tests/interaction`.

use crate::script;

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
         UPDATE_GOLDEN=1 cargo test --release --test suite interaction:: and review `git diff tests/interaction`.",
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

/// Where raft-rs's whole output of a script is kept.
fn raft_rs_file(p: &Path) -> PathBuf {
    dir().join("raft-rs").join(p.file_name().unwrap())
}

/// Scripts whose opening comment says `# nodes: raftsim raft-rs` run against tikv's raft crate
/// too. Their `status` blocks are shared: raft-rs must print exactly what the built-in node
/// prints (roles, terms, votes, leaders, commit indexes, logs in memory and on disk). Its own
/// messages, timers and writes differ in form and are kept, whole, in
/// `tests/interaction/raft-rs/`: a change detector, reviewed like the built-in node's.
#[test]
fn shared_scripts_hold_for_raft_rs_too() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut shared = Vec::new();
    for path in scripts() {
        let text = std::fs::read_to_string(&path).unwrap();
        let nodes = script::nodes(&text);
        for n in &nodes {
            assert!(
                ["raftsim", "raft-rs"].contains(&n.as_str()),
                "{}: unknown node `{n}` on its nodes: line (raftsim, raft-rs)",
                name(&path)
            );
        }
        assert!(
            nodes.iter().any(|n| n == "raftsim"),
            "{}: the script's blocks are the built-in node's; its nodes: line names raftsim",
            name(&path)
        );
        if !nodes.iter().any(|n| n == "raft-rs") {
            continue;
        }
        shared.push(path.file_name().unwrap().to_owned());
        let report = script::run_on::<raftsim::raftrs::RaftRs>(&name(&path), &text);
        failures.extend(
            report
                .status_failures
                .iter()
                .map(|f| format!("raft-rs: {f}")),
        );
        let own = raft_rs_file(&path);
        let kept = std::fs::read_to_string(&own).unwrap_or_default();
        if update {
            if kept != report.rewritten {
                std::fs::create_dir_all(own.parent().unwrap()).unwrap();
                std::fs::write(&own, &report.rewritten).unwrap();
                eprintln!("rewrote {}", own.display());
            }
        } else if kept != report.rewritten {
            let r = script::run_on::<raftsim::raftrs::RaftRs>(&name(&own), &kept);
            failures.push(format!(
                "{} is not raft-rs's output of {}:\n{}",
                name(&own),
                name(&path),
                r.failures.join("\n")
            ));
        }
    }
    assert!(shared.len() >= 3, "scripts shared with raft-rs: {shared:?}");
    // No output kept for a script that no longer runs against raft-rs.
    for e in std::fs::read_dir(dir().join("raft-rs")).unwrap() {
        let f = e.unwrap().file_name();
        assert!(
            shared.contains(&f),
            "tests/interaction/raft-rs/{}: no script names raft-rs for it",
            f.to_string_lossy()
        );
    }
    assert!(
        failures.is_empty(),
        "{}\n{} difference(s). A `status` block must hold for both nodes; for raft-rs's own \
         output, rewrite with UPDATE_GOLDEN=1 cargo test --release --test suite interaction:: and \
         review `git diff tests/interaction`.",
        failures.join("\n"),
        failures.len()
    );
}

/// The shared check can fail, and does where the two implementations part: a candidate that a
/// majority refuses. The paper's candidate stays a candidate until its timer fires again
/// (§5.2); raft-rs's returns to follower at once (its `poll` finds the election lost), keeping
/// its term and its vote for itself. `vote-denied-stale-log` is therefore the built-in node's
/// alone.
#[test]
fn where_raft_rs_differs_a_shared_status_fails() {
    let path = dir().join("vote-denied-stale-log.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(script::nodes(&text), ["raftsim"]);
    let report = script::run_on::<raftsim::raftrs::RaftRs>(&name(&path), &text);
    let [f] = &report.status_failures[..] else {
        panic!("one status differs: {:?}", report.status_failures);
    };
    assert!(
        f.contains("-n3 candidate term=2 vote=n3") && f.contains("+n3 follower term=2 vote=n3"),
        "{f}"
    );
}
