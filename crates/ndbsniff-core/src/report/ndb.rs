//! What the audit of an NDB management session reports: the flow record's `"ndb"` object
//! ([`NdbSession`]), its commands, events and risks, and the names of each.
//!
//! Owns: the shape and the printed names of these fields (peer kinds, node types, risks, the
//! command entries). Every string here came from the wire and was escaped, cut to its bound and,
//! for secrets, redacted by the audit before it got here (see [`crate::audit`]).
//!
//! Never: parses packets or decides anything (the audit does).

use std::net::IpAddr;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use super::time;

/// What the client of a management session is, from the commands it sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    /// The ndb_mgm client: `check connection` before its commands.
    NdbMgm,
    /// A data node (ndbd, ndbmtd): `get nodeid` or `get config` with node type 0.
    DataNode,
    /// An API node (mysqld, an NDB API program): node type 1.
    Api,
    /// A management server (another one, or the same one to itself): `check connection` only,
    /// every few seconds, or node type 2.
    Mgmd,
    /// `listen event`: a connection that receives the cluster log.
    EventListener,
    /// `get version` and `get config` only (ndb_config and the like).
    ConfigReader,
    /// `get status` again and again (ndb_waiter and monitoring).
    StatusPoller,
    /// None of the above (or nothing sent).
    #[default]
    Unknown,
}

impl Peer {
    /// Every kind, in the order sets of them are printed.
    pub const ALL: [Peer; 8] = [
        Peer::NdbMgm,
        Peer::DataNode,
        Peer::Api,
        Peer::Mgmd,
        Peer::EventListener,
        Peer::ConfigReader,
        Peer::StatusPoller,
        Peer::Unknown,
    ];

    /// The printed name: `ndb_mgm`, `data-node`, `api`, `mgmd`, `event-listener`,
    /// `config-reader`, `status-poller` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Peer::NdbMgm => "ndb_mgm",
            Peer::DataNode => "data-node",
            Peer::Api => "api",
            Peer::Mgmd => "mgmd",
            Peer::EventListener => "event-listener",
            Peer::ConfigReader => "config-reader",
            Peer::StatusPoller => "status-poller",
            Peer::Unknown => "unknown",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl Serialize for Peer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A set of [`Peer`] kinds, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Peers(u8);

impl Peers {
    /// Adds one kind.
    pub fn insert(&mut self, p: Peer) {
        self.0 |= p.bit();
    }

    /// The kinds in the set, in [`Peer::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Peer> {
        Peer::ALL.into_iter().filter(move |p| self.0 & p.bit() != 0)
    }

    /// True when no kind is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets together.
    pub fn union(self, other: Peers) -> Peers {
        Peers(self.0 | other.0)
    }

    /// The names joined with `,`.
    pub fn joined(self) -> String {
        self.iter().map(Peer::as_str).collect::<Vec<_>>().join(",")
    }
}

impl Serialize for Peers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The kind of an NDB node (the protocol's `nodetype`: 0 data, 1 API, 2 management).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeType {
    /// A data node (`NDB`, node type 0).
    Data,
    /// An API or SQL node (`API`, node type 1).
    Api,
    /// A management server (`MGM`, node type 2).
    Mgm,
}

impl NodeType {
    /// The node type of a `nodetype` argument (`0`, `1`, `2`), if it is one.
    pub fn from_number(n: i64) -> Option<NodeType> {
        match n {
            0 => Some(NodeType::Data),
            1 => Some(NodeType::Api),
            2 => Some(NodeType::Mgm),
            _ => None,
        }
    }

    /// The node type of a `node.N.type` value of a `node status` reply (`NDB`, `API`, `MGM`).
    pub fn from_status(t: &[u8]) -> Option<NodeType> {
        match t {
            b"NDB" => Some(NodeType::Data),
            b"API" => Some(NodeType::Api),
            b"MGM" => Some(NodeType::Mgm),
            _ => None,
        }
    }

    /// The printed name: `data`, `api` or `mgm`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Data => "data",
            NodeType::Api => "api",
            NodeType::Mgm => "mgm",
        }
    }
}

