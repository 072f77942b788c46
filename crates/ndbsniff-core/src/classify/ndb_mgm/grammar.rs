//! Static knowledge of the NDB management protocol, as the ndb_mgmd and its clients write it
//! (command table, reply headers, argument and reply-key names, parser error texts), and the
//! small byte-level recognisers built on it (`name: value` splitting, transporter lines,
//! event-text lines, version strings).
//!
//! Owns only tables and pure functions of their input. Must never: keep state, allocate, panic
//! on any input bytes, or look beyond the slice it is given. The tables follow the server's
//! command table of Oracle NDB 7.6 – 8.4 and RonDB (see the protocol notes shipped with the
//! project, sections 1 and 2).

// ---------------------------------------------------------------------------------------
// Protocol tables

/// Too generic on its own: needs NDB-shaped arguments to count as strong.
pub(crate) const WEAK: u8 = 1;
/// The command line doubles as a reply header (`listen event`, `get cluster loglevel`).
pub(crate) const AMBIG: u8 = 2;
/// `start tls`: TLS may follow the request.
pub(crate) const TLS: u8 = 4;
/// `transporter connect`: the connection becomes a transporter after the request.
pub(crate) const XPORT: u8 = 8;
/// `set ports`: bulk `nodeid=port` lines and an empty line follow the request.
pub(crate) const PORTS: u8 = 16;

/// Commands of the server's command table (Oracle 7.6 – 8.4 and RonDB), with flags.
pub(crate) static COMMANDS: &[(&[u8], u8)] = COMMAND_TABLE;
const COMMAND_TABLE: &[(&[u8], u8)] = &[
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
pub(crate) static KNOWN_ARGS: &[&[u8]] = &[
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
pub enum Header {
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
    /// `end session reply`: the one reply without lines after it (no empty line follows).
    EndSession,
    /// `log event reply`: a parsable event, `type=N` then `name=value` lines.
    LogEvent,
    /// `Authorization failed`: the refusal of a TLS-only server, `Error: …` follows.
    AuthFailed,
}

pub(crate) static REPLY_HEADERS: &[(&[u8], Header)] = HEADER_TABLE;
const HEADER_TABLE: &[(&[u8], Header)] = &[
    (b"version", Header::Version),
    (b"node status", Header::NodeStatus),
    (b"clusterlog", Header::Clusterlog),
    (b"get config reply", Header::Config),
    (b"start tls reply", Header::StartTls),
    (b"show config reply", Header::FreeText),
    (b"show variables reply", Header::FreeText),
    (b"get nodeid reply", Header::Plain),
    (b"set clientversion reply", Header::Plain),
    (b"restart reply", Header::Plain),
    (b"insert error reply", Header::Plain),
    (b"set trace reply", Header::Plain),
    (b"log signals reply", Header::Plain),
    (b"start signallog reply", Header::Plain),
    (b"stop signallog reply", Header::Plain),
    (b"dump state reply", Header::Plain),
    (b"start backup reply", Header::Plain),
    (b"abort backup reply", Header::Plain),
    (b"stop reply", Header::Plain),
    (b"enter single user reply", Header::Plain),
    (b"exit single user reply", Header::Plain),
    (b"start reply", Header::Plain),
    (b"set loglevel reply", Header::Plain),
    (b"set cluster loglevel reply", Header::Plain),
    (b"set logfilter reply", Header::Plain),
    (b"set parameter reply", Header::Plain),
    (b"set connection parameter reply", Header::Plain),
    (b"get connection parameter reply", Header::Plain),
    (b"purge stale sessions reply", Header::Plain),
    (b"check connection reply", Header::Plain),
    (b"get mgmd nodeid reply", Header::Plain),
    (b"report event reply", Header::Plain),
    (b"list certs reply", Header::Plain),
    (b"get tls stats reply", Header::Plain),
    (b"get session id reply", Header::Plain),
    (b"get session reply", Header::Plain),
    (b"set config reply", Header::Plain),
    (b"create nodegroup reply", Header::Plain),
    (b"drop nodegroup reply", Header::Plain),
    (b"reload config reply", Header::Plain),
    (b"dump events reply", Header::Plain),
    (b"set ports reply", Header::Plain),
    (b"get tls trust reply", Header::Plain),
];

/// Parser error texts of `result: <msg>, '<token>'` replies.
pub(crate) static PARSER_ERRORS: &[&[u8]] = &[
    b"Unknown command, '",
    b"Unknown argument, '",
    b"Type mismatch, '",
    b"Invalid arg. format, '",
    b"Unknown argument type, '",
    b"Argument given twice, '",
    b"Missing arg., '",
];

/// Keys of the `get cluster loglevel` reply.
pub(crate) static LOGLEVEL_KEYS: &[&[u8]] = &[
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

pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}

pub(crate) fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= 20 && b.iter().all(u8::is_ascii_digit)
}

pub(crate) fn int(b: &[u8]) -> bool {
    digits(b.strip_prefix(b"-").unwrap_or(b))
}

pub(crate) fn parse_u32(b: &[u8]) -> Option<u32> {
    if !digits(b) || b.len() > 9 {
        return None;
    }
    Some(b.iter().fold(0u32, |n, &c| {
        n.wrapping_mul(10).wrapping_add(u32::from(c - b'0'))
    }))
}

/// Split `name<sep>value` at the first `:` or `=` (as the server's parser does); name and
/// value trimmed. Returns the separator too.
pub(crate) fn split_kv(t: &[u8]) -> Option<(&[u8], &[u8], u8)> {
    let at = t.iter().position(|&c| c == b':' || c == b'=')?;
    let sep = *t.get(at)?;
    let name = trim(t.get(..at)?);
    let value = trim(t.get(at + 1..)?);
    (!name.is_empty()).then_some((name, value, sep))
}

/// Does an argument (or field) name hold a secret: `password` in it, in any case?
pub(crate) fn secret_name(name: &[u8]) -> bool {
    name.windows(8).any(|w| w.eq_ignore_ascii_case(b"password"))
}

/// Argument names: letters first (or `+`), then letters, digits, `_ +.-`.
pub(crate) fn arg_name_ok(n: &[u8]) -> bool {
    n.len() <= 48
        && n.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'+')
        && n.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b' ' | b'+' | b'.' | b'-'))
}

