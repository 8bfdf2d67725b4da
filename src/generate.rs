//! gen (stub)
use crate::error::{Error, Result};
use crate::layout::LayoutOpts;
use std::path::PathBuf;
pub struct GenOpts { pub output: PathBuf, pub size: u64, pub seed: u64, pub sparse: bool, pub min_payload: Option<u64>, pub max_payload: Option<u64>, pub force: bool, pub layout: LayoutOpts }
pub fn run(_o: &GenOpts) -> Result<()> { Err(Error::usage("gen: not implemented yet")) }
