//! Base types every other layer may use: virtual time, seeded randomness, the distributions
//! scenario files describe, a stop requested from outside the run, and reading an input file within a size bound. Nothing here knows
//! of Raft, nodes or the simulator.

pub mod dist;
pub mod input;
pub mod interrupt;
pub mod rng;
pub mod time;
