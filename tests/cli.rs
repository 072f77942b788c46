//! End-to-end behaviour of the binary on bad input and flags: one-line errors naming the file,
//! documented exit codes, and partial results kept.

mod common;

use common::{ndbsniff, temp_dir, write_pcap};

fn one_line_error(run: &common::Run, needle: &str) {
    let err = run.stderr();
    // The text summary may stand beside the error; it never starts with `ndbsniff: `.
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("ndbsniff: "))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one error line\n{}",
        run.describe()
    );
    assert!(lines[0].starts_with("ndbsniff: "), "{}", run.describe());
    assert!(
        lines[0].contains(needle),
        "error should mention {needle:?}\n{}",
        run.describe()
    );
}

#[test]
fn missing_file_is_exit_2_naming_it() {
    let run = ndbsniff(&["-r", "no/such/file.pcap"]);
    run.expect_code(2);
    one_line_error(&run, "no/such/file.pcap: no such file");
}

#[test]
fn not_a_capture_is_exit_2() {
    let run = ndbsniff(&["-r", "Cargo.toml"]);
    run.expect_code(2);
    one_line_error(&run, "Cargo.toml: not a pcap or pcapng capture file");
}

#[test]
fn empty_and_tiny_files_are_exit_2() {
    let dir = temp_dir("cli-tiny");
    for (name, bytes) in [("empty.pcap", &b""[..]), ("tiny.pcap", &b"\xd4\xc3"[..])] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let run = ndbsniff(&["-r", p.to_str().unwrap()]);
        run.expect_code(2);
        one_line_error(&run, name);
    }
}

#[test]
fn unsupported_link_type_names_it() {
    let dir = temp_dir("cli-linktype");
    let p = dir.join("radiotap.pcap");
    write_pcap(&p, 127, &[&[0u8; 40]]);
    let run = ndbsniff(&["-r", p.to_str().unwrap()]);
    run.expect_code(2);
    one_line_error(&run, "unsupported link type IEEE802_11_RADIO (127)");
}

#[test]
fn bad_filter_is_exit_2_quoting_it() {
    let dir = temp_dir("cli-filter");
    let p = dir.join("empty-eth.pcap");
    write_pcap(&p, 1, &[]);
    let run = ndbsniff(&["-r", p.to_str().unwrap(), "-f", "tcp port"]);
    run.expect_code(2);
    one_line_error(&run, "bad filter expression \"tcp port\"");
}

#[test]
fn usage_errors_are_exit_2_and_help_is_exit_0() {
    ndbsniff(&["--no-such-flag"]).expect_code(2);
    ndbsniff(&["-r", "x.pcap", "--port", "70000"]).expect_code(2);
    ndbsniff(&["-r", "x.pcap", "--port", "1186", "--any-port"]).expect_code(2);
    let help = ndbsniff(&["--help"]);
    help.expect_code(0);
    assert!(help.stdout().contains("Exit status"), "{}", help.describe());
}

#[test]
fn usage_errors_are_one_line_without_clap_tips() {
    let cases: &[(&[&str], &str)] = &[
        (&["--no-such-flag"], "unexpected argument '--no-such-flag'"),
        (&["-r", "x.pcap", "--port", "0"], "--port"),
        (
            &["-r", "x.pcap", "--port", "-5"],
            "unexpected argument '-5'",
        ),
        (&["-r", "x.pcap", "-c", "0"], "--count"),
        (&["-r", "x.pcap", "-s", "12"], "or 0 for the maximum"),
        (
            &["-r", "x.pcap", "--idle-timeout", "0"],
            "--idle-timeout must be more than 0 seconds",
        ),
        (
            &["-r", "x.pcap", "--tcp-idle-timeout", "0"],
            "--tcp-idle-timeout must be more than 0",
        ),
        (
            &["-r", "x.pcap", "--frag-timeout", "0"],
            "--frag-timeout must be more than 0",
        ),
        (
            &["-r", "x.pcap", "--formt", "json"],
            "did you mean --format?",
        ),
        (
            &["-r", "x.pcap", "--port", "1186", "--any-port"],
            "cannot be used with",
        ),
        (&[], "required"),
    ];
    for (args, needle) in cases {
        let run = ndbsniff(args);
        run.expect_code(2);
        one_line_error(&run, needle);
        assert!(!run.stderr().contains("tip:"), "{}", run.describe());
        assert!(!run.stderr().contains("Usage:"), "{}", run.describe());
        assert!(run.stdout().is_empty(), "{}", run.describe());
    }
}

