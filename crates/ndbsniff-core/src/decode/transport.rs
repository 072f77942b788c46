//! The transport layer: TCP and UDP headers, the payload they leave, and the TCP fields the flow
//! tracker needs.

use etherparse::err::tcp;
use etherparse::{IpNumber, TcpHeaderSlice, UdpHeaderSlice};

use super::ip::IpPayload;
use super::{to_u32, PacketView, SkipReason};

/// Transport protocol of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
}

impl Transport {
    /// The name printed in reports: `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Serialized as its name ([`Transport::as_str`]).
impl serde::Serialize for Transport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// TCP header fields the flow tracker needs; all zero for UDP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful only with [`tcp_flags::ACK`]).
    pub ack: u32,
    /// The five flags of [`tcp_flags`]; other header bits (URG, ECE, CWR, NS) are masked off.
    pub flags: u8,
}

/// TCP flag bits as reported in [`TcpInfo::flags`].
pub mod tcp_flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// All bits [`super::TcpInfo::flags`] may carry.
    pub const MASK: u8 = FIN | SYN | RST | PSH | ACK;
}

const UDP_HEADER_LEN: usize = 8;

/// Byte of the TCP header holding the flag bits.
const TCP_FLAGS_BYTE: usize = 13;

/// TCP or UDP on top of the network layer.
#[inline]
pub(super) fn transport_layer<'a>(
    vlan: Option<u16>,
    net: &mut IpPayload<'a>,
) -> Result<PacketView<'a>, SkipReason> {
    match net.protocol {
        IpNumber::TCP => tcp_layer(vlan, net),
        IpNumber::UDP => udp_layer(vlan, net),
        _ => Err(SkipReason::NotTcpUdp),
    }
}

/// TCP header: ports, sequence numbers, flags; the payload follows the options.
#[inline]
fn tcp_layer<'a>(vlan: Option<u16>, net: &mut IpPayload<'a>) -> Result<PacketView<'a>, SkipReason> {
    let header = TcpHeaderSlice::from_slice(net.bytes).map_err(|e| match e {
        tcp::HeaderSliceError::Len(_) => net.short(SkipReason::MalformedTcp),
        tcp::HeaderSliceError::Content(_) => SkipReason::MalformedTcp,
    })?;
    let flags = header.slice().get(TCP_FLAGS_BYTE).copied().unwrap_or(0) & tcp_flags::MASK;
    let view = PacketView {
        vlan,
        src: net.src,
        dst: net.dst,
        src_port: header.source_port(),
        dst_port: header.destination_port(),
        transport: Transport::Tcp,
        tcp: TcpInfo {
            seq: header.sequence_number(),
            ack: header.acknowledgment_number(),
            flags,
        },
        payload: &[],
        payload_len: 0,
        tcp_header: header.slice(),
    };
    net.skip(header.slice().len());
    Ok(PacketView {
        payload: net.bytes,
        payload_len: to_u32(net.wire_len),
        ..view
    })
}

