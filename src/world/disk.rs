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

/// The laws a node's disk draws a write's time from ([`RunConfig::write_latency`] and the
/// per-kind laws that replace it for some writes).
///
/// [`RunConfig::write_latency`]: super::config::RunConfig::write_latency
#[derive(Clone, Copy)]
pub struct WriteLaws {
    pub any: Law,
    pub metadata: Option<(Law, u32)>,
    pub log: Option<(Law, u32)>,
}

impl WriteLaws {
    pub fn of(cfg: &super::config::RunConfig) -> WriteLaws {
        let kind = |k: &Option<(crate::base::dist::DurationDist, u32)>| {
            k.as_ref().map(|(d, n)| (Law::from(d), *n))
        };
        WriteLaws {
            any: Law::from(&cfg.write_latency),
            metadata: kind(&cfg.metadata_write),
            log: kind(&cfg.log_write),
        }
    }
}

pub struct Disk {
    /// `write_latency`'s stream, and the per-kind laws' own (`Purpose::StorageMetadata`,
    /// `Purpose::StorageLog`), so that setting one law leaves every other draw unchanged.
    rng: Rng,
    metadata_rng: Rng,
    log_rng: Rng,
    /// When the disk finishes what it has been given.
    free: SimTime,
    queue: VecDeque<PendingWrite>,
}

impl Disk {
    /// Node `id`'s disk in a run of `seed`: each law draws from a stream of its own.
    pub fn for_node(seed: u64, id: NodeId) -> Disk {
        use crate::base::rng::Purpose;
        let id = u64::from(id);
        Disk {
            rng: Rng::stream(seed, Purpose::Storage, id),
            metadata_rng: Rng::stream(seed, Purpose::StorageMetadata, id),
            log_rng: Rng::stream(seed, Purpose::StorageLog, id),
            free: SimTime::ZERO,
            queue: VecDeque::new(),
        }
    }

