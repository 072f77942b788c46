//! Flow classification: does a flow speak the NDB Cluster management protocol?
//!
//! The result types ([`Verdict`], [`Confidence`], [`Role`], [`ProbeResult`], [`ProbeState`])
//! live in `result.rs`, the probe driver [`NdbProbe`], which the flow table keeps in every flow
//! it is still probing and feeds with the first bytes of each direction, in `probe.rs`. The
//! protocol knowledge lives in [`ndb_mgm`] (grammar, scanner, judge); [`hints`] names other
//! protocols for flows that are not NDB. This file only declares and re-exports.
//!
//! The probe never sees ports or addresses: a port number alone never makes a flow `ndb-mgm`.
//! It does not know which endpoint is the client either; it works that out from the content
//! (requests one way, replies the other) and reports it in [`ProbeResult::roles`].
//!
//! Must never: panic on any input bytes, examine more than `budget` bytes of a direction,
//! re-scan bytes it has already read (work is linear in the bytes fed), keep packet bytes, or
//! let a packet byte reach the evidence text unescaped.
//!
//! # Decision rules (summary)
//!
//! * `ndb-mgm` when one side answers like an ndb_mgmd (a strong reply: e.g. `get nodeid
//!   reply`, `node status` + `nodes: N`, a parser error `result: Unknown command, '…'`,
//!   `Authorization failed` / `Error: …`, a `<PING>` stream, a parsable `log event reply`),
//!   whatever the other side sent; or when one side sends distinctive NDB requests (a command
//!   of the server's table, blank-line terminated, with NDB-shaped arguments) and the other
//!   side does not answer in another protocol. Generic commands (`get status`, `get version`,
//!   `get config`, `stop`, `start`, `bye`, `start all`) alone are weak: they need known
//!   arguments or an NDB reply.
//! * Confidence of `ndb-mgm`: high when requests one way and replies the other agree, medium
//!   when only one direction gives evidence.
//! * `unknown` otherwise; high confidence when another protocol was named or both directions
//!   carried enough data, medium when data was seen without NDB evidence, low for (almost) no
//!   payload. If a side sends NDB requests and the other answers in another protocol, the flow
//!   is `unknown` and the answering side's evidence says so (`not NDB: …`).
//! * After `transporter connect` / `ndbd passwd` or `start tls`, the text part is over:
//!   inspection of that direction stops and `upgrade` names the switch, when it was seen
//!   before the probe decided.

pub mod hints;
pub mod ndb_mgm;
mod probe;
mod result;

pub use probe::{NdbProbe, DEFAULT_BUDGET};
pub use result::{Confidence, ProbeResult, ProbeState, Role, Verdict};
