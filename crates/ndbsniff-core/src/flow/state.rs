//! One flow's state: per-direction counters, TCP flags seen, the flow's reassembly anomalies, and
//! — only once the flow carries payload and until the probe decides — the bounded reassembly of
//! each direction's prefix and the probe.
//!
//! Owns: [`Flow`] and what observing one packet does to it (`Flow::observe`): counting,
//! keeping the initial sequence numbers, reassembling each direction's prefix (its buffers
//! reserved from the run's [`MemCap`]; a flow refused memory is judged on what it has), checking
//! the checksum of every segment fed to a stream, and showing the probe the bytes in order. A
//! verdict resting on bytes from a bad-checksum segment waits for a good copy or the end of the
//! flow. After the decision the buffers are freed (and given back to the budget) and only the
//! verdict stays.
//!
//! Never: allocates for a flow that carries no payload, keeps more than the configured prefix of
//! any direction, looks at another flow, or knows which table or worker holds it.

use std::sync::Arc;

use crate::audit::{Handover, Lazy, Session, Trail};
use crate::classify::{Confidence, NdbProbe, ProbeResult, ProbeState, Role, Verdict};
use crate::decode::{tcp_flags, PacketView, TcpInfo, Transport, Tunnel};
use crate::flow::checksum;
use crate::flow::key::FlowKey;
use crate::flow::stream::{Checksum, Fed, Segment, StreamPrefix};
use crate::memcap::MemCap;
use crate::report::{Anomalies, Anomaly};

/// Reassembly and probing state, present only while the probe is undecided.
///
/// Its buffers are reserved from the run's [`MemCap`] and given back when it is dropped (on the
/// verdict, or with its flow: swept, evicted or drained), whichever way that happens.
#[derive(Debug)]
struct Inspect {
    streams: [StreamPrefix; 2],
    probe: NdbProbe,
    mem: Arc<MemCap>,
    /// Bytes the probe has examined, re-reads after a rebase included: the work done.
    probed: u64,
    /// Anomalies seen here rather than in a stream (`bad-checksum`).
    anomalies: Anomalies,
    /// Segments of this flow found with a bad checksum.
    bad_segments: u32,
    /// The audit trail riding along, once an NDB-shaped event was seen.
    trail: Option<Box<Trail>>,
}

impl Drop for Inspect {
    fn drop(&mut self) {
        self.mem
            .release(self.streams[0].charged() + self.streams[1].charged());
        if let Some(t) = self.trail.as_mut() {
            t.release_all(&self.mem);
        }
    }
}

/// What observing a packet needs besides the packet, and what it counts.
pub(crate) struct Ctx<'a> {
    /// Bytes of each direction to reassemble.
    pub(crate) prefix: usize,
    /// The budget reassembly buffers are reserved from.
    pub(crate) mem: &'a Arc<MemCap>,
    /// TCP segments found with a bad checksum.
    pub(crate) bad_checksums: u64,
    /// Live runs: NDB sessions hand out their control commands as they complete.
    pub(crate) announce_ndb: bool,
}

impl Inspect {
    fn new(prefix: usize, isn: [Option<u32>; 2], mem: &Arc<MemCap>) -> Box<Inspect> {
        let mut ins = Box::new(Inspect {
            streams: [StreamPrefix::new(prefix), StreamPrefix::new(prefix)],
            probe: NdbProbe::new(prefix),
            mem: Arc::clone(mem),
            probed: 0,
            anomalies: Anomalies::NONE,
            bad_segments: 0,
            trail: None,
        });
        let ins_ref = &mut *ins;
        for (stream, isn) in ins_ref.streams.iter_mut().zip(isn) {
            if let Some(isn) = isn {
                let syn = Segment {
                    seq: isn,
                    syn: true,
                    payload: &[],
                    wire_len: 0,
                    checksum: Checksum::Unverified,
                };
                stream.feed(&syn, &ins_ref.mem);
            }
        }
        ins
    }

    /// Shows the probe direction `idx`'s bytes (all of them so far), counting the work; the
    /// audit trail gets the events too.
    fn show(&mut self, idx: usize, now: i64, data: Option<&[u8]>) -> ProbeState {
        let data = match data {
            Some(d) => d,
            None => self.streams[idx].data(),
        };
        let before = self.probe.examined(idx);
        let mut trail = Lazy {
            slot: &mut self.trail,
            dir: idx,
            now,
            mem: &self.mem,
        };
        let state = self.probe.on_stream_with(idx, data, &mut trail);
        self.probed += self.probe.examined(idx).saturating_sub(before) as u64;
        state
    }

