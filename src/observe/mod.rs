//! Observers: everything that watches a run from outside. The world emits one [`Record`] per
//! observable event (derived from what nodes persisted, sent and applied, and from their role
//! as the node interface reports it) and hands it to every observer in turn: the split-vote
//! detector, the safety [`check`]er, the [`summary`], the JSON Lines [`trace`] writer, and any
//! an experiment adds (the sweep's per-trial metrics). Observers must not change the run: they
//! see records, they never reach into the world.

pub mod availability;
pub mod check;
pub mod clients;
pub mod coverage;
pub mod linear;
pub mod story;
pub mod summary;
pub mod trace;

use std::io::Write;

use check::{Checker, Violation};
use summary::{SplitVoteDetector, SummaryBuilder};
use trace::{Event, Record, TraceWriter};

/// What the world says about the run besides the record itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct ObsCtx {
    /// Every scheduled fault event (start and end) has been applied.
    pub faults_done: bool,
    /// The record is a crash at one of the node's disk writes (a `crash_at_write` fault):
    /// the trace shows an ordinary `crash` (coverage tells the two apart).
    pub at_write: bool,
}

/// Watches a run, one record at a time.
pub trait Observer {
    /// Events this record implies, which every observer then sees right after it (the
    /// split-vote detector's `split_vote`).
    fn derive(&mut self, _rec: &Record, _out: &mut Vec<Event>) {}

    /// Sees a record; `index` is its 1-based line in the trace. A violation stops the run after
    /// the current event (the rest of that event's records are still observed).
    fn observe(&mut self, rec: &Record, index: u64, ctx: &ObsCtx) -> Option<Violation>;
}

/// A borrowed observer is an observer.
impl<T: Observer + ?Sized> Observer for &mut T {
    #[inline]
    fn derive(&mut self, rec: &Record, out: &mut Vec<Event>) {
        (**self).derive(rec, out)
    }
    #[inline]
    fn observe(&mut self, rec: &Record, index: u64, ctx: &ObsCtx) -> Option<Violation> {
        (**self).observe(rec, index, ctx)
    }
}

/// No observer.
impl Observer for () {
    #[inline]
    fn observe(&mut self, _: &Record, _: u64, _: &ObsCtx) -> Option<Violation> {
        None
    }
}

/// An absent observer sees nothing.
impl<T: Observer> Observer for Option<T> {
    #[inline]
    fn derive(&mut self, rec: &Record, out: &mut Vec<Event>) {
        if let Some(o) = self {
            o.derive(rec, out)
        }
    }
    #[inline]
    fn observe(&mut self, rec: &Record, index: u64, ctx: &ObsCtx) -> Option<Violation> {
        self.as_mut().and_then(|o| o.observe(rec, index, ctx))
    }
}

/// A tuple of observers is one observer: each sees every record, in order; the first
/// violation reported wins.
macro_rules! tuple_observer {
    ($($name:ident . $i:tt),+) => {
        impl<$($name: Observer),+> Observer for ($($name,)+) {
            #[inline]
            fn derive(&mut self, rec: &Record, out: &mut Vec<Event>) {
                $(self.$i.derive(rec, out);)+
            }
            #[inline]
            fn observe(&mut self, rec: &Record, index: u64, ctx: &ObsCtx) -> Option<Violation> {
                let mut first = None;
                $(
                    if let Some(v) = self.$i.observe(rec, index, ctx) {
                        first.get_or_insert(v);
                    }
                )+
                first
            }
        }
    };
}
tuple_observer!(A.0, B.1);
tuple_observer!(A.0, B.1, C.2);
tuple_observer!(A.0, B.1, C.2, D.3);
tuple_observer!(A.0, B.1, C.2, D.3, E.4);
tuple_observer!(A.0, B.1, C.2, D.3, E.4, F.5);

impl Observer for SplitVoteDetector {
    fn derive(&mut self, rec: &Record, out: &mut Vec<Event>) {
        self.on(&rec.ev, out);
    }
    fn observe(&mut self, _: &Record, _: u64, _: &ObsCtx) -> Option<Violation> {
        None
    }
}

impl Observer for Checker {
    fn observe(&mut self, rec: &Record, index: u64, _: &ObsCtx) -> Option<Violation> {
        self.check(rec, index)
    }
}

impl Observer for availability::Availability {
    fn observe(&mut self, rec: &Record, index: u64, _: &ObsCtx) -> Option<Violation> {
        self.on(rec, index)
    }
}

impl Observer for SummaryBuilder {
    fn observe(&mut self, rec: &Record, index: u64, _: &ObsCtx) -> Option<Violation> {
        self.on(rec);
        self.availability.on(rec, index)
    }
}

impl<W: Write> Observer for TraceWriter<W> {
    fn observe(&mut self, rec: &Record, _: u64, _: &ObsCtx) -> Option<Violation> {
        self.record(rec);
        None
    }
}
