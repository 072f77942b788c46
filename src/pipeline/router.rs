//! The capture thread's end of the pipeline.
//!
//! Owns: [`Router`], which takes every frame, slices it in place ([`decode::decode_frame`]), puts
//! IP fragments back together ([`ndbsniff_core::frag`]; a reassembled payload is copied into the
//! batch, [`Pkt::copied`]), drops what is not watched — the BPF filter lets through frames it
//! cannot judge by port, so the port test here is the one that counts — works out the flow key
//! and its keyed hash, and puts a compact [`Pkt`] into the batch of the flow worker that owns the
//! key's part of the [`FlowTable`]; the sweep marks of every worker's stream; and the router's
//! counters ([`RouterCounters`]), published for the statistics every few thousand frames.
//!
//! Never: blocks in live mode (a batch a worker cannot take is dropped and counted), touches a
//! flow (only the worker owning its part does), or keeps a frame after it returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ndbsniff_core::decode::{self, Decoded, LinkKind, PacketView, SkipReason, Tunnel};
use ndbsniff_core::flow::table::FlowTable;
use ndbsniff_core::frag::{self, Reassembler};
use ndbsniff_core::memcap::MemCap;
use ndbsniff_core::Watch;

use super::offport::OffPort;
use super::{Pkt, SweepAt, Work, SWEEP_EVERY_US, WORK_PACKETS};
use crate::capture::pcapfile::Block;

/// Copied payload bytes per batch (libpcap sources) before it is sent early.
const WORK_BYTES: usize = 512 * 1024;
/// Offline, a batch is sent once it carries this many sweep marks, so removed flows are not
/// held back for long when capture time races ahead of the packets.
const SWEEPS_PER_BATCH: usize = 64;
/// A live batch is sent when it is this old even if not full, so verdicts are not held back.
const LIVE_FLUSH: Duration = Duration::from_millis(50);
/// How often live batches are checked for age, sweeps for being due, and counters published.
const TICK: Duration = Duration::from_millis(10);
/// The router's counters are made visible to the statistics printer every this many frames.
const PUBLISH_EVERY: u32 = 4096;

/// What the router counts (frames decoded, watched, skipped; IP fragments), shared so periodic
/// statistics can read them.
#[derive(Default)]
pub struct RouterCounters {
    pub decoded: AtomicU64,
    pub watched: AtomicU64,
    pub other_ports: AtomicU64,
    pub skipped: [AtomicU64; SkipReason::ALL.len()],
    /// IP fragments seen.
    pub fragments: AtomicU64,
    /// Datagrams reassembled from them.
    pub reassembled: AtomicU64,
    /// Fragments dropped, by [`frag::Drop`] reason.
    pub fragments_dropped: [AtomicU64; frag::Drop::ALL.len()],
    /// What the port filter turned away while no watched packet had been seen (offline runs;
    /// set when the router finishes).
    pub off_port: Mutex<OffPort>,
}

#[derive(Default)]
struct LocalCounts {
    decoded: u64,
    watched: u64,
    other: u64,
    skipped: [u64; SkipReason::ALL.len()],
    frames: u32,
}

fn add_to(a: &AtomicU64, n: &mut u64) {
    if *n > 0 {
        a.fetch_add(std::mem::take(n), Ordering::Relaxed);
    }
}

impl LocalCounts {
    fn publish(&mut self, c: &RouterCounters, frags: &mut Reassembler) {
        let add = add_to;
        let mut f = frags.take_stats();
        add(&c.fragments, &mut f.fragments);
        add(&c.reassembled, &mut f.reassembled);
        for (a, n) in c.fragments_dropped.iter().zip(f.dropped.iter_mut()) {
            add(a, n);
        }
        add(&c.decoded, &mut self.decoded);
        add(&c.watched, &mut self.watched);
        add(&c.other_ports, &mut self.other);
        for (a, n) in c.skipped.iter().zip(self.skipped.iter_mut()) {
            add(a, n);
        }
        self.frames = 0;
    }
}

