//! Frame builders: link-layer encapsulations, IPv4/IPv6 headers and TCP/UDP headers with correct
//! lengths and checksums.
//!
//! Owns: the byte layout of every link type the generator writes (Ethernet with 0–3 VLAN tags,
//! Linux SLL and SLL2, raw IP, raw IPv4, raw IPv6, BSD NULL and LOOP) and of IP/TCP/UDP headers.
//! Builds into a caller-provided buffer so that a bulk generator allocates nothing per packet.
//! Must never panic: impossible requests (an IPv6 packet on the raw-IPv4 link type, a payload
//! larger than an IP packet can carry, more than three VLAN tags) are reported as [`FrameError`].

use super::writer::ByteOrder;
use super::{FlowAddr, IpPair, Side};

/// TCP flag bits: the same constants the decoder reports.
pub use ndbsniff_core::decode::tcp_flags;

/// Link types the generator can write. [`Link::linktype`] gives the pcap LINKTYPE value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// LINKTYPE_ETHERNET (1), optionally with VLAN tags.
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113), 16-byte "cooked" header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276), 20-byte "cooked" header.
    LinuxSll2,
    /// LINKTYPE_RAW (101): the frame is the IP packet (v4 or v6).
    Raw,
    /// LINKTYPE_IPV4 (228): IPv4 packets only.
    RawIpv4,
    /// LINKTYPE_IPV6 (229): IPv6 packets only.
    RawIpv6,
    /// LINKTYPE_NULL (0): 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): 4-byte address family in network byte order.
    Loop,
}

impl Link {
    /// Every link type, in a stable order.
    pub const ALL: [Link; 8] = [
        Link::Ethernet,
        Link::LinuxSll,
        Link::LinuxSll2,
        Link::Raw,
        Link::RawIpv4,
        Link::RawIpv6,
        Link::Null,
        Link::Loop,
    ];

    /// The pcap/pcapng LINKTYPE value written in file headers.
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet => 1,
            Link::LinuxSll => 113,
            Link::LinuxSll2 => 276,
            Link::Raw => 101,
            Link::RawIpv4 => 228,
            Link::RawIpv6 => 229,
            Link::Null => 0,
            Link::Loop => 108,
        }
    }

    /// Short name used in file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Link::Ethernet => "eth",
            Link::LinuxSll => "sll",
            Link::LinuxSll2 => "sll2",
            Link::Raw => "raw",
            Link::RawIpv4 => "rawv4",
            Link::RawIpv6 => "rawv6",
            Link::Null => "null",
            Link::Loop => "loop",
        }
    }

    /// Inverse of [`Link::name`].
    pub fn from_name(name: &str) -> Option<Link> {
        Link::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// One 802.1Q / 802.1ad tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Tag protocol identifier: 0x8100 (C-tag) or 0x88a8 (S-tag, QinQ outer).
    pub tpid: u16,
    /// VLAN id (12 bits).
    pub vid: u16,
    /// Priority code point (3 bits).
    pub pcp: u8,
}

/// TPID of an 802.1Q customer tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad service tag (QinQ outer tag).
pub const TPID_8021AD: u16 = 0x88a8;

/// Address family written for IPv4 in NULL and LOOP headers.
pub const AF_INET: u32 = 2;
/// Address family written for IPv6 in NULL headers (Darwin's `AF_INET6`).
pub const NULL_AF_INET6: u32 = 30;
/// Address family written for IPv6 in LOOP headers (OpenBSD's `AF_INET6`).
pub const LOOP_AF_INET6: u32 = 24;

/// Why a frame could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// More than three VLAN tags were asked for.
    TooManyVlans {
        /// How many were asked for.
        count: usize,
    },
    /// The link type cannot carry this IP version (IPv6 on LINKTYPE_IPV4 or the reverse).
    LinkCannotCarry {
        /// The link type.
        link: Link,
        /// 4 or 6.
        ip_version: u8,
    },
    /// The payload does not fit in one IP packet.
    PayloadTooLarge {
        /// Payload length asked for.
        len: usize,
    },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooManyVlans { count } => write!(f, "{count} VLAN tags (at most 3)"),
            FrameError::LinkCannotCarry { link, ip_version } => {
                write!(f, "link type {} cannot carry IPv{ip_version}", link.name())
            }
            FrameError::PayloadTooLarge { len } => write!(f, "payload of {len} bytes too large"),
        }
    }
}

