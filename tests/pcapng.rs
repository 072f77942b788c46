//! pcapng read without libpcap's limits, through the binary: interfaces of different link types
//! and snapshot lengths in one file, several sections (of either byte order), per-interface
//! timestamp resolution; the same flows as the captures the frames came from.

mod common;

use std::path::Path;

use common::{ndbsniff, temp_dir};
use serde_json::Value;

/// The frames of a classic little-endian pcap file: (seconds, microseconds, frame, original length).
fn frames(path: &str) -> Vec<(u32, u32, Vec<u8>, u32)> {
    let bytes = std::fs::read(common::root().join(path)).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{path} is not LE µs pcap"
    );
    let u = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let caplen = u(at + 8) as usize;
        out.push((
            u(at),
            u(at + 4),
            bytes[at + 16..at + 16 + caplen].to_vec(),
            u(at + 12),
        ));
        at += 16 + caplen;
    }
    out
}

/// Writes pcapng blocks in one byte order.
struct Ng {
    out: Vec<u8>,
    big: bool,
}

impl Ng {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, kind: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        let (k, l) = (self.u32(kind), self.u32(len));
        self.out.extend_from_slice(&k);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
    }
    /// A section header in byte order `big`.
    fn section(&mut self, big: bool) {
        self.big = big;
        let mut b = Vec::new();
        b.extend_from_slice(&self.u32(0x1a2b_3c4d));
        b.extend_from_slice(&self.u16(1));
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &b);
    }
    /// An interface: link type, snapshot length, and `if_tsresol` when given.
    fn interface(&mut self, linktype: u16, snaplen: u32, tsresol: Option<u8>) {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u16(linktype));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.u32(snaplen));
        if let Some(r) = tsresol {
            b.extend_from_slice(&self.u16(9));
            b.extend_from_slice(&self.u16(1));
            b.extend_from_slice(&[r, 0, 0, 0]);
            b.extend_from_slice(&[0; 4]); // opt_endofopt
        }
        self.block(1, &b);
    }
    /// An enhanced packet block; `units` is the timestamp in the interface's units.
    fn packet(&mut self, iface: u32, units: u64, data: &[u8], origlen: u32, snaplen: u32) {
        let cap = data.len().min(snaplen as usize);
        let mut b = Vec::new();
        b.extend_from_slice(&self.u32(iface));
        b.extend_from_slice(&self.u32((units >> 32) as u32));
        b.extend_from_slice(&self.u32(units as u32));
        b.extend_from_slice(&self.u32(cap as u32));
        b.extend_from_slice(&self.u32(origlen));
        b.extend_from_slice(&data[..cap]);
        self.block(6, &b);
    }
}

/// Flows of a run, without what differs between readers of the same traffic.
fn flows(run: &common::Run) -> Vec<Value> {
    let mut v = run.flows();
    v.sort_by_key(|f| f["flow_id"].as_u64());
    v
}

fn run_json(path: &Path) -> common::Run {
    ndbsniff(&["-r", path.to_str().unwrap(), "--format", "json"])
}

#[test]
fn interfaces_of_different_link_types_and_sections_are_read_as_their_own() {
    let eth = "testdata/ndb80-show-eth-v4.pcap";
    let sll = "testdata/ndb76-nodeid-sll-v6-1byte.pcap";
    let raw = "testdata/mysql-on-3406.pcap";
    let (e, s, r) = (frames(eth), frames(sll), frames(raw));
    // Section 1 (little-endian): Ethernet at µs, snaplen 65535; Linux cooked at ns, snaplen
    // 262144; their frames interleaved by time. Section 2 (big-endian): raw IP at 2^-20 s.
    let mut ng = Ng {
        out: Vec::new(),
        big: false,
    };
    ng.section(false);
    ng.interface(1, 65535, None);
    ng.interface(113, 262_144, Some(9));
    let mut both: Vec<(u64, u32, &Vec<u8>, u32)> = Vec::new();
    for (sec, us, f, orig) in &e {
        both.push((u64::from(*sec) * 1_000_000 + u64::from(*us), 0, f, *orig));
    }
    for (sec, us, f, orig) in &s {
        both.push((u64::from(*sec) * 1_000_000 + u64::from(*us), 1, f, *orig));
    }
    both.sort_by_key(|(t, i, _, _)| (*t, *i));
    for (t_us, iface, f, orig) in &both {
        let units = if *iface == 0 { *t_us } else { t_us * 1000 };
        ng.packet(*iface, units, f, *orig, 262_144);
    }
    ng.section(true);
    ng.interface(101, 0, Some(0x80 | 20));
    for (sec, us, f, orig) in &r {
        // Rounded up, so that reading it back (rounding down) gives the microsecond again.
        let units = (u64::from(*sec) << 20) + (u64::from(*us) << 20).div_ceil(1_000_000);
        ng.packet(0, units, f, *orig, 262_144);
    }
    let dir = temp_dir("pcapng-mixed");
    let path = dir.join("mixed.pcapng");
    std::fs::write(&path, &ng.out).unwrap();

    let run = run_json(&path);
    run.expect_code(0);
    let stats = run.stats();
    assert_eq!(stats["link_type"], "EN10MB (1), LINUX_SLL (113), RAW (12)");
    assert_eq!(stats["packets_not_decoded"], 0, "{}", run.describe());
    let total = (e.len() + s.len() + r.len()) as u64;
    assert_eq!(stats["packets_read"], total);
    // The same flows as the three captures read one by one (per-interface timestamps
    // included: first_seen and last_seen agree to the microsecond).
    let mut want: Vec<Value> = [eth, sll, raw]
        .iter()
        .flat_map(|f| ndbsniff(&["-r", f, "--format", "json"]).flows())
        .collect();
    want.sort_by_key(|f| f["flow_id"].as_u64());
    assert_eq!(flows(&run), want);
    // libpcap's reader cannot read it in one pass, and says how to split it.
    let old = ndbsniff(&[
        "-r",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--reader",
        "libpcap",
    ]);
    assert_ne!(old.code(), Some(0));
    assert!(
        old.stderr().contains("interfaces differ in link type"),
        "{}",
        old.describe()
    );
    // The user's expression applies on every link type (each interface's program is compiled
    // when it first appears, after the sandbox is in place): only the IPv6 flow, on the Linux
    // cooked interface, is IPv6.
    let v6 = ndbsniff(&[
        "-r",
        path.to_str().unwrap(),
        "--format",
        "json",
        "-f",
        "ip6",
    ]);
    v6.expect_code(0);
    let servers: Vec<Value> = v6.flows().iter().map(|f| f["server"].clone()).collect();
    assert_eq!(
        servers,
        [Value::from("[2001:db8:1::10]:3406")],
        "{}",
        v6.describe()
    );
    // -w writes one pcap file of the first interface's link type: the other frames are left
    // out, counted, and the run says so (exit 3); what was written is the Ethernet flow.
    let w = dir.join("eth.pcap");
    let run = ndbsniff(&[
        "-r",
        path.to_str().unwrap(),
        "-w",
        w.to_str().unwrap(),
        "-q",
    ]);
    run.expect_code(3);
    let left_out = s.len() + r.len();
    assert!(
        run.stderr().contains(&format!(
            "{left_out} frames of other link types left out (a pcap file holds one link type: EN10MB (1))"
        )),
        "{}",
        run.describe()
    );
    let written = run_json(&w);
    written.expect_code(0);
    assert_eq!(written.stats()["packets_read"], e.len() as u64);
    // From standard input, the same.
    let piped = common::ndbsniff_stdin(&["-r", "-", "--format", "json"], ng.out.clone());
    piped.expect_code(0);
    assert_eq!(flows(&piped), want);
}

