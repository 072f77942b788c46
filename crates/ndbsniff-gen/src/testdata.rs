//! The project's committed test captures: a matrix of NDB conversations and look-alikes over
//! transport conditions, link types, IP versions and file formats, plus damaged files, and
//! the `MANIFEST.tsv` that tells the end-to-end test what each file must yield.
//!
//! Owns: the list of files, their names, contents and expectations. Must never use anything
//! but documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32),
//! never read the clock (base time is fixed) and never produce different bytes for the same
//! list: the whole set is reproducible.

use std::io;
use std::path::Path;

use super::audit;
use super::emit::{write_capture, write_tunnelled_capture, PlacedFlow, SynthError};
use super::frame::{Encap, Link};
use super::lookalike;
use super::ndb;
use super::sched::{schedule, CaptureStart, FixedSegments, TcpPlan, Transform};
use super::script::{Close, Proto, Script};
use super::tunnel::Wrap;
use super::writer::{ByteOrder, CaptureFormat, Container, TsResolution};
use super::{FlowAddr, Side};

/// Time of the first packet of every test capture: 2024-01-15 10:00:00 UTC.
pub const BASE_TS_NS: u64 = 1_705_312_800 * 1_000_000_000;

/// Conversation families, for coverage accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// E1: ndb_mgm show (8.0.35).
    E1Show,
    /// E2: data node start-up and transporter connect.
    E2DataNode,
    /// E3: mysqld node id failure then success.
    E3NodeId,
    /// E4: event listeners.
    E4Listen,
    /// E5: stop / restart v2.
    E5StopRestart,
    /// E6: unknown command, HTTP to ndb_mgmd, bad argument.
    E6Errors,
    /// E7: NDB 7.6 client and server.
    E7Ndb76,
    /// E8: NDB 8.4 TLS (start tls, TLS required).
    E8Tls,
    /// RonDB-only commands.
    RonDb,
    /// CRLF client.
    Crlf,
    /// Not NDB.
    LookAlike,
}

impl Family {
    /// Every NDB family (everything but [`Family::LookAlike`]).
    pub const NDB: [Family; 10] = [
        Family::E1Show,
        Family::E2DataNode,
        Family::E3NodeId,
        Family::E4Listen,
        Family::E5StopRestart,
        Family::E6Errors,
        Family::E7Ndb76,
        Family::E8Tls,
        Family::RonDb,
        Family::Crlf,
    ];
}

/// Transport conditions, for coverage accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Whole conversation, default segmentation.
    Normal,
    /// One-byte segments.
    OneByte,
    /// Segments delivered out of order.
    OutOfOrder,
    /// Exact retransmissions.
    Retransmit,
    /// Overlapping retransmissions.
    Overlap,
    /// Capture starts after the handshake.
    MidStream,
    /// Only client packets captured.
    ClientOnly,
    /// Only server packets captured.
    ServerOnly,
    /// No FIN/RST at the end.
    NoClose,
    /// Ends with RST instead of FIN.
    RstClose,
    /// Frames cut by the snap length.
    Snaplen,
    /// Segments missing from the capture (never seen, never retransmitted).
    Lost,
}

/// One flow of a test capture.
#[derive(Clone, Debug)]
pub struct FlowSpec {
    /// Conversation name (as in the conversation catalogues).
    pub conv: &'static str,
    /// Family.
    pub family: Family,
    /// The script.
    pub script: Script,
    /// IPv6 instead of IPv4.
    pub v6: bool,
    /// Server port.
    pub server_port: u16,
    /// Scheduling plan (its seed is filled from the file name).
    pub plan: TcpPlan,
    /// Verdict the classifier must give.
    pub verdict: &'static str,
    /// IPv4 (client, server) addresses instead of [`flow_addr`]'s.
    pub hosts: Option<([u8; 4], [u8; 4])>,
    /// Start of the flow, ms after the capture's base time, instead of the flow's index
    /// times 157 ms.
    pub start_ms: Option<u64>,
}

impl FlowSpec {
    fn new(conv: &'static str, family: Family, script: Script) -> Self {
        FlowSpec {
            conv,
            family,
            script,
            v6: false,
            server_port: 3406,
            plan: TcpPlan::default(),
            verdict: if family == Family::LookAlike {
                "unknown"
            } else {
                "ndb-mgm"
            },
            hosts: None,
            start_ms: None,
        }
    }
    fn hosts(mut self, client: [u8; 4], server: [u8; 4]) -> Self {
        self.hosts = Some((client, server));
        self
    }
    fn at_ms(mut self, ms: u64) -> Self {
        self.start_ms = Some(ms);
        self
    }
    fn verdict(mut self, v: &'static str) -> Self {
        self.verdict = v;
        self
    }
    fn lost_at(self, side: Side, offset: usize) -> Self {
        self.t(Transform::DropAt {
            side,
            offset: offset as u32,
        })
    }
    fn v6(mut self) -> Self {
        self.v6 = true;
        self
    }
    fn port(mut self, p: u16) -> Self {
        self.server_port = p;
        self
    }
    fn seg(mut self, n: usize) -> Self {
        self.plan.max_segment = n;
        self
    }
    fn one_byte(mut self, first_bytes: Option<usize>) -> Self {
        self.plan.fixed = Some(FixedSegments {
            size: 1,
            first_bytes,
        });
        self
    }
    fn t(mut self, t: Transform) -> Self {
        self.plan.transforms.push(t);
        self
    }
    fn ooo(self, every: u32) -> Self {
        self.t(Transform::OutOfOrder { every })
    }
    fn retrans(self, every: u32) -> Self {
        self.t(Transform::Retransmit { every })
    }
    fn overlap(self, every: u32) -> Self {
        self.t(Transform::OverlapRetransmit { every })
    }
    fn mid(mut self, start: CaptureStart) -> Self {
        self.plan.start = start;
        self
    }
    fn only(mut self, side: Side) -> Self {
        self.plan.only = Some(side);
        self
    }
    fn close(mut self, c: Close) -> Self {
        self.plan.close = Some(c);
        self
    }

    /// Conditions this flow exercises.
    pub fn conditions(&self, snaplen_cut: bool) -> Vec<Condition> {
        let mut c = Vec::new();
        if self.script.proto == Proto::Udp {
            c.push(match self.plan.only {
                Some(Side::Client) => Condition::ClientOnly,
                Some(Side::Server) => Condition::ServerOnly,
                None => Condition::Normal,
            });
            return c;
        }
        if self.plan.fixed.is_some_and(|f| f.size == 1) {
            c.push(Condition::OneByte);
        }
        for t in &self.plan.transforms {
            c.push(match t {
                Transform::OutOfOrder { .. } => Condition::OutOfOrder,
                Transform::Retransmit { .. } => Condition::Retransmit,
                Transform::OverlapRetransmit { .. } => Condition::Overlap,
                Transform::Drop { .. } | Transform::DropAt { .. } => Condition::Lost,
            });
        }
        if self.plan.start != CaptureStart::Beginning {
            c.push(Condition::MidStream);
        }
        match self.plan.only {
            Some(Side::Client) => c.push(Condition::ClientOnly),
            Some(Side::Server) => c.push(Condition::ServerOnly),
            None => {}
        }
        match self.plan.close.unwrap_or(self.script.close) {
            Close::None => c.push(Condition::NoClose),
            Close::Rst { .. } => c.push(Condition::RstClose),
            Close::Fin { .. } => {}
        }
        if snaplen_cut {
            c.push(Condition::Snaplen);
        }
        if c.iter()
            .all(|k| matches!(k, Condition::NoClose | Condition::RstClose))
        {
            c.insert(0, Condition::Normal);
        }
        c
    }

    fn describe(&self, snaplen_cut: bool) -> String {
        let proto = match self.script.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let conds: Vec<String> = self
            .conditions(snaplen_cut)
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect();
        let hosts = match self.hosts {
            Some((c, s)) => format!(
                " {}.{}.{}.{}->{}.{}.{}.{}",
                c[0], c[1], c[2], c[3], s[0], s[1], s[2], s[3]
            ),
            None => String::new(),
        };
        format!(
            "{} {}/{} {}{hosts} [{}]",
            self.conv,
            proto,
            self.server_port,
            if self.v6 { "v6" } else { "v4" },
            conds.join(",")
        )
    }
}

/// Deliberate damage applied to a rendered file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// Cut the file in the middle of the data of its last record.
    TruncateLastRecord,
    /// Append bytes that are not a record.
    GarbageAfterRecords,
    /// Replace the file with text.
    NotACapture,
    /// Set the captured length of record `n` (0-based) to 0x7fffffff.
    AbsurdCaplen(usize),
    /// Keep only the first 12 bytes of the file header.
    TruncateFileHeader,
}

/// One test capture.
#[derive(Clone, Debug)]
pub struct CaptureSpec {
    /// File name.
    pub name: String,
    /// File format.
    pub format: CaptureFormat,
    /// Encapsulation.
    pub encap: Encap,
    /// Flows, in start order.
    pub flows: Vec<FlowSpec>,
    /// Extra ndbsniff arguments.
    pub args: &'static str,
    /// Damage, if any.
    pub damage: Option<Damage>,
    /// Expectation override (damaged files).
    pub expect_override: Option<&'static str>,
    /// Free-text note prepended to the generated description.
    pub note: &'static str,
    /// Tunnel layers around every frame, innermost first (`encap` then frames the inner
    /// packets); empty for none.
    pub tunnel: &'static [Wrap],
}

