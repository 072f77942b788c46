//! Bounded in-order reassembly of the first bytes (the prefix) of one direction of a TCP
//! connection.
//!
//! Owns: mapping sequence numbers to stream offsets (anchored by the SYN, or by the first
//! segment seen when the capture started mid-stream), a byte buffer that never grows past the
//! prefix limit, a small, capped list of out-of-order byte ranges, which bytes came from a
//! segment with a bad checksum, and what went wrong on the way (the [`Anomalies`] of the
//! direction).
//!
//! Must never: panic on any argument values, keep more than `limit` payload bytes, allocate for
//! zero-length segments or before the first data byte, allocate without reserving the bytes
//! from the run's [`MemCap`] first, or let a later copy of a byte overwrite the first copy
//! received — except that a copy from a segment with a good (or unverifiable) checksum replaces
//! bytes that came from a segment with a bad one. So the result does not depend on which
//! retransmission carried which bytes, and a bad-checksum copy (which the receiver dropped)
//! never wins over a good copy of the same range, whichever came first.
//!
//! Copies that disagree are flagged (`overlap-mismatch`). Work is linear in the bytes fed: the
//! start of a mid-stream stream moves earlier, and bytes already in [`StreamPrefix::data`] are
//! rewritten, at most [`MAX_REREADS`] times per direction (each such event makes the caller
//! re-read the data); later attempts are ignored and flagged (`reanchor-limit`).
//!
//! Sequence numbers are compared with wrapping arithmetic: a segment whose start lies up to
//! 2^31 bytes after the anchor is "after" it, anything further is "before" it. Only bytes whose
//! offset falls in `[0, limit)` are ever stored; everything else is ignored.

use crate::memcap::MemCap;
use crate::report::anomaly::{Anomalies, Anomaly};

/// Most out-of-order ranges kept at once. A segment that would open a new range beyond this is
/// dropped (the newest loses); bytes that extend or bridge existing ranges are always kept.
pub const MAX_RANGES: usize = 16;

/// Largest accepted prefix limit; larger requests are clamped to it. Keeps every in-window
/// offset far below the 2^31 sequence-space horizon and lets ranges be stored as `u32`.
pub const MAX_LIMIT: usize = 1 << 30;

/// How often one direction may move its start earlier (a mid-stream stream growing leftwards)
/// or have bytes already in `data()` replaced (a good copy over a bad-checksum one) — each
/// makes the caller re-read the whole prefix. A late SYN may always re-anchor once more.
pub const MAX_REREADS: u16 = 32;

/// Size of the first allocation of the byte buffer (or the limit, if smaller).
const FIRST_ALLOCATION: usize = 64;

/// Half the sequence space: forward distances at or beyond this count as "before".
const HALF_SEQ_SPACE: u32 = 1 << 31;

/// What one [`StreamPrefix::segment`] call changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fed {
    /// The contiguous prefix is as it was (duplicate, out-of-order, out-of-window or empty data).
    Unchanged,
    /// The contiguous prefix got longer; the bytes already seen are unchanged.
    Grew,
    /// The start of the stream moved earlier, or bytes already in `data()` were replaced by a
    /// good-checksum copy: `data()` must be re-read from its start.
    Rebased,
}

/// What the checksum of a segment said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Checksum {
    /// Not checked (not captured whole, or nobody asked): treated as good.
    #[default]
    Unverified,
    /// Checked and right.
    Good,
    /// Wrong: the bytes are used, but any good copy of them replaces them.
    Bad,
}

/// One TCP segment of one direction, as [`StreamPrefix::feed`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// The TCP sequence number of the segment's first byte (of the SYN, when `syn` is set).
    pub seq: u32,
    /// The SYN flag: `seq` is the initial sequence number and data starts at `seq + 1`.
    pub syn: bool,
    /// The captured payload bytes.
    pub payload: &'a [u8],
    /// The payload length on the wire; when it exceeds `payload.len()` the missing tail is a
    /// hole (captured bytes beyond it are ignored as padding).
    pub wire_len: u32,
    /// What the segment's TCP checksum said; a bad segment's bytes give way to a good copy.
    pub checksum: Checksum,
}

/// What [`StreamPrefix::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    Nothing,
    Grew,
    /// Bytes of `data()` changed.
    Rewrote,
}

thread_local! {
    /// The budget [`StreamPrefix::segment`] reserves from: as good as none.
    static UNLIMITED: MemCap = MemCap::new(usize::MAX);
}

/// The in-order prefix of one TCP direction, at most `limit` bytes long.
///
/// ```
/// use ndbsniff_core::flow::stream::{Fed, StreamPrefix};
///
/// let mut s = StreamPrefix::new(16);
/// assert_eq!(s.segment(999, true, b"", 0), Fed::Unchanged); // SYN: data starts at 1000
/// assert_eq!(s.segment(1005, false, b"world", 5), Fed::Unchanged); // out of order
/// assert_eq!(s.segment(1000, false, b"hello", 5), Fed::Grew);
/// assert_eq!(s.data(), b"helloworld");
/// ```
#[derive(Debug, Clone)]
pub struct StreamPrefix {
    /// Prefix length cap (clamped to [`MAX_LIMIT`]).
    limit: usize,
    /// Sequence number of stream offset 0, once known.
    anchor: Option<u32>,
    /// The anchor came from a SYN: it is final.
    syn_anchored: bool,
    /// Bytes at offsets `[0, buf.len())`; only the received ranges hold meaningful bytes.
    /// Invariant: `buf.len()` is the end of the last received range (or `contig`).
    buf: Vec<u8>,
    /// Offsets `[0, contig)` are all received.
    contig: usize,
    /// Received ranges beyond `contig`: sorted, disjoint, non-adjacent, each starting after
    /// `contig`. Allocated only when the first out-of-order segment arrives.
    ooo: Vec<(u32, u32)>,
    /// Lowest offset (at or after `contig` when noted) where a captured frame's bytes were
    /// cut off by the snap length.
    cut: Option<u32>,
    /// Bit `i` set: the byte at offset `i` came from a segment with a bad checksum. Allocated
    /// only when such a byte is stored; offsets past its end are not provisional.
    weak: Vec<u8>,
    /// Heap bytes reserved from the budget (always `heap_bytes()`).
    charged: usize,
    /// Re-anchorings and rewrites of `data()` so far (see [`MAX_REREADS`]).
    rereads: u16,
    anomalies: Anomalies,
}

impl StreamPrefix {
    /// A new, empty prefix keeping at most `limit` in-order bytes from the start of the stream.
    pub fn new(limit: usize) -> Self {
        StreamPrefix {
            limit: limit.min(MAX_LIMIT),
            anchor: None,
            syn_anchored: false,
            buf: Vec::new(),
            contig: 0,
            ooo: Vec::new(),
            cut: None,
            weak: Vec::new(),
            charged: 0,
            rereads: 0,
            anomalies: Anomalies::NONE,
        }
    }

    /// [`StreamPrefix::feed`] with an unverified checksum and no memory cap (tools and tests;
    /// a stream fed this way must not also be fed with a real budget).
    pub fn segment(&mut self, seq: u32, syn: bool, payload: &[u8], wire_len: u32) -> Fed {
        let seg = Segment {
            seq,
            syn,
            payload,
            wire_len,
            checksum: Checksum::Unverified,
        };
        UNLIMITED.with(|mem| self.feed(&seg, mem))
    }

