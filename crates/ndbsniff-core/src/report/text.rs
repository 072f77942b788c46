//! Output for a person: a table of server endpoints (or of flows) on the output, and the
//! summary for the operator's standard error.
//!
//! Owns: column layout and wording. The server table is sized to its (bounded) rows; the flow
//! table is written a row at a time as flows end, so its columns have fixed widths (wide enough
//! for IPv4 endpoints and the usual values; a longer cell pushes the rest of its line right).
//! Never prints a packet byte unescaped (evidence arrives escaped) and never interprets what it
//! prints.

use std::collections::BTreeMap;
use std::io::{self, Write};

use std::net::SocketAddr;

use super::cluster::ClusterMap;
use super::format::{Options, Printer, Totals};
use super::ndb::Command;
use super::servers::{ServerKey, Shown};
use super::time::rfc3339_us;
use super::{FlowRecord, Summary};
use crate::classify::{Confidence, Verdict};

type Announced = BTreeMap<ServerKey, (Verdict, Confidence)>;

/// The text format's printer: the server table at the end (or, with `--flows`, one row as each
/// flow ends, under one header), then the summary; in live runs also one line as soon as a
/// server's verdict is decided or changes.
pub struct TextPrinter {
    /// `--flows`: a row per flow instead of the server table.
    per_flow: bool,
    /// Live runs: announce verdicts as they are decided, and flush every row.
    live: bool,
    max_servers: usize,
    /// `--flows`: the header has been written.
    flows_started: bool,
    /// `--audit`: each management server's cluster map after the table.
    audit: bool,
    /// What was last announced per server (live runs), `ndb-mgm` servers apart from the
    /// others; each map holds at most `max_servers` servers, forgetting the lowest address
    /// first (a server forgotten is announced again when next seen).
    announced_ndb: Announced,
    announced_other: Announced,
    /// Rows are cut to this many characters (a terminal's width).
    width: Option<usize>,
}

/// Writes what `f` writes to `out`, each line cut to `width` characters (ending in `…` when
/// cut), or as it is without a width.
fn clipped(
    out: &mut dyn Write,
    width: Option<usize>,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let Some(width) = width else {
        return f(out);
    };
    let mut text = Vec::new();
    f(&mut text)?;
    for line in String::from_utf8_lossy(&text).split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        write!(out, "{}{newline}", cut(body, width))?;
    }
    Ok(())
}

impl TextPrinter {
    /// A printer for `options` (`per_flow`, `live`, `max_servers`).
    pub fn new(options: &Options) -> TextPrinter {
        TextPrinter {
            per_flow: options.per_flow,
            live: options.live,
            max_servers: options.max_servers.max(1),
            flows_started: false,
            audit: options.audit,
            announced_ndb: BTreeMap::new(),
            announced_other: BTreeMap::new(),
            width: options.width.map(|w| w.max(20)),
        }
    }

    fn announce(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        let key = ServerKey::new(rec.server, rec.transport);
        let now = (rec.verdict, rec.confidence);
        let previous = self
            .announced_ndb
            .get(&key)
            .or_else(|| self.announced_other.get(&key))
            .copied();
        // A server is announced once, and again when its verdict changes or an ndb-mgm verdict
        // becomes more certain; an `unknown` never replaces an `ndb-mgm`.
        let news = match previous {
            None => true,
            Some((Verdict::NdbMgm, _)) if rec.verdict == Verdict::Unknown => false,
            Some(p) => p.0 != now.0 || (now.0 == Verdict::NdbMgm && now.1 > p.1),
        };
        if !news {
            return Ok(());
        }
        let map = if now.0 == Verdict::NdbMgm {
            self.announced_other.remove(&key);
            &mut self.announced_ndb
        } else {
            self.announced_ndb.remove(&key);
            &mut self.announced_other
        };
        if map.len() >= self.max_servers && !map.contains_key(&key) {
            map.pop_first();
        }
        map.insert(key, now);
        let hint = rec.hint.map(|h| format!(" ({h})")).unwrap_or_default();
        writeln!(
            out,
            "{} {} {} (client {}) {}{} confidence {}: {}",
            rfc3339_us(rec.last_seen),
            rec.server,
            rec.proto_cell(),
            rec.client,
            rec.verdict.as_str(),
            hint,
            rec.confidence.as_str(),
            if rec.evidence.is_empty() {
                "no payload yet"
            } else {
                &rec.evidence
            }
        )?;
        out.flush()
    }
}

