//! The one error type of mmkit: what failed, on which file, at which byte
//! offset, with which errno, and what that errno means *here*.
//!
//! An error carries a [`Kind`]; the process exit code for each kind is
//! decided once, in `main`. Library code builds errors with [`Error::new`]
//! and friends, or converts `io`/`nix` results with the [`Context`] trait
//! (`file.read_exact_at(..).context("cannot read input").path(p).at(off)?`).

use nix::errno::Errno;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What kind of failure; decides the exit code (in `main`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An I/O or system error not covered below.
    Io,
    /// Bad command line (unknown flag, unparsable number, conflicting options).
    Usage,
    /// Malformed input: bad magic, absurd length, truncated record or header,
    /// pieces that do not belong together.
    Malformed,
    /// An output file already exists and `--force` was not given.
    Exists,
    /// No space left on the device, or the file size limit (RLIMIT_FSIZE).
    NoSpace,
    /// The input changed while it was read (it shrank, or was replaced).
    InputChanged,
    /// A register access raised a bus error: no device answered.
    BusError,
    /// Permission refused (not root, STRICT_DEVMEM, read-only file).
    Permission,
    /// A register read back differently from what was written; or `demo`
    /// found the joined file differs from the original.
    Mismatch,
    /// Memory could not be mapped or locked (address space, RLIMIT_MEMLOCK).
    NoMemory,
    /// `wait`: the register or field did not reach the wanted value before
    /// the timeout.
    Timeout,
}

/// An error with context. Build with [`Error::new`] and the builder methods.
/// Boxed: a `Result` carries one pointer, so every `?` moves a word, not
/// the whole record (this shrank the MIPS binary).
#[derive(Debug)]
pub struct Error(Box<Inner>);

/// What an [`Error`] holds (its fields read through `Deref`).
#[derive(Debug)]
pub struct Inner {
    pub kind: Kind,
    /// What mmkit was doing, e.g. "cannot map window".
    pub msg: String,
    pub path: Option<PathBuf>,
    pub offset: Option<u64>,
    pub errno: Option<Errno>,
    /// What the errno (or the situation) means here and what to do about it.
    pub hint: Option<String>,
    /// The underlying I/O error kind (BrokenPipe is decided in `main`).
    io_kind: Option<io::ErrorKind>,
}

impl std::ops::Deref for Error {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.0
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, msg: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            msg: msg.into(),
            path: None,
            offset: None,
            errno: None,
            hint: None,
            io_kind: None,
        }))
    }

    pub fn usage(msg: impl Into<String>) -> Self {
        Error::new(Kind::Usage, msg)
    }

    pub fn malformed(msg: impl Into<String>) -> Self {
        Error::new(Kind::Malformed, msg)
    }

    /// From an `io::Error`: the kind is derived from the errno
    /// (ENOSPC/EFBIG/EDQUOT → NoSpace, EACCES/EPERM/EROFS → Permission,
    /// ENOMEM → NoMemory, EEXIST → Exists).
    pub fn io(msg: impl Into<String>, e: io::Error) -> Self {
        let mut err = match e.raw_os_error() {
            Some(n) => Error::errno(msg, Errno::from_raw(n)),
            None => {
                let mut err = Error::new(Kind::Io, msg);
                err.hint = Some(e.to_string());
                err
            }
        };
        err.io_kind = Some(e.kind());
        err
    }

    /// From an errno value.
    pub fn errno(msg: impl Into<String>, n: Errno) -> Self {
        let kind = match n {
            Errno::ENOSPC | Errno::EFBIG | Errno::EDQUOT => Kind::NoSpace,
            Errno::EACCES | Errno::EPERM | Errno::EROFS => Kind::Permission,
            Errno::ENOMEM => Kind::NoMemory,
            Errno::EEXIST => Kind::Exists,
            _ => Kind::Io,
        };
        let mut err = Error::new(kind, msg);
        if n == Errno::ENAMETOOLONG {
            err.hint = Some(
                "a file name may have at most 255 bytes (and a path 4095); outputs are first written under a longer temporary name beside them, so keep output names shorter".into(),
            );
        }
        err.errno = Some(n);
        err.io_kind = Some(io::Error::from_raw_os_error(n as i32).kind());
        err
    }

    pub fn with_path(mut self, p: impl AsRef<Path>) -> Self {
        self.path = Some(p.as_ref().to_path_buf());
        self
    }

    pub fn at(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }

    pub fn kind(mut self, k: Kind) -> Self {
        self.kind = k;
        self
    }

    /// The message alone (for argh's `from_str_fn` adapters).
    pub(crate) fn into_msg(self) -> String {
        self.0.msg
    }

    /// Writing to a closed pipe (`mmkit md … | head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        self.io_kind == Some(io::ErrorKind::BrokenPipe)
    }
}

