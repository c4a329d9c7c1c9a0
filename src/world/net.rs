//! The network model: per-message delay drawn from a distribution, loss and duplication
//! probabilities, per-link overrides, partitions into groups and one-way link cuts.
//!
//! A message is delivered only if its link is open **both when it is sent and when it
//! arrives**: a partition or cut that starts while a message is in flight drops it on arrival
//! (like a switch that loses what it holds), and a message sent across a cut is dropped even if
//! the cut heals before it would have arrived. Messages reorder naturally when delays differ,
//! unless the network is `ordered`: then each direction of a link delivers in send order, as a
//! TCP connection does, and a message drawn to arrive before an earlier one on its link waits
//! for it (head-of-line blocking). The order holds over the whole run, across crashes (a
//! restarted node's first messages may wait behind its last ones before the crash).
//! Overlapping partitions and cuts count: a link is open when no active fault blocks it.
//!
//! Every draw comes from the sender's network stream, so one node's traffic does not shift
//! another's delays.

use super::config::NetConfig;
use crate::base::dist::{DurationDist, Law};
use crate::base::rng::{Purpose, Rng};
use crate::base::time::{SimDuration, SimTime};
use crate::protocol::NodeId;

#[derive(Clone, Debug)]
struct Link {
    delay: Law,
    loss: f64,
    duplicate: f64,
}

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    Loss,
    Partition,
    Cut,
    NodeDown,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Cut => "cut",
            DropReason::NodeDown => "node_down",
        }
    }
}

/// The fate of one sent message: up to two deliveries (a duplicate), or a drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Deliver {
        delay: SimDuration,
        copy_delay: Option<SimDuration>,
    },
    Drop(DropReason),
}

pub struct Network {
    n: usize,
    /// links[from * (n+1) + to]
    links: Vec<Link>,
    processing: Law,
    /// Count of active partitions separating from→to, and of active cuts.
    partitioned: Vec<u32>,
    cut: Vec<u32>,
    rngs: Vec<Rng>,
    proc_rngs: Vec<Rng>,
    /// Active bursts and spikes (fault index, what it adds); the strongest loss and duplication
    /// apply, and the latest delay spike. Empty outside faults, and then they cost no draw.
    loss_bursts: Vec<(usize, f64)>,
    dup_bursts: Vec<(usize, f64)>,
    spikes: Vec<(usize, Law)>,
    burst_loss: f64,
    burst_dup: f64,
    /// With an ordered network: the latest arrival scheduled on each link (same indexing as
    /// `links`); empty otherwise.
    last_arrival: Vec<SimTime>,
    /// The latest arrival drawn for a message sent while a delay spike was in force.
    spike_arrival: SimTime,
}

impl Network {
    pub fn new(spec: &NetConfig, n: u32, seed: u64) -> Network {
        let n = n as usize;
        let base = Link {
            delay: Law::from(&spec.delay),
            loss: spec.loss,
            duplicate: spec.duplicate,
        };
        let mut links = vec![base; (n + 1) * (n + 1)];
        for l in &spec.links {
            let link = &mut links[l.from as usize * (n + 1) + l.to as usize];
            if let Some(d) = &l.delay {
                link.delay = Law::from(d);
            }
            if let Some(p) = l.loss {
                link.loss = p;
            }
            if let Some(p) = l.duplicate {
                link.duplicate = p;
            }
        }
        Network {
            n,
            links,
            processing: Law::from(&spec.processing),
            partitioned: vec![0; (n + 1) * (n + 1)],
            cut: vec![0; (n + 1) * (n + 1)],
            // index 0 is the client's stream
            rngs: (0..=n)
                .map(|i| Rng::stream(seed, Purpose::Network, i as u64))
                .collect(),
            proc_rngs: (0..=n)
                .map(|i| Rng::stream(seed, Purpose::Processing, i as u64))
                .collect(),
            loss_bursts: Vec::new(),
            dup_bursts: Vec::new(),
            spikes: Vec::new(),
            burst_loss: 0.0,
            burst_dup: 0.0,
            last_arrival: if spec.ordered {
                vec![SimTime::ZERO; (n + 1) * (n + 1)]
            } else {
                Vec::new()
            },
            spike_arrival: SimTime::ZERO,
        }
    }

    fn at(&self, from: NodeId, to: NodeId) -> usize {
        from as usize * (self.n + 1) + to as usize
    }

    /// Why from→to is blocked right now, if it is.
    pub fn blocked(&self, from: NodeId, to: NodeId) -> Option<DropReason> {
        let i = self.at(from, to);
        if self.cut[i] > 0 {
            Some(DropReason::Cut)
        } else if self.partitioned[i] > 0 {
            Some(DropReason::Partition)
        } else {
            None
        }
    }

    /// When the messages a fault holds back have all arrived: the latest arrival drawn for a
    /// message sent under a delay spike, and with an ordered network the latest arrival
    /// scheduled on any link (a message sent later arrives after those before it on its link,
    /// but none is held past this by them). Zero when neither applies.
    pub fn drained_by(&self) -> SimTime {
        self.last_arrival
            .iter()
            .copied()
            .max()
            .unwrap_or(SimTime::ZERO)
            .max(self.spike_arrival)
    }

