//! Membership changes (paper §6; dissertation §4).
//!
//! Two ways, by [`Options::single_server_changes`](super::Options::single_server_changes):
//!
//! - **Joint consensus** (paper §6, the default): a change goes C_old → C_old,new → C_new,
//!   each a [`Command::Config`] entry in the log. While joint, elections and commitment need
//!   separate majorities of C_old and of C_new ([`Quorum`]). The leader appends C_new once
//!   C_old,new is committed, and, if it is not in C_new, steps down once C_new is committed
//!   (it managed the cluster meanwhile without counting itself in C_new's majority).
//! - **Single-server changes** (dissertation §4.1–4.3): each configuration entry adds or
//!   removes one server, so any majority of the old configuration and any of the new overlap
//!   and no joint phase is needed. Only one change at a time (§4.1: the next waits until the
//!   last is committed), and, the 2015 correction to §4, not before the leader has committed
//!   an entry of its own term (its no-op): otherwise two changes proposed by leaders of
//!   different terms, neither committed, can elect two leaders in one term. A request that
//!   adds or removes several servers is carried out one server at a time (additions first).
//!
//! Every server uses the latest configuration in its log, committed or not:
//! `config_appended` switches to a configuration entry as soon as it is appended, and a
//! truncation that removes it goes back to the one before (`config_from_log`).
//!
//! Servers beyond the initial voters ([`Config::initial_voters`]) start as non-voting
//! members: they take entries from whoever leads them but never stand for election while
//! outside their own configuration. Before a leader appends a configuration that adds
//! servers, it catches them up as non-voting members (dissertation §4.2.1), so that the new
//! configuration does not wait for them to commit: in rounds, each replicating up to the
//! leader's last index at its start; when a round ends within an election timeout (counted in
//! heartbeats: the node has no clock) the servers are caught up and the configuration is
//! appended. After [`Options::catch_up_rounds`](super::Options::catch_up_rounds) rounds (default [`DEFAULT_CATCH_UP_ROUNDS`](super::DEFAULT_CATCH_UP_ROUNDS)), or
//! when the servers' progress has not moved for two election timeouts (one is down), the
//! leader gives up the change. Each round, the catch-up and an abort are noted in the trace.
//!
//! With no configuration entry in any log and no change asked for, the node behaves as with
//! fixed membership.

use super::quorum::{Majority, Quorum};
use super::{Bug, Node, RoleState};
use crate::protocol::*;

/// A membership change the leader is carrying out for the operator: the voters asked for, and
/// the catch-up of the servers its next configuration adds (dissertation §4.2.1). Volatile: a
/// new leader knows nothing of it (a joint configuration in its log it completes all the same,
/// paper §6).
#[derive(Clone, Debug)]
pub struct Change {
    /// The voters asked for.
    target: u64,
    /// Servers being caught up before a configuration adds them (a bit set); 0 when none.
    pub(super) learners: u64,
    /// The current catch-up round (1-based; 0 before the first): it ends when every learner
    /// holds `round_end`, the leader's last index when the round started.
    round: u32,
    round_end: Index,
    /// Heartbeats since the round started.
    round_beats: u32,
    /// The least the learners held at the last heartbeat, and for how many heartbeats that
    /// has not grown: a learner that is down or cannot keep up at all is given up on.
    mark: Index,
    stalled_beats: u32,
    /// The learners are caught up: the configuration that adds them may be appended.
    caught_up: bool,
}

/// The configuration before the log holds any configuration entry.
pub(super) fn initial_quorum(cfg: &Config) -> Quorum {
    if cfg.initial_voters == 0 {
        Quorum::single(Majority::of_size(cfg.cluster_size))
    } else {
        Quorum::single(Majority::new(voter_ids(cfg.initial_voters)))
    }
}

/// One step of a single-server change from `current` toward `target` (dissertation §4.1): add
/// the lowest-numbered server missing, or else remove the lowest-numbered one too many other
/// than `me` (a leader removes itself last, as it steps down once that commits).
fn one_step(current: u64, target: u64, me: NodeId) -> u64 {
    let add = target & !current;
    if add != 0 {
        return current | (add & add.wrapping_neg());
    }
    let remove = current & !target;
    let others = remove & !(1u64 << (me - 1));
    let pick = if others != 0 { others } else { remove };
    current & !(pick & pick.wrapping_neg())
}

