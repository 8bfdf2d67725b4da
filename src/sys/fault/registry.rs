//! The registry the signal handlers read: mapped regions and temporary
//! outputs, in fixed arrays of static slots (see the parent module for the
//! threading model). Nothing here allocates, frees or moves memory a handler
//! may read.

use super::Role;
use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicUsize, Ordering, fence};

const SLOTS: usize = 16;
pub(super) const LABEL: usize = 192;
pub(super) const NAME: usize = 256;

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
    /// A directory to remove with everything in it (demo's).
    tree: AtomicBool,
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
        // Read only while the slot is live, after `register` stored the fd;
        // all-zero statics stay in .bss (a -1 here would put 4 KiB in .data).
        dirfd: AtomicI32::new(0),
        name: Bytes::new(),
        tree: AtomicBool::new(false),
    }
}; SLOTS];

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
    register(dirfd, name, false)
}

/// Register the directory `name` in `dirfd`, to be removed with its
/// contents if a signal ends the process.
pub(crate) fn register_tree(dirfd: RawFd, name: &OsStr) -> TempGuard {
    register(dirfd, name, true)
}

fn register(dirfd: RawFd, name: &OsStr, tree: bool) -> TempGuard {
    let bytes = name.as_bytes();
    if bytes.len() < NAME && !bytes.contains(&b'/') {
        for (i, t) in TEMPS.iter().enumerate() {
            if t.seq.claim() {
                t.dirfd.store(dirfd, Ordering::Relaxed);
                t.name.store(bytes);
                t.tree.store(tree, Ordering::Relaxed);
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

/// Call `f(dirfd, NUL-terminated name, is_tree)` for every live temporary
/// (async-signal-safe: copies each slot to the stack first).
pub(super) fn each_temp(mut f: impl FnMut(RawFd, &[u8], bool)) {
    for t in TEMPS.iter() {
        let Some(s) = t.seq.live() else { continue };
        let fd = t.dirfd.load(Ordering::Relaxed);
        let tree = t.tree.load(Ordering::Relaxed);
        let mut name = [0u8; NAME];
        let n = t.name.load(&mut name);
        if !t.seq.unchanged(s) || n == 0 || n >= NAME {
            continue;
        }
        name[n] = 0;
        f(fd, &name[..=n], tree);
    }
}

/// The live region containing `addr`: (role, start, len, base, label length).
pub(super) fn find_region(
    addr: usize,
    label: &mut [u8; LABEL],
) -> Option<(usize, usize, usize, u64, usize)> {
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
            return Some((role, start, len, base, n));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_found_while_live_and_freed_on_drop() {
        let buf = [0u8; 64];
        let p = buf.as_ptr();
        let g = register_region(p, 64, Role::Input, 1 << 33, OsStr::new("/x/y"));
        let mut label = [0u8; LABEL];
        let (role, start, len, base, n) = find_region(p as usize + 10, &mut label).expect("found");
        assert_eq!(len, 64);
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
        let (_, _, _, _, n) = find_region(buf.as_ptr() as usize, &mut label).expect("found");
        assert_eq!(n, LABEL);
        assert!(label[..n].ends_with(b"/file.pcap"));
    }

    #[test]
    fn temps_are_listed_while_registered() {
        let g = register_tree(7, OsStr::new("some-dir"));
        let mut seen = Vec::new();
        each_temp(|fd, name, tree| seen.push((fd, name.to_vec(), tree)));
        assert!(
            seen.contains(&(7, b"some-dir\0".to_vec(), true)),
            "{seen:?}"
        );
        drop(g);
        let mut again = Vec::new();
        each_temp(|fd, name, _| again.push((fd, name.to_vec())));
        assert!(!again.contains(&(7, b"some-dir\0".to_vec())));
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
