//! A seed search finds real bugs: each injected bug (a mistake shipped by real Raft
//! implementations, see `raftsim::node::Bug`) run under `scenarios/random-faults.json`,
//! whose faults are drawn from the seed, fails the right property within a stated seed budget,
//! and the correct node passes the same seeds. The budgets are the measured first failing seeds
//! (docs/RAFT-SWITCHES.md, "Injected bugs"); a change that makes the search miss a bug fails here.

use crate::common;
use common::root;

use raftsim::experiment::explore::{explore, ExplorePlan, Finding};
use raftsim::node::Bug;
use raftsim::scenario::Scenario;

fn search(bugs: &[Bug], seeds: std::ops::Range<u64>, max_failures: usize) -> Vec<Finding> {
    search_in("random-faults", bugs, seeds, max_failures)
}

fn search_in(
    scenario: &str,
    bugs: &[Bug],
    seeds: std::ops::Range<u64>,
    max_failures: usize,
) -> Vec<Finding> {
    let path = root().join(format!("scenarios/{scenario}.json"));
    let mut sc = Scenario::load(&path).expect("valid");
    sc.raft
        .bugs
        .extend(bugs.iter().map(|b| b.name().to_string()));
    let plan = ExplorePlan {
        seeds,
        max_failures,
        shard: None,
        jobs: 2,
        guided: false,
    };
    explore(&sc, &plan, &|_, _| {}).findings
}

/// The first failing seed of `bug` within `0..=budget`, and its property.
fn first_failure(bug: Bug, budget: u64) -> (u64, String) {
    let found = search(&[bug], 0..budget + 1, 1);
    let f = found
        .first()
        .unwrap_or_else(|| panic!("{bug}: no failure in seeds 0..={budget}"));
    (f.seed, f.property.clone())
}

/// The correct node passes every seed the bugs below are found in.
#[test]
fn the_correct_node_passes_the_same_seeds() {
    let found = search(&[], 0..443, 1);
    assert!(found.is_empty(), "{found:?}");
}

/// §5.4.1: a vote for a candidate whose log is behind elects a leader that lacks a committed
/// entry.
#[test]
fn no_log_check_on_vote_is_found() {
    let (seed, property) = first_failure(Bug::NoLogCheckOnVote, 5);
    assert_eq!((seed, property.as_str()), (0, "Election Restriction"));
}

/// §5.3: a follower that keeps a conflicting suffix ends up with entries that differ from the
/// same index and term elsewhere.
#[test]
fn no_truncate_on_conflict_is_found() {
    let (seed, property) = first_failure(Bug::NoTruncateOnConflict, 5);
    assert_eq!((seed, property.as_str()), (0, "Log Matching"));
}

/// §5.1: a vote reply from an earlier term, delayed past an election timeout by a delay spike,
/// is counted and elects a leader without a majority.
#[test]
fn count_stale_votes_is_found() {
    let (seed, property) = first_failure(Bug::CountStaleVotes, 10);
    assert_eq!((seed, property.as_str()), (10, "Election Safety"));
}

/// Figure 2: an acknowledgement sent before the entries are durable, then lost by a crash: the
/// leader's matchIndex for that follower stays above what it holds and it is never caught up
/// (Liveness: Convergence, seeds 19 and 24), or the leader counts it for entries it no longer
/// holds and commits an entry no majority holds (Commit Quorum: seed 15 did, until a leader
/// stopped appending a copy of a request per client retry). A vote answered before it is
/// durable and lost in a crash is cast again (Vote Uniqueness, seed 27).
#[test]
fn reply_before_persist_is_found() {
    let (seed, property) = first_failure(Bug::ReplyBeforePersist, 20);
    assert_eq!((seed, property.as_str()), (19, "Liveness: Convergence"));
}

/// §5.2: one vote per term. A candidate that steps down in its term and forgets its own vote
/// votes again.
#[test]
fn reset_vote_on_step_down_is_found() {
    let (seed, property) = first_failure(Bug::ResetVoteOnStepDown, 75);
    assert_eq!((seed, property.as_str()), (68, "Vote Uniqueness"));
}

