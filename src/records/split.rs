//! split: cut a record file into pieces of at most `size` bytes, each the
//! file header plus whole records.
//!
//! Unlike `tcpdump -C`, which rotates after exceeding the limit, a piece
//! never exceeds `size`; the only exception is a single record larger than
//! the limit, which goes alone in its own piece (with a warning).

use super::input::{Input, WindowOpts};
use super::layout::{Layout, LayoutOpts};
use super::output::{MappedWriter, OutOpts, OutputFile, WriteMode, kernel_copy};
use super::pcapng;
use super::pieces::{
    Entry, Manifest, ManifestLog, Namer, check_prefix, fingerprint, index_width, name_parts,
};
use super::walk::{Record, Walker, open_layout};
use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::pcapng::Chunk;
use crate::ui::Progress;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub(crate) struct SplitOpts {
    pub(crate) input: PathBuf,
    pub(crate) out_dir: PathBuf,
    pub(crate) size: u64,
    pub(crate) prefix: Option<String>,
    pub(crate) write: WriteMode,
    pub(crate) force: bool,
    /// fsync each piece and the directory (default; `--no-sync` clears it).
    pub(crate) sync: bool,
    pub(crate) dry_run: bool,
    /// Also close a piece after this many records.
    pub(crate) records: Option<u64>,
    pub(crate) layout: LayoutOpts,
    pub(crate) window: WindowOpts,
}

/// One piece written (or planned, with --dry-run).
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
    /// Larger than the limit: a single oversized record.
    pub(crate) oversized: bool,
}

#[derive(Debug, Default)]
pub(crate) struct SplitReport {
    pub(crate) layout: String,
    pub(crate) input_bytes: u64,
    pub(crate) records: u64,
    pub(crate) pieces: Vec<Piece>,
    /// Leftover pieces of an earlier split removed (with --force).
    pub(crate) removed: usize,
    /// The manifest written beside the pieces.
    pub(crate) manifest: Option<PathBuf>,
}

