//! Base types every other layer may use: virtual time, seeded randomness, the distributions
//! scenario files describe, and reading an input file within a size bound. Nothing here knows
//! of Raft, nodes or the simulator.

pub mod dist;
pub mod input;
pub mod rng;
pub mod time;
