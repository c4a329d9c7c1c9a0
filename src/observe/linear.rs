//! Linearizability checking of client histories over a key-value store of registers.
//!
//! # What is checked
//!
//! A history is a set of [`Operation`]s as clients saw them: when each was invoked, and when and
//! with what answer it completed, if it did. The history is *linearizable* (Herlihy & Wing) if
//! every operation can be given a linearization point inside its interval `[invoke, complete]`
//! so that, executed one at a time in the order of those points, the sequential model returns
//! exactly what each client was told. Intervals are closed: an operation completing at `t` and
//! another invoked at `t` overlap, and may be ordered either way.
//!
//! The model is one register per key, initially unset: [`OpKind::Get`] returns the current value
//! (`None` if the key was never written), [`OpKind::Put`] sets it, and [`OpKind::Cas`] sets it
//! to `value` and succeeds if it currently holds `expect`, and otherwise fails and changes
//! nothing.
//!
//! An operation whose client got no answer (timed out, gave up) is *indeterminate*: it may have
//! taken effect at any one point after its invocation, with whatever result, or never. An
//! indeterminate `Get` changes nothing and constrains nothing, so it is dropped.
//!
//! Linearizability is local (Herlihy & Wing): a history is linearizable if and only if the
//! history of each object is. So every key is checked on its own, in ascending key order.
//!
//! # The search
//!
//! Each key's history is checked by Wing & Gong's search. The operations become a list of call
//! and return events sorted by time (a call before a return at the same time, which is what
//! makes intervals closed). The search repeatedly picks an operation whose call comes before the
//! first return event still in the list (every such operation is concurrent with all the others
//! not yet linearized), applies it to the register, and removes its events; when no candidate
//! fits, it undoes the last choice and tries the next candidate. Each configuration reached, the
//! set of operations linearized so far (a bitset) together with the register's value, is
//! remembered: the rest of the search depends on nothing else, so a configuration seen once is
//! never explored again. An indeterminate operation has no return event: it never blocks
//! others and need never be linearized, and the search succeeds once every completed operation
//! has been.
//!
//! Indeterminate operations are what make the search costly: each may take effect at any time
//! from its invocation on, so the configurations multiply with them. The search keeps them
//! apart from the completed ones: a configuration with fewer of them applied, and otherwise
//! the same, makes one with more redundant; identical ones are interchangeable; and they are
//! applied only directly before a completed operation that needs them (see `search`). A
//! linearizable history is usually found quickly all the same; proving that a long history
//! with many indeterminate operations has no linearization can still take time exponential in
//! how many are outstanding, which is what the bound is for.
//!
//! Every configuration entered counts as one *state*; [`Report::states`] is the total, the
//! checker's cost, and depends only on the history (and the guide, below). A check that would
//! enter more than [`Limits::max_states`] states in all stops, and the key it was searching is
//! [`Verdict::Unknown`].
//!
//! # A guide
//!
//! A simulator knows the order in which its state machines applied the operations.
//! [`check_guided`] tries that order first, key by key: if it is a linearization, the key
//! costs one state per operation. A correct Raft's order always is (its log order, with each
//! operation placed at the later of its invocation and the previous one's point), so a run of
//! a correct node is decided in linear time. Where the order breaks, windows ending just
//! after the break are searched first (a violation is usually there); the full search decides
//! what they do not. The guide changes the cost and which failing window is reported, never
//! the verdict.
//!
//! # The window of a violation
//!
//! When a key's history has no linearization, the checker reports a short window of it that
//! already has none, found in two steps.
//!
//! **The end `T`.** For a time `t`, the prefix `H_t` is the history as known at `t`: the
//! operations invoked at or before `t`, where those not completed by `t` are indeterminate.
//! Prefixes are monotone: if `H_t'` has a linearization and `t < t'`, keeping only the
//! operations whose points are at or before `t` gives one of `H_t` (every operation completed
//! by `t` has its point by `t`; the others are indeterminate in `H_t`, and may be left out).
//! `H_t` changes its verdict only when an operation completes, and the prefix at the last
//! completion is the whole history (anything invoked later is indeterminate). So `T` is the
//! earliest completion time whose prefix has no linearization, found by binary search.
//!
//! **The start `S`.** For a time `S`, the window `W(S, T)` holds the operations of `H_T` whose
//! intervals meet `[S, T]`: completed at or after `S`, or still pending at `T`. Its operations
//! invoked at or after `S` and completed by `T` must be linearized; those invoked before `S`
//! may instead be left out, and its indeterminate ones too. `W(S, T)` *fails* if it has no
//! linearization from any register value at `S`. This is sound: if `H_T` had a linearization,
//! let `v` be the register's value after the operations whose points lie before `S`. Every
//! operation outside the window completed before `S`, so its point lies before `S`; every
//! operation whose point lies at or after `S` is in the window; the window's operations whose
//! points lie before `S` were all invoked before `S`, so they may be left out; and the rest,
//! in the order of their points, form a linearization of the window from `v`. So a failing
//! window means `H_T`, and so the history, has no linearization.
//!
//! Operations invoked before `S` must be allowed to be left out: one that took effect before
//! `S`, and before operations that completed before `S`, is already accounted for in `v` and
//! cannot be replayed after it (a `Cas` that succeeded on `v`'s predecessor fails on `v`).
//!
//! "Any register value" means finitely many candidates: unset, every value that appears in the
//! window's operations (`Put` values, `Cas` expected and new values, `Get` results), and one
//! value appearing in none of them, which stands for all such values (the window's operations
//! cannot tell them apart). One search explores all candidates with a shared memo, since a
//! configuration's future does not depend on where the search started.
//!
//! The same argument, applied to a linearization of `W(S', T)` for `S' < S`, shows that if
//! `W(S, T)` fails so does `W(S', T)`; so `S` is found by search too, probing back from `T`
//! at doubling distances (short windows are cheap) and then bisecting. Only invocation
//! times are candidates: between two of them the window's mandatory operations stay the same
//! while operations that may be left out drop away, which only helps it fail, and after the
//! last one it has no mandatory operations. The earliest candidate is special: no operation was
//! invoked before it, so the register is known to be unset there, and the window is `H_T`
//! itself, checked from unset, which fails by the choice of `T`. So a window always exists;
//! [`Verdict::Violation::from`] says which kind was found.
//!
//! Each probe is a search with its own bound; one that exceeds it counts as not failing, so the
//! window reported is still a failing one, though then perhaps not the shortest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// What an operation asked of its key's register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Read the current value.
    Get,
    /// Set the value.
    Put { value: u64 },
    /// Compare-and-set: if the register holds `expect`, set it to `value` and succeed;
    /// otherwise fail and change nothing (an unset register holds no `expect`).
    Cas { expect: u64, value: u64 },
}

/// What a client was told when its operation completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// The value read; `None` if the key had never been written.
    Get(Option<u64>),
    /// The write was acknowledged.
    Put,
    /// Whether the compare-and-set succeeded.
    Cas(bool),
}

/// One client operation in a history.
///
/// A result of the wrong kind for the operation (a `Put` answered with [`Ret::Get`]) fits no
/// register value, so it can never be linearized. An operation completed before it was invoked
/// is malformed: it is reported as a violation on its own, its window's start and end its
/// invocation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The caller's id for the operation (its request number), used in reports.
    pub id: u64,
    /// The key, whose register the operation acts on.
    pub key: u32,
    /// What the operation asked.
    pub kind: OpKind,
    /// When the client invoked it (ns).
    pub invoke: u64,
    /// When the client got its answer (ns), and the answer; `None` if it never did
    /// (indeterminate): then the operation may have taken effect at any one point after
    /// `invoke`, with whatever result, or never.
    pub complete: Option<(u64, Ret)>,
}

/// Bounds on the checker's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most states (configurations) one check may explore, all its searches together:
    /// every key's, and the window search that follows a violation. Each key's search may take
    /// its fair share of what is left (what is left divided by the keys still to check); a key
    /// whose search would pass its share is [`Verdict::Unknown`]; a window search that would
    /// pass the bound reports the shortest failing window proven so far.
    pub max_states: u64,
}

