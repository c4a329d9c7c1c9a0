//! The event queue: events ordered by (virtual time, insertion sequence), so ties break in the
//! order events were scheduled and a run never depends on heap internals. Timers are cancelled
//! lazily: each timer event carries a generation, and the owner ignores a firing whose
//! generation is no longer current (see `sim`).
//!
//! Generic over the event type so that other node implementations can reuse it.

use std::collections::BinaryHeap;

use crate::base::time::SimTime;

/// The heap holds only the ordering key and a slot index, packed into one `u128`: time in
/// the top 64 bits, then the insertion sequence, then the slot. Events themselves stay put
/// in a slab, so sifting moves and compares 16 bytes, once. Reversed (`Reverse`) so the
/// max-heap pops the earliest (time, seq); `seq` is unique, so `slot` never decides.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(std::cmp::Reverse<u128>);

const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 64 - SLOT_BITS;
/// Slots must fit their field: the world stops a run long before (`MAX_QUEUED_EVENTS`).
const MAX_SLOTS: usize = 1 << SLOT_BITS;

impl Key {
    fn new(time: SimTime, seq: u64, slot: u32) -> Key {
        Key(std::cmp::Reverse(
            (time.0 as u128) << 64 | (seq as u128) << SLOT_BITS | slot as u128,
        ))
    }
    fn time(self) -> SimTime {
        SimTime((self.0 .0 >> 64) as u64)
    }
    fn slot(self) -> u32 {
        (self.0 .0 as u32) & ((1 << SLOT_BITS) - 1)
    }
}

pub struct EventQueue<E> {
    heap: BinaryHeap<Key>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<E> EventQueue<E> {
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            slab: Vec::with_capacity(n),
            free: Vec::new(),
            next_seq: 0,
        }
    }

    /// # Panics
    /// With more than 2^24 events waiting at once (the world stops a run at
    /// `MAX_QUEUED_EVENTS`, far below).
    pub fn push(&mut self, time: SimTime, event: E) {
        if self.next_seq == 1 << SEQ_BITS {
            self.renumber();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(event);
                i
            }
            None => {
                assert!(self.slab.len() < MAX_SLOTS, "event queue over 2^24 events");
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Key::new(time, seq, slot));
    }

    /// After 2^40 insertions the sequence field is spent: number the waiting events again
    /// from zero, in their order. Order among them is kept, so runs do not notice.
    #[cold]
    fn renumber(&mut self) {
        let mut keys = std::mem::take(&mut self.heap).into_sorted_vec();
        keys.reverse(); // earliest first
        self.next_seq = 0;
        for k in &mut keys {
            *k = Key::new(k.time(), self.next_seq, k.slot());
            self.next_seq += 1;
        }
        self.heap = BinaryHeap::from(keys);
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let k = self.heap.pop()?;
        let slot = k.slot();
        let e = self.slab[slot as usize]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(slot);
        Some((k.time(), e))
    }

    /// How many events are waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|k| k.time())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a dumb reference: a stable sort by time keeps insertion order among ties.
        #[test]
        fn pops_in_time_then_insertion_order(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut q = EventQueue::default();
            for (i, &t) in times.iter().enumerate() {
                q.push(SimTime(t), i);
            }
            let mut want: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            want.sort_by_key(|&(t, _)| t);
            let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop()).map(|(t, i)| (t.0, i)).collect();
            prop_assert_eq!(got, want);
        }

        /// Renumbering when the sequence field is spent keeps the order of what waits.
        #[test]
        fn renumbering_keeps_order(times in proptest::collection::vec(0u64..20, 1..100), split in 0usize..100) {
            let split = split.min(times.len());
            let mut q = EventQueue {
                next_seq: (1 << SEQ_BITS) - split as u64,
                ..EventQueue::default()
            };
            for (i, &t) in times.iter().enumerate() {
                q.push(SimTime(t), i);
            }
            let mut want: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            want.sort_by_key(|&(t, _)| t);
            let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop()).map(|(t, i)| (t.0, i)).collect();
            prop_assert_eq!(got, want);
        }

        /// As the world uses it: pushes at or after the time last taken out (often at it),
        /// interleaved with takes, against a reference ordered map; `seq0` near the top of the
        /// sequence field makes some runs renumber midway.
        #[test]
        fn interleaved_pushes_and_pops(
            ops in proptest::collection::vec((0u64..4, 0u64..1 << 30), 0..400),
            seq0 in prop_oneof![Just(0u64), (1u64 << SEQ_BITS) - 200..1 << SEQ_BITS],
        ) {
            let mut q = EventQueue { next_seq: seq0, ..EventQueue::default() };
            let mut reference = std::collections::BTreeMap::new();
            let (mut now, mut n) = (0u64, 0usize);
            for (what, delay) in ops {
                if what == 0 {
                    let want = reference.pop_first().map(|((t, _), i)| (t, i));
                    let got = q.pop().map(|(t, i)| (t.0, i));
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = t;
                    }
                } else {
                    let t = match what {
                        1 => now,
                        2 => now + delay % 5_000,
                        _ => now + delay,
                    };
                    q.push(SimTime(t), n);
                    reference.insert((t, n), n);
                    n += 1;
                }
                prop_assert_eq!(q.len(), reference.len());
                prop_assert_eq!(q.peek_time().map(|t| t.0), reference.keys().next().map(|k| k.0));
            }
        }
    }
}
