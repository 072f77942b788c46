//! Link-layer to transport decoding: turns one captured frame into a [`PacketView`] that borrows
//! the frame (no layer is copied), or into a [`SkipReason`] that the summary counts.
//!
//! This module owns the mapping from libpcap link types to decoders, the walk through link
//! headers (Ethernet II with stacked VLAN tags, BSD loopback, raw IP, Linux cooked v1 and v2), the
//! IPv4/IPv6 layer (IPv4 authentication header, IPv6 extension headers) and the TCP/UDP header.
//! Header layouts from IP upwards are read through `etherparse` slice types.
//!
//! It must never panic on any input bytes, never allocate, and never reassemble: [`decode_frame`]
//! hands an IP fragment back as a [`Fragment`] (for [`crate::frag`] to put together, after which
//! [`decode_datagram`] decodes the whole datagram), and [`decode`] reports it as
//! [`SkipReason::IpFragment`]. Tunnels (VXLAN, Geneve, GRE, MPLS, PPPoE, IP in IP) are walked to
//! the inner packet ([`tunnel`]); [`decode_frame_in`] says which layers it was inside. At most
//! [`MAX_VLAN_TAGS`] VLAN tags are followed; a deeper stack is [`SkipReason::VlanTooDeep`]. It
//! knows nothing about flows.
//!
//! Length rules, in one place:
//! - `payload` holds the transport payload bytes that are present in the frame. It never
//!   extends past the end of the IP datagram (Ethernet padding is excluded) nor past the UDP
//!   length, and is shorter than `payload_len` when the capture cut the frame (snaplen).
//! - `payload_len` is the payload length the headers announce, i.e. what was on the wire.
//!   When the IPv4 total length or the IPv6 payload length is 0 (segmentation offload captures,
//!   jumbograms) the datagram is taken to end where the captured frame ends.
//! - A header that does not fit is [`SkipReason::Truncated`] when the frame ends first, and the
//!   layer's `Malformed*` reason when the enclosing length field (IP total length, …) ends first.
//!
//! The layers are one file each: `link.rs` (link types, Ethernet and VLAN tags, BSD loopback,
//! raw IP, Linux cooked), `ip.rs` (IPv4 and IPv6, extension headers, the authentication header,
//! fragments), `transport.rs` (TCP and UDP) and `tunnel.rs` (the tunnel headers and the
//! [`Tunnel`] stack); this file holds what they hand each other and the entry points.

use std::net::IpAddr;

use etherparse::IpNumber;

mod ip;
mod link;
mod transport;
pub mod tunnel;

pub use ip::Fragment;
pub use link::{LinkKind, MAX_VLAN_TAGS};
pub use transport::{tcp_flags, TcpInfo, Transport};
pub use tunnel::{Tunnel, TunnelKind, TunnelLayer, MAX_TUNNEL_LAYERS};

use ip::{ipv4_auth, ipv4_layer, ipv6_exts, ipv6_layer, IpPayload, Net};
use link::{link_layer, L3};
use transport::transport_layer;

/// One decoded TCP or UDP packet, borrowing the captured frame.
#[derive(Clone, Debug)]
pub struct PacketView<'a> {
    /// Outermost VLAN id (12 bits; 0 for a priority-only tag), `None` when untagged.
    pub vlan: Option<u16>,
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address.
    pub dst: IpAddr,
    /// Transport source port.
    pub src_port: u16,
    /// Transport destination port.
    pub dst_port: u16,
    /// TCP or UDP.
    pub transport: Transport,
    /// TCP sequence, acknowledgment and flags; zeroed for UDP.
    pub tcp: TcpInfo,
    /// Transport payload bytes present in the frame (shorter than `payload_len` when cut).
    pub payload: &'a [u8],
    /// Transport payload length announced by the IP/TCP/UDP headers (what was on the wire).
    pub payload_len: u32,
    /// The TCP header as captured, options included (empty for UDP): for checksums.
    pub tcp_header: &'a [u8],
}

