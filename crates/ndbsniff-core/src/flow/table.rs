//! The flow table: one entry per conversation, in one part per decoder worker.
//!
//! Owns: per-flow counters, TCP flags seen, the flow's reassembly anomalies, and — only once a
//! flow carries payload and until the probe decides — the bounded reassembly of each direction's
//! prefix (its buffers reserved from the run's [`MemCap`]; a flow refused memory is judged on what
//! it has), the checksum check of every segment fed to it, and the probe. A verdict resting on
//! bytes from a bad-checksum segment waits for a good copy or the end of the flow. After the
//! decision the buffers are freed (and given back to the budget) and only the verdict stays.
//! Each part is a dashmap that only its worker writes while the capture runs
//! ([`FlowTable::observe_batch`] takes its shard locks once per batch); the main thread reads and
//! drains it at the end. Flows are reported and
//! removed when they end or go idle ([`FlowTable::sweep_part`], which visits only the flows a
//! deadline wheel says may be due) or when a part is full ([`FlowTable::observe_batch`] evicts the
//! least recently seen). Turning a flow into a [`FlowRecord`] (who is client, what the state is)
//! happens here too.
//!
//! Never: blocks on anything but a lock of its own part, allocates for a flow that carries no
//! payload (beyond its entry and an 8-byte wheel entry), keeps more than the configured prefix of
//! any direction, or holds more flows than its limit for longer than one eviction round.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;

use crate::classify::{NdbProbe, ProbeResult, ProbeState, Role};
use crate::decode::{tcp_flags, PacketView, TcpInfo, Transport};
use crate::flow::checksum;
use crate::flow::hash::{self, FlowHasher};
use crate::flow::key::FlowKey;
use crate::flow::stream::{Checksum, Fed, Segment, StreamPrefix};
use crate::memcap::MemCap;
use crate::report::{Anomalies, Anomaly, FlowRecord, FlowState, RolesFrom};
use crate::Watch;

/// Reassembly and probing state, present only while the probe is undecided.
///
/// Its buffers are reserved from the run's [`MemCap`] and given back when it is dropped (on the
/// verdict, or with its flow: swept, evicted or drained), whichever way that happens.
#[derive(Debug)]
struct Inspect {
    streams: [StreamPrefix; 2],
    probe: NdbProbe,
    mem: Arc<MemCap>,
    /// Bytes the probe has examined, re-reads after a rebase included: the work done.
    probed: u64,
    /// Anomalies seen here rather than in a stream (`bad-checksum`).
    anomalies: Anomalies,
    /// Segments of this flow found with a bad checksum.
    bad_segments: u32,
}

impl Drop for Inspect {
    fn drop(&mut self) {
        self.mem
            .release(self.streams[0].charged() + self.streams[1].charged());
    }
}

/// What observing a packet needs besides the packet, and what it counts.
struct Ctx<'a> {
    prefix: usize,
    mem: &'a Arc<MemCap>,
    /// TCP segments found with a bad checksum.
    bad_checksums: u64,
}

impl Inspect {
    fn new(prefix: usize, isn: [Option<u32>; 2], mem: &Arc<MemCap>) -> Box<Inspect> {
        let mut ins = Box::new(Inspect {
            streams: [StreamPrefix::new(prefix), StreamPrefix::new(prefix)],
            probe: NdbProbe::new(prefix),
            mem: Arc::clone(mem),
            probed: 0,
            anomalies: Anomalies::NONE,
            bad_segments: 0,
        });
        let ins_ref = &mut *ins;
        for (stream, isn) in ins_ref.streams.iter_mut().zip(isn) {
            if let Some(isn) = isn {
                let syn = Segment {
                    seq: isn,
                    syn: true,
                    payload: &[],
                    wire_len: 0,
                    checksum: Checksum::Unverified,
                };
                stream.feed(&syn, &ins_ref.mem);
            }
        }
        ins
    }

    /// Shows the probe direction `idx`'s bytes (all of them so far), counting the work.
    fn show(probe: &mut NdbProbe, probed: &mut u64, idx: usize, data: &[u8]) -> ProbeState {
        let before = probe.examined(idx);
        let state = probe.on_stream(idx, data);
        *probed += probe.examined(idx).saturating_sub(before) as u64;
        state
    }

    /// Feeds one packet's payload; returns the probe's state after it.
    fn feed(&mut self, idx: usize, view: &Seen<'_>, ctx: &mut Ctx<'_>) -> ProbeState {
        match view.transport {
            Transport::Tcp => {
                // Only segments that reach a stream being inspected are verified.
                let sum = checksum::verify(view.csum, view.payload);
                if sum == Checksum::Bad {
                    ctx.bad_checksums += 1;
                    self.bad_segments = self.bad_segments.saturating_add(1);
                    self.anomalies.insert(Anomaly::BadChecksum);
                }
                let seg = Segment {
                    seq: view.tcp.seq,
                    syn: view.tcp.flags & tcp_flags::SYN != 0,
                    payload: view.payload,
                    wire_len: view.payload_len,
                    checksum: sum,
                };
                let fed = self.streams[idx].feed(&seg, &self.mem);
                let state = match fed {
                    Fed::Unchanged => ProbeState::NeedMore,
                    Fed::Grew => Self::show(
                        &mut self.probe,
                        &mut self.probed,
                        idx,
                        self.streams[idx].data(),
                    ),
                    Fed::Rebased => {
                        // Earlier bytes arrived late, or bytes already read were replaced:
                        // show the probe both directions afresh.
                        self.probe = NdbProbe::new(ctx.prefix);
                        self.reread()
                    }
                };
                if state == ProbeState::NeedMore && self.streams[idx].starved() {
                    // Out of reassembly memory: a segment that starts the stream is still
                    // looked at where it lies, then the flow is judged on what was seen.
                    if let Some(first) = self.streams[idx].unbuffered_start(&seg) {
                        return Self::show(&mut self.probe, &mut self.probed, idx, first);
                    }
                }
                state
            }
            Transport::Udp => self.probe.on_datagram(idx, view.payload),
        }
    }

    /// Shows the probe every direction's bytes from the start.
    fn reread(&mut self) -> ProbeState {
        let mut state = ProbeState::NeedMore;
        for i in 0..2 {
            if state == ProbeState::NeedMore && !self.streams[i].data().is_empty() {
                let data = self.streams[i].data();
                state = Self::show(&mut self.probe, &mut self.probed, i, data);
            }
        }
        state
    }

    /// Nothing more can be learnt from TCP: both directions are full or unwanted.
    fn exhausted(&self) -> bool {
        (0..2).all(|i| self.streams[i].is_full() || !self.probe.wants(i))
    }

    /// Some byte the probe read came from a bad-checksum segment and is not confirmed: a
    /// verdict now would rest on bytes the receiver may have dropped. Only while the flow has
    /// had a single bad segment: two or more look like checksum offload on the capturing host
    /// (every segment it sends is bad, and no good copy will come), so the verdict no longer
    /// waits.
    fn provisional(&self) -> bool {
        self.bad_segments < 2 && self.streams.iter().any(StreamPrefix::provisional)
    }