impl Printer for TextPrinter {
    fn wants_server_table(&self) -> bool {
        !self.per_flow
    }

    fn wants_decided(&self) -> bool {
        self.live
    }

    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        if self.live {
            self.announce(out, rec)?;
        }
        if self.per_flow {
            let header = !self.flows_started;
            self.flows_started = true;
            clipped(out, self.width, |out| {
                if header {
                    write_flow_header(out)?;
                }
                write_flow_row(out, rec)
            })?;
            if self.live {
                out.flush()?;
            }
        }
        Ok(())
    }

    fn decided(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        if self.live {
            self.announce(out, rec)?;
        }
        Ok(())
    }

    fn ndb_command(
        &mut self,
        out: &mut dyn Write,
        client: SocketAddr,
        server: SocketAddr,
        c: &Command,
    ) -> io::Result<()> {
        writeln!(
            out,
            "{} {server} ndb-mgm command from {client}: {}",
            rfc3339_us(c.at),
            command_text(c)
        )?;
        out.flush()
    }

    fn interim(
        &mut self,
        _: &mut dyn Write,
        summary: &Summary,
        _: &ClusterMap,
    ) -> io::Result<Option<String>> {
        Ok(Some(stats_line(summary)))
    }

    fn finish(&mut self, out: &mut dyn Write, totals: &Totals<'_>) -> io::Result<()> {
        if let Some(table) = totals.table {
            let rows = table.rows();
            clipped(out, self.width, |out| write_servers(out, &rows))?;
            if table.incomplete() {
                let (seen, estimated) = totals.servers.count();
                // At least one was left out, whatever an estimate says.
                let hidden = seen.saturating_sub(rows.len() as u64).max(1);
                write_more_servers(
                    out,
                    hidden,
                    estimated,
                    table.flows_outside(),
                    self.max_servers,
                )?;
            }
        } else if !self.flows_started {
            write_no_flows(out)?;
        }
        if self.audit {
            write_audit(out, totals.clusters)?;
        }
        Ok(())
    }

    fn summary_for_operator(&self, summary: &Summary) -> Option<String> {
        let mut text = Vec::new();
        write_summary(&mut text, summary).ok()?;
        Some(String::from_utf8_lossy(&text).into_owned())
    }
}

fn print_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let last = header.len() - 1;
    let fmt_row = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", fmt_row(&mut header.iter().copied()))?;
    for row in rows {
        writeln!(out, "{}", fmt_row(&mut row.iter().map(String::as_str)))?;
    }
    Ok(())
}

fn verdict_cell(verdict: &str, hint: Option<&str>) -> String {
    match hint {
        Some(h) => format!("{verdict} ({h})"),
        None => verdict.to_string(),
    }
}

/// The evidence column: anomalies first, as `[!name,name] `, so a reader knows the text may
/// not be what the receiver accepted.
fn evidence_cell(evidence: &str, anomalies: super::Anomalies) -> String {
    if anomalies.is_empty() {
        evidence.to_string()
    } else {
        format!("[!{}] {evidence}", anomalies.joined())
    }
}

/// The peer kinds of a server's NDB sessions, with the split when only some of its flows
/// were NDB (`ndb_mgm,api (2 of 5 flows)`); `-` when none was.
fn peers_cell(r: &super::ServerRow) -> String {
    if r.ndb_flows == 0 {
        return "-".to_string();
    }
    let kinds = r.peers.joined();
    if r.ndb_flows < r.flows {
        format!("{kinds} ({} of {} flows)", r.ndb_flows, r.flows)
    } else {
        kinds
    }
}

