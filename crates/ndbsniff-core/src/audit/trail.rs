//! The audit trail of one management session: a [`Sink`] of both directions' scanner events
//! that pairs each request with its reply, keeps the commands (the first and last
//! [`KEEP_FIRST`] / [`KEEP_LAST`]), counts events and pings, learns what the client is, and
//! flags risks.
//!
//! Owns: pairing (strict request → reply per connection, pipelined requests answered in order;
//! a reply is matched to the oldest waiting request its header answers, so a lost reply or
//! request costs only that command), what is kept of each command (escaped, cut, secrets
//! redacted), the bound on what a session holds and its reservation from the run's
//! [`MemCap`].
//!
//! Memory bound per session: at most [`KEEP_FIRST`] + [`KEEP_LAST`] kept commands and
//! [`MAX_PENDING`] waiting requests per direction, each holding at most [`MAX_ARGS`] arguments
//! and [`MAX_FIELDS`] reply fields of at most [`NAME_MAX`] + [`VALUE_MAX`] characters, a request
//! line and reply header of at most [`TEXT_MAX`] and a result of at most [`RESULT_MAX`]; one
//! `node status` snapshot of at most [`MAX_NODES`] nodes; at most [`MAX_EVENT_TYPES`] event
//! counters. [`Trail::heap_bytes`] is what it holds; every growth beyond [`BASE_CHARGE`] is
//! reserved from the memcap first, and a command the cap refuses is counted as dropped.
//!
//! Must never: keep packet bytes (only escaped, bounded text), print a secret (any argument
//! whose name contains `password`, in any case, is `<redacted>`), panic on any events, or grow
//! past the bound above.

use std::collections::VecDeque;
use std::net::IpAddr;

use super::events;
use crate::classify::ndb_mgm::grammar::{self, split_kv, trim, Command as Cmd, Header};
use crate::classify::ndb_mgm::{Event, Line, Sink, Upgrade};
use crate::escape::escape_prefix;
use crate::memcap::MemCap;
use crate::report::ndb::{
    Command, EventCount, NdbSession, NodeClaim, NodeType, Pairs, Peer, Risk, Risks, StatusNode,
    StatusSnapshot,
};

/// Commands kept from the start of a session.
pub const KEEP_FIRST: usize = 32;
/// Commands kept from its end.
pub const KEEP_LAST: usize = 32;
/// Requests kept waiting for their replies, per direction; an older one is closed without
/// reply when a newer one does not fit.
pub const MAX_PENDING: usize = 16;
/// Arguments kept per request.
pub const MAX_ARGS: usize = 12;
/// Reply fields kept per command.
pub const MAX_FIELDS: usize = 8;
/// Longest argument or field name kept (characters, escaped).
pub const NAME_MAX: usize = 32;
/// Longest argument or field value kept.
pub const VALUE_MAX: usize = 64;
/// Longest request line or reply header kept.
pub const TEXT_MAX: usize = 64;
/// Longest result kept.
pub const RESULT_MAX: usize = 96;
/// Nodes kept of a `node status` reply (the protocol has ids 1 to 255).
pub const MAX_NODES: usize = 256;
/// Distinct event types counted; later ones count as `unknown`.
pub const MAX_EVENT_TYPES: usize = 64;
/// What a session reserves when it starts: the trail itself and its open messages.
pub const BASE_CHARGE: usize = 4096;

/// The value printed for a secret.
pub const REDACTED: &str = "<redacted>";

/// Reply fields kept with a command.
const KEPT_FIELDS: &[&[u8]] = &[
    b"nodeid",
    b"id",
    b"stopped",
    b"restarted",
    b"started",
    b"disconnect",
    b"error_code",
    b"ng",
    b"message",
    b"msg",
    b"string",
    b"nodes",
    b"value",
    b"events",
    b"enabled",
];

/// A request being read, or waiting for its reply.
#[derive(Clone, Debug, Default)]
struct Req {
    at: i64,
    /// The direction it came from.
    dir: u8,
    /// The command, `None` for a line the server does not know.
    cmd: Option<Cmd>,
    text: String,
    args: Pairs,
}

impl Req {
    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.args.heap_bytes()
    }

    fn arg(&self, name: &str) -> Option<&str> {
        self.args.get(name)
    }
}

/// A reply being read.
#[derive(Clone, Debug, Default)]
struct Rep {
    at: i64,
    /// The direction it came from.
    dir: u8,
    /// The header line, `None` for a reply without one.
    header: Option<String>,
    hdr: Option<Header>,
    result: Option<String>,
    fields: Pairs,
    /// `node status` rows.
    nodes: Vec<StatusNode>,
}

