//! Recognition of the NDB Cluster management (ndb_mgmd) text protocol in one direction of a
//! flow, and the verdict that combines both directions.
//!
//! Owns the per-direction line scanner ([`Direction`]): it reads LF-terminated lines
//! incrementally (remembering how far it got, so every byte is looked at once however the data
//! is chunked), groups them into messages (command or reply header, `name: value` lines, an
//! empty line), and scores each message against the protocol: requests (client side) and
//! replies (server side), weak or strong. It also follows the hand-offs that end the text part
//! of a connection (`transporter connect`, `start tls`, the data-node `ndbd passwd`
//! handshake) and stops there. [`judge`] turns the two directions' scores into a verdict,
//! a confidence, the client/server roles and whether more data could change the answer.
//!
//! Must never: panic on any input bytes, read a line longer than [`MAX_LINE`], look at bytes
//! it was not given (callers cut the data to their budget), keep packet bytes (only offsets
//! and counters), or allocate except for the evidence text when a direction is decided. All
//! evidence text goes through [`crate::escape`] and is printable ASCII.
//!
//! Evidence format: the lines of the deciding message with the blank terminator dropped, each
//! escaped, joined by ` / `, cut to [`EVIDENCE_MAX`] characters with a trailing `...`; e.g.
//! `get nodeid reply / nodeid: 2 / result: Ok`. For other protocols it is a short description
//! of the first bytes (`TLS ClientHello`, `HTTP request GET /`, `binary: \x00\x01...`).

use super::hints::{self, Hint};
use super::{Confidence, ProbeState, Role, Verdict};
use crate::escape::escape_into;

/// Longest line (without its LF) the NDB line parser accepts (its buffer is 512 bytes).
pub const MAX_LINE: usize = 512;

/// Longest evidence string.
pub const EVIDENCE_MAX: usize = 100;

/// Largest body (config blob, bulk) skipped on the word of a `Content-Length` line.
const MAX_BODY: u32 = 1 << 24;

/// Bytes each direction must carry for an `unknown` verdict with no named protocol to be
/// given high confidence.
const ENOUGH_DATA: u32 = 32;

/// Bytes of non-NDB text each direction must carry before a flow with no NDB evidence at all
/// is given up on (an ndb_mgmd shows itself long before).
const FOREIGN_ENOUGH: u32 = 512;

/// Below this many bytes in both directions together, the confidence of `unknown` is low.
const ALMOST_NOTHING: u32 = 8;

/// How strongly a direction's content points at the NDB management protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Nothing NDB-shaped seen.
    #[default]
    None,
    /// NDB-shaped but generic on its own (e.g. `get status\n\n`, `result: Ok\n\n`, `ok\n`).
    Weak,
    /// Specific to the protocol (e.g. `get nodeid reply`, `check connection\n\n`).
    Strong,
}

/// The switch that ends the text part of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// `transporter connect` (or the data-node `ndbd passwd` handshake): binary signals follow.
    Transporter,
    /// `start tls`: TLS records follow.
    Tls,
}

