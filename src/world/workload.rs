//! Clients: requests arrive at a fixed rate or as a Poisson process, go to a random node, are
//! redirected to the leader a node names, and are retried after a timeout or a backoff, up to
//! a bound on attempts. A request is done when a leader answers that its entry committed.
//!
//! With `remember_leader` (paper §8) the clients share what they learned of the leader: the
//! node that last answered a request, or the one a redirect last named; a new request goes
//! there, and to a random node only when no leader is known (a timeout or a redirect naming
//! nobody forgets it).
//!
//! Arrivals draw from one stream (gap, first target, key) and event-driven retries from
//! another, so a fault that changes retries does not move later arrivals. A request sent to
//! the remembered leader still draws its random target, so the streams stay aligned.

use super::config::{Arrivals, Workload};
use super::{Ev, Simulation};
use crate::base::rng::{Purpose, Rng};
use crate::base::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

use crate::observe::clients::{history, Request};
use crate::observe::linear::{Operation, Ret};
use crate::observe::trace::{Event, TOp, TRet, TVia};
use crate::observe::Observer;
use crate::protocol::{ClientReply, NodeId, Op, RaftNode};

/// What a client does after a failed attempt ([`Clients::retry`]).
enum Retry {
    /// Its attempts are spent: the request is done, not committed, after `latency` ns.
    GiveUp { latency: u64 },
    /// Send it at once to the node a redirect named.
    Send,
    /// Send attempt `attempt` to a random node after the backoff.
    Backoff { attempt: u32 },
}

struct ClientReq {
    submitted: SimTime,
    op: Op,
    attempt: u32,
    target: NodeId,
    done: Option<(SimTime, bool)>,
    /// What the client was told, once it committed.
    ret: Option<Ret>,
    /// When a node first applied it, what that gave, and at which log index.
    first_applied: Option<(SimTime, Ret, u64)>,
    /// Whether it has its place in the order the linearizability check tries first.
    ordered: bool,
    /// A get's latest arrival at a node (with `raft.read_index`): the node, the index it had
    /// to have applied to answer fresh ([`Clients::must_see`]), and whether it lacked it then.
    arrival: Option<(NodeId, u64, bool)>,
}

/// A get served without the log, against the index its server had to have applied to answer
/// fresh (kept with `raft.read_index`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Freshness {
    /// The server had applied it when the get arrived (or there was nothing to judge).
    #[default]
    Fresh,
    /// It had not when the get arrived, and had when it answered: a stale read prevented.
    HeldBack,
    /// It still had not when it answered: a stale read served.
    Stale,
}

pub struct Clients {
    arrivals: Rng,
    retries: Rng,
    /// Which operation each request is (with `workload.reads` or `workload.cas`): a stream of
    /// its own, so the mix leaves arrivals, targets and keys as they were.
    mix: Rng,
    reqs: Vec<ClientReq>,
    /// The leader the clients last learned of (with `remember_leader`).
    leader: Option<NodeId>,
    /// The value the clients last saw at each key (a put or CAS that took effect, a read):
    /// what a CAS expects.
    seen: BTreeMap<u32, u64>,
    /// The requests as a state machine first applied them: (key, request number),
    /// sorted into the order the linearizability check tries first; an entry's key is twice
    /// its log index, a read served at read index `i` has key `2i + 1`.
    order: Vec<(u64, u64)>,
    /// Per key, the writes clients learned of (a write's own answer, or a get that returned
    /// its value), in the order they learned: (when, the highest log index among them so
    /// far). Kept with `raft.read_index` only.
    learned: BTreeMap<u32, Vec<(SimTime, u64)>>,
}

impl Clients {
    pub fn new(seed: u64) -> Clients {
        Clients {
            arrivals: Rng::stream(seed, Purpose::Workload, 0),
            retries: Rng::stream(seed, Purpose::Workload, 1),
            mix: Rng::stream(seed, Purpose::Workload, 2),
            reqs: Vec::new(),
            leader: None,
            seen: BTreeMap::new(),
            order: Vec::new(),
            learned: BTreeMap::new(),
        }
    }

