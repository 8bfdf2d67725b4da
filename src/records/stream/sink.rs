//! Where a stream's records go: pieces written as the records arrive,
//! each under a temporary name and renamed into place when it is closed
//! (by size, record count, time, idle, end of stream or a signal), a
//! manifest line per piece, the newest `--ring N` pieces kept, and
//! `--exec CMD` run on each finished piece, one at a time.

use super::exec::Exec;
use crate::error::{Context, Error, Kind, Result, ResultExt};
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
    /// Bytes written (a record may be incomplete at the end).
    len: u64,
    /// Length up to the end of the last whole record.
    whole: u64,
    /// Length of the record being received (header included).
    cur: u64,
    /// Whole records (pcapng: blocks) after the header, and the records
    /// that count as such (pcapng: packets).
    blocks: u64,
    records: u64,
    opened: Instant,
    first: u64,
    /// Headers of the record being received and of the last whole one
    /// (fingerprinted when the piece closes, not per record).
    cur_rh: Vec<u8>,
    last_rh: Vec<u8>,
    index: u64,
    /// Bytes whose write-back has been started (see [`WRITEBACK`]).
    written_back: u64,
    /// Small writes gathered (the last bytes of `len`), see [`GATHER`].
    pending: Vec<u8>,
}

/// Writes shorter than this are gathered into one `pwrite` (up to this
/// many bytes, and always before the caller waits for input): a pcapng
/// block arrives as its head, its body and its trailer, three writes of
/// tens of bytes for a 64-byte packet otherwise.
const GATHER: usize = 64 << 10;

