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
//! [`SkipReason::IpFragment`]. Tunnels (IP-in-IP, GRE, …) are [`SkipReason::NotTcpUdp`]. At most
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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::err::{ip_auth, ipv4, ipv6, ipv6_exts, tcp};
use etherparse::{
    Ethernet2HeaderSlice, IpAuthHeaderSlice, IpNumber, Ipv4HeaderSlice, Ipv6ExtensionsSlice,
    Ipv6HeaderSlice, SingleVlanHeaderSlice, TcpHeaderSlice, UdpHeaderSlice,
};

/// Link types ndbsniff decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// DLT 1: Ethernet II, with up to [`MAX_VLAN_TAGS`] stacked VLAN tags.
    Ethernet,
    /// DLT 0: BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT 108: OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// DLT 12, 14, 101: raw IP, version taken from the first nibble.
    Raw,
    /// DLT 228: raw IPv4 only.
    Ipv4,
    /// DLT 229: raw IPv6 only.
    Ipv6,
    /// DLT 113: Linux cooked capture v1 (16-byte header).
    LinuxSll,
    /// DLT 276: Linux cooked capture v2 (20-byte header).
    LinuxSll2,
}

impl LinkKind {
    /// Every link kind, in declaration order.
    pub const ALL: [LinkKind; 8] = [
        LinkKind::Ethernet,
        LinkKind::Null,
        LinkKind::Loop,
        LinkKind::Raw,
        LinkKind::Ipv4,
        LinkKind::Ipv6,
        LinkKind::LinuxSll,
        LinkKind::LinuxSll2,
    ];

    /// Maps a libpcap DLT value (as returned by `pcap_datalink`) to a decoder.
    ///
    /// ```
    /// use ndbsniff_core::decode::LinkKind;
    /// assert_eq!(LinkKind::from_dlt(1), Some(LinkKind::Ethernet));
    /// assert_eq!(LinkKind::from_dlt(105), None); // 802.11 is not decoded
    /// ```
    pub fn from_dlt(dlt: i32) -> Option<LinkKind> {
        Some(match dlt {
            0 => LinkKind::Null,
            1 => LinkKind::Ethernet,
            12 | 14 | 101 => LinkKind::Raw,
            108 => LinkKind::Loop,
            113 => LinkKind::LinuxSll,
            228 => LinkKind::Ipv4,
            229 => LinkKind::Ipv6,
            276 => LinkKind::LinuxSll2,
            _ => return None,
        })
    }

    /// Short stable name for messages and summaries (`"ethernet"`, `"linux-sll"`, …).
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Ethernet => "ethernet",
            LinkKind::Null => "null",
            LinkKind::Loop => "loop",
            LinkKind::Raw => "raw",
            LinkKind::Ipv4 => "ipv4",
            LinkKind::Ipv6 => "ipv6",
            LinkKind::LinuxSll => "linux-sll",
            LinkKind::LinuxSll2 => "linux-sll2",
        }
    }
}

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
    /// The link layer carries something other than IPv4/IPv6 (ARP, LLDP, 802.3 LLC, MPLS, …).
    NotIp,
    /// IP carries something other than TCP/UDP (ICMP, GRE, ESP, tunnels, …).
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
}

impl SkipReason {
    /// Every reason, in declaration order (so `ALL[r.index()] == r`).
    pub const ALL: [SkipReason; 9] = [
        SkipReason::NotIp,
        SkipReason::NotTcpUdp,
        SkipReason::IpFragment,
        SkipReason::Truncated,
        SkipReason::MalformedLink,
        SkipReason::MalformedIp,
        SkipReason::MalformedTcp,
        SkipReason::MalformedUdp,
        SkipReason::VlanTooDeep,
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
        }
    }

    /// Position in [`SkipReason::ALL`], for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// EtherType values the decoder acts on.
mod ether_type {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    /// IEEE 802.1Q customer tag.
    pub const VLAN_CTAG: u16 = 0x8100;
    /// IEEE 802.1ad service tag.
    pub const VLAN_STAG: u16 = 0x88a8;
    /// Pre-standard QinQ tag.
    pub const VLAN_QINQ: u16 = 0x9100;
}

/// Address family values found in BSD loopback headers.
mod address_family {
    pub const INET: u32 = 2;
    /// Linux.
    pub const INET6_LINUX: u32 = 10;
    /// NetBSD, OpenBSD, BSD/OS.
    pub const INET6_NETBSD: u32 = 24;
    /// FreeBSD, DragonFly BSD.
    pub const INET6_FREEBSD: u32 = 28;
    /// macOS, iOS.
    pub const INET6_DARWIN: u32 = 30;
}

/// Linux cooked capture layouts.
mod sll {
    /// v1: packet type (2), ARPHRD type (2), address length (2), address (8), protocol (2).
    pub const V1_LEN: usize = 16;
    pub const V1_ARPHRD: usize = 2;
    pub const V1_PROTOCOL: usize = 14;
    /// v2: protocol (2), reserved (2), interface index (4), ARPHRD type (2), packet type (1),
    /// address length (1), address (8).
    pub const V2_LEN: usize = 20;
    pub const V2_PROTOCOL: usize = 0;
    pub const V2_ARPHRD: usize = 8;
    /// ARPHRD_NETLINK: the protocol field is a netlink family, not an EtherType.
    pub const ARPHRD_NETLINK: u16 = 824;
}

/// Largest value taken for a plausible (if non-IP) loopback address family.
const MAX_ADDRESS_FAMILY: u32 = 0xff;
/// Most VLAN tags followed in front of the IP header; a frame with more is
/// [`SkipReason::VlanTooDeep`]. The BPF port filter looks under as many levels
/// (the `ndbsniff` crate's `capture::filter`).
pub const MAX_VLAN_TAGS: usize = 8;
const IPV4_VERSION: u8 = 4;
const IPV6_VERSION: u8 = 6;
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;
/// Byte of the TCP header holding the flag bits.
const TCP_FLAGS_BYTE: usize = 13;

/// IP version of the network layer found behind the link header.
#[derive(Clone, Copy)]
enum IpVersion {
    V4,
    V6,
}

/// The network layer of a frame: addresses and the IP payload.
struct IpPayload<'a> {
    src: IpAddr,
    dst: IpAddr,
    /// Upper-layer protocol after all extension headers.
    protocol: IpNumber,
    /// Payload bytes present in the frame, never past the end of the datagram.
    bytes: &'a [u8],
    /// Payload length announced by the IP header (after extension headers). `>= bytes.len()`.
    wire_len: usize,
    /// The datagram length was taken from the frame (IP length field 0), not from the header.
    len_from_frame: bool,
    /// The frame ends where `bytes` ends, before or at the datagram end the header announces, so
    /// a header that does not fit in `bytes` is cut off by the capture rather than malformed.
    ends_at_frame: bool,
}

