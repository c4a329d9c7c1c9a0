//! `raftsim sweep`: Figure 16 and any other grid of configurations.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::*;
use crate::base::time::{parse_duration, SimDuration};
use crate::experiment::sweep::{self, SweepConfig, SweepPlan};
use crate::scenario::{Experiment, SweepRange};
#[derive(clap::Args)]
/// The flags of `raftsim sweep`.
pub struct SweepArgs {
    /// The scenario: cluster, network, clocks, disks and logs of each trial (its `sweep`
    /// section gives default ranges and trial counts).
    scenario: PathBuf,
    /// Election-timeout ranges in ms, e.g. 150-150,150-155,150-300 [default: the scenario's].
    #[arg(long, value_delimiter = ',')]
    timeouts: Vec<String>,
    /// Trials per range, for every range [default: the scenario's, else 1000]. At most
    /// 1,000,000 in the whole sweep (one result row per trial is kept in memory and written to
    /// trials.csv).
    #[arg(long, value_name = "TRIALS", allow_hyphen_values = true)]
    trials: Option<String>,
    /// Worker threads, 1 to 1024 [default: the number of cores]. Output files do not depend on
    /// it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Base seed; trial seeds derive from (seed, configuration, trial) [default: the scenario's].
    #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
    seed: Option<u64>,
    /// Output folder [default: output/sweep-<scenario name>/].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Longest time a trial measures (from the crash, or from the start of a cold start); a
    /// trial that would take longer is capped, a censored observation counted above the cap
    /// [default: the scenario's sweep.cap, else 20m; 10s for --experiment membership, whose
    /// trials run on to the cap].
    #[arg(long, allow_hyphen_values = true)]
    cap: Option<String>,
    /// Cluster sizes to sweep as another axis, e.g. 3,5,7,9.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<u32>,
    /// Another axis: a scenario field by its path and values, e.g.
    /// --set network.loss=0,0.01,0.05 or --set 'network.delay.uniform=["1ms","2ms"]'. Repeatable.
    /// The grid (ranges × cluster sizes × each axis's values) holds at most 1000
    /// configurations.
    #[arg(long = "set")]
    sets: Vec<String>,
    /// Draw the CDF with a log time axis.
    #[arg(long, conflicts_with = "linear")]
    log: bool,
    /// Draw the CDF with a linear time axis.
    #[arg(long)]
    linear: bool,
    /// End the CDF's time axis at this duration, e.g. 500ms [default: the scenario's
    /// sweep.plot_max, else the slowest trial].
    #[arg(long)]
    plot_max: Option<String>,
    /// The experiment: failover (Figure 16: the leader crashes), cold_start (a cluster of
    /// followers elects its first leader) or membership (under the scenario's load, n1 leading
    /// cluster.voters, else n1..n3, is asked at 1s to make every node a voter: time until C_new
    /// commits; --nodes sets the size it grows to) [default: the scenario's sweep.experiment,
    /// else failover].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::scenario::Experiment::NAMES))]
    experiment: Option<String>,
    /// Failover times observed elsewhere (a CSV with columns `range` and `downtime_ms`, one row
    /// per failover, e.g. from your own cluster): drawn beside the simulated CDFs, and compared
    /// per range (median and p90 ratios, Kolmogorov-Smirnov distance).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Replay one trial instead of sweeping: RANGE#N (e.g. 150-155#17) or cK#N, as the
    /// `trial_id` column of trials.csv names it, with the same --timeouts, --nodes, --set,
    /// --seed, --cap and --experiment as the sweep. Writes the trial's complete scenario to
    /// the output folder as scenario.json and runs it as `raftsim run` does.
    #[arg(long)]
    trial: Option<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The plan a sweep's flags and its scenario's `sweep` section ask for, checked: ranges,
/// trials, experiment, cap, axes and seed.
pub fn plan(a: &SweepArgs, sc: &Scenario) -> Result<SweepPlan> {
    let spec = sc.sweep.as_ref();
    let ranges: Vec<SweepRange> = if !a.timeouts.is_empty() {
        a.timeouts
            .iter()
            .map(|t| {
                sweep::parse_range(t).map(|timeout| SweepRange {
                    timeout,
                    trials: None,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|m| anyhow::anyhow!("--timeouts: {m}"))?
    } else if let Some(s) = spec {
        s.ranges.clone()
    } else {
        vec![SweepRange {
            timeout: sc.raft.election_timeout,
            trials: None,
        }]
    };
    let trials = (a.trials.as_deref().map(parse_trials).transpose())
        .map_err(|m| anyhow::anyhow!("--trials: {m}"))?;
    let experiment = a
        .experiment
        .as_deref()
        .map(|e| Experiment::from_name(e).expect("a possible value"))
        .or(spec.map(|s| s.experiment))
        .unwrap_or_default();
    let cap = match &a.cap {
        Some(c) => parse_duration(c).map_err(|e| anyhow::anyhow!("--cap: {e}"))?,
        // A membership trial runs on to its cap under load (the world has no stop condition
        // for a change), so its default is short.
        None => spec.and_then(|s| s.cap).unwrap_or(SimDuration::from_secs(
            if experiment == Experiment::Membership {
                10
            } else {
                20 * 60
            },
        )),
    };
    if cap.0 == 0 {
        anyhow::bail!("--cap must be above zero");
    }
    let sets = a
        .sets
        .iter()
        .map(|s| sweep::parse_set(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| anyhow::anyhow!("--set: {m}"))?;
    Ok(SweepPlan {
        experiment,
        ranges,
        default_trials: spec.map_or(1000, |s| s.trials),
        trials_override: trials,
        nodes: a.nodes.clone(),
        sets,
        seed: a.seed.unwrap_or(sc.seed),
        cap,
    })
}

/// `--reference FILE`: failover times observed elsewhere, read within their bound.
fn read_reference(file: Option<&Path>) -> Result<Option<crate::experiment::reference::Reference>> {
    use crate::experiment::reference;
    let Some(p) = file else {
        return Ok(None);
    };
    let text = crate::base::input::read_to_string_limited(p, reference::MAX_REFERENCE_BYTES)
        .map_err(|e| anyhow::anyhow!("--reference {}: {e}", p.display()))?;
    let parsed =
        reference::parse(&text).map_err(|m| anyhow::anyhow!("--reference {}: {m}", p.display()))?;
    Ok(Some(parsed))
}

/// The CDF's axis: `--log` or `--linear` over the scenario's choice, and its end in ms.
fn axis(a: &SweepArgs, spec: Option<&crate::scenario::SweepSpec>) -> Result<(bool, Option<f64>)> {
    let plot_max = match &a.plot_max {
        Some(d) => Some(parse_duration(d).map_err(|e| anyhow::anyhow!("--plot-max: {e}"))?),
        None => spec.and_then(|s| s.plot_max),
    }
    .map(|d| d.0 as f64 / 1e6);
    let log_axis = if a.log {
        true
    } else if a.linear {
        false
    } else {
        spec.is_some_and(|s| s.log_axis)
    };
    Ok((log_axis, plot_max))
}

/// Writes trials.csv, summary.csv, cdf.png and cdf.svg into `dir`; each file appears whole or
/// not at all.
fn write_files(
    dir: &Path,
    title: &str,
    configs: &[SweepConfig],
    results: &[sweep::TrialResult],
    sums: &[sweep::ConfigSummary],
    reference: Option<&crate::experiment::reference::Reference>,
    (log_axis, plot_max): (bool, Option<f64>),
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| output_failed(format!("cannot write {}: {e}", dir.display())))?;
    write_atomic(
        &dir.join("trials.csv"),
        &sweep::trials_csv(configs, results),
    )
    .map_err(output_failed)?;
    write_atomic(&dir.join("summary.csv"), &sweep::summary_csv(sums)).map_err(output_failed)?;
    let mut lines = sweep::cdf_lines(configs, results);
    if let Some(r) = reference {
        lines.extend(sweep::reference_lines(configs, r));
    }
    for name in ["cdf.png", "cdf.svg"] {
        // Draw to a temporary name, then rename: no half-written plot.
        let tmp = dir.join(format!(
            ".{name}.tmp.{}",
            if name.ends_with("svg") { "svg" } else { "png" }
        ));
        crate::report::plot::draw_cdf(&tmp, title, &lines, log_axis, plot_max)
            .map_err(|e| output_failed(format!("drawing {name}: {e}")))?;
        std::fs::rename(&tmp, dir.join(name)).map_err(|e| {
            output_failed(format!("cannot write {}: {e}", dir.join(name).display()))
        })?;
    }
    Ok(())
}

/// A safety failure is a finding, not a statistic: saves the first failing trial's own
/// scenario into `dir` and says how to replay it. `None` when no trial failed.
fn save_failing_trial(
    dir: &Path,
    configs: &[SweepConfig],
    results: &[sweep::TrialResult],
) -> Result<Option<ExitCode>> {
    let Some(bad) = results.iter().find(|r| r.violation.is_some()) else {
        return Ok(None);
    };
    let cfg = &configs[bad.config];
    let file = dir.join(format!("failing-trial-{}-{}.json", bad.config, bad.trial));
    let text = serde_json::to_vec_pretty(&cfg.scenario).expect("scenario serialises");
    write_atomic(&file, &text).map_err(output_failed)?;
    let failed = results.iter().filter(|r| r.violation.is_some()).count();
    eprintln!(
        "property failed in {failed} trial(s); first: {} trial {} (seed {}): {}",
        cfg.label(),
        bad.trial,
        bad.seed,
        bad.violation.as_deref().unwrap_or_default()
    );
    eprintln!("{}", Reproduce::run(&file, bad.seed));
    Ok(Some(ExitCode::from(1)))
}

/// The sweep command with the flags that shape the grid and the seeds, so that adding
/// `--trial ID` finds the same trial.
pub fn replay_command(a: &SweepArgs, trials: Option<u32>) -> String {
    let mut cmd = format!("raftsim sweep {}", a.scenario.display());
    if !a.timeouts.is_empty() {
        cmd.push_str(&format!(" --timeouts {}", a.timeouts.join(",")));
    }
    if !a.nodes.is_empty() {
        let n: Vec<String> = a.nodes.iter().map(|n| n.to_string()).collect();
        cmd.push_str(&format!(" --nodes {}", n.join(",")));
    }
    for s in &a.sets {
        cmd.push_str(&format!(" --set '{s}'"));
    }
    if let Some(t) = trials {
        cmd.push_str(&format!(" --trials {t}"));
    }
    if let Some(s) = a.seed {
        cmd.push_str(&format!(" --seed {s}"));
    }
    if let Some(c) = &a.cap {
        cmd.push_str(&format!(" --cap {c}"));
    }
    if let Some(e) = &a.experiment {
        cmd.push_str(&format!(" --experiment {e}"));
    }
    cmd
}

/// `raftsim sweep`: checks every flag before any work, runs the grid's trials in parallel,
/// writes the files and prints the table; exit 1 if a trial broke a safety property.
pub fn cmd_sweep(a: SweepArgs) -> Result<ExitCode> {
    let sc = load(&a.scenario)?;
    let file = a.scenario.display().to_string();
    if sc.draw.is_some() {
        anyhow::bail!(
            "{file}: field `draw`: a sweep sets its own grid and does not draw the cluster's shape per trial; remove `draw` (it is for `run`, `explore` and `shrink`)"
        );
    }
    let plan = plan(&a, &sc)?;
    let jobs = jobs(
        a.jobs,
        " (a trial runs on one thread, so threads beyond the machine's cores add memory and switching, not speed; the bound does not depend on the machine, so a command line that works on one works on another)",
    )?;
    let configs = sweep::build_configs(&file, &sc, &plan)?;
    let reference = read_reference(a.reference.as_deref())?;
    if let Some(id) = &a.trial {
        return replay_trial(&a.scenario, &sc.name, &configs, plan.seed, id, a.out);
    }
    let axis = axis(&a, sc.sweep.as_ref())?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(format!("sweep-{}", sc.name)));
    // The folder is created when the files are written, after the sweep: a refused or
    // interrupted sweep leaves no empty folder behind. Check now that it can be.
    check_writable(&dir).context("output folder is not writable (choose another with --out)")?;
    let total: u64 = configs.iter().map(|c| c.trials as u64).sum();
    if !a.quiet {
        eprintln!(
            "sweep ({} experiment) changes in {file}:",
            plan.experiment.name()
        );
        for line in sweep::describe_changes(&sc, &plan) {
            eprintln!("  {line}");
        }
    }
    let bar = progress(
        total,
        a.quiet,
        "{bar:40} {pos}/{len} trials  {rate}  eta {eta}",
    );
    let started = std::time::Instant::now();
    let results = sweep::run_sweep(&configs, plan.seed, jobs, &|k| bar.inc(k))
        .map_err(|e| anyhow::anyhow!("--jobs {jobs}: {e}"))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let sums = sweep::summarize(&configs, &results, plan.experiment);
    let title = sweep::plot_title(&sc.name, &plan);
    write_files(
        &dir,
        &title,
        &configs,
        &results,
        &sums,
        reference.as_ref(),
        axis,
    )?;
    out!("{}", sweep::summary_table(&sums, plan.experiment));
    if let Some(r) = &reference {
        use crate::experiment::reference;
        out!(
            "{}",
            reference::table(&reference::compare(&configs, &results, r), r, &configs)
        );
    }
    if let Some(code) = save_failing_trial(&dir, &configs, &results)? {
        return Ok(code);
    }
    outln!(
        "{} trials in {:.2}s wall on {} threads; wrote {}/{{trials.csv,summary.csv,cdf.png,cdf.svg}}",
        total,
        elapsed.as_secs_f64(),
        jobs,
        dir.display()
    );
    if !a.quiet {
        eprintln!(
            "replay a trial of trials.csv with: {} --trial TRIAL_ID --out DIR  (e.g. --trial {})",
            replay_command(&a, plan.trials_override),
            sweep::trial_id(&configs, 0, 0)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `sweep --trial ID`: writes the trial's complete scenario and runs it as `raftsim run` does;
/// the run's downtime must be the sweep's.
pub fn replay_trial(
    scenario: &Path,
    name: &str,
    configs: &[crate::experiment::sweep::SweepConfig],
    seed: u64,
    id: &str,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    use crate::experiment::sweep;
    let (config, trial) =
        sweep::find_trial(configs, id).map_err(|m| anyhow::anyhow!("--trial: {m}"))?;
    let (sc, swept) = sweep::trial_scenario(configs, seed, config, trial);
    let dir = out.unwrap_or_else(|| {
        PathBuf::from("output").join(format!("sweep-{name}-{}", id.replace('#', "-trial")))
    });
    check_writable(&dir).context("output folder is not writable (choose another with --out)")?;
    let file = dir.join("scenario.json");
    let mut text = serde_json::to_vec_pretty(&sc).expect("scenario serialises");
    text.push(b'\n');
    std::fs::create_dir_all(&dir)
        .map_err(|e| output_failed(format!("cannot write {}: {e}", dir.display())))?;
    write_atomic(&file, &text).map_err(output_failed)?;
    // The written file, read back as `raftsim run` reads it.
    let back = load(&file)?;
    let replayed = sweep::run_compiled(
        &back.compile(),
        &back.node_choice(),
        sc.seed,
        configs[config].cap,
    );
    let show = |d: Option<u64>| {
        d.map_or("capped".to_string(), |ns| {
            format!("{:.3} ms", ns as f64 / 1e6)
        })
    };
    outln!(
        "trial {id} of {} ({}): seed {}, crash at {}; downtime {} (the sweep's: {})",
        scenario.display(),
        configs[config].label(),
        sc.seed,
        crate::base::time::SimTime(swept.crash_ns),
        show(replayed.downtime_ns),
        show(swept.downtime_ns)
    );
    if replayed.downtime_ns != swept.downtime_ns {
        eprintln!("the replayed trial's downtime differs from the sweep's: a bug in raftsim");
        return Ok(ExitCode::from(1));
    }
    outln!("replay with: raftsim run {}", file.display());
    cmd_run(
        &file,
        RunFlags {
            seed: None,
            out: Some(dir),
            quiet: false,
            verbose: false,
            level: TraceLevel::Events,
            panic_after_steps: None,
            expect_hash: None,
            bugs: Vec::new(),
            sets: Vec::new(),
            plot: false,
            perfetto: None,
        },
    )
}
