//! A SYN flood capture: many distinct connection attempts that never complete.
//!
//! Owns: the stress input for bounded flow state — every SYN opens a new flow that carries no
//! payload and never closes, so only `--max-flows` keeps the table in check. Deterministic: the
//! n-th SYN always has the same addresses, ports, sequence number and time.
//!
//! Never: reads the clock or keeps packets in memory.

use std::io::{self, Write};

use super::frame::{build_tcp_frame, tcp_flags, Encap, Link, TcpFields};
use super::writer::{CaptureFormat, FrameSink, PcapWriter};
use super::{FlowAddr, Side, SplitMix64};

/// Microseconds between two SYNs: 2 M SYNs span two seconds, far below any idle timeout.
const GAP_NS: u64 = 1_000;

/// Writes `count` SYNs from distinct client endpoints in 198.18.0.0/15 (the benchmarking range)
/// to `server_port` on 192.0.2.1, as a classic Ethernet pcap. Returns the number written.
pub fn write_syn_flood<W: Write>(
    out: W,
    count: u64,
    server_port: u16,
    seed: u64,
    start_ns: u64,
) -> io::Result<u64> {
    let syns = Syns {
        count,
        seed,
        start_ns,
        gap_ns: GAP_NS,
        mss: 1460,
    };
    write_syns(out, &syns, |i, _| flood_addr(i, server_port))
}

/// The endpoints of flow `i` of a flood: a client in 198.18.0.0/15 (the benchmarking range),
/// distinct for 2^31 flows, to `server_port` on 192.0.2.1.
pub fn flood_addr(i: u64, server_port: u16) -> FlowAddr {
    const PORTS: u64 = 64_000;
    let host = (i / PORTS) as u32;
    let client = [
        198,
        18 + ((host >> 16) & 1) as u8,
        (host >> 8) as u8,
        host as u8,
    ];
    FlowAddr::v4(
        client,
        1024 + (i % PORTS) as u16,
        [192, 0, 2, 1],
        server_port,
    )
}

/// How [`write_syns`] lays out its SYNs in time and what they carry.
pub struct Syns {
    pub count: u64,
    /// Seeds the sequence numbers (and whatever `addr` draws).
    pub seed: u64,
    pub start_ns: u64,
    /// Capture time between two SYNs.
    pub gap_ns: u64,
    /// The MSS option of every SYN.
    pub mss: u16,
}

/// Writes `syns.count` SYNs as a classic Ethernet pcap, the `i`-th between the endpoints
/// `addr(i, rng)` returns (client first), with a random initial sequence number drawn after
/// the addresses. Returns the number written.
pub fn write_syns<W: Write>(
    out: W,
    syns: &Syns,
    mut addr: impl FnMut(u64, &mut SplitMix64) -> FlowAddr,
) -> io::Result<u64> {
    let mut writer = PcapWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let encap = Encap::new(Link::Ethernet);
    let mut rng = SplitMix64::new(syns.seed);
    let mut frame = Vec::with_capacity(128);
    for i in 0..syns.count {
        let addr = addr(i, &mut rng);
        let tcp = TcpFields {
            seq: rng.next_u32(),
            ack: 0,
            flags: tcp_flags::SYN,
            window: 64_240,
            syn_mss: syns.mss,
        };
        build_tcp_frame(&mut frame, &encap, &addr, Side::Client, i as u16, &tcp, &[])
            .map_err(|e| io::Error::other(e.to_string()))?;
        let ts = syns.start_ns.saturating_add(i.saturating_mul(syns.gap_ns));
        writer.write_frame(ts, &frame)?;
    }
    writer.into_inner().flush()?;
    Ok(syns.count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::decode::{decode, LinkKind};

    #[test]
    fn every_syn_is_a_new_flow_and_output_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_syn_flood(&mut a, 200_000, 3406, 7, 0).unwrap();
        write_syn_flood(&mut b, 200_000, 3406, 7, 0).unwrap();
        assert_eq!(a, b);
        // Walk the records: every frame is a SYN to 3406 from an endpoint not seen before.
        let mut seen = std::collections::HashSet::new();
        for (_, frame) in crate::writer::classic_records(&a) {
            let view = decode(LinkKind::Ethernet, frame).unwrap();
            assert_eq!(view.dst_port, 3406);
            assert_eq!(view.tcp.flags, tcp_flags::SYN);
            assert!(seen.insert((view.src, view.src_port)));
        }
        assert_eq!(seen.len(), 200_000);
    }
}