impl Default for Limits {
    /// 500,000 states: about two seconds of search on the machine the docs were measured on.
    fn default() -> Self {
        Limits {
            max_states: 500_000,
        }
    }
}

/// Which register values a violation's window was shown to fail from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowStart {
    /// From every register value at the window's start: whatever happened before it, these
    /// operations cannot be linearized (operations invoked before the start may have taken
    /// effect before it, and so are allowed to be left out).
    AnyValue,
    /// From the initial, unset register: no shorter window fails from every value, and the
    /// window is the whole history up to its end.
    Initial,
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's history has a linearization.
    Linearizable,
    /// A key's history has no linearization (the lowest such key), with the shortest window
    /// of it that already has none (see the module documentation).
    Violation {
        /// The key.
        key: u32,
        /// The window's operations' ids, by invocation time (ties in history order).
        /// Indeterminate `Get`s, which cannot matter, are never listed.
        window: Vec<u64>,
        /// The window's start `S`: an invocation time. Listed operations invoked before it may
        /// have taken effect before it.
        start: u64,
        /// The window's end `T`: the earliest completion time by which the key's history, as
        /// known then, has no linearization. Listed operations completing after it are treated
        /// as indeterminate.
        end: u64,
        /// What the window fails from.
        from: WindowStart,
    },
    /// No key's history was found to have no linearization, but the search for this key (the
    /// lowest such) exceeded [`Limits::max_states`]: it is neither proven nor refuted.
    Unknown {
        /// The key.
        key: u32,
        /// How many operations the key's history has.
        ops: usize,
    },
}

/// A check's verdict and cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The outcome.
    pub verdict: Verdict,
    /// How many distinct keys the history has.
    pub keys: usize,
    /// How many operations the history has.
    pub ops: usize,
    /// The states explored by all searches, the checker's cost; it depends only on the history
    /// and limits. Checking stops at the first violating key.
    pub states: u64,
}

impl fmt::Display for WindowStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowStart::AnyValue => f.write_str("from any register value"),
            WindowStart::Initial => f.write_str("from the unset register"),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => f.write_str("linearizable"),
            Verdict::Violation {
                key,
                window,
                start,
                end,
                from,
            } => {
                write!(f, "not linearizable: key {key}: operations [")?;
                for (i, id) in window.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{id}")?;
                }
                write!(f, "] in [{start}, {end}] have no linearization {from}")
            }
            Verdict::Unknown { key, ops } => write!(
                f,
                "unknown: the search for key {key} ({ops} operations) exceeded its bound"
            ),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} keys, {} operations, {} states explored)",
            self.verdict, self.keys, self.ops, self.states
        )
    }
}

/// Checks a history for linearizability, key by key in ascending order; on the first key with
/// no linearization, finds its shortest failing window (see the module documentation).
pub fn check(history: &[Operation], limits: &Limits) -> Report {
    check_guided(history, &[], limits)
}

/// As [`check`], trying first, for each key, the order `guide` gives (operation ids, the
/// order in which the system under test executed them, for example by log index): if that
/// order, restricted to the key, is a linearization (each operation placed at the latest of
/// its invocation and the previous one's point, within its interval, answering what its
/// client was told), the key is linearizable at the cost of one state per operation; if not,
/// or if a completed operation of the key is missing from the guide, the full search decides.
/// A guide only orders the work: the verdict is the same with any guide or none.
pub fn check_guided(history: &[Operation], guide: &[u64], limits: &Limits) -> Report {
    let mut by_key: BTreeMap<u32, Vec<&Operation>> = BTreeMap::new();
    for op in history {
        by_key.entry(op.key).or_default().push(op);
    }
    let keys = by_key.len();
    let mut states = 0;
    let mut unknown = None;
    let mut guided: HashMap<u32, Vec<&Operation>> = HashMap::new();
    if !guide.is_empty() {
        let by_id: HashMap<u64, &Operation> = history.iter().map(|o| (o.id, o)).collect();
        let mut taken = std::collections::HashSet::new();
        for id in guide {
            if let Some(o) = by_id.get(id).filter(|_| taken.insert(*id)) {
                guided.entry(o.key).or_default().push(o);
            }
        }
    }
    let (by_key_len, mut done_keys) = (by_key.len(), 0usize);
    for (&key, ops) in &mut by_key {
        let total = ops.len();
        if let Some(order) = guided.get(&key) {
            let completed = ops.iter().filter(|o| o.complete.is_some()).count();
            let completed_in_order = order.iter().filter(|o| o.complete.is_some()).count();
            let followed = follows(order);
            states += order.len() as u64;
            if completed == completed_in_order && followed.is_ok() {
                continue;
            }
            // Where the guide broke is where a violation most likely is: short windows ending
            // near it are cheap to search, and one that fails from any value proves it.
            if let Err(at) = followed {
                let near = order[at].complete.map_or(order[at].invoke, |(c, _)| c);
                let mut sorted = ops.clone();
                sorted.sort_by_key(|o| o.invoke);
                sorted.retain(|o| !(o.complete.is_none() && o.kind == OpKind::Get));
                if let Some(v) = window_near(key, &sorted, near, limits, &mut states) {
                    return Report {
                        verdict: v,
                        keys,
                        ops: history.len(),
                        states,
                    };
                }
            }
        }
        // Stable: ties in invocation time keep history order.
        ops.sort_by_key(|o| o.invoke);
        ops.retain(|o| !(o.complete.is_none() && o.kind == OpKind::Get));
        if let Some(o) = ops
            .iter()
            .find(|o| o.complete.is_some_and(|(c, _)| c < o.invoke))
        {
            return Report {
                verdict: Verdict::Violation {
                    key,
                    window: vec![o.id],
                    start: o.invoke,
                    end: o.invoke,
                    from: WindowStart::AnyValue,
                },
                keys,
                ops: history.len(),
                states,
            };
        }
        let all = prefix(ops, u64::MAX);
        // A fair share of what is left, so that one hard key cannot starve the keys after it.
        let left = (by_key_len - done_keys) as u64;
        let share = limits.max_states.saturating_sub(states) / left.max(1);
        done_keys += 1;
        let (outcome, used) = search(&all, &[None], share);
        states += used;
        match outcome {
            Outcome::Linearizable => {}
            Outcome::Unknown => {
                unknown.get_or_insert(Verdict::Unknown { key, ops: total });
            }
            Outcome::NotLinearizable => {
                let verdict = window(key, ops, limits, &mut states);
                return Report {
                    verdict,
                    keys,
                    ops: history.len(),
                    states,
                };
            }
        }
    }
    Report {
        verdict: unknown.unwrap_or(Verdict::Linearizable),
        keys,
        ops: history.len(),
        states,
    }
}

/// A violation in words, for the run's report and the trace's `violation` record: the key, and
/// each operation of the window with its interval and what its client was told, in seconds
/// (`history` is the one checked; `window` and the rest are its [`Verdict::Violation`]).
pub fn describe_violation(
    history: &[Operation],
    key: u32,
    window: &[u64],
    start: u64,
    end: u64,
    from: WindowStart,
) -> String {
    use crate::base::time::SimTime;
    let by_id: HashMap<u64, &Operation> = history.iter().map(|o| (o.id, o)).collect();
    let ops: Vec<String> = window
        .iter()
        .filter_map(|id| by_id.get(id))
        .map(|o| {
            let asked = match o.kind {
                OpKind::Get => format!("get k{key}"),
                OpKind::Put { value } => format!("put k{key}={value}"),
                OpKind::Cas { expect, value } => format!("cas k{key} {expect}->{value}"),
            };
            let told = match o.complete {
                None => format!("[{}, no answer]", SimTime(o.invoke)),
                Some((t, ret)) => {
                    let said = match ret {
                        Ret::Get(Some(v)) => format!("read {v}"),
                        Ret::Get(None) => "read nothing".into(),
                        Ret::Put => "ok".into(),
                        Ret::Cas(true) => "took effect".into(),
                        Ret::Cas(false) => "failed".into(),
                    };
                    format!("[{}, {}] {said}", SimTime(o.invoke), SimTime(t))
                }
            };
            format!("req {} {asked} {told}", o.id)
        })
        .collect();
    format!(
        "key k{key}: no order of these {} client operations between {} and {} explains what their clients were told ({from}): {}",
        ops.len(),
        SimTime(start),
        SimTime(end),
        ops.join("; ")
    )
}

