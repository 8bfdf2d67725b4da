//! The `wait` command: poll a register or field until it equals (or no
//! longer equals) a value, for scripts waiting on a PLL lock or a "done"
//! bit. Success is exit 0; a timeout is [`Kind::Timeout`] (exit 11).
//!
//! `ADDR[:HI[:LO]]=V` (numbers as devmem, `--width` for ADDR, default 32)
//! or `BLOCK.REG[.FIELD]=V` (a register map; V may be an enum name), with
//! `!=` for "until it changes from V". Each poll is one read of the
//! register at its width; between polls the command sleeps `--interval`
//! (default 1 ms), and it gives up about `--timeout` after it started.

use super::parse::{Field, parse_addr_spec};
use super::regmap::{Access, find};
use super::{Target, Width};
use crate::error::{Error, Kind, Result};
use crate::num::parse_num;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
pub struct WaitOpts {
    pub map: Option<PathBuf>,
    pub file: Option<PathBuf>,
    /// `ADDR[:HI[:LO]]=V`, `NAME=V`, or with `!=`.
    pub cond: String,
    /// Access width for the ADDR form (default 32).
    pub width: Option<Width>,
    pub timeout: Duration,
    pub interval: Duration,
}

/// How the wait ended (successfully).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitReport {
    /// Reads done, the last one included.
    pub polls: u64,
    pub elapsed: Duration,
    /// The register or field value that ended the wait.
    pub value: u64,
}

/// What to poll, resolved.
struct Cond {
    what: String,
    addr: u64,
    width: Width,
    field: Option<Field>,
    want: u64,
    ne: bool,
}

/// Parse a duration: a number (decimals allowed) with `us`, `ms`, `s` or
/// `m`; a bare number is seconds (as `sleep`).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || {
        Error::usage(format!(
            "bad duration '{s}': write e.g. 500ms, 2s, 1.5s, 100us or 1m"
        ))
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit_ns: u64 = match unit {
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" | "" => 1_000_000_000,
        "m" => 60_000_000_000,
        _ => return Err(bad()),
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    // at most 6 decimals: frac * unit_ns stays far below 2^64
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 6
    {
        return Err(bad());
    }
    let digits = |d: &str| -> Result<u64> {
        if d.is_empty() {
            Ok(0)
        } else {
            d.parse().map_err(|_| bad())
        }
    };
    let scale = 10u64.pow(frac.len() as u32);
    let part = digits(frac)? * unit_ns / scale;
    let ns = digits(whole)?
        .checked_mul(unit_ns)
        .and_then(|x| x.checked_add(part))
        .ok_or_else(bad)?;
    let secs = ns / 1_000_000_000;
    Ok(Duration::new(secs, (ns % 1_000_000_000) as u32))
}

fn fmt_dur(d: Duration) -> String {
    if d.as_millis() < 10_000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}

fn resolve(o: &WaitOpts) -> Result<Cond> {
    let (left, right, ne) = if let Some((l, r)) = o.cond.split_once("!=") {
        (l, r, true)
    } else if let Some((l, r)) = o.cond.split_once('=') {
        (l, r, false)
    } else {
        return Err(Error::usage(format!(
            "bad condition '{}': expected ADDR[:HI[:LO]]=V, NAME=V, or != instead of =",
            o.cond
        )));
    };
    if left.starts_with(|c: char| c.is_ascii_digit()) {
        let spec = parse_addr_spec(left)?;
        let width = o.width.unwrap_or(Width::W32);
        if let Some(f) = spec.field {
            f.check(width)?;
        }
        let want = parse_num(right)?;
        let max = spec.field.map_or(width.max(), |f| f.max());
        if want > max {
            return Err(Error::usage(format!(
                "value 0x{want:X} can never be read from {left} (at most 0x{max:X})"
            )));
        }
        return Ok(Cond {
            what: left.to_string(),
            addr: spec.addr,
            width,
            field: spec.field,
            want,
            ne,
        });
    }
    if o.width.is_some() {
        return Err(Error::usage(
            "--width is for the ADDR form; a named register has its width in the map",
        ));
    }
    let map = find::load(o.map.as_deref())?;
    let n = map.lookup(left)?;
    let r = n.reg.ok_or_else(|| {
        Error::usage(format!(
            "'{left}' is a block: wait on BLOCK.REG or BLOCK.REG.FIELD"
        ))
    })?;
    let access = n.field.map_or(r.access, |f| r.field_access(f));
    if access == Access::Wo {
        return Err(Error::usage(format!(
            "{left} is write-only: it cannot be polled"
        )));
    }
    let (want, max) = match n.field {
        Some(f) => (f.value(right)?, f.bits.max()),
        None => (parse_num(right)?, r.width.max()),
    };
    if want > max {
        return Err(Error::usage(format!(
            "value 0x{want:X} can never be read from {left} (at most 0x{max:X})"
        )));
    }
    Ok(Cond {
        what: left.to_string(),
        addr: n.block.addr(r),
        width: r.width,
        field: n.field.map(|f| f.bits),
        want,
        ne,
    })
}

/// Run `wait`. Prints nothing on success (`-v` logs the polls).
pub fn wait(o: &WaitOpts, _out: &mut dyn Write) -> Result<WaitReport> {
    let c = resolve(o)?;
    let t = Target::open(o.file.as_deref(), false)?;
    t.check_range(c.addr, c.width.bytes() as u64)?;
    if !c.addr.is_multiple_of(c.width.bytes() as u64) {
        return Err(super::unaligned(c.addr, c.width));
    }
    let m = t.map(c.addr, c.width.bytes())?;
    let start = Instant::now();
    let mut polls = 0u64;
    loop {
        let raw = m.read(c.addr, c.width)?;
        polls += 1;
        let v = c.field.map_or(raw, |f| f.get(raw));
        if (v == c.want) != c.ne {
            let elapsed = start.elapsed();
            log::debug!(
                "wait: {} = 0x{v:X} after {polls} reads, {} µs",
                c.what,
                elapsed.as_micros()
            );
            return Ok(WaitReport {
                polls,
                elapsed,
                value: v,
            });
        }
        let el = start.elapsed();
        if el >= o.timeout {
            return Err(Error::new(
                Kind::Timeout,
                format!(
                    "timed out after {}: {} ({}) is 0x{v:X}, waited for it to {} 0x{:X} ({polls} reads)",
                    fmt_dur(el),
                    c.what,
                    t.describe(c.addr),
                    if c.ne { "change from" } else { "become" },
                    c.want
                ),
            ));
        }
        std::thread::sleep(o.interval.min(o.timeout - el));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("100us").unwrap(), Duration::from_micros(100));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("0.001").unwrap(), Duration::from_millis(1));
        for bad in ["", "ms", "1h", "-1s", "1.2.3s", "s", "1 s", "1e3ms", "."] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
