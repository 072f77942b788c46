//! [`run`]: the whole tool, from an opened capture to the printed report. The capture thread
//! reads and routes, the flow workers track and classify, and this thread prints.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;
use std::time::{Duration, Instant};

use ndbsniff_core::decode::SkipReason;
use ndbsniff_core::flow::record::End;
use ndbsniff_core::flow::table::FlowTable;
use ndbsniff_core::flow::tracker::{self, Removed, Tracker};
use ndbsniff_core::report::format::Options;
use ndbsniff_core::report::sink::Sink;
use ndbsniff_core::report::{CaptureThreadSummary, Delta, Summary};
use ndbsniff_core::{escape, flow, frag, memcap};

use crate::capture::{self, CaptureError, CaptureReport, LiveCounters, Source};
use crate::pipeline::{
    self, Event, Notice, Router, RouterCounters, RouterSetup, SweepMerger, Work, WorkerOut,
    WorkerShared,
};
use crate::progress::Progress;
use crate::{note, privilege, sandbox, Config, Input, RunError};

/// How a run ended, for the exit code.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    /// The capture was damaged or unreadable part-way; everything before was reported.
    pub error: Option<CaptureError>,
    /// Writing the `-w` file failed; the capture stopped there, and what was read is reported.
    pub write_error: Option<CaptureError>,
    /// The summary as lines for the operator's standard error, when the format keeps it out of
    /// the output (text); the caller prints it (unless `-q`).
    pub operator_summary: Option<String>,
    /// A file run whose watched ports saw nothing while other ports did: one line saying where
    /// the traffic was (`no packets on port 3406; 26 packets of NDB management traffic on port
    /// 1186: try --port 1186 or --any-port`), for the caller to print after the summary.
    pub off_port_hint: Option<String>,
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

/// Opens the capture (a live one with several capture threads: one source each), applies the
/// filter, and returns the BPF expression text in force.
fn open_source(cfg: &Config) -> Result<(Vec<Source>, Option<String>), RunError> {
    let mut sources = match &cfg.input {
        Input::File(p) => vec![Source::open_file(p, cfg.reader)?],
        Input::Files(args) => vec![Source::open_files(
            &capture::expand_inputs(args)?,
            cfg.reader,
        )?],
        Input::Live(opts) if opts.capture_threads > 1 => {
            // The command line says so first; a library caller hears it here.
            let why = if !capture::fanout::SUPPORTED {
                Some("needs AF_PACKET fanout, which only Linux has")
            } else if cfg.write.is_some() {
                Some("cannot be used with -w")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(RunError::Usage(crate::error::UsageError::CaptureThreads {
                    why,
                }));
            }
            let n = opts.capture_threads.min(capture::fanout::MAX_THREADS);
            Source::open_live_fanout(opts, n)?
        }
        Input::Live(opts) => vec![Source::open_live(opts)?],
    };
    // Each file of several, and each link type of a pcapng file, gets the expression for its
    // own link type; the report shows the first one's.
    let plan = capture::FilterPlan {
        ports: (!cfg.watch.is_any()).then(|| cfg.watch.port_list().to_vec()),
        user: cfg.filter.clone(),
    };
    let mut shown = None;
    for (i, source) in sources.iter_mut().enumerate() {
        let expr = source.apply_plan(&plan)?;
        if i == 0 {
            shown = expr;
        }
    }
    if let (Some(w), [source]) = (&cfg.write, sources.as_mut_slice()) {
        source.write_to(w)?;
    }
    Ok((sources, shown))
}

/// How many of `workers` flow workers each of `captures` capture threads feeds: an equal share,
/// the first ones one more when they do not divide, and at least one each.
fn shares(workers: usize, captures: usize) -> Vec<usize> {
    let captures = captures.max(1);
    let workers = workers.max(captures);
    (0..captures)
        .map(|i| workers / captures + usize::from(i < workers % captures))
        .collect()
}

