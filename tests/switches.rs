//! The extension switches of the built-in node, each on a node driven by hand: PreVote
//! (dissertation §9.6), CheckQuorum (dissertation §6.2) and leader stickiness (paper §6). With
//! every switch off the node behaves as before; the golden trace of `scenarios/basic.json` and
//! the seed searches say so too.

use raftsim::base::time::SimDuration;
use raftsim::node::{
    ClientReply, Config, DenyReason, Entry, Envelope, HardState, Input, Log, Message, Node, NodeId,
    Note, Op, Output, Role, Term, TimerKind, WireMessage,
};

#[derive(Clone, Copy, Default)]
struct Switches {
    pre_vote: bool,
    check_quorum: bool,
    leader_stickiness: bool,
}

const MIN: SimDuration = SimDuration(150_000_000);
const MAX: SimDuration = SimDuration(300_000_000);

fn node(id: NodeId, term: Term, terms: &[Term], sw: Switches) -> Node {
    let cfg = Config {
        election_timeout_min: MIN,
        election_timeout_max: MAX,
        pre_vote: sw.pre_vote,
        check_quorum: sw.check_quorum,
        leader_stickiness: sw.leader_stickiness,
        ..Config::new(id, 3)
    };
    let mut n = Node::new(
        cfg,
        HardState {
            commit: 0,
            term,
            voted_for: None,
            log: Log::from_entries(terms.iter().map(|&t| Entry::noop(t)).collect()),
        },
    );
    n.start(&mut Vec::new());
    n
}

fn step(n: &mut Node, input: Input) -> Vec<Output> {
    let mut out = Vec::new();
    n.step(input, &mut out);
    out
}

/// Steps `n`, then reports its writes durable; all outputs together.
fn step_durable(n: &mut Node, input: Input) -> Vec<Output> {
    let mut out = step(n, input);
    if let Some(seq) = out.iter().rev().find_map(|o| match o {
        Output::Persist { seq, .. } => Some(*seq),
        _ => None,
    }) {
        out.extend(step(n, Input::Persisted(seq)));
    }
    out
}

fn msg(from: NodeId, to: NodeId, msg: Message) -> Input {
    Input::Message(Envelope { from, to, msg })
}

fn sends(out: &[Output]) -> Vec<&Envelope> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn persists(out: &[Output]) -> bool {
    out.iter().any(|o| matches!(o, Output::Persist { .. }))
}

fn election_timer(out: &[Output]) -> Option<(SimDuration, SimDuration)> {
    out.iter().find_map(|o| match o {
        Output::SetTimer {
            kind: TimerKind::Election,
            min,
            max,
        } => Some((*min, *max)),
        _ => None,
    })
}

fn heartbeat(term: Term, prev: u64) -> Message {
    Message::AppendEntries {
        term,
        prev_log_index: prev,
        prev_log_term: 1,
        entries: vec![],
        leader_commit: 0,
        round: 0,
    }
}

fn timeout(n: &mut Node) -> Vec<Output> {
    step(n, Input::Timer(TimerKind::Election))
}

/// With every switch off, the election timer is one draw from [min, max] and its firing makes
/// a candidate of the next term at once (paper §5.2), as before the switches existed.
#[test]
fn switches_off_the_election_timeout_starts_an_election() {
    let mut n1 = node(1, 1, &[1], Switches::default());
    let out = step(&mut n1, msg(2, 1, heartbeat(1, 1)));
    assert_eq!(election_timer(&out), Some((MIN, MAX)));
    let out = timeout(&mut n1);
    assert_eq!((n1.role(), n1.term()), (Role::Candidate, 2));
    assert!(persists(&out));
}

