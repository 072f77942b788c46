//! Capture sources and the capture thread.
//!
//! Owns: opening a `.pcap`/`.pcapng` file (or several, [`merge`]) or a live interface, applying
//! the BPF filter (one program per link type, [`pcapng::FilterPlan`]), optionally writing what
//! passes it to a pcap file (`-w`, [`crate::capture::dump`]), and handing every frame to the
//! [`Router`], which decodes it and batches it for the flow workers. Live capture and
//! `--reader libpcap` go through libpcap; pcapng files are read by [`ngread`] ([`pcapng`]).
//! Offline replay is lossless: the capture thread blocks when a worker's queue is full. Live
//! capture never blocks: a batch a worker cannot take is dropped and counted. Classic pcap files
//! are read in large blocks ([`crate::capture::pcapfile`]) whose frames the workers read in place.
//!
//! Never: panics on a damaged file (or one that shrinks while read), copies a frame of a classic
//! pcap file, allocates per packet once the batch pool is warm, or prints a file or interface
//! name unescaped ([`Source::name`] and [`CaptureError::name`] are escaped).

pub mod dump;
pub mod error;
pub mod fanout;
pub mod filter;
pub mod merge;
pub mod ngread;
pub mod pcapfile;
pub mod pcapng;

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcap::{Activated, Capture};

use crate::capture::dump::Dump;
use crate::capture::pcapfile::{Damaged, Next, PcapFile};
use crate::pipeline::Router;
pub use error::{io_message, CaptureError, CaptureErrorKind, Damage, Step};
pub use merge::expand_inputs;
use ndbsniff_core::decode::LinkKind;
use ndbsniff_core::escape::{escape_name, escape_path};
pub use ndbsniff_core::report::FileSummary;
pub use pcapng::FilterPlan;

/// The largest snapshot length (bytes captured per frame): libpcap's ceiling, the default of
/// live captures (`-s`), and the one given to files read through libpcap.
pub const MAX_SNAPLEN: i32 = pcapfile::MAX_CAPLEN as i32;

/// What the capture thread reports when it stops.
#[derive(Debug, Default)]
pub struct CaptureReport {
    /// Frames libpcap delivered (after BPF).
    pub packets: u64,
    /// Bytes on the wire of those frames.
    pub bytes: u64,
    /// The capture time of the last of them, microseconds since the Unix epoch (0 when none).
    pub last_us: i64,
    /// Frames dropped because the workers were behind (live capture only).
    pub dropped_by_ndbsniff: u64,
    /// A read error that ended the capture early, after `packets` frames.
    pub error: Option<CaptureError>,
    /// Writing the `-w` file failed (the capture stopped there).
    pub write_error: Option<CaptureError>,
    /// Several files read as one: each file's counts and error, in the order given.
    pub files: Vec<FileSummary>,
    /// A pcapng file: the link types of its interfaces met, as libpcap's DLT values.
    pub link_types: Vec<i32>,
    /// Frames not written to the `-w` file because their link type is not the file's.
    pub not_written: u64,
}

/// Counters the capture thread publishes while it runs, for periodic statistics.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Frames read; stored after `last_us` with release ordering, so a reader that loads it
    /// (acquire) and sees a frame also sees a time at least as recent as that frame's.
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// The capture time of the last frame counted in `packets`, microseconds since the epoch.
    pub last_us: AtomicI64,
    pub dropped_by_ndbsniff: AtomicU64,
    /// libpcap's statistics (live captures): received, dropped by the kernel, by the interface.
    pub kernel_received: AtomicU64,
    pub kernel_dropped: AtomicU64,
    pub interface_dropped: AtomicU64,
    pub have_kernel_stats: AtomicBool,
}

/// libpcap's own description of itself, e.g. `libpcap version 1.10.3 (with TPACKET_V3)`
/// (`pcap_lib_version`, which the pcap crate does not expose).
pub fn libpcap_version() -> String {
    extern "C" {
        fn pcap_lib_version() -> *const std::os::raw::c_char;
    }
    // SAFETY: pcap_lib_version takes nothing and returns a pointer to a static NUL-terminated
    // string owned by libpcap (never freed), or NULL in no known version.
    let p = unsafe { pcap_lib_version() };
    if p.is_null() {
        return "libpcap version unknown".to_string();
    }
    // SAFETY: non-NULL: a static C string, read once here.
    let text = unsafe { std::ffi::CStr::from_ptr(p) };
    escape_name(&text.to_string_lossy())
}

/// The snapshot length libpcap read from a capture file's header (pcap) or first interface
/// (pcapng): `pcap_snapshot`, which the pcap crate does not expose.
fn snapshot_length<T: pcap::State + ?Sized>(capture: &Capture<T>) -> i32 {
    extern "C" {
        fn pcap_snapshot(p: *mut std::ffi::c_void) -> std::os::raw::c_int;
    }
    // SAFETY: the handle is open for as long as `capture` lives; pcap_snapshot only reads an
    // int field of it.
    unsafe { pcap_snapshot(capture.as_ptr().cast()) }
}

/// The name libpcap gives a DLT value, e.g. `EN10MB`, with a fallback for unknown numbers.
pub fn dlt_name(dlt: i32) -> String {
    pcap::Linktype(dlt)
        .get_name()
        .unwrap_or_else(|_| "unknown".to_string())
}

