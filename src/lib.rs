//! ndbsniff: a passive classifier for TCP/UDP flows, built to answer "what is talking on port 3406?".
//!
//! The data path runs one way: a capture thread reads frames with libpcap ([`capture`]) and
//! hands them in batches over a bounded channel to decoder workers, which slice each frame in place
//! ([`decode`]), find its flow in a shared table ([`flow`]), reassemble a bounded prefix of each
//! direction and run the NDB management protocol probe on it ([`classify`]). At the end (or when a
//! flow ends) the flows become [`report::FlowRecord`]s, printed for a person or as JSON lines.
//!
//! [`run`] is the whole tool; `main.rs` only parses flags and maps errors to exit codes.

pub mod capture;
pub mod classify;
pub mod decode;
pub mod escape;
pub mod filter;
pub mod flow;
pub mod report;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;

use capture::{Batch, BatchPipe, CaptureError, CaptureReport, OfflineSource};
use decode::SkipReason;
use flow::table::FlowTable;
use report::{FlowRecord, Summary};

/// The port ndbsniff watches when none is given.
pub const DEFAULT_PORT: u16 = 3406;
/// Bytes of each TCP direction reassembled and shown to the probe, by default.
pub const DEFAULT_PREFIX_BYTES: usize = 4096;

/// Which flows are tracked: those with an endpoint on a watched port, or all of them.
#[derive(Clone)]
pub struct Watch {
    any: bool,
    bits: Box<[u64; 1024]>,
    ports: Vec<u16>,
}

impl Watch {
    /// Watches the given ports.
    pub fn ports(ports: &[u16]) -> Watch {
        let mut bits = Box::new([0u64; 1024]);
        for &p in ports {
            bits[p as usize >> 6] |= 1 << (p & 63);
        }
        let mut ports = ports.to_vec();
        ports.sort_unstable();
        ports.dedup();
        Watch { any: false, bits, ports }
    }

    /// Watches every TCP and UDP flow.
    pub fn any() -> Watch {
        Watch { any: true, bits: Box::new([0u64; 1024]), ports: Vec::new() }
    }

    pub fn is_any(&self) -> bool {
        self.any
    }

    /// The watched ports (empty when every port is watched).
    pub fn port_list(&self) -> &[u16] {
        &self.ports
    }

    #[inline]
    pub fn is_watched(&self, port: u16) -> bool {
        self.bits[port as usize >> 6] & (1 << (port & 63)) != 0
    }

    #[inline]
    pub fn matches(&self, a: u16, b: u16) -> bool {
        self.any || self.is_watched(a) || self.is_watched(b)
    }
}

/// Output style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Everything a run needs, validated.
#[derive(Clone)]
pub struct Config {
    pub input: PathBuf,
    pub watch: Watch,
    /// The user's own BPF expression, applied in addition to the port filter.
    pub filter: Option<String>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    pub threads: usize,
    pub prefix_bytes: usize,
    pub format: Format,
    /// List flows instead of server endpoints (text format).
    pub per_flow: bool,
}

/// Default worker count: cores − 1, at least 1 (the capture thread needs a core too).
pub fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).max(1)
}

/// How a run ended, for the exit code.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    /// The capture was damaged or unreadable part-way; everything before was reported.
    pub error: Option<CaptureError>,
}

/// Counters a worker keeps privately and hands back when it stops.
#[derive(Default)]
struct WorkerCounts {
    decoded: u64,
    watched: u64,
    other_ports: u64,
    skipped: [u64; SkipReason::ALL.len()],
}

fn worker(table: &FlowTable, watch: &Watch, link: decode::LinkKind, full: crossbeam_channel::Receiver<Batch>, empty: crossbeam_channel::Sender<Batch>) -> WorkerCounts {
    let mut counts = WorkerCounts::default();
    for batch in full.iter() {
        for meta in &batch.frames {
            match decode::decode(link, batch.frame(meta)) {
                Ok(view) => {
                    counts.decoded += 1;
                    if watch.matches(view.src_port, view.dst_port) {
                        counts.watched += 1;
                        table.observe(&view, meta.ts_us, meta.origlen);
                    } else {
                        counts.other_ports += 1;
                    }
                }
                Err(reason) => counts.skipped[reason.index()] += 1,
            }
        }
        let _ = empty.try_send(batch);
    }
    counts
}

