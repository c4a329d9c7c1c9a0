//! Each node's disk. A write completes after the write latency; the disk does one write at a
//! time, in order. A write issued while another is in flight waits for it; writes issued while
//! one is already waiting join that waiting batch (group commit), so a busy disk never builds an
//! unbounded queue. A crash loses every write not yet complete. The durable state (`hard`)
//! changes only when a write completes.

use std::collections::VecDeque;

use super::{Ev, Simulation};
use crate::base::dist::Law;
use crate::base::rng::Rng;
use crate::base::time::{SimDuration, SimTime};
use crate::observe::Observer;
use crate::protocol::{Command, Index, Input, Log, LogOp, NodeId, RaftNode, Term};

/// One batch of writes that complete together.
struct PendingWrite {
    /// The first and last write (by the node's sequence number) in this batch.
    first_seq: u64,
    seq: u64,
    /// When the disk starts this batch.
    start: SimTime,
    term: Term,
    voted_for: Option<NodeId>,
    commit: Index,
    ops: Vec<LogOp>,
}

/// One write a node issued: the durable state it asks for, and its log operations.
pub struct Write {
    /// The node's sequence number for this write.
    pub seq: u64,
    pub term: Term,
    pub voted_for: Option<NodeId>,
    pub commit: Index,
    pub ops: Vec<LogOp>,
}

pub struct Disk {
    rng: Rng,
    /// When the disk finishes what it has been given.
    free: SimTime,
    queue: VecDeque<PendingWrite>,
}

impl Disk {
    pub fn new(rng: Rng) -> Disk {
        Disk {
            rng,
            free: SimTime::ZERO,
            queue: VecDeque::new(),
        }
    }

    /// Takes a write issued at `now`. It joins the batch that is waiting for the disk, if one
    /// is (group commit: `None`, that batch's completion is already queued); else it starts a
    /// batch of its own, after whatever is in flight, taking a latency drawn from `latency`:
    /// `Some(when it completes)`, for the loop to queue.
    pub fn issue(&mut self, now: SimTime, latency: &Law, w: Write) -> Option<SimTime> {
        if let Some(waiting) = self.queue.back_mut().filter(|b| b.start > now) {
            waiting.seq = w.seq;
            waiting.term = w.term;
            waiting.voted_for = w.voted_for;
            waiting.commit = w.commit;
            waiting.ops.extend(w.ops);
            return None;
        }
        let took = if latency.is_zero() {
            SimDuration::ZERO
        } else {
            latency.sample(&mut self.rng)
        };
        let start = now.max(self.free);
        self.free = start + took;
        self.queue.push_back(PendingWrite {
            first_seq: w.seq,
            seq: w.seq,
            start,
            term: w.term,
            voted_for: w.voted_for,
            commit: w.commit,
            ops: w.ops,
        });
        Some(self.free)
    }

