//! Each node's clock: a fixed drift in parts per billion, and the operating system's wake-up
//! latency on every timer. A node asks for a timer as a range on its own clock; the world
//! draws the duration from the node's timer stream and converts it to virtual time here.
//!
//! A library driven by `tick()` asks for a ticker (`Ticker`) instead: ticks at fixed points of its own
//! clock. The world counts the ticks that have passed and hands them over before any other
//! input to the node, and wakes the node only at the tick it names (the next one at which
//! something would happen), so an idle tick is never an event of its own.

use super::{Ev, Simulation};
use crate::base::time::{SimDuration, SimTime};
use crate::observe::Observer;
use crate::protocol::{NodeId, RaftNode, TimerKind};

/// `ns` to the nearest multiple of `res` (halves up, as C's `lround` of the duration in
/// units of `res`); `res` 0 leaves it as it is (`clocks.timer_resolution`).
pub(super) fn round_to(ns: u64, res: u64) -> u64 {
    if res == 0 {
        return ns;
    }
    let down = ns - ns % res;
    if ns % res >= res - res / 2 {
        down.saturating_add(res)
    } else {
        down
    }
}

/// Converts a duration on a node's clock to virtual time: a clock running fast by `ppb` parts
/// per billion reaches a local deadline early.
pub fn local_to_virtual(local_ns: u64, drift_ppb: i64) -> u64 {
    if drift_ppb == 0 {
        return local_ns;
    }
    let denom = 1_000_000_000i128 + drift_ppb as i128;
    ((local_ns as i128 * 1_000_000_000i128 + denom / 2) / denom) as u64
}

/// Converts virtual time to a duration on a node's clock (the inverse of
/// [`local_to_virtual`], rounded down).
pub(super) fn virtual_to_local(virt_ns: u64, drift_ppb: i64) -> u64 {
    if drift_ppb == 0 {
        return virt_ns;
    }
    let num = 1_000_000_000i128 + drift_ppb as i128;
    (virt_ns as i128 * num / 1_000_000_000i128) as u64
}

/// A node's clock reading at virtual time `now`: the elapsed time at its drift, plus what clock
/// jumps added (`offset_ns`), never below zero.
pub fn local_now(now: SimTime, drift_ppb: i64, offset_ns: i128) -> SimTime {
    let local = virtual_to_local(now.0, drift_ppb) as i128 + offset_ns;
    SimTime(local.clamp(0, u64::MAX as i128) as u64)
}

/// A node's ticker ([`Output::Ticker`](crate::protocol::Output::Ticker)): tick `k` is at
/// `origin + k · period` on the node's clock (`k` ≥ 1), `given` ticks have been handed to
/// the node, and it wants to be woken at tick `wake`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ticker {
    period: u64,
    /// Virtual time of tick 0, in ns.
    origin: i128,
    given: u64,
    wake: Option<u64>,
    /// The virtual time of tick `given + 1`: before it, no tick has passed that was not
    /// given (most inputs come before it, and then cost no division).
    next_at: i128,
}

impl Ticker {
    pub(super) fn new(period: SimDuration, now: SimTime, drift_ppb: i64) -> Ticker {
        let mut t = Ticker {
            period: period.0.max(1),
            origin: now.0 as i128,
            given: 0,
            wake: None,
            next_at: 0,
        };
        t.next_at = t.time_of(1, drift_ppb);
        t
    }

    /// The virtual time of tick `k`.
    fn time_of(&self, k: u64, drift_ppb: i64) -> i128 {
        let local = (k as u128 * self.period as u128).min(u64::MAX as u128) as u64;
        self.origin + local_to_virtual(local, drift_ppb) as i128
    }

    /// How many ticks have passed by `now`.
    fn passed(&self, now: SimTime, drift_ppb: i64) -> u64 {
        if (now.0 as i128) < self.next_at {
            return self.given;
        }
        let since = now.0 as i128 - self.origin;
        if since <= 0 {
            return 0;
        }
        let mut k = virtual_to_local(since.min(u64::MAX as i128) as u64, drift_ppb) / self.period;
        // Rounding in the conversions: settle on the last tick at or before now.
        while self.time_of(k + 1, drift_ppb) <= now.0 as i128 {
            k += 1;
        }
        while k > 0 && self.time_of(k, drift_ppb) > now.0 as i128 {
            k -= 1;
        }
        k
    }
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
        // A ticker's wake-up moves with its ticker (`Simulation::jump_clock`).
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
        let local = round_to(local, self.cfg.clocks.timer_resolution);
        let virt = local_to_virtual(local, s.drift_ppb);
        let jitter = if jitter_dist.is_zero() {
            0
        } else {
            jitter_dist.sample(&mut s.jitter_rng).0
        };
        if kind == TimerKind::Election {
            // The greatest jitter of the arms since the last restart the world noted (a
            // restart noted before the step's outputs are carried out precedes its arm).
            s.late_jitter = s.late_jitter.max(jitter);
            s.election_armed = (self.now, jitter);
        }
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

