//! What ndbsniff reports: flow records, server rows, the run summary, and their printers.
//!
//! Owns: the shape and the names of every output field. [`Format`] lists the output formats,
//! each with one printer ([`Printer`]): `text` prints for a person, `json` prints JSON lines for
//! tools, `eve` prints JSON lines in the shape of Suricata's EVE log; [`sink`] counts what they
//! print. Every string that came from a packet is escaped before it gets here.
//!
//! Never: decides verdicts or reads packets.

pub mod anomaly;
pub mod cluster;
pub mod eve;
pub mod format;
pub mod json;
pub mod ndb;
pub mod servers;
pub mod sink;
pub mod text;
pub mod time;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

pub use self::anomaly::{Anomalies, Anomaly};
pub use self::format::{Format, Printer};
use crate::classify::{Confidence, Verdict};
use crate::decode::{Transport, TunnelLayer};
use crate::flow::record::End;

/// How a flow ended, or that it had not when the capture did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowState {
    /// No FIN or RST seen (or UDP): still open when the capture ended.
    Open,
    /// FIN from one side only.
    HalfClosed,
    /// FIN from both sides.
    Closed,
    /// RST seen.
    Reset,
    /// No packet for the idle timeout; reported and freed.
    Idle,
    /// Pushed out of a full flow table; reported and freed.
    Evicted,
}

impl FlowState {
    /// The name printed in the text `STATE` column and the JSON `state` key: `open`,
    /// `half-closed`, `closed`, `reset`, `idle` or `evicted`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Open => "open",
            FlowState::HalfClosed => "half-closed",
            FlowState::Closed => "closed",
            FlowState::Reset => "reset",
            FlowState::Idle => "idle",
            FlowState::Evicted => "evicted",
        }
    }
}

/// What decided which endpoint is the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RolesFrom {
    /// The TCP handshake: the SYN sender is the client.
    Handshake,
    /// The payload: requests came from the client, replies from the server.
    Content,
    /// Ports: the endpoint not on a watched port, else the higher port, is the client.
    Port,
}

impl RolesFrom {
    /// The name printed as the JSON `roles_from` key: `handshake`, `content` or `port`.
    pub fn as_str(self) -> &'static str {
        match self {
            RolesFrom::Handshake => "handshake",
            RolesFrom::Content => "content",
            RolesFrom::Port => "port",
        }
    }
}

/// One conversation, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    /// A number for the connection, the same in every run (from its Community ID digest,
    /// below 2^53).
    pub flow_id: u64,
    /// The connection's Community ID v1 (seed 0), as Zeek, Suricata and Arkime write it.
    pub community_id: String,
    /// `tcp` or `udp` (JSON `transport`, text `PROTO`).
    pub transport: Transport,
    /// The client's address and port, as decided by [`FlowRecord::roles_from`].
    pub client: SocketAddr,
    /// The server's address and port (the other endpoint).
    pub server: SocketAddr,
    /// What the flow speaks: `ndb-mgm` or `unknown`.
    pub verdict: Verdict,
    /// How sure the verdict is: `low`, `medium` or `high`.
    pub confidence: Confidence,
    /// The deciding lines of each side, escaped: `client: ... | server: ...`, or only the side
    /// that gave any; empty when neither did.
    pub evidence: String,
    /// For `unknown` flows, what the flow looks like instead (`tls`, `http`, ...; the text
    /// verdict cell shows it as `unknown (tls)`); `None`, and omitted from JSON, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
    /// For `ndb-mgm` flows whose text part ended in a switch, `transporter` or `tls`; `None`,
    /// and omitted from JSON, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<&'static str>,
    /// Packets sent by the client (text `PKTS C>S`).
    pub packets_to_server: u64,
    /// Packets sent by the server (text `PKTS S>C`).
    pub packets_to_client: u64,
    /// Bytes sent by the client, whole frames as on the wire (text `BYTES C>S`).
    pub bytes_to_server: u64,
    /// Bytes sent by the server, whole frames as on the wire (text `BYTES S>C`).
    pub bytes_to_client: u64,
    /// Time of the flow's first packet, microseconds since the Unix epoch; printed as RFC 3339
    /// with microseconds (`2024-03-01T12:00:00.000001Z`).
    #[serde(serialize_with = "time::serialize_us")]
    pub first_seen: i64,
    /// Time of the flow's last packet, as [`FlowRecord::first_seen`].
    #[serde(serialize_with = "time::serialize_us")]
    pub last_seen: i64,
    /// How the flow ended or why it was reported (`idle`, `evicted`); `open` if it was still
    /// running when the capture ended.
    pub state: FlowState,
    /// The outermost VLAN id of the flow's packets; `None`, and omitted from JSON, when
    /// untagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// The tunnel layers the flow's first tunnelled packet came through, outermost first
    /// (`[{"type":"vxlan","vni":4242,"outer":"a:p → b:p"}]`); `None`, and omitted from JSON,
    /// when it came through none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Box<[TunnelLayer]>>,
    /// What decided which endpoint is the client.
    pub roles_from: RolesFrom,
    /// What went wrong while reassembling (overlapping copies that disagree, bad checksums,
    /// the memory cap, the re-anchoring limit); omitted when nothing did.
    #[serde(skip_serializing_if = "Anomalies::is_empty")]
    pub anomalies: Anomalies,
    /// For `ndb-mgm` flows, the audit of the session (see [`ndb::NdbSession`]); `None`, and
    /// omitted from JSON, otherwise (and in verdicts announced while the flow runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndb: Option<Box<ndb::NdbSession>>,
    /// Why the record was written: the flow went idle (or closed and lingered), was evicted, or
    /// was still running (at the end of the capture, or for a verdict announced while it runs).
    /// Not a JSON or text field (`state` says as much there); EVE's `flow.reason` comes from it.
    #[serde(skip)]
    pub end: End,
}

