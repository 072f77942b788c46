//! Bulk synthetic traffic for benchmarks: many overlapping TCP and UDP flows written as one
//! classic pcap stream, with a chosen frame-size profile and a chosen share of flows on the
//! watched port 3406 (half of them NDB management conversations, the rest look-alikes).
//!
//! Owns: the flow mix (addresses, ports, VLAN tags, IP versions, which conversation each flow
//! carries), flow arrival times, the payload of ordinary flows, and the steering that keeps the
//! packet count, the mean frame size and the share of full-size frames near their targets.
//! Long connections are scheduled one request/response exchange at a time by the ordinary
//! scheduler (sequence numbers carried over between exchanges) and merged by
//! [`StreamMerge`], so memory follows the number of open flows, never the length of the
//! capture.
//!
//! Must never read the clock or any entropy source (the same [`TrafficSpec`] always gives
//! the same bytes), never hold a whole capture in memory (except in [`MemoryCapture`], on
//! request), and never panic on its own data.

use std::io::{self, Write};

use super::emit::{StreamMerge, SynthError};
use super::frame::{Encap, Link, VlanTag, TPID_8021AD, TPID_8021Q};
use super::rng::SplitMix64;
use super::sched::{schedule, CaptureStart, FlowPackets, TcpPlan};
use super::script::{Close, Message, Proto, Script};
use super::testdata::BASE_TS_NS;
use super::writer::{CaptureFormat, FrameSink, PcapWriter};
use super::{lookalike, ndb, FlowAddr, PlacedFlow, Side};

/// Frame length of a full-size Ethernet frame (1500-byte IP packet, no VLAN tag).
pub const FULL_FRAME: usize = 1514;

/// Frame-size profile of the generated traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Small frames, about 80 bytes on average: chatty request/response traffic and ACKs.
    Small,
    /// About 500 bytes on average, about a fifth of the frames at full MTU (bulk responses).
    Mixed,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 2] = [Profile::Small, Profile::Mixed];

    /// Name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Small => "small",
            Profile::Mixed => "mixed",
        }
    }

    /// Inverse of [`Profile::name`].
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Mean frame length aimed at, in bytes.
    pub fn mean_frame(self) -> f64 {
        match self {
            Profile::Small => 80.0,
            Profile::Mixed => 500.0,
        }
    }

    /// Share of frames of at least [`FULL_FRAME`] bytes aimed at.
    pub fn full_share(self) -> f64 {
        match self {
            Profile::Small => 0.0,
            Profile::Mixed => 0.2,
        }
    }
}

/// What to generate. [`TrafficSpec::new`] fills in the usual shares and rates.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficSpec {
    /// Frame-size profile.
    pub profile: Profile,
    /// Packets aimed at (the count written is close to it, and reported).
    pub packets: u64,
    /// Flows written (exact).
    pub flows: u64,
    /// Share of flows whose server listens on port 3406.
    pub share_3406: f64,
    /// Share of the port-3406 flows that speak the NDB management protocol; the others carry
    /// look-alike conversations (HTTP, TLS, SSH, Redis, random binary, …).
    pub share_ndb: f64,
    /// Share of flows over IPv6.
    pub share_ipv6: f64,
    /// Share of flows with one 802.1Q tag.
    pub share_vlan: f64,
    /// Share of flows with two tags (802.1ad outer, 802.1Q inner).
    pub share_qinq: f64,
    /// Share of the other (not port-3406) flows that are DNS-style UDP exchanges.
    pub share_udp: f64,
    /// New flows per second of capture time (arrivals are a Poisson process).
    pub flow_rate: f64,
    /// Mean idle time between two exchanges of one connection, in milliseconds.
    pub think_ms: f64,
    /// All flows open at once: when set, every flow starts within the first second (evenly
    /// spaced) and each connection's exchanges are spaced evenly over this many seconds, so the
    /// connections are all open for most of the capture (`flow_rate` and `think_ms` are then
    /// not used). Conversations scheduled whole (NDB, look-alikes, DNS) stay short.
    pub all_concurrent_s: Option<f64>,
    /// Seed of every random choice.
    pub seed: u64,
}

impl TrafficSpec {
    /// A spec with the default shares: 10 % of flows on port 3406 (half of them NDB), 10 %
    /// IPv6, 3 % 802.1Q and 1 % QinQ tagged, 5 % UDP; 4,000 new flows per second and 800 ms
    /// between exchanges, which keeps some 10–20 thousand flows open at once.
    pub fn new(profile: Profile, packets: u64, flows: u64) -> Self {
        TrafficSpec {
            profile,
            packets,
            flows,
            share_3406: 0.1,
            share_ndb: 0.5,
            share_ipv6: 0.1,
            share_vlan: 0.03,
            share_qinq: 0.01,
            share_udp: 0.05,
            flow_rate: 4_000.0,
            think_ms: 800.0,
            all_concurrent_s: None,
            seed: 1,
        }
    }

