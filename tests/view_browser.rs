//! The browser viewer (`raftsim view`), in a real headless browser (Debian's `chromium`):
//! the page is self-contained (nothing loaded from anywhere), and at several times, set
//! through the page address (`#t=SECONDS`, which sets the time slider and runs its `input`
//! handler as a user's move does), the node cards show the role and term the trace gives each
//! node and the in-flight count matches the trace's sends not yet delivered or dropped. A
//! screenshot is kept as an artifact under the target folder.
//!
//! Where no browser is installed the test says it was skipped; under CI (env `CI` set, as
//! `.ci/run` does, which also installs chromium) it fails instead.

use crate::common;
use common::{root, state_changes};

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

fn browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser, or `None` after saying the test is skipped (`done`: what it checked without
/// one). Under CI (env `CI` set) a missing browser fails instead: `.ci/run` installs it.
fn browser_or_skip(done: &str) -> Option<PathBuf> {
    let b = browser();
    if b.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "no chromium found, and CI is set: .ci/run installs it (apt-get install chromium)"
            );
        }
        eprintln!("SKIPPED: no chromium on PATH (apt-get install chromium); {done}");
    }
    b
}

/// Runs the browser headless on `url` with `args`; returns stdout.
fn headless(browser: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let out = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("the browser runs");
    assert!(
        out.status.success(),
        "{} failed: {}",
        browser.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// `raftsim view` of the run in folder `run`, written as `view.html` in `dir`: its path.
fn view_page(run: &Path, dir: &Path) -> PathBuf {
    let page = dir.join("view.html");
    Command::cargo_bin("raftsim")
        .unwrap()
        .arg("view")
        .arg(run.join("trace.jsonl"))
        .arg("--out")
        .arg(&page)
        .assert()
        .code(0);
    page
}

/// The value of attribute `attr` of the element with id `id` in a dumped DOM.
fn attr(dom: &str, id: &str, attr: &str) -> String {
    let re = regex::Regex::new(&format!(r#"<[a-z]+ [^>]*id="{id}"[^>]*>"#)).unwrap();
    let tag = re
        .find(dom)
        .unwrap_or_else(|| panic!("no element #{id} in the page"))
        .as_str();
    let re = regex::Regex::new(&format!(r#"{attr}="([^"]*)""#)).unwrap();
    re.captures(tag)
        .unwrap_or_else(|| panic!("#{id} has no {attr}: {tag}"))[1]
        .to_string()
}

#[test]
fn the_page_replays_the_trace_in_a_headless_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    Command::cargo_bin("raftsim")
        .unwrap()
        .arg("run")
        .arg(root().join("scenarios/basic.json"))
        .arg("--out")
        .arg(&run)
        .args(["--trace-level", "messages", "--quiet"])
        .assert()
        .code(0);
    let page = view_page(&run, tmp.path());
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch.
    for banned in [
        "<script src",
        "<link",
        "http://",
        "https://",
        "@import",
        "url(",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!html.contains(banned), "the page contains {banned:?}");
    }

    let Some(browser) =
        browser_or_skip("the page was written and checked for self-containment only")
    else {
        return;
    };

    let recs: Vec<Value> = std::fs::read_to_string(run.join("trace.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let changes = state_changes(&recs, 5);
    // (sent, arrived) of every delivery or drop, paired by send id.
    let mut sent = std::collections::BTreeMap::new();
    let mut flights = Vec::new();
    for r in &recs {
        let t = r["t"].as_u64().unwrap();
        match r["ev"].as_str().unwrap() {
            "send" => {
                sent.insert(r["id"].as_u64().unwrap(), t);
            }
            "deliver" | "drop" if r.get("id").is_some() => {
                flights.push((sent[&r["id"].as_u64().unwrap()], t));
            }
            _ => {}
        }
    }
    let term_at = |node: u64, t: u64| {
        recs.iter()
            .take_while(|r| r["t"].as_u64().unwrap() <= t)
            .filter(|r| r["node"] == node && (r["ev"] == "role" || r["ev"] == "restart"))
            .last()
            .map_or(0, |r| r["term"].as_u64().unwrap())
    };
    let profile = tmp.path().join("profile");
    let url = format!("file://{}", page.display());
    // basic.json: n5 leads term 1; term 2 is split by n4, n1 and n2; n1 leads term 3; n5 is
    // down from 2s to 4s. Times in µs, the slider's unit.
    // What the page shows at `t` (ns) must be the trace's: each node's role and term, and the
    // messages in flight. Returns how many were in flight.
    let check_at = |dom: &str, t: u64, seen: &mut std::collections::BTreeSet<&'static str>| {
        for node in 1..=5u64 {
            let want = changes[node as usize - 1]
                .iter()
                .take_while(|c| c.0 <= t)
                .last()
                .unwrap()
                .1;
            let id = format!("node-{node}");
            assert_eq!(
                attr(dom, &id, "data-state"),
                want.name(),
                "n{node} at t={t}ns"
            );
            seen.insert(want.name());
            if want.name() != "down" {
                assert_eq!(
                    attr(dom, &id, "data-term"),
                    term_at(node, t).to_string(),
                    "n{node}'s term at t={t}ns"
                );
            }
        }
        let flying = flights.iter().filter(|&&(s, a)| s <= t && t < a).count();
        assert_eq!(
            attr(dom, "inflight", "data-count"),
            flying.to_string(),
            "in flight at t={t}ns"
        );
        flying
    };
    let mut most_in_flight = 0;
    let mut states_seen = std::collections::BTreeSet::new();
    for secs in ["0.165", "2.195", "4.5"] {
        let dom = headless(
            &browser,
            &profile,
            &["--dump-dom"],
            &format!("{url}#t={secs}"),
        );
        let t_us: u64 = (secs.parse::<f64>().unwrap() * 1e6).round() as u64;
        let t = t_us * 1000;
        assert_eq!(
            attr(&dom, "time", "data-t"),
            t.to_string(),
            "the slider moved to {secs}s"
        );
        most_in_flight = most_in_flight.max(check_at(&dom, t, &mut states_seen));
    }
    // Play: time moves on from where it started, and what is shown follows it. `advance=500`
    // plays 500 ms of wall time at once (0.1 virtual seconds a second: 50 ms), so the check
    // does not depend on how fast the machine gives the page frames; frames after it may
    // move time further.
    let dom = headless(
        &browser,
        &profile,
        &["--dump-dom"],
        &format!("{url}#t=2.1&play=1&advance=500"),
    );
    let t: u64 = attr(&dom, "time", "data-t").parse().unwrap();
    assert!(
        (2_150_000_000..6_000_000_000).contains(&t),
        "playing 500 ms at 0.1x from 2.1s moved time to {t}ns"
    );
    assert!(
        dom.contains(">pause</button>"),
        "the button offers pause while playing"
    );
    check_at(&dom, t, &mut states_seen);
    assert!(
        most_in_flight > 0,
        "no time with messages in flight was checked"
    );
    for s in ["follower", "candidate", "leader", "down"] {
        assert!(states_seen.contains(s), "no {s} checked: {states_seen:?}");
    }

    // The screenshot, kept as an artifact.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("view-basic-2.195s.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &browser,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
        ],
        &format!("{url}#t=2.195"),
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    eprintln!("screenshot: {}", shot.display());
}

/// A cut link is a network fault in force: cloudflare-2020 cuts n1 and n3 of its three nodes
/// apart (both directions) from 2 s to 182 s. At 2.5 s the page lists both cuts and marks
/// both nodes, and only them.
#[test]
fn the_page_shows_cut_links() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    Command::cargo_bin("raftsim")
        .unwrap()
        .arg("run")
        .arg(root().join("scenarios/cloudflare-2020.json"))
        .args(["--quiet", "--out"])
        .arg(&run)
        .assert()
        .code(0);
    let page = tmp.path().join("view.html");
    Command::cargo_bin("raftsim")
        .unwrap()
        .arg("view")
        .arg(run.join("trace.jsonl"))
        .args(["--to", "10s", "--out"])
        .arg(&page)
        .assert()
        .code(0);
    let Some(browser) = browser_or_skip("the page was written") else {
        return;
    };
    let url = format!("file://{}#t=2.5", page.display());
    let dom = headless(&browser, &tmp.path().join("profile"), &["--dump-dom"], &url);
    assert_eq!(attr(&dom, "faults", "data-count"), "2", "two cuts in force");
    for cut in ["cut n1→n3", "cut n3→n1"] {
        assert!(dom.contains(cut), "{cut} listed");
    }
    for node in 1..=3 {
        let tag = regex::Regex::new(&format!(r#"<div [^>]*id="node-{node}"[^>]*>"#))
            .unwrap()
            .find(&dom)
            .unwrap()
            .as_str()
            .to_string();
        assert_eq!(
            tag.contains("cutoff"),
            node == 1 || node == 3,
            "n{node}'s card: {tag}"
        );
    }
}

/// Bad flags and files are refused before anything is written (exit 2).
#[test]
fn bad_input_writes_no_page() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = root().join("tests/golden/basic.trace.jsonl");
    let not_a_trace = tmp.path().join("x.jsonl");
    std::fs::write(&not_a_trace, "{\"t\":0,\"ev\":\"nonsense\"}\n").unwrap();
    let no_start = tmp.path().join("y.jsonl");
    std::fs::write(&no_start, "{\"t\":0,\"ev\":\"crash\",\"node\":1}\n").unwrap();
    for (trace, args, says) in [
        (
            &golden,
            &["--from", "3s", "--to", "2s"][..],
            "window would be empty",
        ),
        (&not_a_trace, &[][..], "x.jsonl:1"),
        (&no_start, &[][..], "no `start` record"),
    ] {
        let page = tmp.path().join("out/v.html");
        let out = Command::cargo_bin("raftsim")
            .unwrap()
            .arg("view")
            .arg(trace)
            .arg("--out")
            .arg(&page)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!tmp.path().join("out").exists(), "{args:?} wrote something");
    }
}

/// Client operations: at several times the page's count of operations in flight is the
/// trace's (first `client_request` at or before the time, its `client_done` after it, or
/// none yet), and a linearizability violation's window is listed by request number, with
/// what each asked.
#[test]
fn the_page_shows_client_operations_and_a_violation_window() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    Command::cargo_bin("raftsim")
        .unwrap()
        .arg("run")
        .arg(root().join("scenarios/reads.json"))
        .args(["--seed", "0", "--bug", "read-before-own-term-commit"])
        .args(["--quiet", "--out"])
        .arg(&run)
        .assert()
        .code(1);
    let page = view_page(&run, tmp.path());
    let Some(browser) = browser_or_skip("the page was written") else {
        return;
    };
    let recs: Vec<Value> = std::fs::read_to_string(run.join("trace.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let end = recs.last().unwrap()["t"].as_u64().unwrap();
    let mut spans = std::collections::BTreeMap::new();
    for r in &recs {
        let t = r["t"].as_u64().unwrap();
        match r["ev"].as_str().unwrap() {
            "client_request" => {
                spans.entry(r["req"].as_u64().unwrap()).or_insert((t, end));
            }
            "client_done" => {
                spans.get_mut(&r["req"].as_u64().unwrap()).unwrap().1 = t;
            }
            _ => {}
        }
    }
    let window: Vec<u64> = recs.iter().find(|r| r["ev"] == "linearizability").unwrap()["window"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(!window.is_empty());
    let profile = tmp.path().join("profile");
    let mut busiest = 0;
    for secs in ["0.5", "2.0", "3.17", "6.5"] {
        let url = format!("file://{}#t={secs}", page.display());
        let dom = headless(&browser, &profile, &["--dump-dom"], &url);
        let t = (secs.parse::<f64>().unwrap() * 1e6).round() as u64 * 1000;
        let open = spans.values().filter(|&&(a, b)| a <= t && t < b).count();
        assert_eq!(
            attr(&dom, "clients", "data-count"),
            open.to_string(),
            "client operations in flight at {secs}s"
        );
        busiest = busiest.max(open);
        for req in &window {
            assert!(
                dom.contains(&format!(" r{req} ")),
                "r{req} of the window is listed at {secs}s"
            );
        }
    }
    assert!(busiest > 0, "no time with operations in flight was checked");
}
