//! Temporary names for outputs, and the stale temporaries an interrupted run
//! (SIGKILL, power loss) left behind.
//!
//! A temporary is `.NAME.mmkit-PID-N.tmp` beside its destination: NAME is
//! the destination's name cut to 200 bytes (so the whole stays within the
//! 255-byte limit of a directory entry), PID our process id, N a counter of
//! this process. The first time a process writes into a directory it removes
//! the temporaries there whose process is gone — or whose PID now belongs to
//! a process started after the file was last written (the PID was reused).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

/// Longest part of the destination's name kept in a temporary's name.
const NAME_KEEP: usize = 200;
const MARK: &[u8] = b".mmkit-";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh temporary name for the destination `name`.
pub(crate) fn name_for(name: &OsStr) -> OsString {
    let b = name.as_bytes();
    let keep = &b[..b.len().min(NAME_KEEP)];
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut v = Vec::with_capacity(keep.len() + 40);
    v.push(b'.');
    v.extend_from_slice(keep);
    v.extend_from_slice(MARK);
    v.extend_from_slice(format!("{}-{n}.tmp", std::process::id()).as_bytes());
    OsString::from_vec(v)
}

/// The PID in a temporary's name (`.NAME.mmkit-PID[-N].tmp`), if it is one.
fn pid_of(name: &[u8]) -> Option<u32> {
    let body = name.strip_prefix(b".")?.strip_suffix(b".tmp")?;
    let at = body.windows(MARK.len()).rposition(|w| w == MARK)?;
    let tail = &body[at + MARK.len()..];
    let pid = tail.split(|&c| c == b'-').next()?;
    if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(pid).ok()?.parse().ok()
}

/// When process `pid` started (None: unknown or not running).
fn start_time(pid: u32) -> Option<SystemTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is
    // field 3, starttime field 22 (clock ticks after boot).
    let rest = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v > 0)?;
    let btime: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let ms = ticks.checked_mul(1000)? / hz;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(btime) + Duration::from_millis(ms))
}

/// Is the temporary `path`, named with `pid`, left over by a process that
/// can no longer finish it?
fn is_stale(path: &Path, pid: u32) -> bool {
    if pid == std::process::id() {
        // Not one of ours (we scan before creating any): an earlier process
        // had our PID.
        return true;
    }
    let Ok(raw) = i32::try_from(pid) else {
        return true;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Err(nix::errno::Errno::ESRCH) => true,
        _ => {
            // Alive (or not ours to signal): stale only if that process
            // started after the file was last written.
            let mtime = std::fs::symlink_metadata(path).and_then(|m| m.modified());
            match (start_time(pid), mtime) {
                (Some(start), Ok(m)) => start > m + Duration::from_secs(2),
                _ => false,
            }
        }
    }
}

/// Directories this process has already cleaned (a handful: searched in order).
static CLEANED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remove stale temporaries from `dir`, once per directory per process;
/// returns the names removed.
pub(crate) fn remove_stale(dir: &Path) -> Vec<OsString> {
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
    if cleaned.contains(&key) {
        return Vec::new();
    }
    cleaned.push(key);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = pid_of(name.as_bytes()) else {
            continue;
        };
        let path = e.path();
        if is_stale(&path, pid) && std::fs::remove_file(&path).is_ok() {
            removed.push(name);
        }
    }
    if !removed.is_empty() {
        let list: Vec<String> = removed
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        log::warn!(
            "removed {} stale temporary file(s) left in {} by an interrupted run: {}",
            removed.len(),
            dir.display(),
            list.join(", ")
        );
    }
    removed
}

/// If `path` is a temporary of a process that may still be writing it
/// (named `.NAME.mmkit-PID[-N].tmp` and not stale), that PID.
pub(crate) fn live_writer(path: &Path) -> Option<u32> {
    let pid = pid_of(path.file_name()?.as_bytes())?;
    (pid != std::process::id() && !is_stale(path, pid)).then_some(pid)
}

/// The destination name a temporary stands for (`.NAME.mmkit-PID[-N].tmp`
/// → `NAME`, cut to 200 bytes as in the temporary), if `name` is one.
pub(crate) fn dest_of(name: &OsStr) -> Option<OsString> {
    let b = name.as_bytes();
    pid_of(b)?;
    let body = b.strip_prefix(b".")?;
    let at = body.windows(MARK.len()).rposition(|w| w == MARK)?;
    (at > 0).then(|| OsString::from_vec(body[..at].to_vec()))
}

/// Leave the temporaries of `dir` alone for the rest of this process (a
/// command whose input is one of them must not remove it).
pub(crate) fn keep_temps(dir: &Path) {
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
    if !cleaned.contains(&key) {
        cleaned.push(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_unique_and_parse_back() {
        let long = "x".repeat(255);
        let a = name_for(OsStr::new(&long));
        let b = name_for(OsStr::new(&long));
        assert_ne!(a, b);
        assert!(a.len() <= 255, "{}", a.len());
        assert_eq!(pid_of(a.as_bytes()), Some(std::process::id()));
        assert_eq!(pid_of(b".cap.0001.pcap.mmkit-1234.tmp"), Some(1234));
        assert_eq!(pid_of(b".cap.pcap.mmkit-77-3.tmp"), Some(77));
        for not in [
            &b"cap.pcap"[..],
            b".cap.mmkit-.tmp",
            b".cap.mmkit-12a.tmp",
            b".cap.mmkit-12.tmpx",
            b"cap.mmkit-12.tmp",
        ] {
            assert_eq!(pid_of(not), None, "{:?}", String::from_utf8_lossy(not));
        }
        assert_eq!(
            dest_of(OsStr::new(".cap.0001.pcap.mmkit-77-3.tmp")),
            Some(OsString::from("cap.0001.pcap"))
        );
        assert_eq!(dest_of(OsStr::new("cap.pcap")), None);
    }

    #[test]
    fn our_own_start_time_is_in_the_past() {
        let t = start_time(std::process::id()).expect("our start time");
        assert!(t <= SystemTime::now());
        assert!(SystemTime::now().duration_since(t).unwrap() < Duration::from_secs(24 * 3600));
    }
}