    /// Takes a write issued at `now`, given the term and vote the disk holds before it (the
    /// last write queued, else `durable`). It joins the batch that is waiting for the disk, if
    /// one is (group commit: `None`, that batch's completion is already queued, and the write
    /// adds nothing to its time); else it starts a batch of its own, after whatever is in
    /// flight, taking a time drawn from `laws` (`Disk::draw`): `Some(when it completes)`,
    /// for the loop to queue.
    pub fn issue(
        &mut self,
        now: SimTime,
        laws: &WriteLaws,
        durable: (Term, Option<NodeId>),
        w: Write,
    ) -> Option<SimTime> {
        if let Some(waiting) = self.queue.back_mut().filter(|b| b.start > now) {
            waiting.seq = w.seq;
            waiting.term = w.term;
            waiting.voted_for = w.voted_for;
            waiting.commit = w.commit;
            waiting.ops.extend(w.ops);
            return None;
        }
        let before = self.queue.back().map_or(durable, |b| (b.term, b.voted_for));
        let metadata = (w.term, w.voted_for) != before;
        let took = self.draw(laws, metadata, !w.ops.is_empty());
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

    /// A write's time: a per-kind law's syncs for each kind it is (changes the term or vote;
    /// has log operations) that has a law, plus one draw of `write_latency` for the rest (for
    /// all of it when no per-kind law is set, as before they existed; also for a write of
    /// neither kind).
    fn draw(&mut self, laws: &WriteLaws, metadata: bool, log: bool) -> SimDuration {
        fn syncs(rng: &mut Rng, law: &Law, n: u32) -> SimDuration {
            if law.is_zero() {
                return SimDuration::ZERO;
            }
            (0..n).fold(SimDuration::ZERO, |t, _| t + law.sample(rng))
        }
        let mut took = SimDuration::ZERO;
        let mut rest = !metadata && !log;
        match (metadata, laws.metadata) {
            (true, Some((law, n))) => took = took + syncs(&mut self.metadata_rng, &law, n),
            (true, None) => rest = true,
            (false, _) => {}
        }
        match (log, laws.log) {
            (true, Some((law, n))) => took = took + syncs(&mut self.log_rng, &law, n),
            (true, None) => rest = true,
            (false, _) => {}
        }
        if rest && !laws.any.is_zero() {
            took = took + laws.any.sample(&mut self.rng);
        }
        took
    }

    /// No write pending.
    pub fn idle(&self) -> bool {
        self.queue.is_empty()
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

    /// The last entry's (index, term) of the log once every write in the queue completes,
    /// starting from the durable `log`, without building that log ((0, 0) when empty).
    pub fn last_entry(&self, log: &Log) -> (Index, Term) {
        let mut durable = log.last_index();
        // The terms of the queued entries beyond what of the durable log stands.
        let mut tail: Vec<Term> = Vec::new();
        for op in self.queue.iter().flat_map(|w| &w.ops) {
            match op {
                LogOp::Truncate { from } => {
                    let len = from.saturating_sub(1);
                    if len < durable {
                        durable = len;
                        tail.clear();
                    } else {
                        tail.truncate((len - durable) as usize);
                    }
                }
                LogOp::Append { entries } => tail.extend(entries.iter().map(|e| e.term)),
            }
        }
        let term = tail
            .last()
            .copied()
            .unwrap_or_else(|| log.term_at(durable).unwrap_or(0));
        (durable + tail.len() as Index, term)
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
        let (now, laws) = (self.now, self.write_laws);
        let s = &mut self.slots[id as usize - 1];
        let durable = (s.hard.term, s.hard.voted_for);
        let write = Write {
            seq,
            term,
            voted_for,
            commit,
            ops,
        };
        let done = s.disk.issue(now, &laws, durable, write);
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
    //! `latest_config` and `last_entry` against a dumb reference: build the log the writes
    //! leave, then scan it.
    use super::*;
    use crate::protocol::Entry;
    use proptest::prelude::*;

    fn entry(config: bool, k: u64) -> Entry {
        Entry {
            term: k,
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

    /// Writes of each kind, one at a time on an idle disk: (term, vote, appends an entry).
    const WRITES: [(Term, Option<NodeId>, bool); 8] = [
        (1, Some(1), false), // a candidate's term and vote
        (1, Some(1), true),  // an append at the same term
        (2, None, false),    // a step-down's term
        (2, Some(3), false), // a vote
        (2, Some(3), true),
        (2, Some(3), true),
        (3, None, true),  // a new term and an append: both kinds
        (3, None, false), // neither: a commit index only
    ];

    /// The time each of `WRITES` takes, each issued once the one before completed.
    fn times(laws: &WriteLaws) -> Vec<u64> {
        let mut disk = Disk::for_node(7, 2);
        let mut now = SimTime::ZERO;
        let mut durable = (0, None);
        WRITES
            .iter()
            .enumerate()
            .map(|(i, &(term, voted_for, append))| {
                let ops = if append {
                    vec![LogOp::Append {
                        entries: vec![entry(false, 0)],
                    }]
                } else {
                    Vec::new()
                };
                let w = Write {
                    seq: i as u64,
                    term,
                    voted_for,
                    commit: 0,
                    ops,
                };
                let done = disk
                    .issue(now, laws, durable, w)
                    .expect("an idle disk starts it");
                let took = done.0 - now.0;
                disk.queue.pop_front();
                (now, durable) = (done, (term, voted_for));
                took
            })
            .collect()
    }

    fn law(d: &str) -> Law {
        Law::from(&serde_json::from_str::<crate::base::dist::DurationDist>(d).expect("a law"))
    }

    /// Without per-kind laws every write takes one draw of `write_latency` from the stream it
    /// always had, so a scenario without them runs exactly as before.
    #[test]
    fn without_per_kind_laws_each_write_draws_write_latency_once() {
        let any = law(r#"{"uniform": ["1ms", "5ms"]}"#);
        let laws = WriteLaws {
            any,
            metadata: None,
            log: None,
        };
        let mut rng = crate::base::rng::Rng::stream(7, crate::base::rng::Purpose::Storage, 2);
        let want: Vec<u64> = WRITES.iter().map(|_| any.sample(&mut rng).0).collect();
        assert_eq!(times(&laws), want);
    }

    /// Each per-kind law draws from a stream of its own: changing the metadata law leaves
    /// the log writes' times (and the rest's) unchanged, and the other way round; a write of
    /// both kinds takes both, and a kind takes its syncs one after another.
    #[test]
    fn each_kind_of_write_draws_from_its_own_stream() {
        let any = law(r#"{"constant": "10ms"}"#);
        let meta = |d: &str, n| WriteLaws {
            any,
            metadata: Some((law(d), n)),
            log: Some((law(r#"{"uniform": ["1ms", "2ms"]}"#), 3)),
        };
        let a = times(&meta(r#"{"uniform": ["100us", "200us"]}"#, 2));
        let b = times(&meta(r#"{"uniform": ["300us", "900us"]}"#, 1));
        let log_only = [1, 4, 5];
        for i in log_only {
            assert_eq!(
                a[i], b[i],
                "write {i} appends only: the metadata law does not touch it"
            );
            assert!(
                (3_000_000..=6_000_000).contains(&a[i]),
                "three syncs of 1–2 ms: {}",
                a[i]
            );
        }
        for i in [0, 2, 3] {
            assert_ne!(a[i], b[i], "write {i} changes the term or vote");
            assert!(
                (200_000..=400_000).contains(&a[i]),
                "two syncs of 100–200 µs: {}",
                a[i]
            );
        }
        assert!(a[6] > 3_000_000 && a[6] < 6_400_000, "both kinds: {}", a[6]);
        assert_eq!(a[7], 10_000_000, "neither kind: write_latency");
        // And the other way round: a new log law leaves the metadata writes unchanged.
        let mut other = meta(r#"{"uniform": ["100us", "200us"]}"#, 2);
        other.log = Some((law(r#"{"constant": "7ms"}"#), 1));
        let c = times(&other);
        for i in [0, 2, 3] {
            assert_eq!(a[i], c[i], "write {i}: the log law does not touch it");
        }
        assert_eq!(c[1], 7_000_000);
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
            let mut disk = Disk::for_node(0, 0);
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
            // Each entry's term is its k: the last entry's term tells which entry is last.
            let after = disk.log_after_writes(&log);
            prop_assert_eq!(disk.last_entry(&log), (after.last_index(), after.last_term()));
        }
    }
}
