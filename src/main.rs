//! The `raftsim` command line: parses flags, calls the library, prints, and maps results to
//! exit codes: 0 ok; 1 a checked property failed (a safety violation, a liveness failure, a
//! panic, an incomplete run); 2 bad input (file, flag, value), refused before any work; 3 an
//! output file could not be written after the run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use raftsim::base::input::count;
use raftsim::experiment::ChooseNode;
use raftsim::observe::summary::SummaryBuilder;
use raftsim::report::output::{check_writable, write_atomic, Unnamed};
use raftsim::report::reproduce::{parse_trace_hash, Reproduce};
use raftsim::scenario::Scenario;
use raftsim::world::{Outcome, TraceLevel};

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

#[derive(Parser)]
#[command(
    name = "raftsim",
    version,
    about = "A deterministic discrete-event simulator for the Raft consensus algorithm"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Play a scenario file: check Raft's safety properties after every event, write a trace
    /// (trace.jsonl) and a summary (summary.json), print the summary and the trace hash.
    Run {
        /// The scenario file (JSON, at most 1 MiB).
        scenario: PathBuf,
        /// Seed for every random draw; overrides the scenario's `seed`.
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
        /// Output folder [default: output/<scenario name>-<seed>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print only the outcome line and the trace hash.
        #[arg(long)]
        quiet: bool,
        /// Also print the trace in its one-line human form.
        #[arg(long)]
        verbose: bool,
        /// What the trace records: `events` (state changes, faults, drops, clients) or
        /// `messages` (also every message's send and deliver, paired by id).
        #[arg(long, value_enum, default_value = "events")]
        trace_level: TraceLevelArg,
        /// Testing aid: make the node panic at its N-th step, to see what a run that stops on a
        /// broken assertion leaves behind.
        #[arg(long, hide = true)]
        panic_after_steps: Option<u64>,
        /// Verify a replay: the trace hash this run must produce (64 lowercase hex digits, as a
        /// run prints it). A different hash is a failed check (exit 1): both hashes and the
        /// reproduce line are printed; `raftsim diff` then shows the first diverging record.
        #[arg(long, value_name = "HASH", value_parser = parse_trace_hash)]
        expect_hash: Option<String>,
        /// Inject a bug into the node under test (each node has its own: `raftsim nodes`), to see the checker catch it; adds to the
        /// scenario's `raft.bugs`. Repeatable.
        #[arg(long = "bug", value_name = "NAME", value_parser = bug_parser())]
        bugs: Vec<String>,
        /// Set a scenario field by its path, e.g. --set raft.pre_vote=true (one value; as in
        /// `sweep --set`). Repeatable.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Also draw the run's timeline into timeline.png (see `raftsim plot`).
        #[arg(long)]
        plot: bool,
        /// Also export the run for the Perfetto UI (Chrome trace-event JSON) to FILE: a track
        /// per node with its roles and terms, faults as instants, and, with `--trace-level
        /// messages`, every message as a flow arrow.
        #[arg(long, value_name = "FILE.json")]
        perfetto: Option<PathBuf>,
    },
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
enum TraceLevelArg {
    Events,
    Messages,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run {
            scenario,
            seed,
            out,
            quiet,
            verbose,
            trace_level,
            panic_after_steps,
            expect_hash,
            bugs,
            sets,
            plot,
            perfetto,
        } => cmd_run(
            &scenario,
            RunFlags {
                seed,
                out,
                quiet,
                verbose,
                level: match trace_level {
                    TraceLevelArg::Events => TraceLevel::Events,
                    TraceLevelArg::Messages => TraceLevel::Messages,
                },
                panic_after_steps,
                expect_hash,
                bugs,
                sets,
                plot,
                perfetto,
            },
        ),
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
            outln!("{}", raftsim::nodes::describe());
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

/// `--seed`: a whole number, 0 to 2^64 - 1 (a negative one is read here too, to be refused
/// with the range rather than taken for a flag).
fn parse_seed(s: &str) -> std::result::Result<u64, String> {
    s.parse().map_err(|_| {
        format!(
            "{s:?} is not a seed: a whole number from 0 to {}",
            raftsim::base::input::thousands(u64::MAX)
        )
    })
}

/// `--trials`: a whole number, 1 to the bound on a sweep's trials.
fn parse_trials(s: &str) -> std::result::Result<u32, String> {
    let max = raftsim::scenario::MAX_TRIALS;
    let bound = || format!("1 to {}", raftsim::base::input::thousands(max));
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
        return Err(raftsim::scenario::trials_bound(n));
    }
    Ok(n as u32)
}

fn output_failed(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(OutputFailed(e.to_string()))
}

