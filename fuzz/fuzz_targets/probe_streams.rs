//! Fuzz target: the two byte streams of a conversation, cut into TCP segments in arbitrary
//! ways (or sent as UDP datagrams), through the bounded reassembly (`StreamPrefix`) into the
//! NDB probe (`NdbProbe`), fed the way the flow table feeds them.
//!
//! Input layout (chosen so corpus files are easy to build by hand):
//!
//! ```text
//! plan_len: u8, plan: [u8; plan_len], then messages: (header: u8, len: u16 LE, bytes)*
//! ```
//!
//! `plan` is read with `arbitrary` into a [`Plan`] (an empty plan is: TCP, 4096-byte limit,
//! both SYNs seen, ISN 0, each message one segment in order). A message header's bit 0 is the
//! direction index; a message cut short by the end of the input keeps what is there.
//!
//! Checks:
//! * nothing panics;
//! * reassembly: the prefix always equals the true stream from the anchor the documented
//!   anchoring rules give, never exceeds the limit, and each `Fed` value tells the truth
//!   (`Unchanged` leaves the prefix as it was, `Grew` only appends, `Rebased` exactly when the
//!   anchor moves, data moving it at most `MAX_REREADS` times); a later copy of a byte never
//!   replaces the first (all copies here have an unverified checksum);
//! * probe: `examined(i) <= budget`, state and verdict agree, evidence is printable ASCII of at
//!   most 110 characters, `ndb-mgm` has no hint and at least medium confidence, `unknown` no
//!   upgrade; the probe is only ever shown a grown prefix;
//! * segmentation independence: a probe that never decided gives the same result as a fresh
//!   probe shown each direction's final prefix in one piece.

#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use ndbsniff_core::classify::{Confidence, NdbProbe, ProbeResult, ProbeState, Verdict};
use ndbsniff_core::escape::is_printable_ascii;
use ndbsniff_core::flow::stream::{Fed, StreamPrefix, MAX_REREADS};

/// Prefix limits (= probe budgets) the plan can pick from; the first is the default.
const LIMITS: [usize; 8] = [4096, 1, 7, 64, 100, 512, 1000, 2048];

#[derive(Arbitrary, Debug, Default)]
struct Plan {
    /// Index into [`LIMITS`].
    limit: u8,
    /// Messages are UDP datagrams instead of TCP stream writes.
    udp: bool,
    /// Per direction: the SYN was not captured (the capture starts mid-stream).
    mid_stream: [bool; 2],
    /// Per direction: initial sequence number.
    isn: [u32; 2],
    /// Per direction: stream bytes before this offset are never sent in order.
    start_at: [u16; 2],
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Step {
    /// The next `n + 1` bytes in order.
    Next { dir: bool, n: u8 },
    /// `n + 1` bytes starting `ahead` bytes past the in-order position (out of order).
    Ahead { dir: bool, ahead: u16, n: u8 },
    /// `n + 1` bytes starting `back` bytes before the in-order position (retransmission).
    Back { dir: bool, back: u16, n: u8 },
    /// The next `n + 1` bytes in order, cut by the snap length to `keep % (n + 1)` bytes.
    Cut { dir: bool, n: u8, keep: u8 },
    /// A later copy of bytes already in the prefix, with different contents.
    Conflict { dir: bool, back: u16, n: u8, xor: u8 },
    /// The SYN, seen now (late or repeated).
    Syn { dir: bool },
}

struct Input {
    plan: Plan,
    /// (direction, bytes) in the order they were written.
    messages: Vec<(usize, Vec<u8>)>,
}

fn parse(data: &[u8]) -> Input {
    let (plan_len, rest) = match data.split_first() {
        Some((&n, rest)) => (usize::from(n).min(rest.len()), rest),
        None => (0, data),
    };
    let (plan_bytes, mut rest) = rest.split_at(plan_len);
    let plan = Plan::arbitrary_take_rest(Unstructured::new(plan_bytes)).unwrap_or_default();
    let mut messages = Vec::new();
    while let Some((&hdr, tail)) = rest.split_first() {
        let (len, tail) = match tail {
            [a, b, t @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), t),
            _ => (tail.len(), &[][..]),
        };
        let (msg, tail) = tail.split_at(len.min(tail.len()));
        messages.push((usize::from(hdr & 1), msg.to_vec()));
        rest = tail;
    }
    Input { plan, messages }
}

