//! A streaming pcapng reader that does not go through libpcap.
//!
//! Owns: walking the blocks of a pcapng stream (a file, a decompressed file or a pipe) one block
//! at a time, in every section and either byte order: Section Header Blocks (each starts a new
//! section with its own byte order and interface list), Interface Description Blocks (link type,
//! snapshot length, `if_tsresol` in base 10 or base 2, `if_tsoffset`), and the packet blocks
//! (Enhanced, Simple and the obsolete Packet Block), which come out as [`NgFrame`]s carrying their
//! own interface's link type, so one file may mix link types. Every other block (statistics, name
//! resolution, decryption secrets, custom, unknown) is skipped. The framing of every block (its
//! length in the header and the trailer) is checked here; the contents of Section Header and
//! Interface Description Blocks are decoded with the `pcap-parser` crate, the fixed fields of
//! packet blocks directly (so that no packet allocates). A stream that is not as it should be
//! ends with an [`NgDamage`] naming the block (counted from 1) and its byte offset.
//!
//! Never: panics or loops on any bytes, reads past the block it is in, holds more than one block
//! (at most [`MAX_BLOCK`] bytes, in one reused buffer) and [`MAX_INTERFACES`] interfaces,
//! allocates per packet once the buffer has grown to the largest block, or hands out more than
//! [`MAX_CAPLEN`] bytes of a frame. It does not seek, so any [`Read`] will do.

use std::io::{self, Read};

use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock, InterfaceDescriptionBlock, OptionCode,
};

/// The most bytes a frame hands out, and the snapshot length of an interface whose IDB says 0
/// (libpcap's ceiling, as for classic pcap files).
pub const MAX_CAPLEN: u32 = crate::capture::pcapfile::MAX_CAPLEN;
/// The longest block accepted (libpcap's limit): a longer one is damage.
pub const MAX_BLOCK: u32 = 16 << 20;
/// The most interfaces one section may describe: one more is damage.
pub const MAX_INTERFACES: usize = 1 << 16;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Blocks up to this length are read straight into the buffer (sized first); longer ones grow
/// it by what arrives.
const DIRECT_FILL: usize = 64 << 10;
/// Every block: type, length, and the length again at the end.
const MIN_BLOCK: u32 = 12;
/// The `if_tsresol` option of an IDB, and `if_tsoffset`.
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// One interface of the current section, from its Interface Description Block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The link type (a `LINKTYPE_` value) as stored in the IDB.
    pub linktype: u16,
    /// The snapshot length frames are cut to: the IDB's, with 0 (no limit) and anything above
    /// [`MAX_CAPLEN`] read as [`MAX_CAPLEN`].
    pub snaplen: u32,
    /// The `if_tsresol` byte as stored (6, microseconds, when the option is absent): the top bit
    /// clear means 10^-n seconds, set means 2^-n seconds, n being the low seven bits.
    pub tsresol: u8,
    /// Timestamp units per second, from [`Interface::tsresol`].
    pub units_per_sec: u64,
    /// `if_tsoffset`: seconds added to every timestamp of the interface (0 when absent).
    pub tsoffset: i64,
}

/// One packet, read in place from the current block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NgFrame<'a> {
    /// The interface's index within the current section (always 0 for a Simple Packet Block).
    pub interface: u32,
    /// That interface's link type, as stored in its IDB.
    pub linktype: u16,
    /// The capture time in microseconds since the Unix epoch, with the interface's resolution and
    /// offset applied (fractions cut, not rounded; saturated at the ends of `i64`). 0 for a Simple
    /// Packet Block, which has no timestamp.
    pub ts_us: i64,
    /// The same time as whole seconds (saturated to the range of `u32`) ...
    pub ts_sec: u32,
    /// ... and nanoseconds within the second (cut, not rounded).
    pub ts_nsec: u32,
    /// The captured bytes: at most the block's captured length, the interface's snapshot length,
    /// and [`MAX_CAPLEN`].
    pub data: &'a [u8],
    /// The length of the packet on the wire, as the block says.
    pub origlen: u32,
}

/// What [`NgFile::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum NgNext<'a> {
    /// A packet.
    Frame(NgFrame<'a>),
    /// The stream ended cleanly after a block. Every later call says so again.
    End,
    /// The stream cannot be read past this point. Every later call says so again.
    Damaged(NgDamage),
}

/// Where and why a pcapng stream stops being readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NgDamage {
    /// The block, counted from 1 (the first Section Header Block is block 1).
    pub block: u64,
    /// The byte offset of the block's first byte in the stream (after decompression, if any).
    pub offset: u64,
    /// What is wrong, in a few words, e.g. `block length 12 below the minimum 28`.
    pub what: String,
}

impl std::fmt::Display for NgDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pcapng block {} at byte {}: {}",
            self.block, self.offset, self.what
        )
    }
}

/// Reads a pcapng stream block by block: [`NgFile::open`], then [`NgFile::next`] until it returns
/// [`NgNext::End`] or [`NgNext::Damaged`].
pub struct NgFile {
    input: Box<dyn Read + Send>,
    /// The current block, whole (header and trailer included). Reused for every block.
    buf: Vec<u8>,
    big_endian: bool,
    interfaces: Vec<Interface>,
    sections: u64,
    /// Blocks read whole and accepted.
    blocks: u64,
    /// The stream offset of the next block.
    offset: u64,
    /// The number and offset of the block being read (or last read), for damage.
    current: (u64, u64),
    /// Set once the stream has ended or is damaged: `None` for a clean end.
    finished: Option<Option<NgDamage>>,
}

impl std::fmt::Debug for NgFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NgFile")
            .field("big_endian", &self.big_endian)
            .field("interfaces", &self.interfaces)
            .field("sections", &self.sections)
            .field("blocks", &self.blocks)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// A packet block's fixed fields, before its interface is looked up.
