//! What a run looks like from outside while it is busy: its credentials, capabilities and
//! system-call filter (read from /proc while the run waits on a full stdout pipe), and how it
//! answers one and two stop signals.
//!
//! The runs read a generated SYN flood with a small flow table, so flows are evicted and printed
//! while the file is still being read: once the test stops reading stdout, the pipe fills and
//! the whole pipeline (capture thread included) waits on it, part-way through the file. The
//! privilege tests need root and print why they skip otherwise; the signal tests run as anyone.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// SYNs in the generated capture: far more than the pipeline holds in flight.
const SYNS: u64 = 200_000;
/// How long a run may take to fill its pipe or to end before the test gives up (a guard
/// against a hang, not a measurement).
const GUARD: Duration = Duration::from_secs(120);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A directory under /tmp (which every user can reach, so runs as `nobody` can read it) holding
/// the flood capture; removed when dropped.
struct Flood {
    dir: PathBuf,
    file: PathBuf,
}

impl Flood {
    fn new(name: &str) -> Flood {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("ndbsniff-hardening-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("make the test directory readable");
        let file = dir.join("flood.pcap");
        let out = std::io::BufWriter::new(std::fs::File::create(&file).expect("create capture"));
        let n = ndbsniff_gen::flood::write_syn_flood(out, SYNS, 3406, 1, 1_700_000_000_000_000_000)
            .expect("write the SYN flood");
        assert_eq!(n, SYNS);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
            .expect("make the capture readable");
        Flood { dir, file }
    }

    fn path(&self) -> &str {
        self.file.to_str().expect("utf-8 path")
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A run whose stdout the test has stopped reading.
struct Blocked {
    child: Child,
    stdout: ChildStdout,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

/// How to start a run: extra environment, variables removed, and an account to start it as.
#[derive(Default)]
struct Start<'a> {
    env: &'a [(&'a str, &'a str)],
    env_remove: &'a [&'a str],
    uid: Option<u32>,
}

impl Blocked {
    /// Starts ndbsniff and returns once its stdout pipe is full (so the run waits on it).
    fn start(args: &[&str], how: Start<'_>) -> Blocked {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ndbsniff"));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in how.env {
            cmd.env(k, v);
        }
        for k in how.env_remove {
            cmd.env_remove(k);
        }
        if let Some(uid) = how.uid {
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().expect("start ndbsniff");
        let stdout = child.stdout.take().expect("stdout pipe");
        let stderr = child.stderr.take().expect("stderr pipe");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut run = Blocked {
            child,
            stdout,
            stderr: rx,
            stderr_seen: Vec::new(),
        };
        run.wait_until_full();
        run
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn collect_stderr(&mut self) {
        while let Ok(line) = self.stderr.try_recv() {
            self.stderr_seen.push(line);
        }
    }

    /// Waits until the pipe holds all it can (less a page): the writer is then blocked.
    fn wait_until_full(&mut self) {
        let fd = self.stdout.as_raw_fd();
        // SAFETY: F_GETPIPE_SZ on a pipe descriptor this process owns.
        let capacity = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        assert!(capacity > 0, "not a pipe");
        let deadline = Instant::now() + GUARD;
        loop {
            let mut queued: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int through the valid pointer.
            let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) };
            assert_eq!(rc, 0, "FIONREAD failed");
            if queued >= capacity - 4096 {
                return;
            }
            self.collect_stderr();
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "ndbsniff ended ({st}) before filling its stdout pipe; stderr: {:?}",
                    self.stderr_seen
                );
            }
            assert!(
                Instant::now() < deadline,
                "stdout pipe never filled; stderr: {:?}",
                self.stderr_seen
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process's /proc status, as `name -> value` lines.
    fn status(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status")
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: signalling our own child process.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for a stderr line containing `needle` (the run must still be going).
    fn wait_stderr(&mut self, needle: &str) {
        let deadline = Instant::now() + GUARD;
        loop {
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(50)) {
                let found = line.contains(needle);
                self.stderr_seen.push(line);
                if found {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no stderr line with {needle:?}: {:?}",
                self.stderr_seen
            );
        }
    }

    /// Reads stdout to its end and waits for the exit; returns stdout, stderr and the status.
    fn finish(mut self) -> (String, Vec<String>, ExitStatus) {
        let mut out = String::new();
        self.stdout
            .read_to_string(&mut out)
            .expect("read stdout to its end");
        let deadline = Instant::now() + GUARD;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("ndbsniff did not end; stderr: {:?}", self.stderr_seen);
            }
            thread::sleep(Duration::from_millis(10));
        };
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            self.stderr_seen.push(line);
        }
        (out, self.stderr_seen, status)
    }
}

