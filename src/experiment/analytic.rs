//! The probability of a split vote in closed form, printed beside the measured share (issue 9,
//! item 6), in the spirit of the analysis of the dissertation's chapter 9: a function of the
//! cluster size, the number of servers whose timers race, and the latency relative to the
//! timeout range. The derivation is this module's own; it is exact under its assumptions, and
//! the sweep marks every configuration where they do not hold.
//!
//! **Model.** `s` servers reset their election timers at the same instant and draw timeouts
//! independently and uniformly over a range of width `R`. The first to time out sends
//! RequestVote, which reaches every other server after the same latency `w` (one network delay
//! with `candidate_persist: parallel`; its own disk write plus one network delay with
//! `before_send`). Every server whose timer fires before that moment stands too; every other
//! server receives the first candidate's request first and votes for it. So with `c`
//! candidates the first one holds `1 + s − c` votes and wins unless that is below the majority
//! `M` of the cluster of `N`: the first term is a split vote exactly when
//! `c ≥ s + 2 − M`. The number of other timers within `w` of the earliest is the sum of `c − 1`
//! spacings of `s` uniform points, a Beta(c − 1, s + 2 − c) variable, whence
//!
//! `P(split) = P(Binomial(s, w / R) ≥ s + 1 − M)`  (1 when `w ≥ R`).
//!
//! **Assumptions** (each one that fails is named): one constant latency (no variation in
//! network delay, processing or disk), no timer jitter and no clock drift, no loss, every
//! server able to win (equal logs: a cold start), and timers reset together (a cold start, or a
//! failover in which every survivor heard the same heartbeat).

use crate::base::dist::DurationDist;
use crate::experiment::sweep::{Experiment, SweepConfig};
use crate::node::CandidatePersist;
use crate::world::config::Drift;

/// `P(Binomial(n, x) ≥ k)`, summed term by term (n is at most 64).
pub fn binomial_tail(n: u32, x: f64, k: u32) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let x = x.clamp(0.0, 1.0);
    let mut p = 0.0;
    for j in k..=n {
        p += binomial(n, j) * libm::pow(x, j as f64) * libm::pow(1.0 - x, (n - j) as f64);
    }
    p.min(1.0)
}

fn binomial(n: u32, k: u32) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The split-vote probability of the first term: `racing` servers, a cluster of `cluster`,
/// the latency over the range `x` (see the module doc).
pub fn split_probability(racing: u32, cluster: u32, x: f64) -> f64 {
    let majority = cluster / 2 + 1;
    if racing < majority {
        return 1.0;
    }
    binomial_tail(racing, x, racing + 1 - majority)
}

/// The model's value for one configuration, and the assumptions that do not hold there.
#[derive(Clone, Debug, PartialEq)]
pub struct Analytic {
    pub p_split: f64,
    /// Every assumption that does not hold, in words; empty when the value is exact.
    pub caveats: Vec<&'static str>,
}

/// The mean of a duration distribution in nanoseconds (a normal truncated at zero is taken at
/// its mean: the configurations here have small spreads), and whether it is constant.
fn mean_ns(d: &DurationDist) -> (f64, bool) {
    match d {
        DurationDist::Constant(c) => (c.0 as f64, true),
        DurationDist::Uniform([a, b]) => ((a.0 as f64 + b.0 as f64) / 2.0, a == b),
        DurationDist::Normal { mean, stddev } | DurationDist::Lognormal { mean, stddev } => {
            (mean.0 as f64, stddev.0 == 0)
        }
        DurationDist::Exponential { mean } => (mean.0 as f64, mean.0 == 0),
    }
}

pub fn for_config(c: &SweepConfig, experiment: Experiment) -> Analytic {
    let run = &c.run;
    let mut caveats = Vec::new();
    let (delay, delay_fixed) = mean_ns(&run.network.delay);
    let (processing, processing_fixed) = mean_ns(&run.network.processing);
    let mut w = delay + processing;
    if !(delay_fixed && processing_fixed) {
        caveats.push("network delay or processing varies");
    }
    // raft-rs's candidate sends its vote requests as persisted messages: after its write.
    let before_send = match &c.node {
        crate::nodes::NodeChoice::Raftsim(o) => o.candidate_persist == CandidatePersist::BeforeSend,
        crate::nodes::NodeChoice::RaftRs(_) => true,
    };
    if before_send {
        // The candidate's write changes its term and vote: `metadata_write` when set.
        let (write, write_fixed) = match &run.metadata_write {
            Some((sync, syncs)) => {
                let (one, fixed) = mean_ns(sync);
                (one * f64::from(*syncs), fixed)
            }
            None => mean_ns(&run.write_latency),
        };
        w += write;
        if !write_fixed {
            caveats.push("disk latency varies");
        }
    }
    if !run.clocks.timer_jitter.is_zero() {
        caveats.push("timer jitter");
    }
    // 1 ns rounds nothing: every duration is whole nanoseconds.
    if run.clocks.timer_resolution > 1 {
        caveats.push("timer resolution");
    }
    let drift = match &run.clocks.drift {
        Drift::Drawn(d) => !matches!(d, crate::base::dist::NumberDist::Constant(x) if *x == 0.0),
        Drift::PerNode(v) => v.iter().any(|&x| x != 0.0),
    };
    if drift {
        caveats.push("clock drift");
    }
    if run.network.loss > 0.0 || run.network.duplicate > 0.0 || !run.network.links.is_empty() {
        caveats.push("loss, duplication or per-link settings");
    }
    let n = run.nodes;
    let racing = match experiment {
        Experiment::ColdStart => n,
        Experiment::Membership => {
            caveats.push("membership: the trial measures a configuration change, not an election");
            n
        }
        Experiment::Failover => {
            caveats.push("failover: not every survivor can win, timers reset at different times");
            n - 1
        }
    };
    // A voter's own writes (and `separate_term_write`, `block_during_writes`) delay its reply,
    // not which request it sees first: they leave the model exact.
    let range = (c.timeout[1].0 - c.timeout[0].0) as f64;
    let x = if range == 0.0 {
        if w > 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        w / range
    };
    Analytic {
        p_split: split_probability(racing, n, x),
        caveats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a dumb reference: enumerate every subset of the `n` trials.
    #[test]
    fn binomial_tail_against_enumeration() {
        for n in 1..=10u32 {
            for &x in &[0.0, 0.1, 0.37, 0.5, 0.9, 1.0] {
                for k in 0..=n + 1 {
                    let mut p = 0.0;
                    for mask in 0u32..(1 << n) {
                        let ones = mask.count_ones();
                        if ones >= k {
                            p += libm::pow(x, ones as f64) * libm::pow(1.0 - x, (n - ones) as f64);
                        }
                    }
                    let got = binomial_tail(n, x, k);
                    assert!((got - p).abs() < 1e-12, "n {n} x {x} k {k}: {got} vs {p}");
                }
            }
        }
    }

    #[test]
    fn split_probability_limits() {
        // No latency: never a split; latency past the range: always.
        assert_eq!(split_probability(5, 5, 0.0), 0.0);
        assert_eq!(split_probability(5, 5, 1.0), 1.0);
        // Fewer racers than a majority: nobody can win.
        assert_eq!(split_probability(2, 5, 0.0), 1.0);
        // Three servers: a split needs all three to stand (1 + 3 − 3 = 1 < 2), i.e. the range
        // of three uniform draws below x: 3x² − 2x³.
        for x in [0.1, 0.5, 0.8] {
            let want = 3.0 * x * x - 2.0 * x * x * x;
            assert!((split_probability(3, 3, x) - want).abs() < 1e-12, "x {x}");
        }
    }
}
