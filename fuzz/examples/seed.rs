//! Builds the seed corpora of the fuzz targets from the project's own material.
//!
//! `cargo run --release --example seed -- TESTDATA_DIR CORPUS_DIR` writes:
//! * `CORPUS_DIR/pipeline_file/`: a copy of every capture file in TESTDATA_DIR;
//! * `CORPUS_DIR/decode_frame/`: the distinct frames of those captures (at most 100 per file),
//!   each prefixed with its link type's index in `LinkKind::ALL`;
//! * `CORPUS_DIR/probe_streams/`: every conversation of the capture generator's library (NDB
//!   and look-alikes) in the target's input layout, with either side as direction 0, plus
//!   variants with a mid-stream start, small limits and pseudo-random segmentation plans.
//!
//! Only reads TESTDATA_DIR and writes below CORPUS_DIR; never touches anything else.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use ndbsniff_core::decode::LinkKind;
use ndbsniff_gen::{lookalike, ndb, Proto, Side, SplitMix64};

const FRAMES_PER_FILE: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [testdata, corpus] = args.as_slice() else {
        eprintln!("usage: seed TESTDATA_DIR CORPUS_DIR");
        std::process::exit(2);
    };
    let (testdata, corpus) = (Path::new(testdata), Path::new(corpus));
    let captures = capture_files(testdata);
    let n_files = pipeline_file(&captures, &corpus.join("pipeline_file"));
    let n_frames = decode_frame(&captures, &corpus.join("decode_frame"));
    let n_convs = probe_streams(&corpus.join("probe_streams"));
    println!(
        "seeded {} captures, {} frames, {} conversation inputs into {}",
        n_files,
        n_frames,
        n_convs,
        corpus.display()
    );
}

fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    files
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn pipeline_file(captures: &[PathBuf], out: &Path) -> usize {
    for p in captures {
        let bytes = fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("capture");
        write(out, name, &bytes);
    }
    captures.len()
}

fn decode_frame(captures: &[PathBuf], out: &Path) -> usize {
    let mut seen = HashSet::new();
    for p in captures {
        // Damaged files are part of the set; whatever libpcap reads of them is used.
        let Ok(mut cap) = pcap::Capture::from_file(p) else {
            continue;
        };
        let Some(link) = LinkKind::from_dlt(cap.get_datalink().0) else {
            continue;
        };
        let selector = LinkKind::ALL.iter().position(|&k| k == link).unwrap_or(0) as u8;
        let mut taken = 0;
        while taken < FRAMES_PER_FILE {
            let Ok(packet) = cap.next_packet() else {
                break;
            };
            let mut input = Vec::with_capacity(packet.data.len() + 1);
            input.push(selector);
            input.extend_from_slice(packet.data);
            if seen.insert(input.clone()) {
                write(out, &format!("frame-{:05}", seen.len()), &input);
                taken += 1;
            }
        }
    }
    seen.len()
}

/// One probe_streams input: plan bytes, then (direction, u16 length, bytes) records.
fn stream_input(plan: &[u8], messages: &[(u8, &[u8])]) -> Vec<u8> {
    let mut v = vec![u8::try_from(plan.len()).expect("plan fits in 255 bytes")];
    v.extend_from_slice(plan);
    for (dir, bytes) in messages {
        for chunk in bytes.chunks(usize::from(u16::MAX)) {
            v.push(*dir);
            v.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
            v.extend_from_slice(chunk);
        }
    }
    v
}

fn probe_streams(out: &Path) -> usize {
    let mut rng = SplitMix64::new(0x6e64_6273);
    let mut count = 0;
    let library = ndb::CONVERSATIONS.iter().chain(lookalike::CONVERSATIONS);
    for conv in library {
        let script = (conv.build)();
        // Plan layout (arbitrary's encoding of the target's `Plan`): limit index, udp,
        // mid_stream[0], mid_stream[1], then the rest.
        let udp = u8::from(script.proto == Proto::Udp);
        for client_dir in [0u8, 1] {
            let messages: Vec<(u8, &[u8])> = script
                .messages
                .iter()
                .map(|m| {
                    let dir = if m.from == Side::Client {
                        client_dir
                    } else {
                        1 - client_dir
                    };
                    (dir, m.bytes.as_slice())
                })
                .collect();
            let mut plans: Vec<Vec<u8>> = vec![
                if udp == 1 { vec![0, 1] } else { Vec::new() },
                vec![0, udp, 1, 1],
                vec![3, udp],
            ];
            for _ in 0..2 {
                let len = rng.range(8, 96) as usize;
                let mut plan: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
                plan[0] = 0;
                plan[1] = udp;
                plans.push(plan);
            }
            for (i, plan) in plans.iter().enumerate() {
                let name = format!("{}-c{}-p{}", conv.name, client_dir, i);
                write(out, &name, &stream_input(plan, &messages));
                count += 1;
            }
        }
    }
    count
}
