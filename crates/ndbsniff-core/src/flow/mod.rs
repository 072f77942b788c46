//! Flows: the canonical key and its keyed hash, the packet record, per-flow state and its report
//! record, timeouts, the deadline wheel, the per-worker trackers and the table they make up, and
//! per-direction stream reassembly; which flows are watched at all; the identifiers (Community ID,
//! flow id) that join a record with other tools' records.
pub mod checksum;
pub mod community;
pub mod hash;
mod hugepages;
pub mod key;
pub mod packet;
pub mod record;
pub mod state;
pub mod stream;
pub mod table;
pub mod timeouts;
pub mod tracker;
pub mod watch;
pub(crate) mod wheel;
