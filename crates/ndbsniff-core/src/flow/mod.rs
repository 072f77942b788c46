//! Flows: the canonical key and its keyed hash, the packet record, per-flow state and its report
//! record, timeouts, the deadline wheel, the per-worker trackers and the table they make up, and
//! per-direction stream reassembly; which flows are watched at all.
pub mod checksum;
pub mod hash;
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
