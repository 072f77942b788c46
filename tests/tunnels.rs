//! Tunnelled NDB sessions (the generated `testdata/tunnel-*` captures, checked against tshark's
//! decoding when they were made): each inner flow is found by the default port filter, keyed
//! and classified like any other, and its record names the tunnel layers, outermost first.

mod common;

use common::{ndbsniff, temp_dir, write_pcap};
use serde_json::Value;

/// (capture, the kinds of its layers, the JSON of its layers without `outer`).
const CASES: &[(&str, &str, &str)] = &[
    (
        "tunnel-vxlan-v4.pcap",
        "vxlan",
        r#"[{"type":"vxlan","vni":4242}]"#,
    ),
    (
        "tunnel-geneve-v6.pcap",
        "geneve",
        r#"[{"type":"geneve","vni":77}]"#,
    ),
    (
        "tunnel-gre-key-v4.pcap",
        "gre",
        r#"[{"type":"gre","key":7}]"#,
    ),
    ("tunnel-gre-teb-v4.pcap", "gre", r#"[{"type":"gre"}]"#),
    (
        "tunnel-mpls-v4.pcap",
        "mpls",
        r#"[{"type":"mpls","labels":[1000,2000]}]"#,
    ),
    (
        "tunnel-pppoe-v6.pcap",
        "pppoe",
        r#"[{"type":"pppoe","session":4660}]"#,
    ),
    ("tunnel-ipip-v4.pcap", "ipip", r#"[{"type":"ipip"}]"#),
    ("tunnel-6in4-v6.pcap", "6in4", r#"[{"type":"6in4"}]"#),
    ("tunnel-4in6-v4.pcap", "4in6", r#"[{"type":"4in6"}]"#),
    ("tunnel-6in6-v6.pcap", "6in6", r#"[{"type":"6in6"}]"#),
    (
        "tunnel-nested-v4.pcap",
        "mpls+gre+vxlan",
        r#"[{"type":"mpls","labels":[300]},{"type":"gre"},{"type":"vxlan","vni":9}]"#,
    ),
];

fn without_outer(tunnel: &Value) -> Value {
    let mut t = tunnel.clone();
    for layer in t.as_array_mut().into_iter().flatten() {
        if let Some(o) = layer.as_object_mut() {
            o.remove("outer");
        }
    }
    t
}

#[test]
fn every_tunnel_kind_carries_an_ndb_session_to_the_classifier() {
    for (name, kinds, layers) in CASES {
        let path = format!("testdata/{name}");
        for reader in ["auto", "libpcap"] {
            let run = ndbsniff(&["-r", &path, "--format", "json", "--reader", reader]);
            run.expect_code(0);
            let flows = run.flows();
            let ndb: Vec<&Value> = flows.iter().filter(|f| f["verdict"] == "ndb-mgm").collect();
            assert_eq!(ndb.len(), 1, "{name}: {}", run.describe());
            let f = ndb[0];
            assert_eq!(
                f["server"].as_str().map(|s| s.ends_with(":3406")),
                Some(true)
            );
            let want: Value = serde_json::from_str(layers).unwrap();
            assert_eq!(without_outer(&f["tunnel"]), want, "{name}");
            // IP-borne layers name their outer endpoints, with ports for UDP tunnels.
            for layer in f["tunnel"].as_array().unwrap() {
                let outer = layer.get("outer").and_then(Value::as_str);
                match layer["type"].as_str().unwrap() {
                    "mpls" | "pppoe" => assert_eq!(outer, None),
                    "vxlan" => assert!(outer.unwrap().ends_with(":4789"), "{outer:?}"),
                    "geneve" => assert!(outer.unwrap().ends_with("]:6081"), "{outer:?}"),
                    _ => assert!(outer.unwrap().contains(" → "), "{outer:?}"),
                }
            }
            // Every frame was decoded down to the inner packet.
            let stats = run.stats();
            assert_eq!(stats["packets_not_decoded"], 0, "{name}");
            assert_eq!(stats["packets_watched"], stats["packets_read"], "{name}");
        }
        // The text report shows the kinds beside the transport, in the table and per flow.
        let run = ndbsniff(&["-r", &path]);
        run.expect_code(0);
        assert!(
            run.stdout().contains(&format!(" tcp/{kinds} ")),
            "{name}: {}",
            run.describe()
        );
        let run = ndbsniff(&["-r", &path, "--flows"]);
        assert!(run.stdout().contains(&format!(" tcp/{kinds} ")), "{name}");
    }
}

#[test]
fn the_users_filter_applies_to_the_outer_packet() {
    // The VXLAN endpoints are in 198.51.100.0/24; the inner server is 203.0.113.10.
    let path = "testdata/tunnel-vxlan-v4.pcap";
    let outer = ndbsniff(&["-r", path, "--format", "json", "-f", "udp port 4789"]);
    outer.expect_code(0);
    assert_eq!(outer.flows().len(), 2, "{}", outer.describe());
    let inner = ndbsniff(&["-r", path, "--format", "json", "-f", "host 203.0.113.10"]);
    inner.expect_code(0);
    assert_eq!(inner.flows().len(), 0, "{}", inner.describe());
}

/// IPv4 192.0.2.1 -> 192.0.2.2 with `protocol` around `payload`.
fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let t = ((20 + payload.len()) as u16).to_be_bytes();
    let mut p = vec![
        0x45, 0, t[0], t[1], 0, 0, 0x40, 0, 64, protocol, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    p.extend_from_slice(payload);
    p
}

#[test]
fn too_deep_fragmented_and_malformed_tunnels_are_counted() {
    // TCP 50000 -> 3406 with a SYN.
    let tcp = [
        0xc3, 0x50, 0x0d, 0x4e, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let mut four = ipv4(6, &tcp);
    for _ in 0..4 {
        four = ipv4(4, &four);
    }
    let five = ipv4(4, &four);
    let mut fragment = ipv4(6, &tcp);
    fragment[6] = 0x20; // more fragments
    let fragment = ipv4(4, &fragment);
    let routing_gre = ipv4(47, &[0x40, 0, 0x08, 0, 0, 0, 0, 0]);
    let dir = temp_dir("tunnels-bad");
    let p = dir.join("bad.pcap");
    write_pcap(&p, 101, &[&four, &five, &fragment, &routing_gre]);
    let run = ndbsniff(&["-r", p.to_str().unwrap(), "--format", "json"]);
    run.expect_code(0);
    let stats = run.stats();
    assert_eq!(stats["packets_watched"], 1, "{}", run.describe());
    let not = &stats["not_decoded"];
    assert_eq!(not["tunnel-too-deep"], 1, "{}", run.describe());
    assert_eq!(not["tunnel-fragment"], 1, "{}", run.describe());
    assert_eq!(not["malformed-tunnel"], 1, "{}", run.describe());
    let flows = run.flows();
    assert_eq!(flows[0]["tunnel"].as_array().map(Vec::len), Some(4));
}