#[test]
fn a_bare_capture_file_argument_suggests_r() {
    let run = ndbsniff(&["testdata/http-on-3406.pcap"]);
    run.expect_code(2);
    one_line_error(
        &run,
        "testdata/http-on-3406.pcap: a capture file is read with -r (try: ndbsniff -r testdata/http-on-3406.pcap)",
    );
}

#[test]
fn port_lists_and_snaplen_zero_are_accepted() {
    let both = ndbsniff(&[
        "-r",
        "testdata/mixed-3406-and-1186-eth-v4.pcap",
        "--port",
        "1186,3406",
        "--format",
        "json",
    ]);
    both.expect_code(0);
    let repeated = ndbsniff(&[
        "-r",
        "testdata/mixed-3406-and-1186-eth-v4.pcap",
        "--port",
        "1186",
        "--port",
        "3406",
        "--format",
        "json",
    ]);
    assert_eq!(both.stdout(), repeated.stdout());
    assert_eq!(
        both.stats()["watching"],
        "ports 1186, 3406",
        "{}",
        both.describe()
    );
    // -s 0 is tcpdump's "the maximum": accepted (a live-only flag, so a warning with -r).
    let s0 = ndbsniff(&["-r", "testdata/http-on-3406.pcap", "-s", "0", "-q"]);
    s0.expect_code(0);
    assert_eq!(
        s0.stderr(),
        "ndbsniff: warning: -s applies to live capture (-i) only; ignored with -r\n"
    );
}

#[test]
fn flags_that_do_nothing_are_warned_about_once() {
    let run = ndbsniff(&[
        "-r",
        "testdata/http-on-3406.pcap",
        "--format",
        "json",
        "--flows",
        "--audit",
        "-p",
        "--duration",
        "5",
    ]);
    run.expect_code(0);
    let err = run.stderr();
    for needle in [
        "ndbsniff: warning: -p applies to live capture (-i) only; ignored with -r",
        "ndbsniff: warning: --duration applies to live capture (-i) only; ignored with -r",
        "ndbsniff: warning: --flows applies to the text format",
    ] {
        assert_eq!(
            err.matches(needle).count(),
            1,
            "{needle}\n{}",
            run.describe()
        );
    }
    // --audit says nothing: JSON always carries the audit.
    assert_eq!(err.lines().count(), 3, "{}", run.describe());
    // The report itself is unchanged.
    let plain = ndbsniff(&["-r", "testdata/http-on-3406.pcap", "--format", "json"]);
    assert_eq!(run.stdout(), plain.stdout());
    assert!(plain.stderr().is_empty(), "{}", plain.describe());
}

#[test]
fn text_puts_the_table_on_stdout_and_the_summary_on_stderr() {
    let file = "testdata/mixed-ndb-and-lookalikes-eth-v4.pcap";
    let rows = ndbsniff(&["-r", file, "--flows"]);
    rows.expect_code(0);
    let out = rows.stdout();
    // Only the header and one row per flow: `| grep -c ndb-mgm` counts flows.
    let flows = ndbsniff(&["-r", file, "--format", "json"]).flows();
    assert_eq!(out.lines().count(), flows.len() + 1, "{}", rows.describe());
    let ndb = flows.iter().filter(|f| f["verdict"] == "ndb-mgm").count();
    assert_eq!(out.lines().filter(|l| l.contains("ndb-mgm")).count(), ndb);
    let err = rows.stderr();
    assert!(
        err.contains(&format!("{file}: 73 packets read")),
        "{}",
        rows.describe()
    );
    assert!(
        err.contains("flows: 6 (ndb-mgm 2; unknown 4: "),
        "{}",
        rows.describe()
    );
    // -q: no summary, the same table.
    let quiet = ndbsniff(&["-r", file, "--flows", "-q"]);
    quiet.expect_code(0);
    assert_eq!(quiet.stdout(), out);
    assert!(quiet.stderr().is_empty(), "{}", quiet.describe());
    // Errors still reach stderr with -q.
    let missing = ndbsniff(&["-r", "no/such.pcap", "-q"]);
    missing.expect_code(2);
    one_line_error(&missing, "no/such.pcap");
}

#[test]
fn version_names_the_crate_and_libpcap() {
    let run = ndbsniff(&["--version"]);
    run.expect_code(0);
    let v = run.stdout();
    assert!(
        v.starts_with(&format!(
            "ndbsniff {} (libpcap version ",
            env!("CARGO_PKG_VERSION")
        )),
        "{v}"
    );
    assert_eq!(v.lines().count(), 1, "{v}");
}

