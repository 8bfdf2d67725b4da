//! The measured operations: increment every integer of a file in place
//! (read()/write() against a shared mapping) and scan a file sequentially
//! (read() with a large buffer against a mapped walk, with and without
//! madvise hints).
//!
//! Both sides of each comparison do the same work on the bytes (the same
//! [`bump`] or [`sum`] function); only the way the bytes reach memory and go
//! back to the file differs. Integers are decoded with `from_ne_bytes` on
//! 4-byte slices, never through pointer casts. Mappings are made window by
//! window (never more than `window` bytes at once), so a 1 GiB file works on
//! a 32-bit device with 2 GiB of address space.

use super::clamp;
use crate::error::{Context, Error, Result, ResultExt};
use crate::sys::fault::Role;
use crate::sys::map::{Mapping, Spec};
use crate::sys::{self, explain};
use memmap2::Advice;
use nix::errno::Errno;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Add 1 to every native-endian u32 in `b` (a trailing partial integer is
/// left alone). Each 4-byte chunk becomes a `[u8; 4]`, so this is one load,
/// add and store per integer (and vectorizes), whatever the alignment.
pub(crate) fn bump(b: &mut [u8]) {
    for c in b.chunks_exact_mut(4) {
        if let Ok(w) = <&mut [u8; 4]>::try_from(c) {
            *w = u32::from_ne_bytes(*w).wrapping_add(1).to_ne_bytes();
        }
    }
}

/// Sum of the native-endian u32 integers in `b`, wrapping at 2^32: a
/// checksum cheap enough that a scan measures the I/O path, not the adds.
pub(crate) fn sum(b: &[u8]) -> u32 {
    b.chunks_exact(4).fold(0u32, |s, c| {
        s.wrapping_add(<[u8; 4]>::try_from(c).map_or(0, u32::from_ne_bytes))
    })
}

/// Sum of the u32 integers at offsets 0, `stride`, 2·`stride`, … of `b`
/// (those wholly inside it): what a record walk touches, one header every
/// `stride` bytes. `stride` 4 is [`sum`].
pub(crate) fn sum_stride(b: &[u8], stride: usize) -> u32 {
    if stride <= 4 {
        return sum(b);
    }
    b.chunks(stride).fold(0u32, |s, c| {
        let v = c.get(..4).and_then(|w| <[u8; 4]>::try_from(w).ok());
        s.wrapping_add(v.map_or(0, u32::from_ne_bytes))
    })
}

/// Drop the file's pages from the page cache (works on disk filesystems
/// without root; a no-op on tmpfs). Dirty pages are written first.
pub(crate) fn evict(f: &File, path: &Path) -> Result<()> {
    f.sync_data()
        .context("cannot sync the scratch file")
        .path(path)?;
    sys::evict(f);
    Ok(())
}

/// The notes' read side: pread a buffer, add 1 to each integer, pwrite it
/// back, buffer by buffer; `sync` adds fdatasync at the end.
pub(crate) fn inc_read(f: &File, path: &Path, len: u64, buf: &mut [u8], sync: bool) -> Result<()> {
    let mut off = 0u64;
    while off < len {
        let n = clamp(len - off, buf.len());
        let b = &mut buf[..n];
        f.read_exact_at(b, off)
            .context("read failed")
            .path(path)
            .at(off)?;
        bump(b);
        f.write_all_at(b, off)
            .context("write failed")
            .path(path)
            .at(off)?;
        off += n as u64;
    }
    if sync {
        f.sync_data().context("fdatasync failed").path(path)?;
    }
    Ok(())
}

/// Map `[off, off + n)` of a scratch file (guarded like every mapping).
fn map(f: &File, path: &Path, spec: Spec, role: Role) -> Result<Mapping> {
    Mapping::new(f, spec, role, path).map_err(|e| {
        let n = Errno::from_raw(e.raw_os_error().unwrap_or(0));
        Error::errno("cannot map the scratch file", n)
            .with_path(path)
            .at(spec.offset)
            .hint(explain::mmap(n, spec.writable, spec.len))
    })
}

/// The notes' mmap side: size the file with ftruncate, then window by
/// window: map MAP_SHARED, add 1 to each integer, msync, munmap.
/// `sync` selects msync(MS_SYNC) over msync(MS_ASYNC).
pub(crate) fn inc_mmap(f: &File, path: &Path, len: u64, window: usize, sync: bool) -> Result<()> {
    f.set_len(len).context("ftruncate failed").path(path)?;
    let mut off = 0u64;
    while off < len {
        let n = clamp(len - off, window);
        // The scratch file is private to this process (created with O_EXCL,
        // mode 0600) and was just sized to `len`, so every mapped page is
        // inside the file.
        let spec = Spec {
            offset: off,
            len: n,
            writable: true,
            populate: false,
        };
        let mut m = map(f, path, spec, Role::Output)?;
        if let Some(b) = m.bytes_mut() {
            bump(b);
        }
        // msync before munmap (the drop below).
        m.flush(sync).context("msync failed").path(path).at(off)?;
        drop(m);
        off += n as u64;
    }
    Ok(())
}

/// Sequential read() of the whole file with a `buf`-sized buffer (a
/// multiple of `stride`), summing every `stride`-th integer.
pub(crate) fn scan_read(path: &Path, len: u64, buf: &mut [u8], stride: usize) -> Result<u32> {
    let mut f = File::open(path)
        .context("cannot open the scratch file")
        .path(path)?;
    let mut total = 0u32;
    let mut off = 0u64;
    while off < len {
        let n = clamp(len - off, buf.len());
        f.read_exact(&mut buf[..n])
            .context("read failed")
            .path(path)
            .at(off)?;
        total = total.wrapping_add(sum_stride(&buf[..n], stride));
        off += n as u64;
    }
    Ok(total)
}

/// How a mapped scan is advised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hint {
    /// No advice: the kernel's default readahead and fault-around.
    Plain,
    /// MADV_SEQUENTIAL on each window.
    Sequential,
    /// MADV_WILLNEED on each window (start reading it all now).
    WillNeed,
    /// MAP_POPULATE: fault the whole window in at mmap time.
    Populate,
    /// MADV_SEQUENTIAL, and MADV_DONTNEED on every 2 MiB behind the cursor
    /// (what split's input windows do to keep resident memory flat).
    SeqDontNeed,
}