/// The router's side of one worker.
struct Lane {
    tx: Sender<Work>,
    work: Work,
    /// When the batch being filled got its first packet (live flushing).
    started: Instant,
    sent: u64,
    /// A sweep mark that could not be delivered yet (live, worker behind).
    pending: Option<SweepAt>,
}

/// Everything the router needs from the run.
pub struct RouterSetup<'a> {
    pub link: LinkKind,
    pub watch: &'a Watch,
    pub table: &'a FlowTable,
    pub lanes: Vec<Sender<Work>>,
    pub recycled: Receiver<Work>,
    pub counters: &'a RouterCounters,
    pub live: bool,
    /// The run's buffer budget: IP fragments are reserved from it.
    pub memcap: &'a MemCap,
    /// Bounds of IP fragment reassembly.
    pub frag: frag::Limits,
    /// Live: when the run's clock of sweeps started. Live sweeps are numbered by the whole
    /// seconds since then, so the marks of several capture threads' routers (each marking its
    /// own workers) that fall in one second share a number and are released together.
    pub clock_start: Instant,
}

/// The capture thread's end of the pipeline: decodes, filters by port, routes and batches.
pub struct Router<'a> {
    link: LinkKind,
    watch: &'a Watch,
    table: &'a FlowTable,
    lanes: Vec<Lane>,
    recycled: Receiver<Work>,
    counters: &'a RouterCounters,
    local: LocalCounts,
    live: bool,
    memcap: &'a MemCap,
    frags: Reassembler,
    block: Option<Arc<Block>>,
    next_sweep_us: i64,
    next_live_sweep: Instant,
    clock_start: Instant,
    next_tick: Instant,
    sweeps: u64,
    /// Packets dropped because a worker was behind (live only).
    pub dropped: u64,
    gone: bool,
    off_port: OffPort,
    /// A watched packet has been routed: [`OffPort`] has nothing more to learn.
    watched_seen: bool,
    /// The tunnel layers of the frame being routed (filled by the decoder).
    tunnel: Tunnel,
}

