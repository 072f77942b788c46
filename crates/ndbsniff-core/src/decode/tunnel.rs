//! Tunnels: the outer headers of VXLAN, Geneve, GRE, MPLS, PPPoE and IP-in-IP packets, walked to
//! the inner IP packet, and the [`Tunnel`] stack that says what was walked.
//!
//! Followed: VXLAN (UDP destination port 4789, I flag set; inner Ethernet), Geneve (UDP 6081,
//! version 0; inner Ethernet or IP), GRE version 0 (IPv4 or IPv6 outer; checksum, key and
//! sequence fields; inner IPv4, IPv6, Ethernet (transparent Ethernet bridging) or MPLS), MPLS
//! label stacks of up to [`MAX_MPLS_LABELS`] labels (inner IPv4 or IPv6, by its version nibble),
//! PPPoE sessions (PPP IPv4 or IPv6), and IP in IP: IPv4 in IPv4 (`ipip`), IPv6 in IPv4 (`6in4`),
//! IPv4 in IPv6 (`4in6`), IPv6 in IPv6 (`6in6`). At most [`MAX_TUNNEL_LAYERS`] layers; a deeper
//! stack is [`SkipReason::TunnelTooDeep`].
//!
//! A UDP packet to port 4789 or 6081 whose header is not a valid VXLAN or Geneve header stays
//! the UDP packet it is (another service may use the port); once the header is valid, what is
//! wrong inside is the inner packet's reason. An IP fragment inside a tunnel is
//! [`SkipReason::TunnelFragment`] (only outer fragments are put back together, and a reassembled
//! datagram is not looked into for tunnels).
//!
//! Never: allocates, or walks more than [`MAX_TUNNEL_LAYERS`] layers (each layer is a bounded
//! step, so the walk ends).

use std::fmt;
use std::net::IpAddr;

use serde::ser::{SerializeMap, SerializeSeq};

use super::ip::IpPayload;
use super::link::{ether_type_layer, link_layer, L3};
use super::{network, Decoded, LinkKind, PacketView, SkipReason, Transport};

/// Most tunnel layers walked; a packet inside more is [`SkipReason::TunnelTooDeep`].
pub const MAX_TUNNEL_LAYERS: usize = 4;
/// Most MPLS labels in one stack; a longer stack is [`SkipReason::TunnelTooDeep`].
pub const MAX_MPLS_LABELS: usize = 8;

/// The UDP port of VXLAN (RFC 7348).
pub const VXLAN_PORT: u16 = 4789;
/// The UDP port of Geneve (RFC 8926).
pub const GENEVE_PORT: u16 = 6081;

/// IP protocol numbers that carry a tunnel.
pub(super) mod proto {
    pub const IPV4_IN_IP: u8 = 4;
    pub const IPV6_IN_IP: u8 = 41;
    pub const GRE: u8 = 47;
}

/// EtherType of transparent Ethernet bridging (GRE, Geneve: an Ethernet frame inside).
const TRANSPARENT_ETHERNET: u16 = 0x6558;

/// The kind of one tunnel layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// VXLAN (UDP 4789).
    #[default]
    Vxlan,
    /// Geneve (UDP 6081).
    Geneve,
    /// GRE (IP protocol 47).
    Gre,
    /// An MPLS label stack.
    Mpls,
    /// A PPPoE session.
    Pppoe,
    /// IPv4 in IPv4 (IP protocol 4).
    Ipip,
    /// IPv6 in IPv4 (IP protocol 41).
    SixInFour,
    /// IPv4 in IPv6 (next header 4).
    FourInSix,
    /// IPv6 in IPv6 (next header 41).
    SixInSix,
}

impl TunnelKind {
    /// Every kind, in declaration order.
    pub const ALL: [TunnelKind; 9] = [
        TunnelKind::Vxlan,
        TunnelKind::Geneve,
        TunnelKind::Gre,
        TunnelKind::Mpls,
        TunnelKind::Pppoe,
        TunnelKind::Ipip,
        TunnelKind::SixInFour,
        TunnelKind::FourInSix,
        TunnelKind::SixInSix,
    ];