/// The documented anchoring rules of `StreamPrefix`, in stream offsets (offset 0 = ISN + 1).
#[derive(Default)]
struct AnchorModel {
    anchor: Option<usize>,
    syn_anchored: bool,
    /// Data segments that moved the start so far.
    rereads: u16,
}

impl AnchorModel {
    /// Applies one segment starting at `off` (0 for a SYN); returns true when it rebases.
    fn segment(&mut self, off: usize, syn: bool, captured: usize, limit: usize) -> bool {
        let Some(anchor) = self.anchor else {
            self.anchor = Some(off);
            self.syn_anchored = syn;
            return false;
        };
        let earlier_within = off < anchor && anchor - off <= limit;
        if syn && !self.syn_anchored {
            if off == anchor {
                self.syn_anchored = true;
            } else if earlier_within {
                self.anchor = Some(off);
                self.syn_anchored = true;
                return true;
            }
            false
        } else if !syn && !self.syn_anchored && captured > 0 && earlier_within {
            // Data moves the start at most MAX_REREADS times; later attempts are ignored.
            if self.rereads >= MAX_REREADS {
                return false;
            }
            self.rereads += 1;
            self.anchor = Some(off);
            true
        } else {
            false
        }
    }
}

/// One direction's truth, reassembly under test, and its model.
struct Dir {
    stream: Vec<u8>,
    cursor: usize,
    isn: u32,
    prefix: StreamPrefix,
    model: AnchorModel,
}

impl Dir {
    fn seq(&self, off: usize) -> u32 {
        self.isn.wrapping_add(1).wrapping_add(off as u32)
    }
}

/// What the flow table keeps while a flow is undecided (see `Inspect` in
/// crates/ndbsniff-core/src/flow/state.rs).
struct Inspect {
    streams: [StreamPrefix; 2],
    probe: NdbProbe,
    /// The prefix each direction last showed the probe (the probe's view of the stream).
    shown: [Vec<u8>; 2],
}

/// The flow-table side of the harness: when packets reach the probe, and what it is shown.
struct Table {
    limit: usize,
    isn: [Option<u32>; 2],
    inspect: Option<Inspect>,
    decided: Option<ProbeResult>,
}

/// `NDBSNIFF_FUZZ_DEBUG` set: print the plan and every packet to stderr (for reproducing).
fn debug() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("NDBSNIFF_FUZZ_DEBUG").is_some())
}

/// One packet as the decoder would hand it over.
struct Packet<'a> {
    dir: usize,
    seq: u32,
    syn: bool,
    payload: &'a [u8],
    wire_len: u32,
}

fn check_probe(p: &NdbProbe, budget: usize) {
    for i in 0..2 {
        assert!(
            p.examined(i) <= budget,
            "examined {} > budget {budget}",
            p.examined(i)
        );
    }
    check_result(&p.result(), p.state());
}

fn check_result(r: &ProbeResult, state: ProbeState) {
    for e in r.evidence.iter().flatten() {
        assert!(is_printable_ascii(e), "evidence not printable: {e:?}");
        assert!(e.len() <= 110, "evidence too long ({}): {e:?}", e.len());
    }
    match state {
        ProbeState::Match => assert_eq!(r.verdict, Verdict::NdbMgm, "{r:?}"),
        ProbeState::NoMatch => assert_eq!(r.verdict, Verdict::Unknown, "{r:?}"),
        ProbeState::NeedMore => {}
    }
    if r.verdict == Verdict::NdbMgm {
        assert!(r.hint.is_none(), "ndb-mgm with a hint: {r:?}");
        assert!(r.confidence >= Confidence::Medium, "{r:?}");
    } else {
        assert!(r.upgrade.is_none(), "unknown with an upgrade: {r:?}");
    }
}