struct RunFlags {
    seed: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
    verbose: bool,
    level: TraceLevel,
    panic_after_steps: Option<u64>,
    expect_hash: Option<String>,
    bugs: Vec<String>,
    sets: Vec<String>,
    plot: bool,
    perfetto: Option<PathBuf>,
}

/// `--bug NAME`: one of the injected bugs' names, of any implementation (clap lists them when
/// the name is unknown); [`add_bugs`] then checks it is one of the chosen node's.
fn bug_parser() -> clap::builder::PossibleValuesParser {
    use raftsim::nodes::NodeKind;
    clap::builder::PossibleValuesParser::new(
        NodeKind::ALL
            .into_iter()
            .flat_map(|k| k.bug_names().iter().copied())
            .chain(raftsim::nodes::APPLICATION_BUGS),
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

fn cmd_run(path: &Path, f: RunFlags) -> Result<ExitCode> {
    use raftsim::experiment::run::{run_observed, PanicAfter};
    use raftsim::observe::trace::TraceWriter;

    let sc = add_bugs(apply_sets(load(path)?, &f.sets, "run")?, &f.bugs)?;
    let seed = f.seed.unwrap_or(sc.seed);
    let dir = f
        .out
        .unwrap_or_else(|| PathBuf::from("output").join(format!("{}-{seed}", sc.name)));
    let drawn = sc.for_seed(seed);
    let (cfg, node) = (drawn.compile(), drawn.node_choice());
    // Every flag that changes what the run writes, so the printed line replays it byte for byte.
    let mut repro = Reproduce::run(path, seed);
    if let TraceLevel::Messages = f.level {
        repro = repro.flag("trace-level", "messages");
    }
    if let Some(n) = f.panic_after_steps {
        repro = repro.flag("panic-after-steps", n);
    }
    for b in &f.bugs {
        repro = repro.flag("bug", b);
    }
    for s in &f.sets {
        repro = repro.flag("set", s);
    }
    // The trace streams to an unnamed file as the run goes, so memory stays flat, and takes its
    // name at the end, when the output folder is created: a run that stops early (a violation,
    // a panic, SIGINT or SIGTERM) still leaves everything up to that point, and a run that is
    // killed outright (SIGKILL) leaves nothing, not even an empty folder. Creating the file checks, before any work, that the
    // folder can be written.
    let trace_path = dir.join("trace.jsonl");
    if let Some(p) = &f.perfetto {
        // Before the run, like the output folder: its result must not be lost at the end.
        let folder = p.parent().filter(|d| !d.as_os_str().is_empty());
        check_writable(folder.unwrap_or(Path::new(".")))
            .with_context(|| format!("--perfetto {}: its folder is not writable", p.display()))?;
    }
    let unnamed = Unnamed::create(&dir)
        .context("output folder is not writable (choose another with --out)")?;
    let file = unnamed
        .writer()
        .map_err(|e| output_failed(format!("cannot write {}: {e}", trace_path.display())))?;
    let mut trace = TraceWriter::new(std::io::BufWriter::new(file));
    // SIGINT/SIGTERM from here on stop the run at its next event, which then ends as any early
    // end does: the trace so far, the summary, the reproduce line (outcome `interrupted`).
    raftsim::base::interrupt::install().map_err(|e| anyhow::anyhow!(e))?;
    let (result, mut summary) = match f.panic_after_steps {
        None => raftsim::with_node!(&node, N, o => {
            run_observed::<N, _, _>(&cfg, o, seed, f.level, Some(&mut trace), &mut ())
        }),
        Some(n) => {
            let raftsim::nodes::NodeChoice::Raftsim(o) = &node else {
                anyhow::bail!("--panic-after-steps is for the built-in node (node raftsim)");
            };
            PanicAfter::arm(n);
            run_observed::<PanicAfter, _, _>(&cfg, o, seed, f.level, Some(&mut trace), &mut ())
        }
    };
    let hash = trace.hash();
    let finished = trace
        .finish()
        .and_then(|(w, _)| w.into_inner().map_err(|e| e.into_error()).map(drop))
        .map_err(|e| format!("cannot write {}: {e}", trace_path.display()))
        .and_then(|()| unnamed.persist(&trace_path).map_err(|e| e.to_string()));
    if let Err(e) = finished {
        eprintln!("{repro}");
        return Err(output_failed(e));
    }
    summary.trace_hash = Some(hash.clone());
    // The file as read (Scenario::load read it within its size bound a moment ago).
    summary.scenario_sha256 = std::fs::read(path)
        .ok()
        .map(|b| raftsim::observe::trace::hash_hex(&b));
    let summary_json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
    if let Err(e) = write_atomic(&dir.join("summary.json"), &summary_json) {
        eprintln!("{repro}");
        return Err(output_failed(e));
    }
    if f.plot || f.perfetto.is_some() {
        // From the trace as written: the pictures show what the file says.
        let model = match load_model(&trace_path) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{repro}");
                return Err(output_failed(e));
            }
        };
        let opts = raftsim::report::timeline::TimelineOptions {
            from: 0,
            to: model.end.max(1),
            messages: false,
        };
        if f.plot {
            if let Err(e) = write_timeline(&dir.join("timeline.png"), &model, &opts) {
                eprintln!("{repro}");
                return Err(e);
            }
        }
        if let Some(p) = &f.perfetto {
            let bytes = raftsim::report::perfetto::export(&model);
            if let Err(e) = write_atomic(p, &bytes) {
                eprintln!("{repro}");
                return Err(output_failed(e));
            }
        }
    }
    if f.verbose {
        // Read back line by line; a closed pipe (`| head`) ends the listing quietly.
        use std::io::{BufRead, Write};
        let file = std::fs::File::open(&trace_path).map_err(output_failed)?;
        let mut stdout = std::io::stdout().lock();
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(output_failed)?;
            let rec: raftsim::observe::trace::Record =
                serde_json::from_str(&line).expect("own trace parses");
            if writeln!(stdout, "{rec}").is_err() {
                break;
            }
        }
    }
    if f.quiet {
        outln!(
            "{} {}",
            summary.outcome,
            summary.trace_hash.as_deref().unwrap_or("")
        );
    } else {
        out!("{}", SummaryBuilder::render(&summary));
        outln!(
            "wrote      {}/trace.jsonl, {}/summary.json{}",
            dir.display(),
            dir.display(),
            if f.plot {
                format!(", {}/timeline.png", dir.display())
            } else {
                String::new()
            }
        );
        if let Some(p) = &f.perfetto {
            outln!("wrote      {} (open it in the Perfetto UI)", p.display());
        }
    }
    let mut failed = match result.outcome {
        Outcome::Violation => {
            let v = result.violation.expect("violation outcome has one");
            eprintln!(
                "property failed: {} at event {} (line {} of {}/trace.jsonl): {}",
                v.property,
                v.event_index,
                v.event_index,
                dir.display(),
                v.detail
            );
            true
        }
        Outcome::Panic => {
            eprintln!(
                "panicked: {} (the trace up to the panic is in {}/trace.jsonl)",
                result.panic.as_deref().unwrap_or(""),
                dir.display()
            );
            true
        }
        Outcome::EventLimit => {
            eprintln!(
                "the run reached limits.max_events ({}) before stop.at: its result is incomplete",
                sc.limits.max_events
            );
            true
        }
        Outcome::QueueLimit => {
            use raftsim::base::input::thousands;
            eprintln!(
                "the run stopped at t={} with more than {} events waiting or {} messages in flight (the bound for raft.max_entries_per_message {}): the cluster was sent more than it handles, and the run stopped before its memory grew without bound; its result is incomplete",
                raftsim::base::time::SimTime(result.end_time_ns),
                thousands(cfg.max_queued),
                thousands(cfg.max_in_flight),
                sc.raft.max_entries_per_message,
            );
            true
        }
        Outcome::Interrupted => {
            eprintln!(
                "interrupted at t={} after {} simulation events: the trace so far is in {}/trace.jsonl; its result is incomplete",
                raftsim::base::time::SimTime(result.end_time_ns),
                result.events,
                dir.display()
            );
            true
        }
        Outcome::TimeLimit if sc.stop.when.is_some() => {
            eprintln!(
                "liveness: the stop condition did not hold by the end of the run ({})",
                result.outcome.name()
            );
            true
        }
        _ => false,
    };
    if let Some(want) = f.expect_hash.as_deref().filter(|&want| want != hash) {
        // A replay that is not byte-identical is a failed check, whatever its outcome.
        eprintln!("trace hash mismatch: this run's trace is not the one expected");
        eprintln!("  expected: {want}");
        eprintln!("  got:      {hash}");
        eprintln!(
            "  (`raftsim diff EXPECTED_TRACE {}/trace.jsonl` shows the first diverging record)",
            dir.display()
        );
        failed = true;
    }
    if failed {
        eprintln!("{repro}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct SweepArgs {
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
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(raftsim::scenario::Experiment::NAMES))]
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