impl<'a> Router<'a> {
    pub fn new(setup: RouterSetup<'a>) -> Router<'a> {
        let lanes = setup
            .lanes
            .into_iter()
            .map(|tx| Lane {
                tx,
                work: Work::new(),
                started: Instant::now(),
                sent: 0,
                pending: None,
            })
            .collect();
        Router {
            link: setup.link,
            watch: setup.watch,
            table: setup.table,
            lanes,
            recycled: setup.recycled,
            counters: setup.counters,
            local: LocalCounts::default(),
            live: setup.live,
            memcap: setup.memcap,
            frags: Reassembler::new(setup.frag),
            block: None,
            next_sweep_us: i64::MIN,
            next_live_sweep: setup.clock_start + Duration::from_micros(SWEEP_EVERY_US as u64),
            clock_start: setup.clock_start,
            next_tick: Instant::now(),
            sweeps: 0,
            dropped: 0,
            gone: false,
            off_port: OffPort::default(),
            watched_seen: false,
            tunnel: Tunnel::default(),
        }
    }

    /// Frames will be given as offsets into this block of the capture file; payloads are not
    /// copied. Batches that point into the previous block are sent first (a batch refers to one
    /// block), so a block is given back as soon as the workers are done with it.
    pub fn use_block(&mut self, block: Arc<Block>) {
        for i in 0..self.lanes.len() {
            if self.lanes[i].work.first_at != usize::MAX {
                self.send(i);
            }
        }
        self.block = Some(block);
    }

    /// A frame that is not decoded at all (a pcapng interface of a link type the decoder does
    /// not handle): counted under `reason`.
    pub fn skip(&mut self, reason: SkipReason) {
        self.local.frames += 1;
        self.local.skipped[reason.index()] += 1;
    }

    /// Frames from now on are of this link type (several files read as one).
    #[inline]
    pub fn set_link(&mut self, link: LinkKind) {
        self.link = link;
    }

    /// False once the workers have gone (nothing more can be processed).
    pub fn alive(&self) -> bool {
        !self.gone
    }

    /// Takes one frame captured at `ts_us`. `at` is its offset in the block given to
    /// [`Router::use_block`], if it is in one (else its payload is copied).
    #[inline]
    pub fn frame(&mut self, ts_us: i64, frame: &[u8], origlen: u32, at: Option<usize>) {
        self.local.frames += 1;
        match decode::decode_frame_in(self.link, frame, &mut self.tunnel) {
            Ok(Decoded::Packet(view)) => {
                let within = at.map(|frame_at| {
                    let start = view.payload.as_ptr() as usize - frame.as_ptr() as usize;
                    (frame_at, frame_at + start)
                });
                self.packet(&view, ts_us, origlen, within);
            }
            Ok(Decoded::Fragment(f)) => {
                if let Some(d) = self.frags.add(&f, ts_us, origlen, self.memcap) {
                    self.datagram(&d, ts_us);
                }
            }
            Err(reason) => self.local.skipped[reason.index()] += 1,
        }
        if self.local.frames >= PUBLISH_EVERY {
            self.local.publish(self.counters, &mut self.frags);
        }
        if self.live {
            self.tick();
        } else {
            self.capture_time(ts_us);
        }
    }

    /// A frame the BPF filter turned away: tallied by port for the operator's hint as long as no
    /// watched packet has been seen ([`OffPort`]), else ignored. (Decoded packets on other
    /// ports that BPF let through, tunnelled ones say, are tallied as they are routed.)
    pub fn filtered(&mut self, frame: &[u8]) {
        if self.watched_seen {
            return;
        }
        if let Ok(Decoded::Packet(view)) =
            decode::decode_frame_in(self.link, frame, &mut self.tunnel)
        {
            self.off_port.observe(&view);
        }
    }

    /// A reassembled datagram: decoded like a frame, its payload copied into the batch.
    #[cold]
    fn datagram(&mut self, d: &frag::Datagram, ts_us: i64) {
        // A reassembled datagram is not looked into for tunnels.
        self.tunnel.clear();
        match decode::decode_datagram(d.vlan, d.src, d.dst, d.protocol, &d.payload) {
            Ok(view) => {
                let wire_len = u32::try_from(d.wire_len).unwrap_or(u32::MAX);
                self.packet(&view, ts_us, wire_len, None);
            }
            Err(reason) => self.local.skipped[reason.index()] += 1,
        }
    }

    /// One decoded packet: routed to its worker when watched. `mapped_at` is where its frame and
    /// its payload lie in the current block of the file; without it the payload is copied into
    /// the batch.
    #[inline(always)]
    fn packet(
        &mut self,
        view: &PacketView<'_>,
        ts_us: i64,
        wire_len: u32,
        mapped_at: Option<(usize, usize)>,
    ) {
        self.local.decoded += 1;
        if !self.watch.matches(view.src_port, view.dst_port) {
            self.local.other += 1;
            if !self.watched_seen {
                self.off_port.observe(view);
            }
            return;
        }
        self.local.watched += 1;
        self.watched_seen = true;
        let mut pkt = Pkt::of(view, ts_us, wire_len, 0, self.table);
        // Among this router's lanes: all of the table's parts but with several capture threads
        // (then the same as `part_of_hash`, so a file's flows land where they always did).
        let lane_no = FlowTable::part_among(pkt.hash, self.lanes.len());
        let lane = &mut self.lanes[lane_no];
        let work = &mut lane.work;
        match mapped_at {
            Some((frame_at, payload_at)) => {
                if !view.payload.is_empty() {
                    work.first_at = work.first_at.min(frame_at);
                    pkt.payload_at = payload_at;
                }
            }
            None => {
                pkt.payload_at = work.data.len();
                pkt.copied = true;
                work.data.extend_from_slice(view.payload);
            }
        }
        if work.pkts.is_empty() && self.live {
            lane.started = Instant::now();
        }
        if !self.tunnel.is_empty() {
            if work.tunnels.last() != Some(&self.tunnel) {
                work.tunnels.push(self.tunnel);
            }
            // At most one entry per packet, and WORK_PACKETS fits in a u16.
            pkt.tunnel = u16::try_from(work.tunnels.len()).unwrap_or(u16::MAX);
        }
        work.pkts.push(pkt);
        if work.pkts.len() >= WORK_PACKETS || work.data.len() >= WORK_BYTES {
            self.send(lane_no);
        }
    }

    /// Offline: marks a sweep once capture time has moved on by a second since the last one.
    #[inline]
    fn capture_time(&mut self, ts_us: i64) {
        // A capture whose clock jumps backwards (joined captures) restarts the schedule.
        let jumped_back = ts_us < self.next_sweep_us.saturating_sub(10 * SWEEP_EVERY_US);
        if ts_us >= self.next_sweep_us || jumped_back {
            self.next_sweep_us = ts_us.saturating_add(SWEEP_EVERY_US);
            self.frags.expire(ts_us, self.memcap);
            self.mark_sweep(ts_us);
        }
    }

    /// Live: sends batches that have waited long enough, marks a sweep each second of clock
    /// time and publishes the counters. Called for every frame and whenever a read times out;
    /// does its work at most every 10 ms.
    pub fn tick(&mut self) {
        let now = Instant::now();
        if now < self.next_tick {
            return;
        }
        self.next_tick = now + TICK;
        for i in 0..self.lanes.len() {
            let l = &self.lanes[i];
            if l.pending.is_some() || (!l.work.pkts.is_empty() && now - l.started >= LIVE_FLUSH) {
                self.send(i);
            }
        }
        if now >= self.next_live_sweep && self.lanes.iter().all(|l| l.pending.is_none()) {
            // The second of the run's clock this is: a mark skipped while a worker was behind
            // leaves a gap in the numbers, never a number behind the other routers'.
            let every = SWEEP_EVERY_US as u64;
            let second = (now - self.clock_start).as_micros() as u64 / every;
            self.next_live_sweep = self.clock_start + Duration::from_micros((second + 1) * every);
            self.sweeps = self.sweeps.max(second);
            let now_us = ndbsniff_core::flow::timeouts::wall_clock_us();
            self.frags.expire(now_us, self.memcap);
            self.mark_sweep(now_us);
        }
        self.local.publish(self.counters, &mut self.frags);
    }

    /// Asks every worker to sweep its part after the packets routed so far. Live, the batches
    /// go out at once with the mark; offline, the mark rides with the batch being filled.
    fn mark_sweep(&mut self, now_us: i64) {
        let at = SweepAt {
            seq: self.sweeps,
            now_us,
        };
        self.sweeps += 1;
        for i in 0..self.lanes.len() {
            if self.live {
                self.lanes[i].pending = Some(at);
                self.send(i);
            } else {
                let work = &mut self.lanes[i].work;
                work.sweeps.push((work.pkts.len(), at));
                if work.sweeps.len() >= SWEEPS_PER_BATCH {
                    self.send(i);
                }
            }
        }
    }

    /// Sends lane `i`'s batch (with its pending sweep mark, if any). Offline the send waits for
    /// room; live, a batch the worker cannot take is dropped and counted, and the sweep mark
    /// kept for the next try.
    fn send(&mut self, i: usize) {
        if self.gone {
            return;
        }
        let lane = &mut self.lanes[i];
        let mut work = std::mem::take(&mut lane.work);
        if let Some(at) = lane.pending.take() {
            work.sweeps.push((work.pkts.len(), at));
        }
        work.no = lane.sent + 1;
        if work.first_at != usize::MAX {
            work.block.clone_from(&self.block);
        }
        let no = work.no;
        let result = if self.live {
            lane.tx.try_send(work)
        } else {
            lane.tx
                .send(work)
                .map_err(|e| TrySendError::Disconnected(e.0))
        };
        match result {
            Ok(()) => {
                lane.sent = no;
                lane.work = self.recycled.try_recv().unwrap_or_else(|_| Work::new());
            }
            Err(TrySendError::Full(mut w)) => {
                self.dropped += w.pkts.len() as u64;
                // Live batches carry at most the one mark sent with them: it goes with the next.
                lane.pending = w.sweeps.pop().map(|(_, at)| at);
                w.clear();
                lane.work = w;
            }
            Err(TrySendError::Disconnected(_)) => self.gone = true,
        }
    }

    /// Sends every partly filled batch and publishes the counters (end of capture).
    pub fn finish(&mut self) {
        for i in 0..self.lanes.len() {
            let l = &self.lanes[i];
            if !l.work.pkts.is_empty() || l.pending.is_some() || !l.work.sweeps.is_empty() {
                self.send(i);
            }
        }
        self.frags.finish(self.memcap);
        self.local.publish(self.counters, &mut self.frags);
        if let Ok(mut off) = self.counters.off_port.lock() {
            *off = std::mem::take(&mut self.off_port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::WORK_QUEUE;

    /// Frames of generated traffic that carry payload (so they refer to the file).
    fn payload_frames() -> Vec<Vec<u8>> {
        use ndbsniff_gen::traffic::{generate_in_memory, Profile, TrafficSpec};
        let (cap, _) = generate_in_memory(&TrafficSpec::new(Profile::Small, 30_000, 600)).unwrap();
        cap.iter()
            .map(|(_, f)| f.to_vec())
            .filter(|f| decode::decode(LinkKind::Ethernet, f).is_ok_and(|v| !v.payload.is_empty()))
            .collect()
    }

    struct Rig {
        table: FlowTable,
        watch: Watch,
        counters: RouterCounters,
        memcap: MemCap,
    }

    impl Rig {
        fn new() -> Rig {
            Rig {
                table: FlowTable::new(4096, 1, 1000),
                watch: Watch::any(),
                counters: RouterCounters::default(),
                memcap: MemCap::default(),
            }
        }

        fn router(&self, lane: Sender<Work>, live: bool) -> Router<'_> {
            self.router_since(vec![lane], live, Instant::now())
        }

        /// A router feeding `lanes`, its live sweep clock started at `clock_start`.
        fn router_since(
            &self,
            lanes: Vec<Sender<Work>>,
            live: bool,
            clock_start: Instant,
        ) -> Router<'_> {
            let (_, recycled) = crossbeam_channel::bounded(1);
            Router::new(RouterSetup {
                link: LinkKind::Ethernet,
                watch: &self.watch,
                table: &self.table,
                lanes,
                recycled,
                counters: &self.counters,
                live,
                memcap: &self.memcap,
                frag: frag::Limits::default(),
                clock_start,
            })
        }
    }

    #[test]
    fn a_batch_refers_to_one_block_and_is_sent_when_the_next_block_comes() {
        let frames = payload_frames();
        let rig = Rig::new();
        let (tx, rx) = crossbeam_channel::bounded(WORK_QUEUE);
        let mut router = rig.router(tx, false);
        let first_block = Arc::new(Block::detached(frames[1].clone()));
        router.use_block(Arc::clone(&first_block));
        // The first frame starts the sweep schedule: the mark rides with the batch being
        // filled, which points into the block (its payload is not copied).
        router.frame(1, &first_block, first_block.len() as u32, Some(0));
        assert!(rx.is_empty(), "a sweep mark alone sends nothing offline");
        assert_eq!(
            Arc::strong_count(&first_block),
            2,
            "only the router holds it"
        );
        // The next block: the batch pointing into the first one is sent with it.
        router.use_block(Arc::new(Block::detached(frames[2].clone())));
        let work = rx.try_recv().expect("the batch of the first block");
        let marks: Vec<(usize, u64)> = work.sweeps.iter().map(|(n, a)| (*n, a.seq)).collect();
        assert_eq!((work.pkts.len(), marks), (1, vec![(1, 0)]));
        assert!(work
            .block
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, &first_block)));
        let p = &work.pkts[0];
        let frame_view = decode::decode(LinkKind::Ethernet, &frames[1]).expect("decodes");
        assert_eq!(work.payload(p), frame_view.payload);
        drop(work);
        assert_eq!(Arc::strong_count(&first_block), 1, "given back");
        // Nothing else was pending: switching again sends nothing.
        router.use_block(Arc::new(Block::detached(frames[3].clone())));
        assert!(rx.is_empty());
    }