/// A command as one line: the request with its arguments, then `-> result`.
pub fn command_text(c: &Command) -> String {
    let mut s = request_text(
        c.command.as_deref(),
        c.reply.as_deref().unwrap_or("reply"),
        &c.args,
    );
    match &c.result {
        Some(r) => {
            s.push_str(" -> ");
            s.push_str(r);
        }
        None if c.reply.is_none() => s.push_str(" -> (no reply)"),
        None => {}
    }
    s
}

/// The request line with its arguments (`stop v2 node=2 abort=0`); `(reply)` (the reply
/// header in parentheses) for a reply whose request was not seen.
fn request_text(command: Option<&str>, reply: &str, args: &super::ndb::Pairs) -> String {
    let mut s = command.map_or_else(|| format!("({reply})"), str::to_string);
    for (n, v) in &args.0 {
        s.push(' ');
        s.push_str(n);
        s.push('=');
        s.push_str(v);
    }
    s
}

/// `s` cut to `max` characters, the last one `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// An RFC 3339 time to the second (the audit's tables fit 80 columns).
fn seconds(us: i64) -> String {
    let t = rfc3339_us(us);
    match (t.get(..19), t.ends_with('Z')) {
        (Some(head), true) => format!("{head}Z"),
        _ => t,
    }
}

/// `--audit`: for each management server, its cluster map, its control timeline and its
/// clients, each table fitting an 80-column terminal (long values cut with `…`).
pub fn write_audit(out: &mut dyn Write, clusters: &ClusterMap) -> io::Result<()> {
    if clusters.is_empty() {
        writeln!(out)?;
        writeln!(out, "audit: no NDB management sessions seen")?;
    }
    for c in clusters.clusters() {
        writeln!(out)?;
        let versions: Vec<&str> = c.versions.iter().map(String::as_str).collect();
        writeln!(
            out,
            "{}",
            cut(
                &format!(
                    "ndb_mgmd {}: nodes {}, sessions {}{}",
                    c.server,
                    c.nodes.len(),
                    c.flows,
                    if versions.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", versions.join(", "))
                    }
                ),
                80
            )
        )?;
        if c.nodes.is_empty() {
            writeln!(
                out,
                "  no nodes seen (no node status reply, allocation or config fetch)"
            )?;
        } else {
            let rows: Vec<Vec<String>> = c
                .nodes
                .values()
                .map(|n| {
                    vec![
                        n.node_id.to_string(),
                        n.role.map_or("-", |r| r.as_str()).to_string(),
                        n.address.map_or_else(|| "-".to_string(), |a| a.to_string()),
                        n.version
                            .filter(|&v| v > 0)
                            .map_or_else(|| "-".to_string(), super::ndb::version_string),
                        cut(n.status.as_deref().unwrap_or("-"), 14),
                        seconds(n.last_seen),
                    ]
                })
                .collect();
            print_table(
                out,
                &["NODE", "ROLE", "ADDRESS", "VERSION", "STATUS", "LAST SEEN"],
                &rows,
            )?;
        }
        let control: Vec<_> = c.control().collect();
        if control.is_empty() {
            writeln!(out, "control commands and refusals: none")?;
        } else {
            let shown = if c.control_dropped() > 0 {
                format!(
                    "{} of {}, the first and last {}",
                    control.len(),
                    c.control_total,
                    crate::report::cluster::KEEP_CONTROL
                )
            } else {
                control.len().to_string()
            };
            writeln!(out, "control commands and refusals ({shown}):")?;
            // Columns sized so a row fits 80 characters: the command gets what the time,
            // the client and the result leave.
            let clients: Vec<String> = control
                .iter()
                .map(|e| cut(&e.client.ip().to_string(), 15))
                .collect();
            let results: Vec<String> = control
                .iter()
                .map(|e| cut(e.result.as_deref().unwrap_or("(no reply)"), 15))
                .collect();
            let width = |v: &[String]| v.iter().map(|x| x.chars().count()).max().unwrap_or(0);
            let room = 80usize
                .saturating_sub(20 + 2 + width(&clients).max(6) + 2 + 2 + width(&results).max(6))
                .max(16);
            let rows: Vec<Vec<String>> = control
                .iter()
                .zip(clients)
                .zip(results)
                .map(|((e, client), result)| {
                    let cmd = request_text(e.command.as_deref(), "reply", &e.args);
                    vec![seconds(e.at), client, cut(&cmd, room), result]
                })
                .collect();
            print_table(out, &["TIME", "CLIENT", "COMMAND", "RESULT"], &rows)?;
        }
        let rows: Vec<Vec<String>> = c
            .clients
            .values()
            .map(|cl| {
                vec![
                    cl.host.to_string(),
                    cut(&cl.peers.joined(), 30),
                    cl.flows.to_string(),
                    cl.commands.to_string(),
                ]
            })
            .collect();
        writeln!(out, "clients:")?;
        print_table(out, &["HOST", "PEERS", "SESSIONS", "COMMANDS"], &rows)?;
        if c.clients_dropped > 0 {
            writeln!(
                out,
                "... and {} more client sessions not listed",
                c.clients_dropped
            )?;
        }
        if !c.risks.is_empty() {
            let each: Vec<String> = c
                .risks
                .iter()
                .map(|(r, n)| format!("{} {n}", r.as_str()))
                .collect();
            writeln!(
                out,
                "{}",
                cut(&format!("risks (sessions): {}", each.join(", ")), 80)
            )?;
        }
    }
    if clusters.dropped > 0 {
        writeln!(
            out,
            "... and {} sessions with management servers not mapped (at most {})",
            clusters.dropped,
            crate::report::cluster::MAX_CLUSTERS
        )?;
    }
    Ok(())
}

