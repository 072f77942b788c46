//! Tunnelled captures: every frame of a capture wrapped in tunnel layers (VXLAN, Geneve, GRE,
//! MPLS, PPPoE, IP in IP) and finally in Ethernet, as an overlay network or a provider's core
//! would carry it.
//!
//! Owns: the layer headers and the outer addresses. The outer endpoints are the tunnel
//! endpoints of the inner packet's sender and receiver, derived from the inner addresses, so
//! the two directions of a flow travel between the same two endpoints, swapped.
//! Never: changes the inner frame.

use std::io;
use std::net::IpAddr;

use super::frame::internet_checksum;
use super::writer::FrameSink;

/// One tunnel layer put around a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wrap {
    /// VXLAN over IPv4 UDP 4789, around an Ethernet frame.
    Vxlan {
        /// The VXLAN network identifier (24 bits).
        vni: u32,
    },
    /// Geneve over IPv6 UDP 6081 with one 8-byte option, around an Ethernet frame.
    Geneve {
        /// The virtual network identifier (24 bits).
        vni: u32,
    },
    /// GRE over IPv4 around an IP packet (protocol 0x0800 or 0x86dd), with an optional key.
    Gre {
        /// The GRE key, if any.
        key: Option<u32>,
    },
    /// GRE over IPv4 around an Ethernet frame (transparent Ethernet bridging, 0x6558).
    GreEthernet,
    /// An MPLS label stack (outermost first) on Ethernet, around an IP packet.
    Mpls {
        /// The labels, outermost first.
        labels: &'static [u32],
    },
    /// A PPPoE session on Ethernet, around an IP packet.
    Pppoe {
        /// The session id.
        session: u16,
    },
    /// IP in IP: IPv4 or IPv6 outer header (protocol 4 or 41 by the inner version).
    IpInIp {
        /// The outer header is IPv6.
        outer_v6: bool,
    },
}

impl Wrap {
    /// True when this layer carries an Ethernet frame (else an IP packet).
    pub fn carries_ethernet(self) -> bool {
        matches!(
            self,
            Wrap::Vxlan { .. } | Wrap::Geneve { .. } | Wrap::GreEthernet
        )
    }

    /// Its name in descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Wrap::Vxlan { .. } => "vxlan",
            Wrap::Geneve { .. } => "geneve",
            Wrap::Gre { .. } => "gre",
            Wrap::GreEthernet => "gre-teb",
            Wrap::Mpls { .. } => "mpls",
            Wrap::Pppoe { .. } => "pppoe",
            Wrap::IpInIp { outer_v6: false } => "ip-in-ipv4",
            Wrap::IpInIp { outer_v6: true } => "ip-in-ipv6",
        }
    }
}

/// What a frame being wrapped is at the current layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Carried {
    Ethernet,
    Ip,
}

const MACS: [u8; 12] = [
    0x02, 0x00, 0x5e, 0x20, 0x00, 0x02, 0x02, 0x00, 0x5e, 0x20, 0x00, 0x01,
];

/// A [`FrameSink`] that wraps every frame in `layers` (innermost first) before passing it on.
/// The frames it is given are Ethernet frames when the innermost layer carries Ethernet, raw
/// IP packets otherwise; what it passes on is always an Ethernet frame.
pub struct TunnelSink<S> {
    inner: S,
    layers: &'static [Wrap],
    a: Vec<u8>,
    b: Vec<u8>,
}

impl<S: FrameSink> TunnelSink<S> {
    /// Wraps frames in `layers`, innermost first, and writes them to `inner`.
    pub fn new(inner: S, layers: &'static [Wrap]) -> TunnelSink<S> {
        TunnelSink {
            inner,
            layers,
            a: Vec::with_capacity(2048),
            b: Vec::with_capacity(2048),
        }
    }

