//! The keyed hash of flow keys.
//!
//! Owns: the one hash function every flow-keyed structure uses (the table's maps, the routing of
//! packets to workers, the deadline wheel), seeded at random for each table from the operating
//! system's randomness, so that nobody who sends traffic can choose keys that collide.
//!
//! Never: lets a seed influence what is reported or in which order (report order is defined by
//! times and endpoints alone; see `record_order` in the table).
//!
//! The function is foldhash's fast variant: a folded 64×64→128-bit multiply per word, a few
//! cycles for a flow key. With both its per-hasher and its shared seed secret, an attacker who
//! can only send packets and watch timing has no practical way to build colliding keys; an
//! unkeyed hash (Fx, as used before) falls to keys computed offline (every key of a flood in one
//! bucket chain: quadratic work).

use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::fast::SeedableRandomState;
use foldhash::SharedSeed;

/// The hasher builder of every flow-keyed map: foldhash with secret seeds.
pub type FlowHasher = SeedableRandomState;

/// 64 bits from the operating system's randomness (std's `RandomState` keys come from it).
pub fn os_random_u64() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x6e64_6273_6e69_6666_u64)
}

/// The process-wide part of the seed, drawn once.
fn shared_seed() -> &'static SharedSeed {
    static SEED: OnceLock<SharedSeed> = OnceLock::new();
    SEED.get_or_init(|| SharedSeed::from_u64(os_random_u64()))
}

/// A hasher builder with a fresh random seed.
pub fn random() -> FlowHasher {
    seeded(os_random_u64())
}

/// A hasher builder with this per-table seed (and the process's secret shared seed): tables
/// built with one seed hash alike, which lets tests compare two tables packet for packet.
pub fn seeded(seed: u64) -> FlowHasher {
    SeedableRandomState::with_seed(seed, shared_seed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Transport;
    use crate::flow::key::{Endpoint, FlowKey};

    fn key(port: u16) -> FlowKey {
        FlowKey {
            lo: Endpoint {
                addr: "192.0.2.1".parse().unwrap(),
                port,
            },
            hi: Endpoint {
                addr: "192.0.2.2".parse().unwrap(),
                port: 3406,
            },
            transport: Transport::Tcp,
        }
    }

    #[test]
    fn seeds_differ_between_tables_and_agree_within_one() {
        let (a, b) = (random(), random());
        let k = key(40000);
        assert_ne!(
            a.hash_one(k),
            b.hash_one(k),
            "two random seeds hashed alike"
        );
        assert_eq!(a.hash_one(k), a.clone().hash_one(k));
        assert_eq!(seeded(7).hash_one(k), seeded(7).hash_one(k));
        assert_ne!(seeded(7).hash_one(k), seeded(8).hash_one(k));
    }
}
