//! The cluster map: for each management server, the cluster its sessions showed — its nodes,
//! its clients, the commands that changed it, and the risks.
//!
//! Owns: joining the audits of a server's sessions ([`ClusterMap::add`]): nodes from `node
//! status` replies (the latest reply wins for a node's status, address and version; first and
//! last seen are kept), node-id allocations and data-node configuration fetches; clients by
//! host with the peer kinds they showed; the control timeline (first and last
//! [`KEEP_CONTROL`]); risks counted by flow, `control-from-unknown-host` judged here against
//! the nodes known when the flow is reported. Bounded: at most [`MAX_CLUSTERS`] servers,
//! [`MAX_MAP_NODES`] nodes, [`MAX_CLIENTS`] client hosts and [`MAX_VERSIONS`] versions each.
//!
//! Never: reads packets or keeps a session's commands other than the control ones.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::ndb::{version_string, Command, NdbSession, NodeClaim, NodeType, Pairs, Peers, Risk};
use super::time;
use super::FlowRecord;

/// Management servers mapped; later ones are counted, not mapped.
pub const MAX_CLUSTERS: usize = 1024;
/// Nodes per cluster (node ids are 1 to 255).
pub const MAX_MAP_NODES: usize = 256;
/// Client hosts per cluster; later ones are counted.
pub const MAX_CLIENTS: usize = 256;
/// Versions per cluster.
pub const MAX_VERSIONS: usize = 16;
/// Control entries kept from the start, and from the end, of a cluster's timeline.
pub const KEEP_CONTROL: usize = 32;

/// Where a node of the map was learnt from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `node status` reply.
    GetStatus,
    /// A `get nodeid` answered `Ok`.
    NodeidAllocation,
    /// A data node's `get config`.
    Config,
}

impl Source {
    const ALL: [Source; 3] = [Source::GetStatus, Source::NodeidAllocation, Source::Config];

    /// The printed name: `get-status`, `nodeid-allocation` or `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::GetStatus => "get-status",
            Source::NodeidAllocation => "nodeid-allocation",
            Source::Config => "config",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// One node of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapNode {
    /// Its node id.
    pub node_id: u32,
    /// Data, API or management node.
    pub role: Option<NodeType>,
    /// Its address (from `node status`, else the client address of its allocation).
    pub address: Option<IpAddr>,
    /// Its status in the latest `node status` reply that listed it.
    pub status: Option<String>,
    /// Its version (encoded), when connected.
    pub version: Option<u32>,
    /// Its node group (data nodes).
    pub node_group: Option<i64>,
    /// When it was first and last seen, microseconds since the Unix epoch.
    pub first_seen: i64,
    /// See `first_seen`.
    pub last_seen: i64,
    from: u8,
    /// Time of the status reply its status came from.
    status_at: i64,
}

impl MapNode {
    /// What it was learnt from, in [`Source`] order.
    pub fn sources(&self) -> impl Iterator<Item = Source> + '_ {
        Source::ALL.into_iter().filter(|s| self.from & s.bit() != 0)
    }
}

/// One client host of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapClient {
    /// The host.
    pub host: IpAddr,
    /// The peer kinds its sessions showed.
    pub peers: Peers,
    /// Its sessions.
    pub flows: u64,
    /// Commands in them.
    pub commands: u64,
}

/// One entry of the control timeline: a command that changes the cluster, or one refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControlEntry {
    /// When, printed RFC 3339.
    #[serde(serialize_with = "time::serialize_us")]
    pub at: i64,
    /// The session's client.
    pub client: SocketAddr,
    /// The request line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments (secrets redacted).
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    pub args: Pairs,
    /// The reply's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// What is known of one management server's cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The management server.
    pub server: SocketAddr,
    /// Version strings it gave.
    pub versions: BTreeSet<String>,
    /// Nodes by id.
    pub nodes: BTreeMap<u32, MapNode>,
    /// Client hosts.
    pub clients: BTreeMap<IpAddr, MapClient>,
    /// Client hosts not kept ([`MAX_CLIENTS`]).
    pub clients_dropped: u64,
    control_first: Vec<ControlEntry>,
    control_last: VecDeque<ControlEntry>,
    /// Control entries seen.
    pub control_total: u64,
    /// Flows with each risk.
    pub risks: BTreeMap<Risk, u64>,
    /// NDB sessions with this server.
    pub flows: u64,
}

impl Cluster {
    fn new(server: SocketAddr) -> Cluster {
        Cluster {
            server,
            versions: BTreeSet::new(),
            nodes: BTreeMap::new(),
            clients: BTreeMap::new(),
            clients_dropped: 0,
            control_first: Vec::new(),
            control_last: VecDeque::new(),
            control_total: 0,
            risks: BTreeMap::new(),
            flows: 0,
        }
    }

