//! EVE output: JSON lines in the shape of Suricata's EVE log, so that tools reading EVE
//! (Elastic, Splunk, jq scripts written for Suricata) take ndbsniff's flows as they are.
//!
//! Every line has `timestamp` (RFC 3339 with microseconds and a `+0000` offset) and
//! `event_type`:
//!
//! * `flow`: one per flow as it ends. The five-tuple (`src_*` is the client, `dest_*` the
//!   server), `proto` (`TCP`, `UDP`), `app_proto` (`ndb-mgm`, else the hint, else `failed`),
//!   `community_id`, `vlan` (an array, when tagged), the `flow` counters, the NDB session audit
//!   under `ndb` (as the JSON format writes it) and ndbsniff's own fields under `ndbsniff`.
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
use super::json::{ip_addr, string, ClusterLine, CommandLine};
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
            b.extend_from_slice(b",\"ndb\":");
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *b, &**ndb);
        }
    }
    b.extend_from_slice(b",\"ndbsniff\":{\"verdict\":\"");
    b.extend_from_slice(r.verdict.as_str().as_bytes());
    b.extend_from_slice(b"\",\"confidence\":\"");
    b.extend_from_slice(r.confidence.as_str().as_bytes());
    b.extend_from_slice(b"\",\"evidence\":");
    string(b, &r.evidence);
    if let Some(h) = r.hint {
        b.extend_from_slice(b",\"hint\":");
        string(b, h);
    }
    if let Some(u) = r.upgrade {
        b.extend_from_slice(b",\"upgrade\":");
        string(b, u);
    }
    b.extend_from_slice(b",\"roles_from\":\"");
    b.extend_from_slice(r.roles_from.as_str().as_bytes());
    b.extend_from_slice(b"\",\"state\":\"");
    b.extend_from_slice(r.state.as_str().as_bytes());
    b.push(b'"');
    if !r.anomalies.is_empty() {
        b.extend_from_slice(b",\"anomalies\":[");
        for (i, a) in r.anomalies.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            string(b, a.as_str());
        }
        b.push(b']');
    }
    b.extend_from_slice(b"}}\n");
}