impl CaptureSpec {
    fn snaplen_cut(&self) -> bool {
        self.format.snaplen < CaptureFormat::DEFAULT_SNAPLEN
    }

    /// Is a flow on `port` watched with this file's arguments?
    fn watched(&self, port: u16) -> bool {
        if self.args.contains("--any-port") {
            return true;
        }
        let mut words = self.args.split_whitespace();
        while let Some(w) = words.next() {
            if w == "--port" {
                return words.next().and_then(|p| p.parse().ok()) == Some(port);
            }
        }
        port == 3406
    }

    /// The manifest's `expect` column.
    pub fn expect(&self) -> String {
        if let Some(e) = self.expect_override {
            return e.to_string();
        }
        let watched: Vec<&FlowSpec> = self
            .flows
            .iter()
            .filter(|f| self.watched(f.server_port))
            .collect();
        if watched.len() == 1 {
            return watched
                .first()
                .map(|f| f.verdict.to_string())
                .unwrap_or_default();
        }
        let n_ndb = watched.iter().filter(|f| f.verdict == "ndb-mgm").count();
        let n_unk = watched.len() - n_ndb;
        let mut parts = Vec::new();
        if n_ndb > 0 {
            parts.push(format!("ndb-mgm={n_ndb}"));
        }
        if n_unk > 0 {
            parts.push(format!("unknown={n_unk}"));
        }
        parts.join(",")
    }

    /// The manifest's `description` column.
    pub fn description(&self) -> String {
        if self.damage == Some(Damage::NotACapture) {
            return self.note.to_string();
        }
        let f = &self.format;
        let fmt = format!(
            "{} {} {}{}",
            match f.container {
                Container::Pcap => "pcap",
                Container::Pcapng => "pcapng",
            },
            match f.resolution {
                TsResolution::Micro => "us",
                TsResolution::Nano => "ns",
            },
            match f.byte_order {
                ByteOrder::Little => "LE",
                ByteOrder::Big => "BE",
            },
            if self.snaplen_cut() {
                format!(" snaplen {}", f.snaplen)
            } else {
                String::new()
            }
        );
        let vl = self.encap.vlans().len();
        let mut link = if vl > 0 {
            format!("{}+{}vlan", self.encap.link.name(), vl)
        } else {
            self.encap.link.name().to_string()
        };
        for layer in self.tunnel {
            link = format!("{link} in {}", layer.name());
        }
        if !self.tunnel.is_empty() {
            link.push_str(" in eth");
        }
        let flows: Vec<String> = self
            .flows
            .iter()
            .map(|fl| fl.describe(self.snaplen_cut()))
            .collect();
        let mut d = String::new();
        if !self.note.is_empty() {
            d.push_str(self.note);
            d.push_str("; ");
        }
        d.push_str(&format!("{link}, {fmt}; {}", flows.join("; ")));
        d
    }
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Client address `i` and the server address, IPv4 or IPv6 (documentation ranges). IPv4
/// clients cycle through 198.51.100.20–219; IPv6 clients embed `i` in the interface id.
pub fn flow_addr(i: usize, v6: bool, client_port: u16, server_port: u16) -> FlowAddr {
    if v6 {
        let mut c = [0u8; 16];
        c[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 2]);
        c[12..16].copy_from_slice(&(20u32.wrapping_add(i as u32)).to_be_bytes());
        let mut s = [0u8; 16];
        s[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1]);
        s[15] = 0x10;
        FlowAddr::v6(c, client_port, s, server_port)
    } else {
        let last = 20 + (i % 200) as u8;
        FlowAddr::v4(
            [198, 51, 100, last],
            client_port,
            [203, 0, 113, 10],
            server_port,
        )
    }
}

/// Schedules and places the flows of a capture on its time line.
pub fn placed_flows(spec: &CaptureSpec) -> Vec<PlacedFlow> {
    let mut flows = Vec::with_capacity(spec.flows.len());
    for (i, f) in spec.flows.iter().enumerate() {
        let seed = fnv1a(&spec.name) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut plan = f.plan.clone();
        plan.seed = seed;
        let client_port = 40_000 + (seed % 20_000) as u16;
        let addr = match f.hosts {
            Some((c, s)) => FlowAddr::v4(c, client_port, s, f.server_port),
            None => flow_addr(i, f.v6, client_port, f.server_port),
        };
        let start_ms = f.start_ms.unwrap_or(i as u64 * 157);
        flows.push(PlacedFlow {
            addr,
            start_ns: BASE_TS_NS + start_ms * 1_000_000,
            packets: schedule(&f.script, &plan),
            ip_id_seed: (seed >> 16) as u16,
        });
    }
    flows
}

/// Renders a capture (without damage) to bytes.
pub fn render_clean(spec: &CaptureSpec) -> Result<Vec<u8>, SynthError> {
    if spec.tunnel.is_empty() {
        write_capture(spec.format, &spec.encap, &placed_flows(spec))
    } else {
        write_tunnelled_capture(spec.format, &spec.encap, spec.tunnel, &placed_flows(spec))
    }
}

/// Offsets of record starts in a classic pcap file (`bytes` as written by this module).
fn pcap_record_offsets(bytes: &[u8], order: ByteOrder) -> Vec<usize> {
    let mut v = Vec::new();
    let mut at = 24usize;
    while let Some(h) = bytes.get(at + 8..at + 12) {
        let caplen = match order {
            ByteOrder::Little => u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
            ByteOrder::Big => u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        } as usize;
        v.push(at);
        at += 16 + caplen;
    }
    v
}

/// Renders a capture, damage included.
pub fn render(spec: &CaptureSpec) -> Result<Vec<u8>, SynthError> {
    let mut bytes = render_clean(spec)?;
    let order = spec.format.byte_order;
    match spec.damage {
        None => {}
        Some(Damage::NotACapture) => {
            bytes =
                b"This is not a packet capture.\nIt is a text file that was given a .pcap name.\n"
                    .to_vec();
        }
        Some(Damage::TruncateFileHeader) => bytes.truncate(12),
        Some(Damage::GarbageAfterRecords) => {
            bytes.extend_from_slice(
                b"this is not a pcap record; trailing junk appended by a broken copy\n",
            );
        }
        Some(Damage::TruncateLastRecord) => {
            let last = match spec.format.container {
                Container::Pcap => pcap_record_offsets(&bytes, order).last().copied(),
                // pcapng: every block ends with its length; find the last block start.
                Container::Pcapng => pcapng_block_offsets(&bytes, order).last().copied(),
            };
            if let Some(at) = last {
                let keep = at + (bytes.len() - at) / 2;
                bytes.truncate(keep);
            }
        }
        Some(Damage::AbsurdCaplen(n)) => {
            if let Some(at) = pcap_record_offsets(&bytes, order).get(n).copied() {
                let v = order.u32(0x7fff_ffff);
                if let Some(field) = bytes.get_mut(at + 8..at + 12) {
                    field.copy_from_slice(&v);
                }
            }
        }
    }
    Ok(bytes)
}

fn pcapng_block_offsets(bytes: &[u8], order: ByteOrder) -> Vec<usize> {
    let mut v = Vec::new();
    let mut at = 0usize;
    while let Some(h) = bytes.get(at + 4..at + 8) {
        let len = match order {
            ByteOrder::Little => u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
            ByteOrder::Big => u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        } as usize;
        if len < 12 {
            break;
        }
        v.push(at);
        at += len;
    }
    v
}

// ---- the matrix -------------------------------------------------------------------------

fn f(conv: &'static str, family: Family, script: fn() -> Script) -> FlowSpec {
    FlowSpec::new(conv, family, script())
}

fn e1() -> FlowSpec {
    f("ndb80-show", Family::E1Show, ndb::show_80)
}
fn e2() -> FlowSpec {
    f("ndb80-datanode", Family::E2DataNode, ndb::datanode_start_80)
}
fn e3() -> FlowSpec {
    f("ndb80-nodeid", Family::E3NodeId, ndb::nodeid_retry_80)
}
fn e4a() -> FlowSpec {
    f(
        "ndb80-listen-pretty",
        Family::E4Listen,
        ndb::listen_pretty_80,
    )
}
fn e4b() -> FlowSpec {
    f(
        "ndb-listen-parsable",
        Family::E4Listen,
        ndb::listen_parsable,
    )
}
fn e5() -> FlowSpec {
    f(
        "ndb80-stop-restart",
        Family::E5StopRestart,
        ndb::stop_restart_80,
    )
}
fn e5op() -> FlowSpec {
    f(
        "ndb-operator-stop",
        Family::E5StopRestart,
        ndb::operator_stop,
    )
}
fn e6() -> FlowSpec {
    f("ndb-errors", Family::E6Errors, ndb::errors)
}
fn e6http() -> FlowSpec {
    f("ndb-http-probe", Family::E6Errors, ndb::http_probe)
}
fn e7() -> FlowSpec {
    f("ndb76-nodeid", Family::E7Ndb76, ndb::mysqld_76)
}
fn e8a() -> FlowSpec {
    f("ndb84-starttls", Family::E8Tls, ndb::start_tls_84)
}
fn e8b() -> FlowSpec {
    f("ndb84-tls-required", Family::E8Tls, ndb::tls_required_84)
}
fn ron() -> FlowSpec {
    f("rondb-users", Family::RonDb, ndb::rondb_users)
}
fn crlf() -> FlowSpec {
    f("ndb80-crlf", Family::Crlf, ndb::crlf_show_80)
}
fn la(conv: &'static str, script: fn() -> Script) -> FlowSpec {
    f(conv, Family::LookAlike, script)
}
fn all_lookalikes() -> Vec<FlowSpec> {
    lookalike::CONVERSATIONS
        .iter()
        .map(|c| FlowSpec::new(c.name, Family::LookAlike, (c.build)()))
        .collect()
}

