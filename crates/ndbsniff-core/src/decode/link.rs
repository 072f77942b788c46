//! The link layer: libpcap link types, Ethernet II with stacked VLAN tags, BSD loopback, raw IP
//! and Linux cooked captures (v1 and v2), down to the start of the IP header.

use etherparse::{Ethernet2HeaderSlice, SingleVlanHeaderSlice};

use super::SkipReason;

/// Link types ndbsniff decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// DLT 1: Ethernet II, with up to [`MAX_VLAN_TAGS`] stacked VLAN tags.
    Ethernet,
    /// DLT 0: BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT 108: OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// DLT 12, 14, 101: raw IP, version taken from the first nibble.
    Raw,
    /// DLT 228: raw IPv4 only.
    Ipv4,
    /// DLT 229: raw IPv6 only.
    Ipv6,
    /// DLT 113: Linux cooked capture v1 (16-byte header).
    LinuxSll,
    /// DLT 276: Linux cooked capture v2 (20-byte header).
    LinuxSll2,
}

impl LinkKind {
    /// Every link kind, in declaration order.
    pub const ALL: [LinkKind; 8] = [
        LinkKind::Ethernet,
        LinkKind::Null,
        LinkKind::Loop,
        LinkKind::Raw,
        LinkKind::Ipv4,
        LinkKind::Ipv6,
        LinkKind::LinuxSll,
        LinkKind::LinuxSll2,
    ];

    /// Maps a libpcap DLT value (as returned by `pcap_datalink`) to a decoder.
    ///
    /// ```
    /// use ndbsniff_core::decode::LinkKind;
    /// assert_eq!(LinkKind::from_dlt(1), Some(LinkKind::Ethernet));
    /// assert_eq!(LinkKind::from_dlt(105), None); // 802.11 is not decoded
    /// ```
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

    /// Short stable name for messages and summaries (`"ethernet"`, `"linux-sll"`, …).
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Ethernet => "ethernet",
            LinkKind::Null => "null",
            LinkKind::Loop => "loop",
            LinkKind::Raw => "raw",
            LinkKind::Ipv4 => "ipv4",
            LinkKind::Ipv6 => "ipv6",
            LinkKind::LinuxSll => "linux-sll",
            LinkKind::LinuxSll2 => "linux-sll2",
        }
    }
}

/// EtherType values the decoder acts on.
mod ether_type {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    /// IEEE 802.1Q customer tag.
    pub const VLAN_CTAG: u16 = 0x8100;
    /// IEEE 802.1ad service tag.
    pub const VLAN_STAG: u16 = 0x88a8;
    /// Pre-standard QinQ tag.
    pub const VLAN_QINQ: u16 = 0x9100;
    /// MPLS unicast and multicast label stacks.
    pub const MPLS_UNICAST: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    /// PPPoE session stage.
    pub const PPPOE_SESSION: u16 = 0x8864;
}

/// Address family values found in BSD loopback headers.
mod address_family {
    pub const INET: u32 = 2;
    /// Linux.
    pub const INET6_LINUX: u32 = 10;
    /// NetBSD, OpenBSD, BSD/OS.
    pub const INET6_NETBSD: u32 = 24;
    /// FreeBSD, DragonFly BSD.
    pub const INET6_FREEBSD: u32 = 28;
    /// macOS, iOS.
    pub const INET6_DARWIN: u32 = 30;
}

/// Linux cooked capture layouts.
mod sll {
    /// v1: packet type (2), ARPHRD type (2), address length (2), address (8), protocol (2).
    pub const V1_LEN: usize = 16;
    pub const V1_ARPHRD: usize = 2;
    pub const V1_PROTOCOL: usize = 14;
    /// v2: protocol (2), reserved (2), interface index (4), ARPHRD type (2), packet type (1),
    /// address length (1), address (8).
    pub const V2_LEN: usize = 20;
    pub const V2_PROTOCOL: usize = 0;
    pub const V2_ARPHRD: usize = 8;
    /// ARPHRD_NETLINK: the protocol field is a netlink family, not an EtherType.
    pub const ARPHRD_NETLINK: u16 = 824;
}