impl std::error::Error for FrameError {}

/// How frames are encapsulated below IP: link type, VLAN tags, host byte order (for NULL),
/// MAC addresses and interface index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Encap {
    /// The link type.
    pub link: Link,
    vlans: [VlanTag; 3],
    vlan_count: u8,
    /// Byte order of the capturing host: decides the NULL header. Set it to the file's byte
    /// order so that the file looks like it was written on that host.
    pub host_order: ByteOrder,
    /// MAC address of the client side (Ethernet source for client frames, SLL address).
    pub client_mac: [u8; 6],
    /// MAC address of the server side.
    pub server_mac: [u8; 6],
    /// Interface index written in SLL2 headers.
    pub ifindex: u32,
}

impl Encap {
    /// Plain encapsulation for `link`: no VLAN, little-endian host, fixed locally
    /// administered MAC addresses.
    pub fn new(link: Link) -> Self {
        Encap {
            link,
            vlans: [VlanTag {
                tpid: 0,
                vid: 0,
                pcp: 0,
            }; 3],
            vlan_count: 0,
            host_order: ByteOrder::Little,
            client_mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01],
            server_mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0xfe],
            ifindex: 2,
        }
    }

    /// Adds VLAN tags, outermost first (Ethernet only; ignored by the other link types).
    pub fn with_vlans(mut self, tags: &[VlanTag]) -> Result<Self, FrameError> {
        if tags.len() > 3 {
            return Err(FrameError::TooManyVlans { count: tags.len() });
        }
        for (slot, tag) in self.vlans.iter_mut().zip(tags) {
            *slot = *tag;
        }
        self.vlan_count = tags.len() as u8;
        Ok(self)
    }

    /// The usual tag stack of `n` tags (0–3): one 0x8100 tag, or an 0x88a8 outer tag followed
    /// by 0x8100 inner tags. VLAN ids are 100, 200, 300 from the outside in.
    pub fn with_vlan_stack(self, n: usize) -> Result<Self, FrameError> {
        let mut tags = [VlanTag {
            tpid: TPID_8021Q,
            vid: 0,
            pcp: 0,
        }; 3];
        for (i, t) in tags.iter_mut().enumerate() {
            t.vid = 100 * (i as u16 + 1);
            t.tpid = if i == 0 && n >= 2 {
                TPID_8021AD
            } else {
                TPID_8021Q
            };
        }
        self.with_vlans(tags.get(..n).ok_or(FrameError::TooManyVlans { count: n })?)
    }

    /// Sets the host byte order (see the field).
    pub fn with_host_order(mut self, order: ByteOrder) -> Self {
        self.host_order = order;
        self
    }

    /// The VLAN tags, outermost first.
    pub fn vlans(&self) -> &[VlanTag] {
        self.vlans.get(..self.vlan_count as usize).unwrap_or(&[])
    }

    /// Length of the link header this encapsulation writes.
    pub fn header_len(&self) -> usize {
        match self.link {
            Link::Ethernet => 14 + 4 * self.vlan_count as usize,
            Link::LinuxSll => 16,
            Link::LinuxSll2 => 20,
            Link::Raw | Link::RawIpv4 | Link::RawIpv6 => 0,
            Link::Null | Link::Loop => 4,
        }
    }

    fn write_link(&self, out: &mut Vec<u8>, from: Side, v6: bool) -> Result<(), FrameError> {
        let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
        let (src_mac, dst_mac) = match from {
            Side::Client => (self.client_mac, self.server_mac),
            Side::Server => (self.server_mac, self.client_mac),
        };
        // The capture is taken on the server host: client frames arrive, server frames leave.
        let pkttype: u8 = match from {
            Side::Client => 0,
            Side::Server => 4,
        };
        match self.link {
            Link::Ethernet => {
                out.extend_from_slice(&dst_mac);
                out.extend_from_slice(&src_mac);
                for tag in self.vlans() {
                    out.extend_from_slice(&tag.tpid.to_be_bytes());
                    let tci = (u16::from(tag.pcp & 7) << 13) | (tag.vid & 0x0fff);
                    out.extend_from_slice(&tci.to_be_bytes());
                }
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::LinuxSll => {
                out.extend_from_slice(&u16::from(pkttype).to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                out.extend_from_slice(&6u16.to_be_bytes());
                out.extend_from_slice(&src_mac);
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::LinuxSll2 => {
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&self.ifindex.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                out.push(pkttype);
                out.push(6);
                out.extend_from_slice(&src_mac);
                out.extend_from_slice(&[0, 0]);
            }
            Link::Raw => {}
            Link::RawIpv4 | Link::RawIpv6 => {
                if v6 != (self.link == Link::RawIpv6) {
                    return Err(FrameError::LinkCannotCarry {
                        link: self.link,
                        ip_version: if v6 { 6 } else { 4 },
                    });
                }
            }
            Link::Null => {
                let af = if v6 { NULL_AF_INET6 } else { AF_INET };
                out.extend_from_slice(&self.host_order.u32(af));
            }
            Link::Loop => {
                let af = if v6 { LOOP_AF_INET6 } else { AF_INET };
                out.extend_from_slice(&af.to_be_bytes());
            }
        }
        Ok(())
    }
}

/// TCP header fields of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpFields {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (written as is; meaningful when ACK is set).
    pub ack: u32,
    /// Flag bits, see [`tcp_flags`].
    pub flags: u8,
    /// Receive window.
    pub window: u16,
    /// When non-zero, the SYN option block is written: MSS with this value, SACK permitted,
    /// window scale 7.
    pub syn_mss: u16,
}

/// IP protocol number of TCP.
const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
const PROTO_UDP: u8 = 17;
/// Largest transport payload accepted (keeps every length field in range).
pub const MAX_PAYLOAD: usize = 65_000;

fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold(sum16(0, data))
}

