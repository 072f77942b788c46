//! One part of the flow table: the flows one flow worker follows.
//!
//! Owns: the part's map of flows (a hash table keyed by the table's keyed hash, probed with the
//! hash each packet carries), its deadline wheel, accounting batches of packets
//! ([`Tracker::observe_batch`]), eviction of the least recently seen flows when the part is full,
//! and sweeping the flows that ended or went idle ([`Tracker::sweep`], which visits only the
//! flows the wheel says may be due). A tracker is owned by value by its worker thread, the only
//! one that ever touches it, so nothing in it is locked; the main thread gets it back at the end
//! and drains what is left ([`drain_each`]).
//!
//! Never: blocks, allocates for a flow that carries no payload (beyond its entry and an 8-byte
//! wheel entry), holds more flows than its limit for longer than one eviction round, or builds a
//! record of a flow it removes (whoever reports them does).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use hashbrown::hash_table::{Entry, HashTable};

use crate::flow::hugepages::TableAlloc;

use crate::decode::PacketView;
use crate::flow::key::FlowKey;
use crate::flow::packet::{BatchData, Pkt};
use crate::flow::record::{key_order, End};
use crate::flow::state::{Ctx, Flow, Seen};
use crate::flow::table::{Counters, KeyHash};
use crate::flow::timeouts::Timeouts;
use crate::flow::watch::Watch;
use crate::flow::wheel::Wheel;
use crate::memcap::MemCap;
use crate::report::FlowRecord;

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

/// What happened to a flow that a caller may need to report.
#[derive(Debug)]
pub enum FlowEvent {
    /// The probe has just decided; the flow is still tracked.
    Decided(FlowRecord),
    /// Flows pushed out of a full part, oldest first.
    Evicted(Removed),
    /// Live runs: commands of a running NDB session to announce now (control commands and
    /// refusals, as their replies are seen).
    Ndb(NdbNotice),
}

/// Commands of a running NDB session, with the session's endpoints.
#[derive(Debug)]
pub struct NdbNotice {
    /// The session's client.
    pub client: std::net::SocketAddr,
    /// Its management server.
    pub server: std::net::SocketAddr,
    /// The commands, in order.
    pub commands: Vec<crate::report::ndb::Command>,
}

/// Flows taken out of a tracker, with their keys, to be turned into records by whoever reports
/// them (so the flow workers do not spend their time formatting).
pub type Removed = Vec<(FlowKey, Flow)>;

/// Shards of a part's map (a power of two).
const SHARDS: usize = 8;

/// The flows of one part, in [`SHARDS`] hash tables chosen by bits of the key's hash that the
/// tables themselves do not use (they take the lowest bits for the bucket and the top seven for
/// their control bytes). Shards keep growth cheap: when a table doubles, its old and new bucket
/// arrays are held at once, and a shard is an eighth of the part.
struct Map {
    shards: [HashTable<(FlowKey, Flow), TableAlloc>; SHARDS],
}

impl Map {
    fn new() -> Map {
        Map {
            shards: std::array::from_fn(|_| HashTable::new_in(TableAlloc)),
        }
    }

    /// The shard of a key hash.
    #[inline]
    fn shard(&self, hash: u64) -> &HashTable<(FlowKey, Flow), TableAlloc> {
        &self.shards[(hash >> 54) as usize & (SHARDS - 1)]
    }

    /// The shard of a key hash, to change.
    #[inline]
    fn shard_mut(&mut self, hash: u64) -> &mut HashTable<(FlowKey, Flow), TableAlloc> {
        &mut self.shards[(hash >> 54) as usize & (SHARDS - 1)]
    }

    #[inline]
    fn len(&self) -> usize {
        self.shards.iter().map(HashTable::len).sum()
    }

    fn is_empty(&self) -> bool {
        self.shards.iter().all(HashTable::is_empty)
    }

    /// Every flow, shard by shard.
    fn iter(&self) -> impl Iterator<Item = &(FlowKey, Flow)> {
        self.shards.iter().flat_map(HashTable::iter)
    }