impl Upgrade {
    /// The name reported in `ProbeResult::upgrade`.
    pub fn as_str(self) -> &'static str {
        match self {
            Upgrade::Transporter => "transporter",
            Upgrade::Tls => "tls",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Protocol tables

/// Too generic on its own: needs NDB-shaped arguments to count as strong.
const WEAK: u8 = 1;
/// The command line doubles as a reply header (`listen event`, `get cluster loglevel`).
const AMBIG: u8 = 2;
/// `start tls`: TLS may follow the request.
const TLS: u8 = 4;
/// `transporter connect`: the connection becomes a transporter after the request.
const XPORT: u8 = 8;
/// `set ports`: bulk `nodeid=port` lines and an empty line follow the request.
const PORTS: u8 = 16;

/// Commands of the server's command table (Oracle 7.6 – 8.4 and RonDB), with flags.
static COMMANDS: &[(&[u8], u8)] = &[
    (b"get config", WEAK),
    (b"get config_v2", 0),
    (b"get nodeid", 0),
    (b"get version", WEAK),
    (b"set clientversion", 0),
    (b"get status", WEAK),
    (b"get info clusterlog", 0),
    (b"get cluster loglevel", AMBIG),
    (b"restart node", 0),
    (b"restart node v2", 0),
    (b"restart all", 0),
    (b"insert error", 0),
    (b"set trace", 0),
    (b"log signals", 0),
    (b"start signallog", 0),
    (b"stop signallog", 0),
    (b"dump state", 0),
    (b"start backup", 0),
    (b"abort backup", 0),
    (b"stop", WEAK),
    (b"stop v2", 0),
    (b"stop all", WEAK),
    (b"enter single user", 0),
    (b"exit single user", 0),
    (b"start", WEAK),
    (b"start all", WEAK),
    (b"start tls", TLS),
    (b"bye", WEAK),
    (b"end session", 0),
    (b"set loglevel", 0),
    (b"set cluster loglevel", 0),
    (b"set logfilter", 0),
    (b"set parameter", 0),
    (b"set connection parameter", 0),
    (b"get connection parameter", 0),
    (b"listen event", AMBIG),
    (b"purge stale sessions", 0),
    (b"check connection", 0),
    (b"transporter connect", XPORT),
    (b"get mgmd nodeid", 0),
    (b"report event", 0),
    (b"list sessions", 0),
    (b"list certs", 0),
    (b"get tls stats", 0),
    (b"get session id", 0),
    (b"get session", 0),
    (b"set config", 0),
    (b"set config_v2", 0),
    (b"create nodegroup", 0),
    (b"drop nodegroup", 0),
    (b"show config", 0),
    (b"reload config", 0),
    (b"show variables", 0),
    (b"dump events", 0),
    (b"set ports", PORTS),
    (b"get tls trust", 0),
    // RonDB only.
    (b"set user", 0),
    (b"alter user", 0),
    (b"drop user", 0),
    (b"get user", 0),
    (b"list users", 0),
    (b"backup users", 0),
    (b"set quotas", 0),
    (b"alter quotas", 0),
    (b"drop quotas", 0),
    (b"get quotas", 0),
    (b"list quotas", 0),
    (b"backup quotas", 0),
    (b"get mgm nodeid", 0),
    (b"set_location_domain_id", 0),
    (b"set_hostname", 0),
    (b"activate", WEAK),
    (b"deactivate", WEAK),
    (b"set_config_param", 0),
];

/// Argument names real clients send (any command); a weak command counts as strong only
/// when all its arguments are among these.
static KNOWN_ARGS: &[&[u8]] = &[
    b"version",
    b"node",
    b"nodetype",
    b"from_node",
    b"transporter",
    b"nodeid",
    b"user",
    b"password",
    b"public key",
    b"endian",
    b"name",
    b"timeout",
    b"log_event",
    b"major",
    b"minor",
    b"build",
    b"types",
    b"initialstart",
    b"nostart",
    b"abort",
    b"force",
    b"error",
    b"extra",
    b"trace",
    b"blocks",
    b"in",
    b"out",
    b"args",
    b"completed",
    b"backupid",
    b"backuppoint",
    b"encryption_password",
    b"+encryption_password",
    b"password_length",
    b"id",
    b"stop",
    b"nodeId",
    b"category",
    b"level",
    b"enable",
    b"parameter",
    b"value",
    b"node1",
    b"node2",
    b"param",
    b"parsable",
    b"filter",
    b"length",
    b"data",
    b"Content-Length",
    b"Content-Type",
    b"Content-Transfer-Encoding",
    b"nodes",
    b"ng",
    b"Section",
    b"NodeId",
    b"Name",
    b"config_filename",
    b"mycnf",
    b"type",
    b"num_ports",
    b"hostname",
    b"location_domain_id",
];

/// What a reply header promises about the lines after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hdr {
    /// `<command> reply` from the table: any well-formed first key makes it strong.
    Plain,
    /// `version`: `id: N` then `major: N`.
    Version,
    /// `node status`: `nodes: N`.
    NodeStatus,
    /// `listen event`: `result: <int>`.
    ListenEvent,
    /// `clusterlog`: `enabled: N`.
    Clusterlog,
    /// `get cluster loglevel`: `startup: N` … .
    LogLevel,
    /// `start tls reply`: `result: Ok` switches the server to TLS.
    StartTls,
    /// `get config reply`: may carry a base64 body of `Content-Length` bytes.
    Config,
    /// `show config reply` / `show variables reply`: free text until the empty line.
    FreeText,
    /// Some other `<words> reply`: strong only with a typical first key and the empty line.
    Generic,
}

static REPLY_HEADERS: &[(&[u8], Hdr)] = &[
    (b"version", Hdr::Version),
    (b"node status", Hdr::NodeStatus),
    (b"clusterlog", Hdr::Clusterlog),
    (b"get config reply", Hdr::Config),
    (b"start tls reply", Hdr::StartTls),
    (b"show config reply", Hdr::FreeText),
    (b"show variables reply", Hdr::FreeText),
    (b"get nodeid reply", Hdr::Plain),
    (b"set clientversion reply", Hdr::Plain),
    (b"restart reply", Hdr::Plain),
    (b"insert error reply", Hdr::Plain),
    (b"set trace reply", Hdr::Plain),
    (b"log signals reply", Hdr::Plain),
    (b"start signallog reply", Hdr::Plain),
    (b"stop signallog reply", Hdr::Plain),
    (b"dump state reply", Hdr::Plain),
    (b"start backup reply", Hdr::Plain),
    (b"abort backup reply", Hdr::Plain),
    (b"stop reply", Hdr::Plain),
    (b"enter single user reply", Hdr::Plain),
    (b"exit single user reply", Hdr::Plain),
    (b"start reply", Hdr::Plain),
    (b"set loglevel reply", Hdr::Plain),
    (b"set cluster loglevel reply", Hdr::Plain),
    (b"set logfilter reply", Hdr::Plain),
    (b"set parameter reply", Hdr::Plain),
    (b"set connection parameter reply", Hdr::Plain),
    (b"get connection parameter reply", Hdr::Plain),
    (b"purge stale sessions reply", Hdr::Plain),
    (b"check connection reply", Hdr::Plain),
    (b"get mgmd nodeid reply", Hdr::Plain),
    (b"report event reply", Hdr::Plain),
    (b"list certs reply", Hdr::Plain),
    (b"get tls stats reply", Hdr::Plain),
    (b"get session id reply", Hdr::Plain),
    (b"get session reply", Hdr::Plain),
    (b"set config reply", Hdr::Plain),
    (b"create nodegroup reply", Hdr::Plain),
    (b"drop nodegroup reply", Hdr::Plain),
    (b"reload config reply", Hdr::Plain),
    (b"dump events reply", Hdr::Plain),
    (b"set ports reply", Hdr::Plain),
    (b"get tls trust reply", Hdr::Plain),
];

/// Parser error texts of `result: <msg>, '<token>'` replies.
static PARSER_ERRORS: &[&[u8]] = &[
    b"Unknown command, '",
    b"Unknown argument, '",
    b"Type mismatch, '",
    b"Invalid arg. format, '",
    b"Unknown argument type, '",
    b"Argument given twice, '",
    b"Missing arg., '",
];

/// Keys of the `get cluster loglevel` reply.
static LOGLEVEL_KEYS: &[&[u8]] = &[
    b"startup",
    b"shutdown",
    b"statistics",
    b"checkpoint",
    b"noderestart",
    b"connection",
    b"info",
    b"warning",
    b"error",
    b"congestion",
    b"debug",
    b"backup",
    b"schema",
];

// ---------------------------------------------------------------------------------------
// Small byte helpers (none can panic)

fn trim(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= 20 && b.iter().all(u8::is_ascii_digit)
}

fn int(b: &[u8]) -> bool {
    digits(b.strip_prefix(b"-").unwrap_or(b))
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    if !digits(b) || b.len() > 9 {
        return None;
    }
    Some(b.iter().fold(0u32, |n, &c| {
        n.wrapping_mul(10).wrapping_add(u32::from(c - b'0'))
    }))
}

/// Split `name<sep>value` at the first `:` or `=` (as the server's parser does); name and
/// value trimmed. Returns the separator too.
fn split_kv(t: &[u8]) -> Option<(&[u8], &[u8], u8)> {
    let at = t.iter().position(|&c| c == b':' || c == b'=')?;
    let sep = *t.get(at)?;
    let name = trim(t.get(..at)?);
    let value = trim(t.get(at + 1..)?);
    (!name.is_empty()).then_some((name, value, sep))
}

/// Argument names: letters first (or `+`), then letters, digits, `_ +.-`.
fn arg_name_ok(n: &[u8]) -> bool {
    n.len() <= 48
        && n.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'+')
        && n.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b' ' | b'+' | b'.' | b'-'))
}

