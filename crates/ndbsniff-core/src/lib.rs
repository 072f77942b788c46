#![warn(missing_docs)]
//! ndbsniff's core: everything between a captured frame and a printed verdict that needs no
//! capture library. Frames are sliced in place ([`decode`], with IP fragment reassembly in
//! [`frag`]), keyed and tracked per flow ([`flow`]: key, hash, stream reassembly, the flow
//! table), classified from the first bytes of each direction ([`classify`]), and turned into
//! records and printed ([`report`]). [`escape`] makes every name from the wire or the file
//! system safe to print; [`memcap`] bounds the bytes buffered for reassembly.
//!
//! The `ndbsniff` crate adds capture (libpcap, the file reader), the threads and the command
//! line; `ndbsniff-gen` writes the synthetic captures the tests and benchmarks use.

pub mod classify;
pub mod decode;
pub mod escape;
pub mod flow;
pub mod frag;
pub mod memcap;
pub mod report;

/// Bytes of each TCP direction reassembled and shown to the probe, by default.
pub const DEFAULT_PREFIX_BYTES: usize = 4096;

/// The port watched when none is given: the NDB management server's.
pub const DEFAULT_PORT: u16 = 3406;

/// Which flows are tracked: those with an endpoint on a watched port, or all of them.
#[derive(Clone)]
pub struct Watch {
    any: bool,
    bits: Box<[u64; 1024]>,
    ports: Vec<u16>,
}

impl Watch {
    /// Watches the given ports.
    pub fn ports(ports: &[u16]) -> Watch {
        let mut bits = Box::new([0u64; 1024]);
        for &p in ports {
            bits[p as usize >> 6] |= 1 << (p & 63);
        }
        let mut ports = ports.to_vec();
        ports.sort_unstable();
        ports.dedup();
        Watch {
            any: false,
            bits,
            ports,
        }
    }

    /// Watches every TCP and UDP flow.
    pub fn any() -> Watch {
        Watch {
            any: true,
            bits: Box::new([0u64; 1024]),
            ports: Vec::new(),
        }
    }

    /// True when every flow is watched ([`Watch::any`]), false for a port list.
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// The watched ports (empty when every port is watched).
    pub fn port_list(&self) -> &[u16] {
        &self.ports
    }

    /// True when `port` is in the port list. Always false under [`Watch::any`], which lists no
    /// port (a flow's client is then never chosen by a watched port).
    #[inline]
    pub fn is_watched(&self, port: u16) -> bool {
        self.bits[port as usize >> 6] & (1 << (port & 63)) != 0
    }

    /// Whether a flow between ports `a` and `b` (either order) is tracked: always under
    /// [`Watch::any`], else when either port is watched.
    #[inline]
    pub fn matches(&self, a: u16, b: u16) -> bool {
        self.any || self.is_watched(a) || self.is_watched(b)
    }
}

/// The clock, in microseconds since the Unix epoch (live sweeps).
pub fn wall_clock_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros().min(i64::MAX as u128) as i64)
}