    /// The entry of `key` (whose hash is `hash`), to look at or remove.
    #[inline]
    fn find_entry(
        &mut self,
        hash: u64,
        key: &FlowKey,
    ) -> Option<hashbrown::hash_table::OccupiedEntry<'_, (FlowKey, Flow), TableAlloc>> {
        self.shard_mut(hash)
            .find_entry(hash, |(k, _)| k == key)
            .ok()
    }
}

/// The limits a tracker works to, copied from its table.
#[derive(Clone)]
struct Limits {
    keys: KeyHash,
    prefix: usize,
    /// The most flows this part holds.
    part_max: usize,
    timeouts: Timeouts,
}

/// One part of a [`crate::flow::table::FlowTable`]: the flows whose key hash routes them to one
/// flow worker, and everything needed to follow, evict and sweep them.
pub struct Tracker {
    part: usize,
    limits: Limits,
    map: Map,
    wheel: Wheel,
    /// The budget reassembly buffers are reserved from (the table's).
    memcap: Arc<MemCap>,
    /// The table's counters, added to once per batch.
    counters: Arc<Counters>,
    /// Flows this part evicted because it was full.
    evicted: usize,
    /// Live runs: NDB sessions announce their control commands ([`FlowEvent::Ndb`]).
    announce_ndb: bool,
}

impl Tracker {
    /// An empty part number `part` (built by [`crate::flow::table::FlowTable::trackers`]).
    pub(crate) fn new(
        part: usize,
        keys: KeyHash,
        prefix: usize,
        part_max: usize,
        timeouts: Timeouts,
        memcap: Arc<MemCap>,
        counters: Arc<Counters>,
    ) -> Tracker {
        Tracker {
            part,
            limits: Limits {
                keys,
                prefix,
                part_max,
                timeouts,
            },
            map: Map::new(),
            wheel: Wheel::default(),
            memcap,
            counters,
            evicted: 0,
            announce_ndb: false,
        }
    }

    /// Live runs: NDB sessions followed by this part push their control commands as
    /// [`FlowEvent::Ndb`] the moment their replies are seen.
    pub fn announce_ndb(&mut self, on: bool) {
        self.announce_ndb = on;
    }

    /// Which part of its table this is.
    pub fn part(&self) -> usize {
        self.part
    }

