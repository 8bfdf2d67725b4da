//! copy: large-file copy by mapping, by read()/write(), or in the kernel.
//!
//! Every method writes a temporary file sized to the source's length first
//! (fallocate where possible, so a full disk is ENOSPC now, not SIGBUS
//! later), then renames it into place.
//!
//! Sources that are not regular files: block devices and MTD flash
//! partitions are copied whole (their size comes from seeking to their
//! end); what has no size (/proc and sysfs files, pipes, FIFOs) is read to
//! its end; character devices with no size (/dev/zero) need `--length`.
//! A FIFO is opened without blocking and waited on for a writer, bounded.

use super::chunk_len;
use super::input::source::{self, Source, SourceKind};
use super::input::{Input, WindowOpts};
use super::output::{MappedWriter, OutOpts, OutputFile, dir_of, kernel_copy, rw_copy};
use super::pieces::check_name_max;
use crate::error::{Error, Kind, Result};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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
    /// Copy exactly this many bytes from the start (`--length`).
    pub(crate) length: Option<u64>,
    /// How long to wait for a writer when the source is a FIFO.
    pub(crate) fifo_wait: Duration,
}

#[derive(Debug)]
pub(crate) struct CopyReport {
    pub(crate) bytes: u64,
    pub(crate) method: &'static str,
    pub(crate) elapsed: Duration,
}

/// Refuse (exit 2) an output that is one of the inputs — the same file
/// (device and inode) under its own name, through a symlink or a hard
/// link: with `--force` the output would replace it.
pub(crate) fn refuse_input_as_output(out: &Path, inputs: &[PathBuf]) -> Result<()> {
    let Ok(o) = std::fs::metadata(out) else {
        return Ok(());
    };
    for i in inputs {
        if let Ok(m) = std::fs::metadata(i)
            && (m.dev(), m.ino()) == (o.dev(), o.ino())
        {
            return Err(Error::usage(format!(
                "the output is the input {} (the same file): writing it would destroy the input",
                i.display()
            ))
            .with_path(out)
            .hint("write the output to another file"));
        }
    }
    Ok(())
}

/// Refuse an output name longer than its directory allows before anything
/// is written (the rename at the end would fail).
pub(crate) fn check_output_name(out: &Path) -> Result<()> {
    match out.file_name() {
        Some(n) => check_name_max(dir_of(out), &[("output name", n.as_bytes())]),
        None => Ok(()),
    }
}

pub(crate) fn run(o: &CopyOpts) -> Result<CopyReport> {
    let t0 = Instant::now();
    refuse_input_as_output(&o.dst, std::slice::from_ref(&o.src))?;
    check_output_name(&o.dst)?;
    let src = source::open(&o.src)?;
    let mode = src
        .file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| OutOpts::mode_of(&m))
        .unwrap_or(0o644);
    let opts = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let (bytes, method) = match src.kind {
        SourceKind::File(n) | SourceKind::Device(n) => {
            let len = match o.length {
                Some(l) if l > n => {
                    return Err(Error::usage(format!(
                        "--length {l} is more than the {n} bytes of the input"
                    ))
                    .with_path(&o.src));
                }
                Some(l) => l,
                None => n,
            };
            copy_sized(o, src.file, len, &opts)?;
            (len, o.method.name())
        }
        SourceKind::Endless if o.length.is_none() => {
            return Err(Error::usage(
                "the input is a character device with no size (such as /dev/zero or /dev/urandom): it may never end",
            )
            .with_path(&o.src)
            .hint("say how much to copy with --length SIZE"));
        }
        SourceKind::Fifo | SourceKind::Stream | SourceKind::Endless => {
            (copy_stream(o, src, &opts)?, "stream")
        }
    };
    Ok(CopyReport {
        bytes,
        method,
        elapsed: t0.elapsed(),
    })
}

/// Copy the first `len` bytes of a regular file or device with `o.method`.
fn copy_sized(o: &CopyOpts, file: File, len: u64, opts: &OutOpts) -> Result<()> {
    let out = OutputFile::create(&o.dst, len, opts, o.method == Method::Mmap)?;
    match o.method {
        Method::Mmap => {
            if len > 0 {
                let mut src = Input::from_file(file, &o.src, len, &o.window.mapped())?;
                let mut w = MappedWriter::new(&out);
                w.copy_from(&mut src, 0, 0, len)?;
                w.finish()?;
            }
        }
        Method::Read => rw_copy(&file, &o.src, 0, out.file(), &o.dst, 0, len)?,
        Method::Kernel => {
            kernel_copy(&file, &o.src, 0, out.file(), &o.dst, 0, len)?;
        }
    }
    out.commit()
}

/// Read a source with no size to its end (or exactly `o.length` bytes):
/// /proc files, pipes, FIFOs, character devices. An input that ends before
/// `--length` is an error, so a short read never passes as a copy.
fn copy_stream(o: &CopyOpts, src: Source, opts: &OutOpts) -> Result<u64> {
    // The output first: an existing one is refused before any waiting.
    let out = OutputFile::create(&o.dst, o.length.unwrap_or(0), opts, false)?;
    src.wait_for_writer(&o.src, o.fifo_wait)?;
    let mut file = src.file;
    let mut buf = vec![0u8; STREAM_BUF];
    let mut off = 0u64;
    loop {
        let want = match o.length {
            Some(l) => chunk_len(l - off, buf.len()),
            None => buf.len(),
        };
        if want == 0 {
            break;
        }
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::io("cannot read input", e).with_path(&o.src).at(off));
            }
        };
        out.write_at(&buf[..n], off)?;
        off += n as u64;
    }
    if let Some(l) = o.length
        && off < l
    {
        return Err(Error::new(
            Kind::InputChanged,
            format!("the input ended after {off} of the {l} bytes asked for with --length"),
        )
        .with_path(&o.src));
    }
    out.commit()?;
    Ok(off)
}

/// Read buffer of [`copy_stream`].
const STREAM_BUF: usize = 1 << 20;
