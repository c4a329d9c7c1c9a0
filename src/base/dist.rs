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

use std::fmt;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::base::rng::Rng;
use crate::base::time::SimDuration;

/// A distribution of non-negative durations.
// Read by the `OneKey` reader below, written by the derive.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
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

    /// One draw. Hot paths keep a [`Law`] instead, which does the set-up once.
    pub fn sample(&self, rng: &mut Rng) -> SimDuration {
        Law::from(self).sample(rng)
    }
}

/// Normal truncated at zero: negative draws are redrawn (up to 64 times, then zero).
fn truncated_normal(m: f64, s: f64, rng: &mut Rng) -> SimDuration {
    for _ in 0..64 {
        let x = m + s * rng.std_normal();
        if x >= 0.0 {
            return round_ns(x);
        }
    }
    SimDuration::ZERO
}

/// A [`DurationDist`] ready to draw from: the log-normal's underlying (mu, sigma) are worked
/// out once, not per draw (the network draws one delay per message). Every draw is the same
/// number [`DurationDist::sample`] gives for the same stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Law {
    Constant(SimDuration),
    Uniform(u64, u64),
    Normal { mean: f64, stddev: f64 },
    Exponential { mean: f64 },
    Lognormal { mu: f64, sigma: f64 },
}

impl Law {
    pub const ZERO: Law = Law::Constant(SimDuration::ZERO);

    pub fn is_zero(&self) -> bool {
        matches!(self, Law::Constant(d) if d.0 == 0)
    }

    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> SimDuration {
        match *self {
            Law::Constant(d) => d,
            Law::Uniform(lo, hi) => SimDuration(rng.range_inclusive(lo, hi)),
            Law::Normal { mean, stddev } => truncated_normal(mean, stddev, rng),
            Law::Exponential { mean } => round_ns(rng.exponential(mean)),
            Law::Lognormal { mu, sigma } => round_ns(libm::exp(mu + sigma * rng.std_normal())),
        }
    }
}

impl From<&DurationDist> for Law {
    fn from(d: &DurationDist) -> Law {
        match *d {
            DurationDist::Constant(x) => Law::Constant(x),
            DurationDist::Uniform([lo, hi]) => Law::Uniform(lo.0, hi.0),
            DurationDist::Normal { mean, stddev } => Law::Normal {
                mean: mean.0 as f64,
                stddev: stddev.0 as f64,
            },
            DurationDist::Exponential { mean } => Law::Exponential {
                mean: mean.0 as f64,
            },
            DurationDist::Lognormal { mean, stddev } => {
                let (mu, sigma) = lognormal_params(mean.0 as f64, stddev.0 as f64);
                Law::Lognormal { mu, sigma }
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
// Read by the `OneKey` reader below, written by the derive.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
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

/// A distribution as the file writes it: an object with exactly one key, the variant's name
/// (the schema's `oneOf`). serde's derived reader for such an enum reports a second key as
/// "expected value"; this reader reads every key, so a message can name them all.
trait OneKey: Sized {
    /// The variant names, as serialised.
    const VARIANTS: &'static [&'static str];
    /// The value of variant `VARIANTS[i]`.
    fn read_value<'de, A: MapAccess<'de>>(i: usize, map: &mut A) -> Result<Self, A::Error>;
}

/// The object of a `normal` or `lognormal` variant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeanStddev<T> {
    mean: T,
    stddev: T,
}

/// The object of an `exponential` variant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mean<T> {
    mean: T,
}

struct OneKeyVisitor<T>(PhantomData<T>);

impl<'de, T: OneKey> Visitor<'de> for OneKeyVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a distribution: an object with exactly one of {}, e.g. {{ \"constant\": ... }}",
            T::VARIANTS.join(", ")
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut found: Vec<String> = Vec::new();
        let mut value = None;
        while let Some(key) = map.next_key::<String>()? {
            let Some(i) = T::VARIANTS.iter().position(|v| *v == key) else {
                return Err(A::Error::unknown_variant(&key, T::VARIANTS));
            };
            if value.is_none() {
                value = Some(T::read_value(i, &mut map)?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            found.push(key);
        }
        match value {
            Some(v) if found.len() == 1 => Ok(v),
            _ => Err(A::Error::custom(format!(
                "give exactly one of {} (found {}{})",
                T::VARIANTS.join(", "),
                found.len(),
                if found.is_empty() {
                    String::new()
                } else {
                    format!(": {}", found.join(", "))
                }
            ))),
        }
    }
}

impl OneKey for DurationDist {
    const VARIANTS: &'static [&'static str] =
        &["constant", "uniform", "normal", "exponential", "lognormal"];

