//! The `sweep` subcommand end to end: the Figure 16 experiment of the Raft paper. Output files
//! do not depend on `--jobs`, summary.csv agrees with trials.csv, the paper's qualitative
//! ordering holds (where this model reproduces it), plots are real PNG and SVG files, extra
//! axes multiply the grid, and bad flags are bad input (exit code 2).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

const TOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/figure16-top.json");
const BOTTOM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/figure16-bottom.json"
);
const OUTPUTS: [&str; 4] = ["trials.csv", "summary.csv", "cdf.png", "cdf.svg"];

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

/// Runs `raftsim sweep <scenario> <args> --out <out>` and asserts success.
fn sweep(scenario: &str, args: &[&str], out: &Path) {
    raftsim()
        .arg("sweep")
        .arg(scenario)
        .args(args)
        .arg("--out")
        .arg(out)
        .assert()
        .success()
        .stdout(predicate::str::contains("trials in"));
}

/// A CSV file: its header and its rows as text.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Table {
        let mut r = csv::Reader::from_path(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let headers = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(String::from).collect())
            .collect();
        Table { headers, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name:?} in {:?}", self.headers))
    }

    /// The values of one column, row by row.
    fn column(&self, name: &str) -> Vec<&str> {
        let i = self.col(name);
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }
}

/// Nearest-rank quantile of sorted values: rank = ceil(q*n), at least 1.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn parse_ms(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("{s:?} is not a number"))
}

/// Per timeout range ("150-155"), the trials of that range from trials.csv, in file order.
struct Groups {
    order: Vec<String>,
    trials: HashMap<String, Vec<Trial>>,
}

struct Trial {
    downtime_ms: Option<f64>,
    time_to_leader_ms: Option<f64>,
    split_votes: u64,
    contested: u64,
    capped: bool,
}

fn group_trials(t: &Table) -> Groups {
    let (lo, hi) = (t.col("timeout_min_ms"), t.col("timeout_max_ms"));
    let (d, l) = (t.col("downtime_ms"), t.col("time_to_leader_ms"));
    let (sv, cap) = (t.col("split_votes"), t.col("capped"));
    let cs = t.col("contested_split_votes");
    let mut g = Groups {
        order: Vec::new(),
        trials: HashMap::new(),
    };
    for r in &t.rows {
        let key = format!("{}-{}", r[lo], r[hi]);
        if !g.trials.contains_key(&key) {
            g.order.push(key.clone());
        }
        let opt = |s: &str| (!s.is_empty()).then(|| parse_ms(s));
        let trial = Trial {
            downtime_ms: opt(&r[d]),
            time_to_leader_ms: opt(&r[l]),
            split_votes: r[sv].parse().unwrap(),
            contested: r[cs].parse().unwrap(),
            capped: match r[cap].as_str() {
                "true" => true,
                "false" => false,
                other => panic!("capped is {other:?}"),
            },
        };
        // A contested split vote is a split vote.
        assert!(trial.contested <= trial.split_votes, "row {r:?}");
        // A capped trial has no downtime, and a finished one has one.
        assert_eq!(trial.capped, trial.downtime_ms.is_none(), "row {r:?}");
        g.trials.entry(key).or_default().push(trial);
    }
    g
}

fn sorted_downtimes(ts: &[&Trial]) -> Vec<f64> {
    let mut v: Vec<f64> = ts.iter().filter_map(|t| t.downtime_ms).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn split_share(ts: &[&Trial]) -> f64 {
    ts.iter().filter(|t| t.split_votes > 0).count() as f64 / ts.len() as f64
}

// Why: docs/ARCHITECTURE.md "Determinism": output files do not depend on the thread count (seeds derive from indices).
#[test]
fn outputs_are_identical_at_any_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("A"), tmp.path().join("B"));
    sweep(BOTTOM, &["--trials", "40", "--jobs", "1", "--quiet"], &a);
    sweep(BOTTOM, &["--trials", "40", "--jobs", "2", "--quiet"], &b);
    for name in OUTPUTS {
        let (x, y) = (
            std::fs::read(a.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
        );
        assert!(!x.is_empty(), "{name} is empty");
        assert!(x == y, "{name} differs between --jobs 1 and --jobs 2");
    }
}