/// Reply keys: letters first, then letters, digits, `_.-` (e.g. `node.2.type`, `error_code`).
fn key_ok(n: &[u8]) -> bool {
    n.len() <= 48
        && n.first().is_some_and(u8::is_ascii_alphabetic)
        && n.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `<words> reply` with lower-case words (RonDB names contain `_`).
fn generic_reply_header(t: &[u8]) -> bool {
    t.strip_suffix(b" reply").is_some_and(|w| {
        !w.is_empty()
            && w.first().is_some_and(u8::is_ascii_lowercase)
            && w.iter()
                .all(|c| c.is_ascii_lowercase() || matches!(c, b' ' | b'_'))
    })
}

/// Transporter hello or its answer: `a b[ c[ d]]`, a = node id, b = 1 (TCP) or 3 (SHM).
/// Returns the number of fields.
fn transporter_line(t: &[u8]) -> Option<usize> {
    let mut n = 0usize;
    for (i, f) in t.split(|&c| c == b' ').enumerate() {
        let ok = match i {
            0 | 2 => digits(f) && f.len() <= 3,
            1 => f == b"1" || f == b"3",
            3 => digits(f) && f.len() <= 2,
            _ => false,
        };
        if !ok {
            return None;
        }
        n = i + 1;
    }
    (n >= 2).then_some(n)
}

/// `Node <id>: <text>`, the prefix of every non-parsable event line.
fn event_line(t: &[u8]) -> bool {
    let Some(rest) = t.strip_prefix(b"Node ") else {
        return false;
    };
    let Some(colon) = rest.iter().position(|&c| c == b':') else {
        return false;
    };
    digits(rest.get(..colon).unwrap_or(&[])) && rest.get(colon + 1) == Some(&b' ')
}

/// `X.Y.Z` with decimal parts.
fn dotted_version(b: &[u8]) -> bool {
    let mut parts = 0;
    for p in b.split(|&c| c == b'.') {
        if !digits(p) || p.len() > 3 {
            return false;
        }
        parts += 1;
    }
    parts == 3
}

/// Key/value lines that only an ndb_mgmd writes, whatever message they appear in.
fn distinctive_pair(name: &[u8], value: &[u8]) -> bool {
    if let Some(rest) = name.strip_prefix(b"node.") {
        // node.<id>.(type|status|version|…)
        if let Some(dot) = rest.iter().position(|&c| c == b'.') {
            let id = rest.get(..dot).unwrap_or(&[]);
            let field = rest.get(dot + 1..).unwrap_or(&[]);
            return digits(id)
                && matches!(
                    field,
                    b"type"
                        | b"status"
                        | b"version"
                        | b"mysql_version"
                        | b"startphase"
                        | b"dynamic_id"
                        | b"node_group"
                        | b"connect_count"
                        | b"address"
                        | b"is_single_user"
                );
        }
        return false;
    }
    match name {
        b"string" => {
            // mysql-X.Y.Z ndb-X.Y.Z
            let mut it = value.split(|&c| c == b' ');
            let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
                return false;
            };
            a.strip_prefix(b"mysql-").is_some_and(dotted_version)
                && b.strip_prefix(b"ndb-").is_some_and(dotted_version)
        }
        b"Content-Type" => value == b"ndbconfig/octet-stream",
        _ => false,
    }
}

fn find_command(t: &[u8]) -> Option<usize> {
    COMMANDS.iter().position(|(name, _)| *name == t)
}

fn command_flags(cmd: u8) -> u8 {
    COMMANDS.get(usize::from(cmd)).map_or(0, |c| c.1)
}

fn command_name(cmd: u8) -> &'static [u8] {
    COMMANDS.get(usize::from(cmd)).map_or(b"", |c| c.0)
}

/// Render the lines of `seg` as evidence (see the module doc for the format).
fn render_lines(seg: &[u8]) -> String {
    const CONTENT_MAX: usize = EVIDENCE_MAX - 3;
    let mut out = String::with_capacity(EVIDENCE_MAX);
    for line in seg.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if trim(line).is_empty() {
            continue;
        }
        if !out.is_empty() {
            if out.len() + 4 > CONTENT_MAX {
                out.push_str("...");
                break;
            }
            out.push_str(" / ");
        }
        let room = EVIDENCE_MAX.saturating_sub(out.len()).min(
            // Leave room for a later "..." unless this line can end the string.
            CONTENT_MAX.saturating_sub(out.len()) + 3,
        );
        if !escape_into(&mut out, line, room) {
            break;
        }
    }
    out
}

fn render_text(prefix: &str, line: &[u8]) -> String {
    let mut out = String::with_capacity(EVIDENCE_MAX);
    out.push_str(prefix);
    escape_into(&mut out, line, EVIDENCE_MAX.saturating_sub(prefix.len()));
    out
}

// ---------------------------------------------------------------------------------------
// Per-direction scanner

/// Where the scanner is inside the current message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Msg {
    /// Between messages.
    #[default]
    Idle,
    /// After a command line.
    Request {
        cmd: u8,
        args: u8,
        unknown_arg: bool,
        quoted: bool,
        bad: bool,
        content_len: u32,
    },
    /// After a reply header.
    Reply {
        hdr: Hdr,
        keys: u8,
        /// Header-specific condition met (version `id`, generic first key, TLS `Ok`).
        flag: bool,
        bad: bool,
        content_len: u32,
    },
    /// A reply without header (`result: …`, parser errors).
    Headerless,
    /// `key: value` lines with no header (another protocol, or a capture started mid-reply).
    KeyValues,
    /// After `Authorization failed`.
    AuthFail { error_seen: bool },
    /// After `log event reply`.
    LogEvent { typed: bool },
    /// After `ndbd` (data-node transporter handshake).
    Ndbd,
    /// After `transporter connect` + empty line, or `ndbd passwd`: the hello line.
    TransporterHello,
    /// `set ports` bulk lines.
    Bulk,
}

/// Rank of the evidence text kept for a direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum EvRank {
    #[default]
    None,
    /// Says what else was seen (another protocol, unrecognised text or binary).
    Other,
    Weak,
    Strong,
}

