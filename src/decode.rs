//! Link-layer to transport decoding (stub; replaced by the real decoder).
use std::net::IpAddr;

/// Link types ndbsniff decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind { Ethernet, Null, Loop, Raw, Ipv4, Ipv6, LinuxSll, LinuxSll2 }

impl LinkKind {
    /// Maps a libpcap DLT value (as returned by `pcap_datalink`) to a decoder.
    pub fn from_dlt(dlt: i32) -> Option<LinkKind> {
        Some(match dlt {
            0 => LinkKind::Null,
            1 => LinkKind::Ethernet,
            12 | 14 | 101 => LinkKind::Raw,
            108 => LinkKind::Loop,
            113 => LinkKind::LinuxSll,
            228 => LinkKind::Ipv4,
            229 => LinkKind::Ipv6,
            276 => LinkKind::LinuxSll2,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport { Tcp, Udp }

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo { pub seq: u32, pub ack: u32, pub flags: u8 }

pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

#[derive(Clone, Debug)]
pub struct PacketView<'a> {
    pub vlan: Option<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub transport: Transport,
    pub tcp: TcpInfo,
    pub payload: &'a [u8],
    pub payload_len: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason { NotIp, NotTcpUdp, IpFragment, Truncated, MalformedLink, MalformedIp, MalformedTcp, MalformedUdp }

impl SkipReason {
    pub const ALL: [SkipReason; 8] = [SkipReason::NotIp, SkipReason::NotTcpUdp, SkipReason::IpFragment, SkipReason::Truncated, SkipReason::MalformedLink, SkipReason::MalformedIp, SkipReason::MalformedTcp, SkipReason::MalformedUdp];
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotIp => "not-ip",
            SkipReason::NotTcpUdp => "not-tcp-udp",
            SkipReason::IpFragment => "ip-fragment",
            SkipReason::Truncated => "truncated",
            SkipReason::MalformedLink => "malformed-link",
            SkipReason::MalformedIp => "malformed-ip",
            SkipReason::MalformedTcp => "malformed-tcp",
            SkipReason::MalformedUdp => "malformed-udp",
        }
    }
    pub fn index(self) -> usize { self as usize }
}

pub fn decode(_link: LinkKind, _frame: &[u8]) -> Result<PacketView<'_>, SkipReason> {
    Err(SkipReason::NotIp)
}
