//! Leadership transfer (dissertation §3.10), asked for by an operator
//! ([`Input::TransferLeadership`]): the leader stops taking client requests, brings the target's
//! log up to date with its own, then sends it TimeoutNow; the target starts an election at
//! once (without PreVote: the leader's word stands for the majority's), wins it with its
//! up-to-date log, and its higher term makes the old leader step down. If the transfer has not
//! completed within one election timeout (the maximum), the leader aborts it and takes
//! requests again.
//!
//! The target's RequestVote says it comes from a transfer, which overrides leader stickiness
//! (dissertation §4.2.3; see `lease::disregards`): the leader itself asked for this election.
//! With lease reads, starting a transfer ends the leader's lease for the rest of its term
//! ([`super::read`]).

use super::{Node, RoleState};
use crate::protocol::*;

impl Node {
    /// The node a leadership transfer in progress hands over to.
    pub(super) fn transferring_to(&self) -> Option<NodeId> {
        match &self.role {
            RoleState::Leader(l) => l.transfer.map(|(to, _)| to),
            _ => None,
        }
    }

    /// An operator asks this node, if it leads, to hand leadership to `to`. Ignored when it
    /// does not lead, `to` is itself or not a voter, or a transfer is already under way.
    pub(super) fn start_transfer(&mut self, to: NodeId, out: &mut Vec<Output>) {
        if !matches!(self.role, RoleState::Leader(_))
            || to == self.cfg.id
            || !self.quorum.contains(to)
            || self.transferring_to().is_some()
        {
            return;
        }
        self.leadership().transfer = Some((to, false));
        self.drop_lease();
        // The deadline: one election timeout, on the leader's otherwise idle election timer.
        out.push(Output::SetTimer {
            kind: TimerKind::Election,
            min: self.cfg.election_timeout_max,
            max: self.cfg.election_timeout_max,
        });
        self.continue_transfer(to, out);
        if self.transferring_to() == Some(to) && !self.timeout_now_sent() {
            // Not caught up yet: replicate to it now rather than at the next heartbeat.
            self.send_append(to, out);
        }
    }

    fn timeout_now_sent(&self) -> bool {
        matches!(&self.role, RoleState::Leader(l) if matches!(l.transfer, Some((_, true))))
    }

    /// After `from` acknowledged entries: if it is the transfer's target and now holds the
    /// leader's whole log, send it TimeoutNow (once).
    pub(super) fn continue_transfer(&mut self, from: NodeId, out: &mut Vec<Output>) {
        let last = self.log.last_index();
        let term = self.term;
        let me = self.cfg.id;
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        match l.transfer {
            Some((to, false)) if to == from && l.progress.get(to).matched >= last => {
                l.transfer = Some((to, true));
                out.push(Output::Send(Envelope {
                    from: me,
                    to,
                    msg: Message::TimeoutNow { term },
                }));
            }
            _ => {}
        }
    }

    /// The transfer's deadline passed with this node still leading: take requests again.
    pub(super) fn abort_transfer(&mut self) {
        if let RoleState::Leader(l) = &mut self.role {
            l.transfer = None;
        }
    }

    /// TimeoutNow from the leader of this term: stand at once, skipping PreVote and the rest
    /// of the election timeout.
    pub(super) fn on_timeout_now(&mut self, term: Term, out: &mut Vec<Output>) {
        if term == self.term && !matches!(self.role, RoleState::Leader(_)) {
            self.stand(true, out);
        }
    }
}