impl IpPayload<'_> {
    /// Reason to give when a header of this payload's next layer does not fit in `bytes`.
    #[inline]
    fn short(&self, malformed: SkipReason) -> SkipReason {
        if self.ends_at_frame {
            SkipReason::Truncated
        } else {
            malformed
        }
    }

    /// Drops a header of `len` bytes (already known to fit in `bytes`) from the front.
    #[inline]
    fn skip(&mut self, len: usize) {
        self.bytes = self.bytes.get(len..).unwrap_or(&[]);
        self.wire_len = self.wire_len.saturating_sub(len);
    }
}

/// One IP fragment, borrowing the captured frame: what [`crate::frag`] needs to put the datagram
/// back together.
#[derive(Clone, Debug)]
pub struct Fragment<'a> {
    /// Outermost VLAN id, as in [`PacketView::vlan`].
    pub vlan: Option<u16>,
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address.
    pub dst: IpAddr,
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// IPv4: the header's protocol. IPv6: the fragment header's next header (the first header
    /// of the fragmentable part; only the offset-0 fragment's value is used).
    pub protocol: u8,
    /// Byte offset of this fragment's data in the datagram's payload (a multiple of 8).
    pub offset: u32,
    /// More fragments follow (MF / M flag).
    pub more: bool,
    /// Fragment data present in the frame (shorter than `wire_len` when the capture cut it).
    pub bytes: &'a [u8],
    /// Fragment data length announced by the IP header.
    pub wire_len: u32,
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
/// [`Decoded::Fragment`] instead of skipping them.
#[inline]
pub fn decode_frame(link: LinkKind, frame: &[u8]) -> Result<Decoded<'_>, SkipReason> {
    let (vlan, version, ip) = link_layer(link, frame)?;
    let net = match version {
        IpVersion::V4 => ipv4_layer(ip),
        IpVersion::V6 => ipv6_layer(ip),
    };
    let mut net = match net? {
        Net::Whole(net) => net,
        Net::Fragment(mut f) => {
            f.vlan = vlan;
            return Ok(Decoded::Fragment(f));
        }
    };
    transport_layer(vlan, &mut net).map(Decoded::Packet)
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

/// TCP or UDP on top of the network layer.
#[inline]
fn transport_layer<'a>(
    vlan: Option<u16>,
    net: &mut IpPayload<'a>,
) -> Result<PacketView<'a>, SkipReason> {
    match net.protocol {
        IpNumber::TCP => tcp_layer(vlan, net),
        IpNumber::UDP => udp_layer(vlan, net),
        _ => Err(SkipReason::NotTcpUdp),
    }
}

/// Strips the link header: outermost VLAN id, IP version and the bytes starting at the IP header.
#[inline]
fn link_layer(link: LinkKind, frame: &[u8]) -> Result<(Option<u16>, IpVersion, &[u8]), SkipReason> {
    match link {
        LinkKind::Ethernet => {
            let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| SkipReason::Truncated)?;
            let rest = frame.get(eth.slice().len()..).unwrap_or(&[]);
            ether_type_layer(eth.ether_type().0, rest)
        }
        LinkKind::Null | LinkKind::Loop => {
            let (family, rest) = split_be_u32(frame).ok_or(SkipReason::Truncated)?;
            // Either byte order is accepted for both kinds: captures move between hosts, and
            // the two orders of the known values cannot be mistaken for each other.
            let swapped = family.swap_bytes();
            match loopback_family(family)
                .or_else(|| loopback_family(swapped))
                .or_else(|| loopback_ether_type(family))
            {
                Some(version) => Ok((None, version, rest)),
                // Address families are small numbers in one byte order or the other.
                None if family.min(swapped) <= MAX_ADDRESS_FAMILY => Err(SkipReason::NotIp),
                None => Err(SkipReason::MalformedLink),
            }
        }
        LinkKind::Raw => match frame.first().map(|b| b >> 4) {
            None => Err(SkipReason::Truncated),
            Some(IPV4_VERSION) => Ok((None, IpVersion::V4, frame)),
            Some(IPV6_VERSION) => Ok((None, IpVersion::V6, frame)),
            Some(_) => Err(SkipReason::MalformedIp),
        },
        LinkKind::Ipv4 => Ok((None, IpVersion::V4, frame)),
        LinkKind::Ipv6 => Ok((None, IpVersion::V6, frame)),
        // etherparse's Linux SLL slice rejects ARPHRD types and packet types it does not list
        // (loopback, PPP, tunnels: all common in `-i any` captures) and has no v2, so both
        // versions are read here. The address length is not checked: it gives the device's
        // real address length (20 for InfiniBand) while at most 8 bytes are stored.
        LinkKind::LinuxSll => {
            let header = frame.get(..sll::V1_LEN).ok_or(SkipReason::Truncated)?;
            let arphrd = be_u16_at(header, sll::V1_ARPHRD);
            let protocol = be_u16_at(header, sll::V1_PROTOCOL);
            cooked_layer(arphrd, protocol, frame.get(sll::V1_LEN..))
        }
        LinkKind::LinuxSll2 => {
            let header = frame.get(..sll::V2_LEN).ok_or(SkipReason::Truncated)?;
            let arphrd = be_u16_at(header, sll::V2_ARPHRD);
            let protocol = be_u16_at(header, sll::V2_PROTOCOL);
            cooked_layer(arphrd, protocol, frame.get(sll::V2_LEN..))
        }
    }
}

/// Common tail of both Linux cooked headers.
#[inline]
fn cooked_layer(
    arphrd: u16,
    protocol: u16,
    rest: Option<&[u8]>,
) -> Result<(Option<u16>, IpVersion, &[u8]), SkipReason> {
    if arphrd == sll::ARPHRD_NETLINK {
        return Err(SkipReason::NotIp);
    }
    ether_type_layer(protocol, rest.unwrap_or(&[]))
}

/// Follows an EtherType through up to [`MAX_VLAN_TAGS`] VLAN tags to IPv4 or IPv6.
#[inline]
fn ether_type_layer(
    mut ether_type: u16,
    mut rest: &[u8],
) -> Result<(Option<u16>, IpVersion, &[u8]), SkipReason> {
    let mut vlan = None;
    let mut tags = 0;
    loop {
        match ether_type {
            ether_type::IPV4 => return Ok((vlan, IpVersion::V4, rest)),
            ether_type::IPV6 => return Ok((vlan, IpVersion::V6, rest)),
            ether_type::VLAN_CTAG | ether_type::VLAN_STAG | ether_type::VLAN_QINQ => {
                if tags == MAX_VLAN_TAGS {
                    return Err(SkipReason::VlanTooDeep);
                }
                let tag =
                    SingleVlanHeaderSlice::from_slice(rest).map_err(|_| SkipReason::Truncated)?;
                if vlan.is_none() {
                    vlan = Some(tag.vlan_identifier().value());
                }
                ether_type = tag.ether_type().0;
                rest = rest.get(tag.slice().len()..).unwrap_or(&[]);
                tags += 1;
            }
            // 802.3 length fields (<= 1500), ARP, LLDP, MPLS, PPPoE, …
            _ => return Err(SkipReason::NotIp),
        }
    }
}

