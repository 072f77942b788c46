//! Naming the protocol of a flow that is not NDB management traffic.
//!
//! Owns cheap recognisers that look only at the first bytes of one direction (at most
//! [`SNIFF_LEN`] bytes of a TCP direction, or one UDP datagram) and name what they see: TLS,
//! HTTP, SSH, SMTP, FTP/POP3/IMAP banners, the MySQL classic handshake, memcached and Redis,
//! DNS, or just `binary` / `text`. The result is a hint for `unknown` flows and a signal for the
//! classifier that a side clearly speaks something else ([`Hint::is_hard`]).
//!
//! Must never: panic on any input, look beyond the bytes it is given (callers pass a prefix
//! already cut to their budget), allocate except in [`Hint::describe`], or produce text that is
//! not printable ASCII.

use super::Role;
use crate::escape::{escape_into, escape_prefix};

/// How many leading bytes of a TCP direction the recognisers look at, at most.
pub const SNIFF_LEN: usize = 64;

/// Longest description produced by [`Hint::describe`].
pub const DESCRIBE_MAX: usize = 100;

/// What the first bytes of one direction look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// TLS handshake record carrying a ClientHello.
    TlsClientHello,
    /// TLS handshake record carrying a ServerHello.
    TlsServerHello,
    /// Some other TLS record (alert, change cipher spec, application data, other handshake).
    TlsRecord,
    /// HTTP/1.x request line (`GET / HTTP/1.1`).
    HttpRequest,
    /// HTTP status line (`HTTP/1.1 200 OK`).
    HttpResponse,
    /// SSH identification string (`SSH-2.0-…`); both sides send one.
    SshBanner,
    /// SMTP greeting (`220 … ESMTP …`).
    SmtpBanner,
    /// SMTP client greeting (`EHLO` / `HELO`).
    SmtpCommand,
    /// FTP greeting (`220 … FTP …`).
    FtpBanner,
    /// POP3 greeting (`+OK …`).
    Pop3Banner,
    /// IMAP greeting (`* OK …`).
    ImapBanner,
    /// MySQL classic protocol: server handshake (protocol 10) or error packet first.
    MysqlGreeting,
    /// memcached text command (`get x\r\n`, `set k 0 0 1\r\n`, …).
    MemcachedCommand,
    /// memcached text reply (`END\r\n`, `VALUE …`, `STORED\r\n`, …).
    MemcachedReply,
    /// Redis request: RESP array (`*2\r\n$3\r\n…`) or upper-case inline command.
    RedisCommand,
    /// Redis reply (`$-1\r\n`, `-ERR …`, `:1\r\n`, `+OK\r\n`, …).
    RedisReply,
    /// DNS query (UDP datagram with QR = 0).
    DnsQuery,
    /// DNS response (UDP datagram with QR = 1).
    DnsResponse,
    /// Bytes outside printable ASCII text.
    Binary,
    /// Printable text that matched nothing more specific.
    Text,
}

/// Outcome of looking at the first bytes of a TCP direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sniff {
    /// Best name so far (None only for an empty prefix).
    pub hint: Option<Hint>,
    /// True when more bytes cannot change `hint`.
    pub settled: bool,
}

