//! Why a run could not start or had to stop, and the one place that turns every ending into the
//! lines printed on stderr and the exit status ([`Exit`]).
//!
//! Owns: [`RunError`] (with [`UsageError`]; the capture's, privilege's and sandbox's own errors
//! are in [`crate::capture::error`], [`crate::privilege`] and [`crate::sandbox`]), the exit
//! statuses (`EXIT_*`, README "Exit codes"), and the rule that every error is one line.
//!
//! Never: decides anything from an error's wording; kinds decide.

use std::any::Any;
use std::fmt;
use std::io;

use ndbsniff_core::escape::escape_name;

use crate::capture::{io_message, CaptureError, CaptureErrorKind};
use crate::run::Outcome;
use crate::{privilege, sandbox};

/// Exit status: the capture was read to its end (or to `-c`, `--duration`, a signal, or a reader
/// of stdout that went away).
pub const EXIT_OK: u8 = 0;
/// Exit status: the capture was damaged part-way; everything before the damage is reported.
pub const EXIT_DAMAGED: u8 = 1;
/// Exit status: nothing could be read (bad flags, no such file, not a capture, …), or an
/// internal error (a thread panicked).
pub const EXIT_FAILED: u8 = 2;
/// Exit status: the report (stdout) or the `-w` file could not be written.
pub const EXIT_OUTPUT: u8 = 3;
/// Exit status of a run ended at once by a second signal (the signal handler's `_exit`).
pub const EXIT_INTERRUPTED: i32 = 130;

/// A flag's value that clap accepts but a run cannot use.
#[derive(Clone, Debug, PartialEq)]
pub enum UsageError {
    /// Neither or both of `-r FILE` and `-i IFACE`.
    NoSource,
    /// A number of seconds that is negative, not finite or too large.
    Seconds {
        /// The flag, e.g. `--duration`.
        flag: &'static str,
        /// The value given.
        value: f64,
    },
    /// A timeout of zero seconds.
    ZeroTimeout {
        /// The flag, e.g. `--idle-timeout`.
        flag: &'static str,
    },
    /// `--capture-threads` above 1 where it cannot apply.
    CaptureThreads {
        /// Why not.
        why: &'static str,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NoSource => f.write_str("give exactly one of -r FILE or -i IFACE"),
            UsageError::CaptureThreads { why } => write!(f, "--capture-threads {why}"),
            UsageError::Seconds { flag, value } => {
                write!(f, "{flag} must be a number of seconds >= 0, not {value}")
            }
            UsageError::ZeroTimeout { flag } => write!(
                f,
                "{flag} must be more than 0 seconds: everything would be dropped the moment it began"
            ),
        }
    }
}

impl std::error::Error for UsageError {}

/// Why a run could not start (nothing was read) or had to stop.
#[derive(Debug)]
pub enum RunError {
    /// A flag's value cannot be used.
    Usage(UsageError),
    /// The stop-signal handler could not be installed.
    Signals(io::Error),
    /// `-D`: libpcap could not list the interfaces.
    ListInterfaces(pcap::Error),
    /// The input could not be opened or read at all, or the `-w` file could not be created
    /// (nothing was read either way).
    Capture(CaptureError),
    /// Privileges could not be given up.
    Privilege(privilege::PrivilegeError),
    /// The system-call filter could not be installed.
    Sandbox(sandbox::SandboxError),
    /// A thread could not be started (nothing was read).
    Thread {
        /// The thread's name, e.g. `capture` or `flow-0`.
        thread: String,
        /// Why.
        error: io::Error,
    },
    /// A thread of the run panicked: a bug, and the report is incomplete.
    Panicked {
        /// The thread's name, e.g. `capture` or `flow-0`.
        thread: String,
        /// The panic's message, escaped (or a note that it had none).
        message: String,
    },
    /// Writing the report failed. A broken pipe (a reader that went away) is not printed and
    /// ends with status 0 ([`Exit::error`]); the run itself treats it as the end of output.
    Output(io::Error),
    /// Standard output was closed when the process started.
    StdoutClosed,
}