    /// A request arrives at `now`: draws its first target (the remembered leader, else a
    /// random node of `nodes`), its key and its operation, records it, and returns its number
    /// and the gap until the next arrival. Draws in a fixed order from the arrivals stream
    /// (target, key, gap) and, for a mixed workload, one from the mix stream.
    fn arrive(&mut self, w: &Workload, nodes: u32, now: SimTime) -> (u64, SimDuration) {
        let req = self.reqs.len() as u64;
        let drawn = self.arrivals.range_inclusive(1, nodes as u64) as NodeId;
        let target = match self.leader {
            Some(l) if w.remember_leader => l,
            _ => drawn,
        };
        let key = (self.arrivals.next_u64() % w.keys as u64) as u32;
        let op = if w.mixed() {
            let u = self.mix.unit();
            if u < w.reads {
                Op::Get { key }
            } else if u < w.reads + w.cas {
                Op::Cas {
                    key,
                    expect: self.seen.get(&key).copied().unwrap_or(0),
                    value: req,
                }
            } else {
                Op::Put { key, value: req }
            }
        } else {
            Op::Put { key, value: req }
        };
        self.reqs.push(ClientReq {
            submitted: now,
            op,
            attempt: 1,
            target,
            done: None,
            ret: None,
            first_applied: None,
            arrival: None,
            ordered: false,
        });
        let gap_ns = match w.arrivals {
            Arrivals::Fixed => 1e9 / w.requests_per_second,
            Arrivals::Poisson => self.arrivals.exponential(1e9 / w.requests_per_second),
        };
        (req, SimDuration(libm::round(gap_ns).max(1.0) as u64))
    }

    /// Request `req` failed an attempt at `now` (a timeout, or a redirect naming `hint`):
    /// what its client does next.
    fn retry(
        &mut self,
        req: u64,
        hint: Option<NodeId>,
        w: &Workload,
        nodes: u32,
        now: SimTime,
    ) -> Retry {
        let r = &mut self.reqs[req as usize];
        if r.attempt >= w.max_attempts {
            r.done = Some((now, false));
            return Retry::GiveUp {
                latency: now.0 - r.submitted.0,
            };
        }
        r.attempt += 1;
        match hint {
            Some(h) if h != r.target => {
                r.target = h;
                Retry::Send
            }
            _ => {
                // No leader known: back off, then try a random node.
                r.target = self.retries.range_inclusive(1, nodes as u64) as NodeId;
                Retry::Backoff { attempt: r.attempt }
            }
        }
    }

    pub fn op(&self, req: u64) -> Op {
        self.reqs[req as usize].op
    }

    /// Notes that a node applied request `req` at log `index`, giving `ret` (the first time
    /// counts).
    pub fn applied(&mut self, req: u64, index: u64, at: SimTime, ret: Ret) {
        let r = &mut self.reqs[req as usize];
        if r.first_applied.is_none() {
            r.first_applied = Some((at, ret, index));
            if !r.ordered {
                r.ordered = true;
                self.order.push((2 * index, req));
            }
        }
    }

    /// Notes that node `node` served read `req` without the log, at read index `index`,
    /// having applied `applied`: the check tries it right after the entry at that index (the
    /// first time counts). Returns how fresh the answer is against the index it had to have
    /// applied, noted when the get arrived there.
    pub fn read_served(&mut self, req: u64, index: u64, node: NodeId, applied: u64) -> Freshness {
        let r = &mut self.reqs[req as usize];
        if !r.ordered {
            r.ordered = true;
            self.order.push((2 * index + 1, req));
        }
        match r.arrival {
            Some((n, must, _)) if n == node && applied < must => Freshness::Stale,
            Some((n, _, true)) if n == node => Freshness::HeldBack,
            _ => Freshness::Fresh,
        }
    }