impl Hint {
    /// Short protocol name used in reports: `tls`, `http`, `ssh`, `smtp`, `ftp`, `pop3`,
    /// `imap`, `mysql`, `memcached`, `redis`, `dns`, `binary`, `text`.
    pub fn name(self) -> &'static str {
        match self {
            Hint::TlsClientHello | Hint::TlsServerHello | Hint::TlsRecord => "tls",
            Hint::HttpRequest | Hint::HttpResponse => "http",
            Hint::SshBanner => "ssh",
            Hint::SmtpBanner | Hint::SmtpCommand => "smtp",
            Hint::FtpBanner => "ftp",
            Hint::Pop3Banner => "pop3",
            Hint::ImapBanner => "imap",
            Hint::MysqlGreeting => "mysql",
            Hint::MemcachedCommand | Hint::MemcachedReply => "memcached",
            Hint::RedisCommand | Hint::RedisReply => "redis",
            Hint::DnsQuery | Hint::DnsResponse => "dns",
            Hint::Binary => "binary",
            Hint::Text => "text",
        }
    }

    /// Which end of the connection sends this, when the bytes say so.
    pub fn role(self) -> Option<Role> {
        match self {
            Hint::TlsClientHello
            | Hint::HttpRequest
            | Hint::SmtpCommand
            | Hint::MemcachedCommand
            | Hint::RedisCommand
            | Hint::DnsQuery => Some(Role::Client),
            Hint::TlsServerHello
            | Hint::HttpResponse
            | Hint::SmtpBanner
            | Hint::FtpBanner
            | Hint::Pop3Banner
            | Hint::ImapBanner
            | Hint::MysqlGreeting
            | Hint::MemcachedReply
            | Hint::RedisReply
            | Hint::DnsResponse => Some(Role::Server),
            Hint::TlsRecord | Hint::SshBanner | Hint::Binary | Hint::Text => None,
        }
    }

    /// True when a side starting like this cannot be part of an NDB management conversation:
    /// a server greeting or a reply of another protocol, a TLS record or binary data before
    /// any text. Requests of other protocols (HTTP, memcached, Redis, SMTP client) are not
    /// hard: an ndb_mgmd that receives them still answers in its own protocol.
    pub fn is_hard(self) -> bool {
        !matches!(
            self,
            Hint::HttpRequest
                | Hint::SmtpCommand
                | Hint::MemcachedCommand
                | Hint::RedisCommand
                | Hint::Text
        )
    }

    /// True when the hint names a protocol (anything but `binary` and `text`).
    pub fn is_identified(self) -> bool {
        !matches!(self, Hint::Binary | Hint::Text)
    }

    /// Human-readable description for evidence, from the same prefix that produced the
    /// hint, e.g. `TLS ClientHello`, `HTTP request GET /`, `SSH banner SSH-2.0-OpenSSH_9.6`.
    /// At most [`DESCRIBE_MAX`] printable ASCII characters.
    pub fn describe(self, prefix: &[u8]) -> String {
        let line = first_line(prefix);
        let (label, detail): (&str, &[u8]) = match self {
            Hint::TlsClientHello => ("TLS ClientHello", b""),
            Hint::TlsServerHello => ("TLS ServerHello", b""),
            Hint::TlsRecord => ("TLS record", b""),
            Hint::HttpRequest => ("HTTP request", request_target(line)),
            Hint::HttpResponse => ("HTTP response", line),
            Hint::SshBanner => ("SSH banner", line),
            Hint::SmtpBanner => ("SMTP banner", line),
            Hint::SmtpCommand => ("SMTP command", line),
            Hint::FtpBanner => ("FTP banner", line),
            Hint::Pop3Banner => ("POP3 banner", line),
            Hint::ImapBanner => ("IMAP banner", line),
            Hint::MysqlGreeting if prefix.get(4) == Some(&0xff) => {
                ("MySQL error packet", mysql_detail(prefix))
            }
            Hint::MysqlGreeting => ("MySQL handshake", mysql_detail(prefix)),
            Hint::MemcachedCommand => ("memcached request", line),
            Hint::MemcachedReply => ("memcached reply", line),
            Hint::RedisCommand => ("Redis request", line),
            Hint::RedisReply => ("Redis reply", line),
            Hint::DnsQuery => ("DNS query", b""),
            Hint::DnsResponse => ("DNS response", b""),
            Hint::Binary => ("binary", prefix.get(..16).unwrap_or(prefix)),
            Hint::Text => ("text", line),
        };
        let mut out = String::with_capacity(DESCRIBE_MAX);
        out.push_str(label);
        if !detail.is_empty() {
            out.push_str(if self == Hint::Binary { ": " } else { " " });
            let room = DESCRIBE_MAX.saturating_sub(out.len());
            escape_into(&mut out, detail, room);
        }
        out
    }
}