/// What has been learnt about one direction of a flow.
#[derive(Clone, Debug, Default)]
pub struct Direction {
    /// Offset of the first byte not yet consumed (start of the current line).
    pos: u32,
    /// Offset up to which the current line is known to have no LF.
    scan: u32,
    /// Bytes of this direction examined so far.
    total: u32,
    /// Body bytes still to skip (config blob, bulk data).
    skip: u32,
    /// Offset where the current message started.
    msg_start: u32,
    msg: Msg,
    /// Request-side (client) evidence.
    pub req: Strength,
    /// Reply-side (server) evidence.
    pub rep: Strength,
    ev_rank: EvRank,
    /// Evidence text (see the module doc).
    pub evidence: Option<String>,
    /// What the first bytes look like.
    pub hint: Option<Hint>,
    /// The text part ended with this switch.
    pub upgrade: Option<Upgrade>,
    pings: u8,
    hint_settled: bool,
    /// The first message (or the first bytes) is not NDB.
    foreign: bool,
    /// ... and it is something NDB never carries (server greeting or reply of another
    /// protocol, TLS, binary).
    hard: bool,
    /// Nothing more will be inspected (upgrade, binary, over-long line).
    done: bool,
    /// The byte budget for this direction is used up.
    exhausted: bool,
    /// Event-listener stream: free event text is tolerated.
    listener: bool,
    /// `start tls` was requested: TLS records may follow.
    expect_tls: bool,
    /// A transporter line (`1 1`, `ok`, `BYE`) was seen: binary may follow.
    after_transporter: bool,
    /// The current message has CRLF line ends (servers never write them).
    msg_crlf: bool,
    /// The evidence was taken from the current, unfinished message: redo it at its end.
    ev_open: bool,
    /// Bytes visited by the line scanner (tests check the scan is linear).
    #[cfg(test)]
    pub(crate) visited: usize,
}

impl Direction {
    /// True when nothing this direction may still carry can change the verdict.
    pub fn dead(&self) -> bool {
        self.done || self.exhausted || self.hard
    }

    /// True when the direction carried bytes.
    pub fn has_data(&self) -> bool {
        self.total > 0
    }

    /// Bytes examined so far.
    pub fn examined(&self) -> usize {
        self.total as usize
    }

    /// True when the first message or bytes were not NDB.
    pub fn foreign(&self) -> bool {
        self.foreign
    }

    /// True when the direction starts with something NDB never carries.
    pub fn hard_foreign(&self) -> bool {
        self.hard
    }

    fn has_ndb(&self) -> bool {
        self.req > Strength::None || self.rep > Strength::None
    }

    /// Feed the whole in-order prefix of a TCP direction, already cut to the budget.
    /// `at_budget`: the prefix reached the budget (nothing more will be examined).
    pub fn feed_stream(&mut self, buf: &[u8], at_budget: bool) {
        if self.done || self.exhausted {
            return;
        }
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        if len < self.total {
            // The caller's buffer shrank (should not happen): nothing sensible to do.
            return;
        }
        self.sniff(buf, at_budget);
        self.run(buf);
        self.total = len;
        if at_budget {
            self.exhausted = true;
        }
    }

    /// Feed one datagram, already cut to the budget left. Messages may continue across
    /// datagrams, but a line may not: a datagram ends its last line.
    pub fn feed_datagram(&mut self, d: &[u8], at_budget: bool) {
        if self.done || self.exhausted {
            return;
        }
        if !self.hint_settled && !d.is_empty() {
            self.hint_settled = true;
            self.hint = hints::sniff_datagram(d);
            self.apply_hint(d);
        }
        self.pos = 0;
        self.scan = 0;
        self.msg_start = 0;
        self.ev_open = false;
        self.run(d);
        let end = d.len();
        let pos = self.pos as usize;
        if !self.done && self.skip == 0 && pos < end {
            self.on_line(d, pos, end);
        }
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        self.total = self.total.saturating_add(len);
        if at_budget {
            self.exhausted = true;
        }
    }

    /// Name the first bytes while that can still change.
    fn sniff(&mut self, buf: &[u8], at_budget: bool) {
        if self.hint_settled || buf.is_empty() {
            return;
        }
        let s = hints::sniff_stream(buf);
        self.hint = s.hint;
        if s.settled || at_budget || buf.len() >= hints::SNIFF_LEN {
            self.hint_settled = true;
            self.apply_hint(buf);
        }
    }

    fn apply_hint(&mut self, prefix: &[u8]) {
        let Some(h) = self.hint else {
            return;
        };
        if self.has_ndb() {
            return;
        }
        if h.is_identified() || h == Hint::Binary {
            self.set_other_evidence(|| h.describe(prefix));
        }
        if h.is_hard() {
            // Clearly something else: nothing later in this direction is inspected.
            self.foreign = true;
            self.hard = true;
            self.done = true;
        }
    }

    /// Scan complete lines from `pos`, each byte once.
    fn run(&mut self, buf: &[u8]) {
        let end = buf.len();
        while !self.done {
            let pos = self.pos as usize;
            if self.skip > 0 {
                let n = u32::try_from(end.saturating_sub(pos))
                    .unwrap_or(u32::MAX)
                    .min(self.skip);
                self.skip -= n;
                self.pos = self.pos.saturating_add(n);
                self.scan = self.pos;
                if self.skip > 0 {
                    return;
                }
                continue;
            }
            if pos >= end {
                return;
            }
            if self.expect_tls && self.msg == Msg::Idle {
                self.expect_tls = false;
                if buf.get(pos) == Some(&0x16) {
                    self.upgrade = Some(Upgrade::Tls);
                    self.done = true;
                    return;
                }
            }
            let from = (self.scan as usize).max(pos);
            let rest = buf.get(from..).unwrap_or(&[]);
            let found = rest
                .iter()
                .position(|&c| c == b'\n' || !matches!(c, 0x20..=0x7e | b'\t' | b'\r'));
            #[cfg(test)]
            {
                self.visited += found.map_or(rest.len(), |i| i + 1);
            }
            match found {
                Some(i) => {
                    let at = from + i;
                    if buf.get(at) == Some(&b'\n') {
                        if at - pos > MAX_LINE {
                            self.too_long(buf, pos);
                            return;
                        }
                        self.on_line(buf, pos, at);
                        self.pos = u32::try_from(at + 1).unwrap_or(u32::MAX);
                        self.scan = self.pos;
                    } else {
                        self.scan = u32::try_from(at).unwrap_or(u32::MAX);
                        self.binary(buf, pos);
                        return;
                    }
                }
                None => {
                    self.scan = u32::try_from(end).unwrap_or(u32::MAX);
                    if end - pos > MAX_LINE {
                        self.too_long(buf, pos);
                    }
                    return;
                }
            }
        }
    }

