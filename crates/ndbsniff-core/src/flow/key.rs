//! The canonical, bidirectional flow key.
//!
//! Owns: mapping both directions of a conversation to one key. The endpoint that sorts lower is
//! `lo` (index 0), the other `hi` (index 1); per-direction state everywhere is indexed by the
//! sending endpoint's index. VLAN ids are reported, not part of the key.
//!
//! Never: allocates.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use crate::decode::{PacketView, Transport};

/// One side of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// The IP address (v4 or v6) as it appeared in the packet's header.
    pub addr: IpAddr,
    /// The TCP or UDP port.
    pub port: u16,
}

impl Endpoint {
    /// The endpoint as `addr:port` (`[addr]:port` for IPv6 when printed).
    pub fn socket_addr(self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
}

/// Both endpoints (ordered) and the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    /// The endpoint that sorts lower (index 0 of per-direction state); not necessarily the
    /// client.
    pub lo: Endpoint,
    /// The endpoint that sorts higher (index 1 of per-direction state).
    pub hi: Endpoint,
    /// TCP or UDP; the same ports over the two are two flows.
    pub transport: Transport,
}

/// An address as two words (IPv4 as the IPv4-mapped IPv6 address), for hashing.
#[inline]
fn words(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().to_bits(),
        IpAddr::V6(a) => a.to_bits(),
    }
}

impl Hash for FlowKey {
    /// Five word writes instead of the derived byte-slice hashing of `IpAddr`: the flow table
    /// hashes a key for every packet.
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        let (a, b) = (words(self.lo.addr), words(self.hi.addr));
        h.write_u64(a as u64);
        h.write_u64((a >> 64) as u64);
        h.write_u64(b as u64);
        h.write_u64((b >> 64) as u64);
        h.write_u64(
            u64::from(self.lo.port) << 32 | u64::from(self.hi.port) << 16 | self.transport as u64,
        );
    }
}

impl FlowKey {
    /// The key of a packet, and the index (0 = `lo`, 1 = `hi`) of the endpoint that sent it.
    #[inline(always)]
    pub fn of(view: &PacketView<'_>) -> (FlowKey, usize) {
        let src = Endpoint {
            addr: view.src,
            port: view.src_port,
        };
        let dst = Endpoint {
            addr: view.dst,
            port: view.dst_port,
        };
        if src <= dst {
            (
                FlowKey {
                    lo: src,
                    hi: dst,
                    transport: view.transport,
                },
                0,
            )
        } else {
            (
                FlowKey {
                    lo: dst,
                    hi: src,
                    transport: view.transport,
                },
                1,
            )
        }
    }

    /// The endpoint with index `idx` (0 = `lo`, 1 = `hi`).
    pub fn endpoint(&self, idx: usize) -> Endpoint {
        if idx == 0 {
            self.lo
        } else {
            self.hi
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpInfo;

    fn view(src: &str, sp: u16, dst: &str, dp: u16) -> PacketView<'static> {
        PacketView {
            vlan: None,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sp,
            dst_port: dp,
            transport: Transport::Tcp,
            tcp: TcpInfo::default(),
            payload: &[],
            payload_len: 0,
            tcp_header: &[],
        }
    }

    #[test]
    fn both_directions_share_a_key() {
        let (a, ia) = FlowKey::of(&view("192.0.2.1", 40000, "192.0.2.2", 3406));
        let (b, ib) = FlowKey::of(&view("192.0.2.2", 3406, "192.0.2.1", 40000));
        assert_eq!(a, b);
        assert_ne!(ia, ib);
        assert_eq!(a.endpoint(ia).port, 40000);
    }

    #[test]
    fn same_address_orders_by_port() {
        let (k, idx) = FlowKey::of(&view("::1", 5000, "::1", 3406));
        assert_eq!(k.lo.port, 3406);
        assert_eq!(idx, 1);
    }
}