    /// Feeds one packet's payload; returns the probe's state after it.
    fn feed(&mut self, idx: usize, view: &Seen<'_>, now: i64, ctx: &mut Ctx<'_>) -> ProbeState {
        match view.transport {
            Transport::Tcp => {
                // Only segments that reach a stream being inspected are verified.
                let sum = checksum::verify(view.csum, view.payload);
                if sum == Checksum::Bad {
                    ctx.bad_checksums += 1;
                    self.bad_segments = self.bad_segments.saturating_add(1);
                    self.anomalies.insert(Anomaly::BadChecksum);
                }
                let seg = Segment {
                    seq: view.tcp.seq,
                    syn: view.tcp.flags & tcp_flags::SYN != 0,
                    payload: view.payload,
                    wire_len: view.payload_len,
                    checksum: sum,
                };
                let fed = self.streams[idx].feed(&seg, &self.mem);
                let state = match fed {
                    Fed::Unchanged => ProbeState::NeedMore,
                    Fed::Grew => self.show(idx, now, None),
                    Fed::Rebased => {
                        // Earlier bytes arrived late, or bytes already read were replaced:
                        // show the probe (and the audit) both directions afresh.
                        self.probe = NdbProbe::new(ctx.prefix);
                        if let Some(mut t) = self.trail.take() {
                            t.release_all(&self.mem);
                        }
                        self.reread(now)
                    }
                };
                if state == ProbeState::NeedMore && self.streams[idx].starved() {
                    // Out of reassembly memory: a segment that starts the stream is still
                    // looked at where it lies, then the flow is judged on what was seen.
                    if let Some(first) = self.streams[idx].unbuffered_start(&seg) {
                        return self.show(idx, now, Some(first));
                    }
                }
                state
            }
            Transport::Udp => {
                let mut trail = Lazy {
                    slot: &mut self.trail,
                    dir: idx,
                    now,
                    mem: &self.mem,
                };
                self.probe.on_datagram_with(idx, view.payload, &mut trail)
            }
        }
    }

    /// Shows the probe every direction's bytes from the start.
    fn reread(&mut self, now: i64) -> ProbeState {
        let mut state = ProbeState::NeedMore;
        for i in 0..2 {
            if state == ProbeState::NeedMore && !self.streams[i].data().is_empty() {
                state = self.show(i, now, None);
            }
        }
        state
    }

    /// The audit still reads direction `idx` although the judge is done with it.
    fn audit_wants(&self, idx: usize) -> bool {
        self.trail.is_some()
            && !self.probe.opaque(idx)
            && self.streams.get(idx).is_some_and(|s| !s.is_full())
    }

    /// The session of a flow judged `ndb-mgm` takes the trail, the scanners and what each
    /// direction reassembled beyond them.
    fn into_session(mut self: Box<Self>, now: i64, announce: bool) -> Box<Session> {
        let mut scanners = self.probe.scanners();
        let ahead: [Vec<(u32, Vec<u8>)>; 2] = std::array::from_fn(|i| {
            self.streams[i]
                .ahead()
                .map(|(seq, b)| (seq, b.to_vec()))
                .collect()
        });
        let upgraded = self.trail.as_ref().is_some_and(|t| t.upgraded());
        let mut from = [0usize; 2];
        for (i, sc) in scanners.iter_mut().enumerate() {
            sc.lenient(!upgraded);
            from[i] = sc.release();
        }
        let partial = self.streams.iter().any(StreamPrefix::mid_stream);
        let handover: [Handover<'_>; 2] = std::array::from_fn(|i| Handover {
            next: self.streams[i].next_seq(),
            carry: self.streams[i].data().get(from[i]..).unwrap_or_default(),
            ahead: &ahead[i],
        });
        let trail = self.trail.take();
        let mut session = Box::new(Session::start(
            trail, scanners, handover, partial, now, &self.mem,
        ));
        if announce {
            session.announce();
        }
        session
    }

    /// Nothing more can be learnt from TCP: both directions are full or unwanted.
    fn exhausted(&self) -> bool {
        (0..2).all(|i| self.streams[i].is_full() || !self.probe.wants(i))
    }

    /// Some byte the probe read came from a bad-checksum segment and is not confirmed: a
    /// verdict now would rest on bytes the receiver may have dropped. Only while the flow has
    /// had a single bad segment: two or more look like checksum offload on the capturing host
    /// (every segment it sends is bad, and no good copy will come), so the verdict no longer
    /// waits.
    fn provisional(&self) -> bool {
        self.bad_segments < 2 && self.streams.iter().any(StreamPrefix::provisional)
    }

    /// A direction could not get reassembly memory: the flow is judged now.
    fn starved(&self) -> bool {
        self.streams.iter().any(StreamPrefix::starved)
    }

    fn anomalies(&self) -> Anomalies {
        self.anomalies
            .union(self.streams[0].anomalies())
            .union(self.streams[1].anomalies())
    }
}