/// Conversions of `io` and `nix` results into [`Error`] with a message.
pub(crate) trait Context<T> {
    /// Attach what mmkit was doing.
    fn context(self, msg: &str) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, msg: &str) -> Result<T> {
        self.map_err(|e| Error::io(msg, e))
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn context(self, msg: &str) -> Result<T> {
        self.map_err(|e| Error::errno(msg, e))
    }
}

/// Builder methods on a `Result` whose error is an [`Error`].
pub(crate) trait ResultExt<T> {
    fn path(self, p: impl AsRef<Path>) -> Result<T>;
    fn at(self, offset: u64) -> Result<T>;
    fn hint(self, h: impl Into<String>) -> Result<T>;
    fn kind(self, k: Kind) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn path(self, p: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| e.with_path(p))
    }
    fn at(self, offset: u64) -> Result<T> {
        self.map_err(|e| e.at(offset))
    }
    fn hint(self, h: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.hint(h))
    }
    fn kind(self, k: Kind) -> Result<T> {
        self.map_err(|e| e.kind(k))
    }
}

/// The symbolic name of an errno ("ENOSPC").
pub(crate) fn errno_name(n: Errno) -> String {
    match n {
        Errno::UnknownErrno => "E?".into(),
        n => format!("{n:?}"),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.msg)?;
        if let Some(p) = &self.path {
            write!(f, ": {}", p.display())?;
        }
        if let Some(o) = self.offset {
            write!(f, " at byte {o} (0x{o:X})")?;
        }
        if let Some(n) = self.errno {
            write!(f, ": {} ({})", errno_name(n), n.desc())?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_kinds() {
        assert_eq!(Error::errno("w", Errno::ENOSPC).kind, Kind::NoSpace);
        assert_eq!(Error::errno("w", Errno::EFBIG).kind, Kind::NoSpace);
        assert_eq!(Error::errno("o", Errno::EACCES).kind, Kind::Permission);
        assert_eq!(Error::errno("o", Errno::EIO).kind, Kind::Io);
        assert_eq!(Error::malformed("x").kind, Kind::Malformed);
        let e = Error::io("w", io::Error::from_raw_os_error(libc::EPIPE));
        assert!(e.is_broken_pipe());
        assert!(!Error::errno("w", Errno::EIO).is_broken_pipe());
    }

    #[test]
    fn display_names_path_offset_and_errno() {
        let e = Error::errno("cannot write piece", Errno::ENOSPC)
            .with_path("/mnt/usb/a.0001.pcap")
            .at(4096)
            .hint("free some space");
        let s = e.to_string();
        assert!(
            s.contains("cannot write piece: /mnt/usb/a.0001.pcap"),
            "{s}"
        );
        assert!(s.contains("at byte 4096 (0x1000)"), "{s}");
        assert!(s.contains("ENOSPC (No space left on device)"), "{s}");
        assert!(s.contains("hint: free some space"), "{s}");
        let long = Error::errno("x", Errno::ENAMETOOLONG).to_string();
        assert!(long.contains("ENAMETOOLONG (File name too long)"), "{long}");
        assert!(
            long.contains("hint: a file name may have at most 255 bytes"),
            "{long}"
        );
    }

    #[test]
    fn context_converts_io_and_nix() {
        let r: io::Result<()> = Err(io::Error::from_raw_os_error(libc::ENOENT));
        let e = r.context("cannot open").path("/x").at(3).unwrap_err();
        assert_eq!((e.errno, e.offset), (Some(Errno::ENOENT), Some(3)));
        let r: nix::Result<()> = Err(Errno::EPERM);
        assert_eq!(r.context("m").unwrap_err().kind, Kind::Permission);
    }
}