fn cmd_sweep(a: SweepArgs) -> Result<ExitCode> {
    use raftsim::experiment::sweep::{self, SweepPlan};
    use raftsim::scenario::SweepRange;
    use std::io::IsTerminal;

    let sc = load(&a.scenario)?;
    let file = a.scenario.display().to_string();
    if sc.draw.is_some() {
        anyhow::bail!(
            "{file}: field `draw`: a sweep sets its own grid and does not draw the cluster's shape per trial; remove `draw` (it is for `run`, `explore` and `shrink`)"
        );
    }
    let spec = sc.sweep.clone();
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
    } else if let Some(s) = &spec {
        s.ranges.clone()
    } else {
        vec![SweepRange {
            timeout: sc.raft.election_timeout,
            trials: None,
        }]
    };
    let trials = (a.trials.as_deref().map(parse_trials).transpose())
        .map_err(|m| anyhow::anyhow!("--trials: {m}"))?;
    if let Some(j) = a.jobs.filter(|j| !(1..=sweep::MAX_JOBS).contains(j)) {
        anyhow::bail!(
            "--jobs {j} is not allowed: 1 to {} worker threads (a trial runs on one thread, so threads beyond the machine's cores add memory and switching, not speed; the bound does not depend on the machine, so a command line that works on one works on another)",
            sweep::MAX_JOBS
        );
    }
    let experiment = a
        .experiment
        .as_deref()
        .map(|e| raftsim::scenario::Experiment::from_name(e).expect("a possible value"))
        .or(spec.as_ref().map(|s| s.experiment))
        .unwrap_or_default();
    let cap = match &a.cap {
        Some(c) => {
            raftsim::base::time::parse_duration(c).map_err(|e| anyhow::anyhow!("--cap: {e}"))?
        }
        None => spec.as_ref().and_then(|s| s.cap).unwrap_or(
            raftsim::base::time::SimDuration::from_secs(
                // A membership trial runs on to its cap under load (the world has no stop
                // condition for a change), so its default is short.
                if experiment == raftsim::scenario::Experiment::Membership {
                    10
                } else {
                    20 * 60
                },
            ),
        ),
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
    let seed = a.seed.unwrap_or(sc.seed);
    let plan = SweepPlan {
        experiment,
        ranges,
        default_trials: spec.as_ref().map_or(1000, |s| s.trials),
        trials_override: trials,
        nodes: a.nodes.clone(),
        sets,
        seed,
        cap,
    };
    let configs = sweep::build_configs(&file, &sc, &plan)?;
    let reference = match &a.reference {
        None => None,
        Some(p) => {
            use raftsim::experiment::reference;
            let text =
                raftsim::base::input::read_to_string_limited(p, reference::MAX_REFERENCE_BYTES)
                    .map_err(|e| anyhow::anyhow!("--reference {}: {e}", p.display()))?;
            Some(
                reference::parse(&text)
                    .map_err(|m| anyhow::anyhow!("--reference {}: {m}", p.display()))?,
            )
        }
    };
    if let Some(id) = &a.trial {
        return replay_trial(&a.scenario, &sc.name, &configs, seed, id, a.out);
    }
    let plot_max = match &a.plot_max {
        Some(d) => Some(
            raftsim::base::time::parse_duration(d)
                .map_err(|e| anyhow::anyhow!("--plot-max: {e}"))?,
        ),
        None => spec.as_ref().and_then(|s| s.plot_max),
    }
    .map(|d| d.0 as f64 / 1e6);
    let log_axis = if a.log {
        true
    } else if a.linear {
        false
    } else {
        spec.as_ref().is_some_and(|s| s.log_axis)
    };
    let dir = a
        .out
        .unwrap_or_else(|| PathBuf::from("output").join(format!("sweep-{}", sc.name)));
    // The folder is created when the files are written, after the sweep: a refused or
    // interrupted sweep leaves no empty folder behind. Check now that it can be.
    check_writable(&dir).context("output folder is not writable (choose another with --out)")?;
    let jobs = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(sweep::MAX_JOBS))
    });
    let total: u64 = configs.iter().map(|c| c.trials as u64).sum();
    if !a.quiet {
        eprintln!(
            "sweep ({} experiment) changes in {}:",
            experiment.name(),
            file
        );
        for line in sweep::describe_changes(&sc, &plan) {
            eprintln!("  {line}");
        }
    }

    let bar = if !a.quiet && std::io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} trials  {rate}  eta {eta}",
            )
            .expect("valid template")
            .with_key("rate", whole_rate),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let results = sweep::run_sweep(&configs, seed, jobs, &|k| bar.inc(k))
        .map_err(|e| anyhow::anyhow!("--jobs {jobs}: {e}"))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let sums = sweep::summarize(&configs, &results, experiment);
    std::fs::create_dir_all(&dir)
        .map_err(|e| output_failed(format!("cannot write {}: {e}", dir.display())))?;
    write_atomic(
        &dir.join("trials.csv"),
        &sweep::trials_csv(&configs, &results),
    )
    .map_err(output_failed)?;
    write_atomic(&dir.join("summary.csv"), &sweep::summary_csv(&sums)).map_err(output_failed)?;
    let mut lines = raftsim::experiment::sweep::cdf_lines(&configs, &results);
    if let Some(r) = &reference {
        lines.extend(raftsim::experiment::sweep::reference_lines(&configs, r));
    }
    let title = sweep::plot_title(&sc.name, &plan);
    for name in ["cdf.png", "cdf.svg"] {
        // Draw to a temporary name, then rename: no half-written plot.
        let tmp = dir.join(format!(
            ".{name}.tmp.{}",
            if name.ends_with("svg") { "svg" } else { "png" }
        ));
        raftsim::report::plot::draw_cdf(&tmp, &title, &lines, log_axis, plot_max)
            .map_err(|e| output_failed(format!("drawing {name}: {e}")))?;
        std::fs::rename(&tmp, dir.join(name)).map_err(|e| {
            output_failed(format!("cannot write {}: {e}", dir.join(name).display()))
        })?;
    }
    out!("{}", sweep::summary_table(&sums, experiment));
    if let Some(r) = &reference {
        use raftsim::experiment::reference;
        out!(
            "{}",
            reference::table(&reference::compare(&configs, &results, r), r, &configs)
        );
    }
    if let Some(bad) = results.iter().find(|r| r.violation.is_some()) {
        // A safety failure is a finding, not a statistic: save the trial's own scenario and
        // say how to replay it.
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
        return Ok(ExitCode::from(1));
    }
    outln!(
        "{} trials in {:.2}s wall on {} threads; wrote {}/{{trials.csv,summary.csv,cdf.png,cdf.svg}}",
        total,
        elapsed.as_secs_f64(),
        jobs,
        dir.display()
    );
    if !a.quiet {
        // The flags that shape the grid and the seeds, so the printed line finds the same trial.
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
        eprintln!(
            "replay a trial of trials.csv with: {cmd} --trial TRIAL_ID --out DIR  (e.g. --trial {})",
            sweep::trial_id(&configs, 0, 0)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `sweep --trial ID`: writes the trial's complete scenario and runs it as `raftsim run` does;
/// the run's downtime must be the sweep's.
fn replay_trial(
    scenario: &Path,
    name: &str,
    configs: &[raftsim::experiment::sweep::SweepConfig],
    seed: u64,
    id: &str,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    use raftsim::experiment::sweep;
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
        raftsim::base::time::SimTime(swept.crash_ns),
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

#[derive(clap::Args)]
struct ExploreArgs {
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
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Applies `--set PATH=VALUE` of `command` (run, explore) to a scenario, validated again
/// afterwards.
fn apply_sets(sc: Scenario, sets: &[String], command: &str) -> Result<Scenario> {
    use raftsim::experiment::sweep::{parse_set, set_path};
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

fn cmd_explore(a: ExploreArgs) -> Result<ExitCode> {
    use raftsim::experiment::explore::{self, ExplorePlan};
    use raftsim::observe::trace::TraceWriter;
    use std::io::IsTerminal;

    let sc = add_bugs(apply_sets(load(&a.scenario)?, &a.sets, "explore")?, &a.bugs)?;
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
    use raftsim::experiment::sweep::MAX_JOBS;
    if let Some(j) = a.jobs.filter(|j| !(1..=MAX_JOBS).contains(j)) {
        anyhow::bail!("--jobs {j} is not allowed: 1 to {MAX_JOBS} worker threads");
    }
    let jobs = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS))
    });
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(format!("explore-{}", sc.name)));
    // Before the search: a long search must not lose its findings to an unwritable folder.
    check_writable(&dir).context("output folder is not writable (choose another with --out)")?;
    let plan = ExplorePlan {
        seeds: seeds.clone(),
        max_failures: a.max_failures,
        shard,
        jobs,
    };
    let total = match shard {
        Some((k, n)) => (seeds.end - seeds.start).saturating_sub(k).div_ceil(n),
        None => seeds.end - seeds.start,
    };
    let bar = if !a.quiet && std::io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} seeds  {rate}  eta {eta}  {msg}",
            )
            .expect("valid template")
            .with_key("rate", whole_rate),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
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
        jobs,
        report.findings.len()
    );
    let scenario_json = serde_json::to_vec_pretty(&sc).expect("scenario serialises");
    // A shard always leaves a record that it ran to the end, so `merge` can tell a shard that
    // found nothing from one that crashed or never ran.
    if let Some((k, n)) = shard {
        let record = serde_json::json!({
            "shard": k + 1,
            "of": n,
            "seeds": a.seeds,
            "seeds_run": report.seeds_run,
            "failing": report.findings.len(),
        });
        write_atomic(&dir.join("scenario.json"), &scenario_json).map_err(output_failed)?;
        let record = serde_json::to_vec_pretty(&record).expect("json");
        write_atomic(&dir.join(SHARD_RECORD), &record).map_err(output_failed)?;
    }
    if report.findings.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    // Every finding on the terminal first, whatever happens to the files.
    for f in &report.findings {
        let mut repro = Reproduce::run(&a.scenario, f.seed);
        for b in &a.bugs {
            repro = repro.flag("bug", b);
        }
        // `--set` changed the scenario searched (`node=raft-rs`, a switch): the replay needs it.
        for s in &a.sets {
            repro = repro.flag("set", s);
        }
        outln!("seed {}: {}: {}", f.seed, f.property, f.detail);
        outln!("  {repro}");
    }
    let mut lines = String::new();
    for f in &report.findings {
        // Replay the failing seed with a trace, to keep it beside the finding.
        let mut trace = TraceWriter::in_memory();
        let drawn = sc.for_seed(f.seed);
        let cfg = drawn.compile();
        let _ = raftsim::with_node!(&drawn.node_choice(), N, o => {
            raftsim::experiment::run::run_observed::<N, _, _>(
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
        let mut repro = Reproduce::run(&a.scenario, f.seed);
        for b in &a.bugs {
            repro = repro.flag("bug", b);
        }
        // `--set` changed the scenario searched (`node=raft-rs`, a switch): the replay needs it.
        for s in &a.sets {
            repro = repro.flag("set", s);
        }
        lines.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            f.seed,
            f.property,
            f.detail,
            repro.binary()
        ));
    }
    write_atomic(&dir.join("failures.tsv"), lines.as_bytes()).map_err(output_failed)?;
    if shard.is_none() {
        // A shard wrote it above.
        write_atomic(&dir.join("scenario.json"), &scenario_json).map_err(output_failed)?;
    }
    outln!(
        "wrote      {}/failures.tsv, the scenario and one trace per failing seed",
        dir.display()
    );
    Ok(ExitCode::from(1))
}

