//! Reports: files written atomically, plots, trace comparison (`raftsim diff`) and the command
//! that reproduces a run.

pub mod diff;
pub mod output;
pub mod perfetto;
pub mod plot;
pub mod reproduce;
pub mod runmodel;
pub mod timeline;
pub mod tracefilter;
pub mod view;
