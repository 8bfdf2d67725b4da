//! Signals: turning the kernel's "no" into a sentence, and never leaving a
//! half-written output behind.
//!
//! * **SIGBUS** from a mapped region (a file that shrank under an input
//!   window, a disk that could not back an output page, a register where no
//!   device answers) is reported with the file (or physical address) and
//!   byte offset, unfinished outputs are removed, and the process exits with
//!   the code `main` chose for that kind of failure. A SIGBUS sent by
//!   another process (`kill -BUS`, `si_code` ≤ 0) is a termination signal.
//! * **Every catchable terminating signal** (SIGHUP — the serial console went
//!   away —, SIGINT, SIGQUIT, SIGTERM, SIGUSR1/2, SIGALRM, …) removes the
//!   unfinished outputs and exits with 128 + the signal number.
//! * SIGXFSZ is ignored, so exceeding RLIMIT_FSIZE is an `EFBIG` error that
//!   is reported (and cleaned up) like a full disk. SIGPIPE stays ignored (as
//!   the Rust runtime sets it): a closed stdout is a `BrokenPipe` error that
//!   `main` ends quietly.
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

use crate::error::Kind;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicUsize, Ordering, fence};

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
}

const SLOTS: usize = 16;
const LABEL: usize = 192;
const NAME: usize = 256;

// ---- the seqlock state word ---------------------------------------------

const FREE: usize = 0;
const BUSY: usize = 1;
const LIVE: usize = 2;
const PHASE: usize = 3;

struct Seq(AtomicUsize);

impl Seq {
    const fn new() -> Seq {
        Seq(AtomicUsize::new(FREE))
    }
    /// Claim a free slot for writing.
    fn claim(&self) -> bool {
        let s = self.0.load(Ordering::Acquire);
        s & PHASE == FREE
            && self
                .0
                .compare_exchange(s, s | BUSY, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }
    fn publish(&self) {
        let s = self.0.load(Ordering::Relaxed);
        self.0.store((s & !PHASE) | LIVE, Ordering::Release);
    }
    /// Free the slot, with a new generation.
    fn release(&self) {
        let s = self.0.load(Ordering::Relaxed);
        self.0.store(
            ((s & !PHASE).wrapping_add(PHASE + 1)) | FREE,
            Ordering::Release,
        );
    }
    /// The state word if the slot is live.
    fn live(&self) -> Option<usize> {
        let s = self.0.load(Ordering::Acquire);
        (s & PHASE == LIVE).then_some(s)
    }
    /// The slot did not change since `live` returned `s`.
    fn unchanged(&self, s: usize) -> bool {
        fence(Ordering::Acquire);
        self.0.load(Ordering::Relaxed) == s
    }
}

/// Bytes stored inline in atomics (readable from a handler without races).
struct Bytes<const N: usize> {
    b: [AtomicU8; N],
    len: AtomicUsize,
}

impl<const N: usize> Bytes<N> {
    const fn new() -> Self {
        Bytes {
            b: [const { AtomicU8::new(0) }; N],
            len: AtomicUsize::new(0),
        }
    }
    fn store(&self, v: &[u8]) {
        for (d, s) in self.b.iter().zip(v) {
            d.store(*s, Ordering::Relaxed);
        }
        self.len.store(v.len().min(N), Ordering::Relaxed);
    }
    /// Copy into `out`; returns the length.
    fn load(&self, out: &mut [u8; N]) -> usize {
        let n = self.len.load(Ordering::Relaxed).min(N);
        for (d, s) in out.iter_mut().zip(&self.b[..n]) {
            *d = s.load(Ordering::Relaxed);
        }
        n
    }
}

struct RegionSlot {
    seq: Seq,
    start: AtomicUsize,
    len: AtomicUsize,
    role: AtomicUsize,
    base_lo: AtomicU32,
    base_hi: AtomicU32,
    label: Bytes<LABEL>,
}

struct TempSlot {
    seq: Seq,
    dirfd: AtomicI32,
    name: Bytes<NAME>,
}

static REGIONS: [RegionSlot; SLOTS] = [const {
    RegionSlot {
        seq: Seq::new(),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        role: AtomicUsize::new(0),
        base_lo: AtomicU32::new(0),
        base_hi: AtomicU32::new(0),
        label: Bytes::new(),
    }
}; SLOTS];

static TEMPS: [TempSlot; SLOTS] = [const {
    TempSlot {
        seq: Seq::new(),
        dirfd: AtomicI32::new(-1),
        name: Bytes::new(),
    }
}; SLOTS];

/// Exit codes used by the handlers, set by `main` through [`install`].
static CODE_INPUT_CHANGED: AtomicI32 = AtomicI32::new(1);
static CODE_NO_SPACE: AtomicI32 = AtomicI32::new(1);
static CODE_BUS_ERROR: AtomicI32 = AtomicI32::new(1);
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();

/// The catchable signals whose default action ends the process.
const TERMINATING: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
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

/// Registration of a mapped address range; unregistered on drop.
pub(crate) struct RegionGuard {
    slot: Option<usize>,
}

/// Register `[start, start+len)` as a mapping of `label` (a path) whose
/// first byte is at `base` in the file (or physical address space).
pub(crate) fn register_region(
    start: *const u8,
    len: usize,
    role: Role,
    base: u64,
    label: &OsStr,
) -> RegionGuard {
    let bytes = label.as_bytes();
    // Keep the end of a long path: the file name matters most.
    let tail = &bytes[bytes.len().saturating_sub(LABEL)..];
    for (i, r) in REGIONS.iter().enumerate() {
        if r.seq.claim() {
            r.start.store(start as usize, Ordering::Relaxed);
            r.len.store(len, Ordering::Relaxed);
            r.role.store(role as usize, Ordering::Relaxed);
            r.base_lo.store(base as u32, Ordering::Relaxed);
            r.base_hi.store((base >> 32) as u32, Ordering::Relaxed);
            r.label.store(tail);
            r.seq.publish();
            return RegionGuard { slot: Some(i) };
        }
    }
    log::debug!("all {SLOTS} region slots busy; mapping not guarded");
    RegionGuard { slot: None }
}

impl Drop for RegionGuard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            REGIONS[i].seq.release();
        }
    }
}

