//! ndbsniff: a passive classifier for TCP/UDP flows, built to answer "what is talking on port 3406?".
//!
//! The data path runs one way: a capture thread reads frames with libpcap or from file blocks
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
pub mod dump;
pub mod escape;
pub mod filter;
pub mod flow;
pub mod frag;
pub mod memcap;
pub mod pcapfile;
pub mod pipeline;
pub mod privilege;
pub mod report;
pub mod sandbox;
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
    /// Account to switch to, when running as root, once the capture and the `-w` file are open
    /// (else SUDO_UID, else nobody).
    pub user: Option<String>,
    /// Give up root (to `user`, else SUDO_UID, else nobody) and every capability once the
    /// capture and the `-w` file are open. The process is the caller's: off in
    /// [`Config::new`], on in the `ndbsniff` binary.
    pub drop_privileges: bool,
    /// Confine the rest of the process with a system-call filter once its files are open
    /// ([`sandbox`]); it cannot be lifted, so off in [`Config::new`] (a library caller's process
    /// goes on after the run), on in the binary unless `--no-sandbox`.
    pub sandbox: bool,
    /// Print statistics this often while running.
    pub stats_interval: Option<Duration>,
    pub timeouts: Timeouts,
    /// Flows tracked at once; beyond it the least recently seen are evicted and reported.
    pub max_flows: usize,
    /// Cap on payload bytes buffered at once for reassembly (TCP streams and IP fragments).
    pub memcap: usize,
    /// Rows of the text server table; the most interesting servers are kept (ndb-mgm first,
    /// then by flows) and a line says how many more were seen.
    pub max_servers: usize,
    /// Bounds of IP fragment reassembly (timeout, datagrams in progress, fragments each).
    pub frag: frag::Limits,
    /// How offline files are read (shared blocks for classic pcap, or always libpcap).
    pub reader: capture::Reader,
    /// Set by a signal handler (or anything else) to end the capture early, cleanly; the summary
    /// then says the run was interrupted.
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
            drop_privileges: false,
            sandbox: false,
            stats_interval: None,
            timeouts: Timeouts::default(),
            max_flows: flow::table::DEFAULT_MAX_FLOWS,
            memcap: memcap::DEFAULT_MEMCAP,
            max_servers: report::servers::DEFAULT_MAX_SERVERS,
            frag: frag::Limits::default(),
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

/// Why a run could not start (nothing was read) or had to stop.
#[derive(Debug)]
pub enum RunError {
    /// The input could not be opened or read at all.
    Capture(CaptureError),
    /// The `-w` file could not be created (nothing was read).
    Write(CaptureError),
    Privilege(privilege::PrivilegeError),
    Sandbox(sandbox::SandboxError),
    /// A thread could not be started (nothing was read).
    Thread(std::io::Error),
    /// Writing the report failed (not a broken pipe: a reader that went away ends the run
    /// quietly, with the outcome of what was read).
    Output(std::io::Error),
}

impl RunError {
    /// The exit status agreed for it: 3 when output could not be written, else 2 (nothing
    /// could be read).
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Output(_) | RunError::Write(_) => 3,
            RunError::Capture(_)
            | RunError::Privilege(_)
            | RunError::Sandbox(_)
            | RunError::Thread(_) => 2,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Capture(e) | RunError::Write(e) => e.fmt(f),
            RunError::Privilege(e) => {
                write!(f, "cannot drop privileges, not going on as root: {e}")
            }
            RunError::Sandbox(e) => write!(f, "{e} (--no-sandbox runs without it)"),
            RunError::Thread(e) => write!(f, "cannot start a thread: {}", capture::io_message(e)),
            RunError::Output(e) => write!(
                f,
                "cannot write to standard output: {}",
                capture::io_message(e)
            ),
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
    /// Writing the `-w` file failed; the capture stopped there, and what was read is reported.
    pub write_error: Option<CaptureError>,
}

/// The one path to the report's output: every write of the run goes through it. The first
/// failure is kept, and nothing more is written after it (so a closed pipe is seen once, and
/// the run can stop reading).
struct Checked<'a> {
    out: &'a mut dyn Write,
    failed: &'a std::cell::OnceCell<std::io::Error>,
}

impl Write for Checked<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failed.get().is_some() {
            return Err(std::io::Error::other("output failed earlier"));
        }
        self.out.write(buf).inspect_err(|e| self.fail(e))
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.failed.get().is_some() {
            return Err(std::io::Error::other("output failed earlier"));
        }
        self.out.write_all(buf).inspect_err(|e| self.fail(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.get().is_some() {
            return Err(std::io::Error::other("output failed earlier"));
        }
        self.out.flush().inspect_err(|e| self.fail(e))
    }
}

impl Checked<'_> {
    fn fail(&self, e: &std::io::Error) {
        let kept = match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), e.to_string()),
        };
        let _ = self.failed.set(kept);
    }
}

