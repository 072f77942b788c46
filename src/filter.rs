//! The BPF expression handed to libpcap.
//!
//! Owns: turning the watched ports and the user's own expression into one BPF program. The kernel
//! (live) or libpcap (offline) drops everything else before a frame is copied. A plain
//! `port 3406` misses 802.1Q-tagged frames, so for Ethernet the port test is repeated under up to
//! three `vlan` levels. The workers check ports again in userland, so the filter is an
//! optimisation and never the only line of defence.
//!
//! Never: touches packets.

/// The port clause for a set of watched ports, e.g. `(tcp or udp) and (port 3406)`.
pub fn ports_clause(ports: &[u16]) -> String {
    let list: Vec<String> = ports.iter().map(|p| format!("port {p}")).collect();
    format!("(tcp or udp) and ({})", list.join(" or "))
}

/// The full expression: the user's expression (if any) and, unless every port is watched, the
/// port clause, repeated under `vlan` for up to three tags when `vlan_levels` is 3.
pub fn build(ports: Option<&[u16]>, user: Option<&str>, vlan_levels: usize) -> Option<String> {
    let ports_expr = ports.map(|p| {
        let base = ports_clause(p);
        let mut expr = base.clone();
        for _ in 0..vlan_levels {
            expr = format!("{base} or (vlan and ({expr}))");
        }
        expr
    });
    match (user.map(str::trim).filter(|u| !u.is_empty()), ports_expr) {
        (Some(u), Some(p)) => Some(format!("({u}) and ({p})")),
        (Some(u), None) => Some(u.to_string()),
        (None, Some(p)) => Some(p),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_only() {
        assert_eq!(
            build(Some(&[3406]), None, 0).as_deref(),
            Some("(tcp or udp) and (port 3406)")
        );
    }

    #[test]
    fn vlan_levels_nest() {
        let e = build(Some(&[3406, 1186]), None, 2).unwrap_or_default();
        assert_eq!(e.matches("vlan and").count(), 2);
        assert!(e.starts_with("(tcp or udp) and (port 3406 or port 1186) or (vlan and"));
    }

    #[test]
    fn user_expression_is_anded() {
        assert_eq!(
            build(Some(&[3406]), Some("host 192.0.2.1"), 0).as_deref(),
            Some("(host 192.0.2.1) and ((tcp or udp) and (port 3406))")
        );
        assert_eq!(build(None, Some("  "), 3), None);
        assert_eq!(build(None, Some("tcp"), 3).as_deref(), Some("tcp"));
    }
}