    /// A crash: writes not yet complete are lost.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.free = SimTime::ZERO;
    }

    /// The log once every write in the queue completes, starting from the durable `log`.
    pub fn log_after_writes(&self, log: &Log) -> Log {
        let mut log = log.clone();
        for w in &self.queue {
            for op in &w.ops {
                log.apply_op(op);
            }
        }
        log
    }

    /// The latest configuration entry (paper §6) of the log once every write in the queue
    /// completes, starting from the durable `log`, as (index, old, new); without building that
    /// log: the queued operations are followed by length, and the durable log is scanned back
    /// from what of it they leave standing.
    pub fn latest_config(&self, log: &Log) -> Option<(Index, u64, u64)> {
        let mut len = log.last_index();
        let mut durable = len;
        let mut pending: Vec<(Index, u64, u64)> = Vec::new();
        for op in self.queue.iter().flat_map(|w| &w.ops) {
            match op {
                LogOp::Truncate { from } => {
                    len = len.min(from.saturating_sub(1));
                    durable = durable.min(len);
                    pending.retain(|c| c.0 <= len);
                }
                LogOp::Append { entries } => {
                    for e in entries {
                        len += 1;
                        if let Command::Config { old, new } = e.command {
                            pending.push((len, old, new));
                        }
                    }
                }
            }
        }
        pending.last().copied().or_else(|| {
            log.entries()[..durable as usize]
                .iter()
                .enumerate()
                .rev()
                .find_map(|(i, e)| match e.command {
                    Command::Config { old, new } => Some((i as Index + 1, old, new)),
                    _ => None,
                })
        })
    }

    /// The (first, last) write sequence numbers of the batch that completes next.
    fn front_batch(&self) -> (u64, u64) {
        let w = self.queue.front().expect("a write is pending");
        (w.first_seq, w.seq)
    }
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// A node issued a write: the disk decides when it completes ([`Disk::issue`]), the loop
    /// queues that completion. Returns the crash-at-write watch that wants the node crashed
    /// right after this step, if one does.
    pub(super) fn write_issued(
        &mut self,
        id: NodeId,
        seq: u64,
        term: Term,
        voted_for: Option<NodeId>,
        commit: Index,
        ops: Vec<LogOp>,
    ) -> Option<usize> {
        let (now, latency) = (self.now, self.write_latency);
        let s = &mut self.slots[id as usize - 1];
        let write = Write {
            seq,
            term,
            voted_for,
            commit,
            ops,
        };
        let done = s.disk.issue(now, &latency, write);
        let incarnation = s.incarnation;
        let leader = s
            .node
            .as_ref()
            .is_some_and(|n| n.role() == crate::protocol::Role::Leader);
        let crash_now = self.faults.count_write(id, incarnation, seq, leader);
        if let Some(done) = done {
            self.queue.push(
                done,
                Ev::Disk {
                    node: id,
                    incarnation,
                    seq,
                },
            );
        }
        crash_now
    }

    /// A batch of writes completed (unless the node crashed since it was issued).
    pub(super) fn disk_done(&mut self, node: NodeId, incarnation: u32, seq: u64) {
        if self.slot(node).incarnation != incarnation {
            return;
        }
        let batch = self.slot(node).disk.front_batch();
        debug_assert_eq!(batch.0, seq, "disk writes complete in order");
        let hooked = self.faults.write_targeted(node, incarnation, batch);
        if let Some((watch, super::config::WritePoint::BeforeComplete)) = hooked {
            self.crash_for_write(node, watch);
            return;
        }
        let s = self.slot(node);
        let w = s.disk.queue.pop_front().expect("a write is pending");
        s.hard.apply_write(w.term, w.voted_for, w.commit, &w.ops);
        self.step(node, Input::Persisted(w.seq));
        if let Some((watch, super::config::WritePoint::AfterComplete)) = hooked {
            self.crash_for_write(node, watch);
        }
    }
}

#[cfg(test)]
mod tests {
    //! `latest_config` against a dumb reference: build the log the writes leave, then scan it.
    use super::*;
    use crate::protocol::Entry;
    use proptest::prelude::*;

    fn entry(config: bool, k: u64) -> Entry {
        Entry {
            term: 1,
            command: if config {
                Command::Config { old: k, new: k + 1 }
            } else {
                Command::Noop
            },
        }
    }

    fn reference(disk: &Disk, log: &Log) -> Option<(Index, u64, u64)> {
        let log = disk.log_after_writes(log);
        log.entries()
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, e)| match e.command {
                Command::Config { old, new } => Some((i as Index + 1, old, new)),
                _ => None,
            })
    }

    proptest! {
        #[test]
        fn latest_config_matches_the_log_the_writes_leave(
            durable in proptest::collection::vec(any::<bool>(), 0..20),
            writes in proptest::collection::vec(
                proptest::collection::vec((any::<bool>(), 0u64..30, proptest::collection::vec(any::<bool>(), 0..5)), 0..4),
                0..4,
            ),
        ) {
            let mut k = 0;
            let log = Log::from_entries(durable.iter().map(|&c| { k += 2; entry(c, k) }).collect());
            let mut disk = Disk::new(crate::base::rng::Rng::stream(
                0,
                crate::base::rng::Purpose::Storage,
                0,
            ));
            for (i, w) in writes.iter().enumerate() {
                let ops = w
                    .iter()
                    .flat_map(|(truncate, from, appends)| {
                        let mut ops = Vec::new();
                        if *truncate {
                            ops.push(LogOp::Truncate { from: from + 1 });
                        }
                        ops.push(LogOp::Append {
                            entries: appends.iter().map(|&c| { k += 2; entry(c, k) }).collect(),
                        });
                        ops
                    })
                    .collect();
                disk.queue.push_back(PendingWrite {
                    first_seq: i as u64,
                    seq: i as u64,
                    start: SimTime::ZERO,
                    term: 1,
                    voted_for: None,
                    commit: 0,
                    ops,
                });
            }
            prop_assert_eq!(disk.latest_config(&log), reference(&disk, &log));
        }
    }
}
