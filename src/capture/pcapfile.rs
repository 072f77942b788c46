//! A block reader for classic pcap files (the fast path for offline replay).
//!
//! Owns: walking the records of a classic `.pcap` file (µs or ns, either byte order) with the same
//! acceptance rules as libpcap: caplen above the file's snapshot length is cut to it, an absurd
//! caplen or a record cut short ends the file with an error naming the record and byte offset.
//! The file is read with large `pread`s into a few reused [`Block`]s, which are shared (not
//! copied) with the flow workers: callers get offsets into the current block. A file that
//! shrinks while it is read is therefore only a short read, reported like any truncated file
//! (a memory map would fault instead). pcapng and other variants are left to libpcap.
//!
//! Never: reads outside a block, panics on any bytes, allocates per record, or holds more than
//! [`BLOCKS`] blocks of [`BLOCK_BYTES`] at once.

use std::fs::File;
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::capture::error::Damage;

/// libpcap's ceiling for a record's captured length (MAXIMUM_SNAPLEN).
pub const MAX_CAPLEN: u32 = 262_144;
/// Bytes read from the file at once (one `pread`, short only at the end of the file).
pub const BLOCK_BYTES: usize = 512 << 10;
/// Blocks in use at once: the one being walked and those the workers still read payloads from.
/// Reading waits for a block to come back when all are in use.
pub const BLOCKS: usize = 16;

const HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// One record, as offsets into the current block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub ts_us: i64,
    /// The record's timestamp as stored: seconds, and the fraction (µs, or ns when
    /// [`PcapFile::nanos`]), for writing it out again unchanged.
    pub ts_sec: u32,
    pub ts_frac: u32,
    /// Offset of the frame's first byte in [`PcapFile::block`].
    pub offset: usize,
    pub caplen: u32,
    pub origlen: u32,
}

/// What the next read found.
#[derive(Debug)]
pub enum Next {
    /// A record, whole in the current block.
    Record(Record),
    /// The end of the file, where it ended when opened.
    End,
    /// The file is damaged here (boxed: a rare answer, kept out of the common one's size).
    Damaged(Box<Damaged>),
}

/// Where a classic pcap file stops being readable, and why.
#[derive(Debug)]
pub struct Damaged {
    /// The record (counted from 1) that could not be read.
    pub record: u64,
    /// The byte offset of its header in the file.
    pub offset: u64,
    /// What is wrong there.
    pub damage: Damage,
}

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {} at byte offset {}: {}",
            self.record, self.offset, self.damage
        )
    }
}

/// Part of the file, read with one `pread`. When the last reference goes (the reader has moved
/// on and every batch pointing into it is done), its buffer goes back to the reader for reuse.
pub struct Block {
    buf: Vec<u8>,
    filled: usize,
    home: Sender<Vec<u8>>,
}

impl Deref for Block {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.buf.get(..self.filled).unwrap_or(&[])
    }
}

impl Block {
    /// A block holding `bytes`, belonging to no reader (tests).
    #[cfg(test)]
    pub(crate) fn detached(bytes: Vec<u8>) -> Block {
        let (home, _) = crossbeam_channel::bounded(1);
        Block {
            filled: bytes.len(),
            buf: bytes,
            home,
        }
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({} bytes)", self.filled)
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // The reader may be gone already; then the buffer is simply freed.
        let _ = self.home.try_send(std::mem::take(&mut self.buf));
    }
}

/// An open classic pcap file.
pub struct PcapFile {
    file: File,
    /// The block being walked, and the file offset of its first byte.
    block: Arc<Block>,
    start: u64,
    /// Offset in `block` of the next record header.
    pos: usize,
    /// The last read reached the end of the file: `block` holds everything up to it.
    at_eof: bool,
    blocks_read: u64,
    free_rx: Receiver<Vec<u8>>,
    free_tx: Sender<Vec<u8>>,
    allocated: usize,
    block_bytes: usize,
    /// The file's size when it was opened (a file that is shorter later shrank while read).
    opened_len: u64,
    swapped: bool,
    /// Timestamps are in nanoseconds (else microseconds).
    pub nanos: bool,
    /// Versions before 2.3 may have caplen and len swapped.
    old_version: bool,
    pub linktype: u32,
    pub snaplen: u32,
    records: u64,
}

