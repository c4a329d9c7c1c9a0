//! Seed search: run one scenario under many seeds, in parallel, and report the seeds whose run
//! fails a checked property (a safety violation, a node's failed assertion, a liveness failure:
//! the scenario's `stop.when` not reached by `stop.at`, or a run that hit `limits.max_events`).
//!
//! Seeds are taken in fixed-size chunks, in order; the chunks run in parallel and their
//! findings are sorted by seed. The search stops after the chunk in which the `max_failures`-th
//! failure is found and reports the first `max_failures` failures by seed, so what it reports,
//! and in which order, does not depend on the number of threads. Memory stays bounded by the
//! chunk and the findings: no per-seed state is kept.

use crate::experiment::ChooseNode;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::experiment::guided;
use crate::experiment::run::{judge_choice, judge_covered as judge_covered_run};
use crate::nodes::NodeChoice;
use crate::observe::coverage::{Marks, Tally};
use crate::scenario::Scenario;
use crate::world::config::{RunConfig, StopWhen};
use crate::world::{Outcome, RunResult};

/// Seeds run per chunk (a fixed number, so results do not depend on `--jobs`).
pub const CHUNK: u64 = 256;

#[derive(Clone, Debug)]
pub struct ExplorePlan {
    pub seeds: Range<u64>,
    /// Stop after this many failures.
    pub max_failures: usize,
    /// Run only the `k`-th of `n` interleaved slices (0-based `k`): seeds `s` with
    /// `(s - start) % n == k`.
    pub shard: Option<(u64, u64)>,
    pub jobs: usize,
    /// Coverage-guided ([`super::guided`]): after a first round in order, each round runs the
    /// seeds of the next window most likely to hit rare marks. Not with `shard`.
    pub guided: bool,
}

/// A failing seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub seed: u64,
    pub outcome: Outcome,
    /// The property that failed ("Election Safety", "Node Assertion", "liveness: ...").
    pub property: String,
    pub detail: String,
}

/// What a search did.
#[derive(Clone, Debug, Default)]
pub struct ExploreReport {
    pub findings: Vec<Finding>,
    /// Seeds run (including those after the last reported failure in its chunk).
    pub seeds_run: u64,
    /// How many of the seeds run hit each coverage mark.
    pub coverage: Tally,
    /// A guided search: the seeds screened and not run.
    pub passed_over: u64,
    /// The runs up to and including the first failing seed, in the order run (rounds in
    /// turn; within a round, by seed), and their own time summed with the screening before
    /// them: the search's cost to its first failure, whatever `--jobs`. Times vary from
    /// machine to machine; the runs do not.
    pub first_failure_runs: Option<u64>,
    pub first_failure_time: Option<std::time::Duration>,
    /// The same cost for the whole search.
    pub time_spent: std::time::Duration,
    /// A guided search: a digest of the seeds run, in the order run (the same search picks
    /// the same seeds whatever `--jobs`).
    pub picked_digest: u64,
}

/// Why a run failed, if it did.
pub fn judge(cfg: &RunConfig, node: &NodeChoice, seed: u64) -> Option<Finding> {
    finding(cfg, seed, judge_choice(cfg, node, seed))
}

/// [`judge`], and the coverage marks the run hit: what the search runs for each seed.
pub fn judge_covered(cfg: &RunConfig, node: &NodeChoice, seed: u64) -> (Option<Finding>, Marks) {
    let (r, marks) = judge_covered_run(cfg, node, seed);
    (finding(cfg, seed, r), marks)
}

/// What a judged run's result says failed, if anything.
fn finding(cfg: &RunConfig, seed: u64, r: RunResult) -> Option<Finding> {
    let (property, detail) = match r.outcome {
        Outcome::Violation => {
            let v = r.violation.expect("a violation outcome names it");
            (v.property.to_string(), v.to_string())
        }
        Outcome::Panic => ("panic".into(), r.panic.unwrap_or_else(|| "a panic".into())),
        Outcome::EventLimit => (
            "incomplete".into(),
            format!("reached limits.max_events ({})", cfg.max_events),
        ),
        Outcome::QueueLimit => (
            "incomplete".into(),
            "reached the bound on events waiting or messages in flight".into(),
        ),
        Outcome::TimeLimit if cfg.stop.when.is_some() => (
            "liveness".into(),
            match cfg.stop.when {
                Some(StopWhen::LeaderAfterFaults) => {
                    "no leader followed by every live node after the faults, by stop.at".into()
                }
                None => unreachable!(),
            },
        ),
        _ => return None,
    };
    Some(Finding {
        seed,
        outcome: r.outcome,
        property,
        detail,
    })
}