/// What `explore --shard K/N` writes once it has run every seed of its share.
const SHARD_RECORD: &str = "shard.json";

/// Reads every shard's record: all must be there, of one search (the same N, seeds and
/// scenario), each K once and every K of 1..=N present.
fn check_shards(shards: &[PathBuf]) -> Result<()> {
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

fn cmd_merge(shards: &[PathBuf], out: &Path, max_failures: usize) -> Result<ExitCode> {
    if max_failures == 0 {
        anyhow::bail!("--max-failures must be at least 1");
    }
    check_writable(out).context("output folder is not writable (choose another with --out)")?;
    // (seed, the failures.tsv line, the shard it came from)
    let mut found: Vec<(u64, String, PathBuf)> = Vec::new();
    let mut scenario: Option<Vec<u8>> = None;
    check_shards(shards)?;
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

fn cmd_shrink(path: &Path, seed: u64, bugs: &[String], out: Option<PathBuf>) -> Result<ExitCode> {
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
        raftsim::experiment::shrink::shrink(&sc, seed).map_err(|m| anyhow::anyhow!("{m}"))?;
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

fn cmd_bench(quick: bool) -> Result<ExitCode> {
    let report = raftsim::experiment::bench::run_all(quick);
    out!("{report}");
    Ok(ExitCode::SUCCESS)
}

fn cmd_check(path: &Path, nodes: Option<u32>) -> Result<ExitCode> {
    use raftsim::observe::check::{check_records, is_complete, validate_node_ids, validate_order};
    use raftsim::observe::trace::Event;

    let file = path.display();
    let trace = read_trace(path)?;
    let (records, lines) = (&trace.records, &trace.lines);
    let from_start = records.iter().find_map(|r| match r.ev {
        Event::Start { nodes, .. } => Some(nodes),
        _ => None,
    });
    let n = match nodes.or(from_start) {
        Some(n) if (1..=64).contains(&n) => n,
        Some(n) => anyhow::bail!("{file}: {n} nodes is not allowed: 1 to 64"),
        None => anyhow::bail!("{file}: no `start` event gives the cluster size; pass --nodes N"),
    };
    validate_node_ids(n, records)
        .map_err(|(i, msg)| anyhow::anyhow!("{file}:{}: {msg}", lines[i]))?;
    validate_order(records).map_err(|(i, msg)| anyhow::anyhow!("{file}:{}: {msg}", lines[i]))?;
    let (events, violation) = check_records(n, records);
    let complete = is_complete(records);
    match &violation {
        None if complete => outln!("ok: {events} events, no violation"),
        None => outln!(
            "incomplete: {events} events, no violation up to {file}:{}",
            lines.last().copied().unwrap_or(0)
        ),
        Some(v) => {
            // check_records numbers records from 1.
            let line = lines[v.event_index as usize - 1];
            outln!(
                "violation: {} at event {} ({file}:{line}, t={}): {}",
                v.property,
                v.event_index,
                raftsim::base::time::SimTime(v.time),
                v.detail
            );
        }
    }
    if !complete {
        eprintln!(
            "error: {file}: the trace is incomplete: no `end` record (the run was cut short, or the file truncated)"
        );
    }
    // What the run itself recorded as failing (a node's failed assertion, a panic) fails the
    // check too, even where the records before it pass.
    let recorded = records.iter().zip(lines).find_map(|(r, l)| match &r.ev {
        Event::Violation { property, detail } => Some(format!("{property}: {detail} ({file}:{l})")),
        Event::Panic { message } => Some(format!("panic: {message} ({file}:{l})")),
        _ => None,
    });
    if let Some(what) = &recorded {
        outln!("the run recorded a failure: {what}");
    }
    Ok(if violation.is_none() && complete && recorded.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads and parses a trace file; errors (exit 2) name the file and line.
fn read_trace(path: &Path) -> Result<raftsim::report::diff::Trace> {
    use raftsim::base::input::{format_bytes, read_to_string_limited, InputError};
    use raftsim::observe::trace::MAX_TRACE_BYTES;

    let file = path.display();
    let text = read_to_string_limited(path, MAX_TRACE_BYTES).map_err(|e| match e {
        InputError::Io(e) => anyhow::anyhow!("{file}: cannot read the trace: {e}"),
        InputError::TooLarge(limit) => anyhow::anyhow!(
            "{file}: larger than {}, the most raftsim reads: it holds the whole trace in memory, about 3 times its size (the run that wrote the trace checked the same properties as it went)",
            format_bytes(limit)
        ),
        e @ InputError::NotAFile(_) => anyhow::anyhow!("{file}: {e}"),
    })?;
    let trace =
        raftsim::report::diff::Trace::parse(&text).map_err(|e| anyhow::anyhow!("{file}:{e}"))?;
    if let Some(line) = trace.cut_line {
        eprintln!(
            "note: {file}:{line}: the last line is cut off mid-record (its writer was stopped while writing); it is left out and the trace is read as incomplete"
        );
    }
    Ok(trace)
}

fn cmd_diff(a: &Path, b: &Path, context: usize) -> Result<ExitCode> {
    use raftsim::report::diff::{compare, render, Named};

    let (ta, tb) = (read_trace(a)?, read_trace(b)?);
    let (na, nb) = (a.display().to_string(), b.display().to_string());
    let d = compare(&ta.records, &tb.records);
    out!(
        "{}",
        render(
            Named {
                name: &na,
                trace: &ta
            },
            Named {
                name: &nb,
                trace: &tb
            },
            d,
            context
        )
    );
    Ok(if d.is_identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--from` / `--to`: a duration from the start of the run, e.g. `2s`, `1500ms`.
fn parse_time_flag(flag: &str, v: Option<&str>) -> Result<Option<u64>> {
    v.map(|v| {
        raftsim::base::time::parse_duration(v)
            .map(|d| d.0)
            .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
    })
    .transpose()
}

fn cmd_trace(
    path: &Path,
    node: Option<u32>,
    kinds: Vec<String>,
    term: Option<u64>,
    from: Option<String>,
    to: Option<String>,
) -> Result<ExitCode> {
    use raftsim::observe::trace::Event;
    use raftsim::report::tracefilter::Filter;
    use std::io::Write;

    let filter = Filter {
        node,
        kinds: (!kinds.is_empty()).then_some(kinds),
        term,
        from: parse_time_flag("from", from.as_deref())?,
        to: parse_time_flag("to", to.as_deref())?,
    };
    // Flags first: a mistyped kind is refused before a large trace is read.
    filter.validate(None).map_err(|m| anyhow::anyhow!("{m}"))?;
    let trace = read_trace(path)?;
    let nodes = trace.records.iter().find_map(|r| match r.ev {
        Event::Start { nodes, .. } => Some(nodes),
        _ => None,
    });
    filter
        .validate(nodes)
        .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for r in trace.records.iter().filter(|r| filter.keeps(r)) {
        if writeln!(stdout, "{r}").is_err() {
            // A closed pipe (`| head`) ends the listing quietly.
            return Ok(ExitCode::SUCCESS);
        }
    }
    let _ = stdout.flush();
    Ok(ExitCode::SUCCESS)
}

/// The trace folded into lanes, spans and marks; a trace it cannot be drawn from is bad input.
fn load_model(path: &Path) -> Result<raftsim::report::runmodel::RunModel> {
    let trace = read_trace(path)?;
    raftsim::report::runmodel::RunModel::build(&trace.records)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The window `--from`..`--to` within a run that ends at `end`.
fn window(from: Option<&str>, to: Option<&str>, end: u64) -> Result<(u64, u64)> {
    let from = parse_time_flag("from", from)?.unwrap_or(0);
    let to = parse_time_flag("to", to)?.unwrap_or(end);
    if from >= to {
        anyhow::bail!(
            "--from {} is not before --to {}: the window would be empty",
            raftsim::base::time::SimTime(from),
            raftsim::base::time::SimTime(to)
        );
    }
    Ok((from, to))
}

/// `--out` for a picture: its extension says PNG or SVG.
fn picture_path(out: &Path) -> Result<()> {
    match out.extension().and_then(|e| e.to_str()) {
        Some("png" | "svg") => Ok(()),
        _ => anyhow::bail!(
            "--out {}: the picture's name must end in .png or .svg",
            out.display()
        ),
    }
}

/// Draws the timeline under a temporary name beside `out` and renames it into place: no
/// half-written picture.
fn write_timeline(
    out: &Path,
    model: &raftsim::report::runmodel::RunModel,
    opts: &raftsim::report::timeline::TimelineOptions,
) -> Result<()> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| output_failed(format!("cannot write {}: {e}", out.display())))?;
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("png");
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}.{ext}", std::process::id()));
    let drawn = raftsim::report::timeline::draw_timeline(&tmp, model, opts)
        .map_err(|e| output_failed(format!("drawing {}: {e}", out.display())))
        .and_then(|()| {
            std::fs::rename(&tmp, out)
                .map_err(|e| output_failed(format!("cannot write {}: {e}", out.display())))
        });
    if drawn.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drawn
}

fn cmd_plot(
    path: &Path,
    out: Option<PathBuf>,
    from: Option<String>,
    to: Option<String>,
    messages: bool,
    perfetto: Option<PathBuf>,
) -> Result<ExitCode> {
    use raftsim::report::timeline::{messages_in, TimelineOptions, MAX_ARROWS};

    let out = match (out, &perfetto) {
        (Some(o), _) => Some(o),
        (None, Some(_)) => None,
        (None, None) => Some(path.parent().unwrap_or(Path::new(".")).join("timeline.png")),
    };
    if let Some(out) = &out {
        picture_path(out)?;
    }
    for file in out.iter().chain(&perfetto) {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            check_writable(dir)
                .with_context(|| format!("{}: its folder is not writable", file.display()))?;
        }
    }
    let model = load_model(path)?;
    let (from, to) = window(from.as_deref(), to.as_deref(), model.end)?;
    if messages {
        if !model.has_messages {
            anyhow::bail!(
                "--messages: {} has no message records; write one with `raftsim run ... --trace-level messages`",
                path.display()
            );
        }
        let n = messages_in(&model, from, to);
        if n > MAX_ARROWS {
            anyhow::bail!(
                "--messages: {n} messages between {} and {}, more than the {MAX_ARROWS} one picture draws readably; choose a shorter window with --from/--to",
                raftsim::base::time::SimTime(from),
                raftsim::base::time::SimTime(to)
            );
        }
    }
    if let Some(out) = &out {
        write_timeline(out, &model, &TimelineOptions { from, to, messages })?;
        outln!("wrote      {}", out.display());
    }
    if let Some(p) = &perfetto {
        write_atomic(p, &raftsim::report::perfetto::export(&model)).map_err(output_failed)?;
        outln!("wrote      {} (open it in the Perfetto UI)", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_view(
    path: &Path,
    out: Option<PathBuf>,
    from: Option<String>,
    to: Option<String>,
) -> Result<ExitCode> {
    use raftsim::report::view::{items, render, window as clip, MAX_ITEMS};

    let out = out.unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).join("view.html"));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_writable(dir)
            .with_context(|| format!("{}: its folder is not writable", out.display()))?;
    }
    let model = load_model(path)?;
    let (from, to) = window(from.as_deref(), to.as_deref(), model.end)?;
    let model = clip(model, from, to);
    let n = items(&model);
    if n > MAX_ITEMS {
        anyhow::bail!(
            "{}: {n} messages and events between {} and {}, more than the {MAX_ITEMS} one page replays smoothly; choose a shorter window with --from/--to",
            path.display(),
            raftsim::base::time::SimTime(from),
            raftsim::base::time::SimTime(to)
        );
    }
    write_atomic(&out, render(&model, from, to).as_bytes()).map_err(output_failed)?;
    outln!("wrote      {} (open it in a browser)", out.display());
    Ok(ExitCode::SUCCESS)
}
