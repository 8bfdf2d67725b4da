//! The benchmark's scratch file and what we know about the directory it
//! lives in (filesystem type, free space).
//!
//! The scratch file is created fresh (never clobbering anything), registered
//! with the fault handler so that a terminating signal removes it, and removed
//! when the [`Scratch`] is dropped: on success, on error and on panic.

use super::clamp;
use crate::error::{Context, Error, Result, ResultExt};
use crate::sys::fault::{self, TempGuard};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Buffer used to fill and verify scratch files.
const FILL_CHUNK: usize = 1 << 20;

/// A scratch file `DIR/.mmkit-bench.<pid>.<n>.tmp`, removed on drop.
pub(crate) struct Scratch {
    path: PathBuf,
    // Declared before `_dir`: unregistered while the directory is open.
    _guard: TempGuard,
    _dir: File,
}

impl Scratch {
    /// Create a new, empty scratch file in `dir`.
    pub(crate) fn create(dir: &Path, n: u32) -> Result<Scratch> {
        let name = format!(".mmkit-bench.{}.{n}.tmp", std::process::id());
        let path = dir.join(&name);
        let dirf = File::open(dir)
            .context("cannot open the benchmark directory")
            .path(dir)?;
        // Register before creating: a signal between the two removes nothing
        // that is not ours (the name carries our pid).
        let guard = fault::register_temp(dirf.as_raw_fd(), name.as_ref());
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                Error::io("cannot create the benchmark scratch file", e)
                    .with_path(&path)
                    .hint("choose a writable directory with --dir")
            })?;
        Ok(Scratch {
            path,
            _guard: guard,
            _dir: dirf,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Open for reading and writing.
    pub(crate) fn open_rw(&self) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .context("cannot open the scratch file")
            .path(&self.path)
    }

    /// Replace the contents with `len / 4` native-endian u32 integers
    /// 0, 1, 2, … written with write(); `len` is a multiple of 4.
    pub(crate) fn fill(&self, len: u64) -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.path)
            .context("cannot open the scratch file")
            .path(&self.path)?;
        let mut buf = vec![0u8; clamp(len, FILL_CHUNK)];
        let mut next: u32 = 0;
        let mut off = 0u64;
        while off < len {
            let n = clamp(len - off, buf.len());
            for c in buf[..n].chunks_exact_mut(4) {
                c.copy_from_slice(&next.to_ne_bytes());
                next = next.wrapping_add(1);
            }
            f.write_all(&buf[..n]).map_err(|e| {
                Error::io("cannot fill the scratch file", e)
                    .with_path(&self.path)
                    .at(off)
                    .hint("not enough space in --dir? try a smaller --max")
            })?;
            off += n as u64;
        }
        Ok(())
    }

    /// Check that integer `i` of the file equals `i + add` for every `i`.
    /// Returns the byte offset of the first mismatch.
    pub(crate) fn verify(&self, len: u64, add: u32) -> Result<Option<u64>> {
        let f = File::open(&self.path)
            .context("cannot open the scratch file")
            .path(&self.path)?;
        let mut buf = vec![0u8; clamp(len, FILL_CHUNK)];
        let mut i: u32 = 0;
        let mut off = 0u64;
        while off < len {
            let n = clamp(len - off, buf.len());
            f.read_exact_at(&mut buf[..n], off)
                .context("cannot read the scratch file")
                .path(&self.path)?;
            for (k, c) in buf[..n].chunks_exact(4).enumerate() {
                let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                if v != i.wrapping_add(add) {
                    return Ok(Some(off + 4 * k as u64));
                }
                i = i.wrapping_add(1);
            }
            off += n as u64;
        }
        Ok(None)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Filesystem facts about the benchmark directory.
#[derive(Clone, Debug)]
pub(crate) struct DirInfo {
    /// "tmpfs", "ext4", … or the magic number in hex.
    pub(crate) fs: String,
    /// Bytes available to us (None when unknown).
    pub(crate) avail: Option<u64>,
}

/// The filesystem type and free space of `dir`.
// The libc field types differ per target (i32/i64, u32/u64): the
// conversions are needed on 32-bit targets, useless on 64-bit ones.
#[allow(clippy::useless_conversion)]
pub(crate) fn dir_info(dir: &Path) -> DirInfo {
    let fs = match nix::sys::statfs::statfs(dir) {
        // The magic's type differs by libc and word size (i32, i64, u64 on
        // 64-bit musl): only its low 32 bits matter.
        #[allow(clippy::unnecessary_cast)]
        Ok(s) => fs_name((s.filesystem_type().0 as i64) & 0xFFFF_FFFF),
        Err(_) => "unknown".into(),
    };
    let avail = nix::sys::statvfs::statvfs(dir)
        .ok()
        .map(|s| u64::from(s.blocks_available()).saturating_mul(u64::from(s.fragment_size())));
    DirInfo { fs, avail }
}

fn fs_name(magic: i64) -> String {
    let name = match magic {
        0x0102_1994 => "tmpfs",
        0x8584_58f6 => "ramfs",
        0xEF53 => "ext2/3/4",
        0x9123_683E => "btrfs",
        0x5846_5342 => "xfs",
        0x794C_7630 => "overlayfs",
        0x7371_7368 => "squashfs",
        0x72B6 => "jffs2",
        0x2405_1905 => "ubifs",
        0x4D44 => "vfat",
        0x5346_544E => "ntfs",
        0x2011_BAB0 => "exfat",
        0xF2F5_2010 => "f2fs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        _ => return format!("fs 0x{magic:X}"),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_verify_and_removal() {
        let dir = std::env::temp_dir();
        let s = Scratch::create(&dir, 900).unwrap();
        let p = s.path().to_path_buf();
        s.fill(40_000).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 40_000);
        assert_eq!(s.verify(40_000, 0).unwrap(), None);
        // A changed integer is found at its byte offset.
        let f = s.open_rw().unwrap();
        f.write_all_at(&7u32.to_ne_bytes(), 400).unwrap();
        assert_eq!(s.verify(40_000, 0).unwrap(), Some(400));
        assert_eq!(s.verify(40_000, 1).unwrap(), Some(0));
        drop(s);
        assert!(!p.exists(), "scratch file removed on drop");
    }

    #[test]
    fn filesystems_are_named_from_their_magic() {
        assert_eq!(fs_name(0x0102_1994), "tmpfs");
        assert_eq!(fs_name(0xEF53), "ext2/3/4");
        assert_eq!(fs_name(0x1234), "fs 0x1234");
        // /dev/shm is a tmpfs on Linux: the statfs magic must be decoded.
        if Path::new("/dev/shm").is_dir() {
            assert_eq!(dir_info(Path::new("/dev/shm")).fs, "tmpfs");
        }
        assert!(dir_info(Path::new("/")).avail.is_some());
    }
}
