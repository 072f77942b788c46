//! Putting the flow workers' sweeps back in order, on the sink's side.
//!
//! Owns: [`SweepMerger`], which gathers each worker's share of every sweep and releases a sweep
//! once every worker has reported it, sweeps in order, so what is reported does not depend on the
//! number of workers or on how they were scheduled.
//!
//! Never: builds or orders records (the sink sorts a released sweep into report order), or holds
//! a sweep that every worker has reported.

use std::collections::BTreeMap;

use ndbsniff_core::flow::tracker::Removed;

/// Puts the workers' shares of each sweep back together: a sweep is released once every worker
/// has reported it, and sweeps are released in order. Sweeps that removed nothing anywhere are
/// never released (there is nothing to report).
pub struct SweepMerger {
    /// Per worker: every sweep numbered below this is fully reported.
    upto: Vec<u64>,
    pending: BTreeMap<u64, Removed>,
}

impl SweepMerger {
    /// A merger for `workers` flow workers, nothing reported yet.
    pub fn new(workers: usize) -> SweepMerger {
        SweepMerger {
            upto: vec![0; workers.max(1)],
            pending: BTreeMap::new(),
        }
    }

    /// Adds what worker `worker` removed in the sweeps named, and that it has reported all of
    /// its share of every sweep below `upto`; calls `release` with every sweep now complete.
    pub fn add(
        &mut self,
        worker: usize,
        sweeps: Vec<(u64, Removed)>,
        upto: u64,
        release: impl FnMut(Removed),
    ) {
        for (seq, flows) in sweeps {
            let entry = self.pending.entry(seq).or_default();
            if entry.is_empty() {
                *entry = flows;
            } else {
                entry.extend(flows);
            }
        }
        self.reported(worker, upto, release);
    }

    /// Worker `worker` has reported every sweep below `upto`; calls `release` with every sweep
    /// now complete.
    pub fn reported(&mut self, worker: usize, upto: u64, mut release: impl FnMut(Removed)) {
        if let Some(u) = self.upto.get_mut(worker) {
            *u = (*u).max(upto);
        }
        let ready = self.upto.iter().copied().min().unwrap_or(0);
        let later = self.pending.split_off(&ready);
        for (_, flows) in std::mem::replace(&mut self.pending, later) {
            release(flows);
        }
    }

    /// Releases whatever is left, in order (the run is over; some worker may have stopped
    /// before reporting).
    pub fn finish(&mut self, mut release: impl FnMut(Removed)) {
        for (_, flows) in std::mem::take(&mut self.pending) {
            release(flows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::flow::key::{Endpoint, FlowKey};

    #[test]
    fn sweeps_are_released_in_order_once_every_worker_reported() {
        let mut m = SweepMerger::new(2);
        let mut out = Vec::new();
        let flows = |n: u16| -> Removed {
            let key: FlowKey = FlowKey {
                lo: Endpoint {
                    addr: "192.0.2.1".parse().unwrap(),
                    port: n,
                },
                hi: Endpoint {
                    addr: "192.0.2.2".parse().unwrap(),
                    port: 3406,
                },
                transport: ndbsniff_core::decode::Transport::Tcp,
            };
            vec![(key, ndbsniff_core::flow::state::Flow::first_seen(0))]
        };
        let tag = |r: Removed| r.iter().map(|(k, _)| k.lo.port).collect::<Vec<_>>();
        m.add(1, vec![(1, flows(11))], 2, |r| out.push(tag(r)));
        m.add(0, vec![(0, flows(0))], 0, |r| out.push(tag(r)));
        assert!(out.is_empty());
        // Worker 1 has reported sweeps 0 and 1; worker 0 has not finished sweep 0.
        assert!(out.is_empty());
        m.add(0, vec![(0, flows(1))], 1, |r| out.push(tag(r)));
        assert_eq!(out, [vec![0, 1]]);
        // Sweeps 1 to 4 removed nothing on worker 0: sweep 1 is complete.
        m.reported(0, 5, |r| out.push(tag(r)));
        assert_eq!(out, [vec![0, 1], vec![11]]);
        m.add(0, vec![(6, flows(6))], 7, |r| out.push(tag(r)));
        m.add(0, vec![(5, flows(5))], 7, |r| out.push(tag(r)));
        assert_eq!(out.len(), 2, "worker 1 has not reported 5 and 6");
        m.reported(1, 6, |r| out.push(tag(r)));
        assert_eq!(out[2], [5]);
        m.finish(|r| out.push(tag(r)));
        assert_eq!(out, [vec![0, 1], vec![11], vec![5], vec![6]]);
    }
}