    /// A direction could not get reassembly memory: the flow is judged now.
    fn starved(&self) -> bool {
        self.streams.iter().any(StreamPrefix::starved)
    }

    fn anomalies(&self) -> Anomalies {
        self.anomalies
            .union(self.streams[0].anomalies())
            .union(self.streams[1].anomalies())
    }
}

/// What the table needs of one packet once its flow key is known: the parts of a
/// [`PacketView`] that are not in the key.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    pub transport: Transport,
    pub vlan: Option<u16>,
    pub tcp: TcpInfo,
    /// Transport payload bytes present in the frame.
    pub payload: &'a [u8],
    /// Transport payload length on the wire.
    pub payload_len: u32,
    /// [`checksum::header_sum`] of the segment, when it can be verified.
    pub csum: Option<u16>,
}

impl<'a> Seen<'a> {
    pub fn of(view: &PacketView<'a>) -> Seen<'a> {
        Seen {
            transport: view.transport,
            vlan: view.vlan,
            tcp: view.tcp,
            payload: view.payload,
            payload_len: view.payload_len,
            csum: checksum::header_sum(&FlowKey::of(view).0, view),
        }
    }
}

/// How many packets ahead a worker asks for payload bytes to be fetched into its cache.
const PREFETCH_AHEAD: usize = 8;

/// Hints that `bytes` will be read soon (a no-op where there is no such instruction).
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if !bytes.is_empty() {
        // SAFETY: prefetching is a hint; it never faults, even on an invalid address, and
        // the address is that of a live slice anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                bytes.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// One decoded, watched packet as a worker needs it: key and hash worked out, no addresses to
/// parse, no frame to hold.
#[derive(Clone, Copy, Debug)]
pub struct Pkt {
    pub key: FlowKey,
    /// [`FlowTable::hash`] of the key (keyed: see [`crate::flow::hash`]).
    pub hash: u64,
    pub ts_us: i64,
    /// Where the payload bytes present start, in the batch's copied data or its file block.
    pub payload_at: usize,
    /// Payload bytes present.
    pub payload_caplen: u32,
    /// Payload length on the wire.
    pub payload_len: u32,
    /// Frame length on the wire.
    pub wire_len: u32,
    pub tcp: TcpInfo,
    pub vlan: Option<u16>,
    /// Sending endpoint: 0 = `key.lo`, 1 = `key.hi`.
    pub idx: u8,
    /// The sum of pseudo-header and TCP header ([`checksum::header_sum`]) when the segment
    /// carries payload captured whole, so a worker can verify the checksum over the payload.
    pub csum: Option<u16>,
    /// The payload was copied into the batch's own data (a reassembled IP datagram), even
    /// when the batch's other payloads lie in a file block.
    pub copied: bool,
}

impl Pkt {
    /// The record of a decoded packet captured at `ts_us`, `wire_len` bytes long on the wire,
    /// whose payload bytes will be found at `payload_at`, for `table`.
    #[inline]
    pub fn of(
        view: &PacketView<'_>,
        ts_us: i64,
        wire_len: u32,
        payload_at: usize,
        table: &FlowTable,
    ) -> Pkt {
        let (key, idx) = FlowKey::of(view);
        Pkt {
            key,
            hash: table.hash(&key),
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
        }
    }
}

/// Everything known about one conversation. Direction index 0 = sent by `key.lo`, 1 = by `key.hi`.
#[derive(Debug)]
pub struct Flow {
    pub first_us: i64,
    pub last_us: i64,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// Initial sequence numbers from SYNs, kept until inspection starts.
    isn: [u32; 2],
    pub vlan: Option<u16>,
    /// A SYN without ACK was sent by this side.
    pub syn: [bool; 2],
    /// A SYN+ACK was sent by this side.
    pub synack: [bool; 2],
    pub fin: [bool; 2],
    pub rst: bool,
    isn_seen: [bool; 2],
    /// Everything reassembly found wrong so far (kept after the verdict).
    pub anomalies: Anomalies,
    inspect: Option<Box<Inspect>>,
    decided: Option<Box<ProbeResult>>,
}

/// What happened to a flow that a caller may need to report.
#[derive(Debug)]
pub enum FlowEvent {
    /// The probe has just decided; the flow is still in the table.
    Decided(FlowRecord),
    /// Flows pushed out of a full table, oldest first.
    Evicted(Removed),
}

impl Flow {
    fn new(ts_us: i64, vlan: Option<u16>) -> Flow {
        Flow {
            first_us: ts_us,
            last_us: ts_us,
            packets: [0; 2],
            bytes: [0; 2],
            isn: [0; 2],
            vlan,
            syn: [false; 2],
            synack: [false; 2],
            fin: [false; 2],
            rst: false,
            isn_seen: [false; 2],
            anomalies: Anomalies::NONE,
            inspect: None,
            decided: None,
        }
    }

    /// A flow first seen at `ts_us`, with nothing else known (no packet accounted, no probe).
    pub fn first_seen(ts_us: i64) -> Flow {
        Flow::new(ts_us, None)
    }

    /// Accounts one packet sent by endpoint `idx` and feeds its payload to the probe.
    /// Returns true when the probe decided with this packet.
    fn observe(
        &mut self,
        idx: usize,
        view: &Seen<'_>,
        ts_us: i64,
        wire_len: u32,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        self.first_us = self.first_us.min(ts_us);
        self.last_us = self.last_us.max(ts_us);
        self.packets[idx] += 1;
        self.bytes[idx] += wire_len as u64;
        if self.vlan.is_none() {
            self.vlan = view.vlan;
        }
        let flags = view.tcp.flags;
        if view.transport == Transport::Tcp {
            let syn = flags & tcp_flags::SYN != 0;
            let ack = flags & tcp_flags::ACK != 0;
            self.syn[idx] |= syn && !ack;
            self.synack[idx] |= syn && ack;
            self.fin[idx] |= flags & tcp_flags::FIN != 0;
            self.rst |= flags & tcp_flags::RST != 0;
            if syn && !self.isn_seen[idx] {
                self.isn_seen[idx] = true;
                self.isn[idx] = view.tcp.seq;
            }
        }
        if self.decided.is_some() {
            return false;
        }
        let has_payload = view.payload_len > 0 && !view.payload.is_empty();
        let syn = view.transport == Transport::Tcp && flags & tcp_flags::SYN != 0;
        let ins = match (has_payload, self.inspect.as_mut()) {
            // A late SYN can move the start of a stream being inspected (the probe then starts
            // over); other packets without payload bytes teach the probe nothing. A SYN seen
            // before inspection starts was kept above.
            (false, Some(ins)) if syn => ins,
            (false, _) => return false,
            (true, _) => {
                let isn = [0, 1].map(|i| self.isn_seen[i].then_some(self.isn[i]));
                let ins = self
                    .inspect
                    .get_or_insert_with(|| Inspect::new(ctx.prefix, isn, ctx.mem));
                if !ins.probe.wants(idx) && !ins.provisional() {
                    return false;
                }
                ins
            }
        };
        let state = ins.feed(idx, view, ctx);
        self.anomalies = self.anomalies.union(ins.anomalies());
        // A verdict resting on bad-checksum bytes waits for a good copy of them (which makes
        // the probe start over) or for the end of the flow.
        let done = match view.transport {
            Transport::Tcp => {
                ins.starved()
                    || (!ins.provisional() && (state != ProbeState::NeedMore || ins.exhausted()))
            }
            Transport::Udp => state != ProbeState::NeedMore,
        };
        if done {
            self.decided = Some(Box::new(ins.probe.result()));
            self.inspect = None;
        }
        done
    }

    /// FIN from both sides, or RST: the conversation is over.
    pub fn ended(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }

    /// The probe's decision, taken now if it had not decided yet.
    pub fn result(&self) -> ProbeResult {
        match (&self.decided, &self.inspect) {
            (Some(r), _) => (**r).clone(),
            (None, Some(ins)) => ins.probe.result(),
            (None, None) => NdbProbe::new(0).result(),
        }
    }

    /// Heap bytes held by this flow beyond its table entry (reassembly buffers, probe, verdict).
    pub fn heap_bytes(&self) -> usize {
        let inspect = self.inspect.as_ref().map_or(0, |i| {
            std::mem::size_of::<Inspect>()
                + i.streams
                    .iter()
                    .map(StreamPrefix::heap_bytes)
                    .sum::<usize>()
        });
        let decided = self.decided.as_ref().map_or(0, |d| {
            std::mem::size_of::<ProbeResult>()
                + d.evidence
                    .iter()
                    .flatten()
                    .map(String::capacity)
                    .sum::<usize>()
        });
        inspect + decided
    }

    fn state(&self, transport: Transport, end: End) -> FlowState {
        match (transport, end) {
            (_, End::Evicted) => FlowState::Evicted,
            (Transport::Udp, End::Idle) => FlowState::Idle,
            (Transport::Udp, End::Running) => FlowState::Open,
            (Transport::Tcp, _) if self.rst => FlowState::Reset,
            (Transport::Tcp, _) if self.fin[0] && self.fin[1] => FlowState::Closed,
            (Transport::Tcp, _) if self.fin[0] || self.fin[1] => FlowState::HalfClosed,
            (Transport::Tcp, End::Idle) => FlowState::Idle,
            (Transport::Tcp, End::Running) => FlowState::Open,
        }
    }

    /// Which endpoint index is the client, and what told us.
    fn client_index(
        &self,
        key: &FlowKey,
        result: &ProbeResult,
        watch: &Watch,
    ) -> (usize, RolesFrom) {
        for i in 0..2 {
            if self.syn[i] && !self.syn[1 - i] {
                return (i, RolesFrom::Handshake);
            }
        }
        for i in 0..2 {
            if self.synack[i] && !self.synack[1 - i] {
                return (1 - i, RolesFrom::Handshake);
            }
        }
        for i in 0..2 {
            let client_like =
                result.roles[i] == Some(Role::Client) || result.roles[1 - i] == Some(Role::Server);
            let contradicted =
                result.roles[i] == Some(Role::Server) || result.roles[1 - i] == Some(Role::Client);
            if client_like && !contradicted {
                return (i, RolesFrom::Content);
            }
        }
        let w = [watch.is_watched(key.lo.port), watch.is_watched(key.hi.port)];
        if w[0] != w[1] {
            return (if w[0] { 1 } else { 0 }, RolesFrom::Port);
        }
        // Neither or both on a watched port: the higher port is taken as the client's.
        (
            if key.hi.port >= key.lo.port { 1 } else { 0 },
            RolesFrom::Port,
        )
    }

    /// The report record for this flow; `end` says why it is being reported.
    pub fn record(&self, key: &FlowKey, watch: &Watch, end: End) -> FlowRecord {
        self.record_of(self.result(), key, watch, end)
    }

    /// [`Flow::record`] for a flow that is done with: its verdict is moved, not copied.
    pub fn into_record(mut self, key: &FlowKey, watch: &Watch, end: End) -> FlowRecord {
        let result = match self.decided.take() {
            Some(r) => *r,
            None => self.result(),
        };
        self.record_of(result, key, watch, end)
    }

    fn record_of(
        &self,
        mut result: ProbeResult,
        key: &FlowKey,
        watch: &Watch,
        end: End,
    ) -> FlowRecord {
        let (c, roles_from) = self.client_index(key, &result, watch);
        let s = 1 - c;
        let evidence = match (result.evidence[c].take(), result.evidence[s].take()) {
            (Some(ce), Some(se)) => {
                let mut e = String::with_capacity(ce.len() + se.len() + 20);
                e.push_str("client: ");
                e.push_str(&ce);
                e.push_str(" | server: ");
                e.push_str(&se);
                e
            }
            (Some(ce), None) => format!("client: {ce}"),
            (None, Some(se)) => format!("server: {se}"),
            (None, None) => String::new(),
        };
        FlowRecord {
            transport: key.transport,
            client: key.endpoint(c).socket_addr(),
            server: key.endpoint(s).socket_addr(),
            verdict: result.verdict,
            confidence: result.confidence,
            evidence,
            hint: result.hint,
            upgrade: result.upgrade,
            packets_to_server: self.packets[c],
            packets_to_client: self.packets[s],
            bytes_to_server: self.bytes[c],
            bytes_to_client: self.bytes[s],
            first_seen: self.first_us,
            last_seen: self.last_us,
            state: self.state(key.transport, end),
            vlan: self.vlan,
            roles_from,
            anomalies: self.anomalies,
        }
    }
}

/// Why a flow is being reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Still running: the capture ended (or a verdict is being announced).
    Running,
    /// No packet for the idle timeout (or closed and lingered).
    Idle,
    /// Pushed out of a full table.
    Evicted,
}

/// When flows are reported and freed, in microseconds of capture time (offline) or of the
/// clock (live).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub tcp_idle_us: i64,
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
    fn expired(&self, transport: Transport, flow: &Flow, now_us: i64) -> bool {
        now_us.saturating_sub(flow.last_us) >= self.limit(transport, flow)
    }

