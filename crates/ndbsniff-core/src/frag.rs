//! IPv4 and IPv6 fragment reassembly, on the capture thread before routing (routing needs the
//! ports, which only the first fragment carries).
//!
//! Owns: the datagrams in progress, their bounds and the counters of what was dropped and why.
//! A datagram is keyed by IP version, addresses, identification, protocol (IPv4) and outermost
//! VLAN id, in a `HashMap` with std's randomly keyed SipHash, so that chosen keys cannot make
//! lookups slow.
//!
//! Bounds, all in [`Limits`]: a datagram not complete `timeout_us` after its first fragment is
//! dropped (capture time offline, the clock live); at most `max_fragments` fragments per datagram
//! and `max_datagrams` datagrams in progress (a new datagram then pushes out the oldest); a
//! reassembled payload is at most [`MAX_PAYLOAD`] bytes; every buffered byte is reserved from
//! the run's shared [`MemCap`] and given back when the datagram completes or is dropped.
//!
//! Overlap policy: a fragment that lies entirely inside one fragment already received and
//! carries the same bytes is a duplicate, dropped alone; any other overlap (partial, or the same
//! range with different bytes) drops the whole datagram, as current Linux and RFC 5722 do, so no
//! version of the bytes is reported that the receiver might not have accepted. A datagram that
//! was dropped stays as a marker until its timeout, so its remaining fragments are counted under
//! the same reason instead of starting it again.
//!
//! Never: panics on any fragment, grows past its bounds, or hands back a datagram with a hole.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::decode::Fragment;
use crate::memcap::MemCap;

/// Largest reassembled payload (bytes after the IPv4 header or the IPv6 fragment header).
pub const MAX_PAYLOAD: u32 = 65_535;

/// Bounds of the reassembler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A datagram is dropped this long after its first fragment if still incomplete.
    pub timeout_us: i64,
    /// Datagrams in progress at once; a new one pushes out the oldest.
    pub max_datagrams: usize,
    /// Fragments accepted per datagram; one more drops the datagram.
    pub max_fragments: usize,
}

/// Default per-datagram timeout (`--frag-timeout`): 30 s, as Linux's `ipfrag_time`.
pub const DEFAULT_TIMEOUT_US: i64 = 30_000_000;
/// Default cap on datagrams in progress (`--frag-max-datagrams`).
pub const DEFAULT_MAX_DATAGRAMS: usize = 1024;
/// Default cap on fragments per datagram (`--frag-max-fragments`): a 64 KiB datagram in
/// 576-byte packets takes 117.
pub const DEFAULT_MAX_FRAGMENTS: usize = 128;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout_us: DEFAULT_TIMEOUT_US,
            max_datagrams: DEFAULT_MAX_DATAGRAMS,
            max_fragments: DEFAULT_MAX_FRAGMENTS,
        }
    }
}

/// Why fragments were dropped; each is a counter in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Drop {
    /// The datagram was not complete within the timeout.
    Timeout,
    /// The datagram had more than `max_fragments` fragments.
    TooManyFragments,
    /// Pushed out by a newer datagram when `max_datagrams` were in progress.
    TooManyDatagrams,
    /// Buffering it would have passed `--memcap`.
    Memcap,
    /// A fragment overlapped another one with different extent or bytes.
    Overlap,
    /// Inconsistent offsets or lengths: a non-final fragment whose length is not a multiple of
    /// 8, an empty fragment, data past the end a final fragment set, or two different ends.
    BadOffset,
    /// The datagram would be longer than [`MAX_PAYLOAD`].
    Oversize,
    /// The capture cut the fragment (snap length): the datagram cannot be completed.
    Truncated,
    /// An exact copy of bytes already received (the datagram is kept).
    Duplicate,
    /// Still incomplete when the capture ended.
    Unfinished,
}

impl Drop {
    /// Every reason, in declaration order (so `ALL[r as usize] == r`).
    pub const ALL: [Drop; 10] = [
        Drop::Timeout,
        Drop::TooManyFragments,
        Drop::TooManyDatagrams,
        Drop::Memcap,
        Drop::Overlap,
        Drop::BadOffset,
        Drop::Oversize,
        Drop::Truncated,
        Drop::Duplicate,
        Drop::Unfinished,
    ];

