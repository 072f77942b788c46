//! Command-line flags (clap derive). Validates and records; does no work.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// A table for a person, then a summary.
    Text,
    /// JSON lines: one object per flow, then one summary object.
    Json,
}

/// Passively classify the TCP/UDP flows on port 3406 (or any port): NDB Cluster management
/// protocol (`ndb-mgm`) or `unknown`, with the evidence.
#[derive(Debug, Parser)]
#[command(name = "ndbsniff", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Read packets from a .pcap or .pcapng file.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: PathBuf,

    /// Watch flows with an endpoint on this port (repeatable; default 3406).
    #[arg(long = "port", value_name = "PORT", conflicts_with = "any_port")]
    pub ports: Vec<u16>,

    /// Classify every TCP and UDP flow, whatever its ports.
    #[arg(long)]
    pub any_port: bool,

    /// A BPF filter expression (libpcap syntax), applied in addition to the port selection.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// Stop after reading this many packets.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Decoder worker threads [default: cores - 1, at least 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,

    /// Bytes of each TCP direction reassembled and inspected per flow.
    #[arg(long, value_name = "BYTES", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(64..=1_048_576))]
    pub inspect_bytes: u32,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,

    /// List flows instead of server endpoints (text format).
    #[arg(long)]
    pub flows: bool,

    /// A BPF expression may also be given as trailing words, as with tcpdump.
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    pub expression: Vec<String>,
}

const AFTER_HELP: &str = "\
Exit status: 0 the capture was read to the end (or to -c); 1 the capture was damaged part-way
(everything decoded before the damage is reported); 2 nothing could be read (bad flags, missing
file, not a capture, unsupported link type, bad filter).

Examples:
  ndbsniff -r capture.pcap
  ndbsniff -r capture.pcapng --port 1186 --flows
  ndbsniff -r capture.pcap --any-port --format json | jq 'select(.verdict == \"ndb-mgm\")'";