    /// The sink written to.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: FrameSink> FrameSink for TunnelSink<S> {
    fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let mut carried = match self.layers.first() {
            Some(w) if w.carries_ethernet() => Carried::Ethernet,
            _ => Carried::Ip,
        };
        self.a.clear();
        self.a.extend_from_slice(frame);
        for &layer in self.layers {
            carried = wrap_one(layer, carried, &self.a, &mut self.b)?;
            std::mem::swap(&mut self.a, &mut self.b);
        }
        if carried == Carried::Ip {
            self.b.clear();
            self.b.extend_from_slice(&MACS);
            let et: u16 = if ip_version(&self.a) == Some(6) {
                0x86dd
            } else {
                0x0800
            };
            self.b.extend_from_slice(&et.to_be_bytes());
            self.b.extend_from_slice(&self.a);
            std::mem::swap(&mut self.a, &mut self.b);
        }
        self.inner.write_frame(ts_ns, &self.a)
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

fn ip_version(ip: &[u8]) -> Option<u8> {
    ip.first().map(|b| b >> 4)
}

/// The IP packet inside an Ethernet frame (behind MPLS labels or a PPPoE header, if any).
fn ip_in_ethernet(frame: &[u8]) -> io::Result<&[u8]> {
    let short = || bad("short Ethernet frame");
    let et = u16::from_be_bytes([
        *frame.get(12).ok_or_else(short)?,
        *frame.get(13).ok_or_else(short)?,
    ]);
    let rest = frame.get(14..).ok_or_else(short)?;
    match et {
        0x8847 | 0x8848 => {
            let mut at = 0;
            loop {
                let entry = rest.get(at..at + 4).ok_or_else(short)?;
                at += 4;
                if entry[2] & 1 != 0 {
                    return rest.get(at..).ok_or_else(short);
                }
            }
        }
        0x8864 => rest.get(8..).ok_or_else(short),
        _ => Ok(rest),
    }
}

/// The inner IP packet's (source, destination), from an IP packet or an Ethernet frame.
fn inner_addrs(bytes: &[u8], carried: Carried) -> io::Result<(IpAddr, IpAddr)> {
    let ip = match carried {
        Carried::Ip => bytes,
        Carried::Ethernet => ip_in_ethernet(bytes)?,
    };
    match ip_version(ip) {
        Some(4) => {
            let h = ip.get(..20).ok_or_else(|| bad("short IPv4 header"))?;
            Ok((
                IpAddr::from([h[12], h[13], h[14], h[15]]),
                IpAddr::from([h[16], h[17], h[18], h[19]]),
            ))
        }
        Some(6) => {
            let h = ip.get(..40).ok_or_else(|| bad("short IPv6 header"))?;
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&h[8..24]);
            d.copy_from_slice(&h[24..40]);
            Ok((IpAddr::from(s), IpAddr::from(d)))
        }
        _ => Err(bad("not an IP packet")),
    }
}

/// A tunnel endpoint's number for an inner address (1..=250).
fn endpoint_of(a: IpAddr) -> u8 {
    let sum = match a {
        IpAddr::V4(v4) => v4.octets().iter().map(|&b| u32::from(b)).sum::<u32>(),
        IpAddr::V6(v6) => v6.octets().iter().map(|&b| u32::from(b)).sum::<u32>(),
    };
    (sum % 250) as u8 + 1
}

/// Outer IPv4 header (198.51.100.x) around `payload`.
fn ipv4_around(out: &mut Vec<u8>, proto: u8, src: u8, dst: u8, payload: &[u8]) -> io::Result<()> {
    let total = u16::try_from(20 + payload.len()).map_err(|_| bad("outer IPv4 too long"))?;
    let t = total.to_be_bytes();
    let mut h = [
        0x45, 0, t[0], t[1], 0, 0, 0x40, 0, 64, proto, 0, 0, 198, 51, 100, src, 198, 51, 100, dst,
    ];
    let c = internet_checksum(&h).to_be_bytes();
    h[10] = c[0];
    h[11] = c[1];
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    Ok(())
}

/// Outer IPv6 header (2001:db8:ffff::x) around `payload`.
fn ipv6_around(out: &mut Vec<u8>, next: u8, src: u8, dst: u8, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| bad("outer IPv6 too long"))?;
    let l = len.to_be_bytes();
    out.extend_from_slice(&[0x60, 0, 0, 0, l[0], l[1], next, 64]);
    for x in [src, dst] {
        out.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0]);
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, x]);
    }
    out.extend_from_slice(payload);
    Ok(())
}

