//! Command-line flags (clap derive). Validates and records; does no work. Defaults are the
//! constants of what they bound, never spelled here.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser, ValueEnum};

use ndbsniff::capture::MAX_SNAPLEN;
use ndbsniff_core::flow::table::Timeouts;
use ndbsniff_core::report::Format;
use ndbsniff_core::DEFAULT_PREFIX_BYTES;

/// `--format`: the names and descriptions of [`Format::ALL`].
fn format_parser() -> impl TypedValueParser<Value = Format> {
    let values = Format::ALL.map(|f| PossibleValue::new(f.name()).help(f.description()));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<Format>())
}

/// Microseconds as the seconds a flag takes.
fn secs(us: i64) -> f64 {
    us as f64 / 1e6
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReaderArg {
    /// Classic pcap files in large blocks shared with the workers (no copy, fastest); pcapng
    /// through libpcap.
    Auto,
    /// Every file through libpcap's own reader (pcap_next_ex).
    Libpcap,
}

/// What `--generate` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The man page (roff), e.g. `ndbsniff --generate man > ndbsniff.1`.
    Man,
    /// bash completions.
    CompleteBash,
    /// zsh completions.
    CompleteZsh,
    /// fish completions.
    CompleteFish,
}

/// `-s`: 64 bytes up to the maximum; 0 is the maximum, as tcpdump takes it.
fn snaplen_parser(s: &str) -> Result<i32, String> {
    let n: i64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of bytes"))?;
    match n {
        0 => Ok(MAX_SNAPLEN),
        64.. if n <= i64::from(MAX_SNAPLEN) => Ok(n as i32),
        _ => Err(format!(
            "{n} is not in 64..={MAX_SNAPLEN} (or 0 for the maximum)"
        )),
    }
}

/// Passively classify the TCP/UDP flows on port 3406 (or any port): NDB Cluster management
/// protocol (`ndb-mgm`) or `unknown`, with the evidence.
#[derive(Debug, Parser)]
#[command(name = "ndbsniff", version, about, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("source").args(["read", "interface", "list_interfaces", "generate"]).required(true)))]
pub struct Cli {
    /// Read packets from a .pcap or .pcapng file (gzip or zstd too); `-` reads standard input
    /// (a pipe or FIFO is read as a stream too). Repeat it, or name a directory (its capture
    /// files in name order), to read several files as one, in capture-time order.
    #[arg(short = 'r', long = "read", value_name = "FILE", action = clap::ArgAction::Append)]
    pub read: Vec<PathBuf>,

    /// Capture live from this interface (`any` for all); needs root or CAP_NET_RAW+CAP_NET_ADMIN.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// List the interfaces live capture can use, as tcpdump -D does, and exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,

    /// Do not put the interface into promiscuous mode.
    #[arg(short = 'p', long = "no-promiscuous-mode")]
    pub no_promiscuous: bool,

