//! Experiments: many runs of the simulated world, in parallel — the Figure 16 sweep and the
//! speed benchmark.

pub mod analytic;
pub mod bench;
pub mod explore;
pub mod guided;
pub mod reference;
pub mod run;
pub mod shrink;
pub mod sweep;

use crate::nodes::{NodeChoice, NodeKind};
use crate::scenario::{CandidatePersist, MembershipMode, Scenario};

/// The node under test with its own options, from a validated scenario. Here, above the
/// scenario layer, because it names each implementation's options (`docs/ARCHITECTURE.md`:
/// the scenario layer names none).
pub trait ChooseNode {
    fn node_choice(&self) -> NodeChoice;
}

impl ChooseNode for Scenario {
    fn node_choice(&self) -> NodeChoice {
        match self.node {
            NodeKind::Raftsim => NodeChoice::Raftsim(crate::node::Options {
                candidate_persist: match self.raft.candidate_persist {
                    CandidatePersist::BeforeSend => crate::node::CandidatePersist::BeforeSend,
                    CandidatePersist::Parallel => crate::node::CandidatePersist::Parallel,
                },
                separate_term_write: self.raft.separate_term_write,
                block_during_writes: self.raft.block_during_writes,
                bugs: self
                    .raft
                    .bugs
                    .iter()
                    .filter_map(|b| crate::node::Bug::from_name(b))
                    .collect(),
                single_server_changes: self.raft.membership == MembershipMode::SingleServer,
                catch_up_rounds: self
                    .raft
                    .catch_up_rounds
                    .unwrap_or(crate::node::DEFAULT_CATCH_UP_ROUNDS),
            }),
            NodeKind::RaftRs => {
                let spec = self.raft_rs.clone().unwrap_or_default();
                NodeChoice::RaftRs(crate::raftrs::Options::new(
                    spec.tick,
                    self.raft.election_timeout,
                    self.raft.heartbeat_interval,
                    self.raft.max_entries_per_message,
                    spec.max_inflight_msgs,
                    (self.raft.bugs.iter())
                        .filter_map(|b| crate::raftrs::Bug::from_name(b))
                        .collect(),
                ))
            }
        }
    }
}
