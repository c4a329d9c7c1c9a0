//! `raftsim explore`, `merge` and `shrink`: searching seeds for failures.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::*;
use crate::experiment::explore::{self, ExplorePlan, ExploreReport};
use crate::observe::trace::TraceWriter;
#[derive(clap::Args)]
/// The flags of `raftsim explore`.
pub struct ExploreArgs {
    /// The scenario (JSON).
    scenario: PathBuf,
    /// Seeds to run: START..END (END excluded) or one seed; at most 1,000,000,000.
    #[arg(long, default_value = "0..1000")]
    seeds: String,
    /// Worker threads [default: the number of cores]. What is reported does not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Stop after this many failing seeds.
    #[arg(long, default_value_t = 10)]
    max_failures: usize,
    /// Run only slice K of N (1-based): seeds START+K-1, START+K-1+N, ...; for spreading one
    /// search over a job array.
    #[arg(long)]
    shard: Option<String>,
    /// Output folder for failing seeds [default: output/explore-<scenario name>/].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Inject a bug into the node under test (each node has its own: `raftsim nodes`) (adds to the scenario's `raft.bugs`). Repeatable.
    #[arg(long = "bug", value_name = "NAME", value_parser = bug_parser())]
    bugs: Vec<String>,
    /// Set a scenario field by its path before the search, e.g. --set raft.pre_vote=true (one
    /// value; as in `sweep --set`). Repeatable. Saved failing scenarios include it.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Coverage-guided: after the first 256 seeds, in order, run each round of 256 picked from
    /// the next 1,024 seeds of the range, three quarters by how likely their drawn shape and
    /// fault kinds make the rarest coverage marks, the rest in order (the others are passed
    /// over). Each reported seed replays on its own with `--seed`. Not with --shard.
    #[arg(long, conflicts_with = "shard")]
    guided: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The search the flags ask for, checked before any work: seeds, shard, failures, threads.
pub fn plan(a: &ExploreArgs) -> Result<ExplorePlan> {
    let seeds = explore::parse_seeds(&a.seeds).map_err(|m| anyhow::anyhow!("--seeds: {m}"))?;
    let shard = a
        .shard
        .as_deref()
        .map(explore::parse_shard)
        .transpose()
        .map_err(|m| anyhow::anyhow!("--shard: {m}"))?;
    if a.max_failures == 0 {
        anyhow::bail!("--max-failures must be at least 1");
    }
    Ok(ExplorePlan {
        seeds,
        max_failures: a.max_failures,
        shard,
        jobs: jobs(a.jobs, "")?,
        guided: a.guided,
    })
}

/// The line that replays a failing seed: the scenario, the seed, and every `--bug` and
/// `--set` the search was given (`--set node=raft-rs` or a switch changed what was searched).
pub fn reproduce(a: &ExploreArgs, seed: u64) -> Reproduce {
    let mut repro = Reproduce::run(&a.scenario, seed);
    for b in &a.bugs {
        repro = repro.flag("bug", b);
    }
    for s in &a.sets {
        repro = repro.flag("set", s);
    }
    repro
}

/// A shard's record that it ran to the end, and its scenario, so `merge` can tell a shard
/// that found nothing from one that crashed or never ran.
fn write_shard_record(
    dir: &Path,
    a: &ExploreArgs,
    (k, n): (u64, u64),
    report: &ExploreReport,
    scenario_json: &[u8],
) -> Result<()> {
    let record = serde_json::json!({
        "shard": k + 1,
        "of": n,
        "seeds": a.seeds,
        "seeds_run": report.seeds_run,
        "failing": report.findings.len(),
        "coverage": report.coverage.to_json(),
    });
    write_atomic(&dir.join("scenario.json"), scenario_json).map_err(output_failed)?;
    let record = serde_json::to_vec_pretty(&record).expect("json");
    write_atomic(&dir.join(SHARD_RECORD), &record).map_err(output_failed)
}

/// Replays each failing seed with a trace and keeps it beside failures.tsv (a line per
/// finding, with the command that replays it).
fn save_findings(dir: &Path, a: &ExploreArgs, sc: &Scenario, report: &ExploreReport) -> Result<()> {
    let mut lines = String::new();
    for f in &report.findings {
        let mut trace = TraceWriter::in_memory();
        let drawn = sc.for_seed(f.seed);
        let cfg = drawn.compile();
        let _ = crate::with_node!(&drawn.node_choice(), N, o => {
            crate::experiment::run::run_observed::<N, _, _>(
                &cfg,
                o,
                f.seed,
                TraceLevel::Events,
                Some(&mut trace),
                &mut (),
            )
        });
        let file = dir.join(format!("seed-{}.trace.jsonl", f.seed));
        write_atomic(&file, trace.bytes()).map_err(output_failed)?;
        lines.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            f.seed,
            f.property,
            f.detail,
            reproduce(a, f.seed).binary()
        ));
    }
    write_atomic(&dir.join("failures.tsv"), lines.as_bytes()).map_err(output_failed)
}

