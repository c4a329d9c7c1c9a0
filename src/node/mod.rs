//! The built-in Raft node (paper Figure 2, §5.1–5.4), one implementation of the node
//! interface in [`crate::protocol`].
//!
//! The node holds no clock, RNG, channel or file. It never answers before what the answer
//! depends on is durable: a reply produced while a disk write is outstanding is held and sent
//! when [`Input::Persisted`] reports that write (and all before it) done.

pub use crate::protocol::*;

#[derive(Clone, Debug)]
pub struct Node {
    cfg: Config,
    term: Term,
    voted_for: Option<NodeId>,
    log: Log,
    role: Role,
    leader: Option<NodeId>,
    commit_index: Index,
    last_applied: Index,
    /// Votes received this term, as a bit per node id.
    votes: u64,
    /// Whether this candidate's own term and vote are durable yet.
    self_vote_durable: bool,
    /// The disk write that makes this candidacy's term and vote durable.
    election_seq: u64,
    next_index: Vec<Index>,
    match_index: Vec<Index>,
    /// Per follower: true until it accepts an AppendEntries this term (and again after a
    /// rejection). While probing, the leader does not advance nextIndex on sending: only
    /// replies move it, so rejections can only walk it back.
    probing: Vec<bool>,
    /// Persistence bookkeeping: the last write issued and the last one reported durable.
    persist_seq: u64,
    durable_seq: u64,
    /// Log length once each outstanding write is durable, oldest first.
    inflight_len: Vec<(u64, Index)>,
    /// How much of the log is known durable (the leader counts itself only up to here).
    durable_len: Index,
    hard_dirty: bool,
    pending_ops: Vec<LogOp>,
    /// Replies held until the write they depend on is durable.
    held: Vec<(u64, Envelope)>,
    /// Client requests the leader appended, by log index, awaiting commit.
    pending_clients: Vec<(Index, u64)>,
}