impl FlowRecord {
    /// The transport with the tunnel kinds, outermost first: `tcp`, `tcp/vxlan`,
    /// `udp/mpls+gre` (text `PROTO`).
    pub fn proto_cell(&self) -> String {
        proto_cell(
            self.transport,
            tunnel_kinds(self.tunnel.as_deref()).as_deref(),
        )
    }
}

/// The kinds of tunnel layers, outermost first, joined by `+`; `None` for no layer.
pub fn tunnel_kinds(layers: Option<&[TunnelLayer]>) -> Option<Box<str>> {
    let layers = layers.filter(|l| !l.is_empty())?;
    let names: Vec<&str> = layers.iter().map(|l| l.kind.as_str()).collect();
    Some(names.join("+").into_boxed_str())
}

/// `tcp`, or `tcp/vxlan` when the flow came through tunnels of these kinds.
pub fn proto_cell(transport: Transport, kinds: Option<&str>) -> String {
    match kinds {
        Some(k) => format!("{}/{k}", transport.as_str()),
        None => transport.as_str().to_string(),
    }
}

#[cfg(test)]
impl FlowRecord {
    /// A one-packet TCP flow from `client` to `server`, open, seen at `t` (unit tests).
    pub(crate) fn for_tests(
        server: SocketAddr,
        client: SocketAddr,
        verdict: Verdict,
        t: i64,
    ) -> FlowRecord {
        FlowRecord {
            flow_id: 0,
            community_id: String::new(),
            transport: Transport::Tcp,
            client,
            server,
            verdict,
            confidence: Confidence::Low,
            evidence: String::new(),
            hint: None,
            upgrade: None,
            packets_to_server: 1,
            packets_to_client: 0,
            bytes_to_server: 60,
            bytes_to_client: 0,
            first_seen: t,
            last_seen: t,
            state: FlowState::Open,
            vlan: None,
            tunnel: None,
            roles_from: RolesFrom::Handshake,
            anomalies: Anomalies::default(),
            ndb: None,
            end: End::Running,
        }
    }
}

/// One file of several read as one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    /// The file, escaped as every printed name is.
    pub source: String,
    /// Its link type, e.g. `EN10MB (1)`.
    pub link_type: String,
    /// Frames read from it (after the filter).
    pub packets_read: u64,
    /// Their lengths on the wire, summed.
    pub bytes_read: u64,
    /// Why it stopped before its end, when it was damaged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One capture thread's socket of a live capture with several (`--capture-threads`): what it
