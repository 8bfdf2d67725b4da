//! Signals: turning the kernel's "no" into a sentence, and never leaving a
//! half-written output behind.
//!
//! * **SIGBUS** from a mapped region (a file that shrank under an input
//!   window, a disk that could not back an output page, a register where no
//!   device answers) is reported with the file (or physical address) and
//!   byte offset, unfinished outputs are removed, and the process exits with
//!   the code `main` chose for that kind of failure. In a window of a
//!   followed file ([`Role::Follow`]) the fault is survived instead: zero
//!   pages are mapped over the window and the reader reads the file again
//!   (its writer may truncate it at any time). A SIGBUS sent by another
//!   process (`kill -BUS`, `si_code` ≤ 0) is a termination signal.
//! * **Every catchable terminating signal** (SIGHUP — the serial console went
//!   away —, SIGINT, SIGQUIT, SIGTERM, SIGUSR1/2, SIGALRM, SIGPIPE sent by
//!   another process, …) removes the unfinished outputs and exits with
//!   128 + the signal number. A stream split ([`status_on_usr1`]) takes
//!   SIGUSR1 as a request for its running counts instead, as tcpdump does.
//! * SIGXFSZ is ignored, so exceeding RLIMIT_FSIZE is an `EFBIG` error that
//!   is reported (and cleaned up) like a full disk.
//! * **SIGPIPE** has two senders, told apart by `si_pid`. A write to a pipe
//!   or socket whose reader is gone makes the kernel send it to the writer
//!   itself (`send_sig(SIGPIPE, current, 0)`: `si_code` SI_USER and `si_pid`
//!   our own pid): the handler returns, the write fails with `EPIPE`, and a
//!   closed stdout is a `BrokenPipe` error that `main` ends quietly
//!   (`mmkit md … | head`). Any other `si_pid`
//!   is a `kill -PIPE` from another process (0: from another pid
//!   namespace): a terminating signal like SIGTERM (exit 141). Ignoring it
//!   would drop the user-sent one too — an ignored signal is discarded
//!   before any handler could look at its sender.
//!
//! ## The registry and the threading model
//! The handlers read two registries: mapped regions ([`RegionGuard`]) and
//! temporary files ([`TempGuard`]). Both are fixed arrays of static slots:
//! no memory a handler may read is ever allocated, freed or moved. Any
//! thread may register and unregister (the split writer thread maps and
//! creates outputs while the main thread walks). Each slot is a seqlock: a
//! state word holding a generation and a phase (free, being written, live);
//! a writer claims a free slot, fills it, then publishes it live; the
//! handler uses a slot only when it is live and its state word did not
//! change while the handler copied it. Labels and names are stored inline
//! as atomic bytes (paths are truncated at the front for messages; a
//! temporary's name is a single directory entry, at most 255 bytes, removed
//! with `unlinkat` relative to its directory's descriptor).
//!
//! The owner of a region registers it after mapping and unregisters it
//! before unmapping (see [`super::map::Mapping`]), so a fault in a live
//! mapping always finds its slot. The owner of a temporary registers its
//! name before creating the file and unregisters after renaming or removing
//! it; the names are unique to this process, so removing one that was just
//! renamed fails harmlessly with ENOENT.

mod registry;

pub(crate) use registry::{RegionGuard, TempGuard, register_region, register_temp, register_tree};

use crate::error::Kind;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use registry::{LABEL, find_region};
use std::os::fd::RawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// What a guarded address range is; decides the SIGBUS message and exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Role {
    /// A window of an input file (read-only mapping).
    Input = 1,
    /// A window of an output file being written through a mapping.
    Output = 2,
    /// A mapped register page of /dev/mem: report the physical address.
    PhysRegister = 3,
    /// A mapped register page of another file (UIO, PCI BAR, regular file):
    /// report the offset in that file.
    FileRegister = 4,
    /// A window of a file followed as another process appends to it
    /// (`split --follow`): a fault here is survivable — see [`follow_faults`].
    Follow = 5,
}

/// Faults survived in [`Role::Follow`] windows. The writer of a followed
/// file may truncate it at any moment, also between the `fstat` that
/// sized a window and the copy out of it. The handler then maps zero pages
/// over the whole window (so the interrupted copy completes), counts the
/// fault here and returns; the reader sees the count change, throws the
/// copy away and asks the file again with pread(2) — which reports the
/// shrink as a short read.
static FOLLOW_FAULTS: AtomicUsize = AtomicUsize::new(0);

/// How many faults in follow windows were survived so far.
pub(crate) fn follow_faults() -> usize {
    FOLLOW_FAULTS.load(Ordering::SeqCst)
}
/// Exit codes used by the handlers, set by `main` through [`install`].
static CODE_INPUT_CHANGED: AtomicI32 = AtomicI32::new(1);
static CODE_NO_SPACE: AtomicI32 = AtomicI32::new(1);
static CODE_BUS_ERROR: AtomicI32 = AtomicI32::new(1);
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();

