//! A read-only input file mapped window by window.
//!
//! Windows start at page-aligned offsets and are at most `--window` bytes, so
//! a file larger than the address space (4+ GiB on a 32-bit MIPS/ARM) is
//! walked piece by piece. A request that straddles the window edge remaps at
//! the request's page. Pages behind the cursor are released with
//! MADV_DONTNEED, so resident memory stays flat. Every window is a
//! [`Mapping`], registered with the fault handler, so a file that shrinks
//! under us is reported instead of killing us with SIGBUS. Filesystems that
//! cannot map (ENODEV) fall back to pread into a buffer.
//!
//! Access modes (`--access`): `mmap` always maps; `read` always uses pread
//! into a small page-aligned buffer; `auto` (default) measures both on the
//! input and keeps the faster (see [`choose`]). A record walk is a chain of
//! dependent loads: over a mapping each header costs a cache miss plus
//! page-table work for every 4 KiB page, while pread streams the bytes like
//! `cat` does and the walk then runs in cache; which costs less depends on
//! the CPU, the kernel and the filesystem. Large sparse records favour the
//! mapping, which touches only the pages holding headers.

use super::output::read_input_at;
use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::num::human;
use crate::sys::fault::Role;
use crate::sys::map::{Mapping, Spec};
use crate::sys::{self, explain};

mod choose;
mod pagebuf;
pub(crate) mod source;
use crate::sys::clock::WorkClock;
use choose::{Chooser, Way};
use memmap2::Advice;
use nix::errno::Errno;
use pagebuf::PageBuf;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How input bytes are reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Access {
    /// Measure both on the input and keep the faster.
    #[default]
    Auto,
    /// Always map.
    Mmap,
    /// Always pread into a buffer.
    Read,
}

impl std::str::FromStr for Access {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Access, String> {
        match s {
            "auto" => Ok(Access::Auto),
            "mmap" => Ok(Access::Mmap),
            "read" => Ok(Access::Read),
            _ => Err(format!("bad access mode '{s}': use auto, mmap or read")),
        }
    }
}

/// Window settings from the command line.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WindowOpts {
    /// Window size in bytes (None: [`default_window`]).
    pub window: Option<u64>,
    /// mlock the current window (implies `Access::Mmap`).
    pub lock: bool,
    pub access: Access,
}

impl WindowOpts {
    /// The same settings, always mapping (for copies through mappings).
    pub(crate) fn mapped(&self) -> WindowOpts {
        WindowOpts {
            access: Access::Mmap,
            ..*self
        }
    }
}

/// Default window: 64 MiB on 64-bit targets, 16 MiB on 32-bit ones
/// (a 32-bit MIPS process has 2 GiB of address space in all).
pub(crate) fn default_window() -> usize {
    if cfg!(target_pointer_width = "64") {
        64 << 20
    } else {
        16 << 20
    }
}

/// Smallest window accepted.
const MIN_WINDOW: usize = 64 << 10;
/// Release pages behind the cursor once this many bytes have been passed.
const RELEASE_STEP: usize = 2 << 20;
/// Populate page tables this far ahead of the cursor in one call.
const POPULATE_STEP: usize = 1 << 20;
/// Accesses per populate step above which records count as dense.
const DENSE_TOUCHES: u32 = 64;
/// pread buffer (fits L2 with room to spare).
const DENSE_BUF: usize = 128 << 10;
/// Buffer size when the filesystem cannot map.
const READ_FALLBACK: usize = 1 << 20;

impl WindowOpts {
    /// The window size in bytes, rounded to pages and checked.
    pub(crate) fn size(&self) -> Result<usize> {
        let page = sys::page_size();
        let w = match self.window {
            None => default_window(),
            Some(w) => {
                if w < MIN_WINDOW as u64 {
                    return Err(Error::usage(format!(
                        "--window {w} is below the minimum of 64K"
                    )));
                }
                if w > isize::MAX as u64 {
                    return Err(Error::usage(format!(
                        "--window {} does not fit this {}-bit address space",
                        human(w),
                        usize::BITS
                    )));
                }
                w as usize
            }
        };
        Ok(w.div_ceil(page) * page)
    }
}

enum Data {
    Map(Mapping),
    Buf(PageBuf),
}

struct Win {
    start: u64,
    data: Data,
    released: usize,
    /// Bytes from the window start whose page tables are populated (or
    /// were judged not worth populating).
    populated: usize,
    /// Accesses since the last populate decision.
    touches: u32,
}

impl Win {
    fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::Map(m) => m.bytes(),
            Data::Buf(b) => b.as_slice(),
        }
    }

    /// Release the mapped pages from `released` up to the page holding
    /// `rel` (a buffer has nothing to release).
    fn release_behind(&mut self, rel: usize, page: usize) {
        if let Data::Map(m) = &self.data {
            let upto = (rel / page * page).min(m.len());
            if upto > self.released {
                let _ = m.release(self.released, upto - self.released);
                self.released = upto;
            }
        }
    }
}

