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

use super::input::Input;
use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::sys::fault::{self, Role, TempGuard};
use crate::sys::map::{Mapping, Spec};
use crate::sys::{self, explain};
use nix::errno::Errno;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum WriteMode {
    /// copy_file_range, else pread/pwrite.
    #[default]
    Kernel,
    /// Size with fallocate/ftruncate, then write through a mapping.
    Mmap,
}

impl std::str::FromStr for WriteMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<WriteMode, String> {
        match s {
            "kernel" => Ok(WriteMode::Kernel),
            "mmap" => Ok(WriteMode::Mmap),
            _ => Err(format!("bad write mode '{s}': use kernel or mmap")),
        }
    }
}

/// Refuse early when `path` exists and `force` is not set.
pub(crate) fn check_absent(path: &Path, force: bool) -> Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(
            Error::new(Kind::Exists, "output exists (use --force to overwrite)").with_path(path),
        );
    }
    Ok(())
}

/// An output being written under a temporary name.
pub(crate) struct OutputFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    len: u64,
    force: bool,
    sync: bool,
    done: bool,
    // Declared before `dir`: unregistered while the directory is still open.
    _temp_guard: TempGuard,
    /// The destination directory (the fault handler removes the temporary
    /// relative to it).
    _dir: File,
}

impl OutputFile {
    /// Create `.NAME.mmkit-PID.tmp` beside `dest`, sized to `len` bytes
    /// (fallocate where the filesystem can, so a full disk says ENOSPC now
    /// rather than SIGBUS later; ftruncate otherwise).
    #[cfg(test)]
    fn create(dest: &Path, len: u64, force: bool, sync: bool) -> Result<OutputFile> {
        Self::create_with(dest, len, force, sync, true)
    }

    /// Like [`OutputFile::create`]; `prealloc: false` only sets the length
    /// (a sparse file: for generated test data with holes).
    pub(crate) fn create_with(
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
        let tmp_name = format!(
            ".{}.mmkit-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        );
        let tmp = dest.with_file_name(&tmp_name);
        let dir_path = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = File::open(dir_path)
            .context("cannot open the output directory")
            .path(dir_path)?;
        // Registered before the file exists: a signal in between removes
        // nothing that is not ours (the name carries our pid).
        let guard = fault::register_temp(dir.as_raw_fd(), tmp_name.as_ref());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .context("cannot create output")
            .path(&tmp)?;
        let mut out = OutputFile {
            file,
            tmp,
            dest: dest.to_path_buf(),
            len,
            force,
            sync,
            done: false,
            _temp_guard: guard,
            _dir: dir,
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
        self.file
            .set_len(len)
            .context("cannot size the output")
            .path(&self.dest)
            .hint("the device is full, or the file size limit (ulimit -f) is too low")?;
        Ok(())
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// pwrite `buf` at `off`.
    pub(crate) fn write_at(&self, buf: &[u8], off: u64) -> Result<()> {
        self.file
            .write_all_at(buf, off)
            .context("cannot write output")
            .path(&self.dest)
            .at(off)
    }

    /// Sync if asked, then rename into place.
    pub(crate) fn commit(mut self) -> Result<()> {
        if self.sync {
            self.file
                .sync_all()
                .context("cannot sync output")
                .path(&self.dest)?;
        }
        if !self.force && std::fs::symlink_metadata(&self.dest).is_ok() {
            return Err(Error::new(
                Kind::Exists,
                "output appeared while writing (use --force to overwrite)",
            )
            .with_path(&self.dest));
        }
        std::fs::rename(&self.tmp, &self.dest)
            .context("cannot rename output into place")
            .path(&self.dest)?;
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
        let k = buf.len().min((end - src_off) as usize);
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

/// Writes an already-sized output through mapping windows.
pub(crate) struct MappedWriter<'a> {
    out: &'a OutputFile,
    cur: Option<(u64, Mapping)>,
    window: usize,
}

impl<'a> MappedWriter<'a> {
    pub(crate) fn new(out: &'a OutputFile) -> MappedWriter<'a> {
        MappedWriter {
            out,
            cur: None,
            window: 4 << 20,
        }
    }

    fn flush_current(&mut self) -> Result<()> {
        if let Some((start, m)) = self.cur.take() {
            // msync before munmap (the drop): the order matters to mmap's contract.
            m.flush(self.out.sync)
                .context("msync failed")
                .path(&self.out.dest)
                .at(start)?;
        }
        Ok(())
    }

    /// The writable bytes of the output from `off` to the end of its window.
    fn window_for(&mut self, off: u64) -> Result<&mut [u8]> {
        let page = sys::page_size() as u64;
        let hit = matches!(&self.cur, Some((s, m)) if off >= *s && off < *s + m.len() as u64);
        if !hit {
            self.flush_current()?;
            let start = off / page * page;
            let len = (self.window as u64).min(self.out.len - start) as usize;
            // The output was sized to its final length before this mapping
            // (OutputFile::create_with), so every mapped page is inside the
            // file. A full disk on a sparse file would still SIGBUS: the
            // mapping is guarded, the handler reports it and removes the
            // temporary file.
            let spec = Spec {
                offset: start,
                len,
                writable: true,
                populate: false,
            };
            let m =
                Mapping::new(&self.out.file, spec, Role::Output, &self.out.dest).map_err(|e| {
                    let n = Errno::from_raw(e.raw_os_error().unwrap_or(0));
                    Error::errno("cannot map the output", n)
                        .with_path(&self.out.dest)
                        .at(start)
                        .hint(explain::mmap(n, true, len))
                })?;
            self.cur = Some((start, m));
        }
        let Some((s, m)) = self.cur.as_mut() else {
            return Err(Error::new(Kind::Io, "no output window"));
        };
        let rel = (off - *s) as usize;
        let dest = &self.out.dest;
        let bytes = m
            .bytes_mut()
            .ok_or_else(|| Error::new(Kind::Io, "output mapped read-only").with_path(dest))?;
        Ok(&mut bytes[rel..])
    }

    /// Write `buf` at `off` through the mapping.
    pub(crate) fn write(&mut self, mut buf: &[u8], mut off: u64) -> Result<()> {
        if off + buf.len() as u64 > self.out.len {
            return Err(
                Error::new(Kind::Io, "write past the sized end of the output")
                    .with_path(&self.out.dest),
            );
        }
        while !buf.is_empty() {
            let dst = self.window_for(off)?;
            let n = dst.len().min(buf.len());
            dst[..n].copy_from_slice(&buf[..n]);
            buf = &buf[n..];
            off += n as u64;
        }
        Ok(())
    }

    /// Copy a range of an input into the output through both mappings.
    pub(crate) fn copy_from(
        &mut self,
        src: &mut Input,
        mut src_off: u64,
        mut dst_off: u64,
        len: u64,
    ) -> Result<()> {
        let end = src_off + len;
        let chunk = src.max_chunk().min(4 << 20);
        while src_off < end {
            let dst = self.window_for(dst_off)?;
            let n = (dst.len() as u64).min(end - src_off).min(chunk as u64) as usize;
            let s = src.bytes(src_off, n)?;
            dst[..n].copy_from_slice(s);
            src_off += n as u64;
            dst_off += n as u64;
        }
        Ok(())
    }

    /// msync and munmap the last window.
    pub(crate) fn finish(mut self) -> Result<()> {
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
        let mut w = MappedWriter::new(&o);
        w.window = 64 << 10;
        w.write(&data[..1], 0).unwrap();
        w.write(&data[1..], 1).unwrap();
        assert!(w.write(b"x", 200_001).is_err());
        w.finish().unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }
}