/// Largest value taken for a plausible (if non-IP) loopback address family.
const MAX_ADDRESS_FAMILY: u32 = 0xff;

/// Most VLAN tags followed in front of the IP header; a frame with more is
/// [`SkipReason::VlanTooDeep`]. The BPF port filter looks under as many levels
/// (the `ndbsniff` crate's `capture::filter`).
pub const MAX_VLAN_TAGS: usize = 8;

const IPV4_VERSION: u8 = 4;
const IPV6_VERSION: u8 = 6;

/// What the bytes behind the link header start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum L3 {
    /// An IPv4 header.
    V4,
    /// An IPv6 header.
    V6,
    /// An MPLS label stack (followed by [`super::tunnel`]).
    Mpls,
    /// A PPPoE session header (followed by [`super::tunnel`]).
    Pppoe,
}

/// Strips the link header: outermost VLAN id, what follows and the bytes starting there.
#[inline]
pub(super) fn link_layer(
    link: LinkKind,
    frame: &[u8],
) -> Result<(Option<u16>, L3, &[u8]), SkipReason> {
    match link {
        LinkKind::Ethernet => {
            let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| SkipReason::Truncated)?;
            let rest = frame.get(eth.slice().len()..).unwrap_or(&[]);
            ether_type_layer(eth.ether_type().0, rest)
        }
        LinkKind::Null | LinkKind::Loop => {
            let (family, rest) = split_be_u32(frame).ok_or(SkipReason::Truncated)?;
            // Either byte order is accepted for both kinds: captures move between hosts, and
            // the two orders of the known values cannot be mistaken for each other.
            let swapped = family.swap_bytes();
            match loopback_family(family)
                .or_else(|| loopback_family(swapped))
                .or_else(|| loopback_ether_type(family))
            {
                Some(version) => Ok((None, version, rest)),
                // Address families are small numbers in one byte order or the other.
                None if family.min(swapped) <= MAX_ADDRESS_FAMILY => Err(SkipReason::NotIp),
                None => Err(SkipReason::MalformedLink),
            }
        }
        LinkKind::Raw => match frame.first().map(|b| b >> 4) {
            None => Err(SkipReason::Truncated),
            Some(IPV4_VERSION) => Ok((None, L3::V4, frame)),
            Some(IPV6_VERSION) => Ok((None, L3::V6, frame)),
            Some(_) => Err(SkipReason::MalformedIp),
        },
        LinkKind::Ipv4 => Ok((None, L3::V4, frame)),
        LinkKind::Ipv6 => Ok((None, L3::V6, frame)),
        // etherparse's Linux SLL slice rejects ARPHRD types and packet types it does not list
        // (loopback, PPP, tunnels: all common in `-i any` captures) and has no v2, so both
        // versions are read here. The address length is not checked: it gives the device's
        // real address length (20 for InfiniBand) while at most 8 bytes are stored.
        LinkKind::LinuxSll => {
            let header = frame.get(..sll::V1_LEN).ok_or(SkipReason::Truncated)?;
            let arphrd = be_u16_at(header, sll::V1_ARPHRD);
            let protocol = be_u16_at(header, sll::V1_PROTOCOL);
            cooked_layer(arphrd, protocol, frame.get(sll::V1_LEN..))
        }
        LinkKind::LinuxSll2 => {
            let header = frame.get(..sll::V2_LEN).ok_or(SkipReason::Truncated)?;
            let arphrd = be_u16_at(header, sll::V2_ARPHRD);
            let protocol = be_u16_at(header, sll::V2_PROTOCOL);
            cooked_layer(arphrd, protocol, frame.get(sll::V2_LEN..))
        }
    }
}

/// Common tail of both Linux cooked headers.
#[inline]
fn cooked_layer(
    arphrd: u16,
    protocol: u16,
    rest: Option<&[u8]>,
) -> Result<(Option<u16>, L3, &[u8]), SkipReason> {
    if arphrd == sll::ARPHRD_NETLINK {
        return Err(SkipReason::NotIp);
    }
    ether_type_layer(protocol, rest.unwrap_or(&[]))
}

