//! Identifiers that join a flow record with other tools' records of the same connection.
//!
//! Owns: the Community ID (version 1, as Zeek, Suricata and Arkime compute it: the SHA-1 of
//! the seed, both addresses, the IP protocol and both ports, ordered so that either direction
//! gives the same value, base64-encoded, prefixed `1:`), and the `flow_id`, a number derived
//! from the same digest (so it is the same for a connection in every run and every capture that
//! holds it, and fits a JSON number exactly).
//!
//! Never: depends on the run's secret hash seeds or on which side is the client.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::decode::Transport;

/// The Community ID seed used (the specification's default; every tool must use the same).
pub const SEED: u16 = 0;

/// The IP protocol number of a transport.
fn protocol(t: Transport) -> u8 {
    match t {
        Transport::Tcp => 6,
        Transport::Udp => 17,
    }
}

/// The digest of the flow tuple, endpoints in the specification's order.
fn digest(t: Transport, a: SocketAddr, b: SocketAddr) -> [u8; 20] {
    // Addresses as on the wire: 4 bytes for IPv4, 16 for IPv6.
    let bytes = |s: SocketAddr| match s.ip() {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    };
    let (ba, bb) = (bytes(a), bytes(b));
    // The smaller endpoint first: by address, then (same address) by port.
    let a_first = (ba.as_slice(), a.port()) <= (bb.as_slice(), b.port());
    let (first, second, p1, p2) = if a_first {
        (&ba, &bb, a.port(), b.port())
    } else {
        (&bb, &ba, b.port(), a.port())
    };
    let mut h = Sha1::new();
    h.update(SEED.to_be_bytes());
    h.update(first);
    h.update(second);
    h.update([protocol(t), 0]);
    h.update(p1.to_be_bytes());
    h.update(p2.to_be_bytes());
    h.finalize().into()
}

/// The Community ID v1 of a flow between `a` and `b` (either order gives the same).
///
/// ```
/// use ndbsniff_core::decode::Transport;
/// use ndbsniff_core::flow::community::community_id;
///
/// let id = community_id(
///     Transport::Tcp,
///     "128.232.110.120:34855".parse().unwrap(),
///     "66.35.250.204:80".parse().unwrap(),
/// );
/// assert_eq!(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
/// ```
pub fn community_id(t: Transport, a: SocketAddr, b: SocketAddr) -> String {
    text(&digest(t, a, b))
}

/// A flow's number: the first bytes of its Community ID digest, below 2^53 (a JSON number
/// every reader holds exactly). The same connection gets the same number in every run.
pub fn flow_id(t: Transport, a: SocketAddr, b: SocketAddr) -> u64 {
    number(&digest(t, a, b))
}

/// Both [`flow_id`] and [`community_id`], from one digest.
pub fn ids(t: Transport, a: SocketAddr, b: SocketAddr) -> (u64, String) {
    let d = digest(t, a, b);
    (number(&d), text(&d))
}

fn number(d: &[u8; 20]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(first) & ((1 << 53) - 1)
}

fn text(d: &[u8; 20]) -> String {
    let mut s = String::with_capacity(30);
    s.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(d, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    #[test]
    fn the_specifications_vectors_in_both_directions() {
        for (t, a, b, want) in [
            (
                Transport::Tcp,
                "128.232.110.120:34855",
                "66.35.250.204:80",
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                Transport::Udp,
                "192.168.1.52:54585",
                "8.8.8.8:53",
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            (
                Transport::Tcp,
                "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
                "[2607:f8b0:400c:c03::1a]:25",
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
        ] {
            assert_eq!(community_id(t, sa(a), sa(b)), want);
            assert_eq!(community_id(t, sa(b), sa(a)), want);
            assert_eq!(flow_id(t, sa(a), sa(b)), flow_id(t, sa(b), sa(a)));
            assert_eq!(
                ids(t, sa(a), sa(b)),
                (flow_id(t, sa(a), sa(b)), want.to_string())
            );
        }
    }

    #[test]
    fn flow_ids_differ_by_tuple_and_fit_json_numbers() {
        let a = sa("10.0.0.1:40000");
        let b = sa("10.0.0.2:3406");
        let c = sa("10.0.0.2:3407");
        assert_ne!(flow_id(Transport::Tcp, a, b), flow_id(Transport::Tcp, a, c));
        assert_ne!(flow_id(Transport::Tcp, a, b), flow_id(Transport::Udp, a, b));
        assert!(flow_id(Transport::Tcp, a, b) < 1 << 53);
        // Same address both sides: ordered by port.
        let x = sa("10.0.0.1:1");
        let y = sa("10.0.0.1:2");
        assert_eq!(
            community_id(Transport::Tcp, x, y),
            community_id(Transport::Tcp, y, x)
        );
    }
}
