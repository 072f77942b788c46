//! The `ndbsniff-gen` command line: argument parsing and mapping to the library's calls. The
//! binary is [`main`]; tests run the same commands in process with [`run`].
//!
//! Must never contain generation logic of its own (everything reusable lives in the library)
//! and never read the clock.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::integrity::{self, Case};
use std::process::ExitCode;

use crate::scan::{write_server_scan, ScanSpec};
use crate::testdata::{flow_addr, write_testdata, BASE_TS_NS};
use crate::traffic::{self, Profile, TrafficSpec};
use crate::{
    lookalike, ndb, schedule, write_capture, ByteOrder, CaptureFormat, CaptureStart, Close, Encap,
    FixedSegments, Link, PlacedFlow, Script, Side, TcpPlan, Transform,
};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "ndbsniff-gen",
    about = "Write deterministic synthetic captures for ndbsniff"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the project's test captures and MANIFEST.tsv into DIR.
    Testdata {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
    /// List the conversations `conversation` can write.
    List,
    /// Write one conversation to a capture file.
    Conversation(ConversationArgs),
    /// Write bulk benchmark traffic (many overlapping flows) to a pcap file.
    Traffic(TrafficArgs),
    /// Write a SYN flood: COUNT connection attempts from distinct endpoints, none completed.
    Synflood {
        /// How many SYNs (each one a new flow).
        #[arg(long, default_value_t = 2_000_000)]
        count: u64,
        /// The server port they target.
        #[arg(long, default_value_t = 3406)]
        port: u16,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output pcap file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write SYNs over IPv6 whose flow keys all collide under an unkeyed (Fx) hash, or with
    /// --random the same number of SYNs from random addresses (to compare against).
    Hashflood {
        /// How many SYNs (each one a new flow).
        #[arg(long, default_value_t = 30_000)]
        count: u64,
        /// The server port they target.
        #[arg(long, default_value_t = 3406)]
        port: u16,
        /// Random client addresses instead of colliding ones.
        #[arg(long)]
        random: bool,
        /// Capture time between two SYNs, in microseconds (1000000: one sweep period each).
        #[arg(long, default_value_t = 1)]
        gap_us: u64,
        /// Output pcap file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write a server scan: one scanner sending a SYN to each of COUNT distinct servers.
    Scan {
        /// How many distinct servers (10.0.0.1 upwards; IPv6 past 10.255.255.255).
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// The server port probed.
        #[arg(long, default_value_t = 3406)]
        port: u16,
        /// Every Nth server speaks the NDB management protocol (0: none).
        #[arg(long, default_value_t = 0)]
        ndb_every: u64,
        /// Every Nth server is probed three times (0: none).
        #[arg(long, default_value_t = 0)]
        busy_every: u64,
        /// Servers answer with a SYN-ACK.
        #[arg(long)]
        syn_ack: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output pcap file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write a fragment flood: COUNT first fragments of distinct IPv4 datagrams, none completed.
    Fragflood {
        /// How many fragments (each one a new datagram).
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Data bytes per fragment (a multiple of 8).
        #[arg(long, default_value_t = 1400)]
        size: usize,
        /// The server port they target.
        #[arg(long, default_value_t = 3406)]
        port: u16,
        /// Output pcap file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write FLOWS connections that each hold BYTES of out-of-order data (a SYN, then one
    /// segment after a one-byte hole): the reassembly memory cap's stress input.
    OooFlood {
        #[arg(long, default_value_t = 1_050_000)]
        flows: u64,
        /// Bytes parked by each flow (4095 fills the default 4 KiB prefix).
        #[arg(long, default_value_t = 4095)]
        bytes: usize,
        #[arg(long, default_value_t = 3406)]
        port: u16,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output pcap file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write FLOWS mid-stream connections that each grow leftwards by SEGMENTS one-byte
    /// segments (every segment starts before the stream start seen so far).
    Leftward {
        #[arg(long, default_value_t = 100)]
        flows: u64,
        #[arg(long, default_value_t = 4_000)]
        segments: u32,
        /// The byte every segment carries.
        #[arg(long, value_enum, default_value = "newline")]
        byte: ByteArg,
        #[arg(long, default_value_t = 3406)]
        port: u16,
        /// Output pcap file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write one reassembly integrity case: an NDB connection with overlapping copies that
    /// disagree, or bad TCP checksums (with a good copy, without one, or on every segment).
    Integrity {
        #[arg(value_enum)]
        case: CaseArg,
        #[arg(long, default_value_t = 3406)]
        port: u16,
        /// Output pcap file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ByteArg {
    Newline,
    Space,
}

#[derive(Clone, Copy, ValueEnum)]
enum CaseArg {
    /// A retransmission of the request with other bytes.
    OverlapMismatch,
    /// A forged bad-checksum copy of the request, then the real one.
    BadThenGood,
    /// The request only with a bad checksum.
    BadOnly,
    /// Every client segment with a bad checksum (checksum offload).
    Offloaded,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    /// About 80-byte frames on average.
    Small,
    /// About 500-byte frames on average, a fifth of them at full MTU.
    Mixed,
}

#[derive(clap::Args)]
struct TrafficArgs {
    /// Packets to write (approximately; the exact count is reported).
    #[arg(long, default_value_t = 1_000_000)]
    packets: u64,
    /// Flows to write [default: packets / 24].
    #[arg(long, conflicts_with = "packets_per_flow")]
    flows: Option<u64>,
    /// Mean packets per flow (instead of --flows).
    #[arg(long)]
    packets_per_flow: Option<u64>,
    /// Frame-size profile.
    #[arg(long, value_enum, default_value = "small")]
    profile: ProfileArg,
    /// Share of flows with the server on port 3406 [default: 0.1].
    #[arg(long = "share-3406")]
    share_3406: Option<f64>,
    /// Share of the port-3406 flows speaking NDB; the others are look-alikes [default: 0.5].
    #[arg(long)]
    share_ndb: Option<f64>,
    /// Share of IPv6 flows [default: 0.1].
    #[arg(long)]
    share_ipv6: Option<f64>,
    /// Share of flows with one 802.1Q tag [default: 0.03].
    #[arg(long)]
    share_vlan: Option<f64>,
    /// Share of QinQ (802.1ad + 802.1Q) flows [default: 0.01].
    #[arg(long)]
    share_qinq: Option<f64>,
    /// Share of the other flows that are DNS-style UDP [default: 0.05].
    #[arg(long)]
    share_udp: Option<f64>,
    /// New flows per second of capture time [default: 4000].
    #[arg(long)]
    rate: Option<f64>,
    /// Mean idle time between the exchanges of a connection, in ms [default: 800].
    #[arg(long)]
    think_ms: Option<f64>,
    /// All flows open at once: every flow starts in the first second and each connection's
    /// exchanges are spread evenly over this many seconds (instead of --rate and --think-ms).
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["rate", "think_ms"])]
    all_concurrent: Option<f64>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output pcap file.
    #[arg(short = 'o', long)]
    output: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Pcap,
    PcapNs,
    Pcapng,
    PcapngNs,
}

#[derive(Clone, Copy, ValueEnum)]
enum SideArg {
    Client,
    Server,
}

#[derive(Clone, Copy, ValueEnum)]
enum CloseArg {
    Fin,
    Rst,
    None,
}

#[derive(clap::Args)]
struct ConversationArgs {
    /// Conversation name (see `ndbsniff-gen list`).
    name: String,
    /// Output file.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Link type: eth, sll, sll2, raw, rawv4, rawv6, null, loop.
    #[arg(long, default_value = "eth")]
    link: String,
    /// Number of VLAN tags on Ethernet (0-3).
    #[arg(long, default_value_t = 0)]
    vlans: usize,
    /// Use IPv6 addresses.
    #[arg(long)]
    ipv6: bool,
    /// Server port.
    #[arg(long, default_value_t = 3406)]
    port: u16,
    /// File format.
    #[arg(long, value_enum, default_value = "pcap")]
    format: FormatArg,
    /// Write a big-endian file.
    #[arg(long)]
    big_endian: bool,
    /// Snap length.
    #[arg(long, default_value_t = CaptureFormat::DEFAULT_SNAPLEN)]
    snaplen: u32,
    /// Maximum payload bytes per segment.
    #[arg(long, default_value_t = 1448)]
    segment_size: usize,
    /// Fixed segment size (1: one-byte segments).
    #[arg(long)]
    fixed_segment: Option<usize>,
    /// Apply the fixed segment size only to the first N bytes of each direction.
    #[arg(long)]
    fixed_for: Option<usize>,
    /// Deliver every Nth data segment out of order.
    #[arg(long)]
    out_of_order: Option<u32>,
    /// Retransmit every Nth data segment.
    #[arg(long)]
    retransmit: Option<u32>,
    /// Follow every Nth data segment by an overlapping retransmission.
    #[arg(long)]
    overlap: Option<u32>,
    /// Start the capture at script message N (drops the handshake).
    #[arg(long)]
    start_at_message: Option<usize>,
    /// Keep only the packets of one side.
    #[arg(long, value_enum)]
    only: Option<SideArg>,
    /// Override how the connection ends.
    #[arg(long, value_enum)]
    close: Option<CloseArg>,
    /// Seed for sequence numbers, ports and timing.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn find_script(name: &str) -> Option<Script> {
    ndb::CONVERSATIONS
        .iter()
        .chain(lookalike::CONVERSATIONS)
        .find(|c| c.name == name)
        .map(|c| (c.build)())
}

fn conversation(a: &ConversationArgs) -> Result<(), String> {
    let script =
        find_script(&a.name).ok_or_else(|| format!("unknown conversation '{}'", a.name))?;
    let link = Link::from_name(&a.link).ok_or_else(|| format!("unknown link type '{}'", a.link))?;
    let encap = Encap::new(link)
        .with_vlan_stack(a.vlans)
        .map_err(|e| e.to_string())?;
    let mut format = match a.format {
        FormatArg::Pcap => CaptureFormat::PCAP_US,
        FormatArg::PcapNs => CaptureFormat::PCAP_NS,
        FormatArg::Pcapng => CaptureFormat::PCAPNG_US,
        FormatArg::PcapngNs => CaptureFormat::PCAPNG_NS,
    }
    .with_snaplen(a.snaplen);
    if a.big_endian {
        format = format.with_byte_order(ByteOrder::Big);
    }
    let mut plan = TcpPlan {
        max_segment: a.segment_size,
        seed: a.seed,
        ..TcpPlan::default()
    };
    if let Some(size) = a.fixed_segment {
        plan.fixed = Some(FixedSegments {
            size,
            first_bytes: a.fixed_for,
        });
    }
    if let Some(every) = a.out_of_order {
        plan.transforms.push(Transform::OutOfOrder { every });
    }
    if let Some(every) = a.retransmit {
        plan.transforms.push(Transform::Retransmit { every });
    }
    if let Some(every) = a.overlap {
        plan.transforms.push(Transform::OverlapRetransmit { every });
    }
    if let Some(n) = a.start_at_message {
        plan.start = CaptureStart::AtMessage(n);
    }
    plan.only = a.only.map(|s| match s {
        SideArg::Client => Side::Client,
        SideArg::Server => Side::Server,
    });
    plan.close = a.close.map(|c| match c {
        CloseArg::Fin => Close::Fin { by: Side::Client },
        CloseArg::Rst => Close::Rst { by: Side::Client },
        CloseArg::None => Close::None,
    });
    let flow = PlacedFlow {
        addr: flow_addr(0, a.ipv6, 40_000 + (a.seed % 20_000) as u16, a.port),
        start_ns: BASE_TS_NS,
        packets: schedule(&script, &plan),
        ip_id_seed: a.seed as u16,
    };
    let bytes = write_capture(format, &encap, &[flow]).map_err(|e| e.to_string())?;
    std::fs::write(&a.output, bytes).map_err(|e| format!("{}: {e}", a.output.display()))
}

fn traffic_spec(a: &TrafficArgs) -> TrafficSpec {
    let profile = match a.profile {
        ProfileArg::Small => Profile::Small,
        ProfileArg::Mixed => Profile::Mixed,
    };
    let flows = match (a.flows, a.packets_per_flow) {
        (Some(f), _) => f,
        (None, Some(k)) => a.packets.div_ceil(k.max(1)),
        (None, None) => a.packets.div_ceil(24),
    };
    let d = TrafficSpec::new(profile, a.packets, flows);
    TrafficSpec {
        share_3406: a.share_3406.unwrap_or(d.share_3406),
        share_ndb: a.share_ndb.unwrap_or(d.share_ndb),
        share_ipv6: a.share_ipv6.unwrap_or(d.share_ipv6),
        share_vlan: a.share_vlan.unwrap_or(d.share_vlan),
        share_qinq: a.share_qinq.unwrap_or(d.share_qinq),
        share_udp: a.share_udp.unwrap_or(d.share_udp),
        flow_rate: a.rate.unwrap_or(d.flow_rate),
        think_ms: a.think_ms.unwrap_or(d.think_ms),
        all_concurrent_s: a.all_concurrent,
        seed: a.seed,
        ..d
    }
}

fn write_traffic(a: &TrafficArgs) -> Result<(), String> {
    let spec = traffic_spec(a);
    spec.validate()?;
    let (stats, _) = to_file(&a.output, |out| traffic::write_pcap(&spec, out))?;
    eprintln!("{stats}");
    Ok(())
}

/// Creates `path` and hands `write` a buffered writer to it; errors name the file.
fn to_file<T, E: std::fmt::Display>(
    path: &Path,
    write: impl FnOnce(BufWriter<File>) -> Result<T, E>,
) -> Result<T, String> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    write(BufWriter::with_capacity(1 << 20, file)).map_err(|e| format!("{}: {e}", path.display()))
}

/// The binary: parses the process's arguments (help and usage errors exit as clap does), runs
/// the command, prints an error on stderr and returns exit status 2 when it fails.
pub fn main() -> ExitCode {
    match execute(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ndbsniff-gen: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs one command given as its arguments (without the program name), as the binary would:
/// `run(["synflood", "--count", "10", "-o", "x.pcap"])`. A usage error is returned, not printed.
pub fn run<I, T>(args: I) -> Result<(), String>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = std::iter::once(std::ffi::OsString::from("ndbsniff-gen"))
        .chain(args.into_iter().map(Into::into));
    let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
    execute(&cli)
}

fn execute(cli: &Cli) -> Result<(), String> {
    match &cli.command {
        Command::Testdata { dir } => write_testdata(dir)
            .map(|files| {
                for (name, len) in files {
                    println!("{len:>8}  {name}");
                }
            })
            .map_err(|e| format!("{}: {e}", dir.display())),
        Command::List => {
            for c in ndb::CONVERSATIONS.iter().chain(lookalike::CONVERSATIONS) {
                println!("{:<22} {}", c.name, c.description);
            }
            Ok(())
        }
        Command::Conversation(a) => conversation(a),
        Command::Traffic(a) => write_traffic(a),
        Command::Synflood {
            count,
            port,
            seed,
            output,
        } => to_file(output, |f| {
            crate::flood::write_syn_flood(f, *count, *port, *seed, BASE_TS_NS)
        })
        .map(|n| eprintln!("packets={n} flows={n}")),
        Command::Hashflood {
            count,
            port,
            random,
            gap_us,
            output,
        } => to_file(output, |f| {
            let gap_ns = gap_us.saturating_mul(1_000);
            crate::hashflood::write_hash_flood(f, *count, *port, !*random, gap_ns, BASE_TS_NS)
        })
        .map(|n| eprintln!("packets={n} flows={n}")),
        Command::Scan {
            count,
            port,
            ndb_every,
            busy_every,
            syn_ack,
            seed,
            output,
        } => {
            let spec = ScanSpec {
                ndb_every: *ndb_every,
                busy_every: *busy_every,
                syn_ack: *syn_ack,
                seed: *seed,
                ..ScanSpec::new(*count, *port)
            };
            to_file(output, |f| write_server_scan(f, &spec)).map(|s| {
                eprintln!(
                    "packets={} flows={} servers={} ndb_servers={}",
                    s.packets, s.flows, s.servers, s.ndb_servers
                )
            })
        }
        Command::Fragflood {
            count,
            size,
            port,
            output,
        } => to_file(output, |f| {
            crate::blind::write_fragment_flood(f, *count, *size, *port, BASE_TS_NS)
        })
        .map(|n| eprintln!("packets={n} datagrams={n}")),
        Command::OooFlood {
            flows,
            bytes,
            port,
            seed,
            output,
        } => to_file(output, |f| {
            integrity::write_ooo_flood(f, *flows, *bytes, *port, *seed)
        })
        .map(|n| eprintln!("packets={n} flows={flows}")),
        Command::Leftward {
            flows,
            segments,
            byte,
            port,
            output,
        } => {
            let b = match byte {
                ByteArg::Newline => b'\n',
                ByteArg::Space => b' ',
            };
            to_file(output, |f| {
                integrity::write_leftward(f, *flows, *segments, b, *port)
            })
            .map(|n| eprintln!("packets={n} flows={flows}"))
        }
        Command::Integrity { case, port, output } => {
            let case = match case {
                CaseArg::OverlapMismatch => Case::OverlapMismatch,
                CaseArg::BadThenGood => Case::BadThenGood,
                CaseArg::BadOnly => Case::BadOnly,
                CaseArg::Offloaded => Case::Offloaded,
            };
            to_file(output, |f| integrity::write_case(f, case, *port)).map(drop)
        }
    }
}
