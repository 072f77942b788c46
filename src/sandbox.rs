//! The system-call filter installed for the rest of the run once the capture and any output file
//! are open and privileges are given up (Linux, x86_64 and aarch64; elsewhere nothing is
//! installed and [`install`] says so).
//!
//! Owns: the allow-list of what reading packets, classifying them and writing the report needs:
//! reading and writing descriptors that are already open, memory (never executable), threads,
//! futexes, clocks, signals and exit; for a live capture also polling and reading the capture
//! socket and its statistics (and, in promiscuous mode, opening files read-only: libpcap re-reads
//! the interface's drop counters from /sys for every statistics call). Three filters are
//! installed on every thread of the process (TSYNC), each a seccomp-BPF program built with
//! `seccompiler`:
//!
//! 1. the allow-list: anything not on it fails with `EPERM`. A call the code did not expect then
//!    becomes an error it already handles (one line naming what failed) instead of a dead sensor;
//!    no unlisted call can open a file, create a socket or change credentials either way;
//! 2. `clone3` fails with `ENOSYS`, so the C library falls back to `clone`, whose flags a filter
//!    can see: only new threads (`CLONE_THREAD`) may be created, never processes;
//! 3. `execve`, `execveat`, `ptrace`, `process_vm_readv`/`writev` and the socket calls kill the
//!    process (SIGSYS): nothing in ndbsniff makes them, so only hijacked code would, and a dead
//!    process leaves a trace where a refused call would not.
//!
//! Never: allows opening a file for writing, mapping memory executable, writing or sending to a
//! live capture's socket (which would inject frames), or a descriptor-duplicating `fcntl`.

use std::fmt;

/// What the rest of the run needs beyond the common list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The live capture's sockets (one per capture thread): polled, read and asked for
    /// statistics, never written to.
    pub live_fds: Vec<i32>,
    /// Open files read-only (libpcap's interface drop counters in promiscuous mode).
    pub open_read_only: bool,
}

/// What was being done when the system-call filter failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxStep {
    /// Building the rules.
    Build,
    /// Compiling them to BPF.
    Compile,
    /// Installing the programs on every thread.
    Install,
}

impl fmt::Display for SandboxStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SandboxStep::Build => "building the system-call filter",
            SandboxStep::Compile => "compiling the system-call filter",
            SandboxStep::Install => "installing the system-call filter",
        })
    }
}

/// Why the system-call filter could not be installed.
#[derive(Debug)]
pub struct SandboxError {
    /// What was being done.
    pub step: SandboxStep,
    /// Why it failed (seccompiler's error).
    pub error: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.error)
    }
}

impl std::error::Error for SandboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// How installing went.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// Every filter is in force on every thread.
    Yes,
    /// This platform has no filter (not Linux on x86_64 or aarch64); the reason, for a warning.
    Unsupported(&'static str),
}