/// The first line of `b` without its terminator (`\n` or `\r\n`), at most [`SNIFF_LEN`] bytes.
fn first_line(b: &[u8]) -> &[u8] {
    let b = b.get(..SNIFF_LEN).unwrap_or(b);
    let line = match b.iter().position(|&c| c == b'\n') {
        Some(n) => b.get(..n).unwrap_or(b),
        None => b,
    };
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `METHOD target` of an HTTP request line (the version dropped).
fn request_target(line: &[u8]) -> &[u8] {
    match line.iter().rposition(|&c| c == b' ') {
        Some(n) if line.get(n + 1..).is_some_and(|v| v.starts_with(b"HTTP/")) => {
            line.get(..n).unwrap_or(line)
        }
        _ => line,
    }
}

/// Server version string of a MySQL handshake packet, or the error text of an error packet.
fn mysql_detail(p: &[u8]) -> &[u8] {
    match p.get(4) {
        Some(0x0a) => {
            let rest = p.get(5..).unwrap_or(&[]);
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            rest.get(..end).unwrap_or(&[])
        }
        // Error packet: 0xff, 2-byte code, then optionally `#` + SQL state, then text.
        Some(0xff) => {
            let len = usize::from(p.first().copied().unwrap_or(0));
            let text = p.get(7..).unwrap_or(&[]);
            text.get(..len.saturating_sub(3).min(text.len()))
                .unwrap_or(text)
        }
        _ => &[],
    }
}

fn is_text_byte(c: u8) -> bool {
    matches!(c, 0x20..=0x7e | b'\t' | b'\r' | b'\n')
}

/// True when `p` is a proper prefix of `full` (more bytes could still complete it).
fn could_become(p: &[u8], full: &[u8]) -> bool {
    p.len() < full.len() && full.starts_with(p)
}

/// Look at the first bytes of a TCP direction (pass the whole prefix seen so far; only the
/// first [`SNIFF_LEN`] bytes are read).
pub fn sniff_stream(prefix: &[u8]) -> Sniff {
    let p = prefix.get(..SNIFF_LEN).unwrap_or(prefix);
    let full = p.len() >= SNIFF_LEN;
    if p.is_empty() {
        return Sniff {
            hint: None,
            settled: false,
        };
    }
    let done = |h: Hint| Sniff {
        hint: Some(h),
        settled: true,
    };
    let wait = |h: Hint| Sniff {
        hint: Some(h),
        settled: full,
    };

    // Binary signatures first: TLS records and MySQL packets.
    if let Some(h) = sniff_tls(p) {
        return if h == Hint::TlsRecord && p.first() == Some(&0x16) && p.len() < 6 && !full {
            wait(h)
        } else {
            done(h)
        };
    }
    if matches!(p.first(), Some(0x14..=0x17)) && p.len() < 3 {
        return wait(Hint::Binary);
    }
    match sniff_mysql(p) {
        Some(Some(h)) => return done(h),
        Some(None) => return wait(Hint::Binary),
        None => {}
    }
    // Binary before the first line ends (later bytes may follow a text hand-off).
    let head_end = p.iter().position(|&c| c == b'\n').unwrap_or(p.len());
    if p.get(..head_end)
        .unwrap_or(p)
        .iter()
        .any(|&c| !is_text_byte(c))
    {
        // A MySQL packet header (3-byte length, sequence 0) needs 5 bytes to be told apart.
        let maybe_mysql = p.len() < 5 && p.get(3).is_none_or(|&s| s == 0);
        return if maybe_mysql {
            wait(Hint::Binary)
        } else {
            done(Hint::Binary)
        };
    }

    // Text signatures: decided on the first line (or what there is of it).
    let nl = p.iter().position(|&c| c == b'\n');
    let line_done = nl.is_some() || full;
    let raw_line = match nl {
        Some(n) => p.get(..n).unwrap_or(p),
        None => p,
    };
    let crlf = raw_line.ends_with(b"\r");
    let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);

    for (sig, h) in [
        (&b"SSH-"[..], Hint::SshBanner),
        (b"HTTP/", Hint::HttpResponse),
        (b"* OK", Hint::ImapBanner),
        (b"* PREAUTH", Hint::ImapBanner),
        (b"+OK ", Hint::Pop3Banner),
    ] {
        if line.starts_with(sig) {
            return done(h);
        }
        if !line_done && could_become(line, sig) {
            return wait(Hint::Text);
        }
    }
    if !line_done {
        // Everything below needs the whole first line.
        return wait(Hint::Text);
    }
    if is_http_request_line(line, nl.is_none()) {
        return done(Hint::HttpRequest);
    }
    if let Some(h) = sniff_numeric_banner(line) {
        return done(h);
    }
    let word_end = line.iter().position(|&c| c == b' ').unwrap_or(line.len());
    let word = line.get(..word_end).unwrap_or(line);
    if word.eq_ignore_ascii_case(b"EHLO") || word.eq_ignore_ascii_case(b"HELO") {
        return done(Hint::SmtpCommand);
    }
    if crlf {
        if let Some(h) = sniff_crlf_line(line, word) {
            return done(h);
        }
    }
    done(Hint::Text)
}

