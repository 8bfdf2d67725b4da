//! Physical memory and register access: `devmem`, `md`, `mw` and bitfields.
//!
//! A [`Target`] is the register space: `/dev/mem` (physical addresses) or
//! any mappable file given with `--file` (a UIO device, a PCI BAR's
//! `resourceN`, a regular file standing in for a register block), where the
//! address is the offset in the file. [`Target::map`] maps the pages that
//! cover an access with `MAP_SHARED` (64-bit offsets on every target, so
//! physical addresses above 4 GiB work on 32-bit CPUs) and registers the
//! mapping with [`crate::diag`], so a bus error (no device answered, or a
//! page past the end of a file) prints the address and exits with code 7
//! instead of dumping core. [`RegMap::read`]/[`RegMap::write`] check bounds
//! and alignment, then do one volatile access of exactly the asked width
//! ([`access`]).
//!
//! Test hooks (never needed in normal use): `MMKIT_DEVMEM` names the
//! physical-memory device instead of `/dev/mem`; `MMKIT_REGS_TEST=past-eof`
//! skips the end-of-file check (to provoke the bus error on purpose) and
//! `MMKIT_REGS_TEST=drop-writes` skips the stores (a register that ignores
//! writes, to provoke a read-back mismatch).

pub mod access;
pub mod cmd;
pub mod dump;
pub mod explain;
pub mod parse;
pub mod reg;
pub mod regmap;
pub mod wait;
pub mod whereis;

pub use access::Width;

use crate::diag::{self, RegionGuard, RegionKind};
use crate::error::{Error, Result};
use memmap2::{MmapOptions, MmapRaw};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The physical-memory device.
pub const DEV_MEM: &str = "/dev/mem";

fn test_hook(name: &str) -> bool {
    std::env::var("MMKIT_REGS_TEST")
        .map(|v| v.split(',').any(|h| h.trim() == name))
        .unwrap_or(false)
}

/// The register space: /dev/mem or a `--file`.
pub struct Target {
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
    pub fn open(file: Option<&Path>, write: bool) -> Result<Target> {
        let (path, phys) = match file {
            Some(p) => (p.to_path_buf(), p == Path::new(DEV_MEM)),
            None => (
                std::env::var_os("MMKIT_DEVMEM")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(DEV_MEM)),
                true,
            ),
        };
        let f = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(libc::O_SYNC)
            .open(&path)
            .map_err(|e| {
                let n = e.raw_os_error().unwrap_or(0);
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of a regular file; None for a device.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// "physical 0x1000" or "offset 0x1000 of PATH", for messages.
    pub fn describe(&self, addr: u64) -> String {
        if self.phys {
            format!("physical 0x{addr:X}")
        } else {
            format!("offset 0x{addr:X} of {}", self.path.display())
        }
    }

    /// Refuse `[addr, addr+len)` when it runs past the end of a regular
    /// file: touching a page past the end is a bus error.
    pub fn check_range(&self, addr: u64, len: u64) -> Result<()> {
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

    /// Map the pages covering `[addr, addr+len)`.
    pub fn map(&self, addr: u64, len: usize) -> Result<RegMap> {
        let page = diag::page_size() as u64;
        let base = addr - addr % page;
        let end = addr
            .checked_add(len as u64)
            .ok_or_else(|| Error::usage(format!("0x{addr:X} + {len} overflows 64 bits")))?;
        let map_len = (end - base).div_ceil(page) * page;
        let map_len = usize::try_from(map_len)
            .map_err(|_| Error::usage(format!("{len} bytes do not fit this address space")))?;
        let mut opts = MmapOptions::new();
        opts.offset(base).len(map_len);
        let r = if self.writable {
            opts.map_raw(&self.file)
        } else {
            opts.map_raw_read_only(&self.file)
        };
        let map = r.map_err(|e| {
            let n = e.raw_os_error().unwrap_or(0);
            Error::io(format!("cannot map {}", self.describe(base)), e)
                .hint(explain::map(n, self.phys, base, map_len))
        })?;
        let kind = if self.phys {
            RegionKind::PhysRegister
        } else {
            RegionKind::FileRegister
        };
        let guard = diag::guard(map.as_ptr(), map_len, kind, base, &self.path);
        log::debug!(
            "regs: mapped {map_len} bytes of {} at {} to {:p} ({})",
            self.path.display(),
            self.describe(base),
            map.as_ptr(),
            if self.writable {
                "read-write"
            } else {
                "read-only"
            }
        );
        Ok(RegMap {
            _guard: guard,
            map,
            base,
            len: map_len,
            writable: self.writable,
            drop_writes: test_hook("drop-writes"),
        })
    }
}

/// A live mapping of register pages. The guard is declared first so it is
/// unregistered before the pages are unmapped.
pub struct RegMap {
    _guard: RegionGuard,
    map: MmapRaw,
    /// Address (physical or file offset) of the first mapped byte.
    base: u64,
    len: usize,
    writable: bool,
    drop_writes: bool,
}

impl RegMap {
    /// Pointer to `addr`, checked to be inside the mapping and aligned.
    fn ptr(&self, addr: u64, w: Width) -> Result<*mut u8> {
        let bytes = w.bytes() as u64;
        if !addr.is_multiple_of(bytes) {
            return Err(unaligned(addr, w));
        }
        let off = addr
            .checked_sub(self.base)
            .filter(|o| o.checked_add(bytes).is_some_and(|e| e <= self.len as u64))
            .ok_or_else(|| Error::usage(format!("0x{addr:X} is outside the mapped range")))?;
        // SAFETY: off + bytes <= len, so the pointer stays inside the mapping.
        Ok(unsafe { self.map.as_mut_ptr().add(off as usize) })
    }

    /// One volatile read of width `w` at `addr`.
    pub fn read(&self, addr: u64, w: Width) -> Result<u64> {
        let p = self.ptr(addr, w)?;
        diag::access_begin(p);
        // SAFETY: p is aligned to w and inside this live, readable mapping;
        // a bus error there is caught by the registered guard.
        let v = unsafe { access::read(p, w) };
        diag::access_end();
        Ok(v)
    }

    /// One volatile write of width `w` at `addr`.
    pub fn write(&self, addr: u64, w: Width, v: u64) -> Result<()> {
        if !self.writable {
            return Err(Error::usage("internal: write through a read-only mapping"));
        }
        let p = self.ptr(addr, w)?;
        if self.drop_writes {
            return Ok(());
        }
        diag::access_begin(p);
        // SAFETY: p is aligned to w and inside this live mapping, which was
        // mapped PROT_READ|PROT_WRITE (writable checked above).
        unsafe { access::write(p, w, v) };
        diag::access_end();
        Ok(())
    }
}

/// The error for an address not aligned to its access width.
pub fn unaligned(addr: u64, w: Width) -> Error {
    Error::usage(format!(
        "address 0x{addr:X} is not aligned to the {}-bit width (it must be a multiple of {})",
        w.bits(),
        w.bytes()
    ))
    .hint("registers are accessed at aligned addresses only: an unaligned access raises a bus error or returns rotated bytes on ARM and MIPS")
}

/// The error for a value wider than its destination (`what`: "the 8-bit
/// width", "the field [7:4]").
pub fn too_wide(v: u64, bits: u32, what: &str) -> Error {
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