impl Serialize for NodeType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Something about a management session an operator should look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    /// A command that changes the cluster (stop, restart, start, backup, single-user mode, a
    /// configuration change, error insertion, …) in a plaintext session.
    ClusterControl,
    /// Such a command from a host that is not a node of the cluster map.
    ControlFromUnknownHost,
    /// A `get nodeid` the server refused.
    NodeIdRefused,
    /// The server answered `Unknown command` (a scanner, or a client of another protocol).
    UnknownCommand,
    /// The server requires TLS and refused a plaintext command (8.3 and later).
    TlsRequired,
    /// The server refused a command for another authorization reason.
    AuthFailed,
}

impl Risk {
    /// Every risk, in the order they are printed.
    pub const ALL: [Risk; 6] = [
        Risk::ClusterControl,
        Risk::ControlFromUnknownHost,
        Risk::NodeIdRefused,
        Risk::UnknownCommand,
        Risk::TlsRequired,
        Risk::AuthFailed,
    ];

    /// The printed name: `cluster-control`, `control-from-unknown-host`, `node-id-refused`,
    /// `unknown-command`, `tls-required` or `auth-failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::ClusterControl => "cluster-control",
            Risk::ControlFromUnknownHost => "control-from-unknown-host",
            Risk::NodeIdRefused => "node-id-refused",
            Risk::UnknownCommand => "unknown-command",
            Risk::TlsRequired => "tls-required",
            Risk::AuthFailed => "auth-failed",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl Serialize for Risk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A set of [`Risk`]s, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Risks(u8);

impl Risks {
    /// Adds one risk.
    pub fn insert(&mut self, r: Risk) {
        self.0 |= r.bit();
    }

    /// True when `r` is in the set.
    pub fn contains(self, r: Risk) -> bool {
        self.0 & r.bit() != 0
    }

    /// The risks in the set, in [`Risk::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Risk> {
        Risk::ALL.into_iter().filter(move |r| self.0 & r.bit() != 0)
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets together.
    pub fn union(self, other: Risks) -> Risks {
        Risks(self.0 | other.0)
    }

    /// The names joined with `,`.
    pub fn joined(self) -> String {
        self.iter().map(Risk::as_str).collect::<Vec<_>>().join(",")
    }
}

impl Serialize for Risks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for r in self.iter() {
            seq.serialize_element(r.as_str())?;
        }
        seq.end()
    }
}

/// `name: value` pairs in the order they came, printed as a JSON object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// The value of the first pair named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(String, String)>()
            + self
                .0
                .iter()
                .map(|(n, v)| n.capacity() + v.capacity())
                .sum::<usize>()
    }
}

impl Serialize for Pairs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A name given twice (the protocol refuses it, a hostile client may send it) keeps
        // every value: later ones get `#2`, `#3`… so the object has unique keys.
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            let seen = self.0.iter().take(i).filter(|(m, _)| m == n).count();
            if seen == 0 {
                map.serialize_entry(n, v)?;
            } else {
                map.serialize_entry(&format!("{n}#{}", seen + 1), v)?;
            }
        }
        map.end()
    }
}

/// One request of a session and the reply it got.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Command {
    /// When the request was complete (or, for a reply without its request, the reply),
    /// microseconds since the Unix epoch; printed RFC 3339.
    #[serde(serialize_with = "time::serialize_us")]
    pub at: i64,
    /// The request line (`stop v2`); for a line the server does not know, that line, escaped.
    /// Absent for a reply whose request was not captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The request's arguments, secrets redacted; omitted when there were none.
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    pub args: Pairs,
    /// The reply's header line (`stop reply`); absent for replies without one and requests
    /// without a reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// The value of the reply's `result:` line (or the refusal's `Error:` text); absent when
    /// the reply has none or no reply was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The facts of the reply worth keeping (`nodeid`, `id`, `stopped`, `error_code`, …).
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    pub fields: Pairs,
    /// The command changes the cluster ([`Risk::ClusterControl`]).
    #[serde(skip)]
    pub control: bool,
    /// Already reported while its flow ran (a live `ndb_command` line).
    #[serde(skip)]
    pub announced: bool,
    /// The flow direction its request came from (for a reply without request: the one its
    /// reply did not come from): the client's, unless a side wrote the other's messages.
    #[serde(skip)]
    pub dir: u8,
}

