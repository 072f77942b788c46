//! The report sink: receives flow records as flows end, counts them, and hands them to the
//! printer of the run's format ([`super::format`]).
//!
//! Owns: the bookkeeping every format shares: flows by verdict, anomalies, evictions, the
//! distinct-server count (exact up to a bound, estimated beyond it) and, when the printer asks
//! for it (text without `--flows`), the bounded server table (`--max-servers` rows, see
//! [`super::servers`]). What is printed when is the printer's: JSON and EVE lines and `--flows`
//! text rows as each record arrives, the text server table at the end, and in live text runs one
//! line as soon as a server's verdict is decided or changes ([`super::text::TextPrinter`]).
//!
//! Never: blocks a worker (it runs on the main thread) or prints a packet byte unescaped.

use std::collections::BTreeMap;
use std::io::{self, Write};

use std::net::SocketAddr;

use super::cluster::ClusterMap;
use super::format::{Format, Options, Printer, Totals};
use super::ndb::Command;
use super::servers::{ServerCount, ServerKey, ServerTable};
use super::{FlowRecord, Summary};
use crate::classify::Verdict;

/// Where every record of a run goes: counted here, printed by the [`Format`]'s [`Printer`]
/// (chosen once, in [`Sink::new`]).
pub struct Sink<'a> {
    out: &'a mut dyn Write,
    printer: Box<dyn Printer>,
    servers: ServerCount,
    /// The server table, when the printer asked for one (text runs without `--flows`).
    table: Option<ServerTable>,
    /// Flows reported.
    pub flow_count: u64,
    /// Flows reported with state `evicted`.
    pub evicted: u64,
    /// Flows reported with each verdict.
    pub by_verdict: BTreeMap<&'static str, u64>,
    /// `unknown` flows by hint (`none` without one).
    pub by_hint: BTreeMap<&'static str, u64>,
    /// Flows reported with each anomaly.
    pub anomalies: BTreeMap<&'static str, u64>,
    /// NDB sessions reported with each risk.
    pub ndb_risks: BTreeMap<&'static str, u64>,
    /// Every management server's cluster, from the NDB sessions reported.
    pub clusters: ClusterMap,
}

impl<'a> Sink<'a> {
    /// A sink writing `format` to `out`.
    pub fn new(out: &'a mut dyn Write, format: Format, options: Options) -> Sink<'a> {
        let options = Options {
            max_servers: options.max_servers.max(1),
            ..options
        };
        let printer = format.printer(&options);
        let table = printer
            .wants_server_table()
            .then(|| ServerTable::new(options.max_servers));
        Sink {
            out,
            printer,
            servers: ServerCount::default(),
            table,
            flow_count: 0,
            evicted: 0,
            by_verdict: BTreeMap::new(),
            by_hint: BTreeMap::new(),
            anomalies: BTreeMap::new(),
            ndb_risks: BTreeMap::new(),
            clusters: ClusterMap::default(),
        }
    }

    /// Whether the printer shows verdicts decided while a flow is still running
    /// ([`Sink::decided`]); when not, there is no need to send them.
    pub fn wants_decided(&self) -> bool {
        self.printer.wants_decided()
    }

    /// A flow that ended (or the capture did). An NDB session is joined into its cluster's
    /// map first (which may add `control-from-unknown-host` to its risks).
    pub fn flow(&mut self, rec: &mut FlowRecord) -> io::Result<()> {
        if rec.ndb.is_some() {
            self.clusters.add(rec);
        }
        if let Some(s) = &rec.ndb {
            for r in s.risks.iter() {
                *self.ndb_risks.entry(r.as_str()).or_default() += 1;
            }
        }
        self.flow_count += 1;
        self.evicted += u64::from(rec.state == super::FlowState::Evicted);
        *self.by_verdict.entry(rec.verdict.as_str()).or_default() += 1;
        if rec.verdict == Verdict::Unknown {
            *self.by_hint.entry(rec.hint.unwrap_or("none")).or_default() += 1;
        }
        for a in rec.anomalies.iter() {
            *self.anomalies.entry(a.as_str()).or_default() += 1;
        }
        let key = ServerKey::new(rec.server, rec.transport);
        self.servers.insert(key);
        if let Some(table) = &mut self.table {
            table.add(key, rec);
        }
        self.printer.flow(self.out, rec)
    }

    /// Commands of a running NDB session (live): on the cluster's timeline now, and printed.
    pub fn ndb_commands(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        commands: &[Command],
    ) -> io::Result<()> {
        for c in commands {
            self.clusters.announced(client, server, c);
            self.printer.ndb_command(self.out, client, server, c)?;
        }
        Ok(())
    }

    /// A verdict decided while the flow is still running (live text runs print it at once).
    pub fn decided(&mut self, rec: &FlowRecord) -> io::Result<()> {
        self.printer.decided(self.out, rec)
    }

    /// Distinct server endpoints seen (exact, or estimated: see [`Sink::servers_estimated`]).
    pub fn server_count(&self) -> u64 {
        self.servers.count().0
    }

    /// True when [`Sink::server_count`] is an estimate (more servers than are counted exactly).
    pub fn servers_estimated(&self) -> bool {
        self.servers.count().1
    }

    /// Prints what is left (the text table) and the summary; call once at the end.
    ///
    /// Returns the summary's lines for the operator's standard error when the format keeps
    /// them out of its output ([`Printer::summary_for_operator`]: text).
    pub fn finish(&mut self, summary: &Summary) -> io::Result<Option<String>> {
        let totals = Totals {
            summary,
            table: self.table.as_ref(),
            servers: &self.servers,
            clusters: &self.clusters,
        };
        self.printer.finish(self.out, &totals)?;
        self.out.flush()?;
        Ok(self.printer.summary_for_operator(summary))
    }

    /// Periodic statistics, marked `"final": false`: written to the output (JSON, EVE), or
    /// returned as one line for the operator's stderr (text).
    pub fn interim(&mut self, summary: &Summary) -> io::Result<Option<String>> {
        self.printer.interim(self.out, summary, &self.clusters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Verdict;

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
        let options = Options {
            per_flow: true,
            ..Options::default()
        };
        let mut sink = Sink::new(&mut out, Format::Text, options);
        assert!(sink.table.is_none());
        sink.flow(&mut rec(1)).unwrap();
        sink.flow(&mut rec(2)).unwrap();
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
        let mut sink = Sink::new(&mut out, Format::Json, Options::default());
        assert!(sink.table.is_none());
        for s in 0..200 {
            sink.flow(&mut rec(s)).unwrap();
        }
        assert_eq!(
            (sink.server_count(), sink.servers_estimated()),
            (200, false)
        );
        let mut out = Vec::new();
        let options = Options {
            live: true,
            max_servers: 3,
            ..Options::default()
        };
        let mut sink = Sink::new(&mut out, Format::Text, options);
        for s in 0..200 {
            sink.flow(&mut rec(s)).unwrap();
        }
        assert_eq!(sink.table.as_ref().map(ServerTable::len), Some(3));
        assert_eq!(sink.server_count(), 200);
    }
}