/// `raftsim explore`: searches the seeds in parallel, prints each failing seed with the line
/// that replays it, and keeps its trace; exit 1 when a seed failed.
pub fn cmd_explore(a: ExploreArgs) -> Result<ExitCode> {
    let sc = add_bugs(apply_sets(load(&a.scenario)?, &a.sets, "explore")?, &a.bugs)?;
    let plan = plan(&a)?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(format!("explore-{}", sc.name)));
    // Before the search: a long search must not lose its findings to an unwritable folder.
    check_writable(&dir).context("output folder is not writable (choose another with --out)")?;
    let seeds = &plan.seeds;
    let total = match plan.shard {
        Some((k, n)) => (seeds.end - seeds.start).saturating_sub(k).div_ceil(n),
        None if plan.guided => crate::experiment::guided::runs_for(seeds.end - seeds.start),
        None => seeds.end - seeds.start,
    };
    let bar = progress(
        total,
        a.quiet,
        "{bar:40} {pos}/{len} seeds  {rate}  eta {eta}  {msg}",
    );
    // A node's failed assertion is a finding, reported below with its seed: keep the default
    // hook's message (one per failing seed, from many threads) off the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let started = std::time::Instant::now();
    let report = explore::explore(&sc, &plan, &|done, failures| {
        bar.set_position(done);
        if failures > 0 {
            bar.set_message(format!("{failures} failing"));
        }
    });
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    outln!(
        "{} seeds in {:.2}s ({:.0} seeds/s on {} threads): {} failing",
        report.seeds_run,
        elapsed,
        report.seeds_run as f64 / elapsed.max(1e-9),
        plan.jobs,
        report.findings.len()
    );
    if let (Some(runs), Some(t)) = (report.first_failure_runs, report.first_failure_time) {
        outln!(
            "first failure after {runs} runs, {:.2}s of their own time (screening included)",
            t.as_secs_f64()
        );
    }
    if plan.guided {
        outln!(
            "guided: {} seeds screened, {} passed over",
            report.seeds_run + report.passed_over,
            report.passed_over
        );
    }
    out!("{}", report.coverage.render());
    let scenario_json = serde_json::to_vec_pretty(&sc).expect("scenario serialises");
    if let Some(shard) = plan.shard {
        write_shard_record(&dir, &a, shard, &report, &scenario_json)?;
    }
    if report.findings.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    // Every finding on the terminal first, whatever happens to the files.
    for f in &report.findings {
        outln!("seed {}: {}: {}", f.seed, f.property, f.detail);
        outln!("  {}", reproduce(&a, f.seed));
    }
    save_findings(&dir, &a, &sc, &report)?;
    if plan.shard.is_none() {
        // A shard wrote it with its record.
        write_atomic(&dir.join("scenario.json"), &scenario_json).map_err(output_failed)?;
    }
    outln!(
        "wrote      {}/failures.tsv, the scenario and one trace per failing seed",
        dir.display()
    );
    Ok(ExitCode::from(1))
}

/// What `explore --shard K/N` writes once it has run every seed of its share.
pub const SHARD_RECORD: &str = "shard.json";

/// Reads every shard's record: all must be there, of one search (the same N, seeds and
/// scenario), each K once and every K of 1..=N present.
pub fn check_shards(shards: &[PathBuf]) -> Result<()> {
    let mut first: Option<(u64, String, Vec<u8>)> = None;
    let mut seen = std::collections::BTreeSet::new();
    for dir in shards {
        let path = dir.join(SHARD_RECORD);
        let text = std::fs::read(&path).map_err(|_| {
            anyhow::anyhow!(
                "{}: no {SHARD_RECORD}: not a finished shard (it did not run to the end, or the folder is not a shard's)",
                dir.display()
            )
        })?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let (Some(k), Some(n), Some(seeds)) =
            (v["shard"].as_u64(), v["of"].as_u64(), v["seeds"].as_str())
        else {
            anyhow::bail!("{}: not a shard record", path.display());
        };
        let sc = std::fs::read(dir.join("scenario.json"))
            .with_context(|| format!("{}: no scenario.json", dir.display()))?;
        match &first {
            None => first = Some((n, seeds.to_string(), sc)),
            Some((n0, s0, sc0)) => {
                if (*n0, s0.as_str()) != (n, seeds) || *sc0 != sc {
                    anyhow::bail!(
                        "{}: shard {k}/{n} of seeds {seeds} is not of the same search as the first (shard of {n0}, seeds {s0}, or another scenario)",
                        dir.display()
                    );
                }
            }
        }
        if !seen.insert(k) {
            anyhow::bail!("{}: shard {k}/{n} is given twice", dir.display());
        }
    }
    if let Some((n, seeds, _)) = first {
        let missing: Vec<String> = (1..=n)
            .filter(|k| !seen.contains(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "{} {} of seeds {seeds} {} missing: merge needs every shard of the search",
                if missing.len() == 1 {
                    "shard"
                } else {
                    "shards"
                },
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" },
            );
        }
    }
    Ok(())
}

