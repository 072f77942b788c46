//! JSON lines output: one object per flow (`"type":"flow"`), then one summary (`"type":"stats"`);
//! live runs also write a `"type":"verdict"` object when a flow is decided while it runs. The
//! line helpers here (envelopes, strings, addresses) also serve the EVE printer ([`super::eve`]).
//!
//! Owns: the envelope (`type`) around records. Field names come from the record types; flow
//! records, of which there is one per flow, are written by hand (the same text serde would write,
//! checked by a test) because formatting them is most of the main thread's work.
//! Never: writes anything that is not one complete JSON object per line.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::cluster::{ClusterMap, ClusterView};
use super::format::{Options, Printer, Totals};
use super::ndb::Command;
use super::time::write_rfc3339_us;
use super::{FlowRecord, Summary};

/// The JSON format's printer: one line per flow as it ends, periodic statistics lines, and the
/// summary line at the end.
pub struct JsonPrinter {
    /// Live runs: flush after every line, so a reader sees each record as its flow ends.
    live: bool,
}

impl JsonPrinter {
    /// A printer for `options` (only `live` matters to it).
    pub fn new(options: &Options) -> JsonPrinter {
        JsonPrinter { live: options.live }
    }
}

impl Printer for JsonPrinter {
    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        write_flow(out, rec)?;
        if self.live {
            out.flush()?;
        }
        Ok(())
    }

    fn wants_decided(&self) -> bool {
        self.live
    }

    fn decided(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        SCRATCH.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            buf.clear();
            record_line(&mut buf, "verdict", rec);
            out.write_all(&buf)
        })?;
        out.flush()
    }

    fn ndb_command(
        &mut self,
        out: &mut dyn Write,
        client: SocketAddr,
        server: SocketAddr,
        command: &Command,
    ) -> io::Result<()> {
        line(
            out,
            "ndb_command",
            &CommandLine {
                client,
                server,
                command,
            },
        )?;
        out.flush()
    }

    fn interim(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        clusters: &ClusterMap,
    ) -> io::Result<Option<String>> {
        write_clusters(out, clusters, false)?;
        write_summary(out, summary)?;
        out.flush()?;
        Ok(None)
    }

    fn finish(&mut self, out: &mut dyn Write, totals: &Totals<'_>) -> io::Result<()> {
        write_clusters(out, totals.clusters, true)?;
        write_summary(out, totals.summary)
    }
}

thread_local! {
    /// One reused buffer per thread: records are serialized here, then written with the
    /// `type` member spliced in first (cheaper than serde's `flatten`).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `value` (a struct with at least one field) as one line, with `"type":kind` first.
pub(super) fn line<T: Serialize>(out: &mut dyn Write, kind: &str, value: &T) -> io::Result<()> {
    let mut head = Vec::with_capacity(16 + kind.len());
    head.extend_from_slice(b"{\"type\":\"");
    head.extend_from_slice(kind.as_bytes());
    head.extend_from_slice(b"\",");
    spliced_line(out, &head, value)
}

/// `value` (a struct with at least one field) as one line, its members after `head`: the
/// opening brace and the members to come first, each followed by a comma.
pub(super) fn spliced_line<T: Serialize>(
    out: &mut dyn Write,
    head: &[u8],
    value: &T,
) -> io::Result<()> {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        serde_json::to_writer(&mut *buf, value).map_err(io::Error::other)?;
        // `value` is a struct with at least one field, so it serialized as `{"…":…}`.
        let body = buf.get(1..).unwrap_or_default();
        out.write_all(head)?;
        out.write_all(body)?;
        out.write_all(b"\n")
    })
}

/// A live command announcement (`"type":"ndb_command"`).
#[derive(Serialize)]
pub(super) struct CommandLine<'a> {
    pub(super) client: SocketAddr,
    pub(super) server: SocketAddr,
    #[serde(flatten)]
    pub(super) command: &'a Command,
}

/// A cluster map record (`"type":"ndb_cluster"`).
#[derive(Serialize)]
pub(super) struct ClusterLine<'a> {
    #[serde(rename = "final")]
    pub(super) is_final: bool,
    #[serde(flatten)]
    pub(super) view: ClusterView<'a>,
}

/// One `ndb_cluster` line per management server; `is_final` at the end of the run.
pub fn write_clusters(
    out: &mut dyn Write,
    clusters: &ClusterMap,
    is_final: bool,
) -> io::Result<()> {
    for c in clusters.clusters() {
        line(
            out,
            "ndb_cluster",
            &ClusterLine {
                is_final,
                view: c.view(),
            },
        )?;
    }
    Ok(())
}

/// One flow record as a JSON line.
pub fn write_flow(out: &mut dyn Write, flow: &FlowRecord) -> io::Result<()> {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        flow_line(&mut buf, flow);
        out.write_all(&buf)
    })
}