/// What a flow needs of one packet once its flow key is known: the parts of a
/// [`PacketView`] that are not in the key.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    /// TCP or UDP.
    pub transport: Transport,
    /// The packet's VLAN id, if it had one.
    pub vlan: Option<u16>,
    /// Sequence number and flags (zero for UDP).
    pub tcp: TcpInfo,
    /// Transport payload bytes present in the frame.
    pub payload: &'a [u8],
    /// Transport payload length on the wire.
    pub payload_len: u32,
    /// [`checksum::header_sum`] of the segment, when it can be verified.
    pub csum: Option<u16>,
}

impl<'a> Seen<'a> {
    /// The parts of a decoded packet a flow needs, its checksum's header sum worked out.
    pub fn of(view: &PacketView<'a>) -> Seen<'a> {
        Seen {
            transport: view.transport,
            vlan: view.vlan,
            tcp: view.tcp,
            payload: view.payload,
            payload_len: view.payload_len,
            csum: checksum::header_sum(&FlowKey::of(view).0, view),
        }
    }
}

/// A flow's marks: the TCP flags it has seen, per side (bit << side) SYN, SYN+ACK, FIN and
/// whether its initial sequence number is kept, RST from either side; and whether its verdict
/// carries an NDB session to follow (so packets of other decided flows never read the verdict).
#[derive(Clone, Copy, Debug, Default)]
struct Marks(u16);

impl Marks {
    const SYN: u16 = 1;
    const SYNACK: u16 = 1 << 2;
    const FIN: u16 = 1 << 4;
    const ISN: u16 = 1 << 6;
    const RST: u16 = 1 << 8;
    const SESSION: u16 = 1 << 9;

    /// Side `idx` has `bit` (one of the per-side bits).
    #[inline]
    fn has(self, bit: u16, idx: usize) -> bool {
        self.0 & (bit << idx) != 0
    }

    /// Sets the per-side bits in `bits` for side `idx`.
    #[inline]
    fn set(&mut self, bits: u16, idx: usize) {
        self.0 |= bits << idx;
    }
}

/// A decided flow's verdict, packed: the probe's answer in a few bytes and the evidence of both
/// directions in one string of exactly its length. Hundreds of thousands of flows may be open at
/// once, each decided long before it ends; a [`ProbeResult`] (88 bytes, with two growable
/// strings) for each was the largest cost after the table itself (BENCHMARKS.md, "Where the
/// memory goes at high concurrency").
#[derive(Debug)]
pub(crate) struct Decided {
    /// Direction 0's evidence, then direction 1's.
    evidence: Box<str>,
    /// Where direction 1's evidence starts in `evidence`.
    split: u32,
    /// Which directions have evidence (an empty string is evidence too).
    has: [bool; 2],
    verdict: Verdict,
    confidence: Confidence,
    roles: [Option<Role>; 2],
    /// The hint of an `unknown` flow, or the upgrade of an `ndb-mgm` one: the probe gives
    /// `unknown` flows no upgrade and `ndb-mgm` flows no hint.
    tag: Option<&'static str>,
    /// An `ndb-mgm` flow's session, followed after the verdict.
    pub(crate) session: Option<Box<Session>>,
}

impl Decided {
    /// Packs the probe's result (and the session of an `ndb-mgm` flow).
    fn pack(r: ProbeResult, session: Option<Box<Session>>) -> Box<Decided> {
        let [e0, e1] = &r.evidence;
        let mut evidence = String::with_capacity(
            e0.as_ref().map_or(0, String::len) + e1.as_ref().map_or(0, String::len),
        );
        evidence.push_str(e0.as_deref().unwrap_or(""));
        let split = u32::try_from(evidence.len()).unwrap_or(u32::MAX);
        evidence.push_str(e1.as_deref().unwrap_or(""));
        let ndb = r.verdict == Verdict::NdbMgm;
        Box::new(Decided {
            evidence: evidence.into_boxed_str(),
            split,
            has: [e0.is_some(), e1.is_some()],
            verdict: r.verdict,
            confidence: r.confidence,
            roles: r.roles,
            tag: if ndb { r.upgrade } else { r.hint },
            session,
        })
    }