/// Reply keys: letters first, then letters, digits, `_.-` (e.g. `node.2.type`, `error_code`).
pub(crate) fn key_ok(n: &[u8]) -> bool {
    n.len() <= 48
        && n.first().is_some_and(u8::is_ascii_alphabetic)
        && n.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `<words> reply` with lower-case words (RonDB names contain `_`).
pub(crate) fn generic_reply_header(t: &[u8]) -> bool {
    t.strip_suffix(b" reply").is_some_and(|w| {
        !w.is_empty()
            && w.first().is_some_and(u8::is_ascii_lowercase)
            && w.iter()
                .all(|c| c.is_ascii_lowercase() || matches!(c, b' ' | b'_'))
    })
}

/// Transporter hello or its answer: `a b[ c[ d]]`, a = node id, b = 1 (TCP) or 3 (SHM).
/// Returns the number of fields.
pub(crate) fn transporter_line(t: &[u8]) -> Option<usize> {
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
pub(crate) fn event_line(t: &[u8]) -> bool {
    let Some(rest) = t.strip_prefix(b"Node ") else {
        return false;
    };
    let Some(colon) = rest.iter().position(|&c| c == b':') else {
        return false;
    };
    digits(rest.get(..colon).unwrap_or(&[])) && rest.get(colon + 1) == Some(&b' ')
}

/// `X.Y.Z` with decimal parts.
pub(crate) fn dotted_version(b: &[u8]) -> bool {
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
pub(crate) fn distinctive_pair(name: &[u8], value: &[u8]) -> bool {
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

/// A command of the server's command table (an index into it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command(u8);

impl Command {
    /// The command whose name is exactly `t` (a trimmed line), if any.
    pub fn find(t: &[u8]) -> Option<Command> {
        static INDEX: ByLength<{ COMMAND_TABLE.len() }> = by_length!(COMMAND_TABLE);
        let i = INDEX.find(t, |i| COMMANDS[i].0)?;
        u8::try_from(i).ok().map(Command)
    }

    /// The command's name as the client writes it (`get nodeid`).
    pub fn name(self) -> &'static [u8] {
        COMMANDS.get(usize::from(self.0)).map_or(b"", |c| c.0)
    }

    /// The flags of the table entry (`WEAK`, `AMBIG`, `TLS`, `XPORT`, `PORTS`).
    pub(crate) fn flags(self) -> u8 {
        COMMANDS.get(usize::from(self.0)).map_or(0, |c| c.1)
    }

    /// For a command that doubles as a reply header (`AMBIG`): is `name`, the key of the line
    /// after it, one of its request arguments (rather than a key of the reply)?
    pub(crate) fn takes_arg(self, name: &[u8]) -> bool {
        self.name() == b"listen event" && matches!(name, b"node" | b"parsable" | b"filter")
    }

    /// The reply header an ambiguous command line stands for when a reply key follows it.
    pub(crate) fn as_reply_header(self) -> Header {
        if self.name() == b"listen event" {
            Header::ListenEvent
        } else {
            Header::LogLevel
        }
    }
}

/// Commands that change the cluster: stopping, starting and restarting nodes, backups,
/// single-user mode, configuration changes, error insertion, state dumps, tracing and signal
/// logging, log levels and filters, node groups, connection parameters, purging sessions.
/// (`set ports` is left out: every data node with dynamic ports sends it when it starts.)
pub(crate) static CONTROL: &[&[u8]] = &[
    b"stop",
    b"stop v2",
    b"stop all",
    b"restart node",
    b"restart node v2",
    b"restart all",
    b"start",
    b"start all",
    b"start backup",
    b"abort backup",
    b"enter single user",
    b"exit single user",
    b"set config",
    b"set config_v2",
    b"reload config",
    b"purge stale sessions",
    b"insert error",
    b"dump state",
    b"set trace",
    b"log signals",
    b"start signallog",
    b"stop signallog",
    b"set loglevel",
    b"set cluster loglevel",
    b"set logfilter",
    b"set parameter",
    b"create nodegroup",
    b"drop nodegroup",
    b"set connection parameter",
    // RonDB only.
    b"set user",
    b"alter user",
    b"drop user",
    b"set quotas",
    b"alter quotas",
    b"drop quotas",
    b"set_hostname",
    b"set_location_domain_id",
    b"activate",
    b"deactivate",
    b"set_config_param",
];

impl Command {
    /// Its position in the command table (below 128).
    pub fn index(self) -> u8 {
        self.0
    }

    /// Does the command change the cluster (stop, restart, backup, single-user mode, a
    /// configuration change, …: the table of control commands)?
    pub fn is_control(self) -> bool {
        CONTROL.contains(&self.name())
    }

    /// Does `header` (a reply's trimmed header line; empty for a reply without one) answer
    /// this command? `None` when the command gets no reply at all (`bye`, `transporter
    /// connect`).
    pub fn answered_by(self, header: &[u8]) -> Option<bool> {
        let want: &[u8] = match self.name() {
            b"bye" | b"transporter connect" => return None,
            b"list sessions" => b"",
            b"get version" => b"version",
            b"get status" => b"node status",
            b"get info clusterlog" => b"clusterlog",
            b"get cluster loglevel" => b"get cluster loglevel",
            b"listen event" => b"listen event",
            b"restart node" | b"restart node v2" | b"restart all" => b"restart reply",
            b"stop" | b"stop v2" | b"stop all" => b"stop reply",
            b"start" | b"start all" => b"start reply",
            b"get config" | b"get config_v2" => b"get config reply",
            b"set config" | b"set config_v2" => b"set config reply",
            name => {
                return Some(
                    header.strip_suffix(b" reply") == Some(name)
                        // RonDB's `get mgm nodeid` and the like answer as Oracle's do.
                        || (name == b"get mgm nodeid" && header == b"get mgmd nodeid reply"),
                );
            }
        };
        Some(header == want)
    }
}

/// The reply header that the trimmed line `t` is, if any (table entries, then any
/// `<words> reply`).
pub(crate) fn reply_header(t: &[u8]) -> Option<Header> {
    static INDEX: ByLength<{ HEADER_TABLE.len() }> = by_length!(HEADER_TABLE);
    if let Some(i) = INDEX.find(t, |i| REPLY_HEADERS[i].0) {
        return Some(REPLY_HEADERS[i].1);
    }
    generic_reply_header(t).then_some(Header::Generic)
}

/// The [`ByLength`] index of a table of `(name, …)` pairs, built at compile time.
macro_rules! by_length {
    ($table:expr) => {
        ByLength::new({
            let mut lens = [0; $table.len()];
            let mut i = 0;
            while i < lens.len() {
                lens[i] = $table[i].0.len();
                i += 1;
            }
            lens
        })
    };
}
use by_length;

/// The longest name a [`ByLength`] table may hold.
const LONGEST_NAME: usize = 48;

/// A table of names looked up by length first, built at compile time: the first line of every
/// message of every flow probed is looked up in the command table (77 names) and the reply
/// headers (45), and almost no line is in either; a line is compared only with the names of its
/// own length.
struct ByLength<const N: usize> {
    /// Where the names of each length start in `order`; `starts[len + 1]` is where they end.
    starts: [u8; LONGEST_NAME + 2],
    /// Indices into the table, shortest names first, in table order within a length.
    order: [u8; N],
}

impl<const N: usize> ByLength<N> {
    /// The index of a table whose names have lengths `lens` (a name too long, or a table too
    /// large, fails the build).
    const fn new(lens: [usize; N]) -> ByLength<N> {
        assert!(N < 256);
        let mut starts = [0u8; LONGEST_NAME + 2];
        let mut order = [0u8; N];
        let mut at = 0;
        let mut len = 0;
        while len <= LONGEST_NAME {
            starts[len] = at as u8;
            let mut i = 0;
            while i < N {
                assert!(lens[i] <= LONGEST_NAME);
                if lens[i] == len {
                    order[at] = i as u8;
                    at += 1;
                }
                i += 1;
            }
            len += 1;
        }
        starts[LONGEST_NAME + 1] = at as u8;
        ByLength { starts, order }
    }

    /// The table index of `t`, `name(i)` giving the table's i-th name.
    #[inline]
    fn find<'a>(&self, t: &[u8], name: impl Fn(usize) -> &'a [u8]) -> Option<usize> {
        if t.len() > LONGEST_NAME {
            return None;
        }
        let (from, to) = (self.starts[t.len()], self.starts[t.len() + 1]);
        self.order[usize::from(from)..usize::from(to)]
            .iter()
            .map(|&i| usize::from(i))
            .find(|&i| name(i) == t)
    }
}

/// Is `value` (of a headerless `result:` line) one of the server parser's error texts?
pub(crate) fn parser_error(value: &[u8]) -> bool {
    PARSER_ERRORS.iter().any(|e| value.starts_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn names_are_found_by_length_as_a_linear_search_finds_them() {
        let linear = |t: &[u8]| COMMANDS.iter().position(|c| c.0 == t);
        let linear_hdr = |t: &[u8]| REPLY_HEADERS.iter().find(|h| h.0 == t).map(|h| h.1);
        let mut probes: Vec<Vec<u8>> =
            vec![Vec::new(), vec![b'a'; 200], b"GET / HTTP/1.1".to_vec()];
        for name in COMMANDS
            .iter()
            .map(|c| c.0)
            .chain(REPLY_HEADERS.iter().map(|h| h.0))
        {
            probes.push(name.to_vec());
            probes.push(name[..name.len() - 1].to_vec());
            probes.push([name, b"x"].concat());
            let mut changed = name.to_vec();
            changed[0] ^= 0x20;
            probes.push(changed);
        }
        for t in &probes {
            assert_eq!(
                Command::find(t).map(|c| usize::from(c.0)),
                linear(t),
                "{t:?}"
            );
            if let Some(hdr) = linear_hdr(t) {
                assert_eq!(reply_header(t), Some(hdr), "{t:?}");
            }
        }
        assert_eq!(reply_header(&[b'a'; 200]), None);
    }

    #[test]
    fn commands_and_headers() {
        let c = Command::find(b"listen event");
        assert!(c.is_some_and(|c| c.flags() & AMBIG != 0 && c.name() == b"listen event"));
        assert!(c.is_some_and(|c| c.takes_arg(b"filter") && !c.takes_arg(b"result")));
        assert_eq!(c.map(Command::as_reply_header), Some(Header::ListenEvent));
        assert_eq!(Command::find(b"listen"), None);
        assert!(COMMANDS.len() <= usize::from(u8::MAX));
        assert_eq!(reply_header(b"node status"), Some(Header::NodeStatus));
        assert_eq!(reply_header(b"whatever reply"), Some(Header::Generic));
        assert_eq!(reply_header(b"get nodeid"), None);
        assert!(parser_error(b"Unknown command, 'hello'"));
        assert!(!parser_error(b"Ok"));
    }
}