fn sniff_magic(path: &Path) -> Result<[u8; 4], CaptureError> {
    let err = |kind| CaptureError::new(escape_path(path), kind);
    let mut f = std::fs::File::open(path).map_err(|e| err(CaptureErrorKind::Open(e)))?;
    if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(err(CaptureErrorKind::Directory));
    }
    read_magic(&mut f, &escape_path(path))
}

/// The first four bytes of a capture being read, or why there are none.
fn read_magic(f: &mut impl Read, name: &str) -> Result<[u8; 4], CaptureError> {
    let err = |kind| CaptureError::new(name.to_string(), kind);
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(CaptureErrorKind::Open(e))),
        }
    }
    if got == 0 {
        return Err(err(CaptureErrorKind::Empty));
    }
    if got < 4 {
        return Err(err(CaptureErrorKind::TooShort { len: got }));
    }
    Ok(magic)
}

/// The compressions a capture is read through, told by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    fn of(magic: [u8; 4]) -> Option<Compression> {
        match magic {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd] => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// A reader of the decompressed bytes of `raw` (every member of a gzip file; a zstd frame,
    /// its window at most 100 MiB as the decoder allows).
    fn decoder(self, raw: impl Read + Send + 'static) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
            Compression::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new(raw)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
            ),
        })
    }
}

/// Whether `magic` starts a classic pcap file (true) or a pcapng or modified pcap one (false);
/// why not, when it starts no capture.
fn capture_format(magic: [u8; 4]) -> Result<bool, CaptureErrorKind> {
    let classic_pcap = PCAP_MAGICS[..4].contains(&magic);
    let pcapng = magic == [0x0a, 0x0d, 0x0d, 0x0a];
    if classic_pcap || pcapng || PCAP_MAGICS.contains(&magic) {
        Ok(classic_pcap)
    } else {
        Err(not_a_capture(magic))
    }
}

/// Why bytes that are no capture are none: another compression, or not a capture at all.
fn not_a_capture(magic: [u8; 4]) -> CaptureErrorKind {
    match magic {
        [0xfd, b'7', b'z', b'X'] => CaptureErrorKind::Compressed {
            format: "xz",
            tool: "xz -d",
        },
        [b'B', b'Z', b'h', _] => CaptureErrorKind::Compressed {
            format: "bzip2",
            tool: "bunzip2",
        },
        _ => CaptureErrorKind::NotACapture { magic },
    }
}

/// The size of a capture file read as it is stored: a regular file, not gzip or zstd (whose
/// bytes read are not the file's); `None` for streams, compressed files and what cannot be read.
pub fn plain_file_size(path: &Path) -> Option<u64> {
    if is_stream(path) {
        return None;
    }
    let magic = sniff_magic(path).ok()?;
    if Compression::of(magic).is_some() {
        return None;
    }
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// What the name `-` of `-r -` is printed as.
pub const STDIN_NAME: &str = "stdin";

/// Is this path a stream that can be read only once (`-` for standard input, a pipe, a FIFO, a
/// character device) rather than a file that can be opened again?
pub fn is_stream(path: &Path) -> bool {
    path.as_os_str() == "-" || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// The first bytes of a pcapng file (its Section Header Block's type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

const PCAP_MAGICS: [[u8; 4]; 6] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x34, 0xcd, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xcd, 0x34],
];

/// Live capture settings, as tcpdump names them.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub interface: String,
    pub promiscuous: bool,
    pub snaplen: i32,
    /// Kernel buffer size in bytes (None: libpcap's default), per capture thread.
    pub buffer_bytes: Option<i32>,
    /// Capture threads, each with its own socket in one AF_PACKET fanout group when more than
    /// one ([`Source::open_live_fanout`]).
    pub capture_threads: usize,
}

enum Handle {
    /// A file read by libpcap; the BPF program runs in the read loop (as libpcap would run it),
    /// so the frames it turns away can be tallied for the operator's hint.
    File(Capture<pcap::Offline>, Option<Bpf>),
    Classic(Classic),
    Live(Capture<pcap::Active>),
    /// Several files, merged by capture time ([`merge`]).
    Merge(Vec<Source>),
    /// A pcapng file (or stream) read without libpcap ([`pcapng`]).
    Ng(Box<pcapng::Pcapng>),
}

/// A classic pcap file read in blocks by [`PcapFile`], with libpcap only compiling and running
/// the BPF program.
struct Classic {
    file: PcapFile,
    /// A handle with the file's link type, for compiling filters.
    dead: Capture<pcap::Dead>,
    filter: Option<Bpf>,
}

/// A compiled BPF program owned by one thread.
struct Bpf(pcap::BpfProgram);

// SAFETY: the program is an owned array of instructions that libpcap only reads; it is moved
// to the capture thread with its Source and never shared between threads.
unsafe impl Send for Bpf {}

/// How offline files are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reader {
    /// Classic pcap in blocks shared with the workers (fastest), everything else through libpcap.
    #[default]
    Auto,
    /// Always libpcap (`pcap_next_ex`).
    Libpcap,
}

/// The DLT value libpcap uses in memory for a link-type number stored in a file.
fn linktype_to_dlt(linktype: u32) -> i32 {
    match linktype {
        101 => 12, // LINKTYPE_RAW is DLT_RAW
        other => other as i32,
    }
}

