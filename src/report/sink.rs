//! The report sink: receives flow records as flows end and writes or aggregates them.
//!
//! Owns: what is printed when. JSON lines are written as each record arrives; the text table is
//! aggregated by server endpoint (memory grows with servers, not flows) and printed at the end;
//! live text runs also print one line as soon as a server's verdict is decided or changes.
//!
//! Never: blocks a worker (it runs on the main thread) or prints a packet byte unescaped.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use super::time::rfc3339_us;
use super::{json, text, FlowRecord, ServerRow, Summary};
use crate::classify::{Confidence, Verdict};

/// How records are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Server table (or flow table with `per_flow`) at the end.
    Text { per_flow: bool, announce: bool },
    /// JSON lines as records arrive.
    Json,
}

/// Caps the distinct client addresses remembered per server, so a flood cannot grow it unbounded.
const MAX_CLIENTS_TRACKED: usize = 65_536;

struct ServerAgg {
    row: ServerRow,
    clients: HashSet<IpAddr>,
    clients_overflow: bool,
}

pub struct Sink<'a> {
    out: &'a mut dyn Write,
    style: Style,
    servers: BTreeMap<(SocketAddr, &'static str), ServerAgg>,
    flows: Vec<FlowRecord>,
    announced: BTreeMap<(SocketAddr, &'static str), (Verdict, Confidence)>,
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
        Sink {
            out,
            style,
            servers: BTreeMap::new(),
            flows: Vec::new(),
            announced: BTreeMap::new(),
            flush_each: false,
            flow_count: 0,
            evicted: 0,
            by_verdict: BTreeMap::new(),
            anomalies: BTreeMap::new(),
        }
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
                    self.flows.push(rec.clone());
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
        let key = (rec.server, rec.transport.as_str());
        let now = (rec.verdict, rec.confidence);
        let previous = self.announced.get(&key).copied();
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
        self.announced.insert(key, now);
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
        let key = (rec.server, rec.transport.as_str());
        let agg = self.servers.entry(key).or_insert_with(|| ServerAgg {
            row: ServerRow {
                server: rec.server,
                transport: rec.transport,
                verdict: rec.verdict,
                confidence: rec.confidence,
                flows: 0,
                clients: 0,
                packets: 0,
                bytes: 0,
                first_seen: rec.first_seen,
                last_seen: rec.last_seen,
                evidence: rec.evidence.clone(),
                hint: rec.hint,
                anomalies: rec.anomalies,
            },
            clients: HashSet::new(),
            clients_overflow: false,
        });
        let row = &mut agg.row;
        row.flows += 1;
        row.packets += rec.packets_to_server + rec.packets_to_client;
        row.bytes += rec.bytes_to_server + rec.bytes_to_client;
        row.first_seen = row.first_seen.min(rec.first_seen);
        row.last_seen = row.last_seen.max(rec.last_seen);
        row.anomalies = row.anomalies.union(rec.anomalies);
        let better = (rec.verdict, rec.confidence, !rec.evidence.is_empty())
            > (row.verdict, row.confidence, !row.evidence.is_empty());
        if better {
            row.verdict = rec.verdict;
            row.confidence = rec.confidence;
            row.evidence = rec.evidence.clone();
            row.hint = rec.hint;
        }
        if self.style == Style::Json {
            // JSON runs report flows, not the server table: only the count of servers is used.
            return;
        }
        if agg.clients.len() < MAX_CLIENTS_TRACKED {
            agg.clients.insert(rec.client.ip());
        } else if !agg.clients.contains(&rec.client.ip()) {
            agg.clients_overflow = true;
        }
        row.clients = agg.clients.len() as u64;
    }

    pub fn server_count(&self) -> u64 {
        self.servers.len() as u64
    }

    /// Prints the table (text) and the summary; call once at the end.
    pub fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        match self.style {
            Style::Json => json::write_summary(self.out, summary)?,
            Style::Text { per_flow, .. } => {
                if per_flow {
                    self.flows.sort_by(|a, b| {
                        (a.first_seen, a.client, a.server).cmp(&(b.first_seen, b.client, b.server))
                    });
                    text::write_flows(self.out, &self.flows)?;
                } else {
                    let rows: Vec<ServerRow> =
                        self.servers.values().map(|a| a.row.clone()).collect();
                    text::write_servers(self.out, &rows)?;
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
