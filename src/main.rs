//! The `ndbsniff` binary: parse flags, install the stop-signal handler, run, and end as
//! [`ndbsniff::error::Exit`] says (130 when a second signal ends the run at once).

mod cli;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ndbsniff::capture::LiveOptions;
use ndbsniff::error::{self, Exit, RunError, UsageError, EXIT_INTERRUPTED};
use ndbsniff::{note, Config, Input, Watch};
use ndbsniff_core::escape::escape_name;
use ndbsniff_core::flow::table::Timeouts;

fn seconds(flag: &'static str, value: f64) -> Result<Duration, UsageError> {
    Duration::try_from_secs_f64(value).map_err(|_| UsageError::Seconds { flag, value })
}

fn us(flag: &'static str, v: f64) -> Result<i64, UsageError> {
    seconds(flag, v).map(|d| d.as_micros().min(i64::MAX as u128) as i64)
}

/// A timeout: more than zero seconds (a flow or a datagram would be dropped the moment it began).
fn timeout_us(flag: &'static str, v: f64) -> Result<i64, UsageError> {
    match us(flag, v)? {
        0 => Err(UsageError::ZeroTimeout { flag }),
        t => Ok(t),
    }
}

fn config(cli: cli::Cli, stop: Arc<AtomicBool>) -> Result<Config, UsageError> {
    let filter = match (cli.filter, cli.expression.is_empty()) {
        (Some(f), true) => Some(f),
        (None, false) => Some(cli.expression.join(" ")),
        (None, true) => None,
        (Some(f), false) => Some(format!("({f}) and ({})", cli.expression.join(" "))),
    };
    let watch = if cli.any_port {
        Watch::any()
    } else if cli.ports.is_empty() {
        Watch::ports(&[ndbsniff::DEFAULT_PORT])
    } else {
        Watch::ports(&cli.ports)
    };
    let input = match (cli.read.as_slice(), cli.interface) {
        ([path], None) if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) => {
            Input::File(path.clone())
        }
        ([], Some(interface)) => Input::Live(LiveOptions {
            interface,
            promiscuous: !cli.no_promiscuous,
            snaplen: cli.snaplen,
            buffer_bytes: cli.buffer_kib.map(|k| k.saturating_mul(1024)),
            capture_threads: cli.capture_threads,
        }),
        ([_, ..], None) => Input::Files(cli.read.clone()),
        _ => return Err(UsageError::NoSource),
    };
    if cli.capture_threads > 1 {
        let why = match &input {
            Input::Live(_) if !ndbsniff::capture::fanout::SUPPORTED => Some(
                "needs AF_PACKET fanout, which only Linux has; this build is for another system",
            ),
            Input::Live(_) if cli.write.is_some() => Some(
                "cannot be used with -w: each capture thread reads its own share of the packets, \
                 and one pcap file is written from one",
            ),
            Input::Live(_) => None,
            _ => Some("applies to live capture (-i) only; a capture file is read by one thread"),
        };
        if let Some(why) = why {
            return Err(UsageError::CaptureThreads { why });
        }
    }
    let ((tcp_idle, udp_idle), idle_flag) = match cli.idle_timeout {
        Some(both) => ((both, both), ("--idle-timeout", "--idle-timeout")),
        None => (
            (cli.tcp_idle_timeout, cli.udp_idle_timeout),
            ("--tcp-idle-timeout", "--udp-idle-timeout"),
        ),
    };
    Ok(Config {
        input,
        watch,
        filter,
        progress: !cli.quiet,
        width: terminal_width(),
        count: cli.count,
        duration: cli.duration.map(|d| seconds("--duration", d)).transpose()?,
        threads: cli
            .threads
            .map_or_else(ndbsniff::default_threads, usize::from),
        prefix_bytes: cli.inspect_bytes as usize,
        format: cli.format,
        per_flow: cli.flows,
        audit: cli.audit,
        write: cli.write,
        user: cli.user,
        stats_interval: cli
            .stats_interval
            .map(|d| seconds("--stats-interval", d))
            .transpose()?
            .filter(|d| !d.is_zero()),
        timeouts: Timeouts {
            tcp_idle_us: timeout_us(idle_flag.0, tcp_idle)?,
            udp_idle_us: timeout_us(idle_flag.1, udp_idle)?,
            ..Timeouts::default()
        },
        max_flows: cli.max_flows,
        memcap: cli.memcap,
        max_servers: cli.max_servers,
        drop_privileges: true,
        sandbox: !cli.no_sandbox,
        frag: ndbsniff_core::frag::Limits {
            timeout_us: timeout_us("--frag-timeout", cli.frag_timeout)?,
            max_datagrams: cli.frag_max_datagrams,
            max_fragments: cli.frag_max_fragments,
        },
        reader: match cli.reader {
            cli::ReaderArg::Auto => ndbsniff::capture::Reader::Auto,
            cli::ReaderArg::Libpcap => ndbsniff::capture::Reader::Libpcap,
        },
        stop,
    })
}

