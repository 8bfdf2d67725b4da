//! The one mapping type: every map in mmkit (input windows, `--write mmap`
//! outputs, register pages, the benchmark's files) is a [`Mapping`].
//!
//! A `Mapping` maps a range of a file with memmap2, registers the address
//! range with the fault handler ([`super::fault`]) so a bus error in it is
//! reported with the file and offset, and on drop **unregisters before it
//! unmaps** (the guard field is declared first: Rust drops fields in order).
//! Advice, locking and flushing go through memmap2.
//!
//! # The one safety argument
//! Mapping a file is `unsafe` in memmap2 because the file can change under
//! the mapping, which Rust's reference rules do not allow for. mmkit hands
//! out `&[u8]`/`&mut [u8]` over mappings on these grounds:
//! * **A file that shrinks** (another process truncates it) makes pages past
//!   the new end raise SIGBUS on access. Every mapping is registered with the
//!   fault handler before any byte is touched, and the handler reports the
//!   file and offset and ends the process (`_exit`): control never returns to
//!   code holding a reference to the vanished page. The one exception is a
//!   window of a followed file ([`Role::Follow`]): there the handler maps
//!   private zero pages over the whole window and returns, so the reference
//!   stays valid (it reads zeros), and the reader throws away what it copied
//!   and reads the file again (`records::stream::source`).
//! * **A file that another process writes in place** changes bytes we read.
//!   mmkit treats every mapped byte as untrusted input: it copies bytes or
//!   decodes them with `from_le_bytes`/`from_be_bytes` on slices and
//!   re-validates every decoded value (lengths, magics, offsets) before use,
//!   so a concurrent writer can make results wrong (reported as damage), but
//!   never makes mmkit index out of bounds or read outside a mapping.
//! * **Outputs** are mmkit's own temporary files, created with `O_EXCL` and
//!   sized before they are mapped; **register pages** are only accessed
//!   through raw volatile pointers ([`Mapping::reg_ptr`]), never references.

use super::fault::{self, RegionGuard, Role};
use memmap2::{Advice, MmapOptions, MmapRaw, UncheckedAdvice};
use std::fs::File;
use std::io;
use std::path::Path;

/// A live, guarded mapping of part of a file.
pub(crate) struct Mapping {
    // Declared first: dropped (unregistered) before `map` is unmapped.
    _guard: RegionGuard,
    map: MmapRaw,
    writable: bool,
    role: Role,
}

/// How to map.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    /// File offset of the first byte (a multiple of the page size).
    pub offset: u64,
    pub len: usize,
    /// PROT_READ|PROT_WRITE, MAP_SHARED (else read-only).
    pub writable: bool,
    /// Fault the pages in at mmap time (MAP_POPULATE).
    pub populate: bool,
}

