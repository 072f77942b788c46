//! Why opening or reading a capture, or writing the `-w` file, failed.
//!
//! Owns: [`CaptureError`] (the file or interface, and a [`CaptureErrorKind`]), [`Damage`] (what
//! is wrong where a file stops being readable), and their one-line wording. libpcap reports its
//! failures in words only; they are kept as its words (escaped), sorted into a kind where the
//! error comes out of libpcap and nowhere later.
//!
//! Never: holds a name or a libpcap message unescaped.

use std::fmt;
use std::io;

use super::dlt_name;

/// Why reading a capture (or writing the `-w` file) failed. Always names the file or interface.
#[derive(Debug)]
pub struct CaptureError {
    /// The file or interface, escaped for printing.
    pub name: String,
    /// What went wrong.
    pub kind: CaptureErrorKind,
}

impl CaptureError {
    /// An error about the file or interface `name` (escaped already).
    pub fn new(name: impl Into<String>, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            name: name.into(),
            kind,
        }
    }
}

/// What libpcap was doing when it failed ([`CaptureErrorKind::Libpcap`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Opening a capture file.
    OpenFile,
    /// Setting up a handle for compiling filters for a file read in blocks.
    FilterHandle,
    /// Looking up a network interface.
    FindDevice,
    /// Activating the interface for capture.
    Activate,
    /// Making the live capture non-blocking.
    NonBlocking,
}

/// What went wrong with a capture, or with the `-w` file.
#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The file could not be opened or its first bytes read: no such file, permission denied, …
    Open(io::Error),
    /// The path names a directory.
    Directory,
    /// A directory given to `-r` holds no capture file.
    NoCaptures,
    /// Frames of a pcapng file left out of the `-w` file: their link type is not its one.
    NotWritten {
        /// How many.
        frames: u64,
        /// The `-w` file's link type, e.g. `EN10MB (1)`.
        linktype: String,
    },
    /// Standard input (`-r -`) given more than once.
    StdinTwice,
    /// `-w` with several files of different link types (a pcap file holds one).
    DumpMixedLinkTypes {
        /// The link types, e.g. `EN10MB (1), LINUX_SLL (113)`.
        types: String,
    },
    /// The file is empty.
    Empty,
    /// The file is shorter than a capture file's magic number.
    TooShort {
        /// Its length in bytes (1 to 3).
        len: usize,
    },
    /// The file is compressed in a format not read here (gzip and zstd are decompressed).
    Compressed {
        /// The compression (`xz`, `bzip2`).
        format: &'static str,
        /// The command that decompresses it.
        tool: &'static str,
    },
    /// Neither pcap nor pcapng.
    NotACapture {
        /// The file's first four bytes.
        magic: [u8; 4],
    },
    /// A link type the decoder does not handle.
    UnsupportedLinkType {
        /// libpcap's DLT value.
        dlt: i32,
    },
    /// The interface may not be captured on by this user (libpcap's words).
    NoPermission {
        /// libpcap's message, escaped.
        message: String,
    },
    /// There is no such interface (libpcap's words).
    NoSuchDevice {
        /// libpcap's message, escaped.
        message: String,
    },
    /// libpcap refused the file or interface, e.g. a file header cut short.
    Libpcap {
        /// What it was doing.
        step: Step,
        /// Its message, escaped.
        message: String,
    },
    /// The kernel would not join the capture threads' sockets into one AF_PACKET fanout group
    /// (`--capture-threads`).
    Fanout {
        /// How many sockets were to join.
        sockets: usize,
        /// The kernel's answer.
        error: io::Error,
    },
    /// libpcap rejected a BPF expression.
    FilterRejected {
        /// The expression, as given.
        expr: String,
        /// libpcap's message, escaped.
        message: String,
    },
    /// The `-w` file could not be created, written, flushed or closed.
    Write(io::Error),
    /// The file is damaged part-way: everything before `record` was read.
    Damaged {
        /// The record (counted from 1) that could not be read.
        record: u64,
        /// Its byte offset in the file (classic pcap files only).
        offset: Option<u64>,
        /// What is wrong there.
        damage: Damage,
    },
    /// A pcapng file whose interfaces have different link types, which libpcap cannot read in
    /// one pass.
    MixedLinkTypes {
        /// The record at which libpcap stopped.
        record: u64,
        /// libpcap's message, escaped.
        message: String,
    },
    /// Reading from the live interface failed.
    LiveRead {
        /// libpcap's message, escaped.
        message: String,
    },
}

/// What is wrong with a capture file where it stops being readable.
#[derive(Debug)]
pub enum Damage {
    /// The file ends at a record boundary but was longer when opened: it shrank while read.
    Shrank {
        /// Its length when opened.
        opened_len: u64,
    },
    /// The file ends inside a record header (a truncated file).
    HeaderCut {
        /// Header bytes present.
        got: usize,
        /// Bytes a record header has.
        of: usize,
    },
    /// A record claims more captured bytes than any capture can hold.
    AbsurdCaplen {
        /// The length claimed.
        caplen: u32,
        /// The most allowed.
        max: u32,
    },
    /// The file ends inside a frame (a truncated file).
    FrameCut {
        /// Frame bytes present.
        got: usize,
        /// The captured length the record claims.
        caplen: u32,
    },
    /// Reading the file failed.
    Read(io::Error),
    /// libpcap's reader stopped here (its words, escaped).
    Libpcap(String),
    /// A pcapng block that cannot be read.
    Pcapng {
        /// The block, counted from 1.
        block: u64,
        /// What is wrong with it.
        what: String,
    },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Shrank { opened_len } => write!(
                f,
                "file ends here, but was {opened_len} bytes long when opened (it shrank while being read)"
            ),
            Damage::HeaderCut { got, of } => {
                write!(f, "file ends inside the record header ({got} of {of} bytes)")
            }
            Damage::AbsurdCaplen { caplen, max } => {
                write!(f, "absurd captured length {caplen} (at most {max} allowed)")
            }
            Damage::FrameCut { got, caplen } => {
                write!(f, "file ends inside the frame ({got} of {caplen} bytes)")
            }
            Damage::Read(e) => write!(f, "read error: {}", io_message(e)),
            Damage::Libpcap(m) => f.write_str(m),
            Damage::Pcapng { block, what } => write!(f, "pcapng block {block}: {what}"),
        }
    }
}