/// What is printed instead of a table when no flow was seen.
pub fn write_no_flows(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "no TCP or UDP flows on the watched ports")
}

/// The server table, rows in the order given. A client count that hit its bound shows `N+`.
pub fn write_servers(out: &mut dyn Write, rows: &[Shown]) -> io::Result<()> {
    if rows.is_empty() {
        return write_no_flows(out);
    }
    let header = [
        "SERVER",
        "PROTO",
        "VERDICT",
        "CONF",
        "FLOWS",
        "CLIENTS",
        "PACKETS",
        "BYTES",
        "FIRST SEEN",
        "LAST SEEN",
        "PEERS",
        "RISKS",
        "EVIDENCE",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|shown| {
            let r = &shown.row;
            vec![
                r.server.to_string(),
                super::proto_cell(r.transport, r.tunnel.as_deref()),
                verdict_cell(r.verdict.as_str(), r.hint),
                r.confidence.as_str().to_string(),
                r.flows.to_string(),
                if shown.clients_capped {
                    format!("{}+", r.clients)
                } else {
                    r.clients.to_string()
                },
                r.packets.to_string(),
                r.bytes.to_string(),
                rfc3339_us(r.first_seen),
                rfc3339_us(r.last_seen),
                peers_cell(r),
                if r.risks.is_empty() {
                    "-".to_string()
                } else {
                    format!("!{}", r.risks.joined())
                },
                evidence_cell(&r.evidence, r.anomalies),
            ]
        })
        .collect();
    print_table(out, &header, &cells)
}

/// The line under a server table that could not show every server.
pub fn write_more_servers(
    out: &mut dyn Write,
    hidden: u64,
    estimated: bool,
    flows: u64,
    max_servers: usize,
) -> io::Result<()> {
    writeln!(
        out,
        "... and {}{hidden} more servers{} not shown ({flows} flows); the table keeps the {max_servers} most interesting (ndb-mgm first, then by flows), --max-servers to change",
        if estimated { "about " } else { "" },
        if estimated { " (estimated)" } else { "" },
    )
}

const FLOW_HEADER: [&str; 13] = [
    "CLIENT",
    "SERVER",
    "PROTO",
    "VERDICT",
    "CONF",
    "STATE",
    "PKTS C>S",
    "PKTS S>C",
    "BYTES C>S",
    "BYTES S>C",
    "FIRST SEEN",
    "LAST SEEN",
    "EVIDENCE",
];