/// read and what was dropped before it. The run's totals are the sums over them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaptureThreadSummary {
    /// Frames it read (after the filter).
    pub packets_read: u64,
    /// Packets the kernel gave its socket (libpcap's ps_recv), once libpcap has given statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_by_kernel: Option<u64>,
    /// Dropped because its ring was full (ps_drop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by_kernel: Option<u64>,
    /// Dropped by the interface or its driver (ps_ifdrop): the interface's count, which every
    /// socket reports alike (in promiscuous mode), so the run's total is the largest, not the sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by_interface: Option<u64>,
    /// Dropped because its flow workers were behind.
    pub dropped_by_ndbsniff: u64,
}

/// Counters for the whole run (or, with `final` false, for the run so far).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// When the line stands: the capture time of the last packet read (a file: the same in
    /// every run), or in a live capture the wall-clock time it was made; microseconds since the
    /// Unix epoch. `None` when a file gave no packet. Each printer writes it in its own form
    /// (JSON `timestamp` before the counters, EVE `timestamp` outside `stats`).
    #[serde(skip)]
    pub timestamp: Option<i64>,
    /// False for the periodic statistics of a running capture, true for the last one.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Something outside the run (a SIGINT, SIGTERM or SIGHUP, through `Config::stop`) stopped
    /// the capture before it had been read to its end (or, live, ended it): the report covers
    /// what was read until then. False when `-c`, `--duration` or a closed output ended it.
    /// Always present.
    pub interrupted: bool,
    /// The file or interface read (several files: the `-r` arguments, joined by `, `).
    pub source: String,
    /// libpcap's name for the link type, with its number, e.g. `EN10MB (1)` (several files of
    /// different link types: each, joined by `, `).
    pub link_type: String,
    /// Several files read as one (`-r` more than once, or a directory): each file, in the order
    /// given; empty, and omitted from JSON, for a single source.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSummary>,
    /// The ports watched, e.g. `port 3406`, or `any port`.
    pub watching: String,
    /// The BPF expression in force (the user's, and the port selection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The user's own BPF expression, if any.
    #[serde(skip)]
    pub user_filter: Option<String>,
    /// Frames read from the file or the interface, whatever they held.
    pub packets_read: u64,
    /// Their lengths on the wire, summed (not only the captured part).
    pub bytes_read: u64,
    /// TCP or UDP packets decoded (on any port).
    pub packets_decoded: u64,
    /// Decoded packets that belong to watched flows.
    pub packets_watched: u64,
    /// Decoded packets on ports not watched (seen only when the BPF filter let them through).
    pub packets_other_ports: u64,
    /// Frames that gave no TCP or UDP packet (the sum of `not_decoded`).
    pub packets_not_decoded: u64,
    /// Those frames by reason (`not-ip`, `not-tcp-udp`, `truncated`, `malformed-ip`, ...); only
    /// reasons seen are listed.
    pub not_decoded: BTreeMap<&'static str, u64>,
    /// IPv4 and IPv6 fragments seen (each counted here, not in `packets_not_decoded`).
    pub fragments_seen: u64,
    /// Datagrams put back together from them (each then decoded like one packet).
    pub datagrams_reassembled: u64,
    /// Fragments dropped without becoming part of a datagram (`fragment_drops` by reason).
    pub fragments_dropped: u64,
    /// `fragments_dropped` by reason; only reasons seen are listed.
    pub fragment_drops: BTreeMap<&'static str, u64>,
    /// Live capture: packets the kernel saw for this capture (libpcap's ps_recv).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_by_kernel: Option<u64>,
    /// Live capture: dropped because the kernel buffer was full (ps_drop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by_kernel: Option<u64>,
    /// Live capture: dropped by the interface or its driver (ps_ifdrop; with several capture
    /// threads the largest of their counts, all being the interface's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by_interface: Option<u64>,
    /// Packets ndbsniff itself dropped because its workers were behind (live capture only).
    pub dropped_by_ndbsniff: u64,
    /// A live capture with several capture threads: each one's socket, in thread order (the
    /// counters above are their sums); empty, and omitted from JSON, with one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capture_threads: Vec<CaptureThreadSummary>,
    /// Flows reported (each once, whether it ended, was evicted or was still open).
    pub flows: u64,
    /// Those flows by verdict name (`ndb-mgm`, `unknown`); only verdicts seen are listed.
    pub flows_by_verdict: BTreeMap<&'static str, u64>,
    /// The `unknown` flows by hint (`tls`, `http`, …; `none` when nothing was recognised);
    /// only hints seen are listed.
    pub unknown_by_hint: BTreeMap<&'static str, u64>,
    /// Flows pushed out of a full table (`--max-flows`), each reported with state `evicted`.
    pub flows_evicted: u64,
    /// Times buffering was refused because `--memcap` was reached (reassembly went on without it).
    pub memcap_hits: u64,
    /// TCP segments whose checksum was wrong, among those checked: segments with payload,
    /// captured whole, fed to a flow still being inspected. They were used, not dropped.
    pub tcp_bad_checksums: u64,
    /// Flows reported with each anomaly (see [`Anomaly`]); only anomalies seen are listed.
    pub anomalies: BTreeMap<&'static str, u64>,
    /// NDB sessions reported with each risk (see [`ndb::Risk`]); only risks seen are listed.
    pub ndb_risks: BTreeMap<&'static str, u64>,
    /// Distinct server endpoints (address, port, transport) seen.
    pub servers: u64,
    /// `servers` is an estimate: more servers were seen than are counted exactly (65,536).
    pub servers_estimated: bool,
    /// Why reading stopped early (a damaged capture file, a failing interface); everything
    /// read before it is reported. `None`, and omitted from JSON, when reading ended normally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What changed since the previous statistics line of the run (for the first: since the
    /// start); `None`, and omitted, for summaries not printed as statistics lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta>,
}

