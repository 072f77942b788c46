//! The per-flow probe [`NdbProbe`]: the flow table keeps one in every flow it is still
//! probing and feeds it the first bytes of each direction.
//!
//! Owns the byte budget and the two [`Direction`]s (a scanner and its judge side each), and
//! asks the judge for the state after every call. Must never: examine more than `budget` bytes
//! of a direction, re-scan bytes it has already read (work is linear in the bytes fed), keep
//! packet bytes, or panic on any input bytes.

use super::hints;
use super::ndb_mgm::{self, judge, Direction, Scanner, Sink};
use super::{ProbeResult, ProbeState, Verdict};

/// Default number of bytes examined per direction.
pub const DEFAULT_BUDGET: usize = 4096;

/// Per-flow probe for the NDB management protocol (two directions, idx 0 and 1).
///
/// ```
/// use ndbsniff_core::classify::{NdbProbe, ProbeState, Role, Verdict};
///
/// let mut p = NdbProbe::new(4096);
/// assert_eq!(p.on_stream(1, b"check connection\n\n"), ProbeState::NeedMore);
/// assert_eq!(p.on_stream(0, b"check connection reply\nresult: Ok\n\n"), ProbeState::Match);
/// let r = p.result();
/// assert_eq!(r.verdict, Verdict::NdbMgm);
/// assert_eq!(r.roles, [Some(Role::Server), Some(Role::Client)]);
/// assert_eq!(r.evidence[0].as_deref(), Some("check connection reply / result: Ok"));
/// ```
#[derive(Clone, Debug)]
pub struct NdbProbe {
    dirs: [Direction; 2],
    budget: u32,
    state: ProbeState,
}

impl Default for NdbProbe {
    fn default() -> Self {
        NdbProbe::new(DEFAULT_BUDGET)
    }
}

impl NdbProbe {
    /// A probe that examines at most `budget` bytes of each direction.
    pub fn new(budget: usize) -> Self {
        NdbProbe {
            dirs: [Direction::default(), Direction::default()],
            budget: u32::try_from(budget).unwrap_or(u32::MAX),
            state: ProbeState::NeedMore,
        }
    }

    /// Feed TCP direction `idx` (0 or 1): `data` is the whole in-order prefix of that
    /// direction seen so far (each call passes the same bytes, grown). Only bytes not read
    /// before are scanned, and never more than the budget.
    pub fn on_stream(&mut self, idx: usize, data: &[u8]) -> ProbeState {
        self.stream_with(idx, data, |dir, buf, at_budget| {
            dir.feed_stream(buf, at_budget)
        })
    }

    /// [`NdbProbe::on_stream`] with a second consumer of the scanner's events (an audit
    /// trail), which gets the events of every byte scanned, also those the judge no longer
    /// needs.
    pub fn on_stream_with<S: Sink + ?Sized>(
        &mut self,
        idx: usize,
        data: &[u8],
        also: &mut S,
    ) -> ProbeState {
        self.stream_with(idx, data, |dir, buf, at_budget| {
            dir.feed_stream_with(buf, at_budget, also)
        })
    }

    /// Cuts `data` to the budget and hands it to direction `idx` through `feed`.
    #[inline]
    fn stream_with(
        &mut self,
        idx: usize,
        data: &[u8],
        feed: impl FnOnce(&mut Direction, &[u8], bool),
    ) -> ProbeState {
        if self.state != ProbeState::NeedMore {
            return self.state;
        }
        let budget = self.budget as usize;
        let Some(dir) = self.dirs.get_mut(idx) else {
            return self.state;
        };
        let at_budget = data.len() >= budget;
        let buf = data.get(..budget).unwrap_or(data);
        feed(dir, buf, at_budget);
        self.update()
    }

    /// [`NdbProbe::on_datagram`] with a second consumer of the scanner's events.
    pub fn on_datagram_with<S: Sink + ?Sized>(
        &mut self,
        idx: usize,
        data: &[u8],
        also: &mut S,
    ) -> ProbeState {
        self.datagram_with(idx, data, |dir, buf, at_budget| {
            dir.feed_datagram_with(buf, at_budget, also)
        })
    }

    /// Cuts datagram `data` to what is left of the budget and hands it to direction `idx`
    /// through `feed`.
    #[inline]
    fn datagram_with(
        &mut self,
        idx: usize,
        data: &[u8],
        feed: impl FnOnce(&mut Direction, &[u8], bool),
    ) -> ProbeState {
        if self.state != ProbeState::NeedMore {
            return self.state;
        }
        let budget = self.budget as usize;
        let Some(dir) = self.dirs.get_mut(idx) else {
            return self.state;
        };
        let left = budget.saturating_sub(dir.examined());
        let at_budget = data.len() >= left;
        let buf = data.get(..left).unwrap_or(data);
        feed(dir, buf, at_budget);
        self.update()
    }

    /// The scanners of both directions, where they are (handed to an audit that follows the
    /// flow after its verdict).
    pub fn scanners(&self) -> [Scanner; 2] {
        [self.dirs[0].scanner.clone(), self.dirs[1].scanner.clone()]
    }

    /// Is the scanner of direction `idx` past the text part (nothing more to read)?
    pub fn opaque(&self, idx: usize) -> bool {
        self.dirs.get(idx).is_none_or(|d| d.scanner.is_opaque())
    }

    /// Feed one UDP datagram of direction `idx`. The budget counts all datagrams of a
    /// direction together.
    pub fn on_datagram(&mut self, idx: usize, data: &[u8]) -> ProbeState {
        self.datagram_with(idx, data, |dir, buf, at_budget| {
            dir.feed_datagram(buf, at_budget)
        })
    }

    /// Does the probe still want bytes of direction `idx`?
    pub fn wants(&self, idx: usize) -> bool {
        self.state == ProbeState::NeedMore && self.dirs.get(idx).is_some_and(|d| !d.dead())
    }

    /// Bytes of direction `idx` examined so far (never more than the budget).
    pub fn examined(&self, idx: usize) -> usize {
        self.dirs.get(idx).map_or(0, Direction::examined)
    }

    /// The state after the last call.
    pub fn state(&self) -> ProbeState {
        self.state
    }

    /// The decision with what was seen so far (meaningful in any state; called at flow end).
    pub fn result(&self) -> ProbeResult {
        let j = judge(&self.dirs);
        let mut evidence = [
            self.dirs[0].side.evidence.clone(),
            self.dirs[1].side.evidence.clone(),
        ];
        if let Some(slot) = j.contradiction.and_then(|o| evidence.get_mut(o)) {
            let seen = slot.as_deref().unwrap_or("unrecognised answer");
            *slot = Some(format!("not NDB: {seen}"));
        }
        let ndb = j.verdict == Verdict::NdbMgm;
        ProbeResult {
            verdict: j.verdict,
            confidence: j.confidence,
            evidence,
            roles: j.roles,
            hint: if ndb {
                None
            } else {
                j.hint.map(hints::Hint::name)
            },
            upgrade: if ndb {
                self.dirs[0]
                    .side
                    .upgrade
                    .or(self.dirs[1].side.upgrade)
                    .map(ndb_mgm::Upgrade::as_str)
            } else {
                None
            },
        }
    }

    fn update(&mut self) -> ProbeState {
        self.state = judge(&self.dirs).state;
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Confidence, Role};
    use crate::escape::is_printable_ascii;
    use proptest::prelude::*;

