//! The piece a stream is writing: its bytes on their way to the file
//! (small writes gathered, write-back started early, `--write mmap`
//! reserved with fallocate ahead of the mapping), and where its whole
//! records end, so that a failed write (a full disk) keeps every record
//! that reached the file.

use crate::error::{Error, Kind, Result};
use crate::records::output::{MappedWriter, OutputFile};
use crate::records::pieces::fingerprint;
use std::path::PathBuf;
use std::time::Instant;

/// Writes shorter than this are gathered into one `pwrite` (up to this
/// many bytes, and always before the caller waits for input): a pcapng
/// block arrives as its head, its body and its trailer, three writes of
/// tens of bytes for a 64-byte packet otherwise.
const GATHER: usize = 64 << 10;

/// Start the write-back of a piece every this many bytes written, so
/// that its fsync finds most of it on the disk already.
const WRITEBACK: u64 = 8 << 20;

/// `--write mmap`: reserve this much of the piece ahead of the mapping (a
/// store into an unreserved page of a full filesystem raises SIGBUS; a
/// reservation that fails is an error instead).
const RESERVE: u64 = 1 << 20;

/// The end of a whole record (pcapng: block) in the piece.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    pub(super) end: u64,
    /// Records counted up to `end`.
    pub(super) records: u64,
    /// Start and header length of the last counted record before `end`.
    pub(super) last: u64,
    pub(super) last_len: u32,
}

/// The piece being written.
pub(super) struct Open {
    pub(super) out: OutputFile,
    /// Its final name (another than the planned one when that was taken).
    pub(super) path: PathBuf,
    /// Pre-sized and mapped (`--write mmap`).
    pub(super) capacity: u64,
    /// Bytes written (a record may be incomplete at the end).
    pub(super) len: u64,
    /// Length up to the end of the last whole record.
    pub(super) whole: u64,
    /// Length of the record being received (header included).
    pub(super) cur: u64,
    /// Whole records (pcapng: blocks) after the header, and the records
    /// that count as such (pcapng: packets).
    pub(super) blocks: u64,
    pub(super) records: u64,
    pub(super) opened: Instant,
    pub(super) first: u64,
    /// Headers of the record being received and of the last whole one
    /// (fingerprinted when the piece closes, not per record).
    pub(super) cur_rh: Vec<u8>,
    pub(super) last_rh: Vec<u8>,
    pub(super) index: u64,
    /// Length of the file header the piece begins with.
    pub(super) head: u64,
    /// Bytes whose write-back has been started (see [`WRITEBACK`]).
    written_back: u64,
    /// Small writes gathered (the last bytes of `len`), see [`GATHER`].
    pending: Vec<u8>,
    /// Bytes reserved with fallocate (`--write mmap`).
    reserved: u64,
    /// Ends of whole records not yet known to be in the file, in order.
    marks: Vec<Mark>,
    /// The last whole record known to be in the file.
    pub(super) safe: Mark,
    /// A write failed: the piece keeps what `safe` says, and no more.
    pub(super) failed: bool,
}

impl Open {
    pub(super) fn new(out: OutputFile, path: PathBuf, capacity: u64, index: u64) -> Open {
        Open {
            out,
            path,
            capacity,
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
            head: 0,
            written_back: 0,
            pending: Vec::new(),
            reserved: 0,
            marks: Vec::new(),
            safe: Mark {
                end: 0,
                records: 0,
                last: 0,
                last_len: 0,
            },
            failed: false,
        }
    }

    /// The current record is whole; `counts`: it is one of the records
    /// the report, `--records` and the manifest count.
    pub(super) fn end_block(&mut self, counts: bool) {
        let start = self.whole;
        self.whole += self.cur;
        self.blocks += 1;
        let mut m = self.marks.last().copied().unwrap_or(self.safe);
        if counts {
            if self.records == 0 {
                self.first = fingerprint(&self.cur_rh);
            }
            std::mem::swap(&mut self.cur_rh, &mut self.last_rh);
            self.records += 1;
            m.last = start;
            m.last_len = self.last_rh.len() as u32;
        }
        m.end = self.whole;
        m.records = self.records;
        self.marks.push(m);
    }

    /// Append `b` (small writes are gathered until [`Open::flush`]).
    pub(super) fn write(&mut self, b: &[u8]) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        if self.failed {
            return Err(Error::new(
                Kind::Io,
                "the piece is closed after a failed write",
            ));
        }
        let n = b.len() as u64;
        if self.capacity > 0 {
            if self.reserve(self.len + n) {
                let mut w = MappedWriter::new(&self.out);
                w.write(b, self.len)?;
                w.finish()?;
            } else {
                // No room for all of it: written through, what fits lands
                // and the error says why the rest did not.
                self.put(b, self.len)?;
            }
            self.len += n;
            self.landed(self.len);
            return Ok(());
        }
        if b.len() < GATHER / 4 {
            if self.pending.len() + b.len() > GATHER {
                self.flush()?;
            }
            self.pending.extend_from_slice(b);
            self.len += n;
            return Ok(());
        }
        self.flush()?;
        self.put(b, self.len)?;
        self.len += n;
        self.written();
        Ok(())
    }

    /// Write the gathered bytes.
    pub(super) fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() || self.failed {
            return Ok(());
        }
        let at = self.len - self.pending.len() as u64;
        let pending = std::mem::take(&mut self.pending);
        let r = self.put(&pending, at);
        self.pending = pending;
        self.pending.clear();
        r?;
        self.written();
        Ok(())
    }

    /// pwrite all of `b` at `at`; on an error, what reached the file
    /// before it is noted and the piece takes no more.
    fn put(&mut self, b: &[u8], at: u64) -> Result<()> {
        let mut n = 0;
        while n < b.len() {
            match self.out.write_some_at(&b[n..], at + n as u64) {
                Ok(k) => n += k,
                Err(e) => {
                    self.landed(at + n as u64);
                    self.failed = true;
                    return Err(e);
                }
            }
        }
        self.landed(at + n as u64);
        Ok(())
    }

    /// The first `to` bytes are in the file: the whole records among them
    /// are safe.
    fn landed(&mut self, to: u64) {
        let k = self.marks.partition_point(|m| m.end <= to);
        if k > 0 {
            self.safe = self.marks[k - 1];
            self.marks.drain(..k);
        }
    }

    /// Reserve the piece up to `end` (in steps of [`RESERVE`], never past
    /// its capacity); false: the filesystem has no room for it.
    fn reserve(&mut self, end: u64) -> bool {
        if end <= self.reserved {
            return true;
        }
        let f = self.out.file();
        let ahead = end
            .div_ceil(RESERVE)
            .saturating_mul(RESERVE)
            .min(self.capacity);
        for to in [ahead, end] {
            if to < end {
                continue;
            }
            match crate::sys::fallocate_range(f, self.reserved, to - self.reserved) {
                Ok(true) => {
                    self.reserved = to;
                    return true;
                }
                Ok(false) => {
                    // No fallocate here: sized with ftruncate only.
                    self.reserved = u64::MAX;
                    return true;
                }
                Err(e) => log::debug!("cannot reserve the piece up to byte {to}: {e}"),
            }
        }
        false
    }

    /// After a write-through: start the write-back every [`WRITEBACK`]
    /// bytes, up to a page boundary (64 KiB: any page size), so that the
    /// next write does not wait for a page under write-back (stable writes).
    fn written(&mut self) {
        let to = self.len & !0xffff;
        if to >= self.written_back + WRITEBACK {
            self.out
                .start_writeback(self.written_back, to - self.written_back);
            self.written_back = to;
        }
    }
}
