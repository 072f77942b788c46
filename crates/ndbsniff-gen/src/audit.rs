//! Conversations for the session audit's test captures: whole scenarios of one NDB cluster
//! (an interactive ndb_mgm with its three connections, a data node and an SQL node starting,
//! the management server's connection to itself, status pollers, long event listeners) and
//! hostile or damaged sessions.
//!
//! Owns: the bytes and the relative timing of each connection of a scenario, and the cluster
//! they describe (which host is which node). Builds on the helpers of [`super::ndb`]; the
//! captures themselves (addresses, start times, transforms) are in [`super::testdata`].
//!
//! The cluster: management server node 1 on [`MGMD`], data nodes 2 and 3 on [`NDB2`] and
//! [`NDB3`] (node group 0), SQL node 50 on [`SQL50`], API slot 51 unused. [`ADMIN`] and
//! [`OPS`] are hosts that are not cluster nodes. Every version is NDB 8.0.35 (524323) unless
//! a conversation says otherwise. Event type numbers and field names are those of
//! `ndb_logevent.h` / `ndb_logevent.cpp`, event texts those of `EventLogger.cpp`.

use super::ndb::{
    config_blob_sized, config_reply_counted, log_event, status_reply, transporter_binary,
    version_reply, NodeRow, Timeline, CHECK_CONNECTION_REPLY, MYSQLD_GET_NODEID_8035,
    SET_CLIENTVERSION_8035, SET_CLIENTVERSION_REPLY, V8035,
};
use super::script::{Close, Script};
use super::Side;

/// The management server (node 1).
pub const MGMD: [u8; 4] = [203, 0, 113, 10];
/// Data node 2's host.
pub const NDB2: [u8; 4] = [203, 0, 113, 11];
/// Data node 3's host.
pub const NDB3: [u8; 4] = [203, 0, 113, 12];
/// The SQL node's host (node 50).
pub const SQL50: [u8; 4] = [203, 0, 113, 20];
/// A second SQL host, refused node id 50.
pub const SQL2: [u8; 4] = [203, 0, 113, 21];
/// An administrator's workstation running ndb_mgm: not a cluster node.
pub const ADMIN: [u8; 4] = [198, 51, 100, 77];
/// An operations host running ndb_config and ndb_waiter: not a cluster node.
pub const OPS: [u8; 4] = [198, 51, 100, 30];
/// A monitoring host holding a long event listener: not a cluster node.
pub const MONITOR: [u8; 4] = [198, 51, 100, 40];
/// Hosts of the pipelining and the CRLF client: not cluster nodes.
pub const SCRIPTER: [u8; 4] = [198, 51, 100, 50];
/// See [`SCRIPTER`].
pub const TYPIST: [u8; 4] = [198, 51, 100, 51];
/// The host sending hostile values: not a cluster node.
pub const FUZZER: [u8; 4] = [198, 51, 100, 66];
/// A client of the 8.4 management server [`MGMD84`].
pub const CLIENT84: [u8; 4] = [198, 51, 100, 90];
/// A second management server, NDB 8.4.0 with TLS required.
pub const MGMD84: [u8; 4] = [203, 0, 113, 40];

/// NDB 8.0.35 as a version number.
pub const VERSION_8035: u32 = 524_323;

/// The encryption password ndb_mgm sends with `START BACKUP ENCRYPT PASSWORD=…`.
pub const BACKUP_PASSWORD: &str = "s3cret-backup-pw";

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

const CHECK: &str = "check connection\n\n";
const GET_VERSION: &str = "get version\n\n";
const GET_STATUS: &str = "get status\n\n";
const PING: &str = "<PING>\n";

/// Event type numbers (`Ndb_logevent_type`).
pub mod event {
    /// NDB_LE_NDBStartStarted.
    pub const NDB_START_STARTED: u32 = 10;
    /// NDB_LE_NDBStartCompleted.
    pub const NDB_START_COMPLETED: u32 = 11;
    /// NDB_LE_StartPhaseCompleted.
    pub const START_PHASE_COMPLETED: u32 = 13;
    /// NDB_LE_NDBStopStarted.
    pub const NDB_STOP_STARTED: u32 = 17;
    /// NDB_LE_MemoryUsage.
    pub const MEMORY_USAGE: u32 = 50;
    /// NDB_LE_SingleUser.
    pub const SINGLE_USER: u32 = 52;
    /// NDB_LE_NDBStopCompleted.
    pub const NDB_STOP_COMPLETED: u32 = 53;
    /// NDB_LE_BackupStarted.
    pub const BACKUP_STARTED: u32 = 54;
    /// NDB_LE_BackupCompleted.
    pub const BACKUP_COMPLETED: u32 = 56;
    /// NDB_LE_BackupAborted.
    pub const BACKUP_ABORTED: u32 = 57;
}

fn ev_stop_started(node: u32) -> String {
    log_event(event::NDB_STOP_STARTED, node, &[("stoptype", 0)])
}
fn ev_stop_completed(node: u32, action: i64) -> String {
    log_event(
        event::NDB_STOP_COMPLETED,
        node,
        &[("action", action), ("signum", 0)],
    )
}
fn ev_start_started(node: u32) -> String {
    log_event(
        event::NDB_START_STARTED,
        node,
        &[("version", i64::from(VERSION_8035))],
    )
}
fn ev_start_completed(node: u32) -> String {
    log_event(
        event::NDB_START_COMPLETED,
        node,
        &[("version", i64::from(VERSION_8035))],
    )
}