/// What a search runs: one compiled configuration for every seed, or a scenario, compiled per
/// seed when it draws its shape from the seed (`draw`).
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    /// A compiled configuration and the implementation it runs.
    Config(&'a RunConfig, &'a NodeChoice),
    Scenario(&'a Scenario),
}

impl<'a> From<(&'a RunConfig, &'a NodeChoice)> for Subject<'a> {
    fn from((c, n): (&'a RunConfig, &'a NodeChoice)) -> Self {
        Subject::Config(c, n)
    }
}

impl<'a> From<&'a Scenario> for Subject<'a> {
    fn from(s: &'a Scenario) -> Self {
        Subject::Scenario(s)
    }
}

/// Runs the search; `progress(seeds_done, failures)` is called as chunks finish.
pub fn explore<'a>(
    subject: impl Into<Subject<'a>>,
    plan: &ExplorePlan,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> ExploreReport {
    // A scenario without `draw` compiles once.
    let compiled;
    let node;
    let subject = match subject.into() {
        Subject::Scenario(sc) if sc.draw.is_none() => {
            compiled = sc.compile();
            node = sc.node_choice();
            Subject::Config(&compiled, &node)
        }
        s => s,
    };
    let cfg = subject;
    let Ok(pool) = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.jobs.max(1))
        .build()
    else {
        // No threads to be had (a tight process limit): search on this one.
        let plan = ExplorePlan {
            jobs: 1,
            ..plan.clone()
        };
        return explore_on(cfg, &plan, progress, None);
    };
    explore_on(cfg, plan, progress, Some(&pool))
}

/// One seed's run under the search's subject: what failed, and the marks it hit.
fn run_seed(cfg: Subject<'_>, seed: u64) -> (Option<Finding>, Marks) {
    match cfg {
        Subject::Config(c, node) => judge_covered(c, node, seed),
        Subject::Scenario(sc) => {
            let sc = sc.for_seed(seed);
            judge_covered(&sc.compile(), &sc.node_choice(), seed)
        }
    }
}

/// One seed's features for the guided search ([`guided::features`]), without running it.
fn seed_features(cfg: Subject<'_>, seed: u64) -> Vec<String> {
    match cfg {
        Subject::Config(c, _) => guided::features(None, c, seed),
        Subject::Scenario(sc) => {
            let drawn = sc.for_seed(seed);
            guided::features(drawn.drawn.as_deref(), &drawn.compile(), seed)
        }
    }
}

/// Maps `f` over `items` on the pool, if any, keeping their order.
fn par_map<T: Sync, R: Send>(
    pool: Option<&rayon::ThreadPool>,
    items: &[T],
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    match pool {
        Some(pool) => pool.install(|| items.par_iter().map(&f).collect()),
        None => items.iter().map(f).collect(),
    }
}

