//! Captures that a port-only BPF filter would not see: NDB conversations behind IPv6 extension
//! headers, an IPv4 authentication header, deep VLAN stacks, and IP fragments (in order,
//! reversed, with duplicates or conflicting overlaps, too many, or completed too late).
//!
//! Owns: [`Reshape`], a [`FrameSink`] that takes the raw IP packets [`write_flows`] builds and
//! writes them reshaped as Ethernet frames, and [`capture`], which writes a whole capture of
//! one [`Shape`]. Must never read the clock or any entropy source: the same arguments give the
//! same bytes.

use std::io;

use super::emit::{write_flows, PlacedFlow, SynthError};
use super::frame::{internet_checksum, Encap, Link};
use super::ndb;
use super::sched::{schedule, TcpPlan};
use super::testdata::{flow_addr, BASE_TS_NS};
use super::writer::{CaptureFormat, CaptureWriter, FrameSink};

/// IPv6 extension headers the generator can put in front of the transport header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ext {
    /// Hop-by-hop options (PadN).
    HopByHop,
    /// A routing header with no segments left.
    Routing,
    /// Destination options (PadN).
    DestOpts,
}

impl Ext {
    fn number(self) -> u8 {
        match self {
            Ext::HopByHop => 0,
            Ext::Routing => 43,
            Ext::DestOpts => 60,
        }
    }
}

/// How fragments of a datagram are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragOrder {
    /// First to last.
    InOrder,
    /// Last to first.
    Reversed,
    /// In order, with every fragment but the last sent twice in a row (exact duplicates).
    Duplicated,
    /// In order, with a copy of the first fragment carrying other bytes sent right after it.
    Conflicting,
    /// In order, but the last fragment of each datagram is held back and written after all
    /// others, 40 s later.
    Late,
}

/// What happens to every packet of the conversations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// IPv6 with these extension headers in front of TCP.
    Ipv6Ext(Vec<Ext>),
    /// IPv4 with an authentication header in front of TCP.
    Ipv4Ah,
    /// Ethernet with this many 802.1Q tags.
    Vlans(usize),
    /// Packets with more than `size` bytes of IP payload cut into fragments of `size` bytes (a
    /// multiple of 8), written in `order`.
    Fragments {
        v6: bool,
        size: usize,
        order: FragOrder,
    },
}

/// A sink that reshapes raw IPv4/IPv6 packets and writes them, as Ethernet frames, into `inner`.
pub struct Reshape<S: FrameSink> {
    inner: S,
    shape: Shape,
    /// Fragments held back ([`FragOrder::Late`]).
    late: Vec<Vec<u8>>,
    last_ts_ns: u64,
    next_id: u32,
}

/// Ethernet destination and source addresses of every frame.
const MACS: [u8; 12] = [2, 0, 0x5e, 0x10, 0, 0xfe, 2, 0, 0x5e, 0x10, 0, 1];

impl<S: FrameSink> Reshape<S> {
    pub fn new(inner: S, shape: Shape) -> Self {
        Reshape {
            inner,
            shape,
            late: Vec::new(),
            last_ts_ns: 0,
            next_id: 1,
        }
    }

    /// Writes what was held back and returns the inner sink.
    pub fn finish(mut self) -> io::Result<S> {
        let ts = self.last_ts_ns + 40_000_000_000;
        for f in std::mem::take(&mut self.late) {
            self.emit(ts, &f)?;
        }
        Ok(self.inner)
    }

    fn emit(&mut self, ts_ns: u64, ip: &[u8]) -> io::Result<()> {
        let tags = match self.shape {
            Shape::Vlans(n) => n,
            _ => 0,
        };
        let mut f = MACS.to_vec();
        for i in 0..tags {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&(10 + i as u16).to_be_bytes());
        }
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        f.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
        f.extend_from_slice(ip);
        self.inner.write_frame(ts_ns, &f)
    }
}

