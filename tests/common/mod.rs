//! Shared helpers for the end-to-end tests: run the binary and show everything on failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A finished run of `ndbsniff`, with its command line kept for failure messages.
pub struct Run {
    pub cmdline: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit status\n{}",
            self.describe()
        );
        self
    }

    /// Parsed JSON lines of stdout.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}\n{}", self.describe()))
            })
            .collect()
    }

    /// The `"type":"flow"` objects of a JSON run.
    pub fn flows(&self) -> Vec<serde_json::Value> {
        self.json_lines()
            .into_iter()
            .filter(|v| v["type"] == "flow")
            .collect()
    }

    /// The `"type":"stats"` object of a JSON run.
    pub fn stats(&self) -> serde_json::Value {
        self.json_lines()
            .into_iter()
            .find(|v| v["type"] == "stats")
            .unwrap_or_else(|| panic!("no stats object\n{}", self.describe()))
    }
}

/// Runs a binary of this package from the project root.
pub fn run_bin(bin: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(root());
    let cmdline = format!("{} {}", bin, args.join(" "));
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmdline}: {e}"));
    Run { cmdline, output }
}

/// Runs `ndbsniff` with the given arguments from the project root.
pub fn ndbsniff(args: &[&str]) -> Run {
    run_bin(env!("CARGO_BIN_EXE_ndbsniff"), args)
}

/// Runs `ndbsniff` with `input` written to its standard input (from another thread, so a
/// large input cannot dead-lock against the output).
pub fn ndbsniff_stdin(args: &[&str], input: Vec<u8>) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let bin = env!("CARGO_BIN_EXE_ndbsniff");
    let cmdline = format!("{} {} < ({} bytes)", bin, args.join(" "), input.len());
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmdline}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let feeder = std::thread::spawn(move || {
        // The tool may stop reading early (a bad header): a broken pipe is expected then.
        let _ = stdin.write_all(&input);
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {cmdline}: {e}"));
    let _ = feeder.join();
    Run { cmdline, output }
}

/// A fresh empty directory under the target directory, removed first if it exists.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Writes a classic little-endian microsecond pcap file with the given link type and frames.
pub fn write_pcap(path: &Path, linktype: u32, frames: &[&[u8]]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&0i32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&linktype.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        b.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Says, in `cargo test`'s output, that `test` skips what it checks (or the part `why` names)
/// and why. The harness captures `println!` and `eprintln!` of a passing test; this writes to the
/// process's standard error directly, which it does not, so the line is always shown.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The environment variable naming the folder of shared real-world captures.
pub const PCAPS_VAR: &str = "NDBSNIFF_PCAPS";

/// The folder of shared real-world captures (the one holding `INDEX.tsv`): `$NDBSNIFF_PCAPS`, or
/// `../shared/pcaps` beside the project. `Err` says why there is none; a folder named by the
/// variable that holds no `INDEX.tsv` fails the test (it was asked for, so it must be there).
pub fn shared_pcaps() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(PCAPS_VAR) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("INDEX.tsv").is_file(),
            "{PCAPS_VAR}={} holds no INDEX.tsv",
            dir.display()
        );
        return Ok(dir);
    }
    let dir = root().join("../shared/pcaps");
    if dir.join("INDEX.tsv").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "no ../shared/pcaps/INDEX.tsv beside the project and {PCAPS_VAR} is not set"
        ))
    }
}

/// Runs an `ndbsniff-gen` command in process (its arguments without the program name), failing
/// the test if it fails.
pub fn gen(args: &[&str]) {
    if let Err(e) = ndbsniff_gen::cli::run(args) {
        panic!("ndbsniff-gen {} failed: {e}", args.join(" "));
    }
}
