//! join: pieces back into one file. Every piece must carry the same file
//! header and walk cleanly under the layout, and the pieces must make one
//! whole in order ([`set`]); the header is written once, then each piece's
//! records. The result of joining the pieces of a split is byte-identical
//! to the original. Pieces are opened one at a time (a capture split into
//! thousands of pieces joins under a low `ulimit -n`).

mod pcapng;
mod set;

use super::copy::{check_output_name, refuse_input_as_output};
use super::input::{Input, WindowOpts};
use super::layout::{Layout, LayoutOpts};
use super::output::{MappedWriter, OutOpts, OutputFile, WriteMode, check_absent, kernel_copy};
use super::pieces::{fingerprint, without_manifests};
use super::walk::{Walker, open_layout};
use crate::error::{Error, Kind, Result};
use crate::ui::Progress;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

pub(crate) struct JoinOpts {
    pub(crate) pieces: Vec<PathBuf>,
    pub(crate) output: PathBuf,
    pub(crate) write: WriteMode,
    pub(crate) force: bool,
    pub(crate) sync: bool,
    /// Do not read the manifest beside the pieces: check them by content.
    pub(crate) no_manifest: bool,
    pub(crate) layout: LayoutOpts,
    pub(crate) window: WindowOpts,
}

#[derive(Debug, Default)]
pub(crate) struct JoinReport {
    pub(crate) layout: String,
    pub(crate) pieces: usize,
    pub(crate) records: u64,
    pub(crate) bytes: u64,
}

/// What the first pass learnt about one piece.
#[derive(Debug)]
pub(super) struct Scanned {
    /// Position in the list given.
    index: usize,
    path: PathBuf,
    /// (device, inode): the same file given twice under two names.
    identity: (u64, u64),
    bytes: u64,
    records: u64,
    first_fp: u64,
    last_fp: u64,
    first_header: Option<Vec<u8>>,
    last_header: Option<Vec<u8>>,
}

fn wopts(o: &JoinOpts) -> WindowOpts {
    match o.write {
        WriteMode::Mmap => o.window.mapped(),
        WriteMode::Kernel => o.window,
    }
}

/// Walk one piece (then close it): its layout, header and record facts.
fn scan(o: &JoinOpts, index: usize, path: &PathBuf) -> Result<(Layout, Vec<u8>, Scanned)> {
    let mut src = Input::open(path, &wopts(o))?;
    let (layout, header) = open_layout(&mut src, &o.layout)?;
    let hdr = layout.header_len as u64;
    let mut w = Walker::new(&layout, hdr, src.len());
    let (mut records, mut first, mut last) = (0u64, None, None);
    while let Some(r) = w.next(&mut src)? {
        records += 1;
        if first.is_none() {
            first = Some(r.offset);
        }
        last = Some(r.offset);
    }
    let read_header = |off: Option<u64>| -> Result<Option<Vec<u8>>> {
        off.map(|off| {
            let mut h = vec![0u8; layout.rec_header_len];
            src.read_exact_at(&mut h, off).map(|_| h)
        })
        .transpose()
    };
    let first_header = read_header(first)?;
    let last_header = read_header(last)?;
    let md = src
        .file()
        .metadata()
        .map_err(|e| Error::io("cannot stat piece", e).with_path(path))?;
    let fp = |h: &Option<Vec<u8>>| h.as_deref().map_or(0, fingerprint);
    let s = Scanned {
        index,
        path: path.clone(),
        identity: (md.dev(), md.ino()),
        bytes: src.len(),
        records,
        first_fp: fp(&first_header),
        last_fp: fp(&last_header),
        first_header,
        last_header,
    };
    Ok((layout, header, s))
}

pub(crate) fn run(o: &JoinOpts) -> Result<JoinReport> {
    // A manifest given among the pieces (`join d/cap.*`) is not a piece.
    let paths = without_manifests(&o.pieces);
    if paths.is_empty() {
        return Err(Error::usage("join needs at least one piece"));
    }
    refuse_input_as_output(&o.output, &o.pieces)?;
    check_output_name(&o.output)?;
    check_absent(&o.output, o.force)?;
    let first = Input::open(&paths[0], &wopts(o))?;
    if super::pcapng::wanted(&first, &o.layout)? {
        drop(first);
        return pcapng::run(o, &paths);
    }
    drop(first);
    let mut scanned = Vec::with_capacity(paths.len());
    let mut first: Option<(Layout, Vec<u8>)> = None;
    for (i, p) in paths.iter().enumerate() {
        let (layout, h, s) = scan(o, i, p)?;
        match &first {
            None => first = Some((layout, h)),
            Some((l0, h0)) => {
                if *l0 != layout {
                    return Err(Error::malformed(format!(
                        "this piece's layout ({}) differs from the first piece's ({})",
                        layout.describe(),
                        l0.describe()
                    ))
                    .with_path(p));
                }
                if let Some(i) = h0.iter().zip(&h).position(|(a, b)| a != b) {
                    return Err(Error::malformed(format!(
                        "this piece's file header differs from {}'s: not a piece of the same file",
                        paths[0].display()
                    ))
                    .with_path(p)
                    .at(i as u64));
                }
            }
        }
        scanned.push(s);
    }
    let Some((layout, header)) = first else {
        return Err(Error::usage("join needs at least one piece"));
    };
    let pieces = set::order(scanned, Some(&layout), !o.no_manifest)?;
    let hdr = header.len() as u64;
    let records = pieces.iter().map(|p| p.records).sum();
    let skips = vec![hdr; pieces.len()];
    let total = write_out(o, &pieces, &header, &skips)?;
    Ok(JoinReport {
        layout: layout.describe(),
        pieces: pieces.len(),
        records,
        bytes: total,
    })
}

/// Write the joined output — `head`, then each piece from byte `skips[i]`
/// on (its repeated file header or section prefix dropped), one piece open
/// at a time — and commit it. Returns its length.
pub(super) fn write_out(
    o: &JoinOpts,
    pieces: &[Scanned],
    head: &[u8],
    skips: &[u64],
) -> Result<u64> {
    let total = head.len() as u64
        + pieces
            .iter()
            .zip(skips)
            .map(|(p, s)| p.bytes - s)
            .sum::<u64>();
    let mode = std::fs::metadata(&pieces[0].path)
        .map(|m| OutOpts::mode_of(&m))
        .unwrap_or(0o600);
    let out_opts = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let out = OutputFile::create(&o.output, total, &out_opts, o.write == WriteMode::Mmap)?;
    let mut progress = Progress::new("join", total);
    let mut mapped = match o.write {
        WriteMode::Mmap => Some(MappedWriter::new(&out)),
        WriteMode::Kernel => None,
    };
    if !head.is_empty() {
        match mapped.as_mut() {
            Some(w) => w.write(head, 0)?,
            None => out.write_at(head, 0)?,
        }
    }
    let mut at = head.len() as u64;
    for (p, &skip) in pieces.iter().zip(skips) {
        // One piece open at a time.
        let mut src = Input::open(&p.path, &wopts(o))?;
        if src.len() != p.bytes {
            return Err(
                Error::new(Kind::InputChanged, "this piece changed size while joining")
                    .with_path(&p.path),
            );
        }
        let n = p.bytes - skip;
        match mapped.as_mut() {
            Some(w) => w.copy_from(&mut src, skip, at, n)?,
            None => kernel_copy(src.file(), src.path(), skip, out.file(), &o.output, at, n)?,
        }
        at += n;
        progress.update(at, "");
    }
    if let Some(w) = mapped {
        w.finish()?;
    }
    out.commit()?;
    progress.finish();
    Ok(total)
}
