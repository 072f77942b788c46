//! pcapng files read without libpcap's limits: each interface keeps its own link type, snapshot
//! length and timestamp resolution, and a file may hold several sections
//! ([`crate::capture::ngread`] reads the blocks).
//!
//! Owns: the link type of every frame (told to the router as it changes), one BPF program per
//! link type (compiled when its first interface appears, from the run's [`FilterPlan`]), the
//! frames of interfaces whose link type is not decoded (counted, not decoded), and the `-w` rule
//! that a pcap file holds one link type (frames of another are left out and counted).
//!
//! Never: copies a frame on the single-file path, or compiles a program more than once per link
//! type.

use std::sync::atomic::{AtomicBool, Ordering};

use ndbsniff_core::decode::{LinkKind, SkipReason};
use pcap::Capture;

use super::dump::Dump;
use super::filter::{self, Tags};
use super::ngread::{NgDamage, NgFile, NgNext};
use super::{
    linktype_to_dlt, pcap_message, publish_counts, Bpf, CaptureError, CaptureErrorKind,
    CaptureReport, Damage, LiveCounters,
};
use crate::pipeline::Router;

/// What a BPF program is made of: the watched ports and the user's expression. The expression
/// for a link type comes from it ([`filter::build`]), so each link type gets its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterPlan {
    /// The watched ports; `None` when every port is.
    pub ports: Option<Vec<u16>>,
    /// The user's own expression (`-f`).
    pub user: Option<String>,
}

impl FilterPlan {
    /// The plan for a pcapng interface of `link`. BSD loopback (NULL, LOOP) keeps only the
    /// user's expression: libpcap compiles the address-family test for the capturing host's
    /// values unless it reads the file itself, so a port program made here could turn IPv6
    /// frames away; the port test after decoding decides for them. `None`: nothing to filter.
    pub fn for_link(&self, link: LinkKind) -> Option<FilterPlan> {
        match link {
            LinkKind::Null | LinkKind::Loop => self.user.as_ref().map(|u| FilterPlan {
                ports: None,
                user: Some(u.clone()),
            }),
            _ => Some(self.clone()),
        }
    }

    /// The expressions to try on `link`, best first: with the VLAN levels the link type has,
    /// then without (a libpcap that rejects `vlan` there); empty when nothing is filtered.
    pub fn candidates(&self, link: LinkKind) -> Vec<String> {
        let ports = self.ports.as_deref();
        let user = self.user.as_deref();
        let mut v: Vec<String> = [Tags::for_link(link), Tags::None]
            .into_iter()
            .filter_map(|tags| filter::build(ports, user, tags))
            .collect();
        v.dedup();
        v
    }
}

/// One link type met in the file.
pub(super) struct LinkState {
    linktype: u16,
    /// `None`: a link type the decoder does not handle (its frames are counted, not decoded).
    pub(super) kind: Option<LinkKind>,
    /// The program for it; `None` when nothing is filtered or none compiled.
    pub(super) filter: Option<Bpf>,
    /// No program could be compiled for it while the user gave an expression: its frames are
    /// turned away rather than let through unfiltered.
    pub(super) reject: bool,
}

/// A pcapng file (or stream) read by [`NgFile`].
pub(super) struct Pcapng {
    pub(super) file: NgFile,
    pub(super) links: Vec<LinkState>,
    pub(super) plan: Option<FilterPlan>,
    /// The link type of the frame handed over last (the router is told when it changes).
    current: Option<u16>,
    /// What [`Pcapng::open`] read to learn the first interface, to be handed over first.
    pub(super) pending: Option<Pending>,
}

/// The first thing read from a pcapng file, kept until the capture thread takes it.
pub(super) enum Pending {
    /// The first frame, copied.
    Frame(OwnedFrame),
    /// The file held no frame.
    End,
    /// The file was damaged before its first frame.
    Damaged(NgDamage),
}

/// A frame copied out of the reader.
pub(super) struct OwnedFrame {
    pub linktype: u16,
    pub ts_us: i64,
    pub ts_sec: u32,
    pub ts_nsec: u32,
    pub origlen: u32,
    pub data: Vec<u8>,
}

/// What [`Pcapng::open`] learned from the start of the file.
pub(super) struct Opened {
    pub reader: Pcapng,
    /// The first interface's link type (libpcap's DLT) and snapshot length, when there is one.
    pub first: Option<(i32, u32)>,
}

