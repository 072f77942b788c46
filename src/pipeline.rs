//! The data path between the capture loop and the report: routing, the decoder workers, and
//! putting their sweeps back in order.
//!
//! The capture thread hands every frame to a [`Router`], which slices it in place
//! ([`decode::decode_frame`]), puts IP fragments back together ([`crate::frag`]; a reassembled
//! payload is copied into the batch, [`Pkt::copied`]), drops what is not watched — the BPF filter
//! lets through frames it cannot judge by port, so the port test here is the one that counts —
//! works out the flow key and sends a compact
//! [`Pkt`] to the worker that owns the key's part of the [`FlowTable`] — so a flow is only ever
//! touched by one worker, in capture order, and no worker waits for another. Packets travel in
//! [`Work`] batches over bounded channels and the batches are recycled.
//!
//! Flows that end or go idle are swept by each worker in its own part, at points the router
//! marks in every worker's stream (each second of capture time offline, each second of clock time
//! live); the worker sends the removed flows back, and the sink side ([`SweepMerger`]) releases a
//! sweep once every worker has reported it, in report order. The output therefore does not depend
//! on the number of workers or on how they were scheduled.
//!
//! Never: blocks the capture thread in live mode (a batch a worker cannot take is dropped and
//! counted), formats the records of removed flows on a worker (the main thread does), or waits for
//! the pipeline to drain.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use memmap2::Mmap;

use crate::decode::{self, Decoded, LinkKind, PacketView, SkipReason};
pub use crate::flow::table::Pkt;
use crate::flow::table::{FlowEvent, FlowTable, Removed};
use crate::frag::{self, Reassembler};
use crate::memcap::MemCap;
use crate::report::FlowRecord;
use crate::Watch;

/// Packets per batch sent to one worker.
pub const WORK_PACKETS: usize = 2048;
/// Copied payload bytes per batch (libpcap sources) before it is sent early.
const WORK_BYTES: usize = 512 * 1024;
/// Batches queued per worker.
pub const WORK_QUEUE: usize = 16;
/// Sweeps are run once per this much capture time (offline) or clock time (live).
pub const SWEEP_EVERY_US: i64 = 1_000_000;
/// A live batch is sent when it is this old even if not full, so verdicts are not held back.
const LIVE_FLUSH: Duration = Duration::from_millis(50);
/// A batch being filled is sent once the mapped file has been read this far past its first
/// packet, so the pages before it can be given back.
const STALE_BYTES: usize = 8 << 20;
/// How often live batches are checked for age, sweeps for being due, and counters published.
const TICK: Duration = Duration::from_millis(10);
/// Decode counters are made visible to the statistics printer every this many frames.
const PUBLISH_EVERY: u32 = 4096;

/// A point in a worker's stream where it sweeps its part of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepAt {
    /// Sweeps are numbered from 0 in the order the router marks them.
    pub seq: u64,
    /// Capture time (offline) or clock time (live), microseconds since the epoch.
    pub now_us: i64,
}

/// A batch of packets for one worker.
#[derive(Debug)]
pub struct Work {
    pub pkts: Vec<Pkt>,
    /// Copied payloads (libpcap sources).
    pub data: Vec<u8>,
    /// The mapped capture file the payloads point into (memory-mapped sources: nothing copied).
    pub map: Option<Arc<Mmap>>,
    /// After the packets, sweep the worker's part.
    pub sweep: Option<SweepAt>,
    /// This batch's number among those sent to its worker.
    pub no: u64,
    /// The lowest mapped offset a packet refers to (`usize::MAX` when none).
    pub first_at: usize,
}

impl Default for Work {
    /// An empty batch that allocates nothing yet.
    fn default() -> Work {
        Work {
            pkts: Vec::new(),
            data: Vec::new(),
            map: None,
            sweep: None,
            no: 0,
            first_at: usize::MAX,
        }
    }
}

impl Work {
    fn new() -> Work {
        Work {
            pkts: Vec::with_capacity(WORK_PACKETS),
            ..Work::default()
        }
    }

    fn clear(&mut self) {
        self.pkts.clear();
        self.data.clear();
        self.map = None;
        self.sweep = None;
        self.first_at = usize::MAX;
    }

    /// The payload bytes of one packet of this batch: in the mapped file, or in `data` when the
    /// source is libpcap or the payload was copied (a reassembled datagram).
    #[inline]
    pub fn payload(&self, p: &Pkt) -> &[u8] {
        let base: &[u8] = match &self.map {
            Some(m) if !p.copied => m,
            _ => &self.data,
        };
        base.get(p.payload_at..p.payload_at + p.payload_caplen as usize)
            .unwrap_or(&[])
    }
}

