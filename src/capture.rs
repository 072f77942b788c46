//! Capture sources and the capture thread.
//!
//! Owns: opening a `.pcap`/`.pcapng` file (or, later, an interface) with libpcap, applying the BPF
//! filter, and copying frames into recycled [`Batch`]es that travel over a bounded channel to the
//! decoder workers. Offline replay is lossless: the capture thread blocks when the channel is full.
//!
//! Never: parses packets (that is the workers' job), panics on a damaged file, or allocates per
//! packet once the batch pool is warm.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use pcap::{Activated, Capture};

use crate::decode::LinkKind;

/// Packets per batch handed to a worker.
pub const BATCH_PACKETS: usize = 512;
/// Bytes of frame data per batch before it is sent early.
pub const BATCH_BYTES: usize = 512 * 1024;

/// Where one frame of a [`Batch`] lies, and what libpcap said about it.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameMeta {
    /// Capture time, microseconds since the Unix epoch.
    pub ts_us: i64,
    /// Offset of the frame's first byte in [`Batch::data`].
    pub offset: u32,
    /// Captured length (bytes present).
    pub caplen: u32,
    /// Length on the wire.
    pub origlen: u32,
}

/// A group of frames copied into one buffer: one allocation reused for many packets.
#[derive(Debug, Default)]
pub struct Batch {
    pub data: Vec<u8>,
    pub frames: Vec<FrameMeta>,
}

impl Batch {
    pub fn with_capacity() -> Batch {
        Batch { data: Vec::with_capacity(BATCH_BYTES + 65536), frames: Vec::with_capacity(BATCH_PACKETS) }
    }

    /// The captured bytes of one frame.
    pub fn frame(&self, meta: &FrameMeta) -> &[u8] {
        let start = meta.offset as usize;
        self.data.get(start..start + meta.caplen as usize).unwrap_or(&[])
    }

    fn clear(&mut self) {
        self.data.clear();
        self.frames.clear();
    }

    fn push(&mut self, ts_us: i64, frame: &[u8], origlen: u32) {
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.frames.push(FrameMeta { ts_us, offset, caplen: frame.len() as u32, origlen });
    }

    fn is_full(&self) -> bool {
        self.frames.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }
}

/// Why reading a capture failed. Always names the file or interface.
#[derive(Debug, Clone)]
pub struct CaptureError {
    pub source: String,
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

impl std::error::Error for CaptureError {}

/// What the capture thread reports when it stops.
#[derive(Debug, Default, Clone)]
pub struct CaptureReport {
    /// Frames libpcap delivered (after BPF).
    pub packets: u64,
    /// Bytes on the wire of those frames.
    pub bytes: u64,
    /// Frames dropped because the workers were behind (live capture only).
    pub dropped_by_ndbsniff: u64,
    /// A read error that ended the capture early, after `packets` frames.
    pub error: Option<CaptureError>,
}

/// An opened capture file, ready for the capture thread.
pub struct OfflineSource {
    pub path: PathBuf,
    pub link: LinkKind,
    pub dlt: i32,
    capture: Capture<pcap::Offline>,
    /// Classic pcap files allow exact byte offsets in error messages.
    classic_pcap: bool,
}

/// The name libpcap gives a DLT value, e.g. `EN10MB`, with a fallback for unknown numbers.
pub fn dlt_name(dlt: i32) -> String {
    pcap::Linktype(dlt).get_name().unwrap_or_else(|_| "unknown".to_string())
}

fn sniff_magic(path: &Path) -> Result<[u8; 4], CaptureError> {
    let err = |message: String| CaptureError { source: path.display().to_string(), message };
    let mut f = std::fs::File::open(path).map_err(|e| err(io_message(&e)))?;
    if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(err("is a directory, not a capture file".into()));
    }
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(err(io_message(&e))),
        }
    }
    if got == 0 {
        return Err(err("empty file, not a capture file".into()));
    }
    if got < 4 {
        return Err(err(format!("only {got} bytes long, not a capture file")));
    }
    Ok(magic)
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

const PCAP_MAGICS: [[u8; 4]; 6] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x34, 0xcd, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xcd, 0x34],
];

