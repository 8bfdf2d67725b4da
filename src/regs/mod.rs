//! Physical memory and register access: `devmem`, `md`, `mw` and bitfields.
//!
//! A [`Target`] is the register space: `/dev/mem` (physical addresses) or
//! any mappable file given with `--file` (a UIO device, a PCI BAR's
//! `resourceN`, a regular file standing in for a register block), where the
//! address is the offset in the file. [`Target::map`] maps the pages that
//! cover an access with `MAP_SHARED` (64-bit offsets on every target, so
//! physical addresses above 4 GiB work on 32-bit CPUs) and registers the
//! mapping with the fault handler (it is a [`Mapping`]), so a bus error (no
//! device answered, or a page past the end of a file) prints the address
//! and exits with the bus-error code instead of dumping core. [`RegMap::read`]/[`RegMap::write`] check bounds
//! and alignment, then do one volatile access of exactly the asked width
//! ([`access`]).
//!
//! Test hooks (never needed in normal use): `MMKIT_DEVMEM` names the
//! physical-memory device instead of `/dev/mem`; `MMKIT_REGS_TEST=past-eof`
//! skips the end-of-file check (to provoke the bus error on purpose) and
//! `MMKIT_REGS_TEST=drop-writes` skips the stores (a register that ignores
//! writes, to provoke a read-back mismatch); `MMKIT_REGS_TEST=trace` prints
//! one line on stderr before each register access, `mmkit-trace: R|W ADDR
//! WIDTH` (e.g. `mmkit-trace: W 0x40 32`), so tests can count the accesses
//! a command makes. Hooks combine with commas.

mod access;
pub(crate) mod cmd;
mod dump;
mod explain;
pub(crate) mod parse;
pub(crate) mod reg;
pub(crate) mod regmap;
pub(crate) mod wait;
pub(crate) mod whereis;

pub(crate) use access::Width;

use crate::error::{Error, Kind, Result};
use crate::sys::fault::Role;
use crate::sys::map::{Mapping, Spec};
use nix::errno::Errno;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The physical-memory device.
const DEV_MEM: &str = "/dev/mem";

fn test_hook(name: &str) -> bool {
    std::env::var("MMKIT_REGS_TEST")
        .map(|v| v.split(',').any(|h| h.trim() == name))
        .unwrap_or(false)
}

/// The register space: /dev/mem or a `--file`.
pub(crate) struct Target {
    path: PathBuf,
    file: File,
    /// Addresses are physical (the /dev/mem device), not file offsets.
    phys: bool,
    writable: bool,
    /// Size of a regular file (None for devices: no end to check).
    size: Option<u64>,
}

