//! systemd socket activation (`sd_listen_fds(3)`): systemd binds the sockets of a `.socket` unit
//! and starts the service with them open from descriptor 3 on, saying so in `LISTEN_FDS`, for
//! the process `LISTEN_PID`, named in `LISTEN_FDNAMES`. Those sockets are served instead of the
//! configured addresses, as Gunicorn does; the port is systemd's and stays open across restarts
//! of the service. Written here rather than taken from a crate: it is three variables and a
//! descriptor range, and the descriptors are checked the way `fd://` ones are.

use std::os::fd::RawFd;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// The sockets systemd passed to this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Activated {
    pub(crate) fds: Vec<RawFd>,
    /// `LISTEN_FDNAMES`, one per descriptor when given (`FileDescriptorName=`).
    pub(crate) names: Vec<String>,
}

/// The descriptors systemd passed to this process, if any; the variables are removed, as
/// `sd_listen_fds(1)` does, so nothing this process starts takes them for its own (a worker is
/// a fork and would match `LISTEN_PID`). Variables meant for another process (a parent that
/// did not clear them) are left alone and ignored.
pub(crate) fn take() -> Result<Option<Activated>, String> {
    let vars = |name| std::env::var(name).ok();
    let activated = parse(
        vars("LISTEN_PID").as_deref(),
        vars("LISTEN_FDS").as_deref(),
        vars("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )?;
    if activated.is_some() {
        // The master calls this before any hook or thread of its own exists.
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            std::env::remove_var(name);
        }
    }
    Ok(activated)
}

fn parse(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<Option<Activated>, String> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(me) {
        return Ok(None);
    }
    let count: RawFd = fds
        .trim()
        .parse()
        .ok()
        .filter(|&n| n >= 0)
        .ok_or_else(|| format!("LISTEN_FDS={fds:?} is not a count of descriptors"))?;
    Ok(Some(Activated {
        fds: (FIRST_FD..FIRST_FD + count).collect(),
        names: names
            .map(|n| n.split(':').map(str::to_string).collect())
            .unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_descriptors_meant_for_this_process_are_taken() {
        assert_eq!(parse(None, Some("2"), None, 7), Ok(None));
        assert_eq!(
            parse(Some("8"), Some("2"), None, 7),
            Ok(None),
            "another pid"
        );
        assert_eq!(
            parse(Some("7"), Some("2"), Some("web:admin"), 7),
            Ok(Some(Activated {
                fds: vec![3, 4],
                names: vec!["web".into(), "admin".into()],
            }))
        );
        assert_eq!(
            parse(Some("7"), Some("1"), None, 7),
            Ok(Some(Activated {
                fds: vec![3],
                names: vec![],
            }))
        );
        assert!(parse(Some("7"), Some("two"), None, 7).is_err());
    }
}