    /// The probe's result as it was packed.
    pub(crate) fn result(&self) -> ProbeResult {
        let mut r = self.meta();
        r.evidence = self.evidence().map(|e| e.map(str::to_string));
        r
    }

    /// The probe's result without its evidence (see [`Decided::evidence`]).
    pub(crate) fn meta(&self) -> ProbeResult {
        let ndb = self.verdict == Verdict::NdbMgm;
        ProbeResult {
            verdict: self.verdict,
            confidence: self.confidence,
            evidence: [None, None],
            roles: self.roles,
            hint: if ndb { None } else { self.tag },
            upgrade: if ndb { self.tag } else { None },
        }
    }

    /// Each direction's evidence.
    pub(crate) fn evidence(&self) -> [Option<&str>; 2] {
        let split = (self.split as usize).min(self.evidence.len());
        let (e0, e1) = self.evidence.split_at(split);
        [self.has[0].then_some(e0), self.has[1].then_some(e1)]
    }

    /// Heap bytes: this, the evidence and the session.
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Decided>()
            + self.evidence.len()
            + self.session.as_ref().map_or(0, |s| s.heap_bytes())
    }
}

/// Everything known about one conversation. Direction index 0 = sent by `key.lo`, 1 = by `key.hi`.
#[derive(Debug)]
pub struct Flow {
    /// Capture time of the first packet, microseconds since the epoch.
    pub first_us: i64,
    /// Capture time of the latest packet.
    pub last_us: i64,
    /// Packets sent by each side.
    pub packets: [u64; 2],
    /// Wire bytes sent by each side.
    pub bytes: [u64; 2],
    /// Initial sequence numbers from SYNs, kept until inspection starts.
    isn: [u32; 2],
    /// The first VLAN id seen on the flow.
    pub vlan: Option<u16>,
    /// The tunnel layers of the flow's first tunnelled packet. Boxed whole (one thin pointer in
    /// the table entry, one allocation for a tunnelled flow only).
    pub tunnel: Option<Box<Tunnel>>,
    /// TCP flags seen, per side, and whether the verdict has a session ([`Marks`]).
    marks: Marks,
    /// Everything reassembly found wrong so far (kept after the verdict).
    pub anomalies: Anomalies,
    inspect: Option<Box<Inspect>>,
    /// The verdict, once the probe has decided (then `inspect` is gone), with an `ndb-mgm`
    /// flow's session.
    pub(crate) decided: Option<Box<Decided>>,
}

impl Flow {
    /// A flow whose first packet, seen at `ts_us`, is yet to be accounted.
    pub(crate) fn new(ts_us: i64, vlan: Option<u16>) -> Flow {
        Flow {
            first_us: ts_us,
            last_us: ts_us,
            packets: [0; 2],
            bytes: [0; 2],
            isn: [0; 2],
            vlan,
            tunnel: None,
            marks: Marks::default(),
            anomalies: Anomalies::NONE,
            inspect: None,
            decided: None,
        }
    }

    /// A flow first seen at `ts_us`, with nothing else known (no packet accounted, no probe).
    pub fn first_seen(ts_us: i64) -> Flow {
        Flow::new(ts_us, None)
    }

