//! When flows are reported and freed: the idle timeouts of TCP and UDP and the linger of a closed
//! conversation.
//!
//! Owns: [`Timeouts`] and the three questions asked of it: how long a flow may stay quiet, whether
//! it is due now, and its deadline as things stand.
//!
//! Never: reads a clock (times are given: capture time offline, clock time live) or changes a flow.

use crate::decode::Transport;
use crate::flow::state::Flow;

/// When flows are reported and freed, in microseconds of capture time (offline) or of the
/// clock (live).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long an open TCP flow may stay quiet.
    pub tcp_idle_us: i64,
    /// How long a UDP flow may stay quiet.
    pub udp_idle_us: i64,
    /// How long a closed (FIN/FIN or RST) flow is kept for stray late packets.
    pub linger_us: i64,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            tcp_idle_us: 300_000_000,
            udp_idle_us: 60_000_000,
            linger_us: 5_000_000,
        }
    }
}

impl Timeouts {
    /// How long `flow` may stay quiet before it is reported and freed.
    #[inline]
    fn limit(&self, transport: Transport, flow: &Flow) -> i64 {
        if flow.ended() {
            self.linger_us
        } else if transport == Transport::Tcp {
            self.tcp_idle_us
        } else {
            self.udp_idle_us
        }
    }

    /// True when `flow` is due to be reported and freed at `now_us`.
    #[inline]
    pub(crate) fn expired(&self, transport: Transport, flow: &Flow, now_us: i64) -> bool {
        now_us.saturating_sub(flow.last_us) >= self.limit(transport, flow)
    }

    /// The earliest time at which `flow` could be due, as things stand.
    #[inline]
    pub(crate) fn deadline(&self, transport: Transport, flow: &Flow) -> i64 {
        flow.last_us.saturating_add(self.limit(transport, flow))
    }
}

/// The clock, in microseconds since the Unix epoch (live sweeps).
pub fn wall_clock_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros().min(i64::MAX as u128) as i64)
}
