//! Reassembly integrity and bounds, end to end: captures written by `ndbsniff-gen`, read by
//! `ndbsniff`, judged on its JSON and text output.
mod common;

use common::{gen, ndbsniff, temp_dir};
use std::path::{Path, PathBuf};

fn case(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(format!("{name}.pcap"));
    gen(&["integrity", name, "-o", p.to_str().unwrap()]);
    p
}

fn json(p: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["-r", p.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let run = ndbsniff(&args);
    run.expect_code(0);
    run
}

fn anomalies(flow: &serde_json::Value) -> Vec<String> {
    flow["anomalies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn copies_that_disagree_are_flagged_in_json_text_and_summary() {
    let dir = temp_dir("integrity-overlap");
    let p = case(&dir, "overlap-mismatch");
    let run = json(&p, &[]);
    let flows = run.flows();
    assert_eq!(flows.len(), 1, "{}", run.describe());
    assert_eq!(flows[0]["verdict"], "ndb-mgm");
    assert_eq!(anomalies(&flows[0]), ["overlap-mismatch"]);
    // The first copy is the one kept: `get nodeid`, not the `set nodeid` of the second.
    let evidence = flows[0]["evidence"].as_str().unwrap_or_default();
    assert!(evidence.starts_with("client: get nodeid"), "{evidence}");
    let stats = run.stats();
    assert_eq!(stats["anomalies"]["overlap-mismatch"], 1, "{stats}");
    assert_eq!(stats["tcp_bad_checksums"], 0, "{stats}");

    for extra in [&["--flows"][..], &[]] {
        let mut args = vec!["-r", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        let text = ndbsniff(&args);
        text.expect_code(0);
        // The table on stdout, the summary on stderr.
        let out = format!("{}{}", text.stdout(), text.stderr());
        assert!(
            out.contains("[!overlap-mismatch] client: get nodeid"),
            "{out}"
        );
        assert!(
            out.contains("reassembly: 0 TCP segments with a bad checksum")
                && out.contains("flows with anomalies: overlap-mismatch 1"),
            "{out}"
        );
    }
}

#[test]
fn clean_captures_carry_no_anomalies() {
    let dir = temp_dir("integrity-clean");
    let p = dir.join("clean.pcap");
    gen(&[
        "traffic",
        "--packets",
        "20000",
        "--flows",
        "800",
        "-o",
        p.to_str().unwrap(),
    ]);
    let run = json(&p, &["--any-port"]);
    assert!(run.flows().len() > 100);
    assert!(run.flows().iter().all(|f| f.get("anomalies").is_none()));
    let stats = run.stats();
    assert_eq!(stats["tcp_bad_checksums"], 0, "{stats}");
    assert_eq!(stats["anomalies"], serde_json::json!({}), "{stats}");
    // And the text summary says nothing about reassembly.
    let text = ndbsniff(&["-r", p.to_str().unwrap(), "--any-port"]);
    assert!(!text.stdout().contains("reassembly:"), "{}", text.stdout());
}

#[test]
fn a_bad_checksum_copy_never_wins_over_the_good_copy() {
    let dir = temp_dir("integrity-bad-then-good");
    let p = case(&dir, "bad-then-good");
    let run = json(&p, &[]);
    let flows = run.flows();
    assert_eq!(flows.len(), 1, "{}", run.describe());
    let f = &flows[0];
    assert_eq!(f["verdict"], "ndb-mgm");
    // The forged copy (with the reply) came first and was read, but the evidence is the
    // request the receiver accepted.
    let evidence = f["evidence"].as_str().unwrap_or_default();
    assert!(evidence.contains("mysqld"), "{evidence}");
    assert!(!evidence.contains("FORGED"), "{evidence}");
    assert_eq!(anomalies(f), ["overlap-mismatch", "bad-checksum"]);
    assert_eq!(run.stats()["tcp_bad_checksums"], 1);
}

#[test]
fn bytes_with_only_a_bad_checksum_copy_are_still_classified() {
    let dir = temp_dir("integrity-bad-only");
    let p = case(&dir, "bad-only");
    let run = json(&p, &[]);
    let f = &run.flows()[0];
    assert_eq!(f["verdict"], "ndb-mgm", "{}", run.describe());
    assert!(f["evidence"]
        .as_str()
        .unwrap_or_default()
        .starts_with("client: get nodeid"));
    assert_eq!(anomalies(f), ["bad-checksum"]);
    let stats = run.stats();
    assert_eq!(stats["tcp_bad_checksums"], 1, "{stats}");
    assert_eq!(stats["anomalies"]["bad-checksum"], 1, "{stats}");
}

#[test]
fn offloaded_checksums_are_counted_but_classification_is_unchanged() {
    let dir = temp_dir("integrity-offloaded");
    let p = case(&dir, "offloaded");
    let run = json(&p, &[]);
    let f = &run.flows()[0];
    assert_eq!(f["verdict"], "ndb-mgm", "{}", run.describe());
    assert_eq!(f["confidence"], "high");
    assert_eq!(anomalies(f), ["bad-checksum"]);
    // Three client segments carry payload; segments without payload are not checked.
    assert_eq!(run.stats()["tcp_bad_checksums"], 3);
}

#[test]
fn at_the_memcap_flows_stop_buffering_and_everything_is_still_reported() {
    let dir = temp_dir("integrity-memcap");
    let p = dir.join("ooo.pcap");
    gen(&["ooo-flood", "--flows", "3000", "-o", p.to_str().unwrap()]);
    // 1 MiB holds about 256 flows' 4 KiB buffers.
    let run = json(&p, &["--memcap", "1M"]);
    let stats = run.stats();
    assert_eq!(stats["flows"], 3000, "{stats}");
    let hits = stats["memcap_hits"].as_u64().unwrap_or(0);
    assert!(hits >= 2000, "{stats}");
    let flows = run.flows();
    assert_eq!(flows.len(), 3000);
    let capped = flows
        .iter()
        .filter(|f| anomalies(f).contains(&"memcap".to_string()))
        .count() as u64;
    assert_eq!(
        stats["anomalies"]["memcap"].as_u64(),
        Some(capped),
        "{stats}"
    );
    assert!((2000..3000).contains(&capped), "{capped} flows hit the cap");
    // At the default cap the same capture buffers every flow.
    let run = json(&p, &[]);
    let stats = run.stats();
    assert_eq!(stats["memcap_hits"], 0, "{stats}");
    assert!(run.flows().iter().all(|f| f.get("anomalies").is_none()));
}

#[test]
fn leftward_growth_is_cut_off_and_flagged() {
    let dir = temp_dir("integrity-leftward");
    let p = dir.join("left.pcap");
    gen(&[
        "leftward",
        "--flows",
        "5",
        "--segments",
        "500",
        "-o",
        p.to_str().unwrap(),
    ]);
    let run = json(&p, &[]);
    let flows = run.flows();
    assert_eq!(flows.len(), 5, "{}", run.describe());
    assert!(flows.iter().all(|f| anomalies(f) == ["reanchor-limit"]));
    assert_eq!(run.stats()["anomalies"]["reanchor-limit"], 5);
}
