//! Outputs: written under a temporary name in the destination directory and
//! renamed into place when complete; never clobbering an existing file
//! without `--force`.
//!
//! Two ways to fill an output with ranges of an input:
//! * [`WriteMode::Kernel`]: copy_file_range (in-kernel, no user copy),
//!   falling back to pread/pwrite where the kernel or filesystem lacks it;
//! * [`WriteMode::Mmap`]: the output is sized to its exact final length
//!   (fallocate, else ftruncate) *before* it is mapped, then written window
//!   by window (map, copy, msync, munmap — in that order).

use crate::diag::{self, RegionGuard, RegionKind, TempGuard};
use crate::error::{Error, Kind, Result};
use crate::sys;
use crate::window::MappedInput;
use memmap2::{MmapMut, MmapOptions};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// copy_file_range, else pread/pwrite.
    #[default]
    Kernel,
    /// Size with fallocate/ftruncate, then write through a mapping.
    Mmap,
}

impl WriteMode {
    pub fn parse(s: &str) -> Result<WriteMode> {
        match s {
            "kernel" => Ok(WriteMode::Kernel),
            "mmap" => Ok(WriteMode::Mmap),
            _ => Err(Error::usage(format!(
                "bad write mode '{s}': use kernel or mmap"
            ))),
        }
    }
}

/// Refuse early when `path` exists and `force` is not set.
pub fn check_absent(path: &Path, force: bool) -> Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(
            Error::new(Kind::Exists, "output exists (use --force to overwrite)").with_path(path),
        );
    }
    Ok(())
}

/// An output being written under a temporary name.
pub struct OutputFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    len: u64,
    force: bool,
    sync: bool,
    done: bool,
    _temp_guard: TempGuard,
}

impl OutputFile {
    /// Create `.NAME.mmkit-PID.tmp` beside `dest`, sized to `len` bytes
    /// (fallocate where the filesystem can, so a full disk says ENOSPC now
    /// rather than SIGBUS later; ftruncate otherwise).
    pub fn create(dest: &Path, len: u64, force: bool, sync: bool) -> Result<OutputFile> {
        Self::create_with(dest, len, force, sync, true)
    }