/// TLS record header: content type 20..=23, major version 3, minor 0..=4.
fn sniff_tls(p: &[u8]) -> Option<Hint> {
    let (&ty, &major, &minor) = (p.first()?, p.get(1)?, p.get(2)?);
    if !(0x14..=0x17).contains(&ty) || major != 3 || minor > 4 {
        return None;
    }
    Some(match (ty, p.get(5)) {
        (0x16, Some(1)) => Hint::TlsClientHello,
        (0x16, Some(2)) => Hint::TlsServerHello,
        _ => Hint::TlsRecord,
    })
}

/// MySQL classic packet with sequence 0: protocol-10 handshake or an error packet.
/// `Some(None)`: a handshake header whose version string is not complete yet.
fn sniff_mysql(p: &[u8]) -> Option<Option<Hint>> {
    let len =
        usize::from(*p.first()?) | usize::from(*p.get(1)?) << 8 | usize::from(*p.get(2)?) << 16;
    if *p.get(3)? != 0 {
        return None;
    }
    match *p.get(4)? {
        0x0a if (20..=1024).contains(&len) => {
            // Server version: printable text up to a NUL.
            let rest = p.get(5..).unwrap_or(&[]);
            let end = rest.iter().position(|&c| c == 0);
            let version = rest.get(..end.unwrap_or(rest.len())).unwrap_or(&[]);
            let printable = version.len() < 60
                && version.iter().all(|&c| (0x20..=0x7e).contains(&c))
                && version.first().is_none_or(u8::is_ascii_digit);
            match (printable, end.is_some()) {
                (true, true) if !version.is_empty() => Some(Some(Hint::MysqlGreeting)),
                (true, false) => Some(None),
                _ => None,
            }
        }
        0xff if (4..=1024).contains(&len) => {
            // Error packet instead of the greeting: 2-byte code (MySQL server errors are
            // 1000..=4999), then text (optionally `#` + SQL state).
            let code = usize::from(*p.get(5)?) | usize::from(*p.get(6)?) << 8;
            let text = p.get(7..).unwrap_or(&[]);
            let text = text
                .get(..text.len().min(len.saturating_sub(3)))
                .unwrap_or(&[]);
            let ok = (1000..=4999).contains(&code)
                && text.len() >= 4
                && text.iter().all(|&c| (0x20..=0x7e).contains(&c));
            ok.then_some(Some(Hint::MysqlGreeting))
        }
        _ => None,
    }
}

/// `GET /path HTTP/1.1` and friends (also SSDP's `M-SEARCH * HTTP/1.1`). `cut`: the line
/// did not end within the sniffed bytes, so only its start can be checked.
fn is_http_request_line(line: &[u8], cut: bool) -> bool {
    const METHODS: [&[u8]; 13] = [
        b"GET",
        b"POST",
        b"HEAD",
        b"PUT",
        b"DELETE",
        b"OPTIONS",
        b"PATCH",
        b"CONNECT",
        b"TRACE",
        b"PRI",
        b"NOTIFY",
        b"M-SEARCH",
        b"SUBSCRIBE",
    ];
    let mut parts = line.split(|&c| c == b' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !METHODS.contains(&method) || target.is_empty() {
        return false;
    }
    match (parts.next(), parts.next()) {
        (Some(version), None) => version.starts_with(b"HTTP/"),
        // A long target: the version is beyond the sniffed bytes.
        (None, None) if cut => target.starts_with(b"/") || target.starts_with(b"http://"),
        _ => false,
    }
}

/// `220 host ESMTP …` / `220 FTP server ready`.
fn sniff_numeric_banner(line: &[u8]) -> Option<Hint> {
    let code = line.get(..3)?;
    let sep = *line.get(3)?;
    if code != b"220" || !(sep == b' ' || sep == b'-') {
        return None;
    }
    let upper: Vec<u8> = line
        .iter()
        .take(SNIFF_LEN)
        .map(u8::to_ascii_uppercase)
        .collect();
    let has = |w: &[u8]| upper.windows(w.len()).any(|x| x == w);
    if has(b"FTP") && !has(b"SMTP") {
        Some(Hint::FtpBanner)
    } else {
        Some(Hint::SmtpBanner)
    }
}