/// Opens the capture, applies the filter, and prepares the BPF expression text.
fn open_source(cfg: &Config) -> Result<(OfflineSource, Option<String>), CaptureError> {
    let mut source = OfflineSource::open(&cfg.input)?;
    if let Some(user) = cfg.filter.as_deref() {
        // Checked alone first, so a mistake is reported in the user's own words.
        source.set_filter(user)?;
    }
    let ports = (!cfg.watch.is_any()).then(|| cfg.watch.port_list());
    let vlan_levels = if source.link == decode::LinkKind::Ethernet { 3 } else { 0 };
    let expr = filter::build(ports, cfg.filter.as_deref(), vlan_levels);
    if let Some(e) = &expr {
        if let Err(err) = source.set_filter(e) {
            // A user expression that libpcap rejects is the user's error; report it as such.
            if cfg.filter.is_some() {
                return Err(err);
            }
            let plain = filter::build(ports, None, 0).unwrap_or_default();
            source.set_filter(&plain)?;
            return Ok((source, Some(plain)));
        }
    }
    Ok((source, expr))
}

/// Reads the whole capture, classifies every watched flow and writes the report to `out`.
///
/// Returns `Err` when the input cannot be read at all (nothing was written); `Ok` with
/// `Outcome::error` set when it was damaged part-way (everything decoded before is reported).
pub fn run(cfg: &Config, out: &mut dyn Write) -> Result<Outcome, CaptureError> {
    let (source, expr) = open_source(cfg)?;
    let link_type = format!("{} ({})", capture::dlt_name(source.dlt), source.dlt);
    let link = source.link;
    let threads = cfg.threads.max(1);
    let table = FlowTable::new(cfg.prefix_bytes, threads * 4);
    let (full_tx, full_rx) = crossbeam_channel::bounded::<Batch>(threads * 4);
    let (empty_tx, empty_rx) = crossbeam_channel::bounded::<Batch>(threads * 4 + 2);
    let stop = Arc::new(AtomicBool::new(false));

    let (report, counts): (CaptureReport, Vec<WorkerCounts>) = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let (rx, tx, table, watch) = (full_rx.clone(), empty_tx.clone(), &table, &cfg.watch);
                thread::Builder::new()
                    .name(format!("decode-{i}"))
                    .spawn_scoped(s, move || worker(table, watch, link, rx, tx))
                    .expect("spawn decoder thread")
            })
            .collect();
        drop(full_rx);
        drop(empty_tx);
        let pipe = BatchPipe { full: full_tx, empty: empty_rx };
        let count = cfg.count;
        let stop = &stop;
        let capture = thread::Builder::new()
            .name("capture".into())
            .spawn_scoped(s, move || source.run(pipe, count, stop))
            .expect("spawn capture thread");
        let report = capture.join().unwrap_or_default();
        let counts = workers.into_iter().map(|w| w.join().unwrap_or_default()).collect();
        (report, counts)
    });

    let flows = table.drain(&cfg.watch);
    let summary = summarize(cfg, &report, &counts, &flows, link_type, expr);
    write_report(cfg, out, &flows, &summary).map_err(|e| CaptureError {
        source: "output".into(),
        message: e.to_string(),
    })?;
    Ok(Outcome { summary, error: report.error })
}

fn summarize(
    cfg: &Config,
    report: &CaptureReport,
    counts: &[WorkerCounts],
    flows: &[FlowRecord],
    link_type: String,
    filter: Option<String>,
) -> Summary {
    let mut s = Summary {
        source: cfg.input.display().to_string(),
        link_type,
        filter,
        packets_read: report.packets,
        bytes_read: report.bytes,
        dropped_by_ndbsniff: report.dropped_by_ndbsniff,
        flows: flows.len() as u64,
        servers: report::server_rows(flows).len() as u64,
        error: report.error.as_ref().map(ToString::to_string),
        ..Summary::default()
    };
    for c in counts {
        s.packets_decoded += c.decoded;
        s.packets_watched += c.watched;
        s.packets_other_ports += c.other_ports;
        for r in SkipReason::ALL {
            let n = c.skipped[r.index()];
            if n > 0 {
                *s.not_decoded.entry(r.as_str()).or_default() += n;
                s.packets_not_decoded += n;
            }
        }
    }
    for f in flows {
        *s.flows_by_verdict.entry(f.verdict.as_str()).or_default() += 1;
    }
    s
}

fn write_report(cfg: &Config, out: &mut dyn Write, flows: &[FlowRecord], summary: &Summary) -> std::io::Result<()> {
    match cfg.format {
        Format::Json => {
            for f in flows {
                report::json::write_flow(out, f)?;
            }
            report::json::write_summary(out, summary)?;
        }
        Format::Text => {
            if cfg.per_flow {
                report::text::write_flows(out, flows)?;
            } else {
                report::text::write_servers(out, &report::server_rows(flows))?;
            }
            report::text::write_summary(out, summary)?;
        }
    }
    out.flush()
}