/// Opens the capture, applies the filter, and returns the BPF expression text in force.
fn open_source(cfg: &Config) -> Result<(Source, Option<String>), RunError> {
    let mut source = match &cfg.input {
        Input::File(p) => Source::open_file(p, cfg.reader)?,
        Input::Live(opts) => Source::open_live(opts)?,
    };
    if let Some(user) = cfg.filter.as_deref() {
        // Checked alone first, so a mistake is reported in the user's own words.
        source.set_filter(user)?;
    }
    let ports = (!cfg.watch.is_any()).then(|| cfg.watch.port_list());
    let tags = filter::Tags::for_link(source.link);
    let mut expr = filter::build(ports, cfg.filter.as_deref(), tags);
    if let Some(e) = &expr {
        if source.set_filter(e).is_err() {
            // A libpcap that rejects `vlan` here: the capture thread checks ports anyway.
            let plain = filter::build(ports, cfg.filter.as_deref(), filter::Tags::None);
            if let Some(plain) = &plain {
                source.set_filter(plain)?;
            }
            expr = plain;
        }
    }
    if let Some(w) = &cfg.write {
        source.write_to(w).map_err(RunError::Write)?;
    }
    Ok((source, expr))
}

/// The file or interface, escaped as every printed name is.
fn source_name(cfg: &Config) -> String {
    match &cfg.input {
        Input::File(p) => escape::escape_path(p),
        Input::Live(o) => escape::escape_name(&o.interface),
    }
}

/// Switches to `-Z USER`, else the sudo caller, else nobody when running as root; without root
/// there is nothing to switch to, only capabilities to give up ([`privilege::drop_to`]).
fn give_up_privileges(user: Option<&str>) -> Result<(), RunError> {
    let target = privilege::choose(
        user,
        std::env::var("SUDO_UID").ok().as_deref(),
        std::env::var("SUDO_GID").ok().as_deref(),
    );
    let target = match target {
        Ok(t) => Some(t),
        Err(e) if nix::unistd::geteuid().is_root() => return Err(RunError::Privilege(e)),
        Err(_) => None,
    };
    privilege::drop_to(target.as_ref()).map_err(RunError::Privilege)?;
    Ok(())
}