#[test]
fn the_man_page_and_completions_are_the_committed_ones() {
    let bless = std::env::var_os("NDBSNIFF_BLESS").is_some();
    for (what, file) in [
        ("man", "doc/ndbsniff.1"),
        ("complete-bash", "doc/completions/ndbsniff.bash"),
        ("complete-zsh", "doc/completions/_ndbsniff"),
        ("complete-fish", "doc/completions/ndbsniff.fish"),
    ] {
        let run = ndbsniff(&["--generate", what]);
        run.expect_code(0);
        let path = common::root().join(file);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
            std::fs::write(&path, run.stdout()).expect("write");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == run.stdout(),
            "{file} is not what `ndbsniff --generate {what}` writes now: regenerate it with \
             NDBSNIFF_BLESS=1 cargo test --release --test cli (and review the diff)"
        );
    }
    let man = std::fs::read_to_string(common::root().join("doc/ndbsniff.1")).unwrap_or_default();
    for flag in ["--any-port", "--inspect-bytes", "--generate", "Exit status"] {
        assert!(
            man.contains(&flag.replace('-', "\\-")),
            "the man page lacks {flag}"
        );
    }
}

#[test]
fn garbage_after_header_reports_record_and_offset() {
    let dir = temp_dir("cli-absurd");
    let p = dir.join("absurd.pcap");
    write_pcap(&p, 1, &[]);
    let mut bytes = std::fs::read(&p).unwrap();
    // One record header claiming a 0x7fffffff-byte frame.
    bytes.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f,
    ]);
    std::fs::write(&p, bytes).unwrap();
    let run = ndbsniff(&["-r", p.to_str().unwrap(), "--format", "json"]);
    run.expect_code(2);
    one_line_error(
        &run,
        "absurd.pcap: damaged capture at record 1 at byte offset 24",
    );
    assert_eq!(run.stats()["packets_read"], 0);
}

#[test]
fn a_syn_flood_is_bounded_by_max_flows_and_every_flow_is_reported() {
    let dir = temp_dir("cli-flood");
    let p = dir.join("flood.pcap");
    common::gen(&["synflood", "--count", "20000", "-o", p.to_str().unwrap()]);
    let run = ndbsniff(&[
        "-r",
        p.to_str().unwrap(),
        "--max-flows",
        "1000",
        "--format",
        "json",
    ]);
    run.expect_code(0);
    let stats = run.stats();
    assert_eq!(stats["flows"], 20000, "{stats}");
    let evicted = stats["flows_evicted"].as_u64().unwrap_or(0);
    assert!((19_000..20_000).contains(&evicted), "{stats}");
    let flows = run.flows();
    let by_state = |s: &str| flows.iter().filter(|f| f["state"] == s).count() as u64;
    assert_eq!(by_state("evicted"), evicted);
    assert_eq!(flows.len(), 20000);
    assert!(flows
        .iter()
        .all(|f| f["verdict"] == "unknown" && f["confidence"] == "low"));
}

/// Payload bytes meant to drive a terminal (escape sequences, bell, carriage return, NUL, 0xff)
/// reach the output only escaped, in both formats, and the JSON stays valid.
#[test]
fn hostile_payload_bytes_never_reach_the_output_raw() {
    use ndbsniff_gen::{build_tcp_frame, tcp_flags, Encap, FlowAddr, Link, Side, TcpFields};
    let addr = FlowAddr::v4([198, 51, 100, 9], 40000, [192, 0, 2, 1], 3406);
    let encap = Encap::new(Link::Ethernet);
    let request = b"get nodeid\nuser: \x1b]0;owned\x07\r\x00\xff\x9b2J\nversion: 1\n\n";
    let reply = b"get nodeid reply\nnodeid: \x1b[31m2\x1b[0m\x07\nresult: Ok\r\x00\xff\n\n";
    let mut frames = Vec::new();
    for (side, seq, ack, payload) in [
        (Side::Client, 1000u32, 0u32, &request[..]),
        (Side::Server, 5000, 1000 + request.len() as u32, &reply[..]),
    ] {
        let mut f = Vec::new();
        let tcp = TcpFields {
            seq,
            ack,
            flags: tcp_flags::ACK | tcp_flags::PSH,
            window: 1000,
            syn_mss: 0,
        };
        build_tcp_frame(&mut f, &encap, &addr, side, 1, &tcp, payload).expect("frame");
        frames.push(f);
    }
    let dir = temp_dir("cli-hostile");
    let p = dir.join("hostile.pcap");
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    write_pcap(&p, 1, &refs);
    for format in ["text", "json"] {
        for extra in [&[][..], &["--flows"][..]] {
            let mut args = vec!["-r", p.to_str().unwrap(), "--format", format];
            args.extend_from_slice(extra);
            let run = ndbsniff(&args);
            run.expect_code(0);
            let raw = &run.output.stdout;
            assert!(
                raw.iter().all(|&b| b == b'\n' || (0x20..0x7f).contains(&b)),
                "raw control or non-ASCII byte in output\n{}",
                run.describe()
            );
            assert!(
                run.stdout().contains("\\x1b"),
                "escape byte not shown escaped\n{}",
                run.describe()
            );
            if format == "json" {
                let flows = run.flows();
                assert_eq!(flows.len(), 1, "{}", run.describe());
                assert!(
                    flows[0]["evidence"]
                        .as_str()
                        .unwrap_or("")
                        .contains("\\x1b"),
                    "{}",
                    run.describe()
                );
            }
        }
    }
}

