//! End-to-end: flow keys chosen to collide under an unkeyed hash, and captures whose every packet
//! starts a new sweep period. Work is counted by the table's unit tests; here the output must be
//! complete, and the same from run to run although every run draws new hash seeds.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{ndbsniff, temp_dir};

fn hashflood(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let p = dir.join(name);
    let mut all = vec!["hashflood", "-o", p.to_str().unwrap()];
    all.extend_from_slice(args);
    common::gen(&all);
    p
}

#[test]
fn colliding_keys_are_all_reported_and_runs_with_new_seeds_agree() {
    let dir = temp_dir("hashflood-collide");
    let file = hashflood(&dir, "collide.pcap", &["--count", "5000"]);
    let f = file.to_str().unwrap();
    let runs: Vec<_> = ["1", "2", "2"]
        .iter()
        .map(|t| ndbsniff(&["-r", f, "--format", "json", "--threads", t]))
        .collect();
    let flows = runs[0].expect_code(0).flows();
    assert_eq!(flows.len(), 5000, "{}", runs[0].describe());
    let clients: BTreeSet<String> = flows.iter().map(|v| v["client"].to_string()).collect();
    assert_eq!(
        clients.len(),
        5000,
        "every colliding key is a flow of its own"
    );
    assert!(flows
        .iter()
        .all(|v| v["server"].as_str().is_some_and(|s| s.ends_with(":3406"))));
    for r in &runs[1..] {
        r.expect_code(0);
        assert!(
            r.stdout() == runs[0].stdout(),
            "another seed changed the output\n{}",
            r.describe()
        );
    }
}

#[test]
fn a_sweep_period_per_packet_still_reports_every_flow_in_order() {
    let dir = temp_dir("hashflood-jumps");
    let file = hashflood(
        &dir,
        "jumps.pcap",
        &["--count", "3000", "--random", "--gap-us", "1000000"],
    );
    let f = file.to_str().unwrap();
    let args = |t: &'static str| {
        vec![
            "-r",
            f,
            "--format",
            "json",
            "--tcp-idle-timeout",
            "5",
            "--threads",
            t,
        ]
    };
    let one = ndbsniff(&args("1"));
    let flows = one.expect_code(0).flows();
    assert_eq!(flows.len(), 3000, "{}", one.describe());
    // Each SYN goes idle 5 s after it was sent: all but the last few are swept during the run,
    // in the order they were seen.
    let idle: Vec<&str> = flows
        .iter()
        .filter(|v| v["state"] == "idle")
        .filter_map(|v| v["first_seen"].as_str())
        .collect();
    assert!(
        idle.len() >= 2990,
        "only {} flows swept as idle",
        idle.len()
    );
    assert!(idle.windows(2).all(|w| w[0] <= w[1]), "swept out of order");
    let two = ndbsniff(&args("2"));
    two.expect_code(0);
    assert!(
        two.stdout() == one.stdout(),
        "two flow threads gave other output\n{}",
        two.describe()
    );
}