impl Command {
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let s = |o: &Option<String>| o.as_ref().map_or(0, String::capacity);
        s(&self.command)
            + s(&self.reply)
            + s(&self.result)
            + self.args.heap_bytes()
            + self.fields.heap_bytes()
    }

    /// The result says the command worked (`Ok`, `ok`, `0`), or there was no result.
    pub fn succeeded(&self) -> bool {
        self.result
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case("ok") || r == "0")
    }
}

/// Events of one type a listener received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventCount {
    /// The event's type number; absent for text events that were not recognised.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<u32>,
    /// The event's name in the NDB source (`BackupStarted`), `unknown` for a type number not in
    /// the table, `text` for an unrecognised text event.
    pub name: &'static str,
    /// How many.
    pub count: u64,
}

/// One node as a `node status` reply listed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusNode {
    /// Its node id.
    pub node_id: u8,
    /// `node.N.type`.
    pub role: Option<NodeType>,
    /// `node.N.status` (`STARTED`, `NO_CONTACT`, …), escaped.
    pub status: Option<String>,
    /// `node.N.version`, the encoded number; 0 when not connected.
    pub version: Option<u32>,
    /// `node.N.node_group`.
    pub node_group: Option<i64>,
    /// `node.N.address`, when it was a known address.
    pub address: Option<IpAddr>,
}

/// The latest `node status` reply of a session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// When the first such reply of the session was seen.
    pub first_at: i64,
    /// When this one was.
    pub at: i64,
    /// Its nodes, in the order listed (at most 256).
    pub nodes: Vec<StatusNode>,
}

/// A node id the server allocated to the session's client (`get nodeid` answered `Ok`), or a
/// data node's configuration fetch (`get config` with node type 0 and a node id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeClaim {
    /// The node id.
    pub node_id: u32,
    /// Its type.
    pub role: Option<NodeType>,
    /// The version the client sent, encoded.
    pub version: Option<u32>,
    /// When.
    pub at: i64,
}

/// The audit of one NDB management session: the flow record's `"ndb"` object.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NdbSession {
    /// What the client is.
    pub peer: Peer,
    /// The node id the client was allocated or asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u32>,
    /// The node type the client asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_type: Option<NodeType>,
    /// The server's version string (`mysql-8.0.35 ndb-8.0.35`), from its `version` reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The version number the client sent (`get nodeid`, `set clientversion`, `get config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<u32>,
    /// Commands seen, replies paired with their requests.
    pub commands_total: u64,
    /// Commands not kept (only the first and last 32 are; or the memory cap refused them).
    pub commands_dropped: u64,
    /// The commands kept, in order: the first 32, then the last 32.
    pub commands: Vec<Command>,
    /// Events received, by type (event-listener sessions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventCount>,
    /// `<PING>` lines received.
    pub pings: u64,
    /// How the text part ended: `transporter` or `tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<&'static str>,
    /// Lost stretches of the stream (the audit resynchronised after each).
    pub gaps: u32,
    /// The capture started in the middle of the session.
    pub partial: bool,
    /// What an operator should look at.
    pub risks: Risks,
    /// The latest `node status` reply, for the cluster map (not printed with the flow).
    #[serde(skip)]
    pub status: Option<StatusSnapshot>,
    /// The node id allocated to the client, for the cluster map.
    #[serde(skip)]
    pub allocated: Option<NodeClaim>,
    /// A data node's configuration fetch, for the cluster map.
    #[serde(skip)]
    pub config_fetch: Option<NodeClaim>,
}

/// An encoded NDB version (`(major << 16) | (minor << 8) | build`) as `X.Y.Z`.
pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}