    /// Checks that the numbers make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.packets == 0 || self.flows == 0 {
            return Err("packets and flows must be at least 1".into());
        }
        if self.flows > self.packets {
            return Err(format!(
                "{} flows cannot fit in {} packets",
                self.flows, self.packets
            ));
        }
        let shares = [
            ("share-3406", self.share_3406),
            ("share-ndb", self.share_ndb),
            ("share-ipv6", self.share_ipv6),
            ("share-vlan", self.share_vlan),
            ("share-qinq", self.share_qinq),
            ("share-udp", self.share_udp),
        ];
        for (name, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, not {v}"));
            }
        }
        if self.share_vlan + self.share_qinq > 1.0 {
            return Err("share-vlan + share-qinq must not exceed 1".into());
        }
        if !(self.flow_rate.is_finite() && self.flow_rate > 0.0) {
            return Err("the flow rate must be a positive number".into());
        }
        if !(self.think_ms.is_finite() && self.think_ms >= 0.0) {
            return Err("the think time must be zero or more".into());
        }
        if let Some(s) = self.all_concurrent_s {
            if !(s.is_finite() && s > 0.0 && s <= 86_400.0) {
                return Err(
                    "the all-concurrent span must be a positive number of seconds, at most a day"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

/// What was generated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrafficStats {
    /// Frames written.
    pub packets: u64,
    /// Flows written.
    pub flows: u64,
    /// Frame bytes written (record headers not counted).
    pub bytes: u64,
    /// Most flows open at once.
    pub concurrent_max: u64,
    /// TCP flows.
    pub tcp_flows: u64,
    /// UDP flows.
    pub udp_flows: u64,
    /// IPv6 flows.
    pub ipv6_flows: u64,
    /// Flows with one 802.1Q tag.
    pub vlan_flows: u64,
    /// Flows with two tags.
    pub qinq_flows: u64,
    /// Flows whose server port is 3406.
    pub port3406_flows: u64,
    /// Of those, flows carrying an NDB management conversation.
    pub ndb_flows: u64,
    /// Frames of at least [`FULL_FRAME`] bytes.
    pub full_frames: u64,
    /// Timestamp of the first frame (ns since the epoch).
    pub first_ts_ns: u64,
    /// Timestamp of the last frame.
    pub last_ts_ns: u64,
}

impl TrafficStats {
    /// Mean frame length in bytes.
    pub fn mean_frame(&self) -> f64 {
        if self.packets == 0 {
            0.0
        } else {
            self.bytes as f64 / self.packets as f64
        }
    }

    /// Capture time covered, in seconds.
    pub fn duration_s(&self) -> f64 {
        self.last_ts_ns.saturating_sub(self.first_ts_ns) as f64 / 1e9
    }
}

impl std::fmt::Display for TrafficStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "packets={} flows={} bytes={} concurrent_max={} mean_frame={:.1} full_frames={} \
             duration_s={:.1} tcp_flows={} udp_flows={} ipv6_flows={} vlan_flows={} \
             qinq_flows={} port3406_flows={} ndb_flows={}",
            self.packets,
            self.flows,
            self.bytes,
            self.concurrent_max,
            self.mean_frame(),
            self.full_frames,
            self.duration_s(),
            self.tcp_flows,
            self.udp_flows,
            self.ipv6_flows,
            self.vlan_flows,
            self.qinq_flows,
            self.port3406_flows,
            self.ndb_flows
        )
    }
}

/// Frames kept in memory in one buffer (for benchmarks and tests).
#[derive(Clone, Debug, Default)]
pub struct MemoryCapture {
    data: Vec<u8>,
    /// (timestamp ns, start in `data`, length).
    index: Vec<(u64, usize, usize)>,
}

impl MemoryCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no frame was written.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Total frame bytes.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The frames with their timestamps (ns since the epoch), in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.index.iter().map(|&(ts, start, len)| {
            let end = start.saturating_add(len);
            (ts, self.data.get(start..end).unwrap_or(&[]))
        })
    }
}

impl FrameSink for MemoryCapture {
    fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        self.index.push((ts_ns, self.data.len(), frame.len()));
        self.data.extend_from_slice(frame);
        Ok(())
    }
}

/// Writes the traffic of `spec` as a little-endian, microsecond, Ethernet pcap into `out`
/// (flushed) and returns the statistics with the writer.
pub fn write_pcap<W: Write>(spec: &TrafficSpec, out: W) -> Result<(TrafficStats, W), SynthError> {
    let mut w = PcapWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let stats = generate(spec, &mut w)?;
    let mut out = w.into_inner();
    out.flush()?;
    Ok((stats, out))
}

/// Generates the traffic of `spec` into memory.
pub fn generate_in_memory(spec: &TrafficSpec) -> Result<(MemoryCapture, TrafficStats), SynthError> {
    let mut cap = MemoryCapture::new();
    let stats = generate(spec, &mut cap)?;
    Ok((cap, stats))
}

/// Generates the traffic of `spec` into `sink` (Ethernet frames, timestamps in order). A spec
/// that [`TrafficSpec::validate`] refuses is an `InvalidInput` I/O error.
pub fn generate<S: FrameSink>(
    spec: &TrafficSpec,
    sink: &mut S,
) -> Result<TrafficStats, SynthError> {
    spec.validate()
        .map_err(|e| SynthError::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let mut g = Gen::new(spec);
    let mut merge: StreamMerge<FlowState> = StreamMerge::new();
    let mut next_arrival = BASE_TS_NS;
    let mut st = TrafficStats::default();
    loop {
        let arrive = g.created < spec.flows && merge.next_ts_ns().is_none_or(|t| next_arrival <= t);
        if arrive {
            let (flow, encap, state) = g.new_flow(next_arrival, &mut st)?;
            merge.add(flow, encap, state);
            st.concurrent_max = st.concurrent_max.max(merge.len() as u64);
            next_arrival = next_arrival.saturating_add(g.interarrival_ns());
            continue;
        }
        let Some(w) = merge.write_next(sink, |state, ts| g.next_piece(state, ts))? else {
            break;
        };
        if st.packets == 0 {
            st.first_ts_ns = w.ts_ns;
        }
        st.last_ts_ns = w.ts_ns;
        st.packets += 1;
        st.bytes += w.frame_len as u64;
        st.full_frames += u64::from(w.frame_len >= FULL_FRAME);
    }
    st.flows = g.created;
    Ok(st)
}

/// Kind of payload an ordinary flow carries, chosen by its server port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    Tls,
    Http,
    Redis,
    Memcached,
    Postgres,
    Ssh,
}

