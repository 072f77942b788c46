//! The `ndbsniff` binary: parse flags, run, map the outcome to an exit code.

mod cli;

use std::io::{self, BufWriter};
use std::process::ExitCode;

use clap::Parser;

use ndbsniff::{Config, Format, Watch};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
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
    let cfg = Config {
        input: cli.read,
        watch,
        filter,
        count: cli.count,
        threads: cli.threads.map_or_else(ndbsniff::default_threads, usize::from),
        prefix_bytes: cli.inspect_bytes as usize,
        format: match cli.format {
            cli::FormatArg::Text => Format::Text,
            cli::FormatArg::Json => Format::Json,
        },
        per_flow: cli.flows,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    match ndbsniff::run(&cfg, &mut out) {
        Ok(outcome) => match outcome.error {
            None => ExitCode::SUCCESS,
            Some(e) => {
                eprintln!("ndbsniff: {e}");
                ExitCode::from(if outcome.summary.packets_read == 0 { 2 } else { 1 })
            }
        },
        Err(e) => {
            eprintln!("ndbsniff: {e}");
            ExitCode::from(2)
        }
    }
}