/// The catchable signals whose default action ends the process (SIGSTKFLT
/// exists on x86 and ARM, not on MIPS).
const TERMINATING: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGPIPE,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGXCPU,
    Signal::SIGIO,
    Signal::SIGPWR,
    // MIPS and SPARC have no SIGSTKFLT (nix does not define it there).
    #[cfg(not(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc64")))]
    Signal::SIGSTKFLT,
];

/// Install the handlers (idempotent). `exit_code` is `main`'s table from
/// error kind to process exit code.
pub(crate) fn install(exit_code: fn(Kind) -> i32) {
    CODE_INPUT_CHANGED.store(exit_code(Kind::InputChanged), Ordering::Relaxed);
    CODE_NO_SPACE.store(exit_code(Kind::NoSpace), Ordering::Relaxed);
    CODE_BUS_ERROR.store(exit_code(Kind::BusError), Ordering::Relaxed);
    INSTALL.call_once(|| {
        PAGE.store(super::page_size(), Ordering::Relaxed);
        let bus = SigAction::new(
            SigHandler::SigAction(on_sigbus),
            SaFlags::SA_SIGINFO,
            SigSet::empty(),
        );
        let term = SigAction::new(
            SigHandler::SigAction(on_terminate),
            SaFlags::SA_SIGINFO,
            SigSet::all(),
        );
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: both handlers only perform async-signal-safe operations
        // (atomic loads, write, unlinkat, _exit, resetting a disposition)
        // and read only the static registries above; SIG_IGN is always valid.
        unsafe {
            let _ = sigaction(Signal::SIGBUS, &bus);
            let _ = sigaction(Signal::SIGXFSZ, &ignore);
            for &s in TERMINATING {
                let _ = sigaction(s, &term);
            }
        }
    });
}

