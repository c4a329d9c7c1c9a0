//! The story of a run, for the summary (`observe::summary`): what its counts do not say. An
//! election table by term (who stood, the votes granted to each, counting its own; who won, or
//! why nobody did), when and how each leadership ended (a crash, or stepping down on seeing a
//! higher term: a stale leader, §5.1), entries each node truncated (§5.3: a follower's
//! conflicting entries are replaced by the leader's), faults that found nothing to act on,
//! nodes still down at the end, and, for state machines that differ at the end, whether one
//! only lags (its applied entries are the first ones of the node that applied most) or
//! diverged (an entry it applied differs from the one first applied at that index); and the
//! configuration history (paper §6): each membership change, when it was proposed, went joint
//! (C_old,new committed) and completed (C_new committed), from which voters to which, and how
//! long each step took. Like every observer it sees records only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::observe::summary::{LeaderRecord, StateMachineSummary, Summary};
use crate::observe::trace::{Event, Record, TEntry};
use crate::protocol::{NodeId, Role};

/// One candidate of a term and the votes granted to it (its own included).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Candidacy {
    pub node: NodeId,
    /// Granted votes sent to it by the others (whether or not they arrived), plus its own.
    pub votes: u32,
}

/// A term in which someone stood or led.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TermRecord {
    pub term: u64,
    /// In the order they stood.
    pub candidates: Vec<Candidacy>,
    pub winner: Option<NodeId>,
    /// `elected`, `bootstrapped` (a leader from the scenario's `initial_leader`), `split vote`
    /// (the split-vote detector judged it over with nobody elected), `the only candidate
    /// lost` or `nobody won` (a higher term came without a winner and without that judgement),
    /// or `open at the end` (the run's highest term, still undecided).
    pub result: String,
}

/// A fault that found nothing to act on.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SkippedFault {
    pub at_ns: u64,
    pub reason: String,
}

/// A leader that stepped down on seeing a higher term (a stale leader), or because a
/// configuration without it was committed (paper §6), not by crashing.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StepDown {
    pub node: NodeId,
    /// The term it led.
    pub term: u64,
    pub at_ns: u64,
    /// The term it moved to.
    pub to_term: u64,
    /// It stepped down as C_new, which does not include it, was committed (the voters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<Vec<NodeId>>,
}

/// Entries a node removed from its log (they conflicted with a leader's).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Truncation {
    pub node: NodeId,
    pub at_ns: u64,
    /// The first index removed.
    pub from: u64,
    pub entries: u64,
}

/// How a node's state machine at the end compares with the one that applied the most.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DigestRelation {
    pub node: NodeId,
    /// `same` (as far, same digest), `lag` (applied fewer entries, and those it applied are
    /// the others' first ones: it is behind, not different) or `diverged` (an entry it
    /// applied differs from the one another node applied at that index).
    pub relation: String,
    /// Entries behind the node that applied the most.
    pub behind: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged_at: Option<u64>,
}

/// One membership change (paper §6), from its `membership` records: proposed (the world
/// asked a leader), joint (C_old,new first committed), final (C_new first committed).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ConfigChange {
    /// When the world asked a leader for it (`None`: the change was seen only from its joint
    /// record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_at_ns: Option<u64>,
    /// The leader that was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_to: Option<NodeId>,
    /// The action that asked, when more than a plain `change_membership`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// C_old, from the joint record (empty if it never went joint).
    pub from: Vec<NodeId>,
    /// C_new.
    pub to: Vec<NodeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joint_at_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_at_ns: Option<u64>,
    /// Proposed to joint, joint to final, proposed to final.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_joint_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_final_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_ns: Option<u64>,
    /// `completed`, `joint at the end` (C_old,new committed, C_new not), or `not started`
    /// (no C_old,new committed for it: the leader ignored the request, having a change under
    /// way, or lost the entry).
    pub outcome: String,
}

