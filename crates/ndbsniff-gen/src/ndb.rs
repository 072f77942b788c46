//! The NDB management protocol conversation library: byte-exact client/server exchanges of
//! ndb_mgmd (port 1186 by default) as described in the project's protocol notes, section 6,
//! plus a few variants (CRLF client, RonDB-only commands, HTTP probe, operator client).
//!
//! Owns: the literal bytes of each conversation. Addresses inside payloads are documentation
//! addresses (192.0.2.0/24). Must never depend on transport details (ports, segmentation):
//! every function returns a [`Script`]. Values marked "plausible" are illustrative, not
//! captured from a live cluster.

use super::lookalike::{tls_app_data, tls_client_finish, tls_client_hello, tls_server_flight};
use super::rng::SplitMix64;
use super::script::{Close, Conversation, Script};
use super::Side;

/// Standard base64 alphabet.
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 with a `\n` after every 76 output characters (not after the last), the layout
/// ndb_mgmd uses for packed configurations.
pub fn base64_wrapped(data: &[u8]) -> String {
    let mut plain = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sym = |shift: u32| B64[((n >> shift) & 63) as usize];
        plain.push(sym(18));
        plain.push(sym(12));
        plain.push(if chunk.len() > 1 { sym(6) } else { b'=' });
        plain.push(if chunk.len() > 2 { sym(0) } else { b'=' });
    }
    let mut out = String::with_capacity(plain.len() + plain.len() / 76);
    for (i, line) in plain.chunks(76).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&String::from_utf8_lossy(line));
    }
    out
}

/// The synthetic packed configuration of the notes: 8-byte magic then bytes 0x00..=0x6f,
/// base64-encoded and wrapped (162 characters).
pub fn config_blob(magic: &[u8; 8]) -> String {
    let mut raw = magic.to_vec();
    raw.extend(0u8..0x70);
    base64_wrapped(&raw)
}

/// `get config reply` with the v2 (`NDBCONF2`) or v1 (`NDBCONFV`) blob and the given trailer
/// after the blob (`"\n"` for 8.0+, `"\n\n"` for the 7.6-era server).
pub fn config_reply(v2: bool, trailer: &str) -> String {
    let blob = config_blob(if v2 { b"NDBCONF2" } else { b"NDBCONFV" });
    format!(
        "get config reply\nresult: Ok\nContent-Length: {}\nContent-Type: ndbconfig/octet-stream\n\
         Content-Transfer-Encoding: base64\n\n{blob}{trailer}",
        blob.len()
    )
}

/// `version` reply for NDB `ndb` = (major, minor, build) on MySQL `mysql`.
pub fn version_reply(ndb: (u32, u32, u32), mysql: (u32, u32, u32)) -> String {
    let id = (ndb.0 << 16) | (ndb.1 << 8) | ndb.2;
    format!(
        "version\nid: {id}\nmajor: {}\nminor: {}\nbuild: {}\nstring: mysql-{}.{}.{} ndb-{}.{}.{}\n\
         mysql_major: {}\nmysql_minor: {}\nmysql_build: {}\n\n",
        ndb.0,
        ndb.1,
        ndb.2,
        mysql.0,
        mysql.1,
        mysql.2,
        ndb.0,
        ndb.1,
        ndb.2,
        mysql.0,
        mysql.1,
        mysql.2
    )
}

/// Packed configuration of `raw_len` bytes (the 8-byte `magic`, then a repeating byte
/// pattern), base64-encoded and wrapped as [`base64_wrapped`] does.
pub fn config_blob_sized(magic: &[u8; 8], raw_len: usize) -> String {
    let mut raw = magic.to_vec();
    raw.extend((0..raw_len.saturating_sub(8)).map(|i| (i.wrapping_mul(37) % 251) as u8));
    base64_wrapped(&raw)
}