    /// Accounts one packet sent by endpoint `idx` and feeds its payload to the probe.
    /// Returns true when the probe decided with this packet.
    pub(crate) fn observe(
        &mut self,
        idx: usize,
        view: &Seen<'_>,
        ts_us: i64,
        wire_len: u32,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        self.first_us = self.first_us.min(ts_us);
        self.last_us = self.last_us.max(ts_us);
        self.packets[idx] += 1;
        self.bytes[idx] += wire_len as u64;
        if self.vlan.is_none() {
            self.vlan = view.vlan;
        }
        let flags = view.tcp.flags;
        if view.transport == Transport::Tcp {
            let syn = flags & tcp_flags::SYN != 0;
            let ack = flags & tcp_flags::ACK != 0;
            let mut seen = 0;
            if syn {
                seen |= if ack { Marks::SYNACK } else { Marks::SYN };
            }
            if flags & tcp_flags::FIN != 0 {
                seen |= Marks::FIN;
            }
            if syn && !self.marks.has(Marks::ISN, idx) {
                seen |= Marks::ISN;
                self.isn[idx] = view.tcp.seq;
            }
            self.marks.set(seen, idx);
            if flags & tcp_flags::RST != 0 {
                self.marks.0 |= Marks::RST;
            }
        }
        if self.decided.is_some() {
            let session = if self.marks.0 & Marks::SESSION != 0 {
                self.decided.as_mut().and_then(|d| d.session.as_mut())
            } else {
                None
            };
            if let Some(session) = session {
                let data = view.payload_len > 0 && !view.payload.is_empty();
                match view.transport {
                    Transport::Tcp => {
                        let ack = (view.tcp.flags & tcp_flags::ACK != 0).then_some(view.tcp.ack);
                        let payload = if data { view.payload } else { &[] };
                        session.segment(idx, view.tcp.seq, ack, payload, ts_us);
                    }
                    Transport::Udp if data => session.datagram(idx, view.payload, ts_us),
                    Transport::Udp => {}
                }
            }
            return false;
        }
        let has_payload = view.payload_len > 0 && !view.payload.is_empty();
        let syn = view.transport == Transport::Tcp && flags & tcp_flags::SYN != 0;
        let ins = match (has_payload, self.inspect.as_mut()) {
            // A late SYN can move the start of a stream being inspected (the probe then starts
            // over); other packets without payload bytes teach the probe nothing. A SYN seen
            // before inspection starts was kept above.
            (false, Some(ins)) if syn => ins,
            (false, _) => return false,
            (true, _) => {
                let isn = [0, 1].map(|i| self.marks.has(Marks::ISN, i).then_some(self.isn[i]));
                let ins = self
                    .inspect
                    .get_or_insert_with(|| Inspect::new(ctx.prefix, isn, ctx.mem));
                if !ins.probe.wants(idx) && !ins.provisional() && !ins.audit_wants(idx) {
                    return false;
                }
                ins
            }
        };
        let state = ins.feed(idx, view, ts_us, ctx);
        self.anomalies = self.anomalies.union(ins.anomalies());
        // A verdict resting on bad-checksum bytes waits for a good copy of them (which makes
        // the probe start over) or for the end of the flow.
        let done = match view.transport {
            Transport::Tcp => {
                ins.starved()
                    || (!ins.provisional() && (state != ProbeState::NeedMore || ins.exhausted()))
            }
            Transport::Udp => state != ProbeState::NeedMore,
        };
        if done {
            let result = ins.probe.result();
            let session = match self.inspect.take() {
                Some(ins) if result.verdict == Verdict::NdbMgm => {
                    Some(ins.into_session(ts_us, ctx.announce_ndb))
                }
                _ => None,
            };
            if session.is_some() {
                self.marks.0 |= Marks::SESSION;
            }
            self.decided = Some(Decided::pack(result, session));
        }
        done
    }

    /// FIN from both sides, or RST: the conversation is over.
    pub fn ended(&self) -> bool {
        self.rst() || (self.fin(0) && self.fin(1))
    }

    /// Side `idx` sent a SYN without ACK.
    pub fn syn(&self, idx: usize) -> bool {
        self.marks.has(Marks::SYN, idx)
    }

    /// Side `idx` sent a SYN+ACK.
    pub fn synack(&self, idx: usize) -> bool {
        self.marks.has(Marks::SYNACK, idx)
    }

    /// Side `idx` sent a FIN.
    pub fn fin(&self, idx: usize) -> bool {
        self.marks.has(Marks::FIN, idx)
    }