struct Packet {
    interface: u32,
    /// The 64-bit timestamp in interface units, or `None` (Simple Packet Block).
    ts: Option<u64>,
    /// Where the captured bytes start in the block, and how many the block claims.
    start: usize,
    caplen: u32,
    origlen: u32,
}

impl NgFile {
    /// Starts reading `input`: reads the first Section Header Block and nothing more. An input
    /// that does not start with a valid Section Header Block (is not pcapng, or is cut inside it)
    /// is an error.
    pub fn open(input: Box<dyn Read + Send>) -> Result<NgFile, NgDamage> {
        let mut file = NgFile {
            input,
            buf: Vec::new(),
            big_endian: false,
            interfaces: Vec::new(),
            sections: 0,
            blocks: 0,
            offset: 0,
            current: (1, 0),
            finished: None,
        };
        match file.read_block(true) {
            Ok(Some(SHB)) => Ok(file),
            Ok(Some(_)) => Err(file.damage("not a section header block")),
            Ok(None) => Err(file.damage("empty input: not a pcapng file")),
            Err(d) => Err(d),
        }
    }

    /// The next packet, or the end, or the damage that stops the stream. Blocks that carry no
    /// packet are read (and applied, for section and interface descriptions) on the way.
    // Not an `Iterator`: each frame borrows the reader's buffer until the next call.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> NgNext<'_> {
        if let Some(finished) = &self.finished {
            return match finished {
                None => NgNext::End,
                Some(d) => NgNext::Damaged(d.clone()),
            };
        }
        loop {
            match self.read_block(false) {
                Ok(None) => {
                    self.finished = Some(None);
                    return NgNext::End;
                }
                Ok(Some(t)) if t == EPB || t == SPB || t == OPB => {
                    return match self.frame(t) {
                        Ok(f) => NgNext::Frame(f),
                        Err(d) => NgNext::Damaged(d),
                    };
                }
                Ok(Some(_)) => continue,
                Err(d) => return NgNext::Damaged(d),
            }
        }
    }

    /// The interfaces of the current section, in the order of their IDBs.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// The sections (Section Header Blocks) seen so far, the first included.
    pub fn sections(&self) -> u64 {
        self.sections
    }

    /// The blocks read whole and accepted so far, of every type (the first SHB included).
    pub fn blocks_read(&self) -> u64 {
        self.blocks
    }

    /// Whether the current section is big-endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// Damage at the block being read, which also ends the stream for every later call.
    fn damage(&mut self, what: impl Into<String>) -> NgDamage {
        let d = NgDamage {
            block: self.current.0,
            offset: self.current.1,
            what: what.into(),
        };
        self.finished = Some(Some(d.clone()));
        d
    }

    fn u32_at(&self, at: usize) -> u32 {
        read_u32(&self.buf, at, self.big_endian)
    }

    /// Reads `n` more bytes of the current block onto the end of the buffer; returns how many
    /// arrived (fewer only at the end of the stream).
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        let before = self.buf.len();
        if n <= DIRECT_FILL {
            // The common case, a packet's block: read straight into the buffer.
            self.buf.resize(before + n, 0);
            let mut got = 0;
            while got < n {
                match self.input.read(&mut self.buf[before + got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.buf.truncate(before + got);
                        return Err(e);
                    }
                }
            }
            self.buf.truncate(before + got);
            return Ok(got);
        }
        // Grow by what actually arrives, so a block that claims 16 MiB in a short stream costs
        // only what the stream holds.
        (&mut self.input)
            .take(n as u64)
            .read_to_end(&mut self.buf)?;
        Ok(self.buf.len() - before)
    }

    /// Reads one whole block into the buffer and applies it if it is a Section Header or an
    /// Interface Description Block. Returns its type (in the section's byte order), `None` at a
    /// clean end of the stream, or the damage. With `first`, the block must be an SHB.
    fn read_block(&mut self, first: bool) -> Result<Option<u32>, NgDamage> {
        self.buf.clear();
        self.current = (self.blocks + 1, self.offset);
        let got = self.fill(8).map_err(|e| self.read_error(e))?;
        if got == 0 {
            return Ok(None);
        }
        if got < 8 {
            return Err(self.damage(format!(
                "file ends inside a block header (got {got} of 8 bytes)"
            )));
        }
        let raw_type = read_u32(&self.buf, 0, false);
        let is_shb = raw_type == SHB;
        if first && !is_shb {
            return Err(self.damage(format!(
                "not a pcapng file (starts with {:02x?})",
                &self.buf[..4]
            )));
        }
        if is_shb {
            // The byte order of the section (and of this block's length) comes after the length.
            let got = self.fill(4).map_err(|e| self.read_error(e))?;
            if got < 4 {
                return Err(self.damage(format!(
                    "file ends inside a block header (got {} of 12 bytes)",
                    8 + got
                )));
            }
            let bom = read_u32(&self.buf, 8, false);
            self.big_endian = if bom == BYTE_ORDER_MAGIC {
                false
            } else if bom == BYTE_ORDER_MAGIC.swap_bytes() {
                true
            } else {
                return Err(self.damage(format!(
                    "section header with an unknown byte-order magic 0x{bom:08x}"
                )));
            };
        }
        let block_type = if is_shb { SHB } else { self.u32_at(0) };
        let len = self.u32_at(4);
        let min = match block_type {
            SHB => 28,
            IDB => 20,
            EPB | OPB => 32,
            SPB => 16,
            _ => MIN_BLOCK,
        };
        if len < min {
            return Err(self.damage(format!("block length {len} below the minimum {min}")));
        }
        if len % 4 != 0 {
            return Err(self.damage(format!("block length {len} is not a multiple of 4")));
        }
        if len > MAX_BLOCK {
            return Err(self.damage(format!("block length {len} above the maximum {MAX_BLOCK}")));
        }
        let have = self.buf.len();
        let want = len as usize - have;
        let got = self.fill(want).map_err(|e| self.read_error(e))?;
        if got < want {
            return Err(self.damage(format!(
                "file ends inside a block (got {} of {len} bytes)",
                have + got
            )));
        }
        let trailer = self.u32_at(len as usize - 4);
        if trailer != len {
            return Err(self.damage(format!(
                "block length {len} in the header but {trailer} in the trailer"
            )));
        }
        self.offset += u64::from(len);
        match block_type {
            SHB => self.section()?,
            IDB => self.interface()?,
            // Counted once their interface is known.
            EPB | SPB | OPB => return Ok(Some(block_type)),
            _ => {}
        }
        self.blocks += 1;
        Ok(Some(block_type))
    }

    fn read_error(&mut self, e: io::Error) -> NgDamage {
        self.damage(format!("read error: {e}"))
    }

    /// Starts a new section from the SHB in the buffer.
    fn section(&mut self) -> Result<(), NgDamage> {
        let shb = match parse_sectionheaderblock(&self.buf) {
            Ok((_, shb)) => shb,
            Err(e) => return Err(self.damage(format!("section header unreadable ({e})"))),
        };
        // libpcap's rule: version 1.0, or 1.2 as some writers put it.
        let (major, minor) = (shb.major_version, shb.minor_version);
        if major != 1 || (minor != 0 && minor != 2) {
            return Err(self.damage(format!("unsupported pcapng version {major}.{minor}")));
        }
        self.interfaces.clear();
        self.sections += 1;
        Ok(())
    }

    /// Adds the interface the IDB in the buffer describes.
    fn interface(&mut self) -> Result<(), NgDamage> {
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(self.damage(format!(
                "more than {MAX_INTERFACES} interfaces in one section"
            )));
        }
        let parsed = if self.big_endian {
            parse_interfacedescriptionblock_be(&self.buf)
        } else {
            parse_interfacedescriptionblock_le(&self.buf)
        };
        let found = match parsed {
            Ok((_, idb)) => idb_settings(&idb, self.big_endian),
            Err(e) => Err(format!("interface description unreadable ({e})")),
        };
        let (tsresol, tsoffset) = match found {
            Ok(s) => s,
            Err(what) => return Err(self.damage(what)),
        };
        let Some(units_per_sec) = units_per_sec(tsresol) else {
            return Err(self.damage(format!(
                "if_tsresol {} cannot be represented",
                describe_tsresol(tsresol)
            )));
        };
        let linktype = read_u16(&self.buf, 8, self.big_endian);
        let snaplen = match self.u32_at(12) {
            0 => MAX_CAPLEN,
            s => s.min(MAX_CAPLEN),
        };
        self.interfaces.push(Interface {
            linktype,
            snaplen,
            tsresol,
            units_per_sec,
            tsoffset,
        });
        Ok(())
    }

    /// The frame in the packet block of type `t` in the buffer.
    fn frame(&mut self, t: u32) -> Result<NgFrame<'_>, NgDamage> {
        let end = self.buf.len() - 4;
        let p = match t {
            SPB => Packet {
                interface: 0,
                ts: None,
                start: 12,
                caplen: u32::MAX,
                origlen: self.u32_at(8),
            },
            OPB => Packet {
                interface: u32::from(read_u16(&self.buf, 8, self.big_endian)),
                ts: Some(u64::from(self.u32_at(12)) << 32 | u64::from(self.u32_at(16))),
                start: 28,
                caplen: self.u32_at(20),
                origlen: self.u32_at(24),
            },
            _ => Packet {
                interface: self.u32_at(8),
                ts: Some(u64::from(self.u32_at(12)) << 32 | u64::from(self.u32_at(16))),
                start: 28,
                caplen: self.u32_at(20),
                origlen: self.u32_at(24),
            },
        };
        let held = end - p.start;
        let Some(iface) = self.interfaces.get(p.interface as usize).copied() else {
            let n = self.interfaces.len();
            let what = if t == SPB {
                format!("simple packet, but the section has {n} interfaces")
            } else {
                format!(
                    "packet on interface {}, but the section has {n}",
                    p.interface
                )
            };
            return Err(self.damage(what));
        };
        let caplen = if t == SPB {
            // The block's data is padded: the packet is what the original length says, or as
            // much of it as the block holds.
            (p.origlen as usize).min(held)
        } else if p.caplen as usize > held {
            let caplen = p.caplen;
            return Err(self.damage(format!(
                "captured length {caplen} but the block holds {held} bytes"
            )));
        } else {
            p.caplen as usize
        };
        let caplen = caplen.min(iface.snaplen as usize);
        self.blocks += 1;
        let (ts_us, ts_sec, ts_nsec) = match p.ts {
            Some(ts) => timestamp(ts, iface.units_per_sec, iface.tsoffset),
            None => (0, 0, 0),
        };
        Ok(NgFrame {
            interface: p.interface,
            linktype: iface.linktype,
            ts_us,
            ts_sec,
            ts_nsec,
            data: &self.buf[p.start..p.start + caplen],
            origlen: p.origlen,
        })
    }
}

