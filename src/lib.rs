//! ndbsniff: a passive classifier for TCP/UDP flows, built to answer "what is talking on port 3406?".
//!
//! The data path runs one way: a capture thread reads frames with libpcap or from a mapped file
//! ([`capture`]), slices each in place ([`decode`]) and routes it by flow key ([`pipeline`]) in
//! batches over bounded channels to decoder workers; each worker owns one part of the flow table
//! ([`flow`]), reassembles a bounded prefix of each direction and runs the NDB management protocol
//! probe on it ([`classify`]). Flows that end or go idle come back to the main thread, which turns
//! them into [`report::FlowRecord`]s, printed for a person or as JSON lines.
//!
//! [`run`] is the whole tool; `main.rs` only parses flags and maps errors to exit codes.

pub mod capture;
pub mod classify;
pub mod decode;
pub mod escape;
pub mod filter;
pub mod flow;
pub mod memcap;
pub mod pcapfile;
pub mod pipeline;
pub mod privilege;
pub mod report;
pub mod synth;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use capture::{CaptureError, CaptureReport, LiveCounters, LiveOptions, Source};
use decode::SkipReason;
use flow::table::{End, FlowTable, Removed, Timeouts};
use pipeline::{
    DecodeCounters, Event, Router, RouterSetup, SweepMerger, Work, WorkerOut, WorkerShared,
};
use report::sink::{Sink, Style};
use report::Summary;

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
        Watch {
            any: false,
            bits,
            ports,
        }
    }

    /// Watches every TCP and UDP flow.
    pub fn any() -> Watch {
        Watch {
            any: true,
            bits: Box::new([0u64; 1024]),
            ports: Vec::new(),
        }
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

/// Where packets come from.
#[derive(Clone, Debug)]
pub enum Input {
    File(PathBuf),
    Live(LiveOptions),
}

/// Everything a run needs, validated.
#[derive(Clone)]
pub struct Config {
    pub input: Input,
    pub watch: Watch,
    /// The user's own BPF expression, applied in addition to the port filter.
    pub filter: Option<String>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this long (live capture).
    pub duration: Option<Duration>,
    pub threads: usize,
    pub prefix_bytes: usize,
    pub format: Format,
    /// List flows instead of server endpoints (text format).
    pub per_flow: bool,
    /// Also write the packets that pass the filter to this pcap file.
    pub write: Option<PathBuf>,
    /// Account to switch to after a live capture opens (else SUDO_UID, else nobody).
    pub user: Option<String>,
    /// Print statistics this often while running.
    pub stats_interval: Option<Duration>,
    pub timeouts: Timeouts,
    /// Flows tracked at once; beyond it the least recently seen are evicted and reported.
    pub max_flows: usize,
    /// Cap on payload bytes buffered at once for reassembly (TCP streams and IP fragments).
    pub memcap: usize,
    /// How offline files are read (memory map for classic pcap, or always libpcap).
    pub reader: capture::Reader,
    /// Set by a signal handler (or anything else) to end the capture early, cleanly.
    pub stop: Arc<AtomicBool>,
}

impl Config {
    /// A configuration with the command line's defaults: port 3406, text output, default
    /// worker count, 4 KiB inspected per direction, default timeouts and flow cap.
    pub fn new(input: Input) -> Config {
        Config {
            input,
            watch: Watch::ports(&[DEFAULT_PORT]),
            filter: None,
            count: None,
            duration: None,
            threads: default_threads(),
            prefix_bytes: DEFAULT_PREFIX_BYTES,
            format: Format::Text,
            per_flow: false,
            write: None,
            user: None,
            stats_interval: None,
            timeouts: Timeouts::default(),
            max_flows: flow::table::DEFAULT_MAX_FLOWS,
            memcap: memcap::DEFAULT_MEMCAP,
            reader: capture::Reader::Auto,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Default worker count: cores − 1, at least 1 (the capture thread needs a core too).
pub fn default_threads() -> usize {
    thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

/// Why a run could not start (nothing was written) or had to stop.
#[derive(Debug)]
pub enum RunError {
    Capture(CaptureError),
    Privilege(privilege::PrivilegeError),
    Output(std::io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Capture(e) => e.fmt(f),
            RunError::Privilege(e) => {
                write!(f, "cannot drop privileges, not capturing as root: {e}")
            }
            RunError::Output(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl From<CaptureError> for RunError {
    fn from(e: CaptureError) -> Self {
        RunError::Capture(e)
    }
}

/// How a run ended, for the exit code.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    /// The capture was damaged or unreadable part-way; everything before was reported.
    pub error: Option<CaptureError>,
}

/// Opens the capture, applies the filter, and returns the BPF expression text in force.
fn open_source(cfg: &Config) -> Result<(Source, Option<String>), CaptureError> {
    let mut source = match &cfg.input {
        Input::File(p) => Source::open_file(p, cfg.reader)?,
        Input::Live(opts) => Source::open_live(opts)?,
    };
    if let Some(user) = cfg.filter.as_deref() {
        // Checked alone first, so a mistake is reported in the user's own words.
        source.set_filter(user)?;
    }
    let ports = (!cfg.watch.is_any()).then(|| cfg.watch.port_list());
    let vlan_levels = if source.link == decode::LinkKind::Ethernet {
        3
    } else {
        0
    };
    let mut expr = filter::build(ports, cfg.filter.as_deref(), vlan_levels);
    if let Some(e) = &expr {
        if source.set_filter(e).is_err() {
            // Some link types reject `vlan`; the workers check ports anyway.
            let plain = filter::build(ports, cfg.filter.as_deref(), 0).unwrap_or_default();
            source.set_filter(&plain)?;
            expr = Some(plain);
        }
    }
    if let Some(w) = &cfg.write {
        source.write_to(w)?;
    }
    Ok((source, expr))
}

fn source_name(cfg: &Config) -> String {
    match &cfg.input {
        Input::File(p) => p.display().to_string(),
        Input::Live(o) => o.interface.clone(),
    }
}

/// Reads the capture, classifies every watched flow and writes the report to `out`.
///
/// Returns `Err` when the input cannot be read at all (nothing was written); `Ok` with
/// `Outcome::error` set when it was damaged part-way (everything decoded before is reported).
pub fn run(cfg: &Config, out: &mut dyn Write) -> Result<Outcome, RunError> {
    let (source, expr) = open_source(cfg)?;
    let live = source.is_live();
    if live {
        let target = privilege::choose(
            cfg.user.as_deref(),
            std::env::var("SUDO_UID").ok().as_deref(),
            std::env::var("SUDO_GID").ok().as_deref(),
        );
        // Not root: there is nothing to switch to, only capabilities to give up.
        let target = match target {
            Ok(t) => Some(t),
            Err(e) if nix::unistd::geteuid().is_root() => return Err(RunError::Privilege(e)),
            Err(_) => None,
        };
        privilege::drop_to(target.as_ref()).map_err(RunError::Privilege)?;
        eprintln!(
            "ndbsniff: listening on {}, link-type {} ({}), snapshot length {} bytes",
            source.name,
            capture::dlt_name(source.dlt),
            source.dlt,
            source.snaplen
        );
    }
    let link_type = format!("{} ({})", capture::dlt_name(source.dlt), source.dlt);
    let link = source.link;
    let threads = cfg.threads.max(1);
    let memcap = Arc::new(memcap::MemCap::new(cfg.memcap));
    let table = FlowTable::new(cfg.prefix_bytes, threads, cfg.max_flows)
        .with_timeouts(cfg.timeouts)
        .with_memcap(Arc::clone(&memcap));
    let lanes: Vec<_> = (0..threads)
        .map(|_| crossbeam_channel::bounded::<Work>(pipeline::WORK_QUEUE))
        .collect();
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded::<Work>(threads * 2 + 2);
    let (event_tx, event_rx) = crossbeam_channel::bounded::<Event>(pipeline::EVENT_QUEUE);
    let (decided_tx, decided_rx) = crossbeam_channel::bounded::<report::FlowRecord>(16 * 1024);
    let live_counters = LiveCounters::default();
    let decode_counters = DecodeCounters::default();
    let done: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
    let style = match cfg.format {
        Format::Json => Style::Json,
        Format::Text => Style::Text {
            per_flow: cfg.per_flow,
            announce: live,
        },
    };
    let shared = WorkerShared {
        table: &table,
        watch: &cfg.watch,
        done: &done,
        announce: live && cfg.format == Format::Text,
    };
    let mut sink = Sink::new(out, style);
    sink.flush_each = live;
    let watching = match cfg.watch.port_list() {
        _ if cfg.watch.is_any() => "any port".to_string(),
        [p] => format!("port {p}"),
        ps => format!(
            "ports {}",
            ps.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let base = Summary {
        source: source_name(cfg),
        link_type,
        watching,
        filter: expr,
        user_filter: cfg.filter.clone(),
        ..Summary::default()
    };
    let stop = &cfg.stop;
    let mut merger = SweepMerger::new(threads);

    let report: Result<CaptureReport, RunError> = thread::scope(|s| {
        let shared = &shared;
        let mut senders = Vec::with_capacity(threads);
        for (i, (tx, rx)) in lanes.into_iter().enumerate() {
            senders.push(tx);
            let recycle = recycle_tx.clone();
            let out = WorkerOut {
                events: event_tx.clone(),
                decided: decided_tx.clone(),
            };
            thread::Builder::new()
                .name(format!("decode-{i}"))
                .spawn_scoped(s, move || pipeline::worker(i, shared, rx, recycle, out))
                .map_err(|e| {
                    RunError::Output(std::io::Error::other(format!(
                        "cannot start a worker thread: {e}"
                    )))
                })?;
        }
        drop(recycle_tx);
        drop(event_tx);
        drop(decided_tx);
        let mut router = Router::new(RouterSetup {
            link,
            watch: &cfg.watch,
            table: &table,
            lanes: senders,
            recycled: recycle_rx,
            done: &done,
            counters: &decode_counters,
            live,
        });
        let (count, counters) = (cfg.count, &live_counters);
        let capture = thread::Builder::new()
            .name("capture".into())
            .spawn_scoped(s, move || source.run(&mut router, count, stop, counters))
            .map_err(|e| {
                RunError::Output(std::io::Error::other(format!(
                    "cannot start the capture thread: {e}"
                )))
            })?;
        // The sink runs here, on the main thread, until every worker has hung up.
        let started = Instant::now();
        let mut next_stats = cfg.stats_interval.map(|d| started + d);
        let tick = Duration::from_millis(if live { 100 } else { 250 });
        let mut io_error = None;
        let watch = &cfg.watch;
        let emit =
            |sink: &mut Sink<'_>, flows: Removed, end: End, io: &mut Option<std::io::Error>| {
                let records: Vec<_> = flows
                    .into_iter()
                    .map(|(k, f)| f.into_record(&k, watch, end))
                    .collect();
                // Sweeps are reported in report order; records are large, so their indices move.
                let mut order: Vec<usize> = (0..records.len()).collect();
                if end == End::Idle {
                    order.sort_by(|&a, &b| flow::table::record_order(&records[a], &records[b]));
                }
                for i in order {
                    if io.is_none() {
                        *io = sink.flow(&records[i]).err();
                    }
                }
            };
        let mut decided_rx = Some(decided_rx);
        loop {
            let never = crossbeam_channel::never();
            crossbeam_channel::select! {
                recv(event_rx) -> ev => match ev {
                    Ok(Event::Swept { seq, flows, last }) => merger.add(seq, flows, last, |flows| {
                        emit(&mut sink, flows, End::Idle, &mut io_error)
                    }),
                    Ok(Event::Evicted(flows)) => emit(&mut sink, flows, End::Evicted, &mut io_error),
                    Err(_) => break,
                },
                recv(decided_rx.as_ref().unwrap_or(&never)) -> rec => match rec {
                    Ok(rec) => io_error = io_error.or(sink.decided(&rec).err()),
                    Err(_) => decided_rx = None,
                },
                default(tick) => {}
            }
            let now = Instant::now();
            if cfg
                .duration
                .is_some_and(|d| now.duration_since(started) >= d)
            {
                stop.store(true, Ordering::Relaxed);
            }
            if let Some(at) = next_stats.filter(|at| now >= *at) {
                next_stats = cfg.stats_interval.map(|d| at + d);
                let snapshot = summarize(
                    &base,
                    &live_counters,
                    &decode_counters,
                    &memcap,
                    &table,
                    &sink,
                    None,
                    false,
                );
                print_interim(&mut sink, &snapshot, cfg.format, &mut io_error);
            }
            if io_error.is_some() {
                // Output is gone (e.g. a closed pipe): stop reading, nobody is listening.
                stop.store(true, Ordering::Relaxed);
            }
        }
        merger.finish(|flows| emit(&mut sink, flows, End::Idle, &mut io_error));
        let report = capture.join().unwrap_or_default();
        match io_error {
            Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(RunError::Output(e)),
            _ => Ok(report),
        }
    });
    let report = report?;
    let mut io_error = None;
    table.drain_each(&cfg.watch, |rec| {
        if io_error.is_none() {
            io_error = sink.flow(&rec).err();
        }
    });
    if let Some(e) = io_error.filter(|e| e.kind() != std::io::ErrorKind::BrokenPipe) {
        return Err(RunError::Output(e));
    }
    let summary = summarize(
        &base,
        &live_counters,
        &decode_counters,
        &memcap,
        &table,
        &sink,
        report.error.as_ref(),
        true,
    );
    sink.finish(&summary).map_err(RunError::Output)?;
    Ok(Outcome {
        summary,
        error: report.error,
    })
}

/// The clock, in microseconds since the Unix epoch (live sweeps).
pub(crate) fn wall_clock_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros().min(i64::MAX as u128) as i64)
}

fn print_interim(
    sink: &mut Sink<'_>,
    s: &Summary,
    format: Format,
    io_error: &mut Option<std::io::Error>,
) {
    match format {
        Format::Json => *io_error = io_error.take().or(sink.interim(s).err()),
        Format::Text => eprintln!("ndbsniff: {}", report::text::stats_line(s)),
    }
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    base: &Summary,
    capture: &LiveCounters,
    workers: &DecodeCounters,
    memcap: &memcap::MemCap,
    table: &FlowTable,
    sink: &Sink<'_>,
    error: Option<&CaptureError>,
    is_final: bool,
) -> Summary {
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let kernel = capture.have_kernel_stats.load(Ordering::Relaxed);
    let mut s = Summary {
        is_final,
        packets_read: get(&capture.packets),
        bytes_read: get(&capture.bytes),
        packets_decoded: get(&workers.decoded),
        packets_watched: get(&workers.watched),
        packets_other_ports: get(&workers.other_ports),
        received_by_kernel: kernel.then(|| get(&capture.kernel_received)),
        dropped_by_kernel: kernel.then(|| get(&capture.kernel_dropped)),
        dropped_by_interface: kernel.then(|| get(&capture.interface_dropped)),
        dropped_by_ndbsniff: get(&capture.dropped_by_ndbsniff),
        flows: sink.flow_count,
        flows_by_verdict: sink.by_verdict.clone(),
        flows_evicted: sink.evicted,
        memcap_hits: memcap.hits(),
        tcp_bad_checksums: table.bad_checksums(),
        anomalies: sink.anomalies.clone(),
        servers: sink.server_count(),
        error: error.map(ToString::to_string),
        ..base.clone()
    };
    for r in SkipReason::ALL {
        let n = get(&workers.skipped[r.index()]);
        if n > 0 {
            s.not_decoded.insert(r.as_str(), n);
            s.packets_not_decoded += n;
        }
    }
    s
}