#[test]
fn a_snapshot_length_per_interface_cuts_its_frames() {
    let eth = frames("testdata/ndb80-show-eth-v4.pcap");
    let mut ng = Ng {
        out: Vec::new(),
        big: false,
    };
    ng.section(false);
    ng.interface(1, 262_144, None);
    ng.interface(1, 96, None);
    for (i, (sec, us, f, orig)) in eth.iter().enumerate() {
        let units = u64::from(*sec) * 1_000_000 + u64::from(*us);
        // Every other frame through the interface that keeps 96 bytes (the headers fit).
        let iface = (i % 2) as u32;
        ng.packet(
            iface,
            units,
            f,
            *orig,
            if iface == 1 { 96 } else { 262_144 },
        );
    }
    let dir = temp_dir("pcapng-snaplen");
    let path = dir.join("cut.pcapng");
    std::fs::write(&path, &ng.out).unwrap();
    let run = run_json(&path);
    run.expect_code(0);
    let stats = run.stats();
    // Every frame is read and its headers decoded; the payload of the cut ones is missing, so
    // the stream has holes: the flow is still found, whole bytes counted from the wire length.
    assert_eq!(stats["packets_read"], eth.len() as u64);
    assert_eq!(stats["packets_not_decoded"], 0, "{}", run.describe());
    let f = run.flows();
    assert_eq!(f.len(), 1, "{}", run.describe());
    let whole = ndbsniff(&["-r", "testdata/ndb80-show-eth-v4.pcap", "--format", "json"]);
    assert_eq!(f[0]["bytes_to_server"], whole.flows()[0]["bytes_to_server"]);
}

#[test]
fn interfaces_of_a_link_type_not_decoded_are_counted_or_refused() {
    let eth = frames("testdata/ndb80-show-eth-v4.pcap");
    let mut ng = Ng {
        out: Vec::new(),
        big: false,
    };
    ng.section(false);
    ng.interface(1, 262_144, None);
    ng.interface(127, 262_144, None); // 802.11 radiotap
    for (sec, us, f, orig) in &eth {
        let units = u64::from(*sec) * 1_000_000 + u64::from(*us);
        ng.packet(0, units, f, *orig, 262_144);
        ng.packet(1, units, &[0u8; 40], 40, 262_144);
    }
    let dir = temp_dir("pcapng-unsupported");
    let path = dir.join("radio.pcapng");
    std::fs::write(&path, &ng.out).unwrap();
    let run = run_json(&path);
    run.expect_code(0);
    let stats = run.stats();
    assert_eq!(stats["packets_read"], 2 * eth.len() as u64);
    assert_eq!(
        stats["not_decoded"]["unsupported-link-type"],
        eth.len() as u64
    );
    assert_eq!(stats["link_type"], "EN10MB (1), IEEE802_11_RADIO (127)");
    assert_eq!(run.flows().len(), 1, "{}", run.describe());
    // Its only interface of such a link type: refused, as a pcap file of it is.
    let mut only = Ng {
        out: Vec::new(),
        big: false,
    };
    only.section(false);
    only.interface(127, 262_144, None);
    only.packet(0, 1, &[0u8; 40], 40, 262_144);
    let path = dir.join("only-radio.pcapng");
    std::fs::write(&path, &only.out).unwrap();
    let run = run_json(&path);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("unsupported link type IEEE802_11_RADIO (127)"),
        "{}",
        run.describe()
    );
}
