//! EVE output: JSON lines in the shape of Suricata's EVE log, so that tools reading EVE
//! (Elastic, Splunk, jq scripts written for Suricata) take ndbsniff's flows as they are.
//!
//! Every line has `timestamp` (RFC 3339 with microseconds and a `+0000` offset) and
//! `event_type`:
//!
//! * `flow`: one per flow as it ends. The five-tuple (`src_*` is the client, `dest_*` the
//!   server), `proto` (`TCP`, `UDP`), `app_proto` (`ndb-mgm`, else the hint, else `failed`),
//!   `community_id`, `vlan` (an array, when tagged), the `flow` counters, the NDB session audit
//!   under `ndb` (as the JSON format writes it) and ndbsniff's own fields under `ndbsniff`
//!   (with `tunnel`, the layers the flow came through, as the JSON format writes them).
//!   `timestamp` is the flow's last packet.
//! * `ndb_verdict` (live runs): a verdict decided while its flow still runs; the five-tuple,
//!   `app_proto`, `community_id` and `ndbsniff`, no `flow` counters (Suricata has no such event;
//!   EVE readers that do not know it pass it by).
//! * `ndb_command` (live runs): a command of a running NDB session, under `ndb_command` as the
//!   JSON format writes it; `timestamp` is the command's.
//! * `ndb_cluster`: each management server's cluster map, under `ndb_cluster` as the JSON
//!   format writes it, before each statistics line; `timestamp` is the statistics line's.
//! * `stats`: the run's counters (periodic and final) under `stats`, as the JSON format's
//!   statistics line has them.
//!
//! `flow.state` uses Suricata's words: `closed` for a TCP flow that ended with FIN from both
//! sides or RST; otherwise `established` once both sides sent packets (a half-closed flow too),
//! else `new`. `flow.reason`: `timeout` when the flow was reported because it went idle (closed
//! flows linger and end the same way, as in Suricata), `forced` when it was evicted from a full
//! table, `shutdown` when it was still in the table as the capture ended. `flow.age` is whole
//! seconds, end minus start (never negative). ndbsniff's own state word is `ndbsniff.state`.
//!
//! Owns: the EVE envelope and field names. Record fields come from the record types; strings
//! are escaped by serde_json (through the JSON printer's helpers).
//! Never: writes anything that is not one complete JSON object per line.

use std::io::{self, Write};
use std::net::SocketAddr;

use serde::Serialize;

use super::cluster::ClusterMap;
use super::format::{Options, Printer, Totals};
use super::json::{anomalies, ip_addr, member, string, verdict_fields, ClusterLine, CommandLine};
use super::ndb::Command;
use super::time::write_eve_us;
use super::{FlowRecord, FlowState, Summary};
use crate::classify::Verdict;
use crate::decode::Transport;
use crate::flow::record::End;

/// The EVE format's printer: one `flow` line per flow as it ends, `ndb_cluster` and `stats`
/// lines periodically and at the end.
pub struct EvePrinter {
    /// Live runs: flush after every line, and announce verdicts and NDB commands.
    live: bool,
    /// Reused for every line.
    buf: Vec<u8>,
}

impl EvePrinter {
    /// A printer for `options` (only `live` matters to it).
    pub fn new(options: &Options) -> EvePrinter {
        EvePrinter {
            live: options.live,
            buf: Vec::new(),
        }
    }
}

impl Printer for EvePrinter {
    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        self.buf.clear();
        flow_line(&mut self.buf, rec);
        out.write_all(&self.buf)?;
        if self.live {
            out.flush()?;
        }
        Ok(())
    }

    fn wants_decided(&self) -> bool {
        self.live
    }

    fn decided(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        self.buf.clear();
        record_line(&mut self.buf, rec, false);
        out.write_all(&self.buf)?;
        out.flush()
    }

    fn ndb_command(
        &mut self,
        out: &mut dyn Write,
        client: SocketAddr,
        server: SocketAddr,
        command: &Command,
    ) -> io::Result<()> {
        self.buf.clear();
        let b = &mut self.buf;
        head(b, Some(command.at), "ndb_command");
        tuple(b, client, server, Transport::Tcp);
        b.extend_from_slice(b",\"ndb_command\":");
        let value = CommandLine {
            client,
            server,
            command,
        };
        serde_json::to_writer(&mut *b, &value).map_err(io::Error::other)?;
        b.extend_from_slice(b"}\n");
        out.write_all(b)?;
        out.flush()
    }

    fn interim(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        clusters: &ClusterMap,
    ) -> io::Result<Option<String>> {
        self.clusters(out, clusters, summary.timestamp, false)?;
        self.stats(out, summary)?;
        out.flush()?;
        Ok(None)
    }

    fn finish(&mut self, out: &mut dyn Write, totals: &Totals<'_>) -> io::Result<()> {
        let at = totals.summary.timestamp;
        self.clusters(out, totals.clusters, at, true)?;
        self.stats(out, totals.summary)
    }
}

