//! The audit of NDB management sessions: what each session did, followed for its whole life.
//!
//! While a flow is inspected, a [`Trail`] rides along with the classifier on the same scanner
//! events (created by the first NDB-shaped event, [`trail::Lazy`]). Once the flow is judged
//! `ndb-mgm`, a [`Session`] takes the trail and both directions' scanners over and keeps
//! reading past the inspected prefix ([`follow`]): bounded state per direction (the current
//! line, a few segments ahead of a hole), bodies skipped by their length, nothing kept after
//! `transporter connect` or `start tls`. At the flow's end [`Session::report`] gives the
//! record's `"ndb"` object ([`crate::report::ndb::NdbSession`]).
//!
//! Memory: a session holds its trail (bounded, see [`trail`]) and per direction the carry
//! and the segments ahead (see [`follow`]); all of it is reserved from the run's
//! [`MemCap`] and given back when the session is dropped.
//!
//! Must never: keep packet bytes beyond the bounds above, print a secret, or panic on any
//! input.

pub mod events;
pub mod follow;
pub mod trail;

use std::sync::Arc;

use crate::classify::ndb_mgm::Scanner;
use crate::memcap::MemCap;
use crate::report::ndb::{Command, NdbSession};

pub use follow::{Follow, Gaps};
pub use trail::{Feed, Lazy, Trail};

impl Gaps for Feed<'_> {
    fn gap(&mut self) {
        self.trail.gap(self.dir);
    }

    fn retime(&mut self, now: i64) {
        self.now = now;
    }
}

/// What a direction hands over when its flow is judged: where its next byte is, and the bytes
/// the scanner has not finished with.
#[derive(Clone, Copy, Debug)]
pub struct Handover<'a> {
    /// Sequence number of the next byte (TCP), if known.
    pub next: Option<u32>,
    /// Bytes from the scanner's current line start to the end of what was reassembled.
    pub carry: &'a [u8],
    /// Segments reassembly held beyond a hole: (sequence number, bytes).
    pub ahead: &'a [(u32, Vec<u8>)],
}

/// One NDB session followed after its verdict.
#[derive(Debug)]
pub struct Session {
    trail: Box<Trail>,
    scanners: [Scanner; 2],
    follow: [Follow; 2],
    mem: Arc<MemCap>,
}

