//! The flow worker: one thread per part of the flow table.
//!
//! Owns: the loop of one flow worker ([`worker`]): it takes its [`Tracker`] by value (the only
//! writer of that part, so nothing is locked), accounts every packet of the batches the router
//! sends it, sweeps its part at the marks in its stream, sends what it removed to the sink
//! ([`Event`]: evictions at once, sweeps gathered per batch), passes verdict announcements on,
//! gives the batches back for reuse, and returns the tracker when its channel closes so the main
//! thread can drain what is left.
//!
//! Never: formats the record of a removed flow (the main thread does), drops a removed flow (it
//! waits for room in the event queue), or waits for an announcement to be taken (dropped when the
//! sink is behind).

use crossbeam_channel::{Receiver, Sender};
use ndbsniff_core::flow::key::FlowKey;
use ndbsniff_core::flow::state::Flow;
use ndbsniff_core::flow::tracker::{FlowEvent, Removed, Tracker};
use ndbsniff_core::Watch;

use super::{Event, Notice, Work, FLOWS_PER_EVENT};

/// What every flow worker is told alike.
pub struct WorkerShared<'a> {
    /// Which ports are watched (client and server are told apart by them as a last resort).
    pub watch: &'a Watch,
    /// Build a record when the probe decides (live text announcements).
    pub announce: bool,
    /// Announce the control commands of NDB sessions as their replies are seen (live runs).
    pub announce_ndb: bool,
}

/// Where a worker sends what it has to report.
pub struct WorkerOut {
    /// Removed flows (never dropped: the worker waits for room).
    pub events: Sender<Event>,
    /// Verdict announcements (dropped when the sink is behind) and NDB commands (never
    /// dropped: they are the audit).
    pub decided: Sender<Notice>,
}

/// What a worker has swept but not yet told the sink: sent once per batch, or sooner when it
/// holds [`FLOWS_PER_EVENT`] flows, so a capture that makes a sweep of every packet costs a
/// message per batch, not one per sweep.
struct SweepReport {
    worker: usize,
    sweeps: Vec<(u64, Removed)>,
    flows: usize,
    /// Every sweep below this is done (removed flows included in `sweeps` or sent).
    upto: u64,
    sent_upto: u64,
}

impl SweepReport {
    /// Records sweep `seq`'s removed flows, sending full messages as they fill.
    fn add(&mut self, events: &Sender<Event>, seq: u64, flows: Removed) {
        let room = FLOWS_PER_EVENT - self.flows;
        if flows.len() <= room {
            // Most sweeps: the flows go on as they are.
            if !flows.is_empty() {
                self.flows += flows.len();
                self.sweeps.push((seq, flows));
                if self.flows >= FLOWS_PER_EVENT {
                    self.upto = self.upto.max(seq);
                    self.send(events);
                }
            }
        } else {
            let mut flows = flows.into_iter();
            loop {
                let room = FLOWS_PER_EVENT - self.flows;
                let part = take_flows(&mut flows, room);
                if part.is_empty() {
                    break;
                }
                self.flows += part.len();
                self.sweeps.push((seq, part));
                if self.flows >= FLOWS_PER_EVENT {
                    // This sweep may go on in the next message: only those before it are done.
                    self.upto = self.upto.max(seq);
                    self.send(events);
                }
            }
        }
        self.upto = self.upto.max(seq + 1);
    }

    /// Sends what is held, if there is anything new to say.
    fn send(&mut self, events: &Sender<Event>) {
        if self.sweeps.is_empty() && self.upto == self.sent_upto {
            return;
        }
        self.flows = 0;
        self.sent_upto = self.upto;
        drop(events.send(Event::Swept {
            worker: self.worker,
            sweeps: std::mem::take(&mut self.sweeps),
            upto: self.upto,
        }));
    }
}

/// The next (at most) `n` removed flows, in order. Each flow is moved once; cutting the tail off
/// a large sweep or eviction with `split_off` for every message would copy what is left again
/// each time (quadratic in the flows removed at once).
fn take_flows(flows: &mut std::vec::IntoIter<(FlowKey, Flow)>, n: usize) -> Removed {
    flows.by_ref().take(n).collect()
}

