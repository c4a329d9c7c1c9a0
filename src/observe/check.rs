//! Raft's safety properties, checked after every event, named as in the paper (Figure 3):
//! Election Safety, Leader Append-Only, Log Matching, Leader Completeness, State Machine
//! Safety; and also Vote Uniqueness (one vote per voter per term), Term Monotonicity, Commit
//! Monotonicity, Commit Quorum (a leader commits only what a majority of each configuration
//! it uses holds, paper §5.3 and §6), Acknowledged Commit (a client told its request
//! committed finds it in the committed prefix, so every later leader holds it: §5.3, §8) and
//! Leader Outside Configuration (a leader that commits a C_new without itself steps down in
//! that step, paper §6; judged for nodes that use a configuration once appended).
//!
//! The checker sees only trace events, never node internals: it keeps its own copy of every
//! node's log from `append`, `truncate` and `restart` events. So the online check (fed by the
//! simulator as events happen) and `raftsim check TRACE` (fed from a file) are the same code,
//! and a buggy node cannot hide a violation by misreporting its state to the checker's eyes
//! only.
//!
//! Term and commit monotonicity hold per incarnation: a restart rebuilds from durable state, and
//! a term that was never durable (and so never answered on) may be forgotten.

use std::collections::BTreeMap;

use crate::observe::trace::{Event, Record, TEntry};
use crate::protocol::{voter_ids, voter_mask, NodeId, Role};

/// A broken property: the first event at which it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub property: &'static str,
    /// The event's line number in the trace (1-based), online and offline alike.
    pub event_index: u64,
    pub time: u64,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} violated at trace record {} (t={}): {}",
            self.property,
            self.event_index,
            crate::base::time::SimTime(self.time),
            self.detail
        )
    }
}

