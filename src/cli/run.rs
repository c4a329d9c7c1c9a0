//! `raftsim run`: one scenario, one seed; the trace (streamed as the run goes), the summary,
//! the pictures, and what a failed run says. Each step is its own function; [`cmd_run`] only
//! puts them in order, and a run that fails at any step after it started still prints its
//! reproduce line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::*;
use crate::nodes::NodeChoice;
use crate::observe::summary::Summary;
use crate::observe::trace::TraceWriter;
use crate::world::config::RunConfig;
use crate::world::RunResult;

/// The flags of `raftsim run`, as parsed.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The scenario file (JSON, at most 1 MiB).
    pub scenario: PathBuf,
    /// Seed for every random draw; overrides the scenario's `seed`.
    #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// Output folder [default: output/<scenario name>-<seed>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print only the outcome line and the trace hash.
    #[arg(long)]
    pub quiet: bool,
    /// Also print the trace in its one-line human form.
    #[arg(long)]
    pub verbose: bool,
    /// What the trace records: `events` (state changes, faults, drops, clients) or
    /// `messages` (also every message's send and deliver, paired by id).
    #[arg(long, value_enum, default_value = "events")]
    pub trace_level: TraceLevelArg,
    /// Testing aid: make the node panic at its N-th step, to see what a run that stops on a
    /// broken assertion leaves behind.
    #[arg(long, hide = true)]
    pub panic_after_steps: Option<u64>,
    /// Verify a replay: the trace hash this run must produce (64 lowercase hex digits, as a
    /// run prints it). A different hash is a failed check (exit 1): both hashes and the
    /// reproduce line are printed; `raftsim diff` then shows the first diverging record.
    #[arg(long, value_name = "HASH", value_parser = parse_trace_hash)]
    pub expect_hash: Option<String>,
    /// Inject a bug into the node under test (each node has its own: `raftsim nodes`), to see the checker catch it; adds to the
    /// scenario's `raft.bugs`. Repeatable.
    #[arg(long = "bug", value_name = "NAME", value_parser = bug_parser())]
    pub bugs: Vec<String>,
    /// Set a scenario field by its path, e.g. --set raft.pre_vote=true (one value; as in
    /// `sweep --set`). Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Also draw the run's timeline into timeline.png (see `raftsim plot`).
    #[arg(long)]
    pub plot: bool,
    /// Also export the run for the Perfetto UI (Chrome trace-event JSON) to FILE: a track
    /// per node with its roles and terms, faults as instants, and, with `--trace-level
    /// messages`, every message as a flow arrow.
    #[arg(long, value_name = "FILE.json")]
    pub perfetto: Option<PathBuf>,
}

impl RunArgs {
    /// The scenario file and what the flags ask of the run.
    pub fn into_flags(self) -> (PathBuf, RunFlags) {
        let level = match self.trace_level {
            TraceLevelArg::Events => TraceLevel::Events,
            TraceLevelArg::Messages => TraceLevel::Messages,
        };
        let flags = RunFlags {
            seed: self.seed,
            out: self.out,
            quiet: self.quiet,
            verbose: self.verbose,
            level,
            panic_after_steps: self.panic_after_steps,
            expect_hash: self.expect_hash,
            bugs: self.bugs,
            sets: self.sets,
            plot: self.plot,
            perfetto: self.perfetto,
        };
        (self.scenario, flags)
    }
}

/// What `raftsim run` is asked, beside the scenario file: its flags, as the library takes them.
#[derive(Default)]
pub struct RunFlags {
    /// `--seed`: overrides the scenario's.
    pub seed: Option<u64>,
    /// `--out`: the output folder [default: output/<scenario name>-<seed>/].
    pub out: Option<PathBuf>,
    /// `--quiet`: only the outcome line and the trace hash.
    pub quiet: bool,
    /// `--verbose`: also the trace in its one-line human form.
    pub verbose: bool,
    /// `--trace-level`.
    pub level: TraceLevel,
    /// `--panic-after-steps` (a testing aid, hidden from `--help`).
    pub panic_after_steps: Option<u64>,
    /// `--expect-hash`: the trace hash this run must produce.
    pub expect_hash: Option<String>,
    /// `--bug`, each adding to the scenario's `raft.bugs`.
    pub bugs: Vec<String>,
    /// `--set PATH=VALUE`, each one value.
    pub sets: Vec<String>,
    /// `--plot`: also timeline.png.
    pub plot: bool,
    /// `--perfetto FILE`: also the Perfetto export.
    pub perfetto: Option<PathBuf>,
}

/// A run made ready: the scenario as flags changed it, drawn for its seed and compiled, where
/// its files go, and the line that replays it.
pub struct Prepared {
    /// The scenario with `--set` and `--bug` applied (before its seed's draw).
    pub scenario: Scenario,
    /// The seed the run uses.
    pub seed: u64,
    /// The output folder.
    pub dir: PathBuf,
    /// The world's configuration for this seed.
    pub cfg: RunConfig,
    /// The node under test and its options.
    pub node: NodeChoice,
    /// Every flag that changes what the run writes, so the line replays it byte for byte.
    pub repro: Reproduce,
}