/// What the direction is in the middle of.
#[derive(Clone, Debug, Default)]
enum Open {
    #[default]
    None,
    Request(Req),
    Reply(Rep),
    /// A parsable event block; its type once read.
    Event(Option<u32>),
    /// Headerless lines from a client: each is a command to the server's parser.
    ClientLines,
}

/// The audit trail of one session (both directions; index = direction of the flow).
#[derive(Debug, Default)]
pub struct Trail {
    open: [Open; 2],
    pending: [VecDeque<Req>; 2],
    /// The direction answered like a server (replies, pings, events).
    server_like: [bool; 2],
    /// The direction sent a request of the table.
    client_like: [bool; 2],
    /// Bytes of the direction were lost: its events are ignored until one opens a message.
    resync: [bool; 2],
    first: Vec<Command>,
    last: VecDeque<Command>,
    total: u64,
    dropped: u64,
    events: Vec<EventCount>,
    pings: u64,
    upgrade: Option<Upgrade>,
    gaps: u32,
    /// The capture started inside the session.
    pub(crate) partial: bool,
    risks: Risks,
    /// Commands of the table the client sent (bit = table index).
    seen: u128,
    first_cmd: Option<Cmd>,
    checks: u32,
    statuses: u32,
    /// Commands other than `check connection`, `get status` and the bookkeeping every client
    /// does (`get version`, `get config`, …).
    others: u32,
    node_type: Option<NodeType>,
    node_id: Option<u32>,
    client_version: Option<u32>,
    server_version: Option<String>,
    status: Option<StatusSnapshot>,
    allocated: Option<NodeClaim>,
    config_fetch: Option<NodeClaim>,
    /// [`BASE_CHARGE`] when it was reserved for this trail, else 0.
    base: usize,
    /// Heap bytes reserved from the memcap beyond the base.
    charged: usize,
    /// The memcap refused something.
    pub(crate) refused: bool,
    /// Live runs: the commands to announce as soon as they complete (`Some` when asked).
    notes: Option<Vec<Command>>,
}

/// Feeds one direction's events to a [`Trail`] at capture time `now`.
pub struct Feed<'a> {
    /// The trail.
    pub trail: &'a mut Trail,
    /// Which direction the events are of.
    pub dir: usize,
    /// Capture time of the packet that carried them.
    pub now: i64,
    /// The budget growth is reserved from.
    pub mem: &'a MemCap,
}

impl Sink for Feed<'_> {
    #[inline]
    fn event(&mut self, ev: Event<'_>) {
        self.trail.event(self.dir, self.now, ev, self.mem);
    }
}

/// Feeds events to a trail that is created by the first event that may belong to a session
/// (until then a flow being inspected carries none).
pub struct Lazy<'a> {
    /// Where the trail is, once there is one.
    pub slot: &'a mut Option<Box<Trail>>,
    /// Which direction the events are of.
    pub dir: usize,
    /// Capture time of the packet that carried them.
    pub now: i64,
    /// The budget the trail is reserved from.
    pub mem: &'a MemCap,
}

impl Sink for Lazy<'_> {
    #[inline]
    fn event(&mut self, ev: Event<'_>) {
        if self.slot.is_none() {
            if !starts_session(&ev) {
                return;
            }
            match Trail::reserve(self.mem) {
                Some(t) => *self.slot = Some(t),
                None => return,
            }
        }
        if let Some(t) = self.slot.as_deref_mut() {
            t.event(self.dir, self.now, ev, self.mem);
        }
    }
}

/// Events that can open a session's trail (text of another protocol, binary and bodies do not).
fn starts_session(ev: &Event<'_>) -> bool {
    matches!(
        ev,
        Event::Request { .. }
            | Event::Reply { .. }
            | Event::Result { .. }
            | Event::Ping { .. }
            | Event::EventType { .. }
            | Event::EventText { .. }
            | Event::DataNodeHandshake { .. }
            | Event::Field { .. }
            | Event::Transporter { .. }
    )
}

/// A value as the server's parser reads it: quotes around it removed.
fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

fn parse_i64(v: &str) -> Option<i64> {
    v.parse::<i64>().ok()
}

fn parse_u32(v: &str) -> Option<u32> {
    v.parse::<u32>().ok()
}

/// The line an `Unknown command, '<line>'` result quotes (escaped, as kept).
fn unknown_line(result: &str) -> Option<&str> {
    let rest = result.strip_prefix("Unknown command, '")?;
    Some(rest.strip_suffix('\'').unwrap_or(rest))
}