/// An opened capture (file or interface), ready for the capture thread.
pub struct Source {
    /// The file path or interface name, escaped, as errors and the report name it.
    pub name: String,
    pub link: LinkKind,
    pub dlt: i32,
    pub snaplen: i32,
    handle: Handle,
    /// Classic pcap files allow exact byte offsets in error messages.
    classic_pcap: bool,
    /// libpcap delivers timestamps in nanoseconds (offline files), else microseconds.
    nanos: bool,
    savefile: Option<Dump>,
    /// One of several capture threads of one interface ([`fanout`]): the packets read by all
    /// of them, which `-c` bounds together.
    shared_count: Option<Arc<AtomicU64>>,
}

impl Source {
    /// Opens several capture files, read as one in capture-time order ([`merge`]); one file is
    /// [`Source::open_file`]. At most one of them may be standard input.
    pub fn open_files(
        paths: &[std::path::PathBuf],
        reader: Reader,
    ) -> Result<Source, CaptureError> {
        if let [one] = paths {
            return Source::open_file(one, reader);
        }
        if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
            return Err(CaptureError::new(
                STDIN_NAME.to_string(),
                CaptureErrorKind::StdinTwice,
            ));
        }
        let parts = paths
            .iter()
            .map(|p| Source::open_file(p, reader))
            .collect::<Result<Vec<_>, _>>()?;
        let first = parts
            .first()
            .ok_or_else(|| CaptureError::new(String::new(), CaptureErrorKind::NoCaptures))?;
        let (link, dlt) = (first.link, first.dlt);
        let snaplen = parts.iter().map(|p| p.snaplen).max().unwrap_or(MAX_SNAPLEN);
        let nanos = parts.iter().any(|p| p.nanos);
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        Ok(Source {
            name: names.join(", "),
            link,
            dlt,
            snaplen,
            handle: Handle::Merge(parts),
            classic_pcap: false,
            nanos,
            savefile: None,
            shared_count: None,
        })
    }

    /// The link types of its files (one for a single source), each once, in order.
    pub fn link_types(&self) -> Vec<i32> {
        let mut v: Vec<i32> = match &self.handle {
            Handle::Merge(parts) => parts.iter().map(|p| p.dlt).collect(),
            _ => vec![self.dlt],
        };
        let mut seen = std::collections::HashSet::new();
        v.retain(|d| seen.insert(*d));
        v
    }

    /// Opens a capture file and checks that its link type can be decoded.
    pub fn open_file(path: &Path, reader: Reader) -> Result<Source, CaptureError> {
        if is_stream(path) {
            let stdin = path.as_os_str() == "-";
            let name = if stdin {
                STDIN_NAME.to_string()
            } else {
                escape_path(path)
            };
            let input: Box<dyn Read + Send> = if stdin {
                Box::new(std::io::stdin())
            } else {
                let f = std::fs::File::open(path)
                    .map_err(|e| CaptureError::new(name.clone(), CaptureErrorKind::Open(e)))?;
                Box::new(f)
            };
            return Source::open_stream(name, input, reader);
        }
        let name = escape_path(path);
        let err = |kind| CaptureError::new(name.clone(), kind);
        let libpcap = |step, e: pcap::Error| {
            err(CaptureErrorKind::Libpcap {
                step,
                message: pcap_message(&e),
            })
        };
        let unsupported = |dlt| err(CaptureErrorKind::UnsupportedLinkType { dlt });
        let magic = sniff_magic(path)?;
        if Compression::of(magic).is_some() {
            // Decompressed on the way, as a stream.
            let f = std::fs::File::open(path).map_err(|e| err(CaptureErrorKind::Open(e)))?;
            return Source::open_stream(name, Box::new(f), reader);
        }
        let classic_pcap = capture_format(magic).map_err(err)?;
        if magic == PCAPNG_MAGIC && reader == Reader::Auto {
            let f = std::fs::File::open(path).map_err(|e| err(CaptureErrorKind::Open(e)))?;
            return Source::open_pcapng(name, Box::new(f));
        }
        if classic_pcap && reader == Reader::Auto {
            // NULL and LOOP stay with libpcap: it adjusts their address-family header for the
            // file's byte order before BPF sees it.
            let classic = PcapFile::open(path)
                .ok()
                .flatten()
                .filter(|f| ![0, 108].contains(&f.linktype));
            if let Some(file) = classic {
                let dlt = linktype_to_dlt(file.linktype);
                let link = LinkKind::from_dlt(dlt).ok_or_else(|| unsupported(dlt))?;
                let dead = Capture::dead(pcap::Linktype(dlt))
                    .map_err(|e| libpcap(Step::FilterHandle, e))?;
                let snaplen = file.snaplen as i32;
                let nanos = file.nanos;
                let handle = Handle::Classic(Classic {
                    file,
                    dead,
                    filter: None,
                });
                return Ok(Source {
                    name,
                    link,
                    dlt,
                    snaplen,
                    handle,
                    classic_pcap,
                    nanos,
                    savefile: None,
                    shared_count: None,
                });
            }
        }
        Source::through_libpcap(name, path, classic_pcap)
    }

    /// A pcapng file or stream read by [`ngread::NgFile`]: each interface with its own link
    /// type. A file whose first interface has a link type the decoder does not handle, and no
    /// other interface before its first packet, is refused as libpcap's path refuses it.
    fn open_pcapng(name: String, input: Box<dyn Read + Send>) -> Result<Source, CaptureError> {
        // Blocks are read a few bytes at a time: a buffer keeps that from costing system calls.
        let input = Box::new(std::io::BufReader::with_capacity(256 << 10, input));
        let file = ngread::NgFile::open(input).map_err(|d| pcapng::open_error(&name, d))?;
        let opened = pcapng::Pcapng::open(file);
        let (dlt, snaplen) = opened.first.unwrap_or((1, pcapfile::MAX_CAPLEN));
        let link = match LinkKind::from_dlt(dlt) {
            Some(link) => link,
            None if opened.reader.file.interfaces().len() <= 1 => {
                return Err(CaptureError::new(
                    name,
                    CaptureErrorKind::UnsupportedLinkType { dlt },
                ))
            }
            None => LinkKind::Ethernet,
        };
        Ok(Source {
            name,
            link,
            dlt,
            snaplen: i32::try_from(snaplen).unwrap_or(MAX_SNAPLEN),
            handle: Handle::Ng(Box::new(opened.reader)),
            classic_pcap: false,
            nanos: true,
            savefile: None,
            shared_count: None,
        })
    }

    /// Applies the port selection and the user's expression (`plan`) to this capture (each file
    /// of several, and each link type of a pcapng file, gets its own program); returns the
    /// expression in force (the first file's, the first interface's).
    pub fn apply_plan(&mut self, plan: &FilterPlan) -> Result<Option<String>, CaptureError> {
        match &mut self.handle {
            Handle::Merge(parts) => {
                let mut shown = None;
                for (i, p) in parts.iter_mut().enumerate() {
                    let expr = p.apply_plan(plan)?;
                    if i == 0 {
                        shown = expr;
                    }
                }
                Ok(shown)
            }
            Handle::Ng(ng) => {
                let expr = plan.candidates(self.link).into_iter().next();
                ng.set_plan(plan, self.link, self.dlt).map_err(|e| {
                    let what = plan.user.clone().or(expr).unwrap_or_default();
                    pcapng::compile_error(&self.name, &what, &e)
                })
            }
            _ => {
                if let Some(user) = plan.user.as_deref() {
                    // Checked alone first, so a mistake is reported in the user's own words.
                    self.set_filter(user)?;
                }
                let candidates = plan.candidates(self.link);
                if candidates.is_empty() && self.shared_count.is_some() {
                    // A capture thread's socket passes nothing until the run's filter is set
                    // (see `open_live_fanout`): with none, it passes everything.
                    self.set_filter("")?;
                }
                let mut last = None;
                for expr in candidates {
                    match self.set_filter(&expr) {
                        Ok(()) => return Ok(Some(expr)),
                        // A libpcap that rejects `vlan` here: the next candidate has none.
                        Err(e) => last = Some(e),
                    }
                }
                last.map_or(Ok(None), Err)
            }
        }
    }

    /// A capture file (or `/dev/fd/N`) read by libpcap's own reader.
    fn through_libpcap(
        name: String,
        path: &Path,
        classic_pcap: bool,
    ) -> Result<Source, CaptureError> {
        let err = |kind| CaptureError::new(name.clone(), kind);
        // Nanoseconds, so a -w file keeps them when the source has them.
        let capture =
            Capture::from_file_with_precision(path, pcap::Precision::Nano).map_err(|e| {
                err(CaptureErrorKind::Libpcap {
                    step: Step::OpenFile,
                    message: pcap_message(&e),
                })
            })?;
        let dlt = capture.get_datalink().0;
        let link = LinkKind::from_dlt(dlt)
            .ok_or_else(|| err(CaptureErrorKind::UnsupportedLinkType { dlt }))?;
        // The file's own snapshot length, so a -w file keeps it.
        let snaplen = match snapshot_length(&capture) {
            n if n > 0 => n.min(MAX_SNAPLEN),
            _ => MAX_SNAPLEN,
        };
        Ok(Source {
            name,
            link,
            dlt,
            snaplen,
            handle: Handle::File(capture, None),
            classic_pcap,
            nanos: true,
            savefile: None,
            shared_count: None,
        })
    }

    /// Opens a capture that is read as a stream: standard input (`-`), a pipe or FIFO
    /// (`-r <(…)`), or a gzip or zstd file (by its content, not its name), decompressed on the
    /// way. Its first bytes are checked here, then they and the rest are handed to libpcap
    /// through a pipe of its own, fed by a thread that copies (and decompresses) the input.
    fn open_stream(
        name: String,
        mut input: Box<dyn Read + Send>,
        reader: Reader,
    ) -> Result<Source, CaptureError> {
        let err = |kind| CaptureError::new(name.clone(), kind);
        let mut magic = read_magic(&mut input, &name)?;
        if let Some(c) = Compression::of(magic) {
            let raw = std::io::Cursor::new(magic).chain(input);
            input = c.decoder(raw).map_err(|e| err(CaptureErrorKind::Open(e)))?;
            magic = read_magic(&mut input, &name)?;
        }
        let classic_pcap = capture_format(magic).map_err(err)?;
        if magic == PCAPNG_MAGIC && reader == Reader::Auto {
            let input = Box::new(std::io::Cursor::new(magic).chain(input));
            return Source::open_pcapng(name, input);
        }
        let (rd, wr) = nix::unistd::pipe()
            .map_err(|e| err(CaptureErrorKind::Open(std::io::Error::from(e))))?;
        let mut feed = std::fs::File::from(wr);
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                // A reader that stops early (-c, a signal) closes the pipe: the copy ends.
                if std::io::Write::write_all(&mut feed, &magic).is_ok() {
                    let _ = std::io::copy(&mut input, &mut feed);
                }
            })
            .map_err(|e| err(CaptureErrorKind::Open(e)))?;
        let via = format!("/dev/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&rd));
        let source = Source::through_libpcap(name, Path::new(&via), classic_pcap);
        // libpcap opened the pipe afresh: this end is not needed any more.
        drop(rd);
        source
    }

    /// Opens a network interface for live capture (needs root or CAP_NET_RAW + CAP_NET_ADMIN).
    pub fn open_live(opts: &LiveOptions) -> Result<Source, CaptureError> {
        let name = escape_name(&opts.interface);
        let err = |kind| CaptureError::new(name.clone(), kind);
        let libpcap = |step, e: pcap::Error| {
            err(CaptureErrorKind::Libpcap {
                step,
                message: pcap_message(&e),
            })
        };
        let mut inactive = Capture::from_device(opts.interface.as_str())
            .map_err(|e| libpcap(Step::FindDevice, e))?
            .promisc(opts.promiscuous)
            .snaplen(opts.snaplen)
            // Not immediate mode: the kernel fills whole ring blocks (handed over at least every
            // LIVE_READ_TIMEOUT_MS), so the ring absorbs bursts; one block per packet would leave
            // it a few milliseconds of headroom (BENCHMARKS.md, "Live capture").
            .immediate_mode(false)
            .timeout(LIVE_READ_TIMEOUT_MS);
        if let Some(b) = opts.buffer_bytes {
            inactive = inactive.buffer_size(b);
        }
        let capture = inactive.open().map_err(|e| err(live_open_error(&e)))?;
        // Non-blocking reads plus our own poll() with a timeout: the stop flag is then seen within
        // a tenth of a second even when no packet arrives (a blocking read may wait forever).
        let capture = capture
            .setnonblock()
            .map_err(|e| libpcap(Step::NonBlocking, e))?;
        let dlt = capture.get_datalink().0;
        let link = LinkKind::from_dlt(dlt)
            .ok_or_else(|| err(CaptureErrorKind::UnsupportedLinkType { dlt }))?;
        Ok(Source {
            name,
            link,
            dlt,
            snaplen: opts.snaplen,
            handle: Handle::Live(capture),
            classic_pcap: false,
            nanos: false,
            savefile: None,
            shared_count: None,
        })
    }

    /// Opens `threads` live captures of one interface, each for its own capture thread, joined
    /// into one AF_PACKET fanout group of the flow hash ([`fanout`]): the kernel gives each
    /// flow, both directions, to one of them. One thread is [`Source::open_live`]. Each source
    /// then gets the run's filter ([`Source::apply_plan`]) as a single one does; `-c` counts the
    /// packets of all of them together.
    pub fn open_live_fanout(
        opts: &LiveOptions,
        threads: usize,
    ) -> Result<Vec<Source>, CaptureError> {
        let mut sources = (0..threads.max(1))
            .map(|_| Source::open_live(opts))
            .collect::<Result<Vec<_>, _>>()?;
        if sources.len() == 1 {
            return Ok(sources);
        }
        // Until they join, every socket sees all traffic: nothing may pass meanwhile.
        for s in &mut sources {
            s.set_filter(fanout::NOTHING)?;
        }
        let fds: Vec<i32> = sources.iter().filter_map(Source::live_fd).collect();
        fanout::join(&fds).map_err(|error| {
            CaptureError::new(
                escape_name(&opts.interface),
                CaptureErrorKind::Fanout {
                    sockets: fds.len(),
                    error,
                },
            )
        })?;
        // What the rings took in before the filter: two block timeouts and a little more.
        let wait = Duration::from_millis(2 * LIVE_READ_TIMEOUT_MS as u64 + 50);
        fanout::discard_queued(wait, || {
            let mut n = 0;
            for s in &mut sources {
                if let Handle::Live(c) = &mut s.handle {
                    // Bounded: nothing new comes in past the filter, and a ring is finite.
                    while n < 10_000_000 && c.next_packet().is_ok() {
                        n += 1;
                    }
                }
            }
            n
        });
        let taken = Arc::new(AtomicU64::new(0));
        for s in &mut sources {
            s.shared_count = Some(Arc::clone(&taken));
        }
        Ok(sources)
    }

    pub fn is_live(&self) -> bool {
        matches!(self.handle, Handle::Live(_))
    }

    /// The live capture's socket (the system-call filter lets the run read it, never write it).
    pub fn live_fd(&self) -> Option<i32> {
        use std::os::unix::io::AsRawFd;
        match &self.handle {
            Handle::Live(c) => Some(c.as_raw_fd()),
            _ => None,
        }
    }

    /// Applies a BPF filter expression (libpcap syntax) as it is: to every file of several, and
    /// to every link type of a pcapng file. [`Source::apply_plan`] is what a run uses.
    fn set_filter(&mut self, expr: &str) -> Result<(), CaptureError> {
        let r = match &mut self.handle {
            Handle::File(c, filter) => c.compile(expr, true).map(|prog| *filter = Some(Bpf(prog))),
            Handle::Live(c) => c.filter(expr, true),
            Handle::Classic(m) => m
                .dead
                .compile(expr, true)
                .map(|prog| m.filter = Some(Bpf(prog))),
            Handle::Merge(parts) => {
                for p in parts {
                    p.set_filter(expr)?;
                }
                return Ok(());
            }
            Handle::Ng(ng) => {
                let plan = FilterPlan {
                    ports: None,
                    user: Some(expr.to_string()),
                };
                ng.set_plan(&plan, self.link, self.dlt).map(|_| ())
            }
        };
        r.map_err(|e| {
            CaptureError::new(
                self.name.clone(),
                CaptureErrorKind::FilterRejected {
                    expr: expr.to_string(),
                    message: pcap_message(&e),
                },
            )
        })
    }

    /// Also writes every frame read (after the filter) to a pcap file, with this capture's
    /// link type and snapshot length (see [`crate::capture::dump`] for how it is created).
    pub fn write_to(&mut self, path: &Path) -> Result<(), CaptureError> {
        let linktype = match &self.handle {
            Handle::Classic(c) => c.file.linktype,
            Handle::Merge(parts) => {
                // One pcap file holds one link type.
                let mut types: Vec<i32> = parts.iter().map(|p| p.dlt).collect();
                types.dedup();
                if types.len() > 1 {
                    let names: Vec<String> = types
                        .iter()
                        .map(|&d| format!("{} ({d})", dlt_name(d)))
                        .collect();
                    return Err(CaptureError::new(
                        escape_path(path),
                        CaptureErrorKind::DumpMixedLinkTypes {
                            types: names.join(", "),
                        },
                    ));
                }
                crate::capture::dump::dlt_to_linktype(self.dlt)
            }
            _ => crate::capture::dump::dlt_to_linktype(self.dlt),
        };
        let snaplen = u32::try_from(self.snaplen).unwrap_or(crate::capture::pcapfile::MAX_CAPLEN);
        let dump = Dump::create(path, linktype, snaplen, self.nanos)
            .map_err(|e| CaptureError::new(escape_path(path), CaptureErrorKind::Write(e)))?;
        self.savefile = Some(dump);
        Ok(())
    }

    /// Reads until the end of the file, `limit` packets, or `stop`, handing every frame to the
    /// router. A file is replayed losslessly (blocking when the workers are behind); a live
    /// capture never blocks and counts the packets it had to drop. A failed write to the `-w`
    /// file stops the capture (`write_error`).
    pub fn run(
        self,
        router: &mut Router<'_>,
        limit: Option<u64>,
        stop: &AtomicBool,
        counters: &LiveCounters,
    ) -> CaptureReport {
        let Source {
            name,
            handle,
            classic_pcap,
            nanos,
            mut savefile,
            dlt: self_dlt,
            shared_count,
            ..
        } = self;
        let mut offset: u64 = 24;
        let (mut report, failure) = match handle {
            Handle::File(mut c, filter) => read_loop(
                &mut c,
                router,
                Loop {
                    limit,
                    shared: None,
                    stop,
                    live_fd: None,
                    filter: filter.as_ref(),
                    nanos,
                    counters,
                },
                &mut savefile,
                |caplen| {
                    offset += 16 + caplen as u64;
                },
            ),
            Handle::Classic(mut m) => {
                read_classic(&mut m, router, limit, stop, counters, &mut savefile)
            }
            Handle::Ng(mut ng) => {
                let dump_dlt = self_dlt;
                let (mut report, damage) = pcapng::read_pcapng(
                    &mut ng,
                    router,
                    pcapng::NgLoop {
                        limit,
                        stop,
                        counters,
                        savefile: &mut savefile,
                        dump_dlt,
                    },
                );
                report.error =
                    damage.map(|d| CaptureError::new(name, pcapng::damaged(d, report.packets + 1)));
                if let Some(dump) = savefile {
                    let dump_name = dump.name.clone();
                    if let Err(e) = dump.finish() {
                        report.write_error =
                            Some(CaptureError::new(dump_name, CaptureErrorKind::Write(e)));
                    } else if report.not_written > 0 {
                        report.write_error = Some(CaptureError::new(
                            dump_name,
                            CaptureErrorKind::NotWritten {
                                frames: report.not_written,
                                linktype: format!("{} ({dump_dlt})", dlt_name(dump_dlt)),
                            },
                        ));
                    }
                }
                return report;
            }
            Handle::Merge(parts) => {
                let mut report =
                    merge::read_merged(parts, router, limit, stop, counters, &mut savefile, nanos);
                if let Some(dump) = savefile {
                    let dump_name = dump.name.clone();
                    if let Err(e) = dump.finish() {
                        report.write_error =
                            Some(CaptureError::new(dump_name, CaptureErrorKind::Write(e)));
                    }
                }
                return report;
            }
            Handle::Live(mut c) => {
                use std::os::unix::io::AsRawFd;
                let fd = c.as_raw_fd();
                // Several capture threads count `-c` together.
                let (limit, shared) = match (&shared_count, limit) {
                    (Some(taken), Some(n)) => (None, Some((&**taken, n))),
                    _ => (limit, None),
                };
                read_loop(
                    &mut c,
                    router,
                    Loop {
                        limit,
                        shared,
                        stop,
                        live_fd: Some(fd),
                        filter: None,
                        nanos,
                        counters,
                    },
                    &mut savefile,
                    |_| {},
                )
            }
        };
        if let Some(dump) = savefile {
            let dump_name = dump.name.clone();
            if let Err(e) = dump.finish() {
                report.write_error = Some(CaptureError::new(dump_name, CaptureErrorKind::Write(e)));
            }
        }
        // libpcap's reader names no position: the record after the last one delivered (and,
        // in a classic pcap file, the byte offset after it).
        let record = report.packets + 1;
        report.error = failure
            .map(|f| CaptureError::new(name, f.into_kind(record, classic_pcap.then_some(offset))));
        report
    }
}