const TEXT_LOOKALIKES: [&str; 5] = ["http", "smtp", "memcached", "redis", "generic-kv"];
fn text_lookalikes() -> Vec<FlowSpec> {
    all_lookalikes()
        .into_iter()
        .filter(|f| TEXT_LOOKALIKES.contains(&f.conv))
        .collect()
}
fn binary_lookalikes() -> Vec<FlowSpec> {
    all_lookalikes()
        .into_iter()
        .filter(|f| !TEXT_LOOKALIKES.contains(&f.conv))
        .collect()
}

fn eth() -> Encap {
    Encap::new(Link::Ethernet)
}
fn vlan(n: usize) -> Encap {
    // with_vlan_stack only fails above 3 tags.
    Encap::new(Link::Ethernet)
        .with_vlan_stack(n.min(3))
        .unwrap_or_else(|_| Encap::new(Link::Ethernet))
}
fn enc(link: Link) -> Encap {
    Encap::new(link)
}

const US: CaptureFormat = CaptureFormat::PCAP_US;
const NS: CaptureFormat = CaptureFormat::PCAP_NS;
const NG_US: CaptureFormat = CaptureFormat::PCAPNG_US;
const NG_NS: CaptureFormat = CaptureFormat::PCAPNG_NS;

fn cap(name: &str, format: CaptureFormat, encap: Encap, flows: Vec<FlowSpec>) -> CaptureSpec {
    let name = format!("{name}.{}", format.extension());
    CaptureSpec {
        name,
        format,
        encap,
        flows,
        args: "",
        damage: None,
        expect_override: None,
        note: "",
        tunnel: &[],
    }
}

impl CaptureSpec {
    fn args(mut self, a: &'static str) -> Self {
        self.args = a;
        self
    }
    fn note(mut self, n: &'static str) -> Self {
        self.note = n;
        self
    }
    fn tunnel(mut self, layers: &'static [Wrap]) -> Self {
        self.tunnel = layers;
        self
    }
    fn damaged(mut self, d: Damage, expect: &'static str) -> Self {
        self.damage = Some(d);
        self.expect_override = Some(expect);
        self
    }
}

/// Server offset inside E1's `node status` reply (used for a mid-line capture start).
fn e1_status_offset() -> usize {
    ndb::show_80().offset_of_message(Side::Server, 7) + 80
}

