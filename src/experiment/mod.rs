//! Experiments: many runs of the simulated world, in parallel — the Figure 16 sweep and the
//! speed benchmark.

pub mod analytic;
pub mod bench;
pub mod explore;
pub mod reference;
pub mod run;
pub mod shrink;
pub mod sweep;
