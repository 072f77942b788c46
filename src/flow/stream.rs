//! Bounded in-order reassembly of one TCP direction's prefix (stub).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fed { Unchanged, Grew, Rebased }

#[derive(Debug)]
pub struct StreamPrefix { data: Vec<u8>, limit: usize }

impl StreamPrefix {
    pub fn new(limit: usize) -> Self { StreamPrefix { data: Vec::new(), limit } }
    pub fn segment(&mut self, _seq: u32, _syn: bool, payload: &[u8], _wire_len: u32) -> Fed {
        let room = self.limit.saturating_sub(self.data.len());
        let n = room.min(payload.len());
        self.data.extend_from_slice(&payload[..n]);
        if n > 0 { Fed::Grew } else { Fed::Unchanged }
    }
    pub fn data(&self) -> &[u8] { &self.data }
    pub fn is_full(&self) -> bool { self.data.len() >= self.limit }
    pub fn heap_bytes(&self) -> usize { self.data.capacity() }
}