/// Whether `order` (one key's operations) gives a linearization: each placed at the latest of
/// its invocation and the previous operation's point, inside its interval, answering as told.
/// An operation that does not fit where the order puts it is deferred and placed as soon as
/// it fits, before its interval ends (a client told what the operation's second application
/// gave, say): any placement found is a linearization, so success proves it. `Err(i)`: the
/// `i`th was the first deferred of those that never fitted.
fn follows(order: &[&Operation]) -> Result<(), usize> {
    let (mut point, mut state): (u64, Value) = (0, None);
    let fits = |o: &Operation, point: u64, state: Value| {
        let at = point.max(o.invoke);
        if o.complete.is_some_and(|(t, _)| at > t) {
            return None;
        }
        step(o.kind, state, o.complete.map(|(_, r)| r)).map(|next| (at, next))
    };
    let mut deferred: Vec<usize> = Vec::new();
    for (i, o) in order.iter().enumerate() {
        match fits(o, point, state) {
            Some((at, next)) => (point, state) = (at, next),
            None => {
                deferred.push(i);
                continue;
            }
        }
        // Place what now fits of the deferred, oldest first, until nothing more does.
        while let Some(k) = deferred
            .iter()
            .position(|&d| fits(order[d], point, state).is_some())
        {
            let (at, next) = fits(order[deferred[k]], point, state).expect("fits");
            (point, state) = (at, next);
            deferred.remove(k);
        }
        if let Some(&d) = deferred
            .iter()
            .find(|&&d| order[d].complete.is_some_and(|(t, _)| t < point))
        {
            return Err(d);
        }
    }
    match deferred.iter().find(|&&d| order[d].complete.is_some()) {
        Some(&d) => Err(d),
        None => Ok(()),
    }
}

/// The most completions after a guide's break that [`window_near`] tries as a window's end,
/// and the states each of its window searches may take: small, since a window that fails
/// near the break is short; the full search remains if none does.
const NEAR_ENDS: usize = 16;
const NEAR_STATES: u64 = 20_000;

/// A window `W(S, T)` that fails from any value, with `T` among the first [`NEAR_ENDS`]
/// completions at or after `near` and `S` galloping back from `T` (the shortest such for the
/// first `T` that has one), if one is found within the small budgets. Sound for any `S` and
/// `T` (see the module documentation), though not always the earliest end.
fn window_near(
    key: u32,
    ops: &[&Operation],
    near: u64,
    limits: &Limits,
    states: &mut u64,
) -> Option<Verdict> {
    let ends: Vec<u64> = ops
        .iter()
        .filter_map(|o| o.complete.map(|(c, _)| c))
        .filter(|&c| c >= near)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(NEAR_ENDS)
        .collect();
    for end in ends {
        if limits.max_states <= *states {
            break;
        }
        let starts = window_starts(ops, end);
        let Some(lo) = latest_failing_start(ops, &starts, end, NEAR_STATES, limits, states) else {
            continue;
        };
        let (_, ids) = window_ops(ops, starts[lo], end);
        return Some(Verdict::Violation {
            key,
            window: ids,
            start: starts[lo],
            end,
            from: WindowStart::AnyValue,
        });
    }
    None
}

/// A register value: `None` is unset.
type Value = Option<u64>;

/// An operation as the search sees it.
#[derive(Clone, Copy, Debug)]
struct Op {
    kind: OpKind,
    invoke: u64,
    /// Completion time and answer; `None` if indeterminate.
    ret: Option<(u64, Ret)>,
    /// Completed, but may be left out (in a window, invoked before its start).
    optional: bool,
}

impl Op {
    /// Must be linearized for the search to succeed.
    fn mandatory(&self) -> bool {
        self.ret.is_some() && !self.optional
    }
}

/// Applies an operation to the register: the new value, or `None` if the operation cannot
/// have returned `ret` from `state`. A `ret` of `None` (indeterminate) accepts any result.
fn step(kind: OpKind, state: Value, ret: Option<Ret>) -> Option<Value> {
    match (kind, ret) {
        (OpKind::Get, None) => Some(state),
        (OpKind::Get, Some(Ret::Get(read))) => (read == state).then_some(state),
        (OpKind::Put { value }, None | Some(Ret::Put)) => Some(Some(value)),
        (OpKind::Cas { expect, value }, None) => Some(if state == Some(expect) {
            Some(value)
        } else {
            state
        }),
        (OpKind::Cas { expect, value }, Some(Ret::Cas(true))) => {
            (state == Some(expect)).then_some(Some(value))
        }
        (OpKind::Cas { expect, .. }, Some(Ret::Cas(false))) => {
            (state != Some(expect)).then_some(state)
        }
        _ => None,
    }
}

/// The prefix `H_t` of a key's operations (sorted by invocation, indeterminate `Get`s
/// removed): those invoked by `t`, the ones not completed by `t` made indeterminate.
fn prefix(ops: &[&Operation], t: u64) -> Vec<Op> {
    ops.iter()
        .filter(|o| o.invoke <= t)
        .filter_map(|o| {
            let ret = o.complete.filter(|&(c, _)| c <= t);
            (ret.is_some() || o.kind != OpKind::Get).then_some(Op {
                kind: o.kind,
                invoke: o.invoke,
                ret,
                optional: false,
            })
        })
        .collect()
}

/// The window `W(s, t)` of a key's operations, with their ids: the operations of `H_t`
/// completed at or after `s` or pending at `t`; the completed ones invoked before `s` optional.
fn window_ops(ops: &[&Operation], s: u64, t: u64) -> (Vec<Op>, Vec<u64>) {
    let mut window = Vec::new();
    let mut ids = Vec::new();
    for o in ops.iter().filter(|o| o.invoke <= t) {
        let ret = o.complete.filter(|&(c, _)| c <= t);
        match ret {
            None if o.kind == OpKind::Get => continue,
            Some((c, _)) if c < s => continue,
            _ => {}
        }
        window.push(Op {
            kind: o.kind,
            invoke: o.invoke,
            ret,
            optional: ret.is_some() && o.invoke < s,
        });
        ids.push(o.id);
    }
    (window, ids)
}

/// The candidate register values at a window's start: unset, every value the window's
/// operations mention, and one they do not.
fn start_values(window: &[Op]) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    for op in window {
        match op.kind {
            OpKind::Get => {}
            OpKind::Put { value } => {
                seen.insert(value);
            }
            OpKind::Cas { expect, value } => {
                seen.insert(expect);
                seen.insert(value);
            }
        }
        if let Some((_, Ret::Get(Some(v)))) = op.ret {
            seen.insert(v);
        }
    }
    // The smallest value not seen: `seen` holds fewer than 2^64 values.
    let fresh = (0..)
        .zip(&seen)
        .find(|&(i, &v)| i != v)
        .map_or(seen.len() as u64, |(i, _)| i);
    let mut values = vec![None];
    values.extend(seen.iter().map(|&v| Some(v)));
    values.push(Some(fresh));
    values
}