/// Why a frame was not turned into a [`PacketView`]; each reason is a counter in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The link layer (or a tunnel) carries something other than IPv4/IPv6 (ARP, LLDP, 802.3
    /// LLC, PPP control, …).
    NotIp,
    /// IP carries something other than TCP/UDP (ICMP, ESP, SCTP, …).
    NotTcpUdp,
    /// An IPv4 fragment or an IPv6 fragment header that fragments ([`decode`] only: the capture
    /// thread reassembles fragments, see [`crate::frag`]).
    IpFragment,
    /// The captured frame ends inside a header.
    Truncated,
    /// Impossible link-layer header values (a loopback header holding no address family).
    MalformedLink,
    /// Impossible IP header values (wrong version, IHL < 5, total length below header length, …).
    MalformedIp,
    /// Impossible TCP header values (data offset < 5, header longer than the IP datagram).
    MalformedTcp,
    /// Impossible UDP header values (length below 8 or beyond the IP datagram).
    MalformedUdp,
    /// More than [`MAX_VLAN_TAGS`] VLAN tags in front of the IP header.
    VlanTooDeep,
    /// More than [`MAX_TUNNEL_LAYERS`] tunnel layers, or more than
    /// [`tunnel::MAX_MPLS_LABELS`] MPLS labels in one stack.
    TunnelTooDeep,
    /// An IP fragment inside a tunnel (not reassembled).
    TunnelFragment,
    /// Impossible tunnel header values (GRE with routing or an unknown version, a PPPoE
    /// session header of another version or code, …).
    MalformedTunnel,
    /// A frame of a pcapng interface whose link type is not decoded (never returned by the
    /// decoder: the capture counts it).
    UnsupportedLink,
}

impl SkipReason {
    /// Every reason, in declaration order (so `ALL[r.index()] == r`).
    pub const ALL: [SkipReason; 13] = [
        SkipReason::NotIp,
        SkipReason::NotTcpUdp,
        SkipReason::IpFragment,
        SkipReason::Truncated,
        SkipReason::MalformedLink,
        SkipReason::MalformedIp,
        SkipReason::MalformedTcp,
        SkipReason::MalformedUdp,
        SkipReason::VlanTooDeep,
        SkipReason::TunnelTooDeep,
        SkipReason::TunnelFragment,
        SkipReason::MalformedTunnel,
        SkipReason::UnsupportedLink,
    ];

    /// Stable kebab-case label used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotIp => "not-ip",
            SkipReason::NotTcpUdp => "not-tcp-udp",
            SkipReason::IpFragment => "ip-fragment",
            SkipReason::Truncated => "truncated",
            SkipReason::MalformedLink => "malformed-link",
            SkipReason::MalformedIp => "malformed-ip",
            SkipReason::MalformedTcp => "malformed-tcp",
            SkipReason::MalformedUdp => "malformed-udp",
            SkipReason::VlanTooDeep => "vlan-too-deep",
            SkipReason::TunnelTooDeep => "tunnel-too-deep",
            SkipReason::TunnelFragment => "tunnel-fragment",
            SkipReason::MalformedTunnel => "malformed-tunnel",
            SkipReason::UnsupportedLink => "unsupported-link-type",
        }
    }

    /// Position in [`SkipReason::ALL`], for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What [`decode_frame`] found in a frame: a whole TCP/UDP packet, or one IP fragment.
#[derive(Clone, Debug)]
pub enum Decoded<'a> {
    /// A TCP or UDP packet.
    Packet(PacketView<'a>),
    /// A fragment of an IPv4 or IPv6 datagram (of any protocol: the ports are in the first one).
    Fragment(Fragment<'a>),
}

/// Decodes one captured frame of the given link type down to its TCP or UDP payload.
///
/// Never panics, never allocates; see the module documentation for the length rules. IP
/// fragments are [`SkipReason::IpFragment`]; [`decode_frame`] returns them instead.
///
/// ```
/// use ndbsniff_core::decode::{decode, LinkKind, Transport};
/// // Raw IPv4 + UDP 4660 -> 3406 carrying "hi".
/// let frame = [
///     0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
///     0x12, 0x34, 0x0d, 0x4e, 0, 10, 0, 0, b'h', b'i',
/// ];
/// let view = decode(LinkKind::Raw, &frame).unwrap();
/// assert_eq!(view.transport, Transport::Udp);
/// assert_eq!((view.src_port, view.dst_port), (4660, 3406));
/// assert_eq!(view.payload, b"hi");
/// ```
#[inline]
pub fn decode(link: LinkKind, frame: &[u8]) -> Result<PacketView<'_>, SkipReason> {
    match decode_frame(link, frame)? {
        Decoded::Packet(view) => Ok(view),
        Decoded::Fragment(_) => Err(SkipReason::IpFragment),
    }
}

