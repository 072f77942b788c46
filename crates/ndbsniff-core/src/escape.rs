//! Safe printing of packet bytes.
//!
//! Owns the one way packet bytes become text for terminals, logs and JSON: every byte outside
//! printable ASCII (0x20..=0x7e), and the backslash itself, is written as an escape (`\n`, `\r`,
//! `\t`, `\\`, or `\xNN` with lower-case hex). The output is always pure printable ASCII, so it
//! can be printed raw without any terminal control sequence, bell or invalid UTF-8 reaching the
//! screen, and the original bytes can be recovered from it unambiguously.
//!
//! Must never: panic on any input, emit a byte outside 0x20..=0x7e, or cut an escape sequence
//! in half when truncating.

use std::fmt;

/// Marker appended by the truncating functions when input was left out.
pub const ELLIPSIS: &str = "...";

/// The escaped form of one byte, as a small inline buffer (1 to 4 ASCII bytes).
#[derive(Clone, Copy)]
struct Esc {
    buf: [u8; 4],
    len: u8,
}

impl Esc {
    fn of(b: u8) -> Esc {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let (buf, len) = match b {
            b'\n' => ([b'\\', b'n', 0, 0], 2),
            b'\r' => ([b'\\', b'r', 0, 0], 2),
            b'\t' => ([b'\\', b't', 0, 0], 2),
            b'\\' => ([b'\\', b'\\', 0, 0], 2),
            0x20..=0x7e => ([b, 0, 0, 0], 1),
            _ => (
                [
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0x0f)],
                ],
                4,
            ),
        };
        Esc { buf, len }
    }

    fn as_str(&self) -> &str {
        // Every byte placed in `buf` above is printable ASCII, so this never fails.
        std::str::from_utf8(self.buf.get(..usize::from(self.len)).unwrap_or(&[])).unwrap_or("")
    }

    fn len(&self) -> usize {
        usize::from(self.len)
    }
}

/// Number of output characters `escape_bytes(b)` produces, without building it.
pub fn escaped_len(b: &[u8]) -> usize {
    b.iter().map(|&c| Esc::of(c).len()).sum()
}

/// Escape all of `b` into printable ASCII.
///
/// ```
/// use ndbsniff_core::escape::escape_bytes;
/// assert_eq!(escape_bytes(b"ok\r\n\x1b[2J\\\xff"), "ok\\r\\n\\x1b[2J\\\\\\xff");
/// ```
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(escaped_len(b));
    escape_into(&mut out, b, usize::MAX);
    out
}

/// Escape `b`, keeping the output at most `max_chars` characters long.
///
/// When the whole escaped input does not fit, as many whole escapes as fit are kept and the
/// result ends in [`ELLIPSIS`] (`...`); the total, marker included, is still at most
/// `max_chars` (for `max_chars < 3` only part of the marker fits).
///
/// ```
/// use ndbsniff_core::escape::escape_prefix;
/// assert_eq!(escape_prefix(b"hello", 10), "hello");
/// assert_eq!(escape_prefix(b"hello world", 8), "hello...");
/// assert_eq!(escape_prefix(b"ab\ncd", 5), "ab...");
/// ```
pub fn escape_prefix(b: &[u8], max_chars: usize) -> String {
    let mut out = String::with_capacity(escaped_len(b).min(max_chars));
    escape_into(&mut out, b, max_chars);
    out
}

/// Append the escaped form of `b` to `out`, adding at most `max_chars` characters; returns true
/// when all of `b` was written, false when it was cut (and the marker appended).
pub fn escape_into(out: &mut String, b: &[u8], max_chars: usize) -> bool {
    // Most input is plain printable ASCII: whole runs of it are copied at once.
    let plain_len = b.iter().position(|&c| !plain(c)).unwrap_or(b.len());
    if plain_len == b.len() && b.len() <= max_chars {
        out.push_str(ascii(b));
        return true;
    }
    let total = escaped_len(b);
    let room = if total <= max_chars {
        total
    } else {
        max_chars.saturating_sub(ELLIPSIS.len())
    };
    let mut used = 0usize;
    let mut rest = b;
    while !rest.is_empty() && used < room {
        let run = rest.iter().position(|&c| !plain(c)).unwrap_or(rest.len());
        let take = run.min(room - used);
        if take > 0 {
            out.push_str(ascii(rest.get(..take).unwrap_or_default()));
            used += take;
            rest = rest.get(take..).unwrap_or_default();
            continue;
        }
        let Some((&c, tail)) = rest.split_first() else {
            break;
        };
        let e = Esc::of(c);
        if used + e.len() > room {
            break;
        }
        used += e.len();
        out.push_str(e.as_str());
        rest = tail;
    }
    if total <= max_chars {
        return true;
    }
    out.push_str(ELLIPSIS.get(..max_chars.min(ELLIPSIS.len())).unwrap_or(""));
    false
}

/// A byte printed as itself: printable ASCII but the backslash.
#[inline]
fn plain(c: u8) -> bool {
    matches!(c, 0x20..=0x7e) && c != b'\\'
}

/// Bytes all [`plain`] as a `&str` (never fails for such bytes).
#[inline]
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

/// Displays a byte slice escaped, without allocating.
///
/// ```
/// use ndbsniff_core::escape::Escaped;
/// assert_eq!(format!("[{}]", Escaped(b"a\x00b")), "[a\\x00b]");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.0 {
            f.write_str(Esc::of(c).as_str())?;
        }
        Ok(())
    }
}

