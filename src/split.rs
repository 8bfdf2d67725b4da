//! split: cut a record file into pieces of at most `size` bytes, each the
//! file header plus whole records.
//!
//! Unlike `tcpdump -C`, which rotates after exceeding the limit, a piece
//! never exceeds `size`; the only exception is a single record larger than
//! the limit, which goes alone in its own piece (with a warning).

use crate::error::{Error, Result};
use crate::layout::LayoutOpts;
use crate::output::{MappedWriter, OutputFile, WriteMode, check_absent};
use crate::walk::{Progress, Record, Walker, open_layout};
use crate::window::{MappedInput, WindowOpts};
use std::path::{Path, PathBuf};

pub struct SplitOpts {
    pub input: PathBuf,
    pub out_dir: PathBuf,
    pub size: u64,
    pub prefix: Option<String>,
    pub write: WriteMode,
    pub force: bool,
    pub sync: bool,
    pub dry_run: bool,
    pub layout: LayoutOpts,
    pub window: WindowOpts,
}

/// One piece written (or planned, with --dry-run).
#[derive(Debug, Clone)]
pub struct Piece {
    pub path: PathBuf,
    pub bytes: u64,
    pub records: u64,
    /// Larger than the limit: a single oversized record.
    pub oversized: bool,
}

#[derive(Debug, Default)]
pub struct SplitReport {
    pub layout: String,
    pub input_bytes: u64,
    pub records: u64,
    pub pieces: Vec<Piece>,
}

/// Piece names: `PREFIX.NNNN.EXT` where PREFIX defaults to the input name
/// without its last extension and EXT is that extension (if any).
pub fn name_parts(input: &Path, prefix: Option<&str>) -> (String, String) {
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
pub fn index_width(data_bytes: u64, limit: u64, header: u64) -> usize {
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

pub fn run(o: &SplitOpts) -> Result<SplitReport> {
    let mut src = MappedInput::open(&o.input, &o.window)?;
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

    // A second view of the input for copying through mappings.
    let mut copy_src = match o.write {
        WriteMode::Mmap if !o.dry_run => {
            let f = src.file().try_clone().map_err(|e| {
                Error::io("cannot duplicate the input descriptor", e).with_path(&o.input)
            })?;
            Some(MappedInput::from_file(f, &o.input, total, &o.window)?)
        }
        _ => None,
    };
    let pause = debug_pause();
    let mut report = SplitReport {
        layout: layout.describe(),
        input_bytes: total,
        ..Default::default()
    };
    let mut walker = Walker::new(&layout, hdr, total);
    let mut pending: Option<Record> = None;
    let mut progress = Progress::new("split", total);
    loop {
        let first = match pending.take() {
            Some(r) => r,
            None => match walker.next(&mut src)? {
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
            while let Some(r) = walker.next(&mut src)? {
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
        let bytes = hdr + (end - start);
        if !o.dry_run {
            let out = OutputFile::create(&path, bytes, o.force, o.sync)?;
            if let Some(d) = pause.filter(|_| idx > 0) {
                eprintln!("mmkit: debug pause before writing piece {idx}");
                std::thread::sleep(d);
            }
            match copy_src.as_mut() {
                Some(cs) => {
                    let mut w = MappedWriter::new(&out)?;
                    w.write(&header, 0)?;
                    w.copy_from(cs, start, hdr, end - start)?;
                    w.finish()?;
                }
                None => {
                    out.write_at(&header, 0)?;
                    out.copy_range(&mut src, start, hdr, end - start, WriteMode::Kernel)?;
                }
            }
            out.commit()?;
            log::debug!(
                "wrote {} ({bytes} bytes, {records} records)",
                path.display()
            );
        }
        report.records += records;
        report.pieces.push(Piece {
            path,
            bytes,
            records,
            oversized,
        });
        progress.update(end, &format!("piece {idx}"));
        if pending.is_none() && walker.pos() >= total {
            break;
        }
    }
    progress.finish();
    let next = name(report.pieces.len());
    if !o.dry_run && next.exists() {
        log::warn!(
            "{} is left over from an earlier split (not part of this one)",
            next.display()
        );
    }
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