/// Address of the register access in progress (0: none). Some kernels
/// deliver a device bus error without the faulting address: on MIPS a data
/// bus error (DBE) reaches user space through `do_be()` as a plain
/// `force_sig(SIGBUS)`, so `si_addr` is 0. The handler then blames the access
/// in flight, which lies inside a guarded register mapping.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Mark the start of one volatile access at `p` (inside a guarded region).
pub(crate) fn access_begin(p: *const u8) {
    IN_FLIGHT.store(p as usize, Ordering::SeqCst);
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Mark the end of the access started by [`access_begin`].
pub(crate) fn access_end() {
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    IN_FLIGHT.store(0, Ordering::SeqCst);
}

// ---- inside the handlers: async-signal-safe only ------------------------
//
// Raw libc calls here on purpose: write(2), unlinkat(2) and _exit(2) are
// async-signal-safe, and these wrappers allocate nothing.

fn raw_write(b: &[u8]) {
    // SAFETY: write(2) on fd 2 with a valid buffer.
    unsafe {
        libc::write(2, b.as_ptr().cast(), b.len());
    }
}

fn raw_exit(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; no destructor runs.
    unsafe { libc::_exit(code) }
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

/// Remove every registered temporary (and tree); returns whether there was any.
fn remove_temps() -> bool {
    let mut any = false;
    registry::each_temp(|fd, name, tree| {
        if tree {
            // Another thread (split's writer) may still be creating files
            // in it, and entries unlinked while the directory is read can
            // hide others from getdents: scan again until it is gone.
            for _ in 0..64 {
                if remove_tree(fd, name, 0) {
                    break;
                }
            }
        } else {
            // SAFETY: `name` is NUL-terminated (each_temp guarantees it);
            // unlinkat is async-signal-safe; a stale name fails harmlessly.
            unsafe {
                libc::unlinkat(fd, name.as_ptr().cast(), 0);
            }
        }
        any = true;
    });
    any
}

/// Remove the directory `name` (NUL-terminated) in `dirfd` with everything
/// in it, `depth` levels down at most 4, with raw syscalls only: openat,
/// getdents64 into a stack buffer, unlinkat, close. True when it is gone.
fn remove_tree(dirfd: RawFd, name: &[u8], depth: u32) -> bool {
    if depth > 4 {
        return false;
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated; openat is async-signal-safe.
    let fd = unsafe { libc::openat(dirfd, name.as_ptr().cast(), flags) };
    if fd < 0 {
        // errno of this thread, read right after the failed call.
        return nix::errno::Errno::last() == nix::errno::Errno::ENOENT;
    }
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: getdents64 writes at most buf.len() bytes into buf.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut at = 0usize;
        // linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name[].
        while at + 19 < n as usize {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen < 20 || at + reclen > n as usize {
                break;
            }
            let ent = &buf[at + 19..at + reclen];
            let len = ent.iter().position(|&c| c == 0).unwrap_or(ent.len());
            let nm = &ent[..len];
            if nm != b"." && nm != b".." && len < ent.len() {
                let dtype = buf[at + 18];
                let entry = &ent[..=len];
                if dtype == libc::DT_DIR {
                    let _ = remove_tree(fd, entry, depth + 1);
                } else {
                    // SAFETY: `entry` is NUL-terminated inside buf.
                    unsafe {
                        libc::unlinkat(fd, entry.as_ptr().cast(), 0);
                    }
                }
            }
            at += reclen;
        }
    }
    // SAFETY: closing the descriptor we opened; removing the now empty
    // directory by its NUL-terminated name.
    unsafe {
        libc::close(fd);
        libc::unlinkat(dirfd, name.as_ptr().cast(), libc::AT_REMOVEDIR) == 0
    }
}

/// Replace the mapping `[start, start+len)` with private zero pages
/// (MAP_FIXED over the same addresses): the faulting access and the rest
/// of the copy then read zeros instead of faulting again. The whole window,
/// not the faulting page: QEMU user mode reports some faults one page off.
///
/// A raw syscall, not libc's mmap: musl's wrapper takes its VM lock for a
/// MAP_FIXED mapping, which a signal handler must not wait for.
fn zero_fill(start: usize, len: usize) -> bool {
    let prot = libc::PROT_READ;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED;
    // 32-bit targets call it mmap2 (offset in pages); the offset is 0.
    #[cfg(target_pointer_width = "32")]
    let nr = libc::SYS_mmap2;
    #[cfg(not(target_pointer_width = "32"))]
    let nr = libc::SYS_mmap;
    // SAFETY: the range is a live mapping of ours (found in the registry),
    // replaced in place by readable memory of the same size; nothing else
    // lives at these addresses.
    let r = unsafe {
        libc::syscall(
            nr,
            start,
            len,
            prot,
            flags,
            -1 as libc::c_int,
            0 as libc::c_long,
        )
    };
    r as usize == start
}

fn signal_name(sig: i32) -> &'static [u8] {
    match Signal::try_from(sig) {
        Ok(s) => s.as_str().as_bytes(),
        Err(_) => b"a signal",
    }
}

/// Graceful mode (stream split): a terminating signal asks the main loop
/// to finish instead of ending the process, because the records received
/// so far exist nowhere else. `WAKE` is the write end of a pipe the loop
/// polls; `STOP` the signal that asked (0: none).
static WAKE: AtomicI32 = AtomicI32::new(-1);
static STOP: AtomicI32 = AtomicI32::new(0);

/// Enter graceful mode: from now on the first terminating signal writes a
/// byte to `wake_fd` and is returned by [`stop_requested`]; a second one
/// ends the process as usual.
pub(crate) fn graceful(wake_fd: RawFd) {
    WAKE.store(wake_fd, Ordering::SeqCst);
}

/// The terminating signal received in graceful mode, if any.
pub(crate) fn stop_requested() -> Option<i32> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Status mode (stream split): SIGUSR1 sets `ASKED` and writes a byte to
/// `STATUS_WAKE` (a non-blocking pipe; -1: none) instead of ending the
/// process.
static STATUS_ON: AtomicBool = AtomicBool::new(false);
static ASKED: AtomicBool = AtomicBool::new(false);
static STATUS_WAKE: AtomicI32 = AtomicI32::new(-1);

/// From now on SIGUSR1 asks for the running counts (see [`status_asked`])
/// and, when `wake_fd` ≥ 0, writes a byte to it (the write end of a
/// non-blocking pipe the reader polls). `-1` before that descriptor is
/// closed: SIGUSR1 is then only noted.
pub(crate) fn status_on_usr1(wake_fd: RawFd) {
    STATUS_WAKE.store(wake_fd, Ordering::SeqCst);
    STATUS_ON.store(true, Ordering::SeqCst);
}

/// Did SIGUSR1 ask for the counts since the last call?
pub(crate) fn status_asked() -> bool {
    ASKED.swap(false, Ordering::SeqCst)
}

extern "C" fn on_terminate(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if sig == libc::SIGPIPE {
        // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO
        // handler; getpid is async-signal-safe.
        let (from, me) = unsafe { ((*info).si_pid(), libc::getpid()) };
        if from == me {
            // EPIPE from our own write: the write reports it.
            return;
        }
    }
    if sig == libc::SIGUSR1 && STATUS_ON.load(Ordering::SeqCst) {
        ASKED.store(true, Ordering::SeqCst);
        let fd = STATUS_WAKE.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: write(2) of one byte to a non-blocking pipe; a full
            // pipe already holds a wake-up.
            unsafe {
                libc::write(fd, [1u8].as_ptr().cast(), 1);
            }
        }
        return;
    }
    let wake = WAKE.load(Ordering::SeqCst);
    if wake >= 0
        && STOP
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        // SAFETY: write(2) of one byte from our stack to the wake pipe.
        unsafe {
            libc::write(wake, [1u8].as_ptr().cast(), 1);
        }
        return;
    }
    terminate(sig)
}

