//! Captures that attack TCP reassembly: buffer exhaustion, copies that disagree, bad checksums
//! and streams that grow leftwards.
//!
//! Owns: the inputs for the reassembly bounds and integrity checks —
//! [`write_ooo_flood`] (many flows each parking out-of-order bytes, for `--memcap`),
//! [`write_leftward`] (mid-stream flows growing towards lower sequence numbers one byte at a
//! time, for the re-anchoring limit) and [`write_case`] (small NDB conversations with
//! overlapping copies that disagree, bad checksums with and without a good copy, and
//! offloaded checksums). Deterministic: the same arguments give byte-identical files.
//!
//! Never: reads the clock or keeps a capture in memory (the floods stream frame by frame).

use std::io::{self, Write};

use super::flood::flood_addr;
use super::frame::{build_tcp_frame, tcp_flags, Encap, Link, TcpFields};
use super::ndb::MYSQLD_GET_NODEID_8035;
use super::writer::{CaptureFormat, FrameSink, PcapWriter};
use super::{FlowAddr, Side, SplitMix64};
use ndbsniff_core::decode::{decode, LinkKind};

/// Nanoseconds between two frames of a flood.
const GAP_NS: u64 = 1_000;

/// The reply every case conversation's server gives.
pub const NODEID_REPLY: &str = "get nodeid reply\nnodeid: 50\nresult: Ok\n\n";

fn fields(seq: u32, ack: u32, flags: u8) -> TcpFields {
    TcpFields {
        seq,
        ack,
        flags,
        window: 64_240,
        syn_mss: if flags & tcp_flags::SYN != 0 { 1460 } else { 0 },
    }
}

fn frame_error(e: super::FrameError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes `flows` connections to `server_port`, each a SYN then one segment of `hold` bytes
/// starting one byte after the first data byte: the first byte never comes, so every flow keeps
/// its bytes out of order until it ends. Returns the number of frames written.
pub fn write_ooo_flood<W: Write>(
    out: W,
    flows: u64,
    hold: usize,
    server_port: u16,
    seed: u64,
) -> io::Result<u64> {
    let mut writer = PcapWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let encap = Encap::new(Link::Ethernet);
    let mut rng = SplitMix64::new(seed);
    let payload = vec![b'x'; hold];
    let mut frame = Vec::with_capacity(hold + 128);
    let mut ts = super::testdata::BASE_TS_NS;
    for i in 0..flows {
        let addr = flood_addr(i, server_port);
        let isn = rng.next_u32();
        build_tcp_frame(
            &mut frame,
            &encap,
            &addr,
            Side::Client,
            0,
            &fields(isn, 0, tcp_flags::SYN),
            &[],
        )
        .map_err(frame_error)?;
        writer.write_frame(ts, &frame)?;
        ts += GAP_NS;
        let data = fields(isn.wrapping_add(2), 1, tcp_flags::ACK | tcp_flags::PSH);
        build_tcp_frame(&mut frame, &encap, &addr, Side::Client, 1, &data, &payload)
            .map_err(frame_error)?;
        writer.write_frame(ts, &frame)?;
        ts += GAP_NS;
    }
    writer.into_inner().flush()?;
    Ok(flows * 2)
}

/// Writes `flows` connections already running when the capture starts (no handshake), each
/// `segments` one-byte segments of `byte` sent by the client at decreasing sequence numbers:
/// every segment comes before the stream start seen so far. Returns the frames written.
pub fn write_leftward<W: Write>(
    out: W,
    flows: u64,
    segments: u32,
    byte: u8,
    server_port: u16,
) -> io::Result<u64> {
    let mut writer = PcapWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let encap = Encap::new(Link::Ethernet);
    let mut frame = Vec::with_capacity(128);
    let mut ts = super::testdata::BASE_TS_NS;
    let top = 0x4000_0000u32;
    // Flows take turns, so each grows while the others do.
    for k in 0..segments {
        for i in 0..flows {
            let addr = flood_addr(i, server_port);
            let data = fields(top - k, 1, tcp_flags::ACK | tcp_flags::PSH);
            build_tcp_frame(
                &mut frame,
                &encap,
                &addr,
                Side::Client,
                k as u16,
                &data,
                &[byte],
            )
            .map_err(frame_error)?;
            writer.write_frame(ts, &frame)?;
            ts += GAP_NS;
        }
    }
    writer.into_inner().flush()?;
    Ok(flows * u64::from(segments))
}

/// The small integrity cases [`write_case`] writes, each one NDB connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// The request is sent, then "retransmitted" with other bytes in its middle.
    OverlapMismatch,
    /// A bad-checksum copy of the request with other bytes comes first, then the server's
    /// reply, then the good copy of the request.
    BadThenGood,
    /// The request is only ever sent with a bad checksum (no good copy).
    BadOnly,
    /// Every segment the client sends has a bad checksum (checksum offload on the capturing
    /// client), with the request split into three segments.
    Offloaded,
}

