//! Regression tests for simulator bugs found while writing the core test suite. Each test
//! names the rule it checks and how the bug was found.

use raftsim::raft::{
    CandidatePersist, Config, Envelope, HardState, Input, Message, Node, Output, Role, TimerKind,
};
use raftsim::time::SimDuration;

fn node(id: u32, cluster_size: u32, persist: CandidatePersist) -> Node {
    let cfg = Config {
        id,
        cluster_size,
        election_timeout_min: SimDuration::from_millis(150),
        election_timeout_max: SimDuration::from_millis(300),
        heartbeat_interval: SimDuration::from_millis(50),
        max_entries_per_message: 64,
        candidate_persist: persist,
    };
    let mut n = Node::new(cfg, HardState::default());
    n.start(&mut Vec::new());
    n
}

fn msg(from: u32, to: u32, msg: Message) -> Input {
    Input::Message(Envelope { from, to, msg })
}

/// The `seq` of every disk write the node asked for in `out`.
fn persists(out: &[Output]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Output::Persist { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

/// RAFT-NOTES "Votes": currentTerm and votedFor are durable before they are acted on; the
/// `candidate_persist: parallel` contract is that a candidate counts its own vote only once
/// the write of its new term and self-vote is durable. Found by reading `on_persisted`: the
/// candidate counted itself when *any* earlier write (here, a vote granted in the previous
/// term) completed, so it could win while its term and vote were still volatile; a crash then
/// would let it vote again in the same term (Election Safety, paper section 5.2).
#[test]
fn parallel_candidate_waits_for_its_own_vote_write_not_an_earlier_one() {
    let mut n1 = node(1, 3, CandidatePersist::Parallel);
    let mut out = Vec::new();
    // Term 1: n1 grants its vote to n2; that write (seq 1) is still on the disk.
    let rv = Message::RequestVote {
        term: 1,
        last_log_index: 0,
        last_log_term: 0,
    };
    n1.step(msg(2, 1, rv), &mut out);
    assert_eq!(persists(&out), vec![1]);
    // n1's election timer fires before seq 1 is durable: it stands in term 2 (write seq 2).
    out.clear();
    n1.step(Input::Timer(TimerKind::Election), &mut out);
    assert_eq!(n1.role(), Role::Candidate);
    assert_eq!(n1.term(), 2);
    assert_eq!(persists(&out), vec![2]);
    // The term-1 vote write completes; the term-2 self-vote write does not yet.
    n1.step(Input::Persisted(1), &mut Vec::new());
    let granted = Message::RequestVoteResp {
        term: 2,
        granted: true,
    };
    n1.step(msg(3, 1, granted), &mut Vec::new());
    assert_eq!(
        n1.role(),
        Role::Candidate,
        "n1 won term 2 with one peer vote and a self-vote that is not yet durable"
    );
    // Once seq 2 is durable, the self-vote counts and n1 (2 of 3) leads.
    n1.step(Input::Persisted(2), &mut Vec::new());
    assert_eq!(n1.role(), Role::Leader);
    assert_eq!(n1.term(), 2);
}

/// Same sequence with the default `before_send`: RequestVote is held until the self-vote is
/// durable, so no peer vote can arrive early; the node must still not lead before seq 2.
#[test]
fn before_send_candidate_sends_request_vote_only_after_its_own_vote_write() {
    let mut n1 = node(1, 3, CandidatePersist::BeforeSend);
    let rv = Message::RequestVote {
        term: 1,
        last_log_index: 0,
        last_log_term: 0,
    };
    n1.step(msg(2, 1, rv), &mut Vec::new());
    n1.step(Input::Timer(TimerKind::Election), &mut Vec::new());
    let mut out = Vec::new();
    n1.step(Input::Persisted(1), &mut out);
    let sent_rv = |out: &[Output]| {
        out.iter().any(|o| {
            matches!(
                o,
                Output::Send(Envelope {
                    msg: Message::RequestVote { term: 2, .. },
                    ..
                })
            )
        })
    };
    assert!(
        !sent_rv(&out),
        "RequestVote sent before the self-vote is durable"
    );
    assert_eq!(n1.role(), Role::Candidate);
    out.clear();
    n1.step(Input::Persisted(2), &mut out);
    assert!(sent_rv(&out));
}