    /// The control entries kept, in order (the first and last [`KEEP_CONTROL`]).
    pub fn control(&self) -> impl Iterator<Item = &ControlEntry> {
        self.control_first.iter().chain(self.control_last.iter())
    }

    /// Control entries not kept.
    pub fn control_dropped(&self) -> u64 {
        self.control_total
            .saturating_sub((self.control_first.len() + self.control_last.len()) as u64)
    }

    /// Is `host` the address of a node of this cluster (or the server itself)?
    pub fn is_node(&self, host: IpAddr) -> bool {
        host == self.server.ip() || self.nodes.values().any(|n| n.address == Some(host))
    }

    /// Does the map know any node's address (other than the server's)? Until it does, no
    /// host can be told to be a stranger.
    pub fn knows_addresses(&self) -> bool {
        self.nodes
            .values()
            .any(|n| n.address.is_some_and(|a| a != self.server.ip()))
    }

    fn node(&mut self, id: u32, at: i64) -> Option<&mut MapNode> {
        if !self.nodes.contains_key(&id) && self.nodes.len() >= MAX_MAP_NODES {
            return None;
        }
        let n = self.nodes.entry(id).or_insert(MapNode {
            node_id: id,
            role: None,
            address: None,
            status: None,
            version: None,
            node_group: None,
            first_seen: at,
            last_seen: at,
            from: 0,
            status_at: i64::MIN,
        });
        Some(n)
    }

    fn claim(&mut self, c: &NodeClaim, host: IpAddr, from: Source) {
        let Some(n) = self.node(c.node_id, c.at) else {
            return;
        };
        n.from |= from.bit();
        n.role = n.role.or(c.role);
        n.address = n.address.or(Some(host));
        if n.version.is_none() {
            n.version = c.version;
        }
        n.first_seen = n.first_seen.min(c.at);
        n.last_seen = n.last_seen.max(c.at);
    }

    fn status(&mut self, s: &NdbSession) {
        let Some(snap) = &s.status else {
            return;
        };
        for sn in &snap.nodes {
            let Some(n) = self.node(u32::from(sn.node_id), snap.first_at) else {
                continue;
            };
            n.from |= Source::GetStatus.bit();
            n.first_seen = n.first_seen.min(snap.first_at);
            n.last_seen = n.last_seen.max(snap.at);
            if snap.at >= n.status_at {
                n.status_at = snap.at;
                n.role = sn.role.or(n.role);
                n.status.clone_from(&sn.status);
                if sn.version.is_some_and(|v| v > 0) {
                    n.version = sn.version;
                }
                if sn.address.is_some() {
                    n.address = sn.address;
                }
                if sn.role == Some(NodeType::Data) {
                    n.node_group = sn.node_group;
                }
            }
        }
    }

    fn control_entry(&mut self, client: SocketAddr, c: &Command) {
        self.control_total = self.control_total.saturating_add(1);
        let e = ControlEntry {
            at: c.at,
            client,
            command: c.command.clone(),
            args: c.args.clone(),
            result: c.result.clone(),
        };
        if self.control_first.len() < KEEP_CONTROL {
            self.control_first.push(e);
            return;
        }
        if self.control_last.len() >= KEEP_CONTROL {
            self.control_last.pop_front();
        }
        self.control_last.push_back(e);
    }
}

/// Is this command on the control timeline: it changes the cluster, or it was refused?
pub fn on_timeline(c: &Command) -> bool {
    c.control
        || c.reply.as_deref() == Some("Authorization failed")
        || (c.command.as_deref() == Some("get nodeid") && !c.succeeded())
}

/// Every management server's cluster, as the run's NDB sessions showed them.
#[derive(Clone, Debug, Default)]
pub struct ClusterMap {
    clusters: BTreeMap<SocketAddr, Cluster>,
    /// Servers not mapped ([`MAX_CLUSTERS`]).
    pub dropped: u64,
}

