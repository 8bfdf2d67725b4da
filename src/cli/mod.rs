//! Command-line definitions (argh) and dispatch.
//!
//! Each command group keeps its argument structs in its own file:
//! [`records`] (split, join, check, copy, gen, demo), [`regs`] (devmem, md,
//! mw), [`regnames`] (reg, wait, where) and [`bench`]; [`applet`] makes
//! `devmem`, `md` and `mw` symlinks work.

pub mod applet;
pub mod bench;
pub mod records;
pub mod regnames;
pub mod regs;

use crate::error::{Error, exit};
use argh::FromArgs;

/// mmkit: split, join, check and copy huge record files through windowed
/// mmap, and read/write hardware registers (busybox devmem compatible),
/// without ever dying of a bus error.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Run `mmkit <command> --help` for a command's flags. Set RUST_LOG=debug for details.",
    error_code(0, "success; `check`: the file is clean"),
    error_code(1, "I/O or system error"),
    error_code(2, "bad command line"),
    error_code(
        3,
        "malformed input (bad magic, absurd length, truncated record) or pieces that do not belong together"
    ),
    error_code(4, "an output exists (use --force to overwrite)"),
    error_code(5, "no space left on the device, or the file size limit"),
    error_code(6, "the input shrank while mapped (bus error caught)"),
    error_code(7, "bus error on a register access: no device answered"),
    error_code(8, "permission refused (root, STRICT_DEVMEM, read-only)"),
    error_code(9, "read-back mismatch after a write; demo: joined file differs"),
    error_code(
        10,
        "memory could not be mapped or locked (address space, RLIMIT_MEMLOCK)"
    ),
    error_code(11, "wait: timeout, the condition did not hold in time"),
    error_code(130, "interrupted (SIGINT); unfinished output removed")
)]
pub struct TopLevel {
    /// more logging (-v: debug, -vv: trace); RUST_LOG overrides
    #[argh(switch, short = 'v')]
    pub verbose: u8,
    /// only print errors
    #[argh(switch, short = 'q')]
    pub quiet: bool,
    /// print the version and exit
    #[argh(switch, short = 'V')]
    pub version: bool,
    /// create devmem, md and mw symlinks to mmkit in DIR (existing files
    /// are kept), then exit
    #[argh(option, arg_name = "DIR")]
    pub install_links: Option<std::path::PathBuf>,
    #[argh(subcommand)]
    pub cmd: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Split(records::SplitArgs),
    Join(records::JoinArgs),
    Check(records::CheckArgs),
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

/// Parse `std::env::args_os()`. On `--help` prints help and returns
/// `Err(0)`; on a bad command line prints the error and returns `Err(2)`.
pub fn parse_env() -> Result<TopLevel, i32> {
    // A closed pipe (`mmkit … | head`) ends the process quietly, like other
    // Unix tools, instead of a panic in println!.
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let mut args = Vec::new();
    for a in std::env::args_os() {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                eprintln!("mmkit: argument {a:?} is not valid UTF-8");
                return Err(exit::USAGE);
            }
        }
    }
    parse(&args)
}

/// Parse an argument vector (`args[0]` is the program name).
pub fn parse(args: &[String]) -> Result<TopLevel, i32> {
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (cmd, rest) = strs
        .split_first()
        .map(|(c, r)| (*c, r))
        .unwrap_or(("mmkit", &[]));
    let cmd = std::path::Path::new(cmd)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("mmkit");
    // Called as `devmem`, `md` or `mw` (a symlink): be that command.
    let applet = applet::applet_args(cmd, rest);
    let (cmd, rest) = match &applet {
        Some(v) => ("mmkit", v.as_slice()),
        None => (cmd, rest),
    };
    match TopLevel::from_args(&[cmd], rest) {
        Ok(t) => Ok(t),
        Err(e) => {
            if e.status.is_ok() {
                println!("{}", e.output);
                Err(exit::OK)
            } else {
                eprintln!("{}", e.output);
                Err(exit::USAGE)
            }
        }
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
        .format(|buf, rec| {
            use std::io::Write;
            match rec.level() {
                log::Level::Info => writeln!(buf, "mmkit: {}", rec.args()),
                l => writeln!(buf, "mmkit: {}: {}", l.as_str().to_lowercase(), rec.args()),
            }
        })
        .try_init();
}

/// Run a parsed command line; returns the process exit code.
pub fn dispatch(top: TopLevel) -> i32 {
    if top.version {
        println!("mmkit {}", env!("CARGO_PKG_VERSION"));
        return exit::OK;
    }
    init_logging(top.verbose, top.quiet);
    if let Some(dir) = top.install_links {
        let r = std::env::current_exe()
            .map_err(|e| Error::io("cannot find the mmkit executable (/proc/self/exe)", e))
            .and_then(|exe| applet::install_links(&dir, &exe, &mut std::io::stdout().lock()));
        return match r {
            Ok(_) => exit::OK,
            Err(e) => {
                eprintln!("mmkit: {e}");
                e.exit_code()
            }
        };
    }
    let Some(cmd) = top.cmd else {
        eprintln!("mmkit: no command given; run `mmkit --help`");
        return exit::USAGE;
    };
    let r: Result<i32, Error> = match cmd {
        Command::Split(a) => records::split(a),
        Command::Join(a) => records::join(a),
        Command::Check(a) => records::check(a),
        Command::Copy(a) => records::copy(a),
        Command::Gen(a) => records::generate(a),
        Command::Demo(a) => records::demo(a),
        Command::Devmem(a) => regs::devmem(a),
        Command::Md(a) => regs::md(a),
        Command::Mw(a) => regs::mw(a),
        Command::Reg(a) => regnames::reg(a),
        Command::Wait(a) => regnames::wait(a),
        Command::Where(a) => regnames::where_is(a),
        Command::Bench(a) => bench::bench(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mmkit: {e}");
            e.exit_code()
        }
    }
}