/// The lines of standard error the run itself wrote (`ndbsniff: …`), not the summary's.
fn notes(run: &common::Run) -> Vec<String> {
    run.stderr()
        .lines()
        .filter(|l| l.starts_with("ndbsniff: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn traffic_only_on_other_ports_gets_a_hint_line() {
    let ndb_on_1186 = "testdata/ndb80-datanode-sll-v4-port1186.pcap";
    let hint = "ndbsniff: no packets on port 3406; 26 packets of NDB management traffic on port \
                1186: try --port 1186 or --any-port";
    for args in [
        &["-r", ndb_on_1186][..],
        &["-r", ndb_on_1186, "-q"],
        &["-r", ndb_on_1186, "--format", "json"],
        &["-r", ndb_on_1186, "--reader", "libpcap"],
    ] {
        let run = ndbsniff(args);
        run.expect_code(0);
        assert_eq!(notes(&run), [hint], "{}", run.describe());
        // The hint is for the operator: the output carries none of it.
        assert!(!run.stdout().contains("try --port"), "{}", run.describe());
        // And it comes after the summary.
        assert!(
            run.stderr().trim_end().ends_with(hint),
            "{}",
            run.describe()
        );
    }
    // Taking the hint: the flows are there, and no hint is given.
    let run = ndbsniff(&["-r", ndb_on_1186, "--port", "1186", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.flows().len(), 1, "{}", run.describe());
    assert!(notes(&run).is_empty(), "{}", run.describe());
    // Other traffic elsewhere: the busiest ports are named, and it is said that none of it
    // opens like the management protocol.
    let run = ndbsniff(&["-r", "testdata/http-on-3406.pcap", "--port", "1186"]);
    run.expect_code(0);
    let lines = notes(&run);
    assert_eq!(lines.len(), 1, "{}", run.describe());
    assert!(
        lines[0].starts_with("ndbsniff: no packets on port 1186; ")
            && lines[0].contains("TCP/UDP packets on other ports (most on 3406 (")
            && lines[0].ends_with(
                "none opening like NDB management traffic: --any-port classifies them all"
            ),
        "{}",
        run.describe()
    );
    // Nothing to say: watched traffic was seen, every port was watched, or the user's own
    // filter chose what was read.
    for args in [
        &["-r", "testdata/mixed-3406-and-1186-eth-v4.pcap"][..],
        &["-r", ndb_on_1186, "--any-port"],
        &["-r", ndb_on_1186, "-f", "tcp port 1186"],
    ] {
        let run = ndbsniff(args);
        run.expect_code(0);
        assert!(notes(&run).is_empty(), "{}", run.describe());
    }
}

#[test]
fn capture_threads_are_a_usage_error_outside_live_capture_and_out_of_range() {
    let file = "testdata/http-on-3406.pcap";
    let run = ndbsniff(&["-r", file, "--capture-threads", "2"]);
    run.expect_code(2);
    one_line_error(
        &run,
        "--capture-threads applies to live capture (-i) only; a capture file is read by one thread",
    );
    // Several files too; one thread is what a file always has.
    let run = ndbsniff(&["-r", file, "-r", file, "--capture-threads", "3"]);
    run.expect_code(2);
    one_line_error(&run, "--capture-threads applies to live capture (-i) only");
    ndbsniff(&["-r", file, "--capture-threads", "1"]).expect_code(0);
    for n in ["0", "65"] {
        let run = ndbsniff(&["-r", file, "--capture-threads", n]);
        run.expect_code(2);
        one_line_error(
            &run,
            &format!("invalid value '{n}' for '--capture-threads <N>'"),
        );
    }
    // Refused before any interface is opened: no privilege needed to hear it.
    let run = ndbsniff(&["-i", "lo", "--capture-threads", "2", "-w", "x.pcap"]);
    run.expect_code(2);
    one_line_error(&run, "--capture-threads cannot be used with -w");
    assert!(!std::path::Path::new("x.pcap").exists());
}