/// Finds a failing key's window: the end by binary search over completion times, then the
/// start by binary search over invocation times (see the module documentation).
fn window(key: u32, ops: &[&Operation], limits: &Limits, states: &mut u64) -> Verdict {
    let completions: Vec<u64> = ops
        .iter()
        .filter_map(|o| o.complete.map(|(c, _)| c))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // The prefix at the last completion is the whole history, known to fail.
    let (mut lo, mut hi) = (0, completions.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let budget = limits.max_states.saturating_sub(*states);
        if budget == 0 {
            // Out of budget: the end found so far fails, which is enough to report.
            lo = hi;
            break;
        }
        let (outcome, used) = search(&prefix(ops, completions[mid]), &[None], budget);
        *states += used;
        if outcome == Outcome::NotLinearizable {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let end = completions[lo];

    // The earliest start fails from unset, by the choice of `end`; a later one that fails
    // from every value makes a shorter window.
    let starts = window_starts(ops, end);
    let lo = latest_failing_start(ops, &starts, end, u64::MAX, limits, states).unwrap_or(0);
    let (_, ids) = window_ops(ops, starts[lo], end);
    Verdict::Violation {
        key,
        window: ids,
        start: starts[lo],
        end,
        from: if lo == 0 {
            WindowStart::Initial
        } else {
            WindowStart::AnyValue
        },
    }
}

/// The candidate starts of windows ending at `end`: the invocation times of the operations
/// that a window may hold, in order.
fn window_starts(ops: &[&Operation], end: u64) -> Vec<u64> {
    ops.iter()
        .filter(|o| o.invoke <= end && (o.complete.is_some() || o.kind != OpKind::Get))
        .map(|o| o.invoke)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The latest start (an index into `starts`, at least 1: the earliest start is judged from
/// unset only) whose window up to `end` fails from every value, if a probe proves one. Probes
/// gallop back from the end, where windows are small and cheap to search, until one fails,
/// then bisect. Each probe takes at most `cap` states and never more than is left of
/// `limits.max_states`; a probe that cannot decide counts as not failing.
fn latest_failing_start(
    ops: &[&Operation],
    starts: &[u64],
    end: u64,
    cap: u64,
    limits: &Limits,
    states: &mut u64,
) -> Option<usize> {
    let (mut fails, mut holds) = (None::<usize>, starts.len());
    let mut stride = 1;
    while holds - fails.unwrap_or(0) > 1 {
        let probe = match fails {
            None => holds.saturating_sub(stride).max(1),
            Some(lo) => lo + (holds - lo) / 2,
        };
        let budget = cap.min(limits.max_states.saturating_sub(*states));
        if budget == 0 {
            break;
        }
        let (w, _) = window_ops(ops, starts[probe], end);
        let (outcome, used) = search(&w, &start_values(&w), budget);
        *states += used;
        if outcome == Outcome::NotLinearizable {
            fails = Some(probe);
        } else {
            holds = probe;
            stride *= 2;
        }
    }
    fails
}

/// How a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Linearizable,
    NotLinearizable,
    Unknown,
}

/// "No node" in the event list.
const NIL: usize = usize::MAX;

/// The call and return events of a set of operations, as a doubly linked list in time order
/// from which an operation's events can be removed and put back in constant time. Node 0 is
/// the list's head, which is no event.
struct Events {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Per node: the operation it belongs to, and whether it is the call.
    op: Vec<usize>,
    is_call: Vec<bool>,
    /// Per operation: its call node, and its return node or `NIL`.
    call: Vec<usize>,
    ret: Vec<usize>,
}

impl Events {
    fn new(ops: &[Op]) -> Self {
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            events.push((op.invoke, false, i));
            if let Some((c, _)) = op.ret {
                events.push((c, true, i));
            }
        }
        // Calls before returns at the same time: intervals are closed.
        events.sort_unstable();
        let nodes = events.len() + 1;
        let mut list = Events {
            next: (1..=nodes)
                .map(|n| if n < nodes { n } else { NIL })
                .collect(),
            prev: (0..nodes).map(|n| n.wrapping_sub(1)).collect(),
            op: vec![NIL; nodes],
            is_call: vec![false; nodes],
            call: vec![NIL; ops.len()],
            ret: vec![NIL; ops.len()],
        };
        for (n, &(_, is_return, i)) in events.iter().enumerate() {
            let node = n + 1;
            list.op[node] = i;
            list.is_call[node] = !is_return;
            if is_return {
                list.ret[i] = node;
            } else {
                list.call[i] = node;
            }
        }
        list
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    /// Puts back a node unlinked last among those still out.
    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NIL {
            self.prev[n] = node;
        }
    }

    /// Removes an operation's events.
    fn lift(&mut self, op: usize) {
        self.unlink(self.call[op]);
        if self.ret[op] != NIL {
            self.unlink(self.ret[op]);
        }
    }

    /// Puts back the events of the operation lifted last.
    fn unlift(&mut self, op: usize) {
        if self.ret[op] != NIL {
            self.relink(self.ret[op]);
        }
        self.relink(self.call[op]);
    }
}

/// One choice on the search's stack.
struct Choice {
    op: usize,
    /// The register's value before it.
    before: Value,
    /// The operation was left out rather than applied.
    left_out: bool,
    /// The chain before it (see [`search`]).
    chain: Option<Value>,
}

/// A bitset over operations.
type Bits = Vec<u64>;

fn set(bits: &mut Bits, i: usize, on: bool) {
    if on {
        bits[i / 64] |= 1 << (i % 64);
    } else {
        bits[i / 64] &= !(1 << (i % 64));
    }
}

fn get(bits: &Bits, i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

fn subset(a: &Bits, b: &Bits) -> bool {
    a.iter().zip(b).all(|(x, y)| x & !y == 0)
}

/// The configurations entered so far, keyed by the completed operations done, the register's
/// value and the chain; for each, the sets of indeterminate operations applied, none a
/// superset of another.
#[derive(Default)]
struct Memo(HashMap<(Bits, Value, Option<Value>), Vec<Bits>>);

impl Memo {
    /// Records a configuration and says whether it is new: neither seen before nor dominated
    /// by one seen before, alike but with a subset of its indeterminate operations applied
    /// (which leaves more of them available).
    fn enter(
        &mut self,
        completed: &Bits,
        value: Value,
        chain: Option<Value>,
        applied: &Bits,
    ) -> bool {
        let sets = self.0.entry((completed.clone(), value, chain)).or_default();
        if sets.iter().any(|seen| subset(seen, applied)) {
            return false;
        }
        sets.retain(|seen| !subset(applied, seen));
        sets.push(applied.clone());
        true
    }
}

/// Wing & Gong's search with memoised configurations: is there a linearization of `ops` from
/// any of the register values `starts`? Returns the outcome and the states explored (at most
/// `max_states`).
///
/// A configuration is the set of completed operations done (applied, or left out if
/// optional), the set of indeterminate operations applied, the register's value, and the
/// *chain*: if the last operations applied were indeterminate, the value before them.
///
/// Indeterminate operations are applied only when needed. If a history has a linearization,
/// it has one in which every run of indeterminate operations is directly followed by a
/// completed operation that could not have returned its answer without them: one that could
/// (a `Get` or `Cas` returning the same from the run's first value) can move before the run,
/// which then has the same effect after it, and a run before a `Put` can be dropped. Nor need
/// a run hold an operation that leaves the value unchanged, or one applied while an earlier
/// indeterminate operation of the same kind is unapplied (that one could stand in for it, and
/// it for that one later). The search follows only such linearizations: after a chain, a
/// completed operation must fail from the chain's first value. Leaving out an operation does
/// not end a chain. Completed operations are tried before indeterminate ones.
fn search(ops: &[Op], starts: &[Value], max_states: u64) -> (Outcome, u64) {
    let mandatory = ops.iter().filter(|o| o.mandatory()).count();
    if mandatory == 0 {
        return (Outcome::Linearizable, 0);
    }
    // Each operation's place in its bitset: completed ones in one, indeterminate in another.
    let lost = |i: usize| ops[i].ret.is_none();
    let mut slot = vec![0; ops.len()];
    let (mut completed, mut indeterminate) = (0usize, 0usize);
    // The previous indeterminate operation of the same kind, or `NIL`.
    let mut twin = vec![NIL; ops.len()];
    let mut last_of_kind: HashMap<OpKind, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        let count = if lost(i) {
            if let Some(prev) = last_of_kind.insert(op.kind, i) {
                twin[i] = prev;
            }
            &mut indeterminate
        } else {
            &mut completed
        };
        slot[i] = *count;
        *count += 1;
    }
    let mut memo = Memo::default();
    let mut explored = 0;
    let mut events = Events::new(ops);
    for &start in starts {
        let mut done: Bits = vec![0; completed.div_ceil(64)];
        let mut applied: Bits = vec![0; indeterminate.div_ceil(64)];
        // Configurations already entered were explored without success.
        if !memo.enter(&done, start, None, &applied) {
            continue;
        }
        if explored == max_states {
            return (Outcome::Unknown, explored);
        }
        explored += 1;
        let mut state = start;
        let mut remaining = mandatory;
        let mut stack: Vec<Choice> = Vec::new();
        let mut node = events.next[0];
        // Which operations the scan is trying: completed ones, then indeterminate ones.
        let mut trying_lost = false;
        // Set when backtracking to an operation that was applied: try leaving it out instead.
        let mut leave_out_only = false;
        let mut chain: Option<Value> = None;
        loop {
            if remaining == 0 {
                return (Outcome::Linearizable, explored);
            }
            if node == NIL || !events.is_call[node] {
                // A return (or the end): no operation after it may come next.
                if !trying_lost {
                    trying_lost = true;
                    node = events.next[0];
                    continue;
                }
                let Some(choice) = stack.pop() else {
                    break;
                };
                let i = choice.op;
                if lost(i) {
                    set(&mut applied, slot[i], false);
                } else {
                    set(&mut done, slot[i], false);
                }
                state = choice.before;
                chain = choice.chain;
                events.unlift(i);
                remaining += usize::from(ops[i].mandatory());
                trying_lost = lost(i);
                node = events.call[i];
                if choice.left_out || !ops[i].optional {
                    node = events.next[node];
                } else {
                    leave_out_only = true;
                }
                continue;
            }
            let i = events.op[node];
            if lost(i) != trying_lost {
                node = events.next[node];
                continue;
            }
            let op = ops[i];
            let mut options = [None, None];
            if lost(i) {
                let mut earlier = twin[i];
                while earlier != NIL && get(&applied, slot[earlier]) {
                    earlier = twin[earlier];
                }
                let first = chain.unwrap_or(state);
                let after = step(op.kind, state, None).filter(|&v| v != state && v != first);
                let put_in_chain = chain.is_some() && matches!(op.kind, OpKind::Put { .. });
                if earlier == NIL && !put_in_chain {
                    options[0] = after.map(|v| (v, false, Some(first)));
                }
            } else {
                let ret = op.ret.map(|(_, r)| r);
                // After a chain, only an operation that needed it.
                let needed = chain.is_none_or(|first| step(op.kind, first, ret).is_none());
                if !leave_out_only && needed {
                    options[0] = step(op.kind, state, ret).map(|v| (v, false, None));
                }
                if op.optional {
                    options[1] = Some((state, true, chain));
                }
            }
            leave_out_only = false;
            let mut moved = false;
            for (after, left_out, chain_after) in options.into_iter().flatten() {
                let bits = if lost(i) { &mut applied } else { &mut done };
                set(bits, slot[i], true);
                if memo.enter(&done, after, chain_after, &applied) {
                    if explored == max_states {
                        return (Outcome::Unknown, explored);
                    }
                    explored += 1;
                    stack.push(Choice {
                        op: i,
                        before: state,
                        left_out,
                        chain,
                    });
                    state = after;
                    chain = chain_after;
                    events.lift(i);
                    remaining -= usize::from(op.mandatory());
                    node = events.next[0];
                    trying_lost = false;
                    moved = true;
                    break;
                }
                let bits = if lost(i) { &mut applied } else { &mut done };
                set(bits, slot[i], false);
            }
            if !moved {
                node = events.next[node];
            }
        }
    }
    (Outcome::NotLinearizable, explored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn put(value: u64) -> OpKind {
        OpKind::Put { value }
    }

    fn cas(expect: u64, value: u64) -> OpKind {
        OpKind::Cas { expect, value }
    }

    /// A completed operation on key 0.
    fn done(id: u64, kind: OpKind, invoke: u64, complete: u64, ret: Ret) -> Operation {
        Operation {
            id,
            key: 0,
            kind,
            invoke,
            complete: Some((complete, ret)),
        }
    }

    /// An indeterminate operation on key 0.
    fn lost(id: u64, kind: OpKind, invoke: u64) -> Operation {
        Operation {
            id,
            key: 0,
            kind,
            invoke,
            complete: None,
        }
    }

    fn on_key(key: u32, mut op: Operation) -> Operation {
        op.key = key;
        op
    }

    fn verdict(history: &[Operation]) -> Verdict {
        check(history, &Limits::default()).verdict
    }

    // ---- The reference: brute force over every order and every subset. ----

    /// An operation for the brute force: `omittable` ones may be left out.
    #[derive(Clone, Copy, Debug)]
    struct B {
        kind: OpKind,
        invoke: u64,
        ret: Option<(u64, Ret)>,
        omittable: bool,
    }

    /// The register model, written out again: the next value and the result.
    fn exec(kind: OpKind, state: Option<u64>) -> (Option<u64>, Ret) {
        match kind {
            OpKind::Get => (state, Ret::Get(state)),
            OpKind::Put { value } => (Some(value), Ret::Put),
            OpKind::Cas { expect, value } => {
                if state == Some(expect) {
                    (Some(value), Ret::Cas(true))
                } else {
                    (state, Ret::Cas(false))
                }
            }
        }
    }

    /// Whether some subset of the omittable operations, together with all the others, has a
    /// real-time order whose execution from `start` gives every completed operation its answer.
    fn brute(ops: &[B], start: Option<u64>) -> bool {
        assert!(ops.len() <= 16);
        let omittable: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].omittable).collect();
        (0u32..1 << omittable.len()).any(|mask| {
            let mut included: u32 = (1 << ops.len()) - 1;
            for (bit, &i) in omittable.iter().enumerate() {
                if mask & (1 << bit) == 0 {
                    included &= !(1 << i);
                }
            }
            orders(ops, included, 0, start, &mut HashSet::new())
        })
    }

    /// Whether the operations in `included` but not in `placed` can follow, from `state`;
    /// `failed` holds the (placed, state) pairs already known not to.
    fn orders(
        ops: &[B],
        included: u32,
        placed: u32,
        state: Option<u64>,
        failed: &mut HashSet<(u32, Option<u64>)>,
    ) -> bool {
        let left = included & !placed;
        if left == 0 {
            return true;
        }
        if failed.contains(&(placed, state)) {
            return false;
        }
        for x in (0..ops.len()).filter(|&x| left & (1 << x) != 0) {
            // Some other operation still to place completed before `x` was invoked.
            let blocked = (0..ops.len()).any(|y| {
                y != x
                    && left & (1 << y) != 0
                    && matches!(ops[y].ret, Some((c, _)) if c < ops[x].invoke)
            });
            if blocked {
                continue;
            }
            let (next, result) = exec(ops[x].kind, state);
            if ops[x].ret.is_some_and(|(_, r)| r != result) {
                continue;
            }
            if orders(ops, included, placed | 1 << x, next, failed) {
                return true;
            }
        }
        failed.insert((placed, state));
        false
    }

    /// A key's operations, by invocation time (ties in history order).
    fn key_ops(history: &[Operation], key: u32) -> Vec<Operation> {
        let mut ops: Vec<Operation> = history.iter().filter(|o| o.key == key).cloned().collect();
        ops.sort_by_key(|o| o.invoke);
        ops
    }

    /// `H_t` as the brute force sees it (indeterminate gets kept: they are omittable).
    fn prefix_b(ops: &[Operation], t: u64) -> Vec<B> {
        ops.iter()
            .filter(|o| o.invoke <= t)
            .map(|o| {
                let ret = o.complete.filter(|&(c, _)| c <= t);
                B {
                    kind: o.kind,
                    invoke: o.invoke,
                    ret,
                    omittable: ret.is_none(),
                }
            })
            .collect()
    }

    /// `W(s, t)` as the brute force sees it, with ids (indeterminate gets left out).
    fn window_b(ops: &[Operation], s: u64, t: u64) -> (Vec<B>, Vec<u64>) {
        let mut window = Vec::new();
        let mut ids = Vec::new();
        for o in ops.iter().filter(|o| o.invoke <= t) {
            let ret = o.complete.filter(|&(c, _)| c <= t);
            if ret.is_none() && o.kind == OpKind::Get || ret.is_some_and(|(c, _)| c < s) {
                continue;
            }
            window.push(B {
                kind: o.kind,
                invoke: o.invoke,
                ret,
                omittable: ret.is_none() || o.invoke < s,
            });
            ids.push(o.id);
        }
        (window, ids)
    }

    /// Every register value up to equivalence, for histories whose values are below `bound`.
    fn all_values(bound: u64) -> Vec<Option<u64>> {
        std::iter::once(None).chain((0..=bound).map(Some)).collect()
    }

    fn keys_of(history: &[Operation]) -> BTreeSet<u32> {
        history.iter().map(|o| o.key).collect()
    }

    fn brute_history(history: &[Operation], key: u32) -> bool {
        brute(&prefix_b(&key_ops(history, key), u64::MAX), None)
    }

    // ---- Hand-written histories. ----

    #[test]
    fn stale_read_is_a_two_operation_violation() {
        let h = [
            done(1, put(1), 0, 10, Ret::Put),
            done(2, OpKind::Get, 20, 30, Ret::Get(None)),
        ];
        let r = check(&h, &Limits::default());
        assert_eq!(
            r.verdict,
            Verdict::Violation {
                key: 0,
                window: vec![1, 2],
                start: 0,
                end: 30,
                from: WindowStart::Initial
            }
        );
        assert_eq!((r.keys, r.ops), (1, 2));
        assert!(r.verdict.to_string().contains("[1, 2]"));
    }

    #[test]
    fn stale_read_window_leaves_out_earlier_history() {
        let h = [
            done(1, put(5), 0, 1, Ret::Put),
            done(2, OpKind::Get, 2, 3, Ret::Get(Some(5))),
            done(3, put(1), 10, 20, Ret::Put),
            done(4, OpKind::Get, 30, 40, Ret::Get(Some(5))),
        ];
        assert_eq!(
            verdict(&h),
            Verdict::Violation {
                key: 0,
                window: vec![3, 4],
                start: 10,
                end: 40,
                from: WindowStart::AnyValue
            }
        );
    }

    #[test]
    fn concurrent_operations_may_be_ordered_either_way() {
        let h = [
            done(1, put(1), 0, 10, Ret::Put),
            done(2, OpKind::Get, 2, 8, Ret::Get(None)),
            done(3, OpKind::Get, 3, 12, Ret::Get(Some(1))),
            done(4, put(2), 4, 14, Ret::Put),
            done(5, OpKind::Get, 11, 13, Ret::Get(Some(1))),
            done(6, OpKind::Get, 15, 16, Ret::Get(Some(2))),
        ];
        assert_eq!(verdict(&h), Verdict::Linearizable);
    }

    #[test]
    fn touching_intervals_may_be_ordered_either_way() {
        // The get is invoked at the instant the put completes: either order is allowed.
        for read in [None, Some(1)] {
            let h = [
                done(1, put(1), 0, 5, Ret::Put),
                done(2, OpKind::Get, 5, 6, Ret::Get(read)),
            ];
            assert_eq!(verdict(&h), Verdict::Linearizable);
        }
        let h = [
            done(1, put(1), 0, 5, Ret::Put),
            done(2, OpKind::Get, 6, 7, Ret::Get(None)),
        ];
        assert!(matches!(verdict(&h), Verdict::Violation { .. }));
    }

    #[test]
    fn an_indeterminate_put_may_take_effect() {
        let h = [
            done(1, put(1), 0, 1, Ret::Put),
            lost(2, put(7), 2),
            done(3, OpKind::Get, 10, 11, Ret::Get(Some(7))),
        ];
        assert_eq!(verdict(&h), Verdict::Linearizable);
        // Without the lost put, nothing wrote 7.
        assert!(matches!(
            verdict(&[h[0].clone(), h[2].clone()]),
            Verdict::Violation { .. }
        ));
        // It cannot take effect before it was invoked.
        let h = [
            lost(2, put(7), 20),
            done(3, OpKind::Get, 10, 11, Ret::Get(Some(7))),
        ];
        assert!(matches!(verdict(&h), Verdict::Violation { .. }));
    }

    #[test]
    fn an_indeterminate_put_may_never_take_effect() {
        let h = [
            done(1, put(1), 0, 1, Ret::Put),
            lost(2, put(2), 2),
            done(3, OpKind::Get, 3, 4, Ret::Get(Some(1))),
            done(4, OpKind::Get, 50, 51, Ret::Get(Some(1))),
        ];
        assert_eq!(verdict(&h), Verdict::Linearizable);
        // If it took effect it did so once: 1 cannot come back after 2 was read.
        let h = [
            done(1, put(1), 0, 1, Ret::Put),
            lost(2, put(2), 2),
            done(3, OpKind::Get, 3, 4, Ret::Get(Some(1))),
            done(4, OpKind::Get, 5, 6, Ret::Get(Some(2))),
            done(5, OpKind::Get, 7, 8, Ret::Get(Some(1))),
        ];
        assert_eq!(
            verdict(&h),
            Verdict::Violation {
                key: 0,
                window: vec![2, 4, 5],
                start: 5,
                end: 8,
                from: WindowStart::AnyValue
            }
        );
    }

    #[test]
    fn identical_indeterminate_puts_may_each_take_effect() {
        let h = [
            lost(1, put(2), 0),
            lost(2, put(2), 0),
            done(3, OpKind::Get, 1, 2, Ret::Get(Some(2))),
            done(4, put(1), 3, 4, Ret::Put),
            done(5, OpKind::Get, 5, 6, Ret::Get(Some(2))),
        ];
        assert_eq!(verdict(&h), Verdict::Linearizable);
        assert!(matches!(verdict(&h[1..]), Verdict::Violation { .. }));
    }

    /// Applying one indeterminate put first (1) leads nowhere; the search must still try the
    /// other first (0), even though it reaches the register value 0 again only with more of
    /// them applied on the first try.
    #[test]
    fn indeterminate_puts_are_tried_in_every_order() {
        let h = [
            lost(1, put(1), 0),
            lost(2, put(0), 0),
            done(3, OpKind::Get, 0, 0, Ret::Get(Some(0))),
            done(4, cas(0, 0), 10, 10, Ret::Cas(false)),
        ];
        assert_eq!(verdict(&h), Verdict::Linearizable);
        assert!(matches!(verdict(&h[1..]), Verdict::Violation { .. }));
    }

    #[test]
    fn a_cas_applied_twice_is_a_violation() {
        let h = [
            done(1, put(0), 0, 1, Ret::Put),
            done(2, cas(0, 1), 2, 5, Ret::Cas(true)),
            done(3, cas(0, 1), 3, 6, Ret::Cas(true)),
        ];
        assert_eq!(
            verdict(&h),
            Verdict::Violation {
                key: 0,
                window: vec![2, 3],
                start: 2,
                end: 6,
                from: WindowStart::AnyValue
            }
        );
        // One success and one failure is fine.
        let mut h = h;
        h[2].complete = Some((6, Ret::Cas(false)));
        assert_eq!(verdict(&h), Verdict::Linearizable);
    }

    #[test]
    fn a_cas_on_an_unset_register_fails() {
        let h = [done(1, cas(0, 1), 0, 1, Ret::Cas(true))];
        assert!(matches!(verdict(&h), Verdict::Violation { .. }));
        let h = [done(1, cas(0, 1), 0, 1, Ret::Cas(false))];
        assert_eq!(verdict(&h), Verdict::Linearizable);
    }

    #[test]
    fn malformed_operations_are_never_linearizable() {
        let h = [done(1, put(1), 0, 1, Ret::Get(None))];
        assert!(matches!(verdict(&h), Verdict::Violation { .. }));
        let h = [
            done(1, put(1), 0, 1, Ret::Put),
            done(2, put(2), 5, 1, Ret::Put),
        ];
        assert_eq!(
            verdict(&h),
            Verdict::Violation {
                key: 0,
                window: vec![2],
                start: 5,
                end: 5,
                from: WindowStart::AnyValue
            }
        );
    }

    /// Operations invoked before a window's start must be allowed to be left out of it: here
    /// the whole history is linearizable (1 cas, 2 get, 3 put, 4 get, points in that order),
    /// yet operations 1 and 4, the ones meeting [5, 6], cannot both be applied from any value.
    #[test]
    fn operations_invoked_before_a_window_may_be_left_out() {
        let h = [
            done(0, put(0), 0, 1, Ret::Put),
            done(1, cas(0, 1), 2, 20, Ret::Cas(true)),
            done(2, OpKind::Get, 3, 4, Ret::Get(Some(1))),
            done(3, put(2), 5, 6, Ret::Put),
            done(4, OpKind::Get, 7, 8, Ret::Get(Some(2))),
        ];
        assert_eq!(verdict(&h), Verdict::Linearizable);
        let ops = key_ops(&h, 0);
        let (mut window, ids) = window_b(&ops, 7, 20);
        assert_eq!(ids, vec![1, 4]);
        assert!(all_values(3).into_iter().any(|v| brute(&window, v)));
        window[0].omittable = false;
        assert!(!all_values(3).into_iter().any(|v| brute(&window, v)));
    }

    #[test]
    fn keys_are_checked_separately_and_the_lowest_violation_is_reported() {
        let h = [
            on_key(5, done(1, put(1), 0, 1, Ret::Put)),
            on_key(3, done(2, put(2), 0, 1, Ret::Put)),
            on_key(5, done(3, OpKind::Get, 2, 3, Ret::Get(Some(2)))),
            on_key(3, done(4, OpKind::Get, 2, 3, Ret::Get(Some(1)))),
            on_key(9, done(5, OpKind::Get, 2, 3, Ret::Get(None))),
        ];
        let r = check(&h, &Limits::default());
        assert_eq!((r.keys, r.ops), (3, 5));
        assert!(matches!(r.verdict, Verdict::Violation { key: 3, .. }));
        assert_eq!(
            verdict(&[h[1].clone(), h[4].clone()]),
            Verdict::Linearizable
        );
    }

    /// Many overlapping writes and reads on one key.
    fn crowded(key: u32, n: u64) -> Vec<Operation> {
        (0..n)
            .map(|i| {
                let kind = if i % 2 == 0 { put(i) } else { OpKind::Get };
                let ret = if i % 2 == 0 {
                    Ret::Put
                } else {
                    Ret::Get(Some(i - 1))
                };
                on_key(key, done(i, kind, i, 100 + i, ret))
            })
            .collect()
    }

    #[test]
    fn a_search_past_the_bound_is_unknown() {
        let h = crowded(0, 12);
        let limits = Limits { max_states: 3 };
        let r = check(&h, &limits);
        assert_eq!(r.verdict, Verdict::Unknown { key: 0, ops: 12 });
        assert_eq!(r.states, 3);
        assert_eq!(verdict(&h), Verdict::Linearizable);
    }

    #[test]
    fn a_violation_outranks_an_unknown() {
        let mut h = crowded(0, 12);
        h.push(on_key(1, done(100, put(1), 0, 1, Ret::Put)));
        h.push(on_key(1, done(101, OpKind::Get, 2, 3, Ret::Get(None))));
        // The budget is shared fairly: key 0's half runs out, key 1 is decided with the rest.
        let r = check(&h, &Limits { max_states: 8 });
        assert!(
            matches!(r.verdict, Verdict::Violation { key: 1, .. }),
            "{r}"
        );
        assert_eq!(
            check(&crowded(0, 12), &Limits { max_states: 4 }).verdict,
            Verdict::Unknown { key: 0, ops: 12 }
        );
    }

    #[test]
    fn an_empty_history_is_linearizable() {
        let r = check(&[], &Limits::default());
        assert_eq!(
            (r.verdict, r.keys, r.ops, r.states),
            (Verdict::Linearizable, 0, 0, 0)
        );
        let r = check(&[lost(1, OpKind::Get, 0)], &Limits::default());
        assert_eq!((r.verdict, r.keys, r.ops), (Verdict::Linearizable, 1, 1));
    }

    #[test]
    fn start_values_include_a_fresh_one() {
        let op = |kind, ret| Op {
            kind,
            invoke: 0,
            ret,
            optional: false,
        };
        let w = [
            op(put(0), None),
            op(cas(1, 3), None),
            op(OpKind::Get, Some((1, Ret::Get(Some(7))))),
        ];
        assert_eq!(
            start_values(&w),
            vec![None, Some(0), Some(1), Some(3), Some(7), Some(2)]
        );
        assert_eq!(start_values(&[]), vec![None, Some(0)]);
    }

    // ---- Generated histories. ----

    /// The values generated histories use: below this.
    const VALUES: u64 = 3;

    /// The makings of one generated operation: it takes effect (if at all) `lag` after its
    /// invocation and completes `hold` after that.
    #[derive(Clone, Debug)]
    struct Raw {
        key: u32,
        kind: OpKind,
        invoke: u64,
        lag: u64,
        hold: u64,
        indeterminate: bool,
        took_effect: bool,
    }

    /// A generated operation on one of `keys` keys, indeterminate with probability `lost`/4.
    fn raw(keys: u32, lost: u8) -> impl Strategy<Value = Raw> {
        (
            0..keys,
            (0u8..3, 0..VALUES, 0..VALUES),
            0u64..12,
            0u64..4,
            0u64..4,
            0u8..4,
            any::<bool>(),
        )
            .prop_map(
                move |(key, (k, a, b), invoke, lag, hold, l, took_effect)| Raw {
                    key,
                    kind: match k {
                        0 => OpKind::Get,
                        1 => put(a),
                        _ => cas(a, b),
                    },
                    invoke,
                    lag,
                    hold,
                    indeterminate: l < lost,
                    took_effect,
                },
            )
    }

    /// A history that is linearizable by construction: the operations that take effect
    /// (the completed ones and some indeterminate ones) do so in the order of their points.
    fn build(raw: &[Raw]) -> Vec<Operation> {
        let mut order: Vec<usize> = (0..raw.len())
            .filter(|&i| !raw[i].indeterminate || raw[i].took_effect)
            .collect();
        order.sort_by_key(|&i| (raw[i].invoke + raw[i].lag, i));
        let mut registers: BTreeMap<u32, Option<u64>> = BTreeMap::new();
        let mut results = vec![None; raw.len()];
        for i in order {
            let register = registers.entry(raw[i].key).or_default();
            let (next, result) = exec(raw[i].kind, *register);
            *register = next;
            results[i] = Some(result);
        }
        raw.iter()
            .zip(results)
            .enumerate()
            .map(|(i, (r, result))| Operation {
                id: 100 + i as u64,
                key: r.key,
                kind: r.kind,
                invoke: r.invoke,
                complete: (!r.indeterminate)
                    .then(|| (r.invoke + r.lag + r.hold, result.expect("took effect"))),
            })
            .collect()
    }

    /// One change that may break a history: a different answer, or a later interval.
    #[derive(Clone, Debug)]
    enum Mutation {
        Answer(usize, u64),
        Shift(usize, u64),
    }

    fn mutate(history: &mut [Operation], mutation: &Mutation) {
        match *mutation {
            Mutation::Answer(i, v) => {
                let op = &mut history[i % history.len()];
                if let Some((_, ret)) = &mut op.complete {
                    *ret = match *ret {
                        Ret::Get(_) => Ret::Get((v < VALUES).then_some(v)),
                        Ret::Cas(b) => Ret::Cas(!b),
                        Ret::Put => {
                            op.kind = put(v % VALUES);
                            Ret::Put
                        }
                    };
                }
            }
            Mutation::Shift(i, d) => {
                let op = &mut history[i % history.len()];
                op.invoke += d;
                if let Some((c, _)) = &mut op.complete {
                    *c += d;
                }
            }
        }
    }

    fn linearizable_history() -> impl Strategy<Value = Vec<Operation>> {
        linearizable_history_of(1..=2, 1..=7, 1)
    }

    /// A history linearizable by construction over 1 to `keys` keys, with `len` operations of
    /// which a quarter times `lost` are indeterminate.
    fn linearizable_history_of(
        keys: std::ops::RangeInclusive<u32>,
        len: std::ops::RangeInclusive<usize>,
        lost: u8,
    ) -> impl Strategy<Value = Vec<Operation>> {
        (keys, len)
            .prop_flat_map(move |(keys, n)| prop::collection::vec(raw(keys, lost), n))
            .prop_map(|raw| build(&raw))
    }

    /// A history that is linearizable by construction or a few mutations away from one.
    fn history(
        len: std::ops::RangeInclusive<usize>,
        mutations: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = Vec<Operation>> {
        mutated(linearizable_history_of(1..=2, len, 1), mutations)
    }

    /// Histories from `base`, with a few mutations each.
    fn mutated(
        base: impl Strategy<Value = Vec<Operation>>,
        mutations: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = Vec<Operation>> {
        let mutation = prop_oneof![
            (any::<usize>(), 0..=VALUES).prop_map(|(i, v)| Mutation::Answer(i, v)),
            (any::<usize>(), 1u64..6).prop_map(|(i, d)| Mutation::Shift(i, d)),
        ];
        (base, prop::collection::vec(mutation, mutations)).prop_map(|(mut h, mutations)| {
            for m in &mutations {
                mutate(&mut h, m);
            }
            h
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn agrees_with_brute_force(h in history(1..=7, 0..=2)) {
            let failing = keys_of(&h).into_iter().find(|&k| !brute_history(&h, k));
            match (failing, check(&h, &Limits::default()).verdict) {
                (None, Verdict::Linearizable) => {}
                (Some(k), Verdict::Violation { key, .. }) => prop_assert_eq!(k, key),
                (expected, got) => prop_assert!(false, "brute force {:?}, check {:?}", expected, got),
            }
        }

        /// Longer single-key histories, half their operations indeterminate: these exercise
        /// the search's pruning of indeterminate operations.
        #[test]
        fn agrees_with_brute_force_when_many_are_indeterminate(
            h in mutated(linearizable_history_of(1..=1, 8..=12, 2), 0..=2)
        ) {
            let expected = keys_of(&h).into_iter().all(|k| brute_history(&h, k));
            let got = check(&h, &Limits::default()).verdict;
            prop_assert_eq!(expected, got == Verdict::Linearizable, "{:?}", got);
        }

        /// A guide only orders the work: any order of any subset of the ids, the history's
        /// own among them, gives the verdict the unguided check gives.
        #[test]
        fn a_guide_never_changes_the_verdict(
            h in history(1..=7, 0..=2),
            picks in proptest::collection::vec(0usize..16, 0..10),
        ) {
            let mut guide: Vec<u64> = picks.iter().map(|&p| h[p % h.len()].id).collect();
            let by_invoke = { let mut g: Vec<&Operation> = h.iter().collect(); g.sort_by_key(|o| o.invoke); g.iter().map(|o| o.id).collect::<Vec<_>>() };
            for g in [&mut guide, &mut by_invoke.clone()] {
                let plain = check(&h, &Limits::default()).verdict;
                let guided = check_guided(&h, g, &Limits::default()).verdict;
                prop_assert_eq!(plain == Verdict::Linearizable, guided == Verdict::Linearizable);
                // A window found near where the guide broke fails from every value.
                if let Verdict::Violation { key, start, end, from: WindowStart::AnyValue, .. } = guided {
                    let (w, _) = window_b(&key_ops(&h, key), start, end);
                    for v in all_values(VALUES) {
                        prop_assert!(!brute(&w, v), "window succeeds from {:?}", v);
                    }
                }
            }
        }

        #[test]
        fn histories_built_linearizable_are(h in linearizable_history()) {
            prop_assert_eq!(check(&h, &Limits::default()).verdict, Verdict::Linearizable);
        }

        #[test]
        fn windows_are_failing_and_shortest(h in history(1..=8, 1..=3)) {
            let Verdict::Violation { key, window, start, end, from } =
                check(&h, &Limits::default()).verdict
            else {
                return Ok(());
            };
            let ops = key_ops(&h, key);
            // The end: the earliest completion whose prefix fails.
            prop_assert!(ops.iter().any(|o| o.complete.is_some_and(|(c, _)| c == end)));
            prop_assert!(!brute(&prefix_b(&ops, end), None));
            let before = ops.iter().filter_map(|o| o.complete.map(|(c, _)| c)).filter(|&c| c < end).max();
            if let Some(t) = before {
                prop_assert!(brute(&prefix_b(&ops, t), None));
            }
            // The window is W(start, end), and fails.
            let (w, ids) = window_b(&ops, start, end);
            prop_assert_eq!(&ids, &window);
            let starts: BTreeSet<u64> = ops
                .iter()
                .filter(|o| o.invoke <= end && (o.complete.is_some() || o.kind != OpKind::Get))
                .map(|o| o.invoke)
                .collect();
            match from {
                WindowStart::Initial => {
                    prop_assert_eq!(Some(&start), starts.first());
                    prop_assert!(!brute(&w, None));
                }
                WindowStart::AnyValue => {
                    prop_assert!(starts.contains(&start) && starts.first() != Some(&start));
                    for v in all_values(VALUES) {
                        prop_assert!(!brute(&w, v), "window succeeds from {:?}", v);
                    }
                }
            }
            // No later start fails.
            if let Some(&later) = starts.range(start + 1..).next() {
                let (w, _) = window_b(&ops, later, end);
                prop_assert!(all_values(VALUES).into_iter().any(|v| brute(&w, v)));
            }
        }
    }

    // ---- Cost. ----

    /// A deterministic pseudo-random source (SplitMix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// `n` operations from `clients` clients, each with one operation outstanding at a time,
    /// against a linearizable store of `keys` registers; 5% of operations are indeterminate,
    /// half of those having taken effect.
    fn simulate(n: usize, keys: u32, clients: usize, seed: u64) -> Vec<Operation> {
        let mut rng = Rng(seed);
        let mut free_at = vec![0u64; clients];
        let mut raw = Vec::with_capacity(n);
        for _ in 0..n {
            let client = (0..clients)
                .min_by_key(|&c| (free_at[c], c))
                .expect("clients");
            let invoke = free_at[client] + rng.below(3);
            let (lag, hold) = (1 + rng.below(50), 1 + rng.below(50));
            let v = 8;
            let kind = match rng.below(10) {
                0..=3 => OpKind::Get,
                4..=6 => put(rng.below(v)),
                _ => cas(rng.below(v), rng.below(v)),
            };
            let indeterminate = rng.below(20) == 0;
            raw.push(Raw {
                key: rng.below(u64::from(keys)) as u32,
                kind,
                invoke,
                lag,
                hold,
                indeterminate,
                took_effect: rng.below(2) == 0,
            });
            free_at[client] = invoke + lag + hold;
        }
        build(&raw)
    }

    #[test]
    fn a_long_concurrent_history_is_cheap() {
        let h = simulate(2000, 5, 10, 7);
        let r = check(&h, &Limits::default());
        assert_eq!(r.verdict, Verdict::Linearizable);
        assert_eq!((r.keys, r.ops), (5, 2000));
        println!("2000 operations, 5 keys, 10 clients: {} states", r.states);
        assert!(r.states < Limits::default().max_states / 10);
    }

    /// A violation at the end of a long history: proving it means exhausting every
    /// linearization of what came before (with each indeterminate operation applied or not),
    /// the costly case; the window found is short.
    #[test]
    fn a_late_violation_has_a_short_window() {
        let mut bad = simulate(1000, 5, 10, 7);
        let last = bad
            .iter()
            .filter_map(|o| o.complete.map(|(c, _)| c))
            .max()
            .unwrap();
        let first = bad
            .iter()
            .find(|o| o.key == 0 && o.complete.is_some())
            .unwrap()
            .invoke;
        bad.push(on_key(
            0,
            done(9999, OpKind::Get, last + 1, last + 2, Ret::Get(Some(99))),
        ));
        let r = check(&bad, &Limits::default());
        println!("with a bad read: {} states, {}", r.states, r.verdict);
        match r.verdict {
            Verdict::Violation {
                key: 0,
                window,
                start,
                end,
                from: WindowStart::AnyValue,
            } => {
                // The window holds the bad read, the few operations it contradicts, and the
                // key's indeterminate operations, which may take effect at any time.
                let completed =
                    |id: &&u64| bad.iter().any(|o| o.id == **id && o.complete.is_some());
                assert_eq!(window.last(), Some(&9999));
                assert!(window.iter().filter(completed).count() < 10, "{window:?}");
                assert!(start > first && end == last + 2);
            }
            v => panic!("{v:?}"),
        }
    }
}
