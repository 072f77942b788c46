//! Scoring of scanner events into the verdict of a flow.
//!
//! Owns the per-direction score ([`Side`], a [`Sink`] of the [`scanner`](super::scanner)):
//! how strongly the direction's requests (client side) and replies (server side) point at the
//! NDB management protocol, the evidence text of the deciding message, what else the direction
//! looks like (the [`hints`] naming its first bytes) and whether anything more could change
//! that. [`decide`] combines the two directions into a verdict, a confidence, the client and
//! server roles and whether more data could change the answer.
//!
//! Must never: look at packet bytes other than those handed over in events (and the first
//! bytes given to `Side::set_hint`), scan or re-scan bytes itself, keep packet bytes, panic,
//! or allocate except for the evidence text. All evidence text goes through [`crate::escape`]
//! and is printable ASCII.
//!
//! Evidence format: the lines of the deciding message with the blank terminator dropped, each
//! escaped, joined by ` / `, cut to [`EVIDENCE_MAX`] characters with a trailing `...`; e.g.
//! `get nodeid reply / nodeid: 2 / result: Ok`. For other protocols it is a short description
//! of the first bytes (`TLS ClientHello`, `HTTP request GET /`, `binary: \x00\x01...`).

use super::grammar::{
    digits, distinctive_pair, int, parser_error, Command, Header, KNOWN_ARGS, LOGLEVEL_KEYS, WEAK,
};
use super::scanner::{Event, Line, Sink, Upgrade};
use crate::classify::hints::{self, Hint};
use crate::classify::{Confidence, ProbeState, Role, Verdict};
use crate::escape::escape_into;

/// Longest evidence string.
pub const EVIDENCE_MAX: usize = 100;

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

/// The message being scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Open {
    /// Between messages (or in one that needs no scoring at its end).
    #[default]
    None,
    /// A request.
    Request {
        cmd: Command,
        args: u8,
        unknown_arg: bool,
        quoted: bool,
        bad: bool,
    },
    /// A reply with a header.
    Reply {
        hdr: Header,
        keys: u8,
        /// Header-specific condition met (version `id`, generic first key, TLS `Ok`).
        flag: bool,
        bad: bool,
    },
    /// `result: …` without header.
    Headerless,
    /// `key: value` lines without header.
    KeyValues,
    /// `Authorization failed`, `log event reply`: scored line by line.
    Other,
}

/// What has been learnt about one direction of a flow (fed by its scanner's events).
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// Bytes of this direction examined so far.
    pub(crate) total: u32,
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
    open: Open,
    pings: u8,
    pub(crate) hint_settled: bool,
    /// The first message (or the first bytes) is not NDB.
    foreign: bool,
    /// ... and it is something NDB never carries (server greeting or reply of another
    /// protocol, TLS, binary).
    hard: bool,
    /// Nothing more will be inspected (upgrade, binary, over-long line).
    pub(crate) done: bool,
    /// The byte budget for this direction is used up.
    pub(crate) exhausted: bool,
    /// Event-listener stream: free event text is tolerated.
    listener: bool,
    /// A transporter line (`1 1`, `ok`, `BYE`) was seen: binary may follow.
    after_transporter: bool,
    /// A non-text byte was seen before the first bytes were named: judge it again later.
    pub(crate) binary_due: bool,
    /// The evidence was taken from the current, unfinished message: redo it at its end.
    pub(crate) ev_open: bool,
}

impl Sink for Side {
    #[inline]
    fn stopped(&self) -> bool {
        self.done
    }