/// §5.1: a leader cut off while a new one is elected ignores the newer leader and keeps
/// leading its old term after the faults end, so no leader is followed by every live node:
/// a liveness failure, named like any other.
#[test]
fn ignore_higher_term_is_found() {
    let (seed, property) = first_failure(Bug::IgnoreHigherTerm, 5);
    assert_eq!((seed, property.as_str()), (0, "Liveness: Leader"));
}

/// §5.4.2, Figure 8: a leader commits an entry of an earlier term by counting replicas, and a
/// later leader without it is elected.
#[test]
fn commit_old_term_by_count_is_found() {
    let (seed, property) = first_failure(Bug::CommitOldTermByCount, 442);
    assert_eq!((seed, property.as_str()), (442, "Leader Completeness"));
}

/// §5.3: a leader answers a client once its entry is committed. Answering once the entry is on
/// the leader's own disk is caught at the first answer a majority did not yet hold, by what
/// the client was told (Acknowledged Commit).
#[test]
fn ack_before_commit_is_found() {
    let (seed, property) = first_failure(Bug::AckBeforeCommit, 5);
    assert_eq!((seed, property.as_str()), (0, "Acknowledged Commit"));
    let found = search_in("random-shapes", &[Bug::AckBeforeCommit], 0..1, 1);
    assert_eq!(found.len(), 1, "random-shapes seed 0");
    assert_eq!(found[0].property, "Acknowledged Commit");
}

/// Paper §6: a leader not in C_new steps down once C_new is committed. One that goes on
/// leading is caught at the first membership change that removes a leader: seed 0 of
/// `random-membership.json` (which draws membership changes from the seed), and the scripted
/// `membership-replace-leader.json`; the correct node passes both.
#[test]
fn removed_leader_keeps_leading_is_found() {
    let found = search_in(
        "random-membership",
        &[Bug::RemovedLeaderKeepsLeading],
        0..1,
        1,
    );
    assert_eq!(found.len(), 1, "random-membership seed 0");
    assert_eq!(found[0].property, "Leader Outside Configuration");
    let found = search_in(
        "membership-replace-leader",
        &[Bug::RemovedLeaderKeepsLeading],
        0..1,
        1,
    );
    assert_eq!(found.len(), 1, "membership-replace-leader seed 0");
    for scenario in ["random-membership", "membership-replace-leader"] {
        assert!(search_in(scenario, &[], 0..1, 1).is_empty(), "{scenario}");
    }
}

/// `random-swarm.json` draws every dimension at once (switches, read path, workload) with
/// membership actions and faults from the seed: it finds the two membership bugs the other
/// budgets miss or need a scripted scenario for (`joint-commit-by-new-only` at seed 27,
/// Commit Quorum; `removed-leader-keeps-leading` at seed 0), and the correct node passes every
/// seed up to 27.
#[test]
fn random_swarm_finds_the_membership_bugs() {
    let found = search_in("random-swarm", &[Bug::JointCommitByNewOnly], 0..28, 1);
    assert_eq!(found.len(), 1, "random-swarm 0..=27");
    assert_eq!(
        (found[0].seed, found[0].property.as_str()),
        (27, "Commit Quorum")
    );
    let found = search_in("random-swarm", &[Bug::RemovedLeaderKeepsLeading], 0..1, 1);
    assert_eq!(found.len(), 1, "random-swarm seed 0");
    assert_eq!(found[0].property, "Leader Outside Configuration");
    assert!(search_in("random-swarm", &[], 0..28, 1).is_empty());
}

