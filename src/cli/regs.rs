//! Command-line definitions for register access: devmem, md, mw.
//! The work is done in [`crate::regs::cmd`].

use super::Outcome;
use crate::error::{Error, Result};
use crate::num::{num_arg, parse_num};
use crate::regs::Width;
use crate::regs::cmd::{self, DevmemOpts, MdOpts, MwOpts};
use crate::regs::parse::{AddrSpec, parse_addr_spec, parse_range, parse_width};
use argh::FromArgs;
use std::io::Write;
use std::path::PathBuf;

fn width_arg(s: &str) -> std::result::Result<Width, String> {
    parse_width(s).map_err(|e| e.msg)
}

fn addr_spec_arg(s: &str) -> std::result::Result<AddrSpec, String> {
    parse_addr_spec(s).map_err(|e| e.msg)
}

fn range_arg(s: &str) -> std::result::Result<(u64, u64), String> {
    parse_range(s).map_err(|e| e.msg)
}

/// read or write one register, or a bitfield of it (busybox devmem compatible)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "devmem",
    example = "mmkit devmem 0x1F000208            read 32 bits, prints 0x00000010",
    example = "mmkit devmem 0x1F000408 8 0x5A     write one byte (read back and checked)",
    example = "mmkit devmem 0x08000004:7:4        read bits 7..4",
    example = "mmkit devmem 0x1F000408:3:0=0xA    read-modify-write bits 3..0",
    example = "mmkit devmem --file /dev/uio0 0x10 w 0x5",
    note = "ADDR and VALUE: 0x hex, leading 0 octal, or decimal (as busybox). WIDTH: 8, 16, 32 (default) or 64, \
            or b, h, w, l (l = C long: 32 bits on 32-bit CPUs, 64 on 64-bit ones, as busybox). \
            A read prints 0x and WIDTH/4 upper-case hex digits; a write prints nothing. \
            Unlike busybox, an ADDR not aligned to WIDTH and a VALUE wider than WIDTH are refused, \
            and every write is read back. On a 32-bit CPU a 64-bit access is two 32-bit accesses, \
            lower address first (not atomic). ADDR:HI:LO reads bits HI..LO (printed with (HI-LO+1)/4 \
            digits); ADDR:HI:LO=V rewrites only those bits and prints old, new and read-back values. \
            Without --file, /dev/mem is opened (O_SYNC, read-only for reads) and one page is mapped.",
    error_code(0, "success"),
    error_code(1, "I/O error, /dev/mem missing (kernel without CONFIG_DEVMEM)"),
    error_code(
        2,
        "bad command line: bad number or width, unaligned address, value too wide, beyond end of file"
    ),
    error_code(7, "bus error: no device answered at that address"),
    error_code(
        8,
        "permission refused: not root, STRICT_DEVMEM (boot with iomem=relaxed)"
    ),
    error_code(9, "read-back mismatch after a write")
)]
pub(super) struct DevmemArgs {
    /// map this file instead of /dev/mem (a UIO device, a PCI BAR's
    /// resourceN, a regular file); ADDR is the offset in it
    #[argh(option, arg_name = "PATH")]
    pub file: Option<PathBuf>,
    /// do not read back after a write (write-only or self-clearing registers)
    #[argh(switch)]
    pub no_readback: bool,
    /// address (physical, or offset in --file), optionally with a bitfield
    /// :HI:LO and a value =V
    #[argh(positional, arg_name = "ADDR", from_str_fn(addr_spec_arg))]
    pub addr: AddrSpec,
    /// WIDTH (8, 16, 32 = default, 64, or b, h, w, l), then VALUE to write
    /// (no VALUE: read)
    #[argh(positional, arg_name = "WIDTH [VALUE]")]
    pub rest: Vec<String>,
}

