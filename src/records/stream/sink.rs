//! Where a stream's records go: pieces written as the records arrive,
//! each under a temporary name and renamed into place when it is closed
//! (by size, record count, time, idle, end of stream or a signal), a
//! manifest line per piece, the newest `--ring N` pieces kept, and
//! `--exec CMD` run on each finished piece, one at a time.

use super::exec::Exec;
use crate::error::{Context, Result, ResultExt};
use crate::records::output::{MappedWriter, OutOpts, OutputFile, WriteMode};
use crate::records::pieces::{Entry, ManifestLog, Namer, fingerprint};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

/// When a piece is closed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rotation {
    /// Largest piece in bytes, file header included.
    pub(crate) size: u64,
    pub(crate) records: Option<u64>,
    pub(crate) seconds: Option<u64>,
}

/// One finished piece.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
}

/// The piece being written.
struct Open {
    out: OutputFile,
    /// Pre-sized and mapped (`--write mmap`).
    capacity: u64,
    /// Bytes received but not yet written (one write per 256 KiB, not two
    /// per record); `len` counts them.
    pending: Vec<u8>,
    /// Bytes written (a record may be incomplete at the end).
    len: u64,
    /// Length up to the end of the last whole record.
    whole: u64,
    /// Whole records (pcapng: blocks) after the header, and the records
    /// that count as such (pcapng: packets).
    blocks: u64,
    records: u64,
    opened: Instant,
    first: u64,
    last: u64,
    /// Fingerprint of the record being received.
    fp: u64,
    index: u64,
}

pub(crate) struct Sink {
    namer: Namer,
    out: OutOpts,
    write: WriteMode,
    header: Vec<u8>,
    pub(crate) rotation: Rotation,
    ring: Option<usize>,
    exec: Exec,
    manifest: ManifestLog,
    next: u64,
    open: Option<Open>,
    /// Finished pieces still on disk, oldest first (for --ring).
    kept: VecDeque<Done>,
    pub(crate) done: Vec<Done>,
}

