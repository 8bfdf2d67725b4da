//! The `mmkit` binary: parse the command line, run it with stdout as its
//! output, and decide the exit code — here and nowhere else.

use mmkit::cli::{self, Outcome, Parsed};
use mmkit::{Error, Kind};
use std::io::Write;

/// The process exit code of each kind of failure (documented in
/// `mmkit --help` and README; the signal handlers use it too).
fn exit_code(kind: Kind) -> i32 {
    match kind {
        Kind::Io => 1,
        Kind::Usage => 2,
        Kind::Malformed => 3,
        Kind::Exists => 4,
        Kind::NoSpace => 5,
        Kind::InputChanged => 6,
        Kind::BusError => 7,
        Kind::Permission => 8,
        Kind::Mismatch => 9,
        Kind::NoMemory => 10,
        Kind::Timeout => 11,
    }
}

fn main() {
    let inv = match cli::parse(std::env::args_os().collect()) {
        Parsed::Run(inv) => inv,
        Parsed::Help(text) => {
            println!("{text}");
            std::process::exit(0);
        }
        Parsed::Usage(text) => {
            eprintln!("{text}");
            std::process::exit(exit_code(Kind::Usage));
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = cli::run(inv, &mut out, exit_code).and_then(|outcome| {
        out.flush()
            .map_err(|e| Error::io("cannot write to stdout", e))?;
        Ok(outcome)
    });
    let code = match result {
        Ok(Outcome::Success) => 0,
        Ok(Outcome::Unclean) => exit_code(Kind::Malformed),
        Ok(Outcome::Interrupted(sig)) => 128 + sig,
        // The reader went away (`mmkit md … | head`): not an error.
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            eprintln!("mmkit: {e}");
            exit_code(e.kind)
        }
    };
    std::process::exit(code);
}