/// Column widths of the flow table: `255.255.255.255:65535`, `unknown (memcached)`, `half-closed`,
/// RFC 3339 times with microseconds.
const FLOW_WIDTHS: [usize; 12] = [21, 21, 5, 19, 6, 11, 8, 8, 9, 9, 27, 27];

fn fixed_row(out: &mut dyn Write, cells: &[&str]) -> io::Result<()> {
    let mut s = String::new();
    let last = cells.len().saturating_sub(1);
    for (i, cell) in cells.iter().enumerate() {
        match FLOW_WIDTHS.get(i) {
            Some(&w) if i < last => s.push_str(&format!("{cell:<w$}  ")),
            _ => s.push_str(cell),
        }
    }
    writeln!(out, "{}", s.trim_end())
}

/// The flow table's header, written before its first row.
pub fn write_flow_header(out: &mut dyn Write) -> io::Result<()> {
    fixed_row(out, &FLOW_HEADER)
}

/// One row of the flow table.
pub fn write_flow_row(out: &mut dyn Write, f: &FlowRecord) -> io::Result<()> {
    let cells = [
        f.client.to_string(),
        f.server.to_string(),
        f.proto_cell(),
        verdict_cell(f.verdict.as_str(), f.hint),
        f.confidence.as_str().to_string(),
        f.state.as_str().to_string(),
        f.packets_to_server.to_string(),
        f.packets_to_client.to_string(),
        f.bytes_to_server.to_string(),
        f.bytes_to_client.to_string(),
        rfc3339_us(f.first_seen),
        rfc3339_us(f.last_seen),
        evidence_cell(&f.evidence, f.anomalies),
    ];
    let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
    fixed_row(out, &refs)
}

/// The summary at the end of a text report.
pub fn write_summary(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    writeln!(out)?;
    let mut line = format!(
        "{}: {} packets read ({} bytes), link type {}, watching {}",
        s.source, s.packets_read, s.bytes_read, s.link_type, s.watching
    );
    if let Some(f) = &s.user_filter {
        line.push_str(&format!(", filter: {f}"));
    }
    writeln!(out, "{line}")?;
    for f in &s.files {
        write!(
            out,
            "  file {}: {} packets read ({} bytes), link type {}",
            f.source, f.packets_read, f.bytes_read, f.link_type
        )?;
        match &f.error {
            Some(e) => writeln!(out, "; stopped early: {e}")?,
            None => writeln!(out)?,
        }
    }
    if s.interrupted {
        writeln!(
            out,
            "interrupted: a signal stopped the capture; this report covers what was read until then"
        )?;
    }
    let mut decoded = format!(
        "decoded {} TCP/UDP packets: {} in watched flows, {} on other ports",
        s.packets_decoded, s.packets_watched, s.packets_other_ports
    );
    if s.packets_not_decoded > 0 {
        let reasons = counts(&s.not_decoded);
        decoded.push_str(&format!(
            "; not decoded {} ({})",
            s.packets_not_decoded, reasons
        ));
    }
    writeln!(out, "{decoded}")?;
    if s.fragments_seen > 0 {
        writeln!(out, "{}", fragments_line(s))?;
    }
    if s.received_by_kernel.is_some() || s.dropped_by_ndbsniff > 0 {
        writeln!(out, "{}", drops_line(s))?;
    }
    for (i, t) in s.capture_threads.iter().enumerate() {
        writeln!(out, "{}", capture_thread_line(i, t))?;
    }
    if let Some(line) = reassembly_line(s) {
        writeln!(out, "{line}")?;
    }
    let verdicts = verdict_counts(s);
    if verdicts.is_empty() {
        writeln!(out, "flows: 0")?;
    } else {
        writeln!(
            out,
            "flows: {} ({}), servers: {}",
            s.flows,
            verdicts,
            if s.servers_estimated {
                format!("about {} (estimated)", s.servers)
            } else {
                s.servers.to_string()
            }
        )?;
    }
    if !s.ndb_risks.is_empty() {
        writeln!(out, "ndb-mgm sessions with risks: {}", counts(&s.ndb_risks))?;
    }
    writeln!(
        out,
        "flows evicted from a full table (--max-flows): {}, buffering refused at the memory cap (--memcap): {} times",
        s.flows_evicted, s.memcap_hits
    )
}