    /// Either side sent a RST.
    pub fn rst(&self) -> bool {
        self.marks.0 & Marks::RST != 0
    }

    /// The probe's decision, taken now if it had not decided yet.
    pub fn result(&self) -> ProbeResult {
        match (&self.decided, &self.inspect) {
            (Some(d), _) => d.result(),
            (None, Some(ins)) => ins.probe.result(),
            (None, None) => NdbProbe::new(0).result(),
        }
    }

    /// The audit of an `ndb-mgm` flow, taken out at its end (`None` for other flows).
    pub(crate) fn take_ndb(
        &mut self,
        verdict: Verdict,
    ) -> Option<(crate::report::ndb::NdbSession, bool)> {
        if verdict != Verdict::NdbMgm {
            return None;
        }
        let last = self.last_us;
        if let Some(mut s) = self.decided.as_mut().and_then(|d| d.session.take()) {
            let refused = s.refused();
            return Some((s.report(last), refused));
        }
        let ins = self.inspect.as_mut();
        let partial = ins
            .as_ref()
            .is_some_and(|i| i.streams.iter().any(StreamPrefix::mid_stream));
        match ins.and_then(|i| i.trail.as_mut().map(|t| (t, Arc::clone(&i.mem)))) {
            Some((t, mem)) => {
                t.partial |= partial;
                let refused = t.refused;
                Some((t.finish(&mem), refused))
            }
            None => Some((
                crate::report::ndb::NdbSession {
                    partial,
                    ..Default::default()
                },
                false,
            )),
        }
    }

    /// Live runs: commands of this flow's session to announce now.
    pub(crate) fn take_notes(&mut self) -> Vec<crate::report::ndb::Command> {
        if self.marks.0 & Marks::SESSION == 0 {
            return Vec::new();
        }
        match self.decided.as_mut().and_then(|d| d.session.as_mut()) {
            Some(s) if s.has_notes() => s.take_notes(),
            _ => Vec::new(),
        }
    }

    /// Heap bytes held by this flow beyond its table entry (reassembly buffers, probe, verdict).
    pub fn heap_bytes(&self) -> usize {
        let inspect = self.inspect.as_ref().map_or(0, |i| {
            std::mem::size_of::<Inspect>()
                + i.streams
                    .iter()
                    .map(StreamPrefix::heap_bytes)
                    .sum::<usize>()
        });
        let decided = self.decided.as_ref().map_or(0, |d| d.heap_bytes());
        inspect + decided
    }

    /// Bytes this flow holds reserved from the budget (reassembly buffers, the audit).
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        let inspect = self.inspect.as_ref().map_or(0, |i| {
            i.streams[0].charged()
                + i.streams[1].charged()
                + i.trail.as_ref().map_or(0, |t| t.reserved())
        });
        let session = self.decided.as_ref().and_then(|d| d.session.as_ref());
        inspect + session.map_or(0, |s| s.reserved())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::decode::TcpInfo;
    use std::net::IpAddr;

