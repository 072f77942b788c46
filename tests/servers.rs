//! End-to-end: the report's per-server state is bounded. A scan of many servers gives a bounded
//! text table (ndb-mgm first, then by flows, and a line for the rest), an exact or flagged
//! estimated server count, and `--flows` rows written as flows end.

mod common;

use std::path::{Path, PathBuf};

use common::{ndbsniff, temp_dir, write_pcap};
use ndbsniff_gen::{build_tcp_frame, tcp_flags, Encap, FlowAddr, Link, Side, TcpFields};

fn scan(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let p = dir.join(name);
    let mut all = vec!["scan", "-o", p.to_str().unwrap()];
    all.extend_from_slice(args);
    common::gen(&all);
    p
}

/// The server table's rows: the lines between the header and the first line not a row.
fn table_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip_while(|l| !l.starts_with("SERVER"))
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("..."))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn number_after(out: &str, before: &str) -> u64 {
    let at = out
        .find(before)
        .unwrap_or_else(|| panic!("no {before:?} in\n{out}"))
        + before.len();
    out[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {before:?} in\n{out}"))
}

#[test]
fn a_server_scan_gives_a_bounded_table_ndb_servers_first() {
    let dir = temp_dir("servers-scan");
    // 3,000 servers: every 500th speaks NDB (6), every 7th is probed three times.
    let p = scan(
        &dir,
        "scan.pcap",
        &[
            "--count",
            "3000",
            "--ndb-every",
            "500",
            "--busy-every",
            "7",
            "--syn-ack",
        ],
    );
    let p = p.to_str().unwrap();
    let json = ndbsniff(&["-r", p, "--format", "json"]);
    json.expect_code(0);
    let stats = json.stats();
    assert_eq!(stats["servers"], 3000, "{stats}");
    assert_eq!(stats["servers_estimated"], false, "{stats}");
    let total_flows = stats["flows"].as_u64().unwrap_or(0);
    assert_eq!(total_flows, 3856, "{stats}");

    let run = ndbsniff(&["-r", p, "--max-servers", "20"]);
    run.expect_code(0);
    let out = run.stdout();
    let rows = table_rows(&out);
    assert_eq!(rows.len(), 20, "{}", run.describe());
    // The six NDB servers first, then the busiest (three flows each).
    let verdicts: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(&verdicts[..6], &["ndb-mgm"; 6], "{}", run.describe());
    assert!(verdicts[6..].iter().all(|v| *v == "unknown"), "{out}");
    let flows: Vec<u64> = rows.iter().map(|r| r[4].parse().unwrap_or(0)).collect();
    assert!(flows[6..].iter().all(|&f| f == 3), "{out}");
    let shown: u64 = flows.iter().sum();
    // The rest is counted on one line, with the flows that are not in the table.
    assert_eq!(number_after(&out, "... and "), 2980, "{out}");
    assert_eq!(
        number_after(&out, "more servers not shown ("),
        total_flows - shown,
        "{out}"
    );
    assert!(
        run.stderr().contains("servers: 3000\n"),
        "{}",
        run.describe()
    );

    // A table big enough for every server has no such line, and holds every flow.
    let all = ndbsniff(&["-r", p, "--max-servers", "3000"]);
    all.expect_code(0);
    let out = all.stdout();
    assert!(!out.contains("more servers not shown"), "{out}");
    let rows = table_rows(&out);
    assert_eq!(rows.len(), 3000);
    let sum: u64 = rows.iter().map(|r| r[4].parse::<u64>().unwrap_or(0)).sum();
    assert_eq!(sum, total_flows);
}

#[test]
fn the_text_summary_counts_evictions_like_the_json_stats() {
    let dir = temp_dir("servers-evict");
    let p = scan(&dir, "scan.pcap", &["--count", "3000"]);
    let p = p.to_str().unwrap();
    let json = ndbsniff(&[
        "-r",
        p,
        "--max-flows",
        "500",
        "--threads",
        "1",
        "--format",
        "json",
    ]);
    json.expect_code(0);
    let evicted = json.stats()["flows_evicted"].as_u64().unwrap_or(0);
    assert!(evicted >= 2500, "{}", json.describe());
    let text = ndbsniff(&["-r", p, "--max-flows", "500", "--threads", "1"]);
    text.expect_code(0);
    let out = text.stderr();
    assert_eq!(
        number_after(&out, "flows evicted from a full table (--max-flows): "),
        evicted,
        "{out}"
    );
    assert_eq!(
        number_after(&out, "buffering refused at the memory cap (--memcap): "),
        0,
        "{out}"
    );
}

#[test]
fn past_the_exact_bound_the_server_count_is_an_estimate_and_says_so() {
    let dir = temp_dir("servers-estimate");
    let n = 70_000u64;
    let p = scan(&dir, "scan.pcap", &["--count", &n.to_string()]);
    let p = p.to_str().unwrap();
    let json = ndbsniff(&["-r", p, "--format", "json"]);
    json.expect_code(0);
    let stats = json.stats();
    assert_eq!(stats["servers_estimated"], true, "{stats}");
    let est = stats["servers"].as_u64().unwrap_or(0);
    assert!(est.abs_diff(n) * 100 < n * 3, "{stats}");
    // The estimate is the same on every run (the sketch's hash key is fixed).
    let again = ndbsniff(&["-r", p, "--format", "json", "--threads", "1"]);
    assert_eq!(again.stats()["servers"], est);

    let text = ndbsniff(&["-r", p, "--max-servers", "5"]);
    text.expect_code(0);
    let out = text.stdout();
    let err = text.stderr();
    assert!(
        err.contains(&format!("servers: about {est} (estimated)\n")),
        "{err}"
    );
    assert_eq!(table_rows(&out).len(), 5);
    assert_eq!(number_after(&out, "... and about "), est - 5, "{out}");
    assert!(
        out.contains("more servers (estimated) not shown (69995 flows)"),
        "{out}"
    );
}

/// `--flows` writes a row when its flow ends: a flow reset early and freed while the capture
/// goes on comes before one that started earlier but was still open at the end.
#[test]
fn flow_rows_are_written_as_flows_end() {
    let encap = Encap::new(Link::Ethernet);
    let long = FlowAddr::v4([198, 51, 100, 1], 40_001, [203, 0, 113, 1], 3406);
    let short = FlowAddr::v4([198, 51, 100, 2], 40_002, [203, 0, 113, 2], 3406);
    let frame = |addr: &FlowAddr, side: Side, flags: u8, seq: u32| {
        let tcp = TcpFields {
            seq,
            ack: 0,
            flags,
            window: 1000,
            syn_mss: 0,
        };
        let mut f = Vec::new();
        build_tcp_frame(&mut f, &encap, addr, side, 1, &tcp, &[]).expect("frame");
        f
    };
    // One frame a second: the long flow opens, the short one opens and is reset, then the long
    // one goes on for ten more seconds (past the 5 s linger of the reset flow).
    let mut frames = vec![
        frame(&long, Side::Client, tcp_flags::SYN, 1),
        frame(&short, Side::Client, tcp_flags::SYN, 1),
        frame(&short, Side::Server, tcp_flags::RST, 0),
    ];
    for i in 0..10 {
        frames.push(frame(&long, Side::Client, tcp_flags::ACK, 2 + i));
    }
    let dir = temp_dir("servers-flows");
    let p = dir.join("flows.pcap");
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    write_pcap(&p, 1, &refs);
    let run = ndbsniff(&["-r", p.to_str().unwrap(), "--flows"]);
    run.expect_code(0);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("CLIENT "), "{out}");
    assert_eq!(out.matches("CLIENT ").count(), 1, "{out}");
    assert!(lines[1].starts_with("198.51.100.2:40002 "), "{out}");
    assert!(lines[1].contains(" reset "), "{out}");
    assert!(lines[2].starts_with("198.51.100.1:40001 "), "{out}");
    assert!(lines[2].contains(" open "), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let err = run.stderr();
    assert!(
        err.contains("flows: 2 (unknown 2: none 2), servers: 2\n"),
        "{err}"
    );
}
