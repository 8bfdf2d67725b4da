//! Thin wrappers over the raw syscalls std does not offer: fallocate,
//! copy_file_range, madvise, mlock, rlimits. All take 64-bit file
//! offsets on every target (glibc's 32-bit `off_t` is never used).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

fn last() -> io::Error {
    io::Error::last_os_error()
}

/// Reserve `[0, len)` of `f` (ENOSPC up front, no SIGBUS later). Returns
/// `Ok(false)` when the filesystem cannot preallocate (EOPNOTSUPP).
pub fn fallocate(f: &File, len: u64) -> io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    // SAFETY: fallocate on a valid fd; offsets passed by value as 64-bit.
    #[cfg(target_env = "gnu")]
    let r = unsafe { libc::fallocate64(f.as_raw_fd(), 0, 0, len as libc::off64_t) };
    // SAFETY: as above; musl's off_t is 64-bit.
    #[cfg(not(target_env = "gnu"))]
    let r = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len as libc::off_t) };
    if r == 0 {
        return Ok(true);
    }
    let e = last();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(false),
        #[allow(unreachable_patterns)]
        Some(libc::ENOTSUP) => Ok(false),
        _ => Err(e),
    }
}

/// One copy_file_range call: copy up to `len` bytes from `inp` at `*off_in`
/// to `out` at `*off_out`, advancing both. Returns bytes copied (0 = EOF).
pub fn copy_file_range(
    inp: &File,
    off_in: &mut u64,
    out: &File,
    off_out: &mut u64,
    len: usize,
) -> io::Result<usize> {
    let mut i = *off_in as i64;
    let mut o = *off_out as i64;
    // SAFETY: the offsets are valid i64 (loff_t) locations for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_copy_file_range,
            inp.as_raw_fd(),
            &mut i as *mut i64,
            out.as_raw_fd(),
            &mut o as *mut i64,
            len,
            0u32,
        )
    };
    if r < 0 {
        return Err(last());
    }
    *off_in = i as u64;
    *off_out = o as u64;
    Ok(r as usize)
}

/// madvise on a range inside a live mapping. Errors are ignored by callers
/// (advice only), so this returns the errno for logging.
pub fn madvise(addr: *const u8, len: usize, advice: libc::c_int) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: madvise validates the range itself (unmapped addresses give
    // ENOMEM). The advice values mmkit uses never change what memory holds:
    // SEQUENTIAL, WILLNEED and POPULATE_READ are hints/prefaults; DONTNEED
    // is only applied by the owner of a live read-only shared file mapping,
    // whose pages are re-read from the file on the next access.
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) };
    if r == 0 { Ok(()) } else { Err(last()) }
}

/// mlock a range inside a live mapping.
pub fn mlock(addr: *const u8, len: usize) -> io::Result<()> {
    // SAFETY: locking pages of a mapping we own has no memory-safety effect.
    let r = unsafe { libc::mlock(addr as *const libc::c_void, len) };
    if r == 0 { Ok(()) } else { Err(last()) }
}

/// msync a range inside a live writable mapping.
pub fn msync(addr: *const u8, len: usize, sync: bool) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    let flags = if sync { libc::MS_SYNC } else { libc::MS_ASYNC };
    // SAFETY: range inside a mapping we own.
    let r = unsafe { libc::msync(addr as *mut libc::c_void, len, flags) };
    if r == 0 { Ok(()) } else { Err(last()) }
}

/// The soft RLIMIT_MEMLOCK in bytes (None = unlimited).
pub fn memlock_limit() -> Option<u64> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) };
    if r != 0 || rl.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        #[allow(clippy::unnecessary_cast)] // rlim_t is 32-bit on some targets
        Some(rl.rlim_cur as u64)
    }
}

/// Are we root (root may lock beyond RLIMIT_MEMLOCK via CAP_IPC_LOCK)?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