/// Reads the scenario, applies the flags, draws its seed's shape, and names the output folder
/// and the reproduce line. Nothing is written.
pub fn prepare(path: &Path, f: &RunFlags) -> Result<Prepared> {
    let scenario = add_bugs(apply_sets(load(path)?, &f.sets, "run")?, &f.bugs)?;
    let seed = f.seed.unwrap_or(scenario.seed);
    let dir = f
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(format!("{}-{seed}", scenario.name)));
    let drawn = scenario.for_seed(seed);
    let (cfg, node) = (drawn.compile(), drawn.node_choice());
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
    Ok(Prepared {
        scenario,
        seed,
        dir,
        cfg,
        node,
        repro,
    })
}

/// Runs the scenario and returns its result, its summary and its trace hash, with the trace
/// written to `dir/trace.jsonl`.
///
/// The trace streams to an unnamed file as the run goes, so memory stays flat, and takes its
/// name at the end: a run that stops early (a violation, a panic, SIGINT or SIGTERM) still
/// leaves everything up to that point, and a run killed outright (SIGKILL) leaves nothing, not
/// even an empty folder. Creating the file checks, before any work, that the folder can be
/// written.
pub fn execute(p: &Prepared, f: &RunFlags) -> Result<(RunResult, Summary, String)> {
    use crate::experiment::run::{run_observed, PanicAfter};

    let trace_path = p.dir.join("trace.jsonl");
    let unnamed = Unnamed::create(&p.dir)
        .context("output folder is not writable (choose another with --out)")?;
    let file = unnamed
        .writer()
        .map_err(|e| output_failed(format!("cannot write {}: {e}", trace_path.display())))?;
    let mut trace = TraceWriter::new(std::io::BufWriter::new(file));
    let (cfg, seed, level) = (&p.cfg, p.seed, f.level);
    let (result, summary) = match f.panic_after_steps {
        None => crate::with_node!(&p.node, N, o => {
            run_observed::<N, _, _>(cfg, o, seed, level, Some(&mut trace), &mut ())
        }),
        Some(n) => {
            let NodeChoice::Raftsim(o) = &p.node else {
                anyhow::bail!("--panic-after-steps is for the built-in node (node raftsim)");
            };
            PanicAfter::arm(n);
            run_observed::<PanicAfter, _, _>(cfg, o, seed, level, Some(&mut trace), &mut ())
        }
    };
    let hash = trace.hash();
    trace
        .finish()
        .and_then(|(w, _)| w.into_inner().map_err(|e| e.into_error()).map(drop))
        .map_err(|e| format!("cannot write {}: {e}", trace_path.display()))
        .and_then(|()| unnamed.persist(&trace_path).map_err(|e| e.to_string()))
        .map_err(output_failed)?;
    Ok((result, summary, hash))
}

/// Writes summary.json (with the trace hash and the scenario file's hash), then the pictures
/// asked for, drawn from the trace as written.
pub fn write_outputs(
    path: &Path,
    p: &Prepared,
    f: &RunFlags,
    summary: &mut Summary,
    hash: &str,
) -> Result<()> {
    summary.trace_hash = Some(hash.to_string());
    // The file as read (Scenario::load read it within its size bound a moment ago).
    summary.scenario_sha256 = std::fs::read(path)
        .ok()
        .map(|b| crate::observe::trace::hash_hex(&b));
    let summary_json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
    write_atomic(&p.dir.join("summary.json"), &summary_json).map_err(output_failed)?;
    if !f.plot && f.perfetto.is_none() {
        return Ok(());
    }
    // From the trace as written: the pictures show what the file says.
    let model = load_model(&p.dir.join("trace.jsonl")).map_err(output_failed)?;
    if f.plot {
        let opts = crate::report::timeline::TimelineOptions {
            from: 0,
            to: model.end.max(1),
            messages: false,
        };
        write_timeline(&p.dir.join("timeline.png"), &model, &opts)?;
    }
    if let Some(file) = &f.perfetto {
        let bytes = crate::report::perfetto::export(&model);
        write_atomic(file, &bytes).map_err(output_failed)?;
    }
    Ok(())
}

/// `--verbose`: the trace as written, one human line a record; a closed pipe (`| head`) ends
/// the listing quietly.
fn print_trace(trace_path: &Path) -> Result<()> {
    use std::io::{BufRead, Write};
    let file = std::fs::File::open(trace_path).map_err(output_failed)?;
    let mut stdout = std::io::stdout().lock();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(output_failed)?;
        let rec: crate::observe::trace::Record =
            serde_json::from_str(&line).expect("own trace parses");
        if writeln!(stdout, "{rec}").is_err() {
            break;
        }
    }
    Ok(())
}