/// The complete list of test captures.
pub fn specs() -> Vec<CaptureSpec> {
    use CaptureStart::AtMessage;
    use Side::{Client, Server};
    let be = ByteOrder::Big;
    let mut v = vec![
        // -- every family, whole conversation, across link types and formats --
        cap("ndb80-show-eth-v4", US, eth(), vec![e1()]),
        cap(
            "ndb80-datanode-sll-v4-port1186",
            US,
            enc(Link::LinuxSll),
            vec![e2().port(1186)],
        )
        .args("--port 1186"),
        cap(
            "ndb80-nodeid-sll2-v6",
            NG_US,
            enc(Link::LinuxSll2),
            vec![e3().v6()],
        ),
        cap(
            "ndb80-listen-pretty-raw-v4-ns",
            NS,
            enc(Link::Raw),
            vec![e4a()],
        ),
        cap(
            "ndb-listen-parsable-rawv6-v6",
            US,
            enc(Link::RawIpv6),
            vec![e4b().v6()],
        ),
        cap(
            "ndb80-stop-restart-null-v4-be",
            US.with_byte_order(be),
            enc(Link::Null),
            vec![e5()],
        ),
        cap("ndb-errors-loop-v6", US, enc(Link::Loop), vec![e6().v6()]),
        cap("ndb76-nodeid-rawv4-v4", US, enc(Link::RawIpv4), vec![e7()]),
        cap("ndb84-starttls-eth-v6-ns", NG_NS, eth(), vec![e8a().v6()]),
        cap("ndb84-tls-required-vlan1-v4", US, vlan(1), vec![e8b()]),
        cap("rondb-users-vlan2-v6", US, vlan(2), vec![ron().v6()]),
        cap(
            "ndb80-crlf-vlan3-v4-be",
            NG_US.with_byte_order(be),
            vlan(3),
            vec![crlf()],
        ),
        cap(
            "ndb-operator-stop-null-v6",
            US,
            enc(Link::Null),
            vec![e5op().v6()],
        ),
        cap("ndb-http-probe-eth-v4", US, eth(), vec![e6http()])
            .note("HTTP client sent to ndb_mgmd: the server's replies make it NDB"),
        cap(
            "ndb80-show-eth-v4-port1186-anyport",
            NS,
            eth(),
            vec![e1().port(1186)],
        )
        .args("--any-port"),
        cap(
            "ndb80-nodeid-eth-v6-port40000-anyport",
            US,
            eth(),
            vec![e3().v6().port(40000)],
        )
        .args("--any-port"),
        cap(
            "ndb80-show-eth-v4-snaplen128",
            US.with_snaplen(128),
            eth(),
            vec![e1()],
        )
        .note("frames longer than 128 bytes are cut (caplen < origlen)"),
        cap(
            "ndb80-stop-restart-sll-v4-rst",
            US,
            enc(Link::LinuxSll),
            vec![e5().close(Close::Rst { by: Server })],
        ),
        cap(
            "ndb80-show-raw-v6-noclose",
            NG_US,
            enc(Link::Raw),
            vec![e1().v6().close(Close::None)],
        ),
        // -- one-byte segments --
        cap(
            "ndb80-show-eth-v4-1byte",
            US,
            eth(),
            vec![e1().one_byte(Some(256))],
        )
        .note("1-byte segments for the first 256 bytes of each direction"),
        cap(
            "ndb80-datanode-sll-v4-1byte-port1186",
            US,
            enc(Link::LinuxSll),
            vec![e2().port(1186).one_byte(Some(256))],
        )
        .args("--port 1186")
        .note("1-byte segments for the first 256 bytes of each direction"),
        cap(
            "ndb80-nodeid-raw-v6-1byte",
            US,
            enc(Link::Raw),
            vec![e3().v6().one_byte(Some(300))],
        )
        .note("1-byte segments for the first 300 bytes of each direction"),
        cap(
            "ndb76-nodeid-sll-v6-1byte",
            US,
            enc(Link::LinuxSll),
            vec![e7().v6().one_byte(Some(300))],
        )
        .note("1-byte segments for the first 300 bytes of each direction"),
        cap(
            "ndb-listen-rawv4-1byte",
            US,
            enc(Link::RawIpv4),
            vec![e4a().one_byte(Some(128)), e4b().one_byte(Some(128))],
        )
        .note("pretty and parsable listeners, 1-byte segments for the first 128 bytes"),
        cap(
            "ndb-stop-errors-loop-v4-1byte",
            US,
            enc(Link::Loop),
            vec![e5().one_byte(Some(160)), e6().one_byte(None)],
        )
        .note("stop/restart (1-byte for 160 bytes) and errors (all 1-byte)"),
        cap(
            "ndb84-tls-sll2-v6-1byte",
            NG_NS,
            enc(Link::LinuxSll2),
            vec![e8a().v6().one_byte(Some(96)), e8b().v6().one_byte(None)],
        )
        .note("start tls (1-byte for 96 bytes) and TLS-required refusal (all 1-byte)"),
        cap(
            "rondb-crlf-null-v4-1byte",
            US,
            enc(Link::Null),
            vec![ron().one_byte(Some(160)), crlf().one_byte(Some(160))],
        )
        .note("1-byte segments for the first 160 bytes"),
        // -- out of order --
        cap("ndb80-show-eth-v6-ooo", US, eth(), vec![e1().v6().ooo(2)]),
        cap(
            "ndb80-datanode-raw-v4-ooo-port1186",
            US,
            enc(Link::Raw),
            vec![e2().port(1186).seg(200).ooo(2)],
        )
        .args("--port 1186"),
        cap(
            "ndb-mix-ooo-sll-v4",
            US,
            enc(Link::LinuxSll),
            vec![
                e3().seg(64).ooo(3),
                e4a().ooo(1),
                e5().seg(64).ooo(2),
                e6().ooo(1),
            ],
        ),
        cap(
            "ndb-mix-ooo-vlan1-v6",
            NG_US,
            vlan(1),
            vec![
                e7().v6().seg(100).ooo(2),
                e8a().v6().ooo(1),
                e8b().v6().ooo(1),
                ron().v6().ooo(1),
                crlf().v6().seg(64).ooo(2),
                e4b().v6().ooo(1),
            ],
        ),
        // -- retransmissions and overlapping retransmissions --
        cap(
            "ndb80-show-sll-v4-retrans",
            US,
            enc(Link::LinuxSll),
            vec![e1().retrans(3)],
        ),
        cap(
            "ndb80-show-loop-v4-overlap",
            US,
            enc(Link::Loop),
            vec![e1().seg(48).overlap(2)],
        )
        .note("48-byte segments, every 2nd followed by an overlapping retransmission"),
        cap(
            "ndb-mix-retrans-eth-v4",
            US,
            eth(),
            vec![
                e2().seg(100).retrans(2).overlap(3),
                e3().seg(100).retrans(2).overlap(3),
                e4a().retrans(2).overlap(3),
                e4b().retrans(2).overlap(3),
                e5().seg(100).retrans(2).overlap(3),
                e6().retrans(2).overlap(3),
            ],
        ),
        cap(
            "ndb-mix-overlap-rawv6-ns",
            NG_NS,
            enc(Link::RawIpv6),
            vec![
                e7().v6().seg(100).overlap(2).retrans(5),
                e8a().v6().overlap(2).retrans(5),
                e8b().v6().overlap(1).retrans(5),
                ron().v6().seg(64).overlap(2).retrans(5),
                crlf().v6().seg(100).overlap(2).retrans(5),
            ],
        ),
        // -- capture starting mid-stream --
        cap(
            "ndb80-show-eth-v4-midstream",
            US,
            eth(),
            vec![e1().mid(AtMessage(2))],
        )
        .note("capture starts at the get version request"),
        cap(
            "ndb80-show-sll2-v4-midline",
            US,
            enc(Link::LinuxSll2),
            vec![e1().seg(100).mid(CaptureStart::AtOffset {
                side: Server,
                offset: e1_status_offset(),
            })],
        )
        .note("capture starts inside the node status reply"),
        cap(
            "ndb-mix-midstream-vlan2-v4",
            US,
            vlan(2),
            vec![
                e2().mid(AtMessage(2)),
                e3().mid(AtMessage(1)),
                e4a().mid(AtMessage(1)),
                e4b().mid(AtMessage(1)),
                e5().mid(AtMessage(2)),
                e6().mid(AtMessage(2)),
            ],
        ),
        cap(
            "ndb-mix-midstream-null-v6-ns",
            NG_NS,
            enc(Link::Null),
            vec![
                e7().v6().mid(AtMessage(2)),
                e8a().v6().mid(AtMessage(1)),
                e8b().v6().mid(AtMessage(1)),
                ron().v6().mid(AtMessage(2)),
                crlf().v6().mid(AtMessage(2)),
            ],
        ),
        // -- one direction only --
        cap(
            "ndb80-show-eth-v4-client-only",
            US,
            eth(),
            vec![e1().only(Client)],
        ),
        cap(
            "ndb80-show-eth-v4-server-only",
            US,
            eth(),
            vec![e1().only(Server)],
        ),
        cap(
            "ndb-mix-client-only-sll-v6",
            US,
            enc(Link::LinuxSll),
            vec![
                e2().v6().only(Client),
                e3().v6().only(Client),
                e4a().v6().only(Client),
                e4b().v6().only(Client),
                e5().v6().only(Client),
                e7().v6().only(Client),
                crlf().v6().only(Client),
            ],
        )
        .note("client side only, for conversations whose requests alone are NDB"),
        cap(
            "ndb-mix-server-only-raw-v4",
            US,
            enc(Link::Raw),
            vec![
                e2().only(Server),
                e3().only(Server),
                e4a().only(Server),
                e4b().only(Server),
                e5().only(Server),
                e6().only(Server),
                e7().only(Server),
                e8a().only(Server),
                e8b().only(Server),
                ron().only(Server),
                crlf().only(Server),
            ],
        ),
        // -- look-alikes on port 3406: all unknown --
        cap("http-on-3406", US, eth(), vec![la("http", lookalike::http)]),
        cap(
            "tls-on-3406",
            US,
            eth(),
            vec![la("tls", lookalike::tls).v6()],
        ),
        cap(
            "ssh-on-3406",
            US,
            enc(Link::LinuxSll),
            vec![la("ssh", lookalike::ssh)],
        ),
        cap(
            "smtp-on-3406",
            US,
            vlan(1),
            vec![la("smtp", lookalike::smtp)],
        ),
        cap(
            "mysql-on-3406",
            US,
            enc(Link::Raw),
            vec![la("mysql", lookalike::mysql)],
        ),
        cap(
            "memcached-on-3406",
            US,
            enc(Link::Loop),
            vec![la("memcached", lookalike::memcached)],
        ),
        cap(
            "redis-on-3406",
            NG_US,
            eth(),
            vec![la("redis", lookalike::redis)],
        ),
        cap(
            "generic-kv-on-3406",
            US,
            enc(Link::Null),
            vec![la("generic-kv", lookalike::generic_kv)],
        ),
        cap(
            "random-binary-on-3406",
            US,
            enc(Link::LinuxSll2),
            vec![la("random", lookalike::random_binary).v6()],
        ),
        cap(
            "handshake-only-on-3406",
            US,
            eth(),
            vec![la("handshake-only", lookalike::handshake_only)],
        ),
        cap(
            "dns-udp-on-3406",
            US,
            eth(),
            vec![la("dns-udp", lookalike::dns_udp)],
        ),
        cap(
            "lookalikes-text-1byte-ooo-eth-v4",
            US,
            eth(),
            text_lookalikes()
                .into_iter()
                .map(|f| f.one_byte(Some(48)).ooo(3))
                .collect(),
        )
        .note("text look-alikes, 1-byte segments for the first 48 bytes, out of order"),
        cap(
            "lookalikes-binary-1byte-ooo-vlan1-v4",
            US,
            vlan(1),
            binary_lookalikes()
                .into_iter()
                .map(|f| f.one_byte(Some(32)).ooo(3))
                .collect(),
        )
        .note("binary look-alikes, 1-byte segments for the first 32 bytes, out of order"),
        cap(
            "lookalikes-retrans-sll-v6",
            US,
            enc(Link::LinuxSll),
            all_lookalikes()
                .into_iter()
                .map(|f| f.v6().retrans(2).overlap(3))
                .collect(),
        )
        .note("every look-alike with retransmissions and overlaps"),
        // -- mixed captures --
        cap(
            "mixed-ndb-and-lookalikes-eth-v4",
            US,
            eth(),
            vec![
                e1(),
                la("http", lookalike::http),
                e5(),
                la("ssh", lookalike::ssh),
                la("memcached", lookalike::memcached),
                la("dns-udp", lookalike::dns_udp),
            ],
        ),
        cap(
            "mixed-interactive-ndb_mgm-eth-v6-ns",
            NG_NS,
            eth(),
            vec![e4a().v6(), e1().v6(), e4b().v6()],
        )
        .note("ndb_mgm main connection with two concurrent event listeners"),
        cap(
            "mixed-port1186-anyport-eth-v4",
            US,
            eth(),
            vec![
                e2().port(1186),
                la("http", lookalike::http).port(8080),
                e7().port(1186),
                la("dns-udp", lookalike::dns_udp).port(53),
            ],
        )
        .args("--any-port"),
        cap(
            "mixed-3406-and-1186-eth-v4",
            US,
            eth(),
            vec![
                e3(),
                e1().port(1186),
                la("redis", lookalike::redis).port(6379),
            ],
        )
        .note("only the 3406 flow is watched by default"),
        cap(
            "mixed-many-vlan3-v4-be",
            US.with_byte_order(be),
            vlan(3),
            vec![
                e3(),
                la("tls", lookalike::tls),
                e8a(),
                la("mysql", lookalike::mysql),
                e6(),
                la("generic-kv", lookalike::generic_kv),
                ron(),
                la("smtp", lookalike::smtp),
                la("random", lookalike::random_binary),
            ],
        ),
        // -- damaged files --
        cap("bad-truncated-record", US, eth(), vec![e1()])
            .damaged(Damage::TruncateLastRecord, "partial")
            .note("file cut in the middle of its last record"),
        cap("bad-garbage-after-records", US, eth(), vec![e1()])
            .damaged(Damage::GarbageAfterRecords, "partial")
            .note("text appended after the last valid record"),
        cap("bad-not-a-capture", US, eth(), vec![])
            .damaged(Damage::NotACapture, "error")
            .note("a text file named .pcap"),
        cap("bad-absurd-caplen", US, eth(), vec![e1()])
            .damaged(Damage::AbsurdCaplen(12), "partial")
            .note("record 13 claims a captured length of 0x7fffffff"),
        cap("bad-truncated-header", US, eth(), vec![e1()])
            .damaged(Damage::TruncateFileHeader, "error")
            .note("file header cut after 12 bytes"),
        cap("bad-truncated-block", NG_US, eth(), vec![e1()])
            .damaged(Damage::TruncateLastRecord, "partial")
            .note("pcapng file cut in the middle of its last block"),
    ];
    v.extend(audit_specs());
    v.extend(tunnel_specs());
    v
}

