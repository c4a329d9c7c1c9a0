//! Base types every other layer may use: virtual time, seeded randomness and the distributions
//! scenario files describe. Nothing here knows of Raft, nodes or the simulator.

pub mod dist;
pub mod rng;
pub mod time;
