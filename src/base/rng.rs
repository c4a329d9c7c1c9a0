//! Seeded randomness. Every random draw in a run comes from a ChaCha8 stream derived from
//! (seed, purpose, index): the seed fills the key, and the purpose and index select one of
//! ChaCha's 2^64 independent streams. So node 3's election timeouts do not move when a fault
//! is added, because faults draw from another stream.
//!
//! Samplers here use only integer arithmetic and IEEE `+ - * / sqrt`, plus `libm` for `ln`,
//! `exp` and `cos`, so they give the same bits on every platform. Nothing here may use an
//! unseeded generator.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// What a stream is for. The discriminant is part of the stream id: never reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// Message delay, loss and duplication (index: sending node).
    Network = 1,
    /// A node's election timeouts and timer wake-up jitter (index: node).
    Timers = 2,
    /// Fault times and fault targets drawn from distributions.
    Faults = 3,
    /// Client request arrivals and targets.
    Workload = 4,
    /// Per-node clock drift.
    Clocks = 5,
    /// Disk write latency (index: node).
    Storage = 6,
    /// Message processing time at the receiver (index: receiving node).
    Processing = 7,
    /// Trial seeds of a sweep or a seed search (index: configuration).
    Trials = 8,
    /// The seed handed to a node implementation at each start (index: node id << 32 |
    /// incarnation).
    NodeSeed = 9,
    /// The cluster's shape drawn from a run's seed (a scenario's `draw`).
    Shape = 10,
    /// `storage.metadata_write`'s syncs (index: node), apart from `Storage`.
    StorageMetadata = 11,
    /// `storage.log_write`'s syncs (index: node), apart from `Storage`.
    StorageLog = 12,
}

/// A deterministic random stream.
#[derive(Clone, Debug)]
pub struct Rng(ChaCha8Rng, Option<f64>);

impl Rng {
    /// The stream for (seed, purpose, index).
    pub fn stream(seed: u64, purpose: Purpose, index: u64) -> Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(b"raftsim1");
        let mut r = ChaCha8Rng::from_seed(key);
        r.set_stream(((purpose as u64) << 40) ^ index);
        Rng(r, None)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1], safe to take the logarithm of.
    pub fn unit_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [lo, hi] inclusive, unbiased (Lemire's method with rejection).
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        let n = span + 1;
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return lo + (m >> 64) as u64;
            }
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (p >= 1.0 || self.unit() < p)
    }

    /// Standard normal by Box-Muller with portable `libm` functions. Each pair of uniforms gives
    /// two normals; the second is kept for the next call.
    pub fn std_normal(&mut self) -> f64 {
        if let Some(z) = self.1.take() {
            return z;
        }
        let u1 = self.unit_open0();
        let u2 = self.unit();
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let (s, c) = libm::sincos(2.0 * std::f64::consts::PI * u2);
        self.1 = Some(r * s);
        r * c
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.unit_open0())
    }
}

/// A seed for (seed, purpose, index), cheaper than opening a stream (no ChaCha block): for
/// handing to code that seeds a generator of its own, such as a node implementation.
pub fn derive_seed(seed: u64, purpose: Purpose, index: u64) -> u64 {
    trial_seed(seed ^ ((purpose as u64) << 56), index, 0x5eed)
}

/// The seed of trial `trial` of configuration `config` under base seed `seed`: independent of
/// thread scheduling, so a sweep writes the same files at any `--jobs`.
pub fn trial_seed(seed: u64, config: u64, trial: u64) -> u64 {
    // SplitMix64 finaliser over a combination of the three; cheap and well mixed.
    let mut z = seed
        .wrapping_add(config.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(trial.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_repeatable_and_independent() {
        let a: Vec<u64> = (0..4)
            .map(|_| Rng::stream(7, Purpose::Network, 0).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::stream(7, Purpose::Network, 0);
        let mut y = Rng::stream(7, Purpose::Network, 1);
        let mut z = Rng::stream(7, Purpose::Timers, 0);
        let mut w = Rng::stream(8, Purpose::Network, 0);
        let first = x.next_u64();
        assert_ne!(first, y.next_u64());
        assert_ne!(first, z.next_u64());
        assert_ne!(first, w.next_u64());
    }

    #[test]
    fn range_inclusive_covers_both_ends_uniformly() {
        let mut r = Rng::stream(1, Purpose::Faults, 0);
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            counts[(r.range_inclusive(10, 14) - 10) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(r.range_inclusive(3, 3), 3);
    }
}
