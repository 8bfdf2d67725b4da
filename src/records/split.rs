//! split: cut a record file into pieces of at most `size` bytes, each the
//! file header plus whole records.
//!
//! Unlike `tcpdump -C`, which rotates after exceeding the limit, a piece
//! never exceeds `size`; the only exception is a single record larger than
//! the limit, which goes alone in its own piece (with a warning).

use super::input::{Input, WindowOpts};
use super::layout::{Layout, LayoutOpts};
use super::output::{MappedWriter, OutputFile, WriteMode, check_absent, kernel_copy};
use super::walk::{Record, Walker, open_layout};
use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::ui::Progress;
use std::path::{Path, PathBuf};

pub(crate) struct SplitOpts {
    pub(crate) input: PathBuf,
    pub(crate) out_dir: PathBuf,
    pub(crate) size: u64,
    pub(crate) prefix: Option<String>,
    pub(crate) write: WriteMode,
    pub(crate) force: bool,
    pub(crate) sync: bool,
    pub(crate) dry_run: bool,
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
}

/// Piece names: `PREFIX.NNNN.EXT` where PREFIX defaults to the input name
/// without its last extension and EXT is that extension (if any).
pub(crate) fn name_parts(input: &Path, prefix: Option<&str>) -> (String, String) {
    let file = input
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match file.rfind('.') {
        Some(i) if i > 0 => (file[..i].to_string(), file[i..].to_string()),
        _ => (file.clone(), String::new()),
    };
    (prefix.map(str::to_string).unwrap_or(stem), ext)
}

/// Digits in piece numbers: at least 4, more when the file could need more
/// pieces. Any piece plus the next record exceeds the limit, so two
/// consecutive pieces hold more than `limit - header` bytes of records.
pub(crate) fn index_width(data_bytes: u64, limit: u64, header: u64) -> usize {
    let room = limit.saturating_sub(header).max(1);
    let bound = 2 * data_bytes.div_ceil(room) + 1;
    bound.to_string().len().max(4)
}

fn debug_pause() -> Option<std::time::Duration> {
    std::env::var("MMKIT_DEBUG_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis)
}

/// A piece for the writer thread to produce.
struct Job {
    idx: usize,
    path: PathBuf,
    start: u64,
    end: u64,
}

/// Writes pieces (header + a range of the input) in its own thread, so the
/// walk of piece k+1 overlaps the copy of piece k.
struct Writer {
    header: Vec<u8>,
    file: std::fs::File,
    input: PathBuf,
    copy_src: Option<Input>,
    force: bool,
    sync: bool,
    pause: Option<std::time::Duration>,
}

impl Writer {
    fn write(&mut self, j: &Job) -> Result<()> {
        let hdr = self.header.len() as u64;
        let bytes = hdr + (j.end - j.start);
        let out = OutputFile::create_with(
            &j.path,
            bytes,
            self.force,
            self.sync,
            self.copy_src.is_some(),
        )?;
        if let Some(d) = self.pause.filter(|_| j.idx > 0) {
            eprintln!("mmkit: debug pause before writing piece {}", j.idx);
            std::thread::sleep(d);
        }
        match self.copy_src.as_mut() {
            Some(cs) => {
                let mut w = MappedWriter::new(&out);
                w.write(&self.header, 0)?;
                w.copy_from(cs, j.start, hdr, j.end - j.start)?;
                w.finish()?;
            }
            None => {
                out.write_at(&self.header, 0)?;
                kernel_copy(
                    &self.file,
                    &self.input,
                    j.start,
                    out.file(),
                    &j.path,
                    hdr,
                    j.end - j.start,
                )?;
            }
        }
        out.commit()?;
        log::debug!("wrote {} ({bytes} bytes)", j.path.display());
        Ok(())
    }
}

pub(crate) fn run(o: &SplitOpts) -> Result<SplitReport> {
    let mut src = Input::open(&o.input, &o.window)?;
    let (layout, header) = open_layout(&mut src, &o.layout)?;
    let hdr = header.len() as u64;
    if o.size <= hdr {
        return Err(Error::usage(format!(
            "--size {} leaves no room for records after the {hdr}-byte file header",
            o.size
        )));
    }
    if !o.dry_run && !o.out_dir.is_dir() {
        return Err(Error::usage("output directory does not exist").with_path(&o.out_dir));
    }
    let total = src.len();
    let (prefix, ext) = name_parts(&o.input, o.prefix.as_deref());
    let width = index_width(total - hdr, o.size, hdr);
    let name = |i: usize| o.out_dir.join(format!("{prefix}.{i:0width$}{ext}"));
    if !o.dry_run {
        check_absent(&name(0), o.force)?;
    }
    log::debug!("{}: layout {}", o.input.display(), layout.describe());

    let dup = || {
        src.file()
            .try_clone()
            .context("cannot duplicate the input descriptor")
            .path(&o.input)
    };
    let writer = if o.dry_run {
        None
    } else {
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
            header: header.clone(),
            file: dup()?,
            input: o.input.clone(),
            copy_src,
            force: o.force,
            sync: o.sync,
            pause: debug_pause(),
        })
    };

    std::thread::scope(|scope| {
        // At most one piece queued while another is being written.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(1);
        let handle = writer.map(|mut w| {
            std::thread::Builder::new()
                .name("mmkit-writer".into())
                .spawn_scoped(scope, move || -> Result<()> {
                    for j in rx {
                        w.write(&j)?;
                    }
                    Ok(())
                })
                .context("cannot start the writer thread")
        });
        let handle = match handle {
            Some(h) => Some(h?),
            None => None,
        };
        let walked = walk_pieces(o, &mut src, &layout, hdr, total, &name, |job| {
            if handle.is_some() {
                // A closed channel means the writer failed: stop walking,
                // its error is reported below.
                return tx.send(job).is_ok();
            }
            true
        });
        drop(tx);
        let written = match handle {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::new(Kind::Io, "the writer thread panicked"))),
            None => Ok(()),
        };
        written?;
        let report = walked?;
        let next = name(report.pieces.len());
        if !o.dry_run && next.exists() {
            log::warn!(
                "{} is left over from an earlier split (not part of this one)",
                next.display()
            );
        }
        Ok(report)
    })
}