    /// Like [`OutputFile::create`]; `prealloc: false` only sets the length
    /// (a sparse file: for generated test data with holes).
    pub fn create_with(
        dest: &Path,
        len: u64,
        force: bool,
        sync: bool,
        prealloc: bool,
    ) -> Result<OutputFile> {
        check_absent(dest, force)?;
        let name = dest
            .file_name()
            .ok_or_else(|| Error::usage("output path has no file name").with_path(dest))?;
        let tmp = dest.with_file_name(format!(
            ".{}.mmkit-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| Error::io("cannot create output", e).with_path(&tmp))?;
        let guard = diag::temp_file(&tmp);
        let mut out = OutputFile {
            file,
            tmp,
            dest: dest.to_path_buf(),
            len,
            force,
            sync,
            done: false,
            _temp_guard: guard,
        };
        out.size_to(len, prealloc)?;
        Ok(out)
    }

    fn size_to(&mut self, len: u64, prealloc: bool) -> Result<()> {
        let r = if prealloc {
            sys::fallocate(&self.file, len)
        } else {
            Ok(false)
        };
        match r {
            Ok(true) => {}
            Ok(false) => {
                if prealloc {
                    log::debug!(
                        "{}: no fallocate here; sizing with ftruncate",
                        self.tmp.display()
                    );
                }
            }
            Err(e) => {
                return Err(
                    Error::io(format!("cannot reserve {len} bytes for the output"), e)
                        .with_path(&self.dest)
                        .hint("the device is full, or the file size limit (ulimit -f) is too low"),
                );
            }
        }
        // ftruncate makes the length exact in every case (and is the only
        // sizing where fallocate is unsupported).
        self.file.set_len(len).map_err(|e| {
            Error::io(format!("cannot size the output to {len} bytes"), e)
                .with_path(&self.dest)
                .hint("the device is full, or the file size limit (ulimit -f) is too low")
        })?;
        Ok(())
    }

    pub fn file(&self) -> &File {
        &self.file
    }
    pub fn dest(&self) -> &Path {
        &self.dest
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// pwrite `buf` at `off`.
    pub fn write_at(&self, buf: &[u8], off: u64) -> Result<()> {
        self.file.write_all_at(buf, off).map_err(|e| {
            Error::io("cannot write output", e)
                .with_path(&self.dest)
                .at(off)
        })
    }

    /// Sync if asked, then rename into place.
    pub fn commit(mut self) -> Result<()> {
        if self.sync {
            self.file
                .sync_all()
                .map_err(|e| Error::io("cannot sync output", e).with_path(&self.dest))?;
        }
        if !self.force && std::fs::symlink_metadata(&self.dest).is_ok() {
            return Err(Error::new(
                Kind::Exists,
                "output appeared while writing (use --force to overwrite)",
            )
            .with_path(&self.dest));
        }
        std::fs::rename(&self.tmp, &self.dest)
            .map_err(|e| Error::io("cannot rename output into place", e).with_path(&self.dest))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Copy a range between files inside the kernel: copy_file_range, else
/// pread/pwrite ([`rw_copy`]).
pub fn kernel_copy(
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
            Err(e) => match e.raw_os_error() {
                Some(
                    libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP | libc::EBADF,
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
pub fn rw_copy(
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
        let k = buf.len().min((end - src_off) as usize);
        src.read_exact_at(&mut buf[..k], src_off).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Kind::InputChanged
            } else {
                Kind::Io
            };
            Error::io("cannot read input", e)
                .with_path(src_path)
                .at(src_off)
                .kind(kind)
        })?;
        dst.write_all_at(&buf[..k], dst_off).map_err(|e| {
            Error::io("cannot write output", e)
                .with_path(dst_path)
                .at(dst_off)
        })?;
        src_off += k as u64;
        dst_off += k as u64;
    }
    Ok(())
}

/// Buffer of [`rw_copy`].
const RW_BUF: u64 = 1 << 20;

/// Writes an already-sized output through mapping windows.
pub struct MappedWriter<'a> {
    out: &'a OutputFile,
    cur: Option<(u64, MmapMut, RegionGuard)>,
    window: usize,
}

impl<'a> MappedWriter<'a> {
    pub fn new(out: &'a OutputFile) -> Result<Self> {
        Ok(MappedWriter {
            out,
            cur: None,
            window: 4 << 20,
        })
    }

    fn flush_current(&mut self) -> Result<()> {
        if let Some((start, m, g)) = self.cur.take() {
            // msync before munmap: the order matters to mmap's contract.
            sys::msync(m.as_ptr(), m.len(), self.out.sync).map_err(|e| {
                Error::io("msync failed", e)
                    .with_path(&self.out.dest)
                    .at(start)
            })?;
            drop(m);
            drop(g);
        }
        Ok(())
    }

    fn window_for(&mut self, off: u64) -> Result<(&mut [u8], usize)> {
        let page = diag::page_size() as u64;
        let hit = matches!(&self.cur, Some((s, m, _)) if off >= *s && off < *s + m.len() as u64);
        if !hit {
            self.flush_current()?;
            let start = off / page * page;
            let len = (self.window as u64).min(self.out.len - start) as usize;
            // SAFETY: the output file was sized to its final length before
            // this mapping (OutputFile::create), so every mapped page is
            // inside the file; it is our own temporary file. A full disk on
            // a sparse file would still SIGBUS: the region is registered with
            // diag's handler, which reports it and removes the temp file.
            let m = unsafe {
                MmapOptions::new()
                    .offset(start)
                    .len(len)
                    .map_mut(&self.out.file)
            }
            .map_err(|e| {
                let n = e.raw_os_error().unwrap_or(0);
                Error::errno("cannot map the output", n)
                    .with_path(&self.out.dest)
                    .at(start)
                    .hint(diag::explain_mmap(n, true, len))
            })?;
            let g = diag::guard(
                m.as_ptr(),
                m.len(),
                RegionKind::Output,
                start,
                &self.out.dest,
            );
            self.cur = Some((start, m, g));
        }
        let Some((s, m, _)) = self.cur.as_mut() else {
            return Err(Error::new(Kind::Io, "no output window"));
        };
        let rel = (off - *s) as usize;
        Ok((&mut m[rel..], rel))
    }

    /// Write `buf` at `off` through the mapping.
    pub fn write(&mut self, mut buf: &[u8], mut off: u64) -> Result<()> {
        if off + buf.len() as u64 > self.out.len {
            return Err(
                Error::new(Kind::Io, "write past the sized end of the output")
                    .with_path(&self.out.dest),
            );
        }
        while !buf.is_empty() {
            let (dst, _) = self.window_for(off)?;
            let n = dst.len().min(buf.len());
            dst[..n].copy_from_slice(&buf[..n]);
            buf = &buf[n..];
            off += n as u64;
        }
        Ok(())
    }

    /// Copy a range of a mapped input into the output through both mappings.
    pub fn copy_from(
        &mut self,
        src: &mut MappedInput,
        mut src_off: u64,
        mut dst_off: u64,
        len: u64,
    ) -> Result<()> {
        let end = src_off + len;
        let chunk = src.max_chunk().min(4 << 20);
        while src_off < end {
            let (dst, _) = self.window_for(dst_off)?;
            let n = (dst.len() as u64).min(end - src_off).min(chunk as u64) as usize;
            let s = src.bytes(src_off, n)?;
            dst[..n].copy_from_slice(s);
            src_off += n as u64;
            dst_off += n as u64;
        }
        Ok(())
    }

    /// msync and munmap the last window.
    pub fn finish(mut self) -> Result<()> {
        self.flush_current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(t: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mmkit-out-{}-{t}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn temp_then_rename_and_no_clobber() {
        let d = dir("a");
        let dest = d.join("a.bin");
        let _ = std::fs::remove_file(&dest);
        let o = OutputFile::create(&dest, 5, false, false).unwrap();
        o.write_at(b"hello", 0).unwrap();
        assert!(!dest.exists());
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        let e = OutputFile::create(&dest, 5, false, false).err().unwrap();
        assert_eq!(e.kind, Kind::Exists);
        // Dropping without commit leaves nothing behind.
        let o = OutputFile::create(&dest, 3, true, false).unwrap();
        drop(o);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        let leftovers: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn mapped_writer_writes_across_windows() {
        let d = dir("m");
        let dest = d.join("m.bin");
        let _ = std::fs::remove_file(&dest);
        let o = OutputFile::create(&dest, 200_001, false, false).unwrap();
        let data: Vec<u8> = (0..200_001u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut w = MappedWriter::new(&o).unwrap();
        w.window = 64 << 10;
        w.write(&data[..1], 0).unwrap();
        w.write(&data[1..], 1).unwrap();
        assert!(w.write(b"x", 200_001).is_err());
        w.finish().unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }
}
