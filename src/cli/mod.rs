//! The command line: argh definitions, where every flag becomes a type, and
//! the one place that runs a command and renders its report into the writer
//! `main` hands in.
//!
//! Each command group keeps its argument structs in its own file:
//! [`records`] (split, join, check, recover, copy, gen, demo), [`regs`] (devmem, md,
//! mw), [`regnames`] (reg, wait, where) and [`bench`]; [`applet`] makes
//! `devmem`, `md` and `mw` symlinks work; [`argv`] rewrites the spellings
//! argh does not parse (`--size=100M`, `-vv`, `-q` after the command, a
//! lone `-`) before it sees them.

mod applet;
mod argv;
mod bench;
mod records;
mod regnames;
mod regs;
mod stream;

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
    note = "Run `mmkit <command> --help` for a command's flags. -v, -vv, -q (and --verbose, --quiet) may also come after the command; options take --name VALUE or --name=VALUE. -q means errors only: warnings, progress and the summary line of split, join, copy, gen and demo are not shown, while what a command is for still is (check reports, devmem values, md dumps, split -n plans, bench results, --help). Set RUST_LOG=debug for details. Numbers: 0x hex, a leading 0 octal, else decimal (as C and busybox); sizes take K/M/G (1024^n) or KB/MB/GB (1000^n).",
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
    error_code(
        9,
        "devmem/mw --verify: read-back mismatch after a write; demo: joined file differs"
    ),
    error_code(
        10,
        "memory could not be mapped or locked (address space, RLIMIT_MEMLOCK)"
    ),
    error_code(11, "wait: timeout, the condition did not hold in time"),
    error_code(
        130,
        "interrupted (128 + the signal: 129 SIGHUP, 130 SIGINT, 141 SIGPIPE sent with kill, 143 SIGTERM, ...); unfinished output removed"
    )
)]
struct TopLevel {
    /// more logging (-v: debug, -vv: trace); RUST_LOG overrides
    #[argh(switch, short = 'v')]
    verbose: u8,
    /// errors only: no warnings, progress or summary lines (results stay)
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// print the version and exit
    #[argh(switch, short = 'V')]
    version: bool,
    /// create devmem, md and mw symlinks to mmkit in DIR (existing files
    /// are kept), then exit
    #[argh(option, arg_name = "DIR")]
    install_links: Option<std::path::PathBuf>,
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
    Reg(regnames::RegArgs),
    Wait(regnames::WaitArgs),
    Where(regnames::WhereArgs),
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
    /// A stream split finished early on this terminating signal, its
    /// records kept (exit code 128 + the signal, as if it had killed us).
    Interrupted(i32),
}

/// Parse an argument vector (`args[0]` is the program name).
pub fn parse(args: Vec<OsString>) -> Parsed {
    let mut strs = Vec::with_capacity(args.len());
    for a in args {
        match a.into_string() {
            Ok(s) => strs.push(s),
            Err(a) => {
                return Parsed::Usage(format!(
                    "mmkit: argument '{}' is not valid UTF-8",
                    a.to_string_lossy()
                ));
            }
        }
    }
    let (argv0, args) = match strs.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("mmkit", &[][..]),
    };
    let cmd = std::path::Path::new(argv0)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("mmkit");
    // Called as `devmem`, `md` or `mw` (a symlink): be that command.
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (cmd, args): (&str, Vec<String>) = match applet::applet_args(cmd, &refs) {
        Some(v) => ("mmkit", v.iter().map(|a| a.to_string()).collect()),
        None => (cmd, args.to_vec()),
    };
    let rest = dash_last(argv::normalize(&args));
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match TopLevel::from_args(&[cmd], &rest) {
        Ok(t) => Parsed::Run(Invocation(Box::new(t))),
        Err(e) if e.status.is_ok() => Parsed::Help(e.output),
        Err(e) => Parsed::Usage(e.output),
    }
}

/// argh takes a lone `-` (standard input, `split -`) for an unknown flag;
/// after `--` it is a positional. Move it there: `split - -o d` becomes
/// `split -o d -- -`.
fn dash_last(mut args: Vec<String>) -> Vec<String> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    if let Some(i) = args[..end].iter().position(|a| a == "-") {
        args.remove(i);
        if end == args.len() + 1 {
            args.push("--".into());
        }
        args.push("-".into());
    }
    args
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
            l => writeln!(
                buf,
                "mmkit: {}: {}",
                l.as_str().to_ascii_lowercase(),
                rec.args()
            ),
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
    if let Some(dir) = top.install_links {
        let exe = std::env::current_exe()
            .map_err(|e| Error::io("cannot find the mmkit executable (/proc/self/exe)", e))?;
        applet::install_links(&dir, &exe, out)?;
        return Ok(Outcome::Success);
    }
    let Some(cmd) = top.cmd else {
        return Err(Error::usage("no command given; run `mmkit --help`"));
    };
    // `-q`: the summary of work done goes nowhere; the results a command is
    // run for (check reports, register values, dumps, plans) still print.
    let mut sink = std::io::sink();
    let summary: &mut dyn Write = if top.quiet { &mut sink } else { &mut *out };
    match cmd {
        Command::Split(a) if a.dry_run => records::split(a, out),
        Command::Split(a) => records::split(a, summary),
        Command::Join(a) => records::join(a, summary),
        Command::Check(a) => records::check(a, out),
        Command::Recover(a) => records::recover(a, out),
        Command::Copy(a) => records::copy(a, summary),
        Command::Gen(a) => records::generate(a, summary),
        Command::Demo(a) => records::demo(a, summary),
        Command::Devmem(a) => regs::devmem(a, out),
        Command::Md(a) => regs::md(a, out),
        Command::Mw(a) => regs::mw(a),
        Command::Reg(a) => regnames::reg(a, out),
        Command::Wait(a) => regnames::wait(a, out),
        Command::Where(a) => regnames::where_is(a, out),
        Command::Bench(a) => bench::bench(a, out),
    }
}

#[cfg(test)]
mod tests {
    use super::dash_last;

    #[test]
    fn a_lone_dash_goes_after_a_double_dash() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            dash_last(v(&["mmkit", "split", "-", "-o", "d"])),
            v(&["mmkit", "split", "-o", "d", "--", "-"])
        );
        assert_eq!(
            dash_last(v(&["mmkit", "split", "-o", "d", "--", "-"])),
            v(&["mmkit", "split", "-o", "d", "--", "-"])
        );
        assert_eq!(
            dash_last(v(&["mmkit", "check", "f"])),
            v(&["mmkit", "check", "f"])
        );
    }
}