fn debug_pause() -> Option<std::time::Duration> {
    std::env::var("MMKIT_DEBUG_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis)
}

/// A piece for the writer thread to produce: `head` (the file header, or a
/// pcapng section prefix), then `body` (input ranges and literal bytes).
pub(crate) struct Job {
    pub(crate) idx: u64,
    pub(crate) path: PathBuf,
    pub(crate) head: Vec<u8>,
    pub(crate) body: Vec<Chunk>,
    /// Total length of the piece.
    pub(crate) bytes: u64,
    /// Its manifest entry, recorded once the piece is in place.
    pub(crate) entry: Entry,
    /// Record headers to re-check in the written piece before it is renamed
    /// into place: (offset in the piece, length, fingerprint the walk saw).
    /// An input rewritten in place since the walk (truncated to 0 and
    /// extended, say) shows here instead of in a bad piece under a final
    /// name.
    pub(crate) verify: Vec<(u64, usize, u64)>,
}

/// Writes pieces (head + ranges of the input) in its own thread, so the
/// walk of piece k+1 overlaps the copy of piece k.
struct Writer {
    file: std::fs::File,
    input: PathBuf,
    copy_src: Option<Input>,
    out: OutOpts,
    pause: Option<std::time::Duration>,
    /// The manifest, a line per finished piece: a split that fails
    /// half-way leaves the list of its finished pieces, not marked complete.
    manifest: ManifestLog,
}

impl Writer {
    fn write(&mut self, j: &Job) -> Result<()> {
        let bytes = j.bytes;
        let out = OutputFile::create(&j.path, bytes, &self.out, self.copy_src.is_some())?;
        if let Some(d) = self.pause.filter(|_| j.idx > 0) {
            eprintln!("mmkit: debug pause before writing piece {}", j.idx);
            std::thread::sleep(d);
        }
        let mut at = j.head.len() as u64;
        match self.copy_src.as_mut() {
            Some(cs) => {
                let mut w = MappedWriter::new(&out);
                w.write(&j.head, 0)?;
                for c in &j.body {
                    match c {
                        Chunk::Input(r) => w.copy_from(cs, r.start, at, r.end - r.start)?,
                        Chunk::Bytes(b) => w.write(b, at)?,
                    }
                    at += chunk_len(c);
                }
                w.finish()?;
            }
            None => {
                out.write_at(&j.head, 0)?;
                for c in &j.body {
                    match c {
                        Chunk::Input(r) => kernel_copy(
                            &self.file,
                            &self.input,
                            r.start,
                            out.file(),
                            &j.path,
                            at,
                            r.end - r.start,
                        )?,
                        Chunk::Bytes(b) => out.write_at(b, at)?,
                    }
                    at += chunk_len(c);
                }
            }
        }
        debug_assert_eq!(at, bytes);
        for &(off, len, fp) in &j.verify {
            let mut h = vec![0u8; len];
            out.file()
                .read_exact_at(&mut h, off)
                .context("cannot read back the piece")
                .path(&j.path)?;
            if fingerprint(&h) != fp {
                return Err(Error::new(
                    Kind::InputChanged,
                    format!(
                        "the input changed while it was copied (rewritten or replaced in place): the record header at byte {off} of this piece is not the one the walk read"
                    ),
                )
                .with_path(&self.input)
                .hint(format!("{} was not kept", j.path.display())));
            }
        }
        out.commit()?;
        log::debug!("wrote {} ({bytes} bytes)", j.path.display());
        self.manifest.piece(&j.entry)
    }
}

fn chunk_len(c: &Chunk) -> u64 {
    match c {
        Chunk::Input(r) => r.end - r.start,
        Chunk::Bytes(b) => b.len() as u64,
    }
}

pub(crate) fn run(o: &SplitOpts) -> Result<SplitReport> {
    if let Some(p) = &o.prefix {
        check_prefix(p)?;
    }
    let mut src = Input::open(&o.input, &o.window)?;
    // pcapng: no fixed header; each piece begins with its section's prefix.
    let records = if pcapng::wanted(&src, &o.layout)? {
        None
    } else {
        Some(open_layout(&mut src, &o.layout)?)
    };
    let hdr = records.as_ref().map_or(0, |(_, h)| h.len() as u64);
    if o.size <= hdr {
        return Err(Error::usage(format!(
            "--size {} leaves no room for records after the {hdr}-byte file header",
            o.size
        )));
    }
    if records.is_none() {
        pcapng::split::check_start(o, &mut src)?;
    }
    let total = src.len();
    let (prefix, mut ext) = name_parts(&o.input, o.prefix.as_deref());
    if records.is_none() {
        ext = ".pcapng".into();
    }
    let namer = Namer {
        dir: o.out_dir.clone(),
        prefix,
        ext,
        width: index_width(total - hdr, o.size, hdr),
    };
    let mode = src
        .file()
        .metadata()
        .map(|m| OutOpts::mode_of(&m))
        .unwrap_or(0o600);
    let out = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let head = Manifest {
        input: o
            .input
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        input_bytes: total,
        layout: records
            .as_ref()
            .map_or_else(|| "pcapng".into(), |(l, _)| l.describe()),
        complete: false,
        pieces: Vec::new(),
    };
    let manifest = if o.dry_run {
        None
    } else {
        namer.prepare(o.force)?;
        Some(ManifestLog::create(&namer.manifest(), &head, &out)?)
    };
    log::debug!("{}: layout {}", o.input.display(), head.layout);

    let dup = || {
        src.file()
            .try_clone()
            .context("cannot duplicate the input descriptor")
            .path(&o.input)
    };
    let writer = if let Some(manifest) = manifest {
        let copy_src = match o.write {
            WriteMode::Mmap => Some(Input::from_file(
                dup()?,
                &o.input,
                total,
                &o.window.mapped(),
            )?),
            WriteMode::Kernel => None,
        };
        Some(Writer {
            file: dup()?,
            input: o.input.clone(),
            copy_src,
            out,
            pause: debug_pause(),
            manifest,
        })
    } else {
        None
    };

    let (walked, written, committed) = std::thread::scope(|scope| -> Result<_> {
        // At most one piece queued while another is being written.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(1);
        let handle = writer.map(|mut w| {
            std::thread::Builder::new()
                .name("mmkit-writer".into())
                .spawn_scoped(scope, move || -> (u64, Result<Option<ManifestLog>>) {
                    let mut done = 0;
                    for j in rx {
                        if let Err(e) = w.write(&j) {
                            return (done, Err(e));
                        }
                        done += 1;
                    }
                    (done, Ok(Some(w.manifest)))
                })
                .context("cannot start the writer thread")
        });
        let handle = match handle {
            Some(h) => Some(h?),
            None => None,
        };
        let emit = |job| {
            if handle.is_some() {
                // A closed channel means the writer failed: stop walking,
                // its error is reported below. A wait for the writer is
                // not walking work (for the samples of `--access auto`).
                return crate::sys::clock::waiting(|| tx.send(job).is_ok());
            }
            true
        };
        let walked = match &records {
            Some((layout, header)) => walk_pieces(o, &mut src, layout, header, total, &namer, emit),
            None => pcapng::split::walk_pieces(o, &mut src, total, &namer, emit),
        };
        drop(tx);
        let (committed, written) = match handle {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| (0, Err(Error::new(Kind::Io, "the writer thread panicked")))),
            None => (0, Ok(None)),
        };
        Ok((walked, written, committed))
    })?;
    let e = match (written, walked) {
        (Err(e), _) | (Ok(_), Err(e)) => e,
        (Ok(None), Ok(report)) => return Ok(report),
        (Ok(Some(m)), Ok(report)) => return finish(&namer, m, report),
    };
    if !o.dry_run {
        if committed > 0 {
            log::error!(
                "pieces {} to {} ({committed}) are complete and valid; the set is incomplete ({} says so)",
                namer.file_name(0),
                namer.file_name(committed - 1),
                namer.manifest().display()
            );
        } else {
            log::error!("no piece was completed");
        }
    }
    Err(e)
}