impl Session {
    /// Takes over a flow judged `ndb-mgm`: its trail (a new one when none was started), its
    /// scanners, and each direction's [`Handover`]; `now` is the capture time of the packet
    /// that decided it; `partial`: the capture started inside the session.
    pub fn start(
        trail: Option<Box<Trail>>,
        scanners: [Scanner; 2],
        handover: [Handover<'_>; 2],
        partial: bool,
        now: i64,
        mem: &Arc<MemCap>,
    ) -> Session {
        let trail = trail
            .or_else(|| Trail::reserve(mem))
            .unwrap_or_else(Trail::refused);
        let mut s = Session {
            trail,
            scanners,
            follow: [Follow::default(), Follow::default()],
            mem: Arc::clone(mem),
        };
        s.trail.partial |= partial;
        if !s.trail.upgraded() {
            // Followed as text from now on, whatever bytes its lines hold.
            for sc in &mut s.scanners {
                sc.lenient(true);
            }
        }
        for (i, h) in handover.iter().enumerate() {
            let mem = &*s.mem;
            s.follow[i] = Follow::new(h.next, h.carry, mem);
            let mut feed = Feed {
                trail: &mut s.trail,
                dir: i,
                now,
                mem,
            };
            s.follow[i].resume(&mut s.scanners[i], &mut feed, mem);
            for (seq, bytes) in h.ahead {
                s.follow[i].segment(*seq, now, bytes, &mut s.scanners[i], &mut feed, mem);
            }
        }
        s
    }

    /// Live runs: control commands are handed out as they complete.
    pub fn announce(&mut self) {
        self.trail.announce();
    }

    /// One TCP segment of direction `dir` at capture time `now`; `ack` is its acknowledgement
    /// number when it has the ACK flag (it tells that the other direction's bytes before it
    /// were received).
    pub fn segment(&mut self, dir: usize, seq: u32, ack: Option<u32>, payload: &[u8], now: i64) {
        let d = dir & 1;
        let mem = &*self.mem;
        if let Some(ack) = ack {
            let o = 1 - d;
            let mut feed = Feed {
                trail: &mut self.trail,
                dir: o,
                now,
                mem,
            };
            self.follow[o].acked(ack, &mut self.scanners[o], &mut feed, mem);
        }
        if payload.is_empty() || self.scanners[d].is_opaque() {
            return;
        }
        let mut feed = Feed {
            trail: &mut self.trail,
            dir: d,
            now,
            mem,
        };
        self.follow[d].segment(seq, now, payload, &mut self.scanners[d], &mut feed, mem);
        self.after_upgrade();
    }

    /// Once the text part ended, a non-text byte ends each direction again.
    fn after_upgrade(&mut self) {
        if self.trail.upgraded() {
            for sc in &mut self.scanners {
                sc.lenient(false);
            }
        }
    }

    /// One UDP datagram of direction `dir` at capture time `now`.
    pub fn datagram(&mut self, dir: usize, payload: &[u8], now: i64) {
        let d = dir & 1;
        let mem = &*self.mem;
        let mut feed = Feed {
            trail: &mut self.trail,
            dir: d,
            now,
            mem,
        };
        self.scanners[d].feed_datagram(payload, &mut feed);
        self.after_upgrade();
    }

    /// Commands to announce now (live runs).
    pub fn take_notes(&mut self) -> Vec<Command> {
        self.trail.take_notes()
    }

    /// True when commands wait to be announced.
    pub fn has_notes(&self) -> bool {
        self.trail.has_notes()
    }

    /// The memory cap refused the session something (it was judged on less).
    pub fn refused(&self) -> bool {
        self.trail.refused
    }

    /// Bytes reserved from the memcap: the trail's and both directions'.
    pub fn reserved(&self) -> usize {
        self.trail.reserved() + self.follow.iter().map(Follow::reserved).sum::<usize>()
    }

    /// Heap bytes held: the trail and both directions' carries and segments ahead.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Trail>()
            + self.trail.heap_bytes()
            + self.follow.iter().map(Follow::heap_bytes).sum::<usize>()
    }