/// Flows by verdict, the `unknown` ones split by hint: `ndb-mgm 2, unknown 4 (dns 1, http 3)`.
fn verdict_counts(s: &Summary) -> String {
    let each: Vec<String> = s
        .flows_by_verdict
        .iter()
        .map(|(k, v)| {
            if *k == Verdict::Unknown.as_str() && !s.unknown_by_hint.is_empty() {
                format!("{k} {v}: {}", counts(&s.unknown_by_hint))
            } else {
                format!("{k} {v}")
            }
        })
        .collect();
    each.join("; ")
}

/// `name count, name count, …` for a map of counters.
fn counts(map: &std::collections::BTreeMap<&'static str, u64>) -> String {
    let each: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
    each.join(", ")
}

/// IP fragment reassembly: fragments seen, datagrams reassembled, drops by reason.
pub fn fragments_line(s: &Summary) -> String {
    let mut line = format!(
        "ip fragments: {} seen, {} datagrams reassembled, {} dropped",
        s.fragments_seen, s.datagrams_reassembled, s.fragments_dropped
    );
    if !s.fragment_drops.is_empty() {
        let reasons = counts(&s.fragment_drops);
        line.push_str(&format!(" ({})", reasons));
    }
    line
}

/// Bad checksums and flows with reassembly anomalies, when there were any.
pub fn reassembly_line(s: &Summary) -> Option<String> {
    if s.tcp_bad_checksums == 0 && s.anomalies.is_empty() {
        return None;
    }
    let mut line = format!(
        "reassembly: {} TCP segments with a bad checksum (used, a good copy wins)",
        s.tcp_bad_checksums
    );
    if !s.anomalies.is_empty() {
        let each = counts(&s.anomalies);
        line.push_str(&format!("; flows with anomalies: {}", each));
    }
    Some(line)
}

/// Drop counters as tcpdump prints them at exit, plus ndbsniff's own.
pub fn drops_line(s: &Summary) -> String {
    let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_string(), |n| n.to_string());
    format!(
        "{} packets captured, {} received by filter, {} dropped by kernel, {} dropped by interface, {} dropped by ndbsniff",
        s.packets_read,
        opt(s.received_by_kernel),
        opt(s.dropped_by_kernel),
        opt(s.dropped_by_interface),
        s.dropped_by_ndbsniff
    )
}

/// One capture thread's socket of several, as the drops line counts the run's.
pub fn capture_thread_line(i: usize, t: &super::CaptureThreadSummary) -> String {
    let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_string(), |n| n.to_string());
    format!(
        "  capture thread {i}: {} packets captured, {} received by filter, {} dropped by kernel, {} dropped by interface, {} dropped by ndbsniff",
        t.packets_read,
        opt(t.received_by_kernel),
        opt(t.dropped_by_kernel),
        opt(t.dropped_by_interface),
        t.dropped_by_ndbsniff
    )
}

