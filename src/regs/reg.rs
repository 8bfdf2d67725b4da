//! The `reg` command: registers and fields by name, from a register map
//! ([`super::regmap`]).
//!
//! - `reg BLOCK.REG`: read the register and decode every field;
//! - `reg BLOCK.REG.FIELD`: print one field (`0x` and (bits+3)/4 digits);
//! - `reg BLOCK.REG=V`: write the register (read back unless write-only,
//!   read-clear or `--no-readback`);
//! - `reg BLOCK.REG.FIELD=V`: read-modify-write one field: exactly one read
//!   and one write (V may be an enum name of the field);
//! - `reg list [GLOB]`, `reg dump BLOCK`.

use super::regmap::{Access, BlockDef, FieldDef, RegDef, RegisterMap, find};
use super::{Target, Width};
use crate::error::{Error, Kind, Result};
use std::io::Write;
use std::path::PathBuf;

/// What `reg` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegAction {
    /// `NAME` or `NAME=VALUE`.
    Access { name: String, value: Option<String> },
    /// `list [GLOB]`.
    List { pattern: Option<String> },
    /// `dump BLOCK`.
    Dump { block: String },
}

#[derive(Debug, Clone)]
pub struct RegOpts {
    /// The register map (else `$MMKIT_REGMAP`, else /etc/mmkit/*.regs).
    pub map: Option<PathBuf>,
    /// Map this file instead of /dev/mem; block bases are offsets in it.
    pub file: Option<PathBuf>,
    pub no_readback: bool,
    pub action: RegAction,
}

/// One register value seen or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegValue {
    /// `BLOCK.REG`
    pub name: String,
    pub addr: u64,
    pub value: u64,
}

/// What `reg` did.
#[derive(Debug, Clone, Default)]
pub struct RegReport {
    pub reads: Vec<RegValue>,
    pub writes: Vec<RegValue>,
}

/// Parse `reg` arguments: `list [GLOB]`, `dump BLOCK`, or `NAME[=VALUE]`.
pub fn action(args: &[String]) -> Result<RegAction> {
    let usage = || Error::usage("usage: reg NAME[=VALUE] | reg list [GLOB] | reg dump BLOCK");
    match args {
        [l] if l == "list" => Ok(RegAction::List { pattern: None }),
        [l, p] if l == "list" => Ok(RegAction::List {
            pattern: Some(p.clone()),
        }),
        [d, b] if d == "dump" => Ok(RegAction::Dump { block: b.clone() }),
        [n] => Ok(match n.split_once('=') {
            Some((n, v)) => RegAction::Access {
                name: n.to_string(),
                value: Some(v.to_string()),
            },
            None => RegAction::Access {
                name: n.clone(),
                value: None,
            },
        }),
        _ => Err(usage()),
    }
}

/// Run `reg` with the maps found for this board.
pub fn reg(o: &RegOpts, out: &mut dyn Write) -> Result<RegReport> {
    let map = find::load(o.map.as_deref())?;
    run(&map, o, out)
}

/// Run `reg` on a loaded map.
pub fn run(map: &RegisterMap, o: &RegOpts, out: &mut dyn Write) -> Result<RegReport> {
    let mut rep = RegReport::default();
    match &o.action {
        RegAction::List { pattern } => list(map, pattern.as_deref(), out)?,
        RegAction::Dump { block } => {
            let n = map.lookup(block)?;
            if n.reg.is_some() {
                return Err(Error::usage(format!(
                    "dump takes a block name, not '{block}' (read a register with `reg {block}`)"
                )));
            }
            let t = Target::open(o.file.as_deref(), false)?;
            for r in &n.block.regs {
                match r.access {
                    Access::Wo => wr(
                        out,
                        format_args!("{} (write-only: not read)", title(n.block, r)),
                    )?,
                    Access::Rc => wr(
                        out,
                        format_args!(
                            "{} (reading clears it: not read; read it by name)",
                            title(n.block, r)
                        ),
                    )?,
                    _ => {
                        let v = read(&t, n.block.addr(r), r.width)?;
                        rep.reads.push(value(n.block, r, v));
                        decode(n.block, r, v, out)?;
                    }
                }
            }
        }
        RegAction::Access { name, value: None } => {
            let n = map.lookup(name)?;
            let (b, r) = need_reg(n.block, n.reg, name)?;
            let access = n.field.map_or(r.access, |f| r.field_access(f));
            if access == Access::Wo {
                return Err(Error::usage(format!(
                    "{name} is write-only: it cannot be read"
                )));
            }
            let t = Target::open(o.file.as_deref(), false)?;
            let v = read(&t, b.addr(r), r.width)?;
            rep.reads.push(value(b, r, v));
            match n.field {
                Some(f) => wr(out, format_args!("{}", hex(f.bits.get(v), digits(f))))?,
                None => decode(b, r, v, out)?,
            }
        }
        RegAction::Access {
            name,
            value: Some(s),
        } => {
            let n = map.lookup(name)?;
            let (b, r) = need_reg(n.block, n.reg, name)?;
            match n.field {
                None => write_reg(b, r, s, o, &mut rep)?,
                Some(f) => write_field(b, r, f, s, o, out, &mut rep)?,
            }
        }
    }
    Ok(rep)
}