/// UDP header: ports; the UDP length bounds the payload unless it is 0.
#[inline]
fn udp_layer<'a>(vlan: Option<u16>, net: &mut IpPayload<'a>) -> Result<PacketView<'a>, SkipReason> {
    let header =
        UdpHeaderSlice::from_slice(net.bytes).map_err(|_| net.short(SkipReason::MalformedUdp))?;
    let udp_len = usize::from(header.length());
    let datagram_len = if udp_len == 0 {
        // Allowed for IPv6 jumbograms, and seen with segmentation offload: use the IP length.
        net.wire_len
    } else if udp_len < UDP_HEADER_LEN || (udp_len > net.wire_len && !net.len_from_frame) {
        return Err(SkipReason::MalformedUdp);
    } else {
        udp_len
    };
    let payload_len = datagram_len.saturating_sub(UDP_HEADER_LEN);
    let present = net.bytes.get(UDP_HEADER_LEN..).unwrap_or(&[]);
    Ok(PacketView {
        vlan,
        src: net.src,
        dst: net.dst,
        src_port: header.source_port(),
        dst_port: header.destination_port(),
        transport: Transport::Udp,
        tcp: TcpInfo::default(),
        payload: present.get(..payload_len).unwrap_or(present),
        payload_len: to_u32(payload_len),
        tcp_header: &[],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::*;
    use crate::decode::{decode, LinkKind};

    // ---- lengths ------------------------------------------------------------------------------------

    #[test]
    fn udp_length_zero_falls_back_to_the_ip_length() {
        let mut p = ipv6_udp();
        p[40 + 4] = 0;
        p[40 + 5] = 0;
        let v = decode(LinkKind::Raw, &p).unwrap();
        assert_eq!(v.payload, UDP_PAYLOAD);
        assert_eq!(v.payload_len, 4);
    }

    #[test]
    fn udp_length_shorter_than_ip_payload_bounds_the_payload() {
        let mut p = ipv4_udp();
        p[20 + 5] = 10; // UDP length 10: two payload bytes, the IP datagram carries two more.
        let v = decode(LinkKind::Raw, &p).unwrap();
        assert_eq!(v.payload, b"pi");
        assert_eq!(v.payload_len, 2);
    }

    #[test]
    fn tcp_options_are_skipped() {
        // Data offset 8: 12 bytes of options (MSS, NOP, NOP, SACK-permitted, NOP x4).
        let mut tcp = TCP_HDR.to_vec();
        tcp[12] = 0x80;
        tcp[13] = tcp_flags::SYN | 0xc0; // SYN with ECE|CWR, which are masked off.
        tcp.extend_from_slice(&[2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 1, 1, 1]);
        let mut ip = IPV4_TCP_HDR;
        ip[3] = 20 + 32;
        let f = cat(&[&ip, &tcp]);
        let v = decode(LinkKind::Ipv4, &f).unwrap();
        assert_eq!(v.tcp.flags, tcp_flags::SYN);
        assert!(v.payload.is_empty());
        assert_eq!(v.payload_len, 0);
    }

    // ---- other protocols ----------------------------------------------------------------------------

    #[test]
    fn other_ip_protocols_are_not_tcp_udp() {
        // (4, 41 and 47 carry tunnels: see `tunnel.rs`.)
        for protocol in [1u8, 2, 50, 132] {
            let mut p = ipv4_tcp();
            p[9] = protocol;
            assert_eq!(
                skip(LinkKind::Raw, &p),
                SkipReason::NotTcpUdp,
                "proto {protocol}"
            );
        }
        for next in [58u8, 59, 50] {
            let mut p = ipv6_tcp();
            p[6] = next;
            assert_eq!(
                skip(LinkKind::Raw, &p),
                SkipReason::NotTcpUdp,
                "next {next}"
            );
        }
    }

    // ---- malformed headers --------------------------------------------------------------------------

    #[test]
    fn malformed_tcp_headers() {
        let mut p = ipv4_tcp();
        p[20 + 12] = 0x40; // data offset 4
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedTcp);
        // Data offset 15 (60 bytes) in a datagram of 25 bytes, with padding behind: malformed.
        let mut p = cat(&[&ipv4_tcp(), &[0u8; 60]]);
        p[20 + 12] = 0xf0;
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedTcp);
        // IP total length leaves no room for a TCP header although the frame has one.
        let mut p = ipv4_tcp();
        p[3] = 30;
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedTcp);
    }

    #[test]
    fn malformed_udp_headers() {
        let mut p = ipv4_udp();
        p[20 + 5] = 7; // UDP length below the header
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedUdp);
        let mut p = cat(&[&ipv4_udp(), &[0u8; 10]]);
        p[20 + 5] = 20; // beyond the 12-byte IP payload, although the frame has the bytes
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedUdp);
        let mut p = ipv4_udp();
        p[3] = 24; // IP payload of 4 bytes cannot hold a UDP header
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedUdp);
    }
}
