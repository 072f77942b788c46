//! Several capture threads on one interface (`--capture-threads`, Linux): AF_PACKET fanout.
//!
//! Owns: joining the live sockets libpcap opened on one interface (one per capture thread, each
//! with its own ring, BPF program and statistics) into one fanout group of the kernel's flow hash
//! (`PACKET_FANOUT_HASH`: a symmetric hash of addresses and ports, so both directions of a
//! connection reach the same socket; `PACKET_FANOUT_FLAG_DEFRAG`: IP fragments are put back
//! together before hashing, so a datagram's fragments do too), under a group id the kernel picks
//! (`PACKET_FANOUT_FLAG_UNIQUEID`, so no other process's group is joined by chance); and the
//! order that keeps a packet from being read twice: until it joins, every socket gets a copy of
//! all traffic, so each first gets a filter that passes nothing, then they join, then what their
//! rings hold is read and thrown away ([`discard_queued`]), and only then does each get the
//! run's filter.
//!
//! Never: shares a socket between threads, or lets a packet queued before the join reach a
//! router.

use std::io;
use std::time::{Duration, Instant};

/// A BPF expression that passes no frame (every frame is longer than one byte).
pub const NOTHING: &str = "less 1";

/// The largest number of capture threads (sockets in one group).
pub const MAX_THREADS: usize = 64;

// The kernel's ABI (linux/if_packet.h), spelled here so any libc crate version builds.
#[cfg(target_os = "linux")]
const PACKET_FANOUT: libc::c_int = 18;
#[cfg(target_os = "linux")]
const PACKET_FANOUT_HASH: u32 = 0;
#[cfg(target_os = "linux")]
const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
#[cfg(target_os = "linux")]
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;

/// Whether this build can capture with several threads (Linux only).
pub const SUPPORTED: bool = cfg!(target_os = "linux");

/// Joins the AF_PACKET sockets `fds` (all bound to one interface by libpcap) into one new
/// fanout group of the flow hash; returns the group's id.
#[cfg(target_os = "linux")]
pub fn join(fds: &[i32]) -> io::Result<u16> {
    let mode = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG;
    let Some((&first, rest)) = fds.split_first() else {
        return Ok(0);
    };
    // The first socket creates the group: id 0 and UNIQUEID ask the kernel for a free id.
    set_fanout(first, (mode | PACKET_FANOUT_FLAG_UNIQUEID) << 16)?;
    let mut arg: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into the u32 on the stack.
    let r = unsafe {
        libc::getsockopt(
            first,
            libc::SOL_PACKET,
            PACKET_FANOUT,
            (&mut arg as *mut u32).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // The answer is the id in the low 16 bits, then the mode and flags.
    let id = (arg & 0xffff) as u16;
    for &fd in rest {
        set_fanout(fd, u32::from(id) | (mode << 16))?;
    }
    Ok(id)
}

/// Non-Linux builds have no fanout; the command line refuses `--capture-threads` above 1 there.
#[cfg(not(target_os = "linux"))]
pub fn join(_fds: &[i32]) -> io::Result<u16> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(target_os = "linux")]
fn set_fanout(fd: i32, arg: u32) -> io::Result<()> {
    // SAFETY: setsockopt reads the u32 on the stack, of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            PACKET_FANOUT,
            (&arg as *const u32).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads and throws away what the rings hold, for `wait` (longer than the kernel's block
/// timeout, so a block it was still filling before the filter that passes nothing has been
/// handed over too). `read_all` reads one ring until it is empty and says how many it read.
pub fn discard_queued(wait: Duration, mut read_all: impl FnMut() -> u64) -> u64 {
    let until = Instant::now() + wait;
    let mut thrown = 0;
    loop {
        thrown += read_all();
        if Instant::now() >= until {
            return thrown;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