/// A read-only input accessed through windows.
pub(crate) struct Input {
    file: File,
    path: PathBuf,
    len: u64,
    window: usize,
    lock: bool,
    page: usize,
    cur: Option<Win>,
    use_read: bool,
    /// MADV_POPULATE_READ works here (Linux 5.14+).
    can_populate: bool,
    /// The last chunk walked had many records per MiB.
    dense: bool,
    access: Access,
    /// A buffer kept for reuse between buffered windows.
    spare: PageBuf,
    /// Number of windows mapped so far (for tests and logging).
    maps: u64,
    /// `--access auto`: the measurement choosing the way.
    choose: Option<Chooser>,
    /// `--access auto`: the mapped window left while a span is read with
    /// pread, taken up again when the walk comes back to the mapping (a
    /// fresh window per sample would charge the mapping a setup that a
    /// fixed `--access mmap` pays once per window).
    parked: Option<Win>,
}

impl Input {
    /// Open `path` read-only: a regular file or a device (never blocking
    /// on a FIFO, which is refused, as are other streams).
    pub(crate) fn open(path: &Path, opts: &WindowOpts) -> Result<Input> {
        let src = source::open(path)?;
        let len = src.seekable_len(path)?;
        Self::from_file(src.file, path, len, opts)
    }

    pub(crate) fn from_file(file: File, path: &Path, len: u64, opts: &WindowOpts) -> Result<Input> {
        let window = opts.size()?;
        if opts.lock {
            check_memlock(window)?;
        }
        let access = if opts.lock { Access::Mmap } else { opts.access };
        // MMKIT_NO_MMAP=1 forces the pread() path used where mapping fails with ENODEV.
        let use_read = std::env::var_os("MMKIT_NO_MMAP").is_some();
        let choose = (access == Access::Auto && !use_read).then(|| {
            // MMKIT_AUTO_SPAN=BYTES: shorter sample spans (tests).
            let span = std::env::var("MMKIT_AUTO_SPAN")
                .ok()
                .and_then(|v| v.parse().ok());
            Chooser::new(len, span)
        });
        Ok(Input {
            file,
            path: path.to_path_buf(),
            len,
            window,
            lock: opts.lock,
            page: sys::page_size(),
            cur: None,
            use_read,
            can_populate: true,
            dense: false,
            access,
            spare: PageBuf::default(),
            maps: 0,
            choose,
            parked: None,
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
    /// Largest `n` that [`Self::bytes`] should be asked for at once.
    pub(crate) fn max_chunk(&self) -> usize {
        if self.use_read || self.access != Access::Mmap {
            READ_FALLBACK
        } else {
            self.window - self.page
        }
    }

    /// Read `buf.len()` bytes at `off` with pread (small reads: headers).
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], off: u64) -> Result<()> {
        self.file
            .read_exact_at(buf, off)
            .context("cannot read input")
            .path(&self.path)
            .at(off)
    }

    /// The bytes `[off, off+n)`, mapping a new window if needed.
    /// `off + n` must not exceed the file length seen at open.
    pub(crate) fn bytes(&mut self, off: u64, n: usize) -> Result<&[u8]> {
        if off.checked_add(n as u64).is_none_or(|e| e > self.len) {
            return Err(
                Error::malformed(format!("read of {n} bytes past the end of the input"))
                    .with_path(&self.path)
                    .at(off),
            );
        }
        if let Some(c) = &mut self.choose
            && off >= c.end
        {
            let was = c.way();
            if let Some(v) = c.tick(off, c.clock.now_us()) {
                log_verdict(&self.path, &v, c.rounds, c.clock);
            }
            if c.way() != was {
                // Leaving the mapping (releasing what is behind) is its
                // cost, not the next read span's: time it apart.
                let t0 = c.clock.now_us();
                self.park(off);
                if let Some(c) = &mut self.choose {
                    let us = c.clock.now_us().saturating_sub(t0);
                    c.charge(was, us);
                }
            }
        }
        let hit = match &self.cur {
            Some(w) => off >= w.start && off + n as u64 <= w.start + w.bytes().len() as u64,
            None => false,
        };
        if !hit {
            self.remap(off, n)?;
        }
        self.note_access(off, n);
        let Some(w) = self.cur.as_ref() else {
            return Err(Error::new(Kind::Io, "no window mapped").with_path(&self.path));
        };
        let rel = (off - w.start) as usize;
        Ok(&w.bytes()[rel..rel + n])
    }

    /// Like [`Self::bytes`], but over a read buffer the slice runs on to
    /// the buffer's end (at least `n` bytes), so a walk can decode many
    /// headers per call; over a mapping it is `[off, off+n)`.
    pub(crate) fn ahead(&mut self, off: u64, n: usize) -> Result<&[u8]> {
        self.bytes(off, n)?;
        let Some(w) = self.cur.as_ref() else {
            return Err(Error::new(Kind::Io, "no window mapped").with_path(&self.path));
        };
        let rel = (off - w.start) as usize;
        Ok(match &w.data {
            Data::Buf(b) => &b.as_slice()[rel..],
            Data::Map(m) => &m.bytes()[rel..rel + n],
        })
    }

    /// Count `k` more accesses in the current window (records decoded from
    /// an [`Self::ahead`] slice), for the density estimate.
    pub(crate) fn touched(&mut self, k: u32) {
        if let Some(w) = self.cur.as_mut() {
            w.touches = w.touches.saturating_add(k);
        }
    }

    /// Bookkeeping after an access at `off`: density, populate-ahead and
    /// release-behind for mapped windows.
    fn note_access(&mut self, off: u64, n: usize) {
        let page = self.page;
        let Some(w) = self.cur.as_mut() else {
            return;
        };
        let rel = (off - w.start) as usize;
        if let Data::Buf(_) = &w.data {
            w.touches = w.touches.saturating_add(1);
            return;
        }
        // Under --access auto each span pays its own page-table work: a
        // populate or release step reaching across many spans would make
        // their rates jump and the chooser resample for nothing. (The span
        // end is past `off`: `bytes` ticked the chooser before.)
        let auto = self.choose.as_ref().map(|c| (c.end, c.span()));
        if let Data::Map(m) = &w.data {
            // Map the page tables of the next chunk in one call instead of
            // one fault per 16 pages (and let prefetches reach the pages) —
            // but only when records are dense: with large records the walk
            // touches one page in many, and populating would read them all.
            w.touches += 1;
            if rel + n > w.populated {
                // The density threshold scales with the shorter step.
                let (populate_to, dense_touches) = match auto {
                    Some((end, span)) => {
                        let end = end.saturating_sub(w.start).min(usize::MAX as u64) as usize;
                        let touches = u64::from(DENSE_TOUCHES) * span.min(POPULATE_STEP as u64)
                            / POPULATE_STEP as u64;
                        (end.max(rel + n), (touches as u32).max(1))
                    }
                    None => (rel + n + POPULATE_STEP, DENSE_TOUCHES),
                };
                self.dense = w.touches >= dense_touches;
                let from = rel / page * page;
                let to = (populate_to.div_ceil(page) * page).min(m.len());
                if self.dense
                    && self.can_populate
                    && m.advise(Advice::PopulateRead, from, to - from).is_err()
                {
                    self.can_populate = false;
                }
                w.populated = to;
                w.touches = 0;
            }
            // Release what is behind the cursor: resident memory stays flat.
            let release_step = auto.map_or(RELEASE_STEP, |(_, span)| {
                (span.min(RELEASE_STEP as u64) as usize).max(page)
            });
            if rel >= w.released + release_step {
                w.release_behind(rel, page);
            }
        }
    }

    /// Leave the current window for the other way at `off`: a mapping is
    /// kept in `parked` with the pages behind `off` released; a buffer is
    /// dropped.
    fn park(&mut self, off: u64) {
        if let Some(mut w) = self.cur.take_if(|w| matches!(w.data, Data::Map(_))) {
            if off >= w.start {
                w.release_behind((off - w.start) as usize, self.page);
            }
            self.parked = Some(w);
        }
        self.drop_window();
    }

    /// Drop the current window (keeping a buffer for reuse, and what it
    /// told about the density of records).
    fn drop_window(&mut self) {
        if let Some(Win {
            data: Data::Buf(b),
            touches,
            ..
        }) = self.cur.take()
        {
            self.dense = (touches as u64) << 20 >= DENSE_TOUCHES as u64 * b.len().max(1) as u64;
            self.spare = b;
        }
    }

    /// Hint that `[off, off+n)` will be read soon (only inside the current
    /// mapped window; never faults).
    pub(crate) fn prefetch(&self, off: u64, n: usize) {
        let Some(w) = &self.cur else { return };
        let Data::Map(m) = &w.data else { return };
        if off >= w.start {
            m.prefetch((off - w.start) as usize, n);
        }
    }

    fn remap(&mut self, off: u64, n: usize) -> Result<()> {
        // Unmap first: a 32-bit process may not have room for two windows.
        self.drop_window();
        let buffered = match (&self.choose, self.access) {
            _ if self.use_read => true,
            (Some(c), _) => c.way() == Way::Read,
            (None, a) => a != Access::Mmap,
        };
        // Has the file shrunk since we opened it? Cheaper to say so here than
        // to take the SIGBUS later. (pread reports a short file by itself.)
        if !buffered
            && let Ok(md) = self.file.metadata()
            && md.is_file()
            && md.len() < self.len
        {
            return Err(Error::new(
                Kind::InputChanged,
                format!(
                    "the input shrank from {} to {} bytes while being read (another process truncated it)",
                    self.len,
                    md.len()
                ),
            )
            .with_path(&self.path)
            .at(off));
        }
        // (A parked mapping that does not cover `off` is unmapped here.)
        if !buffered
            && let Some(p) = self.parked.take()
            && off >= p.start
            && off + n as u64 <= p.start + p.bytes().len() as u64
        {
            self.cur = Some(p);
            return Ok(());
        }
        let start = off / self.page as u64 * self.page as u64;
        let need = (off - start) as usize + n;
        let avail = self.len - start;
        loop {
            let want = self.window.max(need);
            let len = (want as u64).min(avail) as usize;
            if buffered {
                let size = if self.use_read {
                    READ_FALLBACK
                } else {
                    DENSE_BUF
                };
                let len = (size.max(need) as u64).min(avail) as usize;
                let mut buf = std::mem::take(&mut self.spare);
                buf.resize(len, self.page);
                read_input_at(&self.file, &self.path, buf.as_mut_slice(), start)?;
                self.cur = Some(Win {
                    start,
                    data: Data::Buf(buf),
                    released: 0,
                    populated: usize::MAX,
                    touches: 0,
                });
                return Ok(());
            }
            let spec = Spec {
                offset: start,
                len,
                writable: false,
                populate: false,
            };
            match Mapping::new(&self.file, spec, Role::Input, &self.path) {
                Ok(m) => {
                    self.maps += 1;
                    let _ = m.advise(Advice::Sequential, 0, m.len());
                    if self.lock {
                        m.lock()
                            .context("cannot lock the window in memory")
                            .path(&self.path)
                            .kind(Kind::NoMemory)
                            .hint(memlock_hint(m.len()))?;
                    }
                    log::trace!(
                        "mapped {} bytes of {} at {start}",
                        m.len(),
                        self.path.display()
                    );
                    self.cur = Some(Win {
                        start,
                        data: Data::Map(m),
                        released: 0,
                        populated: 0,
                        touches: if self.dense { DENSE_TOUCHES } else { 0 },
                    });
                    return Ok(());
                }
                Err(e) => match e.raw_os_error().map(Errno::from_raw) {
                    Some(Errno::ENODEV) => {
                        log::warn!(
                            "{}: this filesystem cannot map files; reading with pread() instead",
                            self.path.display()
                        );
                        self.use_read = true;
                    }
                    Some(Errno::ENOMEM) if self.window / 2 >= MIN_WINDOW.max(need) => {
                        self.window /= 2;
                        log::warn!(
                            "no room for the window in the address space; retrying with {}",
                            human(self.window as u64)
                        );
                    }
                    Some(n) => {
                        return Err(Error::errno(
                            format!("cannot map a {}-byte window of the input", len),
                            n,
                        )
                        .with_path(&self.path)
                        .at(start)
                        .hint(explain::mmap(n, false, len)));
                    }
                    None => return Err(Error::io("cannot map the input", e).with_path(&self.path)),
                },
            }
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        if let Some(c) = &self.choose
            && c.rounds > 0
        {
            let (m, r) = c.totals();
            log::debug!(
                "{}: --access auto walked {} through mmap and {} through read",
                self.path.display(),
                human(m),
                human(r)
            );
        }
    }
}

fn log_verdict(path: &Path, v: &choose::Verdict, rounds: u32, clock: WorkClock) {
    let what = if v.first {
        "measured"
    } else if v.switched {
        "re-measured, switching:"
    } else {
        "re-measured, keeping"
    };
    log::debug!(
        "{}: --access auto {what} mmap {} MiB/s, read {} MiB/s (per second of {}, sample {rounds}): using {}",
        path.display(),
        v.map_rate,
        v.read_rate,
        clock.name(),
        v.best.name()
    );
}

fn memlock_hint(len: usize) -> String {
    let lim = match sys::memlock_limit() {
        Some(l) => human(l),
        None => "unlimited".into(),
    };
    format!(
        "--lock needs {} of locked memory per window but RLIMIT_MEMLOCK is {lim}; raise it (ulimit -l, as root) or use a smaller --window",
        human(len as u64)
    )
}

/// Refuse `--lock` up front when RLIMIT_MEMLOCK cannot hold one window.
pub(crate) fn check_memlock(window: usize) -> Result<()> {
    if let Some(lim) = sys::memlock_limit()
        && lim < window as u64
        && !sys::is_root()
    {
        return Err(
            Error::new(Kind::NoMemory, "cannot lock the window in memory")
                .hint(memlock_hint(window)),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
