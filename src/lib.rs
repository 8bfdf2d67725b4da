//! mmkit: record-aware split/join/check/copy of huge files through windowed
//! memory mapping, and safe hardware register access, for embedded Linux.
//!
//! Module map (one concept each):
//! - [`error`]: the error type and exit codes
//! - [`diag`]: SIGBUS/SIGINT handling and errno explanations
//! - [`sys`]: thin wrappers over the few raw syscalls std lacks
//! - [`size`]: size and number parsing
//! - [`layout`]: record layouts (seed, pcap, custom)
//! - [`window`]: windowed read-only mapping of an input file
//! - [`walk`]: the packet walk over a windowed input
//! - [`output`]: outputs under a temporary name, written by mapping or by the kernel
//! - [`split`], [`join`], [`check`]: the record-aware operations
//! - [`copy`]: large-file copy
//! - [`generate`]: deterministic synthetic record files
//! - [`demo`]: the guided end-to-end run
//! - [`regs`]: physical memory / register access (devmem, md, mw)
//! - [`bench`]: the read-vs-mmap experiment
//! - [`cli`]: command-line definitions and dispatch

pub mod bench;
pub mod check;
pub mod cli;
pub mod copy;
pub mod demo;
pub mod diag;
pub mod error;
pub mod generate;
pub mod join;
pub mod layout;
pub mod output;
pub mod pcapng;
pub mod regs;
pub mod size;
pub mod split;
pub mod sys;
pub mod walk;
pub mod window;
