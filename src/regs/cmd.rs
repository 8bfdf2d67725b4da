//! The register commands: `devmem` (busybox compatible, plus bitfields),
//! `md` (memory display) and `mw` (memory write), on /dev/mem or a file.
//!
//! They make exactly the register accesses busybox makes, no more: a read
//! is one read, a write is one write (nothing is read back unless
//! `--verify` asks: a read can pop a FIFO byte or clear a read-to-clear
//! status), a bitfield write is one read and one write, and `md` reads each
//! register once.

use super::parse::{AddrSpec, Field};
use super::{RegMap, Target, Width, dump, too_wide, unaligned};
use crate::error::{Context, Error, Kind, Result};
use std::io::Write;
use std::path::PathBuf;

/// `devmem ADDR[:HI[:LO]][=V] [WIDTH [VALUE]]`, parsed.
#[derive(Debug)]
pub(crate) struct DevmemOpts {
    pub(crate) file: Option<PathBuf>,
    /// Read the register back after the write and compare (`--verify`).
    pub(crate) verify: bool,
    pub(crate) spec: AddrSpec,
    pub(crate) width: Width,
    /// The VALUE argument (the value may also come as ADDR=V in `spec`).
    pub(crate) value: Option<u64>,
}

/// `md ADDR[+LEN|-END] [-w WIDTH]`, parsed.
#[derive(Debug)]
pub(crate) struct MdOpts {
    pub(crate) file: Option<PathBuf>,
    /// Start and length in bytes.
    pub(crate) range: (u64, u64),
    pub(crate) width: Width,
}

/// `mw ADDR VALUE... [-w WIDTH]`, parsed.
#[derive(Debug)]
pub(crate) struct MwOpts {
    pub(crate) file: Option<PathBuf>,
    /// Read each value back after its write and compare (`--verify`).
    pub(crate) verify: bool,
    pub(crate) addr: u64,
    pub(crate) values: Vec<u64>,
    pub(crate) width: Width,
}

fn hex(v: u64, digits: usize) -> String {
    format!("0x{v:0digits$X}")
}

/// One line of output.
fn say(out: &mut dyn Write, s: &str) -> Result<()> {
    writeln!(out, "{s}").context("cannot write to the output")
}

fn mismatch(t: &Target, addr: u64, w: Width, wrote: u64, read: u64) -> Error {
    Error::new(
        Kind::Mismatch,
        format!(
            "read-back mismatch at {}: wrote {}, read back {}",
            t.describe(addr),
            hex(wrote, w.digits()),
            hex(read, w.digits())
        ),
    )
    .hint(
        "the register did not keep the value (read-only bits, a write-only, self-clearing or \
         write-1-to-clear register, or nothing there); do not use --verify on such registers",
    )
}

/// Run `devmem`.
pub(crate) fn devmem(o: &DevmemOpts, out: &mut dyn Write) -> Result<()> {
    let spec = o.spec;
    let w = o.width;
    let value = match (spec.value, o.value) {
        (Some(_), Some(_)) => {
            return Err(Error::usage(
                "give the value either as ADDR=VALUE or as the VALUE argument, not both",
            ));
        }
        (Some(v), None) => Some(v),
        (None, Some(v)) => Some(v),
        (None, None) => None,
    };
    if let Some(f) = spec.field {
        f.check(w)?;
    }
    if !spec.addr.is_multiple_of(w.bytes() as u64) {
        return Err(unaligned(spec.addr, w));
    }
    if let Some(v) = value {
        match spec.field {
            Some(f) if v > f.max() => return Err(too_wide(v, f.bits(), &format!("the field {f}"))),
            None if v > w.max() => {
                return Err(too_wide(
                    v,
                    w.bits(),
                    &format!("the {}-bit width", w.bits()),
                ));
            }
            _ => {}
        }
    }
    let t = Target::open(o.file.as_deref(), value.is_some())?;
    t.check_range(spec.addr, w.bytes() as u64)?;
    let m = t.map(spec.addr, w.bytes())?;
    let a = spec.addr;
    match (spec.field, value) {
        (None, None) => {
            let v = m.read(a, w)?;
            say(out, &hex(v, w.digits()))?;
        }
        (None, Some(v)) => {
            m.write(a, w, v)?;
            if o.verify {
                let r = m.read(a, w)?;
                if r != v {
                    return Err(mismatch(&t, a, w, v, r));
                }
            }
        }
        (Some(f), None) => {
            let r = m.read(a, w)?;
            say(out, &hex(f.get(r), field_digits(f)))?;
        }
        (Some(f), Some(v)) => return rmw(&t, &m, a, w, f, v, o.verify, out),
    }
    Ok(())
}

fn field_digits(f: Field) -> usize {
    (f.bits() as usize).div_ceil(4)
}