    /// Decides the fate of a message sent at `now` from `from` to `to`.
    pub fn send(&mut self, from: NodeId, to: NodeId, now: SimTime) -> Fate {
        let fate = self.draw(from, to);
        if !self.spikes.is_empty() {
            if let Fate::Deliver { delay, copy_delay } = &fate {
                let latest = (*delay).max(copy_delay.unwrap_or(*delay));
                self.spike_arrival = self.spike_arrival.max(now + latest);
            }
        }
        if self.last_arrival.is_empty() {
            return fate;
        }
        match fate {
            Fate::Deliver { delay, copy_delay } => {
                let i = self.at(from, to);
                let mut in_order = |d: SimDuration| {
                    let at = (now + d).max(self.last_arrival[i]);
                    self.last_arrival[i] = at;
                    at - now
                };
                let delay = in_order(delay);
                Fate::Deliver {
                    delay,
                    copy_delay: copy_delay.map(in_order),
                }
            }
            drop => drop,
        }
    }

    /// The fate of a message from `from` to `to` as drawn, before any ordering.
    fn draw(&mut self, from: NodeId, to: NodeId) -> Fate {
        if let Some(r) = self.blocked(from, to) {
            return Fate::Drop(r);
        }
        let i = self.at(from, to);
        let rng = &mut self.rngs[from as usize];
        let link = &self.links[i];
        if rng.chance(link.loss) {
            return Fate::Drop(DropReason::Loss);
        }
        // `chance(0.0)` draws nothing: outside a burst the streams are exactly as without one.
        if rng.chance(self.burst_loss) {
            return Fate::Drop(DropReason::Loss);
        }
        let mut delay = link.delay.sample(rng);
        if let Some((_, spike)) = self.spikes.last() {
            delay = delay + spike.sample(rng);
        }
        let copy = if rng.chance(link.duplicate) || rng.chance(self.burst_dup) {
            Some(link.delay.sample(rng))
        } else {
            None
        };
        let (delay, copy_delay) = (
            delay + self.processing_time(to),
            copy.map(|d| d + self.processing_time(to)),
        );
        Fate::Deliver { delay, copy_delay }
    }

    /// Delay of a client request or reply (clients sit outside partitions and cuts).
    pub fn client_delay(&mut self, to_node: Option<NodeId>) -> SimDuration {
        let d = self.links[self.at(0, 0)].delay.sample(&mut self.rngs[0]);
        match to_node {
            Some(n) => d + self.processing_time(n),
            None => d,
        }
    }

    fn processing_time(&mut self, to: NodeId) -> SimDuration {
        if self.processing.is_zero() {
            SimDuration::ZERO
        } else {
            self.processing.sample(&mut self.proc_rngs[to as usize])
        }
    }

    /// Starts (`on`) or ends a partition into `groups`; unlisted nodes form one more group.
    pub fn set_partition(&mut self, groups: &[Vec<NodeId>], on: bool) {
        let mut group_of = vec![usize::MAX; self.n + 1];
        for (g, members) in groups.iter().enumerate() {
            for &m in members {
                group_of[m as usize] = g;
            }
        }
        for a in 1..=self.n {
            for b in 1..=self.n {
                if a != b && group_of[a] != group_of[b] {
                    let i = self.at(a as NodeId, b as NodeId);
                    if on {
                        self.partitioned[i] += 1;
                    } else {
                        self.partitioned[i] -= 1;
                    }
                }
            }
        }
    }

    /// Starts (`on`) or ends fault `fault`'s extra loss probability `p`.
    pub fn set_loss_burst(&mut self, fault: usize, p: f64, on: bool) {
        set_active(&mut self.loss_bursts, fault, p, on);
        self.burst_loss = self.loss_bursts.iter().map(|&(_, p)| p).fold(0.0, f64::max);
    }

    /// Starts (`on`) or ends fault `fault`'s extra duplication probability `p`.
    pub fn set_duplicate_burst(&mut self, fault: usize, p: f64, on: bool) {
        set_active(&mut self.dup_bursts, fault, p, on);
        self.burst_dup = self.dup_bursts.iter().map(|&(_, p)| p).fold(0.0, f64::max);
    }

    /// Starts (`on`) or ends fault `fault`'s extra delay on every message sent.
    pub fn set_delay_spike(&mut self, fault: usize, extra: &DurationDist, on: bool) {
        set_active(&mut self.spikes, fault, Law::from(extra), on);
    }

    /// Starts (`on`) or ends a one-way cut from→to.
    pub fn set_cut(&mut self, from: NodeId, to: NodeId, on: bool) {
        let i = self.at(from, to);
        if on {
            self.cut[i] += 1;
        } else {
            self.cut[i] -= 1;
        }
    }
}

