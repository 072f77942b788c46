//! What ndbsniff reports: flow records, server rows, the run summary, and their printers.
//!
//! Owns: the shape and the names of every output field. `text` prints for a person, `json` prints
//! JSON lines for tools. Every string that came from a packet is escaped before it gets here.
//!
//! Never: decides verdicts or reads packets.

pub mod json;
pub mod text;
pub mod time;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::classify::{Confidence, Verdict};
use crate::decode::Transport;

impl Serialize for Transport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

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
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Open => "open",
            FlowState::HalfClosed => "half-closed",
            FlowState::Closed => "closed",
            FlowState::Reset => "reset",
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

/// One conversation, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub verdict: Verdict,
    pub confidence: Confidence,
    pub evidence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<&'static str>,
    pub packets_to_server: u64,
    pub packets_to_client: u64,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    #[serde(serialize_with = "time::serialize_us")]
    pub first_seen: i64,
    #[serde(serialize_with = "time::serialize_us")]
    pub last_seen: i64,
    pub state: FlowState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    pub roles_from: RolesFrom,
}

/// Counters for the whole run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// The file or interface read.
    pub source: String,
    /// libpcap's name for the link type, with its number, e.g. `EN10MB (1)`.
    pub link_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    pub packets_read: u64,
    pub bytes_read: u64,
    /// TCP or UDP packets decoded (on any port).
    pub packets_decoded: u64,
    /// Decoded packets that belong to watched flows.
    pub packets_watched: u64,
    /// Decoded packets on ports not watched (seen only when the BPF filter let them through).
    pub packets_other_ports: u64,
    pub packets_not_decoded: u64,
    pub not_decoded: BTreeMap<&'static str, u64>,
    pub dropped_by_ndbsniff: u64,
    pub flows: u64,
    pub flows_by_verdict: BTreeMap<&'static str, u64>,
    pub servers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One server endpoint and everything seen talking to it: the answer to "what is on 3406?".
#[derive(Clone, Debug)]
pub struct ServerRow {
    pub server: SocketAddr,
    pub transport: Transport,
    pub verdict: Verdict,
    pub confidence: Confidence,
    pub flows: u64,
    pub clients: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub evidence: String,
    pub hint: Option<&'static str>,
}

/// Groups flows by server endpoint. A server is `ndb-mgm` when any of its flows is; its evidence
/// and confidence are those of its most convincing flow of that verdict.
pub fn server_rows(flows: &[FlowRecord]) -> Vec<ServerRow> {
    let mut groups: BTreeMap<(SocketAddr, &'static str), Vec<&FlowRecord>> = BTreeMap::new();
    for f in flows {
        groups.entry((f.server, f.transport.as_str())).or_default().push(f);
    }
    groups
        .into_iter()
        .map(|((server, _), fs)| {
            let transport = fs[0].transport;
            let verdict = fs.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Unknown);
            let best = fs
                .iter()
                .filter(|f| f.verdict == verdict)
                .max_by_key(|f| (f.confidence, !f.evidence.is_empty(), f.packets_to_server + f.packets_to_client))
                .copied();
            let mut clients: Vec<_> = fs.iter().map(|f| f.client.ip()).collect();
            clients.sort_unstable();
            clients.dedup();
            ServerRow {
                server,
                transport,
                verdict,
                confidence: best.map_or(Confidence::Low, |b| b.confidence),
                flows: fs.len() as u64,
                clients: clients.len() as u64,
                packets: fs.iter().map(|f| f.packets_to_server + f.packets_to_client).sum(),
                bytes: fs.iter().map(|f| f.bytes_to_server + f.bytes_to_client).sum(),
                first_seen: fs.iter().map(|f| f.first_seen).min().unwrap_or(0),
                last_seen: fs.iter().map(|f| f.last_seen).max().unwrap_or(0),
                evidence: best.map(|b| b.evidence.clone()).unwrap_or_default(),
                hint: best.and_then(|b| b.hint),
            }
        })
        .collect()
}
