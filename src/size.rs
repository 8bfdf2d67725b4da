//! Sizes and numbers on the command line.
//!
//! Sizes follow GNU split: `K`/`M`/`G`/`T` (and `KiB`…) are powers of 1024,
//! `KB`/`MB`/`GB`/`TB` powers of 1000; a bare number is bytes. Numbers accept
//! `0x` hexadecimal.

use crate::error::{Error, Result};

/// Parse "100M", "1G", "10MB", "4096", "0x1000", "64KiB".
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::usage("empty size"));
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).map_err(|_| Error::usage(format!("bad size '{s}'")));
    }
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(Error::usage(format!("bad size '{s}': expected a number")));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| Error::usage(format!("bad size '{s}': number too large")))?;
    let mult: u64 = match suffix {
        "" | "B" | "c" => 1,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "m" | "MiB" => 1 << 20,
        "G" | "g" | "GiB" => 1 << 30,
        "T" | "t" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => {
            return Err(Error::usage(format!(
                "bad size '{s}': unknown suffix '{suffix}' (use K, M, G for 1024^n or KB, MB, GB for 1000^n)"
            )));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| Error::usage(format!("bad size '{s}': too large")))
}

/// argh adapter for size flags.
pub fn from_str_size(s: &str) -> std::result::Result<u64, String> {
    parse_size(s).map_err(|e| e.msg)
}

/// Parse a number: `0x` hex or decimal.
pub fn parse_u64(s: &str) -> Result<u64> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse()
    };
    r.map_err(|_| Error::usage(format!("bad number '{s}'")))
}

/// Human-readable binary size: "1.5 MiB".
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_split_suffixes() {
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("4KB").unwrap(), 4000);
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("0x1000").unwrap(), 4096);
        assert_eq!(parse_size("2T").unwrap(), 2 << 40);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("10Q").is_err());
        assert!(parse_size("-5").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("20000000T").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(10), "10 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(100 << 20), "100.0 MiB");
    }
}
