//! Injected bugs: mistakes that real Raft implementations have shipped, each switchable per run
//! (`raft.bugs` in a scenario, `raftsim run --bug NAME`) so that the checker can be shown to
//! catch it. They belong to the built-in node (`crate::node`), in its
//! [`Options::bugs`](super::Options::bugs); another implementation has its own list (the
//! raft-rs adapter's is `crate::raftrs::Bug`). All are off by default ([`Bugs::NONE`]), and with none on
//! the node behaves exactly as without this switch.

/// One injected bug, by the name a scenario file and the command line use.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// votedFor is not made durable: the disk writes carry no vote for another server, so a
    /// restarted node has forgotten the votes it granted (Figure 2, persistent state).
    ForgetVoteOnRestart,
    /// A candidate that steps down to follower in its own term (it heard from that term's
    /// leader) forgets its vote, and may vote again in that term (§5.2, Figure 2).
    ResetVoteOnStepDown,
    /// The leader commits the highest index a majority holds whatever its term (§5.4.2,
    /// Figure 8).
    CommitOldTermByCount,
    /// Votes are granted without checking that the candidate's log is at least as up to date
    /// (§5.4.1).
    NoLogCheckOnVote,
    /// A follower that finds a conflicting entry overwrites the indexes it was sent and keeps
    /// the stale entries after them instead of deleting the conflicting suffix (Figure 2,
    /// AppendEntries receiver step 3).
    NoTruncateOnConflict,
    /// A leader ignores a higher term in any message but a RequestVote (a newer leader's
    /// AppendEntries, responses) and keeps leading its old term (§5.1, Figure 2 "All
    /// servers").
    IgnoreHigherTerm,
    /// Vote grants and AppendEntries replies are sent at once, before the write they depend on
    /// is durable (Figure 2: persistent state is updated on stable storage before responding).
    ReplyBeforePersist,
    /// A candidate counts granted votes from an earlier term (§5.2: votes are for one term).
    CountStaleVotes,
    /// While joint, the leader commits what a majority of C_new holds, without a majority of
    /// C_old (paper §6: joint consensus needs both). Planted to show the checker's Commit
    /// Quorum property at work.
    JointCommitByNewOnly,
    /// Single-server membership changes without the 2015 correction to the dissertation's §4:
    /// a new leader starts a change before it has committed an entry of its own term (and
    /// appends no no-op at election, so the change may be the first entry of its term); two
    /// changes made from one configuration by leaders of different terms, neither committed,
    /// then have disjoint majorities, and two leaders can each believe they lead.
    SingleServerChangeWithoutNoop,
    /// ReadIndex without its round of heartbeats (dissertation §6.4, step 3): the leader
    /// answers a read from its commit index without confirming that it still leads, so a
    /// deposed leader that has not heard of its successor answers stale reads.
    ReadIndexWithoutHeartbeat,
    /// ReadIndex before the leader has committed an entry of its own term (dissertation §6.4,
    /// step 1): a new leader's commit index may be behind what its predecessor committed and
    /// acknowledged, so its reads can miss an acknowledged write.
    ReadBeforeOwnTermCommit,
    /// A follower serving a read answers from its own state machine at once, without asking
    /// the leader for a read index (dissertation §6.4): a follower behind the leader answers
    /// stale reads.
    FollowerReadWithoutReadIndex,
    /// The lease of lease reads is the whole minimum election timeout, not shortened by the
    /// clock drift bound (dissertation §6.4.1): a leader whose clock runs slow answers reads
    /// after a successor may have been elected.
    LeaseIgnoresDrift,
    /// A leader answers a client once the client's entry is on its own disk, before a
    /// majority holds it (§5.3: a leader answers once the entry is committed): a leader that
    /// crashes then can lose a write its client was told had committed.
    AckBeforeCommit,
    /// A leader that commits a C_new without itself keeps leading (paper §6: it steps down
    /// once C_new is committed).
    RemovedLeaderKeepsLeading,
    /// A leader takes an AppendEntries reply of an earlier term as one of this term (§5.1: a
    /// server ignores replies of terms it has left): a follower's match from the leader's
    /// previous term, since overwritten, counts toward commitment.
    CountStaleAppendReply,
    /// A follower that grants its vote does not restart its election timer (Figure 2,
    /// "Followers": the timeout runs from the last AppendEntries from the current leader or
    /// vote granted): it may stand moments after voting, before the candidate it elected is
    /// heard from, and depose it. Availability only; caught by "Liveness: Election Timer".
    NoTimerRestartOnVote,
    /// CheckQuorum counts the leader twice (dissertation §6.2: a majority, the leader
    /// included once): a leader that hears from one voter fewer than a majority leads on, so
    /// a leader of three cut off from both others never steps down. Availability only; caught
    /// by "Liveness: CheckQuorum".
    CheckQuorumCountsLeaderTwice,
    /// An AppendEntries of a stale term restarts the election timer too (Figure 2,
    /// AppendEntries receiver step 1: reply false if term < currentTerm, and nothing else): a
    /// deposed leader that has not heard of its successor, and whose heartbeats still arrive,
    /// holds its followers, and the candidates of later terms, off the election the cluster
    /// needs. Availability only; caught by "Liveness: Election Timer" (the greatest timeout).
    AnyAppendRestartsTimer,
    /// With PreVote, a pre-vote is granted without the log check (dissertation §9.6: a server
    /// grants a pre-vote only if the asker's log is at least as up to date, as for a vote,
    /// §5.4.1): a lagging server wins its pre-vote, raises its term and disrupts the cluster,
    /// the very thing PreVote exists to prevent. Caught by "Election Restriction".
    PreVoteIgnoresLog,
}

