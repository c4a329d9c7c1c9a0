//! The `raftsim` command line, as a library module so that tests reach every command
//! in-process: flags are parsed ([`Cli`]) and dispatched to one function per command, which
//! calls the layers below, prints, and returns an exit code. `src/main.rs` only calls [`main`].
//!
//! Exit codes: 0 ok; 1 a checked property failed (a safety violation, a liveness failure, a
//! panic, an incomplete run); 2 bad input (file, flag, value), refused before any work; 3 an
//! output file could not be written after the run.
//!
//! This is the top layer: nothing else in the library names it (`tests/layers.rs`).

// The flags' doc comments are clap's `--help` text, written for a terminal
// (`output/<scenario name>-<seed>/`), not rustdoc HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::base::input::count;
use crate::experiment::ChooseNode;
use crate::observe::summary::SummaryBuilder;
use crate::report::output::{check_writable, write_atomic, Unnamed};
use crate::report::reproduce::{parse_trace_hash, Reproduce};
use crate::scenario::Scenario;
use crate::world::{Outcome, TraceLevel};

/// Prints to stdout; a closed pipe (`raftsim ... | head`) is not an error worth a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

pub mod explore;
pub mod inspect;
pub mod run;
pub mod sweep;

use explore::{cmd_explore, cmd_merge, cmd_shrink, ExploreArgs};
use inspect::{
    cmd_bench, cmd_check, cmd_diff, cmd_plot, cmd_trace, cmd_view, load_model, write_timeline,
};
use run::{cmd_run, RunArgs, RunFlags};
use sweep::{cmd_sweep, SweepArgs};