/// `get config reply` the way the checked server writes it (notes, section 9 item 5): the
/// blob of `raw_len` packed bytes ends with `\n`, `Content-Length` counts that newline, and
/// one more `\n` follows.
pub fn config_reply_counted(magic: &[u8; 8], raw_len: usize) -> String {
    let body = config_blob_sized(magic, raw_len) + "\n";
    format!(
        "get config reply\nresult: Ok\nContent-Length: {}\nContent-Type: ndbconfig/octet-stream\n\
         Content-Transfer-Encoding: base64\n\n{body}\n",
        body.len()
    )
}

/// A parsable event block (`log event reply`, `type=`, `time=0`, `source_nodeid=`, then the
/// event's fields in the order of the client library's `ndb_logevent_body` table, then an
/// empty line).
pub fn log_event(ty: u32, source: u32, fields: &[(&str, i64)]) -> String {
    let mut s = format!("log event reply\ntype={ty}\ntime=0\nsource_nodeid={source}\n");
    for (k, v) in fields {
        s += &format!("{k}={v}\n");
    }
    s.push('\n');
    s
}

/// Builds a TCP script from messages placed at times (milliseconds from the first message),
/// so that several connections of one scenario can be lined up. Each message's delay is the
/// time since the previous one; equal times give the scheduler's small step.
#[derive(Clone, Debug)]
pub struct Timeline {
    script: Script,
    now_ms: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    /// An empty timeline (a TCP script closed by the client).
    pub fn new() -> Self {
        Timeline {
            script: Script::tcp(),
            now_ms: 0,
        }
    }

    /// Time of the last message placed.
    pub fn now(&self) -> u64 {
        self.now_ms
    }

    /// `from` writes `bytes` at `ms` (a time before the last message counts as "right after it").
    pub fn at(mut self, ms: u64, from: Side, bytes: impl AsRef<[u8]>) -> Self {
        let delay = ms.saturating_sub(self.now_ms);
        self.now_ms = self.now_ms.max(ms);
        self.script = self
            .script
            .say(from, bytes, u32::try_from(delay).unwrap_or(u32::MAX));
        self
    }

    /// The client writes `request` at `ms`; the server answers `reply` `after_ms` later.
    pub fn ask(
        self,
        ms: u64,
        request: impl AsRef<[u8]>,
        after_ms: u64,
        reply: impl AsRef<[u8]>,
    ) -> Self {
        self.at(ms, Side::Client, request)
            .at(ms + after_ms, Side::Server, reply)
    }

    /// The finished script, ending with `close`.
    pub fn close(self, close: Close) -> Script {
        self.script.closed(close)
    }
}

/// NDB 8.0.35 version triple.
pub const V8035: (u32, u32, u32) = (8, 0, 35);

/// Reply to `check connection`.
pub const CHECK_CONNECTION_REPLY: &str = "check connection reply\nresult: Ok\n\n";
/// Reply to `set clientversion`.
pub const SET_CLIENTVERSION_REPLY: &str = "set clientversion reply\nresult: Ok\n\n";
/// `set clientversion` request of an 8.0.35 client (hash-ordered arguments).
pub const SET_CLIENTVERSION_8035: &str = "set clientversion\nbuild: 35\nminor: 0\nmajor: 8\n\n";

/// The ten `node.<id>.<field>` lines `get status` writes for one node.
pub fn node_block(
    id: u32,
    ty: &str,
    status: &str,
    version: u32,
    dynamic: u32,
    cc: u32,
    addr: &str,
) -> String {
    NodeRow {
        dynamic_id: i64::from(dynamic),
        connect_count: cc,
        ..NodeRow::new(id, ty, status, version, addr)
    }
    .block()
}

/// One node of a `node status` reply, every field settable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    /// Node id.
    pub id: u32,
    /// `NDB`, `MGM` or `API`.
    pub ty: String,
    /// Status string (`STARTED`, `STARTING`, `CONNECTED`, `UNKNOWN`, …).
    pub status: String,
    /// NDB version number.
    pub version: u32,
    /// MySQL version number.
    pub mysql_version: u32,
    /// Start phase.
    pub startphase: u32,
    /// Dynamic id (printed signed).
    pub dynamic_id: i64,
    /// Node group.
    pub node_group: u32,
    /// Connect count.
    pub connect_count: u32,
    /// Address (empty when unknown; the line keeps its trailing space).
    pub address: String,
    /// `is_single_user` value; `None` omits the line (a client that sent no
    /// `set clientversion` gets none).
    pub is_single_user: Option<u8>,
}

