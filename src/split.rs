//! split (stub)
use crate::error::{Error, Result};
use crate::layout::LayoutOpts;
use crate::output::WriteMode;
use crate::window::WindowOpts;
use std::path::PathBuf;

pub struct SplitOpts {
    pub input: PathBuf,
    pub out_dir: PathBuf,
    pub size: u64,
    pub prefix: Option<String>,
    pub write: WriteMode,
    pub force: bool,
    pub sync: bool,
    pub dry_run: bool,
    pub layout: LayoutOpts,
    pub window: WindowOpts,
}
pub fn run(_o: &SplitOpts) -> Result<()> {
    Err(Error::usage("split: not implemented yet"))
}
