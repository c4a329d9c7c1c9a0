//! Distributions of durations (message delay, disk write latency, timer jitter, processing
//! time, fault times) and of plain numbers (clock drift in ppm), as written in a scenario file:
//!
//! ```json
//! { "constant": "5ms" }
//! { "uniform": ["5ms", "10ms"] }
//! { "normal": { "mean": "2ms", "stddev": "500us" } }        // truncated at zero
//! { "exponential": { "mean": "1ms" } }
//! { "lognormal": { "mean": "2ms", "stddev": "1ms" } }       // of the delay itself, not its log
//! ```
//!
//! Every sample is rounded to integer nanoseconds before it leaves this module. The samplers are
//! written here rather than taken from `rand_distr` so that the exact arithmetic (and so every
//! trace) is pinned by this crate and portable through `libm`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::base::rng::Rng;
use crate::base::time::SimDuration;

/// A distribution of non-negative durations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DurationDist {
    /// Always this value.
    Constant(SimDuration),
    /// Uniform between the two bounds, inclusive, to the nanosecond.
    Uniform([SimDuration; 2]),
    /// Normal with this mean and standard deviation, truncated at zero (negative draws are
    /// redrawn).
    Normal {
        mean: SimDuration,
        stddev: SimDuration,
    },
    /// Exponential with this mean.
    Exponential { mean: SimDuration },
    /// Log-normal whose own mean and standard deviation are these.
    Lognormal {
        mean: SimDuration,
        stddev: SimDuration,
    },
}

impl DurationDist {
    pub const ZERO: DurationDist = DurationDist::Constant(SimDuration::ZERO);

    /// Checks the parameters; the message says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            DurationDist::Uniform([lo, hi]) if lo > hi => Err(format!(
                "uniform bounds are reversed: min {lo} is above max {hi}; write [min, max]"
            )),
            DurationDist::Lognormal { mean, .. } if mean.0 == 0 => {
                Err("lognormal mean must be above zero".into())
            }
            _ => Ok(()),
        }
    }

    /// True when every draw is zero, so callers can skip the draw (and keep streams untouched).
    pub fn is_zero(&self) -> bool {
        matches!(self, DurationDist::Constant(d) if d.0 == 0)
    }

    pub fn sample(&self, rng: &mut Rng) -> SimDuration {
        match *self {
            DurationDist::Constant(d) => d,
            DurationDist::Uniform([lo, hi]) => SimDuration(rng.range_inclusive(lo.0, hi.0)),
            DurationDist::Normal { mean, stddev } => {
                let (m, s) = (mean.0 as f64, stddev.0 as f64);
                for _ in 0..64 {
                    let x = m + s * rng.std_normal();
                    if x >= 0.0 {
                        return round_ns(x);
                    }
                }
                SimDuration::ZERO
            }
            DurationDist::Exponential { mean } => round_ns(rng.exponential(mean.0 as f64)),
            DurationDist::Lognormal { mean, stddev } => {
                let (mu, sigma) = lognormal_params(mean.0 as f64, stddev.0 as f64);
                round_ns(libm::exp(mu + sigma * rng.std_normal()))
            }
        }
    }
}

/// (mu, sigma) of the underlying normal for a log-normal with this mean and stddev.
pub fn lognormal_params(mean: f64, stddev: f64) -> (f64, f64) {
    let var_ratio = (stddev * stddev) / (mean * mean);
    let sigma2 = libm::log1p(var_ratio);
    (libm::log(mean) - sigma2 / 2.0, libm::sqrt(sigma2))
}

fn round_ns(x: f64) -> SimDuration {
    if x.is_finite() && x > 0.0 {
        SimDuration(libm::round(x.min(u64::MAX as f64 / 2.0)) as u64)
    } else {
        SimDuration::ZERO
    }
}

/// A distribution of plain numbers (clock drift in parts per million).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NumberDist {
    Constant(f64),
    Uniform([f64; 2]),
    Normal { mean: f64, stddev: f64 },
}