fn need_reg<'a>(
    b: &'a BlockDef,
    r: Option<&'a RegDef>,
    name: &str,
) -> Result<(&'a BlockDef, &'a RegDef)> {
    r.map(|r| (b, r)).ok_or_else(|| {
        Error::usage(format!(
            "'{name}' is a block: name a register (BLOCK.REG), or use `reg dump {name}`"
        ))
    })
}

fn write_reg(b: &BlockDef, r: &RegDef, s: &str, o: &RegOpts, rep: &mut RegReport) -> Result<()> {
    let full = format!("{}.{}", b.name, r.name);
    if r.access == Access::Ro {
        return Err(Error::usage(format!("{full} is read-only")));
    }
    let v = crate::num::parse_num(s)?;
    if v > r.width.max() {
        return Err(Error::usage(format!(
            "value 0x{v:X} does not fit the {}-bit register {full}",
            r.width.bits()
        )));
    }
    let a = b.addr(r);
    let t = Target::open(o.file.as_deref(), true)?;
    t.check_range(a, r.width.bytes() as u64)?;
    let m = t.map(a, r.width.bytes())?;
    m.write(a, r.width, v)?;
    rep.writes.push(value(b, r, v));
    if o.no_readback || r.access != Access::Rw {
        return Ok(());
    }
    let back = m.read(a, r.width)?;
    rep.reads.push(value(b, r, back));
    if back != v {
        let d = r.width.digits();
        return Err(Error::new(
            Kind::Mismatch,
            format!(
                "read-back mismatch at {full} ({}): wrote {}, read back {}",
                t.describe(a),
                hex(v, d),
                hex(back, d)
            ),
        )
        .hint("mark the register access=wo or rc in the map, or use --no-readback"));
    }
    Ok(())
}

fn write_field(
    b: &BlockDef,
    r: &RegDef,
    f: &FieldDef,
    s: &str,
    o: &RegOpts,
    out: &mut dyn Write,
    rep: &mut RegReport,
) -> Result<()> {
    let full = format!("{}.{}.{}", b.name, r.name, f.name);
    if r.field_access(f) == Access::Ro || r.access == Access::Ro {
        return Err(Error::usage(format!("{full} is read-only")));
    }
    let v = f.value(s)?;
    if v > f.bits.max() {
        return Err(Error::usage(format!(
            "value 0x{v:X} does not fit the field {full} {} ({} bits: at most 0x{:X})",
            f.bits,
            f.bits.bits(),
            f.bits.max()
        )));
    }
    let a = b.addr(r);
    let t = Target::open(o.file.as_deref(), true)?;
    t.check_range(a, r.width.bytes() as u64)?;
    let m = t.map(a, r.width.bytes())?;
    // One read, one write. A write-only register cannot be read: start from
    // its reset value.
    let old = if r.access == Access::Wo {
        r.reset.ok_or_else(|| {
            Error::usage(format!(
                "{}.{} is write-only and the map gives no reset value: cannot change one field",
                b.name, r.name
            ))
            .hint("write the whole register (BLOCK.REG=V), or add reset=V to the map")
        })?
    } else {
        let v = m.read(a, r.width)?;
        rep.reads.push(value(b, r, v));
        v
    };
    let new = f.bits.set(old, v);
    m.write(a, r.width, new)?;
    rep.writes.push(value(b, r, new));
    let d = r.width.digits();
    let fd = digits(f);
    wr(
        out,
        format_args!(
            "{}.{} 0x{a:08X}: {} -> {}  {} {} -> {}",
            b.name,
            r.name,
            hex(old, d),
            hex(new, d),
            f.name,
            hex(f.bits.get(old), fd),
            hex(v, fd)
        ),
    )
}

