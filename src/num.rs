//! The one number grammar of the command line.
//!
//! * **NUMBER**: as C `strtoull(s, NULL, 0)` and busybox `devmem`: `0x`/`0X`
//!   hexadecimal, a leading `0` octal, anything else decimal. No sign, no
//!   spaces, no trailing characters, no overflow.
//! * **SIZE**: a NUMBER followed by an optional suffix, as GNU split:
//!   `K`/`M`/`G`/`T` (and `KiB`…) are powers of 1024, `KB`/`MB`/`GB`/`TB`
//!   powers of 1000, `B` or nothing is bytes. The suffix is read without
//!   regard to case (`1kb` = `1KB`, `1m` = `1M`, `1kib` = `1KiB`): what
//!   tells 1000 from 1024 is the `B` after the letter (`i` before it
//!   keeps 1024), never the case.
//!
//! Every flag and argument that takes a number (addresses, values, magics,
//! offsets, widths of fields, sizes) uses these two functions.

use crate::decimal::Frac;
use crate::error::{Error, Result};

/// Parse a NUMBER (see the module documentation).
pub(crate) fn parse_num(s: &str) -> Result<u64> {
    let bad = |why: &str| Error::usage(format!("bad number '{s}': {why}"));
    let first = s.chars().next().ok_or_else(|| bad("empty"))?;
    if !first.is_ascii_alphanumeric() {
        return Err(bad(
            "expected 0x hex, 0 octal or decimal digits (no sign or spaces)",
        ));
    }
    let (digits, radix) = split_radix(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        let what = match radix {
            16 => "not a hexadecimal number",
            8 => "a leading 0 means octal (digits 0-7)",
            _ => "not a number",
        };
        return Err(bad(what));
    }
    u64::from_str_radix(digits, radix).map_err(|_| bad("too large for 64 bits"))
}

/// The digits of a NUMBER and their radix.
fn split_radix(s: &str) -> (&str, u32) {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    }
}

/// Parse a SIZE: "100M", "1G", "10MB", "4096", "0x1000", "64KiB".
pub(crate) fn parse_size(s: &str) -> Result<u64> {
    // The number ends where its digits end (hex digits after 0x).
    let (_, radix) = split_radix(s);
    let skip = if radix == 16 { 2 } else { 0 };
    let end = s[skip..]
        .find(|c: char| !c.is_digit(radix))
        .map_or(s.len(), |i| i + skip);
    let (num, suffix) = s.split_at(end);
    if num.is_empty() {
        return Err(Error::usage(format!("bad size '{s}': expected a number")));
    }
    let n = parse_num(num).map_err(|e| Error::usage(format!("bad size '{s}': {}", e.msg)))?;
    let mult = suffix_mult(suffix).ok_or_else(|| {
        Error::usage(format!(
            "bad size '{s}': unknown suffix '{suffix}' (use K, M, G, T for 1024^n or KB, MB, GB, TB for 1000^n; any case)"
        ))
    })?;
    n.checked_mul(mult)
        .ok_or_else(|| Error::usage(format!("bad size '{s}': too large")))
}

/// The multiplier of a SIZE suffix, case-insensitive: `` / `B` / `c` 1,
/// `K` = `KiB` 1024, `KB` 1000, and so on for M, G, T.
fn suffix_mult(suffix: &str) -> Option<u64> {
    let mut b = [0u8; 3];
    if suffix.len() > b.len() {
        return None;
    }
    for (d, c) in b.iter_mut().zip(suffix.bytes()) {
        *d = c.to_ascii_uppercase();
    }
    let (letter, rest) = match &b[..suffix.len()] {
        [] | [b'B'] | [b'C'] => return Some(1),
        [l, rest @ ..] => (*l, rest),
    };
    let power = match letter {
        b'K' => 1,
        b'M' => 2,
        b'G' => 3,
        b'T' => 4,
        _ => return None,
    };
    let base: u64 = match rest {
        [] | [b'I', b'B'] => 1024,
        [b'B'] => 1000,
        _ => return None,
    };
    Some(base.pow(power))
}

