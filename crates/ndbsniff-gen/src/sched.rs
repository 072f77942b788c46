//! Conversation scheduler: turns a [`Script`] into timed TCP segments or UDP datagrams, and
//! transforms the segment schedule to model capture conditions.
//!
//! Owns: three-way handshake, sequence and acknowledgment numbers, segmentation, pure ACKs,
//! FIN/RST close, relative timestamps, and the transforms (fixed segment size, out-of-order
//! delivery, retransmissions, overlapping retransmissions, capture starting mid-stream, one
//! direction only, no close). Must never touch link-layer or file formats, never read the
//! clock, and never produce a segment whose bytes differ from the script's stream at the same
//! sequence number (retransmissions and overlaps repeat the same bytes). Sequence numbers use
//! wrapping arithmetic.

use super::frame::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use super::rng::SplitMix64;
use super::script::{Close, Proto, Script};
use super::Side;

/// Marker for packets that belong to no message (handshake, close).
pub const NO_MESSAGE: u32 = u32::MAX;

/// One scheduled TCP segment. Its payload is `data_len` bytes at `data_start` of the sender's
/// stream (see [`TcpTrace::payload`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpPacket {
    /// Sender.
    pub from: Side,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits.
    pub flags: u8,
    /// Receive window.
    pub window: u16,
    /// MSS option value on SYN segments (0: no options).
    pub syn_mss: u16,
    /// Offset of the payload in the sender's stream.
    pub data_start: u32,
    /// Payload length.
    pub data_len: u32,
    /// Index of the script message this segment carries or acknowledges ([`NO_MESSAGE`] for
    /// handshake and close).
    pub msg: u32,
    /// True for segments that repeat bytes already sent (retransmissions, overlaps).
    pub retransmit: bool,
    /// Time since the previous packet of the flow, in nanoseconds.
    pub gap_ns: u64,
    /// Time since the flow's first captured packet, in nanoseconds.
    pub ts_ns: u64,
}

/// A scheduled TCP connection: both byte streams and the packets that carry them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpTrace {
    /// Everything the client sends.
    pub client_stream: Vec<u8>,
    /// Everything the server sends.
    pub server_stream: Vec<u8>,
    /// Initial sequence number of the client (its SYN).
    pub isn_client: u32,
    /// Initial sequence number of the server (its SYN-ACK).
    pub isn_server: u32,
    /// Packets in capture order, with relative timestamps.
    pub packets: Vec<TcpPacket>,
}

impl TcpTrace {
    /// The stream sent by `side`.
    pub fn stream(&self, side: Side) -> &[u8] {
        match side {
            Side::Client => &self.client_stream,
            Side::Server => &self.server_stream,
        }
    }

    /// The payload bytes of `p` (empty if the packet does not belong to this trace).
    pub fn payload(&self, p: &TcpPacket) -> &[u8] {
        let start = p.data_start as usize;
        let end = start.saturating_add(p.data_len as usize);
        self.stream(p.from).get(start..end).unwrap_or(&[])
    }

    /// Sequence number of stream byte 0 of `side`.
    pub fn data_seq0(&self, side: Side) -> u32 {
        match side {
            Side::Client => self.isn_client.wrapping_add(1),
            Side::Server => self.isn_server.wrapping_add(1),
        }
    }
}

/// Fixed segment size for the start of each direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedSegments {
    /// Payload bytes per segment (1 gives one-byte segments).
    pub size: usize,
    /// Apply the fixed size only to the first this-many bytes of each direction (`None`: the
    /// whole stream). Keeps captures of long conversations small.
    pub first_bytes: Option<usize>,
}

/// A rewrite of the segment schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    /// Every `every`-th data segment is delivered after the one that follows it; a segment
    /// with no same-side successor is split in two and its halves are sent in reverse order.
    OutOfOrder {
        /// Period (1: every data segment).
        every: u32,
    },
    /// Every `every`-th data segment is sent again, unchanged, after the next packet.
    Retransmit {
        /// Period.
        every: u32,
    },
    /// Every `every`-th data segment is followed by a segment that repeats its second half and
    /// the first half of the next segment of the same side (same bytes, overlapping ranges).
    OverlapRetransmit {
        /// Period.
        every: u32,
    },
    /// The `nth` (0-based) data segment sent by `side` is lost: it never reaches the capture
    /// and is not retransmitted. Later packets still acknowledge its bytes (the peer received
    /// them; only the capture missed them), and the time it took is kept.
    Drop {
        /// Direction of the lost segment.
        side: Side,
        /// Index among that side's data segments, in sending order.
        nth: u32,
    },
    /// Every data segment sent by `side` whose bytes include stream offset `offset` is lost,
    /// as in [`Transform::Drop`].
    DropAt {
        /// Direction of the lost segment.
        side: Side,
        /// Offset in `side`'s stream.
        offset: u32,
    },
}

