//! Emission: turns scheduled flows into frames and writes them, merged by timestamp, into a
//! [`FrameSink`].
//!
//! Owns: absolute timestamps (flow start + relative packet time), IPv4 identification
//! counters, and the k-way merge of many flows, either of a fixed set ([`write_flows`]) or
//! streaming, with flows joining and leaving as it runs ([`StreamMerge`]). Reuses one frame
//! buffer for every packet, so a bulk generator can stream millions of packets without
//! per-packet allocation. Must never change a packet's content or order within its flow.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;

use super::frame::{build_tcp_frame, build_udp_frame, Encap, FrameError, TcpFields};
use super::sched::FlowPackets;
use super::writer::{CaptureFormat, CaptureWriter, FrameSink};
use super::{FlowAddr, Side};

/// A scheduled flow placed on the capture's time line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedFlow {
    /// Addresses and ports.
    pub addr: FlowAddr,
    /// Absolute time of the flow's first packet, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// The packets.
    pub packets: FlowPackets,
    /// First IPv4 identification used by the client (the server starts elsewhere).
    pub ip_id_seed: u16,
}

/// Errors while writing synthetic captures.
#[derive(Debug)]
pub enum SynthError {
    /// The sink failed.
    Io(io::Error),
    /// A frame could not be built.
    Frame(FrameError),
}

impl std::fmt::Display for SynthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SynthError::Io(e) => write!(f, "write failed: {e}"),
            SynthError::Frame(e) => write!(f, "cannot build frame: {e}"),
        }
    }
}

impl std::error::Error for SynthError {}

impl From<io::Error> for SynthError {
    fn from(e: io::Error) -> Self {
        SynthError::Io(e)
    }
}

impl From<FrameError> for SynthError {
    fn from(e: FrameError) -> Self {
        SynthError::Frame(e)
    }
}

/// Writes all packets of `flows` into `sink` in timestamp order (ties: lower flow index
/// first), framed with `encap`. Returns the number of frames written.
pub fn write_flows<S: FrameSink>(
    sink: &mut S,
    encap: &Encap,
    flows: &[PlacedFlow],
) -> Result<u64, SynthError> {
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::with_capacity(flows.len());
    let mut cursor = vec![0usize; flows.len()];
    let mut ids: Vec<[u16; 2]> = flows
        .iter()
        .map(|f| [f.ip_id_seed, f.ip_id_seed ^ 0x5a5a])
        .collect();
    for (i, f) in flows.iter().enumerate() {
        if let Some(ts) = f.packets.ts_ns(0) {
            heap.push(Reverse((f.start_ns.saturating_add(ts), i)));
        }
    }
    let mut buf = Vec::with_capacity(2048);
    let mut written = 0u64;
    while let Some(Reverse((ts, fi))) = heap.pop() {
        let (Some(flow), Some(pos)) = (flows.get(fi), cursor.get_mut(fi)) else {
            continue;
        };
        let i = *pos;
        *pos += 1;
        if build_packet(&mut buf, encap, flow, i, ids.get_mut(fi))? {
            sink.write_frame(ts, &buf)?;
            written += 1;
        }
        if let Some(next) = flow.packets.ts_ns(i + 1) {
            heap.push(Reverse((flow.start_ns.saturating_add(next), fi)));
        }
    }
    Ok(written)
}

/// Builds packet `i` of `flow` into `buf`, taking its IPv4 identification from `ids` (client,
/// server) and advancing it. Returns `Ok(false)` (and leaves `ids` alone) when the flow has no
/// packet `i`.
fn build_packet(
    buf: &mut Vec<u8>,
    encap: &Encap,
    flow: &PlacedFlow,
    i: usize,
    ids: Option<&mut [u16; 2]>,
) -> Result<bool, FrameError> {
    match &flow.packets {
        FlowPackets::Tcp(t) => {
            let Some(p) = t.packets.get(i) else {
                return Ok(false);
            };
            let id = next_id(ids, p.from);
            let fields = TcpFields {
                seq: p.seq,
                ack: p.ack,
                flags: p.flags,
                window: p.window,
                syn_mss: if flow.addr.is_v6() && p.syn_mss != 0 {
                    p.syn_mss.saturating_sub(20)
                } else {
                    p.syn_mss
                },
            };
            build_tcp_frame(buf, encap, &flow.addr, p.from, id, &fields, t.payload(p))?;
        }
        FlowPackets::Udp(u) => {
            let Some(p) = u.packets.get(i) else {
                return Ok(false);
            };
            let id = next_id(ids, p.from);
            build_udp_frame(buf, encap, &flow.addr, p.from, id, u.payload(p))?;
        }
    }
    Ok(true)
}

fn next_id(slot: Option<&mut [u16; 2]>, from: Side) -> u16 {
    let Some(ids) = slot else { return 0 };
    let k = match from {
        Side::Client => 0,
        Side::Server => 1,
    };
    let id = ids[k];
    ids[k] = id.wrapping_add(1);
    id
}