    // -----------------------------------------------------------------------------------
    // Conversations and the feeding harness

    /// One message of a conversation: `(sent by the client, bytes)`.
    type Conv = Vec<(bool, Vec<u8>)>;

    fn c(b: impl AsRef<[u8]>) -> (bool, Vec<u8>) {
        (true, b.as_ref().to_vec())
    }

    fn s(b: impl AsRef<[u8]>) -> (bool, Vec<u8>) {
        (false, b.as_ref().to_vec())
    }

    /// Which side's messages go first.
    #[derive(Clone, Copy, Debug)]
    enum Order {
        /// As the conversation goes.
        Interleaved,
        /// All client bytes, then all server bytes.
        ClientFirst,
        /// All server bytes, then all client bytes.
        ServerFirst,
    }

    /// How each message is cut into calls.
    #[derive(Clone, Copy, Debug)]
    enum Chunks {
        Whole,
        Bytes,
        Random(u64),
    }

    /// Small deterministic generator for chunk sizes.
    fn next_rand(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 33
    }

    /// Feed `conv` to a probe the way the flow table does: each call passes the grown prefix
    /// of one direction, and nothing more is passed once the probe has decided or no longer
    /// wants that direction. `client_idx` is the direction index of the client's bytes.
    fn feed(
        conv: &Conv,
        client_idx: usize,
        order: Order,
        chunks: Chunks,
        budget: usize,
    ) -> NdbProbe {
        let mut bytes: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut events: Vec<(usize, usize)> = Vec::new();
        let mut rng = match chunks {
            Chunks::Random(seed) => seed.wrapping_add(0x9e37_79b9),
            _ => 0,
        };
        let mut msgs: Vec<&(bool, Vec<u8>)> = conv.iter().collect();
        match order {
            Order::Interleaved => {}
            Order::ClientFirst => msgs.sort_by_key(|m| !m.0),
            Order::ServerFirst => msgs.sort_by_key(|m| m.0),
        }
        for (from_client, m) in msgs {
            let idx = if *from_client {
                client_idx
            } else {
                1 - client_idx
            };
            bytes[idx].extend_from_slice(m);
            let mut left = m.len();
            while left > 0 {
                let n = match chunks {
                    Chunks::Whole => left,
                    Chunks::Bytes => 1,
                    Chunks::Random(_) => (1 + next_rand(&mut rng) % 17) as usize,
                }
                .min(left);
                events.push((idx, n));
                left -= n;
            }
        }
        let mut p = NdbProbe::new(budget);
        let mut grown = [0usize; 2];
        for (idx, n) in events {
            grown[idx] += n;
            if p.state() == ProbeState::NeedMore && p.wants(idx) {
                p.on_stream(idx, &bytes[idx][..grown[idx]]);
            }
        }
        p
    }

    fn orders() -> [Order; 3] {
        [Order::Interleaved, Order::ClientFirst, Order::ServerFirst]
    }

    fn chunkings() -> Vec<Chunks> {
        let mut v = vec![Chunks::Whole, Chunks::Bytes];
        v.extend((1..=4).map(Chunks::Random));
        v
    }

    /// What a conversation must give.
    #[derive(Clone, Copy, Debug)]
    struct Expect {
        verdict: Verdict,
        confidence: Confidence,
        /// Role of the client's direction (the server's is the other one), if reported.
        client_role: Option<Role>,
        hint: Option<&'static str>,
    }

    const NDB_HIGH: Expect = Expect {
        verdict: Verdict::NdbMgm,
        confidence: Confidence::High,
        client_role: Some(Role::Client),
        hint: None,
    };

    const NDB_MEDIUM: Expect = Expect {
        verdict: Verdict::NdbMgm,
        confidence: Confidence::Medium,
        client_role: Some(Role::Client),
        hint: None,
    };

    fn unknown(
        confidence: Confidence,
        hint: Option<&'static str>,
        client_role: Option<Role>,
    ) -> Expect {
        Expect {
            verdict: Verdict::Unknown,
            confidence,
            client_role,
            hint,
        }
    }

    fn check_result(r: &ProbeResult, p: &NdbProbe, budget: usize) {
        for e in r.evidence.iter().flatten() {
            assert!(is_printable_ascii(e), "evidence not printable: {e:?}");
            assert!(e.len() <= 110, "evidence too long: {e:?}");
        }
        assert!(p.examined(0) <= budget && p.examined(1) <= budget);
        match p.state() {
            ProbeState::Match => assert_eq!(r.verdict, Verdict::NdbMgm),
            ProbeState::NoMatch => assert_eq!(r.verdict, Verdict::Unknown),
            ProbeState::NeedMore => {}
        }
        if r.verdict == Verdict::NdbMgm {
            assert!(r.hint.is_none());
            assert!(r.confidence >= Confidence::Medium);
        } else {
            assert!(r.upgrade.is_none());
        }
    }

    /// Run `conv` with both direction assignments, every order and chunking; check `want`.
    fn expect(name: &str, conv: &Conv, want: Expect) {
        for client_idx in [0, 1] {
            for order in orders() {
                for chunks in chunkings() {
                    let p = feed(conv, client_idx, order, chunks, DEFAULT_BUDGET);
                    let r = p.result();
                    let ctx = format!("{name}: client={client_idx} {order:?} {chunks:?} -> {r:?}");
                    check_result(&r, &p, DEFAULT_BUDGET);
                    assert_eq!(r.verdict, want.verdict, "{ctx}");
                    assert_eq!(r.confidence, want.confidence, "{ctx}");
                    assert_eq!(r.hint, want.hint, "{ctx}");
                    let server_role = want.client_role.map(|role| match role {
                        Role::Client => Role::Server,
                        Role::Server => Role::Client,
                    });
                    assert_eq!(r.roles[client_idx], want.client_role, "{ctx}");
                    assert_eq!(r.roles[1 - client_idx], server_role, "{ctx}");
                }
            }
        }
    }

    /// Like [`expect`], checking the verdict only.
    fn expect_verdict(name: &str, conv: &Conv, verdict: Verdict) {
        for client_idx in [0, 1] {
            for order in orders() {
                for chunks in chunkings() {
                    let p = feed(conv, client_idx, order, chunks, DEFAULT_BUDGET);
                    let r = p.result();
                    check_result(&r, &p, DEFAULT_BUDGET);
                    assert_eq!(
                        r.verdict, verdict,
                        "{name}: {client_idx} {order:?} {chunks:?} {r:?}"
                    );
                }
            }
        }
    }

    /// The result of feeding whole messages in conversation order, client in direction 0.
    fn simple(conv: &Conv) -> (ProbeResult, ProbeState) {
        let p = feed(conv, 0, Order::Interleaved, Chunks::Whole, DEFAULT_BUDGET);
        (p.result(), p.state())
    }

    /// Only the client's or only the server's messages.
    fn side(conv: &Conv, client: bool) -> Conv {
        conv.iter().filter(|m| m.0 == client).cloned().collect()
    }