/// Where the capture starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaptureStart {
    /// From the SYN.
    Beginning,
    /// From the first data segment of script message `n` (handshake and earlier packets dropped).
    AtMessage(usize),
    /// From the first data segment of `side` whose payload starts at or after stream offset
    /// `offset` (can fall inside a message).
    AtOffset {
        /// Direction the offset counts in.
        side: Side,
        /// Stream offset.
        offset: usize,
    },
}

/// How to schedule a TCP conversation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpPlan {
    /// Largest payload per segment (the peer's MSS less options).
    pub max_segment: usize,
    /// Fixed smaller segments, if any.
    pub fixed: Option<FixedSegments>,
    /// Rewrites applied in order after segmentation.
    pub transforms: Vec<Transform>,
    /// Where the capture starts.
    pub start: CaptureStart,
    /// Keep only the packets sent by this side.
    pub only: Option<Side>,
    /// Replaces the script's close (e.g. `Some(Close::None)` for "no close").
    pub close: Option<Close>,
    /// Seed for sequence numbers and timing jitter.
    pub seed: u64,
    /// Initial sequence numbers (client, server) instead of seeded ones.
    pub isn: Option<(u32, u32)>,
}

impl Default for TcpPlan {
    fn default() -> Self {
        TcpPlan {
            max_segment: 1448,
            fixed: None,
            transforms: Vec::new(),
            start: CaptureStart::Beginning,
            only: None,
            close: None,
            seed: 1,
            isn: None,
        }
    }
}

const WINDOW_SYN: u16 = 64_240;
const WINDOW: u16 = 502;

struct Builder<'a> {
    rng: SplitMix64,
    next: [u32; 2],
    trace: &'a mut TcpTrace,
    /// Idle time of empty messages, added to the next packet's gap.
    idle_ns: u64,
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Builder<'_> {
    fn gap_same_side(&mut self) -> u64 {
        self.rng.range(4_000, 40_000) + self.rng.range(0, 999)
    }

    fn gap_turn(&mut self) -> u64 {
        self.rng.range(60_000, 600_000) + self.rng.range(0, 999)
    }

    fn push(&mut self, from: Side, flags: u8, start: u32, len: u32, msg: u32, gap: u64) {
        let seq = self.next[idx(from)];
        let ack = if flags & ACK != 0 {
            self.next[idx(from.peer())]
        } else {
            0
        };
        let syn = flags & SYN != 0;
        let gap = gap.saturating_add(std::mem::take(&mut self.idle_ns));
        self.trace.packets.push(TcpPacket {
            from,
            seq,
            ack,
            flags,
            window: if syn { WINDOW_SYN } else { WINDOW },
            syn_mss: if syn { 1460 } else { 0 },
            data_start: start,
            data_len: len,
            msg,
            retransmit: false,
            gap_ns: gap,
            ts_ns: 0,
        });
        let consumed = len
            .wrapping_add(u32::from(syn))
            .wrapping_add(u32::from(flags & FIN != 0));
        self.next[idx(from)] = self.next[idx(from)].wrapping_add(consumed);
    }

    fn pure_ack(&mut self, from: Side, msg: u32) {
        let gap = self.gap_same_side();
        self.push(from, ACK, 0, 0, msg, gap);
    }
}