impl NumberDist {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            NumberDist::Uniform([lo, hi]) if lo > hi => {
                Err(format!("uniform bounds are reversed: {lo} is above {hi}"))
            }
            NumberDist::Normal { stddev, .. } if *stddev < 0.0 => {
                Err("stddev cannot be negative".into())
            }
            _ => Ok(()),
        }
    }

    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match *self {
            NumberDist::Constant(x) => x,
            NumberDist::Uniform([lo, hi]) => lo + (hi - lo) * rng.unit(),
            NumberDist::Normal { mean, stddev } => mean + stddev * rng.std_normal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::rng::Purpose;

    fn ms(x: u64) -> SimDuration {
        SimDuration::from_millis(x)
    }

    fn draws(d: &DurationDist, n: usize) -> Vec<f64> {
        let mut r = Rng::stream(42, Purpose::Network, 0);
        let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut r).0 as f64).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    fn quantile(v: &[f64], q: f64) -> f64 {
        v[((v.len() - 1) as f64 * q) as usize]
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    const N: usize = 200_000;

    #[test]
    fn constant_is_constant() {
        let v = draws(&DurationDist::Constant(ms(5)), 100);
        assert!(v.iter().all(|&x| x == 5e6));
    }

    #[test]
    fn uniform_mean_and_quantiles() {
        let v = draws(&DurationDist::Uniform([ms(5), ms(10)]), N);
        assert!(close(mean(&v), 7.5e6, 0.005));
        assert!(close(quantile(&v, 0.1), 5.5e6, 0.01));
        assert!(close(quantile(&v, 0.9), 9.5e6, 0.01));
        assert!(v[0] >= 5e6 && v[N - 1] <= 10e6);
    }

    #[test]
    fn normal_mean_and_quantiles() {
        let v = draws(
            &DurationDist::Normal {
                mean: ms(10),
                stddev: ms(2),
            },
            N,
        );
        assert!(close(mean(&v), 10e6, 0.005));
        // z(0.8413) = 1
        assert!(close(quantile(&v, 0.8413), 12e6, 0.01));
        assert!(close(quantile(&v, 0.5), 10e6, 0.01));
    }

    #[test]
    fn normal_is_truncated_at_zero() {
        let v = draws(
            &DurationDist::Normal {
                mean: ms(1),
                stddev: ms(2),
            },
            20_000,
        );
        assert!(v[0] >= 0.0);
        // Truncation shifts the mean up: for N(1, 2) truncated at 0 it is about 2.02.
        assert!(close(mean(&v), 2.02e6, 0.03), "{}", mean(&v));
    }

    #[test]
    fn exponential_mean_and_quantiles() {
        let v = draws(&DurationDist::Exponential { mean: ms(4) }, N);
        assert!(close(mean(&v), 4e6, 0.01));
        // median = mean * ln 2, p90 = mean * ln 10
        assert!(close(
            quantile(&v, 0.5),
            4e6 * std::f64::consts::LN_2,
            0.015
        ));
        assert!(close(
            quantile(&v, 0.9),
            4e6 * std::f64::consts::LN_10,
            0.015
        ));
    }

    #[test]
    fn lognormal_mean_and_median() {
        let v = draws(
            &DurationDist::Lognormal {
                mean: ms(2),
                stddev: ms(1),
            },
            N,
        );
        let (mu, _) = lognormal_params(2e6, 1e6);
        assert!(close(mean(&v), 2e6, 0.01), "{}", mean(&v));
        assert!(close(quantile(&v, 0.5), libm::exp(mu), 0.015));
    }

    #[test]
    fn validation_rejects_reversed_bounds() {
        assert!(DurationDist::Uniform([ms(10), ms(5)]).validate().is_err());
        assert!(NumberDist::Uniform([10.0, -5.0]).validate().is_err());
    }
}
