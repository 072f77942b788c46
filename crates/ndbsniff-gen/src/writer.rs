//! Capture-file writers for synthetic traffic: classic pcap and pcapng.
//!
//! Owns: file headers, record headers, timestamp encoding (µs or ns), byte order and snap
//! length truncation. Writes to any `std::io::Write`. Must never invent timestamps (callers pass
//! them) and never reorder records: what is written is exactly what was asked, so that damaged
//! files can be produced on purpose with [`PcapWriter::write_raw_record`].

use std::io::{self, Write};

/// Byte order of a capture file (and, for link type NULL, of the capturing host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Little-endian (x86 and most captures seen today).
    Little,
    /// Big-endian (SPARC, POWER, some embedded systems).
    Big,
}

impl ByteOrder {
    /// Encodes a `u16` in this byte order.
    pub fn u16(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }

    /// Encodes a `u32` in this byte order.
    pub fn u32(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
}

/// Timestamp resolution of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TsResolution {
    /// Microseconds (pcap magic `a1b2c3d4`, pcapng `if_tsresol` 6).
    Micro,
    /// Nanoseconds (pcap magic `a1b23c4d`, pcapng `if_tsresol` 9).
    Nano,
}

impl TsResolution {
    /// Number of timestamp units in one second.
    pub fn units_per_second(self) -> u64 {
        match self {
            TsResolution::Micro => 1_000_000,
            TsResolution::Nano => 1_000_000_000,
        }
    }

    /// Converts nanoseconds since the epoch into this resolution's units (truncating).
    pub fn from_ns(self, ts_ns: u64) -> u64 {
        match self {
            TsResolution::Micro => ts_ns / 1_000,
            TsResolution::Nano => ts_ns,
        }
    }
}

/// Container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    /// Classic libpcap format.
    Pcap,
    /// pcapng with one section and one interface.
    Pcapng,
}

/// Everything that decides the bytes of a capture file apart from the frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CaptureFormat {
    /// pcap or pcapng.
    pub container: Container,
    /// µs or ns timestamps.
    pub resolution: TsResolution,
    /// File byte order.
    pub byte_order: ByteOrder,
    /// Maximum bytes stored per frame; longer frames are cut and keep their original length.
    pub snaplen: u32,
}

impl CaptureFormat {
    /// Snap length used when none is asked for (what tcpdump uses by default).
    pub const DEFAULT_SNAPLEN: u32 = 262_144;

    /// Little-endian classic pcap with microsecond timestamps.
    pub const PCAP_US: CaptureFormat = CaptureFormat {
        container: Container::Pcap,
        resolution: TsResolution::Micro,
        byte_order: ByteOrder::Little,
        snaplen: Self::DEFAULT_SNAPLEN,
    };

    /// Little-endian classic pcap with nanosecond timestamps.
    pub const PCAP_NS: CaptureFormat = CaptureFormat {
        resolution: TsResolution::Nano,
        ..Self::PCAP_US
    };

    /// Little-endian pcapng with microsecond timestamps.
    pub const PCAPNG_US: CaptureFormat = CaptureFormat {
        container: Container::Pcapng,
        ..Self::PCAP_US
    };

    /// Little-endian pcapng with nanosecond timestamps.
    pub const PCAPNG_NS: CaptureFormat = CaptureFormat {
        container: Container::Pcapng,
        resolution: TsResolution::Nano,
        ..Self::PCAP_US
    };

    /// The same format in another byte order.
    pub fn with_byte_order(self, byte_order: ByteOrder) -> Self {
        CaptureFormat { byte_order, ..self }
    }

    /// The same format with another snap length.
    pub fn with_snaplen(self, snaplen: u32) -> Self {
        CaptureFormat { snaplen, ..self }
    }

    /// Usual file extension (`pcap` or `pcapng`).
    pub fn extension(self) -> &'static str {
        match self.container {
            Container::Pcap => "pcap",
            Container::Pcapng => "pcapng",
        }
    }
}

/// Something that accepts timestamped link-layer frames (a capture writer, or a counter in
/// a benchmark).
pub trait FrameSink {
    /// Records one frame seen at `ts_ns` nanoseconds since the Unix epoch.
    fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()>;
}

/// Classic pcap writer.
///
/// ```
/// use ndbsniff_gen::{CaptureFormat, FrameSink, PcapWriter};
/// let mut w = PcapWriter::new(Vec::new(), CaptureFormat::PCAP_US, 101).unwrap();
/// w.write_frame(1_700_000_000_000_000_000, &[0x45, 0, 0, 20]).unwrap();
/// let bytes = w.into_inner();
/// assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
/// assert_eq!(bytes.len(), 24 + 16 + 4);
/// ```
pub struct PcapWriter<W: Write> {
    out: W,
    format: CaptureFormat,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header for link type `linktype` and returns the writer.
    pub fn new(mut out: W, format: CaptureFormat, linktype: u32) -> io::Result<Self> {
        let bo = format.byte_order;
        let magic: u32 = match format.resolution {
            TsResolution::Micro => 0xa1b2_c3d4,
            TsResolution::Nano => 0xa1b2_3c4d,
        };
        let mut hdr = [0u8; 24];
        hdr[0..4].copy_from_slice(&bo.u32(magic));
        hdr[4..6].copy_from_slice(&bo.u16(2));
        hdr[6..8].copy_from_slice(&bo.u16(4));
        // thiszone and sigfigs stay 0.
        hdr[16..20].copy_from_slice(&bo.u32(format.snaplen));
        hdr[20..24].copy_from_slice(&bo.u32(linktype));
        out.write_all(&hdr)?;
        Ok(PcapWriter { out, format })
    }

