//! The flow table: what every part of it shares, and building the parts.
//!
//! Owns: the keyed hash of a run's flow keys ([`FlowTable::hash`]) and which part a key belongs
//! to ([`FlowTable::part_of_hash`]: the capture thread routes each packet by it), the limits every
//! part works to (prefix bytes, the flow cap shared out evenly, [`Timeouts`]), the reassembly
//! budget ([`MemCap`]) and the counters the parts add to while they run (bad checksums), which the
//! statistics read at any time. [`FlowTable::trackers`] builds the parts: one [`Tracker`] per flow
//! worker, owned by value by the thread that writes it.
//!
//! Never: holds a flow (the trackers do), takes a lock, or lets the hash seed decide anything that
//! is reported.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::flow::hash::{self, FlowHasher};
use crate::flow::key::FlowKey;
use crate::flow::tracker::Tracker;
use crate::memcap::MemCap;

pub use crate::flow::timeouts::Timeouts;

/// The default cap on flows tracked at once.
pub const DEFAULT_MAX_FLOWS: usize = 1_000_000;

/// The hash of flow keys: the table's keyed hasher (or, in tests, one value for every key).
#[derive(Clone)]
pub(crate) struct KeyHash {
    hasher: FlowHasher,
    /// Tests: every key hashes to this (the worst case of a hash function, on purpose).
    #[cfg(test)]
    pub(crate) constant: Option<u64>,
}

impl KeyHash {
    /// The hash of `key`.
    #[inline(always)]
    pub(crate) fn hash(&self, key: &FlowKey) -> u64 {
        #[cfg(test)]
        if let Some(h) = self.constant {
            return h;
        }
        std::hash::BuildHasher::hash_one(&self.hasher, key)
    }
}

/// What the parts of a table count together while they run.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// TCP segments found with a bad checksum.
    pub(crate) bad_checksums: AtomicU64,
}

/// All flows of a run, keyed canonically and split into parts by key hash: the shared side.
/// The flows themselves live in the parts, [`Tracker`]s, that [`FlowTable::trackers`] builds.
pub struct FlowTable {
    /// The keyed hash of every part's map, of routing and of the wheels (one seed per table).
    pub(crate) keys: KeyHash,
    parts: usize,
    prefix: usize,
    /// The cap on each part: the flow cap shared out evenly.
    part_max: usize,
    timeouts: Timeouts,
    /// The budget reassembly buffers are reserved from.
    memcap: Arc<MemCap>,
    counters: Arc<Counters>,
}

impl FlowTable {
    /// A table in `parts` parts (one per flow worker) holding at most about `max_flows`
    /// flows, reassembling `prefix` bytes of each direction. Keys are hashed with a fresh
    /// random seed.
    pub fn new(prefix: usize, parts: usize, max_flows: usize) -> FlowTable {
        Self::with_hasher(prefix, parts, max_flows, hash::random())
    }

    /// [`FlowTable::new`] with a given hasher: tables with hashers of one seed route and
    /// evict alike (tests compare them packet for packet).
    pub fn with_hasher(
        prefix: usize,
        parts: usize,
        max_flows: usize,
        hasher: FlowHasher,
    ) -> FlowTable {
        let parts = parts.max(1);
        FlowTable {
            keys: KeyHash {
                hasher,
                #[cfg(test)]
                constant: None,
            },
            parts,
            prefix,
            part_max: max_flows.max(1).div_ceil(parts),
            timeouts: Timeouts::default(),
            memcap: Arc::new(MemCap::default()),
            counters: Arc::new(Counters::default()),
        }
    }

    /// The table reserving its reassembly buffers from `memcap` (shared with the rest of the
    /// run) instead of a budget of its own of the default size.
    pub fn with_memcap(mut self, memcap: Arc<MemCap>) -> FlowTable {
        self.memcap = memcap;
        self
    }

    /// The table with these timeouts instead of the defaults.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> FlowTable {
        self.timeouts = timeouts;
        self
    }

    /// The parts of the table, empty: one [`Tracker`] per part, in part order, each to be
    /// owned by the worker that [`FlowTable::part_of_hash`] routes its packets to. Called once
    /// per run: the parts share this table's limits, budget and counters, and each is the only
    /// home of the flows routed to it.
    pub fn trackers(&self) -> Vec<Tracker> {
        (0..self.parts)
            .map(|part| {
                Tracker::new(
                    part,
                    self.keys.clone(),
                    self.prefix,
                    self.part_max,
                    self.timeouts,
                    Arc::clone(&self.memcap),
                    Arc::clone(&self.counters),
                )
            })
            .collect()
    }

    /// How many parts the table has.
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// The budget reassembly buffers are reserved from.
    pub fn memcap(&self) -> &MemCap {
        &self.memcap
    }

    /// TCP segments found with a bad checksum so far, by every part (see
    /// [`crate::report::Summary`]).
    pub fn bad_checksums(&self) -> u64 {
        self.counters.bad_checksums.load(Ordering::Relaxed)
    }

    /// The hash of a key, as the parts' maps compute it: keyed with this table's secret seed,
    /// so which part a flow lands in varies from run to run, but nothing that is reported does.
    #[inline(always)]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.keys.hash(key)
    }

    /// The part a flow with key hash `hash` lives in.
    #[inline]
    pub fn part_of_hash(&self, hash: u64) -> usize {
        // Bits 16-47, scaled to the number of parts (a multiply, not a division): the maps use
        // the top bits for their tag and the low bits for the bucket.
        ((((hash >> 16) & 0xffff_ffff) * self.parts as u64) >> 32) as usize
    }

    /// The position of a flow with key hash `hash` among `count` parts: the same scaling as
    /// [`FlowTable::part_of_hash`], which it equals when `count` is [`FlowTable::parts`]. Used
    /// when the parts are shared out among several capture threads, each routing its packets
    /// into its own range of them.
    #[inline]
    pub fn part_among(hash: u64, count: usize) -> usize {
        ((((hash >> 16) & 0xffff_ffff) * count as u64) >> 32) as usize
    }

    /// The part a flow lives in.
    #[inline]
    pub fn part_of(&self, key: &FlowKey) -> usize {
        self.part_of_hash(self.hash(key))
    }
}
