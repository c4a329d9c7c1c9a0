//! The `raftsim` command line: parses flags, calls the library, prints, and maps results to
//! exit codes: 0 ok, 1 a checked property failed, 2 bad input (file, flag, value).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use raftsim::output::{ensure_dir, write_atomic};
use raftsim::scenario::Scenario;
use raftsim::sim::{self, Outcome, RunOptions};
use raftsim::summary::SummaryBuilder;

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
        /// The scenario file (JSON).
        scenario: PathBuf,
        /// Seed for every random draw; overrides the scenario's `seed`.
        #[arg(long)]
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
    },
    /// Print the JSON Schema of the scenario file format.
    Schema,
}

/// Marks an error as bad input (exit code 2).
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run {
            scenario,
            seed,
            out,
            quiet,
            verbose,
        } => cmd_run(&scenario, seed, out, quiet, verbose),
        Cmd::Schema => {
            println!("{}", Scenario::json_schema());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load(path: &Path) -> Result<Scenario> {
    Ok(Scenario::load(path)?)
}

fn cmd_run(
    path: &Path,
    seed: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
    verbose: bool,
) -> Result<ExitCode> {
    let sc = load(path)?;
    let seed = seed.unwrap_or(sc.seed);
    let dir = out.unwrap_or_else(|| PathBuf::from("output").join(format!("{}-{seed}", sc.name)));
    ensure_dir(&dir).context("output folder is not writable (choose another with --out)")?;
    let result = sim::run(&sc, seed, RunOptions { trace: true });
    let trace = result.trace.as_ref().expect("tracing was on");
    if verbose {
        let text = std::str::from_utf8(trace.bytes()).expect("utf-8 trace");
        for rec in raftsim::trace::parse_trace(text).expect("own trace parses") {
            println!("{rec}");
        }
    }
    write_atomic(&dir.join("trace.jsonl"), trace.bytes())?;
    let summary_json = serde_json::to_vec_pretty(&result.summary).expect("summary serialises");
    write_atomic(&dir.join("summary.json"), &summary_json)?;
    let repro = format!("raftsim run {} --seed {seed}", path.display());
    if quiet {
        println!(
            "{} {}",
            result.summary.outcome,
            result.summary.trace_hash.as_deref().unwrap_or("")
        );
    } else {
        print!("{}", SummaryBuilder::render(&result.summary));
        println!(
            "wrote      {}/trace.jsonl, {}/summary.json",
            dir.display(),
            dir.display()
        );
    }
    match result.outcome {
        Outcome::Violation => {
            let v = result.violation.expect("violation outcome has one");
            eprintln!(
                "property failed: {} at event {}: {}",
                v.property, v.event_index, v.detail
            );
            eprintln!("reproduce with: {repro}");
            Ok(ExitCode::from(1))
        }
        Outcome::TimeLimit | Outcome::EventLimit if sc.stop.when.is_some() => {
            eprintln!(
                "liveness: the stop condition did not hold by the end of the run ({})",
                result.outcome.name()
            );
            eprintln!("reproduce with: {repro}");
            Ok(ExitCode::from(1))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}
