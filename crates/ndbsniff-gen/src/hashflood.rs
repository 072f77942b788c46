//! Captures that attack the flow table's bookkeeping rather than its size.
//!
//! Owns: a SYN flood whose IPv6 keys all collide under the unkeyed Fx hash (the worst case for a
//! table that hashes without a secret), and a trickle of SYNs spread out in capture time so that
//! every packet starts a new sweep period. Deterministic: the same arguments give the same bytes.
//!
//! Never: reads the clock or keeps packets in memory.

use std::io::{self, Write};

use super::flood::{write_syns, Syns};
use super::FlowAddr;

/// Fx's multiplier (rustc-hash 2, 64-bit).
const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

/// The client address of the `i`-th colliding key: Fx hashes a key as the words (low half, high
/// half) of each address and then the ports; keeping `high + low * K` fixed keeps Fx's state
/// after the first address fixed, so every key built with the same server and ports collides.
pub fn fx_colliding_client(i: u64) -> [u8; 16] {
    let low = i.wrapping_add(1);
    let high = 0x2001_0db8_0000_0000_u64.wrapping_sub(low.wrapping_mul(FX_K));
    (u128::from(high) << 64 | u128::from(low)).to_be_bytes()
}

/// The server of every colliding key: above every client address, so clients sort first in
/// the canonical key (as the collision needs).
pub const COLLIDING_SERVER: [u8; 16] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
];

/// Writes `count` SYNs to `server_port`, `gap_ns` apart. With `colliding`, the clients are the
/// Fx-colliding IPv6 addresses from port 40000 to [`COLLIDING_SERVER`]; else distinct IPv6
/// clients in 2001:db8::/32 from port 40000 to the same server. Returns the number written.
pub fn write_hash_flood<W: Write>(
    out: W,
    count: u64,
    server_port: u16,
    colliding: bool,
    gap_ns: u64,
    start_ns: u64,
) -> io::Result<u64> {
    let syns = Syns {
        count,
        seed: count,
        start_ns,
        gap_ns,
        mss: 1440,
    };
    write_syns(out, &syns, |i, rng| {
        let client = if colliding {
            fx_colliding_client(i)
        } else {
            let mut c = [0u8; 16];
            c[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            c[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
            c
        };
        FlowAddr::v6(client, 40000, COLLIDING_SERVER, server_port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::decode::{decode, LinkKind};
    use ndbsniff_core::flow::key::FlowKey;
    use std::hash::BuildHasher;

    fn keys(colliding: bool) -> Vec<FlowKey> {
        let mut cap = Vec::new();
        write_hash_flood(&mut cap, 500, 3406, colliding, 1_000, 0).unwrap();
        crate::writer::classic_records(&cap)
            .into_iter()
            .map(|(_, f)| FlowKey::of(&decode(LinkKind::Ethernet, f).unwrap()).0)
            .collect()
    }

    #[test]
    fn colliding_keys_share_one_fx_hash_and_random_ones_do_not() {
        let fx = rustc_hash::FxBuildHasher;
        let hashes = |ks: &[FlowKey]| {
            let mut h: Vec<u64> = ks.iter().map(|k| fx.hash_one(k)).collect();
            h.sort_unstable();
            h.dedup();
            h.len()
        };
        let bad = keys(true);
        assert_eq!(bad.len(), 500);
        let distinct: std::collections::HashSet<_> = bad.iter().map(|k| k.lo).collect();
        assert_eq!(distinct.len(), 500, "every SYN is a flow of its own");
        assert_eq!(hashes(&bad), 1, "all keys collide under Fx");
        assert_eq!(hashes(&keys(false)), 500);
    }
}