/// Follows an EtherType through up to [`MAX_VLAN_TAGS`] VLAN tags to IPv4, IPv6, an MPLS label
/// stack or a PPPoE session header.
#[inline]
pub(super) fn ether_type_layer(
    mut ether_type: u16,
    mut rest: &[u8],
) -> Result<(Option<u16>, L3, &[u8]), SkipReason> {
    let mut vlan = None;
    let mut tags = 0;
    loop {
        match ether_type {
            ether_type::IPV4 => return Ok((vlan, L3::V4, rest)),
            ether_type::IPV6 => return Ok((vlan, L3::V6, rest)),
            ether_type::MPLS_UNICAST | ether_type::MPLS_MULTICAST => {
                return Ok((vlan, L3::Mpls, rest))
            }
            ether_type::PPPOE_SESSION => return Ok((vlan, L3::Pppoe, rest)),
            ether_type::VLAN_CTAG | ether_type::VLAN_STAG | ether_type::VLAN_QINQ => {
                if tags == MAX_VLAN_TAGS {
                    return Err(SkipReason::VlanTooDeep);
                }
                let tag =
                    SingleVlanHeaderSlice::from_slice(rest).map_err(|_| SkipReason::Truncated)?;
                if vlan.is_none() {
                    vlan = Some(tag.vlan_identifier().value());
                }
                ether_type = tag.ether_type().0;
                rest = rest.get(tag.slice().len()..).unwrap_or(&[]);
                tags += 1;
            }
            // 802.3 length fields (<= 1500), ARP, LLDP, PPPoE discovery, …
            _ => return Err(SkipReason::NotIp),
        }
    }
}

/// IP version for a BSD loopback address family, if it is one of the IP families.
#[inline]
fn loopback_family(family: u32) -> Option<L3> {
    match family {
        address_family::INET => Some(L3::V4),
        address_family::INET6_LINUX
        | address_family::INET6_NETBSD
        | address_family::INET6_FREEBSD
        | address_family::INET6_DARWIN => Some(L3::V6),
        _ => None,
    }
}

/// Some capture tools wrote an EtherType into one half of the loopback header instead of an
/// address family; accepted for IPv4/IPv6 in network byte order in either half.
#[cold]
fn loopback_ether_type(family: u32) -> Option<L3> {
    let (high, low) = ((family >> 16) as u16, family as u16);
    [high, low].into_iter().find_map(|half| match half {
        ether_type::IPV4 => Some(L3::V4),
        ether_type::IPV6 => Some(L3::V6),
        _ => None,
    })
}

/// Big-endian u16 at `at`, 0 when out of range (callers check the header length first).
#[inline]
fn be_u16_at(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at.wrapping_add(2)) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

