//! Synthetic traffic: capture writers, frame builders, a TCP/UDP conversation scheduler, a
//! library of NDB management and look-alike conversations, and the project's test captures.
//!
//! Owns: everything needed to produce deterministic capture files from scripted conversations.
//! Layers, each usable alone (a bulk traffic generator reuses the lower ones):
//!
//! * [`writer`]: pcap / pcapng writers behind the [`FrameSink`] trait.
//! * [`frame`]: link-layer, IP and TCP/UDP header builders into a reusable buffer.
//! * [`script`]: what each side says ([`Script`], [`Message`]).
//! * [`sched`]: turns a script into packets (handshake, seq/ack, segmentation, close) and
//!   transforms the schedule (out-of-order, retransmissions, mid-stream start, one side only).
//! * [`emit`]: merges scheduled flows by timestamp and writes frames into a sink, either all
//!   at once or streaming ([`StreamMerge`]) with flows joining and leaving while it runs.
//! * [`ndb`] and [`lookalike`]: the conversation library; [`audit`]: whole cluster
//!   scenarios (several timed connections) built from it.
//! * [`testdata`]: the committed test captures and their manifest.
//! * [`traffic`]: bulk benchmark traffic (many overlapping flows, streamed to a pcap).
//! * [`scan`]: one scanner probing many distinct servers (the report's per-server state).
//! * [`blind`]: conversations a port-only filter would miss (extension headers, AH, deep VLAN
//!   stacks, IP fragments).
//!
//! Must never read the clock or any entropy source: the same inputs always give byte-identical
//! files. Must never panic on its own data; errors are returned.

pub mod audit;
pub mod blind;
pub mod cli;
pub mod emit;
pub mod flood;
pub mod frame;
pub mod hashflood;
pub mod integrity;
pub mod lookalike;
pub mod ndb;
pub mod rng;
pub mod scan;
pub mod sched;
pub mod script;
pub mod testdata;
pub mod traffic;
pub mod tunnel;
pub mod writer;

pub use emit::{write_capture, write_flows, PlacedFlow, StreamMerge, SynthError, Written};
pub use frame::{
    build_tcp_frame, build_udp_frame, tcp_flags, Encap, FrameError, Link, TcpFields, VlanTag,
};
pub use rng::SplitMix64;
pub use sched::{
    schedule, schedule_tcp, schedule_udp, CaptureStart, FixedSegments, FlowPackets, TcpPacket,
    TcpPlan, TcpTrace, Transform, UdpPacket, UdpTrace,
};
pub use script::{Close, Conversation, Message, Proto, Script};
pub use writer::{
    ByteOrder, CaptureFormat, CaptureWriter, Container, FrameSink, PcapWriter, PcapngWriter,
    TsResolution,
};

use std::net::IpAddr;

/// The two ends of a conversation. The client opens TCP connections (sends the SYN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Connection initiator.
    Client,
    /// Listener (ndb_mgmd, or whatever answers on the watched port).
    Server,
}

impl Side {
    /// The other side.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// IP addresses of both ends; one variant per IP version so they cannot be mixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpPair {
    /// IPv4 client and server.
    V4 {
        /// Client address.
        client: [u8; 4],
        /// Server address.
        server: [u8; 4],
    },
    /// IPv6 client and server.
    V6 {
        /// Client address.
        client: [u8; 16],
        /// Server address.
        server: [u8; 16],
    },
}

/// Addresses and ports of one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowAddr {
    /// IP addresses.
    pub ips: IpPair,
    /// Client port (ephemeral).
    pub client_port: u16,
    /// Server port (the watched port, e.g. 3406 or 1186).
    pub server_port: u16,
}

impl FlowAddr {
    /// An IPv4 flow.
    pub fn v4(client: [u8; 4], client_port: u16, server: [u8; 4], server_port: u16) -> Self {
        FlowAddr {
            ips: IpPair::V4 { client, server },
            client_port,
            server_port,
        }
    }

    /// An IPv6 flow.
    pub fn v6(client: [u8; 16], client_port: u16, server: [u8; 16], server_port: u16) -> Self {
        FlowAddr {
            ips: IpPair::V6 { client, server },
            client_port,
            server_port,
        }
    }

    /// (source port, destination port) of a packet sent by `from`.
    pub fn ports(&self, from: Side) -> (u16, u16) {
        match from {
            Side::Client => (self.client_port, self.server_port),
            Side::Server => (self.server_port, self.client_port),
        }
    }

    /// Client address as a std type.
    pub fn client_ip(&self) -> IpAddr {
        match self.ips {
            IpPair::V4 { client, .. } => IpAddr::from(client),
            IpPair::V6 { client, .. } => IpAddr::from(client),
        }
    }

    /// Server address as a std type.
    pub fn server_ip(&self) -> IpAddr {
        match self.ips {
            IpPair::V4 { server, .. } => IpAddr::from(server),
            IpPair::V6 { server, .. } => IpAddr::from(server),
        }
    }

    /// True for IPv6 flows.
    pub fn is_v6(&self) -> bool {
        matches!(self.ips, IpPair::V6 { .. })
    }
}
