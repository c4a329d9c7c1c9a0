//! The simulator observes a node from outside: its log from the disk writes it issues, its
//! commit index from what it applies, a leader's votes from the grants delivered to it, and only
//! its role from what it says. These tests plant nodes that lie through the node interface and
//! check that the safety checker still catches them (Raft paper Figure 3's properties), and that
//! the checker does not assume a cluster size.

use raftsim::experiment::run::{run_config, RunOptions};
use raftsim::node::Node;
use raftsim::observe::check::Checker;
use raftsim::observe::trace::{Event, Record, TEntry};
use raftsim::protocol::{
    Config, HardState, Input, LogOp, Message, NodeId, Output, RaftNode, Role, Term,
};
use raftsim::scenario::Scenario;
use raftsim::world::config::RunConfig;
use raftsim::world::Outcome;

/// `scenarios/replication.json`: five nodes under a steady client load (§5.3), with a follower
/// crash and restart.
fn replication() -> RunConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/replication.json");
    Scenario::load(&path)
        .expect("scenarios/replication.json is valid")
        .compile()
}

/// `scenarios/basic.json`: five nodes, an election, a leader crash and restart.
fn basic() -> RunConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/basic.json");
    Scenario::load(&path)
        .expect("scenarios/basic.json is valid")
        .compile()
}

/// A node that never persists the entries it appends: every `LogOp::Append` is removed from
/// the disk writes it issues, while its inner node goes on as if they were durable (it
/// acknowledges them, counts them towards commitment and applies them). Figure 2: log entries
/// are "updated on stable storage before responding to RPCs".
struct ForgetfulDisk(Node);

impl RaftNode for ForgetfulDisk {
    type Msg = Message;
    type Options = raftsim::node::Options;
    const NAME: &'static str = "ForgetfulDisk";
    const CAPABILITIES: raftsim::protocol::Capabilities = Node::CAPABILITIES;
    fn restart(cfg: &Config, _: &Self::Options, hard: HardState) -> Self {
        ForgetfulDisk(Node::new(cfg.clone(), hard))
    }
    fn start(&mut self, out: &mut Vec<Output>) {
        self.0.start(out);
        strip_appends(out);
    }
    fn bootstrap_leader(&mut self, out: &mut Vec<Output>) {
        self.0.bootstrap_leader(out);
        strip_appends(out);
    }
    fn step(&mut self, input: Input, out: &mut Vec<Output>) {
        // `out` may hold outputs of earlier steps the caller has not taken yet: strip only ours.
        let from = out.len();
        self.0.step(input, out);
        strip_appends(&mut out[from..]);
    }
    fn role(&self) -> Role {
        self.0.role()
    }
    fn leader(&self) -> Option<NodeId> {
        self.0.leader()
    }
}

fn strip_appends(out: &mut [Output]) {
    for o in out {
        if let Output::Persist { ops, .. } = o {
            ops.retain(|op| !matches!(op, LogOp::Append { .. }));
        }
    }
}

/// Figure 3, Log Matching / State Machine Safety: a node that acknowledges and applies entries
/// its disk never received has committed entries that the world never saw it hold. The checker
/// keeps each node's log from the writes alone, so the first commit is beyond that log.
#[test]
fn a_node_that_does_not_persist_its_entries_is_caught() {
    let cfg = replication();
    let r = run_config::<ForgetfulDisk>(&cfg, &Default::default(), 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Violation, "panic: {:?}", r.panic);
    let v = r.violation.expect("a violation outcome names it");
    assert_eq!(v.property, "Log Matching", "{v}");
    assert!(
        v.detail.contains("committed") && v.detail.contains("beyond its log of 0"),
        "{v}"
    );
}

/// The same scenario with the honest node: no violation, so the one above is the lie's.
#[test]
fn the_honest_node_passes_the_same_scenario() {
    let r = run_config::<Node>(
        &replication(),
        &Default::default(),
        1,
        RunOptions::default(),
    );
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert_eq!(r.outcome, Outcome::Completed);
    // The load was served: the lie above had real entries to forget.
    let client = r.summary.client.as_ref().expect("a workload");
    assert!(client.committed > 100, "{client:?}");
    assert!(r.summary.max_commit_index > 100);
}

/// Node 1 reports `Role::Leader` while its inner node is a follower: it claims leadership
/// without any election.
struct FollowerClaimsLeader(Node);

impl RaftNode for FollowerClaimsLeader {
    type Msg = Message;
    type Options = raftsim::node::Options;
    const NAME: &'static str = "FollowerClaimsLeader";
    const CAPABILITIES: raftsim::protocol::Capabilities = Node::CAPABILITIES;
    fn restart(cfg: &Config, _: &Self::Options, hard: HardState) -> Self {
        FollowerClaimsLeader(Node::new(cfg.clone(), hard))
    }
    fn start(&mut self, out: &mut Vec<Output>) {
        self.0.start(out)
    }
    fn bootstrap_leader(&mut self, out: &mut Vec<Output>) {
        self.0.bootstrap_leader(out)
    }
    fn step(&mut self, input: Input, out: &mut Vec<Output>) {
        self.0.step(input, out)
    }
    fn role(&self) -> Role {
        match self.0.role() {
            Role::Follower if self.0.id() == 1 => Role::Leader,
            r => r,
        }
    }
    fn leader(&self) -> Option<NodeId> {
        self.0.leader()
    }
}

/// Election Safety (§5.2: a candidate wins with votes from a majority): the world counts a
/// leader's votes from the grants delivered to it, so a follower that says it leads has none.
#[test]
fn a_follower_claiming_leadership_is_caught() {
    let r =
        run_config::<FollowerClaimsLeader>(&basic(), &Default::default(), 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Violation, "panic: {:?}", r.panic);
    let v = r.violation.expect("a violation outcome names it");
    assert_eq!(v.property, "Election Safety", "{v}");
    assert!(
        v.detail
            .starts_with("n1 became leader of term 0 with 0 votes delivered"),
        "{v}"
    );
}

