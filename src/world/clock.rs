//! Each node's clock: a fixed drift in parts per billion, and the operating system's wake-up
//! latency on every timer. A node asks for a timer as a range on its own clock; the world
//! draws the duration from the node's timer stream and converts it to virtual time here.

use super::{Ev, Simulation};
use crate::base::time::SimDuration;
use crate::observe::Observer;
use crate::protocol::{NodeId, RaftNode, TimerKind};

/// Converts a duration on a node's clock to virtual time: a clock running fast by `ppb` parts
/// per billion reaches a local deadline early.
pub fn local_to_virtual(local_ns: u64, drift_ppb: i64) -> u64 {
    if drift_ppb == 0 {
        return local_ns;
    }
    let denom = 1_000_000_000i128 + drift_ppb as i128;
    ((local_ns as i128 * 1_000_000_000i128 + denom / 2) / denom) as u64
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// (Re)arms a timer; the previous one of that kind is cancelled by generation.
    pub(super) fn set_timer(
        &mut self,
        id: NodeId,
        kind: TimerKind,
        min: SimDuration,
        max: SimDuration,
    ) {
        let jitter_dist = &self.cfg.clocks.timer_jitter;
        let s = &mut self.slots[id as usize - 1];
        s.timer_gen[kind as usize] += 1;
        let local = if min == max {
            min.0
        } else {
            s.timer_rng.range_inclusive(min.0, max.0)
        };
        let virt = local_to_virtual(local, s.drift_ppb);
        let jitter = if jitter_dist.is_zero() {
            0
        } else {
            jitter_dist.sample(&mut s.jitter_rng).0
        };
        let gen = s.timer_gen[kind as usize];
        self.queue.push(
            self.now + SimDuration(virt + jitter),
            Ev::Timer {
                node: id,
                kind,
                gen,
            },
        );
    }
}