    /// The same conversation with the client's line ends turned into CRLF.
    fn crlf_client(conv: &Conv) -> Conv {
        conv.iter()
            .map(|(cl, m)| {
                if !cl {
                    return (false, m.clone());
                }
                let mut out = Vec::new();
                for &b in m {
                    if b == b'\n' {
                        out.push(b'\r');
                    }
                    out.push(b);
                }
                (true, out)
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------
    // Example conversations of the protocol notes (section 6), byte-exact

    const B2: &str = "TkRCQ09ORjIAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8w\nMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hp\namtsbW5v";

    fn b1() -> String {
        format!("TkRCQ09ORlY{}", &B2[11..])
    }

    fn version_reply_80() -> &'static str {
        "version\nid: 524323\nmajor: 8\nminor: 0\nbuild: 35\nstring: mysql-8.0.35 ndb-8.0.35\n\
         mysql_major: 8\nmysql_minor: 0\nmysql_build: 35\n\n"
    }

    fn config_reply(blob: &str, trailer: &str) -> String {
        format!(
            "get config reply\nresult: Ok\nContent-Length: 162\nContent-Type: ndbconfig/octet-stream\n\
             Content-Transfer-Encoding: base64\n\n{blob}{trailer}"
        )
    }

    use ndbsniff_gen::ndb::node_block;

    fn e1() -> Conv {
        let status = format!(
            "node status\nnodes: 5\n{}{}{}{}{}\n",
            node_block(2, "NDB", "STARTED", 524323, 1, 1, "10.0.0.11"),
            node_block(3, "NDB", "STARTED", 524323, 2, 1, "10.0.0.12"),
            node_block(1, "MGM", "CONNECTED", 524323, 0, 0, "10.0.0.10"),
            node_block(50, "API", "CONNECTED", 524323, 0, 0, "10.0.0.20"),
            node_block(51, "API", "NO_CONTACT", 0, 0, 0, ""),
        );
        assert!(status.contains("node.51.address: \n"));
        vec![
            c("check connection\n\n"),
            s("check connection reply\nresult: Ok\n\n"),
            c("get version\n\n"),
            s(version_reply_80()),
            c("set clientversion\nbuild: 35\nminor: 0\nmajor: 8\n\n"),
            s("set clientversion reply\nresult: Ok\n\n"),
            c("get status\n\n"),
            s(status),
            c("get config_v2\nnodetype: 4294967295\nnode: 0\nversion: 0\n\n"),
            s(config_reply(B2, "\n")),
        ]
    }

    /// Some bytes of the binary transporter protocol.
    const SIGNALS: &[u8] = &[
        0x01, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x80, 0x00, 0xff, 0x00, 0x00, 0x07,
    ];

    fn e2() -> Conv {
        vec![
            c(
                "get nodeid\nendian:\"little\"\npublic key:\"a public key\"\npassword:\"mysqld\"\n\
               log_event: 0\nuser:\"mysqld\"\nnodeid: 2\nnodetype: 0\nversion: 524323\n\n",
            ),
            s("get nodeid reply\nnodeid: 2\nresult: Ok\n\n"),
            c("get version\n\n"),
            s(version_reply_80()),
            c("set clientversion\nbuild: 35\nminor: 0\nmajor: 8\n\n"),
            s("set clientversion reply\nresult: Ok\n\n"),
            c("get config_v2\nnodetype: 0\nnode: 2\nversion: 524323\n\n"),
            s(config_reply(B2, "\n")),
            c("get mgmd nodeid\n\n"),
            s("get mgmd nodeid reply\nnodeid:1\n\n"),
            c("set ports\nnum_ports: 3\nnode: 2\n\n3=-40717\n50=-40717\n51=-40717\n\n"),
            s("set ports reply\nresult: Ok\n\n"),
            c("transporter connect\n\n2 1 1 0\n"),
            s("1 1\n"),
            c(SIGNALS),
            s(SIGNALS),
        ]
    }

    fn e3() -> Conv {
        vec![
            c("get nodeid\nname:\"mysqld --server-id=1\"\nendian:\"little\"\npublic key:\"a public key\"\n\
               password:\"mysqld\"\nlog_event: 1\nuser:\"mysqld\"\nnodeid: 0\nnodetype: 1\nversion: 524323\n\n"),
            s("get nodeid reply\nresult: No free node id found for mysqld(API).\nerror_code: 1101\n\n"),
            s("get nodeid reply\nnodeid: 50\nresult: Ok\n\n"),
        ]
    }

    fn e4_interactive() -> Conv {
        vec![
            c("listen event\nfilter:\"261=15 250=1\"\n\n"),
            s("listen event\nresult: 0\n\n"),
            s("<PING>\n"),
            s("<PING>\n"),
            s("Node 2: Backup 1 started from node 1\n"),
            s("<PING>\n"),
        ]
    }

    fn e4_parsable() -> Conv {
        vec![
            c("listen event\nparsable: 1\nfilter: 261=15\n\n"),
            s("listen event\nresult: 0\n\n"),
            s("<PING>\n"),
            s("log event reply\ntype=54\ntime=0\nsource_nodeid=2\nstarting_node=1\nbackup_id=1\n\n"),
        ]
    }

    fn e5() -> Conv {
        let mut conv: Conv = e1().into_iter().take(6).collect();
        conv.extend([
            c("stop v2\nforce: 0\nabort: 0\nnode:\"2\"\n\n"),
            s("stop reply\nresult: Ok\nstopped: 1\ndisconnect: 0\n\n"),
            c("restart node v2\nforce: 0\nnostart: 0\ninitialstart: 0\nabort: 0\nnode:\"2\"\n\n"),
            s("restart reply\nresult: Ok\nrestarted: 1\ndisconnect: 0\n\n"),
        ]);
        conv
    }

    fn e5_alone() -> Conv {
        e5().into_iter().skip(6).collect()
    }

    fn e6() -> Conv {
        vec![
            c("hello\n\n"),
            s("result: Unknown command, 'hello'\n\n"),
            c("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            s("result: Unknown command, 'GET / HTTP/1.1'\n\nresult: Unknown command, 'Host: x'\n\n"),
            c("get version\nfoo: 1\n\n"),
            s("result: Unknown argument, 'foo'\n\n"),
        ]
    }

    fn e6_http_only() -> Conv {
        vec![
            c("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            s("result: Unknown command, 'GET / HTTP/1.1'\n\nresult: Unknown command, 'Host: x'\n\n"),
        ]
    }

    fn e7() -> Conv {
        vec![
            c("get nodeid\nversion: 460318\nnodetype: 1\nnodeid: 0\nuser: mysqld\npassword: mysqld\n\
               public key: a public key\nendian: little\nname: mysqld --server-id=1\nlog_event: 1\n\n"),
            s("get nodeid reply\nnodeid: 50\nresult: Ok\n\n"),
            c("get version\n\n"),
            s("version\nid: 460318\nmajor: 7\nminor: 6\nbuild: 30\nstring: mysql-5.7.44 ndb-7.6.30\n\
               mysql_major: 5\nmysql_minor: 7\nmysql_build: 44\n\n"),
            c("get config\nversion: 460318\nnodetype: 1\n\n"),
            s(config_reply(&b1(), "\n\n")),
        ]
    }

    const TLS_CLIENT_HELLO: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03, 0x5a, 0x1e, 0x00, 0x00,
        0x20, 0xc0, 0x2f, 0x00, 0x9c, 0x01, 0x00,
    ];
    const TLS_SERVER_HELLO: &[u8] = &[
        0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x03, 0x00, 0xc0, 0x2f,
    ];

    fn e8_tls() -> Conv {
        vec![
            c("start tls\n\n"),
            s("start tls reply\nresult: Ok\n\n"),
            c(TLS_CLIENT_HELLO),
            s(TLS_SERVER_HELLO),
            c([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]),
        ]
    }

    fn e8_refused() -> Conv {
        vec![
            c("get status\n\n"),
            s("Authorization failed\nError: Requires TLS\n\n"),
        ]
    }

    // -----------------------------------------------------------------------------------
    // NDB conversations

    #[test]
    fn e1_ndb_mgm_show() {
        expect("E1", &e1(), NDB_HIGH);
        let (r, st) = simple(&e1());
        assert_eq!(st, ProbeState::Match);
        assert_eq!(r.evidence[0].as_deref(), Some("check connection"));
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("check connection reply / result: Ok")
        );
        expect("E1 CRLF client", &crlf_client(&e1()), NDB_HIGH);
    }

    #[test]
    fn e1_each_side_alone() {
        expect("E1 client only", &side(&e1(), true), NDB_MEDIUM);
        expect("E1 server only", &side(&e1(), false), NDB_MEDIUM);
        // The server's replies alone, from the status reply on (no short first exchange).
        let late: Conv = e1().into_iter().skip(7).step_by(2).collect();
        assert!(late.iter().all(|m| !m.0));
        expect("E1 status+config replies", &late, NDB_MEDIUM);
        let (r, _) = simple(&late);
        assert_eq!(
            r.evidence[1]
                .as_deref()
                .map(|e| e.starts_with("node status / nodes: 5 / node.2.type: NDB")),
            Some(true)
        );
    }

    #[test]
    fn e2_data_node_startup() {
        expect("E2", &e2(), NDB_HIGH);
        let (r, _) = simple(&e2());
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("get nodeid reply / nodeid: 2 / result: Ok")
        );
        let e = r.evidence[0].as_deref().unwrap_or("");
        assert!(
            e.starts_with("get nodeid / endian:\"little\" / public key:\"a public key\""),
            "{e}"
        );
        expect("E2 client only", &side(&e2(), true), NDB_MEDIUM);
        expect("E2 server only", &side(&e2(), false), NDB_MEDIUM);
        expect("E2 CRLF client", &crlf_client(&e2()), NDB_HIGH);
        // Reading the whole client side first reaches the transporter hand-off.
        let p = feed(&e2(), 0, Order::ClientFirst, Chunks::Whole, DEFAULT_BUDGET);
        assert_eq!(p.result().upgrade, Some("transporter"));
    }

    #[test]
    fn e3_node_id_allocation() {
        expect("E3", &e3(), NDB_HIGH);
        expect("E3 client only", &side(&e3(), true), NDB_MEDIUM);
        expect("E3 server only", &side(&e3(), false), NDB_MEDIUM);
        let (r, _) = simple(&side(&e3(), false));
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("get nodeid reply / result: No free node id found for mysqld(API). / error_code: 1101")
        );
    }