/// The summary (or, `--quiet`, the outcome and the hash) and the files written.
fn print_summary(p: &Prepared, f: &RunFlags, summary: &Summary) {
    if f.quiet {
        outln!(
            "{} {}",
            summary.outcome,
            summary.trace_hash.as_deref().unwrap_or("")
        );
        return;
    }
    let dir = p.dir.display();
    out!("{}", SummaryBuilder::render(summary));
    outln!(
        "wrote      {dir}/trace.jsonl, {dir}/summary.json{}",
        if f.plot {
            format!(", {dir}/timeline.png")
        } else {
            String::new()
        }
    );
    if let Some(file) = &f.perfetto {
        outln!("wrote      {} (open it in the Perfetto UI)", file.display());
    }
}

/// What a failed run says on standard error before its reproduce line, or `None` when its
/// outcome passes (`ok`, or the time limit of a run with no stop condition).
pub fn failure_message(result: &RunResult, p: &Prepared) -> Option<String> {
    use crate::base::input::thousands;
    use crate::base::time::SimTime;
    let dir = p.dir.display();
    let sc = &p.scenario;
    Some(match result.outcome {
        Outcome::Violation => {
            let v = result.violation.as_ref().expect("violation outcome has one");
            format!(
                "property failed: {} at event {} (line {} of {dir}/trace.jsonl): {}",
                v.property, v.event_index, v.event_index, v.detail
            )
        }
        Outcome::Panic => format!(
            "panicked: {} (the trace up to the panic is in {dir}/trace.jsonl)",
            result.panic.as_deref().unwrap_or("")
        ),
        Outcome::EventLimit => format!(
            "the run reached limits.max_events ({}) before stop.at: its result is incomplete",
            sc.limits.max_events
        ),
        Outcome::QueueLimit => format!(
            "the run stopped at t={} with more than {} events waiting or {} messages in flight (the bound for raft.max_entries_per_message {}): the cluster was sent more than it handles, and the run stopped before its memory grew without bound; its result is incomplete",
            SimTime(result.end_time_ns),
            thousands(p.cfg.max_queued),
            thousands(p.cfg.max_in_flight),
            sc.raft.max_entries_per_message,
        ),
        Outcome::Interrupted => format!(
            "interrupted at t={} after {} simulation events: the trace so far is in {dir}/trace.jsonl; its result is incomplete",
            SimTime(result.end_time_ns),
            result.events,
        ),
        Outcome::TimeLimit if sc.stop.when.is_some() => format!(
            "liveness: the stop condition did not hold by the end of the run ({})",
            result.outcome.name()
        ),
        _ => return None,
    })
}

/// `--expect-hash`: what a replay that is not byte-identical says (a failed check, whatever
/// the run's outcome), or `None` when the hash is the one expected or none was.
pub fn hash_mismatch(want: Option<&str>, got: &str, dir: &Path) -> Option<String> {
    let want = want.filter(|&w| w != got)?;
    Some(format!(
        "trace hash mismatch: this run's trace is not the one expected\n  expected: {want}\n  got:      {got}\n  (`raftsim diff EXPECTED_TRACE {}/trace.jsonl` shows the first diverging record)",
        dir.display()
    ))
}

/// `raftsim run`: prepares, runs, writes, prints; exit 1 when a checked property failed or
/// the trace hash is not the one expected.
pub fn cmd_run(path: &Path, f: RunFlags) -> Result<ExitCode> {
    let p = prepare(path, &f)?;
    if let Some(file) = &f.perfetto {
        // Before the run, like the output folder: its result must not be lost at the end.
        let folder = file.parent().filter(|d| !d.as_os_str().is_empty());
        check_writable(folder.unwrap_or(Path::new("."))).with_context(|| {
            format!("--perfetto {}: its folder is not writable", file.display())
        })?;
    }
    // SIGINT/SIGTERM from here on stop the run at its next event, which then ends as any early
    // end does: the trace so far, the summary, the reproduce line (outcome `interrupted`).
    crate::base::interrupt::install().map_err(|e| anyhow::anyhow!(e))?;
    let (result, mut summary, hash) = execute(&p, &f).inspect_err(|e| {
        // A trace that could not be written still leaves the line that replays the run.
        if e.downcast_ref::<OutputFailed>().is_some() {
            eprintln!("{}", p.repro);
        }
    })?;
    write_outputs(path, &p, &f, &mut summary, &hash).inspect_err(|_| eprintln!("{}", p.repro))?;
    if f.verbose {
        print_trace(&p.dir.join("trace.jsonl"))?;
    }
    print_summary(&p, &f, &summary);
    let failures: Vec<String> = failure_message(&result, &p)
        .into_iter()
        .chain(hash_mismatch(f.expect_hash.as_deref(), &hash, &p.dir))
        .collect();
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for m in failures {
        eprintln!("{m}");
    }
    eprintln!("{}", p.repro);
    Ok(ExitCode::from(1))
}
