//! mmkit: record-aware split/join/check/copy of huge files through windowed
//! memory mapping, and safe hardware register access, for embedded Linux.
//!
//! The public API is the command line: [`cli::parse`] an argument vector,
//! [`cli::run`] it with a writer for its output; errors are [`Error`]s whose
//! [`Kind`] the binary turns into an exit code. Everything else is internal.
//!
//! Module map (one concept each):
//! - `cli`: command-line definitions (every flag a type) and dispatch
//! - `error`: the error type and the `Context` conversions
//! - `num`: the one number grammar (NUMBER, SIZE)
//! - `records`: the record pipeline — layout → input windows → walk →
//!   outputs → split, join, check, copy, gen, demo
//! - `regs`: physical memory / register access (devmem, md, mw)
//! - `bench`: the read-vs-mmap experiment
//! - `sys`: the operating system: the one guarded mapping type (`sys::map`),
//!   signal handling and the fault registry (`sys::fault`), errno
//!   explanations (`sys::explain`), limits and the hand-written syscalls
//! - `ui`: the progress line

mod bench;
pub mod cli;
mod decimal;
mod error;
mod num;
pub mod pcapng;
mod records;
mod regs;
mod sys;
mod ui;

pub use error::{Error, Kind};
