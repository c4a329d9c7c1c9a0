//! `raftsim trace`: filters over the golden trace of `scenarios/basic.json` (a known run: n5
//! leads term 1, crashes at 2s, term 2 is a split vote between n4, n1 and n2, n1 wins term 3,
//! n5 restarts at 4s). Each filter's output is compared with what a reading of the JSON by
//! field says it must be, and the run's story is checked line by line.

use crate::common;
use common::root;

use assert_cmd::Command;
use serde_json::Value;

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

fn golden() -> std::path::PathBuf {
    root().join("tests/golden/basic.trace.jsonl")
}

fn filter(args: &[&str]) -> Vec<String> {
    let out = raftsim()
        .arg("trace")
        .arg(golden())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// The golden trace's records as JSON values.
fn records() -> Vec<Value> {
    std::fs::read_to_string(golden())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `t=...s` prefix of the human form, in µs as it prints.
fn printed_time(v: &Value) -> String {
    let t = v["t"].as_u64().unwrap();
    format!(
        "t={}.{:06}s",
        t / 1_000_000_000,
        (t % 1_000_000_000) / 1_000
    )
}

/// Output lines must be exactly the records `keep` selects, in order (compared by time and
/// kind-specific words).
fn assert_selects(args: &[&str], keep: impl Fn(&Value) -> bool) -> Vec<String> {
    let got = filter(args);
    let want: Vec<Value> = records().into_iter().filter(|v| keep(v)).collect();
    assert_eq!(got.len(), want.len(), "{args:?}: {got:#?}");
    for (line, v) in got.iter().zip(&want) {
        assert!(
            line.starts_with(&printed_time(v)),
            "{args:?}: {line} is not the record {v}"
        );
    }
    got
}

#[test]
fn no_filter_prints_every_record() {
    let all = filter(&[]);
    assert_eq!(all.len(), records().len());
    assert_eq!(all[0], "t=0.000000s start basic nodes=5 seed=1");
    assert_eq!(all.last().unwrap(), "t=6.000000s end completed events=1156");
}

#[test]
fn by_kind() {
    let leaders = assert_selects(&["--ev", "leader"], |v| v["ev"] == "leader");
    assert_eq!(
        leaders,
        [
            "t=0.175958s n5 LEADER term=1, won with 3 votes",
            "t=2.384895s n1 LEADER term=3, won with 3 votes"
        ]
    );
    assert_selects(&["--ev", "crash,restart,split_vote"], |v| {
        ["crash", "restart", "split_vote"].contains(&v["ev"].as_str().unwrap())
    });
}

#[test]
fn by_node_keeps_what_names_it_and_cluster_wide_records() {
    let names = |v: &Value, n: u64| {
        ["node", "from", "to", "candidate"]
            .iter()
            .any(|f| v[f] == n)
            || v["candidates"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| *x == n))
            || ["start", "end"].contains(&v["ev"].as_str().unwrap())
    };
    for n in 1..=5 {
        assert_selects(&["--node", &n.to_string()], |v| names(v, n));
    }
    let n5 = filter(&["--node", "5", "--ev", "role,crash,restart"]);
    assert_eq!(
        n5,
        [
            "t=0.159139s n5 becomes candidate term=1",
            "t=0.175958s n5 becomes leader term=1",
            "t=2.000000s n5 CRASH",
            "t=4.000000s n5 RESTART term=1 log_len=1",
            "t=4.046141s n5 becomes follower term=3",
        ]
    );
}

#[test]
fn by_term_and_time_together() {
    // Term 2: three candidates, nobody wins.
    assert_selects(&["--term", "2"], |v| v["term"] == 2);
    let elections = filter(&["--term", "2", "--ev", "election"]);
    assert_eq!(elections.len(), 3);
    assert_eq!(
        filter(&["--ev", "split_vote", "--term", "2"]),
        ["t=2.379035s split vote term=2 candidates=[4, 1, 2]"]
    );
    // A window: inclusive at both ends.
    let (from, to) = (2_000_000_000u64, 2_384_895_061u64);
    assert_selects(&["--from", "2s", "--to", "2.384895061s"], |v| {
        (from..=to).contains(&v["t"].as_u64().unwrap())
    });
    assert_selects(
        &["--from", "2s", "--to", "3s", "--node", "1", "--ev", "role"],
        |v| {
            (2_000_000_000..=3_000_000_000).contains(&v["t"].as_u64().unwrap())
                && v["ev"] == "role"
                && v["node"] == 1
        },
    );
}

#[test]
fn bad_filters_are_refused_with_exit_2() {
    for (args, says) in [
        (&["--ev", "leaders"][..], "not a trace event kind"),
        (&["--node", "6"][..], "nodes 1 to 5"),
        (&["--from", "3s", "--to", "2s"][..], "--from is after --to"),
        (&["--from", "2 s"][..], "--from"),
    ] {
        let out = raftsim()
            .arg("trace")
            .arg(golden())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = raftsim()
        .args(["trace", "no-such-file.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
