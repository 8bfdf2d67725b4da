//! check (stub)
use crate::error::{Error, Result};
use crate::layout::LayoutOpts;
use crate::window::WindowOpts;
use std::path::PathBuf;
pub fn run_many(_i: &[PathBuf], _l: &LayoutOpts, _w: &WindowOpts) -> Result<i32> {
    Err(Error::usage("check: not implemented yet"))
}