    /// Its name in reports (`vxlan`, `6in4`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Gre => "gre",
            TunnelKind::Mpls => "mpls",
            TunnelKind::Pppoe => "pppoe",
            TunnelKind::Ipip => "ipip",
            TunnelKind::SixInFour => "6in4",
            TunnelKind::FourInSix => "4in6",
            TunnelKind::SixInSix => "6in6",
        }
    }

    /// The name of the layer's identifier in reports: `vni`, `key`, `session`; `None` for
    /// kinds without one.
    pub fn id_name(self) -> Option<&'static str> {
        match self {
            TunnelKind::Vxlan | TunnelKind::Geneve => Some("vni"),
            TunnelKind::Gre => Some("key"),
            TunnelKind::Pppoe => Some("session"),
            _ => None,
        }
    }
}

/// The outer endpoints of a tunnel layer carried over IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Outer {
    /// Outer source address.
    pub src: IpAddr,
    /// Outer destination address.
    pub dst: IpAddr,
    /// Outer UDP source and destination ports (VXLAN, Geneve); `None` for IP and GRE tunnels.
    pub ports: Option<(u16, u16)>,
}

impl fmt::Display for Outer {
    /// `192.0.2.1:51000 → 192.0.2.2:4789`, `[2001:db8::1]:1 → [2001:db8::2]:6081`, or without
    /// ports `192.0.2.1 → 192.0.2.2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = |f: &mut fmt::Formatter<'_>, a: IpAddr, port: Option<u16>| match (a, port) {
            (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
            (a, Some(p)) => write!(f, "{a}:{p}"),
            (a, None) => write!(f, "{a}"),
        };
        end(f, self.src, self.ports.map(|p| p.0))?;
        f.write_str(" → ")?;
        end(f, self.dst, self.ports.map(|p| p.1))
    }
}

/// One tunnel layer: its kind, identifier, outer endpoints and (MPLS) labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TunnelLayer {
    /// What it is.
    pub kind: TunnelKind,
    /// The VXLAN or Geneve VNI, the GRE key, the PPPoE session id; `None` when the header has
    /// none (GRE without a key, MPLS, IP in IP).
    pub id: Option<u32>,
    /// The outer endpoints (IP-borne tunnels); `None` for MPLS and PPPoE.
    pub outer: Option<Outer>,
    labels: [u32; MAX_MPLS_LABELS],
    label_count: u8,
}

impl TunnelLayer {
    /// A layer of `kind` with the given identifier and outer endpoints.
    pub fn new(kind: TunnelKind, id: Option<u32>, outer: Option<Outer>) -> TunnelLayer {
        TunnelLayer {
            kind,
            id,
            outer,
            ..TunnelLayer::default()
        }
    }

    /// An MPLS layer with these labels (outermost first; at most [`MAX_MPLS_LABELS`] kept).
    pub fn mpls(labels: &[u32]) -> TunnelLayer {
        let mut layer = TunnelLayer::new(TunnelKind::Mpls, None, None);
        for &l in labels.iter().take(MAX_MPLS_LABELS) {
            layer.labels[usize::from(layer.label_count)] = l;
            layer.label_count += 1;
        }
        layer
    }

    /// The MPLS labels, outermost first (empty for other kinds).
    pub fn labels(&self) -> &[u32] {
        &self.labels[..usize::from(self.label_count).min(MAX_MPLS_LABELS)]
    }
}

/// `{"type":"vxlan","vni":4242,"outer":"a:p → b:p"}`, `{"type":"mpls","labels":[16,17]}`.
impl serde::Serialize for TunnelLayer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.kind.as_str())?;
        if let (Some(name), Some(id)) = (self.kind.id_name(), self.id) {
            m.serialize_entry(name, &id)?;
        }
        if self.kind == TunnelKind::Mpls {
            m.serialize_entry("labels", self.labels())?;
        }
        if let Some(o) = &self.outer {
            m.serialize_entry("outer", &o.to_string())?;
        }
        m.end()
    }
}

/// The tunnel layers a packet was found inside, outermost first: at most [`MAX_TUNNEL_LAYERS`],
/// kept inline (no allocation). Empty for a packet outside any tunnel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tunnel {
    layers: [TunnelLayer; MAX_TUNNEL_LAYERS],
    depth: u8,
}

impl Tunnel {
    /// The layers, outermost first.
    pub fn layers(&self) -> &[TunnelLayer] {
        &self.layers[..usize::from(self.depth).min(MAX_TUNNEL_LAYERS)]
    }

