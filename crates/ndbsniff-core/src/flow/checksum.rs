//! TCP checksum verification, split so that only segments reassembly uses pay for it.
//!
//! Owns: the one's-complement sum (RFC 1071) of the pseudo-header and the TCP header, taken
//! where the whole frame is at hand ([`header_sum`], on the capture thread, a few dozen bytes),
//! and its completion over the payload ([`verify`], on a worker, only for segments fed to a
//! stream that is being inspected).
//!
//! Never: claims a verdict on a segment that was not captured whole (it is
//! [`Checksum::Unverified`]), or reads outside the slices it is given.
//!
//! Sums are taken in big-endian arithmetic over 32-bit (header) and 64-bit (payload) reads,
//! folded to 16 bits with end-around carry at the end: the same result as adding 16-bit words.

use std::net::IpAddr;

use crate::decode::{PacketView, Transport};
use crate::flow::key::FlowKey;
use crate::flow::stream::Checksum;

const TCP_PROTOCOL: u64 = 6;

/// The folded sum of the pseudo-header and the TCP header (its checksum field included), when
/// the segment can be verified: TCP, with payload, every byte of it captured. `key` is the
/// view's flow key: the addresses are taken from it (their sum does not depend on which is the
/// source), which is cheaper than reading them from the view again.
#[inline]
pub fn header_sum(key: &FlowKey, view: &PacketView<'_>) -> Option<u16> {
    let h = view.tcp_header;
    if view.transport != Transport::Tcp
        || view.payload.is_empty()
        || view.payload.len() != view.payload_len as usize
        || h.len() < 20
    {
        return None;
    }
    let tcp_len = h.len() as u64 + u64::from(view.payload_len);
    // Protocol and length words of the pseudo-header, as numbers (big-endian arithmetic).
    let mut sum = TCP_PROTOCOL + tcp_len;
    match (key.lo.addr, key.hi.addr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            if tcp_len > 0xffff {
                return None;
            }
            sum += u64::from(u32::from(s)) + u64::from(u32::from(d));
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            for a in [u128::from(s), u128::from(d)] {
                sum += (a as u64 & 0xffff_ffff)
                    + ((a >> 32) as u64 & 0xffff_ffff)
                    + ((a >> 64) as u64 & 0xffff_ffff)
                    + (a >> 96) as u64;
            }
        }
        _ => return None,
    }
    // The header is a whole number of 32-bit words (20 to 60 bytes).
    for w in h.chunks_exact(4) {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    Some(fold(sum))
}

/// Finishes a [`header_sum`] over the payload: good when the whole sum is all ones.
#[inline]
pub fn verify(header: Option<u16>, payload: &[u8]) -> Checksum {
    match header {
        None => Checksum::Unverified,
        Some(h) if fold(u64::from(h) + add_words(payload)) == 0xffff => Checksum::Good,
        Some(_) => Checksum::Bad,
    }
}

/// The unfolded sum of `bytes` as big-endian 16-bit words (an odd last byte is the high byte of
/// a word whose low byte is zero). Reads 8 bytes at a time: folding a sum of 32-bit halves
/// gives what folding the sum of their 16-bit words gives.
#[inline]
fn add_words(bytes: &[u8]) -> u64 {
    let mut sum: u64 = 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Each half is below 2^32, so the sum cannot overflow for any slice in memory.
        sum += (w & 0xffff_ffff) + (w >> 32);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a wide sum into 16 bits with end-around carry.
#[inline]
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkKind};
    use ndbsniff_gen::{build_tcp_frame, tcp_flags, Encap, FlowAddr, Link, Side, TcpFields};

    fn frame(addr: &FlowAddr, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        let tcp = TcpFields {
            seq: 77,
            ack: 5,
            flags: tcp_flags::ACK | tcp_flags::PSH,
            window: 1000,
            syn_mss: 0,
        };
        build_tcp_frame(
            &mut f,
            &Encap::new(Link::Ethernet),
            addr,
            Side::Client,
            1,
            &tcp,
            payload,
        )
        .unwrap();
        f
    }

    #[test]
    fn generated_segments_verify_and_a_flipped_bit_does_not() {
        let v4 = FlowAddr::v4([198, 51, 100, 7], 40000, [192, 0, 2, 1], 3406);
        let ip = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let v6 = FlowAddr::v6(ip("2001:db8::7"), 40000, ip("2001:db8::1"), 3406);
        for addr in [v4, v6] {
            for payload in [
                &b"g"[..],
                b"get nodeid\n",
                b"0123456789abcdef\n\n",
                &[0xff; 1401],
            ] {
                let mut f = frame(&addr, payload);
                let v = decode(LinkKind::Ethernet, &f).unwrap();
                assert_eq!(
                    verify(header_sum(&FlowKey::of(&v).0, &v), v.payload),
                    Checksum::Good
                );
                let last = f.len() - 1;
                f[last] ^= 0x10;
                let v = decode(LinkKind::Ethernet, &f).unwrap();
                assert_eq!(
                    verify(header_sum(&FlowKey::of(&v).0, &v), v.payload),
                    Checksum::Bad
                );
            }
        }
    }

    #[test]
    fn segments_not_captured_whole_are_not_judged() {
        let addr = FlowAddr::v4([198, 51, 100, 7], 40000, [192, 0, 2, 1], 3406);
        let f = frame(&addr, b"get nodeid\nversion: 1\n\n");
        let cut = &f[..f.len() - 3];
        let v = decode(LinkKind::Ethernet, cut).unwrap();
        assert!(v.payload.len() < v.payload_len as usize);
        assert_eq!(header_sum(&FlowKey::of(&v).0, &v), None);
        assert_eq!(
            verify(header_sum(&FlowKey::of(&v).0, &v), v.payload),
            Checksum::Unverified
        );
        // No payload: nothing to verify either.
        let f = frame(&addr, b"");
        let v = decode(LinkKind::Ethernet, &f).unwrap();
        assert_eq!(header_sum(&FlowKey::of(&v).0, &v), None);
    }
}