impl Content {
    /// Shortest write that still looks like the protocol (a record or packet header).
    fn min_len(self) -> usize {
        match self {
            Content::Tls | Content::Postgres => 6,
            Content::Ssh => 16,
            Content::Http | Content::Redis | Content::Memcached => 1,
        }
    }
}

/// An ordinary service: port, payload kind, relative weight.
struct Service {
    port: u16,
    content: Content,
    weight: u64,
}

const SERVICES: [Service; 8] = [
    Service {
        port: 443,
        content: Content::Tls,
        weight: 40,
    },
    Service {
        port: 80,
        content: Content::Http,
        weight: 12,
    },
    Service {
        port: 8080,
        content: Content::Http,
        weight: 6,
    },
    Service {
        port: 9200,
        content: Content::Http,
        weight: 6,
    },
    Service {
        port: 6379,
        content: Content::Redis,
        weight: 10,
    },
    Service {
        port: 5432,
        content: Content::Postgres,
        weight: 10,
    },
    Service {
        port: 11211,
        content: Content::Memcached,
        weight: 8,
    },
    Service {
        port: 22,
        content: Content::Ssh,
        weight: 8,
    },
];

/// Hosts per service, per NDB server group and per look-alike server group.
const HOSTS_PER_SERVICE: u64 = 8;
/// Distinct client hosts.
const CLIENTS: u32 = 60_000;
/// Ephemeral ports used per client (32768..=60999).
const EPHEMERAL: u32 = 28_232;
/// Fewest packets a connection is given (handshake, one exchange, close).
const MIN_CONNECTION: f64 = 8.0;

/// Per-flow state kept in the merge.
enum FlowState {
    /// Scheduled in one piece (conversation library, DNS).
    Whole,
    /// An ordinary connection, scheduled one exchange at a time.
    Conn(Conn),
}

/// An ordinary TCP connection in progress.
struct Conn {
    content: Content,
    /// Largest segment payload (full-size frames).
    mss: usize,
    /// Link + IP header length of its frames.
    l3_hdr: usize,
    rng: SplitMix64,
    isn: [u32; 2],
    /// Stream bytes sent so far (client, server).
    sent: [u32; 2],
    /// Packets scheduled so far.
    packets: u64,
    /// Packets it is meant to have.
    budget: u64,
    /// Packets it was expected to end with (budget plus the usual overshoot), as committed.
    expected: i64,
    close: Close,
    closed: bool,
    /// All-concurrent traffic: when its last exchange is due (its exchanges are paced to it).
    end_ns: Option<u64>,
}

/// Generator state shared by all flows: catalogue, address counters, steering totals.
struct Gen<'a> {
    spec: &'a TrafficSpec,
    rng: SplitMix64,
    ndb: Vec<Script>,
    lookalike: Vec<Script>,
    dns: Script,
    /// Next ephemeral port index of each client host.
    client_ports: Vec<u16>,
    created: u64,
    /// Packets expected from the flows created so far (budgets, corrected once known).
    committed: i64,
    /// Totals over every packet scheduled so far.
    sched_packets: u64,
    sched_bytes: u64,
    sched_full: u64,
    /// Flows scheduled whole, and their packets (their mean size informs the budgets).
    whole_flows: u64,
    whole_packets: u64,
    /// Exchanges of connections scheduled, and their packets (handshake and close excluded).
    exchanges: u64,
    exchange_packets: u64,
    /// Connections finished, and the sum of (packets − budget) over them.
    conns_done: u64,
    overshoot: i64,
}

