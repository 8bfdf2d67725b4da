//! Command-line definitions for register access: devmem, md, mw.
//! (Stub: filled in by the register-access issue.)

use crate::error::{Error, Result};
use argh::FromArgs;

/// read or write one register (busybox devmem compatible)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "devmem")]
pub struct DevmemArgs {
    /// arguments
    #[argh(positional, greedy)]
    pub args: Vec<String>,
}

/// display memory (like memtool md)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "md")]
pub struct MdArgs {
    /// arguments
    #[argh(positional, greedy)]
    pub args: Vec<String>,
}

/// write consecutive values (like memtool mw)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "mw")]
pub struct MwArgs {
    /// arguments
    #[argh(positional, greedy)]
    pub args: Vec<String>,
}

pub fn devmem(_a: DevmemArgs) -> Result<i32> {
    Err(Error::usage("devmem: not implemented yet"))
}
pub fn md(_a: MdArgs) -> Result<i32> {
    Err(Error::usage("md: not implemented yet"))
}
pub fn mw(_a: MwArgs) -> Result<i32> {
    Err(Error::usage("mw: not implemented yet"))
}
