//! Live capture on the loopback interface, as root: real TCP conversations on 127.0.0.1, one
//! speaking the NDB management protocol and one HTTP, on the watched port; stopped with SIGINT.
//! Skips with a message when not root or when `lo` cannot be captured. Traffic stays on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A port on 127.0.0.1 nothing listens on (3406 itself when free).
fn free_port() -> u16 {
    if TcpListener::bind(("127.0.0.1", 3406)).is_ok() {
        return 3406;
    }
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(34060)
}

struct Sniffer {
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Sniffer {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Sniffer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ndbsniff"));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start ndbsniff");
        let stderr = child.stderr.take().expect("stderr pipe");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Sniffer {
            child,
            stderr_lines: rx,
            stderr_seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle`; None if the process ended or time ran out.
    fn wait_stderr(&mut self, needle: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_millis(50)) {
                self.stderr_seen.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
        }
        None
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends SIGINT and collects stdout, the rest of stderr and the exit code (within 5 s).
    fn interrupt(mut self) -> (String, Vec<String>, Option<i32>) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.pid(), libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        while let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_millis(200)) {
            self.stderr_seen.push(line);
        }
        (out, self.stderr_seen, status.and_then(|s| s.code()))
    }
}

/// Reads one request or reply: up to and including the empty line that ends it.
fn read_message(stream: &mut BufReader<TcpStream>) -> String {
    let mut msg = String::new();
    loop {
        let mut line = String::new();
        match stream.read_line(&mut line) {
            Ok(0) | Err(_) => return msg,
            Ok(_) => {
                let end = line.trim_end_matches(['\r', '\n']).is_empty();
                msg.push_str(&line);
                if end {
                    return msg;
                }
            }
        }
    }
}

/// Serves one connection: each request read gets `reply(request)`.
fn serve(listener: TcpListener, reply: fn(&str) -> String) {
    let Ok((stream, _)) = listener.accept() else {
        return;
    };
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let req = read_message(&mut reader);
        if req.is_empty() || writer.write_all(reply(&req).as_bytes()).is_err() {
            return;
        }
    }
}

/// A tiny management server: answers `get version` and `get nodeid` as ndb_mgmd 8.0 does.
fn ndb_server(listener: TcpListener) {
    serve(listener, |req| {
        if req.starts_with("get version") {
            "version\nid: 524323\nmajor: 8\nminor: 0\nbuild: 35\nstring: mysql-8.0.35 ndb-8.0.35\nmysql_major: 8\nmysql_minor: 0\nmysql_build: 35\n\n".to_string()
        } else if req.starts_with("get nodeid") {
            "get nodeid reply\nnodeid: 50\nresult: Ok\n\n".to_string()
        } else {
            format!(
                "result: Unknown command, '{}'\n\n",
                req.lines().next().unwrap_or("")
            )
        }
    })
}

fn ndb_client(port: u16) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to NDB server");
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    writer
        .write_all(b"get nodeid\nname:\"mysqld --server-id=1\"\nendian:\"little\"\npublic key:\"a public key\"\npassword:\"mysqld\"\nlog_event: 1\nuser:\"mysqld\"\nnodeid: 0\nnodetype: 1\nversion: 524323\n\n")
        .expect("send get nodeid");
    assert!(read_message(&mut reader).starts_with("get nodeid reply"));
    writer
        .write_all(b"get version\n\n")
        .expect("send get version");
    assert!(read_message(&mut reader).starts_with("version\n"));
}

fn http_exchange(listener: TcpListener, port: u16) {
    let server = thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut writer = stream.try_clone().expect("clone");
        let _ = read_message(&mut BufReader::new(stream));
        let _ = writer.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
        );
    });
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect to HTTP server");
    c.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n")
        .expect("send HTTP");
    let mut reply = String::new();
    let _ = c.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 200"));
    let _ = server.join();
}

/// Runs the two conversations on `port`, one after the other.
fn talk(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind NDB server");
    let server = thread::spawn(move || ndb_server(listener));
    ndb_client(port);
    let _ = server.join();
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind HTTP server");
    http_exchange(listener, port);
}

/// Starts ndbsniff with `args`, waits for its "listening on lo" line, and hands its stdout over
/// as a channel of lines (read by a thread, so the test can wait with a deadline).
fn start_reading(args: &[&str]) -> (Sniffer, mpsc::Receiver<String>) {
    let mut sniffer = Sniffer::start(args, &[]);
    assert!(
        sniffer
            .wait_stderr("listening on lo", Duration::from_secs(10))
            .is_some(),
        "{:?}",
        sniffer.stderr_seen
    );
    let stdout = sniffer.child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (sniffer, rx)
}

fn uid_line(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or("")
        .to_string()
}

fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some("not running as root".into());
    }
    let probe = common::ndbsniff(&["-i", "lo", "--duration", "0.2", "--format", "json"]);
    if probe.code() != Some(0) {
        return Some(format!("cannot capture on lo: {}", probe.stderr().trim()));
    }
    None
}

#[test]
fn live_loopback_json_verdicts_drops_and_privilege_drop() {
    if let Some(why) = skip_reason() {
        return common::skip("live_loopback_json_verdicts_drops_and_privilege_drop", &why);
    }
    let port = free_port();
    let port_s = port.to_string();
    let dir = common::temp_dir("live-json");
    let pcap_out = dir.join("watched.pcap");
    let pcap_s = pcap_out.to_str().expect("utf-8 path").to_string();
    let mut sniffer = Sniffer::start(
        &[
            "-i", "lo", "--port", &port_s, "--format", "json", "-w", &pcap_s,
        ],
        &[("SUDO_UID", "65534"), ("SUDO_GID", "65534")],
    );
    let listening = sniffer.wait_stderr("listening on lo", Duration::from_secs(10));
    assert!(
        listening.is_some(),
        "no 'listening on' line: {:?}",
        sniffer.stderr_seen
    );
    let uid = uid_line(sniffer.pid());
    assert!(uid.starts_with("Uid:"), "cannot read the process status");
    assert!(
        uid.split_whitespace().skip(1).all(|u| u == "65534"),
        "still privileged after opening: {uid}"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", sniffer.pid()))
        .expect("read the process status");
    for (name, want) in [
        ("CapEff", "0000000000000000"),
        ("CapBnd", "0000000000000000"),
        ("NoNewPrivs", "1"),
        ("Seccomp", "2"),
    ] {
        let got = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::trim);
        assert_eq!(got, Some(want), "{name} while capturing:\n{status}");
    }

    talk(port);
    thread::sleep(Duration::from_millis(500));
    let (stdout, stderr, code) = sniffer.interrupt();
    assert_eq!(
        code,
        Some(0),
        "exit status; stderr: {stderr:?}\nstdout: {stdout}"
    );

    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect();
    let flows: Vec<&serde_json::Value> = lines.iter().filter(|v| v["type"] == "flow").collect();
    let server = format!("127.0.0.1:{port}");
    let verdicts: Vec<&str> = flows
        .iter()
        .filter(|f| f["server"] == server.as_str())
        .map(|f| f["verdict"].as_str().unwrap_or("?"))
        .collect();
    assert!(
        verdicts.contains(&"ndb-mgm"),
        "no ndb-mgm flow on {server}: {stdout}"
    );
    assert!(
        verdicts.contains(&"unknown"),
        "no unknown (HTTP) flow on {server}: {stdout}"
    );
    let stats = lines
        .iter()
        .rev()
        .find(|v| v["type"] == "stats")
        .expect("final stats object");
    assert_eq!(stats["final"], true);
    assert_eq!(stats["interrupted"], true, "stopped by SIGINT: {stats}");
    for key in [
        "received_by_kernel",
        "dropped_by_kernel",
        "dropped_by_interface",
        "dropped_by_ndbsniff",
    ] {
        assert!(stats[key].is_u64(), "stats lacks {key}: {stats}");
    }
    assert!(stats["packets_read"].as_u64().unwrap_or(0) >= 10, "{stats}");

    // The -w file is a readable capture holding the same conversations.
    let replay = common::ndbsniff(&["-r", &pcap_s, "--port", &port_s, "--format", "json"]);
    replay.expect_code(0);
    let replayed: Vec<String> = replay
        .flows()
        .iter()
        .map(|f| f["verdict"].as_str().unwrap_or("?").to_string())
        .collect();
    assert!(
        replayed.contains(&"ndb-mgm".to_string()) && replayed.contains(&"unknown".to_string()),
        "{}",
        replay.describe()
    );
}

#[test]
fn live_text_announces_verdicts_while_running() {
    if let Some(why) = skip_reason() {
        return common::skip("live_text_announces_verdicts_while_running", &why);
    }
    // Both tests may run at once: this one uses its own port.
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let port_s = port.to_string();
    let (mut sniffer, rx) =
        start_reading(&["-i", "lo", "--port", &port_s, "--stats-interval", "0.3"]);
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let server = thread::spawn(move || ndb_server(listener));
    ndb_client(port);
    // The verdict line must appear while the capture is still running.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut announced = None;
    while announced.is_none() && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            if line.contains(&format!("127.0.0.1:{port} tcp (client 127.0.0.1:"))
                && line.contains(") ndb-mgm confidence")
            {
                announced = Some(line);
            }
        }
    }
    let _ = server.join();
    assert!(announced.is_some(), "no verdict line while running");
    assert!(
        sniffer
            .wait_stderr("dropped by kernel", Duration::from_secs(3))
            .is_some(),
        "no periodic stats line"
    );
    let (_, stderr, code) = sniffer.interrupt();
    assert_eq!(code, Some(0), "{stderr:?}");
    let mut rest = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
        rest.push(l);
    }
    // The drop counters of the summary are on standard error at exit.
    assert!(
        stderr.iter().any(|l| l.contains("dropped by kernel"))
            && !rest.iter().any(|l| l.contains("packets read")),
        "no drop counters on stderr at exit: {stderr:?} {rest:?}"
    );
}

/// A management server for one connection that also answers `check connection`, `get status`
/// (one data node at 127.0.0.2) and `stop v2`.
fn control_server(listener: TcpListener) {
    serve(listener, |req| {
        if req.starts_with("check connection") {
            "check connection reply\nresult: Ok\n\n"
        } else if req.starts_with("get status") {
            "node status\nnodes: 1\nnode.2.type: NDB\nnode.2.status: STARTED\nnode.2.version: 524323\nnode.2.address: 127.0.0.2\n\n"
        } else if req.starts_with("stop v2") {
            "stop reply\nresult: Ok\nstopped: 1\ndisconnect: 0\n\n"
        } else {
            "result: Unknown command, 'x'\n\n"
        }
        .to_string()
    })
}

/// An NDB management session against `control_server` on a free loopback port, watched by a
/// live ndbsniff run of `format` with statistics every `interval` seconds; `requests` are sent
/// and each answered before it returns.
struct ControlSession {
    sniffer: Sniffer,
    rx: mpsc::Receiver<String>,
    server: thread::JoinHandle<()>,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    port: u16,
}

impl ControlSession {
    fn start(format: &str, interval: &str, requests: &[&str]) -> ControlSession {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("address").port();
        let port_s = port.to_string();
        let (sniffer, rx) = start_reading(&[
            "-i",
            "lo",
            "--port",
            &port_s,
            "--format",
            format,
            "--stats-interval",
            interval,
        ]);
        let server = thread::spawn(move || control_server(listener));
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut writer = stream.try_clone().expect("clone stream");
        let mut reader = BufReader::new(stream);
        for req in requests {
            writer.write_all(req.as_bytes()).expect("send");
            assert!(!read_message(&mut reader).is_empty(), "no reply to {req:?}");
        }
        ControlSession {
            sniffer,
            rx,
            server,
            writer,
            reader,
            port,
        }
    }

    /// Closes the session, stops the run (exit 0 checked) and returns the lines it wrote since
    /// the ones already taken from `rx`.
    fn finish(self) -> Vec<serde_json::Value> {
        drop(self.writer);
        drop(self.reader);
        let _ = self.server.join();
        thread::sleep(Duration::from_millis(300));
        let (_, stderr, code) = self.sniffer.interrupt();
        assert_eq!(code, Some(0), "{stderr:?}");
        let mut rest = Vec::new();
        while let Ok(l) = self.rx.recv_timeout(Duration::from_millis(300)) {
            rest.push(serde_json::from_str(&l).expect("valid JSON line"));
        }
        rest
    }
}

#[test]
fn live_json_announces_control_commands_and_the_cluster_map_while_running() {
    let name = "live_json_announces_control_commands_and_the_cluster_map_while_running";
    if let Some(why) = skip_reason() {
        return common::skip(name, &why);
    }
    let session = ControlSession::start(
        "json",
        "0.3",
        &[
            "check connection\n\n",
            "get status\n\n",
            "check connection\n\n",
            "stop v2\nnode: 2\nabort: 0\nforce: 0\n\n",
        ],
    );
    let (rx, port) = (&session.rx, session.port);
    // The session is still open: the stop must be announced now, and the next statistics
    // tick carries a cluster map that holds it.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut command, mut interim_map, mut verdict) = (None, None, None);
    while (command.is_none() || interim_map.is_none() || verdict.is_none())
        && Instant::now() < deadline
    {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON line");
        match v["type"].as_str() {
            Some("ndb_command") => command = Some(v.clone()),
            Some("verdict") => verdict = Some(v.clone()),
            Some("ndb_cluster") if v["final"] == false && command.is_some() => {
                interim_map = Some(v.clone())
            }
            Some("flow") if v["verdict"] == "ndb-mgm" => {
                panic!("the NDB flow was reported before it ended: {line}")
            }
            _ => {}
        }
        seen.push(line);
    }
    // The flow's verdict is announced as soon as it is decided, long before the flow ends.
    let verdict = verdict.unwrap_or_else(|| panic!("no verdict line while running: {seen:?}"));
    assert_eq!(verdict["verdict"], "ndb-mgm", "{verdict}");
    assert_eq!(verdict["server"], format!("127.0.0.1:{port}").as_str());
    assert!(verdict["community_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("1:")));
    let command = command.unwrap_or_else(|| panic!("no ndb_command line while running: {seen:?}"));
    assert_eq!(command["command"], "stop v2", "{command}");
    assert_eq!(command["result"], "Ok", "{command}");
    assert_eq!(command["server"], format!("127.0.0.1:{port}").as_str());
    assert_eq!(command["args"]["node"], "2", "{command}");
    let map = interim_map.unwrap_or_else(|| panic!("no interim ndb_cluster line: {seen:?}"));
    assert_eq!(map["control"][0]["command"], "stop v2", "{map}");

    let rest = session.finish();
    let flow = rest
        .iter()
        .find(|v| v["type"] == "flow" && v["verdict"] == "ndb-mgm")
        .unwrap_or_else(|| panic!("no ndb-mgm flow at the end: {rest:?}"));
    let commands: Vec<&str> = flow["ndb"]["commands"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["command"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        commands,
        [
            "check connection",
            "get status",
            "check connection",
            "stop v2"
        ],
        "{flow}"
    );
    assert_eq!(flow["ndb"]["peer"], "ndb_mgm", "{flow}");
    let last = rest
        .iter()
        .rev()
        .find(|v| v["type"] == "ndb_cluster")
        .unwrap_or_else(|| panic!("no final ndb_cluster line: {rest:?}"));
    assert_eq!(last["final"], true);
    // Announced once, so on the timeline once.
    assert_eq!(last["control_total"], 1, "{last}");
    assert_eq!(last["nodes"][0]["address"], "127.0.0.2", "{last}");
}

#[test]
fn live_eve_announces_in_eves_shape_and_stats_deltas_add_up() {
    let name = "live_eve_announces_in_eves_shape_and_stats_deltas_add_up";
    if let Some(why) = skip_reason() {
        return common::skip(name, &why);
    }
    let session = ControlSession::start(
        "eve",
        "0.2",
        &[
            "check connection\n\n",
            "get status\n\n",
            "stop v2\nnode: 2\nabort: 0\nforce: 0\n\n",
        ],
    );
    let (rx, port) = (&session.rx, session.port);
    // While the session runs: its verdict, its stop command and two statistics lines.
    let mut lines: Vec<serde_json::Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let count = |lines: &[serde_json::Value], kind: &str| {
        lines.iter().filter(|v| v["event_type"] == kind).count()
    };
    while (count(&lines, "ndb_verdict") == 0
        || count(&lines, "ndb_command") == 0
        || count(&lines, "stats") < 2)
        && Instant::now() < deadline
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            lines.push(serde_json::from_str(&line).expect("valid JSON line"));
        }
    }
    lines.extend(session.finish());
    let verdict = lines
        .iter()
        .find(|v| v["event_type"] == "ndb_verdict")
        .unwrap_or_else(|| panic!("no ndb_verdict line: {lines:?}"));
    assert_eq!(verdict["app_proto"], "ndb-mgm", "{verdict}");
    assert_eq!(verdict["dest_port"], port, "{verdict}");
    assert!(verdict.get("flow").is_none(), "{verdict}");
    let command = lines
        .iter()
        .find(|v| v["event_type"] == "ndb_command")
        .unwrap_or_else(|| panic!("no ndb_command line: {lines:?}"));
    assert_eq!(command["ndb_command"]["command"], "stop v2", "{command}");
    assert_eq!(command["dest_ip"], "127.0.0.1");
    let flow = lines
        .iter()
        .find(|v| v["event_type"] == "flow" && v["app_proto"] == "ndb-mgm")
        .unwrap_or_else(|| panic!("no ndb-mgm flow: {lines:?}"));
    assert_eq!(flow["dest_port"], port);
    assert_eq!(flow["ndb"]["peer"], "ndb_mgm", "{flow}");
    for v in &lines {
        let ts = v["timestamp"]
            .as_str()
            .unwrap_or_else(|| panic!("timestamp: {v}"));
        assert!(ts.ends_with("+0000"), "{v}");
    }

    // Each statistics line's delta is the change since the one before, so they add up to
    // the final line's totals; live, the drop counters are followed too.
    let stats: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["event_type"] == "stats")
        .map(|v| &v["stats"])
        .collect();
    assert!(
        stats.len() >= 3,
        "two interim lines and the final one: {stats:?}"
    );
    let last = stats.last().expect("final stats");
    assert_eq!(last["final"], true);
    for key in [
        "packets_read",
        "bytes_read",
        "packets_watched",
        "flows",
        "dropped_by_ndbsniff",
    ] {
        let sum: u64 = stats
            .iter()
            .map(|s| {
                s["delta"][key]
                    .as_u64()
                    .unwrap_or_else(|| panic!("delta {key}: {s}"))
            })
            .sum();
        assert_eq!(Some(sum), last[key].as_u64(), "{key} over {stats:?}");
    }
    assert!(last["packets_read"].as_u64().unwrap_or(0) > 0, "{last}");
    // Live, the time is the clock's when the line was written: not before any packet seen.
    let stats_at = lines
        .iter()
        .rev()
        .find(|v| v["event_type"] == "stats")
        .and_then(|v| v["timestamp"].as_str())
        .expect("a final stats timestamp");
    let latest_flow_end = lines
        .iter()
        .filter(|v| v["event_type"] == "flow")
        .filter_map(|v| v["flow"]["end"].as_str())
        .max()
        .expect("a flow");
    assert!(
        stats_at >= latest_flow_end,
        "{stats_at} < {latest_flow_end}"
    );
}

/// Why `--capture-threads 2` cannot be tested here (besides [`skip_reason`]): the kernel
/// refuses AF_PACKET fanout on lo.
fn fanout_skip_reason() -> Option<String> {
    if let Some(why) = skip_reason() {
        return Some(why);
    }
    let probe = common::ndbsniff(&[
        "-i",
        "lo",
        "--capture-threads",
        "2",
        "--duration",
        "0.2",
        "--format",
        "json",
    ]);
    match probe.code() {
        Some(0) => None,
        _ if probe.stderr().contains("fanout") => Some(format!(
            "the kernel refuses AF_PACKET fanout: {}",
            probe.stderr().trim()
        )),
        _ => panic!("--capture-threads 2 on lo failed: {}", probe.describe()),
    }
}

/// A TCP listener on a free loopback port, kept bound, that answers each connection's one
/// line with `ok` and closes it; it serves `connections` connections, then returns.
fn echo_server(connections: usize) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind echo server");
    let port = listener.local_addr().expect("address").port();
    let server = thread::spawn(move || {
        for _ in 0..connections {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut writer = stream.try_clone().expect("clone");
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            let _ = writer.write_all(b"ok\n");
        }
    });
    (port, server)
}

/// `connections` short connections to `port`, four clients at a time.
fn echo_clients(port: u16, connections: usize) {
    let clients: Vec<_> = (0..4)
        .map(|c| {
            thread::spawn(move || {
                for i in (c..connections).step_by(4) {
                    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                    s.write_all(format!("hello {i}\n").as_bytes())
                        .expect("send");
                    let mut reply = String::new();
                    let _ = s.read_to_string(&mut reply);
                    assert_eq!(reply, "ok\n");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
}

/// Starts ndbsniff with `args` and `env` and waits for its "listening on lo" line; its standard
/// output is read meanwhile by a thread (a report larger than a pipe holds would otherwise stop
/// the run from ending), whose join gives all of it.
fn start_collecting(args: &[&str], env: &[(&str, &str)]) -> (Sniffer, thread::JoinHandle<String>) {
    let mut sniffer = Sniffer::start(args, env);
    let mut stdout = sniffer.child.stdout.take().expect("stdout");
    let reader = thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    assert!(
        sniffer
            .wait_stderr("listening on lo", Duration::from_secs(10))
            .is_some(),
        "{:?}",
        sniffer.stderr_seen
    );
    (sniffer, reader)
}

/// Interrupts a run of [`start_collecting`]; its standard output once it ended with status 0.
fn interrupt_collected(sniffer: Sniffer, reader: thread::JoinHandle<String>) -> String {
    let (_, stderr, code) = sniffer.interrupt();
    assert_eq!(code, Some(0), "{stderr:?}");
    reader.join().expect("stdout reader")
}

/// The JSON lines of a run's standard output.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

/// A flow's verdict, and its packets and bytes to the server and to the client.
type FlowCounts = (String, u64, u64, u64, u64);

/// The flows of `lines` whose server has port `port`, by client: (verdict, packets and bytes
/// each way). A client seen twice is a flow split in two.
fn flows_on(
    lines: &[serde_json::Value],
    transport: &str,
    port: u16,
) -> std::collections::BTreeMap<String, Vec<FlowCounts>> {
    let server = format!("127.0.0.1:{port}");
    let mut by_client: std::collections::BTreeMap<String, Vec<FlowCounts>> = Default::default();
    for f in lines.iter().filter(|v| v["type"] == "flow") {
        if f["server"] != server.as_str() || f["transport"] != transport {
            continue;
        }
        let n = |k: &str| f[k].as_u64().unwrap_or(u64::MAX);
        by_client
            .entry(f["client"].as_str().unwrap_or("?").to_string())
            .or_default()
            .push((
                f["verdict"].as_str().unwrap_or("?").to_string(),
                n("packets_to_server"),
                n("packets_to_client"),
                n("bytes_to_server"),
                n("bytes_to_client"),
            ));
    }
    by_client
}

#[test]
fn live_capture_threads_keep_every_flow_whole_as_one_thread_sees_it() {
    let test = "live_capture_threads_keep_every_flow_whole_as_one_thread_sees_it";
    if let Some(why) = fanout_skip_reason() {
        return common::skip(test, &why);
    }
    const CONNECTIONS: usize = 200;
    const NDB_SESSIONS: usize = 3;
    let (echo_port, echo) = echo_server(CONNECTIONS);
    let ndb_listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind NDB server");
    let ndb_port = ndb_listener.local_addr().expect("address").port();
    let args = |threads: &'static str| {
        vec![
            "-i",
            "lo",
            "--any-port",
            "--format",
            "json",
            "--capture-threads",
            threads,
            "--threads",
            "3",
        ]
    };
    // Both see the same packets: the one-thread run is what each flow should look like. The
    // two-thread one drops privileges (to nobody) and runs under the system-call filter, as a
    // run does by default.
    let nobody = [("SUDO_UID", "65534"), ("SUDO_GID", "65534")];
    let one = start_collecting(&args("1"), &nobody);
    let two = start_collecting(&args("2"), &nobody);
    assert!(
        two.0
            .stderr_seen
            .iter()
            .any(|l| l.contains("2 capture threads (AF_PACKET fanout")),
        "{:?}",
        two.0.stderr_seen
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", two.0.pid())).expect("status");
    for (name, want) in [("CapEff", "0000000000000000"), ("Seccomp", "2")] {
        let got = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::trim);
        assert_eq!(got, Some(want), "{name} while capturing:\n{status}");
    }

    echo_clients(echo_port, CONNECTIONS);
    echo.join().expect("echo server");
    let ndb = thread::spawn(move || {
        for _ in 0..NDB_SESSIONS {
            ndb_server(ndb_listener.try_clone().expect("clone listener"));
        }
    });
    for _ in 0..NDB_SESSIONS {
        ndb_client(ndb_port);
    }
    ndb.join().expect("NDB server");
    thread::sleep(Duration::from_millis(500));

    let mut runs = Vec::new();
    for (sniffer, reader) in [one, two] {
        runs.push(json_lines(&interrupt_collected(sniffer, reader)));
    }
    let stats: Vec<&serde_json::Value> = runs
        .iter()
        .map(|lines| {
            lines
                .iter()
                .rev()
                .find(|v| v["type"] == "stats")
                .expect("final stats")
        })
        .collect();
    for s in &stats {
        // A packet the kernel dropped for one run and not the other would make them differ.
        assert_eq!(s["dropped_by_kernel"], 0, "{s}");
        assert_eq!(s["dropped_by_ndbsniff"], 0, "{s}");
    }
    for port in [echo_port, ndb_port] {
        let want = flows_on(&runs[0], "tcp", port);
        let got = flows_on(&runs[1], "tcp", port);
        let expected = if port == echo_port {
            CONNECTIONS
        } else {
            NDB_SESSIONS
        };
        assert_eq!(want.len(), expected, "one thread, port {port}: {want:?}");
        for (client, flows) in &got {
            assert_eq!(flows.len(), 1, "{client} split in several flows: {flows:?}");
        }
        assert_eq!(got, want, "port {port}: two capture threads against one");
        let verdict = if port == echo_port {
            "unknown"
        } else {
            "ndb-mgm"
        };
        assert!(
            got.values().all(|f| f[0].0 == verdict),
            "port {port}: {got:?}"
        );
    }
    // The sockets' counters add up to the totals, and both had traffic.
    let two = stats[1];
    assert!(stats[0].get("capture_threads").is_none(), "{}", stats[0]);
    let per = two["capture_threads"].as_array().expect("capture_threads");
    assert_eq!(per.len(), 2, "{two}");
    for key in ["packets_read", "received_by_kernel", "dropped_by_kernel"] {
        let sum: u64 = per.iter().map(|t| t[key].as_u64().expect(key)).sum();
        assert_eq!(Some(sum), two[key].as_u64(), "{key}: {two}");
    }
    for t in per {
        assert!(
            t["packets_read"].as_u64() > Some(0),
            "a socket got nothing: {two}"
        );
    }
}

#[test]
fn live_capture_threads_read_no_packet_twice() {
    let test = "live_capture_threads_read_no_packet_twice";
    if let Some(why) = fanout_skip_reason() {
        return common::skip(test, &why);
    }
    // Datagrams from a new socket each (a flow of one packet each) go to a bound port from
    // before the run opens its sockets until after it listens. Each socket gets its share once
    // they are joined (unjoined, each would read every packet), and none of those every socket
    // held before the join comes out of two of them.
    let sink = std::net::UdpSocket::bind(("127.0.0.1", 0)).expect("bind UDP");
    let port = sink.local_addr().expect("address").port();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let done = std::sync::Arc::clone(&done);
        thread::spawn(move || {
            // Each from an address of its own in 127.1.0.0/16 and up (all loopback), so no
            // two datagrams share a flow.
            let mut sent = 0u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) && sent < 1 << 20 {
                let [_, b, c, d] = sent.to_be_bytes();
                let from = std::net::Ipv4Addr::new(127, 1 + b, c, d);
                if let Ok(s) = std::net::UdpSocket::bind((from, 0)) {
                    if s.send_to(b"x", ("127.0.0.1", port)).is_ok() {
                        sent += 1;
                    }
                }
                thread::sleep(Duration::from_micros(50));
            }
            sent
        })
    };
    thread::sleep(Duration::from_millis(100));
    let (sniffer, reader) = start_collecting(
        &[
            "-i",
            "lo",
            "--port",
            &port.to_string(),
            "--format",
            "json",
            "--capture-threads",
            "2",
        ],
        &[],
    );
    thread::sleep(Duration::from_millis(300));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = sender.join().expect("sender");
    thread::sleep(Duration::from_millis(300));
    let stdout = interrupt_collected(sniffer, reader);
    let lines = json_lines(&stdout);
    let flows = flows_on(&lines, "udp", port);
    assert!(!flows.is_empty(), "no datagram seen of {sent}: {stdout}");
    for (client, f) in &flows {
        assert_eq!(f.len(), 1, "{client} reported more than once: {f:?}");
        assert_eq!((f[0].1, f[0].2), (1, 0), "{client}: {f:?}");
    }
    drop(sink);
}

#[test]
fn live_capture_threads_stop_together_at_the_count() {
    let test = "live_capture_threads_stop_together_at_the_count";
    if let Some(why) = fanout_skip_reason() {
        return common::skip(test, &why);
    }
    let (port, server) = echo_server(usize::MAX);
    let port_s = port.to_string();
    let (mut sniffer, reader) = start_collecting(
        &[
            "-i",
            "lo",
            "--port",
            &port_s,
            "--format",
            "json",
            "--capture-threads",
            "2",
            "-c",
            "300",
        ],
        &[],
    );
    // Connections until the run ends by itself (at most 20 s of them).
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Ok(Some(st)) = sniffer.child.try_wait() {
            break Some(st);
        }
        if Instant::now() > deadline {
            break None;
        }
        echo_clients(port, 8);
    };
    // The server goes on accepting until the test process ends.
    drop(server);
    assert!(
        status.is_some_and(|s| s.success()),
        "-c 300 did not end the run by itself with status 0: {status:?}"
    );
    let stdout = interrupt_collected(sniffer, reader);
    let lines = json_lines(&stdout);
    let stats = lines
        .iter()
        .rev()
        .find(|v| v["type"] == "stats")
        .expect("final stats");
    assert_eq!(stats["packets_read"], 300, "{stats}");
    assert_eq!(stats["interrupted"], false, "{stats}");
    let per = stats["capture_threads"]
        .as_array()
        .expect("capture_threads");
    let sum: u64 = per.iter().filter_map(|t| t["packets_read"].as_u64()).sum();
    assert_eq!(sum, 300, "{stats}");
}
