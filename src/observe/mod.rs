//! Observers: everything that watches a run from outside — trace events and their JSON Lines
//! writer, the safety checker, the summary and split-vote detection.

pub mod check;
pub mod summary;
pub mod trace;