/// Reads at `offset` until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let rest = buf.get_mut(got..).unwrap_or_default();
        match file.read_at(rest, offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl PcapFile {
    /// Opens `path` if it is a classic pcap file; `Ok(None)` for anything else (pcapng, …).
    pub fn open(path: &Path) -> std::io::Result<Option<PcapFile>> {
        PcapFile::open_with(path, BLOCK_BYTES)
    }

    fn open_with(path: &Path, block_bytes: usize) -> std::io::Result<Option<PcapFile>> {
        let file = File::open(path)?;
        let opened_len = file.metadata()?.len();
        let mut head = [0u8; HEADER_LEN];
        if read_full(&file, &mut head, 0)? < HEADER_LEN {
            return Ok(None);
        }
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let (swapped, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return Ok(None),
        };
        let rd16 = |b: [u8; 2]| {
            if swapped {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let rd32 = |b: [u8; 4]| {
            if swapped {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let major = rd16([head[4], head[5]]);
        let minor = rd16([head[6], head[7]]);
        if major != 2 {
            return Ok(None);
        }
        let snaplen = rd32([head[16], head[17], head[18], head[19]]);
        // The upper bits of the link-type field carry FCS information, not the link type.
        let linktype = rd32([head[20], head[21], head[22], head[23]]) & 0x03ff_ffff;
        let snaplen = if snaplen == 0 || snaplen > MAX_CAPLEN {
            MAX_CAPLEN
        } else {
            snaplen
        };
        // A record (header and the longest frame) always fits in one block.
        let block_bytes = block_bytes.max(RECORD_HEADER_LEN + MAX_CAPLEN as usize);
        let (free_tx, free_rx) = crossbeam_channel::bounded(BLOCKS);
        let empty = Block {
            buf: Vec::new(),
            filled: 0,
            home: free_tx.clone(),
        };
        Ok(Some(PcapFile {
            file,
            block: Arc::new(empty),
            start: HEADER_LEN as u64,
            pos: 0,
            at_eof: false,
            blocks_read: 0,
            free_rx,
            free_tx,
            allocated: 0,
            block_bytes,
            opened_len,
            swapped,
            nanos,
            old_version: minor < 3,
            linktype,
            snaplen,
            records: 0,
        }))
    }

    /// The block the last record's offsets refer to.
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    /// How many blocks have been read so far (changes whenever [`PcapFile::block`] does).
    pub fn blocks_read(&self) -> u64 {
        self.blocks_read
    }

    /// Byte offset in the file of the next record header.
    pub fn position(&self) -> u64 {
        self.start + self.pos as u64
    }

    /// Reads the next block, starting at the next record header. Waits for a buffer to come
    /// back when all [`BLOCKS`] are in use.
    fn refill(&mut self) -> std::io::Result<()> {
        let mut buf = match self.free_rx.try_recv() {
            Ok(b) => b,
            Err(_) if self.allocated < BLOCKS => {
                self.allocated += 1;
                Vec::new()
            }
            // Every other block is held by batches the workers have not finished; they need
            // nothing from this thread to finish them.
            Err(_) => self
                .free_rx
                .recv()
                .map_err(|_| std::io::Error::other("block pool closed"))?,
        };
        if buf.len() != self.block_bytes {
            buf.resize(self.block_bytes, 0);
        }
        let from = self.position();
        let filled = read_full(&self.file, &mut buf, from)?;
        self.at_eof = filled < buf.len();
        self.block = Arc::new(Block {
            buf,
            filled,
            home: self.free_tx.clone(),
        });
        self.start = from;
        self.pos = 0;
        self.blocks_read += 1;
        Ok(())
    }

    /// The next record, the end of the file, or what is wrong with it.
    #[inline(always)]
    pub fn next_record(&mut self) -> Next {
        loop {
            match self.record_in_block() {
                Some(next) => return next,
                None => {
                    let record = self.records + 1;
                    let at = self.position();
                    if let Err(e) = self.refill() {
                        return Next::Damaged(Box::new(Damaged {
                            record,
                            offset: at,
                            damage: Damage::Read(e),
                        }));
                    }
                }
            }
        }
    }

    /// The next record if the current block holds all of it (or the file ends); `None` when
    /// the next block must be read first.
    #[inline(always)]
    fn record_in_block(&mut self) -> Option<Next> {
        let len = self.block.len();
        let at = self.pos;
        let file_at = self.position();
        let record = self.records + 1;
        let avail = len - at.min(len);
        let damaged = |damage| {
            Some(Next::Damaged(Box::new(Damaged {
                record,
                offset: file_at,
                damage,
            })))
        };
        if avail == 0 {
            if !self.at_eof {
                return None;
            }
            if file_at < self.opened_len {
                return damaged(Damage::Shrank {
                    opened_len: self.opened_len,
                });
            }
            return Some(Next::End);
        }
        if avail < RECORD_HEADER_LEN {
            if !self.at_eof {
                return None;
            }
            return damaged(Damage::HeaderCut {
                got: avail,
                of: RECORD_HEADER_LEN,
            });
        }
        // The whole header in one bounds check (`avail` covers it).
        let header: [u8; RECORD_HEADER_LEN] = self
            .block
            .get(at..at + RECORD_HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; RECORD_HEADER_LEN]);
        let word = |i: usize| {
            let b = [header[i], header[i + 1], header[i + 2], header[i + 3]];
            if self.swapped {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let secs = word(0);
        let frac = word(4);
        let mut caplen = word(8);
        let mut origlen = word(12);
        if self.old_version && caplen > origlen {
            std::mem::swap(&mut caplen, &mut origlen);
        }
        if caplen > MAX_CAPLEN.max(self.snaplen) {
            return damaged(Damage::AbsurdCaplen {
                caplen,
                max: MAX_CAPLEN.max(self.snaplen),
            });
        }
        let data = at + RECORD_HEADER_LEN;
        let end = data + caplen as usize;
        if end > len {
            if !self.at_eof {
                return None;
            }
            return damaged(Damage::FrameCut {
                got: len - data,
                caplen,
            });
        }
        self.pos = end;
        self.records = record;
        let micros = if self.nanos { frac / 1000 } else { frac } as i64;
        // Like libpcap, deliver at most the snapshot length of a longer record.
        let caplen = caplen.min(self.snaplen);
        Some(Next::Record(Record {
            ts_us: secs as i64 * 1_000_000 + micros,
            ts_sec: secs,
            ts_frac: frac,
            offset: data,
            caplen,
            origlen,
        }))
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, snaplen: u32, linktype: u32, big_endian: bool) -> Vec<u8> {
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut b = Vec::new();
        b.extend_from_slice(&w32(magic));
        b.extend_from_slice(&w16(2));
        b.extend_from_slice(&w16(4));
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&w32(snaplen));
        b.extend_from_slice(&w32(linktype));
        b
    }

    fn record(b: &mut Vec<u8>, secs: u32, frac: u32, data: &[u8], origlen: u32, big_endian: bool) {
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        b.extend_from_slice(&w32(secs));
        b.extend_from_slice(&w32(frac));
        b.extend_from_slice(&w32(data.len() as u32));
        b.extend_from_slice(&w32(origlen));
        b.extend_from_slice(data);
    }

    /// What a damaged read says, as it is printed.
    fn damage(next: Next) -> Option<String> {
        match next {
            Next::Damaged(d) => Some(d.to_string()),
            _ => None,
        }
    }

    fn open_bytes(bytes: &[u8]) -> Option<PcapFile> {
        let dir = std::env::temp_dir().join(format!("ndbsniff-pcapfile-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!(
            "{:x}.pcap",
            bytes.len() * 31 + bytes.first().copied().unwrap_or(0) as usize
        ));
        std::fs::write(&path, bytes).ok()?;
        let f = PcapFile::open(&path).ok().flatten();
        let _ = std::fs::remove_file(&path);
        f
    }

    #[test]
    fn reads_both_byte_orders_and_resolutions() {
        for (magic, nanos) in [(0xa1b2_c3d4u32, false), (0xa1b2_3c4d, true)] {
            for be in [false, true] {
                let mut b = header(magic, 65535, 1, be);
                record(&mut b, 10, if nanos { 5_000 } else { 5 }, b"abc", 60, be);
                let mut f = open_bytes(&b).expect("classic pcap");
                assert_eq!(f.linktype, 1);
                match f.next_record() {
                    Next::Record(r) => {
                        assert_eq!(
                            (r.ts_us, r.caplen, r.origlen, r.offset),
                            (10_000_005, 3, 60, 16)
                        );
                        assert_eq!(f.position(), 24 + 16 + 3);
                        assert_eq!(&f.block()[r.offset..r.offset + 3], b"abc");
                    }
                    other => panic!("{other:?}"),
                }
                assert!(matches!(f.next_record(), Next::End));
            }
        }
    }

    #[test]
    fn damage_is_reported_with_record_and_offset() {
        let mut b = header(0xa1b2_c3d4, 65535, 1, false);
        record(&mut b, 1, 0, b"abcd", 4, false);
        let good = b.clone();
        b.extend_from_slice(&[1, 2, 3]);
        let mut f = open_bytes(&b).expect("pcap");
        assert!(matches!(f.next_record(), Next::Record(_)));
        assert_eq!(
            damage(f.next_record()).as_deref(),
            Some("record 2 at byte offset 44: file ends inside the record header (3 of 16 bytes)")
        );
        let mut cut = good.clone();
        cut.truncate(cut.len() - 1);
        let mut f = open_bytes(&cut).expect("pcap");
        assert!(
            matches!(damage(f.next_record()), Some(m) if m.contains("ends inside the frame (3 of 4 bytes)"))
        );
        let mut absurd = header(0xa1b2_c3d4, 65535, 1, false);
        absurd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        let mut f = open_bytes(&absurd).expect("pcap");
        assert!(
            matches!(damage(f.next_record()), Some(m) if m.contains("absurd captured length 2147483647"))
        );
    }

    #[test]
    fn caplen_beyond_snaplen_is_cut_and_fcs_bits_are_masked() {
        let mut b = header(0xa1b2_c3d4, 2, 0x1000_0001, false);
        record(&mut b, 1, 0, b"abcd", 4, false);
        let mut f = open_bytes(&b).expect("pcap");
        assert_eq!(f.linktype, 1);
        assert!(matches!(f.next_record(), Next::Record(r) if r.caplen == 2 && r.origlen == 4));
        assert!(matches!(f.next_record(), Next::End));
    }

    #[test]
    fn other_formats_are_left_to_libpcap() {
        assert!(open_bytes(&[
            0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ])
        .is_none());
        let mut kuz = header(0xa1b2_cd34, 65535, 1, false);
        kuz.extend_from_slice(&[0; 8]);
        assert!(open_bytes(&kuz).is_none());
    }

    fn many_records(n: u32) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut b = header(0xa1b2_c3d4, 65535, 1, false);
        let mut frames = Vec::new();
        for i in 0..n {
            let frame: Vec<u8> = (0..(60 + i % 1400)).map(|j| (i + j) as u8).collect();
            record(&mut b, i, 0, &frame, frame.len() as u32, false);
            frames.push(frame);
        }
        (b, frames)
    }

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ndbsniff-pcapfile-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }

    #[test]
    fn records_across_block_boundaries_are_read_whole_and_blocks_are_reused() {
        let (bytes, frames) = many_records(3000);
        let path = temp_file("blocks.pcap", &bytes);
        // The smallest block allowed: the file takes several, records straddle their ends.
        let mut f = PcapFile::open_with(&path, 1).ok().flatten().expect("pcap");
        for (i, want) in frames.iter().enumerate() {
            match f.next_record() {
                Next::Record(r) => {
                    assert_eq!(r.ts_sec, i as u32);
                    assert_eq!(
                        &f.block()[r.offset..r.offset + r.caplen as usize],
                        &want[..]
                    );
                }
                other => panic!("record {i}: {other:?}"),
            }
        }
        assert!(matches!(f.next_record(), Next::End));
        assert!(f.blocks_read() >= 8, "{} blocks", f.blocks_read());
        assert!(f.allocated <= 2, "buffers reused: {}", f.allocated);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_damaged_where_it_now_ends() {
        let (bytes, _) = many_records(3000);
        // Cut inside a frame far behind the first block: reported like any truncated file.
        let path = temp_file("shrinks.pcap", &bytes);
        let mut f = PcapFile::open_with(&path, 1).ok().flatten().expect("pcap");
        assert!(matches!(f.next_record(), Next::Record(_)));
        let cut = bytes.len() as u64 * 3 / 4 + 7;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_len(cut).expect("truncate");
        let last = loop {
            match f.next_record() {
                Next::Record(_) => {}
                other => break other,
            }
        };
        assert!(
            matches!(&last, Next::Damaged(d) if d.to_string().contains("file ends inside")),
            "{last:?}"
        );
        // Cut exactly between two records: still damage, since the file was longer.
        let (bytes, _) = many_records(3000);
        let boundary = 24 + (16 + 60) as u64;
        std::fs::write(&path, &bytes).expect("rewrite");
        let mut f = PcapFile::open_with(&path, 1).ok().flatten().expect("pcap");
        file.set_len(boundary).expect("truncate");
        assert!(matches!(f.next_record(), Next::Record(_)));
        assert_eq!(
            damage(f.next_record()),
            Some(format!(
                "record 2 at byte offset {boundary}: file ends here, but was {} bytes long when opened (it shrank while being read)",
                bytes.len()
            ))
        );
        let _ = std::fs::remove_file(&path);
    }
}