impl NodeRow {
    /// A node with the given identity, version (NDB and MySQL) and address; start phase,
    /// dynamic id, node group and connect count 0, `is_single_user: 0`.
    pub fn new(id: u32, ty: &str, status: &str, version: u32, addr: &str) -> Self {
        NodeRow {
            id,
            ty: ty.to_string(),
            status: status.to_string(),
            version,
            mysql_version: version,
            startphase: 0,
            dynamic_id: 0,
            node_group: 0,
            connect_count: 0,
            address: addr.to_string(),
            is_single_user: Some(0),
        }
    }

    /// The `node.<id>.<field>` lines of this node.
    pub fn block(&self) -> String {
        let id = self.id;
        let mut s = format!(
            "node.{id}.type: {}\nnode.{id}.status: {}\nnode.{id}.version: {}\n\
             node.{id}.mysql_version: {}\nnode.{id}.startphase: {}\nnode.{id}.dynamic_id: {}\n\
             node.{id}.node_group: {}\nnode.{id}.connect_count: {}\nnode.{id}.address: {}\n",
            self.ty,
            self.status,
            self.version,
            self.mysql_version,
            self.startphase,
            self.dynamic_id,
            self.node_group,
            self.connect_count,
            self.address
        );
        if let Some(v) = self.is_single_user {
            s += &format!("node.{id}.is_single_user: {v}\n");
        }
        s
    }
}

/// A whole `node status` reply listing `rows` in the given order (the server lists NDB,
/// then MGM, then API nodes, each by ascending id).
pub fn status_reply(rows: &[NodeRow]) -> String {
    let mut s = format!("node status\nnodes: {}\n", rows.len());
    for r in rows {
        s += &r.block();
    }
    s.push('\n');
    s
}

/// `node status` reply of E1: 2 data nodes, the mgmd, one connected and one idle API slot.
pub fn status_reply_8035() -> String {
    let mut s = String::from("node status\nnodes: 5\n");
    s += &node_block(2, "NDB", "STARTED", 524_323, 1, 1, "192.0.2.11");
    s += &node_block(3, "NDB", "STARTED", 524_323, 2, 1, "192.0.2.12");
    s += &node_block(1, "MGM", "CONNECTED", 524_323, 0, 0, "192.0.2.10");
    s += &node_block(50, "API", "CONNECTED", 524_323, 0, 0, "192.0.2.20");
    s += &node_block(51, "API", "NO_CONTACT", 0, 0, 0, "");
    s += "\n";
    s
}

/// E1: `ndb_mgm -e show` against NDB 8.0.35.
pub fn show_80() -> Script {
    Script::tcp()
        .client("check connection\n\n")
        .server(CHECK_CONNECTION_REPLY)
        .client("get version\n\n")
        .server(version_reply(V8035, V8035))
        .client(SET_CLIENTVERSION_8035)
        .server(SET_CLIENTVERSION_REPLY)
        .client("get status\n\n")
        .server(status_reply_8035())
        .client("get config_v2\nnodetype: 4294967295\nnode: 0\nversion: 0\n\n")
        .server(config_reply(true, "\n"))
}

/// Plausible NDB transporter (binary "Protocol6") messages: 32-bit words, first word carries
/// the length in words.
pub fn transporter_binary(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            let words = rng.range(4, 24) as u32;
            let mut m = Vec::with_capacity(words as usize * 4);
            let w1: u32 = 0x0100_0000 | (words << 8) | 0x01;
            m.extend_from_slice(&w1.to_le_bytes());
            m.extend_from_slice(&rng.bytes((words as usize - 1) * 4));
            m
        })
        .collect()
}

