//! `md` output: memtool/U-Boot style lines of 16 bytes: an address column,
//! the values at the chosen width (lower-case hex, CPU byte order), and an
//! ASCII column built from the bytes of the values already read (the
//! registers are never read a second time for it).
//!
//! ```text
//! 00001000: 64636261 68676665 00000000 deadbeef  abcdefgh........
//! ```

use super::Width;

/// Bytes shown per line.
pub(crate) const LINE: usize = 16;

/// The bytes of a `w`-wide value as they lie in memory on this CPU.
pub(crate) fn mem_bytes(v: u64, w: Width) -> Vec<u8> {
    let n = w.bytes();
    if cfg!(target_endian = "little") {
        v.to_le_bytes()[..n].to_vec()
    } else {
        v.to_be_bytes()[8 - n..].to_vec()
    }
}

/// Digits of the address column for a dump ending before `end`: at least 8.
pub(crate) fn addr_digits(end: u64) -> usize {
    let last = end.saturating_sub(1);
    let digits = (64 - last.leading_zeros() as usize).div_ceil(4);
    digits.max(8)
}

/// One line: `addr`, then `vals` (at most LINE / w.bytes()), padded so the
/// ASCII column of a short last line lines up with the others.
pub(crate) fn line(addr: u64, digits: usize, w: Width, vals: &[u64]) -> String {
    let per_line = LINE / w.bytes();
    let vd = w.digits();
    let mut s = format!("{addr:0digits$x}:");
    let mut ascii = String::with_capacity(LINE);
    for v in vals {
        s.push_str(&format!(" {v:0vd$x}"));
        for b in mem_bytes(*v, w) {
            ascii.push(if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            });
        }
    }
    for _ in vals.len()..per_line {
        s.push_str(&" ".repeat(vd + 1));
    }
    s.push_str("  ");
    s.push_str(&ascii);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_layout() {
        let v = |b: [u8; 4]| u32::from_ne_bytes(b) as u64;
        let l = line(
            0x1000,
            8,
            Width::W32,
            &[v(*b"abcd"), v(*b"efgh"), 0, v([0xde, 0xad, 0xbe, 0xef])],
        );
        let want_vals = format!(
            "{:08x} {:08x} {:08x} {:08x}",
            v(*b"abcd"),
            v(*b"efgh"),
            0,
            v([0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(l, format!("00001000: {want_vals}  abcdefgh........"));
    }

    #[test]
    fn short_lines_keep_the_ascii_column() {
        let full = line(0, 8, Width::W8, &[0x41; 16]);
        let short = line(0x10, 8, Width::W8, &[0x41, 0x42]);
        assert_eq!(full.find("  A"), short.find("  A"));
        assert!(short.ends_with("  AB"), "{short:?}");
        assert_eq!(
            line(0, 8, Width::W64, &[0x4847_4645_4443_4241]).len(),
            "00000000: ".len() + 33 + 2 + 8
        );
    }

    #[test]
    fn address_column_grows_past_4g() {
        assert_eq!(addr_digits(0x100), 8);
        assert_eq!(addr_digits(0x1_0000_0000), 8);
        assert_eq!(addr_digits(0x1_0000_0001), 9);
        assert_eq!(addr_digits(0), 8);
    }

    #[test]
    fn memory_order_bytes() {
        let b = mem_bytes(u16::from_ne_bytes([1, 2]) as u64, Width::W16);
        assert_eq!(b, vec![1, 2]);
        let b = mem_bytes(u64::from_ne_bytes(*b"ABCDEFGH"), Width::W64);
        assert_eq!(b, b"ABCDEFGH".to_vec());
    }
}