impl EvePrinter {
    /// One `ndb_cluster` line per management server.
    fn clusters(
        &mut self,
        out: &mut dyn Write,
        clusters: &ClusterMap,
        at: Option<i64>,
        is_final: bool,
    ) -> io::Result<()> {
        for c in clusters.clusters() {
            let value = ClusterLine {
                is_final,
                view: c.view(),
            };
            self.nested(out, at, "ndb_cluster", &value)?;
        }
        Ok(())
    }

    /// The `stats` line.
    fn stats(&mut self, out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
        self.nested(out, summary.timestamp, "stats", summary)
    }

    /// `{"timestamp":…,"event_type":kind,kind:value}`.
    fn nested<T: Serialize>(
        &mut self,
        out: &mut dyn Write,
        at: Option<i64>,
        kind: &str,
        value: &T,
    ) -> io::Result<()> {
        self.buf.clear();
        let b = &mut self.buf;
        head(b, at, kind);
        b.extend_from_slice(b",\"");
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(b"\":");
        serde_json::to_writer(&mut *b, value).map_err(io::Error::other)?;
        b.extend_from_slice(b"}\n");
        out.write_all(b)
    }
}

/// `{"timestamp":"…","event_type":"kind"` (no timestamp when `at` is `None`).
fn head(b: &mut Vec<u8>, at: Option<i64>, kind: &str) {
    b.push(b'{');
    if let Some(t) = at {
        b.extend_from_slice(b"\"timestamp\":\"");
        write_eve_us(b, t);
        b.extend_from_slice(b"\",");
    }
    b.extend_from_slice(b"\"event_type\":\"");
    b.extend_from_slice(kind.as_bytes());
    b.push(b'"');
}

/// `,"src_ip":…,"src_port":…,"dest_ip":…,"dest_port":…,"proto":…`.
fn tuple(b: &mut Vec<u8>, src: SocketAddr, dest: SocketAddr, transport: Transport) {
    let mut num = itoa::Buffer::new();
    b.extend_from_slice(b",\"src_ip\":\"");
    ip_addr(b, src.ip());
    b.extend_from_slice(b"\",\"src_port\":");
    b.extend_from_slice(num.format(src.port()).as_bytes());
    b.extend_from_slice(b",\"dest_ip\":\"");
    ip_addr(b, dest.ip());
    b.extend_from_slice(b"\",\"dest_port\":");
    b.extend_from_slice(num.format(dest.port()).as_bytes());
    b.extend_from_slice(b",\"proto\":\"");
    b.extend_from_slice(proto(transport).as_bytes());
    b.push(b'"');
}

/// EVE's `proto`: `TCP` or `UDP`.
pub fn proto(t: Transport) -> &'static str {
    match t {
        Transport::Tcp => "TCP",
        Transport::Udp => "UDP",
    }
}

/// EVE's `app_proto`: `ndb-mgm` for NDB management flows, else what the flow looks like
/// (the hint: `tls`, `http`, …), else `failed` (Suricata's word for a protocol not recognised).
pub fn app_proto(r: &FlowRecord) -> &'static str {
    match (r.verdict, r.hint) {
        (Verdict::NdbMgm, _) => Verdict::NdbMgm.as_str(),
        (_, Some(h)) => h,
        (_, None) => "failed",
    }
}

