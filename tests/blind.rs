//! End-to-end: in the default port mode, NDB conversations that a port-only BPF filter would
//! drop are found — behind IPv6 extension headers, an IPv4 authentication header, 4 to 8 VLAN
//! tags, and in IP fragments — and the summary counts what could not be used, and why.

mod common;

use ndbsniff_gen::blind::{capture, capture_mixed, conversations, Ext, FragOrder, Shape};

/// Writes `bytes` as `name` and runs ndbsniff on it in port mode (JSON, one worker).
fn run(name: &str, bytes: &[u8], extra: &[&str]) -> common::Run {
    let dir = common::temp_dir(&format!("blind-{name}"));
    let path = dir.join(format!("{name}.pcap"));
    std::fs::write(&path, bytes).expect("write capture");
    run_file(&path, extra)
}

fn run_file(path: &std::path::Path, extra: &[&str]) -> common::Run {
    let p = path.to_str().expect("utf-8 path");
    let mut args = vec!["-r", p, "--format", "json", "--threads", "1"];
    args.extend_from_slice(extra);
    let run = common::ndbsniff(&args);
    run.expect_code(0);
    run
}

fn ndb_flows(run: &common::Run) -> usize {
    run.flows()
        .iter()
        .filter(|f| {
            f["verdict"] == "ndb-mgm" && f["server"].as_str().is_some_and(|s| s.ends_with(":3406"))
        })
        .count()
}

fn stat(run: &common::Run, path: &[&str]) -> u64 {
    let mut v = run.stats();
    for p in path {
        v = v[*p].clone();
    }
    v.as_u64().unwrap_or(0)
}

#[test]
fn ipv6_extension_headers_do_not_hide_flows() {
    let parts = vec![
        (
            Shape::Ipv6Ext(vec![Ext::HopByHop]),
            conversations(0, 2, true),
        ),
        (
            Shape::Ipv6Ext(vec![Ext::Routing]),
            conversations(2, 2, true),
        ),
        (
            Shape::Ipv6Ext(vec![Ext::DestOpts]),
            conversations(4, 2, true),
        ),
        (
            Shape::Ipv6Ext(vec![Ext::HopByHop, Ext::Routing, Ext::DestOpts]),
            conversations(6, 1, true),
        ),
    ];
    let bytes = capture_mixed(&parts).unwrap();
    let r = run("ipv6-ext", &bytes, &[]);
    assert_eq!(ndb_flows(&r), 7, "{}", r.describe());
    assert_eq!(stat(&r, &["packets_other_ports"]), 0);
    assert!(r.stats()["filter"]
        .as_str()
        .unwrap_or("")
        .contains("ip6 proto 60"));
    // The same with every port: nothing more is found.
    let any = run("ipv6-ext-any", &bytes, &["--any-port"]);
    assert_eq!(ndb_flows(&any), 7, "{}", any.describe());
}

#[test]
fn ipv4_authentication_header_does_not_hide_flows() {
    let bytes = capture(Shape::Ipv4Ah, &conversations(0, 2, false)).unwrap();
    let r = run("ipv4-ah", &bytes, &[]);
    assert_eq!(ndb_flows(&r), 2, "{}", r.describe());
}

#[test]
fn vlan_stacks_up_to_eight_are_decoded_and_deeper_ones_counted() {
    let mut parts: Vec<(Shape, _)> = (4..=8)
        .map(|n| (Shape::Vlans(n), conversations(n, 1, n % 2 == 0)))
        .collect();
    let deep = conversations(9, 1, false);
    let deep_packets = deep[0].packets.len() as u64;
    parts.push((Shape::Vlans(9), deep));
    let bytes = capture_mixed(&parts).unwrap();
    let r = run("vlan-deep", &bytes, &[]);
    assert_eq!(ndb_flows(&r), 5, "{}", r.describe());
    assert_eq!(
        stat(&r, &["not_decoded", "vlan-too-deep"]),
        deep_packets,
        "{}",
        r.describe()
    );
    // A user filter is looked for under the tags too.
    let f = run("vlan-deep-user", &bytes, &["-f", "tcp"]);
    assert_eq!(ndb_flows(&f), 5, "{}", f.describe());
    let none = run("vlan-deep-nomatch", &bytes, &["-f", "udp"]);
    assert_eq!(ndb_flows(&none), 0, "{}", none.describe());
}

/// Runs a fragmented capture with both readers (mapped file and libpcap) and checks that they
/// agree; returns the default reader's run.
fn fragmented(name: &str, v6: bool, order: FragOrder, extra: &[&str]) -> common::Run {
    let shape = Shape::Fragments {
        v6,
        size: 16,
        order,
    };
    let bytes = capture(shape, &conversations(0, 3, v6)).unwrap();
    let r = run(name, &bytes, extra);
    let mut lib = extra.to_vec();
    lib.extend_from_slice(&["--reader", "libpcap"]);
    let path = common::temp_dir(&format!("blind-{name}")).join(format!("{name}.pcap"));
    std::fs::write(&path, &bytes).expect("write capture");
    let l = run_file(&path, &lib);
    assert_eq!(r.stdout(), l.stdout(), "readers differ on {name}");
    assert!(stat(&r, &["fragments_seen"]) > 10, "{}", r.describe());
    r
}

