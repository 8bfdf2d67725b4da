//! The one error type of mmkit: what failed, on which file, at which byte
//! offset, with which errno, and what that errno means *here*.
//!
//! Every error maps to a documented process exit code ([`exit`]).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Process exit codes. Documented in `mmkit --help` and README.
pub mod exit {
    /// Success; `check` found the input clean.
    pub const OK: i32 = 0;
    /// An I/O or system error not covered below.
    pub const FAILURE: i32 = 1;
    /// Bad command line (unknown flag, unparsable number, conflicting options).
    pub const USAGE: i32 = 2;
    /// Malformed input: bad magic, absurd length, truncated record or header,
    /// pieces that do not belong together. `check` exits with this when the
    /// file is not clean.
    pub const MALFORMED: i32 = 3;
    /// An output file already exists and `--force` was not given.
    pub const EXISTS: i32 = 4;
    /// No space left on the device, or the file size limit (RLIMIT_FSIZE).
    pub const NO_SPACE: i32 = 5;
    /// The input changed while it was mapped (it shrank: SIGBUS caught).
    pub const INPUT_CHANGED: i32 = 6;
    /// A register access raised a bus error: no device answered.
    pub const BUS_ERROR: i32 = 7;
    /// Permission refused (not root, STRICT_DEVMEM, read-only file).
    pub const PERMISSION: i32 = 8;
    /// A register read back differently from what was written; or `demo`
    /// found the joined file differs from the original.
    pub const MISMATCH: i32 = 9;
    /// Memory could not be mapped or locked (address space, RLIMIT_MEMLOCK).
    pub const NO_MEMORY: i32 = 10;
    /// `wait`: the register or field did not reach the wanted value before
    /// the timeout.
    pub const TIMEOUT: i32 = 11;
}

/// What kind of failure; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Io,
    Usage,
    Malformed,
    Exists,
    NoSpace,
    InputChanged,
    BusError,
    Permission,
    Mismatch,
    NoMemory,
    Timeout,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Io => exit::FAILURE,
            Kind::Usage => exit::USAGE,
            Kind::Malformed => exit::MALFORMED,
            Kind::Exists => exit::EXISTS,
            Kind::NoSpace => exit::NO_SPACE,
            Kind::InputChanged => exit::INPUT_CHANGED,
            Kind::BusError => exit::BUS_ERROR,
            Kind::Permission => exit::PERMISSION,
            Kind::Mismatch => exit::MISMATCH,
            Kind::NoMemory => exit::NO_MEMORY,
            Kind::Timeout => exit::TIMEOUT,
        }
    }
}

/// An error with context. Build with [`Error::new`] and the `with_*` methods.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    /// What mmkit was doing, e.g. "cannot map window".
    pub msg: String,
    pub path: Option<PathBuf>,
    pub offset: Option<u64>,
    pub errno: Option<i32>,
    /// What the errno (or the situation) means here and what to do about it.
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            msg: msg.into(),
            path: None,
            offset: None,
            errno: None,
            hint: None,
        }
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
        match e.raw_os_error() {
            Some(n) => Error::errno(msg, n),
            None => {
                let mut err = Error::new(Kind::Io, msg);
                err.hint = Some(e.to_string());
                err
            }
        }
    }

    /// From a raw errno value.
    pub fn errno(msg: impl Into<String>, n: i32) -> Self {
        let kind = match n {
            libc::ENOSPC | libc::EFBIG | libc::EDQUOT => Kind::NoSpace,
            libc::EACCES | libc::EPERM | libc::EROFS => Kind::Permission,
            libc::ENOMEM => Kind::NoMemory,
            libc::EEXIST => Kind::Exists,
            _ => Kind::Io,
        };
        let mut err = Error::new(kind, msg);
        err.errno = Some(n);
        err
    }

    pub fn from_nix(msg: impl Into<String>, e: nix::errno::Errno) -> Self {
        Error::errno(msg, e as i32)
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

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

/// The symbolic name of an errno ("ENOSPC"), for messages.
pub fn errno_name(n: i32) -> &'static str {
    match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EDQUOT => "EDQUOT",
        _ => "E?",
    }
}

/// The system's description of an errno ("No space left on device").
pub fn errno_text(n: i32) -> String {
    io::Error::from_raw_os_error(n)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or("")
        .to_string()
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
            write!(f, ": {} ({})", errno_name(n), errno_text(n))?;
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
    fn errno_kinds_map_to_exit_codes() {
        assert_eq!(Error::errno("w", libc::ENOSPC).exit_code(), exit::NO_SPACE);
        assert_eq!(Error::errno("w", libc::EFBIG).exit_code(), exit::NO_SPACE);
        assert_eq!(
            Error::errno("o", libc::EACCES).exit_code(),
            exit::PERMISSION
        );
        assert_eq!(Error::errno("o", libc::EIO).exit_code(), exit::FAILURE);
        assert_eq!(Error::malformed("x").exit_code(), exit::MALFORMED);
        assert_eq!(Error::new(Kind::Timeout, "t").exit_code(), 11);
    }

    #[test]
    fn display_names_path_offset_and_errno() {
        let e = Error::errno("cannot write piece", libc::ENOSPC)
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
    }
}
