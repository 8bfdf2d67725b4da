//! Command-line definitions for `mmkit bench`. (Stub: filled in by the benchmark issue.)

use crate::error::{Error, Result};
use argh::FromArgs;

/// measure read()/write() against mmap on this device
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "bench")]
pub struct BenchArgs {}

pub fn bench(_a: BenchArgs) -> Result<i32> {
    Err(Error::usage("bench: not implemented yet"))
}
