//! One run with the standard observers: split-vote detection, the safety checker and the
//! summary, plus a trace writer and any observer an experiment adds. The command line, the
//! sweep and the tests all run through here.

use crate::experiment::ChooseNode;
use std::io::Write;

use crate::node::Node;
use crate::nodes::NodeChoice;
use crate::observe::availability::Availability;
use crate::observe::check::{Checker, Violation};
use crate::observe::coverage::{Coverage, Marks};
use crate::observe::summary::{SplitVoteDetector, Summary, SummaryBuilder};
use crate::observe::trace::TraceWriter;
use crate::observe::Observer;
use crate::protocol::RaftNode;
use crate::scenario::Scenario;
use crate::world::config::RunConfig;
use crate::world::{self, NodeEnd, Outcome, RunResult, TraceLevel};

/// Runs node implementation `N`, feeding the standard observers, `trace` (if any) and `extra`
/// (`&mut ()` for none).
pub fn run_observed<N: RaftNode, W: Write, E: Observer>(
    cfg: &RunConfig,
    opts: &N::Options,
    seed: u64,
    level: TraceLevel,
    trace: Option<&mut TraceWriter<W>>,
    extra: &mut E,
) -> (RunResult, Summary) {
    let mut split = SplitVoteDetector::default();
    let mut checker = Checker::new(cfg.nodes);
    // Windows settle for the scenario's bound, else ten maximum election timeouts.
    let check = cfg.liveness.stable_leader_after;
    let settle = check.map_or(cfg.raft.election_timeout_max.0.saturating_mul(10), |d| d.0);
    let mut summary = SummaryBuilder::new(settle, check.is_some());
    let mut coverage = Coverage::default();
    // Split votes first: the records it derives reach every observer after the one it saw.
    let mut observers = (
        &mut split,
        &mut checker,
        &mut summary,
        &mut coverage,
        trace,
        extra,
    );
    let r = world::run::<N, _>(cfg, opts, seed, level, &mut observers);
    let mut summary = summary.finish(&cfg.name, seed, r.facts(), None);
    summary.coverage = coverage.marks();
    (r, summary)
}

/// Runs node implementation `N` with only what judges a run: the split-vote detector (its
/// records count in every record index a violation names), the safety checker and, when the
/// scenario bounds it, the stable-leader watch. No summary and no story are built, so a seed
/// search pays for none; the outcome, violation and panic are exactly [`run_observed`]'s.
pub fn run_judged<N: RaftNode>(cfg: &RunConfig, opts: &N::Options, seed: u64) -> RunResult {
    run_judged_with::<N, _>(cfg, opts, seed, &mut ())
}

/// [`run_judged`] with one more observer (`extra`), which only watches: the seed search's
/// coverage marks.
pub fn run_judged_with<N: RaftNode, E: Observer>(
    cfg: &RunConfig,
    opts: &N::Options,
    seed: u64,
    extra: &mut E,
) -> RunResult {
    let mut split = SplitVoteDetector::default();
    let mut checker = Checker::new(cfg.nodes);
    let mut stable = cfg
        .liveness
        .stable_leader_after
        .map(|d| Availability::new(d.0, true));
    let mut observers = (&mut split, &mut checker, &mut stable, extra);
    world::run::<N, _>(cfg, opts, seed, TraceLevel::Events, &mut observers)
}

/// [`run_judged`] with the chosen implementation, and the coverage marks the run hit.
pub fn judge_covered(cfg: &RunConfig, node: &NodeChoice, seed: u64) -> (RunResult, Marks) {
    let mut coverage = Coverage::default();
    let r = crate::with_node!(node, N, o => run_judged_with::<N, _>(cfg, o, seed, &mut coverage));
    (r, coverage.marks())
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Record the JSON Lines trace in memory (and its hash).
    pub trace: bool,
    pub level: TraceLevel,
}