impl Table {
    fn show(&mut self, idx: usize) -> ProbeState {
        let limit = self.limit;
        let Some(ins) = self.inspect.as_mut() else {
            return ProbeState::NeedMore;
        };
        let data = ins.streams[idx].data();
        assert!(
            data.starts_with(&ins.shown[idx]),
            "probe shown a prefix that is not the earlier one grown (dir {idx}: {} bytes shown before, {} now)",
            ins.shown[idx].len(),
            data.len()
        );
        ins.shown[idx] = data.to_vec();
        let state = ins.probe.on_stream(idx, data);
        check_probe(&ins.probe, limit);
        state
    }

    /// Mirrors `Flow::observe` for one packet.
    fn observe(&mut self, pkt: &Packet<'_>, udp: bool) {
        let idx = pkt.dir;
        if debug() {
            eprintln!(
                "packet dir {idx} seq {} syn {} wire {} payload {:?}",
                pkt.seq,
                pkt.syn,
                pkt.wire_len,
                String::from_utf8_lossy(pkt.payload)
            );
        }
        if pkt.syn && self.isn[idx].is_none() {
            self.isn[idx] = Some(pkt.seq);
        }
        if self.decided.is_some() || pkt.wire_len == 0 || pkt.payload.is_empty() {
            if let Some(ins) = self.inspect.as_mut() {
                if pkt.syn {
                    let fed = ins.streams[idx].segment(pkt.seq, true, &[], 0);
                    // The table ignores what this call returns; with the proposed fix a SYN
                    // that moves the stream start rebuilds the probe like late data does.
                    if fed == Fed::Rebased {
                        let state = self.reprobe();
                        self.settle(state, false);
                    }
                }
            }
            return;
        }
        let limit = self.limit;
        let isn = self.isn;
        let ins = self.inspect.get_or_insert_with(|| {
            let mut streams = [StreamPrefix::new(limit), StreamPrefix::new(limit)];
            for (s, isn) in streams.iter_mut().zip(isn) {
                if let Some(isn) = isn {
                    s.segment(isn, true, &[], 0);
                }
            }
            Inspect {
                streams,
                probe: NdbProbe::new(limit),
                shown: [Vec::new(), Vec::new()],
            }
        });
        if !ins.probe.wants(idx) {
            return;
        }
        let state = if udp {
            let s = ins.probe.on_datagram(idx, pkt.payload);
            check_probe(&ins.probe, limit);
            s
        } else {
            match ins.streams[idx].segment(pkt.seq, pkt.syn, pkt.payload, pkt.wire_len) {
                Fed::Unchanged => ProbeState::NeedMore,
                Fed::Grew => self.show(idx),
                Fed::Rebased => self.reprobe(),
            }
        };
        self.settle(state, udp);
    }

    /// Earlier bytes arrived late: a fresh probe is shown both directions afresh.
    fn reprobe(&mut self) -> ProbeState {
        let Some(ins) = self.inspect.as_mut() else {
            return ProbeState::NeedMore;
        };
        ins.probe = NdbProbe::new(self.limit);
        ins.shown = [Vec::new(), Vec::new()];
        let mut state = ProbeState::NeedMore;
        for i in 0..2 {
            let ins = self.inspect.as_ref().expect("inspecting");
            if state == ProbeState::NeedMore && !ins.streams[i].data().is_empty() {
                state = self.show(i);
            }
        }
        state
    }

    /// Takes the decision when the probe made one or nothing more can be learnt.
    fn settle(&mut self, state: ProbeState, udp: bool) {
        let Some(ins) = self.inspect.as_ref() else {
            return;
        };
        let exhausted = (0..2).all(|i| ins.streams[i].is_full() || !ins.probe.wants(i));
        if state != ProbeState::NeedMore || (!udp && exhausted) {
            let r = ins.probe.result();
            check_result(&r, ins.probe.state());
            self.decided = Some(r);
            self.inspect = None;
        }
    }
}