/// A uniform number in `[0, 1)`.
fn unit(r: &mut SplitMix64) -> f64 {
    (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn chance(r: &mut SplitMix64, p: f64) -> bool {
    unit(r) < p
}

/// An exponentially distributed number with mean 1, kept within `[lo, hi]`.
fn exponential(r: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    (-(1.0 - unit(r)).ln()).clamp(lo, hi)
}

/// A length around `mean` (uniform in half to one and a half times it), at least `lo`.
fn around(r: &mut SplitMix64, mean: f64, lo: usize) -> usize {
    let m = mean.max(1.0);
    let v = m * (0.5 + unit(r));
    (v as usize).max(lo)
}

impl<'a> Gen<'a> {
    fn new(spec: &'a TrafficSpec) -> Self {
        let tcp_ndb = ndb::CONVERSATIONS.iter().map(|c| (c.build)()).collect();
        let lookalike = lookalike::CONVERSATIONS
            .iter()
            .map(|c| (c.build)())
            .collect();
        Gen {
            spec,
            rng: SplitMix64::new(spec.seed ^ 0x7a11_c0de),
            ndb: tcp_ndb,
            lookalike,
            dns: lookalike::dns_udp(),
            client_ports: vec![0; CLIENTS as usize],
            created: 0,
            committed: 0,
            sched_packets: 0,
            sched_bytes: 0,
            sched_full: 0,
            whole_flows: 0,
            whole_packets: 0,
            exchanges: 0,
            exchange_packets: 0,
            conns_done: 0,
            overshoot: 0,
        }
    }

    fn interarrival_ns(&mut self) -> u64 {
        if self.spec.all_concurrent_s.is_some() {
            // Every flow within the first second, evenly.
            return 1_000_000_000 / self.spec.flows.max(1);
        }
        let mean = 1e9 / self.spec.flow_rate;
        (mean * exponential(&mut self.rng, 0.0, 20.0)) as u64
    }

    fn think_ns(&self, r: &mut SplitMix64) -> u64 {
        let mean = self.spec.think_ms * 1e6;
        (mean * exponential(r, 0.002, 10.0)) as u64
    }

    /// Adds one scheduled frame to the steering totals.
    fn account(&mut self, frame_len: usize) {
        self.sched_packets += 1;
        self.sched_bytes += frame_len as u64;
        self.sched_full += u64::from(frame_len >= FULL_FRAME);
    }

    /// Accounts every packet of `packets`, framed with `l3_hdr` bytes below the transport.
    fn account_all(&mut self, packets: &FlowPackets, l3_hdr: usize) {
        match packets {
            FlowPackets::Tcp(t) => {
                for p in &t.packets {
                    let tcp = if p.syn_mss != 0 { 32 } else { 20 };
                    self.account(l3_hdr + tcp + p.data_len as usize);
                }
            }
            FlowPackets::Udp(u) => {
                for p in &u.packets {
                    self.account(l3_hdr + 8 + p.data_len as usize);
                }
            }
        }
    }

    /// Mean payload of the next ordinary message, steered towards the profile's mean frame.
    fn payload_mean(&self) -> f64 {
        let (base, lo, hi, window) = match self.spec.profile {
            Profile::Small => (40.0, 4.0, 400.0, 300.0),
            Profile::Mixed => (350.0, 20.0, 1400.0, 300.0),
        };
        let deficit =
            self.spec.profile.mean_frame() * self.sched_packets as f64 - self.sched_bytes as f64;
        (base + deficit / window).clamp(lo, hi)
    }

    /// Probability that the next exchange is a bulk transfer, steered towards the profile's
    /// share of full-size frames.
    fn bulk_chance(&self) -> f64 {
        let target = self.spec.profile.full_share();
        if target <= 0.0 {
            return 0.0;
        }
        let deficit = target * self.sched_packets as f64 - self.sched_full as f64;
        (0.25 + deficit / 200.0).clamp(0.0, 0.9)
    }

    /// Packets an exchange usually takes.
    fn exchange_estimate(&self) -> f64 {
        if self.exchanges < 16 {
            return match self.spec.profile {
                Profile::Small => 3.3,
                Profile::Mixed => 7.0,
            };
        }
        self.exchange_packets as f64 / self.exchanges as f64
    }

    /// How many packets more than its budget a connection usually ends with.
    fn usual_overshoot(&self) -> f64 {
        if self.conns_done < 16 {
            0.0
        } else {
            self.overshoot as f64 / self.conns_done as f64
        }
    }

    /// Packets the next ordinary connection should have.
    fn connection_budget(&mut self, r: &mut SplitMix64) -> u64 {
        let s = self.spec;
        let flows_left = (s.flows - self.created + 1) as f64;
        let packets_left = s.packets as f64 - self.committed as f64;
        let whole_share = s.share_3406 + (1.0 - s.share_3406) * s.share_udp;
        let whole_mean = if self.whole_flows == 0 {
            6.0
        } else {
            self.whole_packets as f64 / self.whole_flows as f64
        };
        let conns_left = (flows_left * (1.0 - whole_share)).max(1.0);
        let mean = (packets_left - flows_left * whole_share * whole_mean) / conns_left
            - self.usual_overshoot();
        // All-concurrent traffic: every connection the mean size, so that each is long enough
        // to span the capture.
        let spread = if self.spec.all_concurrent_s.is_some() {
            1.0
        } else {
            exponential(r, 0.1, 8.0)
        };
        let budget = mean.max(MIN_CONNECTION) * spread;
        budget.max(MIN_CONNECTION) as u64
    }

    /// A client host and an ephemeral port not used by that host before (until 28,232 of its
    /// connections have gone by).
    fn client(&mut self) -> (u32, u16) {
        let c = self.rng.range(1, u64::from(CLIENTS) - 1) as u32;
        let slot = self.client_ports.get_mut(c as usize);
        let n = slot.map_or(0, |s| {
            let n = *s;
            *s = s.wrapping_add(1);
            n
        });
        let port = 32_768 + (c.wrapping_mul(7_919).wrapping_add(u32::from(n)) % EPHEMERAL);
        (c, port as u16)
    }

    fn new_flow(
        &mut self,
        start_ns: u64,
        st: &mut TrafficStats,
    ) -> Result<(PlacedFlow, Encap, FlowState), SynthError> {
        self.created += 1;
        let mut r = self.rng.fork(self.created);
        let spec = self.spec;
        let v6 = chance(&mut r, spec.share_ipv6);
        let tag_draw = unit(&mut r);
        let tags = if tag_draw < spec.share_vlan {
            st.vlan_flows += 1;
            vec![VlanTag {
                tpid: TPID_8021Q,
                vid: 100 + r.range(0, 19) as u16,
                pcp: 0,
            }]
        } else if tag_draw < spec.share_vlan + spec.share_qinq {
            st.qinq_flows += 1;
            vec![
                VlanTag {
                    tpid: TPID_8021AD,
                    vid: 1000 + r.range(0, 9) as u16,
                    pcp: 0,
                },
                VlanTag {
                    tpid: TPID_8021Q,
                    vid: 100 + r.range(0, 19) as u16,
                    pcp: 0,
                },
            ]
        } else {
            Vec::new()
        };
        let (client, client_port) = self.client();
        let on_3406 = chance(&mut r, spec.share_3406);
        let is_ndb = on_3406 && chance(&mut r, spec.share_ndb);
        let udp = !on_3406 && chance(&mut r, spec.share_udp);
        // Server: (group, host within the group, port).
        let (group, port, service) = if on_3406 {
            (if is_ndb { 100 } else { 101 }, 3406, None)
        } else if udp {
            (102, 53, None)
        } else {
            let total: u64 = SERVICES.iter().map(|s| s.weight).sum();
            let mut pick = r.range(0, total - 1);
            let mut chosen = 0;
            for (i, s) in SERVICES.iter().enumerate() {
                if pick < s.weight {
                    chosen = i;
                    break;
                }
                pick -= s.weight;
            }
            let port = SERVICES.get(chosen).map_or(443, |s| s.port);
            (chosen as u8, port, Some(chosen))
        };
        let host = r.range(0, HOSTS_PER_SERVICE - 1) as u8;
        let addr = flow_address(v6, client, client_port, group, host, port);
        let mut encap = Encap::new(Link::Ethernet).with_vlans(&tags)?;
        let c = client.to_be_bytes();
        encap.client_mac = [0x02, 0x00, 0x0a, c[1], c[2], c[3]];
        encap.server_mac = [0x02, 0x00, 0xcb, 0x00, group, host];
        let l3_hdr = encap.header_len() + if v6 { 40 } else { 20 };
        let mss = FULL_FRAME - 14 - if v6 { 60 } else { 40 };
        st.ipv6_flows += u64::from(v6);
        st.port3406_flows += u64::from(on_3406);
        st.ndb_flows += u64::from(is_ndb);
        let ip_id_seed = r.next_u32() as u16;

        let Some(service) = service else {
            // Scheduled whole: a catalogue conversation or a DNS exchange.
            let plan = TcpPlan {
                max_segment: mss,
                seed: r.next_u64(),
                ..TcpPlan::default()
            };
            let dns;
            let script = if is_ndb {
                let i = r.range(0, self.ndb.len().saturating_sub(1) as u64) as usize;
                self.ndb.get(i)
            } else if on_3406 {
                let i = r.range(0, self.lookalike.len().saturating_sub(1) as u64) as usize;
                self.lookalike.get(i)
            } else {
                dns = dns_exchange(&self.dns, &mut r);
                Some(&dns)
            };
            let packets = match script {
                Some(s) => schedule(s, &plan),
                None => schedule(&self.dns, &plan),
            };
            match packets {
                FlowPackets::Tcp(_) => st.tcp_flows += 1,
                FlowPackets::Udp(_) => st.udp_flows += 1,
            }
            self.account_all(&packets, l3_hdr);
            let n = packets.len() as u64;
            self.whole_flows += 1;
            self.whole_packets += n;
            self.committed += n as i64;
            let flow = PlacedFlow {
                addr,
                start_ns,
                packets,
                ip_id_seed,
            };
            return Ok((flow, encap, FlowState::Whole));
        };

        st.tcp_flows += 1;
        let budget = self.connection_budget(&mut r);
        let expected = budget as i64 + self.usual_overshoot().round() as i64;
        self.committed += expected;
        let close_draw = unit(&mut r);
        let close = if close_draw < 0.7 {
            Close::Fin { by: Side::Client }
        } else if close_draw < 0.9 {
            Close::Fin { by: Side::Server }
        } else if close_draw < 0.95 {
            Close::Rst { by: Side::Client }
        } else {
            Close::Rst { by: Side::Server }
        };
        let content = SERVICES.get(service).map_or(Content::Tls, |s| s.content);
        let mut conn = Conn {
            content,
            mss,
            l3_hdr,
            isn: [r.next_u32(), r.next_u32()],
            rng: r,
            sent: [0, 0],
            packets: 0,
            budget,
            expected,
            close,
            closed: false,
            end_ns: self
                .spec
                .all_concurrent_s
                .map(|span| start_ns.saturating_add((span * 1e9) as u64)),
        };
        let packets = self.piece(&mut conn, true);
        let flow = PlacedFlow {
            addr,
            start_ns,
            packets,
            ip_id_seed,
        };
        Ok((flow, encap, FlowState::Conn(conn)))
    }

    /// The next part of a flow whose scheduled packets have all been written at `now_ns`.
    fn next_piece(&mut self, state: &mut FlowState, now_ns: u64) -> Option<(u64, FlowPackets)> {
        let FlowState::Conn(conn) = state else {
            return None;
        };
        if conn.closed {
            return None;
        }
        let wait = match conn.end_ns {
            // Paced: the time left to its end shared out over the exchanges its budget has left.
            Some(end) => {
                let left = conn.budget.saturating_sub(conn.packets) as f64;
                let exchanges = (left / self.exchange_estimate()).max(1.0);
                ((end.saturating_sub(now_ns)) as f64 / exchanges) as u64
            }
            None => self.think_ns(&mut conn.rng),
        };
        let start = now_ns.saturating_add(wait);
        Some((start, self.piece(conn, false)))
    }

    /// Schedules the next exchange of `conn` (with the handshake when `first`, with the close
    /// when its budget is nearly spent).
    fn piece(&mut self, conn: &mut Conn, first: bool) -> FlowPackets {
        let est = self.exchange_estimate();
        let close_cost = match conn.close {
            Close::Fin { .. } => 3.0,
            Close::Rst { .. } => 1.0,
            Close::None => 0.0,
        };
        let handshake = if first { 3.0 } else { 0.0 };
        let left = conn.budget as f64 - conn.packets as f64 - handshake - close_cost;
        let last = left < 1.5 * est;
        let script = self.exchange(conn);
        let plan = TcpPlan {
            max_segment: conn.mss,
            seed: conn.rng.next_u64(),
            isn: Some((
                conn.isn[0].wrapping_add(conn.sent[0]),
                conn.isn[1].wrapping_add(conn.sent[1]),
            )),
            start: if first {
                CaptureStart::Beginning
            } else {
                CaptureStart::AtMessage(0)
            },
            close: Some(if last { conn.close } else { Close::None }),
            ..TcpPlan::default()
        };
        let packets = schedule(&script, &plan);
        if let FlowPackets::Tcp(t) = &packets {
            conn.sent[0] = conn.sent[0].wrapping_add(t.client_stream.len() as u32);
            conn.sent[1] = conn.sent[1].wrapping_add(t.server_stream.len() as u32);
        }
        self.account_all(&packets, conn.l3_hdr);
        let n = packets.len() as u64;
        conn.packets += n;
        let overhead = handshake + if last { close_cost } else { 0.0 };
        self.exchanges += 1;
        self.exchange_packets += (n as f64 - overhead).max(1.0) as u64;
        if last {
            conn.closed = true;
            self.committed += conn.packets as i64 - conn.expected;
            self.conns_done += 1;
            self.overshoot += conn.packets as i64 - conn.budget as i64;
        }
        packets
    }

    /// One request/response exchange of an ordinary connection.
    fn exchange(&mut self, conn: &mut Conn) -> Script {
        let r = &mut conn.rng;
        let mean = self.payload_mean();
        let mss = conn.mss;
        let lo = conn.content.min_len();
        // (sender, length) of each write.
        let mut writes: [(Side, usize); 3] = [(Side::Client, 0); 3];
        let mut n = 0;
        let mut say = |from: Side, len: usize| {
            if let Some(w) = writes.get_mut(n) {
                *w = (from, len);
                n += 1;
            }
        };
        match self.spec.profile {
            Profile::Small => {
                let shape = unit(r);
                say(Side::Client, around(r, mean, lo));
                if shape < 0.12 {
                    // Pipelined second request.
                    say(Side::Client, around(r, mean, lo));
                }
                say(Side::Server, around(r, mean, lo));
                if (0.12..0.27).contains(&shape) {
                    // Reply in two writes.
                    say(Side::Server, around(r, mean, lo));
                }
            }
            Profile::Mixed => {
                if chance(r, self.bulk_chance()) {
                    let req = r.range(120, 520) as usize;
                    let full = r.range(2, 12) as usize;
                    let tail = r.range(0, mss as u64 - 1) as usize;
                    say(Side::Client, req);
                    say(Side::Server, full * mss + tail);
                } else {
                    say(Side::Client, around(r, 250.0, lo.max(16)));
                    say(Side::Server, around(r, mean, lo).min(mss));
                    if chance(r, 0.15) {
                        say(Side::Server, around(r, mean, lo).min(mss));
                    }
                }
            }
        }
        let messages = writes
            .get(..n)
            .unwrap_or(&[])
            .iter()
            .map(|&(from, len)| Message {
                from,
                bytes: payload(conn.content, from, len, r),
                delay_ms: 0,
            })
            .collect();
        Script {
            proto: Proto::Tcp,
            messages,
            close: Close::None,
        }
    }
}

/// Addresses of a flow: client host `client` (1..60,000) and a server picked by group
/// (service index, or 100 NDB, 101 look-alikes, 102 DNS) and host.
fn flow_address(
    v6: bool,
    client: u32,
    client_port: u16,
    group: u8,
    host: u8,
    port: u16,
) -> FlowAddr {
    let c = client.to_be_bytes();
    if v6 {
        let mut cl = [0u8; 16];
        cl[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0xc1]);
        cl[13..16].copy_from_slice(&c[1..4]);
        let mut sv = [0u8; 16];
        sv[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0x5e]);
        sv[14] = group;
        sv[15] = host.wrapping_add(1);
        FlowAddr::v6(cl, client_port, sv, port)
    } else {
        let cl = [
            10,
            20 + (client / 62_500) as u8,
            ((client / 250) % 250) as u8,
            1 + (client % 250) as u8,
        ];
        let sv = match group {
            100 => [198, 51, 100, 10 + host],
            101 => [198, 51, 100, 40 + host],
            102 => [198, 51, 100, 53 + host % 2],
            g => [
                203,
                0,
                113,
                10u8.wrapping_add(g.wrapping_mul(10)).wrapping_add(host),
            ],
        };
        FlowAddr::v4(cl, client_port, sv, port)
    }
}