/// Follows the records of a run; [`StoryBuilder::finish`] writes what it saw into a summary.
#[derive(Default)]
pub struct StoryBuilder {
    /// By term.
    terms: BTreeMap<u64, TermRecord>,
    /// Per node (index = id - 1), grown as ids appear.
    nodes: Vec<NodeTrack>,
    /// The entry first applied at each index (index 1 at 0), by any node.
    applied: Vec<TEntry>,
    /// Open leaderships: the term each leader leads.
    leading: BTreeMap<NodeId, u64>,
    /// Leaderships that ended: (term, node, at, how).
    ends: Vec<(u64, NodeId, u64, String)>,
    step_downs: Vec<StepDown>,
    truncations: Vec<Truncation>,
    faults_skipped: Vec<SkippedFault>,
    changes: Vec<ConfigChange>,
    /// The highest term any record carried.
    max_term: u64,
}

#[derive(Clone, Copy, Default)]
struct NodeTrack {
    down: bool,
    log_len: u64,
    applied: u64,
    diverged_at: Option<u64>,
}

impl StoryBuilder {
    fn node(&mut self, id: NodeId) -> &mut NodeTrack {
        let i = id as usize - 1;
        if self.nodes.len() <= i {
            self.nodes.resize(i + 1, NodeTrack::default());
        }
        &mut self.nodes[i]
    }

    /// Ends node `id`'s open leadership, if it has one.
    fn end_leadership(&mut self, id: NodeId, t: u64, how: String) {
        if let Some(term) = self.leading.remove(&id) {
            self.ends.push((term, id, t, how));
        }
    }

    /// Sees one record.
    pub fn on(&mut self, rec: &Record) {
        let t = rec.t;
        if let Event::Role { term, .. }
        | Event::Election { term, .. }
        | Event::Leader { term, .. }
        | Event::Restart { term, .. }
        | Event::Boot { term, .. } = &rec.ev
        {
            self.max_term = self.max_term.max(*term);
        }
        match &rec.ev {
            Event::Election { .. }
            | Event::Vote { granted: true, .. }
            | Event::Leader { .. }
            | Event::FailedElection { .. }
            | Event::SplitVote { .. } => self.election_record(t, &rec.ev),
            Event::Role { node, role, term } if *role != Role::Leader => {
                self.left_leadership(t, *node, *term)
            }
            Event::Crash { .. }
            | Event::Restart { .. }
            | Event::Boot { .. }
            | Event::Append { .. }
            | Event::Truncate { .. }
            | Event::Apply { .. } => self.node_record(t, &rec.ev),
            Event::FaultSkipped { reason } => self.faults_skipped.push(SkippedFault {
                at_ns: t,
                reason: reason.clone(),
            }),
            Event::Membership {
                phase,
                node,
                voters,
                old,
                action,
                ..
            } => self.membership(t, phase, *node, voters, old, action),
            _ => {}
        }
    }

    /// A record of the election table: a candidate standing, a vote granted, a leader
    /// elected, a failed election or a split vote.
    fn election_record(&mut self, t: u64, ev: &Event) {
        match ev {
            Event::Election { node, term } => {
                let tr = self.terms.entry(*term).or_insert_with(|| TermRecord {
                    term: *term,
                    ..TermRecord::default()
                });
                if !tr.candidates.iter().any(|c| c.node == *node) {
                    tr.candidates.push(Candidacy {
                        node: *node,
                        votes: 1,
                    });
                }
            }
            Event::Vote {
                candidate, term, ..
            } => {
                if let Some(c) = self
                    .terms
                    .get_mut(term)
                    .and_then(|tr| tr.candidates.iter_mut().find(|c| c.node == *candidate))
                {
                    c.votes += 1;
                }
            }
            Event::Leader { node, term, .. } => {
                let tr = self.terms.entry(*term).or_insert_with(|| TermRecord {
                    term: *term,
                    ..TermRecord::default()
                });
                tr.winner = Some(*node);
                tr.result = if tr.candidates.is_empty() {
                    "bootstrapped".into()
                } else {
                    "elected".into()
                };
                self.end_leadership(*node, t, format!("stepped down in term {term}"));
                self.leading.insert(*node, *term);
            }
            Event::FailedElection { term, .. } => {
                if let Some(tr) = self.terms.get_mut(term) {
                    tr.result = "the only candidate lost".into();
                }
            }
            Event::SplitVote { term, .. } => {
                if let Some(tr) = self.terms.get_mut(term) {
                    tr.result = "split vote".into();
                }
            }
            _ => {}
        }
    }

