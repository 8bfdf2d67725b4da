//! Filling an output with a range of an input: in the kernel
//! (copy_file_range), or with pread/pwrite through one buffer.

use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::sys;
use nix::errno::Errno;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Copy a range between files inside the kernel: copy_file_range, else
/// pread/pwrite ([`rw_copy`]).
pub(crate) fn kernel_copy(
    src: &File,
    src_path: &Path,
    mut src_off: u64,
    dst: &File,
    dst_path: &Path,
    mut dst_off: u64,
    len: u64,
) -> Result<()> {
    let end = src_off + len;
    while src_off < end {
        let n = (end - src_off).min(1 << 30) as usize;
        match sys::copy_file_range(src, &mut src_off, dst, &mut dst_off, n) {
            Ok(0) => {
                return Err(Error::new(
                    Kind::InputChanged,
                    "the input ended early (it shrank while being copied)",
                )
                .with_path(src_path)
                .at(src_off));
            }
            Ok(_) => {}
            Err(e) => match e.raw_os_error().map(Errno::from_raw) {
                Some(
                    Errno::EXDEV | Errno::ENOSYS | Errno::EINVAL | Errno::EOPNOTSUPP | Errno::EBADF,
                ) => {
                    // Not available for these files: pread/pwrite the rest.
                    log::debug!("copy_file_range unavailable ({e}); falling back");
                    return rw_copy(
                        src,
                        src_path,
                        src_off,
                        dst,
                        dst_path,
                        dst_off,
                        end - src_off,
                    );
                }
                _ => {
                    return Err(Error::io("cannot copy to output", e)
                        .with_path(dst_path)
                        .at(dst_off));
                }
            },
        }
    }
    Ok(())
}

/// Copy a range with pread/pwrite through one 1 MiB buffer (the
/// `read()`/`write()` path). A source that ends early (it shrank) is
/// reported as `InputChanged`.
pub(crate) fn rw_copy(
    src: &File,
    src_path: &Path,
    mut src_off: u64,
    dst: &File,
    dst_path: &Path,
    mut dst_off: u64,
    len: u64,
) -> Result<()> {
    let end = src_off + len;
    let mut buf = vec![0u8; len.clamp(1, RW_BUF) as usize];
    while src_off < end {
        let k = crate::records::chunk_len(end - src_off, buf.len());
        read_input_at(src, src_path, &mut buf[..k], src_off)?;
        dst.write_all_at(&buf[..k], dst_off)
            .context("cannot write output")
            .path(dst_path)
            .at(dst_off)?;
        src_off += k as u64;
        dst_off += k as u64;
    }
    Ok(())
}

/// pread exactly `buf.len()` bytes of an input at `off`; an input that ends
/// early (it shrank while being read) is `InputChanged`.
pub(crate) fn read_input_at(src: &File, path: &Path, buf: &mut [u8], off: u64) -> Result<()> {
    src.read_exact_at(buf, off).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Kind::InputChanged
        } else {
            Kind::Io
        };
        Error::io("cannot read input (did it shrink?)", e)
            .with_path(path)
            .at(off)
            .kind(kind)
    })
}

/// Buffer of [`rw_copy`].
const RW_BUF: u64 = 1 << 20;
