//! Throughput benchmarks of the data path, stage by stage and end to end, on traffic from the
//! synthetic generator (`ndbsniff_gen`):
//!
//! * `decode`: frame slicing alone, over in-memory frames (small and mixed profiles).
//! * `probe`: the NDB probe over the conversation library, fed as the flow table feeds it.
//! * `table`: decode + flow key + batching (as the capture thread does) + flow table +
//!   reassembly + probe (as a worker does) over in-memory frames (fresh table per iteration).
//! * `hash_flood`: the flow table (decode, key, batch, table) over SYN floods whose IPv6 keys
//!   all collide under an unkeyed hash, beside the same number of SYNs from random addresses:
//!   with the keyed hash the two cost the same.
//! * `replay`: the whole tool (`ndbsniff::run`) on a generated pcap file, one worker, with the
//!   default file reader and with libpcap's.
//!
//! Each group reports packets per second; the `*_bytes` groups report bytes per second of the
//! same work. Runs are kept short (few samples, seconds of measurement) so that `cargo bench`
//! ends within minutes on a small machine. Must never depend on files outside its own
//! temporary directory.

use std::hint::black_box;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use ndbsniff::capture::Reader;
use ndbsniff::pipeline::WORK_PACKETS;
use ndbsniff::{Config, Format, Input, Watch, DEFAULT_PREFIX_BYTES};
use ndbsniff_core::classify::{NdbProbe, ProbeState};
use ndbsniff_core::decode::{decode, LinkKind};
use ndbsniff_core::flow::packet::Pkt;
use ndbsniff_core::flow::table::{FlowTable, DEFAULT_MAX_FLOWS};
use ndbsniff_core::flow::tracker::{FlowEvent, Tracker};
use ndbsniff_gen::traffic::{generate_in_memory, write_pcap, Profile, TrafficSpec};
use ndbsniff_gen::{lookalike, ndb, schedule, Conversation, FlowPackets, Side, TcpPlan};

/// In-memory frames: (timestamp µs, frame).
struct Frames {
    frames: Vec<(i64, Vec<u8>)>,
    bytes: u64,
}

/// A complete small run of `profile` traffic (every flow opened and closed), about `packets`
/// frames.
fn frames(profile: Profile, packets: u64) -> Frames {
    let spec = TrafficSpec {
        // Short-lived flows so that the batch holds whole conversations, not only openings.
        flow_rate: 2_000.0,
        think_ms: 20.0,
        ..TrafficSpec::new(profile, packets, packets / 24)
    };
    let (cap, _) = generate_in_memory(&spec).expect("synthetic traffic");
    let frames: Vec<(i64, Vec<u8>)> = cap
        .iter()
        .map(|(ts, f)| ((ts / 1_000) as i64, f.to_vec()))
        .collect();
    let bytes = frames.iter().map(|(_, f)| f.len() as u64).sum();
    Frames { frames, bytes }
}

fn decode_all(frames: &Frames) -> u64 {
    let mut payload = 0u64;
    for (_, f) in &frames.frames {
        if let Ok(v) = decode(LinkKind::Ethernet, f) {
            payload += u64::from(v.payload_len);
        }
    }
    payload
}

fn bench_decode(c: &mut Criterion) {
    let sets = [
        ("small", frames(Profile::Small, 40_000)),
        ("mixed", frames(Profile::Mixed, 20_000)),
    ];
    let mut g = c.benchmark_group("decode");
    for (name, set) in &sets {
        g.throughput(Throughput::Elements(set.frames.len() as u64));
        g.bench_function(*name, |b| b.iter(|| black_box(decode_all(black_box(set)))));
    }
    g.finish();
    let mut g = c.benchmark_group("decode_bytes");
    for (name, set) in &sets {
        g.throughput(Throughput::Bytes(set.bytes));
        g.bench_function(*name, |b| b.iter(|| black_box(decode_all(black_box(set)))));
    }
    g.finish();
}

/// One conversation as the flow table shows it to the probe: for each data packet, its
/// direction and the bytes shown — for TCP the in-order prefix of that direction so far (capped
/// at the budget), for UDP the datagram.
struct Feeds {
    tcp: bool,
    /// TCP: client and server streams; UDP: every datagram back to back in `streams[0]`.
    streams: [Vec<u8>; 2],
    /// (direction, start, end) in the direction's stream.
    steps: Vec<(usize, usize, usize)>,
}

