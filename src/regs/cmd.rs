//! The register commands: `devmem` (busybox compatible, plus bitfields),
//! `md` (memory display) and `mw` (memory write), on /dev/mem or a file.

use super::parse::{self, Field};
use super::{Target, Width, dump, too_wide, unaligned};
use crate::error::{Error, Kind, Result, exit};
use std::io::Write;
use std::path::PathBuf;

/// `devmem ADDR[:HI[:LO]][=V] [WIDTH [VALUE]]`.
#[derive(Debug, Default)]
pub struct DevmemOpts {
    pub file: Option<PathBuf>,
    pub no_readback: bool,
    pub addr: String,
    pub width: Option<String>,
    pub value: Option<String>,
}

/// `md ADDR[+LEN|-END] [-w WIDTH]`.
#[derive(Debug, Default)]
pub struct MdOpts {
    pub file: Option<PathBuf>,
    pub range: String,
    pub width: Option<String>,
}

/// `mw ADDR VALUE... [-w WIDTH]`.
#[derive(Debug, Default)]
pub struct MwOpts {
    pub file: Option<PathBuf>,
    pub no_readback: bool,
    pub addr: String,
    pub values: Vec<String>,
    pub width: Option<String>,
}

fn width_or_default(w: &Option<String>) -> Result<Width> {
    match w {
        Some(s) => parse::parse_width(s),
        None => Ok(Width::W32),
    }
}

fn hex(v: u64, digits: usize) -> String {
    format!("0x{v:0digits$X}")
}

/// Print to stdout; a closed pipe (`| head`) is not an error.
fn out(s: &str) -> Result<bool> {
    let mut o = std::io::stdout().lock();
    match writeln!(o, "{s}").and_then(|_| o.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Error::io("cannot write to stdout", e)),
    }
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
         write-1-to-clear register, or nothing there); use --no-readback for such registers",
    )
}

/// Run `devmem`; returns the exit code.
pub fn devmem(o: &DevmemOpts) -> Result<i32> {
    let spec = parse::parse_addr_spec(&o.addr)?;
    let w = width_or_default(&o.width)?;
    let value = match (spec.value, &o.value) {
        (Some(_), Some(_)) => {
            return Err(Error::usage(
                "give the value either as ADDR=VALUE or as the VALUE argument, not both",
            ));
        }
        (Some(v), None) => Some(v),
        (None, Some(s)) => Some(parse::parse_num(s)?),
        (None, None) => None,
    };
    if let Some(f) = spec.field {
        f.check(w)?;
    }
    if spec.addr % w.bytes() as u64 != 0 {
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
            out(&hex(v, w.digits()))?;
        }
        (None, Some(v)) => {
            m.write(a, w, v)?;
            if !o.no_readback {
                let r = m.read(a, w)?;
                if r != v {
                    return Err(mismatch(&t, a, w, v, r));
                }
            }
        }
        (Some(f), None) => {
            let r = m.read(a, w)?;
            out(&hex(f.get(r), field_digits(f)))?;
        }
        (Some(f), Some(v)) => return rmw(&t, &m, a, w, f, v, o.no_readback),
    }
    Ok(exit::OK)
}

fn field_digits(f: Field) -> usize {
    (f.bits() as usize).div_ceil(4)
}

/// Read-modify-write of a bitfield; prints old, new and read-back values.
fn rmw(
    t: &Target,
    m: &super::RegMap,
    a: u64,
    w: Width,
    f: Field,
    v: u64,
    no_readback: bool,
) -> Result<i32> {
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
    out(&show("old:", old))?;
    out(&show("new:", new))?;
    if no_readback {
        out("read-back: skipped (--no-readback)")?;
        return Ok(exit::OK);
    }
    let r = m.read(a, w)?;
    out(&show("read-back:", r))?;
    if f.get(r) != v {
        return Err(mismatch(t, a, w, new, r).hint(format!(
            "the field {f} reads back as {} instead of {}; use --no-readback for write-only or self-clearing bits",
            hex(f.get(r), field_digits(f)),
            hex(v, field_digits(f))
        )));
    }
    Ok(exit::OK)
}

/// Bytes mapped at a time by `md`.
const MD_CHUNK: u64 = 64 << 10;

/// Run `md`; returns the exit code.
pub fn md(o: &MdOpts) -> Result<i32> {
    let (start, mut len) = parse::parse_range(&o.range)?;
    let w = width_or_default(&o.width)?;
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
        } else if start + len > size {
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
    let chunk = MD_CHUNK.max(crate::diag::page_size() as u64);
    let mut cs = start;
    while cs < end {
        let ce = end.min(cs + chunk);
        let m = t.map(cs, (ce - cs) as usize)?;
        let mut a = cs;
        while a < ce {
            let le = ce.min(a + dump::LINE as u64);
            let mut vals = Vec::with_capacity(dump::LINE);
            let mut p = a;
            while p < le {
                vals.push(m.read(p, w)?);
                p += wb;
            }
            if !out(&dump::line(a, digits, w, &vals))? {
                return Ok(exit::OK);
            }
            a = le;
        }
        cs = ce;
    }
    Ok(exit::OK)
}

/// Run `mw`; returns the exit code.
pub fn mw(o: &MwOpts) -> Result<i32> {
    let addr = parse::parse_num(&o.addr)?;
    let w = width_or_default(&o.width)?;
    if o.values.is_empty() {
        return Err(Error::usage("mw: give at least one VALUE to write"));
    }
    let mut vals = Vec::with_capacity(o.values.len());
    for s in &o.values {
        let v = parse::parse_num(s)?;
        if v > w.max() {
            return Err(too_wide(
                v,
                w.bits(),
                &format!("the {}-bit width", w.bits()),
            ));
        }
        vals.push(v);
    }
    if addr % w.bytes() as u64 != 0 {
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
        if !o.no_readback {
            let r = m.read(a, w)?;
            if r != *v {
                let e = mismatch(&t, a, w, *v, r);
                eprintln!("mmkit: {}", e.msg);
                hint = e.hint.unwrap_or_default();
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
    Ok(exit::OK)
}