    /// A byte outside text in the line starting at `pos`.
    fn binary(&mut self, buf: &[u8], pos: usize) {
        if !self.hint_settled {
            // The first bytes are still being named (a TLS or MySQL header needs a few
            // bytes): let the hint decide once it can.
            return;
        }
        self.done = true;
        if self.msg == Msg::TransporterHello || self.after_transporter {
            self.upgrade.get_or_insert(Upgrade::Transporter);
            return;
        }
        if self.has_ndb() {
            return;
        }
        let rest = buf.get(pos..).unwrap_or(&[]);
        self.mark_foreign(true, || hints::describe_binary(rest));
    }

    /// A line longer than the server's parser buffer.
    fn too_long(&mut self, buf: &[u8], pos: usize) {
        self.done = true;
        if !self.has_ndb() {
            let rest = buf.get(pos..).unwrap_or(&[]);
            let line = rest.get(..60).unwrap_or(rest);
            self.mark_foreign(false, || render_text("long line: ", line));
        }
    }

    fn mark_foreign(&mut self, hard: bool, describe: impl FnOnce() -> String) {
        if self.has_ndb() {
            return;
        }
        self.foreign = true;
        if hard {
            self.hard = true;
            self.done = true;
        }
        self.set_other_evidence(describe);
    }

    fn set_other_evidence(&mut self, describe: impl FnOnce() -> String) {
        if self.ev_rank == EvRank::None {
            self.evidence = Some(describe());
            self.ev_rank = EvRank::Other;
        }
    }

    /// Keep `buf[from..to]` as evidence if it ranks above what is kept.
    fn note(&mut self, rank: EvRank, buf: &[u8], from: usize, to: usize) {
        if rank > self.ev_rank {
            self.evidence = Some(render_lines(buf.get(from..to).unwrap_or(&[])));
            self.ev_rank = rank;
            self.ev_open = false;
        }
    }

    fn credit_req(&mut self, s: Strength, buf: &[u8], to: usize) {
        self.req = self.req.max(s);
        let rank = if s == Strength::Strong {
            EvRank::Strong
        } else {
            EvRank::Weak
        };
        self.note(rank, buf, self.msg_start as usize, to);
    }

    /// Credit reply evidence for the current message (never for CRLF text).
    /// `open`: the message is not finished; its evidence is redone at its end.
    fn credit_rep(&mut self, s: Strength, buf: &[u8], to: usize, open: bool) -> bool {
        if self.msg_crlf {
            return false;
        }
        self.rep = self.rep.max(s);
        let rank = if s == Strength::Strong {
            EvRank::Strong
        } else {
            EvRank::Weak
        };
        if rank > self.ev_rank {
            self.note(rank, buf, self.msg_start as usize, to);
            self.ev_open = open;
        }
        true
    }

    /// The current message ended at `to`: finish evidence taken from it.
    fn end_message(&mut self, buf: &[u8], to: usize) {
        if self.ev_open {
            self.ev_open = false;
            self.evidence = Some(render_lines(
                buf.get(self.msg_start as usize..to).unwrap_or(&[]),
            ));
        }
        self.msg = Msg::Idle;
    }

    /// One complete line `buf[start..end]` (LF excluded).
    fn on_line(&mut self, buf: &[u8], start: usize, end: usize) {
        let raw = buf.get(start..end).unwrap_or(&[]);
        let (raw, cr) = match raw.strip_suffix(b"\r") {
            Some(r) => (r, true),
            None => (raw, false),
        };
        let t = trim(raw);
        if self.msg == Msg::Idle {
            self.begin(buf, start, end, cr, raw, t);
            return;
        }
        self.msg_crlf |= cr;
        match self.msg {
            Msg::Idle => {}
            Msg::Request { .. } => self.request_line(buf, start, end, raw, t),
            Msg::Reply { .. } => {
                if t.is_empty() {
                    self.end_reply(buf, start);
                } else {
                    self.reply_line(buf, end, t);
                }
            }
            Msg::Headerless | Msg::KeyValues => {
                if t.is_empty() {
                    self.end_headerless(buf, start);
                } else if let Some((name, value, b':')) = split_kv(t) {
                    if distinctive_pair(name, value) {
                        self.credit_rep(Strength::Strong, buf, end, true);
                    }
                }
            }
            Msg::AuthFail { error_seen } => {
                if t.is_empty() {
                    self.end_message(buf, start);
                } else if !error_seen && raw.starts_with(b"Error: ") {
                    self.msg = Msg::AuthFail { error_seen: true };
                    self.credit_rep(Strength::Strong, buf, end, true);
                } else if !error_seen {
                    // Not the refusal after all: read the line afresh.
                    self.msg = Msg::Idle;
                    self.begin(buf, start, end, cr, raw, t);
                }
            }
            Msg::LogEvent { typed } => {
                if t.is_empty() {
                    self.end_message(buf, start);
                } else if !typed {
                    match split_kv(t) {
                        Some((b"type", v, b'=')) if digits(v) => {
                            self.msg = Msg::LogEvent { typed: true };
                            self.listener = true;
                            self.credit_rep(Strength::Strong, buf, end, true);
                        }
                        _ => {
                            self.msg = Msg::Idle;
                            self.begin(buf, start, end, cr, raw, t);
                        }
                    }
                }
            }
            Msg::Ndbd => {
                self.msg = Msg::Idle;
                if t == b"ndbd passwd" {
                    self.credit_req(Strength::Strong, buf, end);
                    self.upgrade = Some(Upgrade::Transporter);
                    self.msg = Msg::TransporterHello;
                } else {
                    self.mark_foreign(false, || render_text("text: ", b"ndbd"));
                    self.begin(buf, start, end, cr, raw, t);
                }
            }
            Msg::TransporterHello => {
                // The hello line (or whatever came instead); binary follows.
                if transporter_line(t).is_some() {
                    self.msg_start = start as u32;
                    self.credit_req(Strength::Weak, buf, end);
                }
                self.done = true;
            }
            Msg::Bulk => {
                if t.is_empty() {
                    self.msg = Msg::Idle;
                }
            }
        }
    }

