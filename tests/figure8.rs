//! Figure 8 of the Raft paper (§5.4.2): why a leader must not commit an entry from an earlier
//! term by counting replicas.
//!
//! Reference: Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm"
//! (extended version), section 5.4.2 and Figure 8. In (c) the term-2 entry at index 2 is stored
//! on a majority, yet committing it then would be unsafe: in (d) a server that lacks it can
//! still be elected and overwrite it everywhere. Raft therefore commits by counting replicas
//! only entries of the leader's current term; (e) shows how the earlier entry then commits
//! safely.
//!
//! Three views of the same story:
//! 1. five `node::Node`s driven by hand, message by message, on the interaction-test driver's
//!    cluster (`tests/interaction/cluster.rs`, also played as `tests/interaction/figure8.txt`),
//!    every observation fed to the safety checker (the same code the simulator uses);
//! 2. the checker fed a hand-written trace of a *buggy* leader that does commit by counting,
//!    to show the violation would be caught;
//! 3. the shipped `scenarios/figure8.json`, which scripts the sequence with faults.

use crate::cluster;

use std::path::Path;

use cluster::{Cluster, Happening, Link, Res};
use raftsim::experiment::run::{self as world, RunOptions};
use raftsim::node::{Index, NodeId, Role};
use raftsim::observe::check::{check_records, Checker, Violation};
use raftsim::observe::trace::{parse_trace, Event, Record, TEntry};
use raftsim::scenario::Scenario;
use raftsim::world::Outcome;

// ---- a hand-driven cluster, watched by the checker ----

/// What the safety checker made of a cluster's observations.
struct Checked {
    violation: Option<Violation>,
    /// (node, from) of every truncation, in order.
    truncations: Vec<(NodeId, Index)>,
}

/// Feeds everything the cluster observed so far, in order, to a fresh safety checker: starts
/// and restarts with their durable state, crashes, and the records the simulator's witness
/// derives from each step (role, votes, log writes, commits, applies).
fn check(c: &Cluster) -> Checked {
    let mut checker = Checker::new(c.size());
    let mut checked = Checked {
        violation: None,
        truncations: Vec::new(),
    };
    let mut events = 0;
    for h in c.happenings() {
        let ev = match h.clone() {
            Happening::Start {
                node,
                hard,
                restart,
            } => {
                let log = hard.log.entries().iter().map(TEntry::from).collect();
                if restart {
                    Event::Restart {
                        node,
                        term: hard.term,
                        voted_for: hard.voted_for,
                        log,
                    }
                } else {
                    Event::Boot {
                        node,
                        term: hard.term,
                        voted_for: hard.voted_for,
                        log,
                    }
                }
            }
            Happening::Crash { node } => Event::Crash { node },
            Happening::Record(ev) => ev,
            Happening::Output { .. } => continue,
        };
        events += 1;
        if let Event::Truncate { node, from } = ev {
            checked.truncations.push((node, from));
        }
        if checked.violation.is_none() {
            if let Err(v) = checker.observe(&Record { t: 0, ev }, events) {
                checked.violation = Some(v);
            }
        }
    }
    checked
}

fn assert_safe(c: &Cluster) {
    if let Some(v) = check(c).violation {
        panic!("{v}");
    }
}

/// Five nodes whose durable state is term 1 and log [1]; disks complete at once; one entry
/// per AppendEntries, so the leader can be stopped between entries.
fn cluster() -> Res<Cluster> {
    Cluster::parse("nodes=5 log=1 term=1 disk=instant max-entries=1")
}

