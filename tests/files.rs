//! End-to-end behaviour around files and output: a capture that shrinks while it is read, the
//! `-w` file (mode, symlinks, failed writes), stdout that fails or goes away, and names that
//! must not reach the terminal raw.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{ndbsniff, root, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_ndbsniff");

/// Generates a capture of `packets` small frames with the project's generator.
fn generate(path: &Path, packets: u32) {
    common::gen(&[
        "traffic",
        "--profile",
        "small",
        "--packets",
        &packets.to_string(),
        "--flows",
        &(packets / 24).to_string(),
        "--seed",
        "7",
        "-o",
        path.to_str().expect("utf-8 path"),
    ]);
}

/// The one `ndbsniff: ` line of standard error (the text summary beside it is not counted).
fn one_error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ndbsniff: "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got {stderr:?}");
    assert!(lines[0].starts_with("ndbsniff: "), "{stderr:?}");
    lines[0].to_string()
}

#[test]
fn a_capture_truncated_while_read_is_damage_with_the_partial_report() {
    let dir = temp_dir("files-shrink");
    let path = dir.join("big.pcap");
    generate(&path, 1_000_000);
    let full = std::fs::metadata(&path).expect("stat").len();
    let mut child = Command::new(BIN)
        .args([
            "-r",
            path.to_str().expect("utf-8"),
            "--any-port",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ndbsniff");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    // Output stalls once the pipe is full, and with it the workers and the reader, which stays
    // within a few MiB of what has been printed: far from the middle of this file of about 45 MiB.
    let mut first = String::new();
    out.read_line(&mut first).expect("first line");
    assert!(first.starts_with("{\"type\":\"flow\""), "{first}");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(full / 2 + 5))
        .expect("truncate");
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("rest of stdout");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    let line = one_error_line(&err);
    assert!(
        line.contains(&format!("{}: damaged capture at record ", path.display())),
        "{line}"
    );
    let last = rest.lines().last().expect("a summary");
    let stats: serde_json::Value = serde_json::from_str(last).expect("JSON summary");
    assert_eq!(stats["type"], "stats");
    assert!(stats["error"]
        .as_str()
        .is_some_and(|e| e.contains("damaged capture")));
    let read = stats["packets_read"].as_u64().expect("packets_read");
    assert!(read > 100_000 && read < 1_000_000, "{read} packets read");
}

#[test]
fn the_w_file_is_mode_0600_and_reads_back_the_same() {
    let dir = temp_dir("files-w-mode");
    let input = root().join("testdata/ndb80-listen-pretty-raw-v4-ns.pcap");
    let input = input.to_str().expect("utf-8");
    let out = dir.join("copy.pcap");
    // An existing world-readable file is restricted too.
    std::fs::write(&out, b"old").expect("write");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out_s = out.to_str().expect("utf-8");
    let first = ndbsniff(&["-r", input, "--format", "json", "-w", out_s]);
    first.expect_code(0);
    let mode = std::fs::metadata(&out).expect("stat").permissions().mode();
    assert_eq!(mode & 0o7777, 0o600, "mode {mode:o}");
    let new = dir.join("new.pcap");
    ndbsniff(&["-r", input, "-w", new.to_str().expect("utf-8")]).expect_code(0);
    let mode = std::fs::metadata(&new).expect("stat").permissions().mode();
    assert_eq!(mode & 0o7777, 0o600, "mode {mode:o}");
    // Same flows, nanosecond timestamps and link type (raw IP) when read back.
    let again = ndbsniff(&["-r", out_s, "--format", "json"]);
    again.expect_code(0);
    assert_eq!(first.flows(), again.flows());
    assert_eq!(first.stats()["link_type"], again.stats()["link_type"]);
    let bytes = std::fs::read(&out).expect("read");
    assert_eq!(
        &bytes[..4],
        &0xa1b2_3c4du32.to_ne_bytes(),
        "nanosecond magic"
    );
    if Command::new("tcpdump").arg("--version").output().is_ok() {
        let td = Command::new("tcpdump")
            .args(["-nn", "-r", out_s])
            .output()
            .expect("tcpdump");
        assert!(
            td.status.success(),
            "{}",
            String::from_utf8_lossy(&td.stderr)
        );
    } else {
        common::skip(
            "the_w_file_is_mode_0600_and_reads_back_the_same",
            "tcpdump is not installed (the read-back by tcpdump)",
        );
    }
}

#[test]
fn the_w_file_is_never_written_through_a_symlink() {
    let dir = temp_dir("files-w-symlink");
    let target = dir.join("precious");
    std::fs::write(&target, b"keep me").expect("write");
    let link = dir.join("out.pcap");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let run = ndbsniff(&[
        "-r",
        "testdata/http-on-3406.pcap",
        "-w",
        link.to_str().expect("utf-8"),
    ]);
    run.expect_code(3);
    let line = one_error_line(&run.stderr());
    assert!(
        line.contains(&format!(
            "{}: cannot write: is a symbolic link",
            link.display()
        )),
        "{line}"
    );
    assert_eq!(std::fs::read(&target).expect("read"), b"keep me");
    assert!(run.stdout().is_empty(), "nothing read: {}", run.describe());
}

#[test]
fn a_failed_write_to_the_w_file_is_exit_3_naming_it() {
    let run = ndbsniff(&["-r", "testdata/http-on-3406.pcap", "-w", "/dev/full"]);
    run.expect_code(3);
    let line = one_error_line(&run.stderr());
    assert_eq!(
        line,
        "ndbsniff: /dev/full: cannot write: no space left on device"
    );
    // The report of what was read is still printed (its summary on standard error).
    assert!(run.stderr().contains("packets read"), "{}", run.describe());
}

#[test]
fn a_failed_write_to_stdout_is_exit_3_naming_it() {
    for format in ["text", "json"] {
        let out = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let o = Command::new(BIN)
            .args(["-r", "testdata/http-on-3406.pcap", "--format", format])
            .current_dir(root())
            .stdout(out)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(3), "{format}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            one_error_line(&err),
            "ndbsniff: cannot write to standard output: no space left on device"
        );
    }
}