/// The file or interface, escaped as every printed name is.
fn source_name(cfg: &Config) -> String {
    match &cfg.input {
        Input::File(p) if p.as_os_str() == "-" => capture::STDIN_NAME.to_string(),
        Input::File(p) => escape::escape_path(p),
        Input::Files(args) => {
            let names: Vec<String> = args
                .iter()
                .map(|p| {
                    if p.as_os_str() == "-" {
                        capture::STDIN_NAME.to_string()
                    } else {
                        escape::escape_path(p)
                    }
                })
                .collect();
            names.join(", ")
        }
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
/// Returns `Err` when the input cannot be read at all (nothing was written), the report could
/// not be written, or a thread of the run panicked (`RunError::Panicked`: a bug; what was
/// written before is incomplete and no summary follows); `Ok` with `Outcome::error` set when it
/// was damaged part-way (everything decoded before is reported), or `Outcome::write_error` when
/// the `-w` file failed. A reader of the output that goes away (broken pipe) stops the run
/// quietly: `Ok`, nothing more written.
pub fn run(cfg: &Config, out: &mut dyn Write) -> Result<Outcome, RunError> {
    let (sources, expr) = open_source(cfg)?;
    let source = &sources[0];
    let live = source.is_live();
    // Before the sandbox: the progress line looks at the file's size and first bytes.
    let progress = match &cfg.input {
        Input::File(path) if cfg.progress => Progress::for_file(path),
        Input::Files(_) if cfg.progress => Progress::for_files(),
        _ => None,
    };
    // Everything the run opens is open now: give up privileges, then confine what is left.
    if cfg.drop_privileges {
        give_up_privileges(cfg.user.as_deref())?;
    }
    if cfg.sandbox {
        let needs = sandbox::Needs {
            live_fds: sources.iter().filter_map(Source::live_fd).collect(),
            open_read_only: matches!(&cfg.input, Input::Live(o) if o.promiscuous),
        };
        match sandbox::install(needs).map_err(RunError::Sandbox)? {
            sandbox::Installed::Yes => {}
            sandbox::Installed::Unsupported(why) => note(format_args!("{why}")),
        }
    }
    let captures = sources.len();
    if live {
        let threads_note = if captures > 1 {
            format!(", {captures} capture threads (AF_PACKET fanout by flow hash)")
        } else {
            String::new()
        };
        note(format_args!(
            "listening on {}, link-type {} ({}), snapshot length {} bytes{threads_note}",
            source.name,
            capture::dlt_name(source.dlt),
            source.dlt,
            source.snaplen
        ));
    }
    let link_type = source
        .link_types()
        .iter()
        .map(|&d| format!("{} ({d})", capture::dlt_name(d)))
        .collect::<Vec<_>>()
        .join(", ");
    let link = source.link;
    // Each capture thread feeds its own flow workers: a contiguous range of the table's parts.
    let shares = shares(cfg.threads, captures);
    let threads: usize = shares.iter().sum();
    let owner: Vec<usize> = shares
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
        .collect();
    let memcap = Arc::new(memcap::MemCap::new(cfg.memcap));
    let table = FlowTable::new(cfg.prefix_bytes, threads, cfg.max_flows)
        .with_timeouts(cfg.timeouts)
        .with_memcap(Arc::clone(&memcap));
    let lanes: Vec<_> = (0..threads)
        .map(|_| crossbeam_channel::bounded::<Work>(pipeline::WORK_QUEUE))
        .collect();
    // Batches go back to the router that filled them.
    let (recycle_tx, recycle_rx): (Vec<_>, Vec<_>) = shares
        .iter()
        .map(|&n| crossbeam_channel::bounded::<Work>(n * 2 + 2))
        .unzip();
    let (event_tx, event_rx) = crossbeam_channel::bounded::<Event>(pipeline::EVENT_QUEUE);
    let live_counters: Vec<LiveCounters> = (0..captures).map(|_| LiveCounters::default()).collect();
    let router_counters = RouterCounters::default();
    let counters = Counters {
        capture: &live_counters,
        router: &router_counters,
        table: &table,
    };
    let out_failed = std::cell::OnceCell::new();
    let mut checked = Checked {
        out,
        failed: &out_failed,
    };
    let options = Options {
        per_flow: cfg.per_flow,
        live,
        max_servers: cfg.max_servers,
        audit: cfg.audit,
        width: cfg.width,
    };
    let mut sink = Sink::new(&mut checked, cfg.format, options);
    let shared = WorkerShared {
        watch: &cfg.watch,
        announce: sink.wants_decided(),
        announce_ndb: live,
    };
    // Verdicts and NDB commands announced while flows run. A bounded channel allocates all its
    // slots at once (a record each): 16 Ki of them only for runs that announce anything.
    let notices = if shared.announce || shared.announce_ndb {
        16 * 1024
    } else {
        1
    };
    let (decided_tx, decided_rx) = crossbeam_channel::bounded::<Notice>(notices);
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
    // The counts of the last statistics line written, for the next one's `delta`.
    let mut previous = Delta::default();

    let report: Result<(CaptureReport, Vec<Tracker>, bool), RunError> = thread::scope(|s| {
        let shared = &shared;
        let mut senders: Vec<Vec<_>> = shares.iter().map(|&n| Vec::with_capacity(n)).collect();
        let mut workers = Vec::with_capacity(threads);
        for (i, ((tx, rx), part)) in lanes.into_iter().zip(table.trackers()).enumerate() {
            senders[owner[i]].push(tx);
            let recycle = recycle_tx[owner[i]].clone();
            let out = WorkerOut {
                events: event_tx.clone(),
                decided: decided_tx.clone(),
            };
            let name = format!("flow-{i}");
            let worker = thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(s, move || pipeline::worker(part, shared, rx, recycle, out))
                .map_err(|error| RunError::Thread {
                    thread: name.clone(),
                    error,
                })?;
            workers.push((name, worker));
        }
        drop(recycle_tx);
        drop(event_tx);
        drop(decided_tx);
        let clock_start = Instant::now();
        let mut captures = Vec::with_capacity(sources.len());
        let routes = senders.into_iter().zip(recycle_rx).zip(&live_counters);
        for (c, (source, ((lanes, recycled), live_counts))) in
            sources.into_iter().zip(routes).enumerate()
        {
            let mut router = Router::new(RouterSetup {
                link,
                watch: &cfg.watch,
                table: &table,
                lanes,
                recycled,
                counters: &router_counters,
                live,
                memcap: &memcap,
                frag: cfg.frag,
                clock_start,
            });
            let count = cfg.count;
            let name = if shares.len() > 1 {
                format!("capture-{c}")
            } else {
                "capture".to_string()
            };
            let capture = thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(s, move || source.run(&mut router, count, stop, live_counts))
                .map_err(|error| RunError::Thread {
                    thread: name.clone(),
                    error,
                })?;
            captures.push((name, capture));
        }
        // The sink runs here, on the main thread, until every worker has hung up.
        let started = Instant::now();
        let mut next_stats = cfg.stats_interval.map(|d| started + d);
        let tick = Duration::from_millis(if live { 100 } else { 250 });
        let watch = &cfg.watch;
        // Write errors are kept by `checked` (the first one); each caller only stops early.
        let emit = |sink: &mut Sink<'_>, mut flows: Removed, end: End| {
            // Sweeps are reported in report order: the flows are put in it first, on keys
            // worked out from them, then each record is built and written in turn (a sweep's
            // records are never all held at once).
            if end == End::Idle {
                let keys = flows.iter().map(|(k, f)| f.report_key(k, watch)).collect();
                flow::record::sort_by_keys(&mut flows, keys);
            }
            for (k, f) in flows {
                let _ = sink.flow(&mut f.into_record(&k, watch, end));
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
                    Ok(Notice::Decided(rec)) => drop(sink.decided(&rec)),
                    Ok(Notice::Ndb(n)) => drop(sink.ndb_commands(n.client, n.server, &n.commands)),
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
                let mut snapshot = summarize(&base, &counters, &sink, None, interrupted, false);
                stamp(&mut snapshot, &counters, &mut previous, live);
                if let Ok(Some(line)) = sink.interim(&snapshot) {
                    match &progress {
                        Some(p) => p.suspend(|| note(format_args!("{line}"))),
                        None => note(format_args!("{line}")),
                    }
                }
            }
            if let Some(p) = &progress {
                let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
                p.update(
                    get(&live_counters[0].packets),
                    get(&live_counters[0].bytes),
                    sink.flow_count,
                );
            }
            if out_failed.get().is_some() {
                // Output is gone (e.g. a closed pipe): stop reading, nobody is listening.
                stop_here(&mut stopped_here);
            }
        }
        merger.finish(|flows| emit(&mut sink, flows, End::Idle));
        // Every thread has ended (the workers hung up, the capture fed them); each worker gives
        // back its part of the table with what it still holds.
        let (reports, parts) = join_threads(captures, workers)?;
        // Several capture threads: the first's report, with the first error any of them met.
        let mut reports = reports.into_iter();
        let mut report = reports.next().unwrap_or_default();
        for other in reports {
            report.error = report.error.or(other.error);
        }
        // A stop that came after the capture thread had finished cut nothing short.
        let interrupted = stop.load(Ordering::SeqCst) && !stopped_here;
        Ok((report, parts, interrupted))
    });
    if let Some(p) = &progress {
        p.clear();
    }
    let (report, parts, interrupted) = report?;
    if out_failed.get().is_none() {
        tracker::drain_each(parts, &cfg.watch, |mut rec| drop(sink.flow(&mut rec)));
    }
    let mut summary = summarize(
        &base,
        &counters,
        &sink,
        report.error.as_ref(),
        interrupted,
        true,
    );
    summary.files = report.files.clone();
    if !report.link_types.is_empty() {
        // A pcapng file: every link type its interfaces had.
        summary.link_type = report
            .link_types
            .iter()
            .map(|&d| format!("{} ({d})", capture::dlt_name(d)))
            .collect::<Vec<_>>()
            .join(", ");
    }
    stamp(&mut summary, &counters, &mut previous, live);
    let operator_summary = if out_failed.get().is_none() {
        sink.finish(&summary).ok().flatten()
    } else {
        None
    };
    drop(sink);
    let off_port_hint = if live
        || cfg.watch.is_any()
        || cfg.filter.is_some()
        || summary.packets_watched > 0
        || interrupted
    {
        None
    } else {
        let off = router_counters.off_port.lock();
        off.ok().and_then(|off| off.hint(&summary.watching))
    };
    match out_failed.into_inner() {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(RunError::Output(e)),
        _ => Ok(Outcome {
            summary,
            error: report.error,
            write_error: report.write_error,
            operator_summary,
            off_port_hint,
        }),
    }
}

/// A thread of the run, by name (`capture`, `capture-1`, `flow-0`).
type Named<'s, T> = (String, thread::ScopedJoinHandle<'s, T>);