/// One line of periodic statistics for a running capture.
pub fn stats_line(s: &Summary) -> String {
    let verdicts = counts(&s.flows_by_verdict);
    format!(
        "{}; {} flows reported ({})",
        drops_line(s),
        s.flows,
        if verdicts.is_empty() {
            "none yet".to_string()
        } else {
            verdicts
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_text(s: &Summary) -> String {
        let mut out = Vec::new();
        write_summary(&mut out, s).expect("writing to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn each_capture_threads_socket_gets_a_line_under_the_drops_line() {
        let socket = |read, dropped| super::super::CaptureThreadSummary {
            packets_read: read,
            received_by_kernel: Some(read + dropped),
            dropped_by_kernel: Some(dropped),
            dropped_by_interface: Some(0),
            dropped_by_ndbsniff: 0,
        };
        let mut s = Summary {
            source: "eth0".into(),
            packets_read: 30,
            received_by_kernel: Some(33),
            dropped_by_kernel: Some(3),
            dropped_by_interface: Some(0),
            ..Summary::default()
        };
        let one = summary_text(&s);
        assert!(!one.contains("capture thread"), "{one}");
        s.capture_threads = vec![socket(10, 0), socket(20, 3)];
        let text = summary_text(&s);
        let lines: Vec<&str> = text.lines().collect();
        let drops = lines
            .iter()
            .position(|l| l.starts_with("30 packets captured, 33 received by filter"))
            .expect("the drops line");
        assert_eq!(
            &lines[drops + 1..drops + 3],
            [
                "  capture thread 0: 10 packets captured, 10 received by filter, 0 dropped by kernel, 0 dropped by interface, 0 dropped by ndbsniff",
                "  capture thread 1: 20 packets captured, 23 received by filter, 3 dropped by kernel, 0 dropped by interface, 0 dropped by ndbsniff",
            ]
        );
        // JSON: the member only when there are several.
        let json = serde_json::to_value(&s).expect("serialises");
        assert_eq!(json["capture_threads"][1]["dropped_by_kernel"], 3);
        s.capture_threads.clear();
        let json = serde_json::to_value(&s).expect("serialises");
        assert!(json.get("capture_threads").is_none());
    }

    #[test]
    fn flow_rows_are_cut_to_the_width_when_one_is_given() {
        let rec = |s| {
            let mut r = FlowRecord::for_tests(
                std::net::SocketAddr::from(([192, 0, 2, s], 3406)),
                "198.51.100.7:40000".parse().unwrap(),
                Verdict::Unknown,
                0,
            );
            r.evidence = "client: ".to_string() + &"x".repeat(300);
            r
        };
        let rows = |width| {
            let options = Options {
                per_flow: true,
                width,
                ..Options::default()
            };
            let mut printer = TextPrinter::new(&options);
            let mut out = Vec::new();
            for s in 1..=2 {
                printer.flow(&mut out, &rec(s)).unwrap();
            }
            String::from_utf8(out).expect("UTF-8")
        };
        let whole = rows(None);
        let cut = rows(Some(60));
        assert_eq!(whole.lines().count(), 3);
        assert_eq!(cut.lines().count(), 3, "{cut}");
        assert!(whole.lines().nth(1).unwrap().chars().count() > 300);
        for (w, c) in whole.lines().zip(cut.lines()) {
            let n = c.chars().count();
            assert!(n <= 60, "{c}");
            if w.chars().count() > 60 {
                assert!(c.ends_with('…'), "{c}");
                assert!(w.starts_with(c.trim_end_matches('…')), "{w}\n{c}");
            } else {
                assert_eq!(w, c);
            }
        }
        assert!(cut.ends_with('\n'));
    }

    #[test]
    fn live_announcements_remember_a_bounded_number_of_servers() {
        let options = Options {
            live: true,
            max_servers: 3,
            ..Options::default()
        };
        let mut printer = TextPrinter::new(&options);
        let mut out = Vec::new();
        for s in 0..200 {
            let rec = FlowRecord::for_tests(
                std::net::SocketAddr::from(([192, 0, 2, s], 3406)),
                "198.51.100.7:40000".parse().unwrap(),
                Verdict::Unknown,
                0,
            );
            printer.flow(&mut out, &rec).unwrap();
        }
        assert_eq!(printer.announced_other.len(), 3);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 200);
    }

    #[test]
    fn an_interrupted_run_says_so_and_a_complete_one_does_not() {
        let mut s = Summary {
            source: "x.pcap".into(),
            ..Summary::default()
        };
        assert!(!summary_text(&s).contains("interrupted"));
        s.interrupted = true;
        let text = summary_text(&s);
        let line = text
            .lines()
            .find(|l| l.starts_with("interrupted: "))
            .expect("an interrupted line");
        assert!(line.contains("covers what was read"), "{line}");
    }
}
