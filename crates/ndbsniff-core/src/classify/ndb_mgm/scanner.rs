//! The line and message scanner of one direction of an NDB management connection.
//!
//! Owns the framing: it finds LF-terminated lines in the bytes of one direction, groups them
//! into messages (a request line or reply header, `name: value` lines, an empty line), skips
//! bodies announced by `Content-Length` and the `set ports` bulk, follows the switches that
//! end the text part (`transporter connect`, `ndbd passwd`, `start tls`), and reports each of
//! these as an [`Event`] to a [`Sink`]. The scanner is resumable: it remembers how far it got,
//! so every byte is looked at once however the data is cut, and it can be fed for as long as
//! the connection lasts; what a consumer does with the events (a verdict, an audit trail) is
//! not its business.
//!
//! Input model: [`Scanner::feed`] is given the whole in-order prefix of the direction seen so
//! far (each call the same bytes, grown); only bytes after the previous call are scanned.
//! [`Scanner::consumed`] tells how many leading bytes the scanner will never look at again, so
//! a consumer that wants bounded memory can drop them and call [`Scanner::rebase`]. The state
//! kept is a few offsets and flags: the current partial line lives in the caller's buffer and
//! is bounded by [`MAX_LINE`]; a longer line is reported once ([`Event::LongLine`]) and the
//! scanner resynchronises at the next LF. [`Scanner::feed_datagram`] reads one datagram as a
//! whole number of lines.
//!
//! Must never: score or judge what it sees, allocate, keep packet bytes (events borrow from the
//! caller's buffer), panic on any input bytes, look at bytes it was not given, or scan a byte
//! twice.

use super::grammar::{
    arg_name_ok, event_line, key_ok, parse_u32, reply_header, split_kv, transporter_line, trim,
    Command, Header, AMBIG, PORTS, TLS, XPORT,
};

/// Longest line (without its LF) the scanner reads as a line (the server's parser buffer is
/// 512 bytes); a longer one is reported as [`Event::LongLine`] and skipped.
pub const MAX_LINE: usize = 512;

/// Largest body (config blob, bulk) skipped on the word of a `Content-Length` line.
const MAX_BODY: u32 = 1 << 24;

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

/// One line of text as the scanner found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line without its LF and a trailing CR.
    pub raw: &'a [u8],
    /// `raw` without leading and trailing blanks and tabs.
    pub text: &'a [u8],
    /// The line ended with CRLF.
    pub crlf: bool,
    /// Some line of the current message so far, this one included, ended with CRLF.
    pub msg_crlf: bool,
    /// The current message from its first line to the end of this one (LF excluded), as far
    /// as it lies in the bytes of this call (a datagram starts afresh).
    pub msg: &'a [u8],
    /// This line opens a message.
    pub first: bool,
}