    /// The earliest time at which `flow` could be due, as things stand.
    #[inline]
    fn deadline(&self, transport: Transport, flow: &Flow) -> i64 {
        flow.last_us.saturating_add(self.limit(transport, flow))
    }
}

/// The granularity of the deadline wheel: one slot per second.
const SLOT_US: i64 = 1_000_000;

/// When each flow of a part is next worth looking at, so a sweep visits the flows that may be
/// due instead of every flow. Each flow has an entry at or before its deadline (a flow's deadline
/// only moves later as packets arrive, except when it ends, which adds an entry); a visit that
/// finds a flow not yet due moves the entry to its deadline. Entries of flows that are gone are
/// skipped, and the wheel is rebuilt from the map when they pile up (floods that evict).
///
/// Entries are key hashes only (8 bytes a flow); a visit looks at every flow of the part whose
/// key has that hash, so flows whose 64-bit hashes are equal are still swept apart, each at its
/// own deadline: the visit leaves one entry, at the earliest deadline of those not yet due.
#[derive(Default)]
struct Wheel {
    slots: BTreeMap<i64, Vec<u64>>,
    entries: usize,
}

impl Wheel {
    #[inline]
    fn schedule(&mut self, deadline_us: i64, hash: u64) {
        self.slots
            .entry(deadline_us.div_euclid(SLOT_US))
            .or_default()
            .push(hash);
        self.entries += 1;
    }
}

