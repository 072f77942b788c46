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
    let mut writer = PcapWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let encap = Encap::new(Link::Ethernet);
    let mut rng = SplitMix64::new(seed);
    let mut frame = Vec::with_capacity(128);
    const PORTS: u64 = 64_000;
    for i in 0..count {
        let host = (i / PORTS) as u32;
        let client = [
            198,
            18 + ((host >> 16) & 1) as u8,
            (host >> 8) as u8,
            host as u8,
        ];
        let addr = FlowAddr::v4(
            client,
            1024 + (i % PORTS) as u16,
            [192, 0, 2, 1],
            server_port,
        );
        let tcp = TcpFields {
            seq: rng.next_u32(),
            ack: 0,
            flags: tcp_flags::SYN,
            window: 64_240,
            syn_mss: 1460,
        };
        build_tcp_frame(&mut frame, &encap, &addr, Side::Client, i as u16, &tcp, &[])
            .map_err(|e| io::Error::other(e.to_string()))?;
        writer.write_frame(start_ns + i * GAP_NS, &frame)?;
    }
    writer.into_inner().flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkKind};

    #[test]
    fn every_syn_is_a_new_flow_and_output_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_syn_flood(&mut a, 200_000, 3406, 7, 0).unwrap();
        write_syn_flood(&mut b, 200_000, 3406, 7, 0).unwrap();
        assert_eq!(a, b);
        // Walk the records: every frame is a SYN to 3406 from an endpoint not seen before.
        let mut seen = std::collections::HashSet::new();
        for (_, frame) in crate::synth::writer::classic_records(&a) {
            let view = decode(LinkKind::Ethernet, frame).unwrap();
            assert_eq!(view.dst_port, 3406);
            assert_eq!(view.tcp.flags, tcp_flags::SYN);
            assert!(seen.insert((view.src, view.src_port)));
        }
        assert_eq!(seen.len(), 200_000);
    }
}
