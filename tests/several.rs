//! Several captures read as one (`-r` more than once, a directory): frames merged in capture
//! time order as mergecap joins files, so flows continue across files; each file named in the
//! summary; a damaged file reported while the others are read.

mod common;

use std::path::Path;

use common::{ndbsniff, temp_dir};
use serde_json::Value;

/// The records of a classic little-endian pcap file: (24-byte file header, records with their
/// 16-byte headers).
fn records(path: &Path) -> (Vec<u8>, Vec<Vec<u8>>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{path:?} is not LE pcap"
    );
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(bytes[at..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    (bytes[..24].to_vec(), out)
}

fn write(path: &Path, header: &[u8], recs: &[&Vec<u8>]) {
    let mut b = header.to_vec();
    for r in recs {
        b.extend_from_slice(r);
    }
    std::fs::write(path, b).unwrap();
}

/// The JSON lines without what names the source (`source`, `files`).
fn without_source(run: &common::Run) -> Vec<Value> {
    run.json_lines()
        .into_iter()
        .map(|mut v| {
            if v["type"] == "stats" {
                let o = v.as_object_mut().unwrap();
                o.remove("source");
                o.remove("files");
            }
            v
        })
        .collect()
}

#[test]
fn split_files_give_what_the_whole_capture_gives() {
    let whole = "testdata/mixed-ndb-and-lookalikes-eth-v4.pcap";
    let (header, recs) = records(Path::new(whole));
    let dir = temp_dir("several-split");
    // Cut in the middle (flows continue from one file into the next), and dealt out
    // alternately (the merge must interleave them by time again).
    let half = recs.len() / 2;
    let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
    write(&a, &header, &recs[..half].iter().collect::<Vec<_>>());
    write(&b, &header, &recs[half..].iter().collect::<Vec<_>>());
    let (odd, even) = (dir.join("odd.pcap"), dir.join("even.pcap"));
    write(&odd, &header, &recs.iter().step_by(2).collect::<Vec<_>>());
    write(
        &even,
        &header,
        &recs.iter().skip(1).step_by(2).collect::<Vec<_>>(),
    );
    let reference = ndbsniff(&["-r", whole, "--format", "json"]);
    reference.expect_code(0);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (x, y) in [(&a, &b), (&b, &a), (&odd, &even), (&even, &odd)] {
        let (x, y) = (s(x), s(y));
        for reader in ["auto", "libpcap"] {
            let run = ndbsniff(&["-r", &x, "-r", &y, "--format", "json", "--reader", reader]);
            run.expect_code(0);
            assert_eq!(
                without_source(&run),
                without_source(&reference),
                "{x} + {y}"
            );
            let stats = run.stats();
            assert_eq!(stats["source"], format!("{x}, {y}"));
            let files = stats["files"].as_array().unwrap();
            assert_eq!(files.len(), 2);
            assert_eq!(files[0]["source"], x.as_str());
            let sum: u64 = files
                .iter()
                .map(|f| f["packets_read"].as_u64().unwrap())
                .sum();
            assert_eq!(sum, recs.len() as u64);
        }
    }
    // A directory: its capture files in name order (a.pcap, b.pcap); other files left out.
    std::fs::remove_file(&odd).unwrap();
    std::fs::remove_file(&even).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a capture\n").unwrap();
    std::fs::write(dir.join(".hidden.pcap"), &header).unwrap();
    let run = ndbsniff(&["-r", &s(&dir), "--format", "json"]);
    run.expect_code(0);
    assert_eq!(without_source(&run), without_source(&reference));
    let stats = run.stats();
    let names: Vec<&str> = stats["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source"].as_str().unwrap())
        .collect();
    assert_eq!(names, [s(&a), s(&b)]);
    // Text names each file under the summary's first line.
    let run = ndbsniff(&["-r", &s(&a), "-r", &s(&b)]);
    run.expect_code(0);
    let err = run.stderr();
    assert!(err.contains(&format!("\n  file {}: ", s(&a))), "{err}");
    assert!(err.contains(&format!("\n  file {}: ", s(&b))), "{err}");
}

#[test]
fn files_of_different_link_types_are_each_decoded_as_theirs() {
    let files = [
        "testdata/ndb80-show-eth-v4.pcap",
        "testdata/ndb80-nodeid-sll2-v6.pcapng",
        "testdata/ndb-errors-loop-v6.pcap",
        "testdata/tunnel-vxlan-v4.pcap",
    ];
    let mut args = Vec::new();
    let mut flows = 0;
    for f in files {
        args.extend(["-r", f]);
        let one = ndbsniff(&["-r", f, "--format", "json"]);
        flows += one.flows().len();
    }
    args.extend(["--format", "json"]);
    let run = ndbsniff(&args);
    run.expect_code(0);
    assert_eq!(run.flows().len(), flows, "{}", run.describe());
    let stats = run.stats();
    assert_eq!(stats["packets_not_decoded"], 0, "{}", run.describe());
    assert_eq!(
        stats["link_type"],
        "EN10MB (1), LINUX_SLL2 (276), LOOP (108)"
    );
    // One pcap file holds one link type: -w refuses the mix before reading.
    let dir = temp_dir("several-w");
    let w = dir.join("out.pcap");
    let run = ndbsniff(&["-r", files[0], "-r", files[1], "-w", w.to_str().unwrap()]);
    run.expect_code(2);
    assert!(
        run.stderr().contains(
            "cannot write one pcap file from captures of link types EN10MB (1), LINUX_SLL2 (276)"
        ),
        "{}",
        run.describe()
    );
    // Of one link type, the merged frames are written in time order.
    let run = ndbsniff(&[
        "-r",
        files[0],
        "-r",
        files[3],
        "-w",
        w.to_str().unwrap(),
        "--format",
        "json",
    ]);
    run.expect_code(0);
    let again = ndbsniff(&["-r", w.to_str().unwrap(), "--format", "json"]);
    again.expect_code(0);
    assert_eq!(again.flows(), run.flows());
}

#[test]
fn a_damaged_file_among_several_is_reported_and_the_others_read() {
    let good = "testdata/ndb80-nodeid-sll2-v6.pcapng";
    let bad = "testdata/bad-truncated-record.pcap";
    let run = ndbsniff(&["-r", bad, "-r", good, "--format", "json"]);
    run.expect_code(1);
    let stderr = run.stderr();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ndbsniff: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.describe());
    assert!(
        errors[0].starts_with(&format!("ndbsniff: {bad}: damaged capture")),
        "{errors:?}"
    );
    let stats = run.stats();
    let files = stats["files"].as_array().unwrap();
    assert!(files[0]["error"]
        .as_str()
        .unwrap()
        .contains("damaged capture"));
    assert!(files[1].get("error").is_none());
    // The good file was read to its end.
    let alone = ndbsniff(&["-r", good, "--format", "json"]);
    assert_eq!(files[1]["packets_read"], alone.stats()["packets_read"]);
    // Errors before reading name the file, and nothing is read.
    let run = ndbsniff(&["-r", good, "-r", "no/such.pcap"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("no/such.pcap: no such file"),
        "{}",
        run.describe()
    );
}
