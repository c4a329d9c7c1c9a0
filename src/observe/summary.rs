//! Summary metrics of a run, computed from the same trace events the checker sees: an election
//! table by term (who stood, the votes each was granted, who won or why nobody did), leaders
//! and how each leadership ended, split votes, time to the first leader, time from each leader
//! crash to the next leader, faults that found nothing to act on, nodes down at the end,
//! leaders that stepped down, entries truncated, drops, client outcomes and latency, and
//! whether state machines that differ at the end only lag (a prefix of the others' applied
//! entries) or diverge. Also the split-vote detector, which turns term changes into
//! `split_vote` events (two or more candidates, nobody won) and `failed_election` events (one
//! candidate, who lost).
//!
//! The printed form uses one unit: seconds with millisecond precision (`2.385s`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::input::count;
use crate::observe::availability::{Availability, AvailabilityStats};
use crate::observe::coverage::Marks;
use crate::observe::story::{
    ConfigChange, DigestRelation, SkippedFault, StepDown, StoryBuilder, TermRecord, Truncation,
};
use crate::observe::trace::{Event, Record};
use crate::protocol::{NodeId, Role};

/// Emits a `split_vote` for every term in which two or more candidates stood and no leader was
/// elected, and a `failed_election` for a term with a single candidate who lost, once the term
/// is over: a higher term has appeared somewhere in the cluster *and* every
/// candidate of the term has left it (moved to another term or crashed), so no late vote can
/// still make one of them leader. A term still open when the run ends is not counted: nobody
/// can tell yet. A term is judged once: a node that stands in it only later (restarted from an
/// old term, or on the other side of a partition) does not reopen it, so on rare runs such a
/// node can still win a term already reported as a split vote.
#[derive(Default)]
pub struct SplitVoteDetector {
    max_term: u64,
    /// Open terms, by term.
    open: BTreeMap<u64, OpenTerm>,
}

#[derive(Default)]
struct OpenTerm {
    /// Candidates that stood, in order.
    candidates: Vec<NodeId>,
    /// Candidates still in the term.
    remaining: Vec<NodeId>,
    elected: bool,
}

