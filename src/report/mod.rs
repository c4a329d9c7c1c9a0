//! Reports: files written atomically, plots, trace comparison (`raftsim diff`), the command
//! that reproduces a run, and the ways of seeing a run: the run model, drawn by the timeline
//! picture, the Perfetto export and the browser viewer, and the trace filter (`raftsim trace`).

pub mod diff;
pub mod output;
pub mod perfetto;
pub mod plot;
pub mod reproduce;
pub mod runmodel;
pub mod timeline;
pub mod tracefilter;
pub mod view;
