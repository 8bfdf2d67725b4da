//! Diagnostics: turning the kernel's "no" into a sentence.
//!
//! * A SIGBUS handler that knows which mapping a faulting address belongs to
//!   (input window, output window, register page), prints which file (or
//!   physical address) failed and why, removes in-progress temporary outputs,
//!   and exits with a documented code instead of dumping core.
//! * SIGINT/SIGTERM remove in-progress temporary outputs too.
//! * SIGXFSZ is ignored, so exceeding RLIMIT_FSIZE is an `EFBIG` error we can
//!   report rather than a silent kill.
//! * [`explain_mmap`]: what an mmap errno means for the mapping we asked for.
//!
//! The handler only uses async-signal-safe calls (write, unlink, _exit) and
//! reads state published through atomics. mmkit is single-threaded where it
//! maps files, and SIGBUS is synchronous, so a region registered by a live
//! [`RegionGuard`] is valid while its handler runs.

use crate::error::exit;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

/// What a guarded address range is; decides the SIGBUS message and exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum RegionKind {
    /// A window of an input file (read-only mapping).
    Input = 1,
    /// A window of an output file being written through a mapping.
    Output = 2,
    /// A mapped register page of /dev/mem: report the physical address.
    PhysRegister = 3,
    /// A mapped register page of another file (UIO, PCI BAR, regular file):
    /// report the offset in that file.
    FileRegister = 4,
}

const SLOTS: usize = 8;

struct Region {
    start: AtomicUsize,
    len: AtomicUsize,
    kind: AtomicUsize,
    off_lo: AtomicU32,
    off_hi: AtomicU32,
    label: AtomicPtr<u8>,
    label_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_REGION: Region = Region {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    kind: AtomicUsize::new(0),
    off_lo: AtomicU32::new(0),
    off_hi: AtomicU32::new(0),
    label: AtomicPtr::new(std::ptr::null_mut()),
    label_len: AtomicUsize::new(0),
};

static REGIONS: [Region; SLOTS] = [EMPTY_REGION; SLOTS];

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_TEMP: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static TEMPS: [AtomicPtr<libc::c_char>; SLOTS] = [EMPTY_TEMP; SLOTS];

static INSTALL: Once = Once::new();
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// Is `addr` inside the live region `r`?
fn contains(r: &Region, addr: usize) -> bool {
    let kind = r.kind.load(Ordering::Acquire);
    let start = r.start.load(Ordering::Acquire);
    let len = r.len.load(Ordering::Acquire);
    kind != 0 && kind != usize::MAX && addr >= start && addr - start < len
}

/// Install the signal handlers (idempotent). Called by every command that
/// maps files or registers.
pub fn install() {
    INSTALL.call_once(|| {
        PAGE.store(page_size(), Ordering::Relaxed);
        // SAFETY: sigaction with a handler that only performs
        // async-signal-safe operations; SIG_IGN for SIGXFSZ is always valid.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());

            let mut si: libc::sigaction = std::mem::zeroed();
            si.sa_sigaction = on_interrupt as *const () as usize;
            si.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut si.sa_mask);
            libc::sigaction(libc::SIGINT, &si, std::ptr::null_mut());
            libc::sigaction(libc::SIGTERM, &si, std::ptr::null_mut());

            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        }
    });
}

/// Registration of a mapped address range; unregistered on drop.
pub struct RegionGuard {
    slot: Option<usize>,
    _label: Box<[u8]>,
}

/// Register `[start, start+len)` as a mapping of `label` (a path) whose
/// first byte is at `base` in the file (or physical address space).
pub fn guard(
    start: *const u8,
    len: usize,
    kind: RegionKind,
    base: u64,
    label: &Path,
) -> RegionGuard {
    install();
    let label: Box<[u8]> = label.as_os_str().as_bytes().to_vec().into_boxed_slice();
    for (i, r) in REGIONS.iter().enumerate() {
        if r.kind
            .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            r.start.store(start as usize, Ordering::Release);
            r.len.store(len, Ordering::Release);
            r.off_lo.store(base as u32, Ordering::Release);
            r.off_hi.store((base >> 32) as u32, Ordering::Release);
            r.label.store(label.as_ptr() as *mut u8, Ordering::Release);
            r.label_len.store(label.len(), Ordering::Release);
            r.kind.store(kind as usize, Ordering::Release);
            return RegionGuard {
                slot: Some(i),
                _label: label,
            };
        }
    }
    log::debug!("diag: all {SLOTS} region slots busy; mapping not guarded");
    RegionGuard {
        slot: None,
        _label: label,
    }
}

impl Drop for RegionGuard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let r = &REGIONS[i];
            r.label.store(std::ptr::null_mut(), Ordering::Release);
            r.len.store(0, Ordering::Release);
            r.kind.store(0, Ordering::Release);
        }
    }
}