/// Line-oriented key/value stores, which terminate lines with CRLF.
fn sniff_crlf_line(line: &[u8], word: &[u8]) -> Option<Hint> {
    const MC_COMMANDS: [&[u8]; 24] = [
        b"get",
        b"gets",
        b"gat",
        b"gats",
        b"set",
        b"add",
        b"replace",
        b"append",
        b"prepend",
        b"cas",
        b"delete",
        b"incr",
        b"decr",
        b"touch",
        b"stats",
        b"version",
        b"flush_all",
        b"verbosity",
        b"quit",
        b"mg",
        b"ms",
        b"md",
        b"ma",
        b"mn",
    ];
    const MC_REPLIES: [&[u8]; 14] = [
        b"END",
        b"VALUE",
        b"STORED",
        b"NOT_STORED",
        b"EXISTS",
        b"NOT_FOUND",
        b"DELETED",
        b"TOUCHED",
        b"ERROR",
        b"CLIENT_ERROR",
        b"SERVER_ERROR",
        b"STAT",
        b"VERSION",
        b"OK",
    ];
    const REDIS_INLINE: [&[u8]; 14] = [
        b"PING", b"GET", b"SET", b"INFO", b"AUTH", b"HELLO", b"SELECT", b"KEYS", b"DEL", b"EXISTS",
        b"QUIT", b"COMMAND", b"CLIENT", b"CONFIG",
    ];
    let first = *line.first()?;
    let rest = line.get(1..).unwrap_or(&[]);
    let digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    match first {
        b'*' if digits(rest) => return Some(Hint::RedisCommand),
        b'$' if rest == b"-1" || digits(rest) => return Some(Hint::RedisReply),
        b':' if digits(rest.strip_prefix(b"-").unwrap_or(rest)) => return Some(Hint::RedisReply),
        b'-' if rest.first().is_some_and(u8::is_ascii_uppercase) => return Some(Hint::RedisReply),
        b'+' if !rest.is_empty() && rest.iter().all(u8::is_ascii_uppercase) => {
            return Some(Hint::RedisReply)
        }
        _ => {}
    }
    if MC_REPLIES.contains(&word) {
        return Some(Hint::MemcachedReply);
    }
    if REDIS_INLINE.contains(&word) {
        return Some(Hint::RedisCommand);
    }
    if MC_COMMANDS.contains(&word) && (word.len() == line.len() || line.len() > word.len() + 1) {
        return Some(Hint::MemcachedCommand);
    }
    None
}

/// Look at one UDP datagram.
pub fn sniff_datagram(d: &[u8]) -> Option<Hint> {
    if d.is_empty() {
        return None;
    }
    if let Some(h) = sniff_dns(d) {
        return Some(h);
    }
    match sniff_stream(d).hint {
        // The MySQL classic protocol runs over TCP only.
        Some(Hint::MysqlGreeting) => Some(Hint::Binary),
        Some(h) => Some(h),
        None => Some(Hint::Text),
    }
}

/// DNS message: sane header counts and a well-formed first question name.
fn sniff_dns(d: &[u8]) -> Option<Hint> {
    let be16 = |i: usize| -> Option<usize> {
        Some(usize::from(*d.get(i)?) << 8 | usize::from(*d.get(i + 1)?))
    };
    let flags = be16(2)?;
    let opcode = (flags >> 11) & 0x0f;
    let (qd, an, ns, ar) = (be16(4)?, be16(6)?, be16(8)?, be16(10)?);
    if !(opcode <= 2 || opcode == 4 || opcode == 5) || !(1..=4).contains(&qd) {
        return None;
    }
    if an > 256 || ns > 256 || ar > 256 {
        return None;
    }
    let mut i = 12usize;
    let mut name_len = 0usize;
    loop {
        let l = usize::from(*d.get(i)?);
        if l == 0 {
            break;
        }
        if l > 63 {
            return None;
        }
        name_len += l + 1;
        if name_len > 255 {
            return None;
        }
        i += l + 1;
    }
    // Type and class after the terminating zero.
    d.get(i + 1..i + 5)?;
    Some(if flags & 0x8000 != 0 {
        Hint::DnsResponse
    } else {
        Hint::DnsQuery
    })
}

