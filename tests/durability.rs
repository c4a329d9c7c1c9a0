//! Figure 2: "Updated on stable storage before responding to RPCs." A node driven with random
//! inputs — AppendEntries and RequestVote from leaders and candidates of various terms, timer
//! firings, disk completions in order, crashes — must never send an answer that its durable
//! state does not back: a granted vote is on disk, an acknowledged entry is on disk, the term it
//! answers in is on disk. A crash loses the writes still in flight, and the node restarts from
//! the disk alone.

use raftsim::base::rng::{Purpose, Rng};
use raftsim::node::{
    Config, Entry, Envelope, HardState, Input, LogOp, Message, Node, NodeId, Output, Term,
    TimerKind,
};

const N: u32 = 5;
const ME: NodeId = 1;

struct Disk {
    durable: HardState,
    /// Issued and not yet complete, oldest first.
    inflight: Vec<(u64, Term, Option<NodeId>, Vec<LogOp>)>,
}

fn config() -> Config {
    Config {
        max_entries_per_message: 4,
        ..Config::new(ME, N)
    }
}

/// Checks every message the node sends against what is durable at that moment.
fn check_sends(out: &[Output], disk: &mut Disk, seed: u64, step: usize) {
    let d = &disk.durable;
    for o in out {
        match o {
            Output::Persist {
                seq,
                term,
                voted_for,
                ops,
                ..
            } => disk.inflight.push((*seq, *term, *voted_for, ops.clone())),
            Output::Send(Envelope { to, msg, .. }) => {
                let ctx = format!(
                    "seed {seed} step {step}: {msg:?} to n{to}, durable term {} vote {:?} log {}",
                    d.term,
                    d.voted_for,
                    d.log.last_index()
                );
                assert!(
                    d.term >= msg.term(),
                    "{ctx}: answered in a term not on disk"
                );
                match *msg {
                    Message::RequestVoteResp {
                        term,
                        granted: true,
                    } => assert!(
                        d.term > term || d.voted_for == Some(*to),
                        "{ctx}: granted a vote not on disk"
                    ),
                    Message::AppendEntriesResp {
                        term,
                        success: true,
                        index,
                        ..
                    } => assert!(
                        d.term > term || d.log.last_index() >= index,
                        "{ctx}: acknowledged entries not on disk"
                    ),
                    // CandidatePersist::BeforeSend: the candidacy is on disk before it is announced.
                    Message::RequestVote { term, .. } => assert!(
                        d.term > term || (d.term == term && d.voted_for == Some(ME)),
                        "{ctx}: asked for votes before its own was on disk"
                    ),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn fuzz(seed: u64, steps: usize) {
    let mut rng = Rng::stream(seed, Purpose::Faults, 4242);
    let mut disk = Disk {
        durable: HardState::default(),
        inflight: Vec::new(),
    };
    let mut node = Node::new(config(), disk.durable.clone());
    let mut out = Vec::new();
    node.start(&mut out);
    // A stand-in for the rest of the cluster: the log the leader of each term would send.
    let mut world: Vec<Entry> = Vec::new();
    let mut world_term: Term = 0;
    for step in 0..steps {
        out.clear();
        let r = rng.range_inclusive(0, 99);
        let input = if r < 35 {
            // AppendEntries from the leader of a term near ours (leader = one fixed node per
            // term, so there is one leader per term). Its log is `world`, grown in its term.
            let term = (node.term() + rng.range_inclusive(0, 2))
                .saturating_sub(1)
                .max(world_term)
                .max(1);
            if term > world_term {
                world_term = term;
                let keep = rng.range_inclusive(0, world.len() as u64) as usize;
                world.truncate(keep);
            }
            if term == world_term && rng.chance(0.5) {
                world.push(Entry::noop(term));
            }
            let leader = 2 + (term % (N as u64 - 1)) as NodeId;
            let prev = rng.range_inclusive(0, world.len() as u64);
            let n = rng.range_inclusive(0, 3).min(world.len() as u64 - prev);
            let prev_term = if prev == 0 {
                0
            } else {
                world[prev as usize - 1].term
            };
            Input::Message(Envelope {
                from: leader,
                to: ME,
                msg: Message::AppendEntries {
                    term,
                    prev_log_index: prev,
                    prev_log_term: prev_term,
                    entries: world[prev as usize..(prev + n) as usize].to_vec(),
                    // Never ahead of what a majority could hold: nothing is committed here, so
                    // no input asks the node to delete a committed entry.
                    leader_commit: 0,
                    round: 0,
                },
            })
        } else if r < 55 {
            let term = node.term() + rng.range_inclusive(0, 2);
            let last = rng.range_inclusive(0, node.log().last_index() + 1);
            let lt = node.log().last_term();
            let last_term = match rng.range_inclusive(0, 2) {
                0 => lt.saturating_sub(1),
                1 => lt,
                _ => lt + 1,
            };
            Input::Message(Envelope {
                from: rng.range_inclusive(2, N as u64) as NodeId,
                to: ME,
                msg: Message::RequestVote {
                    term,
                    last_log_index: last,
                    last_log_term: last_term,
                    transfer: false,
                },
            })
        } else if r < 62 {
            Input::Timer(TimerKind::Election)
        } else if r < 95 {
            // The oldest write completes (writes complete in order).
            if disk.inflight.is_empty() {
                continue;
            }
            let (seq, term, voted_for, ops) = disk.inflight.remove(0);
            disk.durable.apply_write(term, voted_for, 0, &ops);
            Input::Persisted(seq)
        } else {
            // Crash: what is in flight is lost; restart from the disk alone.
            disk.inflight.clear();
            node = Node::new(config(), disk.durable.clone());
            node.start(&mut out);
            continue;
        };
        node.step(input, &mut out);
        check_sends(&out, &mut disk, seed, step);
    }
    assert!(node.term() > 0, "seed {seed}: the fuzz never left term 0");
}

#[test]
fn a_node_never_answers_before_what_the_answer_depends_on_is_durable() {
    for seed in 0..300 {
        fuzz(seed, 400);
    }
}