    /// Node `node` took a role other than leader, in `term`: if it was leading, a step-down.
    fn left_leadership(&mut self, t: u64, node: NodeId, term: u64) {
        if let Some(&led) = self.leading.get(&node) {
            self.step_downs.push(StepDown {
                node,
                term: led,
                at_ns: t,
                to_term: term,
                removed_by: None,
            });
            self.end_leadership(node, t, format!("stepped down in term {term}"));
        }
    }

    /// A record of one node's life and log: a crash, a restart or boot, an append, a
    /// truncation, an apply.
    fn node_record(&mut self, t: u64, ev: &Event) {
        match ev {
            Event::Crash { node } => {
                self.end_leadership(*node, t, "crashed".into());
                let n = self.node(*node);
                n.down = true;
            }
            Event::Restart { node, log, .. } | Event::Boot { node, log, .. } => {
                let n = self.node(*node);
                n.down = false;
                n.log_len = log.len() as u64;
                n.applied = 0;
            }
            Event::Append {
                node,
                index,
                entries,
            } => {
                let n = self.node(*node);
                n.log_len = index + entries.len() as u64 - 1;
            }
            Event::Truncate { node, from } => {
                let n = self.node(*node);
                let entries = (n.log_len + 1).saturating_sub(*from);
                n.log_len = from.saturating_sub(1);
                self.truncations.push(Truncation {
                    node: *node,
                    at_ns: t,
                    from: *from,
                    entries,
                });
            }
            Event::Apply {
                node, index, entry, ..
            } => {
                let i = *index as usize;
                if i == self.applied.len() + 1 {
                    self.applied.push(*entry);
                }
                let first = self.applied.get(i - 1).copied();
                let n = self.node(*node);
                n.applied = *index;
                if first.is_some_and(|f| f != *entry) && n.diverged_at.is_none() {
                    n.diverged_at = Some(*index);
                }
            }
            _ => {}
        }
    }

    /// A `membership` record: a proposal opens a change; a joint record completes the latest
    /// open proposal for the same voters (or opens a change of its own); a final record
    /// completes the joint change for the same voters.
    fn membership(
        &mut self,
        t: u64,
        phase: &str,
        node: NodeId,
        voters: &[NodeId],
        old: &[NodeId],
        action: &Option<String>,
    ) {
        match phase {
            "proposed" => self.changes.push(ConfigChange {
                proposed_at_ns: Some(t),
                proposed_to: Some(node),
                action: action.clone(),
                to: voters.to_vec(),
                ..Default::default()
            }),
            "joint" => {
                let open = self
                    .changes
                    .iter()
                    .rposition(|c| c.joint_at_ns.is_none() && c.to == voters);
                let c = match open {
                    Some(i) => &mut self.changes[i],
                    None => {
                        self.changes.push(ConfigChange {
                            to: voters.to_vec(),
                            ..Default::default()
                        });
                        self.changes.last_mut().expect("just pushed")
                    }
                };
                c.from = old.to_vec();
                c.joint_at_ns = Some(t);
                c.to_joint_ns = c.proposed_at_ns.map(|p| t - p);
            }
            // A single-server change (dissertation §4.1) has no joint phase: its steps are each
            // a "final", and the request is done when the last one reaches its voters.
            "final" => {
                let open = self.changes.iter_mut().rev().find(|c| {
                    c.final_at_ns.is_none()
                        && c.to == voters
                        && (c.joint_at_ns.is_some() || c.proposed_at_ns.is_some())
                });
                if let Some(c) = open {
                    c.final_at_ns = Some(t);
                    c.to_final_ns = c.joint_at_ns.map(|j| t - j);
                    c.took_ns = c.proposed_at_ns.map(|p| t - p);
                }
            }
            // Catching new servers up (dissertation §4.2.1) happens between "proposed" and
            // "joint"; its time is in `to_joint_ns`.
            _ => {}
        }
    }

