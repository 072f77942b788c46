//! Giving up privileges once the live capture (and any output file) is open.
//!
//! Owns: choosing the account to run as and switching to it for good: supplementary groups
//! cleared, group then user id changed (real, effective and saved), every capability dropped, and
//! no-new-privileges set, so nothing later in the process can regain root.
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

#[derive(Debug)]
pub struct PrivilegeError(pub String);

impl fmt::Display for PrivilegeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrivilegeError {}

fn lookup_user(name: &str) -> Result<(u32, u32), PrivilegeError> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), u.gid.as_raw())),
        Ok(None) => Err(PrivilegeError(format!("no such user {name:?}"))),
        Err(e) => Err(PrivilegeError(format!("cannot look up user {name:?}: {e}"))),
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
        let uid: u32 = u
            .trim()
            .parse()
            .map_err(|_| PrivilegeError(format!("SUDO_UID is not a number: {u:?}")))?;
        let gid: u32 = match sudo_gid {
            Some(g) => g
                .trim()
                .parse()
                .map_err(|_| PrivilegeError(format!("SUDO_GID is not a number: {g:?}")))?,
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

fn os_err(what: &str) -> PrivilegeError {
    PrivilegeError(format!(
        "{what} failed: {}",
        std::io::Error::last_os_error()
    ))
}

/// Drops every capability from the permitted, effective and inheritable sets, and from the
/// bounding set where allowed.
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

/// Switches to `target` for good (when running as root), drops all capabilities and sets
/// no-new-privileges. Returns the uid now in effect.
pub fn drop_to(target: Option<&Target>) -> Result<u32, PrivilegeError> {
    // SAFETY: these libc calls take plain integers (or a null/length pair) and only change the
    // credentials of this process; their return codes are checked.
    unsafe {
        if libc::geteuid() == 0 {
            let t = target.ok_or_else(|| {
                PrivilegeError("running as root with no account to switch to".into())
            })?;
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
                return Err(PrivilegeError("still root after switching user".into()));
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
    }
}