    /// Stable kebab-case label used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Drop::Timeout => "timeout",
            Drop::TooManyFragments => "too-many-fragments",
            Drop::TooManyDatagrams => "too-many-datagrams",
            Drop::Memcap => "memcap",
            Drop::Overlap => "overlap",
            Drop::BadOffset => "bad-offset",
            Drop::Oversize => "oversize",
            Drop::Truncated => "truncated",
            Drop::Duplicate => "duplicate",
            Drop::Unfinished => "unfinished",
        }
    }
}

/// Counters of the reassembler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Fragments given to [`Reassembler::add`].
    pub fragments: u64,
    /// Datagrams put back together.
    pub reassembled: u64,
    /// Fragments dropped, by [`Drop`] reason.
    pub dropped: [u64; Drop::ALL.len()],
}

/// A reassembled datagram.
#[derive(Debug)]
pub struct Datagram {
    /// Outermost VLAN id of its fragments (part of the reassembly key), `None` when untagged.
    pub vlan: Option<u16>,
    /// The source address of the IP header.
    pub src: IpAddr,
    /// The destination address of the IP header.
    pub dst: IpAddr,
    /// The protocol of the payload's first header (IPv6: from the offset-0 fragment header).
    pub protocol: u8,
    /// The whole payload, without holes.
    pub payload: Vec<u8>,
    /// Wire length of all the frames that carried it.
    pub wire_len: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4: the header's protocol (part of the RFC 791 key). IPv6: 0.
    protocol: u8,
    vlan: Option<u16>,
}

#[derive(Debug)]
struct InProgress {
    /// Position in [`Reassembler::order`].
    seq: u64,
    created_us: i64,
    /// Received ranges `[start, end)`, sorted by start, never overlapping.
    ranges: Vec<(u32, u32)>,
    /// Bytes up to the highest end received (holes are zero); its length is what is reserved.
    buf: Vec<u8>,
    /// Bytes received (sum of the ranges).
    received: u32,
    /// End of the datagram, once the last fragment (MF clear) is in.
    total: Option<u32>,
    /// The payload protocol, once the offset-0 fragment is in.
    protocol: Option<u8>,
    wire_len: u64,
    /// Dropped for this reason: later fragments are counted under it until the timeout.
    dead: Option<Drop>,
}

/// What one fragment did to its datagram.
enum Outcome {
    Kept,
    Complete,
    /// The fragment alone was dropped.
    DropOne(Drop),
    /// The whole datagram was dropped (its fragments and this one).
    DropAll(Drop),
}

/// The datagrams in progress and their counters.
#[derive(Debug)]
pub struct Reassembler {
    limits: Limits,
    table: HashMap<Key, InProgress>,
    /// Datagrams by age (oldest first): timeouts and pushing out.
    order: BTreeMap<u64, Key>,
    next_seq: u64,
    /// Bytes reserved from the memcap now.
    reserved: usize,
    /// Counters since the last [`Reassembler::take_stats`].
    stats: Stats,
}

impl Reassembler {
    /// An empty reassembler that holds datagrams within `limits`.
    pub fn new(limits: Limits) -> Reassembler {
        Reassembler {
            limits,
            table: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            reserved: 0,
            stats: Stats::default(),
        }
    }

    /// Datagrams in progress (dropped markers included).
    pub fn in_progress(&self) -> usize {
        self.table.len()
    }

    /// Bytes reserved from the memcap now.
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    /// Counters since the last call, which are reset.
    pub fn take_stats(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }

