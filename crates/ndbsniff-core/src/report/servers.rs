//! Per-server state of the report, bounded: the distinct-server count and the text server table.
//!
//! Owns: [`ServerCount`], exact up to [`EXACT_SERVERS`] distinct servers and a HyperLogLog
//! estimate beyond (fixed memory whatever the traffic), and [`ServerTable`], at most
//! `--max-servers` rows, the most interesting kept (`ndb-mgm` first, then by flows), with the
//! client addresses remembered bounded per server and in total.
//!
//! Never: hashes with an unkeyed hash (the exact structures are B-trees, which compare keys;
//! the HyperLogLog hashes with SipHash-1-3 under a fixed key, see [`Hll`]) or lets its memory
//! grow with the number of servers or clients seen.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher13;

use super::{tunnel_kinds, FlowRecord, ServerRow};
use crate::classify::Verdict;
use crate::decode::Transport;

/// Distinct servers counted exactly; past this many the count is a HyperLogLog estimate.
pub const EXACT_SERVERS: usize = 65_536;
/// Rows of the text server table by default (`--max-servers`).
pub const DEFAULT_MAX_SERVERS: usize = 10_000;
/// Client addresses remembered for one server (its `CLIENTS` count is "at least" beyond it).
pub const MAX_CLIENTS_PER_SERVER: usize = 65_536;
/// Client addresses remembered for all servers together, besides each row's first one.
pub const MAX_CLIENTS_TOTAL: usize = 262_144;

/// A server endpoint, compactly and totally ordered: (address, family, port, transport).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerKey(u128, u32);

impl ServerKey {
    /// The key of `server` over `transport`.
    pub fn new(server: SocketAddr, transport: Transport) -> ServerKey {
        let (ip, family) = match server.ip() {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 4u32),
            IpAddr::V6(a) => (u128::from(a), 6),
        };
        let t = match transport {
            Transport::Tcp => 0u32,
            Transport::Udp => 1,
        };
        ServerKey(ip, family << 24 | t << 16 | u32::from(server.port()))
    }

    fn bytes(self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..16].copy_from_slice(&self.0.to_le_bytes());
        b[16..].copy_from_slice(&self.1.to_le_bytes());
        b
    }
}

/// A HyperLogLog sketch with 2^14 one-byte registers (16 KiB; standard error 1.04/√16384,
/// about 0.8%).
///
/// Items are hashed with SipHash-1-3 under a fixed key, so the same input always gives the
/// same estimate. The key is public (it is in this source), so traffic can be chosen to skew
/// the estimate — crafted addresses can pile into few registers (too low) or carry long runs of
/// zero bits (too high) — but never to slow it or grow it: an insert is one hash and one
/// register update, and the memory is fixed. The count is labelled an estimate wherever it is
/// printed, and below [`EXACT_SERVERS`] it is not used at all. A key drawn at random per run
/// would make the estimate, and so the output, differ from run to run.
pub struct Hll {
    registers: Box<[u8; Hll::M]>,
}

impl Hll {
    const P: u32 = 14;
    const M: usize = 1 << Hll::P;
    const KEY: (u64, u64) = (0x6e64_6273_6e69_6666, 0x7365_7276_6572_7321);

    /// An empty sketch (every register zero; estimates 0).
    pub fn new() -> Hll {
        Hll {
            registers: Box::new([0u8; Hll::M]),
        }
    }