    /// Snapshot length: bytes captured per frame (live); 0 means the maximum, as with tcpdump.
    #[arg(short = 's', long = "snapshot-length", value_name = "BYTES", default_value_t = MAX_SNAPLEN,
          value_parser = snaplen_parser)]
    pub snaplen: i32,

    /// Kernel capture buffer size in KiB (live; libpcap's default when not given).
    #[arg(short = 'B', long = "buffer-size", value_name = "KiB", value_parser = clap::value_parser!(i32).range(1..=2_097_151))]
    pub buffer_kib: Option<i32>,

    /// Also write the packets of the watched flows (what passes the filter) to this pcap file,
    /// created with mode 0600 and never through a symbolic link.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// When run as root: once the capture (file or interface) and the -w file are open, switch
    /// to this user (default: the sudo caller, else nobody).
    #[arg(short = 'Z', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Do not install the system-call filter (seccomp) that otherwise confines the run once its
    /// files are open; for debugging. Privileges are given up all the same.
    #[arg(long)]
    pub no_sandbox: bool,

    /// Stop a live capture after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// Print statistics this often while running (stderr, or stats lines with --format json or eve).
    #[arg(long, value_name = "SECS")]
    pub stats_interval: Option<f64>,

    /// Report and forget a TCP flow after this many seconds without a packet.
    #[arg(long, value_name = "SECS", default_value_t = secs(Timeouts::default().tcp_idle_us))]
    pub tcp_idle_timeout: f64,

    /// Report and forget a UDP flow after this many seconds without a packet.
    #[arg(long, value_name = "SECS", default_value_t = secs(Timeouts::default().udp_idle_us))]
    pub udp_idle_timeout: f64,

    /// Flows tracked at once; when full, the least recently seen are evicted and reported
    /// with state `evicted`.
    #[arg(long, value_name = "N", default_value_t = ndbsniff_core::flow::table::DEFAULT_MAX_FLOWS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    pub max_flows: usize,

    /// Cap on bytes held at once for reassembly and NDB session audits, all flows and IP
    /// fragments together (K, M, G suffixes); at the cap, a flow that needs more stops
    /// buffering and is judged on what it has, and an audit keeps no more commands (anomaly
    /// "memcap"), counted in memcap_hits.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = ndbsniff_core::memcap::parse_size)]
    pub memcap: usize,

    /// Rows of the text server table: the most interesting servers are kept (ndb-mgm first, then
    /// by flows) and one line says how many more were seen. JSON and --flows keep no table.
    #[arg(long, value_name = "N", default_value_t = ndbsniff_core::report::servers::DEFAULT_MAX_SERVERS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    pub max_servers: usize,

    /// Drop an IP datagram still incomplete this many seconds after its first fragment
    /// (capture time when reading a file, the clock when live).
    #[arg(long, value_name = "SECS", default_value_t = secs(ndbsniff_core::frag::DEFAULT_TIMEOUT_US))]
    pub frag_timeout: f64,

    /// IP datagrams reassembled at once; a new one pushes out the oldest (counted as
    /// too-many-datagrams). Their bytes count against --memcap.
    #[arg(long, value_name = "N", default_value_t = ndbsniff_core::frag::DEFAULT_MAX_DATAGRAMS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub frag_max_datagrams: usize,

    /// Fragments accepted per IP datagram; one more drops it (too-many-fragments).
    #[arg(long, value_name = "N", default_value_t = ndbsniff_core::frag::DEFAULT_MAX_FRAGMENTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=8192))]
    pub frag_max_fragments: usize,

    /// Set both idle timeouts at once (seconds).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<f64>,

    /// Watch flows with an endpoint on this port (repeatable, or a list: --port 1186,3406;
    /// default 3406).
    #[arg(long = "port", value_name = "PORT", conflicts_with = "any_port", value_delimiter = ',',
          value_parser = clap::value_parser!(u16).range(1..))]
    pub ports: Vec<u16>,

    /// Classify every TCP and UDP flow, whatever its ports.
    #[arg(long)]
    pub any_port: bool,

    /// A BPF filter expression (libpcap syntax), applied in addition to the port selection and,
    /// like it, under every VLAN tag (up to 8): `-f "host 192.0.2.1"` also matches tagged frames.
    /// An expression that names vlan, mpls, pppoes or geneve itself is applied once, as written
    /// (write `vlan and ...` levels yourself then).
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// Stop after reading this many packets (at least 1).
    #[arg(short = 'c', long = "count", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Flow worker threads, which track and classify the flows [default: cores - 1, at least 1].
    /// With --capture-threads N, the total over all capture threads (at least N): each capture
    /// thread gets an equal share of them, the first ones one more when they do not divide.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,

    /// Live capture (Linux): read the interface with N capture threads, each on its own socket,
    /// which the kernel's AF_PACKET fanout gives whole flows (both directions) by a flow hash;
    /// each thread decodes and routes for its own flow workers, and one report merges them.
    /// 1 to 64; not with -r, nor with -w above 1.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=ndbsniff::capture::fanout::MAX_THREADS as u64))]
    pub capture_threads: usize,

    /// Bytes of each TCP direction reassembled and inspected per flow.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_PREFIX_BYTES as u32, value_parser = clap::value_parser!(u32).range(64..=1_048_576))]
    pub inspect_bytes: u32,

    /// How -r files are read.
    #[arg(long, value_enum, default_value = "auto")]
    pub reader: ReaderArg,

    /// Output format.
    #[arg(long, default_value_t = Format::default(), value_parser = format_parser())]
    pub format: Format,

    /// List flows instead of server endpoints (text format), one row written as each flow ends.
    #[arg(long)]
    pub flows: bool,

    /// Text format: after the table, the audit of each NDB management server seen: its cluster
    /// map (nodes, roles, addresses, versions, status), a timeline of the commands that changed
    /// the cluster and of refusals, and its clients by kind. JSON always ends with one
    /// `ndb_cluster` record per management server.
    #[arg(long)]
    pub audit: bool,

    /// No summary at the end (text) and no progress line: only the report.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Write a man page or shell completions for ndbsniff to standard output, and exit.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub generate: Option<Generate>,

    /// A BPF expression may also be given as trailing words, as with tcpdump.
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    pub expression: Vec<String>,
}

const AFTER_HELP: &str = "\
Exit status: 0 the capture was read to the end (or to -c, --duration, Ctrl-C, or a reader of
stdout that went away, e.g. | head); 1 the capture was damaged part-way (everything decoded before
the damage is reported); 2 nothing could be read (bad flags, missing file, not a capture,
unsupported link type, bad filter, no permission to capture), or a thread of the run failed
(an internal error: the report is incomplete); 3 output could not be written
(stdout failed or was closed, or the -w file could not be created or written); 130 a second
SIGINT or SIGTERM ended the run at once (the first stops reading and finishes the report, which
then says it was interrupted).

Examples:
  ndbsniff -r capture.pcap
  sudo ndbsniff -i eth0 --stats-interval 10
  ndbsniff -r capture.pcapng --port 1186 --flows
  ndbsniff -r capture.pcap --any-port --format json | jq 'select(.verdict == \"ndb-mgm\")'";

/// `--version`'s text: the crate's version and the libpcap it runs with.
fn long_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} ({})",
            env!("CARGO_PKG_VERSION"),
            ndbsniff::capture::libpcap_version()
        )
    })
}

