//! Every real capture in `../shared/pcaps`, or in the folder `$NDBSNIFF_PCAPS` names (when
//! present; skipped with a `SKIPPED` line otherwise): no crash, no hang, at most a one-line error
//! naming the file, valid JSON, no flow called `ndb-mgm` (none of them holds NDB traffic), the
//! same output with one flow thread as with three, and no valid capture called damaged: a file
//! reported damaged must be one the index notes as damaged (a bogus captured length, cut short,
//! a block length that disagrees with itself, or one capinfos complains about).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PER_FILE_LIMIT: Duration = Duration::from_secs(10);

/// Runs ndbsniff on one capture with `threads` flow threads, checks what it did, and returns
/// its standard output and standard error.
fn check(
    dir: &std::path::Path,
    scratch: &std::path::Path,
    rel: &str,
    threads: &str,
) -> Result<(String, String), String> {
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
    Ok((stdout, stderr))
}

#[test]
fn every_shared_capture_is_handled() {
    let dir = match common::shared_pcaps() {
        Ok(dir) => dir,
        Err(why) => return common::skip("every_shared_capture_is_handled", &why),
    };
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("read INDEX.tsv");
    let rows: Vec<(String, String)> = index
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((
                cols.first()?.to_string(),
                cols.get(7).unwrap_or(&"").to_string(),
            ))
        })
        .collect();
    let files: Vec<String> = rows.iter().map(|(p, _)| p.clone()).collect();
    assert!(
        files.len() > 1000,
        "INDEX.tsv lists only {} files",
        files.len()
    );
    let scratch = common::temp_dir("shared-pcaps");
    let mut failures = Vec::new();
    let mut damaged = 0;
    const DAMAGE_NOTES: [&str; 5] = [
        "bogus-caplen",
        "cut-short",
        "block-len-mismatch",
        "trailing-partial",
        "capinfos:",
    ];
    for (rel, notes) in &rows {
        let one = check(&dir, &scratch, rel, "1");
        if let Ok((out, err)) = &one {
            let stats = out
                .lines()
                .rev()
                .find(|l| l.starts_with("{\"type\":\"stats\""));
            let error = stats
                .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .and_then(|v| v["error"].as_str().map(String::from))
                // Damaged from its first block: refused before anything was read.
                .or_else(|| {
                    err.contains(": damaged capture")
                        .then(|| err.trim().to_string())
                });
            if let Some(e) = error {
                damaged += 1;
                if !DAMAGE_NOTES.iter().any(|n| notes.contains(n)) {
                    failures.push(format!("{rel}: a valid capture called damaged: {e}"));
                }
            }
        }
        let three = check(&dir, &scratch, rel, "3");
        match (one, three) {
            (Ok((a, _)), Ok((b, _))) if a != b => {
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
    eprintln!(
        "{} shared captures handled, {damaged} damaged part-way (each noted so in INDEX.tsv)",
        files.len()
    );
}
