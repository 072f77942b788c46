//! Why a run could not start or had to stop, and the exit status each cause gets.

use crate::capture::{self, CaptureError};
use crate::{privilege, sandbox};

/// Why a run could not start (nothing was read) or had to stop.
#[derive(Debug)]
pub enum RunError {
    /// The input could not be opened or read at all.
    Capture(CaptureError),
    /// The `-w` file could not be created (nothing was read).
    Write(CaptureError),
    Privilege(privilege::PrivilegeError),
    Sandbox(sandbox::SandboxError),
    /// A thread could not be started (nothing was read).
    Thread(std::io::Error),
    /// Writing the report failed (not a broken pipe: a reader that went away ends the run
    /// quietly, with the outcome of what was read).
    Output(std::io::Error),
}

impl RunError {
    /// The exit status agreed for it: 3 when output could not be written, else 2 (nothing
    /// could be read).
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Output(_) | RunError::Write(_) => 3,
            RunError::Capture(_)
            | RunError::Privilege(_)
            | RunError::Sandbox(_)
            | RunError::Thread(_) => 2,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Capture(e) | RunError::Write(e) => e.fmt(f),
            RunError::Privilege(e) => {
                write!(f, "cannot drop privileges, not going on as root: {e}")
            }
            RunError::Sandbox(e) => write!(f, "{e} (--no-sandbox runs without it)"),
            RunError::Thread(e) => write!(f, "cannot start a thread: {}", capture::io_message(e)),
            RunError::Output(e) => write!(
                f,
                "cannot write to standard output: {}",
                capture::io_message(e)
            ),
        }
    }
}

impl From<CaptureError> for RunError {
    fn from(e: CaptureError) -> Self {
        RunError::Capture(e)
    }
}
