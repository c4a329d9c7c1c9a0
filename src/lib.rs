//! raftsim: a deterministic discrete-event simulator for the Raft consensus algorithm.
//!
//! # The event loop
//!
//! A run is one thread, one virtual clock and `n` in-process Raft nodes. The [`sim`] loop pops
//! the earliest event by (virtual time, insertion sequence) from the [`engine`] queue and
//! delivers it: a message to a node, a timer firing, a completed disk write, a fault, a client
//! request. The node ([`raft`]) is sans-IO: it answers with messages, timer requests, disk
//! writes, applies and observations. The simulator turns those into future events through the
//! network model ([`net`]), each node's drifting clock, and its disk. Every observation passes
//! through the safety [`check`]er, the [`summary`] and, when enabled, the JSON Lines [`trace`].
//!
//! # The determinism contract
//!
//! Same scenario + same seed = the same run, byte for byte, on any machine and at any
//! `--jobs`. Every random draw comes from a ChaCha8 stream derived from (seed, purpose, index)
//! ([`rng`]); samplers use integer arithmetic or `libm`; sampled durations are rounded to
//! integer nanoseconds ([`time`]) before they enter the queue; no `HashMap` iteration or wall
//! clock can reach a run. Sweeps derive each trial's seed from (seed, config, trial) and sort
//! results before writing them.
//!
//! # Modules
//!
//! | module | role |
//! | --- | --- |
//! | [`time`] | `SimTime`/`SimDuration`, integer nanoseconds; "150ms" parsing |
//! | [`rng`] | seeded streams per purpose; portable samplers |
//! | [`dist`] | delay/latency/drift distributions from scenario files |
//! | [`engine`] | event queue ordered by (time, sequence) |
//! | [`net`] | delay, loss, duplication, partitions, one-way cuts |
//! | [`raft`] | the Raft node (paper Figure 2), sans-IO |
//! | [`scenario`] | the scenario file: schema, validation, errors |
//! | [`sim`] | one run: nodes, clocks, disks, faults, clients, the loop |
//! | [`trace`] | trace events, JSON Lines, hash, human form |
//! | [`check`] | the safety properties, online and over a trace file |
//! | [`summary`] | summary metrics and split-vote detection |
//! | [`sweep`] | many trials in parallel: the Figure 16 experiment |
//! | [`plot`] | the time-to-leader CDF (PNG, SVG) |
//! | [`output`] | atomic file writes |
//! | [`bench`] | `raftsim bench`: speed figures |

pub mod bench;
pub mod check;
pub mod dist;
pub mod engine;
pub mod net;
pub mod output;
pub mod plot;
pub mod raft;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod summary;
pub mod sweep;
pub mod time;
pub mod trace;