#[test]
fn a_closed_stdout_is_exit_3_naming_it() {
    let o = Command::new("sh")
        .args(["-c", "exec \"$0\" -r testdata/http-on-3406.pcap >&-", BIN])
        .current_dir(root())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(
        one_error_line(&err),
        "ndbsniff: cannot write to standard output: it is closed"
    );
}

#[test]
fn a_reader_that_goes_away_stops_the_run_quietly() {
    let dir = temp_dir("files-head");
    let path = dir.join("many.pcap");
    generate(&path, 200_000);
    for format in ["text", "json"] {
        let mut args = vec!["-r", path.to_str().expect("utf-8"), "--any-port"];
        args.extend(["--format", format]);
        if format == "text" {
            args.push("--flows");
        }
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start");
        // `| head -1`: one line read, then the pipe is closed.
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("a line");
        drop(out);
        let o = child.wait_with_output().expect("wait");
        assert_eq!(o.status.code(), Some(0), "{format}");
        assert!(
            o.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A name with ESC, an OSC 52 clipboard write (ESC ] 52 ; … BEL) and a right-to-left override.
const EVIL: &str = "x\u{1b}[2J\u{1b}]52;c;aGk=\u{07}\u{202e}gpj.pcap";
const EVIL_ESCAPED: &str = "x\\x1b[2J\\x1b]52;c;aGk=\\x07\\xe2\\x80\\xaegpj.pcap";

fn assert_clean(what: &str, bytes: &[u8]) {
    let s = String::from_utf8_lossy(bytes);
    assert!(
        !bytes.contains(&0x1b) && !bytes.contains(&0x07) && !s.contains('\u{202e}'),
        "{what} holds raw control bytes: {s:?}"
    );
}

#[test]
fn file_and_interface_names_are_escaped_wherever_printed() {
    let dir = temp_dir("files-names");
    let evil = dir.join(EVIL);
    std::fs::copy(root().join("testdata/bad-truncated-record.pcap"), &evil).expect("copy");
    let evil_s = evil.to_str().expect("utf-8");
    let escaped = format!("{}/{EVIL_ESCAPED}", dir.display());
    // Text: summary line and the damage error.
    let run = ndbsniff(&["-r", evil_s]);
    run.expect_code(1);
    assert_clean("stdout", &run.output.stdout);
    assert_clean("stderr", &run.output.stderr);
    assert!(
        run.stderr().contains(&format!("{escaped}: ")),
        "{}",
        run.describe()
    );
    assert!(
        one_error_line(&run.stderr()).starts_with(&format!("ndbsniff: {escaped}: damaged")),
        "{}",
        run.describe()
    );
    // JSON: the source (and the error in the summary) carry the same escaped text.
    let run = ndbsniff(&["-r", evil_s, "--format", "json"]);
    assert_clean("stdout", &run.output.stdout);
    let stats = run.stats();
    assert_eq!(stats["source"], escaped.as_str());
    assert!(stats["error"]
        .as_str()
        .is_some_and(|e| e.starts_with(&escaped)));
    // A missing file, a -w file that cannot be created, an interface that does not exist.
    let missing = dir.join("missing").join(EVIL);
    for args in [
        vec!["-r", missing.to_str().expect("utf-8")],
        vec![
            "-r",
            "testdata/http-on-3406.pcap",
            "-w",
            missing.to_str().expect("utf-8"),
        ],
        vec!["-i", "x\u{1b}]52;c;aGk=\u{07}\u{202e}"],
    ] {
        let run = ndbsniff(&args);
        assert!(matches!(run.code(), Some(2 | 3)), "{}", run.describe());
        assert_clean("stderr", &run.output.stderr);
        let line = one_error_line(&run.stderr());
        assert!(
            line.contains("\\x1b]52;c;aGk=\\x07\\xe2\\x80\\xae"),
            "{line}"
        );
    }
}

#[test]
fn the_w_file_keeps_the_sources_snapshot_length() {
    let dir = temp_dir("files-w-snaplen");
    let src = root().join("testdata/ndb80-show-eth-v4-snaplen128.pcap");
    for reader in ["auto", "libpcap"] {
        let w = dir.join(format!("{reader}.pcap"));
        let run = ndbsniff(&[
            "-r",
            src.to_str().unwrap(),
            "--reader",
            reader,
            "-w",
            w.to_str().unwrap(),
            "-q",
        ]);
        run.expect_code(0);
        let bytes = std::fs::read(&w).unwrap();
        let snaplen = u32::from_ne_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(snaplen, 128, "{reader}");
    }
}
