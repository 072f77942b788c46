//! Every real capture in `../shared/pcaps`, or in the folder `$NDBSNIFF_PCAPS` names (when
//! present; skipped with a `SKIPPED` line otherwise): no crash, no hang, at most a one-line error
//! naming the file, valid JSON, no flow called `ndb-mgm` (none of them holds NDB traffic), and the
//! same output with one flow thread as with three.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PER_FILE_LIMIT: Duration = Duration::from_secs(10);

/// Runs ndbsniff on one capture with `threads` flow threads, checks what it did, and returns
/// its standard output.
fn check(
    dir: &std::path::Path,
    scratch: &std::path::Path,
    rel: &str,
    threads: &str,
) -> Result<String, String> {
    let path = dir.join(rel);
    let path_s = path.display().to_string();
    let out_path = scratch.join("out");
    let err_path = out_path.with_extension("err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ndbsniff"))
        .args([
            "-r",
            &path_s,
            "--any-port",
            "--format",
            "json",
            "--threads",
            threads,
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err_path).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("{rel}: cannot start: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if started.elapsed() > PER_FILE_LIMIT {
            let _ = child.kill();
            return Err(format!("{rel}: still running after {PER_FILE_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = std::fs::read_to_string(&out_path).map_err(|e| e.to_string())?;
    let stderr = std::fs::read_to_string(&err_path).map_err(|e| e.to_string())?;
    let code = status
        .code()
        .ok_or_else(|| format!("{rel}: killed by a signal: {status:?}\n{stderr}"))?;
    if ![0, 1, 2].contains(&code) {
        return Err(format!("{rel}: exit code {code}\n{stderr}"));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    if code == 0 && !lines.is_empty() {
        return Err(format!("{rel}: exit 0 but stderr: {stderr}"));
    }
    if code != 0
        && (lines.len() != 1 || !lines[0].starts_with("ndbsniff: ") || !lines[0].contains(&path_s))
    {
        return Err(format!(
            "{rel}: exit {code} without a one-line error naming the file: {stderr:?}"
        ));
    }
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("{rel}: invalid JSON line {line:?}: {e}"))?;
        if v["type"] == "flow" && v["verdict"] == "ndb-mgm" {
            return Err(format!("{rel}: flow called ndb-mgm: {line}"));
        }
    }
    if code != 2 && !stdout.lines().any(|l| l.starts_with("{\"type\":\"stats\"")) {
        return Err(format!("{rel}: no stats object"));
    }
    Ok(stdout)
}

#[test]
fn every_shared_capture_is_handled() {
    let dir = match common::shared_pcaps() {
        Ok(dir) => dir,
        Err(why) => return common::skip("every_shared_capture_is_handled", &why),
    };
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("read INDEX.tsv");
    let files: Vec<String> = index
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .map(String::from)
        .collect();
    assert!(
        files.len() > 1000,
        "INDEX.tsv lists only {} files",
        files.len()
    );
    let scratch = common::temp_dir("shared-pcaps");
    let mut failures = Vec::new();
    for rel in &files {
        let one = check(&dir, &scratch, rel, "1");
        let three = check(&dir, &scratch, rel, "3");
        match (one, three) {
            (Ok(a), Ok(b)) if a != b => {
                failures.push(format!("{rel}: output differs between 1 and 3 threads"))
            }
            (Ok(_), Ok(_)) => {}
            (Err(e), _) | (_, Err(e)) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} captures failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    eprintln!("{} shared captures handled", files.len());
}
