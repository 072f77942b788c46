//! Giving up privileges once the capture (file or interface) and any output file are open.
//!
//! Owns: choosing the account to run as and switching to it for good: supplementary groups
//! cleared, the capability bounding set emptied (while still privileged, which that needs), group
//! then user id changed (real, effective and saved), every capability dropped, and
//! no-new-privileges set, so nothing later in the process can regain root. Without root there is
//! no account to switch to; capabilities are still dropped (the bounding set only where the
//! process may change it) and no-new-privileges set.
//!
//! Never: continues as root when the switch fails; it returns an error and the run stops.

use std::fmt;

/// Who to become after the capture is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub uid: u32,
    pub gid: u32,
    /// How the account was chosen, for messages: `SUDO_UID`, `--user NAME`, `nobody`.
    pub why: String,
}

/// Why the account to switch to could not be chosen, or the switch failed.
#[derive(Debug)]
pub enum PrivilegeError {
    /// The account named (`--user`, or `nobody`) does not exist.
    NoSuchUser {
        /// The name looked up.
        name: String,
    },
    /// Looking the account up failed.
    Lookup {
        /// The name looked up.
        name: String,
        /// Why.
        error: nix::Error,
    },
    /// `SUDO_UID` or `SUDO_GID` is not a number.
    BadSudoId {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// The capability bounding set could not be emptied.
    BoundingSet {
        /// The capability refused.
        cap: i32,
        /// Why.
        error: std::io::Error,
    },
    /// A system call that switches or drops privileges failed.
    Os {
        /// What was being done, e.g. `switching to group 65534`.
        doing: String,
        /// Why.
        error: std::io::Error,
    },
    /// Running as root with no account chosen to switch to.
    NoAccount,
    /// The switch reported success, yet the process is still root.
    StillRoot,
}

impl fmt::Display for PrivilegeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivilegeError::NoSuchUser { name } => write!(f, "no such user {name:?}"),
            PrivilegeError::Lookup { name, error } => {
                write!(f, "cannot look up user {name:?}: {error}")
            }
            PrivilegeError::BadSudoId { var, value } => {
                write!(f, "{var} is not a number: {value:?}")
            }
            PrivilegeError::BoundingSet { cap, error } => write!(
                f,
                "clearing the capability bounding set failed at capability {cap}: {error}"
            ),
            PrivilegeError::Os { doing, error } => write!(f, "{doing} failed: {error}"),
            PrivilegeError::NoAccount => {
                f.write_str("running as root with no account to switch to")
            }
            PrivilegeError::StillRoot => f.write_str("still root after switching user"),
        }
    }
}

impl std::error::Error for PrivilegeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PrivilegeError::Lookup { error, .. } => Some(error),
            PrivilegeError::BoundingSet { error, .. } | PrivilegeError::Os { error, .. } => {
                Some(error)
            }
            _ => None,
        }
    }
}

fn lookup_user(name: &str) -> Result<(u32, u32), PrivilegeError> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), u.gid.as_raw())),
        Ok(None) => Err(PrivilegeError::NoSuchUser { name: name.into() }),
        Err(error) => Err(PrivilegeError::Lookup {
            name: name.into(),
            error,
        }),
    }
}

/// The account to switch to: `--user NAME` if given, else the invoking user when started through
/// sudo (`SUDO_UID`/`SUDO_GID`), else `nobody`.
pub fn choose(
    user: Option<&str>,
    sudo_uid: Option<&str>,
    sudo_gid: Option<&str>,
) -> Result<Target, PrivilegeError> {
    if let Some(name) = user {
        let (uid, gid) = lookup_user(name)?;
        return Ok(Target {
            uid,
            gid,
            why: format!("--user {name}"),
        });
    }
    if let Some(u) = sudo_uid {
        let uid: u32 = u.trim().parse().map_err(|_| PrivilegeError::BadSudoId {
            var: "SUDO_UID",
            value: u.into(),
        })?;
        let gid: u32 = match sudo_gid {
            Some(g) => g.trim().parse().map_err(|_| PrivilegeError::BadSudoId {
                var: "SUDO_GID",
                value: g.into(),
            })?,
            None => uid,
        };
        if uid != 0 {
            return Ok(Target {
                uid,
                gid,
                why: "SUDO_UID".into(),
            });
        }
    }
    let (uid, gid) = lookup_user("nobody")?;
    Ok(Target {
        uid,
        gid,
        why: "nobody".into(),
    })
}

