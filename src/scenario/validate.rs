//! The semantic checks of a parsed [`Scenario`], one function per section of the file.
//!
//! [`Scenario::validate`] runs the sections in a fixed order and stops at the first error, so
//! when several things are wrong the one reported is always the same: the file's version and
//! name, the cluster's size, what the chosen node supports, the cluster, the Raft settings, the
//! network, clocks, storage, the workload, each fault in turn, the run's bounds, the sweep and
//! the draw. Each error is (field path, what is wrong and what is allowed); `Scenario::parse`
//! adds the file, line and column.
//!
//! This module only checks; it changes nothing and runs nothing.

use super::{
    trials_bound, CandidatePersist, DrawSpec, FaultSpec, MembershipMode, NamedTarget, ReadPath,
    Scenario, Target, WorkloadSpec, MAX_CLIENT_LOG_ENTRIES, MAX_CLIENT_REQUESTS,
    MAX_CONFIGURATIONS, MAX_DRAW_CHOICES, MAX_DRIFT_PPM, MAX_ENTRIES_PER_MESSAGE, MAX_SYNCS,
    MAX_TERM, MAX_TRIALS, MAX_WHEN_COMMITTED, VERSION,
};
use crate::base::dist::NumberDist;
use crate::base::time::SimDuration;
use crate::nodes::NodeKind;
use crate::protocol::NodeId;

/// A check's result: nothing, or (field path, what is wrong and what is allowed).
type Checked = Result<(), (String, String)>;

/// The error at field `f` with message `m`.
fn err(f: &str, m: String) -> Checked {
    Err((f.to_string(), m))
}

/// Node `id`, named at field `f`, is one of the `n` nodes of the cluster.
fn in_cluster(f: &str, id: NodeId, n: u32) -> Checked {
    if id >= 1 && id <= n {
        Ok(())
    } else {
        err(
            f,
            format!("node {id} is outside the cluster: ids are 1 to {n}"),
        )
    }
}

/// Probability `p`, at field `f`, is within [0, 1].
fn prob(f: &str, p: f64) -> Checked {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err((f.to_string(), format!("probability {p} is outside [0, 1]")))
    }
}

/// A voter set given at `field`: not empty, every id a node of the cluster of `n`, no repeats.
pub(super) fn voter_set(field: &str, v: &[NodeId], n: u32) -> Checked {
    let bad = |m: String| Err((field.to_string(), m));
    if v.is_empty() {
        return bad("a configuration has at least one voter".into());
    }
    if let Some(&id) = v.iter().find(|&&id| id == 0 || id > n) {
        return bad(format!(
            "node {id} is outside the cluster: ids are 1 to {n}"
        ));
    }
    let mut sorted = v.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return bad(format!("node {} is listed twice", w[0]));
    }
    Ok(())
}

/// One server a membership action names at `field`: a node of the cluster of `n`, or a
/// named target it allows (`remove`: a voter to remove, else a node to add).
fn member_target(field: String, t: Target, remove: bool, n: u32) -> Checked {
    match t {
        Target::Node(id) if id == 0 || id > n => Err((
            field,
            format!("node {id} is outside the cluster: ids are 1 to {n}"),
        )),
        Target::Node(_) | Target::Named(NamedTarget::Random) => Ok(()),
        Target::Named(NamedTarget::Leader | NamedTarget::Follower) if remove => Ok(()),
        _ if remove => Err((
            field,
            "write a node id or one of \"leader\", \"follower\", \"random\" (a voter to remove)"
                .into(),
        )),
        _ => Err((
            field,
            "write a node id or \"random\" (a node outside the configuration)".into(),
        )),
    }
}

/// The fault is a membership action (`change_membership`, `add_server`, `remove_server`,
/// `replace_server`).
fn is_membership(f: &FaultSpec) -> bool {
    f.change_membership.is_some()
        || f.add_server.is_some()
        || f.remove_server.is_some()
        || f.replace_server.is_some()
}

/// A membership action's servers and condition (`add_server`, `remove_server`,
/// `replace_server`, `when`) at fault `path` of a cluster of `n`.
fn membership_action(path: &str, f: &FaultSpec, n: u32) -> Checked {
    if let Some(t) = f.add_server {
        member_target(format!("{path}.add_server"), t, false, n)?;
    }
    if let Some(t) = f.remove_server {
        member_target(format!("{path}.remove_server"), t, true, n)?;
    }
    if let Some(r) = f.replace_server {
        member_target(format!("{path}.replace_server.remove"), r.remove, true, n)?;
        member_target(format!("{path}.replace_server.add"), r.add, false, n)?;
        if let (Target::Node(a), Target::Node(b)) = (r.add, r.remove) {
            if a == b {
                return err(
                    &format!("{path}.replace_server"),
                    format!("remove and add are both node {a}: a replacement needs two servers"),
                );
            }
        }
    }
    membership_condition(path, f)
}