/// Walk the input, cutting pieces; `emit` gets each piece and returns false
/// to stop early.
fn walk_pieces(
    o: &SplitOpts,
    src: &mut Input,
    layout: &Layout,
    hdr: u64,
    total: u64,
    name: &dyn Fn(usize) -> PathBuf,
    mut emit: impl FnMut(Job) -> bool,
) -> Result<SplitReport> {
    let mut report = SplitReport {
        layout: layout.describe(),
        input_bytes: total,
        ..Default::default()
    };
    let mut walker = Walker::new(layout, hdr, total);
    let mut pending: Option<Record> = None;
    let mut progress = Progress::new("split", total);
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
        let mut records = u64::from(first.len > 0);
        let oversized = hdr + first.len > o.size;
        if oversized {
            log::warn!(
                "record at byte {start} is {} bytes, more than --size {} with the header: it goes alone in its own piece",
                first.len,
                o.size
            );
        } else if first.len > 0 {
            while let Some(r) = walker.next(src)? {
                if hdr + (r.end() - start) <= o.size {
                    end = r.end();
                    records += 1;
                } else {
                    pending = Some(r);
                    break;
                }
            }
        }
        let idx = report.pieces.len();
        let path = name(idx);
        report.records += records;
        report.pieces.push(Piece {
            path: path.clone(),
            bytes: hdr + (end - start),
            records,
            oversized,
        });
        if !emit(Job {
            idx,
            path,
            start,
            end,
        }) {
            break;
        }
        progress.update(end, &format!("piece {idx}"));
        if pending.is_none() && walker.pos() >= total {
            break;
        }
    }
    progress.finish();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_names() {
        assert_eq!(
            name_parts(Path::new("/a/cap.pcap"), None),
            ("cap".into(), ".pcap".into())
        );
        assert_eq!(
            name_parts(Path::new("data"), None),
            ("data".into(), "".into())
        );
        assert_eq!(
            name_parts(Path::new(".hidden"), None),
            (".hidden".into(), "".into())
        );
        assert_eq!(
            name_parts(Path::new("x.tar.gz"), Some("p")),
            ("p".into(), ".gz".into())
        );
    }

    #[test]
    fn index_width_grows_with_piece_count() {
        assert_eq!(index_width(1 << 30, 100 << 20, 24), 4);
        assert_eq!(index_width(10 << 30, 1 << 20, 24), 5);
        assert_eq!(index_width(0, 100, 24), 4);
    }
}
