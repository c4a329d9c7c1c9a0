//! The event queue: events ordered by (virtual time, insertion sequence), so ties break in the
//! order events were scheduled and a run never depends on heap internals. Timers are cancelled
//! lazily: each timer event carries a generation, and the owner ignores a firing whose
//! generation is no longer current (see `sim`).
//!
//! Generic over the event type so that other node implementations can reuse it.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::base::time::SimTime;

/// The heap holds only the ordering key and a slot index: events themselves stay put in a
/// slab, so sifting moves 24 bytes instead of a whole message.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    /// Reversed, so the max-heap pops the earliest (time, seq). `seq` is unique, so `slot`
    /// never decides.
    fn cmp(&self, o: &Self) -> Ordering {
        o.time.cmp(&self.time).then_with(|| o.seq.cmp(&self.seq))
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

    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(event);
                i
            }
            None => {
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Key { time, seq, slot });
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let k = self.heap.pop()?;
        let e = self.slab[k.slot as usize]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(k.slot);
        Some((k.time, e))
    }

    /// How many events are waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|k| k.time)
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
    }
}