/// Builds and installs the filters on every thread of the process. After it returns `Ok`, the
/// process can no longer open files (except read-only, when `needs` asks), create processes or
/// sockets, or execute anything new.
pub fn install(needs: Needs) -> Result<Installed, SandboxError> {
    imp::install(needs)
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::collections::BTreeMap;

    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use super::{Installed, Needs, SandboxError, SandboxStep};

    #[cfg(target_arch = "x86_64")]
    const ARCH: TargetArch = TargetArch::x86_64;
    #[cfg(target_arch = "aarch64")]
    const ARCH: TargetArch = TargetArch::aarch64;

    fn err(step: SandboxStep, e: impl std::error::Error + Send + Sync + 'static) -> SandboxError {
        SandboxError {
            step,
            error: Box::new(e),
        }
    }

    /// One condition on the low 32 bits of argument `arg`: every argument checked here is an
    /// `int` or `unsigned int` to the kernel (descriptors, commands, flags), whose upper half
    /// the kernel ignores and the caller need not clear.
    fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SandboxError> {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
            .map_err(|e| err(SandboxStep::Build, e))
    }

    fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, SandboxError> {
        SeccompRule::new(conds).map_err(|e| err(SandboxStep::Build, e))
    }

    /// Rules allowing a call only when argument `arg` equals one of `values`.
    fn one_of(arg: u8, values: &[u64]) -> Result<Vec<SeccompRule>, SandboxError> {
        values
            .iter()
            .map(|&v| rule(vec![cond(arg, SeccompCmpOp::Eq, v)?]))
            .collect()
    }

    /// Rules allowing a call only when the bits of `mask` in argument `arg` are `bits`.
    fn masked(arg: u8, mask: u64, bits: u64) -> Result<Vec<SeccompRule>, SandboxError> {
        Ok(vec![rule(vec![cond(
            arg,
            SeccompCmpOp::MaskedEq(mask),
            bits,
        )?])?])
    }

    /// Rules allowing a call on any descriptor but `fd` (argument 0).
    /// Argument 0 is none of `fds` (any descriptor when there are none).
    fn not_fd(fds: &[i32]) -> Result<Vec<SeccompRule>, SandboxError> {
        if fds.is_empty() {
            return Ok(Vec::new());
        }
        let conds = fds
            .iter()
            .map(|&fd| cond(0, SeccompCmpOp::Ne, fd as u64))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(vec![rule(conds)?])
    }

    /// The allow-list: every call the run makes from here on, with argument checks where an
    /// argument separates what the run does from what an attacker would want.
    pub(super) fn allowed(needs: Needs) -> Result<BTreeMap<i64, Vec<SeccompRule>>, SandboxError> {
        let mut m: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        let any = Vec::new;
        // Descriptors already open: the input, the -w file, stdout and stderr, the capture.
        for nr in [
            libc::SYS_read,
            libc::SYS_readv,
            libc::SYS_pread64,
            libc::SYS_preadv,
            libc::SYS_lseek,
            libc::SYS_close,
            libc::SYS_fstat,
            libc::SYS_fsync,
            libc::SYS_fdatasync,
        ] {
            m.insert(nr, any());
        }
        for nr in [
            libc::SYS_write,
            libc::SYS_writev,
            libc::SYS_pwrite64,
            libc::SYS_pwritev,
        ] {
            m.insert(nr, not_fd(&needs.live_fds)?);
        }
        // fstat on a descriptor is fstatat/statx with AT_EMPTY_PATH.
        let empty_path = libc::AT_EMPTY_PATH as u64;
        m.insert(libc::SYS_newfstatat, masked(3, empty_path, empty_path)?);
        m.insert(libc::SYS_statx, masked(2, empty_path, empty_path)?);
        let fcntl = [libc::F_GETFD, libc::F_SETFD, libc::F_GETFL, libc::F_SETFL];
        m.insert(libc::SYS_fcntl, one_of(1, &fcntl.map(|c| c as u64))?);
        // Request numbers are `c_ulong` with glibc but `c_int` with other C libraries.
        #[allow(clippy::unnecessary_cast)]
        // TIOCGWINSZ: the progress line asks the terminal's width.
        let mut ioctls = vec![
            libc::TCGETS as u64,
            libc::FIONREAD as u64,
            libc::TIOCGWINSZ as u64,
        ];
        if !needs.live_fds.is_empty() {
            #[allow(clippy::unnecessary_cast)]
            ioctls.push(libc::SIOCGIFFLAGS as u64);
        }
        m.insert(libc::SYS_ioctl, one_of(1, &ioctls)?);
        // Memory, never executable (jemalloc, thread stacks, the file blocks).
        let exec = libc::PROT_EXEC as u64;
        m.insert(libc::SYS_mmap, masked(2, exec, 0)?);
        m.insert(libc::SYS_mprotect, masked(2, exec, 0)?);
        for nr in [
            libc::SYS_brk,
            libc::SYS_munmap,
            libc::SYS_mremap,
            libc::SYS_madvise,
        ] {
            m.insert(nr, any());
        }
        // Threads: only threads, never processes (see the clone3 filter).
        let thread = libc::CLONE_THREAD as u64;
        m.insert(libc::SYS_clone, masked(0, thread, thread)?);
        for nr in [
            libc::SYS_clone3,
            libc::SYS_futex,
            libc::SYS_set_robust_list,
            libc::SYS_rseq,
            libc::SYS_sched_yield,
            libc::SYS_sched_getaffinity,
            libc::SYS_nanosleep,
            libc::SYS_clock_nanosleep,
            libc::SYS_clock_gettime,
            libc::SYS_clock_getres,
            libc::SYS_gettimeofday,
            libc::SYS_getrandom,
            libc::SYS_getpid,
            libc::SYS_gettid,
            libc::SYS_getuid,
            libc::SYS_geteuid,
            libc::SYS_getgid,
            libc::SYS_getegid,
            libc::SYS_exit,
            libc::SYS_exit_group,
            libc::SYS_restart_syscall,
            libc::SYS_rt_sigreturn,
            libc::SYS_rt_sigprocmask,
            libc::SYS_rt_sigaction,
            libc::SYS_sigaltstack,
        ] {
            m.insert(nr, any());
        }
        // Thread names, and signals to this process only (abort).
        m.insert(
            libc::SYS_prctl,
            one_of(0, &[libc::PR_SET_NAME as u64, libc::PR_GET_NAME as u64])?,
        );
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u64;
        m.insert(libc::SYS_tgkill, one_of(0, &[pid])?);
        if !needs.live_fds.is_empty() {
            let fds = &needs.live_fds;
            // One rule per socket: any of them.
            let on_capture = || -> Result<Vec<SeccompRule>, SandboxError> {
                fds.iter()
                    .map(|&fd| rule(vec![cond(0, SeccompCmpOp::Eq, fd as u64)?]))
                    .collect()
            };
            let sol_packet = || -> Result<Vec<SeccompRule>, SandboxError> {
                fds.iter()
                    .map(|&fd| {
                        rule(vec![
                            cond(0, SeccompCmpOp::Eq, fd as u64)?,
                            cond(1, SeccompCmpOp::Eq, libc::SOL_PACKET as u64)?,
                        ])
                    })
                    .collect()
            };
            m.insert(libc::SYS_ppoll, any());
            #[cfg(target_arch = "x86_64")]
            m.insert(libc::SYS_poll, any());
            m.insert(libc::SYS_recvfrom, on_capture()?);
            m.insert(libc::SYS_getsockopt, sol_packet()?);
            m.insert(libc::SYS_setsockopt, sol_packet()?);
        }
        if needs.open_read_only {
            // O_ACCMODE bits zero is O_RDONLY; nothing may be created or truncated either.
            let mask = (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | libc::O_TMPFILE) as u64;
            m.insert(libc::SYS_openat, masked(2, mask, 0)?);
        }
        Ok(m)
    }

    /// What no part of ndbsniff calls once running: only hijacked code would.
    fn fatal() -> BTreeMap<i64, Vec<SeccompRule>> {
        [
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_ptrace,
            libc::SYS_process_vm_readv,
            libc::SYS_process_vm_writev,
            libc::SYS_socket,
            libc::SYS_socketpair,
            libc::SYS_connect,
            libc::SYS_bind,
            libc::SYS_listen,
            libc::SYS_accept,
            libc::SYS_accept4,
            libc::SYS_sendto,
            libc::SYS_sendmsg,
            libc::SYS_sendmmsg,
        ]
        .into_iter()
        .map(|nr| (nr, Vec::new()))
        .collect()
    }

    fn program(
        rules: BTreeMap<i64, Vec<SeccompRule>>,
        otherwise: SeccompAction,
        on_match: SeccompAction,
    ) -> Result<BpfProgram, SandboxError> {
        let filter = SeccompFilter::new(rules, otherwise, on_match, ARCH)
            .map_err(|e| err(SandboxStep::Build, e))?;
        BpfProgram::try_from(filter).map_err(|e| err(SandboxStep::Compile, e))
    }

    /// The three programs, in the order they are installed. The allow-list comes last: it
    /// refuses the prctl and seccomp calls that installing another filter makes. The order
    /// changes no verdict: the kernel runs every filter and takes the strictest answer.
    pub(super) fn programs(needs: Needs) -> Result<Vec<BpfProgram>, SandboxError> {
        let clone3 = [(libc::SYS_clone3, Vec::new())].into_iter().collect();
        Ok(vec![
            program(fatal(), SeccompAction::Allow, SeccompAction::KillProcess)?,
            program(
                clone3,
                SeccompAction::Allow,
                SeccompAction::Errno(libc::ENOSYS as u32),
            )?,
            program(
                allowed(needs)?,
                SeccompAction::Errno(libc::EPERM as u32),
                SeccompAction::Allow,
            )?,
        ])
    }

    /// Installs compiled programs on every thread (no allocation: safe after `fork`).
    pub(super) fn apply(programs: &[BpfProgram]) -> Result<(), SandboxError> {
        for p in programs {
            seccompiler::apply_filter_all_threads(p).map_err(|e| err(SandboxStep::Install, e))?;
        }
        Ok(())
    }

    pub(super) fn install(needs: Needs) -> Result<Installed, SandboxError> {
        apply(&programs(needs)?)?;
        Ok(Installed::Yes)
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod imp {
    use super::{Installed, Needs, SandboxError};

    pub(super) fn install(_: Needs) -> Result<Installed, SandboxError> {
        Ok(Installed::Unsupported(
            "no system-call filter on this platform (Linux on x86_64 or aarch64 only)",
        ))
    }
}

#[cfg(all(
    test,
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod tests {
    use super::*;

    /// Runs `body` in a forked child with the filters installed; returns how the child ended
    /// (exit code, or the signal that killed it).
    fn in_sandboxed_child(needs: Needs, body: fn() -> i32) -> (Option<i32>, Option<i32>) {
        let programs = imp::programs(needs).expect("filters compile");
        // SAFETY: the child only makes raw system calls (no allocation, no locks) before it
        // exits, which is what is allowed after fork in a multi-threaded process.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = match imp::apply(&programs) {
                Ok(()) => body(),
                Err(_) => 100,
            };
            // SAFETY: ends the child at once, without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above; status is a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid);
        if libc::WIFEXITED(status) {
            (Some(libc::WEXITSTATUS(status)), None)
        } else {
            (
                None,
                libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            )
        }
    }

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    /// Each refused call gives its own exit code, so a failure says which check broke.
    fn refused_calls() -> i32 {
        // SAFETY: plain system calls on constant arguments; a refused call changes nothing.
        unsafe {
            let path = c"/proc/self/status".as_ptr();
            if libc::open(path, libc::O_RDONLY) != -1 || errno() != libc::EPERM {
                return 1;
            }
            let p = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p != libc::MAP_FAILED || errno() != libc::EPERM {
                return 2;
            }
            if libc::syscall(libc::SYS_clone3, 0usize, 0usize) != -1 || errno() != libc::ENOSYS {
                return 3;
            }
            // A new process (no CLONE_THREAD) is refused.
            if libc::syscall(libc::SYS_clone, libc::SIGCHLD as usize, 0usize) != -1
                || errno() != libc::EPERM
            {
                return 4;
            }
            if libc::fcntl(1, libc::F_DUPFD, 10) != -1 || errno() != libc::EPERM {
                return 5;
            }
            // What the run does keep working.
            let mut buf = [0u8; 1];
            if libc::write(2, buf.as_ptr().cast(), 0) != 0 || libc::getpid() <= 0 {
                return 6;
            }
            let anon = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if anon == libc::MAP_FAILED || libc::munmap(anon, 4096) != 0 {
                return 7;
            }
            buf[0] = 1;
            if buf[0] != 1 {
                return 8;
            }
            0
        }
    }

    #[test]
    fn unlisted_calls_are_refused_and_listed_ones_work() {
        assert_eq!(
            in_sandboxed_child(Needs::default(), refused_calls),
            (Some(0), None)
        );
    }

    #[test]
    fn exec_kills_the_process() {
        fn exec() -> i32 {
            let argv = [c"/bin/true".as_ptr(), std::ptr::null()];
            // SAFETY: a null-terminated argv of static strings; under the filter the call
            // never returns (the process is killed).
            unsafe { libc::execv(argv[0], argv.as_ptr()) };
            99
        }
        assert_eq!(
            in_sandboxed_child(Needs::default(), exec),
            (None, Some(libc::SIGSYS))
        );
    }

    #[test]
    fn live_capture_sockets_can_be_read_but_not_written() {
        fn check() -> i32 {
            // SAFETY: plain system calls on constant arguments; descriptor 3 is whatever the
            // test harness has open there (or nothing): only the filter's answer is looked at.
            unsafe {
                let b = [0u8; 1];
                // Both capture sockets (of two capture threads) are refused.
                for fd in [77, 79] {
                    if libc::write(fd, b.as_ptr().cast(), 1) != -1 || errno() != libc::EPERM {
                        return 1;
                    }
                }
                // Either may be read; another descriptor may not be received from.
                let mut r = [0u8; 1];
                let mut recv = |fd| {
                    libc::recvfrom(
                        fd,
                        r.as_mut_ptr().cast(),
                        1,
                        0,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                };
                for fd in [77, 79] {
                    if recv(fd) != -1 || errno() != libc::EBADF {
                        return 5;
                    }
                }
                if recv(78) != -1 || errno() != libc::EPERM {
                    return 6;
                }
                // Allowed through the filter: the kernel answers for a descriptor not open.
                if libc::write(78, b.as_ptr().cast(), 1) != -1 || errno() != libc::EBADF {
                    return 2;
                }
                // Opening read-only is allowed (promiscuous live capture), for writing not.
                let path = c"/proc/self/status".as_ptr();
                let fd = libc::open(path, libc::O_RDONLY);
                if fd < 0 {
                    return 3;
                }
                libc::close(fd);
                if libc::open(path, libc::O_WRONLY) != -1 || errno() != libc::EPERM {
                    return 4;
                }
                0
            }
        }
        let needs = Needs {
            live_fds: vec![77, 79],
            open_read_only: true,
        };
        assert_eq!(in_sandboxed_child(needs, check), (Some(0), None));
    }
}
