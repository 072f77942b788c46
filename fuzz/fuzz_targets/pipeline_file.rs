//! Fuzz target: the whole tool on arbitrary capture-file bytes.
//!
//! Each input is written to one temporary file per process and read with `ndbsniff::run` as
//! `-r FILE --any-port --format json --threads 1 --max-flows 16` would (a small flow limit, so
//! eviction is exercised). Checks: nothing panics; `Err` means nothing was written; on `Ok`
//! every output line is a JSON object, flow records carry printable-ASCII evidence, and the
//! last line is the final statistics object whose flow count matches the records written.
//!
//! Optional cross-checks, by environment variable:
//! * `NDBSNIFF_FUZZ_THREADS=N`: each input is also run with N flow workers; the output must
//!   be identical ("output is identical for any N").
//! * `NDBSNIFF_FUZZ_READERS=1`: each input is also read with libpcap alone
//!   (`--reader libpcap`); the output must be the same as the default reader's, except for the
//!   wording of the damage message. `NDBSNIFF_FUZZ_READERS=known` leaves out the classic pcap
//!   files on which the readers are known to differ: versions 2.0 to 2.3 (record lengths),
//!   2.5 and later (refused by libpcap) and records whose time stamp fields have the top bit
//!   set (signed or unsigned).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ndbsniff::capture::Reader;
use ndbsniff_core::escape::is_printable_ascii;
use ndbsniff::{Config, Format, Input, Watch};

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("ndbsniff-fuzz-{}.pcap", std::process::id()))
    })
}

fn config(threads: usize, reader: Reader) -> Config {
    Config {
        watch: Watch::any(),
        threads,
        format: Format::Json,
        max_flows: 16,
        // Small, so that inputs reach the reassembly memory cap too.
        memcap: 64 << 10,
        reader,
        ..Config::new(Input::File(path().clone()))
    }
}

/// Runs the tool; returns its output when it returned `Ok`, after checking it.
fn run_checked(threads: usize, reader: Reader) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match ndbsniff::run(&config(threads, reader), &mut out) {
        Err(_) => {
            assert!(out.is_empty(), "run returned Err after writing output");
            None
        }
        Ok(outcome) => {
            let text = std::str::from_utf8(&out).expect("output is not UTF-8");
            let lines: Vec<&str> = text.lines().collect();
            let mut flows = 0u64;
            for (i, line) in lines.iter().enumerate() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", i + 1));
                let obj = v.as_object().expect("line is not a JSON object");
                match obj.get("type").and_then(|t| t.as_str()) {
                    Some("flow") => {
                        flows += 1;
                        let ev = obj
                            .get("evidence")
                            .and_then(|e| e.as_str())
                            .expect("flow without evidence string");
                        assert!(is_printable_ascii(ev), "evidence not printable: {ev:?}");
                        assert!(i + 1 < lines.len(), "a flow record is the last line");
                    }
                    Some("stats") => {
                        assert_eq!(i + 1, lines.len(), "stats object before the end");
                        assert_eq!(obj.get("final"), Some(&serde_json::Value::Bool(true)));
                        assert_eq!(
                            obj.get("flows").and_then(|f| f.as_u64()),
                            Some(flows),
                            "stats flow count differs from the records written"
                        );
                    }
                    other => panic!("unexpected record type {other:?}: {line}"),
                }
            }
            assert!(!lines.is_empty(), "Ok without a stats object");
            assert_eq!(outcome.summary.flows, flows);
            Some(out)
        }
    }
}

/// The output lines with the wording of the statistics' `error` (which names the damage in
/// each reader's own words) replaced by whether there was one.
fn without_error_text(out: &Option<Vec<u8>>) -> Option<Vec<serde_json::Value>> {
    let text = std::str::from_utf8(out.as_deref()?).ok()?;
    Some(
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|mut v| {
                if let Some(e) = v.get_mut("error") {
                    *e = serde_json::Value::Bool(true);
                }
                v
            })
            .collect(),
    )
}

/// A classic pcap file on which the two readers are known to differ: version 2.x other than
/// 2.4, or a
/// record (walked as version 2.4 lays them out) with a time stamp field of 2^31 or more.
fn known_difference(data: &[u8]) -> bool {
    let Some(h) = data.get(..24) else {
        return false;
    };
    let le = match [h[0], h[1], h[2], h[3]] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return false,
    };
    let u16_at = |at: usize| {
        let b = [data[at], data[at + 1]];
        if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_at = |at: usize| {
        let b = [data[at], data[at + 1], data[at + 2], data[at + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    if u16_at(4) == 2 && u16_at(6) != 4 {
        return true;
    }
    let mut at = 24;
    while at + 16 <= data.len() {
        if u32_at(at) >= 1 << 31 || u32_at(at + 4) >= 1 << 31 {
            return true;
        }
        at += 16 + u32_at(at + 8) as usize;
    }
    false
}

fuzz_target!(|data: &[u8]| {
    if std::fs::write(path(), data).is_err() {
        return;
    }
    let one = run_checked(1, Reader::Auto);
    let text = |o: &Option<Vec<u8>>| o.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
    if let Some(n) = std::env::var("NDBSNIFF_FUZZ_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let many = run_checked(n, Reader::Auto);
        assert_eq!(text(&one), text(&many), "output differs between 1 and {n} threads");
    }
    let readers = std::env::var("NDBSNIFF_FUZZ_READERS").ok();
    if readers.is_some() && !(readers.as_deref() == Some("known") && known_difference(data)) {
        let libpcap = run_checked(1, Reader::Libpcap);
        assert_eq!(
            without_error_text(&one),
            without_error_text(&libpcap),
            "output differs between the readers"
        );
    }
});