/// Builds a whole capture file in memory: header(s) for `format` and `encap.link`, then the
/// merged frames of `flows`. The NULL header's host byte order follows the file's.
pub fn write_capture(
    format: CaptureFormat,
    encap: &Encap,
    flows: &[PlacedFlow],
) -> Result<Vec<u8>, SynthError> {
    let encap = encap.with_host_order(format.byte_order);
    let mut w = CaptureWriter::new(Vec::new(), format, encap.link.linktype())?;
    write_flows(&mut w, &encap, flows)?;
    Ok(w.into_inner())
}

/// Builds a capture like [`write_capture`] whose every frame is wrapped in tunnel `layers`
/// (innermost first, [`crate::tunnel::Wrap`]) and then in Ethernet: the file's link type is
/// Ethernet, and `encap` frames the inner packets (Ethernet when the innermost layer carries
/// Ethernet, raw IP otherwise).
pub fn write_tunnelled_capture(
    format: CaptureFormat,
    encap: &Encap,
    layers: &'static [crate::tunnel::Wrap],
    flows: &[PlacedFlow],
) -> Result<Vec<u8>, SynthError> {
    let encap = encap.with_host_order(format.byte_order);
    let w = CaptureWriter::new(Vec::new(), format, crate::frame::Link::Ethernet.linktype())?;
    let mut sink = crate::tunnel::TunnelSink::new(w, layers);
    write_flows(&mut sink, &encap, flows)?;
    Ok(sink.into_inner().into_inner())
}

/// What [`StreamMerge::write_next`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Timestamp of the frame, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length of the frame.
    pub frame_len: usize,
    /// The frame was the last one of its flow: the flow has left the merge.
    pub flow_done: bool,
}

/// One flow inside a [`StreamMerge`].
struct Active<T> {
    flow: PlacedFlow,
    encap: Encap,
    ids: [u16; 2],
    cursor: usize,
    state: T,
}

/// A timestamp-ordered merge that flows join while it runs, for captures too large to hold in
/// memory: only the flows that have packets left are kept, so memory follows the number of
/// concurrent flows, not the length of the capture.
///
/// Each flow has its own encapsulation (VLAN tags, MAC addresses) and a caller-defined `state`.
/// When the last packet of a flow's current part has been written, the caller is asked for the
/// next part ([`StreamMerge::write_next`]'s `more`), so a long connection can be scheduled a
/// piece at a time. Ties between flows go to the flow added first. Frames come out in
/// non-decreasing timestamp order as long as flows are added no earlier than the last frame
/// written (parts that would start earlier are moved up to that time).
pub struct StreamMerge<T> {
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    slots: Vec<Option<Active<T>>>,
    free: Vec<usize>,
    buf: Vec<u8>,
    added: u64,
    live: usize,
}

impl<T> Default for StreamMerge<T> {
    fn default() -> Self {
        StreamMerge {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            buf: Vec::with_capacity(2048),
            added: 0,
            live: 0,
        }
    }
}

