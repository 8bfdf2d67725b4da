//! The register accesses themselves: one `read_volatile`/`write_volatile`
//! of exactly the requested width on an aligned address inside a live
//! mapping. Nothing else in mmkit dereferences a register pointer.
//!
//! A 64-bit access on a 32-bit CPU (MIPS32, ARMv5/v7) is done as two 32-bit
//! accesses, the lower address first (on little-endian CPUs that is the low
//! word, on big-endian MIPS the high word). It is not atomic: a 64-bit
//! counter can carry between the halves. On 64-bit CPUs it is one access.

/// An access width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    W8,
    W16,
    W32,
    W64,
}

impl Width {
    pub fn from_bits(bits: u32) -> Option<Width> {
        match bits {
            8 => Some(Width::W8),
            16 => Some(Width::W16),
            32 => Some(Width::W32),
            64 => Some(Width::W64),
            _ => None,
        }
    }
    pub fn bits(self) -> u32 {
        self.bytes() as u32 * 8
    }
    pub fn bytes(self) -> usize {
        match self {
            Width::W8 => 1,
            Width::W16 => 2,
            Width::W32 => 4,
            Width::W64 => 8,
        }
    }
    /// The largest value of this width.
    pub fn max(self) -> u64 {
        if self == Width::W64 {
            u64::MAX
        } else {
            (1u64 << self.bits()) - 1
        }
    }
    /// Hex digits that show this width (busybox: WIDTH/4).
    pub fn digits(self) -> usize {
        self.bytes() * 2
    }
}

/// How a 64-bit access is performed on this CPU (for messages and --help).
pub const ACCESS64: &str = if cfg!(target_pointer_width = "64") {
    "one 64-bit access"
} else {
    "two 32-bit accesses, lower address first (not atomic)"
};

/// Read `w` bits at `p`.
///
/// # Safety
/// `p` must be aligned to `w`, and `[p, p + w.bytes())` must lie inside a
/// live mapping that is readable (a register page or a mapped file range).
pub unsafe fn read(p: *const u8, w: Width) -> u64 {
    debug_assert_eq!(p as usize % w.bytes(), 0);
    // SAFETY (all arms): the caller guarantees alignment and a live readable
    // mapping of w.bytes() bytes at p.
    unsafe {
        match w {
            Width::W8 => std::ptr::read_volatile(p) as u64,
            Width::W16 => std::ptr::read_volatile(p as *const u16) as u64,
            Width::W32 => std::ptr::read_volatile(p as *const u32) as u64,
            Width::W64 => read64(p),
        }
    }
}

/// Write the low `w` bits of `v` at `p`.
///
/// # Safety
/// As for [`read`], and the mapping must be writable.
pub unsafe fn write(p: *mut u8, w: Width, v: u64) {
    debug_assert_eq!(p as usize % w.bytes(), 0);
    // SAFETY (all arms): the caller guarantees alignment and a live writable
    // mapping of w.bytes() bytes at p.
    unsafe {
        match w {
            Width::W8 => std::ptr::write_volatile(p, v as u8),
            Width::W16 => std::ptr::write_volatile(p as *mut u16, v as u16),
            Width::W32 => std::ptr::write_volatile(p as *mut u32, v as u32),
            Width::W64 => write64(p, v),
        }
    }
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

    #[test]
    fn widths() {
        assert_eq!(Width::W8.max(), 0xFF);
        assert_eq!(Width::W64.max(), u64::MAX);
        assert_eq!(Width::W16.digits(), 4);
        assert_eq!(Width::from_bits(12), None);
    }

    #[test]
    fn volatile_round_trip_in_native_order() {
        let mut buf = [0u64; 2];
        let p = buf.as_mut_ptr() as *mut u8;
        for (w, v) in [
            (Width::W8, 0xA5u64),
            (Width::W16, 0xBEEF),
            (Width::W32, 0xDEAD_BEEF),
            (Width::W64, 0x0123_4567_89AB_CDEF),
        ] {
            // SAFETY: p points into buf, 8-aligned, 16 bytes long.
            let r = unsafe {
                write(p.add(8), w, v);
                read(p.add(8), w)
            };
            assert_eq!(r, v);
        }
        // The 64-bit value sits in memory in native byte order, whatever
        // the CPU does to perform the access.
        assert_eq!(buf[1], 0x0123_4567_89AB_CDEF);
    }
}