#[test]
fn fragmented_requests_are_reassembled_and_classified() {
    for v6 in [false, true] {
        for order in [FragOrder::InOrder, FragOrder::Reversed] {
            let name = format!("frag-{}-{order:?}", if v6 { "v6" } else { "v4" });
            let r = fragmented(&name, v6, order, &[]);
            assert_eq!(ndb_flows(&r), 3, "{}", r.describe());
            assert!(stat(&r, &["datagrams_reassembled"]) > 3, "{}", r.describe());
            assert_eq!(stat(&r, &["fragments_dropped"]), 0, "{}", r.describe());
            assert_eq!(stat(&r, &["packets_not_decoded"]), 0, "{}", r.describe());
        }
    }
    // The text summary says it too.
    let shape = Shape::Fragments {
        v6: false,
        size: 16,
        order: FragOrder::InOrder,
    };
    let bytes = capture(shape, &conversations(0, 1, false)).unwrap();
    let dir = common::temp_dir("blind-frag-text");
    let path = dir.join("frag-text.pcap");
    std::fs::write(&path, &bytes).expect("write capture");
    let text = common::ndbsniff(&["-r", path.to_str().unwrap_or_default()]);
    text.expect_code(0);
    let line = text
        .stderr()
        .lines()
        .find(|l| l.starts_with("ip fragments: "))
        .map(String::from);
    let line = line.unwrap_or_else(|| panic!("no fragment line\n{}", text.describe()));
    assert!(line.ends_with("datagrams reassembled, 0 dropped"), "{line}");
}

#[test]
fn duplicate_fragments_are_dropped_alone() {
    for v6 in [false, true] {
        let r = fragmented(&format!("frag-dup-{v6}"), v6, FragOrder::Duplicated, &[]);
        assert_eq!(ndb_flows(&r), 3, "{}", r.describe());
        let dups = stat(&r, &["fragment_drops", "duplicate"]);
        assert!(dups > 0);
        assert_eq!(stat(&r, &["fragments_dropped"]), dups, "{}", r.describe());
    }
}

#[test]
fn conflicting_overlaps_drop_the_datagram() {
    for v6 in [false, true] {
        let r = fragmented(
            &format!("frag-overlap-{v6}"),
            v6,
            FragOrder::Conflicting,
            &[],
        );
        let reassembled = stat(&r, &["datagrams_reassembled"]);
        assert_eq!(
            reassembled,
            0,
            "every fragmented datagram had a conflict\n{}",
            r.describe()
        );
        assert!(
            stat(&r, &["fragment_drops", "overlap"]) > 0,
            "{}",
            r.describe()
        );
    }
}

#[test]
fn too_many_fragments_drop_the_datagram() {
    let r = fragmented(
        "frag-many",
        false,
        FragOrder::InOrder,
        &["--frag-max-fragments", "2"],
    );
    assert!(
        stat(&r, &["fragment_drops", "too-many-fragments"]) > 0,
        "{}",
        r.describe()
    );
    let ok = fragmented(
        "frag-many-ok",
        false,
        FragOrder::InOrder,
        &["--frag-max-fragments", "100"],
    );
    assert_eq!(stat(&ok, &["fragments_dropped"]), 0, "{}", ok.describe());
}

#[test]
fn late_fragments_time_out() {
    for v6 in [false, true] {
        let r = fragmented(&format!("frag-late-{v6}"), v6, FragOrder::Late, &[]);
        let late = stat(&r, &["fragment_drops", "unfinished"]);
        assert!(late > 0, "{}", r.describe());
        assert!(
            stat(&r, &["fragment_drops", "timeout"]) > 0,
            "{}",
            r.describe()
        );
        assert_eq!(stat(&r, &["datagrams_reassembled"]), 0, "{}", r.describe());
        // Given longer than the 40 s the last fragments were late, they complete.
        let patient = fragmented(
            &format!("frag-late-ok-{v6}"),
            v6,
            FragOrder::Late,
            &["--frag-timeout", "60"],
        );
        assert_eq!(
            stat(&patient, &["fragments_dropped"]),
            0,
            "{}",
            patient.describe()
        );
        // (The late segments arrive after their connection closed, so they start flows of their
        // own: only the reassembly is checked here.)
        let reassembled = stat(&patient, &["datagrams_reassembled"]);
        assert!(reassembled > 0, "{}", patient.describe());
    }
}