/// One flow record as a JSON line (with the newline), appended to `b`.
pub fn flow_line(b: &mut Vec<u8>, r: &FlowRecord) {
    record_line(b, "flow", r);
}

/// A flow record under `kind` (`flow`, or `verdict` for one announced while its flow runs).
fn record_line(b: &mut Vec<u8>, kind: &str, r: &FlowRecord) {
    let mut num = itoa::Buffer::new();
    b.extend_from_slice(b"{\"type\":\"");
    b.extend_from_slice(kind.as_bytes());
    b.extend_from_slice(b"\",\"flow_id\":");
    b.extend_from_slice(num.format(r.flow_id).as_bytes());
    b.extend_from_slice(b",\"community_id\":");
    string(b, &r.community_id);
    b.extend_from_slice(b",\"transport\":\"");
    b.extend_from_slice(r.transport.as_str().as_bytes());
    b.extend_from_slice(b"\",\"client\":\"");
    socket_addr(b, r.client);
    b.extend_from_slice(b"\",\"server\":\"");
    socket_addr(b, r.server);
    b.extend_from_slice(b"\",");
    verdict_fields(b, r);
    for (name, v) in [
        (&b",\"packets_to_server\":"[..], r.packets_to_server),
        (b",\"packets_to_client\":", r.packets_to_client),
        (b",\"bytes_to_server\":", r.bytes_to_server),
        (b",\"bytes_to_client\":", r.bytes_to_client),
    ] {
        b.extend_from_slice(name);
        b.extend_from_slice(num.format(v).as_bytes());
    }
    b.extend_from_slice(b",\"first_seen\":\"");
    write_rfc3339_us(b, r.first_seen);
    b.extend_from_slice(b"\",\"last_seen\":\"");
    write_rfc3339_us(b, r.last_seen);
    b.extend_from_slice(b"\",\"state\":\"");
    b.extend_from_slice(r.state.as_str().as_bytes());
    b.push(b'"');
    if let Some(v) = r.vlan {
        b.extend_from_slice(b",\"vlan\":");
        b.extend_from_slice(num.format(v).as_bytes());
    }
    if let Some(t) = &r.tunnel {
        member(b, "tunnel", t);
    }
    b.extend_from_slice(b",\"roles_from\":\"");
    b.extend_from_slice(r.roles_from.as_str().as_bytes());
    b.push(b'"');
    anomalies(b, r);
    if let Some(ndb) = &r.ndb {
        member(b, "ndb", &**ndb);
    }
    b.extend_from_slice(b"}\n");
}

/// `"verdict":…,"confidence":…,"evidence":…`, then `hint` and `upgrade` when present: the
/// verdict members of a flow record, as JSON and EVE (under `ndbsniff`) both write them.
pub(super) fn verdict_fields(b: &mut Vec<u8>, r: &FlowRecord) {
    b.extend_from_slice(b"\"verdict\":\"");
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
}

/// `,"anomalies":[…]` when the record has any.
pub(super) fn anomalies(b: &mut Vec<u8>, r: &FlowRecord) {
    if r.anomalies.is_empty() {
        return;
    }
    b.extend_from_slice(b",\"anomalies\":[");
    for (i, a) in r.anomalies.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        string(b, a.as_str());
    }
    b.push(b']');
}

/// `,"name":` and `value` as serde writes it.
pub(super) fn member<T: Serialize + ?Sized>(b: &mut Vec<u8>, name: &str, value: &T) {
    b.extend_from_slice(b",\"");
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(b"\":");
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *b, value);
}

/// A JSON string, escaped as serde_json escapes it. Most strings of a record need no escape
/// at all (addresses, names, evidence already escaped to printable text): one branch-free pass
/// finds that, and they are copied as they are.
pub(super) fn string(b: &mut Vec<u8>, s: &str) {
    let needs_escape = s.bytes().fold(false, |any, c| {
        any | (c < 0x20) | (c == b'"') | (c == b'\\')
    });
    if needs_escape {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *b, s);
    } else {
        b.reserve(s.len() + 2);
        b.push(b'"');
        b.extend_from_slice(s.as_bytes());
        b.push(b'"');
    }
}

/// `a.b.c.d:port` (digit by digit) or `[v6]:port`, as `SocketAddr`'s `Display` writes them.
pub(super) fn socket_addr(b: &mut Vec<u8>, a: SocketAddr) {
    let mut num = itoa::Buffer::new();
    match a.ip() {
        IpAddr::V4(_) => ip_addr(b, a.ip()),
        IpAddr::V6(_) => {
            let _ = write!(b, "{a}");
            return;
        }
    }
    b.push(b':');
    b.extend_from_slice(num.format(a.port()).as_bytes());
}