/// Why a read loop stopped before the end of the capture.
enum Failure {
    /// The block reader found the file damaged.
    Block(Box<Damaged>),
    /// libpcap's file reader stopped (its message, escaped).
    Libpcap(String),
    /// libpcap's file reader met a pcapng interface with another link type.
    MixedLinkTypes(String),
    /// The pcapng reader found the file damaged.
    Pcapng(ngread::NgDamage),
    /// Reading a live interface failed.
    Live(String),
}

impl Failure {
    /// The error of a capture that stopped here: `record` is the one after the last delivered,
    /// `offset` its byte offset when known (libpcap's reader names no position).
    fn into_kind(self, record: u64, offset: Option<u64>) -> CaptureErrorKind {
        match self {
            Failure::Block(d) => {
                let Damaged {
                    record,
                    offset,
                    damage,
                } = *d;
                CaptureErrorKind::Damaged {
                    record,
                    offset: Some(offset),
                    damage,
                }
            }
            Failure::Libpcap(message) => CaptureErrorKind::Damaged {
                record,
                offset,
                damage: Damage::Libpcap(message),
            },
            Failure::MixedLinkTypes(message) => {
                CaptureErrorKind::MixedLinkTypes { record, message }
            }
            Failure::Pcapng(d) => pcapng::damaged(d, record),
            Failure::Live(message) => CaptureErrorKind::LiveRead { message },
        }
    }