/// E2: data node (ndbmtd 8.0.35, node id 2) start-up: node id, config, `set ports`, then the
/// socket becomes a transporter (hello `2 1 1 0` / `1 1`) and carries binary traffic. The
/// connection is still open when the capture ends.
pub fn datanode_start_80() -> Script {
    let mut s = Script::tcp()
        .client(
            "get nodeid\nendian:\"little\"\npublic key:\"a public key\"\npassword:\"mysqld\"\n\
             log_event: 0\nuser:\"mysqld\"\nnodeid: 2\nnodetype: 0\nversion: 524323\n\n",
        )
        .server("get nodeid reply\nnodeid: 2\nresult: Ok\n\n")
        .client("get version\n\n")
        .server(version_reply(V8035, V8035))
        .client(SET_CLIENTVERSION_8035)
        .server(SET_CLIENTVERSION_REPLY)
        .client("get config_v2\nnodetype: 0\nnode: 2\nversion: 524323\n\n")
        .server(config_reply(true, "\n"))
        .say(Side::Client, "get mgmd nodeid\n\n", 2_000)
        .server("get mgmd nodeid reply\nnodeid:1\n\n")
        .client("set ports\nnum_ports: 3\nnode: 2\n\n3=-40717\n50=-40717\n51=-40717\n\n")
        .server("set ports reply\nresult: Ok\n\n")
        .client("transporter connect\n\n")
        .client("2 1 1 0\n")
        .server("1 1\n");
    for (i, m) in transporter_binary(0x2d2d, 6).into_iter().enumerate() {
        s = s.say(
            if i % 2 == 0 {
                Side::Client
            } else {
                Side::Server
            },
            m,
            0,
        );
    }
    s.closed(Close::None)
}

/// The `get nodeid` request of mysqld 8.0.35 (E3).
pub const MYSQLD_GET_NODEID_8035: &str = "get nodeid\nname:\"mysqld --server-id=1\"\nendian:\"little\"\n\
public key:\"a public key\"\npassword:\"mysqld\"\nlog_event: 1\nuser:\"mysqld\"\nnodeid: 0\nnodetype: 1\n\
version: 524323\n\n";

/// E3: mysqld 8.0.35 asks for a node id, is refused (no free node id), retries a second later
/// on the same connection and gets node 50, then fetches the configuration.
pub fn nodeid_retry_80() -> Script {
    Script::tcp()
        .client(MYSQLD_GET_NODEID_8035)
        .server("get nodeid reply\nresult: No free node id found for mysqld(API).\nerror_code: 1101\n\n")
        .say(Side::Client, MYSQLD_GET_NODEID_8035, 1_000)
        .server("get nodeid reply\nnodeid: 50\nresult: Ok\n\n")
        .client("get version\n\n")
        .server(version_reply(V8035, V8035))
        .client(SET_CLIENTVERSION_8035)
        .server(SET_CLIENTVERSION_REPLY)
        .client("get config_v2\nnodetype: 1\nnode: 50\nversion: 524323\n\n")
        .server(config_reply(true, "\n"))
}

/// E4 (first half): interactive ndb_mgm 8.0 event listener with the pretty format: pings
/// every 0.5 s and one backup event, then the client quits.
pub fn listen_pretty_80() -> Script {
    Script::tcp()
        .client("listen event\nfilter:\"261=15 250=1\"\n\n")
        .server("listen event\nresult: 0\n\n")
        .server("<PING>\n")
        .say(Side::Server, "<PING>\n", 500)
        .say(Side::Server, "Node 2: Backup 1 started from node 1\n", 230)
        .say(Side::Server, "<PING>\n", 270)
        .say(Side::Server, "<PING>\n", 500)
        .say(Side::Server, "<PING>\n", 500)
}

