//! copy (stub)
use crate::error::{Error, Result};
use crate::window::WindowOpts;
use std::path::PathBuf;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method { Mmap, Read, Kernel, Auto }
impl Method {
    pub fn parse(s: &str) -> Result<Method> {
        match s {
            "mmap" => Ok(Method::Mmap),
            "read" => Ok(Method::Read),
            "kernel" => Ok(Method::Kernel),
            "auto" => Ok(Method::Auto),
            _ => Err(Error::usage(format!("bad copy method '{s}': use mmap, read, kernel or auto"))),
        }
    }
}
pub struct CopyOpts { pub src: PathBuf, pub dst: PathBuf, pub method: Method, pub force: bool, pub sync: bool, pub window: WindowOpts }
pub fn run(_o: &CopyOpts) -> Result<()> { Err(Error::usage("copy: not implemented yet")) }