    /// Sorts a libpcap read error: libpcap says in words only that a pcapng file's interfaces
    /// differ in link type, so its words are looked at here, where they come out of it.
    fn of_libpcap(e: &pcap::Error, live: bool) -> Failure {
        let message = pcap_message(e);
        if live {
            Failure::Live(message)
        } else if message.contains("different from the type of the first interface") {
            Failure::MixedLinkTypes(message)
        } else {
            Failure::Libpcap(message)
        }
    }
}

/// How long a live read waits before returning with nothing (so the stop flag is seen promptly),
/// and the kernel's block timeout (so packets are never held back longer).
const LIVE_READ_TIMEOUT_MS: i32 = 100;

/// Sorts a failure to activate an interface. The pcap crate passes on libpcap's message but not
/// its status code (PCAP_ERROR_PERM_DENIED, PCAP_ERROR_NO_SUCH_DEVICE), so the message is
/// looked at here, where it comes out of libpcap, and kept as it is.
fn live_open_error(e: &pcap::Error) -> CaptureErrorKind {
    let message = pcap_message(e);
    let lower = message.to_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        CaptureErrorKind::NoPermission { message }
    } else if lower.contains("no such device") {
        CaptureErrorKind::NoSuchDevice { message }
    } else {
        CaptureErrorKind::Libpcap {
            step: Step::Activate,
            message,
        }
    }
}