/// E4 (second half): a 7.x-style parsable listener (unquoted filter) receiving pings and a
/// BackupStarted event block; still open when the capture ends.
pub fn listen_parsable() -> Script {
    Script::tcp()
        .client("listen event\nparsable: 1\nfilter: 261=15\n\n")
        .server("listen event\nresult: 0\n\n")
        .server("<PING>\n")
        .say(
            Side::Server,
            "log event reply\ntype=54\ntime=0\nsource_nodeid=2\nstarting_node=1\nbackup_id=1\n\n",
            310,
        )
        .say(Side::Server, "<PING>\n", 190)
        .say(Side::Server, "<PING>\n", 500)
        .closed(Close::None)
}

/// E5: interactive ndb_mgm 8.0.35 session: `2 STOP` then `2 RESTART`, each preceded by
/// `check connection`.
pub fn stop_restart_80() -> Script {
    Script::tcp()
        .client("check connection\n\n")
        .server(CHECK_CONNECTION_REPLY)
        .client("get version\n\n")
        .server(version_reply(V8035, V8035))
        .client(SET_CLIENTVERSION_8035)
        .server(SET_CLIENTVERSION_REPLY)
        .client("stop v2\nforce: 0\nabort: 0\nnode:\"2\"\n\n")
        .server("stop reply\nresult: Ok\nstopped: 1\ndisconnect: 0\n\n")
        .say(Side::Client, "check connection\n\n", 4_000)
        .server(CHECK_CONNECTION_REPLY)
        .client("restart node v2\nforce: 0\nnostart: 0\ninitialstart: 0\nabort: 0\nnode:\"2\"\n\n")
        .server("restart reply\nresult: Ok\nrestarted: 1\ndisconnect: 0\n\n")
}

/// E5 variant: a third-party (Go operator) client stopping node 2 with its own, unquoted
/// argument order (plausible).
pub fn operator_stop() -> Script {
    Script::tcp()
        .client("get mgmd nodeid\n\n")
        .server("get mgmd nodeid reply\nnodeid:1\n\n")
        .client("stop v2\nnode: 2\nabort: 0\nforce: 0\n\n")
        .server("stop reply\nresult: Ok\nstopped: 1\ndisconnect: 0\n\n")
}

