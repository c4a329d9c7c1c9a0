//! The Perfetto export (`--perfetto FILE.json`): the run model as Chrome trace-event JSON, which
//! the Perfetto UI (and `chrome://tracing`) opens, to zoom into a run.
//!
//! The cluster is one process (pid 1). Each node has two tracks (threads): `nN` (tid N) with
//! one complete (`X`) slice per stretch in one role and term (`leader t3`, `down`, ...) and an
//! instant (`i`) per crash, restart, pause, resume, election, new leader and truncation; and
//! `nN messages` (tid 1000 + N) with a zero-length slice for each message it sends or receives,
//! joined sender to receiver by a flow arrow (the format's `bind_id` with `flow_out` on the
//! send's slice and `flow_in` on the arrival's, one flow per delivery or drop, so each arrow is
//! bound to its own slices rather than to whatever encloses a time).
//! Partitions, cut links and network bursts are async spans (`b`/`e`) on the `network` track;
//! their starts and ends, skipped faults, split votes and violations are global instants. Each
//! node's commit index is a counter (`C`). Times are µs (the format's unit) with ns kept as
//! decimals; the JSON's bytes depend only on the trace.

use serde_json::{json, Value};

use crate::report::runmodel::{MarkKind, NetKind, RunModel};

const PID: u32 = 1;
/// The tid of node N's message track.
pub const MSG_TID: u32 = 1000;
/// The tid of the network track.
pub const NET_TID: u32 = 0;

fn us(ns: u64) -> Value {
    // µs with the ns as three decimals; whole µs print as integers.
    if ns.is_multiple_of(1000) {
        json!(ns / 1000)
    } else {
        json!(ns as f64 / 1000.0)
    }
}

