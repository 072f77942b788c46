//! Fuzz target: arbitrary sequences of IP fragments through the reassembler, with small bounds
//! (3 datagrams, 6 fragments each, a 1500-byte memcap, a 5 s timeout) so every limit is hit.
//! Checks (in `ndbsniff_core::frag::check_arbitrary_fragments`): no panic, the datagram cap holds,
//! the bytes reserved always equal the memcap's count and are all given back at the end, and
//! every fragment is counted once. A second part feeds the input as a raw IP frame through
//! `decode_frame`, and a fragment it yields through a reassembler twice (so it completes or is a
//! duplicate), decoding any datagram that comes out.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ndbsniff_core::decode::{decode_datagram, decode_frame, Decoded, LinkKind};
use ndbsniff_core::frag::{check_arbitrary_fragments, Limits, Reassembler};
use ndbsniff_core::memcap::MemCap;

fuzz_target!(|data: &[u8]| {
    check_arbitrary_fragments(data);
    if let Ok(Decoded::Fragment(f)) = decode_frame(LinkKind::Raw, data) {
        let cap = MemCap::new(1 << 20);
        let mut r = Reassembler::new(Limits::default());
        for _ in 0..2 {
            if let Some(d) = r.add(&f, 0, data.len() as u32, &cap) {
                let _ = decode_datagram(d.vlan, d.src, d.dst, d.protocol, &d.payload);
            }
        }
        r.finish(&cap);
        assert_eq!(cap.used(), 0);
    }
});