    /// True when the packet was in no tunnel.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.depth == 0
    }

    /// Forgets every layer.
    #[inline]
    pub fn clear(&mut self) {
        self.depth = 0;
    }

    /// Adds the next layer inwards; [`SkipReason::TunnelTooDeep`] when the stack is full.
    pub fn push(&mut self, layer: TunnelLayer) -> Result<(), SkipReason> {
        let at = usize::from(self.depth);
        let slot = self.layers.get_mut(at).ok_or(SkipReason::TunnelTooDeep)?;
        *slot = layer;
        self.depth += 1;
        Ok(())
    }

    /// The kinds, outermost first, joined by `+` (`vxlan`, `mpls+gre`): the text report's
    /// `PROTO` suffix.
    pub fn kinds(&self) -> String {
        let names: Vec<&str> = self.layers().iter().map(|l| l.kind.as_str()).collect();
        names.join("+")
    }
}

/// The layers as a JSON array, outermost first.
impl serde::Serialize for Tunnel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.layers().len()))?;
        for l in self.layers() {
            seq.serialize_element(l)?;
        }
        seq.end()
    }
}

/// Big-endian u16 at `at` of `b` (the caller checked the length).
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// What follows a tunnel header.
enum Inner<'a> {
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
    /// What an EtherType names (IPv4, IPv6, MPLS, VLAN tags, …).
    EtherType(u16, &'a [u8]),
    /// An IP header of this version.
    Ip(L3, &'a [u8]),
}

/// Decodes what a tunnel header leaves, with the VLAN id found so far.
fn inner<'a>(
    vlan: Option<u16>,
    inside: Inner<'a>,
    tunnel: &mut Tunnel,
) -> Result<Decoded<'a>, SkipReason> {
    let (inner_vlan, l3, bytes) = match inside {
        Inner::Ethernet(bytes) => link_layer(LinkKind::Ethernet, bytes)?,
        Inner::EtherType(et, bytes) => ether_type_layer(et, bytes)?,
        Inner::Ip(l3, bytes) => (None, l3, bytes),
    };
    network(vlan.or(inner_vlan), l3, bytes, tunnel)
}

/// An MPLS label stack or a PPPoE session header in front of the network layer.
#[cold]
#[inline(never)]
pub(super) fn link_tunnel<'a>(
    vlan: Option<u16>,
    l3: L3,
    bytes: &'a [u8],
    tunnel: &mut Tunnel,
) -> Result<Decoded<'a>, SkipReason> {
    match l3 {
        L3::Mpls => {
            let mut labels = [0u32; MAX_MPLS_LABELS];
            let mut rest = bytes;
            let mut n = 0;
            loop {
                let entry = rest.get(..4).ok_or(SkipReason::Truncated)?;
                if n == MAX_MPLS_LABELS {
                    return Err(SkipReason::TunnelTooDeep);
                }
                labels[n] = u32::from_be_bytes([0, entry[0], entry[1], entry[2]]) >> 4;
                n += 1;
                rest = &rest[4..];
                if entry[2] & 1 != 0 {
                    break;
                }
            }
            tunnel.push(TunnelLayer::mpls(&labels[..n]))?;
            // No next-protocol field: the first nibble tells IPv4 from IPv6 (a pseudowire
            // control word starts with 0 and is not followed).
            let l3 = match rest.first().map(|b| b >> 4) {
                None => return Err(SkipReason::Truncated),
                Some(4) => L3::V4,
                Some(6) => L3::V6,
                Some(_) => return Err(SkipReason::NotIp),
            };
            inner(vlan, Inner::Ip(l3, rest), tunnel)
        }
        L3::Pppoe => {
            let h = bytes.get(..8).ok_or(SkipReason::Truncated)?;
            // Version 1, type 1, code 0 (session data).
            if h[0] != 0x11 || h[1] != 0 {
                return Err(SkipReason::MalformedTunnel);
            }
            let session = be16(h, 2);
            // The length counts the PPP protocol field and what follows.
            let len = usize::from(be16(h, 4));
            let ppp_len = len.checked_sub(2).ok_or(SkipReason::MalformedTunnel)?;
            tunnel.push(TunnelLayer::new(
                TunnelKind::Pppoe,
                Some(u32::from(session)),
                None,
            ))?;
            let rest = &bytes[8..];
            let rest = rest.get(..ppp_len).unwrap_or(rest);
            let l3 = match be16(h, 6) {
                0x0021 => L3::V4,
                0x0057 => L3::V6,
                _ => return Err(SkipReason::NotIp),
            };
            inner(vlan, Inner::Ip(l3, rest), tunnel)
        }
        L3::V4 | L3::V6 => Err(SkipReason::NotIp),
    }
}