/// Joins the capture threads and the workers, returning each capture's report and what each
/// worker returned, in order. A panic in any of them is an internal error
/// ([`RunError::Panicked`], a capture thread's first), never a clean-looking end.
fn join_threads<T, W>(
    captures: Vec<Named<'_, T>>,
    workers: Vec<Named<'_, W>>,
) -> Result<(Vec<T>, Vec<W>), RunError> {
    /// Joins one thread; a panic is kept in `panicked` (the first one).
    fn join<V>(panicked: &mut Option<RunError>, (name, h): Named<'_, V>) -> Option<V> {
        h.join()
            .map_err(|payload| {
                panicked.get_or_insert_with(|| RunError::panicked(&name, &*payload));
            })
            .ok()
    }
    let mut panicked = None;
    let reports: Vec<T> = captures
        .into_iter()
        .filter_map(|t| join(&mut panicked, t))
        .collect();
    let returned: Vec<W> = workers
        .into_iter()
        .filter_map(|t| join(&mut panicked, t))
        .collect();
    match panicked {
        Some(e) => Err(e),
        None => Ok((reports, returned)),
    }
}

/// Where a run's counters live while it runs, for [`summarize`].
#[derive(Clone, Copy)]
struct Counters<'a> {
    /// One per capture thread.
    capture: &'a [LiveCounters],
    router: &'a RouterCounters,
    /// The flow table, with the reassembly memcap and checksum counts.
    table: &'a FlowTable,
}