/// IP version for a BSD loopback address family, if it is one of the IP families.
#[inline]
fn loopback_family(family: u32) -> Option<IpVersion> {
    match family {
        address_family::INET => Some(IpVersion::V4),
        address_family::INET6_LINUX
        | address_family::INET6_NETBSD
        | address_family::INET6_FREEBSD
        | address_family::INET6_DARWIN => Some(IpVersion::V6),
        _ => None,
    }
}

/// Some capture tools wrote an EtherType into one half of the loopback header instead of an
/// address family; accepted for IPv4/IPv6 in network byte order in either half.
#[cold]
fn loopback_ether_type(family: u32) -> Option<IpVersion> {
    let (high, low) = ((family >> 16) as u16, family as u16);
    [high, low].into_iter().find_map(|half| match half {
        ether_type::IPV4 => Some(IpVersion::V4),
        ether_type::IPV6 => Some(IpVersion::V6),
        _ => None,
    })
}

/// The network layer of a frame: a whole datagram's payload, or one fragment.
enum Net<'a> {
    Whole(IpPayload<'a>),
    Fragment(Fragment<'a>),
}

/// IPv4 header, optional authentication header; fragments are handed back as they are.
#[inline]
fn ipv4_layer(bytes: &[u8]) -> Result<Net<'_>, SkipReason> {
    let header = Ipv4HeaderSlice::from_slice(bytes).map_err(|e| match e {
        ipv4::HeaderSliceError::Len(_) => SkipReason::Truncated,
        ipv4::HeaderSliceError::Content(_) => SkipReason::MalformedIp,
    })?;
    let header_len = header.slice().len();
    let total_len = usize::from(header.total_len());
    let after_header = bytes.get(header_len..).unwrap_or(&[]);
    let (present, wire_len, len_from_frame) = if total_len == 0 {
        // Segmentation offload: the NIC fills the length in later; the frame is the datagram.
        (after_header, after_header.len(), true)
    } else {
        let wire_len = total_len
            .checked_sub(header_len)
            .ok_or(SkipReason::MalformedIp)?;
        let present = after_header.get(..wire_len).unwrap_or(after_header);
        (present, wire_len, false)
    };
    let src = IpAddr::V4(Ipv4Addr::from(header.source()));
    let dst = IpAddr::V4(Ipv4Addr::from(header.destination()));
    if header.is_fragmenting_payload() {
        return Ok(Net::Fragment(Fragment {
            vlan: None,
            src,
            dst,
            id: u32::from(header.identification()),
            protocol: header.protocol().0,
            offset: u32::from(header.fragments_offset().value()) * 8,
            more: header.more_fragments(),
            bytes: present,
            wire_len: to_u32(wire_len),
        }));
    }
    let mut net = IpPayload {
        src,
        dst,
        protocol: header.protocol(),
        bytes: present,
        wire_len,
        len_from_frame,
        ends_at_frame: len_from_frame || present.len() < wire_len,
    };
    ipv4_auth(&mut net)?;
    Ok(Net::Whole(net))
}

/// Skips an IPv4 authentication header, if the payload starts with one.
#[inline]
fn ipv4_auth(net: &mut IpPayload<'_>) -> Result<(), SkipReason> {
    if net.protocol == IpNumber::AUTHENTICATION_HEADER {
        let auth = IpAuthHeaderSlice::from_slice(net.bytes).map_err(|e| match e {
            ip_auth::HeaderSliceError::Len(_) => net.short(SkipReason::MalformedIp),
            ip_auth::HeaderSliceError::Content(_) => SkipReason::MalformedIp,
        })?;
        net.protocol = auth.next_header();
        net.skip(auth.slice().len());
    }
    Ok(())
}

/// IPv6 header and extension headers; fragments are handed back as they are.
#[inline]
fn ipv6_layer(bytes: &[u8]) -> Result<Net<'_>, SkipReason> {
    let header = Ipv6HeaderSlice::from_slice(bytes).map_err(|e| match e {
        ipv6::HeaderSliceError::Len(_) => SkipReason::Truncated,
        ipv6::HeaderSliceError::Content(_) => SkipReason::MalformedIp,
    })?;
    let after_header = bytes.get(IPV6_HEADER_LEN..).unwrap_or(&[]);
    let payload_len = usize::from(header.payload_length());
    let (present, wire_len, len_from_frame) = if payload_len == 0 {
        // Jumbogram (hop-by-hop option) or segmentation offload: the frame is the datagram.
        (after_header, after_header.len(), true)
    } else {
        let present = after_header.get(..payload_len).unwrap_or(after_header);
        (present, payload_len, false)
    };
    ipv6_exts(IpPayload {
        src: IpAddr::V6(Ipv6Addr::from(header.source())),
        dst: IpAddr::V6(Ipv6Addr::from(header.destination())),
        protocol: header.next_header(),
        bytes: present,
        wire_len,
        len_from_frame,
        ends_at_frame: len_from_frame || present.len() < wire_len,
    })
}

