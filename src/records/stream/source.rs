//! Where a stream's bytes come from: standard input, a FIFO, or a file that
//! another process is still appending to (`--follow`). Reads wait with
//! poll(2) on the input and on a wake pipe that the signal handler writes
//! to, so a signal, an idle deadline and new data all end a wait. A followed
//! file is watched with inotify (growth, and a writer closing it), falling
//! back to looking every 100 ms where inotify is not available.

use crate::error::{Context, Error, Kind, Result, ResultExt};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What one wait for data gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// `n` bytes were read into the buffer.
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
}

/// How often a followed file is looked at while it does not grow.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

impl Source {
    pub(super) fn new(
        file: File,
        path: PathBuf,
        follow: bool,
        idle: Option<Duration>,
        wake: OwnedFd,
    ) -> Source {
        let watch = follow
            .then(|| {
                let i = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
                let flags = AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE;
                i.add_watch(&path, flags).ok()?;
                Some(i)
            })
            .flatten();
        if follow && watch.is_none() {
            log::debug!("{}: no inotify; looking every 100 ms", path.display());
        }
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
        }
    }

    /// Read into `buf`, waiting until `deadline` at most.
    pub(super) fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Result<Event> {
        loop {
            if let Some(sig) = crate::sys::fault::stop_requested() {
                return Ok(Event::Stop(sig));
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
            let n = match self.file.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(Error::io("cannot read the stream", e).with_path(&self.path)),
            };
            if n > 0 {
                self.offset += n as u64;
                self.last_data = Instant::now();
                return Ok(Event::Data(n));
            }
            if !self.follow {
                return Ok(Event::End);
            }
            // A followed file at its end: has it shrunk, idled out, or
            // will it grow?
            let len = self
                .file
                .metadata()
                .context("cannot stat the followed file")
                .path(&self.path)?
                .len();
            if len < self.offset {
                return Err(Error::new(
                    Kind::InputChanged,
                    format!(
                        "the followed file shrank from at least {} to {len} bytes (truncated or replaced)",
                        self.offset
                    ),
                )
                .with_path(&self.path));
            }
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
