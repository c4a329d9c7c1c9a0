//! What a leader knows of each follower's log (paper Figure 2, "Volatile state on leaders"):
//! nextIndex and matchIndex, plus the replication state that decides how nextIndex moves.
//!
//! A follower starts in [`ProgressState::Probe`]: the leader sends from nextIndex and waits for
//! the answer before moving it, so a run of rejections walks nextIndex back one step at a time
//! (§5.3) and nothing sent optimistically can move it forward again. Once the follower accepts
//! an AppendEntries it is in [`ProgressState::Replicate`]: the leader pipelines, advancing
//! nextIndex as it sends. A rejection puts it back to probing.

use crate::protocol::{Index, NodeId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    Probe,
    Replicate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub next: Index,
    pub matched: Index,
    pub state: ProgressState,
}

/// One [`Progress`] per server id (the leader's own entry is unused).
#[derive(Clone, Debug)]
pub struct ProgressTracker {
    by_id: Vec<Progress>,
}

impl ProgressTracker {
    /// Every follower probing from `next`, matching nothing yet (a new leader's view).
    pub fn new(servers: u32, next: Index) -> ProgressTracker {
        ProgressTracker {
            by_id: vec![
                Progress {
                    next,
                    matched: 0,
                    state: ProgressState::Probe,
                };
                servers as usize
            ],
        }
    }

    pub fn get(&self, id: NodeId) -> &Progress {
        &self.by_id[id as usize - 1]
    }

    pub fn get_mut(&mut self, id: NodeId) -> &mut Progress {
        &mut self.by_id[id as usize - 1]
    }
}

impl Progress {
    /// The follower accepted entries up to `index`. Returns whether this told the leader
    /// anything new: a duplicated or reordered acknowledgement (at or below what is already
    /// matched, while pipelining) changes nothing and must not trigger another send, or every
    /// duplicate on the network would fork a replication chain that lives as long as the
    /// follower lags.
    pub fn on_accepted(&mut self, index: Index) -> bool {
        let news = index > self.matched || self.state == ProgressState::Probe;
        self.matched = self.matched.max(index);
        self.next = self.next.max(index + 1);
        self.state = ProgressState::Replicate;
        news
    }

    /// The follower rejected; `hint` is its last index, or one below the rejected
    /// prevLogIndex if that is lower (the follower's side of §5.3). Back up, never below what it
    /// is known to match, and probe again. A rejection whose retry point is not below the
    /// current nextIndex answers a probe older than the last one (reordered or duplicated): it
    /// is ignored, and the return value (whether anything changed) says not to resend.
    pub fn on_rejected(&mut self, hint: Index) -> bool {
        let next = (hint + 1).max(self.matched + 1).max(1);
        if next >= self.next {
            return false;
        }
        self.next = next;
        self.state = ProgressState::Probe;
        true
    }

    /// Whether a new entry should go out to this follower at once: while probing, no (one
    /// probe at a time; the heartbeat or the probe's answer sends the next), as in the
    /// dissertation's description of finding nextIndex (§3.5) and every production Raft.
    pub fn sends_on_propose(&self) -> bool {
        self.state == ProgressState::Replicate
    }

    /// Where the next AppendEntries to this follower starts, within a log ending at `last_index`.
    pub fn next_to_send(&self, last_index: Index) -> Index {
        self.next.clamp(1, last_index + 1)
    }

    /// `count` entries were sent from `from`. Pipelining advances nextIndex past them; probing
    /// leaves it for the reply to move (an optimistic advance would let the rejection of a later
    /// probe move nextIndex forward again, and the walk back over a long conflicting suffix
    /// would never finish under load or heartbeats).
    pub fn on_sent(&mut self, from: Index, count: usize) {
        self.next = match self.state {
            ProgressState::Probe => from,
            ProgressState::Replicate => from + count as Index,
        };
    }
}