    /// Feed one TCP segment of this direction, reserving any memory it needs from `mem`.
    ///
    /// Anchoring: a SYN anchors offset 0 at `seq + 1`; otherwise the first segment's `seq` does.
    /// While not anchored by a SYN, a data-carrying segment or a SYN that starts before the
    /// anchor by at most `limit` bytes moves the anchor there, keeping the bytes already
    /// buffered, and the call returns [`Fed::Rebased`] (data segments only [`MAX_REREADS`]
    /// times; after that the anchor stays and the part before it is ignored). A zero-length
    /// segment without SYN never moves the anchor (it adds no bytes, and keep-alive probes use
    /// `seq = next - 1`). Once anchored by a SYN, a SYN with a different sequence number is
    /// ignored entirely.
    ///
    /// When `mem` refuses a reservation the segment's new bytes are not stored and
    /// [`StreamPrefix::starved`] becomes true (what was stored before stays).
    pub fn feed(&mut self, seg: &Segment<'_>, mem: &MemCap) -> Fed {
        let (seq, syn, payload) = (seg.seq, seg.syn, seg.payload);
        let start = if syn { seq.wrapping_add(1) } else { seq };
        let wire = usize::try_from(seg.wire_len).unwrap_or(usize::MAX);
        let captured = payload.len().min(wire);

        let mut fed = Fed::Unchanged;
        let anchor = match self.anchor {
            None => {
                self.anchor = Some(start);
                self.syn_anchored = syn;
                start
            }
            Some(anchor) => {
                if syn && !self.syn_anchored {
                    match self.behind(anchor, start) {
                        Some(0) => self.syn_anchored = true,
                        Some(back) => {
                            if !self.rebase(back, mem) {
                                return Fed::Unchanged;
                            }
                            self.anchor = Some(start);
                            self.syn_anchored = true;
                            fed = Fed::Rebased;
                        }
                        // A SYN after the buffered data, or far before it: not this stream.
                        None => return Fed::Unchanged,
                    }
                    start
                } else if syn && start != anchor {
                    // A different SYN on a SYN-anchored stream: a new connection, not ours.
                    return Fed::Unchanged;
                } else if !self.syn_anchored && captured > 0 {
                    match self.behind(anchor, start) {
                        Some(back) if back > 0 && self.rereads >= MAX_REREADS => {
                            self.anomalies.insert(Anomaly::ReanchorLimit);
                            anchor
                        }
                        Some(back) if back > 0 && self.rebase(back, mem) => {
                            self.rereads += 1;
                            self.anchor = Some(start);
                            fed = Fed::Rebased;
                            start
                        }
                        _ => anchor,
                    }
                } else {
                    anchor
                }
            }
        };

        // Position of the segment relative to offset 0, in a signed space wide enough for any
        // sequence distance plus any payload length.
        let seg_start = signed_offset(anchor, start);
        let limit = self.limit as i64;
        let cap_end = seg_start.saturating_add(i64::try_from(captured).unwrap_or(i64::MAX));
        let wire_end = seg_start.saturating_add(i64::try_from(wire).unwrap_or(i64::MAX));

        if captured < wire {
            let cut = cap_end.max(0);
            if wire_end > cut && cut < limit {
                self.note_cut(cut as usize);
            }
        }

        let s = seg_start.max(0);
        let e = cap_end.min(limit);
        if s >= e {
            return fed;
        }
        // 0 <= s < e <= limit <= MAX_LIMIT, and e - seg_start <= captured.
        let (s, e) = (s as usize, e as usize);
        let skip = (s as i64 - seg_start) as usize;
        let Some(bytes) = payload.get(skip..skip + (e - s)) else {
            return fed;
        };
        match self.insert(s, bytes, seg.checksum == Checksum::Bad, mem) {
            Stored::Rewrote => Fed::Rebased,
            Stored::Grew if fed == Fed::Unchanged => Fed::Grew,
            _ => fed,
        }
    }