    /// The first line of a message.
    fn begin(&mut self, buf: &[u8], start: usize, end: usize, cr: bool, raw: &[u8], t: &[u8]) {
        if t.is_empty() {
            return; // empty lines between messages (config trailers, CRLF clients)
        }
        self.msg_start = start as u32;
        self.msg_crlf = cr;
        self.ev_open = false;
        if t == b"<PING>" {
            self.pings = self.pings.saturating_add(1);
            self.listener = true;
            if self.pings >= 2 {
                if !self.msg_crlf && self.ev_rank < EvRank::Strong {
                    self.rep = Strength::Strong;
                    self.evidence = Some(String::from("<PING> / <PING>"));
                    self.ev_rank = EvRank::Strong;
                }
            } else {
                self.credit_rep(Strength::Weak, buf, end, false);
            }
            return;
        }
        if let Some(i) = find_command(t) {
            self.msg = Msg::Request {
                cmd: i as u8,
                args: 0,
                unknown_arg: false,
                quoted: false,
                bad: false,
                content_len: 0,
            };
            return;
        }
        if t == b"end session reply" {
            // The one reply without an empty line.
            self.credit_rep(Strength::Strong, buf, end, false);
            return;
        }
        if t == b"log event reply" {
            self.msg = Msg::LogEvent { typed: false };
            return;
        }
        if let Some(&(_, hdr)) = REPLY_HEADERS.iter().find(|(name, _)| *name == t) {
            self.msg = Msg::Reply {
                hdr,
                keys: 0,
                flag: false,
                bad: false,
                content_len: 0,
            };
            return;
        }
        if generic_reply_header(t) {
            self.msg = Msg::Reply {
                hdr: Hdr::Generic,
                keys: 0,
                flag: false,
                bad: false,
                content_len: 0,
            };
            return;
        }
        if let Some(value) = raw.strip_prefix(b"result:") {
            self.msg = Msg::Headerless;
            let value = trim(value);
            if PARSER_ERRORS.iter().any(|e| value.starts_with(e)) {
                self.credit_rep(Strength::Strong, buf, end, true);
            }
            return;
        }
        if t == b"Authorization failed" {
            self.msg = Msg::AuthFail { error_seen: false };
            return;
        }
        if t == b"ndbd" {
            self.msg = Msg::Ndbd;
            return;
        }
        if let Some(fields) = transporter_line(t) {
            self.after_transporter = true;
            if fields == 2 {
                self.credit_rep(Strength::Weak, buf, end, false);
            } else if !cr {
                self.credit_req(Strength::Weak, buf, end);
            }
            return;
        }
        if t == b"BYE" || t == b"ok" {
            self.after_transporter = true;
            self.credit_rep(Strength::Weak, buf, end, false);
            return;
        }
        if event_line(t) {
            self.listener = true;
            self.credit_rep(Strength::Weak, buf, end, false);
            return;
        }
        if let Some((name, value, _)) = split_kv(t) {
            if key_ok(name) {
                self.msg = Msg::KeyValues;
                if distinctive_pair(name, value) {
                    self.credit_rep(Strength::Strong, buf, end, true);
                }
                return;
            }
        }
        if self.listener {
            return; // continuation of a multi-line event text
        }
        // Not NDB. Like the server's parser, take the next line as a new message.
        self.mark_foreign(false, || render_text("text: ", t));
    }

    fn request_line(&mut self, buf: &[u8], start: usize, end: usize, raw: &[u8], t: &[u8]) {
        let Msg::Request {
            cmd,
            args,
            mut unknown_arg,
            mut quoted,
            mut bad,
            mut content_len,
        } = self.msg
        else {
            return;
        };
        if t.is_empty() {
            self.end_request(buf, start);
            return;
        }
        let flags = command_flags(cmd);
        match split_kv(t) {
            Some((name, value, sep)) if arg_name_ok(name) => {
                if flags & AMBIG != 0 && args == 0 && !self.request_arg(cmd, name) {
                    // `listen event` / `get cluster loglevel` as a reply header.
                    let hdr = if command_name(cmd) == b"listen event" {
                        Hdr::ListenEvent
                    } else {
                        Hdr::LogLevel
                    };
                    self.msg = Msg::Reply {
                        hdr,
                        keys: 0,
                        flag: false,
                        bad: false,
                        content_len: 0,
                    };
                    self.reply_line(buf, end, t);
                    return;
                }
                unknown_arg |= !KNOWN_ARGS.contains(&name);
                // 8.0+ clients write strings as name:"value" (no space, quoted).
                let tight = raw.get(name.len()..name.len() + 2) == Some(b":\"");
                quoted |= sep == b':' && tight && value.len() >= 2 && value.ends_with(b"\"");
                if name == b"Content-Length" {
                    content_len = parse_u32(value).unwrap_or(0);
                }
            }
            _ => bad = true,
        }
        self.msg = Msg::Request {
            cmd,
            args: args.saturating_add(1),
            unknown_arg,
            quoted,
            bad,
            content_len,
        };
    }

    /// Is `name` an argument of the ambiguous command `cmd` (rather than a reply key)?
    fn request_arg(&self, cmd: u8, name: &[u8]) -> bool {
        command_name(cmd) == b"listen event" && matches!(name, b"node" | b"parsable" | b"filter")
    }

    fn end_request(&mut self, buf: &[u8], blank_at: usize) {
        let Msg::Request {
            cmd,
            args,
            unknown_arg,
            quoted,
            bad,
            content_len,
        } = self.msg
        else {
            return;
        };
        self.msg = Msg::Idle;
        if bad {
            let first = buf
                .get(self.msg_start as usize..blank_at)
                .and_then(|m| m.split(|&c| c == b'\n').next())
                .unwrap_or(&[]);
            self.mark_foreign(false, || render_text("malformed request: ", first));
            return;
        }
        let flags = command_flags(cmd);
        let strong = if flags & WEAK != 0 {
            (args > 0 && !unknown_arg) || quoted
        } else {
            true
        };
        let s = if strong {
            Strength::Strong
        } else {
            Strength::Weak
        };
        self.credit_req(s, buf, blank_at);
        if flags & TLS != 0 {
            self.expect_tls = true;
        }
        if flags & XPORT != 0 {
            self.upgrade = Some(Upgrade::Transporter);
            self.msg = Msg::TransporterHello;
        }
        if flags & PORTS != 0 {
            self.msg = Msg::Bulk;
        }
        if content_len > 0 {
            self.skip = content_len.min(MAX_BODY);
        }
    }

