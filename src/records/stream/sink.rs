//! Where a stream's records go: pieces written as the records arrive,
//! each under a temporary name and renamed into place when it is closed
//! (by size, record count, time, idle, end of stream or a signal), a
//! manifest line per piece, the newest `--ring N` pieces kept, and
//! `--exec CMD` run on each finished piece, one at a time.

use super::exec::Exec;
use super::names::Naming;
use super::piece::Open;
use super::ring::{self, Bounds};
use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::records::output::{OutOpts, OutputFile, WriteMode};
use crate::records::pieces::{Entry, ManifestLog, Namer, fingerprint};
use std::os::unix::fs::FileExt;
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

pub(crate) struct Sink {
    namer: Namer,
    out: OutOpts,
    write: WriteMode,
    header: Vec<u8>,
    pub(crate) rotation: Rotation,
    ring: Bounds,
    exec: Exec,
    manifest: ManifestLog,
    /// The number of the next piece (a ring continues the directory's).
    pub(crate) next: u64,
    /// `--print-names`: each finished piece's path on stdout.
    pub(crate) print_names: bool,
    /// `--name-time`, `--align`.
    pub(crate) naming: Naming,
    open: Option<Open>,
    pub(crate) done: Vec<Done>,
    /// Finished pieces the ring removed.
    dropped: u64,
    /// A ring continuing the pieces and the manifest of an earlier run.
    pub(crate) resumed: bool,
}