fn set_active<T>(active: &mut Vec<(usize, T)>, fault: usize, v: T, on: bool) {
    if on {
        active.push((fault, v));
    } else {
        active.retain(|(f, _)| *f != fault);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(loss: f64) -> Network {
        let spec = NetConfig {
            loss,
            ..Default::default()
        };
        Network::new(&spec, 3, 9)
    }

    #[test]
    fn loss_rate_is_within_tolerance() {
        let mut n = net(0.1);
        let trials = 100_000;
        let lost = (0..trials)
            .filter(|_| n.send(1, 2, SimTime::ZERO) == Fate::Drop(DropReason::Loss))
            .count();
        let rate = lost as f64 / trials as f64;
        // 0.1 ± 5 standard errors (se ≈ 0.00095)
        assert!((rate - 0.1).abs() < 0.005, "loss rate {rate}");
    }

    #[test]
    fn cuts_block_exactly_the_cut_direction() {
        let mut n = net(0.0);
        n.set_cut(1, 2, true);
        for a in 1..=3 {
            for b in 1..=3 {
                if a == b {
                    continue;
                }
                let fate = n.send(a, b, SimTime::ZERO);
                if (a, b) == (1, 2) {
                    assert_eq!(fate, Fate::Drop(DropReason::Cut));
                } else {
                    assert!(
                        matches!(fate, Fate::Deliver { .. }),
                        "{a}->{b} should be open"
                    );
                }
            }
        }
        n.set_cut(1, 2, false);
        assert!(matches!(n.send(1, 2, SimTime::ZERO), Fate::Deliver { .. }));
    }

    #[test]
    fn partitions_block_between_groups_and_overlap() {
        let mut n = net(0.0);
        n.set_partition(&[vec![1], vec![2, 3]], true);
        assert_eq!(n.blocked(1, 2), Some(DropReason::Partition));
        assert_eq!(n.blocked(3, 1), Some(DropReason::Partition));
        assert_eq!(n.blocked(2, 3), None);
        // A second, overlapping partition; healing the first keeps 2|3 apart.
        n.set_partition(&[vec![2]], true);
        n.set_partition(&[vec![1], vec![2, 3]], false);
        assert_eq!(n.blocked(1, 2), Some(DropReason::Partition));
        assert_eq!(n.blocked(2, 3), Some(DropReason::Partition));
        assert_eq!(
            n.blocked(1, 3),
            None,
            "1 and 3 are both unlisted in the second partition"
        );
        n.set_partition(&[vec![2]], false);
        assert_eq!(n.blocked(2, 3), None);
    }

    #[test]
    fn duplication_rate_is_within_tolerance() {
        let spec = NetConfig {
            duplicate: 0.2,
            ..Default::default()
        };
        let mut n = Network::new(&spec, 2, 3);
        let dup = (0..50_000)
            .filter(|_| {
                matches!(
                    n.send(1, 2, SimTime::ZERO),
                    Fate::Deliver {
                        copy_delay: Some(_),
                        ..
                    }
                )
            })
            .count();
        let rate = dup as f64 / 50_000.0;
        assert!((rate - 0.2).abs() < 0.01, "duplicate rate {rate}");
    }

    /// Arrival times of `count` messages sent 1 ms apart from n1 to n2, each with its copy's.
    fn arrivals(ordered: bool, count: u64) -> Vec<(SimTime, Option<SimTime>)> {
        let spec = NetConfig {
            delay: DurationDist::Lognormal {
                mean: SimDuration::from_millis(3),
                stddev: SimDuration::from_millis(2),
            },
            duplicate: 0.1,
            ordered,
            ..Default::default()
        };
        let mut n = Network::new(&spec, 2, 7);
        (0..count)
            .map(|k| {
                let now = SimTime(k * 1_000_000);
                match n.send(1, 2, now) {
                    Fate::Deliver { delay, copy_delay } => {
                        (now + delay, copy_delay.map(|d| now + d))
                    }
                    Fate::Drop(r) => panic!("nothing drops here: {r:?}"),
                }
            })
            .collect()
    }

    #[test]
    fn an_ordered_link_delivers_in_send_order_and_only_delays() {
        let (free, ordered) = (arrivals(false, 2000), arrivals(true, 2000));
        // On its own, this law overtakes often (delays spread wider than the 1 ms spacing).
        let overtaken = free.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert!(
            overtaken > 100,
            "only {overtaken} overtakes without ordering"
        );
        // Ordered: every arrival, copies included, at or after everything sent before it...
        let mut latest = SimTime::ZERO;
        for &(at, copy) in &ordered {
            assert!(at >= latest, "an arrival at {at:?} before {latest:?}");
            latest = at;
            if let Some(c) = copy {
                assert!(c >= latest);
                latest = c;
            }
        }
        // ...from the same draws, never sooner than drawn, and exactly as drawn when nothing
        // earlier is still on the way.
        let mut waited = 0;
        for (f, o) in free.iter().zip(&ordered) {
            assert!(o.0 >= f.0);
            waited += (o.0 > f.0) as usize;
        }
        assert!(waited > 100 && waited < 2000, "{waited} of 2000 waited");
        assert!(ordered.iter().zip(&free).any(|(o, f)| o.0 == f.0));
    }
}
