#![warn(missing_docs)]
//! ndbsniff's core: everything between a captured frame and a printed verdict that needs no
//! capture library. Frames are sliced in place ([`decode`], with IP fragment reassembly in
//! [`frag`]), keyed and tracked per flow ([`flow`]: key, hash, stream reassembly, the flow
//! table), classified from the first bytes of each direction ([`classify`]), NDB management
//! sessions followed for their whole life ([`audit`]), and turned into records and printed
//! ([`report`]). [`escape`] makes every name from the wire or the file
//! system safe to print; [`memcap`] bounds the bytes buffered for reassembly.
//!
//! The `ndbsniff` crate adds capture (libpcap, the file reader), the threads and the command
//! line; `ndbsniff-gen` writes the synthetic captures the tests and benchmarks use.

pub mod audit;
pub mod classify;
pub mod decode;
pub mod escape;
pub mod flow;
pub mod frag;
pub mod memcap;
pub mod report;

/// Bytes of each TCP direction reassembled and shown to the probe, by default.
pub const DEFAULT_PREFIX_BYTES: usize = 4096;

pub use flow::watch::{Watch, DEFAULT_PORT};