/// NDB sessions (and a look-alike) inside each kind of tunnel, and three tunnels nested.
fn tunnel_specs() -> Vec<CaptureSpec> {
    static VXLAN: [Wrap; 1] = [Wrap::Vxlan { vni: 4242 }];
    static GENEVE: [Wrap; 1] = [Wrap::Geneve { vni: 77 }];
    static GRE_KEY: [Wrap; 1] = [Wrap::Gre { key: Some(7) }];
    static GRE_TEB: [Wrap; 1] = [Wrap::GreEthernet];
    static MPLS: [Wrap; 1] = [Wrap::Mpls {
        labels: &[1000, 2000],
    }];
    static PPPOE: [Wrap; 1] = [Wrap::Pppoe { session: 0x1234 }];
    static IN_V4: [Wrap; 1] = [Wrap::IpInIp { outer_v6: false }];
    static IN_V6: [Wrap; 1] = [Wrap::IpInIp { outer_v6: true }];
    static NESTED: [Wrap; 3] = [
        Wrap::Vxlan { vni: 9 },
        Wrap::Gre { key: None },
        Wrap::Mpls { labels: &[300] },
    ];
    let raw = || enc(Link::Raw);
    vec![
        cap(
            "tunnel-vxlan-v4",
            US,
            eth(),
            vec![e3(), la("http", lookalike::http)],
        )
        .tunnel(&VXLAN)
        .note("a Kubernetes-style overlay"),
        cap("tunnel-geneve-v6", US, eth(), vec![e1().v6()]).tunnel(&GENEVE),
        cap("tunnel-gre-key-v4", US, raw(), vec![e3()]).tunnel(&GRE_KEY),
        cap("tunnel-gre-teb-v4", US, eth(), vec![e3()]).tunnel(&GRE_TEB),
        cap("tunnel-mpls-v4", US, raw(), vec![e3()]).tunnel(&MPLS),
        cap("tunnel-pppoe-v6", US, raw(), vec![e3().v6()]).tunnel(&PPPOE),
        cap("tunnel-ipip-v4", US, raw(), vec![e3()]).tunnel(&IN_V4),
        cap("tunnel-6in4-v6", US, raw(), vec![e3().v6()]).tunnel(&IN_V4),
        cap("tunnel-4in6-v4", US, raw(), vec![e3()]).tunnel(&IN_V6),
        cap("tunnel-6in6-v6", US, raw(), vec![e3().v6()]).tunnel(&IN_V6),
        cap("tunnel-nested-v4", US, eth(), vec![e3()]).tunnel(&NESTED),
    ]
}

// ---- captures for the session audit (addresses and scenarios: `audit.rs`) ----------------

fn a(conv: &'static str, family: Family, script: fn() -> Script) -> FlowSpec {
    f(conv, family, script).hosts(audit::ADMIN, audit::MGMD)
}

/// The session-audit captures: whole scenarios of one cluster (see [`audit`]).
fn audit_specs() -> Vec<CaptureSpec> {
    use audit::*;
    use Side::{Client, Server};
    let fam = Family::E1Show;
    vec![
        cap(
            "audit-ndb_mgm-session",
            US,
            eth(),
            vec![
                a(
                    "audit-ndb_mgm-commands",
                    Family::E5StopRestart,
                    session_commands,
                )
                .at_ms(0),
                a("audit-ndb_mgm-listener", Family::E4Listen, session_listener)
                    .at_ms(SESSION_LISTENER_AFTER_MS),
                a("audit-ndb_mgm-idle", fam, session_idle)
                    .at_ms(SESSION_IDLE_AFTER_MS)
                    .verdict("unknown"),
            ],
        )
        .args("--audit")
        .note(
            "interactive ndb_mgm 8.0.35 on a host that is not a cluster node: commands \
             (SHOW, 2 STOP, 2 START, START BACKUP with encryption password, ABORT BACKUP 7, \
             single user mode 50, ALL RESTART), parsable listener (PING every 100 ms, events), \
             idle third connection (no payload, open)",
        ),
        cap(
            "audit-cluster-start",
            NG_US,
            eth(),
            vec![
                f("audit-mgmd-self", fam, mgmd_self_check)
                    .hosts(MGMD, MGMD)
                    .at_ms(start_at::SELF),
                f("audit-ndbd-angel", Family::E2DataNode, datanode_angel)
                    .hosts(NDB2, MGMD)
                    .at_ms(start_at::ANGEL),
                f("audit-ndb_waiter", fam, ndb_waiter)
                    .hosts(OPS, MGMD)
                    .at_ms(start_at::WAITER),
                f("audit-mysqld-refused", Family::E3NodeId, mysqld_refused)
                    .hosts(SQL50, MGMD)
                    .at_ms(start_at::MYSQLD_REFUSED),
                f("audit-ndbd-child", Family::E2DataNode, datanode_child)
                    .hosts(NDB2, MGMD)
                    .at_ms(start_at::CHILD),
                f("audit-mysqld-nodeid", Family::E3NodeId, mysqld_allocated)
                    .hosts(SQL50, MGMD)
                    .at_ms(start_at::MYSQLD),
                f(
                    "audit-mysqld-transporter",
                    Family::E2DataNode,
                    mysqld_transporter,
                )
                .hosts(SQL50, MGMD)
                .at_ms(start_at::MYSQLD_TRANSPORTER),
                f("audit-ndb_config", fam, ndb_config)
                    .hosts(OPS, MGMD)
                    .at_ms(start_at::NDB_CONFIG),
            ],
        )
        .args("--audit")
        .note(
            "data node 2 starting (angel and child, dynamic ports, transporter), mysqld node id \
             refused then 50, its transporter, ndb_mgmd checking itself every 5 s, ndb_config, \
             ndb_waiter polling get status 80 times",
        ),
        cap(
            "audit-listener-long",
            US,
            enc(Link::RawIpv4),
            vec![
                f(
                    "audit-listener-parsable",
                    Family::E4Listen,
                    listener_long_parsable,
                )
                .hosts(MONITOR, MGMD)
                .at_ms(0),
                f(
                    "audit-listener-pretty",
                    Family::E4Listen,
                    listener_pretty_texts,
                )
                .hosts(ADMIN, MGMD)
                .at_ms(PRETTY_AFTER_MS),
            ],
        )
        .args("--audit")
        .note(
            "parsable listener: 5000 PING lines then MemoryUsage, backup, single user and \
             start events; a listener without parsable receiving text events",
        ),
        cap(
            "audit-pipelined-crlf",
            NS,
            eth(),
            vec![
                f("audit-pipelined", fam, pipelined)
                    .hosts(SCRIPTER, MGMD)
                    .seg(8192)
                    .at_ms(0),
                f("audit-crlf-stop", Family::Crlf, crlf_stop)
                    .hosts(TYPIST, MGMD)
                    .at_ms(500),
            ],
        )
        .args("--audit")
        .note(
            "three requests in one segment answered in one segment (as captured with \
             segmentation offload); a CRLF client stopping node 2",
        ),
        cap(
            "audit-lost-segments",
            NG_NS,
            eth(),
            vec![
                f("audit-poller-lost-reply", fam, poller_with_check)
                    .hosts(OPS, MGMD)
                    .at_ms(0)
                    .lost_at(
                        Server,
                        poller_with_check().offset_of_message(Server, POLLER_CHECK_REPLY),
                    ),
                f(
                    "audit-config-lost-blob",
                    Family::E3NodeId,
                    mysqld_big_config,
                )
                .hosts(SQL50, MGMD)
                .at_ms(300)
                .lost_at(
                    Server,
                    mysqld_big_config().offset_of_message(Server, BIG_CONFIG_REPLY) + 2_500,
                ),
                a("audit-show-lost-request", fam, show_status)
                    .at_ms(600)
                    .lost_at(
                        Client,
                        show_status().offset_of_message(Client, SHOW_STATUS_REQUEST),
                    ),
            ],
        )
        .args("--audit")
        .note(
            "segments missing from the capture: the check connection reply after 4.8 KiB of \
             status replies, a segment inside a get config reply's base64 blob, the client \
             segment holding a get status request",
        ),
        cap(
            "audit-midstream-oneway",
            US,
            enc(Link::LinuxSll),
            vec![
                f("audit-poller-midstream", fam, poller)
                    .hosts(OPS, MGMD)
                    .seg(200)
                    .at_ms(0)
                    .mid(CaptureStart::AtOffset {
                        side: Server,
                        offset: poller().offset_of_message(Server, 7) + 300,
                    }),
                a("audit-stop-client-only", Family::E5StopRestart, stop_node3)
                    .at_ms(200)
                    .only(Client),
                f(
                    "audit-mysqld-server-only",
                    Family::E3NodeId,
                    mysqld_allocated,
                )
                .hosts(SQL50, MGMD)
                .at_ms(400)
                .only(Server),
            ],
        )
        .args("--audit")
        .note(
            "capture starts inside a node status reply; a session with only the client \
             direction (3 STOP); one with only the server direction",
        ),
        cap(
            "audit-hostile",
            US,
            eth(),
            vec![
                f("audit-hostile-name", Family::E6Errors, hostile_name)
                    .hosts(FUZZER, MGMD)
                    .at_ms(0),
                f(
                    "audit-hostile-long-value",
                    Family::E6Errors,
                    hostile_long_value,
                )
                .hosts(FUZZER, MGMD)
                .at_ms(2_000),
                f(
                    "audit-hostile-password-names",
                    Family::E6Errors,
                    hostile_password_names,
                )
                .hosts(FUZZER, MGMD)
                .at_ms(4_000),
                f(
                    "audit-hostile-split-password",
                    Family::E6Errors,
                    hostile_split_password,
                )
                .hosts(FUZZER, MGMD)
                .at_ms(6_000),
                f(
                    "audit-hostile-spoofed-reply",
                    Family::E6Errors,
                    hostile_spoofed_reply,
                )
                .hosts(FUZZER, MGMD)
                .at_ms(9_000),
                f("audit-hostile-http", Family::E6Errors, hostile_http)
                    .hosts(FUZZER, MGMD)
                    .at_ms(11_000),
                // The server's answer alone is ndb_mgmd's (notes, section 9 item 13).
                f("audit-hostile-ssh", Family::E6Errors, hostile_ssh)
                    .hosts(FUZZER, MGMD)
                    .at_ms(12_000),
                f("audit-tls-refused-84", Family::E8Tls, tls_refused_84)
                    .hosts(CLIENT84, MGMD84)
                    .at_ms(14_000),
                f("audit-nodeid-taken", Family::E3NodeId, nodeid_taken)
                    .hosts(SQL2, MGMD)
                    .at_ms(15_000),
            ],
        )
        .args("--audit")
        .note(
            "hostile values: control bytes, quote, backslash and non-UTF-8 in a node name; a \
             500-character value; Password and x_password_y arguments; encryption_password \
             split with +encryption_password; spoofed replies; HTTP and SSH sent to ndb_mgmd; \
             an 8.4 server requiring TLS; node id 50 already allocated",
        ),
        cap(
            "audit-control-families",
            US,
            eth(),
            vec![
                a(
                    "audit-control-ndb_mgm",
                    Family::E5StopRestart,
                    control_families,
                )
                .at_ms(0),
                a("audit-control-set-config", fam, set_config).at_ms(families_at::SET_CONFIG),
                a(
                    "audit-control-rondb-hostname",
                    Family::RonDb,
                    rondb_set_hostname,
                )
                .at_ms(families_at::SET_HOSTNAME),
            ],
        )
        .args("--audit")
        .note(
            "from the admin host: ndb_mgm running every other control family (restart all, \
             start all, stop all, insert error, dump state, set trace, log signals, signal \
             log, log levels, log filter, node groups, purge stale sessions, reload config, \
             cluster log queries, show config, dump events with two MemoryUsage events) with \
             refusals (single user, 5005 on restart and create nodegroup, system crash on \
             stop); set config_v2 with its base64 bulk then bye; RonDB set_hostname",
        ),
    ]
}

