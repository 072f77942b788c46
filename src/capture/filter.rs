//! The BPF expression handed to libpcap.
//!
//! Owns: turning the watched ports, the link type and the user's own expression into one BPF
//! program. The kernel (live) or the capture thread (offline) drops everything else before a
//! frame is decoded, so the program must never drop a frame the decoder would turn into a
//! watched packet. Three rules keep it so:
//!
//! - The port test only passes what BPF can judge by its ports: TCP or UDP right behind the IPv4
//!   or IPv6 header. Everything the decoder handles but BPF cannot judge — IPv4 fragments (later
//!   fragments carry no ports), IPv4 with an authentication header, IPv6 with extension headers
//!   (hop-by-hop, routing, fragment, destination options, authentication) — passes whatever its
//!   ports ([`USERLAND`]); the capture thread tests the ports after decoding (and reassembling).
//! - On Ethernet the whole test is repeated under up to [`MAX_VLAN_TAGS`] `vlan` levels, and a
//!   frame with even more tags passes so that the summary can count it (`vlan-too-deep`). On
//!   Linux cooked captures, where libpcap has no `vlan`, tagged frames pass.
//! - The user's expression (`-f`) is applied at every VLAN level too, unless it names a keyword
//!   that moves libpcap's offsets itself (`vlan`, `mpls`, `pppoes`, `geneve`): then it is applied
//!   once, in front, as written.
//!
//! Tunnels are judged by their inner ports, so their outer packets pass too ([`USERLAND`]:
//! VXLAN and Geneve by UDP port, IP in IP and GRE by protocol, MPLS and PPPoE sessions by
//! EtherType, at every VLAN level; on link types without EtherTypes libpcap folds that last
//! clause away).
//!
//! Never: touches packets.

use ndbsniff_core::decode::{LinkKind, MAX_VLAN_TAGS};

/// Frames BPF cannot judge by port, passed to the capture thread, which decodes them and tests
/// the ports itself: (what, BPF expression).
pub const USERLAND: [(&str, &str); 6] = [
    ("IPv4 fragments", "ip[6:2] & 0x3fff != 0"),
    ("IPv4 authentication header", "ip proto 51"),
    (
        "IPv6 extension headers",
        "ip6 proto 0 or ip6 proto 43 or ip6 proto 44 or ip6 proto 60 or ip6 proto 51",
    ),
    ("VXLAN and Geneve", "udp dst port 4789 or udp dst port 6081"),
    (
        "IP in IP and GRE",
        "ip proto 4 or ip proto 41 or ip proto 47 or ip6 proto 4 or ip6 proto 41 or ip6 proto 47",
    ),
    (
        "MPLS and PPPoE sessions",
        "ether proto 0x8847 or ether proto 0x8848 or ether proto 0x8864",
    ),
];

/// libpcap keywords after which the offsets of the following tests move: an expression holding
/// one is applied as written, once.
const LINK_AWARE_WORDS: [&str; 4] = ["vlan", "mpls", "pppoes", "geneve"];

/// TPIDs passed on Linux cooked captures, where libpcap has no `vlan`.
const COOKED_TAGGED: &str = "ether proto 0x8100 or ether proto 0x88a8 or ether proto 0x9100";

/// The port clause for a set of watched ports, e.g. `(tcp or udp) and (port 3406)`.
pub fn ports_clause(ports: &[u16]) -> String {
    let list: Vec<String> = ports.iter().map(|p| format!("port {p}")).collect();
    format!("(tcp or udp) and ({})", list.join(" or "))
}

/// The test for one level (no VLAN tag left to strip): the port clause or a frame the capture
/// thread must judge.
pub fn level_clause(ports: &[u16]) -> String {
    let mut parts = vec![ports_clause(ports)];
    parts.extend(USERLAND.iter().map(|(_, e)| format!("({e})")));
    parts.join(" or ")
}

/// How VLAN tags are looked under for a link type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tags {
    /// Ethernet: repeat the test under `vlan`, this many levels deep.
    Vlan(usize),
    /// Linux cooked: libpcap has no `vlan`; tagged frames pass.
    PassTagged,
    /// No tags on this link type (or libpcap rejected `vlan`).
    None,
}

impl Tags {
    /// What the decoder follows on `link`.
    pub fn for_link(link: LinkKind) -> Tags {
        match link {
            LinkKind::Ethernet => Tags::Vlan(MAX_VLAN_TAGS),
            LinkKind::LinuxSll | LinkKind::LinuxSll2 => Tags::PassTagged,
            _ => Tags::None,
        }
    }
}

