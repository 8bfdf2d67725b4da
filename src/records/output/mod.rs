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

mod copy;
mod mapped;
pub(crate) mod temp;

pub(crate) use copy::{kernel_copy, read_input_at, rw_copy};
pub(crate) use mapped::MappedWriter;

use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::sys;
use crate::sys::fault::{self, TempGuard};
use nix::errno::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
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

/// How outputs are created and committed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutOpts {
    /// Replace an existing destination.
    pub(crate) force: bool,
    /// fsync each output before its rename and its directory after
    /// (the default; `--no-sync` turns it off).
    pub(crate) sync: bool,
    /// Permission bits of new outputs: the input's, without
    /// setuid/setgid/sticky (the umask applies on top, as with `cp`).
    pub(crate) mode: u32,
}

impl OutOpts {
    /// The permission bits an output of an input with metadata `m` gets.
    pub(crate) fn mode_of(m: &std::fs::Metadata) -> u32 {
        m.permissions().mode() & 0o777
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

/// The directory an output path lives in.
pub(crate) fn dir_of(dest: &Path) -> &Path {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An output being written under a temporary name.
pub(crate) struct OutputFile {
    file: File,
    tmp_name: OsString,
    tmp: PathBuf,
    dest: PathBuf,
    len: u64,
    opts: OutOpts,
    done: bool,
    // Declared before `dir`: unregistered while the directory is still open.
    _temp_guard: TempGuard,
    /// The destination directory: the fault handler removes the temporary
    /// relative to it, renames are relative to it, and it is fsynced after.
    dir: File,
}

impl OutputFile {
    /// Create a temporary beside `dest` (see [`temp`]), sized to `len`
    /// bytes: with `prealloc`, fallocate where the filesystem can, so a full
    /// disk says ENOSPC now rather than SIGBUS later; otherwise (and as the
    /// fallback) ftruncate, which leaves a sparse file.
    pub(crate) fn create(
        dest: &Path,
        len: u64,
        opts: &OutOpts,
        prealloc: bool,
    ) -> Result<OutputFile> {
        check_absent(dest, opts.force)?;
        let name = dest
            .file_name()
            .ok_or_else(|| Error::usage("output path has no file name").with_path(dest))?;
        let dir_path = dir_of(dest);
        let dir = File::open(dir_path)
            .context("cannot open the output directory")
            .path(dir_path)?;
        temp::remove_stale(dir_path);
        // A file another process put at the temporary's name is left
        // alone: the next name is tried.
        let mut tries = 0;
        let (file, tmp_name, tmp, guard) = loop {
            let tmp_name = temp::name_for(name);
            let tmp = dir_path.join(&tmp_name);
            // Registered before the file exists: a signal in between removes
            // nothing that is not ours (the name is unique to this process).
            let guard = fault::register_temp(dir.as_raw_fd(), &tmp_name);
            let r = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(opts.mode)
                .open(&tmp);
            match r {
                Ok(f) => break (f, tmp_name, tmp, guard),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 100 => {
                    drop(guard);
                    tries += 1;
                    log::warn!(
                        "{} exists (not ours): the output is written under another temporary name",
                        tmp.display()
                    );
                }
                Err(e) => {
                    let too_long = e.raw_os_error() == Some(Errno::ENAMETOOLONG as i32);
                    let err = Error::io("cannot create output", e).with_path(dest);
                    return Err(if too_long {
                        err.hint("the name is longer than this filesystem allows (255 bytes on most, fewer on some)")
                    } else {
                        err
                    });
                }
            }
        };
        let mut out = OutputFile {
            file,
            tmp_name,
            tmp,
            dest: dest.to_path_buf(),
            len,
            opts: *opts,
            done: false,
            _temp_guard: guard,
            dir,
        };
        out.size_to(len, prealloc)?;
        Ok(out)
    }

    fn size_to(&mut self, len: u64, prealloc: bool) -> Result<()> {
        if len == 0 && !prealloc {
            // Just created (create_new): already empty. An ftruncate to 0
            // would make ext4 flush the whole file when it is closed
            // (auto_da_alloc: a truncate to 0 looks like a file rewritten
            // in place), in the writer's time, sync or not.
            return Ok(());
        }
        let full = "the device is full, or the file size limit (ulimit -f) is too low";
        if prealloc {
            match sys::fallocate(&self.file, len) {
                Ok(true) => {}
                Ok(false) => log::debug!(
                    "{}: no fallocate here; sizing with ftruncate",
                    self.tmp.display()
                ),
                Err(e) => {
                    return Err(
                        Error::io(format!("cannot reserve {len} bytes for the output"), e)
                            .with_path(&self.dest)
                            .hint(full),
                    );
                }
            }
        }
        // ftruncate makes the length exact in every case (and is the only
        // sizing where fallocate is unsupported).
        self.file
            .set_len(len)
            .context("cannot size the output")
            .path(&self.dest)
            .hint(full)
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Set the length (a stream's piece: cut back to its last whole record,
    /// or from its pre-sized length to what was written).
    pub(crate) fn set_len(&self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .context("cannot set the length of the output")
            .path(&self.dest)
    }

    /// pwrite `buf` at `off`.
    pub(crate) fn write_at(&self, buf: &[u8], off: u64) -> Result<()> {
        self.file
            .write_all_at(buf, off)
            .context("cannot write output")
            .path(&self.dest)
            .at(off)
    }

    /// One pwrite of `buf` at `off` (retried on EINTR): the bytes written,
    /// at least one.
    pub(crate) fn write_some_at(&self, buf: &[u8], off: u64) -> Result<usize> {
        loop {
            match self.file.write_at(buf, off) {
                Ok(0) => {
                    return Err(Error::errno("cannot write output", Errno::ENOSPC)
                        .with_path(&self.dest)
                        .at(off));
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::io("cannot write output", e)
                        .with_path(&self.dest)
                        .at(off));
                }
            }
        }
    }

    /// Start writing `len` bytes at `off` back to the disk without waiting
    /// (sync_file_range WRITE), when the output will be fsynced (not with
    /// `--no-sync`): a piece written as a stream arrives is then mostly on
    /// the disk when its fsync comes, instead of all of it being written
    /// while the input waits. A hint: a failure is left to the fsync.
    pub(crate) fn start_writeback(&self, off: u64, len: u64) {
        if !self.opts.sync {
            return;
        }
        let (Ok(o), Ok(n)) = (off.try_into(), len.try_into()) else {
            return;
        };
        // libc: nix 0.32 has no sync_file_range.
        // SAFETY: sync_file_range only reads its integer arguments; the
        // descriptor is ours and open for as long as `self`.
        let r = unsafe {
            libc::sync_file_range(self.file.as_raw_fd(), o, n, libc::SYNC_FILE_RANGE_WRITE)
        };
        if r != 0 {
            log::debug!(
                "{}: sync_file_range: {}",
                self.tmp.display(),
                std::io::Error::last_os_error()
            );
        }
    }

    /// fsync (unless `--no-sync`), rename into place without clobbering
    /// (unless `--force`), then fsync the directory so the new name survives
    /// a power cut too.
    pub(crate) fn commit(self) -> Result<()> {
        self.commit_as(None).map(drop)
    }

    /// [`OutputFile::commit`]; when the destination appeared meanwhile
    /// (without `--force`), under the first free name of `alt(1)`,
    /// `alt(2)`, … instead (up to 999; same directory), with a warning
    /// naming both. Returns the name it got.
    pub(crate) fn commit_as(mut self, alt: Option<&dyn Fn(u32) -> PathBuf>) -> Result<PathBuf> {
        if self.opts.sync {
            self.file
                .sync_all()
                .context("cannot sync output")
                .path(&self.dest)?;
        }
        let planned = self.dest.clone();
        let mut k = 0;
        loop {
            let dest_name = self.dest.file_name().unwrap_or_default().to_os_string();
            let r = if self.opts.force {
                std::fs::rename(&self.tmp, &self.dest)
                    .context("cannot rename output into place")
                    .path(&self.dest)
            } else {
                self.rename_noreplace(&dest_name)
            };
            match (r, alt) {
                (Err(e), Some(alt)) if e.kind == Kind::Exists && k < 999 => {
                    k += 1;
                    self.dest = alt(k);
                }
                (r, _) => {
                    r?;
                    break;
                }
            }
        }
        self.done = true;
        if k > 0 {
            log::warn!(
                "{} appeared while it was written: kept as {}",
                planned.display(),
                self.dest.display()
            );
        }
        if self.opts.sync {
            self.dir
                .sync_all()
                .context("cannot sync the output directory")
                .path(dir_of(&self.dest))?;
        }
        Ok(self.dest.clone())
    }

    /// Rename the temporary to `dest_name` unless that exists: atomically
    /// with renameat2(RENAME_NOREPLACE); where the filesystem lacks it,
    /// link + unlink (also atomic); where it lacks hard links too, a check
    /// then a rename.
    fn rename_noreplace(&self, dest_name: &OsStr) -> Result<()> {
        let exists = || {
            Error::new(
                Kind::Exists,
                "output appeared while writing (use --force to overwrite)",
            )
            .with_path(&self.dest)
        };
        let fail =
            |e: Errno| Error::errno("cannot rename output into place", e).with_path(&self.dest);
        let d = &self.dir;
        // Test hook: MMKIT_TEST_RENAME=link (no renameat2) or =check (no
        // renameat2, no hard links) exercises the fallbacks of filesystems
        // that lack them.
        let hook = std::env::var("MMKIT_TEST_RENAME").unwrap_or_default();
        let r = if hook.is_empty() {
            sys::rename_noreplace(d, &self.tmp_name, dest_name)
        } else {
            Err(Errno::EINVAL)
        };
        match r {
            Ok(()) => return Ok(()),
            Err(Errno::EEXIST) => return Err(exists()),
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(fail(e)),
        }
        log::debug!("no RENAME_NOREPLACE here; linking");
        let linked = if hook == "check" {
            Err(std::io::Error::from_raw_os_error(Errno::EPERM as i32))
        } else {
            std::fs::hard_link(&self.tmp, &self.dest)
        };
        match linked {
            Ok(()) => {
                std::fs::remove_file(&self.tmp)
                    .context("cannot remove the temporary output")
                    .path(&self.tmp)?;
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists()),
            Err(e) => log::debug!("no hard links here ({e}); checking, then renaming"),
        }
        if std::fs::symlink_metadata(&self.dest).is_ok() {
            return Err(exists());
        }
        std::fs::rename(&self.tmp, &self.dest)
            .context("cannot rename output into place")
            .path(&self.dest)
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn dir(t: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mmkit-out-{}-{t}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    pub(crate) const KEEP: OutOpts = OutOpts {
        force: false,
        sync: true,
        mode: 0o640,
    };

    #[test]
    fn temp_then_rename_and_no_clobber() {
        let d = dir("a");
        let dest = d.join("a.bin");
        let _ = std::fs::remove_file(&dest);
        let o = OutputFile::create(&dest, 5, &KEEP, true).unwrap();
        o.write_at(b"hello", 0).unwrap();
        assert!(!dest.exists());
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "mode {mode:o} is at most the asked 0640");
        let e = OutputFile::create(&dest, 5, &KEEP, true).err().unwrap();
        assert_eq!(e.kind, Kind::Exists);
        // Dropping without commit leaves nothing behind.
        let force = OutOpts {
            force: true,
            ..KEEP
        };
        let o = OutputFile::create(&dest, 3, &force, true).unwrap();
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
    fn grown_from_empty_with_early_writeback() {
        let d = dir("wb");
        let dest = d.join("w.bin");
        let _ = std::fs::remove_file(&dest);
        let o = OutputFile::create(&dest, 0, &KEEP, false).unwrap();
        o.write_at(b"abc", 0).unwrap();
        o.start_writeback(0, 3);
        o.write_at(b"def", 3).unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abcdef");
    }

    #[test]
    fn commit_never_clobbers_a_file_that_appeared_meanwhile() {
        let d = dir("race");
        let dest = d.join("r.bin");
        let _ = std::fs::remove_file(&dest);
        let o = OutputFile::create(&dest, 2, &KEEP, true).unwrap();
        o.write_at(b"ok", 0).unwrap();
        std::fs::write(&dest, b"theirs").unwrap();
        let e = o.commit().unwrap_err();
        assert_eq!(e.kind, Kind::Exists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"theirs");
    }
}