/// Two kept texts of the same line, either possibly cut (ending `...`).
fn same_text(a: &str, b: &str) -> bool {
    let cut = |s: &str| s.strip_suffix(crate::escape::ELLIPSIS).map(str::to_string);
    match (cut(a), cut(b)) {
        (None, None) => a == b,
        (Some(x), None) => b.starts_with(&x),
        (None, Some(y)) => a.starts_with(&y),
        (Some(x), Some(y)) => x.starts_with(&y) || y.starts_with(&x),
    }
}

/// `node.<id>.<field>`.
fn status_key(name: &[u8]) -> Option<(u8, &[u8])> {
    let rest = name.strip_prefix(b"node.")?;
    let dot = rest.iter().position(|&c| c == b'.')?;
    let id = grammar::parse_u32(rest.get(..dot)?)?;
    Some((u8::try_from(id).ok()?, rest.get(dot + 1..)?))
}

impl Trail {
    /// A new trail with its base reserved from `mem`; `None` when the cap refuses it.
    pub fn reserve(mem: &MemCap) -> Option<Box<Trail>> {
        mem.try_reserve(BASE_CHARGE).then(|| {
            Box::new(Trail {
                base: BASE_CHARGE,
                ..Trail::default()
            })
        })
    }

    /// A new trail with nothing reserved, marked refused (the cap had no room for it).
    pub fn refused() -> Box<Trail> {
        Box::new(Trail {
            refused: true,
            ..Trail::default()
        })
    }

    /// A trail for live runs too: control commands and refusals are handed out as they
    /// complete ([`Trail::take_notes`]).
    pub fn announce(&mut self) {
        self.notes.get_or_insert_with(Vec::new);
    }

