//! Where a stream's bytes come from: standard input, a FIFO, or a file that
//! another process is still appending to (`--follow`). Reads wait with
//! poll(2) on the input and on a wake pipe that the signal handler writes
//! to, so a signal, an idle deadline and new data all end a wait. A followed
//! file is watched with inotify (growth, and a writer closing it), falling
//! back to looking every 100 ms where inotify is not available.
//!
//! A followed file is taken through **mapped windows** (up to 1 MiB, never
//! past the length `fstat` gave; `--access read`: pread(2)). Its writer may
//! truncate it at any moment, even between that `fstat` and the copy out
//! of the window, so a window is a [`Role::Follow`] mapping: a bus error in
//! it is survived (the fault handler maps zero pages over it), the copy is
//! thrown away, and the bytes are asked for again with pread(2). After
//! every copy, `fstat` again: bytes past the file's length now (zeros of a
//! page the truncation cut) are never handed out. What is handed out was in
//! the file when it was copied — as with read(2) — and a file shorter than
//! it ever was is an error (exit 6) once the records before are safe.
//!
//! A followed file that is renamed over or removed (a recorder rotating
//! its own file) is noticed at the end of what it holds: its path names
//! another file, or no file, or the open file has no link left. What the
//! old file still holds is read, then the stream ends (exit 0). The new
//! file is not followed: it begins with its own file header (pcapng: its
//! own section), which cannot continue the pieces of the old one.

use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::sys::fault::{self, Role};
use crate::sys::map::{Mapping, Spec};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What one wait for data gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// `n` bytes were read into the buffer (0: none; SIGUSR1 asked for
    /// the counts, see [`fault::status_asked`]).
    Data(usize),
    /// The writer closed the stream (or a followed file stopped growing
    /// for `--idle`).
    End,
    /// The deadline passed without data.
    Timeout,
    /// A terminating signal asked us to finish.
    Stop(i32),
}

/// A stream of bytes.
pub(super) struct Source {
    file: File,
    path: PathBuf,
    /// A regular file followed as it grows.
    follow: bool,
    /// In follow mode, how long without growth ends the stream.
    idle: Option<Duration>,
    /// Bytes consumed so far (to notice a followed file that shrinks).
    offset: u64,
    last_data: Instant,
    wake: OwnedFd,
    /// Watches a followed file (None: polling).
    watch: Option<Inotify>,
    /// A writer closed the followed file since we last read.
    closed: bool,
    /// Take a followed file through mapped windows (else pread).
    map: bool,
    window: Option<Window>,
    /// The largest length the followed file was seen to have.
    seen: u64,
    /// Device and inode of the followed file, and its link count at the
    /// last look.
    id: (u64, u64),
    nlink: u64,
    /// The followed file was found renamed over or removed: what it
    /// still holds is read, then the stream ends.
    gone: Option<&'static str>,
    /// Runs between the `fstat` that sizes a copy and the copy (tests:
    /// a truncation in that gap).
    #[cfg(test)]
    before_copy: Option<Box<dyn FnMut()>>,
}

/// A mapped window of a followed file.
struct Window {
    map: Mapping,
    /// File offset of its first byte.
    off: u64,
}

/// The largest window of a followed file: the pages it touches count in
/// the resident memory (the 8 MiB budget), and a window is replaced when
/// the file grows past it.
const WINDOW: u64 = 1 << 20;

/// How often a followed file is looked at while it does not grow.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