/// A candidate that reports `Role::Leader` as soon as the first vote is granted to it in its
/// term, while its inner node still waits for a majority. In a five-node cluster that is its
/// own vote and one more: two of five.
struct EagerLeader {
    inner: Node,
    /// The term in which a grant reached this node while it was a candidate.
    claimed: Option<Term>,
}

impl RaftNode for EagerLeader {
    type Msg = Message;
    type Options = raftsim::node::Options;
    const NAME: &'static str = "EagerLeader";
    const CAPABILITIES: raftsim::protocol::Capabilities = Node::CAPABILITIES;
    fn restart(cfg: &Config, _: &Self::Options, hard: HardState) -> Self {
        EagerLeader {
            inner: Node::new(cfg.clone(), hard),
            claimed: None,
        }
    }
    fn start(&mut self, out: &mut Vec<Output>) {
        self.inner.start(out)
    }
    fn bootstrap_leader(&mut self, out: &mut Vec<Output>) {
        self.inner.bootstrap_leader(out)
    }
    fn step(&mut self, input: Input, out: &mut Vec<Output>) {
        let grant = match &input {
            Input::Message(env) => match env.msg {
                Message::RequestVoteResp {
                    term,
                    granted: true,
                } => Some(term),
                _ => None,
            },
            _ => None,
        };
        self.inner.step(input, out);
        if let Some(t) = grant {
            if self.inner.role() == Role::Candidate && self.inner.term() == t {
                self.claimed = Some(t);
            }
        }
    }
    fn role(&self) -> Role {
        match self.inner.role() {
            Role::Candidate if self.claimed == Some(self.inner.term()) => Role::Leader,
            r => r,
        }
    }
    fn leader(&self) -> Option<NodeId> {
        self.inner.leader()
    }
}

/// Election Safety again, with a leader that did stand and was granted a vote: the world counts
/// the grant delivered and the candidate's own durable vote, two of five, not a majority. The
/// node's word that it leads does not count as votes.
#[test]
fn a_candidate_claiming_leadership_before_a_majority_is_caught() {
    let r = run_config::<EagerLeader>(&basic(), &Default::default(), 1, RunOptions::default());
    assert_eq!(r.outcome, Outcome::Violation, "panic: {:?}", r.panic);
    let v = r.violation.expect("a violation outcome names it");
    assert_eq!(v.property, "Election Safety", "{v}");
    assert!(v.detail.contains("with 2 votes delivered"), "{v}");
}

fn rec(t: u64, ev: Event) -> Record {
    Record { t, ev }
}

fn entry(term: u64) -> TEntry {
    TEntry {
        term,
        ..Default::default()
    }
}

/// The checker sizes its tables from `Checker::new(n)` only as a hint: a node id beyond it
/// (node 9 in a checker made for 3) is checked like any other, and its violations reported.
#[test]
fn the_checker_has_no_fixed_cluster_size() {
    let mut c = Checker::new(3);
    let ok = [
        Event::Role {
            node: 9,
            role: Role::Candidate,
            term: 1,
        },
        Event::Election { node: 9, term: 1 },
        Event::Vote {
            node: 10,
            candidate: 9,
            term: 1,
            granted: true,
            reason: None,
        },
        Event::Role {
            node: 9,
            role: Role::Leader,
            term: 1,
        },
        Event::Leader {
            node: 9,
            term: 1,
            votes: 2,
        },
        Event::Append {
            node: 9,
            index: 1,
            entries: vec![entry(1)],
        },
        Event::Append {
            node: 10,
            index: 1,
            entries: vec![entry(1)],
        },
        Event::Commit {
            node: 9,
            commit_index: 1,
        },
        Event::Apply {
            node: 9,
            index: 1,
            entry: entry(1),
            ret: None,
        },
    ];
    for (i, ev) in ok.into_iter().enumerate() {
        c.observe(&rec(i as u64, ev), i as u64 + 1)
            .unwrap_or_else(|v| panic!("a valid history about n9 and n10 was refused: {v}"));
    }
    // Node 9 commits beyond its log.
    let v = c
        .observe(
            &rec(
                20,
                Event::Commit {
                    node: 9,
                    commit_index: 3,
                },
            ),
            20,
        )
        .unwrap_err();
    assert_eq!(v.property, "Log Matching");
    assert!(
        v.detail.starts_with("n9 committed 3 beyond its log of 1"),
        "{v}"
    );

    // A second leader of term 1, and a vote given twice, by nodes beyond the hint.
    let mut c = Checker::new(3);
    for (i, n) in [9, 12].into_iter().enumerate() {
        let r = c.observe(
            &rec(
                i as u64,
                Event::Leader {
                    node: n,
                    term: 1,
                    votes: 2,
                },
            ),
            i as u64 + 1,
        );
        if n == 12 {
            let v = r.unwrap_err();
            assert_eq!(v.property, "Election Safety");
            assert_eq!(v.detail, "two leaders in term 1: n9 and n12");
        } else {
            r.unwrap();
        }
    }
    let mut c = Checker::new(3);
    let vote = |candidate| Event::Vote {
        node: 40,
        candidate,
        term: 2,
        granted: true,
        reason: None,
    };
    c.observe(&rec(0, vote(9)), 1).unwrap();
    let v = c.observe(&rec(0, vote(11)), 2).unwrap_err();
    assert_eq!(v.property, "Vote Uniqueness");
    assert_eq!(v.detail, "n40 voted for n9 and n11 in term 2");
}