/// After a successful split: remove leftovers of an earlier split (with
/// --force) and mark the manifest complete.
fn finish(namer: &Namer, manifest: ManifestLog, mut report: SplitReport) -> Result<SplitReport> {
    let mut ours: Vec<&Path> = report.pieces.iter().map(|p| p.path.as_path()).collect();
    ours.sort_unstable();
    let mut removed = 0;
    for p in namer.existing() {
        if ours.binary_search(&p.as_path()).is_err() {
            std::fs::remove_file(&p)
                .context("cannot remove a leftover piece")
                .path(&p)?;
            removed += 1;
        }
    }
    if removed > 0 {
        log::info!(
            "removed {removed} leftover piece(s) of an earlier split beyond the new {}",
            report.pieces.len()
        );
    }
    manifest.complete()?;
    report.removed = removed;
    report.manifest = Some(namer.manifest());
    Ok(report)
}

/// Walk the input, cutting pieces; `emit` gets each piece and returns false
/// to stop early.
fn walk_pieces(
    o: &SplitOpts,
    src: &mut Input,
    layout: &Layout,
    header: &[u8],
    total: u64,
    namer: &Namer,
    mut emit: impl FnMut(Job) -> bool,
) -> Result<SplitReport> {
    let hdr = header.len() as u64;
    let mut report = SplitReport {
        layout: layout.describe(),
        input_bytes: total,
        ..Default::default()
    };
    let mut walker = Walker::new(layout, hdr, total);
    let mut pending: Option<Record> = None;
    let mut progress = Progress::new("split", total);
    // Records too large for --size with the header: how many, the first's
    // offset, the largest.
    let mut over = (0u64, 0u64, 0u64);
    loop {
        let first = match pending.take() {
            Some(r) => r,
            None => match walker.next(src)? {
                Some(r) => r,
                None if report.pieces.is_empty() => {
                    log::warn!("{}: no records after the file header", o.input.display());
                    Record {
                        offset: hdr,
                        len: 0,
                        seq: None,
                    }
                }
                None => break,
            },
        };
        let start = first.offset;
        let mut end = first.end();
        let mut last = first;
        let mut records = u64::from(first.len > 0);
        let oversized = hdr + first.len > o.size;
        if oversized {
            // Said once, after the walk.
            if over.0 == 0 {
                over.1 = start;
            }
            over.0 += 1;
            over.2 = over.2.max(first.len);
        } else if first.len > 0 {
            while let Some(r) = walker.next(src)? {
                if hdr + (r.end() - start) <= o.size && o.records.is_none_or(|n| records < n) {
                    end = r.end();
                    last = r;
                    records += 1;
                } else {
                    pending = Some(r);
                    break;
                }
            }
        }
        let idx = report.pieces.len() as u64;
        let path = namer.path(idx);
        report.records += records;
        let (first_fp, last_fp) = if records > 0 {
            (
                header_fingerprint(src, layout, first.offset)?,
                header_fingerprint(src, layout, last.offset)?,
            )
        } else {
            (0, 0)
        };
        let bytes = hdr + (end - start);
        report.pieces.push(Piece {
            path: path.clone(),
            bytes,
            records,
            oversized,
        });
        let entry = Entry {
            name: namer.file_name(idx),
            bytes,
            records,
            first: first_fp,
            last: last_fp,
        };
        let verify = if records > 0 {
            let rh = layout.rec_header_len;
            vec![
                (hdr, rh, entry.first),
                (hdr + (last.offset - start), rh, entry.last),
            ]
        } else {
            Vec::new()
        };
        if !emit(Job {
            idx,
            path,
            head: header.to_vec(),
            body: vec![Chunk::Input(start..end)],
            bytes,
            entry,
            verify,
        }) {
            break;
        }
        progress.update(end, &format!("piece {idx}"));
        if pending.is_none() && walker.pos() >= total {
            break;
        }
    }
    progress.finish();
    if over.0 > 0 {
        log::warn!(
            "{} record(s) larger than --size {} B with the {hdr}-byte header (the first at byte {}): each goes alone in its own piece; --size {} holds every record",
            over.0,
            o.size,
            over.1,
            hdr + over.2
        );
    }
    Ok(report)
}

/// The fingerprint of the record header at `off`.
pub(crate) fn header_fingerprint(src: &Input, layout: &Layout, off: u64) -> Result<u64> {
    let mut h = vec![0u8; layout.rec_header_len];
    src.read_exact_at(&mut h, off)?;
    Ok(fingerprint(&h))
}
