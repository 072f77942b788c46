//! The deadline wheel: when each flow of a tracker is next worth looking at, so a sweep visits
//! the flows that may be due instead of every flow.
//!
//! Owns: one-second slots of key hashes, in deadline order, and the count of entries they hold.
//!
//! Never: holds a flow or a key (8 bytes an entry), decides whether a flow is due (the tracker does,
//! with [`crate::flow::timeouts::Timeouts`]), or moves an entry earlier than asked.

use std::collections::BTreeMap;

/// The granularity of the deadline wheel: one slot per second.
const SLOT_US: i64 = 1_000_000;

/// When each flow of a tracker is next worth looking at, so a sweep visits the flows that may be
/// due instead of every flow. Each flow has an entry at or before its deadline (a flow's deadline
/// only moves later as packets arrive, except when it ends, which adds an entry); a visit that
/// finds a flow not yet due moves the entry to its deadline. Entries of flows that are gone are
/// skipped, and the wheel is rebuilt from the map when they pile up (floods that evict).
///
/// Entries are key hashes only (8 bytes a flow); a visit looks at every flow of the tracker whose
/// key has that hash, so flows whose 64-bit hashes are equal are still swept apart, each at its
/// own deadline: the visit leaves one entry, at the earliest deadline of those not yet due.
#[derive(Debug, Default)]
pub(crate) struct Wheel {
    slots: BTreeMap<i64, Vec<u64>>,
    entries: usize,
}

impl Wheel {
    /// Adds an entry for the flows with key hash `hash`, to be looked at once `deadline_us` is
    /// reached (in the sweep that first covers its second).
    #[inline]
    pub(crate) fn schedule(&mut self, deadline_us: i64, hash: u64) {
        self.slots
            .entry(deadline_us.div_euclid(SLOT_US))
            .or_default()
            .push(hash);
        self.entries += 1;
    }

    /// Takes out the earliest slot if it is due at `now_us`: its hashes, in the order they were
    /// scheduled. None once no slot is due.
    #[inline]
    pub(crate) fn pop_due(&mut self, now_us: i64) -> Option<Vec<u64>> {
        let slot = self.slots.first_entry()?;
        if *slot.key() > now_us.div_euclid(SLOT_US) {
            return None;
        }
        let hashes = slot.remove();
        self.entries -= hashes.len();
        Some(hashes)
    }

    /// Entries held, those of flows that are gone included.
    pub(crate) fn entries(&self) -> usize {
        self.entries
    }
}