    /// Accounts a batch of packets of this part: finds or creates each packet's flow, updates
    /// its counters and TCP state, and feeds payload to the probe while it is undecided. Uses
    /// the hashes the packets carry: one probe of the map per packet. When `announce` is set, a
    /// decision pushes a [`FlowEvent::Decided`]; flows pushed out of a full part come back as
    /// [`FlowEvent::Evicted`].
    pub fn observe_batch<'p>(
        &mut self,
        pkts: &'p [Pkt],
        data: impl BatchData<'p>,
        watch: &Watch,
        announce: bool,
        events: &mut Vec<FlowEvent>,
    ) {
        let mut ctx = Ctx {
            prefix: self.limits.prefix,
            mem: &self.memcap,
            bad_checksums: 0,
            announce_ndb: self.announce_ndb,
        };
        let limits = &self.limits;
        let t = &limits.timeouts;
        let map = &mut self.map;
        // Flows in the part, kept here for the batch (the map's count is a sum over shards);
        // nothing but this loop adds or removes flows while it runs.
        let mut len = map.len();
        let wheel = &mut self.wheel;
        let rehash = |(k, _): &(FlowKey, Flow)| limits.keys.hash(k);
        for (i, pkt) in pkts.iter().enumerate() {
            // The payload was last touched by the capture thread on another core: ask for it
            // a few packets early so the probe does not wait on it.
            if let Some(ahead) = pkts.get(i + PREFETCH_AHEAD) {
                prefetch(data.payload(ahead));
            }
            let key = &pkt.key;
            let eq = |(k, _): &(FlowKey, Flow)| {
                count_comparison();
                k == key
            };
            // A new flow in a full part: evict first (a second look, only while the part is
            // full), then find the slot.
            if len >= limits.part_max && map.shard(pkt.hash).find(pkt.hash, eq).is_none() {
                self.evicted += evict_oldest(map, wheel, limits, events);
                len = map.len();
            }
            let found = map.shard_mut(pkt.hash).entry(pkt.hash, eq, rehash);
            let flow = match found {
                Entry::Occupied(entry) => &mut entry.into_mut().1,
                Entry::Vacant(slot) => {
                    let flow = Flow::new(pkt.ts_us, pkt.vlan);
                    wheel.schedule(t.deadline(key.transport, &flow), pkt.hash);
                    len += 1;
                    &mut slot.insert((*key, flow)).into_mut().1
                }
            };
            if pkt.tunnel != 0 && flow.tunnel.is_none() {
                flow.tunnel = data.tunnel(pkt).map(|t| Box::new(*t));
            }
            let seen = Seen {
                transport: key.transport,
                vlan: pkt.vlan,
                tcp: pkt.tcp,
                payload: data.payload(pkt),
                payload_len: pkt.payload_len,
                csum: pkt.csum,
            };
            let was_ended = flow.ended();
            let idx = usize::from(pkt.idx);
            if flow.observe(idx, &seen, pkt.ts_us, pkt.wire_len, &mut ctx) && announce {
                events.push(FlowEvent::Decided(flow.record(key, watch, End::Running)));
            }
            if ctx.announce_ndb {
                let commands = flow.take_notes();
                if !commands.is_empty() {
                    let (client, server) = flow.endpoints(key, watch);
                    events.push(FlowEvent::Ndb(NdbNotice {
                        client,
                        server,
                        commands,
                    }));
                }
            }
            if !was_ended && flow.ended() {
                wheel.schedule(t.deadline(key.transport, flow), pkt.hash);
            }
        }
        if ctx.bad_checksums > 0 {
            self.counters
                .bad_checksums
                .fetch_add(ctx.bad_checksums, Ordering::Relaxed);
        }
    }

    /// One decoded packet: a batch of one (see [`Tracker::observe_batch`]). The packet's flow
    /// belongs to this part ([`crate::flow::table::FlowTable::part_of`]).
    pub fn observe_view(
        &mut self,
        view: &PacketView<'_>,
        ts_us: i64,
        wire_len: u32,
        watch: &Watch,
        announce: bool,
        events: &mut Vec<FlowEvent>,
    ) {
        let pkt = Pkt::hashed(view, ts_us, wire_len, 0, |k| self.limits.keys.hash(k));
        self.observe_batch(&[pkt], |_| view.payload, watch, announce, events);
    }

    /// Takes out every flow that has ended and lingered, or gone idle, as of `now_us`, visiting
    /// only the flows the deadline wheel says may be due. The flows come back unordered.
    pub fn sweep(&mut self, now_us: i64) -> Removed {
        let limits = &self.limits;
        let t = &limits.timeouts;
        let mut out = Vec::new();
        let mut later = Vec::new();
        // The keys with one entry's hash (almost always one), reused from entry to entry.
        let mut keys: Vec<FlowKey> = Vec::with_capacity(1);
        while let Some(hashes) = self.wheel.pop_due(now_us) {
            for hash in hashes {
                // Every flow with this hash, not only the first: keys that collide in all 64
                // bits must still be swept each at its own time.
                keys.clear();
                keys.extend(
                    self.map
                        .shard(hash)
                        .iter_hash(hash)
                        .map(|(k, _)| *k)
                        .filter(|k| limits.keys.hash(k) == hash),
                );
                let mut next: Option<i64> = None;
                for &key in &keys {
                    let Some(entry) = self.map.find_entry(hash, &key) else {
                        continue;
                    };
                    let flow = &entry.get().1;
                    if t.expired(key.transport, flow, now_us) {
                        out.push(entry.remove().0);
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
            self.wheel.schedule(deadline, hash);
        }
        out
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Flows evicted so far because this part was full.
    pub fn evicted(&self) -> usize {
        self.evicted
    }

    /// Heap bytes held by this part's flows beyond their entries.
    pub fn heap_bytes(&self) -> usize {
        self.map.iter().map(|(_, f)| f.heap_bytes()).sum()
    }
}

/// Removes the least recently seen sixteenth of a full part in one pass, so a flood pays for one
/// scan per many new flows; returns how many flows went. The flows go out in `events`, oldest
/// first (ties in key order, so which flows go never depends on where they lie in the map).
fn evict_oldest(
    map: &mut Map,
    wheel: &mut Wheel,
    limits: &Limits,
    events: &mut Vec<FlowEvent>,
) -> usize {
    // The n oldest are the flows last seen before the n-th smallest time, then as many of
    // those last seen at that time as are still wanted, in key order. Only the times are
    // ordered here (8 bytes a flow, not a key each), then the map is walked once.
    let mut ages: Vec<i64> = map.iter().map(|(_, f)| f.last_us).collect();
    let n = (limits.part_max / 16).clamp(1, ages.len().max(1));
    if ages.is_empty() {
        return 0;
    }
    let cut = *ages.select_nth_unstable(n - 1).1;
    drop(ages);
    let mut out: Removed = Vec::with_capacity(n);
    let mut ties: Vec<FlowKey> = Vec::new();
    for shard in &mut map.shards {
        out.extend(shard.extract_if(|(_, f)| f.last_us < cut));
        ties.extend(
            shard
                .iter()
                .filter(|(_, f)| f.last_us == cut)
                .map(|(k, _)| *k),
        );
    }
    ties.sort_unstable_by(key_order);
    for key in ties.into_iter().take(n.saturating_sub(out.len())) {
        let hash = limits.keys.hash(&key);
        if let Some(entry) = map.find_entry(hash, &key) {
            out.push(entry.remove().0);
        }
    }
    out.sort_unstable_by(|a, b| {
        a.1.last_us
            .cmp(&b.1.last_us)
            .then_with(|| key_order(&a.0, &b.0))
    });
    let gone = out.len();
    events.push(FlowEvent::Evicted(out));
    if wheel.entries() > 2 * map.len() + 1024 {
        // Mostly entries of evicted flows: start again from the flows there are.
        *wheel = Wheel::default();
        for (key, flow) in map.iter() {
            let deadline = limits.timeouts.deadline(key.transport, flow);
            wheel.schedule(deadline, limits.keys.hash(key));
        }
    }
    gone
}

/// Flows ordered at once by [`drain_each`]: the end of a run sorts its flows a window of capture
/// time at a time, so the order it builds stays small however many flows are open.
const DRAIN_WINDOW: usize = 16 * 1024;

/// Removes every flow the trackers of a table still hold and hands its record to `emit` in
/// report order (first packet, then endpoints), one at a time, so the end of a large capture
/// never holds every record at once. The trackers are given back by the workers that owned
/// them (none may be running).
///
/// The order is built a window of first-packet times at a time (about `DRAIN_WINDOW` flows or
/// a sixteenth of them, whichever is more, and more only when that many share one
/// microsecond): beside the table it needs 8 bytes a flow and one window's keys, not a key for
/// every flow, and the table is walked at most 16 times.
pub fn drain_each(parts: Vec<Tracker>, watch: &Watch, mut emit: impl FnMut(FlowRecord)) {
    let mut parts = parts;
    let mut times: Vec<i64> = Vec::with_capacity(parts.iter().map(Tracker::len).sum());
    for p in &parts {
        times.extend(p.map.iter().map(|(_, f)| f.first_us));
    }
    times.sort_unstable();
    // At most 16 walks of the table however large it is: the window grows with it.
    let window = (times.len() / 16).max(DRAIN_WINDOW);
    let mut order: Vec<(i64, FlowKey, usize)> = Vec::new();
    let mut at = 0;
    while at < times.len() {
        // This window: [lo, hi], ending with every flow of its last microsecond.
        let lo = times[at];
        let mut end = (at + window).min(times.len()) - 1;
        let hi = times[end];
        while end + 1 < times.len() && times[end + 1] == hi {
            end += 1;
        }
        at = end + 1;
        order.clear();
        for (i, p) in parts.iter().enumerate() {
            order.extend(
                p.map
                    .iter()
                    .filter(|(_, f)| (lo..=hi).contains(&f.first_us))
                    .map(|(k, f)| (f.first_us, *k, i)),
            );
        }
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key_order(&a.1, &b.1)));
        for &(_, key, i) in &order {
            let p = &mut parts[i];
            let hash = p.limits.keys.hash(&key);
            if let Some(entry) = p.map.find_entry(hash, &key) {
                let ((k, flow), _) = entry.remove();
                emit(flow.into_record(&k, watch, End::Running));
            }
        }
    }
}

/// Every record the trackers still hold, in report order (see [`drain_each`]).
pub fn drain(parts: Vec<Tracker>, watch: &Watch) -> Vec<FlowRecord> {
    let mut out = Vec::with_capacity(parts.iter().map(Tracker::len).sum());
    drain_each(parts, watch, |r| out.push(r));
    out
}

#[cfg(test)]
thread_local! {
    /// Key comparisons made by the trackers' lookups on this thread (tests count probe work).
    static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one key comparison of a lookup (in tests only; nothing in a release build).
#[inline(always)]
fn count_comparison() {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Transport;
    use crate::flow::hash;
    use crate::flow::state::tests::syn;
    use crate::flow::table::FlowTable;
    use crate::report::FlowState;
    use std::net::IpAddr;

    /// A table with its trackers, used as one: packets go to the part that owns their flow.
    struct Parts {
        table: FlowTable,
        parts: Vec<Tracker>,
    }

    impl Parts {
        fn new(table: FlowTable) -> Parts {
            let parts = table.trackers();
            Parts { table, parts }
        }

        fn observe_view(
            &mut self,
            view: &PacketView<'_>,
            ts_us: i64,
            wire_len: u32,
            watch: &Watch,
            announce: bool,
            events: &mut Vec<FlowEvent>,
        ) {
            let part = self.table.part_of(&FlowKey::of(view).0);
            self.parts[part].observe_view(view, ts_us, wire_len, watch, announce, events);
        }

        fn hash(&self, key: &FlowKey) -> u64 {
            self.table.hash(key)
        }

        fn part_of(&self, key: &FlowKey) -> usize {
            self.table.part_of(key)
        }

        fn part_of_hash(&self, hash: u64) -> usize {
            self.table.part_of_hash(hash)
        }

        fn observe_batch<'p>(
            &mut self,
            part: usize,
            pkts: &'p [Pkt],
            payload: impl Fn(&'p Pkt) -> &'p [u8],
            watch: &Watch,
            announce: bool,
            events: &mut Vec<FlowEvent>,
        ) {
            assert_eq!(self.parts[part].part(), part);
            self.parts[part].observe_batch(pkts, payload, watch, announce, events);
        }

        fn sweep_part(&mut self, part: usize, now_us: i64) -> Removed {
            self.parts[part].sweep(now_us)
        }

        fn len(&self) -> usize {
            self.parts.iter().map(Tracker::len).sum()
        }

        fn evicted(&self) -> usize {
            self.parts.iter().map(Tracker::evicted).sum()
        }

        fn heap_bytes(&self) -> usize {
            self.parts.iter().map(Tracker::heap_bytes).sum()
        }

        fn drain(self, watch: &Watch) -> Vec<FlowRecord> {
            drain(self.parts, watch)
        }
    }

    #[test]
    fn the_end_drains_every_flow_in_report_order_across_windows() {
        // More flows than one drain window, many sharing a microsecond, seen in an order that
        // is neither their time order nor their key order, over three parts.
        let n = 2 * DRAIN_WINDOW + 1000;
        let mut table = Parts::new(FlowTable::new(4096, 3, 4 * n));
        let mut events = Vec::new();
        let watch = Watch::ports(&[3406]);
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..n {
            let client: IpAddr = format!("198.51.{}.{}", (i / 250) % 250, i % 250)
                .parse()
                .unwrap();
            let port = 1024 + (i * 7919 % 60000) as u16;
            // Times fall back and forth; a whole window's worth of flows share time 0.
            let ts = if i < DRAIN_WINDOW + 5 {
                0
            } else {
                ((i * 31) % 977) as i64
            };
            table.observe_view(
                &syn(client, port, server),
                ts,
                60,
                &watch,
                false,
                &mut events,
            );
        }
        assert_eq!(table.len(), n);
        let records = table.drain(&watch);
        assert_eq!(records.len(), n, "every flow comes out once");
        assert!(records
            .windows(2)
            .all(|w| crate::flow::record::record_order(&w[0], &w[1]).is_lt()));
        let at_zero = records.iter().filter(|r| r.first_seen == 0).count();
        assert!(at_zero > DRAIN_WINDOW, "{at_zero} flows at time 0");
    }

    #[test]
    fn a_flow_without_payload_allocates_nothing_beyond_its_entry() {
        let mut table = Parts::new(FlowTable::new(4096, 4, 1000));
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
        assert!(entry <= 136, "a table entry grew to {entry} bytes");
        // What a decided flow adds besides its evidence text.
        let decided = std::mem::size_of::<crate::flow::state::Decided>();
        eprintln!("decided verdict: {decided} bytes and the evidence");
        assert!(decided <= 64, "the packed verdict grew to {decided} bytes");
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
            let mut table = Parts::new(
                FlowTable::new(4096, 2, max)
                    .with_timeouts(t)
                    .with_memcap(Arc::clone(&mem)),
            );
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
                observe_one(&mut table, pkt, payload, &watch, &mut events);
            }
            assert!(mem.peak() > 0);
            assert!(mem.used() <= cap);
            let held: usize = table
                .parts
                .iter()
                .map(|p| p.map.iter().map(|(_, f)| f.reserved()).sum::<usize>())
                .sum::<usize>()
                + swept
                    .iter()
                    .chain(events.iter().flat_map(|e| match e {
                        FlowEvent::Evicted(f) => f.as_slice(),
                        FlowEvent::Decided(_) | FlowEvent::Ndb(_) => &[],
                    }))
                    .map(|(_, f)| f.reserved())
                    .sum::<usize>();
            assert_eq!(
                mem.used(),
                held,
                "every reserved byte belongs to a live stream"
            );
            let small = cap < 1 << 20;
            assert_eq!(mem.hits() > 0, small, "cap {cap}");
            let records = everything(table, events, &watch);
            drop(swept);
            assert_eq!(mem.used(), 0, "cap {cap}, max {max}: all given back");
            if small {
                assert!(records.iter().any(|r| r.contains("\"memcap\"")));
            }
        }
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_seen_and_reports_them() {
        let mut table = Parts::new(FlowTable::new(4096, 1, 64));
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
                FlowEvent::Decided(_) | FlowEvent::Ndb(_) => Vec::new(),
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

    /// [`seeded_table`] with its trackers.
    fn seeded_parts(parts: usize, max: usize) -> Parts {
        Parts::new(seeded_table(parts, max))
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
        table: &mut Parts,
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
    fn everything(table: Parts, events: Vec<FlowEvent>, watch: &Watch) -> Vec<String> {
        let mut all: Vec<String> = events
            .into_iter()
            .flat_map(|e| match e {
                FlowEvent::Evicted(flows) => flows
                    .into_iter()
                    .map(|(k, f)| f.into_record(&k, watch, End::Evicted))
                    .collect(),
                FlowEvent::Decided(_) | FlowEvent::Ndb(_) => Vec::new(),
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
            let mut single = seeded_parts(parts, max);
            let mut single_events = Vec::new();
            for (pkt, payload) in &traffic {
                observe_one(&mut single, pkt, payload, &watch, &mut single_events);
            }
            let mut batched = seeded_parts(parts, max);
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
            let want = everything(single, single_events, &watch);
            let got = everything(batched, batched_events, &watch);
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
                table.keys.constant = Some(0x0123_4567_89ab_cdef);
            }
            let mut table = Parts::new(table);
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
                            .filter(|(k, f)| t.expired(k.transport, f, pkt.ts_us))
                            .map(|(k, _)| format!("{k:?}"))
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
                observe_one(&mut table, pkt, payload, &watch, &mut events);
            }
            assert!(swept > 100, "only {swept} flows swept");
            let outcome = (swept, everything(table, events, &watch));
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
        let mut table = Parts::new(FlowTable::new(4096, 1, 1_000_000));
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
        table.keys.constant = Some(42);
        let mut table = Parts::new(table);
        let mut events = Vec::new();
        for i in 0..1000u16 {
            let v = syn(client, 10000 + i, server);
            table.observe_view(&v, i64::from(i), 60, &watch, false, &mut events);
        }
        let evicted: Vec<u16> = events
            .iter()
            .flat_map(|e| match e {
                FlowEvent::Evicted(f) => f.iter().map(|(k, _)| k.hi.port).collect(),
                FlowEvent::Decided(_) | FlowEvent::Ndb(_) => Vec::new(),
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