/// A property one record broke, before the checker dates it: the property's name and what
/// happened. Built only on failure, so a passing record allocates nothing.
type Broken = (&'static str, String);

#[derive(Clone, Default)]
struct NodeView {
    term: u64,
    leader: bool,
    log: Vec<TEntry>,
    /// The 1-based indexes of the configuration entries in `log`, in order (paper §6: a
    /// server uses the latest one).
    configs: Vec<u64>,
    commit: u64,
    applied: u64,
}

impl NodeView {
    /// The configuration this node uses, as (old, new) bit sets (`old` 0 unless joint): the
    /// latest configuration entry in its log (paper §6), or with `on_apply` the latest it has
    /// applied (tikv's and etcd's rule).
    fn configuration(&self, on_apply: bool) -> Option<[u64; 2]> {
        let latest = if on_apply {
            self.configs.iter().rev().find(|&&i| i <= self.applied)
        } else {
            self.configs.last()
        };
        latest.and_then(|&i| self.log[i as usize - 1].config)
    }

    /// Whether the node's log holds an entry of `term` at `index`.
    fn holds(&self, index: u64, term: u64) -> bool {
        index >= 1 && self.log.get(index as usize - 1).map(|e| e.term) == Some(term)
    }
}

#[derive(Default)]
pub struct Checker {
    /// By node id; grows as ids appear, so no cluster size is fixed in advance.
    nodes: Vec<NodeView>,
    /// From the trace's `start` event: how many votes a leader needs.
    cluster: Option<u32>,
    /// From the trace's `start` event: the initial voters, when not every node is one.
    initial_voters: Option<Vec<NodeId>>,
    /// From the trace's `start` event: the node uses a configuration once it has applied it
    /// (`config_effect: on_apply`), not once it is in its log.
    on_apply: bool,
    /// Once a property failed, the rest of the run is not checked (one violation per run).
    failed: bool,
    leaders: BTreeMap<u64, NodeId>,
    votes: BTreeMap<(u64, NodeId), NodeId>,
    /// Every entry ever appended anywhere, by (index, term): its content and the term before it.
    entries: EntryIndex,
    /// The committed prefix, as far as any node has committed.
    committed: Vec<TEntry>,
    /// The term of the node that first committed each entry: the term it was committed in.
    committed_in: Vec<u64>,
    applied: Vec<TEntry>,
    /// By request number: whether an entry of the request is in the committed prefix.
    committed_reqs: Vec<bool>,
    /// The time of the record being checked.
    now: u64,
    /// A leader (node, term) that committed, at this time, a C_new without itself: it must
    /// not still lead that term at any later time.
    removed_leader: Option<(NodeId, u64, u64)>,
}

/// Every entry ever appended anywhere, by (index, term), with the term before it (Log
/// Matching, §5.3: an index and term identify the entry and everything before it). Almost
/// every index only ever holds one term, so the first is kept in a table by index and the rest
/// in a map. Indexes come from logs the checker has seen grow one entry at a time, so the
/// table is no longer than the longest log.
#[derive(Default)]
struct EntryIndex {
    first: Vec<Option<(TEntry, u64)>>,
    more: BTreeMap<(u64, u64), (TEntry, u64)>,
}

impl EntryIndex {
    /// Records entry `e` at `idx` after an entry of term `prev`, if it is the first of its
    /// (index, term); false if one seen before differs from it.
    fn agrees(&mut self, idx: u64, e: &TEntry, prev: u64) -> bool {
        let i = idx as usize - 1;
        if i >= self.first.len() {
            self.first.resize(i + 1, None);
        }
        let have = match &self.first[i] {
            None => {
                self.first[i] = Some((*e, prev));
                return true;
            }
            Some((f, _)) if f.term == e.term => self.first[i].as_ref(),
            Some(_) => Some(&*self.more.entry((idx, e.term)).or_insert((*e, prev))),
        };
        have.is_some_and(|(have, have_prev)| (have, *have_prev) == (e, prev))
    }
}

impl Checker {
    /// A checker; `nodes` only sizes its tables up front (ids beyond it are still checked).
    pub fn new(nodes: u32) -> Checker {
        Checker {
            nodes: vec![NodeView::default(); nodes as usize + 1],
            ..Default::default()
        }
    }

    /// The checker as an observer: the first violation, then nothing more.
    #[inline]
    pub fn check(&mut self, rec: &Record, event_index: u64) -> Option<Violation> {
        if self.failed {
            return None;
        }
        let v = self.observe(rec, event_index).err();
        self.failed = v.is_some();
        v
    }

    /// Records `voter`'s vote for `candidate` in `term`; a second, different one is an error.
    fn record_vote(&mut self, voter: NodeId, candidate: NodeId, term: u64) -> Result<(), String> {
        match self.votes.insert((term, voter), candidate) {
            Some(c) if c != candidate => Err(format!(
                "n{voter} voted for n{c} and n{candidate} in term {term}"
            )),
            _ => Ok(()),
        }
    }

    /// Checks one record against every property it bears on, then takes it into the
    /// checker's view of the nodes.
    pub fn observe(&mut self, rec: &Record, event_index: u64) -> Result<(), Violation> {
        self.now = rec.t;
        let step = match self.removed_leader {
            Some(removed) if rec.t > removed.2 => self.still_leading(removed),
            _ => Ok(()),
        };
        step.and_then(|()| self.step(&rec.ev))
            .map_err(|(property, detail)| Violation {
                property,
                event_index,
                time: rec.t,
                detail,
            })
    }

    /// Hands one record to the step of its kind; records no property bears on pass.
    #[inline]
    fn step(&mut self, ev: &Event) -> Result<(), Broken> {
        match ev {
            Event::Role { node, role, term } => self.step_role(*node, *role, *term),
            Event::Start {
                nodes,
                voters,
                config_effect,
                ..
            } => {
                self.cluster = Some(*nodes);
                self.initial_voters = voters.clone();
                self.on_apply = config_effect.as_deref() == Some("on_apply");
                Ok(())
            }
            Event::Leader { node, term, votes } => self.step_leader(*node, *term, *votes),
            Event::Vote {
                node,
                candidate,
                term,
                granted: true,
                ..
            } => self.step_vote(*node, *candidate, *term),
            // A candidate votes for itself: that vote counts like any other.
            Event::Election { node, term } => self.step_vote(*node, *node, *term),
            Event::Append {
                node,
                index,
                entries,
            } => self.step_append(*node, *index, entries),
            Event::Truncate { node, from } => self.step_truncate(*node, *from),
            Event::Commit { node, commit_index } => self.step_commit(*node, *commit_index),
            Event::Apply {
                node, index, entry, ..
            } => self.step_apply(*node, *index, entry),
            Event::Restart {
                node,
                term,
                voted_for,
                log,
            }
            | Event::Boot {
                node,
                term,
                voted_for,
                log,
            } => self.step_restart(*node, *term, *voted_for, log),
            Event::Crash { node } => {
                view(&mut self.nodes, *node).leader = false;
                Ok(())
            }
            Event::ClientDone {
                req,
                ok: true,
                via: None,
                ..
            } => self.step_acknowledged(*req),
            _ => Ok(()),
        }
    }

    /// A `client_done` record of a request answered through the log: Acknowledged Commit (its
    /// client was told it committed, so an entry of it is in the committed prefix by now).
    fn step_acknowledged(&mut self, req: u64) -> Result<(), Broken> {
        if self.committed_reqs.get(req as usize) == Some(&true) {
            return Ok(());
        }
        Err((
            "Acknowledged Commit",
            format!(
                "request r{req}'s client was told it committed, but no entry of it is committed (the committed prefix ends at {})",
                self.committed.len()
            ),
        ))
    }

    /// A `role` record: Term Monotonicity, then the node's term and leadership.
    #[inline]
    fn step_role(&mut self, node: NodeId, role: Role, term: u64) -> Result<(), Broken> {
        let v = view(&mut self.nodes, node);
        if term < v.term {
            return Err((
                "Term Monotonicity",
                format!("n{node}'s term went from {} down to {term}", v.term),
            ));
        }
        v.term = term;
        v.leader = role == Role::Leader;
        Ok(())
    }

    /// A `leader` record: Election Safety, then Leader Completeness.
    #[inline]
    fn step_leader(&mut self, node: NodeId, term: u64, votes: u32) -> Result<(), Broken> {
        self.election_safety(node, term, votes)?;
        self.leaders.insert(term, node);
        self.leader_completeness(node, term)
    }

    /// Election Safety for `node` becoming leader of `term` with `votes` delivered: no other
    /// leader of the term, and a majority both delivered and recorded (§5.2).
    #[inline]
    fn election_safety(&self, node: NodeId, term: u64, votes: u32) -> Result<(), Broken> {
        if let Some(&other) = self.leaders.get(&term) {
            if other != node {
                return Err((
                    "Election Safety",
                    format!("two leaders in term {term}: n{other} and n{node}"),
                ));
            }
        }
        // §5.2: a majority elects. Twice over: the votes the world saw delivered to the
        // leader (`votes`), and the votes the trace records as sent for it in its term.
        //
        // With membership changes (paper §6) the majorities are those of the
        // configuration the leader believed in: the latest configuration entry in its
        // log as traced, or the initial voters; a joint one needs both majorities.
        let configuration = self.majorities_of(node);
        if let Some(majorities) = configuration {
            for voters in &majorities {
                let need = voters.len() / 2 + 1;
                let recorded = voters
                    .iter()
                    .filter(|&&v| self.votes.get(&(term, v)) == Some(&node))
                    .count();
                if (votes as usize) < need || recorded < need {
                    let ids: Vec<String> = voters.iter().map(|v| format!("n{v}")).collect();
                    return Err((
                        "Election Safety",
                        format!("n{node} became leader of term {term} with {votes} votes delivered and {recorded} recorded of the voters {{{}}} it believed in, not a majority", ids.join(",")),
                    ));
                }
            }
        } else if let Some(n) = self.cluster {
            let recorded = self
                .votes
                .range((term, 0)..=(term, NodeId::MAX))
                .filter(|(_, &c)| c == node)
                .count() as u32;
            if votes * 2 <= n || recorded * 2 <= n {
                return Err((
                    "Election Safety",
                    format!("n{node} became leader of term {term} with {votes} votes delivered and {recorded} recorded of {n}, not a majority"),
                ));
            }
        }
        Ok(())
    }

    /// Leader Completeness: the new leader `node` of `term` holds every entry committed in an
    /// earlier term. (A leader of a stale term, e.g. one paused while its votes arrived, need
    /// not hold what later terms committed.)
    #[inline]
    fn leader_completeness(&mut self, node: NodeId, term: u64) -> Result<(), Broken> {
        let v = &*view(&mut self.nodes, node);
        for (i, (c, &in_term)) in self.committed.iter().zip(&self.committed_in).enumerate() {
            if in_term < term && v.log.get(i).map(|e| e.term) != Some(c.term) {
                return Err((
                    "Leader Completeness",
                    format!(
                        "n{node}, leader of term {term}, lacks committed entry {} (term {})",
                        i + 1,
                        c.term
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A granted vote (or a candidate's vote for itself): Vote Uniqueness.
    #[inline]
    fn step_vote(&mut self, voter: NodeId, candidate: NodeId, term: u64) -> Result<(), Broken> {
        self.record_vote(voter, candidate, term)
            .map_err(|d| ("Vote Uniqueness", d))
    }

    /// An `append` record: the entries continue the node's log (Log Matching), a leader
    /// appends only entries of its term (Leader Append-Only), and each agrees with any entry
    /// of the same index and term seen anywhere (Log Matching, §5.3).
    #[inline]
    fn step_append(&mut self, node: NodeId, index: u64, entries: &[TEntry]) -> Result<(), Broken> {
        let v = view(&mut self.nodes, node);
        if index != v.log.len() as u64 + 1 {
            return Err((
                "Log Matching",
                format!(
                    "n{node} appended at {index} but its log ends at {}",
                    v.log.len()
                ),
            ));
        }
        if v.leader && entries.iter().any(|e| e.term != v.term) {
            return Err((
                "Leader Append-Only",
                format!(
                    "leader n{node} appended an entry not of its term {}",
                    v.term
                ),
            ));
        }
        for (k, e) in entries.iter().enumerate() {
            let idx = index + k as u64;
            let prev = if idx == 1 {
                0
            } else {
                v.log[idx as usize - 2].term
            };
            if !self.entries.agrees(idx, e, prev) {
                return Err((
                    "Log Matching",
                    format!("entry ({idx}, term {}) on n{node} differs from the same index and term elsewhere (content or preceding term)", e.term),
                ));
            }
            v.log.push(*e);
            if e.config.is_some() {
                v.configs.push(idx);
            }
        }
        Ok(())
    }

    /// A `truncate` record: a leader never deletes (Leader Append-Only), nor does anyone
    /// delete a committed entry (State Machine Safety).
    #[inline]
    fn step_truncate(&mut self, node: NodeId, from: u64) -> Result<(), Broken> {
        let v = view(&mut self.nodes, node);
        if v.leader {
            return Err((
                "Leader Append-Only",
                format!("leader n{node} deleted its entries from {from}"),
            ));
        }
        if from <= v.commit {
            return Err((
                "State Machine Safety",
                format!(
                    "n{node} deleted committed entry {from} (commit index {})",
                    v.commit
                ),
            ));
        }
        v.log.truncate(from as usize - 1);
        v.configs.retain(|&i| i < from);
        Ok(())
    }

    /// A `commit` record: Commit Quorum, Commit Monotonicity, a commit within the log (Log
    /// Matching), and newly committed entries that extend the one committed prefix without a
    /// gap (State Machine Safety).
    #[inline]
    fn step_commit(&mut self, node: NodeId, commit_index: u64) -> Result<(), Broken> {
        if let Err(d) = self.commit_quorum(node, commit_index) {
            return Err(("Commit Quorum", d));
        }
        let v = view(&mut self.nodes, node);
        let commit_term = v.term;
        if commit_index < v.commit {
            return Err((
                "Commit Monotonicity",
                format!(
                    "n{node}'s commit index went from {} down to {commit_index}",
                    v.commit
                ),
            ));
        }
        if commit_index > v.log.len() as u64 {
            return Err((
                "Log Matching",
                format!(
                    "n{node} committed {commit_index} beyond its log of {}",
                    v.log.len()
                ),
            ));
        }
        for i in v.commit as usize..commit_index as usize {
            let e = v.log[i];
            match self.committed.get(i) {
                Some(c) if *c != e => {
                    return Err((
                        "State Machine Safety",
                        format!("n{node} committed entry {} of term {} where term {} was committed before", i + 1, e.term, c.term),
                    ));
                }
                Some(_) => {}
                None => {
                    if i != self.committed.len() {
                        return Err((
                            "State Machine Safety",
                            format!("n{node} committed entry {} with a gap", i + 1),
                        ));
                    }
                    self.committed.push(e);
                    self.committed_in.push(commit_term);
                    if let Some((req, _)) = e.request() {
                        let r = req as usize;
                        if r >= self.committed_reqs.len() {
                            self.committed_reqs.resize(r + 1, false);
                        }
                        self.committed_reqs[r] = true;
                    }
                }
            }
        }
        v.commit = commit_index;
        if v.leader && !self.on_apply {
            let latest = v.configs.iter().rev().find(|&&i| i <= commit_index);
            if let Some(&[0, new]) = latest.and_then(|&i| v.log[i as usize - 1].config.as_ref()) {
                if new & crate::protocol::voter_mask(&[node]) == 0 {
                    self.removed_leader = Some((node, v.term, self.now));
                }
            }
        }
        Ok(())
    }

    /// Leader Outside Configuration (paper §6: a leader not in C_new steps down once C_new is
    /// committed): the leader that committed a C_new without itself no longer leads that term
    /// once time has moved on from the step that committed it.
    #[cold]
    fn still_leading(&mut self, (node, term, at): (NodeId, u64, u64)) -> Result<(), Broken> {
        self.removed_leader = None;
        let v = view(&mut self.nodes, node);
        if v.leader && v.term == term {
            return Err((
                "Leader Outside Configuration",
                format!(
                    "n{node} committed a configuration without itself at {} and still leads term {term}",
                    crate::base::time::SimTime(at)
                ),
            ));
        }
        Ok(())
    }

    /// An `apply` record: entries are applied in order, only once committed, each the
    /// committed entry of the node's log, and the same entry at an index on every node (State
    /// Machine Safety).
    #[inline]
    fn step_apply(&mut self, node: NodeId, index: u64, entry: &TEntry) -> Result<(), Broken> {
        let v = view(&mut self.nodes, node);
        if index != v.applied + 1 {
            return Err((
                "State Machine Safety",
                format!("n{node} applied {index} after {}", v.applied),
            ));
        }
        if index > v.commit {
            return Err((
                "State Machine Safety",
                format!(
                    "n{node} applied {index} beyond its commit index {}",
                    v.commit
                ),
            ));
        }
        let i = index as usize - 1;
        // What a node applies is the entry its own log holds there (and was committed).
        if v.log.get(i) != Some(entry) || self.committed.get(i) != Some(entry) {
            return Err((
                "State Machine Safety",
                format!("n{node} applied an entry at {index} that is not the committed entry of its log there"),
            ));
        }
        v.applied = index;
        match self.applied.get(i) {
            Some(a) if a != entry => Err((
                "State Machine Safety",
                format!("n{node} applied a different entry at {index} than another node (term {} vs {})", entry.term, a.term),
            )),
            Some(_) => Ok(()),
            None => {
                self.applied.push(*entry);
                Ok(())
            }
        }
    }

    /// A `restart` or `boot` record: the node's durable state replaces the checker's view of
    /// it, its votes are kept (Vote Uniqueness) and its durable log must agree with every
    /// entry seen (Log Matching).
    #[inline]
    fn step_restart(
        &mut self,
        node: NodeId,
        term: u64,
        voted_for: Option<NodeId>,
        log: &[TEntry],
    ) -> Result<(), Broken> {
        // A vote sent to another node is never forgotten: a restart that votes again in
        // that term breaks Vote Uniqueness, whatever the disk says (§5.2, Figure 2). A
        // candidate's vote for itself counts only once it is durable, so one that was
        // not on disk at the crash may be cast anew: forget those self-votes above the
        // durable (term, voted_for).
        self.votes.retain(|&(t, voter), c| {
            voter != node || *c != node || t < term || (t == term && voted_for == Some(*c))
        });
        // The durable state's own vote is a vote cast (at boot: the votes that elected
        // the scenario's initial leader).
        if let Some(c) = voted_for {
            self.step_vote(node, c, term)?;
        }
        // The durable log replaces the in-memory one; entries in it were appended before.
        let v = view(&mut self.nodes, node);
        *v = NodeView {
            term,
            log: Vec::new(),
            ..Default::default()
        };
        for (i, e) in log.iter().enumerate() {
            let idx = i as u64 + 1;
            let prev = if i == 0 { 0 } else { log[i - 1].term };
            if !self.entries.agrees(idx, e, prev) {
                return Err(("Log Matching", format!("n{node}'s durable entry ({idx}, term {}) differs from the same index and term elsewhere", e.term)));
            }
        }
        let v = view(&mut self.nodes, node);
        v.log = log.to_vec();
        v.configs = (1..=log.len() as u64)
            .filter(|&i| log[i as usize - 1].config.is_some())
            .collect();
        Ok(())
    }
}

impl Checker {
    /// The majorities node `id` decides by, as the checker sees its log: those of its latest
    /// configuration entry (both while joint), or the initial voters; `None` for every node of
    /// the cluster.
    fn majorities_of(&self, id: NodeId) -> Option<Vec<Vec<NodeId>>> {
        match self
            .nodes
            .get(id as usize)
            .and_then(|v| v.configuration(self.on_apply))
        {
            Some([0, new]) => Some(vec![voter_ids(new)]),
            Some([old, new]) => Some(vec![voter_ids(old), voter_ids(new)]),
            None => self.initial_voters.clone().map(|v| vec![v]),
        }
    }

    /// Commitment counted against the right majorities (§5.3, §6): when the leader of a term
    /// moves its commit index to `commit_index` (by counting replicas, the only way a leader
    /// commits), a majority of every configuration it uses (C_old and C_new while joint) holds
    /// its entry there, as the checker sees their logs. A server writes an entry before it
    /// acknowledges it and never loses a committed one, so a leader following the rules always
    /// passes; one that counts the wrong servers, or acknowledgements never made durable, may
    /// not. A node that committed only what a leader told it (a follower) is checked by State
    /// Machine Safety instead.
    fn commit_quorum(&self, node: NodeId, commit_index: u64) -> Result<(), String> {
        let Some(v) = self.nodes.get(node as usize) else {
            return Ok(());
        };
        // Only a node leading now commits by counting: a former leader of this term that
        // restarted as a follower learns commitment from others (from a heartbeat, or, in
        // tikv's raft, from the commit index that vote requests and replies carry).
        if commit_index <= v.commit || !v.leader || self.leaders.get(&v.term) != Some(&node) {
            return Ok(());
        }
        let Some(term) = v.log.get(commit_index as usize - 1).map(|e| e.term) else {
            return Ok(()); // beyond its log: Log Matching says so next
        };
        // The configuration the leader counted with. A node's records come log changes first,
        // then the commit, so a configuration entry appended in the step that committed is
        // already in the traced log, though the commit was counted without it. Configurations
        // change one at a time (the next is appended only once the last is committed), so:
        // the latest entry `k` at or below the commit was there before; beyond it, if this
        // commit is the one that covers the entry `j` before `k`, `k` came in this step and
        // `j` is what counted; otherwise either may have (the leader's own no-op committing,
        // then a change appended at once).
        let at = |i: u64| v.log[i as usize - 1].config;
        // (the configuration to check, another the leader may have counted with instead)
        //
        // A node that uses a configuration once applied counted with the one it had applied
        // before this commit (its applies come after the commit record).
        let (first, second): (Option<[u64; 2]>, Option<Option<[u64; 2]>>) = match v.configs[..] {
            _ if self.on_apply => (v.configuration(true), None),
            [] => (None, None),
            [.., k] if k <= commit_index => (at(k), None),
            [.., j, _] if j > v.commit && j <= commit_index => (at(j), None),
            [.., j, k] => (at(k), Some(at(j))),
            [k] => (at(k), Some(None)),
        };
        // Voter sets as bit sets (bit id − 1), so the check allocates nothing unless it fails.
        let everyone = match (&self.initial_voters, self.cluster) {
            (Some(v), _) => voter_mask(v),
            (None, Some(n)) if n >= 64 => u64::MAX,
            (None, Some(n)) => (1u64 << n) - 1,
            (None, None) => 0,
        };
        let majorities = |config: Option<[u64; 2]>| match config {
            Some([0, new]) => [new, 0],
            Some([old, new]) => [old, new],
            None => [everyone, 0],
        };
        let holding = |voters: u64| -> u64 {
            let mut held = 0;
            let mut rest = voters;
            while rest != 0 {
                let id = rest.trailing_zeros() + 1;
                rest &= rest - 1;
                if self
                    .nodes
                    .get(id as usize)
                    .is_some_and(|w| w.holds(commit_index, term))
                {
                    held |= 1 << (id - 1);
                }
            }
            held
        };
        let short = |voters: &u64| {
            *voters != 0 && holding(*voters).count_ones() < voters.count_ones() / 2 + 1
        };
        let falls_short = |c: Option<[u64; 2]>| majorities(c).iter().any(short);
        if falls_short(first) && second.is_none_or(falls_short) {
            let voters = majorities(first)
                .into_iter()
                .find(short)
                .expect("the latest configuration falls short");
            let ids = |m: u64| {
                voter_ids(m)
                    .iter()
                    .map(|v| format!("n{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(format!(
                "n{node}, leader of term {}, committed {commit_index} (term {term}) held by {{{}}} only, not a majority of the voters {{{}}} it uses",
                v.term,
                ids(holding(voters)),
                ids(voters)
            ));
        }
        Ok(())
    }
}

/// What the checker knows of node `id`; the table grows for ids beyond its first size.
#[inline]
fn view(nodes: &mut Vec<NodeView>, id: NodeId) -> &mut NodeView {
    let i = id as usize;
    if i >= nodes.len() {
        grow(nodes, i);
    }
    &mut nodes[i]
}

#[cold]
fn grow(nodes: &mut Vec<NodeView>, i: usize) {
    nodes.resize(i + 1, NodeView::default());
}

/// Checks a whole trace; returns the number of events and the first violation, if any.
pub fn check_records(nodes: u32, records: &[Record]) -> (u64, Option<Violation>) {
    let mut c = Checker::new(nodes);
    // The cluster size given (from the trace's `start`, or `--nodes`) decides the majority.
    c.cluster = Some(nodes);
    for (i, r) in records.iter().enumerate() {
        if let Event::Violation { .. } | Event::Panic { .. } = r.ev {
            continue;
        }
        if let Err(v) = c.observe(r, i as u64 + 1) {
            return (records.len() as u64, Some(v));
        }
    }
    (records.len() as u64, check_clients(records))
}

/// The linearizability check of the trace's client history (`observe::clients`), as the run
/// made it at its end: a violation is reported at the trace's `linearizability` record (or its
/// `end`, or its last record).
fn check_clients(records: &[Record]) -> Option<Violation> {
    use crate::observe::linear::Verdict;
    let (history, report) = crate::observe::clients::check_records(records)?;
    let Verdict::Violation {
        key,
        window,
        start,
        end,
        from,
    } = report.verdict
    else {
        return None;
    };
    let at = records
        .iter()
        .position(|r| matches!(r.ev, Event::Linearizability { .. }))
        .or_else(|| {
            records
                .iter()
                .position(|r| matches!(r.ev, Event::End { .. }))
        })
        .unwrap_or(records.len().saturating_sub(1));
    Some(Violation {
        property: "Linearizability",
        event_index: at as u64 + 1,
        time: records.get(at).map_or(0, |r| r.t),
        detail: crate::observe::linear::describe_violation(
            &history, key, &window, start, end, from,
        ),
    })
}

/// Finds the first record that names a node outside 1..=nodes (a checker indexes its views by
/// node id, so a file must pass this before [`check_records`]). Returns the record's 0-based
/// position and what is wrong.
pub fn validate_node_ids(nodes: u32, records: &[Record]) -> Result<(), (usize, String)> {
    for (i, r) in records.iter().enumerate() {
        let ids = r.ev.nodes();
        if let Some(&id) = ids.iter().find(|&&id| id == 0 || id > nodes) {
            return Err((i, format!("node {id} is outside the cluster of {nodes}")));
        }
        let bad_index = match &r.ev {
            Event::Truncate { from: 0, .. } => Some("truncate from 0"),
            Event::Append { index: 0, .. } => Some("append at index 0"),
            Event::Apply { index: 0, .. } => Some("apply of index 0"),
            _ => None,
        };
        if let Some(m) = bad_index {
            return Err((i, format!("{m}: log indexes start at 1")));
        }
    }
    Ok(())
}

/// Finds the first record out of order: one whose time is before the record's before it (a
/// trace's records follow one virtual clock, so times never go backwards), or one after the
/// `end` record (a run writes `end` last). Like [`validate_node_ids`], a file must pass this
/// before [`check_records`]; returns the record's 0-based position and what is wrong.
pub fn validate_order(records: &[Record]) -> Result<(), (usize, String)> {
    let mut prev: Option<u64> = None;
    for (i, r) in records.iter().enumerate() {
        if let Some(p) = prev {
            if r.t < p {
                return Err((
                    i,
                    format!(
                        "time goes backwards: t={} ns after t={p} ns on the record before",
                        r.t
                    ),
                ));
            }
        }
        if i > 0 && matches!(records[i - 1].ev, Event::End { .. }) {
            return Err((
                i,
                "a record after the `end` record, which ends a trace".to_string(),
            ));
        }
        prev = Some(r.t);
    }
    Ok(())
}

/// Whether the trace ends with an `end` record. Every run writes one last, whatever its outcome
/// (a violation and a panic included), so a trace without it was cut short or truncated, and
/// what is missing was never checked.
pub fn is_complete(records: &[Record]) -> bool {
    matches!(
        records.last(),
        Some(Record {
            ev: Event::End { .. },
            ..
        })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::trace::TVia;

    fn rec(ev: Event) -> Record {
        Record { t: 0, ev }
    }

    /// §5.3: a leader answers a client once the client's entry is committed. An answer
    /// through the log before any node committed an entry of the request breaks Acknowledged
    /// Commit; after the commit, or for a read served without the log, it does not.
    #[test]
    fn a_client_told_committed_finds_its_request_committed() {
        let put = |req| TEntry {
            term: 1,
            put: Some([req, 0, req]),
            ..Default::default()
        };
        let done = |req, via| {
            rec(Event::ClientDone {
                req,
                ok: true,
                latency: 1,
                ret: None,
                via,
                held_back: false,
                stale: false,
            })
        };
        let mut c = Checker::new(1);
        let append = rec(Event::Append {
            node: 1,
            index: 1,
            entries: vec![put(7)],
        });
        c.observe(&append, 1).unwrap();
        let early = c.observe(&done(7, None), 2).unwrap_err();
        assert_eq!(early.property, "Acknowledged Commit");
        assert!(early.detail.contains("r7"), "{}", early.detail);

        let mut c = Checker::new(1);
        c.observe(&append, 1).unwrap();
        c.observe(&done(7, Some(TVia::Leader)), 2).unwrap();
        let commit = rec(Event::Commit {
            node: 1,
            commit_index: 1,
        });
        c.observe(&commit, 3).unwrap();
        c.observe(&done(7, None), 4).unwrap();
        assert!(
            c.observe(&done(8, None), 5).is_err(),
            "r8 was never appended"
        );
    }

    /// Paper §6: a leader not in C_new steps down once C_new is committed. Still leading
    /// at a later time breaks Leader Outside Configuration; stepping down in the same step
    /// does not, and neither does a node that uses configurations once applied (tikv's and
    /// etcd's rule, under which a removed leader may lead on).
    #[test]
    fn a_leader_that_commits_its_own_removal_steps_down() {
        let at = |t, ev| Record { t, ev };
        let new_only = TEntry {
            term: 1,
            config: Some([0, voter_mask(&[2, 3])]),
            ..Default::default()
        };
        let run = |start: Event, steps_down: bool| {
            let mut c = Checker::new(3);
            let mut k = 0;
            let mut feed = |c: &mut Checker, t, ev| {
                k += 1;
                c.observe(&at(t, ev), k)
            };
            feed(&mut c, 0, start)?;
            feed(&mut c, 1, Event::role(1, Role::Leader, 1))?;
            for node in 1..=3 {
                let append = Event::Append {
                    node,
                    index: 1,
                    entries: vec![new_only],
                };
                feed(&mut c, 2, append)?;
            }
            // n1 led term 1 alone before C_new; counted by n2 and n3 it commits.
            let commit = Event::Commit {
                node: 1,
                commit_index: 1,
            };
            feed(&mut c, 3, commit)?;
            if steps_down {
                feed(&mut c, 3, Event::role(1, Role::Follower, 1))?;
            }
            feed(&mut c, 4, Event::role(2, Role::Follower, 1))
        };
        let paper = Event::start(3, None);
        let err = run(paper.clone(), false).unwrap_err();
        assert_eq!(
            err.property, "Leader Outside Configuration",
            "{}",
            err.detail
        );
        run(paper, true).unwrap();
        let mut on_apply = Event::start(3, None);
        if let Event::Start { config_effect, .. } = &mut on_apply {
            *config_effect = Some("on_apply".into());
        }
        run(on_apply, false).unwrap();
    }

    #[test]
    fn two_leaders_in_one_term_violate_election_safety() {
        let mut c = Checker::new(3);
        c.observe(
            &rec(Event::Leader {
                node: 1,
                term: 2,
                votes: 2,
            }),
            1,
        )
        .unwrap();
        let v = c
            .observe(
                &rec(Event::Leader {
                    node: 2,
                    term: 2,
                    votes: 2,
                }),
                2,
            )
            .unwrap_err();
        assert_eq!(v.property, "Election Safety");
        assert_eq!(v.event_index, 2);
    }

    #[test]
    fn double_vote_violates_vote_uniqueness() {
        let mut c = Checker::new(3);
        let vote = |candidate| {
            rec(Event::Vote {
                node: 3,
                candidate,
                term: 4,
                granted: true,
                reason: None,
            })
        };
        c.observe(&vote(1), 1).unwrap();
        c.observe(&vote(1), 2).unwrap();
        assert_eq!(
            c.observe(&vote(2), 3).unwrap_err().property,
            "Vote Uniqueness"
        );
    }

    #[test]
    fn conflicting_commits_violate_state_machine_safety() {
        let mut c = Checker::new(2);
        let e = |term| {
            vec![TEntry {
                term,
                put: None,
                config: None,
                ..Default::default()
            }]
        };
        c.observe(
            &rec(Event::Append {
                node: 1,
                index: 1,
                entries: e(1),
            }),
            1,
        )
        .unwrap();
        c.observe(
            &rec(Event::Append {
                node: 2,
                index: 1,
                entries: e(2),
            }),
            2,
        )
        .unwrap();
        c.observe(
            &rec(Event::Commit {
                node: 1,
                commit_index: 1,
            }),
            3,
        )
        .unwrap();
        assert_eq!(
            c.observe(
                &rec(Event::Commit {
                    node: 2,
                    commit_index: 1
                }),
                4
            )
            .unwrap_err()
            .property,
            "State Machine Safety"
        );
    }

    #[test]
    fn a_stale_leader_need_not_hold_entries_committed_in_later_terms() {
        // Found by randomized runs during review: a candidate paused while its votes arrived wins its old
        // term after a later term committed more. Leader Completeness (§5.4) covers only
        // entries committed in earlier terms.
        let mut c = Checker::new(3);
        c.observe(&rec(Event::role(1, crate::protocol::Role::Leader, 3)), 1)
            .unwrap();
        let e = vec![TEntry {
            term: 3,
            put: None,
            config: None,
            ..Default::default()
        }];
        c.observe(
            &rec(Event::Append {
                node: 1,
                index: 1,
                entries: e,
            }),
            2,
        )
        .unwrap();
        c.observe(
            &rec(Event::Commit {
                node: 1,
                commit_index: 1,
            }),
            3,
        )
        .unwrap();
        c.observe(
            &rec(Event::Leader {
                node: 2,
                term: 2,
                votes: 2,
            }),
            4,
        )
        .unwrap();
        let v = c
            .observe(
                &rec(Event::Leader {
                    node: 3,
                    term: 4,
                    votes: 2,
                }),
                5,
            )
            .unwrap_err();
        assert_eq!(v.property, "Leader Completeness");
    }

    #[test]
    fn a_leader_missing_a_committed_entry_violates_leader_completeness() {
        let mut c = Checker::new(3);
        let e = |term| {
            vec![TEntry {
                term,
                put: None,
                config: None,
                ..Default::default()
            }]
        };
        c.observe(
            &rec(Event::Append {
                node: 1,
                index: 1,
                entries: e(1),
            }),
            1,
        )
        .unwrap();
        c.observe(
            &rec(Event::Commit {
                node: 1,
                commit_index: 1,
            }),
            2,
        )
        .unwrap();
        let v = c
            .observe(
                &rec(Event::Leader {
                    node: 3,
                    term: 2,
                    votes: 2,
                }),
                3,
            )
            .unwrap_err();
        assert_eq!(v.property, "Leader Completeness");
    }

    #[test]
    fn a_leader_truncating_violates_leader_append_only() {
        let mut c = Checker::new(3);
        c.observe(
            &rec(Event::Append {
                node: 1,
                index: 1,
                entries: vec![TEntry {
                    term: 1,
                    put: None,
                    config: None,
                    ..Default::default()
                }],
            }),
            1,
        )
        .unwrap();
        c.observe(&rec(Event::role(1, crate::protocol::Role::Leader, 1)), 2)
            .unwrap();
        let v = c
            .observe(&rec(Event::Truncate { node: 1, from: 1 }), 3)
            .unwrap_err();
        assert_eq!(v.property, "Leader Append-Only");
    }

    /// An index may hold entries of several terms on different nodes (Figure 7); each (index,
    /// term) is still held to one content, the first term's and the later ones' alike.
    #[test]
    fn log_matching_holds_for_every_term_at_an_index() {
        let mut c = Checker::new(4);
        let put = |node, term, key| {
            rec(Event::Append {
                node,
                index: 1,
                entries: vec![TEntry {
                    term,
                    put: Some([key, 1, 1]),
                    config: None,
                    ..Default::default()
                }],
            })
        };
        c.observe(&put(1, 1, 7), 1).unwrap();
        c.observe(&put(2, 2, 8), 2).unwrap();
        c.observe(&put(3, 2, 8), 3).unwrap();
        let v = c.observe(&put(4, 2, 9), 4).unwrap_err();
        assert_eq!(v.property, "Log Matching");
        let mut c = Checker::new(2);
        c.observe(&put(1, 1, 7), 1).unwrap();
        let v = c.observe(&put(2, 1, 9), 2).unwrap_err();
        assert_eq!(v.property, "Log Matching");
    }

    #[test]
    fn same_index_and_term_with_different_content_violates_log_matching() {
        let mut c = Checker::new(2);
        c.observe(
            &rec(Event::Append {
                node: 1,
                index: 1,
                entries: vec![TEntry {
                    term: 1,
                    put: Some([1, 1, 1]),
                    config: None,
                    ..Default::default()
                }],
            }),
            1,
        )
        .unwrap();
        let v = c
            .observe(
                &rec(Event::Append {
                    node: 2,
                    index: 1,
                    entries: vec![TEntry {
                        term: 1,
                        put: Some([2, 1, 1]),
                        config: None,
                        ..Default::default()
                    }],
                }),
                2,
            )
            .unwrap_err();
        assert_eq!(v.property, "Log Matching");
    }

    #[test]
    fn falling_term_violates_term_monotonicity() {
        let mut c = Checker::new(2);
        c.observe(&rec(Event::role(1, crate::protocol::Role::Follower, 5)), 1)
            .unwrap();
        let v = c
            .observe(&rec(Event::role(1, crate::protocol::Role::Candidate, 4)), 2)
            .unwrap_err();
        assert_eq!(v.property, "Term Monotonicity");
    }

    fn vote(node: NodeId, candidate: NodeId, term: u64) -> Record {
        rec(Event::Vote {
            node,
            candidate,
            term,
            granted: true,
            reason: None,
        })
    }

    fn restart(node: NodeId, term: u64, voted_for: Option<NodeId>) -> Record {
        rec(Event::Restart {
            node,
            term,
            voted_for,
            log: vec![],
        })
    }

    /// Figure 2: votedFor is persistent. A vote a node sent is a vote cast, whatever its disk
    /// says after a restart: voting again in that term breaks Vote Uniqueness (the bug of a
    /// node that does not make its vote durable before answering).
    #[test]
    fn a_vote_sent_then_forgotten_by_a_restart_is_caught() {
        let mut c = Checker::new(3);
        c.observe(&vote(3, 1, 4), 1).unwrap();
        c.observe(&rec(Event::Crash { node: 3 }), 2).unwrap();
        c.observe(&restart(3, 3, None), 3).unwrap();
        let v = c.observe(&vote(3, 2, 4), 4).unwrap_err();
        assert_eq!(v.property, "Vote Uniqueness");
    }

    /// §5.2 with Figure 2: a candidate's own vote counts once durable. One that was not on disk
    /// at a crash never counted, so after the restart the node may vote for another candidate.
    #[test]
    fn a_self_vote_lost_in_a_crash_may_be_cast_anew() {
        let mut c = Checker::new(3);
        c.observe(&rec(Event::Election { node: 3, term: 4 }), 1)
            .unwrap();
        c.observe(&rec(Event::Crash { node: 3 }), 2).unwrap();
        c.observe(&restart(3, 3, None), 3).unwrap();
        c.observe(&vote(3, 2, 4), 4).unwrap();
    }

    /// §5.2: a candidate wins with votes from a majority. A `leader` record whose term has too
    /// few votes recorded for it fails Election Safety, even when its own count says enough.
    #[test]
    fn a_leader_without_a_recorded_majority_violates_election_safety() {
        let mut c = Checker::new(5);
        let start = rec(Event::start(5, None));
        c.observe(&start, 1).unwrap();
        c.observe(&rec(Event::Election { node: 1, term: 2 }), 2)
            .unwrap();
        c.observe(&vote(2, 1, 2), 3).unwrap();
        let claims_three = rec(Event::Leader {
            node: 1,
            term: 2,
            votes: 3,
        });
        let v = c.observe(&claims_three, 4).unwrap_err();
        assert_eq!(v.property, "Election Safety");
        assert!(v.detail.contains("2 recorded of 5"), "{}", v.detail);
        // With a third recorded vote the same record passes.
        let mut c = Checker::new(5);
        c.observe(&start, 1).unwrap();
        c.observe(&rec(Event::Election { node: 1, term: 2 }), 2)
            .unwrap();
        c.observe(&vote(2, 1, 2), 3).unwrap();
        c.observe(&vote(4, 1, 2), 4).unwrap();
        c.observe(&claims_three, 5).unwrap();
    }

    /// Paper §6: a leader needs a majority of the configuration it believed in (the latest in
    /// its log, or the initial voters), and while joint a majority of each of C_old and C_new.
    #[test]
    fn election_safety_counts_votes_in_the_leaders_configuration() {
        let start = rec(Event::start(5, Some(vec![1, 2, 3])));
        let leader = |votes| {
            rec(Event::Leader {
                node: 1,
                term: 2,
                votes,
            })
        };
        // Two votes of the initial voters {n1, n2, n3} elect, though the cluster has five.
        let mut c = Checker::new(5);
        c.observe(&start, 1).unwrap();
        c.observe(&rec(Event::Election { node: 1, term: 2 }), 2)
            .unwrap();
        c.observe(&vote(2, 1, 2), 3).unwrap();
        c.observe(&leader(2), 4).unwrap();
        // Joint {n1, n2, n3} and {n3, n4, n5}: a majority of C_old alone does not elect.
        let joint = rec(Event::Append {
            node: 1,
            index: 1,
            entries: vec![TEntry {
                term: 1,
                put: None,
                config: Some([0b00111, 0b11100]),
                ..Default::default()
            }],
        });
        let mut c = Checker::new(5);
        c.observe(&start, 1).unwrap();
        c.observe(&joint, 2).unwrap();
        c.observe(&rec(Event::Election { node: 1, term: 2 }), 3)
            .unwrap();
        c.observe(&vote(2, 1, 2), 4).unwrap();
        c.observe(&vote(4, 1, 2), 5).unwrap();
        let v = c.observe(&leader(3), 6).unwrap_err();
        assert_eq!(v.property, "Election Safety");
        assert!(v.detail.contains("{n3,n4,n5}"), "{}", v.detail);
        // With n5's vote too, both majorities hold.
        let mut c = Checker::new(5);
        for (i, r) in [
            start,
            joint,
            rec(Event::Election { node: 1, term: 2 }),
            vote(2, 1, 2),
            vote(4, 1, 2),
            vote(5, 1, 2),
        ]
        .iter()
        .enumerate()
        {
            c.observe(r, i as u64 + 1).unwrap();
        }
        c.observe(&leader(4), 7).unwrap();
    }

    /// §5.3 and paper §6, Commit Quorum: the leader's commit must be held by a majority of
    /// each configuration it uses. {n1, n2, n3} joint with {n1, n4, n5}: n1, n4 and n5
    /// holding the joint entry are a majority of C_new only. A C_new appended in the step that
    /// committed C_old,new (traced before the commit) does not excuse it; once n2 holds the
    /// entry too, the same commit passes.
    #[test]
    fn commit_quorum_counts_both_majorities_while_joint() {
        let start = rec(Event::start(5, Some(vec![1, 2, 3])));
        let entry = |config| TEntry {
            term: 1,
            put: None,
            config,
            ..Default::default()
        };
        let append = |node, index, entries| {
            rec(Event::Append {
                node,
                index,
                entries,
            })
        };
        let prefix = |n2_holds: bool| {
            let mut r = vec![
                start.clone(),
                rec(Event::Election { node: 1, term: 1 }),
                vote(2, 1, 1),
                rec(Event::role(1, crate::protocol::Role::Leader, 1)),
                rec(Event::Leader {
                    node: 1,
                    term: 1,
                    votes: 2,
                }),
                append(1, 1, vec![entry(None), entry(Some([0b00111, 0b11001]))]),
                append(4, 1, vec![entry(None), entry(Some([0b00111, 0b11001]))]),
                append(5, 1, vec![entry(None), entry(Some([0b00111, 0b11001]))]),
                append(2, 1, vec![entry(None)]),
            ];
            if n2_holds {
                r.push(append(2, 2, vec![entry(Some([0b00111, 0b11001]))]));
            }
            // C_new, appended in the step that commits C_old,new.
            r.push(append(1, 3, vec![entry(Some([0, 0b11001]))]));
            r
        };
        let commit = rec(Event::Commit {
            node: 1,
            commit_index: 2,
        });
        let mut c = Checker::new(5);
        for (i, r) in prefix(false).iter().enumerate() {
            c.observe(r, i as u64 + 1).unwrap();
        }
        let v = c.observe(&commit, 99).unwrap_err();
        assert_eq!(v.property, "Commit Quorum");
        assert!(
            v.detail.contains("held by {n1} only") && v.detail.contains("{n1,n2,n3}"),
            "{}",
            v.detail
        );
        let mut c = Checker::new(5);
        for (i, r) in prefix(true).iter().enumerate() {
            c.observe(r, i as u64 + 1).unwrap();
        }
        c.observe(&commit, 99).unwrap();
        // Now in C_new alone: entry 3 on {n1, n4} is a majority of {n1, n4, n5}.
        c.observe(&append(4, 3, vec![entry(Some([0, 0b11001]))]), 100)
            .unwrap();
        c.observe(
            &rec(Event::Commit {
                node: 1,
                commit_index: 3,
            }),
            101,
        )
        .unwrap();
    }

    /// No cluster size is fixed in advance: records about a node beyond the first size are
    /// checked like any other.
    #[test]
    fn nodes_beyond_the_first_size_are_checked() {
        let mut c = Checker::new(3);
        c.observe(&vote(9, 7, 5), 1).unwrap();
        let v = c.observe(&vote(9, 8, 5), 2).unwrap_err();
        assert_eq!(v.property, "Vote Uniqueness");
    }

    /// A trace follows one virtual clock: a record earlier than the one before it is refused,
    /// equal times are fine.
    #[test]
    fn times_going_backwards_are_refused() {
        let at = |t| Record {
            t,
            ev: Event::Crash { node: 1 },
        };
        assert_eq!(validate_order(&[at(1), at(1), at(2)]), Ok(()));
        let (i, msg) = validate_order(&[at(1), at(5), at(3)]).unwrap_err();
        assert_eq!(i, 2);
        assert!(msg.contains("backwards"), "{msg}");
    }

    /// A run writes `end` last: a trace without it is incomplete, and one with records after
    /// it is malformed.
    #[test]
    fn the_end_record_comes_last() {
        let end = rec(Event::End {
            outcome: "completed".into(),
            events: 1,
        });
        let crash = rec(Event::Crash { node: 1 });
        assert!(is_complete(&[crash.clone(), end.clone()]));
        assert!(!is_complete(std::slice::from_ref(&crash)));
        assert!(!is_complete(&[]));
        assert_eq!(validate_order(&[end, crash]).unwrap_err().0, 1);
    }

    /// What a node applies must be the committed entry of its own log: a node that applies
    /// something else fails State Machine Safety even if it is the first (or only) to apply.
    #[test]
    fn applying_an_entry_not_in_the_log_violates_state_machine_safety() {
        let mut c = Checker::new(1);
        let put = |v| TEntry {
            term: 1,
            put: Some([1, 1, v]),
            config: None,
            ..Default::default()
        };
        c.observe(
            &rec(Event::Append {
                node: 1,
                index: 1,
                entries: vec![put(7)],
            }),
            1,
        )
        .unwrap();
        c.observe(
            &rec(Event::Commit {
                node: 1,
                commit_index: 1,
            }),
            2,
        )
        .unwrap();
        let v = c
            .observe(
                &rec(Event::Apply {
                    node: 1,
                    index: 1,
                    entry: put(8),
                    ret: None,
                }),
                3,
            )
            .unwrap_err();
        assert_eq!(v.property, "State Machine Safety");
    }
}