impl Hint {
    pub(crate) const ALL: [Hint; 5] = [
        Hint::Plain,
        Hint::Sequential,
        Hint::WillNeed,
        Hint::Populate,
        Hint::SeqDontNeed,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Hint::Plain => "mmap",
            Hint::Sequential => "mmap+SEQUENTIAL",
            Hint::WillNeed => "mmap+WILLNEED",
            Hint::Populate => "mmap+POPULATE",
            Hint::SeqDontNeed => "mmap+SEQ+DONTNEED",
        }
    }
}

/// Step between MADV_DONTNEED calls behind the cursor.
const RELEASE_STEP: usize = 2 << 20;

/// Sequential walk of the whole file through read-only windows (a multiple
/// of `stride`), summing every `stride`-th integer.
pub(crate) fn scan_mmap(
    path: &Path,
    len: u64,
    window: usize,
    hint: Hint,
    stride: usize,
) -> Result<u32> {
    let f = File::open(path)
        .context("cannot open the scratch file")
        .path(path)?;
    let mut total = 0u32;
    let mut off = 0u64;
    while off < len {
        let n = clamp(len - off, window);
        let spec = Spec {
            offset: off,
            len: n,
            writable: false,
            populate: hint == Hint::Populate,
        };
        let m = map(&f, path, spec, Role::Input)?;
        match hint {
            Hint::Sequential | Hint::SeqDontNeed => {
                let _ = m.advise(Advice::Sequential, 0, n);
            }
            Hint::WillNeed => {
                let _ = m.advise(Advice::WillNeed, 0, n);
            }
            Hint::Plain | Hint::Populate => {}
        }
        if hint == Hint::SeqDontNeed {
            // Chunks start page-aligned (the step is a multiple of every page
            // size in use); advice only, errors ignored.
            let mut at = 0;
            while at < n {
                let k = RELEASE_STEP.min(n - at);
                total = total.wrapping_add(sum_stride(&m.bytes()[at..at + k], stride));
                let _ = m.release(at, k);
                at += k;
            }
        } else {
            total = total.wrapping_add(sum_stride(m.bytes(), stride));
        }
        drop(m);
        off += n as u64;
    }
    Ok(total)
}

