//! The record pipeline: a record file's layout, read window by window, walked
//! record by record, and written to outputs under temporary names.
//!
//! * [`layout`]: record layouts (seed, pcap, custom) and their decoding
//! * [`input`]: a read-only input reached through mapping windows or pread
//! * [`walk`]: the record walk over an input, naming the offset of any damage
//! * [`output`]: outputs under a temporary name, written by the kernel or a mapping
//! * the operations: [`split`], [`join`], [`check`], [`recover`], [`copy`],
//!   [`generate`] and [`demo`]

pub(crate) mod check;
pub(crate) mod copy;
pub(crate) mod demo;
pub(crate) mod generate;
pub(crate) mod input;
pub(crate) mod join;
pub(crate) mod layout;
pub(crate) mod output;
pub(crate) mod pcapng;
pub(crate) mod pieces;
pub(crate) mod recover;
pub(crate) mod split;
pub(crate) mod stream;
pub(crate) mod walk;