// Why: summary.csv must be exactly what its documented statistics give over trials.csv.
#[test]
fn summary_matches_statistics_recomputed_from_trials() {
    let tmp = tempfile::tempdir().unwrap();
    // The bottom graph's ranges, and a cap short enough that some trials are capped.
    let runs: [(&str, &[&str]); 2] = [
        (BOTTOM, &["--trials", "40"]),
        (
            TOP,
            &[
                "--trials",
                "60",
                "--timeouts",
                "150-150,150-300",
                "--cap",
                "200ms",
            ],
        ),
    ];
    let mut capped_seen = 0;
    for (i, (scenario, args)) in runs.iter().enumerate() {
        let out = tmp.path().join(format!("run{i}"));
        sweep(scenario, args, &out);
        let trials = Table::read(&out.join("trials.csv"));
        let summary = Table::read(&out.join("summary.csv"));
        let g = group_trials(&trials);
        let (lo, hi) = (summary.col("timeout_min_ms"), summary.col("timeout_max_ms"));
        let keys: Vec<String> = summary
            .rows
            .iter()
            .map(|r| format!("{}-{}", r[lo], r[hi]))
            .collect();
        assert_eq!(keys, g.order, "summary rows follow the configurations");
        for (row, key) in summary.rows.iter().zip(&keys) {
            let ts: Vec<&Trial> = g.trials[key].iter().collect();
            let get = |c: &str| row[summary.col(c)].as_str();
            assert_eq!(get("trials"), ts.len().to_string(), "{key}: trials");
            let capped = ts.iter().filter(|t| t.capped).count();
            capped_seen += capped;
            assert_eq!(get("capped"), capped.to_string(), "{key}: capped");
            let d = sorted_downtimes(&ts);
            let mut l: Vec<f64> = ts.iter().filter_map(|t| t.time_to_leader_ms).collect();
            l.sort_by(f64::total_cmp);
            let mean = (!d.is_empty()).then(|| d.iter().sum::<f64>() / d.len() as f64);
            let want = [
                ("min_ms", quantile(&d, 0.0)),
                ("p50_ms", quantile(&d, 0.5)),
                ("p90_ms", quantile(&d, 0.9)),
                ("p99_ms", quantile(&d, 0.99)),
                ("max_ms", quantile(&d, 1.0)),
                ("mean_ms", mean),
                ("leader_p50_ms", quantile(&l, 0.5)),
                ("split_vote_share", Some(split_share(&ts))),
                (
                    "contested_share",
                    Some(ts.iter().filter(|t| t.contested > 0).count() as f64 / ts.len() as f64),
                ),
            ];
            for (c, w) in want {
                match w {
                    None => assert_eq!(get(c), "", "{key}: {c} with no finished trial"),
                    Some(w) => {
                        let got = parse_ms(get(c));
                        assert!(
                            (got - w).abs() <= 0.002,
                            "{key}: {c} is {got} in summary.csv, {w} from trials.csv"
                        );
                    }
                }
            }
        }
    }
    assert!(capped_seen > 0, "the 200ms cap should cap some trials");
}

/// One sweep of three ranges (150-150, 150-155, 150-300); (summary rows by range, trials by range).
fn three_ranges(seed: u64, out: &Path) -> (Table, Groups) {
    let seed = seed.to_string();
    let args = [
        "--trials",
        "150",
        "--timeouts",
        "150-150,150-155,150-300",
        "--seed",
        &seed,
        "--quiet",
    ];
    sweep(TOP, &args, out);
    (
        Table::read(&out.join("summary.csv")),
        group_trials(&Table::read(&out.join("trials.csv"))),
    )
}