/// E6: unknown command, an HTTP request typed into ndb_mgmd, and an unknown argument.
pub fn errors() -> Script {
    Script::tcp()
        .client("hello\n\n")
        .server("result: Unknown command, 'hello'\n\n")
        .client("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .server("result: Unknown command, 'GET / HTTP/1.1'\n\n")
        .server("result: Unknown command, 'Host: x'\n\n")
        .client("get version\nfoo: 1\n\n")
        .server("result: Unknown argument, 'foo'\n\n")
}

/// E6 variant: an HTTP client (curl-like) sent to ndb_mgmd; the server answers every header
/// line with `Unknown command` and the client gives up.
pub fn http_probe() -> Script {
    Script::tcp()
        .client("GET / HTTP/1.1\r\nHost: 203.0.113.10:3406\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
        .server("result: Unknown command, 'GET / HTTP/1.1'\n\n")
        .server("result: Unknown command, 'Host: 203.0.113.10:3406'\n\n")
        .server("result: Unknown command, 'User-Agent: curl/8.5.0'\n\n")
        .server("result: Unknown command, 'Accept: */*'\n\n")
}

/// E7: NDB 7.6.30 mysqld: unquoted arguments in insertion order, no `set clientversion`, v1
/// configuration with the `\n\n` trailer.
pub fn mysqld_76() -> Script {
    Script::tcp()
        .client(
            "get nodeid\nversion: 460318\nnodetype: 1\nnodeid: 0\nuser: mysqld\npassword: mysqld\n\
             public key: a public key\nendian: little\nname: mysqld --server-id=1\nlog_event: 1\n\n",
        )
        .server("get nodeid reply\nnodeid: 50\nresult: Ok\n\n")
        .client("get version\n\n")
        .server(version_reply((7, 6, 30), (5, 7, 44)))
        .client("get config\nversion: 460318\nnodetype: 1\n\n")
        .server(config_reply(false, "\n\n"))
}

/// E8 (first half): NDB 8.4 client with TLS keys: `start tls`, then a TLS 1.3 handshake and
/// application data records only.
pub fn start_tls_84() -> Script {
    let mut rng = SplitMix64::new(0x84);
    let hello = tls_client_hello(&mut rng, None);
    let flight = tls_server_flight(&mut rng);
    let finish = tls_client_finish(&mut rng, true);
    let req = tls_app_data(&mut rng, 180);
    let rep = tls_app_data(&mut rng, 96);
    Script::tcp()
        .client("start tls\n\n")
        .server("start tls reply\nresult: Ok\n\n")
        .client(hello)
        .server(flight)
        .client(finish)
        .client(req)
        .server(rep)
}

/// E8 (second half): a client without TLS asks an 8.4 server that requires TLS for the
/// status and is refused.
pub fn tls_required_84() -> Script {
    Script::tcp()
        .client("get status\n\n")
        .server("Authorization failed\nError: Requires TLS\n\n")
}

/// RonDB-only management commands (`list users`, `get quotas`, `list quotas`) with plausible
/// `… reply` headers and keys (not taken from a live server).
pub fn rondb_users() -> Script {
    Script::tcp()
        .client("list users\n\n")
        .server("list users reply\nresult: Ok\nusers: 2\nuser.0: admin\nuser.1: reporting\n\n")
        .client("get quotas\nuser:\"reporting\"\n\n")
        .server("get quotas reply\nresult: Ok\nuser: reporting\nmax_connections: 20\nmax_queries: 0\n\n")
        .client("list quotas\n\n")
        .server("list quotas reply\nresult: Ok\nquotas: 1\nquota.0: reporting\n\n")
}

/// A hand-typed session (`nc -C` style): the client ends lines with CRLF, the server still
/// answers with LF only.
pub fn crlf_show_80() -> Script {
    Script::tcp()
        .client("check connection\r\n\r\n")
        .server(CHECK_CONNECTION_REPLY)
        .client("get version\r\n\r\n")
        .server(version_reply(V8035, V8035))
        .client("get status\r\n\r\n")
        .server(status_reply_8035())
}

/// Transporter authentication on a data node's own port (not ndb_mgmd): `ndbd` /
/// `ndbd passwd` / `ok`, hello, then binary.
pub fn datanode_transporter_auth() -> Script {
    let mut s = Script::tcp()
        .client("ndbd\nndbd passwd\n")
        .server("ok\n")
        .client("50 1 2 0\n")
        .server("2 1\n");
    for (i, m) in transporter_binary(0x5050, 4).into_iter().enumerate() {
        s = s.say(
            if i % 2 == 0 {
                Side::Client
            } else {
                Side::Server
            },
            m,
            0,
        );
    }
    s.closed(Close::None)
}

/// Every NDB conversation of this module: (name, description, constructor).
pub const CONVERSATIONS: &[Conversation] = &[
    Conversation {
        name: "ndb80-show",
        description: "E1: ndb_mgm -e show, NDB 8.0.35",
        build: show_80,
    },
    Conversation {
        name: "ndb80-datanode",
        description: "E2: data node start-up, set ports, transporter connect, binary",
        build: datanode_start_80,
    },
    Conversation {
        name: "ndb80-nodeid",
        description: "E3: mysqld node id refused then allocated, config fetch",
        build: nodeid_retry_80,
    },
    Conversation {
        name: "ndb80-listen-pretty",
        description: "E4: event listener, pretty events and <PING>",
        build: listen_pretty_80,
    },
    Conversation {
        name: "ndb-listen-parsable",
        description: "E4: parsable event listener (7.x-style client)",
        build: listen_parsable,
    },
    Conversation {
        name: "ndb80-stop-restart",
        description: "E5: ndb_mgm 2 STOP then 2 RESTART",
        build: stop_restart_80,
    },
    Conversation {
        name: "ndb-operator-stop",
        description: "E5 variant: operator client stop v2, unquoted",
        build: operator_stop,
    },
    Conversation {
        name: "ndb-errors",
        description: "E6: unknown command, HTTP lines, unknown argument",
        build: errors,
    },
    Conversation {
        name: "ndb-http-probe",
        description: "E6 variant: HTTP client talking to ndb_mgmd",
        build: http_probe,
    },
    Conversation {
        name: "ndb76-nodeid",
        description: "E7: NDB 7.6.30 mysqld, unquoted args, v1 config",
        build: mysqld_76,
    },
    Conversation {
        name: "ndb84-starttls",
        description: "E8: start tls then TLS records",
        build: start_tls_84,
    },
    Conversation {
        name: "ndb84-tls-required",
        description: "E8: TLS-required refusal",
        build: tls_required_84,
    },
    Conversation {
        name: "rondb-users",
        description: "RonDB-only list users / get quotas / list quotas",
        build: rondb_users,
    },
    Conversation {
        name: "ndb80-crlf",
        description: "CRLF client (check connection, get version, get status)",
        build: crlf_show_80,
    },
    Conversation {
        name: "ndb-transporter-auth",
        description: "data node port: ndbd / ndbd passwd / ok, then binary",
        build: datanode_transporter_auth,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    const B2: &str = "TkRCQ09ORjIAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8w\nMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hp\namtsbW5v";

    #[test]
    fn config_blobs_match_the_notes() {
        assert_eq!(config_blob(b"NDBCONF2"), B2);
        assert_eq!(B2.len(), 162);
        let v1 = config_blob(b"NDBCONFV");
        assert_eq!(&v1[..11], "TkRCQ09ORlY");
        assert_eq!(&v1[11..], &B2[11..]);
        assert_eq!(base64_wrapped(b"ab"), "YWI=");
        assert_eq!(base64_wrapped(b"a"), "YQ==");
    }

    #[test]
    fn e1_is_byte_exact() {
        let s = show_80();
        let c = String::from_utf8(s.stream(Side::Client)).unwrap();
        assert_eq!(
            c,
            "check connection\n\nget version\n\nset clientversion\nbuild: 35\nminor: 0\nmajor: 8\n\n\
             get status\n\nget config_v2\nnodetype: 4294967295\nnode: 0\nversion: 0\n\n"
        );
        let srv = String::from_utf8(s.stream(Side::Server)).unwrap();
        assert!(srv.starts_with(
            "check connection reply\nresult: Ok\n\nversion\nid: 524323\nmajor: 8\nminor: 0\nbuild: 35\n\
             string: mysql-8.0.35 ndb-8.0.35\nmysql_major: 8\nmysql_minor: 0\nmysql_build: 35\n\n"
        ));
        assert!(srv.contains("node.51.address: \nnode.51.is_single_user: 0\n\nget config reply\n"));
        assert!(srv.ends_with(&format!("Content-Transfer-Encoding: base64\n\n{B2}\n")));
        assert!(!srv.contains('\r'));
    }

    #[test]
    fn e7_uses_v1_blob_with_double_newline_and_7_6_version() {
        let srv = String::from_utf8(mysqld_76().stream(Side::Server)).unwrap();
        assert!(srv.contains(
            "id: 460318\nmajor: 7\nminor: 6\nbuild: 30\nstring: mysql-5.7.44 ndb-7.6.30\n"
        ));
        assert!(srv.ends_with("bW5v\n\n"));
        assert!(srv.contains("\n\nTkRCQ09ORlY"));
    }

    #[test]
    fn every_conversation_has_both_sides_and_lf_server_text() {
        for c in CONVERSATIONS {
            let (name, s) = (c.name, (c.build)());
            assert!(!s.stream(Side::Client).is_empty(), "{name}");
            assert!(!s.stream(Side::Server).is_empty(), "{name}");
        }
        let c = String::from_utf8(crlf_show_80().stream(Side::Client)).unwrap();
        assert!(c.starts_with("check connection\r\n\r\n"));
    }
}