/// The default cap on flows tracked at once.
pub const DEFAULT_MAX_FLOWS: usize = 1_000_000;

/// One part of the table: the flows whose key hashes to it. Each decoder worker owns one part,
/// so the per-packet path never waits on a lock another thread holds; the capture thread routes
/// every packet to the worker owning its flow's part.
struct Part {
    map: DashMap<FlowKey, Flow, FlowHasher>,
    /// Flows in the map (kept here because DashMap::len locks every shard).
    count: AtomicUsize,
    /// Only the part's owner takes it (per batch and per sweep): never contended.
    wheel: Mutex<Wheel>,
}

/// All flows of a run, keyed canonically and split into parts by key hash.
pub struct FlowTable {
    parts: Box<[Part]>,
    /// The keyed hash of every map, of routing and of the wheels (one seed per table).
    hasher: FlowHasher,
    /// Tests: every key hashes to this (the worst case of a hash function, on purpose).
    #[cfg(test)]
    constant_hash: Option<u64>,
    prefix: usize,
    /// The cap on each part: the flow cap shared out evenly.
    part_max: usize,
    evicted: AtomicUsize,
    timeouts: Timeouts,
    /// The budget reassembly buffers are reserved from.
    memcap: Arc<MemCap>,
    /// TCP segments found with a bad checksum.
    bad_checksums: AtomicU64,
}

/// Orders records as the report lists them: by first packet, then by endpoints.
pub fn record_order(a: &FlowRecord, b: &FlowRecord) -> std::cmp::Ordering {
    (a.first_seen, a.client, a.server, a.transport.as_str()).cmp(&(
        b.first_seen,
        b.client,
        b.server,
        b.transport.as_str(),
    ))
}

/// Flows taken out of the table, with their keys, to be turned into records by whoever reports
/// them (so the decoder workers do not spend their time formatting).
pub type Removed = Vec<(FlowKey, Flow)>;

impl FlowTable {
    /// A table in `parts` parts (one per decoder worker) holding at most about `max_flows`
    /// flows, reassembling `prefix` bytes of each direction. Keys are hashed with a fresh
    /// random seed.
    pub fn new(prefix: usize, parts: usize, max_flows: usize) -> FlowTable {
        Self::with_hasher(prefix, parts, max_flows, hash::random())
    }

    /// [`FlowTable::new`] with a given hasher: tables with hashers of one seed route and
    /// evict alike (tests compare them packet for packet).
    pub fn with_hasher(
        prefix: usize,
        parts: usize,
        max_flows: usize,
        hasher: FlowHasher,
    ) -> FlowTable {
        let parts = parts.max(1);
        FlowTable {
            hasher: hasher.clone(),
            #[cfg(test)]
            constant_hash: None,
            parts: (0..parts)
                .map(|_| Part {
                    map: DashMap::with_hasher_and_shard_amount(hasher.clone(), 8),
                    count: AtomicUsize::new(0),
                    wheel: Mutex::new(Wheel::default()),
                })
                .collect(),
            prefix,
            part_max: max_flows.max(1).div_ceil(parts),
            evicted: AtomicUsize::new(0),
            timeouts: Timeouts::default(),
            memcap: Arc::new(MemCap::default()),
            bad_checksums: AtomicU64::new(0),
        }
    }

    /// The table reserving its reassembly buffers from `memcap` (shared with the rest of the
    /// run) instead of a budget of its own of the default size.
    pub fn with_memcap(mut self, memcap: Arc<MemCap>) -> FlowTable {
        self.memcap = memcap;
        self
    }

    /// The budget reassembly buffers are reserved from.
    pub fn memcap(&self) -> &MemCap {
        &self.memcap
    }

    /// TCP segments found with a bad checksum so far (see [`crate::report::Summary`]).
    pub fn bad_checksums(&self) -> u64 {
        self.bad_checksums.load(Ordering::Relaxed)
    }