impl Source {
    pub(super) fn new(
        file: File,
        path: PathBuf,
        follow: bool,
        idle: Option<Duration>,
        wake: OwnedFd,
        map: bool,
    ) -> Source {
        let watch = follow
            .then(|| {
                let i = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
                // IN_ATTRIB: the link count changed (renamed over, removed).
                let flags = AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CLOSE_WRITE
                    | AddWatchFlags::IN_ATTRIB;
                i.add_watch(&path, flags).ok()?;
                Some(i)
            })
            .flatten();
        if follow && watch.is_none() {
            log::debug!("{}: no inotify; looking every 100 ms", path.display());
        }
        if follow {
            log::debug!(
                "{}: followed through {}",
                path.display(),
                if map {
                    "mapped windows of up to 1 MiB"
                } else {
                    "pread(2)"
                }
            );
        }
        let (id, nlink) = file
            .metadata()
            .map_or(((0, 0), 1), |m| ((m.dev(), m.ino()), m.nlink()));
        Source {
            file,
            path,
            follow,
            idle,
            offset: 0,
            last_data: Instant::now(),
            wake,
            watch,
            closed: false,
            map,
            window: None,
            seen: 0,
            id,
            nlink,
            gone: None,
            #[cfg(test)]
            before_copy: None,
        }
    }

    /// The followed file's length now (an error if it is shorter than it
    /// was seen to be, or than what was consumed).
    fn length(&mut self) -> Result<u64> {
        let len = self.stat_len()?;
        let was = self.seen.max(self.offset);
        if len < was {
            self.window = None;
            return Err(Error::new(
                Kind::InputChanged,
                format!(
                    "the followed file shrank from at least {was} to {len} bytes (truncated or replaced)"
                ),
            )
            .with_path(&self.path));
        }
        self.seen = len;
        Ok(len)
    }

    fn stat_len(&mut self) -> Result<u64> {
        let m = self
            .file
            .metadata()
            .context("cannot stat the followed file")
            .path(&self.path)?;
        self.nlink = m.nlink();
        Ok(m.len())
    }

    /// Was the followed file renamed over or removed? One stat(2) of its
    /// path, at the end of what it holds (the link count is from the last
    /// `fstat`).
    fn replaced(&self) -> Option<&'static str> {
        if self.path.as_os_str() != "-" {
            match std::fs::metadata(&self.path) {
                Ok(m) if (m.dev(), m.ino()) != self.id => return Some("replaced"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some("removed"),
                _ => {}
            }
        }
        (self.nlink == 0).then_some("removed")
    }

    /// Empty the wake pipe (it is non-blocking).
    fn drain_wake(&self) {
        let mut b = [0u8; 64];
        while nix::unistd::read(&self.wake, &mut b).is_ok_and(|n| n > 0) {}
    }

    /// The followed file's bytes at the current offset, into `buf`: how
    /// many (0: none beyond what was consumed yet, and the file did not
    /// shrink — one `fstat` says both).
    fn take_follow(&mut self, buf: &mut [u8]) -> Result<usize> {
        if !self.map {
            return self.pread(buf);
        }
        let len = self.length()?;
        if len <= self.offset || buf.is_empty() {
            return Ok(0);
        }
        let want = len.min(self.offset + buf.len() as u64);
        let covered = self
            .window
            .as_ref()
            .is_some_and(|w| w.off <= self.offset && w.off + w.map.len() as u64 >= want);
        if !covered {
            self.window = None;
            let page = crate::sys::page_size() as u64;
            let off = self.offset / page * page;
            // At most max(WINDOW, the buffer and a page): fits usize.
            let n = (len - off).min(WINDOW.max(buf.len() as u64 + page)) as usize;
            let spec = Spec {
                offset: off,
                len: n,
                writable: false,
                populate: true,
            };
            match Mapping::new(&self.file, spec, Role::Follow, &self.path) {
                Ok(map) => self.window = Some(Window { map, off }),
                Err(e) => {
                    log::info!(
                        "{}: cannot be mapped ({e}); followed with pread(2)",
                        self.path.display()
                    );
                    self.map = false;
                    return self.pread(buf);
                }
            }
        }
        let Some(w) = self.window.as_ref() else {
            return Ok(0);
        };
        let from = (self.offset - w.off) as usize;
        let n = buf.len().min(w.map.len() - from);
        let faults = fault::follow_faults();
        #[cfg(test)]
        if let Some(f) = self.before_copy.as_mut() {
            f();
        }
        buf[..n].copy_from_slice(&w.map.bytes()[from..from + n]);
        if fault::follow_faults() != faults {
            // The file shrank under the window: the copy holds zeros.
            log::debug!(
                "{}: truncated under the mapped window at {}; asked again with pread(2)",
                self.path.display(),
                self.offset
            );
            self.window = None;
            return self.pread(&mut buf[..n]);
        }
        // A truncation inside the last page copied leaves zeros, not a
        // fault: hand out only what the file still holds (the next call
        // reports the shrink).
        let now = self.stat_len()?;
        Ok(now.saturating_sub(self.offset).min(n as u64) as usize)
    }