/// The DNS-style look-alike with a fresh transaction id, sometimes asked twice.
fn dns_exchange(base: &Script, r: &mut SplitMix64) -> Script {
    let mut s = base.clone();
    let twice = chance(r, 0.3);
    let mut stamp = |s: &mut Script, from: usize| {
        let id = (r.next_u32() as u16).to_be_bytes();
        for m in s.messages.iter_mut().skip(from) {
            if let Some(head) = m.bytes.get_mut(..2) {
                head.copy_from_slice(&id);
            }
        }
    };
    stamp(&mut s, 0);
    if twice {
        let again: Vec<Message> = base.messages.clone();
        s.messages.extend(again);
        let from = base.messages.len();
        stamp(&mut s, from);
    }
    s
}

const TEXT: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// Appends `n` random letters and digits.
fn text_fill(out: &mut Vec<u8>, n: usize, r: &mut SplitMix64) {
    let start = out.len();
    out.resize(start + n, 0);
    if let Some(tail) = out.get_mut(start..) {
        r.fill(tail);
        for b in tail.iter_mut() {
            *b = TEXT[usize::from(*b & 63)];
        }
    }
}

/// Appends `head`, filler text and `tail` so that `out` ends up exactly `len` bytes long (the
/// head is cut, and the tail left out, when there is no room).
fn text_message(out: &mut Vec<u8>, head: &[u8], tail: &[u8], len: usize, r: &mut SplitMix64) {
    let fits = len.saturating_sub(out.len());
    out.extend_from_slice(head.get(..fits).unwrap_or(head));
    let room = len.saturating_sub(out.len());
    if room >= tail.len() {
        text_fill(out, room - tail.len(), r);
        out.extend_from_slice(tail);
    } else {
        text_fill(out, room, r);
    }
}