/// What the scanner reports, in the order of the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A command of the server's table opens a request.
    Request {
        /// The command.
        cmd: Command,
        /// The command line.
        line: Line<'a>,
    },
    /// A `name: value` (or `name=value`) argument line of a request.
    Arg {
        /// Argument name, trimmed.
        name: &'a [u8],
        /// Argument value, trimmed.
        value: &'a [u8],
        /// The separator, `:` or `=`.
        sep: u8,
        /// The whole line.
        line: Line<'a>,
    },
    /// A reply header opens a reply. For a command that doubles as a header (`listen
    /// event`, `get cluster loglevel`) it follows that [`Event::Request`] when the next line
    /// is a reply key, and `line` is that next line.
    Reply {
        /// What the header promises.
        header: Header,
        /// The header line (see above).
        line: Line<'a>,
    },
    /// A `key: value` line of a reply, or of a message without header (the first such line
    /// opens one: `line.first`); after `log event reply` also `name=value`.
    Field {
        /// Key, trimmed.
        name: &'a [u8],
        /// Value, trimmed.
        value: &'a [u8],
        /// The separator.
        sep: u8,
        /// The whole line.
        line: Line<'a>,
    },
    /// A line inside a request or reply that is not an argument or field.
    Malformed {
        /// The line.
        line: Line<'a>,
    },
    /// A headerless `result: …` line opens a reply (parser errors, replies to bad requests).
    Result {
        /// The text after `result:`, trimmed.
        value: &'a [u8],
        /// The line.
        line: Line<'a>,
    },
    /// `Error: …` after `Authorization failed`.
    AuthError {
        /// The line.
        line: Line<'a>,
    },
    /// `type=N` after `log event reply`.
    EventType {
        /// The line.
        line: Line<'a>,
    },
    /// `<PING>` of an event-listener stream.
    Ping {
        /// The line.
        line: Line<'a>,
    },
    /// `Node N: …`, an event-listener text line.
    EventText {
        /// The line.
        line: Line<'a>,
    },
    /// A transporter line between messages: `a b[ c[ d]]` (`fields` 2 to 4) or `ok` / `BYE`
    /// (`fields` 0).
    Transporter {
        /// Number of fields, 0 for `ok` / `BYE`.
        fields: u8,
        /// The line.
        line: Line<'a>,
    },
    /// The data-node handshake `ndbd` / `ndbd passwd` (an [`Event::Upgrade`] follows).
    DataNodeHandshake {
        /// The `ndbd passwd` line; `msg` holds both lines.
        line: Line<'a>,
    },
    /// An `ndbd` line not followed by `ndbd passwd`; the next line is read afresh.
    LoneNdbd {
        /// The line after it.
        line: Line<'a>,
    },
    /// The line after the switch to a transporter (the hello, or whatever came instead);
    /// everything after it is [`Event::Opaque`].
    Hello {
        /// Fields of a well-formed hello (see [`Event::Transporter`]), else `None`.
        fields: Option<u8>,
        /// The line; `msg` is the line alone.
        line: Line<'a>,
    },
    /// A line between messages that is not protocol text.
    Text {
        /// The line.
        line: Line<'a>,
    },
    /// The empty line that ends a message (also the end of a `set ports` bulk).
    End {
        /// The message up to the empty line (as far as it lies in this call's bytes).
        msg: &'a [u8],
        /// Some line of the message, the empty one included, ended with CRLF.
        crlf: bool,
    },
    /// Bytes of a body skipped unread: a `Content-Length` body, or one `set ports` bulk line.
    Body(&'a [u8]),
    /// The text part of the connection ends: a transporter hand-off (at the end of its
    /// request), or a TLS record where `start tls` allows one.
    Upgrade(Upgrade),
    /// Bytes after the text part ended, each reported once.
    Opaque(&'a [u8]),
    /// A byte outside text in the current line: `rest` runs from that line's start to the end
    /// of the bytes given. The scanner does not go past it: later bytes are
    /// [`Event::Opaque`] (a consumer that needs the line again gets it from
    /// [`Scanner::binary_line`]).
    Binary {
        /// From the start of the line to the end of the input.
        rest: &'a [u8],
    },
    /// A line longer than [`MAX_LINE`], reported once; the scanner resumes after its LF.
    LongLine {
        /// The line's bytes given so far.
        head: &'a [u8],
    },
}

/// A consumer of scanner events (monomorphised: no event is stored or boxed).
pub trait Sink {
    /// One event, in the order of the bytes.
    fn event(&mut self, ev: Event<'_>);

    /// True when the consumer wants nothing more of this call; the scanner then returns at
    /// the next event boundary and resumes there on the next call.
    fn stopped(&self) -> bool {
        false
    }
}

impl<F: FnMut(Event<'_>)> Sink for F {
    fn event(&mut self, ev: Event<'_>) {
        self(ev)
    }
}

/// Two consumers of one scanner (say the judge and an audit trail): both get every event; the
/// pair stops when both have.
impl<A: Sink + ?Sized, B: Sink + ?Sized> Sink for (&mut A, &mut B) {
    #[inline]
    fn event(&mut self, ev: Event<'_>) {
        self.0.event(ev);
        self.1.event(ev);
    }

    #[inline]
    fn stopped(&self) -> bool {
        self.0.stopped() && self.1.stopped()
    }
}

/// Where the scanner is inside the current message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Msg {
    /// Between messages.
    #[default]
    Idle,
    /// After a command line.
    Request {
        cmd: Command,
        args: u8,
        bad: bool,
        content_len: u32,
    },
    /// After a reply header.
    Reply { hdr: Header, content_len: u32 },
    /// A reply without header (`result: …`) or `key: value` lines with no header.
    Plain,
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
    /// The text part is over.
    Opaque,
}

/// Resumable scanner state of one direction (offsets and flags only).
#[derive(Clone, Debug, Default)]
pub struct Scanner {
    /// Offset of the first byte not yet consumed (start of the current line).
    pos: u32,
    /// Offset up to which the current line is known to have no LF.
    scan: u32,
    /// Body bytes still to skip (config blob, bulk data).
    skip: u32,
    /// Offset where the current message started.
    msg_start: u32,
    msg: Msg,
    /// `start tls` was requested: a TLS record may follow.
    expect_tls: bool,
    /// The current message has CRLF line ends.
    msg_crlf: bool,
    /// A non-text byte was found in the line at `pos`.
    binary: bool,
    /// Lines may hold any byte but LF (a session already judged NDB is followed as text).
    lenient: bool,
    /// An over-long line is being skipped up to its LF.
    discard: bool,
    /// Bytes visited by the line search (tests check the scan is linear).
    #[cfg(test)]
    pub(crate) visited: usize,
}

fn off(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Scanner {
    /// Leading bytes of the input the scanner will not look at again (the start of the
    /// current line, or of the current message when that is earlier).
    pub fn consumed(&self) -> usize {
        if self.binary {
            self.scan as usize
        } else if self.msg == Msg::Idle {
            self.pos as usize
        } else {
            self.pos.min(self.msg_start) as usize
        }
    }

    /// After [`Event::Binary`]: the bytes of `buf` (the same input, grown) from the start of
    /// the line holding the non-text byte.
    pub fn binary_line<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        self.binary
            .then(|| buf.get(self.pos as usize..).unwrap_or(&[]))
    }

    /// The caller dropped the first `n` bytes (at most [`Scanner::consumed`]) of its buffer:
    /// shift the offsets so the next call may pass the shorter buffer.
    pub fn rebase(&mut self, n: usize) {
        let n = off(n.min(self.consumed()));
        self.pos = self.pos.saturating_sub(n);
        self.scan = self.scan.saturating_sub(n);
        self.msg_start = self.msg_start.saturating_sub(n);
    }

    /// For a consumer that keeps only the current line (an audit following a session past
    /// its prefix): the leading bytes of the input before the current line's start (or all
    /// of them once the text part is over), which it may drop now. The offsets are shifted as
    /// by [`Scanner::rebase`]; later events' `Line::msg` and `Event::End`'s `msg` then start
    /// at the current line at the earliest.
    pub fn release(&mut self) -> usize {
        let n = if self.binary {
            self.scan
        } else {
            self.pos.max(if self.discard { self.scan } else { 0 })
        };
        self.pos = self.pos.saturating_sub(n);
        self.scan = self.scan.saturating_sub(n);
        self.msg_start = self.msg_start.saturating_sub(n);
        n as usize
    }

    /// `n` bytes after those given so far were lost (a gap in the capture). The caller drops
    /// every byte it kept: the next call's input starts after the lost ones. Returns true when
    /// the scanner stays in step: the lost bytes lay inside a body it was skipping by its
    /// length. Otherwise the current message is abandoned and scanning starts afresh, between
    /// messages, at the first byte after the gap (which may be inside a line: a consumer
    /// resynchronises on the first line that opens a message).
    pub fn gap(&mut self, n: usize) -> bool {
        let n = off(n);
        self.pos = 0;
        self.scan = 0;
        self.msg_start = 0;
        if self.msg == Msg::Opaque || self.binary {
            return true;
        }
        if self.skip >= n && self.skip > 0 {
            self.skip -= n;
            return true;
        }
        self.skip = 0;
        self.msg = Msg::Idle;
        self.expect_tls = false;
        self.discard = false;
        false
    }

    /// `on`: from now on a line is anything up to a LF, whatever bytes it holds (a session
    /// already judged NDB, followed by an audit: a hostile client's control bytes must not
    /// end the audit). A line where a non-text byte stopped the scan is scanned again.
    /// `off`: back to stopping at a non-text byte (after an upgrade, binary or TLS follows).
    pub fn lenient(&mut self, on: bool) {
        if on && self.binary && self.msg != Msg::Opaque {
            self.binary = false;
            self.scan = self.pos;
        }
        self.lenient = on;
    }

    /// The text part is over (an upgrade or a non-text byte): every later byte is opaque.
    pub fn is_opaque(&self) -> bool {
        self.msg == Msg::Opaque || self.binary
    }

    /// Scan the bytes of `buf` (the whole in-order prefix of the direction) after those
    /// scanned by earlier calls, reporting to `sink`.
    pub fn feed<S: Sink + ?Sized>(&mut self, buf: &[u8], sink: &mut S) {
        self.run(buf, sink);
    }

    /// Scan one datagram: messages may continue across datagrams, but a line may not (the
    /// datagram ends its last line).
    pub fn feed_datagram<S: Sink + ?Sized>(&mut self, d: &[u8], sink: &mut S) {
        self.pos = 0;
        self.scan = 0;
        self.msg_start = 0;
        self.binary = false;
        self.discard = false;
        self.run(d, sink);
        let end = d.len();
        let pos = self.pos as usize;
        if !sink.stopped() && !self.binary && !self.discard && self.skip == 0 && pos < end {
            self.on_line(d, pos, end, sink);
        }
    }

    /// Scan complete lines from `pos`, each byte once.
    fn run<S: Sink + ?Sized>(&mut self, buf: &[u8], sink: &mut S) {
        let end = buf.len();
        while !sink.stopped() {
            let pos = self.pos as usize;
            if self.skip > 0 {
                let n = u32::try_from(end.saturating_sub(pos))
                    .unwrap_or(u32::MAX)
                    .min(self.skip);
                self.skip -= n;
                self.pos = self.pos.saturating_add(n);
                self.scan = self.pos;
                if n > 0 {
                    sink.event(Event::Body(buf.get(pos..pos + n as usize).unwrap_or(&[])));
                }
                if self.skip > 0 {
                    return;
                }
                continue;
            }
            if pos >= end {
                return;
            }
            if self.msg == Msg::Opaque {
                self.pos = off(end);
                self.scan = self.pos;
                sink.event(Event::Opaque(buf.get(pos..).unwrap_or(&[])));
                return;
            }
            if self.binary {
                let from = self.scan as usize;
                if from < end {
                    self.scan = off(end);
                    sink.event(Event::Opaque(buf.get(from..).unwrap_or(&[])));
                }
                return;
            }
            if self.expect_tls && self.msg == Msg::Idle {
                self.expect_tls = false;
                if buf.get(pos) == Some(&0x16) {
                    self.msg = Msg::Opaque;
                    sink.event(Event::Upgrade(Upgrade::Tls));
                    continue;
                }
            }
            let from = (self.scan as usize).max(pos);
            let rest = buf.get(from..).unwrap_or(&[]);
            let found = if self.discard || self.lenient {
                rest.iter().position(|&c| c == b'\n')
            } else {
                rest.iter()
                    .position(|&c| c == b'\n' || !matches!(c, 0x20..=0x7e | b'\t' | b'\r'))
            };
            #[cfg(test)]
            {
                self.visited += found.map_or(rest.len(), |i| i + 1);
            }
            match found {
                Some(i) => {
                    let at = from + i;
                    if self.discard {
                        self.discard = false;
                        self.pos = off(at + 1);
                        self.scan = self.pos;
                    } else if buf.get(at) == Some(&b'\n') {
                        if at - pos > MAX_LINE {
                            self.too_long(buf, pos, at + 1, sink);
                            continue;
                        }
                        self.on_line(buf, pos, at, sink);
                        self.pos = off(at + 1);
                        self.scan = self.pos;
                    } else {
                        self.scan = off(end);
                        self.binary = true;
                        sink.event(Event::Binary {
                            rest: buf.get(pos..).unwrap_or(&[]),
                        });
                        return;
                    }
                }
                None => {
                    self.scan = off(end);
                    if !self.discard && end - pos > MAX_LINE {
                        self.too_long(buf, pos, end, sink);
                    }
                    return;
                }
            }
        }
    }

    /// The line starting at `pos` is longer than [`MAX_LINE`]: report it, then skip to its
    /// LF (`next` is just after it, or the end of the input when no LF was seen yet).
    fn too_long<S: Sink + ?Sized>(&mut self, buf: &[u8], pos: usize, next: usize, sink: &mut S) {
        sink.event(Event::LongLine {
            head: buf.get(pos..next).unwrap_or(&[]),
        });
        self.msg = Msg::Idle;
        self.pos = off(next);
        self.scan = self.pos;
        self.discard = next.checked_sub(1).and_then(|i| buf.get(i)) != Some(&b'\n');
    }

    fn line<'a>(&self, buf: &'a [u8], start: usize, end: usize, first: bool) -> Line<'a> {
        let raw = buf.get(start..end).unwrap_or(&[]);
        let (raw, crlf) = match raw.strip_suffix(b"\r") {
            Some(r) => (r, true),
            None => (raw, false),
        };
        Line {
            raw,
            text: trim(raw),
            crlf,
            msg_crlf: self.msg_crlf,
            msg: buf.get(self.msg_start as usize..end).unwrap_or(&[]),
            first,
        }
    }

    fn end<S: Sink + ?Sized>(&mut self, buf: &[u8], blank_at: usize, sink: &mut S) {
        self.msg = Msg::Idle;
        sink.event(Event::End {
            msg: buf.get(self.msg_start as usize..blank_at).unwrap_or(&[]),
            crlf: self.msg_crlf,
        });
    }

    /// One complete line `buf[start..end]` (LF excluded).
    fn on_line<S: Sink + ?Sized>(&mut self, buf: &[u8], start: usize, end: usize, sink: &mut S) {
        if self.msg == Msg::Idle {
            self.begin(buf, start, end, sink);
            return;
        }
        let cr = buf.get(end.wrapping_sub(1)) == Some(&b'\r') && end > start;
        self.msg_crlf |= cr;
        let line = self.line(buf, start, end, false);
        let t = line.text;
        match self.msg {
            Msg::Idle | Msg::Opaque => {}
            Msg::Request { .. } => self.request_line(buf, start, line, sink),
            Msg::Reply { .. } => {
                if t.is_empty() {
                    self.end_reply(buf, start, sink);
                } else {
                    self.reply_line(line, sink);
                }
            }
            Msg::Plain => {
                if t.is_empty() {
                    self.end(buf, start, sink);
                } else {
                    field_or_malformed(line, sink);
                }
            }
            Msg::AuthFail { error_seen } => {
                if t.is_empty() {
                    self.end(buf, start, sink);
                } else if !error_seen && line.raw.starts_with(b"Error: ") {
                    self.msg = Msg::AuthFail { error_seen: true };
                    sink.event(Event::AuthError { line });
                } else if !error_seen {
                    // Not the refusal after all: read the line afresh.
                    self.msg = Msg::Idle;
                    self.begin(buf, start, end, sink);
                } else {
                    sink.event(Event::Malformed { line });
                }
            }
            Msg::LogEvent { typed } => {
                if t.is_empty() {
                    self.end(buf, start, sink);
                } else if !typed {
                    match split_kv(t) {
                        Some((b"type", v, b'=')) if super::grammar::digits(v) => {
                            self.msg = Msg::LogEvent { typed: true };
                            sink.event(Event::EventType { line });
                        }
                        _ => {
                            self.msg = Msg::Idle;
                            self.begin(buf, start, end, sink);
                        }
                    }
                } else {
                    match split_kv(t) {
                        Some((name, value, sep)) => sink.event(Event::Field {
                            name,
                            value,
                            sep,
                            line,
                        }),
                        None => sink.event(Event::Malformed { line }),
                    }
                }
            }
            Msg::Ndbd => {
                self.msg = Msg::Idle;
                if t == b"ndbd passwd" {
                    self.msg = Msg::TransporterHello;
                    sink.event(Event::DataNodeHandshake { line });
                    sink.event(Event::Upgrade(Upgrade::Transporter));
                } else {
                    sink.event(Event::LoneNdbd { line });
                    self.begin(buf, start, end, sink);
                }
            }
            Msg::TransporterHello => {
                // The hello line (or whatever came instead); binary follows.
                self.msg_start = off(start);
                let line = self.line(buf, start, end, true);
                let fields = transporter_line(line.text).and_then(|n| u8::try_from(n).ok());
                self.msg = Msg::Opaque;
                sink.event(Event::Hello { fields, line });
            }
            Msg::Bulk => {
                if t.is_empty() {
                    self.end(buf, start, sink);
                } else {
                    sink.event(Event::Body(line.raw));
                }
            }
        }
    }

    /// The first line of a message.
    fn begin<S: Sink + ?Sized>(&mut self, buf: &[u8], start: usize, end: usize, sink: &mut S) {
        let whole = buf.get(start..end).unwrap_or(&[]);
        let (raw, crlf) = match whole.strip_suffix(b"\r") {
            Some(r) => (r, true),
            None => (whole, false),
        };
        let t = trim(raw);
        if t.is_empty() {
            return; // empty lines between messages (config trailers, CRLF clients)
        }
        self.msg_start = off(start);
        self.msg_crlf = crlf;
        let line = Line {
            raw,
            text: t,
            crlf,
            msg_crlf: crlf,
            msg: whole,
            first: true,
        };
        if t == b"<PING>" {
            sink.event(Event::Ping { line });
            return;
        }
        if let Some(cmd) = Command::find(t) {
            self.msg = Msg::Request {
                cmd,
                args: 0,
                bad: false,
                content_len: 0,
            };
            sink.event(Event::Request { cmd, line });
            return;
        }
        if t == b"end session reply" {
            // The one reply without an empty line.
            sink.event(Event::Reply {
                header: Header::EndSession,
                line,
            });
            return;
        }
        if t == b"log event reply" {
            self.msg = Msg::LogEvent { typed: false };
            sink.event(Event::Reply {
                header: Header::LogEvent,
                line,
            });
            return;
        }
        if let Some(hdr) = reply_header(t) {
            self.msg = Msg::Reply {
                hdr,
                content_len: 0,
            };
            sink.event(Event::Reply { header: hdr, line });
            return;
        }
        if let Some(value) = line.raw.strip_prefix(b"result:") {
            self.msg = Msg::Plain;
            sink.event(Event::Result {
                value: trim(value),
                line,
            });
            return;
        }
        if t == b"Authorization failed" {
            self.msg = Msg::AuthFail { error_seen: false };
            sink.event(Event::Reply {
                header: Header::AuthFailed,
                line,
            });
            return;
        }
        if t == b"ndbd" {
            self.msg = Msg::Ndbd;
            return;
        }
        if let Some(fields) = transporter_line(t) {
            let fields = u8::try_from(fields).unwrap_or(u8::MAX);
            sink.event(Event::Transporter { fields, line });
            return;
        }
        if t == b"BYE" || t == b"ok" {
            sink.event(Event::Transporter { fields: 0, line });
            return;
        }
        if event_line(t) {
            sink.event(Event::EventText { line });
            return;
        }
        if let Some((name, value, sep)) = split_kv(t) {
            if key_ok(name) {
                self.msg = Msg::Plain;
                sink.event(Event::Field {
                    name,
                    value,
                    sep,
                    line,
                });
                return;
            }
        }
        // Not NDB. Like the server's parser, take the next line as a new message.
        sink.event(Event::Text { line });
    }

    fn request_line<S: Sink + ?Sized>(
        &mut self,
        buf: &[u8],
        start: usize,
        line: Line<'_>,
        sink: &mut S,
    ) {
        let Msg::Request {
            cmd,
            args,
            mut bad,
            mut content_len,
        } = self.msg
        else {
            return;
        };
        let t = line.text;
        if t.is_empty() {
            self.end(buf, start, sink);
            if bad {
                return;
            }
            let flags = cmd.flags();
            if flags & TLS != 0 {
                self.expect_tls = true;
            }
            if flags & XPORT != 0 {
                self.msg = Msg::TransporterHello;
                sink.event(Event::Upgrade(Upgrade::Transporter));
            }
            if flags & PORTS != 0 {
                self.msg = Msg::Bulk;
            }
            if content_len > 0 {
                self.skip = content_len.min(MAX_BODY);
            }
            return;
        }
        match split_kv(t) {
            Some((name, value, sep)) if arg_name_ok(name) => {
                if cmd.flags() & AMBIG != 0 && args == 0 && !cmd.takes_arg(name) {
                    // `listen event` / `get cluster loglevel` as a reply header.
                    let hdr = cmd.as_reply_header();
                    self.msg = Msg::Reply {
                        hdr,
                        content_len: 0,
                    };
                    sink.event(Event::Reply { header: hdr, line });
                    self.reply_line(line, sink);
                    return;
                }
                if name == b"Content-Length" {
                    content_len = parse_u32(value).unwrap_or(0);
                }
                sink.event(Event::Arg {
                    name,
                    value,
                    sep,
                    line,
                });
            }
            _ => {
                bad = true;
                sink.event(Event::Malformed { line });
            }
        }
        self.msg = Msg::Request {
            cmd,
            args: args.saturating_add(1),
            bad,
            content_len,
        };
    }

    fn reply_line<S: Sink + ?Sized>(&mut self, line: Line<'_>, sink: &mut S) {
        let Msg::Reply { hdr, .. } = self.msg else {
            return;
        };
        match split_kv(line.text) {
            Some((name, value, b':')) if key_ok(name) => {
                if hdr == Header::Config && name == b"Content-Length" {
                    let content_len = parse_u32(value).unwrap_or(0);
                    self.msg = Msg::Reply { hdr, content_len };
                }
                sink.event(Event::Field {
                    name,
                    value,
                    sep: b':',
                    line,
                });
            }
            _ => sink.event(Event::Malformed { line }),
        }
    }

    fn end_reply<S: Sink + ?Sized>(&mut self, buf: &[u8], blank_at: usize, sink: &mut S) {
        let Msg::Reply { hdr, content_len } = self.msg else {
            return;
        };
        self.end(buf, blank_at, sink);
        if hdr == Header::Config && content_len > 0 {
            self.skip = content_len.min(MAX_BODY);
        }
    }
}

/// Inside a message without header: `key: value`, or anything else.
fn field_or_malformed<S: Sink + ?Sized>(line: Line<'_>, sink: &mut S) {
    match split_kv(line.text) {
        Some((name, value, b':')) if key_ok(name) => sink.event(Event::Field {
            name,
            value,
            sep: b':',
            line,
        }),
        _ => sink.event(Event::Malformed { line }),
    }
}