/// Builds a complete TCP frame (link header, IP header, TCP header, payload) into `out`,
/// replacing its contents. `from` says which endpoint of `addr` sends it; `ip_id` is the IPv4
/// identification (ignored for IPv6).
pub fn build_tcp_frame(
    out: &mut Vec<u8>,
    encap: &Encap,
    addr: &FlowAddr,
    from: Side,
    ip_id: u16,
    tcp: &TcpFields,
    payload: &[u8],
) -> Result<(), FrameError> {
    let opt_len = if tcp.syn_mss != 0 { 12 } else { 0 };
    let mut l4 = [0u8; 32];
    let hdr_len = 20 + opt_len;
    let (sport, dport) = addr.ports(from);
    l4[0..2].copy_from_slice(&sport.to_be_bytes());
    l4[2..4].copy_from_slice(&dport.to_be_bytes());
    l4[4..8].copy_from_slice(&tcp.seq.to_be_bytes());
    l4[8..12].copy_from_slice(&tcp.ack.to_be_bytes());
    l4[12] = ((hdr_len / 4) as u8) << 4;
    l4[13] = tcp.flags;
    l4[14..16].copy_from_slice(&tcp.window.to_be_bytes());
    if opt_len != 0 {
        let mss = tcp.syn_mss.to_be_bytes();
        // MSS, NOP, NOP, SACK permitted, NOP, window scale 7.
        l4[20..32].copy_from_slice(&[2, 4, mss[0], mss[1], 1, 1, 4, 2, 1, 3, 3, 7]);
    }
    let l4_hdr = l4.get(..hdr_len).unwrap_or(&l4);
    build_ip_frame(
        out, encap, addr, from, ip_id, PROTO_TCP, l4_hdr, 16, payload,
    )
}

/// Builds a complete UDP frame into `out`, replacing its contents.
pub fn build_udp_frame(
    out: &mut Vec<u8>,
    encap: &Encap,
    addr: &FlowAddr,
    from: Side,
    ip_id: u16,
    payload: &[u8],
) -> Result<(), FrameError> {
    let (sport, dport) = addr.ports(from);
    let mut l4 = [0u8; 8];
    l4[0..2].copy_from_slice(&sport.to_be_bytes());
    l4[2..4].copy_from_slice(&dport.to_be_bytes());
    let len = (8 + payload.len().min(MAX_PAYLOAD)) as u16;
    l4[4..6].copy_from_slice(&len.to_be_bytes());
    build_ip_frame(out, encap, addr, from, ip_id, PROTO_UDP, &l4, 6, payload)
}