/// True when `expr` holds a libpcap keyword that moves the offsets of the tests after it.
fn link_aware(expr: &str) -> bool {
    expr.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| LINK_AWARE_WORDS.iter().any(|k| w.eq_ignore_ascii_case(k)))
}

/// The full expression: the port test (unless every port is watched) and the user's expression
/// (if any), looked for under VLAN tags as `tags` says. `None` when nothing is to be filtered.
pub fn build(ports: Option<&[u16]>, user: Option<&str>, tags: Tags) -> Option<String> {
    let user = user.map(str::trim).filter(|u| !u.is_empty());
    let level = ports.map(level_clause);
    // The user's expression is applied once, in front, when it moves the offsets itself.
    let (front, per_level) = match user {
        Some(u) if link_aware(u) => (Some(u), None),
        u => (None, u),
    };
    let one = match (per_level, &level) {
        (Some(u), Some(l)) => Some(format!("({u}) and ({l})")),
        (Some(u), None) => Some(format!("({u})")),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    };
    let stack = one.map(|one| match tags {
        Tags::Vlan(levels) => {
            // Innermost: the test, or a tag deeper than the decoder follows (counted there).
            let mut expr = format!("{one} or vlan");
            for _ in 0..levels {
                expr = format!("{one} or (vlan and ({expr}))");
            }
            expr
        }
        Tags::PassTagged if per_level.is_none() => format!("{one} or {COOKED_TAGGED}"),
        Tags::PassTagged | Tags::None => one,
    });
    match (front, stack) {
        (Some(u), Some(s)) => Some(format!("({u}) and ({s})")),
        (Some(u), None) => Some(u.to_string()),
        (None, s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_only_without_tags() {
        let e = build(Some(&[3406]), None, Tags::None).unwrap_or_default();
        assert!(e.starts_with("(tcp or udp) and (port 3406) or (ip[6:2] & 0x3fff != 0)"));
        for (_, clause) in USERLAND {
            assert!(e.contains(clause), "{clause} missing from {e}");
        }
        assert!(!e.contains("vlan"));
    }

    #[test]
    fn vlan_levels_nest_to_the_decoder_bound_and_pass_deeper_frames() {
        let e = build(Some(&[3406, 1186]), None, Tags::Vlan(MAX_VLAN_TAGS)).unwrap_or_default();
        assert_eq!(e.matches("vlan and").count(), MAX_VLAN_TAGS);
        assert_eq!(
            e.matches("(tcp or udp) and (port 3406 or port 1186)")
                .count(),
            MAX_VLAN_TAGS + 1
        );
        assert_eq!(
            e.matches(" or vlan)").count(),
            1,
            "innermost level passes deeper tags"
        );
    }

    #[test]
    fn user_expression_is_applied_at_every_level() {
        let e = build(Some(&[3406]), Some("host 192.0.2.1"), Tags::Vlan(2)).unwrap_or_default();
        assert_eq!(e.matches("(host 192.0.2.1) and (").count(), 3);
        assert!(e.starts_with("(host 192.0.2.1) and ((tcp or udp) and (port 3406)"));
        // Every port watched: the user's expression alone, still under the tags.
        let e = build(None, Some("tcp"), Tags::Vlan(1)).unwrap_or_default();
        assert_eq!(e, "(tcp) or (vlan and ((tcp) or vlan))");
        assert_eq!(build(None, Some("  "), Tags::Vlan(3)), None);
        assert_eq!(build(None, None, Tags::Vlan(3)), None);
        assert_eq!(
            build(None, Some("tcp"), Tags::None).as_deref(),
            Some("(tcp)")
        );
    }

    #[test]
    fn an_expression_that_moves_offsets_is_applied_once_in_front() {
        let e = build(Some(&[3406]), Some("vlan 100"), Tags::Vlan(2)).unwrap_or_default();
        assert!(e.starts_with("(vlan 100) and ("));
        assert_eq!(e.matches("vlan 100").count(), 1);
        assert_eq!(
            build(None, Some("MPLS"), Tags::Vlan(2)).as_deref(),
            Some("MPLS")
        );
        // A host name that merely contains the word is not taken for it.
        assert!(!link_aware("host vlanhost"));
    }

    #[test]
    fn cooked_captures_pass_tagged_frames() {
        let e = build(Some(&[3406]), None, Tags::PassTagged).unwrap_or_default();
        assert!(e.ends_with(COOKED_TAGGED));
        // With a user expression the tagged frames would bypass it: it is applied as written.
        let e = build(Some(&[3406]), Some("host 192.0.2.1"), Tags::PassTagged).unwrap_or_default();
        assert!(!e.contains("0x8100"));
    }
}
