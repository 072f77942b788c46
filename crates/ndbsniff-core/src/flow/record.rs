//! Turning a flow into its report record: who is client and who server, what state the
//! conversation is in, and the evidence from both sides in one line; and the one order the report
//! lists records in.
//!
//! Owns: [`Flow::record`] and [`Flow::into_record`] (the conversion into a [`FlowRecord`]), the
//! role inference (handshake, then content, then ports), [`End`] (why a flow is reported), and
//! [`record_order`] with the key order that breaks its ties.
//!
//! Never: changes a flow's counters or probe state, or lets anything but times and endpoints
//! decide an order (not the hash seed, not the worker a flow lived on).

use crate::classify::{ProbeResult, Role};
use crate::decode::Transport;
use crate::flow::community;
use crate::flow::key::FlowKey;
use crate::flow::state::Flow;
use crate::flow::watch::Watch;
use crate::report::{FlowRecord, FlowState, RolesFrom};

impl Flow {
    fn state(&self, transport: Transport, end: End) -> FlowState {
        match (transport, end) {
            (_, End::Evicted) => FlowState::Evicted,
            (Transport::Udp, End::Idle) => FlowState::Idle,
            (Transport::Udp, End::Running) => FlowState::Open,
            (Transport::Tcp, _) if self.rst() => FlowState::Reset,
            (Transport::Tcp, _) if self.fin(0) && self.fin(1) => FlowState::Closed,
            (Transport::Tcp, _) if self.fin(0) || self.fin(1) => FlowState::HalfClosed,
            (Transport::Tcp, End::Idle) => FlowState::Idle,
            (Transport::Tcp, End::Running) => FlowState::Open,
        }
    }

    /// Which endpoint index is the client, and what told us.
    fn client_index(
        &self,
        key: &FlowKey,
        result: &ProbeResult,
        watch: &Watch,
    ) -> (usize, RolesFrom) {
        for i in 0..2 {
            if self.syn(i) && !self.syn(1 - i) {
                return (i, RolesFrom::Handshake);
            }
        }
        for i in 0..2 {
            if self.synack(i) && !self.synack(1 - i) {
                return (1 - i, RolesFrom::Handshake);
            }
        }
        for i in 0..2 {
            let client_like =
                result.roles[i] == Some(Role::Client) || result.roles[1 - i] == Some(Role::Server);
            let contradicted =
                result.roles[i] == Some(Role::Server) || result.roles[1 - i] == Some(Role::Client);
            if client_like && !contradicted {
                return (i, RolesFrom::Content);
            }
        }
        let w = [watch.is_watched(key.lo.port), watch.is_watched(key.hi.port)];
        if w[0] != w[1] {
            return (if w[0] { 1 } else { 0 }, RolesFrom::Port);
        }
        // Neither or both on a watched port: the higher port is taken as the client's.
        (
            if key.hi.port >= key.lo.port { 1 } else { 0 },
            RolesFrom::Port,
        )
    }

    /// The report record for this flow; `end` says why it is being reported. The session
    /// audit of an `ndb-mgm` flow is not in it (it is, once, in [`Flow::into_record`]).
    pub fn record(&self, key: &FlowKey, watch: &Watch, end: End) -> FlowRecord {
        self.record_of(self.result(), key, watch, end)
    }

    /// [`Flow::record`] for a flow that is done with: an `ndb-mgm` flow's record carries the
    /// audit of its session, and a decided flow's evidence is written into the record straight
    /// from where it is kept.
    pub fn into_record(mut self, key: &FlowKey, watch: &Watch, end: End) -> FlowRecord {
        let mut result = self.verdict_without_evidence();
        let ndb = self.take_ndb(result.verdict);
        let roles = self.client_index(key, &result, watch);
        let c = roles.0;
        let owned = std::mem::take(&mut result.evidence);
        let evidence = match self.decided.as_deref() {
            Some(d) => d.evidence(),
            None => [owned[0].as_deref(), owned[1].as_deref()],
        };
        let mut rec = self.record_with(result, evidence, key, roles, end);
        if let Some((mut session, refused)) = ndb {
            if refused {
                rec.anomalies.insert(crate::report::Anomaly::Memcap);
            }
            // Requests written by the server's side, or replies by the client's (a client
            // spoofing a reply, say), are not the session's commands.
            let before = session.commands.len();
            session.commands.retain(|cmd| usize::from(cmd.dir) == c);
            let gone = (before - session.commands.len()) as u64;
            session.commands_total = session.commands_total.saturating_sub(gone);
            rec.ndb = Some(Box::new(session));
        }
        rec
    }

