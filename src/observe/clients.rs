//! The client history a run's trace holds, as the linearizability check (`observe::linear`)
//! reads it: online from the world's clients, offline from the records (`raftsim check`), by
//! one rule.
//!
//! A request its client was answered for is complete at the answer, with what it was told. One
//! it was not (timed out, given up, pending at the end) is, to its client, indeterminate; the
//! simulator knows more and says it, which keeps the search small without hiding anything a
//! client saw: a request no node ever applied never took effect and is left out, and one a
//! node applied took effect by then, with what that application gave, so it is complete at its
//! first application. The order in which state machines first applied the requests (by log
//! index) guides the search (`linear::check_guided`).

use std::collections::{BTreeSet, HashMap};

use crate::observe::linear::{self, OpKind, Operation, Ret};
use crate::observe::trace::{Event, Record, TRet};
use crate::protocol::Op;

/// One client request as the check needs it.
pub struct Request {
    pub req: u64,
    pub op: Op,
    pub invoked: u64,
    /// When its client was answered, and what it was told; `None` if it never was.
    pub answer: Option<(u64, Ret)>,
    /// When a node first applied it, and what that gave; `None` if none ever did.
    pub first_applied: Option<(u64, Ret)>,
}

/// The history of `requests` (see the module doc).
pub fn history(requests: impl Iterator<Item = Request>) -> Vec<Operation> {
    requests
        .filter_map(|r| {
            let complete = match (r.answer, r.first_applied) {
                (Some(a), _) => Some(a),
                (None, Some((t, ret))) => Some((t.max(r.invoked), ret)),
                (None, None) => return None,
            };
            Some(Operation {
                id: r.req,
                key: r.op.key(),
                kind: kind(r.op),
                invoke: r.invoked,
                complete,
            })
        })
        .collect()
}

fn kind(op: Op) -> OpKind {
    match op {
        Op::Get { .. } => OpKind::Get,
        Op::Put { value, .. } => OpKind::Put { value },
        Op::Cas { expect, value, .. } => OpKind::Cas { expect, value },
    }
}

/// The client history of a trace and the order its requests were first applied in, if the
/// trace records what its requests asked (a run whose workload draws reads or CAS).
pub fn from_records(records: &[Record]) -> Option<(Vec<Operation>, Vec<u64>)> {
    let mut asked: Vec<(u64, Op, u64)> = Vec::new();
    let mut answers: HashMap<u64, (u64, Option<TRet>)> = HashMap::new();
    let mut first: HashMap<u64, (u64, Ret)> = HashMap::new();
    let mut order: BTreeSet<(u64, u64)> = BTreeSet::new();
    for r in records {
        match &r.ev {
            Event::ClientRequest {
                req, op: Some(op), ..
            } => asked.push((*req, (*op).into(), r.t)),
            Event::ClientDone {
                req, ok: true, ret, ..
            } => {
                answers.insert(*req, (r.t, *ret));
            }
            Event::Apply {
                index, entry, ret, ..
            } => {
                if let Some((req, _)) = entry.request() {
                    if let std::collections::hash_map::Entry::Vacant(e) = first.entry(req) {
                        e.insert((r.t, ret_of(*ret)));
                        order.insert((*index, req));
                    }
                }
            }
            _ => {}
        }
    }
    if asked.is_empty() {
        return None;
    }
    let requests = asked.into_iter().map(|(req, op, invoked)| Request {
        req,
        op,
        invoked,
        answer: answers.get(&req).map(|&(t, ret)| (t, ret_of(ret))),
        first_applied: first.get(&req).copied(),
    });
    let history = history(requests);
    let guide = order.into_iter().map(|(_, req)| req).collect();
    Some((history, guide))
}

/// A traced answer; none is a put's.
fn ret_of(ret: Option<TRet>) -> Ret {
    match ret {
        Some(TRet::Get(v)) => Ret::Get(v),
        Some(TRet::Cas(ok)) => Ret::Cas(ok),
        None => Ret::Put,
    }
}

/// The linearizability check of a trace's client history, if it has one.
pub fn check_records(records: &[Record]) -> Option<(Vec<Operation>, linear::Report)> {
    let (history, guide) = from_records(records)?;
    let report = linear::check_guided(&history, &guide, &linear::Limits::default());
    Some((history, report))
}