fn feeds(conv: &Conversation) -> Feeds {
    let idx = |s: Side| usize::from(s == Side::Server);
    match schedule(&(conv.build)(), &TcpPlan::default()) {
        FlowPackets::Tcp(t) => {
            let mut end = [0usize; 2];
            let mut steps = Vec::new();
            for p in t.packets.iter().filter(|p| p.data_len > 0) {
                let i = idx(p.from);
                let reach = (p.data_start + p.data_len) as usize;
                if reach > end[i] && end[i] < DEFAULT_PREFIX_BYTES {
                    end[i] = reach.min(DEFAULT_PREFIX_BYTES);
                    steps.push((i, 0, end[i]));
                }
            }
            Feeds {
                tcp: true,
                streams: [t.client_stream.clone(), t.server_stream.clone()],
                steps,
            }
        }
        FlowPackets::Udp(u) => Feeds {
            tcp: false,
            steps: u
                .packets
                .iter()
                .map(|p| {
                    let start = p.data_start as usize;
                    (idx(p.from), start, start + p.data_len as usize)
                })
                .collect(),
            streams: [u.bytes, Vec::new()],
        },
    }
}

impl Feeds {
    /// Bytes the probe is shown (each TCP byte counted once).
    fn bytes(&self) -> u64 {
        if self.tcp {
            let mut end = [0usize; 2];
            for &(i, _, e) in &self.steps {
                end[i & 1] = e;
            }
            (end[0] + end[1]) as u64
        } else {
            self.steps.iter().map(|s| (s.2 - s.1) as u64).sum()
        }
    }

    fn run(&self) -> ProbeState {
        let mut probe = NdbProbe::new(DEFAULT_PREFIX_BYTES);
        let mut state = ProbeState::NeedMore;
        for &(i, start, end) in &self.steps {
            if state != ProbeState::NeedMore {
                break;
            }
            state = if self.tcp {
                let data = self.streams[i & 1].get(start..end).unwrap_or(&[]);
                probe.on_stream(i, data)
            } else {
                let data = self.streams[0].get(start..end).unwrap_or(&[]);
                probe.on_datagram(i, data)
            };
        }
        black_box(probe.result());
        state
    }
}

fn bench_probe(c: &mut Criterion) {
    let sets: [(&str, Vec<Feeds>); 2] = [
        ("ndb", ndb::CONVERSATIONS.iter().map(feeds).collect()),
        (
            "lookalike",
            lookalike::CONVERSATIONS.iter().map(feeds).collect(),
        ),
    ];
    let run_all = |set: &[Feeds]| {
        set.iter()
            .map(Feeds::run)
            .filter(|s| *s == ProbeState::Match)
            .count()
    };
    let mut g = c.benchmark_group("probe");
    for (name, set) in &sets {
        let steps: usize = set.iter().map(|f| f.steps.len()).sum();
        g.throughput(Throughput::Elements(steps as u64));
        g.bench_function(*name, |b| b.iter(|| black_box(run_all(black_box(set)))));
    }
    g.finish();
    let mut g = c.benchmark_group("probe_bytes");
    for (name, set) in &sets {
        g.throughput(Throughput::Bytes(set.iter().map(Feeds::bytes).sum()));
        g.bench_function(*name, |b| b.iter(|| black_box(run_all(black_box(set)))));
    }
    g.finish();
}

/// What the capture thread and a worker do with frames: decode, key, batch of
/// [`WORK_PACKETS`] (payloads copied, as for libpcap sources), then the batch into the table's
/// one part.
fn observe_all(
    table: &FlowTable,
    part: &mut Tracker,
    frames: &Frames,
    watch: &Watch,
) -> Vec<FlowEvent> {
    let mut events = Vec::new();
    let mut pkts: Vec<Pkt> = Vec::with_capacity(WORK_PACKETS);
    let mut data: Vec<u8> = Vec::new();
    let mut flush = |pkts: &mut Vec<Pkt>, data: &mut Vec<u8>, events: &mut Vec<FlowEvent>| {
        let payload = |p: &Pkt| &data[p.payload_at..p.payload_at + p.payload_caplen as usize];
        part.observe_batch(pkts, payload, watch, false, events);
        pkts.clear();
        data.clear();
    };
    for (ts, f) in &frames.frames {
        if let Ok(view) = decode(LinkKind::Ethernet, f) {
            pkts.push(Pkt::of(&view, *ts, f.len() as u32, data.len(), table));
            data.extend_from_slice(view.payload);
            if pkts.len() == WORK_PACKETS {
                flush(&mut pkts, &mut data, &mut events);
            }
        }
    }
    flush(&mut pkts, &mut data, &mut events);
    events
}