    /// The index a server must have applied to answer get `req` fresh (linearizably): the
    /// highest log index of a write to its key that some client learned of before the get
    /// was invoked, by the write's own answer or by a get that returned its value (0: none).
    /// Values are unique per write, so a server short of it holds an older value, and any
    /// linearization puts that write before the get.
    fn must_see(&self, req: u64) -> u64 {
        let r = &self.reqs[req as usize];
        let Op::Get { key } = r.op else { return 0 };
        let Some(w) = self.learned.get(&key) else {
            return 0;
        };
        let k = w.partition_point(|&(t, _)| t < r.submitted);
        k.checked_sub(1).map_or(0, |k| w[k].1)
    }

    /// Get `req` reached node `node`, which had applied `applied` (with `raft.read_index`):
    /// notes what it must see, and whether it lacked it then.
    pub fn read_arrived(&mut self, req: u64, node: NodeId, applied: u64) {
        if !matches!(self.reqs[req as usize].op, Op::Get { .. }) {
            return;
        }
        let must = self.must_see(req);
        self.reqs[req as usize].arrival = Some((node, must, applied < must));
    }

    /// A client learned at `now` that `key` holds `value` (with `raft.read_index`): the
    /// write of request `value` (a value is its writer's request number), whose log index
    /// later gets of the key must see.
    fn learned(&mut self, key: u32, value: u64, now: SimTime) {
        let Some((_, _, index)) = self.reqs.get(value as usize).and_then(|w| w.first_applied)
        else {
            return;
        };
        let w = self.learned.entry(key).or_default();
        let top = w.last().map_or(0, |&(_, i)| i).max(index);
        w.push((now, top));
    }

    /// The requests in the order they were first applied (a read served without the log after
    /// the entry at its read index), for `linear::check_guided`.
    pub fn applied_order(&self) -> Vec<u64> {
        let mut order = self.order.clone();
        order.sort_unstable();
        order.into_iter().map(|(_, req)| req).collect()
    }

    /// The client history, for the linearizability check (`observe::clients`).
    pub fn history(&self) -> Vec<Operation> {
        history(self.reqs.iter().enumerate().map(|(req, r)| {
            let req = req as u64;
            Request {
                req,
                op: r.op,
                invoked: r.submitted.0,
                answer: match (r.done, r.ret) {
                    (Some((t, true)), Some(ret)) => Some((t.0, ret)),
                    _ => None,
                },
                first_applied: r.first_applied.map(|(t, ret, _)| (t.0, ret)),
            }
        }))
    }

    /// The requests not finished yet.
    pub fn outstanding(&self) -> Vec<u64> {
        (0..self.reqs.len() as u64)
            .filter(|&r| self.reqs[r as usize].done.is_none())
            .collect()
    }

    /// Whether request `req` is still waiting: neither committed nor given up by its client.
    pub fn pending(&self, req: u64) -> bool {
        self.reqs[req as usize].done.is_none()
    }

    /// Each request's (submitted, finished and whether it committed), in nanoseconds.
    pub fn outcomes(&self) -> Vec<(u64, Option<(u64, bool)>)> {
        self.reqs
            .iter()
            .map(|r| (r.submitted.0, r.done.map(|(t, ok)| (t.0, ok))))
            .collect()
    }
}

