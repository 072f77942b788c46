//! A server scan capture: one scanner probing many distinct servers on one port.
//!
//! Owns: the stress input for the report's per-server state — every probed server is a new
//! server endpoint (a SYN, and a SYN-ACK when the server answers), so only the report's bounds
//! keep the server table and the distinct-server count in check. A few servers can be made
//! interesting: every `ndb_every`-th one carries a complete NDB management conversation, and
//! every `busy_every`-th one is probed several times. Deterministic: the n-th server always
//! has the same address, ports, sequence numbers and times.
//!
//! Never: reads the clock or keeps more than one conversation's packets in memory.

use std::io::{self, Write};

use super::frame::{build_tcp_frame, tcp_flags, Encap, Link, TcpFields};
use super::writer::{CaptureFormat, FrameSink, PcapWriter};
use super::{ndb, schedule, write_flows, FlowAddr, PlacedFlow, Side, SplitMix64, TcpPlan};

/// Nanoseconds between two probe packets: 1,000,000 servers span a few seconds.
const GAP_NS: u64 = 1_000;
/// Probes sent to a busy server (each from a new client port, each a flow of its own).
pub const BUSY_PROBES: u64 = 3;

/// What to write.
#[derive(Clone, Copy, Debug)]
pub struct ScanSpec {
    /// Distinct servers probed.
    pub servers: u64,
    /// The port probed on each.
    pub port: u16,
    /// Every `ndb_every`-th server (0: none) answers and speaks the NDB management protocol
    /// (`ndb_mgm -e show`), from a client of its own.
    pub ndb_every: u64,
    /// Every `busy_every`-th server (0: none) is probed [`BUSY_PROBES`] times.
    pub busy_every: u64,
    /// Servers answer a SYN with a SYN-ACK.
    pub syn_ack: bool,
    /// Seed of the sequence numbers.
    pub seed: u64,
    /// Time of the first packet, nanoseconds since the Unix epoch.
    pub start_ns: u64,
}

impl ScanSpec {
    /// A scan of `servers` servers on `port`: SYNs only, no NDB server, none probed twice.
    pub fn new(servers: u64, port: u16) -> ScanSpec {
        ScanSpec {
            servers,
            port,
            ndb_every: 0,
            busy_every: 0,
            syn_ack: false,
            seed: 1,
            start_ns: super::testdata::BASE_TS_NS,
        }
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub packets: u64,
    pub flows: u64,
    pub servers: u64,
    pub ndb_servers: u64,
}

/// The address of server `i`: 10.0.0.0/8 from 10.0.0.1 on (16,777,214 of them), then IPv6.
pub fn server_ip(i: u64) -> std::net::IpAddr {
    let n = i + 1;
    if n < 1 << 24 {
        std::net::IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8])
    } else {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[8..].copy_from_slice(&n.to_be_bytes());
        std::net::IpAddr::from(a)
    }
}