fn explore_on(
    cfg: Subject<'_>,
    plan: &ExplorePlan,
    progress: &(dyn Fn(u64, u64) + Sync),
    pool: Option<&rayon::ThreadPool>,
) -> ExploreReport {
    let (k, n) = plan.shard.unwrap_or((0, 1));
    let start = plan.seeds.start;
    // The i-th seed of this shard.
    let seed_at = |i: u64| start.checked_add(i.checked_mul(n)?.checked_add(k)?);
    let count = match start.checked_add(k) {
        Some(first) if plan.seeds.end > first => (plan.seeds.end - first).div_ceil(n),
        _ => 0,
    };
    let mut report = ExploreReport::default();
    let mut model = guided::Model::default();
    let mut spent = std::time::Duration::ZERO;
    let done = AtomicU64::new(0);
    let mut next = 0u64;
    while next < count && report.findings.len() < plan.max_failures {
        // The seeds of this round, with their genomes when guided.
        let (seeds, genomes): (Vec<u64>, Vec<guided::Genome>) = if !plan.guided {
            let end = (next + CHUNK).min(count);
            let seeds = (next..end).map(|i| seed_at(i).expect("within the range"));
            next = end;
            (seeds.collect(), Vec::new())
        } else {
            let first = report.seeds_run == 0;
            let end = (next + if first { CHUNK } else { guided::WINDOW }).min(count);
            let screened: Vec<u64> = (next..end)
                .map(|i| seed_at(i).expect("within the range"))
                .collect();
            next = end;
            let t0 = std::time::Instant::now();
            let features = par_map(pool, &screened, |&s| seed_features(cfg, s));
            // Screening runs in parallel: its share of the cost is its total time (near
            // enough, the sum of the features' own times).
            spent += t0.elapsed() * pool.map_or(1, |p| p.current_num_threads() as u32);
            let screened: Vec<(u64, guided::Genome)> = screened
                .into_iter()
                .zip(features)
                .map(|(s, f)| (s, model.genome(f)))
                .collect();
            let picked = if first {
                screened.iter().map(|(s, _)| *s).collect()
            } else {
                model.pick(&screened, CHUNK as usize)
            };
            report.passed_over += (screened.len() - picked.len()) as u64;
            let genomes = screened
                .into_iter()
                .filter(|(s, _)| picked.binary_search(s).is_ok())
                .map(|(_, g)| g)
                .collect();
            (picked, genomes)
        };
        let judged = par_map(pool, &seeds, |&seed| {
            let t0 = std::time::Instant::now();
            let f = run_seed(cfg, seed);
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if d.is_multiple_of(16) {
                progress(d, 0);
            }
            (f, t0.elapsed())
        });
        let mut found = Vec::new();
        for (i, ((f, marks), took)) in judged.into_iter().enumerate() {
            spent += took;
            if f.is_some() && report.first_failure_runs.is_none() {
                report.first_failure_runs = Some(report.seeds_run + i as u64 + 1);
                report.first_failure_time = Some(spent);
            }
            report.coverage.add(marks);
            if plan.guided {
                model.learn(&genomes[i], marks);
                report.picked_digest = report
                    .picked_digest
                    .rotate_left(5)
                    .wrapping_mul(0x100_0000_01b3)
                    ^ seeds[i];
            }
            found.extend(f);
        }
        found.sort_by_key(|f| f.seed);
        report.findings.extend(found);
        report.seeds_run += seeds.len() as u64;
        progress(report.seeds_run, report.findings.len() as u64);
    }
    report.findings.truncate(plan.max_failures);
    report.time_spent = spent;
    report
}

/// Parses `A..B` (B excluded) or a single seed `A`.
pub fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let num = |x: &str| {
        x.trim()
            .parse::<u64>()
            .map_err(|_| format!("{x:?} is not a seed (a whole number from 0)"))
    };
    let r = match s.split_once("..") {
        Some((a, b)) => num(a)?..num(b)?,
        None => {
            let a = num(s)?;
            a..a.saturating_add(1)
        }
    };
    if r.start >= r.end {
        return Err(format!(
            "{s:?} is empty: write START..END with START below END"
        ));
    }
    if r.end - r.start > MAX_SEEDS {
        return Err(format!(
            "{s:?} is {} seeds: at most {} in one search (at about 70 seeds/s per core on \
             random-faults.json, a billion seeds is some 160 core-days); split it into \
             searches of consecutive ranges",
            crate::base::input::thousands(r.end - r.start),
            crate::base::input::thousands(MAX_SEEDS)
        ));
    }
    Ok(r)
}

/// The most seeds one `explore` may search (with `--shard`, across all shards).
pub const MAX_SEEDS: u64 = 1_000_000_000;

/// Parses `K/N` (1-based K, as a job array numbers its tasks) into (K-1, N).
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} must be K/N, e.g. 3/8"))?;
    let (k, n): (u64, u64) = (
        k.trim()
            .parse()
            .map_err(|_| format!("{s:?}: K is not a number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("{s:?}: N is not a number"))?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(format!("{s:?}: K must be from 1 to N, and N at least 1"));
    }
    Ok((k - 1, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_shards_parse() {
        assert_eq!(parse_seeds("0..100").unwrap(), 0..100);
        assert_eq!(parse_seeds("7").unwrap(), 7..8);
        assert!(parse_seeds("5..5").is_err());
        assert!(parse_seeds("a..b").is_err());
        assert_eq!(parse_shard("1/3").unwrap(), (0, 3));
        assert!(parse_shard("0/3").is_err());
        assert!(parse_shard("4/3").is_err());
    }
}