/// What a worker tells the sink about flows it removed.
#[derive(Debug)]
pub enum Event {
    /// Flows pushed out of a full table.
    Evicted(Removed),
    /// Part of one worker's share of sweep `seq`; `last` marks the worker's final part.
    Swept {
        seq: u64,
        flows: Removed,
        last: bool,
    },
}

/// Flows per message from a worker to the sink: bounds what is in flight between them.
pub const FLOWS_PER_EVENT: usize = 1024;
/// Messages with flows queued for the sink.
pub const EVENT_QUEUE: usize = 4;

/// Decode counters, shared so periodic statistics can read them.
#[derive(Default)]
pub struct DecodeCounters {
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
    fn publish(&mut self, c: &DecodeCounters, frags: &mut Reassembler) {
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
    /// Batches sent that refer to the map and may not be finished: (number, first offset).
    outstanding: VecDeque<(u64, usize)>,
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
    /// Per worker: the number of the last batch it finished.
    pub done: &'a [AtomicU64],
    pub counters: &'a DecodeCounters,
    pub live: bool,
    /// The run's buffer budget: IP fragments are reserved from it.
    pub memcap: &'a MemCap,
    /// Bounds of IP fragment reassembly.
    pub frag: frag::Limits,
}

/// The capture thread's end of the pipeline: decodes, filters by port, routes and batches.
pub struct Router<'a> {
    link: LinkKind,
    watch: &'a Watch,
    table: &'a FlowTable,
    lanes: Vec<Lane>,
    recycled: Receiver<Work>,
    done: &'a [AtomicU64],
    counters: &'a DecodeCounters,
    local: LocalCounts,
    live: bool,
    memcap: &'a MemCap,
    frags: Reassembler,
    map: Option<Arc<Mmap>>,
    next_sweep_us: i64,
    next_live_sweep: Instant,
    next_tick: Instant,
    sweeps: u64,
    /// Packets dropped because a worker was behind (live only).
    pub dropped: u64,
    gone: bool,
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
                outstanding: VecDeque::new(),
                pending: None,
            })
            .collect();
        Router {
            link: setup.link,
            watch: setup.watch,
            table: setup.table,
            lanes,
            recycled: setup.recycled,
            done: setup.done,
            counters: setup.counters,
            local: LocalCounts::default(),
            live: setup.live,
            memcap: setup.memcap,
            frags: Reassembler::new(setup.frag),
            map: None,
            next_sweep_us: i64::MIN,
            next_live_sweep: Instant::now() + Duration::from_micros(SWEEP_EVERY_US as u64),
            next_tick: Instant::now(),
            sweeps: 0,
            dropped: 0,
            gone: false,
        }
    }

    /// Frames will be given as offsets into this mapped file; payloads are not copied.
    pub fn use_map(&mut self, map: Arc<Mmap>) {
        self.map = Some(map);
    }

    /// False once the workers have gone (nothing more can be processed).
    pub fn alive(&self) -> bool {
        !self.gone
    }

    /// Takes one frame captured at `ts_us`. `at` is its offset in the mapped file, if mapped.
    #[inline]
    pub fn frame(&mut self, ts_us: i64, frame: &[u8], origlen: u32, at: Option<usize>) {
        self.local.frames += 1;
        match decode::decode_frame(self.link, frame) {
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

    /// A reassembled datagram: decoded like a frame, its payload copied into the batch.
    #[cold]
    fn datagram(&mut self, d: &frag::Datagram, ts_us: i64) {
        match decode::decode_datagram(d.vlan, d.src, d.dst, d.protocol, &d.payload) {
            Ok(view) => {
                let wire_len = u32::try_from(d.wire_len).unwrap_or(u32::MAX);
                self.packet(&view, ts_us, wire_len, None);
            }
            Err(reason) => self.local.skipped[reason.index()] += 1,
        }
    }

    /// One decoded packet: routed to its worker when watched. `mapped_at` is where its frame and
    /// its payload lie in the mapped file; without it the payload is copied into the batch.
    #[inline]
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
            return;
        }
        self.local.watched += 1;
        let mut pkt = Pkt::of(view, ts_us, wire_len, 0);
        let lane_no = self.table.part_of_hash(pkt.hash);
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
            self.next_live_sweep = now + Duration::from_micros(SWEEP_EVERY_US as u64);
            let now_us = crate::wall_clock_us();
            self.frags.expire(now_us, self.memcap);
            self.mark_sweep(now_us);
        }
        self.local.publish(self.counters, &mut self.frags);
    }

    /// Asks every worker to sweep its part after the packets routed so far.
    fn mark_sweep(&mut self, now_us: i64) {
        let at = SweepAt {
            seq: self.sweeps,
            now_us,
        };
        self.sweeps += 1;
        for i in 0..self.lanes.len() {
            self.lanes[i].pending = Some(at);
            self.send(i);
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
        work.sweep = lane.pending.take();
        work.no = lane.sent + 1;
        if work.first_at != usize::MAX {
            work.map.clone_from(&self.map);
        }
        let (no, first_at) = (work.no, work.first_at);
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
                if first_at != usize::MAX {
                    lane.outstanding.push_back((no, first_at));
                }
                lane.work = self.recycled.try_recv().unwrap_or_else(|_| Work::new());
            }
            Err(TrySendError::Full(mut w)) => {
                self.dropped += w.pkts.len() as u64;
                lane.pending = w.sweep.take();
                w.clear();
                lane.work = w;
            }
            Err(TrySendError::Disconnected(_)) => self.gone = true,
        }
    }

    /// Sends every partly filled batch and publishes the counters (end of capture).
    pub fn finish(&mut self) {
        for i in 0..self.lanes.len() {
            if !self.lanes[i].work.pkts.is_empty() || self.lanes[i].pending.is_some() {
                self.send(i);
            }
        }
        self.frags.finish(self.memcap);
        self.local.publish(self.counters, &mut self.frags);
    }

    /// The lowest mapped offset that a batch sent or being filled may still read; everything
    /// before it can be given back to the kernel. `position` is where reading has got to.
    pub fn release_bound(&mut self, position: usize) -> usize {
        for i in 0..self.lanes.len() {
            // A batch that fills slowly (few packets pass the filter) would pin everything read
            // since its first packet: send it as it is.
            if position.saturating_sub(self.lanes[i].work.first_at) > STALE_BYTES {
                self.send(i);
            }
        }
        let mut bound = position;
        for (lane, done) in self.lanes.iter_mut().zip(self.done) {
            let done = done.load(Ordering::Acquire);
            while lane.outstanding.front().is_some_and(|&(no, _)| no <= done) {
                lane.outstanding.pop_front();
            }
            if let Some(&(_, at)) = lane.outstanding.front() {
                bound = bound.min(at);
            }
            bound = bound.min(lane.work.first_at);
        }
        bound
    }
}