/// Schedules a TCP script: builds the packets, applies the plan's transforms, assigns
/// timestamps, then drops what the capture does not see (mid-stream start, other side).
pub fn schedule_tcp(script: &Script, plan: &TcpPlan) -> TcpTrace {
    let mut trace = TcpTrace {
        client_stream: script.stream(Side::Client),
        server_stream: script.stream(Side::Server),
        ..TcpTrace::default()
    };
    let mut rng = SplitMix64::new(plan.seed);
    trace.isn_client = rng.next_u32();
    trace.isn_server = rng.next_u32();
    if let Some((c, s)) = plan.isn {
        trace.isn_client = c;
        trace.isn_server = s;
    }
    let mut b = Builder {
        rng: rng.fork(1),
        next: [trace.isn_client, trace.isn_server],
        trace: &mut trace,
        idle_ns: 0,
    };

    // Three-way handshake.
    b.push(Side::Client, SYN, 0, 0, NO_MESSAGE, 0);
    let g = b.gap_turn();
    b.push(Side::Server, SYN | ACK, 0, 0, NO_MESSAGE, g);
    let g = b.gap_turn();
    b.push(Side::Client, ACK, 0, 0, NO_MESSAGE, g);

    let mut offsets = [0usize; 2];
    let max_seg = plan.max_segment.max(1);
    let n = script.messages.len();
    for (mi, m) in script.messages.iter().enumerate() {
        let side = m.from;
        if m.bytes.is_empty() {
            // Nothing is sent: the silence carries over to whatever comes next (so a script
            // can place its close at a given time).
            b.idle_ns = b.idle_ns.saturating_add(u64::from(m.delay_ms) * 1_000_000);
        }
        let mut remaining = m.bytes.len();
        let mut first = true;
        let mut unacked = 0u32;
        while remaining > 0 {
            let off = offsets[idx(side)];
            let mut size = max_seg;
            if let Some(f) = plan.fixed {
                let limit = f.first_bytes.unwrap_or(usize::MAX);
                if off < limit {
                    size = f.size.max(1).min(limit - off);
                }
            }
            let len = size.min(remaining);
            remaining -= len;
            let last = remaining == 0;
            let gap = if first {
                if m.delay_ms > 0 {
                    u64::from(m.delay_ms) * 1_000_000 + b.rng.range(0, 99_999)
                } else if b.trace.packets.last().map(|p| p.from) == Some(side) {
                    b.gap_same_side()
                } else {
                    b.gap_turn()
                }
            } else {
                b.gap_same_side()
            };
            let flags = if last { ACK | PSH } else { ACK };
            b.push(side, flags, off as u32, len as u32, mi as u32, gap);
            offsets[idx(side)] += len;
            first = false;
            unacked += 1;
            if !last && unacked >= 2 && len >= 256 {
                b.pure_ack(side.peer(), mi as u32);
                unacked = 0;
            }
        }
        let next_from = script.messages.get(mi + 1).map(|m| m.from);
        if !m.bytes.is_empty() && (next_from != Some(side.peer()) || mi + 1 == n) {
            b.pure_ack(side.peer(), mi as u32);
        }
    }

    match plan.close.unwrap_or(script.close) {
        Close::Fin { by } => {
            let g = b.gap_turn();
            b.push(by, FIN | ACK, 0, 0, NO_MESSAGE, g);
            let g = b.gap_turn();
            b.push(by.peer(), FIN | ACK, 0, 0, NO_MESSAGE, g);
            let g = b.gap_turn();
            b.push(by, ACK, 0, 0, NO_MESSAGE, g);
        }
        Close::Rst { by } => {
            let g = b.gap_turn();
            b.push(by, RST | ACK, 0, 0, NO_MESSAGE, g);
        }
        Close::None => {}
    }
    let mut rng = b.rng;

    for t in &plan.transforms {
        apply_transform(&mut trace, *t, &mut rng);
    }

    // Timestamps relative to the first packet.
    let mut ts = 0u64;
    for (i, p) in trace.packets.iter_mut().enumerate() {
        if i > 0 {
            ts = ts.saturating_add(p.gap_ns.max(1));
        }
        p.ts_ns = ts;
    }

    let cut = match plan.start {
        CaptureStart::Beginning => 0,
        CaptureStart::AtMessage(k) => trace
            .packets
            .iter()
            .position(|p| p.data_len > 0 && p.msg != NO_MESSAGE && p.msg as usize >= k)
            .unwrap_or(trace.packets.len()),
        CaptureStart::AtOffset { side, offset } => trace
            .packets
            .iter()
            .position(|p| p.data_len > 0 && p.from == side && p.data_start as usize >= offset)
            .unwrap_or(trace.packets.len()),
    };
    trace.packets.drain(..cut);
    if let Some(side) = plan.only {
        trace.packets.retain(|p| p.from == side);
    }
    if let Some(t0) = trace.packets.first().map(|p| p.ts_ns) {
        for p in &mut trace.packets {
            p.ts_ns -= t0;
        }
    }
    trace
}

fn selected(counter: &mut u32, every: u32) -> bool {
    *counter += 1;
    every != 0 && *counter % every == 0
}

fn is_fresh_data(p: &TcpPacket) -> bool {
    p.data_len > 0 && !p.retransmit
}

fn sub_segment(p: &TcpPacket, seq0: u32, start: u32, end: u32) -> TcpPacket {
    TcpPacket {
        seq: seq0.wrapping_add(start),
        data_start: start,
        data_len: end - start,
        ..*p
    }
}

/// Moves `pk` into `out` without the packets `lost` picks; a lost packet's gap is added to
/// the next packet so the timing of what follows does not change.
fn drop_segments(
    out: &mut Vec<TcpPacket>,
    pk: Vec<TcpPacket>,
    mut lost: impl FnMut(&TcpPacket) -> bool,
) {
    let mut carried = 0u64;
    for mut p in pk {
        if lost(&p) {
            carried = carried.saturating_add(p.gap_ns);
            continue;
        }
        p.gap_ns = p.gap_ns.saturating_add(carried);
        carried = 0;
        out.push(p);
    }
}

