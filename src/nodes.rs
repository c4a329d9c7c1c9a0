//! The Raft implementations a scenario can put under the simulator, and the one place that
//! turns a choice of implementation into a type.
//!
//! The world, the observers and the experiments are generic over [`RaftNode`]; a scenario's
//! `node` field (default `raftsim`, `--set node=raft-rs` on any command) names the
//! implementation, and [`NodeChoice`] carries it with that implementation's own options
//! ([`RaftNode::Options`]). [`with_node!`](crate::with_node) matches on the choice once and
//! names the type, so a third implementation is a variant here, its options in the scenario
//! and nothing in the world. What each implementation supports ([`RaftNode::CAPABILITIES`]) is
//! checked when a scenario is validated, before any work.

use crate::node::Node;
use crate::protocol::{Capabilities, RaftNode};
use crate::raftrs::RaftRs;

/// What scenario validation asks of raft-rs's settings, through this module (the one that
/// names implementations).
pub use crate::raftrs::{validate as validate_raft_rs, MAX_RUN_TICKS as RAFT_RS_MAX_RUN_TICKS};

/// The implementations, by the name a scenario's `node` field uses.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum NodeKind {
    /// The built-in node: the paper's Raft (§5–6) with the dissertation's PreVote,
    /// CheckQuorum and leadership transfer as switches (`crate::node`).
    #[default]
    #[serde(rename = "raftsim")]
    Raftsim,
    /// tikv's raft crate (0.7), its `RawNode` driven through an adapter (`crate::raftrs`).
    #[serde(rename = "raft-rs")]
    RaftRs,
}

impl NodeKind {
    pub const ALL: [NodeKind; 2] = [NodeKind::Raftsim, NodeKind::RaftRs];

    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Raftsim => Node::NAME,
            NodeKind::RaftRs => RaftRs::NAME,
        }
    }

    pub fn from_name(name: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn is_default(&self) -> bool {
        *self == NodeKind::Raftsim
    }

    pub fn capabilities(self) -> Capabilities {
        match self {
            NodeKind::Raftsim => Node::CAPABILITIES,
            NodeKind::RaftRs => RaftRs::CAPABILITIES,
        }
    }

    /// The names of the bugs that can be injected into this implementation (`raft.bugs`,
    /// `--bug NAME`).
    pub fn bug_names(self) -> &'static [&'static str] {
        match self {
            NodeKind::Raftsim => &crate::node::Bug::NAMES,
            NodeKind::RaftRs => &crate::raftrs::Bug::NAMES,
        }
    }

    /// Every bug a run with this implementation may plant: its own ([`NodeKind::bug_names`])
    /// and the application's ([`APPLICATION_BUGS`]).
    pub fn all_bug_names(self) -> Vec<&'static str> {
        let mut names = self.bug_names().to_vec();
        names.extend(APPLICATION_BUGS);
        names
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An implementation with its own options, as a validated scenario asks for it
/// (`Scenario::node_choice`).
#[derive(Clone, Debug)]
pub enum NodeChoice {
    Raftsim(crate::node::Options),
    RaftRs(crate::raftrs::Options),
}

impl NodeChoice {
    pub fn kind(&self) -> NodeKind {
        match self {
            NodeChoice::Raftsim(_) => NodeKind::Raftsim,
            NodeChoice::RaftRs(_) => NodeKind::RaftRs,
        }
    }
}

impl Default for NodeChoice {
    fn default() -> NodeChoice {
        NodeChoice::Raftsim(Default::default())
    }
}

/// Runs `$body` with `$n` naming the chosen implementation's type and `$opts` bound to a
/// reference to its options: `with_node!(&choice, N, opts => run_config::<N>(cfg, opts, ..))`.
#[macro_export]
macro_rules! with_node {
    ($choice:expr, $n:ident, $opts:ident => $body:expr) => {
        match $choice {
            $crate::nodes::NodeChoice::Raftsim($opts) => {
                #[allow(dead_code)]
                type $n = $crate::node::Node;
                $body
            }
            $crate::nodes::NodeChoice::RaftRs($opts) => {
                #[allow(dead_code)]
                type $n = $crate::raftrs::RaftRs;
                $body
            }
        }
    };
}

/// Bugs of the application the harness runs on any node, not of a node: the state machine
/// (`world::kv`) without client sessions, `no-session-dedup`, which applies a retried request
/// again (dissertation §6.3). Planted like a node's (`raft.bugs`, `--bug`); the run needs a
/// workload.
pub const APPLICATION_BUGS: [&str; 1] = ["no-session-dedup"];

/// What `raftsim nodes` prints: each implementation, what it supports, and its bugs.
pub fn describe() -> String {
    use std::fmt::Write;
    let mut o = String::new();
    for k in NodeKind::ALL {
        let c = k.capabilities();
        let yes = |b: bool| if b { "yes" } else { "no" };
        let _ = writeln!(o, "node {k}");
        let _ = writeln!(
            o,
            "  configuration takes effect  {}",
            match c.config_effect {
                crate::protocol::ConfigEffect::OnAppend => "when appended (paper §6)",
                crate::protocol::ConfigEffect::OnApply => "when applied",
            }
        );
        for (what, has) in [
            ("established leader at start", c.bootstrap_leader),
            ("initial logs", c.initial_log),
            ("PreVote", c.pre_vote),
            ("CheckQuorum", c.check_quorum),
            ("stickiness on its own", c.leader_stickiness),
            ("leadership transfer", c.transfer),
            ("membership, joint consensus", c.membership_joint),
            ("membership, single server", c.membership_single_server),
        ] {
            let _ = writeln!(o, "  {what:<28}{}", yes(has));
        }
        let _ = writeln!(o, "  bugs: {}", k.bug_names().join(", "));
    }
    let _ = writeln!(
        o,
        "application bugs, with any node: {}",
        APPLICATION_BUGS.join(", ")
    );
    o.pop();
    o
}