/// §5.1: a reply of a term the leader has left is stale. Counted as one of this term, a
/// success from the leader's previous term answers a heartbeat round of this one, so a
/// ReadIndex confirms a leadership it no longer holds: `random-clients.json` (which draws
/// the read path) fails Linearizability at seed 677 (drawn: 3 nodes, `read_path=read_index`),
/// every earlier seed and the correct node at 677 clean. No shipped budget without reads
/// finds it within 3,000 seeds but `random-faults-light.json` (seed 1129, Liveness:
/// Convergence): stale replies across a term change are rare in the drawn faults.
#[test]
fn count_stale_append_reply_is_found() {
    let found = search_in("random-clients", &[Bug::CountStaleAppendReply], 0..678, 1);
    assert_eq!(found.len(), 1, "random-clients 0..=677");
    assert_eq!(
        (found[0].seed, found[0].property.as_str()),
        (677, "Linearizability")
    );
    assert!(search_in("random-clients", &[], 677..678, 1).is_empty());
}

/// Figure 2, "Followers": the election timeout runs from the last AppendEntries from the
/// current leader or vote granted. A voter that does not restart its timer on granting stands
/// moments later, before the leader it elected is heard from: caught by "Liveness: Election
/// Timer" at seed 0 of `random-faults.json`, seed 1 of `random-shapes.json` (seed 0 clean).
#[test]
fn no_timer_restart_on_vote_is_found() {
    let (seed, property) = first_failure(Bug::NoTimerRestartOnVote, 0);
    assert_eq!((seed, property.as_str()), (0, "Liveness: Election Timer"));
    let found = search_in("random-shapes", &[Bug::NoTimerRestartOnVote], 0..2, 1);
    assert_eq!(found.len(), 1, "random-shapes 0..2");
    assert_eq!(
        (found[0].seed, found[0].property.as_str()),
        (1, "Liveness: Election Timer")
    );
}

/// `bug` first fails `property` at exactly `seed` of each `(scenario, seed)`, and the correct
/// node passes that seed.
fn found_first_at(bug: Bug, property: &str, at: &[(&str, u64)]) {
    for &(scenario, seed) in at {
        let found = search_in(scenario, &[bug], 0..seed + 1, 1);
        assert_eq!(found.len(), 1, "{bug}: {scenario} 0..={seed}");
        assert_eq!(
            (found[0].seed, found[0].property.as_str()),
            (seed, property),
            "{bug}: {scenario}"
        );
        assert!(search_in(scenario, &[], seed..seed + 1, 1).is_empty());
    }
}

/// Dissertation §6.2: CheckQuorum counts the leader once. Counting it twice, a leader of three
/// cut off from both followers leads on; "Liveness: CheckQuorum" fails it at seed 9 of
/// `random-clients.json` and seed 4 of `random-swarm.json` (both draw CheckQuorum).
#[test]
fn check_quorum_counts_leader_twice_is_found() {
    found_first_at(
        Bug::CheckQuorumCountsLeaderTwice,
        "Liveness: CheckQuorum",
        &[("random-clients", 9), ("random-swarm", 4)],
    );
}

/// Figure 2, AppendEntries receiver step 1: a stale term's AppendEntries restarts no timer.
/// With `any-append-restarts-timer` a deposed leader's heartbeats hold a server off its
/// election, and the greatest election timeout of "Liveness: Election Timer" fails it at seed
/// 0 of `random-faults.json` and `random-shapes.json`.
#[test]
fn any_append_restarts_timer_is_found() {
    found_first_at(
        Bug::AnyAppendRestartsTimer,
        "Liveness: Election Timer",
        &[("random-faults", 0), ("random-shapes", 0)],
    );
}

/// Dissertation §9.6: a pre-vote by the rule of a vote (§5.4.1). Granted without the log
/// check, "Election Restriction" fails it at seed 4 of `random-clients.json` and seed 1 of
/// `random-swarm.json` (both draw PreVote) and seed 0 of `random-membership.json` (PreVote
/// on).
#[test]
fn pre_vote_ignores_log_is_found() {
    found_first_at(
        Bug::PreVoteIgnoresLog,
        "Election Restriction",
        &[
            ("random-clients", 4),
            ("random-swarm", 1),
            ("random-membership", 0),
        ],
    );
}

