//! The plain-text register map parser (format: docs/registers.md).
//!
//! One directive a line, indentation free, `#` starts a comment:
//!
//! ```text
//! boards qemu,virt linux,dummy-virt
//! include common.regs
//! block NAME[COUNT] BASE SIZE [stride=N] ["description"]
//!   reg NAME[COUNT] OFFSET [WIDTH] [reset=V] [access=rw|ro|wo|rc] [stride=N] ["description"]
//!     field NAME HI[:LO] [access=...] ["description"]
//!       enum NAME VALUE ["description"]
//! ```
//!
//! Every error names the file and the line.

use super::{Access, BlockDef, EnumVal, FieldDef, Loc, RegDef, RegisterMap};
use crate::error::{Error, Result};
use crate::num::parse_num;
use crate::regs::Width;
use crate::regs::parse::Field;
use std::path::Path;

/// How deep `include` may nest (a cycle ends here with an error).
const MAX_DEPTH: usize = 8;

/// An error at `loc`: "FILE:LINE: msg".
pub fn at(loc: &Loc, msg: impl std::fmt::Display) -> Error {
    Error::malformed(format!("{}:{}: {msg}", loc.file.display(), loc.line))
        .hint("see docs/registers.md for the register map format")
}

/// Read and parse `path` (and what it includes) into `map`.
pub fn parse_file(path: &Path, map: &mut RegisterMap, depth: usize) -> Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io("cannot read register map", e).with_path(path))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let bad = e.valid_up_to();
        let loc = Loc {
            file: std::sync::Arc::new(path.to_path_buf()),
            line: bytes[..bad].iter().filter(|b| **b == b'\n').count() + 1,
        };
        at(
            &loc,
            format!("not UTF-8 text: byte 0x{:02X} at offset {bad}", bytes[bad]),
        )
    })?;
    parse_text(text, path, map, depth)
}

/// One line cut into words and an optional quoted description.
struct Line<'a> {
    words: Vec<&'a str>,
    desc: Option<String>,
}

fn split_line<'a>(raw: &'a str, loc: &Loc) -> Result<Line<'a>> {
    // A comment starts at a '#' at the start or after blank space, outside
    // the description.
    let mut end = raw.len();
    let mut prev_blank = true;
    let mut quoted = false;
    for (i, c) in raw.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == '#' && prev_blank && !quoted {
            end = i;
            break;
        }
        prev_blank = c.is_whitespace();
    }
    let s = &raw[..end];
    let (head, desc) = match s.find('"') {
        None => (s, None),
        Some(q) => {
            let rest = s[q + 1..].trim_end();
            let inner = rest
                .strip_suffix('"')
                .ok_or_else(|| at(loc, "the description has no closing '\"' on this line"))?;
            (&s[..q], Some(inner.to_string()))
        }
    };
    Ok(Line {
        words: head.split_whitespace().collect(),
        desc,
    })
}

/// Positional words and `key=value` attributes of a directive.
struct Args<'a> {
    pos: Vec<&'a str>,
    attrs: Vec<(&'a str, &'a str)>,
}

fn args<'a>(words: &[&'a str], allowed: &[&str], loc: &Loc) -> Result<Args<'a>> {
    let mut a = Args {
        pos: Vec::new(),
        attrs: Vec::new(),
    };
    for w in words {
        match w.split_once('=') {
            Some((k, v)) => {
                if !allowed.contains(&k) {
                    return Err(at(
                        loc,
                        format!(
                            "unknown attribute '{k}=' (here: {})",
                            if allowed.is_empty() {
                                "none".to_string()
                            } else {
                                allowed.join("=, ") + "="
                            }
                        ),
                    ));
                }
                if a.attrs.iter().any(|(x, _)| *x == k) {
                    return Err(at(loc, format!("'{k}=' given twice")));
                }
                a.attrs.push((k, v));
            }
            None => a.pos.push(w),
        }
    }
    Ok(a)
}

impl Args<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(x, _)| *x == k).map(|(_, v)| *v)
    }
}

fn num(s: &str, what: &str, loc: &Loc) -> Result<u64> {
    parse_num(s).map_err(|e| at(loc, format!("{what}: {}", e.msg)))
}

/// A name is letters, digits and '_', not starting with a digit.
fn name(s: &str, what: &str, loc: &Loc) -> Result<String> {
    let ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(at(
            loc,
            format!("bad {what} name '{s}': use letters, digits and '_', starting with a letter"),
        ));
    }
    Ok(s.to_string())
}