/// Walks the IPv6 extension headers at the front of `net`; a fragment header that fragments
/// makes the packet a [`Fragment`] (whatever follows it: later fragments hold no headers).
#[inline]
fn ipv6_exts(mut net: IpPayload<'_>) -> Result<Net<'_>, SkipReason> {
    if is_ipv6_extension(net.protocol) {
        let (exts, protocol, _, error) =
            Ipv6ExtensionsSlice::from_slice_lax(net.protocol, net.bytes);
        if exts.is_fragmenting_payload() {
            return ipv6_fragment(&net).map(Net::Fragment);
        }
        if let Some((error, _layer)) = error {
            return Err(match error {
                ipv6_exts::HeaderSliceError::Len(_) => net.short(SkipReason::MalformedIp),
                ipv6_exts::HeaderSliceError::Content(_) => SkipReason::MalformedIp,
            });
        }
        net.protocol = protocol;
        net.skip(exts.slice().len());
    }
    Ok(Net::Whole(net))
}

/// Finds the fragment header of an IPv6 packet whose extension headers fragment (checked by the
/// caller) and returns the fragment behind it.
#[cold]
fn ipv6_fragment<'a>(net: &IpPayload<'a>) -> Result<Fragment<'a>, SkipReason> {
    let mut protocol = net.protocol.0;
    let mut bytes = net.bytes;
    let mut wire_len = net.wire_len;
    // Every header takes at least 8 bytes, so the walk ends within the payload.
    loop {
        let header_len = match protocol {
            ext::FRAGMENT => {
                let h = bytes.get(..8).ok_or(net.short(SkipReason::MalformedIp))?;
                let field = u16::from_be_bytes([h[2], h[3]]);
                let rest = bytes.get(8..).unwrap_or(&[]);
                return Ok(Fragment {
                    vlan: None,
                    src: net.src,
                    dst: net.dst,
                    id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    protocol: h[0],
                    offset: u32::from(field & !7),
                    more: field & 1 != 0,
                    bytes: rest,
                    wire_len: to_u32(wire_len.saturating_sub(8)),
                });
            }
            ext::HOP_BY_HOP | ext::ROUTING | ext::DESTINATION => {
                let len = bytes.get(1).ok_or(net.short(SkipReason::MalformedIp))?;
                (usize::from(*len) + 1) * 8
            }
            ext::AUTHENTICATION => {
                let len = bytes.get(1).ok_or(net.short(SkipReason::MalformedIp))?;
                (usize::from(*len) + 2) * 4
            }
            _ => return Err(SkipReason::MalformedIp),
        };
        protocol = *bytes.first().ok_or(net.short(SkipReason::MalformedIp))?;
        bytes = bytes
            .get(header_len..)
            .ok_or(net.short(SkipReason::MalformedIp))?;
        wire_len = wire_len.saturating_sub(header_len);
    }
}

/// IPv6 extension header numbers walked by [`ipv6_fragment`].
mod ext {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const DESTINATION: u8 = 60;
    pub const AUTHENTICATION: u8 = 51;
}

