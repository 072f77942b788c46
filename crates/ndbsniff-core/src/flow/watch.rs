//! Which flows are tracked: those with an endpoint on a watched port, or all of them.
//!
//! Owns: the set of watched ports (a 65,536-bit map, so a packet's check is two loads) and the
//! default port. Never: looks at payload; a flow on an unwatched port is simply not tracked.

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