/// The least matchIndex among `servers` (a bit set), as the leader knows it.
fn least_matched(l: &super::leader::Leadership, servers: u64) -> Index {
    voter_ids(servers)
        .into_iter()
        .map(|p| l.progress.get(p).matched)
        .min()
        .unwrap_or(0)
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

    /// Whether `p` is a server the leader is catching up (it replicates to it as to a voter,
    /// but never counts it).
    #[inline]
    pub(super) fn is_learner(&self, p: NodeId) -> bool {
        match &self.role {
            RoleState::Leader(l) => l
                .change
                .as_ref()
                .is_some_and(|c| (c.learners >> (p - 1)) & 1 != 0),
            _ => false,
        }
    }

    /// The operator's request to make `voters` the configuration. Only a leader with no change
    /// under way (none asked of it still in progress, its latest configuration committed and
    /// not joint) takes one; anything else is ignored, as is a request naming a server outside
    /// the cluster or changing nothing.
    pub(super) fn change_membership(&mut self, voters: u64, out: &mut Vec<Output>) {
        let outside = self.cfg.cluster_size < 64 && voters >> self.cfg.cluster_size != 0;
        let RoleState::Leader(l) = &self.role else {
            return;
        };
        if voters == 0
            || outside
            || l.change.is_some()
            || self.quorum.is_joint()
            || self.config_index > self.commit_index
            || voter_mask(self.quorum.new_voters()) == voters
        {
            return;
        }
        self.leadership().change = Some(Change {
            target: voters,
            learners: 0,
            round: 0,
            round_end: 0,
            round_beats: 0,
            mark: 0,
            stalled_beats: 0,
            caught_up: false,
        });
        self.advance_change(out);
    }

    /// The leader's heartbeat: a catch-up round counts it.
    pub(super) fn change_heartbeat(&mut self, out: &mut Vec<Output>) {
        let l = self.leadership();
        let Some(c) = l.change.as_ref() else {
            return;
        };
        if c.learners == 0 || c.caught_up {
            return;
        }
        let held = least_matched(l, c.learners);
        let c = l.change.as_mut().expect("checked above");
        c.round_beats += 1;
        if held > c.mark {
            c.mark = held;
            c.stalled_beats = 0;
        } else {
            c.stalled_beats += 1;
        }
        self.advance_change(out);
    }

    /// Moves the change asked of this leader on, as far as it can now: catch-up rounds, the
    /// next configuration entry, or the end of the change.
    pub(super) fn advance_change(&mut self, out: &mut Vec<Output>) {
        let RoleState::Leader(l) = &self.role else {
            return;
        };
        let Some(c) = &l.change else {
            return;
        };
        // One change at a time (§4.1, paper §6): the latest configuration is committed and
        // (joint consensus completes itself in on_config_committed) not joint.
        if self.quorum.is_joint() || self.config_index > self.commit_index {
            return;
        }
        let current = voter_mask(self.quorum.new_voters());
        if current == c.target || !self.quorum.contains(self.cfg.id) {
            self.leadership().change = None;
            return;
        }
        // The 2015 correction to the dissertation's §4: a leader starts a single-server change
        // only once it has committed an entry of its own term. Injected bug
        // `single-server-change-without-noop`: it does not wait.
        if self.opts.single_server_changes
            && self.log.term_at(self.commit_index) != Some(self.term)
            && !self.bug(Bug::SingleServerChangeWithoutNoop)
        {
            return;
        }
        let next = if self.opts.single_server_changes {
            one_step(current, c.target, self.cfg.id)
        } else {
            c.target
        };
        let adding = next & !current;
        if adding != 0
            && !c.caught_up
            && self.opts.catch_up_rounds > 0
            && !self.catch_up(adding, out)
        {
            return;
        }
        let entry = if self.opts.single_server_changes {
            Command::Config { old: 0, new: next }
        } else {
            Command::Config {
                old: current,
                new: next,
            }
        };
        if let Some(c) = self.leadership().change.as_mut() {
            c.learners = 0;
            c.caught_up = false;
            c.round = 0;
        }
        self.append_local(Entry {
            term: self.term,
            command: entry,
        });
        self.broadcast_append(out);
    }

    /// Dissertation §4.2.1: catches `adding` up as non-voting members, in rounds. Returns
    /// whether they are caught up (the configuration may be appended now); gives up the change
    /// after too many rounds or election timeouts.
    fn catch_up(&mut self, adding: u64, out: &mut Vec<Output>) -> bool {
        let last = self.log.last_index();
        let me = self.cfg.id;
        let rounds = self.opts.catch_up_rounds;
        let timeout_beats = (self.cfg.election_timeout_min.0)
            .div_ceil(self.cfg.heartbeat_interval.0.max(1))
            .max(1) as u32;
        let l = self.leadership();
        let reached_index = least_matched(l, adding);
        let c = l.change.as_mut().expect("a change is under way");
        let start_round = if c.learners != adding {
            // A new set of servers to catch up (a single-server change adds one at a time).
            c.learners = adding;
            c.round = 0;
            c.mark = 0;
            c.stalled_beats = 0;
            true
        } else {
            let reached = reached_index >= c.round_end;
            if reached && c.round_beats <= timeout_beats {
                c.caught_up = true;
                out.push(Output::Note(Note::CatchUp {
                    phase: CatchUpPhase::CaughtUp,
                    servers: c.learners,
                    index: c.round_end,
                }));
                return true;
            }
            if c.round >= rounds || c.stalled_beats > 2 * timeout_beats {
                let note = Note::CatchUp {
                    phase: CatchUpPhase::Aborted,
                    servers: c.learners,
                    index: reached_index,
                };
                l.change = None;
                out.push(Output::Note(note));
                return false;
            }
            reached
        };
        if !start_round {
            return false;
        }
        c.round += 1;
        c.round_end = last;
        c.round_beats = 0;
        out.push(Output::Note(Note::CatchUp {
            phase: CatchUpPhase::Round,
            servers: c.learners,
            index: last,
        }));
        for p in voter_ids(adding) {
            if p != me {
                self.send_append(p, out);
            }
        }
        false
    }

    /// After the leader's commitIndex moved: C_old,new committed makes it append C_new;
    /// C_new committed without it makes it step down (paper §6); a change asked of it moves on.
    pub(super) fn on_config_committed(&mut self, out: &mut Vec<Output>) {
        if !matches!(self.role, RoleState::Leader(_)) {
            return;
        }
        if self.config_index == 0 || self.config_index > self.commit_index {
            self.advance_change(out);
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
        } else if !self.quorum.contains(self.cfg.id) && !self.bug(Bug::RemovedLeaderKeepsLeading) {
            self.step_down_without_quorum(out);
        } else {
            // Injected bug `removed-leader-keeps-leading`, breaking paper §6 (a leader not in
            // C_new steps down once C_new is committed): it goes on leading a cluster it is
            // not part of.
            self.advance_change(out);
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
    use super::super::Bugs;
    use super::*;

    const OLD: u64 = 0b00111; // {n1, n2, n3}

    fn node(id: NodeId) -> Node {
        let cfg = Config {
            initial_voters: OLD,
            ..Config::new(id, 5)
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
                    round: 0,
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
        n1.opts.catch_up_rounds = 0; // the configuration at once
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
        n1.opts.catch_up_rounds = 0; // the configuration at once
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
                    round: 0,
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

    /// A node of a 5-node cluster whose voters are {n1..n4}, making single-server changes.
    fn single_server_leader(bugs: Bugs) -> Node {
        let mut n1 = node(1);
        n1.cfg.initial_voters = 0b01111;
        n1.opts.single_server_changes = true;
        n1.opts.catch_up_rounds = 0;
        n1.opts.bugs = bugs;
        n1.quorum = initial_quorum(&n1.cfg);
        step(&mut n1, Input::Timer(TimerKind::Election));
        for from in [2, 3] {
            step(
                &mut n1,
                Input::Message(Envelope {
                    from,
                    to: 1,
                    msg: Message::RequestVoteResp {
                        term: 1,
                        granted: true,
                    },
                }),
            );
        }
        assert_eq!(n1.role(), Role::Leader);
        n1
    }

    /// Dissertation §4 with its 2015 correction: a new leader starts a single-server change
    /// only once an entry of its own term is committed; with
    /// `single-server-change-without-noop` it appends no no-op and starts at once.
    #[test]
    fn a_new_leader_waits_for_its_no_op_before_a_single_server_change() {
        let remove_n4 = 0b00111;
        let mut n1 = single_server_leader(Bugs::NONE);
        step(&mut n1, Input::ChangeMembership { voters: remove_n4 });
        assert_eq!(n1.log().last_index(), 1, "only the no-op: the change waits");
        ack(&mut n1, 2, 1);
        ack(&mut n1, 3, 1);
        assert_eq!(n1.commit_index(), 1);
        assert_eq!(config_at(&n1, 2), Some((0, remove_n4)), "then the change");
        let mut n1 = single_server_leader(Bugs::NONE.with(Bug::SingleServerChangeWithoutNoop));
        assert_eq!(n1.log().last_index(), 0, "the bug: no no-op");
        step(&mut n1, Input::ChangeMembership { voters: remove_n4 });
        assert_eq!(
            config_at(&n1, 1),
            Some((0, remove_n4)),
            "the bug: at once, the term's first entry"
        );
    }

    /// Dissertation §4.1: one server at a time, each change only once the last is committed.
    /// Asked for {n1, n2, n5} from {n1..n4}, the leader adds n5, then removes n3, then n4.
    #[test]
    fn a_request_for_several_servers_is_made_one_server_at_a_time() {
        let mut n1 = single_server_leader(Bugs::NONE);
        ack(&mut n1, 2, 1);
        ack(&mut n1, 3, 1);
        step(&mut n1, Input::ChangeMembership { voters: 0b10011 });
        assert_eq!(config_at(&n1, 2), Some((0, 0b11111)));
        assert_eq!(n1.log().last_index(), 2, "the next step waits for this one");
        for p in [2, 3] {
            ack(&mut n1, p, 2);
        }
        assert_eq!(n1.commit_index(), 2);
        assert_eq!(config_at(&n1, 3), Some((0, 0b11011)), "n3 removed");
        for p in [2, 4] {
            ack(&mut n1, p, 3);
        }
        assert_eq!(config_at(&n1, 4), Some((0, 0b10011)), "n4 removed");
        assert_eq!(one_step(0b00111, 0b00110, 1), 0b00110);
        assert_eq!(one_step(0b00011, 0b01100, 1), 0b00111, "additions first");
        assert_eq!(
            one_step(0b01111, 0b01000, 1),
            0b01101,
            "the leader itself last"
        );
    }

    /// Dissertation §4.2.1: before C_old,new the leader catches the new servers up as
    /// non-voting members: it replicates to them but appends the configuration only once a
    /// round (up to its last index at the round's start) has ended.
    #[test]
    fn new_servers_are_caught_up_before_the_configuration_that_adds_them() {
        let mut n1 = leader();
        let out = step(&mut n1, Input::ChangeMembership { voters: 0b11111 });
        assert_eq!(n1.log().last_index(), 1, "no configuration yet");
        let to: Vec<NodeId> = out
            .iter()
            .filter_map(|o| match o {
                Output::Send(e) => Some(e.to),
                _ => None,
            })
            .collect();
        assert_eq!(to, vec![4, 5], "the learners get entries");
        assert!(out.contains(&Output::Note(Note::CatchUp {
            phase: CatchUpPhase::Round,
            servers: 0b11000,
            index: 1,
        })));
        ack(&mut n1, 4, 1);
        assert_eq!(n1.log().last_index(), 1, "n5 is not caught up");
        assert_eq!(n1.commit_index(), 1);
        ack(&mut n1, 5, 1);
        assert_eq!(config_at(&n1, 2), Some((OLD, 0b11111)), "now C_old,new");
    }
}
