//! The Perfetto export (`--perfetto FILE.json`): for `scenarios/basic.json` the file is
//! compared byte for byte with `tests/golden/basic.perfetto.json` (a change detector, rewritten
//! only with `UPDATE_GOLDEN=1 cargo test --release --test suite perfetto::` and a reviewed diff), and its
//! structure is checked against the trace: a track per node whose role slices tile the run and
//! agree with the trace's roles, faults and elections as instants, and at `--trace-level
//! messages` one flow arrow per delivered or dropped message, from the sender's message track
//! to the receiver's.

use crate::common;
use common::{root, state_changes};

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

/// Runs basic.json with the export; returns (trace records, export bytes).
fn run_basic(dir: &Path, level: &str) -> (Vec<Value>, Vec<u8>) {
    let out = dir.join(level);
    let pf = dir.join(format!("{level}.perfetto.json"));
    raftsim()
        .arg("run")
        .arg(root().join("scenarios/basic.json"))
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--trace-level", level, "--perfetto"])
        .arg(&pf)
        .assert()
        .code(0);
    let recs = std::fs::read_to_string(out.join("trace.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (recs, std::fs::read(pf).unwrap())
}

fn events(bytes: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(bytes).expect("the export is JSON");
    assert_eq!(v["displayTimeUnit"], "ms");
    v["traceEvents"].as_array().expect("traceEvents").clone()
}

/// µs as the export writes them, to ns.
fn ns(v: &Value) -> u64 {
    (v.as_f64().unwrap() * 1000.0).round() as u64
}

#[test]
fn basic_matches_the_golden_export() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, bytes) = run_basic(tmp.path(), "events");
    let golden = root().join("tests/golden/basic.perfetto.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &bytes).unwrap();
        eprintln!("rewrote {}", golden.display());
        return;
    }
    let want = std::fs::read(&golden).expect("the golden export exists");
    assert!(
        bytes == want,
        "the export of scenarios/basic.json changed; if intended, rewrite with \
         UPDATE_GOLDEN=1 cargo test --release --test suite perfetto:: and review the diff"
    );
}

#[test]
fn tracks_roles_and_faults_follow_the_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let (recs, bytes) = run_basic(tmp.path(), "events");
    let ev = events(&bytes);
    for e in &ev {
        let ph = e["ph"].as_str().unwrap();
        assert!(["M", "X", "i", "b", "e", "C"].contains(&ph), "{e}");
        assert_eq!(e["pid"], 1, "{e}");
    }
    let names: BTreeMap<u64, String> = ev
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeMap<u64, String> = [(0, "network".to_string())]
        .into_iter()
        .chain((1..=5).map(|n| (n, format!("n{n}"))))
        .collect();
    assert_eq!(
        names, want,
        "one track per node (no message tracks without messages)"
    );

    let end = recs.last().unwrap()["t"].as_u64().unwrap();
    let changes = state_changes(&recs, 5);
    for node in 1..=5u64 {
        let slices: Vec<&Value> = ev
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"] == node && e["cat"] == "role")
            .collect();
        // They tile [0, end).
        let mut at = 0;
        for s in &slices {
            assert_eq!(ns(&s["ts"]), at, "n{node}: a gap or overlap at {s}");
            at += ns(&s["dur"]);
        }
        assert_eq!(at, end, "n{node}: the slices end with the run");
        // Each slice's role is the trace's at its middle.
        for s in &slices {
            let mid = ns(&s["ts"]) + ns(&s["dur"]) / 2;
            let state = changes[node as usize - 1]
                .iter()
                .take_while(|c| c.0 <= mid)
                .last()
                .unwrap()
                .1;
            assert_eq!(s["args"]["role"], state.name(), "n{node}: {s}");
        }
    }
    // The story of basic.json: n5 leads term 1, crashes at 2s, restarts at 4s; n1 leads term 3
    // after term 2's split vote.
    let instant = |name: &str, tid: u64| {
        ev.iter()
            .filter(|e| e["ph"] == "i" && e["name"] == name && e["tid"] == tid)
            .map(|e| ns(&e["ts"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(instant("crash", 5), [2_000_000_000]);
    assert_eq!(instant("restart", 5), [4_000_000_000]);
    assert_eq!(instant("leader t1", 5), [175_958_746]);
    assert_eq!(instant("leader t3", 1), [2_384_895_061]);
    assert_eq!(instant("split vote t2", 0), [2_379_035_034]);
    let split = ev.iter().find(|e| e["name"] == "split vote t2").unwrap();
    assert_eq!(split["s"], "g", "a split vote concerns the cluster");
    assert_eq!(split["args"]["candidates"], serde_json::json!([4, 1, 2]));
}

#[test]
fn every_message_is_one_flow_from_sender_to_receiver() {
    let tmp = tempfile::tempdir().unwrap();
    let (recs, bytes) = run_basic(tmp.path(), "messages");
    let ev = events(&bytes);
    // id of the send -> (from, to); every deliver or drop with an id is one flow.
    let mut sends: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut arrivals = 0;
    for r in &recs {
        match r["ev"].as_str().unwrap() {
            "send" => {
                sends.insert(
                    r["id"].as_u64().unwrap(),
                    (r["from"].as_u64().unwrap(), r["to"].as_u64().unwrap()),
                );
            }
            "deliver" => arrivals += 1,
            "drop" if r.get("id").is_some() => arrivals += 1,
            _ => {}
        }
    }
    // bind_id -> (the send's slice, the arrival's slice)
    let mut flows: BTreeMap<u64, (Option<&Value>, Option<&Value>)> = BTreeMap::new();
    for e in ev.iter().filter(|e| e.get("bind_id").is_some()) {
        assert_eq!(e["ph"], "X", "a flow binds to a slice: {e}");
        assert_eq!(e["cat"], "message", "{e}");
        let f = flows.entry(e["bind_id"].as_u64().unwrap()).or_default();
        let end = if e["flow_out"] == true {
            &mut f.0
        } else {
            assert_eq!(e["flow_in"], true, "{e}");
            &mut f.1
        };
        assert!(
            end.is_none(),
            "two ends of one kind for flow {}",
            e["bind_id"]
        );
        *end = Some(e);
    }
    assert_eq!(flows.len(), arrivals, "one flow per delivery or drop");
    assert!(arrivals > 100, "basic.json sends messages: {arrivals}");
    for (id, (s, f)) in &flows {
        let (s, f) = (s.expect("a start"), f.expect("a finish"));
        assert!(ns(&f["ts"]) >= ns(&s["ts"]), "flow {id} goes back in time");
        let (from, to) = (
            s["tid"].as_u64().unwrap() - 1000,
            f["tid"].as_u64().unwrap() - 1000,
        );
        assert_eq!(
            (s["args"]["from"].as_u64(), s["args"]["to"].as_u64()),
            (Some(from), Some(to))
        );
        let msg = s["args"]["id"].as_u64().unwrap();
        assert_eq!(
            sends.get(&msg),
            Some(&(from, to)),
            "flow {id}: message #{msg} n{from}->n{to}"
        );
        assert_eq!(f["args"]["id"], s["args"]["id"]);
    }
}

/// A Perfetto file that could not be written is refused before the run, like the output
/// folder (exit 2, nothing written), rather than lost after it.
#[test]
fn an_unwritable_export_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = tmp.path().join("out");
    let o = raftsim()
        .arg("run")
        .arg(root().join("scenarios/basic.json"))
        .arg("--out")
        .arg(&out)
        .arg("--perfetto")
        .arg(file.join("x.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--perfetto"));
    assert!(!out.exists(), "the run went ahead");
}