impl<T> StreamMerge<T> {
    /// An empty merge.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a flow framed with `encap`. A flow without packets is not added (returns false).
    pub fn add(&mut self, flow: PlacedFlow, encap: Encap, state: T) -> bool {
        let Some(first) = flow.packets.ts_ns(0) else {
            return false;
        };
        let order = self.added;
        self.added += 1;
        let ts = flow.start_ns.saturating_add(first);
        let active = Active {
            ids: [flow.ip_id_seed, flow.ip_id_seed ^ 0x5a5a],
            flow,
            encap,
            cursor: 0,
            state,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i) {
                    *s = Some(active);
                }
                i
            }
            None => {
                self.slots.push(Some(active));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((ts, order, slot)));
        self.live += 1;
        true
    }

    /// Flows in the merge (added and not yet finished).
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no flow is left.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Timestamp of the next frame [`StreamMerge::write_next`] would write.
    pub fn next_ts_ns(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((ts, _, _))| *ts)
    }

    /// Writes the earliest pending frame into `sink`. When it was the last packet of its flow's
    /// current part, `more(state, ts_ns)` is asked for the next part as (start time, packets);
    /// `None` (or a part without packets) ends the flow. A part keeps the flow's addresses,
    /// encapsulation and IPv4 identification counters. Returns `None` when the merge is empty.
    pub fn write_next<S, F>(
        &mut self,
        sink: &mut S,
        mut more: F,
    ) -> Result<Option<Written>, SynthError>
    where
        S: FrameSink,
        F: FnMut(&mut T, u64) -> Option<(u64, FlowPackets)>,
    {
        let Some(Reverse((ts, order, slot))) = self.heap.pop() else {
            return Ok(None);
        };
        let Some(Some(a)) = self.slots.get_mut(slot) else {
            return Ok(None);
        };
        let i = a.cursor;
        a.cursor += 1;
        let built = build_packet(&mut self.buf, &a.encap, &a.flow, i, Some(&mut a.ids))?;
        if built {
            sink.write_frame(ts, &self.buf)?;
        }
        let mut next = a
            .flow
            .packets
            .ts_ns(a.cursor)
            .map(|t| a.flow.start_ns.saturating_add(t));
        if next.is_none() {
            if let Some((start, packets)) = more(&mut a.state, ts) {
                if let Some(first) = packets.ts_ns(0) {
                    a.flow.start_ns = start.max(ts.saturating_sub(first));
                    a.flow.packets = packets;
                    a.cursor = 0;
                    next = Some(a.flow.start_ns.saturating_add(first));
                }
            }
        }
        let flow_done = match next {
            Some(t) => {
                self.heap.push(Reverse((t, order, slot)));
                false
            }
            None => {
                if let Some(s) = self.slots.get_mut(slot) {
                    *s = None;
                }
                self.free.push(slot);
                self.live -= 1;
                true
            }
        };
        Ok(Some(Written {
            ts_ns: ts,
            frame_len: if built { self.buf.len() } else { 0 },
            flow_done,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Link;
    use crate::sched::{schedule, TcpPlan};
    use crate::testdata::{flow_addr, BASE_TS_NS};
    use crate::{lookalike, ndb};

    #[derive(Default)]
    struct Frames(Vec<(u64, Vec<u8>)>);

    impl FrameSink for Frames {
        fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
            self.0.push((ts_ns, frame.to_vec()));
            Ok(())
        }
    }

    /// Overlapping flows, some starting at the same instant.
    fn overlapping() -> Vec<PlacedFlow> {
        ndb::CONVERSATIONS
            .iter()
            .chain(lookalike::CONVERSATIONS)
            .enumerate()
            .map(|(i, c)| PlacedFlow {
                addr: flow_addr(i, i % 3 == 0, 40_000 + i as u16, 3406),
                start_ns: BASE_TS_NS + (i as u64 / 2) * 300_000,
                packets: schedule(
                    &(c.build)(),
                    &TcpPlan {
                        seed: i as u64,
                        ..TcpPlan::default()
                    },
                ),
                ip_id_seed: i as u16 * 1000,
            })
            .collect()
    }

    #[test]
    fn stream_merge_writes_what_write_flows_writes() {
        let flows = overlapping();
        let encap = Encap::new(Link::Ethernet);
        let mut fixed = Frames::default();
        let n = write_flows(&mut fixed, &encap, &flows).unwrap();
        let mut merge = StreamMerge::new();
        for (i, f) in flows.iter().enumerate() {
            assert!(merge.add(f.clone(), encap, i));
        }
        assert_eq!(merge.len(), flows.len());
        let mut streamed = Frames::default();
        let mut done = 0;
        while let Some(w) = merge.write_next(&mut streamed, |_, _| None).unwrap() {
            done += usize::from(w.flow_done);
            assert_eq!(Some(w.frame_len), streamed.0.last().map(|f| f.1.len()));
        }
        assert_eq!(done, flows.len());
        assert!(merge.is_empty());
        assert_eq!(n as usize, fixed.0.len());
        assert!(fixed.0 == streamed.0, "same frames in the same order");
    }

    #[test]
    fn stream_merge_asks_for_more_parts_and_keeps_time_order() {
        let flows = overlapping();
        let encap = Encap::new(Link::Ethernet);
        let mut merge = StreamMerge::new();
        let (a, b) = (flows[0].clone(), flows[1].clone());
        let parts_b = b.packets.len();
        // Flow 0 gets flow 1's packets as a second part, asked to start in the past.
        merge.add(a.clone(), encap, Some(b.packets.clone()));
        let mut out = Frames::default();
        let mut asked = 0;
        while let Some(w) = merge
            .write_next(&mut out, |more, _| {
                asked += 1;
                more.take().map(|p| (0, p))
            })
            .unwrap()
        {
            assert_eq!(w.flow_done, out.0.len() == a.packets.len() + parts_b);
        }
        assert_eq!(asked, 2, "asked once per finished part");
        assert_eq!(out.0.len(), a.packets.len() + parts_b);
        assert!(out.0.windows(2).all(|w| w[0].0 <= w[1].0));
        // Both parts carry flow 0's addresses.
        let ends = |f: &[u8]| {
            let v = ndbsniff_core::decode::decode(ndbsniff_core::decode::LinkKind::Ethernet, f)
                .unwrap();
            let mut e = [(v.src, v.src_port), (v.dst, v.dst_port)];
            e.sort_unstable();
            e
        };
        let all: Vec<_> = out.0.iter().map(|f| ends(&f.1)).collect();
        assert!(all.iter().all(|e| *e == all[0]));
        assert!(all[0].contains(&(a.addr.client_ip(), a.addr.client_port)));
        // A flow without packets is refused.
        let mut empty = a;
        empty.packets = FlowPackets::Udp(Default::default());
        assert!(!merge.add(empty, encap, None));
        assert!(merge.is_empty());
    }
}
