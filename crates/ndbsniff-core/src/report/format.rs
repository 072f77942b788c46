//! The output formats: [`Format`] names them (the command line's `--format`), and a [`Printer`]
//! is what one format does with what the [`Sink`](super::sink::Sink) hands it.
//!
//! Owns: the list of formats, their names and descriptions, and the choice of printer, made
//! once when the sink is built ([`Format::printer`]). Adding a format is one variant here (its
//! name, description and printer) and one printer file; nothing else matches on the format.
//!
//! Never: counts anything (the sink does) or prints (the printers do).

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use super::cluster::ClusterMap;
use super::ndb::Command;
use super::servers::{ServerCount, ServerTable, DEFAULT_MAX_SERVERS};
use super::{eve, json, text, FlowRecord, Summary};
use std::net::SocketAddr;

/// How the report is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// A table for a person, then a summary ([`text::TextPrinter`]).
    #[default]
    Text,
    /// JSON lines: one object per flow, then one summary object ([`json::JsonPrinter`]).
    Json,
    /// JSON lines in the shape of Suricata's EVE log ([`eve::EvePrinter`]).
    Eve,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 3] = [Format::Text, Format::Json, Format::Eve];

    /// Its name on the command line (`--format NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Eve => "eve",
        }
    }

    /// What it is, in a few words (the command line's help).
    pub fn description(self) -> &'static str {
        match self {
            Format::Text => "A table for a person, then a summary",
            Format::Json => "JSON lines: one object per flow, then one summary object",
            Format::Eve => "JSON lines in Suricata's EVE shape (event_type flow, stats, ...)",
        }
    }

    /// The printer of this format, set up with `options`.
    pub fn printer(self, options: &Options) -> Box<dyn Printer> {
        match self {
            Format::Text => Box::new(text::TextPrinter::new(options)),
            Format::Json => Box::new(json::JsonPrinter::new(options)),
            Format::Eve => Box::new(eve::EvePrinter::new(options)),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the [`Format`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        write!(
            f,
            "unknown output format {:?} (one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// A format by its [`Format::name`].
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// What every printer is told when the sink is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// List flows instead of server endpoints (`--flows`, text).
    pub per_flow: bool,
    /// A live capture: every record is flushed as it is written, and (text) each server's
    /// verdict is printed as soon as it is decided or changes.
    pub live: bool,
    /// Rows of the text server table (`--max-servers`), which also bounds the servers a live
    /// text run remembers having announced; at least 1.
    pub max_servers: usize,
    /// Text: the audit of each management server (cluster map, control timeline, clients)
    /// after the table (`--audit`).
    pub audit: bool,
    /// Text: the terminal's width when the output is one; table rows are cut to it (the
    /// last column ends in `…`). `None`: rows as long as they are.
    pub width: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            per_flow: false,
            live: false,
            max_servers: DEFAULT_MAX_SERVERS,
            audit: false,
            width: None,
        }
    }
}

/// What the sink has gathered by the end of the run, for [`Printer::finish`].
pub struct Totals<'a> {
    /// The run's summary.
    pub summary: &'a Summary,
    /// The server table, when the printer asked for one ([`Printer::wants_server_table`]).
    pub table: Option<&'a ServerTable>,
    /// The distinct servers seen.
    pub servers: &'a ServerCount,
    /// The cluster map of every management server seen.
    pub clusters: &'a ClusterMap,
}

/// One format's printer. The [`Sink`](super::sink::Sink) counts flows, verdicts, anomalies and
/// servers (and keeps the server table when asked) for every format; a printer only writes.
/// Every method writes to `out`, the run's one output.
pub trait Printer {
    /// Whether the sink is to keep the (bounded) server table for [`Printer::finish`].
    fn wants_server_table(&self) -> bool {
        false
    }

    /// Whether [`Printer::decided`] prints anything: the workers then send the verdicts they
    /// decide while a flow is still running.
    fn wants_decided(&self) -> bool {
        false
    }

    /// A flow that ended (or the capture did), after the sink counted it.
    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()>;

    /// A verdict decided while its flow is still running.
    fn decided(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        let _ = (out, rec);
        Ok(())
    }

    /// A command of a running NDB session, announced as soon as its reply is seen (live runs:
    /// control commands and refusals).
    fn ndb_command(
        &mut self,
        out: &mut dyn Write,
        client: SocketAddr,
        server: SocketAddr,
        command: &Command,
    ) -> io::Result<()> {
        let _ = (out, client, server, command);
        Ok(())
    }

    /// Periodic statistics (`--stats-interval`), `summary` marked not final, with the cluster
    /// map so far. Returns a line for the operator (stderr) when this format does not put them
    /// in its output.
    fn interim(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        clusters: &ClusterMap,
    ) -> io::Result<Option<String>>;

    /// The end of the run: what is left to print, then the summary when this format puts it
    /// in its output (the sink flushes after).
    fn finish(&mut self, out: &mut dyn Write, totals: &Totals<'_>) -> io::Result<()>;

    /// The run's summary as lines for the operator (standard error), when this format keeps it
    /// out of its output as tcpdump keeps its counts out of the packets (text: so that
    /// `ndbsniff -r x --flows | grep -c ndb-mgm` counts flows only); `None` when
    /// [`Printer::finish`] wrote it.
    fn summary_for_operator(&self, summary: &Summary) -> Option<String> {
        let _ = summary;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_their_format() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        let e = "xml".parse::<Format>().expect_err("no such format");
        assert_eq!(
            e.to_string(),
            "unknown output format \"xml\" (one of: text, json, eve)"
        );
    }
}
