//! Reports: files written atomically and plots.

pub mod output;
pub mod plot;