/// Reads the capture, classifies every watched flow and writes the report to `out`.
///
/// Returns `Err` when the input cannot be read at all (nothing was written) or the report could
/// not be written; `Ok` with `Outcome::error` set when it was damaged part-way (everything
/// decoded before is reported), or `Outcome::write_error` when the `-w` file failed. A reader of
/// the output that goes away (broken pipe) stops the run quietly: `Ok`, nothing more written.
pub fn run(cfg: &Config, out: &mut dyn Write) -> Result<Outcome, RunError> {
    let (source, expr) = open_source(cfg)?;
    let live = source.is_live();
    // Everything the run opens is open now: give up privileges, then confine what is left.
    if cfg.drop_privileges {
        give_up_privileges(cfg.user.as_deref())?;
    }
    if cfg.sandbox {
        let needs = sandbox::Needs {
            live_fd: source.live_fd(),
            open_read_only: matches!(&cfg.input, Input::Live(o) if o.promiscuous),
        };
        match sandbox::install(needs).map_err(RunError::Sandbox)? {
            sandbox::Installed::Yes => {}
            sandbox::Installed::Unsupported(why) => note(format_args!("{why}")),
        }
    }
    if live {
        note(format_args!(
            "listening on {}, link-type {} ({}), snapshot length {} bytes",
            source.name,
            capture::dlt_name(source.dlt),
            source.dlt,
            source.snaplen
        ));
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
    let counters = Counters {
        capture: &live_counters,
        decode: &decode_counters,
        table: &table,
    };
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
        announce: live && cfg.format == Format::Text,
    };
    let out_failed = std::cell::OnceCell::new();
    let mut checked = Checked {
        out,
        failed: &out_failed,
    };
    let mut sink = Sink::new(&mut checked, style).with_max_servers(cfg.max_servers);
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
    // Whether this function set `stop` itself (--duration, output gone): any other stop came
    // from outside (a signal) and the run counts as interrupted.
    let mut stopped_here = false;
    let stop_here = |stopped_here: &mut bool| {
        if !stop.swap(true, Ordering::SeqCst) {
            *stopped_here = true;
        }
    };
    let mut merger = SweepMerger::new(threads);

    let report: Result<(CaptureReport, bool), RunError> = thread::scope(|s| {
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
                .map_err(RunError::Thread)?;
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
            counters: &decode_counters,
            live,
            memcap: &memcap,
            frag: cfg.frag,
        });
        let (count, live_counts) = (cfg.count, &live_counters);
        let capture = thread::Builder::new()
            .name("capture".into())
            .spawn_scoped(s, move || source.run(&mut router, count, stop, live_counts))
            .map_err(RunError::Thread)?;
        // The sink runs here, on the main thread, until every worker has hung up.
        let started = Instant::now();
        let mut next_stats = cfg.stats_interval.map(|d| started + d);
        let tick = Duration::from_millis(if live { 100 } else { 250 });
        let watch = &cfg.watch;
        // Write errors are kept by `checked` (the first one); each caller only stops early.
        let emit = |sink: &mut Sink<'_>, flows: Removed, end: End| {
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
                let _ = sink.flow(&records[i]);
            }
        };
        let mut decided_rx = Some(decided_rx);
        loop {
            let never = crossbeam_channel::never();
            crossbeam_channel::select! {
                recv(event_rx) -> ev => match ev {
                    Ok(Event::Swept { worker, sweeps, upto }) => {
                        merger.add(worker, sweeps, upto, |flows| emit(&mut sink, flows, End::Idle))
                    }
                    Ok(Event::Evicted(flows)) => emit(&mut sink, flows, End::Evicted),
                    Err(_) => break,
                },
                recv(decided_rx.as_ref().unwrap_or(&never)) -> rec => match rec {
                    Ok(rec) => drop(sink.decided(&rec)),
                    Err(_) => decided_rx = None,
                },
                default(tick) => {}
            }
            let now = Instant::now();
            if cfg
                .duration
                .is_some_and(|d| now.duration_since(started) >= d)
            {
                stop_here(&mut stopped_here);
            }
            if let Some(at) = next_stats.filter(|at| now >= *at) {
                next_stats = cfg.stats_interval.map(|d| at + d);
                let interrupted = stop.load(Ordering::SeqCst) && !stopped_here;
                let snapshot = summarize(&base, &counters, &sink, None, interrupted, false);
                print_interim(&mut sink, &snapshot, cfg.format);
            }
            if out_failed.get().is_some() {
                // Output is gone (e.g. a closed pipe): stop reading, nobody is listening.
                stop_here(&mut stopped_here);
            }
        }
        merger.finish(|flows| emit(&mut sink, flows, End::Idle));
        let report = capture.join().unwrap_or_default();
        // A stop that came after the capture thread had finished cut nothing short.
        let interrupted = stop.load(Ordering::SeqCst) && !stopped_here;
        Ok((report, interrupted))
    });
    let (report, interrupted) = report?;
    if out_failed.get().is_none() {
        table.drain_each(&cfg.watch, |rec| drop(sink.flow(&rec)));
    }
    let summary = summarize(
        &base,
        &counters,
        &sink,
        report.error.as_ref(),
        interrupted,
        true,
    );
    if out_failed.get().is_none() {
        let _ = sink.finish(&summary);
    }
    drop(sink);
    match out_failed.into_inner() {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(RunError::Output(e)),
        _ => Ok(Outcome {
            summary,
            error: report.error,
            write_error: report.write_error,
        }),
    }
}

/// Prints one line on stderr, `ndbsniff: ` first. A failure to write it is ignored: stderr is
/// where failures would be reported, and the exit status still tells.
pub fn note(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "ndbsniff: {args}");
}

/// The clock, in microseconds since the Unix epoch (live sweeps).
pub(crate) fn wall_clock_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros().min(i64::MAX as u128) as i64)
}

fn print_interim(sink: &mut Sink<'_>, s: &Summary, format: Format) {
    match format {
        Format::Json => drop(sink.interim(s)),
        Format::Text => note(format_args!("{}", report::text::stats_line(s))),
    }
}

#[allow(clippy::too_many_arguments)]
/// Where a run's counters live while it runs, for [`summarize`].
#[derive(Clone, Copy)]
struct Counters<'a> {
    capture: &'a LiveCounters,
    decode: &'a DecodeCounters,
    /// The flow table, with the reassembly memcap and checksum counts.
    table: &'a FlowTable,
}

fn summarize(
    base: &Summary,
    counters: &Counters<'_>,
    sink: &Sink<'_>,
    error: Option<&CaptureError>,
    interrupted: bool,
    is_final: bool,
) -> Summary {
    let Counters {
        capture,
        decode: workers,
        table,
    } = *counters;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let kernel = capture.have_kernel_stats.load(Ordering::Relaxed);
    let mut s = Summary {
        is_final,
        interrupted,
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
        memcap_hits: table.memcap().hits(),
        tcp_bad_checksums: table.bad_checksums(),
        anomalies: sink.anomalies.clone(),
        servers: sink.server_count(),
        servers_estimated: sink.servers_estimated(),
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
    s.fragments_seen = get(&workers.fragments);
    s.datagrams_reassembled = get(&workers.reassembled);
    for r in frag::Drop::ALL {
        let n = get(&workers.fragments_dropped[r as usize]);
        if n > 0 {
            s.fragment_drops.insert(r.as_str(), n);
            s.fragments_dropped += n;
        }
    }
    s
}