/// argh adapter for SIZE flags.
pub(crate) fn size_arg(s: &str) -> std::result::Result<u64, String> {
    parse_size(s).map_err(Error::into_msg)
}

/// argh adapter for NUMBER flags.
pub(crate) fn num_arg(s: &str) -> std::result::Result<u64, String> {
    parse_num(s).map_err(Error::into_msg)
}

/// Human-readable binary size: "1.5 MiB".
pub(crate) fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut i = 0;
    while i < U.len() - 1 && n >> (10 * (i + 1)) != 0 {
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{:.1} {}", Frac::of(n, 1 << (10 * i)), U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_busybox() {
        assert_eq!(parse_num("0x1000").unwrap(), 0x1000);
        assert_eq!(parse_num("0XfF").unwrap(), 255);
        assert_eq!(parse_num("010").unwrap(), 8);
        assert_eq!(parse_num("0").unwrap(), 0);
        assert_eq!(parse_num("4096").unwrap(), 4096);
        assert_eq!(parse_num("0xFFFFFFFFFFFFFFFF").unwrap(), u64::MAX);
        assert_eq!(parse_num("18446744073709551615").unwrap(), u64::MAX);
        for bad in [
            "",
            "0x",
            "08",
            "-1",
            "+1",
            " 1",
            "1 ",
            "12a",
            "0x1g",
            "0x10000000000000000",
            "18446744073709551616",
            "1K",
        ] {
            assert!(parse_num(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_num("09").unwrap_err().msg.contains("octal"));
    }

    #[test]
    fn gnu_split_suffixes_on_the_same_numbers() {
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("4KB").unwrap(), 4000);
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("0x1000").unwrap(), 4096);
        assert_eq!(parse_size("0x10K").unwrap(), 16 << 10);
        assert_eq!(parse_size("010").unwrap(), 8);
        assert_eq!(parse_size("2T").unwrap(), 2 << 40);
    }

    #[test]
    fn suffixes_in_any_case() {
        for (s, want) in [
            ("1k", 1 << 10),
            ("1K", 1 << 10),
            ("1kib", 1 << 10),
            ("1KIB", 1 << 10),
            ("1KiB", 1 << 10),
            ("1kb", 1000),
            ("1kB", 1000),
            ("1Kb", 1000),
            ("1KB", 1000),
            ("1m", 1 << 20),
            ("1mb", 1_000_000),
            ("1MiB", 1 << 20),
            ("1mib", 1 << 20),
            ("1g", 1 << 30),
            ("1Gb", 1_000_000_000),
            ("1gib", 1 << 30),
            ("1t", 1 << 40),
            ("1tb", 1_000_000_000_000),
            ("1tib", 1 << 40),
            ("7b", 7),
            ("7B", 7),
            ("7c", 7),
            ("7C", 7),
        ] {
            assert_eq!(parse_size(s).unwrap(), want, "{s}");
        }
        for bad in ["1kk", "1ki", "1kbb", "1ib", "1bk", "1kibx", "1p", "1K B"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn sizes_reject_garbage() {
        for bad in [
            "",
            "M",
            "10Q",
            "-5",
            " 5",
            "99999999999999999999",
            "20000000T",
            "0x",
            "09K",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(10), "10 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(100 << 20), "100.0 MiB");
        // the same text as the float computation it replaced
        let float = |n: u64| {
            let (mut v, mut i) = (n as f64, 0);
            while v >= 1024.0 && i < 4 {
                v /= 1024.0;
                i += 1;
            }
            format!("{v:.1}")
        };
        for n in [
            1024,
            1075,
            1076,
            1126,
            1127,
            5 << 30,
            (3 << 40) + 7,
            u64::MAX,
        ] {
            let h = human(n);
            assert_eq!(h.split(' ').next(), Some(float(n).as_str()), "{n}");
        }
    }
}