impl ClusterMap {
    /// The clusters, by server address.
    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.values()
    }

    /// True when no NDB session was mapped.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    fn cluster(&mut self, server: SocketAddr) -> Option<&mut Cluster> {
        if !self.clusters.contains_key(&server) && self.clusters.len() >= MAX_CLUSTERS {
            self.dropped = self.dropped.saturating_add(1);
            return None;
        }
        Some(
            self.clusters
                .entry(server)
                .or_insert_with(|| Cluster::new(server)),
        )
    }

    /// An `ndb-mgm` flow record at its end: joined into its server's cluster. The record's
    /// session gains `control-from-unknown-host` when it changed the cluster from a host that
    /// is not a node.
    pub fn add(&mut self, rec: &mut FlowRecord) {
        let (client, server) = (rec.client, rec.server);
        let Some(s) = rec.ndb.as_deref_mut() else {
            return;
        };
        let Some(cl) = self.cluster(server) else {
            return;
        };
        cl.flows = cl.flows.saturating_add(1);
        if let Some(v) = &s.server_version {
            if cl.versions.len() < MAX_VERSIONS && !cl.versions.contains(v) {
                cl.versions.insert(v.clone());
            }
        }
        cl.status(s);
        if let Some(a) = &s.allocated {
            cl.claim(a, client.ip(), Source::NodeidAllocation);
        }
        if let Some(c) = &s.config_fetch {
            cl.claim(c, client.ip(), Source::Config);
        }
        let host = client.ip();
        if cl.clients.contains_key(&host) || cl.clients.len() < MAX_CLIENTS {
            let e = cl.clients.entry(host).or_insert(MapClient {
                host,
                peers: Peers::default(),
                flows: 0,
                commands: 0,
            });
            e.peers.insert(s.peer);
            e.flows = e.flows.saturating_add(1);
            e.commands = e.commands.saturating_add(s.commands_total);
        } else {
            cl.clients_dropped = cl.clients_dropped.saturating_add(1);
        }
        for c in s.commands.iter().filter(|c| on_timeline(c) && !c.announced) {
            cl.control_entry(client, c);
        }
        if s.commands.iter().any(|c| c.control) && cl.knows_addresses() && !cl.is_node(host) {
            s.risks.insert(Risk::ControlFromUnknownHost);
        }
        for r in s.risks.iter() {
            *cl.risks.entry(r).or_default() += 1;
        }
    }

    /// A command announced while its session runs (live): put on the timeline now, so the
    /// flow's record does not put it there again.
    pub fn announced(&mut self, client: SocketAddr, server: SocketAddr, c: &Command) {
        if let Some(cl) = self.cluster(server) {
            if on_timeline(c) {
                cl.control_entry(client, c);
            }
        }
    }
}

/// A cluster as its JSON record prints it.
#[derive(Serialize)]
pub struct ClusterView<'a> {
    /// The management server.
    pub server: SocketAddr,
    /// Version strings it gave.
    pub versions: Vec<&'a str>,
    /// Its nodes.
    pub nodes: Vec<NodeView<'a>>,
    /// Its client hosts.
    pub clients: Vec<ClientView>,
    /// Client hosts not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub clients_dropped: u64,
    /// The control timeline.
    pub control: Vec<&'a ControlEntry>,
    /// Control entries seen.
    pub control_total: u64,
    /// Control entries not listed.
    pub control_dropped: u64,
    /// Flows with each risk.
    pub risks: Vec<RiskCount>,
    /// NDB sessions with this server.
    pub flows: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A node as its cluster's JSON record prints it.
#[derive(Serialize)]
pub struct NodeView<'a> {
    /// Node id.
    pub node_id: u32,
    /// `mgm`, `data` or `api`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<NodeType>,
    /// Its address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// Its latest status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
    /// Its version, `X.Y.Z`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its node group (data nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_group: Option<i64>,
    /// First seen, RFC 3339.
    #[serde(serialize_with = "time::serialize_us")]
    pub first_seen: i64,
    /// Last seen, RFC 3339.
    #[serde(serialize_with = "time::serialize_us")]
    pub last_seen: i64,
    /// Where it was learnt from.
    pub from: Vec<&'static str>,
}

/// A client host as its cluster's JSON record prints it.
#[derive(Serialize)]
pub struct ClientView {
    /// The host.
    pub host: IpAddr,
    /// The peer kinds its sessions showed.
    pub peers: Peers,
    /// Its sessions.
    pub flows: u64,
    /// Commands in them.
    pub commands: u64,
}

/// Flows with one risk.
#[derive(Serialize)]
pub struct RiskCount {
    /// The risk.
    pub risk: Risk,
    /// Flows with it.
    pub flows: u64,
}

impl Cluster {
    /// The view its JSON record prints.
    pub fn view(&self) -> ClusterView<'_> {
        ClusterView {
            server: self.server,
            versions: self.versions.iter().map(String::as_str).collect(),
            nodes: self
                .nodes
                .values()
                .map(|n| NodeView {
                    node_id: n.node_id,
                    role: n.role,
                    address: n.address,
                    status: n.status.as_deref(),
                    version: n.version.filter(|&v| v > 0).map(version_string),
                    node_group: n.node_group,
                    first_seen: n.first_seen,
                    last_seen: n.last_seen,
                    from: n.sources().map(Source::as_str).collect(),
                })
                .collect(),
            clients: self
                .clients
                .values()
                .map(|c| ClientView {
                    host: c.host,
                    peers: c.peers,
                    flows: c.flows,
                    commands: c.commands,
                })
                .collect(),
            clients_dropped: self.clients_dropped,
            control: self.control().collect(),
            control_total: self.control_total,
            control_dropped: self.control_dropped(),
            risks: self
                .risks
                .iter()
                .map(|(&risk, &flows)| RiskCount { risk, flows })
                .collect(),
            flows: self.flows,
        }
    }
}