    #[test]
    fn e4_event_listeners() {
        expect("E4 interactive", &e4_interactive(), NDB_HIGH);
        expect("E4 parsable", &e4_parsable(), NDB_HIGH);
        expect("E4 client only", &side(&e4_interactive(), true), NDB_MEDIUM);
        expect(
            "E4 server only",
            &side(&e4_interactive(), false),
            NDB_MEDIUM,
        );
        expect(
            "E4 parsable server only",
            &side(&e4_parsable(), false),
            NDB_MEDIUM,
        );
        let (r, _) = simple(&e4_parsable());
        assert_eq!(
            r.evidence[0].as_deref(),
            Some("listen event / parsable: 1 / filter: 261=15")
        );
        assert_eq!(r.evidence[1].as_deref(), Some("listen event / result: 0"));
    }

    #[test]
    fn listener_pings_only() {
        let pings: Conv = (0..5).map(|_| s("<PING>\n")).collect();
        expect("pings", &pings, NDB_MEDIUM);
        let (r, _) = simple(&pings);
        assert_eq!(r.evidence[1].as_deref(), Some("<PING> / <PING>"));
        // Captured mid-stream: the first line is the tail of a ping.
        let mut mid: Conv = vec![s("ING>\n")];
        mid.extend((0..3).map(|_| s("<PING>\n")));
        expect("pings mid-stream", &mid, NDB_MEDIUM);
        // Parsable events seen mid-stream, with a ping.
        let parsable: Conv = vec![
            s("<PING>\n"),
            s("log event reply\ntype=54\ntime=0\nsource_nodeid=2\nstarting_node=1\nbackup_id=1\n\n"),
        ];
        expect("parsable mid-stream", &parsable, NDB_MEDIUM);
        // One ping alone is not enough.
        let one: Conv = vec![s("<PING>\n")];
        let (r, _) = simple(&one);
        assert_eq!(r.verdict, Verdict::Unknown);
    }

    #[test]
    fn e5_stop_and_restart() {
        expect("E5", &e5(), NDB_HIGH);
        expect("E5 alone", &e5_alone(), NDB_HIGH);
        expect("E5 client only", &side(&e5_alone(), true), NDB_MEDIUM);
        expect("E5 server only", &side(&e5_alone(), false), NDB_MEDIUM);
        // mysql-ndb-operator style: unquoted, its own order.
        let op: Conv = vec![
            c("stop v2\nnode: 2\nabort: 0\nforce: 0\n\n"),
            s("stop reply\nresult: Ok\nstopped: 1\ndisconnect: 0\n\n"),
        ];
        expect("E5 operator", &op, NDB_HIGH);
        // v1 stop with NDB arguments (a generic command made specific by its arguments).
        let v1: Conv = vec![
            c("stop\nnode: 2\nabort: 0\n\n"),
            s("stop reply\nresult: Ok\nstopped: 1\n\n"),
        ];
        expect("stop v1", &v1, NDB_HIGH);
        expect("stop v1 client only", &side(&v1, true), NDB_MEDIUM);
    }