    // Inlined into each call site of the scanner, where the event's kind is known: the match
    // folds away and no event is built in memory.
    #[inline(always)]
    fn event(&mut self, ev: Event<'_>) {
        if self.done {
            return;
        }
        match ev {
            Event::Ping { line } => self.ping(line),
            Event::Request { cmd, line } => {
                self.begin(line);
                self.open = Open::Request {
                    cmd,
                    args: 0,
                    unknown_arg: false,
                    quoted: false,
                    bad: false,
                };
            }
            Event::Arg {
                name,
                value,
                sep,
                line,
            } => self.arg(name, value, sep, line),
            Event::Reply { header, line } => {
                self.begin(line);
                self.open = match header {
                    Header::EndSession => {
                        self.credit_rep(Strength::Strong, line.msg, line.msg_crlf, false);
                        Open::None
                    }
                    Header::LogEvent | Header::AuthFailed => Open::Other,
                    hdr => Open::Reply {
                        hdr,
                        keys: 0,
                        flag: false,
                        bad: false,
                    },
                };
            }
            Event::Field {
                name,
                value,
                sep,
                line,
            } => {
                if line.first {
                    // `key: value` lines with no header (another protocol, or a capture
                    // started mid-reply).
                    self.begin(line);
                    self.open = Open::KeyValues;
                    if distinctive_pair(name, value) {
                        self.credit_rep(Strength::Strong, line.msg, line.msg_crlf, true);
                    }
                    return;
                }
                match self.open {
                    Open::Reply { .. } => self.reply_line(Some((name, value)), line),
                    Open::Headerless | Open::KeyValues
                        if sep == b':' && distinctive_pair(name, value) =>
                    {
                        self.credit_rep(Strength::Strong, line.msg, line.msg_crlf, true);
                    }
                    _ => {}
                }
            }
            Event::Malformed { line } => match self.open {
                Open::Request {
                    cmd,
                    args,
                    unknown_arg,
                    quoted,
                    ..
                } => {
                    self.open = Open::Request {
                        cmd,
                        args: args.saturating_add(1),
                        unknown_arg,
                        quoted,
                        bad: true,
                    };
                }
                Open::Reply { .. } => self.reply_line(None, line),
                _ => {}
            },
            Event::Result { value, line } => {
                self.begin(line);
                self.open = Open::Headerless;
                if parser_error(value) {
                    self.credit_rep(Strength::Strong, line.msg, line.msg_crlf, true);
                }
            }
            Event::AuthError { line } => {
                self.credit_rep(Strength::Strong, line.msg, line.msg_crlf, true);
            }
            Event::EventType { line } => {
                self.listener = true;
                self.credit_rep(Strength::Strong, line.msg, line.msg_crlf, true);
            }
            Event::EventText { line } => {
                self.begin(line);
                self.open = Open::None;
                self.listener = true;
                self.credit_rep(Strength::Weak, line.msg, line.msg_crlf, false);
            }
            Event::Transporter { fields, line } => {
                self.begin(line);
                self.open = Open::None;
                self.after_transporter = true;
                if fields == 2 || fields == 0 {
                    self.credit_rep(Strength::Weak, line.msg, line.msg_crlf, false);
                } else if !line.crlf {
                    self.credit_req(Strength::Weak, line.msg);
                }
            }
            Event::DataNodeHandshake { line } => {
                self.open = Open::None;
                self.credit_req(Strength::Strong, line.msg);
            }
            Event::LoneNdbd { .. } => {
                self.open = Open::None;
                self.mark_foreign(false, || render_text("text: ", b"ndbd"));
            }
            Event::Hello { fields, line } => {
                if fields.is_some() {
                    self.credit_req(Strength::Weak, line.msg);
                }
                self.done = true;
            }
            Event::Text { line } => {
                self.begin(line);
                self.open = Open::None;
                if !self.listener {
                    // Not NDB (a listener's free event text would be tolerated).
                    self.mark_foreign(false, || render_text("text: ", line.text));
                }
            }
            Event::End { msg, crlf } => self.end(msg, crlf),
            Event::Body(_) | Event::Opaque(_) => {}
            Event::Upgrade(Upgrade::Transporter) => {
                // The hello line is due (it ends the text part: a side still reading after
                // this upgrade is waiting for it).
                self.upgrade = Some(Upgrade::Transporter);
            }
            Event::Upgrade(Upgrade::Tls) => {
                self.upgrade = Some(Upgrade::Tls);
                self.done = true;
            }
            Event::Binary { rest } => self.binary(rest),
            Event::LongLine { head } => {
                self.done = true;
                if !self.has_ndb() {
                    let line = head.get(..60).unwrap_or(head);
                    self.mark_foreign(false, || render_text("long line: ", line));
                }
            }
        }
    }
}