/// UDP header with its checksum over the pseudo-header of the outer addresses (`pseudo`: source
/// and destination address bytes).
fn udp_around(
    out: &mut Vec<u8>,
    pseudo: &[u8],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> io::Result<()> {
    let len = u16::try_from(8 + payload.len()).map_err(|_| bad("outer UDP too long"))?;
    let start = out.len();
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let mut sum = pseudo.to_vec();
    sum.extend_from_slice(&[0, 17]);
    sum.extend_from_slice(&len.to_be_bytes());
    sum.extend_from_slice(&out[start..]);
    let c = match internet_checksum(&sum) {
        0 => 0xffff,
        c => c,
    };
    out[start + 6..start + 8].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// The outer addresses' bytes, for the UDP pseudo-header.
fn v4_pair(src: u8, dst: u8) -> Vec<u8> {
    vec![198, 51, 100, src, 198, 51, 100, dst]
}

fn v6_pair(src: u8, dst: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(32);
    for x in [src, dst] {
        v.extend_from_slice(&[
            0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, x,
        ]);
    }
    v
}

/// Puts one layer around `bytes` (which are `carried`) into `out`; returns what `out` is.
fn wrap_one(layer: Wrap, carried: Carried, bytes: &[u8], out: &mut Vec<u8>) -> io::Result<Carried> {
    out.clear();
    let need = if layer.carries_ethernet() {
        Carried::Ethernet
    } else {
        Carried::Ip
    };
    if carried != need {
        return Err(bad("tunnel layer given the wrong kind of frame"));
    }
    let (s, d) = inner_addrs(bytes, carried)?;
    let (src, dst) = (endpoint_of(s), endpoint_of(d));
    // Like a VTEP, the UDP source port follows the inner flow's endpoints.
    let sport = 49152 + u16::from(src) * 16 + u16::from(dst % 16);
    let mut body = Vec::with_capacity(bytes.len() + 16);
    match layer {
        Wrap::Vxlan { vni } => {
            let v = (vni & 0x00ff_ffff).to_be_bytes();
            body.extend_from_slice(&[0x08, 0, 0, 0, v[1], v[2], v[3], 0]);
            body.extend_from_slice(bytes);
            let mut udp = Vec::with_capacity(body.len() + 8);
            udp_around(&mut udp, &v4_pair(src, dst), sport, 4789, &body)?;
            ipv4_around(out, 17, src, dst, &udp)?;
            Ok(Carried::Ip)
        }
        Wrap::Geneve { vni } => {
            let v = (vni & 0x00ff_ffff).to_be_bytes();
            // Version 0, options 2 words (one option: class 0x0102, type 1, 4 bytes of data).
            body.extend_from_slice(&[0x02, 0, 0x65, 0x58, v[1], v[2], v[3], 0]);
            body.extend_from_slice(&[0x01, 0x02, 0x01, 0x01, 0xde, 0xad, 0xbe, 0xef]);
            body.extend_from_slice(bytes);
            let mut udp = Vec::with_capacity(body.len() + 8);
            udp_around(&mut udp, &v6_pair(src, dst), sport, 6081, &body)?;
            ipv6_around(out, 17, src, dst, &udp)?;
            Ok(Carried::Ip)
        }
        Wrap::Gre { key } => {
            let proto: u16 = if ip_version(bytes) == Some(6) {
                0x86dd
            } else {
                0x0800
            };
            let flags: u16 = if key.is_some() { 0x2000 } else { 0 };
            body.extend_from_slice(&flags.to_be_bytes());
            body.extend_from_slice(&proto.to_be_bytes());
            if let Some(k) = key {
                body.extend_from_slice(&k.to_be_bytes());
            }
            body.extend_from_slice(bytes);
            ipv4_around(out, 47, src, dst, &body)?;
            Ok(Carried::Ip)
        }
        Wrap::GreEthernet => {
            body.extend_from_slice(&[0, 0, 0x65, 0x58]);
            body.extend_from_slice(bytes);
            ipv4_around(out, 47, src, dst, &body)?;
            Ok(Carried::Ip)
        }
        Wrap::Mpls { labels } => {
            out.extend_from_slice(&MACS);
            out.extend_from_slice(&0x8847u16.to_be_bytes());
            for (i, &label) in labels.iter().enumerate() {
                let bottom = u32::from(i + 1 == labels.len());
                let entry = ((label & 0x000f_ffff) << 12) | (bottom << 8) | 64;
                out.extend_from_slice(&entry.to_be_bytes());
            }
            out.extend_from_slice(bytes);
            Ok(Carried::Ethernet)
        }
        Wrap::Pppoe { session } => {
            let len = u16::try_from(bytes.len() + 2).map_err(|_| bad("PPPoE payload too long"))?;
            let ppp: u16 = if ip_version(bytes) == Some(6) {
                0x0057
            } else {
                0x0021
            };
            out.extend_from_slice(&MACS);
            out.extend_from_slice(&0x8864u16.to_be_bytes());
            out.extend_from_slice(&[0x11, 0x00]);
            out.extend_from_slice(&session.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&ppp.to_be_bytes());
            out.extend_from_slice(bytes);
            Ok(Carried::Ethernet)
        }
        Wrap::IpInIp { outer_v6 } => {
            let proto = if ip_version(bytes) == Some(6) { 41 } else { 4 };
            if outer_v6 {
                ipv6_around(out, proto, src, dst, bytes)?;
            } else {
                ipv4_around(out, proto, src, dst, bytes)?;
            }
            Ok(Carried::Ip)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<Vec<u8>>);
    impl FrameSink for Collect {
        fn write_frame(&mut self, _ts_ns: u64, frame: &[u8]) -> io::Result<()> {
            self.0.push(frame.to_vec());
            Ok(())
        }
    }

    const IP: [u8; 20] = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    #[test]
    fn layers_wrap_inside_out_and_end_in_ethernet() {
        static LAYERS: [Wrap; 2] = [Wrap::Mpls { labels: &[16, 17] }, Wrap::GreEthernet];
        let mut s = TunnelSink::new(Collect(Vec::new()), &LAYERS);
        s.write_frame(0, &IP).unwrap();
        let f = &s.into_inner().0[0];
        // Ethernet, outer IPv4 protocol 47, GRE 0x6558, Ethernet 0x8847, two labels, the packet.
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(f[14 + 9], 47);
        assert_eq!(&f[34..38], &[0, 0, 0x65, 0x58]);
        assert_eq!(&f[38 + 12..38 + 14], &[0x88, 0x47]);
        assert_eq!(&f[52..56], &[0x00, 0x01, 0x00, 0x40]);
        assert_eq!(&f[56..60], &[0x00, 0x01, 0x11, 0x40]);
        assert_eq!(&f[60..], &IP);
        // A layer given the wrong kind of frame is refused.
        static WRONG: [Wrap; 1] = [Wrap::Vxlan { vni: 1 }];
        let mut s = TunnelSink::new(Collect(Vec::new()), &WRONG);
        assert!(s.write_frame(0, &IP).is_err());
    }
}