/// The counters of a statistics line that move, as they stand ([`Summary::counts`]) or as they
/// changed between two lines ([`Delta::since`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// As [`Summary::packets_read`].
    pub packets_read: u64,
    /// As [`Summary::bytes_read`].
    pub bytes_read: u64,
    /// As [`Summary::packets_decoded`].
    pub packets_decoded: u64,
    /// As [`Summary::packets_watched`].
    pub packets_watched: u64,
    /// As [`Summary::packets_not_decoded`].
    pub packets_not_decoded: u64,
    /// As [`Summary::flows`].
    pub flows: u64,
    /// As [`Summary::flows_evicted`].
    pub flows_evicted: u64,
    /// As [`Summary::dropped_by_kernel`]: live captures, once libpcap has given statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by_kernel: Option<u64>,
    /// As [`Summary::dropped_by_ndbsniff`]: live captures only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by_ndbsniff: Option<u64>,
}

impl Summary {
    /// The counters a [`Delta`] follows, as they stand; `live` keeps the drop counters.
    pub fn counts(&self, live: bool) -> Delta {
        Delta {
            packets_read: self.packets_read,
            bytes_read: self.bytes_read,
            packets_decoded: self.packets_decoded,
            packets_watched: self.packets_watched,
            packets_not_decoded: self.packets_not_decoded,
            flows: self.flows,
            flows_evicted: self.flows_evicted,
            dropped_by_kernel: self.dropped_by_kernel.filter(|_| live),
            dropped_by_ndbsniff: live.then_some(self.dropped_by_ndbsniff),
        }
    }
}

impl Delta {
    /// The change from `earlier` (the counts of the previous line, or zero at the start) to
    /// `self`. A counter that went down (libpcap's 32-bit drop counts wrap) counts as 0; a drop
    /// counter known only now counts from 0.
    pub fn since(&self, earlier: &Delta) -> Delta {
        let opt =
            |now: Option<u64>, then: Option<u64>| now.map(|n| n.saturating_sub(then.unwrap_or(0)));
        Delta {
            packets_read: self.packets_read.saturating_sub(earlier.packets_read),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            packets_decoded: self.packets_decoded.saturating_sub(earlier.packets_decoded),
            packets_watched: self.packets_watched.saturating_sub(earlier.packets_watched),
            packets_not_decoded: self
                .packets_not_decoded
                .saturating_sub(earlier.packets_not_decoded),
            flows: self.flows.saturating_sub(earlier.flows),
            flows_evicted: self.flows_evicted.saturating_sub(earlier.flows_evicted),
            dropped_by_kernel: opt(self.dropped_by_kernel, earlier.dropped_by_kernel),
            dropped_by_ndbsniff: opt(self.dropped_by_ndbsniff, earlier.dropped_by_ndbsniff),
        }
    }
}