fn terminate(sig: i32) -> ! {
    let removed = remove_temps();
    raw_write(b"\nmmkit: interrupted by ");
    raw_write(signal_name(sig));
    if removed {
        raw_write(b"; unfinished output removed");
    }
    raw_write(b"\n");
    raw_exit(128 + sig)
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler;
    // si_addr is the faulting address for a SIGBUS raised by a fault.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    let mut label = [0u8; LABEL];
    let mut hex = [0u8; 20];
    let mut dec = [0u8; 20];
    // MIPS DBE: si_addr is 0; the register access in flight faulted.
    // QEMU user mode (7.2, 32-bit guests) reports a fault in a page past
    // the end of a file one page too high: try the page below it.
    let in_flight = IN_FLIGHT.load(Ordering::SeqCst);
    let found = find_region(addr, &mut label)
        .map(|r| (addr, r))
        .or_else(|| {
            (in_flight != 0).then(|| find_region(in_flight, &mut label).map(|r| (in_flight, r)))?
        })
        .or_else(|| {
            let below = addr.wrapping_sub(PAGE.load(Ordering::Relaxed));
            find_region(below, &mut label).map(|r| (below, r))
        });
    let Some((at_addr, (role, start, len, base, n))) = found else {
        if code <= 0 {
            // Sent by a process (kill -BUS, sigqueue: si_code SI_USER or
            // below), not raised by a fault. (A fault with si_code 0 — an
            // external abort on 32-bit ARM — lies in a guarded region and
            // was found above.)
            terminate(sig);
        }
        // Not one of ours: a bug (for instance an unaligned access). Restore
        // the default action and return, so the fault repeats and kills the
        // process with SIGBUS for everyone (and every test) to see.
        raw_write(b"mmkit: bus error at address ");
        raw_write(fmt_hex(addr as u64, &mut hex));
        raw_write(b" outside any guarded mapping (this is a bug in mmkit)\n");
        remove_temps();
        let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: resetting a signal disposition is async-signal-safe.
        unsafe {
            let _ = sigaction(Signal::SIGBUS, &dfl);
        }
        return;
    };
    if role == Role::Follow as usize && zero_fill(start, len) {
        FOLLOW_FAULTS.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let at = base.wrapping_add((at_addr - start) as u64);
    let label = &label[..n];
    let code = match role {
        r if r == Role::Input as usize || r == Role::Follow as usize => {
            raw_write(b"mmkit: bus error reading ");
            raw_write(label);
            raw_write(b" at byte ");
            raw_write(fmt_dec(at, &mut dec));
            raw_write(
                b": the file shrank while mapped (another process truncated or replaced it)\n",
            );
            CODE_INPUT_CHANGED.load(Ordering::Relaxed)
        }
        r if r == Role::Output as usize => {
            raw_write(b"mmkit: bus error writing ");
            raw_write(label);
            raw_write(b" at byte ");
            raw_write(fmt_dec(at, &mut dec));
            raw_write(b": the filesystem could not back the mapped page (disk full, or the file was truncated)\n");
            CODE_NO_SPACE.load(Ordering::Relaxed)
        }
        r if r == Role::PhysRegister as usize => {
            raw_write(b"mmkit: bus error at physical ");
            raw_write(fmt_hex(at, &mut hex));
            raw_write(b": no device answered\n");
            CODE_BUS_ERROR.load(Ordering::Relaxed)
        }
        _ => {
            raw_write(b"mmkit: bus error at offset ");
            raw_write(fmt_hex(at, &mut hex));
            raw_write(b" of ");
            raw_write(label);
            raw_write(b": no device answered, or the file could not back the page (past its end, or a hole on a full filesystem)\n");
            CODE_BUS_ERROR.load(Ordering::Relaxed)
        }
    };
    if remove_temps() {
        raw_write(b"mmkit: the unfinished output was removed; finished outputs are complete\n");
    }
    raw_exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

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
    fn trees_are_removed_with_their_contents() {
        let base = std::env::temp_dir().join(format!("mmkit-tree-{}", std::process::id()));
        let top = base.join("t");
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        for i in 0..300 {
            std::fs::write(top.join(format!("file-{i:03}-{}", "x".repeat(40))), b"x").unwrap();
        }
        std::fs::write(top.join("a/b/deep"), b"y").unwrap();
        let dir = std::fs::File::open(&base).unwrap();
        assert!(remove_tree(dir.as_raw_fd(), b"t\0", 0));
        assert!(!top.exists(), "the tree is gone");
        let _ = std::fs::remove_dir_all(&base);
    }
}
