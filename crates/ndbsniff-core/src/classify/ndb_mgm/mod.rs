//! Recognition of the NDB Cluster management (ndb_mgmd) text protocol.
//!
//! Three parts, each in its own file:
//! * [`grammar`]: what the protocol is made of (command table, reply headers, argument and
//!   reply-key names, error texts), static and state-free;
//! * [`scanner`]: a bounded, resumable scanner over the bytes of one direction that reports
//!   each line and message as an [`Event`] to a [`Sink`];
//! * [`judge`](mod@judge): a [`Sink`] ([`Side`]) that scores one direction's events, and
//!   [`decide`], which turns both directions' scores into a verdict.
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
        if self.side.done || self.side.exhausted {
            return;
        }
        self.feed_stream_with(buf, at_budget, &mut Nothing);
    }

    /// Like [`Direction::feed_stream`], with a second consumer that gets every event of the
    /// bytes scanned (an audit trail attached from the start). The scanner goes on for `also`
    /// after the judge has stopped; after the verdict, feed [`Direction::scanner`] directly.
    #[inline]
    pub fn feed_stream_with<S: Sink + ?Sized>(
        &mut self,
        buf: &[u8],
        at_budget: bool,
        also: &mut S,
    ) {
        let side = &mut self.side;
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        if len < side.total {
            // The caller's buffer shrank (should not happen): nothing sensible to do.
            return;
        }
        let judging = !side.done && !side.exhausted;
        if judging {
            sniff(side, buf, at_budget);
        }
        let binary_due = judging && side.binary_due;
        self.scanner.feed(buf, &mut (&mut *side, also));
        if binary_due {
            // A non-text byte came before the first bytes were named: judge the line again,
            // grown, now that the name may be settled.
            if let Some(rest) = self.scanner.binary_line(buf) {
                side.event(Event::Binary { rest });
            }
        }
        side.total = side.total.max(len);
        if at_budget {
            side.exhausted = true;
        }
    }

    /// Feed one datagram, already cut to the budget left. Messages may continue across
    /// datagrams, but a line may not: a datagram ends its last line.
    pub fn feed_datagram(&mut self, d: &[u8], at_budget: bool) {
        if self.side.done || self.side.exhausted {
            return;
        }
        self.feed_datagram_with(d, at_budget, &mut Nothing);
    }

    /// Like [`Direction::feed_datagram`], with a second consumer of the events.
    pub fn feed_datagram_with<S: Sink + ?Sized>(
        &mut self,
        d: &[u8],
        at_budget: bool,
        also: &mut S,
    ) {
        let side = &mut self.side;
        let judging = !side.done && !side.exhausted;
        if judging && !side.hint_settled && !d.is_empty() {
            side.set_hint(hints::sniff_datagram(d), d);
        }
        side.ev_open = false;
        self.scanner.feed_datagram(d, &mut (&mut *side, also));
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        side.total = side.total.saturating_add(len);
        if at_budget {
            side.exhausted = true;
        }
    }
}

/// A consumer that wants nothing: the judge alone.
struct Nothing;

