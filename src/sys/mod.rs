//! The operating system, seen from mmkit: page size, privileges, limits,
//! the one syscall the libraries get wrong for us (fallocate), file
//! durability helpers, and the submodules that own every `unsafe` mapping
//! and signal operation:
//!
//! * [`map`]: the one guarded mapping type used for every map in the program;
//! * [`fault`]: the signal handlers (SIGBUS, terminating signals) and the
//!   registry of mapped regions and temporary files they read;
//! * [`explain`]: what an errno means for a mapping we asked for;
//! * [`clock`]: the clock that times a thread's own work.

pub(crate) mod clock;
pub(crate) mod explain;
pub(crate) mod fault;
pub(crate) mod map;

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// The system page size.
pub(crate) fn page_size() -> usize {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::PAGE_SIZE) {
        Ok(Some(p)) if p > 0 => p as usize,
        _ => 4096,
    }
}

/// Physical memory in bytes (None when unknown).
pub(crate) fn phys_mem() -> Option<u64> {
    use nix::unistd::{SysconfVar, sysconf};
    let pages = sysconf(SysconfVar::_PHYS_PAGES).ok().flatten()?;
    u64::try_from(pages).ok()?.checked_mul(page_size() as u64)
}

/// Are we root (root may lock beyond RLIMIT_MEMLOCK via CAP_IPC_LOCK)?
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The soft RLIMIT_MEMLOCK in bytes (None = unlimited or unknown).
pub(crate) fn memlock_limit() -> Option<u64> {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
    match getrlimit(Resource::RLIMIT_MEMLOCK) {
        #[allow(clippy::useless_conversion)] // rlim_t is 32-bit on some targets
        Ok((cur, _)) if cur != RLIM_INFINITY => Some(u64::from(cur)),
        _ => None,
    }
}

/// CPU microseconds (user + system) and page faults of this process so far.
pub(crate) fn cpu_and_faults() -> (u64, u64) {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let us = |t: nix::sys::time::TimeVal| {
                (t.tv_sec().max(0) as u64)
                    .saturating_mul(1_000_000)
                    .saturating_add(t.tv_usec().max(0) as u64)
            };
            let faults =
                (u.minor_page_faults() as u64).saturating_add(u.major_page_faults() as u64);
            (
                us(u.user_time()).saturating_add(us(u.system_time())),
                faults,
            )
        }
        Err(_) => (0, 0),
    }
}

/// Drop a file's pages from the page cache (advice: errors are only logged).
pub(crate) fn evict(f: &File) {
    use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
    if let Err(e) = posix_fadvise(f, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED) {
        // (not nix's Display of Errno: the same text, without a second copy
        // of its errno-name table in the binary)
        let name = crate::error::errno_name(e);
        log::debug!("posix_fadvise(DONTNEED) failed: {name}: {}", e.desc());
    }
}

/// Reserve `[0, len)` of `f` (ENOSPC up front, no SIGBUS later). Returns
/// `Ok(false)` when the filesystem cannot preallocate (EOPNOTSUPP).
pub(crate) fn fallocate(f: &File, len: u64) -> io::Result<bool> {
    fallocate_range(f, 0, len)
}

/// Reserve `[off, off + len)` of `f`: allocate its holes, so that a store
/// through a mapping of that range cannot raise SIGBUS for want of space
/// (ENOSPC comes now, as an error). Mode 0: a range inside the file keeps
/// its size and its data. Returns `Ok(false)` when the filesystem cannot
/// preallocate (EOPNOTSUPP, ENOSYS).
///
/// Hand-written because nix's `fallocate` takes a `libc::off_t`, which is
/// 32 bits on 32-bit glibc targets (mipsel-gnu, armv7-gnueabihf): a 4 GiB
/// piece would wrap. `fallocate64` (glibc) and musl's `fallocate` take a
/// 64-bit offset on every target.
pub(crate) fn fallocate_range(f: &File, off: u64, len: u64) -> io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    let efbig = || io::Error::from_raw_os_error(libc::EFBIG);
    let off = i64::try_from(off).map_err(|_| efbig())?;
    let len = i64::try_from(len).map_err(|_| efbig())?;
    // SAFETY: fallocate on a valid, open descriptor; the offsets are passed
    // by value as 64-bit integers; no memory is handed to the kernel.
    #[cfg(target_env = "gnu")]
    let r = unsafe { libc::fallocate64(f.as_raw_fd(), 0, off, len) };
    // SAFETY: as above; musl's off_t is 64-bit on every target.
    #[cfg(not(target_env = "gnu"))]
    let r = unsafe { libc::fallocate(f.as_raw_fd(), 0, off, len) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)) {
        nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::ENOSYS => Ok(false),
        _ => Err(e),
    }
}

/// One copy_file_range call: copy up to `len` bytes from `inp` at `*off_in`
/// to `out` at `*off_out`, advancing both. Returns bytes copied (0 = EOF).
///
/// Test hook: with `MMKIT_NO_COPY_RANGE` set in the environment it fails
/// with ENOSYS, as on kernels before 4.5, so callers take their
/// pread/pwrite fallback (the QEMU matrix copies 4+ GiB that way).
pub(crate) fn copy_file_range(
    inp: &File,
    off_in: &mut u64,
    out: &File,
    off_out: &mut u64,
    len: usize,
) -> io::Result<usize> {
    if std::env::var_os("MMKIT_NO_COPY_RANGE").is_some() {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let mut i = i64::try_from(*off_in).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    let mut o = i64::try_from(*off_out).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    let n = nix::fcntl::copy_file_range(inp, Some(&mut i), out, Some(&mut o), len)
        .map_err(io::Error::from)?;
    *off_in = i as u64;
    *off_out = o as u64;
    Ok(n)
}

/// renameat2(dir, old, dir, new, RENAME_NOREPLACE): rename within one
/// directory, failing with EEXIST instead of replacing `new`.
///
/// Hand-written because nix offers `renameat2` only on glibc targets; the
/// musl builds (every packaged binary) need it too. The raw syscall exists
/// on every Linux target since 3.15 (older kernels and some filesystems
/// answer EINVAL/ENOSYS, which the caller handles).
pub(crate) fn rename_noreplace(
    dir: &File,
    old: &std::ffi::OsStr,
    new: &std::ffi::OsStr,
) -> Result<(), nix::errno::Errno> {
    use std::os::unix::ffi::OsStrExt;
    const RENAME_NOREPLACE: libc::c_uint = 1;
    let cstr = |s: &std::ffi::OsStr| {
        std::ffi::CString::new(s.as_bytes()).map_err(|_| nix::errno::Errno::EINVAL)
    };
    let (old, new) = (cstr(old)?, cstr(new)?);
    let fd = dir.as_raw_fd();
    // SAFETY: both paths are NUL-terminated C strings that outlive the call;
    // `fd` is an open directory descriptor; no memory is written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            fd,
            old.as_ptr(),
            fd,
            new.as_ptr(),
            RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
}