impl Bug {
    /// Every bug, in the order of [`Bug::NAMES`].
    pub const ALL: [Bug; 21] = [
        Bug::ForgetVoteOnRestart,
        Bug::ResetVoteOnStepDown,
        Bug::CommitOldTermByCount,
        Bug::NoLogCheckOnVote,
        Bug::NoTruncateOnConflict,
        Bug::IgnoreHigherTerm,
        Bug::ReplyBeforePersist,
        Bug::CountStaleVotes,
        Bug::JointCommitByNewOnly,
        Bug::SingleServerChangeWithoutNoop,
        Bug::ReadIndexWithoutHeartbeat,
        Bug::ReadBeforeOwnTermCommit,
        Bug::FollowerReadWithoutReadIndex,
        Bug::LeaseIgnoresDrift,
        Bug::AckBeforeCommit,
        Bug::RemovedLeaderKeepsLeading,
        Bug::CountStaleAppendReply,
        Bug::NoTimerRestartOnVote,
        Bug::CheckQuorumCountsLeaderTwice,
        Bug::AnyAppendRestartsTimer,
        Bug::PreVoteIgnoresLog,
    ];

    /// The names, as in scenario files and on the command line.
    pub const NAMES: [&'static str; 21] = [
        "forget-vote-on-restart",
        "reset-vote-on-step-down",
        "commit-old-term-by-count",
        "no-log-check-on-vote",
        "no-truncate-on-conflict",
        "ignore-higher-term",
        "reply-before-persist",
        "count-stale-votes",
        "joint-commit-by-new-only",
        "single-server-change-without-noop",
        "read-index-without-heartbeat",
        "read-before-own-term-commit",
        "follower-read-without-read-index",
        "lease-ignores-drift",
        "ack-before-commit",
        "removed-leader-keeps-leading",
        "count-stale-append-reply",
        "no-timer-restart-on-vote",
        "check-quorum-counts-leader-twice",
        "any-append-restarts-timer",
        "pre-vote-ignores-log",
    ];

    pub fn name(self) -> &'static str {
        Bug::NAMES[self as usize]
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::NAMES
            .iter()
            .position(|&n| n == name)
            .map(|i| Bug::ALL[i])
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl std::fmt::Display for Bug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of bugs switched on for a run; [`Bugs::NONE`] by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bugs(u32);

impl Bugs {
    /// No bug: the node as it should be.
    pub const NONE: Bugs = Bugs(0);

    /// This set with `bug` switched on as well.
    pub const fn with(self, bug: Bug) -> Bugs {
        Bugs(self.0 | bug.bit())
    }

    /// Whether `bug` is switched on.
    #[inline]
    pub const fn has(self, bug: Bug) -> bool {
        self.0 & bug.bit() != 0
    }

    pub const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// The bugs switched on, in the order of [`Bug::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.into_iter().filter(move |&b| self.has(b))
    }
}

impl FromIterator<Bug> for Bugs {
    fn from_iter<I: IntoIterator<Item = Bug>>(iter: I) -> Bugs {
        iter.into_iter().fold(Bugs::NONE, Bugs::with)
    }
}

impl<'a> FromIterator<&'a Bug> for Bugs {
    fn from_iter<I: IntoIterator<Item = &'a Bug>>(iter: I) -> Bugs {
        iter.into_iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the CLI lists are the names serde reads and writes.
    #[test]
    fn names_agree_with_serde() {
        for (b, name) in Bug::ALL.iter().zip(Bug::NAMES) {
            assert_eq!(serde_json::to_string(b).unwrap(), format!("\"{name}\""));
            assert_eq!(Bug::from_name(name), Some(*b));
            assert_eq!(b.name(), name);
        }
        let all: Bugs = Bug::ALL.iter().collect();
        assert_eq!(all.iter().collect::<Vec<_>>(), Bug::ALL);
        assert!(Bugs::NONE.iter().next().is_none());
    }
}