impl Sink {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        namer: Namer,
        out: OutOpts,
        write: WriteMode,
        header: Vec<u8>,
        rotation: Rotation,
        ring: Bounds,
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
            print_names: false,
            naming: Naming::default(),
            open: None,
            done: Vec::new(),
            dropped: 0,
            resumed: false,
        }
    }

    /// Is a piece open with at least one whole record, opened before `t`?
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let secs = self.rotation.seconds?;
        let o = self.open.as_ref()?;
        (o.blocks > 0).then(|| o.opened + std::time::Duration::from_secs(secs))
    }

    /// Pieces begun, the records in them, and finished pieces `--ring`
    /// removed: what a status line shows.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        let open = self.open.as_ref();
        let records: u64 = self.done.iter().map(|d| d.records).sum();
        let pieces = self.done.len() + usize::from(open.is_some());
        (
            pieces as u64,
            records + open.map_or(0, |o| o.records),
            self.dropped,
        )
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
                return Err(Error::usage(format!(
                    "--size {} B cannot hold the {hdr}-byte header and a {len}-byte record; the smallest workable is --size {}",
                    self.rotation.size,
                    hdr + len
                )));
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
        if let Some(ext) = self.naming.ext_now() {
            self.namer.ext = ext;
        }
        let planned = self.namer.path(index);
        let mapped = self.write == WriteMode::Mmap;
        // --write mmap: sized to the limit with ftruncate before it is
        // mapped (the explicit-ftruncate pattern) and reserved ahead of
        // the writes, cut to its real length when closed. Otherwise it
        // grows as records are written. A name taken by another file: the
        // piece takes the next free PREFIX.NNNNNN.K.EXT (a live stream does
        // not end over a name).
        let cap = if mapped { capacity } else { 0 };
        let mut path = planned.clone();
        let mut k = 0;
        let out = loop {
            match OutputFile::create(&path, cap, &self.out, false) {
                Err(e) if e.kind == Kind::Exists && !self.out.force && k < 999 => {
                    k += 1;
                    path = self.alt(index, k);
                }
                r => break r?,
            }
        };
        if k > 0 {
            log::warn!(
                "{} exists: this piece is written as {}",
                planned.display(),
                path.display()
            );
        }
        let mut o = Open::new(out, path, cap, index);
        o.opened = self.naming.opened();
        let header = std::mem::take(&mut self.header);
        let r = o.write(&header);
        self.header = header;
        r?;
        o.whole = o.len;
        o.head = o.len;
        o.safe.end = o.len;
        self.open = Some(o);
        Ok(())
    }

    /// The `k`-th other name of piece `index`: PREFIX.NNNNNN.K.EXT.
    fn alt(&self, index: u64, k: u32) -> PathBuf {
        let n = &self.namer;
        n.dir.join(format!(
            "{}.{index:0w$}.{k}{}",
            n.prefix,
            n.ext,
            w = n.width
        ))
    }

    /// Bytes of records begun with [`Sink::begin_record`], in order (a run
    /// of several records, or part of one), written to the open piece now:
    /// the caller passes everything it read before it waits for input, so
    /// a slow stream (a live capture) reaches the file as it arrives — a
    /// `kill -9` loses nothing that was read.
    pub(crate) fn write(&mut self, b: &[u8]) -> Result<()> {
        match self.open.as_mut() {
            Some(o) => o.write(b),
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
            o.end_block(counts);
        }
    }

    /// What the next piece begins with (pcapng: its section's prefix as it
    /// stands now, changed in place); the open piece is not touched.
    pub(crate) fn header_mut(&mut self) -> &mut Vec<u8> {
        &mut self.header
    }

    /// Close the open piece at its last whole record and rename it into
    /// place (nothing open: nothing to do). After a failed write, that is
    /// the last whole record the file holds (a piece with none is
    /// removed), and the error is returned once the piece is in place.
    pub(crate) fn close(&mut self) -> Result<()> {
        let Some(mut o) = self.open.take() else {
            return Ok(());
        };
        let failure = o.flush().err();
        if !o.failed && o.len < o.whole {
            // The caller writes every record it reports whole before a
            // piece can close; a shorter file would be padded with zeros.
            return Err(Error::new(
                Kind::Io,
                format!(
                    "{}: {} bytes of whole records but {} written (a bug: please report it)",
                    o.path.display(),
                    o.whole,
                    o.len
                ),
            ));
        }
        let (bytes, records) = if o.failed {
            (o.safe.end, o.safe.records)
        } else {
            (o.whole, o.records)
        };
        if o.failed && bytes <= o.head {
            log::error!(
                "{}: no whole record reached the file: removed",
                o.path.display()
            );
            return Err(failure.unwrap_or_else(|| Error::new(Kind::Io, "a write failed")));
        }
        if !o.failed && o.len > o.whole {
            log::warn!(
                "{}: the {} bytes of an unfinished record are not kept",
                o.path.display(),
                o.len - o.whole
            );
        }
        let last = if records == 0 {
            0
        } else if records == o.records {
            fingerprint(&o.last_rh)
        } else {
            // Cut before the record whose header `last_rh` holds.
            let mut h = vec![0u8; o.safe.last_len as usize];
            o.out
                .file()
                .read_exact_at(&mut h, o.safe.last)
                .context("cannot read back the piece")
                .path(&o.path)?;
            fingerprint(&h)
        };
        // Cut to the last whole record (a pre-sized mapped piece: from the
        // limit to what holds records; every window was msynced and
        // unmapped as it was written). A written-through piece that ends
        // at a whole record already has its length.
        if o.capacity > 0 || o.len != bytes {
            o.out.set_len(bytes)?;
        }
        let index = o.index;
        let alt = |k| self.alt(index, k);
        let path = o.out.commit_as((!self.out.force).then_some(&alt as _))?;
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if o.failed {
            log::error!(
                "{}: kept {bytes} bytes, {records} records (up to the last whole record written); the set is incomplete",
                path.display()
            );
        }
        let logged = self.manifest.piece(&Entry {
            name,
            bytes,
            records,
            first: if records > 0 { o.first } else { 0 },
            last,
        });
        let done = Done {
            path,
            bytes,
            records,
        };
        log::debug!("wrote {} ({} bytes)", done.path.display(), done.bytes);
        if self.print_names {
            self.print_names = print_name(&done.path);
        }
        self.exec.submit(&done.path);
        self.done.push(done);
        if let Some(e) = failure {
            if let Err(m) = logged {
                log::error!("{m}");
            }
            return Err(e);
        }
        logged?;
        self.trim_ring()?;
        Ok(())
    }

    /// Keep the ring within its bounds ([`ring::trim`]).
    fn trim_ring(&mut self) -> Result<()> {
        let n = ring::trim(&self.ring, &self.namer, &mut self.exec, &mut self.manifest)?;
        self.dropped += n;
        Ok(())
    }

    /// Let a finished `--exec` command go and start the next.
    pub(crate) fn tick(&mut self) -> Result<()> {
        // Before the caller waits: what was read is in the file.
        if let Some(o) = self.open.as_mut() {
            o.flush()?;
        }
        self.exec.poll();
        Ok(())
    }

    /// Close the open piece (with a header-only piece if the stream held
    /// no record at all), wait for `--exec`, mark the manifest complete.
    /// After an error (`failure`): no header-only piece, and no manifest
    /// when no piece was finished; the manifest is marked complete only
    /// when the stream itself was bad (malformed, or a followed file
    /// changed) and the pieces hold every record before that.
    pub(crate) fn finish(mut self, failure: Option<Kind>) -> Result<Vec<Done>> {
        if failure.is_none() && self.open.is_none() && self.done.is_empty() {
            log::warn!("the stream held no record after its file header");
            self.open_piece(self.header.len() as u64)?;
        }
        let closed = self.close();
        self.exec.drain();
        let trimmed = self.trim_ring();
        if failure.is_none() {
            closed?;
            trimmed?;
            self.manifest.complete()?;
            return Ok(self.done);
        }
        match closed.and(trimmed) {
            Err(e) => log::error!("{e}"),
            Ok(()) if self.done.is_empty() => {}
            Ok(()) => {
                if matches!(failure, Some(Kind::Malformed | Kind::InputChanged)) {
                    self.manifest.complete()?;
                }
                return Ok(self.done);
            }
        }
        if self.done.is_empty() && !self.resumed {
            drop(self.manifest);
            let _ = std::fs::remove_file(self.namer.manifest());
        }
        Ok(self.done)
    }
}

/// `--print-names`: `path` and a newline on stdout, flushed (false: stdout
/// is gone, stop printing; the capture goes on).
fn print_name(path: &std::path::Path) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let r = out
        .write_all(path.as_os_str().as_encoded_bytes())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    if let Err(e) = &r {
        log::warn!("--print-names: cannot write to stdout ({e}): names are no longer printed");
    }
    r.is_ok()
}
