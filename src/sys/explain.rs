//! What an errno from mmap means for the mapping we asked for, in words an
//! embedded engineer can act on.

use nix::errno::Errno;

/// Hint for a failed mmap of `len` bytes (`writable`: a shared writable
/// mapping was asked for).
pub(crate) fn mmap(errno: Errno, writable: bool, len: usize) -> String {
    match errno {
        Errno::EACCES => {
            if writable {
                "the file was opened read-only but a writable shared mapping was asked for (or the file is not a regular file)".into()
            } else {
                "the file is not open for reading, or is not a regular file".into()
            }
        }
        Errno::EINVAL => format!(
            "the kernel refused the arguments: the offset must be a multiple of the page size ({} bytes) and the length ({len}) non-zero",
            super::page_size()
        ),
        Errno::ENODEV => {
            "this filesystem cannot map files (some network/FUSE mounts); falling back to read()"
                .into()
        }
        Errno::ENOMEM => format!(
            "no room for a {len}-byte window in the address space (a 32-bit process has 2-3 GiB); try a smaller --window"
        ),
        Errno::EAGAIN => {
            "too much memory is locked: RLIMIT_MEMLOCK (ulimit -l) is too low for --lock".into()
        }
        Errno::EPERM => {
            "the mapping was refused (PROT_EXEC on a noexec mount, a sealed file, or STRICT_DEVMEM)"
                .into()
        }
        Errno::EOVERFLOW => "the offset does not fit this system's off_t".into(),
        _ => "unexpected mmap error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_common_errnos() {
        assert!(mmap(Errno::EACCES, true, 1).contains("read-only"));
        assert!(mmap(Errno::ENOMEM, false, 1 << 30).contains("--window"));
        assert!(mmap(Errno::ENODEV, false, 1).contains("read()"));
        assert!(mmap(Errno::EAGAIN, false, 1).contains("RLIMIT_MEMLOCK"));
        assert!(mmap(Errno::EINVAL, false, 0).contains("page size"));
    }
}
