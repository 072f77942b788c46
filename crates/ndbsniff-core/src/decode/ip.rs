//! The network layer: IPv4 (options, the authentication header) and IPv6 (extension headers),
//! the datagram's length rules, and IP fragments handed back whole for reassembly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::err::{ip_auth, ipv4, ipv6, ipv6_exts};
use etherparse::{
    IpAuthHeaderSlice, IpNumber, Ipv4HeaderSlice, Ipv6ExtensionsSlice, Ipv6HeaderSlice,
};

use super::{to_u32, SkipReason};

const IPV6_HEADER_LEN: usize = 40;

/// The network layer of a frame: addresses and the IP payload.
pub(super) struct IpPayload<'a> {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    /// Upper-layer protocol after all extension headers.
    pub(super) protocol: IpNumber,
    /// Payload bytes present in the frame, never past the end of the datagram.
    pub(super) bytes: &'a [u8],
    /// Payload length announced by the IP header (after extension headers). `>= bytes.len()`.
    pub(super) wire_len: usize,
    /// The datagram length was taken from the frame (IP length field 0), not from the header.
    pub(super) len_from_frame: bool,
    /// The frame ends where `bytes` ends, before or at the datagram end the header announces, so
    /// a header that does not fit in `bytes` is cut off by the capture rather than malformed.
    pub(super) ends_at_frame: bool,
}

impl IpPayload<'_> {
    /// Reason to give when a header of this payload's next layer does not fit in `bytes`.
    #[inline]
    pub(super) fn short(&self, malformed: SkipReason) -> SkipReason {
        if self.ends_at_frame {
            SkipReason::Truncated
        } else {
            malformed
        }
    }

    /// Drops a header of `len` bytes (already known to fit in `bytes`) from the front.
    #[inline]
    pub(super) fn skip(&mut self, len: usize) {
        self.bytes = self.bytes.get(len..).unwrap_or(&[]);
        self.wire_len = self.wire_len.saturating_sub(len);
    }
}

/// One IP fragment, borrowing the captured frame: what [`crate::frag`] needs to put the datagram
/// back together.
#[derive(Clone, Debug)]
pub struct Fragment<'a> {
    /// Outermost VLAN id, as in [`PacketView::vlan`](super::PacketView::vlan).
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

/// The network layer of a frame: a whole datagram's payload, or one fragment.
pub(super) enum Net<'a> {
    Whole(IpPayload<'a>),
    Fragment(Fragment<'a>),
}

/// IPv4 header, optional authentication header; fragments are handed back as they are.
#[inline]
pub(super) fn ipv4_layer(bytes: &[u8]) -> Result<Net<'_>, SkipReason> {
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
pub(super) fn ipv4_auth(net: &mut IpPayload<'_>) -> Result<(), SkipReason> {
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
pub(super) fn ipv6_layer(bytes: &[u8]) -> Result<Net<'_>, SkipReason> {
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
pub(super) fn ipv6_exts(mut net: IpPayload<'_>) -> Result<Net<'_>, SkipReason> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::*;
    use crate::decode::{decode, decode_frame, Decoded, LinkKind, SkipReason};

    // ---- lengths ------------------------------------------------------------------------------------

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
    fn ipv4_options_are_skipped() {
        // IHL 6: one 4-byte option (router alert).
        let mut ip = IPV4_TCP_HDR.to_vec();
        ip[0] = 0x46;
        ip[3] = 49;
        ip.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
        let f = cat(&[&ip, &TCP_HDR, TCP_PAYLOAD]);
        assert_v4_tcp(&decode(LinkKind::Raw, &f).unwrap());
    }

    // ---- extension headers --------------------------------------------------------------------------

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

    // ---- fragments ----------------------------------------------------------------------------------

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

    // ---- malformed headers --------------------------------------------------------------------------

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
}