/// The command line's definition, with the version that names libpcap's.
pub fn command() -> clap::Command {
    Cli::command().version(long_version())
}

/// Parses the command line; the matches tell which flags were given (for [`warnings`]).
pub fn parse(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<(Cli, clap::ArgMatches), clap::Error> {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let matches = command()
        .try_get_matches_from(&args)
        .map_err(|e| match bare_file(&args) {
            Some(file) if e.kind() == ErrorKind::MissingRequiredArgument => {
                let mut cmd = command();
                cmd.error(
                    ErrorKind::MissingRequiredArgument,
                    format!("{file}: a capture file is read with -r (try: ndbsniff -r {file})"),
                )
            }
            _ => e,
        })?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok((cli, matches))
}

/// A word of the command line, not a flag's value, that names an existing file: the capture
/// a user meant to read (`ndbsniff x.pcap`).
fn bare_file(args: &[std::ffi::OsString]) -> Option<String> {
    args.iter().skip(1).find_map(|a| {
        let path = std::path::Path::new(a);
        let word = a.to_str()?;
        (!word.starts_with('-') && path.is_file()).then(|| ndbsniff_core::escape::escape_path(path))
    })
}

/// One line for a command line clap refused: its message without clap's tips (`use -- -n`
/// would mislead here) and usage block, plus a suggestion when clap has one.
pub fn usage_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    // The message is the lines before the first blank one (clap continues "the following
    // required arguments were not provided:" on indented lines); tips and usage come after.
    let rendered = e.render().to_string();
    let message: Vec<&str> = rendered
        .trim_start()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = message.join(" ");
    let msg = joined.strip_prefix("error: ").unwrap_or(&joined);
    let msg = if msg.is_empty() {
        "invalid command line"
    } else {
        msg
    };
    let mut line = ndbsniff_core::escape::escape_name(msg);
    let suggested = match e.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        Some(ContextValue::Strings(list)) => list.first().map(String::as_str),
        _ => None,
    };
    if let Some(s) = suggested {
        line.push_str(&format!(
            "; did you mean {}?",
            ndbsniff_core::escape::escape_name(s)
        ));
    }
    line.push_str(" (ndbsniff --help lists the flags)");
    line
}

/// `--generate`: the man page or a shell's completions, from the flags' definition.
pub fn generate(what: Generate, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // The crate's version only: the committed pages must not depend on the machine's libpcap.
    let mut cmd = Cli::command();
    let shell = match what {
        Generate::Man => return clap_mangen::Man::new(cmd).render(out),
        Generate::CompleteBash => clap_complete::Shell::Bash,
        Generate::CompleteZsh => clap_complete::Shell::Zsh,
        Generate::CompleteFish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "ndbsniff", out);
    Ok(())
}

/// Flags given that do nothing in this run, one line each (printed as warnings; the run goes on).
pub fn warnings(cli: &Cli, m: &clap::ArgMatches) -> Vec<String> {
    use clap::parser::ValueSource;
    let given = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
    let mut out = Vec::new();
    if !cli.read.is_empty() {
        let live_only = [
            ("no_promiscuous", "-p"),
            ("snaplen", "-s"),
            ("buffer_kib", "-B"),
            ("duration", "--duration"),
        ];
        for (id, flag) in live_only {
            if given(id) {
                out.push(format!(
                    "{flag} applies to live capture (-i) only; ignored with -r"
                ));
            }
        }
    }
    if cli.interface.is_some() && given("reader") {
        out.push("--reader applies to -r files only; ignored with -i".to_string());
    }
    if cli.format != Format::Text {
        let name = cli.format.name();
        if given("flows") {
            out.push(format!(
                "--flows applies to the text format; --format {name} always writes one record per flow"
            ));
        }
        if given("max_servers") {
            out.push(format!(
                "--max-servers applies to the text server table; ignored with --format {name}"
            ));
        }
    } else if cli.flows && given("max_servers") {
        out.push("--max-servers applies to the server table; ignored with --flows".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_bounds_constants() {
        let cli = Cli::try_parse_from(["ndbsniff", "-r", "x.pcap"]).expect("parses");
        assert_eq!(cli.format, Format::default());
        assert_eq!(cli.snaplen, MAX_SNAPLEN);
        assert_eq!(cli.inspect_bytes as usize, DEFAULT_PREFIX_BYTES);
        // The one default written as text, for its K/M/G spelling in --help.
        assert_eq!(cli.memcap, ndbsniff_core::memcap::DEFAULT_MEMCAP);
        let t = Timeouts::default();
        assert_eq!(cli.tcp_idle_timeout, secs(t.tcp_idle_us));
        assert_eq!(cli.udp_idle_timeout, secs(t.udp_idle_us));
        let json = Cli::try_parse_from(["ndbsniff", "-r", "x", "--format", "json"]).expect("json");
        assert_eq!(json.format, Format::Json);
        assert!(Cli::try_parse_from(["ndbsniff", "-r", "x", "--format", "xml"]).is_err());
    }
}
