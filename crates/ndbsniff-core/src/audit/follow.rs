//! Following one direction of a TCP connection past its inspected prefix, for as long as the
//! connection lives, keeping only what the scanner needs.
//!
//! Owns: the next expected sequence number, the bytes of the current unfinished line (the
//! carry, at most about two [`MAX_LINE`]s), and a few segments that arrived ahead of a hole.
//! In-order bytes go straight to the scanner (no copy unless a line spans segments); bodies
//! the scanner skips by their length are never copied. A hole that is not filled while
//! [`MAX_AHEAD`] segments (or [`MAX_AHEAD_BYTES`]) wait behind it is taken as lost: the
//! direction jumps over it, the scanner resynchronises at the next line ([`Scanner::gap`])
//! and the trail counts a gap.
//!
//! Must never: keep more than the carry and the bounded segments ahead (all reserved from the
//! memcap), scan a byte twice, or panic on any sequence numbers.

use crate::classify::ndb_mgm::{Scanner, Sink, MAX_LINE};
use crate::memcap::MemCap;

/// Segments kept ahead of a hole.
pub const MAX_AHEAD: usize = 8;
/// Bytes kept ahead of a hole.
pub const MAX_AHEAD_BYTES: usize = 16 * 1024;
/// Bytes appended to the carry per scan when a line spans segments.
const CHUNK: usize = MAX_LINE + 2;
/// Segments starting further ahead than this are not of this connection.
const WINDOW: u32 = 1 << 30;

/// One direction being followed.
#[derive(Debug, Default)]
pub struct Follow {
    /// Sequence number of the next byte expected, once known.
    next: Option<u32>,
    /// The unfinished line the scanner will look at again.
    carry: Vec<u8>,
    /// Segments ahead of a hole: (sequence number, capture time, bytes), sorted.
    ahead: Vec<(u32, i64, Vec<u8>)>,
    /// Heap bytes reserved from the memcap.
    charged: usize,
}

/// What a follow step tells its caller about the stream besides the scanner's events.
pub trait Gaps {
    /// Bytes of the direction were lost.
    fn gap(&mut self);

    /// The bytes handed over next were captured at `now` (segments that waited behind a hole
    /// keep their own capture time).
    fn retime(&mut self, now: i64);
}

impl Follow {
    /// A direction whose next byte has sequence number `next` (unknown: the first segment
    /// seen sets it), with `carry` the bytes after the scanner's current line start.
    pub fn new(next: Option<u32>, carry: &[u8], mem: &MemCap) -> Follow {
        let mut f = Follow {
            next,
            ..Follow::default()
        };
        if !carry.is_empty() && mem.try_reserve(carry.len()) {
            f.charged = carry.len();
            f.carry.extend_from_slice(carry);
        }
        f
    }

    /// Heap bytes held (the carry and the segments ahead).
    pub fn heap_bytes(&self) -> usize {
        self.carry.capacity()
            + self
                .ahead
                .iter()
                .map(|(_, _, b)| b.capacity())
                .sum::<usize>()
    }

    /// Bytes reserved from the memcap.
    pub fn reserved(&self) -> usize {
        self.charged
    }

    /// Gives back everything reserved.
    pub fn release(&mut self, mem: &MemCap) {
        mem.release(self.charged);
        self.charged = 0;
        self.carry = Vec::new();
        self.ahead = Vec::new();
    }

    /// Scans whatever the carry holds already (bytes handed over at the start).
    pub fn resume<S: Sink + Gaps + ?Sized>(
        &mut self,
        scanner: &mut Scanner,
        sink: &mut S,
        mem: &MemCap,
    ) {
        if !self.carry.is_empty() {
            scanner.feed(&self.carry, sink);
            let n = scanner.release().min(self.carry.len());
            self.carry.drain(..n);
            self.recharge(mem);
        }
    }

