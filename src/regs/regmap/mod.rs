//! Register maps: registers and fields by name, from plain-text files that
//! can be read and edited on the device with `vi` (format in
//! docs/registers.md; parser in [`parse`], where the maps are found in
//! [`find`]).
//!
//! Names are `BLOCK.REG` and `BLOCK.REG.FIELD`, matched without regard to
//! case. Arrays (`block gpio[4] …`, `reg ISENABLER[32] …`) are expanded
//! when a map is loaded into `gpio0`…`gpio3`, `ISENABLER0`…`ISENABLER31`.

pub mod find;
pub mod parse;

use crate::error::{Error, Result};
use crate::regs::Width;
use crate::regs::parse::Field;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a definition is: file and line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<PathBuf>,
    pub line: usize,
}

/// What an access does to a register or field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// read and write (the default)
    Rw,
    /// read-only: writes are refused
    Ro,
    /// write-only: reads are refused (a read-modify-write starts from the
    /// reset value)
    Wo,
    /// reading clears it: `reg dump` does not read it
    Rc,
}

impl Access {
    pub fn parse(s: &str) -> Option<Access> {
        match s.to_ascii_lowercase().as_str() {
            "rw" => Some(Access::Rw),
            "ro" => Some(Access::Ro),
            "wo" => Some(Access::Wo),
            "rc" => Some(Access::Rc),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Rw => "rw",
            Access::Ro => "ro",
            Access::Wo => "wo",
            Access::Rc => "rc",
        }
    }
}

/// A named value of a field.
#[derive(Debug, Clone)]
pub struct EnumVal {
    pub name: String,
    pub value: u64,
    pub desc: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: String,
    pub bits: Field,
    /// None: as the register.
    pub access: Option<Access>,
    pub desc: Option<String>,
    pub enums: Vec<EnumVal>,
    pub loc: Loc,
}