impl<N: RaftNode, O: Observer> Simulation<'_, N, O> {
    /// A request arrives: the clients decide what it is and where it goes
    /// ([`Clients::arrive`]); it is sent, and the next arrival queued.
    pub(super) fn client_arrival(&mut self) {
        let Some(w) = &self.cfg.workload else {
            return;
        };
        if w.end.is_some_and(|end| self.now >= end) {
            return;
        }
        let (req, gap) = self.clients.arrive(w, self.cfg.nodes, self.now);
        self.client_send(req);
        self.queue.push(self.now + gap, Ev::ClientArrival);
    }

    fn client_send(&mut self, req: u64) {
        let Some(w) = &self.cfg.workload else {
            return;
        };
        let r = &self.clients.reqs[req as usize];
        let (node, attempt) = (r.target, r.attempt);
        let op = (attempt == 1 && w.mixed()).then(|| TOp::from(r.op));
        self.emit(Event::ClientRequest {
            req,
            node,
            attempt,
            op,
        });
        let d = self.net.client_delay(Some(node));
        self.queue
            .push(self.now + d, Ev::ClientToNode { req, node });
        self.queue.push(
            self.now + w.request_timeout,
            Ev::ClientTimeout { req, attempt },
        );
    }

    /// A node's answer reaches the client; `ret` is what its state machine gave the request
    /// when the node answered (for a commit).
    pub(super) fn client_reply(
        &mut self,
        req: u64,
        node: NodeId,
        reply: ClientReply,
        ret: Option<Ret>,
        via: Option<TVia>,
        fresh: Freshness,
    ) {
        let r = &mut self.clients.reqs[req as usize];
        if r.done.is_some() {
            return;
        }
        match reply {
            ClientReply::Committed { .. } | ClientReply::Read { .. } => {
                if matches!(reply, ClientReply::Committed { .. }) {
                    self.clients.leader = Some(node);
                }
                let r = &mut self.clients.reqs[req as usize];
                r.done = Some((self.now, true));
                r.ret = ret;
                let latency = self.now.0 - r.submitted.0;
                let seen = match (r.op, ret) {
                    (Op::Put { key, value }, _)
                    | (Op::Cas { key, value, .. }, Some(Ret::Cas(true))) => Some((key, value)),
                    (Op::Get { key }, Some(Ret::Get(Some(v)))) => Some((key, v)),
                    _ => None,
                };
                let held_back = fresh == Freshness::HeldBack;
                let stale = fresh == Freshness::Stale;
                if let Some((key, value)) = seen {
                    self.clients.seen.insert(key, value);
                    if self.cfg.raft.read_index {
                        self.clients.learned(key, value, self.now);
                    }
                }
                self.emit(Event::ClientDone {
                    req,
                    ok: true,
                    latency,
                    ret: ret.and_then(TRet::of),
                    via,
                    held_back,
                    stale,
                });
            }
            ClientReply::NotLeader { hint } => {
                if node == r.target {
                    self.clients.leader = hint;
                    self.client_retry(req, hint);
                }
            }
        }
    }

    pub(super) fn client_resend(&mut self, req: u64, attempt: u32) {
        let r = &self.clients.reqs[req as usize];
        if r.done.is_none() && r.attempt == attempt {
            self.client_send(req);
        }
    }

    pub(super) fn client_timeout(&mut self, req: u64, attempt: u32) {
        let r = &self.clients.reqs[req as usize];
        if r.done.is_none() && r.attempt == attempt {
            if self.clients.leader == Some(r.target) {
                self.clients.leader = None;
            }
            self.client_retry(req, None);
        }
    }

    /// A failed attempt: the clients decide ([`Clients::retry`]), the loop gives up, sends,
    /// or queues the resend.
    fn client_retry(&mut self, req: u64, hint: Option<NodeId>) {
        let Some(w) = &self.cfg.workload else {
            return;
        };
        let backoff = w.retry_backoff;
        match self.clients.retry(req, hint, w, self.cfg.nodes, self.now) {
            Retry::GiveUp { latency } => self.emit(Event::ClientDone {
                req,
                ok: false,
                latency,
                ret: None,
                via: None,
                held_back: false,
                stale: false,
            }),
            Retry::Send => self.client_send(req),
            Retry::Backoff { attempt } => self
                .queue
                .push(self.now + backoff, Ev::ClientResend { req, attempt }),
        }
    }
}
