//! The `-w` file: every frame that passed the filter, written as a classic pcap file.
//!
//! Owns: creating the file safely and checking every write. The file holds whatever the watched
//! flows carried (NDB passwords and configurations among it), so it is created with mode 0600
//! (an existing regular file is truncated and set to 0600 too), and never through a symbolic
//! link (`O_NOFOLLOW`, whoever runs ndbsniff: a link planted where the file is to go would
//! otherwise let its owner choose what gets overwritten). The format is written here rather than
//! by libpcap's `pcap_dump`, which ignores write errors: a full disk or `-w /dev/full` is
//! reported, naming the file, instead of leaving a torn file behind a successful exit.
//! Link type and snapshot length are the source's; timestamps keep nanoseconds when the source
//! has them.
//!
//! Never: follows a symlink for the file it writes, writes after a failed write, or reports a
//! write as done before it was flushed and the file closed without error.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::IntoRawFd;
use std::path::Path;

/// Buffered bytes before a write to the file.
const BUFFER: usize = 256 * 1024;

/// The pcap file a run writes with `-w`.
pub struct Dump {
    out: Option<BufWriter<File>>,
    snaplen: u32,
    /// The first write that failed; nothing more is written after it.
    failed: Option<io::Error>,
    /// The file name, escaped for printing.
    pub name: String,
}

/// The link-type number a pcap file stores for libpcap's DLT value (they differ for raw IP).
pub fn dlt_to_linktype(dlt: i32) -> u32 {
    match dlt {
        12 | 14 => 101, // DLT_RAW (Linux and most systems 12, OpenBSD 14) is LINKTYPE_RAW
        other => other as u32,
    }
}

impl Dump {
    /// Creates (or truncates) `path` with mode 0600, refusing a symbolic link, and writes the
    /// file header. `nanos`: timestamps will be given in nanoseconds.
    pub fn create(path: &Path, linktype: u32, snaplen: u32, nanos: bool) -> io::Result<Dump> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    io::Error::other("is a symbolic link; refusing to write through it")
                } else {
                    e
                }
            })?;
        let meta = file.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o7777 != 0o600 {
            // An existing file keeps its mode when truncated: restrict it like a new one.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let snaplen = snaplen.max(1);
        let mut dump = Dump {
            out: Some(BufWriter::with_capacity(BUFFER, file)),
            snaplen,
            failed: None,
            name: ndbsniff_core::escape::escape_path(path),
        };
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut head = [0u8; 24];
        head[0..4].copy_from_slice(&magic.to_ne_bytes());
        head[4..6].copy_from_slice(&2u16.to_ne_bytes());
        head[6..8].copy_from_slice(&4u16.to_ne_bytes());
        head[16..20].copy_from_slice(&snaplen.to_ne_bytes());
        head[20..24].copy_from_slice(&linktype.to_ne_bytes());
        dump.put(&head);
        match dump.failed.take() {
            Some(e) => Err(e),
            None => Ok(dump),
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if let Some(out) = self.out.as_mut() {
            if let Err(e) = out.write_all(bytes) {
                self.failed = Some(e);
            }
        }
    }

    /// Appends one record: `frac` is microseconds, or nanoseconds for a file created with
    /// `nanos`. A frame longer than the snapshot length is cut to it. Returns false once a
    /// write has failed (see [`Dump::finish`]).
    pub fn write(&mut self, secs: u32, frac: u32, origlen: u32, frame: &[u8]) -> bool {
        let caplen = frame.len().min(self.snaplen as usize);
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&secs.to_ne_bytes());
        head[4..8].copy_from_slice(&frac.to_ne_bytes());
        head[8..12].copy_from_slice(&(caplen as u32).to_ne_bytes());
        head[12..16].copy_from_slice(&origlen.max(caplen as u32).to_ne_bytes());
        self.put(&head);
        self.put(frame.get(..caplen).unwrap_or_default());
        self.failed.is_none()
    }

    /// Flushes and closes the file; the first error of any write, the flush or the close.
    pub fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let file = out.into_inner().map_err(|e| e.into_error())?;
        let fd = file.into_raw_fd();
        // SAFETY: `fd` was just taken out of the File, so it is open and closed only here.
        // Closing it directly is what reports a failed delayed write (e.g. on NFS).
        if unsafe { libc::close(fd) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_records_are_written_and_cut_to_the_snapshot_length() {
        let dir = std::env::temp_dir().join(format!("ndbsniff-dump-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("w.pcap");
        let mut d = Dump::create(&path, 1, 4, true).expect("create");
        assert!(d.write(7, 123_456_789, 60, b"abcdef"));
        d.finish().expect("finish");
        let b = std::fs::read(&path).expect("read");
        assert_eq!(b.len(), 24 + 16 + 4);
        assert_eq!(&b[0..4], &0xa1b2_3c4du32.to_ne_bytes());
        assert_eq!(&b[16..20], &4u32.to_ne_bytes());
        assert_eq!(&b[28..32], &123_456_789u32.to_ne_bytes());
        assert_eq!(&b[32..36], &4u32.to_ne_bytes());
        assert_eq!(&b[36..40], &60u32.to_ne_bytes());
        assert_eq!(&b[40..], b"abcd");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_device_is_an_error() {
        if !Path::new("/dev/full").exists() {
            return;
        }
        // The header fits the buffer, so creating succeeds; the writes or the flush fail.
        let mut d = Dump::create(Path::new("/dev/full"), 1, 65535, false).expect("create");
        let frame = [0u8; 1500];
        let ok = (0..1000).all(|_| d.write(1, 0, 1500, &frame));
        assert!(!ok, "256 KiB buffered: a write reached the device");
        let e = d.finish().expect_err("the failed write is kept");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
    }
}
