//! Flows: the canonical key, the shared table, and per-direction stream reassembly.
pub mod checksum;
pub mod hash;
pub mod key;
pub mod stream;
pub mod table;
