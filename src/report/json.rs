//! JSON lines output: one object per flow (`"type":"flow"`), then one summary (`"type":"stats"`).
//!
//! Owns: the envelope (`type`) around records. Field names come from the record types.
//! Never: writes anything that is not one complete JSON object per line.

use std::io::{self, Write};

use serde::Serialize;

use super::{FlowRecord, Summary};

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

fn line<T: Serialize>(out: &mut dyn Write, kind: &'static str, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Tagged { kind, inner: value }).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

pub fn write_flow(out: &mut dyn Write, flow: &FlowRecord) -> io::Result<()> {
    line(out, "flow", flow)
}

pub fn write_summary(out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
    line(out, "stats", summary)
}