impl std::error::Error for Damage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Damage::Read(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureErrorKind::Open(e) => f.write_str(&io_message(e)),
            CaptureErrorKind::Directory => f.write_str("is a directory, not a capture file"),
            CaptureErrorKind::NotWritten { frames, linktype } => write!(
                f,
                "{frames} frames of other link types left out (a pcap file holds one link type: {linktype})"
            ),
            CaptureErrorKind::NoCaptures => f.write_str(
                "directory holds no capture file (pcap, pcapng, or gzip or zstd of one)",
            ),
            CaptureErrorKind::StdinTwice => f.write_str("standard input (-r -) given more than once"),
            CaptureErrorKind::DumpMixedLinkTypes { types } => write!(
                f,
                "cannot write one pcap file from captures of link types {types}; write each                  capture on its own"
            ),
            CaptureErrorKind::Empty => f.write_str("empty file, not a capture file"),
            CaptureErrorKind::TooShort { len } => {
                write!(f, "only {len} bytes long, not a capture file")
            }
            CaptureErrorKind::Compressed { format, tool } => {
                write!(f, "{format}-compressed; decompress it first ({tool})")
            }
            CaptureErrorKind::NotACapture { magic: m } => write!(
                f,
                "not a pcap or pcapng capture file (starts with bytes {:02x} {:02x} {:02x} {:02x})",
                m[0], m[1], m[2], m[3]
            ),
            CaptureErrorKind::UnsupportedLinkType { dlt } => write!(
                f,
                "unsupported link type {} ({dlt}); supported: Ethernet, Linux SLL/SLL2, raw IP, NULL, LOOP",
                dlt_name(*dlt)
            ),
            CaptureErrorKind::NoPermission { message } => write!(
                f,
                "no permission to capture ({message}): run it as root (sudo ndbsniff -i ...) or give the binary \
                 the capture capabilities once (sudo setcap cap_net_raw,cap_net_admin=eip $(command -v ndbsniff))"
            ),
            CaptureErrorKind::NoSuchDevice { message }
            | CaptureErrorKind::Libpcap { message, .. } => f.write_str(message),
            CaptureErrorKind::FilterRejected { expr, message } => {
                write!(f, "bad filter expression {expr:?}: {message}")
            }
            CaptureErrorKind::Fanout { sockets, error } => write!(
                f,
                "cannot join {sockets} capture sockets into one AF_PACKET fanout group ({}); \
                 capture with --capture-threads 1",
                io_message(error)
            ),
            CaptureErrorKind::Write(e) => write!(f, "cannot write: {}", io_message(e)),
            CaptureErrorKind::Damaged {
                record,
                offset,
                damage,
            } => match offset {
                Some(at) => write!(
                    f,
                    "damaged capture at record {record} at byte offset {at}: {damage}"
                ),
                None => write!(f, "damaged capture at record {record}: {damage}"),
            },
            CaptureErrorKind::MixedLinkTypes { record, message } => write!(
                f,
                "stopped at record {record}: the pcapng file's interfaces differ in link type, which libpcap \
                 cannot read in one pass ({message}); split it per interface first, e.g. with \
                 `tshark -r FILE -Y 'frame.interface_id == 0' -w part0.pcapng`"
            ),
            CaptureErrorKind::LiveRead { message } => write!(f, "read error: {message}"),
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.kind)
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CaptureErrorKind::Open(e) | CaptureErrorKind::Write(e) => Some(e),
            CaptureErrorKind::Damaged { damage, .. } => Some(damage),
            _ => None,
        }
    }
}

/// A short lower-case description of an I/O error, without the OS error number.
pub fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_is_worded_with_its_position() {
        let e = CaptureError::new(
            "x.pcap",
            CaptureErrorKind::Damaged {
                record: 17,
                offset: Some(2977),
                damage: Damage::FrameCut {
                    got: 19,
                    caplen: 54,
                },
            },
        );
        assert_eq!(
            e.to_string(),
            "x.pcap: damaged capture at record 17 at byte offset 2977: file ends inside the frame (19 of 54 bytes)"
        );
        let e = CaptureError::new(
            "x.pcapng",
            CaptureErrorKind::Damaged {
                record: 3,
                offset: None,
                damage: Damage::Libpcap("truncated".into()),
            },
        );
        assert_eq!(
            e.to_string(),
            "x.pcapng: damaged capture at record 3: truncated"
        );
    }

    #[test]
    fn io_errors_are_their_source() {
        let e = CaptureError::new(
            "w.pcap",
            CaptureErrorKind::Write(io::Error::from_raw_os_error(libc::ENOSPC)),
        );
        assert_eq!(
            e.to_string(),
            "w.pcap: cannot write: no space left on device"
        );
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert!(source.is_some_and(|s| s.contains("os error")));
        let e = CaptureError::new("x", CaptureErrorKind::Empty);
        assert!(std::error::Error::source(&e).is_none());
    }
}