    /// Commands completed since the last call that a live run announces at once.
    pub fn take_notes(&mut self) -> Vec<Command> {
        self.notes.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// True when commands are waiting to be announced.
    pub fn has_notes(&self) -> bool {
        self.notes.as_ref().is_some_and(|n| !n.is_empty())
    }

    /// Heap bytes reserved from the memcap for this trail (its base included).
    pub fn reserved(&self) -> usize {
        self.base + self.charged
    }

    /// Heap bytes held (commands, waiting requests, the status snapshot, event counters).
    pub fn heap_bytes(&self) -> usize {
        let kept: usize = self
            .first
            .iter()
            .chain(self.last.iter())
            .map(Command::heap_bytes)
            .sum::<usize>()
            + (self.first.capacity() + self.last.capacity()) * std::mem::size_of::<Command>();
        let pending: usize = self
            .pending
            .iter()
            .map(|q| {
                q.iter().map(Req::heap_bytes).sum::<usize>()
                    + q.capacity() * std::mem::size_of::<Req>()
            })
            .sum();
        let status = self.status.as_ref().map_or(0, snapshot_bytes);
        kept + pending
            + status
            + self.events.capacity() * std::mem::size_of::<EventCount>()
            + self.server_version.as_ref().map_or(0, String::capacity)
    }

    /// The text part ended (transporter or TLS).
    pub fn upgraded(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Bytes of direction `dir` were lost: what it was in the middle of is abandoned.
    pub fn gap(&mut self, dir: usize) {
        let d = dir & 1;
        self.open[d] = Open::None;
        self.resync[d] = true;
        self.gaps = self.gaps.saturating_add(1);
    }

    /// Reserve `n` more bytes; false (and the trail marked) when the cap refuses. A trail
    /// without its base reserved keeps nothing.
    fn charge(&mut self, mem: &MemCap, n: usize) -> bool {
        if self.base > 0 && mem.try_reserve(n) {
            self.charged += n;
            true
        } else {
            self.refused = true;
            false
        }
    }

    fn uncharge(&mut self, mem: &MemCap, n: usize) {
        let n = n.min(self.charged);
        self.charged -= n;
        mem.release(n);
    }

    /// Gives back everything reserved for this trail.
    pub fn release_all(&mut self, mem: &MemCap) {
        mem.release(self.base + self.charged);
        self.base = 0;
        self.charged = 0;
    }

    /// One event of direction `dir` at capture time `now`.
    pub fn event(&mut self, dir: usize, now: i64, ev: Event<'_>, mem: &MemCap) {
        let d = dir & 1;
        if self.resync[d] {
            // After a gap, the first line may be the tail of one cut by it: wait for a line
            // that opens a message.
            let opens = match ev {
                Event::Request { .. }
                | Event::Reply { .. }
                | Event::Ping { .. }
                | Event::EventText { .. }
                | Event::Upgrade(_) => true,
                Event::Result { value, .. } => grammar::parser_error(value),
                _ => false,
            };
            if !opens {
                return;
            }
            self.resync[d] = false;
        }
        match ev {
            Event::Request { cmd, line } => {
                if !self.server_like[d] {
                    self.client_like[d] = true;
                }
                self.close_open(d, mem);
                self.open[d] = Open::Request(Req {
                    at: now,
                    dir: d as u8,
                    cmd: Some(cmd),
                    text: escape_prefix(line.text, TEXT_MAX),
                    args: Pairs::default(),
                });
            }
            Event::Arg {
                name, value, line, ..
            } => {
                if let Open::Request(req) = &mut self.open[d] {
                    push_arg(&mut req.args, name, value);
                } else {
                    self.client_line(d, now, line, mem);
                }
            }
            Event::Malformed { .. } => {}
            Event::Reply { header, line } => {
                self.server_like[d] = true;
                // `listen event` / `get cluster loglevel` read as a request until the next
                // line showed a reply: the header is that command's name.
                let ambiguous = matches!(header, Header::ListenEvent | Header::LogLevel);
                let header_text = match &self.open[d] {
                    Open::Request(r) if ambiguous => {
                        r.cmd.map(|c| escape_prefix(c.name(), TEXT_MAX))
                    }
                    _ => None,
                };
                match header_text {
                    Some(_) => self.open[d] = Open::None,
                    None => self.close_open(d, mem),
                }
                let header_text = header_text.unwrap_or_else(|| escape_prefix(line.text, TEXT_MAX));
                match header {
                    Header::LogEvent => self.open[d] = Open::Event(None),
                    Header::EndSession => {
                        self.open[d] = Open::None;
                        let rep = Rep {
                            at: now,
                            dir: d as u8,
                            header: Some(header_text),
                            hdr: Some(header),
                            ..Rep::default()
                        };
                        self.reply(d, rep, mem);
                    }
                    _ => {
                        self.open[d] = Open::Reply(Rep {
                            at: now,
                            dir: d as u8,
                            header: Some(header_text),
                            hdr: Some(header),
                            ..Rep::default()
                        })
                    }
                }
            }
            Event::Field {
                name, value, line, ..
            } => {
                let status_line = status_key(name).is_some();
                if line.first || (status_line && matches!(self.open[d], Open::None)) {
                    if status_line || self.server_like[d] {
                        // A reply without header, or the rest of one a capture started in
                        // (`node.N.…` lines only come from a server).
                        self.close_open(d, mem);
                        self.server_like[d] = true;
                        self.open[d] = Open::Reply(Rep {
                            at: now,
                            dir: d as u8,
                            hdr: status_line.then_some(Header::NodeStatus),
                            ..Rep::default()
                        });
                    } else if self.client_like[d] || self.server_like[1 - d] {
                        self.client_line(d, now, line, mem);
                        return;
                    } else {
                        // Neither side has shown its role yet: nothing to pair it with.
                        return;
                    }
                }
                match &mut self.open[d] {
                    Open::Reply(rep) => reply_field(rep, name, value),
                    Open::ClientLines => self.client_line(d, now, line, mem),
                    _ => {}
                }
            }
            Event::Result { value, line } => {
                let parser = grammar::parser_error(value);
                if parser || self.server_like[d] || !self.pending[1 - d].is_empty() {
                    self.close_open(d, mem);
                    self.server_like[d] = true;
                    self.open[d] = Open::Reply(Rep {
                        at: now,
                        dir: d as u8,
                        result: Some(escape_prefix(value, RESULT_MAX)),
                        ..Rep::default()
                    });
                } else {
                    // A client writing `result: …` (a spoofed reply): a command to the server.
                    self.client_line(d, now, line, mem);
                }
            }
            Event::AuthError { line } => {
                if let Open::Reply(rep) = &mut self.open[d] {
                    rep.result = Some(escape_prefix(line.text, RESULT_MAX));
                }
            }
            Event::EventType { line } => {
                let t = split_kv(line.text).and_then(|(_, v, _)| grammar::parse_u32(v));
                if let Open::Event(slot) = &mut self.open[d] {
                    *slot = t;
                }
            }
            Event::Ping { .. } => {
                self.server_like[d] = true;
                self.pings = self.pings.saturating_add(1);
            }
            Event::EventText { line } => {
                self.server_like[d] = true;
                let body = line
                    .text
                    .iter()
                    .position(|&c| c == b':')
                    .and_then(|i| line.text.get(i + 1..))
                    .map(trim)
                    .unwrap_or_default();
                self.count_event(events::from_text(body), true);
            }
            Event::End { .. } => self.end(d, mem),
            Event::Transporter { fields, .. } => {
                if fields == 2 || fields == 0 {
                    self.server_like[d] = true;
                }
            }
            Event::DataNodeHandshake { .. } => {
                self.node_type.get_or_insert(NodeType::Data);
            }
            Event::Hello { fields, line } => {
                if fields.is_some() {
                    let id = line
                        .text
                        .split(|&c| c == b' ')
                        .next()
                        .and_then(grammar::parse_u32);
                    if self.node_id.is_none() {
                        self.node_id = id;
                    }
                }
            }
            Event::Text { line } => {
                if !self.server_like[d] && (self.client_like[d] || self.server_like[1 - d]) {
                    self.client_line(d, now, line, mem);
                }
            }
            Event::Upgrade(u) => {
                self.upgrade.get_or_insert(u);
            }
            Event::LongLine { .. } => self.open[d] = Open::None,
            Event::LoneNdbd { .. } | Event::Body(_) | Event::Opaque(_) | Event::Binary { .. } => {}
        }
    }

    /// A message of direction `d` is still open where a new one starts: finish it.
    fn close_open(&mut self, d: usize, mem: &MemCap) {
        if !matches!(self.open[d], Open::None) {
            self.end(d, mem);
        }
    }

    /// A line from a client that is not a request of the table: the server's parser takes
    /// it as a command of its own (and answers `Unknown command`).
    fn client_line(&mut self, d: usize, now: i64, line: Line<'_>, mem: &MemCap) {
        if line.text.is_empty() {
            return;
        }
        if !matches!(self.open[d], Open::ClientLines) {
            self.close_open(d, mem);
            self.open[d] = Open::ClientLines;
        }
        let req = Req {
            at: now,
            dir: d as u8,
            cmd: None,
            text: escape_prefix(line.text, TEXT_MAX),
            args: Pairs::default(),
        };
        self.wait(d, req, mem);
    }

    /// The empty line (or what replaces it) ends the open message of direction `d`.
    fn end(&mut self, d: usize, mem: &MemCap) {
        match std::mem::take(&mut self.open[d]) {
            Open::None | Open::ClientLines => {}
            Open::Request(req) => {
                let cmd = req.cmd;
                self.learn_request(&req);
                match cmd.and_then(|c| c.answered_by(b"")) {
                    // No reply comes (`bye`, `transporter connect`).
                    None if cmd.is_some() => self.complete(Some(req), None, mem),
                    _ => self.wait(d, req, mem),
                }
            }
            Open::Reply(rep) => self.reply(d, rep, mem),
            Open::Event(t) => self.count_event(t, false),
        }
    }

    /// A request of direction `d` waits for its reply.
    fn wait(&mut self, d: usize, req: Req, mem: &MemCap) {
        if self.pending[d].len() >= MAX_PENDING {
            if let Some(old) = self.pending[d].pop_front() {
                let n = old.heap_bytes();
                self.uncharge(mem, n);
                self.complete(Some(old), None, mem);
            }
        }
        let n = req.heap_bytes();
        if self.charge(mem, n) {
            self.pending[d].push_back(req);
        } else {
            self.total = self.total.saturating_add(1);
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// A reply of direction `d`: paired with the oldest waiting request of the other
    /// direction that it answers (those before it lost their replies).
    fn reply(&mut self, d: usize, rep: Rep, mem: &MemCap) {
        let header = rep.header.as_deref().unwrap_or("").as_bytes();
        let refusal = rep.hdr == Some(Header::AuthFailed);
        // `Unknown command, '<line>'` names the line it answers.
        let unknown = rep.result.as_deref().and_then(unknown_line);
        let queue = &self.pending[1 - d];
        let answers = |r: &Req| match (r.cmd, unknown) {
            (None, Some(line)) => same_text(&r.text, line),
            (None, None) => header.is_empty() && rep.result.is_some(),
            (Some(_), Some(line)) => same_text(&r.text, line),
            // A headerless result answers anything (parser errors); so does a refusal.
            (Some(c), None) => {
                refusal
                    || (header.is_empty() && rep.result.is_some())
                    || c.answered_by(header).unwrap_or(false)
            }
        };
        let at = queue.iter().position(answers);
        let req = match at {
            Some(k) => {
                for _ in 0..k {
                    if let Some(lost) = self.pending[1 - d].pop_front() {
                        self.uncharge(mem, lost.heap_bytes());
                        self.complete(Some(lost), None, mem);
                    }
                }
                let r = self.pending[1 - d].pop_front();
                if let Some(r) = &r {
                    self.uncharge(mem, r.heap_bytes());
                }
                r
            }
            None => None,
        };
        let req = req.or_else(|| {
            // A reply to a line that was not seen: the server quotes it.
            unknown.map(|line| Req {
                at: rep.at,
                dir: 1 - (d as u8 & 1),
                cmd: None,
                text: line.to_string(),
                args: Pairs::default(),
            })
        });
        self.complete(req, Some(rep), mem);
    }

    /// What a request says about the client.
    fn learn_request(&mut self, req: &Req) {
        let Some(cmd) = req.cmd else {
            return;
        };
        if self.first_cmd.is_none() {
            self.first_cmd = Some(cmd);
        }
        self.seen |= 1u128 << (cmd.index() & 127);
        match cmd.name() {
            b"check connection" => self.checks = self.checks.saturating_add(1),
            b"get status" => self.statuses = self.statuses.saturating_add(1),
            // Bookkeeping every kind of client does.
            b"get version" | b"set clientversion" | b"get config" | b"get config_v2"
            | b"get mgmd nodeid" | b"end session" | b"bye" | b"start tls" => {}
            _ => self.others = self.others.saturating_add(1),
        }
        let nodetype = req.arg("nodetype").and_then(parse_i64);
        match cmd.name() {
            b"get nodeid" | b"get config" | b"get config_v2" => {
                if let Some(t) = nodetype.and_then(NodeType::from_number) {
                    self.node_type = Some(t);
                }
                let id = req
                    .arg(if cmd.name() == b"get nodeid" {
                        "nodeid"
                    } else {
                        "node"
                    })
                    .and_then(parse_u32)
                    .filter(|&n| n > 0);
                if id.is_some() && self.node_id.is_none() {
                    self.node_id = id;
                }
                if let Some(v) = req.arg("version").and_then(parse_u32).filter(|&v| v > 0) {
                    self.client_version = Some(v);
                }
            }
            b"set clientversion" => {
                let part = |n: &str| req.arg(n).and_then(parse_u32).map(|v| v & 0xff);
                if let (Some(a), Some(b), Some(c)) = (part("major"), part("minor"), part("build")) {
                    self.client_version = Some((a << 16) | (b << 8) | c);
                }
            }
            _ => {}
        }
    }

    /// A request and its reply (either may be missing) make one command.
    fn complete(&mut self, req: Option<Req>, rep: Option<Rep>, mem: &MemCap) {
        if req.is_none()
            && rep
                .as_ref()
                .is_some_and(|r| r.header.is_none() && r.result.is_none())
        {
            // The rest of a reply a capture (or a gap) cut the start of: what it says about
            // the cluster is kept, but it is no command.
            if let Some(rep) = rep {
                let c = Command::default();
                self.learn_reply(b"", &c, rep.hdr, rep.at, rep.nodes, mem);
            }
            return;
        }
        let cmd = req.as_ref().and_then(|r| r.cmd);
        let name = cmd.map_or(&b""[..], Cmd::name);
        let at = req
            .as_ref()
            .map(|r| r.at)
            .or(rep.as_ref().map(|r| r.at))
            .unwrap_or(0);
        let dir = req
            .as_ref()
            .map(|r| r.dir)
            .or(rep.as_ref().map(|r| 1 - (r.dir & 1)))
            .unwrap_or(0);
        let mut c = Command {
            at,
            dir,
            ..Command::default()
        };
        if let Some(r) = req {
            c.command = Some(r.text);
            c.args = r.args;
        }
        if let Some(rep) = rep {
            c.reply = rep.header;
            c.result = rep.result;
            c.fields = rep.fields;
            if rep.hdr == Some(Header::AuthFailed) {
                let tls = c.result.as_deref().is_some_and(|r| r.contains("TLS"));
                self.risks.insert(if tls {
                    Risk::TlsRequired
                } else {
                    Risk::AuthFailed
                });
            }
            if c.result
                .as_deref()
                .is_some_and(|r| r.starts_with("Unknown command"))
            {
                self.risks.insert(Risk::UnknownCommand);
            }
            self.learn_reply(name, &c, rep.hdr, rep.at, rep.nodes, mem);
        }
        let data_node = self.node_type == Some(NodeType::Data);
        c.control = cmd.is_some_and(|k| k.is_control())
            && !(data_node && name == b"set connection parameter");
        if c.control {
            self.risks.insert(Risk::ClusterControl);
        }
        let refusal = c.reply.as_deref() == Some("Authorization failed");
        let refused_id = name == b"get nodeid" && c.result.is_some() && !c.succeeded() && !refusal;
        if refused_id {
            self.risks.insert(Risk::NodeIdRefused);
        }
        if let Some(notes) = &mut self.notes {
            if c.control || refusal || refused_id {
                c.announced = true;
                notes.push(c.clone());
            }
        }
        self.keep(c, mem);
    }

    /// What a reply says about the session and the cluster.
    #[allow(clippy::too_many_arguments)]
    fn learn_reply(
        &mut self,
        name: &[u8],
        c: &Command,
        hdr: Option<Header>,
        at: i64,
        nodes: Vec<StatusNode>,
        mem: &MemCap,
    ) {
        if hdr == Some(Header::Version) {
            if let Some(s) = c.fields.get("string") {
                if self.server_version.as_deref() != Some(s) {
                    let s = s.to_string();
                    if self.charge(mem, s.capacity()) {
                        let old = self.server_version.replace(s);
                        self.uncharge(mem, old.map_or(0, |o| o.capacity()));
                    }
                }
            }
        }
        if hdr == Some(Header::NodeStatus) && !nodes.is_empty() {
            let first_at = self.status.as_ref().map_or(at, |s| s.first_at);
            let snap = StatusSnapshot {
                first_at,
                at,
                nodes,
            };
            let n = snapshot_bytes(&snap);
            if self.charge(mem, n) {
                if let Some(old) = self.status.replace(snap) {
                    self.uncharge(mem, snapshot_bytes(&old));
                }
            }
        }
        // The request's arguments, as the command keeps them.
        let req_num = |n: &str| c.args.get(n).and_then(parse_i64);
        let role = req_num("nodetype").and_then(NodeType::from_number);
        let version = req_num("version")
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v > 0);
        match name {
            b"get nodeid" if c.succeeded() => {
                if let Some(id) = c.fields.get("nodeid").and_then(parse_u32) {
                    self.node_id = Some(id);
                    self.allocated = Some(NodeClaim {
                        node_id: id,
                        role,
                        version,
                        at,
                    });
                }
            }
            b"get config" | b"get config_v2" if c.succeeded() && role == Some(NodeType::Data) => {
                if let Some(id) = req_num("node")
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n > 0)
                {
                    self.config_fetch = Some(NodeClaim {
                        node_id: id,
                        role,
                        version,
                        at,
                    });
                }
            }
            _ => {}
        }
    }

    /// Keeps a completed command: the first [`KEEP_FIRST`], then the last [`KEEP_LAST`].
    fn keep(&mut self, c: Command, mem: &MemCap) {
        self.total = self.total.saturating_add(1);
        let n = c.heap_bytes() + std::mem::size_of::<Command>();
        if self.first.len() < KEEP_FIRST {
            if self.charge(mem, n) {
                self.first.push(c);
            } else {
                self.dropped = self.dropped.saturating_add(1);
            }
            return;
        }
        if self.last.len() >= KEEP_LAST {
            if let Some(old) = self.last.pop_front() {
                self.uncharge(mem, old.heap_bytes() + std::mem::size_of::<Command>());
            }
            self.dropped = self.dropped.saturating_add(1);
        }
        if self.charge(mem, n) {
            self.last.push_back(c);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    fn count_event(&mut self, t: Option<u32>, text_form: bool) {
        let (event_type, name) = match t {
            Some(t) => (Some(t), events::name(t).unwrap_or("unknown")),
            None if text_form => (None, "text"),
            None => (None, "unknown"),
        };
        if let Some(e) = self
            .events
            .iter_mut()
            .find(|e| e.event_type == event_type && e.name == name)
        {
            e.count = e.count.saturating_add(1);
            return;
        }
        if self.events.len() >= MAX_EVENT_TYPES {
            // Full: further types count together as `unknown`.
            if let Some(e) = self
                .events
                .iter_mut()
                .find(|e| e.event_type.is_none() && e.name == "unknown")
            {
                e.count = e.count.saturating_add(1);
                return;
            }
            if let Some(e) = self.events.last_mut() {
                *e = EventCount {
                    event_type: None,
                    name: "unknown",
                    count: e.count.saturating_add(1),
                };
            }
            return;
        }
        self.events.push(EventCount {
            event_type,
            name,
            count: 1,
        });
    }

    /// What the client is, from everything it sent.
    fn peer(&self) -> Peer {
        let has =
            |n: &[u8]| Cmd::find(n).is_some_and(|c| self.seen & (1u128 << (c.index() & 127)) != 0);
        if has(b"listen event") {
            return Peer::EventListener;
        }
        match self.node_type {
            Some(NodeType::Data) => return Peer::DataNode,
            Some(NodeType::Api) => return Peer::Api,
            Some(NodeType::Mgm) => return Peer::Mgmd,
            None => {}
        }
        let first = self.first_cmd.map(Cmd::name);
        if first == Some(b"transporter connect") {
            // A connection that only becomes a transporter: an API node's link to the
            // management server.
            return Peer::Api;
        }
        let only_checks = self.checks > 0
            && self.statuses == 0
            && self.others == 0
            && !has(b"get version")
            && !has(b"get config")
            && !has(b"get config_v2");
        if only_checks && (self.checks >= 2 || has(b"get mgmd nodeid")) {
            return Peer::Mgmd;
        }
        if first == Some(b"check connection") && !only_checks {
            return Peer::NdbMgm;
        }
        if self.statuses >= 2 && self.others == 0 && self.checks == 0 {
            return Peer::StatusPoller;
        }
        let config = has(b"get config") || has(b"get config_v2");
        if config && self.statuses == 0 && self.others == 0 && self.checks == 0 {
            return Peer::ConfigReader;
        }
        Peer::Unknown
    }

    /// The session as reported. Requests still waiting are listed without a reply.
    pub fn finish(&mut self, mem: &MemCap) -> NdbSession {
        for d in 0..2 {
            if matches!(self.open[d], Open::Request(_) | Open::Reply(_)) {
                // A message the capture cut: what it has so far.
                self.end(d, mem);
            }
        }
        for d in 0..2 {
            while let Some(r) = self.pending[d].pop_front() {
                self.uncharge(mem, r.heap_bytes());
                self.complete(Some(r), None, mem);
            }
        }
        let mut commands: Vec<Command> = std::mem::take(&mut self.first);
        commands.extend(std::mem::take(&mut self.last));
        NdbSession {
            peer: self.peer(),
            node_id: self.node_id,
            node_type: self.node_type,
            server_version: self.server_version.clone(),
            client_version: self.client_version,
            commands_total: self.total,
            commands_dropped: self.dropped,
            commands,
            events: std::mem::take(&mut self.events),
            pings: self.pings,
            upgrade: self.upgrade.map(Upgrade::as_str),
            gaps: self.gaps,
            partial: self.partial,
            risks: self.risks,
            status: self.status.take(),
            allocated: self.allocated,
            config_fetch: self.config_fetch,
        }
    }
}

fn snapshot_bytes(s: &StatusSnapshot) -> usize {
    s.nodes.capacity() * std::mem::size_of::<StatusNode>()
        + s.nodes
            .iter()
            .map(|n| n.status.as_ref().map_or(0, String::capacity))
            .sum::<usize>()
}

/// One argument of a request, kept (bounded, secrets redacted).
fn push_arg(args: &mut Pairs, name: &[u8], value: &[u8]) {
    if args.0.len() >= MAX_ARGS {
        return;
    }
    let value = if grammar::secret_name(name) {
        REDACTED.to_string()
    } else {
        escape_prefix(unquote(value), VALUE_MAX)
    };
    args.0.push((escape_prefix(name, NAME_MAX), value));
}

/// One `key: value` line of a reply.
fn reply_field(rep: &mut Rep, name: &[u8], value: &[u8]) {
    if let Some((id, field)) = status_key(name) {
        if rep.hdr != Some(Header::NodeStatus) {
            return;
        }
        let at = match rep.nodes.iter().position(|n| n.node_id == id) {
            Some(i) => i,
            None if rep.nodes.len() < MAX_NODES => {
                rep.nodes.push(StatusNode {
                    node_id: id,
                    role: None,
                    status: None,
                    version: None,
                    node_group: None,
                    address: None,
                });
                rep.nodes.len() - 1
            }
            None => return,
        };
        let Some(node) = rep.nodes.get_mut(at) else {
            return;
        };
        match field {
            b"type" => node.role = NodeType::from_status(value),
            b"status" => node.status = Some(escape_prefix(value, 24)),
            b"version" => node.version = grammar::parse_u32(value),
            b"node_group" => node.node_group = std::str::from_utf8(value).ok().and_then(parse_i64),
            b"address" => {
                node.address = std::str::from_utf8(value)
                    .ok()
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .filter(|a| !a.is_unspecified())
            }
            _ => {}
        }
        return;
    }
    if name == b"result" {
        if rep.result.is_none() {
            rep.result = Some(escape_prefix(value, RESULT_MAX));
        }
        return;
    }
    if KEPT_FIELDS.contains(&name) && rep.fields.0.len() < MAX_FIELDS {
        if name == b"message" && value.is_empty() {
            return;
        }
        let v = if grammar::secret_name(name) {
            REDACTED.to_string()
        } else {
            escape_prefix(value, VALUE_MAX)
        };
        rep.fields.0.push((escape_prefix(name, NAME_MAX), v));
    }
}