    /// The table with these timeouts instead of the defaults.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> FlowTable {
        self.timeouts = timeouts;
        self
    }

    fn wheel(&self, part: usize) -> std::sync::MutexGuard<'_, Wheel> {
        self.parts[part]
            .wheel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The hash of a key, as the table's maps compute it: keyed with this table's secret seed,
    /// so which part a flow lands in varies from run to run, but nothing that is reported does.
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        #[cfg(test)]
        if let Some(h) = self.constant_hash {
            return h;
        }
        std::hash::BuildHasher::hash_one(&self.hasher, key)
    }

    /// The part a flow with key hash `hash` lives in.
    #[inline]
    pub fn part_of_hash(&self, hash: u64) -> usize {
        // Bits 16-47, scaled to the number of parts (a multiply, not a division): the maps use
        // the top bits for their shard and tag and the low bits for the bucket.
        ((((hash >> 16) & 0xffff_ffff) * self.parts.len() as u64) >> 32) as usize
    }

    /// The part a flow lives in.
    #[inline]
    pub fn part_of(&self, key: &FlowKey) -> usize {
        self.part_of_hash(self.hash(key))
    }

    /// Accounts a batch of packets of one part: finds or creates each packet's flow, updates
    /// its counters and TCP state, and feeds payload to the probe while it is undecided. Holds
    /// the part's locks for the whole batch and uses the hashes the packets carry: one probe of
    /// the map per packet, no lock taken per packet. When `announce` is set, a decision pushes a
    /// [`FlowEvent::Decided`]; flows pushed out of a full part come back as
    /// [`FlowEvent::Evicted`]. Only the part's owner may call this (or `observe_view`).
    pub fn observe_batch<'p>(
        &self,
        part: usize,
        pkts: &'p [Pkt],
        payload: impl Fn(&'p Pkt) -> &'p [u8],
        watch: &Watch,
        announce: bool,
        events: &mut Vec<FlowEvent>,
    ) {
        let mut ctx = Ctx {
            prefix: self.prefix,
            mem: &self.memcap,
            bad_checksums: 0,
        };
        let p = &self.parts[part];
        let shards = p.map.shards();
        let lock_all = || shards.iter().map(|s| s.write()).collect::<Vec<_>>();
        let mut guards = lock_all();
        let mut wheel = self.wheel(part);
        let t = &self.timeouts;
        let rehash = |(k, _): &(FlowKey, dashmap::SharedValue<Flow>)| self.hash(k);
        for (i, pkt) in pkts.iter().enumerate() {
            // The payload was last touched by the capture thread on another core: ask for it
            // a few packets early so the probe does not wait on it.
            if let Some(ahead) = pkts.get(i + PREFETCH_AHEAD) {
                prefetch(payload(ahead));
            }
            let key = &pkt.key;
            let shard = p.map.determine_shard(pkt.hash as usize);
            let eq = |(k, _): &(FlowKey, dashmap::SharedValue<Flow>)| {
                count_comparison();
                k == key
            };
            let mut found = guards[shard].find_or_find_insert_slot(pkt.hash, eq, rehash);
            if found.is_err() && p.count.load(Ordering::Relaxed) >= self.part_max {
                // A new flow in a full part: eviction takes the locks itself, and the table
                // changes, so the slot is looked up again afterwards.
                drop((guards, wheel));
                self.evict_oldest(part, events);
                guards = lock_all();
                wheel = self.wheel(part);
                found = guards[shard].find_or_find_insert_slot(pkt.hash, eq, rehash);
            }
            let flow = match found {
                // SAFETY: the bucket was just found in this table, which the guard keeps
                // locked and unchanged while the reference lives.
                Ok(bucket) => unsafe { bucket.as_mut() }.1.get_mut(),
                Err(slot) => {
                    p.count.fetch_add(1, Ordering::Relaxed);
                    let flow = Flow::new(pkt.ts_us, pkt.vlan);
                    wheel.schedule(t.deadline(key.transport, &flow), pkt.hash);
                    let entry = (*key, dashmap::SharedValue::new(flow));
                    // SAFETY: `slot` came from `find_or_find_insert_slot` on this table with the
                    // same hash, and the table has not changed since.
                    let bucket = unsafe { guards[shard].insert_in_slot(pkt.hash, slot, entry) };
                    // SAFETY: as above, the bucket was just returned by this locked table.
                    unsafe { bucket.as_mut() }.1.get_mut()
                }
            };
            let seen = Seen {
                transport: key.transport,
                vlan: pkt.vlan,
                tcp: pkt.tcp,
                payload: payload(pkt),
                payload_len: pkt.payload_len,
                csum: pkt.csum,
            };
            let was_ended = flow.ended();
            let idx = usize::from(pkt.idx);
            if flow.observe(idx, &seen, pkt.ts_us, pkt.wire_len, &mut ctx) && announce {
                events.push(FlowEvent::Decided(flow.record(key, watch, End::Running)));
            }
            if !was_ended && flow.ended() {
                wheel.schedule(t.deadline(key.transport, flow), pkt.hash);
            }
        }
        if ctx.bad_checksums > 0 {
            self.bad_checksums
                .fetch_add(ctx.bad_checksums, Ordering::Relaxed);
        }
    }

    /// One decoded packet: a batch of one (see [`FlowTable::observe_batch`]).
    pub fn observe_view(
        &self,
        view: &PacketView<'_>,
        ts_us: i64,
        wire_len: u32,
        watch: &Watch,
        announce: bool,
        events: &mut Vec<FlowEvent>,
    ) {
        let pkt = Pkt::of(view, ts_us, wire_len, 0, self);
        let part = self.part_of_hash(pkt.hash);
        self.observe_batch(part, &[pkt], |_| view.payload, watch, announce, events);
    }

    /// Removes the least recently seen sixteenth of a full part in one pass, so a flood pays
    /// for one scan per many new flows.
    fn evict_oldest(&self, part: usize, events: &mut Vec<FlowEvent>) {
        let p = &self.parts[part];
        let mut ages: Vec<(i64, FlowKey)> = p.map.iter().map(|e| (e.last_us, *e.key())).collect();
        let n = (self.part_max / 16).clamp(1, ages.len().max(1));
        if ages.len() > n {
            ages.select_nth_unstable_by_key(n - 1, |a| a.0);
            ages.truncate(n);
        }
        ages.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key_order(&a.1, &b.1)));
        let mut out = Vec::with_capacity(ages.len());
        for (_, key) in ages {
            if let Some(kf) = self.remove(p, &key) {
                out.push(kf);
            }
        }
        p.count.fetch_sub(out.len(), Ordering::Relaxed);
        self.evicted.fetch_add(out.len(), Ordering::Relaxed);
        events.push(FlowEvent::Evicted(out));
        let mut wheel = self.wheel(part);
        if wheel.entries > 2 * p.count.load(Ordering::Relaxed) + 1024 {
            // Mostly entries of evicted flows: start again from the flows there are.
            *wheel = Wheel::default();
            for e in p.map.iter() {
                let deadline = self.timeouts.deadline(e.key().transport, e.value());
                wheel.schedule(deadline, self.hash(e.key()));
            }
        }
    }

    /// Removes one flow by key, hashing it as the per-packet path does.
    fn remove(&self, p: &Part, key: &FlowKey) -> Option<(FlowKey, Flow)> {
        let hash = self.hash(key);
        let mut shard = p.map.shards()[p.map.determine_shard(hash as usize)].write();
        shard
            .remove_entry(hash, |(k, _)| k == key)
            .map(|(k, f)| (k, f.into_inner()))
    }

    /// Takes out of one part every flow that has ended and lingered, or gone idle, as of
    /// `now_us`, visiting only the flows the deadline wheel says may be due. The flows come back
    /// unordered.
    pub fn sweep_part(&self, part: usize, now_us: i64) -> Removed {
        let p = &self.parts[part];
        let t = &self.timeouts;
        let mut wheel = self.wheel(part);
        let due = now_us.div_euclid(SLOT_US);
        let mut out = Vec::new();
        let mut later = Vec::new();
        // The keys with one entry's hash (almost always one), reused from entry to entry.
        let mut keys: Vec<FlowKey> = Vec::with_capacity(1);
        while let Some(slot) = wheel.slots.first_entry() {
            if *slot.key() > due {
                break;
            }
            let entries = slot.remove();
            wheel.entries -= entries.len();
            for hash in entries {
                let mut shard = p.map.shards()[p.map.determine_shard(hash as usize)].write();
                // Every flow with this hash, not only the first: keys that collide in all 64
                // bits must still be swept each at its own time.
                keys.clear();
                // SAFETY: the iterator and the references it yields do not outlive the shard's
                // write guard, and the table is not changed while they live.
                for bucket in unsafe { shard.iter_hash(hash) } {
                    // SAFETY: as above; the bucket is occupied and the shard locked.
                    let key = unsafe { &bucket.as_ref().0 };
                    if self.hash(key) == hash {
                        keys.push(*key);
                    }
                }
                let mut next: Option<i64> = None;
                for &key in &keys {
                    let Some(bucket) = shard.find(hash, |(k, _)| *k == key) else {
                        continue;
                    };
                    // SAFETY: the bucket was just found in this shard, which stays locked.
                    let flow = unsafe { bucket.as_ref() }.1.get();
                    if t.expired(key.transport, flow, now_us) {
                        if let Some((k, f)) = shard.remove_entry(hash, |(k, _)| *k == key) {
                            out.push((k, f.into_inner()));
                        }
                    } else {
                        let d = t.deadline(key.transport, flow);
                        next = Some(next.map_or(d, |n| n.min(d)));
                    }
                }
                if let Some(d) = next {
                    later.push((d, hash));
                }
            }
        }
        for (deadline, hash) in later {
            // Not due yet: look again at its deadline (added after the loop above, so an entry
            // due later in the current slot waits for the next sweep).
            wheel.schedule(deadline, hash);
        }
        p.count.fetch_sub(out.len(), Ordering::Relaxed);
        out
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| p.count.load(Ordering::Relaxed))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flows evicted so far because the table was full.
    pub fn evicted(&self) -> usize {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Heap bytes held by all flows beyond their table entries.
    pub fn heap_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|p| p.map.iter().map(|f| f.heap_bytes()).sum::<usize>())
            .sum()
    }

    /// Removes every remaining flow and hands its record to `emit` in report order (first
    /// packet, then endpoints), one at a time, so the end of a large capture never holds every
    /// record at once. Call with no worker running.
    pub fn drain_each(&self, watch: &Watch, mut emit: impl FnMut(FlowRecord)) {
        let mut order: Vec<(i64, FlowKey, usize)> = Vec::with_capacity(self.len());
        for (i, p) in self.parts.iter().enumerate() {
            order.extend(p.map.iter().map(|e| (e.first_us, *e.key(), i)));
        }
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key_order(&a.1, &b.1)));
        for (_, key, i) in order {
            let p = &self.parts[i];
            if let Some((k, flow)) = self.remove(p, &key) {
                p.count.fetch_sub(1, Ordering::Relaxed);
                emit(flow.into_record(&k, watch, End::Running));
            }
        }
    }

    /// Every remaining flow's record, in report order (see [`FlowTable::drain_each`]).
    pub fn drain(&self, watch: &Watch) -> Vec<FlowRecord> {
        let mut out = Vec::with_capacity(self.len());
        self.drain_each(watch, |r| out.push(r));
        out
    }
}