fn apply_transform(trace: &mut TcpTrace, t: Transform, rng: &mut SplitMix64) {
    let seq0 = [trace.data_seq0(Side::Client), trace.data_seq0(Side::Server)];
    let mut out: Vec<TcpPacket> = Vec::with_capacity(trace.packets.len() * 2);
    let mut counter = 0u32;
    let pk = std::mem::take(&mut trace.packets);
    let mut i = 0;
    match t {
        Transform::Drop { side, nth } => {
            let mut seen = 0u32;
            drop_segments(&mut out, pk, |p| {
                if p.from != side || !is_fresh_data(p) {
                    return false;
                }
                seen += 1;
                seen - 1 == nth
            });
        }
        Transform::DropAt { side, offset } => {
            drop_segments(&mut out, pk, |p| {
                p.from == side
                    && p.data_len > 0
                    && p.data_start <= offset
                    && offset - p.data_start < p.data_len
            });
        }
        Transform::OutOfOrder { every } => {
            while let Some(p) = pk.get(i).copied() {
                i += 1;
                if !is_fresh_data(&p) || !selected(&mut counter, every) {
                    out.push(p);
                    continue;
                }
                let next = pk.get(i).copied();
                match next {
                    Some(q)
                        if is_fresh_data(&q)
                            && q.from == p.from
                            && q.data_start == p.data_start + p.data_len =>
                    {
                        // Swap the pair but keep the timing pattern.
                        out.push(TcpPacket {
                            gap_ns: p.gap_ns,
                            ..q
                        });
                        out.push(TcpPacket {
                            gap_ns: q.gap_ns,
                            ..p
                        });
                        i += 1;
                    }
                    _ if p.data_len >= 2 => {
                        let mid = p.data_start + p.data_len / 2;
                        let end = p.data_start + p.data_len;
                        let second = sub_segment(&p, seq0[idx(p.from)], mid, end);
                        let mut first = sub_segment(&p, seq0[idx(p.from)], p.data_start, mid);
                        first.flags &= !PSH;
                        first.gap_ns = rng.range(3_000, 20_000);
                        out.push(second);
                        out.push(first);
                    }
                    _ => out.push(p),
                }
            }
        }
        Transform::Retransmit { every } => {
            let mut pending: Option<TcpPacket> = None;
            while let Some(p) = pk.get(i).copied() {
                i += 1;
                out.push(p);
                if let Some(mut r) = pending.take() {
                    r.gap_ns = rng.range(2_000_000, 5_000_000);
                    out.push(r);
                }
                if is_fresh_data(&p) && selected(&mut counter, every) {
                    pending = Some(TcpPacket {
                        retransmit: true,
                        ..p
                    });
                }
            }
            if let Some(mut r) = pending {
                r.gap_ns = rng.range(2_000_000, 5_000_000);
                out.push(r);
            }
        }
        Transform::OverlapRetransmit { every } => {
            while let Some(p) = pk.get(i).copied() {
                i += 1;
                out.push(p);
                if !is_fresh_data(&p) || !selected(&mut counter, every) {
                    continue;
                }
                let end = p.data_start + p.data_len;
                // Next data segment of the same side, with no peer data in between.
                let follower = pk
                    .get(i..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|q| !(q.from != p.from && q.data_len > 0))
                    .find(|q| q.from == p.from && is_fresh_data(q))
                    .copied()
                    .filter(|q| q.data_start == end);
                let s0 = seq0[idx(p.from)];
                let extra = match follower {
                    Some(q) => {
                        let start = p.data_start + p.data_len / 2;
                        let stop = end + q.data_len.div_ceil(2);
                        let mut r = sub_segment(&p, s0, start, stop);
                        r.ack = q.ack;
                        r.flags = q.flags & !PSH;
                        r
                    }
                    None if p.data_len >= 2 => {
                        sub_segment(&p, s0, p.data_start + p.data_len / 2, end)
                    }
                    None => p,
                };
                out.push(TcpPacket {
                    retransmit: true,
                    gap_ns: rng.range(1_000_000, 3_000_000),
                    ..extra
                });
            }
        }
    }
    trace.packets = out;
}

/// One scheduled UDP datagram; payload at `data_start` of [`UdpTrace::bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpPacket {
    /// Sender.
    pub from: Side,
    /// Offset of the payload in [`UdpTrace::bytes`].
    pub data_start: u32,
    /// Payload length.
    pub data_len: u32,
    /// Time since the flow's first datagram, in nanoseconds.
    pub ts_ns: u64,
}