impl Sink {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        namer: Namer,
        out: OutOpts,
        write: WriteMode,
        header: Vec<u8>,
        rotation: Rotation,
        ring: Option<usize>,
        exec: Exec,
        manifest: ManifestLog,
    ) -> Sink {
        Sink {
            namer,
            out,
            write,
            header,
            rotation,
            ring,
            exec,
            manifest,
            next: 0,
            open: None,
            kept: VecDeque::new(),
            done: Vec::new(),
        }
    }

    /// Is a piece open with at least one whole record, opened before `t`?
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let secs = self.rotation.seconds?;
        let o = self.open.as_ref()?;
        (o.blocks > 0).then(|| o.opened + std::time::Duration::from_secs(secs))
    }

    /// A record of `len` bytes (header included) begins with `header`:
    /// close the open piece if it must, open one if none is.
    pub(crate) fn begin_record(&mut self, len: u64, rec_header: &[u8]) -> Result<()> {
        let hdr = self.header.len() as u64;
        if let Some(o) = &self.open {
            let full = o.blocks > 0
                && (o.whole + len > self.rotation.size
                    || self.rotation.records.is_some_and(|n| o.records >= n)
                    || self.deadline().is_some_and(|d| Instant::now() >= d));
            if full {
                self.close()?;
            }
        }
        if self.open.is_none() {
            if hdr + len > self.rotation.size {
                log::warn!(
                    "a record of {len} bytes is more than --size {} with the header: it goes alone in its own piece",
                    self.rotation.size
                );
            }
            self.open_piece((hdr + len).max(self.rotation.size))?;
        }
        if let Some(o) = self.open.as_mut() {
            o.fp = fingerprint(rec_header);
        }
        Ok(())
    }

    fn open_piece(&mut self, capacity: u64) -> Result<()> {
        let index = self.next;
        self.next += 1;
        let path = self.namer.path(index);
        let mapped = self.write == WriteMode::Mmap;
        // --write mmap: sized to the limit with ftruncate before it is
        // mapped (the explicit-ftruncate pattern), cut to its real length
        // when closed. Otherwise it grows as records are written.
        let out = OutputFile::create(&path, if mapped { capacity } else { 0 }, &self.out, false)?;
        let mut o = Open {
            out,
            capacity: if mapped { capacity } else { 0 },
            pending: Vec::with_capacity(PENDING),
            len: 0,
            whole: 0,
            blocks: 0,
            records: 0,
            opened: Instant::now(),
            first: 0,
            last: 0,
            fp: 0,
            index,
        };
        let header = std::mem::take(&mut self.header);
        let r = write(&mut o, &header);
        self.header = header;
        r?;
        o.whole = o.len;
        self.open = Some(o);
        Ok(())
    }

    /// Bytes of the current record.
    pub(crate) fn write(&mut self, b: &[u8]) -> Result<()> {
        match self.open.as_mut() {
            Some(o) => write(o, b),
            None => Ok(()),
        }
    }

    /// Write what is pending to the open piece: called before every wait
    /// for input, so a slow stream (a live capture) reaches the file as it
    /// arrives — a `kill -9` loses nothing that was read — while a fast one
    /// is written a buffer at a time.
    pub(crate) fn flush(&mut self) -> Result<()> {
        match self.open.as_mut() {
            Some(o) => flush(o),
            None => Ok(()),
        }
    }

    /// The current record is complete.
    pub(crate) fn end_record(&mut self) {
        self.end_block(true);
    }

    /// The current record (a pcapng block) is complete; `counts`: it is
    /// one of the records the report, `--records` and the manifest count
    /// (pcapng: a packet block).
    pub(crate) fn end_block(&mut self, counts: bool) {
        if let Some(o) = self.open.as_mut() {
            o.whole = o.len;
            o.blocks += 1;
            if counts {
                if o.records == 0 {
                    o.first = o.fp;
                }
                o.last = o.fp;
                o.records += 1;
            }
        }
    }

    /// What the next piece begins with (pcapng: its section's prefix as it
    /// stands now); the open piece is not touched.
    pub(crate) fn set_header(&mut self, header: Vec<u8>) {
        self.header = header;
    }

    /// Close the open piece at its last whole record and rename it into
    /// place (nothing open: nothing to do).
    pub(crate) fn close(&mut self) -> Result<()> {
        let Some(mut o) = self.open.take() else {
            return Ok(());
        };
        flush(&mut o)?;
        if o.len != o.whole {
            log::warn!(
                "{}: the {} bytes of an unfinished record are not kept",
                self.namer.file_name(o.index),
                o.len - o.whole
            );
        }
        // Cut to the last whole record (a pre-sized mapped piece: from the
        // limit to what holds records; every window was msynced and
        // unmapped as it was written).
        o.out.set_len(o.whole)?;
        o.out.commit()?;
        let done = Done {
            path: self.namer.path(o.index),
            bytes: o.whole,
            records: o.records,
        };
        self.manifest.piece(&Entry {
            name: self.namer.file_name(o.index),
            bytes: o.whole,
            records: o.records,
            first: o.first,
            last: o.last,
        })?;
        log::debug!("wrote {} ({} bytes)", done.path.display(), done.bytes);
        self.exec.submit(&done.path);
        self.kept.push_back(done.clone());
        self.done.push(done);
        self.trim_ring()?;
        Ok(())
    }

    /// Keep only the newest `--ring N` finished pieces (never one that
    /// `--exec` has yet to see or is running on).
    fn trim_ring(&mut self) -> Result<()> {
        let Some(n) = self.ring else { return Ok(()) };
        while self.kept.len() > n {
            let Some(oldest) = self.kept.front() else {
                break;
            };
            if self.exec.busy_with(&oldest.path) {
                break;
            }
            let old = self.kept.pop_front().map(|d| d.path).unwrap_or_default();
            std::fs::remove_file(&old)
                .context("cannot remove the oldest piece of the ring")
                .path(&old)?;
            let name = old
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            self.manifest.dropped(&name)?;
            log::debug!("ring: removed {}", old.display());
        }
        Ok(())
    }

    /// Let a finished `--exec` command go and start the next.
    pub(crate) fn tick(&mut self) -> Result<()> {
        self.exec.poll();
        self.trim_ring()
    }

    /// Close the open piece (with a header-only piece if the stream held
    /// no record at all), wait for `--exec`, mark the manifest complete.
    pub(crate) fn finish(mut self) -> Result<Vec<Done>> {
        if self.open.is_none() && self.done.is_empty() {
            log::warn!("the stream held no record after its file header");
            self.open_piece(self.header.len() as u64)?;
        }
        self.close()?;
        self.exec.drain();
        self.trim_ring()?;
        self.manifest.complete()?;
        Ok(self.done)
    }
}

/// Bytes gathered before one write to the piece.
const PENDING: usize = 256 << 10;

/// Append `b` to the open piece (through the pending buffer).
fn write(o: &mut Open, b: &[u8]) -> Result<()> {
    o.pending.extend_from_slice(b);
    o.len += b.len() as u64;
    if o.pending.len() >= PENDING {
        flush(o)?;
    }
    Ok(())
}

/// Write the pending bytes to the piece.
fn flush(o: &mut Open) -> Result<()> {
    if o.pending.is_empty() {
        return Ok(());
    }
    let at = o.len - o.pending.len() as u64;
    if o.capacity > 0 {
        let mut w = MappedWriter::new(&o.out);
        w.write(&o.pending, at)?;
        w.finish()?;
    } else {
        o.out.write_at(&o.pending, at)?;
    }
    o.pending.clear();
    Ok(())
}