/// Plays Figure 8 (a)–(c): returns the cluster with S1 leader of term 4, the term-2 entry at
/// index 2 stored on S1, S2, S3 and S4, and S1's own term-4 entry at index 3 on S1 only.
fn figure8_through_c() -> Res<Cluster> {
    // Every server holds entry 1 (term 1).
    let mut c = cluster()?;

    // (a) S1 is elected for term 2 and replicates its entry at index 2 to S2 only.
    c.tick_election(1)?;
    for p in 2..=5 {
        c.deliver_link(1, p);
    }
    for p in 2..=5 {
        c.deliver_link(p, 1);
    }
    assert_eq!(c.node(1).role(), Role::Leader);
    assert_eq!(c.node(1).term(), 2);
    assert_eq!(
        c.durable_terms(1),
        vec![1, 2],
        "the new leader's entry 2 is of term 2"
    );
    c.deliver_link(1, 2);
    c.deliver_link(2, 1);
    c.drop(&[Link::ALL]);
    assert_eq!(c.durable_terms(2), vec![1, 2]);
    assert_eq!(c.node(1).commit_index(), 0, "2 of 5 is no majority");

    // (b) S1 crashes; S5 is elected for term 3 with votes from S3, S4 and itself, and
    // accepts a different entry at index 2 (its own, of term 3), which reaches nobody.
    c.crash(1)?;
    c.tick_election(5)?;
    for p in [3, 4] {
        c.deliver_link(5, p);
        c.deliver_link(p, 5);
    }
    assert_eq!(c.node(5).role(), Role::Leader);
    assert_eq!(c.node(5).term(), 3);
    assert_eq!(c.durable_terms(5), vec![1, 3]);
    c.drop(&[Link::ALL]);

    // (c) S5 crashes; S1 restarts and is elected. Its first try (term 3) fails: S3 and S4
    // already voted in term 3. Term 4 succeeds.
    c.crash(5)?;
    c.restart(1)?;
    c.tick_election(1)?;
    for p in 2..=4 {
        c.deliver_link(1, p);
        c.deliver_link(p, 1);
    }
    assert_eq!(c.node(1).role(), Role::Candidate);
    c.tick_election(1)?;
    for p in 2..=4 {
        c.deliver_link(1, p);
        c.deliver_link(p, 1);
    }
    assert_eq!(c.node(1).role(), Role::Leader);
    assert_eq!(c.node(1).term(), 4);
    assert_eq!(
        c.durable_terms(1),
        vec![1, 2, 4],
        "S1 appended entry 3 of term 4"
    );
    // The first AppendEntries (prev = 2) fails on S3 and S4, which lack entry 2; S1 backs up
    // and sends entry 2 (term 2), which they accept. The one to S2 is lost.
    c.drop(&[Link::to(2)]);
    for p in [3, 4] {
        c.deliver_link(1, p); // prev 2: rejected
        c.deliver_link(p, 1);
        c.deliver_link(1, p); // entry 2
        c.deliver_link(p, 1); // success, match 2
    }
    // S1 now sends entry 3; that is lost.
    c.drop(&[Link::ALL]);
    Ok(c)
}

/// §5.4.2, Figure 8 (c)–(d): the term-2 entry is on a majority but S1 does not commit it;
/// S5 is then elected and overwrites it, and no committed entry is lost.
#[test]
fn figure8_correct_raft_does_not_commit_an_old_term_entry_by_counting() -> Res<()> {
    let mut c = figure8_through_c()?;
    for id in 1..=4 {
        assert_eq!(
            c.durable_terms(id)[..2],
            [1, 2],
            "S{id} stores entry 2 of term 2"
        );
    }
    // Reference: §5.4.2. Four of five servers store it, S1 knows three of them do (itself,
    // S3, S4), and it is still not committed: it is not from S1's current term.
    assert_eq!(c.node(1).commit_index(), 0);
    assert_safe(&c);

    // (d) S1 crashes. S5 restarts; its term-4 candidacy fails (S2..S4 voted for S1 in term 4),
    // its term-5 one wins with the votes of S2, S3 and S4: its last entry (term 3) is more up
    // to date than theirs (term 2).
    c.crash(1)?;
    c.restart(5)?;
    c.tick_election(5)?;
    for p in 2..=4 {
        c.deliver_link(5, p);
        c.deliver_link(p, 5);
    }
    assert_eq!(c.node(5).role(), Role::Candidate);
    c.tick_election(5)?;
    for p in 2..=4 {
        c.deliver_link(5, p);
        c.deliver_link(p, 5);
    }
    assert_eq!(c.node(5).role(), Role::Leader);
    assert_eq!(c.node(5).term(), 5);
    // S5 replicates its log, overwriting entry 2 everywhere; S1 restarts and follows.
    c.stabilize()?;
    c.restart(1)?;
    c.tick_heartbeat(5)?;
    c.stabilize()?;
    c.tick_heartbeat(5)?;
    c.stabilize()?;
    for id in 1..=5 {
        assert_eq!(c.durable_terms(id), vec![1, 3, 5], "S{id}'s log");
        assert_eq!(c.node(id).commit_index(), 3, "S{id}'s commit index");
    }
    let truncations = check(&c).truncations;
    for id in 1..=4 {
        assert!(
            truncations.contains(&(id, 2)),
            "S{id} overwrote entry 2 ({truncations:?})"
        );
    }
    // State Machine Safety and the rest held at every step: the term-2 entry was never
    // committed, so overwriting it lost nothing.
    assert_safe(&c);
    Ok(())
}