#[derive(Parser)]
#[command(
    name = "raftsim",
    version,
    about = "A deterministic discrete-event simulator for the Raft consensus algorithm"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Play a scenario file: check Raft's safety properties after every event, write a trace
    /// (trace.jsonl) and a summary (summary.json), print the summary and the trace hash.
    Run(RunArgs),
    /// Check a trace file offline: replay its events through the same safety checker that runs
    /// online, and report the first violated property (exit 1) or "ok" (exit 0). A trace
    /// without its final `end` record is incomplete (exit 1); one whose times go backwards is
    /// refused as bad input (exit 2).
    Check {
        /// The trace (JSON Lines, as written by `raftsim run`), at most 512 MiB: it is read
        /// into memory whole.
        trace: PathBuf,
        /// Cluster size [default: from the trace's `start` event].
        #[arg(long)]
        nodes: Option<u32>,
    },
    /// Compare two traces record by record: print "identical: N records" (exit 0), or the first
    /// diverging record of each, with its line in each file, after some common records, or
    /// which trace ends first and where (exit 1). A file that cannot be read or parsed is bad
    /// input (exit 2).
    Diff {
        /// The first trace (JSON Lines, as written by `raftsim run`); its records are marked `-`.
        trace_a: PathBuf,
        /// The second trace; its records are marked `+`.
        trace_b: PathBuf,
        /// Common records to show before the first difference.
        #[arg(long, value_name = "N", default_value_t = 3)]
        context: usize,
    },
    /// Print the records of a trace that match a filter, in the one-line human form of
    /// `--verbose`. Every filter given must hold; with none, the whole trace is printed.
    Trace {
        /// The trace (JSON Lines, as written by `raftsim run`), at most 512 MiB.
        trace: PathBuf,
        /// Only records that name node N (as node, sender, receiver, candidate, or in a split
        /// vote), and those that concern the whole cluster (start, end, partitions, network
        /// faults, skipped faults, violations).
        #[arg(long, value_name = "N")]
        node: Option<u32>,
        /// Only these event kinds, e.g. `role,leader,crash` (the trace's `ev` names).
        #[arg(long = "ev", value_name = "KIND,..", value_delimiter = ',')]
        kinds: Vec<String>,
        /// Only records that carry term T (roles, elections, votes, leaders, split votes,
        /// messages, restarts).
        #[arg(long, value_name = "T")]
        term: Option<u64>,
        /// Only records at or after this time, e.g. 2s or 1500ms.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only records at or before this time.
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
    },
    /// Draw a run's timeline: one lane per node coloured by role (follower, candidate,
    /// leader, down, paused) with its terms, partitions and cut links shaded, elections, new
    /// leaders, crashes, split votes, commits, configuration entries and clock jumps marked,
    /// each node's last log index and commit index, a time axis and a legend; with
    /// --messages, an arrow per message (a Lamport diagram).
    Plot {
        /// The trace (JSON Lines, as written by `raftsim run`), at most 512 MiB.
        trace: PathBuf,
        /// The picture, PNG or SVG by its extension [default: timeline.png beside the trace,
        /// unless only --perfetto is asked for].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also (or, without --out, only) export the trace for the Perfetto UI: Chrome
        /// trace-event JSON with a track per node, roles and terms as spans, faults as
        /// instants, and messages as flow arrows (from a --trace-level messages trace).
        #[arg(long, value_name = "FILE.json")]
        perfetto: Option<PathBuf>,
        /// Start the window here, e.g. 2s [default: the start of the run].
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// End the window here [default: the end of the run].
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Draw every message as an arrow from sender to receiver (the trace must have been
        /// written with --trace-level messages; at most 20,000 arrows in the window).
        #[arg(long)]
        messages: bool,
    },
    /// Write a self-contained HTML page (no network, no external script) that replays a
    /// trace in a browser: nodes with role and term, messages in flight, network faults in
    /// force, the latest events, play/pause and a time slider. Open it as FILE.html#t=2.5 to
    /// start at 2.5 s.
    View {
        /// The trace (JSON Lines, as written by `raftsim run`; messages show when it was
        /// written with --trace-level messages), at most 512 MiB.
        trace: PathBuf,
        /// The page [default: view.html beside the trace].
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
        /// Start the replay window here [default: the start of the run].
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// End it here [default: the end of the run]. At most 300,000 messages and events in
        /// the window.
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
    },
    /// Print the JSON Schema of the scenario file format.
    Schema,
    /// List the Raft implementations a scenario's `node` field may name: what each supports
    /// and the bugs that can be planted in it (`raft.bugs`, `--bug NAME`).
    Nodes,
    /// Figure 16 of the Raft paper: crash the leader, time until a new one, over many trials
    /// per election-timeout range (and any other axes), in parallel. Writes trials.csv,
    /// summary.csv, cdf.png and cdf.svg, and prints the summary table.
    Sweep(SweepArgs),
    /// Search for failures: run the scenario under many seeds in parallel (its faults may be
    /// drawn from the seed, see `generate`), and report each seed whose run fails a checked
    /// property, with the command that replays it. Writes files only for failing seeds (with
    /// --shard, also shard.json and the scenario, so `merge` can tell a shard that finished).
    Explore(ExploreArgs),
    /// Combine the output folders of `explore --shard K/N` runs into exactly what one unsharded
    /// search of the same seeds writes (its first --max-failures failures by seed). Every
    /// shard 1/N..N/N must be given and have finished, or nothing is merged (exit 2).
    Merge {
        /// The shards' output folders (each from `explore --shard K/N --out DIR`).
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The merged folder.
        #[arg(long)]
        out: PathBuf,
        /// Keep the first this many failures by seed, as the unsharded search would.
        #[arg(long, default_value_t = 10)]
        max_failures: usize,
    },
    /// Shrink a failing seed to a smaller scenario that fails the same property: the seed's
    /// drawn shape and generated faults are written out, then faults removed, windows shortened,
    /// client load lowered and the cluster cut while the failure holds. Writes the scenario and
    /// prints the command that runs it.
    Shrink {
        /// The scenario (JSON).
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
        /// Injected bugs the failure needs (adds to the scenario's `raft.bugs`). Repeatable.
        #[arg(long = "bug", value_name = "NAME", value_parser = bug_parser())]
        bugs: Vec<String>,
        /// Where to write the shrunk scenario [default: output/<name>-seed<N>-shrunk.json].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure simulator speed: events/s with tracing off and on, the seed search's seeds/s,
    /// and sweep trials/s; the elections, the loaded run and the seed search also with node
    /// raft-rs beside the built-in node.
    Bench {
        /// Shorter measurements (for a quick look; figures are noisier).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TraceLevelArg {
    Events,
    Messages,
}

/// Parses the process's arguments, runs the command, and maps its result to an exit code.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// [`main`] on the given arguments (the first is the program's name): what a test calls to
/// run a command in-process. A flag clap refuses prints its message and exits 2, as from the
/// shell; `--help` and `--version` print and exit 0.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let result = match cli.cmd {
        Cmd::Run(args) => {
            let (scenario, flags) = args.into_flags();
            cmd_run(&scenario, flags)
        }
        Cmd::Sweep(args) => cmd_sweep(args),
        Cmd::Explore(args) => cmd_explore(args),
        Cmd::Merge {
            shards,
            out,
            max_failures,
        } => cmd_merge(&shards, &out, max_failures),
        Cmd::Shrink {
            scenario,
            seed,
            bugs,
            out,
        } => cmd_shrink(&scenario, seed, &bugs, out),
        Cmd::Bench { quick } => cmd_bench(quick),
        Cmd::Check { trace, nodes } => cmd_check(&trace, nodes),
        Cmd::Diff {
            trace_a,
            trace_b,
            context,
        } => cmd_diff(&trace_a, &trace_b, context),
        Cmd::Trace {
            trace,
            node,
            kinds,
            term,
            from,
            to,
        } => cmd_trace(&trace, node, kinds, term, from, to),
        Cmd::Plot {
            trace,
            out,
            from,
            to,
            messages,
            perfetto,
        } => cmd_plot(&trace, out, from, to, messages, perfetto),
        Cmd::View {
            trace,
            out,
            from,
            to,
        } => cmd_view(&trace, out, from, to),
        Cmd::Schema => {
            outln!("{}", Scenario::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Nodes => {
            outln!("{}", crate::nodes::describe());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<OutputFailed>().is_some() => {
            eprintln!("error: output not written: {e:#}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load(path: &Path) -> Result<Scenario> {
    Ok(Scenario::load(path)?)
}

/// An output file could not be written after the run: exit code 3, not "bad input".
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct OutputFailed(String);

/// A progress bar's rate in whole units a second (`192/s`, not indicatif's `191.8738/s`).
fn whole_rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0}/s", state.per_sec());
}

/// `--jobs`: 1 to `sweep::MAX_JOBS` worker threads [default: the machine's cores, within
/// the bound]; `why` follows the bound in the refusal.
fn jobs(asked: Option<usize>, why: &str) -> Result<usize> {
    use crate::experiment::sweep::MAX_JOBS;
    if let Some(j) = asked.filter(|j| !(1..=MAX_JOBS).contains(j)) {
        anyhow::bail!("--jobs {j} is not allowed: 1 to {MAX_JOBS} worker threads{why}");
    }
    Ok(asked.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS))
    }))
}

