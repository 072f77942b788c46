//! Captures that can be read only once: standard input (`-r -`), a FIFO (`-r <(…)`), and what
//! goes wrong there; each must give what the same capture read as a file gives.

mod common;

use std::io::Write;

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(common::root().join("testdata").join(name)).expect("read a bundled capture")
}

/// JSON lines with the parts that name the source taken out (`source`).
fn without_source(run: &common::Run) -> Vec<serde_json::Value> {
    run.json_lines()
        .into_iter()
        .map(|mut v| {
            if v["type"] == "stats" {
                v.as_object_mut().map(|o| o.remove("source"));
            }
            v
        })
        .collect()
}

#[test]
fn standard_input_gives_what_the_file_gives() {
    for name in [
        "audit-ndb_mgm-session.pcap",
        "ndb80-nodeid-sll2-v6.pcapng",
        "mixed-ndb-and-lookalikes-eth-v4.pcap",
    ] {
        let path = format!("testdata/{name}");
        let file = common::ndbsniff(&["-r", &path, "--format", "json", "--threads", "1"]);
        file.expect_code(0);
        let piped = common::ndbsniff_stdin(
            &["-r", "-", "--format", "json", "--threads", "1"],
            capture(name),
        );
        piped.expect_code(0);
        assert_eq!(without_source(&piped), without_source(&file), "{name}");
        assert_eq!(piped.stats()["source"], "stdin", "{}", piped.describe());
        // Text names it too.
        let text = common::ndbsniff_stdin(&["-r", "-"], capture(name));
        text.expect_code(0);
        assert!(text.stderr().contains("\nstdin: "), "{}", text.describe());
    }
}

#[test]
fn a_fifo_is_read_once_as_a_stream() {
    let dir = common::temp_dir("inputs-fifo");
    let fifo = dir.join("capture.fifo");
    nix::unistd::mkfifo(
        &fifo,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .expect("mkfifo");
    let bytes = capture("audit-hostile.pcap");
    let path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the FIFO for writing");
        let _ = f.write_all(&bytes);
    });
    let fifo_s = fifo.to_str().expect("utf-8 path");
    let run = common::ndbsniff(&["-r", fifo_s, "--format", "json", "--threads", "1"]);
    let _ = writer.join();
    run.expect_code(0);
    let file = common::ndbsniff(&[
        "-r",
        "testdata/audit-hostile.pcap",
        "--format",
        "json",
        "--threads",
        "1",
    ]);
    assert_eq!(without_source(&run), without_source(&file));
}

#[test]
fn bad_streams_are_one_line_errors() {
    let cases: Vec<(Vec<u8>, i32, &str)> =
        vec![
        (Vec::new(), 2, "ndbsniff: stdin: empty file, not a capture file"),
        (b"ab".to_vec(), 2, "ndbsniff: stdin: only 2 bytes long, not a capture file"),
        (
            b"garbage here".to_vec(),
            2,
            "ndbsniff: stdin: not a pcap or pcapng capture file (starts with bytes 67 61 72 62)",
        ),
        (
            vec![0xfd, b'7', b'z', b'X', b'Z', 0],
            2,
            "ndbsniff: stdin: xz-compressed; decompress it first (xz -d)",
        ),
        (
            b"BZh91AY&SY".to_vec(),
            2,
            "ndbsniff: stdin: bzip2-compressed; decompress it first (bunzip2)",
        ),
    ];
    for (input, code, line) in cases {
        let run = common::ndbsniff_stdin(&["-r", "-"], input);
        run.expect_code(code);
        assert_eq!(run.stderr().trim_end(), line, "{}", run.describe());
    }
    // Cut inside a record: what came before is reported, then the damage, exit 1.
    let mut cut = capture("audit-hostile.pcap");
    cut.truncate(3000);
    let run = common::ndbsniff_stdin(&["-r", "-", "--format", "json"], cut);
    run.expect_code(1);
    assert!(
        run.stderr()
            .starts_with("ndbsniff: stdin: damaged capture at record 25"),
        "{}",
        run.describe()
    );
    assert!(!run.flows().is_empty(), "{}", run.describe());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("compress");
    e.finish().expect("compress")
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

#[test]
fn gzip_and_zstd_are_read_by_content_from_files_and_standard_input() {
    let dir = common::temp_dir("inputs-compressed");
    for name in ["audit-ndb_mgm-session.pcap", "ndb80-nodeid-sll2-v6.pcapng"] {
        let path = format!("testdata/{name}");
        let file = common::ndbsniff(&["-r", &path, "--format", "json", "--threads", "1"]);
        file.expect_code(0);
        let raw = capture(name);
        for (kind, packed) in [("gz", gzip(&raw)), ("zst", zstd(&raw))] {
            // A name that says nothing: the content decides.
            let out = dir.join(format!("{name}.{kind}.bin"));
            std::fs::write(&out, &packed).expect("write");
            let out_s = out.to_str().expect("utf-8 path");
            let run = common::ndbsniff(&["-r", out_s, "--format", "json", "--threads", "1"]);
            run.expect_code(0);
            assert_eq!(without_source(&run), without_source(&file), "{name} {kind}");
            let piped =
                common::ndbsniff_stdin(&["-r", "-", "--format", "json", "--threads", "1"], packed);
            piped.expect_code(0);
            assert_eq!(
                without_source(&piped),
                without_source(&file),
                "{name} {kind} stdin"
            );
        }
    }
    // Compressed bytes that are not a capture inside.
    let run = common::ndbsniff_stdin(&["-r", "-"], gzip(b"hello, this is text"));
    run.expect_code(2);
    assert_eq!(
        run.stderr().trim_end(),
        "ndbsniff: stdin: not a pcap or pcapng capture file (starts with bytes 68 65 6c 6c)"
    );
}