/// Registration of a temporary output file to remove if a signal ends the
/// process. Dropping it only unregisters (the owner removes or renames).
pub struct TempGuard {
    slot: Option<usize>,
    path: Option<CString>,
}

pub fn temp_file(path: &Path) -> TempGuard {
    install();
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return TempGuard {
            slot: None,
            path: None,
        };
    };
    for (i, t) in TEMPS.iter().enumerate() {
        if t.compare_exchange(
            std::ptr::null_mut(),
            c.as_ptr() as *mut libc::c_char,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
        {
            return TempGuard {
                slot: Some(i),
                path: Some(c),
            };
        }
    }
    TempGuard {
        slot: None,
        path: Some(c),
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            TEMPS[i].store(std::ptr::null_mut(), Ordering::Release);
        }
        let _ = self.path.take();
    }
}

// ---- async-signal-safe helpers -------------------------------------------

fn raw_write(b: &[u8]) {
    // SAFETY: write(2) on fd 2 with a valid buffer is async-signal-safe.
    unsafe {
        libc::write(2, b.as_ptr() as *const libc::c_void, b.len());
    }
}

/// Format `v` as hexadecimal (upper-case, with 0x) into `buf`; returns the used tail.
fn fmt_hex(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        let d = (v & 0xF) as u8;
        buf[i] = if d < 10 { b'0' + d } else { b'A' + d - 10 };
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    i -= 1;
    buf[i] = b'x';
    i -= 1;
    buf[i] = b'0';
    &buf[i..]
}

fn fmt_dec(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

fn remove_temps() -> bool {
    let mut any = false;
    for t in TEMPS.iter() {
        let p = t.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: p points to a NUL-terminated CString kept alive by a
            // live TempGuard; unlink is async-signal-safe.
            unsafe {
                libc::unlink(p);
            }
            any = true;
        }
    }
    any
}