    /// Counts `item`; inserting the same bytes again changes nothing.
    pub fn insert(&mut self, item: &[u8]) {
        let mut h = SipHasher13::new_with_keys(Hll::KEY.0, Hll::KEY.1);
        h.write(item);
        let x = h.finish();
        let index = (x >> (64 - Hll::P)) as usize;
        // The remaining 50 bits, with a stop bit so the rank is at most 51.
        let rest = (x << Hll::P) | (1 << (Hll::P - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
    }

    /// The estimated number of distinct items inserted (linear counting while many
    /// registers are still zero).
    pub fn estimate(&self) -> u64 {
        let m = Hll::M as f64;
        let mut sum = 0.0f64;
        let mut zeros = 0usize;
        for &r in self.registers.iter() {
            sum += 1.0 / (1u64 << r) as f64;
            zeros += usize::from(r == 0);
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0 {
            // Small range: linear counting is the better estimate.
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        e.round() as u64
    }
}

impl Default for Hll {
    fn default() -> Self {
        Hll::new()
    }
}

/// How many distinct servers were seen: exact up to [`EXACT_SERVERS`], estimated beyond.
pub struct ServerCount {
    exact: Option<BTreeSet<ServerKey>>,
    hll: Hll,
}

impl Default for ServerCount {
    fn default() -> Self {
        ServerCount {
            exact: Some(BTreeSet::new()),
            hll: Hll::new(),
        }
    }
}

impl ServerCount {
    /// Counts the server `key` (once, however often it is inserted).
    pub fn insert(&mut self, key: ServerKey) {
        self.hll.insert(&key.bytes());
        if let Some(set) = &mut self.exact {
            if set.len() < EXACT_SERVERS || set.contains(&key) {
                set.insert(key);
            } else {
                // One more than can be counted exactly: from here on, the sketch answers.
                self.exact = None;
            }
        }
    }

    /// The count, and whether it is an estimate.
    pub fn count(&self) -> (u64, bool) {
        match &self.exact {
            Some(set) => (set.len() as u64, false),
            // More than EXACT_SERVERS were seen for certain, whatever the sketch says.
            None => (self.hll.estimate().max(EXACT_SERVERS as u64 + 1), true),
        }
    }
}

/// How interesting a row is; the least interesting is pushed out of a full table first.
/// (ndb-mgm, flows, last packet time, key): ties fall on the row seen longest ago.
type Interest = (bool, u64, i64, ServerKey);

struct Agg {
    row: ServerRow,
    /// Client addresses beyond the first (the first is `first_client`, always kept).
    clients: BTreeSet<IpAddr>,
    first_client: IpAddr,
    /// Some client was not remembered: the count is a lower bound.
    clients_capped: bool,
}

impl Agg {
    fn interest(&self, key: ServerKey) -> Interest {
        (
            self.row.verdict == Verdict::NdbMgm,
            self.row.flows,
            self.row.last_seen,
            key,
        )
    }
}

/// The text server table, at most `cap` rows.
///
/// A flow of a server already in the table updates its row. A flow of a new server, when the
/// table is full, pushes out the least interesting row (not `ndb-mgm`, fewest flows, last seen
/// longest ago) if the new row would be more interesting than it, else it is not kept. Either
/// way the flows and the server are still counted in the summary; a row pushed out is gone with
/// its aggregates, and if its server comes back, its row counts from then on.
pub struct ServerTable {
    cap: usize,
    rows: BTreeMap<ServerKey, Agg>,
    by_interest: BTreeSet<Interest>,
    clients_total: usize,
    /// Flows not (or no longer) in any row.
    flows_outside: u64,
    /// Some server was left out of the table or pushed out of it.
    incomplete: bool,
}

/// A row as printed: the row, whether its client count is a lower bound.
pub struct Shown {
    /// The row's aggregates.
    pub row: ServerRow,
    /// Some client address was not remembered: `row.clients` is a lower bound, printed `N+`.
    pub clients_capped: bool,
}

impl ServerTable {
    /// An empty table of at most `cap` rows (at least one, whatever `cap` says).
    pub fn new(cap: usize) -> ServerTable {
        ServerTable {
            cap: cap.max(1),
            rows: BTreeMap::new(),
            by_interest: BTreeSet::new(),
            clients_total: 0,
            flows_outside: 0,
            incomplete: false,
        }
    }

    /// Rows in the table now.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row is in the table (no flow was added, as a row is never removed
    /// without another taking its place).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Flows of servers not in the table (pushed out, or never kept).
    pub fn flows_outside(&self) -> u64 {
        self.flows_outside
    }

    /// True once some server has been left out of the table or pushed out of it.
    pub fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// Client addresses remembered beyond each row's first.
    pub fn clients_remembered(&self) -> usize {
        self.clients_total
    }

    /// Counts the flow `rec` into its server's row (`key`, from [`ServerKey::new`] of its
    /// server and transport), making a row, or pushing out a less interesting one, if needed.
    pub fn add(&mut self, key: ServerKey, rec: &FlowRecord) {
        if let Some(agg) = self.rows.get_mut(&key) {
            self.by_interest.remove(&agg.interest(key));
            update(agg, rec, &mut self.clients_total);
            self.by_interest.insert(agg.interest(key));
            return;
        }
        let agg = Agg {
            row: ServerRow {
                server: rec.server,
                transport: rec.transport,
                tunnel: tunnel_kinds(rec.tunnel.as_deref()),
                verdict: rec.verdict,
                confidence: rec.confidence,
                flows: 1,
                clients: 1,
                packets: rec.packets_to_server + rec.packets_to_client,
                bytes: rec.bytes_to_server + rec.bytes_to_client,
                first_seen: rec.first_seen,
                last_seen: rec.last_seen,
                evidence: rec.evidence.clone(),
                hint: rec.hint,
                anomalies: rec.anomalies,
                ndb_flows: u64::from(rec.ndb.is_some()),
                peers: peers_of(rec),
                risks: risks_of(rec),
            },
            clients: BTreeSet::new(),
            first_client: rec.client.ip(),
            clients_capped: false,
        };
        if self.rows.len() >= self.cap {
            let least = self.by_interest.first().copied();
            match least {
                Some(least) if least < agg.interest(key) => {
                    self.by_interest.remove(&least);
                    if let Some(gone) = self.rows.remove(&least.3) {
                        self.clients_total -= gone.clients.len();
                        self.flows_outside += gone.row.flows;
                    }
                    self.incomplete = true;
                }
                _ => {
                    self.flows_outside += 1;
                    self.incomplete = true;
                    return;
                }
            }
        }
        self.by_interest.insert(agg.interest(key));
        self.rows.insert(key, agg);
    }

    /// The rows, most interesting first: `ndb-mgm`, then by flows, then by address.
    pub fn rows(&self) -> Vec<Shown> {
        let mut rows: Vec<Shown> = self
            .rows
            .values()
            .map(|a| Shown {
                row: a.row.clone(),
                clients_capped: a.clients_capped,
            })
            .collect();
        rows.sort_by(|a, b| {
            let k = |s: &Shown| {
                (
                    std::cmp::Reverse(s.row.verdict == Verdict::NdbMgm),
                    std::cmp::Reverse(s.row.flows),
                    ServerKey::new(s.row.server, s.row.transport),
                )
            };
            k(a).cmp(&k(b))
        });
        rows
    }
}

fn peers_of(rec: &FlowRecord) -> super::ndb::Peers {
    let mut p = super::ndb::Peers::default();
    if let Some(s) = &rec.ndb {
        p.insert(s.peer);
    }
    p
}

fn risks_of(rec: &FlowRecord) -> super::ndb::Risks {
    rec.ndb.as_ref().map(|s| s.risks).unwrap_or_default()
}

fn update(agg: &mut Agg, rec: &FlowRecord, clients_total: &mut usize) {
    let row = &mut agg.row;
    row.flows += 1;
    row.packets += rec.packets_to_server + rec.packets_to_client;
    row.bytes += rec.bytes_to_server + rec.bytes_to_client;
    row.first_seen = row.first_seen.min(rec.first_seen);
    row.last_seen = row.last_seen.max(rec.last_seen);
    row.anomalies = row.anomalies.union(rec.anomalies);
    row.ndb_flows += u64::from(rec.ndb.is_some());
    row.peers = row.peers.union(peers_of(rec));
    row.risks = row.risks.union(risks_of(rec));
    if row.tunnel.is_none() {
        row.tunnel = tunnel_kinds(rec.tunnel.as_deref());
    }
    let better = (rec.verdict, rec.confidence, !rec.evidence.is_empty())
        > (row.verdict, row.confidence, !row.evidence.is_empty());
    if better {
        row.verdict = rec.verdict;
        row.confidence = rec.confidence;
        row.evidence = rec.evidence.clone();
        row.hint = rec.hint;
    }
    let ip = rec.client.ip();
    if ip != agg.first_client && !agg.clients.contains(&ip) {
        if agg.clients.len() + 1 < MAX_CLIENTS_PER_SERVER && *clients_total < MAX_CLIENTS_TOTAL {
            agg.clients.insert(ip);
            *clients_total += 1;
        } else {
            agg.clients_capped = true;
        }
    }
    row.clients = agg.clients.len() as u64 + 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_server_costs() {
        // The text table's row (map entry and its place in the interest order), and what every
        // format pays per server while it is counted exactly. `cargo test --release -p
        // ndbsniff-core what_a_server_costs -- --nocapture` prints them (BENCHMARKS.md).
        let row = std::mem::size_of::<(ServerKey, Agg)>() + std::mem::size_of::<Interest>();
        let counted = std::mem::size_of::<ServerKey>();
        eprintln!(
            "server row: {row} bytes, its evidence and tunnel text, and {} bytes a client beyond \
             the first; counted server: {counted} bytes; sketch: {} bytes",
            std::mem::size_of::<IpAddr>(),
            Hll::M
        );
        assert!(row <= 320, "a server row grew to {row} bytes");
        assert!(counted <= 32);
    }

    fn rec(server: SocketAddr, client: SocketAddr, verdict: Verdict, t: i64) -> FlowRecord {
        FlowRecord::for_tests(server, client, verdict, t)
    }

    fn server(i: u32) -> SocketAddr {
        SocketAddr::new(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), 3406)
    }

    fn client(i: u32) -> SocketAddr {
        SocketAddr::new(IpAddr::from((0xc612_0000 + i).to_be_bytes()), 40_000)
    }

    fn add(t: &mut ServerTable, r: &FlowRecord) {
        t.add(ServerKey::new(r.server, r.transport), r);
    }

    #[test]
    fn a_full_table_keeps_ndb_then_the_busiest_servers() {
        let mut t = ServerTable::new(4);
        let mut time = 0;
        let mut next = |s: u32, v: Verdict| {
            time += 1;
            rec(server(s), client(s), v, time)
        };
        // Server 1 speaks NDB early, server 2 is busy, then a scan of 1,000 servers.
        add(&mut t, &next(1, Verdict::NdbMgm));
        for _ in 0..3 {
            add(&mut t, &next(2, Verdict::Unknown));
        }
        for s in 100..1_100 {
            add(&mut t, &next(s, Verdict::Unknown));
        }
        assert_eq!(t.len(), 4);
        assert!(!ServerTable::new(4).incomplete());
        let rows = t.rows();
        assert_eq!(rows[0].row.server, server(1));
        assert_eq!(rows[0].row.verdict, Verdict::NdbMgm);
        assert_eq!(rows[1].row.server, server(2));
        assert_eq!(rows[1].row.flows, 3);
        // The last two scanned servers hold the other rows; 998 were pushed out.
        assert_eq!(rows[2].row.server, server(1_098));
        assert_eq!(rows[3].row.server, server(1_099));
        assert!(t.incomplete());
        assert_eq!(t.flows_outside(), 998);
        // A server that turns out to speak NDB outranks everything but NDB servers.
        add(&mut t, &next(1_098, Verdict::NdbMgm));
        let rows = t.rows();
        assert_eq!(
            rows.iter().map(|r| r.row.server).collect::<Vec<_>>(),
            [server(1_098), server(1), server(2), server(1_099)]
        );
        assert_eq!(rows[0].row.flows, 2);
    }

    #[test]
    fn ndb_servers_are_never_pushed_out_by_others() {
        let mut t = ServerTable::new(2);
        add(&mut t, &rec(server(1), client(1), Verdict::NdbMgm, 1));
        add(&mut t, &rec(server(2), client(2), Verdict::NdbMgm, 2));
        for s in 3..50 {
            for _ in 0..5 {
                add(&mut t, &rec(server(s), client(s), Verdict::Unknown, 10));
            }
        }
        let rows = t.rows();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.row.verdict == Verdict::NdbMgm));
        assert_eq!(t.flows_outside(), 47 * 5);
        // A third NDB server pushes out the one with fewest flows, seen longest ago.
        add(&mut t, &rec(server(9), client(9), Verdict::NdbMgm, 20));
        let servers: BTreeSet<_> = t.rows().iter().map(|r| r.row.server).collect();
        assert_eq!(servers, [server(2), server(9)].into_iter().collect());
    }

    #[test]
    fn clients_are_bounded_per_server_and_in_total() {
        let mut t = ServerTable::new(16);
        // Eight servers, each flooded from 70,000 distinct clients: 560,000 in all.
        for s in 0..8 {
            for c in 0..70_000 {
                add(
                    &mut t,
                    &rec(server(s), client(c + s * 100_000), Verdict::Unknown, 1),
                );
            }
        }
        assert_eq!(t.clients_remembered(), MAX_CLIENTS_TOTAL);
        let rows = t.rows();
        assert_eq!(rows.len(), 8);
        assert!(rows
            .iter()
            .all(|r| r.clients_capped && r.row.flows == 70_000));
        let sum: u64 = rows.iter().map(|r| r.row.clients).sum();
        assert_eq!(sum, (MAX_CLIENTS_TOTAL + 8) as u64);
        assert!(rows
            .iter()
            .all(|r| r.row.clients <= MAX_CLIENTS_PER_SERVER as u64 && r.row.clients >= 1));
        // Pushing a row out gives its clients back to the budget.
        let mut small = ServerTable::new(1);
        for c in 0..10 {
            add(&mut small, &rec(server(1), client(c), Verdict::Unknown, 1));
        }
        assert_eq!(small.clients_remembered(), 9);
        add(&mut small, &rec(server(2), client(0), Verdict::NdbMgm, 2));
        assert_eq!(small.clients_remembered(), 0);
        let rows = small.rows();
        assert_eq!((rows[0].row.clients, rows[0].clients_capped), (1, false));
    }

    #[test]
    fn exact_count_then_an_estimate_within_its_error() {
        let mut c = ServerCount::default();
        for i in 0..EXACT_SERVERS as u32 {
            c.insert(ServerKey::new(server(i), Transport::Tcp));
            // The same server again, and over UDP: one more distinct server, not two.
            c.insert(ServerKey::new(server(i), Transport::Tcp));
        }
        assert_eq!(c.count(), (EXACT_SERVERS as u64, false));
        for n in [100_000u32, 1_000_000] {
            let mut c = ServerCount::default();
            for i in 0..n {
                c.insert(ServerKey::new(server(i), Transport::Tcp));
            }
            let (est, estimated) = c.count();
            assert!(estimated);
            let err = (est as f64 - f64::from(n)).abs() / f64::from(n);
            // Four standard errors (0.8% each): the hash key is fixed, so this is not flaky.
            assert!(err < 0.033, "{n} servers estimated as {est}");
        }
    }

    #[test]
    fn the_sketch_alone_is_close_at_every_scale() {
        for n in [10u32, 1_000, 20_000, 300_000] {
            let mut h = Hll::new();
            for i in 0..n {
                h.insert(&ServerKey::new(server(i), Transport::Udp).bytes());
                h.insert(&ServerKey::new(server(i), Transport::Udp).bytes());
            }
            let err = (h.estimate() as f64 - f64::from(n)).abs() / f64::from(n);
            assert!(err < 0.033, "{n}: {}", h.estimate());
        }
    }
}