/// Everything a worker shares with the others.
pub struct WorkerShared<'a> {
    pub table: &'a FlowTable,
    pub watch: &'a Watch,
    pub done: &'a [AtomicU64],
    /// Build a record when the probe decides (live text announcements).
    pub announce: bool,
}

/// Where a worker sends what it has to report.
pub struct WorkerOut {
    /// Removed flows (never dropped: the worker waits for room).
    pub events: Sender<Event>,
    /// Verdict announcements (dropped when the sink is behind).
    pub decided: Sender<FlowRecord>,
}

/// Sends removed flows in pieces of at most [`FLOWS_PER_EVENT`].
fn send_chunks(events: &Sender<Event>, mut flows: Removed, wrap: impl Fn(Removed, bool) -> Event) {
    while flows.len() > FLOWS_PER_EVENT {
        let rest = flows.split_off(FLOWS_PER_EVENT);
        drop(events.send(wrap(flows, false)));
        flows = rest;
    }
    drop(events.send(wrap(flows, true)));
}

/// A decoder worker: accounts every packet of its part of the table, sweeps it when asked, and
/// reports what it removed.
pub fn worker(
    part: usize,
    shared: &WorkerShared<'_>,
    rx: Receiver<Work>,
    recycle: Sender<Work>,
    out: WorkerOut,
) {
    let table = shared.table;
    let mut table_events = Vec::new();
    for mut work in rx.iter() {
        table.observe_batch(
            part,
            &work.pkts,
            |p| work.payload(p),
            shared.watch,
            shared.announce,
            &mut table_events,
        );
        for ev in table_events.drain(..) {
            match ev {
                FlowEvent::Decided(r) => drop(out.decided.try_send(r)),
                FlowEvent::Evicted(flows) => {
                    send_chunks(&out.events, flows, |f, _| Event::Evicted(f))
                }
            }
        }
        if let Some(at) = work.sweep {
            let flows = table.sweep_part(part, at.now_us);
            send_chunks(&out.events, flows, |flows, last| Event::Swept {
                seq: at.seq,
                flows,
                last,
            });
        }
        shared.done[part].store(work.no, Ordering::Release);
        work.clear();
        let _ = recycle.try_send(work);
    }
}

/// Puts the workers' shares of each sweep back together: a sweep is released once every worker
/// has reported it, and sweeps are released in order.
pub struct SweepMerger {
    workers: usize,
    next: u64,
    pending: BTreeMap<u64, (usize, Removed)>,
}

impl SweepMerger {
    pub fn new(workers: usize) -> SweepMerger {
        SweepMerger {
            workers: workers.max(1),
            next: 0,
            pending: BTreeMap::new(),
        }
    }