extern "C" fn on_interrupt(sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let removed = remove_temps();
    raw_write(b"\nmmkit: interrupted");
    if removed {
        raw_write(b"; unfinished output removed");
    }
    raw_write(b"\n");
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Address of the register access in progress (0: none). Some kernels
/// deliver a device bus error without the faulting address: on MIPS a data
/// bus error (DBE) reaches user space through `do_be()` as a plain
/// `force_sig(SIGBUS)`, so `si_addr` is 0. The handler then blames the access
/// in flight, which lies inside a guarded register mapping.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Mark the start of one volatile access at `p` (inside a guarded region).
pub fn access_begin(p: *const u8) {
    IN_FLIGHT.store(p as usize, Ordering::SeqCst);
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Mark the end of the access started by [`access_begin`].
pub fn access_end() {
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    IN_FLIGHT.store(0, Ordering::SeqCst);
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers;
    // si_addr is the faulting address for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let mut hex = [0u8; 20];
    let mut dec = [0u8; 20];
    // QEMU user mode (7.2, 32-bit guests) reports a fault in a page past
    // the end of a file one page too high: if nothing matches the address,
    // try the page below it.
    let page = PAGE.load(Ordering::Relaxed);
    let in_flight = IN_FLIGHT.load(Ordering::SeqCst);
    let probe = if REGIONS.iter().any(|r| contains(r, addr)) {
        addr
    } else if in_flight != 0 {
        // MIPS DBE: si_addr is 0; the register access in flight faulted.
        in_flight
    } else {
        addr.wrapping_sub(page)
    };
    let addr_reported = addr;
    let addr = probe;
    if let Some(r) = REGIONS.iter().find(|r| contains(r, addr)) {
        let kind = r.kind.load(Ordering::Acquire);
        let start = r.start.load(Ordering::Acquire);
        let base = ((r.off_hi.load(Ordering::Acquire) as u64) << 32)
            | r.off_lo.load(Ordering::Acquire) as u64;
        let at = base + (addr - start) as u64;
        let lp = r.label.load(Ordering::Acquire);
        let ll = r.label_len.load(Ordering::Acquire);
        let label: &[u8] = if lp.is_null() {
            b"?"
        } else {
            // SAFETY: label points to a boxed slice owned by the live RegionGuard.
            unsafe { std::slice::from_raw_parts(lp, ll) }
        };
        let code = match kind {
            k if k == RegionKind::Input as usize => {
                raw_write(b"mmkit: bus error reading ");
                raw_write(label);
                raw_write(b" at byte ");
                raw_write(fmt_dec(at, &mut dec));
                raw_write(
                    b": the file shrank while mapped (another process truncated or replaced it)\n",
                );
                exit::INPUT_CHANGED
            }
            k if k == RegionKind::Output as usize => {
                raw_write(b"mmkit: bus error writing ");
                raw_write(label);
                raw_write(b" at byte ");
                raw_write(fmt_dec(at, &mut dec));
                raw_write(b": the filesystem could not back the mapped page (disk full, or the file was truncated)\n");
                exit::NO_SPACE
            }
            k if k == RegionKind::PhysRegister as usize => {
                raw_write(b"mmkit: bus error at physical ");
                raw_write(fmt_hex(at, &mut hex));
                raw_write(b": no device answered\n");
                exit::BUS_ERROR
            }
            _ => {
                raw_write(b"mmkit: bus error at offset ");
                raw_write(fmt_hex(at, &mut hex));
                raw_write(b" of ");
                raw_write(label);
                raw_write(b": no device answered (or the offset is past the end of the file)\n");
                exit::BUS_ERROR
            }
        };
        if remove_temps() {
            raw_write(b"mmkit: the unfinished output was removed; finished outputs are complete\n");
        }
        // SAFETY: _exit is async-signal-safe and ends the process at once.
        unsafe { libc::_exit(code) }
    }
    // Not one of ours: a bug (for instance an unaligned access). Restore the
    // default action and return, so the fault repeats and kills the process
    // with SIGBUS for everyone (and every test) to see.
    raw_write(b"mmkit: bus error at address ");
    raw_write(fmt_hex(addr_reported as u64, &mut hex));
    raw_write(b" outside any guarded mapping (this is a bug in mmkit)\n");
    remove_temps();
    // SAFETY: resetting a signal disposition is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

/// What an mmap errno means for a mapping of `what` (a path), in words an
/// embedded engineer can act on.
pub fn explain_mmap(errno: i32, writable: bool, len: usize) -> String {
    match errno {
        libc::EACCES => {
            if writable {
                "the file was opened read-only but a writable shared mapping was asked for (or the file is not a regular file)".into()
            } else {
                "the file is not open for reading, or is not a regular file".into()
            }
        }
        libc::EINVAL => format!(
            "the kernel refused the arguments: the offset must be a multiple of the page size ({} bytes) and the length ({len}) non-zero",
            page_size()
        ),
        libc::ENODEV => {
            "this filesystem cannot map files (some network/FUSE mounts); falling back to read()"
                .into()
        }
        libc::ENOMEM => format!(
            "no room for a {len}-byte window in the address space (a 32-bit process has 2-3 GiB); try a smaller --window"
        ),
        libc::EAGAIN => {
            "too much memory is locked: RLIMIT_MEMLOCK (ulimit -l) is too low for --lock".into()
        }
        libc::EPERM => {
            "the mapping was refused (PROT_EXEC on a noexec mount, a sealed file, or STRICT_DEVMEM)"
                .into()
        }
        libc::EOVERFLOW => "the offset does not fit this system's off_t".into(),
        _ => "unexpected mmap error".into(),
    }
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// Is stderr a terminal (for progress lines)?
pub fn stderr_is_tty() -> bool {
    // SAFETY: isatty on a valid fd number has no preconditions.
    unsafe { libc::isatty(2) == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_dec_formatting() {
        let mut b = [0u8; 20];
        assert_eq!(fmt_hex(0x0C00_0000, &mut b), b"0xC000000");
        assert_eq!(fmt_hex(0, &mut b), b"0x0");
        assert_eq!(fmt_hex(u64::MAX, &mut b), b"0xFFFFFFFFFFFFFFFF");
        let mut d = [0u8; 20];
        assert_eq!(fmt_dec(0, &mut d), b"0");
        assert_eq!(fmt_dec(4_294_967_296, &mut d), b"4294967296");
        assert_eq!(fmt_dec(u64::MAX, &mut d), b"18446744073709551615");
    }

    #[test]
    fn guards_free_their_slot() {
        let g = guard(std::ptr::null(), 1, RegionKind::Input, 0, Path::new("/x"));
        let i = g.slot.expect("a free slot");
        assert_eq!(
            REGIONS[i].kind.load(Ordering::Acquire),
            RegionKind::Input as usize
        );
        drop(g);
        assert_eq!(REGIONS[i].kind.load(Ordering::Acquire), 0);
    }

    #[test]
    fn explains_common_errnos() {
        assert!(explain_mmap(libc::EACCES, true, 1).contains("read-only"));
        assert!(explain_mmap(libc::ENOMEM, false, 1 << 30).contains("--window"));
        assert!(explain_mmap(libc::ENODEV, false, 1).contains("read()"));
        assert!(explain_mmap(libc::EAGAIN, false, 1).contains("RLIMIT_MEMLOCK"));
        assert!(explain_mmap(libc::EINVAL, false, 0).contains("page size"));
    }
}