/// A flow worker: accounts every packet of its part of the table (`tracker`), sweeps it when
/// asked, and reports what it removed. Returns the tracker, with the flows still tracked, once
/// the router has hung up.
pub fn worker(
    mut tracker: Tracker,
    shared: &WorkerShared<'_>,
    rx: Receiver<Work>,
    recycle: Sender<Work>,
    out: WorkerOut,
) -> Tracker {
    tracker.announce_ndb(shared.announce_ndb);
    let mut table_events = Vec::new();
    let mut report = SweepReport {
        worker: tracker.part(),
        sweeps: Vec::new(),
        flows: 0,
        upto: 0,
        sent_upto: 0,
    };
    for mut work in rx.iter() {
        let mut start = 0;
        let marks = std::mem::take(&mut work.sweeps);
        let ends = marks
            .iter()
            .map(|&(n, at)| (n.min(work.pkts.len()), Some(at)))
            .chain(std::iter::once((work.pkts.len(), None)));
        for (end, sweep) in ends {
            tracker.observe_batch(
                &work.pkts[start.min(end)..end],
                &work,
                shared.watch,
                shared.announce,
                &mut table_events,
            );
            start = end;
            for ev in table_events.drain(..) {
                match ev {
                    FlowEvent::Decided(r) => drop(out.decided.try_send(Notice::Decided(r))),
                    FlowEvent::Ndb(n) => drop(out.decided.send(Notice::Ndb(n))),
                    FlowEvent::Evicted(flows) if flows.len() <= FLOWS_PER_EVENT => {
                        drop(out.events.send(Event::Evicted(flows)));
                    }
                    FlowEvent::Evicted(flows) => {
                        let mut flows = flows.into_iter();
                        loop {
                            let part = take_flows(&mut flows, FLOWS_PER_EVENT);
                            if part.is_empty() {
                                break;
                            }
                            drop(out.events.send(Event::Evicted(part)));
                        }
                    }
                }
            }
            if let Some(at) = sweep {
                report.add(&out.events, at.seq, tracker.sweep(at.now_us));
            }
        }
        report.send(&out.events);
        work.clear();
        work.sweeps = marks;
        work.sweeps.clear();
        let _ = recycle.try_send(work);
    }
    tracker
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::decode::Transport;
    use ndbsniff_core::flow::key::Endpoint;
    use std::net::{IpAddr, Ipv4Addr};

    /// `n` removed flows, their first-packet times 0, 1, 2, … in order.
    fn removed(n: usize) -> Removed {
        (0..n)
            .map(|i| {
                let ep = |port| Endpoint {
                    addr: IpAddr::V4(Ipv4Addr::from(i as u32)),
                    port,
                };
                let key = FlowKey {
                    lo: ep(1),
                    hi: ep(2),
                    transport: Transport::Tcp,
                };
                (key, Flow::first_seen(i as i64))
            })
            .collect()
    }

    #[test]
    fn a_large_sweep_goes_out_in_full_messages_in_order() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut report = SweepReport {
            worker: 0,
            sweeps: Vec::new(),
            flows: 0,
            upto: 0,
            sent_upto: 0,
        };
        report.add(&tx, 0, removed(10));
        let big = 3 * FLOWS_PER_EVENT + 7;
        report.add(&tx, 1, removed(big));
        report.send(&tx);
        drop(tx);
        let mut seen: Vec<(u64, i64)> = Vec::new();
        let mut last_upto = 0;
        for ev in rx.iter() {
            let Event::Swept { sweeps, upto, .. } = ev else {
                panic!("only sweeps were reported");
            };
            let n: usize = sweeps.iter().map(|(_, f)| f.len()).sum();
            assert!(n <= FLOWS_PER_EVENT, "a message of {n} flows");
            assert!(upto >= last_upto);
            last_upto = upto;
            for (seq, flows) in sweeps {
                seen.extend(flows.iter().map(|(_, f)| (seq, f.first_us)));
            }
        }
        assert_eq!(last_upto, 2, "both sweeps are done");
        let want: Vec<(u64, i64)> = (0..10)
            .map(|t| (0, t))
            .chain((0..big as i64).map(|t| (1, t)))
            .collect();
        assert_eq!(seen, want, "every flow once, in order");
    }
}
