//! Several captures read as one: `-r` given more than once, or a directory.
//!
//! Owns: expanding the `-r` arguments (a directory gives its capture files in name order), and
//! the k-way merge that hands the router the frames of every file in capture-time order, as
//! mergecap joins files (ties go to the file named first), so a flow that continues from one
//! file into the next is one flow. Each file keeps its own link type and BPF program; the router
//! is told the link type of every frame it gets. A damaged file ends there, with its error, and
//! the others are read to their end.
//!
//! Never: holds more than one frame per file (each file's next frame is copied into its own
//! buffer, reused), or opens a file more than once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use ndbsniff_core::decode::{LinkKind, SkipReason};
use ndbsniff_core::escape::escape_path;

use super::dump::Dump;
use super::ngread::NgNext;
use super::pcapfile::Next;
use super::pcapng::{link_index, LinkState, Pending};
use super::{
    dlt_name, is_stream, passes, publish_counts, sniff_magic, timeval_us, CaptureError,
    CaptureErrorKind, CaptureReport, Classic, Compression, Failure, FileSummary, Handle,
    LiveCounters, Source, PCAP_MAGICS,
};
use crate::pipeline::Router;

/// The capture files the `-r` arguments name: each file as given, each directory's capture
/// files (regular files, not hidden, whose first bytes are pcap, pcapng, gzip or zstd) in name
/// order. A directory with none is an error naming it.
pub fn expand_inputs(args: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut files = Vec::new();
    for arg in args {
        let is_dir = !is_stream(arg) && std::fs::metadata(arg).is_ok_and(|m| m.is_dir());
        if !is_dir {
            files.push(arg.clone());
            continue;
        }
        let err = |kind| CaptureError::new(escape_path(arg), kind);
        let mut found: Vec<PathBuf> = std::fs::read_dir(arg)
            .map_err(|e| err(CaptureErrorKind::Open(e)))?
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
            .filter(|e| e.metadata().is_ok_and(|m| m.is_file()))
            .map(|e| e.path())
            .filter(|p| looks_like_a_capture(p))
            .collect();
        if found.is_empty() {
            return Err(err(CaptureErrorKind::NoCaptures));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Whether a file's first bytes start a capture (or a gzip or zstd stream, which may hold one).
fn looks_like_a_capture(p: &Path) -> bool {
    sniff_magic(p).is_ok_and(|m| {
        PCAP_MAGICS.contains(&m) || m == [0x0a, 0x0d, 0x0d, 0x0a] || Compression::of(m).is_some()
    })
}

/// One frame of a file, copied out of it, waiting for its turn in the merge.
#[derive(Default)]
struct Head {
    /// The frame's link type when it is not the file's (a pcapng interface's).
    link: Option<LinkKind>,
    ts_us: i64,
    ts_sec: u32,
    /// The stored fraction: microseconds, or nanoseconds when the file has them.
    ts_frac: u32,
    origlen: u32,
    data: Vec<u8>,
}

/// One file of the merge.
struct Part {
    name: String,
    link: LinkKind,
    dlt: i32,
    nanos: bool,
    classic_pcap: bool,
    handle: Handle,
    head: Head,
    has_head: bool,
    packets: u64,
    bytes: u64,
    /// Bytes of a classic pcap file read through libpcap so far (for its damage offset).
    offset: u64,
    failure: Option<Failure>,
}

impl Part {
    fn of(source: Source) -> Part {
        Part {
            name: source.name,
            link: source.link,
            dlt: source.dlt,
            nanos: source.nanos,
            classic_pcap: source.classic_pcap,
            handle: source.handle,
            head: Head::default(),
            has_head: false,
            packets: 0,
            bytes: 0,
            offset: 24,
            failure: None,
        }
    }

    /// Reads this file's next frame that passes its filter into `head` (frames the filter turns
    /// away go to the router's tally, as the single-file loops do).
    fn pull(&mut self, router: &mut Router<'_>) {
        self.has_head = false;
        if self.failure.is_some() {
            return;
        }
        router.set_link(self.link);
        let head = &mut self.head;
        head.link = None;
        match &mut self.handle {
            Handle::Classic(m) => {
                pull_classic(m, router, head, &mut self.has_head, &mut self.failure)
            }
            Handle::File(c, filter) => loop {
                match c.next_packet() {
                    Ok(pkt) => {
                        self.offset += 16 + u64::from(pkt.header.caplen);
                        if !passes(filter.as_ref(), router, pkt.data) {
                            continue;
                        }
                        head.ts_us = timeval_us(&pkt.header.ts, self.nanos);
                        #[allow(clippy::unnecessary_cast)]
                        {
                            head.ts_sec = pkt.header.ts.tv_sec as u32;
                            head.ts_frac = pkt.header.ts.tv_usec as u32;
                        }
                        head.origlen = pkt.header.len;
                        head.data.clear();
                        head.data.extend_from_slice(pkt.data);
                        self.has_head = true;
                        return;
                    }
                    Err(pcap::Error::NoMorePackets) => return,
                    Err(e) => {
                        self.failure = Some(Failure::of_libpcap(&e, false));
                        return;
                    }
                }
            },
            Handle::Ng(ng) => loop {
                // The frame read when the file was opened comes first.
                let pending = match ng.pending.take() {
                    Some(Pending::End) => return,
                    Some(Pending::Damaged(d)) => {
                        self.failure = Some(Failure::Pcapng(d));
                        return;
                    }
                    Some(Pending::Frame(f)) => Some(f),
                    None => None,
                };
                let taken = match &pending {
                    Some(f) => {
                        let i = link_index(&mut ng.links, ng.plan.as_ref(), f.linktype);
                        let meta = (f.ts_us, f.ts_sec, f.ts_nsec, f.origlen);
                        ng_frame(&ng.links[i], router, head, meta, &f.data, &mut self.packets)
                    }
                    None => {
                        let f = match ng.file.next() {
                            NgNext::Frame(f) => f,
                            NgNext::End => return,
                            NgNext::Damaged(d) => {
                                self.failure = Some(Failure::Pcapng(d));
                                return;
                            }
                        };
                        let i = link_index(&mut ng.links, ng.plan.as_ref(), f.linktype);
                        let meta = (f.ts_us, f.ts_sec, f.ts_nsec, f.origlen);
                        ng_frame(&ng.links[i], router, head, meta, f.data, &mut self.packets)
                    }
                };
                if taken {
                    self.has_head = true;
                    return;
                }
            },
            // Opened files only: a live interface or a merge is never a part.
            Handle::Live(_) | Handle::Merge(_) => {}
        }
    }

    /// The file's report line and, when it was damaged, its error.
    fn finish(self) -> (FileSummary, Option<CaptureError>) {
        let record = self.packets + 1;
        let error = self.failure.map(|f| {
            let kind = f.into_kind(record, self.classic_pcap.then_some(self.offset));
            CaptureError::new(self.name.clone(), kind)
        });
        let report = FileSummary {
            source: self.name,
            link_type: format!("{} ({})", dlt_name(self.dlt), self.dlt),
            packets_read: self.packets,
            bytes_read: self.bytes,
            error: error.as_ref().map(|e| e.kind.to_string()),
        };
        (report, error)
    }
}

/// One pcapng frame of link `l` into `head`: true when it is taken; false when its link type
/// is not decoded (counted in `packets` and by the router) or the filter turned it away.
fn ng_frame(
    l: &LinkState,
    router: &mut Router<'_>,
    head: &mut Head,
    (ts_us, ts_sec, ts_nsec, origlen): (i64, u32, u32, u32),
    data: &[u8],
    packets: &mut u64,
) -> bool {
    let Some(kind) = l.kind else {
        // A link type the decoder does not handle: read, counted, not decoded.
        *packets += 1;
        router.skip(SkipReason::UnsupportedLink);
        return false;
    };
    router.set_link(kind);
    if l.reject || !passes(l.filter.as_ref(), router, data) {
        return false;
    }
    head.link = Some(kind);
    head.ts_us = ts_us;
    head.ts_sec = ts_sec;
    head.ts_frac = ts_nsec;
    head.origlen = origlen;
    head.data.clear();
    head.data.extend_from_slice(data);
    true
}

fn pull_classic(
    m: &mut Classic,
    router: &mut Router<'_>,
    head: &mut Head,
    has_head: &mut bool,
    failure: &mut Option<Failure>,
) {
    loop {
        let rec = match m.file.next_record() {
            Next::Record(r) => r,
            Next::End => return,
            Next::Damaged(d) => {
                *failure = Some(Failure::Block(d));
                return;
            }
        };
        let frame = m
            .file
            .block()
            .get(rec.offset..rec.offset + rec.caplen as usize)
            .unwrap_or(&[]);
        if !passes(m.filter.as_ref(), router, frame) {
            continue;
        }
        head.ts_us = rec.ts_us;
        head.ts_sec = rec.ts_sec;
        head.ts_frac = rec.ts_frac;
        head.origlen = rec.origlen;
        head.data.clear();
        head.data.extend_from_slice(frame);
        *has_head = true;
        return;
    }
}

/// Reads every part to its end (or `limit` frames, or `stop`) in capture-time order.
pub(super) fn read_merged(
    parts: Vec<Source>,
    router: &mut Router<'_>,
    limit: Option<u64>,
    stop: &AtomicBool,
    counters: &LiveCounters,
    savefile: &mut Option<Dump>,
    dump_nanos: bool,
) -> CaptureReport {
    let mut parts: Vec<Part> = parts.into_iter().map(Part::of).collect();
    let mut report = CaptureReport::default();
    let limit = limit.unwrap_or(u64::MAX);
    for p in &mut parts {
        p.pull(router);
    }
    let mut current: Option<usize> = None;
    while report.packets < limit && router.alive() {
        // The earliest head; ties go to the file named first. Files are few: a scan is cheaper
        // than a heap for them.
        let next = parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.has_head)
            .min_by_key(|(i, p)| (p.head.ts_us, *i))
            .map(|(i, _)| i);
        let Some(i) = next else { break };
        let p = &mut parts[i];
        if current != Some(i) || p.head.link.is_some() {
            router.set_link(p.head.link.unwrap_or(p.link));
            current = Some(i);
        }
        if let Some(dump) = savefile.as_mut() {
            let frac = match (dump_nanos, p.nanos) {
                (true, false) => p.head.ts_frac.saturating_mul(1000),
                (false, true) => p.head.ts_frac / 1000,
                _ => p.head.ts_frac,
            };
            if !dump.write(p.head.ts_sec, frac, p.head.origlen, &p.head.data) {
                break;
            }
        }
        report.packets += 1;
        report.bytes += u64::from(p.head.origlen);
        report.last_us = p.head.ts_us;
        p.packets += 1;
        p.bytes += u64::from(p.head.origlen);
        router.frame(p.head.ts_us, &p.head.data, p.head.origlen, None);
        if report.packets % 4096 == 0 {
            publish_counts(&report, counters);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        // Pulling set the router to this file's link type (for frames the filter turned away).
        p.pull(router);
    }
    router.finish();
    publish_counts(&report, counters);
    for p in parts {
        let (file, error) = p.finish();
        if report.error.is_none() {
            report.error = error;
        }
        report.files.push(file);
    }
    report
}
