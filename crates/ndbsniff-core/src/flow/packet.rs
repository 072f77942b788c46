//! The packet record the capture thread hands to a flow worker.
//!
//! Owns: [`Pkt`], one decoded, watched packet reduced to what its flow needs (key and keyed hash
//! worked out, where its payload lies in its batch), and building one from a decoded packet.
//!
//! Never: holds the frame or the payload bytes themselves (a batch does), or allocates.

use crate::decode::{PacketView, TcpInfo, Tunnel};
use crate::flow::checksum;
use crate::flow::key::FlowKey;
use crate::flow::table::FlowTable;

/// One decoded, watched packet as a worker needs it: key and hash worked out, no addresses to
/// parse, no frame to hold.
#[derive(Clone, Copy, Debug)]
pub struct Pkt {
    /// The flow's canonical key.
    pub key: FlowKey,
    /// [`FlowTable::hash`] of the key (keyed: see [`crate::flow::hash`]).
    pub hash: u64,
    /// Capture time, microseconds since the epoch.
    pub ts_us: i64,
    /// Where the payload bytes present start, in the batch's copied data or its file block.
    pub payload_at: usize,
    /// Payload bytes present.
    pub payload_caplen: u32,
    /// Payload length on the wire.
    pub payload_len: u32,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// Sequence number and flags (zero for UDP).
    pub tcp: TcpInfo,
    /// The packet's VLAN id, if it had one.
    pub vlan: Option<u16>,
    /// Sending endpoint: 0 = `key.lo`, 1 = `key.hi`.
    pub idx: u8,
    /// The sum of pseudo-header and TCP header ([`checksum::header_sum`]) when the segment
    /// carries payload captured whole, so a worker can verify the checksum over the payload.
    pub csum: Option<u16>,
    /// The payload was copied into the batch's own data (a reassembled IP datagram), even
    /// when the batch's other payloads lie in a file block.
    pub copied: bool,
    /// The tunnel the packet came through: 0 for none, else its position in the batch's list
    /// of tunnels plus one ([`BatchData::tunnel`]).
    pub tunnel: u16,
}

/// What a batch of [`Pkt`]s holds beside them: their payload bytes, and the tunnels they came
/// through. A closure from packet to payload is a batch with no tunnels.
pub trait BatchData<'p> {
    /// The payload bytes present of `p`.
    fn payload(&self, p: &'p Pkt) -> &'p [u8];

    /// The tunnel `p` came through, when [`Pkt::tunnel`] names one.
    fn tunnel(&self, p: &'p Pkt) -> Option<&'p Tunnel> {
        let _ = p;
        None
    }
}

impl<'p, F: Fn(&'p Pkt) -> &'p [u8]> BatchData<'p> for F {
    fn payload(&self, p: &'p Pkt) -> &'p [u8] {
        self(p)
    }
}

impl Pkt {
    /// The record of a decoded packet captured at `ts_us`, `wire_len` bytes long on the wire,
    /// whose payload bytes will be found at `payload_at`, for `table`.
    #[inline(always)] // called across the crate boundary, once per packet, by the router
    pub fn of(
        view: &PacketView<'_>,
        ts_us: i64,
        wire_len: u32,
        payload_at: usize,
        table: &FlowTable,
    ) -> Pkt {
        Pkt::hashed(view, ts_us, wire_len, payload_at, |key| table.hash(key))
    }

    /// [`Pkt::of`] with the key hashed by `hash`.
    #[inline(always)]
    pub(crate) fn hashed(
        view: &PacketView<'_>,
        ts_us: i64,
        wire_len: u32,
        payload_at: usize,
        hash: impl FnOnce(&FlowKey) -> u64,
    ) -> Pkt {
        let (key, idx) = FlowKey::of(view);
        Pkt {
            key,
            hash: hash(&key),
            ts_us,
            payload_at,
            payload_caplen: view.payload.len() as u32,
            payload_len: view.payload_len,
            wire_len,
            tcp: view.tcp,
            vlan: view.vlan,
            idx: idx as u8,
            csum: checksum::header_sum(&key, view),
            copied: false,
            tunnel: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_packet_record_fits_in_two_cache_lines() {
        // Every packet's record is written by the capture thread and read by a flow worker on
        // another core: its size is cache lines moved per packet. `cargo test --release -p
        // ndbsniff-core a_packet_record -- --nocapture` prints it (BENCHMARKS.md).
        let size = std::mem::size_of::<super::Pkt>();
        eprintln!("packet record: {size} bytes");
        assert!(size <= 128, "a packet record grew to {size} bytes");
    }
}
