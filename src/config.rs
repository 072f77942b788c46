//! What a run needs: the input, the watched ports, the output format and every bound, with
//! the command line's defaults ([`Config::new`]).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ndbsniff_core::flow::table::Timeouts;
pub use ndbsniff_core::report::Format;
pub use ndbsniff_core::DEFAULT_PORT;
use ndbsniff_core::{flow, frag, memcap, report, Watch, DEFAULT_PREFIX_BYTES};

use crate::capture::{self, LiveOptions};

/// Where packets come from.
#[derive(Clone, Debug)]
pub enum Input {
    File(PathBuf),
    /// Several `-r` arguments, or a directory: files (and directories, expanded when opened)
    /// read as one in capture-time order.
    Files(Vec<PathBuf>),
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
    /// Print each management server's audit after the table (text format).
    pub audit: bool,
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
    /// ([`crate::sandbox`]); it cannot be lifted, so off in [`Config::new`] (a library caller's process
    /// goes on after the run), on in the binary unless `--no-sandbox`.
    pub sandbox: bool,
    /// A progress line on standard error while a file is read, when standard error is a
    /// terminal (off with `-q`; never for live capture).
    pub progress: bool,
    /// Text: cut table rows to this many characters (the binary sets the terminal's width
    /// when standard output is one).
    pub width: Option<usize>,
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
            format: Format::default(),
            per_flow: false,
            audit: false,
            write: None,
            user: None,
            drop_privileges: false,
            sandbox: false,
            progress: false,
            width: None,
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