    /// Writes a record header with arbitrary lengths followed by `data` as is. Used to build
    /// damaged files (absurd lengths, records cut short); normal frames use `write_frame`.
    pub fn write_raw_record(
        &mut self,
        ts_ns: u64,
        caplen: u32,
        origlen: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let bo = self.format.byte_order;
        let units = self.format.resolution.units_per_second();
        let ts = self.format.resolution.from_ns(ts_ns);
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&bo.u32((ts / units) as u32));
        rec[4..8].copy_from_slice(&bo.u32((ts % units) as u32));
        rec[8..12].copy_from_slice(&bo.u32(caplen));
        rec[12..16].copy_from_slice(&bo.u32(origlen));
        self.out.write_all(&rec)?;
        self.out.write_all(data)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> W {
        let _ = self.out.flush();
        self.out
    }
}

impl<W: Write> FrameSink for PcapWriter<W> {
    fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let cut = frame.len().min(self.format.snaplen as usize);
        let data = frame.get(..cut).unwrap_or(frame);
        self.write_raw_record(ts_ns, cut as u32, frame.len() as u32, data)
    }
}

/// The records of a little-endian microsecond classic pcap as [`PcapWriter`] writes it with
/// [`CaptureFormat::PCAP_US`]: (capture time in microseconds, captured bytes), in file order. For
/// tests and benches reading back what the generator wrote; stops at the first record that does
/// not fit.
pub fn classic_records(pcap: &[u8]) -> Vec<(u64, &[u8])> {
    let word = |at: usize| {
        pcap.get(at..at + 4)
            .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = word(at + 8) as usize;
        let Some(frame) = pcap.get(at + 16..at + 16 + caplen) else {
            break;
        };
        out.push((
            u64::from(word(at)) * 1_000_000 + u64::from(word(at + 4)),
            frame,
        ));
        at += 16 + caplen;
    }
    out
}

/// pcapng writer: one Section Header Block, one Interface Description Block (with
/// `if_tsresol`), then one Enhanced Packet Block per frame.
pub struct PcapngWriter<W: Write> {
    out: W,
    format: CaptureFormat,
}