/// `NAME` or `NAME[COUNT]` (an array).
fn name_count(s: &str, what: &str, loc: &Loc) -> Result<(String, Option<u32>)> {
    let Some(open) = s.find('[') else {
        return Ok((name(s, what, loc)?, None));
    };
    let inner = s[open + 1..]
        .strip_suffix(']')
        .ok_or_else(|| at(loc, format!("bad array '{s}': write {what}[COUNT]")))?;
    let n = num(inner, "array count", loc)?;
    if n == 0 || n > 4096 {
        return Err(at(loc, format!("array count {n} must be 1..4096")));
    }
    Ok((name(&s[..open], what, loc)?, Some(n as u32)))
}

fn access(a: &Args, loc: &Loc) -> Result<Option<Access>> {
    match a.get("access") {
        None => Ok(None),
        Some(s) => Access::parse(s).map(Some).ok_or_else(|| {
            at(
                loc,
                format!("bad access '{s}': use rw, ro, wo or rc (read clears)"),
            )
        }),
    }
}

fn need(a: &Args, min: usize, max: usize, usage: &str, loc: &Loc) -> Result<()> {
    if a.pos.len() < min + 1 || a.pos.len() > max + 1 {
        return Err(at(loc, format!("expected: {usage}")));
    }
    Ok(())
}