/// Figure 2: votedFor is persistent. A voter whose vote never reached its disk restarts within
/// the term and votes for a second candidate.
#[test]
fn forget_vote_on_restart_is_found() {
    let found = search(&[Bug::ForgetVoteOnRestart], 0..115, 1);
    let f = found.first().expect("found within 0..=114");
    assert_eq!((f.seed, f.property.as_str()), (114, "Vote Uniqueness"));
}

/// `scenarios/random-shapes.json` draws the cluster's shape from the seed as well (3 or 5
/// nodes, 1, 2 or 64 entries per message, light load), and clock jumps among its faults: it
/// finds every bug, and the correct node passes the same seeds.
#[test]
fn drawn_shapes_find_every_bug() {
    let want: [(Bug, u64, &str); 8] = [
        (Bug::NoTruncateOnConflict, 0, "Log Matching"),
        (Bug::NoLogCheckOnVote, 0, "Election Restriction"),
        (Bug::IgnoreHigherTerm, 1, "Liveness: Leader"),
        (Bug::CountStaleVotes, 1, "Election Safety"),
        (Bug::ReplyBeforePersist, 26, "Liveness: Convergence"),
        (Bug::ForgetVoteOnRestart, 29, "Vote Uniqueness"),
        (Bug::ResetVoteOnStepDown, 82, "Vote Uniqueness"),
        (Bug::CommitOldTermByCount, 284, "Leader Completeness"),
    ];
    for (bug, seed, property) in want {
        let found = search_in("random-shapes", &[bug], 0..seed + 1, 1);
        let f = found
            .first()
            .unwrap_or_else(|| panic!("{bug}: nothing in 0..={seed}"));
        assert_eq!((f.seed, f.property.as_str()), (seed, property), "{bug}");
    }
    let clean = search_in("random-shapes", &[], 0..285, 1);
    assert!(clean.is_empty(), "{clean:?}");
}

/// Figure 2: votedFor is persistent. Short logs and a light load, so that a restarted voter is
/// asked again within its term (`scenarios/random-faults-light.json`), find it sooner.
#[test]
fn forget_vote_on_restart_is_found_under_light_load() {
    let sc = Scenario::load(&root().join("scenarios/random-faults-light.json")).expect("valid");
    let plan = |bugs: &[Bug]| {
        let mut sc = sc.clone();
        sc.raft
            .bugs
            .extend(bugs.iter().map(|b| b.name().to_string()));
        let plan = ExplorePlan {
            seeds: 0..16,
            max_failures: 1,
            shard: None,
            jobs: 2,
            guided: false,
        };
        explore(&sc, &plan, &|_, _| {}).findings
    };
    let found = plan(&[Bug::ForgetVoteOnRestart]);
    let f = found.first().expect("found within 0..=15");
    assert_eq!((f.seed, f.property.as_str()), (15, "Vote Uniqueness"));
    assert!(
        plan(&[]).is_empty(),
        "the correct node passes the same seeds"
    );
}

/// Dissertation §4, single-server changes, and the 2015 correction to it: a new leader must
/// commit an entry of its own term before it starts a change. Without it
/// (`single-server-change-without-noop`), `scenarios/membership-single-server.json` fails from
/// seed 0, on 113 of seeds 0..1000 (measured): the old leader's uncommitted C+n5 and the new
/// leader's C-n4, made from the same configuration, have disjoint majorities ({n1,n4,n5} and
/// {n2,n3}); the new leader commits by one, n1 is elected by the other without that entry
/// (Leader Completeness). The corrected node passes all 1000.
#[test]
fn single_server_change_without_noop_is_found() {
    let bug = Bug::SingleServerChangeWithoutNoop;
    let found = search_in("membership-single-server", &[bug], 0..1000, 1000);
    let f = found.first().expect("found");
    assert_eq!((f.seed, f.property.as_str()), (0, "Leader Completeness"));
    assert!(found.len() >= 50, "{} of 1000 seeds", found.len());
    let clean = search_in("membership-single-server", &[], 0..1000, 1);
    assert!(
        clean.is_empty(),
        "the corrected node: seed {:?}",
        clean.first().map(|f| f.seed)
    );
}