const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 0x0000_0001;
const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header and the interface block for link type `linktype`.
    pub fn new(mut out: W, format: CaptureFormat, linktype: u32) -> io::Result<Self> {
        let bo = format.byte_order;
        // Section Header Block with a shb_userappl option.
        let appl = b"ndbsniff-gen";
        let opt_len = 4 + appl.len() + pad4(appl.len()) + 4;
        let shb_len = 28 + opt_len;
        let mut shb = Vec::with_capacity(shb_len);
        shb.extend_from_slice(&bo.u32(SHB_TYPE));
        shb.extend_from_slice(&bo.u32(shb_len as u32));
        shb.extend_from_slice(&bo.u32(BYTE_ORDER_MAGIC));
        shb.extend_from_slice(&bo.u16(1));
        shb.extend_from_slice(&bo.u16(0));
        shb.extend_from_slice(&[0xff; 8]); // section length: unknown
        shb.extend_from_slice(&bo.u16(4)); // shb_userappl
        shb.extend_from_slice(&bo.u16(appl.len() as u16));
        shb.extend_from_slice(appl);
        shb.extend(std::iter::repeat_n(0u8, pad4(appl.len())));
        shb.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        shb.extend_from_slice(&bo.u32(shb_len as u32));
        out.write_all(&shb)?;

        // Interface Description Block with if_tsresol.
        let idb_len: u32 = 20 + 8 + 4;
        let mut idb = Vec::with_capacity(idb_len as usize);
        idb.extend_from_slice(&bo.u32(IDB_TYPE));
        idb.extend_from_slice(&bo.u32(idb_len));
        idb.extend_from_slice(&bo.u16(linktype as u16));
        idb.extend_from_slice(&bo.u16(0));
        idb.extend_from_slice(&bo.u32(format.snaplen));
        idb.extend_from_slice(&bo.u16(9)); // if_tsresol
        idb.extend_from_slice(&bo.u16(1));
        let resol = match format.resolution {
            TsResolution::Micro => 6u8,
            TsResolution::Nano => 9u8,
        };
        idb.extend_from_slice(&[resol, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        idb.extend_from_slice(&bo.u32(idb_len));
        out.write_all(&idb)?;
        Ok(PcapngWriter { out, format })
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> W {
        let _ = self.out.flush();
        self.out
    }
}

impl<W: Write> FrameSink for PcapngWriter<W> {
    fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let bo = self.format.byte_order;
        let cut = frame.len().min(self.format.snaplen as usize);
        let data = frame.get(..cut).unwrap_or(frame);
        let ts = self.format.resolution.from_ns(ts_ns);
        let total = 32 + cut + pad4(cut);
        let mut hdr = [0u8; 28];
        hdr[0..4].copy_from_slice(&bo.u32(EPB_TYPE));
        hdr[4..8].copy_from_slice(&bo.u32(total as u32));
        // interface id 0 at 8..12
        hdr[12..16].copy_from_slice(&bo.u32((ts >> 32) as u32));
        hdr[16..20].copy_from_slice(&bo.u32(ts as u32));
        hdr[20..24].copy_from_slice(&bo.u32(cut as u32));
        hdr[24..28].copy_from_slice(&bo.u32(frame.len() as u32));
        self.out.write_all(&hdr)?;
        self.out.write_all(data)?;
        self.out.write_all(&[0u8; 3][..pad4(cut)])?;
        self.out.write_all(&bo.u32(total as u32))
    }
}

/// Either writer, chosen at run time from a [`CaptureFormat`].
pub enum CaptureWriter<W: Write> {
    /// Classic pcap.
    Pcap(PcapWriter<W>),
    /// pcapng.
    Pcapng(PcapngWriter<W>),
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the file header(s) for `format` and link type `linktype`.
    pub fn new(out: W, format: CaptureFormat, linktype: u32) -> io::Result<Self> {
        Ok(match format.container {
            Container::Pcap => CaptureWriter::Pcap(PcapWriter::new(out, format, linktype)?),
            Container::Pcapng => CaptureWriter::Pcapng(PcapngWriter::new(out, format, linktype)?),
        })
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> W {
        match self {
            CaptureWriter::Pcap(w) => w.into_inner(),
            CaptureWriter::Pcapng(w) => w.into_inner(),
        }
    }
}

impl<W: Write> FrameSink for CaptureWriter<W> {
    fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        match self {
            CaptureWriter::Pcap(w) => w.write_frame(ts_ns, frame),
            CaptureWriter::Pcapng(w) => w.write_frame(ts_ns, frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u64 = 1_705_312_800_123_456_789;

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn pcap_us_le_header_and_record() {
        let mut w = PcapWriter::new(Vec::new(), CaptureFormat::PCAP_US, 1).unwrap();
        w.write_frame(TS, &[1, 2, 3]).unwrap();
        let b = w.into_inner();
        assert_eq!(le32(&b, 0), 0xa1b2c3d4);
        assert_eq!(le32(&b, 16), 262_144);
        assert_eq!(le32(&b, 20), 1);
        assert_eq!(le32(&b, 24), 1_705_312_800);
        assert_eq!(le32(&b, 28), 123_456);
        assert_eq!(le32(&b, 32), 3);
        assert_eq!(le32(&b, 36), 3);
        assert_eq!(&b[40..], &[1, 2, 3]);
    }

    #[test]
    fn pcap_ns_be_and_snaplen_cut() {
        let fmt = CaptureFormat::PCAP_NS
            .with_byte_order(ByteOrder::Big)
            .with_snaplen(2);
        let mut w = PcapWriter::new(Vec::new(), fmt, 276).unwrap();
        w.write_frame(TS, &[9, 8, 7, 6]).unwrap();
        let b = w.into_inner();
        assert_eq!(be32(&b, 0), 0xa1b23c4d);
        assert_eq!(be32(&b, 20), 276);
        assert_eq!(be32(&b, 28), 123_456_789);
        assert_eq!(be32(&b, 32), 2, "caplen");
        assert_eq!(be32(&b, 36), 4, "origlen");
        assert_eq!(&b[40..], &[9, 8]);
    }

    #[test]
    fn pcapng_blocks_are_consistent() {
        for bo in [ByteOrder::Little, ByteOrder::Big] {
            let fmt = CaptureFormat::PCAPNG_NS.with_byte_order(bo);
            let mut w = PcapngWriter::new(Vec::new(), fmt, 113).unwrap();
            w.write_frame(TS, &[1, 2, 3, 4, 5]).unwrap();
            let b = w.into_inner();
            let rd = |at: usize| match bo {
                ByteOrder::Little => le32(&b, at),
                ByteOrder::Big => be32(&b, at),
            };
            // Walk the blocks: each starts and ends with the same total length.
            let mut at = 0;
            let mut types = Vec::new();
            while at < b.len() {
                let len = rd(at + 4) as usize;
                assert_eq!(len % 4, 0);
                assert_eq!(rd(at + len - 4) as usize, len);
                types.push(rd(at));
                at += len;
            }
            assert_eq!(at, b.len());
            assert_eq!(types, vec![SHB_TYPE, IDB_TYPE, EPB_TYPE]);
            assert_eq!(rd(8), BYTE_ORDER_MAGIC);
        }
    }
}
