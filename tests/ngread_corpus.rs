//! Every pcapng capture of the shared corpus (`../shared/pcaps`, or the folder `$NDBSNIFF_PCAPS`
//! names; skipped with a `SKIPPED` line when there is none), read to the end with
//! [`ndbsniff::capture::ngread`]: the frame count of every file that ends cleanly is the one
//! `INDEX.tsv` gives, the frames of every file libpcap reads without an error are libpcap's frame
//! for frame, and the files that end damaged are exactly the known damaged ones.

mod common;

use std::io::Read;
use std::path::Path;

use ndbsniff::capture::ngread::{NgDamage, NgFile, NgNext};

/// The pcapng files of the corpus that are damaged, and what the reader says about them. Each is
/// refused by libpcap and by Wireshark's `capinfos` as well:
/// - `pcapng-invalid-vers-1.pcapng`: its section header says version 0.1 (libpcap: "unsupported
///   pcapng savefile version 0.1"; capinfos: "unknown SHB version 0.1");
/// - `pcapng-invalid-vers-2.pcapng`: the same with version 1.1;
/// - `shb-option-too-long.pcapng`: the section header's options overrun the block, whose trailer
///   is option bytes (`0x30303030`) instead of its length (libpcap: "block total length in header
///   and trailer don't match"; capinfos: "Not enough data to handle option of length 12336").
const KNOWN_DAMAGED: &[(&str, &str)] = &[
    (
        "libpcap/tests/pcapng-invalid-vers-1.pcapng",
        "unsupported pcapng version 0.1",
    ),
    (
        "libpcap/tests/pcapng-invalid-vers-2.pcapng",
        "unsupported pcapng version 1.1",
    ),
    (
        "libpcap/tests/shb-option-too-long.pcapng",
        "block length 52 in the header but 808464432 in the trailer",
    ),
];

/// A frame as owned values: microseconds, captured bytes, length on the wire.
type Frame = (i64, Vec<u8>, u32);

/// The frames read, and the damage that stopped the reading (`None`: a clean end).
fn read_ng(input: Box<dyn Read + Send>) -> (Vec<Frame>, Option<NgDamage>) {
    let mut f = match NgFile::open(input) {
        Ok(f) => f,
        Err(d) => return (Vec::new(), Some(d)),
    };
    let mut frames = Vec::new();
    loop {
        match f.next() {
            NgNext::Frame(fr) => frames.push((fr.ts_us, fr.data.to_vec(), fr.origlen)),
            NgNext::End => return (frames, None),
            NgNext::Damaged(d) => return (frames, Some(d)),
        }
    }
}

/// The frames libpcap reads (at its default microsecond precision), or its error.
fn read_libpcap(path: &Path) -> Result<Vec<Frame>, String> {
    let mut cap = pcap::Capture::from_file(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let ts = p.header.ts;
                // time_t and suseconds_t are not i64 on every platform.
                #[allow(clippy::unnecessary_cast)]
                let us = ts.tv_sec as i64 * 1_000_000 + ts.tv_usec as i64;
                out.push((us, p.data.to_vec(), p.header.len));
            }
            Err(pcap::Error::NoMorePackets) => return Ok(out),
            Err(e) => return Err(format!("after {} frames: {e}", out.len())),
        }
    }
}

#[test]
fn every_shared_pcapng_reads_to_the_end() {
    let dir = match common::shared_pcaps() {
        Ok(dir) => dir,
        Err(why) => return common::skip("every_shared_pcapng_reads_to_the_end", &why),
    };
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("read INDEX.tsv");
    let mut files = 0u64;
    let mut frames_total = 0u64;
    let mut libpcap_refused = 0u64;
    let mut damaged = Vec::new();
    let mut wrong = Vec::new();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (rel, format) = match cols.as_slice() {
            [rel, _, format, ..] => (*rel, *format),
            _ => continue,
        };
        let gz = format.starts_with("gzip+pcapng");
        if !(gz || format.starts_with("pcapng")) {
            continue;
        }
        let packets: u64 = match cols.get(5).and_then(|p| p.parse().ok()) {
            Some(p) => p,
            None => panic!("INDEX.tsv: {rel}: no packets column"),
        };
        let path = dir.join(rel);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let input: Box<dyn Read + Send> = if gz {
            Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
        } else {
            Box::new(std::io::BufReader::new(file))
        };
        let (frames, end) = read_ng(input);
        files += 1;
        frames_total += frames.len() as u64;
        if let Some(d) = end {
            println!("damaged: {rel} after {} frames: {d}", frames.len());
            damaged.push((rel.to_string(), d));
            continue;
        }
        if frames.len() as u64 != packets {
            wrong.push(format!(
                "{rel}: {} frames, INDEX.tsv says {packets}",
                frames.len()
            ));
        }
        if gz {
            continue;
        }
        match read_libpcap(&path) {
            Ok(theirs) => {
                if theirs.len() != frames.len() {
                    wrong.push(format!(
                        "{rel}: {} frames, libpcap {}",
                        frames.len(),
                        theirs.len()
                    ));
                } else if let Some(i) = (0..frames.len()).find(|&i| frames[i] != theirs[i]) {
                    wrong.push(format!(
                        "{rel}: frame {i} differs from libpcap's: {:?} vs {:?}",
                        (frames[i].0, frames[i].1.len(), frames[i].2),
                        (theirs[i].0, theirs[i].1.len(), theirs[i].2)
                    ));
                }
            }
            Err(_) => libpcap_refused += 1,
        }
    }
    println!(
        "ngread corpus: {files} pcapng files read, {frames_total} frames, {} damaged; \
         {libpcap_refused} of the clean ones libpcap stops on",
        damaged.len()
    );
    assert!(files > 300, "only {files} pcapng files in INDEX.tsv");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for (rel, d) in &damaged {
        let known = KNOWN_DAMAGED.iter().find(|(p, _)| p == rel);
        assert_eq!(
            known.map(|(_, what)| *what),
            Some(d.what.as_str()),
            "{rel}: damaged, and not as known: {d}"
        );
    }
    assert!(damaged.len() <= KNOWN_DAMAGED.len());
}