/// `a.b.c.d` (digit by digit) or an IPv6 address without brackets, as `IpAddr`'s `Display`
/// writes them.
pub(super) fn ip_addr(b: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut num = itoa::Buffer::new();
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    b.push(b'.');
                }
                b.extend_from_slice(num.format(o).as_bytes());
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(b, "{v6}");
        }
    }
}

/// The summary (or periodic statistics) as a JSON line: `"type":"stats"`, then its
/// `timestamp` when it has one, then its counters.
pub fn write_summary(out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
    let mut head = b"{\"type\":\"stats\",".to_vec();
    if let Some(t) = summary.timestamp {
        head.extend_from_slice(b"\"timestamp\":\"");
        write_rfc3339_us(&mut head, t);
        head.extend_from_slice(b"\",");
    }
    spliced_line(out, &head, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Confidence, Verdict};
    use crate::decode::Transport;
    use crate::report::{Anomalies, Anomaly, FlowState, RolesFrom};

    fn serde_line(r: &FlowRecord) -> String {
        let mut out = Vec::new();
        line(&mut out, "flow", r).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_escapes_them() {
        for s in [
            "",
            "plain",
            "a\"b",
            "a\\b",
            "a\u{1f}b",
            "\u{0}",
            "del \u{7f}",
            "é ü 漢",
            "tab\t",
            "\n",
            "client: TLS record | server: TLS record",
        ] {
            let mut b = Vec::new();
            string(&mut b, s);
            assert_eq!(
                String::from_utf8(b).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn flow_lines_are_what_serde_writes() {
        let base = FlowRecord {
            flow_id: (1 << 53) - 1,
            community_id: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=".into(),
            transport: Transport::Tcp,
            client: "198.51.100.7:40000".parse().unwrap(),
            server: "192.0.2.1:3406".parse().unwrap(),
            verdict: Verdict::NdbMgm,
            confidence: Confidence::High,
            evidence: "client: get nodeid | server: get nodeid reply".into(),
            hint: None,
            upgrade: None,
            packets_to_server: 7,
            packets_to_client: 0,
            bytes_to_server: u64::MAX,
            bytes_to_client: 1,
            first_seen: 1_705_312_800_000_001,
            last_seen: 1_705_312_800_123_456,
            state: FlowState::HalfClosed,
            vlan: None,
            tunnel: None,
            roles_from: RolesFrom::Handshake,
            anomalies: Anomalies::NONE,
            ndb: None,
            end: crate::flow::record::End::Running,
        };
        let mut cases = vec![base.clone()];
        for (i, (c, s)) in [
            ("[2001:db8::1]:1", "[::ffff:192.0.2.1]:3406"),
            ("[fe80::1%3]:5", "[::]:0"),
            ("0.0.0.0:0", "255.255.255.255:65535"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = base.clone();
            r.client = c.parse().unwrap();
            r.server = s.parse().unwrap();
            r.transport = Transport::Udp;
            r.verdict = Verdict::Unknown;
            r.confidence = [Confidence::Low, Confidence::Medium, Confidence::High][i];
            r.evidence = ["", "quote \" back \\ \\x07 tab\t nl\n \u{1} é", "x"][i].into();
            r.hint = Some("http");
            r.upgrade = (i == 1).then_some("tls");
            r.vlan = Some([0, 4095, 17][i]);
            r.tunnel = (i == 2).then(|| {
                use crate::decode::tunnel::Outer;
                use crate::decode::{TunnelKind, TunnelLayer};
                let outer = Outer {
                    src: "2001:db8::a".parse().unwrap(),
                    dst: "192.0.2.9".parse().unwrap(),
                    ports: Some((1, 4789)),
                };
                Box::from([
                    TunnelLayer::mpls(&[16, 1_048_575]),
                    TunnelLayer::new(TunnelKind::Vxlan, Some(0xff_ffff), Some(outer)),
                    TunnelLayer::new(TunnelKind::SixInFour, None, None),
                ])
            });
            r.state = [FlowState::Idle, FlowState::Evicted, FlowState::Reset][i];
            r.roles_from = [RolesFrom::Content, RolesFrom::Port, RolesFrom::Handshake][i];
            r.first_seen = [i64::MIN, -1, 253_402_300_800_000_000][i];
            r.last_seen = [i64::MAX, 0, 253_402_300_799_999_999][i];
            r.anomalies = [
                Anomaly::OverlapMismatch.into(),
                Anomalies::NONE,
                Anomalies::from(Anomaly::BadChecksum)
                    .union(Anomaly::Memcap.into())
                    .union(Anomaly::ReanchorLimit.into())
                    .union(Anomaly::OverlapMismatch.into()),
            ][i];
            cases.push(r);
        }
        for r in &cases {
            let mut b = Vec::new();
            flow_line(&mut b, r);
            assert_eq!(String::from_utf8(b).unwrap(), serde_line(r));
        }
    }
}
