//! Recognition of the NDB Cluster management (ndb_mgmd) text protocol.
//!
//! Three parts, each in its own file:
//! * [`grammar`]: what the protocol is made of (command table, reply headers, argument and
//!   reply-key names, error texts), static and state-free;
//! * [`scanner`]: a bounded, resumable scanner over the bytes of one direction that reports
//!   each line and message as an [`Event`] to a [`Sink`];
//! * [`judge`]: a [`Sink`] ([`Side`]) that scores one direction's events, and [`decide`], which
//!   turns both directions' scores into a verdict.
//!
//! This file pairs a scanner with its judge side as a [`Direction`], the unit the probe feeds.
//! A later consumer (a session audit, say) can keep feeding a direction's [`Scanner`] after the
//! verdict with a sink of its own, and gets the events of the bytes not scanned yet.
//!
//! Must never: hold protocol knowledge or scoring rules of its own (they live in the parts),
//! look at bytes beyond those it is given, or panic on any input bytes.

pub mod grammar;
pub mod judge;
pub mod scanner;

pub use judge::{decide, Judgement, Side, Strength, EVIDENCE_MAX};
pub use scanner::{Event, Line, Scanner, Sink, Upgrade, MAX_LINE};

use super::hints;

/// One direction of a flow: its scanner and the judge's score of what it reported.
#[derive(Clone, Debug, Default)]
pub struct Direction {
    /// Where the scanner is in the direction's bytes.
    pub scanner: Scanner,
    /// What the judge made of them.
    pub side: Side,
}

impl Direction {
    /// True when nothing this direction may still carry can change the verdict.
    pub fn dead(&self) -> bool {
        self.side.dead()
    }

    /// True when the direction carried bytes.
    pub fn has_data(&self) -> bool {
        self.side.total > 0
    }

    /// Bytes examined so far.
    pub fn examined(&self) -> usize {
        self.side.total as usize
    }

    /// Feed the whole in-order prefix of a TCP direction, already cut to the budget.
    /// `at_budget`: the prefix reached the budget (nothing more will be examined).
    pub fn feed_stream(&mut self, buf: &[u8], at_budget: bool) {
        let side = &mut self.side;
        if side.done || side.exhausted {
            return;
        }
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        if len < side.total {
            // The caller's buffer shrank (should not happen): nothing sensible to do.
            return;
        }
        // Name the first bytes while that can still change.
        if !side.hint_settled && !buf.is_empty() {
            let s = hints::sniff_stream(buf);
            side.hint = s.hint;
            if s.settled || at_budget || buf.len() >= hints::SNIFF_LEN {
                side.set_hint(s.hint, buf);
            }
        }
        self.scanner.feed(buf, side);
        side.total = len;
        if at_budget {
            side.exhausted = true;
        }
    }

    /// Feed one datagram, already cut to the budget left. Messages may continue across
    /// datagrams, but a line may not: a datagram ends its last line.
    pub fn feed_datagram(&mut self, d: &[u8], at_budget: bool) {
        let side = &mut self.side;
        if side.done || side.exhausted {
            return;
        }
        if !side.hint_settled && !d.is_empty() {
            side.set_hint(hints::sniff_datagram(d), d);
        }
        side.ev_open = false;
        self.scanner.feed_datagram(d, side);
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        side.total = side.total.saturating_add(len);
        if at_budget {
            side.exhausted = true;
        }
    }
}

/// Combine both directions into a verdict (see [`decide`]).
pub fn judge(d: &[Direction; 2]) -> Judgement {
    decide([&d[0].side, &d[1].side])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_state_stays_small() {
        assert!(
            std::mem::size_of::<Direction>() <= 96,
            "{}",
            std::mem::size_of::<Direction>()
        );
    }
}
