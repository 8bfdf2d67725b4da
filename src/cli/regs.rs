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
    parse_width(s).map_err(Error::into_msg)
}

fn addr_spec_arg(s: &str) -> std::result::Result<AddrSpec, String> {
    parse_addr_spec(s).map_err(Error::into_msg)
}

fn range_arg(s: &str) -> std::result::Result<(u64, u64), String> {
    parse_range(s).map_err(Error::into_msg)
}

/// read or write one register, or a bitfield of it (busybox devmem compatible)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "devmem",
    example = "mmkit devmem 0x1F000208            read 32 bits, prints 0x00000010",
    example = "mmkit devmem 0x1F000408 8 0x5A     write one byte (one bus access, as busybox)",
    example = "mmkit devmem --verify 0x1F000408 8 0x5A   write, read back, exit 9 if it differs",
    example = "mmkit devmem 0x08000004:7:4        read bits 7..4",
    example = "mmkit devmem 0x1F000408:3:0=0xA    read-modify-write bits 3..0",
    example = "mmkit devmem --file /dev/uio0 0x10 w 0x5",
    note = "ADDR and VALUE: 0x hex, leading 0 octal, or decimal (as busybox). WIDTH: 8, 16, 32 (default) or 64, \
            or b, h, w, l (l = C long: 32 bits on 32-bit CPUs, 64 on 64-bit ones, as busybox). \
            A read prints 0x and WIDTH/4 upper-case hex digits; a write prints nothing. \
            Unlike busybox, an ADDR not aligned to WIDTH and a VALUE wider than WIDTH are refused. \
            mmkit makes exactly the accesses busybox makes: a write is one write and nothing is read \
            back (a read can pop a FIFO byte or clear a status register) unless --verify is given. \
            On a 32-bit CPU a 64-bit access is two 32-bit accesses, \
            lower address first (not atomic). ADDR:HI:LO reads bits HI..LO (printed with (HI-LO+1)/4 \
            digits); ADDR:HI:LO=V reads the register once, writes it once with only those bits changed, \
            and prints the old and new values (with --verify also the read-back value). \
            Without --file, /dev/mem is opened (O_SYNC, read-only for reads) and one page is mapped.",
    error_code(0, "success"),
    error_code(1, "I/O error, /dev/mem missing (kernel without CONFIG_DEVMEM)"),
    error_code(
        2,
        "bad command line: bad number or width, unaligned address, value too wide, beyond end of file"
    ),
    error_code(
        5,
        "--file: no space to back the written page (a hole of a sparse file on a full filesystem)"
    ),
    error_code(7, "bus error: no device answered at that address"),
    error_code(
        8,
        "permission refused: not root, STRICT_DEVMEM (boot with iomem=relaxed)"
    ),
    error_code(9, "--verify: the register read back differently")
)]
pub(super) struct DevmemArgs {
    /// map this file instead of /dev/mem (a UIO device, a PCI BAR's
    /// resourceN, a regular file); ADDR is the offset in it
    #[argh(option, arg_name = "PATH")]
    pub file: Option<PathBuf>,
    /// after a write, read the register back (one more access) and exit 9
    /// if it differs (a bitfield: if the field differs)
    #[argh(switch)]
    pub verify: bool,
    /// deprecated, does nothing: writes are no longer read back unless
    /// --verify is given (accepted so that old scripts keep working)
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

/// write consecutive values (like memtool mw)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "mw",
    example = "mmkit mw 0x1F000A00 0x1 0x2         two 32-bit words",
    example = "mmkit mw -w 16 --file regs.bin 0x10 0xBEEF",
    note = "Writes VALUE... at ADDR, ADDR+WIDTH/8, ...: one write each, nothing is read (as busybox \
            devmem). With --verify each value is read back right after its write; mismatches are \
            listed and the exit code is 9. Numbers as in devmem.",
    error_code(0, "success"),
    error_code(
        2,
        "bad command line: bad number, unaligned, value too wide, beyond end of file"
    ),
    error_code(
        5,
        "--file: no space to back the written pages (holes of a sparse file on a full filesystem)"
    ),
    error_code(7, "bus error: no device answered"),
    error_code(8, "permission refused"),
    error_code(9, "--verify: a value read back differently")
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
    /// read each value back right after its write; exit 9 if any differs
    #[argh(switch)]
    pub verify: bool,
    /// deprecated, does nothing: values are no longer read back unless
    /// --verify is given (accepted so that old scripts keep working)
    #[argh(switch)]
    pub no_readback: bool,
    /// address (physical, or offset in --file)
    #[argh(positional, arg_name = "ADDR", from_str_fn(num_arg))]
    pub addr: u64,
    /// values to write at consecutive addresses
    #[argh(positional, arg_name = "VALUE", from_str_fn(num_arg))]
    pub values: Vec<u64>,
}

/// `--verify`, with the deprecated `--no-readback` (a no-op now that
/// nothing is read back by default) refused only alongside it.
fn verify(verify: bool, no_readback: bool) -> Result<bool> {
    if verify && no_readback {
        return Err(Error::usage(
            "--verify and --no-readback contradict each other (--no-readback is deprecated: \
             writes are not read back unless --verify is given)",
        ));
    }
    if no_readback {
        log::debug!(
            "--no-readback is deprecated and does nothing: writes are not read back unless --verify is given"
        );
    }
    Ok(verify)
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
        verify: verify(a.verify, a.no_readback)?,
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
        verify: verify(a.verify, a.no_readback)?,
        addr: a.addr,
        values: a.values,
        width: a.width,
    };
    cmd::mw(&opts)?;
    Ok(Outcome::Success)
}