    /// Starts (or restarts, from now) node `id`'s ticker.
    pub(super) fn start_ticker(&mut self, id: NodeId, period: SimDuration) {
        let now = self.now;
        let s = &mut self.slots[id as usize - 1];
        s.ticker = Some(Ticker::new(period, now, s.drift_ppb));
        s.timers.cancel(TimerKind::Tick);
    }

    /// Node `id` wants to be woken once `ticks` more ticks than it was given have passed.
    pub(super) fn wake_after_ticks(&mut self, id: NodeId, ticks: u64) {
        let s = &mut self.slots[id as usize - 1];
        let Some(t) = s.ticker.as_mut() else {
            return; // no ticker: nothing to count
        };
        t.wake = Some(t.given.saturating_add(ticks.max(1)));
        self.arm_tick(id);
    }

    /// Arms the timer that stands for the ticker's wake-up: the wake-up tick on the node's
    /// clock, plus the operating system's wake-up latency.
    fn arm_tick(&mut self, id: NodeId) {
        let jitter_dist = self.timer_jitter;
        let now = self.now;
        let s = &mut self.slots[id as usize - 1];
        let Some(t) = s.ticker else { return };
        let Some(wake) = t.wake else {
            s.timers.cancel(TimerKind::Tick);
            return;
        };
        let at = t.time_of(wake, s.drift_ppb).max(now.0 as i128);
        let jitter = if jitter_dist.is_zero() {
            0
        } else {
            jitter_dist.sample(&mut s.jitter_rng).0
        };
        let at = SimTime((at as u64).saturating_add(jitter));
        if let Some(token) = s.timers.arm(TimerKind::Tick, at) {
            self.queue.push(
                at,
                Ev::Timer {
                    node: id,
                    kind: TimerKind::Tick,
                    token,
                },
            );
        }
    }

    /// Hands node `id` the ticks of its ticker that have passed and not been given, if any.
    /// Returns whether the node is still up afterwards (handling them may crash it at a
    /// disk write).
    pub(super) fn give_ticks(&mut self, id: NodeId) -> bool {
        let now = self.now;
        let s = &mut self.slots[id as usize - 1];
        let Some(t) = s.ticker.as_mut() else {
            return true;
        };
        let passed = t.passed(now, s.drift_ppb);
        if passed <= t.given {
            return true;
        }
        let n = passed - t.given;
        t.given = passed;
        t.next_at = t.time_of(passed + 1, s.drift_ppb);
        if t.wake.is_some_and(|w| w <= passed) {
            t.wake = None;
            s.timers.cancel(TimerKind::Tick);
        }
        self.step(id, crate::protocol::Input::Ticks(n));
        self.slots[id as usize - 1].node.is_some()
    }

    /// Node `id`'s clock steps by `by` (forward, or `back`): its armed timers move with it,
    /// its ticker does not.
    pub(super) fn jump_clock(&mut self, id: NodeId, by: SimDuration, back: bool) {
        let now = self.now;
        let step = by.0 as i128;
        self.slots[id as usize - 1].clock_offset_ns += if back { -step } else { step };
        // Its timers moved with the clock: the last restart the world saw no longer bounds
        // the next election on the clock the world judges by.
        self.slots[id as usize - 1].election_reset = None;
        self.slots[id as usize - 1].late_from = None;
        // Its CheckQuorum timer moved too: its silence counts from now.
        self.slots[id as usize - 1].quorum_floor = now;
        // A ticker does not move: a library's tick loop measures intervals on a monotonic
        // clock, which a step of the wall clock leaves alone (and a step forward by an hour
        // would otherwise hand over an hour of ticks at once).
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
            Due::Fire if kind == TimerKind::Tick => {
                // Whatever has passed by now; a clock stepped back may have passed none yet.
                let before = self.slots[node as usize - 1].ticker.map(|t| t.given);
                self.give_ticks(node);
                let s = &self.slots[node as usize - 1];
                if s.node.is_some() && s.ticker.map(|t| t.given) == before {
                    self.arm_tick(node);
                }
            }
            Due::Fire => self.step(node, crate::protocol::Input::Timer(kind)),
        }
    }
}

#[cfg(test)]
mod resolution_tests {
    use super::round_to;

    #[test]
    fn a_duration_rounds_to_the_nearest_multiple_halves_up() {
        const MS: u64 = 1_000_000;
        assert_eq!(round_to(150 * MS + 499_999, MS), 150 * MS);
        assert_eq!(round_to(150 * MS + 500_000, MS), 151 * MS);
        assert_eq!(round_to(151 * MS, MS), 151 * MS);
        assert_eq!(round_to(150 * MS + 7, 0), 150 * MS + 7, "no resolution");
        assert_eq!(round_to(12_345, 1), 12_345, "1 ns changes nothing");
        assert_eq!(round_to(4, 3), 3);
        assert_eq!(
            round_to(5, 3),
            6,
            "an odd resolution: 2 of 3 is past the half"
        );
        assert_eq!(
            round_to(u64::MAX, MS),
            u64::MAX,
            "saturates rather than wraps"
        );
    }
}
