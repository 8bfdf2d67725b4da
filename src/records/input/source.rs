//! What an input is: a regular file, a device, or a stream — found out
//! without ever blocking in `open` (a FIFO without a writer blocks there
//! forever) — and how many bytes it holds, when it can say.

use crate::error::{Context, Error, Kind, Result, ResultExt};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::statfs::{DEBUGFS_MAGIC, PROC_SUPER_MAGIC, SYSFS_MAGIC, fstatfs};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// The kind of an input, and its size where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// A regular file of `len` bytes.
    File(u64),
    /// A block device, or a character device that says its size (an MTD
    /// flash partition): `len` bytes from offset 0.
    Device(u64),
    /// A FIFO (still opened non-blocking: see [`Source::wait_for_writer`]).
    Fifo,
    /// No size known; read it to its end: /proc and sysfs files (their
    /// size says 0 or 4096 whatever they hold), a regular file of size 0.
    Stream,
    /// A character device with no size and, for all we know, no end:
    /// /dev/zero, /dev/urandom, a tty.
    Endless,
}

/// An opened input and its kind.
pub(crate) struct Source {
    pub(crate) file: File,
    pub(crate) kind: SourceKind,
}

/// Open `path` read-only without blocking, and classify it. Only a FIFO is
/// left non-blocking (call [`Source::wait_for_writer`] before reading it).
pub(crate) fn open(path: &Path) -> Result<Source> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)
        .context("cannot open input")
        .path(path)?;
    let md = file.metadata().context("cannot stat input").path(path)?;
    let ft = md.file_type();
    let kind = if md.is_dir() {
        return Err(Error::new(Kind::Io, "input is a directory").with_path(path));
    } else if ft.is_fifo() {
        return Ok(Source {
            file,
            kind: SourceKind::Fifo,
        });
    } else if ft.is_socket() {
        SourceKind::Stream
    } else if md.is_file() {
        if md.len() == 0 || is_pseudo(&file) {
            SourceKind::Stream
        } else {
            SourceKind::File(md.len())
        }
    } else {
        // Devices: block devices and MTD character devices seek to their
        // end; /dev/zero and friends say 0, /dev/mem refuses.
        let end = file.seek(SeekFrom::End(0)).ok().filter(|&n| n > 0);
        file.rewind()
            .context("cannot seek the input back to its start")
            .path(path)?;
        match end {
            Some(n) => SourceKind::Device(n),
            None if ft.is_block_device() => SourceKind::Device(0),
            None => SourceKind::Endless,
        }
    };
    set_blocking(&file, path)?;
    Ok(Source { file, kind })
}

fn set_blocking(file: &File, path: &Path) -> Result<()> {
    let flags = fcntl(file.as_fd(), FcntlArg::F_GETFL)
        .context("cannot read the input's flags")
        .path(path)?;
    let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
    fcntl(file.as_fd(), FcntlArg::F_SETFL(flags))
        .context("cannot make the input blocking")
        .path(path)?;
    Ok(())
}

impl Source {
    /// The length of an input that split, join and check can read by
    /// offset (a regular file or a device); a usage error for the others.
    pub(crate) fn seekable_len(&self, path: &Path) -> Result<u64> {
        let what = match self.kind {
            SourceKind::File(n) | SourceKind::Device(n) => return Ok(n),
            SourceKind::Stream => {
                // A regular file of size 0 is just empty; others say why.
                if self.file.metadata().is_ok_and(|m| m.is_file()) && !is_pseudo(&self.file) {
                    return Ok(0);
                }
                "a stream with no size (a /proc or sysfs file, a socket)"
            }
            SourceKind::Fifo => "a FIFO",
            SourceKind::Endless => "a character device with no size",
        };
        Err(Error::usage(format!(
            "the input is {what}: this command reads its input by offset (mmap or pread), which needs a regular file or a block device"
        ))
        .with_path(path)
        .hint(
            "split reads streams as they come (mmkit split FIFO, cat SRC | mmkit split -); for the others save it to a file first (mmkit copy SRC FILE)",
        ))
    }

    /// For a FIFO: wait up to `wait` for a writer to open it (with a
    /// message, so nobody stares at a silent prompt), then make it
    /// blocking. Other inputs return at once.
    pub(crate) fn wait_for_writer(&self, path: &Path, wait: Duration) -> Result<()> {
        if self.kind != SourceKind::Fifo {
            return Ok(());
        }
        let t0 = Instant::now();
        let mut told = false;
        loop {
            // A FIFO opened for reading without a writer polls as nothing:
            // POLLHUP only comes once a writer has opened and closed it.
            let left = wait.saturating_sub(t0.elapsed());
            let step = left.min(Duration::from_millis(500));
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(step).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(0) => {}
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(Error::errno("cannot poll the FIFO", e).with_path(path)),
            }
            if left.is_zero() {
                return Err(Error::new(
                    Kind::Timeout,
                    format!("no writer opened the FIFO within {} s", wait.as_secs()),
                )
                .with_path(path)
                .hint("start the writer first, or give it longer with --fifo-wait SECONDS"));
            }
            if !told {
                log::info!(
                    "{}: a FIFO; waiting up to {} s for a writer",
                    path.display(),
                    wait.as_secs()
                );
                told = true;
            }
        }
        set_blocking(&self.file, path)
    }
}

/// On procfs, sysfs or debugfs, where a file's size says nothing of its
/// contents.
fn is_pseudo(f: &File) -> bool {
    fstatfs(f).is_ok_and(|s| {
        [PROC_SUPER_MAGIC, SYSFS_MAGIC, DEBUGFS_MAGIC].contains(&s.filesystem_type())
    })
}