#[cfg(test)]
thread_local! {
    /// Key comparisons made by the table's lookups on this thread (tests count probe work).
    static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one key comparison of a lookup (in tests only; nothing in a release build).
#[inline(always)]
fn count_comparison() {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
}

fn key_order(a: &FlowKey, b: &FlowKey) -> std::cmp::Ordering {
    (a.lo, a.hi, a.transport.as_str()).cmp(&(b.lo, b.hi, b.transport.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpInfo;
    use std::net::IpAddr;

    fn syn(src: IpAddr, sport: u16, dst: IpAddr) -> PacketView<'static> {
        PacketView {
            vlan: None,
            src,
            dst,
            src_port: sport,
            dst_port: 3406,
            transport: Transport::Tcp,
            tcp: TcpInfo {
                seq: 1000,
                ack: 0,
                flags: tcp_flags::SYN,
            },
            payload: &[],
            payload_len: 0,
            tcp_header: &[],
        }
    }

    #[test]
    fn a_flow_without_payload_allocates_nothing_beyond_its_entry() {
        let table = FlowTable::new(4096, 4, 1000);
        let mut events = Vec::new();
        let watch = Watch::ports(&[3406]);
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..100u16 {
            let client: IpAddr = format!("198.51.100.{}", i % 250).parse().unwrap();
            table.observe_view(
                &syn(client, 40000 + i, server),
                1,
                60,
                &watch,
                false,
                &mut events,
            );
        }
        assert_eq!(table.len(), 100);
        assert_eq!(table.heap_bytes(), 0);
        // The entry itself: key and flow, stored inline in the table.
        let entry = std::mem::size_of::<(FlowKey, Flow)>();
        eprintln!("table entry: {entry} bytes");
        assert!(entry <= 160, "a table entry grew to {entry} bytes");
    }

    #[test]
    fn a_late_syn_that_moves_the_stream_start_restarts_the_probe() {
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        let request = b"get nodeid\nuser: mysqld\npassword: mysqld\npublic key: a public key\nversion: 1\nnodetype: 1\n\n";
        let mut data = syn(client, 40000, server);
        data.tcp = TcpInfo {
            seq: 1011,
            ack: 0,
            flags: tcp_flags::ACK | tcp_flags::PSH,
        };
        data.payload = request;
        data.payload_len = request.len() as u32;
        let mut flow = Flow::new(0, None);
        let (_, idx) = FlowKey::of(&data);
        let mem = Arc::new(MemCap::default());
        let mut ctx = Ctx {
            prefix: 4096,
            mem: &mem,
            bad_checksums: 0,
        };
        flow.observe(idx, &Seen::of(&data), 1, 100, &mut ctx);
        assert!(
            flow.result().evidence[idx].is_some(),
            "the request alone is evidence"
        );
        // The SYN shows the stream really began 10 bytes earlier: those bytes are missing, so
        // nothing in order is known any more and the probe must not keep what it read.
        flow.observe(idx, &Seen::of(&syn(client, 40000, server)), 2, 60, &mut ctx);
        assert!(flow.decided.is_none());
        assert_eq!(flow.result().evidence[idx], None);
    }

    /// A data segment from the client of `syn(..)`'s flow.
    fn data(seq: u32, payload: &'static [u8]) -> PacketView<'static> {
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        let mut v = syn(client, 40000, server);
        v.tcp = TcpInfo {
            seq,
            ack: 1,
            flags: tcp_flags::ACK,
        };
        v.payload = payload;
        v.payload_len = payload.len() as u32;
        v
    }

    #[test]
    fn leftward_growth_costs_the_probe_a_bounded_number_of_re_reads() {
        let mem = Arc::new(MemCap::default());
        for byte in [&b"\n"[..], b" "] {
            let mut flow = Flow::new(0, None);
            let mut ctx = Ctx {
                prefix: 4096,
                mem: &mem,
                bad_checksums: 0,
            };
            let n = 4_000u32;
            for i in 0..n {
                let v = data(1_000_000 - i, byte);
                let (_, idx) = FlowKey::of(&v);
                flow.observe(idx, &Seen::of(&v), i64::from(i), 60, &mut ctx);
            }
            let ins = flow.inspect.as_ref().expect("still inspecting");
            // Each re-anchoring shows the probe the prefix again: at most MAX_REREADS of them,
            // each at most MAX_REREADS + 1 bytes long here, plus the first byte.
            let reread = crate::flow::stream::MAX_REREADS as u64;
            assert!(
                ins.probed <= 1 + reread * (reread + 1),
                "the probe examined {} bytes",
                ins.probed
            );
            assert!(flow.anomalies.contains(Anomaly::ReanchorLimit));
        }
    }

    /// `view` as the table sees it, with a checksum that does not verify.
    fn with_bad_checksum(view: &PacketView<'static>) -> Seen<'static> {
        let mut seen = Seen::of(view);
        seen.csum = (0..=2u16).find(|h| checksum::verify(Some(*h), view.payload) == Checksum::Bad);
        seen
    }

    #[test]
    fn one_bad_checksum_segment_holds_the_verdict_two_look_like_offload() {
        let request =
            b"get nodeid\nversion: 524288\nnodetype: 1\nuser: mysqld\npassword: mysqld\n\n";
        let reply = b"get nodeid reply\nnodeid: 50\nresult: Ok\n\n";
        let mem = Arc::new(MemCap::default());
        for bad_reply in [false, true] {
            let mut flow = Flow::new(0, None);
            let mut ctx = Ctx {
                prefix: 4096,
                mem: &mem,
                bad_checksums: 0,
            };
            let req = data(5000, request);
            let (_, c) = FlowKey::of(&req);
            flow.observe(c, &with_bad_checksum(&req), 1, 100, &mut ctx);
            let mut rep = data(9000, reply);
            std::mem::swap(&mut rep.src, &mut rep.dst);
            std::mem::swap(&mut rep.src_port, &mut rep.dst_port);
            let seen = if bad_reply {
                with_bad_checksum(&rep)
            } else {
                Seen::of(&rep)
            };
            flow.observe(1 - c, &seen, 2, 100, &mut ctx);
            assert_eq!(ctx.bad_checksums, 1 + u64::from(bad_reply));
            assert!(flow.anomalies.contains(Anomaly::BadChecksum));
            // One bad segment: the verdict waits for a good copy (or the end of the flow);
            // two: taken as offload, decided as usual.
            assert_eq!(flow.decided.is_some(), bad_reply, "bad reply: {bad_reply}");
            assert_eq!(flow.result().verdict, crate::classify::Verdict::NdbMgm);
        }
    }

    #[test]
    fn reassembly_memory_comes_back_when_flows_are_decided_swept_evicted_or_drained() {
        let traffic = traffic();
        let watch = Watch::any();
        for (cap, max) in [(64 << 20, 1_000_000), (64 << 20, 40), (20_000, 1_000_000)] {
            let mem = Arc::new(MemCap::new(cap));
            let t = Timeouts {
                tcp_idle_us: 700_000,
                udp_idle_us: 300_000,
                linger_us: 100_000,
            };
            let table = FlowTable::new(4096, 2, max)
                .with_timeouts(t)
                .with_memcap(Arc::clone(&mem));
            let mut events = Vec::new();
            let mut next = i64::MIN;
            let mut swept = Vec::new();
            for (pkt, payload) in &traffic {
                if pkt.ts_us >= next {
                    next = pkt.ts_us + 250_000;
                    for part in 0..2 {
                        swept.extend(table.sweep_part(part, pkt.ts_us));
                    }
                }
                observe_one(&table, pkt, payload, &watch, &mut events);
            }
            assert!(mem.peak() > 0);
            assert!(mem.used() <= cap);
            let held: usize = table
                .parts
                .iter()
                .map(|p| {
                    p.map
                        .iter()
                        .filter_map(|f| {
                            f.inspect
                                .as_ref()
                                .map(|i| i.streams[0].charged() + i.streams[1].charged())
                        })
                        .sum::<usize>()
                })
                .sum::<usize>()
                + swept
                    .iter()
                    .chain(events.iter().flat_map(|e| match e {
                        FlowEvent::Evicted(f) => f.as_slice(),
                        FlowEvent::Decided(_) => &[],
                    }))
                    .filter_map(|(_, f)| {
                        f.inspect
                            .as_ref()
                            .map(|i| i.streams[0].charged() + i.streams[1].charged())
                    })
                    .sum::<usize>();
            assert_eq!(
                mem.used(),
                held,
                "every reserved byte belongs to a live stream"
            );
            let small = cap < 1 << 20;
            assert_eq!(mem.hits() > 0, small, "cap {cap}");
            let records = everything(&table, events, &watch);
            drop(swept);
            assert_eq!(mem.used(), 0, "cap {cap}, max {max}: all given back");
            if small {
                assert!(records.iter().any(|r| r.contains("\"memcap\"")));
            }
        }
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_seen_and_reports_them() {
        let table = FlowTable::new(4096, 1, 64);
        let mut events = Vec::new();
        let watch = Watch::ports(&[3406]);
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        for i in 0..1000u16 {
            table.observe_view(
                &syn(client, 10000 + i, server),
                i64::from(i),
                60,
                &watch,
                false,
                &mut events,
            );
        }
        assert!(table.len() <= 64, "{} flows tracked", table.len());
        let evicted: Vec<FlowRecord> = events
            .iter()
            .flat_map(|e| match e {
                FlowEvent::Evicted(flows) => flows
                    .iter()
                    .map(|(k, f)| f.record(k, &watch, End::Evicted))
                    .collect(),
                FlowEvent::Decided(_) => Vec::new(),
            })
            .collect();
        assert_eq!(evicted.len() + table.len(), 1000);
        assert_eq!(table.evicted(), evicted.len());
        assert!(evicted.iter().all(|r| r.state == FlowState::Evicted));
        // Oldest first: the evicted flows are the earliest ports, and the survivors the latest.
        let remaining = table.drain(&watch);
        let newest_evicted = evicted.iter().map(|r| r.client.port()).max().unwrap_or(0);
        assert!(remaining.iter().all(|r| r.client.port() > newest_evicted));
    }

    /// A table whose hash seed is fixed, so that packets keyed for one such table fit another.
    fn seeded_table(parts: usize, max: usize) -> FlowTable {
        FlowTable::with_hasher(4096, parts, max, hash::seeded(0x5eed))
    }

    /// Generated traffic (about 6,000 packets in 300 flows, some with NDB and other payloads)
    /// as the router would hand it over: (packet, payload).
    fn traffic() -> Vec<(Pkt, Vec<u8>)> {
        use ndbsniff_gen::traffic::{generate_in_memory, Profile, TrafficSpec};
        let spec = TrafficSpec {
            flow_rate: 500.0,
            ..TrafficSpec::new(Profile::Small, 6_000, 300)
        };
        let (cap, _) = generate_in_memory(&spec).unwrap();
        let keyed = seeded_table(1, 1);
        cap.iter()
            .filter_map(|(ts, f)| {
                let v = crate::decode::decode(crate::decode::LinkKind::Ethernet, f).ok()?;
                let pkt = Pkt::of(&v, (ts / 1_000) as i64, f.len() as u32, 0, &keyed);
                Some((pkt, v.payload.to_vec()))
            })
            .collect()
    }

    /// One packet the single-packet way.
    fn observe_one(
        table: &FlowTable,
        pkt: &Pkt,
        payload: &[u8],
        watch: &Watch,
        events: &mut Vec<FlowEvent>,
    ) {
        // Keyed as this table keys it (a table with a constant hash keys alike every packet).
        let pkt = Pkt {
            hash: table.hash(&pkt.key),
            ..*pkt
        };
        let part = table.part_of_hash(pkt.hash);
        table.observe_batch(
            part,
            std::slice::from_ref(&pkt),
            |_| payload,
            watch,
            false,
            events,
        );
    }

    /// Every record a table holds or gave up, in one comparable list.
    fn everything(table: &FlowTable, events: Vec<FlowEvent>, watch: &Watch) -> Vec<String> {
        let mut all: Vec<String> = events
            .into_iter()
            .flat_map(|e| match e {
                FlowEvent::Evicted(flows) => flows
                    .into_iter()
                    .map(|(k, f)| f.into_record(&k, watch, End::Evicted))
                    .collect(),
                FlowEvent::Decided(_) => Vec::new(),
            })
            .chain(table.drain(watch))
            .map(|r| format!("{r:?}"))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn batches_give_what_single_packets_give_in_any_number_of_parts_and_when_full() {
        let traffic = traffic();
        assert!(traffic.len() > 5_000);
        let watch = Watch::any();
        for (parts, max) in [(1, 1_000_000), (3, 1_000_000), (1, 40), (2, 64)] {
            let single = seeded_table(parts, max);
            let mut single_events = Vec::new();
            for (pkt, payload) in &traffic {
                observe_one(&single, pkt, payload, &watch, &mut single_events);
            }
            let batched = seeded_table(parts, max);
            let mut batched_events = Vec::new();
            for chunk in traffic.chunks(700) {
                for part in 0..parts {
                    let mine: Vec<&(Pkt, Vec<u8>)> = chunk
                        .iter()
                        .filter(|(p, _)| batched.part_of(&p.key) == part)
                        .collect();
                    let pkts: Vec<Pkt> = mine.iter().map(|(p, _)| *p).collect();
                    let payload_of = |p: &Pkt| {
                        let i = pkts.iter().position(|q| std::ptr::eq(q, p)).unwrap();
                        mine[i].1.as_slice()
                    };
                    batched.observe_batch(
                        part,
                        &pkts,
                        payload_of,
                        &watch,
                        false,
                        &mut batched_events,
                    );
                }
            }
            let evicted = batched.evicted();
            assert_eq!(evicted, single.evicted(), "parts {parts}, max {max}");
            assert_eq!(evicted > 0, max < 1000, "parts {parts}, max {max}");
            let want = everything(&single, single_events, &watch);
            let got = everything(&batched, batched_events, &watch);
            assert_eq!(got.len(), want.len());
            assert!(
                got == want,
                "parts {parts}, max {max}: batched records differ"
            );
        }
    }

    #[test]
    fn sweeps_take_exactly_the_flows_a_full_scan_finds_due() {
        let traffic = traffic();
        let watch = Watch::any();
        // Short timeouts so that flows end, idle and linger many times over the traffic.
        let t = Timeouts {
            tcp_idle_us: 700_000,
            udp_idle_us: 300_000,
            linger_us: 100_000,
        };
        let mut reference = None;
        for (parts, collide) in [(1, false), (2, false), (1, true), (2, true)] {
            let mut table = seeded_table(parts, 1_000_000).with_timeouts(t);
            if collide {
                // Every key with one hash: each flow must still go at its own deadline.
                table.constant_hash = Some(0x0123_4567_89ab_cdef);
            }
            let mut events = Vec::new();
            let mut next = i64::MIN;
            let mut swept = 0;
            for (pkt, payload) in &traffic {
                if pkt.ts_us >= next {
                    next = pkt.ts_us + 250_000;
                    for part in 0..parts {
                        let p = &table.parts[part];
                        let mut want: Vec<String> = p
                            .map
                            .iter()
                            .filter(|e| t.expired(e.key().transport, e.value(), pkt.ts_us))
                            .map(|e| format!("{:?}", e.key()))
                            .collect();
                        let mut got: Vec<String> = table
                            .sweep_part(part, pkt.ts_us)
                            .iter()
                            .map(|(k, _)| format!("{k:?}"))
                            .collect();
                        want.sort();
                        got.sort();
                        assert_eq!(
                            got, want,
                            "sweep at {} (parts {parts}, collide {collide})",
                            pkt.ts_us
                        );
                        swept += got.len();
                    }
                }
                observe_one(&table, pkt, payload, &watch, &mut events);
            }
            assert!(swept > 100, "only {swept} flows swept");
            let outcome = (swept, everything(&table, events, &watch));
            match &reference {
                None => reference = Some(outcome),
                Some(want) => assert!(
                    *want == outcome,
                    "parts {parts}, collide {collide}: not what distinct hashes give"
                ),
            }
        }
    }

    /// IPv6 keys that all have the same Fx hash (the unkeyed hash the table once used): the
    /// low and high words of the lower address are chosen so that the running Fx state after
    /// both is the same for every key.
    fn fx_colliding_keys(n: u64) -> Vec<FlowKey> {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let hi: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe".parse().unwrap();
        let target: u64 = 0x1234_5678;
        (1..=n)
            .map(|i| {
                let low = i;
                let high = target.wrapping_sub(low.wrapping_mul(K));
                let lo = std::net::Ipv6Addr::from_bits(u128::from(high) << 64 | u128::from(low));
                FlowKey {
                    lo: crate::flow::key::Endpoint {
                        addr: IpAddr::V6(lo),
                        port: 40000,
                    },
                    hi: crate::flow::key::Endpoint {
                        addr: hi,
                        port: 3406,
                    },
                    transport: Transport::Tcp,
                }
            })
            .collect()
    }

    #[test]
    fn keys_that_collide_under_an_unkeyed_hash_cost_the_keyed_table_nothing() {
        use std::hash::BuildHasher;
        let keys = fx_colliding_keys(4_000);
        let fx = rustc_hash::FxBuildHasher;
        let first = fx.hash_one(keys[0]);
        assert!(
            keys.iter().all(|k| fx.hash_one(k) == first && k.lo < k.hi),
            "the attack keys must collide under Fx"
        );
        let table = FlowTable::new(4096, 1, 1_000_000);
        let watch = Watch::ports(&[3406]);
        let mut events = Vec::new();
        COMPARISONS.with(|c| c.set(0));
        for round in 0..2 {
            for k in &keys {
                let mut v = syn(k.lo.addr, k.lo.port, k.hi.addr);
                v.tcp.seq = round;
                table.observe_view(&v, 1, 60, &watch, false, &mut events);
            }
        }
        assert_eq!(table.len(), keys.len());
        let comparisons = COMPARISONS.with(std::cell::Cell::get);
        // Inserting compares with the few keys whose 7-bit tag matches by chance; the second
        // round finds each flow at its first comparison or so. An unkeyed table compares each
        // new key with every earlier one: about 8,000,000 comparisons here.
        let n = keys.len() as u64;
        eprintln!("{comparisons} key comparisons for {} lookups", 2 * n);
        assert!(
            comparisons < 3 * n,
            "{comparisons} comparisons for {n} keys"
        );
    }

    #[test]
    fn flows_with_one_hash_are_evicted_apart() {
        let watch = Watch::ports(&[3406]);
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let mut table = FlowTable::new(4096, 1, 64);
        table.constant_hash = Some(42);
        let mut events = Vec::new();
        for i in 0..1000u16 {
            let v = syn(client, 10000 + i, server);
            table.observe_view(&v, i64::from(i), 60, &watch, false, &mut events);
        }
        let evicted: Vec<u16> = events
            .iter()
            .flat_map(|e| match e {
                FlowEvent::Evicted(f) => f.iter().map(|(k, _)| k.hi.port).collect(),
                FlowEvent::Decided(_) => Vec::new(),
            })
            .collect();
        let kept: Vec<u16> = table
            .drain(&watch)
            .iter()
            .map(|r| r.client.port())
            .collect();
        assert!(kept.len() <= 64);
        assert_eq!(evicted.len() + kept.len(), 1000, "every flow reported once");
        let mut all: Vec<u16> = evicted.iter().chain(&kept).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 1000, "no flow reported twice or lost");
        // Oldest first, as with distinct hashes.
        assert!(kept.iter().all(|p| evicted.iter().all(|e| e < p)));
    }
}