/// Decodes one captured frame like [`decode`], but hands IP fragments back as
/// [`Decoded::Fragment`] instead of skipping them. Tunnels are walked as by
/// [`decode_frame_in`], which also says which layers the packet was inside.
#[inline]
pub fn decode_frame(link: LinkKind, frame: &[u8]) -> Result<Decoded<'_>, SkipReason> {
    decode_frame_in(link, frame, &mut Tunnel::default())
}

/// Decodes one captured frame like [`decode_frame`], and puts the tunnel layers it walked into
/// `tunnel`, outermost first (left empty for a packet in no tunnel). A fragment is handed back
/// only when it is in no tunnel.
///
/// ```
/// use ndbsniff_core::decode::{decode_frame_in, Decoded, LinkKind, Tunnel};
/// // Raw IPv4 carrying IPv4 (protocol 4) carrying UDP 4660 -> 3406 "hi".
/// let inner = [
///     0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
///     0x12, 0x34, 0x0d, 0x4e, 0, 10, 0, 0, b'h', b'i',
/// ];
/// let mut frame = vec![0x45, 0, 0, 50, 0, 0, 0, 0, 64, 4, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
/// frame.extend_from_slice(&inner);
/// let mut tunnel = Tunnel::default();
/// let Ok(Decoded::Packet(view)) = decode_frame_in(LinkKind::Raw, &frame, &mut tunnel) else {
///     panic!("not decoded");
/// };
/// assert_eq!(view.payload, b"hi");
/// assert_eq!(tunnel.kinds(), "ipip");
/// ```
#[inline]
pub fn decode_frame_in<'a>(
    link: LinkKind,
    frame: &'a [u8],
    tunnel: &mut Tunnel,
) -> Result<Decoded<'a>, SkipReason> {
    tunnel.clear();
    let (vlan, l3, bytes) = link_layer(link, frame)?;
    network(vlan, l3, bytes, tunnel)
}

/// The network layer and what is above it; tunnels are handed to [`tunnel`], which comes back
/// here for the inner packet.
#[inline]
fn network<'a>(
    vlan: Option<u16>,
    l3: L3,
    bytes: &'a [u8],
    tunnel: &mut Tunnel,
) -> Result<Decoded<'a>, SkipReason> {
    let net = match l3 {
        L3::V4 => ipv4_layer(bytes),
        L3::V6 => ipv6_layer(bytes),
        L3::Mpls | L3::Pppoe => return tunnel::link_tunnel(vlan, l3, bytes, tunnel),
    };
    let mut net = match net? {
        Net::Whole(net) => net,
        Net::Fragment(_) if !tunnel.is_empty() => return Err(SkipReason::TunnelFragment),
        Net::Fragment(mut f) => {
            f.vlan = vlan;
            return Ok(Decoded::Fragment(f));
        }
    };
    if let tunnel::proto::IPV4_IN_IP | tunnel::proto::IPV6_IN_IP | tunnel::proto::GRE =
        net.protocol.0
    {
        return tunnel::ip_tunnel(vlan, &net, tunnel);
    }
    let view = transport_layer(vlan, &mut net)?;
    if view.transport == Transport::Udp
        && matches!(view.dst_port, tunnel::VXLAN_PORT | tunnel::GENEVE_PORT)
    {
        if let Some(inner) = tunnel::udp_tunnel(&view, tunnel) {
            return inner;
        }
    }
    Ok(Decoded::Packet(view))
}

