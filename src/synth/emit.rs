//! Emission: turns scheduled flows into frames and writes them, merged by timestamp, into a
//! [`FrameSink`].
//!
//! Owns: absolute timestamps (flow start + relative packet time), IPv4 identification
//! counters, and the k-way merge of many flows. Reuses one frame buffer for every packet, so a
//! bulk generator can stream millions of packets without per-packet allocation. Must never
//! change a packet's content or order within its flow.

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
        let id_slot = ids.get_mut(fi);
        match &flow.packets {
            FlowPackets::Tcp(t) => {
                if let Some(p) = t.packets.get(i) {
                    let id = next_id(id_slot, p.from);
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
                    build_tcp_frame(
                        &mut buf,
                        encap,
                        &flow.addr,
                        p.from,
                        id,
                        &fields,
                        t.payload(p),
                    )?;
                    sink.write_frame(ts, &buf)?;
                    written += 1;
                }
            }
            FlowPackets::Udp(u) => {
                if let Some(p) = u.packets.get(i) {
                    let id = next_id(id_slot, p.from);
                    build_udp_frame(&mut buf, encap, &flow.addr, p.from, id, u.payload(p))?;
                    sink.write_frame(ts, &buf)?;
                    written += 1;
                }
            }
        }
        if let Some(next) = flow.packets.ts_ns(i + 1) {
            heap.push(Reverse((flow.start_ns.saturating_add(next), fi)));
        }
    }
    Ok(written)
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