    #[test]
    fn e6_unknown_command_and_http_probe() {
        expect("E6", &e6(), NDB_HIGH);
        expect("E6 server only", &side(&e6(), false), NDB_MEDIUM);
        // The client alone sent nothing NDB-specific.
        let (r, _) = simple(&side(&e6(), true));
        assert_eq!(r.verdict, Verdict::Unknown);
        // HTTP sent to an ndb_mgmd: the server speaks NDB.
        expect("HTTP to mgmd", &e6_http_only(), NDB_MEDIUM);
        let (r, _) = simple(&e6_http_only());
        assert_eq!(r.evidence[0].as_deref(), Some("HTTP request GET /"));
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("result: Unknown command, 'GET / HTTP/1.1'")
        );
    }

    #[test]
    fn e7_ndb_76() {
        expect("E7", &e7(), NDB_HIGH);
        expect("E7 client only", &side(&e7(), true), NDB_MEDIUM);
        expect("E7 server only", &side(&e7(), false), NDB_MEDIUM);
        expect("E7 CRLF client", &crlf_client(&e7()), NDB_HIGH);
        let (r, _) = simple(&e7());
        assert!(r.evidence[0]
            .as_deref()
            .unwrap_or("")
            .starts_with("get nodeid / version: 460318 / nodetype: 1"));
    }

    #[test]
    fn e8_tls_upgrade() {
        expect("E8", &e8_tls(), NDB_HIGH);
        for client_idx in [0, 1] {
            for order in orders() {
                for chunks in chunkings() {
                    let p = feed(&e8_tls(), client_idx, order, chunks, DEFAULT_BUDGET);
                    assert_eq!(p.result().upgrade, Some("tls"), "{order:?} {chunks:?}");
                    assert_eq!(p.state(), ProbeState::Match);
                }
            }
        }
        expect("E8 client only", &side(&e8_tls(), true), NDB_MEDIUM);
        expect("E8 server only", &side(&e8_tls(), false), NDB_MEDIUM);
        // Refused start tls: the client carries on in plain text.
        let refused: Conv = vec![
            c("start tls\n\n"),
            s("start tls reply\nresult: Failed\n\n"),
            c("get version\n\n"),
            s(version_reply_80()),
        ];
        expect("E8 start tls refused", &refused, NDB_HIGH);
        let (r, _) = simple(&refused);
        assert_eq!(r.upgrade, None);
    }

    #[test]
    fn e8_tls_required_refusal() {
        expect("E8 refusal", &e8_refused(), NDB_HIGH);
        expect(
            "E8 refusal server only",
            &side(&e8_refused(), false),
            NDB_MEDIUM,
        );
        let (r, _) = simple(&e8_refused());
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("Authorization failed / Error: Requires TLS")
        );
        assert_eq!(r.evidence[0].as_deref(), Some("get status"));
        // `get status` alone is too generic.
        let (r, _) = simple(&side(&e8_refused(), true));
        assert_eq!(r.verdict, Verdict::Unknown);
    }

    #[test]
    fn transporter_connections() {
        // An API node's transporter to the mgmd: only `transporter connect` on the socket.
        let api: Conv = vec![
            c("transporter connect\n\n2 1 1 0\n"),
            s("1 1\n"),
            c(SIGNALS),
            s(SIGNALS),
        ];
        expect("transporter connect", &api, NDB_HIGH);
        expect(
            "transporter connect client only",
            &side(&api, true),
            NDB_MEDIUM,
        );
        for order in orders() {
            for chunks in chunkings() {
                let p = feed(&api, 1, order, chunks, DEFAULT_BUDGET);
                assert_eq!(
                    p.result().upgrade,
                    Some("transporter"),
                    "{order:?} {chunks:?}"
                );
            }
        }
        // Old two-field hello.
        let old: Conv = vec![c("transporter connect\n\n2 1\n"), s("1 1\n"), c(SIGNALS)];
        expect("transporter connect old hello", &old, NDB_HIGH);
        // Data-node transporter port handshake.
        let ndbd: Conv = vec![
            c("ndbd\nndbd passwd\n"),
            s("ok\n"),
            c("2 1\n"),
            s("1 1\n"),
            c(SIGNALS),
            s(SIGNALS),
        ];
        expect("ndbd handshake", &ndbd, NDB_HIGH);
        expect("ndbd handshake client only", &side(&ndbd, true), NDB_MEDIUM);
        let (r, _) = simple(&ndbd);
        assert_eq!(r.evidence[0].as_deref(), Some("ndbd / ndbd passwd"));
        assert_eq!(r.upgrade, Some("transporter"));
        // The server side alone (`ok`, `1 1`, binary) is too little.
        let (r, _) = simple(&side(&ndbd, false));
        assert_eq!(r.verdict, Verdict::Unknown);
    }

    #[test]
    fn rondb_and_other_commands() {
        for cmd in [
            "list users\n\n",
            "get quotas\nuser:\"alice\"\n\n",
            "set_hostname\nnode: 3\nhostname:\"db3\"\n\n",
            "get mgm nodeid\n\n",
            "activate\nnodeid: 3\n\n",
            "get info clusterlog\n\n",
            "list sessions\n\n",
            "get tls trust\n\n",
            "dump state\nnode: 2\nargs: 1000\n\n",
        ] {
            let conv: Conv = vec![c(cmd)];
            expect(cmd, &conv, NDB_MEDIUM);
        }
        let rondb: Conv = vec![c("list users\n\n"), s("list users reply\nresult: Ok\n\n")];
        expect("RonDB list users", &rondb, NDB_HIGH);
        let loglevel: Conv = vec![
            c("get cluster loglevel\n\n"),
            s("get cluster loglevel\nstartup: 7\nshutdown: 7\nstatistics: 7\n\n"),
        ];
        expect("cluster loglevel", &loglevel, NDB_HIGH);
        let clusterlog: Conv = vec![
            c("get info clusterlog\n\n"),
            s("clusterlog\nenabled: 1\ndebug: 0\ninfo: 1\nwarning: 1\nerror: 1\ncritical: 1\nalert: 1\n\n"),
        ];
        expect("clusterlog", &clusterlog, NDB_HIGH);
        let end: Conv = vec![c("end session\n\n"), s("end session reply\n")];
        expect("end session", &end, NDB_HIGH);
        // A weak command with a specific reply.
        let version: Conv = vec![c("get version\n\n"), s(version_reply_80())];
        expect("get version", &version, NDB_HIGH);
    }

    #[test]
    fn set_config_bulk_is_skipped() {
        let body = "QUJDRA==";
        let conv: Conv = vec![
            c(format!(
                "set config_v2\nContent-Length: {}\nContent-Type: ndbconfig/octet-stream\n\
                 Content-Transfer-Encoding: base64\n\n{body}\n",
                body.len()
            )),
            s("set config reply\nresult: Ok\n\n"),
        ];
        expect("set config", &conv, NDB_HIGH);
    }

    #[test]
    fn upgrade_is_judged_on_the_text_before() {
        // Binary after a text prefix with no NDB evidence is not NDB.
        let conv: Conv = vec![c("hello there\n"), c(SIGNALS)];
        let (r, st) = simple(&conv);
        assert_eq!(r.verdict, Verdict::Unknown);
        // Only the answer could still make it NDB (an ndb_mgmd answers anything it does not
        // know with `Unknown command`): the probe waits for the other side's first bytes.
        assert_eq!(st, ProbeState::NeedMore);
        let mut with_answer = conv.clone();
        with_answer.push(s("\x16\x03\x03\x00\x02\x02\x28"));
        assert_eq!(simple(&with_answer).1, ProbeState::NoMatch);
        // NDB text then binary without a hand-off: the text decides, the binary is not read.
        let conv: Conv = vec![
            c("check connection\n\n"),
            c(SIGNALS),
            s("check connection reply\nresult: Ok\n\n"),
        ];
        expect("text then binary", &conv, NDB_HIGH);
    }

    // -----------------------------------------------------------------------------------
    // Look-alikes

    fn mysql_handshake() -> Vec<u8> {
        let mut body = vec![0x0a];
        body.extend_from_slice(b"8.0.36\0");
        body.extend_from_slice(&[0x08, 0, 0, 0]);
        body.extend_from_slice(b"abcdefgh\0");
        body.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0, 0xff, 0xdf, 0x15]);
        body.extend_from_slice(&[0; 10]);
        body.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
        let mut pkt = vec![body.len() as u8, 0, 0, 0];
        pkt.extend_from_slice(&body);
        pkt
    }

    #[test]
    fn http_is_unknown() {
        let conv: Conv = vec![
            c("GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
            s("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"),
        ];
        expect(
            "HTTP",
            &conv,
            unknown(Confidence::High, Some("http"), Some(Role::Client)),
        );
        let (r, st) = simple(&conv);
        assert_eq!(st, ProbeState::NoMatch);
        assert_eq!(
            r.evidence[0].as_deref(),
            Some("HTTP request GET /index.html")
        );
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("HTTP response HTTP/1.1 200 OK")
        );
        let post: Conv = vec![c("POST /api HTTP/1.0\r\nContent-Length: 3\r\n\r\na=b")];
        expect(
            "HTTP request only",
            &post,
            unknown(Confidence::High, Some("http"), Some(Role::Client)),
        );
    }

    #[test]
    fn tls_is_unknown() {
        let conv: Conv = vec![c(TLS_CLIENT_HELLO), s(TLS_SERVER_HELLO)];
        expect(
            "TLS",
            &conv,
            unknown(Confidence::High, Some("tls"), Some(Role::Client)),
        );
        let (r, st) = simple(&conv);
        assert_eq!(st, ProbeState::NoMatch);
        assert_eq!(r.evidence[0].as_deref(), Some("TLS ClientHello"));
        // On the ClientHello alone the probe waits for the server's first bytes only (an
        // ndb_mgmd would answer it `Unknown command`); the ServerHello settles it.
        let mut p = NdbProbe::default();
        assert_eq!(p.on_stream(0, TLS_CLIENT_HELLO), ProbeState::NeedMore);
        assert!(!p.wants(0) && p.wants(1));
        assert_eq!(p.on_stream(1, TLS_SERVER_HELLO), ProbeState::NoMatch);
        assert!(!p.wants(0) && !p.wants(1));
    }

    #[test]
    fn ssh_smtp_mysql_are_unknown() {
        let ssh: Conv = vec![
            s("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"),
            c("SSH-2.0-OpenSSH_9.6\r\n"),
        ];
        expect("SSH", &ssh, unknown(Confidence::High, Some("ssh"), None));
        let smtp: Conv = vec![
            s("220 mail.example.com ESMTP Postfix\r\n"),
            c("EHLO client.example.com\r\n"),
            s("250-mail.example.com\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n"),
            c("MAIL FROM:<a@example.com>\r\n"),
            s("250 2.1.0 Ok\r\n"),
        ];
        expect(
            "SMTP",
            &smtp,
            unknown(Confidence::High, Some("smtp"), Some(Role::Client)),
        );
        let greeting: Conv = vec![s(mysql_handshake())];
        expect(
            "MySQL greeting",
            &greeting,
            unknown(Confidence::High, Some("mysql"), Some(Role::Client)),
        );
        let mysql: Conv = vec![
            s(mysql_handshake()),
            c([0x20, 0, 0, 1, 0x85, 0xa6, 0xff, 0x01]),
        ];
        expect_verdict("MySQL", &mysql, Verdict::Unknown);
        let (r, _) = simple(&mysql);
        assert_eq!((r.confidence, r.hint), (Confidence::High, Some("mysql")));
        assert_eq!(r.evidence[1].as_deref(), Some("MySQL handshake 8.0.36"));
        let ftp: Conv = vec![s("220 (vsFTPd 3.0.5)\r\n"), c("USER anonymous\r\n")];
        expect(
            "FTP",
            &ftp,
            unknown(Confidence::High, Some("ftp"), Some(Role::Client)),
        );
        let pop: Conv = vec![s("+OK Dovecot ready.\r\n"), c("CAPA\r\n")];
        expect(
            "POP3",
            &pop,
            unknown(Confidence::High, Some("pop3"), Some(Role::Client)),
        );
        let imap: Conv = vec![
            s("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"),
            c("a1 CAPABILITY\r\n"),
        ];
        expect(
            "IMAP",
            &imap,
            unknown(Confidence::High, Some("imap"), Some(Role::Client)),
        );
    }

    #[test]
    fn memcached_and_redis_are_unknown() {
        let mc: Conv = vec![c("get x\r\n"), s("END\r\n")];
        expect(
            "memcached",
            &mc,
            unknown(Confidence::High, Some("memcached"), Some(Role::Client)),
        );
        let mc_status: Conv = vec![c("get status\r\n"), s("END\r\n")];
        expect(
            "memcached get status",
            &mc_status,
            unknown(Confidence::High, Some("memcached"), Some(Role::Client)),
        );
        let mc_version: Conv = vec![c("version\r\n"), s("VERSION 1.6.21\r\n")];
        expect(
            "memcached version",
            &mc_version,
            unknown(Confidence::High, Some("memcached"), Some(Role::Client)),
        );
        let redis: Conv = vec![c("get x\r\n"), s("$-1\r\n")];
        expect(
            "redis inline",
            &redis,
            unknown(Confidence::High, Some("redis"), Some(Role::Client)),
        );
        let resp: Conv = vec![
            c("*2\r\n$3\r\nGET\r\n$1\r\nx\r\n"),
            s("$5\r\nhello\r\n"),
            c("*1\r\n$4\r\nPING\r\n"),
            s("+PONG\r\n"),
        ];
        expect(
            "redis RESP",
            &resp,
            unknown(Confidence::High, Some("redis"), Some(Role::Client)),
        );
        let err: Conv = vec![c("get status\n\n"), s("-ERR unknown command 'get'\r\n")];
        expect(
            "redis error to NDB-ish",
            &err,
            unknown(Confidence::High, Some("redis"), Some(Role::Client)),
        );
    }

    #[test]
    fn ndb_requests_answered_in_another_protocol() {
        let req = "get nodeid\nversion: 524323\nnodetype: 1\nuser: mysqld\npassword: mysqld\n\
                   public key: a public key\n\n";
        let http: Conv = vec![
            c(req),
            s("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
        ];
        expect(
            "NDB answered by HTTP",
            &http,
            unknown(Confidence::High, Some("http"), Some(Role::Client)),
        );
        let (r, st) = simple(&http);
        assert_eq!(st, ProbeState::NoMatch);
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("not NDB: HTTP response HTTP/1.1 400 Bad Request")
        );
        assert!(r.evidence[0]
            .as_deref()
            .unwrap_or("")
            .starts_with("get nodeid"));
        let redis: Conv = vec![
            c("check connection\n\n"),
            s("-ERR unknown command 'check'\r\n"),
        ];
        expect(
            "NDB answered by Redis",
            &redis,
            unknown(Confidence::High, Some("redis"), Some(Role::Client)),
        );
        let text: Conv = vec![c("check connection\n\n"), s("what?\n")];
        let (r, _) = simple(&text);
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(r.evidence[1].as_deref(), Some("not NDB: text: what?"));
        let bin: Conv = vec![c("get config_v2\nnode: 2\nversion: 0\n\n"), s(SIGNALS)];
        let (r, _) = simple(&bin);
        assert_eq!(
            (r.verdict, r.confidence, r.hint),
            (Verdict::Unknown, Confidence::High, Some("binary"))
        );
        // Binary first ends the probe at once, whichever side it comes from.
        expect_verdict("NDB answered by binary", &bin, Verdict::Unknown);
    }

    #[test]
    fn generic_text_is_unknown() {
        let kv: Conv = vec![
            c("name: value\nother: thing\n\n"),
            s("result: Ok\nvalue: 1\n\n"),
        ];
        let (r, _) = simple(&kv);
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(r.hint, Some("text"));
        let ok_only: Conv = vec![s("result: Ok\n\n")];
        expect(
            "result: Ok alone",
            &ok_only,
            unknown(Confidence::Medium, Some("text"), None),
        );
        let weak_pair: Conv = vec![c("get status\n\n"), s("result: Ok\n\n")];
        let (r, _) = simple(&weak_pair);
        assert_eq!(r.verdict, Verdict::Unknown);
        let stomp: Conv = vec![
            c("CONNECT\naccept-version:1.2\nhost:broker\n\n\0"),
            s("CONNECTED\nversion:1.2\n\n\0"),
        ];
        let (r, _) = simple(&stomp);
        assert_eq!(r.verdict, Verdict::Unknown);
        let mime: Conv = vec![c(
            "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        )];
        let (r, _) = simple(&mime);
        assert_eq!(r.verdict, Verdict::Unknown);
        // Weak commands without the blank line or without NDB arguments.
        for weak in [
            "get status\n",
            "get version\n",
            "get config\n",
            "stop\n\n",
            "start\n\n",
            "bye\n\n",
            "start all\n\n",
            "get config\nkey: x\n\n",
        ] {
            let conv: Conv = vec![c(weak)];
            let (r, _) = simple(&conv);
            assert_eq!(r.verdict, Verdict::Unknown, "{weak:?}");
        }
        // A reply header shape with CRLF is not an ndb_mgmd.
        let crlf: Conv = vec![s("get nodeid reply\r\nnodeid: 2\r\nresult: Ok\r\n\r\n")];
        let (r, _) = simple(&crlf);
        assert_eq!(r.verdict, Verdict::Unknown);
    }

    #[test]
    fn binary_and_empty_are_unknown() {
        let mut rng = 7u64;
        let noise: Vec<u8> = (0..300).map(|_| next_rand(&mut rng) as u8).collect();
        let conv: Conv = vec![c(&noise[..150]), s(&noise[150..])];
        let (r, st) = simple(&conv);
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(st, ProbeState::NoMatch);
        assert_eq!(r.hint, Some("binary"));
        let empty = NdbProbe::default();
        let r = empty.result();
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(r.confidence, Confidence::Low);
        assert_eq!(r.evidence, [None, None]);
        assert_eq!(r.hint, None);
        let mut p = NdbProbe::default();
        p.on_stream(0, b"");
        p.on_stream(1, b"");
        assert_eq!(p.result().confidence, Confidence::Low);
        let mut p = NdbProbe::default();
        p.on_stream(0, b"hi\n");
        let r = p.result();
        assert_eq!(
            (r.verdict, r.confidence),
            (Verdict::Unknown, Confidence::Low)
        );
    }

    #[test]
    fn datagrams() {
        let mut q = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        let mut p = NdbProbe::default();
        // The query alone waits for the answer; the answer settles it.
        assert_eq!(p.on_datagram(0, &q), ProbeState::NeedMore);
        assert_eq!(p.on_datagram(1, &a), ProbeState::NoMatch);
        let r = p.result();
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(r.hint, Some("dns"));
        assert_eq!(r.roles, [Some(Role::Client), Some(Role::Server)]);
        assert_eq!(r.evidence[0].as_deref(), Some("DNS query"));
        let mut p = NdbProbe::default();
        p.on_datagram(1, &a);
        assert_eq!(p.result().roles, [Some(Role::Client), Some(Role::Server)]);
        // Syslog-like text.
        let mut p = NdbProbe::default();
        p.on_datagram(0, b"<34>Oct 11 22:14:15 host su: 'su root' failed");
        let r = p.result();
        assert_eq!((r.verdict, r.hint), (Verdict::Unknown, Some("text")));
        // The text protocol in datagrams is judged the same way.
        let mut p = NdbProbe::default();
        p.on_datagram(0, b"check connection\n\n");
        assert_eq!(
            p.on_datagram(1, b"check connection reply\nresult: Ok\n\n"),
            ProbeState::Match
        );
        assert_eq!(p.result().verdict, Verdict::NdbMgm);
        // Budget over several datagrams.
        let mut p = NdbProbe::new(10);
        p.on_datagram(0, b"abcdef");
        p.on_datagram(0, b"ghijkl");
        assert_eq!(p.examined(0), 10);
        assert!(!p.wants(0));
    }

    // -----------------------------------------------------------------------------------
    // Driver behaviour

    #[test]
    fn scanning_is_incremental() {
        let server: Vec<u8> = side(&e1(), false).into_iter().flat_map(|m| m.1).collect();
        let mut p = NdbProbe::new(1 << 16);
        for n in 1..=server.len() {
            p.on_stream(1, &server[..n]);
        }
        // Every byte scanned once (plus the one LF that ends each step's search).
        assert!(
            p.dirs[1].scanner.visited <= server.len() + 1,
            "{} > {}",
            p.dirs[1].scanner.visited,
            server.len()
        );
        assert_eq!(p.result().verdict, Verdict::NdbMgm);
        // A long unterminated line fed byte by byte is not re-scanned either.
        let mut p = NdbProbe::new(1 << 16);
        let line = vec![b'a'; 400];
        for n in 1..=line.len() {
            p.on_stream(0, &line[..n]);
        }
        assert!(p.dirs[0].scanner.visited <= line.len());
    }

    #[test]
    fn budget_is_respected() {
        let conv = e1();
        let client: Vec<u8> = side(&conv, true).into_iter().flat_map(|m| m.1).collect();
        // A budget that cuts the first request: nothing NDB can be seen.
        let mut p = NdbProbe::new(10);
        p.on_stream(0, &client);
        assert_eq!(p.examined(0), 10);
        assert!(!p.wants(0));
        assert_eq!(p.result().verdict, Verdict::Unknown);
        // Both directions exhausted: NoMatch.
        let mut p = NdbProbe::new(5);
        p.on_stream(0, b"hello world\n");
        assert_eq!(p.on_stream(1, b"more text here\n"), ProbeState::NoMatch);
        // Zero budget examines nothing.
        let mut p = NdbProbe::new(0);
        p.on_stream(0, b"check connection\n\n");
        assert_eq!(p.examined(0), 0);
        assert_eq!(p.result().verdict, Verdict::Unknown);
    }

    #[test]
    fn wants_and_states() {
        let mut p = NdbProbe::default();
        assert!(p.wants(0) && p.wants(1) && !p.wants(2));
        assert_eq!(
            p.on_stream(2, b"check connection\n\n"),
            ProbeState::NeedMore
        );
        assert_eq!(
            p.on_stream(0, b"check connection\n\n"),
            ProbeState::NeedMore
        );
        assert_eq!(p.result().verdict, Verdict::NdbMgm);
        assert_eq!(p.result().confidence, Confidence::Medium);
        assert_eq!(
            p.on_stream(1, b"check connection reply\nresult: Ok\n\n"),
            ProbeState::Match
        );
        assert!(!p.wants(0) && !p.wants(1));
        // After the decision more data changes nothing.
        assert_eq!(
            p.on_stream(
                1,
                b"check connection reply\nresult: Ok\n\nHTTP/1.1 200 OK\r\n"
            ),
            ProbeState::Match
        );
        // A transporter hand-off stops wanting that direction.
        let mut p = NdbProbe::default();
        p.on_stream(0, b"transporter connect\n\n2 1 1 0\n\x01\x00");
        assert!(!p.wants(0));
        assert!(p.wants(1));
        assert_eq!(p.state(), ProbeState::NeedMore);
    }

    #[test]
    fn serde_names() {
        let r = simple(&e1()).0;
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert!(json.contains("\"verdict\":\"ndb-mgm\""), "{json}");
        assert!(json.contains("\"confidence\":\"high\""), "{json}");
        assert!(json.contains("\"roles\":[\"client\",\"server\"]"), "{json}");
        assert_eq!(Verdict::Unknown.as_str(), "unknown");
        assert_eq!(Verdict::NdbMgm.as_str(), "ndb-mgm");
        assert_eq!(
            serde_json::to_string(&Confidence::Low).unwrap_or_default(),
            "\"low\""
        );
        assert_eq!(
            serde_json::to_string(&Verdict::Unknown).unwrap_or_default(),
            "\"unknown\""
        );
    }

    #[test]
    fn probe_stays_small() {
        let size = std::mem::size_of::<NdbProbe>();
        // Two directions of offsets, flags and one evidence string each (+ a test counter).
        assert!(size <= 232, "NdbProbe is {size} bytes");
    }

    #[test]
    fn escaped_evidence_for_hostile_bytes() {
        let conv: Conv = vec![
            c("check connection\n\n"),
            s("get nodeid reply\nnodeid: \x1b[2J\x07\\\nresult: Ok\n\n"),
        ];
        let (r, _) = simple(&conv);
        // ESC is not a text byte: no ndb_mgmd writes it, and it reaches the evidence escaped.
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(
            r.evidence[1].as_deref(),
            Some("not NDB: binary: nodeid: \\x1b[2J\\x07\\\\\\nr")
        );
        let conv: Conv = vec![c("\x1b]0;owned\x07\x1b[2J\n")];
        let (r, _) = simple(&conv);
        assert_eq!(
            r.evidence[0].as_deref(),
            Some("binary: \\x1b]0;owned\\x07\\x1b[2J\\n")
        );
        let conv: Conv = vec![c("hello \\ there\n")];
        let (r, _) = simple(&conv);
        assert_eq!(r.evidence[0].as_deref(), Some("text: hello \\\\ there"));
    }

    // -----------------------------------------------------------------------------------
    // Properties

    /// Pieces that look like the protocol, for fuzzing the parser's states.
    const VOCAB: &[&[u8]] = &[
        b"get nodeid\n",
        b"check connection\n",
        b"get status\n",
        b"listen event\n",
        b"transporter connect\n",
        b"start tls\n",
        b"set ports\n",
        b"get config reply\n",
        b"version\n",
        b"node status\n",
        b"result: Ok\n",
        b"result: Unknown command, 'x'\n",
        b"nodes: 3\n",
        b"id: 5\n",
        b"major: 8\n",
        b"Content-Length: 20\n",
        b"Content-Type: ndbconfig/octet-stream\n",
        b"<PING>\n",
        b"log event reply\n",
        b"type=5\n",
        b"Authorization failed\n",
        b"Error: x\n",
        b"ndbd\n",
        b"ndbd passwd\n",
        b"ok\n",
        b"1 1\n",
        b"2 1 1 0\n",
        b"node:\"2\"\n",
        b"version: 1\n",
        b"\n",
        b"\r\n",
        b"\n\n",
        b"\x16\x03\x01\x00",
        b"\x00",
        b"HTTP/1.1 200 OK\r\n",
        b"GET / HTTP/1.1\r\n",
        b"node.2.type: NDB\n",
        b"end session reply\n",
        b"listen event reply\n",
        b"get cluster loglevel\n",
        b"startup: 1\n",
    ];

    fn ndbish() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(VOCAB).prop_map(|v| v.to_vec()),
                1 => prop::collection::vec(any::<u8>(), 0..6),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    fn bytes_or_ndbish() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![prop::collection::vec(any::<u8>(), 0..300), ndbish()]
    }

    /// Feed two directions cut at `cuts` (interleaved by `pick`), like the flow table.
    fn feed_cuts(d: &[Vec<u8>; 2], cuts: &[(bool, u16)], budget: usize) -> NdbProbe {
        let mut p = NdbProbe::new(budget);
        let mut grown = [0usize; 2];
        for &(dir1, step) in cuts {
            let idx = usize::from(dir1);
            grown[idx] = (grown[idx] + usize::from(step)).min(d[idx].len());
            if p.state() == ProbeState::NeedMore && p.wants(idx) {
                p.on_stream(idx, &d[idx][..grown[idx]]);
            }
        }
        for (idx, bytes) in d.iter().enumerate() {
            if p.state() == ProbeState::NeedMore && p.wants(idx) {
                p.on_stream(idx, bytes);
            }
        }
        p
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_misbehaves(
            a in bytes_or_ndbish(),
            b in bytes_or_ndbish(),
            cuts in prop::collection::vec((any::<bool>(), 0u16..40), 0..60),
            budget in prop_oneof![0usize..64, 64usize..400, Just(DEFAULT_BUDGET)],
        ) {
            let d = [a, b];
            let p = feed_cuts(&d, &cuts, budget);
            let r = p.result();
            for e in r.evidence.iter().flatten() {
                prop_assert!(is_printable_ascii(e), "{:?}", e);
                prop_assert!(e.len() <= 110);
            }
            prop_assert!(p.examined(0) <= budget && p.examined(1) <= budget);
            match p.state() {
                ProbeState::Match => prop_assert_eq!(r.verdict, Verdict::NdbMgm),
                ProbeState::NoMatch => prop_assert_eq!(r.verdict, Verdict::Unknown),
                ProbeState::NeedMore => {}
            }
            if let Some(h) = r.hint {
                prop_assert!(is_printable_ascii(h));
            }
        }

        #[test]
        fn bytes_beyond_the_budget_change_nothing(
            a in bytes_or_ndbish(),
            b in bytes_or_ndbish(),
            tail in prop::collection::vec(any::<u8>(), 1..50),
            cuts in prop::collection::vec((any::<bool>(), 1u16..40), 0..40),
            budget in 0usize..200,
        ) {
            // The same prefixes up to the budget, different bytes after it.
            let cut = |v: &Vec<u8>| v[..v.len().min(budget)].to_vec();
            let (a1, b1) = (cut(&a), cut(&b));
            let mut a2 = a1.clone();
            let mut b2 = b1.clone();
            if a1.len() == budget { a2.extend_from_slice(&tail); }
            if b1.len() == budget { b2.extend_from_slice(&tail); }
            let mut a3 = a1.clone();
            let mut b3 = b1.clone();
            if a1.len() == budget { a3.extend(tail.iter().map(|x| !x)); }
            if b1.len() == budget { b3.extend(tail.iter().map(|x| !x)); }
            let p2 = feed_cuts(&[a2, b2], &cuts, budget);
            let p3 = feed_cuts(&[a3, b3], &cuts, budget);
            let (r2, r3) = (p2.result(), p3.result());
            prop_assert_eq!(r2.verdict, r3.verdict);
            prop_assert_eq!(r2.confidence, r3.confidence);
            prop_assert_eq!(r2.evidence, r3.evidence);
            prop_assert_eq!(r2.hint, r3.hint);
        }

        #[test]
        fn datagrams_never_misbehave(
            grams in prop::collection::vec((any::<bool>(), bytes_or_ndbish()), 0..12),
            budget in 0usize..600,
        ) {
            let mut p = NdbProbe::new(budget);
            for (dir1, g) in &grams {
                p.on_datagram(usize::from(*dir1), g);
            }
            let r = p.result();
            for e in r.evidence.iter().flatten() {
                prop_assert!(is_printable_ascii(e));
            }
            prop_assert!(p.examined(0) <= budget && p.examined(1) <= budget);
        }
    }
}