    /// The verdict, with the evidence of a decided flow left where it is kept (an undecided
    /// flow's is worked out with it).
    fn verdict_without_evidence(&self) -> ProbeResult {
        match self.decided.as_deref() {
            Some(d) => d.meta(),
            None => self.result(),
        }
    }

    /// The client's and the server's addresses, as the record would name them.
    pub fn endpoints(
        &self,
        key: &FlowKey,
        watch: &Watch,
    ) -> (std::net::SocketAddr, std::net::SocketAddr) {
        let result = self.verdict_without_evidence();
        let (c, _) = self.client_index(key, &result, watch);
        (
            key.endpoint(c).socket_addr(),
            key.endpoint(1 - c).socket_addr(),
        )
    }

    fn record_of(
        &self,
        mut result: ProbeResult,
        key: &FlowKey,
        watch: &Watch,
        end: End,
    ) -> FlowRecord {
        let roles = self.client_index(key, &result, watch);
        let owned = std::mem::take(&mut result.evidence);
        let evidence = [owned[0].as_deref(), owned[1].as_deref()];
        self.record_with(result, evidence, key, roles, end)
    }

    /// The record, the client's index and what told it already known; `evidence` is each
    /// direction's (the result's own is not read).
    fn record_with(
        &self,
        result: ProbeResult,
        evidence: [Option<&str>; 2],
        key: &FlowKey,
        (c, roles_from): (usize, RolesFrom),
        end: End,
    ) -> FlowRecord {
        let s = 1 - c;
        let evidence = match (evidence[c], evidence[s]) {
            (Some(ce), Some(se)) => {
                let mut e = String::with_capacity(ce.len() + se.len() + 20);
                e.push_str("client: ");
                e.push_str(ce);
                e.push_str(" | server: ");
                e.push_str(se);
                e
            }
            (Some(ce), None) => format!("client: {ce}"),
            (None, Some(se)) => format!("server: {se}"),
            (None, None) => String::new(),
        };
        let (client, server) = (key.endpoint(c).socket_addr(), key.endpoint(s).socket_addr());
        let (flow_id, community_id) = community::ids(key.transport, client, server);
        FlowRecord {
            flow_id,
            community_id,
            transport: key.transport,
            client,
            server,
            verdict: result.verdict,
            confidence: result.confidence,
            evidence,
            hint: result.hint,
            upgrade: result.upgrade,
            packets_to_server: self.packets[c],
            packets_to_client: self.packets[s],
            bytes_to_server: self.bytes[c],
            bytes_to_client: self.bytes[s],
            first_seen: self.first_us,
            last_seen: self.last_us,
            state: self.state(key.transport, end),
            vlan: self.vlan,
            tunnel: self.tunnel.as_ref().map(|t| t.layers().into()),
            roles_from,
            anomalies: self.anomalies,
            ndb: None,
            end,
        }
    }
}

/// Why a flow is being reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum End {
    /// Still running: the capture ended (or a verdict is being announced).
    #[default]
    Running,
    /// No packet for the idle timeout (or closed and lingered).
    Idle,
    /// Pushed out of a full table.
    Evicted,
}

/// Orders records as the report lists them: by first packet, then by endpoints.
pub fn record_order(a: &FlowRecord, b: &FlowRecord) -> std::cmp::Ordering {
    (a.first_seen, a.client, a.server, a.transport.as_str()).cmp(&(
        b.first_seen,
        b.client,
        b.server,
        b.transport.as_str(),
    ))
}

/// Orders flow keys by endpoints, then transport: the tie-break of every order the report uses.
pub(crate) fn key_order(a: &FlowKey, b: &FlowKey) -> std::cmp::Ordering {
    (a.lo, a.hi, a.transport.as_str()).cmp(&(b.lo, b.hi, b.transport.as_str()))
}

/// A record's place in [`record_order`] as plain integers, worked out from its flow before the
/// record is built: a sweep of tens of thousands of flows is ordered on these (cheap to compare,
/// side by side in one vector) and each record is then built and written one at a time, where
/// ordering built records meant holding the whole sweep's records at once and comparing
/// socket addresses through them.
///
/// Compares exactly as [`record_order`] compares the records: first packet, then client, then
/// server (IPv4 before IPv6, then address, then port, as socket addresses order), then
/// transport (`tcp` before `udp`, as their names order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReportKey {
    first_us: i64,
    client: (bool, u128, u16),
    server: (bool, u128, u16),
    udp: bool,
}

/// An endpoint in socket-address order: the family (IPv6 after IPv4), the address, the port.
fn endpoint_rank(e: crate::flow::key::Endpoint) -> (bool, u128, u16) {
    match e.addr {
        std::net::IpAddr::V4(a) => (false, u128::from(a.to_bits()), e.port),
        std::net::IpAddr::V6(a) => (true, a.to_bits(), e.port),
    }
}