/// A membership action's `when`: only on a membership action, with at least one bound, each
/// within its range.
fn membership_condition(path: &str, f: &FaultSpec) -> Checked {
    let Some(w) = f.when else {
        return Ok(());
    };
    if !is_membership(f) {
        return err(
            &format!("{path}.when"),
            "only a membership action (change_membership, add_server, remove_server, replace_server) waits for a condition".into(),
        );
    }
    if w.committed.is_none() && w.changes_done.is_none() {
        return err(
            &format!("{path}.when"),
            "give at least one of committed, changes_done".into(),
        );
    }
    if let Some(c) = w.committed {
        if !(1..=MAX_WHEN_COMMITTED).contains(&c) {
            return err(
                &format!("{path}.when.committed"),
                format!("{c} is not allowed: a log index from 1 to {MAX_WHEN_COMMITTED}"),
            );
        }
    }
    if let Some(c) = w.changes_done {
        if !(1..=1000).contains(&c) {
            return err(
                &format!("{path}.when.changes_done"),
                format!("{c} is not allowed: 1 to 1000 changes"),
            );
        }
    }
    Ok(())
}

impl Scenario {
    /// Semantic checks. Returns (field path, what is wrong and what is allowed).
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.validate_header()?;
        self.validate_node()?;
        self.validate_catch_up()?;
        self.validate_voters()?;
        self.validate_initial_logs()?;
        self.validate_initial_leader()?;
        self.validate_raft()?;
        self.validate_network()?;
        self.validate_clocks()?;
        self.storage
            .write_latency
            .validate()
            .map_err(|m| ("storage.write_latency".to_string(), m))?;
        for (name, law) in [
            ("storage.metadata_write", &self.storage.metadata_write),
            ("storage.log_write", &self.storage.log_write),
        ] {
            if let Some(w) = law {
                w.sync.validate().map_err(|m| (format!("{name}.sync"), m))?;
                if !(1..=MAX_SYNCS).contains(&w.syncs) {
                    return err(
                        &format!("{name}.syncs"),
                        format!("{} syncs: give 1 to {MAX_SYNCS}", w.syncs),
                    );
                }
            }
        }
        self.validate_workload()?;
        for (i, f) in self.faults.iter().enumerate() {
            self.validate_fault(&format!("faults[{i}]"), f)?;
        }
        self.validate_bounds()?;
        self.validate_sweep()?;
        if let Some(d) = &self.draw {
            self.validate_draw(d)?;
        }
        Ok(())
    }

    /// The format version, the name (it names output folders) and the cluster's size.
    fn validate_header(&self) -> Checked {
        if self.version != VERSION {
            return err(
                "version",
                format!(
                    "version {} is not supported; this raftsim reads version {VERSION}",
                    self.version
                ),
            );
        }
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return err("name", format!("{:?} is not allowed: use letters, digits, '-' and '_' (it names output folders)", self.name));
        }
        let n = self.cluster.nodes;
        if !(1..=64).contains(&n) {
            return err(
                "cluster.nodes",
                format!("{n} nodes is not allowed: 1 to 64"),
            );
        }
        Ok(())
    }

    /// `raft.catch_up_rounds` is within its range.
    fn validate_catch_up(&self) -> Checked {
        if let Some(r) = self.raft.catch_up_rounds {
            if r > 100 {
                return err(
                    "raft.catch_up_rounds",
                    format!("{r} is not allowed: 0 (no catch-up) to 100"),
                );
            }
        }
        Ok(())
    }

    /// `cluster.voters`: a voter set, holding the initial leader if there is one.
    fn validate_voters(&self) -> Checked {
        let Some(v) = &self.cluster.voters else {
            return Ok(());
        };
        voter_set("cluster.voters", v, self.cluster.nodes)?;
        if let Some(l) = self.cluster.initial_leader {
            if !v.contains(&l) {
                return err(
                    "cluster.initial_leader",
                    format!("n{l} is not one of cluster.voters"),
                );
            }
        }
        Ok(())
    }

    /// `cluster.initial_logs`: one log per node, terms in range and not decreasing, and the
    /// logs together reachable by Raft (Log Matching, §5.3).
    fn validate_initial_logs(&self) -> Checked {
        let Some(logs) = &self.cluster.initial_logs else {
            return Ok(());
        };
        let n = self.cluster.nodes;
        if logs.len() != n as usize {
            return err(
                "cluster.initial_logs",
                format!(
                    "{} logs given for {n} nodes: give one list per node",
                    logs.len()
                ),
            );
        }
        for (i, log) in logs.iter().enumerate() {
            if log.windows(2).any(|w| w[0] > w[1])
                || log.first() == Some(&0)
                || log.last().is_some_and(|&t| t > MAX_TERM)
            {
                return err(
                    &format!("cluster.initial_logs[{i}]"),
                    format!("entry terms must be from 1 to {MAX_TERM} and must not decrease"),
                );
            }
        }
        // Log Matching (§5.3) must hold from the start: logs that share an entry's index
        // and term share everything before it.
        for (i, a) in logs.iter().enumerate() {
            for (j, b) in logs.iter().enumerate().skip(i + 1) {
                let shared = a.iter().zip(b).rposition(|(x, y)| x == y);
                if let Some(k) = shared {
                    if a[..k] != b[..k] {
                        return err(
                            &format!("cluster.initial_logs[{j}]"),
                            format!(
                                "logs {} and {} hold entry {} of term {} but differ before it, which no Raft cluster can reach (Log Matching)",
                                i + 1, j + 1, k + 1, a[k]
                            ),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// `cluster.initial_leader`: a node of the cluster whose initial log could have won it an
    /// election.
    fn validate_initial_leader(&self) -> Checked {
        let Some(l) = self.cluster.initial_leader else {
            return Ok(());
        };
        in_cluster("cluster.initial_leader", l, self.cluster.nodes)?;
        if let Some(logs) = &self.cluster.initial_logs {
            let key = |log: &Vec<u64>| (log.last().copied().unwrap_or(0), log.len());
            let lead = key(&logs[l as usize - 1]);
            if logs.iter().any(|log| key(log) > lead) {
                return err("cluster.initial_leader", format!("node {l}'s initial log is less up to date than another node's, so it could not have been elected"));
            }
        }
        Ok(())
    }

    /// The Raft timing: election timeout range, heartbeat interval, entries per message.
    fn validate_raft(&self) -> Checked {
        let r = &self.raft;
        let [lo, hi] = r.election_timeout;
        if lo.0 == 0 {
            return err(
                "raft.election_timeout",
                "the minimum must be above zero".into(),
            );
        }
        if lo > hi {
            return err(
                "raft.election_timeout",
                format!("min {lo} is above max {hi}; write [min, max]"),
            );
        }
        if r.heartbeat_interval.0 == 0 {
            return err("raft.heartbeat_interval", "must be above zero".into());
        }
        if !(1..=MAX_ENTRIES_PER_MESSAGE).contains(&r.max_entries_per_message) {
            return err(
                "raft.max_entries_per_message",
                format!(
                    "{} is not allowed: 1 to {MAX_ENTRIES_PER_MESSAGE} (each AppendEntries copies up to this many entries, and a leader may have many in flight)",
                    r.max_entries_per_message
                ),
            );
        }
        Ok(())
    }

    /// The network: its distributions and probabilities, and each link override.
    fn validate_network(&self) -> Checked {
        let net = &self.network;
        net.delay
            .validate()
            .map_err(|m| ("network.delay".to_string(), m))?;
        net.processing
            .validate()
            .map_err(|m| ("network.processing".to_string(), m))?;
        prob("network.loss", net.loss)?;
        prob("network.duplicate", net.duplicate)?;
        for (i, l) in net.links.iter().enumerate() {
            let f = format!("network.links[{i}]");
            for id in [l.from, l.to] {
                in_cluster(&f, id, self.cluster.nodes)?;
            }
            if l.from == l.to {
                return err(&f, "a link joins two different nodes".into());
            }
            if let Some(d) = &l.delay {
                d.validate().map_err(|m| (format!("{f}.delay"), m))?;
            }
            prob(&format!("{f}.loss"), l.loss.unwrap_or(0.0))?;
            prob(&format!("{f}.duplicate"), l.duplicate.unwrap_or(0.0))?;
        }
        Ok(())
    }

    /// The clocks: drift and jitter distributions, one drift per node if given, and every
    /// drift within ±[`MAX_DRIFT_PPM`].
    fn validate_clocks(&self) -> Checked {
        let n = self.cluster.nodes;
        self.clocks
            .drift_ppm
            .validate()
            .map_err(|m| ("clocks.drift_ppm".to_string(), m))?;
        self.clocks
            .timer_jitter
            .validate()
            .map_err(|m| ("clocks.timer_jitter".to_string(), m))?;
        if let Some(d) = &self.clocks.node_drift_ppm {
            if d.len() != n as usize {
                return err(
                    "clocks.node_drift_ppm",
                    format!("{} values for {n} nodes: give one per node", d.len()),
                );
            }
        }
        // Drift is clamped to ±MAX_DRIFT_PPM when drawn; parameters must lie within it.
        let drift_ok = |x: f64| x.is_finite() && x.abs() <= MAX_DRIFT_PPM;
        let drift_msg = || format!("drift must be within ±{MAX_DRIFT_PPM} ppm");
        if !self
            .clocks
            .node_drift_ppm
            .iter()
            .flatten()
            .all(|&x| drift_ok(x))
        {
            return err("clocks.node_drift_ppm", drift_msg());
        }
        let params: Vec<f64> = match self.clocks.drift_ppm {
            NumberDist::Constant(x) => vec![x],
            NumberDist::Uniform([a, b]) => vec![a, b],
            NumberDist::Normal { mean, stddev } => vec![mean, stddev],
        };
        if !params.into_iter().all(drift_ok) {
            return err("clocks.drift_ppm", drift_msg());
        }
        if let Some(r) = self.clocks.timer_resolution {
            if r.0 == 0 || r.0 > 1_000_000_000 {
                return err(
                    "clocks.timer_resolution",
                    format!("{r} is not allowed: give a duration from 1ns to 1s (leave it out for none)"),
                );
            }
        }
        Ok(())
    }

    /// The workload: rate, attempts, timeout, keys and shares, then the requests it would
    /// issue within their bound.
    fn validate_workload(&self) -> Checked {
        let Some(w) = &self.workload else {
            return Ok(());
        };
        if !(w.requests_per_second > 0.0 && w.requests_per_second <= 1_000_000.0) {
            return err(
                "workload.requests_per_second",
                format!(
                    "{} is not allowed: above 0, at most 1000000",
                    w.requests_per_second
                ),
            );
        }
        if w.max_attempts == 0 {
            return err("workload.max_attempts", "must be at least 1".into());
        }
        if w.request_timeout.0 == 0 {
            return err("workload.request_timeout", "must be above zero".into());
        }
        if w.keys == 0 {
            return err("workload.keys", "must be at least 1".into());
        }
        for (field, share) in [("workload.reads", w.reads), ("workload.cas", w.cas)] {
            if !(0.0..=1.0).contains(&share) {
                return err(field, format!("{share} is not a share: give 0 to 1"));
            }
        }
        if w.reads + w.cas > 1.0 {
            return err(
                "workload.cas",
                format!(
                    "reads {} and cas {} add up to more than 1 (the rest of the requests are puts)",
                    w.reads, w.cas
                ),
            );
        }
        self.validate_request_count(w)
    }

    /// The requests a workload issues (and the log entries they add across the cluster) stay
    /// within [`MAX_CLIENT_REQUESTS`] and [`MAX_CLIENT_LOG_ENTRIES`].
    fn validate_request_count(&self, w: &WorkloadSpec) -> Checked {
        let n = self.cluster.nodes;
        // Arrivals run from `start` until `end` or stop.at, whichever comes first.
        let start = w.start.unwrap_or(SimDuration::ZERO);
        let end = w.end.unwrap_or(self.stop.at).min(self.stop.at);
        let requests = if start > end {
            0.0
        } else {
            libm::floor((end.0 - start.0) as f64 / 1e9 * w.requests_per_second) + 1.0
        };
        let allowed = MAX_CLIENT_REQUESTS.min(MAX_CLIENT_LOG_ENTRIES / n as u64);
        if requests > allowed as f64 {
            use crate::base::input::thousands;
            return err(
                "workload.requests_per_second",
                format!(
                    "{}/s from {start} to {end} is {} requests; at most {} are allowed with {n} nodes (at most {} per run, and requests × nodes at most {}): every request is kept for the client statistics and becomes an entry in every node's log, which the nodes, their disks and the checker keep whole. Lower the rate or end the workload sooner (workload.end, stop.at)",
                    w.requests_per_second,
                    thousands(requests as u64),
                    thousands(allowed),
                    thousands(MAX_CLIENT_REQUESTS),
                    thousands(MAX_CLIENT_LOG_ENTRIES),
                ),
            );
        }
        Ok(())
    }

    /// One fault, at field `path`: its kind, its times, its settings, the nodes it names, a
    /// generator's window, and a pause's end and the groups of a partition or cut.
    fn validate_fault(&self, path: &str, f: &FaultSpec) -> Checked {
        let n = self.cluster.nodes;
        fault_kind(path, f)?;
        self.fault_times(path, f)?;
        fault_settings(path, f, n)?;
        fault_servers(path, f, n)?;
        fault_generator(path, f)?;
        fault_groups(path, f, n)
    }

    /// A fault's `at`, `jitter` and `until`: within the run, and an end only for a fault that
    /// has one.
    fn fault_times(&self, path: &str, f: &FaultSpec) -> Checked {
        if f.at > self.stop.at {
            return err(
                &format!("{path}.at"),
                format!(
                    "{} is after stop.at {}: the fault would never apply",
                    f.at, self.stop.at
                ),
            );
        }
        if let Some(j) = &f.jitter {
            j.validate().map_err(|m| (format!("{path}.jitter"), m))?;
        }
        let Some(u) = f.until else {
            return Ok(());
        };
        let until = format!("{path}.until");
        if u <= f.at {
            return err(&until, format!("until {u} must be after at {}", f.at));
        }
        if f.restart.is_some() {
            return err(&until, "a restart has no end: remove `until`".into());
        }
        if is_membership(f) && f.when.is_none() {
            return err(
                &until,
                "a membership change has no end (it completes by itself): remove `until` (with `when`, `until` is when to stop waiting)"
                    .into(),
            );
        }
        if f.transfer_leadership.is_some() {
            return err(
                &until,
                "a leadership transfer has no end (it completes or aborts by itself): remove `until`".into(),
            );
        }
        if f.clock_jump.is_some() {
            return err(&until, "a clock jump is instant: remove `until`".into());
        }
        if u > self.stop.at {
            return err(
                &until,
                format!(
                    "{u} is after stop.at {}: the fault would never end",
                    self.stop.at
                ),
            );
        }
        Ok(())
    }

    /// The run's bounds: `stop.at`, every `liveness` bound within it, `limits.max_events`.
    fn validate_bounds(&self) -> Checked {
        if self.stop.at.0 == 0 {
            return err("stop.at", "must be above zero".into());
        }
        if let Some(l) = &self.liveness {
            for (field, b) in [
                ("leader_within", l.leader_within),
                ("commit_within", l.commit_within),
                ("converge_within", l.converge_within),
                ("membership_within", l.membership_within),
                ("stable_leader_after", l.stable_leader_after),
            ] {
                if b.is_some_and(|b| b.0 == 0 || b > self.stop.at) {
                    return err(
                        &format!("liveness.{field}"),
                        format!("must be above zero and at most stop.at {}", self.stop.at),
                    );
                }
            }
        }
        if self.limits.max_events == 0 {
            return err("limits.max_events", "must be at least 1".into());
        }
        Ok(())
    }

    /// The sweep: its ranges and trials, within [`MAX_TRIALS`] and [`MAX_CONFIGURATIONS`].
    fn validate_sweep(&self) -> Checked {
        let Some(s) = &self.sweep else {
            return Ok(());
        };
        if s.ranges.is_empty() {
            return err("sweep.ranges", "give at least one range".into());
        }
        if s.trials == 0 {
            return err("sweep.trials", "must be at least 1".into());
        }
        if s.trials as u64 > MAX_TRIALS {
            return err("sweep.trials", trials_bound(s.trials as u64));
        }
        if s.ranges.len() as u64 > MAX_CONFIGURATIONS {
            return err(
                "sweep.ranges",
                format!(
                    "{} ranges is not allowed: at most {MAX_CONFIGURATIONS} configurations per sweep (each is a row in summary.csv and a line in the plots)",
                    s.ranges.len()
                ),
            );
        }
        let mut total = 0u64;
        for (i, range) in s.ranges.iter().enumerate() {
            let trials = range.trials.unwrap_or(s.trials) as u64;
            if trials > MAX_TRIALS {
                return err(&format!("sweep.ranges[{i}].trials"), trials_bound(trials));
            }
            total += trials;
            let [a, b] = range.timeout;
            if a.0 == 0 || a > b {
                return err(
                    &format!("sweep.ranges[{i}].timeout"),
                    format!("[{a}, {b}] is not allowed: min above zero and not above max"),
                );
            }
        }
        if total > MAX_TRIALS {
            return err("sweep.ranges", trials_bound(total));
        }
        Ok(())
    }

    /// Every choice of a `draw` must make a valid scenario: each is tried on its own, and an
    /// error names the choice. Choices that interact are tried together: every `reads` with
    /// every `cas` (their sum is bounded), and every `read_path` with every on/off combination
    /// of the `switches` (a lease needs stickiness); an error names the combination.
    fn validate_draw(&self, d: &DrawSpec) -> Checked {
        let mut base = self.clone();
        base.draw = None;
        let lists = [
            ("nodes", d.nodes.len()),
            ("max_entries_per_message", d.max_entries_per_message.len()),
            ("requests_per_second", d.requests_per_second.len()),
            ("election_timeout", d.election_timeout.len()),
            ("reads", d.reads.len()),
            ("cas", d.cas.len()),
            ("keys", d.keys.len()),
            ("read_path", d.read_path.len()),
            ("switches", d.switches.len()),
        ];
        for (field, len) in lists {
            if len > MAX_DRAW_CHOICES {
                return Err((
                    format!("draw.{field}"),
                    format!("{len} choices is not allowed: at most {MAX_DRAW_CHOICES}"),
                ));
            }
        }
        for (j, s) in d.switches.iter().enumerate() {
            if let Some(i) = d.switches[..j].iter().position(|t| t == s) {
                return Err((
                    format!("draw.switches[{j}]"),
                    format!(
                        "{} is listed twice (draw.switches[{i}] too): each switch is drawn on or off once, list it once",
                        s.name()
                    ),
                ));
            }
        }
        let workload_lists = [
            (
                "requests_per_second",
                d.requests_per_second.is_empty(),
                "rate",
            ),
            ("reads", d.reads.is_empty(), "read share"),
            ("cas", d.cas.is_empty(), "compare-and-set share"),
            ("keys", d.keys.is_empty(), "number of keys"),
        ];
        for (field, empty, what) in workload_lists {
            if !empty && self.workload.is_none() {
                return Err((
                    format!("draw.{field}"),
                    format!(
                        "there is no `workload` whose {what} it could draw: add one, or remove this"
                    ),
                ));
            }
        }
        let tries = (d.nodes.iter().enumerate())
            .map(|(i, &v)| {
                let mut sc = base.clone();
                sc.cluster.nodes = v;
                (format!("draw.nodes[{i}]"), String::new(), sc)
            })
            .chain(d.max_entries_per_message.iter().enumerate().map(|(i, &v)| {
                let mut sc = base.clone();
                sc.raft.max_entries_per_message = v;
                (
                    format!("draw.max_entries_per_message[{i}]"),
                    String::new(),
                    sc,
                )
            }))
            .chain(d.requests_per_second.iter().enumerate().map(|(i, &v)| {
                let mut sc = base.clone();
                if let Some(w) = &mut sc.workload {
                    w.requests_per_second = v;
                }
                (format!("draw.requests_per_second[{i}]"), String::new(), sc)
            }))
            .chain(d.election_timeout.iter().enumerate().map(|(i, &v)| {
                let mut sc = base.clone();
                sc.raft.election_timeout = v;
                (format!("draw.election_timeout[{i}]"), String::new(), sc)
            }))
            .chain(d.keys.iter().enumerate().map(|(i, &v)| {
                let mut sc = base.clone();
                if let Some(w) = &mut sc.workload {
                    w.keys = v;
                }
                (format!("draw.keys[{i}]"), String::new(), sc)
            }))
            .chain(self.mix_tries(&base, d))
            .chain(self.read_tries(&base, d));
        for (field, with, sc) in tries {
            sc.validate()
                .map_err(|(inner, m)| (field, format!("with this choice{with}, {inner}: {m}")))?;
        }
        Ok(())
    }

    /// Every `reads` choice with every `cas` choice (or the workload's own value when a list
    /// is empty): (field, the rest of the combination, scenario).
    fn mix_tries(&self, base: &Scenario, d: &DrawSpec) -> Vec<(String, String, Scenario)> {
        let reads: Vec<Option<(usize, f64)>> = if d.reads.is_empty() {
            vec![None]
        } else {
            d.reads.iter().copied().enumerate().map(Some).collect()
        };
        let cas: Vec<Option<(usize, f64)>> = if d.cas.is_empty() {
            vec![None]
        } else {
            d.cas.iter().copied().enumerate().map(Some).collect()
        };
        let mut out = Vec::new();
        for &r in &reads {
            for &c in &cas {
                let mut sc = base.clone();
                let Some(w) = &mut sc.workload else {
                    continue;
                };
                let (field, with) = match (r, c) {
                    (None, None) => continue,
                    (Some((i, v)), None) => {
                        w.reads = v;
                        (format!("draw.reads[{i}]"), String::new())
                    }
                    (None, Some((j, v))) => {
                        w.cas = v;
                        (format!("draw.cas[{j}]"), String::new())
                    }
                    (Some((_, rv)), Some((j, cv))) => {
                        w.reads = rv;
                        w.cas = cv;
                        (format!("draw.cas[{j}]"), format!(" and reads={rv}"))
                    }
                };
                out.push((field, with, sc));
            }
        }
        out
    }

    /// Every `read_path` choice with every on/off combination of the `switches` (at most 16 ×
    /// 2^3): (field, the rest of the combination, scenario).
    fn read_tries(&self, base: &Scenario, d: &DrawSpec) -> Vec<(String, String, Scenario)> {
        let paths: Vec<Option<(usize, ReadPath)>> = if d.read_path.is_empty() {
            vec![None]
        } else {
            d.read_path.iter().copied().enumerate().map(Some).collect()
        };
        let mut out = Vec::new();
        for &p in &paths {
            for mask in 0u32..1 << d.switches.len() {
                if p.is_none() && d.switches.is_empty() {
                    continue;
                }
                let mut sc = base.clone();
                let mut on_off = Vec::new();
                for (k, s) in d.switches.iter().enumerate() {
                    let on = mask & (1 << k) != 0;
                    s.apply(&mut sc.raft, on);
                    on_off.push(format!("{}={}", s.name(), if on { "on" } else { "off" }));
                }
                let on_off = on_off.join(" ");
                let (field, with) = match p {
                    Some((i, path)) => {
                        path.apply(&mut sc.raft);
                        let with = if on_off.is_empty() {
                            format!(" (read_path={})", path.name())
                        } else {
                            format!(" (read_path={}) and switches {on_off}", path.name())
                        };
                        (format!("draw.read_path[{i}]"), with)
                    }
                    None => (
                        "draw.switches".to_string(),
                        format!(" of switches {on_off}"),
                    ),
                };
                out.push((field, with, sc));
            }
        }
        out
    }

    /// What the chosen node must support (its [`Capabilities`](crate::protocol::Capabilities)),
    /// its bugs by name, and settings that belong to another implementation.
    fn validate_node(&self) -> Checked {
        self.validate_bugs()?;
        self.validate_own_settings()?;
        self.validate_capabilities()?;
        self.validate_membership_support()?;
        if self.node == NodeKind::RaftRs {
            self.validate_raft_rs()?;
        }
        Ok(())
    }

    /// Each of `raft.bugs` is a bug of the chosen node (an application bug needs a workload).
    fn validate_bugs(&self) -> Checked {
        let kind = self.node;
        let names = kind.all_bug_names();
        for (i, b) in self.raft.bugs.iter().enumerate() {
            if crate::nodes::APPLICATION_BUGS.contains(&b.as_str()) && self.workload.is_none() {
                return Err((
                    format!("raft.bugs[{i}]"),
                    format!("{b:?} is a bug of the clients' state machine: the scenario needs a `workload`"),
                ));
            }
            if !names.contains(&b.as_str()) {
                let other = NodeKind::ALL
                    .into_iter()
                    .filter(|&k| k != kind && k.bug_names().contains(&b.as_str()))
                    .map(|k| format!(" (it is a bug of node {k})"))
                    .collect::<String>();
                return Err((
                    format!("raft.bugs[{i}]"),
                    format!(
                        "{b:?} is not a bug of node {kind}{other}; its bugs are: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// No settings of another implementation: `raft_rs` only for node raft-rs, the built-in
    /// node's switches only for it.
    fn validate_own_settings(&self) -> Checked {
        let kind = self.node;
        if self.raft_rs.is_some() && kind != NodeKind::RaftRs {
            return Err((
                "raft_rs".into(),
                format!("settings of the raft-rs adapter, but the node is {kind}: add \"node\": \"raft-rs\" or remove them"),
            ));
        }
        if kind != NodeKind::Raftsim {
            let own = [
                (
                    "raft.candidate_persist",
                    self.raft.candidate_persist != CandidatePersist::BeforeSend,
                ),
                ("raft.separate_term_write", self.raft.separate_term_write),
                ("raft.block_during_writes", self.raft.block_during_writes),
                ("raft.catch_up_rounds", self.raft.catch_up_rounds.is_some()),
            ];
            if let Some((field, _)) = own.iter().find(|(_, set)| *set) {
                return Err((
                    field.to_string(),
                    format!("a switch of the built-in node (node raftsim), not of node {kind}: remove it"),
                ));
            }
        }
        Ok(())
    }

    /// The error for a `feature` the chosen node lacks, asked for at `field`.
    fn lacks(&self, field: &str, feature: &str) -> Checked {
        Err((
            field.to_string(),
            format!(
                "node {} does not support {feature}; `node: raftsim` does",
                self.node
            ),
        ))
    }

    /// The chosen node supports what the scenario asks of it: a bootstrapped leader, initial
    /// logs, PreVote, CheckQuorum, stickiness as asked, and leadership transfer.
    fn validate_capabilities(&self) -> Checked {
        let kind = self.node;
        let caps = kind.capabilities();
        if self.cluster.initial_leader.is_some() && !caps.bootstrap_leader {
            return self.lacks(
                "cluster.initial_leader",
                "starting with an established leader (it cannot lead a term without an election); leave initial_leader out and the cluster elects one",
            );
        }
        if self.cluster.initial_logs.is_some() && !caps.initial_log {
            return self.lacks("cluster.initial_logs", "initial logs");
        }
        if self.raft.pre_vote && !caps.pre_vote {
            return self.lacks("raft.pre_vote", "PreVote");
        }
        if self.raft.check_quorum && !caps.check_quorum {
            return self.lacks("raft.check_quorum", "CheckQuorum");
        }
        if self.raft.read_index && !caps.read_index {
            return self.lacks("raft.read_index", "reads by ReadIndex");
        }
        if self.raft.lease_reads && !caps.lease_reads {
            return self.lacks("raft.lease_reads", "lease reads");
        }
        if self.raft.lease_reads && !self.raft.read_index {
            return Err((
                "raft.lease_reads".into(),
                "a lease read falls back to ReadIndex when the lease has lapsed: it needs raft.read_index true".into(),
            ));
        }
        if self.raft.lease_reads && !self.leader_stickiness() {
            return Err((
                "raft.lease_reads".into(),
                "a lease holds only if a follower that answered the leader votes for no one within the minimum election timeout: it needs raft.leader_stickiness true".into(),
            ));
        }
        match (self.raft.lease_reads, self.raft.clock_drift_bound_ppm) {
            (true, None) => {
                return Err((
                    "raft.clock_drift_bound_ppm".into(),
                    "lease reads need the bound on clock drift they assume, in ppm (0 to 100000)"
                        .into(),
                ))
            }
            (_, Some(b)) if b > 100_000 => {
                return Err((
                    "raft.clock_drift_bound_ppm".into(),
                    format!("{b} ppm is not allowed: 0 to 100000"),
                ))
            }
            _ => {}
        }
        if self.raft.follower_reads && !self.raft.read_index {
            return Err((
                "raft.follower_reads".into(),
                "follower reads are served at a read index: they need raft.read_index true".into(),
            ));
        }
        if self.raft.leader_stickiness == Some(true)
            && !self.raft.check_quorum
            && !caps.leader_stickiness
        {
            return self.lacks(
                "raft.leader_stickiness",
                "leader stickiness without CheckQuorum (its stickiness is part of check_quorum: set raft.check_quorum instead)",
            );
        }
        if self.raft.leader_stickiness == Some(false)
            && self.raft.check_quorum
            && !caps.leader_stickiness
        {
            return Err((
                "raft.leader_stickiness".into(),
                format!("node {kind} has stickiness as part of CheckQuorum: it cannot be off while raft.check_quorum is on; leave leader_stickiness unset (--set raft.leader_stickiness=null)"),
            ));
        }
        if let Some(i) = self
            .faults
            .iter()
            .position(|f| f.transfer_leadership.is_some())
        {
            if !caps.transfer {
                return self.lacks(
                    &format!("faults[{i}].transfer_leadership"),
                    "leadership transfer",
                );
            }
        }
        Ok(())
    }

    /// A scenario that changes membership asks for a kind of change (single-server or joint)
    /// the chosen node supports.
    fn validate_membership_support(&self) -> Checked {
        if !self.uses_membership_changes() {
            return Ok(());
        }
        let caps = self.node.capabilities();
        let single = self.raft.membership == MembershipMode::SingleServer;
        if single && !caps.membership_single_server {
            return self.lacks("raft.membership", "single-server membership changes");
        }
        if !single && !caps.membership_joint {
            let field = if self.cluster.voters.is_some() {
                "cluster.voters".to_string()
            } else {
                let i = self
                    .faults
                    .iter()
                    .position(|f| {
                        f.change_membership.is_some()
                            || f.add_server.is_some()
                            || f.remove_server.is_some()
                            || f.replace_server.is_some()
                            || f.generate.is_some()
                    })
                    .unwrap_or(0);
                format!("faults[{i}]")
            };
            return self.lacks(&field, "membership changes in this build of its adapter");
        }
        Ok(())
    }

    /// The raft-rs adapter's settings, and the ticks a run would cost it within their bound.
    fn validate_raft_rs(&self) -> Checked {
        let spec = self.raft_rs.clone().unwrap_or_default();
        crate::nodes::validate_raft_rs(
            spec.tick,
            self.raft.election_timeout,
            self.raft.heartbeat_interval,
            spec.max_inflight_msgs,
        )?;
        // Every tick is a call into raft-rs, idle or not (ticks are not events, but they
        // are work): bounded per node over the run.
        let ticks = self.stop.at.0 / spec.tick.0.max(1);
        if ticks > crate::nodes::RAFT_RS_MAX_RUN_TICKS {
            return Err((
                "raft_rs.tick".into(),
                format!(
                    "{} over stop.at {} is {} ticks per node: at most {}; use a longer tick or an earlier stop.at",
                    spec.tick,
                    self.stop.at,
                    crate::base::input::thousands(ticks),
                    crate::base::input::thousands(crate::nodes::RAFT_RS_MAX_RUN_TICKS)
                ),
            ));
        }
        Ok(())
    }
}

/// A fault gives exactly one kind.
fn fault_kind(path: &str, f: &FaultSpec) -> Checked {
    let kinds = [
        f.crash.is_some(),
        f.restart.is_some(),
        f.partition.is_some(),
        f.cut.is_some(),
        f.pause.is_some(),
        f.crash_at_write.is_some(),
        f.isolate.is_some(),
        f.loss_burst.is_some(),
        f.duplicate_burst.is_some(),
        f.delay_spike.is_some(),
        f.generate.is_some(),
        f.transfer_leadership.is_some(),
        f.clock_jump.is_some(),
        f.change_membership.is_some(),
        f.add_server.is_some(),
        f.remove_server.is_some(),
        f.replace_server.is_some(),
    ];
    let count = kinds.iter().filter(|&&k| k).count();
    if count != 1 {
        return err(
            path,
            format!(
                "give exactly one of crash, restart, partition, cut, pause, crash_at_write, isolate, loss_burst, duplicate_burst, delay_spike, generate, transfer_leadership, clock_jump, change_membership, add_server, remove_server, replace_server (found {count})"
            ),
        );
    }
    Ok(())
}

/// A fault's own settings: the node a crash, restart or pause names, a crash at a write's
/// count, an end for the kinds that need one, burst probabilities, a delay spike's
/// distribution, a clock jump's node and size.
fn fault_settings(path: &str, f: &FaultSpec, n: u32) -> Checked {
    for (kind, t) in [
        ("crash", f.crash),
        ("restart", f.restart),
        ("pause", f.pause),
    ] {
        if let Some(Target::Node(id)) = t {
            in_cluster(&format!("{path}.{kind}"), id, n)?;
        }
    }
    if let Some(w) = &f.crash_at_write {
        if w.k == 0 {
            return err(
                &format!("{path}.crash_at_write.k"),
                "writes are counted from 1".into(),
            );
        }
    }
    let needs_end = [
        (f.isolate.is_some(), "an isolation"),
        (f.loss_burst.is_some(), "a loss burst"),
        (f.duplicate_burst.is_some(), "a duplication burst"),
        (f.delay_spike.is_some(), "a delay spike"),
        (f.generate.is_some(), "a fault generator (its window)"),
    ];
    for (given, what) in needs_end {
        if given && f.until.is_none() {
            return err(path, format!("{what} needs `until`, when it ends"));
        }
    }
    for (field, p) in [
        ("loss_burst", f.loss_burst),
        ("duplicate_burst", f.duplicate_burst),
    ] {
        if let Some(p) = p {
            prob(&format!("{path}.{field}"), p)?;
        }
    }
    if let Some(d) = &f.delay_spike {
        d.validate()
            .map_err(|m| (format!("{path}.delay_spike"), m))?;
    }
    if let Some(j) = &f.clock_jump {
        if let Target::Node(id) = j.node {
            in_cluster(&format!("{path}.clock_jump.node"), id, n)?;
        }
        if j.by.0 == 0 || j.by.0 > 3_600_000_000_000 {
            return err(
                &format!("{path}.clock_jump.by"),
                format!("{} is not allowed: above zero and at most 1h", j.by),
            );
        }
    }
    Ok(())
}

/// The servers a fault names: a membership action's, a leadership transfer's target, the
/// node an isolation names.
fn fault_servers(path: &str, f: &FaultSpec, n: u32) -> Checked {
    if let Some(v) = &f.change_membership {
        voter_set(&format!("{path}.change_membership"), v, n)?;
    }
    membership_action(path, f, n)?;
    if let Some(id) = f.transfer_leadership {
        in_cluster(&format!("{path}.transfer_leadership"), id, n)?;
    }
    if let Some(Target::Node(id)) = f.isolate {
        in_cluster(&format!("{path}.isolate"), id, n)?;
    }
    Ok(())
}

/// A fault generator: how many faults, the mean gap between them, its kinds, and no jitter.
fn fault_generator(path: &str, f: &FaultSpec) -> Checked {
    let Some(g) = &f.generate else {
        return Ok(());
    };
    if !(1..=1000).contains(&g.max_faults) {
        return err(
            &format!("{path}.generate.max_faults"),
            format!("{} is not allowed: 1 to 1000", g.max_faults),
        );
    }
    if g.mean_gap.0 == 0 {
        return err(
            &format!("{path}.generate.mean_gap"),
            "must be above zero".into(),
        );
    }
    if g.kinds.as_ref().is_some_and(|k| k.is_empty()) {
        return err(
            &format!("{path}.generate.kinds"),
            "give at least one kind, or leave `kinds` out for all".into(),
        );
    }
    if f.jitter.is_some() {
        return err(
            &format!("{path}.jitter"),
            "a generator's window has no jitter: remove `jitter`".into(),
        );
    }
    Ok(())
}

/// A pause's end, a partition's groups (nodes of the cluster, each in one group at most) and a
/// cut's two ends.
fn fault_groups(path: &str, f: &FaultSpec, n: u32) -> Checked {
    if f.pause.is_some() && f.until.is_none() {
        return err(
            path,
            "a pause needs `until`, the time the node resumes".into(),
        );
    }
    if let Some(groups) = &f.partition {
        let field = format!("{path}.partition");
        let mut seen = vec![false; n as usize + 1];
        for &id in groups.iter().flatten() {
            in_cluster(&field, id, n)?;
            if seen[id as usize] {
                return err(
                    &field,
                    format!("node {id} is in two groups: each node may appear once"),
                );
            }
            seen[id as usize] = true;
        }
    }
    if let Some(c) = f.cut {
        for id in [c.from, c.to] {
            in_cluster(&format!("{path}.cut"), id, n)?;
        }
        if c.from == c.to {
            return err(&format!("{path}.cut"), "from and to must differ".into());
        }
    }
    Ok(())
}