    /// Adds part of one worker's share of sweep `seq` (`last`: the worker's final part); calls
    /// `release` with every sweep now complete.
    pub fn add(&mut self, seq: u64, flows: Removed, last: bool, mut release: impl FnMut(Removed)) {
        let entry = self.pending.entry(seq).or_insert_with(|| (0, Vec::new()));
        entry.0 += usize::from(last);
        if entry.1.is_empty() {
            entry.1 = flows;
        } else {
            entry.1.extend(flows);
        }
        while self
            .pending
            .get(&self.next)
            .is_some_and(|(n, _)| *n >= self.workers)
        {
            if let Some((_, flows)) = self.pending.remove(&self.next) {
                release(flows);
            }
            self.next += 1;
        }
    }

    /// Releases whatever is left, in order (the run is over; some worker may have stopped
    /// before reporting).
    pub fn finish(&mut self, mut release: impl FnMut(Removed)) {
        for (_, (_, flows)) in std::mem::take(&mut self.pending) {
            release(flows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of generated traffic that carry payload (so they refer to the file).
    fn payload_frames() -> Vec<Vec<u8>> {
        use crate::synth::traffic::{generate_in_memory, Profile, TrafficSpec};
        let (cap, _) = generate_in_memory(&TrafficSpec::new(Profile::Small, 30_000, 600)).unwrap();
        cap.iter()
            .map(|(_, f)| f.to_vec())
            .filter(|f| decode::decode(LinkKind::Ethernet, f).is_ok_and(|v| !v.payload.is_empty()))
            .collect()
    }

    struct Rig {
        table: FlowTable,
        watch: Watch,
        done: Vec<AtomicU64>,
        counters: DecodeCounters,
        memcap: MemCap,
    }

    impl Rig {
        fn new() -> Rig {
            Rig {
                table: FlowTable::new(4096, 1, 1000),
                watch: Watch::any(),
                done: vec![AtomicU64::new(0)],
                counters: DecodeCounters::default(),
                memcap: MemCap::default(),
            }
        }

        fn router(&self, lane: Sender<Work>, live: bool) -> Router<'_> {
            let (_, recycled) = crossbeam_channel::bounded(1);
            Router::new(RouterSetup {
                link: LinkKind::Ethernet,
                watch: &self.watch,
                table: &self.table,
                lanes: vec![lane],
                recycled,
                done: &self.done,
                counters: &self.counters,
                live,
                memcap: &self.memcap,
                frag: frag::Limits::default(),
            })
        }
    }

    #[test]
    fn a_slowly_filling_batch_is_sent_and_then_stops_pinning_the_file() {
        let frames = payload_frames();
        let rig = Rig::new();
        let (tx, rx) = crossbeam_channel::bounded(WORK_QUEUE);
        let mut router = rig.router(tx, false);
        // The first frame starts the sweep schedule: its batch goes out at once with the mark.
        router.frame(0, &frames[0], frames[0].len() as u32, Some(10));
        let first = rx.try_recv().expect("the first sweep mark");
        assert_eq!((first.pkts.len(), first.sweep.map(|s| s.seq)), (1, Some(0)));
        rig.done[0].store(first.no, Ordering::Release);
        // One packet with payload at offset 1000 of a mapped file, then nothing that passes.
        router.frame(1, &frames[1], frames[1].len() as u32, Some(1000));
        assert_eq!(
            router.release_bound(1 << 20),
            1000,
            "the batch being filled pins it"
        );
        assert!(rx.is_empty());
        let far = 1000 + STALE_BYTES + 1;
        assert_eq!(
            router.release_bound(far),
            1000,
            "sent, but not processed yet"
        );
        let work = rx.try_recv().expect("the stale batch was sent");
        assert_eq!((work.pkts.len(), work.no, work.first_at), (1, 2, 1000));
        rig.done[0].store(work.no, Ordering::Release);
        assert_eq!(
            router.release_bound(far),
            far,
            "processed: nothing pins the file"
        );
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
    fn sweeps_are_released_in_order_once_every_worker_reported() {
        let mut m = SweepMerger::new(2);
        let mut out = Vec::new();
        m.add(1, Vec::new(), true, |_| out.push(1));
        m.add(0, Vec::new(), true, |_| out.push(0));
        m.add(0, Vec::new(), false, |_| out.push(0));
        assert!(out.is_empty());
        m.add(0, Vec::new(), true, |_| out.push(0));
        assert_eq!(out, [0]);
        m.add(1, Vec::new(), true, |_| out.push(1));
        assert_eq!(out, [0, 1]);
        m.add(2, Vec::new(), true, |_| out.push(2));
        m.finish(|_| out.push(9));
        assert_eq!(out, [0, 1, 9]);
    }
}