/// Start the write-back of a piece every this many bytes written, so
/// that its fsync finds most of it on the disk already.
const WRITEBACK: u64 = 8 << 20;

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

    /// A record of `len` bytes (header included) begins with `rec_header`;
    /// `unwritten` holds the bytes of the records before it that the caller
    /// has not yet passed to [`Sink::write`] (it writes runs of records
    /// straight from its read buffer, one write per run). Close the open
    /// piece if it must — `unwritten` is written to it first, and true is
    /// returned: the caller's run starts again at this record — and open
    /// one if none is.
    pub(crate) fn begin_record(
        &mut self,
        len: u64,
        rec_header: &[u8],
        unwritten: &[u8],
    ) -> Result<bool> {
        self.begin_block(len, rec_header, unwritten, true)
    }

    /// [`Sink::begin_record`] for a pcapng block; `may_close`: the count
    /// and time limits may close the piece before it (false for an ISB,
    /// which stays with the packets it counts; the size limit always may).
    pub(crate) fn begin_block(
        &mut self,
        len: u64,
        rec_header: &[u8],
        unwritten: &[u8],
        may_close: bool,
    ) -> Result<bool> {
        let hdr = self.header.len() as u64;
        let mut wrote = false;
        if let Some(o) = &self.open {
            let counted = self.rotation.records.is_some_and(|n| o.records >= n)
                || self.deadline().is_some_and(|d| Instant::now() >= d);
            let full =
                o.blocks > 0 && (o.whole + len > self.rotation.size || (may_close && counted));
            if full {
                self.write(unwritten)?;
                wrote = true;
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
            o.cur = len;
            o.cur_rh.clear();
            o.cur_rh.extend_from_slice(rec_header);
        }
        Ok(wrote)
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
            len: 0,
            whole: 0,
            cur: 0,
            blocks: 0,
            records: 0,
            opened: Instant::now(),
            first: 0,
            cur_rh: Vec::new(),
            last_rh: Vec::new(),
            index,
            written_back: 0,
            pending: Vec::new(),
        };
        let header = std::mem::take(&mut self.header);
        let r = write(&mut o, &header);
        self.header = header;
        r?;
        o.whole = o.len;
        self.open = Some(o);
        Ok(())
    }

    /// Bytes of records begun with [`Sink::begin_record`], in order (a run
    /// of several records, or part of one), written to the open piece now:
    /// the caller passes everything it read before it waits for input, so
    /// a slow stream (a live capture) reaches the file as it arrives — a
    /// `kill -9` loses nothing that was read.
    pub(crate) fn write(&mut self, b: &[u8]) -> Result<()> {
        match self.open.as_mut() {
            Some(o) => write(o, b),
            None => Ok(()),
        }
    }

    /// The current record is complete (its bytes may still be in the
    /// caller's run).
    pub(crate) fn end_record(&mut self) {
        self.end_block(true);
    }

    /// The current record (a pcapng block) is complete; `counts`: it is
    /// one of the records the report, `--records` and the manifest count
    /// (pcapng: a packet block).
    pub(crate) fn end_block(&mut self, counts: bool) {
        if let Some(o) = self.open.as_mut() {
            o.whole += o.cur;
            o.blocks += 1;
            if counts {
                if o.records == 0 {
                    o.first = fingerprint(&o.cur_rh);
                }
                std::mem::swap(&mut o.cur_rh, &mut o.last_rh);
                o.records += 1;
            }
        }
    }

    /// What the next piece begins with (pcapng: its section's prefix as it
    /// stands now, changed in place); the open piece is not touched.
    pub(crate) fn header_mut(&mut self) -> &mut Vec<u8> {
        &mut self.header
    }

    /// Close the open piece at its last whole record and rename it into
    /// place (nothing open: nothing to do).
    pub(crate) fn close(&mut self) -> Result<()> {
        let Some(mut o) = self.open.take() else {
            return Ok(());
        };
        flush(&mut o)?;
        if o.len < o.whole {
            // The caller writes every record it reports whole before a
            // piece can close; a shorter file would be padded with zeros.
            return Err(Error::new(
                Kind::Io,
                format!(
                    "{}: {} bytes of whole records but {} written (a bug: please report it)",
                    self.namer.file_name(o.index),
                    o.whole,
                    o.len
                ),
            ));
        }
        if o.len > o.whole {
            log::warn!(
                "{}: the {} bytes of an unfinished record are not kept",
                self.namer.file_name(o.index),
                o.len - o.whole
            );
        }
        // Cut to the last whole record (a pre-sized mapped piece: from the
        // limit to what holds records; every window was msynced and
        // unmapped as it was written). A written-through piece that ends
        // at a whole record already has its length.
        if o.capacity > 0 || o.len != o.whole {
            o.out.set_len(o.whole)?;
        }
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
            last: if o.records > 0 {
                fingerprint(&o.last_rh)
            } else {
                0
            },
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
        // Before the caller waits: what was read is in the file.
        if let Some(o) = self.open.as_mut() {
            flush(o)?;
        }
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

/// Append `b` to the open piece (small writes are gathered until
/// [`flush`]).
fn write(o: &mut Open, b: &[u8]) -> Result<()> {
    if b.is_empty() {
        return Ok(());
    }
    if o.capacity > 0 {
        let mut w = MappedWriter::new(&o.out);
        w.write(b, o.len)?;
        w.finish()?;
        o.len += b.len() as u64;
        return Ok(());
    }
    if b.len() < GATHER / 4 {
        if o.pending.len() + b.len() > GATHER {
            flush(o)?;
        }
        o.pending.extend_from_slice(b);
        o.len += b.len() as u64;
        return Ok(());
    }
    flush(o)?;
    o.out.write_at(b, o.len)?;
    o.len += b.len() as u64;
    written(o);
    Ok(())
}

/// Write the gathered bytes.
fn flush(o: &mut Open) -> Result<()> {
    if o.pending.is_empty() {
        return Ok(());
    }
    let at = o.len - o.pending.len() as u64;
    o.out.write_at(&o.pending, at)?;
    o.pending.clear();
    written(o);
    Ok(())
}

/// After a write-through: start the write-back every [`WRITEBACK`] bytes, up
/// to a page boundary (64 KiB: any page size), so that the next write does
/// not wait for a page under write-back (stable writes).
fn written(o: &mut Open) {
    let to = o.len & !0xffff;
    if to >= o.written_back + WRITEBACK {
        o.out.start_writeback(o.written_back, to - o.written_back);
        o.written_back = to;
    }
}
