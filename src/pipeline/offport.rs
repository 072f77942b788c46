//! What the port filter turned away, while nothing on the watched ports had been seen: enough to
//! tell the operator in one line where the traffic was ("no packets on port 3406; 26 packets of
//! NDB management traffic on port 1186: try --port 1186 or --any-port").
//!
//! Owns: the tally (packets per server port, and how many of them open with an NDB management
//! command or reply line) and the hint line made from it.
//! Never: classifies. A frame is decoded (no copy) and its first payload line looked up in the
//! command table; the tally stops for good once a watched packet has been seen, so a capture
//! with watched traffic pays for at most the frames in front of its first watched packet.
//! Bounded by the port space: at most 65,536 entries.

use std::collections::HashMap;

use ndbsniff_core::classify::ndb_mgm::grammar::Command;
use ndbsniff_core::decode::{tcp_flags, PacketView, Transport};

/// Ports named in a hint line, at most.
const PORTS_NAMED: usize = 3;

/// Packets the port filter turned away, by the port their server seems to listen on.
#[derive(Debug, Default)]
pub struct OffPort {
    /// TCP or UDP packets counted.
    pub packets: u64,
    by_port: HashMap<u16, Seen>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    packets: u64,
    /// Packets whose payload opens with an NDB management command line (client to server) or
    /// a reply header line (server to client).
    ndb: u64,
}

impl OffPort {
    /// Counts one decoded packet that the watched ports do not take.
    pub fn observe(&mut self, v: &PacketView<'_>) {
        self.packets += 1;
        let (port, ndb) = match ndb_line(v.payload) {
            Some(NdbLine::Request) => (v.dst_port, true),
            Some(NdbLine::Reply) => (v.src_port, true),
            None => (server_port(v), false),
        };
        let seen = self.by_port.entry(port).or_default();
        seen.packets += 1;
        seen.ndb += u64::from(ndb);
    }

    /// The line for the operator when the watched ports (`watching`, e.g. `port 3406`) saw no
    /// packet; `None` when nothing else was seen either.
    pub fn hint(&self, watching: &str) -> Option<String> {
        if self.packets == 0 {
            return None;
        }
        let mut ndb: Vec<(u16, u64)> = self
            .by_port
            .iter()
            .filter(|(_, s)| s.ndb > 0)
            .map(|(&p, s)| (p, s.packets))
            .collect();
        if !ndb.is_empty() {
            ndb.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ndb.truncate(PORTS_NAMED);
            let ndb_packets: u64 = ndb.iter().map(|(_, n)| n).sum();
            let ports = ndb.iter().map(|(p, _)| p.to_string()).collect::<Vec<_>>();
            let plural = if ports.len() == 1 { "" } else { "s" };
            return Some(format!(
                "no packets on {watching}; {ndb_packets} packet{} of NDB management traffic on \
                 port{plural} {}: try --port {} or --any-port",
                if ndb_packets == 1 { "" } else { "s" },
                ports.join(", "),
                ports.join(","),
            ));
        }
        let mut top: Vec<(u16, u64)> = self.by_port.iter().map(|(&p, s)| (p, s.packets)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(PORTS_NAMED);
        let named = top
            .iter()
            .map(|(p, n)| format!("{p} ({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!(
            "no packets on {watching}; {} TCP/UDP packet{} on other ports (most on {named}), none \
             opening like NDB management traffic: --any-port classifies them all",
            self.packets,
            if self.packets == 1 { "" } else { "s" },
        ))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NdbLine {
    Request,
    Reply,
}

/// Whether a payload opens with a line of the management protocol: a command of the server's
/// table (`get nodeid`), or its reply header (`get nodeid reply`).
fn ndb_line(payload: &[u8]) -> Option<NdbLine> {
    let end = payload.iter().take(64).position(|&b| b == b'\n')?;
    let line = payload[..end]
        .strip_suffix(b"\r")
        .unwrap_or(&payload[..end]);
    if Command::find(line).is_some() {
        return Some(NdbLine::Request);
    }
    let cmd = line.strip_suffix(b" reply")?;
    Command::find(cmd).map(|_| NdbLine::Reply)
}

/// The port a packet's server most likely listens on: a SYN's destination, a SYN-ACK's source,
/// otherwise the lower of the two ports.
fn server_port(v: &PacketView<'_>) -> u16 {
    if v.transport == Transport::Tcp && v.tcp.flags & tcp_flags::SYN != 0 {
        if v.tcp.flags & tcp_flags::ACK != 0 {
            return v.src_port;
        }
        return v.dst_port;
    }
    v.src_port.min(v.dst_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::decode::TcpInfo;
    use std::net::{IpAddr, Ipv4Addr};

    fn view(src_port: u16, dst_port: u16, flags: u8, payload: &[u8]) -> PacketView<'_> {
        PacketView {
            vlan: None,
            src: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
            src_port,
            dst_port,
            transport: Transport::Tcp,
            tcp: TcpInfo {
                seq: 0,
                ack: 0,
                flags,
            },
            payload,
            payload_len: payload.len() as u32,
            tcp_header: &[],
        }
    }

    #[test]
    fn ndb_traffic_on_another_port_is_named() {
        let mut t = OffPort::default();
        t.observe(&view(50000, 1186, tcp_flags::SYN, b""));
        t.observe(&view(1186, 50000, tcp_flags::SYN | tcp_flags::ACK, b""));
        t.observe(&view(
            50000,
            1186,
            tcp_flags::ACK,
            b"get nodeid\nversion: 1\n",
        ));
        t.observe(&view(
            1186,
            50000,
            tcp_flags::ACK,
            b"get nodeid reply\r\nnodeid: 3\n",
        ));
        t.observe(&view(40000, 443, tcp_flags::ACK, b"\x16\x03\x01"));
        assert_eq!(
            t.hint("port 3406").as_deref(),
            Some(
                "no packets on port 3406; 4 packets of NDB management traffic on port 1186: \
                 try --port 1186 or --any-port"
            )
        );
    }

    #[test]
    fn other_traffic_is_summed_by_port() {
        let mut t = OffPort::default();
        for _ in 0..3 {
            t.observe(&view(40000, 443, tcp_flags::ACK, b"x"));
        }
        t.observe(&view(53, 40001, 0, b"y"));
        assert_eq!(
            t.hint("ports 1186, 3406").as_deref(),
            Some(
                "no packets on ports 1186, 3406; 4 TCP/UDP packets on other ports (most on \
                 443 (3), 53 (1)), none opening like NDB management traffic: --any-port \
                 classifies them all"
            )
        );
        assert_eq!(OffPort::default().hint("port 3406"), None);
    }

    #[test]
    fn only_whole_command_lines_count_as_ndb() {
        assert_eq!(ndb_line(b"get nodeid\n"), Some(NdbLine::Request));
        assert_eq!(ndb_line(b"get nodeid reply\n"), Some(NdbLine::Reply));
        assert_eq!(ndb_line(b"get nodeid"), None); // no end of line yet
        assert_eq!(ndb_line(b"get nodeidx\n"), None);
        assert_eq!(ndb_line(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(ndb_line(b""), None);
        let long = [b'a'; 200];
        assert_eq!(ndb_line(&long), None);
    }
}
