//! The report sink: receives flow records as flows end and writes or aggregates them.
//!
//! Owns: what is printed when. JSON lines are written as each record arrives; `--flows` text
//! rows too (the header before the first); the text server table is aggregated by server
//! endpoint in a bounded table (`--max-servers` rows, see [`super::servers`]) and printed at the
//! end; live text runs also print one line as soon as a server's verdict is decided or changes.
//! Whatever the style, the state kept per server is bounded: the distinct-server count is exact
//! up to a bound and estimated beyond it, and no other per-server state is kept in JSON or
//! `--flows` runs.
//!
//! Never: blocks a worker (it runs on the main thread) or prints a packet byte unescaped.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::servers::{ServerCount, ServerKey, ServerTable, DEFAULT_MAX_SERVERS};
use super::time::rfc3339_us;
use super::{json, text, FlowRecord, Summary};
use crate::classify::{Confidence, Verdict};

/// How records are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Server table (or flow table with `per_flow`) at the end.
    Text { per_flow: bool, announce: bool },
    /// JSON lines as records arrive.
    Json,
}

type Announced = BTreeMap<ServerKey, (Verdict, Confidence)>;

pub struct Sink<'a> {
    out: &'a mut dyn Write,
    style: Style,
    servers: ServerCount,
    /// The server table (text runs without `--flows` only).
    table: Option<ServerTable>,
    max_servers: usize,
    /// `--flows`: the header has been written.
    flows_started: bool,
    /// What was last announced per server (live text runs), `ndb-mgm` servers apart from the
    /// others; each map holds at most `max_servers` servers, forgetting the lowest address
    /// first (a server forgotten is announced again when next seen).
    announced_ndb: Announced,
    announced_other: Announced,
    /// Flush after every record (live runs, so a reader sees records as flows end).
    pub flush_each: bool,
    pub flow_count: u64,
    pub evicted: u64,
    pub by_verdict: BTreeMap<&'static str, u64>,
    /// Flows reported with each anomaly.
    pub anomalies: BTreeMap<&'static str, u64>,
}

impl<'a> Sink<'a> {
    pub fn new(out: &'a mut dyn Write, style: Style) -> Sink<'a> {
        let table = matches!(
            style,
            Style::Text {
                per_flow: false,
                ..
            }
        )
        .then(|| ServerTable::new(DEFAULT_MAX_SERVERS));
        Sink {
            out,
            style,
            servers: ServerCount::default(),
            table,
            max_servers: DEFAULT_MAX_SERVERS,
            flows_started: false,
            announced_ndb: BTreeMap::new(),
            announced_other: BTreeMap::new(),
            flush_each: false,
            flow_count: 0,
            evicted: 0,
            by_verdict: BTreeMap::new(),
            anomalies: BTreeMap::new(),
        }
    }

    /// Rows of the text server table (`--max-servers`; at least 1). Call before any flow.
    pub fn with_max_servers(mut self, n: usize) -> Sink<'a> {
        self.max_servers = n.max(1);
        if self.table.is_some() {
            self.table = Some(ServerTable::new(self.max_servers));
        }
        self
    }

    /// A flow that ended (or the capture did).
    pub fn flow(&mut self, rec: &FlowRecord) -> io::Result<()> {
        self.flow_count += 1;
        self.evicted += u64::from(rec.state == super::FlowState::Evicted);
        *self.by_verdict.entry(rec.verdict.as_str()).or_default() += 1;
        for a in rec.anomalies.iter() {
            *self.anomalies.entry(a.as_str()).or_default() += 1;
        }
        self.aggregate(rec);
        match self.style {
            Style::Json => {
                json::write_flow(self.out, rec)?;
                if self.flush_each {
                    self.out.flush()?;
                }
                Ok(())
            }
            Style::Text { per_flow, announce } => {
                if announce {
                    self.announce(rec)?;
                }
                if per_flow {
                    if !self.flows_started {
                        self.flows_started = true;
                        text::write_flow_header(self.out)?;
                    }
                    text::write_flow_row(self.out, rec)?;
                    if self.flush_each {
                        self.out.flush()?;
                    }
                }
                Ok(())
            }
        }
    }

