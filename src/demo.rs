//! demo (stub)
use crate::error::{Error, Result};
use std::path::PathBuf;
pub struct DemoOpts { pub dir: Option<PathBuf>, pub size: u64, pub piece: u64, pub keep: bool }
pub fn run(_o: &DemoOpts) -> Result<i32> { Err(Error::usage("demo: not implemented yet")) }