    fn read_value<'de, A: MapAccess<'de>>(i: usize, map: &mut A) -> Result<Self, A::Error> {
        Ok(match i {
            0 => DurationDist::Constant(map.next_value()?),
            1 => DurationDist::Uniform(map.next_value()?),
            2 => {
                let MeanStddev { mean, stddev } = map.next_value()?;
                DurationDist::Normal { mean, stddev }
            }
            3 => {
                let Mean { mean } = map.next_value()?;
                DurationDist::Exponential { mean }
            }
            _ => {
                let MeanStddev { mean, stddev } = map.next_value()?;
                DurationDist::Lognormal { mean, stddev }
            }
        })
    }
}

impl<'de> Deserialize<'de> for DurationDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(OneKeyVisitor(PhantomData))
    }
}

impl OneKey for NumberDist {
    const VARIANTS: &'static [&'static str] = &["constant", "uniform", "normal"];

    fn read_value<'de, A: MapAccess<'de>>(i: usize, map: &mut A) -> Result<Self, A::Error> {
        Ok(match i {
            0 => NumberDist::Constant(map.next_value()?),
            1 => NumberDist::Uniform(map.next_value()?),
            _ => {
                let MeanStddev { mean, stddev } = map.next_value()?;
                NumberDist::Normal { mean, stddev }
            }
        })
    }
}

impl<'de> Deserialize<'de> for NumberDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(OneKeyVisitor(PhantomData))
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

    /// The reader accepts what the derived writer writes, variant for variant, so the names
    /// in `OneKey::VARIANTS` cannot drift from the serialised ones.
    #[test]
    fn every_variant_round_trips_through_json() {
        let durations = [
            DurationDist::Constant(ms(5)),
            DurationDist::Uniform([ms(5), ms(10)]),
            DurationDist::Normal {
                mean: ms(2),
                stddev: ms(1),
            },
            DurationDist::Exponential { mean: ms(1) },
            DurationDist::Lognormal {
                mean: ms(2),
                stddev: ms(1),
            },
        ];
        assert_eq!(durations.len(), DurationDist::VARIANTS.len());
        for (d, name) in durations.iter().zip(DurationDist::VARIANTS) {
            let json = serde_json::to_string(d).unwrap();
            assert!(json.starts_with(&format!("{{\"{name}\":")), "{json}");
            assert_eq!(&serde_json::from_str::<DurationDist>(&json).unwrap(), d);
        }
        let numbers = [
            NumberDist::Constant(-3.5),
            NumberDist::Uniform([-100.0, 100.0]),
            NumberDist::Normal {
                mean: 0.0,
                stddev: 20.0,
            },
        ];
        assert_eq!(numbers.len(), NumberDist::VARIANTS.len());
        for (d, name) in numbers.iter().zip(NumberDist::VARIANTS) {
            let json = serde_json::to_string(d).unwrap();
            assert!(json.starts_with(&format!("{{\"{name}\":")), "{json}");
            assert_eq!(&serde_json::from_str::<NumberDist>(&json).unwrap(), d);
        }
    }

    /// Not exactly one key: the message names every key found and the allowed ones.
    #[test]
    fn one_key_exactly() {
        let err = |json: &str| {
            serde_json::from_str::<DurationDist>(json)
                .unwrap_err()
                .to_string()
        };
        let all = "give exactly one of constant, uniform, normal, exponential, lognormal";
        let two = err(r#"{ "constant": "1ms", "uniform": ["1ms", "2ms"] }"#);
        assert!(
            two.contains(&format!("{all} (found 2: constant, uniform)")),
            "{two}"
        );
        let three = err(
            r#"{ "normal": {"mean": "1ms", "stddev": "1ms"}, "constant": "1ms", "uniform": 3 }"#,
        );
        assert!(
            three.contains("(found 3: normal, constant, uniform)"),
            "{three}"
        );
        assert!(err("{}").contains(&format!("{all} (found 0)")));
        let unknown = err(r#"{ "constnt": "1ms" }"#);
        assert!(unknown.contains("unknown variant `constnt`"), "{unknown}");
        let inner = err(r#"{ "normal": { "mean": "1ms" } }"#);
        assert!(inner.contains("missing field `stddev`"), "{inner}");
        let extra = err(r#"{ "exponential": { "mean": "1ms", "stddev": "1ms" } }"#);
        assert!(extra.contains("unknown field `stddev`"), "{extra}");
        let numbers = serde_json::from_str::<NumberDist>(r#"{ "constant": 1, "normal": {} }"#)
            .unwrap_err()
            .to_string();
        assert!(
            numbers.contains(
                "give exactly one of constant, uniform, normal (found 2: constant, normal)"
            ),
            "{numbers}"
        );
    }

    #[test]
    fn validation_rejects_reversed_bounds() {
        assert!(DurationDist::Uniform([ms(10), ms(5)]).validate().is_err());
        assert!(NumberDist::Uniform([10.0, -5.0]).validate().is_err());
    }
}