/// One server endpoint and everything seen talking to it: the answer to "what is on 3406?".
#[derive(Clone, Debug)]
pub struct ServerRow {
    /// The server's address and port (text `SERVER`).
    pub server: SocketAddr,
    /// `tcp` or `udp` (text `PROTO`).
    pub transport: Transport,
    /// The tunnel kinds of the first of its flows that came through a tunnel, outermost first
    /// (`vxlan`, `mpls+gre`; text `PROTO` `tcp/vxlan`).
    pub tunnel: Option<Box<str>>,
    /// The best verdict of its flows (`ndb-mgm` over `unknown`, then by confidence, then one
    /// with evidence); text `VERDICT`.
    pub verdict: Verdict,
    /// The confidence of the flow the verdict came from (text `CONF`).
    pub confidence: Confidence,
    /// Flows with this server counted into the row (text `FLOWS`).
    pub flows: u64,
    /// Distinct client addresses (not ports) seen; a lower bound, printed `N+`, once the
    /// per-server or total client memory was full (text `CLIENTS`).
    pub clients: u64,
    /// Packets of its flows, both directions (text `PACKETS`).
    pub packets: u64,
    /// Wire bytes of its flows, both directions (text `BYTES`).
    pub bytes: u64,
    /// Earliest first packet of its flows, microseconds since the Unix epoch (text
    /// `FIRST SEEN`, RFC 3339).
    pub first_seen: i64,
    /// Latest last packet of its flows, as `first_seen` (text `LAST SEEN`).
    pub last_seen: i64,
    /// The evidence of the flow the verdict came from (text `EVIDENCE`); may be empty.
    pub evidence: String,
    /// The hint of the flow the verdict came from (shown in the verdict cell as
    /// `unknown (hint)`); `None` for `ndb-mgm` or when nothing was recognised.
    pub hint: Option<&'static str>,
    /// Every anomaly of any of its flows.
    pub anomalies: Anomalies,
    /// Its flows with an NDB session audit.
    pub ndb_flows: u64,
    /// The peer kinds of its NDB sessions (text `PEERS`).
    pub peers: ndb::Peers,
    /// The risks of its NDB sessions (text `RISKS`).
    pub risks: ndb::Risks,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_the_change_since_the_previous_line() {
        let mut s = Summary {
            packets_read: 10,
            bytes_read: 1000,
            packets_decoded: 9,
            packets_watched: 8,
            packets_not_decoded: 1,
            flows: 3,
            flows_evicted: 1,
            dropped_by_ndbsniff: 2,
            ..Summary::default()
        };
        // The first line: since the start, so the totals; files keep no drop counters.
        let first = s.counts(false);
        assert_eq!(first.since(&Delta::default()), first);
        assert_eq!(first.dropped_by_ndbsniff, None);
        assert_eq!(first.dropped_by_kernel, None);
        s.packets_read = 25;
        s.bytes_read = 1500;
        s.flows = 3;
        s.packets_not_decoded = 4;
        let d = s.counts(false).since(&first);
        assert_eq!(
            d,
            Delta {
                packets_read: 15,
                bytes_read: 500,
                packets_decoded: 0,
                packets_watched: 0,
                packets_not_decoded: 3,
                flows: 0,
                flows_evicted: 0,
                dropped_by_kernel: None,
                dropped_by_ndbsniff: None,
            }
        );

        // Live: the drop counters, from zero when libpcap's statistics arrive late, and a
        // counter that went down (a wrapped 32-bit drop count) as no change.
        let before = s.counts(true);
        assert_eq!(before.dropped_by_ndbsniff, Some(2));
        assert_eq!(before.dropped_by_kernel, None);
        s.dropped_by_kernel = Some(40);
        s.dropped_by_ndbsniff = 5;
        let later = s.counts(true);
        let d = later.since(&before);
        assert_eq!(d.dropped_by_kernel, Some(40));
        assert_eq!(d.dropped_by_ndbsniff, Some(3));
        s.dropped_by_kernel = Some(3);
        let d = s.counts(true).since(&later);
        assert_eq!(d.dropped_by_kernel, Some(0));
        let json = serde_json::to_value(d).unwrap();
        assert_eq!(json["dropped_by_kernel"], 0);
        let json = serde_json::to_value(first).unwrap();
        assert!(
            json.get("dropped_by_kernel").is_none() && json.get("dropped_by_ndbsniff").is_none()
        );
    }
}