impl<S: FrameSink> FrameSink for Reshape<S> {
    fn write_frame(&mut self, ts_ns: u64, ip: &[u8]) -> io::Result<()> {
        self.last_ts_ns = self.last_ts_ns.max(ts_ns);
        match self.shape.clone() {
            Shape::Vlans(_) => self.emit(ts_ns, ip),
            Shape::Ipv6Ext(exts) => self.emit(ts_ns, &with_exts(ip, &exts)),
            Shape::Ipv4Ah => self.emit(ts_ns, &with_ah(ip)),
            Shape::Fragments { v6, size, order } => {
                let id = self.next_id;
                self.next_id += 1;
                let header = if v6 { 40 } else { 20 };
                if ip.len() <= header + size {
                    return self.emit(ts_ns, ip);
                }
                let mut frags = if v6 {
                    fragment_v6(ip, size, id)
                } else {
                    fragment_v4(ip, size)
                };
                match order {
                    FragOrder::InOrder => {}
                    FragOrder::Reversed => frags.reverse(),
                    FragOrder::Duplicated => {
                        let last = frags.pop();
                        frags = frags.into_iter().flat_map(|f| [f.clone(), f]).collect();
                        frags.extend(last);
                    }
                    FragOrder::Conflicting => {
                        if let Some(first) = frags.first() {
                            let mut other = first.clone();
                            if let Some(b) = other.last_mut() {
                                *b ^= 0xff;
                            }
                            frags.insert(1, other);
                        }
                    }
                    FragOrder::Late => {
                        if let Some(last) = frags.pop() {
                            self.late.push(last);
                        }
                    }
                }
                for (i, f) in frags.iter().enumerate() {
                    self.emit(ts_ns + i as u64 * 1000, f)?;
                }
                Ok(())
            }
        }
    }
}

/// IPv6 packet `ip` with `exts` inserted between the fixed header and the transport header.
fn with_exts(ip: &[u8], exts: &[Ext]) -> Vec<u8> {
    let (Some(fixed), Some(rest)) = (ip.get(..40), ip.get(40..)) else {
        return ip.to_vec();
    };
    let mut out = fixed.to_vec();
    let mut next = fixed[6];
    let mut chain = Vec::new();
    for e in exts.iter().rev() {
        let h = match e {
            Ext::Routing => [next, 0, 253, 0, 0, 0, 0, 0],
            Ext::HopByHop | Ext::DestOpts => [next, 0, 1, 4, 0, 0, 0, 0],
        };
        chain.splice(0..0, h);
        next = e.number();
    }
    out[6] = next;
    let len = (rest.len() + chain.len()) as u16;
    out[4..6].copy_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&chain);
    out.extend_from_slice(rest);
    out
}

/// IPv4 packet `ip` with a 24-byte authentication header in front of its payload.
fn with_ah(ip: &[u8]) -> Vec<u8> {
    let (Some(h), Some(rest)) = (ip.get(..20), ip.get(20..)) else {
        return ip.to_vec();
    };
    let mut out = h.to_vec();
    let mut ah = vec![h[9], 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1];
    ah.extend_from_slice(&[0xa5; 12]);
    out[9] = 51;
    let total = (ip.len() + ah.len()) as u16;
    out[2..4].copy_from_slice(&total.to_be_bytes());
    set_v4_checksum(&mut out);
    out.extend_from_slice(&ah);
    out.extend_from_slice(rest);
    out
}