impl SplitVoteDetector {
    pub fn on(&mut self, ev: &Event, out: &mut Vec<Event>) {
        // The node (if any) whose current term this event sets (None: it left every term).
        let (node, term) = match ev {
            Event::Election { node, term } => {
                if *term >= self.max_term || self.open.contains_key(term) {
                    let t = self.open.entry(*term).or_default();
                    t.candidates.push(*node);
                    t.remaining.push(*node);
                }
                (*node, Some(*term))
            }
            Event::Leader { node, term, .. } => {
                if *term >= self.max_term || self.open.contains_key(term) {
                    self.open.entry(*term).or_default().elected = true;
                }
                (*node, Some(*term))
            }
            Event::Role { node, term, .. }
            | Event::Boot { node, term, .. }
            | Event::Restart { node, term, .. } => (*node, Some(*term)),
            Event::Crash { node } => (*node, None),
            _ => return,
        };
        for (t, open) in self.open.iter_mut() {
            if Some(*t) != term {
                open.remaining.retain(|&c| c != node);
            }
        }
        if let Some(term) = term {
            self.max_term = self.max_term.max(term);
        }
        let max = self.max_term;
        let over: Vec<u64> = self
            .open
            .range(..max)
            .filter(|(_, t)| t.elected || t.remaining.is_empty())
            .map(|(&t, _)| t)
            .collect();
        for t in over {
            let open = self.open.remove(&t).expect("listed above");
            if !open.elected {
                out.push(match open.candidates[..] {
                    [node] => Event::FailedElection { term: t, node },
                    _ => Event::SplitVote {
                        term: t,
                        candidates: open.candidates,
                    },
                });
            }
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LeaderRecord {
    pub term: u64,
    pub node: NodeId,
    pub elected_at_ns: u64,
    /// When its leadership ended; `None` if it still led at the end of the run.
    pub ended_at_ns: Option<u64>,
    /// How it ended: `crashed`, `stepped down in term N`, or `still leading at the end`.
    pub end: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CrashRecovery {
    pub crashed_leader: NodeId,
    pub crashed_at_ns: u64,
    /// Time until the next leader was elected; `None` if none was before the run ended.
    pub next_leader_after_ns: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StateMachineSummary {
    pub node: NodeId,
    pub applied: u64,
    pub keys: u64,
    pub digest: String,
}

/// FNV-1a over the map's (key, value) pairs in key order: a short, portable fingerprint.
pub fn kv_digest(kv: &BTreeMap<u32, u64>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in kv {
        for b in k.to_le_bytes().into_iter().chain(v.to_le_bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientStats {
    pub requests: u64,
    pub committed: u64,
    pub failed: u64,
    pub pending_at_end: u64,
    pub latency_p50_ns: Option<u64>,
    pub latency_p99_ns: Option<u64>,
    pub latency_max_ns: Option<u64>,
    /// Stalls: intervals longer than the maximum election timeout during which requests were
    /// outstanding and none committed, as [start_ns, end_ns]; see `no_commit_windows`.
    pub no_commit_windows: Vec<[u64; 2]>,
}

/// Completed client operations by kind (`client_operations` in `summary.json`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientOperations {
    pub gets: u64,
    /// Gets that read a value (the rest found the key never written).
    pub gets_found: u64,
    pub puts: u64,
    pub cas: u64,
    /// CAS whose client was told it took effect.
    pub cas_took_effect: u64,
    /// Requests whose client got no answer (failed or pending at the end), by kind.
    pub unanswered_gets: u64,
    pub unanswered_writes: u64,
    /// Gets answered by where they were served, with their latency: through the log, at the
    /// leader without the log (ReadIndex or its lease), at a follower (dissertation §6.4).
    pub reads_through_log: ReadPath,
    pub reads_at_leader: ReadPath,
    pub reads_at_follower: ReadPath,
    /// Gets served without the log by a server that, when the get reached it, had not yet
    /// applied the latest write to its key a client had learned of before the get began, and waited until it
    /// had (the ReadIndex wait, dissertation §6.4): serving on arrival would have been stale.
    pub stale_reads_prevented: u64,
    /// Gets served without the log by a server that still had not applied that write: stale
    /// reads served, by the log's order (the linearizability check is the judge: two
    /// concurrent writes may linearize in either order). A correct node serves none.
    pub stale_reads_served: u64,
    /// Request number to its kind, while reading the trace.
    #[serde(skip)]
    kinds: BTreeMap<u64, u8>,
}

impl ClientOperations {
    /// Client request `req` asked for `op`: remember its kind until it is answered.
    fn requested(&mut self, req: u64, op: &crate::observe::trace::TOp) {
        use crate::observe::trace::TOp;
        let kind = match op {
            TOp::Get { .. } => 0,
            TOp::Put { .. } => 1,
            TOp::Cas { .. } => 2,
        };
        self.kinds.insert(req, kind);
    }

    /// Client request `req` is done (`ok`: answered, with `ret`, after `latency` ns, `via`
    /// where a get served without the log was answered): count it by its kind.
    fn answered(
        &mut self,
        req: u64,
        ok: bool,
        ret: &Option<crate::observe::trace::TRet>,
        latency: u64,
        via: Option<crate::observe::trace::TVia>,
    ) {
        use crate::observe::trace::{TRet, TVia};
        let Some(kind) = self.kinds.remove(&req) else {
            return;
        };
        match (kind, ok, ret) {
            (0, true, r) => {
                self.gets += 1;
                self.gets_found += u64::from(matches!(r, Some(TRet::Get(Some(_)))));
                match via {
                    None => self.reads_through_log.add(latency),
                    Some(TVia::Leader) => self.reads_at_leader.add(latency),
                    Some(TVia::Follower) => self.reads_at_follower.add(latency),
                }
            }
            (1, true, _) => self.puts += 1,
            (_, true, r) => {
                self.cas += 1;
                self.cas_took_effect += u64::from(matches!(r, Some(TRet::Cas(true))));
            }
            (0, false, _) => self.unanswered_gets += 1,
            (_, false, _) => self.unanswered_writes += 1,
        }
    }
}

/// The gets answered one way (`client_operations.reads_*` in `summary.json`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReadPath {
    pub gets: u64,
    pub latency_p50_ns: Option<u64>,
    pub latency_p99_ns: Option<u64>,
    /// Each get's latency, sorted once the trace is read.
    #[serde(skip)]
    latencies: Vec<u64>,
}

impl ReadPath {
    fn add(&mut self, latency_ns: u64) {
        self.gets += 1;
        self.latencies.push(latency_ns);
    }

    /// The quantiles, once every get is in.
    fn finish(&mut self) {
        self.latencies.sort_unstable();
        self.latency_p50_ns = quantile_sorted(&self.latencies, 0.5);
        self.latency_p99_ns = quantile_sorted(&self.latencies, 0.99);
    }
}

/// The `linearizability` record, in `summary.json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LinearizabilitySummary {
    /// `linearizable`, `violation` or `unknown`.
    pub verdict: String,
    pub operations: u64,
    /// Search states explored: the check's cost, the same on every machine.
    pub states: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub window: Vec<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// The tool that wrote the summary: `raftsim <version>`.
    pub tool: String,
    pub scenario: String,
    /// SHA-256 of the scenario file's bytes, when the run came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario_sha256: Option<String>,
    pub seed: u64,
    pub outcome: String,
    pub end_time_ns: u64,
    pub events: u64,
    pub leaders: Vec<LeaderRecord>,
    pub elections: u64,
    /// Terms with two or more candidates and no winner, in term order.
    pub split_votes: u64,
    pub split_vote_terms: Vec<u64>,
    /// Terms with one candidate, who lost, in term order.
    pub failed_elections: u64,
    pub failed_election_terms: Vec<u64>,
    pub first_leader_ns: Option<u64>,
    pub crash_to_next_leader: Vec<CrashRecovery>,
    pub messages_sent: u64,
    pub messages_dropped: BTreeMap<String, u64>,
    pub max_commit_index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientStats>,
    /// What the clients asked and were told, in a run whose workload draws reads or CAS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_operations: Option<ClientOperations>,
    /// The linearizability check of the client history (`observe::linear`): its verdict and
    /// cost, in a run whose workload draws reads or CAS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linearizability: Option<LinearizabilitySummary>,
    /// Leader changes, time without a stable leader, term growth, windows with a connected
    /// majority ([`crate::observe::availability`]).
    pub availability: AvailabilityStats,
    /// Each live node's key-value state machine at the end (runs with a workload): how far it
    /// applied, and a digest of its contents. Nodes that applied as far agree on the digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub state_machines: Vec<StateMachineSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
    /// The panic that stopped the run, for outcome `panic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
    // The run's story ([`crate::observe::story`]).
    /// Every term in which a candidate stood or a leader led, in term order.
    pub terms: Vec<TermRecord>,
    pub faults_skipped: Vec<SkippedFault>,
    /// Nodes crashed and not restarted when the run ended.
    pub down_at_end: Vec<NodeId>,
    pub leader_step_downs: Vec<StepDown>,
    pub truncations: Vec<Truncation>,
    /// The configuration history (paper §6): each membership change, in the order proposed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configuration_changes: Vec<ConfigChange>,
    /// For each state machine: the same as the furthest one, behind it (lag), or diverged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub state_machine_agreement: Vec<DigestRelation>,
    /// The coverage marks the run hit ([`crate::observe::coverage`]), by id, in table order.
    pub coverage: Marks,
}

/// What the world itself counted in a run, for [`SummaryBuilder::finish`] (the world builds it
/// from its result: this layer does not know the world).
pub struct RunFacts<'a> {
    /// The outcome's name (`completed`, `violation`, ...).
    pub outcome: &'a str,
    pub end_time_ns: u64,
    pub events: u64,
    pub messages_sent: u64,
    pub violation: Option<String>,
    pub panic: Option<&'a str>,
    pub state_machines: &'a [StateMachineSummary],
    pub client: Option<&'a ClientStats>,
}

/// Accumulates a [`Summary`] from trace events.
pub struct SummaryBuilder {
    pub s: Summary,
    current_leader: Option<(NodeId, u64)>,
    pub(crate) availability: Availability,
    story: StoryBuilder,
}

impl Default for SummaryBuilder {
    /// Windows judged after 3 s, and "Liveness: Stable Leader" not checked.
    fn default() -> Self {
        SummaryBuilder::new(3_000_000_000, false)
    }
}

impl SummaryBuilder {
    /// `settle_ns`: each connected-majority window's settling time; `check`: report
    /// "Liveness: Stable Leader" (see [`crate::observe::availability`]).
    pub fn new(settle_ns: u64, check: bool) -> Self {
        SummaryBuilder {
            s: Summary::default(),
            current_leader: None,
            availability: Availability::new(settle_ns, check),
            story: Default::default(),
        }
    }

    /// The summary once the run is over: what the records showed, plus the world's own
    /// counts (`events`, messages sent, state machines, clients) and the trace hash.
    pub fn finish(
        self,
        scenario: &str,
        seed: u64,
        r: RunFacts<'_>,
        trace_hash: Option<String>,
    ) -> Summary {
        let mut s = self.s;
        if let Some(c) = &mut s.client_operations {
            for p in [
                &mut c.reads_through_log,
                &mut c.reads_at_leader,
                &mut c.reads_at_follower,
            ] {
                p.finish();
            }
        }
        s.availability = self.availability.finish(r.end_time_ns);
        s.tool = format!("raftsim {}", env!("CARGO_PKG_VERSION"));
        self.story.finish(&mut s, r.state_machines);
        s.scenario = scenario.to_string();
        s.seed = seed;
        s.outcome = r.outcome.to_string();
        s.end_time_ns = r.end_time_ns;
        s.events = r.events;
        s.messages_sent = r.messages_sent;
        s.violation = r.violation;
        s.panic = r.panic.map(str::to_string);
        s.state_machines = r.state_machines.to_vec();
        s.client = r.client.cloned();
        s.trace_hash = trace_hash;
        s
    }

    /// A leader elected at `t`: its row in the leaders table, the first leader's time, and
    /// the end of every wait for a leader after a crash.
    fn leader_elected(&mut self, node: NodeId, term: u64, t: u64) {
        let s = &mut self.s;
        s.leaders.push(LeaderRecord {
            term,
            node,
            elected_at_ns: t,
            ended_at_ns: None,
            end: String::new(),
        });
        s.first_leader_ns.get_or_insert(t);
        for c in s
            .crash_to_next_leader
            .iter_mut()
            .filter(|c| c.next_leader_after_ns.is_none())
        {
            c.next_leader_after_ns = Some(t - c.crashed_at_ns);
        }
        self.current_leader = Some((node, term));
    }

    /// Takes one record into the summary's counts and tables, then into the run's story.
    pub fn on(&mut self, rec: &Record) {
        let s = &mut self.s;
        match &rec.ev {
            Event::ClientRequest {
                req, op: Some(op), ..
            } => s
                .client_operations
                .get_or_insert_with(Default::default)
                .requested(*req, op),
            Event::ClientDone {
                req,
                ok,
                ret,
                latency,
                via,
                held_back,
                stale,
            } => {
                if let Some(c) = &mut s.client_operations {
                    c.answered(*req, *ok, ret, *latency, *via);
                    c.stale_reads_prevented += u64::from(*held_back);
                    c.stale_reads_served += u64::from(*stale);
                }
            }
            Event::Linearizability {
                verdict,
                ops,
                states,
                key,
                window,
            } => {
                s.linearizability = Some(LinearizabilitySummary {
                    verdict: verdict.clone(),
                    operations: *ops,
                    states: *states,
                    key: *key,
                    window: window.clone(),
                });
            }
            Event::Election { .. } => s.elections += 1,
            Event::Leader { node, term, .. } => self.leader_elected(*node, *term, rec.t),
            Event::Role { node, role, .. }
                if *role != Role::Leader && self.current_leader.map(|(n, _)| n) == Some(*node) =>
            {
                self.current_leader = None;
            }
            Event::Crash { node } if self.current_leader.map(|(n, _)| n) == Some(*node) => {
                s.crash_to_next_leader.push(CrashRecovery {
                    crashed_leader: *node,
                    crashed_at_ns: rec.t,
                    next_leader_after_ns: None,
                });
                self.current_leader = None;
            }
            Event::SplitVote { term, .. } => {
                s.split_votes += 1;
                insert_sorted(&mut s.split_vote_terms, *term);
            }
            Event::FailedElection { term, .. } => {
                s.failed_elections += 1;
                insert_sorted(&mut s.failed_election_terms, *term);
            }
            Event::Drop { reason, .. } => {
                *s.messages_dropped.entry(reason.to_string()).or_default() += 1
            }
            Event::Commit { commit_index, .. } => {
                s.max_commit_index = s.max_commit_index.max(*commit_index)
            }
            _ => {}
        }
        self.story.on(rec);
    }

    /// The printed form of the summary: times and durations in seconds with millisecond
    /// precision, no JSON, plurals that agree with their counts.
    pub fn render(s: &Summary) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        render::outcome(&mut o, s);
        render::availability(&mut o, s);
        render::terms(&mut o, s);
        render::leadership(&mut o, s);
        render::configuration_changes(&mut o, s);
        render::faults(&mut o, s);
        render::messages(&mut o, s);
        if let Some(c) = &s.client {
            render::clients(&mut o, s, c);
        }
        render::state_machines(&mut o, s);
        render::coverage(&mut o, s);
        if let Some(h) = &s.trace_hash {
            let _ = writeln!(o, "trace hash {h}");
        }
        o
    }
}

/// The sections of the printed summary ([`SummaryBuilder::render`]), in the order printed,
/// each appending its lines.
mod render {
    use std::fmt::Write;

    use super::{
        count, join, millis, secs, terms_list, ClientStats, ConfigChange, Summary, TermRecord,
    };
    use crate::protocol::NodeId;

    /// Terms listed in the printed summary; the rest are in summary.json.
    const MAX_TERM_ROWS: usize = 40;

    /// The scenario, the outcome (and the violation or panic that ended the run), the
    /// elections, and the first leader.
    pub(super) fn outcome(o: &mut String, s: &Summary) {
        let _ = writeln!(o, "scenario   {} (seed {})", s.scenario, s.seed);
        let _ = writeln!(
            o,
            "outcome    {} at {} after {}",
            s.outcome,
            secs(s.end_time_ns),
            count(s.events, "simulation event", "simulation events")
        );
        if let Some(v) = &s.violation {
            let _ = writeln!(o, "VIOLATION  {v}");
        }
        if let Some(p) = &s.panic {
            let _ = writeln!(o, "PANIC      {p}");
        }
        let _ = writeln!(
            o,
            "elections  {} started, {}{}, {}{}",
            s.elections,
            count(s.split_votes, "split vote", "split votes"),
            terms_list(&s.split_vote_terms),
            count(s.failed_elections, "failed election", "failed elections"),
            terms_list(&s.failed_election_terms),
        );
        let _ = writeln!(
            o,
            "first leader {}",
            s.first_leader_ns.map_or("none".into(), secs)
        );
    }

    /// Leader changes and stability, the connected-majority windows, and each window that
    /// went without a stable leader after settling.
    pub(super) fn availability(o: &mut String, s: &Summary) {
        let a = &s.availability;
        let _ = writeln!(
            o,
            "availability {} leader changes, stable leader {:.1}% of the time, longest without {}, term growth {:.2}/s (max term {})",
            a.leader_changes,
            a.stable_leader_share * 100.0,
            secs(a.longest_without_leader_ns),
            a.term_growth_per_s,
            a.max_term
        );
        let settled = a.majority_windows_held - a.majority_windows_unsettled;
        let _ = writeln!(
            o,
            "majority windows {} with a connected majority, {} with a stable leader throughout after {} settling{}",
            a.majority_windows,
            settled,
            secs(a.settle_ns),
            match a.majority_windows_unsettled {
                0 => String::new(),
                n => format!(", {n} too short to settle"),
            }
        );
        for w in a.windows.iter().filter(|w| !w.stable_leader_held) {
            let _ = writeln!(
                o,
                "  window {} to {}: {} without a stable leader after settling",
                secs(w.from_ns),
                secs(w.to_ns),
                secs(w.leaderless_after_settle_ns)
            );
        }
    }

    /// The election table: one row per term, up to [`MAX_TERM_ROWS`].
    pub(super) fn terms(o: &mut String, s: &Summary) {
        if s.terms.is_empty() {
            return;
        }
        let _ = writeln!(
            o,
            "terms (every vote granted in the term, the candidate's own included; the trace's LEADER line counts those it had won with):"
        );
        let shown = s.terms.len().min(MAX_TERM_ROWS);
        for tr in &s.terms[..shown] {
            let _ = writeln!(o, "  term {:>3}  {}", tr.term, term_row(s, tr));
        }
        if s.terms.len() > shown {
            let _ = writeln!(
                o,
                "  ... {} more in summary.json",
                count((s.terms.len() - shown) as u64, "term", "terms")
            );
        }
    }

    /// One term's row after its number: who stood with their votes; who won and how long
    /// they led, or why nobody won.
    fn term_row(s: &Summary, tr: &TermRecord) -> String {
        let stood = if tr.candidates.is_empty() {
            "no candidate".to_string()
        } else {
            join(
                tr.candidates
                    .iter()
                    .map(|c| format!("n{} {}", c.node, count(c.votes as u64, "vote", "votes"))),
            )
        };
        let result = match tr.winner {
            Some(w) => {
                let l = s.leaders.iter().find(|l| l.term == tr.term && l.node == w);
                match l {
                    Some(l) => format!(
                        "n{w} {} at {}, led until {}",
                        tr.result,
                        secs(l.elected_at_ns),
                        match l.ended_at_ns {
                            Some(e) => format!("{} ({})", secs(e), l.end),
                            None => "the end".into(),
                        }
                    ),
                    None => format!("n{w} {}", tr.result),
                }
            }
            None => match tr.result.as_str() {
                "open at the end" => "undecided when the run ended".into(),
                "nobody won" => "nobody won".into(),
                why => format!("nobody won: {why}"),
            },
        };
        format!("{stood}; {result}")
    }

    /// Leaders lost: crashed leaders and the wait for the next, leaders that stepped down,
    /// and the entries truncated from logs.
    pub(super) fn leadership(o: &mut String, s: &Summary) {
        for c in &s.crash_to_next_leader {
            let _ = writeln!(
                o,
                "leader n{} crashed at {}: next leader after {}",
                c.crashed_leader,
                secs(c.crashed_at_ns),
                c.next_leader_after_ns.map_or("never".into(), secs)
            );
        }
        for d in &s.leader_step_downs {
            if let Some(voters) = &d.removed_by {
                let _ = writeln!(
                    o,
                    "leader n{} (term {}) stepped down at {}: not in the new configuration {{{}}}",
                    d.node,
                    d.term,
                    secs(d.at_ns),
                    join(voters.iter().map(|n| format!("n{n}")))
                );
                continue;
            }
            let _ = writeln!(
                o,
                "stale leader n{} (term {}) stepped down at {} on seeing term {}",
                d.node,
                d.term,
                secs(d.at_ns),
                d.to_term
            );
        }
        for tr in &s.truncations {
            let _ = writeln!(
                o,
                "truncated  n{} removed {} from index {} at {}",
                tr.node,
                count(tr.entries, "entry", "entries"),
                tr.from,
                secs(tr.at_ns)
            );
        }
    }

    /// The configuration history (paper §6), one line per change.
    pub(super) fn configuration_changes(o: &mut String, s: &Summary) {
        if s.configuration_changes.is_empty() {
            return;
        }
        let _ = writeln!(
            o,
            "configuration changes (proposed, joint: C_old,new committed, final: C_new committed):"
        );
        for c in &s.configuration_changes {
            let _ = writeln!(o, "{}", config_change_line(c));
        }
    }

    /// One configuration change: from and to, when proposed, joint and final (with the time
    /// each step took), and how it ended.
    fn config_change_line(c: &ConfigChange) -> String {
        let set = |v: &[NodeId]| format!("{{{}}}", join(v.iter().map(|n| format!("n{n}"))));
        let from = if c.from.is_empty() {
            String::new()
        } else {
            format!("{} -> ", set(&c.from))
        };
        let mut line = format!("  {from}{}", set(&c.to));
        if let (Some(p), Some(n)) = (c.proposed_at_ns, c.proposed_to) {
            line.push_str(&format!(": proposed {} to n{n}", secs(p)));
        } else {
            line.push(':');
        }
        if let Some(j) = c.joint_at_ns {
            line.push_str(&format!(", joint {}", secs(j)));
            if let Some(d) = c.to_joint_ns {
                line.push_str(&format!(" (+{})", secs(d)));
            }
        }
        if let Some(f) = c.final_at_ns {
            line.push_str(&format!(", final {}", secs(f)));
            if let Some(d) = c.to_final_ns {
                line.push_str(&format!(" (+{})", secs(d)));
            }
        }
        match (c.outcome.as_str(), c.took_ns) {
            ("completed", Some(d)) => line.push_str(&format!("; took {}", secs(d))),
            ("completed", None) => {}
            (other, _) => line.push_str(&format!("; {other}")),
        }
        if let Some(a) = &c.action {
            line.push_str(&format!(" [{a}]"));
        }
        line
    }

    /// Faults that found nothing to act on, and the nodes down at the end.
    pub(super) fn faults(o: &mut String, s: &Summary) {
        if !s.faults_skipped.is_empty() {
            let _ = writeln!(
                o,
                "faults     {} found nothing to act on:",
                count(s.faults_skipped.len() as u64, "fault", "faults")
            );
            for f in &s.faults_skipped {
                let _ = writeln!(o, "  at {}: {}", secs(f.at_ns), f.reason);
            }
        }
        if !s.down_at_end.is_empty() {
            let _ = writeln!(
                o,
                "down at end {}",
                join(s.down_at_end.iter().map(|n| format!("n{n}")))
            );
        }
    }

    /// Messages sent and dropped (by reason), and the highest commit index.
    pub(super) fn messages(o: &mut String, s: &Summary) {
        let dropped: u64 = s.messages_dropped.values().sum();
        let _ = writeln!(
            o,
            "messages   {} sent, {} dropped{}",
            s.messages_sent,
            dropped,
            if s.messages_dropped.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    join(s.messages_dropped.iter().map(|(r, n)| format!("{r} {n}")))
                )
            }
        );
        let _ = writeln!(o, "commit     highest commit index {}", s.max_commit_index);
    }

    /// What clients asked and were told: requests, operations by kind, the linearizability
    /// verdict, latency, and the windows without a commit.
    pub(super) fn clients(o: &mut String, s: &Summary, c: &ClientStats) {
        let _ = writeln!(
            o,
            "clients    {}: {} committed, {} failed, {} pending at end",
            count(c.requests, "request", "requests"),
            c.committed,
            c.failed,
            c.pending_at_end
        );
        if let Some(k) = &s.client_operations {
            let _ = writeln!(
                o,
                "operations {} ({} found a value), {}, {} ({} took effect) answered; {} and {} unanswered",
                count(k.gets, "get", "gets"),
                k.gets_found,
                count(k.puts, "put", "puts"),
                k.cas,
                k.cas_took_effect,
                count(k.unanswered_gets, "get", "gets"),
                count(k.unanswered_writes, "write", "writes"),
            );
        }
        if let Some(l) = &s.linearizability {
            let _ = writeln!(
                o,
                "linearizability {} ({}, {} searched{})",
                l.verdict,
                count(l.operations, "client operation", "client operations"),
                count(l.states, "state", "states"),
                match (l.verdict.as_str(), l.key) {
                    ("violation", Some(k)) => format!("; key k{k}, requests {:?}", l.window),
                    ("unknown", Some(k)) => format!(
                        "; the search passed its bound at key k{k}: neither proven nor refuted"
                    ),
                    _ => String::new(),
                }
            );
        }
        if let (Some(p50), Some(p99), Some(max)) =
            (c.latency_p50_ns, c.latency_p99_ns, c.latency_max_ns)
        {
            let _ = writeln!(
                o,
                "latency    p50 {}  p99 {}  max {}",
                secs(p50),
                secs(p99),
                secs(max)
            );
        }
        if let Some(k) = &s.client_operations {
            let paths = [
                ("through the log", &k.reads_through_log),
                ("at the leader", &k.reads_at_leader),
                ("at followers", &k.reads_at_follower),
            ];
            let said: Vec<String> = paths
                .iter()
                .filter(|(_, p)| p.gets > 0)
                .map(|(name, p)| {
                    format!(
                        "{} {name} (p50 {}, p99 {})",
                        p.gets,
                        millis(p.latency_p50_ns.unwrap_or(0)),
                        millis(p.latency_p99_ns.unwrap_or(0))
                    )
                })
                .collect();
            if !said.is_empty() {
                let _ = writeln!(o, "reads      {}", said.join("; "));
            }
            if k.reads_at_leader.gets + k.reads_at_follower.gets > 0 {
                let _ = writeln!(
                    o,
                    "stale reads {} prevented (held until their server had applied the last write clients knew of when they began), {} served",
                    k.stale_reads_prevented, k.stale_reads_served
                );
            }
        }
        for w in &c.no_commit_windows {
            let _ = writeln!(
                o,
                "no commits from {} to {} ({})",
                secs(w[0]),
                secs(w[1]),
                secs(w[1] - w[0])
            );
        }
    }

    /// Each state machine: what it applied, its digest, and whether it lags or diverged.
    /// The coverage marks the run hit, by id ([`crate::observe::coverage`]).
    pub(super) fn coverage(o: &mut String, s: &Summary) {
        let ids = s.coverage.ids();
        let _ = writeln!(
            o,
            "coverage   {} of {} marks{}{}",
            ids.len(),
            crate::observe::coverage::MARKS.len(),
            if ids.is_empty() { "" } else { ": " },
            ids.join(", ")
        );
    }

    pub(super) fn state_machines(o: &mut String, s: &Summary) {
        for m in &s.state_machines {
            let rel = s.state_machine_agreement.iter().find(|r| r.node == m.node);
            let how = match rel {
                Some(r) if r.relation == "lag" => format!(
                    "; behind by {}, a prefix of the others (lag, not divergence)",
                    count(r.behind, "entry", "entries")
                ),
                Some(r) if r.relation == "diverged" => match r.diverged_at {
                    Some(i) => format!("; DIVERGED at index {i}"),
                    None => "; DIVERGED (same length, another digest)".into(),
                },
                _ => String::new(),
            };
            let _ = writeln!(
                o,
                "state machine n{}: applied {}, {}, digest {}{how}",
                m.node,
                m.applied,
                count(m.keys, "key", "keys"),
                m.digest
            );
        }
    }
}

/// Seconds with millisecond precision, the summary's one unit.
/// A latency in milliseconds, to a tenth.
fn millis(ns: u64) -> String {
    format!("{:.1}ms", ns as f64 / 1e6)
}

fn secs(ns: u64) -> String {
    let ms = ns.saturating_add(500_000) / 1_000_000;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// ` (term 3)`, ` (terms 3, 4)`, or nothing.
fn terms_list(terms: &[u64]) -> String {
    match terms {
        [] => String::new(),
        [t] => format!(" (term {t})"),
        ts => format!(" (terms {})", join(ts.iter())),
    }
}

/// The items, separated by commas.
fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// Terms are reported as they close, which is not always in order (a lower term can close
/// after a higher one): keep the list sorted.
fn insert_sorted(v: &mut Vec<u64>, term: u64) {
    let at = v.partition_point(|&t| t <= term);
    v.insert(at, term);
}

/// Nearest-rank quantile of sorted values.
pub fn quantile_sorted(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// Client statistics from each request's (submitted, finished, ok) times.
pub fn client_stats(
    reqs: &[(u64, Option<(u64, bool)>)],
    end: u64,
    window_min_ns: u64,
) -> ClientStats {
    let mut lat: Vec<u64> = reqs
        .iter()
        .filter_map(|(s, d)| d.filter(|d| d.1).map(|d| d.0 - s))
        .collect();
    lat.sort_unstable();
    ClientStats {
        requests: reqs.len() as u64,
        committed: lat.len() as u64,
        failed: reqs
            .iter()
            .filter(|(_, d)| matches!(d, Some((_, false))))
            .count() as u64,
        pending_at_end: reqs.iter().filter(|(_, d)| d.is_none()).count() as u64,
        latency_p50_ns: quantile_sorted(&lat, 0.5),
        latency_p99_ns: quantile_sorted(&lat, 0.99),
        latency_max_ns: lat.last().copied(),
        no_commit_windows: no_commit_windows(reqs, end, window_min_ns),
    }
}

/// Stalls: intervals longer than `window_min_ns` during which at least one request was
/// outstanding (submitted, not yet finished) and no request committed.
///
/// The run is cut at every commit time; the last piece ends at `end`. For the piece between
/// consecutive commit times `prev` and `c`, let R be the requests that were outstanding at
/// some point in it: submitted before `c` and finished (committed or failed) after `prev`, or
/// never. The window runs from the earliest submission in R (but not before `prev`) to the
/// last finish in R (but not after `c`, an unfinished request counting as finishing after
/// `c`). So a request that gave up before the next commit still counts: while it waited,
/// nothing committed. A stall that ends with every request failed ends at the last failure,
/// not at the next commit or the end of the run. Gaps inside a piece with nothing outstanding
/// do not split its window.
///
/// O(n log n): commit times are swept in order while a min-heap holds the requests already
/// submitted, by submission time; a request that finished by `prev` is dropped from the top
/// lazily, which is sound because `prev` only grows. The last finish in R is the running
/// maximum of the finish times of the requests submitted so far, when it is after `prev`
/// (otherwise R is empty).
fn no_commit_windows(
    reqs: &[(u64, Option<(u64, bool)>)],
    end: u64,
    window_min_ns: u64,
) -> Vec<[u64; 2]> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut commits: Vec<u64> = reqs
        .iter()
        .filter_map(|(_, d)| d.filter(|d| d.1).map(|d| d.0))
        .collect();
    commits.sort_unstable();
    commits.push(end);
    // (submitted, finished or u64::MAX), by submission time.
    let mut by_submit: Vec<(u64, u64)> = reqs
        .iter()
        .map(|(s, d)| (*s, d.map_or(u64::MAX, |(t, _)| t)))
        .collect();
    by_submit.sort_unstable();
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut next = 0;
    // The latest finish among requests submitted so far.
    let mut last_finish = 0u64;
    let mut windows = Vec::new();
    let mut prev = 0u64;
    for &c in &commits {
        while next < by_submit.len() && by_submit[next].0 < c {
            heap.push(Reverse(by_submit[next]));
            last_finish = last_finish.max(by_submit[next].1);
            next += 1;
        }
        while heap.peek().is_some_and(|Reverse((_, f))| *f <= prev) {
            heap.pop();
        }
        if let Some(&Reverse((first, _))) = heap.peek() {
            let start = prev.max(first);
            let stop = c.min(last_finish);
            if stop > start && stop - start > window_min_ns {
                windows.push([start, stop]);
            }
        }
        prev = c;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The quadratic definition, kept as the reference for the sweep.
    fn windows_reference(
        reqs: &[(u64, Option<(u64, bool)>)],
        end: u64,
        window_min_ns: u64,
    ) -> Vec<[u64; 2]> {
        let mut commits: Vec<u64> = reqs
            .iter()
            .filter_map(|(_, d)| d.filter(|d| d.1).map(|d| d.0))
            .collect();
        commits.sort_unstable();
        commits.push(end);
        let mut out = Vec::new();
        let mut prev = 0u64;
        for &c in &commits {
            // Outstanding at some point between prev and c: (submitted, finished or never).
            let r: Vec<(u64, u64)> = reqs
                .iter()
                .map(|(s, d)| (*s, d.map_or(u64::MAX, |(t, _)| t)))
                .filter(|&(s, f)| s < c && f > prev)
                .collect();
            if let (Some(first), Some(last)) = (
                r.iter().map(|&(s, _)| s).min(),
                r.iter().map(|&(_, f)| f).max(),
            ) {
                let start = prev.max(first);
                let stop = c.min(last);
                if stop > start && stop - start > window_min_ns {
                    out.push([start, stop]);
                }
            }
            prev = c;
        }
        out
    }

    #[test]
    fn a_stall_under_load_is_one_window() {
        // Requests every 10ms; commits stop between 100ms and 600ms.
        let ms = 1_000_000;
        let reqs: Vec<(u64, Option<(u64, bool)>)> = (0..100u64)
            .map(|i| {
                let s = i * 10 * ms;
                let f = if (10..60).contains(&i) {
                    600 * ms + i
                } else {
                    s + 5 * ms
                };
                (s, Some((f, true)))
            })
            .collect();
        let w = no_commit_windows(&reqs, 1000 * ms, 300 * ms);
        assert_eq!(w, vec![[100 * ms, 600 * ms + 10]]);
    }

    #[test]
    fn requests_that_all_fail_are_one_window() {
        // Total loss: a request every 100ms, each failing after 1s; nothing commits in 6s.
        let ms = 1_000_000;
        let fail = |s: u64| (s, Some((s + 1000 * ms, false)));
        let reqs: Vec<(u64, Option<(u64, bool)>)> =
            (0..50u64).map(|i| fail(i * 100 * ms)).collect();
        // Every request failed by 5.9s: the window ends at the last failure.
        assert_eq!(
            no_commit_windows(&reqs, 6000 * ms, 300 * ms),
            vec![[0, 5900 * ms]]
        );
        let stats = client_stats(&reqs, 6000 * ms, 300 * ms);
        assert_eq!((stats.committed, stats.failed), (0, 50));
        assert_eq!(stats.no_commit_windows, vec![[0, 5900 * ms]]);
        // With requests still waiting at the end, it runs to the end.
        let mut waiting = reqs.clone();
        waiting.push((5500 * ms, None));
        assert_eq!(
            no_commit_windows(&waiting, 6000 * ms, 300 * ms),
            vec![[0, 6000 * ms]]
        );
        // Requests that failed before the next commit still open its window, from the first
        // submission (the gap from 1.2s to 1.5s with nothing outstanding does not split it).
        let mut then_commit = reqs[..3].to_vec(); // fail at 1.0s, 1.1s, 1.2s
        then_commit.push((1500 * ms, Some((1600 * ms, true))));
        assert_eq!(
            no_commit_windows(&then_commit, 2000 * ms, 300 * ms),
            vec![[0, 1600 * ms]]
        );
    }

    proptest! {
        #[test]
        fn sweep_matches_the_quadratic_definition(
            raw in proptest::collection::vec((0u64..1000, proptest::option::of((0u64..500, any::<bool>()))), 0..60),
            end_extra in 0u64..500,
            min in 0u64..200,
        ) {
            let reqs: Vec<(u64, Option<(u64, bool)>)> =
                raw.iter().map(|&(s, d)| (s, d.map(|(l, ok)| (s + l, ok)))).collect();
            // A run ends after everything in it.
            let last = reqs.iter().map(|(s, d)| d.map_or(*s, |(f, _)| f)).max().unwrap_or(0);
            let end = last + end_extra;
            prop_assert_eq!(no_commit_windows(&reqs, end, min), windows_reference(&reqs, end, min));
        }
    }
}