/// The state of the cluster a `node status` reply shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Data node 2: status, start phase, dynamic id, connect count.
    pub node2: (&'static str, u32, i64, u32),
    /// Data node 3, likewise.
    pub node3: (&'static str, u32, i64, u32),
    /// Is SQL node 50 connected?
    pub api50: bool,
    /// Does the client get `is_single_user` lines (it sent `set clientversion`)?
    pub single_user_lines: bool,
}

impl Cluster {
    /// Both data nodes started, node 50 connected, `is_single_user` lines.
    pub fn running() -> Self {
        Cluster {
            node2: ("STARTED", 0, -1, 1),
            node3: ("STARTED", 0, -1, 1),
            api50: true,
            single_user_lines: true,
        }
    }

    /// The rows: NDB 2, 3, MGM 1, API 50, 51.
    pub fn rows(&self) -> Vec<NodeRow> {
        let data =
            |id, host, (status, phase, dynamic, cc): (&'static str, u32, i64, u32)| NodeRow {
                startphase: phase,
                dynamic_id: dynamic,
                connect_count: cc,
                ..NodeRow::new(id, "NDB", status, VERSION_8035, &ip(host))
            };
        let mut rows = vec![
            data(2, NDB2, self.node2),
            data(3, NDB3, self.node3),
            NodeRow::new(1, "MGM", "CONNECTED", VERSION_8035, &ip(MGMD)),
            if self.api50 {
                NodeRow::new(50, "API", "CONNECTED", VERSION_8035, &ip(SQL50))
            } else {
                NodeRow::new(50, "API", "UNKNOWN", 0, "")
            },
            NodeRow::new(51, "API", "UNKNOWN", 0, ""),
        ];
        if !self.single_user_lines {
            for r in &mut rows {
                r.is_single_user = None;
            }
        }
        rows
    }

    /// The `node status` reply.
    pub fn status(&self) -> String {
        status_reply(&self.rows())
    }
}

// ---- 1. interactive ndb_mgm: three connections --------------------------------------------

/// Start of the event listener after the commands connection, ms.
pub const SESSION_LISTENER_AFTER_MS: u64 = 40;
/// Start of the idle third connection after the commands connection, ms.
pub const SESSION_IDLE_AFTER_MS: u64 = 60;
/// When the session ends (commands and listener close), ms after the commands connection.
const SESSION_END_MS: u64 = 92_000;

/// The `get config` ndb_mgm's SHOW sends (`version: 0`, `nodetype: -1`).
pub const SHOW_GET_CONFIG: &str = "get config\nversion: 0\nnodetype: -1\n\n";

const STOP_REPLY_1: &str = "stop reply\nresult: Ok\nstopped: 1\ndisconnect: 0\n\n";

/// Events the session's listener receives: (ms after the commands connection opened,
/// block). The filter `261=15 250=1 252=5` lets through backup events and start/stop events
/// of threshold 1 only (StartPhaseCompleted has threshold 4, SingleUser is an INFO event),
/// so those two types are not sent to this listener.
fn session_events() -> Vec<(u64, String)> {
    let b = |ty, f: &[(&str, i64)]| log_event(ty, 2, f);
    vec![
        // 2 STOP
        (12_060, ev_stop_started(2)),
        (14_700, ev_stop_completed(2, 0)),
        // 2 START
        (22_400, ev_start_started(2)),
        (36_500, ev_start_completed(2)),
        // START BACKUP / ABORT BACKUP 7
        (
            41_300,
            b(
                event::BACKUP_STARTED,
                &[("starting_node", 1), ("backup_id", 7)],
            ),
        ),
        (
            47_150,
            b(
                event::BACKUP_ABORTED,
                &[("starting_node", 1), ("backup_id", 7), ("error", 1321)],
            ),
        ),
        // ALL RESTART
        (66_060, ev_stop_started(2)),
        (66_065, ev_stop_started(3)),
        (68_400, ev_stop_completed(2, 1)),
        (68_450, ev_stop_completed(3, 1)),
        (69_200, ev_start_started(2)),
        (69_300, ev_start_started(3)),
        (85_000, ev_start_completed(2)),
        (85_200, ev_start_completed(3)),
    ]
}

/// Connection 1 of an interactive ndb_mgm 8.0.35: `check connection` before every command;
/// SHOW; `2 STOP`; `2 START`; `START BACKUP ENCRYPT PASSWORD=…` (wait started, id 7);
/// `ABORT BACKUP 7`; `ENTER SINGLE USER MODE 50`; `EXIT SINGLE USER MODE`; `ALL RESTART`
/// (as `restart node v2` with the node list `2 3`); then the client closes. Argument order of
/// `start backup` is plausible (not reproduced from a hash table).
pub fn session_commands() -> Script {
    let cfg = config_reply_counted(b"NDBCONFV", 1200);
    let status = Cluster::running().status();
    let get_version = || version_reply(V8035, V8035);
    Timeline::new()
        .ask(5, CHECK, 1, CHECK_CONNECTION_REPLY)
        // SHOW
        .ask(1_500, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(1_503, GET_VERSION, 1, get_version())
        .ask(1_506, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(1_509, GET_STATUS, 2, status)
        .ask(1_514, SHOW_GET_CONFIG, 3, cfg)
        // 2 STOP
        .ask(12_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(12_003, GET_VERSION, 1, get_version())
        .ask(
            12_006,
            "stop v2\nforce: 0\nabort: 0\nnode:\"2\"\n\n",
            2_794,
            STOP_REPLY_1,
        )
        .ask(14_810, CHECK, 1, CHECK_CONNECTION_REPLY)
        // 2 START
        .ask(22_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(
            22_003,
            "start\nnode: 2\n\n",
            7,
            "start reply\nresult: Ok\n\n",
        )
        // START BACKUP ENCRYPT PASSWORD='…' WAIT STARTED
        .ask(41_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(41_003, GET_VERSION, 1, get_version())
        .ask(
            41_006,
            format!(
                "start backup\ncompleted: 1\nencryption_password:\"{BACKUP_PASSWORD}\"\n\
                 password_length: {}\nbackuppoint: 0\n\n",
                BACKUP_PASSWORD.len()
            ),
            340,
            "start backup reply\nresult: Ok\nid: 7\n\n",
        )
        // ABORT BACKUP 7
        .ask(47_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(
            47_003,
            "abort backup\nid: 7\n\n",
            5,
            "abort backup reply\nresult: Ok\n\n",
        )
        // ENTER SINGLE USER MODE 50
        .ask(53_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(
            53_003,
            "enter single user\nnodeId: 50\n\n",
            7,
            "enter single user reply\nresult: Ok\n\n",
        )
        .ask(53_015, CHECK, 1, CHECK_CONNECTION_REPLY)
        // EXIT SINGLE USER MODE
        .ask(60_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(
            60_003,
            "exit single user\n\n",
            6,
            "exit single user reply\nresult: Ok\n\n",
        )
        // ALL RESTART
        .ask(66_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(66_003, GET_VERSION, 1, get_version())
        .ask(
            66_006,
            "restart node v2\nforce: 0\nnostart: 0\ninitialstart: 0\nabort: 0\nnode:\"2 3\"\n\n",
            2_494,
            "restart reply\nresult: Ok\nrestarted: 2\ndisconnect: 0\n\n",
        )
        .ask(68_510, CHECK, 1, CHECK_CONNECTION_REPLY)
        .at(SESSION_END_MS, Side::Client, b"")
        .close(Close::Fin { by: Side::Client })
}

/// A listener's server stream: the `listen event` reply and a first `<PING>` at 0, then a
/// `<PING>` every 100 ms until `end_ms`, with `events` (ms after the listener's start,
/// bytes) placed between them.
fn listener_stream(request: &str, events: &[(u64, String)], end_ms: u64, close: Close) -> Script {
    let mut items: Vec<(u64, &str)> = Vec::new();
    let mut t = 100;
    while t <= end_ms {
        items.push((t, PING));
        t += 100;
    }
    for (at, e) in events {
        items.push((*at, e.as_str()));
    }
    items.sort_by_key(|(at, _)| *at);
    let mut tl = Timeline::new()
        .at(0, Side::Client, request)
        .at(1, Side::Server, "listen event\nresult: 0\n\n")
        .at(1, Side::Server, PING);
    for (at, bytes) in items {
        tl = tl.at(at, Side::Server, bytes);
    }
    tl.close(close)
}

/// Connection 2 of the interactive ndb_mgm: the parsable event listener with its trailing
/// space in the filter, a `<PING>` every 100 ms for the whole session and the events of
/// [`session_commands`] at their moments; closed by the client with the session.
pub fn session_listener() -> Script {
    let events: Vec<(u64, String)> = session_events()
        .into_iter()
        .map(|(at, e)| (at - SESSION_LISTENER_AFTER_MS, e))
        .collect();
    listener_stream(
        "listen event\nparsable: 1\nfilter: 261=15 250=1 252=5 \n\n",
        &events,
        SESSION_END_MS - SESSION_LISTENER_AFTER_MS + 10,
        Close::Fin { by: Side::Client },
    )
}

/// Connection 3 of the interactive ndb_mgm: handshake only, no payload, still open when the
/// capture ends.
pub fn session_idle() -> Script {
    Script::tcp().closed(Close::None)
}

// ---- 2. a cluster starting -----------------------------------------------------------------

/// Start of each connection of the cluster start-up, ms after the capture's first packet.
pub mod start_at {
    /// ndb_mgmd's connection to itself.
    pub const SELF: u64 = 0;
    /// Data node 2's angel.
    pub const ANGEL: u64 = 1_000;
    /// ndb_waiter.
    pub const WAITER: u64 = 1_500;
    /// mysqld's first try.
    pub const MYSQLD_REFUSED: u64 = 2_000;
    /// Data node 2's child.
    pub const CHILD: u64 = 3_000;
    /// mysqld's second try.
    pub const MYSQLD: u64 = 8_000;
    /// mysqld's transporter to the management server.
    pub const MYSQLD_TRANSPORTER: u64 = 8_600;
    /// ndb_config.
    pub const NDB_CONFIG: u64 = 20_000;
}

/// When data node 2's child stops (its connection closes), ms after the capture's start.
const CHILD_STOPS_MS: u64 = 84_000;

/// ndb_mgmd's connection to its own management port: `check connection` every 5 s
/// (19 times), still open when the capture ends.
pub fn mgmd_self_check() -> Script {
    let mut tl = Timeline::new();
    for k in 0..19u64 {
        tl = tl.ask(5 + k * 5_000, CHECK, 1, CHECK_CONNECTION_REPLY);
    }
    tl.close(Close::None)
}

/// ndbd's `get nodeid` (no `name`, the argument order seen from ndbd, unquoted values).
pub const NDBD_GET_NODEID: &str =
    "get nodeid\nversion: 524323\nnodetype: 0\nnodeid: 2\nuser: mysqld\n\
password: mysqld\npublic key: a public key\nendian: little\nlog_event: 0\n\n";

/// The data node's `get config` (node type 0, node 2).
pub const NDBD_GET_CONFIG: &str = "get config\nversion: 524323\nnodetype: 0\nnode: 2\n\n";

/// Data node 2's angel: node id, version, configuration; the socket stays open and, when the
/// child has stopped (signal 15), carries `report event` with NDBStopCompleted
/// (`data:` then two spaces: the value itself starts with one).
pub fn datanode_angel() -> Script {
    let report_at = CHILD_STOPS_MS + 500 - start_at::ANGEL;
    // EventReport word 0: event type | node id << 16.
    let word0 = event::NDB_STOP_COMPLETED | (2 << 16);
    Timeline::new()
        .ask(
            2,
            NDBD_GET_NODEID,
            2,
            "get nodeid reply\nnodeid: 2\nresult: Ok\n\n",
        )
        .ask(8, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(
            12,
            NDBD_GET_CONFIG,
            3,
            config_reply_counted(b"NDBCONFV", 1600),
        )
        .ask(
            report_at,
            format!("report event\nlength: 3\ndata:  {word0} 0 15\n\n"),
            1,
            "report event reply\nresult: ok\n\n",
        )
        .close(Close::None)
}

/// Data node 2's child: version, configuration, `get mgmd nodeid`, two dynamic ports
/// reported with `set connection parameter` (param 406, negative port), then
/// `transporter connect`, hello `2 1` / `1 1` and binary signals both ways until the child
/// stops and closes.
pub fn datanode_child() -> Script {
    let set_port = |node2: u32| {
        format!("set connection parameter\nnode1: 2\nnode2: {node2}\nparam: 406\nvalue: -40717\n\n")
    };
    let reply = "set connection parameter reply\nmessage: \nresult: Ok\n\n";
    let mut tl = Timeline::new()
        .ask(2, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(
            6,
            NDBD_GET_CONFIG,
            3,
            config_reply_counted(b"NDBCONFV", 1600),
        )
        .ask(
            1_500,
            "get mgmd nodeid\n\n",
            1,
            "get mgmd nodeid reply\nnodeid:1\n\n",
        )
        .ask(1_504, set_port(3), 1, reply)
        .ask(1_507, set_port(50), 1, reply)
        .at(1_510, Side::Client, "transporter connect\n\n")
        .at(1_511, Side::Client, "2 1\n")
        .at(1_512, Side::Server, "1 1\n");
    for (i, m) in transporter_binary(0x2c41, 20).into_iter().enumerate() {
        let from = if i % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        tl = tl.at(2_000 + i as u64 * 3_900, from, m);
    }
    tl.at(CHILD_STOPS_MS - start_at::CHILD, Side::Client, b"")
        .close(Close::Fin { by: Side::Client })
}

/// mysqld's first `get nodeid`: refused (no free node id, error code 1101); mysqld closes.
pub fn mysqld_refused() -> Script {
    Timeline::new()
        .ask(
            2,
            MYSQLD_GET_NODEID_8035,
            2,
            "get nodeid reply\nresult: No free node id found for mysqld(API).\nerror_code: 1101\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

/// mysqld's second try on a new connection: node 50, version, configuration (v2), then
/// `end session`.
pub fn mysqld_allocated() -> Script {
    Timeline::new()
        .ask(
            2,
            MYSQLD_GET_NODEID_8035,
            2,
            "get nodeid reply\nnodeid: 50\nresult: Ok\n\n",
        )
        .ask(6, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(9, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(
            12,
            "get config_v2\nnodetype: 1\nnode: 50\nversion: 524323\n\n",
            3,
            config_reply_counted(b"NDBCONF2", 1600),
        )
        .ask(40, "end session\n\n", 1, "end session reply\n")
        .close(Close::Fin { by: Side::Client })
}

/// mysqld's transporter to the management server: a fresh connection that sends only
/// `transporter connect` and its hello, then binary; still open.
pub fn mysqld_transporter() -> Script {
    let mut tl = Timeline::new()
        .at(2, Side::Client, "transporter connect\n\n")
        .at(3, Side::Client, "50 1 1 0\n")
        .at(4, Side::Server, "1 1\n");
    for (i, m) in transporter_binary(0x5001, 6).into_iter().enumerate() {
        let from = if i % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        tl = tl.at(100 + i as u64 * 2_000, from, m);
    }
    tl.close(Close::None)
}

/// ndb_config: `get version`, then `get config_v2` (all node types), and closes.
pub fn ndb_config() -> Script {
    Timeline::new()
        .ask(2, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(
            5,
            "get config_v2\nnodetype: 4294967295\nnode: 0\nversion: 524323\n\n",
            3,
            config_reply_counted(b"NDBCONF2", 1600),
        )
        .close(Close::Fin { by: Side::Client })
}

/// Number of `get status` requests ndb_waiter sends.
pub const WAITER_POLLS: u64 = 80;

/// The cluster as ndb_waiter's poll `k` (0-based, one a second) sees it: data node 2 goes
/// through start phases 1..9 and is STARTED from poll 36 on; node 50 is connected once
/// mysqld has its transporter.
pub fn waiter_cluster(k: u64) -> Cluster {
    let at = start_at::WAITER + 1_000 + k * 1_000;
    let node2 = if k < 36 {
        ("STARTING", 1 + (k / 4) as u32, 0, 1)
    } else {
        ("STARTED", 0, -1, 1)
    };
    Cluster {
        node2,
        api50: at > start_at::MYSQLD_TRANSPORTER + 10,
        ..Cluster::running()
    }
}

/// ndb_waiter: `get version`, `set clientversion`, then `get status` 80 times one second
/// apart on the same connection; closes when node 2 has been STARTED for a while.
pub fn ndb_waiter() -> Script {
    let mut tl = Timeline::new()
        .ask(2, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(5, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY);
    for k in 0..WAITER_POLLS {
        tl = tl.ask(1_000 + k * 1_000, GET_STATUS, 2, waiter_cluster(k).status());
    }
    tl.close(Close::Fin { by: Side::Client })
}

// ---- 3. long listeners ---------------------------------------------------------------------

/// Number of `<PING>` lines before the first event of [`listener_long_parsable`].
pub const LONG_PINGS: u64 = 5_000;
/// When the events begin, ms after the long listener's start.
const LONG_EVENTS_MS: u64 = LONG_PINGS * 100 + 50;
/// Start of the pretty listener, ms after the long listener's start.
pub const PRETTY_AFTER_MS: u64 = 480_000;
const LONG_END_MS: u64 = LONG_EVENTS_MS + 12_000;

/// DBACC and DBTUP block numbers (MemoryUsage's `block`).
const DBACC: i64 = 248;
const DBTUP: i64 = 249;

/// Events of the long-listener capture: (ms after the long listener's start, parsable block,
/// pretty text if the pretty listener's filter lets it through).
fn long_events() -> Vec<(u64, String, Option<String>)> {
    let t0 = LONG_EVENTS_MS;
    let mem = |block, used, total| {
        log_event(
            event::MEMORY_USAGE,
            2,
            &[
                ("gth", 0),
                ("page_size_bytes", 32_768),
                ("pages_used", used),
                ("pages_total", total),
                ("block", block),
            ],
        )
    };
    vec![
        (
            t0,
            mem(DBTUP, 98, 2_560),
            Some("Node 2: Data usage is 3%(98 32K pages of total 2560)\n".into()),
        ),
        (
            t0 + 10,
            mem(DBACC, 12, 512),
            Some("Node 2: Index usage is 2%(12 32K pages of total 512)\n".into()),
        ),
        (
            t0 + 1_230,
            log_event(
                event::BACKUP_STARTED,
                2,
                &[("starting_node", 1), ("backup_id", 1)],
            ),
            Some("Node 2: Backup 1 started from node 1\n".into()),
        ),
        (
            t0 + 3_670,
            log_event(
                event::BACKUP_COMPLETED,
                2,
                &[
                    ("starting_node", 1),
                    ("backup_id", 1),
                    ("start_gci", 4_117),
                    ("stop_gci", 4_120),
                    ("n_bytes", 1_843_200),
                    ("n_records", 20_480),
                    ("n_log_bytes", 0),
                    ("n_log_records", 0),
                ],
            ),
            Some(
                "Node 2: Backup 1 started from node 1 completed. StartGCP: 4117 StopGCP: 4120 \
                 #Records: 20480 #LogRecords: 0 Data: 1843200 bytes Log: 0 bytes\n"
                    .into(),
            ),
        ),
        (
            t0 + 5_020,
            log_event(event::SINGLE_USER, 2, &[("type", 0), ("node_id", 50)]),
            None,
        ),
        (
            t0 + 5_110,
            log_event(event::SINGLE_USER, 2, &[("type", 1), ("node_id", 50)]),
            None,
        ),
        (
            t0 + 7_040,
            log_event(event::SINGLE_USER, 2, &[("type", 2), ("node_id", 50)]),
            None,
        ),
        (
            t0 + 8_000,
            ev_start_started(3),
            Some("Node 3: Start initiated (version 8.0.35)\n".into()),
        ),
        (
            t0 + 8_900,
            log_event(
                event::START_PHASE_COMPLETED,
                3,
                &[("phase", 1), ("starttype", 2)],
            ),
            None,
        ),
        (
            t0 + 9_400,
            log_event(
                event::START_PHASE_COMPLETED,
                3,
                &[("phase", 2), ("starttype", 2)],
            ),
            None,
        ),
        (
            t0 + 11_050,
            ev_start_completed(3),
            Some("Node 3: Started (version 8.0.35)\n".into()),
        ),
    ]
}

/// A monitoring tool's parsable listener (8.0 client: quoted filter, hash order) whose
/// filter admits startup events up to 15, statistics 5, backup 15 and info 7: 5,000
/// `<PING>` lines (500 s) before MemoryUsage, backup, single-user and start events; the
/// client closes 12 s later.
pub fn listener_long_parsable() -> Script {
    let events: Vec<(u64, String)> = long_events()
        .into_iter()
        .map(|(at, block, _)| (at, block))
        .collect();
    listener_stream(
        "listen event\nfilter:\"252=5 261=15 250=15 256=7 \"\nparsable: 1\n\n",
        &events,
        LONG_END_MS,
        Close::Fin { by: Side::Client },
    )
}

/// A listener without `parsable` (7.x-style request, filter `261=15 250=1 252=5`), started
/// [`PRETTY_AFTER_MS`] after the long one: pings and the events its filter admits as
/// `Node N: text` lines.
pub fn listener_pretty_texts() -> Script {
    let events: Vec<(u64, String)> = long_events()
        .into_iter()
        .filter_map(|(at, _, text)| text.map(|t| (at - PRETTY_AFTER_MS, t)))
        .collect();
    listener_stream(
        "listen event\nfilter: 261=15 250=1 252=5 \n\n",
        &events,
        LONG_END_MS - PRETTY_AFTER_MS,
        Close::Fin { by: Side::Client },
    )
}

// ---- 4. pipelining and CRLF ----------------------------------------------------------------

/// Three requests written in one segment (`get version`, `get status`, `check connection`)
/// and the three replies in one segment; the client never sent `set clientversion`, so the
/// status has no `is_single_user` lines.
pub fn pipelined() -> Script {
    let status = Cluster {
        single_user_lines: false,
        ..Cluster::running()
    }
    .status();
    let reply = format!(
        "{}{status}{CHECK_CONNECTION_REPLY}",
        version_reply(V8035, V8035)
    );
    Timeline::new()
        .at(3, Side::Client, format!("{GET_VERSION}{GET_STATUS}{CHECK}"))
        .at(5, Side::Server, reply)
        .close(Close::Fin { by: Side::Client })
}

/// A hand-typed session with CRLF line ends (the server answers with LF): `check
/// connection`, `get version`, then `stop v2` of node 2 typed in the 7.x argument order.
pub fn crlf_stop() -> Script {
    Timeline::new()
        .ask(2_000, "check connection\r\n\r\n", 1, CHECK_CONNECTION_REPLY)
        .ask(6_500, "get version\r\n\r\n", 1, version_reply(V8035, V8035))
        .ask(
            14_000,
            "stop v2\r\nnode: 2\r\nabort: 0\r\nforce: 0\r\n\r\n",
            2_600,
            STOP_REPLY_1,
        )
        .at(19_000, Side::Client, b"")
        .close(Close::Fin { by: Side::Client })
}

// ---- 5. sessions for lost segments ---------------------------------------------------------

/// A status poller (8.0.35): `get version`, `set clientversion`, four `get status`, then
/// `check connection` (message 13 is its reply), then `get status` again. The server stream
/// passes 4096 bytes before the `check connection` reply.
pub fn poller_with_check() -> Script {
    let st = Cluster::running().status();
    Timeline::new()
        .ask(2, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(5, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(1_000, GET_STATUS, 2, st.clone())
        .ask(2_000, GET_STATUS, 2, st.clone())
        .ask(3_000, GET_STATUS, 2, st.clone())
        .ask(4_000, GET_STATUS, 2, st.clone())
        .ask(5_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(6_000, GET_STATUS, 2, st)
        .close(Close::Fin { by: Side::Client })
}

/// Index of the `check connection reply` message in [`poller_with_check`].
pub const POLLER_CHECK_REPLY: usize = 13;

/// mysqld fetching a larger configuration (6,000 packed bytes, about 8 KiB of base64):
/// node id, version, `set clientversion`, `get config_v2` (message 7 is the reply).
pub fn mysqld_big_config() -> Script {
    Timeline::new()
        .ask(
            2,
            MYSQLD_GET_NODEID_8035,
            2,
            "get nodeid reply\nnodeid: 50\nresult: Ok\n\n",
        )
        .ask(6, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(9, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(
            12,
            "get config_v2\nnodetype: 1\nnode: 50\nversion: 524323\n\n",
            4,
            config_reply_counted(b"NDBCONF2", 6_000),
        )
        .close(Close::Fin { by: Side::Client })
}

/// Index of the `get config reply` message in [`mysqld_big_config`].
pub const BIG_CONFIG_REPLY: usize = 7;

/// ndb_mgm (8.0.35) from the admin host: `check connection`, `get version`,
/// `set clientversion`, then `get status` (message 6, the request whose segment is lost in
/// one capture) and `check connection` again.
pub fn show_status() -> Script {
    Timeline::new()
        .ask(2, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(5, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(8, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(11, GET_STATUS, 2, Cluster::running().status())
        .ask(3_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .close(Close::Fin { by: Side::Client })
}

/// Index of the `get status` request in [`show_status`].
pub const SHOW_STATUS_REQUEST: usize = 6;

// ---- 6. mid-stream and one direction -------------------------------------------------------

/// ndb_waiter-like poller: `get version`, `set clientversion`, then four `get status`
/// (messages 4/5, 6/7, 8/9, 10/11).
pub fn poller() -> Script {
    let st = Cluster::running().status();
    let mut tl = Timeline::new()
        .ask(2, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(5, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY);
    for k in 0..4 {
        tl = tl.ask(1_000 + k * 1_000, GET_STATUS, 2, st.clone());
    }
    tl.close(Close::Fin { by: Side::Client })
}

/// ndb_mgm from the admin host: `check connection`, `get version`, `set clientversion`,
/// `get status`, then `3 STOP`.
pub fn stop_node3() -> Script {
    Timeline::new()
        .ask(2, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(5, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(8, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(11, GET_STATUS, 2, Cluster::running().status())
        .ask(5_000, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(
            5_003,
            "stop v2\nforce: 0\nabort: 0\nnode:\"3\"\n\n",
            2_500,
            STOP_REPLY_1,
        )
        .close(Close::Fin { by: Side::Client })
}

// ---- 7. hostile values ---------------------------------------------------------------------

/// The hostile node name: control bytes (SOH, ESC, BS, DEL, tab), a double quote, a
/// backslash, UTF-8 and bytes that are not UTF-8.
pub const HOSTILE_NAME: &[u8] =
    b"evil\x01\x1b[31m\"quoted\" back\\slash\x08\x7f\ttab caf\xc3\xa9 \xff\xfe";

/// After `get version` and `set clientversion`, a `get nodeid` in the 8.0 form whose `name`
/// carries [`HOSTILE_NAME`]; node 51 is allocated.
pub fn hostile_name() -> Script {
    let mut req = b"get nodeid\nname:\"".to_vec();
    req.extend_from_slice(HOSTILE_NAME);
    req.extend_from_slice(
        b"\"\nendian:\"little\"\npublic key:\"a public key\"\npassword:\"mysqld\"\nlog_event: 1\n\
user:\"mysqld\"\nnodeid: 0\nnodetype: 1\nversion: 524323\n\n",
    );
    Timeline::new()
        .ask(2, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(5, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(400, req, 2, "get nodeid reply\nnodeid: 51\nresult: Ok\n\n")
        .close(Close::Fin { by: Side::Client })
}

/// `get nodeid` whose `name` value is 500 characters (its line is 507 bytes, inside the
/// parser's 512); every API slot is taken, so it is refused.
pub fn hostile_long_value() -> Script {
    let name: String = "n0123456789".chars().cycle().take(500).collect();
    let req = format!(
        "get nodeid\nname:\"{name}\"\nendian:\"little\"\npublic key:\"a public key\"\npassword:\"mysqld\"\n\
         log_event: 1\nuser:\"mysqld\"\nnodeid: 0\nnodetype: 1\nversion: 524323\n\n"
    );
    Timeline::new()
        .ask(
            2,
            req,
            2,
            "get nodeid reply\nresult: No free node id found for mysqld(API).\nerror_code: 1101\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

/// Argument names that are not the server's but contain "password" (`Password`,
/// `x_password_y`): each is an unknown argument.
pub fn hostile_password_names() -> Script {
    Timeline::new()
        .ask(
            2,
            "get version\nPassword:\"hunter2-pw\"\n\n",
            1,
            "result: Unknown argument, 'Password'\n\n",
        )
        .ask(
            1_200,
            "get status\nx_password_y: s3cret-xy\n\n",
            1,
            "result: Unknown argument, 'x_password_y'\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

/// `start backup` whose `encryption_password` is split across a `+encryption_password`
/// continuation line (a LongString the server appends; no stock client sends it).
pub fn hostile_split_password() -> Script {
    Timeline::new()
        .ask(2, CHECK, 1, CHECK_CONNECTION_REPLY)
        .ask(
            5,
            "start backup\ncompleted: 2\nencryption_password:\"s3cret-\"\n\
             +encryption_password:\"split-backup-pw\"\npassword_length: 22\n\n",
            2_400,
            "start backup reply\nresult: Ok\nid: 9\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

/// Requests that spoof replies: a whole `check connection reply` sent as a request (each
/// line an unknown command) and `check connection` with a `result: Ok` argument.
pub fn hostile_spoofed_reply() -> Script {
    Timeline::new()
        .ask(
            2,
            "check connection reply\nresult: Ok\n\n",
            1,
            "result: Unknown command, 'check connection reply'\n\nresult: Unknown command, 'result: Ok'\n\n",
        )
        .ask(
            900,
            "check connection\nresult: Ok\n\n",
            1,
            "result: Unknown argument, 'result'\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

/// An HTTP request sent to ndb_mgmd: every line answered `Unknown command`.
pub fn hostile_http() -> Script {
    Timeline::new()
        .at(
            2,
            Side::Client,
            "GET /status HTTP/1.1\r\nHost: 203.0.113.10:3406\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
        )
        .at(3, Side::Server, "result: Unknown command, 'GET /status HTTP/1.1'\n\n")
        .at(3, Side::Server, "result: Unknown command, 'Host: 203.0.113.10:3406'\n\n")
        .at(3, Side::Server, "result: Unknown command, 'User-Agent: curl/8.5.0'\n\n")
        .at(3, Side::Server, "result: Unknown command, 'Accept: */*'\n\n")
        .close(Close::Fin { by: Side::Client })
}

/// An SSH client's banner sent to ndb_mgmd, answered `Unknown command`; the client gives up.
pub fn hostile_ssh() -> Script {
    Timeline::new()
        .at(
            2,
            Side::Client,
            "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n",
        )
        .at(
            3,
            Side::Server,
            "result: Unknown command, 'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13'\n\n",
        )
        .at(10_000, Side::Client, b"")
        .close(Close::Fin { by: Side::Client })
}

/// An 8.4.0 mysqld without TLS keys against an 8.4 server that requires TLS: the bootstrap
/// commands pass, `get nodeid` is refused (`Authorization failed`).
pub fn tls_refused_84() -> Script {
    Timeline::new()
        .ask(2, GET_VERSION, 1, version_reply((8, 4, 0), (8, 4, 0)))
        .ask(
            5,
            "set clientversion\nbuild: 0\nminor: 4\nmajor: 8\n\n",
            1,
            SET_CLIENTVERSION_REPLY,
        )
        .ask(
            8,
            "get nodeid\nname:\"mysqld --server-id=7\"\nendian:\"little\"\npublic key:\"a public key\"\n\
             password:\"mysqld\"\nlog_event: 1\nuser:\"mysqld\"\nnodeid: 0\nnodetype: 1\nversion: 525312\n\n",
            1,
            "Authorization failed\nError: Requires TLS\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

/// A second mysqld asking for node id 50, which node 50's host holds already: refused.
pub fn nodeid_taken() -> Script {
    Timeline::new()
        .ask(
            2,
            "get nodeid\nname:\"mysqld --server-id=2\"\nendian:\"little\"\npublic key:\"a public key\"\n\
             password:\"mysqld\"\nlog_event: 1\nuser:\"mysqld\"\nnodeid: 50\nnodetype: 1\nversion: 524323\n\n",
            2,
            "get nodeid reply\nresult: Id 50 already allocated by another node.\nerror_code: 1101\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

// ---- 8. every other control command family -------------------------------------------------

/// `stop reply` of a refused stop (nothing stopped).
fn stop_refused(text: &str) -> String {
    format!("stop reply\nresult: {text}\nstopped: 0\ndisconnect: 0\n\n")
}

/// NDB error 5005 as the server prefixes it with its code.
const SEND_FAILED_5005: &str = "5005-Send to process or receive failed.";

/// The `get cluster loglevel` reply: the 13 categories in the server's order, statistics
/// raised to 10 by the session's `set cluster loglevel` (the other levels are plausible).
const CLUSTER_LOGLEVEL_REPLY: &str =
    "get cluster loglevel\nstartup: 7\nshutdown: 7\nstatistics: 10\n\
checkpoint: 7\nnoderestart: 7\nconnection: 7\ninfo: 7\nwarning: 15\nerror: 15\ncongestion: 7\n\
debug: 7\nbackup: 15\nschema: 7\n\n";

/// The `show config reply`: INI text (sections and `Name=value` lines, without blank lines
/// between the sections), then the empty line. Values are plausible.
fn show_config_reply() -> String {
    let mut s = String::from(
        "show config reply\n[SYSTEM]\nName=MC_20240110093011\nConfigGenerationNumber=1\n\
         PrimaryMGMNode=0\n[NDB_MGMD]\nNodeId=1\n",
    );
    s += &format!(
        "HostName={}\nPortNumber=3406\nDataDir=/var/lib/mysql-cluster\n",
        ip(MGMD)
    );
    for (id, host) in [(2, NDB2), (3, NDB3)] {
        s += &format!(
            "[NDBD]\nNodeId={id}\nHostName={}\nNodeGroup=0\nNoOfReplicas=2\n\
             DataDir=/var/lib/mysql-cluster/data\nDataMemory=83886080\nServerPort=0\n",
            ip(host)
        );
    }
    s += &format!("[MYSQLD]\nNodeId=50\nHostName={}\n", ip(SQL50));
    s += "[MYSQLD]\nNodeId=51\nHostName=\n";
    for (a, b) in [(2, 3), (1, 2), (1, 3), (2, 50), (3, 50)] {
        s += &format!("[TCP]\nNodeId1={a}\nNodeId2={b}\nSendBufferMemory=2097152\n");
    }
    s.push('\n');
    s
}

/// The two MemoryUsage blocks `2 REPORT MEMORY` gets: DBTUP (data), then DBACC (index).
fn report_memory_events() -> String {
    let mem = |block, used, total| {
        log_event(
            event::MEMORY_USAGE,
            2,
            &[
                ("gth", 0),
                ("page_size_bytes", 32_768),
                ("pages_used", used),
                ("pages_total", total),
                ("block", block),
            ],
        )
    };
    mem(DBTUP, 101, 2_560) + &mem(DBACC, 12, 512)
}

/// An interactive ndb_mgm 8.0.35 on the admin host running every control command family
/// the other captures lack, `check connection` before each command (and after restarts,
/// stops and single-user mode), `get version` before restarts and stops, the 8.0 client's
/// argument order and quoting: SHOW (so the cluster map knows the nodes), `ALL RESTART -N` (`restart all`), `ALL START`, `ENTER SINGLE
/// USER MODE 50` refused while the nodes start, then (once the cluster is up) on node 2:
/// `ERROR 5051` (`insert error`), `DUMP 1000` (`dump state`), `TRACE 4` (`set trace`),
/// `LOG IN DBTC DBLQH` (`log signals`), `start signallog` / `stop signallog`, `set loglevel`
/// (startup 15) and `CLUSTERLOG STATISTICS=10` (`set cluster loglevel`); `CLUSTERLOG INFO`
/// (`get info clusterlog`), `CLUSTERLOG ON DEBUG` / `OFF DEBUG` (`set logfilter`, results 1
/// and 0), `get cluster loglevel`, `2 REPORT MEMORY` (`dump events` type 50, two events),
/// `show config`; `4 RESTART` refused (node 4 not connected, error 5005), `CREATE NODEGROUP
/// 4,5` refused the same way, then, when nodes 4 and 5 run, created as node group 1;
/// `DROP NODEGROUP 1`; `purge stale sessions`; `reload config` refused; `2 3 STOP` refused
/// (the whole node group 0); `ALL STOP` (four data nodes); the client closes. Error texts
/// are those seen from a real server; the `reload config` text is plausible. 64 commands:
/// the session audit keeps them all.
pub fn control_families() -> Script {
    let v = || version_reply(V8035, V8035);
    let c = CHECK_CONNECTION_REPLY;
    let node2 = |cmd: &str| format!("{cmd}\nnode: 2\n\n");
    Timeline::new()
        // SHOW
        .ask(300, CHECK, 1, c)
        .ask(303, GET_VERSION, 1, v())
        .ask(306, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(309, GET_STATUS, 2, Cluster::running().status())
        .ask(314, SHOW_GET_CONFIG, 3, config_reply_counted(b"NDBCONFV", 1200))
        // ALL RESTART -N
        .ask(1_000, CHECK, 1, c)
        .ask(1_003, GET_VERSION, 1, v())
        .ask(
            1_006,
            "restart all\nnostart: 1\ninitialstart: 0\nabort: 0\n\n",
            2_430,
            "restart reply\nresult: Ok\nrestarted: 2\n\n",
        )
        .ask(3_450, CHECK, 1, c)
        // ALL START
        .ask(4_500, CHECK, 1, c)
        .ask(
            4_503,
            "start all\n\n",
            9,
            "start reply\nresult: Ok\nstarted: 2\n\n",
        )
        // ENTER SINGLE USER MODE 50, while the nodes start
        .ask(5_600, CHECK, 1, c)
        .ask(
            5_603,
            "enter single user\nnodeId: 50\n\n",
            4,
            "enter single user reply\nresult: Operation not allowed while nodes are starting or stopping.\n\n",
        )
        .ask(5_612, CHECK, 1, c)
        // the cluster is started; debugging node 2
        .ask(26_000, CHECK, 1, c)
        .ask(
            26_003,
            "insert error\nerror: 5051\nnode: 2\n\n",
            3,
            "insert error reply\nresult: Ok\n\n",
        )
        .ask(27_000, CHECK, 1, c)
        .ask(
            27_003,
            "dump state\nargs:\"1000\"\nnode: 2\n\n",
            3,
            "dump state reply\nresult: Ok\n\n",
        )
        .ask(28_000, CHECK, 1, c)
        .ask(
            28_003,
            "set trace\ntrace: 4\nnode: 2\n\n",
            3,
            "set trace reply\nresult: Ok\n\n",
        )
        .ask(29_000, CHECK, 1, c)
        .ask(
            29_003,
            "log signals\nout: 0\nin: 1\nblocks:\"DBTC|DBLQH|\"\nnode: 2\n\n",
            3,
            "log signals reply\nresult: Ok\n\n",
        )
        .ask(30_000, CHECK, 1, c)
        .ask(
            30_003,
            node2("start signallog"),
            3,
            "start signallog reply\nresult: Ok\n\n",
        )
        .ask(31_000, CHECK, 1, c)
        .ask(
            31_003,
            node2("stop signallog"),
            3,
            "stop signallog reply\nresult: Ok\n\n",
        )
        .ask(32_000, CHECK, 1, c)
        .ask(
            32_003,
            "set loglevel\nlevel: 15\ncategory: 250\nnode: 2\n\n",
            2,
            "set loglevel reply\nresult: Ok\n\n",
        )
        .ask(33_000, CHECK, 1, c)
        .ask(
            33_003,
            "set cluster loglevel\nlevel: 10\ncategory: 252\nnode: 2\n\n",
            2,
            "set cluster loglevel reply\nresult: Ok\n\n",
        )
        // CLUSTERLOG INFO, ON DEBUG, OFF DEBUG
        .ask(34_000, CHECK, 1, c)
        .ask(
            34_003,
            "get info clusterlog\n\n",
            1,
            "clusterlog\nenabled: 1\ndebug: 0\ninfo: 1\nwarning: 1\nerror: 1\ncritical: 1\nalert: 1\n\n",
        )
        .ask(35_000, CHECK, 1, c)
        .ask(
            35_003,
            "set logfilter\nenable: 1\nlevel: 1\n\n",
            1,
            "set logfilter reply\nresult: 1\n\n",
        )
        .ask(36_000, CHECK, 1, c)
        .ask(
            36_003,
            "set logfilter\nenable: 0\nlevel: 1\n\n",
            1,
            "set logfilter reply\nresult: 0\n\n",
        )
        .ask(37_000, CHECK, 1, c)
        .ask(37_003, "get cluster loglevel\n\n", 1, CLUSTER_LOGLEVEL_REPLY)
        // 2 REPORT MEMORY
        .ask(38_000, CHECK, 1, c)
        .ask(
            38_003,
            "dump events\nnodes:\"2\"\ntype: 50\n\n",
            6,
            format!(
                "dump events reply\nresult: Ok\nevents: 2\n\n{}",
                report_memory_events()
            ),
        )
        .ask(39_000, CHECK, 1, c)
        .ask(39_003, "show config\n\n", 4, show_config_reply())
        // 4 RESTART: node 4 is not connected
        .ask(40_000, CHECK, 1, c)
        .ask(40_003, GET_VERSION, 1, v())
        .ask(
            40_006,
            "restart node v2\nforce: 0\nnostart: 0\ninitialstart: 0\nabort: 0\nnode:\"4\"\n\n",
            3,
            format!("restart reply\nresult: {SEND_FAILED_5005}\nrestarted: 0\ndisconnect: 0\n\n"),
        )
        .ask(40_015, CHECK, 1, c)
        // CREATE NODEGROUP 4,5: refused, then (nodes 4 and 5 started) node group 1
        .ask(41_000, CHECK, 1, c)
        .ask(
            41_003,
            "create nodegroup\nnodes:\"4 5\"\n\n",
            5,
            format!("create nodegroup reply\nng: -1\nerror_code: 5005\nresult: {SEND_FAILED_5005}\n\n"),
        )
        .ask(60_000, CHECK, 1, c)
        .ask(
            60_003,
            "create nodegroup\nnodes:\"4 5\"\n\n",
            1_240,
            "create nodegroup reply\nng: 1\nresult: Ok\n\n",
        )
        .ask(62_000, CHECK, 1, c)
        .ask(
            62_003,
            "drop nodegroup\nng: 1\n\n",
            860,
            "drop nodegroup reply\nresult: Ok\n\n",
        )
        .ask(64_000, CHECK, 1, c)
        .ask(
            64_003,
            "purge stale sessions\n\n",
            2,
            "purge stale sessions reply\nresult: Ok\n\n",
        )
        .ask(65_000, CHECK, 1, c)
        .ask(
            65_003,
            "reload config\nforce: 0\nmycnf: 0\nconfig_filename:\"/var/lib/mysql-cluster/config.ini\"\n\n",
            12,
            "reload config reply\nresult: Failed to load configuration from \
             '/var/lib/mysql-cluster/config.ini'\n\n",
        )
        // 2 3 STOP: both nodes of node group 0
        .ask(66_000, CHECK, 1, c)
        .ask(66_003, GET_VERSION, 1, v())
        .ask(
            66_006,
            "stop v2\nforce: 0\nabort: 0\nnode:\"2 3\"\n\n",
            4,
            stop_refused("Node shutdown would cause system crash: Permanent error: Application error"),
        )
        .ask(66_015, CHECK, 1, c)
        // ALL STOP
        .ask(67_000, CHECK, 1, c)
        .ask(67_003, GET_VERSION, 1, v())
        .ask(
            67_006,
            "stop all\nstop:\"db\"\nabort: 0\n\n",
            2_870,
            "stop reply\nresult: Ok\nstopped: 4\ndisconnect: 0\n\n",
        )
        .ask(69_890, CHECK, 1, c)
        .at(72_000, Side::Client, b"")
        .close(Close::Fin { by: Side::Client })
}

/// Packed bytes of the configuration [`set_config`] installs.
const SET_CONFIG_RAW: usize = 1_400;

/// The `set config_v2` request: the 8.0 client's argument order and quoting, the base64
/// bulk (a `\n` every 76 characters, none at its end) after the empty line, then the `\n`
/// the client writes after the bulk. `Content-Length` counts the bulk's bytes, its inner
/// newlines included.
pub fn set_config_request() -> String {
    let bulk = config_blob_sized(b"NDBCONF2", SET_CONFIG_RAW);
    format!(
        "set config_v2\nContent-Transfer-Encoding:\"base64\"\nContent-Type:\"ndbconfig/octet-stream\"\n\
         Content-Length: {}\n\n{bulk}\n",
        bulk.len()
    )
}

/// A configuration tool (8.0.35 client library) on the admin host: `get version`,
/// `set clientversion`, `get config_v2` of the whole cluster, then `set config_v2` with the
/// changed configuration (answered Ok after the management servers agreed), then `bye`;
/// the server closes.
pub fn set_config() -> Script {
    Timeline::new()
        .ask(3, GET_VERSION, 1, version_reply(V8035, V8035))
        .ask(6, SET_CLIENTVERSION_8035, 1, SET_CLIENTVERSION_REPLY)
        .ask(
            9,
            "get config_v2\nnodetype: 4294967295\nnode: 0\nversion: 524323\n\n",
            3,
            config_reply_counted(b"NDBCONF2", SET_CONFIG_RAW),
        )
        .ask(
            1_100,
            set_config_request(),
            640,
            "set config reply\nresult: Ok\n\n",
        )
        .at(2_200, Side::Client, "bye\n\n")
        .close(Close::Fin { by: Side::Server })
}

/// A RonDB-style client (8.0 quoting) moving data node 3 to a new address with RonDB's
/// `set_hostname`; the client closes.
pub fn rondb_set_hostname() -> Script {
    Timeline::new()
        .ask(
            4,
            "set_hostname\nhostname:\"203.0.113.13\"\nnode: 3\n\n",
            6,
            "set_hostname reply\nresult: Ok\n\n",
        )
        .close(Close::Fin { by: Side::Client })
}

/// Start of [`set_config`] and [`rondb_set_hostname`], ms after [`control_families`].
pub mod families_at {
    /// The configuration tool.
    pub const SET_CONFIG: u64 = 74_000;
    /// The RonDB-style client.
    pub const SET_HOSTNAME: u64 = 78_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &Script, side: Side) -> String {
        String::from_utf8(s.stream(side)).unwrap()
    }

    #[test]
    fn session_listener_pings_every_100ms_and_has_the_events() {
        let s = session_listener();
        let srv = text(&s, Side::Server);
        assert!(srv.starts_with("listen event\nresult: 0\n\n<PING>\n<PING>\n"));
        let pings = srv.matches(PING).count();
        assert!((910..=925).contains(&pings), "{pings}");
        assert_eq!(srv.matches("log event reply\n").count(), 14);
        assert!(srv.contains(
            "log event reply\ntype=54\ntime=0\nsource_nodeid=2\nstarting_node=1\nbackup_id=7\n\n"
        ));
        assert_eq!(
            text(&s, Side::Client),
            "listen event\nparsable: 1\nfilter: 261=15 250=1 252=5 \n\n"
        );
        // No empty message other than the client's end marker.
        assert!(s.messages.iter().filter(|m| m.bytes.is_empty()).count() <= 1);
    }

    #[test]
    fn session_commands_check_before_each_command_and_carry_the_secret() {
        let c = text(&session_commands(), Side::Client);
        assert!(c.contains(&format!("encryption_password:\"{BACKUP_PASSWORD}\"\n")));
        for cmd in [
            "stop v2\n",
            "start\n",
            "start backup\n",
            "abort backup\n",
            "enter single user\n",
            "exit single user\n",
            "restart node v2\n",
        ] {
            let at = c.find(cmd).unwrap();
            assert!(c[..at].ends_with("\n\n"));
            assert!(
                c[..at].rfind(CHECK).is_some_and(|p| at - p < 40),
                "{cmd}: check connection just before"
            );
        }
    }

    #[test]
    fn content_length_counts_the_final_newline() {
        let r = config_reply_counted(b"NDBCONF2", 1600);
        let (head, body) = r.split_once("\n\n").unwrap();
        let n: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), n + 1);
        assert!(body.ends_with("\n\n"));
        assert!(body[..n].lines().all(|l| l.len() <= 76));
    }

    #[test]
    fn status_lists_every_node_in_server_order() {
        let st = Cluster::running().status();
        assert!(st.starts_with("node status\nnodes: 5\nnode.2.type: NDB\n"));
        assert!(st.contains("node.2.dynamic_id: -1\n"));
        assert!(st.contains("node.1.type: MGM\nnode.1.status: CONNECTED\n"));
        assert!(st.contains("node.1.address: 203.0.113.10\n"));
        assert!(st.contains("node.51.status: UNKNOWN\n"));
        assert!(st.ends_with("node.51.address: \nnode.51.is_single_user: 0\n\n"));
        let bare = Cluster {
            single_user_lines: false,
            ..Cluster::running()
        }
        .status();
        assert!(!bare.contains("is_single_user"));
    }

    #[test]
    fn waiter_sees_node2_starting_then_started() {
        let s = text(&ndb_waiter(), Side::Server);
        assert_eq!(s.matches("node status\n").count() as u64, WAITER_POLLS);
        let first = s.find("node.2.status: STARTED").unwrap();
        let last_starting = s.rfind("node.2.status: STARTING").unwrap();
        assert!(last_starting < first);
        assert_eq!(
            text(&ndb_waiter(), Side::Client)
                .matches("get status\n\n")
                .count() as u64,
            WAITER_POLLS
        );
    }

    #[test]
    fn long_listener_pings_before_events() {
        let s = text(&listener_long_parsable(), Side::Server);
        let first = s.find("log event reply").unwrap();
        assert!(first > 4096);
        assert_eq!(s[..first].matches(PING).count() as u64, LONG_PINGS + 1);
        assert!(s.contains("type=50\ntime=0\nsource_nodeid=2\ngth=0\npage_size_bytes=32768\n"));
        let p = text(&listener_pretty_texts(), Side::Server);
        assert!(p.contains("Node 2: Backup 1 started from node 1\n"));
        assert!(!p.contains("log event reply"));
        assert!(!text(&listener_pretty_texts(), Side::Client).contains("parsable"));
    }

    #[test]
    fn hostile_values_fit_the_parser_and_carry_what_they_claim() {
        let long = text(&hostile_long_value(), Side::Client);
        let line = long.lines().nth(1).unwrap();
        assert_eq!(line.len(), 507);
        let name = hostile_name().stream(Side::Client);
        assert!(name.windows(HOSTILE_NAME.len()).any(|w| w == HOSTILE_NAME));
        assert!(!HOSTILE_NAME.contains(&b'\n') && !HOSTILE_NAME.contains(&0));
        assert!(text(&hostile_split_password(), Side::Client)
            .contains("\n+encryption_password:\"split-backup-pw\"\n"));
    }

    #[test]
    fn ndbd_report_event_has_two_spaces() {
        let c = text(&datanode_angel(), Side::Client);
        assert!(c.contains("report event\nlength: 3\ndata:  131125 0 15\n\n"));
        let p = poller_with_check();
        assert_eq!(
            p.messages[POLLER_CHECK_REPLY].bytes,
            CHECK_CONNECTION_REPLY.as_bytes()
        );
        assert!(p.offset_of_message(Side::Server, POLLER_CHECK_REPLY) > 4096);
        let m = mysqld_big_config();
        assert!(m.messages[BIG_CONFIG_REPLY]
            .bytes
            .starts_with(b"get config reply\n"));
        let s = show_status();
        assert_eq!(s.messages[SHOW_STATUS_REQUEST].bytes, GET_STATUS.as_bytes());
    }

    #[test]
    fn control_families_check_before_each_command_and_count_the_bulk() {
        let c = text(&control_families(), Side::Client);
        let cmds = [
            "restart all\n",
            "start all\n",
            "enter single user\n",
            "insert error\n",
            "dump state\n",
            "set trace\n",
            "log signals\n",
            "start signallog\n",
            "stop signallog\n",
            "set loglevel\n",
            "set cluster loglevel\n",
            "get info clusterlog\n",
            "set logfilter\n",
            "get cluster loglevel\n",
            "dump events\n",
            "show config\n",
            "restart node v2\n",
            "create nodegroup\n",
            "drop nodegroup\n",
            "purge stale sessions\n",
            "reload config\n",
            "stop v2\n",
            "stop all\n",
        ];
        for cmd in cmds {
            let at = c.find(&format!("\n\n{cmd}")).unwrap() + 2;
            assert!(
                c[..at].rfind(CHECK).is_some_and(|p| at - p < 120),
                "{cmd}: check connection just before"
            );
        }
        let s = text(&control_families(), Side::Server);
        let dump = s
            .find("dump events reply\nresult: Ok\nevents: 2\n\n")
            .unwrap();
        assert_eq!(s[dump..].matches("log event reply\ntype=50\n").count(), 2);
        assert!(s.contains("ng: -1\nerror_code: 5005\nresult: 5005-"));
        let show = s.find("show config reply\n").unwrap();
        let body_end = show + s[show..].find("\n\n").unwrap();
        assert!(s[show..body_end].contains("[TCP]\nNodeId1=2\n"));
        let levels = s.find("get cluster loglevel\n").unwrap();
        let end = levels + s[levels..].find("\n\n").unwrap();
        assert_eq!(s[levels..end].lines().count(), 14);
        // set config_v2: Content-Length is the bulk between the empty line and the
        // client's final newline.
        let r = set_config_request();
        let (head, rest) = r.split_once("\n\n").unwrap();
        let n: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(rest.len(), n + 1);
        assert!(rest.ends_with("=\n") || !rest[..n].ends_with('\n'));
        assert!(rest[..n].lines().all(|l| l.len() <= 76));
        assert!(text(&set_config(), Side::Client).ends_with("\nbye\n\n"));
    }
}
