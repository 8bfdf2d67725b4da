//! The command line: argh definitions, where every flag becomes a type, and
//! the one place that runs a command and renders its report into the writer
//! `main` hands in.
//!
//! Each command group keeps its argument structs in its own file:
//! [`records`] (split, join, check, recover, copy, gen, demo), [`regs`] (devmem, md,
//! mw) and [`bench`].

mod bench;
mod records;
mod regs;

use crate::error::{Error, Kind, Result};
use argh::FromArgs;
use std::ffi::OsString;
use std::io::Write;

/// mmkit: split, join, check and copy huge record files through windowed
/// mmap, and read/write hardware registers (busybox devmem compatible),
/// without ever dying of a bus error.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Run `mmkit <command> --help` for a command's flags. Set RUST_LOG=debug for details. Numbers: 0x hex, a leading 0 octal, else decimal (as C and busybox); sizes take K/M/G (1024^n) or KB/MB/GB (1000^n).",
    error_code(0, "success; `check`: the file is clean"),
    error_code(1, "I/O or system error"),
    error_code(2, "bad command line"),
    error_code(
        3,
        "malformed input (bad magic, absurd length, truncated record) or pieces that do not belong together"
    ),
    error_code(4, "an output exists (use --force to overwrite)"),
    error_code(5, "no space left on the device, or the file size limit"),
    error_code(
        6,
        "the input shrank while mapped (bus error caught); recover: the file is being written"
    ),
    error_code(7, "bus error on a register access: no device answered"),
    error_code(8, "permission refused (root, STRICT_DEVMEM, read-only)"),
    error_code(9, "read-back mismatch after a write; demo: joined file differs"),
    error_code(
        10,
        "memory could not be mapped or locked (address space, RLIMIT_MEMLOCK)"
    ),
    error_code(
        130,
        "interrupted (128 + the signal: 129 SIGHUP, 130 SIGINT, 143 SIGTERM, ...); unfinished output removed"
    )
)]
struct TopLevel {
    /// more logging (-v: debug, -vv: trace); RUST_LOG overrides
    #[argh(switch, short = 'v')]
    verbose: u8,
    /// only print errors
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// print the version and exit
    #[argh(switch, short = 'V')]
    version: bool,
    #[argh(subcommand)]
    cmd: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Command {
    Split(records::SplitArgs),
    Join(records::JoinArgs),
    Check(records::CheckArgs),
    Recover(records::RecoverArgs),
    Copy(records::CopyArgs),
    Gen(records::GenArgs),
    Demo(records::DemoArgs),
    Devmem(regs::DevmemArgs),
    Md(regs::MdArgs),
    Mw(regs::MwArgs),
    Bench(bench::BenchArgs),
}

/// A parsed command line, ready to [`run`].
#[derive(Debug)]
pub struct Invocation(Box<TopLevel>);

/// What parsing the command line gave.
#[derive(Debug)]
pub enum Parsed {
    /// A command to run.
    Run(Invocation),
    /// `--help` (or a help subcommand): print this on stdout, exit 0.
    Help(String),
    /// A bad command line: print this on stderr, exit with the usage code.
    Usage(String),
}

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything succeeded (`check`: every file is clean).
    Success,
    /// `check` found damage or sequence gaps (exit code as for malformed input).
    Unclean,
}

/// Parse an argument vector (`args[0]` is the program name).
pub fn parse(args: Vec<OsString>) -> Parsed {
    let mut strs = Vec::with_capacity(args.len());
    for a in args {
        match a.into_string() {
            Ok(s) => strs.push(s),
            Err(a) => return Parsed::Usage(format!("mmkit: argument {a:?} is not valid UTF-8")),
        }
    }
    let refs: Vec<&str> = strs.iter().map(String::as_str).collect();
    let (cmd, rest) = refs
        .split_first()
        .map(|(c, r)| (*c, r))
        .unwrap_or(("mmkit", &[]));
    let cmd = std::path::Path::new(cmd)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("mmkit");
    match TopLevel::from_args(&[cmd], rest) {
        Ok(t) => Parsed::Run(Invocation(Box::new(t))),
        Err(e) if e.status.is_ok() => Parsed::Help(e.output),
        Err(e) => Parsed::Usage(e.output),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let env = env_logger::Env::default().default_filter_or(level);
    let _ = env_logger::Builder::from_env(env)
        .format(|buf, rec| match rec.level() {
            log::Level::Info => writeln!(buf, "mmkit: {}", rec.args()),
            l => writeln!(buf, "mmkit: {}: {}", l.as_str().to_lowercase(), rec.args()),
        })
        .try_init();
}

/// Run a parsed command line, rendering its results into `out`.
/// `exit_code` is `main`'s table from error kind to exit code (the signal
/// handlers, which end the process themselves, use it too).
pub fn run(inv: Invocation, out: &mut dyn Write, exit_code: fn(Kind) -> i32) -> Result<Outcome> {
    let top = *inv.0;
    if top.version {
        writeln!(out, "mmkit {}", env!("CARGO_PKG_VERSION"))
            .map_err(|e| Error::io("cannot write to the output", e))?;
        return Ok(Outcome::Success);
    }
    init_logging(top.verbose, top.quiet);
    crate::sys::fault::install(exit_code);
    let Some(cmd) = top.cmd else {
        return Err(Error::usage("no command given; run `mmkit --help`"));
    };
    match cmd {
        Command::Split(a) => records::split(a, out),
        Command::Join(a) => records::join(a, out),
        Command::Check(a) => records::check(a, out),
        Command::Recover(a) => records::recover(a, out),
        Command::Copy(a) => records::copy(a, out),
        Command::Gen(a) => records::generate(a, out),
        Command::Demo(a) => records::demo(a, out),
        Command::Devmem(a) => regs::devmem(a, out),
        Command::Md(a) => regs::md(a, out),
        Command::Mw(a) => regs::mw(a),
        Command::Bench(a) => bench::bench(a, out),
    }
}