impl Flow {
    /// Where this flow's record goes in report order ([`ReportKey`]).
    pub fn report_key(&self, key: &FlowKey, watch: &Watch) -> ReportKey {
        let result = self.verdict_without_evidence();
        let (c, _) = self.client_index(key, &result, watch);
        ReportKey {
            first_us: self.first_us,
            client: endpoint_rank(key.endpoint(c)),
            server: endpoint_rank(key.endpoint(1 - c)),
            udp: key.transport == Transport::Udp,
        }
    }
}

/// Puts `items` in the order of `keys` (one per item, ties kept in the order they came), in
/// place: the items are large and are each moved once along the permutation's cycles.
pub fn sort_by_keys<T, K: Ord>(items: &mut [T], keys: Vec<K>) {
    debug_assert_eq!(items.len(), keys.len());
    let mut order: Vec<(K, usize)> = keys.into_iter().zip(0..).collect();
    order.sort_unstable();
    // `to[j]`: the index (in the order they came) of the item that goes to position j.
    let mut to: Vec<usize> = order.into_iter().map(|(_, i)| i).collect();
    for start in 0..to.len() {
        let mut j = start;
        loop {
            let k = to[j];
            to[j] = j;
            if k == start || k == j {
                break;
            }
            items.swap(j, k);
            j = k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{PacketView, TcpInfo};
    use crate::flow::state::Seen;
    use std::net::IpAddr;

    #[test]
    fn sorting_by_keys_moves_items_along_the_permutation() {
        let n = 1000usize;
        // A scrambled order with many ties.
        let keys: Vec<u64> = (0..n as u64).map(|i| (i * 7919) % 97).collect();
        let mut items: Vec<(u64, usize)> = keys.iter().copied().zip(0..).collect();
        let mut want = items.clone();
        want.sort_by_key(|&(k, _)| k); // stable: ties in the order they came
        sort_by_keys(&mut items, keys);
        assert_eq!(items, want);
        let mut none: Vec<u8> = Vec::new();
        sort_by_keys(&mut none, Vec::<u8>::new());
    }

    #[test]
    fn report_keys_order_flows_as_their_records_order() {
        let watch = Watch::ports(&[3406]);
        let addrs: Vec<IpAddr> = [
            "10.0.0.1",
            "10.0.0.2",
            "9.255.255.255",
            "::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "ff02::1",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let mut flows = Vec::new();
        let mut n = 0u32;
        for (i, &a) in addrs.iter().enumerate() {
            for (j, &b) in addrs.iter().enumerate() {
                if a.is_ipv4() != b.is_ipv4() {
                    continue;
                }
                for (sport, dport, flags) in [
                    (40000, 3406, crate::decode::tcp_flags::SYN),
                    (3406, 40000, crate::decode::tcp_flags::SYN),
                    (1186, 1186, crate::decode::tcp_flags::ACK),
                    (53, 5353, 0),
                ] {
                    n += 1;
                    let view = PacketView {
                        vlan: None,
                        src: a,
                        dst: b,
                        src_port: sport,
                        dst_port: dport,
                        transport: if flags == 0 {
                            Transport::Udp
                        } else {
                            Transport::Tcp
                        },
                        tcp: TcpInfo {
                            seq: 1,
                            ack: 0,
                            flags,
                        },
                        payload: &[],
                        payload_len: 0,
                        tcp_header: &[],
                    };
                    let (key, idx) = FlowKey::of(&view);
                    // Few distinct first times, so that endpoints decide most comparisons.
                    let mut flow = Flow::new(i64::from(n % 3) + (i * j % 2) as i64, None);
                    let mem = std::sync::Arc::new(crate::memcap::MemCap::default());
                    let mut ctx = crate::flow::state::Ctx {
                        prefix: 64,
                        mem: &mem,
                        bad_checksums: 0,
                        announce_ndb: false,
                    };
                    flow.observe(idx, &Seen::of(&view), flow.first_us, 60, &mut ctx);
                    flows.push((key, flow));
                }
            }
        }
        let records: Vec<FlowRecord> = flows
            .iter()
            .map(|(k, f)| f.record(k, &watch, End::Idle))
            .collect();
        for (a, ra) in flows.iter().zip(&records) {
            for (b, rb) in flows.iter().zip(&records) {
                assert_eq!(
                    a.1.report_key(&a.0, &watch)
                        .cmp(&b.1.report_key(&b.0, &watch)),
                    record_order(ra, rb),
                    "{} {} / {} {}",
                    ra.client,
                    ra.server,
                    rb.client,
                    rb.server
                );
            }
        }
    }
}