fn set_v4_checksum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let c = internet_checksum(&h[..20]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

/// IPv4 fragments of `ip` (options-free header), `size` bytes of payload each.
fn fragment_v4(ip: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (Some(h), Some(payload)) = (ip.get(..20), ip.get(20..)) else {
        return vec![ip.to_vec()];
    };
    let n = payload.len().div_ceil(size);
    (0..n)
        .map(|i| {
            let chunk = &payload[i * size..((i + 1) * size).min(payload.len())];
            let mut f = h.to_vec();
            let more = i + 1 < n;
            let field = ((i * size / 8) as u16) | if more { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&field.to_be_bytes());
            f[2..4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
            set_v4_checksum(&mut f);
            f.extend_from_slice(chunk);
            f
        })
        .collect()
}

/// IPv6 fragments of `ip` (no extension headers), `size` bytes of payload each.
fn fragment_v6(ip: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    let (Some(h), Some(payload)) = (ip.get(..40), ip.get(40..)) else {
        return vec![ip.to_vec()];
    };
    let n = payload.len().div_ceil(size);
    (0..n)
        .map(|i| {
            let chunk = &payload[i * size..((i + 1) * size).min(payload.len())];
            let mut f = h.to_vec();
            f[6] = 44;
            f[4..6].copy_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
            let more = i + 1 < n;
            let field = ((i * size) as u16) | u16::from(more);
            f.extend_from_slice(&[h[6], 0]);
            f.extend_from_slice(&field.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(chunk);
            f
        })
        .collect()
}

/// `n` NDB management conversations (`ndb_mgm show`) to port 3406, one after the other, the
/// first being conversation number `first` (each number has its own client and start time).
pub fn conversations(first: usize, n: usize, v6: bool) -> Vec<PlacedFlow> {
    (first..first + n)
        .map(|i| {
            let plan = TcpPlan {
                seed: 7 + i as u64,
                ..TcpPlan::default()
            };
            PlacedFlow {
                addr: flow_addr(i, v6, 41_000 + i as u16, 3406),
                start_ns: BASE_TS_NS + i as u64 * 500_000_000,
                packets: schedule(&ndb::show_80(), &plan),
                ip_id_seed: 100 + i as u16,
            }
        })
        .collect()
}

/// A classic pcap capture (Ethernet) of `flows`, every packet reshaped as `shape`.
pub fn capture(shape: Shape, flows: &[PlacedFlow]) -> Result<Vec<u8>, SynthError> {
    let writer = CaptureWriter::new(
        Vec::new(),
        CaptureFormat::PCAP_US,
        Link::Ethernet.linktype(),
    )?;
    let mut sink = Reshape::new(writer, shape);
    write_flows(&mut sink, &Encap::new(Link::Raw), flows)?;
    Ok(sink.finish()?.into_inner())
}

/// A capture whose consecutive groups of flows are reshaped differently: `(shape, flows)` in
/// time order (each group must start after the previous one ends).
pub fn capture_mixed(parts: &[(Shape, Vec<PlacedFlow>)]) -> Result<Vec<u8>, SynthError> {
    let mut writer = CaptureWriter::new(
        Vec::new(),
        CaptureFormat::PCAP_US,
        Link::Ethernet.linktype(),
    )?;
    for (shape, flows) in parts {
        let mut sink = Reshape::new(writer, shape.clone());
        write_flows(&mut sink, &Encap::new(Link::Raw), flows)?;
        writer = sink.finish()?;
    }
    Ok(writer.into_inner())
}

/// A fragment flood: `count` first fragments (`size` bytes of data each, a multiple of 8) of
/// distinct IPv4 datagrams to `port`, none ever completed, one every microsecond from
/// `base_ts_ns`, as classic pcap into `out`. Returns the frames written.
pub fn write_fragment_flood<W: io::Write>(
    out: W,
    count: u64,
    size: usize,
    port: u16,
    base_ts_ns: u64,
) -> Result<u64, SynthError> {
    use super::frame::{build_tcp_frame, tcp_flags, TcpFields};
    use super::{FlowAddr, Side};
    let writer = CaptureWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let mut sink = Reshape::new(writer, Shape::Vlans(0));
    let size = size.max(8) / 8 * 8;
    let payload = vec![b'x'; size * 2];
    let mut ip = Vec::new();
    let fields = TcpFields {
        seq: 1,
        ack: 1,
        flags: tcp_flags::ACK | tcp_flags::PSH,
        window: 502,
        syn_mss: 0,
    };
    for i in 0..count {
        let n = (i >> 16) as u32;
        let client = [10, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        let addr = FlowAddr::v4(client, 40_000, [192, 0, 2, 10], port);
        build_tcp_frame(
            &mut ip,
            &Encap::new(Link::Raw),
            &addr,
            Side::Client,
            i as u16,
            &fields,
            &payload,
        )?;
        if let Some(first) = fragment_v4(&ip, size).first() {
            sink.emit(base_ts_ns + i * 1000, first)?;
        }
    }
    sink.finish()?.into_inner().flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::decode::{decode, decode_frame, Decoded, LinkKind, SkipReason};

    fn frames(pcap: &[u8]) -> Vec<Vec<u8>> {
        crate::writer::classic_records(pcap)
            .into_iter()
            .map(|(_, f)| f.to_vec())
            .collect()
    }

    #[test]
    fn reshaped_frames_decode_to_port_3406() {
        let flows = conversations(0, 1, true);
        let ext = capture(
            Shape::Ipv6Ext(vec![Ext::HopByHop, Ext::Routing, Ext::DestOpts]),
            &flows,
        )
        .unwrap();
        for f in frames(&ext) {
            let v = decode(LinkKind::Ethernet, &f).unwrap();
            assert!(v.src_port == 3406 || v.dst_port == 3406);
        }
        let flows4 = conversations(0, 1, false);
        for shape in [Shape::Ipv4Ah, Shape::Vlans(8)] {
            for f in frames(&capture(shape, &flows4).unwrap()) {
                assert!(decode(LinkKind::Ethernet, &f).is_ok());
            }
        }
        for f in frames(&capture(Shape::Vlans(9), &flows4).unwrap()) {
            assert_eq!(
                decode(LinkKind::Ethernet, &f).unwrap_err(),
                SkipReason::VlanTooDeep
            );
        }
    }

    #[test]
    fn fragments_are_fragments() {
        for v6 in [false, true] {
            let flows = conversations(0, 1, v6);
            let shape = Shape::Fragments {
                v6,
                size: 16,
                order: FragOrder::InOrder,
            };
            let n = frames(&capture(shape, &flows).unwrap())
                .iter()
                .filter(|f| {
                    matches!(
                        decode_frame(LinkKind::Ethernet, f),
                        Ok(Decoded::Fragment(_))
                    )
                })
                .count();
            assert!(n > 10, "{n} fragments");
        }
    }
}