/// The manifest text (tab-separated, header line first).
pub fn manifest(specs: &[CaptureSpec]) -> String {
    let mut s = String::from("file\targs\texpect\tdescription\n");
    for spec in specs {
        s.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            spec.name,
            spec.args,
            spec.expect(),
            spec.description().replace(['\t', '\n'], " ")
        ));
    }
    s
}

/// Writes every test capture and `MANIFEST.tsv` into `dir` (created if missing). Returns the
/// file names and sizes written.
pub fn write_testdata(dir: &Path) -> io::Result<Vec<(String, usize)>> {
    std::fs::create_dir_all(dir)?;
    let specs = specs();
    let mut written = Vec::with_capacity(specs.len() + 1);
    for spec in &specs {
        let bytes = render(spec).map_err(|e| io::Error::other(format!("{}: {e}", spec.name)))?;
        std::fs::write(dir.join(&spec.name), &bytes)?;
        written.push((spec.name.clone(), bytes.len()));
    }
    let m = manifest(&specs);
    std::fs::write(dir.join("MANIFEST.tsv"), m.as_bytes())?;
    written.push(("MANIFEST.tsv".to_string(), m.len()));
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::{FlowPackets, TcpTrace};
    use crate::IpPair;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use std::collections::{HashMap, HashSet};
    use std::net::IpAddr;

    struct Record {
        ts_ns: u64,
        caplen: usize,
        origlen: usize,
        data: Vec<u8>,
    }

    fn rd32(b: &[u8], at: usize, big: bool) -> u32 {
        let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    }

    /// Minimal independent reader for the files this module writes.
    fn read_capture(b: &[u8]) -> (u32, Vec<Record>) {
        let mut out = Vec::new();
        if b[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            let big = b[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
            let mut at = 0;
            let mut linktype = u32::MAX;
            let mut per_sec = 1_000_000u64;
            while at < b.len() {
                let ty = rd32(b, at, big);
                let len = rd32(b, at + 4, big) as usize;
                assert_eq!(rd32(b, at + len - 4, big) as usize, len);
                if ty == 1 {
                    let lt = if big {
                        u16::from_be_bytes([b[at + 8], b[at + 9]])
                    } else {
                        u16::from_le_bytes([b[at + 8], b[at + 9]])
                    };
                    linktype = u32::from(lt);
                    // if_tsresol is the first option.
                    assert_eq!(b[at + 16..at + 18], if big { [0, 9] } else { [9, 0] });
                    per_sec = 10u64.pow(u32::from(b[at + 20]));
                } else if ty == 6 {
                    let ts =
                        (u64::from(rd32(b, at + 12, big)) << 32) | u64::from(rd32(b, at + 16, big));
                    let caplen = rd32(b, at + 20, big) as usize;
                    let origlen = rd32(b, at + 24, big) as usize;
                    out.push(Record {
                        ts_ns: ts * (1_000_000_000 / per_sec),
                        caplen,
                        origlen,
                        data: b[at + 28..at + 28 + caplen].to_vec(),
                    });
                }
                at += len;
            }
            return (linktype, out);
        }
        let big = b[..4] == [0xa1, 0xb2, 0xc3, 0xd4] || b[..4] == [0xa1, 0xb2, 0x3c, 0x4d];
        let nano = rd32(b, 0, big) == 0xa1b2_3c4d;
        let linktype = rd32(b, 20, big);
        let mut at = 24;
        while at < b.len() {
            let sec = u64::from(rd32(b, at, big));
            let frac = u64::from(rd32(b, at + 4, big));
            let caplen = rd32(b, at + 8, big) as usize;
            let origlen = rd32(b, at + 12, big) as usize;
            out.push(Record {
                ts_ns: sec * 1_000_000_000 + if nano { frac } else { frac * 1000 },
                caplen,
                origlen,
                data: b[at + 16..at + 16 + caplen].to_vec(),
            });
            at += 16 + caplen;
        }
        (linktype, out)
    }

    fn slice(linktype: u32, frame: &[u8]) -> SlicedPacket<'_> {
        match linktype {
            1 => SlicedPacket::from_ethernet(frame).unwrap(),
            113 => SlicedPacket::from_linux_sll(frame).unwrap(),
            276 => SlicedPacket::from_ip(&frame[20..]).unwrap(),
            101 | 228 | 229 => SlicedPacket::from_ip(frame).unwrap(),
            0 | 108 => {
                let af_ok = [2u32, 24, 30];
                let le = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
                let be = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
                assert!(af_ok.contains(&le) || af_ok.contains(&be));
                SlicedPacket::from_ip(&frame[4..]).unwrap()
            }
            other => panic!("unexpected linktype {other}"),
        }
    }

    fn ip_addrs(net: &NetSlice<'_>) -> (IpAddr, IpAddr) {
        match net {
            NetSlice::Ipv4(ip) => {
                let h = ip.header();
                (IpAddr::from(h.source()), IpAddr::from(h.destination()))
            }
            NetSlice::Ipv6(ip) => {
                let h = ip.header();
                (IpAddr::from(h.source()), IpAddr::from(h.destination()))
            }
            _ => panic!("not IP"),
        }
    }

    /// IP header checksum (v4) and TCP/UDP checksum, recomputed by etherparse.
    fn checksums_ok(net: &NetSlice<'_>, t: &TransportSlice<'_>) -> bool {
        match (net, t) {
            (NetSlice::Ipv4(ip), TransportSlice::Tcp(tcp)) => {
                let h = ip.header().to_header();
                h.header_checksum == h.calc_header_checksum()
                    && tcp.calc_checksum_ipv4(h.source, h.destination).ok() == Some(tcp.checksum())
            }
            (NetSlice::Ipv4(ip), TransportSlice::Udp(u)) => {
                let h = ip.header().to_header();
                let c = u
                    .to_header()
                    .calc_checksum_ipv4_raw(h.source, h.destination, u.payload());
                h.header_checksum == h.calc_header_checksum() && c.ok() == Some(u.checksum())
            }
            (NetSlice::Ipv6(ip), TransportSlice::Tcp(tcp)) => {
                let h = ip.header().to_header();
                tcp.calc_checksum_ipv6(h.source, h.destination).ok() == Some(tcp.checksum())
            }
            (NetSlice::Ipv6(ip), TransportSlice::Udp(u)) => {
                let h = ip.header().to_header();
                let c = u
                    .to_header()
                    .calc_checksum_ipv6_raw(h.source, h.destination, u.payload());
                c.ok() == Some(u.checksum())
            }
            _ => false,
        }
    }

    fn is_documentation(ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let o = a.octets();
                matches!(o[..3], [192, 0, 2] | [198, 51, 100] | [203, 0, 113])
            }
            IpAddr::V6(a) => a.segments()[..2] == [0x2001, 0x0db8],
        }
    }

    /// Decodes every frame of a clean capture, checks checksums and addresses, and returns the
    /// TCP payloads seen per (client port, server port, side): (seq, bytes).
    type Seen = HashMap<(IpAddr, u16, u16, bool), Vec<(u32, Vec<u8>)>>;

    fn decode_all(spec: &CaptureSpec, bytes: &[u8]) -> Seen {
        let flows: HashSet<(IpAddr, u16, IpAddr, u16)> = placed_flows(spec)
            .iter()
            .map(|f| {
                (
                    f.addr.client_ip(),
                    f.addr.client_port,
                    f.addr.server_ip(),
                    f.addr.server_port,
                )
            })
            .collect();
        let (linktype, records) = read_capture(bytes);
        assert_eq!(linktype, spec.encap.link.linktype(), "{}", spec.name);
        let mut seen: Seen = HashMap::new();
        let mut last_ts = 0;
        for r in &records {
            assert!(r.ts_ns >= last_ts, "{}: timestamps in order", spec.name);
            last_ts = r.ts_ns;
            assert!(r.ts_ns >= BASE_TS_NS && r.ts_ns < BASE_TS_NS + 3_600_000_000_000);
            assert_eq!(r.caplen, r.data.len());
            if r.caplen < r.origlen {
                assert!(spec.snaplen_cut(), "{}", spec.name);
                continue;
            }
            let p = slice(linktype, &r.data);
            if linktype == 1 {
                assert_eq!(p.link_exts.len(), spec.encap.vlans().len(), "{}", spec.name);
            }
            let net = p.net.as_ref().expect("IP layer");
            let (src, dst) = ip_addrs(net);
            assert!(
                is_documentation(src) && is_documentation(dst),
                "{}",
                spec.name
            );
            let t = p.transport.as_ref().expect("transport");
            assert!(checksums_ok(net, t), "{}: checksums", spec.name);
            let (sport, dport) = match t {
                TransportSlice::Tcp(tcp) => (tcp.source_port(), tcp.destination_port()),
                TransportSlice::Udp(u) => (u.source_port(), u.destination_port()),
                _ => panic!("not tcp/udp"),
            };
            // Which flow and direction: by the placed flows' addresses and ports (a client
            // may share the server's address, as ndb_mgmd connecting to itself does).
            let from_client = match (
                flows.get(&(src, sport, dst, dport)),
                flows.get(&(dst, dport, src, sport)),
            ) {
                (Some(_), _) => true,
                (None, Some(_)) => false,
                (None, None) => panic!("{}: packet of no flow", spec.name),
            };
            let client_ip = if from_client { src } else { dst };
            match t {
                TransportSlice::Tcp(tcp) => {
                    let (cp, sp) = if from_client {
                        (tcp.source_port(), tcp.destination_port())
                    } else {
                        (tcp.destination_port(), tcp.source_port())
                    };
                    if !tcp.payload().is_empty() {
                        seen.entry((client_ip, cp, sp, from_client))
                            .or_default()
                            .push((tcp.sequence_number(), tcp.payload().to_vec()));
                    }
                }
                TransportSlice::Udp(u) => {
                    let (cp, sp) = if from_client {
                        (u.source_port(), u.destination_port())
                    } else {
                        (u.destination_port(), u.source_port())
                    };
                    seen.entry((client_ip, cp, sp, from_client))
                        .or_default()
                        .push((0, u.payload().to_vec()));
                }
                _ => panic!("not tcp/udp"),
            }
        }
        seen
    }

    /// Bytes by stream offset (`None` where nothing was captured), from the first byte seen.
    fn reassemble(segments: &[(u32, Vec<u8>)], seq0: u32) -> (usize, Vec<Option<u8>>) {
        let mut bytes: Vec<Option<u8>> = Vec::new();
        for (seq, data) in segments {
            let off = seq.wrapping_sub(seq0) as usize;
            if bytes.len() < off + data.len() {
                bytes.resize(off + data.len(), None);
            }
            for (i, b) in data.iter().enumerate() {
                if let Some(old) = bytes[off + i] {
                    assert_eq!(old, *b);
                }
                bytes[off + i] = Some(*b);
            }
        }
        let start = bytes
            .iter()
            .position(Option::is_some)
            .unwrap_or(bytes.len());
        (start, bytes.split_off(start))
    }

    /// What the capture must hold of `side`: the trace's segments, by stream offset.
    fn expected_from_trace(t: &TcpTrace, side: Side) -> Option<(usize, Vec<Option<u8>>)> {
        let segs: Vec<(u32, Vec<u8>)> = t
            .packets
            .iter()
            .filter(|p| p.from == side && p.data_len > 0)
            .map(|p| (p.seq, t.payload(p).to_vec()))
            .collect();
        if segs.is_empty() {
            return None;
        }
        Some(reassemble(&segs, t.data_seq0(side)))
    }

    fn loses_segments(fs: &FlowSpec) -> bool {
        fs.plan
            .transforms
            .iter()
            .any(|t| matches!(t, Transform::Drop { .. } | Transform::DropAt { .. }))
    }

    #[test]
    fn every_clean_capture_decodes_to_its_scripts() {
        // Tunnelled captures are checked by tshark's decoding of their inner packets
        // (`tshark_and_tcpdump_accept_every_clean_file`) and end to end by tests/tunnels.rs.
        for spec in specs()
            .iter()
            .filter(|s| s.damage.is_none() && s.tunnel.is_empty())
        {
            let bytes = render(spec).unwrap();
            let seen = decode_all(spec, &bytes);
            for (pf, fs) in placed_flows(spec).iter().zip(&spec.flows) {
                let key = |c: bool| {
                    (
                        pf.addr.client_ip(),
                        pf.addr.client_port,
                        pf.addr.server_port,
                        c,
                    )
                };
                match &pf.packets {
                    FlowPackets::Tcp(t) => {
                        for side in [Side::Client, Side::Server] {
                            let got = seen.get(&key(side == Side::Client));
                            let want = expected_from_trace(t, side);
                            match (got, want) {
                                (None, None) => {}
                                (Some(segs), Some((start, data))) => {
                                    if spec.snaplen_cut() {
                                        continue;
                                    }
                                    let (s, d) = reassemble(segs, t.data_seq0(side));
                                    assert_eq!(
                                        (s, &d),
                                        (start, &data),
                                        "{} {}",
                                        spec.name,
                                        fs.conv
                                    );
                                    let holes = d.iter().filter(|b| b.is_none()).count();
                                    assert!(
                                        holes == 0 || loses_segments(fs),
                                        "{} {}: holes only where segments are lost",
                                        spec.name,
                                        fs.conv
                                    );
                                    if fs.plan.start == CaptureStart::Beginning && holes == 0 {
                                        let d: Vec<u8> = d.iter().flatten().copied().collect();
                                        assert_eq!(
                                            d,
                                            fs.script.stream(side),
                                            "{} {}",
                                            spec.name,
                                            fs.conv
                                        );
                                    }
                                }
                                (g, w) => panic!(
                                    "{} {} {side:?}: seen {} want {}",
                                    spec.name,
                                    fs.conv,
                                    g.is_some(),
                                    w.is_some()
                                ),
                            }
                        }
                    }
                    FlowPackets::Udp(u) => {
                        let c = seen.get(&key(true)).map(Vec::len).unwrap_or(0);
                        let s = seen.get(&key(false)).map(Vec::len).unwrap_or(0);
                        assert_eq!(c + s, u.packets.len(), "{}", spec.name);
                    }
                }
            }
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        for spec in specs() {
            assert_eq!(
                render(&spec).unwrap(),
                render(&spec).unwrap(),
                "{}",
                spec.name
            );
        }
        let dir = |n: &str| {
            std::env::temp_dir().join(format!("ndbsniff-synth-{}-{n}", std::process::id()))
        };
        let (a, b) = (dir("a"), dir("b"));
        let wa = write_testdata(&a).unwrap();
        let wb = write_testdata(&b).unwrap();
        assert_eq!(wa, wb);
        for (name, _) in &wa {
            assert_eq!(
                std::fs::read(a.join(name)).unwrap(),
                std::fs::read(b.join(name)).unwrap(),
                "{name}"
            );
        }
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn the_set_is_small_named_and_manifested() {
        let all = specs();
        assert!((40..=100).contains(&all.len()), "{} files", all.len());
        let names: HashSet<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), all.len(), "unique names");
        for spec in &all {
            let len = render(spec).unwrap().len();
            // The session-audit scenarios run for minutes; the long listener is the largest.
            let limit = match spec.name.as_str() {
                n if n.starts_with("audit-listener-long") => 1024 * 1024,
                n if n.starts_with("audit-") => 300 * 1024,
                _ => 50 * 1024,
            };
            assert!(len < limit, "{} is {len} bytes", spec.name);
            assert!(spec.name.ends_with(".pcap") || spec.name.ends_with(".pcapng"));
            let e = spec.expect();
            let ok = matches!(e.as_str(), "ndb-mgm" | "unknown" | "error" | "partial")
                || e.split(',').all(|p| {
                    let mut kv = p.split('=');
                    matches!(kv.next(), Some("ndb-mgm" | "unknown"))
                        && kv.next().is_some_and(|n| n.parse::<u32>().is_ok())
                });
            assert!(ok, "{}: expect '{e}'", spec.name);
            if spec.damage.is_none() && spec.name.contains("-on-3406") {
                assert_eq!(e, "unknown", "{}", spec.name);
            }
        }
        let m = manifest(&all);
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(lines[0], "file\targs\texpect\tdescription");
        assert_eq!(lines.len(), all.len() + 1);
        assert!(lines.iter().all(|l| l.split('\t').count() == 4));
        let mixed = all
            .iter()
            .find(|s| s.name == "mixed-ndb-and-lookalikes-eth-v4.pcap")
            .unwrap();
        assert_eq!(mixed.expect(), "ndb-mgm=2,unknown=4");
        let watched = all
            .iter()
            .find(|s| s.name == "mixed-3406-and-1186-eth-v4.pcap")
            .unwrap();
        assert_eq!(watched.expect(), "ndb-mgm");
        let any = all
            .iter()
            .find(|s| s.name == "mixed-port1186-anyport-eth-v4.pcap")
            .unwrap();
        assert_eq!(any.expect(), "ndb-mgm=2,unknown=2");
    }

    #[test]
    fn coverage_matrix_is_complete() {
        let all = specs();
        let clean: Vec<&CaptureSpec> = all.iter().filter(|s| s.damage.is_none()).collect();
        let mut pairs: HashSet<(Family, Condition)> = HashSet::new();
        let mut links_with_ndb = HashSet::new();
        let mut formats = HashSet::new();
        let mut vlan_counts = HashSet::new();
        let mut ports = HashSet::new();
        let (mut v4, mut v6) = (false, false);
        for spec in &clean {
            formats.insert((
                spec.format.container,
                spec.format.resolution,
                spec.format.byte_order,
            ));
            vlan_counts.insert(spec.encap.vlans().len());
            for f in &spec.flows {
                if f.family != Family::LookAlike {
                    links_with_ndb.insert(spec.encap.link);
                    ports.insert(f.server_port);
                    if f.v6 {
                        v6 = true
                    } else {
                        v4 = true
                    }
                }
                for c in f.conditions(spec.snaplen_cut()) {
                    pairs.insert((f.family, c));
                }
            }
        }
        use Condition::*;
        for fam in Family::NDB {
            for c in [Normal, OneByte, OutOfOrder, Retransmit, Overlap, MidStream] {
                assert!(pairs.contains(&(fam, c)), "{fam:?} x {c:?} missing");
            }
            assert!(
                pairs.contains(&(fam, ClientOnly)) || pairs.contains(&(fam, ServerOnly)),
                "{fam:?} one side"
            );
            assert!(pairs.contains(&(fam, ServerOnly)), "{fam:?} server only");
        }
        for c in [ClientOnly, NoClose, RstClose, Snaplen] {
            assert!(
                pairs
                    .iter()
                    .any(|(f, k)| *k == c && *f != Family::LookAlike),
                "{c:?}"
            );
        }
        for l in Link::ALL {
            assert!(
                links_with_ndb.contains(&l),
                "{l:?} carries no NDB conversation"
            );
        }
        for n in 0..=3 {
            assert!(vlan_counts.contains(&n), "{n} VLAN tags");
        }
        use ByteOrder::*;
        use Container::*;
        use TsResolution::*;
        for f in [
            (Pcap, Micro, Little),
            (Pcap, Nano, Little),
            (Pcap, Micro, Big),
            (Pcapng, Micro, Little),
            (Pcapng, Nano, Little),
            (Pcapng, Micro, Big),
        ] {
            assert!(formats.contains(&f), "{f:?}");
        }
        assert!(v4 && v6);
        assert!(ports.contains(&3406) && ports.contains(&1186));
        // Every look-alike appears alone on 3406.
        for name in lookalike::CONVERSATIONS.iter().map(|c| c.name) {
            assert!(
                all.iter().any(|s| s.flows.len() == 1
                    && s.flows[0].conv == name
                    && s.flows[0].server_port == 3406),
                "{name}"
            );
        }
        // Damaged files of each kind.
        let kinds: HashSet<String> = all
            .iter()
            .filter_map(|s| s.damage.map(|d| format!("{d:?}")))
            .collect();
        assert!(kinds.len() >= 5);
    }

    #[test]
    fn damaged_files_are_damaged_as_described() {
        for spec in specs().iter().filter(|s| s.damage.is_some()) {
            let clean = render_clean(spec).unwrap();
            let bad = render(spec).unwrap();
            match spec.damage {
                Some(Damage::NotACapture) => assert!(bad.starts_with(b"This is not")),
                Some(Damage::TruncateFileHeader) => assert_eq!(bad.len(), 12),
                Some(Damage::TruncateLastRecord) => {
                    assert!(bad.len() < clean.len() && clean.starts_with(&bad));
                    assert_eq!(spec.expect(), "partial");
                }
                Some(Damage::GarbageAfterRecords) => {
                    assert!(bad.starts_with(&clean) && bad.len() > clean.len())
                }
                Some(Damage::AbsurdCaplen(n)) => {
                    let at = pcap_record_offsets(&clean, spec.format.byte_order)[n];
                    assert_eq!(&bad[at + 8..at + 12], &[0xff, 0xff, 0xff, 0x7f]);
                    assert_eq!(bad.len(), clean.len());
                }
                None => unreachable!(),
            }
        }
    }

    fn have(tool: &str) -> bool {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Cross-checks with tshark and tcpdump when they are installed (skipped otherwise).
    #[test]
    fn tshark_and_tcpdump_accept_every_clean_file() {
        if !have("tshark") || !have("tcpdump") {
            // Straight to stderr, which the test harness does not capture, so the line shows.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED tshark_and_tcpdump_accept_every_clean_file: tshark or tcpdump is not installed"
            );
            return;
        }
        let dir =
            std::env::temp_dir().join(format!("ndbsniff-synth-tshark-{}", std::process::id()));
        write_testdata(&dir).unwrap();
        for spec in specs() {
            let path = dir.join(&spec.name);
            let out = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .arg("-q")
                .output()
                .unwrap();
            let td = std::process::Command::new("tcpdump")
                .arg("-nr")
                .arg(&path)
                .output()
                .unwrap();
            if spec.damage.is_some() {
                assert!(!out.status.success(), "{}: tshark should fail", spec.name);
                assert!(!td.status.success(), "{}: tcpdump should fail", spec.name);
                continue;
            }
            assert!(
                out.status.success(),
                "{}: {}",
                spec.name,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                td.status.success(),
                "{}: {}",
                spec.name,
                String::from_utf8_lossy(&td.stderr)
            );
            let frames = placed_flows(&spec)
                .iter()
                .map(|f| f.packets.len())
                .sum::<usize>();
            if spec.tunnel.is_empty() {
                assert_eq!(
                    String::from_utf8_lossy(&td.stdout).lines().count(),
                    frames,
                    "{}",
                    spec.name
                );
            } else {
                // tcpdump prints a line per layer; tshark must find every frame's inner TCP.
                let inner = std::process::Command::new("tshark")
                    .arg("-r")
                    .arg(&path)
                    .args(["-Y", "tcp", "-T", "fields", "-e", "frame.number"])
                    .output()
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&inner.stdout).lines().count(),
                    frames,
                    "{}: frames whose inner TCP tshark decodes",
                    spec.name
                );
            }
            if spec.snaplen_cut() {
                continue;
            }
            let bad = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args(["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"])
                .args(["-Y", "tcp.checksum.status!=1 or ip.checksum.status!=1 or udp.checksum.status!=1 or _ws.malformed or _ws.expert.severity==error"])
                .output()
                .unwrap();
            assert!(
                bad.stdout.is_empty(),
                "{}: {}",
                spec.name,
                String::from_utf8_lossy(&bad.stdout)
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn audit_captures_hold_what_they_promise() {
        let all = specs();
        let audit: Vec<&CaptureSpec> = all
            .iter()
            .filter(|s| s.name.starts_with("audit-"))
            .collect();
        assert_eq!(audit.len(), 8);
        let mut lost_after_4k = false;
        for spec in &audit {
            // Every flow has its own 4-tuple, and starts in the first hour.
            let placed = placed_flows(spec);
            let tuples: HashSet<_> = placed
                .iter()
                .map(|f| (f.addr.client_ip(), f.addr.client_port, f.addr.server_ip()))
                .collect();
            assert_eq!(tuples.len(), placed.len(), "{}", spec.name);
            for (pf, fs) in placed.iter().zip(&spec.flows) {
                let FlowPackets::Tcp(t) = &pf.packets else {
                    panic!("{}: tcp only", spec.name)
                };
                if !loses_segments(fs) {
                    continue;
                }
                // A lost segment leaves a hole in exactly one direction.
                let mut holes = 0;
                for side in [Side::Client, Side::Server] {
                    let (start, d) = expected_from_trace(t, side).unwrap();
                    assert_eq!(start, 0);
                    if let Some(h) = d.iter().position(Option::is_none) {
                        holes += 1;
                        assert!(
                            d.len() == t.stream(side).len(),
                            "{}: data after the hole",
                            fs.conv
                        );
                        lost_after_4k |= side == Side::Server && h >= 4096;
                    }
                }
                assert_eq!(holes, 1, "{} {}", spec.name, fs.conv);
            }
        }
        assert!(lost_after_4k, "one loss past the first 4096 server bytes");
        // More than 64 commands in one flow (ndb_waiter).
        let start = audit
            .iter()
            .find(|s| s.name == "audit-cluster-start.pcapng")
            .unwrap();
        let waiter = start
            .flows
            .iter()
            .find(|f| f.conv == "audit-ndb_waiter")
            .unwrap();
        let c = waiter.script.stream(Side::Client);
        assert!(c.windows(2).filter(|w| w == b"\n\n").count() > 64);
        // The self connection's two ends share the server's address.
        let me = start
            .flows
            .iter()
            .find(|f| f.conv == "audit-mgmd-self")
            .unwrap();
        assert_eq!(me.hosts, Some((audit::MGMD, audit::MGMD)));
    }

    #[test]
    fn v6_addresses_use_the_documentation_prefix() {
        let a = flow_addr(3, true, 1, 2);
        match a.ips {
            IpPair::V6 { client, server } => {
                assert_eq!(&client[..4], &[0x20, 0x01, 0x0d, 0xb8]);
                assert_eq!(&server[..4], &[0x20, 0x01, 0x0d, 0xb8]);
            }
            IpPair::V4 { .. } => panic!(),
        }
    }
}