/// A scheduled UDP conversation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UdpTrace {
    /// All payloads, concatenated.
    pub bytes: Vec<u8>,
    /// Datagrams in order.
    pub packets: Vec<UdpPacket>,
}

impl UdpTrace {
    /// Payload of `p`.
    pub fn payload(&self, p: &UdpPacket) -> &[u8] {
        let start = p.data_start as usize;
        let end = start.saturating_add(p.data_len as usize);
        self.bytes.get(start..end).unwrap_or(&[])
    }
}

/// Schedules a UDP script: one datagram per message, small deterministic gaps.
pub fn schedule_udp(script: &Script, seed: u64, only: Option<Side>) -> UdpTrace {
    let mut rng = SplitMix64::new(seed);
    let mut t = UdpTrace::default();
    let mut ts = 0u64;
    for (i, m) in script.messages.iter().enumerate() {
        if i > 0 {
            ts += if m.delay_ms > 0 {
                u64::from(m.delay_ms) * 1_000_000
            } else {
                rng.range(200_000, 2_000_000)
            };
        }
        if only.is_some_and(|s| s != m.from) {
            continue;
        }
        let start = t.bytes.len() as u32;
        t.bytes.extend_from_slice(&m.bytes);
        t.packets.push(UdpPacket {
            from: m.from,
            data_start: start,
            data_len: m.bytes.len() as u32,
            ts_ns: ts,
        });
    }
    if let Some(t0) = t.packets.first().map(|p| p.ts_ns) {
        for p in &mut t.packets {
            p.ts_ns -= t0;
        }
    }
    t
}

/// Packets of one flow, TCP or UDP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowPackets {
    /// A TCP connection.
    Tcp(TcpTrace),
    /// UDP datagrams.
    Udp(UdpTrace),
}

impl FlowPackets {
    /// Number of packets.
    pub fn len(&self) -> usize {
        match self {
            FlowPackets::Tcp(t) => t.packets.len(),
            FlowPackets::Udp(u) => u.packets.len(),
        }
    }

    /// True when the flow has no packet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Relative timestamp of packet `i`.
    pub fn ts_ns(&self, i: usize) -> Option<u64> {
        match self {
            FlowPackets::Tcp(t) => t.packets.get(i).map(|p| p.ts_ns),
            FlowPackets::Udp(u) => u.packets.get(i).map(|p| p.ts_ns),
        }
    }
}