/// EVE's `flow.state`: `closed` (FIN both ways, or RST), `established` (both sides sent
/// packets), or `new`.
pub fn flow_state(r: &FlowRecord) -> &'static str {
    match r.state {
        FlowState::Closed | FlowState::Reset => "closed",
        _ if r.packets_to_server > 0 && r.packets_to_client > 0 => "established",
        _ => "new",
    }
}

/// EVE's `flow.reason`: `timeout` (idle, or closed and lingered), `forced` (evicted from a
/// full table) or `shutdown` (still in the table when the capture ended).
pub fn flow_reason(r: &FlowRecord) -> &'static str {
    match r.end {
        End::Idle => "timeout",
        End::Evicted => "forced",
        End::Running => "shutdown",
    }
}

/// EVE's `flow.age`: whole seconds from the second of the first packet to that of the last.
pub fn flow_age(r: &FlowRecord) -> i64 {
    let secs = |us: i64| us.div_euclid(1_000_000);
    secs(r.last_seen).saturating_sub(secs(r.first_seen)).max(0)
}

/// One flow record as an EVE `flow` line (with the newline), appended to `b`.
pub fn flow_line(b: &mut Vec<u8>, r: &FlowRecord) {
    record_line(b, r, true);
}

/// A `flow` line, or (`with_flow` false) an `ndb_verdict` line without the `flow` counters.
fn record_line(b: &mut Vec<u8>, r: &FlowRecord, with_flow: bool) {
    let mut num = itoa::Buffer::new();
    b.extend_from_slice(b"{\"timestamp\":\"");
    write_eve_us(b, r.last_seen);
    b.extend_from_slice(b"\",\"flow_id\":");
    b.extend_from_slice(num.format(r.flow_id).as_bytes());
    b.extend_from_slice(b",\"event_type\":\"");
    b.extend_from_slice(if with_flow { b"flow" } else { b"ndb_verdict" });
    b.push(b'"');
    if let Some(v) = r.vlan {
        b.extend_from_slice(b",\"vlan\":[");
        b.extend_from_slice(num.format(v).as_bytes());
        b.push(b']');
    }
    tuple(b, r.client, r.server, r.transport);
    b.extend_from_slice(b",\"app_proto\":");
    string(b, app_proto(r));
    b.extend_from_slice(b",\"community_id\":");
    string(b, &r.community_id);
    if with_flow {
        b.extend_from_slice(b",\"flow\":{");
        for (i, (name, v)) in [
            ("pkts_toserver", r.packets_to_server),
            ("pkts_toclient", r.packets_to_client),
            ("bytes_toserver", r.bytes_to_server),
            ("bytes_toclient", r.bytes_to_client),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                b.push(b',');
            }
            b.push(b'"');
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(b"\":");
            b.extend_from_slice(num.format(v).as_bytes());
        }
        b.extend_from_slice(b",\"start\":\"");
        write_eve_us(b, r.first_seen);
        b.extend_from_slice(b"\",\"end\":\"");
        write_eve_us(b, r.last_seen);
        b.extend_from_slice(b"\",\"age\":");
        b.extend_from_slice(num.format(flow_age(r)).as_bytes());
        b.extend_from_slice(b",\"state\":\"");
        b.extend_from_slice(flow_state(r).as_bytes());
        b.extend_from_slice(b"\",\"reason\":\"");
        b.extend_from_slice(flow_reason(r).as_bytes());
        b.extend_from_slice(b"\"}");
        if let Some(ndb) = &r.ndb {
            member(b, "ndb", &**ndb);
        }
    }
    b.extend_from_slice(b",\"ndbsniff\":{");
    verdict_fields(b, r);
    b.extend_from_slice(b",\"roles_from\":\"");
    b.extend_from_slice(r.roles_from.as_str().as_bytes());
    b.extend_from_slice(b"\",\"state\":\"");
    b.extend_from_slice(r.state.as_str().as_bytes());
    b.push(b'"');
    anomalies(b, r);
    if let Some(t) = &r.tunnel {
        member(b, "tunnel", t);
    }
    b.extend_from_slice(b"}}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Confidence;
    use crate::report::ndb::NdbSession;
    use crate::report::{Anomalies, Anomaly, Delta, RolesFrom};
    use serde_json::Value;

    fn record() -> FlowRecord {
        FlowRecord {
            flow_id: (1 << 53) - 1,
            community_id: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=".into(),
            transport: Transport::Tcp,
            client: "198.51.100.7:40000".parse().unwrap(),
            server: "192.0.2.1:3406".parse().unwrap(),
            verdict: Verdict::NdbMgm,
            confidence: Confidence::High,
            evidence: "client: get nodeid | server: \"quoted\" \\ \u{1}".into(),
            hint: None,
            upgrade: None,
            packets_to_server: 7,
            packets_to_client: 5,
            bytes_to_server: u64::MAX,
            bytes_to_client: 1,
            first_seen: 1_709_294_399_999_999,
            last_seen: 1_709_294_402_000_001,
            state: FlowState::Closed,
            vlan: None,
            roles_from: RolesFrom::Handshake,
            anomalies: Anomalies::NONE,
            tunnel: None,
            ndb: None,
            end: End::Idle,
        }
    }

    fn parse(b: &[u8]) -> Value {
        let text = std::str::from_utf8(b).expect("UTF-8");
        assert!(text.ends_with('\n'), "{text:?}");
        assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn eve(r: &FlowRecord) -> Value {
        let mut b = Vec::new();
        flow_line(&mut b, r);
        parse(&b)
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        k.sort_unstable();
        k
    }

    /// Every member of a `flow` line with the JSON type EVE gives it.
    fn check_schema(v: &Value, r: &FlowRecord) {
        let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} a string: {v}"));
        let u = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("{k} an integer: {v}"))
        };
        assert_eq!(s("event_type"), "flow");
        assert_eq!(u("flow_id"), r.flow_id);
        assert_eq!(s("timestamp"), s_time(r.last_seen));
        assert_eq!(s("src_ip"), r.client.ip().to_string());
        assert_eq!(u("src_port"), u64::from(r.client.port()));
        assert_eq!(s("dest_ip"), r.server.ip().to_string());
        assert_eq!(u("dest_port"), u64::from(r.server.port()));
        assert!(!s("src_ip").contains('[') && !s("dest_ip").contains('['));
        assert_eq!(s("proto"), proto(r.transport));
        assert_eq!(s("app_proto"), app_proto(r));
        assert_eq!(s("community_id"), r.community_id);
        match r.vlan {
            Some(id) => assert_eq!(v["vlan"], serde_json::json!([id])),
            None => assert!(v.get("vlan").is_none(), "{v}"),
        }
        let f = &v["flow"];
        assert_eq!(
            keys(f),
            [
                "age",
                "bytes_toclient",
                "bytes_toserver",
                "end",
                "pkts_toclient",
                "pkts_toserver",
                "reason",
                "start",
                "state"
            ]
        );
        assert_eq!(f["pkts_toserver"].as_u64(), Some(r.packets_to_server));
        assert_eq!(f["pkts_toclient"].as_u64(), Some(r.packets_to_client));
        assert_eq!(f["bytes_toserver"].as_u64(), Some(r.bytes_to_server));
        assert_eq!(f["bytes_toclient"].as_u64(), Some(r.bytes_to_client));
        assert_eq!(f["start"].as_str(), Some(&*s_time(r.first_seen)));
        assert_eq!(f["end"].as_str(), Some(&*s_time(r.last_seen)));
        assert!(f["age"].is_u64(), "{f}");
        assert_eq!(f["state"].as_str(), Some(flow_state(r)));
        assert_eq!(f["reason"].as_str(), Some(flow_reason(r)));
        match &r.ndb {
            Some(n) => assert_eq!(v["ndb"], serde_json::to_value(&**n).unwrap()),
            None => assert!(v.get("ndb").is_none(), "{v}"),
        }
        let n = &v["ndbsniff"];
        assert_eq!(n["verdict"].as_str(), Some(r.verdict.as_str()));
        assert_eq!(n["confidence"].as_str(), Some(r.confidence.as_str()));
        assert_eq!(n["evidence"].as_str(), Some(&*r.evidence));
        assert_eq!(n["hint"].as_str(), r.hint);
        assert_eq!(n["upgrade"].as_str(), r.upgrade);
        assert_eq!(n["roles_from"].as_str(), Some(r.roles_from.as_str()));
        assert_eq!(n["state"].as_str(), Some(r.state.as_str()));
        if r.anomalies.is_empty() {
            assert!(n.get("anomalies").is_none(), "{n}");
        } else {
            let want: Vec<&str> = r.anomalies.iter().map(Anomaly::as_str).collect();
            assert_eq!(n["anomalies"], serde_json::json!(want));
        }
        let mut top = vec![
            "app_proto",
            "community_id",
            "dest_ip",
            "dest_port",
            "event_type",
            "flow",
            "flow_id",
            "ndbsniff",
            "proto",
            "src_ip",
            "src_port",
            "timestamp",
        ];
        top.extend(r.vlan.map(|_| "vlan"));
        top.extend(r.ndb.as_ref().map(|_| "ndb"));
        top.sort_unstable();
        assert_eq!(keys(v), top);
    }

    fn s_time(us: i64) -> String {
        let mut b = Vec::new();
        write_eve_us(&mut b, us);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn flow_lines_have_eves_fields_and_types() {
        let base = record();
        let v = eve(&base);
        check_schema(&v, &base);
        assert_eq!(v["timestamp"], "2024-03-01T12:00:02.000001+0000");
        assert_eq!(v["flow"]["start"], "2024-03-01T11:59:59.999999+0000");
        // From second 11:59:59 to 12:00:02.
        assert_eq!(v["flow"]["age"], 3);
        assert_eq!(v["flow"]["state"], "closed");
        assert_eq!(v["flow"]["reason"], "timeout");
        assert_eq!(v["app_proto"], "ndb-mgm");
        assert_eq!(v["src_ip"], "198.51.100.7");
        assert_eq!(v["dest_port"], 3406);

        // IPv6, UDP, a VLAN, a hint, an upgrade, anomalies, an NDB session.
        let mut r = record();
        r.client = "[2001:db8::1]:5353".parse().unwrap();
        r.server = "[::ffff:192.0.2.1]:3406".parse().unwrap();
        r.transport = Transport::Udp;
        r.vlan = Some(4095);
        r.hint = Some("dns");
        r.upgrade = Some("tls");
        r.anomalies = Anomalies::from(Anomaly::BadChecksum).union(Anomaly::Memcap.into());
        r.ndb = Some(Box::new(NdbSession {
            server_version: Some("mysql-8.0.35 ndb-8.0.35".into()),
            commands_total: 3,
            ..NdbSession::default()
        }));
        r.end = End::Evicted;
        r.state = FlowState::Evicted;
        r.tunnel = Some(Box::new([crate::decode::TunnelLayer::new(
            crate::decode::TunnelKind::Vxlan,
            Some(4242),
            None,
        )]));
        let v = eve(&r);
        check_schema(&v, &r);
        assert_eq!(
            v["ndbsniff"]["tunnel"],
            serde_json::json!([{"type": "vxlan", "vni": 4242}])
        );
        assert_eq!(v["src_ip"], "2001:db8::1");
        assert_eq!(v["dest_ip"], "::ffff:192.0.2.1");
        assert_eq!(v["proto"], "UDP");
        assert_eq!(v["vlan"], serde_json::json!([4095]));
        assert_eq!(v["ndb"]["commands_total"], 3);
        assert_eq!(v["flow"]["reason"], "forced");
        assert_eq!(v["flow"]["state"], "established");
        assert_eq!(v["ndbsniff"]["state"], "evicted");

        // Hostile evidence comes back as it was; extreme times and counters still parse.
        let mut r = record();
        r.verdict = Verdict::Unknown;
        r.evidence = "\u{7f}\"}\n{\"event_type\":\"alert\"".into();
        r.first_seen = i64::MIN;
        r.last_seen = i64::MAX;
        r.packets_to_client = 0;
        r.state = FlowState::Open;
        r.end = End::Running;
        let v = eve(&r);
        check_schema(&v, &r);
        assert_eq!(v["app_proto"], "failed");
        assert_eq!(v["flow"]["state"], "new");
        assert_eq!(v["flow"]["reason"], "shutdown");
    }

    #[test]
    fn app_proto_state_and_reason_mappings() {
        let mut r = record();
        assert_eq!(app_proto(&r), "ndb-mgm");
        r.hint = Some("tls");
        assert_eq!(app_proto(&r), "ndb-mgm", "the verdict comes first");
        r.verdict = Verdict::Unknown;
        assert_eq!(app_proto(&r), "tls");
        r.hint = None;
        assert_eq!(app_proto(&r), "failed");

        for (state, both_ways, want) in [
            (FlowState::Closed, false, "closed"),
            (FlowState::Reset, true, "closed"),
            (FlowState::HalfClosed, true, "established"),
            (FlowState::Open, true, "established"),
            (FlowState::Idle, false, "new"),
            (FlowState::Evicted, true, "established"),
            (FlowState::Open, false, "new"),
        ] {
            r.state = state;
            r.packets_to_client = u64::from(both_ways);
            assert_eq!(flow_state(&r), want, "{state:?} both ways {both_ways}");
        }
        for (end, want) in [
            (End::Idle, "timeout"),
            (End::Evicted, "forced"),
            (End::Running, "shutdown"),
        ] {
            r.end = end;
            assert_eq!(flow_reason(&r), want);
        }
        r.first_seen = 10_000_000;
        r.last_seen = 9_000_000;
        assert_eq!(flow_age(&r), 0, "never negative");
        r.first_seen = 1_999_999;
        r.last_seen = 2_000_000;
        assert_eq!(flow_age(&r), 1, "whole seconds, as Suricata counts them");
    }

    #[test]
    fn stats_clusters_and_verdicts_are_enveloped() {
        let mut p = EvePrinter::new(&Options {
            live: true,
            ..Options::default()
        });
        let mut out = Vec::new();
        let summary = Summary {
            timestamp: Some(1_709_294_400_000_001),
            source: "x.pcap".into(),
            packets_read: 9,
            flows: 2,
            delta: Some(Delta {
                packets_read: 4,
                flows: 1,
                ..Delta::default()
            }),
            ..Summary::default()
        };
        p.interim(&mut out, &summary, &ClusterMap::default())
            .unwrap();
        let v = parse(&out);
        assert_eq!(keys(&v), ["event_type", "stats", "timestamp"]);
        assert_eq!(v["event_type"], "stats");
        assert_eq!(v["timestamp"], "2024-03-01T12:00:00.000001+0000");
        assert_eq!(v["stats"]["packets_read"], 9);
        assert_eq!(v["stats"]["final"], false);
        assert_eq!(v["stats"]["delta"]["packets_read"], 4);
        assert_eq!(v["stats"]["delta"]["flows"], 1);
        assert!(v["stats"].get("timestamp").is_none());

        // No packet read: no timestamp.
        out.clear();
        let empty = Summary::default();
        p.interim(&mut out, &empty, &ClusterMap::default()).unwrap();
        let v = parse(&out);
        assert_eq!(keys(&v), ["event_type", "stats"]);

        // A verdict decided while the flow runs: no flow counters.
        out.clear();
        let mut r = record();
        r.vlan = Some(7);
        p.decided(&mut out, &r).unwrap();
        let v = parse(&out);
        assert_eq!(v["event_type"], "ndb_verdict");
        assert!(v.get("flow").is_none(), "{v}");
        assert_eq!(v["vlan"], serde_json::json!([7]));
        assert_eq!(v["ndbsniff"]["verdict"], "ndb-mgm");
        assert_eq!(v["src_port"], 40000);

        // A live NDB command.
        out.clear();
        let c = Command {
            at: 1_709_294_400_000_001,
            command: Some("stop v2".into()),
            ..Command::default()
        };
        p.ndb_command(&mut out, r.client, r.server, &c).unwrap();
        let v = parse(&out);
        assert_eq!(v["event_type"], "ndb_command");
        assert_eq!(v["timestamp"], "2024-03-01T12:00:00.000001+0000");
        assert_eq!(v["proto"], "TCP");
        assert_eq!(v["dest_port"], 3406);
        assert_eq!(v["ndb_command"]["command"], "stop v2");
        assert_eq!(v["ndb_command"]["server"], "192.0.2.1:3406");
    }
}