/// The [`sum`] of a freshly filled scratch file plus `add` to every
/// integer: (0 + 1 + … + (n-1)) + n·add, modulo 2^32 (the file's integers
/// wrap at 2^32 too, so this holds for any length).
pub(crate) fn expected_sum(len: u64, add: u32) -> u32 {
    let n = u128::from(len / 4);
    let tri = if n == 0 { 0 } else { n * (n - 1) / 2 };
    (tri.wrapping_add(n * u128::from(add)) & 0xFFFF_FFFF) as u32
}

/// The [`sum_stride`] of a freshly filled scratch file: the integers at
/// offsets j·stride (j = 0 … m-1, those wholly inside the file) hold
/// j·stride/4, so the sum is stride/4 · m(m-1)/2, modulo 2^32. `stride` is a
/// multiple of 4.
pub(crate) fn expected_stride_sum(len: u64, stride: usize) -> u32 {
    if stride <= 4 {
        return expected_sum(len, 0);
    }
    if len < 4 {
        return 0;
    }
    let m = u128::from((len - 4) / stride as u64 + 1);
    let v = (stride as u128 / 4) * (m * (m - 1) / 2);
    (v & 0xFFFF_FFFF) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::scratch::Scratch;

    #[test]
    fn bump_and_sum_decode_every_integer() {
        let mut b = Vec::new();
        for v in [0u32, 1, u32::MAX, 41] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.push(9); // a partial trailing integer is left alone
        bump(&mut b);
        let want: Vec<u32> = vec![1, 2, 0, 42];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(b[4 * i..4 * i + 4], w.to_ne_bytes());
        }
        assert_eq!(b[16], 9);
        assert_eq!(sum(&b), 45);
        assert_eq!(sum(&[0xFF; 8]), 0xFFFF_FFFE);
    }

    #[test]
    fn expected_sum_matches_a_direct_sum() {
        let s: u32 = (0..1000u32).sum();
        assert_eq!(expected_sum(4000, 0), s);
        assert_eq!(expected_sum(4000, 3), s + 3000);
        assert_eq!(expected_sum(0, 5), 0);
        // 2^32 + 2 integers: 0..=2^32-1 sums to 2^31 (mod 2^32), then 0, 1.
        assert_eq!(expected_sum(4 * ((1 << 32) + 2), 0), 0x8000_0001);
    }

    #[test]
    fn stride_sums_match_a_direct_sum() {
        let mut b = Vec::new();
        for i in 0..1000u32 {
            b.extend_from_slice(&i.to_ne_bytes());
        }
        for stride in [4usize, 8, 64, 1024] {
            for len in [0usize, 3, 4, 1000, 1024, 1028, 4000] {
                let direct: u32 = (0..len / 4)
                    .filter(|i| (i * 4) % stride == 0)
                    .map(|i| i as u32)
                    .sum();
                assert_eq!(sum_stride(&b[..len], stride), direct, "{stride} {len}");
                assert_eq!(
                    expected_stride_sum(len as u64, stride),
                    direct,
                    "{stride} {len}"
                );
            }
        }
    }

    #[test]
    fn read_and_mmap_increments_agree_across_windows() {
        let dir = std::env::temp_dir();
        let s = Scratch::create(&dir, 901).unwrap();
        let page = sys::page_size();
        // Three and a half windows of one page each, plus a tail.
        let len = (page * 3 + page / 2 + 12) as u64;
        s.fill(len).unwrap();
        let f = s.open_rw().unwrap();
        let mut buf = vec![0u8; 1000];
        inc_read(&f, s.path(), len, &mut buf, false).unwrap();
        inc_mmap(&f, s.path(), len, page, false).unwrap();
        inc_mmap(&f, s.path(), len, page, true).unwrap();
        assert_eq!(s.verify(len, 3).unwrap(), None);
        let want = expected_sum(len, 3);
        assert_eq!(scan_read(s.path(), len, &mut buf, 4).unwrap(), want);
        for h in Hint::ALL {
            assert_eq!(scan_mmap(s.path(), len, page, h, 4).unwrap(), want, "{h:?}");
        }
        // Strided walks of a fresh file, across window and buffer edges.
        s.fill(len).unwrap();
        for stride in [4usize, 64, 1024] {
            let want = expected_stride_sum(len, stride);
            let mut buf = vec![0u8; 2048];
            assert_eq!(scan_read(s.path(), len, &mut buf, stride).unwrap(), want);
            for h in Hint::ALL {
                let got = scan_mmap(s.path(), len, page, h, stride).unwrap();
                assert_eq!(got, want, "{h:?} stride {stride}");
            }
        }
    }
}