impl RunError {
    /// The error for a thread that panicked with `payload` (what `JoinHandle::join` returns).
    pub fn panicked(thread: &str, payload: &(dyn Any + Send)) -> RunError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| escape_name(s))
            .or_else(|| payload.downcast_ref::<String>().map(|s| escape_name(s)))
            .unwrap_or_else(|| "no message".to_string());
        RunError::Panicked {
            thread: thread.to_string(),
            message,
        }
    }

    /// The exit status agreed for it: [`EXIT_OUTPUT`] when output (stdout or the `-w` file)
    /// could not be written, else [`EXIT_FAILED`].
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Output(_) | RunError::StdoutClosed => EXIT_OUTPUT,
            RunError::Capture(e) if matches!(e.kind, CaptureErrorKind::Write(_)) => EXIT_OUTPUT,
            RunError::Usage(_)
            | RunError::Signals(_)
            | RunError::ListInterfaces(_)
            | RunError::Capture(_)
            | RunError::Privilege(_)
            | RunError::Sandbox(_)
            | RunError::Thread { .. }
            | RunError::Panicked { .. } => EXIT_FAILED,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Usage(e) => e.fmt(f),
            RunError::Signals(e) => write!(f, "cannot install the signal handler: {e}"),
            RunError::ListInterfaces(e) => {
                write!(f, "cannot list interfaces: {}", escape_name(&e.to_string()))
            }
            RunError::Capture(e) => e.fmt(f),
            RunError::Privilege(e) => {
                write!(f, "cannot drop privileges, not going on as root: {e}")
            }
            RunError::Sandbox(e) => write!(f, "{e} (--no-sandbox runs without it)"),
            RunError::Thread { error, .. } => {
                write!(f, "cannot start a thread: {}", io_message(error))
            }
            RunError::Panicked { thread, message } => write!(
                f,
                "internal error: the {thread} thread panicked ({message}); the report is incomplete"
            ),
            RunError::Output(e) => write!(f, "cannot write to standard output: {}", io_message(e)),
            RunError::StdoutClosed => f.write_str("cannot write to standard output: it is closed"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Usage(e) => Some(e),
            RunError::Signals(e) | RunError::Output(e) | RunError::Thread { error: e, .. } => {
                Some(e)
            }
            RunError::ListInterfaces(e) => Some(e),
            RunError::Capture(e) => Some(e),
            RunError::Privilege(e) => Some(e),
            RunError::Sandbox(e) => Some(e),
            RunError::Panicked { .. } | RunError::StdoutClosed => None,
        }
    }
}

impl From<CaptureError> for RunError {
    fn from(e: CaptureError) -> Self {
        RunError::Capture(e)
    }
}

impl From<UsageError> for RunError {
    fn from(e: UsageError) -> Self {
        RunError::Usage(e)
    }
}

/// How the process ends: the lines to print on stderr (each one line, printed after
/// `ndbsniff: `), then the exit status.
#[derive(Debug, PartialEq, Eq)]
pub struct Exit {
    /// One line each.
    pub messages: Vec<String>,
    /// The exit status.
    pub code: u8,
}

impl Exit {
    /// A clean end: nothing printed, status 0.
    pub fn ok() -> Exit {
        Exit {
            messages: Vec::new(),
            code: EXIT_OK,
        }
    }

    /// A command line clap refused (it prints its own message), or `--help` / `--version`
    /// (`use_stderr` false).
    pub fn usage(use_stderr: bool) -> Exit {
        Exit {
            messages: Vec::new(),
            code: if use_stderr { EXIT_FAILED } else { EXIT_OK },
        }
    }

    /// The end of a run that stopped with `e`.
    pub fn error(e: &RunError) -> Exit {
        match e {
            RunError::Output(io) if io.kind() == io::ErrorKind::BrokenPipe => Exit::ok(),
            _ => Exit {
                messages: vec![e.to_string()],
                code: e.exit_code(),
            },
        }
    }