    /// The part of `seg` that would start this stream's in-order data, when nothing in order is
    /// held yet: lets a caller that could not buffer still look at a first segment.
    pub fn unbuffered_start<'p>(&self, seg: &Segment<'p>) -> Option<&'p [u8]> {
        if self.contig > 0 {
            return None;
        }
        let start = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let at = signed_offset(self.anchor?, start);
        let captured = seg
            .payload
            .len()
            .min(usize::try_from(seg.wire_len).unwrap_or(usize::MAX));
        let skip = usize::try_from(at.checked_neg()?).ok()?;
        let end = captured.min(skip.saturating_add(self.limit));
        seg.payload.get(skip..end).filter(|b| !b.is_empty())
    }

    /// The contiguous in-order bytes from the start of the stream (at most `limit`).
    pub fn data(&self) -> &[u8] {
        self.buf.get(..self.contig).unwrap_or(&[])
    }

    /// The sequence number of the byte after [`StreamPrefix::data`], once anchored.
    pub fn next_seq(&self) -> Option<u32> {
        let contig = u32::try_from(self.contig).ok()?;
        self.anchor.map(|a| a.wrapping_add(contig))
    }

    /// The out-of-order ranges held beyond [`StreamPrefix::data`], as (sequence number,
    /// bytes), in stream order.
    pub fn ahead(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        let anchor = self.anchor.unwrap_or(0);
        self.ooo.iter().filter_map(move |&(s, e)| {
            let bytes = self.buf.get(s as usize..e as usize)?;
            Some((anchor.wrapping_add(s), bytes))
        })
    }

    /// True when `data().len() == limit` (nothing more can be learnt).
    pub fn is_full(&self) -> bool {
        self.contig >= self.limit
    }

    /// True when the stream began without a SYN being seen (capture started mid-stream).
    /// Becomes false if a late SYN re-anchors the stream.
    pub fn mid_stream(&self) -> bool {
        self.anchor.is_some() && !self.syn_anchored
    }

    /// True when the prefix is not full and ends exactly where a captured frame was cut by the
    /// snap length: it can only grow if a later copy of those bytes is captured in full.
    pub fn stalled(&self) -> bool {
        !self.is_full() && self.cut.is_some_and(|c| c as usize == self.contig)
    }

    /// True once a reservation from the memory budget was refused (bytes were not stored).
    pub fn starved(&self) -> bool {
        self.anomalies.contains(Anomaly::Memcap)
    }

    /// True when some byte of `data()` came from a segment with a bad checksum and no good
    /// copy has confirmed it yet.
    pub fn provisional(&self) -> bool {
        let end = self.contig.min(self.weak.len() * 8);
        let whole = end / 8;
        self.weak
            .get(..whole)
            .is_some_and(|b| b.iter().any(|&x| x != 0))
            || (whole * 8..end).any(|i| weak_bit(&self.weak, i))
    }

    /// What went wrong so far: `overlap-mismatch`, `reanchor-limit`, `memcap`.
    pub fn anomalies(&self) -> Anomalies {
        self.anomalies
    }

    /// Re-anchorings and rewrites of `data()` performed so far.
    pub fn rereads(&self) -> u16 {
        self.rereads
    }

    /// The prefix limit in force (the requested one, clamped to [`MAX_LIMIT`]).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Heap bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
            + self.ooo.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.weak.capacity()
    }

    /// Bytes reserved from the budget given to [`StreamPrefix::feed`]; the owner gives them
    /// back when it drops the stream.
    pub fn charged(&self) -> usize {
        self.charged
    }

    /// How far `start` lies before `anchor`, if it does by at most `limit` (0 when equal).
    fn behind(&self, anchor: u32, start: u32) -> Option<usize> {
        let back = anchor.wrapping_sub(start);
        let forward = start.wrapping_sub(anchor);
        if back == 0 {
            Some(0)
        } else if forward >= HALF_SEQ_SPACE && (back as usize) <= self.limit {
            Some(back as usize)
        } else {
            None
        }
    }

    fn note_cut(&mut self, at: usize) {
        if at < self.contig {
            return;
        }
        let at = at as u32;
        match self.cut {
            Some(c) if (c as usize) >= self.contig && c <= at => {}
            _ => self.cut = Some(at),
        }
    }

    /// Reserves `n` more heap bytes from `mem`, or notes that it refused.
    fn charge(&mut self, n: usize, mem: &MemCap) -> bool {
        if n == 0 {
            return true;
        }
        if mem.try_reserve(n) {
            self.charged += n;
            true
        } else {
            self.anomalies.insert(Anomaly::Memcap);
            false
        }
    }

    /// Makes sure the out-of-order list has its (one, fixed) allocation.
    fn ooo_room(&mut self, mem: &MemCap) -> bool {
        if self.ooo.capacity() > 0 {
            return true;
        }
        if !self.charge(MAX_RANGES * std::mem::size_of::<(u32, u32)>(), mem) {
            return false;
        }
        self.ooo.reserve_exact(MAX_RANGES);
        self.settle();
        true
    }

    /// Move every buffered byte `d` offsets later (0 < d <= limit); offset 0 becomes empty.
    /// False (nothing changed) when the memory for it was refused.
    fn rebase(&mut self, d: usize, mem: &MemCap) -> bool {
        let limit = self.limit;
        let shift = |x: u32| (x as usize + d).min(limit) as u32;
        // Reserve first: the buffer grows to the end of the last range that survives.
        let last_end = self
            .ooo
            .last()
            .map(|r| shift(r.1))
            .or((self.contig > 0).then(|| shift(self.contig as u32)))
            .map_or(0, |x| x as usize);
        let new_len = if d < limit { last_end } else { 0 };
        let needs_ooo = self.contig > 0 && d < limit;
        if (needs_ooo && !self.ooo_room(mem))
            || !self.grow_capacity_for(new_len, mem)
            || (!self.weak.is_empty() && !self.weak_room(new_len, mem))
        {
            return false;
        }
        for r in &mut self.ooo {
            *r = (shift(r.0), shift(r.1));
        }
        self.ooo.retain(|r| r.0 < r.1);
        if needs_ooo {
            if self.ooo.len() >= MAX_RANGES {
                self.ooo.pop(); // the highest range loses
            }
            self.ooo.insert(0, (d as u32, shift(self.contig as u32)));
        }
        self.contig = 0;
        self.cut = self.cut.map(shift).filter(|&c| (c as usize) < limit);
        self.shift_weak(d);

        let new_len = self.ooo.last().map_or(0, |r| r.1 as usize);
        if new_len == 0 {
            self.buf.clear();
            return true;
        }
        // Every kept range starts at or after `d`, so `new_len > d`.
        let Some(keep) = new_len.checked_sub(d) else {
            self.buf.clear();
            return true;
        };
        self.buf.truncate(keep);
        self.buf.resize(new_len, 0);
        self.buf.copy_within(0..keep, d);
        if let Some(head) = self.buf.get_mut(..d) {
            head.fill(0);
        }
        true
    }

    /// Moves every provisional mark `d` offsets later, dropping those pushed past the bitmap
    /// (which the caller made cover the shifted data).
    fn shift_weak(&mut self, d: usize) {
        let cap = (self.weak.len() * 8).min(self.limit);
        for i in (0..cap).rev() {
            let v = i >= d && weak_bit(&self.weak, i - d);
            set_weak_bit(&mut self.weak, i, v);
        }
    }

    /// Record `bytes` at offsets `[s, s + bytes.len())` (inside the window, non-empty), first
    /// copy winning unless it is provisional and this one is not; `weak`: this copy's checksum
    /// was bad.
    fn insert(&mut self, s: usize, bytes: &[u8], weak: bool, mem: &MemCap) -> Stored {
        let e = s + bytes.len();
        let rewrote = self.overlap(s, bytes, weak);
        let done = if rewrote {
            Stored::Rewrote
        } else {
            Stored::Nothing
        };
        if e <= self.contig {
            return done; // retransmission of bytes already in order
        }

        if s <= self.contig && self.ooo.is_empty() {
            // Common case: in order (possibly overlapping the tail). buf.len() == contig here.
            if !self.grow_capacity_for(e, mem) || (weak && !self.weak_room(e, mem)) {
                return done;
            }
            let from = self.contig;
            let new = bytes.get(from.saturating_sub(s)..).unwrap_or(&[]);
            self.buf.truncate(from);
            self.buf.extend_from_slice(new);
            self.contig = e;
            if weak {
                self.mark_weak(from, e);
            }
            self.forget_stale_cut();
            return if rewrote {
                Stored::Rewrote
            } else {
                Stored::Grew
            };
        }

        // Where does the merged range go? Ranges touching [s, e) form one run in the list.
        let first = self.ooo.partition_point(|r| (r.1 as usize) < s);
        let last = self.ooo.partition_point(|r| (r.0 as usize) <= e);
        let touches_contig = s <= self.contig;
        if !touches_contig && first == last && self.ooo.len() >= MAX_RANGES {
            return done; // would open one range too many: drop the newest
        }
        let end = self.buf.len().max(e);
        if !self.grow_capacity_for(end, mem)
            || (!touches_contig && !self.ooo_room(mem))
            || (weak && !self.weak_room(e, mem))
        {
            return done;
        }

        // Copy only into the gaps not yet received.
        if e > self.buf.len() {
            self.buf.resize(e, 0);
        }
        let mut pos = s.max(self.contig);
        for k in first..last {
            let Some(&(rs, re)) = self.ooo.get(k) else {
                break;
            };
            let (rs, re) = (rs as usize, re as usize);
            if rs > pos {
                copy_in(&mut self.buf, pos, rs, s, bytes);
                if weak {
                    self.mark_weak(pos, rs);
                }
            }
            pos = pos.max(re);
        }
        if pos < e {
            copy_in(&mut self.buf, pos, e, s, bytes);
            if weak {
                self.mark_weak(pos, e);
            }
        }

        // Merge the bookkeeping.
        let (merged_start, merged_end) = if last > first {
            (
                self.ooo.get(first).map_or(s, |r| s.min(r.0 as usize)),
                self.ooo.get(last - 1).map_or(e, |r| e.max(r.1 as usize)),
            )
        } else {
            (s, e)
        };
        if touches_contig {
            self.ooo.drain(first..last);
            self.contig = self.contig.max(merged_end);
            // The next range starts strictly after merged_end (ranges are non-adjacent).
            self.forget_stale_cut();
            if rewrote {
                Stored::Rewrote
            } else {
                Stored::Grew
            }
        } else {
            let range = (merged_start as u32, merged_end as u32);
            if last > first {
                self.ooo.drain(first + 1..last);
                if let Some(r) = self.ooo.get_mut(first) {
                    *r = range;
                }
            } else {
                self.ooo.insert(first, range);
            }
            done
        }
    }

    /// Compares `bytes` (at offset `s`) with the bytes already held in the same places: flags
    /// a disagreement, and, when this copy is good, replaces provisional bytes with it. True
    /// when bytes of `data()` changed.
    fn overlap(&mut self, s: usize, bytes: &[u8], weak: bool) -> bool {
        let e = s + bytes.len();
        // The held ranges meeting [s, e): the in-order part, then out-of-order ranges.
        let mut held = [(0usize, 0usize); MAX_RANGES + 1];
        let mut n = 0;
        if s < self.contig {
            held[0] = (s, e.min(self.contig));
            n = 1;
        }
        let first = self.ooo.partition_point(|r| (r.1 as usize) <= s);
        for &(rs, re) in self.ooo.get(first..).unwrap_or(&[]) {
            let (rs, re) = (rs as usize, re as usize);
            if rs >= e || n >= held.len() {
                break;
            }
            held[n] = (rs.max(s), re.min(e));
            n += 1;
        }
        let mut changed_data = false;
        let mut over_budget = false;
        for &(a, b) in held.get(..n).unwrap_or(&[]) {
            let (Some(old), Some(new)) = (self.buf.get(a..b), bytes.get(a - s..b - s)) else {
                continue;
            };
            if old != new {
                self.anomalies.insert(Anomaly::OverlapMismatch);
            }
            if weak || self.weak.is_empty() || a >= self.weak.len() * 8 {
                continue;
            }
            // A good copy: it confirms or replaces every provisional byte it covers.
            for p in a..b.min(self.weak.len() * 8) {
                if !weak_bit(&self.weak, p) {
                    continue;
                }
                let want = new[p - a];
                if self.buf[p] != want {
                    if p < self.contig {
                        if self.rereads >= MAX_REREADS {
                            over_budget = true;
                            continue; // the probe read it: it stays as it is
                        }
                        changed_data = true;
                    }
                    self.buf[p] = want;
                }
                set_weak_bit(&mut self.weak, p, false);
            }
        }
        if over_budget {
            self.anomalies.insert(Anomaly::ReanchorLimit);
        }
        if changed_data {
            self.rereads += 1;
        }
        changed_data
    }

    /// Makes the provisional bitmap cover offsets `[0, len)`, reserving memory for it.
    fn weak_room(&mut self, len: usize, mem: &MemCap) -> bool {
        let need = len.div_ceil(8);
        if need <= self.weak.len() {
            return true;
        }
        let cap = self.weak.capacity();
        if need > cap {
            let most = self.limit.div_ceil(8);
            let target = need.max(cap.saturating_mul(2).max(32).min(most));
            if !self.charge(target - cap, mem) {
                return false;
            }
            self.weak.reserve_exact(target - self.weak.len());
            self.settle();
        }
        self.weak.resize(need, 0);
        true
    }

    fn mark_weak(&mut self, from: usize, to: usize) {
        for p in from..to {
            set_weak_bit(&mut self.weak, p, true);
        }
    }

    /// Reserve room for `len` bytes (<= limit): geometric growth, never past the limit, and
    /// only with memory from the budget (just `len` when the doubled size would not fit).
    fn grow_capacity_for(&mut self, len: usize, mem: &MemCap) -> bool {
        let cap = self.buf.capacity();
        if len <= cap {
            return true;
        }
        let doubled = len.max(cap.saturating_mul(2).max(FIRST_ALLOCATION).min(self.limit));
        let room = mem.limit().saturating_sub(mem.used());
        let target = if doubled - cap <= room { doubled } else { len };
        if !self.charge(target - cap, mem) {
            return false;
        }
        self.buf
            .reserve_exact(target.saturating_sub(self.buf.len()));
        self.settle();
        true
    }

    /// Checks that what is allocated is what was reserved (`reserve_exact` on a vector of
    /// bytes or of pairs allocates exactly what was asked).
    fn settle(&self) {
        debug_assert_eq!(self.heap_bytes(), self.charged);
    }

    fn forget_stale_cut(&mut self) {
        if self.cut.is_some_and(|c| (c as usize) < self.contig) {
            self.cut = None;
        }
    }
}