/// Splits off a leading big-endian u32.
#[inline]
fn split_be_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    match bytes {
        [a, b, c, d, rest @ ..] => Some((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::*;

    // ---- mapping tables -----------------------------------------------------------------------------

    #[test]
    fn dlt_mapping() {
        let cases = [
            (0, Some(LinkKind::Null)),
            (1, Some(LinkKind::Ethernet)),
            (12, Some(LinkKind::Raw)),
            (14, Some(LinkKind::Raw)),
            (101, Some(LinkKind::Raw)),
            (108, Some(LinkKind::Loop)),
            (113, Some(LinkKind::LinuxSll)),
            (228, Some(LinkKind::Ipv4)),
            (229, Some(LinkKind::Ipv6)),
            (276, Some(LinkKind::LinuxSll2)),
            (105, None),
            (127, None),
            (-1, None),
        ];
        for (dlt, kind) in cases {
            assert_eq!(LinkKind::from_dlt(dlt), kind, "dlt {dlt}");
        }
        let mut names: Vec<_> = LinkKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LinkKind::ALL.len());
    }

    // ---- link layers --------------------------------------------------------------------------------

    #[test]
    fn ethernet_all_four_combinations() {
        let f = eth(ET_IPV4, &ipv4_tcp());
        let v = decode(LinkKind::Ethernet, &f).unwrap();
        assert_v4_tcp(&v);
        assert_eq!(v.vlan, None);
        assert_v4_udp(&decode(LinkKind::Ethernet, &eth(ET_IPV4, &ipv4_udp())).unwrap());
        assert_v6_tcp(&decode(LinkKind::Ethernet, &eth(ET_IPV6, &ipv6_tcp())).unwrap());
        assert_v6_udp(&decode(LinkKind::Ethernet, &eth(ET_IPV6, &ipv6_udp())).unwrap());
    }

    #[test]
    fn ethernet_vlan_tags_report_the_outermost_id() {
        // 802.1Q, id 100, priority 1.
        let one = cat(&[&ETH_MACS, &[0x81, 0x00, 0x20, 0x64], &ET_IPV4, &ipv4_tcp()]);
        let v = decode(LinkKind::Ethernet, &one).unwrap();
        assert_v4_tcp(&v);
        assert_eq!(v.vlan, Some(100));

        // 802.1ad id 0xabc outside 802.1Q id 7.
        let two = cat(&[
            &ETH_MACS,
            &[0x88, 0xa8, 0xea, 0xbc, 0x81, 0x00, 0x00, 0x07],
            &ET_IPV6,
            &ipv6_udp(),
        ]);
        let v = decode(LinkKind::Ethernet, &two).unwrap();
        assert_v6_udp(&v);
        assert_eq!(v.vlan, Some(0xabc));

        // 0x9100 id 4095, 0x88a8 id 2, 0x8100 id 3.
        let three = cat(&[
            &ETH_MACS,
            &[
                0x91, 0x00, 0x0f, 0xff, 0x88, 0xa8, 0x00, 0x02, 0x81, 0x00, 0x00, 0x03,
            ],
            &ET_IPV4,
            &ipv4_udp(),
        ]);
        let v = decode(LinkKind::Ethernet, &three).unwrap();
        assert_v4_udp(&v);
        assert_eq!(v.vlan, Some(4095));

        // A priority-only tag still reports its id, 0.
        let prio = cat(&[&ETH_MACS, &[0x81, 0x00, 0xa0, 0x00], &ET_IPV4, &ipv4_tcp()]);
        assert_eq!(decode(LinkKind::Ethernet, &prio).unwrap().vlan, Some(0));

        // Up to MAX_VLAN_TAGS tags are followed; one more is counted as too deep.
        let tags = |n: usize| -> Vec<u8> {
            (0..n)
                .flat_map(|i| [0x81, 0x00, 0x00, i as u8 + 1])
                .collect()
        };
        for n in 4..=MAX_VLAN_TAGS {
            let f = cat(&[&ETH_MACS, &tags(n), &ET_IPV4, &ipv4_tcp()]);
            let v = decode(LinkKind::Ethernet, &f).unwrap();
            assert_v4_tcp(&v);
            assert_eq!(v.vlan, Some(1));
        }
        let deep = cat(&[&ETH_MACS, &tags(MAX_VLAN_TAGS + 1), &ET_IPV4, &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Ethernet, &deep), SkipReason::VlanTooDeep);
        // A stack cut inside a tag is truncated, as before.
        let cut = cat(&[&ETH_MACS, &tags(6)]);
        assert_eq!(
            skip(LinkKind::Ethernet, &cut[..cut.len() - 2]),
            SkipReason::Truncated
        );

        // A tag the frame ends inside.
        let cut = cat(&[&ETH_MACS, &[0x81, 0x00, 0x00]]);
        assert_eq!(skip(LinkKind::Ethernet, &cut), SkipReason::Truncated);
    }

    #[test]
    fn ethernet_non_ip() {
        // ARP request.
        let arp = cat(&[
            &ETH_MACS,
            &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01],
            &[0u8; 18],
        ]);
        assert_eq!(skip(LinkKind::Ethernet, &arp), SkipReason::NotIp);
        // LLDP.
        let lldp = cat(&[&ETH_MACS, &[0x88, 0xcc, 0x02, 0x07, 0x04], &[0u8; 20]]);
        assert_eq!(skip(LinkKind::Ethernet, &lldp), SkipReason::NotIp);
        // IEEE 802.3 length field followed by LLC (STP) - even when the bytes after it look like IP.
        let llc = cat(&[&ETH_MACS, &[0x00, 0x2d], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Ethernet, &llc), SkipReason::NotIp);
        // ARP behind a VLAN tag.
        let tagged_arp = cat(&[&ETH_MACS, &[0x81, 0x00, 0x00, 0x05, 0x08, 0x06], &[0u8; 28]]);
        assert_eq!(skip(LinkKind::Ethernet, &tagged_arp), SkipReason::NotIp);
        // Too short for an Ethernet header.
        assert_eq!(skip(LinkKind::Ethernet, &ETH_MACS), SkipReason::Truncated);
    }

    #[test]
    fn null_accepts_both_byte_orders_and_all_inet6_values() {
        let le_v4 = cat(&[&[2, 0, 0, 0], &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::Null, &le_v4).unwrap());
        let be_v4 = cat(&[&[0, 0, 0, 2], &ipv4_udp()]);
        assert_v4_udp(&decode(LinkKind::Null, &be_v4).unwrap());
        for family in [10u8, 24, 28, 30] {
            let le = cat(&[&[family, 0, 0, 0], &ipv6_tcp()]);
            assert_v6_tcp(&decode(LinkKind::Null, &le).unwrap());
            let be = cat(&[&[0, 0, 0, family], &ipv6_udp()]);
            assert_v6_udp(&decode(LinkKind::Null, &be).unwrap());
        }
        // AF_APPLETALK (16) in either order, AF_UNSPEC (0).
        for family in [[16, 0, 0, 0], [0, 0, 0, 16], [0, 0, 0, 0]] {
            let f = cat(&[&family, &ipv4_tcp()]);
            assert_eq!(skip(LinkKind::Null, &f), SkipReason::NotIp);
        }
        // An EtherType in either half of the header instead of an address family.
        let f = cat(&[&[0x0f, 0x00, 0x08, 0x00], &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::Null, &f).unwrap());
        let f = cat(&[&[0x86, 0xdd, 0x00, 0x00], &ipv6_udp()]);
        assert_v6_udp(&decode(LinkKind::Null, &f).unwrap());
        // A value that is no address family in either byte order.
        let f = cat(&[&[0x12, 0x34, 0x56, 0x78], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Null, &f), SkipReason::MalformedLink);
        assert_eq!(skip(LinkKind::Null, &[2, 0, 0]), SkipReason::Truncated);
        // The family decides the version: an IPv4 packet labelled AF_INET6 is malformed.
        let mislabelled = cat(&[&[30, 0, 0, 0], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Null, &mislabelled), SkipReason::MalformedIp);
    }

    #[test]
    fn loop_uses_network_byte_order() {
        let f = cat(&[&[0, 0, 0, 2], &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::Loop, &f).unwrap());
        let f = cat(&[&[0, 0, 0, 24], &ipv6_udp()]);
        assert_v6_udp(&decode(LinkKind::Loop, &f).unwrap());
        let f = cat(&[&[0, 0, 0, 7], &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::Loop, &f), SkipReason::NotIp);
        assert_eq!(skip(LinkKind::Loop, &[]), SkipReason::Truncated);
    }

    #[test]
    fn raw_ip_kinds() {
        assert_v4_tcp(&decode(LinkKind::Raw, &ipv4_tcp()).unwrap());
        assert_v6_udp(&decode(LinkKind::Raw, &ipv6_udp()).unwrap());
        assert_v4_udp(&decode(LinkKind::Ipv4, &ipv4_udp()).unwrap());
        assert_v6_tcp(&decode(LinkKind::Ipv6, &ipv6_tcp()).unwrap());
        // The single-version kinds reject the other version.
        assert_eq!(skip(LinkKind::Ipv4, &ipv6_tcp()), SkipReason::MalformedIp);
        assert_eq!(skip(LinkKind::Ipv6, &ipv4_tcp()), SkipReason::MalformedIp);
        // Version nibble neither 4 nor 6.
        let mut bad = ipv4_tcp();
        bad[0] = 0x55;
        assert_eq!(skip(LinkKind::Raw, &bad), SkipReason::MalformedIp);
        for kind in [LinkKind::Raw, LinkKind::Ipv4, LinkKind::Ipv6] {
            assert_eq!(skip(kind, &[]), SkipReason::Truncated);
        }
    }

    #[test]
    fn linux_sll() {
        let f = cat(&[&sll(1, ET_IPV4), &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::LinuxSll, &f).unwrap());
        // Loopback and "none" (tun) hardware types carry EtherTypes too.
        let f = cat(&[&sll(772, ET_IPV6), &ipv6_tcp()]);
        assert_v6_tcp(&decode(LinkKind::LinuxSll, &f).unwrap());
        let f = cat(&[&sll(65534, ET_IPV4), &ipv4_udp()]);
        assert_v4_udp(&decode(LinkKind::LinuxSll, &f).unwrap());
        // VLAN tag re-inserted by libpcap: protocol 0x8100, then TCI and the real protocol.
        let f = cat(&[&sll(1, [0x81, 0x00]), &[0x00, 0x2a], &ET_IPV6, &ipv6_udp()]);
        let v = decode(LinkKind::LinuxSll, &f).unwrap();
        assert_v6_udp(&v);
        assert_eq!(v.vlan, Some(42));
        // Netlink: the protocol field is a netlink family, even if it reads 0x0800.
        let f = cat(&[&sll(824, ET_IPV4), &ipv4_tcp()]);
        assert_eq!(skip(LinkKind::LinuxSll, &f), SkipReason::NotIp);
        // 802.2 LLC pseudo-protocol.
        let f = cat(&[&sll(1, [0x00, 0x04]), &[0x42, 0x42, 0x03]]);
        assert_eq!(skip(LinkKind::LinuxSll, &f), SkipReason::NotIp);
        // InfiniBand: address length 20 although only 8 bytes are stored.
        let mut f = cat(&[&sll(32, ET_IPV4), &ipv4_tcp()]);
        f[5] = 20;
        assert_v4_tcp(&decode(LinkKind::LinuxSll, &f).unwrap());
        assert_eq!(
            skip(LinkKind::LinuxSll, &sll(1, ET_IPV4)[..15]),
            SkipReason::Truncated
        );
    }

    #[test]
    fn linux_sll2() {
        let f = cat(&[&sll2(ET_IPV4), &ipv4_tcp()]);
        assert_v4_tcp(&decode(LinkKind::LinuxSll2, &f).unwrap());
        let f = cat(&[&sll2(ET_IPV6), &ipv6_udp()]);
        assert_v6_udp(&decode(LinkKind::LinuxSll2, &f).unwrap());
        let f = cat(&[&sll2([0x81, 0x00]), &[0x01, 0x00], &ET_IPV4, &ipv4_udp()]);
        let v = decode(LinkKind::LinuxSll2, &f).unwrap();
        assert_v4_udp(&v);
        assert_eq!(v.vlan, Some(256));
        let f = cat(&[&sll2([0x08, 0x06]), &[0u8; 28]]);
        assert_eq!(skip(LinkKind::LinuxSll2, &f), SkipReason::NotIp);
        let mut f = cat(&[&sll2(ET_IPV4), &ipv4_tcp()]);
        f[11] = 20;
        assert_v4_tcp(&decode(LinkKind::LinuxSll2, &f).unwrap());
        assert_eq!(
            skip(LinkKind::LinuxSll2, &sll2(ET_IPV4)[..19]),
            SkipReason::Truncated
        );
    }
}
