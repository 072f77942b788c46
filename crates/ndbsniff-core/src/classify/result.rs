//! The result types of classification: what a flow speaks ([`Verdict`]), how sure that is
//! ([`Confidence`]), which end is which ([`Role`]), the probe's answer ([`ProbeResult`]) and
//! what the caller should do next ([`ProbeState`]).
//!
//! Owns plain data and the names they are reported under. Must never: hold classification
//! logic, or look at packet bytes.

/// What the caller should do next with a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeState {
    /// Undecided: keep feeding the directions for which [`NdbProbe::wants`](super::NdbProbe::wants) is true.
    NeedMore,
    /// The flow speaks the NDB management protocol; more data cannot change that.
    Match,
    /// The flow does not speak it; more data cannot change that.
    NoMatch,
}

/// How sure the verdict is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Too little data was seen either way (an empty or nearly empty flow): the verdict is a
    /// default, not a finding.
    Low,
    /// Some evidence, not conclusive: NDB from one side only (the other side's answer or
    /// request not seen or not typical), or an unknown flow with some but not much data.
    Medium,
    /// Conclusive: both sides agree on NDB, or the flow was identified as another protocol
    /// or carried enough data in both directions to rule NDB out.
    High,
}

/// What the flow speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Verdict {
    /// Not recognised as the NDB management protocol.
    #[serde(rename = "unknown")]
    Unknown,
    /// The NDB Cluster management (ndb_mgmd) text protocol.
    #[serde(rename = "ndb-mgm")]
    NdbMgm,
}

impl Confidence {
    /// The name used in reports: `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl Verdict {
    /// The name used in reports: `unknown` or `ndb-mgm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NdbMgm => "ndb-mgm",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Which end of the connection a direction's sender is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The sender asks: NDB requests, or a client's opening in another protocol.
    Client,
    /// The sender answers: NDB replies, or a server's greeting or response.
    Server,
}

/// The probe's decision about a flow.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProbeResult {
    /// What the flow speaks.
    pub verdict: Verdict,
    /// How sure [`ProbeResult::verdict`] is.
    pub confidence: Confidence,
    /// Per direction: the deciding line(s), escaped printable ASCII of at most about 100
    /// characters (`get nodeid reply / nodeid: 2 / result: Ok`), or what else was seen
    /// (`TLS ClientHello`, `HTTP request GET /`).
    pub evidence: [Option<String>; 2],
    /// Per direction: the role its sender plays, as far as the content tells.
    pub roles: [Option<Role>; 2],
    /// For `unknown` flows: what the flow looks like instead (`tls`, `http`, `ssh`, `smtp`,
    /// `ftp`, `pop3`, `imap`, `mysql`, `memcached`, `redis`, `dns`, `binary`, `text`).
    pub hint: Option<&'static str>,
    /// For `ndb-mgm` flows: the switch that ended the text part, `transporter` or `tls`.
    pub upgrade: Option<&'static str>,
}
