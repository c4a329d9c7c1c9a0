//! raftsim's integration tests, one crate: each file of `tests/` is a module of it, so the
//! suite links one test binary instead of one per file (most of a clean `cargo test`'s time
//! was linking). Run one file's tests with a filter: `cargo test --release --test suite
//! interaction::`. Tests share one process: none may change the working directory or the
//! environment.

#[path = "bad_input.rs"]
mod bad_input;
#[path = "bugs.rs"]
mod bugs;
#[path = "bugs_found.rs"]
mod bugs_found;
#[path = "check_offline.rs"]
mod check_offline;
#[path = "cli.rs"]
mod cli;
#[path = "clients.rs"]
mod clients;
#[path = "clock_jump.rs"]
mod clock_jump;
#[path = "interaction/cluster.rs"]
mod cluster;
#[path = "common/mod.rs"]
mod common;
#[path = "coverage.rs"]
mod coverage;
#[path = "determinism.rs"]
mod determinism;
#[path = "docs.rs"]
mod docs;
#[path = "durability.rs"]
mod durability;
#[path = "explore.rs"]
mod explore;
#[path = "failure_paths.rs"]
mod failure_paths;
#[path = "faulty_seeds.rs"]
mod faulty_seeds;
#[path = "figure8.rs"]
mod figure8;
#[path = "guided.rs"]
mod guided;
#[path = "incidents.rs"]
mod incidents;
#[path = "interaction.rs"]
mod interaction;
#[path = "layers.rs"]
mod layers;
#[path = "limits.rs"]
mod limits;
#[path = "liveness.rs"]
mod liveness;
#[path = "membership.rs"]
mod membership;
#[path = "membership_actions.rs"]
mod membership_actions;
#[path = "model.rs"]
mod model;
#[path = "observation.rs"]
mod observation;
#[path = "perfetto.rs"]
mod perfetto;
#[path = "raft_rs.rs"]
mod raft_rs;
#[path = "readme.rs"]
mod readme;
#[path = "reads.rs"]
mod reads;
#[path = "regressions.rs"]
mod regressions;
#[path = "replay.rs"]
mod replay;
#[path = "replication.rs"]
mod replication;
#[path = "interaction/script.rs"]
mod script;
#[path = "shrink.rs"]
mod shrink;
#[path = "summary_story.rs"]
mod summary_story;
#[path = "sweep.rs"]
mod sweep;
#[path = "switches.rs"]
mod switches;
#[path = "timeline.rs"]
mod timeline;
#[path = "trace_filter.rs"]
mod trace_filter;
#[path = "trace_levels.rs"]
mod trace_levels;
#[path = "transfer.rs"]
mod transfer;
#[path = "view_browser.rs"]
mod view_browser;