/// Parse map text; `file` names it in errors and anchors `include`.
pub fn parse_text(text: &str, file: &Path, map: &mut RegisterMap, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::malformed(format!(
            "{}: includes nest deeper than {MAX_DEPTH} (an include cycle?)",
            file.display()
        )));
    }
    map.files.push(file.to_path_buf());
    let file = std::sync::Arc::new(file.to_path_buf());
    // Where new regs, fields and enums go: (block, reg, field) indices in
    // `map`, valid only for blocks added by this file.
    let mut cur_block: Option<usize> = None;
    let mut cur_reg: Option<usize> = None;
    let mut cur_field: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let loc = Loc {
            file: file.clone(),
            line: i + 1,
        };
        let line = split_line(raw, &loc)?;
        let Some(&kw) = line.words.first() else {
            if line.desc.is_some() {
                return Err(at(&loc, "a description without a directive"));
            }
            continue;
        };
        match kw {
            "boards" => {
                if line.words.len() < 2 {
                    return Err(at(&loc, "expected: boards COMPATIBLE|BOARD_NAME..."));
                }
                map.boards
                    .extend(line.words[1..].iter().map(|s| s.to_string()));
            }
            "include" => {
                if line.words.len() != 2 {
                    return Err(at(&loc, "expected: include FILE"));
                }
                let p = Path::new(line.words[1]);
                let p = match file.parent() {
                    Some(d) if p.is_relative() => d.join(p),
                    _ => p.to_path_buf(),
                };
                parse_file(&p, map, depth + 1).map_err(|e| match e.kind {
                    // errors inside the included file already name it
                    crate::error::Kind::Malformed => e,
                    _ => at(&loc, format!("include: {e}")),
                })?;
                cur_block = None;
                cur_reg = None;
                cur_field = None;
            }
            "block" => {
                let a = args(&line.words, &["stride"], &loc)?;
                need(
                    &a,
                    3,
                    3,
                    "block NAME[COUNT] BASE SIZE [stride=N] [\"text\"]",
                    &loc,
                )?;
                let (nm, count) = name_count(a.pos[1], "block", &loc)?;
                let base = num(a.pos[2], "block base", &loc)?;
                let size = num(a.pos[3], "block size", &loc)?;
                if size == 0 {
                    return Err(at(&loc, "block size 0"));
                }
                let stride = match a.get("stride") {
                    Some(s) => num(s, "stride", &loc)?,
                    None => size,
                };
                map.blocks.push(BlockDef {
                    name: nm,
                    base,
                    size,
                    desc: line.desc,
                    regs: Vec::new(),
                    count,
                    stride,
                    loc,
                });
                cur_block = Some(map.blocks.len() - 1);
                cur_reg = None;
                cur_field = None;
            }
            "reg" => {
                let b = cur_block.ok_or_else(|| at(&loc, "'reg' outside a block"))?;
                let a = args(&line.words, &["reset", "access", "stride"], &loc)?;
                need(
                    &a,
                    2,
                    3,
                    "reg NAME[COUNT] OFFSET [WIDTH] [reset=V] [access=rw|ro|wo|rc] [\"text\"]",
                    &loc,
                )?;
                let (nm, count) = name_count(a.pos[1], "register", &loc)?;
                let offset = num(a.pos[2], "register offset", &loc)?;
                let width = match a.pos.get(3) {
                    None => Width::W32,
                    Some(w) => Width::from_bits(num(w, "width", &loc)? as u32)
                        .ok_or_else(|| at(&loc, format!("bad width '{w}': use 8, 16, 32 or 64")))?,
                };
                let reset = a.get("reset").map(|s| num(s, "reset", &loc)).transpose()?;
                if let Some(r) = reset.filter(|r| *r > width.max()) {
                    return Err(at(
                        &loc,
                        format!("reset value 0x{r:X} does not fit {} bits", width.bits()),
                    ));
                }
                let stride = match a.get("stride") {
                    Some(s) => num(s, "stride", &loc)?,
                    None => width.bytes() as u64,
                };
                let regs = &mut map.blocks[b].regs;
                regs.push(RegDef {
                    name: nm,
                    offset,
                    width,
                    reset,
                    access: access(&a, &loc)?.unwrap_or(Access::Rw),
                    desc: line.desc,
                    fields: Vec::new(),
                    count,
                    stride,
                    loc,
                });
                cur_reg = Some(regs.len() - 1);
                cur_field = None;
            }
            "field" => {
                let (b, r) = cur_block
                    .zip(cur_reg)
                    .ok_or_else(|| at(&loc, "'field' outside a reg"))?;
                let a = args(&line.words, &["access"], &loc)?;
                need(&a, 2, 2, "field NAME HI[:LO] [access=...] [\"text\"]", &loc)?;
                let nm = name(a.pos[1], "field", &loc)?;
                let bits = bit_range(a.pos[2], &loc)?;
                let reg = &mut map.blocks[b].regs[r];
                if bits.hi >= reg.width.bits() {
                    return Err(at(
                        &loc,
                        format!(
                            "field {nm} {bits} is outside the {}-bit register {}",
                            reg.width.bits(),
                            reg.name
                        ),
                    ));
                }
                if let Some(o) = reg.fields.iter().find(|f| f.bits.mask() & bits.mask() != 0) {
                    return Err(at(
                        &loc,
                        format!(
                            "field {nm} {bits} overlaps field {} {} (line {})",
                            o.name, o.bits, o.loc.line
                        ),
                    ));
                }
                if reg.fields.iter().any(|f| f.name.eq_ignore_ascii_case(&nm)) {
                    return Err(at(
                        &loc,
                        format!("field {nm} defined twice in {}", reg.name),
                    ));
                }
                reg.fields.push(FieldDef {
                    name: nm,
                    bits,
                    access: access(&a, &loc)?,
                    desc: line.desc,
                    enums: Vec::new(),
                    loc,
                });
                cur_field = Some(reg.fields.len() - 1);
            }
            "enum" => {
                let ((b, r), f) = cur_block
                    .zip(cur_reg)
                    .zip(cur_field)
                    .ok_or_else(|| at(&loc, "'enum' outside a field"))?;
                let a = args(&line.words, &[], &loc)?;
                need(&a, 2, 2, "enum NAME VALUE [\"text\"]", &loc)?;
                let nm = name(a.pos[1], "enum", &loc)?;
                let value = num(a.pos[2], "enum value", &loc)?;
                let field = &mut map.blocks[b].regs[r].fields[f];
                if value > field.bits.max() {
                    return Err(at(
                        &loc,
                        format!(
                            "enum {nm} = 0x{value:X} does not fit field {} {}",
                            field.name, field.bits
                        ),
                    ));
                }
                if field.enums.iter().any(|e| e.name.eq_ignore_ascii_case(&nm)) {
                    return Err(at(&loc, format!("enum {nm} defined twice")));
                }
                field.enums.push(EnumVal {
                    name: nm,
                    value,
                    desc: line.desc,
                });
            }
            other => {
                return Err(at(
                    &loc,
                    format!(
                        "unknown directive '{other}' (expected block, reg, field, enum, include or boards)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `HI:LO` or `BIT`.
fn bit_range(s: &str, loc: &Loc) -> Result<Field> {
    let (hi, lo) = match s.split_once(':') {
        Some((h, l)) => (num(h, "bit", loc)?, num(l, "bit", loc)?),
        None => {
            let b = num(s, "bit", loc)?;
            (b, b)
        }
    };
    if hi > 63 || lo > hi {
        return Err(at(
            loc,
            format!("bad bit range '{s}': write HI:LO with 63 >= HI >= LO"),
        ));
    }
    Ok(Field {
        hi: hi as u32,
        lo: lo as u32,
    })
}