/// §5.4.2, Figure 8 (e): once S1 replicates an entry of its own term (index 3, term 4) on a
/// majority, it commits it and, indirectly, entry 2; S5 can then no longer win an election.
#[test]
fn figure8_an_entry_of_the_current_term_commits_the_older_one() -> Res<()> {
    let mut c = figure8_through_c()?;
    // This time S1's entry 3 reaches S3 and S4: the heartbeat (prev 3) fails, S1 backs up
    // and sends entry 3, which they accept.
    c.tick_heartbeat(1)?;
    c.drop_where(|e| e.to != 3 && e.to != 4);
    for p in [3, 4] {
        for _ in 0..2 {
            c.deliver_link(1, p);
            c.deliver_link(p, 1);
        }
    }
    assert_eq!(
        c.node(1).commit_index(),
        3,
        "entry 3 (term 4) commits, and 2 with it"
    );
    c.drop(&[Link::ALL]);

    // S1 crashes; S5 restarts and times out repeatedly, but S3 and S4 hold a last entry of
    // term 4 and refuse it (§5.4.1), so it never gets a majority.
    c.crash(1)?;
    c.restart(5)?;
    for _ in 0..3 {
        c.tick_election(5)?;
        for p in 2..=4 {
            c.deliver_link(5, p);
            c.deliver_link(p, 5);
        }
        assert_ne!(c.node(5).role(), Role::Leader);
    }
    // S3 is elected instead, keeps entries 2 and 3, and brings everyone up to date.
    c.tick_election(3)?;
    c.stabilize()?;
    assert_eq!(c.node(3).role(), Role::Leader);
    c.restart(1)?;
    c.tick_heartbeat(3)?;
    c.stabilize()?;
    c.tick_heartbeat(3)?;
    c.stabilize()?;
    let leader_log = c.durable_terms(3);
    assert_eq!(leader_log[..3], [1, 2, 4]);
    for id in 1..=5 {
        assert_eq!(c.durable_terms(id), leader_log, "S{id}'s log");
    }
    assert_safe(&c);
    Ok(())
}

// ---- the checker would catch a leader that commits by counting ----

fn e(term: u64) -> TEntry {
    TEntry {
        term,
        ..Default::default()
    }
}