    /// Writes the story into `s`, whose `leaders` were gathered from the same records;
    /// `state_machines` are the live nodes' at the end.
    pub fn finish(self, s: &mut Summary, state_machines: &[StateMachineSummary]) {
        let StoryBuilder {
            terms,
            nodes,
            ends,
            step_downs,
            truncations,
            faults_skipped,
            mut changes,
            max_term,
            ..
        } = self;
        end_leaderships(&ends, &mut s.leaders);
        s.terms = judge_terms(terms, max_term);
        s.leader_step_downs = removals(step_downs, &changes, &mut s.leaders);
        s.truncations = truncations;
        s.faults_skipped = faults_skipped;
        for c in &mut changes {
            c.outcome = match (c.joint_at_ns, c.final_at_ns) {
                (_, Some(_)) => "completed",
                (Some(_), None) => "joint at the end",
                (None, _) => "not started",
            }
            .into();
        }
        s.configuration_changes = changes;
        s.down_at_end = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.down)
            .map(|(i, _)| i as NodeId + 1)
            .collect();
        s.state_machine_agreement = agreement(&nodes, state_machines);
    }
}

/// Says how each leadership ended, from the `ends` seen: a crash or a step-down, or still
/// leading.
fn end_leaderships(ends: &[(u64, NodeId, u64, String)], leaders: &mut [LeaderRecord]) {
    for l in leaders.iter_mut() {
        match ends.iter().find(|e| (e.0, e.1) == (l.term, l.node)) {
            Some((_, _, at, how)) => {
                l.ended_at_ns = Some(*at);
                l.end = how.clone();
            }
            None => l.end = "still leading at the end".into(),
        }
    }
}

/// The election table in term order, each term's result judged: won, failed, split, nobody
/// won, or open when the run ended (no term above `max_term` was seen).
fn judge_terms(terms: BTreeMap<u64, TermRecord>, max_term: u64) -> Vec<TermRecord> {
    let mut terms: Vec<TermRecord> = terms.into_values().collect();
    // A term judged a failed election while one candidate had stood (the cluster had moved
    // past it) in which others stood later (restarted, or cut off, from an older term).
    for t in terms.iter_mut() {
        if t.result == "the only candidate lost" && t.candidates.len() > 1 {
            let later: Vec<String> = t.candidates[1..]
                .iter()
                .map(|c| format!("n{}", c.node))
                .collect();
            t.result = format!(
                "n{} stood alone and lost before the cluster moved past the term; {} stood in it later, from behind",
                t.candidates[0].node,
                later.join(", ")
            );
        }
    }
    for t in terms.iter_mut().filter(|t| t.result.is_empty()) {
        t.result = if t.term >= max_term {
            "open at the end"
        } else if t.candidates.len() == 1 {
            "the only candidate lost"
        } else {
            "nobody won"
        }
        .into();
    }
    terms
}

/// The step-downs, each of a leader removed by a configuration change marked so (in it and in
/// `leaders`): a leader that left its term as a C_new without it was first committed (the
/// same moment: it commits C_new and steps down in one step) was removed, not stale.
fn removals(
    mut step_downs: Vec<StepDown>,
    changes: &[ConfigChange],
    leaders: &mut [LeaderRecord],
) -> Vec<StepDown> {
    for d in step_downs.iter_mut().filter(|d| d.to_term == d.term) {
        let removal = changes
            .iter()
            .find(|c| c.final_at_ns == Some(d.at_ns) && !c.to.contains(&d.node));
        if let Some(c) = removal {
            d.removed_by = Some(c.to.clone());
            if let Some(l) = leaders
                .iter_mut()
                .find(|l| (l.term, l.node, l.ended_at_ns) == (d.term, d.node, Some(d.at_ns)))
            {
                l.end = "stepped down: not in the new configuration".into();
            }
        }
    }
    step_downs
}

