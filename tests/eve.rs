//! `--format eve` end to end: Suricata-shaped lines for the same flows the JSON format reports,
//! and the `timestamp` and `delta` of statistics lines in both formats.

mod common;

use std::collections::BTreeMap;

use common::{ndbsniff, temp_dir, write_pcap};
use serde_json::Value;

/// NDB management sessions beside HTTP, SSH, DNS and memcached on port 3406.
const MIXED: &str = "testdata/mixed-ndb-and-lookalikes-eth-v4.pcap";

fn run(file: &str, format: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["-r", file, "--format", format, "--threads", "1"];
    args.extend(extra);
    let r = ndbsniff(&args);
    r.expect_code(0);
    r
}

fn flows_by_community_id(lines: &[Value], kind_key: &str, kind: &str) -> BTreeMap<String, Value> {
    lines
        .iter()
        .filter(|v| v[kind_key] == kind)
        .map(|v| {
            (
                v["community_id"]
                    .as_str()
                    .expect("community_id")
                    .to_string(),
                v.clone(),
            )
        })
        .collect()
}

#[test]
fn eve_reports_the_json_formats_flows_in_suricatas_shape() {
    for (file, extra) in [
        (MIXED, &[][..]),
        ("testdata/ndb-mix-ooo-vlan1-v6.pcapng", &[][..]),
        (
            "testdata/mixed-3406-and-1186-eth-v4.pcap",
            &["--port", "3406,1186"][..],
        ),
    ] {
        let eve = run(file, "eve", extra);
        let json = run(file, "json", extra);
        let lines = eve.json_lines();
        assert!(!lines.is_empty(), "{}", eve.describe());
        for v in &lines {
            let t = v["event_type"]
                .as_str()
                .unwrap_or_else(|| panic!("event_type: {v}"));
            assert!(["flow", "ndb_cluster", "stats"].contains(&t), "{v}");
            let ts = v["timestamp"]
                .as_str()
                .unwrap_or_else(|| panic!("timestamp: {v}"));
            assert!(ts.ends_with("+0000") && ts.len() == 31, "{ts}");
            assert!(v.get("type").is_none(), "{v}");
        }
        assert_eq!(
            lines.last().map(|v| v["event_type"].clone()),
            Some("stats".into())
        );
        let eve_flows = flows_by_community_id(&lines, "event_type", "flow");
        let json_flows = flows_by_community_id(&json.json_lines(), "type", "flow");
        assert_eq!(
            lines.iter().filter(|v| v["event_type"] == "flow").count(),
            json.flows().len(),
            "{file}"
        );
        assert_eq!(
            eve_flows.keys().collect::<Vec<_>>(),
            json_flows.keys().collect::<Vec<_>>(),
            "{file}"
        );
        let mut ndb = 0;
        for (id, e) in &eve_flows {
            let j = &json_flows[id];
            assert_eq!(e["flow_id"], j["flow_id"], "{id}");
            assert!(e["flow_id"].is_u64() && e["src_port"].is_u64() && e["dest_port"].is_u64());
            let client: std::net::SocketAddr = j["client"].as_str().unwrap().parse().unwrap();
            let server: std::net::SocketAddr = j["server"].as_str().unwrap().parse().unwrap();
            assert_eq!(e["src_ip"], client.ip().to_string());
            assert_eq!(e["src_port"], client.port());
            assert_eq!(e["dest_ip"], server.ip().to_string());
            assert_eq!(e["dest_port"], server.port());
            assert_eq!(e["proto"], j["transport"].as_str().unwrap().to_uppercase());
            if j["verdict"] == "ndb-mgm" {
                ndb += 1;
                assert_eq!(e["app_proto"], "ndb-mgm", "{e}");
                assert_eq!(e["ndb"], j["ndb"], "{id}");
            } else {
                let want = j.get("hint").cloned().unwrap_or("failed".into());
                assert_eq!(e["app_proto"], want, "{e}");
                assert!(e.get("ndb").is_none());
            }
            match j.get("vlan") {
                Some(id) => assert_eq!(e["vlan"], Value::Array(vec![id.clone()])),
                None => assert!(e.get("vlan").is_none()),
            }
            let f = &e["flow"];
            assert_eq!(f["pkts_toserver"], j["packets_to_server"]);
            assert_eq!(f["pkts_toclient"], j["packets_to_client"]);
            assert_eq!(f["bytes_toserver"], j["bytes_to_server"]);
            assert_eq!(f["bytes_toclient"], j["bytes_to_client"]);
            let z = |k: &str| j[k].as_str().unwrap().replace('Z', "+0000");
            assert_eq!(f["start"], z("first_seen"));
            assert_eq!(f["end"], z("last_seen"));
            assert_eq!(e["timestamp"], z("last_seen"));
            assert!(f["age"].is_u64());
            assert!(["new", "established", "closed"].contains(&f["state"].as_str().unwrap()));
            assert!(["timeout", "forced", "shutdown"].contains(&f["reason"].as_str().unwrap()));
            for k in [
                "verdict",
                "confidence",
                "evidence",
                "hint",
                "upgrade",
                "roles_from",
                "state",
            ] {
                assert_eq!(e["ndbsniff"].get(k), j.get(k), "{k} of {id}");
            }
            assert_eq!(e["ndbsniff"].get("anomalies"), j.get("anomalies"));
        }
        assert!(ndb > 0, "{file} has NDB flows");
        let (es, js) = (lines.last().unwrap(), json.stats());
        let mut js_body = js.clone();
        let obj = js_body.as_object_mut().unwrap();
        obj.remove("type");
        let ts = obj.remove("timestamp").expect("a stats timestamp");
        assert_eq!(es["stats"], js_body);
        assert_eq!(es["timestamp"], ts.as_str().unwrap().replace('Z', "+0000"));
        let clusters = |lines: &[Value], key: &str| -> Vec<Value> {
            lines
                .iter()
                .filter(|v| v[key] == "ndb_cluster")
                .cloned()
                .collect()
        };
        let jc = clusters(&json.json_lines(), "type");
        let ec = clusters(&lines, "event_type");
        assert_eq!(jc.len(), ec.len());
        for (j, e) in jc.iter().zip(&ec) {
            let mut j = j.clone();
            j.as_object_mut().unwrap().remove("type");
            assert_eq!(e["ndb_cluster"], j);
        }
    }
}