/// A trace of Figure 8 in which S1 (leader of term 4) commits the term-2 entry by counting
/// S1, S2, S3 — the bug §5.4.2 warns of — and S5 is later elected and overwrites it.
/// `with_s5_leader` = false leaves out S5's `leader` event (as if the election were not
/// traced), so the overwrite itself must be caught.
///
/// Each leader's votes are in the trace, as the simulator records them (a granted reply sent).
fn buggy_figure8_trace(with_s5_leader: bool) -> Vec<Record> {
    let vote = |node, candidate, term| Event::Vote {
        node,
        candidate,
        term,
        granted: true,
        reason: None,
    };
    let mut evs = vec![Event::Start {
        nodes: 5,
        seed: 0,
        scenario: "figure8-buggy".into(),
        drawn: None,
        voters: None,
        node: None,
        config_effect: None,
    }];
    for node in 1..=5 {
        evs.push(Event::Boot {
            node,
            term: 1,
            voted_for: None,
            log: vec![e(1)],
        });
    }
    evs.extend([
        // (a)
        Event::Election { node: 1, term: 2 },
        vote(2, 1, 2),
        vote(3, 1, 2),
        Event::role(1, Role::Leader, 2),
        Event::Leader {
            node: 1,
            term: 2,
            votes: 3,
        },
        Event::Append {
            node: 1,
            index: 2,
            entries: vec![e(2)],
        },
        Event::Append {
            node: 2,
            index: 2,
            entries: vec![e(2)],
        },
        // (b)
        Event::Crash { node: 1 },
        Event::Election { node: 5, term: 3 },
        vote(3, 5, 3),
        vote(4, 5, 3),
        Event::role(5, Role::Leader, 3),
        Event::Leader {
            node: 5,
            term: 3,
            votes: 3,
        },
        Event::Append {
            node: 5,
            index: 2,
            entries: vec![e(3)],
        },
        Event::Crash { node: 5 },
        // (c)
        Event::Restart {
            node: 1,
            term: 2,
            voted_for: Some(1),
            log: vec![e(1), e(2)],
        },
        Event::Election { node: 1, term: 4 },
        vote(2, 1, 4),
        vote(3, 1, 4),
        Event::role(1, Role::Leader, 4),
        Event::Leader {
            node: 1,
            term: 4,
            votes: 3,
        },
        Event::Append {
            node: 1,
            index: 3,
            entries: vec![e(4)],
        },
        Event::Append {
            node: 3,
            index: 2,
            entries: vec![e(2)],
        },
        // The bug: entry 2 (term 2) is on S1, S2, S3 and the term-4 leader commits it.
        Event::Commit {
            node: 1,
            commit_index: 2,
        },
        Event::Commit {
            node: 3,
            commit_index: 2,
        },
        // (d)
        Event::Crash { node: 1 },
        Event::Restart {
            node: 5,
            term: 3,
            voted_for: Some(5),
            log: vec![e(1), e(3)],
        },
    ]);
    if with_s5_leader {
        evs.push(Event::Election { node: 5, term: 5 });
        for v in [2, 3, 4] {
            evs.push(vote(v, 5, 5));
        }
        evs.push(Event::role(5, Role::Leader, 5));
        evs.push(Event::Leader {
            node: 5,
            term: 5,
            votes: 4,
        });
    }
    evs.extend([
        Event::role(3, Role::Follower, 5),
        Event::Truncate { node: 3, from: 2 },
        Event::Append {
            node: 3,
            index: 2,
            entries: vec![e(3)],
        },
    ]);
    evs.into_iter()
        .enumerate()
        .map(|(i, ev)| Record { t: i as u64, ev })
        .collect()
}

#[test]
fn checker_catches_a_leader_that_commits_an_old_term_entry_by_counting() {
    // S5 becomes leader without the committed entry 2: Leader Completeness (§5.4).
    let trace = buggy_figure8_trace(true);
    let (_, v) = check_records(5, &trace);
    let v = v.expect("the buggy commit is caught");
    assert_eq!(v.property, "Leader Completeness");
    let at = v.event_index as usize - 1;
    assert!(
        matches!(
            trace[at].ev,
            Event::Leader {
                node: 5,
                term: 5,
                ..
            }
        ),
        "caught at S5's election, got {:?}",
        trace[at]
    );

    // Without that event, S3 deleting its committed entry 2 is caught: State Machine Safety.
    let trace = buggy_figure8_trace(false);
    let v = check_records(5, &trace).1.expect("the overwrite is caught");
    assert_eq!(v.property, "State Machine Safety");
    assert!(matches!(
        trace[v.event_index as usize - 1].ev,
        Event::Truncate { node: 3, from: 2 }
    ));
}

// ---- the shipped scenario ----

fn figure8_scenario() -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/figure8.json"))
        .expect("scenarios/figure8.json loads")
}

fn run_trace(sc: &Scenario, seed: u64) -> (world::RunReport, Vec<Record>) {
    let r = world::run(
        sc,
        seed,
        RunOptions {
            trace: true,
            ..Default::default()
        },
    );
    let text = String::from_utf8(r.trace.as_ref().unwrap().bytes().to_vec()).unwrap();
    let recs = parse_trace(&text).expect("own trace parses");
    (r, recs)
}

/// Each node's log after the events before time `t`, rebuilt from the trace.
fn logs_before(recs: &[Record], nodes: usize, t: u64) -> Vec<Vec<u64>> {
    let mut logs = vec![Vec::new(); nodes + 1];
    for r in recs.iter().take_while(|r| r.t < t) {
        match &r.ev {
            Event::Boot { node, log, .. } | Event::Restart { node, log, .. } => {
                logs[*node as usize] = log.iter().map(|e| e.term).collect()
            }
            Event::Append { node, entries, .. } => {
                logs[*node as usize].extend(entries.iter().map(|e| e.term))
            }
            Event::Truncate { node, from } => logs[*node as usize].truncate(*from as usize - 1),
            _ => {}
        }
    }
    logs
}

