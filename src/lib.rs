//! ndbsniff, the tool: capture, threads and the command line around [`ndbsniff_core`].
//!
//! The data path runs one way: a capture thread reads frames with libpcap or from file blocks
//! ([`capture`]), slices each in place ([`ndbsniff_core::decode`]) and routes it by flow key
//! ([`pipeline`]) in batches over bounded channels to flow workers; each worker owns one part
//! of the flow table ([`ndbsniff_core::flow`]), reassembles a bounded prefix of each direction
//! and runs the NDB management protocol probe on it ([`ndbsniff_core::classify`]). Flows that
//! end or go idle come back to the main thread, which turns them into
//! [`ndbsniff_core::report::FlowRecord`]s, printed for a person or as JSON lines.
//!
//! [`run()`] is the whole tool ([`config`] what it needs, [`error`] how it fails); `main.rs`
//! only parses flags and ends as [`error::Exit`] says (the one map from every error to its
//! message and exit status). [`privilege`] and [`sandbox`] confine the
//! process once its files are open.

pub mod capture;
pub mod config;
pub mod error;
pub mod pipeline;
pub mod privilege;
pub mod progress;
pub mod run;
pub mod sandbox;

pub use config::{default_threads, Config, Format, Input, DEFAULT_PORT};
pub use error::RunError;
pub use ndbsniff_core::{Watch, DEFAULT_PREFIX_BYTES};
pub use run::{run, Outcome};

use std::io::Write;

/// Prints one line on stderr, `ndbsniff: ` first. A failure to write it is ignored: stderr is
/// where failures would be reported, and the exit status still tells.
pub fn note(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "ndbsniff: {args}");
}
