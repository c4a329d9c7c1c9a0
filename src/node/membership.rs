//! Membership changes by joint consensus (paper §6).
//!
//! A change goes C_old → C_old,new → C_new, each a [`Command::Config`] entry in the log. Every
//! server uses the latest configuration in its log, committed or not: `config_appended`
//! switches to a configuration entry as soon as it is appended, and a truncation that removes
//! it goes back to the one before (`config_from_log`). While joint, elections and
//! commitment need separate majorities of C_old and of C_new ([`Quorum`]). The leader appends
//! C_old,new when asked ([`Input::ChangeMembership`]), appends C_new once C_old,new is
//! committed, and, if it is not in C_new, steps down once C_new is committed (it managed the
//! cluster meanwhile without counting itself in C_new's majority).
//!
//! Servers beyond the initial voters ([`Config::initial_voters`]) start as non-voting
//! members: they take entries from whoever leads them but never stand for election while
//! outside their own configuration. A leader replicates to every voter of either
//! configuration; a new server is caught up once C_old,new reaches it (no separate non-voting
//! catch-up phase, dissertation §4.2.1, yet).
//!
//! With no configuration entry in any log, the node behaves as with fixed membership.

use super::quorum::{Majority, Quorum};
use super::{Node, RoleState};
use crate::protocol::*;

/// The configuration before the log holds any configuration entry.
pub(super) fn initial_quorum(cfg: &Config) -> Quorum {
    if cfg.initial_voters == 0 {
        Quorum::single(Majority::of_size(cfg.cluster_size))
    } else {
        Quorum::single(Majority::new(voter_ids(cfg.initial_voters)))
    }
}

impl Node {
    /// The configuration in use: the latest configuration entry's voters, joint or not.
    pub fn configuration(&self) -> &Quorum {
        &self.quorum
    }

    /// Re-reads the configuration from the whole log (at start, and after a truncation that
    /// removed the configuration entry in use).
    pub(super) fn config_from_log(&mut self) {
        let at = self
            .log
            .entries()
            .iter()
            .rposition(|e| matches!(e.command, Command::Config { .. }))
            .map_or(0, |i| i as Index + 1);
        self.config_index = at;
        self.quorum = match self.log.get(at).map(|e| e.command) {
            Some(Command::Config { old, new }) => quorum_of(old, new),
            _ => initial_quorum(&self.cfg),
        };
    }

    /// Entry `e` was just appended at `index`: a configuration entry takes effect at once.
    pub(super) fn config_appended(&mut self, index: Index, e: &Entry) {
        if let Command::Config { old, new } = e.command {
            self.config_index = index;
            self.quorum = quorum_of(old, new);
        }
    }

    /// The operator's request to make `voters` the configuration. Only a leader with no change
    /// under way (its latest configuration committed and not joint) starts one; anything else
    /// is ignored, as is a request naming a server outside the cluster or changing nothing.
    pub(super) fn change_membership(&mut self, voters: u64, out: &mut Vec<Output>) {
        let outside = self.cfg.cluster_size < 64 && voters >> self.cfg.cluster_size != 0;
        if !matches!(self.role, RoleState::Leader(_))
            || voters == 0
            || outside
            || self.quorum.is_joint()
            || self.config_index > self.commit_index
        {
            return;
        }
        let old = voter_mask(self.quorum.new_voters());
        if old == voters {
            return;
        }
        self.append_local(Entry {
            term: self.term,
            command: Command::Config { old, new: voters },
        });
        self.broadcast_append(out);
    }

    /// After the leader's commitIndex moved: C_old,new committed makes it append C_new;
    /// C_new committed without it makes it step down (paper §6).
    pub(super) fn on_config_committed(&mut self, out: &mut Vec<Output>) {
        if !matches!(self.role, RoleState::Leader(_))
            || self.config_index == 0
            || self.config_index > self.commit_index
        {
            return;
        }
        let Some(Command::Config { old, new }) = self.log.get(self.config_index).map(|e| e.command)
        else {
            unreachable!("config_index points at a configuration entry")
        };
        if old != 0 {
            self.append_local(Entry {
                term: self.term,
                command: Command::Config { old: 0, new },
            });
            self.broadcast_append(out);
        } else if !self.quorum.contains(self.cfg.id) {
            self.step_down_without_quorum(out);
        }
    }
}

fn quorum_of(old: u64, new: u64) -> Quorum {
    let new = Majority::new(voter_ids(new));
    if old == 0 {
        Quorum::single(new)
    } else {
        Quorum::joint(Majority::new(voter_ids(old)), new)
    }
}

#[cfg(test)]
mod tests {
    //! A leader and a follower driven by hand through a change, each test naming its rule.
    use super::*;
    use crate::base::time::SimDuration;

    const OLD: u64 = 0b00111; // {n1, n2, n3}

    fn node(id: NodeId) -> Node {
        let cfg = Config {
            id,
            cluster_size: 5,
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            max_entries_per_message: 64,
            candidate_persist: CandidatePersist::BeforeSend,
            separate_term_write: false,
            block_during_writes: false,
            leader_stickiness: false,
            initial_voters: OLD,
            seed: 0,
            bugs: Bugs::NONE,
            pre_vote: false,
            check_quorum: false,
        };
        Node::new(cfg, HardState::default())
    }