/// Writes link header, IP header, `l4_hdr` (whose checksum field at `csum_at` is filled here)
/// and `payload`.
#[allow(clippy::too_many_arguments)]
fn build_ip_frame(
    out: &mut Vec<u8>,
    encap: &Encap,
    addr: &FlowAddr,
    from: Side,
    ip_id: u16,
    proto: u8,
    l4_hdr: &[u8],
    csum_at: usize,
    payload: &[u8],
) -> Result<(), FrameError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(FrameError::PayloadTooLarge { len: payload.len() });
    }
    out.clear();
    let v6 = matches!(addr.ips, IpPair::V6 { .. });
    encap.write_link(out, from, v6)?;
    let l4_len = l4_hdr.len() + payload.len();
    // Pseudo-header sum.
    let mut acc: u32 = 0;
    match addr.ips {
        IpPair::V4 { client, server } => {
            let (src, dst) = match from {
                Side::Client => (client, server),
                Side::Server => (server, client),
            };
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            let total = (20 + l4_len) as u16;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
            ip[6] = 0x40; // don't fragment
            ip[8] = 64;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&src);
            ip[16..20].copy_from_slice(&dst);
            let csum = internet_checksum(&ip);
            ip[10..12].copy_from_slice(&csum.to_be_bytes());
            out.extend_from_slice(&ip);
            acc = sum16(acc, &src);
            acc = sum16(acc, &dst);
        }
        IpPair::V6 { client, server } => {
            let (src, dst) = match from {
                Side::Client => (client, server),
                Side::Server => (server, client),
            };
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            ip[6] = proto;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&src);
            ip[24..40].copy_from_slice(&dst);
            out.extend_from_slice(&ip);
            acc = sum16(acc, &src);
            acc = sum16(acc, &dst);
        }
    }
    acc = acc.wrapping_add(u32::from(proto));
    acc = acc.wrapping_add(l4_len as u32);
    let l4_start = out.len();
    out.extend_from_slice(l4_hdr);
    out.extend_from_slice(payload);
    let l4_bytes = out.get(l4_start..).unwrap_or(&[]);
    let mut csum = fold(sum16(acc, l4_bytes));
    if proto == PROTO_UDP && csum == 0 {
        csum = 0xffff;
    }
    if let Some(field) = out.get_mut(l4_start + csum_at..l4_start + csum_at + 2) {
        field.copy_from_slice(&csum.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn v4_addr() -> FlowAddr {
        FlowAddr::v4([198, 51, 100, 7], 40001, [203, 0, 113, 10], 3406)
    }

    fn v6_addr() -> FlowAddr {
        let mut c = [0u8; 16];
        c[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        c[15] = 7;
        let mut s = c;
        s[15] = 0x10;
        FlowAddr::v6(c, 40001, s, 3406)
    }

    fn seg() -> TcpFields {
        TcpFields {
            seq: 1000,
            ack: 2000,
            flags: tcp_flags::ACK | tcp_flags::PSH,
            window: 501,
            syn_mss: 0,
        }
    }

    /// Checks IP and TCP checksums with etherparse's own computation.
    fn assert_tcp_ok(p: &SlicedPacket<'_>, payload: &[u8]) {
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            panic!("no tcp")
        };
        assert_eq!(tcp.payload(), payload);
        let expect = match &p.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header().to_header();
                assert_eq!(h.header_checksum, h.calc_header_checksum());
                tcp.calc_checksum_ipv4(h.source, h.destination).unwrap()
            }
            Some(NetSlice::Ipv6(ip)) => {
                let h = ip.header().to_header();
                tcp.calc_checksum_ipv6(h.source, h.destination).unwrap()
            }
            _ => panic!("no ip"),
        };
        assert_eq!(tcp.checksum(), expect);
    }

    #[test]
    fn ethernet_v4_tcp_checksums_match_etherparse() {
        let mut out = Vec::new();
        let enc = Encap::new(Link::Ethernet);
        build_tcp_frame(
            &mut out,
            &enc,
            &v4_addr(),
            Side::Client,
            7,
            &seg(),
            b"get version\n\n",
        )
        .unwrap();
        let p = SlicedPacket::from_ethernet(&out).unwrap();
        assert_tcp_ok(&p, b"get version\n\n");
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            panic!()
        };
        assert_eq!(tcp.destination_port(), 3406);
        assert_eq!(tcp.sequence_number(), 1000);
    }

    #[test]
    fn vlan_stacks_and_v6_syn_options() {
        for n in 0..=2 {
            let mut out = Vec::new();
            let enc = Encap::new(Link::Ethernet).with_vlan_stack(n).unwrap();
            let mut t = seg();
            t.flags = tcp_flags::SYN;
            t.syn_mss = 1440;
            build_tcp_frame(&mut out, &enc, &v6_addr(), Side::Server, 0, &t, b"").unwrap();
            assert_eq!(out.len(), 14 + 4 * n + 40 + 32);
            let p = SlicedPacket::from_ethernet(&out).unwrap();
            assert_eq!(p.link_exts.len(), n);
            assert_tcp_ok(&p, b"");
        }
        let enc = Encap::new(Link::Ethernet).with_vlan_stack(3).unwrap();
        let tpids: Vec<u16> = enc.vlans().iter().map(|t| t.tpid).collect();
        assert_eq!(tpids, vec![0x88a8, 0x8100, 0x8100]);
        assert!(Encap::new(Link::Ethernet).with_vlan_stack(4).is_err());
    }

    #[test]
    fn udp_checksum_verifies_to_zero() {
        let mut out = Vec::new();
        let enc = Encap::new(Link::Raw);
        build_udp_frame(&mut out, &enc, &v4_addr(), Side::Client, 1, b"abc").unwrap();
        // Verify over pseudo header + UDP: sum must fold to 0.
        let udp = &out[20..];
        let mut acc = sum16(0, &out[12..20]);
        acc += 17 + udp.len() as u32;
        assert_eq!(fold(sum16(acc, udp)), 0);
        assert_eq!(internet_checksum(&out[..20]), 0);
    }

    #[test]
    fn link_headers_have_documented_layouts() {
        let mut out = Vec::new();
        let a4 = v4_addr();
        let a6 = v6_addr();
        let t = seg();
        let sll = Encap::new(Link::LinuxSll);
        build_tcp_frame(&mut out, &sll, &a4, Side::Server, 0, &t, b"x").unwrap();
        assert_eq!(&out[0..2], &[0, 4]);
        assert_eq!(&out[14..16], &[0x08, 0x00]);
        assert_eq!(out[16], 0x45);
        let sll2 = Encap::new(Link::LinuxSll2);
        build_tcp_frame(&mut out, &sll2, &a6, Side::Client, 0, &t, b"x").unwrap();
        assert_eq!(&out[0..2], &[0x86, 0xdd]);
        assert_eq!(out[10], 0);
        assert_eq!(out[11], 6);
        assert_eq!(out[20] >> 4, 6);
        let null_be = Encap::new(Link::Null).with_host_order(ByteOrder::Big);
        build_tcp_frame(&mut out, &null_be, &a4, Side::Client, 0, &t, b"x").unwrap();
        assert_eq!(&out[0..4], &[0, 0, 0, 2]);
        let null_le = Encap::new(Link::Null);
        build_tcp_frame(&mut out, &null_le, &a6, Side::Client, 0, &t, b"x").unwrap();
        assert_eq!(&out[0..4], &[30, 0, 0, 0]);
        let lo = Encap::new(Link::Loop);
        build_tcp_frame(&mut out, &lo, &a6, Side::Client, 0, &t, b"x").unwrap();
        assert_eq!(&out[0..4], &[0, 0, 0, 24]);
        let raw4 = Encap::new(Link::RawIpv4);
        assert!(build_tcp_frame(&mut out, &raw4, &a6, Side::Client, 0, &t, b"x").is_err());
        let raw6 = Encap::new(Link::RawIpv6);
        build_tcp_frame(&mut out, &raw6, &a6, Side::Client, 0, &t, b"x").unwrap();
        {
            let p = SlicedPacket::from_ip(&out).unwrap();
            assert_tcp_ok(&p, b"x");
        }
        let big = vec![0u8; MAX_PAYLOAD + 1];
        assert!(build_tcp_frame(&mut out, &raw6, &a6, Side::Client, 0, &t, &big).is_err());
    }
}
