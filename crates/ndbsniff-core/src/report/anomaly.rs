//! Reassembly anomalies: things about a flow's bytes that a reader of its evidence must know.
//!
//! Owns: the names of the anomalies (as printed in JSON `"anomalies"` arrays, text markers and
//! the summary's per-anomaly flow counts) and a one-byte set of them carried by every flow.
//!
//! Never: decides what counts as an anomaly (the reassembly and the flow table do).

use serde::ser::{Serialize, SerializeSeq, Serializer};

/// A set of [`Anomaly`] values, one bit each.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Anomalies(u8);

impl std::fmt::Debug for Anomalies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Anomaly::as_str))
            .finish()
    }
}

/// One kind of anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// Two copies of the same stream bytes carried different data (the first copy was kept,
    /// unless it had a bad checksum and the later one a good one).
    OverlapMismatch,
    /// At least one TCP segment of the flow, checked while the flow was inspected, had a
    /// wrong checksum (its bytes were used, but a good copy of them replaces them).
    BadChecksum,
    /// The reassembly memory cap (`--memcap`) was reached: the flow stopped buffering and was
    /// judged on what it had.
    Memcap,
    /// The flow moved the start of a stream (or rewrote bytes already read) more often than
    /// the per-direction limit; later attempts were ignored.
    ReanchorLimit,
}

impl Anomaly {
    /// Every anomaly, in the order they are printed.
    pub const ALL: [Anomaly; 4] = [
        Anomaly::OverlapMismatch,
        Anomaly::BadChecksum,
        Anomaly::Memcap,
        Anomaly::ReanchorLimit,
    ];

    /// The name printed in JSON `"anomalies"` arrays, text markers and the summary:
    /// `overlap-mismatch`, `bad-checksum`, `memcap` or `reanchor-limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Anomaly::OverlapMismatch => "overlap-mismatch",
            Anomaly::BadChecksum => "bad-checksum",
            Anomaly::Memcap => "memcap",
            Anomaly::ReanchorLimit => "reanchor-limit",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl Anomalies {
    /// No anomaly.
    pub const NONE: Anomalies = Anomalies(0);

    /// True when the set holds no anomaly (the flow's bytes are as clean as captured).
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Adds `a` to the set (no effect when already present).
    pub fn insert(&mut self, a: Anomaly) {
        self.0 |= a.bit();
    }

    /// Whether `a` is in the set.
    pub fn contains(self, a: Anomaly) -> bool {
        self.0 & a.bit() != 0
    }

    /// Both sets together.
    pub fn union(self, other: Anomalies) -> Anomalies {
        Anomalies(self.0 | other.0)
    }

    /// The anomalies present, in [`Anomaly::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Anomaly> {
        Anomaly::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// The names joined by commas, e.g. `overlap-mismatch,bad-checksum` (empty when none).
    pub fn joined(self) -> String {
        self.iter()
            .map(Anomaly::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl From<Anomaly> for Anomalies {
    fn from(a: Anomaly) -> Anomalies {
        Anomalies(a.bit())
    }
}

impl Serialize for Anomalies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for a in self.iter() {
            seq.serialize_element(a.as_str())?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_keep_a_fixed_order_and_serialize_as_names() {
        let mut a = Anomalies::NONE;
        assert!(a.is_empty());
        a.insert(Anomaly::ReanchorLimit);
        a.insert(Anomaly::OverlapMismatch);
        a.insert(Anomaly::OverlapMismatch);
        assert!(a.contains(Anomaly::OverlapMismatch));
        assert!(!a.contains(Anomaly::Memcap));
        assert_eq!(a.joined(), "overlap-mismatch,reanchor-limit");
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"["overlap-mismatch","reanchor-limit"]"#
        );
        let b = a.union(Anomaly::BadChecksum.into());
        assert_eq!(b.iter().count(), 3);
    }
}