impl Mapping {
    /// Map `spec` of `file` for `role`; `label` (a path) names it in bus
    /// error messages.
    pub(crate) fn new(file: &File, spec: Spec, role: Role, label: &Path) -> io::Result<Mapping> {
        let mut opts = MmapOptions::new();
        opts.offset(spec.offset).len(spec.len);
        if spec.populate {
            opts.populate();
        }
        let map = if spec.writable {
            opts.map_raw(file)?
        } else {
            opts.map_raw_read_only(file)?
        };
        let guard = fault::register_region(
            map.as_ptr(),
            map.len(),
            role,
            spec.offset,
            label.as_os_str(),
        );
        Ok(Mapping {
            _guard: guard,
            map,
            writable: spec.writable,
            role,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the range is our live mapping of `len` readable bytes; see
        // the module documentation for files that change under it.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), self.map.len()) }
    }

    /// The mapped bytes, writable (None for a read-only mapping).
    pub(crate) fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        // SAFETY: a live PROT_WRITE mapping of `len` bytes, borrowed mutably
        // through `&mut self`; see the module documentation.
        Some(unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr(), self.map.len()) })
    }

    /// A pointer to `[off, off + n)` for a volatile register access, or
    /// None when that range is not inside the mapping. Dereferencing it is
    /// the caller's (aligned, volatile) business.
    pub(crate) fn reg_ptr(&self, off: usize, n: usize) -> Option<*mut u8> {
        let end = off.checked_add(n)?;
        if end > self.map.len() {
            return None;
        }
        // SAFETY: off + n <= len: the pointer stays inside the mapping.
        Some(unsafe { self.map.as_mut_ptr().add(off) })
    }

    /// Advise the kernel about `[off, off + len)` (errors are the caller's
    /// to ignore: advice never changes what the memory holds).
    pub(crate) fn advise(&self, advice: Advice, off: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        self.map.advise_range(advice, off, len)
    }

    /// Release the pages of `[off, off + len)` (MADV_DONTNEED), so resident
    /// memory stays flat behind a sequential reader. Only for read-only
    /// input windows; a no-op for any other mapping.
    pub(crate) fn release(&self, off: usize, len: usize) -> io::Result<()> {
        if len == 0 || self.writable || self.role != Role::Input {
            return Ok(());
        }
        // SAFETY: MADV_DONTNEED on a read-only MAP_SHARED mapping of a file
        // drops only clean page-cache references: the next access re-reads
        // the same bytes from the file. Nothing is lost (it would be for a
        // private or anonymous mapping, which is why memmap2 makes this
        // unchecked), and the range is inside our live mapping.
        unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, off, len)
        }
    }

    /// Keep the mapping resident (mlock).
    pub(crate) fn lock(&self) -> io::Result<()> {
        self.map.lock()
    }

    /// Write dirty pages back: msync(MS_SYNC) when `sync`, else MS_ASYNC.
    pub(crate) fn flush(&self, sync: bool) -> io::Result<()> {
        if sync {
            self.map.flush()
        } else {
            self.map.flush_async()
        }
    }

    /// Hint that `[off, off + len)` will be read soon: prefetch its cache
    /// lines where the CPU has a prefetch instruction usable on stable Rust.
    /// Clamped to the mapping; never faults.
    pub(crate) fn prefetch(&self, off: usize, len: usize) {
        let end = off.saturating_add(len).min(self.map.len());
        #[cfg(target_arch = "x86_64")]
        {
            let base = self.map.as_ptr();
            let mut i = off;
            while i < end {
                // SAFETY: a prefetch hint for an address inside our mapping
                // (i < end <= len); prefetches never fault.
                unsafe {
                    core::arch::x86_64::_mm_prefetch(
                        base.add(i).cast::<i8>(),
                        core::arch::x86_64::_MM_HINT_T0,
                    )
                };
                i += 64;
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = end;
    }
}

/// A fresh read-write file `len` bytes long holding `fill`, for tests.
#[cfg(test)]
pub(crate) fn test_file(tag: &str, len: usize, fill: u8) -> (std::path::PathBuf, File) {
    use std::io::Write;
    let p = std::env::temp_dir().join(format!("mmkit-{tag}-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .expect("create test file");
    f.write_all(&vec![fill; len]).expect("fill test file");
    (p, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_reads_writes_and_unregisters() {
        let (p, f) = test_file("map", 8192, 7);
        let spec = Spec {
            offset: 4096,
            len: 4096,
            writable: true,
            populate: false,
        };
        let mut m = Mapping::new(&f, spec, Role::Output, &p).unwrap();
        assert_eq!(m.bytes()[0], 7);
        m.bytes_mut().unwrap()[0] = 9;
        m.flush(true).unwrap();
        assert!(m.reg_ptr(4092, 4).is_some());
        assert!(m.reg_ptr(4093, 4).is_none());
        assert!(m.reg_ptr(usize::MAX, 2).is_none());
        drop(m);
        assert_eq!(std::fs::read(&p).unwrap()[4096], 9);
        let ro = Spec {
            writable: false,
            ..spec
        };
        let mut r = Mapping::new(&f, ro, Role::Input, &p).unwrap();
        assert!(r.bytes_mut().is_none());
        r.release(0, 4096).unwrap();
        assert_eq!(r.bytes()[0], 9, "released pages are re-read from the file");
        let _ = std::fs::remove_file(&p);
    }
}