/// A file name as it is printed: its bytes escaped like packet bytes, so a name holding a
/// terminal control sequence (ESC, OSC 52), a bidirectional override (U+202E) or invalid UTF-8
/// cannot reach the screen raw. Plain ASCII names are unchanged (apart from a backslash, which
/// is doubled).
///
/// ```
/// use ndbsniff_core::escape::escape_path;
/// assert_eq!(escape_path("a\x1b]52;c;eA==\x07\u{202e}.pcap".as_ref()), "a\\x1b]52;c;eA==\\x07\\xe2\\x80\\xae.pcap");
/// ```
pub fn escape_path(p: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escape_bytes(p.as_os_str().as_bytes())
}

/// An interface name (or any other name from outside) as it is printed; see [`escape_path`].
pub fn escape_name(name: &str) -> String {
    escape_bytes(name.as_bytes())
}

/// True when `s` consists only of printable ASCII (what every function here produces).
pub fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|c| (0x20..=0x7e).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Inverse of `escape_bytes`, for round-trip checks.
    fn unescape(s: &str) -> Option<Vec<u8>> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'\\' {
                out.push(b[i]);
                i += 1;
                continue;
            }
            match b.get(i + 1)? {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(b.get(i + 2..i + 4)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                _ => return None,
            }
            i += 2;
        }
        Some(out)
    }

    #[test]
    fn control_bytes_are_escaped() {
        assert_eq!(escape_bytes(b"\x1b"), "\\x1b"); // ESC
        assert_eq!(escape_bytes(b"\x07"), "\\x07"); // BEL
        assert_eq!(escape_bytes(b"\r"), "\\r");
        assert_eq!(escape_bytes(b"\n"), "\\n");
        assert_eq!(escape_bytes(b"\t"), "\\t");
        assert_eq!(escape_bytes(b"\0"), "\\x00");
        assert_eq!(escape_bytes(b"\x7f"), "\\x7f"); // DEL
        assert_eq!(escape_bytes(b"\xff"), "\\xff");
        assert_eq!(escape_bytes(b"\x1b]0;title\x07"), "\\x1b]0;title\\x07");
    }

    #[test]
    fn backslash_is_doubled() {
        assert_eq!(escape_bytes(b"\\"), "\\\\");
        assert_eq!(escape_bytes(b"a\\xff"), "a\\\\xff");
    }

    #[test]
    fn printable_ascii_passes_through() {
        let all: Vec<u8> = (0x20u8..=0x7e).filter(|&c| c != b'\\').collect();
        assert_eq!(escape_bytes(&all).as_bytes(), &all[..]);
        assert_eq!(escape_bytes(b"result: Ok"), "result: Ok");
        assert_eq!(escape_bytes(b""), "");
    }

    #[test]
    fn utf8_is_escaped_byte_by_byte() {
        let s = escape_bytes("é€".as_bytes());
        assert_eq!(s, "\\xc3\\xa9\\xe2\\x82\\xac");
        assert!(s.is_ascii());
        // Bidi override and C1 controls cannot sneak through either.
        assert_eq!(escape_bytes("\u{202e}".as_bytes()), "\\xe2\\x80\\xae");
        assert_eq!(escape_bytes(b"\xc2\x9b"), "\\xc2\\x9b");
    }

    #[test]
    fn truncation_keeps_whole_escapes() {
        assert_eq!(escape_prefix(b"abcdef", 6), "abcdef");
        assert_eq!(escape_prefix(b"abcdefg", 6), "abc...");
        // "\xff" needs 4 chars: with room 3 none fit.
        assert_eq!(escape_prefix(b"\xff\xff", 7), "\\xff...");
        assert_eq!(escape_prefix(b"\xff\xff", 6), "...");
        assert_eq!(escape_prefix(b"abcdef", 2), "..");
        assert_eq!(escape_prefix(b"abcdef", 0), "");
        assert_eq!(escape_prefix(b"", 0), "");
        let mut s = String::from("x=");
        assert!(!escape_into(&mut s, b"\n\n\n\n", 7));
        assert_eq!(s, "x=\\n\\n...");
    }

    #[test]
    fn display_wrapper_matches() {
        let b = b"\x00get nodeid\r\n\\";
        assert_eq!(Escaped(b).to_string(), escape_bytes(b));
        assert_eq!(escaped_len(b), escape_bytes(b).len());
    }

    proptest! {
        #[test]
        fn output_is_printable_and_round_trips(b in prop::collection::vec(any::<u8>(), 0..200)) {
            let s = escape_bytes(&b);
            prop_assert!(is_printable_ascii(&s));
            prop_assert_eq!(s.len(), escaped_len(&b));
            prop_assert_eq!(unescape(&s), Some(b));
        }

        #[test]
        fn prefix_is_bounded_printable_and_a_prefix(
            b in prop::collection::vec(any::<u8>(), 0..200),
            max in 0usize..120,
        ) {
            let full = escape_bytes(&b);
            let s = escape_prefix(&b, max);
            prop_assert!(is_printable_ascii(&s));
            prop_assert!(s.len() <= max);
            if full.len() <= max {
                prop_assert_eq!(s, full);
            } else if max >= 3 {
                prop_assert!(s.ends_with(ELLIPSIS));
                let kept = &s[..s.len() - 3];
                prop_assert!(full.starts_with(kept));
                // The kept part is a whole number of escapes.
                prop_assert!(unescape(kept).is_some());
            }
        }
    }
}