/// The whitespace-separated values of one /proc status field.
fn field(status: &str, name: &str) -> Vec<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} line in:\n{status}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn own_status() -> String {
    std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status")
}

/// The number of seccomp filters in a status (the line exists since Linux 5.9).
fn filters(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp_filters:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Filters installed on this test process (a child starts with the same ones).
fn own_filters() -> Option<u64> {
    filters(&own_status())
}

fn stats_of(stdout: &str) -> Option<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "stats" && v["final"] == true)
}

/// Checks what any run past its start must show, root or not.
fn assert_confined(status: &str) {
    assert_eq!(field(status, "NoNewPrivs"), ["1"], "{status}");
    assert_eq!(field(status, "Seccomp"), ["2"], "{status}");
    assert_eq!(
        filters(status),
        own_filters().map(|n| n + 3),
        "the three filters on top of what the test runs under:\n{status}"
    );
    for caps in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(
            field(status, caps),
            ["0000000000000000"],
            "{caps}:\n{status}"
        );
    }
}

/// True (after saying so) when `test` cannot run because this is not root.
fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    common::skip(test, "not running as root (nothing to drop)");
    true
}

const FLOOD_ARGS: [&str; 6] = ["--format", "json", "--max-flows", "1000", "--threads", "1"];

fn flood_args<'a>(flood: &'a Flood, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-r", flood.path()];
    args.extend_from_slice(&FLOOD_ARGS);
    args.extend_from_slice(extra);
    args
}

#[test]
fn as_root_r_switches_to_the_sudo_user_and_is_confined_while_it_reads() {
    if skip_unless_root("as_root_r_switches_to_the_sudo_user_and_is_confined_while_it_reads") {
        return;
    }
    let flood = Flood::new("sudo");
    let sudo = Start {
        env: &[("SUDO_UID", "4242"), ("SUDO_GID", "4343")],
        ..Start::default()
    };
    let run = Blocked::start(&flood_args(&flood, &[]), sudo);
    let status = run.status();
    assert_eq!(field(&status, "Uid"), ["4242"; 4], "{status}");
    assert_eq!(field(&status, "Gid"), ["4343"; 4], "{status}");
    assert!(
        status.lines().any(|l| l.trim_end() == "Groups:"),
        "supplementary groups not cleared:\n{status}"
    );
    assert_eq!(field(&status, "CapBnd"), ["0000000000000000"], "{status}");
    assert_confined(&status);
    let (sandboxed, stderr, code) = run.finish();
    assert!(code.success(), "{code}; stderr: {stderr:?}");
    let stats = stats_of(&sandboxed).expect("final stats");
    assert_eq!(stats["packets_read"], SYNS, "{stats}");
    assert_eq!(stats["flows"], SYNS, "{stats}");
    assert_eq!(stats["interrupted"], false, "{stats}");

    // --no-sandbox: the same privileges are given up, no filter is added, the output is the same.
    let sudo = Start {
        env: &[("SUDO_UID", "4242"), ("SUDO_GID", "4343")],
        ..Start::default()
    };
    let run = Blocked::start(&flood_args(&flood, &["--no-sandbox"]), sudo);
    let status = run.status();
    assert_eq!(field(&status, "Uid"), ["4242"; 4], "{status}");
    assert_eq!(field(&status, "CapBnd"), ["0000000000000000"], "{status}");
    assert_eq!(field(&status, "NoNewPrivs"), ["1"], "{status}");
    assert_eq!(filters(&status), own_filters(), "{status}");
    let (plain, stderr, code) = run.finish();
    assert!(code.success(), "{code}; stderr: {stderr:?}");
    assert!(
        plain == sandboxed,
        "output differs with and without the system-call filter"
    );
}