struct Harness {
    limit: usize,
    udp: bool,
    dirs: [Dir; 2],
    table: Table,
}

impl Harness {
    /// Sends `wire` bytes of direction `d` starting at stream offset `off`, of which the first
    /// `keep` were captured; `conflict` XORs the captured bytes (a differing later copy).
    fn send(&mut self, d: usize, off: usize, wire: usize, keep: usize, conflict: u8) {
        let limit = self.limit;
        let dir = &mut self.dirs[d];
        let end = (off + wire).min(dir.stream.len());
        if off >= end {
            return;
        }
        let wire = end - off;
        let keep = keep.min(wire);
        let mut payload = dir.stream[off..off + keep].to_vec();
        for b in &mut payload {
            *b ^= conflict;
        }
        let seq = dir.seq(off);
        let wire_len = wire as u32;

        // Reassembly alone, against the model and the truth.
        let before = dir.prefix.data().to_vec();
        let rebases = dir.model.segment(off, false, keep, limit);
        let fed = dir.prefix.segment(seq, false, &payload, wire_len);
        check_stream(dir, fed, &before, rebases, limit);

        // The same packet through the table's logic into the probe.
        self.table.observe(
            &Packet {
                dir: d,
                seq,
                syn: false,
                payload: &payload,
                wire_len,
            },
            false,
        );
    }

    fn syn(&mut self, d: usize) {
        let limit = self.limit;
        let dir = &mut self.dirs[d];
        let before = dir.prefix.data().to_vec();
        let rebases = dir.model.segment(0, true, 0, limit);
        let fed = dir.prefix.segment(dir.isn, true, &[], 0);
        check_stream(dir, fed, &before, rebases, limit);
        let seq = dir.isn;
        self.table.observe(
            &Packet {
                dir: d,
                seq,
                syn: true,
                payload: &[],
                wire_len: 0,
            },
            false,
        );
    }
}

fn check_stream(dir: &Dir, fed: Fed, before: &[u8], rebases: bool, limit: usize) {
    let data = dir.prefix.data();
    assert!(data.len() <= limit, "prefix longer than the limit");
    assert_eq!(
        fed == Fed::Rebased,
        rebases,
        "Fed::{fed:?} but the anchoring rules say rebase={rebases}"
    );
    match fed {
        Fed::Unchanged => assert_eq!(data, before, "Fed::Unchanged changed the prefix"),
        Fed::Grew => assert!(
            data.len() > before.len() && data.starts_with(before),
            "Fed::Grew did not only append"
        ),
        Fed::Rebased => {}
    }
    if !data.is_empty() {
        let anchor = dir.model.anchor.expect("data without an anchor");
        let truth = dir.stream.get(anchor..anchor + data.len());
        assert!(
            truth == Some(data),
            "prefix differs from the stream at anchor {anchor} ({} bytes)",
            data.len()
        );
    }
    assert_eq!(dir.prefix.is_full(), data.len() >= limit);
}