#[test]
fn a_file_runs_stats_line_stands_at_its_last_packet_with_the_whole_run_as_its_delta() {
    for format in ["json", "eve"] {
        let r = run(MIXED, format, &[]);
        let lines = r.json_lines();
        let stats_lines: Vec<&Value> = lines
            .iter()
            .filter(|v| v["type"] == "stats" || v["event_type"] == "stats")
            .collect();
        assert_eq!(stats_lines.len(), 1, "{}", r.describe());
        let line = stats_lines[0];
        let s = if format == "eve" {
            &line["stats"]
        } else {
            line
        };
        let d = &s["delta"];
        for k in [
            "packets_read",
            "bytes_read",
            "packets_decoded",
            "packets_watched",
            "packets_not_decoded",
            "flows",
            "flows_evicted",
        ] {
            assert!(d[k].is_u64(), "{k}: {d}");
            assert_eq!(d[k], s[k], "{format}: delta {k}");
        }
        assert_eq!(s["packets_read"], 73);
        // A file has no drop counters to follow.
        assert!(d.get("dropped_by_kernel").is_none() && d.get("dropped_by_ndbsniff").is_none());
        // Every packet is in a flow, so the last one is the latest flow end.
        let ends: Vec<&str> = lines
            .iter()
            .filter(|v| v["type"] == "flow" || v["event_type"] == "flow")
            .map(|v| {
                if format == "eve" {
                    v["flow"]["end"].as_str().unwrap()
                } else {
                    v["last_seen"].as_str().unwrap()
                }
            })
            .collect();
        let latest = ends.iter().max().unwrap();
        assert_eq!(line["timestamp"].as_str(), Some(*latest), "{format}");
        if format == "json" {
            assert_eq!(latest, &"2024-01-15T10:00:04.319261Z");
            // `timestamp` comes right after `type`.
            assert!(r.stdout().contains(
                "{\"type\":\"stats\",\"timestamp\":\"2024-01-15T10:00:04.319261Z\",\"final\":true,"
            ));
        }
    }
}

#[test]
fn a_file_without_packets_has_no_stats_timestamp() {
    let dir = temp_dir("eve-empty");
    let path = dir.join("empty.pcap");
    write_pcap(&path, 1, &[]);
    let path = path.to_str().unwrap();
    for format in ["json", "eve"] {
        let r = run(path, format, &[]);
        let lines = r.json_lines();
        assert_eq!(lines.len(), 1, "{}", r.describe());
        let line = &lines[0];
        assert!(line.get("timestamp").is_none(), "{line}");
        let s = if format == "eve" {
            assert_eq!(line["event_type"], "stats");
            &line["stats"]
        } else {
            line
        };
        assert_eq!(s["packets_read"], 0);
        assert_eq!(s["delta"]["packets_read"], 0);
        assert_eq!(s["delta"]["flows"], 0);
    }
}