    /// Steps `n`, making every write it issues durable at once.
    fn step(n: &mut Node, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        n.step(input, &mut out);
        while let Some(seq) = out.iter().rev().find_map(|o| match o {
            Output::Persist { seq, .. } if *seq > n.durable_seq => Some(*seq),
            _ => None,
        }) {
            n.step(Input::Persisted(seq), &mut out);
        }
        out
    }

    fn ack(n: &mut Node, from: NodeId, index: Index) {
        let term = n.term();
        step(
            n,
            Input::Message(Envelope {
                from,
                to: n.id(),
                msg: Message::AppendEntriesResp {
                    term,
                    success: true,
                    index,
                },
            }),
        );
    }

    /// n1 leads term 1 of {n1, n2, n3} with its no-op committed.
    fn leader() -> Node {
        let mut n1 = node(1);
        step(&mut n1, Input::Timer(TimerKind::Election));
        step(
            &mut n1,
            Input::Message(Envelope {
                from: 2,
                to: 1,
                msg: Message::RequestVoteResp {
                    term: 1,
                    granted: true,
                },
            }),
        );
        assert_eq!(n1.role(), Role::Leader);
        ack(&mut n1, 2, 1);
        assert_eq!(n1.commit_index(), 1);
        n1
    }

    fn config_at(n: &Node, i: Index) -> Option<(u64, u64)> {
        match n.log().get(i)?.command {
            Command::Config { old, new } => Some((old, new)),
            _ => None,
        }
    }

    /// Paper §6: C_old,new commits only with majorities of both; then the leader appends
    /// C_new, which commits by C_new's majority alone.
    #[test]
    fn joint_commitment_needs_both_majorities_then_c_new_follows() {
        let mut n1 = leader();
        let new = 0b11001; // {n1, n4, n5}
        step(&mut n1, Input::ChangeMembership { voters: new });
        assert_eq!(config_at(&n1, 2), Some((OLD, new)));
        assert!(n1.configuration().is_joint(), "in use before it commits");
        // A second request while the change is under way is ignored.
        step(&mut n1, Input::ChangeMembership { voters: OLD });
        assert_eq!(n1.log().last_index(), 2);
        ack(&mut n1, 2, 2);
        assert_eq!(
            n1.commit_index(),
            1,
            "{{n1, n2}} is a majority of C_old only"
        );
        ack(&mut n1, 4, 2);
        assert_eq!(n1.commit_index(), 2, "and {{n1, n4}} one of C_new");
        assert_eq!(config_at(&n1, 3), Some((0, new)), "C_new appended");
        assert!(!n1.configuration().is_joint());
        ack(&mut n1, 5, 3);
        assert_eq!(n1.commit_index(), 3, "C_new's majority alone");
        assert_eq!(n1.role(), Role::Leader);
        assert_eq!(n1.configuration().voters(), &[1, 4, 5]);
    }

    /// Paper §6: a leader not in C_new manages the cluster without counting itself in C_new,
    /// and steps down once C_new is committed; outside its configuration it never stands.
    #[test]
    fn a_leader_not_in_c_new_steps_down_once_it_commits() {
        let mut n1 = leader();
        let new = 0b01110; // {n2, n3, n4}
        step(&mut n1, Input::ChangeMembership { voters: new });
        ack(&mut n1, 2, 2);
        assert_eq!(n1.commit_index(), 1, "n1 does not count in C_new");
        ack(&mut n1, 3, 2);
        assert_eq!(n1.commit_index(), 2);
        ack(&mut n1, 2, 3);
        assert_eq!(n1.role(), Role::Leader, "C_new not committed yet");
        ack(&mut n1, 4, 3);
        assert_eq!(n1.commit_index(), 3);
        assert_eq!(n1.role(), Role::Follower);
        step(&mut n1, Input::Timer(TimerKind::Election));
        assert_eq!(n1.role(), Role::Follower, "a non-voter does not stand");
        assert_eq!(n1.term(), 1);
    }

    /// Paper §6: a server uses the latest configuration in its log, committed or not, and goes
    /// back to the previous one when that entry is truncated away.
    #[test]
    fn a_follower_uses_its_latest_configuration_and_forgets_a_truncated_one() {
        let mut n4 = node(4);
        assert!(!n4.configuration().contains(4));
        step(&mut n4, Input::Timer(TimerKind::Election));
        assert_eq!(n4.role(), Role::Follower, "not a voter yet: does not stand");
        let append = |term: Term, entries: Vec<Entry>| {
            Input::Message(Envelope {
                from: 1,
                to: 4,
                msg: Message::AppendEntries {
                    term,
                    prev_log_index: 0,
                    prev_log_term: 0,
                    entries,
                    leader_commit: 0,
                },
            })
        };
        let joint = Entry {
            term: 1,
            command: Command::Config {
                old: OLD,
                new: 0b11111,
            },
        };
        step(&mut n4, append(1, vec![Entry::noop(1), joint]));
        assert!(n4.configuration().is_joint());
        assert!(n4.configuration().contains(4));
        step(&mut n4, append(2, vec![Entry::noop(1), Entry::noop(2)]));
        assert_eq!(n4.log().last_index(), 2);
        assert!(
            !n4.configuration().contains(4),
            "back to the initial voters"
        );
        assert_eq!(n4.configuration().voters(), &[1, 2, 3]);
    }
}