/// An IP payload of protocol 4, 41 or 47: IP in IP, or GRE.
#[cold]
#[inline(never)]
pub(super) fn ip_tunnel<'a>(
    vlan: Option<u16>,
    net: &IpPayload<'a>,
    tunnel: &mut Tunnel,
) -> Result<Decoded<'a>, SkipReason> {
    let outer = Some(Outer {
        src: net.src,
        dst: net.dst,
        ports: None,
    });
    let v6_outer = net.src.is_ipv6();
    let (kind, l3) = match (net.protocol.0, v6_outer) {
        (proto::IPV4_IN_IP, false) => (TunnelKind::Ipip, L3::V4),
        (proto::IPV6_IN_IP, false) => (TunnelKind::SixInFour, L3::V6),
        (proto::IPV4_IN_IP, true) => (TunnelKind::FourInSix, L3::V4),
        (proto::IPV6_IN_IP, true) => (TunnelKind::SixInSix, L3::V6),
        (proto::GRE, _) => return gre(vlan, net, outer, tunnel),
        _ => return Err(SkipReason::NotTcpUdp),
    };
    tunnel.push(TunnelLayer::new(kind, None, outer))?;
    inner(vlan, Inner::Ip(l3, net.bytes), tunnel)
}

/// A GRE header (RFC 2784, with RFC 2890's key and sequence number).
fn gre<'a>(
    vlan: Option<u16>,
    net: &IpPayload<'a>,
    outer: Option<Outer>,
    tunnel: &mut Tunnel,
) -> Result<Decoded<'a>, SkipReason> {
    const CHECKSUM: u16 = 0x8000;
    const ROUTING: u16 = 0x4000;
    const KEY: u16 = 0x2000;
    const SEQUENCE: u16 = 0x1000;
    let b = net.bytes;
    let h = b.get(..4).ok_or(net.short(SkipReason::MalformedTunnel))?;
    let flags = be16(h, 0);
    match flags & 7 {
        0 => {}
        // Enhanced GRE (PPTP) carries PPP, which is not followed.
        1 => return Err(SkipReason::NotIp),
        _ => return Err(SkipReason::MalformedTunnel),
    }
    if flags & ROUTING != 0 {
        return Err(SkipReason::MalformedTunnel);
    }
    let protocol = be16(h, 2);
    let mut len = 4;
    if flags & CHECKSUM != 0 {
        len += 4;
    }
    let key_at = len;
    if flags & KEY != 0 {
        len += 4;
    }
    if flags & SEQUENCE != 0 {
        len += 4;
    }
    let header = b.get(..len).ok_or(net.short(SkipReason::MalformedTunnel))?;
    let key = (flags & KEY != 0).then(|| {
        u32::from_be_bytes([
            header[key_at],
            header[key_at + 1],
            header[key_at + 2],
            header[key_at + 3],
        ])
    });
    tunnel.push(TunnelLayer::new(TunnelKind::Gre, key, outer))?;
    let rest = &b[len..];
    let inside = match protocol {
        TRANSPARENT_ETHERNET => Inner::Ethernet(rest),
        et => Inner::EtherType(et, rest),
    };
    inner(vlan, inside, tunnel)
}