/// Decodes a reassembled IP datagram's payload (`bytes`, which starts with `protocol`'s header:
/// an IPv4 authentication header, IPv6 destination options, or TCP/UDP) down to its TCP or UDP
/// payload. The datagram is whole, so a header that does not fit is malformed, never truncated;
/// a second fragment header is [`SkipReason::MalformedIp`].
pub fn decode_datagram(
    vlan: Option<u16>,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    bytes: &[u8],
) -> Result<PacketView<'_>, SkipReason> {
    let mut net = IpPayload {
        src,
        dst,
        protocol: IpNumber(protocol),
        bytes,
        wire_len: bytes.len(),
        len_from_frame: false,
        ends_at_frame: false,
    };
    let mut net = match src {
        IpAddr::V4(_) => {
            ipv4_auth(&mut net)?;
            net
        }
        IpAddr::V6(_) => match ipv6_exts(net)? {
            Net::Whole(net) => net,
            Net::Fragment(_) => return Err(SkipReason::MalformedIp),
        },
    };
    transport_layer(vlan, &mut net)
}

/// Lengths come from 16-bit fields or a captured frame; saturate rather than wrap.
#[inline]
pub(super) fn to_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    // ---- literal building blocks (shared with the layers' tests) ------------------------------------

    /// IPv4 192.168.1.10 -> 192.168.1.20, DF, TCP, total length 45.
    #[rustfmt::skip]
    pub(super) const IPV4_TCP_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x2d, // version 4, IHL 5, total length 45
        0x12, 0x34, 0x40, 0x00, // id, DF, offset 0
        0x40, 0x06, 0x00, 0x00, // TTL 64, TCP, checksum (not checked)
        0xc0, 0xa8, 0x01, 0x0a, // 192.168.1.10
        0xc0, 0xa8, 0x01, 0x14, // 192.168.1.20
    ];
    /// TCP 50000 -> 3406, seq 1000, ack 2000, PSH|ACK, data offset 5.
    #[rustfmt::skip]
    pub(super) const TCP_HDR: [u8; 20] = [
        0xc3, 0x50, 0x0d, 0x4e, // ports 50000 -> 3406
        0x00, 0x00, 0x03, 0xe8, // seq 1000
        0x00, 0x00, 0x07, 0xd0, // ack 2000
        0x50, 0x18, 0xff, 0xff, // data offset 5, PSH|ACK, window
        0x00, 0x00, 0x00, 0x00, // checksum, urgent pointer
    ];
    pub(super) const TCP_PAYLOAD: &[u8] = b"hello";
    /// IPv4 10.0.0.1 -> 10.0.0.2, UDP, total length 32.
    #[rustfmt::skip]
    pub(super) const IPV4_UDP_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, total length 32
        0x00, 0x01, 0x00, 0x00, // id, no flags, offset 0
        0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
    ];
    /// UDP 4660 -> 3406, length 12.
    pub(super) const UDP_HDR: [u8; 8] = [0x12, 0x34, 0x0d, 0x4e, 0x00, 0x0c, 0x00, 0x00];
    pub(super) const UDP_PAYLOAD: &[u8] = b"ping";
    /// IPv6 2001:db8::1 -> 2001:db8::2, next header TCP, payload length 25.
    #[rustfmt::skip]
    pub(super) const IPV6_TCP_HDR: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, // version 6, traffic class, flow label
        0x00, 0x19, 0x06, 0x40, // payload length 25, TCP, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
    ];
    /// IPv6 2001:db8::1 -> 2001:db8::2, next header UDP, payload length 12.
    #[rustfmt::skip]
    pub(super) const IPV6_UDP_HDR: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, // version 6, traffic class, flow label
        0x00, 0x0c, 0x11, 0x40, // payload length 12, UDP, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
    ];
    /// Ethernet II destination and source addresses (the EtherType follows).
    #[rustfmt::skip]
    pub(super) const ETH_MACS: [u8; 12] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    ];
    pub(super) const ET_IPV4: [u8; 2] = [0x08, 0x00];
    pub(super) const ET_IPV6: [u8; 2] = [0x86, 0xdd];

    /// The reason a frame is skipped; fails the test when it decodes.
    pub(super) fn skip(kind: LinkKind, frame: &[u8]) -> SkipReason {
        match decode(kind, frame) {
            Ok(v) => panic!("{kind:?} frame decoded unexpectedly: {v:?}"),
            Err(reason) => reason,
        }
    }
    pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }
    pub(super) fn ipv4_tcp() -> Vec<u8> {
        cat(&[&IPV4_TCP_HDR, &TCP_HDR, TCP_PAYLOAD])
    }
    pub(super) fn ipv4_udp() -> Vec<u8> {
        cat(&[&IPV4_UDP_HDR, &UDP_HDR, UDP_PAYLOAD])
    }
    pub(super) fn ipv6_tcp() -> Vec<u8> {
        cat(&[&IPV6_TCP_HDR, &TCP_HDR, TCP_PAYLOAD])
    }
    pub(super) fn ipv6_udp() -> Vec<u8> {
        cat(&[&IPV6_UDP_HDR, &UDP_HDR, UDP_PAYLOAD])
    }
    pub(super) fn eth(ether_type: [u8; 2], ip: &[u8]) -> Vec<u8> {
        cat(&[&ETH_MACS, &ether_type, ip])
    }
    /// Linux SLL v1 header: outgoing, given ARPHRD type, 6-byte address, protocol.
    #[rustfmt::skip]
    pub(super) fn sll(arphrd: u16, protocol: [u8; 2]) -> Vec<u8> {
        let a = arphrd.to_be_bytes();
        vec![
            0x00, 0x04, a[0], a[1], 0x00, 0x06, // packet type 4, ARPHRD, address length 6
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x00, // address, 8-byte field
            protocol[0], protocol[1],
        ]
    }
    /// Linux SLL v2 header: protocol, interface 2, Ethernet, incoming, 6-byte address.
    #[rustfmt::skip]
    pub(super) fn sll2(protocol: [u8; 2]) -> Vec<u8> {
        vec![
            protocol[0], protocol[1], 0x00, 0x00, // protocol, reserved
            0x00, 0x00, 0x00, 0x02, // interface index 2
            0x00, 0x01, 0x00, 0x06, // ARPHRD Ethernet, packet type 0, address length 6
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x00, // address, 8-byte field
        ]
    }

    pub(super) fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }
    pub(super) fn v6_doc(last: u8) -> IpAddr {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        b[15] = last;
        IpAddr::V6(Ipv6Addr::from(b))
    }

    pub(super) fn assert_tcp(view: &PacketView<'_>, src: IpAddr, dst: IpAddr) {
        assert_eq!(view.transport, Transport::Tcp);
        assert_eq!((view.src, view.dst), (src, dst));
        assert_eq!((view.src_port, view.dst_port), (50000, 3406));
        assert_eq!(
            view.tcp,
            TcpInfo {
                seq: 1000,
                ack: 2000,
                flags: tcp_flags::PSH | tcp_flags::ACK
            }
        );
        assert_eq!(view.payload, TCP_PAYLOAD);
        assert_eq!(view.payload_len, 5);
    }
    pub(super) fn assert_udp(view: &PacketView<'_>, src: IpAddr, dst: IpAddr) {
        assert_eq!(view.transport, Transport::Udp);
        assert_eq!((view.src, view.dst), (src, dst));
        assert_eq!((view.src_port, view.dst_port), (4660, 3406));
        assert_eq!(view.tcp, TcpInfo::default());
        assert_eq!(view.payload, UDP_PAYLOAD);
        assert_eq!(view.payload_len, 4);
    }
    pub(super) fn assert_v4_tcp(view: &PacketView<'_>) {
        assert_tcp(view, v4([192, 168, 1, 10]), v4([192, 168, 1, 20]));
    }
    pub(super) fn assert_v4_udp(view: &PacketView<'_>) {
        assert_udp(view, v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    }
    pub(super) fn assert_v6_tcp(view: &PacketView<'_>) {
        assert_tcp(view, v6_doc(1), v6_doc(2));
    }
    pub(super) fn assert_v6_udp(view: &PacketView<'_>) {
        assert_udp(view, v6_doc(1), v6_doc(2));
    }

    /// Checks the invariants every successful decode must keep.
    pub(super) fn check_view(frame: &[u8], view: &PacketView<'_>) {
        let start = frame.as_ptr() as usize;
        let p = view.payload.as_ptr() as usize;
        assert!(
            view.payload.is_empty()
                || (p >= start && p + view.payload.len() <= start + frame.len())
        );
        assert!(view.payload.len() as u64 <= u64::from(view.payload_len));
        if let Some(id) = view.vlan {
            assert!(id < 4096);
        }
        assert_eq!(view.tcp.flags & !tcp_flags::MASK, 0);
    }

    // ---- mapping tables -----------------------------------------------------------------------------

    #[test]
    fn skip_reason_tables_agree() {
        for (i, reason) in SkipReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
            assert_eq!(SkipReason::ALL[reason.index()], *reason);
        }
        let mut labels: Vec<_> = SkipReason::ALL.iter().map(|r| r.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), SkipReason::ALL.len());
        assert_eq!(SkipReason::IpFragment.as_str(), "ip-fragment");
    }

    // ---- lengths ------------------------------------------------------------------------------------

    #[test]
    fn snaplen_cut_payload_is_shorter_than_wire_length() {
        let full = eth(ET_IPV4, &ipv4_tcp());
        let v = decode(LinkKind::Ethernet, &full[..full.len() - 3]).unwrap();
        assert_eq!(v.payload, b"he");
        assert_eq!(v.payload_len, 5);
        let full = eth(ET_IPV6, &ipv6_udp());
        let v = decode(LinkKind::Ethernet, &full[..full.len() - 4]).unwrap();
        assert_eq!(v.payload, b"");
        assert_eq!(v.payload_len, 4);
    }

    #[test]
    fn every_truncation_is_truncated_or_a_shorter_payload() {
        let frames: Vec<(LinkKind, Vec<u8>)> = vec![
            (LinkKind::Ethernet, eth(ET_IPV4, &ipv4_tcp())),
            (
                LinkKind::Ethernet,
                cat(&[
                    &ETH_MACS,
                    &[0x88, 0xa8, 0, 1, 0x81, 0, 0, 2],
                    &ET_IPV6,
                    &ipv6_tcp(),
                ]),
            ),
            (LinkKind::Ethernet, eth(ET_IPV4, &ipv4_udp())),
            (LinkKind::Null, cat(&[&[30, 0, 0, 0], &ipv6_udp()])),
            (LinkKind::Loop, cat(&[&[0, 0, 0, 2], &ipv4_tcp()])),
            (LinkKind::Raw, ipv6_tcp()),
            (LinkKind::Ipv4, ipv4_udp()),
            (LinkKind::Ipv6, ipv6_udp()),
            (
                LinkKind::LinuxSll,
                cat(&[&sll(1, [0x81, 0x00]), &[0, 9], &ET_IPV4, &ipv4_tcp()]),
            ),
            (LinkKind::LinuxSll2, cat(&[&sll2(ET_IPV6), &ipv6_tcp()])),
        ];
        for (kind, frame) in &frames {
            let whole = decode(*kind, frame).unwrap();
            let payload_start = frame.len() - whole.payload.len();
            for cut in 0..frame.len() {
                let part = &frame[..cut];
                match decode(*kind, part) {
                    Ok(v) => {
                        check_view(part, &v);
                        assert!(
                            cut >= payload_start,
                            "{kind:?} cut {cut} decoded inside a header"
                        );
                        assert_eq!(v.payload, &whole.payload[..cut - payload_start]);
                        assert_eq!(v.payload_len, whole.payload_len);
                        assert_eq!(v.tcp, whole.tcp);
                    }
                    Err(reason) => {
                        assert_eq!(reason, SkipReason::Truncated, "{kind:?} cut at {cut}");
                        assert!(cut < payload_start);
                    }
                }
            }
        }
    }

    // ---- reassembled datagrams ----------------------------------------------------------------------

    #[test]
    fn decode_datagram_decodes_a_reassembled_payload() {
        let tcp = cat(&[&TCP_HDR, TCP_PAYLOAD]);
        let v = decode_datagram(None, v4([192, 168, 1, 10]), v4([192, 168, 1, 20]), 6, &tcp);
        assert_v4_tcp(&v.unwrap());
        // Destination options in front of UDP (IPv6), an authentication header (IPv4).
        let dst = cat(&[&[17, 0, 1, 4, 0, 0, 0, 0], &UDP_HDR, UDP_PAYLOAD]);
        let v = decode_datagram(Some(5), v6_doc(1), v6_doc(2), 60, &dst).unwrap();
        assert_v6_udp(&v);
        assert_eq!(v.vlan, Some(5));
        let ah = [
            17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let ah = cat(&[&ah, &UDP_HDR, UDP_PAYLOAD]);
        let v = decode_datagram(None, v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 51, &ah).unwrap();
        assert_v4_udp(&v);
        // A whole datagram too short for its header is malformed, not truncated.
        let short = decode_datagram(None, v6_doc(1), v6_doc(2), 6, &TCP_HDR[..10]);
        assert_eq!(short.unwrap_err(), SkipReason::MalformedTcp);
        // A fragment header inside a reassembled payload is malformed.
        let nested = cat(&[&[17, 0, 0x00, 0x01, 0, 0, 0, 9], &UDP_HDR]);
        let nested = decode_datagram(None, v6_doc(1), v6_doc(2), 44, &nested);
        assert_eq!(nested.unwrap_err(), SkipReason::MalformedIp);
    }

    // ---- properties ---------------------------------------------------------------------------------

    fn any_kind() -> impl Strategy<Value = LinkKind> {
        prop::sample::select(LinkKind::ALL.to_vec())
    }

    fn valid_frames() -> Vec<(LinkKind, Vec<u8>)> {
        vec![
            (LinkKind::Ethernet, eth(ET_IPV4, &ipv4_tcp())),
            (
                LinkKind::Ethernet,
                cat(&[&ETH_MACS, &[0x81, 0, 0, 5], &ET_IPV6, &ipv6_udp()]),
            ),
            (LinkKind::Null, cat(&[&[2, 0, 0, 0], &ipv4_udp()])),
            (LinkKind::Loop, cat(&[&[0, 0, 0, 28], &ipv6_tcp()])),
            (LinkKind::Raw, ipv4_tcp()),
            (LinkKind::LinuxSll, cat(&[&sll(1, ET_IPV6), &ipv6_tcp()])),
            (LinkKind::LinuxSll2, cat(&[&sll2(ET_IPV4), &ipv4_udp()])),
            // Tunnels: MPLS, IPv4 in IPv4, VXLAN.
            (
                LinkKind::Ethernet,
                cat(&[&ETH_MACS, &[0x88, 0x47], &[0, 1, 1, 64], &ipv4_tcp()]),
            ),
            (
                LinkKind::Raw,
                cat(&[
                    &[
                        0x45, 0, 0, 65, 0, 0, 0x40, 0, 64, 4, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
                    ],
                    &ipv4_tcp(),
                ]),
            ),
            (
                LinkKind::Raw,
                cat(&[
                    &[
                        0x45, 0, 0, 95, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
                    ],
                    &[0xc7, 0x38, 0x12, 0xb5, 0, 75, 0, 0],
                    &[0x08, 0, 0, 0, 0, 0, 9, 0],
                    &eth(ET_IPV4, &ipv4_tcp()),
                ]),
            ),
        ]
    }

    #[test]
    fn valid_tunnel_frames_decode_to_the_inner_packet() {
        for (kind, frame) in &valid_frames()[7..] {
            let mut t = Tunnel::default();
            match decode_frame_in(*kind, frame, &mut t) {
                Ok(Decoded::Packet(v)) => assert_v4_tcp(&v),
                other => panic!("{other:?}"),
            }
            assert_eq!(t.layers().len(), 1);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(kind in any_kind(), frame in prop::collection::vec(any::<u8>(), 0..160)) {
            if let Ok(v) = decode(kind, &frame) {
                check_view(&frame, &v);
            }
        }

        #[test]
        fn arbitrary_bytes_after_a_valid_prefix_never_panic(
            which in 0usize..10,
            keep in 0usize..120,
            tail in prop::collection::vec(any::<u8>(), 0..80),
        ) {
            // Keeps a valid link (and often IP) header so the deeper layers see random input too.
            let (kind, base) = &valid_frames()[which];
            let mut frame = base[..keep.min(base.len())].to_vec();
            frame.extend_from_slice(&tail);
            if let Ok(v) = decode(*kind, &frame) {
                check_view(&frame, &v);
            }
        }

        #[test]
        fn corrupted_valid_frames_never_panic(
            which in 0usize..10,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let (kind, base) = &valid_frames()[which];
            let mut frame = base.clone();
            for (at, byte) in edits {
                let i = at.index(frame.len());
                frame[i] = byte;
            }
            let len = cut.index(frame.len() + 1);
            let frame = &frame[..len];
            if let Ok(v) = decode(*kind, frame) {
                check_view(frame, &v);
            }
        }
    }
}
