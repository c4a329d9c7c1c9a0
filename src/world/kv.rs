//! Each node's state machine: a key-value store of registers fed by the entries the node
//! applies, with a session table (dissertation §6.3). The harness keeps it, not the node, so
//! any implementation is judged by what its applies and replies give clients.
//!
//! A client request's number `req` is its session's sequence number: the table keeps the
//! answer each applied request gave, and a request applied again (a retry the log holds twice)
//! changes nothing and is answered as the first time. With `dedup` off (the application bug
//! `no-session-dedup`) a repeat is applied again, and its answer is the last application's.
//! Volatile, like the node's: a restart rebuilds it by applying the log again.

use std::collections::BTreeMap;

use crate::observe::linear::Ret;
use crate::protocol::Op;

#[derive(Default)]
pub struct StateMachine {
    pub kv: BTreeMap<u32, u64>,
    /// The answer each applied request gave, by request number (request numbers are dense,
    /// from 0, so a vector serves).
    sessions: Vec<Option<Ret>>,
}

impl StateMachine {
    /// What `op` gives on the store as it is now, without changing it.
    pub fn evaluate(&self, op: Op) -> Ret {
        match op {
            Op::Get { key } => Ret::Get(self.kv.get(&key).copied()),
            Op::Put { .. } => Ret::Put,
            Op::Cas { key, expect, .. } => Ret::Cas(self.kv.get(&key) == Some(&expect)),
        }
    }

    /// Applies request `req`'s `op` (once per request with `dedup`) and returns its answer.
    pub fn apply(&mut self, req: u64, op: Op, dedup: bool) -> Ret {
        if dedup {
            if let Some(ret) = self.answer(req) {
                return ret;
            }
        }
        let ret = self.evaluate(op);
        match (op, ret) {
            (Op::Put { key, value }, _) | (Op::Cas { key, value, .. }, Ret::Cas(true)) => {
                self.kv.insert(key, value);
            }
            _ => {}
        }
        let i = req as usize;
        if i >= self.sessions.len() {
            self.sessions.resize(i + 1, None);
        }
        self.sessions[i] = Some(ret);
        ret
    }

    /// The answer request `req` gave when it was applied here, if it was.
    pub fn answer(&self, req: u64) -> Option<Ret> {
        self.sessions.get(req as usize).copied().flatten()
    }

    pub fn clear(&mut self) {
        self.kv.clear();
        self.sessions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_request_applies_once_with_sessions_and_twice_without() {
        let cas = Op::Cas {
            key: 1,
            expect: 5,
            value: 6,
        };
        for dedup in [true, false] {
            let mut sm = StateMachine::default();
            sm.apply(1, Op::Put { key: 1, value: 5 }, dedup);
            assert_eq!(sm.apply(2, cas, dedup), Ret::Cas(true));
            // Another client puts 5 back; then request 2 is applied again (a retry).
            sm.apply(3, Op::Put { key: 1, value: 5 }, dedup);
            let again = sm.apply(2, cas, dedup);
            if dedup {
                assert_eq!(again, Ret::Cas(true), "answered as the first time");
                assert_eq!(sm.kv[&1], 5, "and not applied again");
            } else {
                assert_eq!(again, Ret::Cas(true));
                assert_eq!(sm.kv[&1], 6, "applied twice");
            }
            assert_eq!(
                sm.apply(4, Op::Get { key: 1 }, dedup),
                Ret::Get(sm.kv.get(&1).copied())
            );
            assert_eq!(sm.evaluate(Op::Get { key: 9 }), Ret::Get(None));
        }
    }
}
