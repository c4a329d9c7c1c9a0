//! `raftsim trace`: the records of a trace that match a filter, for reading a run in the
//! terminal in the one-line human form of `--verbose`. A filter is a conjunction: a record is
//! kept when it passes every part that was given.
//!
//! - node: the record names the node (as `node`, sender, receiver, candidate, or among a split
//!   vote's candidates, a failed election's candidate or a partition's groups), or concerns the whole cluster (`start`, `end`,
//!   network faults, faults that found nothing to act on, violations, panics);
//! - kinds: the record's `ev` is one of them;
//! - term: the record carries that term (roles, elections, votes, leaders, split votes,
//!   messages, restarts);
//! - time: `from <= t <= to`.

use crate::observe::trace::{Event, Record};
use crate::protocol::NodeId;

/// Every `ev` a trace may hold, as written.
pub const KINDS: &[&str] = &[
    "start",
    "boot",
    "crash",
    "restart",
    "partition",
    "heal",
    "cut",
    "restore",
    "pause",
    "resume",
    "role",
    "election",
    "vote",
    "leader",
    "split_vote",
    "failed_election",
    "drop",
    "send",
    "deliver",
    "append",
    "truncate",
    "commit",
    "apply",
    "client_request",
    "client_done",
    "linearizability",
    "fault_skipped",
    "fault_plan",
    "network_fault",
    "transfer",
    "clock_jump",
    "membership",
    "violation",
    "panic",
    "end",
];

/// The record's `ev`, as the JSON form writes it.
pub fn kind(ev: &Event) -> &'static str {
    match ev {
        Event::Start { .. } => "start",
        Event::Boot { .. } => "boot",
        Event::Crash { .. } => "crash",
        Event::Restart { .. } => "restart",
        Event::Partition { .. } => "partition",
        Event::Heal { .. } => "heal",
        Event::Cut { .. } => "cut",
        Event::Restore { .. } => "restore",
        Event::Pause { .. } => "pause",
        Event::Resume { .. } => "resume",
        Event::Role { .. } => "role",
        Event::Election { .. } => "election",
        Event::Vote { .. } => "vote",
        Event::Leader { .. } => "leader",
        Event::SplitVote { .. } => "split_vote",
        Event::FailedElection { .. } => "failed_election",
        Event::Drop { .. } => "drop",
        Event::Send { .. } => "send",
        Event::Deliver { .. } => "deliver",
        Event::Append { .. } => "append",
        Event::Truncate { .. } => "truncate",
        Event::Commit { .. } => "commit",
        Event::Apply { .. } => "apply",
        Event::ClientRequest { .. } => "client_request",
        Event::ClientDone { .. } => "client_done",
        Event::Linearizability { .. } => "linearizability",
        Event::Transfer { .. } => "transfer",
        Event::ClockJump { .. } => "clock_jump",
        Event::Membership { .. } => "membership",
        Event::FaultSkipped { .. } => "fault_skipped",
        Event::FaultPlan { .. } => "fault_plan",
        Event::NetworkFault { .. } => "network_fault",
        Event::Violation { .. } => "violation",
        Event::Panic { .. } => "panic",
        Event::End { .. } => "end",
    }
}

/// The term a record carries, if any.
pub fn term_of(ev: &Event) -> Option<u64> {
    match ev {
        Event::Boot { term, .. }
        | Event::Restart { term, .. }
        | Event::Role { term, .. }
        | Event::Election { term, .. }
        | Event::Vote { term, .. }
        | Event::Leader { term, .. }
        | Event::SplitVote { term, .. }
        | Event::FailedElection { term, .. }
        | Event::Drop { term, .. }
        | Event::Send { term, .. }
        | Event::Deliver { term, .. } => Some(*term),
        _ => None,
    }
}

/// Whether the record names node `n`, or concerns the whole cluster.
pub fn concerns(ev: &Event, n: NodeId) -> bool {
    ev.is_cluster_wide() || ev.nodes().contains(&n)
}

/// A filter over records; `None` parts pass everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub node: Option<NodeId>,
    pub kinds: Option<Vec<String>>,
    pub term: Option<u64>,
    pub from: Option<u64>,
    pub to: Option<u64>,
}

impl Filter {
    /// Checks the filter's values, with a message a user can act on.
    pub fn validate(&self, nodes: Option<u32>) -> Result<(), String> {
        if let Some(kinds) = &self.kinds {
            for k in kinds {
                if !KINDS.contains(&k.as_str()) {
                    return Err(format!(
                        "--ev: `{k}` is not a trace event kind; allowed: {}",
                        KINDS.join(", ")
                    ));
                }
            }
        }
        if let (Some(a), Some(b)) = (self.from, self.to) {
            if a > b {
                return Err("--from is after --to".into());
            }
        }
        if let (Some(n), Some(nodes)) = (self.node, nodes) {
            if n == 0 || n > nodes {
                return Err(format!(
                    "--node {n}: the trace's cluster has nodes 1 to {nodes}"
                ));
            }
        }
        Ok(())
    }

    pub fn keeps(&self, r: &Record) -> bool {
        self.from.is_none_or(|f| r.t >= f)
            && self.to.is_none_or(|t| r.t <= t)
            && self
                .kinds
                .as_ref()
                .is_none_or(|ks| ks.iter().any(|k| k == kind(&r.ev)))
            && self.term.is_none_or(|t| term_of(&r.ev) == Some(t))
            && self.node.is_none_or(|n| concerns(&r.ev, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kind` agrees with the serde tag for every record of the golden trace, and `KINDS`
    /// lists each name once.
    #[test]
    fn kind_is_the_json_tag() {
        let text = include_str!("../../tests/golden/basic.trace.jsonl");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let r: Record = serde_json::from_str(line).unwrap();
            assert_eq!(v["ev"], kind(&r.ev));
            assert!(KINDS.contains(&kind(&r.ev)));
        }
        let mut k = KINDS.to_vec();
        k.sort_unstable();
        k.dedup();
        assert_eq!(k.len(), KINDS.len());
    }

    #[test]
    fn bad_values_are_refused() {
        let f = Filter {
            kinds: Some(vec!["leaders".into()]),
            ..Filter::default()
        };
        assert!(f.validate(None).unwrap_err().contains("allowed: start"));
        let f = Filter {
            from: Some(5),
            to: Some(4),
            ..Filter::default()
        };
        assert!(f.validate(None).is_err());
        let f = Filter {
            node: Some(6),
            ..Filter::default()
        };
        assert!(f.validate(Some(5)).is_err());
        assert!(f.validate(Some(6)).is_ok());
    }
}