pub fn cmd_merge(shards: &[PathBuf], out: &Path, max_failures: usize) -> Result<ExitCode> {
    if max_failures == 0 {
        anyhow::bail!("--max-failures must be at least 1");
    }
    check_writable(out).context("output folder is not writable (choose another with --out)")?;
    // (seed, the failures.tsv line, the shard it came from)
    let mut found: Vec<(u64, String, PathBuf)> = Vec::new();
    let mut scenario: Option<Vec<u8>> = None;
    check_shards(shards)?;
    // The search's coverage: the sum of the shards' (each ran its own seeds); not printed if
    // a shard's record has none (written before coverage was counted).
    let mut coverage = Some(crate::observe::coverage::Tally::default());
    for dir in shards {
        let tally = std::fs::read(dir.join(SHARD_RECORD))
            .ok()
            .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
            .and_then(|v| crate::observe::coverage::Tally::from_json(&v["coverage"]));
        coverage = coverage.zip(tally).map(|(mut sum, t)| {
            sum.merge(&t);
            sum
        });
    }
    if let Some(c) = coverage {
        out!("{}", c.render());
    }
    for dir in shards {
        let tsv = dir.join("failures.tsv");
        if !tsv.exists() {
            // A shard that found nothing writes its record and scenario only.
            continue;
        }
        let text = std::fs::read_to_string(&tsv)
            .with_context(|| format!("{}: cannot read", tsv.display()))?;
        for (i, line) in text.lines().enumerate() {
            let seed: u64 = line
                .split('\t')
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!("{}:{}: not a failure line", tsv.display(), i + 1)
                })?;
            found.push((seed, line.to_string(), dir.clone()));
        }
        let sc = std::fs::read(dir.join("scenario.json"))
            .with_context(|| format!("{}: no scenario.json", dir.display()))?;
        match &scenario {
            Some(first) if *first != sc => anyhow::bail!(
                "{}: its scenario differs from the first shard's: these are not shards of one search",
                dir.display()
            ),
            Some(_) => {}
            None => scenario = Some(sc),
        }
    }
    found.sort_by_key(|f| f.0);
    found.dedup_by_key(|f| f.0);
    found.truncate(max_failures);
    let Some(scenario) = scenario else {
        outln!("no shard found a failure: nothing to merge");
        return Ok(ExitCode::SUCCESS);
    };
    let mut lines = String::new();
    for (seed, line, dir) in &found {
        let name = format!("seed-{seed}.trace.jsonl");
        let trace = std::fs::read(dir.join(&name))
            .with_context(|| format!("{}: no {name}", dir.display()))?;
        write_atomic(&out.join(&name), &trace).map_err(output_failed)?;
        lines.push_str(line);
        lines.push('\n');
    }
    write_atomic(&out.join("failures.tsv"), lines.as_bytes()).map_err(output_failed)?;
    write_atomic(&out.join("scenario.json"), &scenario).map_err(output_failed)?;
    outln!(
        "merged {}: {}; wrote {}/failures.tsv, the scenario and their traces",
        count(shards.len() as u64, "shard", "shards"),
        count(found.len() as u64, "failing seed", "failing seeds"),
        out.display()
    );
    Ok(ExitCode::from(1))
}

pub fn cmd_shrink(
    path: &Path,
    seed: u64,
    bugs: &[String],
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    let sc = add_bugs(load(path)?, bugs)?;
    let file = out.unwrap_or_else(|| {
        PathBuf::from("output").join(format!("{}-seed{seed}-shrunk.json", sc.name))
    });
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_writable(dir)
            .context("the output folder is not writable (choose another with --out)")?;
    }
    std::panic::set_hook(Box::new(|_| {}));
    let shrunk =
        crate::experiment::shrink::shrink(&sc, seed).map_err(|m| anyhow::anyhow!("{m}"))?;
    let _ = std::panic::take_hook();
    for s in &shrunk.steps {
        outln!("  {s}");
    }
    outln!(
        "{}: {} left after {}; it still fails {}: {}",
        shrunk.scenario.name,
        count(shrunk.scenario.faults.len() as u64, "fault", "faults"),
        count(shrunk.attempts as u64, "run", "runs"),
        shrunk.property,
        shrunk.detail
    );
    let text = serde_json::to_vec_pretty(&shrunk.scenario).expect("scenario serialises");
    write_atomic(&file, &text).map_err(output_failed)?;
    outln!("wrote      {}", file.display());
    outln!("{}", Reproduce::run(&file, seed));
    Ok(ExitCode::SUCCESS)
}