/// The export, as bytes: `{"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}`
/// with one event per line.
pub fn export(m: &RunModel) -> Vec<u8> {
    // Each event is written as it is made: memory grows with the output, not with a tree of
    // JSON values (about 20 times larger).
    let mut ev = Events {
        out: Vec::with_capacity(64 * (m.messages.len() + m.marks.len() + 64)),
        count: 0,
    };
    ev.out.extend_from_slice(b"{\"traceEvents\":[\n");
    ev.tracks(m);
    ev.roles(m);
    ev.marks(m);
    ev.network(m);
    ev.messages(m);
    let mut out = ev.out;
    out.extend_from_slice(b"\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":");
    let other = json!({"scenario": m.scenario, "seed": m.seed, "nodes": m.nodes,
        "tool": format!("raftsim {}", env!("CARGO_PKG_VERSION"))});
    serde_json::to_writer(&mut out, &other).expect("JSON values serialise");
    out.extend_from_slice(b"}\n");
    out
}

/// The trace events written so far, comma-separated.
struct Events {
    out: Vec<u8>,
    count: usize,
}

impl Events {
    fn push(&mut self, e: Value) {
        if self.count > 0 {
            self.out.extend_from_slice(b",\n");
        }
        serde_json::to_writer(&mut self.out, &e).expect("JSON values serialise");
        self.count += 1;
    }

    /// The metadata naming the process and its tracks, in display order: the network, then
    /// each node's track and (with messages) its message track.
    fn tracks(&mut self, m: &RunModel) {
        self.push(
            json!({"name": "process_name", "ph": "M", "pid": PID, "tid": 0,
            "args": {"name": format!("{} (seed {})", m.scenario, m.seed)}}),
        );
        self.push(
            json!({"name": "thread_name", "ph": "M", "pid": PID, "tid": NET_TID,
            "args": {"name": "network"}}),
        );
        self.push(
            json!({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": NET_TID,
            "args": {"sort_index": 0}}),
        );
        for n in 1..=m.nodes {
            for (tid, name, sort) in [
                (n, format!("n{n}"), 2 * n),
                (MSG_TID + n, format!("n{n} messages"), 2 * n + 1),
            ] {
                if tid > MSG_TID && !m.has_messages {
                    continue;
                }
                self.push(
                    json!({"name": "thread_name", "ph": "M", "pid": PID, "tid": tid,
                    "args": {"name": name}}),
                );
                self.push(
                    json!({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": tid,
                    "args": {"sort_index": sort}}),
                );
            }
        }
    }

    /// Roles and terms: a slice per span of each lane.
    fn roles(&mut self, m: &RunModel) {
        for (i, lane) in m.lanes.iter().enumerate() {
            let tid = i as u32 + 1;
            for s in lane {
                let name = match s.state {
                    crate::report::runmodel::State::Down => "down".to_string(),
                    st => format!("{} t{}", st.name(), s.term),
                };
                self.push(
                    json!({"name": name, "cat": "role", "ph": "X", "ts": us(s.from),
                    "dur": us(s.to - s.from), "pid": PID, "tid": tid,
                    "args": {"role": s.state.name(), "term": s.term}}),
                );
            }
        }
    }

    /// Marks: a commit as its node's counter, every other mark as an instant on its node's
    /// track (or a global one).
    fn marks(&mut self, m: &RunModel) {
        for mk in &m.marks {
            if let MarkKind::Commit { index } = &mk.kind {
                let n = mk.node.expect("a commit is a node's");
                self.push(json!({"name": format!("n{n} commit index"), "ph": "C",
                    "ts": us(mk.t), "pid": PID, "args": {"commit_index": index}}));
            }
            let Some((name, cat, args)) = instant(&mk.kind) else {
                continue;
            };
            match mk.node {
                Some(n) => self.push(json!({"name": name, "cat": cat, "ph": "i", "s": "t",
                    "ts": us(mk.t), "pid": PID, "tid": n, "args": args})),
                None => self.push(json!({"name": name, "cat": cat, "ph": "i", "s": "g",
                    "ts": us(mk.t), "pid": PID, "tid": NET_TID, "args": args})),
            }
        }
    }

    /// Network conditions: an async span each, and an instant at its start.
    fn network(&mut self, m: &RunModel) {
        for (k, n) in m.net.iter().enumerate() {
            let (name, args) = match &n.kind {
                NetKind::Partition { groups } => {
                    (format!("partition {groups:?}"), json!({"groups": groups}))
                }
                NetKind::Cut { from, to } => (
                    format!("cut n{from}->n{to}"),
                    json!({"from": from, "to": to}),
                ),
                NetKind::Network { what } => (what.clone(), json!({})),
            };
            let id = k + 1;
            self.push(
                json!({"name": name, "cat": "fault", "ph": "b", "id": id, "ts": us(n.from),
                "pid": PID, "tid": NET_TID, "args": args}),
            );
            self.push(
                json!({"name": name, "cat": "fault", "ph": "e", "id": id, "ts": us(n.to),
                "pid": PID, "tid": NET_TID}),
            );
            self.push(
                json!({"name": format!("{name} starts"), "cat": "fault", "ph": "i", "s": "g",
                "ts": us(n.from), "pid": PID, "tid": NET_TID}),
            );
        }
    }

    /// Messages: a slice at each end, joined by a flow (`bind_id` with `flow_out` on the
    /// send, `flow_in` on the arrival: the flow binds to the slice that carries it).
    fn messages(&mut self, m: &RunModel) {
        for (k, msg) in m.messages.iter().enumerate() {
            let flow = k + 1;
            let args = json!({"id": msg.id, "from": msg.from, "to": msg.to, "term": msg.term});
            self.push(
                json!({"name": format!("{} to n{}", msg.msg, msg.to), "cat": "message",
                "ph": "X", "ts": us(msg.sent), "dur": 0, "pid": PID, "tid": MSG_TID + msg.from,
                "bind_id": flow, "flow_out": true, "args": args}),
            );
            let name = match &msg.dropped {
                Some(reason) => format!("{} from n{} dropped ({reason})", msg.msg, msg.from),
                None => format!("{} from n{}", msg.msg, msg.from),
            };
            let mut args = args;
            if let Some(reason) = &msg.dropped {
                args["dropped"] = json!(reason);
            }
            self.push(
                json!({"name": name, "cat": "message", "ph": "X", "ts": us(msg.arrived),
                "dur": 0, "pid": PID, "tid": MSG_TID + msg.to, "bind_id": flow, "flow_in": true,
                "args": args}),
            );
        }
    }
}

/// A mark drawn as an instant (any but a commit): its name, category and arguments.
fn instant(kind: &MarkKind) -> Option<(String, &'static str, Value)> {
    Some(match kind {
        MarkKind::Election { term } => (
            format!("election t{term}"),
            "election",
            json!({"term": term}),
        ),
        MarkKind::Leader { term, votes } => (
            format!("leader t{term}"),
            "election",
            json!({"term": term, "votes": votes}),
        ),
        MarkKind::SplitVote { term, candidates } => (
            format!("split vote t{term}"),
            "election",
            json!({"term": term, "candidates": candidates}),
        ),
        MarkKind::FailedElection { term } => (
            format!("failed election t{term}"),
            "election",
            json!({"term": term}),
        ),
        // A counter, not an instant (see `Events::marks`).
        MarkKind::Commit { .. } => return None,
        MarkKind::Crash => ("crash".into(), "fault", json!({})),
        MarkKind::Restart { term } => ("restart".into(), "fault", json!({"term": term})),
        MarkKind::Truncate { from } => (
            format!("truncate from {from}"),
            "log",
            json!({"from": from}),
        ),
        MarkKind::ConfigAppended { index, old, new } => (
            format!("config appended at {index}"),
            "membership",
            json!({"index": index, "old": old, "new": new}),
        ),
        MarkKind::ConfigCommitted { index } => (
            format!("config committed at {index}"),
            "membership",
            json!({"index": index}),
        ),
        MarkKind::ClockJump { by, back } => (
            format!(
                "clock jump {}{}",
                if *back { "-" } else { "+" },
                crate::base::time::SimDuration(*by)
            ),
            "fault",
            json!({"by_ns": by, "back": back}),
        ),
        MarkKind::FaultSkipped { reason } => {
            ("fault skipped".into(), "fault", json!({"reason": reason}))
        }
        MarkKind::Violation { property, detail } => (
            format!("VIOLATION {property}"),
            "violation",
            json!({"detail": detail}),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_keep_the_nanoseconds() {
        assert_eq!(us(2_000_000_000).to_string(), "2000000");
        assert_eq!(us(175_958_746).to_string(), "175958.746");
    }
}