/// Read-modify-write of a bitfield: one read, one write; prints the old
/// and new values, and with `verify` reads again and prints the read-back.
#[allow(clippy::too_many_arguments)]
fn rmw(
    t: &Target,
    m: &RegMap,
    a: u64,
    w: Width,
    f: Field,
    v: u64,
    verify: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let show = |label: &str, reg: u64| {
        format!(
            "{label:<10} {} {f}={}",
            hex(reg, w.digits()),
            hex(f.get(reg), field_digits(f))
        )
    };
    let old = m.read(a, w)?;
    let new = f.set(old, v);
    m.write(a, w, new)?;
    say(out, &show("old:", old))?;
    say(out, &show("new:", new))?;
    if !verify {
        return Ok(());
    }
    let r = m.read(a, w)?;
    say(out, &show("read-back:", r))?;
    if f.get(r) != v {
        return Err(mismatch(t, a, w, new, r).hint(format!(
            "the field {f} reads back as {} instead of {}; do not use --verify on write-only or self-clearing bits",
            hex(f.get(r), field_digits(f)),
            hex(v, field_digits(f))
        )));
    }
    Ok(())
}

/// Bytes mapped at a time by `md`.
const MD_CHUNK: u64 = 64 << 10;

/// Run `md`.
pub(crate) fn md(o: &MdOpts, out: &mut dyn Write) -> Result<()> {
    let (start, mut len) = o.range;
    let w = o.width;
    let wb = w.bytes() as u64;
    if start % wb != 0 {
        return Err(unaligned(start, w));
    }
    if len % wb != 0 {
        return Err(Error::usage(format!(
            "the length {len} (0x{len:X}) is not a multiple of the {}-bit width ({wb} bytes)",
            w.bits()
        )));
    }
    let t = Target::open(o.file.as_deref(), false)?;
    if let Some(size) = t.size() {
        if start >= size {
            t.check_range(start, wb)?;
        } else if start.saturating_add(len) > size {
            let fit = (size - start) / wb * wb;
            if fit == 0 {
                t.check_range(start, wb)?;
            } else {
                log::info!(
                    "{} ends at byte {size}: showing {fit} of the {len} bytes asked for",
                    t.path().display()
                );
                len = fit;
            }
        }
    }
    let end = start + len;
    let digits = dump::addr_digits(end);
    let chunk = MD_CHUNK.max(crate::sys::page_size() as u64);
    let mut cs = start;
    while cs < end {
        // Saturating: a range ending near 2^64 must not wrap (or panic).
        let ce = end.min(cs.saturating_add(chunk));
        let m = t.map(cs, (ce - cs) as usize)?;
        let mut a = cs;
        while a < ce {
            let le = ce.min(a.saturating_add(dump::LINE as u64));
            let mut vals = Vec::with_capacity(dump::LINE);
            let mut p = a;
            while p < le {
                vals.push(m.read(p, w)?);
                p += wb;
            }
            say(out, &dump::line(a, digits, w, &vals))?;
            a = le;
        }
        cs = ce;
    }
    Ok(())
}

/// Run `mw`.
pub(crate) fn mw(o: &MwOpts) -> Result<()> {
    let addr = o.addr;
    let w = o.width;
    if o.values.is_empty() {
        return Err(Error::usage("mw: give at least one VALUE to write"));
    }
    let vals = &o.values;
    for &v in vals {
        if v > w.max() {
            return Err(too_wide(
                v,
                w.bits(),
                &format!("the {}-bit width", w.bits()),
            ));
        }
    }
    if !addr.is_multiple_of(w.bytes() as u64) {
        return Err(unaligned(addr, w));
    }
    let total = (vals.len() as u64)
        .checked_mul(w.bytes() as u64)
        .filter(|n| addr.checked_add(*n).is_some())
        .ok_or_else(|| {
            Error::usage("mw: the values run past the end of the 64-bit address space")
        })?;
    let t = Target::open(o.file.as_deref(), true)?;
    t.check_range(addr, total)?;
    let total = usize::try_from(total).map_err(|_| Error::usage("mw: too many values"))?;
    let m = t.map(addr, total)?;
    let mut bad = 0usize;
    let mut hint = String::new();
    for (i, v) in vals.iter().enumerate() {
        let a = addr + (i * w.bytes()) as u64;
        m.write(a, w, *v)?;
        if o.verify {
            let r = m.read(a, w)?;
            if r != *v {
                let e = mismatch(&t, a, w, *v, r);
                eprintln!("mmkit: {}", e.msg);
                hint = e.hint.clone().unwrap_or_default();
                bad += 1;
            }
        }
    }
    if bad > 0 {
        return Err(Error::new(
            Kind::Mismatch,
            format!("{bad} of {} values read back differently", vals.len()),
        )
        .hint(hint));
    }
    Ok(())
}