    fn reply_line(&mut self, buf: &[u8], end: usize, t: &[u8]) {
        let Msg::Reply {
            hdr,
            keys,
            mut flag,
            mut bad,
            mut content_len,
        } = self.msg
        else {
            return;
        };
        if hdr == Hdr::FreeText {
            return;
        }
        let keys = keys.saturating_add(1);
        let mut strong = false;
        match split_kv(t) {
            Some((name, value, b':')) if key_ok(name) => {
                strong |= distinctive_pair(name, value);
                match hdr {
                    Hdr::Plain | Hdr::Config => strong |= keys == 1,
                    // Decided at the empty line, where the switch to TLS happens.
                    Hdr::StartTls => {}
                    Hdr::Version => {
                        if keys == 1 {
                            flag = name == b"id" && digits(value);
                        } else if keys == 2 {
                            strong |= flag && name == b"major" && digits(value);
                        }
                    }
                    Hdr::NodeStatus => strong |= keys == 1 && name == b"nodes" && digits(value),
                    Hdr::ListenEvent => {
                        if keys == 1 && name == b"result" && int(value) {
                            strong = true;
                            self.listener = true;
                        }
                    }
                    Hdr::Clusterlog => strong |= keys == 1 && name == b"enabled" && digits(value),
                    Hdr::LogLevel => {
                        strong |= keys == 1 && LOGLEVEL_KEYS.contains(&name) && digits(value)
                    }
                    Hdr::Generic => {
                        if keys == 1 {
                            flag = matches!(name, b"result" | b"message" | b"nodeid" | b"id");
                        }
                    }
                    Hdr::FreeText => {}
                }
                if hdr == Hdr::StartTls && name == b"result" {
                    flag = value == b"Ok";
                }
                if hdr == Hdr::Config && name == b"Content-Length" {
                    content_len = parse_u32(value).unwrap_or(0);
                }
            }
            _ => bad = true,
        }
        self.msg = Msg::Reply {
            hdr,
            keys,
            flag,
            bad,
            content_len,
        };
        if strong {
            self.credit_rep(Strength::Strong, buf, end, true);
        }
    }

    fn end_reply(&mut self, buf: &[u8], blank_at: usize) {
        let Msg::Reply {
            hdr,
            keys,
            flag,
            bad,
            content_len,
        } = self.msg
        else {
            return;
        };
        match hdr {
            Hdr::Generic if flag && !bad => {
                self.credit_rep(Strength::Strong, buf, blank_at, false);
            }
            Hdr::FreeText => {
                self.credit_rep(Strength::Strong, buf, blank_at, false);
            }
            Hdr::StartTls if keys > 0 && !bad => {
                self.credit_rep(Strength::Strong, buf, blank_at, false);
            }
            _ if self.rep < Strength::Strong || keys == 0 => {
                // A header of this protocol without the expected keys: weak.
                self.credit_rep(Strength::Weak, buf, blank_at, false);
            }
            _ => {}
        }
        let credited = !self.msg_crlf && self.rep == Strength::Strong;
        self.end_message(buf, blank_at);
        if hdr == Hdr::StartTls && flag && credited {
            self.upgrade = Some(Upgrade::Tls);
            self.done = true;
        }
        if hdr == Hdr::Config && content_len > 0 {
            self.skip = content_len.min(MAX_BODY);
        }
    }

    fn end_headerless(&mut self, buf: &[u8], blank_at: usize) {
        if self.msg == Msg::Headerless {
            // `result: …` + empty line: the shape of a reply, generic on its own.
            self.credit_rep(Strength::Weak, buf, blank_at, false);
        }
        self.end_message(buf, blank_at);
    }
}

// ---------------------------------------------------------------------------------------
// Verdict from both directions

/// The decision drawn from both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub confidence: Confidence,
    pub roles: [Option<Role>; 2],
    /// `Match` / `NoMatch` when more data cannot change the verdict, else `NeedMore`.
    pub state: ProbeState,
    /// Direction whose answer contradicts NDB requests of the other direction.
    pub contradiction: Option<usize>,
    /// Best name for the flow when it is not NDB.
    pub hint: Option<Hint>,
}

fn roles_for(server: usize) -> [Option<Role>; 2] {
    if server == 0 {
        [Some(Role::Server), Some(Role::Client)]
    } else {
        [Some(Role::Client), Some(Role::Server)]
    }
}

/// The most telling hint of the two directions.
fn best_hint(d: &[Direction; 2]) -> Option<Hint> {
    let rank = |h: &Hint| match (h.is_identified(), h.is_hard(), *h) {
        (true, true, _) => 4,
        (true, false, _) => 3,
        (false, _, Hint::Binary) => 2,
        _ => 1,
    };
    d.iter().filter_map(|x| x.hint).max_by_key(|h| rank(h))
}