/// Offset of sequence number `start` from `anchor`: up to 2^31 after it is positive, anything
/// else is negative.
fn signed_offset(anchor: u32, start: u32) -> i64 {
    let dist = start.wrapping_sub(anchor);
    if dist < HALF_SEQ_SPACE {
        i64::from(dist)
    } else {
        -i64::from(anchor.wrapping_sub(start))
    }
}

fn weak_bit(bits: &[u8], i: usize) -> bool {
    bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

fn set_weak_bit(bits: &mut [u8], i: usize, v: bool) {
    if let Some(b) = bits.get_mut(i / 8) {
        if v {
            *b |= 1 << (i % 8);
        } else {
            *b &= !(1 << (i % 8));
        }
    }
}

/// Copy the part of `bytes` (which starts at offset `s`) covering offsets `[from, to)` into
/// `buf`; does nothing if any bound is out of range.
fn copy_in(buf: &mut [u8], from: usize, to: usize, s: usize, bytes: &[u8]) {
    let src = match (from.checked_sub(s), to.checked_sub(s)) {
        (Some(a), Some(b)) => bytes.get(a..b),
        _ => None,
    };
    if let (Some(dst), Some(src)) = (buf.get_mut(from..to), src) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ISN: u32 = 1_000;

    /// A prefix that has seen the SYN with ISN, so data starts at ISN + 1.
    fn after_syn(limit: usize) -> StreamPrefix {
        let mut s = StreamPrefix::new(limit);
        assert_eq!(s.segment(ISN, true, b"", 0), Fed::Unchanged);
        s
    }

    fn feed(s: &mut StreamPrefix, off: u32, bytes: &[u8]) -> Fed {
        s.segment(ISN + 1 + off, false, bytes, bytes.len() as u32)
    }

    #[test]
    fn nothing_allocated_before_data() {
        let mut s = StreamPrefix::new(4096);
        assert_eq!(s.heap_bytes(), 0);
        assert!(!s.mid_stream());
        s.segment(ISN, true, b"", 0);
        s.segment(ISN + 1, false, b"", 0);
        s.segment(ISN + 1, false, b"", 0);
        assert_eq!(s.heap_bytes(), 0);
        assert!(s.data().is_empty());
        assert!(!s.mid_stream());
        assert!(!s.is_full());
    }

    #[test]
    fn in_order_segments_append() {
        let mut s = after_syn(4096);
        assert_eq!(feed(&mut s, 0, b"get status\n"), Fed::Grew);
        assert_eq!(feed(&mut s, 11, b"\n"), Fed::Grew);
        assert_eq!(s.data(), b"get status\n\n");
        assert!(s.heap_bytes() >= 12 && s.heap_bytes() <= 4096);
    }

    #[test]
    fn syn_payload_starts_after_isn() {
        let mut s = StreamPrefix::new(64);
        assert_eq!(s.segment(ISN, true, b"abc", 3), Fed::Grew);
        assert_eq!(s.segment(ISN + 4, false, b"def", 3), Fed::Grew);
        assert_eq!(s.data(), b"abcdef");
    }

    #[test]
    fn out_of_order_segments_fill_in() {
        let mut s = after_syn(64);
        assert_eq!(feed(&mut s, 6, b"ghi"), Fed::Unchanged);
        assert_eq!(feed(&mut s, 3, b"def"), Fed::Unchanged);
        assert!(s.data().is_empty());
        assert_eq!(feed(&mut s, 0, b"abc"), Fed::Grew);
        assert_eq!(s.data(), b"abcdefghi");
        assert_eq!(feed(&mut s, 9, b"j"), Fed::Grew);
        assert_eq!(s.data(), b"abcdefghij");
    }

    #[test]
    fn retransmission_changes_nothing() {
        let mut s = after_syn(64);
        feed(&mut s, 0, b"hello ");
        feed(&mut s, 6, b"world");
        assert_eq!(feed(&mut s, 0, b"hello "), Fed::Unchanged);
        assert_eq!(feed(&mut s, 6, b"world"), Fed::Unchanged);
        assert_eq!(feed(&mut s, 0, b"hello world"), Fed::Unchanged);
        assert_eq!(s.data(), b"hello world");
    }

    #[test]
    fn overlap_first_received_byte_wins() {
        // Out of order first: the buffered bytes win over a later overlapping copy.
        let mut s = after_syn(64);
        feed(&mut s, 2, b"XY");
        assert_eq!(feed(&mut s, 0, b"abcdef"), Fed::Grew);
        assert_eq!(s.data(), b"abXYef");
        // In order: the tail of an overlapping segment only adds the new bytes.
        let mut s = after_syn(64);
        feed(&mut s, 0, b"abcd");
        assert_eq!(feed(&mut s, 2, b"ZZZZ"), Fed::Grew);
        assert_eq!(s.data(), b"abcdZZ");
        // Overlap between two out-of-order ranges, bridged later.
        let mut s = after_syn(64);
        feed(&mut s, 4, b"4567");
        feed(&mut s, 2, b"xxxxxxxx");
        feed(&mut s, 0, b"01");
        assert_eq!(s.data(), b"01xx4567xx");
    }

    #[test]
    fn one_byte_segments_in_any_order() {
        let text = b"get nodeid\nversion: 524288\n\n";
        let mut s = after_syn(64);
        for (i, b) in text.iter().enumerate().rev() {
            feed(&mut s, i as u32, &[*b]);
        }
        assert_eq!(s.data(), text);
        let mut s = after_syn(64);
        for (i, b) in text.iter().enumerate() {
            assert_eq!(feed(&mut s, i as u32, &[*b]), Fed::Grew);
        }
        assert_eq!(s.data(), text);
    }

    #[test]
    fn mid_stream_start_anchors_on_first_segment() {
        let mut s = StreamPrefix::new(64);
        assert_eq!(s.segment(77_000, false, b"result: Ok\n", 11), Fed::Grew);
        assert!(s.mid_stream());
        assert_eq!(s.segment(77_011, false, b"\n", 1), Fed::Grew);
        assert_eq!(s.data(), b"result: Ok\n\n");
    }

    #[test]
    fn late_syn_rebases_and_keeps_buffered_bytes() {
        let mut s = StreamPrefix::new(64);
        s.segment(ISN + 1 + 4, false, b"efgh", 4);
        assert!(s.mid_stream());
        assert_eq!(s.data(), b"efgh");
        assert_eq!(s.segment(ISN, true, b"", 0), Fed::Rebased);
        assert!(!s.mid_stream());
        assert!(s.data().is_empty());
        assert_eq!(feed(&mut s, 0, b"abcd"), Fed::Grew);
        assert_eq!(s.data(), b"abcdefgh");
        // Now SYN-anchored: an earlier segment no longer moves the start.
        assert_eq!(
            s.segment(ISN - 10, false, b"0123456789a", 11),
            Fed::Unchanged
        );
        assert_eq!(s.data(), b"abcdefgh");
    }

    #[test]
    fn late_syn_at_anchor_only_marks_it() {
        let mut s = StreamPrefix::new(64);
        s.segment(ISN + 1, false, b"abc", 3);
        assert_eq!(s.segment(ISN, true, b"", 0), Fed::Unchanged);
        assert!(!s.mid_stream());
        assert_eq!(s.data(), b"abc");
    }

    #[test]
    fn second_different_syn_is_ignored() {
        let mut s = after_syn(64);
        feed(&mut s, 0, b"abc");
        assert_eq!(s.segment(ISN - 2, true, b"xyz", 3), Fed::Unchanged);
        assert_eq!(s.segment(ISN + 500, true, b"xyz", 3), Fed::Unchanged);
        assert_eq!(s.data(), b"abc");
        // The same SYN retransmitted with data is just a retransmission.
        assert_eq!(s.segment(ISN, true, b"abcd", 4), Fed::Grew);
        assert_eq!(s.data(), b"abcd");
    }

    #[test]
    fn late_syn_far_before_or_after_anchor_is_ignored() {
        let mut s = StreamPrefix::new(16);
        s.segment(5_000, false, b"abc", 3);
        assert_eq!(s.segment(5_000 - 100, true, b"", 0), Fed::Unchanged);
        assert_eq!(s.segment(5_000 + 2, true, b"", 0), Fed::Unchanged);
        assert!(s.mid_stream());
        assert_eq!(s.data(), b"abc");
    }

    #[test]
    fn segment_before_mid_stream_anchor_rebases() {
        let mut s = StreamPrefix::new(64);
        s.segment(10_000, false, b"world", 5);
        feed_raw_expect(&mut s, 10_010, b"!", Fed::Unchanged); // out of order beyond a hole
        assert_eq!(s.segment(9_994, false, b"hello ", 6), Fed::Rebased);
        assert_eq!(s.data(), b"hello world");
        assert_eq!(s.segment(10_005, false, b"12345", 5), Fed::Grew);
        assert_eq!(s.data(), b"hello world12345!");
        // An overlapping earlier segment: the bytes already held win.
        assert_eq!(s.segment(9_990, false, b"<<< HELLO", 9), Fed::Rebased);
        assert_eq!(s.data(), b"<<< hello world12345!");
        assert!(s.mid_stream());
    }

    fn feed_raw_expect(s: &mut StreamPrefix, seq: u32, bytes: &[u8], want: Fed) {
        assert_eq!(s.segment(seq, false, bytes, bytes.len() as u32), want);
    }

    #[test]
    fn segment_far_before_mid_stream_anchor_is_ignored() {
        let mut s = StreamPrefix::new(8);
        s.segment(10_000, false, b"abc", 3);
        assert_eq!(s.segment(10_000 - 9, false, b"x", 1), Fed::Unchanged);
        // Partly inside: starts 9 before (too far to rebase), the in-window part is clipped.
        assert_eq!(
            s.segment(10_000 - 9, false, b"012345678abcdef", 15),
            Fed::Grew
        );
        assert_eq!(s.data(), b"abcdef");
    }

    #[test]
    fn rebase_drops_bytes_pushed_beyond_limit() {
        let mut s = StreamPrefix::new(8);
        s.segment(100, false, b"defgh", 5);
        assert_eq!(s.segment(97, false, b"abc", 3), Fed::Rebased);
        assert_eq!(s.data(), b"abcdefgh");
        assert!(s.is_full());
        let mut s = StreamPrefix::new(8);
        s.segment(100, false, b"ghij", 4);
        assert_eq!(s.segment(94, false, b"abc", 3), Fed::Rebased);
        assert_eq!(s.segment(97, false, b"def", 3), Fed::Grew);
        assert_eq!(s.data(), b"abcdefgh");
        assert!(s.heap_bytes() <= 8 + MAX_RANGES * 8);
    }

    #[test]
    fn zero_length_segment_does_not_rebase() {
        let mut s = StreamPrefix::new(64);
        s.segment(5_000, false, b"abc", 3);
        // Keep-alive probe shape: seq = next - 1, no data.
        assert_eq!(s.segment(4_999, false, b"", 0), Fed::Unchanged);
        assert_eq!(s.data(), b"abc");
    }

    #[test]
    fn zero_length_first_segment_anchors_without_allocating() {
        let mut s = StreamPrefix::new(64);
        assert_eq!(s.segment(300, false, b"", 0), Fed::Unchanged);
        assert!(s.mid_stream());
        assert_eq!(s.heap_bytes(), 0);
        assert_eq!(s.segment(300, false, b"ab", 2), Fed::Grew);
        assert_eq!(s.data(), b"ab");
    }

    #[test]
    fn wrap_around_across_2_pow_32() {
        let isn = u32::MAX - 3;
        let mut s = StreamPrefix::new(64);
        s.segment(isn, true, b"", 0);
        // Offset 0 is at u32::MAX - 2; offset 5 wraps to 2.
        assert_eq!(s.segment(2, false, b"fgh", 3), Fed::Unchanged);
        assert_eq!(s.segment(u32::MAX - 2, false, b"abcde", 5), Fed::Grew);
        assert_eq!(s.data(), b"abcdefgh");
        // A segment just before the wrapped anchor is "before": clipped, not appended.
        assert_eq!(
            s.segment(u32::MAX - 5, false, b"xyzabcdefghij", 13),
            Fed::Grew
        );
        assert_eq!(s.data(), b"abcdefghij");
    }

    #[test]
    fn wrap_around_mid_stream_rebase() {
        let mut s = StreamPrefix::new(64);
        s.segment(1, false, b"cd", 2);
        assert_eq!(s.segment(u32::MAX, false, b"ab", 2), Fed::Rebased);
        assert_eq!(s.data(), b"abcd");
    }

    #[test]
    fn absurd_sequence_numbers_are_ignored() {
        let mut s = after_syn(64);
        feed(&mut s, 0, b"abc");
        for seq in [
            ISN + 1 + 64,
            ISN + 1 + (1 << 31),
            ISN + 1 + (1 << 31) + 1,
            ISN.wrapping_sub(5_000),
        ] {
            assert_eq!(s.segment(seq, false, b"junk", 4), Fed::Unchanged);
        }
        assert_eq!(s.data(), b"abc");
        assert_eq!(feed(&mut s, 3, b"d"), Fed::Grew);
        assert_eq!(s.data(), b"abcd");
    }

    #[test]
    fn snaplen_hole_stops_the_prefix() {
        let mut s = after_syn(64);
        // 10 bytes on the wire, only 4 captured.
        assert_eq!(s.segment(ISN + 1, false, b"abcd", 10), Fed::Grew);
        assert_eq!(feed(&mut s, 10, b"klm"), Fed::Unchanged);
        assert_eq!(s.data(), b"abcd");
        assert!(s.stalled());
        assert!(!s.is_full());
        // A full copy of the missing bytes (a retransmission captured whole) unblocks it.
        assert_eq!(feed(&mut s, 4, b"efghij"), Fed::Grew);
        assert_eq!(s.data(), b"abcdefghijklm");
        assert!(!s.stalled());
    }

    #[test]
    fn snaplen_hole_out_of_order() {
        let mut s = after_syn(64);
        s.segment(ISN + 1 + 4, false, b"ef", 6);
        assert!(!s.stalled());
        feed(&mut s, 0, b"abcd");
        assert_eq!(s.data(), b"abcdef");
        assert!(s.stalled());
    }

    #[test]
    fn captured_bytes_beyond_wire_len_are_ignored() {
        let mut s = after_syn(64);
        assert_eq!(s.segment(ISN + 1, false, b"abc\0\0\0", 3), Fed::Grew);
        assert_eq!(s.data(), b"abc");
    }

    #[test]
    fn limit_clips_segments() {
        let mut s = after_syn(5);
        assert_eq!(feed(&mut s, 3, b"defghij"), Fed::Unchanged);
        assert_eq!(feed(&mut s, 0, b"abc"), Fed::Grew);
        assert_eq!(s.data(), b"abcde");
        assert!(s.is_full());
        assert_eq!(feed(&mut s, 5, b"more"), Fed::Unchanged);
        assert_eq!(s.data(), b"abcde");
        assert!(s.heap_bytes() <= 5 + MAX_RANGES * 8);
    }

    #[test]
    fn zero_limit_keeps_nothing() {
        let mut s = StreamPrefix::new(0);
        assert!(s.is_full());
        assert_eq!(s.segment(1, true, b"abc", 3), Fed::Unchanged);
        assert_eq!(s.segment(2, false, b"abc", 3), Fed::Unchanged);
        assert!(s.data().is_empty());
        assert_eq!(s.heap_bytes(), 0);
    }

    #[test]
    fn heap_stays_bounded() {
        let limit = 4096;
        let mut s = after_syn(limit);
        // Many scattered out-of-order 1-byte segments, then a flood of in-order data.
        for i in (2..3 * limit as u32).step_by(3) {
            feed(&mut s, i, b"x");
        }
        assert!(s.heap_bytes() <= limit + MAX_RANGES * 8);
        let chunk = [b'a'; 1460];
        for i in 0..20u32 {
            feed(&mut s, i * 1460, &chunk);
        }
        assert_eq!(s.data().len(), limit);
        assert!(s.is_full());
        assert!(s.heap_bytes() <= limit + MAX_RANGES * 8);
        // Huge requested limit is clamped; nothing is allocated up front.
        let s = StreamPrefix::new(usize::MAX);
        assert_eq!(s.limit(), MAX_LIMIT);
        assert_eq!(s.heap_bytes(), 0);
    }

    #[test]
    fn range_cap_drops_the_newest_range() {
        let mut s = after_syn(4096);
        for i in 0..MAX_RANGES as u32 {
            feed(&mut s, 10 + 4 * i, b"ab");
        }
        let past_cap = 10 + 4 * MAX_RANGES as u32;
        feed(&mut s, past_cap, b"zz"); // dropped: would be one range too many
        feed(&mut s, 12, b"cd"); // bridges two kept ranges: kept
        feed(&mut s, 0, b"0123456789");
        // Offsets 10..16 are contiguous, 16 and 17 were never sent.
        assert_eq!(s.data(), b"0123456789abcdab");
        // The dropped range really is missing once the gap before it fills.
        for i in 0..MAX_RANGES as u32 {
            feed(&mut s, 10 + 4 * i + 2, b"cd");
        }
        assert_eq!(s.data().len(), past_cap as usize);
        assert_eq!(feed(&mut s, past_cap, b"zz"), Fed::Grew);
        assert_eq!(s.data().len(), past_cap as usize + 2);
    }

    fn feed_sum(s: &mut StreamPrefix, off: u32, bytes: &[u8], checksum: Checksum) -> Fed {
        let seg = Segment {
            seq: ISN + 1 + off,
            syn: false,
            payload: bytes,
            wire_len: bytes.len() as u32,
            checksum,
        };
        UNLIMITED.with(|m| s.feed(&seg, m))
    }

    #[test]
    fn copies_that_disagree_are_flagged_and_the_first_copy_stays() {
        // Agreeing copies: in order, retransmitted whole, overlapping the tail, out of order.
        let mut s = after_syn(64);
        feed(&mut s, 4, b"4567");
        feed(&mut s, 0, b"0123");
        feed(&mut s, 0, b"01234567");
        feed(&mut s, 6, b"6789");
        feed(&mut s, 20, b"kl");
        feed(&mut s, 19, b"jklm");
        assert_eq!(s.data(), b"0123456789");
        assert!(s.anomalies().is_empty());
        // A retransmission of in-order bytes with other bytes.
        let mut s = after_syn(64);
        feed(&mut s, 0, b"get status\n");
        assert_eq!(feed(&mut s, 4, b"nodeid"), Fed::Unchanged);
        assert_eq!(s.data(), b"get status\n");
        assert!(s.anomalies().contains(Anomaly::OverlapMismatch));
        // An out-of-order range overlapped by a different copy.
        let mut s = after_syn(64);
        feed(&mut s, 10, b"abcd");
        assert!(s.anomalies().is_empty());
        feed(&mut s, 12, b"XYef");
        assert!(s.anomalies().contains(Anomaly::OverlapMismatch));
        feed(&mut s, 0, b"0123456789");
        assert_eq!(s.data(), b"0123456789abcdef");
        // A tail overlap that disagrees.
        let mut s = after_syn(64);
        feed(&mut s, 0, b"abcd");
        assert_eq!(feed(&mut s, 2, b"ZZef"), Fed::Grew);
        assert_eq!(s.data(), b"abcdef");
        assert_eq!(s.anomalies(), Anomaly::OverlapMismatch.into());
    }

    #[test]
    fn a_good_copy_replaces_bad_checksum_bytes_and_a_bad_copy_never_wins() {
        // Bad copy first, out of order: the good copy replaces it before anyone read it.
        let mut s = after_syn(64);
        assert_eq!(feed_sum(&mut s, 3, b"EVIL", Checksum::Bad), Fed::Unchanged);
        assert_eq!(feed_sum(&mut s, 3, b"def", Checksum::Good), Fed::Unchanged);
        assert_eq!(feed_sum(&mut s, 0, b"abc", Checksum::Good), Fed::Grew);
        assert_eq!(s.data(), b"abcdefL");
        assert!(s.anomalies().contains(Anomaly::OverlapMismatch));
        // Bad copy first, in order (already read): the good copy rewrites it, re-read needed.
        let mut s = after_syn(64);
        assert_eq!(feed_sum(&mut s, 0, b"get EVIL\n", Checksum::Bad), Fed::Grew);
        assert_eq!(s.data(), b"get EVIL\n");
        assert_eq!(feed_sum(&mut s, 4, b"nice", Checksum::Good), Fed::Rebased);
        assert_eq!(s.data(), b"get nice\n");
        assert_eq!(s.rereads(), 1);
        // Once confirmed, the bytes are final: neither copy kind changes them again.
        assert_eq!(feed_sum(&mut s, 4, b"EVIL", Checksum::Good), Fed::Unchanged);
        assert_eq!(feed_sum(&mut s, 4, b"EVIL", Checksum::Bad), Fed::Unchanged);
        assert_eq!(s.data(), b"get nice\n");
        // A good copy that agrees with the provisional bytes: nothing to re-read.
        let mut s = after_syn(64);
        feed_sum(&mut s, 0, b"abcdef", Checksum::Bad);
        assert_eq!(
            feed_sum(&mut s, 0, b"abcdefgh", Checksum::Unverified),
            Fed::Grew
        );
        assert_eq!(s.data(), b"abcdefgh");
        assert!(s.anomalies().is_empty());
        assert_eq!(s.rereads(), 0);
        // Good copy first: a later bad copy with other bytes is ignored.
        let mut s = after_syn(64);
        feed_sum(&mut s, 0, b"get nodeid\n", Checksum::Good);
        assert_eq!(
            feed_sum(&mut s, 0, b"set EVILid\n\n", Checksum::Bad),
            Fed::Grew
        );
        assert_eq!(s.data(), b"get nodeid\n\n");
        // Offloaded checksums: every segment bad, still reassembled as usual.
        let mut s = after_syn(64);
        feed_sum(&mut s, 5, b"world", Checksum::Bad);
        feed_sum(&mut s, 0, b"hello", Checksum::Bad);
        feed_sum(&mut s, 0, b"hello", Checksum::Bad);
        assert_eq!(s.data(), b"helloworld");
        assert!(s.anomalies().is_empty());
    }

    #[test]
    fn provisional_marks_move_with_a_rebase() {
        let mut s = StreamPrefix::new(64);
        s.segment(10_000, false, b"", 0);
        let bad = Segment {
            seq: 10_000,
            syn: false,
            payload: b"EVIL",
            wire_len: 4,
            checksum: Checksum::Bad,
        };
        UNLIMITED.with(|m| s.feed(&bad, m));
        assert_eq!(s.segment(9_996, false, b"get ", 4), Fed::Rebased);
        assert_eq!(s.data(), b"get EVIL");
        // The bad bytes now sit at offsets 4..8, and a good copy there still replaces them.
        assert_eq!(s.segment(10_000, false, b"good", 4), Fed::Rebased);
        assert_eq!(s.data(), b"get good");
        // The good bytes before them were never provisional.
        assert_eq!(s.segment(9_996, false, b"GET ", 4), Fed::Unchanged);
        assert_eq!(s.data(), b"get good");
    }

    #[test]
    fn leftward_growth_stops_re_anchoring_after_the_limit() {
        let n = 4_000u32;
        let mut s = StreamPrefix::new(4096);
        let top = 1_000_000u32;
        let mut rebased = 0;
        for i in 0..n {
            if s.segment(top - i, false, b"\n", 1) == Fed::Rebased {
                rebased += 1;
            }
        }
        assert_eq!(rebased, MAX_REREADS as usize);
        assert_eq!(s.rereads(), MAX_REREADS);
        assert_eq!(s.data().len(), MAX_REREADS as usize + 1);
        assert!(s.anomalies().contains(Anomaly::ReanchorLimit));
        // Forward growth goes on as before.
        assert_eq!(s.segment(top + 1, false, b"x", 1), Fed::Grew);
        // So does a late SYN, once.
        let syn_seq = top - MAX_REREADS as u32 - 11;
        assert_eq!(s.segment(syn_seq, true, b"", 0), Fed::Rebased);
        assert!(!s.mid_stream());
        // Rewrites of bytes already read count against the same limit.
        let mut s = after_syn(4096);
        for i in 0..100u32 {
            feed_sum(&mut s, i, b"?", Checksum::Bad);
        }
        let mut rewrites = 0;
        for i in 0..100u32 {
            if feed_sum(&mut s, i, b"!", Checksum::Good) == Fed::Rebased {
                rewrites += 1;
            }
        }
        assert_eq!(rewrites, MAX_REREADS as usize);
        assert!(s.anomalies().contains(Anomaly::ReanchorLimit));
        // What was read and not rewritten is still what was read.
        assert_eq!(s.data()[MAX_REREADS as usize], b'?');
    }

    #[test]
    fn buffers_are_reserved_from_the_budget_and_stop_at_it() {
        let mem = MemCap::new(1000);
        let seg = |seq: u32, payload: &'static [u8]| Segment {
            seq,
            syn: false,
            payload,
            wire_len: payload.len() as u32,
            checksum: Checksum::Unverified,
        };
        let mut a = StreamPrefix::new(4096);
        a.feed(&seg(0, &[b'a'; 300]), &mem);
        assert_eq!(a.data().len(), 300);
        assert_eq!(a.charged(), a.heap_bytes());
        assert_eq!(mem.used(), a.charged());
        // Out of order: the range list is reserved too.
        a.feed(&seg(400, &[b'b'; 100]), &mem);
        assert_eq!(mem.used(), a.charged());
        assert!(!a.starved());
        // A second stream cannot get the rest it asks for.
        let mut b = StreamPrefix::new(4096);
        assert_eq!(b.feed(&seg(7, &[b'c'; 600]), &mem), Fed::Unchanged);
        assert!(b.starved());
        assert!(b.data().is_empty());
        assert_eq!(b.charged(), 0);
        assert!(mem.hits() >= 1);
        assert!(mem.used() <= mem.limit());
        // The segment that could not be stored is still there to be looked at.
        assert_eq!(
            b.unbuffered_start(&seg(7, &[b'c'; 600])).map(<[u8]>::len),
            Some(600)
        );
        assert_eq!(b.unbuffered_start(&seg(8, &[b'c'; 600])), None);
        mem.release(a.charged());
        assert_eq!(mem.used(), 0);
    }

    /// Byte string, limit, ISN, segments as `(start, end)` offsets, delivery order.
    type Scenario = (Vec<u8>, usize, u32, Vec<(usize, usize)>, Vec<usize>);

    /// A byte string, a limit, an ISN, the string cut into segments `(start, end)`, and a
    /// delivery order that contains every segment at least once (plus some duplicates).
    fn scenario() -> impl Strategy<Value = Scenario> {
        (
            prop::collection::vec(any::<u8>(), 0..600),
            1usize..400,
            prop_oneof![any::<u32>(), (u32::MAX - 700)..=u32::MAX],
            prop::collection::vec(any::<usize>(), 0..31),
            prop::collection::vec(any::<usize>(), 0..8),
        )
            .prop_flat_map(|(data, limit, isn, raw_cuts, raw_dups)| {
                let mut cuts: Vec<usize> = raw_cuts.iter().map(|c| c % (data.len() + 1)).collect();
                cuts.push(0);
                cuts.push(data.len());
                cuts.sort_unstable();
                let segs: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
                let n = segs.len();
                let mut order: Vec<usize> = (0..n).collect();
                order.extend(raw_dups.iter().map(|d| d % n));
                (
                    Just(data),
                    Just(limit),
                    Just(isn),
                    Just(segs),
                    Just(order).prop_shuffle(),
                )
            })
    }

    fn deliver(s: &mut StreamPrefix, data: &[u8], base: u32, seg: (usize, usize)) -> Fed {
        let bytes = &data[seg.0..seg.1];
        s.segment(
            base.wrapping_add(seg.0 as u32),
            false,
            bytes,
            bytes.len() as u32,
        )
    }

    fn expected(data: &[u8], limit: usize) -> &[u8] {
        &data[..data.len().min(limit)]
    }

    proptest! {
        #[test]
        fn syn_first_any_order_any_duplication((data, limit, isn, segs, order) in scenario()) {
            let mut s = StreamPrefix::new(limit);
            s.segment(isn, true, b"", 0);
            let base = isn.wrapping_add(1);
            let mut previous = Vec::new();
            for &i in &order {
                let fed = deliver(&mut s, &data, base, segs[i]);
                // Grew only ever extends, Unchanged changes nothing, never Rebased after a SYN.
                prop_assert_ne!(fed, Fed::Rebased);
                prop_assert!(s.data().starts_with(&previous));
                prop_assert_eq!(fed == Fed::Grew, s.data().len() > previous.len());
                previous = s.data().to_vec();
            }
            prop_assert_eq!(s.data(), expected(&data, limit));
            prop_assert_eq!(s.is_full(), data.len() >= limit);
            prop_assert!(!s.mid_stream());
            prop_assert!(s.heap_bytes() <= limit + MAX_RANGES * 8);
        }

        #[test]
        fn no_syn_first_segment_first((data, limit, isn, segs, mut order) in scenario()) {
            let pos = order.iter().position(|&i| i == 0).unwrap_or(0);
            order.swap(0, pos);
            let mut s = StreamPrefix::new(limit);
            for &i in &order {
                let fed = deliver(&mut s, &data, isn, segs[i]);
                prop_assert_ne!(fed, Fed::Rebased);
            }
            prop_assert_eq!(s.data(), expected(&data, limit));
            prop_assert!(s.mid_stream());
        }

        #[test]
        fn no_syn_any_first_segment_with_late_syn(
            (data, limit, isn, segs, order) in scenario(),
            syn_at in any::<prop::sample::Index>(),
        ) {
            let syn_at = syn_at.index(order.len() + 1);
            let first_start = if syn_at == 0 { 0 } else { segs[order[0]].0 };
            let mut s = StreamPrefix::new(limit);
            let base = isn.wrapping_add(1);
            for (k, &i) in order.iter().enumerate() {
                if k == syn_at {
                    s.segment(isn, true, b"", 0);
                }
                deliver(&mut s, &data, base, segs[i]);
            }
            if syn_at == order.len() {
                s.segment(isn, true, b"", 0);
            }
            prop_assert!(s.data().len() <= limit);
            if first_start <= limit {
                prop_assert_eq!(s.data(), expected(&data, limit));
                prop_assert!(!s.mid_stream());
            }
        }

        #[test]
        fn no_syn_any_order_rebases_to_the_start((data, limit, isn, segs, order) in scenario()) {
            let first_start = segs[order[0]].0;
            let mut s = StreamPrefix::new(limit);
            for &i in &order {
                deliver(&mut s, &data, isn, segs[i]);
            }
            prop_assert!(s.data().len() <= limit);
            if first_start <= limit {
                prop_assert_eq!(s.data(), expected(&data, limit));
            }
        }

        #[test]
        fn many_tiny_segments_never_give_wrong_bytes(
            data in prop::collection::vec(any::<u8>(), 0..300),
            limit in 1usize..200,
            isn in any::<u32>(),
            seed in prop::collection::vec(any::<u16>(), 0..300),
        ) {
            // One-byte segments in a scrambled order: the range cap may drop some, but whatever
            // is reported is always the true prefix.
            let mut order: Vec<usize> = (0..data.len()).collect();
            for (k, r) in seed.iter().enumerate() {
                if !order.is_empty() {
                    let a = k % order.len();
                    let b = *r as usize % order.len();
                    order.swap(a, b);
                }
            }
            let mut s = StreamPrefix::new(limit);
            s.segment(isn, true, b"", 0);
            for &i in &order {
                deliver(&mut s, &data, isn.wrapping_add(1), (i, i + 1));
                prop_assert!(expected(&data, limit).starts_with(s.data()));
            }
            prop_assert!(s.heap_bytes() <= limit + MAX_RANGES * 8);
        }

        #[test]
        fn agreeing_copies_raise_no_anomaly((data, limit, isn, segs, order) in scenario()) {
            let mut s = StreamPrefix::new(limit);
            s.segment(isn, true, b"", 0);
            for &i in &order {
                deliver(&mut s, &data, isn.wrapping_add(1), segs[i]);
            }
            prop_assert_eq!(s.data(), expected(&data, limit));
            prop_assert!(s.anomalies().is_empty());
        }

        #[test]
        fn bad_checksum_copies_never_win(
            (data, limit, isn, segs, order) in scenario(),
            bad in prop::collection::vec((any::<prop::sample::Index>(), any::<usize>(), any::<u8>()), 0..6),
        ) {
            // Corrupted bad-checksum copies of some segments, delivered before everything else
            // or interleaved: the result is still the true prefix.
            let base = isn.wrapping_add(1);
            let mut s = StreamPrefix::new(limit);
            s.segment(isn, true, b"", 0);
            let mut plan: Vec<(usize, Option<(usize, u8)>)> =
                order.iter().map(|&i| (i, None)).collect();
            for (k, (which, at, x)) in bad.iter().enumerate() {
                let seg = which.index(segs.len());
                plan.insert((k * 7) % (plan.len() + 1), (seg, Some((*at, *x))));
            }
            let mut corrupted_any = false;
            for (i, corrupt) in plan {
                let (a, b) = segs[i];
                let mut bytes = data[a..b].to_vec();
                let checksum = match corrupt {
                    Some((at, x)) if !bytes.is_empty() => {
                        let at = at % bytes.len();
                        bytes[at] ^= x | 1;
                        corrupted_any = true;
                        Checksum::Bad
                    }
                    _ => Checksum::Good,
                };
                let seg = Segment {
                    seq: base.wrapping_add(a as u32),
                    syn: false,
                    payload: &bytes,
                    wire_len: bytes.len() as u32,
                    checksum,
                };
                UNLIMITED.with(|m| s.feed(&seg, m));
            }
            prop_assert_eq!(s.data(), expected(&data, limit));
            if !corrupted_any {
                prop_assert!(s.anomalies().is_empty());
            }
        }

        #[test]
        fn arbitrary_input_never_panics(
            limit in 0usize..200,
            budget in prop_oneof![Just(usize::MAX), 0usize..400],
            ops in prop::collection::vec(
                (
                    prop_oneof![any::<u32>(), 0u32..600, (u32::MAX - 300)..=u32::MAX],
                    any::<bool>(),
                    prop::collection::vec(any::<u8>(), 0..80),
                    prop_oneof![any::<u32>(), 0u32..100],
                    0u8..3,
                ),
                0..60,
            ),
        ) {
            let mem = MemCap::new(budget);
            let mut s = StreamPrefix::new(limit);
            for (seq, syn, payload, wire_len, sum) in &ops {
                let before = s.data().to_vec();
                let seg = Segment {
                    seq: *seq,
                    syn: *syn,
                    payload,
                    wire_len: *wire_len,
                    checksum: [Checksum::Unverified, Checksum::Good, Checksum::Bad][*sum as usize],
                };
                let fed = s.feed(&seg, &mem);
                prop_assert_eq!(mem.used(), s.charged());
                prop_assert!(mem.used() <= budget);
                prop_assert!(s.data().len() <= limit);
                prop_assert_eq!(s.is_full(), s.data().len() == limit);
                prop_assert!(s.heap_bytes() <= limit + MAX_RANGES * 8 + limit.div_ceil(8));
                prop_assert_eq!(s.charged(), s.heap_bytes());
                match fed {
                    Fed::Unchanged => prop_assert_eq!(s.data(), &before[..]),
                    Fed::Grew => {
                        prop_assert!(s.data().len() > before.len());
                        prop_assert!(s.data().starts_with(&before));
                    }
                    Fed::Rebased => {}
                }
            }
        }
    }
}
