//! `--format eve` end to end: Suricata-shaped lines for the same flows the JSON format reports,
//! and the `timestamp` and `delta` of statistics lines in both formats.

mod common;

use common::{ndbsniff, temp_dir, write_pcap};
use serde_json::Value;

/// NDB management sessions beside HTTP, SSH, DNS and memcached on port 3406.
const MIXED: &str = "testdata/mixed-ndb-and-lookalikes-eth-v4.pcap";

fn run(file: &str, format: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["-r", file, "--format", format, "--threads", "1"];
    args.extend(extra);
    ndbsniff(&args)
}

/// Every capture of `testdata/MANIFEST.tsv` with its extra arguments.
fn manifest() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(common::root().join("testdata/MANIFEST.tsv"))
        .expect("read testdata/MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (f, a) = (col("file"), col("args"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or("").trim();
            let args = cell(a).split_whitespace().map(String::from).collect();
            (format!("testdata/{}", cell(f)), args)
        })
        .collect()
}

/// `file` in both formats: the same exit status, and every EVE line the JSON line it stands
/// for, in EVE's fields and types. Returns the number of `ndb-mgm` flows and the
/// `flow.reason` of each flow.
fn compare_with_json(file: &str, extra: &[&str]) -> (usize, Vec<String>) {
    let eve = run(file, "eve", extra);
    let json = run(file, "json", extra);
    assert_eq!(
        eve.code(),
        json.code(),
        "{}\n{}",
        eve.describe(),
        json.describe()
    );
    let lines = eve.json_lines();
    let json_lines = json.json_lines();
    assert_eq!(lines.len(), json_lines.len(), "{}", eve.describe());
    if json_lines.is_empty() {
        return (0, Vec::new());
    }
    for v in &lines {
        let t = v["event_type"]
            .as_str()
            .unwrap_or_else(|| panic!("event_type: {v}"));
        assert!(["flow", "ndb_cluster", "stats"].contains(&t), "{v}");
        assert!(v.get("type").is_none(), "{v}");
        // A file gives a timestamp to every line but a stats line of a capture without packets.
        if let Some(ts) = v.get("timestamp") {
            let ts = ts.as_str().unwrap_or_else(|| panic!("timestamp: {v}"));
            assert!(ts.ends_with("+0000") && ts.len() == 31, "{ts}");
        } else {
            assert_eq!(
                (t, &v["stats"]["packets_read"]),
                ("stats", &0.into()),
                "{v}"
            );
        }
    }
    assert_eq!(
        lines.last().map(|v| v["event_type"].clone()),
        Some("stats".into())
    );
    let mut ndb = 0;
    let mut reasons = Vec::new();
    // Both formats get the same records in the same order.
    for (e, j) in lines.iter().zip(&json_lines) {
        let kind = j["type"].as_str().expect("JSON type");
        assert_eq!(e["event_type"], kind, "{file}");
        let z = |k: &str| j[k].as_str().unwrap().replace('Z', "+0000");
        match kind {
            "flow" => {}
            "stats" => {
                let mut body = j.clone();
                let obj = body.as_object_mut().unwrap();
                obj.remove("type");
                match obj.remove("timestamp") {
                    Some(ts) => {
                        assert_eq!(e["timestamp"], ts.as_str().unwrap().replace('Z', "+0000"))
                    }
                    None => assert!(e.get("timestamp").is_none()),
                }
                assert_eq!(e["stats"], body, "{file}");
                continue;
            }
            _ => {
                let mut body = j.clone();
                body.as_object_mut().unwrap().remove("type");
                assert_eq!(e[kind], body, "{file}");
                continue;
            }
        }
        assert_eq!(e["flow_id"], j["flow_id"]);
        assert_eq!(e["community_id"], j["community_id"]);
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
        } else {
            let want = j.get("hint").cloned().unwrap_or("failed".into());
            assert_eq!(e["app_proto"], want, "{e}");
        }
        assert_eq!(e.get("ndb"), j.get("ndb"));
        match j.get("vlan") {
            Some(id) => assert_eq!(e["vlan"], Value::Array(vec![id.clone()])),
            None => assert!(e.get("vlan").is_none()),
        }
        let f = &e["flow"];
        assert_eq!(f["pkts_toserver"], j["packets_to_server"]);
        assert_eq!(f["pkts_toclient"], j["packets_to_client"]);
        assert_eq!(f["bytes_toserver"], j["bytes_to_server"]);
        assert_eq!(f["bytes_toclient"], j["bytes_to_client"]);
        assert_eq!(f["start"], z("first_seen"));
        assert_eq!(f["end"], z("last_seen"));
        assert_eq!(e["timestamp"], z("last_seen"));
        assert!(f["age"].is_u64());
        let state = match (
            j["state"].as_str().unwrap(),
            f["pkts_toclient"] != 0,
            f["pkts_toserver"] != 0,
        ) {
            ("closed" | "reset", _, _) => "closed",
            (_, true, true) => "established",
            _ => "new",
        };
        assert_eq!(f["state"], state, "{e}");
        let reason = match j["state"].as_str().unwrap() {
            "evicted" => "forced",
            "idle" => "timeout",
            "open" => "shutdown",
            _ => f["reason"].as_str().unwrap(),
        };
        assert_eq!(f["reason"], reason, "{e}");
        reasons.push(reason.to_string());
        assert!(["timeout", "shutdown"].contains(&reason) || j["state"] == "evicted");
        for k in [
            "verdict",
            "confidence",
            "evidence",
            "hint",
            "upgrade",
            "roles_from",
            "state",
            "anomalies",
        ] {
            assert_eq!(e["ndbsniff"].get(k), j.get(k), "{k} in {file}");
        }
    }
    (ndb, reasons)
}

#[test]
fn eve_reports_the_json_formats_flows_in_suricatas_shape() {
    // IPv4 with look-alikes, IPv6 with a VLAN, two watched ports: each has NDB flows.
    for (file, extra) in [
        (MIXED, &[][..]),
        ("testdata/ndb-mix-ooo-vlan1-v6.pcapng", &[][..]),
        (
            "testdata/mixed-3406-and-1186-eth-v4.pcap",
            &["--port", "3406,1186"][..],
        ),
    ] {
        assert!(compare_with_json(file, extra).0 > 0, "{file} has NDB flows");
    }
    // Evicted flows are `forced`, idle ones `timeout`, the rest `shutdown` (still in the table
    // at the end: the closed ones within their linger).
    let (_, reasons) = compare_with_json(MIXED, &["--max-flows", "1"]);
    assert_eq!(
        reasons,
        ["forced"; 6]
            .into_iter()
            .chain(["shutdown"])
            .collect::<Vec<_>>()
    );
    let idle = ["--tcp-idle-timeout", "0.01", "--udp-idle-timeout", "0.01"];
    let (_, reasons) = compare_with_json(MIXED, &idle);
    assert_eq!(
        reasons,
        ["timeout"]
            .into_iter()
            .chain(["shutdown"; 5])
            .collect::<Vec<_>>()
    );
}

#[test]
fn every_committed_capture_gives_the_same_records_in_both_formats() {
    let cases = manifest();
    assert!(cases.len() > 50, "{} captures", cases.len());
    for (file, args) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        compare_with_json(file, &args);
    }
}

#[test]
fn a_file_runs_stats_line_stands_at_its_last_packet_with_the_whole_run_as_its_delta() {
    for format in ["json", "eve"] {
        let r = run(MIXED, format, &[]);
        r.expect_code(0);
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
        r.expect_code(0);
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