/// Largest TLS record body written (16 KiB of data and an AEAD tag).
const TLS_MAX_BODY: usize = 16_384 + 17;

/// `len` bytes of application payload of kind `content` sent by `from`.
fn payload(content: Content, from: Side, len: usize, r: &mut SplitMix64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let client = from == Side::Client;
    let (head, tail): (&[u8], &[u8]) = match content {
        Content::Tls => {
            // Application-data records with opaque contents; a last bit too short for a record
            // header stays opaque.
            let mut left = len;
            while left >= 6 {
                let mut body = (left - 5).min(TLS_MAX_BODY);
                if (1..6).contains(&(left - 5 - body)) {
                    body -= 6;
                }
                v.extend_from_slice(&[0x17, 3, 3]);
                v.extend_from_slice(&(body as u16).to_be_bytes());
                let start = v.len();
                v.resize(start + body, 0);
                if let Some(rest) = v.get_mut(start..) {
                    r.fill(rest);
                }
                left -= 5 + body;
            }
            let start = v.len();
            v.resize(len, 0);
            if let Some(rest) = v.get_mut(start..) {
                r.fill(rest);
            }
            return v;
        }
        Content::Http if client => (
            b"GET /api/v1/items/",
            b" HTTP/1.1\r\nHost: svc.example.net\r\nAccept: */*\r\n\r\n",
        ),
        Content::Http => (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"data\":\"",
            b"\"}",
        ),
        Content::Redis if client => (b"GET session:", b"\r\n"),
        Content::Redis => (b"+", b"\r\n"),
        Content::Memcached if client => (b"get item:", b"\r\n"),
        Content::Memcached => {
            // `VALUE <key> <flags> <bytes>`, the data, `END`.
            let fixed = "VALUE item 0 \r\n\r\nEND\r\n".len();
            for digits in 1..=6 {
                let Some(n) = len.checked_sub(fixed + digits) else {
                    break;
                };
                if n.to_string().len() == digits {
                    let head = format!("VALUE item 0 {n}\r\n");
                    text_message(&mut v, head.as_bytes(), b"\r\nEND\r\n", len, r);
                    return v;
                }
            }
            (b"END\r\n", b"")
        }
        Content::Postgres => {
            // A simple query from the client, CopyData rows from the server.
            if len >= 6 {
                v.push(if client { b'Q' } else { b'd' });
                v.extend_from_slice(&((len - 1) as u32).to_be_bytes());
                if client {
                    text_message(&mut v, b"SELECT * FROM items WHERE key = ", b"", len - 1, r);
                    v.push(0);
                    return v;
                }
            }
            (b"", b"")
        }
        Content::Ssh => {
            if len >= 8 {
                v.extend_from_slice(&((len - 4) as u32).to_be_bytes());
            }
            (b"", b"")
        }
    };
    if !head.is_empty() || !tail.is_empty() {
        text_message(&mut v, head, tail, len, r);
        return v;
    }
    let start = v.len();
    v.resize(len, 0);
    if let Some(rest) = v.get_mut(start..) {
        r.fill(rest);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::decode::{decode, tcp_flags, LinkKind, Transport};
    use std::collections::HashMap;
    use std::net::IpAddr;

    fn spec(profile: Profile, packets: u64, flows: u64) -> TrafficSpec {
        TrafficSpec {
            // A slow arrival rate so that flows both overlap and come and go during the run.
            flow_rate: 400.0,
            think_ms: 200.0,
            ..TrafficSpec::new(profile, packets, flows)
        }
    }

    #[test]
    fn same_seed_gives_the_same_bytes() {
        let s = spec(Profile::Small, 4_000, 200);
        let (a, sa) = generate_in_memory(&s).unwrap();
        let (b, sb) = generate_in_memory(&s).unwrap();
        assert_eq!(sa, sb);
        assert!(a.iter().eq(b.iter()));
        let mut pa = Vec::new();
        let mut pb = Vec::new();
        write_pcap(&s, &mut pa).unwrap();
        write_pcap(&s, &mut pb).unwrap();
        assert_eq!(pa, pb);
        assert_eq!(pa.len() as u64, 24 + 16 * sa.packets + sa.bytes);
        let other = TrafficSpec { seed: 2, ..s };
        let (c, _) = generate_in_memory(&other).unwrap();
        assert!(!a.iter().eq(c.iter()));
    }

    #[test]
    fn counts_and_mean_frame_sizes_follow_the_profile() {
        for (profile, packets, flows) in [
            (Profile::Small, 60_000, 2_500),
            (Profile::Mixed, 40_000, 1_100),
        ] {
            let s = spec(profile, packets, flows);
            let (cap, st) = generate_in_memory(&s).unwrap();
            assert_eq!(st.flows, flows);
            assert_eq!(st.packets, cap.len() as u64);
            assert_eq!(st.bytes, cap.bytes() as u64);
            let err = (st.packets as f64 - packets as f64).abs() / packets as f64;
            assert!(err < 0.05, "{profile:?}: {st}");
            let target = profile.mean_frame();
            assert!(
                (st.mean_frame() - target).abs() < 0.15 * target,
                "{profile:?}: {st}"
            );
            if profile == Profile::Mixed {
                let full = st.full_frames as f64 / st.packets as f64;
                assert!((0.15..0.25).contains(&full), "{st}");
            }
            assert!(st.concurrent_max > 20, "{st}");
            // Timestamps never go back.
            assert!(cap.iter().zip(cap.iter().skip(1)).all(|(a, b)| a.0 <= b.0));
        }
    }

    /// Per-flow view of a decoded capture.
    #[derive(Default)]
    struct Seen {
        packets: u64,
        tcp: bool,
        v6: bool,
        outer_vlan: Option<u16>,
        server_port: u16,
        first_flags: Option<u8>,
        closed: bool,
        reset: bool,
        /// Next sequence number of each direction (0: sent by the lower endpoint).
        next: [Option<u32>; 2],
        bad_seq: u64,
        bad_ack: u64,
    }

    #[test]
    fn flows_decode_with_the_asked_mix_and_consistent_tcp() {
        let s = TrafficSpec {
            share_3406: 0.2,
            share_ipv6: 0.15,
            share_vlan: 0.05,
            share_qinq: 0.05,
            share_udp: 0.1,
            ..spec(Profile::Small, 80_000, 4_000)
        };
        let (cap, st) = generate_in_memory(&s).unwrap();
        let mut flows: HashMap<(IpAddr, u16, IpAddr, u16, bool), Seen> = HashMap::new();
        for (_, frame) in cap.iter() {
            let v = decode(LinkKind::Ethernet, frame).expect("every frame decodes");
            let a = (v.src, v.src_port);
            let b = (v.dst, v.dst_port);
            let dir = usize::from(a > b);
            let (lo, hi) = if dir == 0 { (a, b) } else { (b, a) };
            let tcp = v.transport == Transport::Tcp;
            let f = flows.entry((lo.0, lo.1, hi.0, hi.1, tcp)).or_default();
            f.packets += 1;
            f.tcp = tcp;
            f.v6 = v.src.is_ipv6();
            f.outer_vlan = v.vlan;
            if !tcp {
                f.server_port = v.dst_port.min(v.src_port);
                continue;
            }
            let flags = v.tcp.flags;
            if f.first_flags.is_none() {
                f.first_flags = Some(flags);
                f.server_port = v.dst_port;
            }
            f.closed |= flags & (tcp_flags::FIN | tcp_flags::RST) != 0;
            f.reset |= flags & tcp_flags::RST != 0;
            let syn = flags & tcp_flags::SYN != 0;
            if syn {
                f.next[dir] = Some(v.tcp.seq);
            }
            match f.next[dir] {
                Some(n) if n == v.tcp.seq => {}
                _ => f.bad_seq += 1,
            }
            if flags & tcp_flags::ACK != 0 {
                if let Some(peer) = f.next[1 - dir] {
                    f.bad_ack += u64::from(v.tcp.ack != peer);
                }
            }
            let used = v.payload_len + u32::from(syn) + u32::from(flags & tcp_flags::FIN != 0);
            if let Some(n) = f.next[dir].as_mut() {
                *n = n.wrapping_add(used);
            }
        }
        assert_eq!(
            flows.len() as u64,
            st.flows,
            "every flow has its own 5-tuple"
        );
        let n = flows.len() as f64;
        let share =
            |pred: &dyn Fn(&Seen) -> bool| flows.values().filter(|f| pred(f)).count() as f64 / n;
        let near = |got: f64, want: f64| (got - want).abs() < 0.25 * want + 0.01;
        let v6 = share(&|f| f.v6);
        let dot1q = share(&|f| f.outer_vlan.is_some_and(|v| v < 1000));
        let qinq = share(&|f| f.outer_vlan.is_some_and(|v| v >= 1000));
        let on_3406 = share(&|f| f.server_port == 3406);
        let udp = share(&|f| !f.tcp);
        assert!(near(v6, 0.15), "ipv6 {v6}");
        assert!(near(dot1q, 0.05), "802.1q {dot1q}");
        assert!(near(qinq, 0.05), "qinq {qinq}");
        assert!(near(on_3406, 0.2), "3406 {on_3406}");
        assert!(near(udp, 0.8 * 0.1 + 0.2 * 0.05), "udp {udp}");
        assert_eq!(st.port3406_flows as f64 / n, on_3406);
        let ndb = st.ndb_flows as f64 / st.port3406_flows as f64;
        assert!(near(ndb, 0.5), "ndb {ndb}");
        for (k, f) in flows.iter().filter(|(_, f)| f.tcp) {
            assert_eq!(
                f.first_flags,
                Some(tcp_flags::SYN),
                "{k:?} starts with a SYN"
            );
            assert_eq!((f.bad_seq, f.bad_ack), (0, 0), "{k:?} seq/ack");
            if f.server_port != 3406 {
                assert!(f.closed, "{k:?} closes with FIN or RST");
            }
        }
        let resets = flows
            .values()
            .filter(|f| f.tcp && f.server_port != 3406 && f.reset)
            .count();
        assert!(resets > 0, "some connections are reset");
    }

    #[test]
    fn all_concurrent_traffic_keeps_every_connection_open_at_once() {
        // Connections only (no conversation scheduled whole), spread over 30 s.
        let s = TrafficSpec {
            share_3406: 0.0,
            share_udp: 0.0,
            all_concurrent_s: Some(30.0),
            ..TrafficSpec::new(Profile::Small, 96_000, 4_000)
        };
        let (_, st) = generate_in_memory(&s).unwrap();
        assert_eq!(st.flows, 4_000);
        assert!(st.concurrent_max >= 3_900, "{st:?}");
        assert!((20.0..=40.0).contains(&st.duration_s()), "{st:?}");
        // The ordinary profile, for contrast, comes and goes.
        let (_, usual) = generate_in_memory(&TrafficSpec {
            all_concurrent_s: None,
            ..s
        })
        .unwrap();
        assert!(
            usual.concurrent_max < st.concurrent_max * 3 / 4,
            "{usual:?}"
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        let ok = TrafficSpec::new(Profile::Small, 100, 10);
        assert!(ok.validate().is_ok());
        for bad in [
            TrafficSpec {
                flows: 0,
                ..ok.clone()
            },
            TrafficSpec {
                flows: 101,
                ..ok.clone()
            },
            TrafficSpec {
                share_3406: 1.5,
                ..ok.clone()
            },
            TrafficSpec {
                share_vlan: 0.6,
                share_qinq: 0.6,
                ..ok.clone()
            },
            TrafficSpec {
                flow_rate: 0.0,
                ..ok.clone()
            },
            TrafficSpec {
                think_ms: f64::NAN,
                ..ok.clone()
            },
            TrafficSpec {
                all_concurrent_s: Some(0.0),
                ..ok.clone()
            },
            TrafficSpec {
                all_concurrent_s: Some(f64::INFINITY),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
            assert!(generate_in_memory(&bad).is_err());
        }
        assert_eq!(Profile::from_name("mixed"), Some(Profile::Mixed));
        assert_eq!(Profile::from_name("huge"), None);
    }
}