/// Dissertation §9.6: the would-be candidate first becomes a pre-candidate and asks for
/// pre-votes for the next term, without raising its own or writing anything; a majority of
/// pre-votes (its own and one more of three) makes it a candidate of the next term.
#[test]
fn pre_vote_asks_before_raising_the_term() {
    let sw = Switches {
        pre_vote: true,
        ..Default::default()
    };
    let mut n1 = node(1, 1, &[1], sw);
    // The election timeout runs in two halves: the minimum, then the rest.
    let out = timeout(&mut n1);
    assert_eq!(
        election_timer(&out),
        Some((SimDuration(0), SimDuration(150_000_000)))
    );
    assert!(sends(&out).is_empty());
    assert_eq!(n1.role(), Role::Follower);
    let out = timeout(&mut n1);
    assert_eq!(
        (n1.role(), n1.term()),
        (Role::PreCandidate, 1),
        "term not raised"
    );
    assert!(!persists(&out), "a pre-candidate writes nothing");
    let asked: Vec<(NodeId, &Message)> = sends(&out).iter().map(|e| (e.to, &e.msg)).collect();
    let pv = Message::PreVote {
        term: 2,
        last_log_index: 1,
        last_log_term: 1,
    };
    assert_eq!(asked, vec![(2, &pv), (3, &pv)]);
    // A denial from the same term changes nothing.
    step(
        &mut n1,
        msg(
            3,
            1,
            Message::PreVoteResp {
                term: 1,
                granted: false,
            },
        ),
    );
    assert_eq!((n1.role(), n1.term()), (Role::PreCandidate, 1));
    // A grant about term 2 does not make it adopt term 2 as a higher term would; it counts.
    let out = step(
        &mut n1,
        msg(
            2,
            1,
            Message::PreVoteResp {
                term: 2,
                granted: true,
            },
        ),
    );
    assert_eq!((n1.role(), n1.term()), (Role::Candidate, 2));
    assert!(persists(&out), "the candidacy is written");
}

/// Dissertation §9.6: a server grants a pre-vote only if it has not heard from a leader within
/// the minimum election timeout and the log is up to date; either way its term, vote and
/// timers stay as they are. A pre-vote reply is not a vote to the world.
#[test]
fn pre_vote_is_refused_while_the_leader_is_heard_and_changes_nothing() {
    let sw = Switches {
        pre_vote: true,
        ..Default::default()
    };
    let mut n2 = node(2, 1, &[1], sw);
    step(&mut n2, msg(3, 2, heartbeat(1, 1)));
    let ask = || {
        msg(
            1,
            2,
            Message::PreVote {
                term: 2,
                last_log_index: 1,
                last_log_term: 1,
            },
        )
    };
    let out = step(&mut n2, ask());
    assert_eq!(
        sends(&out)[0].msg,
        Message::PreVoteResp {
            term: 1,
            granted: false
        }
    );
    assert!(election_timer(&out).is_none() && !persists(&out));
    assert_eq!((n2.term(), n2.voted_for(), n2.leader()), (1, None, Some(3)));
    // The minimum election timeout passes without the leader: the same request is granted.
    timeout(&mut n2);
    let out = step(&mut n2, ask());
    let reply = &sends(&out)[0].msg;
    assert_eq!(
        *reply,
        Message::PreVoteResp {
            term: 2,
            granted: true
        }
    );
    assert_eq!(reply.vote_granted(), None, "a pre-vote is not a vote");
    assert!(election_timer(&out).is_none() && !persists(&out));
    assert_eq!((n2.term(), n2.voted_for()), (1, None));
    // A candidate whose log is behind is refused (§5.4.1).
    let out = step(
        &mut n2,
        msg(
            1,
            2,
            Message::PreVote {
                term: 2,
                last_log_index: 0,
                last_log_term: 0,
            },
        ),
    );
    assert_eq!(
        sends(&out)[0].msg,
        Message::PreVoteResp {
            term: 1,
            granted: false
        }
    );
}

/// Paper §6: while a follower has heard from a current leader within the minimum election
/// timeout, it disregards RequestVote: no term change, no vote, no reply, a noted reason.
/// Without the switch the same request deposes the leader's term.
#[test]
fn leader_stickiness_disregards_vote_requests_while_the_leader_is_heard() {
    let rv = || {
        msg(
            1,
            2,
            Message::RequestVote {
                term: 5,
                last_log_index: 1,
                last_log_term: 1,
                transfer: false,
            },
        )
    };
    for sticky in [false, true] {
        let sw = Switches {
            leader_stickiness: sticky,
            ..Default::default()
        };
        let mut n2 = node(2, 1, &[1], sw);
        step(&mut n2, msg(3, 2, heartbeat(1, 1)));
        let out = step_durable(&mut n2, rv());
        if sticky {
            assert_eq!((n2.term(), n2.voted_for(), n2.leader()), (1, None, Some(3)));
            assert!(sends(&out).is_empty() && !persists(&out));
            assert!(out.contains(&Output::Note(Note::VoteDenied {
                candidate: 1,
                term: 5,
                reason: DenyReason::LeaderRecent,
            })));
            // Once the minimum election timeout passes without the leader, it votes.
            timeout(&mut n2);
            step_durable(&mut n2, rv());
        }
        assert_eq!(
            (n2.term(), n2.voted_for()),
            (5, Some(1)),
            "sticky: {sticky}"
        );
    }
}