fuzz_target!(|data: &[u8]| {
    let Input { plan, messages } = parse(data);
    let limit = LIMITS[usize::from(plan.limit) % LIMITS.len()];
    if debug() {
        eprintln!("limit {limit}, {plan:?}");
        for (d, m) in &messages {
            eprintln!("message dir {d}: {:?}", String::from_utf8_lossy(m));
        }
    }
    let mut streams = [Vec::new(), Vec::new()];
    let mut bounds = Vec::with_capacity(messages.len());
    for (d, m) in &messages {
        let start = streams[*d].len();
        streams[*d].extend_from_slice(m);
        bounds.push((*d, start, streams[*d].len()));
    }
    let [s0, s1] = streams;
    let mk = |stream: Vec<u8>, i: usize| Dir {
        cursor: usize::from(plan.start_at[i]).min(stream.len()),
        stream,
        isn: plan.isn[i],
        prefix: StreamPrefix::new(limit),
        model: AnchorModel::default(),
    };
    let mut h = Harness {
        limit,
        udp: plan.udp,
        dirs: [mk(s0, 0), mk(s1, 1)],
        table: Table {
            limit,
            isn: [None, None],
            inspect: None,
            decided: None,
        },
    };

    if h.udp {
        // Datagrams in order; step i may cut (snap length) or repeat datagram i.
        for (i, (d, m)) in messages.iter().enumerate() {
            let (keep, repeat) = match plan.steps.get(i) {
                Some(Step::Cut { keep, .. }) => (usize::from(*keep).min(m.len()), false),
                Some(Step::Back { .. }) => (m.len(), true),
                _ => (m.len(), false),
            };
            for _ in 0..=usize::from(repeat) {
                h.table.observe(
                    &Packet {
                        dir: *d,
                        seq: 0,
                        syn: false,
                        payload: &m[..keep],
                        wire_len: m.len() as u32,
                    },
                    true,
                );
            }
        }
        if let Some(ins) = &h.table.inspect {
            check_probe(&ins.probe, limit);
        }
        return;
    }

    for d in 0..2 {
        if !plan.mid_stream[d] {
            h.syn(d);
        }
    }
    for step in &plan.steps {
        match *step {
            Step::Next { dir, n } => {
                let d = usize::from(dir);
                let off = h.dirs[d].cursor;
                let n = usize::from(n) + 1;
                h.send(d, off, n, n, 0);
                h.dirs[d].cursor = (off + n).min(h.dirs[d].stream.len());
            }
            Step::Ahead { dir, ahead, n } => {
                let d = usize::from(dir);
                let off = h.dirs[d].cursor + usize::from(ahead);
                let n = usize::from(n) + 1;
                h.send(d, off, n, n, 0);
            }
            Step::Back { dir, back, n } => {
                let d = usize::from(dir);
                let off = h.dirs[d].cursor.saturating_sub(usize::from(back));
                let n = usize::from(n) + 1;
                h.send(d, off, n, n, 0);
            }
            Step::Cut { dir, n, keep } => {
                let d = usize::from(dir);
                let off = h.dirs[d].cursor;
                let n = usize::from(n) + 1;
                h.send(d, off, n, usize::from(keep) % n, 0);
                h.dirs[d].cursor = (off + n).min(h.dirs[d].stream.len());
            }
            Step::Conflict { dir, back, n, xor } => {
                // Only inside the prefix already held, so the first copy is known to be stored.
                let d = usize::from(dir);
                let held = h.dirs[d].prefix.data().len();
                let (Some(anchor), true) = (h.dirs[d].model.anchor, held > 0 && xor != 0) else {
                    continue;
                };
                let off = anchor + held.saturating_sub(usize::from(back) % held + 1);
                let n = (usize::from(n) + 1).min(anchor + held - off);
                h.send(d, off, n, n, xor);
            }
            Step::Syn { dir } => h.syn(usize::from(dir)),
        }
    }
    // The rest of each message, in the order written.
    for &(d, start, end) in &bounds {
        let from = start.max(h.dirs[d].cursor);
        if from < end {
            h.send(d, from, end - from, end - from, 0);
            h.dirs[d].cursor = end;
        }
    }

    // Segmentation independence: an undecided probe equals one shown the final prefixes whole.
    if let Some(ins) = &h.table.inspect {
        check_probe(&ins.probe, limit);
        let mut whole = NdbProbe::new(limit);
        for i in 0..2 {
            if whole.state() == ProbeState::NeedMore && whole.wants(i) && !ins.shown[i].is_empty()
            {
                whole.on_stream(i, &ins.shown[i]);
            }
        }
        if ins.probe.state() == ProbeState::NeedMore && whole.state() == ProbeState::NeedMore {
            let (a, b) = (ins.probe.result(), whole.result());
            assert_eq!(
                (a.verdict, a.confidence, a.roles, a.hint, a.upgrade),
                (b.verdict, b.confidence, b.roles, b.hint, b.upgrade),
                "segmented and whole feeding disagree"
            );
            assert_eq!(a.evidence, b.evidence, "segmented and whole feeding disagree");
        }
    }
});