/// Gives a statistics line its `timestamp` and its `delta` since `previous` (the counts of the
/// line before, or zero), then makes its counts the next line's `previous`.
///
/// The timestamp is the capture time of the last packet read, so that a file gives the same
/// lines in every run (none before the first packet); a live capture's is the time now.
fn stamp(summary: &mut Summary, counters: &Counters<'_>, previous: &mut Delta, live: bool) {
    summary.timestamp = if live {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
        now.ok()
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    } else {
        // Acquire: a frame counted here has its time published (see `LiveCounters`). A file
        // is read by one capture thread.
        let c = &counters.capture[0];
        let read = c.packets.load(Ordering::Acquire);
        (read > 0).then(|| c.last_us.load(Ordering::Relaxed))
    };
    let counts = summary.counts(live);
    summary.delta = Some(counts.since(previous));
    *previous = counts;
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
        router,
        table,
    } = *counters;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let sum = |f: fn(&LiveCounters) -> &AtomicU64| capture.iter().map(|c| get(f(c))).sum::<u64>();
    let kernel = capture
        .iter()
        .any(|c| c.have_kernel_stats.load(Ordering::Relaxed));
    let per_thread: Vec<CaptureThreadSummary> = if capture.len() > 1 {
        capture
            .iter()
            .map(|c| {
                let kernel = c.have_kernel_stats.load(Ordering::Relaxed);
                CaptureThreadSummary {
                    packets_read: get(&c.packets),
                    received_by_kernel: kernel.then(|| get(&c.kernel_received)),
                    dropped_by_kernel: kernel.then(|| get(&c.kernel_dropped)),
                    dropped_by_interface: kernel.then(|| get(&c.interface_dropped)),
                    dropped_by_ndbsniff: get(&c.dropped_by_ndbsniff),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    // The interface's own drops: every socket reports the same count, so not a sum.
    let interface_dropped = capture
        .iter()
        .map(|c| get(&c.interface_dropped))
        .max()
        .unwrap_or(0);
    let mut s = Summary {
        is_final,
        interrupted,
        packets_read: sum(|c| &c.packets),
        bytes_read: sum(|c| &c.bytes),
        packets_decoded: get(&router.decoded),
        packets_watched: get(&router.watched),
        packets_other_ports: get(&router.other_ports),
        received_by_kernel: kernel.then(|| sum(|c| &c.kernel_received)),
        dropped_by_kernel: kernel.then(|| sum(|c| &c.kernel_dropped)),
        dropped_by_interface: kernel.then_some(interface_dropped),
        dropped_by_ndbsniff: sum(|c| &c.dropped_by_ndbsniff),
        capture_threads: per_thread,
        flows: sink.flow_count,
        flows_by_verdict: sink.by_verdict.clone(),
        unknown_by_hint: sink.by_hint.clone(),
        flows_evicted: sink.evicted,
        memcap_hits: table.memcap().hits(),
        tcp_bad_checksums: table.bad_checksums(),
        anomalies: sink.anomalies.clone(),
        ndb_risks: sink.ndb_risks.clone(),
        servers: sink.server_count(),
        servers_estimated: sink.servers_estimated(),
        error: error.map(ToString::to_string),
        ..base.clone()
    };
    for r in SkipReason::ALL {
        let n = get(&router.skipped[r.index()]);
        if n > 0 {
            s.not_decoded.insert(r.as_str(), n);
            s.packets_not_decoded += n;
        }
    }
    s.fragments_seen = get(&router.fragments);
    s.datagrams_reassembled = get(&router.reassembled);
    for r in frag::Drop::ALL {
        let n = get(&router.fragments_dropped[r as usize]);
        if n > 0 {
            s.fragment_drops.insert(r.as_str(), n);
            s.fragments_dropped += n;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Exit, EXIT_FAILED};

    fn thread_named(name: &str) -> thread::Builder {
        thread::Builder::new().name(name.into())
    }

    #[test]
    fn flow_workers_are_shared_out_among_capture_threads() {
        assert_eq!(shares(4, 1), [4]);
        assert_eq!(shares(4, 2), [2, 2]);
        assert_eq!(shares(5, 2), [3, 2]);
        // Each capture thread gets at least one.
        assert_eq!(shares(1, 3), [1, 1, 1]);
        assert_eq!(shares(0, 1), [1]);
    }

    #[test]
    fn a_panicked_capture_or_worker_thread_is_an_internal_error() {
        let outcome = |capture_panics: bool, worker_panics: bool| {
            thread::scope(|s| {
                let capture = thread_named("capture")
                    .spawn_scoped(s, move || {
                        if capture_panics {
                            panic!("capture went wrong");
                        }
                        7
                    })
                    .expect("spawn");
                let workers = (0..2)
                    .map(|i| {
                        let name = format!("flow-{i}");
                        let worker = thread_named(&name)
                            .spawn_scoped(s, move || {
                                if worker_panics && i == 1 {
                                    panic!("worker went wrong");
                                }
                            })
                            .expect("spawn");
                        (name, worker)
                    })
                    .collect();
                join_threads(vec![("capture".to_string(), capture)], workers)
            })
        };
        assert!(matches!(outcome(false, false), Ok((ref c, ref w)) if c == &[7] && w.len() == 2));
        let e = outcome(false, true).expect_err("a worker panicked");
        assert!(matches!(&e, RunError::Panicked { thread, .. } if thread == "flow-1"));
        let exit = Exit::error(&e);
        assert_eq!(exit.code, EXIT_FAILED);
        assert_eq!(
            exit.messages,
            vec![
                "internal error: the flow-1 thread panicked (worker went wrong); the report is incomplete"
                    .to_string()
            ]
        );
        // Both: the capture thread is named.
        let e = outcome(true, true).expect_err("both panicked");
        assert!(e
            .to_string()
            .starts_with("internal error: the capture thread panicked (capture went wrong)"));
    }
}