/// Extension headers `Ipv6ExtensionsSlice` walks (anything else ends the chain).
#[inline]
fn is_ipv6_extension(protocol: IpNumber) -> bool {
    matches!(
        protocol,
        IpNumber::IPV6_HEADER_HOP_BY_HOP
            | IpNumber::IPV6_ROUTE_HEADER
            | IpNumber::IPV6_FRAGMENTATION_HEADER
            | IpNumber::IPV6_DESTINATION_OPTIONS
            | IpNumber::AUTHENTICATION_HEADER
    )
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

/// Big-endian u16 at `at`, 0 when out of range (callers check the header length first).
#[inline]
fn be_u16_at(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at.wrapping_add(2)) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

/// Splits off a leading big-endian u32.
#[inline]
fn split_be_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    match bytes {
        [a, b, c, d, rest @ ..] => Some((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => None,
    }
}

/// Lengths come from 16-bit fields or a captured frame; saturate rather than wrap.
#[inline]
fn to_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ---- literal building blocks -------------------------------------------------------------

    /// IPv4 192.168.1.10 -> 192.168.1.20, DF, TCP, total length 45.
    #[rustfmt::skip]
    const IPV4_TCP_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x2d, // version 4, IHL 5, total length 45
        0x12, 0x34, 0x40, 0x00, // id, DF, offset 0
        0x40, 0x06, 0x00, 0x00, // TTL 64, TCP, checksum (not checked)
        0xc0, 0xa8, 0x01, 0x0a, // 192.168.1.10
        0xc0, 0xa8, 0x01, 0x14, // 192.168.1.20
    ];
    /// TCP 50000 -> 3406, seq 1000, ack 2000, PSH|ACK, data offset 5.
    #[rustfmt::skip]
    const TCP_HDR: [u8; 20] = [
        0xc3, 0x50, 0x0d, 0x4e, // ports 50000 -> 3406
        0x00, 0x00, 0x03, 0xe8, // seq 1000
        0x00, 0x00, 0x07, 0xd0, // ack 2000
        0x50, 0x18, 0xff, 0xff, // data offset 5, PSH|ACK, window
        0x00, 0x00, 0x00, 0x00, // checksum, urgent pointer
    ];
    const TCP_PAYLOAD: &[u8] = b"hello";
    /// IPv4 10.0.0.1 -> 10.0.0.2, UDP, total length 32.
    #[rustfmt::skip]
    const IPV4_UDP_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, total length 32
        0x00, 0x01, 0x00, 0x00, // id, no flags, offset 0
        0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
    ];
    /// UDP 4660 -> 3406, length 12.
    const UDP_HDR: [u8; 8] = [0x12, 0x34, 0x0d, 0x4e, 0x00, 0x0c, 0x00, 0x00];
    const UDP_PAYLOAD: &[u8] = b"ping";
    /// IPv6 2001:db8::1 -> 2001:db8::2, next header TCP, payload length 25.
    #[rustfmt::skip]
    const IPV6_TCP_HDR: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, // version 6, traffic class, flow label
        0x00, 0x19, 0x06, 0x40, // payload length 25, TCP, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
    ];
    /// IPv6 2001:db8::1 -> 2001:db8::2, next header UDP, payload length 12.
    #[rustfmt::skip]
    const IPV6_UDP_HDR: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, // version 6, traffic class, flow label
        0x00, 0x0c, 0x11, 0x40, // payload length 12, UDP, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
    ];
    /// Ethernet II destination and source addresses (the EtherType follows).
    #[rustfmt::skip]
    const ETH_MACS: [u8; 12] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    ];
    const ET_IPV4: [u8; 2] = [0x08, 0x00];
    const ET_IPV6: [u8; 2] = [0x86, 0xdd];

    /// The reason a frame is skipped; fails the test when it decodes.
    fn skip(kind: LinkKind, frame: &[u8]) -> SkipReason {
        match decode(kind, frame) {
            Ok(v) => panic!("{kind:?} frame decoded unexpectedly: {v:?}"),
            Err(reason) => reason,
        }
    }
    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }
    fn ipv4_tcp() -> Vec<u8> {
        cat(&[&IPV4_TCP_HDR, &TCP_HDR, TCP_PAYLOAD])
    }
    fn ipv4_udp() -> Vec<u8> {
        cat(&[&IPV4_UDP_HDR, &UDP_HDR, UDP_PAYLOAD])
    }
    fn ipv6_tcp() -> Vec<u8> {
        cat(&[&IPV6_TCP_HDR, &TCP_HDR, TCP_PAYLOAD])
    }
    fn ipv6_udp() -> Vec<u8> {
        cat(&[&IPV6_UDP_HDR, &UDP_HDR, UDP_PAYLOAD])
    }
    fn eth(ether_type: [u8; 2], ip: &[u8]) -> Vec<u8> {
        cat(&[&ETH_MACS, &ether_type, ip])
    }
    /// Linux SLL v1 header: outgoing, given ARPHRD type, 6-byte address, protocol.
    #[rustfmt::skip]
    fn sll(arphrd: u16, protocol: [u8; 2]) -> Vec<u8> {
        let a = arphrd.to_be_bytes();
        vec![
            0x00, 0x04, a[0], a[1], 0x00, 0x06, // packet type 4, ARPHRD, address length 6
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x00, // address, 8-byte field
            protocol[0], protocol[1],
        ]
    }
    /// Linux SLL v2 header: protocol, interface 2, Ethernet, incoming, 6-byte address.
    #[rustfmt::skip]
    fn sll2(protocol: [u8; 2]) -> Vec<u8> {
        vec![
            protocol[0], protocol[1], 0x00, 0x00, // protocol, reserved
            0x00, 0x00, 0x00, 0x02, // interface index 2
            0x00, 0x01, 0x00, 0x06, // ARPHRD Ethernet, packet type 0, address length 6
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x00, // address, 8-byte field
        ]
    }

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }
    fn v6_doc(last: u8) -> IpAddr {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        b[15] = last;
        IpAddr::V6(Ipv6Addr::from(b))
    }

    fn assert_tcp(view: &PacketView<'_>, src: IpAddr, dst: IpAddr) {
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
    fn assert_udp(view: &PacketView<'_>, src: IpAddr, dst: IpAddr) {
        assert_eq!(view.transport, Transport::Udp);
        assert_eq!((view.src, view.dst), (src, dst));
        assert_eq!((view.src_port, view.dst_port), (4660, 3406));
        assert_eq!(view.tcp, TcpInfo::default());
        assert_eq!(view.payload, UDP_PAYLOAD);
        assert_eq!(view.payload_len, 4);
    }
    fn assert_v4_tcp(view: &PacketView<'_>) {
        assert_tcp(view, v4([192, 168, 1, 10]), v4([192, 168, 1, 20]));
    }
    fn assert_v4_udp(view: &PacketView<'_>) {
        assert_udp(view, v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    }
    fn assert_v6_tcp(view: &PacketView<'_>) {
        assert_tcp(view, v6_doc(1), v6_doc(2));
    }
    fn assert_v6_udp(view: &PacketView<'_>) {
        assert_udp(view, v6_doc(1), v6_doc(2));
    }

    /// Checks the invariants every successful decode must keep.
    fn check_view(frame: &[u8], view: &PacketView<'_>) {
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

    // ---- mapping tables ----------------------------------------------------------------------

    #[test]
    fn dlt_mapping() {
        let cases = [
            (0, Some(LinkKind::Null)),
            (1, Some(LinkKind::Ethernet)),
            (12, Some(LinkKind::Raw)),
            (14, Some(LinkKind::Raw)),
            (101, Some(LinkKind::Raw)),
            (108, Some(LinkKind::Loop)),
            (113, Some(LinkKind::LinuxSll)),
            (228, Some(LinkKind::Ipv4)),
            (229, Some(LinkKind::Ipv6)),
            (276, Some(LinkKind::LinuxSll2)),
            (105, None),
            (127, None),
            (-1, None),
        ];
        for (dlt, kind) in cases {
            assert_eq!(LinkKind::from_dlt(dlt), kind, "dlt {dlt}");
        }
        let mut names: Vec<_> = LinkKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LinkKind::ALL.len());
    }

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

    // ---- link layers ---------------------------------------------------------------------------

    #[test]
    fn ethernet_all_four_combinations() {
        let f = eth(ET_IPV4, &ipv4_tcp());
        let v = decode(LinkKind::Ethernet, &f).unwrap();
        assert_v4_tcp(&v);
        assert_eq!(v.vlan, None);
        assert_v4_udp(&decode(LinkKind::Ethernet, &eth(ET_IPV4, &ipv4_udp())).unwrap());
        assert_v6_tcp(&decode(LinkKind::Ethernet, &eth(ET_IPV6, &ipv6_tcp())).unwrap());
        assert_v6_udp(&decode(LinkKind::Ethernet, &eth(ET_IPV6, &ipv6_udp())).unwrap());
    }

    #[test]
    fn ethernet_vlan_tags_report_the_outermost_id() {
        // 802.1Q, id 100, priority 1.
        let one = cat(&[&ETH_MACS, &[0x81, 0x00, 0x20, 0x64], &ET_IPV4, &ipv4_tcp()]);
        let v = decode(LinkKind::Ethernet, &one).unwrap();
        assert_v4_tcp(&v);
        assert_eq!(v.vlan, Some(100));

        // 802.1ad id 0xabc outside 802.1Q id 7.
        let two = cat(&[
            &ETH_MACS,
            &[0x88, 0xa8, 0xea, 0xbc, 0x81, 0x00, 0x00, 0x07],
            &ET_IPV6,
            &ipv6_udp(),
        ]);
        let v = decode(LinkKind::Ethernet, &two).unwrap();
        assert_v6_udp(&v);
        assert_eq!(v.vlan, Some(0xabc));

        // 0x9100 id 4095, 0x88a8 id 2, 0x8100 id 3.
        let three = cat(&[
            &ETH_MACS,
            &[
                0x91, 0x00, 0x0f, 0xff, 0x88, 0xa8, 0x00, 0x02, 0x81, 0x00, 0x00, 0x03,
            ],
            &ET_IPV4,
            &ipv4_udp(),
        ]);
        let v = decode(LinkKind::Ethernet, &three).unwrap();
        assert_v4_udp(&v);
        assert_eq!(v.vlan, Some(4095));

        // A priority-only tag still reports its id, 0.
        let prio = cat(&[&ETH_MACS, &[0x81, 0x00, 0xa0, 0x00], &ET_IPV4, &ipv4_tcp()]);
        assert_eq!(decode(LinkKind::Ethernet, &prio).unwrap().vlan, Some(0));

        // Up to MAX_VLAN_TAGS tags are followed; one more is counted as too deep.
        let tags = |n: usize| -> Vec<u8> {
            (0..n)
                .flat_map(|i| [0x81, 0x00, 0x00, i as u8 + 1])
                .collect()
        };
        for n in 4..=MAX_VLAN_TAGS {
            let f = cat(&[&ETH_MACS, &tags(n), &ET_IPV4, &ipv4_tcp()]);
            let v = decode(LinkKind::Ethernet, &f).unwrap();
            assert_v4_tcp(&v);
            assert_eq!(v.vlan, Some(1));
        }
        let deep = cat(&[&ETH_MACS, &tags(MAX_VLAN_TAGS + 1), &ET_IPV4, &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Ethernet, &deep), SkipReason::VlanTooDeep);
        // A stack cut inside a tag is truncated, as before.
        let cut = cat(&[&ETH_MACS, &tags(6)]);
        assert_eq!(
            skip(LinkKind::Ethernet, &cut[..cut.len() - 2]),
            SkipReason::Truncated
        );

        // A tag the frame ends inside.
        let cut = cat(&[&ETH_MACS, &[0x81, 0x00, 0x00]]);
        assert_eq!(skip(LinkKind::Ethernet, &cut), SkipReason::Truncated);
    }

    #[test]
    fn ethernet_non_ip() {
        // ARP request.
        let arp = cat(&[
            &ETH_MACS,
            &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01],
            &[0u8; 18],
        ]);
        assert_eq!(skip(LinkKind::Ethernet, &arp), SkipReason::NotIp);
        // LLDP.
        let lldp = cat(&[&ETH_MACS, &[0x88, 0xcc, 0x02, 0x07, 0x04], &[0u8; 20]]);
        assert_eq!(skip(LinkKind::Ethernet, &lldp), SkipReason::NotIp);
        // IEEE 802.3 length field followed by LLC (STP) - even when the bytes after it look like IP.
        let llc = cat(&[&ETH_MACS, &[0x00, 0x2d], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Ethernet, &llc), SkipReason::NotIp);
        // ARP behind a VLAN tag.
        let tagged_arp = cat(&[&ETH_MACS, &[0x81, 0x00, 0x00, 0x05, 0x08, 0x06], &[0u8; 28]]);
        assert_eq!(skip(LinkKind::Ethernet, &tagged_arp), SkipReason::NotIp);
        // Too short for an Ethernet header.
        assert_eq!(skip(LinkKind::Ethernet, &ETH_MACS), SkipReason::Truncated);
    }

    #[test]
    fn null_accepts_both_byte_orders_and_all_inet6_values() {
        let le_v4 = cat(&[&[2, 0, 0, 0], &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::Null, &le_v4).unwrap());
        let be_v4 = cat(&[&[0, 0, 0, 2], &ipv4_udp()]);
        assert_v4_udp(&decode(LinkKind::Null, &be_v4).unwrap());
        for family in [10u8, 24, 28, 30] {
            let le = cat(&[&[family, 0, 0, 0], &ipv6_tcp()]);
            assert_v6_tcp(&decode(LinkKind::Null, &le).unwrap());
            let be = cat(&[&[0, 0, 0, family], &ipv6_udp()]);
            assert_v6_udp(&decode(LinkKind::Null, &be).unwrap());
        }
        // AF_APPLETALK (16) in either order, AF_UNSPEC (0).
        for family in [[16, 0, 0, 0], [0, 0, 0, 16], [0, 0, 0, 0]] {
            let f = cat(&[&family, &ipv4_tcp()]);
            assert_eq!(skip(LinkKind::Null, &f), SkipReason::NotIp);
        }
        // An EtherType in either half of the header instead of an address family.
        let f = cat(&[&[0x0f, 0x00, 0x08, 0x00], &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::Null, &f).unwrap());
        let f = cat(&[&[0x86, 0xdd, 0x00, 0x00], &ipv6_udp()]);
        assert_v6_udp(&decode(LinkKind::Null, &f).unwrap());
        // A value that is no address family in either byte order.
        let f = cat(&[&[0x12, 0x34, 0x56, 0x78], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Null, &f), SkipReason::MalformedLink);
        assert_eq!(skip(LinkKind::Null, &[2, 0, 0]), SkipReason::Truncated);
        // The family decides the version: an IPv4 packet labelled AF_INET6 is malformed.
        let mislabelled = cat(&[&[30, 0, 0, 0], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Null, &mislabelled), SkipReason::MalformedIp);
    }

    #[test]
    fn loop_uses_network_byte_order() {
        let f = cat(&[&[0, 0, 0, 2], &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::Loop, &f).unwrap());
        let f = cat(&[&[0, 0, 0, 24], &ipv6_udp()]);
        assert_v6_udp(&decode(LinkKind::Loop, &f).unwrap());
        let f = cat(&[&[0, 0, 0, 7], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Loop, &f), SkipReason::NotIp);
        assert_eq!(skip(LinkKind::Loop, &[]), SkipReason::Truncated);
    }

    #[test]
    fn raw_ip_kinds() {
        assert_v4_tcp(&decode(LinkKind::Raw, &ipv4_tcp()).unwrap());
        assert_v6_udp(&decode(LinkKind::Raw, &ipv6_udp()).unwrap());
        assert_v4_udp(&decode(LinkKind::Ipv4, &ipv4_udp()).unwrap());
        assert_v6_tcp(&decode(LinkKind::Ipv6, &ipv6_tcp()).unwrap());
        // The single-version kinds reject the other version.
        assert_eq!(skip(LinkKind::Ipv4, &ipv6_tcp()), SkipReason::MalformedIp);
        assert_eq!(skip(LinkKind::Ipv6, &ipv4_tcp()), SkipReason::MalformedIp);
        // Version nibble neither 4 nor 6.
        let mut bad = ipv4_tcp();
        bad[0] = 0x55;
        assert_eq!(skip(LinkKind::Raw, &bad), SkipReason::MalformedIp);
        for kind in [LinkKind::Raw, LinkKind::Ipv4, LinkKind::Ipv6] {
            assert_eq!(skip(kind, &[]), SkipReason::Truncated);
        }
    }

    #[test]
    fn linux_sll() {
        let f = cat(&[&sll(1, ET_IPV4), &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::LinuxSll, &f).unwrap());
        // Loopback and "none" (tun) hardware types carry EtherTypes too.
        let f = cat(&[&sll(772, ET_IPV6), &ipv6_tcp()]);
        assert_v6_tcp(&decode(LinkKind::LinuxSll, &f).unwrap());
        let f = cat(&[&sll(65534, ET_IPV4), &ipv4_udp()]);
        assert_v4_udp(&decode(LinkKind::LinuxSll, &f).unwrap());
        // VLAN tag re-inserted by libpcap: protocol 0x8100, then TCI and the real protocol.
        let f = cat(&[&sll(1, [0x81, 0x00]), &[0x00, 0x2a], &ET_IPV6, &ipv6_udp()]);
        let v = decode(LinkKind::LinuxSll, &f).unwrap();
        assert_v6_udp(&v);
        assert_eq!(v.vlan, Some(42));
        // Netlink: the protocol field is a netlink family, even if it reads 0x0800.
        let f = cat(&[&sll(824, ET_IPV4), &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::LinuxSll, &f), SkipReason::NotIp);
        // 802.2 LLC pseudo-protocol.
        let f = cat(&[&sll(1, [0x00, 0x04]), &[0x42, 0x42, 0x03]]);
        assert_eq!(skip(LinkKind::LinuxSll, &f), SkipReason::NotIp);
        // InfiniBand: address length 20 although only 8 bytes are stored.
        let mut f = cat(&[&sll(32, ET_IPV4), &ipv4_tcp()]);
        f[5] = 20;
        assert_v4_tcp(&decode(LinkKind::LinuxSll, &f).unwrap());
        assert_eq!(
            skip(LinkKind::LinuxSll, &sll(1, ET_IPV4)[..15]),
            SkipReason::Truncated
        );
    }

    #[test]
    fn linux_sll2() {
        let f = cat(&[&sll2(ET_IPV4), &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::LinuxSll2, &f).unwrap());
        let f = cat(&[&sll2(ET_IPV6), &ipv6_udp()]);
        assert_v6_udp(&decode(LinkKind::LinuxSll2, &f).unwrap());
        let f = cat(&[&sll2([0x81, 0x00]), &[0x01, 0x00], &ET_IPV4, &ipv4_udp()]);
        let v = decode(LinkKind::LinuxSll2, &f).unwrap();
        assert_v4_udp(&v);
        assert_eq!(v.vlan, Some(256));
        let f = cat(&[&sll2([0x08, 0x06]), &[0u8; 28]]);
        assert_eq!(skip(LinkKind::LinuxSll2, &f), SkipReason::NotIp);
        let mut f = cat(&[&sll2(ET_IPV4), &ipv4_tcp()]);
        f[11] = 20;
        assert_v4_tcp(&decode(LinkKind::LinuxSll2, &f).unwrap());
        assert_eq!(
            skip(LinkKind::LinuxSll2, &sll2(ET_IPV4)[..19]),
            SkipReason::Truncated
        );
    }

    // ---- lengths ---------------------------------------------------------------------------------

    #[test]
    fn ethernet_padding_is_not_payload() {
        // 14 + 32 = 46 bytes, padded to the 60-byte Ethernet minimum with non-zero bytes.
        let f = cat(&[&eth(ET_IPV4, &ipv4_udp()), &[0xee; 14]]);
        assert_eq!(f.len(), 60);
        assert_v4_udp(&decode(LinkKind::Ethernet, &f).unwrap());
        let f = cat(&[&eth(ET_IPV4, &ipv4_tcp()), &[0xee; 1]]);
        assert_v4_tcp(&decode(LinkKind::Ethernet, &f).unwrap());
        let f = cat(&[&eth(ET_IPV6, &ipv6_tcp()), &[0xee; 7]]);
        assert_v6_tcp(&decode(LinkKind::Ethernet, &f).unwrap());
        // A bare TCP ACK: empty payload despite the padding.
        let mut ack = cat(&[&IPV4_TCP_HDR, &TCP_HDR]);
        ack[3] = 40;
        let f = cat(&[&eth(ET_IPV4, &ack), &[0; 6]]);
        let v = decode(LinkKind::Ethernet, &f).unwrap();
        assert!(v.payload.is_empty());
        assert_eq!(v.payload_len, 0);
    }

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

    #[test]
    fn ipv4_total_length_zero_means_to_the_end_of_the_frame() {
        let mut p = ipv4_tcp();
        p[2] = 0;
        p[3] = 0;
        let v = decode(LinkKind::Raw, &p).unwrap();
        assert_eq!(v.payload, TCP_PAYLOAD);
        assert_eq!(v.payload_len, 5);
        // UDP keeps its own length in that case.
        let mut p = cat(&[&ipv4_udp(), &[0xee; 4]]);
        p[2] = 0;
        p[3] = 0;
        let v = decode(LinkKind::Raw, &p).unwrap();
        assert_eq!(v.payload, UDP_PAYLOAD);
    }

    #[test]
    fn ipv6_payload_length_zero_means_to_the_end_of_the_frame() {
        let mut p = ipv6_tcp();
        p[4] = 0;
        p[5] = 0;
        let v = decode(LinkKind::Raw, &p).unwrap();
        assert_eq!(v.payload, TCP_PAYLOAD);
        assert_eq!(v.payload_len, 5);
    }

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

    #[test]
    fn ipv4_options_are_skipped() {
        // IHL 6: one 4-byte option (router alert).
        let mut ip = IPV4_TCP_HDR.to_vec();
        ip[0] = 0x46;
        ip[3] = 49;
        ip.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
        let f = cat(&[&ip, &TCP_HDR, TCP_PAYLOAD]);
        assert_v4_tcp(&decode(LinkKind::Raw, &f).unwrap());
    }

    // ---- extension headers -----------------------------------------------------------------------

    #[test]
    fn ipv6_extension_headers_are_walked() {
        // Hop-by-hop (8 bytes, PadN) then destination options (8 bytes) then TCP.
        let mut ip = IPV6_TCP_HDR;
        ip[6] = 0; // hop-by-hop
        ip[5] = 25 + 16;
        let hbh = [60, 0, 1, 4, 0, 0, 0, 0];
        let dst = [6, 0, 1, 4, 0, 0, 0, 0];
        let f = cat(&[&ip, &hbh, &dst, &TCP_HDR, TCP_PAYLOAD]);
        assert_v6_tcp(&decode(LinkKind::Ipv6, &f).unwrap());
        // Padding after it is still excluded.
        let f = cat(&[&ETH_MACS, &ET_IPV6, &f, &[0xee; 3]]);
        assert_v6_tcp(&decode(LinkKind::Ethernet, &f).unwrap());
    }

    #[test]
    fn ipv6_hop_by_hop_not_first_is_malformed() {
        let mut ip = IPV6_TCP_HDR;
        ip[6] = 60;
        ip[5] = 25 + 16;
        let dst = [0, 0, 1, 4, 0, 0, 0, 0];
        let hbh = [6, 0, 1, 4, 0, 0, 0, 0];
        let f = cat(&[&ip, &dst, &hbh, &TCP_HDR, TCP_PAYLOAD]);
        assert_eq!(skip(LinkKind::Ipv6, &f), SkipReason::MalformedIp);
    }

    #[test]
    fn ipv6_extension_header_longer_than_the_datagram_is_malformed() {
        // Destination options claiming 16 bytes in an 8-byte payload, with padding behind it.
        let mut ip = IPV6_TCP_HDR;
        ip[6] = 60;
        ip[5] = 8;
        let f = cat(&[&ip, &[6, 1, 1, 4, 0, 0, 0, 0], &[0u8; 30]]);
        assert_eq!(skip(LinkKind::Ipv6, &f), SkipReason::MalformedIp);
        // The same header cut by the capture is truncated.
        ip[5] = 16;
        let f = cat(&[&ip, &[6, 1, 1, 4, 0, 0, 0, 0]]);
        assert_eq!(skip(LinkKind::Ipv6, &f), SkipReason::Truncated);
    }

    #[test]
    fn ipv4_authentication_header_is_skipped() {
        // AH: next header TCP, payload length 4 (24 bytes in all).
        let ah = [
            6, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut ip = IPV4_TCP_HDR;
        ip[9] = 51;
        ip[3] = 45 + 24;
        let f = cat(&[&ip, &ah, &TCP_HDR, TCP_PAYLOAD, &[0xee; 2]]);
        assert_v4_tcp(&decode(LinkKind::Ipv4, &f).unwrap());
        // AH with a zero length field.
        let mut bad_ah = ah;
        bad_ah[1] = 0;
        let f = cat(&[&ip, &bad_ah, &TCP_HDR, TCP_PAYLOAD]);
        assert_eq!(skip(LinkKind::Ipv4, &f), SkipReason::MalformedIp);
    }

    #[test]
    fn ipv6_authentication_header_is_skipped() {
        let ah = [
            17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut ip = IPV6_UDP_HDR;
        ip[6] = 51;
        ip[5] = 12 + 24;
        let f = cat(&[&ip, &ah, &UDP_HDR, UDP_PAYLOAD]);
        assert_v6_udp(&decode(LinkKind::Ipv6, &f).unwrap());
    }

    // ---- fragments, other protocols ------------------------------------------------------------

    #[test]
    fn ipv4_fragments_are_skipped() {
        // First fragment: MF set, offset 0.
        let mut p = ipv4_tcp();
        p[6] = 0x20;
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::IpFragment);
        // Last fragment: MF clear, offset 185 (1480 bytes).
        let mut p = ipv4_udp();
        p[6] = 0x00;
        p[7] = 185;
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::IpFragment);
        // Middle fragment too short to hold a TCP header: still a fragment, not truncated.
        let mut p = IPV4_TCP_HDR.to_vec();
        p[3] = 28;
        p[6] = 0x20;
        p[7] = 10;
        p.extend_from_slice(&[0xaa; 8]);
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::IpFragment);
        // DF alone is no fragment.
        assert!(decode(LinkKind::Raw, &ipv4_tcp()).is_ok());
    }

    #[test]
    fn ipv6_fragment_headers_are_skipped() {
        let mut ip = IPV6_UDP_HDR;
        ip[6] = 44;
        ip[5] = 12 + 8;
        // First fragment (offset 0, M set).
        let first = [17, 0, 0x00, 0x01, 0, 0, 0, 7];
        let f = cat(&[&ip, &first, &UDP_HDR, UDP_PAYLOAD]);
        assert_eq!(skip(LinkKind::Ipv6, &f), SkipReason::IpFragment);
        // Later fragment (offset 1, M clear) whose next header claims an extension header.
        let later = [60, 0, 0x00, 0x08, 0, 0, 0, 7];
        let f = cat(&[&ip, &later, &[0xff; 12]]);
        assert_eq!(skip(LinkKind::Ipv6, &f), SkipReason::IpFragment);
        // An atomic fragment (offset 0, M clear) holds the whole datagram and is decoded.
        let atomic = [17, 0, 0x00, 0x00, 0, 0, 0, 7];
        let f = cat(&[&ip, &atomic, &UDP_HDR, UDP_PAYLOAD]);
        assert_v6_udp(&decode(LinkKind::Ipv6, &f).unwrap());
    }

    fn fragment(kind: LinkKind, frame: &[u8]) -> Fragment<'_> {
        match decode_frame(kind, frame) {
            Ok(Decoded::Fragment(f)) => f,
            other => panic!("not a fragment: {other:?}"),
        }
    }

    #[test]
    fn decode_frame_hands_ipv4_fragments_back() {
        // First fragment of a TCP datagram: MF, offset 0, 25 bytes of data, id 0x1234.
        let mut p = ipv4_tcp();
        p[6] = 0x20;
        let f = fragment(LinkKind::Raw, &p);
        assert_eq!((f.id, f.protocol, f.offset, f.more), (0x1234, 6, 0, true));
        assert_eq!(f.bytes, &p[20..]);
        assert_eq!(f.wire_len, 25);
        // Later fragment, offset 185 * 8, behind a VLAN tag, with Ethernet padding after it.
        let mut p = ipv4_udp();
        p[6] = 0x00;
        p[7] = 185;
        let e = cat(&[&ETH_MACS, &[0x81, 0x00, 0x00, 0x2a], &ET_IPV4, &p, &[0; 6]]);
        let f = fragment(LinkKind::Ethernet, &e);
        assert_eq!((f.offset, f.more, f.vlan), (1480, false, Some(42)));
        assert_eq!(f.bytes.len(), 12, "padding excluded");
        // Cut by the capture: fewer bytes present than announced.
        let f = fragment(LinkKind::Raw, &p[..25]);
        assert_eq!((f.bytes.len(), f.wire_len), (5, 12));
    }

    #[test]
    fn decode_frame_hands_ipv6_fragments_back_behind_other_headers() {
        // Hop-by-hop (8 bytes), then a fragment header (offset 2 * 8, M set, id 7), then data.
        let mut ip = IPV6_UDP_HDR;
        ip[6] = 0;
        ip[5] = 8 + 8 + 16;
        let hbh = [44, 0, 1, 4, 0, 0, 0, 0];
        let frag = [17, 0, 0x00, 0x11, 0, 0, 0, 7];
        let data = [0xabu8; 16];
        let f = cat(&[&ip, &hbh, &frag, &data]);
        let got = fragment(LinkKind::Ipv6, &f);
        assert_eq!(
            (got.id, got.protocol, got.offset, got.more),
            (7, 17, 16, true)
        );
        assert_eq!(got.bytes, &data);
        assert_eq!(got.wire_len, 16);
    }

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

    #[test]
    fn other_ip_protocols_are_not_tcp_udp() {
        for protocol in [1u8, 2, 4, 41, 47, 50, 132] {
            let mut p = ipv4_tcp();
            p[9] = protocol;
            assert_eq!(
                skip(LinkKind::Raw, &p),
                SkipReason::NotTcpUdp,
                "proto {protocol}"
            );
        }
        for next in [58u8, 59, 4, 41, 50] {
            let mut p = ipv6_tcp();
            p[6] = next;
            assert_eq!(
                skip(LinkKind::Raw, &p),
                SkipReason::NotTcpUdp,
                "next {next}"
            );
        }
    }

    // ---- malformed headers ---------------------------------------------------------------------

    #[test]
    fn malformed_ipv4_headers() {
        let mut p = ipv4_tcp();
        p[0] = 0x44; // IHL 4
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedIp);
        let mut p = ipv4_tcp();
        p[3] = 19; // total length below the header length
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedIp);
        // IHL 15 with the whole 60-byte header captured, but a total length of 45.
        let mut p = cat(&[&ipv4_tcp(), &[0u8; 40]]);
        p[0] = 0x4f;
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::MalformedIp);
        // IHL 15 in a 45-byte frame: the frame ends inside the header.
        let mut p = ipv4_tcp();
        p[0] = 0x4f;
        assert_eq!(skip(LinkKind::Raw, &p), SkipReason::Truncated);
    }

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

    // ---- properties ----------------------------------------------------------------------------

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
        ]
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
            which in 0usize..7,
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
            which in 0usize..7,
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
