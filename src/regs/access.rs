//! The register accesses themselves: one `read_volatile`/`write_volatile`
//! of exactly the requested width on an aligned address inside a live
//! [`Mapping`]. Nothing else in mmkit dereferences a register pointer.
//!
//! A 64-bit access on a 32-bit CPU (MIPS32, ARMv5/v7) is done as two 32-bit
//! accesses, the lower address first (on little-endian CPUs that is the low
//! word, on big-endian MIPS the high word). It is not atomic: a 64-bit
//! counter can carry between the halves. On 64-bit CPUs it is one access.

use crate::sys::fault;
use crate::sys::map::Mapping;

/// An access width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    W8,
    W16,
    W32,
    W64,
}

impl Width {
    pub(crate) fn from_bits(bits: u32) -> Option<Width> {
        match bits {
            8 => Some(Width::W8),
            16 => Some(Width::W16),
            32 => Some(Width::W32),
            64 => Some(Width::W64),
            _ => None,
        }
    }
    pub(crate) fn bits(self) -> u32 {
        self.bytes() as u32 * 8
    }
    pub(crate) fn bytes(self) -> usize {
        match self {
            Width::W8 => 1,
            Width::W16 => 2,
            Width::W32 => 4,
            Width::W64 => 8,
        }
    }
    /// The largest value of this width.
    pub(crate) fn max(self) -> u64 {
        if self == Width::W64 {
            u64::MAX
        } else {
            (1u64 << self.bits()) - 1
        }
    }
    /// Hex digits that show this width (busybox: WIDTH/4).
    pub(crate) fn digits(self) -> usize {
        self.bytes() * 2
    }
}

/// One volatile read of `w` bits at byte `off` of the register mapping
/// `m`: None when `[off, off + w)` is not inside it or `off` is not aligned
/// to `w` (the mapping starts on a page, so an aligned offset is an aligned
/// address).
pub(crate) fn read(m: &Mapping, off: usize, w: Width) -> Option<u64> {
    if !off.is_multiple_of(w.bytes()) {
        return None;
    }
    let p = m.reg_ptr(off, w.bytes())?;
    fault::access_begin(p);
    // SAFETY: p is aligned to w and inside the live mapping m (checked
    // above); a bus error there is caught by m's fault registration.
    let v = unsafe {
        match w {
            Width::W8 => std::ptr::read_volatile(p) as u64,
            Width::W16 => std::ptr::read_volatile(p as *const u16) as u64,
            Width::W32 => std::ptr::read_volatile(p as *const u32) as u64,
            Width::W64 => read64(p),
        }
    };
    fault::access_end();
    Some(v)
}

/// One volatile write of the low `w` bits of `v` at byte `off` of `m`:
/// None when out of range, unaligned, or `m` is read-only.
pub(crate) fn write(m: &Mapping, off: usize, w: Width, v: u64) -> Option<()> {
    if !off.is_multiple_of(w.bytes()) || !m.is_writable() {
        return None;
    }
    let p = m.reg_ptr(off, w.bytes())?;
    fault::access_begin(p);
    // SAFETY: p is aligned to w and inside the live, writable mapping m
    // (checked above); a bus error there is caught by m's registration.
    unsafe {
        match w {
            Width::W8 => std::ptr::write_volatile(p, v as u8),
            Width::W16 => std::ptr::write_volatile(p as *mut u16, v as u16),
            Width::W32 => std::ptr::write_volatile(p as *mut u32, v as u32),
            Width::W64 => write64(p, v),
        }
    }
    fault::access_end();
    Some(())
}

#[cfg(target_pointer_width = "64")]
unsafe fn read64(p: *const u8) -> u64 {
    // SAFETY: see `read`.
    unsafe { std::ptr::read_volatile(p as *const u64) }
}

#[cfg(target_pointer_width = "64")]
unsafe fn write64(p: *mut u8, v: u64) {
    // SAFETY: see `write`.
    unsafe { std::ptr::write_volatile(p as *mut u64, v) }
}

#[cfg(not(target_pointer_width = "64"))]
unsafe fn read64(p: *const u8) -> u64 {
    // SAFETY: see `read`; p is 8-aligned so p and p+4 are 4-aligned and
    // both inside the 8 mapped bytes.
    let (first, second) = unsafe {
        let a = std::ptr::read_volatile(p as *const u32);
        let b = std::ptr::read_volatile(p.add(4) as *const u32);
        (a, b)
    };
    if cfg!(target_endian = "little") {
        (second as u64) << 32 | first as u64
    } else {
        (first as u64) << 32 | second as u64
    }
}

#[cfg(not(target_pointer_width = "64"))]
unsafe fn write64(p: *mut u8, v: u64) {
    let (first, second) = if cfg!(target_endian = "little") {
        (v as u32, (v >> 32) as u32)
    } else {
        ((v >> 32) as u32, v as u32)
    };
    // SAFETY: see `write` and `read64`.
    unsafe {
        std::ptr::write_volatile(p as *mut u32, first);
        std::ptr::write_volatile(p.add(4) as *mut u32, second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::map::{Spec, test_file};

    #[test]
    fn widths() {
        assert_eq!(Width::W8.max(), 0xFF);
        assert_eq!(Width::W64.max(), u64::MAX);
        assert_eq!(Width::W16.digits(), 4);
        assert_eq!(Width::from_bits(12), None);
    }

    #[test]
    fn volatile_round_trip_in_native_order() {
        let (p, f) = test_file("access", 4096, 0);
        let spec = Spec {
            offset: 0,
            len: 4096,
            writable: true,
            populate: false,
        };
        let m = Mapping::new(&f, spec, fault::Role::FileRegister, &p).unwrap();
        for (w, v) in [
            (Width::W8, 0xA5u64),
            (Width::W16, 0xBEEF),
            (Width::W32, 0xDEAD_BEEF),
            (Width::W64, 0x0123_4567_89AB_CDEF),
        ] {
            write(&m, 8, w, v).unwrap();
            assert_eq!(read(&m, 8, w), Some(v));
        }
        // The 64-bit value sits in memory in native byte order, whatever
        // the CPU does to perform the access.
        assert_eq!(m.bytes()[8..16], 0x0123_4567_89AB_CDEFu64.to_ne_bytes());
        assert_eq!(read(&m, 9, Width::W16), None, "unaligned");
        assert_eq!(read(&m, 4092, Width::W64), None, "past the end");
        drop(m);
        let _ = std::fs::remove_file(&p);
    }
}