fn bench_table(c: &mut Criterion) {
    let sets = [
        ("small", frames(Profile::Small, 40_000)),
        ("mixed", frames(Profile::Mixed, 20_000)),
    ];
    table_group(c, "table", &sets, &Watch::any());
}

/// One group timing [`observe_all`] over each set of frames, a fresh table per iteration.
fn table_group(c: &mut Criterion, group: &str, sets: &[(&str, Frames)], watch: &Watch) {
    let fresh = || {
        let table = FlowTable::new(DEFAULT_PREFIX_BYTES, 1, DEFAULT_MAX_FLOWS);
        let parts = table.trackers();
        (table, parts)
    };
    let mut g = c.benchmark_group(group);
    for (name, set) in sets {
        g.throughput(Throughput::Elements(set.frames.len() as u64));
        g.bench_function(*name, |b| {
            b.iter_batched(
                fresh,
                |(table, mut parts)| {
                    let events = observe_all(&table, &mut parts[0], set, watch);
                    (table, parts, events)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Frames of a hash-flood capture (`ndbsniff-gen hashflood`): `count` SYNs, colliding or not.
fn flood_frames(count: u64, colliding: bool) -> Frames {
    let mut cap = Vec::new();
    ndbsniff_gen::hashflood::write_hash_flood(&mut cap, count, 3406, colliding, 1_000, 0)
        .expect("synthetic flood");
    let frames: Vec<(i64, Vec<u8>)> = ndbsniff_gen::writer::classic_records(&cap)
        .into_iter()
        .map(|(ts, f)| (ts as i64, f.to_vec()))
        .collect();
    let bytes = frames.iter().map(|(_, f)| f.len() as u64).sum();
    Frames { frames, bytes }
}

fn bench_hash_flood(c: &mut Criterion) {
    let sets = [
        ("colliding", flood_frames(30_000, true)),
        ("random", flood_frames(30_000, false)),
    ];
    table_group(c, "hash_flood", &sets, &Watch::ports(&[3406]));
}

/// A generated capture in a private temporary directory, removed on drop.
struct TempCapture {
    dir: PathBuf,
    path: PathBuf,
    packets: u64,
    bytes: u64,
}

impl TempCapture {
    fn new(profile: Profile, packets: u64) -> TempCapture {
        let dir = std::env::temp_dir().join(format!("ndbsniff-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let path = dir.join(format!("{}.pcap", profile.name()));
        let file = std::fs::File::create(&path).expect("temporary capture");
        let spec = TrafficSpec::new(profile, packets, packets / 24);
        let (stats, _) = write_pcap(&spec, BufWriter::new(file)).expect("synthetic traffic");
        TempCapture {
            dir,
            path,
            packets: stats.packets,
            bytes: stats.bytes,
        }
    }
}

impl Drop for TempCapture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn replay(path: &std::path::Path, reader: Reader) -> u64 {
    let cfg = Config {
        watch: Watch::any(),
        threads: 1,
        format: Format::Json,
        reader,
        ..Config::new(Input::File(path.to_path_buf()))
    };
    let outcome = ndbsniff::run(&cfg, &mut std::io::sink()).expect("replay");
    outcome.summary.packets_read
}

/// A group for whole runs: each takes tens of milliseconds, so one run per sample and a little
/// more time.
fn replay_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    throughput: Throughput,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(throughput);
    g
}

fn bench_replay(c: &mut Criterion) {
    let cap = TempCapture::new(Profile::Small, 200_000);
    let mut g = replay_group(c, "replay", Throughput::Elements(cap.packets));
    g.bench_function("small", |b| {
        b.iter(|| black_box(replay(&cap.path, Reader::Auto)))
    });
    g.bench_function("small-libpcap", |b| {
        b.iter(|| black_box(replay(&cap.path, Reader::Libpcap)))
    });
    g.finish();
    let mut g = replay_group(c, "replay_bytes", Throughput::Bytes(cap.bytes));
    g.bench_function("small", |b| {
        b.iter(|| black_box(replay(&cap.path, Reader::Auto)))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_decode, bench_probe, bench_table, bench_hash_flood, bench_replay
}
criterion_main!(benches);