#[test]
fn as_root_r_without_sudo_becomes_nobody_after_opening_the_w_file() {
    if skip_unless_root("as_root_r_without_sudo_becomes_nobody_after_opening_the_w_file") {
        return;
    }
    let flood = Flood::new("nobody");
    let copy = flood.dir.join("copy.pcap");
    let copy_s = copy.to_str().expect("utf-8 path").to_string();
    let start = Start {
        env_remove: &["SUDO_UID", "SUDO_GID"],
        ..Start::default()
    };
    let run = Blocked::start(&flood_args(&flood, &["-w", &copy_s]), start);
    let status = run.status();
    let nobody = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .expect("a nobody account");
    let (uid, gid) = (nobody.uid.to_string(), nobody.gid.to_string());
    assert_eq!(field(&status, "Uid"), [uid.as_str(); 4], "{status}");
    assert_eq!(field(&status, "Gid"), [gid.as_str(); 4], "{status}");
    assert_eq!(field(&status, "CapBnd"), ["0000000000000000"], "{status}");
    assert_confined(&status);
    let (out, stderr, code) = run.finish();
    assert!(code.success(), "{code}; stderr: {stderr:?}");
    assert_eq!(stats_of(&out).expect("final stats")["packets_read"], SYNS);
    // The -w file, opened as root before the switch, was written to its end as nobody.
    let replay = common::ndbsniff(&["-r", &copy_s, "--format", "json"]);
    replay.expect_code(0);
    assert_eq!(
        replay.stats()["packets_read"],
        SYNS,
        "{}",
        replay.describe()
    );
}

#[test]
fn not_root_r_keeps_its_user_and_is_confined() {
    if !is_root() {
        // Started as an ordinary user, this test process can still check its own child.
        let flood = Flood::new("self");
        let run = Blocked::start(&flood_args(&flood, &[]), Start::default());
        assert_confined(&run.status());
        let (_, stderr, code) = run.finish();
        assert!(code.success(), "{code}; stderr: {stderr:?}");
        return;
    }
    // As root: start the run as nobody, which has nothing to switch to and no right to change
    // the bounding set, and is confined all the same.
    let flood = Flood::new("as-nobody");
    let start = Start {
        uid: Some(65534),
        ..Start::default()
    };
    let run = Blocked::start(&flood_args(&flood, &[]), start);
    let status = run.status();
    assert_eq!(field(&status, "Uid"), ["65534"; 4], "{status}");
    assert_eq!(
        field(&status, "CapBnd"),
        field(&own_status(), "CapBnd"),
        "an unprivileged run cannot change its bounding set:\n{status}"
    );
    assert_confined(&status);
    let (out, stderr, code) = run.finish();
    assert!(code.success(), "{code}; stderr: {stderr:?}");
    assert_eq!(stats_of(&out).expect("final stats")["packets_read"], SYNS);
}

#[test]
fn a_first_signal_stops_reading_and_the_summary_says_interrupted() {
    let flood = Flood::new("first-signal");
    let mut run = Blocked::start(&flood_args(&flood, &[]), Start::default());
    run.signal(libc::SIGTERM);
    run.wait_stderr("interrupt again to quit at once");
    let (out, stderr, code) = run.finish();
    assert_eq!(code.code(), Some(0), "stderr: {stderr:?}");
    let stats = stats_of(&out).expect("final stats after one signal");
    assert_eq!(stats["interrupted"], true, "{stats}");
    let read = stats["packets_read"].as_u64().unwrap_or(u64::MAX);
    assert!(read < SYNS, "reading did not stop early: {stats}");
    // Every flow of what was read is still reported.
    let flows = out
        .lines()
        .filter(|l| l.contains("\"type\":\"flow\""))
        .count();
    assert_eq!(stats["flows"].as_u64(), Some(flows as u64), "{stats}");
}

#[test]
fn a_second_signal_ends_a_busy_run_at_once_with_130() {
    let flood = Flood::new("second-signal");
    for (first, second) in [(libc::SIGINT, libc::SIGINT), (libc::SIGTERM, libc::SIGINT)] {
        let mut run = Blocked::start(&flood_args(&flood, &[]), Start::default());
        run.signal(first);
        // The first one is handled (the run goes on, still blocked on its full pipe) ...
        run.wait_stderr("interrupt again to quit at once");
        // ... and the second ends it without waiting for the pipe to be read.
        run.signal(second);
        let deadline = Instant::now() + GUARD;
        let status = loop {
            if let Some(st) = run.child.try_wait().expect("wait") {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "still running after a second signal; stderr: {:?}",
                run.stderr_seen
            );
            thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(130), "{status}");
        let (out, stderr, _) = run.finish();
        assert!(
            stderr.iter().any(|l| l.contains("quitting at once")),
            "{stderr:?}"
        );
        assert!(
            stats_of(&out).is_none(),
            "a run ended at once printed its final summary"
        );
    }
}
