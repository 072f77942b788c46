//! The progress line of a long replay: on standard error, only when it is a terminal, redrawn a
//! few times a second by the main thread from the capture thread's counters (indicatif).
//!
//! Owns: what the line says (bytes and packets read, rate, flows reported, and an ETA when the
//! file's size is known) and when it is shown. Never writes to standard output, and is cleared
//! before the summary or any other line goes to standard error.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bytes of a classic pcap record header: the progress position counts them with each frame.
const RECORD_HEADER: u64 = 16;

/// The progress line of one run.
pub struct Progress {
    bar: ProgressBar,
    /// The file's size, when known (a plain file, not a stream or a compressed one).
    total: Option<u64>,
}

impl Progress {
    /// A progress line for reading `path`, or `None` when none is to be shown: standard error
    /// is not a terminal, or the input is not a file.
    pub fn for_file(path: &Path) -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        Progress::of_size(crate::capture::plain_file_size(path))
    }

    /// A progress line for several files read as one: bytes and packets, no share or ETA.
    pub fn for_files() -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        Progress::of_size(None)
    }

    fn of_size(total: Option<u64>) -> Option<Progress> {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(4));
        let template = if total.is_some() {
            "{bytes}/{total_bytes} ({percent}%) read, {binary_bytes_per_sec}, {msg}, ETA {eta}"
        } else {
            "{bytes} read, {binary_bytes_per_sec}, {msg}"
        };
        let style = ProgressStyle::with_template(template).ok()?;
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(250));
        Some(Progress { bar, total })
    }

    /// Shows what has been read: `bytes` of frames in `packets` records, and `flows` reported.
    /// The position is the frames plus their record headers, an estimate of the offset in the
    /// file (pcapng blocks are a little larger), kept below the size until the end.
    pub fn update(&self, packets: u64, bytes: u64, flows: u64) {
        let at = bytes.saturating_add(packets.saturating_mul(RECORD_HEADER));
        let at = match self.total {
            Some(total) => at.min(total.saturating_sub(1)),
            None => at,
        };
        self.bar.set_position(at);
        self.bar
            .set_message(format!("{packets} packets, {flows} flows reported"));
    }

    /// Runs `f` (which writes a line to standard error) with the progress line out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Removes the line (before the summary).
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
