//! Command-line parsing for register access: numbers the way busybox
//! `devmem` reads them, access widths, bitfield addresses (`ADDR:HI:LO=V`)
//! and `md` ranges (`ADDR+LEN`, `ADDR-END`).

use super::Width;
use crate::error::{Error, Result};
use crate::num::parse_num;

/// Parse a WIDTH argument like busybox: a decimal bit count (8, 16, 32,
/// 64) or one letter `b` (8), `h` (16), `w` (32), `l` (C `long`: 32 bits on
/// 32-bit CPUs, 64 on 64-bit ones, as in busybox), in either case.
pub(crate) fn parse_width(s: &str) -> Result<Width> {
    let bad = || {
        Error::usage(format!(
            "bad width '{s}': use 8, 16, 32 or 64 (or b, h, w, l)"
        ))
    };
    let mut chars = s.chars();
    let first = chars.next().ok_or_else(bad)?;
    let bits: u32 = if first.is_ascii_digit() || chars.next().is_some() {
        if !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())?
    } else {
        match first.to_ascii_lowercase() {
            'b' => 8,
            'h' => 16,
            'w' => 32,
            'l' => usize::BITS.min(64),
            _ => return Err(bad()),
        }
    };
    Width::from_bits(bits).ok_or_else(bad)
}

/// A bit range `HI..=LO` inside a register (`HI >= LO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) hi: u32,
    pub(crate) lo: u32,
}

impl Field {
    /// Number of bits in the field.
    pub(crate) fn bits(self) -> u32 {
        self.hi - self.lo + 1
    }
    /// The field's bits in place (e.g. 7:4 → 0xF0).
    pub(crate) fn mask(self) -> u64 {
        let ones = if self.bits() >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bits()) - 1
        };
        ones << self.lo
    }
    /// Extract the field from a register value.
    pub(crate) fn get(self, reg: u64) -> u64 {
        (reg & self.mask()) >> self.lo
    }
    /// Replace the field in `reg` by `v` (which must fit the field).
    pub(crate) fn set(self, reg: u64, v: u64) -> u64 {
        (reg & !self.mask()) | ((v << self.lo) & self.mask())
    }
    /// The largest value the field holds.
    pub(crate) fn max(self) -> u64 {
        self.mask() >> self.lo
    }
    /// Check the field against an access width.
    pub(crate) fn check(self, w: Width) -> Result<()> {
        if self.hi >= w.bits() {
            return Err(Error::usage(format!(
                "bit {} is outside a {}-bit register (bits {}..0)",
                self.hi,
                w.bits(),
                w.bits() - 1
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}:{}]", self.hi, self.lo)
    }
}

/// A parsed `ADDR[:HI[:LO]][=VALUE]` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddrSpec {
    pub(crate) addr: u64,
    pub(crate) field: Option<Field>,
    pub(crate) value: Option<u64>,
}

/// Parse `ADDR`, `ADDR=V`, `ADDR:BIT`, `ADDR:HI:LO` and `ADDR:HI:LO=V`
/// (rwmem style). Bit numbers and V use the same number syntax as ADDR.
pub(crate) fn parse_addr_spec(s: &str) -> Result<AddrSpec> {
    let (left, value) = match s.split_once('=') {
        Some((l, v)) => (l, Some(parse_num(v)?)),
        None => (s, None),
    };
    let mut parts = left.split(':');
    let addr = parse_num(parts.next().unwrap_or(""))?;
    let hi = parts.next();
    let lo = parts.next();
    if parts.next().is_some() {
        return Err(Error::usage(format!(
            "bad address '{s}': expected ADDR, ADDR:BIT or ADDR:HI:LO (optionally =VALUE)"
        )));
    }
    let field = match (hi, lo) {
        (None, _) => None,
        (Some(h), l) => {
            let hi = parse_bit(h, s)?;
            let lo = match l {
                Some(l) => parse_bit(l, s)?,
                None => hi,
            };
            if hi < lo {
                return Err(Error::usage(format!(
                    "bad bitfield '{s}': write the high bit first (HI:LO, e.g. 7:4)"
                )));
            }
            Some(Field { hi, lo })
        }
    };
    Ok(AddrSpec { addr, field, value })
}

fn parse_bit(b: &str, whole: &str) -> Result<u32> {
    let n = parse_num(b)
        .map_err(|e| Error::usage(format!("bad bit number in '{whole}': {}", e.msg)))?;
    if n > 63 {
        return Err(Error::usage(format!(
            "bad bit number {n} in '{whole}': registers have at most 64 bits (63..0)"
        )));
    }
    Ok(n as u32)
}