/// Turns a libpcap error into a short message without the library's prefixes. libpcap's
/// messages may quote the file or interface name, so they are escaped like it.
pub fn pcap_message(e: &pcap::Error) -> String {
    let m = match e {
        pcap::Error::PcapError(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    escape_name(&m)
}

/// A libpcap timestamp in microseconds; `nanos`: its sub-second field holds nanoseconds.
#[allow(clippy::unnecessary_cast)] // time_t and suseconds_t are not i64 on every platform
fn timeval_us(tv: &libc::timeval, nanos: bool) -> i64 {
    let frac = tv.tv_usec as i64;
    (tv.tv_sec as i64)
        .saturating_mul(1_000_000)
        .saturating_add(if nanos { frac / 1000 } else { frac })
}

/// The settings of one libpcap read loop.
struct Loop<'a> {
    limit: Option<u64>,
    /// Several capture threads of one interface: the packets all of them have taken, and how
    /// many they may take together (`-c`).
    shared: Option<(&'a AtomicU64, u64)>,
    stop: &'a AtomicBool,
    /// Live captures: the descriptor to wait on (a file is read without waiting).
    live_fd: Option<i32>,
    /// Files: the BPF program, run here (live, the kernel runs it).
    filter: Option<&'a Bpf>,
    /// Timestamps come in nanoseconds.
    nanos: bool,
    counters: &'a LiveCounters,
}

fn read_loop<T: Activated + ?Sized>(
    capture: &mut Capture<T>,
    router: &mut Router<'_>,
    cfg: Loop<'_>,
    savefile: &mut Option<Dump>,
    mut on_record: impl FnMut(u32),
) -> (CaptureReport, Option<Failure>) {
    let Loop {
        limit,
        shared,
        stop,
        live_fd,
        filter,
        nanos,
        counters,
    } = cfg;
    let lossless = live_fd.is_none();
    let mut report = CaptureReport::default();
    let mut failure = None;
    let limit = limit.unwrap_or(u64::MAX);
    let mut last_stats = Instant::now();
    let shared_left = || shared.is_none_or(|(taken, max)| taken.load(Ordering::Relaxed) < max);
    while report.packets < limit && !stop.load(Ordering::Relaxed) && router.alive() && shared_left()
    {
        match capture.next_packet() {
            Ok(pkt) => {
                on_record(pkt.header.caplen);
                if !passes(filter, router, pkt.data) {
                    continue;
                }
                if let Some((taken, max)) = shared {
                    // Another capture thread may have taken the last of the count.
                    if taken.fetch_add(1, Ordering::Relaxed) >= max {
                        break;
                    }
                }
                if let Some(dump) = savefile.as_mut() {
                    #[allow(clippy::unnecessary_cast)]
                    let (secs, frac) = (pkt.header.ts.tv_sec as u32, pkt.header.ts.tv_usec as u32);
                    if !dump.write(secs, frac, pkt.header.len, pkt.data) {
                        break;
                    }
                }
                report.packets += 1;
                report.bytes += pkt.header.len as u64;
                let ts = timeval_us(&pkt.header.ts, nanos);
                report.last_us = ts;
                router.frame(ts, pkt.data, pkt.header.len, None);
                if report.packets % 4096 == 0 {
                    report.dropped_by_ndbsniff = router.dropped;
                    publish(capture, &report, counters, lossless, &mut last_stats);
                }
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(pcap::Error::TimeoutExpired) => {
                if let Some(fd) = live_fd {
                    wait_readable(fd, LIVE_READ_TIMEOUT_MS);
                }
                router.tick();
                report.dropped_by_ndbsniff = router.dropped;
                publish(capture, &report, counters, lossless, &mut last_stats);
            }
            Err(e) => {
                failure = Some(Failure::of_libpcap(&e, !lossless));
                break;
            }
        }
    }
    router.finish();
    report.dropped_by_ndbsniff = router.dropped;
    last_stats = Instant::now() - Duration::from_secs(10);
    publish(capture, &report, counters, lossless, &mut last_stats);
    (report, failure)
}

/// The offline loop over a classic pcap file read in blocks: the router gets offsets into the
/// current block, so no frame is copied; the BPF filter (if any) runs here, as libpcap would
/// run it.
fn read_classic(
    m: &mut Classic,
    router: &mut Router<'_>,
    limit: Option<u64>,
    stop: &AtomicBool,
    counters: &LiveCounters,
    savefile: &mut Option<Dump>,
) -> (CaptureReport, Option<Failure>) {
    let mut report = CaptureReport::default();
    let mut failure = None;
    let limit = limit.unwrap_or(u64::MAX);
    let mut block_no = m.file.blocks_read();
    while report.packets < limit && router.alive() {
        let rec = match m.file.next_record() {
            Next::Record(r) => r,
            Next::End => break,
            Next::Damaged(d) => {
                failure = Some(Failure::Block(d));
                break;
            }
        };
        let block = m.file.block();
        if m.file.blocks_read() != block_no {
            block_no = m.file.blocks_read();
            router.use_block(Arc::clone(block));
            publish_counts(&report, counters);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        let frame = block
            .get(rec.offset..rec.offset + rec.caplen as usize)
            .unwrap_or(&[]);
        if !passes(m.filter.as_ref(), router, frame) {
            continue;
        }
        if let Some(dump) = savefile.as_mut() {
            if !dump.write(rec.ts_sec, rec.ts_frac, rec.origlen, frame) {
                break;
            }
        }
        report.packets += 1;
        report.bytes += rec.origlen as u64;
        report.last_us = rec.ts_us;
        router.frame(rec.ts_us, frame, rec.origlen, Some(rec.offset));
    }
    router.finish();
    publish_counts(&report, counters);
    (report, failure)
}

/// Whether a frame passes the file's BPF program (run here, as libpcap runs it); one that does
/// not goes to the router's tally of what the filter turned away.
#[inline]
fn passes(filter: Option<&Bpf>, router: &mut Router<'_>, frame: &[u8]) -> bool {
    match filter {
        Some(Bpf(prog)) if !prog.filter(frame) => {
            router.filtered(frame);
            false
        }
        _ => true,
    }
}

fn publish_counts(report: &CaptureReport, counters: &LiveCounters) {
    counters.last_us.store(report.last_us, Ordering::Relaxed);
    counters.packets.store(report.packets, Ordering::Release);
    counters.bytes.store(report.bytes, Ordering::Relaxed);
    counters
        .dropped_by_ndbsniff
        .store(report.dropped_by_ndbsniff, Ordering::Relaxed);
}

/// Waits until the capture descriptor has data, or `ms` milliseconds.
fn wait_readable(fd: i32, ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd on the stack, count 1; an error or timeout just returns.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

/// Makes the counters visible to the statistics printer; asks libpcap at most once a second.
fn publish<T: Activated + ?Sized>(
    capture: &mut Capture<T>,
    report: &CaptureReport,
    counters: &LiveCounters,
    lossless: bool,
    last_stats: &mut Instant,
) {
    publish_counts(report, counters);
    if lossless || last_stats.elapsed() < Duration::from_secs(1) {
        return;
    }
    *last_stats = Instant::now();
    if let Ok(st) = capture.stats() {
        counters
            .kernel_received
            .store(st.received as u64, Ordering::Relaxed);
        counters
            .kernel_dropped
            .store(st.dropped as u64, Ordering::Relaxed);
        counters
            .interface_dropped
            .store(st.if_dropped as u64, Ordering::Relaxed);
        counters.have_kernel_stats.store(true, Ordering::Relaxed);
    }
}

/// A flag the capture thread polls between packets.
pub type StopFlag = Arc<AtomicBool>;