/// A progress bar of `total` units drawn with `template` when standard error is a terminal
/// (and not `--quiet`), else a hidden one.
fn progress(total: u64, quiet: bool, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(template)
            .expect("valid template")
            .with_key("rate", whole_rate),
    );
    pb
}

/// `--seed`: a whole number, 0 to 2^64 - 1 (a negative one is read here too, to be refused
/// with the range rather than taken for a flag).
fn parse_seed(s: &str) -> std::result::Result<u64, String> {
    s.parse().map_err(|_| {
        format!(
            "{s:?} is not a seed: a whole number from 0 to {}",
            crate::base::input::thousands(u64::MAX)
        )
    })
}

/// `--trials`: a whole number, 1 to the bound on a sweep's trials.
fn parse_trials(s: &str) -> std::result::Result<u32, String> {
    let max = crate::scenario::MAX_TRIALS;
    let bound = || format!("1 to {}", crate::base::input::thousands(max));
    let n: u64 = s.parse().map_err(|_| {
        format!(
            "{s:?} is not a number of trials: a whole number, {}",
            bound()
        )
    })?;
    if n == 0 {
        return Err(format!("0 trials is not allowed: {}", bound()));
    }
    if n > max {
        return Err(crate::scenario::trials_bound(n));
    }
    Ok(n as u32)
}

fn output_failed(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(OutputFailed(e.to_string()))
}

/// `--bug NAME`: one of the injected bugs' names, of any implementation (clap lists them when
/// the name is unknown); [`add_bugs`] then checks it is one of the chosen node's.
fn bug_parser() -> clap::builder::PossibleValuesParser {
    use crate::nodes::NodeKind;
    clap::builder::PossibleValuesParser::new(
        NodeKind::ALL
            .into_iter()
            .flat_map(|k| k.bug_names().iter().copied())
            .chain(crate::nodes::APPLICATION_BUGS),
    )
}

/// Adds `--bug` names to the scenario's `raft.bugs`, checked against its node's own list.
fn add_bugs(mut sc: Scenario, bugs: &[String]) -> Result<Scenario> {
    if bugs.is_empty() {
        return Ok(sc);
    }
    sc.raft.bugs.extend(bugs.iter().cloned());
    sc.validate()
        .map_err(|(field, m)| anyhow::anyhow!("--bug: field `{field}`: {m}"))?;
    Ok(sc)
}

/// Applies `--set PATH=VALUE` of `command` (run, explore) to a scenario, validated again
/// afterwards.
fn apply_sets(sc: Scenario, sets: &[String], command: &str) -> Result<Scenario> {
    use crate::experiment::sweep::{parse_set, set_path};
    if sets.is_empty() {
        return Ok(sc);
    }
    let mut v = serde_json::to_value(&sc).expect("a scenario serializes");
    for s in sets {
        let axis = parse_set(s).map_err(|m| anyhow::anyhow!("{m}"))?;
        let [value] = &axis.values[..] else {
            anyhow::bail!("--set {s:?}: {command} takes one value (a sweep takes several)");
        };
        set_path(&mut v, &axis.path, value.clone()).map_err(|m| anyhow::anyhow!("{m}"))?;
    }
    let sc: Scenario = serde_json::from_value(v)
        .map_err(|e| anyhow::anyhow!("--set {}: {e}", sets.join(" --set ")))?;
    sc.validate()
        .map_err(|(field, m)| anyhow::anyhow!("--set: field `{field}`: {m}"))?;
    Ok(sc)
}
