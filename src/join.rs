//! join (stub)
use crate::error::{Error, Result};
use crate::layout::LayoutOpts;
use crate::output::WriteMode;
use crate::window::WindowOpts;
use std::path::PathBuf;

pub struct JoinOpts {
    pub pieces: Vec<PathBuf>,
    pub output: PathBuf,
    pub write: WriteMode,
    pub force: bool,
    pub sync: bool,
    pub layout: LayoutOpts,
    pub window: WindowOpts,
}
pub fn run(_o: &JoinOpts) -> Result<()> {
    Err(Error::usage("join: not implemented yet"))
}