impl Node {
    /// A fresh node, or one restarted from what was durable: a follower with commitIndex 0.
    pub fn new(cfg: Config, hard: HardState) -> Node {
        assert!(
            cfg.id >= 1 && cfg.id <= cfg.cluster_size,
            "node id out of range"
        );
        assert!(cfg.cluster_size <= 64, "at most 64 nodes");
        let n = cfg.cluster_size as usize;
        let durable_len = hard.log.last_index();
        Node {
            cfg,
            term: hard.term,
            voted_for: hard.voted_for,
            log: hard.log,
            role: Role::Follower,
            leader: None,
            commit_index: 0,
            last_applied: 0,
            votes: 0,
            self_vote_durable: false,
            election_seq: 0,
            next_index: vec![1; n + 1],
            match_index: vec![0; n + 1],
            probing: vec![true; n + 1],
            persist_seq: 0,
            durable_seq: 0,
            inflight_len: Vec::new(),
            durable_len,
            hard_dirty: false,
            pending_ops: Vec::new(),
            held: Vec::new(),
            pending_clients: Vec::new(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.cfg.id
    }
    pub fn term(&self) -> Term {
        self.term
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    pub fn log(&self) -> &Log {
        &self.log
    }
    pub fn commit_index(&self) -> Index {
        self.commit_index
    }
    pub fn last_applied(&self) -> Index {
        self.last_applied
    }
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn majority(&self) -> u32 {
        self.cfg.cluster_size / 2 + 1
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> {
        let me = self.cfg.id;
        (1..=self.cfg.cluster_size).filter(move |&p| p != me)
    }

    /// Called once when the node starts (fresh or restarted): arms the election timer.
    pub fn start(&mut self, out: &mut Vec<Output>) {
        self.arm_election_timer(out);
    }

    /// Makes this node leader of its current term without an election: for scenarios that start
    /// from an established cluster (Figure 16 trials). Every node's hard state must already say
    /// this term, and the others must have voted for this node.
    pub fn bootstrap_leader(&mut self, out: &mut Vec<Output>) {
        assert_eq!(self.role, Role::Follower);
        assert_eq!(self.voted_for, Some(self.cfg.id));
        self.votes = 0;
        self.become_leader(out, false);
    }

    pub fn step(&mut self, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Timer(TimerKind::Election) => self.on_election_timeout(out),
            Input::Timer(TimerKind::Heartbeat) => self.on_heartbeat(out),
            Input::Message(env) => self.on_message(env, out),
            Input::ClientRequest { req, key, value } => self.on_client(req, key, value, out),
            Input::Persisted(seq) => self.on_persisted(seq, out),
        }
        self.flush_persist(out);
    }

    // ---- timers ----

    fn arm_election_timer(&self, out: &mut Vec<Output>) {
        out.push(Output::SetTimer {
            kind: TimerKind::Election,
            min: self.cfg.election_timeout_min,
            max: self.cfg.election_timeout_max,
        });
    }

    fn on_election_timeout(&mut self, out: &mut Vec<Output>) {
        if self.role == Role::Leader {
            return;
        }
        self.start_election(out);
    }

    fn on_heartbeat(&mut self, out: &mut Vec<Output>) {
        if self.role != Role::Leader {
            return;
        }
        self.broadcast_append(out);
        out.push(Output::SetTimer {
            kind: TimerKind::Heartbeat,
            min: self.cfg.heartbeat_interval,
            max: self.cfg.heartbeat_interval,
        });
    }

    // ---- transitions ----

    fn set_role(&mut self, role: Role, out: &mut Vec<Output>) {
        if self.role != role {
            self.role = role;
            out.push(Output::Note(Note::RoleChanged {
                role,
                term: self.term,
            }));
        }
    }

    /// Adopts a higher term (Figure 2, "All servers"): forget the vote, become follower.
    fn become_follower_of_new_term(&mut self, term: Term, out: &mut Vec<Output>) {
        assert!(term > self.term, "terms only increase");
        let was_leader = self.role == Role::Leader;
        self.term = term;
        self.voted_for = None;
        self.leader = None;
        self.hard_dirty = true;
        if self.role != Role::Follower {
            self.role = Role::Follower;
        }
        out.push(Output::Note(Note::RoleChanged {
            role: Role::Follower,
            term,
        }));
        if was_leader {
            out.push(Output::CancelTimer(TimerKind::Heartbeat));
            self.fail_pending_clients(out);
            self.arm_election_timer(out);
        }
    }

    fn start_election(&mut self, out: &mut Vec<Output>) {
        assert!(
            self.role != Role::Leader,
            "a leader does not start elections"
        );
        self.term += 1;
        self.voted_for = Some(self.cfg.id);
        self.leader = None;
        self.hard_dirty = true;
        self.votes = 0;
        self.self_vote_durable = false;
        // flush_persist at the end of this step issues this write (hard_dirty is set).
        self.election_seq = self.persist_seq + 1;
        self.role = Role::Candidate;
        out.push(Output::Note(Note::RoleChanged {
            role: Role::Candidate,
            term: self.term,
        }));
        out.push(Output::Note(Note::ElectionStarted { term: self.term }));
        self.arm_election_timer(out);
        let msg = Message::RequestVote {
            term: self.term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        let wait = self.cfg.candidate_persist == CandidatePersist::BeforeSend;
        for p in self.peers() {
            let env = Envelope {
                from: self.cfg.id,
                to: p,
                msg: msg.clone(),
            };
            if wait {
                // Held until the write issued at the end of this step is durable.
                self.held.push((self.persist_seq + 1, env));
            } else {
                out.push(Output::Send(env));
            }
        }
    }

    fn count_vote(&mut self, voter: NodeId, out: &mut Vec<Output>) {
        assert_eq!(self.role, Role::Candidate);
        self.votes |= 1u64 << (voter - 1);
        if self.votes.count_ones() >= self.majority() && self.self_vote_durable {
            self.become_leader(out, true);
        }
    }

    fn become_leader(&mut self, out: &mut Vec<Output>, elected: bool) {
        if elected {
            assert_eq!(
                self.role,
                Role::Candidate,
                "only a candidate wins an election"
            );
            assert!(
                self.votes.count_ones() >= self.majority(),
                "a leader needs a majority"
            );
        }
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        out.push(Output::Note(Note::RoleChanged {
            role: Role::Leader,
            term: self.term,
        }));
        out.push(Output::Note(Note::LeaderElected {
            term: self.term,
            votes: self.votes.count_ones(),
        }));
        out.push(Output::CancelTimer(TimerKind::Election));
        let next = self.log.last_index() + 1;
        for p in 1..=self.cfg.cluster_size as usize {
            self.next_index[p] = next;
            self.match_index[p] = 0;
            self.probing[p] = true;
        }
        // A no-op of the new term lets earlier entries commit (dissertation §6.4).
        if elected {
            self.append_local(Entry::noop(self.term), out);
        }
        self.broadcast_append(out);
        out.push(Output::SetTimer {
            kind: TimerKind::Heartbeat,
            min: self.cfg.heartbeat_interval,
            max: self.cfg.heartbeat_interval,
        });
    }

    // ---- messages ----

    fn on_message(&mut self, env: Envelope, out: &mut Vec<Output>) {
        debug_assert_eq!(env.to, self.cfg.id);
        // Figure 2: any RPC request or response with a higher term converts us to follower
        // before the message is handled.
        if env.msg.term() > self.term {
            self.become_follower_of_new_term(env.msg.term(), out);
        }
        match env.msg {
            Message::RequestVote {
                term,
                last_log_index,
                last_log_term,
            } => self.on_request_vote(env.from, term, last_log_index, last_log_term, out),
            Message::RequestVoteResp { term, granted } => {
                // A reply from another term is stale: never count it (RAFT-NOTES, Terms).
                if term == self.term && self.role == Role::Candidate && granted {
                    self.count_vote(env.from, out);
                }
            }
            Message::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => self.on_append_entries(
                env.from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                out,
            ),
            Message::AppendEntriesResp {
                term,
                success,
                index,
            } => {
                if term == self.term && self.role == Role::Leader {
                    self.on_append_resp(env.from, success, index, out);
                }
            }
        }
    }

    fn reply(&mut self, to: NodeId, msg: Message) {
        // Every reply waits for all writes issued so far, including the one this step is
        // about to issue (flush_persist assigns persist_seq + 1 if state is dirty).
        let seq = if self.hard_dirty || !self.pending_ops.is_empty() {
            self.persist_seq + 1
        } else {
            self.persist_seq
        };
        self.held.push((
            seq,
            Envelope {
                from: self.cfg.id,
                to,
                msg,
            },
        ));
    }

    fn on_request_vote(
        &mut self,
        candidate: NodeId,
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
        out: &mut Vec<Output>,
    ) {
        let deny = if term < self.term {
            Some(DenyReason::StaleTerm)
        } else if let Some(v) = self.voted_for.filter(|&v| v != candidate) {
            Some(DenyReason::AlreadyVoted(v))
        } else if !self.log.is_up_to_date(last_log_index, last_log_term) {
            Some(DenyReason::LogNotUpToDate)
        } else {
            None
        };
        match deny {
            Some(reason) => {
                out.push(Output::Note(Note::VoteDenied {
                    candidate,
                    term,
                    reason,
                }));
                self.reply(
                    candidate,
                    Message::RequestVoteResp {
                        term: self.term,
                        granted: false,
                    },
                );
            }
            None => {
                debug_assert_eq!(self.role, Role::Follower);
                if self.voted_for.is_none() {
                    self.voted_for = Some(candidate);
                    self.hard_dirty = true;
                }
                out.push(Output::Note(Note::VoteGranted { candidate, term }));
                // Reset only when granting (RAFT-NOTES, Timers).
                self.arm_election_timer(out);
                self.reply(
                    candidate,
                    Message::RequestVoteResp {
                        term: self.term,
                        granted: true,
                    },
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_entries(
        &mut self,
        leader: NodeId,
        term: Term,
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
        out: &mut Vec<Output>,
    ) {
        if term < self.term {
            self.reply(
                leader,
                Message::AppendEntriesResp {
                    term: self.term,
                    success: false,
                    index: 0,
                },
            );
            return;
        }
        // Same term: this is the current leader. A candidate of this term steps down.
        assert!(self.role != Role::Leader, "two leaders in term {term}");
        self.set_role(Role::Follower, out);
        self.leader = Some(leader);
        self.arm_election_timer(out);

        match self.log.term_at(prev_log_index) {
            Some(t) if t == prev_log_term => {}
            _ => {
                let hint = self.log.last_index().min(prev_log_index.saturating_sub(1));
                self.reply(
                    leader,
                    Message::AppendEntriesResp {
                        term: self.term,
                        success: false,
                        index: hint,
                    },
                );
                return;
            }
        }
        let last_new = prev_log_index + entries.len() as Index;
        // Skip entries we already hold; truncate at the first conflict only (a delayed or
        // duplicated AppendEntries must not cut entries that match).
        let mut i = 0;
        while i < entries.len() {
            let idx = prev_log_index + 1 + i as Index;
            match self.log.term_at(idx) {
                Some(t) if t == entries[i].term => i += 1,
                Some(_) => {
                    assert!(
                        idx > self.commit_index,
                        "truncating a committed entry at {idx}"
                    );
                    let last = self.log.last_index();
                    self.log.truncate_from(idx);
                    self.durable_len = self.durable_len.min(idx - 1);
                    // Writes still in flight were issued for the old suffix: once they land,
                    // at most the prefix before `idx` of the current log is durable.
                    for (_, len) in &mut self.inflight_len {
                        *len = (*len).min(idx - 1);
                    }
                    self.pending_ops.push(LogOp::Truncate { from: idx });
                    out.push(Output::Note(Note::Truncated {
                        from: idx,
                        last_index: last,
                    }));
                    break;
                }
                None => break,
            }
        }
        if i < entries.len() {
            let new: Vec<Entry> = entries[i..].to_vec();
            let start = self.log.last_index() + 1;
            for e in &new {
                self.log.push(*e);
            }
            out.push(Output::Note(Note::Appended {
                index: start,
                entries: new.clone(),
            }));
            self.pending_ops.push(LogOp::Append { entries: new });
        }
        if leader_commit > self.commit_index {
            let c = leader_commit.min(last_new);
            if c > self.commit_index {
                self.set_commit(c, out);
            }
        }
        self.reply(
            leader,
            Message::AppendEntriesResp {
                term: self.term,
                success: true,
                index: last_new,
            },
        );
    }

    fn on_append_resp(&mut self, from: NodeId, success: bool, index: Index, out: &mut Vec<Output>) {
        let p = from as usize;
        if success {
            if index > self.match_index[p] {
                self.match_index[p] = index;
            }
            self.next_index[p] = self.next_index[p].max(index + 1);
            self.probing[p] = false;
            self.advance_commit(out);
            if self.next_index[p] <= self.log.last_index() {
                self.send_append(from, out);
            }
        } else {
            // Back up, never below what the follower is known to match.
            let next = (index + 1)
                .min(self.next_index[p].saturating_sub(1))
                .max(self.match_index[p] + 1);
            self.next_index[p] = next.max(1);
            self.probing[p] = true;
            self.send_append(from, out);
        }
    }

    fn on_client(&mut self, req: u64, key: u32, value: u64, out: &mut Vec<Output>) {
        if self.role != Role::Leader {
            out.push(Output::ClientReply {
                req,
                reply: ClientReply::NotLeader { hint: self.leader },
            });
            return;
        }
        let index = self.append_local(
            Entry {
                term: self.term,
                command: Command::Put { req, key, value },
            },
            out,
        );
        self.pending_clients.push((index, req));
        self.broadcast_append(out);
    }

    fn fail_pending_clients(&mut self, out: &mut Vec<Output>) {
        for (_, req) in self.pending_clients.drain(..) {
            out.push(Output::ClientReply {
                req,
                reply: ClientReply::NotLeader { hint: None },
            });
        }
    }

    fn on_persisted(&mut self, seq: u64, out: &mut Vec<Output>) {
        assert!(
            seq > self.durable_seq && seq <= self.persist_seq,
            "disk writes complete in order"
        );
        self.durable_seq = seq;
        while let Some(&(s, len)) = self.inflight_len.first() {
            if s > seq {
                break;
            }
            self.durable_len = len;
            self.inflight_len.remove(0);
        }
        self.release_held(out);
        match self.role {
            // Only the write that holds this term's vote counts, not an older one that happens
            // to complete first (Figure 2: persist before responding; a vote for oneself too).
            Role::Candidate if !self.self_vote_durable && seq >= self.election_seq => {
                self.self_vote_durable = true;
                let me = self.cfg.id;
                self.count_vote(me, out);
            }
            Role::Leader => self.advance_commit(out),
            _ => {}
        }
    }

    // ---- log replication (leader) ----

    fn append_local(&mut self, e: Entry, out: &mut Vec<Output>) -> Index {
        self.log.push(e);
        let index = self.log.last_index();
        out.push(Output::Note(Note::Appended {
            index,
            entries: vec![e],
        }));
        match self.pending_ops.last_mut() {
            Some(LogOp::Append { entries }) => entries.push(e),
            _ => self.pending_ops.push(LogOp::Append { entries: vec![e] }),
        }
        index
    }

    fn broadcast_append(&mut self, out: &mut Vec<Output>) {
        for p in 1..=self.cfg.cluster_size {
            if p != self.cfg.id {
                self.send_append(p, out);
            }
        }
    }

    fn send_append(&mut self, to: NodeId, out: &mut Vec<Output>) {
        let p = to as usize;
        let next = self.next_index[p].clamp(1, self.log.last_index() + 1);
        let prev = next - 1;
        let entries = self.log.slice_from(next, self.cfg.max_entries_per_message);
        // Pipeline once the follower is known to match: assume delivery; a rejection backs
        // next_index up again. While probing, do not: an optimistic advance would let the
        // rejection of a later probe (hint = prev - 1) move next_index forward again, and under
        // load or heartbeats the walk back over a long conflicting suffix would never finish.
        self.next_index[p] = if self.probing[p] {
            next
        } else {
            next + entries.len() as Index
        };
        out.push(Output::Send(Envelope {
            from: self.cfg.id,
            to,
            msg: Message::AppendEntries {
                term: self.term,
                prev_log_index: prev,
                prev_log_term: self.log.term_at(prev).expect("prev is within the log"),
                entries,
                leader_commit: self.commit_index,
            },
        }));
    }

    /// §5.3, §5.4.2: commit the highest index held by a majority, only if it is of this term.
    fn advance_commit(&mut self, out: &mut Vec<Output>) {
        let me = self.cfg.id as usize;
        // At most 64 nodes: a stack array, no allocation on this hot path.
        let size = self.cfg.cluster_size as usize;
        let mut buf = [0 as Index; 64];
        let matched = &mut buf[..size];
        for (p, m) in matched.iter_mut().enumerate() {
            *m = if p + 1 == me {
                self.durable_len
            } else {
                self.match_index[p + 1]
            };
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let n = matched[self.majority() as usize - 1];
        if n > self.commit_index && self.log.term_at(n) == Some(self.term) {
            self.set_commit(n, out);
        }
    }

    fn set_commit(&mut self, c: Index, out: &mut Vec<Output>) {
        assert!(c > self.commit_index, "commitIndex never decreases");
        assert!(c <= self.log.last_index(), "commit beyond the log");
        self.commit_index = c;
        out.push(Output::Note(Note::Committed { commit_index: c }));
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let entry = *self
                .log
                .get(self.last_applied)
                .expect("committed entry exists");
            out.push(Output::Apply {
                index: self.last_applied,
                entry,
            });
        }
        if self.role == Role::Leader {
            let committed = self.commit_index;
            let mut k = 0;
            while k < self.pending_clients.len() {
                let (idx, req) = self.pending_clients[k];
                if idx <= committed {
                    self.pending_clients.remove(k);
                    out.push(Output::ClientReply {
                        req,
                        reply: ClientReply::Committed { index: idx },
                    });
                } else {
                    k += 1;
                }
            }
        }
    }

    /// Issues one disk write for everything this step changed.
    fn flush_persist(&mut self, out: &mut Vec<Output>) {
        if self.hard_dirty || !self.pending_ops.is_empty() {
            self.persist_seq += 1;
            self.hard_dirty = false;
            let ops = std::mem::take(&mut self.pending_ops);
            self.inflight_len
                .push((self.persist_seq, self.log.last_index()));
            out.push(Output::Persist {
                seq: self.persist_seq,
                term: self.term,
                voted_for: self.voted_for,
                ops,
            });
        }
        // Anything held for a write already durable (e.g. a denial that changed nothing) goes now.
        self.release_held(out);
    }

    /// Sends held messages whose writes are durable, in the order they were made.
    fn release_held(&mut self, out: &mut Vec<Output>) {
        let durable = self.durable_seq;
        out.extend(
            self.held
                .extract_if(.., |(s, _)| *s <= durable)
                .map(|(_, env)| Output::Send(env)),
        );
    }
}

#[cfg(test)]
mod tests {
    //! A node driven by hand: inputs in, outputs inspected. Each test names the rule it checks.
    use super::*;
    use crate::base::time::SimDuration;

    fn cfg(id: NodeId, n: u32, persist: CandidatePersist) -> Config {
        Config {
            id,
            cluster_size: n,
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            max_entries_per_message: 64,
            candidate_persist: persist,
        }
    }

    fn node(id: NodeId, n: u32, term: Term, voted_for: Option<NodeId>, terms: &[Term]) -> Node {
        let log = Log::from_entries(terms.iter().map(|&t| Entry::noop(t)).collect());
        Node::new(
            cfg(id, n, CandidatePersist::BeforeSend),
            HardState {
                term,
                voted_for,
                log,
            },
        )
    }

    fn step(n: &mut Node, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        n.step(input, &mut out);
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

    fn persist_seq(out: &[Output]) -> Option<u64> {
        out.iter().find_map(|o| match o {
            Output::Persist { seq, .. } => Some(*seq),
            _ => None,
        })
    }

    fn grant(from: NodeId, to: NodeId, term: Term) -> Input {
        msg(
            from,
            to,
            Message::RequestVoteResp {
                term,
                granted: true,
            },
        )
    }

    /// Makes `n` leader of `term` + 1 in a 3-node cluster, with every write durable.
    fn elect(n: &mut Node) {
        let out = step(n, Input::Timer(TimerKind::Election));
        let seq = persist_seq(&out).expect("the candidacy is written");
        step(n, Input::Persisted(seq));
        let term = n.term();
        let out = step(n, grant(2, 1, term));
        assert_eq!(n.role(), Role::Leader);
        if let Some(seq) = persist_seq(&out) {
            step(n, Input::Persisted(seq));
        }
    }

    fn ack(from: NodeId, term: Term, index: Index) -> Input {
        msg(
            from,
            1,
            Message::AppendEntriesResp {
                term,
                success: true,
                index,
            },
        )
    }

    /// §5.4.2 and Figure 8: a leader does not commit an entry of an earlier term by counting
    /// replicas, only by committing an entry of its own term after it.
    #[test]
    fn leader_commits_only_entries_of_its_own_term_by_counting() {
        // n1 holds [1, 2]; it is elected for term 3 and appends its no-op at 3.
        let mut n1 = node(1, 3, 2, None, &[1, 2]);
        elect(&mut n1);
        assert_eq!(n1.term(), 3);
        assert_eq!(n1.log().last_index(), 3);
        // n2 now holds entry 2 (term 2): on 2 of 3 nodes, a majority, and still not committed.
        step(&mut n1, ack(2, 3, 2));
        assert_eq!(n1.commit_index(), 0, "entry 2 is of term 2, not 3");
        // Once the term-3 entry is on a majority, it and everything before it commit.
        let out = step(&mut n1, ack(2, 3, 3));
        assert_eq!(n1.commit_index(), 3);
        let applied: Vec<Index> = out
            .iter()
            .filter_map(|o| match o {
                Output::Apply { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(applied, vec![1, 2, 3]);
    }

    /// Figure 2, AppendEntries receiver step 5: commitIndex = min(leaderCommit, index of the
    /// last new entry) — not the end of the follower's log, which may hold stale entries.
    #[test]
    fn follower_commit_is_min_of_leader_commit_and_last_new_entry() {
        // n2 holds [1, 1, 1] from term 1; the leader of term 2 has only entry 1 in common.
        let mut n2 = node(2, 3, 1, None, &[1, 1, 1]);
        let hb = |prev: Index, leader_commit: Index, entries: Vec<Entry>| {
            msg(
                1,
                2,
                Message::AppendEntries {
                    term: 2,
                    prev_log_index: prev,
                    prev_log_term: if prev == 0 { 0 } else { 1 },
                    entries,
                    leader_commit,
                },
            )
        };
        // A heartbeat proving only entry 1: commit 1, not 3, though leaderCommit is 5.
        step(&mut n2, hb(1, 5, vec![]));
        assert_eq!(n2.commit_index(), 1);
        // Entries 2 (term 2) arrive with leaderCommit 5: commit up to 2, the last new entry.
        step(&mut n2, hb(1, 5, vec![Entry::noop(2)]));
        assert_eq!(
            n2.log().last_index(),
            2,
            "the conflicting entries 2..3 are gone"
        );
        assert_eq!(n2.commit_index(), 2);
    }

    /// Figure 2, "Persistent state ... updated on stable storage before responding to RPCs":
    /// an AppendEntries success and a granted vote are sent only after the write is durable.
    #[test]
    fn replies_wait_until_what_they_depend_on_is_durable() {
        let mut n2 = node(2, 3, 1, None, &[1]);
        let out = step(
            &mut n2,
            msg(
                1,
                2,
                Message::AppendEntries {
                    term: 1,
                    prev_log_index: 1,
                    prev_log_term: 1,
                    entries: vec![Entry::noop(1)],
                    leader_commit: 0,
                },
            ),
        );
        assert!(sends(&out).is_empty(), "no ack before the entry is on disk");
        let seq = persist_seq(&out).expect("the entry is written");
        let out = step(&mut n2, Input::Persisted(seq));
        assert!(matches!(
            sends(&out)[..],
            [Envelope {
                msg: Message::AppendEntriesResp {
                    success: true,
                    index: 2,
                    ..
                },
                ..
            }]
        ));

        let out = step(
            &mut n2,
            msg(
                3,
                2,
                Message::RequestVote {
                    term: 2,
                    last_log_index: 2,
                    last_log_term: 1,
                },
            ),
        );
        assert!(
            sends(&out).is_empty(),
            "no vote before term and vote are on disk"
        );
        let seq = persist_seq(&out).expect("term and vote are written");
        let out = step(&mut n2, Input::Persisted(seq));
        assert_eq!(sends(&out).len(), 1);
        assert_eq!(n2.voted_for(), Some(3));
    }

    /// §5.2 with Figure 2's persistence rule, for a candidate that sends RequestVote while its
    /// own write is in flight: its own vote counts only once *that* write is durable. An older
    /// write completing first is not enough — had it been, a crash could make the node forget
    /// a vote it had counted, vote again, and let two leaders win the same term.
    #[test]
    fn candidate_counts_itself_only_when_its_own_vote_is_durable() {
        let mut n1 = Node::new(
            cfg(1, 3, CandidatePersist::Parallel),
            HardState {
                term: 1,
                voted_for: None,
                log: Log::from_entries(vec![Entry::noop(1)]),
            },
        );
        // A write from term 1 is still in flight (an entry from the leader of term 1).
        let out = step(
            &mut n1,
            msg(
                2,
                1,
                Message::AppendEntries {
                    term: 1,
                    prev_log_index: 1,
                    prev_log_term: 1,
                    entries: vec![Entry::noop(1)],
                    leader_commit: 0,
                },
            ),
        );
        let older = persist_seq(&out).unwrap();
        // The election starts: term 2 and the vote for itself go to disk as a later write.
        let out = step(&mut n1, Input::Timer(TimerKind::Election));
        let own = persist_seq(&out).unwrap();
        assert!(own > older);
        assert_eq!(
            sends(&out).len(),
            2,
            "Parallel: RequestVote goes out at once"
        );
        step(&mut n1, grant(3, 1, 2));
        step(&mut n1, Input::Persisted(older));
        assert_eq!(
            n1.role(),
            Role::Candidate,
            "its own vote is not durable yet"
        );
        step(&mut n1, Input::Persisted(own));
        assert_eq!(n1.role(), Role::Leader);
    }

    /// §5.3, the consistency check walking nextIndex back over a long conflicting suffix while
    /// heartbeats keep probing. Regression: seed 18 (and 501, 573, ...) of FAULTY_UNDER_LOAD in
    /// tests/replication.rs, where a deposed leader rejoined with 54 uncommitted entries and
    /// never caught up: each heartbeat was sent from an optimistically advanced nextIndex, so
    /// every new probe started again from the top, and with 5% loss no chain of probes and
    /// rejections lived the 54 round trips needed to walk back.
    #[test]
    fn a_long_conflicting_suffix_is_repaired_despite_heartbeats() {
        let leader_log: Vec<Term> = [vec![1; 41], vec![4; 160]].concat();
        let follower_log: Vec<Term> = [vec![1; 41], vec![2; 54]].concat();
        let mut n1 = node(1, 3, 4, Some(1), &leader_log);
        let mut n2 = node(2, 3, 4, Some(1), &follower_log);
        let mut to_n2: Vec<Envelope> = Vec::new();
        let mut out = Vec::new();
        // Every 8th message is lost.
        let mut sent = 0u32;
        let mut lost = |_: &Envelope| {
            sent += 1;
            sent.is_multiple_of(8)
        };
        n1.bootstrap_leader(&mut out);
        for round in 0..200 {
            if n2.log() == n1.log() {
                assert!(round < 100, "took {round} rounds");
                return;
            }
            // A heartbeat every round, as under load or with a short heartbeat interval.
            out.extend(step(&mut n1, Input::Timer(TimerKind::Heartbeat)));
            to_n2.extend(sends(&out).into_iter().filter(|e| e.to == 2).cloned());
            out.clear();
            to_n2.retain(|e| !lost(e));
            let mut to_n1 = Vec::new();
            for env in to_n2.drain(..) {
                let o = step(&mut n2, Input::Message(env));
                let mut released: Vec<Envelope> = sends(&o).into_iter().cloned().collect();
                if let Some(seq) = persist_seq(&o) {
                    let o = step(&mut n2, Input::Persisted(seq));
                    released.extend(sends(&o).into_iter().cloned());
                }
                to_n1.extend(released);
            }
            to_n1.retain(|e| !lost(e));
            for env in to_n1 {
                out.extend(step(&mut n1, Input::Message(env)));
            }
        }
        panic!(
            "n2 never caught up: {} of {} entries",
            n2.log().last_index(),
            n1.log().last_index()
        );
    }

    /// Figure 2: the leader counts itself in a majority only for entries on its own disk.
    #[test]
    fn leader_counts_itself_only_for_durable_entries() {
        let mut n1 = node(1, 3, 0, None, &[]);
        elect(&mut n1);
        let term = n1.term();
        step(&mut n1, ack(2, term, 1));
        assert_eq!(n1.commit_index(), 1);
        let out = step(
            &mut n1,
            Input::ClientRequest {
                req: 7,
                key: 0,
                value: 7,
            },
        );
        let seq = persist_seq(&out).unwrap();
        // n3 acks entry 2 before the leader's own write lands: n3 alone is not a majority.
        step(&mut n1, ack(3, term, 2));
        assert_eq!(n1.commit_index(), 1);
        let out = step(&mut n1, Input::Persisted(seq));
        assert_eq!(n1.commit_index(), 2);
        assert!(out.contains(&Output::ClientReply {
            req: 7,
            reply: ClientReply::Committed { index: 2 },
        }));
    }
}
