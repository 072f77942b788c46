//! The data path between the capture loop and the report: what the capture thread, the flow
//! workers and the sink pass each other.
//!
//! The capture thread hands every frame to a [`Router`] ([`router`]), which decodes it, puts IP
//! fragments back together, drops what is not watched, and sends a compact [`Pkt`] to the flow
//! worker that owns the key's part of the flow table — so a flow is only ever touched by one
//! worker, in capture order, and no worker waits for another. Packets travel in [`Work`] batches
//! over bounded channels and the batches are recycled. Each flow worker ([`worker()`]) owns its
//! part, a [`ndbsniff_core::flow::tracker::Tracker`], by value: it accounts every packet, sweeps
//! the part at the points the router marks in its stream (each second of capture time offline,
//! each second of clock time live) and sends the removed flows to the sink as [`Event`]s; when its
//! channel closes it hands the tracker back for the final drain. The sink side
//! ([`SweepMerger`], [`merge`]) releases a sweep once every worker has reported it, in report
//! order, so the output does not depend on the number of workers or on how they were scheduled.
//!
//! Owns: the batch ([`Work`]), the sweep mark ([`SweepAt`]), the worker-to-sink message
//! ([`Event`]) and the sizes of the queues between the threads.
//!
//! Never: blocks the capture thread in live mode (a batch a worker cannot take is dropped and
//! counted), formats the records of removed flows on a worker (the main thread does), or waits for
//! the pipeline to drain.

pub mod merge;
pub mod offport;
pub mod router;
pub mod worker;

use std::sync::Arc;

use crate::capture::pcapfile::Block;
pub use merge::SweepMerger;
use ndbsniff_core::decode::Tunnel;
use ndbsniff_core::flow::packet::BatchData;
pub use ndbsniff_core::flow::packet::Pkt;
use ndbsniff_core::flow::tracker::Removed;
pub use router::{Router, RouterCounters, RouterSetup};
pub use worker::{worker, WorkerOut, WorkerShared};

/// Packets per batch sent to one worker.
pub const WORK_PACKETS: usize = 2048;
/// Batches queued per worker.
pub const WORK_QUEUE: usize = 16;
/// Sweeps are run once per this much capture time (offline) or clock time (live).
pub const SWEEP_EVERY_US: i64 = 1_000_000;
/// Flows per message from a worker to the sink: bounds what is in flight between them.
pub const FLOWS_PER_EVENT: usize = 1024;
/// Messages with flows queued for the sink.
pub const EVENT_QUEUE: usize = 4;

/// A point in a flow worker's stream where it sweeps its part of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepAt {
    /// Sweeps are numbered from 0 in the order the router marks them.
    pub seq: u64,
    /// Capture time (offline) or clock time (live), microseconds since the epoch.
    pub now_us: i64,
}

/// A batch of packets for one flow worker.
#[derive(Debug)]
pub struct Work {
    /// The packets, in capture order.
    pub pkts: Vec<Pkt>,
    /// Copied payloads (libpcap sources).
    pub data: Vec<u8>,
    /// The block of the capture file the payloads point into (classic pcap files: nothing copied).
    pub block: Option<Arc<Block>>,
    /// Where the worker sweeps its part: after the first `n` packets of the batch, for each
    /// `(n, at)`, in order. Offline, marks ride along with the packets (a capture whose every
    /// packet advances time by a second costs a mark per packet, not a batch per packet).
    pub sweeps: Vec<(usize, SweepAt)>,
    /// This batch's number among those sent to its worker.
    pub no: u64,
    /// The lowest block offset a packet refers to (`usize::MAX` when none refers to the block).
    pub first_at: usize,
    /// The tunnels the batch's packets came through ([`Pkt::tunnel`] is a position here plus
    /// one); a packet in the same tunnel as the one before shares its entry. At most one per
    /// packet.
    pub tunnels: Vec<Tunnel>,
}

impl Default for Work {
    /// An empty batch that allocates nothing yet.
    fn default() -> Work {
        Work {
            pkts: Vec::new(),
            data: Vec::new(),
            block: None,
            sweeps: Vec::new(),
            no: 0,
            first_at: usize::MAX,
            tunnels: Vec::new(),
        }
    }
}

impl Work {
    /// An empty batch with room for [`WORK_PACKETS`] packets.
    pub(crate) fn new() -> Work {
        Work {
            pkts: Vec::with_capacity(WORK_PACKETS),
            ..Work::default()
        }
    }

    /// Empties the batch for reuse, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.pkts.clear();
        self.data.clear();
        self.block = None;
        self.sweeps.clear();
        self.first_at = usize::MAX;
        self.tunnels.clear();
    }

    /// The payload bytes of one packet of this batch: in the file block, or in `data` when the
    /// source is libpcap or the payload was copied (a reassembled datagram).
    #[inline]
    pub fn payload(&self, p: &Pkt) -> &[u8] {
        let base: &[u8] = match &self.block {
            Some(b) if !p.copied => b,
            _ => &self.data,
        };
        base.get(p.payload_at..p.payload_at + p.payload_caplen as usize)
            .unwrap_or(&[])
    }
}

impl<'p> BatchData<'p> for &'p Work {
    fn payload(&self, p: &'p Pkt) -> &'p [u8] {
        Work::payload(self, p)
    }

    fn tunnel(&self, p: &'p Pkt) -> Option<&'p Tunnel> {
        self.tunnels.get(usize::from(p.tunnel).checked_sub(1)?)
    }
}

/// What a flow worker tells the sink about flows it removed.
#[derive(Debug)]
pub enum Notice {
    /// A verdict decided while its flow runs.
    Decided(ndbsniff_core::report::FlowRecord),
    /// Commands of a running NDB session.
    Ndb(ndbsniff_core::flow::tracker::NdbNotice),
}

/// What a flow worker reports about the flows it removed.
pub enum Event {
    /// Flows pushed out of a full part of the table.
    Evicted(Removed),
    /// Flows worker `worker` removed in sweeps (sweep number, flows; a sweep may come in
    /// several parts), and the news that it has reported all of its share of every sweep
    /// numbered below `upto` (sweeps it does not name removed nothing there).
    Swept {
        /// The flow worker's number (its part of the table).
        worker: usize,
        /// Sweep number and the flows removed in it.
        sweeps: Vec<(u64, Removed)>,
        /// Every sweep numbered below this is fully reported by this worker.
        upto: u64,
    },
}