/// Combine both directions into a verdict (see the crate docs for the rules).
pub fn judge(d: &[Direction; 2]) -> Judgement {
    use Strength::{Strong, Weak};
    let other = |i: usize| &d[1 - i];

    // 1. A side answers like an ndb_mgmd: the flow is NDB whatever the other side sent.
    let serves = |i: usize| d[i].rep == Strong;
    let answered = |i: usize| other(i).req >= Weak && other(i).rep < Strong;
    let server = if serves(0) && (answered(0) || !serves(1)) {
        Some(0)
    } else if serves(1) {
        Some(1)
    } else {
        None
    };
    if let Some(s) = server {
        let c = other(s);
        let agree = c.req >= Weak && c.rep < Strong;
        return Judgement {
            verdict: Verdict::NdbMgm,
            confidence: if agree {
                Confidence::High
            } else {
                Confidence::Medium
            },
            roles: roles_for(s),
            state: if agree || c.dead() {
                ProbeState::Match
            } else {
                ProbeState::NeedMore
            },
            contradiction: None,
            hint: None,
        };
    }

    // 2. A side sends distinctive NDB requests.
    if let Some(c) = (0..2).find(|&i| d[i].req == Strong) {
        let o = other(c);
        let s = 1 - c;
        // Binary or TLS from the other side is expected once this side switched.
        let after_switch = d[c].upgrade.is_some()
            && matches!(
                o.hint,
                Some(Hint::Binary | Hint::TlsClientHello | Hint::TlsServerHello | Hint::TlsRecord)
            );
        if o.foreign && o.rep == Strength::None && !after_switch {
            // The other side answers in another protocol: the server does not speak NDB.
            return Judgement {
                verdict: Verdict::Unknown,
                confidence: Confidence::High,
                roles: roles_for(s),
                state: ProbeState::NoMatch,
                contradiction: Some(s),
                hint: best_hint(d),
            };
        }
        let agree = o.rep >= Weak;
        return Judgement {
            verdict: Verdict::NdbMgm,
            confidence: if agree {
                Confidence::High
            } else {
                Confidence::Medium
            },
            roles: roles_for(s),
            state: if agree || o.dead() {
                ProbeState::Match
            } else {
                ProbeState::NeedMore
            },
            contradiction: None,
            hint: None,
        };
    }

    // 3. Not (yet) NDB.
    let hint = best_hint(d);
    let (t0, t1) = (d[0].total, d[1].total);
    let confidence =
        if hint.is_some_and(Hint::is_identified) || (t0 >= ENOUGH_DATA && t1 >= ENOUGH_DATA) {
            Confidence::High
        } else if t0.saturating_add(t1) < ALMOST_NOTHING {
            Confidence::Low
        } else {
            Confidence::Medium
        };
    let mut roles: [Option<Role>; 2] = [d[0].hint, d[1].hint].map(|h| h.and_then(Hint::role));
    match roles {
        [Some(a), Some(b)] if a == b => roles = [None, None],
        [Some(Role::Client), None] | [None, Some(Role::Server)] => roles = roles_for(1),
        [Some(Role::Server), None] | [None, Some(Role::Client)] => roles = roles_for(0),
        _ => {}
    }
    let weak_somewhere = d.iter().any(|x| x.req >= Weak || x.rep >= Weak);
    let finished = d.iter().any(Direction::hard_foreign)
        || d.iter().all(Direction::dead)
        || (!weak_somewhere && d.iter().all(|x| x.foreign && x.total >= FOREIGN_ENOUGH));
    Judgement {
        verdict: Verdict::Unknown,
        confidence,
        roles,
        state: if finished {
            ProbeState::NoMatch
        } else {
            ProbeState::NeedMore
        },
        contradiction: None,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(bytes: &[u8]) -> Direction {
        let mut d = Direction::default();
        d.feed_stream(bytes, false);
        d
    }

    #[test]
    fn helpers() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(
            split_kv(b"name:\"x\""),
            Some((&b"name"[..], &b"\"x\""[..], b':'))
        );
        assert_eq!(
            split_kv(b"3=-40717"),
            Some((&b"3"[..], &b"-40717"[..], b'='))
        );
        assert_eq!(
            split_kv(b"public key: a: b"),
            Some((&b"public key"[..], &b"a: b"[..], b':'))
        );
        assert_eq!(split_kv(b":x"), None);
        assert_eq!(transporter_line(b"2 1 1 0"), Some(4));
        assert_eq!(transporter_line(b"1 1"), Some(2));
        assert_eq!(transporter_line(b"1 2"), None);
        assert_eq!(transporter_line(b"1"), None);
        assert_eq!(transporter_line(b"1 1 1 1 1"), None);
        assert!(event_line(b"Node 2: Backup 1 started from node 1"));
        assert!(!event_line(b"Node x: y"));
        assert!(generic_reply_header(b"set_hostname reply"));
        assert!(!generic_reply_header(b" reply"));
        assert!(!generic_reply_header(b"Foo reply"));
        assert!(distinctive_pair(b"node.2.type", b"NDB"));
        assert!(!distinctive_pair(b"node.x.type", b"NDB"));
        assert!(distinctive_pair(b"string", b"mysql-8.0.35 ndb-8.0.35"));
        assert!(!distinctive_pair(b"string", b"mysql-8.0.35"));
        assert!(distinctive_pair(b"Content-Type", b"ndbconfig/octet-stream"));
        assert_eq!(parse_u32(b"162"), Some(162));
        assert_eq!(parse_u32(b"99999999999"), None);
    }

    #[test]
    fn render_format() {
        assert_eq!(
            render_lines(b"get nodeid reply\nnodeid: 2\nresult: Ok\n"),
            "get nodeid reply / nodeid: 2 / result: Ok"
        );
        assert_eq!(
            render_lines(b"check connection\r\n\r\n"),
            "check connection"
        );
        let long = render_lines(&b"node.2.status: STARTED\n".repeat(20));
        assert!(long.len() <= EVIDENCE_MAX, "{}", long.len());
        assert!(long.ends_with("..."));
        let one = render_lines(&[b'a'; 300]);
        assert!(one.len() <= EVIDENCE_MAX);
        assert!(one.ends_with("..."));
    }

    #[test]
    fn strengths_of_single_messages() {
        assert_eq!(dir(b"check connection\n\n").req, Strength::Strong);
        assert_eq!(dir(b"check connection\n").req, Strength::None);
        assert_eq!(dir(b"get status\n\n").req, Strength::Weak);
        assert_eq!(
            dir(b"get config\nversion: 0\nnode: 2\n\n").req,
            Strength::Strong
        );
        assert_eq!(dir(b"get config\nfoo: 0\n\n").req, Strength::Weak);
        assert_eq!(dir(b"stop\nnode:\"2\"\n\n").req, Strength::Strong);
        assert_eq!(dir(b"get nodeid reply\nnodeid: 2\n").rep, Strength::Strong);
        assert_eq!(dir(b"result: Ok\n\n").rep, Strength::Weak);
        assert_eq!(dir(b"version\nid: 1\nmajor: 8\n").rep, Strength::Strong);
        assert_eq!(dir(b"version\nid: 1\n").rep, Strength::None);
        assert_eq!(dir(b"listen event\nresult: 0\n").rep, Strength::Strong);
        assert_eq!(dir(b"listen event\nfilter: 1=1\n\n").req, Strength::Strong);
        assert_eq!(
            dir(b"get cluster loglevel\nstartup: 7\n").rep,
            Strength::Strong
        );
        assert_eq!(dir(b"whatever reply\nresult: Ok\n\n").rep, Strength::Strong);
        assert_eq!(dir(b"whatever reply\nfoo: 1\n\n").rep, Strength::Weak);
        assert_eq!(dir(b"<PING>\n").rep, Strength::Weak);
        assert_eq!(dir(b"<PING>\n<PING>\n").rep, Strength::Strong);
        assert_eq!(dir(b"end session reply\n").rep, Strength::Strong);
        // CRLF replies never count: the server writes LF only.
        assert_eq!(
            dir(b"get nodeid reply\r\nnodeid: 2\r\n").rep,
            Strength::None
        );
    }

    #[test]
    fn foreign_and_hard() {
        let d = dir(b"hello\n\n");
        assert!(d.foreign() && !d.hard_foreign());
        let d = dir(b"\x00\x01\x02\x03\x04\x05\x06");
        assert!(d.foreign() && d.hard_foreign() && d.done);
        let d = dir(b"key: value\n\n");
        assert!(!d.foreign());
        let mut long = b"x".repeat(600);
        long.push(b'\n');
        let d = dir(&long);
        assert!(d.foreign() && d.done);
    }

    #[test]
    fn direction_state_stays_small() {
        assert!(
            std::mem::size_of::<Direction>() <= 96,
            "{}",
            std::mem::size_of::<Direction>()
        );
    }
}