    /// pread(2) at the current offset (retried when interrupted); at the
    /// end of the file, checks that it did not shrink.
    fn pread(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.file.read_at(buf, self.offset) {
                Ok(0) => return self.length().map(|_| 0),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::io("cannot read the followed file", e)
                        .with_path(&self.path)
                        .at(self.offset));
                }
            }
        }
    }

    /// Read into `buf`, waiting until `deadline` at most.
    pub(super) fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Result<Event> {
        loop {
            if let Some(sig) = crate::sys::fault::stop_requested() {
                return Ok(Event::Stop(sig));
            }
            if fault::status_asked() {
                self.drain_wake();
                return Ok(Event::Data(0));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(Event::Timeout);
            }
            if !self.follow {
                let ready = self.wait(deadline, None)?;
                if !ready {
                    continue;
                }
            }
            let n = match self.follow {
                true => self.take_follow(buf)?,
                false => match self.file.read(buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        return Err(Error::io("cannot read the stream", e).with_path(&self.path));
                    }
                },
            };
            if n > 0 {
                self.offset += n as u64;
                self.last_data = Instant::now();
                return Ok(Event::Data(n));
            }
            if !self.follow {
                return Ok(Event::End);
            }
            // A followed file at its end (take_follow checked that it did
            // not shrink). Renamed over or removed: read what it still
            // holds (a last append may have come after the look that found
            // it at its end), then stop.
            if let Some(how) = self.gone {
                let name = match self.path.as_os_str() == "-" {
                    true => "standard input".into(),
                    false => self.path.display().to_string(),
                };
                log::info!("{name} was {how}; stopped after draining it");
                return Ok(Event::End);
            }
            if let Some(how) = self.replaced() {
                self.gone = Some(how);
                continue;
            }
            // Has it idled out, or will it grow?
            if self.idle.is_some_and(|i| self.last_data.elapsed() >= i) {
                return Ok(Event::End);
            }
            // Without --idle, a writer closing the file ends the stream (a
            // recorder that keeps its file open while it records).
            if self.idle.is_none() && std::mem::take(&mut self.closed) {
                return Ok(Event::End);
            }
            let cap = if self.watch.is_some() {
                Duration::from_secs(1)
            } else {
                FOLLOW_POLL
            };
            self.wait(deadline, Some(cap))?;
        }
    }

    /// Wait for the input (unless following) or the wake pipe, until the
    /// deadline or `cap`; true when the input is readable.
    fn wait(&mut self, deadline: Option<Instant>, cap: Option<Duration>) -> Result<bool> {
        let mut left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if let Some(c) = cap {
            left = Some(left.map_or(c, |l| l.min(c)));
        }
        let timeout = match left {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(60_000) as u64 + 1)
                .unwrap_or(PollTimeout::MAX),
        };
        let wake: BorrowedFd<'_> = self.wake.as_fd();
        let input: BorrowedFd<'_> = self.file.as_fd();
        let mut fds = if self.follow {
            let mut v = vec![PollFd::new(wake, PollFlags::POLLIN)];
            if let Some(w) = &self.watch {
                v.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
            }
            v
        } else {
            vec![
                PollFd::new(input, PollFlags::POLLIN),
                PollFd::new(wake, PollFlags::POLLIN),
            ]
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                return Err(Error::errno("cannot wait for the stream", e).with_path(&self.path));
            }
        }
        if self.follow {
            if let Some(w) = &self.watch
                && let Ok(events) = w.read_events()
            {
                self.closed |= events
                    .iter()
                    .any(|e| e.mask.contains(AddWatchFlags::IN_CLOSE_WRITE));
            }
            return Ok(false);
        }
        let r = fds[0].revents().unwrap_or(PollFlags::empty());
        Ok(r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn follow(path: &std::path::Path, map: bool) -> Source {
        crate::sys::fault::install(|_| 6);
        let (r, _w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let f = File::open(path).unwrap();
        Source::new(f, path.into(), true, Some(Duration::ZERO), r, map)
    }

    fn input(tag: &str, len: usize) -> (PathBuf, Vec<u8>) {
        let p = std::env::temp_dir().join(format!("mmkit-follow-{tag}-{}", std::process::id()));
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
        std::fs::File::create(&p)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        (p, bytes)
    }

    /// A hook that truncates `p` to `len` bytes (the writer, in the gap).
    fn truncate_to(p: &std::path::Path, len: u64) -> Option<Box<dyn FnMut()>> {
        let p = p.to_path_buf();
        Some(Box::new(move || {
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            f.set_len(len).unwrap();
        }))
    }

    /// The writer truncates the file between the fstat that sized the
    /// window and the copy out of it: the copy faults (the control: the
    /// fault counter moves, so the guard was really needed on this target,
    /// qemu-user included), the process lives, only bytes still in the file
    /// are handed out, and the next read is the shrink error.
    #[test]
    fn a_truncation_under_the_window_is_a_short_read_then_an_error() {
        let (p, bytes) = input("trunc", 256 << 10);
        let mut s = follow(&p, true);
        s.before_copy = truncate_to(&p, 8192);
        let mut buf = vec![0u8; 128 << 10];
        let faults = fault::follow_faults();
        let ev = s.read(&mut buf, None).unwrap();
        assert!(
            fault::follow_faults() > faults,
            "the copy did not fault: the test did not reach the guard"
        );
        assert_eq!(ev, Event::Data(8192));
        assert_eq!(&buf[..8192], &bytes[..8192]);
        s.before_copy = None;
        let e = s.read(&mut buf, None).unwrap_err();
        assert_eq!(e.kind, Kind::InputChanged, "{e}");
        assert!(
            e.to_string()
                .contains("shrank from at least 262144 to 8192"),
            "{e}"
        );
        let _ = std::fs::remove_file(&p);
    }

    /// A truncation inside the last page copied leaves zeros and no fault:
    /// they are not handed out.
    #[test]
    fn zeros_of_a_cut_page_are_not_handed_out() {
        let (p, bytes) = input("cutpage", 64 << 10);
        let mut s = follow(&p, true);
        s.before_copy = truncate_to(&p, 5000);
        let mut buf = vec![0u8; 4096 + 2000];
        let ev = s.read(&mut buf, None).unwrap();
        assert_eq!(ev, Event::Data(5000));
        assert_eq!(&buf[..5000], &bytes[..5000]);
        let _ = std::fs::remove_file(&p);
    }

    /// Windows and pread give the same bytes as the file grows.
    #[test]
    fn windows_follow_growth() {
        for map in [true, false] {
            let (p, mut bytes) = input(if map { "grow-m" } else { "grow-r" }, 3 << 20);
            let mut s = follow(&p, map);
            let mut got = Vec::new();
            let mut buf = vec![0u8; 200_000];
            for round in 0..3 {
                while let Event::Data(n) = s.read(&mut buf, None).unwrap() {
                    got.extend_from_slice(&buf[..n]);
                }
                let more: Vec<u8> = (0..12_345 * (round + 1)).map(|i| (i % 251) as u8).collect();
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .unwrap()
                    .write_all(&more)
                    .unwrap();
                bytes.extend_from_slice(&more);
            }
            while let Event::Data(n) = s.read(&mut buf, None).unwrap() {
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got.len(), bytes.len(), "map {map}");
            assert!(got == bytes, "map {map}: bytes differ");
            let _ = std::fs::remove_file(&p);
        }
    }
}
