//! Command-line definitions for registers by name: reg, wait, where.
//! The work is done in [`crate::regs::reg`], [`crate::regs::wait`] and
//! [`crate::regs::whereis`].

use super::Outcome;
use crate::error::Result;
use crate::regs::parse::parse_width;
use crate::regs::reg::{self, RegOpts};
use crate::regs::wait::{self, WaitOpts, parse_duration};
use crate::regs::whereis::{self, WhereOpts};
use argh::FromArgs;
use std::io::Write;
use std::path::PathBuf;

/// read, decode or change registers and fields by name (register maps)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "reg",
    example = "mmkit reg uart0.FR                 read and decode every field",
    example = "mmkit reg uart0.FR.TXFF            one field: prints 0x0",
    example = "mmkit reg uart0.LCR_H.WLEN=bits8   read-modify-write one field (one read, one write)",
    example = "mmkit reg list 'uart0.*'",
    example = "mmkit reg dump rtc",
    note = "NAME is BLOCK.REG or BLOCK.REG.FIELD (any case). Maps: --map FILE, else $MMKIT_REGMAP \
            (files separated by ':'), else /etc/mmkit/*.regs for this board (device-tree compatible \
            or /tmp/sysinfo/board_name). Values: 0x hex, leading 0 octal, decimal, or a field's enum name. \
            BLOCK.REG=V writes the register and reads it back (not for wo/rc registers, or with --no-readback). \
            `dump` does not read write-only or read-clear (rc) registers. Map format: docs/registers.md.",
    error_code(0, "success"),
    error_code(1, "I/O error, /dev/mem missing"),
    error_code(
        2,
        "bad command line, unknown name, value too wide, read-only or write-only"
    ),
    error_code(3, "the register map has an error (file:line given)"),
    error_code(7, "bus error: no device answered"),
    error_code(8, "permission refused (root, STRICT_DEVMEM)"),
    error_code(9, "read-back mismatch after writing a register")
)]
pub(super) struct RegArgs {
    /// register map file (default: $MMKIT_REGMAP, then /etc/mmkit/*.regs)
    #[argh(option, arg_name = "FILE")]
    pub map: Option<PathBuf>,
    /// map this file instead of /dev/mem; block bases are offsets in it
    #[argh(option, arg_name = "PATH")]
    pub file: Option<PathBuf>,
    /// do not read a register back after writing it
    #[argh(switch)]
    pub no_readback: bool,
    /// NAME[=VALUE], or `list [GLOB]`, or `dump BLOCK`
    #[argh(positional, arg_name = "NAME[=VALUE]")]
    pub args: Vec<String>,
}

/// wait until a register or field equals (or leaves) a value
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "wait",
    example = "mmkit wait 0x18040000:4=1 --timeout 500ms   until bit 4 is set",
    example = "mmkit wait rtc.DR!=0x6543210F --timeout 2s  until the counter moves",
    example = "mmkit wait pll.STATUS.LOCK=locked || echo 'no lock'",
    note = "COND: ADDR[:HI[:LO]]=V (ADDR read at --width, default 32) or BLOCK.REG[.FIELD]=V from a \
            register map (V may be an enum name); != waits until the value differs. Each poll is one \
            read; polls are --interval apart (default 1ms). Durations: 100us, 500ms, 2s, 1.5s, 1m \
            (a bare number is seconds). Prints nothing; exit 0 when the condition holds, 11 after \
            about --timeout (default 1s).",
    error_code(0, "the condition holds"),
    error_code(2, "bad command line or name"),
    error_code(7, "bus error: no device answered"),
    error_code(8, "permission refused"),
    error_code(11, "timeout: the condition did not hold in time")
)]
pub(super) struct WaitArgs {
    /// register map file (for names)
    #[argh(option, arg_name = "FILE")]
    pub map: Option<PathBuf>,
    /// map this file instead of /dev/mem; addresses are offsets in it
    #[argh(option, arg_name = "PATH")]
    pub file: Option<PathBuf>,
    /// give up after this long (default 1s)
    #[argh(option, arg_name = "DUR")]
    pub timeout: Option<String>,
    /// time between reads (default 1ms)
    #[argh(option, arg_name = "DUR")]
    pub interval: Option<String>,
    /// access width for ADDR: 8, 16, 32 (default), 64 or b, h, w, l
    #[argh(option, short = 'w', arg_name = "WIDTH")]
    pub width: Option<String>,
    /// ADDR[:HI[:LO]]=V, NAME=V, or with != instead of =
    #[argh(positional, arg_name = "COND")]
    pub cond: String,
}

/// where devices live: device-tree MMIO regions and /proc/iomem claims
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "where",
    example = "mmkit where                  every region: device tree, then /proc/iomem",
    example = "mmkit where 0x09000018       which node and which driver have this address",
    example = "mmkit where pl011            nodes, compatibles and iomem names containing pl011",
    example = "mmkit where uart0.FR         a register map name",
    note = "Device-tree reg ranges are translated through the ranges of every bus above them \
            (#address-cells/#size-cells honoured). An address claimed in /proc/iomem by a driver \
            is what CONFIG_IO_STRICT_DEVMEM refuses through /dev/mem. Roots: --dt-root or \
            $MMKIT_DT_ROOT (default /proc/device-tree), --iomem or $MMKIT_IOMEM (default /proc/iomem).",
    error_code(0, "success"),
    error_code(2, "bad command line, or NAME matches nothing")
)]
pub(super) struct WhereArgs {
    /// device-tree directory (default /proc/device-tree)
    #[argh(option, arg_name = "DIR")]
    pub dt_root: Option<PathBuf>,
    /// iomem file (default /proc/iomem)
    #[argh(option, arg_name = "FILE")]
    pub iomem: Option<PathBuf>,
    /// register map file (for names)
    #[argh(option, arg_name = "FILE")]
    pub map: Option<PathBuf>,
    /// an address, a register map name, or a word to look for
    #[argh(positional, arg_name = "ADDR|NAME")]
    pub query: Option<String>,
}

pub(super) fn reg(a: RegArgs, out: &mut dyn Write) -> Result<Outcome> {
    let o = RegOpts {
        map: a.map,
        file: a.file,
        no_readback: a.no_readback,
        action: reg::action(&a.args)?,
    };
    reg::reg(&o, out)?;
    Ok(Outcome::Success)
}

pub(super) fn wait(a: WaitArgs, out: &mut dyn Write) -> Result<Outcome> {
    let o = WaitOpts {
        map: a.map,
        file: a.file,
        cond: a.cond,
        width: a.width.as_deref().map(parse_width).transpose()?,
        timeout: match a.timeout {
            Some(s) => parse_duration(&s)?,
            None => wait::DEFAULT_TIMEOUT,
        },
        interval: match a.interval {
            Some(s) => parse_duration(&s)?,
            None => wait::DEFAULT_INTERVAL,
        },
    };
    wait::wait(&o, out)?;
    Ok(Outcome::Success)
}

pub(super) fn where_is(a: WhereArgs, out: &mut dyn Write) -> Result<Outcome> {
    let o = WhereOpts {
        dt_root: a.dt_root,
        iomem: a.iomem,
        map: a.map,
        query: a.query,
    };
    whereis::where_is(&o, out)?;
    Ok(Outcome::Success)
}