    /// The end of a run: damage first (what was read is reported; status 1, or 2 when nothing
    /// was read), then the `-w` file, which decides (status 3).
    pub fn of(result: &Result<Outcome, RunError>) -> Exit {
        let outcome = match result {
            Ok(o) => o,
            Err(e) => return Exit::error(e),
        };
        let mut exit = Exit::ok();
        if let Some(e) = &outcome.error {
            exit.messages.push(e.to_string());
            exit.code = if outcome.summary.packets_read == 0 {
                EXIT_FAILED
            } else {
                EXIT_DAMAGED
            };
        }
        if let Some(e) = &outcome.write_error {
            exit.messages.push(e.to_string());
            exit.code = EXIT_OUTPUT;
        }
        exit
    }
}

/// Makes a panic on any thread but `main` print nothing by itself: the run reports it as one
/// `internal error` line ([`RunError::Panicked`]) and exits with [`EXIT_FAILED`]. With
/// `RUST_BACKTRACE` set, panics are printed as usual (with the backtrace) as well.
pub fn quiet_thread_panics() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndbsniff_core::report::Summary;

    fn io(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn a_panicked_thread_is_one_internal_error_line_and_status_2() {
        let payload = std::thread::Builder::new()
            .name("capture".into())
            .spawn(|| -> () { std::panic::panic_any(String::from("boom\nsecond line")) })
            .expect("spawn")
            .join()
            .expect_err("the thread panicked");
        let e = RunError::panicked("capture", &*payload);
        let exit = Exit::of(&Err(e));
        assert_eq!(exit.code, EXIT_FAILED);
        assert_eq!(
            exit.messages,
            vec![
                "internal error: the capture thread panicked (boom\\nsecond line); the report is incomplete"
                    .to_string()
            ]
        );
        let e = RunError::panicked("flow-1", &42u32);
        assert!(e
            .to_string()
            .contains("the flow-1 thread panicked (no message)"));
    }

    #[test]
    fn output_failures_are_status_3_and_a_gone_reader_is_quiet() {
        let exit = Exit::error(&RunError::Output(io(libc::ENOSPC)));
        assert_eq!(exit.code, EXIT_OUTPUT);
        assert_eq!(
            exit.messages,
            vec!["cannot write to standard output: no space left on device".to_string()]
        );
        assert_eq!(Exit::error(&RunError::Output(io(libc::EPIPE))), Exit::ok());
        let w = CaptureError::new("w.pcap", CaptureErrorKind::Write(io(libc::ENOSPC)));
        assert_eq!(RunError::Capture(w).exit_code(), EXIT_OUTPUT);
        assert_eq!(RunError::StdoutClosed.exit_code(), EXIT_OUTPUT);
        let missing = CaptureError::new("x.pcap", CaptureErrorKind::Open(io(libc::ENOENT)));
        assert_eq!(RunError::Capture(missing).exit_code(), EXIT_FAILED);
    }

    #[test]
    fn damage_is_status_1_after_packets_and_the_w_file_decides() {
        let damaged = || {
            CaptureError::new(
                "x.pcap",
                CaptureErrorKind::Damaged {
                    record: 2,
                    offset: None,
                    damage: crate::capture::Damage::Libpcap("cut".into()),
                },
            )
        };
        let outcome = |packets_read, write_error| Outcome {
            summary: Summary {
                packets_read,
                ..Summary::default()
            },
            error: Some(damaged()),
            write_error,
            operator_summary: None,
            off_port_hint: None,
        };
        let exit = Exit::of(&Ok(outcome(1, None)));
        assert_eq!(exit.code, EXIT_DAMAGED);
        assert_eq!(
            exit.messages,
            vec!["x.pcap: damaged capture at record 2: cut".to_string()]
        );
        assert_eq!(Exit::of(&Ok(outcome(0, None))).code, EXIT_FAILED);
        let w = CaptureError::new("w.pcap", CaptureErrorKind::Write(io(libc::ENOSPC)));
        let exit = Exit::of(&Ok(outcome(1, Some(w))));
        assert_eq!(exit.code, EXIT_OUTPUT);
        assert_eq!(exit.messages.len(), 2);
    }
}