/// Makes n1 leader of term 2 (3 nodes), every write durable.
fn elect(n1: &mut Node) {
    while n1.role() != Role::Candidate {
        let out = step_durable(n1, Input::Timer(TimerKind::Election));
        // With PreVote, a pre-candidate needs one more pre-vote.
        if n1.role() == Role::PreCandidate {
            assert!(sends(&out)
                .iter()
                .all(|e| matches!(e.msg, Message::PreVote { .. })));
            step_durable(
                n1,
                msg(
                    2,
                    1,
                    Message::PreVoteResp {
                        term: n1.term() + 1,
                        granted: true,
                    },
                ),
            );
        }
    }
    let term = n1.term();
    step_durable(
        n1,
        msg(
            2,
            1,
            Message::RequestVoteResp {
                term,
                granted: true,
            },
        ),
    );
    assert_eq!(n1.role(), Role::Leader);
}

/// Dissertation §6.2: a leader that has not heard from a majority within an election timeout
/// steps down (to follower of the same term), failing its waiting clients; one that has, leads
/// on. Without the switch its election timer is not even running.
#[test]
fn check_quorum_makes_a_leader_without_a_majority_step_down() {
    let sw = Switches {
        check_quorum: true,
        ..Default::default()
    };
    let mut n1 = node(1, 1, &[1], sw);
    elect(&mut n1);
    let term = n1.term();
    // n2 answers within the first check: n1 and n2 are a majority of three.
    step(
        &mut n1,
        msg(
            2,
            1,
            Message::AppendEntriesResp {
                term,
                success: true,
                index: 2,
                round: 0,
            },
        ),
    );
    let out = timeout(&mut n1);
    assert_eq!(n1.role(), Role::Leader);
    assert_eq!(election_timer(&out), Some((MIN, MIN)), "the next check");
    // A client waits; then nobody answers for a whole check.
    step(
        &mut n1,
        Input::ClientRequest {
            req: 7,
            op: Op::Put { key: 0, value: 1 },
        },
    );
    let out = timeout(&mut n1);
    assert_eq!(
        (n1.role(), n1.term(), n1.leader()),
        (Role::Follower, term, None)
    );
    assert!(out.contains(&Output::CancelTimer(TimerKind::Heartbeat)));
    assert!(out.contains(&Output::ClientReply {
        req: 7,
        reply: ClientReply::NotLeader { hint: None },
    }));
    assert_eq!(election_timer(&out), Some((MIN, MAX)));

    // The switch off: the elected leader's election timer is cancelled, and firing anyway
    // (a stale timer) changes nothing.
    let mut plain = node(1, 1, &[1], Switches::default());
    elect(&mut plain);
    let out = timeout(&mut plain);
    assert!(out.is_empty());
    assert_eq!(plain.role(), Role::Leader);
}

/// PreVote with a pre-candidate that learns of a leader of its own term: it follows it.
/// And a pre-candidate asked for a real vote in its term grants it and becomes a follower.
#[test]
fn a_pre_candidate_yields_to_a_leader_or_a_candidate_of_its_term() {
    let sw = Switches {
        pre_vote: true,
        ..Default::default()
    };
    let mut n1 = node(1, 1, &[1], sw);
    timeout(&mut n1);
    timeout(&mut n1);
    assert_eq!(n1.role(), Role::PreCandidate);
    step(&mut n1, msg(3, 1, heartbeat(1, 1)));
    assert_eq!((n1.role(), n1.leader()), (Role::Follower, Some(3)));

    let mut n2 = node(2, 1, &[1], sw);
    timeout(&mut n2);
    timeout(&mut n2);
    assert_eq!(n2.role(), Role::PreCandidate);
    let out = step_durable(
        &mut n2,
        msg(
            3,
            2,
            Message::RequestVote {
                term: 1,
                last_log_index: 1,
                last_log_term: 1,
                transfer: false,
            },
        ),
    );
    assert_eq!(
        (n2.role(), n2.term(), n2.voted_for()),
        (Role::Follower, 1, Some(3))
    );
    assert_eq!(sends(&out)[0].msg.vote_granted(), Some(true));
}

