//! The `ndbsniff` binary: parse flags, run, map the outcome to an exit code.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use ndbsniff::capture::LiveOptions;
use ndbsniff::flow::table::Timeouts;
use ndbsniff::{Config, Format, Input, Watch};

fn seconds(flag: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| format!("{flag} must be a number of seconds >= 0, not {v}"))
}

fn us(flag: &str, v: f64) -> Result<i64, String> {
    seconds(flag, v).map(|d| d.as_micros().min(i64::MAX as u128) as i64)
}

fn config(cli: cli::Cli, stop: Arc<AtomicBool>) -> Result<Config, String> {
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
    let input = match (cli.read, cli.interface) {
        (Some(path), None) => Input::File(path),
        (None, Some(interface)) => Input::Live(LiveOptions {
            interface,
            promiscuous: !cli.no_promiscuous,
            snaplen: cli.snaplen,
            buffer_bytes: cli.buffer_kib.map(|k| k.saturating_mul(1024)),
        }),
        _ => return Err("give exactly one of -r FILE or -i IFACE".into()),
    };
    let (tcp_idle, udp_idle) = match cli.idle_timeout {
        Some(both) => (both, both),
        None => (cli.tcp_idle_timeout, cli.udp_idle_timeout),
    };
    Ok(Config {
        input,
        watch,
        filter,
        count: cli.count,
        duration: cli.duration.map(|d| seconds("--duration", d)).transpose()?,
        threads: cli
            .threads
            .map_or_else(ndbsniff::default_threads, usize::from),
        prefix_bytes: cli.inspect_bytes as usize,
        format: match cli.format {
            cli::FormatArg::Text => Format::Text,
            cli::FormatArg::Json => Format::Json,
        },
        per_flow: cli.flows,
        write: cli.write,
        user: cli.user,
        stats_interval: cli
            .stats_interval
            .map(|d| seconds("--stats-interval", d))
            .transpose()?
            .filter(|d| !d.is_zero()),
        timeouts: Timeouts {
            tcp_idle_us: us("--tcp-idle-timeout", tcp_idle)?,
            udp_idle_us: us("--udp-idle-timeout", udp_idle)?,
            ..Timeouts::default()
        },
        max_flows: cli.max_flows,
        memcap: cli.memcap,
        frag: ndbsniff::frag::Limits {
            timeout_us: us("--frag-timeout", cli.frag_timeout)?,
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

/// `-D`: one interface per line, numbered, with description and flags, as tcpdump prints them.
fn list_interfaces() -> ExitCode {
    match pcap::Device::list() {
        Ok(devices) => {
            let mut out = io::stdout().lock();
            for (i, d) in devices.iter().enumerate() {
                let desc = d
                    .desc
                    .as_deref()
                    .map(|s| format!(" ({s})"))
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
                let _ = writeln!(out, "{}.{}{}{}", i + 1, d.name, desc, flags);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ndbsniff: cannot list interfaces: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if cli.list_interfaces {
        return list_interfaces();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    // SIGINT and SIGTERM end the capture cleanly: flows are reported, the summary printed.
    if let Err(e) = ctrlc::set_handler(move || handler_stop.store(true, Ordering::Relaxed)) {
        eprintln!("ndbsniff: cannot install the signal handler: {e}");
        return ExitCode::from(2);
    }
    let cfg = match config(cli, stop) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ndbsniff: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    match ndbsniff::run(&cfg, &mut out) {
        Ok(outcome) => match outcome.error {
            None => ExitCode::SUCCESS,
            Some(e) => {
                eprintln!("ndbsniff: {e}");
                ExitCode::from(if outcome.summary.packets_read == 0 {
                    2
                } else {
                    1
                })
            }
        },
        Err(e) => {
            eprintln!("ndbsniff: {e}");
            ExitCode::from(2)
        }
    }
}

// Flows are allocated on the decoder workers and freed on the sink thread; jemalloc's
// thread caches make that much cheaper than the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options: freed pages go back to the kernel after one second instead of ten, which
/// keeps peak memory of long replays down at no measurable cost in speed (BENCHMARKS.md).
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8; 37] = b"dirty_decay_ms:1000,muzzy_decay_ms:0\0";