impl Side {
    /// True when nothing this direction may still carry can change the verdict.
    pub fn dead(&self) -> bool {
        self.done || self.exhausted || self.hard
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

    /// The first bytes of the direction (`prefix`) are named `hint` for good: record it, and
    /// give up on the direction when it is clearly something else.
    pub(crate) fn set_hint(&mut self, hint: Option<Hint>, prefix: &[u8]) {
        self.hint = hint;
        self.hint_settled = true;
        let Some(h) = hint else {
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

    /// A message starts with `line`.
    fn begin(&mut self, line: Line<'_>) {
        if line.first {
            self.ev_open = false;
        }
    }

    fn ping(&mut self, line: Line<'_>) {
        self.begin(line);
        self.open = Open::None;
        self.pings = self.pings.saturating_add(1);
        self.listener = true;
        if self.pings >= 2 {
            if !line.msg_crlf && self.ev_rank < EvRank::Strong {
                self.rep = Strength::Strong;
                self.evidence = Some(String::from("<PING> / <PING>"));
                self.ev_rank = EvRank::Strong;
            }
        } else {
            self.credit_rep(Strength::Weak, line.msg, line.msg_crlf, false);
        }
    }

    fn arg(&mut self, name: &[u8], value: &[u8], sep: u8, line: Line<'_>) {
        let Open::Request {
            cmd,
            args,
            mut unknown_arg,
            mut quoted,
            bad,
        } = self.open
        else {
            return;
        };
        unknown_arg |= !KNOWN_ARGS.contains(&name);
        // 8.0+ clients write strings as name:"value" (no space, quoted).
        let tight = line.raw.get(name.len()..name.len() + 2) == Some(b":\"");
        quoted |= sep == b':' && tight && value.len() >= 2 && value.ends_with(b"\"");
        self.open = Open::Request {
            cmd,
            args: args.saturating_add(1),
            unknown_arg,
            quoted,
            bad,
        };
    }

    /// A line of a reply with a header: `kv` is its key and value when well-formed.
    fn reply_line(&mut self, kv: Option<(&[u8], &[u8])>, line: Line<'_>) {
        let Open::Reply {
            hdr,
            keys,
            mut flag,
            mut bad,
        } = self.open
        else {
            return;
        };
        if hdr == Header::FreeText {
            return;
        }
        let keys = keys.saturating_add(1);
        let mut strong = false;
        match kv {
            Some((name, value)) => {
                strong |= distinctive_pair(name, value);
                match hdr {
                    Header::Plain | Header::Config => strong |= keys == 1,
                    // Decided at the empty line, where the switch to TLS happens.
                    Header::StartTls => {}
                    Header::Version => {
                        if keys == 1 {
                            flag = name == b"id" && digits(value);
                        } else if keys == 2 {
                            strong |= flag && name == b"major" && digits(value);
                        }
                    }
                    Header::NodeStatus => strong |= keys == 1 && name == b"nodes" && digits(value),
                    Header::ListenEvent => {
                        if keys == 1 && name == b"result" && int(value) {
                            strong = true;
                            self.listener = true;
                        }
                    }
                    Header::Clusterlog => {
                        strong |= keys == 1 && name == b"enabled" && digits(value)
                    }
                    Header::LogLevel => {
                        strong |= keys == 1 && LOGLEVEL_KEYS.contains(&name) && digits(value)
                    }
                    Header::Generic => {
                        if keys == 1 {
                            flag = matches!(name, b"result" | b"message" | b"nodeid" | b"id");
                        }
                    }
                    Header::FreeText
                    | Header::EndSession
                    | Header::LogEvent
                    | Header::AuthFailed => {}
                }
                if hdr == Header::StartTls && name == b"result" {
                    flag = value == b"Ok";
                }
            }
            None => bad = true,
        }
        self.open = Open::Reply {
            hdr,
            keys,
            flag,
            bad,
        };
        if strong {
            self.credit_rep(Strength::Strong, line.msg, line.msg_crlf, true);
        }
    }

    /// The empty line after `msg`.
    fn end(&mut self, msg: &[u8], crlf: bool) {
        match std::mem::take(&mut self.open) {
            Open::None => {}
            Open::Request {
                cmd,
                args,
                unknown_arg,
                quoted,
                bad,
            } => {
                if bad {
                    let first = msg.split(|&c| c == b'\n').next().unwrap_or(&[]);
                    self.mark_foreign(false, || render_text("malformed request: ", first));
                    return;
                }
                let strong = if cmd.flags() & WEAK != 0 {
                    (args > 0 && !unknown_arg) || quoted
                } else {
                    true
                };
                let s = if strong {
                    Strength::Strong
                } else {
                    Strength::Weak
                };
                self.credit_req(s, msg);
            }
            Open::Reply {
                hdr,
                keys,
                flag,
                bad,
            } => {
                match hdr {
                    Header::Generic if flag && !bad => {
                        self.credit_rep(Strength::Strong, msg, crlf, false);
                    }
                    Header::FreeText => {
                        self.credit_rep(Strength::Strong, msg, crlf, false);
                    }
                    Header::StartTls if keys > 0 && !bad => {
                        self.credit_rep(Strength::Strong, msg, crlf, false);
                    }
                    _ if self.rep < Strength::Strong || keys == 0 => {
                        // A header of this protocol without the expected keys: weak.
                        self.credit_rep(Strength::Weak, msg, crlf, false);
                    }
                    _ => {}
                }
                let credited = !crlf && self.rep == Strength::Strong;
                self.end_message(msg);
                if hdr == Header::StartTls && flag && credited {
                    self.upgrade = Some(Upgrade::Tls);
                    self.done = true;
                }
            }
            Open::Headerless => {
                // `result: …` + empty line: the shape of a reply, generic on its own.
                self.credit_rep(Strength::Weak, msg, crlf, false);
                self.end_message(msg);
            }
            Open::KeyValues | Open::Other => self.end_message(msg),
        }
    }

    /// A byte outside text in the line `rest` starts with.
    fn binary(&mut self, rest: &[u8]) {
        if !self.hint_settled {
            // The first bytes are still being named (a TLS or MySQL header needs a few
            // bytes): let the hint decide once it can (the line is handed over again).
            self.binary_due = true;
            return;
        }
        self.binary_due = false;
        self.done = true;
        if self.upgrade == Some(Upgrade::Transporter) || self.after_transporter {
            self.upgrade.get_or_insert(Upgrade::Transporter);
            return;
        }
        if self.has_ndb() {
            return;
        }
        self.mark_foreign(true, || hints::describe_binary(rest));
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

    /// Keep `seg` as evidence if it ranks above what is kept.
    fn note(&mut self, rank: EvRank, seg: &[u8]) {
        if rank > self.ev_rank {
            self.evidence = Some(render_lines(seg));
            self.ev_rank = rank;
            self.ev_open = false;
        }
    }

    fn credit_req(&mut self, s: Strength, seg: &[u8]) {
        self.req = self.req.max(s);
        let rank = if s == Strength::Strong {
            EvRank::Strong
        } else {
            EvRank::Weak
        };
        self.note(rank, seg);
    }

    /// Credit reply evidence for the current message `seg` (never for CRLF text).
    /// `open`: the message is not finished; its evidence is redone at its end.
    fn credit_rep(&mut self, s: Strength, seg: &[u8], crlf: bool, open: bool) {
        if crlf {
            return;
        }
        self.rep = self.rep.max(s);
        let rank = if s == Strength::Strong {
            EvRank::Strong
        } else {
            EvRank::Weak
        };
        if rank > self.ev_rank {
            self.note(rank, seg);
            self.ev_open = open;
        }
    }

    /// The current message `msg` ended: finish evidence taken from it.
    fn end_message(&mut self, msg: &[u8]) {
        if self.ev_open {
            self.ev_open = false;
            self.evidence = Some(render_lines(msg));
        }
    }
}

/// Render the lines of `seg` as evidence (see the module doc for the format).
fn render_lines(seg: &[u8]) -> String {
    const CONTENT_MAX: usize = EVIDENCE_MAX - 3;
    let mut out = String::with_capacity(EVIDENCE_MAX);
    for line in seg.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if super::grammar::trim(line).is_empty() {
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
        // A secret (any `…password…: value` line) is never printed.
        let secret = super::grammar::split_kv(super::grammar::trim(line))
            .filter(|(name, _, _)| super::grammar::secret_name(name));
        let written = match secret {
            Some((name, _, sep)) => {
                let mut redacted = name.to_vec();
                redacted.push(sep);
                redacted.extend_from_slice(if sep == b':' {
                    b" <redacted>"
                } else {
                    b"<redacted>"
                });
                escape_into(&mut out, &redacted, room)
            }
            None => escape_into(&mut out, line, room),
        };
        if !written {
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
// Verdict from both directions

/// The decision drawn from both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// What the flow speaks.
    pub verdict: Verdict,
    /// How sure the verdict is.
    pub confidence: Confidence,
    /// Per direction: the role of its sender.
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

/// The most telling hint of the two directions (the second one on a tie).
fn best_hint(d: [&Side; 2]) -> Option<Hint> {
    let rank = |h: Hint| match (h.is_identified(), h.is_hard(), h) {
        (true, true, _) => 4,
        (true, false, _) => 3,
        (false, _, Hint::Binary) => 2,
        _ => 1,
    };
    match (d[0].hint, d[1].hint) {
        (Some(a), Some(b)) => Some(if rank(b) >= rank(a) { b } else { a }),
        (a, b) => b.or(a),
    }
}

/// Combine both directions into a verdict (see the crate docs for the rules).
pub fn decide(d: [&Side; 2]) -> Judgement {
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
    // A side that starts with another protocol settles it once the other side has spoken
    // too (or cannot): an ndb_mgmd answers an SSH banner or a TLS hello with `Unknown
    // command`, and that answer alone names it.
    let settled = |i: usize| d[i].hard_foreign() && (other(i).total > 0 || other(i).dead());
    let finished = settled(0)
        || settled(1)
        || d.iter().all(|x| x.dead())
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
    use super::super::Direction;
    use super::*;

    fn dir(bytes: &[u8]) -> Side {
        let mut d = Direction::default();
        d.feed_stream(bytes, false);
        d.side
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
}