fn os_err(doing: &str) -> PrivilegeError {
    PrivilegeError::Os {
        doing: doing.into(),
        error: std::io::Error::last_os_error(),
    }
}

/// Empties the capability bounding set, so no later `execve` could grant a capability back.
/// Needs CAP_SETPCAP: returns `Ok(false)` when the process lacks it (an unprivileged run), which
/// is harmless, since such a process has no capability to hand on.
fn clear_bounding_set() -> Result<bool, PrivilegeError> {
    // Capabilities are numbered from 0; the kernel answers EINVAL past its last one.
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments only changes this process's bounding set.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EINVAL) if cap > 0 => Ok(true),
                Some(libc::EPERM) => Ok(false),
                _ => Err(PrivilegeError::BoundingSet { cap, error: e }),
            };
        }
    }
    Ok(true)
}

/// Drops every capability from the permitted, effective and inheritable sets.
fn drop_capabilities() -> Result<(), PrivilegeError> {
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads a header and two data words laid out as the kernel's v3 ABI; both
    // live on this stack frame for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(os_err("dropping capabilities (capset)"));
    }
    Ok(())
}

/// Switches to `target` for good (when running as root), empties the bounding set where
/// permitted, drops all capabilities and sets no-new-privileges. Returns the uid now in effect.
pub fn drop_to(target: Option<&Target>) -> Result<u32, PrivilegeError> {
    // The bounding set can only be changed with CAP_SETPCAP, which the user switch below ends.
    clear_bounding_set()?;
    // SAFETY: these libc calls take plain integers (or a null/length pair) and only change the
    // credentials of this process; their return codes are checked.
    unsafe {
        if libc::geteuid() == 0 {
            let t = target.ok_or(PrivilegeError::NoAccount)?;
            if libc::setgroups(0, std::ptr::null()) != 0 {
                return Err(os_err("clearing supplementary groups"));
            }
            if libc::setresgid(t.gid, t.gid, t.gid) != 0 {
                return Err(os_err(&format!("switching to group {}", t.gid)));
            }
            if libc::setresuid(t.uid, t.uid, t.uid) != 0 {
                return Err(os_err(&format!("switching to user {} ({})", t.uid, t.why)));
            }
            if libc::geteuid() == 0 || libc::getuid() == 0 {
                return Err(PrivilegeError::StillRoot);
            }
        }
        drop_capabilities()?;
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(os_err("setting no-new-privileges"));
        }
        Ok(libc::geteuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_user_is_chosen() {
        let t = choose(None, Some("1000"), Some("1001")).unwrap();
        assert_eq!((t.uid, t.gid, t.why.as_str()), (1000, 1001, "SUDO_UID"));
    }

    #[test]
    fn explicit_user_wins_and_nobody_is_last() {
        let t = choose(Some("nobody"), Some("1000"), None).unwrap();
        assert_eq!(t.why, "--user nobody");
        let n = choose(None, None, None).unwrap();
        assert_eq!(n.why, "nobody");
        assert_ne!(n.uid, 0);
        assert_eq!(choose(None, Some("0"), None).unwrap().why, "nobody");
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(choose(Some("no-such-user-ndbsniff"), None, None).is_err());
        assert!(choose(None, Some("abc"), None).is_err());
        assert_eq!(
            choose(None, Some("abc"), None).map_err(|e| e.to_string()),
            Err("SUDO_UID is not a number: \"abc\"".to_string())
        );
        assert!(matches!(
            choose(Some("no-such-user-ndbsniff"), None, None),
            Err(PrivilegeError::NoSuchUser { name }) if name == "no-such-user-ndbsniff"
        ));
    }
}
