//! Capture timestamps as RFC 3339 text with microseconds, in UTC.
//!
//! Owns: one total conversion from microseconds since the Unix epoch to text. Capture files carry
//! arbitrary 32- or 64-bit times, so every i64 must format without failing or panicking.

use std::io::Write;

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `2024-03-01T12:00:00.000001Z` for the given microseconds since the epoch to `out`,
/// digit by digit for the years 0000-9999 (the JSON writer calls this once per timestamp).
pub fn write_rfc3339_us(out: &mut Vec<u8>, us: i64) {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, (sod / 60) % 60, sod % 60);
    if !(0..=9999).contains(&y) {
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{micros:06}Z"
        );
        return;
    }
    let mut t = *b"0000-00-00T00:00:00.000000Z";
    for (end, width, v) in [
        (4, 4, y),
        (7, 2, i64::from(m)),
        (10, 2, i64::from(d)),
        (13, 2, hh),
        (16, 2, mm),
        (19, 2, ss),
        (26, 6, micros),
    ] {
        let mut v = v;
        for slot in t[end - width..end].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    out.extend_from_slice(&t);
}

/// Appends `2024-03-01T12:00:00.000001+0000` to `out`: the same instant as
/// [`write_rfc3339_us`] with the offset written as Suricata's EVE log writes it.
pub fn write_eve_us(out: &mut Vec<u8>, us: i64) {
    write_rfc3339_us(out, us);
    // Both forms of write_rfc3339_us end in `Z`.
    if out.last() == Some(&b'Z') {
        out.pop();
    }
    out.extend_from_slice(b"+0000");
}

/// `2024-03-01T12:00:00.000001Z` for the given microseconds since the epoch.
pub fn rfc3339_us(us: i64) -> String {
    let mut b = Vec::with_capacity(27);
    write_rfc3339_us(&mut b, us);
    // Only ASCII digits and punctuation were written.
    String::from_utf8(b).unwrap_or_default()
}

/// Serde `serialize_with` helper: writes microseconds since the epoch as the RFC 3339
/// string of [`rfc3339_us`]; used for the JSON `first_seen` and `last_seen` keys.
pub fn serialize_us<S: serde::Serializer>(us: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_us(*us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_us(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(
            rfc3339_us(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3339_us(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn extremes_do_not_panic() {
        for us in [
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            u32::MAX as i64 * 1_000_000,
        ] {
            assert!(rfc3339_us(us).ends_with('Z'));
            let mut eve = Vec::new();
            write_eve_us(&mut eve, us);
            let eve = String::from_utf8(eve).unwrap();
            assert!(eve.ends_with("+0000") && !eve.contains('Z'), "{eve}");
        }
    }

    #[test]
    fn eve_form_has_a_numeric_offset() {
        let mut b = Vec::new();
        write_eve_us(&mut b, 1_709_294_400_000_001);
        assert_eq!(b, b"2024-03-01T12:00:00.000001+0000");
        b.clear();
        write_eve_us(&mut b, -1);
        assert_eq!(b, b"1969-12-31T23:59:59.999999+0000");
    }
}