    /// The session as reported at its flow's end (segments still waiting behind a hole are
    /// read first, after a gap).
    pub fn report(&mut self, now: i64) -> NdbSession {
        let mem = &*self.mem;
        for d in 0..2 {
            let mut feed = Feed {
                trail: &mut self.trail,
                dir: d,
                now,
                mem,
            };
            self.follow[d].finish(&mut self.scanners[d], &mut feed, mem);
        }
        self.trail.finish(mem)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.trail.release_all(&self.mem);
        for f in &mut self.follow {
            f.release(&self.mem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ndb::{Peer, Risk};

    /// A session fed as a TCP connection: the client is direction 0, the server 1.
    struct Conn {
        s: Session,
        seq: [u32; 2],
        now: i64,
        mem: Arc<MemCap>,
    }

    impl Conn {
        fn new() -> Conn {
            Conn::with_cap(MemCap::default())
        }

        fn with_cap(cap: MemCap) -> Conn {
            let mem = Arc::new(cap);
            // Both directions start where their SYNs put them.
            let handover = [1000, 5000].map(|seq| Handover {
                next: Some(seq),
                carry: &[],
                ahead: &[],
            });
            let s = Session::start(None, Default::default(), handover, false, 0, &mem);
            Conn {
                s,
                seq: [1000, 5000],
                now: 1_700_000_000_000_000,
                mem,
            }
        }

        /// `bytes` from side `dir`, in one segment, acknowledging everything the other side
        /// sent.
        fn send(&mut self, dir: usize, bytes: &[u8]) {
            self.now += 1000;
            let ack = self.seq[1 - dir];
            self.s
                .segment(dir, self.seq[dir], Some(ack), bytes, self.now);
            self.seq[dir] = self.seq[dir].wrapping_add(bytes.len() as u32);
        }

        /// `bytes` from side `dir` lost by the capture.
        fn lose(&mut self, dir: usize, bytes: &[u8]) {
            self.seq[dir] = self.seq[dir].wrapping_add(bytes.len() as u32);
        }

        fn client(&mut self, b: &str) {
            self.send(0, b.as_bytes());
        }

        fn server(&mut self, b: &str) {
            self.send(1, b.as_bytes());
        }

        fn report(mut self) -> NdbSession {
            let now = self.now;
            self.s.report(now)
        }
    }

    fn names(s: &NdbSession) -> Vec<(Option<&str>, Option<&str>, Option<&str>)> {
        s.commands
            .iter()
            .map(|c| {
                (
                    c.command.as_deref(),
                    c.reply.as_deref(),
                    c.result.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn pipelined_requests_pair_in_order_and_crlf_is_read() {
        let mut c = Conn::new();
        c.client("get version\r\n\r\nget status\n\ncheck connection\n\n");
        c.server(
            "version\nid: 524323\nmajor: 8\nminor: 0\nbuild: 35\nstring: mysql-8.0.35 ndb-8.0.35\n\n\
             node status\nnodes: 1\nnode.2.type: NDB\nnode.2.status: STARTED\nnode.2.address: 10.0.0.2\n\n\
             check connection reply\nresult: Ok\n\n",
        );
        let s = c.report();
        assert_eq!(
            names(&s),
            vec![
                (Some("get version"), Some("version"), None),
                (Some("get status"), Some("node status"), None),
                (
                    Some("check connection"),
                    Some("check connection reply"),
                    Some("Ok")
                ),
            ]
        );
        assert_eq!(s.server_version.as_deref(), Some("mysql-8.0.35 ndb-8.0.35"));
        let status = s.status.expect("a node status snapshot");
        assert_eq!(status.nodes.len(), 1);
        assert_eq!(status.nodes[0].address, "10.0.0.2".parse().ok());
        assert_eq!(s.commands_total, 3);
    }

    #[test]
    fn a_lost_reply_costs_only_its_command() {
        let mut c = Conn::new();
        c.client("check connection\n\n");
        c.lose(1, b"check connection reply\nresult: Ok\n\n");
        c.client("get status\n\n");
        c.server("node status\nnodes: 0\n\n");
        let s = c.report();
        assert_eq!(
            names(&s),
            vec![
                (Some("check connection"), None, None),
                (Some("get status"), Some("node status"), None),
            ]
        );
        // The server's lost bytes were acknowledged by nobody before its next segment came:
        // that segment lay ahead of a hole, taken as lost at the end.
        assert_eq!(s.gaps, 1);
    }

    #[test]
    fn a_gap_acknowledged_by_the_other_side_resynchronises_at_once() {
        let mut c = Conn::new();
        c.client("get version\n\n");
        c.lose(1, b"version\nid: 1\nmajor: 0\n\n");
        c.server("ajor: 8\n\n");
        c.client("check connection\n\n");
        c.server("check connection reply\nresult: Ok\n\n");
        // The client acknowledges all the server sent: the hole is lost for good.
        c.client("get status\n\n");
        c.server("node status\nnodes: 0\n\n");
        let s = c.report();
        assert_eq!(s.gaps, 1);
        assert_eq!(
            names(&s),
            vec![
                (Some("get version"), None, None),
                (
                    Some("check connection"),
                    Some("check connection reply"),
                    Some("Ok")
                ),
                (Some("get status"), Some("node status"), None),
            ]
        );
        // In capture order: the `check connection` reply was read before `get status` was
        // sent, not at the end.
        assert!(s.commands[1].at < s.commands[2].at);
    }

    #[test]
    fn bytes_lost_inside_a_config_blob_keep_the_scanner_in_step() {
        let mut c = Conn::new();
        c.client("get config\nversion: 0\nnodetype: -1\n\n");
        let blob = "A".repeat(3000);
        c.server(&format!(
            "get config reply\nresult: Ok\nContent-Length: {}\nContent-Type: ndbconfig/octet-stream\nContent-Transfer-Encoding: base64\n\n{}",
            blob.len() + 1,
            &blob[..1000]
        ));
        c.lose(1, &blob.as_bytes()[1000..2000]);
        c.server(&format!("{}\n\n", &blob[2000..]));
        c.client("check connection\n\n");
        c.server("check connection reply\nresult: Ok\n\n");
        let s = c.report();
        assert_eq!(s.gaps, 1);
        assert_eq!(
            names(&s),
            vec![
                (Some("get config"), Some("get config reply"), Some("Ok")),
                (
                    Some("check connection"),
                    Some("check connection reply"),
                    Some("Ok")
                ),
            ]
        );
    }

    #[test]
    fn secrets_are_redacted_and_control_commands_flagged() {
        let mut c = Conn::new();
        c.client("get nodeid\nversion: 524323\nnodetype: 1\nuser: mysqld\npassword: hunter2\nPassword:\"Hunter3\"\n\n");
        c.server("get nodeid reply\nresult: No free node id found for mysqld(API).\nerror_code: 1101\n\n");
        c.client("start backup\nencryption_password:\"s3cret\"\n+encryption_password:\"-more\"\npassword_length: 12\n\n");
        c.server("start backup reply\nresult: Ok\nid: 7\n\n");
        let s = c.report();
        let json = serde_json::to_string(&s).expect("serialises");
        for secret in ["hunter2", "Hunter3", "s3cret", "-more", "12"] {
            assert!(!json.contains(secret), "{secret} printed: {json}");
        }
        assert!(json.contains("\"password\":\"<redacted>\""), "{json}");
        assert_eq!(s.node_type, Some(crate::report::ndb::NodeType::Api));
        assert_eq!(s.peer, Peer::Api);
        assert!(s.risks.contains(Risk::NodeIdRefused));
        assert!(s.risks.contains(Risk::ClusterControl));
        assert!(s.commands[1].control && !s.commands[0].control);
        assert_eq!(s.commands[1].fields.get("id"), Some("7"));
        assert_eq!(s.commands[0].fields.get("error_code"), Some("1101"));
    }

    #[test]
    fn listeners_count_pings_and_events_far_past_the_prefix() {
        let mut c = Conn::new();
        c.client("listen event\nparsable: 1\nfilter: 261=15 250=1 252=5 \n\n");
        c.server("listen event\nresult: 0\n\n");
        for _ in 0..5000 {
            c.server("<PING>\n");
        }
        c.server(
            "log event reply\ntype=54\ntime=0\nsource_nodeid=2\nstarting_node=1\nbackup_id=1\n\n",
        );
        c.server(
            "log event reply\ntype=54\ntime=0\nsource_nodeid=2\nstarting_node=1\nbackup_id=2\n\n",
        );
        c.server("log event reply\ntype=9999\ntime=0\n\n");
        c.server("Node 2: Backup 3 started from node 1\n");
        let s = c.report();
        assert_eq!(s.peer, Peer::EventListener);
        assert_eq!(s.pings, 5000);
        let count = |t: Option<u32>| {
            s.events
                .iter()
                .find(|e| e.event_type == t)
                .map(|e| (e.name, e.count))
        };
        assert_eq!(count(Some(54)), Some(("BackupStarted", 3)));
        assert_eq!(count(Some(9999)), Some(("unknown", 1)));
        assert_eq!(
            names(&s),
            vec![(Some("listen event"), Some("listen event"), Some("0"))]
        );
    }

    #[test]
    fn peer_kinds_from_what_clients_send() {
        let kind = |client: &[&str]| {
            let mut c = Conn::new();
            for m in client {
                c.client(m);
            }
            c.report().peer
        };
        assert_eq!(
            kind(&["check connection\n\n", "get status\n\n"]),
            Peer::NdbMgm
        );
        assert_eq!(
            kind(&[
                "check connection\n\n",
                "check connection\n\n",
                "check connection\n\n"
            ]),
            Peer::Mgmd
        );
        assert_eq!(
            kind(&[
                "get version\n\n",
                "get config\nversion: 0\nnode: 2\nnodetype: 0\n\n"
            ]),
            Peer::DataNode
        );
        assert_eq!(
            kind(&["get version\n\n", "get config\nversion: 0\n\n"]),
            Peer::ConfigReader
        );
        assert_eq!(
            kind(&["get status\n\n", "get status\n\n"]),
            Peer::StatusPoller
        );
        assert_eq!(kind(&["transporter connect\n\n2 1 1 0\n"]), Peer::Api);
        assert_eq!(kind(&["hello\n\n"]), Peer::Unknown);
    }

    #[test]
    fn only_the_first_and_last_commands_are_kept() {
        let mut c = Conn::new();
        for i in 0..100 {
            c.client(&format!("dump state\nnode: 2\nargs: {i}\n\n"));
            c.server("dump state reply\nresult: Ok\n\n");
        }
        let s = c.report();
        assert_eq!((s.commands_total, s.commands_dropped), (100, 36));
        let args: Vec<&str> = s
            .commands
            .iter()
            .filter_map(|c| c.args.get("args"))
            .collect();
        let want: Vec<String> = (0..32).chain(68..100).map(|i| i.to_string()).collect();
        assert_eq!(args, want);
    }

    #[test]
    fn every_command_family_pairs_with_its_reply_and_control_is_flagged() {
        // (request, reply header as the server's handlers write it, changes the cluster)
        let table: &[(&str, &str, bool)] = &[
            ("get config", "get config reply", false),
            ("get config_v2", "get config reply", false),
            ("get nodeid", "get nodeid reply", false),
            ("get version", "version", false),
            ("set clientversion", "set clientversion reply", false),
            ("get status", "node status", false),
            ("get info clusterlog", "clusterlog", false),
            ("restart node", "restart reply", true),
            ("restart node v2", "restart reply", true),
            ("restart all", "restart reply", true),
            ("insert error", "insert error reply", true),
            ("set trace", "set trace reply", true),
            ("log signals", "log signals reply", true),
            ("start signallog", "start signallog reply", true),
            ("stop signallog", "stop signallog reply", true),
            ("dump state", "dump state reply", true),
            ("start backup", "start backup reply", true),
            ("abort backup", "abort backup reply", true),
            ("stop", "stop reply", true),
            ("stop v2", "stop reply", true),
            ("stop all", "stop reply", true),
            ("enter single user", "enter single user reply", true),
            ("exit single user", "exit single user reply", true),
            ("start", "start reply", true),
            ("start all", "start reply", true),
            ("set loglevel", "set loglevel reply", true),
            ("set cluster loglevel", "set cluster loglevel reply", true),
            ("set logfilter", "set logfilter reply", true),
            ("set parameter", "set parameter reply", true),
            (
                "set connection parameter",
                "set connection parameter reply",
                true,
            ),
            (
                "get connection parameter",
                "get connection parameter reply",
                false,
            ),
            ("purge stale sessions", "purge stale sessions reply", true),
            ("check connection", "check connection reply", false),
            ("get mgmd nodeid", "get mgmd nodeid reply", false),
            ("report event", "report event reply", false),
            ("list certs", "list certs reply", false),
            ("get tls stats", "get tls stats reply", false),
            ("get session id", "get session id reply", false),
            ("get session", "get session reply", false),
            ("create nodegroup", "create nodegroup reply", true),
            ("drop nodegroup", "drop nodegroup reply", true),
            ("show config", "show config reply", false),
            ("reload config", "reload config reply", true),
            ("show variables", "show variables reply", false),
            ("dump events", "dump events reply", false),
            ("set ports", "set ports reply", false),
            ("set_hostname", "set_hostname reply", true),
        ];
        // `set ports` is followed by its bulk: `nodeid=port` lines and an empty line.
        let bulk = |req: &str| {
            if req == "set ports" {
                "3=-40717\n\n"
            } else {
                ""
            }
        };
        let mut c = Conn::new();
        for (req, rep, _) in table {
            c.client(&format!("{req}\nnode: 2\n\n{}", bulk(req)));
            c.server(&format!("{rep}\nresult: Ok\n\n"));
        }
        // Then pipelines of as many as wait for replies at once, each answered in order.
        for chunk in table.chunks(trail::MAX_PENDING) {
            let all: String = chunk
                .iter()
                .map(|(r, _, _)| format!("{r}\n\n{}", bulk(r)))
                .collect();
            c.client(&all);
            let replies: String = chunk
                .iter()
                .map(|(_, r, _)| format!("{r}\nresult: Ok\n\n"))
                .collect();
            c.server(&replies);
        }
        let s = c.report();
        assert_eq!(s.commands_total as usize, 2 * table.len());
        let kept: Vec<_> = s.commands.iter().take(32).collect();
        for (cmd, (req, rep, control)) in kept.iter().zip(table) {
            assert_eq!(cmd.command.as_deref(), Some(*req));
            assert_eq!(cmd.reply.as_deref(), Some(*rep), "{req}");
            assert_eq!(cmd.result.as_deref(), Some("Ok"), "{req}");
            assert_eq!(cmd.control, *control, "{req}");
        }
        let last: Vec<_> = s.commands.iter().skip(32).collect();
        for (cmd, (req, rep, _)) in last.iter().zip(&table[table.len() - 32..]) {
            assert_eq!(
                (cmd.command.as_deref(), cmd.reply.as_deref()),
                (Some(*req), Some(*rep))
            );
        }
        assert!(s.risks.contains(Risk::ClusterControl));
    }

    /// The documented bound of one session's memory (README, "Session audit"): what a
    /// session reserves from the memcap, whatever it is sent.
    const SESSION_BOUND: usize = 400 * 1024;

    #[test]
    fn a_million_commands_stay_within_the_bound_and_give_back_every_byte() {
        let mut c = Conn::new();
        let mut peak = 0;
        for i in 0..1_000_000u32 {
            c.client(&format!(
                "stop v2\nnode: {}\nabort: 0\nforce: 0\n\n",
                i % 48 + 1
            ));
            c.server("stop reply\nresult: Ok\nstopped: 1\ndisconnect: 0\n\n");
            if i % 1000 == 0 {
                peak = peak.max(c.s.reserved());
                assert!(c.s.heap_bytes() <= SESSION_BOUND, "{}", c.s.heap_bytes());
            }
        }
        eprintln!("a million commands: at most {peak} bytes reserved");
        assert!(peak <= 64 * 1024, "{peak}");
        let mem = Arc::clone(&c.mem);
        assert_eq!(mem.used(), c.s.reserved());
        let s = c.report();
        assert_eq!(
            (s.commands_total, s.commands_dropped),
            (1_000_000, 1_000_000 - 64)
        );
        assert_eq!(mem.used(), 0, "the session gave back what it reserved");
    }

    #[test]
    fn hostile_sessions_stay_within_the_bound() {
        // Every kept thing as large as the bounds allow.
        let mut c = Conn::new();
        let long = "\u{1}".repeat(400);
        for i in 0..200 {
            let mut req = String::from("set trace\n");
            for a in 0..20 {
                req.push_str(&format!("argument_name_{a}_padding_padding: {long}\n"));
            }
            req.push('\n');
            c.client(&req);
            // A few requests wait unanswered at any time.
            if i % 4 == 0 {
                let mut rep = format!("set trace reply\nresult: {long}\n");
                for k in [
                    "nodeid",
                    "id",
                    "stopped",
                    "restarted",
                    "started",
                    "disconnect",
                    "error_code",
                    "ng",
                    "message",
                ] {
                    rep.push_str(&format!("{k}: {long}\n"));
                }
                rep.push('\n');
                c.server(&rep);
            }
        }
        let mut status = String::from("node status\nnodes: 255\n");
        for n in 1..=255 {
            status.push_str(&format!(
                "node.{n}.type: NDB\nnode.{n}.status: {long}\nnode.{n}.address: 10.0.0.{}\n",
                n % 250
            ));
        }
        status.push('\n');
        c.client("get status\n\n");
        c.server(&status);
        for t in 0..200 {
            c.server(&format!("log event reply\ntype={t}\n\n"));
        }
        let reserved = c.s.reserved();
        let heap = c.s.heap_bytes();
        eprintln!("hostile session: {reserved} bytes reserved, {heap} held");
        assert!(reserved <= SESSION_BOUND, "{reserved}");
        assert!(heap <= SESSION_BOUND, "{heap}");
        let s = c.report();
        assert!(s.events.len() <= trail::MAX_EVENT_TYPES);
        assert!(s.commands.len() <= trail::KEEP_FIRST + trail::KEEP_LAST);
        for cmd in &s.commands {
            assert!(cmd.args.0.len() <= trail::MAX_ARGS && cmd.fields.0.len() <= trail::MAX_FIELDS);
            for (n, v) in cmd.args.0.iter().chain(&cmd.fields.0) {
                assert!(
                    n.len() <= trail::NAME_MAX && v.len() <= trail::VALUE_MAX,
                    "{n}: {v}"
                );
                assert!(
                    crate::escape::is_printable_ascii(n) && crate::escape::is_printable_ascii(v)
                );
            }
        }
    }

    #[test]
    fn at_the_memory_cap_commands_are_dropped_not_kept() {
        let mut c = Conn::with_cap(MemCap::new(trail::BASE_CHARGE + 2000));
        for _ in 0..50 {
            c.client("check connection\n\n");
            c.server("check connection reply\nresult: Ok\n\n");
        }
        assert!(c.s.refused());
        let mem = Arc::clone(&c.mem);
        assert!(mem.used() <= mem.limit());
        let s = c.report();
        assert_eq!(s.commands_total, 50);
        assert!(s.commands_dropped > 0 && (s.commands.len() as u64) + s.commands_dropped == 50);
        assert_eq!(mem.used(), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_bytes_in_any_pieces_never_panic_or_pass_the_bound(
            pieces in proptest::collection::vec(
                (0usize..2, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), 0u8..4),
                0..60,
            )
        ) {
            let mut c = Conn::new();
            for (dir, bytes, how) in pieces {
                match how {
                    0 => c.lose(dir, &bytes),
                    // Out of order: a segment ahead of where the stream is.
                    1 => {
                        let at = c.seq[dir].wrapping_add(17);
                        c.s.segment(dir, at, None, &bytes, c.now);
                    }
                    _ => c.send(dir, &bytes),
                }
                proptest::prop_assert!(c.s.reserved() <= SESSION_BOUND);
            }
            let mem = Arc::clone(&c.mem);
            let s = c.report();
            proptest::prop_assert!(s.commands.len() <= 64);
            drop(s);
            proptest::prop_assert_eq!(mem.used(), 0);
        }
    }
}