impl OfflineSource {
    /// Opens a capture file and checks that its link type can be decoded.
    pub fn open(path: &Path) -> Result<OfflineSource, CaptureError> {
        let name = path.display().to_string();
        let err = |message: String| CaptureError { source: name.clone(), message };
        let magic = sniff_magic(path)?;
        let classic_pcap = PCAP_MAGICS[..4].contains(&magic);
        let pcapng = magic == [0x0a, 0x0d, 0x0d, 0x0a];
        if !classic_pcap && !pcapng && !PCAP_MAGICS.contains(&magic) {
            let what = if magic[..2] == [0x1f, 0x8b] {
                "gzip-compressed; decompress it first (gunzip)".to_string()
            } else {
                format!(
                    "not a pcap or pcapng capture file (starts with bytes {:02x} {:02x} {:02x} {:02x})",
                    magic[0], magic[1], magic[2], magic[3]
                )
            };
            return Err(err(what));
        }
        let capture = Capture::from_file(path).map_err(|e| err(pcap_message(&e)))?;
        let dlt = capture.get_datalink().0;
        let link = LinkKind::from_dlt(dlt).ok_or_else(|| {
            err(format!(
                "unsupported link type {} ({dlt}); supported: Ethernet, Linux SLL/SLL2, raw IP, NULL, LOOP",
                dlt_name(dlt)
            ))
        })?;
        Ok(OfflineSource { path: path.to_path_buf(), link, dlt, capture, classic_pcap })
    }

    /// Applies a BPF filter expression (libpcap syntax).
    pub fn set_filter(&mut self, expr: &str) -> Result<(), CaptureError> {
        self.capture.filter(expr, true).map_err(|e| CaptureError {
            source: self.path.display().to_string(),
            message: format!("bad filter expression {expr:?}: {}", pcap_message(&e)),
        })
    }

    /// Reads the file to its end (or `limit` packets), sending full batches to `tx`.
    pub fn run(self, pipe: BatchPipe, limit: Option<u64>, stop: &AtomicBool) -> CaptureReport {
        let OfflineSource { path, mut capture, classic_pcap, .. } = self;
        let mut offset: u64 = 24;
        let mut report = read_loop(&mut capture, &pipe, limit, stop, true, |caplen| {
            offset += 16 + caplen as u64;
        });
        if let Some(e) = report.error.as_mut() {
            e.source = path.display().to_string();
            let pos = if classic_pcap {
                format!("record {} at byte offset {}", report.packets + 1, offset)
            } else {
                format!("record {}", report.packets + 1)
            };
            e.message = format!("damaged capture at {pos}: {}", e.message);
        }
        report
    }
}

/// Turns a libpcap error into a short lower-case message without the library's prefixes.
pub fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.trim().to_string(),
        other => other.to_string(),
    }
}

/// The two channels between the capture thread and the workers: full batches out, empty ones back.
pub struct BatchPipe {
    pub full: Sender<Batch>,
    pub empty: Receiver<Batch>,
}

impl BatchPipe {
    fn fresh(&self) -> Batch {
        match self.empty.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Batch::with_capacity(),
        }
    }
}

fn timeval_us(tv: &libc::timeval) -> i64 {
    (tv.tv_sec as i64).saturating_mul(1_000_000).saturating_add(tv.tv_usec as i64)
}

fn read_loop<T: Activated + ?Sized>(
    capture: &mut Capture<T>,
    pipe: &BatchPipe,
    limit: Option<u64>,
    stop: &AtomicBool,
    lossless: bool,
    mut on_record: impl FnMut(u32),
) -> CaptureReport {
    let mut report = CaptureReport::default();
    let mut batch = pipe.fresh();
    let limit = limit.unwrap_or(u64::MAX);
    while report.packets < limit {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match capture.next_packet() {
            Ok(pkt) => {
                on_record(pkt.header.caplen);
                report.packets += 1;
                report.bytes += pkt.header.len as u64;
                batch.push(timeval_us(&pkt.header.ts), pkt.data, pkt.header.len);
                if batch.is_full() {
                    let full = std::mem::replace(&mut batch, pipe.fresh());
                    if !send(pipe, full, lossless, &mut report) {
                        return report;
                    }
                }
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(pcap::Error::TimeoutExpired) => {
                if !batch.frames.is_empty() {
                    let full = std::mem::replace(&mut batch, pipe.fresh());
                    if !send(pipe, full, lossless, &mut report) {
                        return report;
                    }
                }
            }
            Err(e) => {
                report.error = Some(CaptureError { source: String::new(), message: pcap_message(&e) });
                break;
            }
        }
    }
    if !batch.frames.is_empty() {
        send(pipe, batch, lossless, &mut report);
    }
    report
}

/// Sends a batch; returns false when the workers are gone.
fn send(pipe: &BatchPipe, batch: Batch, lossless: bool, report: &mut CaptureReport) -> bool {
    if lossless {
        return pipe.full.send(batch).is_ok();
    }
    match pipe.full.try_send(batch) {
        Ok(()) => true,
        Err(crossbeam_channel::TrySendError::Full(b)) => {
            report.dropped_by_ndbsniff += b.frames.len() as u64;
            true
        }
        Err(crossbeam_channel::TrySendError::Disconnected(_)) => false,
    }
}

/// A flag the capture thread polls between packets.
pub type StopFlag = Arc<AtomicBool>;
