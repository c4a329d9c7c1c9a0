//! What the run summary tells beyond counts (issue 12): the election table by term, how each
//! leadership ended, stale leaders stepping down and the entries they lose (§5.3: a leader's
//! uncommitted entries are replaced by the new leader's), faults that found nothing to act on,
//! nodes down at the end, and whether differing state machines only lag; one unit style in the
//! text (seconds with ms precision), no JSON in it; summary.json names the tool and the
//! scenario's hash. Each is checked against the trace, read as JSON by the test.

use crate::common;
use common::root;

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Out {
    text: String,
    summary: Value,
    trace: Vec<Value>,
}

fn run(scenario: &Path, dir: &Path) -> Out {
    run_with(scenario, dir, &[])
}

fn run_with(scenario: &Path, dir: &Path, args: &[&str]) -> Out {
    let o = Command::cargo_bin("raftsim")
        .unwrap()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Out {
        text: String::from_utf8(o.stdout).unwrap(),
        summary: serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap(),
        trace: std::fs::read_to_string(dir.join("trace.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    }
}

/// partition.json (§5.1, §5.3): n1 leads term 1 from the start, is cut off with n2, n5 wins
/// term 2; at the heal n1 steps down and n1 and n2 drop their uncommitted entries.
#[test]
fn partition_stale_leader_steps_down_and_loses_its_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = root().join("scenarios/partition.json");
    let out = run(&sc, tmp.path());
    let s = &out.summary;
    assert_eq!(s["tool"], format!("raftsim {}", env!("CARGO_PKG_VERSION")));
    let sha: String = Sha256::digest(std::fs::read(&sc).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(s["scenario_sha256"], sha);

    let terms = s["terms"].as_array().unwrap();
    assert_eq!(terms[0]["term"], 1);
    assert_eq!(terms[0]["result"], "bootstrapped");
    assert_eq!(terms[0]["winner"], 1);
    assert_eq!(terms[1]["result"], "elected");
    assert_eq!(terms[1]["winner"], 5);
    // Votes granted to n5 in term 2, counted from the trace, plus its own.
    let granted = out
        .trace
        .iter()
        .filter(|r| {
            r["ev"] == "vote" && r["candidate"] == 5 && r["term"] == 2 && r["granted"] == true
        })
        .count() as u64;
    assert_eq!(terms[1]["candidates"][0]["votes"], granted + 1);

    // n1's leadership ends when it first turns follower after the heal.
    let step = out
        .trace
        .iter()
        .find(|r| r["ev"] == "role" && r["node"] == 1 && r["role"] == "follower")
        .unwrap();
    let downs = s["leader_step_downs"].as_array().unwrap();
    assert_eq!(downs.len(), 1);
    assert_eq!(downs[0]["node"], 1);
    assert_eq!(downs[0]["at_ns"], step["t"]);
    assert_eq!(downs[0]["to_term"], step["term"]);
    assert_eq!(s["leaders"][0]["ended_at_ns"], step["t"]);
    assert_eq!(
        s["leaders"][0]["end"],
        format!("stepped down in term {}", step["term"])
    );

    // Truncations: the entries each log held past the truncation point, from the appends.
    let mut len: BTreeMap<u64, u64> = BTreeMap::new();
    let mut want = Vec::new();
    for r in &out.trace {
        match r["ev"].as_str().unwrap() {
            "append" => {
                let n = r["node"].as_u64().unwrap();
                let last = r["index"].as_u64().unwrap()
                    + r["entries"].as_array().unwrap().len() as u64
                    - 1;
                len.insert(n, last);
            }
            "truncate" => {
                let n = r["node"].as_u64().unwrap();
                let from = r["from"].as_u64().unwrap();
                want.push((n, from, len[&n] + 1 - from));
                len.insert(n, from - 1);
            }
            _ => {}
        }
    }
    let got: Vec<(u64, u64, u64)> = s["truncations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["node"].as_u64().unwrap(),
                t["from"].as_u64().unwrap(),
                t["entries"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(!want.is_empty() && want.iter().all(|w| w.2 > 0));

    // The text: one unit, no JSON, the story.
    let text = &out.text;
    assert!(
        text.contains("n1 bootstrapped at 0.000s, led until"),
        "{text}"
    );
    assert!(
        text.contains("stale leader n1 (term 1) stepped down at"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "truncated  n1 removed {} entries from index {}",
            want[0].2, want[0].1
        )),
        "{text}"
    );
    assert!(
        !text.contains('{') && !text.contains('['),
        "JSON in the text:\n{text}"
    );
    let other_unit = regex::Regex::new(r"\d(ms|us|µs|ns)\b").unwrap();
    assert!(!other_unit.is_match(text), "not in seconds:\n{text}");
    assert!(
        text.contains("outcome    completed at 6.000s after"),
        "{text}"
    );
}

/// A majority window shorter than its settling time cannot show a stable-leader failure; the
/// summary says so instead of counting it as held. basic.json's three windows (around the
/// crash at 2 s and the restart at 4 s) last 2 s each, under its 3 s settling time.
#[test]
fn windows_too_short_to_settle_are_not_called_held() {
    let sc = raftsim::scenario::Scenario::load(&root().join("scenarios/basic.json")).unwrap();
    let r = raftsim::experiment::run::run(&sc, sc.seed, Default::default());
    let a = &r.summary.availability;
    assert_eq!((a.majority_windows, a.majority_windows_unsettled), (3, 3));
    let text = raftsim::observe::summary::SummaryBuilder::render(&r.summary);
    assert!(
        text.contains("majority windows 3 with a connected majority, 0 with a stable leader throughout after 3.000s settling, 3 too short to settle"),
        "{text}"
    );
}

/// A scenario whose faults find nothing: a leader crash before any leader exists, and a node
/// crashed for good.
#[test]
fn skipped_faults_and_nodes_down_at_the_end_are_told() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("sc.json");
    std::fs::write(
        &sc,
        r#"{ "version": 1, "name": "skips", "seed": 3, "cluster": { "nodes": 3 },
  "raft": { "election_timeout": ["150ms", "300ms"], "heartbeat_interval": "50ms" },
  "network": { "delay": { "uniform": ["5ms", "10ms"] } },
  "faults": [ { "at": "1ms", "crash": "leader" }, { "at": "1s", "crash": 3 } ],
  "stop": { "at": "2s" } }"#,
    )
    .unwrap();
    let out = run(&sc, &tmp.path().join("out"));
    let skipped: Vec<&Value> = out
        .trace
        .iter()
        .filter(|r| r["ev"] == "fault_skipped")
        .collect();
    assert_eq!(skipped.len(), 1);
    let s = &out.summary;
    assert_eq!(s["faults_skipped"][0]["reason"], skipped[0]["reason"]);
    assert_eq!(s["down_at_end"], serde_json::json!([3]));
    let text = &out.text;
    assert!(
        text.contains("faults     1 fault found nothing to act on:"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  at 0.001s: {}",
            skipped[0]["reason"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(text.contains("down at end n3"), "{text}");
    assert!(
        text.contains("0 split votes") || text.contains("1 split vote "),
        "{text}"
    );
}

/// faulty.json at seed 3 stops (its `stop.when` holds) with nodes behind: their state machines
/// differ from the others' only because they applied fewer entries, all of them the others'
/// first ones.
#[test]
fn differing_digests_are_told_apart_as_lag() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_with(
        &root().join("scenarios/faulty.json"),
        tmp.path(),
        &["--seed", "3"],
    );
    // Each node's applied entries since its last restart.
    let mut applied: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for r in &out.trace {
        match r["ev"].as_str().unwrap() {
            "restart" => {
                applied.insert(r["node"].as_u64().unwrap(), Vec::new());
            }
            "apply" => applied
                .entry(r["node"].as_u64().unwrap())
                .or_default()
                .push(r["entry"].clone()),
            _ => {}
        }
    }
    let longest = applied.values().max_by_key(|v| v.len()).unwrap().clone();
    let agreement = out.summary["state_machine_agreement"].as_array().unwrap();
    assert_eq!(agreement.len(), 5);
    let mut lags = 0;
    for a in agreement {
        let n = a["node"].as_u64().unwrap();
        let mine = &applied[&n];
        let prefix = longest.starts_with(mine);
        let want = if !prefix {
            "diverged"
        } else if mine.len() < longest.len() {
            "lag"
        } else {
            "same"
        };
        assert_eq!(a["relation"], want, "n{n}");
        assert_eq!(a["behind"], (longest.len() - mine.len()) as u64, "n{n}");
        if want == "lag" {
            lags += 1;
            assert!(out
                .text
                .contains(&format!("state machine n{n}: applied {}", mine.len())));
        }
    }
    assert!(lags > 0, "faulty.json at seed 3 ends with a node behind");
    assert!(
        out.text
            .contains("a prefix of the others (lag, not divergence)"),
        "{}",
        out.text
    );
}
