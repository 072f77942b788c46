//! Flow classification (stub).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeState {
    NeedMore,
    Match,
    NoMatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Verdict {
    #[serde(rename = "unknown")]
    Unknown,
    #[serde(rename = "ndb-mgm")]
    NdbMgm,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NdbMgm => "ndb-mgm",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

#[derive(Clone, Debug)]
pub struct ProbeResult {
    pub verdict: Verdict,
    pub confidence: Confidence,
    pub evidence: [Option<String>; 2],
    pub roles: [Option<Role>; 2],
    pub hint: Option<&'static str>,
    pub upgrade: Option<&'static str>,
}

#[derive(Debug, Default)]
pub struct NdbProbe {
    seen: [usize; 2],
}

impl NdbProbe {
    pub fn new(_budget: usize) -> Self {
        NdbProbe::default()
    }
    pub fn on_stream(&mut self, idx: usize, data: &[u8]) -> ProbeState {
        self.seen[idx & 1] = data.len();
        ProbeState::NeedMore
    }
    pub fn on_datagram(&mut self, idx: usize, data: &[u8]) -> ProbeState {
        self.seen[idx & 1] += data.len();
        ProbeState::NeedMore
    }
    pub fn wants(&self, _idx: usize) -> bool {
        true
    }
    pub fn result(&self) -> ProbeResult {
        ProbeResult {
            verdict: Verdict::Unknown,
            confidence: Confidence::Low,
            evidence: [None, None],
            roles: [None, None],
            hint: None,
            upgrade: None,
        }
    }
}