// Why: Figure 16 (top) — more randomness, fewer split votes and a shorter tail — must hold.
// Per seed, only orderings that held in 300 of 300 seeds are asserted; the two that held in
// 294-295 of 300 (the medians of 150-150 vs 150-155, split shares of 150-155 vs 150-300) are
// asserted over the three seeds pooled (they held in 100 of 100 pooled triples). In this model
// the median ordering between 150-155 and 150-300 is the paper's reversed: 150-300's longer
// timeouts make its median (and mean) the largest of the three.
#[test]
fn figure16_top_ordering_on_reduced_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let ranges = ["150-150", "150-155", "150-300"];
    let runs: Vec<(u64, Table, Groups)> = [16u64, 1, 2]
        .into_iter()
        .map(|seed| {
            let (s, g) = three_ranges(seed, &tmp.path().join(seed.to_string()));
            (seed, s, g)
        })
        .collect();
    let mut pooled: HashMap<&str, Vec<&Trial>> = HashMap::new();
    for (seed, summary, groups) in &runs {
        assert_eq!(groups.order, ranges);
        let stat = |c: &str| -> Vec<f64> { summary.column(c).into_iter().map(parse_ms).collect() };
        let (split, p50, p90, mean) = (
            stat("split_vote_share"),
            stat("p50_ms"),
            stat("p90_ms"),
            stat("mean_ms"),
        );
        let ctx = format!(
            "seed {seed}: split {split:?}, p50 {p50:?}, p90 {p90:?}, mean {mean:?} for {ranges:?}"
        );
        eprintln!("{ctx}");
        assert!(stat("capped").iter().all(|&c| c == 0.0), "{ctx}");
        // No randomness splits the vote often; any randomness makes it rarer.
        assert!(split[0] >= 0.1, "{ctx}");
        assert!(split[0] >= split[1] && split[0] > split[2], "{ctx}");
        // Contested split votes (two or more candidates, the symmetry that randomness breaks)
        // fall steeply with more randomness; lone ineligible candidates do not depend on it.
        let contested = stat("contested_share");
        assert!(
            contested[0] > contested[1] && contested[1] >= contested[2],
            "{ctx} contested {contested:?}"
        );
        // Split votes give 150-150 a long tail: its p90 and mean are the largest.
        assert!(p90[0] > p90[1] && p90[0] > p90[2], "{ctx}");
        assert!(mean[0] > mean[2] && mean[2] > mean[1], "{ctx}");
        // The reversal: 150-300 waits longer for its first timeout, so its median is largest.
        assert!(p50[2] > p50[1] && p50[2] > p50[0], "{ctx}");
        for r in ranges {
            pooled.entry(r).or_default().extend(&groups.trials[r]);
        }
    }
    let median = |r: &str| quantile(&sorted_downtimes(&pooled[r]), 0.5).unwrap();
    let share = |r: &str| split_share(&pooled[r]);
    let ctx = format!(
        "pooled over 3 seeds: medians {:?}, split shares {:?}",
        ranges.map(median),
        ranges.map(share)
    );
    eprintln!("{ctx}");
    // The paper's median claim for 150-150 against 150-155, and the middle link of the chain.
    assert!(median("150-150") > median("150-155"), "{ctx}");
    assert!(share("150-155") >= share("150-300"), "{ctx}");
}

// Why: the plots are deliverables; check they are real PNG/SVG, whole, and labelled.
#[test]
fn plots_are_valid_png_and_svg_with_legend() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("plots");
    let args = ["--trials", "20", "--timeouts", "150-150,150-155,150-300"];
    sweep(TOP, &args, &out);
    // Exactly the four files: no temporary plot left behind.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["cdf.png", "cdf.svg", "summary.csv", "trials.csv"]);

    let png = std::fs::read(out.join("cdf.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 10_000,
        "PNG of {} bytes is too small",
        png.len()
    );
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    assert_eq!((be(&png[16..20]), be(&png[20..24])), (1000, 620));
    assert_eq!(
        &png[png.len() - 8..png.len() - 4],
        b"IEND",
        "PNG is cut short"
    );

    let svg = std::fs::read_to_string(out.join("cdf.svg")).unwrap();
    let t = svg.trim();
    assert!(t.starts_with("<svg") || t.starts_with("<?xml"), "not SVG");
    assert!(
        t.contains("<svg") && t.ends_with("</svg>"),
        "SVG is not whole"
    );
    for label in [
        "150-150ms",
        "150-155ms",
        "150-300ms",
        "time without leader (ms)",
    ] {
        assert!(svg.contains(label), "SVG lacks {label:?}");
    }
}

