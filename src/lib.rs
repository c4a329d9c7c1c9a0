//! raftsim: a deterministic discrete-event simulator for the Raft consensus algorithm.
//!
//! # The event loop
//!
//! A run is one thread, one virtual clock and `n` nodes behind one interface
//! ([`protocol::RaftNode`]). The [`world`] loop pops the earliest event by (virtual time,
//! insertion sequence) from the [`world::queue`] and delivers it: a message to a node, a timer
//! firing, a completed disk write, a fault, a client request. A node is sans-IO: it answers with
//! messages, timer requests, disk writes, applies and client replies. The world turns those into
//! future events through the network model ([`world::net`]), each node's drifting clock and its
//! disk, and observes each node from outside ([`world::witness`]): what it wrote, applied and
//! reports as its role become trace records, which every [`observe::Observer`] sees — the safety
//! checker, the summary and, when enabled, the JSON Lines trace. The built-in Raft node
//! ([`node`]) is one implementation of the interface.
//!
//! # The determinism contract
//!
//! Same scenario + same seed = the same run, byte for byte, on any machine and at any
//! `--jobs`. Every random draw comes from a ChaCha8 stream derived from (seed, purpose, index)
//! ([`base::rng`]); samplers use integer arithmetic or `libm`; sampled durations are rounded to
//! integer nanoseconds ([`base::time`]) before they enter the queue; no `HashMap` iteration or wall
//! clock can reach a run. Sweeps derive each trial's seed from (seed, config, trial) and sort
//! results before writing them.
//!
//! # Layers
//!
//! Dependencies point one way, from the command line down to the base types; see
//! `docs/ARCHITECTURE.md` for the picture and for what each layer must not do.
//!
//! | layer | role |
//! | --- | --- |
//! | [`cli`] | the command line: flags to settings, each command's steps, exit codes (the binary only calls [`cli::main`]) |
//! | [`base`] | virtual time, seeded randomness, distributions |
//! | [`protocol`] | the node interface: inputs, outputs, messages, logs, durable state |
//! | [`node`] | the built-in Raft node (paper Figure 2), one implementation of the interface |
//! | [`raftrs`] | tikv's raft crate behind the interface: a second implementation, an adapter |
//! | [`nodes`] | the implementations a scenario may choose (`node`), and their options |
//! | [`scenario`] | the scenario file: schema, validation, errors |
//! | [`world`] | the simulated world: event queue, network, clocks, disks, faults, clients, the loop |
//! | [`observe`] | observers: trace events and writer, safety checker, summary, split votes |
//! | [`experiment`] | many runs: the Figure 16 sweep, the benchmark |
//! | [`report`] | atomic file writes, plots, trace comparison, reproduce lines, the timeline picture, the Perfetto export, the browser viewer, trace filters |

pub mod base;
pub mod cli;
pub mod experiment;
pub mod node;
pub mod nodes;
pub mod observe;
pub mod protocol;
pub mod raftrs;
pub mod report;
pub mod scenario;
pub mod world;
