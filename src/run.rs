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
use ndbsniff_core::report::{Delta, Summary};
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

/// Opens the capture, applies the filter, and returns the BPF expression text in force.
fn open_source(cfg: &Config) -> Result<(Source, Option<String>), RunError> {
    let mut source = match &cfg.input {
        Input::File(p) => Source::open_file(p, cfg.reader)?,
        Input::Files(args) => Source::open_files(&capture::expand_inputs(args)?, cfg.reader)?,
        Input::Live(opts) => Source::open_live(opts)?,
    };
    // Each file of several, and each link type of a pcapng file, gets the expression for its
    // own link type; the report shows the first one's.
    let plan = capture::FilterPlan {
        ports: (!cfg.watch.is_any()).then(|| cfg.watch.port_list().to_vec()),
        user: cfg.filter.clone(),
    };
    let shown = source.apply_plan(&plan)?;
    if let Some(w) = &cfg.write {
        source.write_to(w)?;
    }
    Ok((source, shown))
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
    let (source, expr) = open_source(cfg)?;
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
    let link_type = source
        .link_types()
        .iter()
        .map(|&d| format!("{} ({d})", capture::dlt_name(d)))
        .collect::<Vec<_>>()
        .join(", ");
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
    let live_counters = LiveCounters::default();
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
        let mut senders = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for (i, ((tx, rx), part)) in lanes.into_iter().zip(table.trackers()).enumerate() {
            senders.push(tx);
            let recycle = recycle_tx.clone();
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
        let mut router = Router::new(RouterSetup {
            link,
            watch: &cfg.watch,
            table: &table,
            lanes: senders,
            recycled: recycle_rx,
            counters: &router_counters,
            live,
            memcap: &memcap,
            frag: cfg.frag,
        });
        let (count, live_counts) = (cfg.count, &live_counters);
        let capture = thread::Builder::new()
            .name("capture".into())
            .spawn_scoped(s, move || source.run(&mut router, count, stop, live_counts))
            .map_err(|error| RunError::Thread {
                thread: "capture".into(),
                error,
            })?;
        // The sink runs here, on the main thread, until every worker has hung up.
        let started = Instant::now();
        let mut next_stats = cfg.stats_interval.map(|d| started + d);
        let tick = Duration::from_millis(if live { 100 } else { 250 });
        let watch = &cfg.watch;
        // Write errors are kept by `checked` (the first one); each caller only stops early.
        let emit = |sink: &mut Sink<'_>, flows: Removed, end: End| {
            let mut records: Vec<_> = flows
                .into_iter()
                .map(|(k, f)| f.into_record(&k, watch, end))
                .collect();
            // Sweeps are reported in report order; records are large, so their indices move.
            let mut order: Vec<usize> = (0..records.len()).collect();
            if end == End::Idle {
                order.sort_by(|&a, &b| flow::record::record_order(&records[a], &records[b]));
            }
            for i in order {
                let _ = sink.flow(&mut records[i]);
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
                    get(&live_counters.packets),
                    get(&live_counters.bytes),
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
        let (report, parts) = join_threads(capture, workers)?;
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

/// Joins the capture thread and the workers (named, e.g. `flow-0`), returning the capture's
/// report and what each worker returned, in order. A panic in any of them is an internal error
/// ([`RunError::Panicked`], the capture's first), never a clean-looking end.
fn join_threads<T, W>(
    capture: thread::ScopedJoinHandle<'_, T>,
    workers: Vec<(String, thread::ScopedJoinHandle<'_, W>)>,
) -> Result<(T, Vec<W>), RunError> {
    let report = capture.join();
    let mut panicked = None;
    let mut returned = Vec::with_capacity(workers.len());
    for (name, worker) in workers {
        match worker.join() {
            Ok(w) => returned.push(w),
            Err(payload) => {
                panicked.get_or_insert_with(|| RunError::panicked(&name, &*payload));
            }
        }
    }
    let report = report.map_err(|payload| RunError::panicked("capture", &*payload))?;
    match panicked {
        Some(e) => Err(e),
        None => Ok((report, returned)),
    }
}

/// Where a run's counters live while it runs, for [`summarize`].
#[derive(Clone, Copy)]
struct Counters<'a> {
    capture: &'a LiveCounters,
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
        // Acquire: a frame counted here has its time published (see `LiveCounters`).
        let read = counters.capture.packets.load(Ordering::Acquire);
        (read > 0).then(|| counters.capture.last_us.load(Ordering::Relaxed))
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
    let kernel = capture.have_kernel_stats.load(Ordering::Relaxed);
    let mut s = Summary {
        is_final,
        interrupted,
        packets_read: get(&capture.packets),
        bytes_read: get(&capture.bytes),
        packets_decoded: get(&router.decoded),
        packets_watched: get(&router.watched),
        packets_other_ports: get(&router.other_ports),
        received_by_kernel: kernel.then(|| get(&capture.kernel_received)),
        dropped_by_kernel: kernel.then(|| get(&capture.kernel_dropped)),
        dropped_by_interface: kernel.then(|| get(&capture.interface_dropped)),
        dropped_by_ndbsniff: get(&capture.dropped_by_ndbsniff),
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
                join_threads(capture, workers)
            })
        };
        assert!(matches!(outcome(false, false), Ok((7, ref w)) if w.len() == 2));
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