impl FieldDef {
    /// The enum name of `v`, if the map gives one.
    pub fn enum_name(&self, v: u64) -> Option<&str> {
        self.enums
            .iter()
            .find(|e| e.value == v)
            .map(|e| e.name.as_str())
    }
    /// A value for this field: a number or one of its enum names.
    pub fn value(&self, s: &str) -> Result<u64> {
        if let Some(e) = self.enums.iter().find(|e| e.name.eq_ignore_ascii_case(s)) {
            return Ok(e.value);
        }
        crate::num::parse_num(s).map_err(|e| {
            if self.enums.is_empty() {
                e
            } else {
                let names: Vec<&str> = self.enums.iter().map(|e| e.name.as_str()).collect();
                e.hint(format!(
                    "field {} also takes the names {}",
                    self.name,
                    names.join(", ")
                ))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct RegDef {
    pub name: String,
    /// Offset from the block's base.
    pub offset: u64,
    pub width: Width,
    pub reset: Option<u64>,
    pub access: Access,
    pub desc: Option<String>,
    pub fields: Vec<FieldDef>,
    /// An array before expansion (`reg NAME[COUNT]`).
    pub count: Option<u32>,
    pub stride: u64,
    pub loc: Loc,
}

impl RegDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
    /// The access of a field of this register.
    pub fn field_access(&self, f: &FieldDef) -> Access {
        f.access.unwrap_or(self.access)
    }
}

#[derive(Debug, Clone)]
pub struct BlockDef {
    pub name: String,
    pub base: u64,
    pub size: u64,
    pub desc: Option<String>,
    pub regs: Vec<RegDef>,
    /// An array before expansion (`block NAME[COUNT]`).
    pub count: Option<u32>,
    pub stride: u64,
    pub loc: Loc,
}

impl BlockDef {
    pub fn reg(&self, name: &str) -> Option<&RegDef> {
        self.regs.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }
    /// Address (physical, or offset in `--file`) of a register.
    pub fn addr(&self, r: &RegDef) -> u64 {
        self.base.wrapping_add(r.offset)
    }
}

/// One or more map files, loaded and expanded.
#[derive(Debug, Clone, Default)]
pub struct RegisterMap {
    pub blocks: Vec<BlockDef>,
    /// Device-tree `compatible` strings or OpenWrt board names this map is
    /// for (empty: any board).
    pub boards: Vec<String>,
    /// The files read, includes too.
    pub files: Vec<PathBuf>,
}

/// A name resolved in a map: a block, maybe a register, maybe a field.
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    pub block: &'a BlockDef,
    pub reg: Option<&'a RegDef>,
    pub field: Option<&'a FieldDef>,
}

impl RegisterMap {
    /// Parse one map file (and its includes), expand arrays and check it.
    pub fn load(path: &Path) -> Result<RegisterMap> {
        let mut m = RegisterMap::default();
        parse::parse_file(path, &mut m, 0)?;
        m.finish()?;
        Ok(m)
    }

    /// Parse map text (tests, maps from a string); `file` names it in errors.
    #[cfg(test)]
    pub fn from_text(text: &str, file: &Path) -> Result<RegisterMap> {
        let mut m = RegisterMap::default();
        parse::parse_text(text, file, &mut m, 0)?;
        m.finish()?;
        Ok(m)
    }

    /// Add the blocks of `other`; a block name defined in both is an error.
    pub fn merge(&mut self, other: RegisterMap) -> Result<()> {
        for b in other.blocks {
            self.check_new_block(&b)?;
            self.blocks.push(b);
        }
        self.files.extend(other.files);
        self.check_block_overlaps()
    }

    fn check_new_block(&self, b: &BlockDef) -> Result<()> {
        if let Some(o) = self
            .blocks
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(&b.name))
        {
            return Err(parse::at(
                &b.loc,
                format!(
                    "block {} is already defined at {}:{}",
                    b.name,
                    o.loc.file.display(),
                    o.loc.line
                ),
            ));
        }
        Ok(())
    }

    /// Expand arrays and check registers against their blocks.
    fn finish(&mut self) -> Result<()> {
        let blocks = std::mem::take(&mut self.blocks);
        for mut b in blocks {
            b.regs = expand_regs(std::mem::take(&mut b.regs))?;
            check_block(&b)?;
            match b.count {
                None => {
                    self.check_new_block(&b)?;
                    self.blocks.push(b);
                }
                Some(n) => {
                    for i in 0..u64::from(n) {
                        let mut c = b.clone();
                        c.name = format!("{}{i}", b.name);
                        c.count = None;
                        c.base = i
                            .checked_mul(b.stride)
                            .and_then(|o| b.base.checked_add(o))
                            .ok_or_else(|| parse::at(&b.loc, "block array overflows 64 bits"))?;
                        self.check_new_block(&c)?;
                        self.blocks.push(c);
                    }
                }
            }
        }
        self.check_block_overlaps()
    }

    /// No two blocks share an address.
    fn check_block_overlaps(&self) -> Result<()> {
        let spans: Vec<(u64, u64)> = self
            .blocks
            .iter()
            .map(|b| (b.base, b.base.saturating_add(b.size)))
            .collect();
        match first_overlap(&spans) {
            None => Ok(()),
            Some((i, j)) => {
                let (a, b) = (&self.blocks[i], &self.blocks[j]);
                Err(parse::at(
                    &b.loc,
                    format!(
                        "block {} (0x{:X}, size 0x{:X}) overlaps block {} (0x{:X}, size 0x{:X}) at {}",
                        b.name,
                        b.base,
                        b.size,
                        a.name,
                        a.base,
                        a.size,
                        where_(&a.loc)
                    ),
                ))
            }
        }
    }

    /// Resolve `BLOCK`, `BLOCK.REG` or `BLOCK.REG.FIELD`.
    pub fn lookup(&self, name: &str) -> Result<Named<'_>> {
        let mut parts = name.split('.');
        let bname = parts.next().unwrap_or("");
        let rname = parts.next();
        let fname = parts.next();
        if parts.next().is_some() || name.is_empty() {
            return Err(Error::usage(format!(
                "bad register name '{name}': expected BLOCK, BLOCK.REG or BLOCK.REG.FIELD"
            )));
        }
        let block = self
            .blocks
            .iter()
            .find(|b| b.name.eq_ignore_ascii_case(bname))
            .ok_or_else(|| {
                let all: Vec<&str> = self.blocks.iter().map(|b| b.name.as_str()).collect();
                Error::usage(format!("no block '{bname}' in the register map"))
                    .hint(format!("blocks: {}", shorten(&all)))
            })?;
        let Some(rname) = rname else {
            return Ok(Named {
                block,
                reg: None,
                field: None,
            });
        };
        let reg = block.reg(rname).ok_or_else(|| {
            let all: Vec<&str> = block.regs.iter().map(|r| r.name.as_str()).collect();
            Error::usage(format!("no register '{rname}' in block {}", block.name))
                .hint(format!("registers: {}", shorten(&all)))
        })?;
        let field = match fname {
            None => None,
            Some(f) => Some(reg.field(f).ok_or_else(|| {
                let all: Vec<&str> = reg.fields.iter().map(|f| f.name.as_str()).collect();
                Error::usage(format!(
                    "no field '{f}' in register {}.{}",
                    block.name, reg.name
                ))
                .hint(format!("fields: {}", shorten(&all)))
            })?),
        };
        Ok(Named {
            block,
            reg: Some(reg),
            field,
        })
    }

    /// Registers whose `BLOCK.REG` matches the glob `pat` (`*`, `?`; no
    /// pattern: all), in map order.
    pub fn matching(&self, pat: Option<&str>) -> Vec<(&BlockDef, &RegDef)> {
        let mut v = Vec::new();
        for b in &self.blocks {
            for r in &b.regs {
                let full = format!("{}.{}", b.name, r.name);
                let hit = match pat {
                    None => true,
                    Some(p) if !p.contains('.') => glob(p, &b.name),
                    Some(p) => glob(p, &full),
                };
                if hit {
                    v.push((b, r));
                }
            }
        }
        v
    }
}

fn shorten(names: &[&str]) -> String {
    if names.is_empty() {
        return "(none)".into();
    }
    let mut s = names
        .iter()
        .take(12)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 12 {
        s.push_str(&format!(", … ({} in all)", names.len()));
    }
    s
}

fn expand_regs(regs: Vec<RegDef>) -> Result<Vec<RegDef>> {
    let mut out: Vec<RegDef> = Vec::with_capacity(regs.len());
    for r in regs {
        let copies: Vec<RegDef> = match r.count {
            None => vec![r],
            Some(n) => {
                let mut v = Vec::with_capacity(n as usize);
                for i in 0..u64::from(n) {
                    let mut c = r.clone();
                    c.name = format!("{}{i}", r.name);
                    c.count = None;
                    c.offset = i
                        .checked_mul(r.stride)
                        .and_then(|o| r.offset.checked_add(o))
                        .ok_or_else(|| parse::at(&r.loc, "register array overflows 64 bits"))?;
                    v.push(c);
                }
                v
            }
        };
        for c in copies {
            if let Some(o) = out.iter().find(|o| o.name.eq_ignore_ascii_case(&c.name)) {
                return Err(parse::at(
                    &c.loc,
                    format!(
                        "register {} is already defined at line {}",
                        c.name, o.loc.line
                    ),
                ));
            }
            out.push(c);
        }
    }
    Ok(out)
}

/// `FILE:LINE`.
fn where_(l: &Loc) -> String {
    format!("{}:{}", l.file.display(), l.line)
}

/// Two of the half-open spans `[start, end)` that overlap, `(i, j)` with
/// `i` defined first, or None.
fn first_overlap(spans: &[(u64, u64)]) -> Option<(usize, usize)> {
    // The spans seen so far, by start; they do not overlap each other, so
    // a new one can only overlap its neighbours.
    let mut seen: Vec<usize> = Vec::with_capacity(spans.len());
    for (j, &(start, end)) in spans.iter().enumerate() {
        let at = seen.partition_point(|&i| spans[i].0 < start);
        let before = at.checked_sub(1).map(|k| seen[k]);
        if let Some(i) = before.filter(|&i| spans[i].1 > start) {
            return Some((i, j));
        }
        if let Some(&i) = seen.get(at).filter(|&&i| spans[i].0 < end) {
            return Some((i, j));
        }
        seen.insert(at, j);
    }
    None
}

fn check_block(b: &BlockDef) -> Result<()> {
    for r in &b.regs {
        let wb = r.width.bytes() as u64;
        if !r.offset.is_multiple_of(wb) {
            return Err(parse::at(
                &r.loc,
                format!(
                    "register {} at offset 0x{:X} is not aligned to its {}-bit width",
                    r.name,
                    r.offset,
                    r.width.bits()
                ),
            ));
        }
        if r.offset.checked_add(wb).is_none_or(|e| e > b.size) {
            return Err(parse::at(
                &r.loc,
                format!(
                    "register {} at offset 0x{:X} is outside block {} (size 0x{:X})",
                    r.name, r.offset, b.name, b.size
                ),
            ));
        }
    }
    let spans: Vec<(u64, u64)> = b
        .regs
        .iter()
        .map(|r| (r.offset, r.offset + r.width.bytes() as u64))
        .collect();
    if let Some((i, j)) = first_overlap(&spans) {
        let (a, r) = (&b.regs[i], &b.regs[j]);
        return Err(parse::at(
            &r.loc,
            format!(
                "register {} at offset 0x{:X} ({} bits) overlaps register {} at offset 0x{:X} ({} bits) at {}",
                r.name,
                r.offset,
                r.width.bits(),
                a.name,
                a.offset,
                a.width.bits(),
                where_(&a.loc)
            ),
        ));
    }
    if !b.base.is_multiple_of(8)
        && b.regs
            .iter()
            .any(|r| !b.addr(r).is_multiple_of(r.width.bytes() as u64))
    {
        return Err(parse::at(
            &b.loc,
            format!(
                "block {} at 0x{:X} leaves registers unaligned",
                b.name, b.base
            ),
        ));
    }
    Ok(())
}

/// Shell-style glob with `*` and `?`, ASCII case-insensitive.
pub fn glob(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = s.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