/// A flow from `client` (an IPv4 address, put in 2001:db8::/32 for an IPv6 server) to `server`.
fn addr(client: [u8; 4], client_port: u16, server: std::net::IpAddr, port: u16) -> FlowAddr {
    match server {
        std::net::IpAddr::V4(s) => FlowAddr::v4(client, client_port, s.octets(), port),
        std::net::IpAddr::V6(s) => {
            let mut c = [0u8; 16];
            c[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            c[4..8].copy_from_slice(&client);
            FlowAddr::v6(c, client_port, s.octets(), port)
        }
    }
}

/// Writes the scan as a classic Ethernet pcap (microsecond timestamps).
pub fn write_server_scan<W: Write>(out: W, spec: &ScanSpec) -> io::Result<ScanStats> {
    let mut writer = PcapWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let encap = Encap::new(Link::Ethernet);
    let mut rng = SplitMix64::new(spec.seed);
    let mut frame = Vec::with_capacity(128);
    let mut stats = ScanStats::default();
    let mut ts = spec.start_ns;
    // The scanner: 198.18.0.1, one source port after the other.
    let scanner = [198, 18, 0, 1];
    let mut next_port: u32 = 0;
    // Never the probed port itself, so the scanner's end never looks like a server.
    let mut probe_port = || loop {
        let p = 1024 + (next_port % 64_000) as u16;
        next_port = next_port.wrapping_add(1);
        if p != spec.port {
            break p;
        }
    };
    let every = |n: u64, i: u64| n != 0 && i % n == n - 1;
    let script = ndb::show_80();
    for i in 0..spec.servers {
        let server = server_ip(i);
        stats.servers += 1;
        if every(spec.ndb_every, i) {
            // A management client of its own (198.19.x.y) running `ndb_mgm -e show`.
            let client = [
                198,
                19,
                (stats.ndb_servers >> 8) as u8,
                stats.ndb_servers as u8,
            ];
            let plan = TcpPlan {
                seed: spec.seed ^ i,
                ..TcpPlan::default()
            };
            let cport = 40_000 + (i % 20_000) as u16;
            let cport = if cport == spec.port { cport + 1 } else { cport };
            let packets = schedule(&script, &plan);
            let last = packets
                .len()
                .checked_sub(1)
                .and_then(|l| packets.ts_ns(l))
                .unwrap_or(0);
            let flow = PlacedFlow {
                addr: addr(client, cport, server, spec.port),
                start_ns: ts,
                packets,
                ip_id_seed: i as u16,
            };
            stats.packets += write_flows(&mut writer, &encap, &[flow])
                .map_err(|e| io::Error::other(e.to_string()))?;
            ts = ts.saturating_add(last).saturating_add(GAP_NS);
            stats.flows += 1;
            stats.ndb_servers += 1;
            continue;
        }
        let probes = if every(spec.busy_every, i) {
            BUSY_PROBES
        } else {
            1
        };
        for _ in 0..probes {
            let a = addr(scanner, probe_port(), server, spec.port);
            let seq = rng.next_u32();
            let syn = TcpFields {
                seq,
                ack: 0,
                flags: tcp_flags::SYN,
                window: 1024,
                syn_mss: 1460,
            };
            build_tcp_frame(&mut frame, &encap, &a, Side::Client, i as u16, &syn, &[])
                .map_err(|e| io::Error::other(e.to_string()))?;
            writer.write_frame(ts, &frame)?;
            ts += GAP_NS;
            stats.packets += 1;
            if spec.syn_ack {
                let reply = TcpFields {
                    seq: rng.next_u32(),
                    ack: seq.wrapping_add(1),
                    flags: tcp_flags::SYN | tcp_flags::ACK,
                    window: 64_240,
                    syn_mss: 1460,
                };
                build_tcp_frame(&mut frame, &encap, &a, Side::Server, 0, &reply, &[])
                    .map_err(|e| io::Error::other(e.to_string()))?;
                writer.write_frame(ts, &frame)?;
                ts += GAP_NS;
                stats.packets += 1;
            }
            stats.flows += 1;
        }
    }
    writer.into_inner().flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::decode::{decode, LinkKind};

    #[test]
    fn every_server_is_new_and_output_is_deterministic() {
        let spec = ScanSpec {
            ndb_every: 100,
            busy_every: 7,
            syn_ack: true,
            ..ScanSpec::new(5_000, 3406)
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        let stats = write_server_scan(&mut a, &spec).unwrap();
        write_server_scan(&mut b, &spec).unwrap();
        assert_eq!(a, b);
        assert_eq!(stats.servers, 5_000);
        assert_eq!(stats.ndb_servers, 50);
        let mut servers = std::collections::BTreeSet::new();
        let mut payload_servers = std::collections::BTreeSet::new();
        let mut syns = 0u64;
        let records = crate::writer::classic_records(&a);
        let mut packets = 0;
        for (_, frame) in &records {
            let view = decode(LinkKind::Ethernet, frame).unwrap();
            let server = if view.dst_port == 3406 {
                view.dst
            } else {
                assert_eq!(view.src_port, 3406);
                view.src
            };
            servers.insert(server);
            if !view.payload.is_empty() {
                payload_servers.insert(server);
            }
            syns += u64::from(view.tcp.flags == tcp_flags::SYN);
            packets += 1;
        }
        let read: usize = records.iter().map(|(_, f)| 16 + f.len()).sum();
        assert_eq!(24 + read, a.len(), "every byte is in a record");
        assert_eq!(packets, stats.packets);
        assert_eq!(servers.len(), 5_000);
        assert_eq!(payload_servers.len(), 50);
        // 4,950 probed servers, 707 of them three times; the 50 NDB flows open with a SYN too.
        let busy = (0..5_000u64)
            .filter(|i| i % 7 == 6 && i % 100 != 99)
            .count() as u64;
        assert_eq!(syns, 4_950 + 2 * busy + 50);
        assert_eq!(stats.flows, 4_950 + 2 * busy + 50);
    }

    #[test]
    fn addresses_stay_distinct_past_ipv4() {
        let a = server_ip((1 << 24) - 2);
        let b = server_ip((1 << 24) - 1);
        assert_eq!(a, std::net::IpAddr::from([10, 255, 255, 255]));
        assert!(b.is_ipv6());
        assert_ne!(server_ip(1 << 25), server_ip((1 << 25) + 1));
    }
}