/// One read of `w` bits at `a`.
pub fn read(t: &Target, a: u64, w: Width) -> Result<u64> {
    t.check_range(a, w.bytes() as u64)?;
    t.map(a, w.bytes())?.read(a, w)
}

fn value(b: &BlockDef, r: &RegDef, v: u64) -> RegValue {
    RegValue {
        name: format!("{}.{}", b.name, r.name),
        addr: b.addr(r),
        value: v,
    }
}

fn hex(v: u64, digits: usize) -> String {
    format!("0x{v:0digits$X}")
}

/// Hex digits for a field: (bits + 3) / 4, as devmem prints bitfields.
fn digits(f: &FieldDef) -> usize {
    (f.bits.bits() as usize).div_ceil(4)
}

fn wr(out: &mut dyn Write, args: std::fmt::Arguments) -> Result<()> {
    match writeln!(out, "{args}") {
        Ok(()) => Ok(()),
        // `| head`: the reader is gone; nothing more to say
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write output", e)),
    }
}

fn title(b: &BlockDef, r: &RegDef) -> String {
    format!("{}.{} 0x{:08X}", b.name, r.name, b.addr(r))
}

/// Print a register value and every field, highest bits first.
pub fn decode(b: &BlockDef, r: &RegDef, v: u64, out: &mut dyn Write) -> Result<()> {
    wr(
        out,
        format_args!("{} = {}", title(b, r), hex(v, r.width.digits())),
    )?;
    let mut fields: Vec<&FieldDef> = r.fields.iter().collect();
    fields.sort_by_key(|f| std::cmp::Reverse(f.bits.hi));
    let wn = fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for f in fields {
        let fv = f.bits.get(v);
        let bits = if f.bits.hi == f.bits.lo {
            format!("[{}]", f.bits.lo)
        } else {
            f.bits.to_string()
        };
        let e = f.enum_name(fv).map(|n| format!(" {n}")).unwrap_or_default();
        wr(
            out,
            format_args!("  {:<wn$} {bits:<7} {}{e}", f.name, hex(fv, digits(f))),
        )?;
    }
    Ok(())
}

fn list(map: &RegisterMap, pat: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let regs = map.matching(pat);
    if regs.is_empty() {
        return Err(Error::usage(format!(
            "no register matches '{}'",
            pat.unwrap_or("*")
        )));
    }
    let wn = regs
        .iter()
        .map(|(b, r)| b.name.len() + r.name.len() + 1)
        .max()
        .unwrap_or(0);
    let mut block = "";
    for (b, r) in regs {
        if b.name != block {
            block = &b.name;
            if let Some(d) = &b.desc {
                wr(out, format_args!("{}: {d}", b.name))?;
            }
        }
        let name = format!("{}.{}", b.name, r.name);
        let mut line = format!(
            "{name:<wn$} 0x{:08X} {:>2} {}",
            b.addr(r),
            r.width.bits(),
            r.access.as_str()
        );
        if let Some(v) = r.reset {
            line.push_str(&format!(" reset={}", hex(v, r.width.digits())));
        }
        if let Some(d) = &r.desc {
            line.push_str(&format!("  {d}"));
        }
        wr(out, format_args!("{line}"))?;
        for f in &r.fields {
            let mut l = format!("    {:<8} {}", f.name, f.bits);
            if let Some(a) = f.access {
                l.push_str(&format!(" {}", a.as_str()));
            }
            if let Some(d) = &f.desc {
                l.push_str(&format!("  {d}"));
            }
            if !f.enums.is_empty() {
                let e: Vec<String> = f
                    .enums
                    .iter()
                    .map(|e| match &e.desc {
                        Some(d) => format!("{}={} \"{d}\"", e.name, e.value),
                        None => format!("{}={}", e.name, e.value),
                    })
                    .collect();
                l.push_str(&format!("  ({})", e.join(", ")));
            }
            wr(out, format_args!("{l}"))?;
        }
    }
    Ok(())
}