/// Default `md` length when only ADDR is given (as memtool).
pub(crate) const DEFAULT_MD_LEN: u64 = 0x100;

/// Parse an `md` range: `ADDR` (DEFAULT_MD_LEN bytes), `ADDR+LEN` (LEN with
/// K/M/G suffixes) or `ADDR-END` (END inclusive, as memtool and barebox).
/// Returns (start, length in bytes).
pub(crate) fn parse_range(s: &str) -> Result<(u64, u64)> {
    let (start, len) = if let Some((a, l)) = s.split_once('+') {
        (parse_num(a)?, crate::num::parse_size(l)?)
    } else if let Some((a, e)) = s.split_once('-') {
        let a = parse_num(a)?;
        let e = parse_num(e)?;
        if e < a {
            return Err(Error::usage(format!("bad range '{s}': END is below ADDR")));
        }
        match (e - a).checked_add(1) {
            Some(l) => (a, l),
            None => return Err(Error::usage(format!("bad range '{s}': too large"))),
        }
    } else {
        (parse_num(s)?, DEFAULT_MD_LEN)
    };
    if len == 0 {
        return Err(Error::usage(format!("bad range '{s}': the length is zero")));
    }
    if start.checked_add(len).is_none() {
        return Err(Error::usage(format!(
            "bad range '{s}': runs past the end of the 64-bit address space"
        )));
    }
    Ok((start, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_like_busybox() {
        assert_eq!(parse_width("8").unwrap(), Width::W8);
        assert_eq!(parse_width("16").unwrap(), Width::W16);
        assert_eq!(parse_width("32").unwrap(), Width::W32);
        assert_eq!(parse_width("64").unwrap(), Width::W64);
        assert_eq!(parse_width("b").unwrap(), Width::W8);
        assert_eq!(parse_width("H").unwrap(), Width::W16);
        assert_eq!(parse_width("w").unwrap(), Width::W32);
        let long = if usize::BITS == 64 {
            Width::W64
        } else {
            Width::W32
        };
        assert_eq!(parse_width("l").unwrap(), long);
        for bad in ["", "0", "7", "24", "128", "x", "bb", "0x20", "32b", "-8"] {
            assert!(parse_width(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn bitfield_specs() {
        let s = parse_addr_spec("0x1000:7:4=0x3").unwrap();
        assert_eq!(s.addr, 0x1000);
        assert_eq!(s.field, Some(Field { hi: 7, lo: 4 }));
        assert_eq!(s.value, Some(3));
        let s = parse_addr_spec("0x10:31").unwrap();
        assert_eq!(s.field, Some(Field { hi: 31, lo: 31 }));
        assert_eq!(s.value, None);
        assert_eq!(
            parse_addr_spec("16=5").unwrap(),
            AddrSpec {
                addr: 16,
                field: None,
                value: Some(5)
            }
        );
        for bad in [
            "0x10:4:7",
            "0x10:64",
            "0x10:1:2:3",
            "0x10:",
            "0x10:7:4=",
            "=1",
            "0x10:x",
        ] {
            assert!(parse_addr_spec(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn field_arithmetic() {
        let f = Field { hi: 7, lo: 4 };
        assert_eq!(f.bits(), 4);
        assert_eq!(f.mask(), 0xF0);
        assert_eq!(f.max(), 0xF);
        assert_eq!(f.get(0x1234_5678), 0x7);
        assert_eq!(f.set(0x1234_5678, 0x3), 0x1234_5638);
        let all = Field { hi: 63, lo: 0 };
        assert_eq!(all.mask(), u64::MAX);
        assert_eq!(all.max(), u64::MAX);
        assert!(Field { hi: 32, lo: 0 }.check(Width::W32).is_err());
        assert!(Field { hi: 31, lo: 0 }.check(Width::W32).is_ok());
        assert_eq!(f.to_string(), "[7:4]");
    }

    #[test]
    fn md_ranges() {
        assert_eq!(parse_range("0x1000").unwrap(), (0x1000, DEFAULT_MD_LEN));
        assert_eq!(parse_range("0x1000+0x20").unwrap(), (0x1000, 0x20));
        assert_eq!(parse_range("0x1000+4K").unwrap(), (0x1000, 4096));
        assert_eq!(parse_range("0x1000+1M").unwrap(), (0x1000, 1 << 20));
        assert_eq!(parse_range("0x100-0x1ff").unwrap(), (0x100, 0x100));
        assert_eq!(parse_range("0x100-0x100").unwrap(), (0x100, 1));
        for bad in [
            "0x100-0xff",
            "0x100+0",
            "0x100+",
            "0xFFFFFFFFFFFFFFFF+2",
            "+4",
            "0x10+4Q",
        ] {
            assert!(parse_range(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
