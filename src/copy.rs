//! copy: large-file copy by mapping, by read()/write(), or in the kernel.
//!
//! Every method writes a temporary file sized to the source's length first
//! (fallocate where possible, so a full disk is ENOSPC now, not SIGBUS
//! later), then renames it into place.

use crate::error::{Error, Result};
use crate::output::{MappedWriter, OutputFile, kernel_copy, rw_copy};
use crate::window::{MappedInput, WindowOpts};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Mmap,
    Read,
    Kernel,
    Auto,
}

impl Method {
    pub fn parse(s: &str) -> Result<Method> {
        match s {
            "mmap" => Ok(Method::Mmap),
            "read" => Ok(Method::Read),
            "kernel" => Ok(Method::Kernel),
            "auto" => Ok(Method::Auto),
            _ => Err(Error::usage(format!(
                "bad copy method '{s}': use mmap, read, kernel or auto"
            ))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Method::Mmap => "mmap",
            Method::Read => "read",
            Method::Kernel | Method::Auto => "kernel",
        }
    }
}

pub struct CopyOpts {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub method: Method,
    pub force: bool,
    pub sync: bool,
    pub window: WindowOpts,
}

#[derive(Debug)]
pub struct CopyReport {
    pub bytes: u64,
    pub method: &'static str,
    pub elapsed: Duration,
}

pub fn run(o: &CopyOpts) -> Result<CopyReport> {
    let t0 = Instant::now();
    let mut src = MappedInput::open(&o.src, &o.window.mapped())?;
    let len = src.len();
    let mode = src
        .file()
        .metadata()
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let out = OutputFile::create_with(&o.dst, len, o.force, o.sync, o.method == Method::Mmap)?;
    match o.method {
        Method::Mmap => {
            if len > 0 {
                let mut w = MappedWriter::new(&out)?;
                w.copy_from(&mut src, 0, 0, len)?;
                w.finish()?;
            }
        }
        Method::Read => rw_copy(src.file(), &o.src, 0, out.file(), &o.dst, 0, len)?,
        Method::Kernel | Method::Auto => {
            kernel_copy(src.file(), &o.src, 0, out.file(), &o.dst, 0, len)?;
        }
    }
    let _ = out
        .file()
        .set_permissions(std::fs::Permissions::from_mode(mode));
    out.commit()?;
    Ok(CopyReport {
        bytes: len,
        method: o.method.name(),
        elapsed: t0.elapsed(),
    })
}