    /// Adds one fragment captured at `now_us` in a frame `frame_len` bytes long on the wire;
    /// returns the datagram when this fragment completes it.
    pub fn add(
        &mut self,
        f: &Fragment<'_>,
        now_us: i64,
        frame_len: u32,
        memcap: &MemCap,
    ) -> Option<Datagram> {
        self.stats.fragments += 1;
        let key = Key {
            src: f.src,
            dst: f.dst,
            id: f.id,
            protocol: if f.src.is_ipv4() { f.protocol } else { 0 },
            vlan: f.vlan,
        };
        // A datagram past its timeout is dropped before this fragment is looked at.
        if let Some(d) = self.table.get(&key) {
            if self.expired(d.created_us, now_us) {
                self.remove(&key, Some(Drop::Timeout), memcap);
            }
        }
        if !self.table.contains_key(&key) {
            if self.table.len() >= self.limits.max_datagrams.max(1) {
                if let Some(oldest) = self.order.values().next().copied() {
                    self.remove(&oldest, Some(Drop::TooManyDatagrams), memcap);
                }
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.order.insert(seq, key);
            self.table.insert(
                key,
                InProgress {
                    seq,
                    created_us: now_us,
                    ranges: Vec::new(),
                    buf: Vec::new(),
                    received: 0,
                    total: None,
                    protocol: None,
                    wire_len: 0,
                    dead: None,
                },
            );
        }
        let Entry::Occupied(mut slot) = self.table.entry(key) else {
            return None;
        };
        let d = slot.get_mut();
        let outcome = insert(d, f, frame_len, &self.limits, memcap, &mut self.reserved);
        match outcome {
            Outcome::Kept => None,
            Outcome::DropOne(why) => {
                self.stats.dropped[why as usize] += 1;
                None
            }
            Outcome::DropAll(why) => {
                // This fragment and every one held so far; the marker stays until the timeout.
                let held = d.ranges.len() as u64 + 1;
                self.stats.dropped[why as usize] += held;
                self.reserved -= d.buf.len();
                memcap.release(d.buf.len());
                d.buf = Vec::new();
                d.ranges = Vec::new();
                d.dead = Some(why);
                None
            }
            Outcome::Complete => {
                let d = slot.remove();
                self.order.remove(&d.seq);
                self.reserved -= d.buf.len();
                memcap.release(d.buf.len());
                self.stats.reassembled += 1;
                Some(Datagram {
                    vlan: key.vlan,
                    src: key.src,
                    dst: key.dst,
                    protocol: d.protocol.unwrap_or(0),
                    payload: d.buf,
                    wire_len: d.wire_len,
                })
            }
        }
    }

    fn expired(&self, created_us: i64, now_us: i64) -> bool {
        // A clock that went back by more than the timeout (joined captures) ends it too.
        now_us.saturating_sub(created_us) >= self.limits.timeout_us
            || created_us.saturating_sub(now_us) > self.limits.timeout_us
    }

    /// Drops every datagram whose timeout has passed at `now_us`; cheap when none has.
    pub fn expire(&mut self, now_us: i64, memcap: &MemCap) {
        while let Some((_, key)) = self.order.first_key_value() {
            let key = *key;
            let Some(d) = self.table.get(&key) else {
                self.order.pop_first();
                continue;
            };
            if !self.expired(d.created_us, now_us) {
                break;
            }
            self.remove(&key, Some(Drop::Timeout), memcap);
        }
    }

    /// The capture ended: every datagram still in progress is dropped as unfinished.
    pub fn finish(&mut self, memcap: &MemCap) {
        let keys: Vec<Key> = self.order.values().copied().collect();
        for key in keys {
            self.remove(&key, Some(Drop::Unfinished), memcap);
        }
        self.order.clear();
    }

    /// Forgets a datagram, giving its memory back; its held fragments are counted under `why`
    /// (a dropped marker's were counted when it was dropped).
    fn remove(&mut self, key: &Key, why: Option<Drop>, memcap: &MemCap) {
        if let Some(d) = self.table.remove(key) {
            self.order.remove(&d.seq);
            self.reserved -= d.buf.len();
            memcap.release(d.buf.len());
            if let (Some(why), None) = (why, d.dead) {
                self.stats.dropped[why as usize] += d.ranges.len() as u64;
            }
        }
    }
}

/// Puts one fragment into its datagram.
fn insert(
    d: &mut InProgress,
    f: &Fragment<'_>,
    frame_len: u32,
    limits: &Limits,
    memcap: &MemCap,
    reserved: &mut usize,
) -> Outcome {
    if let Some(why) = d.dead {
        return Outcome::DropOne(why);
    }
    let start = f.offset;
    let len = f.wire_len;
    let Some(end) = start.checked_add(len).filter(|&e| e <= MAX_PAYLOAD) else {
        return Outcome::DropAll(Drop::Oversize);
    };
    if len == 0 || (f.more && len % 8 != 0) {
        return Outcome::DropAll(Drop::BadOffset);
    }
    if (f.bytes.len() as u64) < u64::from(len) {
        return Outcome::DropAll(Drop::Truncated);
    }
    let bytes = f.bytes.get(..len as usize).unwrap_or(f.bytes);
    // Where it goes among the ranges received, and whether it overlaps them.
    let at = d.ranges.partition_point(|&(s, _)| s < start);
    let before = at.checked_sub(1).and_then(|i| d.ranges.get(i)).copied();
    let after = d.ranges.get(at).copied();
    let inside = |r: Option<(u32, u32)>| r.is_some_and(|(s, e)| s <= start && end <= e);
    if inside(before) || inside(after) {
        let same = d.buf.get(start as usize..end as usize) == Some(bytes);
        return if same {
            Outcome::DropOne(Drop::Duplicate)
        } else {
            Outcome::DropAll(Drop::Overlap)
        };
    }
    if before.is_some_and(|(_, e)| e > start) || after.is_some_and(|(s, _)| s < end) {
        return Outcome::DropAll(Drop::Overlap);
    }
    // Ends: a final fragment fixes the end; nothing may lie past it, nor may it move.
    let max_end = d.ranges.last().map_or(0, |&(_, e)| e);
    match (f.more, d.total) {
        (false, Some(total)) if total != end => return Outcome::DropAll(Drop::BadOffset),
        (false, None) if max_end > end => return Outcome::DropAll(Drop::BadOffset),
        (true, Some(total)) if end > total => return Outcome::DropAll(Drop::BadOffset),
        _ => {}
    }
    if d.ranges.len() >= limits.max_fragments {
        return Outcome::DropAll(Drop::TooManyFragments);
    }
    let grow = (end as usize).saturating_sub(d.buf.len());
    if grow > 0 {
        if !memcap.try_reserve(grow) {
            return Outcome::DropAll(Drop::Memcap);
        }
        *reserved += grow;
        d.buf.resize(end as usize, 0);
    }
    if let Some(dst) = d.buf.get_mut(start as usize..end as usize) {
        dst.copy_from_slice(bytes);
    }
    d.ranges.insert(at, (start, end));
    d.received += len;
    d.wire_len += u64::from(frame_len);
    if !f.more {
        d.total = Some(end);
    }
    if start == 0 {
        d.protocol = Some(f.protocol);
    }
    if d.total == Some(d.received) {
        Outcome::Complete
    } else {
        Outcome::Kept
    }
}

/// The body of the `reassemble_fragments` fuzz target (and of a property test): `data` is read
/// as a sequence of fragments for a few datagrams, with small bounds so that every limit is
/// reached, and each step checks the reassembler's promises. Panics when one is broken.
///
/// Each fragment takes 6 bytes: datagram (2 bits of the first byte), MF (bit 2), time step (bits
/// 3..7, seconds), offset in 8-byte units (1 byte), length (1 byte, 0..=255), fill byte, and a
/// last byte that picks how many bytes the capture kept (255: all).
pub fn check_arbitrary_fragments(data: &[u8]) {
    let limits = Limits {
        timeout_us: 5_000_000,
        max_datagrams: 3,
        max_fragments: 6,
    };
    let cap = MemCap::new(1500);
    let mut r = Reassembler::new(limits);
    let mut now = 0i64;
    let mut seen = 0u64;
    let mut buf = [0u8; 255];
    for op in data.chunks_exact(6) {
        let (sel, off, len, fill, keep) = (op[0], op[1], op[2], op[3], op[4]);
        now += i64::from(sel >> 3) * 1_000_000 - 2_000_000;
        buf.fill(fill ^ op[5]);
        let len = usize::from(len);
        let present = if keep == 255 {
            len
        } else {
            len.min(usize::from(keep))
        };
        let f = Fragment {
            vlan: None,
            src: IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, sel & 3)),
            dst: IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 9)),
            id: 1,
            protocol: 17,
            offset: u32::from(off) * 8,
            more: sel & 4 != 0,
            bytes: &buf[..present],
            wire_len: len as u32,
        };
        seen += 1;
        if let Some(d) = r.add(&f, now, 100, &cap) {
            assert!(d.payload.len() <= MAX_PAYLOAD as usize);
            assert!(d.wire_len >= 100, "a datagram is at least its last frame");
        }
        assert!(
            r.in_progress() <= limits.max_datagrams,
            "datagram cap passed"
        );
        assert_eq!(
            r.reserved(),
            cap.used(),
            "reserved bytes differ from the memcap's count"
        );
        if sel & 0xf8 == 0xf8 {
            r.expire(now, &cap);
        }
    }
    r.finish(&cap);
    assert_eq!(
        (r.in_progress(), r.reserved(), cap.used()),
        (0, 0, 0),
        "memory kept after the end"
    );
    let s = r.take_stats();
    assert_eq!(s.fragments, seen);
    // Every fragment is reassembled into a datagram or dropped, exactly once.
    let dropped: u64 = s.dropped.iter().sum();
    assert!(dropped <= seen);
    assert!(s.reassembled <= seen);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn frag(offset: u32, more: bool, bytes: &[u8]) -> Fragment<'_> {
        Fragment {
            vlan: None,
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            id: 77,
            protocol: 6,
            offset,
            more,
            bytes,
            wire_len: bytes.len() as u32,
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    /// Adds fragments of `payload` cut at `cuts` (offsets), in the order given by `order`.
    fn run(
        r: &mut Reassembler,
        cap: &MemCap,
        payload: &[u8],
        cuts: &[usize],
        order: &[usize],
    ) -> Option<Datagram> {
        let mut bounds = cuts.to_vec();
        bounds.push(payload.len());
        let mut out = None;
        for &i in order {
            let (s, e) = (bounds[i], bounds[i + 1]);
            let f = frag(s as u32, e != payload.len(), &payload[s..e]);
            if let Some(d) = r.add(&f, 1_000, 100, cap) {
                out = Some(d);
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

        /// The fuzz target's body over generated inputs.
        #[test]
        fn arbitrary_fragments_keep_every_bound(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            check_arbitrary_fragments(&data);
        }
    }

    #[test]
    fn in_order_reversed_and_shuffled_give_the_same_datagram() {
        let payload = data(3000);
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
            let cap = MemCap::new(1 << 20);
            let mut r = Reassembler::new(Limits::default());
            let d = run(&mut r, &cap, &payload, &[0, 1480, 2000, 2960], &order).expect("complete");
            assert_eq!(d.payload, payload);
            assert_eq!((d.protocol, d.wire_len), (6, 400));
            assert_eq!(r.in_progress(), 0);
            assert_eq!((r.reserved(), cap.used()), (0, 0), "memory given back");
            let s = r.take_stats();
            assert_eq!((s.fragments, s.reassembled), (4, 1));
            assert_eq!(s.dropped, [0; Drop::ALL.len()]);
        }
    }

    #[test]
    fn exact_duplicates_are_dropped_alone_and_conflicting_overlaps_drop_the_datagram() {
        let cap = MemCap::new(1 << 20);
        let mut r = Reassembler::new(Limits::default());
        let p = data(64);
        assert!(r.add(&frag(0, true, &p[..32]), 0, 60, &cap).is_none());
        // The same bytes again, or a part of them: duplicates.
        assert!(r.add(&frag(0, true, &p[..32]), 0, 60, &cap).is_none());
        assert!(r.add(&frag(8, true, &p[8..16]), 0, 60, &cap).is_none());
        assert_eq!(r.take_stats().dropped[Drop::Duplicate as usize], 2);
        // The same range with other bytes: the datagram goes.
        let other = [0xeeu8; 8];
        assert!(r.add(&frag(16, true, &other), 0, 60, &cap).is_none());
        let s = r.take_stats();
        assert_eq!(
            s.dropped[Drop::Overlap as usize],
            2,
            "the held fragment and this one"
        );
        assert_eq!(cap.used(), 0);
        // Its remaining fragments are counted under the same reason, and it never completes.
        assert!(r.add(&frag(32, false, &p[32..]), 0, 60, &cap).is_none());
        assert_eq!(r.take_stats().dropped[Drop::Overlap as usize], 1);
        // A partial overlap drops a datagram too.
        let mut r = Reassembler::new(Limits::default());
        r.add(&frag(0, true, &p[..16]), 0, 60, &cap);
        r.add(&frag(8, true, &p[8..24]), 0, 60, &cap);
        assert_eq!(r.take_stats().dropped[Drop::Overlap as usize], 2);
        assert_eq!(cap.used(), 0);
    }

    #[test]
    fn timeouts_release_memory_and_count_the_fragments_held() {
        let cap = MemCap::new(1 << 20);
        let mut r = Reassembler::new(Limits {
            timeout_us: 5_000_000,
            ..Limits::default()
        });
        let p = data(48);
        r.add(&frag(0, true, &p[..16]), 0, 60, &cap);
        r.add(&frag(16, true, &p[16..32]), 1_000_000, 60, &cap);
        assert_eq!(cap.used(), 32);
        r.expire(4_999_999, &cap);
        assert_eq!(r.in_progress(), 1);
        r.expire(5_000_000, &cap);
        assert_eq!((r.in_progress(), cap.used()), (0, 0));
        assert_eq!(r.take_stats().dropped[Drop::Timeout as usize], 2);
        // A late fragment is looked at against the timeout even before a sweep.
        r.add(&frag(0, true, &p[..16]), 10_000_000, 60, &cap);
        assert!(r
            .add(&frag(16, false, &p[16..32]), 15_000_000, 60, &cap)
            .is_none());
        assert_eq!(r.take_stats().dropped[Drop::Timeout as usize], 1);
        r.finish(&cap);
        assert_eq!(r.take_stats().dropped[Drop::Unfinished as usize], 1);
        assert_eq!((r.in_progress(), r.reserved(), cap.used()), (0, 0, 0));
    }

    #[test]
    fn fragment_and_datagram_caps_hold() {
        let cap = MemCap::new(1 << 20);
        let mut r = Reassembler::new(Limits {
            max_fragments: 4,
            max_datagrams: 3,
            ..Limits::default()
        });
        let p = data(80);
        for i in 0..5 {
            r.add(&frag(i * 8, true, &p[..8]), 0, 60, &cap);
        }
        assert_eq!(r.take_stats().dropped[Drop::TooManyFragments as usize], 5);
        assert_eq!(cap.used(), 0);
        // Five datagrams with room for three: the two oldest are pushed out.
        let mut r = Reassembler::new(Limits {
            max_datagrams: 3,
            ..Limits::default()
        });
        for id in 0..5 {
            let mut f = frag(0, true, &p[..8]);
            f.id = id;
            r.add(&f, i64::from(id), 60, &cap);
        }
        assert_eq!(r.in_progress(), 3);
        assert_eq!(r.take_stats().dropped[Drop::TooManyDatagrams as usize], 2);
        assert_eq!(cap.used(), 24);
        r.finish(&cap);
        assert_eq!(cap.used(), 0);
    }

    #[test]
    fn memcap_refusal_drops_the_datagram() {
        let cap = MemCap::new(100);
        let mut r = Reassembler::new(Limits::default());
        let p = data(200);
        r.add(&frag(0, true, &p[..96]), 0, 60, &cap);
        assert_eq!(cap.used(), 96);
        r.add(&frag(96, false, &p[96..]), 0, 60, &cap);
        assert_eq!(r.take_stats().dropped[Drop::Memcap as usize], 2);
        assert_eq!((cap.used(), cap.hits()), (0, 1));
    }

    #[test]
    fn bad_offsets_oversize_and_cut_fragments_are_refused() {
        let cap = MemCap::new(1 << 20);
        let p = data(64);
        let drops = |r: &mut Reassembler, why: Drop| r.take_stats().dropped[why as usize];
        // Not a multiple of 8 while more follow.
        let mut r = Reassembler::new(Limits::default());
        r.add(&frag(0, true, &p[..10]), 0, 60, &cap);
        assert_eq!(drops(&mut r, Drop::BadOffset), 1);
        // Data past the end a final fragment set.
        let mut r = Reassembler::new(Limits::default());
        r.add(&frag(8, false, &p[..8]), 0, 60, &cap);
        r.add(&frag(16, true, &p[..8]), 0, 60, &cap);
        assert_eq!(drops(&mut r, Drop::BadOffset), 2);
        // Two different ends.
        let mut r = Reassembler::new(Limits::default());
        r.add(&frag(16, false, &p[..8]), 0, 60, &cap);
        r.add(&frag(32, false, &p[..8]), 0, 60, &cap);
        assert_eq!(drops(&mut r, Drop::BadOffset), 2);
        // Past 64 KiB.
        let mut r = Reassembler::new(Limits::default());
        r.add(&frag(65_528, false, &p[..16]), 0, 60, &cap);
        assert_eq!(drops(&mut r, Drop::Oversize), 1);
        // Cut by the capture.
        let mut r = Reassembler::new(Limits::default());
        let mut f = frag(0, true, &p[..8]);
        f.wire_len = 16;
        r.add(&f, 0, 60, &cap);
        assert_eq!(drops(&mut r, Drop::Truncated), 1);
        assert_eq!(cap.used(), 0);
    }
}