/// Registration of a temporary output to remove if a signal ends the
/// process. Dropping it only unregisters (the owner renames or removes the
/// file first).
pub(crate) struct TempGuard {
    slot: Option<usize>,
}

/// Register the entry `name` of the directory open as `dirfd` (which must
/// stay open while the guard lives).
pub(crate) fn register_temp(dirfd: RawFd, name: &OsStr) -> TempGuard {
    let bytes = name.as_bytes();
    if bytes.len() < NAME && !bytes.contains(&b'/') {
        for (i, t) in TEMPS.iter().enumerate() {
            if t.seq.claim() {
                t.dirfd.store(dirfd, Ordering::Relaxed);
                t.name.store(bytes);
                t.seq.publish();
                return TempGuard { slot: Some(i) };
            }
        }
    }
    log::warn!(
        "cannot register {} for removal on a signal",
        name.to_string_lossy()
    );
    TempGuard { slot: None }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            TEMPS[i].seq.release();
        }
    }
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

/// Remove every registered temporary; returns whether there was any.
fn remove_temps() -> bool {
    let mut any = false;
    for t in TEMPS.iter() {
        let Some(s) = t.seq.live() else { continue };
        let fd = t.dirfd.load(Ordering::Relaxed);
        let mut name = [0u8; NAME];
        let n = t.name.load(&mut name);
        if !t.seq.unchanged(s) || n == 0 || n >= NAME {
            continue;
        }
        name[n] = 0;
        // SAFETY: `name` is NUL-terminated on our stack; unlinkat is
        // async-signal-safe. A stale descriptor or name fails harmlessly.
        unsafe {
            libc::unlinkat(fd, name.as_ptr().cast(), 0);
        }
        any = true;
    }
    any
}

fn signal_name(sig: i32) -> &'static [u8] {
    match Signal::try_from(sig) {
        Ok(s) => s.as_str().as_bytes(),
        Err(_) => b"a signal",
    }
}

extern "C" fn on_terminate(sig: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
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

/// The live region containing `addr`: (role, start, base, label length).
fn find_region(addr: usize, label: &mut [u8; LABEL]) -> Option<(usize, usize, u64, usize)> {
    for r in REGIONS.iter() {
        let Some(s) = r.seq.live() else { continue };
        let start = r.start.load(Ordering::Relaxed);
        let len = r.len.load(Ordering::Relaxed);
        if addr < start || addr - start >= len {
            continue;
        }
        let role = r.role.load(Ordering::Relaxed);
        let base = (u64::from(r.base_hi.load(Ordering::Relaxed)) << 32)
            | u64::from(r.base_lo.load(Ordering::Relaxed));
        let n = r.label.load(label);
        if r.seq.unchanged(s) {
            return Some((role, start, base, n));
        }
    }
    None
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler;
    // si_addr is the faulting address for a SIGBUS raised by a fault.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code <= 0 {
        // Sent by a process (kill, sigqueue), not raised by a fault.
        terminate(sig);
    }
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
    let Some((at_addr, (role, start, base, n))) = found else {
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
    let at = base.wrapping_add((at_addr - start) as u64);
    let label = &label[..n];
    let code = match role {
        r if r == Role::Input as usize => {
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
    fn regions_are_found_while_live_and_freed_on_drop() {
        let buf = [0u8; 64];
        let p = buf.as_ptr();
        let g = register_region(p, 64, Role::Input, 1 << 33, OsStr::new("/x/y"));
        let mut label = [0u8; LABEL];
        let (role, start, base, n) = find_region(p as usize + 10, &mut label).expect("found");
        assert_eq!(
            (role, start, base),
            (Role::Input as usize, p as usize, 1 << 33)
        );
        assert_eq!(&label[..n], b"/x/y");
        assert!(find_region(p as usize + 64, &mut label).is_none());
        drop(g);
        assert!(find_region(p as usize + 10, &mut label).is_none());
    }

    #[test]
    fn long_labels_keep_their_end() {
        let long = format!("/{}/file.pcap", "d".repeat(400));
        let buf = [0u8; 8];
        let _g = register_region(buf.as_ptr(), 8, Role::Output, 0, OsStr::new(&long));
        let mut label = [0u8; LABEL];
        let (_, _, _, n) = find_region(buf.as_ptr() as usize, &mut label).expect("found");
        assert_eq!(n, LABEL);
        assert!(label[..n].ends_with(b"/file.pcap"));
    }

    #[test]
    fn slots_get_a_new_generation_when_freed() {
        let s = Seq::new();
        assert!(s.claim());
        assert!(!s.claim());
        s.publish();
        let live = s.live().expect("live");
        s.release();
        assert!(s.live().is_none());
        assert!(s.claim());
        s.publish();
        let again = s.live().expect("live");
        assert_ne!(live, again, "a reused slot must not look unchanged");
        assert!(!s.unchanged(live));
    }
}