impl Sink for Nothing {
    #[inline(always)]
    fn event(&mut self, _: Event<'_>) {}

    #[inline(always)]
    fn stopped(&self) -> bool {
        true
    }
}

/// Name the first bytes of a TCP direction while that can still change.
#[inline]
fn sniff(side: &mut Side, buf: &[u8], at_budget: bool) {
    if !side.hint_settled && !buf.is_empty() {
        let s = hints::sniff_stream(buf);
        side.hint = s.hint;
        if s.settled || at_budget || buf.len() >= hints::SNIFF_LEN {
            side.set_hint(s.hint, buf);
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

    /// A consumer keeping a readable trace of the events; runs of skipped body or opaque
    /// bytes are merged into their length, since where they are cut depends on the feeding.
    #[derive(Default)]
    struct Trace(Vec<String>);

    impl Sink for Trace {
        fn event(&mut self, ev: Event<'_>) {
            let (tag, n) = match ev {
                Event::Body(b) => ("Body", b.len()),
                Event::Opaque(b) => ("Opaque", b.len()),
                // The bytes after a non-text byte count with it: `rest` grows with the input.
                Event::Binary { rest } => ("Binary", rest.len()),
                other => {
                    self.0.push(format!("{other:?}"));
                    return;
                }
            };
            if let Some(last) = self.0.last_mut() {
                let run = last
                    .split_once(' ')
                    .filter(|(t, _)| *t == tag || (tag == "Opaque" && *t == "Binary"))
                    .and_then(|(t, m)| Some((t.to_string(), m.parse::<usize>().ok()?)));
                if let Some((t, m)) = run {
                    *last = format!("{t} {}", m + n);
                    return;
                }
            }
            self.0.push(format!("{tag} {n}"));
        }
    }

    fn session() -> [Vec<u8>; 2] {
        let blob = "TkRCQ09ORjIAAQIDBAUGBwgJCgsMDQ4P";
        let client = [
            "check connection\n\n".to_string(),
            "get config_v2\nnodetype: 0\nnode: 2\nversion: 524323\n\n".to_string(),
            "get session id\n\n".to_string(),
            "transporter connect\n\n2 1 1 0\n".to_string(),
        ]
        .concat();
        let server = [
            "check connection reply\nresult: Ok\n\n".to_string(),
            format!(
                "get config reply\nresult: Ok\nContent-Length: {}\n\
                 Content-Type: ndbconfig/octet-stream\nContent-Transfer-Encoding: base64\n\n{blob}\n",
                blob.len()
            ),
            "get session id reply\nid: 7\n\n".to_string(),
            "1 1\n".to_string(),
        ]
        .concat();
        let mut c = client.into_bytes();
        let mut s = server.into_bytes();
        c.extend_from_slice(&[1, 0, 0, 0, 0x1c, 0, 0x80]);
        s.extend_from_slice(&[1, 0, 0, 0, 0x1c]);
        [c, s]
    }

    #[test]
    fn events_go_on_after_the_verdict() {
        let bytes = session();
        // Reference: each direction scanned in one call.
        let whole: Vec<Vec<String>> = bytes
            .iter()
            .map(|b| {
                let mut t = Trace::default();
                Scanner::default().feed(b, &mut t);
                t.0
            })
            .collect();
        assert!(whole[0].first().is_some_and(|e| e.starts_with("Request")));
        assert!(whole[0].iter().any(|e| e == "Upgrade(Transporter)"));
        assert!(whole[0]
            .iter()
            .any(|e| e.starts_with("Hello { fields: Some(4)")));
        assert_eq!(whole[0].last().map(String::as_str), Some("Opaque 7"));
        assert!(whole[1].iter().any(|e| e == "Body 32"));
        assert!(whole[1]
            .iter()
            .any(|e| e.starts_with("Transporter { fields: 2")));
        assert_eq!(whole[1].last().map(String::as_str), Some("Binary 5"));

        // Now in pieces of 5 bytes, the judge alone until it decides, an audit trail after.
        let mut dirs = [Direction::default(), Direction::default()];
        let mut audit = [Trace::default(), Trace::default()];
        let mut grown = [0usize; 2];
        let mut decided_at = None;
        while grown[0] < bytes[0].len() || grown[1] < bytes[1].len() {
            for i in 0..2 {
                grown[i] = (grown[i] + 5).min(bytes[i].len());
                let buf = &bytes[i][..grown[i]];
                if decided_at.is_none() {
                    dirs[i].feed_stream(buf, false);
                    if judge(&dirs).state != crate::classify::ProbeState::NeedMore {
                        decided_at = Some(grown);
                    }
                } else {
                    dirs[i].scanner.feed(buf, &mut audit[i]);
                }
            }
        }
        let decided_at = decided_at.unwrap_or_default();
        // The verdict came early, from the first exchange ...
        assert_eq!(judge(&dirs).verdict, crate::classify::Verdict::NdbMgm);
        assert!(decided_at[0] < 40 && decided_at[1] < 60, "{decided_at:?}");
        for i in 0..2 {
            // ... the audit got the rest of the events, in order, as a one-call scan has them
            assert!(audit[i].0.len() > 5, "{:?}", audit[i].0);
            assert!(whole[i].ends_with(&audit[i].0), "{i}: {:?}", audit[i].0);
            // ... and no byte was scanned twice over all the calls.
            assert!(dirs[i].scanner.visited <= bytes[i].len());
        }
        // The server's config blob (after the verdict) was skipped as a body, not read as text.
        assert!(audit[1].0.iter().any(|e| e == "Body 32"));
    }

    #[test]
    fn an_audit_can_ride_along_from_the_start() {
        let bytes = session();
        for (i, b) in bytes.iter().enumerate() {
            let mut reference = Trace::default();
            Scanner::default().feed(b, &mut reference);
            let mut d = Direction::default();
            let mut t = Trace::default();
            for n in 1..=b.len() {
                d.feed_stream_with(&b[..n], false, &mut t);
            }
            assert_eq!(t.0, reference.0, "{i}");
            assert!(d.scanner.visited <= b.len());
        }
    }

    #[test]
    fn long_lines_resynchronise_and_rebase_bounds_memory() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\ncheck connection\n\n");
        for step in [1, 7, input.len()] {
            let mut s = Scanner::default();
            let mut t = Trace::default();
            // Keep only the bytes the scanner may still look at.
            let mut kept: Vec<u8> = Vec::new();
            for piece in input.chunks(step) {
                kept.extend_from_slice(piece);
                s.feed(&kept, &mut t);
                let n = s.consumed();
                kept.drain(..n);
                s.rebase(n);
                assert!(kept.len() <= MAX_LINE + step, "{}", kept.len());
            }
            assert_eq!(t.0.len(), 3, "{:?}", t.0);
            assert!(t.0[0].starts_with("LongLine"));
            assert!(t.0[1].starts_with("Request"));
            assert!(t.0[2].starts_with("End"));
        }
    }
}