/// What [`run`] returns: the outcome, the summary and, if asked for, the trace.
pub struct RunReport {
    pub outcome: Outcome,
    pub summary: Summary,
    pub violation: Option<Violation>,
    pub panic: Option<String>,
    pub trace: Option<TraceWriter<Vec<u8>>>,
    pub last_fault_ns: Option<u64>,
    pub nodes_at_end: Vec<Option<NodeEnd>>,
}

/// Runs a scenario's nodes (the implementation its `node` field names) with a seed (and what
/// the seed draws), the trace kept in memory.
pub fn run(sc: &Scenario, seed: u64, opts: RunOptions) -> RunReport {
    let sc = sc.for_seed(seed);
    run_choice(&sc.compile(), &sc.node_choice(), seed, opts)
}

/// Runs a compiled configuration with the chosen implementation, the trace kept in memory.
pub fn run_choice(cfg: &RunConfig, node: &NodeChoice, seed: u64, opts: RunOptions) -> RunReport {
    crate::with_node!(node, N, o => run_config::<N>(cfg, o, seed, opts))
}

/// [`run_judged`] with the chosen implementation.
pub fn judge_choice(cfg: &RunConfig, node: &NodeChoice, seed: u64) -> RunResult {
    crate::with_node!(node, N, o => run_judged::<N>(cfg, o, seed))
}

/// Runs a compiled configuration with node implementation `N`, the trace kept in memory.
pub fn run_config<N: RaftNode>(
    cfg: &RunConfig,
    node: &N::Options,
    seed: u64,
    opts: RunOptions,
) -> RunReport {
    let mut trace = opts.trace.then(TraceWriter::in_memory);
    let (r, mut summary) =
        run_observed::<N, Vec<u8>, ()>(cfg, node, seed, opts.level, trace.as_mut(), &mut ());
    summary.trace_hash = trace.as_ref().map(|t| t.hash());
    RunReport {
        outcome: r.outcome,
        summary,
        violation: r.violation,
        panic: r.panic,
        trace,
        last_fault_ns: r.last_fault_ns,
        nodes_at_end: r.nodes_at_end,
    }
}

thread_local! {
    static STEPS_LEFT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// The built-in node, made to panic at the N-th step of the run (counting every node's steps):
/// a testing aid for what a run that stops on a broken assertion leaves behind (`raftsim run
/// --panic-after-steps N`, hidden). The budget is per thread, set by [`PanicAfter::arm`].
pub struct PanicAfter(Node);

impl PanicAfter {
    /// The next run on this thread panics at its `steps`-th node step.
    pub fn arm(steps: u64) {
        STEPS_LEFT.with(|c| c.set(Some(steps)));
    }

    fn tick() {
        STEPS_LEFT.with(|c| {
            if let Some(n) = c.get() {
                if n <= 1 {
                    c.set(None);
                    panic!("injected panic (--panic-after-steps)");
                }
                c.set(Some(n - 1));
            }
        })
    }
}

impl RaftNode for PanicAfter {
    type Msg = crate::protocol::Message;
    type Options = crate::node::Options;
    const NAME: &'static str = Node::NAME;
    const CAPABILITIES: crate::protocol::Capabilities = Node::CAPABILITIES;
    fn restart(
        cfg: &crate::protocol::Config,
        opts: &crate::node::Options,
        hard: crate::protocol::HardState,
    ) -> Self {
        PanicAfter(Node::with_options(cfg.clone(), opts.clone(), hard))
    }
    fn start(&mut self, out: &mut Vec<crate::protocol::Output>) {
        self.0.start(out)
    }
    fn bootstrap_leader(&mut self, out: &mut Vec<crate::protocol::Output>) {
        self.0.bootstrap_leader(out)
    }
    fn step(&mut self, input: crate::protocol::Input, out: &mut Vec<crate::protocol::Output>) {
        PanicAfter::tick();
        self.0.step(input, out)
    }
    fn role(&self) -> crate::protocol::Role {
        self.0.role()
    }
    fn leader(&self) -> Option<crate::protocol::NodeId> {
        self.0.leader()
    }
}