impl Pcapng {
    /// Starts reading: the file is read up to its first frame (kept, and handed over first),
    /// so that its interfaces described before it are known.
    pub(super) fn open(mut file: NgFile) -> Opened {
        let pending = match file.next() {
            NgNext::Frame(f) => Pending::Frame(OwnedFrame {
                linktype: f.linktype,
                ts_us: f.ts_us,
                ts_sec: f.ts_sec,
                ts_nsec: f.ts_nsec,
                origlen: f.origlen,
                data: f.data.to_vec(),
            }),
            NgNext::End => Pending::End,
            NgNext::Damaged(d) => Pending::Damaged(d),
        };
        let first = file
            .interfaces()
            .first()
            .map(|i| (linktype_to_dlt(u32::from(i.linktype)), i.snaplen));
        Opened {
            reader: Pcapng {
                file,
                links: Vec::new(),
                plan: None,
                current: None,
                pending: Some(pending),
            },
            first,
        }
    }

    /// Uses `plan` for the file's programs; the expression for `first` (the first interface's
    /// link) is compiled now, so a mistake is reported before anything is read. Returns it.
    pub(super) fn set_plan(
        &mut self,
        plan: &FilterPlan,
        first: LinkKind,
        dlt: i32,
    ) -> Result<Option<String>, pcap::Error> {
        let dead = Capture::dead(pcap::Linktype(dlt))?;
        if let Some(user) = plan.user.as_deref() {
            // Checked alone first, so a mistake is reported in the user's own words.
            dead.compile(user, true)?;
        }
        self.plan = Some(plan.clone());
        let Some(plan) = plan.for_link(first) else {
            return Ok(None);
        };
        let mut last_error = None;
        let mut chosen = None;
        for expr in plan.candidates(first) {
            match dead.compile(&expr, true) {
                Ok(_) => {
                    chosen = Some(expr);
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        if let (None, Some(e)) = (&chosen, last_error) {
            return Err(e);
        }
        Ok(chosen)
    }

    /// The link types met, as libpcap's DLT values, in order.
    pub(super) fn link_types(&self) -> Vec<i32> {
        self.links
            .iter()
            .map(|l| linktype_to_dlt(u32::from(l.linktype)))
            .collect()
    }
}

/// The state of `linktype` in `links`, made (and its program compiled from `plan`) the first
/// time it is met.
pub(super) fn link_index(
    links: &mut Vec<LinkState>,
    plan: Option<&FilterPlan>,
    linktype: u16,
) -> usize {
    if let Some(i) = links.iter().position(|l| l.linktype == linktype) {
        return i;
    }
    let dlt = linktype_to_dlt(u32::from(linktype));
    let kind = LinkKind::from_dlt(dlt);
    let (mut filter, mut reject) = (None, false);
    let plan = kind.zip(plan).and_then(|(k, p)| p.for_link(k));
    if let (Some(kind), Some(plan)) = (kind, &plan) {
        let candidates = plan.candidates(kind);
        let compiled = Capture::dead(pcap::Linktype(dlt)).ok().and_then(|dead| {
            candidates
                .iter()
                .find_map(|expr| dead.compile(expr, true).ok())
        });
        match compiled {
            Some(prog) => filter = Some(Bpf(prog)),
            // Nothing compiles for this link type: the port test after decoding still holds,
            // but the user's own expression cannot be applied, so its frames go.
            None => reject = plan.user.is_some() && !candidates.is_empty(),
        }
    }
    links.push(LinkState {
        linktype,
        kind,
        filter,
        reject,
    });
    links.len() - 1
}

/// Where a pcapng file stopped being readable, as a capture error's kind: `record` is the one
/// after the last delivered.
pub(super) fn damaged(d: NgDamage, record: u64) -> CaptureErrorKind {
    CaptureErrorKind::Damaged {
        record,
        offset: Some(d.offset),
        damage: Damage::Pcapng {
            block: d.block,
            what: d.what,
        },
    }
}

/// Why a pcapng file cannot be opened (its first block), named.
pub(super) fn open_error(name: &str, d: NgDamage) -> CaptureError {
    CaptureError::new(name.to_string(), damaged(d, 1))
}

/// The settings of [`read_pcapng`].
pub(super) struct NgLoop<'a> {
    pub limit: Option<u64>,
    pub stop: &'a AtomicBool,
    pub counters: &'a LiveCounters,
    /// The `-w` file and its link type (libpcap's DLT).
    pub savefile: &'a mut Option<Dump>,
    pub dump_dlt: i32,
}

/// Reads a pcapng file to its end, `limit` frames or `stop`, handing every frame to the router
/// in place. Returns the report and, when the file was damaged, where.
pub(super) fn read_pcapng(
    ng: &mut Pcapng,
    router: &mut Router<'_>,
    cfg: NgLoop<'_>,
) -> (CaptureReport, Option<NgDamage>) {
    let NgLoop {
        limit,
        stop,
        counters,
        savefile,
        dump_dlt,
    } = cfg;
    let mut report = CaptureReport::default();
    let limit = limit.unwrap_or(u64::MAX);
    let mut not_written = 0u64;
    let mut damage = None;
    let mut done = false;
    if let Some(first) = ng.pending.take() {
        match first {
            Pending::Frame(f) if limit > 0 => {
                let i = link_index(&mut ng.links, ng.plan.as_ref(), f.linktype);
                done = !hand_over(
                    &ng.links[i],
                    &mut ng.current,
                    router,
                    &f.data,
                    (f.ts_us, f.ts_sec, f.ts_nsec, f.origlen),
                    savefile,
                    dump_dlt,
                    &mut report,
                    &mut not_written,
                );
            }
            Pending::Frame(_) => done = true,
            Pending::End => done = true,
            Pending::Damaged(d) => {
                damage = Some(d);
                done = true;
            }
        }
    }
    while !done && report.packets < limit && router.alive() {
        let frame = match ng.file.next() {
            NgNext::Frame(f) => f,
            NgNext::End => break,
            NgNext::Damaged(d) => {
                damage = Some(d);
                break;
            }
        };
        let i = link_index(&mut ng.links, ng.plan.as_ref(), frame.linktype);
        let keep = hand_over(
            &ng.links[i],
            &mut ng.current,
            router,
            frame.data,
            (frame.ts_us, frame.ts_sec, frame.ts_nsec, frame.origlen),
            savefile,
            dump_dlt,
            &mut report,
            &mut not_written,
        );
        if !keep {
            break;
        }
        if report.packets % 4096 == 0 {
            publish_counts(&report, counters);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    router.finish();
    publish_counts(&report, counters);
    report.link_types = ng.link_types();
    report.not_written = not_written;
    (report, damage)
}

/// One frame of link `l`: filtered, written to `-w` when it can be, counted and routed. False
/// when writing the `-w` file failed (the capture stops).
#[allow(clippy::too_many_arguments)]
#[inline]
fn hand_over(
    l: &LinkState,
    current: &mut Option<u16>,
    router: &mut Router<'_>,
    data: &[u8],
    (ts_us, ts_sec, ts_nsec, origlen): (i64, u32, u32, u32),
    savefile: &mut Option<Dump>,
    dump_dlt: i32,
    report: &mut CaptureReport,
    not_written: &mut u64,
) -> bool {
    let Some(kind) = l.kind else {
        // A link type the decoder does not handle: read, counted, not decoded.
        report.packets += 1;
        report.bytes += u64::from(origlen);
        report.last_us = ts_us;
        router.skip(SkipReason::UnsupportedLink);
        return true;
    };
    if *current != Some(l.linktype) {
        router.set_link(kind);
        *current = Some(l.linktype);
    }
    if l.reject || !super::passes(l.filter.as_ref(), router, data) {
        return true;
    }
    if let Some(dump) = savefile.as_mut() {
        if linktype_to_dlt(u32::from(l.linktype)) == dump_dlt {
            if !dump.write(ts_sec, ts_nsec, origlen, data) {
                return false;
            }
        } else {
            *not_written += 1;
        }
    }
    report.packets += 1;
    report.bytes += u64::from(origlen);
    report.last_us = ts_us;
    router.frame(ts_us, data, origlen, None);
    true
}

/// The message of a libpcap error while compiling a pcapng file's program.
pub(super) fn compile_error(name: &str, expr: &str, e: &pcap::Error) -> CaptureError {
    CaptureError::new(
        name.to_string(),
        CaptureErrorKind::FilterRejected {
            expr: expr.to_string(),
            message: pcap_message(e),
        },
    )
}