    /// A verdict decided while the flow is still running (live text runs print it at once).
    pub fn decided(&mut self, rec: &FlowRecord) -> io::Result<()> {
        match self.style {
            Style::Text { announce: true, .. } => self.announce(rec),
            _ => Ok(()),
        }
    }

    fn announce(&mut self, rec: &FlowRecord) -> io::Result<()> {
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
            self.out,
            "{} {} {} {}{} confidence {}: {}",
            rfc3339_us(rec.last_seen),
            rec.server,
            rec.transport.as_str(),
            rec.verdict.as_str(),
            hint,
            rec.confidence.as_str(),
            if rec.evidence.is_empty() {
                "no payload yet"
            } else {
                &rec.evidence
            }
        )?;
        self.out.flush()
    }

    fn aggregate(&mut self, rec: &FlowRecord) {
        let key = ServerKey::new(rec.server, rec.transport);
        self.servers.insert(key);
        if let Some(table) = &mut self.table {
            table.add(key, rec);
        }
    }

    /// Distinct server endpoints seen (exact, or estimated: see [`Sink::servers_estimated`]).
    pub fn server_count(&self) -> u64 {
        self.servers.count().0
    }

    /// True when [`Sink::server_count`] is an estimate (more servers than are counted exactly).
    pub fn servers_estimated(&self) -> bool {
        self.servers.count().1
    }

    /// Prints the table (text) and the summary; call once at the end.
    pub fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        match self.style {
            Style::Json => json::write_summary(self.out, summary)?,
            Style::Text { .. } => {
                if let Some(table) = &self.table {
                    let rows = table.rows();
                    text::write_servers(self.out, &rows)?;
                    if table.incomplete() {
                        let (seen, estimated) = self.servers.count();
                        // At least one was left out, whatever an estimate says.
                        let hidden = seen.saturating_sub(rows.len() as u64).max(1);
                        text::write_more_servers(
                            self.out,
                            hidden,
                            estimated,
                            table.flows_outside(),
                            self.max_servers,
                        )?;
                    }
                } else if !self.flows_started {
                    text::write_no_flows(self.out)?;
                }
                text::write_summary(self.out, summary)?;
            }
        }
        self.out.flush()
    }

    /// A periodic statistics object (JSON runs), marked `"final": false`.
    pub fn interim(&mut self, summary: &Summary) -> io::Result<()> {
        if self.style == Style::Json {
            json::write_summary(self.out, summary)?;
            self.out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(server: u8) -> FlowRecord {
        FlowRecord::for_tests(
            std::net::SocketAddr::from(([192, 0, 2, server], 3406)),
            "198.51.100.7:40000".parse().unwrap(),
            Verdict::Unknown,
            0,
        )
    }

    #[test]
    fn flow_rows_are_written_as_they_arrive_under_one_header() {
        let mut out = Vec::new();
        let mut sink = Sink::new(
            &mut out,
            Style::Text {
                per_flow: true,
                announce: false,
            },
        );
        assert!(sink.table.is_none());
        sink.flow(&rec(1)).unwrap();
        sink.flow(&rec(2)).unwrap();
        drop(sink);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("CLIENT "));
        assert!(lines[1].contains("192.0.2.1:3406"));
        assert!(lines[2].contains("192.0.2.2:3406"));
    }

    #[test]
    fn json_runs_keep_no_server_table_and_text_tables_are_bounded() {
        let mut out = Vec::new();
        let mut sink = Sink::new(&mut out, Style::Json);
        assert!(sink.table.is_none());
        for s in 0..200 {
            sink.flow(&rec(s)).unwrap();
        }
        assert_eq!(
            (sink.server_count(), sink.servers_estimated()),
            (200, false)
        );
        let mut out = Vec::new();
        let style = Style::Text {
            per_flow: false,
            announce: true,
        };
        let mut sink = Sink::new(&mut out, style).with_max_servers(3);
        for s in 0..200 {
            sink.flow(&rec(s)).unwrap();
        }
        assert_eq!(sink.table.as_ref().map(ServerTable::len), Some(3));
        assert_eq!(sink.announced_other.len(), 3);
        assert_eq!(sink.server_count(), 200);
    }
}