    /// One TCP segment of the direction: sequence number `seq`, captured `payload` at `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn segment<S: Sink + Gaps + ?Sized>(
        &mut self,
        seq: u32,
        now: i64,
        payload: &[u8],
        scanner: &mut Scanner,
        sink: &mut S,
        mem: &MemCap,
    ) {
        if payload.is_empty() {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next);
        if ahead == 0 || ahead >= 1 << 31 {
            // At or before the next byte: the new part, if any, is in order.
            sink.retime(now);
            let skip = next.wrapping_sub(seq) as usize;
            if let Some(new) = payload.get(skip..).filter(|b| !b.is_empty()) {
                self.deliver(new, scanner, sink, mem);
                self.drain_ahead(scanner, sink, mem);
            }
            return;
        }
        if ahead > WINDOW {
            return;
        }
        let held: usize = self.ahead.iter().map(|(_, _, b)| b.len()).sum();
        let fits = self.ahead.len() < MAX_AHEAD && held + payload.len() <= MAX_AHEAD_BYTES;
        if fits && mem.try_reserve(payload.len()) {
            self.charged += payload.len();
            let at = self
                .ahead
                .iter()
                .position(|(s, _, _)| s.wrapping_sub(next) > ahead)
                .unwrap_or(self.ahead.len());
            if !self.ahead.iter().any(|(s, _, _)| *s == seq) {
                self.ahead.insert(at, (seq, now, payload.to_vec()));
                return;
            }
            self.charged -= payload.len();
            mem.release(payload.len());
            return;
        }
        // No room to wait for the hole to fill: it is lost.
        let first = self.ahead.first().map_or(seq, |(s, _, _)| {
            if s.wrapping_sub(next) < ahead {
                *s
            } else {
                seq
            }
        });
        self.skip_to(first, scanner, sink, mem);
        // In order now, or behind a shorter list of segments ahead: each round reads at least
        // one of them, so this ends.
        self.drain_ahead(scanner, sink, mem);
        self.segment(seq, now, payload, scanner, sink, mem);
    }

    /// The other direction acknowledged this one up to `ack`: a hole before segments waiting
    /// at or below it will never be filled (the receiver has those bytes, the capture lost
    /// them), so it is skipped now rather than when the wait runs out.
    pub fn acked<S: Sink + Gaps + ?Sized>(
        &mut self,
        ack: u32,
        scanner: &mut Scanner,
        sink: &mut S,
        mem: &MemCap,
    ) {
        let (Some(next), Some(&(first, _, _))) = (self.next, self.ahead.first()) else {
            return;
        };
        let to_first = first.wrapping_sub(next);
        let to_ack = ack.wrapping_sub(next);
        if to_ack < 1 << 31 && to_ack > to_first {
            self.skip_to(first, scanner, sink, mem);
            self.drain_ahead(scanner, sink, mem);
        }
    }

    /// The connection is over: segments still waiting behind a hole are read after it.
    pub fn finish<S: Sink + Gaps + ?Sized>(
        &mut self,
        scanner: &mut Scanner,
        sink: &mut S,
        mem: &MemCap,
    ) {
        while let Some(&(seq, _, _)) = self.ahead.first() {
            self.skip_to(seq, scanner, sink, mem);
            self.drain_ahead(scanner, sink, mem);
        }
    }

    /// Jumps over lost bytes up to `seq`.
    fn skip_to<S: Sink + Gaps + ?Sized>(
        &mut self,
        seq: u32,
        scanner: &mut Scanner,
        sink: &mut S,
        mem: &MemCap,
    ) {
        let Some(next) = self.next else {
            self.next = Some(seq);
            return;
        };
        let lost = seq.wrapping_sub(next);
        if lost == 0 || lost >= 1 << 31 {
            return;
        }
        // The carry's bytes precede the hole: the scanner gives up on them.
        let in_step = self.carry.is_empty() && scanner.gap(lost as usize);
        if !in_step {
            if !self.carry.is_empty() {
                scanner.gap(lost as usize);
            }
            self.carry.clear();
        }
        sink.gap();
        self.next = Some(seq);
        self.recharge(mem);
    }

    /// Segments ahead that are now in order.
    fn drain_ahead<S: Sink + Gaps + ?Sized>(
        &mut self,
        scanner: &mut Scanner,
        sink: &mut S,
        mem: &MemCap,
    ) {
        while let (Some(next), Some(&(seq, _, _))) = (self.next, self.ahead.first()) {
            let d = seq.wrapping_sub(next);
            if d != 0 && d < 1 << 31 {
                return;
            }
            let (seq, at, bytes) = self.ahead.remove(0);
            sink.retime(at);
            self.charged = self.charged.saturating_sub(bytes.len());
            mem.release(bytes.len());
            let skip = next.wrapping_sub(seq) as usize;
            if let Some(new) = bytes.get(skip..).filter(|b| !b.is_empty()) {
                self.deliver(new, scanner, sink, mem);
            }
        }
    }

    /// In-order bytes: to the scanner, the unfinished line kept.
    fn deliver<S: Sink + Gaps + ?Sized>(
        &mut self,
        bytes: &[u8],
        scanner: &mut Scanner,
        sink: &mut S,
        mem: &MemCap,
    ) {
        if let Some(n) = self.next.as_mut() {
            *n = n.wrapping_add(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        }
        if scanner.is_opaque() {
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.carry.is_empty() {
                scanner.feed(rest, sink);
                let n = scanner.release().min(rest.len());
                self.carry
                    .extend_from_slice(rest.get(n..).unwrap_or_default());
                break;
            }
            let take = rest.len().min(CHUNK);
            let (head, tail) = rest.split_at(take);
            self.carry.extend_from_slice(head);
            rest = tail;
            scanner.feed(&self.carry, sink);
            let n = scanner.release().min(self.carry.len());
            self.carry.drain(..n);
        }
        if self.carry.len() > 2 * CHUNK {
            // Cannot happen (the scanner gives up on a line past MAX_LINE), but the bound
            // must hold whatever the scanner does.
            self.carry.clear();
        }
        if self.carry.capacity() > 4 * CHUNK {
            self.carry.shrink_to(2 * CHUNK);
        }
        self.recharge(mem);
    }

    /// Keeps the reservation equal to what is held (growth refused: the carry is dropped).
    fn recharge(&mut self, mem: &MemCap) {
        let want = self.heap_bytes();
        if want > self.charged {
            if mem.try_reserve(want - self.charged) {
                self.charged = want;
            } else {
                self.carry = Vec::new();
                let held = self.heap_bytes();
                mem.release(self.charged.saturating_sub(held));
                self.charged = held.min(self.charged);
            }
        } else if want < self.charged {
            mem.release(self.charged - want);
            self.charged = want;
        }
    }
}
