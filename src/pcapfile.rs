//! A memory-mapped reader for classic pcap files (the fast path for offline replay).
//!
//! Owns: walking the records of a classic `.pcap` file (µs or ns, either byte order) in place,
//! with the same acceptance rules as libpcap: caplen above the file's snapshot length is cut to
//! it, an absurd caplen or a record cut short ends the file with an error naming the record and
//! byte offset. Frames are never copied: callers get offsets into the shared map. pcapng and
//! other variants are left to libpcap.
//!
//! Never: reads outside the map, panics on any bytes, or allocates per record.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

/// libpcap's ceiling for a record's captured length (MAXIMUM_SNAPLEN).
pub const MAX_CAPLEN: u32 = 262_144;

const HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// One record, as offsets into the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub ts_us: i64,
    /// Offset of the frame's first byte in the map.
    pub offset: usize,
    pub caplen: u32,
    pub origlen: u32,
}

/// What the next read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Record(Record),
    End,
    /// The file is damaged here; the message says how.
    Damaged(String),
}

/// An open classic pcap file.
pub struct PcapFile {
    map: Arc<Mmap>,
    pos: usize,
    swapped: bool,
    nanos: bool,
    /// Versions before 2.3 may have caplen and len swapped.
    old_version: bool,
    pub linktype: u32,
    pub snaplen: u32,
    records: u64,
}

impl PcapFile {
    /// Maps `path` if it is a classic pcap file; `Ok(None)` for anything else (pcapng, …).
    pub fn open(path: &Path) -> std::io::Result<Option<PcapFile>> {
        let file = File::open(path)?;
        if file.metadata()?.len() < HEADER_LEN as u64 {
            return Ok(None);
        }
        // SAFETY: the map is read-only and private to this process. If another process truncates
        // the file while it is mapped, reads past the new end fault (SIGBUS); replaying a file
        // that is being rewritten is not supported (a growing file is fine: the map covers the
        // size at open).
        let map = unsafe { Mmap::map(&file)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(PcapFile::from_map(Arc::new(map)))
    }

    fn from_map(map: Arc<Mmap>) -> Option<PcapFile> {
        let head: [u8; HEADER_LEN] = map.get(..HEADER_LEN)?.try_into().ok()?;
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let (swapped, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return None,
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
            return None;
        }
        let snaplen = rd32([head[16], head[17], head[18], head[19]]);
        // The upper bits of the link-type field carry FCS information, not the link type.
        let linktype = rd32([head[20], head[21], head[22], head[23]]) & 0x03ff_ffff;
        let snaplen = if snaplen == 0 || snaplen > MAX_CAPLEN {
            MAX_CAPLEN
        } else {
            snaplen
        };
        Some(PcapFile {
            map,
            pos: HEADER_LEN,
            swapped,
            nanos,
            old_version: minor < 3,
            linktype,
            snaplen,
            records: 0,
        })
    }

    /// The map, for turning record offsets into bytes.
    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }

    /// Byte offset of the next record header.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b: [u8; 4] = self
            .map
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 4]);
        if self.swapped {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// The next record, the end of the file, or what is wrong with it.
    #[inline]
    pub fn next_record(&mut self) -> Next {
        let len = self.map.len();
        if self.pos == len {
            return Next::End;
        }
        let at = self.pos;
        let record = self.records + 1;
        if len - at < RECORD_HEADER_LEN {
            return Next::Damaged(format!(
                "record {record} at byte offset {at}: file ends inside the record header ({} of {RECORD_HEADER_LEN} bytes)",
                len - at
            ));
        }
        let secs = self.u32_at(at);
        let frac = self.u32_at(at + 4);
        let mut caplen = self.u32_at(at + 8);
        let mut origlen = self.u32_at(at + 12);
        if self.old_version && caplen > origlen {
            std::mem::swap(&mut caplen, &mut origlen);
        }
        if caplen > MAX_CAPLEN.max(self.snaplen) {
            return Next::Damaged(format!(
                "record {record} at byte offset {at}: absurd captured length {caplen} (at most {} allowed)",
                MAX_CAPLEN.max(self.snaplen)
            ));
        }
        let data = at + RECORD_HEADER_LEN;
        let end = data + caplen as usize;
        if end > len {
            return Next::Damaged(format!(
                "record {record} at byte offset {at}: file ends inside the frame ({} of {caplen} bytes)",
                len - data
            ));
        }
        self.pos = end;
        self.records = record;
        let micros = if self.nanos { frac / 1000 } else { frac } as i64;
        // Like libpcap, deliver at most the snapshot length of a longer record.
        let caplen = caplen.min(self.snaplen);
        Next::Record(Record {
            ts_us: secs as i64 * 1_000_000 + micros,
            offset: data,
            caplen,
            origlen,
        })
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
                            (10_000_005, 3, 60, 40)
                        );
                        assert_eq!(&f.map()[r.offset..r.offset + 3], b"abc");
                    }
                    other => panic!("{other:?}"),
                }
                assert_eq!(f.next_record(), Next::End);
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
            f.next_record(),
            Next::Damaged(
                "record 2 at byte offset 44: file ends inside the record header (3 of 16 bytes)"
                    .into()
            )
        );
        let mut cut = good.clone();
        cut.truncate(cut.len() - 1);
        let mut f = open_bytes(&cut).expect("pcap");
        assert!(
            matches!(f.next_record(), Next::Damaged(m) if m.contains("ends inside the frame (3 of 4 bytes)"))
        );
        let mut absurd = header(0xa1b2_c3d4, 65535, 1, false);
        absurd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        let mut f = open_bytes(&absurd).expect("pcap");
        assert!(
            matches!(f.next_record(), Next::Damaged(m) if m.contains("absurd captured length 2147483647"))
        );
    }

    #[test]
    fn caplen_beyond_snaplen_is_cut_and_fcs_bits_are_masked() {
        let mut b = header(0xa1b2_c3d4, 2, 0x1000_0001, false);
        record(&mut b, 1, 0, b"abcd", 4, false);
        let mut f = open_bytes(&b).expect("pcap");
        assert_eq!(f.linktype, 1);
        assert!(matches!(f.next_record(), Next::Record(r) if r.caplen == 2 && r.origlen == 4));
        assert_eq!(f.next_record(), Next::End);
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
}