    #[test]
    fn live_batches_a_worker_cannot_take_are_counted_as_drops() {
        let frames = payload_frames();
        assert!(frames.len() > 2 * WORK_PACKETS);
        let rig = Rig::new();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut router = rig.router(tx, true);
        for (i, f) in frames.iter().take(2 * WORK_PACKETS).enumerate() {
            router.frame(i as i64, f, f.len() as u32, None);
        }
        // The first full batch went into the one free slot, the second found it taken.
        assert_eq!(router.dropped, WORK_PACKETS as u64);
        let work = rx.try_recv().expect("the first batch");
        assert_eq!(work.pkts.len(), WORK_PACKETS);
        // Payloads were copied (no map): each packet's bytes are in the batch.
        let p = &work.pkts[0];
        assert_eq!(work.payload(p).len(), p.payload_caplen as usize);
        assert!(p.payload_caplen > 0);
        router.finish();
        assert_eq!(
            rig.counters.watched.load(Ordering::Relaxed),
            2 * WORK_PACKETS as u64
        );
    }

    #[test]
    fn live_marks_of_routers_sharing_a_clock_are_numbered_by_its_seconds() {
        let rig = Rig::new();
        // Two capture threads' routers, one lane each, whose run began 3.5 s ago: the first
        // tick of each marks second 3, whenever each of them gets to it.
        let start = Instant::now() - Duration::from_millis(3500);
        let lane = || crossbeam_channel::bounded::<Work>(WORK_QUEUE);
        let ((tx_a, rx_a), (tx_b, rx_b)) = (lane(), lane());
        let mut a = rig.router_since(vec![tx_a], true, start);
        let mut b = rig.router_since(vec![tx_b], true, start);
        a.tick();
        b.tick();
        let seqs = |rx: &Receiver<Work>| -> Vec<u64> {
            rx.try_iter()
                .flat_map(|w| w.sweeps.into_iter().map(|(_, at)| at.seq))
                .collect()
        };
        assert_eq!((seqs(&rx_a), seqs(&rx_b)), (vec![3], vec![3]));
        // Within the same second nothing more is marked, however often they tick.
        a.next_tick = Instant::now();
        a.tick();
        assert!(seqs(&rx_a).is_empty());
        // A router whose worker held a mark back (here: told the next second is due now)
        // numbers the next one by the clock, never below what it marked before.
        a.next_tick = Instant::now();
        a.next_live_sweep = Instant::now();
        a.tick();
        assert_eq!(seqs(&rx_a), vec![4], "the mark after 3 is numbered past it");
        a.finish();
        b.finish();
    }

    #[test]
    fn offline_marks_ride_with_the_packets_they_follow() {
        let frames = payload_frames();
        let rig = Rig::new();
        let (tx, rx) = crossbeam_channel::bounded(1024);
        let mut router = rig.router(tx, false);
        // Every frame a second after the one before: a sweep mark after every packet.
        for (i, f) in frames.iter().take(1000).enumerate() {
            router.frame(i as i64 * SWEEP_EVERY_US, f, f.len() as u32, None);
        }
        router.finish();
        let batches: Vec<Work> = rx.try_iter().collect();
        let marks: usize = batches.iter().map(|w| w.sweeps.len()).sum();
        assert_eq!(marks, 1000);
        assert!(
            batches.len() <= 1000 / SWEEPS_PER_BATCH + 1,
            "{} batches for 1000 packets",
            batches.len()
        );
        // Each mark sits right after the packet that moved time on.
        for w in &batches {
            for (n, at) in &w.sweeps {
                let pkt = &w.pkts[n - 1];
                assert_eq!(pkt.ts_us, at.now_us);
            }
        }
    }
}