    /// A SYN from `src:sport` to `dst:3406`.
    pub(crate) fn syn(src: IpAddr, sport: u16, dst: IpAddr) -> PacketView<'static> {
        PacketView {
            vlan: None,
            src,
            dst,
            src_port: sport,
            dst_port: 3406,
            transport: Transport::Tcp,
            tcp: TcpInfo {
                seq: 1000,
                ack: 0,
                flags: tcp_flags::SYN,
            },
            payload: &[],
            payload_len: 0,
            tcp_header: &[],
        }
    }

    #[test]
    fn a_late_syn_that_moves_the_stream_start_restarts_the_probe() {
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        let request = b"get nodeid\nuser: mysqld\npassword: mysqld\npublic key: a public key\nversion: 1\nnodetype: 1\n\n";
        let mut data = syn(client, 40000, server);
        data.tcp = TcpInfo {
            seq: 1011,
            ack: 0,
            flags: tcp_flags::ACK | tcp_flags::PSH,
        };
        data.payload = request;
        data.payload_len = request.len() as u32;
        let mut flow = Flow::new(0, None);
        let (_, idx) = FlowKey::of(&data);
        let mem = Arc::new(MemCap::default());
        let mut ctx = Ctx {
            prefix: 4096,
            mem: &mem,
            bad_checksums: 0,
            announce_ndb: false,
        };
        flow.observe(idx, &Seen::of(&data), 1, 100, &mut ctx);
        assert!(
            flow.result().evidence[idx].is_some(),
            "the request alone is evidence"
        );
        // The SYN shows the stream really began 10 bytes earlier: those bytes are missing, so
        // nothing in order is known any more and the probe must not keep what it read.
        flow.observe(idx, &Seen::of(&syn(client, 40000, server)), 2, 60, &mut ctx);
        assert!(flow.decided.is_none());
        assert_eq!(flow.result().evidence[idx], None);
    }

    /// A data segment from the client of `syn(..)`'s flow.
    fn data(seq: u32, payload: &'static [u8]) -> PacketView<'static> {
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let server: IpAddr = "192.0.2.1".parse().unwrap();
        let mut v = syn(client, 40000, server);
        v.tcp = TcpInfo {
            seq,
            ack: 1,
            flags: tcp_flags::ACK,
        };
        v.payload = payload;
        v.payload_len = payload.len() as u32;
        v
    }

    #[test]
    fn leftward_growth_costs_the_probe_a_bounded_number_of_re_reads() {
        let mem = Arc::new(MemCap::default());
        for byte in [&b"\n"[..], b" "] {
            let mut flow = Flow::new(0, None);
            let mut ctx = Ctx {
                prefix: 4096,
                mem: &mem,
                bad_checksums: 0,
                announce_ndb: false,
            };
            let n = 4_000u32;
            for i in 0..n {
                let v = data(1_000_000 - i, byte);
                let (_, idx) = FlowKey::of(&v);
                flow.observe(idx, &Seen::of(&v), i64::from(i), 60, &mut ctx);
            }
            let ins = flow.inspect.as_ref().expect("still inspecting");
            // Each re-anchoring shows the probe the prefix again: at most MAX_REREADS of them,
            // each at most MAX_REREADS + 1 bytes long here, plus the first byte.
            let reread = crate::flow::stream::MAX_REREADS as u64;
            assert!(
                ins.probed <= 1 + reread * (reread + 1),
                "the probe examined {} bytes",
                ins.probed
            );
            assert!(flow.anomalies.contains(Anomaly::ReanchorLimit));
        }
    }

    /// `view` as the table sees it, with a checksum that does not verify.
    fn with_bad_checksum(view: &PacketView<'static>) -> Seen<'static> {
        let mut seen = Seen::of(view);
        seen.csum = (0..=2u16).find(|h| checksum::verify(Some(*h), view.payload) == Checksum::Bad);
        seen
    }

    #[test]
    fn one_bad_checksum_segment_holds_the_verdict_two_look_like_offload() {
        let request =
            b"get nodeid\nversion: 524288\nnodetype: 1\nuser: mysqld\npassword: mysqld\n\n";
        let reply = b"get nodeid reply\nnodeid: 50\nresult: Ok\n\n";
        let mem = Arc::new(MemCap::default());
        for bad_reply in [false, true] {
            let mut flow = Flow::new(0, None);
            let mut ctx = Ctx {
                prefix: 4096,
                mem: &mem,
                bad_checksums: 0,
                announce_ndb: false,
            };
            let req = data(5000, request);
            let (_, c) = FlowKey::of(&req);
            flow.observe(c, &with_bad_checksum(&req), 1, 100, &mut ctx);
            let mut rep = data(9000, reply);
            std::mem::swap(&mut rep.src, &mut rep.dst);
            std::mem::swap(&mut rep.src_port, &mut rep.dst_port);
            let seen = if bad_reply {
                with_bad_checksum(&rep)
            } else {
                Seen::of(&rep)
            };
            flow.observe(1 - c, &seen, 2, 100, &mut ctx);
            assert_eq!(ctx.bad_checksums, 1 + u64::from(bad_reply));
            assert!(flow.anomalies.contains(Anomaly::BadChecksum));
            // One bad segment: the verdict waits for a good copy (or the end of the flow);
            // two: taken as offload, decided as usual.
            assert_eq!(flow.decided.is_some(), bad_reply, "bad reply: {bad_reply}");
            assert_eq!(flow.result().verdict, crate::classify::Verdict::NdbMgm);
        }
    }
}