/// Leadership transfer (dissertation §3.10), a caught-up target: TimeoutNow goes out at once,
/// client requests are refused with a hint at the target, and the target stands at once in the
/// next term, skipping PreVote.
#[test]
fn transfer_to_a_caught_up_follower_sends_timeout_now_at_once() {
    let mut n1 = node(1, 1, &[1], Switches::default());
    elect(&mut n1);
    let term = n1.term();
    let ack = |from: NodeId, index: u64| {
        msg(
            from,
            1,
            Message::AppendEntriesResp {
                term,
                success: true,
                index,
                round: 0,
            },
        )
    };
    step(&mut n1, ack(3, 2));
    let out = step(&mut n1, Input::TransferLeadership { to: 3 });
    let timeout_now: Vec<_> = sends(&out)
        .into_iter()
        .filter(|e| e.msg == Message::TimeoutNow { term })
        .map(|e| e.to)
        .collect();
    assert_eq!(timeout_now, vec![3]);
    assert_eq!(
        election_timer(&out),
        Some((MAX, MAX)),
        "the transfer's deadline"
    );
    let out = step(
        &mut n1,
        Input::ClientRequest {
            req: 9,
            op: Op::Put { key: 0, value: 1 },
        },
    );
    assert_eq!(
        out,
        vec![Output::ClientReply {
            req: 9,
            reply: ClientReply::NotLeader { hint: Some(3) },
        }]
    );

    let sw = Switches {
        pre_vote: true,
        ..Default::default()
    };
    let mut n3 = node(3, term, &[1, term], sw);
    step(&mut n3, msg(1, 3, heartbeat(term, 2)));
    let out = step(&mut n3, msg(1, 3, Message::TimeoutNow { term }));
    assert_eq!((n3.role(), n3.term()), (Role::Candidate, term + 1));
    assert!(persists(&out));
    // A stale TimeoutNow (an older term) is ignored.
    let mut n2 = node(2, term + 1, &[1], Switches::default());
    step(&mut n2, msg(1, 2, Message::TimeoutNow { term }));
    assert_eq!((n2.role(), n2.term()), (Role::Follower, term + 1));
}

/// A target behind the leader's log is caught up first (TimeoutNow only once it acknowledges
/// the last entry); a transfer that has not completed within one election timeout is aborted
/// and the leader takes requests again.
#[test]
fn transfer_catches_the_target_up_first_and_aborts_at_its_deadline() {
    let mut n1 = node(1, 1, &[1], Switches::default());
    elect(&mut n1);
    let term = n1.term();
    let out = step(&mut n1, Input::TransferLeadership { to: 2 });
    assert!(sends(&out)
        .iter()
        .all(|e| e.to == 2 && matches!(e.msg, Message::AppendEntries { .. })));
    assert!(!sends(&out).is_empty(), "the target is sent the log");
    // An ack short of the leader's last entry (2) is not enough.
    let ack = |index| {
        msg(
            2,
            1,
            Message::AppendEntriesResp {
                term,
                success: true,
                index,
                round: 0,
            },
        )
    };
    let out = step(&mut n1, ack(1));
    assert!(!sends(&out)
        .iter()
        .any(|e| matches!(e.msg, Message::TimeoutNow { .. })));
    let out = step(&mut n1, ack(2));
    assert_eq!(
        sends(&out)
            .iter()
            .filter(|e| matches!(e.msg, Message::TimeoutNow { .. }))
            .count(),
        1
    );
    // The target never stands (lost TimeoutNow): at the deadline the leader aborts.
    timeout(&mut n1);
    assert_eq!(n1.role(), Role::Leader);
    let out = step(
        &mut n1,
        Input::ClientRequest {
            req: 5,
            op: Op::Put { key: 0, value: 1 },
        },
    );
    assert!(persists(&out), "requests are taken again");
    // A follower asked to transfer ignores it.
    let mut n2 = node(2, 1, &[1], Switches::default());
    assert!(step(&mut n2, Input::TransferLeadership { to: 3 }).is_empty());
}
