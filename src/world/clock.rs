//! Each node's clock: a fixed drift in parts per billion, and the operating system's wake-up
//! latency on every timer. A node asks for a timer as a range on its own clock; the world
//! draws the duration from the node's timer stream and converts it to virtual time here.

use super::{Ev, Simulation};
use crate::base::time::{SimDuration, SimTime};
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

/// One node's timers, one per [`TimerKind`]. A timer is a deadline; the queue holds at most
/// one event that stands for it. Re-arming to a later deadline (what a follower does on every
/// AppendEntries) only moves the deadline: the standing event, when its time comes, queues
/// itself again at the deadline. So a timer costs about one queue event per timeout, not one
/// per re-arm, and the queue stays small. A timer fires at exactly its deadline either way.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Timers {
    armed: [Armed; TimerKind::COUNT],
    /// Numbers the queued events; never reset, so no event of an earlier incarnation matches.
    tokens: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Armed {
    deadline: Option<SimTime>,
    /// The queued event that stands for this timer: its time and token.
    event: Option<(SimTime, u64)>,
}

impl Timers {
    /// Arms `kind` for `at`. Returns the token of an event to queue at `at`, if the standing
    /// one (if any) comes too late.
    fn arm(&mut self, kind: TimerKind, at: SimTime) -> Option<u64> {
        let a = &mut self.armed[kind as usize];
        a.deadline = Some(at);
        if matches!(a.event, Some((t, _)) if t <= at) {
            return None;
        }
        self.tokens += 1;
        a.event = Some((at, self.tokens));
        Some(self.tokens)
    }

    pub(super) fn cancel(&mut self, kind: TimerKind) {
        self.armed[kind as usize].deadline = None;
    }

    /// The clock stepped: every armed deadline moves `by` earlier (not before `now`) or,
    /// `back`, later. Returns the (kind, time, token) of events to queue for deadlines that
    /// moved before their standing event.
    fn jump(
        &mut self,
        by: SimDuration,
        back: bool,
        now: SimTime,
    ) -> Vec<(TimerKind, SimTime, u64)> {
        let mut queue = Vec::new();
        for kind in [TimerKind::Election, TimerKind::Heartbeat] {
            let Some(d) = self.armed[kind as usize].deadline else {
                continue;
            };
            let moved = if back {
                d + by
            } else {
                SimTime(d.0.saturating_sub(by.0).max(now.0))
            };
            if let Some(token) = self.arm(kind, moved) {
                queue.push((kind, moved, token));
            }
        }
        queue
    }

    /// Forgets every timer (a crash): events already queued find nothing when they come.
    pub(super) fn clear(&mut self) {
        self.armed = Default::default();
    }
}

/// What a timer event found when it came.
pub(super) enum Due {
    /// Nothing: the event was superseded, or the timer was cancelled.
    Nothing,
    /// The deadline moved later: queue this token there.
    Later(SimTime, u64),
    /// The timer fires now.
    Fire,
}

impl Timers {
    pub(super) fn due(&mut self, kind: TimerKind, token: u64, now: SimTime) -> Due {
        let a = &mut self.armed[kind as usize];
        if a.event.map(|e| e.1) != Some(token) {
            return Due::Nothing;
        }
        a.event = None;
        match a.deadline {
            None => Due::Nothing,
            Some(d) if d > now => {
                self.tokens += 1;
                a.event = Some((d, self.tokens));
                Due::Later(d, self.tokens)
            }
            Some(_) => {
                a.deadline = None;
                Due::Fire
            }
        }
    }
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// (Re)arms a timer, replacing the previous one of that kind.
    pub(super) fn set_timer(
        &mut self,
        id: NodeId,
        kind: TimerKind,
        min: SimDuration,
        max: SimDuration,
    ) {
        let jitter_dist = self.timer_jitter;
        let s = &mut self.slots[id as usize - 1];
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
        let at = self.now + SimDuration(virt + jitter);
        if let Some(token) = s.timers.arm(kind, at) {
            self.queue.push(
                at,
                Ev::Timer {
                    node: id,
                    kind,
                    token,
                },
            );
        }
    }

    /// Node `id`'s clock steps by `by` (forward, or `back`): its armed timers move with it.
    pub(super) fn jump_clock(&mut self, id: NodeId, by: SimDuration, back: bool) {
        let now = self.now;
        for (kind, at, token) in self.slots[id as usize - 1].timers.jump(by, back, now) {
            self.queue.push(
                at,
                Ev::Timer {
                    node: id,
                    kind,
                    token,
                },
            );
        }
    }

    /// A timer event came: fire the timer, queue it again at its later deadline, or nothing.
    pub(super) fn timer_due(&mut self, node: NodeId, kind: TimerKind, token: u64) {
        let now = self.now;
        let s = &mut self.slots[node as usize - 1];
        if s.node.is_none() {
            return;
        }
        match s.timers.due(kind, token, now) {
            Due::Nothing => {}
            Due::Later(at, token) => self.queue.push(at, Ev::Timer { node, kind, token }),
            Due::Fire => self.step(node, crate::protocol::Input::Timer(kind)),
        }
    }
}