// Why: --nodes and --set are extra grid axes; their columns lead and the grid is complete.
#[test]
fn nodes_and_set_axes_multiply_the_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("grid");
    let args = [
        "--nodes",
        "3,5",
        "--set",
        "network.loss=0,0.05",
        "--trials",
        "10",
    ];
    sweep(TOP, &args, &out);
    let scenario: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(TOP).unwrap()).unwrap();
    let ranges: Vec<String> = scenario["sweep"]["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let t = r["timeout"].as_array().unwrap();
            let ms = |v: &serde_json::Value| v.as_str().unwrap().trim_end_matches("ms").to_string();
            format!("{}-{}", ms(&t[0]), ms(&t[1]))
        })
        .collect();

    let trials = Table::read(&out.join("trials.csv"));
    let summary = Table::read(&out.join("summary.csv"));
    for t in [&trials, &summary] {
        assert_eq!(t.headers[..3], ["nodes", "network.loss", "timeout_min_ms"]);
    }
    // nodes × loss × ranges, ranges varying fastest.
    let mut want = Vec::new();
    for n in ["3", "5"] {
        for loss in ["0", "0.05"] {
            for r in &ranges {
                want.push(format!("{n} {loss} {r}"));
            }
        }
    }
    assert_eq!(want.len(), 2 * 2 * ranges.len());
    let got: Vec<String> = summary
        .rows
        .iter()
        .map(|r| format!("{} {} {}-{}", r[0], r[1], r[2], r[3]))
        .collect();
    assert_eq!(got, want);
    assert!(summary.column("trials").iter().all(|&t| t == "10"));
    assert_eq!(trials.rows.len(), 10 * want.len());
}

/// Runs a sweep with one bad flag; asserts exit code 2, no output folder, and returns stderr.
fn bad(args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out: PathBuf = tmp.path().join("out");
    let o = raftsim()
        .arg("sweep")
        .arg(TOP)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert_eq!(o.status.code(), Some(2), "{args:?}: stderr {stderr}");
    assert!(o.stdout.is_empty(), "{args:?}: output on stdout");
    assert!(!out.exists(), "{args:?}: the output folder was created");
    stderr
}

// Why: docs/ARCHITECTURE.md "Bad input and exit codes": a bad flag value is exit code 2 with a message naming it.
#[test]
fn bad_flags_are_bad_input() {
    let e = bad(&["--timeouts", "300-150"]);
    assert!(e.contains("--timeouts") && e.contains("\"300-150\""), "{e}");
    assert!(e.contains("not above the maximum"), "{e}");
    let e = bad(&["--set", "nosuchpath"]);
    assert!(e.contains("--set") && e.contains("PATH=VALUE"), "{e}");
    let e = bad(&["--trials", "0"]);
    assert!(e.contains("--trials must be at least 1"), "{e}");
    let e = bad(&["--cap=-5ms"]);
    assert!(e.contains("--cap") && e.contains("negative"), "{e}");
    // `--cap` accepts a leading minus, so the message names the flag and the rule.
    let e = bad(&["--cap", "-5ms"]);
    assert!(e.contains("--cap") && e.contains("negative"), "{e}");
    let e = bad(&["--plot-max", "soon"]);
    assert!(
        e.contains("--plot-max") && e.contains("invalid duration"),
        "{e}"
    );
}
