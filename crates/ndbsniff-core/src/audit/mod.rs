//! The audit of NDB management sessions: what each session did, followed for its whole life.
//!
//! While a flow is inspected, a [`Trail`] rides along with the classifier on the same scanner
//! events (created by the first NDB-shaped event, [`trail::Lazy`]). Once the flow is judged
//! `ndb-mgm`, a [`Session`] takes the trail and both directions' scanners over and keeps
//! reading past the inspected prefix ([`follow`]): bounded state per direction (the current
//! line, a few segments ahead of a hole), bodies skipped by their length, nothing kept after
//! `transporter connect` or `start tls`. At the flow's end [`Session::report`] gives the
//! record's `"ndb"` object ([`crate::report::ndb::NdbSession`]).
//!
//! Memory: a session holds its trail (bounded, see [`trail`]) and per direction the carry
//! and the segments ahead (see [`follow`]); all of it is reserved from the run's
//! [`MemCap`] and given back when the session is dropped.
//!
//! Must never: keep packet bytes beyond the bounds above, print a secret, or panic on any
//! input.

pub mod events;
pub mod follow;
pub mod trail;

use std::sync::Arc;

use crate::classify::ndb_mgm::Scanner;
use crate::memcap::MemCap;
use crate::report::ndb::{Command, NdbSession};

pub use follow::{Follow, Gaps};
pub use trail::{Feed, Lazy, Trail};

impl Gaps for Feed<'_> {
    fn gap(&mut self) {
        self.trail.gap(self.dir);
    }

    fn retime(&mut self, now: i64) {
        self.now = now;
    }
}

/// What a direction hands over when its flow is judged: where its next byte is, and the bytes
/// the scanner has not finished with.
#[derive(Clone, Copy, Debug)]
pub struct Handover<'a> {
    /// Sequence number of the next byte (TCP), if known.
    pub next: Option<u32>,
    /// Bytes from the scanner's current line start to the end of what was reassembled.
    pub carry: &'a [u8],
    /// Segments reassembly held beyond a hole: (sequence number, bytes).
    pub ahead: &'a [(u32, Vec<u8>)],
}

/// One NDB session followed after its verdict.
#[derive(Debug)]
pub struct Session {
    trail: Box<Trail>,
    scanners: [Scanner; 2],
    follow: [Follow; 2],
    mem: Arc<MemCap>,
}

impl Session {
    /// Takes over a flow judged `ndb-mgm`: its trail (a new one when none was started), its
    /// scanners, and each direction's [`Handover`]; `now` is the capture time of the packet
    /// that decided it; `partial`: the capture started inside the session.
    pub fn start(
        trail: Option<Box<Trail>>,
        scanners: [Scanner; 2],
        handover: [Handover<'_>; 2],
        partial: bool,
        now: i64,
        mem: &Arc<MemCap>,
    ) -> Session {
        let trail = trail
            .or_else(|| Trail::reserve(mem))
            .unwrap_or_else(Trail::refused);
        let mut s = Session {
            trail,
            scanners,
            follow: [Follow::default(), Follow::default()],
            mem: Arc::clone(mem),
        };
        s.trail.partial |= partial;
        for (i, h) in handover.iter().enumerate() {
            let mem = &*s.mem;
            s.follow[i] = Follow::new(h.next, h.carry, mem);
            let mut feed = Feed {
                trail: &mut s.trail,
                dir: i,
                now,
                mem,
            };
            s.follow[i].resume(&mut s.scanners[i], &mut feed, mem);
            for (seq, bytes) in h.ahead {
                s.follow[i].segment(*seq, now, bytes, &mut s.scanners[i], &mut feed, mem);
            }
        }
        s
    }

    /// Live runs: control commands are handed out as they complete.
    pub fn announce(&mut self) {
        self.trail.announce();
    }

    /// One TCP segment of direction `dir` at capture time `now`; `ack` is its acknowledgement
    /// number when it has the ACK flag (it tells that the other direction's bytes before it
    /// were received).
    pub fn segment(&mut self, dir: usize, seq: u32, ack: Option<u32>, payload: &[u8], now: i64) {
        let d = dir & 1;
        let mem = &*self.mem;
        if let Some(ack) = ack {
            let o = 1 - d;
            let mut feed = Feed {
                trail: &mut self.trail,
                dir: o,
                now,
                mem,
            };
            self.follow[o].acked(ack, &mut self.scanners[o], &mut feed, mem);
        }
        if payload.is_empty() || self.scanners[d].is_opaque() {
            return;
        }
        let mut feed = Feed {
            trail: &mut self.trail,
            dir: d,
            now,
            mem,
        };
        self.follow[d].segment(seq, now, payload, &mut self.scanners[d], &mut feed, mem);
        self.after_upgrade();
    }

    /// Once the text part ended, a non-text byte ends each direction again.
    fn after_upgrade(&mut self) {
        if self.trail.upgraded() {
            for sc in &mut self.scanners {
                sc.lenient(false);
            }
        }
    }

    /// One UDP datagram of direction `dir` at capture time `now`.
    pub fn datagram(&mut self, dir: usize, payload: &[u8], now: i64) {
        let d = dir & 1;
        let mem = &*self.mem;
        let mut feed = Feed {
            trail: &mut self.trail,
            dir: d,
            now,
            mem,
        };
        self.scanners[d].feed_datagram(payload, &mut feed);
        self.after_upgrade();
    }

    /// Commands to announce now (live runs).
    pub fn take_notes(&mut self) -> Vec<Command> {
        self.trail.take_notes()
    }

    /// True when commands wait to be announced.
    pub fn has_notes(&self) -> bool {
        self.trail.has_notes()
    }

    /// The memory cap refused the session something (it was judged on less).
    pub fn refused(&self) -> bool {
        self.trail.refused
    }

    /// Bytes reserved from the memcap: the trail's and both directions'.
    pub fn reserved(&self) -> usize {
        self.trail.reserved() + self.follow.iter().map(Follow::reserved).sum::<usize>()
    }

    /// Heap bytes held: the trail and both directions' carries and segments ahead.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Trail>()
            + self.trail.heap_bytes()
            + self.follow.iter().map(Follow::heap_bytes).sum::<usize>()
    }

    /// The session as reported at its flow's end (segments still waiting behind a hole are
    /// read first, after a gap).
    pub fn report(&mut self, now: i64) -> NdbSession {
        let mem = &*self.mem;
        for d in 0..2 {
            let mut feed = Feed {
                trail: &mut self.trail,
                dir: d,
                now,
                mem,
            };
            self.follow[d].finish(&mut self.scanners[d], &mut feed, mem);
        }
        self.trail.finish(mem)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.trail.release_all(&self.mem);
        for f in &mut self.follow {
            f.release(&self.mem);
        }
    }
}
