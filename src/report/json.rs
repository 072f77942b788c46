//! JSON lines output: one object per flow (`"type":"flow"`), then one summary (`"type":"stats"`).
//!
//! Owns: the envelope (`type`) around records. Field names come from the record types.
//! Never: writes anything that is not one complete JSON object per line.

use std::cell::RefCell;
use std::io::{self, Write};

use serde::Serialize;

use super::{FlowRecord, Summary};

thread_local! {
    /// One reused buffer per thread: records are serialized here, then written with the
    /// `type` member spliced in first (cheaper than serde's `flatten`).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn line<T: Serialize>(out: &mut dyn Write, kind: &str, value: &T) -> io::Result<()> {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        serde_json::to_writer(&mut *buf, value).map_err(io::Error::other)?;
        // `value` is a struct with at least one field, so it serialized as `{"…":…}`.
        let body = buf.get(1..).unwrap_or_default();
        write!(out, "{{\"type\":\"{kind}\",")?;
        out.write_all(body)?;
        out.write_all(b"\n")
    })
}

pub fn write_flow(out: &mut dyn Write, flow: &FlowRecord) -> io::Result<()> {
    line(out, "flow", flow)
}

pub fn write_summary(out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
    line(out, "stats", summary)
}