/// For each state machine at the end: the same as the furthest one, behind it (lag), or
/// diverged (an applied entry differed, or as far with another digest).
fn agreement(nodes: &[NodeTrack], state_machines: &[StateMachineSummary]) -> Vec<DigestRelation> {
    let furthest = state_machines.iter().max_by_key(|m| m.applied);
    state_machines
        .iter()
        .map(|m| {
            let track = nodes.get(m.node as usize - 1).copied().unwrap_or_default();
            let top = furthest.expect("one exists");
            let relation = if track.diverged_at.is_some() {
                "diverged"
            } else if m.applied < top.applied {
                "lag"
            } else if m.digest == top.digest {
                "same"
            } else {
                // As far, no entry differed, yet another digest: say so rather than hide it.
                "diverged"
            };
            DigestRelation {
                node: m.node,
                relation: relation.into(),
                behind: top.applied - m.applied,
                diverged_at: track.diverged_at,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(t: u64, node: NodeId, index: u64, term: u64) -> Record {
        Record {
            t,
            ev: Event::Apply {
                node,
                index,
                entry: TEntry {
                    term,
                    put: None,
                    config: None,
                    ..Default::default()
                },
                ret: None,
            },
        }
    }

    fn machine(node: NodeId, applied: u64, digest: &str) -> StateMachineSummary {
        StateMachineSummary {
            node,
            applied,
            keys: 0,
            digest: digest.into(),
        }
    }

    /// A state machine behind the others is lag when what it applied is their prefix, and
    /// divergence when an entry it applied differs from the one applied there first (which
    /// the checker reports as State Machine Safety; the summary must not call it lag).
    #[test]
    fn lag_and_divergence_are_told_apart() {
        let mut b = StoryBuilder::default();
        for r in [
            apply(1, 1, 1, 1),
            apply(2, 1, 2, 1),
            apply(3, 2, 1, 1),
            apply(4, 3, 1, 2),
        ] {
            b.on(&r);
        }
        let mut s = Summary::default();
        b.finish(
            &mut s,
            &[machine(1, 2, "a"), machine(2, 1, "b"), machine(3, 1, "c")],
        );
        let rel: Vec<(&str, u64, Option<u64>)> = s
            .state_machine_agreement
            .iter()
            .map(|r| (r.relation.as_str(), r.behind, r.diverged_at))
            .collect();
        assert_eq!(
            rel,
            [
                ("same", 0, None),
                ("lag", 1, None),
                ("diverged", 1, Some(1))
            ]
        );
    }

    /// Votes are counted per candidate and term, the candidate's own included; a term nobody
    /// won is told apart from one still open.
    #[test]
    fn the_election_table_counts_votes_per_candidate() {
        let mut b = StoryBuilder::default();
        let ev = |t, ev| Record { t, ev };
        for r in [
            ev(1, Event::Election { node: 1, term: 2 }),
            ev(2, Event::Election { node: 2, term: 2 }),
            ev(
                3,
                Event::Vote {
                    node: 3,
                    candidate: 1,
                    term: 2,
                    granted: true,
                    reason: None,
                },
            ),
            ev(
                4,
                Event::Vote {
                    node: 3,
                    candidate: 2,
                    term: 2,
                    granted: false,
                    reason: Some("already_voted_for_n1".into()),
                },
            ),
            ev(5, Event::Election { node: 2, term: 3 }),
            ev(6, Event::Election { node: 1, term: 4 }),
        ] {
            b.on(&r);
        }
        let mut s = Summary::default();
        b.finish(&mut s, &[]);
        assert_eq!(s.terms.len(), 3);
        assert_eq!(
            s.terms[0].candidates,
            [
                Candidacy { node: 1, votes: 2 },
                Candidacy { node: 2, votes: 1 }
            ]
        );
        // No split-vote record came (no detector here): judged from the terms that followed.
        let results: Vec<&str> = s.terms.iter().map(|t| t.result.as_str()).collect();
        assert_eq!(
            results,
            ["nobody won", "the only candidate lost", "open at the end"]
        );
        assert_eq!(s.terms[1].winner, None);
    }
}