#[test]
fn figure8_scenario_plays_the_figure_and_stays_safe() {
    let sc = figure8_scenario();
    let (r, recs) = run_trace(&sc, sc.seed);
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(r.violation.is_none(), "{:?}", r.violation);

    let leaders: Vec<(u64, u32)> = recs
        .iter()
        .filter_map(|r| match r.ev {
            Event::Leader { node, term, .. } => Some((term, node)),
            _ => None,
        })
        .collect();
    assert_eq!(
        leaders,
        vec![(2, 1), (3, 5), (4, 1), (5, 5)],
        "leaders by term"
    );
    let s5_elected = recs
        .iter()
        .find(|r| {
            matches!(
                r.ev,
                Event::Leader {
                    node: 5,
                    term: 5,
                    ..
                }
            )
        })
        .unwrap()
        .t;

    // (c), just before S1 crashes at 525ms: entry 2 of term 2 is on n1..n4, a majority...
    let ms = 1_000_000;
    let logs = logs_before(&recs, 5, 525 * ms);
    for (id, log) in logs.iter().enumerate().skip(1).take(4) {
        assert_eq!(log[..2], [1, 2], "n{id}'s log at 525ms");
    }
    assert_eq!(logs[1], vec![1, 2, 4]);
    assert_eq!(logs[5], vec![1, 3]);
    // ...and yet nothing was committed before S5's term-5 election (§5.4.2).
    let first_commit = recs
        .iter()
        .find(|r| matches!(r.ev, Event::Commit { .. }))
        .unwrap();
    assert!(first_commit.t > s5_elected, "first commit {first_commit:?}");

    // (d) S5 overwrites entry 2 on the others; everyone ends with [1, 3, 5], all committed.
    for id in 1..=4u32 {
        assert!(
            recs.iter()
                .any(|r| r.ev == Event::Truncate { node: id, from: 2 } && r.t > s5_elected),
            "n{id} truncates from 2"
        );
    }
    for (i, n) in r.nodes_at_end.iter().enumerate() {
        let n = n.as_ref().expect("every node is up at the end");
        let terms: Vec<u64> = n.log.entries().iter().map(|e| e.term).collect();
        assert_eq!(terms, vec![1, 3, 5], "n{}", i + 1);
        assert_eq!(n.commit_index, 3);
        assert_eq!(n.last_applied, 3);
    }
}

/// The scenario is scripted, not sampled: every seed plays the same events.
#[test]
fn figure8_scenario_is_the_same_for_every_seed() {
    let sc = figure8_scenario();
    let strip = |recs: Vec<Record>| -> Vec<Record> {
        recs.into_iter()
            .filter(|r| !matches!(r.ev, Event::Start { .. }))
            .collect()
    };
    let base = strip(run_trace(&sc, 1).1);
    for seed in [2, 3, 99] {
        assert_eq!(strip(run_trace(&sc, seed).1), base, "seed {seed}");
    }
}

/// Tamper with the scenario's trace so that S1 commits entry 2 when S3 and S4 acknowledge it
/// in (c) — what a leader counting replicas would do — and the offline checker flags the
/// election of S5 in (d).
#[test]
fn figure8_trace_with_a_commit_by_counting_fails_leader_completeness() {
    let sc = figure8_scenario();
    let (_, mut recs) = run_trace(&sc, sc.seed);
    assert_eq!(check_records(5, &recs).1, None);
    let at = recs
        .iter()
        .position(|r| {
            matches!(
                r.ev,
                Event::Append {
                    node: 4,
                    index: 2,
                    ..
                }
            )
        })
        .expect("n4 receives entry 2 in (c)");
    let t = recs[at].t;
    recs.insert(
        at + 1,
        Record {
            t,
            ev: Event::Commit {
                node: 1,
                commit_index: 2,
            },
        },
    );
    let v = check_records(5, &recs).1.expect("caught");
    assert_eq!(v.property, "Leader Completeness");
    assert!(matches!(
        recs[v.event_index as usize - 1].ev,
        Event::Leader {
            node: 5,
            term: 5,
            ..
        }
    ));
}
