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
    /// The follower accepted entries up to `index`.
    pub fn on_accepted(&mut self, index: Index) {
        self.matched = self.matched.max(index);
        self.next = self.next.max(index + 1);
        self.state = ProgressState::Replicate;
    }

    /// The follower rejected; its last index is `hint`. Back up, never below what it is known
    /// to match, and probe again.
    pub fn on_rejected(&mut self, hint: Index) {
        let next = (hint + 1)
            .min(self.next.saturating_sub(1))
            .max(self.matched + 1);
        self.next = next.max(1);
        self.state = ProgressState::Probe;
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