/// Schedules any script with `plan` (UDP uses only `seed` and `only`).
pub fn schedule(script: &Script, plan: &TcpPlan) -> FlowPackets {
    match script.proto {
        Proto::Tcp => FlowPackets::Tcp(schedule_tcp(script, plan)),
        Proto::Udp => FlowPackets::Udp(schedule_udp(script, plan.seed, plan.only)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{lookalike, ndb};

    fn tcp_scripts() -> Vec<(&'static str, Script)> {
        ndb::CONVERSATIONS
            .iter()
            .chain(lookalike::CONVERSATIONS)
            .map(|c| (c.name, (c.build)()))
            .filter(|(_, s)| s.proto == Proto::Tcp)
            .collect()
    }

    /// Reassembles `side`'s data by sequence number; panics if two segments disagree on a
    /// byte. Returns (stream offset of the first byte, bytes).
    fn reassemble(t: &TcpTrace, side: Side) -> (usize, Vec<u8>) {
        let seq0 = t.data_seq0(side);
        let mut bytes: Vec<Option<u8>> = Vec::new();
        for p in t
            .packets
            .iter()
            .filter(|p| p.from == side && p.data_len > 0)
        {
            let off = p.seq.wrapping_sub(seq0) as usize;
            let payload = t.payload(p);
            assert_eq!(payload.len(), p.data_len as usize);
            assert_eq!(off, p.data_start as usize, "seq agrees with stream offset");
            if bytes.len() < off + payload.len() {
                bytes.resize(off + payload.len(), None);
            }
            for (i, b) in payload.iter().enumerate() {
                let slot = &mut bytes[off + i];
                if let Some(old) = slot {
                    assert_eq!(old, b, "retransmitted bytes must be identical");
                }
                *slot = Some(*b);
            }
        }
        let start = bytes
            .iter()
            .position(Option::is_some)
            .unwrap_or(bytes.len());
        let data: Vec<u8> = bytes[start..]
            .iter()
            .map(|b| b.expect("hole in reassembled stream"))
            .collect();
        (start, data)
    }

    fn plans() -> Vec<TcpPlan> {
        let fixed = |size, first_bytes| TcpPlan {
            fixed: Some(FixedSegments { size, first_bytes }),
            ..TcpPlan::default()
        };
        let with = |max_segment, transforms: Vec<Transform>| TcpPlan {
            max_segment,
            transforms,
            ..TcpPlan::default()
        };
        vec![
            TcpPlan::default(),
            fixed(1, None),
            fixed(1, Some(50)),
            fixed(7, None),
            with(1448, vec![Transform::OutOfOrder { every: 1 }]),
            with(40, vec![Transform::OutOfOrder { every: 2 }]),
            with(1448, vec![Transform::Retransmit { every: 1 }]),
            with(33, vec![Transform::OverlapRetransmit { every: 1 }]),
            with(1, vec![Transform::OverlapRetransmit { every: 2 }]),
            with(
                64,
                vec![
                    Transform::OutOfOrder { every: 3 },
                    Transform::Retransmit { every: 2 },
                    Transform::OverlapRetransmit { every: 3 },
                ],
            ),
        ]
    }

    #[test]
    fn reassembly_gives_back_every_message_byte() {
        for (name, script) in tcp_scripts() {
            for (pi, plan) in plans().into_iter().enumerate() {
                let t = schedule_tcp(
                    &script,
                    &TcpPlan {
                        seed: pi as u64,
                        ..plan.clone()
                    },
                );
                for side in [Side::Client, Side::Server] {
                    let (start, data) = reassemble(&t, side);
                    assert_eq!(start, 0, "{name} plan {pi}");
                    assert_eq!(data, script.stream(side), "{name} plan {pi} {side:?}");
                }
                // Timestamps never go back, first is zero.
                assert_eq!(t.packets.first().map(|p| p.ts_ns), Some(0));
                assert!(
                    t.packets.windows(2).all(|w| w[0].ts_ns < w[1].ts_ns),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn fixed_segments_respect_size_and_limit() {
        let s = ndb::show_80();
        let t = schedule_tcp(
            &s,
            &TcpPlan {
                fixed: Some(FixedSegments {
                    size: 1,
                    first_bytes: Some(100),
                }),
                ..TcpPlan::default()
            },
        );
        for p in t.packets.iter().filter(|p| p.data_len > 0) {
            if p.data_start < 100 {
                assert_eq!(p.data_len, 1);
            } else {
                assert!(p.data_len <= 1448);
            }
        }
        let t = schedule_tcp(
            &s,
            &TcpPlan {
                max_segment: 100,
                ..TcpPlan::default()
            },
        );
        assert!(t.packets.iter().all(|p| p.data_len <= 100));
        assert!(t.packets.iter().any(|p| p.data_len == 100));
    }

    #[test]
    fn handshake_and_fin_close_are_correct() {
        let s = ndb::show_80();
        let t = schedule_tcp(&s, &TcpPlan::default());
        let p = &t.packets;
        assert_eq!(
            (p[0].from, p[0].flags, p[0].seq),
            (Side::Client, SYN, t.isn_client)
        );
        assert_ne!(p[0].syn_mss, 0);
        assert_eq!((p[1].from, p[1].flags), (Side::Server, SYN | ACK));
        assert_eq!(
            (p[1].seq, p[1].ack),
            (t.isn_server, t.isn_client.wrapping_add(1))
        );
        assert_eq!((p[2].from, p[2].flags), (Side::Client, ACK));
        assert_eq!(
            (p[2].seq, p[2].ack),
            (t.isn_client.wrapping_add(1), t.isn_server.wrapping_add(1))
        );
        // Every data segment acknowledges exactly what the peer had sent before it.
        let cl = t.client_stream.len() as u32;
        let sl = t.server_stream.len() as u32;
        let n = p.len();
        let fin_c = p[n - 3];
        let fin_s = p[n - 2];
        let last = p[n - 1];
        assert_eq!((fin_c.from, fin_c.flags), (Side::Client, FIN | ACK));
        assert_eq!(fin_c.seq, t.data_seq0(Side::Client).wrapping_add(cl));
        assert_eq!(fin_c.ack, t.data_seq0(Side::Server).wrapping_add(sl));
        assert_eq!((fin_s.from, fin_s.flags), (Side::Server, FIN | ACK));
        assert_eq!(fin_s.ack, fin_c.seq.wrapping_add(1));
        assert_eq!((last.from, last.flags), (Side::Client, ACK));
        assert_eq!(last.ack, fin_s.seq.wrapping_add(1));
        assert_eq!(last.seq, fin_c.seq.wrapping_add(1));
        // Only handshake packets carry SYN; only the close carries FIN.
        assert_eq!(p.iter().filter(|q| q.flags & SYN != 0).count(), 2);
        assert_eq!(p.iter().filter(|q| q.flags & FIN != 0).count(), 2);
    }

    #[test]
    fn acks_follow_the_peer_in_unmodified_schedules() {
        for (name, script) in tcp_scripts() {
            let t = schedule_tcp(&script, &TcpPlan::default());
            let mut sent = [0u32; 2];
            for p in t.packets.iter().skip(3) {
                if p.flags & RST == 0 {
                    let peer = p.from.peer();
                    let expect = t.data_seq0(peer).wrapping_add(sent[idx(peer)]);
                    let fin_seen = u32::from(p.ack == expect.wrapping_add(1));
                    assert_eq!(p.ack, expect.wrapping_add(fin_seen), "{name}");
                }
                sent[idx(p.from)] += p.data_len + u32::from(p.flags & FIN != 0);
            }
        }
    }

    #[test]
    fn rst_and_no_close() {
        let s = ndb::errors();
        let t = schedule_tcp(
            &s,
            &TcpPlan {
                close: Some(Close::Rst { by: Side::Server }),
                ..TcpPlan::default()
            },
        );
        let last = t.packets.last().unwrap();
        assert_eq!((last.from, last.flags), (Side::Server, RST | ACK));
        let t = schedule_tcp(
            &s,
            &TcpPlan {
                close: Some(Close::None),
                ..TcpPlan::default()
            },
        );
        assert!(t.packets.iter().all(|p| p.flags & (FIN | RST) == 0));
    }

    #[test]
    fn transforms_really_reorder_and_repeat() {
        let s = ndb::show_80();
        let ooo = schedule_tcp(
            &s,
            &TcpPlan {
                transforms: vec![Transform::OutOfOrder { every: 1 }],
                ..TcpPlan::default()
            },
        );
        let mut highest = [0u32; 2];
        let mut went_back = false;
        for p in ooo.packets.iter().filter(|p| p.data_len > 0) {
            let end = p.data_start + p.data_len;
            if p.data_start < highest[idx(p.from)] {
                went_back = true;
            }
            highest[idx(p.from)] = highest[idx(p.from)].max(end);
        }
        assert!(went_back, "some segment arrives after a later one");

        let ov = schedule_tcp(
            &s,
            &TcpPlan {
                max_segment: 50,
                transforms: vec![Transform::OverlapRetransmit { every: 1 }],
                ..TcpPlan::default()
            },
        );
        let partial_overlap = ov.packets.iter().filter(|p| p.retransmit).any(|r| {
            ov.packets.iter().any(|p| {
                !p.retransmit
                    && p.from == r.from
                    && p.data_len > 0
                    && r.data_start > p.data_start
                    && r.data_start < p.data_start + p.data_len
                    && r.data_start + r.data_len > p.data_start + p.data_len
            })
        });
        assert!(
            partial_overlap,
            "an overlap starts inside one segment and ends past it"
        );

        let re = schedule_tcp(
            &s,
            &TcpPlan {
                transforms: vec![Transform::Retransmit { every: 2 }],
                ..TcpPlan::default()
            },
        );
        let plain = schedule_tcp(&s, &TcpPlan::default());
        let data = |t: &TcpTrace| t.packets.iter().filter(|p| p.data_len > 0).count();
        assert_eq!(data(&re), data(&plain) + data(&plain) / 2);
    }

    #[test]
    fn mid_stream_and_one_side() {
        let s = ndb::show_80();
        let t = schedule_tcp(
            &s,
            &TcpPlan {
                start: CaptureStart::AtMessage(2),
                ..TcpPlan::default()
            },
        );
        assert!(t.packets.iter().all(|p| p.flags & SYN == 0));
        let first = t.packets[0];
        assert_eq!(first.from, Side::Client);
        assert_eq!(t.payload(&first), b"get version\n\n");
        assert_eq!(first.ts_ns, 0);
        let (start, data) = reassemble(&t, Side::Server);
        assert_eq!(start, s.offset_of_message(Side::Server, 2));
        assert_eq!(data, &s.stream(Side::Server)[start..]);

        let off = 300;
        let t = schedule_tcp(
            &s,
            &TcpPlan {
                max_segment: 100,
                start: CaptureStart::AtOffset {
                    side: Side::Server,
                    offset: off,
                },
                ..TcpPlan::default()
            },
        );
        assert_eq!(t.packets[0].from, Side::Server);
        assert!(t.packets[0].data_start as usize >= off);
        assert!((t.packets[0].data_start as usize) < off + 100);

        for side in [Side::Client, Side::Server] {
            let t = schedule_tcp(
                &s,
                &TcpPlan {
                    only: Some(side),
                    ..TcpPlan::default()
                },
            );
            assert!(t.packets.iter().all(|p| p.from == side));
            assert_eq!(reassemble(&t, side).1, s.stream(side));
        }
    }

    #[test]
    fn schedules_are_deterministic_and_seed_dependent() {
        let s = ndb::datanode_start_80();
        let plan = TcpPlan {
            transforms: vec![Transform::OutOfOrder { every: 2 }],
            seed: 9,
            ..TcpPlan::default()
        };
        assert_eq!(schedule_tcp(&s, &plan), schedule_tcp(&s, &plan));
        let other = schedule_tcp(
            &s,
            &TcpPlan {
                seed: 10,
                ..plan.clone()
            },
        );
        assert_ne!(other.isn_client, schedule_tcp(&s, &plan).isn_client);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let s = ndb::show_80();
        let isn = (u32::MAX - 100, u32::MAX - 3);
        let t = schedule_tcp(
            &s,
            &TcpPlan {
                isn: Some(isn),
                max_segment: 64,
                ..TcpPlan::default()
            },
        );
        for side in [Side::Client, Side::Server] {
            let (start, data) = reassemble(&t, side);
            assert_eq!(start, 0);
            assert_eq!(data, s.stream(side));
            assert!(
                t.packets.iter().any(|p| p.from == side && p.seq < 1000),
                "stream crosses the wrap"
            );
        }
    }

    #[test]
    fn lost_segments_leave_a_hole_and_nothing_else_changes() {
        let s = ndb::show_80();
        let base = TcpPlan {
            max_segment: 100,
            seed: 5,
            ..TcpPlan::default()
        };
        let plain = schedule_tcp(&s, &base);
        let data = |t: &TcpTrace, side: Side| -> Vec<TcpPacket> {
            t.packets
                .iter()
                .filter(|p| p.from == side && p.data_len > 0)
                .copied()
                .collect()
        };
        for side in [Side::Client, Side::Server] {
            let nth = 2;
            let lost = schedule_tcp(
                &s,
                &TcpPlan {
                    transforms: vec![Transform::Drop { side, nth }],
                    ..base.clone()
                },
            );
            assert_eq!(lost.packets.len(), plain.packets.len() - 1);
            let (before, after) = (data(&plain, side), data(&lost, side));
            let gone = before[nth as usize];
            assert!(!after.iter().any(|p| p.seq == gone.seq));
            assert_eq!(after.len(), before.len() - 1);
            // Everything else is the same packet at the same time, acks included.
            let rest: Vec<&TcpPacket> = plain
                .packets
                .iter()
                .filter(|p| !(p.from == side && p.seq == gone.seq && p.data_len > 0))
                .collect();
            for (a, b) in rest.iter().zip(&lost.packets) {
                assert_eq!(
                    (
                        a.from,
                        a.seq,
                        a.ack,
                        a.flags,
                        a.data_start,
                        a.data_len,
                        a.ts_ns
                    ),
                    (
                        b.from,
                        b.seq,
                        b.ack,
                        b.flags,
                        b.data_start,
                        b.data_len,
                        b.ts_ns
                    )
                );
            }
            // The other side is untouched and reassembles whole.
            let other = side.peer();
            assert_eq!(reassemble(&lost, other).1, s.stream(other));
        }
        // DropAt picks the segment holding the offset.
        let off = s.offset_of_message(Side::Server, 7) as u32 + 250;
        let lost = schedule_tcp(
            &s,
            &TcpPlan {
                transforms: vec![Transform::DropAt {
                    side: Side::Server,
                    offset: off,
                }],
                ..base.clone()
            },
        );
        let holes: Vec<&TcpPacket> = data(&plain, Side::Server)
            .iter()
            .filter(|p| {
                !lost
                    .packets
                    .iter()
                    .any(|q| q.from == Side::Server && q.seq == p.seq)
            })
            .map(|p| {
                plain
                    .packets
                    .iter()
                    .find(|q| q.seq == p.seq && q.from == Side::Server)
                    .unwrap()
            })
            .collect();
        assert_eq!(holes.len(), 1);
        assert!(holes[0].data_start <= off && off < holes[0].data_start + holes[0].data_len);
        // A segment index past the end drops nothing.
        let none = schedule_tcp(
            &s,
            &TcpPlan {
                transforms: vec![Transform::Drop {
                    side: Side::Client,
                    nth: 10_000,
                }],
                ..base
            },
        );
        assert_eq!(none, plain);
    }

    #[test]
    fn udp_datagrams() {
        let s = lookalike::dns_udp();
        let u = schedule_udp(&s, 3, None);
        assert_eq!(u.packets.len(), 2);
        assert_eq!(u.payload(&u.packets[0]), &s.messages[0].bytes[..]);
        assert_eq!(u.payload(&u.packets[1]), &s.messages[1].bytes[..]);
        assert!(u.packets[1].ts_ns > 0);
        let only = schedule_udp(&s, 3, Some(Side::Server));
        assert_eq!(only.packets.len(), 1);
        assert_eq!(only.packets[0].ts_ns, 0);
    }
}