/// `if_tsresol` (6 when absent) and `if_tsoffset` (0 when absent) of an IDB: the first of each.
fn idb_settings(
    idb: &InterfaceDescriptionBlock<'_>,
    big_endian: bool,
) -> Result<(u8, i64), String> {
    let mut tsresol = None;
    let mut tsoffset = None;
    for opt in &idb.options {
        if opt.code == OptionCode::EndOfOpt {
            break;
        }
        let value = opt.value();
        match opt.code.0 {
            IF_TSRESOL if tsresol.is_none() => match value.first() {
                Some(&v) if opt.len == 1 => tsresol = Some(v),
                _ => return Err(format!("if_tsresol of {} bytes, not 1", opt.len)),
            },
            IF_TSOFFSET if tsoffset.is_none() => match value.get(..8) {
                Some(b) if opt.len == 8 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    tsoffset = Some(if big_endian {
                        i64::from_be_bytes(a)
                    } else {
                        i64::from_le_bytes(a)
                    });
                }
                _ => return Err(format!("if_tsoffset of {} bytes, not 8", opt.len)),
            },
            _ => {}
        }
    }
    Ok((tsresol.unwrap_or(6), tsoffset.unwrap_or(0)))
}

/// Timestamp units per second for an `if_tsresol` byte, or `None` when it does not fit in 64
/// bits.
fn units_per_sec(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

fn describe_tsresol(tsresol: u8) -> String {
    if tsresol & 0x80 == 0 {
        format!("10^-{tsresol}")
    } else {
        format!("2^-{}", tsresol & 0x7f)
    }
}

/// A timestamp of `ts` units, `units` to the second, plus `offset` seconds: as microseconds since
/// the epoch, and as seconds and nanoseconds.
fn timestamp(ts: u64, units: u64, offset: i64) -> (i64, u32, u32) {
    let units = u128::from(units.max(1));
    let ts = u128::from(ts);
    let secs = (ts / units) as i128 + i128::from(offset);
    let frac = ts % units;
    let usec = (frac * 1_000_000 / units) as i128;
    let nsec = (frac * 1_000_000_000 / units) as u32;
    let us = secs
        .saturating_mul(1_000_000)
        .saturating_add(usec)
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    let sec = secs.clamp(0, i128::from(u32::MAX)) as u32;
    (us, sec, nsec)
}

/// The u32 at `at` in `buf`, or 0 past its end (callers check lengths first).
fn read_u32(buf: &[u8], at: usize, big_endian: bool) -> u32 {
    let mut a = [0u8; 4];
    if let Some(b) = buf.get(at..at + 4) {
        a.copy_from_slice(b);
    }
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn read_u16(buf: &[u8], at: usize, big_endian: bool) -> u16 {
    let mut a = [0u8; 2];
    if let Some(b) = buf.get(at..at + 2) {
        a.copy_from_slice(b);
    }
    if big_endian {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::path::{Path, PathBuf};

    /// Builds pcapng bytes block by block, in the byte order of the last section started.
    struct Ng {
        out: Vec<u8>,
        be: bool,
    }

    impl Ng {
        fn new() -> Ng {
            Ng {
                out: Vec::new(),
                be: false,
            }
        }

        fn u16(&self, v: u16) -> [u8; 2] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }

        fn u32(&self, v: u32) -> [u8; 4] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }

        /// A block of type `t` around `body` (padded to 4 bytes); returns its offset.
        fn block(&mut self, t: u32, body: &[u8]) -> u64 {
            let at = self.out.len() as u64;
            let pad = (4 - body.len() % 4) % 4;
            let len = (12 + body.len() + pad) as u32;
            let (t, l) = (self.u32(t), self.u32(len));
            self.out.extend_from_slice(&t);
            self.out.extend_from_slice(&l);
            self.out.extend_from_slice(body);
            self.out.extend(std::iter::repeat_n(0u8, pad));
            self.out.extend_from_slice(&l);
            at
        }

        /// A raw block header claiming `len`, with `body` as it is (for damage).
        fn raw(&mut self, t: u32, len: u32, body: &[u8]) -> u64 {
            let at = self.out.len() as u64;
            let (t, l) = (self.u32(t), self.u32(len));
            self.out.extend_from_slice(&t);
            self.out.extend_from_slice(&l);
            self.out.extend_from_slice(body);
            at
        }

        fn shb(&mut self, be: bool) -> u64 {
            self.be = be;
            let mut body = Vec::new();
            body.extend_from_slice(&self.u32(BYTE_ORDER_MAGIC));
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&[0xff; 8]);
            self.block(SHB, &body)
        }

        /// An IDB with options given as (code, value).
        fn idb(&mut self, linktype: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> u64 {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u16(linktype));
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(&self.u32(snaplen));
            for (code, value) in options {
                body.extend_from_slice(&self.u16(*code));
                body.extend_from_slice(&self.u16(value.len() as u16));
                body.extend_from_slice(value);
                body.extend(std::iter::repeat_n(0u8, (4 - value.len() % 4) % 4));
            }
            if !options.is_empty() {
                body.extend_from_slice(&[0; 4]);
            }
            self.block(IDB, &body)
        }

        fn tsoffset(&self, secs: i64) -> (u16, Vec<u8>) {
            let v = if self.be {
                secs.to_be_bytes()
            } else {
                secs.to_le_bytes()
            };
            (IF_TSOFFSET, v.to_vec())
        }

        fn epb_claiming(
            &mut self,
            iface: u32,
            ts: u64,
            caplen: u32,
            data: &[u8],
            origlen: u32,
        ) -> u64 {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u32(iface));
            body.extend_from_slice(&self.u32((ts >> 32) as u32));
            body.extend_from_slice(&self.u32(ts as u32));
            body.extend_from_slice(&self.u32(caplen));
            body.extend_from_slice(&self.u32(origlen));
            body.extend_from_slice(data);
            self.block(EPB, &body)
        }

        fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) -> u64 {
            self.epb_claiming(iface, ts, data.len() as u32, data, data.len() as u32 + 10)
        }

        fn spb(&mut self, origlen: u32, data: &[u8]) -> u64 {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u32(origlen));
            body.extend_from_slice(data);
            self.block(SPB, &body)
        }

        fn opb(&mut self, iface: u16, ts: u64, data: &[u8]) -> u64 {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u16(iface));
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&self.u32((ts >> 32) as u32));
            body.extend_from_slice(&self.u32(ts as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(data);
            self.block(OPB, &body)
        }
    }

    /// A frame as owned values, for comparing.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Owned {
        interface: u32,
        linktype: u16,
        ts_us: i64,
        ts_sec: u32,
        ts_nsec: u32,
        data: Vec<u8>,
        origlen: u32,
    }

    impl From<&NgFrame<'_>> for Owned {
        fn from(f: &NgFrame<'_>) -> Owned {
            Owned {
                interface: f.interface,
                linktype: f.linktype,
                ts_us: f.ts_us,
                ts_sec: f.ts_sec,
                ts_nsec: f.ts_nsec,
                data: f.data.to_vec(),
                origlen: f.origlen,
            }
        }
    }

    /// Reads everything: the frames and how it ended (`None` for a clean end).
    fn read_all(input: Box<dyn Read + Send>) -> (Vec<Owned>, Option<NgDamage>) {
        let mut f = match NgFile::open(input) {
            Ok(f) => f,
            Err(d) => return (Vec::new(), Some(d)),
        };
        let mut frames = Vec::new();
        loop {
            match f.next() {
                NgNext::Frame(fr) => frames.push(Owned::from(&fr)),
                NgNext::End => return (frames, None),
                NgNext::Damaged(d) => return (frames, Some(d)),
            }
        }
    }

    fn read_bytes(bytes: &[u8]) -> (Vec<Owned>, Option<NgDamage>) {
        read_all(Box::new(Cursor::new(bytes.to_vec())))
    }

    fn open(bytes: &[u8]) -> NgFile {
        match NgFile::open(Box::new(Cursor::new(bytes.to_vec()))) {
            Ok(f) => f,
            Err(d) => panic!("open failed: {d}"),
        }
    }

    fn payload(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
            .collect()
    }

    /// Hands out one byte per `read` call, as a slow pipe might.
    struct OneByte(Cursor<Vec<u8>>);

    impl Read for OneByte {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    /// Two sections: LE with Ethernet (no snaplen) and Linux cooked (snaplen 64) interfaces, BE
    /// with a raw IP interface in 2^-20 s and an offset; packets of every kind, unknown blocks.
    fn two_sections() -> Vec<u8> {
        let mut ng = Ng::new();
        ng.shb(false);
        ng.idb(1, 0, &[]);
        ng.idb(113, 64, &[(IF_TSRESOL, vec![9])]);
        ng.epb(0, 1_700_000_000_123_456, &payload(100, 1));
        ng.block(5, &[0; 20]); // ISB
        ng.epb(1, 1_700_000_000_123_456_789, &payload(100, 2));
        ng.block(4, &[0; 4]); // NRB
        ng.spb(70, &payload(70, 3));
        ng.opb(1, 5_000_000_001, &payload(30, 4));
        ng.shb(true);
        let off = ng.tsoffset(1_600_000_000);
        ng.idb(101, 1500, &[(IF_TSRESOL, vec![0x80 | 20]), off]);
        ng.block(0x0BAD_0BAD, &[1, 2, 3, 4, 5]); // custom, unknown to readers
        ng.epb(0, (1000 << 20) + (1 << 19), &payload(40, 5));
        ng.out
    }

    #[test]
    fn ngread_frames_carry_their_interface_link_type_and_snaplen() {
        let bytes = two_sections();
        let mut f = open(&bytes);
        assert_eq!(f.sections(), 1);
        assert_eq!(f.blocks_read(), 1);
        assert!(f.interfaces().is_empty());
        let NgNext::Frame(a) = f.next() else {
            panic!("no first frame")
        };
        assert_eq!((a.interface, a.linktype), (0, 1));
        assert_eq!(a.data, &payload(100, 1)[..]);
        assert_eq!(a.origlen, 110);
        assert_eq!(a.ts_us, 1_700_000_000_123_456);
        assert_eq!((a.ts_sec, a.ts_nsec), (1_700_000_000, 123_456_000));
        let NgNext::Frame(b) = f.next() else {
            panic!("no second frame")
        };
        assert_eq!((b.interface, b.linktype), (1, 113));
        // 100 bytes captured, cut to the interface's snaplen 64.
        assert_eq!(b.data, &payload(100, 2)[..64]);
        assert_eq!(b.origlen, 110);
        // if_tsresol 9: nanoseconds.
        assert_eq!(b.ts_us, 1_700_000_000_123_456);
        assert_eq!((b.ts_sec, b.ts_nsec), (1_700_000_000, 123_456_789));
        assert_eq!(f.interfaces().len(), 2);
        assert_eq!(
            f.interfaces()[0],
            Interface {
                linktype: 1,
                snaplen: MAX_CAPLEN,
                tsresol: 6,
                units_per_sec: 1_000_000,
                tsoffset: 0
            }
        );
        assert_eq!(f.interfaces()[1].snaplen, 64);
        assert_eq!(f.interfaces()[1].units_per_sec, 1_000_000_000);
    }

    #[test]
    fn ngread_spb_opb_and_unknown_blocks_and_second_section() {
        let (frames, end) = read_bytes(&two_sections());
        assert_eq!(end, None);
        assert_eq!(frames.len(), 5);
        // SPB: interface 0, no timestamp, origlen from the block.
        let spb = &frames[2];
        assert_eq!((spb.interface, spb.linktype, spb.ts_us), (0, 1, 0));
        assert_eq!((spb.data.clone(), spb.origlen), (payload(70, 3), 70));
        // Obsolete packet block on interface 1 (ns): 5.000000001 s, cut to nothing: 30 < 64.
        let opb = &frames[3];
        assert_eq!((opb.interface, opb.linktype), (1, 113));
        assert_eq!((opb.ts_sec, opb.ts_nsec, opb.ts_us), (5, 1, 5_000_000));
        assert_eq!(opb.data, payload(30, 4));
        // The big-endian section: its own interface 0, 2^-20 s units, and the offset.
        let be = &frames[4];
        assert_eq!((be.interface, be.linktype), (0, 101));
        assert_eq!(be.ts_sec, 1_600_001_000);
        assert_eq!(be.ts_nsec, 500_000_000);
        assert_eq!(be.ts_us, 1_600_001_000_500_000);
        assert_eq!(be.data, payload(40, 5));

        let mut f = open(&two_sections());
        while let NgNext::Frame(_) = f.next() {}
        assert_eq!(f.sections(), 2);
        assert!(f.big_endian());
        assert_eq!(f.interfaces().len(), 1);
        assert_eq!(f.interfaces()[0].linktype, 101);
        assert_eq!(f.interfaces()[0].units_per_sec, 1 << 20);
        assert_eq!(f.interfaces()[0].tsoffset, 1_600_000_000);
        // 2 SHB, 3 IDB, 5 packets, ISB, NRB, custom.
        assert_eq!(f.blocks_read(), 13);
        // The end is said again, and again.
        assert_eq!(f.next(), NgNext::End);
        assert_eq!(f.next(), NgNext::End);
    }

    #[test]
    fn ngread_spb_cut_to_snaplen_and_padding() {
        let mut ng = Ng::new();
        ng.shb(true);
        ng.idb(1, 10, &[]);
        ng.spb(60, &payload(60, 9));
        ng.spb(5, &payload(5, 8)); // padded to 8 in the block
        ng.spb(500, &payload(8, 7)); // says 500 on the wire, holds 8
        let (frames, end) = read_bytes(&ng.out);
        assert_eq!(end, None);
        let got: Vec<(Vec<u8>, u32)> = frames.into_iter().map(|f| (f.data, f.origlen)).collect();
        assert_eq!(
            got,
            vec![
                (payload(10, 9), 60),
                (payload(5, 8), 5),
                (payload(8, 7), 500)
            ]
        );
    }

    #[test]
    fn ngread_caplen_above_snaplen_is_cut() {
        let mut ng = Ng::new();
        ng.shb(false);
        ng.idb(1, 20, &[]);
        ng.idb(1, 300_000, &[]); // above the ceiling: read as 262144
        ng.epb(0, 0, &payload(21, 1));
        ng.epb(1, 0, &payload(300, 2));
        let mut f = open(&ng.out);
        let NgNext::Frame(a) = f.next() else {
            panic!("no frame")
        };
        assert_eq!(a.data, &payload(21, 1)[..20]);
        let NgNext::Frame(b) = f.next() else {
            panic!("no frame")
        };
        assert_eq!(b.data.len(), 300);
        assert_eq!(f.interfaces()[1].snaplen, MAX_CAPLEN);
    }

    #[test]
    fn ngread_timestamps_in_every_resolution() {
        assert_eq!(units_per_sec(6), Some(1_000_000));
        assert_eq!(units_per_sec(0), Some(1));
        assert_eq!(units_per_sec(19), Some(10_000_000_000_000_000_000));
        assert_eq!(units_per_sec(20), None);
        assert_eq!(units_per_sec(0x80 | 20), Some(1 << 20));
        assert_eq!(units_per_sec(0x80 | 63), Some(1 << 63));
        assert_eq!(units_per_sec(0x80 | 64), None);
        // 3 units of 10^-1 s: 0.3 s.
        assert_eq!(timestamp(3, 10, 0), (300_000, 0, 300_000_000));
        // Negative offset below the epoch: seconds saturate at 0, microseconds go negative.
        assert_eq!(
            timestamp(1_500_000, 1_000_000, -2),
            (-500_000, 0, 500_000_000)
        );
        // The largest timestamp in ns does not overflow.
        let (us, sec, ns) = timestamp(u64::MAX, 1_000_000_000, 0);
        assert_eq!(us, (u64::MAX / 1000) as i64);
        assert_eq!(sec, u32::MAX);
        assert_eq!(ns, (u64::MAX % 1_000_000_000) as u32);

        // Through a file: if_tsresol 10^-3 with an offset, in a little-endian section.
        let mut ng = Ng::new();
        ng.shb(false);
        let off = ng.tsoffset(-100);
        ng.idb(1, 0, &[(IF_TSRESOL, vec![3]), off]);
        ng.epb(0, 1_234_567, &[1, 2, 3]);
        let (frames, end) = read_bytes(&ng.out);
        assert_eq!(end, None);
        assert_eq!(frames[0].ts_us, 1_134_567_000);
        assert_eq!((frames[0].ts_sec, frames[0].ts_nsec), (1_134, 567_000_000));
    }

    /// Expects the bytes to read `frames` frames and then the damage `what` at `block`, `offset`.
    fn assert_damage(bytes: &[u8], frames: usize, block: u64, offset: u64, what: &str) {
        let (got, end) = read_bytes(bytes);
        assert_eq!(got.len(), frames, "frames before the damage");
        let want = NgDamage {
            block,
            offset,
            what: what.to_string(),
        };
        assert_eq!(end, Some(want));
    }

    /// SHB (28 bytes), IDB (20 bytes) and one EPB of 4 bytes (36 bytes): 84 bytes, 3 blocks.
    fn start() -> Ng {
        let mut ng = Ng::new();
        ng.shb(false);
        ng.idb(1, 0, &[]);
        ng.epb(0, 0, &[1, 2, 3, 4]);
        assert_eq!(ng.out.len(), 84);
        ng
    }

    #[test]
    fn ngread_damage_block_length_too_small() {
        let mut ng = start();
        ng.raw(EPB, 12, &[0; 4]);
        assert_damage(&ng.out, 1, 4, 84, "block length 12 below the minimum 32");
        let mut ng = start();
        ng.raw(77, 8, &[0; 4]);
        assert_damage(&ng.out, 1, 4, 84, "block length 8 below the minimum 12");
        // A section header too short for its fields, at the start: open fails.
        let mut ng = Ng::new();
        ng.raw(SHB, 12, &BYTE_ORDER_MAGIC.to_le_bytes());
        assert_damage(&ng.out, 0, 1, 0, "block length 12 below the minimum 28");
    }

    #[test]
    fn ngread_damage_block_length_not_a_multiple_of_4() {
        let mut ng = start();
        ng.raw(77, 30, &[0; 40]);
        assert_damage(&ng.out, 1, 4, 84, "block length 30 is not a multiple of 4");
    }

    #[test]
    fn ngread_damage_block_over_16_mib_and_exactly_16_mib_skipped() {
        let mut ng = start();
        ng.raw(77, MAX_BLOCK + 4, &[0; 64]);
        assert_damage(
            &ng.out,
            1,
            4,
            84,
            "block length 16777220 above the maximum 16777216",
        );
        let mut ng = start();
        ng.block(77, &vec![0u8; MAX_BLOCK as usize - 12]);
        ng.epb(0, 0, &[9, 9]);
        let (frames, end) = read_bytes(&ng.out);
        assert_eq!(end, None);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].data, vec![9, 9]);
    }

    #[test]
    fn ngread_damage_cut_file() {
        let mut ng = start();
        ng.epb(0, 0, &payload(60, 1)); // 92 bytes
        let full = ng.out.clone();
        assert_damage(
            &full[..84 + 40],
            1,
            4,
            84,
            "file ends inside a block (got 40 of 92 bytes)",
        );
        assert_damage(
            &full[..84 + 3],
            1,
            4,
            84,
            "file ends inside a block header (got 3 of 8 bytes)",
        );
        // Cut inside the first section header: open fails.
        assert_damage(
            &full[..20],
            0,
            1,
            0,
            "file ends inside a block (got 20 of 28 bytes)",
        );
        assert_damage(
            &full[..10],
            0,
            1,
            0,
            "file ends inside a block header (got 10 of 12 bytes)",
        );
        // Cut exactly after a block: a clean end.
        let (frames, end) = read_bytes(&full[..84]);
        assert_eq!((frames.len(), end), (1, None));
    }

    #[test]
    fn ngread_damage_unknown_interface() {
        let mut ng = start();
        ng.idb(113, 0, &[]);
        ng.epb(1, 0, &[5]);
        ng.epb(3, 0, &[6]);
        assert_damage(
            &ng.out,
            2,
            6,
            84 + 20 + 36,
            "packet on interface 3, but the section has 2",
        );
        // A new section forgets the interfaces of the last.
        let mut ng = start();
        ng.shb(true);
        ng.opb(0, 0, &[1]);
        assert_damage(
            &ng.out,
            1,
            5,
            84 + 28,
            "packet on interface 0, but the section has 0",
        );
        let mut ng = Ng::new();
        ng.shb(false);
        ng.spb(1, &[1]);
        assert_damage(
            &ng.out,
            0,
            2,
            28,
            "simple packet, but the section has 0 interfaces",
        );
    }

    #[test]
    fn ngread_damage_inside_blocks() {
        // The trailer disagrees with the header.
        let mut ng = start();
        let at = ng.epb(0, 0, &[1, 2, 3, 4]) as usize;
        ng.out[at + 32] = 40;
        assert_damage(
            &ng.out,
            1,
            4,
            84,
            "block length 36 in the header but 40 in the trailer",
        );
        // A captured length larger than the block.
        let mut ng = start();
        ng.epb_claiming(0, 0, 9, &[1, 2, 3, 4], 9);
        assert_damage(
            &ng.out,
            1,
            4,
            84,
            "captured length 9 but the block holds 4 bytes",
        );
        // Versions libpcap refuses; 1.2 is accepted.
        let mut ng = Ng::new();
        ng.shb(false);
        ng.out[12] = 2; // major version 2
        assert_damage(&ng.out, 0, 1, 0, "unsupported pcapng version 2.0");
        let mut ng = Ng::new();
        ng.shb(false);
        ng.out[14] = 2;
        assert_eq!(read_bytes(&ng.out), (vec![], None));
        // A resolution that does not fit in 64 bits.
        let mut ng = Ng::new();
        ng.shb(false);
        ng.idb(1, 0, &[(IF_TSRESOL, vec![25])]);
        assert_damage(&ng.out, 0, 2, 28, "if_tsresol 10^-25 cannot be represented");
        // A byte-order magic that is neither order.
        let mut ng = Ng::new();
        ng.shb(false);
        ng.out[8] = 0;
        assert_damage(
            &ng.out,
            0,
            1,
            0,
            "section header with an unknown byte-order magic 0x1a2b3c00",
        );
    }

    #[test]
    fn ngread_not_pcapng_and_damage_repeats() {
        let e = NgFile::open(Box::new(Cursor::new(
            b"\xd4\xc3\xb2\xa1 classic pcap".to_vec(),
        )));
        let e = e.map(|_| ()).err();
        assert_eq!(
            e.map(|d| (d.block, d.offset, d.what)),
            Some((
                1,
                0,
                "not a pcapng file (starts with [d4, c3, b2, a1])".to_string()
            ))
        );
        let e = NgFile::open(Box::new(Cursor::new(Vec::new())))
            .map(|_| ())
            .err();
        assert_eq!(
            e.map(|d| d.what),
            Some("empty input: not a pcapng file".to_string())
        );

        let mut ng = start();
        ng.raw(EPB, 12, &[]);
        let mut f = open(&ng.out);
        assert!(matches!(f.next(), NgNext::Frame(_)));
        let NgNext::Damaged(first) = f.next() else {
            panic!("no damage")
        };
        assert_eq!(f.next(), NgNext::Damaged(first));
        assert_eq!(f.blocks_read(), 3);
    }

    #[test]
    fn ngread_one_byte_reads_give_the_same_frames() {
        let bytes = two_sections();
        let whole = read_bytes(&bytes);
        let slow = read_all(Box::new(OneByte(Cursor::new(bytes.clone()))));
        assert_eq!(whole.0.len(), 5);
        assert_eq!(slow, whole);
        // The same for damage: a cut file names the same block and count.
        let cut = &bytes[..bytes.len() - 7];
        let whole = read_bytes(cut);
        let slow = read_all(Box::new(OneByte(Cursor::new(cut.to_vec()))));
        assert!(whole.1.is_some());
        assert_eq!(slow, whole);
    }

    #[test]
    fn ngread_buffer_is_reused() {
        let mut ng = Ng::new();
        ng.shb(false);
        ng.idb(1, 0, &[]);
        for i in 0..1000u32 {
            ng.epb(0, u64::from(i), &payload(200 + (i % 3) as usize, i as u8));
        }
        let mut f = open(&ng.out);
        let mut frames = 0;
        let mut capacity = None;
        loop {
            match f.next() {
                NgNext::Frame(fr) => {
                    assert_eq!(fr.ts_us, i64::from(frames));
                    frames += 1;
                }
                other => {
                    assert_eq!(other, NgNext::End);
                    break;
                }
            }
            if frames == 3 {
                capacity = Some(f.buf.capacity());
            }
        }
        assert_eq!(frames, 1000);
        assert_eq!(capacity, Some(f.buf.capacity()));
    }

    #[test]
    fn ngread_every_prefix_ends_at_a_block_or_names_the_cut_block() {
        let bytes = two_sections();
        // Where each block starts, from the lengths in the stream.
        let mut starts = vec![0usize];
        let mut big_endian = false;
        while let Some(&at) = starts.last() {
            if at >= bytes.len() {
                break;
            }
            if read_u32(&bytes, at, false) == SHB {
                big_endian = read_u32(&bytes, at + 8, false) != BYTE_ORDER_MAGIC;
            }
            starts.push(at + read_u32(&bytes, at + 4, big_endian) as usize);
        }
        assert_eq!(starts.last(), Some(&bytes.len()));
        let mut last_frames = 0;
        for cut in 1..=bytes.len() {
            let (frames, end) = read_bytes(&bytes[..cut]);
            assert!(frames.len() >= last_frames, "cut at {cut}");
            last_frames = frames.len();
            match (starts.iter().position(|&s| s == cut), end) {
                (Some(_), None) => {}
                (None, Some(d)) => {
                    // The cut block is the last one starting before the cut.
                    let i = starts.iter().rposition(|&s| s < cut).unwrap_or(0);
                    assert_eq!(
                        (d.block, d.offset),
                        (i as u64 + 1, starts[i] as u64),
                        "cut at {cut}"
                    );
                    assert!(
                        d.what.starts_with("file ends inside a block"),
                        "cut at {cut}: {d}"
                    );
                }
                (at_block, end) => panic!("cut at {cut}: at a block {at_block:?}, end {end:?}"),
            }
        }
        assert_eq!(last_frames, 5);
    }

    #[test]
    fn ngread_mangled_bytes_never_panic_and_always_end() {
        let bytes = two_sections();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut damaged = 0;
        for _ in 0..3000 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] = next() as u8;
            }
            let (frames, end) = read_bytes(&b);
            // A packet block takes at least 16 bytes, and its data lies inside the stream.
            assert!(frames.len() <= b.len() / 16);
            assert!(frames.iter().all(|f| f.data.len() < b.len()));
            damaged += usize::from(end.is_some());
        }
        assert!(damaged > 0);
    }

    #[test]
    fn ngread_a_long_claim_in_a_short_stream_costs_what_arrives() {
        let mut ng = start();
        ng.raw(77, MAX_BLOCK, &[0; 200]);
        let mut f = open(&ng.out);
        assert!(matches!(f.next(), NgNext::Frame(_)));
        let NgNext::Damaged(d) = f.next() else {
            panic!("no damage")
        };
        assert_eq!(
            d.what,
            "file ends inside a block (got 208 of 16777216 bytes)"
        );
        assert!(
            f.buf.capacity() < 1 << 16,
            "{} bytes held",
            f.buf.capacity()
        );
    }

    #[test]
    fn ngread_interfaces_per_section_are_bounded() {
        let mut ng = Ng::new();
        ng.shb(false);
        for _ in 0..MAX_INTERFACES {
            ng.idb(1, 0, &[]);
        }
        let at = ng.idb(1, 0, &[]);
        let (frames, end) = read_bytes(&ng.out);
        assert!(frames.is_empty());
        let want = NgDamage {
            block: MAX_INTERFACES as u64 + 2,
            offset: at,
            what: format!("more than {MAX_INTERFACES} interfaces in one section"),
        };
        assert_eq!(end, Some(want));
    }

    /// Every frame libpcap reads from a file, as owned values (µs timestamps), and whether it
    /// stopped with an error.
    fn libpcap_frames(path: &Path) -> (Vec<(i64, Vec<u8>, u32)>, bool) {
        let mut cap = match pcap::Capture::from_file(path) {
            Ok(c) => c,
            Err(e) => panic!("{}: libpcap cannot open it: {e}", path.display()),
        };
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
                Err(pcap::Error::NoMorePackets) => return (out, false),
                Err(_) => return (out, true),
            }
        }
    }

    fn testdata_pcapng() -> Vec<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "pcapng"));
        files.sort();
        files
    }

    #[test]
    fn ngread_testdata_agrees_with_libpcap() {
        let files = testdata_pcapng();
        assert!(files.len() >= 10, "testdata/*.pcapng: {files:?}");
        let mut damaged = Vec::new();
        for path in &files {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            let (want, libpcap_failed) = libpcap_frames(path);
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => panic!("{name}: {e}"),
            };
            let (got, end) = read_all(Box::new(std::io::BufReader::new(file)));
            assert_eq!(got.len(), want.len(), "{name}: frames ({end:?})");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    (g.ts_us, &g.data, g.origlen),
                    (w.0, &w.1, w.2),
                    "{name}: frame {i}"
                );
                assert_eq!(
                    g.ts_us,
                    i64::from(g.ts_sec) * 1_000_000 + i64::from(g.ts_nsec / 1000)
                );
            }
            assert_eq!(
                end.is_some(),
                libpcap_failed,
                "{name}: damaged here {end:?}"
            );
            if let Some(d) = end {
                damaged.push((name, got.len(), d));
            }
        }
        // The one capture damaged on purpose: cut inside a block, after the frames before it.
        assert_eq!(damaged.len(), 1, "{damaged:?}");
        let (name, frames, d) = &damaged[0];
        assert_eq!(name, "bad-truncated-block.pcapng");
        assert!(*frames > 0);
        assert!(d.what.starts_with("file ends inside a block"), "{d}");
    }
}