impl Target {
    /// Open `file` (or the physical-memory device when None) read-only, or
    /// read-write when `write`, with O_SYNC.
    pub(crate) fn open(file: Option<&Path>, write: bool) -> Result<Target> {
        let (path, phys) = match file {
            Some(p) => (p.to_path_buf(), p == Path::new(DEV_MEM)),
            None => (
                std::env::var_os("MMKIT_DEVMEM")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(DEV_MEM)),
                true,
            ),
        };
        // Opening a FIFO would block until a writer (or reader) came:
        // refuse it before opening.
        if std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
            return Err(Error::usage("not a file or device node (a FIFO)").with_path(&path));
        }
        let f = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(nix::fcntl::OFlag::O_SYNC.bits())
            .open(&path)
            .map_err(|e| {
                let n = Errno::from_raw(e.raw_os_error().unwrap_or(0));
                let what = if write {
                    "cannot open for writing"
                } else {
                    "cannot open"
                };
                Error::io(what, e)
                    .with_path(&path)
                    .hint(explain::open(n, phys, write))
            })?;
        let meta = f
            .metadata()
            .map_err(|e| Error::io("cannot stat", e).with_path(&path))?;
        let ft = meta.file_type();
        let size = if ft.is_file() {
            Some(meta.len())
        } else if ft.is_char_device() || ft.is_block_device() {
            None
        } else {
            return Err(Error::usage("not a file or device node").with_path(&path));
        };
        log::debug!(
            "regs: opened {} {} ({})",
            path.display(),
            if write { "read-write" } else { "read-only" },
            match size {
                Some(s) => format!("regular file, {s} bytes"),
                None => "device".into(),
            }
        );
        Ok(Target {
            path,
            file: f,
            phys,
            writable: write,
            size,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Size of a regular file; None for a device.
    pub(crate) fn size(&self) -> Option<u64> {
        self.size
    }

    /// "physical 0x1000" or "offset 0x1000 of PATH", for messages.
    pub(crate) fn describe(&self, addr: u64) -> String {
        if self.phys {
            format!("physical 0x{addr:X}")
        } else {
            format!("offset 0x{addr:X} of {}", self.path.display())
        }
    }

    /// Refuse `[addr, addr+len)` when it runs past the end of a regular
    /// file: touching a page past the end is a bus error.
    pub(crate) fn check_range(&self, addr: u64, len: u64) -> Result<()> {
        let Some(size) = self.size else { return Ok(()) };
        let end = addr.checked_add(len);
        if end.is_some_and(|e| e <= size) || test_hook("past-eof") {
            return Ok(());
        }
        Err(Error::usage(format!(
            "{} (+{len} bytes) is beyond the end of the file ({size} bytes)",
            self.describe(addr)
        ))
        .hint("refusing to touch it: a mapped page past the end of a file raises a bus error"))
    }

    /// Before a regular file is mapped for writing, allocate the holes in
    /// the mapped pages `[base, base + len)` (cut at the end of the file):
    /// a store into a hole of a sparse file on a full filesystem would
    /// otherwise raise SIGBUS, reported as a bus error, instead of ENOSPC
    /// (exit 5). Filesystems that cannot preallocate (EOPNOTSUPP, e.g.
    /// sysfs `resourceN` files) are left alone; the fault handler still
    /// guards the access.
    fn reserve(&self, base: u64, len: u64) -> Result<()> {
        let Some(size) = self.size else { return Ok(()) };
        if !self.writable || base >= size {
            return Ok(());
        }
        let len = len.min(size - base);
        match crate::sys::fallocate_range(&self.file, base, len) {
            Ok(true) => Ok(()),
            Ok(false) => {
                log::debug!(
                    "regs: {} cannot preallocate; not reserving its mapped pages",
                    self.path.display()
                );
                Ok(())
            }
            Err(e) => {
                let err = Error::io(
                    format!("cannot reserve disk space for {}", self.describe(base)),
                    e,
                );
                if err.kind != Kind::NoSpace {
                    // Not a lack of space (EINVAL, EPERM on some special
                    // files): map as before; the fault handler guards.
                    log::debug!("regs: not reserving the mapped pages: {err}");
                    return Ok(());
                }
                Err(err.hint(
                    "the file has holes here and its filesystem is full (or the quota is used up): \
                     writing through the mapping would fail; free some space",
                ))
            }
        }
    }

    /// Map the pages covering `[addr, addr+len)`.
    pub(crate) fn map(&self, addr: u64, len: usize) -> Result<RegMap> {
        let page = crate::sys::page_size() as u64;
        let base = addr - addr % page;
        let end = addr
            .checked_add(len as u64)
            .ok_or_else(|| Error::usage(format!("0x{addr:X} + {len} overflows 64 bits")))?;
        let map_len = (end - base).div_ceil(page) * page;
        let map_len = usize::try_from(map_len)
            .map_err(|_| Error::usage(format!("{len} bytes do not fit this address space")))?;
        self.reserve(base, map_len as u64)?;
        let role = if self.phys {
            Role::PhysRegister
        } else {
            Role::FileRegister
        };
        let spec = Spec {
            offset: base,
            len: map_len,
            writable: self.writable,
            populate: false,
        };
        let map = Mapping::new(&self.file, spec, role, &self.path).map_err(|e| {
            let n = Errno::from_raw(e.raw_os_error().unwrap_or(0));
            Error::io(format!("cannot map {}", self.describe(base)), e)
                .hint(explain::map(n, self.phys, base, map_len))
        })?;
        log::debug!(
            "regs: mapped {map_len} bytes of {} at {} ({})",
            self.path.display(),
            self.describe(base),
            if self.writable {
                "read-write"
            } else {
                "read-only"
            }
        );
        Ok(RegMap {
            map,
            base,
            writable: self.writable,
            drop_writes: test_hook("drop-writes"),
            trace: test_hook("trace"),
        })
    }
}

/// A live, guarded mapping of register pages.
pub(crate) struct RegMap {
    map: Mapping,
    /// Address (physical or file offset) of the first mapped byte.
    base: u64,
    writable: bool,
    drop_writes: bool,
    /// The `trace` test hook: log every access on stderr.
    trace: bool,
}

impl RegMap {
    /// The offset of `addr` in the mapping, checked to be aligned.
    fn offset(&self, addr: u64, w: Width) -> Result<usize> {
        if !addr.is_multiple_of(w.bytes() as u64) {
            return Err(unaligned(addr, w));
        }
        addr.checked_sub(self.base)
            .and_then(|off| usize::try_from(off).ok())
            .ok_or_else(|| self.outside(addr))
    }

    fn outside(&self, addr: u64) -> Error {
        Error::usage(format!("0x{addr:X} is outside the mapped range"))
    }

    /// The `trace` test hook's line for one access (made before it, so a
    /// faulting access is logged too).
    fn log(&self, what: char, addr: u64, w: Width) {
        if self.trace {
            eprintln!("mmkit-trace: {what} 0x{addr:X} {}", w.bits());
        }
    }

    /// One volatile read of width `w` at `addr`.
    pub(crate) fn read(&self, addr: u64, w: Width) -> Result<u64> {
        let off = self.offset(addr, w)?;
        self.log('R', addr, w);
        access::read(&self.map, off, w).ok_or_else(|| self.outside(addr))
    }

    /// One volatile write of width `w` at `addr`.
    pub(crate) fn write(&self, addr: u64, w: Width, v: u64) -> Result<()> {
        if !self.writable {
            return Err(Error::usage("internal: write through a read-only mapping"));
        }
        let off = self.offset(addr, w)?;
        if self.drop_writes {
            return Ok(());
        }
        self.log('W', addr, w);
        access::write(&self.map, off, w, v).ok_or_else(|| self.outside(addr))
    }
}

/// The error for an address not aligned to its access width.
pub(crate) fn unaligned(addr: u64, w: Width) -> Error {
    Error::usage(format!(
        "address 0x{addr:X} is not aligned to the {}-bit width (it must be a multiple of {})",
        w.bits(),
        w.bytes()
    ))
    .hint("registers are accessed at aligned addresses only: an unaligned access raises a bus error or returns rotated bytes on ARM and MIPS")
}

/// The error for a value wider than its destination (`what`: "the 8-bit
/// width", "the field [7:4]").
pub(crate) fn too_wide(v: u64, bits: u32, what: &str) -> Error {
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    Error::usage(format!(
        "value 0x{v:X} does not fit {what} ({bits} bits: at most 0x{max:X})"
    ))
    .hint("busybox devmem would silently truncate it; give a value that fits")
}