/// The width of the terminal standard output is, when it is one: text rows are cut to it.
fn terminal_width() -> Option<usize> {
    if !io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// `-D`: one interface per line, numbered, with description and flags, as tcpdump prints them.
fn list_interfaces() -> Result<(), RunError> {
    let devices = pcap::Device::list().map_err(RunError::ListInterfaces)?;
    let mut lines = String::new();
    for (i, d) in devices.iter().enumerate() {
        let desc = d
            .desc
            .as_deref()
            .map(|s| format!(" ({})", escape_name(s)))
            .unwrap_or_default();
        let mut flags = Vec::new();
        if d.flags.is_up() {
            flags.push("Up");
        }
        if d.flags.is_running() {
            flags.push("Running");
        }
        if d.flags.is_wireless() {
            flags.push("Wireless");
        }
        if d.flags.is_loopback() {
            flags.push("Loopback");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        };
        lines.push_str(&format!(
            "{}.{}{}{}\n",
            i + 1,
            escape_name(&d.name),
            desc,
            flags
        ));
    }
    let mut out = io::stdout().lock();
    out.write_all(lines.as_bytes())
        .and_then(|()| out.flush())
        .map_err(RunError::Output)
}

/// The run's stop flag, for the signal handler (set once, before the handler is installed).
static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// Stop signals received so far.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// Writes a message to stderr from a signal handler (no lock, no allocation).
fn say(msg: &[u8]) {
    // SAFETY: write(2) on stderr with a valid buffer is async-signal-safe; a failed or short
    // write only loses the message.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
    }
}

/// SIGINT, SIGTERM or SIGHUP. The first asks the run to stop reading and finish its report
/// (the summary then says it was interrupted); a second ends the process at once, whatever its
/// threads are doing, with exit status 130. Runs on whichever thread the signal reaches, so it
/// does only async-signal-safe work: atomics, write(2), _exit(2).
extern "C" fn on_signal(_: libc::c_int) {
    if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
        if let Some(stop) = STOP.get() {
            stop.store(true, Ordering::SeqCst);
        }
        say(b"ndbsniff: interrupted: stopping after what has been read (interrupt again to quit at once)\n");
    } else {
        say(b"ndbsniff: interrupted again: quitting at once, the report is incomplete\n");
        // SAFETY: _exit ends the process without running exit handlers or flushing anything,
        // which is what is wanted here and all that is safe in a signal handler.
        unsafe { libc::_exit(EXIT_INTERRUPTED) }
    }
}

fn install_signal_handlers(stop: Arc<AtomicBool>) -> io::Result<()> {
    let _ = STOP.set(stop);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler is an
        // extern "C" fn taking the signal number, as sa_sigaction expects without SA_SIGINFO.
        // SA_RESTART: calls the handler interrupts (a write to a full pipe) carry on afterwards.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Ends the process as `exit` says: its lines on stderr, then its status.
fn finish(exit: Exit) -> ExitCode {
    for m in &exit.messages {
        note(format_args!("{m}"));
    }
    ExitCode::from(exit.code)
}

/// Whether stdout was closed when the process started (`>&-`). Rust's runtime points closed
/// standard descriptors at /dev/null before `main` (so no file opened later becomes descriptor
/// 1), which would make a closed stdout look like a sink that accepts everything; this is
/// checked before the runtime starts.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

#[cfg(target_os = "linux")]
extern "C" fn check_stdout_before_runtime() {
    // SAFETY: F_GETFD only asks whether descriptor 1 is open; no memory is passed.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Runs [`check_stdout_before_runtime`] as an ELF constructor, before the runtime's set-up.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static CHECK_STDOUT: extern "C" fn() = check_stdout_before_runtime;

fn main() -> ExitCode {
    error::quiet_thread_panics();
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return finish(Exit::error(&RunError::StdoutClosed));
    }
    let (cli, matches) = match cli::parse(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return finish(Exit::usage(false));
        }
        Err(e) => {
            note(format_args!("{}", cli::usage_line(&e)));
            return finish(Exit::usage(true));
        }
    };
    if let Some(what) = cli.generate {
        let mut out = io::stdout().lock();
        return finish(
            match cli::generate(what, &mut out).and_then(|()| out.flush()) {
                Ok(()) => Exit::ok(),
                Err(e) => Exit::error(&RunError::Output(e)),
            },
        );
    }
    for warning in cli::warnings(&cli, &matches) {
        note(format_args!("warning: {warning}"));
    }
    let quiet = cli.quiet;
    if cli.list_interfaces {
        return finish(match list_interfaces() {
            Ok(()) => Exit::ok(),
            Err(e) => Exit::error(&e),
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = install_signal_handlers(Arc::clone(&stop)) {
        return finish(Exit::error(&RunError::Signals(e)));
    }
    let cfg = match config(cli, stop) {
        Ok(c) => c,
        Err(e) => return finish(Exit::error(&e.into())),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = ndbsniff::run(&cfg, &mut out);
    // The run flushed what it wrote; a reader gone meanwhile leaves bytes nobody will take.
    drop(out.into_parts());
    if let Ok(outcome) = &result {
        if let (Some(summary), false) = (&outcome.operator_summary, quiet) {
            let _ = io::stderr().lock().write_all(summary.as_bytes());
        }
        if let Some(hint) = &outcome.off_port_hint {
            note(format_args!("{hint}"));
        }
    }
    finish(Exit::of(&result))
}

// Flows are allocated on the flow workers and freed on the sink thread; jemalloc's
// thread caches make that much cheaper than the system allocator (BENCHMARKS.md).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options: freed pages go back to the kernel after one second instead of ten, which
/// keeps peak memory of long replays down at no measurable cost in speed; allocations of 2 MiB
/// and more (the flow table's larger shards) come from jemalloc's own arena for large requests,
/// which gives freed pages back at once, so the tables a shard outgrew do not stay resident
/// while it keeps growing. Below 2 MiB, buffers a flood allocates and frees many times a second
/// would cost a page fault per page each time (BENCHMARKS.md, "Where the memory goes").
#[cfg(not(feature = "system-allocator"))]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8; 64] =
    b"dirty_decay_ms:1000,muzzy_decay_ms:0,oversize_threshold:2097152\0";
