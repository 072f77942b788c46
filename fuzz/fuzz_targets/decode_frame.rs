//! Fuzz target: one captured frame through the link/IP/transport decoder.
//!
//! The first input byte selects the link type (index into `LinkKind::ALL`, modulo its length),
//! the rest is the frame. Checks the decoder's length rules: the payload lies inside the frame,
//! is never longer than the announced payload length, VLAN ids fit in 12 bits and only the
//! documented TCP flag bits are reported. Must never be given anything but the input bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ndbsniff_core::decode::{decode, tcp_flags, LinkKind, Transport};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = LinkKind::ALL[usize::from(selector) % LinkKind::ALL.len()];
    let Ok(view) = decode(link, frame) else {
        return;
    };
    let start = frame.as_ptr() as usize;
    let end = start + frame.len();
    let p = view.payload.as_ptr() as usize;
    assert!(
        view.payload.is_empty() || (p >= start && p + view.payload.len() <= end),
        "payload outside the frame"
    );
    assert!(
        view.payload.len() as u64 <= u64::from(view.payload_len),
        "payload longer than payload_len ({} > {})",
        view.payload.len(),
        view.payload_len
    );
    if let Some(id) = view.vlan {
        assert!(id < 4096, "vlan id {id}");
    }
    assert_eq!(view.tcp.flags & !tcp_flags::MASK, 0, "unexpected flag bits");
    if view.transport == Transport::Udp {
        assert_eq!(view.tcp, Default::default(), "UDP view with TCP fields");
    }
    // The payload is the tail of what the headers leave: nothing after it but padding, and
    // the headers before it take at least 8 (UDP) or 20 (TCP) bytes.
    if !view.payload.is_empty() {
        let header_min = match view.transport {
            Transport::Tcp => 20,
            Transport::Udp => 8,
        };
        assert!(p - start >= header_min + 20, "payload starts inside the headers");
    }
});