/// A UDP packet to the VXLAN or Geneve port: the tunnel inside when its header is valid, else
/// `None` (the packet is the UDP packet it is).
#[cold]
#[inline(never)]
pub(super) fn udp_tunnel<'a>(
    view: &PacketView<'a>,
    tunnel: &mut Tunnel,
) -> Option<Result<Decoded<'a>, SkipReason>> {
    debug_assert_eq!(view.transport, Transport::Udp);
    let p = view.payload;
    let h = p.get(..8)?;
    let outer = Some(Outer {
        src: view.src,
        dst: view.dst,
        ports: Some((view.src_port, view.dst_port)),
    });
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let (kind, inside) = match view.dst_port {
        VXLAN_PORT => {
            // The I flag says the VNI is valid (RFC 7348).
            if h[0] & 0x08 == 0 {
                return None;
            }
            (TunnelKind::Vxlan, Inner::Ethernet(&p[8..]))
        }
        GENEVE_PORT => {
            if h[0] >> 6 != 0 {
                return None;
            }
            let options = usize::from(h[0] & 0x3f) * 4;
            let rest = p.get(8 + options..)?;
            let inside = match be16(h, 2) {
                TRANSPARENT_ETHERNET => Inner::Ethernet(rest),
                et => Inner::EtherType(et, rest),
            };
            (TunnelKind::Geneve, inside)
        }
        _ => return None,
    };
    Some(
        tunnel
            .push(TunnelLayer::new(kind, Some(vni), outer))
            .and_then(|()| inner(view.vlan, inside, tunnel)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::*;
    use crate::decode::{decode_frame_in, Decoded};

    /// Outer IPv4 192.0.2.1 -> 192.0.2.2 with this protocol around `payload`.
    fn outer_v4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let t = total.to_be_bytes();
        #[rustfmt::skip]
        let h = [
            0x45, 0, t[0], t[1], 0, 0, 0x40, 0, 64, protocol, 0, 0,
            192, 0, 2, 1, 192, 0, 2, 2,
        ];
        cat(&[&h, payload])
    }

    /// Outer IPv6 2001:db8::a -> 2001:db8::b with this next header around `payload`.
    fn outer_v6(next: u8, payload: &[u8]) -> Vec<u8> {
        let l = (payload.len() as u16).to_be_bytes();
        let mut h = vec![0x60, 0, 0, 0, l[0], l[1], next, 64];
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = 0x0a;
        h.extend_from_slice(&a);
        a[15] = 0x0b;
        h.extend_from_slice(&a);
        cat(&[&h, payload])
    }

    /// Outer UDP 51000 -> `port` around `payload`, in outer IPv4.
    fn outer_udp(port: u16, payload: &[u8]) -> Vec<u8> {
        let l = ((8 + payload.len()) as u16).to_be_bytes();
        let p = port.to_be_bytes();
        let h = [0xc7, 0x38, p[0], p[1], l[0], l[1], 0, 0];
        outer_v4(17, &cat(&[&h, payload]))
    }

    fn decode_in(kind: LinkKind, frame: &[u8]) -> (Result<PacketView<'_>, SkipReason>, Tunnel) {
        let mut t = Tunnel::default();
        let r = match decode_frame_in(kind, frame, &mut t) {
            Ok(Decoded::Packet(v)) => Ok(v),
            Ok(Decoded::Fragment(_)) => Err(SkipReason::IpFragment),
            Err(e) => Err(e),
        };
        (r, t)
    }

    fn json(t: &Tunnel) -> String {
        serde_json::to_string(t).unwrap()
    }

    #[test]
    fn a_tunnel_stack_is_small_and_fixed() {
        let size = std::mem::size_of::<Tunnel>();
        eprintln!("tunnel stack: {size} bytes");
        assert!(size <= 400, "the tunnel stack grew to {size} bytes");
    }

    #[test]
    fn vxlan_carries_an_ethernet_frame() {
        let inner = eth(ET_IPV4, &ipv4_tcp());
        let vxlan = cat(&[&[0x08, 0, 0, 0, 0x00, 0x10, 0x92, 0], &inner]);
        let frame = eth(ET_IPV4, &outer_udp(4789, &vxlan));
        let (v, t) = decode_in(LinkKind::Ethernet, &frame);
        assert_v4_tcp(&v.unwrap());
        assert_eq!(
            json(&t),
            r#"[{"type":"vxlan","vni":4242,"outer":"192.0.2.1:51000 → 192.0.2.2:4789"}]"#
        );
        assert_eq!(t.kinds(), "vxlan");
        // Without the I flag it is plain UDP to port 4789.
        let not = cat(&[&[0, 0, 0, 0, 0x00, 0x10, 0x92, 0], &inner]);
        let frame = eth(ET_IPV4, &outer_udp(4789, &not));
        let (v, t) = decode_in(LinkKind::Ethernet, &frame);
        let v = v.unwrap();
        assert_eq!((v.transport, v.dst_port), (Transport::Udp, 4789));
        assert!(t.is_empty());
    }

    #[test]
    fn geneve_carries_ethernet_or_ip_behind_its_options() {
        // Version 0, 1 word of options, protocol 0x6558, VNI 7.
        let h = [0x01, 0, 0x65, 0x58, 0, 0, 7, 0, 0xaa, 0xbb, 0xcc, 0xdd];
        let frame = outer_udp(6081, &cat(&[&h, &eth(ET_IPV6, &ipv6_udp())]));
        let (v, t) = decode_in(LinkKind::Raw, &frame);
        assert_v6_udp(&v.unwrap());
        assert_eq!(t.layers()[0].kind, TunnelKind::Geneve);
        assert_eq!(t.layers()[0].id, Some(7));
        let h = [0x00, 0, 0x08, 0x00, 0, 0, 8, 0];
        let frame = outer_udp(6081, &cat(&[&h, &ipv4_tcp()]));
        let (v, t) = decode_in(LinkKind::Raw, &frame);
        assert_v4_tcp(&v.unwrap());
        assert_eq!(t.layers()[0].id, Some(8));
        // Version 1 is not Geneve as we know it: plain UDP.
        let h = [0x40, 0, 0x08, 0x00, 0, 0, 8, 0];
        let frame = outer_udp(6081, &cat(&[&h, &ipv4_tcp()]));
        let (v, t) = decode_in(LinkKind::Raw, &frame);
        assert_eq!(v.unwrap().dst_port, 6081);
        assert!(t.is_empty());
    }

    #[test]
    fn gre_with_key_and_every_payload_kind() {
        // Key and sequence present: 0x3000.
        let key = [0x30, 0x00, 0x08, 0x00, 0, 0, 0x01, 0x02, 0, 0, 0, 9];
        let frame = outer_v4(47, &cat(&[&key, &ipv4_tcp()]));
        let (v, t) = decode_in(LinkKind::Raw, &frame);
        assert_v4_tcp(&v.unwrap());
        assert_eq!(
            json(&t),
            r#"[{"type":"gre","key":258,"outer":"192.0.2.1 → 192.0.2.2"}]"#
        );
        // Checksum present, IPv6 inside, IPv6 outside.
        let csum = [0x80, 0x00, 0x86, 0xdd, 0, 0, 0, 0];
        let frame = outer_v6(47, &cat(&[&csum, &ipv6_udp()]));
        let (v, t) = decode_in(LinkKind::Raw, &frame);
        assert_v6_udp(&v.unwrap());
        assert_eq!(t.layers()[0].id, None);
        // Transparent Ethernet bridging.
        let teb = [0x00, 0x00, 0x65, 0x58];
        let frame = outer_v4(47, &cat(&[&teb, &eth(ET_IPV4, &ipv4_udp())]));
        assert_v4_udp(&decode_in(LinkKind::Raw, &frame).0.unwrap());
        // Routing present, an unknown version: malformed; PPTP's enhanced GRE: not IP.
        for (flags, reason) in [
            ([0x40, 0x00], SkipReason::MalformedTunnel),
            ([0x00, 0x02], SkipReason::MalformedTunnel),
            ([0x30, 0x01], SkipReason::NotIp),
        ] {
            let h = [flags[0], flags[1], 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
            let frame = outer_v4(47, &cat(&[&h, &ipv4_tcp()]));
            assert_eq!(decode_in(LinkKind::Raw, &frame).0.unwrap_err(), reason);
        }
    }

    #[test]
    fn mpls_stacks_and_pppoe_sessions() {
        // Labels 16 and 17 (bottom of stack on the second).
        let labels = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40];
        let frame = cat(&[&ETH_MACS, &[0x88, 0x47], &labels, &ipv6_tcp()]);
        let (v, t) = decode_in(LinkKind::Ethernet, &frame);
        assert_v6_tcp(&v.unwrap());
        assert_eq!(json(&t), r#"[{"type":"mpls","labels":[16,17]}]"#);
        // Nine labels are too many.
        let mut deep = Vec::new();
        for _ in 0..8 {
            deep.extend_from_slice(&[0, 1, 0, 64]);
        }
        deep.extend_from_slice(&[0, 1, 1, 64]);
        let frame = cat(&[&ETH_MACS, &[0x88, 0x47], &deep, &ipv4_tcp()]);
        assert_eq!(
            decode_in(LinkKind::Ethernet, &frame).0.unwrap_err(),
            SkipReason::TunnelTooDeep
        );
        // PPPoE session 0x1234 carrying IPv4.
        let ip = ipv4_udp();
        let len = ((ip.len() + 2) as u16).to_be_bytes();
        let pppoe = [0x11, 0x00, 0x12, 0x34, len[0], len[1], 0x00, 0x21];
        let frame = cat(&[&ETH_MACS, &[0x88, 0x64], &pppoe, &ip]);
        let (v, t) = decode_in(LinkKind::Ethernet, &frame);
        assert_v4_udp(&v.unwrap());
        assert_eq!(json(&t), r#"[{"type":"pppoe","session":4660}]"#);
        // LCP inside the session is not IP.
        let lcp = [0x11, 0x00, 0x12, 0x34, 0, 6, 0xc0, 0x21, 1, 1, 0, 4];
        let frame = cat(&[&ETH_MACS, &[0x88, 0x64], &lcp]);
        assert_eq!(
            decode_in(LinkKind::Ethernet, &frame).0.unwrap_err(),
            SkipReason::NotIp
        );
    }

    #[test]
    fn ip_in_ip_in_every_combination() {
        let cases = [
            (outer_v4(4, &ipv4_tcp()), "ipip"),
            (outer_v4(41, &ipv6_tcp()), "6in4"),
            (outer_v6(4, &ipv4_tcp()), "4in6"),
            (outer_v6(41, &ipv6_tcp()), "6in6"),
        ];
        for (frame, kind) in &cases {
            let (v, t) = decode_in(LinkKind::Raw, frame);
            let v = v.unwrap();
            assert_eq!((v.src_port, v.dst_port), (50000, 3406), "{kind}");
            assert_eq!(t.kinds(), *kind);
            assert!(t.layers()[0].outer.is_some());
        }
    }

    #[test]
    fn layers_nest_to_the_limit_and_no_further() {
        // ipip four times: the deepest packet is inside four layers.
        let mut p = ipv4_tcp();
        for _ in 0..MAX_TUNNEL_LAYERS {
            p = outer_v4(4, &p);
        }
        let (v, t) = decode_in(LinkKind::Raw, &p);
        assert_v4_tcp(&v.unwrap());
        assert_eq!(t.layers().len(), MAX_TUNNEL_LAYERS);
        let p = outer_v4(4, &p);
        assert_eq!(
            decode_in(LinkKind::Raw, &p).0.unwrap_err(),
            SkipReason::TunnelTooDeep
        );
        // VXLAN inside GRE inside MPLS, outermost first.
        let vxlan = cat(&[&[0x08, 0, 0, 0, 0, 0, 5, 0], &eth(ET_IPV4, &ipv4_tcp())]);
        let gre = cat(&[&[0, 0, 0x08, 0x00], &outer_udp(4789, &vxlan)]);
        let frame = cat(&[
            &ETH_MACS,
            &[0x88, 0x47],
            &[0, 1, 1, 64],
            &outer_v4(47, &gre),
        ]);
        let (v, t) = decode_in(LinkKind::Ethernet, &frame);
        assert_v4_tcp(&v.unwrap());
        assert_eq!(t.kinds(), "mpls+gre+vxlan");
    }

    #[test]
    fn fragments_inside_tunnels_and_cut_tunnels() {
        let mut frag = ipv4_tcp();
        frag[6] = 0x20; // MF
        let frame = outer_v4(4, &frag);
        assert_eq!(
            decode_in(LinkKind::Raw, &frame).0.unwrap_err(),
            SkipReason::TunnelFragment
        );
        // Every cut of a GRE-in-IPv4 frame is truncated or a shorter inner payload.
        let key = [0x20, 0x00, 0x08, 0x00, 0, 0, 0, 1];
        let frame = outer_v4(47, &cat(&[&key, &ipv4_tcp()]));
        let whole = decode_in(LinkKind::Raw, &frame).0.unwrap();
        let start = frame.len() - whole.payload.len();
        for cut in 0..frame.len() {
            match decode_in(LinkKind::Raw, &frame[..cut]).0 {
                Ok(v) => {
                    assert!(cut >= start);
                    assert_eq!(v.payload, &whole.payload[..cut - start]);
                }
                Err(r) => assert_eq!(r, SkipReason::Truncated, "cut {cut}"),
            }
        }
    }
}
