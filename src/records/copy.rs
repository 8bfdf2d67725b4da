//! copy: large-file copy by mapping, by read()/write(), or in the kernel.
//!
//! Every method writes a temporary file sized to the source's length first
//! (fallocate where possible, so a full disk is ENOSPC now, not SIGBUS
//! later), then renames it into place.

use super::input::{Input, WindowOpts};
use super::output::{MappedWriter, OutOpts, OutputFile, kernel_copy, rw_copy};
use crate::error::Result;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How `copy` moves the bytes. `auto` on the command line is `Kernel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Method {
    /// Size the destination, then copy through both mappings.
    Mmap,
    /// pread/pwrite through a buffer.
    Read,
    /// copy_file_range, falling back to pread/pwrite.
    #[default]
    Kernel,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Method, String> {
        match s {
            "mmap" => Ok(Method::Mmap),
            "read" => Ok(Method::Read),
            "kernel" | "auto" => Ok(Method::Kernel),
            _ => Err(format!(
                "bad copy method '{s}': use mmap, read, kernel or auto"
            )),
        }
    }
}

impl Method {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Mmap => "mmap",
            Method::Read => "read",
            Method::Kernel => "kernel",
        }
    }
}

pub(crate) struct CopyOpts {
    pub(crate) src: PathBuf,
    pub(crate) dst: PathBuf,
    pub(crate) method: Method,
    pub(crate) force: bool,
    pub(crate) sync: bool,
    pub(crate) window: WindowOpts,
}

#[derive(Debug)]
pub(crate) struct CopyReport {
    pub(crate) bytes: u64,
    pub(crate) method: &'static str,
    pub(crate) elapsed: Duration,
}

pub(crate) fn run(o: &CopyOpts) -> Result<CopyReport> {
    let t0 = Instant::now();
    let mut src = Input::open(&o.src, &o.window.mapped())?;
    let len = src.len();
    let mode = src
        .file()
        .metadata()
        .map(|m| OutOpts::mode_of(&m))
        .unwrap_or(0o600);
    let opts = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let out = OutputFile::create(&o.dst, len, &opts, o.method == Method::Mmap)?;
    match o.method {
        Method::Mmap => {
            if len > 0 {
                let mut w = MappedWriter::new(&out);
                w.copy_from(&mut src, 0, 0, len)?;
                w.finish()?;
            }
        }
        Method::Read => rw_copy(src.file(), &o.src, 0, out.file(), &o.dst, 0, len)?,
        Method::Kernel => {
            kernel_copy(src.file(), &o.src, 0, out.file(), &o.dst, 0, len)?;
        }
    }
    out.commit()?;
    Ok(CopyReport {
        bytes: len,
        method: o.method.name(),
        elapsed: t0.elapsed(),
    })
}