/// display memory or registers: address, values, ASCII (like memtool md)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "md",
    example = "mmkit md 0x09000FE0+0x20           32-bit words",
    example = "mmkit md -w 8 0x1FC00000-0x1FC0003F   bytes, END inclusive",
    example = "mmkit md --file regs.bin 0+4K",
    note = "RANGE is ADDR (0x100 bytes), ADDR+LEN (LEN takes K, M, G suffixes) or ADDR-END (END inclusive). \
            Values are shown in the CPU's byte order; the ASCII column shows the bytes of the values \
            already read (each register is read exactly once, at the chosen width). On a regular \
            file the dump stops at its end.",
    error_code(0, "success"),
    error_code(1, "I/O error, /dev/mem missing"),
    error_code(
        2,
        "bad command line: bad range or width, unaligned, beyond end of file"
    ),
    error_code(7, "bus error: no device answered"),
    error_code(8, "permission refused")
)]
pub(super) struct MdArgs {
    /// map this file instead of /dev/mem; addresses are offsets in it
    #[argh(option, arg_name = "PATH")]
    pub file: Option<PathBuf>,
    /// access width: 8, 16, 32 (default), 64 or b, h, w, l
    #[argh(
        option,
        short = 'w',
        arg_name = "WIDTH",
        default = "Width::W32",
        from_str_fn(width_arg)
    )]
    pub width: Width,
    /// ADDR, ADDR+LEN or ADDR-END
    #[argh(positional, arg_name = "RANGE", from_str_fn(range_arg))]
    pub range: (u64, u64),
}

/// write consecutive values, each read back (like memtool mw)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "mw",
    example = "mmkit mw 0x1F000A00 0x1 0x2         two 32-bit words",
    example = "mmkit mw -w 16 --file regs.bin 0x10 0xBEEF",
    note = "Writes VALUE... at ADDR, ADDR+WIDTH/8, ...; each is read back right after its write \
            (--no-readback to skip). Numbers as in devmem.",
    error_code(0, "success"),
    error_code(
        2,
        "bad command line: bad number, unaligned, value too wide, beyond end of file"
    ),
    error_code(7, "bus error: no device answered"),
    error_code(8, "permission refused"),
    error_code(9, "read-back mismatch")
)]
pub(super) struct MwArgs {
    /// map this file instead of /dev/mem; ADDR is the offset in it
    #[argh(option, arg_name = "PATH")]
    pub file: Option<PathBuf>,
    /// access width: 8, 16, 32 (default), 64 or b, h, w, l
    #[argh(
        option,
        short = 'w',
        arg_name = "WIDTH",
        default = "Width::W32",
        from_str_fn(width_arg)
    )]
    pub width: Width,
    /// do not read back after each write
    #[argh(switch)]
    pub no_readback: bool,
    /// address (physical, or offset in --file)
    #[argh(positional, arg_name = "ADDR", from_str_fn(num_arg))]
    pub addr: u64,
    /// values to write at consecutive addresses
    #[argh(positional, arg_name = "VALUE", from_str_fn(num_arg))]
    pub values: Vec<u64>,
}

pub(super) fn devmem(a: DevmemArgs, out: &mut dyn Write) -> Result<Outcome> {
    if a.rest.len() > 2 {
        return Err(Error::usage(format!(
            "devmem: too many arguments ('{}'): usage: devmem ADDR [WIDTH [VALUE]]",
            a.rest[2..].join(" ")
        )));
    }
    let width = match a.rest.first() {
        Some(w) => parse_width(w)?,
        None => Width::W32,
    };
    let value = match a.rest.get(1) {
        Some(v) => Some(parse_num(v)?),
        None => None,
    };
    let opts = DevmemOpts {
        file: a.file,
        no_readback: a.no_readback,
        spec: a.addr,
        width,
        value,
    };
    cmd::devmem(&opts, out)?;
    Ok(Outcome::Success)
}

pub(super) fn md(a: MdArgs, out: &mut dyn Write) -> Result<Outcome> {
    let opts = MdOpts {
        file: a.file,
        range: a.range,
        width: a.width,
    };
    cmd::md(&opts, out)?;
    Ok(Outcome::Success)
}

pub(super) fn mw(a: MwArgs) -> Result<Outcome> {
    let opts = MwOpts {
        file: a.file,
        no_readback: a.no_readback,
        addr: a.addr,
        values: a.values,
        width: a.width,
    };
    cmd::mw(&opts)?;
    Ok(Outcome::Success)
}