impl Case {
    pub const ALL: [Case; 4] = [
        Case::OverlapMismatch,
        Case::BadThenGood,
        Case::BadOnly,
        Case::Offloaded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Case::OverlapMismatch => "overlap-mismatch",
            Case::BadThenGood => "bad-then-good",
            Case::BadOnly => "bad-only",
            Case::Offloaded => "offloaded",
        }
    }

    pub fn from_name(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One connection of a case, frame by frame.
struct Conn<'a, S: FrameSink> {
    sink: &'a mut S,
    encap: Encap,
    addr: FlowAddr,
    /// Next sequence number of each side (client, server).
    next: [u32; 2],
    ts: u64,
    frame: Vec<u8>,
    ip_id: u16,
}

impl<S: FrameSink> Conn<'_, S> {
    fn side(from: Side) -> usize {
        match from {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    /// Sends `payload` from `from` at `offset` bytes past the side's next sequence number
    /// (without moving it), with a good checksum or a broken one.
    fn send_at(
        &mut self,
        from: Side,
        offset: u32,
        flags: u8,
        payload: &[u8],
        good: bool,
    ) -> io::Result<()> {
        let me = Self::side(from);
        let seq = self.next[me].wrapping_add(offset);
        let ack = self.next[1 - me];
        self.ip_id = self.ip_id.wrapping_add(1);
        build_tcp_frame(
            &mut self.frame,
            &self.encap,
            &self.addr,
            from,
            self.ip_id,
            &fields(seq, ack, flags),
            payload,
        )
        .map_err(frame_error)?;
        if !good {
            break_checksum(&mut self.frame)?;
        }
        self.sink.write_frame(self.ts, &self.frame)?;
        self.ts += 1_000_000;
        Ok(())
    }

    /// Sends `payload` in order and moves the side's sequence number past it.
    fn send(&mut self, from: Side, payload: &[u8], good: bool) -> io::Result<()> {
        let flags = tcp_flags::ACK | tcp_flags::PSH;
        self.send_at(from, 0, flags, payload, good)?;
        let me = Self::side(from);
        self.next[me] = self.next[me].wrapping_add(payload.len() as u32);
        Ok(())
    }

    fn handshake(&mut self, client_good: bool) -> io::Result<()> {
        self.send_at(Side::Client, 0, tcp_flags::SYN, &[], client_good)?;
        self.next[0] = self.next[0].wrapping_add(1);
        self.send_at(Side::Server, 0, tcp_flags::SYN | tcp_flags::ACK, &[], true)?;
        self.next[1] = self.next[1].wrapping_add(1);
        self.send_at(Side::Client, 0, tcp_flags::ACK, &[], client_good)
    }

    fn close(&mut self, client_good: bool) -> io::Result<()> {
        let fin = tcp_flags::FIN | tcp_flags::ACK;
        self.send_at(Side::Client, 0, fin, &[], client_good)?;
        self.next[0] = self.next[0].wrapping_add(1);
        self.send_at(Side::Server, 0, fin, &[], true)?;
        self.next[1] = self.next[1].wrapping_add(1);
        self.send_at(Side::Client, 0, tcp_flags::ACK, &[], client_good)
    }
}

/// Turns the TCP checksum of a built frame into a wrong one.
fn break_checksum(frame: &mut [u8]) -> io::Result<()> {
    let view = decode(LinkKind::Ethernet, frame)
        .map_err(|e| io::Error::other(format!("generated frame does not decode: {e:?}")))?;
    let at = view.tcp_header.as_ptr() as usize - frame.as_ptr() as usize + 16;
    let field = frame
        .get_mut(at..at + 2)
        .ok_or_else(|| io::Error::other("generated frame has no TCP checksum"))?;
    field[0] ^= 0x5a;
    Ok(())
}

/// Writes one integrity case as an Ethernet pcap: client 198.51.100.7:40000, server
/// 192.0.2.1:`server_port`, the mysqld `get nodeid` request and its reply.
pub fn write_case<W: Write>(out: W, case: Case, server_port: u16) -> io::Result<W> {
    let mut writer = PcapWriter::new(out, CaptureFormat::PCAP_US, Link::Ethernet.linktype())?;
    let request = MYSQLD_GET_NODEID_8035.as_bytes();
    {
        let mut c = Conn {
            sink: &mut writer,
            encap: Encap::new(Link::Ethernet),
            addr: FlowAddr::v4([198, 51, 100, 7], 40000, [192, 0, 2, 1], server_port),
            next: [1_000_000, 7_000_000],
            ts: super::testdata::BASE_TS_NS,
            frame: Vec::new(),
            ip_id: 0,
        };
        let client_good = case != Case::Offloaded;
        c.handshake(client_good)?;
        match case {
            Case::OverlapMismatch => {
                // The second copy says `set nodeid` and a forged user where the first did not.
                let mut other = request.to_vec();
                other[0] = b's';
                c.send_at(
                    Side::Client,
                    0,
                    tcp_flags::ACK | tcp_flags::PSH,
                    request,
                    true,
                )?;
                c.send(Side::Client, &other, true)?;
            }
            Case::BadThenGood => {
                // The forged copy and the reply alone would make a verdict with forged
                // evidence; the real request comes last.
                let forged = forged_request(request);
                c.send_at(
                    Side::Client,
                    0,
                    tcp_flags::ACK | tcp_flags::PSH,
                    &forged,
                    false,
                )?;
                c.send(Side::Server, NODEID_REPLY.as_bytes(), true)?;
                c.send(Side::Client, request, true)?;
            }
            Case::BadOnly => c.send(Side::Client, request, false)?,
            Case::Offloaded => {
                let third = request.len() / 3;
                let (a, rest) = request.split_at(third);
                let (b, d) = rest.split_at(third);
                c.send(Side::Client, a, false)?;
                c.send(Side::Client, b, false)?;
                c.send(Side::Client, d, false)?;
            }
        }
        if case != Case::BadThenGood {
            c.send(Side::Server, NODEID_REPLY.as_bytes(), true)?;
        }
        c.close(client_good)?;
    }
    let mut out = writer.into_inner();
    out.flush()?;
    Ok(out)
}

/// The request with `mysqld` replaced by `FORGED` (same length): as good a request as the
/// real one, but not what the receiver accepted.
fn forged_request(request: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(request).replace("mysqld", "FORGED");
    let mut bytes = text.into_bytes();
    bytes.resize(request.len(), b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floods_are_deterministic_and_cases_decode() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_ooo_flood(&mut a, 100, 4095, 3406, 1).unwrap();
        write_ooo_flood(&mut b, 100, 4095, 3406, 1).unwrap();
        assert_eq!(a, b);
        assert!(a.len() > 100 * 4095);
        let mut l = Vec::new();
        assert_eq!(write_leftward(&mut l, 3, 10, b'\n', 3406).unwrap(), 30);
        for case in Case::ALL {
            let bytes = write_case(Vec::new(), case, 3406).unwrap();
            assert!(bytes.len() > 24 + 8 * 60, "{}", case.name());
            assert_eq!(Case::from_name(case.name()), Some(case));
        }
    }
}