/// Compact description of the first bytes of binary data, e.g. `binary: \x16\x03\x01...`.
pub fn describe_binary(b: &[u8]) -> String {
    let mut s = String::from("binary: ");
    s.push_str(&escape_prefix(b.get(..16).unwrap_or(b), DESCRIBE_MAX - 8));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape::is_printable_ascii;

    fn settled(p: &[u8]) -> Option<Hint> {
        let s = sniff_stream(p);
        assert!(s.settled, "not settled on {p:?}");
        s.hint
    }

    const CLIENT_HELLO: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 0x11, 0x22, 0x33,
    ];
    const SERVER_HELLO: &[u8] = &[0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d];

    #[test]
    fn tls() {
        assert_eq!(settled(CLIENT_HELLO), Some(Hint::TlsClientHello));
        assert_eq!(settled(SERVER_HELLO), Some(Hint::TlsServerHello));
        assert_eq!(
            settled(&[0x17, 0x03, 0x03, 0x00, 0x10]),
            Some(Hint::TlsRecord)
        );
        assert!(!sniff_stream(&[0x16, 0x03]).settled);
        assert!(!sniff_stream(&[0x16, 0x03, 0x01, 0x00]).settled);
        assert_eq!(
            Hint::TlsClientHello.describe(CLIENT_HELLO),
            "TLS ClientHello"
        );
        assert_eq!(Hint::TlsClientHello.role(), Some(Role::Client));
        assert!(Hint::TlsClientHello.is_hard());
    }

    #[test]
    fn http() {
        let req = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(settled(req), Some(Hint::HttpRequest));
        assert_eq!(
            Hint::HttpRequest.describe(req),
            "HTTP request GET /index.html"
        );
        assert!(!Hint::HttpRequest.is_hard());
        let resp = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(settled(resp), Some(Hint::HttpResponse));
        assert_eq!(
            Hint::HttpResponse.describe(resp),
            "HTTP response HTTP/1.1 404 Not Found"
        );
        assert_eq!(settled(b"HTTP/"), Some(Hint::HttpResponse));
        // Waits on a prefix that could still become a signature.
        assert!(!sniff_stream(b"HTT").settled);
        assert!(!sniff_stream(b"GET / HTTP/1.").settled);
        assert_eq!(settled(b"GET x\n"), Some(Hint::Text));
        assert_eq!(settled(b"OPTIONS rtsp://h/ RTSP/1.0\r\n"), Some(Hint::Text));
        let mut long = b"POST /".to_vec();
        long.extend_from_slice(&[b'a'; 100]);
        long.extend_from_slice(b" HTTP/1.1\r\n");
        assert_eq!(settled(&long), Some(Hint::HttpRequest));
        assert_eq!(settled(b"M-SEARCH * HTTP/1.1\r\n"), Some(Hint::HttpRequest));
    }

    #[test]
    fn banners() {
        assert_eq!(settled(b"SSH-2.0-OpenSSH_9.6\r\n"), Some(Hint::SshBanner));
        assert_eq!(
            Hint::SshBanner.describe(b"SSH-2.0-OpenSSH_9.6\r\n"),
            "SSH banner SSH-2.0-OpenSSH_9.6"
        );
        assert_eq!(
            settled(b"220 mail.example.com ESMTP Postfix\r\n"),
            Some(Hint::SmtpBanner)
        );
        assert_eq!(settled(b"220 (vsFTPd 3.0.5)\r\n"), Some(Hint::FtpBanner));
        assert_eq!(settled(b"+OK Dovecot ready.\r\n"), Some(Hint::Pop3Banner));
        assert_eq!(
            settled(b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
            Some(Hint::ImapBanner)
        );
        assert_eq!(settled(b"EHLO client.example\r\n"), Some(Hint::SmtpCommand));
    }

    #[test]
    fn mysql() {
        let mut pkt = vec![0x4a, 0x00, 0x00, 0x00, 0x0a];
        pkt.extend_from_slice(b"8.0.36\0");
        pkt.extend_from_slice(&[1, 0, 0, 0, 0x41, 0x42, 0, 0xff, 0xf7]);
        assert_eq!(settled(&pkt), Some(Hint::MysqlGreeting));
        assert_eq!(Hint::MysqlGreeting.describe(&pkt), "MySQL handshake 8.0.36");
        let err = b"\x25\x00\x00\x00\xff\x6a\x04Host '1.2.3.4' is not allowed here";
        assert_eq!(settled(err), Some(Hint::MysqlGreeting));
        assert_eq!(
            Hint::MysqlGreeting.describe(err),
            "MySQL error packet Host '1.2.3.4' is not allowed here"
        );
        // RIPv2 authentication entry: 0xff at offset 4, but no MySQL error code.
        let rip = b"\x02\x02\x00\x00\xff\xff\x00\x02abcdefghijklmnop";
        assert_eq!(settled(rip), Some(Hint::Binary));
        assert_eq!(sniff_datagram(&pkt), Some(Hint::Binary));
        assert!(!sniff_stream(b"\x4a\x00\x00\x00").settled);
    }

    #[test]
    fn key_value_stores() {
        assert_eq!(settled(b"get x\r\n"), Some(Hint::MemcachedCommand));
        assert_eq!(settled(b"END\r\n"), Some(Hint::MemcachedReply));
        assert_eq!(
            settled(b"VALUE x 0 1\r\na\r\nEND\r\n"),
            Some(Hint::MemcachedReply)
        );
        assert_eq!(settled(b"$-1\r\n"), Some(Hint::RedisReply));
        assert_eq!(settled(b"-ERR unknown command\r\n"), Some(Hint::RedisReply));
        assert_eq!(settled(b":1\r\n"), Some(Hint::RedisReply));
        assert_eq!(settled(b"+OK\r\n"), Some(Hint::RedisReply));
        assert_eq!(
            settled(b"*2\r\n$3\r\nget\r\n$1\r\nx\r\n"),
            Some(Hint::RedisCommand)
        );
        assert_eq!(settled(b"PING\r\n"), Some(Hint::RedisCommand));
        assert_eq!(Hint::RedisReply.describe(b"$-1\r\n"), "Redis reply $-1");
        assert!(Hint::RedisReply.is_hard());
        assert!(!Hint::MemcachedCommand.is_hard());
    }

    #[test]
    fn ndb_text_is_plain_text_and_never_hard() {
        for p in [
            &b"get nodeid\nversion: 460318\n"[..],
            b"get nodeid reply\nnodeid: 2\nresult: Ok\n\n",
            b"version\nid: 524323\n",
            b"result: Unknown command, 'hello'\n\n",
            b"<PING>\n",
            b"Authorization failed\nError: Requires TLS\n\n",
            b"ndbd\nndbd passwd\n",
            b"ok\n",
            b"1 1\n",
            b"check connection\r\n\r\n",
        ] {
            let h = settled(p);
            assert_eq!(h, Some(Hint::Text), "{p:?}");
        }
        assert!(!Hint::Text.is_hard());
    }

    #[test]
    fn binary_and_text() {
        assert_eq!(settled(b"\x00\x01\x02\x03\x04\x05"), Some(Hint::Binary));
        assert_eq!(settled(b"abc\xffdef"), Some(Hint::Binary));
        assert_eq!(sniff_stream(b"hello").hint, Some(Hint::Text));
        assert!(!sniff_stream(b"hello").settled);
        assert_eq!(settled(&[b'a'; 80]), Some(Hint::Text));
        assert_eq!(sniff_stream(b"").hint, None);
        let d = Hint::Binary.describe(b"\x00\x01abc");
        assert_eq!(d, "binary: \\x00\\x01abc");
        assert_eq!(describe_binary(b"\x16\x03"), "binary: \\x16\\x03");
    }

    #[test]
    fn dns() {
        // Query for example.com A IN.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(sniff_datagram(&q), Some(Hint::DnsQuery));
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        assert_eq!(sniff_datagram(&r), Some(Hint::DnsResponse));
        assert_eq!(sniff_datagram(&q[..15]), Some(Hint::Binary));
        assert_eq!(sniff_datagram(b"hello"), Some(Hint::Text));
        assert_eq!(sniff_datagram(b""), None);
        assert_eq!(Hint::DnsQuery.name(), "dns");
    }

    #[test]
    fn descriptions_are_printable_and_short() {
        let nasty = b"GET /\x1b[2J\xff\\x HTTP/1.1\r\n";
        let d = Hint::HttpRequest.describe(nasty);
        assert!(is_printable_ascii(&d), "{d}");
        let long = [b'x'; 300];
        for h in [Hint::Text, Hint::Binary, Hint::SshBanner, Hint::RedisReply] {
            let d = h.describe(&long);
            assert!(d.len() <= DESCRIBE_MAX);
            assert!(is_printable_ascii(&d));
        }
    }
}
